//! Helium oracles' own expected values (../shared/vectors/helium_oracles), reproduced
//! exactly: HIP-17 hex density, the witness checks, and the six-gateway reward split.

use depin_module_coverage::checks::{self, Radio};
use depin_module_coverage::geo;
use depin_module_coverage::hex_density::HexScales;
use depin_module_coverage::payload::WitnessReport;
use depin_module_coverage::reward_share::{split_rewards, CreditValue, HotspotShares, PoolSplit};
use depin_module_coverage::CoverageParams;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;

fn load(name: &str) -> Option<Value> {
    let p = depin_testkit::shared_path(&format!("vectors/helium_oracles/{name}"))?;
    Some(serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

#[test]
fn hex_density_scales_match_helium_for_all_31_cells() {
    let Some(v) = load("iot_hex_density_simple_scale_check.json") else {
        return;
    };
    let cells = v["input_res12_cells_u64"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| h3o::CellIndex::try_from(u(c)).unwrap());
    let scales = HexScales::compute(cells);
    let expected = v["expected_hex_scale_by_u64"].as_object().unwrap();
    assert_eq!(expected.len(), 31);
    assert_eq!(scales.len(), 31);
    for (cell, want) in expected {
        let got = scales.scale(cell.parse().unwrap());
        assert_eq!(format!("{got:.4}"), want.as_str().unwrap(), "cell {cell}");
    }
}

fn witness(signal_ddbm: i64, freq: u64) -> WitnessReport {
    WitnessReport {
        data: vec![1],
        signal_ddbm: i32::try_from(signal_ddbm).unwrap(),
        snr_ddb: 0,
        frequency_hz: freq,
    }
}

fn outcome(r: Result<(), &'static str>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err("invalid_frequency") => "InvalidFrequency",
        Err("max_distance_exceeded") => "MaxDistanceExceeded",
        Err("below_min_distance") => "BelowMinDistance",
        Err("bad_rssi") => "BadRssi",
        Err(other) => other,
    }
}

fn run_case(p: &CoverageParams, c: &Value) -> usize {
    let radio = |loc: &Value, gain: i64| Radio {
        location: u(loc),
        gain_ddbi: i32::try_from(gain).unwrap(),
    };
    let far = |b: &Value, w: &Value| {
        let heard = witness(-2000, 900_000_000);
        checks::distance_and_signal(p, radio(b, 12), 27, radio(w, 12), &heard)
    };
    match c["fn"].as_str().unwrap() {
        "calc_distance" => {
            let d = geo::distance_m(u(&c["loc1"]), u(&c["loc2"])).unwrap();
            assert_eq!(u64::from(d), u(&c["expected_m"]));
        }
        "calc_cell_distance" => {
            let d = geo::cell_distance(u(&c["loc1"]), u(&c["loc2"])).unwrap();
            assert_eq!(u64::from(d), u(&c["expected_res11_grid_distance"]));
        }
        "calc_expected_rssi" => {
            let gain = |k: &str| i32::try_from(c[k].as_i64().unwrap()).unwrap();
            let tx = gain("tx_power_dbm");
            let d = u32::try_from(u(&c["distance_m"])).unwrap();
            let got = geo::expected_rssi_dbm(
                tx,
                u(&c["freq_hz"]),
                d,
                gain("beacon_gain_ddbi"),
                gain("witness_gain_ddbi"),
            );
            assert_eq!(got, c["expected"].as_f64().unwrap(), "bit-exact f64");
        }
        "verify_witness_freq" => {
            let want = c["expected"].as_array().unwrap();
            for (hz, want) in c["witness_hz"].as_array().unwrap().iter().zip(want) {
                let got = outcome(checks::frequency(p, u(&c["beacon_hz"]), u(hz)));
                assert_eq!(got, want.as_str().unwrap(), "witness at {hz} Hz");
            }
        }
        "verify_witness_distance" | "verify_witness_cell_distance" => {
            let got = outcome(far(&c["beacon_loc"], &c["witness_loc"]));
            assert_eq!(got, c["expected"].as_str().unwrap(), "{c}");
        }
        "verify_witness_rssi" => {
            let heard = witness(
                c["witness_signal_ddbm"].as_i64().unwrap(),
                u(&c["witness_freq_hz"]),
            );
            let tx = i32::try_from(c["beacon_tx_power_dbm"].as_i64().unwrap()).unwrap();
            let b = radio(&c["beacon_loc"], c["beacon_gain_ddbi"].as_i64().unwrap());
            let w = radio(&c["witness_loc"], c["witness_gain_ddbi"].as_i64().unwrap());
            // The vector checks the signal rule alone: distance limits are disabled here.
            let p = CoverageParams {
                max_distance_km: u32::MAX,
                min_cell_distance: 0,
                ..p.clone()
            };
            let got = outcome(checks::distance_and_signal(&p, b, tx, w, &heard));
            assert_eq!(got, c["expected"].as_str().unwrap(), "{c}");
        }
        other => panic!("unknown vector case {other}"),
    }
    1
}

#[test]
fn witness_checks_match_helium_case_by_case() {
    let Some(v) = load("iot_poc_witness_checks.json") else {
        return;
    };
    let p = CoverageParams::default();
    let k = &v["constants"];
    assert_eq!(u64::from(p.max_distance_km), u(&k["POC_DISTANCE_LIMIT_km"]));
    assert_eq!(
        u64::from(p.min_cell_distance),
        u(&k["POC_CELL_DISTANCE_MINIMUM"])
    );
    assert_eq!(p.max_witness_lag_ms, u(&k["MAX_WITNESS_LAG_ms"]));
    assert_eq!(
        p.max_beacon_to_witness_lag_ms,
        u(&k["MAX_BEACON_TO_WITNESS_LAG_ms"])
    );
    assert_eq!(p.frequency_tolerance_hz, u(&k["witness_freq_tolerance_hz"]));
    assert_eq!(
        geo::SPEED_OF_LIGHT_M_PER_S,
        k["C_m_per_s"].as_f64().unwrap()
    );
    let cases = v["cases"].as_array().unwrap();
    let ran: usize = cases.iter().map(|c| run_case(&p, c)).sum();
    assert_eq!(ran, cases.len());
    assert!(ran >= 10);
}

#[test]
fn six_gateway_reward_split_matches_helium_in_bones() {
    let Some(v) = load("iot_reward_share.json") else {
        return;
    };
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["gateways"].is_object())
        .unwrap();
    let dec = |x: &Value| Decimal::from(x.as_u64().unwrap());
    let mut shares = BTreeMap::new();
    for (name, g) in case["gateways"].as_object().unwrap() {
        let s = HotspotShares {
            beacon: dec(&g["beacon_shares"]),
            witness: dec(&g["witness_shares"]),
            data_credits: dec(&g["dc_spend"]),
        };
        shares.insert(name.clone(), s);
    }
    // Helium values a DC at $0.00001 and the token at `price_in_bones / 10^decimals` USD,
    // so a bone costs that / 10^decimals.
    let scale = Decimal::from(10u64.pow(8));
    let per_bone = dec(&case["price"]["price_in_bones"]) / scale / scale;
    let credit = CreditValue {
        numerator: Decimal::new(1, 5),
        denominator: per_bone,
    };
    let emission = dec(&case["epoch_emissions_bones"]);
    let split = split_rewards(emission, &shares, &PoolSplit::default(), &credit);
    for (name, want) in case["expected"].as_object().unwrap() {
        let got = split.rewards.get(name);
        if want.is_string() {
            assert_eq!(got, None, "{name} has no reward entry");
            continue;
        }
        let got = got.unwrap();
        assert_eq!(
            u64::try_from(got.beacon_bones).unwrap(),
            u(&want["beacon"]),
            "{name} beacon"
        );
        assert_eq!(
            u64::try_from(got.witness_bones).unwrap(),
            u(&want["witness"]),
            "{name} witness"
        );
        assert_eq!(
            u64::try_from(got.data_transfer_bones).unwrap(),
            u(&want["dc"]),
            "{name} dc"
        );
    }
    let paid_dc: u128 = split.rewards.values().map(|r| r.data_transfer_bones).sum();
    let used = split.data_transfer_pool.trunc();
    let shortfall = used - Decimal::from(paid_dc);
    let totals = &case["expected_totals"];
    assert_eq!(shortfall, dec(&totals["dc_distributed_shortfall_bones"]));
}
