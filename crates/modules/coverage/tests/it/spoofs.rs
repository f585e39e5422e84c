//! Crafted spoofs, one per reject reason: each is refused with exactly its code and earns
//! nothing, while the honest hotspots around it are paid. The world: hotspots a few km apart
//! around Brooklyn in region `TEST915`, one hotspot across a region border (`OTHER`), every
//! hotspot with recent reciprocity history unless a test says otherwise.

use depin_module::{DeviceInfo, EpochInput, EpochOutcome, LedgerSnapshot, ResourceModule};
use depin_module_coverage::beacon;
use depin_module_coverage::geo;
use depin_module_coverage::payload::{BeaconReport, CoveragePayload, PacketReport, WitnessReport};
use depin_module_coverage::region::{uniform_plan, Channel, RegionCatalog};
use depin_module_coverage::state::Reciprocity;
use depin_module_coverage::{CoverageModule, CoverageParams, CLASS, NAME};
use depin_types::{Address, Amount, Antenna, Hash32, Location, Network, PublicKey, Report};
use h3o::{CellIndex, LatLng, Resolution};
use std::collections::BTreeMap;

const START_MS: u64 = 1_000_000_000;
const END_MS: u64 = START_MS + 3_600_000;
const ENTROPY: Hash32 = Hash32([42; 32]);
const GAIN: i32 = 12;
const CENTER: (f64, f64) = (40.70, -73.98);

fn key(i: u8) -> PublicKey {
    PublicKey([i; 32])
}

/// The res-12 cell `north_km`, `east_km` from the centre.
fn place(north_km: f64, east_km: f64) -> u64 {
    let lat = CENTER.0 + north_km / 111.0;
    let lng = CENTER.1 + east_km / (111.0 * CENTER.0.to_radians().cos());
    let cell = LatLng::new(lat, lng).unwrap().to_cell(Resolution::Twelve);
    u64::from(cell)
}

fn plan() -> Vec<Channel> {
    uniform_plan(903_900_000, 8)
}

/// `TEST915`: the res-2 cell around the centre; `OTHER`: the res-7 cell of the border spot.
fn catalog() -> RegionCatalog {
    let center = CellIndex::try_from(place(0.0, 0.0)).unwrap();
    let border = CellIndex::try_from(border_spot()).unwrap();
    let maps = BTreeMap::from([
        (
            "TEST915".to_string(),
            vec![center.parent(Resolution::Two).unwrap()],
        ),
        (
            "OTHER".to_string(),
            vec![border.parent(Resolution::Seven).unwrap()],
        ),
    ]);
    let plans = BTreeMap::from([
        ("TEST915".to_string(), plan()),
        ("OTHER".to_string(), plan()),
    ]);
    RegionCatalog::new(maps, plans).unwrap()
}

fn border_spot() -> u64 {
    place(-9.0, 9.0)
}

struct World {
    module: CoverageModule,
    snapshot: LedgerSnapshot,
    carry: Reciprocity,
    reports: Vec<Report>,
}

impl World {
    fn new(params: CoverageParams) -> World {
        let module = CoverageModule::new(params, catalog()).unwrap();
        let snapshot = LedgerSnapshot {
            credit_price_bones: Amount(1_000),
            ..LedgerSnapshot::default()
        };
        World {
            module,
            snapshot,
            carry: Reciprocity::default(),
            reports: Vec::new(),
        }
    }

    /// A registered hotspot at `location`, with reciprocity history an hour before the epoch.
    fn hotspot(&mut self, id: u8, location: Option<u64>) -> PublicKey {
        let k = key(id);
        let info = DeviceInfo {
            device: k,
            owner: key(id.wrapping_add(100)),
            class: CLASS.into(),
            location: location.map(|l| Location::new(l).unwrap()),
            antenna: Some(Antenna {
                gain_ddbi: GAIN,
                elevation_m: 3,
            }),
            active: true,
        };
        self.snapshot.devices.insert(k, info);
        self.carry.witnessed(k, START_MS - 3_600_000);
        self.carry.beaconed(k, START_MS - 3_600_000);
        k
    }

