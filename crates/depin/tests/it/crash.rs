//! A node SIGKILLed at random moments while a client submits transfers loses none of the
//! transfers the API reported committed, and after the last restart its state root equals a
//! replay from genesis. `DEPIN_CRASH_CYCLES` sets the number of kill cycles (default 20; CI's
//! slow suite may ask for 1,000).

use crate::process::{free_port, run_json, start_node};
use depin_client::NodeClient;
use depin_types::tx::{Action, BankAction, Transaction};
use depin_types::{Address, Amount, Hash32, Network, SecretKey, SignedTransaction};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::Duration;

/// Transfers per submission round.
const ROUND_TXS: u64 = 8;

fn cycles() -> usize {
    std::env::var("DEPIN_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn transfer(sk: &SecretKey, to: &SecretKey, nonce: u64, amount: u128) -> SignedTransaction {
    let action = Action::Bank(BankAction::Transfer {
        to: to.public(),
        amount: Amount(amount),
    });
    Transaction {
        chain_id: "crash".into(),
        signer: sk.public(),
        nonce,
        fee: Amount(1_000),
        action,
    }
    .sign(sk)
}

/// Submits rounds of transfers until the process dies; records every id the API reported
/// committed, and every id submitted with its amount.
async fn submit_until_killed(
    c: &NodeClient,
    sk: &SecretKey,
    to: &SecretKey,
    submitted: &mut BTreeMap<Hash32, u128>,
    committed: &mut Vec<Hash32>,
) {
    let Ok(acct) = c.account(&sk.public().to_hex()).await else {
        return;
    };
    let mut nonce = acct.nonce;
    loop {
        let txs: Vec<_> = (0..ROUND_TXS)
            .map(|i| transfer(sk, to, nonce + i, u128::from(nonce + i) + 1))
            .collect();
        let Ok(verdicts) = c.submit_batch(&txs).await else {
            return;
        };
        for (t, v) in txs.iter().zip(&verdicts.results) {
            if v.accepted {
                submitted.insert(t.id(), t.tx.action_amount());
            }
        }
        for t in &txs {
            match c.wait_committed(&t.id(), Duration::from_secs(5)).await {
                Ok(_) => committed.push(t.id()),
                Err(_) => return,
            }
        }
        nonce += ROUND_TXS;
    }
}

trait AmountOf {
    fn action_amount(&self) -> u128;
}

impl AmountOf for Transaction {
    fn action_amount(&self) -> u128 {
        match &self.action {
            Action::Bank(BankAction::Transfer { amount, .. }) => amount.bones(),
            _ => 0,
        }
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    home: std::path::PathBuf,
    sk: SecretKey,
    to: SecretKey,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node");
    let sk = SecretKey::from_seed([41; 32]);
    let to = SecretKey::from_seed([42; 32]);
    let alloc = format!("{}=1000000", Address::new(Network::Devnet, sk.public()));
    let producer =
        Address::new(Network::Devnet, SecretKey::from_seed([43; 32]).public()).to_string();
    let h = home.to_str().unwrap();
    run_json(&[
        "node",
        "init",
        "--home",
        h,
        "--chain-id",
        "crash",
        "--block-time-ms",
        "40",
        "--producer",
        &producer,
        "--alloc",
        &alloc,
    ]);
    Setup {
        _dir: dir,
        home,
        sk,
        to,
    }
}

/// Runs the kill cycles; returns every submitted (id → amount) and every id reported committed.
fn kill_cycles(s: &Setup, rt: &tokio::runtime::Runtime) -> (BTreeMap<Hash32, u128>, Vec<Hash32>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (mut submitted, mut committed) = (BTreeMap::new(), Vec::new());
    for cycle in 0..cycles() {
        let port = free_port();
        let mut child = start_node(&s.home, port);
        let c = NodeClient::new(&format!("http://127.0.0.1:{port}"));
        let kill_after = Duration::from_millis(rng.gen_range(50..600));
        rt.block_on(async {
            let work = submit_until_killed(&c, &s.sk, &s.to, &mut submitted, &mut committed);
            let _ = tokio::time::timeout(kill_after, work).await;
        });
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        eprintln!(
            "cycle {cycle}: killed after {kill_after:?}; {} reported committed so far",
            committed.len()
        );
    }
    (submitted, committed)
}

/// After a final restart: nothing reported committed is missing and balances add up.
async fn check_nothing_lost(
    c: &NodeClient,
    to: &SecretKey,
    submitted: &BTreeMap<Hash32, u128>,
    committed: &[Hash32],
) -> u64 {
    for id in committed {
        let s = c.tx_status(id).await.unwrap();
        assert_eq!(
            s.status, "committed",
            "transfer {id} was reported committed and then lost"
        );
    }
    let mut expected = 0u128;
    for (id, amount) in submitted {
        if c.tx_status(id).await.unwrap().status == "committed" {
            expected += amount;
        }
    }
    let got = crate::process::balance(c, to).await;
    assert_eq!(
        got, expected,
        "recipient balance equals the committed transfers"
    );
    assert!(c.supply().await.unwrap().ok);
    c.chain().await.unwrap().height
}

#[test]
fn a_node_killed_at_random_moments_loses_no_committed_transfer_and_replays_to_the_same_root() {
    let s = setup();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (submitted, committed) = kill_cycles(&s, &rt);
    assert!(
        !committed.is_empty(),
        "no transfer was ever committed: the test proved nothing"
    );

    let port = free_port();
    let mut child = start_node(&s.home, port);
    let c = NodeClient::new(&format!("http://127.0.0.1:{port}"));
    let height = rt.block_on(check_nothing_lost(&c, &s.to, &submitted, &committed));
    child.kill().unwrap();
    child.wait().unwrap();
    let replay = run_json(&["node", "replay", "--home", s.home.to_str().unwrap()]);
    assert_eq!(replay["ok"], true, "{replay}");
    assert!(replay["height"].as_u64().unwrap() >= height);
    eprintln!(
        "{} transfers committed over {} kill cycles; replay root {}",
        committed.len(),
        cycles(),
        replay["state_root"]
    );
}
