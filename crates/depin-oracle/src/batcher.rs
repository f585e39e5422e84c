//! Signature verification shared by concurrent ingest requests.
//!
//! Each request hands its reports' signatures to the [`SignatureBatcher`] as a job and waits.
//! One verifier thread per core takes the queued jobs and checks their signatures as one
//! ed25519 batch (`ed25519-consensus`, ZIP-215). Nothing waits on a timer: an idle verifier
//! starts on a job at once, so a lone request is verified as soon as it arrives; under load,
//! jobs queue while the verifiers are busy and the next batch takes all of them, so many
//! small requests (a gateway's 32 reports) are verified at the rate of large batches. This is
//! the group commit of signature checking, as the report log's writer is for fsync.
//!
//! A failed shared batch does not make everyone's signatures fall back to one-by-one checks:
//! each job of the batch is then checked as its own batch, and only a job that fails that too
//! is checked signature by signature. One bad report costs its own request, not its
//! neighbours'.
//!
//! Bounds: a shared batch holds at most [`MAX_SHARED_BATCH`] signatures (a request's larger
//! job is cut into jobs of that size, which the verifiers take in parallel), and at most
//! [`MAX_QUEUED_SIGNATURES`] are queued or being verified; a request beyond that waits for
//! room (backpressure on the HTTP ingest).

use depin_types::{verify_batch, PublicKey, Signature};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Signatures in one shared batch, at most (the batch size past which ed25519's
/// multi-scalar multiplication gains little: `bench ingest` prints the raw rate at 1,024,
/// 4,096 and 16,384).
pub const MAX_SHARED_BATCH: usize = 4_096;
/// Signatures queued or being verified, at most; a submitter waits beyond this.
pub const MAX_QUEUED_SIGNATURES: usize = 65_536;
/// Verifier threads, at most (one per core is started, up to this).
pub const MAX_VERIFIER_THREADS: usize = 64;

/// Why signatures could not be checked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatcherError {
    /// The verifier threads are gone (the oracle is shutting down); nothing was checked.
    #[error("signature verifiers stopped")]
    Stopped,
}

/// One signature to check. The message is owned so that it can travel to a verifier thread
/// without a copy.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The signer's key.
    pub key: PublicKey,
    /// The signed bytes.
    pub msg: Vec<u8>,
    /// The signature.
    pub sig: Signature,
}

impl Signed {
    fn triple(&self) -> (&[u8; 32], &[u8; 64], &[u8]) {
        (&self.key.0, &self.sig.0, &self.msg)
    }
}

/// A request's signatures (at most [`MAX_SHARED_BATCH`]) and where its verdicts go.
struct Job {
    items: Vec<Signed>,
    done: oneshot::Sender<Vec<bool>>,
    /// Room in the queue, given back when the job is dropped after its reply.
    _room: OwnedSemaphorePermit,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Signatures in `jobs`.
    queued: usize,
    /// Verifier threads waiting for work.
    idle: usize,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The verifier threads and their queue. Dropping it stops the threads once the queued jobs
/// are done.
pub struct SignatureBatcher {
    shared: Arc<Shared>,
    room: Arc<Semaphore>,
}

impl SignatureBatcher {
    /// Starts `threads` verifier threads (clamped to 1..=[`MAX_VERIFIER_THREADS`]).
    ///
    /// Errors: the operating system refused a thread.
    pub fn start(threads: usize) -> std::io::Result<SignatureBatcher> {
        let shared = Arc::new(Shared::default());
        for i in 0..threads.clamp(1, MAX_VERIFIER_THREADS) {
            let s = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("oracle-verify-{i}"))
                .spawn(move || verifier_loop(&s))?;
        }
        let room = Arc::new(Semaphore::new(MAX_QUEUED_SIGNATURES));
        Ok(SignatureBatcher { shared, room })
    }

