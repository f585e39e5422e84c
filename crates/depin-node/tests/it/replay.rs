//! Every committed transaction resubmitted — on the same chain, signed for another chain id,
//! and after a restart — is rejected with a reason code; the chain replays from genesis to the
//! same state root.

use crate::harness::{genesis, start, transfer, CHAIN};
use depin_client::ClientError;
use std::sync::Arc;
use std::time::Duration;

fn code(r: Result<depin_types::Hash32, ClientError>) -> String {
    match r {
        Err(e) => e.code().unwrap_or("no code").to_string(),
        Ok(id) => panic!("replay {id} was accepted"),
    }
}

#[tokio::test]
async fn committed_transactions_are_never_accepted_twice_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (node, c) = start(dir.path()).await;
    let txs: Vec<_> = (0..5)
        .map(|n| transfer(CHAIN, 2, n, 100 + u128::from(n)))
        .collect();
    let verdicts = c.submit_batch(&txs).await.unwrap();
    assert!(verdicts.results.iter().all(|r| r.accepted), "{verdicts:?}");
    for t in &txs {
        c.wait_committed(&t.id(), Duration::from_secs(10))
            .await
            .unwrap();
    }
    for t in &txs {
        assert_eq!(code(c.submit(t).await), "tx_already_committed");
        let mut other = t.tx.clone();
        other.chain_id = "another-chain".into();
        assert_eq!(
            code(c.submit(&other.sign(&crate::harness::key(2))).await),
            "wrong_chain_id"
        );
    }
    let root_before = c.chain().await.unwrap();
    node.stop().await;

    let (node, c) = start(dir.path()).await;
    let after = c.chain().await.unwrap();
    assert!(after.height >= root_before.height);
    for t in &txs {
        assert_eq!(code(c.submit(t).await), "tx_already_committed");
        assert_eq!(c.tx_status(&t.id()).await.unwrap().status, "committed");
    }
    node.stop().await;

    let src =
        depin_db::Db::open(&depin_node::home::db_path(dir.path()), &Default::default()).unwrap();
    let dst =
        Arc::new(depin_db::Db::open(&dir.path().join("replay.redb"), &Default::default()).unwrap());
    let report = depin_node::replay::replay(&src, dst, &genesis(CHAIN)).unwrap();
    assert_eq!(report.state_root, report.source_root);
    assert!(report.height >= root_before.height);
}