    fn push(&mut self, device: PublicKey, ts: u64, p: CoveragePayload) -> usize {
        self.reports.push(Report {
            chain_id: "test".into(),
            module: NAME.into(),
            device,
            timestamp_ms: ts,
            payload: p.to_bytes(),
        });
        self.reports.len() - 1
    }

    fn beacon_of(&self, b: PublicKey, interval: u64) -> BeaconReport {
        let plan = plan();
        let x = beacon::build(&ENTROPY, &b, interval, &plan, GAIN).unwrap();
        BeaconReport {
            entropy: ENTROPY,
            data: x.data,
            frequency_hz: x.frequency_hz,
            spreading: x.spreading,
            tx_power_dbm: x.tx_power_dbm,
        }
    }

    /// An honest beacon by `b` in interval 0 at `ts`; returns (index, beacon).
    fn beacon(&mut self, b: PublicKey, ts: u64) -> (usize, BeaconReport) {
        let br = self.beacon_of(b, (ts - START_MS) / self.module.params().beacon_interval_ms);
        (self.push(b, ts, CoveragePayload::Beacon(br.clone())), br)
    }

    fn location(&self, k: PublicKey) -> u64 {
        self.snapshot.devices[&k].location.unwrap().index()
    }

    /// What an honest witness at its asserted place hears: 15 dB under free space.
    fn honest_witness(&self, b: &BeaconReport, from: PublicKey, w: PublicKey) -> WitnessReport {
        let d = geo::distance_m(self.location(from), self.location(w)).unwrap();
        let bound = geo::expected_rssi_dbm(b.tx_power_dbm, b.frequency_hz, d, GAIN, GAIN);
        WitnessReport {
            data: b.data.clone(),
            signal_ddbm: (bound * 10.0) as i32 - 150,
            snr_ddb: 55,
            frequency_hz: b.frequency_hz,
        }
    }

    fn witness(&mut self, w: PublicKey, ts: u64, r: WitnessReport) -> usize {
        self.push(w, ts, CoveragePayload::Witness(r))
    }

    fn run(&self) -> EpochOutcome {
        let carry = self.carry.encode();
        let input = EpochInput {
            epoch: 7,
            start_ms: START_MS,
            end_ms: END_MS,
            entropy: ENTROPY,
            reports: &self.reports.iter().collect::<Vec<_>>(),
            snapshot: &self.snapshot,
            pool_bones: Amount(1_000_000_000),
            carry: &carry,
        };
        let out = self.module.verify_epoch(&input);
        assert_eq!(out.verdicts.len(), self.reports.len());
        assert_eq!(out, self.module.verify_epoch(&input), "deterministic");
        out
    }
}

fn code(out: &EpochOutcome, i: usize) -> &str {
    out.verdicts.code(i).expect("one verdict per report")
}

/// Beaconer 1 at the centre, honest witnesses 2..=4 a few km away.
fn town() -> (World, [PublicKey; 4]) {
    let mut w = World::new(CoverageParams {
        beacon_interval_ms: 900_000,
        ..CoverageParams::default()
    });
    let b = w.hotspot(1, Some(place(0.0, 0.0)));
    let h2 = w.hotspot(2, Some(place(3.0, 0.0)));
    let h3 = w.hotspot(3, Some(place(0.0, 4.0)));
    let h4 = w.hotspot(4, Some(place(-2.5, -2.5)));
    (w, [b, h2, h3, h4])
}

