//! The storage module on real files and real processes: a node, an oracle and seven
//! `depin agent storage` providers; `depin storage put` stores every file of ../shared/data
//! (one deal each, 4 of 6); killing any two providers (n − k) every file still comes back
//! byte-exact; killing a third provider of one deal gives a clear error naming the missing
//! shards and writes nothing; live providers' proofs are valid in the settled epochs, the
//! killed providers miss theirs and are slashed on chain, and their shards are marked faulty.
//! Needs ../shared (skipped without it unless `DEPIN_REQUIRE_SHARED=1`).

use crate::oracle_crash::start_oracle_with;
use crate::process::{free_port, run, run_json, start_dev_chain, start_serving, Served};
use depin_client::{NodeClient, OracleClient};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PROVIDERS: usize = 7;

struct Net {
    dir: PathBuf,
    node_url: String,
    oracle_url: String,
    /// The oracle and node processes, held so they stop when this is dropped.
    _processes: Vec<Served>,
    /// Provider device address → (its process, endpoint).
    providers: BTreeMap<String, (Served, String)>,
}

impl Net {
    fn node_file(&self, name: &str) -> String {
        self.dir
            .join("node")
            .join(name)
            .to_str()
            .unwrap()
            .to_string()
    }

    /// `depin --node … --wallet dev-wallet ARGS`.
    fn cli(&self, args: &[&str]) -> serde_json::Value {
        let wallet = self.node_file("dev-wallet.json");
        let base = ["--node", &self.node_url, "--wallet", &wallet];
        run_json(&[&base[..], args].concat())
    }

    fn start(dir: &Path) -> Net {
        let node_home = dir.join("node");
        let (node, node_url) = start_dev_chain(&node_home, "10000");
        let port = free_port();
        let key = node_home.join("dev-oracle.json");
        let extra = ["--key", key.to_str().unwrap()];
        let oracle = start_oracle_with(&dir.join("oracle"), &node_home, &node_url, port, &extra);
        Net {
            dir: dir.to_path_buf(),
            node_url,
            oracle_url: format!("http://127.0.0.1:{port}"),
            _processes: vec![oracle, node],
            providers: BTreeMap::new(),
        }
    }

    /// Creates, onboards and announces provider `i`, and starts its agent.
    fn add_provider(&mut self, i: usize) {
        let wallet = self.dir.join(format!("provider-{i}.json"));
        let w = wallet.to_str().unwrap();
        let created = run_json(&["wallet", "create", "--out", w, "--network", "devnet"]);
        let address = created["address"].as_str().unwrap().to_string();
        let maker = self.node_file("dev-maker.json");
        self.cli(&[
            "device",
            "onboard",
            "--class",
            "storage-provider",
            "--device-wallet",
            w,
            "--maker-wallet",
            &maker,
            "--commit",
        ]);
        let port = free_port();
        let endpoint = format!("http://127.0.0.1:{port}");
        self.cli(&[
            "storage",
            "announce",
            "--device",
            &address,
            "--capacity-bytes",
            "1000000000",
            "--price",
            "1",
            "--endpoint",
            &endpoint,
            "--commit",
        ]);
        let shards = self.dir.join(format!("shards-{i}"));
        let listen = format!("127.0.0.1:{port}");
        let genesis = self.node_file("genesis.toml");
        let args = [
            "--node",
            &self.node_url,
            "agent",
            "storage",
            "--device-wallet",
            w,
            "--dir",
            shards.to_str().unwrap(),
            "--listen",
            &listen,
            "--oracle",
            &self.oracle_url,
            "--genesis",
            &genesis,
        ];
        let child = start_serving(&args, port);
        self.providers.insert(address, (child, endpoint));
    }

    /// A network with `count` providers, their collateral bonded by the dev wallet.
    fn with_providers(dir: &Path, count: usize) -> Net {
        let mut net = Net::start(dir);
        net.cli(&["stake", "bond", "--amount", "1000", "--commit"]);
        for i in 0..count {
            net.add_provider(i);
        }
        net
    }

    /// `storage put PATH`, 4 of 6, paid for `epochs`, committed; what it printed.
    fn put(&self, path: &Path, epochs: &str) -> serde_json::Value {
        let path = path.to_str().unwrap();
        let args = [
            "storage", "put", path, "--k", "4", "--n", "6", "--epochs", epochs,
        ];
        self.cli(&[&args[..], &["--commit"]].concat())
    }

