//! The validator: simplex's engine plus the driver task that answers it.

use super::tree::{Ancestry, BlockTree};
use super::wire::Wire;
use super::{
    digest_of, hash_of, Activity, BftError, Chain, Config, Digest, Equivocation, Scheme,
    ValidatorKey, MAX_GOSSIP_TXS, MAX_SYNC_BLOCKS,
};
use commonware_codec::Encode;
use commonware_consensus::simplex::config::{
    self as sconfig, ForwardPolicy, SkipBudget, SkipPolicy,
};
use commonware_consensus::simplex::elector::RoundRobin;
use commonware_consensus::simplex::types::{Attributable, Context};
use commonware_consensus::simplex::{Engine, Plan};
use commonware_consensus::types::{Epoch, ViewDelta};
use commonware_consensus::{Automaton, CertifiableAutomaton, Relay, Reporter, Viewable};
use commonware_cryptography::Signer as _;
use commonware_macros::select_loop;
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_utils::channel::{mpsc, oneshot};
use commonware_utils::ordered::Set;
use depin_types::{Block, Hash32};
use rand_core_010::CryptoRng;
use std::collections::{BTreeMap, BTreeSet};
use std::num::{NonZeroU16, NonZeroUsize};
use std::time::{Duration, UNIX_EPOCH};
use tracing::{debug, warn};

/// Messages queued from simplex to the driver task.
pub const MAILBOX_CAPACITY: usize = 4_096;
/// Most proposals and verifications waiting for a block (or the block interval).
pub const MAX_WAITING: usize = 256;
/// Most block hashes being fetched at once.
pub const MAX_WANTED: usize = 256;
/// Most equivocations remembered (reported once each).
pub const MAX_EVIDENCE: usize = 1_024;
/// How often waiting work is retried, ms.
pub const TICK_MS: u64 = 50;
/// How long before a fetch is asked again, ms.
pub const WANT_RETRY_MS: u64 = 500;
/// How far ahead of the local clock a block's time may be, ms.
pub const MAX_FUTURE_DRIFT_MS: u64 = 5_000;
/// Largest fetch answer, bytes.
pub const MAX_SYNC_BYTES: usize = 4 * 1024 * 1024;

/// What simplex asks of the driver.
pub enum Message {
    /// Build a payload in this context.
    Propose {
        /// The round, leader and parent.
        context: Context<Digest, ValidatorKey>,
        /// Where the payload goes.
        response: oneshot::Sender<Digest>,
    },
    /// Check the leader's payload.
    Verify {
        /// The round, leader and parent.
        context: Context<Digest, ValidatorKey>,
        /// The payload.
        payload: Digest,
        /// The verdict.
        response: oneshot::Sender<bool>,
    },
    /// Send a payload's block to peers.
    Broadcast {
        /// The payload.
        payload: Digest,
        /// To whom.
        plan: Plan<ValidatorKey>,
    },
    /// Something consensus observed.
    Report(Box<Activity>),
}

/// The handle simplex holds: automaton, relay and reporter in one.
#[derive(Clone)]
pub struct Mailbox {
    sender: mpsc::Sender<Message>,
}

impl Mailbox {
    fn push(&self, message: Message) -> commonware_actor::Feedback {
        match self.sender.try_send(message) {
            Ok(()) => commonware_actor::Feedback::Ok,
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!("bft mailbox full: message dropped");
                commonware_actor::Feedback::Backoff
            }
            Err(mpsc::error::TrySendError::Closed(_)) => commonware_actor::Feedback::Closed,
        }
    }
}

impl Automaton for Mailbox {
    type Context = Context<Digest, ValidatorKey>;
    type Digest = Digest;

    async fn propose(&mut self, context: Self::Context) -> oneshot::Receiver<Digest> {
        let (response, receiver) = oneshot::channel();
        let _ = self
            .sender
            .send(Message::Propose { context, response })
            .await;
        receiver
    }

    async fn verify(&mut self, context: Self::Context, payload: Digest) -> oneshot::Receiver<bool> {
        let (response, receiver) = oneshot::channel();
        let message = Message::Verify {
            context,
            payload,
            response,
        };
        let _ = self.sender.send(message).await;
        receiver
    }
}

