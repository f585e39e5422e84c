//! The real run of the coverage module: the 4,296 hotspots of Helium's 2020-06 snapshot
//! onboarded through `depin agent fleet` (the 117 without a location refused with the
//! ledger's `location_required`), run for three 60-second epochs on the simulated air by a
//! real node and oracle; every manifest counts verdicts per reason and rewards per hotspot,
//! and each hotspot's reward follows the HIP-17 scale `depin coverage hex-scales` prints for
//! its cell in the same file. Needs ../shared (skipped without it unless
//! `DEPIN_REQUIRE_SHARED=1`); about five minutes.

use crate::oracle_crash::start_oracle_with;
use crate::process::{free_port, run, run_json, start_dev_chain};
use depin_client::OracleClient;
use depin_module::{ResourceModule, Verdict};
use depin_module_coverage::payload::CoveragePayload;
use depin_module_coverage::{CoverageModule, CoverageParams, RegionCatalog, NAME};
use depin_oracle::settle::{settle, EpochInputs};
use depin_types::PublicKey;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOTSPOTS: &str = "data/helium_hotspots_2020/hotspots_2020-06_h384053.json";
const REGIONS: &str = "data/helium_lorawan_regions";
const EPOCHS: u64 = 3;

/// The oracle with the dev oracle key and the coverage regions. One beacon interval per
/// minute instead of six hours is 360 times Helium's report rate per hotspot: the shared
/// helper's per-device limits allow it.
fn start_oracle(
    home: &Path,
    node_home: &Path,
    node_url: &str,
    regions: &Path,
    port: u16,
) -> crate::process::Served {
    let key = node_home.join("dev-oracle.json");
    let extra = [
        "--key",
        key.to_str().unwrap(),
        "--regions",
        regions.to_str().unwrap(),
    ];
    start_oracle_with(home, node_home, node_url, port, &extra)
}

async fn wait_settled(o: &OracleClient, epoch: u64) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while !o.epochs().await.is_ok_and(|e| e.settled.contains(&epoch)) {
        assert!(Instant::now() < deadline, "epoch {epoch} was not settled");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Valid beacons `(beaconer, data)` and the hotspots whose witnesses of each data were valid.
type Pocs = (Vec<(PublicKey, Vec<u8>)>, BTreeMap<Vec<u8>, Vec<PublicKey>>);

fn valid_pocs(inputs: &EpochInputs, verdicts: &[Verdict]) -> Pocs {
    let (mut beacons, mut heard): Pocs = (Vec::new(), BTreeMap::new());
    for (r, v) in inputs.reports.iter().zip(verdicts) {
        if *v != Verdict::Valid {
            continue;
        }
        match CoveragePayload::decode(&r.report.payload) {
            Ok(CoveragePayload::Beacon(b)) => beacons.push((r.report.device, b.data)),
            Ok(CoveragePayload::Witness(w)) => {
                heard.entry(w.data).or_default().push(r.report.device);
            }
            _ => {}
        }
    }
    (beacons, heard)
}

/// Scaled shares per hotspot `(beacon, witness, unscaled units)` from the verdicts: a valid
/// beacon heard by `n` valid witnesses earns its beaconer `scale × unit_b(n)` and each
/// witness `scale × unit_w(n)`, `scale` being the HIP-17 scale of the beaconer's cell (the
/// transmitter's hex: helium/oracles iot_verifier `poc.rs` scales witnesses by the
/// beaconer's location).
fn shares(
    inputs: &EpochInputs,
    verdicts: &[Verdict],
    params: &CoverageParams,
    scale_of: impl Fn(&PublicKey) -> Decimal,
) -> BTreeMap<PublicKey, (Decimal, Decimal, Decimal)> {
    let (beacons, mut heard) = valid_pocs(inputs, verdicts);
    let u = params.units();
    let mut out: BTreeMap<PublicKey, (Decimal, Decimal, Decimal)> = BTreeMap::new();
    for (beaconer, data) in beacons {
        let witnesses = heard.remove(&data).unwrap_or_default();
        let n = u32::try_from(witnesses.len()).unwrap();
        let (scale, unit_b, unit_w) = (scale_of(&beaconer), u.beaconer_unit(n), u.witness_unit(n));
        let e = out.entry(beaconer).or_default();
        e.0 += scale * unit_b;
        e.2 += unit_b;
        for w in witnesses {
            let e = out.entry(w).or_default();
            e.1 += scale * unit_w;
            e.2 += unit_w;
        }
    }
    assert!(
        heard.is_empty(),
        "every valid witness belongs to a valid beacon"
    );
    out.retain(|_, s| s.2 > Decimal::ZERO);
    out
}

/// An epoch re-settled from its published inputs.
struct Resettled {
    inputs: EpochInputs,
    verdicts: Vec<Verdict>,
    params: CoverageParams,
    manifest: serde_json::Value,
}

/// Re-settles `epoch` from its published inputs and checks the manifest is the published one.
async fn resettle(o: &OracleClient, epoch: u64, regions: &Path) -> Resettled {
    let inputs: EpochInputs = borsh::from_slice(&o.inputs(epoch).await.unwrap()).unwrap();
    let manifest = o.manifest(epoch).await.unwrap();
    let weight = inputs
        .header
        .module_weights
        .iter()
        .find(|w| w.module == NAME)
        .unwrap();
    let params = CoverageParams::from_json(&weight.params.0).unwrap();
    let catalog = RegionCatalog::load(regions).unwrap();
    let coverage = CoverageModule::new(params.clone(), catalog).unwrap();
    let modules: Vec<Arc<dyn ResourceModule>> = vec![
        Arc::new(depin_module_heartbeat::Heartbeat),
        Arc::new(coverage),
    ];
    let s = settle(&inputs, &modules).unwrap();
    assert_eq!(
        serde_json::to_value(&s.manifest).unwrap(),
        manifest,
        "the manifest recomputes"
    );
    let verdicts = s.verdicts.iter().collect();
    Resettled {
        inputs,
        verdicts,
        params,
        manifest,
    }
}

fn decimal(v: &serde_json::Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap()).unwrap()
}

