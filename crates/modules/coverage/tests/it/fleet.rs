//! A fleet on the real 2020-06 Helium hotspot locations, its interval planned through the
//! radio simulator and verified by the coverage module itself: the simulated air must give
//! witness sets the oracle's checks accept, refused only for physical reasons.

use depin_module::{verdict_counts, DeviceInfo, EpochInput, LedgerSnapshot, ResourceModule};
use depin_module_coverage::agent::fleet::{IntervalPlan, Schedule};
use depin_module_coverage::agent::onboard::device_key;
use depin_module_coverage::agent::{
    read_hotspots, Fleet, HotspotAgent, RadioParams, Traffic, DEFAULT_ANTENNA,
};
use depin_module_coverage::payload::CoveragePayload;
use depin_module_coverage::state::Reciprocity;
use depin_module_coverage::{reason, CoverageModule, CoverageParams, RegionCatalog, CLASS};
use depin_types::{Amount, Hash32, PublicKey, Report};
use std::collections::BTreeMap;

const HOTSPOTS: &str = "data/helium_hotspots_2020/hotspots_2020-06_h384053.json";
const REGIONS: &str = "data/helium_lorawan_regions";
const GENESIS_MS: u64 = 1_700_000_000_000;
const EPOCH_MS: u64 = 3_600_000;

fn agents(catalog: &RegionCatalog) -> Vec<HotspotAgent> {
    let Some(path) = depin_testkit::shared_path(HOTSPOTS) else {
        return Vec::new();
    };
    let entries = read_hotspots(&path).expect("hotspots file");
    assert_eq!(entries.len(), 4_296);
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(location) = e.location().expect("valid cells") else {
            continue;
        };
        let plan = catalog
            .plan_at(location.index())
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        out.push(HotspotAgent {
            device: device_key(&[7; 32], i, e),
            chain_id: "t".into(),
            location,
            antenna: DEFAULT_ANTENNA,
            plan,
        });
    }
    out
}

fn snapshot(agents: &[HotspotAgent]) -> LedgerSnapshot {
    let devices = agents
        .iter()
        .map(|a| {
            let d = DeviceInfo {
                device: a.device.public(),
                owner: PublicKey([1; 32]),
                class: CLASS.into(),
                location: Some(a.location),
                antenna: Some(a.antenna),
                active: true,
            };
            (d.device, d)
        })
        .collect();
    LedgerSnapshot {
        height: 10,
        devices,
        credits: BTreeMap::new(),
        credit_price_bones: Amount(1),
        module_state: Default::default(),
    }
}

/// Verifies `plan` with the coverage module (every hotspot with a fresh reciprocity
/// history) and returns the verdict counts of all reports and of the witnesses.
fn verify(
    fleet: &Fleet,
    catalog: RegionCatalog,
    plan: &IntervalPlan,
    entropy: Hash32,
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut history = Reciprocity::default();
    for a in fleet.agents() {
        history.witnessed(a.device.public(), GENESIS_MS - 1);
        history.beaconed(a.device.public(), GENESIS_MS - 1);
    }
    let params = CoverageParams {
        beacon_interval_ms: EPOCH_MS,
        ..CoverageParams::default()
    };
    let module = CoverageModule::new(params, catalog).expect("module");
    let reports: Vec<&Report> = plan.reports.iter().map(|r| &r.report).collect();
    let carry = history.encode();
    let out = module.verify_epoch(&EpochInput {
        epoch: 0,
        start_ms: GENESIS_MS,
        end_ms: GENESIS_MS + EPOCH_MS,
        entropy,
        reports: &reports,
        snapshot: &snapshot(fleet.agents()),
        pool_bones: Amount(1_000_000_000_000),
        carry: &carry,
    });
    let witnesses = plan
        .reports
        .iter()
        .zip(out.verdicts.iter())
        .filter(|(r, _)| {
            matches!(
                CoveragePayload::decode(&r.report.payload),
                Ok(CoveragePayload::Witness(_))
            )
        });
    (
        out.verdicts.counts(),
        verdict_counts(witnesses.map(|(_, v)| v)),
    )
}

