//! The oracle's in-memory state over the durable log: reports of open epochs, report statuses,
//! per-device rate limits, ingest checks and the group-commit writer.

use crate::batcher::SignatureBatcher;
use crate::log::{Log, LogError};
use crate::settle::ReportVerdicts;
use borsh::{BorshDeserialize, BorshSerialize};
use depin_module::{DeviceInfo, ResourceModule, Verdict};
use depin_types::{Hash32, PublicKey, SignedReport};
use std::collections::BTreeMap;
#[allow(clippy::disallowed_types)] // only through `Lookup`
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, RwLock};

/// Largest encoded report of any module, bytes (each module bounds its payloads further:
/// `ResourceModule::max_payload_bytes`).
pub const MAX_REPORT_BYTES: usize = 512 << 10;
/// Appends waiting for the writer before submitters wait.
pub const MAX_PENDING_APPENDS: usize = 1_024;
/// Appends folded into one fsync.
pub const MAX_GROUP_APPENDS: usize = 256;
/// Signatures per verification batch when re-verifying a published epoch.
pub const VERIFY_CHUNK: usize = 4_096;

/// Ingest policy.
#[derive(Clone, Debug)]
pub struct IngestPolicy {
    /// The chain reports must name.
    pub chain_id: String,
    /// Genesis time, ms.
    pub genesis_time_ms: u64,
    /// Epoch length, ms.
    pub epoch_length_ms: u64,
    /// Largest accepted distance between a report's timestamp and the oracle's clock, ms.
    pub max_skew_ms: u64,
    /// Reports a device may send at once (token-bucket capacity).
    pub rate_burst: u32,
    /// Reports per minute a device may sustain (token-bucket refill).
    pub rate_per_minute: u32,
}

impl IngestPolicy {
    /// The chain's epoch clock.
    pub fn clock(&self) -> depin_types::EpochClock {
        depin_types::EpochClock {
            genesis_time_ms: self.genesis_time_ms,
            epoch_length_ms: self.epoch_length_ms,
        }
    }
}

/// A report's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportStatus {
    /// Durable, waiting for its epoch to close.
    Accepted {
        /// Its epoch.
        epoch: u64,
    },
    /// Its epoch closed with this verdict.
    Settled {
        /// Its epoch.
        epoch: u64,
        /// The verdict.
        verdict: Verdict,
    },
}

/// A refused report: reason code and detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Stable reason code.
    pub code: &'static str,
    /// Detail.
    pub message: String,
}

/// An acknowledged report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Receipt id (the report id).
    pub id: Hash32,
    /// Its epoch.
    pub epoch: u64,
}

/// One log record.
#[derive(Clone, Debug, BorshSerialize, BorshDeserialize)]
pub enum LogRecord {
    /// An acknowledged report.
    Report {
        /// Its epoch.
        epoch: u64,
        /// The report.
        report: SignedReport,
    },
    /// Reports refused at ingest, by reason, for an epoch.
    Rejections {
        /// The epoch.
        epoch: u64,
        /// Counts by reason code.
        counts: Vec<(String, u64)>,
    },
}

impl LogRecord {
    /// The borsh encoding of `LogRecord::Report { epoch, report }` without cloning the report.
    pub fn encode_report(epoch: u64, report: &SignedReport) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 8 + report.encoded_len());
        out.push(0u8);
        BorshSerialize::serialize(&epoch, &mut out).expect("writing to a Vec cannot fail");
        BorshSerialize::serialize(report, &mut out).expect("writing to a Vec cannot fail");
        out
    }
}

/// Reports per chunk of an open epoch's list.
pub const REPORT_CHUNK: usize = 4_096;

/// An open epoch's acknowledged reports in append order, kept in chunks of
/// [`REPORT_CHUNK`]: a growing epoch never reallocates (and copies) everything it holds.
#[derive(Default)]
pub(crate) struct ReportChunks {
    chunks: Vec<Vec<SignedReport>>,
    len: usize,
}

