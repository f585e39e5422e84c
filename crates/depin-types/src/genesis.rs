//! The genesis document: chain id, parameters, initial allocations, makers and device classes.
//! Written as TOML by `depin node init`; every node of a chain must load the same one (its
//! hash is recorded in the genesis state).

use crate::address::{Address, Network};
use crate::amount::Amount;
use crate::crypto::PublicKey;
use crate::hash::Hash32;
use crate::tx::{MAX_CHAIN_ID_BYTES, MAX_CLASS_NAME_BYTES};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where transaction fees go.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FeePolicy {
    /// Fees are destroyed (counted in `burned`).
    Burn,
    /// Fees are paid to the block's proposer.
    Producer,
}

/// Chain-wide parameters, stored in state at genesis (governance may change them later).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ChainParams {
    /// Target time between blocks, in milliseconds.
    pub block_time_ms: u64,
    /// Smallest accepted fee per transaction, in bones.
    pub min_fee_bones: Amount,
    /// Where fees go.
    pub fee_policy: FeePolicy,
    /// Largest accepted encoded transaction, in bytes.
    pub max_tx_bytes: u32,
    /// Most transactions in one block.
    pub max_block_txs: u32,
    /// Blocks between `Unbond` and the release of the unbonded bones.
    pub unbonding_period_blocks: u64,
    /// Bones burned per data credit minted (Helium fixes a DC at $0.00001; here a governed
    /// token price).
    pub credit_price_bones: Amount,
}

impl Default for ChainParams {
    fn default() -> Self {
        ChainParams {
            block_time_ms: 1_000,
            min_fee_bones: Amount(1_000),
            fee_policy: FeePolicy::Burn,
            // An oracle attestation carries up to MAX_USAGE_DEBITS debits and MAX_PENALTIES
            // penalties (~100 bytes each).
            max_tx_bytes: 1 << 20,
            max_block_txs: 10_000,
            unbonding_period_blocks: 100,
            credit_price_bones: Amount(1_000),
        }
    }
}

/// One device class and its onboarding rules.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DeviceClassParams {
    /// Class name, e.g. `hotspot`, `storage-provider`.
    pub name: String,
    /// Whether devices of this class must assert an H3 res-12 location.
    pub location_bound: bool,
    /// Bones burned from the owner at onboarding.
    pub onboarding_fee_bones: Amount,
    /// Bones burned from the owner at each location assertion (also at onboarding when a
    /// location is given).
    pub location_fee_bones: Amount,
}

/// An approved device maker (manufacturer).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct MakerParams {
    /// Display name.
    pub name: String,
    /// The key that signs device approvals.
    pub key: Address,
}

/// An initial balance.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Allocation {
    /// The account.
    pub address: Address,
    /// Its balance, in bones.
    pub amount_bones: Amount,
}

/// One resource module's weight in the split of each epoch's emission.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ModuleWeight {
    /// Module name (as the module registers it).
    pub module: String,
    /// Relative weight; a module's pool is `emission × weight / Σ weights`, floored.
    pub weight: u32,
    /// The module's own parameters (a table in the genesis file; the module defines and
    /// validates them; absent: the module's defaults).
    #[serde(default, skip_serializing_if = "ModuleParams::is_empty")]
    pub params: ModuleParams,
}

/// A module's parameters as canonical JSON text (empty: none). In a genesis file they are a
/// nested table; in state and on the wire, the JSON text.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ModuleParams(pub String);

impl ModuleParams {
    /// Whether no parameters were given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The JSON text (empty when none).
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

impl Serialize for ModuleParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_empty() {
            return s.serialize_none();
        }
        let v: serde_json::Value =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ModuleParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(ModuleParams(if v.is_null() {
            String::new()
        } else {
            v.to_string()
        }))
    }
}

/// Reward emission and settlement: epochs, the halving schedule, the oracles and the module
/// split.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RewardsParams {
    /// Length of an epoch, ms. Epoch `e` covers `[genesis_time_ms + e·len, genesis_time_ms +
    /// (e+1)·len)` of block and report time (half-open).
    pub epoch_length_ms: u64,
    /// Bones minted for epoch 0.
    pub initial_emission_bones: Amount,
    /// Epochs between halvings of the emission; 0 never halves.
    pub halving_interval_epochs: u64,
    /// Oracle keys allowed to attest reward roots.
    pub oracles: Vec<Address>,
    /// Attestations of the same root needed for it to take effect (k of n).
    pub attest_threshold: u32,
    /// Split of each epoch's emission between modules.
    pub module_weights: Vec<ModuleWeight>,
    /// The named pool that receives the floored split's remainder (and pools with no shares).
    pub remainder_account: Address,
}

