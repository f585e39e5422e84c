//! The heartbeat module's registration (feature `registration`): a verifier without
//! parameters and the agent role `depin agent heartbeat`.

use crate::{Heartbeat, NAME};
use depin_sdk::Registration;
use std::sync::Arc;

/// The heartbeat module as the engine registers it.
pub fn registration() -> Registration {
    Registration {
        name: NAME,
        verifier: Some(|_| Ok(Arc::new(Heartbeat))),
        ledger: None,
        routes: None,
        cli: Some(crate::cli::module_cli()),
    }
}
