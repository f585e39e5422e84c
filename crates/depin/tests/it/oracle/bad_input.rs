//! Every kind of bad report is refused with its own reason code and counted in the epoch's
//! manifest; a tampered manifest or tampered inputs fail re-verification.

use crate::oracle::end_to_end::manifest;
use crate::oracle::harness::*;
use depin_client::{ClientError, OracleClient};
use depin_oracle::reverify::{recompute, VerifyError};
use depin_oracle::EpochInputs;
use depin_types::{Report, SignedReport};
use std::collections::BTreeMap;
use std::time::Duration;

fn heartbeat(device: u8, ts: u64) -> SignedReport {
    let r = Report {
        chain_id: CHAIN.into(),
        module: "heartbeat".into(),
        device: key(device).public(),
        timestamp_ms: ts,
        payload: vec![],
    };
    r.sign(&key(device))
}

fn code(r: Result<depin_api::ReportAck, ClientError>) -> (u16, String) {
    match r {
        Ok(_) => (200, "ok".into()),
        Err(ClientError::Rejected { status, code, .. }) => (status, code),
        Err(e) => panic!("transport failure: {e}"),
    }
}

/// Sends one of each bad report; returns the reason codes expected in the manifests.
async fn send_bad_reports(o: &OracleClient) -> (depin_types::Hash32, BTreeMap<String, u64>) {
    let now = now_ms();
    let good = heartbeat(DEVICES[0], now);
    assert_eq!(code(o.submit(&good).await), (200, "ok".into()));
    let mut bad_sig = heartbeat(DEVICES[1], now);
    bad_sig.signature.0[5] ^= 1;
    let mut wrong_chain = heartbeat(DEVICES[1], now + 1);
    wrong_chain.report.chain_id = "other".into();
    let wrong_chain = wrong_chain.report.sign(&key(DEVICES[1]));
    let mut big = heartbeat(DEVICES[1], now + 2).report;
    big.payload = vec![0; 5_000];
    let cases = [
        (o.submit(&good).await, (400, "duplicate_report")),
        (o.submit(&bad_sig).await, (400, "invalid_signature")),
        (o.submit(&heartbeat(77, now)).await, (400, "unknown_device")),
        (
            o.submit(&heartbeat(DEVICES[1], now - 10_000)).await,
            (400, "out_of_window"),
        ),
        (
            o.submit(&big.sign(&key(DEVICES[1]))).await,
            (413, "report_too_large"),
        ),
        (
            o.submit_raw(vec![0; 100 * 1024]).await,
            (413, "body_too_large"),
        ),
        (o.submit_raw(vec![1, 2, 3]).await, (400, "malformed_report")),
        (o.submit(&wrong_chain).await, (400, "wrong_chain_id")),
    ];
    let mut expected = BTreeMap::new();
    for (got, (status, c)) in cases {
        assert_eq!(code(got), (status, c.to_string()));
        expected.insert(c.to_string(), 1u64);
    }
    for i in 0..2 {
        assert_eq!(
            code(o.submit(&heartbeat(DEVICES[2], now + i)).await).0,
            200,
            "within the burst"
        );
    }
    assert_eq!(
        code(o.submit(&heartbeat(DEVICES[2], now + 2)).await),
        (429, "rate_limited".into())
    );
    expected.insert("rate_limited".into(), 1);
    (good.id(), expected)
}