impl ReportChunks {
    pub(crate) fn push(&mut self, r: SignedReport) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < REPORT_CHUNK => c.push(r),
            _ => {
                let mut c = Vec::with_capacity(REPORT_CHUNK);
                c.push(r);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn to_vec(&self) -> Vec<SignedReport> {
        let mut out = Vec::with_capacity(self.len);
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        assert_eq!(out.len(), self.len, "the count follows the pushes");
        out
    }
}

/// Point lookups by a key (a report id, a device) that are never iterated: foldhash with a
/// per-process random seed, several times faster than SipHash on 32-byte keys.
#[allow(clippy::disallowed_types)] // lookups only, never iterated into anything ordered
pub(crate) type Lookup<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Shards of the report-status table.
pub const STATUS_SHARDS: usize = 256;

/// Report statuses by id, in [`STATUS_SHARDS`] tables chosen by the id's first byte (ids are
/// SHA-256, so the shards fill evenly). A hash table doubles all at once when full; one table
/// of millions of reports would stop ingest for hundreds of milliseconds while it moved them,
/// a shard stops it for a 256th of that.
pub(crate) struct StatusTable {
    shards: Vec<Lookup<Hash32, ReportStatus>>,
}

impl Default for StatusTable {
    fn default() -> StatusTable {
        StatusTable {
            shards: (0..STATUS_SHARDS).map(|_| Lookup::default()).collect(),
        }
    }
}

impl StatusTable {
    fn shard(&self, id: &Hash32) -> &Lookup<Hash32, ReportStatus> {
        &self.shards[usize::from(id.0[0]) % STATUS_SHARDS]
    }

    fn shard_mut(&mut self, id: &Hash32) -> &mut Lookup<Hash32, ReportStatus> {
        &mut self.shards[usize::from(id.0[0]) % STATUS_SHARDS]
    }

    pub(crate) fn get(&self, id: &Hash32) -> Option<&ReportStatus> {
        self.shard(id).get(id)
    }

    pub(crate) fn entry(
        &mut self,
        id: Hash32,
    ) -> std::collections::hash_map::Entry<'_, Hash32, ReportStatus> {
        self.shard_mut(&id).entry(id)
    }

    pub(crate) fn insert(&mut self, id: Hash32, status: ReportStatus) {
        self.shard_mut(&id).insert(id, status);
    }

    pub(crate) fn remove(&mut self, id: &Hash32) {
        self.shard_mut(id).remove(id);
    }
}

/// Settled epochs whose report statuses stay in memory (served by `GET /v1/reports/{id}`);
/// older ones are dropped as epochs settle, so memory follows recent load, not uptime. Their
/// verdicts stay in each epoch's published `verdicts.bin`.
pub const STATUS_RETAINED_EPOCHS: u64 = 24;

/// Report statuses by epoch: a report's epoch follows from its timestamp, so a replay is
/// always looked for in its own epoch's table.
#[derive(Default)]
pub(crate) struct Statuses {
    by_epoch: BTreeMap<u64, StatusTable>,
}

impl Statuses {
    /// A report's status in any retained epoch (open ones, then the settled ones kept).
    pub(crate) fn get(&self, id: &Hash32) -> Option<&ReportStatus> {
        self.by_epoch.values().rev().find_map(|t| t.get(id))
    }

    pub(crate) fn entry(
        &mut self,
        epoch: u64,
        id: Hash32,
    ) -> std::collections::hash_map::Entry<'_, Hash32, ReportStatus> {
        self.by_epoch.entry(epoch).or_default().entry(id)
    }

    pub(crate) fn insert(&mut self, epoch: u64, id: Hash32, status: ReportStatus) {
        self.by_epoch.entry(epoch).or_default().insert(id, status);
    }

    pub(crate) fn remove(&mut self, epoch: u64, id: &Hash32) {
        if let Some(t) = self.by_epoch.get_mut(&epoch) {
            t.remove(id);
        }
    }

    /// Drops the statuses of every epoch below `epoch`.
    pub(crate) fn forget_below(&mut self, epoch: u64) {
        self.by_epoch = self.by_epoch.split_off(&epoch);
    }

    /// Epochs with statuses in memory.
    #[cfg(test)]
    pub(crate) fn epochs(&self) -> usize {
        self.by_epoch.len()
    }
}

