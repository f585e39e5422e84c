//! The devnet's summary, from what the chain and the ingesting oracle published: epochs
//! whose reward roots took effect, blocks, reports accepted and rejected per reason,
//! rewards per module, top earners, files stored and fetched back, and the supply check.

use super::setup::Network;
use super::workload::Outcome;
use anyhow::Result;
use depin_cli::Ctx;
use depin_client::{NodeClient, OracleClient};
use depin_types::Amount;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Devices listed as top earners.
pub const TOP_EARNERS: usize = 5;
/// Most epochs a summary reads.
pub const MAX_SUMMARY_EPOCHS: u64 = 10_000;

/// Totals over the summarised epochs' manifests.
#[derive(Default)]
struct Totals {
    epochs: Vec<u64>,
    accepted: u64,
    rejected: BTreeMap<String, u64>,
    by_module: BTreeMap<String, u128>,
    by_device: BTreeMap<(String, String), u128>,
    slashed_bones: u128,
    credits_debited: u64,
}

fn bones(v: &Value) -> u128 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

impl Totals {
    fn add_manifest(&mut self, m: &Value) {
        for (code, n) in m["verdict_counts"].as_object().into_iter().flatten() {
            let n = n.as_u64().unwrap_or(0);
            if code == "valid" {
                self.accepted += n;
            } else {
                *self.rejected.entry(code.clone()).or_default() += n;
            }
        }
        for (code, n) in m["ingest_rejections"].as_object().into_iter().flatten() {
            *self.rejected.entry(code.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
        for p in m["pools"].as_array().into_iter().flatten() {
            let module = p["module"].as_str().unwrap_or("?").to_string();
            *self.by_module.entry(module).or_default() += bones(&p["paid_bones"]);
        }
        for d in m["devices"].as_array().into_iter().flatten() {
            let key = (
                d["device"].as_str().unwrap_or("?").to_string(),
                d["module"].as_str().unwrap_or("?").to_string(),
            );
            *self.by_device.entry(key).or_default() += bones(&d["reward_bones"]);
        }
    }

    fn top_earners(&self) -> Vec<Value> {
        let mut all: Vec<(&(String, String), &u128)> = self.by_device.iter().collect();
        all.sort_by_key(|(k, b)| (std::cmp::Reverse(**b), *k));
        all.iter()
            .take(TOP_EARNERS)
            .map(|((device, module), b)| {
                json!({"device": device, "module": module, "reward": Amount(**b).to_string()})
            })
            .collect()
    }
}

/// Reads the epochs of the run (or, interrupted, those in effect since the devnet came up).
async fn totals(net: &Network, outcome: Option<&Outcome>) -> Totals {
    let node = NodeClient::new(&net.node_url);
    let oracle = OracleClient::new(&net.oracle_url);
    let (first, last) = outcome.map_or((net.start_epoch, net.epoch_now()), |o| {
        (o.first_epoch, o.last_epoch)
    });
    let mut t = Totals::default();
    for epoch in first..=last.min(first + MAX_SUMMARY_EPOCHS) {
        let Ok(r) = node.epoch_rewards(epoch, None).await else {
            continue;
        };
        if r.root.is_none() {
            continue;
        }
        let Ok(manifest) = oracle.manifest(epoch).await else {
            continue;
        };
        t.epochs.push(epoch);
        t.add_manifest(&manifest);
        t.slashed_bones += r
            .bones_slashed
            .as_ref()
            .map_or(0, |b| b.parse().unwrap_or(0));
        t.credits_debited += r.credits_debited.unwrap_or(0);
    }
    t
}

/// The summary object (the JSON line's content).
///
/// Errors: the node does not answer.
pub async fn collect(
    net: &Network,
    a: &super::DevnetArgs,
    outcome: Option<&Outcome>,
) -> Result<Value> {
    let t = totals(net, outcome).await;
    let node = NodeClient::new(&net.node_url);
    let chain = node.chain().await?;
    let supply = node.supply().await?;
    let rewards: BTreeMap<&String, String> = t
        .by_module
        .iter()
        .map(|(m, b)| (m, Amount(*b).to_string()))
        .collect();
    let validators = if a.validators > 0 {
        super::validators::agreement(a).await?
    } else {
        serde_json::Value::Null
    };
    Ok(json!({
        "devnet": "summary",
        "validators": validators,
        "epochs": t.epochs.len(),
        "epoch_range": [t.epochs.first(), t.epochs.last()],
        "blocks": chain.height,
        "reports_accepted": t.accepted,
        "reports_rejected": t.rejected,
        "rewards_by_module": rewards,
        "top_earners": t.top_earners(),
        "credits_debited": t.credits_debited,
        "slashed": Amount(t.slashed_bones).to_string(),
        "hotspots": outcome.map(|o| o.fleet["onboarding"].clone()),
        "packets": outcome.map(|o| o.fleet["packets"].clone()),
        "storage_providers": net.providers.len(),
        "files_stored": outcome.map_or(0, |o| o.files_stored),
        "files_retrieved_ok": outcome.map_or(0, |o| o.files_retrieved_ok),
        "supply_ok": supply.ok,
        "interrupted": outcome.is_none(),
        "explorer": format!("{}/explorer/", net.node_url),
    }))
}

/// The summary as a table for people.
fn table(s: &Value) -> String {
    let mut out = String::from("depin devnet summary\n");
    let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<22} {v}\n"));
    row("epochs", format!("{} {}", s["epochs"], s["epoch_range"]));
    row("blocks", s["blocks"].to_string());
    row("reports accepted", s["reports_accepted"].to_string());
    for (code, n) in s["reports_rejected"].as_object().into_iter().flatten() {
        row(&format!("rejected: {code}"), n.to_string());
    }
    for (m, v) in s["rewards_by_module"].as_object().into_iter().flatten() {
        row(
            &format!("rewards: {m}"),
            format!("{} tokens", v.as_str().unwrap_or("?")),
        );
    }
    for e in s["top_earners"].as_array().into_iter().flatten() {
        let device = e["device"].as_str().unwrap_or("?");
        row(
            "top earner",
            format!(
                "{device} ({}) {} tokens",
                e["module"].as_str().unwrap_or("?"),
                e["reward"].as_str().unwrap_or("?")
            ),
        );
    }
    row("data credits debited", s["credits_debited"].to_string());
    row(
        "stake slashed",
        format!("{} tokens", s["slashed"].as_str().unwrap_or("?")),
    );
    row("files stored", s["files_stored"].to_string());
    row("files fetched ok", s["files_retrieved_ok"].to_string());
    row(
        "supply check",
        if s["supply_ok"] == true {
            "ok".into()
        } else {
            "FAILED".into()
        },
    );
    let v = &s["validators"];
    if !v.is_null() {
        let agree = if v["agree"] == true {
            "agree"
        } else {
            "DISAGREE"
        };
        row(
            "bft validators",
            format!(
                "{} at heights {}, {agree} at {}",
                v["count"], v["heights"], v["compared_height"]
            ),
        );
    }
    row("explorer", s["explorer"].as_str().unwrap_or("").to_string());
    out
}

/// Prints the table for people (on stdout with `--format table`, else on stderr) and then the
/// JSON line (stdout, last), and writes `summary.json` under `dir`.
///
/// Errors: the file cannot be written, or the supply check failed (after printing).
pub fn write(ctx: &Ctx, dir: &Path, summary: &Value) -> Result<()> {
    if matches!(ctx.format, depin_cli::Format::Table) {
        print!("{}", table(summary));
    } else {
        eprint!("{}", table(summary));
    }
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(summary)?,
    )?;
    println!("{}", serde_json::to_string(summary)?);
    anyhow::ensure!(summary["supply_ok"] == true, "the supply check failed");
    anyhow::ensure!(
        summary["validators"].is_null() || summary["validators"]["agree"] == true,
        "the validators disagree"
    );
    Ok(())
}