/// Town's honest proof: beacon at +60 s, witnesses within a second.
fn honest_poc(w: &mut World, hs: &[PublicKey; 4]) -> (usize, BeaconReport, Vec<usize>) {
    let t = START_MS + 60_000;
    let (bi, br) = w.beacon(hs[0], t);
    let mut wis = Vec::new();
    for (n, h) in hs[1..].iter().enumerate() {
        let r = w.honest_witness(&br, hs[0], *h);
        wis.push(w.witness(*h, t + 200 + n as u64 * 100, r));
    }
    (bi, br, wis)
}

#[test]
fn an_honest_proof_pays_the_beaconer_and_its_witnesses() {
    let (mut w, hs) = town();
    let (bi, _, wis) = honest_poc(&mut w, &hs);
    let out = w.run();
    assert_eq!(code(&out, bi), "valid");
    for i in wis {
        assert_eq!(code(&out, i), "valid");
    }
    for h in hs {
        assert!(
            out.shares.get(&h).copied().unwrap_or(0) > 0,
            "{h:?} is paid"
        );
    }
    assert!(out.exact_rewards);
    assert!(out.shares.values().sum::<u128>() <= 1_000_000_000);
    assert!(
        !out.carry.is_empty(),
        "reciprocity state carries to the next epoch"
    );
}

/// Runs town's honest proof plus one spoofed witness by a new hotspot; the spoof gets
/// `want` and nothing, the honest ones stay valid.
fn spoof_witness(
    want: &str,
    spoofer_at: u64,
    craft: impl FnOnce(&World, &BeaconReport, PublicKey) -> (u64, WitnessReport),
) {
    let (mut w, hs) = town();
    let spoofer = w.hotspot(9, Some(spoofer_at));
    let (bi, br, honest) = honest_poc(&mut w, &hs);
    let (ts, r) = craft(&w, &br, spoofer);
    let si = w.witness(spoofer, ts, r);
    let out = w.run();
    assert_eq!(code(&out, si), want);
    assert!(
        !out.shares.contains_key(&spoofer),
        "the spoofer earns nothing"
    );
    assert_eq!(code(&out, bi), "valid");
    for i in honest {
        assert_eq!(code(&out, i), "valid");
    }
}

const T0: u64 = START_MS + 60_000;

#[test]
fn a_witness_that_moved_its_asserted_location_far_away_is_refused_for_its_signal() {
    // Really 2 km from the beaconer, asserted 30 km away: the strong signal it hears
    // cannot cross 30 km of free space.
    spoof_witness("bad_rssi", place(30.0, 0.0), |w, br, s| {
        let d = geo::distance_m(w.location(key(1)), place(2.0, 0.0)).unwrap();
        let real = geo::expected_rssi_dbm(br.tx_power_dbm, br.frequency_hz, d, GAIN, GAIN);
        let mut r = w.honest_witness(br, key(1), s);
        r.signal_ddbm = (real * 10.0) as i32 - 100;
        (T0 + 400, r)
    });
}

#[test]
fn an_inflated_rssi_is_refused() {
    spoof_witness("bad_rssi", place(5.0, 5.0), |w, br, s| {
        let mut r = w.honest_witness(br, key(1), s);
        r.signal_ddbm += 300; // 15 dB over what it could hear, 30 dB over honest
        (T0 + 400, r)
    });
}

#[test]
fn a_late_witness_is_refused() {
    spoof_witness("too_late", place(5.0, 5.0), |w, br, s| {
        (T0 + 4_001, w.honest_witness(br, key(1), s))
    });
}

#[test]
fn a_witness_on_the_wrong_frequency_is_refused() {
    spoof_witness("invalid_frequency", place(5.0, 5.0), |w, br, s| {
        let mut r = w.honest_witness(br, key(1), s);
        r.frequency_hz += 200_000;
        (T0 + 400, r)
    });
}

#[test]
fn a_witness_from_another_region_is_refused() {
    spoof_witness("invalid_region", border_spot(), |w, br, s| {
        (T0 + 400, w.honest_witness(br, key(1), s))
    });
}

