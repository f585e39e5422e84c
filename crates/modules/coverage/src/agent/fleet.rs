//! The fleet runner: many hotspot agents in one process, sharing one simulated air. Each
//! beacon interval it waits for the epoch's entropy (the hash of the epoch's first block),
//! lets every hotspot beacon at its moment, asks the radio simulator who hears each beacon,
//! and delivers the signed beacons and witnesses to the oracle in real time (a report is
//! sent once its timestamp has passed), in batches.

use super::hotspot::HotspotAgent;
use super::radio::{RadioParams, RadioSim, Site, Transmission};
use super::FleetError;
use crate::beacon::spreading_factor;
use depin_client::{NodeClient, OracleClient};
use depin_types::{par, Hash32, PublicKey, ReportOutcome, SignedReport};
use std::collections::BTreeMap;
use std::time::Duration;

/// Reports per batch sent to the oracle.
pub const DELIVERY_BATCH_REPORTS: usize = 4_096;
/// Most submission rounds of one interval's delivery.
pub const MAX_DELIVERY_ROUNDS: u32 = 1_000_000;
/// Longest pause between delivery rounds, ms.
pub const MAX_DELIVERY_PAUSE_MS: u64 = 200;
/// Polls for an epoch's entropy before giving up.
pub const MAX_ENTROPY_POLLS: u32 = 600;
/// Pause between entropy polls, ms.
pub const ENTROPY_POLL_MS: u64 = 250;
/// Most sensor packets a fleet forwards per beacon interval.
pub const MAX_PACKETS_PER_INTERVAL: u32 = 100_000;
/// Domain tag of the simulated sensors' packets.
const DOMAIN_PACKET: &[u8] = b"depin/agent/sensor-packet/v1";
/// Beacons fall in `[interval / MARGIN_DIVISOR, interval − interval / MARGIN_DIVISOR)`:
/// after the entropy exists, and with time for witnesses before the interval ends.
pub const MARGIN_DIVISOR: u64 = 12;

/// The chain's timing, from genesis: epochs and the coverage module's beacon interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Genesis time, ms.
    pub genesis_time_ms: u64,
    /// Epoch length, ms.
    pub epoch_length_ms: u64,
    /// Beacon interval, ms (divides the epoch length).
    pub beacon_interval_ms: u64,
}

impl Schedule {
    /// The chain's epoch clock.
    pub fn clock(&self) -> depin_types::EpochClock {
        depin_types::EpochClock {
            genesis_time_ms: self.genesis_time_ms,
            epoch_length_ms: self.epoch_length_ms,
        }
    }

    /// Start of `epoch`, ms.
    pub fn epoch_start_ms(&self, epoch: u64) -> u64 {
        self.clock().start_ms(epoch)
    }

    /// The epoch containing `time_ms` (0 before genesis).
    pub fn epoch_at(&self, time_ms: u64) -> u64 {
        self.clock().epoch_at(time_ms).unwrap_or(0)
    }

    /// Beacon intervals per epoch.
    pub fn intervals(&self) -> u64 {
        (self.epoch_length_ms / self.beacon_interval_ms.max(1)).max(1)
    }

    fn margin_ms(&self) -> u64 {
        self.beacon_interval_ms / MARGIN_DIVISOR
    }
}

/// One interval's reports, by timestamp.
#[derive(Clone, Debug, Default)]
pub struct IntervalPlan {
    /// Signed beacons and witnesses, sorted by timestamp.
    pub reports: Vec<SignedReport>,
    /// Beacons among them.
    pub beacons: u64,
    /// Witnesses among them.
    pub witnesses: u64,
    /// Hotspots that could not beacon (no channel plan for their location).
    pub silent: u64,
    /// Paid sensor packets among them.
    pub packets: u64,
}

/// What delivering reports to the oracle gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Reports the oracle acknowledged (durable).
    pub acknowledged: u64,
    /// Reports the oracle refused, by reason code.
    pub refused: BTreeMap<String, u64>,
    /// Reports not delivered (transport errors, or the interval ended first).
    pub undelivered: u64,
}

impl Delivery {
    /// Adds `other`'s counts to these.
    pub fn absorb(&mut self, other: &Delivery) {
        self.acknowledged += other.acknowledged;
        self.undelivered += other.undelivered;
        for (code, n) in &other.refused {
            *self.refused.entry(code.clone()).or_default() += n;
        }
    }
}

/// One interval of a fleet run.
#[derive(Clone, Debug)]
pub struct IntervalRun {
    /// Epoch.
    pub epoch: u64,
    /// Interval within the epoch.
    pub interval: u64,
    /// Beacons sent.
    pub beacons: u64,
    /// Witnesses sent.
    pub witnesses: u64,
    /// Hotspots without a channel plan.
    pub silent: u64,
    /// Paid sensor packets forwarded.
    pub packets: u64,
    /// Delivery.
    pub delivery: Delivery,
}

