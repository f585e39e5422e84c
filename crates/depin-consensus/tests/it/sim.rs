//! Four validators in commonware's deterministic runtime and simulated network: lossy links,
//! random partitions, one validator crashed and restarted, one Byzantine validator that signs
//! two conflicting votes for everything it sees (commonware's `Conflicter`).
//!
//! `DEPIN_BFT_SEEDS` (default 50) seeds run from `DEPIN_BFT_SEED_START` (default 0); a failing
//! seed is printed with the command that replays it alone, identically.

use crate::toy::{self, Ledger, ToyChain};
use commonware_codec::DecodeFixed;
use commonware_consensus::simplex::mocks::conflicter::{Config as ConflicterConfig, Conflicter};
use commonware_cryptography::{ed25519, Sha256, Signer as _};
use commonware_p2p::simulated::{Config as NetConfig, Link, Network, Oracle};
use commonware_runtime::{deterministic, Clock, Quota, Runner, Spawner, Supervisor as _};
use commonware_utils::ordered::Set;
use commonware_utils::{probability, Probability};
use depin_consensus::bft::process::PEER_QUOTA_PER_S;
use depin_consensus::bft::{self, Config, Scheme, Timing, Validator, ValidatorKey};
use depin_types::{Hash32, SecretKey};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const VALIDATORS: usize = 4;
/// Index (in key order) of the validator that equivocates.
const BYZANTINE: usize = 3;
/// Index of the validator that is crashed and restarted.
const CRASHED: usize = 1;
const CRASH_AT_S: u64 = 4;
const RESTART_AT_S: u64 = 10;
/// Partitions and lossy links last until here (virtual seconds).
const FAULTS_END_S: u64 = 20;
/// After faults stop, every honest validator finalizes this many more blocks, and every
/// transfer submitted during the faults, within [`RESUME_BOUND_S`].
const EXTRA_BLOCKS: u64 = 5;
/// The stated bound on resuming progress after faults stop (virtual seconds).
pub const RESUME_BOUND_S: u64 = 30;
const ACCOUNTS: usize = 8;

/// What one seed ended with (compared across runs of the same seed).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Per honest validator: its finalized block hashes.
    chains: Vec<Vec<Hash32>>,
    /// Equivocations the honest validators recorded.
    evidence: usize,
}

struct Rng(u64);

impl Rng {
    /// splitmix64
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("small")
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn key_seed(seed: u64, i: usize, salt: u8) -> [u8; 32] {
    let mut s = [salt; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8] = u8::try_from(i).expect("small");
    s
}

fn link(success_rate: Probability, latency_ms: u64) -> Link {
    Link {
        latency: Duration::from_millis(latency_ms),
        jitter: Duration::from_millis(latency_ms / 2),
        success_rate,
    }
}

type Channel = (
    commonware_p2p::simulated::Sender<ValidatorKey, deterministic::Context>,
    commonware_p2p::simulated::Receiver<ValidatorKey>,
);

async fn register(
    oracle: &Oracle<ValidatorKey, deterministic::Context>,
    key: &ValidatorKey,
) -> [Channel; 4] {
    let control = oracle.control(key.clone());
    let quota = Quota::per_second(NonZeroU32::new(PEER_QUOTA_PER_S).expect("non-zero"));
    let mut out = Vec::new();
    for channel in 0..4u64 {
        out.push(control.register(channel, quota).await.expect("register"));
    }
    out.try_into()
        .unwrap_or_else(|_| unreachable!("four channels"))
}

async fn relink(
    oracle: &Oracle<ValidatorKey, deterministic::Context>,
    keys: &[ValidatorKey],
    cut: Option<usize>,
    l: &Link,
) {
    for (i, a) in keys.iter().enumerate() {
        for (j, b) in keys.iter().enumerate() {
            if i == j {
                continue;
            }
            let _ = oracle.remove_link(a.clone(), b.clone()).await;
            if cut != Some(i) && cut != Some(j) {
                oracle
                    .add_link(a.clone(), b.clone(), l.clone())
                    .await
                    .expect("link");
            }
        }
    }
}

struct Net {
    context: deterministic::Context,
    oracle: Oracle<ValidatorKey, deterministic::Context>,
    keys: Vec<ValidatorKey>,
    secrets: Vec<ed25519::PrivateKey>,
    ledgers: Vec<Arc<Mutex<Ledger>>>,
}

impl Net {
    async fn start_validator(&self, i: usize, label: &'static str) -> Validator {
        let channels = register(&self.oracle, &self.keys[i]).await;
        let config = Config {
            namespace: b"depin-sim".to_vec(),
            validators: self.keys.clone(),
            key: self.secrets[i].clone(),
            partition: format!("validator-{i}"),
            timing: Timing::default(),
        };
        let chain = ToyChain {
            ledger: self.ledgers[i].clone(),
            me: depin_types::PublicKey(key_bytes(&self.keys[i])),
        };
        let context = self.context.child(label).with_attribute("validator", i);
        let blocker = self.oracle.control(self.keys[i].clone());
        Validator::start(context, config, chain, blocker, channels).expect("start")
    }

