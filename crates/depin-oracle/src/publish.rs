//! The published directory: one folder per settled epoch with `inputs.bin` (borsh
//! [`EpochInputs`]), `verdicts.bin` (borsh [`ReportVerdicts`]) and `manifest.json`.
//! The manifest is written last, by rename after fsync, so its presence marks a settled epoch.

use crate::settle::{EpochInputs, Manifest, ReportVerdicts, Settlement};
use depin_types::Hash32;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors of the published directory.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The file system failed.
    #[error("published directory i/o at {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A published file does not decode.
    #[error("published file {path} does not decode: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Most settled epochs listed at once.
pub const MAX_LISTED_EPOCHS: usize = 10_000;

/// The published directory.
#[derive(Clone, Debug)]
pub struct Published {
    dir: PathBuf,
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

impl Published {
    /// The directory (created on first write).
    pub fn new(dir: &Path) -> Published {
        Published {
            dir: dir.to_path_buf(),
        }
    }

    /// Folder of `epoch`.
    pub fn epoch_dir(&self, epoch: u64) -> PathBuf {
        self.dir.join(format!("epoch-{epoch:010}"))
    }

    /// Writes a settled epoch: `inputs`, its encoding `inputs_bin` (what `inputs.bin` holds
    /// and the manifest's digest hashes) and its settlement; returns its verdicts with their
    /// report ids (as written to `verdicts.bin`).
    ///
    /// Errors: i/o. Panics if `s` is not the settlement of `inputs` (a caller's bug).
    pub fn write(
        &self,
        (inputs, inputs_bin): (&EpochInputs, &[u8]),
        s: &Settlement,
    ) -> Result<ReportVerdicts, PublishError> {
        debug_assert_eq!(
            crate::settle::inputs_digest(inputs_bin).to_hex(),
            s.manifest.inputs_digest,
            "the settlement of these bytes"
        );
        let d = self.epoch_dir(inputs.header.epoch);
        std::fs::create_dir_all(&d).map_err(io(&d))?;
        write_synced(&d.join("inputs.bin"), inputs_bin)?;
        let verdicts = ReportVerdicts::of(&inputs.reports, s.verdicts.clone())
            .expect("one verdict per input report");
        let bytes = borsh::to_vec(&verdicts).expect("writing to a Vec cannot fail");
        write_synced(&d.join("verdicts.bin"), &bytes)?;
        let carry = borsh::to_vec(&s.carry).expect("writing to a Vec cannot fail");
        write_synced(&d.join("carry.bin"), &carry)?;
        let manifest =
            serde_json::to_vec_pretty(&s.manifest).expect("a manifest always serializes");
        write_synced(&self.manifest_path(inputs.header.epoch), &manifest)?;
        std::fs::File::open(&d)
            .and_then(|f| f.sync_all())
            .map_err(io(&d))?;
        Ok(verdicts)
    }

    /// Settled epochs, ascending.
    ///
    /// Errors: i/o.
    pub fn settled(&self) -> Result<Vec<u64>, PublishError> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let e = e.map_err(io(&self.dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(n) = name
                .strip_prefix("epoch-")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            if self.manifest_path(n).exists() {
                out.push(n);
            }
        }
        out.sort_unstable();
        out.truncate(MAX_LISTED_EPOCHS);
        Ok(out)
    }

    /// The module state carried out of `epoch` (`None` if the epoch is not published here).
    ///
    /// Errors: i/o, or a `carry.bin` that does not decode.
    pub fn carry(&self, epoch: u64) -> Result<Option<BTreeMap<String, Vec<u8>>>, PublishError> {
        if !self.manifest_path(epoch).exists() {
            return Ok(None);
        }
        let p = self.epoch_dir(epoch).join("carry.bin");
        let Some(bytes) = read_opt(&p)? else {
            return Ok(Some(BTreeMap::new()));
        };
        borsh::from_slice(&bytes)
            .map(Some)
            .map_err(|e| PublishError::Decode {
                path: p.clone(),
                reason: e.to_string(),
            })
    }

    fn manifest_path(&self, epoch: u64) -> PathBuf {
        self.epoch_dir(epoch).join("manifest.json")
    }

    /// The raw `manifest.json` of `epoch`, if settled.
    ///
    /// Errors: i/o.
    pub fn manifest_bytes(&self, epoch: u64) -> Result<Option<Vec<u8>>, PublishError> {
        read_opt(&self.manifest_path(epoch))
    }

    /// The manifest of `epoch`, if settled.
    ///
    /// Errors: i/o or a manifest that does not decode.
    pub fn manifest(&self, epoch: u64) -> Result<Option<Manifest>, PublishError> {
        let p = self.manifest_path(epoch);
        let Some(bytes) = read_opt(&p)? else {
            return Ok(None);
        };
        let m = serde_json::from_slice(&bytes).map_err(|e| PublishError::Decode {
            path: p,
            reason: e.to_string(),
        })?;
        Ok(Some(m))
    }

    /// The raw `inputs.bin` of `epoch`, if settled.
    ///
    /// Errors: i/o.
    pub fn inputs_bytes(&self, epoch: u64) -> Result<Option<Vec<u8>>, PublishError> {
        if !self.manifest_path(epoch).exists() {
            return Ok(None);
        }
        read_opt(&self.epoch_dir(epoch).join("inputs.bin"))
    }

    /// The verdicts of `device`'s reports in settled `epoch`, by reason code, and how many
    /// reports it had; `None` when the epoch is not settled.
    ///
    /// Errors: i/o or a file that does not decode.
    pub fn device_verdicts(
        &self,
        epoch: u64,
        device: &depin_types::PublicKey,
    ) -> Result<Option<DeviceVerdicts>, PublishError> {
        let Some(bytes) = self.inputs_bytes(epoch)? else {
            return Ok(None);
        };
        let path = self.epoch_dir(epoch).join("inputs.bin");
        let inputs: EpochInputs = borsh::from_slice(&bytes).map_err(|e| PublishError::Decode {
            path,
            reason: e.to_string(),
        })?;
        let ids: std::collections::BTreeSet<Hash32> = inputs
            .reports
            .iter()
            .filter(|r| r.report.device == *device)
            .map(depin_types::SignedReport::id)
            .collect();
        let verdicts = self.verdicts(epoch)?;
        let mine = verdicts
            .iter()
            .filter(|(id, _)| ids.contains(id))
            .map(|(_, v)| v);
        Ok(Some((ids.len() as u64, depin_module::verdict_counts(mine))))
    }

    /// The verdicts of `epoch` (empty if not settled).
    ///
    /// Errors: i/o or a file that does not decode.
    pub fn verdicts(&self, epoch: u64) -> Result<ReportVerdicts, PublishError> {
        let p = self.epoch_dir(epoch).join("verdicts.bin");
        let Some(bytes) = read_opt(&p)? else {
            return Ok(ReportVerdicts::default());
        };
        borsh::from_slice(&bytes).map_err(|e| PublishError::Decode {
            path: p,
            reason: e.to_string(),
        })
    }
}

/// A device's reports in an epoch and their verdicts by reason code.
pub type DeviceVerdicts = (u64, BTreeMap<String, u64>);

fn read_opt(p: &Path) -> Result<Option<Vec<u8>>, PublishError> {
    match std::fs::read(p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PublishError::Io {
            path: p.to_path_buf(),
            source: e,
        }),
    }
}