/// Paid sensor traffic through the fleet: each beacon interval `packets_per_interval`
/// packets of `payload_bytes` from sensors of `payer` are forwarded, each by a hotspot picked
/// from the entropy (Helium's packet router buys from the hotspot that heard the packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traffic {
    /// The key whose delegated data credits pay for the packets.
    pub payer: PublicKey,
    /// Packets per beacon interval (≤ [`MAX_PACKETS_PER_INTERVAL`]).
    pub packets_per_interval: u32,
    /// Payload size of each packet, bytes.
    pub payload_bytes: u32,
}

/// Hotspot agents on one simulated air.
pub struct Fleet {
    agents: Vec<HotspotAgent>,
    sim: RadioSim,
    traffic: Option<Traffic>,
}

impl Fleet {
    /// A fleet of `agents` (their asserted locations are their true positions).
    ///
    /// Errors: [`FleetError::Radio`] for radio settings out of range.
    pub fn new(agents: Vec<HotspotAgent>, radio: RadioParams) -> Result<Fleet, FleetError> {
        let sites = agents
            .iter()
            .map(|a| Site {
                key: a.device.public(),
                location: a.location,
                gain_ddbi: a.antenna.gain_ddbi,
            })
            .collect();
        let sim = RadioSim::new(radio, sites)?;
        Ok(Fleet {
            agents,
            sim,
            traffic: None,
        })
    }

    /// This fleet, also forwarding `traffic`'s packets every interval.
    ///
    /// Errors: [`FleetError::Malformed`] for more than [`MAX_PACKETS_PER_INTERVAL`] packets.
    pub fn with_traffic(mut self, traffic: Traffic) -> Result<Fleet, FleetError> {
        if traffic.packets_per_interval > MAX_PACKETS_PER_INTERVAL {
            return Err(FleetError::Malformed {
                reason: format!(
                    "{} packets per interval is over {MAX_PACKETS_PER_INTERVAL}",
                    traffic.packets_per_interval
                ),
            });
        }
        self.traffic = Some(traffic);
        Ok(self)
    }

    /// The agents.
    pub fn agents(&self) -> &[HotspotAgent] {
        &self.agents
    }

    /// Every report of `interval` of `epoch` under `entropy`: each hotspot's beacon at its
    /// moment and the witnesses of everyone who heard it, computed on all cores.
    pub fn plan(&self, s: &Schedule, entropy: &Hash32, epoch: u64, interval: u64) -> IntervalPlan {
        let indices: Vec<usize> = (0..self.agents.len()).collect();
        let parts = par::map(&indices, |&i| {
            self.plan_one(s, entropy, (epoch, interval), i)
        });
        let mut plan = IntervalPlan::default();
        for part in parts {
            let Some(reports) = part else {
                plan.silent += 1;
                continue;
            };
            plan.beacons += 1;
            plan.witnesses += reports.len() as u64 - 1;
            plan.reports.extend(reports);
        }
        let packets = self.packets(s, entropy, (epoch, interval));
        plan.packets = packets.len() as u64;
        plan.reports.extend(packets);
        plan.reports
            .sort_by_key(|r| (r.report.timestamp_ms, r.report.device));
        plan
    }

    /// The interval's forwarded sensor packets: packet `j` goes through the hotspot and at
    /// the moment `H(entropy ‖ epoch ‖ interval ‖ j)` picks (after the margin, before the
    /// interval ends); its hash is unique per `(entropy, epoch, interval, j)`.
    fn packets(
        &self,
        s: &Schedule,
        entropy: &Hash32,
        (epoch, interval): (u64, u64),
    ) -> Vec<SignedReport> {
        let Some(t) = self.traffic.filter(|_| !self.agents.is_empty()) else {
            return Vec::new();
        };
        let start_ms = s.epoch_start_ms(epoch) + interval * s.beacon_interval_ms;
        let span_ms = s
            .beacon_interval_ms
            .saturating_sub(2 * s.margin_ms())
            .max(1);
        (0..t.packets_per_interval)
            .map(|j| {
                let h = Hash32::digest_with_domain(
                    DOMAIN_PACKET,
                    &[
                        &entropy.0[..],
                        &epoch.to_be_bytes(),
                        &interval.to_be_bytes(),
                        &j.to_be_bytes(),
                    ]
                    .concat(),
                );
                let word = |k: usize| u64::from_be_bytes(h.0[k..k + 8].try_into().expect("8"));
                let hotspot = &self.agents[(word(0) % self.agents.len() as u64) as usize];
                let at_ms = start_ms + s.margin_ms() + word(8) % span_ms;
                hotspot.packet(t.payer, t.payload_bytes, h, at_ms)
            })
            .collect()
    }

