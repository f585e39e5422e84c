//! Ledger scenarios, named as sentences.

use depin_ledger::components::{bank, devices, staking};
use depin_ledger::state::Overlay;
use depin_ledger::testkit::{genesis, key, Chain, CHAIN};
use depin_types::tx::{
    device_pop_bytes, maker_approval_bytes, Action, DeviceAction, DeviceStatus, OnboardDevice,
    StakingAction, Transaction,
};
use depin_types::{Amount, ChainParams, Location, SecretKey, SignedTransaction};

const LOC: u64 = 0x8c2a1072b59a1ff;

fn chain() -> Chain {
    Chain::new(
        &genesis(
            &[1_000_000, 0],
            ChainParams {
                min_fee_bones: Amount(10),
                ..ChainParams::default()
            },
            &key(9),
        ),
        key(9),
    )
}

fn tx(signer: &SecretKey, nonce: u64, action: Action) -> SignedTransaction {
    Transaction {
        chain_id: CHAIN.into(),
        signer: signer.public(),
        nonce,
        fee: Amount(10),
        action,
    }
    .sign(signer)
}

fn onboard(
    owner: &SecretKey,
    device: &SecretKey,
    maker: &SecretKey,
    class: &str,
    location: Option<u64>,
) -> Action {
    let pop = device.sign(&device_pop_bytes(CHAIN, &device.public(), &owner.public()));
    let approval = maker.sign(&maker_approval_bytes(
        CHAIN,
        &device.public(),
        &owner.public(),
        class,
    ));
    Action::Devices(DeviceAction::Onboard(OnboardDevice {
        device: device.public(),
        class: class.into(),
        maker: maker.public(),
        location: location.map(|l| Location::new(l).unwrap()),
        antenna: None,
        device_signature: pop,
        maker_signature: approval,
    }))
}

#[test]
fn onboarding_a_hotspot_burns_its_fees_and_records_owner_maker_and_location() {
    let mut c = chain();
    let (owner, dev, maker) = (key(0), key(50), key(200));
    let (_, v) = c.block(vec![tx(
        &owner,
        0,
        onboard(&owner, &dev, &maker, "hotspot", Some(LOC)),
    )]);
    assert_eq!(v, vec![Ok("success".to_string())]);
    let d = devices::device(&c.state, &dev.public()).unwrap().unwrap();
    assert_eq!(
        (d.owner, d.maker, d.location.map(|l| l.index())),
        (owner.public(), maker.public(), Some(LOC))
    );
    let burned = bank::supply(&c.state).unwrap().burned.bones();
    assert_eq!(
        burned,
        10 + 500 + 100,
        "fee + onboarding fee + location fee"
    );
}

#[test]
fn onboarding_without_the_devices_or_the_makers_signature_is_refused() {
    let mut c = chain();
    let (owner, dev, maker) = (key(0), key(50), key(200));
    let forged_pop = onboard(&owner, &key(51), &maker, "hotspot", Some(LOC));
    let Action::Devices(DeviceAction::Onboard(mut o)) = forged_pop else {
        unreachable!()
    };
    o.device = dev.public();
    let not_a_maker = onboard(&owner, &dev, &key(7), "hotspot", Some(LOC));
    let Action::Devices(DeviceAction::Onboard(mut o2)) =
        onboard(&owner, &dev, &maker, "hotspot", Some(LOC))
    else {
        unreachable!()
    };
    o2.maker_signature.0[3] ^= 1;
    let (_, v) = c.block(vec![
        tx(&owner, 0, Action::Devices(DeviceAction::Onboard(o))),
        tx(&owner, 0, Action::Devices(DeviceAction::Onboard(o2))),
        tx(&owner, 0, not_a_maker),
    ]);
    assert_eq!(v[0], Err("invalid_device_signature".to_string()));
    assert_eq!(v[1], Err("invalid_maker_signature".to_string()));
    assert_eq!(
        v[2],
        Ok("unknown_maker".to_string()),
        "valid signatures but not an approved maker: fee charged, action fails"
    );
}