    /// Checks every signature; the verdicts (`true` = valid) are in order.
    ///
    /// Errors: [`BatcherError::Stopped`] if the verifiers are gone.
    pub async fn verify(&self, items: Vec<Signed>) -> Result<Vec<bool>, BatcherError> {
        let n = items.len();
        let mut waits = Vec::with_capacity(n.div_ceil(MAX_SHARED_BATCH));
        let mut rest = items;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(MAX_SHARED_BATCH));
            waits.push(self.submit(rest).await?);
            rest = tail;
        }
        let mut verdicts = Vec::with_capacity(n);
        for w in waits {
            verdicts.extend(w.await.map_err(|_| BatcherError::Stopped)?);
        }
        assert_eq!(verdicts.len(), n, "one verdict per signature");
        Ok(verdicts)
    }

    /// Queues one job of at most [`MAX_SHARED_BATCH`] signatures once there is room.
    async fn submit(
        &self,
        items: Vec<Signed>,
    ) -> Result<oneshot::Receiver<Vec<bool>>, BatcherError> {
        assert!(
            items.len() <= MAX_SHARED_BATCH,
            "jobs are cut to batch size"
        );
        let permits = u32::try_from(items.len()).expect("a job is at most MAX_SHARED_BATCH");
        let room = Arc::clone(&self.room)
            .acquire_many_owned(permits)
            .await
            .map_err(|_| BatcherError::Stopped)?;
        let (done, wait) = oneshot::channel();
        let mut q = self.shared.lock();
        if q.closed {
            return Err(BatcherError::Stopped);
        }
        q.queued += items.len();
        q.jobs.push_back(Job {
            items,
            done,
            _room: room,
        });
        drop(q);
        self.shared.ready.notify_one();
        Ok(wait)
    }
}

impl Drop for SignatureBatcher {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
        self.room.close();
    }
}

fn verifier_loop(shared: &Shared) {
    while let Some(jobs) = take(shared) {
        let verdicts = check(&jobs);
        for (job, v) in jobs.into_iter().zip(verdicts) {
            // The requester may have gone away (its connection closed); nothing to tell.
            let _ = job.done.send(v);
        }
    }
}

/// Waits for jobs and takes this verifier's share of the queue: all of it when the other
/// verifiers are busy, an even part when some wait idle (they are woken for the rest), never
/// more than [`MAX_SHARED_BATCH`] signatures. `None` once the batcher is dropped and the
/// queue is empty.
fn take(shared: &Shared) -> Option<Vec<Job>> {
    let mut q = shared.lock();
    while q.jobs.is_empty() {
        if q.closed {
            return None;
        }
        q.idle += 1;
        q = shared.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
        q.idle -= 1;
    }
    let jobs = take_share(&mut q);
    if !q.jobs.is_empty() && q.idle > 0 {
        shared.ready.notify_one();
    }
    Some(jobs)
}

/// The jobs one verifier takes from a non-empty queue (see [`take`]).
fn take_share(q: &mut Queue) -> Vec<Job> {
    assert!(
        !q.jobs.is_empty(),
        "a share is taken from a non-empty queue"
    );
    let share = q.queued.div_ceil(q.idle + 1).clamp(1, MAX_SHARED_BATCH);
    let mut taken: Vec<Job> = Vec::new();
    let mut n = 0;
    while let Some(next) = q.jobs.front() {
        if !taken.is_empty() && n + next.items.len() > share {
            break;
        }
        n += next.items.len();
        taken.extend(q.jobs.pop_front());
    }
    assert!(n <= MAX_SHARED_BATCH, "a shared batch is bounded");
    q.queued -= n;
    taken
}

/// Verdicts for each job's signatures: one shared batch; if it fails, each job as its own
/// batch; a job that fails that too, signature by signature.
fn check(jobs: &[Job]) -> Vec<Vec<bool>> {
    let all = jobs.iter().flat_map(|j| j.items.iter().map(Signed::triple));
    if verify_batch(all).is_ok() {
        return jobs.iter().map(|j| vec![true; j.items.len()]).collect();
    }
    jobs.iter()
        .map(|j| check_alone(&j.items, jobs.len() > 1))
        .collect()
}

