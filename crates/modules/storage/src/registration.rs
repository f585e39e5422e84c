//! The storage module's registration (feature `registration`): its verifier, its ledger
//! component, its node routes and its commands.

use crate::types::{StorageParams, MODULE};
use crate::{StorageLedger, StorageModule};
use depin_sdk::{Registration, Routes, VerifierConfig};
use std::sync::Arc;

/// The storage module as the engine registers it.
pub fn registration() -> Registration {
    Registration {
        name: MODULE,
        verifier: Some(verifier),
        ledger: Some(|| Arc::new(StorageLedger)),
        routes: Some(Routes {
            routes: crate::api::routes,
            openapi: crate::api::openapi,
        }),
        cli: Some(crate::cli::module_cli()),
    }
}

fn verifier(config: &VerifierConfig<'_>) -> Result<Arc<dyn depin_module::ResourceModule>, String> {
    let params = StorageParams::from_module_params(config.params)
        .map_err(|e| format!("params in genesis: {e}"))?;
    Ok(Arc::new(StorageModule::new(params)))
}