impl CertifiableAutomaton for Mailbox {}

impl Relay for Mailbox {
    type Digest = Digest;
    type PublicKey = ValidatorKey;
    type Plan = Plan<ValidatorKey>;

    fn broadcast(
        &mut self,
        payload: Digest,
        plan: Plan<ValidatorKey>,
    ) -> commonware_actor::Feedback {
        self.push(Message::Broadcast { payload, plan })
    }
}

impl Reporter for Mailbox {
    type Activity = Activity;

    fn report(&mut self, activity: Activity) -> commonware_actor::Feedback {
        self.push(Message::Report(Box::new(activity)))
    }
}

/// What became of a waiting item when it was tried.
// Short-lived return value, moved once: boxing the waiting item would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Outcome {
    Done,
    Wait(Message),
}

/// A running validator: its simplex engine and its driver task.
pub struct Validator {
    /// simplex's engine.
    pub engine: Handle<()>,
    /// The driver task.
    pub driver: Handle<()>,
}

impl Validator {
    /// Starts a validator on `context`: the simplex engine on the first three channel pairs,
    /// the driver on the blocks channel, `chain` as its ledger.
    ///
    /// Errors: [`BftError`] when the validator set is empty, repeats a key, or lacks this
    /// node's key.
    pub fn start<E, C, B, S, R>(
        context: E,
        config: Config,
        chain: C,
        blocker: B,
        channels: [(S, R); 4],
    ) -> Result<Validator, BftError>
    where
        E: Clock + CryptoRng + Spawner + Storage + Metrics,
        C: Chain,
        B: Blocker<PublicKey = ValidatorKey>,
        S: Sender<PublicKey = ValidatorKey>,
        R: Receiver<PublicKey = ValidatorKey>,
    {
        let participants = validator_set(&config.validators)?;
        let me = config.key.public_key();
        if participants.position(&me).is_none() {
            return Err(BftError::NotAValidator {
                key: me.to_string(),
            });
        }
        let scheme = Scheme::signer(&config.namespace, participants.clone(), config.key.clone())
            .ok_or_else(|| BftError::NotAValidator {
                key: me.to_string(),
            })?;
        let (sender, mailbox_rx) = mpsc::channel(MAILBOX_CAPACITY);
        let mailbox = Mailbox { sender };
        let [votes, certificates, resolver, blocks] = channels;
        let driver_state = Driver::new(&config, chain, Vec::from(participants.clone()));
        let driver = context
            .child("driver")
            .spawn(move |context| driver_state.run(context, mailbox_rx, blocks));
        let engine_config = engine_config(&config, scheme, blocker, mailbox);
        let engine = Engine::new(context.child("engine"), engine_config);
        let engine = engine.start(votes, certificates, resolver);
        Ok(Validator { engine, driver })
    }

    /// Stops both tasks at once (a crash, for tests).
    pub fn abort(self) {
        self.engine.abort();
        self.driver.abort();
    }
}

fn validator_set(keys: &[ValidatorKey]) -> Result<Set<ValidatorKey>, BftError> {
    if keys.is_empty() {
        return Err(BftError::ValidatorSet {
            reason: "no validators".into(),
        });
    }
    Set::try_from(keys.to_vec()).map_err(|_| BftError::ValidatorSet {
        reason: "a key appears twice".into(),
    })
}

type EngineConfig<B> =
    sconfig::Config<Scheme, RoundRobin, B, Digest, Mailbox, Mailbox, Mailbox, Sequential>;

