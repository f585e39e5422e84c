//! One epoch of proof of coverage, verified: beacons and their witnesses checked as
//! helium/oracles `iot_verifier` checks them (`poc.rs`, `runner.rs`), HIP-106 reciprocity,
//! HIP-83 witness selection, HIP-15 units × HIP-17 hex scale as shares, and data-transfer
//! packets charged to their payer's credits.
//!
//! Order: beacons in the epoch's canonical report order (timestamp, id); a beacon's
//! witnesses are the reports whose heard payload equals the beacon's, in the same order.
//! Reciprocity state (each hotspot's last valid witness and last witnessed valid beacon)
//! carries from epoch to epoch, so the 48-hour window spans epochs.

use crate::beacon;
use crate::checks;
use crate::hex_density::HexScales;
use crate::payload::{BeaconReport, CoveragePayload, PacketReport, WitnessReport};
use crate::reason;
use crate::reward_share::{split_rewards, CreditValue, HotspotShares};
use crate::state::Reciprocity;
use crate::{CoverageModule, CLASS};
use depin_module::{DeviceInfo, EpochInput, EpochOutcome, UsageCharge, Verdict};
use depin_types::{PublicKey, Report};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// A registered, active, asserted hotspot.
struct Hotspot<'a> {
    key: PublicKey,
    location: u64,
    gain_ddbi: i32,
    region: Option<&'a str>,
}

/// The beacon a group of witnesses is checked against.
struct Beaconed<'a> {
    hotspot: Hotspot<'a>,
    report: &'a Report,
    beacon: &'a BeaconReport,
}

type Check<T> = Result<T, &'static str>;

/// Verification of one epoch.
pub(crate) struct Verifier<'a> {
    m: &'a CoverageModule,
    input: &'a EpochInput<'a>,
    scales: HexScales,
    state: Reciprocity,
    verdicts: Vec<Verdict>,
    shares: BTreeMap<PublicKey, HotspotShares>,
    buckets: BTreeSet<(PublicKey, u64)>,
    credits_left: BTreeMap<PublicKey, u64>,
    packets_seen: BTreeSet<[u8; 32]>,
    usage: BTreeMap<(PublicKey, PublicKey), u64>,
}

fn invalid(code: &str) -> Verdict {
    Verdict::Invalid(code.to_string())
}

impl<'a> Verifier<'a> {
    pub(crate) fn new(m: &'a CoverageModule, input: &'a EpochInput<'a>) -> Verifier<'a> {
        Verifier {
            m,
            input,
            scales: m.hex_scales(input.snapshot),
            state: Reciprocity::decode(input.carry),
            verdicts: Vec::with_capacity(input.reports.len()),
            shares: BTreeMap::new(),
            buckets: BTreeSet::new(),
            credits_left: BTreeMap::new(),
            packets_seen: BTreeSet::new(),
            usage: BTreeMap::new(),
        }
    }

    /// Runs the epoch.
    pub(crate) fn run(mut self) -> EpochOutcome {
        let payloads: Vec<Option<CoveragePayload>> = self
            .input
            .reports
            .iter()
            .map(|r| CoveragePayload::decode(&r.payload).ok())
            .collect();
        // Every report is overwritten below but a witness, which stays `invalid_packet`
        // unless its payload matches a beacon.
        self.verdicts = payloads
            .iter()
            .map(|p| match p {
                None => invalid(reason::MALFORMED_PAYLOAD),
                Some(_) => invalid(reason::INVALID_PACKET),
            })
            .collect();
        let mut groups: BTreeMap<&[u8], Vec<usize>> = BTreeMap::new();
        for (i, p) in payloads.iter().enumerate() {
            if let Some(CoveragePayload::Witness(w)) = p {
                groups.entry(w.data.as_slice()).or_default().push(i);
            }
        }
        for (i, p) in payloads.iter().enumerate() {
            match p {
                Some(CoveragePayload::Beacon(b)) => {
                    let witnesses = groups.remove(b.data.as_slice()).unwrap_or_default();
                    self.poc(i, b, &witnesses, &payloads);
                }
                Some(CoveragePayload::Packet(pk)) => self.packet(i, pk),
                _ => {}
            }
        }
        self.finish()
    }

    /// A registered, active hotspot (any location).
    fn device(&self, key: &PublicKey) -> Check<&'a DeviceInfo> {
        let d = self
            .input
            .snapshot
            .devices
            .get(key)
            .ok_or(reason::GATEWAY_NOT_FOUND)?;
        if d.class != CLASS {
            return Err(reason::WRONG_DEVICE_CLASS);
        }
        if !d.active {
            return Err(reason::INACTIVE_DEVICE);
        }
        Ok(d)
    }