    async fn start_byzantine(&self, i: usize) {
        let [votes, ..] = register(&self.oracle, &self.keys[i]).await;
        let participants = Set::try_from(self.keys.clone()).expect("distinct");
        let scheme = Scheme::signer(b"depin-sim", participants, self.secrets[i].clone())
            .expect("a validator");
        let byz = Conflicter::<_, Scheme, Sha256>::new(
            self.context.child("byzantine"),
            ConflicterConfig { scheme },
        );
        byz.start(votes);
    }

    fn heights(&self, honest: &[usize]) -> Vec<u64> {
        honest
            .iter()
            .map(|&i| lock(&self.ledgers[i]).blocks.len() as u64)
            .collect()
    }
}

fn key_bytes(k: &ValidatorKey) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(k.as_ref());
    out
}

fn lock(l: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    l.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_s(context: &deterministic::Context) -> u64 {
    context
        .current()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Submits a transfer every 100 ms to every honest validator's mempool until faults end;
/// returns the ids submitted.
async fn workload(
    context: deterministic::Context,
    net_ledgers: Vec<Arc<Mutex<Ledger>>>,
    accounts: Vec<SecretKey>,
    seed: u64,
) -> Vec<Hash32> {
    let mut rng = Rng(seed ^ 0xACC0);
    let mut nonces = vec![0u64; accounts.len()];
    let mut ids = Vec::new();
    while now_s(&context) < FAULTS_END_S {
        let from = rng.below(accounts.len());
        let to = accounts[rng.below(accounts.len())].public();
        let tx = toy::transfer(
            &accounts[from],
            nonces[from],
            to,
            1 + rng.below(100) as u128,
        );
        nonces[from] += 1;
        ids.push(tx.id());
        for l in &net_ledgers {
            toy::submit(l, tx.clone());
        }
        context.sleep(Duration::from_millis(100)).await;
    }
    ids
}

async fn scenario(context: deterministic::Context, seed: u64) -> Outcome {
    let mut rng = Rng(seed);
    let secrets: Vec<ed25519::PrivateKey> = (0..VALIDATORS)
        .map(|i| ed25519::PrivateKey::decode_fixed(key_seed(seed, i, 7)).expect("32 bytes"))
        .collect();
    let keys: Vec<ValidatorKey> = secrets.iter().map(|s| s.public_key()).collect();
    let accounts: Vec<SecretKey> = (0..ACCOUNTS)
        .map(|i| SecretKey::from_seed(key_seed(seed, i, 9)))
        .collect();
    let genesis = toy::genesis(&accounts, 1_000_000_000);
    let net_config = NetConfig {
        max_size: bft::MAX_MESSAGE_BYTES,
        max_peers_per_set: NonZeroUsize::new(VALIDATORS).expect("non-zero"),
        disconnect_on_block: false,
        tracked_peer_sets: NonZeroUsize::new(1).expect("non-zero"),
    };
    let (network, oracle) =
        Network::new_with_peers(context.child("network"), net_config, keys.clone()).await;
    network.start();
    let lossy = [probability!(1.0), probability!(0.875), probability!(0.75)][rng.below(3)];
    relink(&oracle, &keys, None, &link(lossy, 20)).await;
    let ledgers = (0..VALIDATORS)
        .map(|_| toy::ledger(genesis.clone()))
        .collect();
    let net = Net {
        context: context.child("faults"),
        oracle,
        keys,
        secrets,
        ledgers,
    };
    let honest: Vec<usize> = (0..VALIDATORS).filter(|&i| i != BYZANTINE).collect();
    let mut running: Vec<Option<Validator>> = Vec::new();
    for i in 0..VALIDATORS {
        if i == BYZANTINE {
            net.start_byzantine(i).await;
            running.push(None);
        } else {
            running.push(Some(net.start_validator(i, "validator").await));
        }
    }
    let honest_ledgers: Vec<_> = honest.iter().map(|&i| net.ledgers[i].clone()).collect();
    let load = context
        .child("workload")
        .spawn(move |ctx| workload(ctx, honest_ledgers, accounts, seed));
    faults(&net, &mut running, &mut rng, lossy).await;
    relink(&net.oracle, &net.keys, None, &link(probability!(1.0), 10)).await;
    let submitted = load.await.expect("workload");
    resume(&net, &honest, &submitted).await;
    check(&net, &honest)
}

/// Until [`FAULTS_END_S`]: every 2 s isolate a random honest validator or heal; crash
/// [`CRASHED`] at [`CRASH_AT_S`] and restart it at [`RESTART_AT_S`].
async fn faults(net: &Net, running: &mut [Option<Validator>], rng: &mut Rng, lossy: Probability) {
    let mut step = 0u64;
    while now_s(&net.context) < FAULTS_END_S {
        net.context.sleep(Duration::from_secs(1)).await;
        step += 1;
        let t = now_s(&net.context);
        if t == CRASH_AT_S {
            if let Some(v) = running[CRASHED].take() {
                v.abort();
            }
        }
        if t == RESTART_AT_S {
            running[CRASHED] = Some(net.start_validator(CRASHED, "restarted").await);
        }
        if step % 2 == 0 {
            let cut = (rng.below(2) == 0).then(|| [0, 1, 2][rng.below(3)]);
            relink(
                &net.oracle,
                &net.keys,
                cut,
                &link(lossy, 20 + rng.below(80) as u64),
            )
            .await;
        }
    }
}

/// After faults stop: within [`RESUME_BOUND_S`], every honest validator finalizes
/// [`EXTRA_BLOCKS`] past the highest height seen and every submitted transfer.
async fn resume(net: &Net, honest: &[usize], submitted: &[Hash32]) {
    let start = now_s(&net.context);
    let target = net.heights(honest).into_iter().max().unwrap_or(0) + EXTRA_BLOCKS;
    loop {
        let heights = net.heights(honest);
        let all_in = honest.iter().all(|&i| {
            let l = lock(&net.ledgers[i]);
            let included: std::collections::BTreeSet<Hash32> = l
                .blocks
                .iter()
                .flat_map(|b| b.txs.iter().map(|t| t.id()))
                .collect();
            submitted.iter().all(|id| included.contains(id))
        });
        if heights.iter().all(|&h| h >= target) && all_in {
            return;
        }
        assert!(
            now_s(&net.context) < start + RESUME_BOUND_S,
            "progress did not resume within {RESUME_BOUND_S} s after faults stopped: heights {heights:?}, target {target}, all transfers final: {all_in}"
        );
        net.context.sleep(Duration::from_millis(200)).await;
    }
}

fn check(net: &Net, honest: &[usize]) -> Outcome {
    let chains: Vec<Vec<Hash32>> = honest
        .iter()
        .map(|&i| {
            lock(&net.ledgers[i])
                .blocks
                .iter()
                .map(|b| b.header.hash())
                .collect()
        })
        .collect();
    let roots: Vec<Vec<Hash32>> = honest
        .iter()
        .map(|&i| lock(&net.ledgers[i]).roots.clone())
        .collect();
    let common = chains.iter().map(Vec::len).min().unwrap_or(0);
    for (k, chain) in chains.iter().enumerate().skip(1) {
        assert_eq!(
            chain[..common],
            chains[0][..common],
            "validator {} finalized other blocks",
            honest[k]
        );
        assert_eq!(
            roots[k][..common],
            roots[0][..common],
            "validator {} has other state roots",
            honest[k]
        );
    }
    let byzantine = key_bytes(&net.keys[BYZANTINE]);
    let mut evidence = 0;
    for &i in honest {
        for e in &lock(&net.ledgers[i]).evidence {
            assert_eq!(
                e.validator, byzantine,
                "evidence against an honest validator: {e:?}"
            );
            let checked = bft::verify_equivocation(b"depin-sim", &net.keys, e.kind, &e.proof);
            assert_eq!(
                checked.ok(),
                Some((byzantine, e.view)),
                "the proof names the offender"
            );
            let mut forged = e.proof.clone();
            let last = forged.len() - 1;
            forged[last] ^= 1;
            assert!(
                bft::verify_equivocation(b"depin-sim", &net.keys, e.kind, &forged).is_err(),
                "a forged proof is refused"
            );
            evidence += 1;
        }
    }
    assert!(
        evidence > 0,
        "no honest validator recorded the equivocations"
    );
    let txs: usize = lock(&net.ledgers[honest[0]])
        .blocks
        .iter()
        .map(|b| b.txs.len())
        .sum();
    eprintln!(
        "heights {:?}, transfers final {txs}, equivocations recorded {evidence}, t {} s",
        chains.iter().map(Vec::len).collect::<Vec<_>>(),
        now_s(&net.context)
    );
    Outcome { chains, evidence }
}

fn run_seed(seed: u64) -> Outcome {
    let cfg = deterministic::Config::new()
        .with_seed(seed)
        .with_timeout(Some(Duration::from_secs(
            FAULTS_END_S + RESUME_BOUND_S + 60,
        )));
    deterministic::Runner::new(cfg).start(|context| scenario(context, seed))
}

#[test]
fn honest_validators_agree_under_partitions_lossy_links_a_crash_and_an_equivocator() {
    let start = env_u64("DEPIN_BFT_SEED_START", 0);
    let count = env_u64("DEPIN_BFT_SEEDS", 50);
    for seed in start..start + count {
        let result = std::panic::catch_unwind(|| run_seed(seed));
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default();
            panic!(
                "seed {seed} failed: {msg}\nreplay: DEPIN_BFT_SEED_START={seed} DEPIN_BFT_SEEDS=1 \
                 cargo test -p depin-consensus --features sim --test it"
            );
        }
    }
}

#[test]
fn a_seed_replays_identically() {
    let first = run_seed(1_000_003);
    let second = run_seed(1_000_003);
    assert!(first.chains.iter().all(|c| !c.is_empty()));
    assert_eq!(first, second);
}