fn engine_config<B: Blocker<PublicKey = ValidatorKey>>(
    config: &Config,
    scheme: Scheme,
    blocker: B,
    mailbox: Mailbox,
) -> EngineConfig<B> {
    let t = config.timing;
    let ms = Duration::from_millis;
    sconfig::Config {
        scheme,
        elector: RoundRobin::default(),
        blocker,
        automaton: mailbox.clone(),
        relay: mailbox.clone(),
        reporter: mailbox,
        strategy: Sequential,
        partition: config.partition.clone(),
        mailbox_size: NonZeroUsize::new(MAILBOX_CAPACITY).expect("non-zero"),
        epoch: Epoch::new(0),
        floor: sconfig::Floor::Genesis(digest_of(Hash32::ZERO)),
        leader_timeout: ms(t.leader_timeout_ms),
        certification_timeout: ms(t.certification_timeout_ms),
        timeout_retry: ms(t.timeout_retry_ms),
        fetch_timeout: commonware_utils::NZDuration!(Duration::from_secs(1)),
        fetch_retry_delay: ms(100),
        view_retention: ViewDelta::new(10),
        skip: SkipPolicy::Enabled {
            timeout: ms(t.timeout_retry_ms.max(t.certification_timeout_ms) + 1_000),
            budget: SkipBudget::Participants,
        },
        replay_buffer: NonZeroUsize::new(1 << 20).expect("non-zero"),
        write_buffer: NonZeroUsize::new(1 << 20).expect("non-zero"),
        page_cache: CacheRef::new(
            NonZeroU16::new(1_024).expect("non-zero"),
            NonZeroUsize::new(64).expect("non-zero"),
        ),
        forward: ForwardPolicy::Disabled,
        track_historical_votes: false,
    }
}

/// The driver task's state.
struct Driver<C: Chain> {
    chain: C,
    tree: BlockTree,
    validators: Vec<ValidatorKey>,
    min_block_interval_ms: u64,
    /// Proposals and verifications waiting for a block or the block interval (only those two
    /// [`Message`] kinds).
    waiting: Vec<Message>,
    /// Block hashes being fetched, with when they were last asked (ms).
    wanted: BTreeMap<Hash32, u64>,
    /// The highest finalization seen: view and block hash.
    target: Option<(u64, Hash32)>,
    reported: BTreeSet<([u8; 32], u64, &'static str)>,
}

impl<C: Chain> Driver<C> {
    /// `validators` in simplex's order (sorted): a vote's signer index points into it.
    fn new(config: &Config, chain: C, validators: Vec<ValidatorKey>) -> Driver<C> {
        let tree = BlockTree::new(chain.finalized());
        Driver {
            chain,
            tree,
            validators,
            min_block_interval_ms: config.timing.min_block_interval_ms,
            waiting: Vec::new(),
            wanted: BTreeMap::new(),
            target: None,
            reported: BTreeSet::new(),
        }
    }

    async fn run<E: Clock + Spawner, S, R>(
        mut self,
        context: E,
        mut mailbox: mpsc::Receiver<Message>,
        blocks: (S, R),
    ) where
        S: Sender<PublicKey = ValidatorKey>,
        R: Receiver<PublicKey = ValidatorKey>,
    {
        let (mut out, mut inbox) = blocks;
        let mut next_tick = context.current();
        select_loop! {
            context,
            on_stopped => {
                debug!("bft driver stopping");
            },
            Some(message) = mailbox.recv() else break => {
                let now_ms = now_ms(&context);
                self.on_message(message, now_ms, &mut out);
                self.progress(now_ms, &mut out);
            },
            Ok((peer, bytes)) = inbox.recv() else break => {
                let now_ms = now_ms(&context);
                self.on_wire(peer, bytes.as_ref(), &mut out);
                self.progress(now_ms, &mut out);
            },
            _ = context.sleep_until(next_tick) => {
                next_tick = context.current() + Duration::from_millis(TICK_MS);
                self.progress(now_ms(&context), &mut out);
            },
        }
    }

    fn on_message<S: Sender<PublicKey = ValidatorKey>>(
        &mut self,
        message: Message,
        now_ms: u64,
        out: &mut S,
    ) {
        match message {
            Message::Propose { context, response } => {
                self.enqueue(Message::Propose { context, response }, now_ms, out);
            }
            Message::Verify {
                context,
                payload,
                response,
            } => {
                let waiting = Message::Verify {
                    context,
                    payload,
                    response,
                };
                self.enqueue(waiting, now_ms, out);
            }
            Message::Broadcast { payload, plan } => self.broadcast(payload, plan, out),
            Message::Report(activity) => self.on_activity(*activity),
        }
    }