    /// Agent `i`'s beacon and the witnesses of it, or `None` when it cannot beacon (no
    /// channel plan for its location).
    fn plan_one(
        &self,
        s: &Schedule,
        entropy: &Hash32,
        (epoch, interval): (u64, u64),
        i: usize,
    ) -> Option<Vec<SignedReport>> {
        let start_ms = s.epoch_start_ms(epoch) + interval * s.beacon_interval_ms;
        let agent = &self.agents[i];
        let at_ms = start_ms + agent.beacon_offset_ms(entropy, s.beacon_interval_ms, s.margin_ms());
        let (beacon, report) = agent.beacon(entropy, interval, at_ms).ok()?;
        let tx = Transmission {
            from: i,
            frequency_hz: beacon.frequency_hz,
            spreading_factor: spreading_factor(&beacon.spreading),
            tx_power_dbm: beacon.tx_power_dbm,
            at_ms,
        };
        let mut out = vec![report];
        for heard in self.sim.hear(&tx) {
            out.push(self.agents[heard.site].witness(&beacon.data, &heard));
        }
        Some(out)
    }
}

/// The hash of the first block at or after `start_ms`, polling until the chain reaches it.
///
/// Errors: [`FleetError::Client`] when the node fails; [`FleetError::NoEntropy`] after
/// [`MAX_ENTROPY_POLLS`] polls.
pub async fn entropy(node: &NodeClient, start_ms: u64) -> Result<Hash32, FleetError> {
    for _ in 0..MAX_ENTROPY_POLLS {
        if let Some(b) = node.first_block_at_or_after(start_ms).await? {
            return b.hash.parse().map_err(|_| FleetError::Malformed {
                reason: format!("block hash {:?}", b.hash),
            });
        }
        tokio::time::sleep(Duration::from_millis(ENTROPY_POLL_MS)).await;
    }
    Err(FleetError::NoEntropy { start_ms })
}

/// Sends `reports` (sorted by timestamp) as their timestamps pass, until all are sent or the
/// clock reaches `deadline_ms`.
pub async fn deliver(
    oracle: &OracleClient,
    reports: &[SignedReport],
    clock: fn() -> u64,
    deadline_ms: u64,
) -> Delivery {
    let mut d = Delivery::default();
    let mut next = 0;
    for _ in 0..MAX_DELIVERY_ROUNDS {
        let Some(first) = reports.get(next) else {
            break;
        };
        let now = clock();
        if now >= deadline_ms {
            break;
        }
        if first.report.timestamp_ms > now {
            let wait = (first.report.timestamp_ms - now).min(MAX_DELIVERY_PAUSE_MS);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            continue;
        }
        let due = reports[next..]
            .iter()
            .take(DELIVERY_BATCH_REPORTS)
            .take_while(|r| r.report.timestamp_ms <= now)
            .count();
        let batch: Vec<Vec<u8>> = reports[next..next + due]
            .iter()
            .map(SignedReport::to_bytes)
            .collect();
        next += due;
        match oracle.submit_batch(&batch).await {
            Ok(reply) => {
                for outcome in reply {
                    match outcome {
                        ReportOutcome::Acknowledged { .. } => d.acknowledged += 1,
                        ReportOutcome::Refused { code, .. } => {
                            *d.refused.entry(code).or_default() += 1
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, reports = due, "report batch not delivered");
                d.undelivered += due as u64;
            }
        }
    }
    d.undelivered += (reports.len() - next) as u64;
    d
}

/// Runs `fleet` for `epochs` epochs from `first_epoch`, calling `each` after every interval.
///
/// Errors: [`FleetError`] when the entropy of an epoch cannot be read.
pub async fn run(
    fleet: &Fleet,
    node: &NodeClient,
    oracle: &OracleClient,
    s: &Schedule,
    (first_epoch, epochs): (u64, u64),
    clock: fn() -> u64,
    each: &mut (dyn FnMut(&IntervalRun) + Send),
) -> Result<(), FleetError> {
    for epoch in first_epoch..first_epoch.saturating_add(epochs) {
        let epoch_start_ms = s.epoch_start_ms(epoch);
        sleep_until(epoch_start_ms, clock).await;
        let entropy = entropy(node, epoch_start_ms).await?;
        for interval in 0..s.intervals() {
            let start_ms = epoch_start_ms + interval * s.beacon_interval_ms;
            sleep_until(start_ms, clock).await;
            let plan = fleet.plan(s, &entropy, epoch, interval);
            let deadline_ms = start_ms + s.beacon_interval_ms;
            let delivery = deliver(oracle, &plan.reports, clock, deadline_ms).await;
            each(&IntervalRun {
                epoch,
                interval,
                beacons: plan.beacons,
                witnesses: plan.witnesses,
                silent: plan.silent,
                packets: plan.packets,
                delivery,
            });
        }
    }
    Ok(())
}

async fn sleep_until(time_ms: u64, clock: fn() -> u64) {
    let now = clock();
    if time_ms > now {
        tokio::time::sleep(Duration::from_millis(time_ms - now)).await;
    }
}
