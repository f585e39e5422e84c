//! `depin bench coverage`: one epoch of proof-of-coverage verification and rewards on a
//! seeded synthetic network — hotspots in clusters of [`CLUSTER`] within a few km, every
//! beacon heard by the other members of its cluster — timed through the oracle's settlement
//! (module verification, HIP-17 scales, HIP-15 units, Helium's reward split, the Merkle
//! root), streamed from an `inputs.bin` written beforehand ([`settle_reader`]). Run twice, each
//! run in a fresh process (this binary with `--settle`), so that a run's peak RSS is the
//! settlement's own and not the writer's: the manifests must hash the same. Targets: ≤ 10 s,
//! ≤ 2 GiB peak RSS.

use anyhow::{bail, Result};
use borsh::BorshSerialize;
use clap::Args;
use depin_module::{DeviceInfo, LedgerSnapshot, ResourceModule};
use depin_module_coverage::payload::{BeaconReport, CoveragePayload, WitnessReport};
use depin_module_coverage::region::{uniform_plan, Channel, RegionCatalog};
use depin_module_coverage::state::Reciprocity;
use depin_module_coverage::{beacon, geo, CoverageModule, CoverageParams, CLASS, NAME};
use depin_oracle::settle::EpochHeader;
use depin_oracle::stream::settle_reader;
use depin_types::genesis::{ModuleParams, ModuleWeight};
use depin_types::{
    Amount, Antenna, Hash32, Location, Network, PublicKey, Report, Signature, SignedReport,
};
use h3o::{CellIndex, LatLng, Resolution};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Hotspots per synthetic cluster (a town).
pub const CLUSTER: usize = 16;
const EPOCH_MS: u64 = 3_600_000;
const START_MS: u64 = 1_700_000_000_000;
const GAIN: i32 = 12;

/// `bench coverage` arguments.
#[derive(Args, Debug)]
pub struct CoverageArgs {
    /// Hotspots in the synthetic network.
    #[arg(long, default_value_t = 100_000)]
    pub hotspots: usize,
    /// Witness reports in the epoch (beacons are added: one per `CLUSTER − 1` witnesses).
    #[arg(long, default_value_t = 1_000_000)]
    pub witnesses: usize,
    /// RNG seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Settle the epoch written to this `inputs.bin` once and print one JSON line (how the
    /// bench runs each measured settlement in a fresh process).
    #[arg(long, hide = true)]
    pub settle: Option<PathBuf>,
}

/// One measured settlement, as a `--settle` process prints it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Run {
    /// Settlement time, seconds.
    secs: f64,
    /// SHA-256 of the manifest's JSON.
    manifest: Hash32,
    /// Valid reports.
    valid: u64,
    /// Rewarded devices.
    devices: usize,
    /// Peak RSS of the process, bytes.
    peak_rss_bytes: u64,
}

fn plan() -> Vec<Channel> {
    uniform_plan(903_900_000, 8)
}

/// Hotspot locations: clusters spread over the continental US, members within ~3 km.
fn locations(n: usize, rng: &mut StdRng) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let (lat, lng) = (rng.gen_range(30.0..47.0), rng.gen_range(-120.0..-75.0));
        for _ in 0..CLUSTER.min(n - out.len()) {
            let (dn, de): (f64, f64) = (rng.gen_range(-0.03..0.03), rng.gen_range(-0.03..0.03));
            let ll = LatLng::new(lat + dn, lng + de).expect("in range");
            out.push(u64::from(ll.to_cell(Resolution::Twelve)));
        }
    }
    out
}

fn catalog(locs: &[u64]) -> Result<RegionCatalog> {
    let mut cells: Vec<CellIndex> = locs
        .iter()
        .filter_map(|l| CellIndex::try_from(*l).ok()?.parent(Resolution::Two))
        .collect();
    cells.sort_unstable();
    cells.dedup();
    let maps = BTreeMap::from([("BENCH915".to_string(), cells)]);
    let plans = BTreeMap::from([("BENCH915".to_string(), plan())]);
    Ok(RegionCatalog::new(maps, plans)?)
}

fn key(i: usize) -> PublicKey {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&(i as u64).to_le_bytes());
    k[31] = 1;
    PublicKey(k)
}

fn snapshot(locs: &[u64]) -> Result<LedgerSnapshot> {
    let mut devices = BTreeMap::new();
    for (i, l) in locs.iter().enumerate() {
        let d = DeviceInfo {
            device: key(i),
            owner: key(i / 4 + 10_000_000),
            class: CLASS.into(),
            location: Some(Location::new(*l)?),
            antenna: Some(Antenna {
                gain_ddbi: GAIN,
                elevation_m: 5,
            }),
            active: true,
        };
        devices.insert(d.device, d);
    }
    Ok(LedgerSnapshot {
        height: 100,
        devices,
        credits: BTreeMap::new(),
        credit_price_bones: Amount(1_000),
        module_state: BTreeMap::new(),
    })
}