    fn enqueue<S: Sender<PublicKey = ValidatorKey>>(
        &mut self,
        waiting: Message,
        now_ms: u64,
        out: &mut S,
    ) {
        if let Outcome::Wait(w) = self.attempt(waiting, now_ms, out) {
            if self.waiting.len() >= MAX_WAITING {
                warn!("too many waiting proposals and verifications: oldest dropped");
                self.waiting.remove(0);
            }
            self.waiting.push(w);
        }
    }

    /// Sends newly admitted transactions, retries waiting work and moves finalization forward.
    fn progress<S: Sender<PublicKey = ValidatorKey>>(&mut self, now_ms: u64, out: &mut S) {
        let txs = self.chain.gossip_out(MAX_GOSSIP_TXS);
        if !txs.is_empty() {
            let _ = out.send(Recipients::All, Wire::Txs(txs).encode(), false);
        }
        self.finalize_ready(now_ms, out);
        let waiting = std::mem::take(&mut self.waiting);
        for w in waiting {
            if let Outcome::Wait(w) = self.attempt(w, now_ms, out) {
                self.waiting.push(w);
            }
        }
    }

    fn attempt<S: Sender<PublicKey = ValidatorKey>>(
        &mut self,
        waiting: Message,
        now_ms: u64,
        out: &mut S,
    ) -> Outcome {
        match waiting {
            Message::Propose { context, response } => {
                if response.is_closed() {
                    return Outcome::Done;
                }
                self.try_propose(context, response, now_ms, out)
            }
            Message::Verify {
                context,
                payload,
                response,
            } => {
                if response.is_closed() {
                    return Outcome::Done;
                }
                self.try_verify(context, payload, response, now_ms, out)
            }
            Message::Broadcast { .. } | Message::Report(_) => {
                unreachable!("only proposals and verifications wait")
            }
        }
    }

    /// The path to `hash`, asking peers for a missing block (and treating a hash that is a
    /// finalized block below the tip as conflicting).
    fn path_to<S: Sender<PublicKey = ValidatorKey>>(
        &mut self,
        hash: Hash32,
        now_ms: u64,
        out: &mut S,
    ) -> Ancestry {
        match self.tree.ancestry(hash) {
            Ancestry::Missing(missing) if self.chain.finalized_block(&missing).is_some() => {
                Ancestry::Conflicts
            }
            Ancestry::Missing(missing) => {
                self.want(missing, now_ms, out);
                Ancestry::Missing(missing)
            }
            other => other,
        }
    }

    fn try_propose<S: Sender<PublicKey = ValidatorKey>>(
        &mut self,
        context: Context<Digest, ValidatorKey>,
        response: oneshot::Sender<Digest>,
        now_ms: u64,
        out: &mut S,
    ) -> Outcome {
        let parent = hash_of(&context.parent.1);
        let path = match self.path_to(parent, now_ms, out) {
            Ancestry::Ready(path) => path,
            Ancestry::Missing(_) => return Outcome::Wait(Message::Propose { context, response }),
            Ancestry::Conflicts => return Outcome::Done,
        };
        let parent_time_ms = path.last().map_or(self.tree.tip().2, |b| b.header.time_ms);
        let earliest_ms = parent_time_ms.saturating_add(self.min_block_interval_ms);
        if now_ms < earliest_ms {
            return Outcome::Wait(Message::Propose { context, response });
        }
        match self.chain.build(&path, now_ms) {
            Ok(block) => {
                let hash = block.header.hash();
                assert_eq!(
                    block.header.parent_hash, parent,
                    "a proposal extends its parent"
                );
                self.tree.insert(block);
                let _ = response.send(digest_of(hash));
            }
            Err(e) => warn!(error = %e, "building a proposal failed: view skipped"),
        }
        Outcome::Done
    }

