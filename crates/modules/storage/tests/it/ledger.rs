//! The storage module's ledger component, on the ledger's test chain: deals paid exactly `price × size × epochs` through escrow, cancel
//! refunds, capacity and collateral, attested penalties slashing and degrading a deal, and
//! repair moving a shard. The supply equation is checked after every block by `Chain::block`.

use depin_ledger::components::{bank, escrow, staking};
use depin_ledger::module::ModuleRegistry;
use depin_ledger::testkit::{addr, genesis, key, Chain, CHAIN};
use depin_module_storage::ledger as storage;
use depin_module_storage::types::{
    DealState, ShardPlacement, StorageAction, GIB_BYTES, PROVIDER_CLASS,
};
use depin_module_storage::StorageLedger;
use depin_types::genesis::{ModuleParams, ModuleWeight, RewardsParams};
use depin_types::rewards::emission_for_epoch;
use depin_types::tx::{
    device_pop_bytes, maker_approval_bytes, Action, DeviceAction, OnboardDevice, Penalty,
    RewardsAction, StakingAction, Transaction,
};
use depin_types::{Amount, ChainParams, DeviceClassParams, Hash32, SecretKey, SignedTransaction};

const EPOCH_MS: u64 = 5_000;
const FEE: u128 = 10;
const CLIENT: u8 = 0;
/// Provider owners; owner 3 runs two provider devices.
const OWNERS: [u8; 3] = [1, 2, 3];
/// Provider devices and their owners.
const DEVICES: [(u8, u8); 4] = [(51, 1), (52, 2), (53, 3), (54, 3)];
const ORACLE: u8 = 10;
const ID: Hash32 = Hash32([42; 32]);
/// A 1,000-byte object coded 2 of 3 with 512-byte segment shards: one segment, so each
/// provider stores a 512-byte shard file.
const SIZE: u64 = 1_000;
const FILE_BYTES: u128 = 512;
/// Collateral: two bones per byte stored.
const COLLATERAL_PER_GIB: u128 = 2 * GIB_BYTES as u128;

fn chain() -> Chain {
    let mut g = genesis(
        &[1_000_000_000, 1_000_000_000, 1_000_000_000, 1_000_000_000],
        ChainParams::default(),
        &key(99),
    );
    g.params.min_fee_bones = Amount(FEE);
    g.params.max_tx_bytes = 16_384;
    g.device_classes.push(DeviceClassParams {
        name: PROVIDER_CLASS.into(),
        location_bound: false,
        onboarding_fee_bones: Amount(0),
        location_fee_bones: Amount(0),
    });
    let params =
        format!(r#"{{"collateral_bones_per_gib":"{COLLATERAL_PER_GIB}","slash_bps":5000}}"#);
    g.rewards = Some(RewardsParams {
        epoch_length_ms: EPOCH_MS,
        initial_emission_bones: Amount(1_000),
        halving_interval_epochs: 0,
        oracles: vec![addr(&key(ORACLE))],
        attest_threshold: 1,
        module_weights: vec![ModuleWeight {
            module: "storage".into(),
            weight: 1,
            params: ModuleParams(params),
        }],
        remainder_account: addr(&key(13)),
    });
    let modules = ModuleRegistry::new(vec![std::sync::Arc::new(StorageLedger)]).unwrap();
    Chain::with_modules(&g, key(99), modules)
}

fn storage_action(action: StorageAction) -> Action {
    action.into_action()
}

fn tx(signer: &SecretKey, nonce: u64, action: Action) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN.into(),
        signer: signer.public(),
        nonce,
        fee: Amount(FEE),
        action,
    }
    .sign(signer)
}

fn onboard(owner: &SecretKey, device: &SecretKey) -> Action {
    let maker = key(200);
    let pop = device.sign(&device_pop_bytes(CHAIN, &device.public(), &owner.public()));
    let approval = maker.sign(&maker_approval_bytes(
        CHAIN,
        &device.public(),
        &owner.public(),
        PROVIDER_CLASS,
    ));
    Action::Devices(DeviceAction::Onboard(OnboardDevice {
        device: device.public(),
        class: PROVIDER_CLASS.into(),
        maker: maker.public(),
        location: None,
        antenna: None,
        device_signature: pop,
        maker_signature: approval,
    }))
}

