//! `tally`: a module built only with the SDK, as a builder would write one. A device's owner
//! declares on the chain how many units the device can deliver (a transaction of the module's
//! own, kept in the module's own state); the device reports units delivered (a report of the
//! module's own); the verifier pays units up to the declaration (a share per unit) and refuses
//! the rest with reason codes. Nothing here is registered anywhere but in the kit.

use borsh::{BorshDeserialize, BorshSerialize};
use depin_ledger::components::{devices, TxContext};
use depin_ledger::error::ReasonCode;
use depin_ledger::module::{LedgerModule, ModuleError};
use depin_ledger::state::{get, Overlay, StateRead};
use depin_ledger::testkit::{addr, genesis, key};
use depin_ledger::TxError;
use depin_modkit::ModuleKit;
use depin_module::{EpochInput, EpochOutcome, PayloadRejection, ResourceModule, Verdict};
use depin_types::genesis::{ModuleParams, ModuleWeight, RewardsParams};
use depin_types::tx::{DeviceAction, ModuleAction, OnboardDevice};
use depin_types::{Action, Amount, ChainParams, DeviceClassParams, PublicKey, Report, SecretKey};
use std::sync::Arc;

const NAME: &str = "tally";
const CLASS: &str = "tally-meter";
const CAP_PREFIX: &[u8] = b"tally/cap/";
const PARAMS_KEY: &[u8] = b"tally/params";
const EPOCH_MS: u64 = 10_000;
const EMISSION: u128 = 1_000_000;

#[derive(BorshSerialize, BorshDeserialize)]
enum TallyAction {
    Declare { device: PublicKey, units: u64 },
}

#[derive(BorshSerialize, BorshDeserialize, serde::Deserialize)]
struct TallyParams {
    max_units: u64,
}

#[derive(Debug, thiserror::Error)]
enum TallyError {
    #[error("the signer does not own device {device}")]
    NotOwner { device: String },
    #[error("{units} units declared, at most {max}")]
    AboveMax { units: u64, max: u64 },
}

impl ReasonCode for TallyError {
    fn code(&self) -> &'static str {
        match self {
            TallyError::NotOwner { .. } => "not_device_owner",
            TallyError::AboveMax { .. } => "units_above_max",
        }
    }
}

impl From<TallyError> for TxError {
    fn from(e: TallyError) -> TxError {
        TxError::Module(ModuleError::new(NAME, &e))
    }
}

fn bad(code: &'static str, message: String) -> ModuleError {
    ModuleError {
        module: NAME,
        code,
        message,
    }
}

/// The module's ledger component.
struct TallyLedger;

impl TallyLedger {
    fn decode(body: &[u8]) -> Result<TallyAction, ModuleError> {
        borsh::from_slice(body).map_err(|e| bad("malformed_tally_action", e.to_string()))
    }
}

impl LedgerModule for TallyLedger {
    fn name(&self) -> &'static str {
        NAME
    }
    fn prefix(&self) -> &'static [u8] {
        b"tally/"
    }
    fn genesis(&self, params: &ModuleParams, state: &mut Overlay<'_>) -> Result<(), ModuleError> {
        let p: TallyParams = serde_json::from_str(params.as_json())
            .map_err(|e| bad("tally_params_invalid", e.to_string()))?;
        state.put(PARAMS_KEY.to_vec(), &p);
        Ok(())
    }
    fn check_stateless(&self, body: &[u8]) -> Result<(), ModuleError> {
        Self::decode(body).map(|_| ())
    }
    fn check(&self, s: &dyn StateRead, ctx: &TxContext<'_>, body: &[u8]) -> Result<(), TxError> {
        let TallyAction::Declare { device, units } = Self::decode(body)?;
        let owned = devices::device(&s, &device)?.is_some_and(|d| d.owner == ctx.signer);
        if !owned {
            let device = device.to_hex();
            return Err(TallyError::NotOwner { device }.into());
        }
        let p: TallyParams = get(&s, PARAMS_KEY)?.expect("written at genesis");
        if units > p.max_units {
            let max = p.max_units;
            return Err(TallyError::AboveMax { units, max }.into());
        }
        Ok(())
    }
    fn execute(&self, s: &mut Overlay<'_>, _: &TxContext<'_>, body: &[u8]) -> Result<(), TxError> {
        let TallyAction::Declare { device, units } = Self::decode(body)?;
        s.put([CAP_PREFIX, &device.0].concat(), &units);
        Ok(())
    }
}

