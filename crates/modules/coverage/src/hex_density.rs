//! HIP-17 hex density scaling with the HIP-104 parameters: where many hotspots crowd into the
//! same hexes, each one's proof-of-coverage rewards are scaled down, so that coverage spreads.
//!
//! Rule (HIP-17, as run by helium/oracles `iot_verifier/src/hex_density.rs`):
//! 1. every asserted res-12 location counts 1 in its res-11 parent;
//! 2. for res 10 down to 4, a hex's *unclipped* count is the sum of its children's *clipped*
//!    counts; it is clipped to `limit = min(max, target × (max(occupied − neighbors, 0) + 1))`,
//!    where `occupied` counts the hexes of its 1-ring (itself included) whose clipped count is
//!    at least `target` ([`HIP104_RES_CONFIG`]);
//! 3. a location's scale is the product, over its parents at res 13 … 4 present in both
//!    maps, of `clipped / unclipped`, rounded to 4 decimals (banker's rounding).
//!
//! Locations with no known density (not in the population) get [`DEFAULT_HEX_SCALE`].
//! Deterministic: the clipping of one resolution does not depend on the order hexes are
//! visited in (a clipped count reaches `target` exactly when its unclipped count does, since
//! every limit is at least `target`), and the result is keyed in sorted order.

use h3o::{CellIndex, Resolution};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Decimals a hex scale is rounded to (helium/oracles `SCALING_PRECISION`).
pub const SCALE_DECIMALS: u32 = 4;

/// Scale of a location with no known density: 0.2 (helium/oracles `DEFAULT_TX_SCALE`).
pub const DEFAULT_HEX_SCALE: Decimal = Decimal::from_parts(2000, 0, 0, false, 4);

/// One resolution's HIP-104 density parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResConfig {
    /// The resolution.
    pub res: Resolution,
    /// Occupied neighbours allowed before the limit grows (`N`).
    pub neighbors: u64,
    /// Density target (`TGT`).
    pub target: u64,
    /// Density cap (`MAX`).
    pub max: u64,
}

const fn cfg(res: Resolution, neighbors: u64, target: u64, max: u64) -> ResConfig {
    ResConfig {
        res,
        neighbors,
        target,
        max,
    }
}

/// HIP-104 parameters, resolution 10 down to 4, in the order they are applied.
pub const HIP104_RES_CONFIG: [ResConfig; 7] = [
    cfg(Resolution::Ten, 2, 1, 1),
    cfg(Resolution::Nine, 2, 1, 1),
    cfg(Resolution::Eight, 2, 1, 1),
    cfg(Resolution::Seven, 4, 5, 10),
    cfg(Resolution::Six, 4, 25, 50),
    cfg(Resolution::Five, 4, 100, 200),
    cfg(Resolution::Four, 2, 500, 1000),
];

/// Resolutions whose `clipped / unclipped` ratio enters a location's scale.
const SCALING_RES: [Resolution; 10] = [
    Resolution::Thirteen,
    Resolution::Twelve,
    Resolution::Eleven,
    Resolution::Ten,
    Resolution::Nine,
    Resolution::Eight,
    Resolution::Seven,
    Resolution::Six,
    Resolution::Five,
    Resolution::Four,
];

/// `(unclipped, clipped)` counts by hex, all resolutions in one map: looked up only, never
/// iterated.
type Counts = crate::Lookup<CellIndex, (u64, u64)>;

/// The density scale of every asserted location of a population.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HexScales {
    scales: BTreeMap<u64, Decimal>,
}

impl HexScales {
    /// Computes the scales of `locations` (asserted res-12 cells, one entry per hotspot:
    /// several hotspots in one cell appear several times).
    pub fn compute(locations: impl IntoIterator<Item = CellIndex>) -> HexScales {
        let mut counts = Counts::default();
        let mut asserted: Vec<CellIndex> = Vec::new();
        for cell in locations {
            let Some(parent) = cell.parent(Resolution::Eleven) else {
                continue;
            };
            let c = counts.entry(parent).or_insert((0, 0));
            (c.0, c.1) = (c.0 + 1, c.1 + 1);
            asserted.push(cell);
        }
        let mut level: Vec<CellIndex> = asserted
            .iter()
            .filter_map(|c| c.parent(Resolution::Eleven))
            .collect();
        level.sort_unstable();
        level.dedup();
        for config in HIP104_RES_CONFIG {
            level = roll_up(&mut counts, &level, config.res);
            let clips = depin_types::par::map(&level, |hex| clip(&counts, *hex, &config));
            for (hex, clipped) in level.iter().zip(clips) {
                counts.get_mut(hex).expect("a rolled-up hex is counted").1 = clipped;
            }
        }
        asserted.sort_unstable();
        asserted.dedup();
        let scales = scales_of(&asserted, &counts).into_iter().collect();
        HexScales { scales }
    }

    /// The scale of a location: its computed scale, or [`DEFAULT_HEX_SCALE`] when the
    /// location was not in the population.
    pub fn scale(&self, cell: u64) -> Decimal {
        self.scales.get(&cell).copied().unwrap_or(DEFAULT_HEX_SCALE)
    }