#[test]
fn location_rules_follow_the_device_class() {
    let mut c = chain();
    let (owner, maker) = (key(0), key(200));
    let (_, v) = c.block(vec![
        tx(
            &owner,
            0,
            onboard(&owner, &key(60), &maker, "hotspot", None),
        ),
        tx(
            &owner,
            1,
            onboard(&owner, &key(61), &maker, "sensor", Some(LOC)),
        ),
        tx(&owner, 2, onboard(&owner, &key(62), &maker, "sensor", None)),
        tx(
            &owner,
            3,
            Action::Devices(DeviceAction::AssertLocation {
                device: key(62).public(),
                location: Location::new(LOC).unwrap(),
                antenna: None,
            }),
        ),
        tx(&owner, 4, onboard(&owner, &key(63), &maker, "drone", None)),
    ]);
    let codes: Vec<String> = v.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(
        codes,
        [
            "location_required",
            "not_location_bound",
            "success",
            "not_location_bound",
            "unknown_device_class"
        ]
    );
}

#[test]
fn a_hotspot_asserts_its_antenna_with_its_location_and_an_out_of_range_one_is_refused() {
    let mut c = chain();
    let (owner, maker) = (key(0), key(200));
    let antenna = |gain_ddbi, elevation_m| {
        Some(depin_types::Antenna {
            gain_ddbi,
            elevation_m,
        })
    };
    let with = |dev: u8, class: &str, loc: Option<u64>, a| match onboard(
        &owner,
        &key(dev),
        &maker,
        class,
        loc,
    ) {
        Action::Devices(DeviceAction::Onboard(mut o)) => {
            o.antenna = a;
            Action::Devices(DeviceAction::Onboard(o))
        }
        _ => unreachable!(),
    };
    let (_, v) = c.block(vec![
        tx(&owner, 0, with(70, "hotspot", Some(LOC), antenna(12, 5))),
        tx(&owner, 1, with(71, "hotspot", Some(LOC), antenna(400, 5))),
        tx(&owner, 2, with(72, "sensor", None, antenna(12, 0))),
        tx(
            &owner,
            3,
            Action::Devices(DeviceAction::AssertLocation {
                device: key(70).public(),
                location: Location::new(LOC).unwrap(),
                antenna: antenna(80, -3),
            }),
        ),
    ]);
    let codes: Vec<String> = v.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(
        codes,
        [
            "success",
            "invalid_antenna",
            "not_location_bound",
            "invalid_antenna"
        ]
    );
    let d = devices::device(&c.state, &key(70).public())
        .unwrap()
        .unwrap();
    assert_eq!(d.antenna, antenna(12, 5));
}

#[test]
fn only_the_owner_moves_or_switches_off_a_device_and_ownership_transfers() {
    let mut c = chain();
    let (owner, other, dev, maker) = (key(0), key(1), key(50), key(200));
    c.block(vec![tx(
        &owner,
        0,
        onboard(&owner, &dev, &maker, "sensor", None),
    )]);
    let set_off = Action::Devices(DeviceAction::SetStatus {
        device: dev.public(),
        status: DeviceStatus::Inactive,
    });
    let give = Action::Devices(DeviceAction::TransferOwnership {
        device: dev.public(),
        new_owner: other.public(),
    });
    // `other` has no funds: fund it first.
    let fund = Action::Bank(depin_types::tx::BankAction::Transfer {
        to: other.public(),
        amount: Amount(1_000),
    });
    let (_, v) = c.block(vec![
        tx(&owner, 1, fund),
        tx(&other, 0, set_off.clone()),
        tx(&owner, 2, give),
        tx(&other, 1, set_off),
    ]);
    let codes: Vec<String> = v.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(codes, ["success", "not_device_owner", "success", "success"]);
    let d = devices::device(&c.state, &dev.public()).unwrap().unwrap();
    assert_eq!(
        (d.owner, d.status),
        (other.public(), DeviceStatus::Inactive)
    );
}

