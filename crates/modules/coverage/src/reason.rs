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