    /// Every computed scale, by res-12 cell, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Decimal)> + '_ {
        self.scales.iter().map(|(c, s)| (*c, *s))
    }

    /// Number of distinct asserted cells.
    pub fn len(&self) -> usize {
        self.scales.len()
    }

    /// Whether no location was asserted.
    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }
}

/// Adds each child's clipped count to its parent's at `res` (unclipped and clipped, as
/// helium/oracles does) and returns the parents, sorted and unique.
fn roll_up(counts: &mut Counts, children: &[CellIndex], res: Resolution) -> Vec<CellIndex> {
    let mut parents = Vec::with_capacity(children.len());
    for child in children {
        let Some(parent) = child.parent(res) else {
            continue;
        };
        let count = counts.get(child).map_or(0, |c| c.1);
        let c = counts.entry(parent).or_insert((0, 0));
        (c.0, c.1) = (c.0 + count, c.1 + count);
        parents.push(parent);
    }
    parents.sort_unstable();
    parents.dedup();
    parents
}

/// The clipped count of `hex`: its unclipped count, at most its density limit. Reads the
/// resolution's unclipped counts only, so every hex of a resolution is clipped at once, on
/// all cores (see the module doc: reaching `target` is the same before and after clipping).
fn clip(counts: &Counts, hex: CellIndex, config: &ResConfig) -> u64 {
    assert!(
        config.max >= config.target,
        "every density limit reaches its target"
    );
    let count = counts.get(&hex).map_or(0, |c| c.0);
    // Every limit lies in `target ..= max`: a count within `target` is never clipped, and
    // where `max == target` (res 10 to 8) the limit is `max` — neither needs the 1-ring.
    if count <= config.target || config.max == config.target {
        return count.min(config.max);
    }
    let occupied = occupied_count(counts, hex, config.target);
    density_limit(config, occupied).min(count)
}

/// Hexes of `hex`'s 1-ring (itself included) whose count reaches `target`.
fn occupied_count(counts: &Counts, hex: CellIndex, target: u64) -> u64 {
    let occupied = |c: &CellIndex| counts.get(c).is_some_and(|n| n.0 >= target);
    // The fast walk yields `None` near pentagons; then the safe one counts instead.
    let mut n = 0u64;
    for c in hex.grid_disk_fast(1) {
        match c {
            Some(c) => n += u64::from(occupied(&c)),
            None => return hex.grid_disk_safe(1).filter(occupied).count() as u64,
        }
    }
    n
}

/// `min(max, target × (max(occupied − neighbors, 0) + 1))`.
fn density_limit(config: &ResConfig, occupied: u64) -> u64 {
    let over = occupied.saturating_sub(config.neighbors);
    config
        .max
        .min(config.target.saturating_mul(over.saturating_add(1)))
}

/// The scale of each of `cells` (sorted), on all cores: a pure function per cell.
fn scales_of(cells: &[CellIndex], counts: &Counts) -> Vec<(u64, Decimal)> {
    depin_types::par::map(cells, |c| (u64::from(*c), scale_of(*c, counts)))
}

fn scale_of(cell: CellIndex, counts: &Counts) -> Decimal {
    let mut scale = Decimal::new(10, 1);
    for res in SCALING_RES {
        let Some(parent) = cell.parent(res) else {
            continue;
        };
        if let Some((u, c)) = counts.get(&parent) {
            if u == c {
                continue; // a ratio of exactly one
            }
            let (u, c) = (to_i64(*u), to_i64(*c));
            scale *= Decimal::new(c, SCALE_DECIMALS) / Decimal::new(u, SCALE_DECIMALS);
        }
    }
    scale.round_dp(SCALE_DECIMALS)
}

/// A hotspot count as `i64` (counts are bounded by the population size).
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).expect("a hotspot count fits in i64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clip_shortcut_equals_the_full_limit_for_any_occupancy() {
        for config in &HIP104_RES_CONFIG {
            for count in 0..=2 * config.max {
                if count > config.target && config.max != config.target {
                    continue;
                }
                for occupied in 0..=7 {
                    let full = density_limit(config, occupied).min(count);
                    assert_eq!(full, count.min(config.max), "{config:?} {count} {occupied}");
                }
            }
        }
    }

    fn cell(hex: &str) -> CellIndex {
        CellIndex::try_from(u64::from_str_radix(hex, 16).expect("hex")).expect("cell")
    }

    #[test]
    fn a_lone_hotspot_keeps_full_scale() {
        let s = HexScales::compute([cell("8c2a1072d04e1ff")]);
        assert_eq!(s.scale(0x8c2a1072d04e1ff), Decimal::ONE);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn an_unknown_location_gets_the_default_scale() {
        let s = HexScales::compute([cell("8c2a1072d04e1ff")]);
        assert_eq!(format!("{:.4}", s.scale(0x8c2a1072d04e3ff)), "0.2000");
    }

    #[test]
    fn two_hotspots_in_one_res10_hex_halve_each() {
        // Same res-12 cell twice: res 10 count 2 clipped to 1 → scale 1/2.
        let c = cell("8c2a1072d04e1ff");
        let s = HexScales::compute([c, c]);
        assert_eq!(format!("{:.4}", s.scale(u64::from(c))), "0.5000");
    }
}
