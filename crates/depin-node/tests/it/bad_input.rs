//! Malformed, truncated, oversized, wrong-signature, wrong-nonce and overflowing transactions
//! each get a 4xx with a distinct reason code, and the node keeps serving.

use crate::harness::{start, transfer, CHAIN};
use depin_client::ClientError;
use std::time::Duration;

fn rejected(r: Result<impl std::fmt::Debug, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Rejected { status, code, .. }) => (status, code),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn every_kind_of_bad_transaction_gets_its_own_reason_code_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (node, c) = start(dir.path()).await;
    let good = transfer(CHAIN, 0, 0, 5);
    let bytes = good.to_bytes();

    let mut cases: Vec<(&str, (u16, String))> = Vec::new();
    // The action's enum tag sits after chain id (4 + len), signer (32), nonce (8), fee (16).
    let mut malformed = bytes.clone();
    malformed[4 + CHAIN.len() + 32 + 8 + 16] = 200;
    cases.push(("bad enum tag", rejected(c.submit_raw(malformed).await)));
    let mut trailing = bytes.clone();
    trailing.push(0); // a whole transaction followed by a stray byte
    cases.push(("trailing", rejected(c.submit_raw(trailing).await)));
    cases.push((
        "truncated",
        rejected(c.submit_raw(bytes[..bytes.len() - 10].to_vec()).await),
    ));
    cases.push(("oversized", rejected(c.submit_raw(vec![0u8; 2_000]).await)));
    let mut bad_sig = good.clone();
    bad_sig.signature.0[0] ^= 1;
    cases.push(("bad signature", rejected(c.submit(&bad_sig).await)));
    cases.push((
        "nonce ahead",
        rejected(c.submit(&transfer(CHAIN, 0, 7, 5)).await),
    ));
    cases.push((
        "overflow",
        rejected(c.submit(&transfer(CHAIN, 0, 0, u128::MAX)).await),
    ));
    cases.push((
        "too poor",
        rejected(c.submit(&transfer(CHAIN, 0, 0, 10_000_000_000)).await),
    ));
    cases.push((
        "other chain",
        rejected(c.submit(&transfer("other-chain", 0, 0, 5)).await),
    ));
    let expected = [
        ("bad enum tag", (400, "malformed_tx")),
        ("trailing", (400, "malformed_tx")),
        ("truncated", (400, "truncated_tx")),
        ("oversized", (413, "tx_too_large")),
        ("bad signature", (400, "invalid_signature")),
        ("nonce ahead", (400, "nonce_too_high")),
        ("overflow", (400, "amount_overflow")),
        ("too poor", (400, "insufficient_funds")),
        ("other chain", (400, "wrong_chain_id")),
    ];
    for ((name, got), (ename, (status, code))) in cases.iter().zip(expected) {
        assert_eq!(*name, ename);
        assert_eq!((got.0, got.1.as_str()), (status, code), "case {name}");
    }
    // An absurd body is refused before it is read whole.
    let huge = vec![7u8; 17 * 1024 * 1024];
    assert_eq!(
        rejected(c.submit_raw(huge).await),
        (413, "body_too_large".to_string())
    );

    // The node still serves, and the good transaction still goes through.
    let id = c.submit(&good).await.unwrap();
    c.wait_committed(&id, Duration::from_secs(10))
        .await
        .unwrap();
    let low = rejected(c.submit(&transfer(CHAIN, 0, 0, 6)).await);
    assert_eq!(low, (400, "nonce_too_low".to_string()));
    assert!(c.supply().await.unwrap().ok);
    node.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_metrics_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let (node, c) = start(dir.path()).await;
    let url = format!("{}/openapi.json", c.base_url());
    let doc: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    for p in [
        "/v1/txs",
        "/v1/txs/batch",
        "/v1/txs/{id}",
        "/v1/accounts/{address}",
        "/v1/blocks/{id}",
        "/v1/chain",
        "/v1/devices/{address}",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    let id = c.submit(&transfer(CHAIN, 1, 0, 5)).await.unwrap();
    c.wait_committed(&id, Duration::from_secs(10))
        .await
        .unwrap();
    let text = reqwest::get(format!("{}/metrics", c.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("depin_txs_committed_total"), "{text}");
    node.stop().await;
}
