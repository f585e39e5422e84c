//! One epoch of proof of coverage, verified: beacons and their witnesses checked as
//! helium/oracles `iot_verifier` checks them (`poc.rs`, `runner.rs`), HIP-106 reciprocity,
//! HIP-83 witness selection, HIP-15 units × HIP-17 hex scale as shares, and data-transfer
//! packets charged to their payer's credits.
//!
//! Order: beacons in the epoch's canonical report order (timestamp, id); a beacon's
//! witnesses are the reports whose heard payload equals the beacon's, in the same order.
//! The reports arrive one at a time ([`Collector`]) and are kept as compact records
//! ([`Records`]).
//! Reciprocity state (each hotspot's last valid witness and last witnessed valid beacon)
//! carries from epoch to epoch, so the 48-hour window spans epochs.

use crate::beacon;
use crate::checks;
use crate::geo;
use crate::hex_density::HexScales;
use crate::payload::{BeaconReport, PacketReport, WitnessReport};
use crate::reason;
use crate::records::{Body, Records};
use crate::reward_share::{split_rewards, CreditValue, HotspotShares};
use crate::state::{within, Reciprocity};
use crate::{CoverageModule, CLASS};
use depin_module::{
    DeviceInfo, EpochCollector, EpochContext, EpochOutcome, UsageCharge, Verdict, Verdicts,
};
use depin_types::{par, PublicKey, Report};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// A registered, active, asserted hotspot.
#[derive(Clone, Copy)]
struct Hotspot<'a> {
    key: PublicKey,
    /// Asserted cell (`site.location`) with its centre and res-11 parent.
    site: geo::Site,
    gain_ddbi: i32,
    region: Option<&'a str>,
}

/// The beacon a group of witnesses is checked against.
struct Beaconed<'a> {
    hotspot: Hotspot<'a>,
    beacon_ms: u64,
    beacon: &'a BeaconReport,
}

type Check<T> = Result<T, &'static str>;

/// What the order-free checks found for one beacon and its witnesses. Only the beacon
/// interval (one beacon per hotspot per interval) depends on the order of beacons; it sits
/// between `pre` and `post`, as in the checks' order.
struct PocCheck<'a> {
    /// Registered, asserted, not denied, current entropy: the beaconer.
    pre: Check<Hotspot<'a>>,
    /// The beacon interval of its timestamp.
    interval: u64,
    /// Region, channel plan and the rebuilt beacon match.
    post: Check<()>,
    /// Each witness of the group, in group order (empty unless `pre` and `post` passed):
    /// 0 for a pass, else its reason as [`reason::to_byte`] gives it — one byte, not 16, for
    /// each of an epoch's ten million witnesses.
    witnesses: Vec<u8>,
}

/// Every reporting device as a hotspot (or why it is not one), by its index in
/// [`Records::keys`], computed once per epoch on all cores: the checks look a hotspot up for
/// every witness, and an index is cheaper than hashing its key. Devices that did not report
/// are never looked up, so they are not in the table.
fn hotspot_table<'a>(
    m: &'a CoverageModule,
    context: &EpochContext<'_>,
    keys: &[PublicKey],
) -> Vec<Check<Hotspot<'a>>> {
    par::map(keys, |k| match context.snapshot.devices.get(k) {
        None => Err(reason::GATEWAY_NOT_FOUND),
        Some(d) => as_hotspot(m, d),
    })
}

fn as_hotspot<'a>(m: &'a CoverageModule, d: &DeviceInfo) -> Check<Hotspot<'a>> {
    if d.class != CLASS {
        return Err(reason::WRONG_DEVICE_CLASS);
    }
    if !d.active {
        return Err(reason::INACTIVE_DEVICE);
    }
    let (Some(location), Some(antenna)) = (d.location, d.antenna) else {
        return Err(reason::NOT_ASSERTED);
    };
    let location = location.index();
    let site = geo::Site::new(location).map_err(|_| reason::NOT_ASSERTED)?;
    Ok(Hotspot {
        key: d.device,
        site,
        gain_ddbi: antenna.gain_ddbi,
        region: m.regions.region_of(location),
    })
}

