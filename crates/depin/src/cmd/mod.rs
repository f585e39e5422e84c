//! Command implementations, one module per noun.

pub mod agent;
pub mod coverage;
pub mod escrow;
pub mod node;
pub mod oracle;
pub mod query;
pub mod rewards;
pub mod storage;
pub mod tx;
pub mod wallet;

use crate::output::Format;
use std::path::PathBuf;

/// Global options every command sees.
pub struct Ctx {
    /// Output format.
    pub format: Format,
    /// Node API URL.
    pub node: String,
    /// Wallet file.
    pub wallet: PathBuf,
    /// Log format (for the node).
    pub log_format: String,
}

impl Ctx {
    /// A client of the configured node.
    pub fn client(&self) -> depin_client::NodeClient {
        depin_client::NodeClient::new(&self.node)
    }
}

/// The wallet password: `DEPIN_WALLET_PASSWORD`, else a prompt on the terminal.
pub fn password(prompt: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("DEPIN_WALLET_PASSWORD") {
        return Ok(p);
    }
    rpassword::prompt_password(prompt).map_err(|e| {
        anyhow::anyhow!(
            "cannot read a password ({e}); set DEPIN_WALLET_PASSWORD for non-interactive use"
        )
    })
}