#[derive(Default)]
pub(crate) struct OpenEpoch {
    pub(crate) reports: ReportChunks,
    pub(crate) rejections: BTreeMap<String, u64>,
    pub(crate) in_flight: u64,
}

pub(crate) struct Bucket {
    tokens_milli: u64,
    at_ms: u64,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) status: Statuses,
    pub(crate) open: BTreeMap<u64, OpenEpoch>,
    pub(crate) closed_below: u64,
    pub(crate) buckets: Lookup<PublicKey, Bucket>,
}

pub(crate) struct AppendJob {
    pub(crate) records: Vec<Vec<u8>>,
    pub(crate) done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// The oracle core.
pub struct Core {
    policy: IngestPolicy,
    modules: Vec<Arc<dyn ResourceModule>>,
    inner: Mutex<Inner>,
    /// Registered devices and whether each is active.
    pub(crate) registry: RwLock<Lookup<PublicKey, bool>>,
    pub(crate) writer: SyncSender<AppendJob>,
    pub(crate) batcher: SignatureBatcher,
}

/// What a closing epoch hands to settlement.
pub struct ClosedEpoch {
    /// Acknowledged reports in log order.
    pub reports: Vec<SignedReport>,
    /// Ingest refusals by reason.
    pub rejections: BTreeMap<String, u64>,
}

fn writer_loop(mut log: Log, rx: Receiver<AppendJob>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP_APPENDS {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let all = jobs
            .iter()
            .flat_map(|j| j.records.iter().map(Vec::as_slice));
        let result = log.append_durable(all).map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, "report log append failed");
        }
        for j in jobs {
            let _ = j.done.send(result.clone());
        }
    }
}

