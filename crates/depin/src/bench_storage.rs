//! `depin bench storage`: one generated file through `storage put` and `storage get` on
//! local provider processes (a devnet without hotspots: node, oracles, `n` providers),
//! against `cp` of the same file on the same disk (copy + fsync), and the erasure-coding
//! rate of the same bytes with put's streaming coder (coding alone on one core, and with the
//! shard roots and object hash as put's first pass computes them). Each put and get is the
//! user's whole command: wallet unlock,
//! simulation, the deal's block, encoding, uploads with fsync on every provider (get:
//! downloads of `k` shard files per segment, verification, decoding, the BLAKE3 check).

use crate::devnet::setup::{Layout, Network};
use crate::devnet::DevnetArgs;
use anyhow::{ensure, Context, Result};
use depin_cli::Ctx;
use depin_module_storage::erasure::Layout as ErasureLayout;
use depin_module_storage::object::{blake3_hash, segment_shard_bytes_for};
use depin_module_storage::stream::{code_stream, summarize};
use rand::{RngCore, SeedableRng};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Bytes per MiB.
const MIB: u64 = 1 << 20;
/// Largest file the bench generates, MiB.
pub const MAX_SIZE_MIB: u64 = 16 * 1024;

/// `bench storage`
#[derive(clap::Args, Debug)]
pub struct StorageArgs {
    /// Size of the file stored, MiB.
    #[arg(long, default_value_t = 256)]
    pub size_mib: u64,
    /// Data shards per segment.
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Shards per segment (= provider processes).
    #[arg(long, default_value_t = 6)]
    pub n: usize,
    /// Working directory (a new one under the current directory by default; removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Port of the bench network's node (oracles from +10, providers from +20).
    #[arg(long, default_value_t = 27650)]
    pub port: u16,
}

/// Seconds `f` takes, and its result.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(f64, T)> {
    let t = Instant::now();
    let out = f()?;
    Ok((t.elapsed().as_secs_f64(), out))
}

/// Writes `size` seeded random bytes to `path` (fsync'd).
fn generate(path: &Path, size: u64) -> Result<()> {
    let mut bytes = vec![0u8; usize::try_from(size)?];
    rand::rngs::StdRng::seed_from_u64(size).fill_bytes(&mut bytes);
    let f = std::fs::File::create(path)?;
    std::io::Write::write_all(&mut &f, &bytes)?;
    f.sync_all()?;
    Ok(())
}

/// `cp SRC DST` and an fsync of the copy: the ceiling a put or get is measured against.
fn copy_synced(src: &Path, dst: &Path) -> Result<()> {
    std::fs::copy(src, dst)?;
    std::fs::File::open(dst)?.sync_all()?;
    Ok(())
}

/// The coding rates of `data` `k` of `n` with the streaming coder `storage put` uses, GiB of
/// object per second: `(erasure coding alone, coding with every shard root and the object
/// hash)` — the second is put's first pass (`summarize`), hashing on a second core.
fn encode_rates(data: &[u8], k: usize, n: usize) -> Result<(f64, f64)> {
    let layout = ErasureLayout::new(k, n, segment_shard_bytes_for(data.len() as u64, k))?;
    let size = data.len() as u64;
    let gib_per_s = |secs: f64| data.len() as f64 / f64::from(1u32 << 30) / secs;
    let (code_s, ()) = timed(|| Ok(code_stream(&layout, data, size, |_, _| true)?))?;
    let (summary_s, _) = timed(|| Ok(summarize(&layout, data, size)?))?;
    Ok((gib_per_s(code_s), gib_per_s(summary_s)))
}

/// The devnet the bench stores on: `n` providers, no hotspots, no packets.
fn network_args(a: &StorageArgs, dir: &Path) -> DevnetArgs {
    DevnetArgs {
        validators: 0,
        hotspots: None,
        city_hotspots: 0,
        regions: None,
        storage_providers: a.n,
        files: 0,
        packets_per_interval: 0,
        epoch_secs: 3_600,
        epochs: 1,
        seed: 1,
        dir: dir.join("net"),
        port: a.port,
    }
}

/// Runs the bench.
///
/// Errors: a size over [`MAX_SIZE_MIB`], a network that does not start, a failed put or get,
/// or fetched bytes that differ from the file.
pub async fn storage(_ctx: &Ctx, a: &StorageArgs) -> Result<()> {
    ensure!(
        a.size_mib > 0 && a.size_mib <= MAX_SIZE_MIB,
        "--size-mib must be 1..={MAX_SIZE_MIB}"
    );
    let dir = a
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!(".depin-bench-storage-{}", std::process::id())));
    std::fs::create_dir_all(&dir)?;
    let result = run(a, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let figures = result?;
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

async fn run(a: &StorageArgs, dir: &Path) -> Result<serde_json::Value> {
    let size = a.size_mib * MIB;
    let (file, copy) = (dir.join("object.bin"), dir.join("copy.bin"));
    generate(&file, size)?;
    let (cp_s, ()) = timed(|| copy_synced(&file, &copy))?;
    let data = std::fs::read(&file)?;
    let (encode_gib_per_s, roots_gib_per_s) = encode_rates(&data, a.k, a.n)?;
    let mut net = Network::start(&network_args(a, dir)).await?;
    let (k, n) = (a.k.to_string(), a.n.to_string());
    let path = Layout::arg(&file);
    let put_args = [
        "storage", "put", &path, "--k", &k, "--n", &n, "--epochs", "10", "--commit",
    ];
    let t = Instant::now();
    let put = net.cli(&put_args).await?;
    let put_s = t.elapsed().as_secs_f64();
    let id = put["deals"][0]["deal"]
        .as_str()
        .context("storage put printed no deal")?
        .to_string();
    let out = dir.join("fetched.bin");
    let t = Instant::now();
    net.cli(&["storage", "get", &id, &Layout::arg(&out)])
        .await?;
    let get_s = t.elapsed().as_secs_f64();
    net.procs.stop_all();
    ensure!(
        blake3_hash(&std::fs::read(&out)?) == blake3_hash(&data),
        "fetched bytes differ"
    );
    let mib = a.size_mib as f64;
    eprintln!(
        "{mib} MiB, {k} of {n}: cp {:.0} MiB/s, put {:.0} MiB/s, get {:.0} MiB/s, encode {encode_gib_per_s:.2} GiB/s (with roots {roots_gib_per_s:.2})",
        mib / cp_s, mib / put_s, mib / get_s
    );
    Ok(
        json!({"bench": "storage", "size_mib": a.size_mib, "k": a.k, "n": a.n,
        "cp_mib_per_s": mib / cp_s, "put_mib_per_s": mib / put_s, "get_mib_per_s": mib / get_s,
        "put_vs_cp": cp_s / put_s, "get_vs_cp": cp_s / get_s, "roots_gib_per_s": roots_gib_per_s,
        "encode_gib_per_s": encode_gib_per_s}),
    )
}
