//! Running the `depin` binary.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_depin");

/// Runs `depin ARGS` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DEPIN_WALLET_PASSWORD", "test")
        .output()
        .expect("depin runs")
}

/// Runs `depin ARGS`, asserts success, parses stdout as JSON.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "depin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// A free loopback port (bound then released; another process could take it first, which
/// only makes a test retry its start).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `depin` process a test started: SIGKILLed and reaped when dropped (the harness of
/// `depin devnet` too), so a failing test leaves no node behind to hold ports, memory and
/// cores for the tests after it.
pub type Served = depin_procs::Process;

/// Starts `depin node start` on `home` and waits until its API answers.
pub fn start_node(home: &Path, port: u16) -> Served {
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "node",
        "start",
        "--home",
        home.to_str().unwrap(),
        "--api.listen",
        &listen,
    ];
    start_serving(&args, port)
}

/// `node init --dev` in `home` (epochs of `epoch_length_ms`, 500 ms blocks), then the node
/// started on a free port: its process and API URL.
pub fn start_dev_chain(home: &Path, epoch_length_ms: &str) -> (Served, String) {
    let h = home.to_str().unwrap();
    let blocks = ["--block-time-ms", "500"];
    let init = [
        "node",
        "init",
        "--dev",
        "--home",
        h,
        "--epoch-length-ms",
        epoch_length_ms,
    ];
    run_json(&[&init[..], &blocks[..]].concat());
    let port = free_port();
    (start_node(home, port), format!("http://127.0.0.1:{port}"))
}

/// Starts `depin ARGS` and waits until something listens on `port`.
pub fn start_serving(args: &[&str], port: u16) -> Served {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("DEPIN_LOG_FILTER", "warn")
        .env("DEPIN_WALLET_PASSWORD", "test")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut served = Served::spawn("depin", command, None).expect("depin starts");
    if let Err(e) = served.wait_listening(port, Duration::from_secs(30)) {
        panic!("depin {args:?} on port {port} did not come up: {e}");
    }
    served
}

/// `who`'s balance on the node behind `c`, bones.
pub async fn balance(c: &depin_client::NodeClient, who: &depin_types::SecretKey) -> u128 {
    c.account(&who.public().to_hex())
        .await
        .unwrap()
        .balance_bones
        .parse()
        .unwrap()
}