/// The epoch's reports taken one at a time, verified at the end.
pub(crate) struct Collector<'a> {
    m: &'a CoverageModule,
    context: EpochContext<'a>,
    records: Records,
}

impl<'a> Collector<'a> {
    /// An empty epoch `context` of `m`.
    pub(crate) fn new(m: &'a CoverageModule, context: EpochContext<'a>) -> Collector<'a> {
        Collector {
            m,
            context,
            records: Records::default(),
        }
    }
}

impl EpochCollector for Collector<'_> {
    fn push(&mut self, report: &Report) {
        self.records.push(report);
    }

    fn pushed(&self) -> usize {
        self.records.recs.len()
    }

    fn finish(mut self: Box<Self>) -> EpochOutcome {
        self.records.seal();
        Verifier::new(self.m, self.context, self.records).run()
    }
}

/// The result of a scoped thread (its panic carried on).
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Verification of one epoch.
struct Verifier<'a> {
    m: &'a CoverageModule,
    input: EpochContext<'a>,
    records: Records,
    scales: HexScales,
    /// Each reporting device as a hotspot, by its index in `records.keys`.
    table: Vec<Check<Hotspot<'a>>>,
    state: Reciprocity,
    verdicts: Verdicts,
    /// `(last valid witness ms, last witnessed valid beacon ms)` of each reporter, by index
    /// in `records.keys`: taken out of `state` when the epoch starts, put back at its end.
    recent: Vec<(u64, u64)>,
    /// Each reporter's shares, by index in `records.keys`; the non-zero ones, sorted by key,
    /// are split.
    shares: Vec<HotspotShares>,
    buckets: BTreeSet<(PublicKey, u64)>,
    credits_left: BTreeMap<PublicKey, u64>,
    packets_seen: BTreeSet<[u8; 32]>,
    usage: BTreeMap<(PublicKey, PublicKey), u64>,
}

fn invalid(code: &'static str) -> Verdict {
    Verdict::invalid(code)
}

/// Each beacon (by report index, in order) with the witnesses whose heard frame is its
/// frame, in order; a frame is matched to its first beacon only.
fn pocs(records: &Records) -> Vec<(usize, Vec<u32>)> {
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); records.frame_count()];
    for (i, r) in records.recs.iter().enumerate() {
        if let Body::Witness { frame, .. } = r.body {
            groups[frame as usize].push(u32::try_from(i).expect("records are indexed by u32"));
        }
    }
    let mut out = Vec::new();
    for (i, r) in records.recs.iter().enumerate() {
        if let Body::Beacon { frame, .. } = r.body {
            out.push((i, std::mem::take(&mut groups[frame as usize])));
        }
    }
    out
}

