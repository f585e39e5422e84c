//! A validator as an operating-system process: commonware's tokio runtime, authenticated p2p
//! (`lookup`: every validator's address is known up front) and simplex's journal on disk.

use super::{BftError, Chain, Config, Validator, ValidatorKey, MAX_MESSAGE_BYTES};
use commonware_codec::DecodeFixed;
use commonware_cryptography::{ed25519, ChaCha20Poly1305};
use commonware_p2p::authenticated::lookup;
use commonware_p2p::{Address, AddressableManager as _};
use commonware_runtime::{Clock, Quota, Runner as _, Spawner as _, Supervisor as _};
use commonware_stream::{cups, sake};
use commonware_utils::ordered::Map;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the runner checks whether it must stop, ms.
pub const STOP_POLL_MS: u64 = 100;
/// Messages per second accepted from one peer on one channel (more are paced, not dropped).
///
/// commonware sizes every channel's inbound mailbox, and the shared outbound one, as this burst
/// times the retained peers, allocated up front: at 100,000 a 4-validator process held 4.4 GiB
/// and spent seconds (debug build, 2 cores) filling it before its network started. A validator
/// sends a peer a few votes and certificates per view and one gossip message per driver step
/// (at most one per 50 ms tick or incoming message), far below this.
pub const PEER_QUOTA_PER_S: u32 = 1_000;
/// Peer sets the p2p network keeps connections to: the validator set is fixed at genesis, so
/// one (commonware's default of 4 would quadruple every mailbox for sets that never exist).
pub const TRACKED_PEER_SETS: usize = 1;

/// Where a validator process listens, who its peers are, where its journal lives.
#[derive(Debug, Clone)]
pub struct Network {
    /// The p2p listen address.
    pub listen: SocketAddr,
    /// Every validator (this one included) and the address it listens on.
    pub peers: Vec<(ValidatorKey, SocketAddr)>,
    /// Directory of simplex's journal.
    pub storage_dir: PathBuf,
    /// Threads of the runtime.
    pub worker_threads: usize,
}

/// A validator key from its 32 public-key bytes.
///
/// Errors: [`BftError::ValidatorSet`] when the bytes are not an ed25519 point.
pub fn validator_key(bytes: [u8; 32]) -> Result<ValidatorKey, BftError> {
    ed25519::PublicKey::decode_fixed(bytes).map_err(|e| BftError::ValidatorSet {
        reason: format!("not an ed25519 key: {e}"),
    })
}

/// A validator signing key from its 32-byte seed (the same seed as the node's key file).
///
/// Errors: [`BftError::ValidatorSet`] if the seed does not decode (never for 32 bytes).
pub fn validator_secret(seed: [u8; 32]) -> Result<super::ValidatorSecret, BftError> {
    ed25519::PrivateKey::decode_fixed(seed).map_err(|e| BftError::ValidatorSet {
        reason: format!("not an ed25519 seed: {e}"),
    })
}

/// Runs a validator until `stop` is set (blocking the calling thread).
///
/// Errors: [`BftError`] if the validator set or peer list is invalid.
pub fn run<C: Chain>(
    config: Config,
    network: Network,
    chain: C,
    stop: Arc<AtomicBool>,
) -> Result<(), BftError> {
    let peers = peer_map(&network.peers)?;
    let runtime = commonware_runtime::tokio::Config::new()
        .with_storage_directory(network.storage_dir.clone())
        .with_worker_threads(network.worker_threads.max(1));
    let runner = commonware_runtime::tokio::Runner::new(runtime);
    runner.start(|context| async move {
        let handshake = cups::Cups::<_, ChaCha20Poly1305>::new(
            sake::Sake {
                signer: config.key.clone(),
                synchrony_bound: Duration::from_secs(5),
                max_handshake_age: Duration::from_secs(10),
                version: sake::Version::V1,
            },
            cups::Version::V1,
        );
        let mut namespace = config.namespace.clone();
        namespace.extend_from_slice(b"/p2p");
        let mut p2p = lookup::Config::local(
            handshake,
            &namespace,
            network.listen,
            NonZeroUsize::new(network.peers.len() + 1).expect("non-zero"),
            MAX_MESSAGE_BYTES,
            NonZeroUsize::new(1_024).expect("non-zero"),
        );
        p2p.tracked_peer_sets = NonZeroUsize::new(TRACKED_PEER_SETS).expect("non-zero");
        let (mut net, mut oracle) = lookup::Network::new(context.child("network"), p2p);
        let _ = oracle.track(0, peers);
        let quota = Quota::per_second(NonZeroU32::new(PEER_QUOTA_PER_S).expect("non-zero"));
        let channels = [0u64, 1, 2, 3].map(|c| net.register(c, quota));
        net.start();
        let validator =
            Validator::start(context.child("validator"), config, chain, oracle, channels)?;
        while !stop.load(Ordering::SeqCst) {
            context.sleep(Duration::from_millis(STOP_POLL_MS)).await;
        }
        validator.abort();
        let _ = context.stop(0, Some(Duration::from_secs(5))).await;
        Ok(())
    })
}

fn peer_map(peers: &[(ValidatorKey, SocketAddr)]) -> Result<Map<ValidatorKey, Address>, BftError> {
    let pairs: Vec<(ValidatorKey, Address)> = peers
        .iter()
        .map(|(k, a)| (k.clone(), Address::from(*a)))
        .collect();
    Map::try_from(pairs).map_err(|_| BftError::ValidatorSet {
        reason: "a peer key appears twice".into(),
    })
}