#[test]
fn a_witness_next_door_is_refused_as_too_close() {
    spoof_witness("below_min_distance", place(0.1, 0.0), |w, br, s| {
        (T0 + 400, w.honest_witness(br, key(1), s))
    });
}

#[test]
fn a_witness_beyond_a_hundred_km_is_refused() {
    spoof_witness("max_distance_exceeded", place(0.0, 120.0), |w, br, s| {
        (T0 + 400, w.honest_witness(br, key(1), s))
    });
}

#[test]
fn a_replayed_witness_counts_once_and_a_witness_of_no_beacon_is_refused() {
    let (mut w, hs) = town();
    let (_, br, honest) = honest_poc(&mut w, &hs);
    let again = w.honest_witness(&br, hs[0], hs[1]);
    let replay = w.witness(hs[1], T0 + 900, again);
    let old = w.beacon_of(hs[0], 99); // a beacon never sent this epoch
    let stale = WitnessReport {
        data: old.data,
        ..w.honest_witness(&br, hs[0], hs[2])
    };
    let orphan = w.witness(hs[2], T0 + 950, stale);
    let out = w.run();
    assert_eq!(code(&out, replay), "duplicate_witness");
    assert_eq!(code(&out, orphan), "invalid_packet");
    assert_eq!(code(&out, honest[0]), "valid");
    // Counted once: three witnesses' units, not four.
    let mut single = town();
    honest_poc(&mut single.0, &single.1);
    assert_eq!(out.shares, single.0.run().shares);
}

#[test]
fn a_self_witness_is_refused() {
    let (mut w, hs) = town();
    let (_, br, _) = honest_poc(&mut w, &hs);
    let me = w.witness(
        hs[0],
        T0 + 300,
        WitnessReport {
            data: br.data.clone(),
            signal_ddbm: -300,
            snr_ddb: 90,
            frequency_hz: br.frequency_hz,
        },
    );
    let out = w.run();
    assert_eq!(code(&out, me), "self_witness");
}

#[test]
fn a_ring_that_only_witnesses_itself_from_one_room_is_refused_and_earns_nothing() {
    // Three hotspots in one apartment assert places 5–8 km apart and witness only each
    // other, reporting the in-room signal they really hear.
    let (mut w, hs) = town();
    let ring = [
        w.hotspot(20, Some(place(10.0, 10.0))),
        w.hotspot(21, Some(place(15.0, 12.0))),
        w.hotspot(22, Some(place(9.0, 17.0))),
    ];
    honest_poc(&mut w, &hs);
    let mut witnesses = Vec::new();
    for (n, b) in ring.iter().enumerate() {
        let t = T0 + 120_000 * (n as u64 + 1);
        let (_, br) = w.beacon(*b, t);
        for other in ring.iter().filter(|o| *o != b) {
            let mut r = w.honest_witness(&br, *b, *other);
            r.signal_ddbm = -350; // −35 dBm: a few metres apart
            witnesses.push(w.witness(*other, t + 150, r));
        }
    }
    let out = w.run();
    for i in witnesses {
        assert_eq!(code(&out, i), "bad_rssi");
    }
    for r in ring {
        assert!(
            !out.shares.contains_key(&r),
            "ring member {r:?} earns nothing"
        );
    }
    assert!(out.shares.contains_key(&hs[0]));
}

/// A spoofed beacon by hotspot 9 (witnessed honestly by 2 and 3): `want`, zero for all.
fn spoof_beacon(
    want: &str,
    params: CoverageParams,
    craft: impl FnOnce(&mut World, PublicKey) -> usize,
) {
    let mut w = World::new(params);
    let s = w.hotspot(9, Some(place(0.0, 0.0)));
    w.hotspot(2, Some(place(3.0, 0.0)));
    w.hotspot(3, Some(place(0.0, 4.0)));
    let bi = craft(&mut w, s);
    let out = w.run();
    assert_eq!(code(&out, bi), want);
    assert!(
        out.shares.is_empty(),
        "nobody earns from a refused beacon: {:?}",
        out.shares
    );
}