fn report(device: PublicKey, ts: u64, p: &CoveragePayload) -> SignedReport {
    // Settlement trusts ingest for signatures; the bench measures verification, not ed25519.
    let report = Report {
        chain_id: "bench".into(),
        module: NAME.into(),
        device,
        timestamp_ms: ts,
        payload: p.to_bytes(),
    };
    SignedReport {
        report,
        signature: Signature([0; 64]),
    }
}

/// A beacon's time: hotspot `b` beacons once (interval 0), hotspots a ms apart.
fn beacon_ms(b: usize) -> u64 {
    START_MS + (b as u64 % 3_000_000)
}

/// The time hotspot `w` reports hearing hotspot `b`'s beacon.
fn witness_ms(b: usize, w: usize) -> u64 {
    beacon_ms(b) + 100 + w as u64 % 900
}

fn beacon_of(b: usize, entropy: &Hash32) -> Result<BeaconReport> {
    let x = beacon::build(entropy, &key(b), 0, &plan(), GAIN)?;
    Ok(BeaconReport {
        entropy: *entropy,
        data: x.data,
        frequency_hz: x.frequency_hz,
        spreading: x.spreading,
        tx_power_dbm: x.tx_power_dbm,
    })
}

/// Hotspot `w`'s witness of `br` (hotspot `b`'s beacon), a little under the free-space bound.
fn witness_of(locs: &[u64], b: usize, w: usize, br: &BeaconReport) -> Result<WitnessReport> {
    let d = geo::distance_m(locs[b], locs[w])?;
    let bound = geo::expected_rssi_dbm(br.tx_power_dbm, br.frequency_hz, d, GAIN, GAIN);
    #[allow(clippy::cast_possible_truncation)] // a signal in dBm×10 fits i32
    let signal_ddbm = (bound * 10.0) as i32 - 150;
    Ok(WitnessReport {
        data: br.data.clone(),
        signal_ddbm,
        snr_ddb: 50,
        frequency_hz: br.frequency_hz,
    })
}

/// The epoch's reports in log order, as `(time, beaconer, reporter)` (the beaconer itself
/// for its beacon): one beacon per hotspot, each heard by the rest of its cluster, until
/// `witnesses` witnesses; sorted by time (then beaconer, reporter).
fn schedule(hotspots: usize, witnesses: usize) -> Vec<(u64, u32, u32)> {
    let mut out = Vec::with_capacity(witnesses + witnesses / (CLUSTER - 1) + 1);
    let (mut made, mut b) = (0, 0);
    while made < witnesses && b < hotspots {
        out.push((beacon_ms(b), idx(b), idx(b)));
        let first = b - b % CLUSTER;
        for w in (first..(first + CLUSTER).min(hotspots))
            .filter(|w| *w != b)
            .take(witnesses - made)
        {
            out.push((witness_ms(b, w), idx(b), idx(w)));
            made += 1;
        }
        b += 1;
    }
    out.sort_unstable();
    out
}

fn idx(i: usize) -> u32 {
    u32::try_from(i).expect("hotspot indexes fit u32")
}

/// The epoch's header: the registry, the emission, the coverage weight, everyone's
/// reciprocity satisfied.
fn header(locs: &[u64], entropy: Hash32, params: &CoverageParams) -> Result<EpochHeader> {
    let mut history = Reciprocity::default();
    for i in 0..locs.len() {
        history.witnessed(key(i), START_MS - 1);
        history.beaconed(key(i), START_MS - 1);
    }
    Ok(EpochHeader {
        chain_id: "bench".into(),
        network: Network::Devnet,
        epoch: 0,
        start_ms: START_MS,
        end_ms: START_MS + EPOCH_MS,
        entropy,
        snapshot: snapshot(locs)?,
        emission: Amount(1_000_000_000_000_000),
        module_weights: vec![ModuleWeight {
            module: NAME.into(),
            weight: 1,
            params: ModuleParams(serde_json::to_string(params)?),
        }],
        remainder_account: key(usize::MAX >> 8),
        ingest_rejections: BTreeMap::new(),
        carry: BTreeMap::from([(NAME.to_string(), history.encode())]),
    })
}

