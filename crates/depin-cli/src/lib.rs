//! The operator surface every `depin` command is built on, shared by the binary and the
//! modules' own commands (a module's `cli` part, see [`ModuleCli`]):
//!
//! - [`Ctx`]: the global options (`--format`, `--node`, `--wallet`, `--log.format`);
//! - [`output`]: JSON by default, `--format table` for people;
//! - [`wallet`]: encrypted keystore files and the password prompt;
//! - [`tx`]: one signed transaction, simulated unless `--commit`, or a batch of them;
//! - [`ModuleCli`]: the commands and agent roles a module adds to the binary;
//! - [`read_genesis`] and [`progress_bar`].
//!
//! This crate is application code (the binary's half that modules share): its functions
//! return `anyhow::Result`, as the binary's do. Libraries the engine is made of keep their
//! `thiserror` enums.

pub mod module;
pub mod output;
pub mod tx;
pub mod wallet;

pub use module::{ModuleCli, RunFn};
pub use output::{print, Format};

use anyhow::{Context, Result};
use depin_types::Genesis;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Global options every command sees.
#[derive(Clone, Debug)]
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

/// Reads and validates a genesis file.
///
/// Errors: unreadable, not TOML of a genesis, or a genesis that fails validation.
pub fn read_genesis(path: &Path) -> Result<Genesis> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let g: Genesis =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    g.validate()
        .with_context(|| format!("validating {}", path.display()))?;
    Ok(g)
}

/// A progress bar of `len` steps labelled `what` (on stderr, hidden when it is no terminal).
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec}")
            .expect("static template"),
    );
    bar.set_message(what.to_string());
    bar
}
