//! Node configuration: `config.toml` in the node's home directory.
//!
//! Precedence, lowest to highest:
//! 1. built-in defaults ([`NodeConfig::default`]);
//! 2. `<home>/config.toml`;
//! 3. environment variables `DEPIN_<SECTION>_<KEY>` (e.g. `DEPIN_API_LISTEN`,
//!    `DEPIN_MEMPOOL_MAX_TXS`, `DEPIN_LOG_FORMAT`), applied by [`NodeConfig::apply_env`];
//! 4. command-line flags (applied by the `depin` binary).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The node's configuration file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// REST API.
    pub api: ApiConfig,
    /// Prometheus metrics.
    pub metrics: MetricsConfig,
    /// Mempool bounds.
    pub mempool: MempoolConfig,
    /// Logging.
    pub log: LogConfig,
}

/// `[api]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Listen address of the REST API, e.g. `127.0.0.1:7650`.
    pub listen: String,
    /// Largest accepted request body (batch submissions included), in bytes.
    pub max_body_bytes: u64,
    /// Most transactions in one batch submission.
    pub max_batch_txs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: "127.0.0.1:7650".into(),
            max_body_bytes: 16 * 1024 * 1024,
            max_batch_txs: 10_000,
        }
    }
}

/// `[metrics]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Extra listen address serving only `/metrics` (empty: off). `/metrics` is always on the
    /// API address too.
    pub listen: String,
}

/// `[mempool]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most pending transactions.
    pub max_txs: u64,
    /// Most pending transactions per account.
    pub max_per_account: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 200_000,
            max_per_account: 10_000,
        }
    }
}

/// `[log]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `terminal` or `json`.
    pub format: String,
    /// A `tracing` filter, e.g. `info` or `depin_node=debug`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "terminal".into(),
            filter: "info".into(),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// An environment override that does not parse.
    #[error("invalid value {value:?} in {var}: expected {expected}")]
    Env {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
        /// The expected type.
        expected: &'static str,
    },
}

impl NodeConfig {
    /// Loads `path` over the defaults (a missing file means defaults).
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let p = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: p,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NodeConfig::default()),
            Err(source) => Err(ConfigError::Io { path: p, source }),
        }
    }

    /// Applies `DEPIN_<SECTION>_<KEY>` overrides from `vars` (usually `std::env::vars()`).
    /// Unknown `DEPIN_*` variables are ignored (other commands use them too).
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (var, value) in vars {
            let v = value.clone();
            let num = |expected| -> Result<u64, ConfigError> {
                v.parse().map_err(|_| ConfigError::Env {
                    var: var.clone(),
                    value: v.clone(),
                    expected,
                })
            };
            match var.as_str() {
                "DEPIN_API_LISTEN" => self.api.listen = value,
                "DEPIN_API_MAX_BODY_BYTES" => self.api.max_body_bytes = num("an integer")?,
                "DEPIN_API_MAX_BATCH_TXS" => self.api.max_batch_txs = num("an integer")?,
                "DEPIN_METRICS_LISTEN" => self.metrics.listen = value,
                "DEPIN_MEMPOOL_MAX_TXS" => self.mempool.max_txs = num("an integer")?,
                "DEPIN_MEMPOOL_MAX_PER_ACCOUNT" => {
                    self.mempool.max_per_account = num("an integer")?
                }
                "DEPIN_LOG_FORMAT" => self.log.format = value,
                "DEPIN_LOG_FILTER" => self.log.filter = value,
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[api]\nlisten = \"127.0.0.1:1\"\n[mempool]\nmax_txs = 5\n",
        )
        .unwrap();
        let mut c = NodeConfig::load(&path).unwrap();
        assert_eq!(c.api.listen, "127.0.0.1:1");
        assert_eq!(
            c.mempool.max_per_account,
            MempoolConfig::default().max_per_account
        );
        c.apply_env([("DEPIN_MEMPOOL_MAX_TXS".to_string(), "7".to_string())])
            .unwrap();
        assert_eq!(c.mempool.max_txs, 7);
        assert!(c
            .apply_env([("DEPIN_MEMPOOL_MAX_TXS".to_string(), "x".to_string())])
            .is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[api]\nlisten_typo = \"x\"\n").unwrap();
        assert!(matches!(
            NodeConfig::load(&path),
            Err(ConfigError::Parse { .. })
        ));
    }
}