impl<'a> Verifier<'a> {
    /// The epoch's lookups, built at once: HIP-17 scales and the carried state on their own
    /// threads, the hotspot table on all cores (each is pure, so the threads cannot change a
    /// result).
    fn new(m: &'a CoverageModule, input: EpochContext<'a>, records: Records) -> Verifier<'a> {
        let (scales, table, state) = std::thread::scope(|scope| {
            let scales = scope.spawn(|| m.hex_scales(input.snapshot));
            let state = scope.spawn(|| Reciprocity::decode(input.carry));
            let table = hotspot_table(m, &input, &records.keys);
            (joined(scales), table, joined(state))
        });
        let recent = state.take(&records.keys);
        let shares = vec![HotspotShares::default(); records.keys.len()];
        Verifier {
            m,
            input,
            scales,
            table,
            state,
            verdicts: Verdicts::default(),
            records,
            recent,
            shares,
            buckets: BTreeSet::new(),
            credits_left: BTreeMap::new(),
            packets_seen: BTreeSet::new(),
            usage: BTreeMap::new(),
        }
    }

    /// Runs the epoch.
    fn run(mut self) -> EpochOutcome {
        // Every report is overwritten below but a witness, which stays `invalid_packet`
        // unless its frame matches a beacon.
        self.verdicts = (self.records.recs.iter())
            .map(|r| match r.body {
                Body::Malformed => invalid(reason::MALFORMED_PAYLOAD),
                _ => invalid(reason::INVALID_PACKET),
            })
            .collect();
        let pocs = pocs(&self.records);
        let checked = self.check_pocs(&pocs);
        let mut checked = pocs.iter().zip(checked);
        for i in 0..self.records.recs.len() {
            match self.records.recs[i].body {
                Body::Beacon { .. } => {
                    let ((at, witnesses), check) = checked.next().expect("one check per beacon");
                    assert_eq!(*at, i, "checks follow the beacons' order");
                    self.poc(i, witnesses, check);
                }
                Body::Packet(p) => {
                    let pk = self.records.packets[p as usize].clone();
                    self.packet(i, &pk);
                }
                _ => {}
            }
        }
        assert!(checked.next().is_none(), "every beacon's check was used");
        self.finish()
    }

    /// Record `i`'s device is a registered, active hotspot (any location).
    fn device(&self, i: usize) -> Check<()> {
        match self.hotspot(i) {
            Err(code) if code == reason::NOT_ASSERTED => Ok(()),
            h => h.map(|_| ()),
        }
    }

    /// Record `i`'s device is a registered, active hotspot with an asserted location and
    /// antenna.
    fn hotspot(&self, i: usize) -> Check<Hotspot<'a>> {
        self.table[self.records.recs[i].device as usize]
    }

    /// The order-free checks of every beacon and its witnesses, on all cores.
    fn check_pocs(&self, pocs: &[(usize, Vec<u32>)]) -> Vec<PocCheck<'a>> {
        par::map(pocs, |(i, group)| self.check_poc(*i, group))
    }

    fn check_poc(&self, i: usize, group: &[u32]) -> PocCheck<'a> {
        let r = self.records.recs[i];
        let Body::Beacon { beacon, .. } = r.body else {
            unreachable!("pocs start at beacons");
        };
        let b = &self.records.beacons[beacon as usize];
        let device = self.records.device(i);
        let interval =
            r.timestamp_ms.saturating_sub(self.input.start_ms) / self.m.params.beacon_interval_ms;
        let pre = self.check_beacon_pre(i, &device, b);
        let post = match &pre {
            Ok(h) => self.check_beacon_post(&device, b, h, interval),
            Err(_) => Ok(()),
        };
        let mut witnesses = Vec::new();
        if let (Ok(hotspot), Ok(())) = (&pre, &post) {
            let on = Beaconed {
                hotspot: *hotspot,
                beacon_ms: r.timestamp_ms,
                beacon: b,
            };
            witnesses = self.check_group(&on, group);
        }
        PocCheck {
            pre,
            interval,
            post,
            witnesses,
        }
    }

    /// The beacon checks before its interval's.
    fn check_beacon_pre(
        &self,
        i: usize,
        device: &PublicKey,
        b: &BeaconReport,
    ) -> Check<Hotspot<'a>> {
        let hotspot = self.hotspot(i)?;
        if self.m.denied(device) {
            return Err(reason::DENIED);
        }
        if b.entropy != self.input.entropy {
            return Err(reason::ENTROPY_EXPIRED);
        }
        Ok(hotspot)
    }

    /// The beacon checks after its interval's: region, plan, and the beacon rebuilt.
    fn check_beacon_post(
        &self,
        device: &PublicKey,
        b: &BeaconReport,
        hotspot: &Hotspot<'_>,
        interval: u64,
    ) -> Check<()> {
        let plan = hotspot
            .region
            .and_then(|name| self.m.regions.plan(name))
            .ok_or(reason::INVALID_REGION)?;
        let expected = beacon::build(&b.entropy, device, interval, plan, hotspot.gain_ddbi)
            .map_err(|_| reason::INVALID_PACKET)?;
        let same = expected.data == b.data
            && expected.frequency_hz == b.frequency_hz
            && expected.spreading == b.spreading
            && expected.tx_power_dbm == b.tx_power_dbm;
        if !same {
            return Err(reason::INVALID_PACKET);
        }
        Ok(())
    }

    /// Each witness of a beacon's group, in order: the first from a hotspot is checked, any
    /// further one is `duplicate_witness`.
    fn check_group(&self, on: &Beaconed<'_>, group: &[u32]) -> Vec<u8> {
        let first_ms = group
            .iter()
            .map(|&w| self.records.recs[w as usize].timestamp_ms)
            .min()
            .unwrap_or(u64::MAX);
        let mut seen: BTreeSet<u32> = BTreeSet::new();
        group
            .iter()
            .map(|&wi| {
                let wi = wi as usize;
                let w = self
                    .records
                    .witness(wi)
                    .expect("groups hold witnesses only");
                let checked = if seen.insert(self.records.recs[wi].device) {
                    self.check_witness(on, wi, &w, first_ms)
                } else {
                    Err(reason::DUPLICATE_WITNESS)
                };
                checked.map_or_else(reason::to_byte, |()| 0)
            })
            .collect()
    }

    fn check_witness(
        &self,
        on: &Beaconed<'_>,
        wi: usize,
        w: &WitnessReport,
        first_ms: u64,
    ) -> Check<()> {
        let p = &self.m.params;
        let device = self.records.device(wi);
        let timestamp_ms = self.records.recs[wi].timestamp_ms;
        let me = self.hotspot(wi)?;
        if self.m.denied(&device) {
            return Err(reason::DENIED);
        }
        if self.m.denied_edge(&on.hotspot.key, &device) {
            return Err(reason::DENIED_EDGE);
        }
        if device == on.hotspot.key {
            return Err(reason::SELF_WITNESS);
        }
        let beacon_ms = on.beacon_ms;
        let (from_ms, max_lag_ms) = if beacon_ms <= first_ms {
            (beacon_ms, p.max_beacon_to_witness_lag_ms)
        } else {
            (first_ms, p.max_witness_lag_ms)
        };
        if timestamp_ms.saturating_sub(from_ms) > max_lag_ms {
            return Err(reason::TOO_LATE);
        }
        checks::frequency(p, on.beacon.frequency_hz, w.frequency_hz)?;
        if me.region.is_none() || me.region != on.hotspot.region {
            return Err(reason::INVALID_REGION);
        }
        let beaconer = (&on.hotspot.site, on.hotspot.gain_ddbi);
        let witness = (&me.site, me.gain_ddbi);
        checks::distance_and_signal_at(p, beaconer, on.beacon.tx_power_dbm, witness, w)
    }

    /// Applies one beacon's checks in the epoch's order: its interval, its witnesses'
    /// verdicts, then reciprocity, selection and shares.
    fn poc(&mut self, i: usize, witnesses: &[u32], check: PocCheck<'a>) {
        let (device, timestamp_ms) = (self.records.device(i), self.records.recs[i].timestamp_ms);
        let verdict = check.pre.and_then(|hotspot| {
            if !self.buckets.insert((device, check.interval)) {
                return Err(reason::IRREGULAR_BEACON_INTERVAL);
            }
            check.post.map(|()| hotspot)
        });
        let hotspot = match verdict {
            Ok(h) => h,
            Err(code) => {
                self.verdicts.set(i, &invalid(code));
                for &w in witnesses {
                    self.verdicts
                        .set(w as usize, &invalid(reason::INVALID_BEACON));
                }
                return;
            }
        };
        assert_eq!(
            check.witnesses.len(),
            witnesses.len(),
            "one check per witness"
        );
        let mut valid: Vec<usize> = Vec::new();
        for (&wi, result) in witnesses.iter().zip(check.witnesses) {
            let wi = wi as usize;
            match reason::from_byte(result) {
                None => {
                    let r = self.records.recs[wi];
                    let last = &mut self.recent[r.device as usize].0;
                    *last = (*last).max(r.timestamp_ms);
                    valid.push(wi);
                }
                Some(code) => self.verdicts.set(wi, &invalid(code)),
            }
        }
        if !witnesses.is_empty() {
            let last = &mut self.recent[self.records.recs[i].device as usize].1;
            *last = (*last).max(timestamp_ms);
        }
        self.settle_poc(i, &hotspot, valid);
    }

    /// Reciprocity (HIP-106), selection (HIP-83) and shares (HIP-15 × HIP-17).
    fn settle_poc(&mut self, i: usize, beaconer: &Hotspot<'_>, valid: Vec<usize>) {
        let window = self.m.params.reciprocity_window_ms;
        let (me, t) = (
            self.records.recs[i].device,
            self.records.recs[i].timestamp_ms,
        );
        if !within(self.recent[me as usize].0, t, window) {
            self.verdicts.set(i, &invalid(reason::NO_VALID_WITNESSES));
            for w in valid {
                self.verdicts.set(w, &invalid(reason::INVALID_BEACON));
            }
            return;
        }
        self.verdicts.set(i, &Verdict::Valid);
        let mut kept: Vec<usize> = Vec::with_capacity(valid.len());
        for w in valid {
            let r = self.records.recs[w];
            if within(self.recent[r.device as usize].1, r.timestamp_ms, window) {
                kept.push(w);
            } else {
                self.verdicts.set(w, &invalid(reason::NO_VALID_BEACONS));
            }
        }
        kept.sort_by_key(|&w| (self.records.recs[w].timestamp_ms, w));
        let max = usize::try_from(self.m.params.max_witnesses_per_poc).unwrap_or(usize::MAX);
        let selected = kept.len().min(max);
        for &w in &kept[selected..] {
            self.verdicts.set(w, &invalid(reason::WITNESS_NOT_SELECTED));
        }
        let n = u32::try_from(selected).expect("at most max_witnesses_per_poc");
        let units = self.m.params.units();
        let scale = self.scales.scale(beaconer.site.location);
        let (unit_b, unit_w) = (units.beaconer_unit(n), units.witness_unit(n));
        if scale > Decimal::ZERO && unit_b > Decimal::ZERO {
            self.shares[me as usize].beacon += scale * unit_b;
        }
        let witness_share = scale * unit_w;
        for &w in &kept[..selected] {
            self.verdicts.set(w, &Verdict::Valid);
            if witness_share > Decimal::ZERO {
                self.shares[self.records.recs[w].device as usize].witness += witness_share;
            }
        }
    }

    fn packet(&mut self, i: usize, pk: &PacketReport) {
        let device = self.records.device(i);
        let verdict = self.check_packet(i, pk);
        let verdict = match verdict {
            Ok(credits) => {
                *self.usage.entry((pk.payer, device)).or_insert(0) += credits;
                let dc = &mut self.shares[self.records.recs[i].device as usize].data_credits;
                *dc += Decimal::from(credits);
                Verdict::Valid
            }
            Err(code) => invalid(code),
        };
        self.verdicts.set(i, &verdict);
    }

    fn check_packet(&mut self, i: usize, pk: &PacketReport) -> Check<u64> {
        self.device(i)?;
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
        // Every share added is positive, so a zero entry is a reporter that earned nothing.
        let shares: BTreeMap<PublicKey, HotspotShares> = (self.records.keys.iter())
            .zip(&self.shares)
            .filter(|(_, s)| **s != HotspotShares::default())
            .map(|(k, s)| (*k, *s))
            .collect();
        let split = split_rewards(pool, &shares, &self.m.params.pools, &credit);
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
        let mut state = self.state;
        state.put(&self.records.keys, &self.recent);
        let carry = state
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
