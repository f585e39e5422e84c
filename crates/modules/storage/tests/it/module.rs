//! The storage module's epoch verification: proofs earn shares, shards without a valid proof
//! are penalized, misdirected reports are refused with reasons, retrievals are charged once.

use depin_module::{EpochInput, LedgerSnapshot, ResourceModule, Verdicts};
use depin_module_storage::proof::{challenge, prove, ChallengeSeed, ShardTree, GROUP_BYTES};
use depin_module_storage::types::{
    Deal, DealShard, DealState, RetrievalReceipt, SignedRetrieval, StorageParams, StorageReport,
    DEAL_PREFIX, GIB_BYTES,
};
use depin_module_storage::StorageModule;
use depin_types::{Amount, Hash32, Report, SecretKey};

const CHAIN: &str = "storage-test";
const EPOCH_MS: u64 = 10_000;
const DEAL: Hash32 = Hash32([5; 32]);
const SHARD_BYTES: usize = 40 * GROUP_BYTES as usize;

fn provider(i: u8) -> SecretKey {
    SecretKey::from_seed([100 + i; 32])
}

fn client() -> SecretKey {
    SecretKey::from_seed([7; 32])
}

struct World {
    module: StorageModule,
    shards: Vec<Vec<u8>>,
    trees: Vec<ShardTree>,
    snapshot: LedgerSnapshot,
}

fn world() -> World {
    let params = StorageParams {
        collateral_bones_per_gib: Amount(u128::from(GIB_BYTES)),
        slash_bps: 1_000,
        ..StorageParams::default()
    };
    let shards: Vec<Vec<u8>> = (0..3u8)
        .map(|s| {
            (0..SHARD_BYTES)
                .map(|i| (i as u8) ^ s.wrapping_mul(31))
                .collect()
        })
        .collect();
    let trees: Vec<ShardTree> = shards.iter().map(|s| ShardTree::new(s)).collect();
    let deal = Deal {
        client: client().public(),
        object: Hash32([1; 32]),
        size_bytes: 2 * SHARD_BYTES as u64,
        k: 2,
        n: 3,
        segment_shard_bytes: SHARD_BYTES as u32,
        shard_file_bytes: SHARD_BYTES as u64,
        shards: (0..3u8)
            .map(|i| DealShard {
                provider: provider(i).public(),
                root: trees[i as usize].root,
                rate_bones_per_epoch: Amount(1),
                since_epoch: 0,
                faulty: false,
            })
            .collect(),
        start_epoch: 0,
        term_epochs: 100,
        state: DealState::Active,
    };
    let mut snapshot = LedgerSnapshot::default();
    snapshot.module_state.insert(
        [DEAL_PREFIX, &DEAL.0].concat(),
        borsh::to_vec(&deal).unwrap(),
    );
    World {
        module: StorageModule::new(params),
        shards,
        trees,
        snapshot,
    }
}

fn entropy(epoch: u64) -> Hash32 {
    Hash32::digest(&epoch.to_be_bytes())
}

fn report(device: u8, epoch: u64, payload: &StorageReport) -> Report {
    Report {
        chain_id: CHAIN.into(),
        module: "storage".into(),
        device: provider(device).public(),
        timestamp_ms: epoch * EPOCH_MS + 1,
        payload: borsh::to_vec(payload).unwrap(),
    }
}

impl World {
    /// Provider `i`'s honest answer to epoch `epoch`'s challenge of its shard.
    fn proof(&self, i: u8, epoch: u64) -> StorageReport {
        let seed = ChallengeSeed {
            entropy: &entropy(epoch),
            deal: &DEAL,
            provider: &provider(i).public().0,
            shard: u32::from(i),
        };
        let tree = &self.trees[i as usize];
        let groups = challenge(&seed, tree.groups(), 8).unwrap();
        StorageReport::Proof {
            deal: DEAL,
            index: u32::from(i),
            epoch,
            proof: prove(&self.shards[i as usize], tree, &groups).unwrap(),
        }
    }

    fn verify(&self, epoch: u64, reports: &[Report]) -> depin_module::EpochOutcome {
        let refs: Vec<&Report> = reports.iter().collect();
        let input = EpochInput {
            epoch,
            start_ms: epoch * EPOCH_MS,
            end_ms: (epoch + 1) * EPOCH_MS,
            entropy: entropy(epoch),
            reports: &refs,
            snapshot: &self.snapshot,
            pool_bones: Amount(1_000),
            carry: &[],
        };
        self.module.verify_epoch(&input)
    }
}

fn codes(verdicts: &Verdicts) -> Vec<String> {
    (0..verdicts.len())
        .map(|i| verdicts.code(i).expect("in range").to_string())
        .collect()
}