/// Writes the epoch's `inputs.bin` to `path`, one report at a time; returns (witnesses,
/// beacons).
fn write_inputs(
    path: &Path,
    a: &CoverageArgs,
    locs: &[u64],
    h: &EpochHeader,
) -> Result<(usize, usize)> {
    let order = schedule(locs.len(), a.witnesses);
    let beaconers = order.iter().map(|o| o.1 as usize + 1).max().unwrap_or(0);
    let beacons: Vec<BeaconReport> = (0..beaconers)
        .map(|b| beacon_of(b, &h.entropy))
        .collect::<Result<_>>()?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    h.serialize(&mut out)?;
    u32::try_from(order.len())?.serialize(&mut out)?;
    let mut witnesses = 0;
    for &(ts, b, w) in &order {
        let (b, w) = (b as usize, w as usize);
        let payload = if b == w {
            CoveragePayload::Beacon(beacons[b].clone())
        } else {
            witnesses += 1;
            CoveragePayload::Witness(witness_of(locs, b, w, &beacons[b])?)
        };
        report(key(w), ts, &payload).serialize(&mut out)?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok((witnesses, order.len() - witnesses))
}

/// A size field of `/proc/self/status` (`VmHWM`: peak resident set, `VmRSS`: resident set
/// now), bytes; 0 where it cannot be read.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Peak resident set of this process, bytes.
fn peak_rss_bytes() -> u64 {
    status_bytes("VmHWM")
}

fn params() -> CoverageParams {
    CoverageParams {
        beacon_interval_ms: EPOCH_MS,
        ..CoverageParams::default()
    }
}

/// Runs `--settle path` in a fresh process of this binary and reads its line.
fn spawn_run(a: &CoverageArgs, path: &Path) -> Result<Run> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "coverage", "--hotspots", &a.hotspots.to_string()])
        .args([
            "--witnesses",
            &a.witnesses.to_string(),
            "--seed",
            &a.seed.to_string(),
        ])
        .arg("--settle")
        .arg(path)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("the settling process failed: {}", out.status);
    }
    let line = String::from_utf8(out.stdout)?;
    Ok(serde_json::from_str(line.trim())?)
}

/// Settles the epoch at `path` once (the module built from the same seed) and prints a
/// [`Run`] as one JSON line.
fn settle_once(a: &CoverageArgs, path: &Path) -> Result<()> {
    let locs = locations(a.hotspots, &mut StdRng::seed_from_u64(a.seed));
    let module: Arc<dyn ResourceModule> = Arc::new(CoverageModule::new(params(), catalog(&locs)?)?);
    drop(locs);
    let modules = [module];
    let t = Instant::now();
    let (_, s) = settle_reader(std::fs::File::open(path)?, &modules)?;
    let secs = t.elapsed().as_secs_f64();
    let run = Run {
        secs,
        manifest: Hash32::digest(&serde_json::to_vec(&s.manifest)?),
        valid: s.manifest.verdict_counts.get("valid").copied().unwrap_or(0),
        devices: s.manifest.devices.len(),
        peak_rss_bytes: peak_rss_bytes(),
    };
    println!("{}", serde_json::to_string(&run)?);
    Ok(())
}

/// Runs the benchmark.
///
/// Errors: a world that cannot be built or an epoch that does not settle.
pub fn coverage(a: &CoverageArgs) -> Result<()> {
    if a.hotspots < 2 {
        bail!("--hotspots must be at least 2");
    }
    if let Some(path) = &a.settle {
        return settle_once(a, path);
    }
    let t = Instant::now();
    let locs = locations(a.hotspots, &mut StdRng::seed_from_u64(a.seed));
    let params = params();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("inputs.bin");
    let (witnesses, beacons) = {
        let h = header(&locs, Hash32([9; 32]), &params)?;
        write_inputs(&path, a, &locs, &h)?
    };
    drop(locs);
    eprintln!(
        "wrote {} hotspots, {beacons} beacons, {witnesses} witnesses ({} MB of inputs.bin) in {:.1} s (peak RSS so far {} MB, now {} MB)",
        a.hotspots,
        std::fs::metadata(&path)?.len() >> 20,
        t.elapsed().as_secs_f64(),
        peak_rss_bytes() >> 20,
        status_bytes("VmRSS") >> 20
    );
    let mut runs = Vec::new();
    for run in 0..2 {
        let r = spawn_run(a, &path)?;
        eprintln!(
            "run {run}: {:.2} s, {} valid, {} rewarded devices, manifest {} (peak RSS {} MB)",
            r.secs,
            r.valid,
            r.devices,
            r.manifest,
            r.peak_rss_bytes >> 20
        );
        runs.push(r);
    }
    let epoch_s = runs.iter().map(|r| r.secs).fold(f64::INFINITY, f64::min);
    let peak = runs.iter().map(|r| r.peak_rss_bytes).max().unwrap_or(0);
    let deterministic = runs[0].manifest == runs[1].manifest;
    println!(
        "{}",
        json!({"bench": "coverage", "hotspots": a.hotspots, "witnesses": witnesses,
               "beacons": beacons, "epoch_s": (epoch_s * 100.0).round() / 100.0,
               "peak_rss_bytes": peak, "deterministic": deterministic})
    );
    if !deterministic {
        bail!("two runs of the same epoch gave different manifests");
    }
    Ok(())
}
