//! The one place resource modules are registered. The oracle, `depin rewards verify` and
//! `node init` get their modules from here; nothing else in the engine names a module.

use depin_module::ResourceModule;
use std::sync::Arc;

/// Every resource module this binary runs, in a fixed order.
pub fn registry() -> Vec<Arc<dyn ResourceModule>> {
    vec![Arc::new(depin_module_heartbeat::Heartbeat)]
}
