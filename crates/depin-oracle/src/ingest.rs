//! The ingest path: stateless checks, batch signature verification (shared with concurrent
//! requests, [`crate::batcher`]), dedup and rate limits
//! under one lock, then a durable append; only then the acknowledgement.
//!
//! Reason codes: `report_too_large`, `malformed_report`, `wrong_chain_id`, `unknown_module`,
//! the module's payload code (e.g. `malformed_payload`), `out_of_window` (timestamp too far
//! from the oracle's clock, before genesis, or in an epoch already closed), `unknown_device`,
//! `inactive_device`, `invalid_signature`, `duplicate_report` (a replay of an acknowledged
//! report), `rate_limited`, `log_unavailable` (the append failed; nothing was acknowledged),
//! `verifier_unavailable` (the signature verifiers stopped: the oracle is shutting down).

use crate::batcher::Signed;
use crate::core::{Ack, Core, LogRecord, Lookup, Refusal, ReportStatus, MAX_REPORT_BYTES};
use depin_types::{PublicKey, SignedReport};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A report past the prechecks: the report, its epoch, its id and its signing bytes
/// (computed once, for both the id and the signature check).
struct Pre {
    sr: SignedReport,
    epoch: u64,
    id: depin_types::Hash32,
    msg: Vec<u8>,
}

type Checked = Result<Pre, Refusal>;

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

impl Core {
    /// Stateless and registry checks of one encoded report.
    fn precheck(&self, registry: &Lookup<PublicKey, bool>, bytes: &[u8], now_ms: u64) -> Checked {
        if bytes.len() > MAX_REPORT_BYTES {
            return Err(refuse(
                "report_too_large",
                format!("{} bytes, limit {MAX_REPORT_BYTES}", bytes.len()),
            ));
        }
        let (sr, msg) = SignedReport::decode_signed(bytes)
            .map_err(|e| refuse("malformed_report", e.to_string()))?;
        let r = &sr.report;
        let p = self.policy();
        if r.chain_id != p.chain_id {
            return Err(refuse(
                "wrong_chain_id",
                format!("report is for {:?}", r.chain_id),
            ));
        }
        let module = self.modules().iter().find(|m| m.name() == r.module);
        let module =
            module.ok_or_else(|| refuse("unknown_module", format!("no module {:?}", r.module)))?;
        if r.payload.len() > module.max_payload_bytes() {
            let (len, max) = (r.payload.len(), module.max_payload_bytes());
            let msg = format!("payload of {len} bytes, module {} allows {max}", r.module);
            return Err(refuse("report_too_large", msg));
        }
        module
            .check_payload(&r.payload)
            .map_err(|e| refuse(e.code, e.message))?;
        if r.timestamp_ms.abs_diff(now_ms) > p.max_skew_ms {
            let msg = format!(
                "timestamp {} is more than {} ms from {now_ms}",
                r.timestamp_ms, p.max_skew_ms
            );
            return Err(refuse("out_of_window", msg));
        }
        let epoch = p
            .clock()
            .epoch_at(r.timestamp_ms)
            .ok_or_else(|| refuse("out_of_window", "before genesis"))?;
        let active = registry.get(&r.device).ok_or_else(|| {
            refuse(
                "unknown_device",
                format!("device {} is not registered", r.device),
            )
        })?;
        if !active {
            return Err(refuse(
                "inactive_device",
                format!("device {} is inactive", r.device),
            ));
        }
        let id = depin_types::Hash32::digest(&msg);
        Ok(Pre { sr, epoch, id, msg })
    }

