//! Device locations as H3 cells (Uber H3, via `h3o`). Location-bound device classes assert a
//! resolution-12 cell (about 307 m² per cell), as Helium hotspots do.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The H3 resolution a location assertion must use.
pub const ASSERT_RESOLUTION: u8 = 12;

/// Why a location was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum LocationError {
    /// Not a valid H3 cell index.
    #[error("{index:#x} is not a valid H3 cell index")]
    InvalidCell {
        /// The rejected index.
        index: u64,
    },
    /// A valid cell at the wrong resolution.
    #[error(
        "location must be an H3 resolution-{ASSERT_RESOLUTION} cell, got resolution {resolution}"
    )]
    WrongResolution {
        /// The resolution found.
        resolution: u8,
    },
    /// Hex text that does not parse.
    #[error("invalid H3 cell text {input:?}")]
    Parse {
        /// The rejected input.
        input: String,
    },
}

/// A validated H3 resolution-12 cell. JSON form: the usual 15-character lowercase hex string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize)]
pub struct Location(u64);

impl Location {
    /// Validates `index` as an H3 resolution-12 cell.
    pub fn new(index: u64) -> Result<Location, LocationError> {
        let cell =
            h3o::CellIndex::try_from(index).map_err(|_| LocationError::InvalidCell { index })?;
        let resolution = u8::from(cell.resolution());
        if resolution != ASSERT_RESOLUTION {
            return Err(LocationError::WrongResolution { resolution });
        }
        Ok(Location(index))
    }

    /// Parses hex text such as `8c2a1072b59a1ff`.
    pub fn parse(s: &str) -> Result<Location, LocationError> {
        let index = u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|_| {
            LocationError::Parse {
                input: s.to_string(),
            }
        })?;
        Location::new(index)
    }

    /// The raw H3 index.
    pub fn index(self) -> u64 {
        self.0
    }

    /// The cell's centre as (latitude, longitude) in degrees, for maps and reports only
    /// (never for ledger decisions).
    pub fn center_lat_lng(self) -> (f64, f64) {
        let cell = h3o::CellIndex::try_from(self.0).expect("validated at construction");
        let ll = h3o::LatLng::from(cell);
        (ll.lat(), ll.lng())
    }
}

/// Lowest antenna gain accepted, dBi × 10 (Helium `assert_location`: 1.0 dBi).
pub const MIN_GAIN_DDBI: i32 = 10;
/// Highest antenna gain accepted, dBi × 10 (Helium: 15.0 dBi).
pub const MAX_GAIN_DDBI: i32 = 150;
/// Highest antenna elevation above ground accepted, metres.
pub const MAX_ELEVATION_M: i32 = 10_000;

/// A radio device's antenna, asserted with its location (Helium `assert_location_v2`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Antenna {
    /// Antenna gain, dBi × 10 (e.g. 12 = 1.2 dBi), in [`MIN_GAIN_DDBI`]..=[`MAX_GAIN_DDBI`].
    pub gain_ddbi: i32,
    /// Height above ground, metres, in `0..=MAX_ELEVATION_M`.
    pub elevation_m: i32,
}

impl Antenna {
    /// Whether gain and elevation are in range.
    pub fn is_valid(&self) -> bool {
        (MIN_GAIN_DDBI..=MAX_GAIN_DDBI).contains(&self.gain_ddbi)
            && (0..=MAX_ELEVATION_M).contains(&self.elevation_m)
    }
}

impl BorshDeserialize for Location {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let index = u64::deserialize_reader(reader)?;
        Location::new(index)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        Location::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_res12_cell_is_accepted_and_others_refused() {
        // A real 2020 Helium hotspot location (res 12).
        let loc = Location::parse("8c2a1072b59a1ff").unwrap();
        assert_eq!(loc.to_string(), "8c2a1072b59a1ff");
        let parent_res8 = 0x882a1072b5fffff_u64;
        assert_eq!(
            Location::new(parent_res8),
            Err(LocationError::WrongResolution { resolution: 8 })
        );
        assert!(matches!(
            Location::new(0),
            Err(LocationError::InvalidCell { .. })
        ));
        assert!(Location::parse("zz").is_err());
    }
}