/// The module's oracle verifier.
struct TallyVerifier;

impl ResourceModule for TallyVerifier {
    fn name(&self) -> &'static str {
        NAME
    }
    fn device_classes(&self) -> Vec<DeviceClassParams> {
        vec![DeviceClassParams {
            name: CLASS.into(),
            location_bound: false,
            onboarding_fee_bones: Amount(10),
            location_fee_bones: Amount::ZERO,
        }]
    }
    fn state_prefixes(&self) -> Vec<&'static [u8]> {
        vec![CAP_PREFIX]
    }
    fn check_payload(&self, payload: &[u8]) -> Result<(), PayloadRejection> {
        if payload.len() == 8 {
            return Ok(());
        }
        let message = format!("a tally report is 8 bytes, got {}", payload.len());
        Err(PayloadRejection {
            code: "malformed_payload",
            message,
        })
    }
    fn verify_epoch(&self, input: &EpochInput<'_>) -> EpochOutcome {
        let mut out = EpochOutcome::default();
        for r in input.reports {
            let units = u64::from_le_bytes(r.payload[..8].try_into().expect("checked at ingest"));
            let cap = input
                .snapshot
                .rows(CAP_PREFIX)
                .find(|(k, _)| *k == r.device.0.as_slice())
                .and_then(|(_, v)| borsh::from_slice::<u64>(v).ok());
            let verdict = match cap {
                None => Verdict::invalid("not_declared"),
                Some(cap) if units > cap => Verdict::invalid("above_declared"),
                Some(_) => {
                    *out.shares.entry(r.device).or_insert(0) += u128::from(units);
                    Verdict::Valid
                }
            };
            out.verdicts.push(&verdict);
        }
        out
    }
}

fn action(a: TallyAction) -> Action {
    Action::Module(ModuleAction::encode(NAME, &a))
}

fn onboard(owner: &SecretKey, device: &SecretKey) -> Action {
    let d = OnboardDevice::signed_by(
        depin_ledger::testkit::CHAIN,
        device,
        &owner.public(),
        &key(200),
        CLASS,
        None,
    );
    Action::Devices(DeviceAction::Onboard(d))
}

fn report(device: &SecretKey, at_ms: u64, units: u64) -> depin_types::SignedReport {
    Report {
        chain_id: depin_ledger::testkit::CHAIN.into(),
        module: NAME.into(),
        device: device.public(),
        timestamp_ms: at_ms,
        payload: units.to_le_bytes().to_vec(),
    }
    .sign(device)
}