/// The parameters `weights` give module `module` (its entry's `params`; `None` without an
/// entry). The one lookup of a module's genesis parameters: the ledger's module genesis, the
/// oracle's verifiers and the agents read them through it.
pub fn module_params<'a>(weights: &'a [ModuleWeight], module: &str) -> Option<&'a ModuleParams> {
    weights
        .iter()
        .find(|w| w.module == module)
        .map(|w| &w.params)
}

impl RewardsParams {
    /// The parameters of module `module` (see [`module_params`]).
    pub fn module_params(&self, module: &str) -> Option<&ModuleParams> {
        module_params(&self.module_weights, module)
    }

    /// The epoch clock of these parameters on a chain that started at `genesis_time_ms`.
    pub fn clock(&self, genesis_time_ms: u64) -> crate::clock::EpochClock {
        crate::clock::EpochClock {
            genesis_time_ms,
            epoch_length_ms: self.epoch_length_ms,
        }
    }
}

/// The genesis document.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Genesis {
    /// Chain id: signed into every transaction.
    pub chain_id: String,
    /// Network of every address in this chain.
    pub network: Network,
    /// Time of the genesis state, ms since the Unix epoch; block 1 is not earlier.
    pub genesis_time_ms: u64,
    /// The single block producer of the solo driver (BFT replaces this with a validator set).
    pub producer: Address,
    /// Parameters.
    pub params: ChainParams,
    /// Initial balances.
    #[serde(default)]
    pub allocations: Vec<Allocation>,
    /// Approved makers.
    #[serde(default)]
    pub makers: Vec<MakerParams>,
    /// Device classes.
    #[serde(default)]
    pub device_classes: Vec<DeviceClassParams>,
    /// Reward emission and settlement; `None` mints no rewards.
    #[serde(default)]
    pub rewards: Option<RewardsParams>,
    /// The BFT validator set (`node start --validator`); empty for a solo chain, whose blocks
    /// come from `producer`.
    #[serde(default)]
    pub validators: Vec<GenesisValidator>,
}

/// One BFT validator in genesis: its ed25519 key (as an address) and its stake.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// The validator's key.
    pub address: Address,
    /// Its stake, bones (the amount a slashing for equivocation takes from; voting power is
    /// equal per validator in simplex).
    pub stake_bones: Amount,
}

