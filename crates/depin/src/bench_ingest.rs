//! `depin bench ingest`: the oracle's ingest path under load.
//!
//! The raw ceiling is the same signatures batch-verified on all cores, at the best of a few
//! batch sizes (measured first).
//!
//! Phase 1 (throughput), `--rounds` times with fresh reports: `SUBMITTERS` clients send
//! pre-encoded batches of distinct-device reports as fast as acknowledgements come back; a
//! round's rate = reports acknowledged (verified and fsync'd) / wall time, and its ceiling is
//! the better of the raw rates measured right before and right after it (at the best batch
//! size). On a shared host the speed drifts by 10–20 % over seconds, so each round is
//! compared with the ceiling of its own moment; `reports_per_s`, `verify_per_s` and `ratio`
//! are the median round's.
//!
//! Phase 2 (latency): fresh reports sent open-loop at half the median round's rate in small
//! batches, each request timed from its scheduled send to its reply; `p99_ack_ms` is the
//! 99th percentile.

use crate::bench::{
    cores, cpu_seconds, raw_best_batch, raw_verify_at, seed, sign_on_all_cores, SignedItem,
};
use anyhow::{bail, Context, Result};
use depin_client::OracleClient;
use depin_module::DeviceInfo;
use depin_oracle::api::{spawn, OracleApi};
use depin_oracle::publish::Published;
use depin_oracle::{Core, IngestPolicy};
use depin_types::wall_clock_ms;
use depin_types::{PublicKey, Report, SecretKey, SignedReport};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const CHAIN: &str = "bench";
/// Concurrent clients in the throughput phase.
const SUBMITTERS: usize = 4;
/// Length of the latency phase.
const LATENCY_PHASE: Duration = Duration::from_secs(4);

/// `bench ingest` options.
#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Reports in the throughput phase (enough for several seconds of load: short runs are
    /// at the mercy of a shared machine's hiccups).
    #[arg(long, default_value_t = 600_000)]
    pub reports: usize,
    /// Reporting devices (each batch holds distinct devices).
    #[arg(long, default_value_t = 20_000)]
    pub devices: usize,
    /// Reports per request in the throughput phase.
    #[arg(long, default_value_t = 1_024)]
    pub batch: usize,
    /// Reports per request in the latency phase (a gateway forwarding its devices' reports).
    #[arg(long, default_value_t = 32)]
    pub latency_batch: usize,
    /// Throughput rounds (fresh reports each), each between two raw verify measurements; the
    /// median round's ratio counts, so that a slow spell of a shared host during one round or
    /// one measurement does not decide it.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

fn sign_reports(keys: &[SecretKey], n: usize, first_seq: usize, t0_ms: u64) -> Vec<SignedReport> {
    sign_on_all_cores(n, |i| {
        let k = &keys[i % keys.len()];
        let seq = (first_seq + i) as u64;
        let r = Report {
            chain_id: CHAIN.into(),
            module: depin_module_heartbeat::NAME.into(),
            device: k.public(),
            timestamp_ms: t0_ms + seq / keys.len() as u64,
            payload: vec![],
        };
        r.sign(k)
    })
}

async fn start_ingest(dir: &std::path::Path, keys: &[SecretKey]) -> Result<std::net::SocketAddr> {
    let policy = IngestPolicy {
        chain_id: CHAIN.into(),
        genesis_time_ms: 0,
        epoch_length_ms: 86_400_000,
        max_skew_ms: 3_600_000,
        rate_burst: u32::MAX / 1_000,
        rate_per_minute: u32::MAX / 1_000,
    };
    let core = Core::open(&dir.join("log"), policy, crate::modules::registry(), 0)?;
    let devices: BTreeMap<PublicKey, DeviceInfo> = keys
        .iter()
        .map(|k| {
            let d = DeviceInfo {
                device: k.public(),
                owner: k.public(),
                class: depin_module_heartbeat::CLASS.into(),
                location: None,
                antenna: None,
                active: true,
            };
            (k.public(), d)
        })
        .collect();
    core.set_registry(devices);
    let api = OracleApi {
        core: Some(core),
        published: Published::new(&dir.join("published")),
        clock: wall_clock_ms,
        metrics: None,
    };
    Ok(spawn(api, "127.0.0.1:0", 64 * 1024 * 1024).await?)
}

fn encode(reports: &[SignedReport], batch: usize) -> Vec<(Vec<u8>, usize)> {
    reports
        .chunks(batch.max(1))
        .map(|c| {
            let items: Vec<Vec<u8>> = c.iter().map(SignedReport::to_bytes).collect();
            (
                borsh::to_vec(&items).expect("writing to a Vec cannot fail"),
                c.len(),
            )
        })
        .collect()
}

async fn post(o: &OracleClient, body: Vec<u8>, count: usize) -> Result<()> {
    let r = o.submit_encoded_batch(body).await.context("report batch")?;
    if r.len() != count {
        bail!("oracle answered {} items for {count} reports", r.len());
    }
    if let Some(bad) = r.iter().find(|o| o.id().is_none()) {
        bail!("oracle refused a benchmark report: {bad:?}");
    }
    Ok(())
}

