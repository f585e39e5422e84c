//! What the oracle reads from the node for an epoch: its entropy (hash of its first block)
//! and the device registry at its last block. Followers and `depin rewards verify` read the
//! same and compare with the published inputs.

use depin_api::DeviceView;
use depin_client::{ClientError, NodeClient};
use depin_module::{DeviceInfo, LedgerSnapshot};
use depin_types::{Address, Amount, Antenna, Hash32, Location, PublicKey};
use std::collections::BTreeMap;

/// Errors reading the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The node call failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The node's reply does not parse.
    #[error("node returned an unparsable {what}: {value}")]
    Parse {
        /// What field.
        what: &'static str,
        /// The value.
        value: String,
    },
}

fn parse<T: std::str::FromStr>(what: &'static str, value: &str) -> Result<T, ChainError> {
    value.parse().map_err(|_| ChainError::Parse {
        what,
        value: value.to_string(),
    })
}

/// A device as the module contract sees it.
///
/// Errors: [`ChainError::Parse`] for a malformed address or cell.
pub fn device_info(v: &DeviceView) -> Result<DeviceInfo, ChainError> {
    let device: Address = parse("device address", &v.address)?;
    let owner: Address = parse("owner address", &v.owner)?;
    let location = v.location.as_deref().map(|l| {
        Location::parse(l).map_err(|_| ChainError::Parse {
            what: "location",
            value: l.to_string(),
        })
    });
    let location = location.transpose()?;
    Ok(DeviceInfo {
        device: device.key,
        owner: owner.key,
        class: v.class.clone(),
        location,
        antenna: v
            .gain_ddbi
            .zip(v.elevation_m)
            .map(|(gain_ddbi, elevation_m)| Antenna {
                gain_ddbi,
                elevation_m,
            }),
        active: v.status == "active",
    })
}

/// The device registry at `height` (latest when `None`), with the height read.
///
/// Errors: node or parse errors.
pub async fn registry(
    node: &NodeClient,
    height: Option<u64>,
) -> Result<(u64, BTreeMap<PublicKey, DeviceInfo>), ChainError> {
    let (at, views) = node.all_devices(height).await?;
    let mut devices: BTreeMap<PublicKey, DeviceInfo> = BTreeMap::new();
    for v in &views {
        let d = device_info(v)?;
        devices.insert(d.device, d);
    }
    Ok((at, devices))
}

/// The registry, the payers' credit balances and the modules' ledger entries under
/// `prefixes` at `height` (latest when `None`); `credit_price_bones` is the chain's (genesis)
/// credit price.
///
/// Errors: node or parse errors.
pub async fn snapshot(
    node: &NodeClient,
    height: Option<u64>,
    credit_price_bones: Amount,
    prefixes: &[&[u8]],
) -> Result<LedgerSnapshot, ChainError> {
    let (at, devices) = registry(node, height).await?;
    let (_, balances) = node.all_credits(Some(at)).await?;
    let mut credits = BTreeMap::new();
    for b in balances.into_iter().filter(|b| b.credits > 0) {
        let a: Address = parse("payer address", &b.address)?;
        credits.insert(a.key, b.credits);
    }
    let mut module_state = BTreeMap::new();
    for prefix in prefixes {
        let (_, rows) = node.all_state_rows(prefix, Some(at)).await?;
        for (key, value) in rows {
            module_state.insert([*prefix, &key[..]].concat(), value);
        }
    }
    Ok(LedgerSnapshot {
        height: at,
        devices,
        credits,
        credit_price_bones,
        module_state,
    })
}

/// The chain facts of an epoch `[start_ms, end_ms)`: `(entropy, snapshot height)`, or `None`
/// while the chain has no block at or after `end_ms` (the epoch's last block is not known).
///
/// Errors: node or parse errors.
pub async fn epoch_anchor(
    node: &NodeClient,
    start_ms: u64,
    end_ms: u64,
) -> Result<Option<(Hash32, u64)>, ChainError> {
    let Some(after) = node.first_block_at_or_after(end_ms).await? else {
        return Ok(None);
    };
    let first = node.first_block_at_or_after(start_ms).await?;
    let first = first.ok_or(ChainError::Parse {
        what: "block",
        value: "none after start".into(),
    })?;
    let entropy: Hash32 = parse("block hash", &first.hash)?;
    Ok(Some((entropy, after.height - 1)))
}

/// The ledger prefixes the `modules` read, sorted and without repeats.
pub fn state_prefixes(
    modules: &[std::sync::Arc<dyn depin_module::ResourceModule>],
) -> Vec<&'static [u8]> {
    let mut out: Vec<&'static [u8]> = modules.iter().flat_map(|m| m.state_prefixes()).collect();
    out.sort_unstable();
    out.dedup();
    out
}
