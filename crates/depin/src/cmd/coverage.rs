//! `depin coverage …`: tools of the coverage module for operators and cross-checks.

use super::Ctx;
use crate::output::print;
use anyhow::Result;
use clap::Subcommand;
use depin_module_coverage::hex_density::{HexScales, SCALE_DECIMALS};
use std::collections::BTreeMap;
use std::path::PathBuf;

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

/// Runs a coverage command.
pub fn run(ctx: &Ctx, cmd: CoverageCmd) -> Result<()> {
    match cmd {
        CoverageCmd::HexScales { hotspots } => {
            let (entries, cells) = super::agent::hotspot_cells(&hotspots)?;
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
                entries,
                cells.len(),
                out.len()
            );
            print(ctx.format, &out)
        }
    }
}