    /// A registered, active hotspot with an asserted location and antenna.
    fn hotspot(&self, key: &PublicKey) -> Check<Hotspot<'a>> {
        let d = self.device(key)?;
        let (Some(location), Some(antenna)) = (d.location, d.antenna) else {
            return Err(reason::NOT_ASSERTED);
        };
        let location = location.index();
        Ok(Hotspot {
            key: *key,
            location,
            gain_ddbi: antenna.gain_ddbi,
            region: self.m.regions.region_of(location),
        })
    }

    fn check_beacon<'b>(&mut self, r: &'b Report, b: &'b BeaconReport) -> Check<Beaconed<'b>>
    where
        'a: 'b,
    {
        let hotspot = self.hotspot(&r.device)?;
        if self.m.denied(&r.device) {
            return Err(reason::DENIED);
        }
        if b.entropy != self.input.entropy {
            return Err(reason::ENTROPY_EXPIRED);
        }
        let interval =
            r.timestamp_ms.saturating_sub(self.input.start_ms) / self.m.params.beacon_interval_ms;
        if !self.buckets.insert((r.device, interval)) {
            return Err(reason::IRREGULAR_BEACON_INTERVAL);
        }
        let plan = hotspot
            .region
            .and_then(|name| self.m.regions.plan(name))
            .ok_or(reason::INVALID_REGION)?;
        let expected = beacon::build(&b.entropy, &r.device, interval, plan, hotspot.gain_ddbi)
            .map_err(|_| reason::INVALID_PACKET)?;
        let same = expected.data == b.data
            && expected.frequency_hz == b.frequency_hz
            && expected.spreading == b.spreading
            && expected.tx_power_dbm == b.tx_power_dbm;
        if !same {
            return Err(reason::INVALID_PACKET);
        }
        Ok(Beaconed {
            hotspot,
            report: r,
            beacon: b,
        })
    }

    fn check_witness(
        &self,
        on: &Beaconed<'_>,
        r: &Report,
        w: &WitnessReport,
        first_ms: u64,
    ) -> Check<()> {
        let p = &self.m.params;
        let me = self.hotspot(&r.device)?;
        if self.m.denied(&r.device) {
            return Err(reason::DENIED);
        }
        if self.m.denied_edge(&on.hotspot.key, &r.device) {
            return Err(reason::DENIED_EDGE);
        }
        if r.device == on.hotspot.key {
            return Err(reason::SELF_WITNESS);
        }
        let beacon_ms = on.report.timestamp_ms;
        let (from_ms, max_lag_ms) = if beacon_ms <= first_ms {
            (beacon_ms, p.max_beacon_to_witness_lag_ms)
        } else {
            (first_ms, p.max_witness_lag_ms)
        };
        if r.timestamp_ms.saturating_sub(from_ms) > max_lag_ms {
            return Err(reason::TOO_LATE);
        }
        checks::frequency(p, on.beacon.frequency_hz, w.frequency_hz)?;
        if me.region.is_none() || me.region != on.hotspot.region {
            return Err(reason::INVALID_REGION);
        }
        let beaconer = checks::Radio {
            location: on.hotspot.location,
            gain_ddbi: on.hotspot.gain_ddbi,
        };
        let witness = checks::Radio {
            location: me.location,
            gain_ddbi: me.gain_ddbi,
        };
        checks::distance_and_signal(p, beaconer, on.beacon.tx_power_dbm, witness, w)
    }

    /// Verifies one beacon and its witnesses, and credits the shares.
    fn poc(
        &mut self,
        i: usize,
        b: &BeaconReport,
        witnesses: &[usize],
        payloads: &[Option<CoveragePayload>],
    ) {
        let r: &Report = self.input.reports[i];
        let on = match self.check_beacon(r, b) {
            Ok(on) => on,
            Err(code) => {
                self.verdicts[i] = invalid(code);
                for &w in witnesses {
                    self.verdicts[w] = invalid(reason::INVALID_BEACON);
                }
                return;
            }
        };
        let first_ms = witnesses
            .iter()
            .map(|&w| self.input.reports[w].timestamp_ms)
            .min()
            .unwrap_or(u64::MAX);
        let mut seen: BTreeSet<PublicKey> = BTreeSet::new();
        let mut valid: Vec<usize> = Vec::new();
        for &wi in witnesses {
            let wr: &Report = self.input.reports[wi];
            let Some(CoveragePayload::Witness(w)) = &payloads[wi] else {
                unreachable!("groups hold witnesses only");
            };
            let verdict = if seen.insert(wr.device) {
                self.check_witness(&on, wr, w, first_ms)
            } else {
                Err(reason::DUPLICATE_WITNESS)
            };
            match verdict {
                Ok(()) => {
                    self.state.witnessed(wr.device, wr.timestamp_ms);
                    valid.push(wi);
                }
                Err(code) => self.verdicts[wi] = invalid(code),
            }
        }
        if !witnesses.is_empty() {
            self.state.beaconed(on.hotspot.key, r.timestamp_ms);
        }
        self.settle_poc(i, &on, valid);
    }

    /// Reciprocity (HIP-106), selection (HIP-83) and shares (HIP-15 × HIP-17).
    fn settle_poc(&mut self, i: usize, on: &Beaconed<'_>, valid: Vec<usize>) {
        let window = self.m.params.reciprocity_window_ms;
        let t = on.report.timestamp_ms;
        if !self.state.has_witnessed_since(&on.hotspot.key, t, window) {
            self.verdicts[i] = invalid(reason::NO_VALID_WITNESSES);
            for w in valid {
                self.verdicts[w] = invalid(reason::INVALID_BEACON);
            }
            return;
        }
        self.verdicts[i] = Verdict::Valid;
        let mut kept: Vec<usize> = Vec::with_capacity(valid.len());
        for w in valid {
            let wr: &Report = self.input.reports[w];
            if self
                .state
                .has_beaconed_since(&wr.device, wr.timestamp_ms, window)
            {
                kept.push(w);
            } else {
                self.verdicts[w] = invalid(reason::NO_VALID_BEACONS);
            }
        }
        kept.sort_by_key(|&w| (self.input.reports[w].timestamp_ms, w));
        let max = usize::try_from(self.m.params.max_witnesses_per_poc).unwrap_or(usize::MAX);
        let selected = kept.len().min(max);
        for &w in &kept[selected..] {
            self.verdicts[w] = invalid(reason::WITNESS_NOT_SELECTED);
        }
        let n = u32::try_from(selected).expect("at most max_witnesses_per_poc");
        let units = self.m.params.units();
        let scale = self.scales.scale(on.hotspot.location);
        let (unit_b, unit_w) = (units.beaconer_unit(n), units.witness_unit(n));
        if scale > Decimal::ZERO && unit_b > Decimal::ZERO {
            self.shares.entry(on.hotspot.key).or_default().beacon += scale * unit_b;
        }
        for &w in &kept[..selected] {
            self.verdicts[w] = Verdict::Valid;
            if scale > Decimal::ZERO && unit_w > Decimal::ZERO {
                let key = self.input.reports[w].device;
                self.shares.entry(key).or_default().witness += scale * unit_w;
            }
        }
    }

    fn packet(&mut self, i: usize, pk: &PacketReport) {
        let r: &Report = self.input.reports[i];
        let verdict = self.check_packet(r, pk);
        self.verdicts[i] = match verdict {
            Ok(credits) => {
                *self.usage.entry((pk.payer, r.device)).or_insert(0) += credits;
                let dc = &mut self.shares.entry(r.device).or_default().data_credits;
                *dc += Decimal::from(credits);
                Verdict::Valid
            }
            Err(code) => invalid(code),
        };
    }

    fn check_packet(&mut self, r: &Report, pk: &PacketReport) -> Check<u64> {
        self.device(&r.device)?;
        if !self.packets_seen.insert(pk.packet_hash.0) {
            return Err(reason::DUPLICATE_PACKET);
        }
        let credits = self.m.params.packet_credits(pk.payload_bytes);
        let snapshot = self.input.snapshot;
        let left = self
            .credits_left
            .entry(pk.payer)
            .or_insert_with(|| snapshot.credits.get(&pk.payer).copied().unwrap_or(0));
        if *left < credits {
            return Err(reason::INSUFFICIENT_CREDITS);
        }
        *left -= credits;
        Ok(credits)
    }

    fn finish(self) -> EpochOutcome {
        let pool = Decimal::from_u128(self.input.pool_bones.0).unwrap_or(Decimal::MAX);
        let price = self.input.snapshot.credit_price_bones.0;
        let credit = CreditValue {
            numerator: Decimal::from_u128(price).unwrap_or(Decimal::MAX),
            denominator: Decimal::ONE,
        };
        let split = split_rewards(pool, &self.shares, &self.m.params.pools, &credit);
        let shares: BTreeMap<PublicKey, u128> = split
            .rewards
            .iter()
            .map(|(k, r)| (*k, r.total_bones()))
            .collect();
        assert!(
            shares.values().sum::<u128>() <= self.input.pool_bones.0,
            "coverage rewards stay within the module's pool"
        );
        let usage = self
            .usage
            .into_iter()
            .map(|((payer, provider), credits)| UsageCharge {
                payer,
                provider,
                credits,
            })
            .collect();
        let carry = self
            .state
            .pruned(self.input.end_ms, self.m.params.reciprocity_window_ms)
            .encode();
        EpochOutcome {
            verdicts: self.verdicts,
            shares,
            exact_rewards: true,
            usage,
            penalties: Vec::new(),
            carry,
        }
    }
}