fn witness_it(w: &mut World, b: PublicKey, br: &BeaconReport, ts: u64) {
    for h in [key(2), key(3)] {
        let r = w.honest_witness(br, b, h);
        w.witness(h, ts + 200, r);
    }
}

#[test]
fn a_beacon_built_from_old_entropy_is_refused() {
    spoof_beacon("entropy_expired", CoverageParams::default(), |w, s| {
        let (_, mut br) = w.beacon(s, T0);
        w.reports.pop();
        br.entropy = Hash32([1; 32]);
        let i = w.push(s, T0, CoveragePayload::Beacon(br.clone()));
        witness_it(w, s, &br, T0);
        i
    });
}

#[test]
fn a_beacon_with_a_forged_payload_or_power_is_refused() {
    spoof_beacon("invalid_packet", CoverageParams::default(), |w, s| {
        let (_, mut br) = w.beacon(s, T0);
        w.reports.pop();
        br.tx_power_dbm += 3;
        let i = w.push(s, T0, CoveragePayload::Beacon(br.clone()));
        witness_it(w, s, &br, T0);
        i
    });
}

#[test]
fn a_second_beacon_in_one_interval_is_refused() {
    let mut w = World::new(CoverageParams::default());
    let s = w.hotspot(9, Some(place(0.0, 0.0)));
    w.hotspot(2, Some(place(3.0, 0.0)));
    let (first, br) = w.beacon(s, T0);
    witness_it_one(&mut w, s, &br, T0);
    let (second, br2) = w.beacon(s, T0 + 60_000);
    assert_eq!(br.data, br2.data, "same interval, same beacon");
    let out = w.run();
    assert_eq!(code(&out, first), "valid");
    assert_eq!(code(&out, second), "irregular_beacon_interval");
}

fn witness_it_one(w: &mut World, b: PublicKey, br: &BeaconReport, ts: u64) {
    let r = w.honest_witness(br, b, key(2));
    w.witness(key(2), ts + 200, r);
}

#[test]
fn denylisted_hotspots_and_edges_are_refused() {
    let (mut w0, hs) = town();
    let net = Network::Devnet;
    let params = CoverageParams {
        beacon_interval_ms: 900_000,
        denylist: vec![Address::new(net, hs[1])],
        denied_edges: vec![(Address::new(net, hs[2]), Address::new(net, hs[0]))],
        ..CoverageParams::default()
    };
    w0.module = CoverageModule::new(params, catalog()).unwrap();
    let (_, _, wis) = honest_poc(&mut w0, &hs);
    let out = w0.run();
    assert_eq!(code(&out, wis[0]), "denied");
    assert_eq!(code(&out, wis[1]), "denied_edge");
    assert_eq!(code(&out, wis[2]), "valid");
    assert!(!out.shares.contains_key(&hs[1]) && !out.shares.contains_key(&hs[2]));
}

#[test]
fn unknown_and_unasserted_hotspots_are_refused() {
    let (mut w, hs) = town();
    w.hotspot(30, None);
    let (_, br, _) = honest_poc(&mut w, &hs);
    let stranger = w.witness(
        key(31),
        T0 + 300,
        WitnessReport {
            data: br.data.clone(),
            signal_ddbm: -1100,
            snr_ddb: 0,
            frequency_hz: br.frequency_hz,
        },
    );
    let unasserted = w.witness(
        key(30),
        T0 + 300,
        WitnessReport {
            data: br.data.clone(),
            signal_ddbm: -1100,
            snr_ddb: 0,
            frequency_hz: br.frequency_hz,
        },
    );
    let out = w.run();
    assert_eq!(code(&out, stranger), "gateway_not_found");
    assert_eq!(code(&out, unasserted), "not_asserted");
}