    fn try_verify<S: Sender<PublicKey = ValidatorKey>>(
        &mut self,
        context: Context<Digest, ValidatorKey>,
        payload: Digest,
        response: oneshot::Sender<bool>,
        now_ms: u64,
        out: &mut S,
    ) -> Outcome {
        let hash = hash_of(&payload);
        let Some(block) = self.tree.get(&hash).cloned() else {
            if self.chain.finalized_block(&hash).is_some() {
                let _ = response.send(false);
                return Outcome::Done;
            }
            self.want(hash, now_ms, out);
            let waiting = Message::Verify {
                context,
                payload,
                response,
            };
            return Outcome::Wait(waiting);
        };
        let parent = hash_of(&context.parent.1);
        if block.header.parent_hash != parent || block.header.proposer.0 != leader_bytes(&context) {
            let _ = response.send(false);
            return Outcome::Done;
        }
        let path = match self.path_to(parent, now_ms, out) {
            Ancestry::Ready(path) => path,
            Ancestry::Missing(_) => {
                let waiting = Message::Verify {
                    context,
                    payload,
                    response,
                };
                return Outcome::Wait(waiting);
            }
            Ancestry::Conflicts => {
                let _ = response.send(false);
                return Outcome::Done;
            }
        };
        let _ = response.send(self.judge(&path, &block, now_ms));
        Outcome::Done
    }

    /// Whether `block` on top of `path` is valid: its time and its re-execution.
    fn judge(&mut self, path: &[Block], block: &Block, now_ms: u64) -> bool {
        let parent_time_ms = path.last().map_or(self.tree.tip().2, |b| b.header.time_ms);
        let t = block.header.time_ms;
        if t < parent_time_ms.saturating_add(self.min_block_interval_ms)
            || t > now_ms.saturating_add(MAX_FUTURE_DRIFT_MS)
        {
            debug!(
                height = block.header.height,
                t, "proposal time out of bounds"
            );
            return false;
        }
        match self.chain.check(path, block) {
            Ok(()) => true,
            Err(e) => {
                warn!(height = block.header.height, error = %e, "proposal rejected");
                false
            }
        }
    }

    fn want<S: Sender<PublicKey = ValidatorKey>>(
        &mut self,
        hash: Hash32,
        now_ms: u64,
        out: &mut S,
    ) {
        if let Some(&asked_ms) = self.wanted.get(&hash) {
            if now_ms < asked_ms.saturating_add(WANT_RETRY_MS) {
                return;
            }
        } else if self.wanted.len() >= MAX_WANTED {
            return;
        }
        self.wanted.insert(hash, now_ms);
        let wire = Wire::Want {
            hash,
            max_blocks: MAX_SYNC_BLOCKS,
        };
        let _ = out.send(Recipients::All, wire.encode(), false);
    }

    fn broadcast<S: Sender<PublicKey = ValidatorKey>>(
        &mut self,
        payload: Digest,
        plan: Plan<ValidatorKey>,
        out: &mut S,
    ) {
        let recipients = match plan {
            Plan::Propose { .. } => Recipients::All,
            Plan::Forward { recipients, .. } => recipients,
            Plan::Prepare { .. } => return,
        };
        let Some(block) = self.tree.get(&hash_of(&payload)).cloned() else {
            debug!("asked to broadcast a block this validator does not have");
            return;
        };
        let _ = out.send(recipients, Wire::Proposal(block).encode(), false);
    }

    fn on_wire<S: Sender<PublicKey = ValidatorKey>>(
        &mut self,
        peer: ValidatorKey,
        bytes: &[u8],
        out: &mut S,
    ) {
        match Wire::decode(bytes) {
            Some(Wire::Proposal(block)) => {
                self.tree.insert(block);
            }
            Some(Wire::Want { hash, max_blocks }) => {
                let blocks = self.answer(hash, max_blocks.min(MAX_SYNC_BLOCKS));
                if !blocks.is_empty() {
                    let _ = out.send(Recipients::One(peer), Wire::Blocks(blocks).encode(), false);
                }
            }
            Some(Wire::Blocks(blocks)) => self.accept_fetched(blocks),
            Some(Wire::Txs(mut txs)) => {
                txs.truncate(MAX_GOSSIP_TXS);
                self.chain.gossip_in(txs);
            }
            None => debug!(%peer, "undecodable message on the blocks channel"),
        }
    }

