//! The radio simulator: where there are no radios, it decides which hotspots hear a beacon
//! and with what signal, from their real positions. Seeded and deterministic, so the same
//! network and seed give the same witness sets.
//!
//! Model (per link, in dB):
//! - path loss: a fixed clutter loss plus free space up to [`RadioParams::reference_distance_m`], then log-distance
//!   with exponent [`RadioParams::path_loss_exponent`] (Rappaport, *Wireless
//!   Communications*, §4.9: 2 in free space, 2.7–3.5 urban, 3–5 shadowed urban);
//! - log-normal shadowing: a zero-mean normal of [`RadioParams::shadowing_sigma_db`], fixed
//!   per pair of sites (the buildings and hills between them are the same both ways);
//! - fading: a zero-mean normal of [`RadioParams::fading_sigma_db`] per transmission;
//! - noise floor: `−174 dBm/Hz + 10 log10(bandwidth) + noise figure` (thermal noise);
//! - demodulation: heard when the SNR reaches the LoRa limit of the spreading factor
//!   (Semtech SX1276 datasheet: SF7 −7.5 dB … SF12 −20 dB, 2.5 dB per step).
//!
//! Received power is `tx + gain_tx − loss − shadowing − fading + gain_rx`, with antenna gains
//! in dBi (the oracle's bound truncates them to whole dB, as Helium's does, so a strong
//! shadowing gain near the reference distance can exceed it: such witnesses are refused
//! with `bad_rssi`, as real ones are). Elevation is not modelled.

use depin_types::{Location, PublicKey};
use h3o::LatLng;
use sha2::{Digest, Sha256};

/// Domain tag of the simulator's random draws.
const DOMAIN_RADIO: &[u8] = b"depin/agent/radio/v1";
/// Thermal noise density, dBm/Hz.
pub const THERMAL_NOISE_DBM_PER_HZ: f64 = -174.0;
/// Highest SNR a LoRa receiver reports, dB.
pub const MAX_REPORTED_SNR_DB: f64 = 15.0;
/// Metres per degree of latitude (mean).
const M_PER_DEG_LAT: f64 = 111_195.0;
/// Standard deviations of shadowing and fading above the median the range bound allows.
const RANGE_SIGMAS: f64 = 4.0;

/// Simulator settings. Defaults: a suburban LoRaWAN network at 125 kHz.
#[derive(Clone, Debug, PartialEq)]
pub struct RadioParams {
    /// Seed of the shadowing, fading, delay and frequency-error draws.
    pub seed: u64,
    /// Log-distance exponent beyond the reference distance.
    pub path_loss_exponent: f64,
    /// Distance up to which loss is free-space, m.
    pub reference_distance_m: f64,
    /// Fixed extra loss of indoor and rooftop-clutter installations, dB (building entry loss,
    /// ITU-R P.2109: 10–30 dB).
    pub clutter_loss_db: f64,
    /// Shadowing standard deviation, dB.
    pub shadowing_sigma_db: f64,
    /// Per-transmission fading standard deviation, dB.
    pub fading_sigma_db: f64,
    /// Receiver noise figure, dB.
    pub noise_figure_db: f64,
    /// Channel bandwidth, Hz.
    pub bandwidth_hz: f64,
    /// Largest receiver frequency error, Hz (crystal tolerance).
    pub max_frequency_error_hz: u64,
    /// Largest delay between a beacon and a witness's timestamp, ms (processing, clocks).
    pub max_delay_ms: u64,
}

impl Default for RadioParams {
    fn default() -> Self {
        RadioParams {
            seed: 0,
            path_loss_exponent: 3.5,
            reference_distance_m: 100.0,
            clutter_loss_db: 30.0,
            shadowing_sigma_db: 8.0,
            fading_sigma_db: 2.0,
            noise_figure_db: 6.0,
            bandwidth_hz: 125_000.0,
            max_frequency_error_hz: 5_000,
            max_delay_ms: 800,
        }
    }
}

/// A radio at its true position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Device key.
    pub key: PublicKey,
    /// Where it really is (H3 cell; its centre is used).
    pub location: Location,
    /// Antenna gain, dBi × 10.
    pub gain_ddbi: i32,
}