    /// Ingests encoded reports; one result per item, in order. Accepted ones are durable
    /// when this returns.
    pub async fn ingest(
        self: &Arc<Self>,
        items: Vec<Vec<u8>>,
        now_ms: u64,
    ) -> Vec<Result<Ack, Refusal>> {
        let checked: Vec<Checked> = {
            let registry = self
                .registry
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            items
                .iter()
                .map(|b| self.precheck(&registry, b, now_ms))
                .collect()
        };
        let checked = verify_signatures(self, checked).await;
        let fallback_epoch = self.policy().clock().epoch_at(now_ms).unwrap_or(0);
        let (results, pending, counts) = self.admit(checked, now_ms, fallback_epoch);
        let mut records: Vec<Vec<u8>> = pending
            .iter()
            .map(|(e, r)| LogRecord::encode_report(*e, r))
            .collect();
        for (epoch, c) in &counts {
            let counts = c.iter().map(|(k, v)| (k.clone(), *v)).collect();
            let rec = LogRecord::Rejections {
                epoch: *epoch,
                counts,
            };
            records.push(borsh::to_vec(&rec).expect("writing to a Vec cannot fail"));
        }
        if records.is_empty() {
            return results;
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        let sent = self
            .writer
            .send(crate::core::AppendJob { records, done })
            .is_ok();
        // The reports are reserved: they must be made part of their epochs (or released)
        // even if this request's future is dropped (its client hung up), or their epoch would
        // wait forever for appends in flight. A task of its own finishes them.
        let core = Arc::clone(self);
        let finishing = tokio::spawn(async move {
            let durable = sent && matches!(wait.await, Ok(Ok(())));
            core.finish(pending, &counts, durable);
            durable
        });
        let durable = finishing.await.unwrap_or(false);
        if durable {
            return results;
        }
        let fail = || {
            Err(refuse(
                "log_unavailable",
                "the report log could not be written",
            ))
        };
        results
            .into_iter()
            .map(|r| r.and_then(|_| fail()))
            .collect()
    }

    /// Dedup, epoch and rate checks under the lock; reserves the accepted ones.
    #[allow(clippy::type_complexity)] // a private triple, named at its one call site
    fn admit(
        &self,
        checked: Vec<Checked>,
        now_ms: u64,
        fallback_epoch: u64,
    ) -> (
        Vec<Result<Ack, Refusal>>,
        Vec<(u64, SignedReport)>,
        BTreeMap<u64, BTreeMap<String, u64>>,
    ) {
        let mut g = self.lock();
        let mut counts: BTreeMap<u64, BTreeMap<String, u64>> = BTreeMap::new();
        let (mut results, mut pending) = (Vec::with_capacity(checked.len()), Vec::new());
        for c in checked {
            let r = c
                .map_err(|e| (e, None))
                .and_then(|p| g.reserve(self.policy(), p.sr, p.id, p.epoch, now_ms));
            match r {
                Ok((ack, sr)) => {
                    pending.push((ack.epoch, sr));
                    results.push(Ok(ack));
                }
                Err((refusal, epoch)) => {
                    let e = epoch.unwrap_or(fallback_epoch);
                    *counts
                        .entry(e)
                        .or_default()
                        .entry(refusal.code.to_string())
                        .or_insert(0) += 1;
                    results.push(Err(refusal));
                }
            }
        }
        (results, pending, counts)
    }

    /// After the append: makes the reports part of their epochs (or releases them).
    fn finish(
        &self,
        pending: Vec<(u64, SignedReport)>,
        counts: &BTreeMap<u64, BTreeMap<String, u64>>,
        durable: bool,
    ) {
        let mut g = self.lock();
        for (epoch, sr) in pending {
            if !durable {
                g.status.remove(epoch, &sr.id());
            }
            let o = g.open.entry(epoch).or_default();
            assert!(o.in_flight > 0, "every pending report was reserved");
            o.in_flight -= 1;
            if durable {
                o.reports.push(sr);
            }
        }
        if durable {
            for (epoch, c) in counts {
                let o = g.open.entry(*epoch).or_default();
                for (code, n) in c {
                    *o.rejections.entry(code.clone()).or_insert(0) += n;
                }
            }
        }
    }
}

/// Checks the signatures of every report that passed the prechecks through the core's
/// [`crate::batcher::SignatureBatcher`] (batched with concurrent requests' signatures); a bad
/// one becomes `invalid_signature`. If the verifiers are gone (shutdown), the reports are
/// refused as `verifier_unavailable`: nothing unchecked is acknowledged.
async fn verify_signatures(core: &Core, mut checked: Vec<Checked>) -> Vec<Checked> {
    let idx: Vec<usize> = (0..checked.len()).filter(|&i| checked[i].is_ok()).collect();
    let items: Vec<Signed> = checked
        .iter_mut()
        .filter_map(|c| c.as_mut().ok())
        .map(|p| Signed {
            key: p.sr.report.device,
            msg: std::mem::take(&mut p.msg),
            sig: p.sr.signature,
        })
        .collect();
    let verdicts = core.batcher.verify(items).await;
    for (k, &i) in idx.iter().enumerate() {
        let refusal = match &verdicts {
            Ok(v) if v[k] => continue,
            Ok(_) => refuse("invalid_signature", "report signature does not verify"),
            Err(e) => refuse("verifier_unavailable", e.to_string()),
        };
        checked[i] = Err(refusal);
    }
    checked
}

impl crate::core::Inner {
    fn reserve(
        &mut self,
        p: &crate::core::IngestPolicy,
        sr: SignedReport,
        id: depin_types::Hash32,
        epoch: u64,
        now_ms: u64,
    ) -> Result<(Ack, SignedReport), (Refusal, Option<u64>)> {
        if epoch < self.closed_below {
            return Err((
                refuse("out_of_window", format!("epoch {epoch} is closed")),
                Some(epoch),
            ));
        }
        // One probe of the (large) status table for both the dedup check and the insert.
        let std::collections::hash_map::Entry::Vacant(slot) = self.status.entry(epoch, id) else {
            return Err((
                refuse(
                    "duplicate_report",
                    format!("report {id} was already acknowledged"),
                ),
                Some(epoch),
            ));
        };
        if !crate::core::take_token(&mut self.buckets, p, sr.report.device, now_ms) {
            let msg = format!(
                "device {} is over {} reports per minute",
                sr.report.device, p.rate_per_minute
            );
            return Err((refuse("rate_limited", msg), Some(epoch)));
        }
        slot.insert(ReportStatus::Accepted { epoch });
        self.open.entry(epoch).or_default().in_flight += 1;
        Ok((Ack { id, epoch }, sr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::IngestPolicy;
    use depin_module::DeviceInfo;
    use depin_types::{Report, SecretKey};
    use std::future::Future;
    use std::task::{Context, Waker};

    const NOW_MS: u64 = 1_000_000;

    fn core(dir: &std::path::Path, key: &SecretKey) -> Arc<Core> {
        let policy = IngestPolicy {
            chain_id: "t".into(),
            genesis_time_ms: 0,
            epoch_length_ms: 10_000_000,
            max_skew_ms: 60_000,
            rate_burst: 1_000,
            rate_per_minute: 1_000,
        };
        let modules: Vec<Arc<dyn depin_module::ResourceModule>> =
            vec![Arc::new(depin_module::testkit::Probe)];
        let core = Core::open(dir, policy, modules, 0).expect("log opens");
        let d = DeviceInfo {
            device: key.public(),
            owner: key.public(),
            class: depin_module::testkit::PROBE_CLASS.into(),
            location: None,
            antenna: None,
            active: true,
        };
        core.set_registry([(key.public(), d)].into_iter().collect());
        core
    }

    fn report(key: &SecretKey, i: u64) -> Vec<u8> {
        let r = Report {
            chain_id: "t".into(),
            module: depin_module::testkit::PROBE.into(),
            device: key.public(),
            timestamp_ms: NOW_MS + i,
            payload: vec![],
        };
        r.sign(key).to_bytes()
    }

    fn in_flight(core: &Core) -> u64 {
        core.lock().open.get(&0).map_or(0, |o| o.in_flight)
    }

    /// Polls a request's future until its reports are reserved (appends in flight), then
    /// drops it, as hyper does when a client hangs up. `false` if it finished first.
    async fn drop_while_appending(core: &Arc<Core>, items: Vec<Vec<u8>>) -> bool {
        let mut fut = Box::pin(core.ingest(items, NOW_MS));
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..100_000 {
            if fut.as_mut().poll(&mut cx).is_ready() {
                return false;
            }
            if in_flight(core) > 0 {
                return true;
            }
            tokio::task::yield_now().await;
        }
        false
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_dropped_while_its_reports_are_appended_still_lets_the_epoch_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = SecretKey::from_seed([9; 32]);
        let core = core(dir.path(), &key);
        let mut caught = false;
        for attempt in 0..20 {
            let items = (0..64).map(|i| report(&key, attempt * 64 + i)).collect();
            if drop_while_appending(&core, items).await {
                caught = true;
                break;
            }
        }
        assert!(caught, "no request was caught with appends in flight");
        for _ in 0..1_000 {
            if in_flight(&core) == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(
            in_flight(&core),
            0,
            "the dropped request's reports were finished"
        );
        let closed = core.take_epoch(0).expect("no appends in flight");
        assert_eq!(
            closed.reports.len() % 64,
            0,
            "whole requests, acknowledged or not"
        );
        assert!(!closed.reports.is_empty());
    }
}
