//! The genesis state: what `depin node init` writes before block 1.

use crate::components::{bank, devices, rewards, staking};
use crate::exec::{CHAIN_ID_KEY, GENESIS_HASH_KEY, HEIGHT_KEY, PARAMS_KEY};
use crate::module::ModuleRegistry;
use crate::state::{MemState, Overlay, WriteSet};
use depin_types::genesis::ModuleParams;
use depin_types::{Genesis, GenesisError};

/// The writes that make up the genesis state (height 0) of `genesis` on a chain running
/// `modules`: the core components' state, then each module's ([`LedgerModule::genesis`], given
/// its `module_weights` entry's parameters).
///
/// Errors: whatever [`Genesis::validate`] finds; [`GenesisError::ModuleParams`] when a module
/// refuses its parameters.
///
/// [`LedgerModule::genesis`]: crate::module::LedgerModule::genesis
pub fn genesis_writes(
    genesis: &Genesis,
    modules: &ModuleRegistry,
) -> Result<WriteSet, GenesisError> {
    genesis.validate()?;
    let empty = MemState::default();
    let mut s = Overlay::new(&empty);
    s.put(CHAIN_ID_KEY.to_vec(), &genesis.chain_id);
    s.put(PARAMS_KEY.to_vec(), &genesis.params);
    s.put(GENESIS_HASH_KEY.to_vec(), &genesis.hash());
    s.put(HEIGHT_KEY.to_vec(), &0u64);
    for a in &genesis.allocations {
        let acct = bank::Account {
            balance: a.amount_bones,
            nonce: 0,
        };
        s.put(bank::account_key(&a.address.key), &acct);
    }
    let mut total = genesis.total_allocation()?;
    let mut validators = Vec::new();
    for v in &genesis.validators {
        let st = staking::Stake {
            bonded: v.stake_bones,
            unbonding: depin_types::Amount::ZERO,
        };
        s.put(staking::stake_key(&v.address.key), &st);
        validators.push(v.address.key);
        total = total
            .checked_add(v.stake_bones)
            .map_err(|_| GenesisError::SupplyOverflow)?;
    }
    if !validators.is_empty() {
        s.put(staking::VALIDATORS_KEY.to_vec(), &validators);
    }
    let supply = bank::Supply {
        genesis: total,
        ..Default::default()
    };
    s.put(bank::SUPPLY_KEY.to_vec(), &supply);
    for m in &genesis.makers {
        let maker = devices::Maker {
            name: m.name.clone(),
            active: true,
        };
        s.put(devices::maker_key(&m.key.key), &maker);
    }
    for c in &genesis.device_classes {
        s.put(devices::class_key(&c.name), c);
    }
    if let Some(params) = &genesis.rewards {
        let cfg = rewards::RewardsConfig {
            genesis_time_ms: genesis.genesis_time_ms,
            params: params.clone(),
        };
        s.put(rewards::CONFIG_KEY.to_vec(), &cfg);
    }
    write_modules(genesis, modules, &mut s)?;
    Ok(s.into_writes())
}

/// Each module's genesis state, from its `module_weights` entry's parameters (none: empty).
fn write_modules(
    genesis: &Genesis,
    modules: &ModuleRegistry,
    s: &mut Overlay<'_>,
) -> Result<(), GenesisError> {
    let none = ModuleParams::default();
    for m in modules.iter() {
        let params = genesis
            .rewards
            .as_ref()
            .and_then(|r| r.module_params(m.name()))
            .unwrap_or(&none);
        m.genesis(params, s)
            .map_err(|e| GenesisError::ModuleParams {
                module: m.name().into(),
                reason: e.message,
            })?;
    }
    Ok(())
}

/// The genesis state in memory (for tests and replays).
pub fn genesis_state(
    genesis: &Genesis,
    modules: &ModuleRegistry,
) -> Result<MemState, GenesisError> {
    let mut m = MemState::default();
    m.apply(genesis_writes(genesis, modules)?);
    Ok(m)
}
