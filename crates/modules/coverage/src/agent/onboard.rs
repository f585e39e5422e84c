//! Hotspots files and fleet onboarding. A hotspots file is Helium explorer JSON
//! (`{"data": [{"address", "name", "location", …}]}`); each entry becomes one device whose
//! key is derived from the fleet seed and the entry, so a restarted fleet finds its devices
//! again. Onboarding simulates each entry's transaction first: an entry the ledger refuses
//! (no location: `location_required`) is reported with the ledger's reason code and not
//! sent; the rest go in batches with consecutive nonces of the owner.

use super::FleetError;
use depin_client::{ClientError, NodeClient};
use depin_types::tx::{Action, DeviceAction, OnboardDevice, Transaction};
use depin_types::{Address, Amount, Antenna, Hash32, Location, PublicKey, SecretKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// Largest hotspots file read, bytes.
pub const MAX_HOTSPOTS_FILE_BYTES: u64 = 1 << 30;
/// Most entries of a hotspots file.
pub const MAX_HOTSPOTS: usize = 2_000_000;
/// Onboarding transactions per batch submission.
pub const ONBOARD_BATCH_TXS: usize = 1_000;
/// Longest wait for the last onboarding to commit.
pub const ONBOARD_COMMIT_WAIT: Duration = Duration::from_secs(120);
/// Domain tag of fleet device keys.
const DOMAIN_FLEET_KEY: &[u8] = b"depin/agent/fleet-key/v1";
/// Reason code of an entry whose location is not an H3 res-12 cell.
pub const INVALID_LOCATION: &str = "invalid_location";

/// One entry of a hotspots file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct HotspotEntry {
    /// The hotspot's address in its source network (names the entry; keys derive from it).
    #[serde(default)]
    pub address: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Asserted res-12 cell (hex), if any.
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Deserialize)]
struct HotspotsFile {
    data: Vec<HotspotEntry>,
}

/// Parses a hotspots file's text.
///
/// Errors: [`FleetError::Malformed`] when it is not the explorer's JSON shape or holds more
/// than [`MAX_HOTSPOTS`] entries.
pub fn parse_hotspots(text: &str) -> Result<Vec<HotspotEntry>, FleetError> {
    let f: HotspotsFile = serde_json::from_str(text).map_err(|e| FleetError::Malformed {
        reason: e.to_string(),
    })?;
    if f.data.len() > MAX_HOTSPOTS {
        return Err(FleetError::Malformed {
            reason: format!("{} entries, limit {MAX_HOTSPOTS}", f.data.len()),
        });
    }
    Ok(f.data)
}

/// Reads a hotspots file.
///
/// Errors: [`FleetError::Io`] unreadable or over [`MAX_HOTSPOTS_FILE_BYTES`];
/// [`FleetError::Malformed`] as [`parse_hotspots`].
pub fn read_hotspots(path: &Path) -> Result<Vec<HotspotEntry>, FleetError> {
    let io = |reason: String| FleetError::Io {
        path: path.display().to_string(),
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| io(e.to_string()))?
        .len();
    if len > MAX_HOTSPOTS_FILE_BYTES {
        return Err(io(format!("{len} bytes, over {MAX_HOTSPOTS_FILE_BYTES}")));
    }
    parse_hotspots(&std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?)
}

impl HotspotEntry {
    /// The asserted location, `None` when the entry has none.
    ///
    /// Errors: the reason, when the location is not an H3 res-12 cell.
    pub fn location(&self) -> Result<Option<Location>, String> {
        self.location
            .as_deref()
            .map(|l| Location::parse(l).map_err(|e| e.to_string()))
            .transpose()
    }
}

/// The device key of entry `index` of a fleet: `SHA-256(domain ‖ seed ‖ index ‖ address)`.
pub fn device_key(fleet_seed: &[u8; 32], index: usize, entry: &HotspotEntry) -> SecretKey {
    let seed: [u8; 32] = Sha256::new()
        .chain_update(DOMAIN_FLEET_KEY)
        .chain_update(fleet_seed)
        .chain_update((index as u64).to_be_bytes())
        .chain_update(entry.address.as_deref().unwrap_or_default())
        .finalize()
        .into();
    SecretKey::from_seed(seed)
}

/// Onboardings that passed simulation, sent with consecutive nonces from `first_nonce`.
struct Ready<'k> {
    chain_id: &'k str,
    fee: Amount,
    first_nonce: u64,
    /// `(entry index, the signed onboarding)`.
    entries: Vec<(usize, OnboardDevice)>,
}

/// Who pays and approves a fleet's onboarding.
pub struct Onboarder<'a> {
    /// The node.
    pub node: &'a NodeClient,
    /// The owner account (pays fees; owns the devices).
    pub owner: &'a SecretKey,
    /// The maker approving the devices (one of genesis `makers`).
    pub maker: &'a SecretKey,
    /// Device class (`hotspot`).
    pub class: &'a str,
    /// Antenna asserted for every device.
    pub antenna: Antenna,
}

/// What onboarding did, by entry index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OnboardOutcome {
    /// Entries onboarded now.
    pub onboarded: BTreeSet<usize>,
    /// Entries already on the ledger.
    pub existing: BTreeSet<usize>,
    /// Entries refused, by reason code.
    pub refused: BTreeMap<String, BTreeSet<usize>>,
}

impl OnboardOutcome {
    /// Entries that are devices now (onboarded or existing).
    pub fn devices(&self) -> BTreeSet<usize> {
        self.onboarded.union(&self.existing).copied().collect()
    }

    fn refuse(&mut self, index: usize, code: &str) {
        self.refused
            .entry(code.to_string())
            .or_default()
            .insert(index);
    }
}

