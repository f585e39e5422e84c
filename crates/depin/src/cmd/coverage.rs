//! `depin coverage …`: tools of the coverage module for operators and cross-checks.

use super::Ctx;
use crate::output::print;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use depin_module_coverage::hex_density::{HexScales, SCALE_DECIMALS};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest hotspots file read, bytes.
pub const MAX_HOTSPOTS_FILE_BYTES: u64 = 1 << 30;

/// Coverage commands.
#[derive(Subcommand, Debug)]
pub enum CoverageCmd {
    /// Print the HIP-17 scale of every asserted res-12 cell of a hotspots file as JSON
    /// (`{"<cell hex>": "0.1234", …}`, 4 decimals, banker's rounding).
    HexScales {
        /// Hotspots file: Helium explorer JSON (`{"data": [{"address", "location", …}]}`),
        /// e.g. ../shared/data/helium_hotspots_2020/hotspots_2020-06_h384053.json.
        #[arg(long)]
        hotspots: PathBuf,
    },
}

/// One entry of a hotspots file.
#[derive(Clone, Debug, Deserialize)]
pub struct HotspotEntry {
    /// Asserted res-12 cell (hex), if any.
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Deserialize)]
struct HotspotsFile {
    data: Vec<HotspotEntry>,
}

/// Reads a hotspots file.
///
/// Errors: unreadable, too large, or not the explorer's JSON shape.
pub fn read_hotspots(path: &Path) -> Result<Vec<HotspotEntry>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > MAX_HOTSPOTS_FILE_BYTES {
        bail!(
            "{} is {len} bytes, over {MAX_HOTSPOTS_FILE_BYTES}",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)?;
    let f: HotspotsFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a hotspots file", path.display()))?;
    Ok(f.data)
}

/// The asserted res-12 cell of an entry.
///
/// Errors: a location that is not an H3 res-12 cell, with the reason.
pub fn entry_cell(e: &HotspotEntry) -> Result<Option<h3o::CellIndex>> {
    let Some(text) = &e.location else {
        return Ok(None);
    };
    let loc = depin_types::Location::parse(text)?;
    Ok(Some(h3o::CellIndex::try_from(loc.index())?))
}

/// Runs a coverage command.
pub fn run(ctx: &Ctx, cmd: CoverageCmd) -> Result<()> {
    match cmd {
        CoverageCmd::HexScales { hotspots } => {
            let entries = read_hotspots(&hotspots)?;
            let mut cells = Vec::with_capacity(entries.len());
            for e in &entries {
                if let Some(c) = entry_cell(e)? {
                    cells.push(c);
                }
            }
            let scales = HexScales::compute(cells.iter().copied());
            let out: BTreeMap<String, String> = scales
                .iter()
                .map(|(c, s)| {
                    (
                        format!("{c:x}"),
                        format!("{s:.prec$}", prec = SCALE_DECIMALS as usize),
                    )
                })
                .collect();
            eprintln!(
                "{} hotspots, {} with a location, {} distinct cells",
                entries.len(),
                cells.len(),
                out.len()
            );
            print(ctx.format, &out)
        }
    }
}