#[test]
fn honest_providers_earn_their_proven_bytes_and_are_never_penalized_over_twenty_epochs() {
    let w = world();
    for epoch in 1..=20 {
        let reports: Vec<Report> = (0..3)
            .map(|i| report(i, epoch, &w.proof(i, epoch)))
            .collect();
        let out = w.verify(epoch, &reports);
        assert_eq!(codes(&out.verdicts), ["valid", "valid", "valid"]);
        assert!(
            out.penalties.is_empty(),
            "epoch {epoch}: {:?}",
            out.penalties
        );
        assert!(out.shares.values().all(|s| *s == SHARD_BYTES as u128));
        assert_eq!(out.shares.len(), 3);
    }
}

#[test]
fn a_shard_without_a_valid_proof_is_penalized_the_governed_fraction_of_its_collateral() {
    let w = world();
    let epoch = 3;
    let mut forged = w.proof(1, epoch);
    if let StorageReport::Proof { proof, .. } = &mut forged {
        let last = proof.len() - 1;
        proof[last] ^= 1; // one flipped bit in the returned chunk
    }
    let reports = vec![
        report(0, epoch, &w.proof(0, epoch)),
        report(1, epoch, &forged),
    ];
    let out = w.verify(epoch, &reports);
    assert_eq!(codes(&out.verdicts), ["valid", "invalid_proof"]);
    let mut faulty: Vec<_> = out.penalties.iter().map(|p| p.device).collect();
    faulty.sort();
    let mut want = vec![provider(1).public(), provider(2).public()];
    want.sort();
    assert_eq!(faulty, want, "the forged proof and the missing one");
    // Collateral 1 bone per byte, 10 %: a tenth of the shard file's bytes.
    assert!(out
        .penalties
        .iter()
        .all(|p| p.amount == Amount(SHARD_BYTES as u128 / 10) && p.deal == Some(DEAL)));
    assert_eq!(out.shares.len(), 1);
}

#[test]
fn a_stored_bit_flip_is_found_by_the_provider_before_it_answers() {
    let w = world();
    let mut flipped = w.shards[0].clone();
    let seed = ChallengeSeed {
        entropy: &entropy(4),
        deal: &DEAL,
        provider: &provider(0).public().0,
        shard: 0,
    };
    let groups = challenge(&seed, w.trees[0].groups(), 8).unwrap();
    flipped[(groups[0] * GROUP_BYTES) as usize + 17] ^= 0x10;
    assert!(prove(&flipped, &w.trees[0], &groups).is_err());
}

#[test]
fn misdirected_proofs_are_refused_with_reasons() {
    let w = world();
    let epoch = 2;
    let good = w.proof(0, epoch);
    let stale = w.proof(0, epoch - 1);
    let StorageReport::Proof { proof, .. } = w.proof(0, epoch) else {
        unreachable!()
    };
    let unknown = StorageReport::Proof {
        deal: Hash32([9; 32]),
        index: 0,
        epoch,
        proof,
    };
    let reports = vec![
        report(0, epoch, &stale),
        report(1, epoch, &good),
        report(0, epoch, &unknown),
        report(0, epoch, &good),
        report(0, epoch, &good),
    ];
    let out = w.verify(epoch, &reports);
    assert_eq!(
        codes(&out.verdicts),
        [
            "wrong_epoch",
            "not_shard_provider",
            "not_challenged",
            "valid",
            "duplicate_proof"
        ]
    );
}

fn receipt(bytes: u64, issued_ms: u64, nonce: u64, signer: &SecretKey) -> StorageReport {
    let receipt = RetrievalReceipt {
        chain_id: CHAIN.into(),
        deal: DEAL,
        provider: provider(0).public(),
        bytes,
        issued_ms,
        nonce,
    };
    StorageReport::Retrieval(SignedRetrieval {
        signature: signer.sign(&receipt.signing_bytes()),
        client: client().public(),
        receipt,
    })
}

#[test]
fn a_retrieval_signed_by_the_client_is_charged_once_to_its_credits() {
    let w = world();
    let epoch = 1;
    let at = epoch * EPOCH_MS + 5;
    let ok = receipt(3 << 20, at, 1, &client());
    let reports = vec![
        report(0, epoch, &ok),
        report(0, epoch, &ok),
        report(0, epoch, &receipt(3 << 20, at, 2, &provider(0))),
        report(0, epoch, &receipt(3 << 20, at + EPOCH_MS, 3, &client())),
    ];
    let out = w.verify(epoch, &reports);
    assert_eq!(
        codes(&out.verdicts)[..4],
        [
            "valid",
            "duplicate_receipt",
            "invalid_receipt_signature",
            "wrong_epoch"
        ]
    );
    assert_eq!(out.usage.len(), 1);
    assert_eq!(
        (out.usage[0].payer, out.usage[0].credits),
        (client().public(), 3),
        "3 MiB at 1 MiB per credit"
    );
}
