//! The module SDK's registration point. A resource module crate exports one
//! [`Registration`] (feature `registration` of the crate, by convention); the binary lists
//! the registrations once (`crates/depin/src/modules.rs`, the only file that names modules)
//! and [`Modules`] hands each part to the engine:
//!
//! - the node: ledger components and API routes ([`Modules::node`]);
//! - the oracle and `rewards verify`: verifiers configured from genesis parameters
//!   ([`Modules::verifiers`]);
//! - `node init`: device classes and genesis parameters of every module
//!   ([`Modules::defaults`]);
//! - the binary: the modules' commands and agent roles ([`Modules::commands`]).
//!
//! How to write a module: `docs/MODULES.md`.

pub use depin_cli::module::{ModuleCli, ModuleCommands};
use depin_ledger::module::{LedgerModule, RegistryError};
use depin_module::ResourceModule;
use depin_node::{NodeModule, NodeModules};
use depin_types::genesis::{module_params, ModuleParams, ModuleWeight};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Most modules one binary registers.
pub const MAX_REGISTRATIONS: usize = 64;

/// What a verifier is built from: the module's genesis parameters, the chain's epoch length
/// (when known) and the operator's module options.
#[derive(Clone, Copy, Debug)]
pub struct VerifierConfig<'a> {
    /// The module's `module_weights` entry's parameters (empty: its defaults).
    pub params: &'a ModuleParams,
    /// The chain's epoch length, ms (`None` where no chain is known, e.g. defaults).
    pub epoch_length_ms: Option<u64>,
    /// Module options from the command line, by name (e.g. `regions` → a directory).
    pub options: &'a ModuleOptions,
}

/// Module options given by an operator (e.g. `--regions DIR` → `("regions", DIR)`).
pub type ModuleOptions = BTreeMap<&'static str, PathBuf>;