impl Core {
    /// Opens the log in `log_dir`, rebuilds the open epochs (epochs below `closed_below` are
    /// settled already) and starts the writer thread and one signature verifier per core.
    ///
    /// Errors: the log's.
    pub fn open(
        log_dir: &std::path::Path,
        policy: IngestPolicy,
        modules: Vec<Arc<dyn ResourceModule>>,
        closed_below: u64,
    ) -> Result<Arc<Core>, LogError> {
        let (log, records) = Log::open(log_dir)?;
        let mut inner = Inner {
            closed_below,
            ..Inner::default()
        };
        for raw in records {
            let rec = LogRecord::try_from_slice(&raw).map_err(|e| LogError::Corrupt {
                path: log_dir.to_path_buf(),
                offset: 0,
                reason: format!("undecodable record: {e}"),
            })?;
            inner.replay(rec);
        }
        let (tx, rx) = sync_channel(MAX_PENDING_APPENDS);
        std::thread::Builder::new()
            .name("oracle-log".into())
            .spawn(move || writer_loop(log, rx))
            .map_err(|source| LogError::Io {
                path: log_dir.to_path_buf(),
                source,
            })?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let batcher = SignatureBatcher::start(cores).map_err(|source| LogError::Io {
            path: log_dir.to_path_buf(),
            source,
        })?;
        let core = Core {
            policy,
            modules,
            inner: Mutex::new(inner),
            registry: RwLock::default(),
            writer: tx,
            batcher,
        };
        Ok(Arc::new(core))
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ingest policy.
    pub fn policy(&self) -> &IngestPolicy {
        &self.policy
    }

    /// The registered modules.
    pub fn modules(&self) -> &[Arc<dyn ResourceModule>] {
        &self.modules
    }

    /// Replaces the cached device registry (refreshed from the node).
    pub fn set_registry(&self, devices: BTreeMap<PublicKey, DeviceInfo>) {
        let devices = devices.into_iter().map(|(k, d)| (k, d.active)).collect();
        *self
            .registry
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = devices;
    }

    /// The lowest epoch still open.
    pub fn closed_below(&self) -> u64 {
        self.lock().closed_below
    }

    /// A report's status.
    pub fn status(&self, id: &Hash32) -> Option<ReportStatus> {
        self.lock().status.get(id).cloned()
    }

    /// Closes `epoch` (the lowest open one) to new reports and, once no append for it is in
    /// flight, copies its reports (kept until [`Core::forget_epoch`], so a failed settlement
    /// can be retried), sorted canonically by (timestamp, id) so that the order does
    /// not depend on how concurrent appends interleaved. `None` while appends are in flight
    /// (call again).
    ///
    /// # Panics
    /// If `epoch` is not the lowest open epoch (a runner bug).
    pub fn take_epoch(&self, epoch: u64) -> Option<ClosedEpoch> {
        let mut g = self.lock();
        assert!(
            epoch == g.closed_below || epoch + 1 == g.closed_below,
            "epochs close in order"
        );
        g.closed_below = epoch + 1;
        if g.open.get(&epoch).is_some_and(|o| o.in_flight > 0) {
            return None;
        }
        let o = g.open.get(&epoch);
        let mut reports = o.map(|o| o.reports.to_vec()).unwrap_or_default();
        let rejections = o.map(|o| o.rejections.clone()).unwrap_or_default();
        reports.sort_by_cached_key(|r| (r.report.timestamp_ms, r.id()));
        Some(ClosedEpoch {
            reports,
            rejections,
        })
    }

    /// Drops a settled epoch's reports from memory (they are published and in the log).
    pub fn forget_epoch(&self, epoch: u64) {
        self.lock().open.remove(&epoch);
    }

    /// Records the verdicts of a settled epoch (served by `GET /v1/reports/{id}`), oldest
    /// first when several are reloaded.
    ///
    /// Statuses of epochs more than [`STATUS_RETAINED_EPOCHS`] below `epoch` are dropped.
    pub fn record_verdicts(&self, epoch: u64, verdicts: &ReportVerdicts) {
        let mut g = self.lock();
        for (id, verdict) in verdicts.iter() {
            g.status
                .insert(epoch, *id, ReportStatus::Settled { epoch, verdict });
        }
        g.status
            .forget_below((epoch + 1).saturating_sub(STATUS_RETAINED_EPOCHS));
    }

    /// Counts a refusal made before a report could be decoded (e.g. an oversized body) in
    /// the current epoch, durably (best effort: a failed append only loses the count).
    pub async fn count_refusal(&self, r: &Refusal, now_ms: u64) {
        let epoch = self.policy.clock().epoch_at(now_ms).unwrap_or(0);
        let rec = LogRecord::Rejections {
            epoch,
            counts: vec![(r.code.to_string(), 1)],
        };
        let (done, wait) = tokio::sync::oneshot::channel();
        let records = vec![borsh::to_vec(&rec).expect("writing to a Vec cannot fail")];
        if self.writer.send(AppendJob { records, done }).is_ok() && matches!(wait.await, Ok(Ok(())))
        {
            let mut g = self.lock();
            if epoch >= g.closed_below {
                *g.open
                    .entry(epoch)
                    .or_default()
                    .rejections
                    .entry(r.code.to_string())
                    .or_insert(0) += 1;
            }
        }
    }

    /// Acknowledged reports per open epoch.
    pub fn open_counts(&self) -> BTreeMap<u64, usize> {
        self.lock()
            .open
            .iter()
            .map(|(e, o)| (*e, o.reports.len()))
            .collect()
    }
}

impl Inner {
    fn replay(&mut self, rec: LogRecord) {
        match rec {
            LogRecord::Report { epoch, report } if epoch >= self.closed_below => {
                self.status
                    .insert(epoch, report.id(), ReportStatus::Accepted { epoch });
                self.open.entry(epoch).or_default().reports.push(report);
            }
            LogRecord::Rejections { epoch, counts } if epoch >= self.closed_below => {
                let o = self.open.entry(epoch).or_default();
                for (code, n) in counts {
                    *o.rejections.entry(code).or_insert(0) += n;
                }
            }
            _ => {}
        }
    }
}

/// Takes one token from `device`'s bucket.
pub(crate) fn take_token(
    buckets: &mut Lookup<PublicKey, Bucket>,
    p: &IngestPolicy,
    device: PublicKey,
    now_ms: u64,
) -> bool {
    let cap = u64::from(p.rate_burst) * 1_000;
    let b = buckets.entry(device).or_insert(Bucket {
        tokens_milli: cap,
        at_ms: now_ms,
    });
    let refill = now_ms.saturating_sub(b.at_ms) * u64::from(p.rate_per_minute) / 60;
    b.tokens_milli = (b.tokens_milli + refill).min(cap);
    b.at_ms = now_ms;
    if b.tokens_milli < 1_000 {
        return false;
    }
    b.tokens_milli -= 1_000;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_table_finds_each_id_in_its_shard_and_refuses_a_second_entry() {
        let mut t = StatusTable::default();
        let ids: Vec<Hash32> = (0u32..2_000)
            .map(|i| Hash32::digest(&i.to_le_bytes()))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let std::collections::hash_map::Entry::Vacant(v) = t.entry(*id) else {
                panic!("id {i} is new");
            };
            v.insert(ReportStatus::Accepted { epoch: i as u64 });
        }
        assert!(t.shards.iter().filter(|s| !s.is_empty()).count() > STATUS_SHARDS / 2);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(t.get(id), Some(&ReportStatus::Accepted { epoch: i as u64 }));
            assert!(matches!(
                t.entry(*id),
                std::collections::hash_map::Entry::Occupied(_)
            ));
        }
        t.remove(&ids[7]);
        assert_eq!(t.get(&ids[7]), None);
        t.insert(ids[7], ReportStatus::Accepted { epoch: 9 });
        assert_eq!(t.get(&ids[7]), Some(&ReportStatus::Accepted { epoch: 9 }));
    }

    #[test]
    fn settled_statuses_are_kept_for_the_retained_epochs_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = IngestPolicy {
            chain_id: "t".into(),
            genesis_time_ms: 0,
            epoch_length_ms: 1_000,
            max_skew_ms: 1_000,
            rate_burst: 1,
            rate_per_minute: 1,
        };
        let core = Core::open(dir.path(), policy, Vec::new(), 0).expect("log opens");
        let id = |e: u64| Hash32::digest(&e.to_le_bytes());
        let last = STATUS_RETAINED_EPOCHS * 3;
        for e in 0..=last {
            let v = depin_module::Verdicts::filled(1, &Verdict::Valid);
            let rv = ReportVerdicts::new(vec![id(e)], v).expect("one verdict, one id");
            core.record_verdicts(e, &rv);
        }
        let settled = |e: u64| ReportStatus::Settled {
            epoch: e,
            verdict: Verdict::Valid,
        };
        let first_kept = last + 1 - STATUS_RETAINED_EPOCHS;
        assert_eq!(core.status(&id(last)), Some(settled(last)));
        assert_eq!(core.status(&id(first_kept)), Some(settled(first_kept)));
        assert_eq!(core.status(&id(first_kept - 1)), None);
        assert_eq!(core.status(&id(0)), None);
        assert_eq!(
            core.lock().status.epochs() as u64,
            STATUS_RETAINED_EPOCHS,
            "memory follows the retained epochs, not the uptime"
        );
    }

    #[test]
    fn report_chunks_keep_append_order_across_chunks() {
        let k = depin_types::SecretKey::from_seed([3; 32]);
        let mut c = ReportChunks::default();
        let n = REPORT_CHUNK * 2 + 5;
        for i in 0..n {
            let r = depin_types::Report {
                chain_id: "t".into(),
                module: "probe".into(),
                device: k.public(),
                timestamp_ms: i as u64,
                payload: vec![],
            };
            c.push(SignedReport {
                report: r,
                signature: depin_types::Signature([0; 64]),
            });
        }
        assert_eq!((c.len(), c.chunks.len()), (n, 3));
        let v = c.to_vec();
        assert!(v
            .iter()
            .enumerate()
            .all(|(i, r)| r.report.timestamp_ms == i as u64));
    }
}
