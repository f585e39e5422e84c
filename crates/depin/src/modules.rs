//! The one place resource modules are registered: one line per module crate, its
//! `registration()`. The node (ledger components and API routes), the oracle, `depin rewards
//! verify` and `node init` get their modules from here, through [`depin_sdk::Modules`];
//! nothing else in the engine names a module.
//!
//! Verifiers are configured from the genesis `rewards.module_weights[].params` (also carried
//! in each epoch's published inputs) and the operator's module options (`--regions DIR`:
//! coverage's LoRaWAN region catalog).

use anyhow::Result;
use depin_module::ResourceModule;
use depin_sdk::{ModuleOptions, Modules};
use depin_types::genesis::ModuleWeight;
use std::path::Path;
use std::sync::Arc;

/// The registered modules, in the order their verifiers run.
pub fn modules() -> Modules {
    Modules::new(vec![
        depin_module_heartbeat::registration(),
        depin_module_coverage::registration(),
        depin_module_storage::registration(),
    ])
    .expect("each module is registered once")
}

/// The modules' node parts: ledger components and API routes (for `node start`, `node
/// replay`, devnet and the benches).
pub fn node_modules() -> depin_node::NodeModules {
    modules()
        .node()
        .expect("the registered modules' names and state prefixes do not clash")
}

/// Every verifier with default parameters, in registration order (for `node init`, which asks
/// them for their classes and genesis parameters, and for benches).
pub fn registry() -> Vec<Arc<dyn ResourceModule>> {
    modules()
        .defaults()
        .expect("default module parameters are valid")
}

/// The verifiers as configured by `weights` (genesis or published inputs), with the region
/// catalog under `regions`.
///
/// Errors: a module refuses its parameters (e.g. a coverage beacon interval that does not
/// divide the epoch) or an option (an unreadable region catalog).
pub fn configured(
    weights: &[ModuleWeight],
    epoch_length_ms: Option<u64>,
    regions: Option<&Path>,
) -> Result<Vec<Arc<dyn ResourceModule>>> {
    let mut options = ModuleOptions::new();
    if let Some(dir) = regions {
        options.insert(
            depin_module_coverage::registration::REGIONS_OPTION,
            dir.to_path_buf(),
        );
    }
    Ok(modules().verifiers(weights, epoch_length_ms, &options)?)
}