/// Why a genesis document was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenesisError {
    /// Empty or over-long chain id.
    #[error("chain id must be 1 to {MAX_CHAIN_ID_BYTES} bytes of [a-z0-9-], got {chain_id:?}")]
    ChainId {
        /// The rejected id.
        chain_id: String,
    },
    /// An address for another network.
    #[error("address {address} is not on network {network:?}")]
    WrongNetwork {
        /// The address.
        address: Address,
        /// The genesis network.
        network: Network,
    },
    /// The same account allocated twice.
    #[error("account {address} is allocated twice")]
    DuplicateAllocation {
        /// The address.
        address: Address,
    },
    /// The total supply overflows `u128` bones.
    #[error("total allocation overflows")]
    SupplyOverflow,
    /// A bad device class.
    #[error("device class {name:?} is invalid or repeated")]
    DeviceClass {
        /// The class name.
        name: String,
    },
    /// A maker listed twice.
    #[error("maker {address} is listed twice")]
    DuplicateMaker {
        /// The maker address.
        address: Address,
    },
    /// A parameter out of range.
    #[error("parameter {name} is out of range: {reason}")]
    Param {
        /// Parameter name.
        name: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A module refused its genesis parameters (its `module_weights` entry's `params`).
    #[error("module {module} parameters are invalid: {reason}")]
    ModuleParams {
        /// The module.
        module: String,
        /// Why.
        reason: String,
    },
}

impl Genesis {
    /// Checks the document; a node refuses to start on an invalid genesis.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let id_ok = !self.chain_id.is_empty()
            && self.chain_id.len() <= MAX_CHAIN_ID_BYTES
            && self
                .chain_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(GenesisError::ChainId {
                chain_id: self.chain_id.clone(),
            });
        }
        self.validate_params()?;
        self.check_network(&self.producer)?;
        let mut seen = BTreeSet::new();
        let mut total = Amount::ZERO;
        for a in &self.allocations {
            self.check_network(&a.address)?;
            if !seen.insert(a.address.key) {
                return Err(GenesisError::DuplicateAllocation { address: a.address });
            }
            total = total
                .checked_add(a.amount_bones)
                .map_err(|_| GenesisError::SupplyOverflow)?;
        }
        let mut makers = BTreeSet::new();
        for m in &self.makers {
            self.check_network(&m.key)?;
            if !makers.insert(m.key.key) {
                return Err(GenesisError::DuplicateMaker { address: m.key });
            }
        }
        let mut classes = BTreeSet::new();
        for c in &self.device_classes {
            let ok = !c.name.is_empty() && c.name.len() <= MAX_CLASS_NAME_BYTES;
            if !ok || !classes.insert(c.name.clone()) {
                return Err(GenesisError::DeviceClass {
                    name: c.name.clone(),
                });
            }
        }
        if let Some(r) = &self.rewards {
            self.validate_rewards(r)?;
        }
        self.validate_validators()
    }

    fn validate_validators(&self) -> Result<(), GenesisError> {
        let mut keys = BTreeSet::new();
        for v in &self.validators {
            self.check_network(&v.address)?;
            if !keys.insert(v.address.key) {
                return Err(GenesisError::Param {
                    name: "validators",
                    reason: "a validator is listed twice",
                });
            }
        }
        Ok(())
    }

    fn validate_rewards(&self, r: &RewardsParams) -> Result<(), GenesisError> {
        let bad = |name, reason| Err(GenesisError::Param { name, reason });
        if r.epoch_length_ms == 0 {
            return bad("rewards.epoch_length_ms", "must be positive");
        }
        let mut keys = BTreeSet::new();
        for o in &r.oracles {
            self.check_network(o)?;
            if !keys.insert(o.key) {
                return bad("rewards.oracles", "an oracle is listed twice");
            }
        }
        if r.attest_threshold == 0 || r.attest_threshold as usize > r.oracles.len() {
            return bad(
                "rewards.attest_threshold",
                "must be 1 to the number of oracles",
            );
        }
        let mut modules = BTreeSet::new();
        let mut total_weight = 0u64;
        for w in &r.module_weights {
            if w.module.is_empty() || !modules.insert(w.module.as_str()) {
                return bad(
                    "rewards.module_weights",
                    "module names must be unique and non-empty",
                );
            }
            total_weight += u64::from(w.weight);
        }
        if total_weight == 0 {
            return bad("rewards.module_weights", "weights must not all be zero");
        }
        self.check_network(&r.remainder_account)
    }

    fn validate_params(&self) -> Result<(), GenesisError> {
        let p = &self.params;
        let bad = |name, reason| Err(GenesisError::Param { name, reason });
        if p.block_time_ms == 0 {
            return bad("block_time_ms", "must be positive");
        }
        if p.max_tx_bytes < 256 {
            return bad("max_tx_bytes", "must be at least 256");
        }
        if p.max_block_txs == 0 {
            return bad("max_block_txs", "must be positive");
        }
        if p.credit_price_bones == Amount::ZERO {
            return bad("credit_price_bones", "must be positive");
        }
        Ok(())
    }

    fn check_network(&self, a: &Address) -> Result<(), GenesisError> {
        if a.network != self.network {
            return Err(GenesisError::WrongNetwork {
                address: *a,
                network: self.network,
            });
        }
        Ok(())
    }

    /// Sum of all allocations, in bones. Errors if it overflows (see [`Genesis::validate`]).
    pub fn total_allocation(&self) -> Result<Amount, GenesisError> {
        self.allocations
            .iter()
            .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a.amount_bones))
            .map_err(|_| GenesisError::SupplyOverflow)
    }

    /// SHA-256 of the borsh encoding, recorded in state so that nodes on different genesis
    /// documents can tell.
    pub fn hash(&self) -> Hash32 {
        Hash32::digest_with_domain(
            b"depin/genesis/v1\0",
            &borsh::to_vec(self).expect("writing to a Vec cannot fail"),
        )
    }

    /// The producer's key.
    pub fn producer_key(&self) -> PublicKey {
        self.producer.key
    }
}