fn announce(device: u8, capacity_bytes: u64, price_per_gib: u128) -> Action {
    storage_action(StorageAction::Announce {
        device: key(device).public(),
        capacity_bytes,
        price_bones_per_gib_epoch: Amount(price_per_gib),
        endpoint: format!("http://127.0.0.1:{}", 7000 + u16::from(device)),
    })
}

fn codes(c: &mut Chain, txs: Vec<SignedTransaction>) -> Vec<String> {
    let (_, v) = c.block(txs);
    v.into_iter()
        .map(|r| r.unwrap_or_else(|e| format!("dropped:{e}")))
        .collect()
}

fn balance(c: &Chain, who: u8) -> u128 {
    bank::account(&c.state, &key(who).public())
        .unwrap()
        .balance
        .bones()
}

fn bonded(c: &Chain, who: u8) -> u128 {
    staking::stake(&c.state, &key(who).public())
        .unwrap()
        .bonded
        .bones()
}

/// Next nonce per signer, counted by the test.
#[derive(Default)]
struct Nonces(std::collections::BTreeMap<u8, u64>);

impl Nonces {
    fn tx(&mut self, signer: u8, action: Action) -> SignedTransaction {
        let n = self.0.entry(signer).or_insert(0);
        *n += 1;
        tx(&key(signer), *n - 1, action)
    }
}

/// Onboards the four provider devices, bonds `bond` bones per owner, and announces each
/// device with `capacity` bytes at price `(i + 1) GiB-bones` (1, 2, 3, 4 bones per byte).
fn providers(c: &mut Chain, n: &mut Nonces, bond: u128, capacity: u64) {
    let mut txs = Vec::new();
    for (i, (dev, owner)) in DEVICES.iter().enumerate() {
        txs.push(n.tx(*owner, onboard(&key(*owner), &key(*dev))));
        let price = (i as u128 + 1) * u128::from(GIB_BYTES);
        txs.push(n.tx(*owner, announce(*dev, capacity, price)));
    }
    for owner in OWNERS {
        let bond = Action::Staking(StakingAction::Bond {
            amount: Amount(bond),
        });
        txs.push(n.tx(owner, bond));
    }
    assert!(codes(c, txs).iter().all(|code| code == "success"));
}

fn open(devices: &[u8], term_epochs: u64, max_deposit: u128) -> Action {
    storage_action(StorageAction::Open {
        id: ID,
        object: Hash32([7; 32]),
        size_bytes: SIZE,
        k: 2,
        segment_shard_bytes: FILE_BYTES as u32,
        shards: devices
            .iter()
            .map(|d| ShardPlacement {
                provider: key(*d).public(),
                root: Hash32([*d; 32]),
            })
            .collect(),
        term_epochs,
        max_deposit_bones: Amount(max_deposit),
    })
}

/// Produces empty blocks until the next block is in `epoch`.
fn advance_to_epoch(c: &mut Chain, epoch: u64) {
    while (c.height + 1) * 1000 / EPOCH_MS < epoch {
        c.block(vec![]);
    }
}