/// Builds a module's verifier, or says why it cannot run with this configuration.
pub type VerifierFactory = fn(&VerifierConfig<'_>) -> Result<Arc<dyn ResourceModule>, String>;

/// Everything the engine needs of one module: the value its crate exports.
#[derive(Clone)]
pub struct Registration {
    /// The module's name (its reports', transactions' and genesis entry's `module`).
    pub name: &'static str,
    /// Its oracle verifier, if it rewards reports.
    pub verifier: Option<VerifierFactory>,
    /// Its ledger component, if it keeps state on the chain.
    pub ledger: Option<fn() -> Arc<dyn LedgerModule>>,
    /// Its node API routes and their OpenAPI document, if it serves any.
    pub routes: Option<Routes>,
    /// Its commands (`depin <noun> …`) and agent roles (`depin agent <role>`), if any.
    pub cli: Option<ModuleCli>,
}

/// A module's node routes (see [`NodeModule`]).
#[derive(Clone, Copy)]
pub struct Routes {
    /// The routes.
    pub routes: fn() -> depin_node::api::ModuleRouter,
    /// Their OpenAPI document.
    pub openapi: fn() -> depin_node::api::OpenApiDoc,
}

/// Why the registered modules cannot be assembled.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SdkError {
    /// Two registrations with one name, or more than [`MAX_REGISTRATIONS`].
    #[error("module registrations: {reason}")]
    Registrations {
        /// Why.
        reason: String,
    },
    /// A verifier factory and a registration disagree on the module's name.
    #[error("module {registered} built a verifier named {built}")]
    NameMismatch {
        /// The registration's name.
        registered: &'static str,
        /// The verifier's.
        built: &'static str,
    },
    /// A module refused its configuration.
    #[error("module {module}: {reason}")]
    Config {
        /// The module.
        module: &'static str,
        /// Why.
        reason: String,
    },
    /// Ledger components that cannot be registered together.
    #[error(transparent)]
    Ledger(#[from] RegistryError),
    /// Module commands that clash with each other.
    #[error("module commands: {reason}")]
    Commands {
        /// Why.
        reason: String,
    },
}

/// The registered modules, in registration order (the order verifiers run and pools are
/// listed in).
#[derive(Clone, Default)]
pub struct Modules {
    list: Vec<Registration>,
}

impl Modules {
    /// The modules of `list`.
    ///
    /// Errors: [`SdkError::Registrations`] for a name twice or too many.
    pub fn new(list: Vec<Registration>) -> Result<Modules, SdkError> {
        if list.len() > MAX_REGISTRATIONS {
            let reason = format!("{} registrations, at most {MAX_REGISTRATIONS}", list.len());
            return Err(SdkError::Registrations { reason });
        }
        for (i, r) in list.iter().enumerate() {
            if list[..i].iter().any(|o| o.name == r.name) {
                let reason = format!("{} is registered twice", r.name);
                return Err(SdkError::Registrations { reason });
            }
        }
        Ok(Modules { list })
    }

    /// Every registration, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Registration> {
        self.list.iter()
    }

    /// The node's part: every ledger component and every module's routes.
    ///
    /// Errors: clashing ledger components.
    pub fn node(&self) -> Result<NodeModules, SdkError> {
        let mut parts = Vec::new();
        for r in &self.list {
            if r.ledger.is_none() && r.routes.is_none() {
                continue;
            }
            let routes = r.routes.unwrap_or(Routes {
                routes: depin_node::api::ModuleRouter::new,
                openapi: depin_node::api::OpenApiDoc::default,
            });
            parts.push(NodeModule {
                ledger: r.ledger.map(|ledger| ledger()),
                routes: routes.routes,
                openapi: routes.openapi,
            });
        }
        Ok(NodeModules::new(parts)?)
    }

    /// The verifiers as configured by `weights` (genesis or an epoch's published inputs), for
    /// a chain with epochs of `epoch_length_ms`, with the operator's `options`.
    ///
    /// Errors: [`SdkError::Config`] when a module refuses its configuration.
    pub fn verifiers(
        &self,
        weights: &[ModuleWeight],
        epoch_length_ms: Option<u64>,
        options: &ModuleOptions,
    ) -> Result<Vec<Arc<dyn ResourceModule>>, SdkError> {
        let none = ModuleParams::default();
        let mut out = Vec::new();
        for r in &self.list {
            let Some(factory) = r.verifier else { continue };
            let config = VerifierConfig {
                params: module_params(weights, r.name).unwrap_or(&none),
                epoch_length_ms,
                options,
            };
            let v = factory(&config).map_err(|reason| SdkError::Config {
                module: r.name,
                reason,
            })?;
            if v.name() != r.name {
                return Err(SdkError::NameMismatch {
                    registered: r.name,
                    built: v.name(),
                });
            }
            out.push(v);
        }
        Ok(out)
    }

    /// Every module's commands and agent roles, in registration order.
    ///
    /// Errors: [`SdkError::Commands`] when two modules add a command of one name.
    pub fn commands(&self) -> Result<ModuleCommands, SdkError> {
        ModuleCommands::new(self.list.iter().filter_map(|r| r.cli.as_ref()))
            .map_err(|reason| SdkError::Commands { reason })
    }

    /// Every verifier with its default parameters (for `node init`, which asks them for their
    /// device classes and genesis parameters, and for benches).
    ///
    /// Errors: a module whose defaults it refuses (a bug of that module).
    pub fn defaults(&self) -> Result<Vec<Arc<dyn ResourceModule>>, SdkError> {
        self.verifiers(&[], None, &ModuleOptions::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_module::testkit::{Probe, PROBE};

    fn probe(name: &'static str) -> Registration {
        Registration {
            name,
            verifier: Some(|_| Ok(Arc::new(Probe))),
            ledger: None,
            routes: None,
            cli: None,
        }
    }

    #[test]
    fn a_module_registered_twice_is_refused() {
        let twice = Modules::new(vec![probe(PROBE), probe(PROBE)]);
        assert!(matches!(twice, Err(SdkError::Registrations { .. })));
    }

    #[test]
    fn verifiers_are_built_in_registration_order_and_must_carry_their_registered_name() {
        let m = Modules::new(vec![probe(PROBE)]).unwrap();
        let names: Vec<_> = m.defaults().unwrap().iter().map(|v| v.name()).collect();
        assert_eq!(names, [PROBE]);
        let wrong = Modules::new(vec![probe("other")]).unwrap();
        assert!(matches!(
            wrong.defaults(),
            Err(SdkError::NameMismatch {
                registered: "other",
                built: PROBE
            })
        ));
    }

    #[test]
    fn a_module_refusing_its_parameters_names_itself_in_the_error() {
        let refusing = Registration {
            verifier: Some(|c| Err(format!("bad params {:?}", c.params.as_json()))),
            ..probe(PROBE)
        };
        let m = Modules::new(vec![refusing]).unwrap();
        let err = m.defaults().err().unwrap();
        assert!(
            matches!(err, SdkError::Config { module: PROBE, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_module_with_routes_and_no_ledger_component_is_served_without_one() {
        let routes = Registration {
            routes: Some(Routes {
                routes: depin_node::api::ModuleRouter::new,
                openapi: depin_node::api::OpenApiDoc::default,
            }),
            ..probe(PROBE)
        };
        let m = Modules::new(vec![routes, probe("other")]).unwrap();
        let node = m.node().unwrap();
        assert_eq!(node.ledger().iter().count(), 0);
    }
}
