//! A resource module's part of the node: its ledger component (if it keeps chain state), and
//! the API routes (with their OpenAPI paths) that serve its state or its view of the core's. The binary lists the modules once; the node never
//! names one.

use crate::api::ApiState;
use depin_ledger::module::{LedgerModule, ModuleRegistry, RegistryError};
use std::sync::Arc;

/// One module, as the node runs it.
#[derive(Clone)]
pub struct NodeModule {
    /// Its ledger component (`None`: routes only, e.g. a module's view of the core registry).
    pub ledger: Option<Arc<dyn LedgerModule>>,
    /// Its API routes (by convention under `/v1/<module>/`); none may repeat a node route.
    pub routes: fn() -> axum::Router<ApiState>,
    /// The OpenAPI document of those routes, merged into the node's.
    pub openapi: fn() -> utoipa::openapi::OpenApi,
}

/// The modules a node runs: their ledger components as one [`ModuleRegistry`], and their
/// routes.
#[derive(Clone, Default)]
pub struct NodeModules {
    list: Vec<NodeModule>,
    ledger: ModuleRegistry,
}

impl NodeModules {
    /// No module: a chain of core components.
    pub fn none() -> NodeModules {
        NodeModules::default()
    }

    /// The node parts of `list`.
    ///
    /// Errors: the ledger components cannot be registered together ([`RegistryError`]).
    pub fn new(list: Vec<NodeModule>) -> Result<NodeModules, RegistryError> {
        let ledger = ModuleRegistry::new(list.iter().filter_map(|m| m.ledger.clone()).collect())?;
        Ok(NodeModules { list, ledger })
    }

    /// The ledger components.
    pub fn ledger(&self) -> &ModuleRegistry {
        &self.ledger
    }

    /// Every module's routes, merged.
    pub fn routes(&self) -> axum::Router<ApiState> {
        self.list
            .iter()
            .fold(axum::Router::new(), |r, m| r.merge((m.routes)()))
    }

    /// `doc` with every module's OpenAPI paths merged in.
    pub fn merge_openapi(&self, mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
        for m in &self.list {
            doc.merge((m.openapi)());
        }
        doc
    }
}