/// Phase 1: all bodies through `SUBMITTERS` concurrent clients; returns the wall time.
async fn throughput(o: &OracleClient, bodies: Vec<(Vec<u8>, usize)>) -> Result<Duration> {
    let mut lanes: Vec<Vec<(Vec<u8>, usize)>> = vec![Vec::new(); SUBMITTERS];
    for (i, b) in bodies.into_iter().enumerate() {
        lanes[i % SUBMITTERS].push(b);
    }
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for lane in lanes {
        let o = o.clone();
        set.spawn(async move {
            for (body, n) in lane {
                post(&o, body, n).await?;
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.context("submitter")??;
    }
    Ok(start.elapsed())
}

/// Phase 2: bodies sent open-loop every `gap`; returns each request's latency, ms.
async fn latencies(
    o: &OracleClient,
    bodies: Vec<(Vec<u8>, usize)>,
    gap: Duration,
) -> Result<Vec<f64>> {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (k, (body, n)) in bodies.into_iter().enumerate() {
        let due = start + gap * u32::try_from(k)?;
        let o = o.clone();
        set.spawn(async move {
            tokio::time::sleep_until(due.into()).await;
            post(&o, body, n).await?;
            Ok::<f64, anyhow::Error>(due.elapsed().as_secs_f64() * 1_000.0)
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.context("latency request")??);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// One throughput round: its rate and the raw ceiling measured right before and after it
/// (the better of the two), both per second.
#[derive(Clone, Copy, Debug)]
struct Round {
    reports_per_s: f64,
    verify_per_s: f64,
}

impl Round {
    fn ratio(&self) -> f64 {
        self.reports_per_s / self.verify_per_s
    }
}

/// Phase 1, `a.rounds` times with fresh reports, each between two raw measurements at the
/// ceiling's best batch size (`raw`: that size and the rate just measured); the round with
/// the median ratio.
async fn median_round(
    a: &IngestArgs,
    o: &OracleClient,
    (keys, items): (&[SecretKey], &[SignedItem]),
    first: Vec<SignedReport>,
    (t0, raw): (u64, (usize, f64)),
) -> Result<Round> {
    let (batch, mut before) = raw;
    let mut rounds = Vec::with_capacity(a.rounds);
    let mut reports = first;
    for round in 0..a.rounds {
        if round > 0 {
            reports = sign_reports(keys, a.reports, round * a.reports, t0);
        }
        let cpu0 = cpu_seconds();
        let elapsed = throughput(o, encode(&reports, a.batch)).await?;
        let cpu = cpu_seconds() - cpu0;
        let after = raw_verify_at(items, batch)?;
        let r = Round {
            reports_per_s: a.reports as f64 / elapsed.as_secs_f64(),
            verify_per_s: before.max(after),
        };
        eprintln!("ingest round {}: {} reports verified and durable in {:.2} s = {:.0}/s ({:.0}% of one core); raw verify at {batch} before/after {before:.0}/{after:.0}/s; ratio {:.3}", round + 1, a.reports, elapsed.as_secs_f64(), r.reports_per_s, 100.0 * cpu / elapsed.as_secs_f64(), r.ratio());
        rounds.push(r);
        before = after;
    }
    rounds.sort_by(|x, y| x.ratio().total_cmp(&y.ratio()));
    Ok(rounds[rounds.len() / 2])
}

/// Runs `depin bench ingest`.
///
/// Errors: a refused or failed submission, or signatures that do not verify.
pub async fn ingest(a: IngestArgs) -> Result<()> {
    if a.reports == 0 || a.devices == 0 || a.batch == 0 || a.latency_batch == 0 || a.rounds == 0 {
        bail!("--reports, --devices, --batch, --latency-batch and --rounds must be positive");
    }
    let keys: Vec<SecretKey> = (0..a.devices)
        .map(|i| SecretKey::from_seed(seed(i)))
        .collect();
    let t0 = wall_clock_ms();
    let reports = sign_reports(&keys, a.reports, 0, t0);
    let items: Vec<SignedItem> = reports
        .iter()
        .map(|r| (r.report.device, r.report.signing_bytes(), r.signature))
        .collect();
    let raw = raw_best_batch(&items)?;
    let dir = tempfile::tempdir()?;
    let addr = start_ingest(dir.path(), &keys).await?;
    let o = OracleClient::new(&format!("http://{addr}"));
    let round = median_round(&a, &o, (&keys, &items), reports, (t0, raw)).await?;
    let (reports_per_s, verify_per_s) = (round.reports_per_s, round.verify_per_s);
    let half = reports_per_s / 2.0;
    let n2 = ((half * LATENCY_PHASE.as_secs_f64()) as usize).max(a.latency_batch);
    let second = sign_reports(&keys, n2, a.rounds * a.reports, t0);
    let gap = Duration::from_secs_f64(a.latency_batch as f64 / half);
    let lat = latencies(&o, encode(&second, a.latency_batch), gap).await?;
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    let p99_ack_ms = p(0.99);
    eprintln!("at half load ({half:.0} reports/s in requests of {}): {} requests, ack latency p50 {:.1} ms, p99 {p99_ack_ms:.1} ms, max {:.1} ms", a.latency_batch, lat.len(), p(0.5), p(1.0));
    let ratio = round.ratio();
    eprintln!(
        "median round: {reports_per_s:.0}/s against a raw ceiling of {verify_per_s:.0}/s on {} cores: ratio {ratio:.3} (target ≥ 0.8); p99 {p99_ack_ms:.1} ms (target < 50)",
        cores()
    );
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    println!(
        "{}",
        json!({"bench": "ingest", "reports_per_s": reports_per_s.round(), "verify_per_s": verify_per_s.round(), "ratio": r3(ratio), "p99_ack_ms": r3(p99_ack_ms)})
    );
    Ok(())
}