/// A transmitted beacon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmission {
    /// Index of the sending site.
    pub from: usize,
    /// Frequency, Hz.
    pub frequency_hz: u64,
    /// Spreading factor (7–12).
    pub spreading_factor: u32,
    /// Conducted power, dBm.
    pub tx_power_dbm: i32,
    /// When it was sent, ms.
    pub at_ms: u64,
}

/// One site's reception of a transmission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reception {
    /// Index of the receiving site.
    pub site: usize,
    /// Received signal, dBm × 10.
    pub signal_ddbm: i32,
    /// Signal-to-noise ratio, dB × 10.
    pub snr_ddb: i32,
    /// Frequency the receiver measured, Hz.
    pub frequency_hz: u64,
    /// When the receiver stamped it, ms.
    pub at_ms: u64,
}

/// Errors building a simulator.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum RadioError {
    /// A setting outside its range.
    #[error("invalid radio parameter {name}: {reason}")]
    InvalidParam {
        /// The setting.
        name: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// The simulator over a fixed set of sites.
#[derive(Clone, Debug)]
pub struct RadioSim {
    params: RadioParams,
    sites: Vec<Site>,
    centres: Vec<LatLng>,
    /// Highest antenna gain of any site, dB.
    max_gain_db: f64,
}

/// The SNR a LoRa receiver needs at spreading factor `sf`, dB (SX1276: −7.5 at SF7, 2.5 dB
/// lower per step).
pub fn demod_floor_db(sf: u32) -> f64 {
    -7.5 - 2.5 * f64::from(sf.saturating_sub(7))
}

fn validate(p: &RadioParams) -> Result<(), RadioError> {
    let bad = |name, reason| Err(RadioError::InvalidParam { name, reason });
    if !(2.0..=6.0).contains(&p.path_loss_exponent) {
        return bad("path_loss_exponent", "must be within 2..=6");
    }
    if !(1.0..=10_000.0).contains(&p.reference_distance_m) {
        return bad("reference_distance_m", "must be within 1..=10000");
    }
    if !(0.0..=20.0).contains(&p.shadowing_sigma_db) || !(0.0..=20.0).contains(&p.fading_sigma_db) {
        return bad("shadowing_sigma_db", "sigmas must be within 0..=20 dB");
    }
    if !(0.0..=60.0).contains(&p.clutter_loss_db) {
        return bad("clutter_loss_db", "must be within 0..=60 dB");
    }
    if !(1_000.0..=1e7).contains(&p.bandwidth_hz) {
        return bad("bandwidth_hz", "must be within 1 kHz..10 MHz");
    }
    Ok(())
}

impl RadioSim {
    /// A simulator of `sites` (indices into it name sites in transmissions and receptions).
    ///
    /// Errors: [`RadioError::InvalidParam`] for settings out of range.
    pub fn new(params: RadioParams, sites: Vec<Site>) -> Result<RadioSim, RadioError> {
        validate(&params)?;
        let centres = sites
            .iter()
            .map(|s| {
                let (lat, lng) = s.location.center_lat_lng();
                LatLng::new(lat, lng).expect("a valid cell's centre is a valid coordinate")
            })
            .collect();
        let max_gain_ddbi = sites.iter().map(|s| s.gain_ddbi).max().unwrap_or(0);
        Ok(RadioSim {
            params,
            sites,
            centres,
            max_gain_db: f64::from(max_gain_ddbi) / 10.0,
        })
    }

    /// The sites.
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// Thermal noise floor of a receiver, dBm.
    pub fn noise_floor_dbm(&self) -> f64 {
        THERMAL_NOISE_DBM_PER_HZ
            + 10.0 * self.params.bandwidth_hz.log10()
            + self.params.noise_figure_db
    }

    /// Median path loss at `distance_m`, dB.
    pub fn path_loss_db(&self, frequency_hz: u64, distance_m: f64) -> f64 {
        let p = &self.params;
        let d0 = p.reference_distance_m;
        let near = distance_m.clamp(1.0, d0);
        #[allow(clippy::cast_precision_loss)] // LoRa frequencies (< 2^53 Hz) are exact in f64
        let f = frequency_hz as f64;
        let fspl = 20.0 * (4.0 * std::f64::consts::PI * near * f / 2.998e8).log10();
        fspl + p.clutter_loss_db + 10.0 * p.path_loss_exponent * (distance_m.max(d0) / d0).log10()
    }

    /// Distance beyond which no reception of `tx` is possible even `RANGE_SIGMAS` standard
    /// deviations above the median, m.
    fn max_range_m(&self, tx: &Transmission) -> f64 {
        let p = &self.params;
        let budget = f64::from(tx.tx_power_dbm) + 2.0 * self.max_gain_db
            - (self.noise_floor_dbm() + demod_floor_db(tx.spreading_factor))
            + RANGE_SIGMAS * (p.shadowing_sigma_db + p.fading_sigma_db);
        let at_d0 = self.path_loss_db(tx.frequency_hz, p.reference_distance_m);
        p.reference_distance_m
            * 10f64.powf((budget - at_d0).max(0.0) / (10.0 * p.path_loss_exponent))
    }

    /// Every site (but the sender) that demodulates `tx`, by site index.
    pub fn hear(&self, tx: &Transmission) -> Vec<Reception> {
        let Some(origin) = self.centres.get(tx.from) else {
            return Vec::new();
        };
        let range_m = self.max_range_m(tx);
        let lat_span = range_m / M_PER_DEG_LAT;
        let lng_span = lat_span / origin.lat_radians().cos().abs().max(1e-6);
        let mut out = Vec::new();
        for (i, c) in self.centres.iter().enumerate() {
            if i == tx.from
                || (c.lat() - origin.lat()).abs() > lat_span
                || (c.lng() - origin.lng()).abs() > lng_span
            {
                continue;
            }
            if let Some(r) = self.receive(tx, i, origin.distance_m(*c)) {
                out.push(r);
            }
        }
        out
    }

    fn receive(&self, tx: &Transmission, rx: usize, distance_m: f64) -> Option<Reception> {
        let p = &self.params;
        let (a, b) = (&self.sites[tx.from], &self.sites[rx]);
        let (lo, hi) = if a.key <= b.key { (a, b) } else { (b, a) };
        let shadow = p.shadowing_sigma_db * self.normal(&[&lo.key.0, &hi.key.0]);
        let stamp = tx.at_ms.to_be_bytes();
        let fade = p.fading_sigma_db * self.normal(&[&a.key.0, &b.key.0, &stamp]);
        let rssi = f64::from(tx.tx_power_dbm) + f64::from(a.gain_ddbi) / 10.0
            - self.path_loss_db(tx.frequency_hz, distance_m)
            - shadow
            - fade
            + f64::from(b.gain_ddbi) / 10.0;
        let snr = (rssi - self.noise_floor_dbm()).min(MAX_REPORTED_SNR_DB);
        if snr < demod_floor_db(tx.spreading_factor) {
            return None;
        }
        let [u_delay, u_freq] = self.uniforms(&[&a.key.0, &b.key.0, &stamp, b"rx"]);
        let span = 2 * p.max_frequency_error_hz + 1;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        // both draws are in [0, 1): the products fit their integer ranges
        let (delay_ms, offset_hz) = (
            20 + (u_delay * p.max_delay_ms.saturating_sub(20) as f64) as u64,
            (u_freq * span as f64) as u64,
        );
        #[allow(clippy::cast_possible_truncation)] // signals in dB×10 fit i32
        Some(Reception {
            site: rx,
            signal_ddbm: (rssi * 10.0).round() as i32,
            snr_ddb: (snr * 10.0).round() as i32,
            frequency_hz: (tx.frequency_hz + offset_hz).saturating_sub(p.max_frequency_error_hz),
            at_ms: tx.at_ms + delay_ms,
        })
    }

    /// Two uniforms in `[0, 1)` drawn from the seed and `parts`.
    fn uniforms(&self, parts: &[&[u8]]) -> [f64; 2] {
        let mut h = Sha256::new()
            .chain_update(DOMAIN_RADIO)
            .chain_update(self.params.seed.to_be_bytes());
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        let d: [u8; 32] = h.finalize().into();
        let u = |b: &[u8]| {
            let x = u64::from_be_bytes(b.try_into().expect("8 bytes")) >> 11;
            #[allow(clippy::cast_precision_loss)] // 53-bit integers are exact in f64
            let v = x as f64 / (1u64 << 53) as f64;
            v
        };
        [u(&d[..8]), u(&d[8..16])]
    }

    /// A standard normal drawn from the seed and `parts` (Box–Muller).
    fn normal(&self, parts: &[&[u8]]) -> f64 {
        let [u1, u2] = self.uniforms(parts);
        let r = (-2.0 * (1.0 - u1).ln()).sqrt();
        r * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(n: u8, lat: f64, lng: f64) -> Site {
        let cell = LatLng::new(lat, lng)
            .expect("coordinate")
            .to_cell(h3o::Resolution::Twelve);
        Site {
            key: PublicKey([n; 32]),
            location: Location::new(u64::from(cell)).expect("res 12"),
            gain_ddbi: 12,
        }
    }

    fn tx(from: usize, at_ms: u64) -> Transmission {
        Transmission {
            from,
            frequency_hz: 904_100_000,
            spreading_factor: 9,
            tx_power_dbm: 27,
            at_ms,
        }
    }

    /// A line of sites every `step_m` metres east of (37.77, −122.42).
    fn line(n: u8, step_m: f64) -> Vec<Site> {
        (0..n)
            .map(|i| {
                let lng =
                    -122.42 + f64::from(i) * step_m / (M_PER_DEG_LAT * 37.77f64.to_radians().cos());
                site(i + 1, 37.77, lng)
            })
            .collect()
    }

    #[test]
    fn the_same_seed_hears_the_same_and_another_seed_differs() {
        let sites = line(60, 700.0);
        let sim = |seed| {
            RadioSim::new(
                RadioParams {
                    seed,
                    ..RadioParams::default()
                },
                sites.clone(),
            )
            .expect("sim")
        };
        let (a, b) = (sim(1), sim(2));
        assert_eq!(a.hear(&tx(0, 5)), a.hear(&tx(0, 5)));
        assert_ne!(a.hear(&tx(0, 5)), b.hear(&tx(0, 5)));
    }

    #[test]
    fn near_sites_hear_and_far_sites_do_not() {
        let sim = RadioSim::new(RadioParams::default(), line(80, 1_000.0)).expect("sim");
        let heard: Vec<usize> = sim.hear(&tx(0, 9)).iter().map(|r| r.site).collect();
        assert!(
            heard.contains(&1) && heard.contains(&2),
            "1 and 2 km: {heard:?}"
        );
        assert!(
            heard.iter().all(|&s| s < 60),
            "nothing beyond 60 km: {heard:?}"
        );
        assert!(!heard.contains(&0), "a sender does not hear itself");
    }

    #[test]
    fn reception_probability_falls_with_distance() {
        let sim = RadioSim::new(RadioParams::default(), line(2, 1.0)).expect("sim");
        let floor = sim.noise_floor_dbm() + demod_floor_db(9);
        let median_range_m = (1..200_000)
            .map(f64::from)
            .find(|d| 27.0 + 2.4 - sim.path_loss_db(904_100_000, *d) < floor)
            .expect("finite range");
        assert!(
            (2_000.0..40_000.0).contains(&median_range_m),
            "median SF9 range {median_range_m} m"
        );
        let (mut near, mut far) = (0, 0);
        for seed in 0..400 {
            let sims = [line(2, median_range_m * 0.5), line(2, median_range_m * 1.5)];
            for (k, s) in sims.into_iter().enumerate() {
                let p = RadioParams {
                    seed,
                    ..RadioParams::default()
                };
                let heard = !RadioSim::new(p, s).expect("sim").hear(&tx(0, 7)).is_empty();
                if heard {
                    if k == 0 {
                        near += 1
                    } else {
                        far += 1
                    }
                }
            }
        }
        assert!(
            near > 300 && far < 100 && far > 0,
            "near {near}/400, far {far}/400"
        );
    }

    #[test]
    fn receptions_stay_within_the_frequency_error_and_delay() {
        let p = RadioParams::default();
        let sim = RadioSim::new(p.clone(), line(30, 500.0)).expect("sim");
        let heard = sim.hear(&tx(0, 1_000));
        assert!(!heard.is_empty());
        for r in heard {
            assert!(r.frequency_hz.abs_diff(904_100_000) <= p.max_frequency_error_hz);
            assert!((1_020..=1_000 + p.max_delay_ms).contains(&r.at_ms));
            assert!(f64::from(r.snr_ddb) / 10.0 >= demod_floor_db(9));
        }
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let p = RadioParams {
            path_loss_exponent: 9.0,
            ..RadioParams::default()
        };
        assert!(matches!(
            RadioSim::new(p, vec![]),
            Err(RadioError::InvalidParam {
                name: "path_loss_exponent",
                ..
            })
        ));
    }
}
