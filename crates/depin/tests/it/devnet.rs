//! `depin devnet` end to end, self-contained (a synthetic city, no ../shared): node, three
//! oracles, a hotspot fleet with paid sensor packets, three storage providers and a client.
//! While it runs, headless Chromium (when installed; required in CI) checks the explorer:
//! the map draws hexes (screenshot in `target/explorer-map.png`), a device page shows the
//! rewards of two epochs, a search finds an account. At the end the summary's JSON line
//! must show settled epochs, accepted reports, coverage and storage rewards, debited data
//! credits, every file fetched back and a passing supply check.

use crate::browser::{self, Browser};
use crate::process::{free_port, BIN};
use depin_client::OracleClient;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EPOCHS: u64 = 5;

/// Coverage rewards `(device, owner, bones)` of settled `epoch`, from its manifest.
fn coverage_rewards(manifest: &serde_json::Value) -> Vec<(String, String, u128)> {
    manifest["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["module"] == "coverage")
        .map(|d| {
            let bones = d["reward_bones"].as_str().unwrap().parse().unwrap();
            (
                d["device"].as_str().unwrap().into(),
                d["owner"].as_str().unwrap().into(),
                bones,
            )
        })
        .filter(|(_, _, b)| *b > 0)
        .collect()
}

/// Waits until two settled epochs paid coverage rewards; a device paid in both, its owner.
fn two_rewarded_epochs(oracle_url: &str) -> (String, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let oracle = OracleClient::new(oracle_url);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let settled = rt
            .block_on(oracle.epochs())
            .map(|e| e.settled)
            .unwrap_or_default();
        let paid: Vec<Vec<(String, String, u128)>> = settled
            .iter()
            .filter_map(|e| rt.block_on(oracle.manifest(*e)).ok())
            .map(|m| coverage_rewards(&m))
            .filter(|r| !r.is_empty())
            .collect();
        if let [.., a, b] = paid.as_slice() {
            let both = b.iter().find(|(d, _, _)| a.iter().any(|(x, _, _)| x == d));
            if let Some((device, owner, _)) = both {
                return (device.clone(), owner.clone());
            }
        }
        assert!(
            Instant::now() < deadline,
            "two epochs with coverage rewards never settled"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The coverage module's route behind the map: every located hotspot in one of its hexes,
/// and the route in the node's OpenAPI document.
fn coverage_hexes_checks(node_url: &str) {
    let get = |path: &str| -> serde_json::Value {
        reqwest::blocking::get(format!("{node_url}{path}"))
            .unwrap()
            .json()
            .unwrap()
    };
    let view = get("/v1/coverage/hexes");
    let hotspots = view["hotspots"].as_array().unwrap().len() as u64;
    let in_hexes: u64 = view["hexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hotspots"].as_u64().unwrap())
        .sum();
    assert!(hotspots > 0 && in_hexes == hotspots, "{view}");
    let openapi = get("/openapi.json");
    assert!(
        openapi["paths"]["/v1/coverage/hexes"].is_object(),
        "the coverage route is documented"
    );
}

fn explorer_checks(node_url: &str, oracle_url: &str, profile: &Path) {
    let (device, owner) = two_rewarded_epochs(oracle_url);
    coverage_hexes_checks(node_url);
    let b = Browser::start(free_port(), profile);
    let wait = Duration::from_secs(60);
    b.open(&format!("{node_url}/explorer/#/"));
    let drawn = b.wait_for(
        "return document.getElementById('map')?.dataset.renderedHexes",
        wait,
        "hexes drawn",
    );
    assert!(
        drawn.as_str().unwrap().parse::<u64>().unwrap() > 0,
        "{drawn}"
    );
    let png = b.screenshot();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/explorer-map.png");
    std::fs::write(&target, &png).unwrap();
    assert!(
        png.len() > 10_000 && png.starts_with(b"\x89PNG"),
        "a real screenshot"
    );
    b.open(&format!("{node_url}/explorer/#/device/{device}"));
    let script = "return document.getElementById('rewards-total')?.dataset.bones";
    let bones = b.wait_for(script, wait, "device rewards");
    assert!(
        bones.as_str().unwrap().parse::<u128>().unwrap() > 0,
        "{bones}"
    );
    let rows = b.eval("return document.querySelectorAll('#rewards-chart rect').length");
    assert!(
        rows.as_u64().unwrap() >= 2,
        "rewards of two epochs charted: {rows}"
    );
    b.type_into("#search", &owner);
    b.click("#search-go");
    let script = "return document.getElementById('account-title')?.textContent";
    let title = b.wait_for(script, wait, "account page from the search");
    assert!(title.as_str().unwrap().contains(&owner), "{title}");
}

fn check_summary(stdout: &str) {
    let last = stdout.lines().last().expect("a summary line");
    let s: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(s["devnet"], "summary");
    assert_eq!(s["epochs"], EPOCHS, "{s}");
    assert_eq!(s["supply_ok"], true, "{s}");
    assert!(s["reports_accepted"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(
        s["hotspots"]["onboarded"].as_u64().unwrap() + s["hotspots"]["existing"].as_u64().unwrap(),
        60,
        "{s}"
    );
    for module in ["coverage", "storage"] {
        let tokens = s["rewards_by_module"][module].as_str().unwrap();
        assert!(tokens != "0", "{module} rewards: {s}");
    }
    assert!(
        s["credits_debited"].as_u64().unwrap() > 0,
        "paid packets debited: {s}"
    );
    assert_eq!(
        (s["files_stored"].as_u64(), s["files_retrieved_ok"].as_u64()),
        (Some(3), Some(3)),
        "{s}"
    );
}

#[test]
fn a_devnet_settles_coverage_storage_and_packets_and_the_explorer_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("devnet.log")).unwrap();
    let net = dir.path().join("net");
    let args = [
        "devnet",
        "--dir",
        net.to_str().unwrap(),
        "--epoch-secs",
        "10",
        "--epochs",
        &EPOCHS.to_string(),
        "--city-hotspots",
        "60",
        "--storage-providers",
        "3",
        "--files",
        "3",
        "--port",
        &port.to_string(),
    ];
    let devnet = Command::new(BIN)
        .args(args)
        .env("DEPIN_WALLET_PASSWORD", "test")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let node_url = format!("http://127.0.0.1:{port}");
    let oracle_url = format!("http://127.0.0.1:{}", port + 10);
    if browser::available() {
        explorer_checks(&node_url, &oracle_url, &dir.path().join("chromium"));
    }
    let out = devnet.wait_with_output().unwrap();
    let err = std::fs::read_to_string(dir.path().join("devnet.log")).unwrap();
    assert!(out.status.success(), "devnet failed: {err}");
    check_summary(&String::from_utf8_lossy(&out.stdout));
}
