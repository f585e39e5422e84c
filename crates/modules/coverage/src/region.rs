//! LoRaWAN regions: which region a location is in (Helium's `lorawan-h3` region maps) and the
//! region's channel plan (Helium's `region_params`).
//!
//! Region map files `serialized/<REGION>.res7.h3idx` are little-endian `u64` H3 cells,
//! compacted, resolution ≤ 7; a location is in the region whose map holds one of its
//! ancestors. Channel plans `region_params/<REGION>.json` list `channel_frequency` (Hz),
//! `bandwidth` (Hz), `max_eirp` (dBm×10) and the spreading factors with their maximum packet
//! sizes. A location in no map, or in a region without a plan (`Unknown`), cannot beacon.

use h3o::{CellIndex, Resolution};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Coarsest resolution of the region maps' cells.
pub const REGION_MAP_RES: u8 = 7;
/// Largest region map file read, bytes (Helium's largest is under 1 MiB).
pub const MAX_REGION_MAP_BYTES: u64 = 64 << 20;
/// Most regions a catalog holds.
pub const MAX_REGIONS: usize = 64;

/// One channel of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Centre frequency, Hz.
    pub frequency_hz: u64,
    /// Bandwidth, Hz.
    pub bandwidth_hz: u64,
    /// Maximum EIRP, dBm × 10.
    pub max_eirp_ddbm: i32,
    /// Spreading factors allowed (e.g. `SF9`) with their largest payload, bytes.
    pub spreading: Vec<(String, u32)>,
}

/// An evenly spaced plan of `channels` 125 kHz channels from `first_hz`, 200 kHz apart, at
/// 36 dBm EIRP with SF10 (25-byte) and SF9 (67-byte) data rates: US915's uplink shape, for
/// tests, benchmarks and simulations that have no region files.
pub fn uniform_plan(first_hz: u64, channels: u64) -> Vec<Channel> {
    let spreading = vec![("SF10".to_string(), 25), ("SF9".to_string(), 67)];
    (0..channels)
        .map(|i| Channel {
            frequency_hz: first_hz + i * 200_000,
            bandwidth_hz: 125_000,
            max_eirp_ddbm: 360,
            spreading: spreading.clone(),
        })
        .collect()
}

