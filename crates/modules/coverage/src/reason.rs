//! Verdict reason codes of the coverage module (Helium `InvalidReason` names, snake_case).

/// Payload does not decode.
pub const MALFORMED_PAYLOAD: &str = "malformed_payload";
/// The hotspot is not in the registry at the epoch's last block (`GatewayNotFound`).
pub const GATEWAY_NOT_FOUND: &str = "gateway_not_found";
/// The device is not a hotspot.
pub const WRONG_DEVICE_CLASS: &str = "wrong_device_class";
/// The hotspot was switched off by its owner.
pub const INACTIVE_DEVICE: &str = "inactive_device";
/// No asserted location and antenna (`NotAsserted`).
pub const NOT_ASSERTED: &str = "not_asserted";
/// The hotspot is denylisted (`Denied`).
pub const DENIED: &str = "denied";
/// The beaconer–witness edge is denylisted (`DeniedEdge`).
pub const DENIED_EDGE: &str = "denied_edge";
/// The beacon was built from other entropy than the epoch's (`EntropyExpired`).
pub const ENTROPY_EXPIRED: &str = "entropy_expired";
/// A second beacon in one beacon interval (`IrregularInterval`).
pub const IRREGULAR_BEACON_INTERVAL: &str = "irregular_beacon_interval";
/// A beacon unlike the one its inputs build, or a witness of no beacon (`InvalidPacket`).
pub const INVALID_PACKET: &str = "invalid_packet";
/// A hotspot witnessing its own beacon (`SelfWitness`).
pub const SELF_WITNESS: &str = "self_witness";
/// A witness heard too long after the beacon or the first witness (`TooLate`).
pub const TOO_LATE: &str = "too_late";
/// More than the tolerance off the beacon's frequency (`InvalidFrequency`).
pub const INVALID_FREQUENCY: &str = "invalid_frequency";
/// No region, a region without a channel plan, or another region than the beaconer's
/// (`InvalidRegion`).
pub const INVALID_REGION: &str = "invalid_region";
/// Closer than the minimum res-11 grid distance (`BelowMinDistance`).
pub const BELOW_MIN_DISTANCE: &str = "below_min_distance";
/// Farther than the maximum distance (`MaxDistanceExceeded`).
pub const MAX_DISTANCE_EXCEEDED: &str = "max_distance_exceeded";
/// A signal stronger than free space allows at the asserted distance (`BadRssi`).
pub const BAD_RSSI: &str = "bad_rssi";
/// A second witness of one beacon by one hotspot (`Duplicate`).
pub const DUPLICATE_WITNESS: &str = "duplicate_witness";
/// The beacon was refused, so its witnesses are too.
pub const INVALID_BEACON: &str = "invalid_beacon";
/// HIP-106: the beaconer sent no valid witness within the window (`GatewayNoValidWitnesses`).
pub const NO_VALID_WITNESSES: &str = "no_valid_witnesses";
/// HIP-106: the witness sent no witnessed beacon within the window (`GatewayNoValidBeacons`).
pub const NO_VALID_BEACONS: &str = "no_valid_beacons";
/// HIP-83: valid, but not among the first witnesses selected.
pub const WITNESS_NOT_SELECTED: &str = "witness_not_selected";
/// A packet forwarded twice (by any hotspot): only the first is paid.
pub const DUPLICATE_PACKET: &str = "duplicate_packet";
/// The payer's delegated credits do not cover the packet.
pub const INSUFFICIENT_CREDITS: &str = "insufficient_credits";

/// Every reason code above, in a fixed order: while an epoch's checks run, a witness's
/// result is kept as one byte ([`to_byte`]).
const ALL: [&str; 24] = [
    MALFORMED_PAYLOAD,
    GATEWAY_NOT_FOUND,
    WRONG_DEVICE_CLASS,
    INACTIVE_DEVICE,
    NOT_ASSERTED,
    DENIED,
    DENIED_EDGE,
    ENTROPY_EXPIRED,
    IRREGULAR_BEACON_INTERVAL,
    INVALID_PACKET,
    SELF_WITNESS,
    TOO_LATE,
    INVALID_FREQUENCY,
    INVALID_REGION,
    BELOW_MIN_DISTANCE,
    MAX_DISTANCE_EXCEEDED,
    BAD_RSSI,
    DUPLICATE_WITNESS,
    INVALID_BEACON,
    NO_VALID_WITNESSES,
    NO_VALID_BEACONS,
    WITNESS_NOT_SELECTED,
    DUPLICATE_PACKET,
    INSUFFICIENT_CREDITS,
];

/// `code` as one byte: its position in the table above plus one (0 is left for a pass).
/// Panics on a code not in the table (a bug here, never input).
pub(crate) fn to_byte(code: &'static str) -> u8 {
    let at = ALL.iter().position(|c| *c == code);
    let at = at.expect("every coverage reason code is in reason::ALL");
    u8::try_from(at + 1).expect("fewer than 255 reason codes")
}

/// The code of a byte from [`to_byte`]; `None` for 0 (a pass).
pub(crate) fn from_byte(b: u8) -> Option<&'static str> {
    b.checked_sub(1).map(|at| ALL[usize::from(at)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_distinct_and_survives_its_byte() {
        for code in ALL {
            assert_eq!(from_byte(to_byte(code)), Some(code));
        }
        let distinct: std::collections::BTreeSet<&str> = ALL.into_iter().collect();
        assert_eq!(distinct.len(), ALL.len());
        assert_eq!(from_byte(0), None);
        let declared = include_str!("reason.rs").matches("\npub const ").count();
        assert_eq!(declared, ALL.len(), "a reason code is missing from ALL");
    }
}