#[test]
fn a_deal_pays_each_provider_price_times_size_for_every_epoch_and_cancel_refunds_the_rest() {
    let mut c = chain();
    let mut n = Nonces::default();
    providers(&mut c, &mut n, 10_000, 1 << 20);
    // Devices 51, 52, 53 at 1, 2, 3 bones per byte and epoch: 512 + 1,024 + 1,536 per epoch.
    let rate = FILE_BYTES * (1 + 2 + 3);
    let client_before = balance(&c, CLIENT);
    let owners_before = OWNERS.map(|o| balance(&c, o));
    let too_cheap = n.tx(CLIENT, open(&[51, 52, 53], 10, rate * 10 - 1));
    assert_eq!(codes(&mut c, vec![too_cheap]), ["deposit_too_high"]);
    let ok = n.tx(CLIENT, open(&[51, 52, 53], 10, rate * 10));
    assert_eq!(codes(&mut c, vec![ok]), ["success"]);
    let start = storage::deal(&c.state, &ID).unwrap().unwrap().start_epoch;
    assert_eq!(
        balance(&c, CLIENT),
        client_before - rate * 10 - 2 * FEE,
        "exactly price × size × epochs is locked"
    );
    advance_to_epoch(&mut c, start + 3);
    let cancel = n.tx(CLIENT, storage_action(StorageAction::Cancel { id: ID }));
    assert_eq!(codes(&mut c, vec![cancel]), ["success"]);
    let epochs_paid = 4; // start, start + 1, start + 2 and start + 3 in progress
    for (i, o) in OWNERS.iter().enumerate() {
        let owner_rate = FILE_BYTES * (i as u128 + 1);
        assert_eq!(balance(&c, *o) - owners_before[i], owner_rate * epochs_paid);
    }
    assert_eq!(
        balance(&c, CLIENT),
        client_before - rate * epochs_paid - 3 * FEE,
        "the unspent epochs come back"
    );
    let d = storage::deal(&c.state, &ID).unwrap().unwrap();
    assert_eq!(d.state, DealState::Cancelled);
    let p = storage::provider(&c.state, &key(51).public())
        .unwrap()
        .unwrap();
    assert_eq!(p.used_bytes, 0, "capacity is released");
    let again = n.tx(CLIENT, storage_action(StorageAction::Cancel { id: ID }));
    assert_eq!(codes(&mut c, vec![again]), ["deal_cancelled"]);
}

#[test]
fn a_deal_needs_free_capacity_distinct_providers_and_the_owners_collateral_bonded() {
    let mut c = chain();
    let mut n = Nonces::default();
    // 1,023 bones bonded: below the 1,024 that 512 bytes at two bones per byte require.
    providers(&mut c, &mut n, 1_023, 1 << 20);
    let refused = [
        n.tx(CLIENT, open(&[51, 52, 53], 2, u128::MAX)),
        n.tx(CLIENT, open(&[51, 51, 53], 2, u128::MAX)),
        n.tx(CLIENT, open(&[51, 52], 2, u128::MAX)),
    ];
    assert_eq!(
        codes(&mut c, refused.to_vec()),
        ["insufficient_collateral", "invalid_deal", "invalid_deal"]
    );
    let top_up = OWNERS.map(|o| {
        n.tx(
            o,
            Action::Staking(StakingAction::Bond { amount: Amount(1) }),
        )
    });
    assert!(codes(&mut c, top_up.to_vec())
        .iter()
        .all(|x| x == "success"));
    let small = n.tx(3, announce(53, 511, u128::from(GIB_BYTES)));
    assert_eq!(codes(&mut c, vec![small]), ["success"]);
    let no_room = n.tx(CLIENT, open(&[51, 52, 53], 2, u128::MAX));
    assert_eq!(codes(&mut c, vec![no_room]), ["insufficient_capacity"]);
    let ok = n.tx(CLIENT, open(&[51, 52, 54], 2, u128::MAX));
    assert_eq!(codes(&mut c, vec![ok]), ["success"]);
    let unbond = n.tx(
        1,
        Action::Staking(StakingAction::Unbond { amount: Amount(1) }),
    );
    assert_eq!(
        codes(&mut c, vec![unbond]),
        ["collateral_locked"],
        "collateral stays bonded while the shard is stored"
    );
    let shrink = n.tx(1, announce(51, 100, u128::from(GIB_BYTES)));
    assert_eq!(codes(&mut c, vec![shrink]), ["invalid_announce"]);
}

#[test]
fn only_the_owner_of_an_active_storage_provider_device_may_announce_it() {
    let mut c = chain();
    let mut n = Nonces::default();
    providers(&mut c, &mut n, 1, 1 << 20);
    let stranger = n.tx(2, announce(51, 1 << 20, 1));
    let no_device = n.tx(2, announce(77, 1 << 20, 1));
    let zero_price = n.tx(1, announce(51, 1 << 20, 0));
    assert_eq!(
        codes(&mut c, vec![stranger, no_device, zero_price]),
        [
            "not_provider_device",
            "not_provider_device",
            "invalid_announce"
        ]
    );
}

fn attest(c: &mut Chain, n: &mut Nonces, epoch: u64, penalties: Vec<Penalty>) -> String {
    advance_to_epoch(c, epoch + 1);
    let total = emission_for_epoch(Amount(1_000), 0, epoch);
    let action = Action::Rewards(RewardsAction::AttestRoot {
        epoch,
        root: Hash32([1; 32]),
        total,
        usage: vec![],
        penalties,
    });
    let t = n.tx(ORACLE, action);
    codes(c, vec![t]).remove(0)
}

