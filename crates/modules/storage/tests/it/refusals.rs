//! A storage provider's refusals reach the client even when it refuses before reading the body.

use std::sync::Arc;

use depin_client::{NodeClient, OracleClient};
use depin_module_storage::agent::provider::{router, Provider};
use depin_types::SecretKey;

/// Bytes in each refused upload: far more than a socket buffer holds, so a server that
/// answered without reading them would close a connection with unread bytes.
const BODY_BYTES: usize = 6 << 20;
/// Uploads tried per refusal kind (the reset race loses only some of the time).
const TRIES: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_refusing_an_upload_before_reading_it_still_delivers_its_refusal_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Nothing listens on port 1: every deal lookup fails, so every valid upload is refused
    // before its body is read.
    let provider = Provider {
        device: SecretKey::from_seed([7; 32]),
        chain_id: "refusals".into(),
        dir: dir.path().to_path_buf(),
        node: NodeClient::new("http://127.0.0.1:1"),
        oracle: OracleClient::new("http://127.0.0.1:1"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = router(Arc::new(provider));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let deal = "ab".repeat(32);
    for (path, status) in [("not-a-deal/0", 400), (&*format!("{deal}/0"), 0)] {
        for _ in 0..TRIES {
            let reply = http
                .put(format!("{base}/v1/shards/{path}"))
                .body(vec![0x5a; BODY_BYTES])
                .send()
                .await
                .expect("the refusal arrives, not a reset connection");
            let got = reply.status().as_u16();
            assert!(got >= 400 && (status == 0 || got == status), "{got}");
            let body: serde_json::Value = reply.json().await.expect("a JSON refusal");
            assert!(body["code"].is_string(), "{body}");
        }
    }
    assert!(
        walk_files(dir.path()).is_empty(),
        "nothing kept from refused uploads"
    );
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}