/// Errors loading a catalog.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A map is not a whole number of u64 cells, or holds an invalid cell.
    #[error("region map {path} is malformed: {reason}")]
    BadMap {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A channel plan does not parse.
    #[error("channel plan {path} is malformed: {reason}")]
    BadPlan {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// More regions than [`MAX_REGIONS`].
    #[error("more than {max} regions")]
    TooMany {
        /// The limit.
        max: usize,
    },
}

/// Regions and their channel plans.
#[derive(Clone, Debug, Default)]
pub struct RegionCatalog {
    names: Vec<String>,
    cells: BTreeMap<u64, u16>,
    plans: BTreeMap<String, Vec<Channel>>,
    digest: [u8; 32],
}

#[derive(Deserialize)]
struct PlanFile {
    region_params: Vec<PlanEntry>,
}

#[derive(Deserialize)]
struct PlanEntry {
    channel_frequency: u64,
    bandwidth: u64,
    max_eirp: i32,
    spreading: PlanSpreading,
}

#[derive(Deserialize)]
struct PlanSpreading {
    tagged_spreading: Vec<PlanTag>,
}

#[derive(Deserialize)]
struct PlanTag {
    region_spreading: String,
    max_packet_size: u32,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegionError + '_ {
    move |source| RegionError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Parses a region map: little-endian u64 cells of resolution ≤ 7.
///
/// Errors: [`RegionError::BadMap`].
pub fn parse_map(path: &str, bytes: &[u8]) -> Result<Vec<CellIndex>, RegionError> {
    let bad = |reason: String| RegionError::BadMap {
        path: path.to_string(),
        reason,
    };
    if bytes.len() % 8 != 0 {
        return Err(bad(format!("{} bytes is not a multiple of 8", bytes.len())));
    }
    let mut out = Vec::with_capacity(bytes.len() / 8);
    for chunk in bytes.chunks_exact(8) {
        let raw = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        let cell = CellIndex::try_from(raw).map_err(|_| bad(format!("invalid cell {raw:#x}")))?;
        if u8::from(cell.resolution()) > REGION_MAP_RES {
            return Err(bad(format!(
                "cell {raw:#x} finer than res {REGION_MAP_RES}"
            )));
        }
        out.push(cell);
    }
    Ok(out)
}

/// Parses a channel plan (`region_params` JSON).
///
/// Errors: [`RegionError::BadPlan`].
pub fn parse_plan(path: &str, text: &str) -> Result<Vec<Channel>, RegionError> {
    let file: PlanFile = serde_json::from_str(text).map_err(|e| RegionError::BadPlan {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    Ok(file
        .region_params
        .into_iter()
        .map(|p| Channel {
            frequency_hz: p.channel_frequency,
            bandwidth_hz: p.bandwidth,
            max_eirp_ddbm: p.max_eirp,
            spreading: p
                .spreading
                .tagged_spreading
                .into_iter()
                .map(|t| (t.region_spreading, t.max_packet_size))
                .collect(),
        })
        .collect())
}

/// Writes a catalog in Helium's `lorawan-h3` layout under `dir`: `serialized/<region>.res7.h3idx`
/// (little-endian u64 cells) and `region_params/<region>.json` (Helium's plan JSON), so
/// that [`RegionCatalog::load`] reads back what was written.
///
/// Errors: [`RegionError::Io`] when a directory or file cannot be written.
pub fn write_catalog(
    dir: &Path,
    maps: &BTreeMap<String, Vec<CellIndex>>,
    plans: &BTreeMap<String, Vec<Channel>>,
) -> Result<(), RegionError> {
    let (serialized, params) = (dir.join("serialized"), dir.join("region_params"));
    for d in [&serialized, &params] {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    for (name, cells) in maps {
        let path = serialized.join(format!("{name}.res7.h3idx"));
        let bytes: Vec<u8> = cells
            .iter()
            .flat_map(|c| u64::from(*c).to_le_bytes())
            .collect();
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    for (name, plan) in plans {
        let path = params.join(format!("{name}.json"));
        std::fs::write(&path, plan_json(plan).to_string()).map_err(io(&path))?;
    }
    Ok(())
}

/// A plan as Helium's `region_params` JSON (what [`parse_plan`] reads).
fn plan_json(plan: &[Channel]) -> serde_json::Value {
    let entries: Vec<serde_json::Value> = plan
        .iter()
        .map(|c| {
            let tags: Vec<serde_json::Value> = c
                .spreading
                .iter()
                .map(|(sf, size)| serde_json::json!({"region_spreading": sf, "max_packet_size": size}))
                .collect();
            serde_json::json!({
                "channel_frequency": c.frequency_hz,
                "bandwidth": c.bandwidth_hz,
                "max_eirp": c.max_eirp_ddbm,
                "spreading": {"tagged_spreading": tags},
            })
        })
        .collect();
    serde_json::json!({ "region_params": entries })
}

impl RegionCatalog {
    /// Builds a catalog from parsed maps and plans (regions named in `maps`; a plan without
    /// a map is ignored).
    ///
    /// Errors: [`RegionError::TooMany`].
    pub fn new(
        maps: BTreeMap<String, Vec<CellIndex>>,
        plans: BTreeMap<String, Vec<Channel>>,
    ) -> Result<RegionCatalog, RegionError> {
        if maps.len() > MAX_REGIONS {
            return Err(RegionError::TooMany { max: MAX_REGIONS });
        }
        let mut h = Sha256::new();
        let (mut names, mut cells) = (Vec::new(), BTreeMap::new());
        for (i, (name, map)) in maps.into_iter().enumerate() {
            h.update((name.len() as u64).to_be_bytes());
            h.update(name.as_bytes());
            let mut sorted: Vec<u64> = map.into_iter().map(u64::from).collect();
            sorted.sort_unstable();
            h.update((sorted.len() as u64).to_be_bytes());
            for c in sorted {
                h.update(c.to_be_bytes());
                cells.insert(c, u16::try_from(i).expect("at most MAX_REGIONS regions"));
            }
            names.push(name);
        }
        let plans: BTreeMap<String, Vec<Channel>> = plans
            .into_iter()
            .filter(|(n, _)| names.contains(n))
            .collect();
        for (name, plan) in &plans {
            h.update(name.as_bytes());
            for c in plan {
                h.update(c.frequency_hz.to_be_bytes());
                h.update(c.bandwidth_hz.to_be_bytes());
                h.update(c.max_eirp_ddbm.to_be_bytes());
                for (sf, size) in &c.spreading {
                    h.update(sf.as_bytes());
                    h.update(size.to_be_bytes());
                }
            }
        }
        Ok(RegionCatalog {
            names,
            cells,
            plans,
            digest: h.finalize().into(),
        })
    }

    /// Loads `dir/serialized/*.res7.h3idx` and `dir/region_params/*.json` (the layout of
    /// Helium's `lorawan-h3`).
    ///
    /// Errors: [`RegionError`] for unreadable or malformed files.
    pub fn load(dir: &Path) -> Result<RegionCatalog, RegionError> {
        let mut maps = BTreeMap::new();
        for (name, path) in list(&dir.join("serialized"), ".res7.h3idx")? {
            let len = std::fs::metadata(&path).map_err(io(&path))?.len();
            if len > MAX_REGION_MAP_BYTES {
                let reason = format!("{len} bytes is over {MAX_REGION_MAP_BYTES}");
                let path = path.display().to_string();
                return Err(RegionError::BadMap { path, reason });
            }
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            maps.insert(name, parse_map(&path.display().to_string(), &bytes)?);
        }
        let mut plans = BTreeMap::new();
        for (name, path) in list(&dir.join("region_params"), ".json")? {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            plans.insert(name, parse_plan(&path.display().to_string(), &text)?);
        }
        RegionCatalog::new(maps, plans)
    }

    /// The region of a location (an H3 cell of resolution ≥ 7), if a map holds it. Helium's
    /// maps are disjoint; were two to overlap, the finer cell wins.
    pub fn region_of(&self, location: u64) -> Option<&str> {
        let cell = CellIndex::try_from(location).ok()?;
        for res in (0..=REGION_MAP_RES).rev() {
            let res = Resolution::try_from(res).expect("0..=7 are resolutions");
            if let Some(i) = cell.parent(res).and_then(|p| self.cells.get(&u64::from(p))) {
                return self.names.get(usize::from(*i)).map(String::as_str);
            }
        }
        None
    }

    /// The channel plan of a region (`None` for regions without one, e.g. `Unknown`).
    pub fn plan(&self, region: &str) -> Option<&[Channel]> {
        self.plans.get(region).map(Vec::as_slice)
    }

    /// The channel plan where `location` is (`None` outside every map or in a region without
    /// a plan): [`RegionCatalog::region_of`] then [`RegionCatalog::plan`].
    pub fn plan_at(&self, location: u64) -> Option<&[Channel]> {
        self.region_of(location).and_then(|r| self.plan(r))
    }

    /// Region names, sorted.
    pub fn regions(&self) -> &[String] {
        &self.names
    }

    /// SHA-256 over every map and plan: oracles must run with equal catalogs.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
}

/// Files `dir/<name><suffix>`, sorted, as `(name, path)`.
fn list(dir: &Path, suffix: &str) -> Result<Vec<(String, std::path::PathBuf)>, RegionError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if let Some(name) = file.strip_suffix(suffix) {
            out.push((name.to_string(), path.clone()));
        }
        if out.len() > MAX_REGIONS {
            return Err(RegionError::TooMany { max: MAX_REGIONS });
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_that_is_not_whole_cells_is_refused() {
        assert!(matches!(
            parse_map("x", &[0u8; 7]),
            Err(RegionError::BadMap { .. })
        ));
        assert!(matches!(
            parse_map("x", &u64::MAX.to_le_bytes()),
            Err(RegionError::BadMap { .. })
        ));
    }

    #[test]
    fn a_location_is_in_the_region_holding_an_ancestor() {
        let loc: u64 = 0x8c2a1072d04e1ff;
        let cell = CellIndex::try_from(loc).expect("cell");
        let r3 = cell.parent(Resolution::Three).expect("parent");
        let maps = BTreeMap::from([("TEST".to_string(), vec![r3])]);
        let cat = RegionCatalog::new(maps, BTreeMap::new()).expect("catalog");
        assert_eq!(cat.region_of(loc), Some("TEST"));
        assert_eq!(cat.region_of(0x8c489c15686d5ff), None);
        assert!(cat.plan("TEST").is_none());
    }
}
