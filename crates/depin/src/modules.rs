//! The one place resource modules are registered. The node (ledger components and API
//! routes, [`node_modules`]), the oracle, `depin rewards verify` and `node init` get their
//! modules from here; nothing else in the engine names a module.
//!
//! Modules are configured from the genesis `rewards.module_weights[].params` (also carried in
//! each epoch's published inputs) and, for `coverage`, a LoRaWAN region catalog directory
//! (`--regions DIR`, Helium's `lorawan-h3` layout: `serialized/*.res7.h3idx` and
//! `region_params/*.json`). Without a catalog every hotspot is in no region and cannot
//! beacon (`invalid_region`).

use anyhow::{bail, Context, Result};
use depin_module::ResourceModule;
use depin_module_coverage::{CoverageModule, CoverageParams, RegionCatalog};
use depin_module_storage::types::StorageParams;
use depin_module_storage::StorageModule;
use depin_types::genesis::{module_params, ModuleWeight};
use std::path::Path;
use std::sync::Arc;

/// The modules' node parts: ledger components and API routes (for `node start`, `node
/// replay`, devnet and the benches).
pub fn node_modules() -> depin_node::NodeModules {
    depin_node::NodeModules::new(vec![depin_module_storage::api::node_module()])
        .expect("the registered modules' names and state prefixes do not clash")
}

/// Every resource module with default parameters, in a fixed order (for `node init`, which
/// asks them for their classes and genesis parameters, and for benches).
pub fn registry() -> Vec<Arc<dyn ResourceModule>> {
    configured(&[], None, None).expect("default module parameters are valid")
}

/// The modules as configured by `weights` (genesis or published inputs), with the region
/// catalog under `regions`.
///
/// Errors: invalid module parameters, a beacon interval that does not divide the epoch, or an
/// unreadable region catalog.
pub fn configured(
    weights: &[ModuleWeight],
    epoch_length_ms: Option<u64>,
    regions: Option<&Path>,
) -> Result<Vec<Arc<dyn ResourceModule>>> {
    let params = module_params(weights, depin_module_coverage::NAME).map_or("", |p| p.as_json());
    let params = CoverageParams::from_json(params).context("coverage params in genesis")?;
    if let Some(len) = epoch_length_ms {
        if len % params.beacon_interval_ms != 0 {
            bail!(
                "coverage beacon_interval_ms {} does not divide the epoch length {len} ms",
                params.beacon_interval_ms
            );
        }
    }
    let catalog = match regions {
        Some(dir) => RegionCatalog::load(dir)
            .with_context(|| format!("loading the region catalog {}", dir.display()))?,
        None => RegionCatalog::default(),
    };
    let coverage = CoverageModule::new(params, catalog)?;
    let storage = module_params(weights, depin_module_storage::types::MODULE)
        .cloned()
        .unwrap_or_default();
    let storage = StorageParams::from_module_params(&storage)
        .map_err(|e| anyhow::anyhow!("storage params in genesis: {e}"))?;
    Ok(vec![
        Arc::new(depin_module_heartbeat::Heartbeat),
        Arc::new(coverage),
        Arc::new(StorageModule::new(storage)),
    ])
}
