//! The coverage module's registration (feature `registration`): its verifier, configured from
//! its genesis parameters and the operator's LoRaWAN region catalog (`--regions DIR`,
//! Helium's `lorawan-h3` layout: `serialized/*.res7.h3idx` and `region_params/*.json`;
//! without one every hotspot is in no region and cannot beacon, `invalid_region`).

use crate::{CoverageModule, CoverageParams, RegionCatalog, NAME};
use depin_sdk::{Registration, Routes, VerifierConfig};
use std::sync::Arc;

/// The option naming the region catalog directory.
pub const REGIONS_OPTION: &str = "regions";

/// The coverage module as the engine registers it: a verifier, the explorer map's node route
/// and its commands (no ledger component).
pub fn registration() -> Registration {
    Registration {
        name: NAME,
        verifier: Some(verifier),
        ledger: None,
        routes: Some(Routes {
            routes: crate::api::routes,
            openapi: crate::api::openapi,
        }),
        cli: Some(crate::cli::module_cli()),
    }
}

fn verifier(config: &VerifierConfig<'_>) -> Result<Arc<dyn depin_module::ResourceModule>, String> {
    let params = CoverageParams::from_json(config.params.as_json())
        .map_err(|e| format!("params in genesis: {e}"))?;
    if let Some(len) = config.epoch_length_ms {
        if len % params.beacon_interval_ms != 0 {
            return Err(format!(
                "beacon_interval_ms {} does not divide the epoch length {len} ms",
                params.beacon_interval_ms
            ));
        }
    }
    let catalog = match config.options.get(REGIONS_OPTION) {
        Some(dir) => RegionCatalog::load(dir)
            .map_err(|e| format!("loading the region catalog {}: {e}", dir.display()))?,
        None => RegionCatalog::default(),
    };
    let module = CoverageModule::new(params, catalog).map_err(|e| e.to_string())?;
    Ok(Arc::new(module))
}