/// Checks every hotspot's reward of `epoch` against `pool × (β·b/Σb + ω·w/Σw)`, with `b`, `w`
/// its HIP-15 units times the 4-decimal scales `coverage hex-scales` printed (see [`shares`]).
async fn check_rewards_follow_scales(
    o: &OracleClient,
    epoch: u64,
    regions: &Path,
    scales: &serde_json::Value,
) {
    let r = resettle(o, epoch, regions).await;
    let scale_of = |device: &PublicKey| {
        let cell = r.inputs.header.snapshot.devices[device]
            .location
            .unwrap()
            .index();
        decimal(&scales[format!("{cell:x}")])
    };
    let scaled = shares(&r.inputs, &r.verdicts, &r.params, scale_of);
    let (sum_b, sum_w) = scaled
        .values()
        .fold((Decimal::ZERO, Decimal::ZERO), |a, s| {
            (a.0 + s.0, a.1 + s.1)
        });
    let pools = r.manifest["pools"].as_array().unwrap();
    let pool = decimal(&pools.iter().find(|p| p["module"] == NAME).unwrap()["pool_bones"]);
    let p = r.params.pools;
    let beta = p.beacon + p.data_transfer * p.beacon_remainder;
    let omega = p.witness + p.data_transfer * p.witness_remainder;
    let rewards: BTreeMap<String, Decimal> = r.manifest["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["device"].as_str().unwrap().to_string(),
                decimal(&d["reward_bones"]),
            )
        })
        .collect();
    for (device, (b, w, units)) in &scaled {
        let address = depin_types::Address::new(r.inputs.header.network, *device).to_string();
        let got = rewards.get(&address).copied().unwrap_or(Decimal::ZERO);
        let want = pool * (beta * b / sum_b + omega * w / sum_w);
        // 4-decimal scales are off by at most 0.00005 per unit; the sums by 0.1 %.
        let slack = pool * (beta / sum_b + omega / sum_w) * units * Decimal::new(5, 5)
            + want * Decimal::new(1, 3)
            + Decimal::TWO;
        assert!(
            (got - want).abs() <= slack,
            "{address}: reward {got}, by its hex scale {want} (± {slack})"
        );
    }
    assert!(
        scaled.len() > 1_000,
        "{} rewarded hotspots checked",
        scaled.len()
    );
    assert_eq!(
        scaled.len(),
        rewards.len(),
        "every rewarded device earned units"
    );
}