fn repair(n: &mut Nonces, signer: u8, index: u32, device: u8) -> SignedTransaction {
    let action = StorageAction::Repair {
        id: ID,
        index,
        provider: key(device).public(),
    };
    n.tx(signer, storage_action(action))
}

/// A deal on devices 51, 52, 53 whose shard 0 (device 51) was penalized in its second epoch.
fn faulted_deal(c: &mut Chain, n: &mut Nonces) {
    providers(c, n, 5_000, 1 << 20);
    let fund_oracle = n.tx(
        CLIENT,
        Action::Bank(depin_types::tx::BankAction::Transfer {
            to: key(ORACLE).public(),
            amount: Amount(1_000),
        }),
    );
    let deal = n.tx(CLIENT, open(&[51, 52, 53], 20, u128::MAX));
    assert_eq!(codes(c, vec![fund_oracle, deal]), ["success", "success"]);
    let start = storage::deal(&c.state, &ID).unwrap().unwrap().start_epoch;
    let fault = Penalty {
        device: key(51).public(),
        amount: Amount(512),
        reason: "missed_proof".into(),
        deal: Some(ID),
    };
    assert_eq!(attest(c, n, start + 1, vec![fault]), "success");
}

#[test]
fn an_attested_fault_slashes_the_providers_owner_and_degrades_the_deal() {
    let mut c = chain();
    let mut n = Nonces::default();
    faulted_deal(&mut c, &mut n);
    assert_eq!(
        bonded(&c, 1),
        5_000 - 512,
        "half of the shard's 1,024 collateral"
    );
    assert_eq!(bonded(&c, 2), 5_000, "honest providers keep their stake");
    let start = storage::deal(&c.state, &ID).unwrap().unwrap().start_epoch;
    let root = depin_ledger::components::rewards::epoch_root(&c.state, start + 1).unwrap();
    assert_eq!(root.map(|r| r.bones_slashed.bones()), Some(512));
    let d = storage::deal(&c.state, &ID).unwrap().unwrap();
    assert_eq!(d.state, DealState::Degraded);
    assert!(d.shards[0].faulty && !d.shards[1].faulty);
}

#[test]
fn repair_moves_a_faulty_shard_to_a_new_provider_who_is_paid_from_then_on() {
    let mut c = chain();
    let mut n = Nonces::default();
    faulted_deal(&mut c, &mut n);
    let refused = vec![
        repair(&mut n, CLIENT, 1, 54),
        repair(&mut n, CLIENT, 0, 52),
        repair(&mut n, 2, 0, 54),
    ];
    assert_eq!(
        codes(&mut c, refused),
        ["shard_not_faulty", "invalid_deal", "not_deal_client"]
    );
    let ok = repair(&mut n, CLIENT, 0, 54);
    assert_eq!(codes(&mut c, vec![ok]), ["success"]);
    let d = storage::deal(&c.state, &ID).unwrap().unwrap();
    assert_eq!(d.state, DealState::Active);
    assert_eq!(d.shards[0].provider, key(54).public());
    assert_eq!(
        d.shards[0].root,
        Hash32([51; 32]),
        "a rebuilt shard has the same root"
    );
    let old = storage::provider(&c.state, &key(51).public())
        .unwrap()
        .unwrap();
    assert_eq!(old.used_bytes, 0);
    let acct = escrow::account(&c.state, &ID).unwrap().unwrap();
    let payees: Vec<(SecretKey, u128)> = [(1, 0), (2, 2), (3, 3 + 4)]
        .into_iter()
        .filter(|(_, per_byte)| *per_byte > 0)
        .map(|(o, per_byte)| (key(o), FILE_BYTES * per_byte))
        .collect();
    let got: Vec<(_, u128)> = acct
        .payees
        .iter()
        .map(|p| (p.payee, p.rate_bones_per_epoch.bones()))
        .collect();
    let mut want: Vec<_> = payees.iter().map(|(k, r)| (k.public(), *r)).collect();
    want.sort();
    assert_eq!(
        got, want,
        "owner 1 is paid no more; owner 3 now holds two shards"
    );
}