#[test]
fn without_reciprocity_history_a_beacon_and_a_witness_are_refused() {
    let (mut w, hs) = town();
    w.carry = Reciprocity::default();
    // hs[1] keeps a recent witness (so its beacon counts), nobody has a recent beacon.
    w.carry.witnessed(hs[1], START_MS - 1_000);
    let (bi, _, wis) = honest_poc(&mut w, &hs);
    let t = T0 + 900_000;
    let (b2, br2) = w.beacon(hs[1], t);
    let r = w.honest_witness(&br2, hs[1], hs[2]);
    let w2 = w.witness(hs[2], t + 100, r);
    let out = w.run();
    assert_eq!(
        code(&out, bi),
        "no_valid_witnesses",
        "hs[0] never witnessed"
    );
    assert_eq!(code(&out, wis[0]), "invalid_beacon");
    assert_eq!(code(&out, b2), "valid", "hs[1] witnessed before");
    assert_eq!(
        code(&out, w2),
        "no_valid_beacons",
        "hs[2]'s beacon was never witnessed"
    );
    assert!(!out.shares.contains_key(&hs[2]));
}

#[test]
fn only_the_first_fourteen_valid_witnesses_are_selected() {
    let mut w = World::new(CoverageParams::default());
    let b = w.hotspot(1, Some(place(0.0, 0.0)));
    let ring: Vec<PublicKey> = (0..16u8)
        .map(|i| {
            let a = f64::from(i) * std::f64::consts::TAU / 16.0;
            w.hotspot(40 + i, Some(place(5.0 * a.sin(), 5.0 * a.cos())))
        })
        .collect();
    let (_, br) = w.beacon(b, T0);
    let idx: Vec<usize> = ring
        .iter()
        .enumerate()
        .map(|(n, h)| {
            let r = w.honest_witness(&br, b, *h);
            w.witness(*h, T0 + 100 + n as u64, r)
        })
        .collect();
    let out = w.run();
    let codes: Vec<&str> = idx.iter().map(|i| code(&out, *i)).collect();
    assert_eq!(&codes[..14], ["valid"; 14]);
    assert_eq!(&codes[14..], ["witness_not_selected"; 2]);
    assert!(!out.shares.contains_key(&ring[15]));
}

#[test]
fn packets_are_charged_to_the_payer_and_a_payer_without_credits_is_refused() {
    let (mut w, hs) = town();
    let (rich, poor) = (key(200), key(201));
    w.snapshot.credits.insert(rich, 10);
    let packet = |n: u8, payer, bytes| {
        CoveragePayload::Packet(PacketReport {
            payer,
            payload_bytes: bytes,
            packet_hash: Hash32([n; 32]),
        })
    };
    let a = w.push(hs[1], T0, packet(1, rich, 48)); // 2 credits
    let b = w.push(hs[2], T0 + 1, packet(2, rich, 5)); // 1 credit (minimum)
    let dup = w.push(hs[3], T0 + 2, packet(2, rich, 5));
    let c = w.push(hs[1], T0 + 3, packet(3, poor, 24));
    let d = w.push(hs[2], T0 + 4, packet(4, rich, 24 * 8)); // 8 > 7 left
    let out = w.run();
    let codes: Vec<&str> = [a, b, dup, c, d].iter().map(|i| code(&out, *i)).collect();
    assert_eq!(
        codes,
        [
            "valid",
            "valid",
            "duplicate_packet",
            "insufficient_credits",
            "insufficient_credits"
        ]
    );
    let charged: u64 = out.usage.iter().map(|u| u.credits).sum();
    assert_eq!(charged, 3);
    assert!(out.usage.iter().all(|u| u.payer == rich));
    assert!(
        out.shares[&hs[1]] > out.shares[&hs[2]],
        "data transfer paid by credits"
    );
    assert!(!out.shares.contains_key(&hs[3]));
}