/// A node and an oracle with the coverage regions, as processes.
struct Chain {
    node_home: std::path::PathBuf,
    node_url: String,
    oracle_url: String,
    /// The oracle and node processes, held so they stop when this is dropped.
    _processes: Vec<crate::process::Served>,
}

impl Chain {
    fn start(dir: &Path, regions: &Path) -> Chain {
        let (node_home, oracle_home) = (dir.join("node"), dir.join("oracle"));
        let (node, node_url) = start_dev_chain(&node_home, "60000");
        let port = free_port();
        let oracle = start_oracle(&oracle_home, &node_home, &node_url, regions, port);
        Chain {
            node_home,
            node_url,
            oracle_url: format!("http://127.0.0.1:{port}"),
            _processes: vec![oracle, node],
        }
    }

    fn file(&self, name: &str) -> String {
        self.node_home.join(name).to_str().unwrap().to_string()
    }

    /// Runs `depin agent fleet` over `hotspots` for [`EPOCHS`] epochs; its JSON summary.
    fn fleet(&self, hotspots: &Path, regions: &Path) -> serde_json::Value {
        let epochs = EPOCHS.to_string();
        run_json(&[
            "--node",
            &self.node_url,
            "--wallet",
            &self.file("dev-wallet.json"),
            "agent",
            "fleet",
            "--hotspots",
            hotspots.to_str().unwrap(),
            "--maker-wallet",
            &self.file("dev-maker.json"),
            "--regions",
            regions.to_str().unwrap(),
            "--genesis",
            &self.file("genesis.toml"),
            "--oracle",
            &self.oracle_url,
            "--epochs",
            &epochs,
        ])
    }
}

#[test]
fn the_2020_06_hotspots_run_three_epochs_and_earn_by_their_hex_scales() {
    let (Some(hotspots), Some(regions)) = (
        depin_testkit::shared_path(HOTSPOTS),
        depin_testkit::shared_path(REGIONS),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::start(dir.path(), &regions);
    let out = chain.fleet(&hotspots, &regions);
    eprintln!("fleet: {out}");
    let onboarding = &out["onboarding"];
    assert_eq!(onboarding["entries"], 4_296);
    assert_eq!(onboarding["onboarded"], 4_179);
    assert_eq!(
        onboarding["refused"],
        serde_json::json!({"location_required": 117})
    );
    assert_eq!(out["undelivered"], 0, "every report was delivered");
    assert_eq!(
        out["refused"],
        serde_json::json!({}),
        "the oracle refused no report at ingest"
    );
    let first = out["first_epoch"].as_u64().unwrap();
    let scales = run_json(&[
        "coverage",
        "hex-scales",
        "--hotspots",
        hotspots.to_str().unwrap(),
    ]);
    let o = OracleClient::new(&chain.oracle_url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for epoch in first..first + EPOCHS {
        rt.block_on(wait_settled(&o, epoch));
        let m = rt.block_on(o.manifest(epoch)).unwrap();
        eprintln!(
            "epoch {epoch}: {} reports, {} rewarded hotspots, verdicts {}",
            m["reports"],
            m["devices"].as_array().unwrap().len(),
            m["verdict_counts"]
        );
        assert!(m["verdict_counts"]["valid"].as_u64().unwrap() > 4_000);
        assert!(
            m["verdict_counts"]["witness_not_selected"]
                .as_u64()
                .unwrap()
                > 0,
            "HIP-83 selection at work"
        );
        rt.block_on(check_rewards_follow_scales(&o, epoch, &regions, &scales));
    }
    let last = (first + EPOCHS - 1).to_string();
    let verify = run(&[
        "rewards",
        "verify",
        &last,
        "--oracle",
        &chain.oracle_url,
        "--node",
        &chain.node_url,
        "--genesis",
        &chain.file("genesis.toml"),
        "--regions",
        regions.to_str().unwrap(),
    ]);
    assert!(
        verify.status.success(),
        "rewards verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
