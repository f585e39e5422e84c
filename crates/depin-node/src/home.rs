//! The node's home directory layout:
//!
//! ```text
//! <home>/genesis.toml      the chain's genesis document
//! <home>/config.toml       node configuration (see `config`)
//! <home>/data/node.redb    the database
//! ```

use depin_types::Genesis;
use std::path::{Path, PathBuf};

/// Path of the genesis file.
pub fn genesis_path(home: &Path) -> PathBuf {
    home.join("genesis.toml")
}

/// Path of the config file.
pub fn config_path(home: &Path) -> PathBuf {
    home.join("config.toml")
}

/// Path of the database file.
pub fn db_path(home: &Path) -> PathBuf {
    home.join("data").join("node.redb")
}

/// Errors reading the home directory.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The genesis file does not parse or validate.
    #[error("invalid genesis {path}: {message}")]
    Genesis {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// Reads and validates `<home>/genesis.toml`.
pub fn read_genesis(home: &Path) -> Result<Genesis, HomeError> {
    let path = genesis_path(home);
    let p = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| HomeError::Io {
        path: p.clone(),
        source,
    })?;
    let g: Genesis = toml::from_str(&text).map_err(|e| HomeError::Genesis {
        path: p.clone(),
        message: e.to_string(),
    })?;
    g.validate().map_err(|e| HomeError::Genesis {
        path: p,
        message: e.to_string(),
    })?;
    Ok(g)
}

/// Writes `<home>/genesis.toml`.
pub fn write_genesis(home: &Path, g: &Genesis) -> Result<(), HomeError> {
    let path = genesis_path(home);
    let io = |source| HomeError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(home).map_err(io)?;
    let text = toml::to_string_pretty(g).map_err(|e| HomeError::Genesis {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, text).map_err(io)
}