/// Sums the ingest refusals of every epoch settled up to the current one.
async fn settled_refusals(
    o: &OracleClient,
    genesis_time_ms: u64,
) -> (BTreeMap<String, u64>, Vec<u64>) {
    let until = (now_ms() - genesis_time_ms) / EPOCH_MS;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let settled = loop {
        let s = o.epochs().await.unwrap().settled;
        if s.last().is_some_and(|l| *l >= until) {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "epoch {until} not settled: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut sum = BTreeMap::new();
    for e in &settled {
        for (k, v) in manifest(o, *e).await.ingest_rejections {
            *sum.entry(k).or_insert(0) += v;
        }
    }
    (sum, settled)
}

#[tokio::test(flavor = "current_thread")]
async fn each_bad_report_is_refused_with_its_own_code_and_counted_in_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(now_ms());
    let (node_h, node) = start_node(&dir.path().join("node"), &g).await;
    onboard_devices(&node).await;
    let mut cfg = oracle_config(&dir.path().join("a"), &g, &node, ORACLES[0]);
    (cfg.rate_burst, cfg.rate_per_minute) = (2, 1);
    let (oracle_h, oracle) = start_oracle(cfg).await;
    let (good, expected) = send_bad_reports(&oracle).await;
    assert_eq!(oracle.status(&good).await.unwrap().status, "accepted");
    let (counted, settled) = settled_refusals(&oracle, g.genesis_time_ms).await;
    assert_eq!(counted, expected);
    let st = oracle.status(&good).await.unwrap();
    assert_eq!((st.status.as_str(), st.reason), ("valid", None));

    let e = *settled.iter().find(|e| **e == st.epoch).unwrap();
    let inputs_bytes = oracle.inputs(e).await.unwrap();
    let published = oracle.manifest(e).await.unwrap();
    recompute(&inputs_bytes, &published, &modules()).unwrap();
    let mut tampered = published.clone();
    tampered["owners"][0]["amount_bones"] = serde_json::json!("1");
    let err = recompute(&inputs_bytes, &tampered, &modules()).unwrap_err();
    assert!(
        matches!(&err, VerifyError::Mismatch { difference } if difference.contains("owners[0].amount_bones")),
        "{err}"
    );
    let mut inputs: EpochInputs = borsh::from_slice(&inputs_bytes).unwrap();
    inputs.reports[0].report.timestamp_ms += 1;
    let err = recompute(&inputs.to_bytes(), &published, &modules()).unwrap_err();
    assert!(err.to_string().contains("inputs_digest"), "{err}");
    let mut redigested = published.clone();
    redigested["inputs_digest"] =
        serde_json::json!(depin_oracle::settle::inputs_digest(&inputs.to_bytes()).to_hex());
    let err = recompute(&inputs.to_bytes(), &redigested, &modules()).unwrap_err();
    assert!(
        err.to_string().contains("signature does not verify"),
        "{err}"
    );
    oracle_h.stop().await;
    node_h.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_reply_is_json_by_default_and_borsh_when_asked_and_both_tell_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(now_ms());
    let (node_h, node) = start_node(&dir.path().join("node"), &g).await;
    onboard_devices(&node).await;
    let cfg = oracle_config(&dir.path().join("a"), &g, &node, ORACLES[0]);
    let (oracle_h, oracle) = start_oracle(cfg).await;
    let now = now_ms();
    let batch = |ts: u64| {
        let mut bad = heartbeat(DEVICES[1], ts);
        bad.signature.0[5] ^= 1;
        let good = heartbeat(DEVICES[0], ts);
        let items = vec![good.to_bytes(), bad.to_bytes(), vec![7, 7]];
        (good.id(), borsh::to_vec(&items).unwrap())
    };
    let (good, body) = batch(now);
    let json = oracle.submit_encoded_batch_json(body).await.unwrap();
    let codes: Vec<_> = json.results.iter().map(|i| i.code.as_deref()).collect();
    assert_eq!(
        codes,
        [None, Some("invalid_signature"), Some("malformed_report")]
    );
    assert_eq!(json.results[0].id.as_deref(), Some(good.to_hex().as_str()));

    let (good, body) = batch(now + 1);
    let outcomes = oracle.submit_encoded_batch(body).await.unwrap();
    let codes: Vec<_> = outcomes.iter().map(|o| o.code()).collect();
    assert_eq!(
        codes,
        [None, Some("invalid_signature"), Some("malformed_report")]
    );
    assert_eq!(outcomes[0].id(), Some(good));
    assert_eq!(oracle.status(&good).await.unwrap().status, "accepted");
    oracle_h.stop().await;
    node_h.stop().await;
}