    fn kill(&mut self, provider: &str) {
        let (c, _) = self.providers.get_mut(provider).unwrap();
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn blake3_file(p: &Path) -> String {
    blake3::hash(&std::fs::read(p).unwrap())
        .to_hex()
        .to_string()
}

/// Gets every deal into `out` and checks it against its source file.
fn get_all(net: &Net, deals: &[serde_json::Value], out: &Path) {
    for (i, d) in deals.iter().enumerate() {
        let target = out.join(format!("{i}.bin"));
        let id = d["deal"].as_str().unwrap();
        net.cli(&["storage", "get", id, target.to_str().unwrap()]);
        let src = Path::new(d["path"].as_str().unwrap());
        assert_eq!(
            blake3_file(&target),
            blake3_file(src),
            "{} comes back byte-exact",
            src.display()
        );
    }
}

/// Waits until epoch `epoch`'s reward root is in effect on chain.
async fn wait_effective(node: &NodeClient, epoch: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !node
        .epoch_rewards(epoch, None)
        .await
        .is_ok_and(|r| r.root.is_some())
    {
        assert!(
            Instant::now() < deadline,
            "epoch {epoch}'s root never took effect"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn current_epoch(node_home: &Path) -> u64 {
    let g = std::fs::read_to_string(node_home.join("genesis.toml")).unwrap();
    let g: depin_types::Genesis = toml::from_str(&g).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let now_ms = u64::try_from(now.as_millis()).unwrap();
    g.rewards
        .unwrap()
        .clock(g.genesis_time_ms)
        .epoch_at(now_ms)
        .unwrap()
}

/// `storage put` of every file under `data`, 4 of 6; the deals it printed.
fn put_all(net: &Net, data: &Path) -> Vec<serde_json::Value> {
    let put = net.put(data, "50");
    let deals = put["deals"].as_array().unwrap().clone();
    assert!(deals.len() >= 40, "{} files stored", deals.len());
    for d in &deals {
        assert_eq!(d["uploaded"], 6, "every shard uploaded: {d}");
    }
    deals
}

/// `storage get` of a deal with three of its six providers down fails, naming the missing
/// shards, and writes nothing.
fn get_fails_naming_the_missing_shards(net: &Net, id: &str, target: &Path) {
    let wallet = net.node_file("dev-wallet.json");
    let base = ["--node", &net.node_url, "--wallet", &wallet];
    let r = run(&[&base[..], &["storage", "get", id, target.to_str().unwrap()]].concat());
    let err = String::from_utf8_lossy(&r.stderr);
    let partial = target.with_extension("depin-partial");
    assert!(!r.status.success() && !target.exists() && !partial.exists());
    let named = err.contains("3 of the 4 shards needed")
        && err.contains("missing 0 (")
        && err.contains("2 (");
    assert!(named, "{err}");
}

/// After the epoch following the kills: live proofs valid, dead providers penalized,
/// slashed on chain, their shards of deal `id` marked faulty.
fn faults_are_slashed(net: &Net, id: &str, start_epoch: u64) {
    let node = NodeClient::new(&net.node_url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let epoch = current_epoch(&net.dir.join("node")) + 1;
    rt.block_on(wait_effective(&node, epoch));
    let oracle = OracleClient::new(&net.oracle_url);
    let manifest = rt.block_on(oracle.manifest(epoch)).unwrap();
    let counts = &manifest["verdict_counts"];
    let valid = counts["valid"].as_u64().unwrap_or(0);
    assert!(valid > 0, "live providers' proofs are valid: {counts}");
    let penalties = manifest["penalties"].as_array().unwrap();
    assert!(
        !penalties.is_empty(),
        "the dead providers' shards are penalized"
    );
    let deal = rt
        .block_on(depin_module_storage::queries::deal(
            &node,
            &id.parse().unwrap(),
        ))
        .unwrap();
    let faulty = deal.shards.iter().filter(|s| s.faulty).count();
    assert_eq!(faulty, 3, "the three dead providers' shards");
    let slashed: u128 = (start_epoch..=epoch)
        .filter_map(|e| rt.block_on(node.epoch_rewards(e, None)).ok())
        .filter_map(|r| r.bones_slashed.and_then(|b| b.parse::<u128>().ok()))
        .sum();
    assert!(slashed > 0, "stake was slashed");
}

#[test]
fn real_files_survive_losing_n_minus_k_providers_and_faults_are_slashed() {
    let Some(data) = depin_testkit::shared_path("data") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::with_providers(dir.path(), PROVIDERS);
    let deals = put_all(&net, &data);
    let start_epoch = current_epoch(&dir.path().join("node"));
    // Any n − k = 2 providers down (two of deal 0's): every file still comes back.
    let first: Vec<String> = deals[0]["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    net.kill(&first[0]);
    net.kill(&first[1]);
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    get_all(&net, &deals, &out);
    // A third provider of deal 0 down (n − k + 1).
    net.kill(&first[2]);
    let id = deals[0]["deal"].as_str().unwrap();
    get_fails_naming_the_missing_shards(&net, id, &out.join("lost.bin"));
    faults_are_slashed(&net, id, start_epoch);
}

/// Slow suite (`DEPIN_SLOW=1`, set by `.ci/run`): a generated 1 GiB file, 4 of 6 on six
/// provider processes, comes back byte-exact with two of its providers (n − k) killed.
#[test]
fn a_generated_gib_file_comes_back_byte_exact_with_n_minus_k_providers_down() {
    if std::env::var("DEPIN_SLOW").as_deref() != Ok("1") {
        eprintln!("skipping the 1 GiB storage run: set DEPIN_SLOW=1");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::with_providers(dir.path(), 6);
    let file = dir.path().join("gib.bin");
    let mut bytes = vec![0u8; 1 << 30];
    rand::RngCore::fill_bytes(
        &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9),
        &mut bytes,
    );
    std::fs::write(&file, &bytes).unwrap();
    drop(bytes);
    let put = net.put(&file, "5");
    let deal = &put["deals"][0];
    assert_eq!(deal["uploaded"], 6, "{deal}");
    let providers = deal["providers"].as_array().unwrap();
    net.kill(providers[1].as_str().unwrap());
    net.kill(providers[4].as_str().unwrap());
    let out = dir.path().join("back.bin");
    net.cli(&[
        "storage",
        "get",
        deal["deal"].as_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        blake3_file(&out),
        blake3_file(&file),
        "byte-exact with two providers down"
    );
}

/// Polls deal `id` until `faulty` of its shards are marked faulty on chain.
fn wait_faulty(net: &Net, id: &str, faulty: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let info = net.cli(&["storage", "info", id]);
        let marked = info["shards"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["faulty"] == true)
            .count();
        if marked == faulty {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "{faulty} faulty shards never marked: {info}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Uploads that differ from the deal are refused with their codes. `storage repair`: a
/// provider of a 4-of-6 deal dies, misses its proofs and its shard is
/// marked faulty; `storage repair --commit` rebuilds the shard from four healthy ones onto a
/// new provider (same root); the deal has no faulty shard left, the new provider holds the
/// shard, and the file comes back byte-exact with the dead provider still down and one more
/// provider killed. Then a bit flipped in every stored shard file is caught on read.
#[test]
fn a_faulty_shard_is_repaired_onto_a_new_provider_and_flipped_bits_are_caught_on_read() {
    let Some(data) = depin_testkit::shared_path("data/sensor_tourperret") else {
        return;
    };
    let file = data.join("ems-tourperret-A81758FFFE04B1C1-2.ndjson.gz");
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::with_providers(dir.path(), 6);
    let put = net.put(&file, "50");
    let id = put["deals"][0]["deal"].as_str().unwrap().to_string();
    let providers = put["deals"][0]["providers"].as_array().unwrap().clone();
    uploads_unlike_the_deal_are_refused(&net, &id, &providers);
    let dead = providers[2].as_str().unwrap();
    net.kill(dead);
    wait_faulty(&net, &id, 1);
    net.add_provider(6);
    let repaired = net.cli(&["storage", "repair", &id, "--commit"]);
    let moved = repaired["repaired"].as_array().unwrap();
    assert_eq!(moved.len(), 1, "{repaired}");
    let info = wait_faulty(&net, &id, 0);
    let holders: Vec<&str> = info["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["provider"].as_str().unwrap())
        .collect();
    assert!(
        !holders.contains(&dead),
        "the dead provider holds no shard: {info}"
    );
    assert!(
        holders.contains(&moved[0]["provider"].as_str().unwrap()),
        "{info}"
    );
    net.kill(providers[0].as_str().unwrap());
    let out = dir.path().join("back.bin");
    net.cli(&["storage", "get", &id, out.to_str().unwrap()]);
    assert_eq!(
        blake3_file(&out),
        blake3_file(&file),
        "byte-exact after the repair"
    );
    flipped_bits_are_caught_on_read(&net, &id, &dir.path().join("corrupt.bin"));
}

/// Shard 0 of deal `id` uploaded again to its provider as it is stored: one bit flipped
/// (`root_mismatch`), a byte short or long (`size_mismatch`), or to the provider of shard 1
/// (`not_covered`), or for a deal not committed with a deal transaction that is not one
/// (`not_covered`), each refused with its code and nothing left behind; the exact bytes are
/// accepted again.
fn uploads_unlike_the_deal_are_refused(net: &Net, id: &str, providers: &[serde_json::Value]) {
    let endpoint = |i: usize| net.providers[providers[i].as_str().unwrap()].1.clone();
    let stored = std::fs::read_dir(&net.dir)
        .unwrap()
        .map(|e| e.unwrap().path().join(id).join("0.shard"))
        .find(|p| p.exists())
        .expect("shard 0 on some provider's disk");
    let shard = std::fs::read(&stored).unwrap();
    let http = reqwest::blocking::Client::new();
    let put = |i: usize, body: Vec<u8>| {
        let r = http
            .put(format!("{}/v1/shards/{id}/0", endpoint(i)))
            .body(body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let code = r.json::<serde_json::Value>().unwrap()["code"].clone();
        (status, code.as_str().unwrap_or_default().to_string())
    };
    let mut flipped = shard.clone();
    flipped[shard.len() / 3] ^= 0x10;
    assert_eq!(put(0, flipped), (400, "root_mismatch".into()));
    assert_eq!(put(0, shard[1..].to_vec()), (400, "size_mismatch".into()));
    assert_eq!(
        put(0, [&shard[..], b"x"].concat()),
        (400, "size_mismatch".into())
    );
    assert_eq!(put(1, shard.clone()), (403, "not_covered".into()));
    let unknown = "ab".repeat(32);
    for header in ["not hex", "00ff", &hex_of(b"anything")] {
        let r = http
            .put(format!("{}/v1/shards/{unknown}/0", endpoint(0)))
            .header("x-depin-deal-tx", header)
            .body(shard.clone())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let body = r.json::<serde_json::Value>().unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("not_covered")),
            "{body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("is not committed"),
            "{body}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(stored.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(left.iter().all(|f| !f.contains("tmp")), "{left:?}");
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        shard,
        "stored shard untouched"
    );
    assert_eq!(put(0, shard.clone()), (201, "stored".into()));
    assert_eq!(std::fs::read(&stored).unwrap(), shard);
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One bit flipped in every stored shard file of deal `id` (every provider's disk): `storage
/// get` names each corrupt shard and writes nothing.
fn flipped_bits_are_caught_on_read(net: &Net, id: &str, target: &Path) {
    let mut flipped = 0;
    for entry in std::fs::read_dir(&net.dir).unwrap() {
        let shard_dir = entry.unwrap().path().join(id);
        for f in std::fs::read_dir(&shard_dir).into_iter().flatten() {
            let path = f.unwrap().path();
            if path.extension().is_some_and(|e| e == "shard") {
                let mut bytes = std::fs::read(&path).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x04;
                std::fs::write(&path, bytes).unwrap();
                flipped += 1;
            }
        }
    }
    assert!(flipped >= 4, "{flipped} shard files flipped");
    let wallet = net.node_file("dev-wallet.json");
    let base = ["--node", &net.node_url, "--wallet", &wallet];
    let r = run(&[&base[..], &["storage", "get", id, target.to_str().unwrap()]].concat());
    let err = String::from_utf8_lossy(&r.stderr);
    let partial = target.with_extension("depin-partial");
    assert!(
        !r.status.success() && !target.exists() && !partial.exists(),
        "{err}"
    );
    assert!(err.contains("root mismatch (corrupt shard)"), "{err}");
}