fn kit() -> ModuleKit {
    let params = ChainParams {
        min_fee_bones: Amount(1),
        ..ChainParams::default()
    };
    let mut g = genesis(&[1_000_000; 11], params, &key(99));
    g.device_classes.extend(TallyVerifier.device_classes());
    g.rewards = Some(RewardsParams {
        epoch_length_ms: EPOCH_MS,
        initial_emission_bones: Amount(EMISSION),
        halving_interval_epochs: 0,
        oracles: vec![addr(&key(10))],
        attest_threshold: 1,
        module_weights: vec![ModuleWeight {
            module: NAME.into(),
            weight: 1,
            params: ModuleParams(r#"{"max_units":100}"#.into()),
        }],
        remainder_account: addr(&key(13)),
    });
    let ledger: Vec<Arc<dyn LedgerModule>> = vec![Arc::new(TallyLedger)];
    ModuleKit::new(g, ledger, vec![Arc::new(TallyVerifier)]).unwrap()
}

fn ok() -> Result<String, String> {
    Ok("success".into())
}

#[test]
fn a_module_built_only_with_the_sdk_declares_on_chain_verifies_reports_and_pays_its_owners() {
    let mut kit = kit();
    let (alice, bob) = (key(0), key(1));
    let (meter_a, meter_b) = (key(50), key(51));
    assert_eq!(kit.submit(&alice, onboard(&alice, &meter_a)).unwrap(), ok());
    assert_eq!(kit.submit(&bob, onboard(&bob, &meter_b)).unwrap(), ok());
    let declare = |device: &SecretKey, units| {
        action(TallyAction::Declare {
            device: device.public(),
            units,
        })
    };
    // The module's own reason codes reach the receipt; the fee is kept.
    let over = kit.submit(&alice, declare(&meter_a, 101)).unwrap();
    assert_eq!(over, Ok("units_above_max".into()));
    let theft = kit.submit(&bob, declare(&meter_a, 50)).unwrap();
    assert_eq!(theft, Ok("not_device_owner".into()));
    assert_eq!(kit.submit(&alice, declare(&meter_a, 30)).unwrap(), ok());
    assert_eq!(kit.submit(&bob, declare(&meter_b, 10)).unwrap(), ok());
    // A body the module cannot decode never enters a block.
    let junk = Action::Module(ModuleAction {
        module: NAME.into(),
        body: vec![9, 9, 9],
    });
    assert_eq!(
        kit.submit(&alice, junk).unwrap(),
        Err("malformed_tally_action".into())
    );

    let reports = vec![
        report(&meter_a, 1_000, 30),
        report(&meter_b, 2_000, 10),
        report(&meter_b, 3_000, 11),
        report(&key(52), 4_000, 5),
    ];
    kit.advance_past_epoch(0).unwrap();
    let settled = kit.settle(0, reports).unwrap();
    let counts = &settled.manifest.verdict_counts;
    assert_eq!(counts.get("valid"), Some(&2));
    assert_eq!(counts.get("above_declared"), Some(&1));
    assert_eq!(counts.get("not_declared"), Some(&1));
    // 40 units paid: alice 30/40 of the pool, bob 10/40.
    let paid = |who: &SecretKey| {
        settled
            .payouts
            .iter()
            .find(|(o, _)| *o == who.public())
            .map(|(_, a)| a.0)
    };
    assert_eq!(paid(&alice), Some(EMISSION * 3 / 4));
    assert_eq!(paid(&bob), Some(EMISSION / 4));

    assert_eq!(kit.attest(&key(10), &settled).unwrap(), ok());
    let before = kit.balance(&alice.public()).unwrap().0;
    assert_eq!(kit.claim(&alice, &settled).unwrap(), ok());
    let after = kit.balance(&alice.public()).unwrap().0;
    assert_eq!(
        after,
        before + EMISSION * 3 / 4 - 1,
        "reward less the claim's fee"
    );
    // A leaf pays once.
    assert_ne!(kit.claim(&alice, &settled).unwrap(), ok());
}

#[test]
fn a_module_refuses_a_genesis_whose_parameters_it_cannot_run_with() {
    let mut g = genesis(&[1_000], ChainParams::default(), &key(99));
    g.rewards = kit().genesis.rewards;
    let weights = &mut g.rewards.as_mut().unwrap().module_weights;
    weights[0].params = ModuleParams(r#"{"max":1}"#.into());
    let modules =
        depin_ledger::module::ModuleRegistry::new(vec![Arc::new(TallyLedger) as Arc<_>]).unwrap();
    let err = depin_ledger::genesis::genesis_state(&g, &modules).unwrap_err();
    assert!(
        matches!(&err, depin_types::GenesisError::ModuleParams { module, .. } if module == NAME),
        "{err}"
    );
}
