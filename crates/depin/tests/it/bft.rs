//! Four BFT validators as real processes on loopback (feature `bft`): transfers go to any of
//! them; one is SIGKILLed mid-run and restarted. Every transfer a validator reported committed
//! is committed on all four at the end, the recipient's balance is the same everywhere, and
//! all four have the same block and state root at the same height.

use crate::process::{free_port, run, run_json, start_serving, Served};
use depin_client::NodeClient;
use depin_types::tx::{Action, BankAction, Transaction};
use depin_types::{Address, Amount, Hash32, Network, SecretKey, SignedTransaction};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const VALIDATORS: usize = 4;
/// Transfers per round; a round goes to one validator.
const ROUND_TXS: u64 = 8;
const ROUNDS: usize = 12;
/// The validator killed after round [`KILL_AFTER`] and restarted after [`RESTART_AFTER`].
const VICTIM: usize = 2;
const KILL_AFTER: usize = 3;
const RESTART_AFTER: usize = 7;
/// How long a round's transfers may take to commit.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(20);

struct Validator {
    home: PathBuf,
    api_port: u16,
    address: Address,
    child: Option<Served>,
}

fn transfer(sk: &SecretKey, to: &SecretKey, nonce: u64) -> SignedTransaction {
    let action = Action::Bank(BankAction::Transfer {
        to: to.public(),
        amount: Amount(u128::from(nonce) + 1),
    });
    Transaction {
        chain_id: "bft".into(),
        signer: sk.public(),
        nonce,
        fee: Amount(1_000),
        action,
    }
    .sign(sk)
}

/// Validator homes sharing one genesis with `VALIDATORS` validators and `payer` funded.
fn init(dir: &Path, payer: &SecretKey) -> Vec<Validator> {
    let mut vals = Vec::new();
    for i in 0..VALIDATORS {
        let home = dir.join(format!("v{i}"));
        std::fs::create_dir_all(&home).unwrap();
        let wallet = home.join("validator-wallet.json");
        let w = wallet.to_str().unwrap();
        let out = run(&["wallet", "create", "--wallet", w]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let address = String::from_utf8(run(&["wallet", "address", "--wallet", w]).stdout).unwrap();
        vals.push(Validator {
            home,
            api_port: free_port(),
            address: address.trim().parse().unwrap(),
            child: None,
        });
    }
    let alloc = format!("{}=1000000", Address::new(Network::Devnet, payer.public()));
    let mut args: Vec<String> = [
        "node",
        "init",
        "--chain-id",
        "bft",
        "--block-time-ms",
        "500",
    ]
    .map(String::from)
    .to_vec();
    args.extend(["--home".into(), vals[0].home.display().to_string()]);
    args.extend(["--alloc".into(), alloc]);
    for v in &vals {
        args.extend(["--validator".into(), format!("{}=1000", v.address)]);
    }
    run_json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    for v in &vals[1..] {
        for f in ["genesis.toml", "config.toml"] {
            std::fs::copy(vals[0].home.join(f), v.home.join(f)).unwrap();
        }
    }
    vals
}

fn start(v: &mut Validator, peers: &str, p2p_port: u16) {
    let api = format!("127.0.0.1:{}", v.api_port);
    let p2p = format!("127.0.0.1:{p2p_port}");
    let home = v.home.display().to_string();
    let args = [
        "node",
        "start",
        "--home",
        &home,
        "--api.listen",
        &api,
        "--validator",
        "--p2p.listen",
        &p2p,
        "--peers",
        peers,
    ];
    v.child = Some(start_serving(&args, v.api_port));
}

fn client(v: &Validator) -> NodeClient {
    NodeClient::new(&format!("http://127.0.0.1:{}", v.api_port))
}

/// Submits one round to `v` and waits for each transfer to commit there; returns the ids.
async fn round(v: &Validator, payer: &SecretKey, to: &SecretKey, nonce: u64) -> Vec<Hash32> {
    let c = client(v);
    let txs: Vec<_> = (0..ROUND_TXS)
        .map(|i| transfer(payer, to, nonce + i))
        .collect();
    let verdicts = c.submit_batch(&txs).await.unwrap();
    assert!(
        verdicts.results.iter().all(|r| r.accepted),
        "{:?}",
        verdicts.results
    );
    for t in &txs {
        c.wait_committed(&t.id(), COMMIT_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("transfer {} not committed on {}: {e}", t.id(), v.api_port));
    }
    txs.iter().map(SignedTransaction::id).collect()
}

/// Waits until every validator is at least at `height`; returns their chain views.
async fn converge(vals: &[Validator], height: u64) -> Vec<depin_api::ChainInfo> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut views = Vec::new();
        for v in vals {
            views.push(client(v).chain().await.unwrap());
        }
        if views.iter().all(|c| c.height >= height) {
            return views;
        }
        assert!(
            Instant::now() < deadline,
            "validators did not converge: {:?}",
            views.iter().map(|c| c.height).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn check(vals: &[Validator], to: &SecretKey, committed: &[Hash32], expected_bones: u128) {
    let top = client(&vals[0]).chain().await.unwrap().height;
    converge(vals, top).await;
    let mut hashes = Vec::new();
    for v in vals {
        let c = client(v);
        let block = c.block(&top.to_string()).await.unwrap();
        hashes.push((block.hash, block.state_root));
        for id in committed {
            let s = c.tx_status(id).await.unwrap();
            assert_eq!(
                s.status, "committed",
                "transfer {id} reported committed is missing on {}",
                v.api_port
            );
        }
        let got = crate::process::balance(&c, to).await;
        assert_eq!(
            got, expected_bones,
            "recipient balance on validator {}",
            v.api_port
        );
    }
    assert!(
        hashes.windows(2).all(|w| w[0] == w[1]),
        "validators differ at height {top}: {hashes:?}"
    );
}

#[test]
fn four_validators_lose_no_committed_transfer_when_one_is_killed_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let payer = SecretKey::from_seed([51; 32]);
    let to = SecretKey::from_seed([52; 32]);
    let mut vals = init(dir.path(), &payer);
    let p2p: Vec<u16> = (0..VALIDATORS).map(|_| free_port()).collect();
    let peers: Vec<String> = vals
        .iter()
        .zip(&p2p)
        .map(|(v, p)| format!("{}@127.0.0.1:{p}", v.address))
        .collect();
    let peers = peers.join(",");
    for (v, p) in vals.iter_mut().zip(&p2p) {
        start(v, &peers, *p);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut committed, mut nonce) = (Vec::new(), 0u64);
    for r in 0..ROUNDS {
        let target = (0..VALIDATORS)
            .map(|k| (r + k) % VALIDATORS)
            .find(|&i| vals[i].child.is_some())
            .unwrap();
        committed.extend(rt.block_on(round(&vals[target], &payer, &to, nonce)));
        nonce += ROUND_TXS;
        if r == KILL_AFTER {
            let mut child = vals[VICTIM].child.take().unwrap();
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
        }
        if r == RESTART_AFTER {
            start(&mut vals[VICTIM], &peers, p2p[VICTIM]);
            // It catches up before it is asked to admit transfers (a lagging node refuses
            // nonces ahead of its state).
            let top = rt.block_on(client(&vals[0]).chain()).unwrap().height;
            rt.block_on(converge(&vals, top));
        }
    }
    let expected: u128 = (1..=nonce).map(u128::from).sum();
    rt.block_on(check(&vals, &to, &committed, expected));
}