/// One job's verdicts after its shared batch failed; `batch_first` when the job was not the
/// whole failed batch (so a batch of its own may still pass).
fn check_alone(items: &[Signed], batch_first: bool) -> Vec<bool> {
    if batch_first && items.len() > 1 && verify_batch(items.iter().map(Signed::triple)).is_ok() {
        return vec![true; items.len()];
    }
    items
        .iter()
        .map(|s| s.key.verify(&s.msg, &s.sig).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_types::SecretKey;

    fn signed(i: usize, bad: bool) -> Signed {
        let sk = SecretKey::from_seed([(i % 251) as u8 + 1; 32]);
        let msg = format!("report {i}").into_bytes();
        let mut sig = sk.sign(&msg);
        if bad {
            sig.0[5] ^= 1;
        }
        Signed {
            key: sk.public(),
            msg,
            sig,
        }
    }

    fn job(items: Vec<Signed>) -> (Job, oneshot::Receiver<Vec<bool>>) {
        let (done, wait) = oneshot::channel();
        let room = Arc::new(Semaphore::new(MAX_SHARED_BATCH))
            .try_acquire_many_owned(1)
            .expect("a fresh semaphore has room");
        (
            Job {
                items,
                done,
                _room: room,
            },
            wait,
        )
    }

    #[test]
    fn one_bad_signature_fails_only_its_own_job_of_a_shared_batch() {
        let good = job((0..20).map(|i| signed(i, false)).collect()).0;
        let bad = job((20..40).map(|i| signed(i, i == 33)).collect()).0;
        let also_good = job((40..45).map(|i| signed(i, false)).collect()).0;
        let verdicts = check(&[good, bad, also_good]);
        assert_eq!(verdicts[0], vec![true; 20]);
        assert_eq!(verdicts[2], vec![true; 5]);
        let bad_at: Vec<usize> = (0..20).filter(|&i| !verdicts[1][i]).collect();
        assert_eq!(bad_at, vec![13]);
    }

    #[test]
    fn a_busy_verifier_takes_the_whole_queue_and_an_idle_one_shares_it() {
        let mut q = Queue::default();
        for _ in 0..4 {
            let (j, _) = job((0..1_000).map(|i| signed(i, false)).collect());
            q.queued += j.items.len();
            q.jobs.push_back(j);
        }
        q.idle = 1;
        let first = take_share(&mut q);
        assert_eq!(
            first.len(),
            2,
            "half the queue when one other verifier is idle"
        );
        q.idle = 0;
        let second = take_share(&mut q);
        assert_eq!(second.len(), 2, "the rest when the others are busy");
        assert_eq!((q.queued, q.jobs.len()), (0, 0));
    }

    #[test]
    fn a_shared_batch_never_exceeds_its_bound() {
        let mut q = Queue::default();
        for _ in 0..3 {
            let (j, _) = job((0..3_000).map(|i| signed(i, false)).collect());
            q.queued += j.items.len();
            q.jobs.push_back(j);
        }
        let first = take_share(&mut q);
        assert_eq!(first.len(), 1, "3,000 + 3,000 is over {MAX_SHARED_BATCH}");
        assert_eq!(q.queued, 6_000);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_get_their_own_verdicts_in_order() {
        let b = Arc::new(SignatureBatcher::start(2).expect("threads"));
        let mut set = tokio::task::JoinSet::new();
        for r in 0..16usize {
            let b = Arc::clone(&b);
            set.spawn(async move {
                let n = 1 + r * 700;
                let items: Vec<Signed> = (0..n).map(|i| signed(i, i % 997 == r)).collect();
                let v = b.verify(items).await.expect("verifiers run");
                let expect: Vec<bool> = (0..n).map(|i| i % 997 != r).collect();
                assert_eq!(v, expect, "request {r}");
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("request task");
        }
    }

    #[tokio::test]
    async fn a_dropped_batcher_refuses_new_work() {
        let b = SignatureBatcher::start(1).expect("threads");
        let shared = Arc::clone(&b.shared);
        drop(b);
        assert!(shared.lock().closed);
        let again = SignatureBatcher {
            shared,
            room: Arc::new(Semaphore::new(1)),
        };
        assert_eq!(
            again.verify(vec![signed(1, false)]).await,
            Err(BatcherError::Stopped)
        );
    }
}
