//! The ledger's test kit (feature `testkit`): a chain in memory that executes blocks as the
//! node's producer does, with the chain's modules, and checks the supply equation after every
//! block. For the ledger's own tests and for module crates testing their ledger components
//! without a node.

use crate::exec::{execute_block, BlockContext, BlockMode, BlockOutcome};
use crate::module::ModuleRegistry;
use crate::{audit_supply, verify_batch, MemState, ReasonCode, TxError};
use depin_types::genesis::{Allocation, MakerParams};
use depin_types::{
    Address, Amount, ChainParams, DeviceClassParams, Genesis, Network, SecretKey, SignedTransaction,
};

/// The test chain's id.
pub const CHAIN: &str = "test-chain";

/// Test key `i` (seed `[i + 1; 32]`).
pub fn key(i: u8) -> SecretKey {
    SecretKey::from_seed([i.wrapping_add(1); 32])
}

/// The devnet address of `k`.
pub fn addr(k: &SecretKey) -> Address {
    Address::new(Network::Devnet, k.public())
}

/// A genesis on [`CHAIN`]: account [`key`]`(i)` holds `balances[i]` bones (zero: no
/// allocation), maker [`key`]`(200)`, classes `hotspot` (location-bound) and `sensor`, no
/// rewards section.
pub fn genesis(balances: &[u128], params: ChainParams, producer: &SecretKey) -> Genesis {
    Genesis {
        validators: vec![],
        chain_id: CHAIN.into(),
        network: Network::Devnet,
        genesis_time_ms: 0,
        producer: addr(producer),
        params,
        allocations: balances
            .iter()
            .enumerate()
            .filter(|(_, b)| **b > 0)
            .map(|(i, b)| Allocation {
                address: addr(&key(i as u8)),
                amount_bones: Amount(*b),
            })
            .collect(),
        makers: vec![MakerParams {
            name: "maker".into(),
            key: addr(&key(200)),
        }],
        device_classes: vec![
            DeviceClassParams {
                name: "hotspot".into(),
                location_bound: true,
                onboarding_fee_bones: Amount(500),
                location_fee_bones: Amount(100),
            },
            DeviceClassParams {
                name: "sensor".into(),
                location_bound: false,
                onboarding_fee_bones: Amount(50),
                location_fee_bones: Amount(0),
            },
        ],
        rewards: None,
    }
}

/// A chain in memory; block `h` has time `h × 1000` ms.
pub struct Chain {
    /// The state after the last block.
    pub state: MemState,
    /// The last block's height (0: genesis).
    pub height: u64,
    /// The block producer (paid the fees).
    pub producer: SecretKey,
    /// The chain's modules.
    pub modules: ModuleRegistry,
}

/// Per input transaction: `Ok(receipt status code or "success")` if included, `Err(code)` if
/// left out of the block.
pub type Verdicts = Vec<Result<String, String>>;

impl Chain {
    /// The chain of core components only, at the genesis state of `g`.
    pub fn new(g: &Genesis, producer: SecretKey) -> Chain {
        Chain::with_modules(g, producer, ModuleRegistry::empty())
    }

    /// The chain running `modules`, at the genesis state of `g`. Panics on an invalid genesis
    /// (a test's mistake).
    pub fn with_modules(g: &Genesis, producer: SecretKey, modules: ModuleRegistry) -> Chain {
        Chain {
            state: crate::genesis::genesis_state(g, &modules).expect("test genesis is valid"),
            height: 0,
            producer,
            modules,
        }
    }

    /// Builds and applies a block from `txs`, like the node's producer, and checks the supply
    /// equation. Panics on a storage error or a broken supply equation.
    pub fn block(&mut self, txs: Vec<SignedTransaction>) -> (BlockOutcome, Verdicts) {
        let n = txs.len();
        let mut verdicts: Vec<Option<Result<String, String>>> = vec![None; n];
        let mut verified = Vec::new();
        let mut slots = Vec::new();
        for (i, r) in verify_batch(txs).into_iter().enumerate() {
            match r {
                Ok(v) => {
                    verified.push(v);
                    slots.push(i);
                }
                Err(e) => verdicts[i] = Some(Err(e.code().to_string())),
            }
        }
        self.height += 1;
        let ctx = BlockContext {
            chain_id: CHAIN.into(),
            height: self.height,
            time_ms: self.height * 1000,
            proposer: self.producer.public(),
        };
        let out = execute_block(
            &self.state,
            &ctx,
            &self.modules,
            &verified,
            BlockMode::Build,
        )
        .expect("an in-memory block executes");
        for (r, idx) in out.receipts.iter().zip(&out.included) {
            let code = match &r.status {
                depin_types::TxStatus::Success => "success".to_string(),
                depin_types::TxStatus::Failed { code, .. } => code.clone(),
            };
            verdicts[slots[*idx]] = Some(Ok(code));
        }
        for (idx, e) in &out.dropped {
            verdicts[slots[*idx]] = Some(Err(TxError::code(e).to_string()));
        }
        self.state.apply(out.writes.clone());
        let audit = audit_supply(
            self.state
                .entries
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice())),
        )
        .expect("the supply records decode");
        assert!(
            audit.ok,
            "supply equation broken after block {}: {audit:?}",
            self.height
        );
        (
            out,
            verdicts
                .into_iter()
                .map(|v| v.expect("every transaction has a verdict"))
                .collect(),
        )
    }
}