#[test]
fn unbonded_stake_returns_after_the_unbonding_period_and_slashing_burns_it() {
    let mut c = chain();
    let owner = key(0);
    c.block(vec![tx(
        &owner,
        0,
        Action::Staking(StakingAction::Bond {
            amount: Amount(10_000),
        }),
    )]);
    c.block(vec![tx(
        &owner,
        1,
        Action::Staking(StakingAction::Unbond {
            amount: Amount(4_000),
        }),
    )]);
    let unbond_height = c.height;
    // Slash 7,000: 6,000 bonded, then 1,000 of the unbonding stake.
    let mut o = Overlay::new(&c.state);
    let slashed = staking::slash(&mut o, &owner.public(), Amount(7_000)).unwrap();
    assert_eq!(slashed, Amount(7_000));
    let w = o.into_writes();
    c.state.apply(w);
    let before = bank::account(&c.state, &owner.public()).unwrap().balance;
    while c.height < unbond_height + ChainParams::default().unbonding_period_blocks {
        c.block(vec![]);
    }
    let after = bank::account(&c.state, &owner.public()).unwrap().balance;
    assert_eq!(
        after.bones() - before.bones(),
        3_000,
        "4,000 unbonding minus the 1,000 slashed"
    );
    assert_eq!(
        staking::stake(&c.state, &owner.public()).unwrap(),
        staking::Stake::default()
    );
}

#[test]
fn a_block_at_the_wrong_height_is_refused() {
    let c = chain();
    let ctx = depin_ledger::BlockContext {
        chain_id: CHAIN.into(),
        height: 5,
        time_ms: 0,
        proposer: key(9).public(),
    };
    let none: [depin_ledger::VerifiedTx; 0] = [];
    let r = depin_ledger::execute_block(
        &c.state,
        &ctx,
        &c.modules,
        &none,
        depin_ledger::BlockMode::Verify,
    );
    assert!(matches!(
        r,
        Err(depin_ledger::exec::BlockError::WrongHeight { .. })
    ));
}

#[test]
fn a_validator_that_equivocated_is_slashed_five_percent_once_per_view_on_another_validators_report()
{
    use depin_ledger::testkit::addr;
    use depin_types::genesis::GenesisValidator;
    let (reporter, offender, outsider) = (key(0), key(1), key(2));
    let mut g = genesis(
        &[1_000_000, 0, 1_000_000],
        ChainParams {
            min_fee_bones: Amount(10),
            ..ChainParams::default()
        },
        &key(9),
    );
    g.validators = [(&reporter, 1_000_000), (&offender, 2_000_000)]
        .map(|(k, stake)| GenesisValidator {
            address: addr(k),
            stake_bones: Amount(stake),
        })
        .to_vec();
    let mut c = Chain::new(&g, key(9));
    assert_eq!(
        staking::stake(&c.state, &offender.public()).unwrap().bonded,
        Amount(2_000_000),
        "genesis bonds the validators' stakes"
    );
    let slash = |signer: &SecretKey, nonce, against: &SecretKey, view| {
        let action = StakingAction::SlashValidator {
            validator: against.public(),
            view,
            kind: "conflicting_notarize".into(),
            proof: vec![7; 300],
        };
        tx(signer, nonce, Action::Staking(action))
    };
    let (_, v) = c.block(vec![slash(&reporter, 0, &offender, 7)]);
    assert_eq!(v, vec![Ok("success".to_string())]);
    let bonded = |c: &Chain| staking::stake(&c.state, &offender.public()).unwrap().bonded;
    assert_eq!(bonded(&c), Amount(1_900_000), "5 % burned");
    let (_, v) = c.block(vec![slash(&reporter, 1, &offender, 7)]);
    assert_eq!(
        v,
        vec![Ok("already_slashed".to_string())],
        "included, failed, fee paid"
    );
    let (_, v) = c.block(vec![slash(&outsider, 0, &offender, 8)]);
    assert_eq!(
        v,
        vec![Ok("not_a_validator".to_string())],
        "only validators report"
    );
    let (_, v) = c.block(vec![slash(&reporter, 2, &outsider, 8)]);
    assert_eq!(
        v,
        vec![Ok("not_a_validator".to_string())],
        "only validators are slashed"
    );
    let (_, v) = c.block(vec![slash(&reporter, 3, &offender, 8)]);
    assert_eq!(v, vec![Ok("success".to_string())]);
    assert_eq!(bonded(&c), Amount(1_805_000), "5 % of what was left");
}