#[test]
fn the_simulated_air_over_real_hotspots_gives_witnesses_the_oracle_accepts() {
    let Some(dir) = depin_testkit::shared_path(REGIONS) else {
        return;
    };
    let catalog = RegionCatalog::load(&dir).expect("region catalog");
    let agents = agents(&catalog);
    assert_eq!(agents.len(), 4_179, "entries with a location");
    let schedule = Schedule {
        genesis_time_ms: GENESIS_MS,
        epoch_length_ms: EPOCH_MS,
        beacon_interval_ms: EPOCH_MS,
    };
    let fleet = Fleet::new(agents, RadioParams::default()).expect("fleet");
    let entropy = Hash32([5; 32]);
    let plan = fleet.plan(&schedule, &entropy, 0, 0);
    assert_eq!(plan.beacons + plan.silent, 4_179);
    assert!(
        plan.silent < 50,
        "{} hotspots without a region",
        plan.silent
    );
    assert!(
        plan.witnesses > plan.beacons,
        "{} witnesses",
        plan.witnesses
    );
    let (all, witnesses) = verify(&fleet, catalog, &plan, entropy);
    eprintln!(
        "beacons {}, witnesses {}: {witnesses:?}",
        plan.beacons, plan.witnesses
    );
    let physical = [
        "valid",
        reason::BELOW_MIN_DISTANCE,
        reason::BAD_RSSI,
        reason::MAX_DISTANCE_EXCEEDED,
        reason::WITNESS_NOT_SELECTED,
        reason::INVALID_REGION,
    ];
    for code in witnesses.keys() {
        assert!(
            physical.contains(&code.as_str()),
            "unexpected refusal {code}"
        );
    }
    let count = |c: &str| witnesses.get(c).copied().unwrap_or(0);
    let passed = count("valid") + count(reason::WITNESS_NOT_SELECTED);
    assert!(
        passed * 10 > plan.witnesses * 8,
        "{passed} of {} witnesses pass the physical checks",
        plan.witnesses
    );
    let valid_beacons = all["valid"] - count("valid");
    assert!(
        valid_beacons * 10 > plan.beacons * 8,
        "{valid_beacons} valid beacons"
    );
    assert_eq!(
        valid_beacons + all.get(reason::NO_VALID_WITNESSES).copied().unwrap_or(0),
        plan.beacons,
        "beacons are valid, or nobody (validly) heard them"
    );
}

/// The synthetic devnet city with its generated catalog, and 20 paid packets per interval.
fn city_fleet(payer: PublicKey) -> (Fleet, RegionCatalog) {
    use depin_module_coverage::agent::city::{covering_catalog, synthetic_city};
    let entries = synthetic_city(3, 200);
    let (maps, plans) = covering_catalog(&entries);
    let catalog = RegionCatalog::new(maps, plans).expect("catalog");
    let agents = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let location = e.location().expect("valid").expect("located");
            HotspotAgent {
                device: device_key(&[9; 32], i, e),
                chain_id: "t".into(),
                location,
                antenna: DEFAULT_ANTENNA,
                plan: catalog.plan_at(location.index()).expect("covered").to_vec(),
            }
        })
        .collect();
    let traffic = Traffic {
        payer,
        packets_per_interval: 20,
        payload_bytes: 48,
    };
    let fleet = Fleet::new(agents, RadioParams::default())
        .expect("fleet")
        .with_traffic(traffic)
        .expect("traffic within bounds");
    (fleet, catalog)
}

#[test]
fn a_synthetic_city_beacons_witnesses_and_forwards_paid_packets_the_oracle_accepts() {
    let payer = PublicKey([4; 32]);
    let (fleet, catalog) = city_fleet(payer);
    let schedule = Schedule {
        genesis_time_ms: GENESIS_MS,
        epoch_length_ms: EPOCH_MS,
        beacon_interval_ms: EPOCH_MS,
    };
    let entropy = Hash32([6; 32]);
    let plan = fleet.plan(&schedule, &entropy, 0, 0);
    assert_eq!((plan.beacons, plan.silent, plan.packets), (200, 0, 20));
    assert!(
        plan.witnesses > plan.beacons,
        "{} witnesses",
        plan.witnesses
    );
    let packets: Vec<_> = plan
        .reports
        .iter()
        .filter_map(|r| match CoveragePayload::decode(&r.report.payload) {
            Ok(CoveragePayload::Packet(p)) => Some((r.report.timestamp_ms, p)),
            _ => None,
        })
        .collect();
    assert_eq!(packets.len(), 20);
    let hashes: std::collections::BTreeSet<_> =
        packets.iter().map(|(_, p)| p.packet_hash).collect();
    assert_eq!(hashes.len(), 20, "every packet has its own hash");
    for (at_ms, p) in &packets {
        assert_eq!((p.payer, p.payload_bytes), (payer, 48));
        assert!((GENESIS_MS..GENESIS_MS + EPOCH_MS).contains(at_ms));
    }
    // Unfunded payer: every packet refused for credits; the beacons still verify.
    let (all, _) = verify(&fleet, catalog, &plan, entropy);
    assert_eq!(all.get(reason::INSUFFICIENT_CREDITS), Some(&20), "{all:?}");
    assert!(all["valid"] > plan.beacons, "{all:?}");
}
