//! A seeded synthetic city of hotspots, for a devnet without a real hotspots file: hotspots
//! clustered in neighbourhoods (as real deployments are: Helium's 2020 map is dense in city
//! centres, sparse between them), written as a Helium explorer hotspots file, and a region
//! catalog covering it with a US915 channel plan (the catalog a devnet's oracles and fleet
//! load when no Helium region maps are given).

use super::onboard::HotspotEntry;
use crate::region::{self, Channel, RegionError};
use depin_types::Hash32;
use h3o::{CellIndex, LatLng, Resolution};
use std::collections::{BTreeMap, BTreeSet};

/// Most hotspots a synthetic city holds.
pub const MAX_CITY_HOTSPOTS: usize = 100_000;
/// Neighbourhoods of a city.
pub const NEIGHBOURHOODS: u64 = 12;
/// Radius around the centre within which neighbourhoods lie, metres.
pub const CITY_RADIUS_M: u64 = 8_000;
/// Radius of a neighbourhood, metres.
pub const NEIGHBOURHOOD_RADIUS_M: u64 = 1_500;
/// City centre (Denver, in US915), degrees.
pub const CENTRE: (f64, f64) = (39.7392, -104.9903);
/// Region name of the generated catalog.
pub const REGION: &str = "US915";
/// Domain tag of the city's random draws.
const DOMAIN_CITY: &[u8] = b"depin/agent/synthetic-city/v1";
/// Metres per degree of latitude.
const METRES_PER_DEGREE: f64 = 111_320.0;

/// A uniform draw in `[0, 1)` from `(seed, stream, index)`.
fn unit(seed: u64, stream: &str, index: u64) -> f64 {
    let data = [
        &seed.to_be_bytes()[..],
        stream.as_bytes(),
        &index.to_be_bytes(),
    ]
    .concat();
    let h = Hash32::digest_with_domain(DOMAIN_CITY, &data);
    let word = u64::from_be_bytes(h.0[..8].try_into().expect("8 bytes"));
    // 53 bits: exactly representable in an f64.
    (word >> 11) as f64 / (1u64 << 53) as f64
}

/// A point uniformly in a disk of `radius_m` around `(lat, lng)`.
fn in_disk(
    seed: u64,
    stream: &str,
    index: u64,
    (lat, lng): (f64, f64),
    radius_m: u64,
) -> (f64, f64) {
    let r = radius_m as f64 * unit(seed, stream, 2 * index).sqrt();
    let theta = std::f64::consts::TAU * unit(seed, stream, 2 * index + 1);
    let dlat = r * theta.sin() / METRES_PER_DEGREE;
    let dlng = r * theta.cos() / (METRES_PER_DEGREE * lat.to_radians().cos());
    (lat + dlat, lng + dlng)
}

/// `count` hotspots (≤ [`MAX_CITY_HOTSPOTS`]) of the city `seed` draws: each in one of
/// [`NEIGHBOURHOODS`] neighbourhoods, at an H3 res-12 cell; names `devnet-hotspot-<i>`.
/// The same seed gives the same city.
///
/// Panics: never (count is clamped).
pub fn synthetic_city(seed: u64, count: usize) -> Vec<HotspotEntry> {
    let centres: Vec<(f64, f64)> = (0..NEIGHBOURHOODS)
        .map(|n| in_disk(seed, "neighbourhood", n, CENTRE, CITY_RADIUS_M))
        .collect();
    (0..count.min(MAX_CITY_HOTSPOTS) as u64)
        .map(|i| {
            let n = (unit(seed, "which", i) * NEIGHBOURHOODS as f64) as usize;
            let centre = centres[n.min(centres.len() - 1)];
            let (lat, lng) = in_disk(seed, "hotspot", i, centre, NEIGHBOURHOOD_RADIUS_M);
            let location = LatLng::new(lat, lng)
                .map(|ll| format!("{:x}", u64::from(ll.to_cell(Resolution::Twelve))))
                .ok();
            HotspotEntry {
                address: Some(format!("devnet-hotspot-{i}")),
                name: Some(format!("devnet hotspot {i} (neighbourhood {n})")),
                location,
            }
        })
        .collect()
}

/// A region catalog (maps by region, plans by region) covering every located entry: the
/// res-7 parents of their cells and those parents' neighbours, all in [`REGION`], with a
/// US915 plan of 8 uplink channels from 903.9 MHz.
pub fn covering_catalog(
    entries: &[HotspotEntry],
) -> (
    BTreeMap<String, Vec<CellIndex>>,
    BTreeMap<String, Vec<Channel>>,
) {
    let mut cells = BTreeSet::new();
    for e in entries {
        let Some(l) = e.location().ok().flatten() else {
            continue;
        };
        let Ok(cell) = CellIndex::try_from(l.index()) else {
            continue;
        };
        if let Some(parent) = cell.parent(Resolution::Seven) {
            cells.extend(parent.grid_disk::<Vec<_>>(1));
        }
    }
    let maps = BTreeMap::from([(REGION.to_string(), cells.into_iter().collect())]);
    let plans = BTreeMap::from([(REGION.to_string(), region::uniform_plan(903_900_000, 8))]);
    (maps, plans)
}

/// Writes `entries` as a Helium explorer hotspots file (`{"data": [...]}`).
///
/// Errors: the file cannot be written.
pub fn write_hotspots(path: &std::path::Path, entries: &[HotspotEntry]) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(&serde_json::json!({ "data": entries }))
        .map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}

/// Writes the catalog `covering_catalog` gives for `entries` under `dir` (Helium's
/// `lorawan-h3` layout).
///
/// Errors: [`RegionError::Io`] when a file cannot be written.
pub fn write_covering_catalog(
    dir: &std::path::Path,
    entries: &[HotspotEntry],
) -> Result<(), RegionError> {
    let (maps, plans) = covering_catalog(entries);
    region::write_catalog(dir, &maps, &plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RegionCatalog;

    #[test]
    fn a_city_is_the_same_for_a_seed_and_differs_between_seeds() {
        let a = synthetic_city(1, 50);
        assert_eq!(a, synthetic_city(1, 50));
        assert_ne!(a, synthetic_city(2, 50));
        assert_eq!(a.len(), 50);
    }

    #[test]
    fn every_hotspot_lies_near_the_centre_and_in_the_written_catalog() {
        let entries = synthetic_city(7, 300);
        let dir = std::env::temp_dir().join(format!("depin-city-{}", std::process::id()));
        write_covering_catalog(&dir, &entries).expect("written");
        let catalog = RegionCatalog::load(&dir).expect("loads");
        let _ = std::fs::remove_dir_all(&dir);
        let centre = LatLng::new(CENTRE.0, CENTRE.1).expect("centre");
        for e in &entries {
            let loc = e.location().expect("valid").expect("located");
            let cell = CellIndex::try_from(loc.index()).expect("cell");
            let d_m = LatLng::from(cell).distance_m(centre);
            let max_m = (CITY_RADIUS_M + NEIGHBOURHOOD_RADIUS_M) as f64 + 10.0;
            assert!(d_m <= max_m, "{d_m} m from the centre");
            assert_eq!(catalog.region_of(loc.index()), Some(REGION));
            assert_eq!(catalog.plan_at(loc.index()).map(<[_]>::len), Some(8));
        }
    }
}