fn refusal_code(e: &ClientError) -> Option<String> {
    match e {
        ClientError::Rejected { code, .. } => Some(code.clone()),
        _ => None,
    }
}

impl Onboarder<'_> {
    /// The onboarding of `device` at `location`, with the device's and the maker's
    /// signatures (made once; the owner's transaction around it is signed per nonce).
    fn onboarding(
        &self,
        chain_id: &str,
        device: &SecretKey,
        location: Option<Location>,
    ) -> OnboardDevice {
        let owner = self.owner.public();
        let mut o =
            OnboardDevice::signed_by(chain_id, device, &owner, self.maker, self.class, location);
        o.antenna = location.map(|_| self.antenna);
        o
    }

    /// The owner's transaction carrying `onboarding` with `nonce`.
    fn tx(
        &self,
        chain_id: &str,
        fee: Amount,
        nonce: u64,
        onboarding: OnboardDevice,
    ) -> depin_types::SignedTransaction {
        Transaction {
            chain_id: chain_id.to_string(),
            signer: self.owner.public(),
            nonce,
            fee,
            action: Action::Devices(DeviceAction::Onboard(onboarding)),
        }
        .sign(self.owner)
    }

    async fn existing(&self) -> Result<BTreeSet<PublicKey>, FleetError> {
        let (_, views) = self.node.all_devices(None).await?;
        let mut out = BTreeSet::new();
        for v in views {
            if let Ok(a) = v.address.parse::<Address>() {
                out.insert(a.key);
            }
        }
        Ok(out)
    }

    /// Onboards `members` (entry index, device key, entry) not yet on the ledger; calls
    /// `progress(done, total)` as entries are checked.
    ///
    /// Errors: [`FleetError::Client`] when the node cannot be reached or refuses a checked
    /// transaction at submission; [`FleetError::Onboarding`] when one does not commit.
    pub async fn onboard(
        &self,
        members: &[(usize, SecretKey, &HotspotEntry)],
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<OnboardOutcome, FleetError> {
        let chain = self.node.chain().await?;
        let fee = Amount(
            chain
                .min_fee_bones
                .parse()
                .map_err(|_| FleetError::Malformed {
                    reason: format!("min fee {:?}", chain.min_fee_bones),
                })?,
        );
        let next = self
            .node
            .account(&self.owner.public().to_hex())
            .await?
            .next_nonce;
        let existing = self.existing().await?;
        let mut out = OnboardOutcome::default();
        let mut ready = Vec::new();
        for (done, (index, key, entry)) in members.iter().enumerate() {
            progress(done, members.len());
            if existing.contains(&key.public()) {
                out.existing.insert(*index);
                continue;
            }
            let location = match entry.location() {
                Ok(l) => l,
                Err(_) => {
                    out.refuse(*index, INVALID_LOCATION);
                    continue;
                }
            };
            let onboarding = self.onboarding(&chain.chain_id, key, location);
            let simulated = self.tx(&chain.chain_id, fee, next, onboarding.clone());
            match self.node.simulate(&simulated).await {
                Ok(_) => ready.push((*index, onboarding)),
                Err(e) => out.refuse(*index, &refusal_code(&e).ok_or(FleetError::Client(e))?),
            }
        }
        progress(members.len(), members.len());
        let batch = Ready {
            chain_id: &chain.chain_id,
            fee,
            first_nonce: next,
            entries: ready,
        };
        self.submit(&batch, &mut out).await?;
        Ok(out)
    }

    /// The onboarding of `batch`'s entry `i`, with its nonce.
    fn ready_tx(&self, batch: &Ready<'_>, i: usize) -> depin_types::SignedTransaction {
        let nonce = batch.first_nonce + i as u64;
        self.tx(batch.chain_id, batch.fee, nonce, batch.entries[i].1.clone())
    }

    async fn submit(&self, batch: &Ready<'_>, out: &mut OnboardOutcome) -> Result<(), FleetError> {
        let mut ids: Vec<Hash32> = Vec::with_capacity(batch.entries.len());
        let all: Vec<usize> = (0..batch.entries.len()).collect();
        for chunk in all.chunks(ONBOARD_BATCH_TXS) {
            let txs: Vec<_> = chunk.iter().map(|&i| self.ready_tx(batch, i)).collect();
            ids.extend(txs.iter().map(depin_types::SignedTransaction::id));
            let reply = self.node.submit_batch(&txs).await?;
            for (&i, item) in chunk.iter().zip(&reply.results) {
                let index = batch.entries[i].0;
                if let Some(e) = &item.error {
                    let reason = format!("{}: {}", e.code, e.message);
                    return Err(FleetError::Onboarding { index, reason });
                }
                out.onboarded.insert(index);
            }
        }
        if let Some(id) = ids.last() {
            let wait = self.node.wait_committed(id, ONBOARD_COMMIT_WAIT).await;
            wait.map_err(|e| FleetError::Onboarding {
                index: batch.entries.last().map_or(0, |r| r.0),
                reason: e.to_string(),
            })?;
        }
        self.settle_failures(batch, &ids, out).await
    }

    /// Moves entries whose committed onboarding (transaction `ids[i]` for entry `i`) failed
    /// in execution to `refused`, with the receipt's code.
    async fn settle_failures(
        &self,
        batch: &Ready<'_>,
        ids: &[Hash32],
        out: &mut OnboardOutcome,
    ) -> Result<(), FleetError> {
        let now = self.existing().await?;
        for ((index, onboarding), id) in batch.entries.iter().zip(ids) {
            if now.contains(&onboarding.device) {
                continue;
            }
            let status = self.node.tx_status(id).await?;
            let code = status
                .receipt
                .and_then(|r| r.code)
                .unwrap_or_else(|| status.status.clone());
            out.onboarded.remove(index);
            out.refuse(*index, &code);
        }
        Ok(())
    }
}