    /// The block `hash` and its ancestors, newest first, within the answer's bounds.
    fn answer(&self, hash: Hash32, max_blocks: u16) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut bytes = 0usize;
        let mut cursor = hash;
        while blocks.len() < usize::from(max_blocks) && cursor != Hash32::ZERO {
            let block = self
                .tree
                .get(&cursor)
                .cloned()
                .or_else(|| self.chain.finalized_block(&cursor));
            let Some(block) = block else { break };
            bytes += borsh::object_length(&block).unwrap_or(usize::MAX / 2);
            if bytes > MAX_SYNC_BYTES && !blocks.is_empty() {
                break;
            }
            cursor = block.header.parent_hash;
            blocks.push(block);
        }
        blocks
    }

    /// Keeps fetched blocks that were asked for, or are parents of ones that were.
    fn accept_fetched(&mut self, blocks: Vec<Block>) {
        let mut expected: Option<Hash32> = None;
        for block in blocks.into_iter().take(usize::from(MAX_SYNC_BLOCKS)) {
            let hash = block.header.hash();
            let asked = self.wanted.remove(&hash).is_some();
            if !asked && expected != Some(hash) {
                break;
            }
            expected = Some(block.header.parent_hash);
            self.tree.insert(block);
        }
    }

    fn on_activity(&mut self, activity: Activity) {
        match activity {
            Activity::Finalization(f) => {
                let view = f.view().get();
                if self.target.is_none_or(|(v, _)| view > v) {
                    self.target = Some((view, hash_of(&f.proposal.payload)));
                }
            }
            Activity::ConflictingNotarize(c) => {
                self.report(
                    c.signer().get(),
                    c.view().get(),
                    "conflicting_notarize",
                    c.encode(),
                );
            }
            Activity::ConflictingFinalize(c) => {
                self.report(
                    c.signer().get(),
                    c.view().get(),
                    "conflicting_finalize",
                    c.encode(),
                );
            }
            Activity::NullifyFinalize(c) => {
                self.report(
                    c.signer().get(),
                    c.view().get(),
                    "nullify_finalize",
                    c.encode(),
                );
            }
            _ => {}
        }
    }

    fn report(&mut self, signer: u32, view: u64, kind: &'static str, proof: impl AsRef<[u8]>) {
        let Some(key) = usize::try_from(signer)
            .ok()
            .and_then(|i| self.validators.get(i))
        else {
            return;
        };
        let validator = key_bytes(key);
        if self.reported.len() >= MAX_EVIDENCE || !self.reported.insert((validator, view, kind)) {
            return;
        }
        warn!(view, kind, "equivocation evidence");
        self.chain.evidence(Equivocation {
            validator,
            view,
            kind,
            proof: proof.as_ref().to_vec(),
        });
    }

    /// Finalizes, in height order, every block up to the highest finalization seen.
    fn finalize_ready<S: Sender<PublicKey = ValidatorKey>>(&mut self, now_ms: u64, out: &mut S) {
        let Some((_, target)) = self.target else {
            return;
        };
        if target == self.tree.tip().1 || self.chain.finalized_block(&target).is_some() {
            self.target = None;
            return;
        }
        match self.path_to(target, now_ms, out) {
            Ancestry::Ready(path) => {
                for block in path {
                    let height = block.header.height;
                    self.tree.advance(&block);
                    // A block final by certificate that this ledger cannot apply means local
                    // state or disk is broken: stopping beats diverging.
                    #[allow(clippy::panic)]
                    if let Err(e) = self.chain.finalize(block) {
                        panic!("finalizing block {height} failed: {e}; the node must stop");
                    }
                }
                self.target = None;
            }
            Ancestry::Missing(_) => {}
            Ancestry::Conflicts => {
                warn!("a finalized block conflicts with this node's finalized chain");
                self.target = None;
            }
        }
    }
}

fn now_ms<E: Clock>(context: &E) -> u64 {
    let since = context
        .current()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn key_bytes(key: &ValidatorKey) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(key.as_ref());
    out
}

fn leader_bytes(context: &Context<Digest, ValidatorKey>) -> [u8; 32] {
    key_bytes(&context.leader)
}
