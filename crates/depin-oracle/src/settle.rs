//! Epoch settlement, pure: `(inputs, modules) → verdicts + manifest`. The oracle runs it to
//! close an epoch; `depin rewards verify` and follower oracles run it again on the published
//! inputs and must get the same manifest, byte for byte.
//!
//! Split (glossary "share"): the epoch's emission is cut into module pools by the genesis
//! weights, `pool = emission × weight / Σ weights`; a device gets `pool × share / Σ shares`
//! of its module's pool; every division floors (round toward zero) in bones, and everything
//! not paid to a device (floors, pools without shares, modules not registered) goes to the
//! genesis remainder account. So Σ payouts + remainder = emission exactly. A module with its
//! own reward rule (e.g. Helium-style beacon, witness and data pools) returns exact rewards out of
//! its pool instead of units ([`depin_module::EpochOutcome::exact_rewards`]); they are paid as
//! they are and the rest of its pool goes to the remainder.
//!
//! Modules may carry state from one epoch to the next (e.g. HIP-106 reciprocity): the
//! carry-in is part of the inputs, the carry-out is published beside them and its digest is
//! in the manifest.

use blake3::Hasher;
use borsh::{BorshDeserialize, BorshSerialize};
use depin_module::{
    EpochCollector, EpochContext, LedgerSnapshot, Penalty, ResourceModule, UsageCharge, Verdict,
    Verdicts, UNKNOWN_MODULE,
};
use depin_types::genesis::ModuleWeight;
use depin_types::rewards::reward_root;
use depin_types::{par, Address, Amount, Hash32, Network, PublicKey, SignedReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Version of the manifest format.
pub const MANIFEST_VERSION: u32 = 2;

/// Everything an epoch's settlement depends on but its reports: the head of `inputs.bin`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EpochHeader {
    /// Chain id.
    pub chain_id: String,
    /// Address network (for the manifest's addresses).
    pub network: Network,
    /// Epoch number.
    pub epoch: u64,
    /// First ms of the epoch.
    pub start_ms: u64,
    /// End of the epoch, ms (exclusive).
    pub end_ms: u64,
    /// Hash of the epoch's first block.
    pub entropy: Hash32,
    /// Device registry at the epoch's last block.
    pub snapshot: LedgerSnapshot,
    /// The epoch's scheduled emission, bones.
    pub emission: Amount,
    /// Module weights from genesis.
    pub module_weights: Vec<ModuleWeight>,
    /// Genesis remainder account.
    pub remainder_account: PublicKey,
    /// Reports refused at ingest, by reason code.
    pub ingest_rejections: BTreeMap<String, u64>,
    /// State each module carried out of the previous epoch (absent: none).
    pub carry: BTreeMap<String, Vec<u8>>,
}

/// Everything an epoch's settlement depends on, published as `inputs.bin` (borsh): the
/// header, then the reports — last, so that [`crate::stream::settle_reader`] can stream them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EpochInputs {
    /// Everything but the reports.
    pub header: EpochHeader,
    /// Every report the oracle acknowledged for the epoch, in log order.
    pub reports: Vec<SignedReport>,
}

impl EpochInputs {
    /// Canonical bytes (`inputs.bin`).
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("writing to a Vec cannot fail")
    }
}

/// One module's pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolEntry {
    /// Module name.
    pub module: String,
    /// Genesis weight.
    pub weight: u32,
    /// Pool, bones.
    pub pool_bones: String,
    /// Σ shares of the module's devices.
    pub shares_total: String,
    /// Bones paid to devices out of the pool.
    pub paid_bones: String,
}

/// One rewarded device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// Device address.
    pub device: String,
    /// Owner address (paid).
    pub owner: String,
    /// Module.
    pub module: String,
    /// Share units.
    pub share: String,
    /// Reward, bones.
    pub reward_bones: String,
}

/// One Merkle leaf: what an owner can claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerEntry {
    /// Owner address.
    pub owner: String,
    /// Amount, bones.
    pub amount_bones: String,
    /// Leaf index in the reward tree.
    pub index: u64,
}

/// The epoch's reward file (`manifest.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// Chain id.
    pub chain_id: String,
    /// Epoch.
    pub epoch: u64,
    /// Epoch start, ms.
    pub start_ms: u64,
    /// Epoch end, ms (exclusive).
    pub end_ms: u64,
    /// Entropy (hash of the epoch's first block).
    pub entropy: String,
    /// Height of the registry snapshot.
    pub snapshot_height: u64,
    /// BLAKE3 of `inputs.bin` ([`inputs_digest`]; manifest version 1 had SHA-256).
    pub inputs_digest: String,
    /// Reports in the inputs.
    pub reports: u64,
    /// Emission, bones (= Σ owner amounts).
    pub emission_bones: String,
    /// Bones to the remainder account (part of its owner entry).
    pub remainder_bones: String,
    /// Remainder account address.
    pub remainder_account: String,
    /// Reward root (hex).
    pub root: String,
    /// Leaves in the reward tree.
    pub leaf_count: u64,
    /// Module pools.
    pub pools: Vec<PoolEntry>,
    /// Rewarded devices, by device key.
    pub devices: Vec<DeviceEntry>,
    /// Payouts (the Merkle leaves), by owner key.
    pub owners: Vec<OwnerEntry>,
    /// Epoch verdicts by reason (`valid` for valid reports).
    pub verdict_counts: BTreeMap<String, u64>,
    /// Reports refused at ingest, by reason.
    pub ingest_rejections: BTreeMap<String, u64>,
    /// Usage the modules metered.
    pub usage: Vec<UsageCharge>,
    /// Penalties the modules requested.
    pub penalties: Vec<Penalty>,
    /// SHA-256 (hex) of the state each module carries into the next epoch.
    #[serde(default)]
    pub carry_digests: BTreeMap<String, String>,
}

/// The result of settling an epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// The manifest.
    pub manifest: Manifest,
    /// One verdict per input report, in input order ([`ReportVerdicts::of`] pairs them with
    /// the reports' ids).
    pub verdicts: Verdicts,
    /// The payouts (Merkle leaves), sorted by owner.
    pub payouts: Vec<(PublicKey, Amount)>,
    /// State each module carries into the next epoch (modules with none are absent).
    pub carry: BTreeMap<String, Vec<u8>>,
}

/// One verdict per report of an epoch, with the report's id, in input order: what
/// `verdicts.bin` holds (borsh: `ids`, then [`Verdicts`]; decoding refuses lists of
/// different lengths). About 33 bytes a report.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize)]
pub struct ReportVerdicts {
    ids: Vec<Hash32>,
    verdicts: Verdicts,
}

impl ReportVerdicts {
    /// Pairs `reports` (hashing their ids on all cores) with their `verdicts`; `None` when
    /// the lengths differ.
    pub fn of(reports: &[SignedReport], verdicts: Verdicts) -> Option<ReportVerdicts> {
        ReportVerdicts::new(par::map(reports, SignedReport::id), verdicts)
    }

    /// Pairs report ids with their verdicts; `None` when the lengths differ.
    pub fn new(ids: Vec<Hash32>, verdicts: Verdicts) -> Option<ReportVerdicts> {
        (ids.len() == verdicts.len()).then_some(ReportVerdicts { ids, verdicts })
    }

    /// Number of reports.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The report ids, in order.
    pub fn ids(&self) -> &[Hash32] {
        &self.ids
    }

    /// The verdicts, in order.
    pub fn verdicts(&self) -> &Verdicts {
        &self.verdicts
    }

    /// Each report's id and verdict, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Hash32, Verdict)> + '_ {
        self.ids.iter().zip(self.verdicts.iter())
    }
}

impl BorshDeserialize for ReportVerdicts {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<ReportVerdicts> {
        let ids = Vec::<Hash32>::deserialize_reader(reader)?;
        let verdicts = Verdicts::deserialize_reader(reader)?;
        ReportVerdicts::new(ids, verdicts).ok_or_else(|| {
            let why = "report verdicts: ids and verdicts differ in length";
            std::io::Error::new(std::io::ErrorKind::InvalidData, why)
        })
    }
}

/// Why an epoch could not be settled.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SettleError {
    /// A product or sum left `u128`.
    #[error("reward arithmetic overflows in module {module}")]
    Overflow {
        /// The module.
        module: String,
    },
    /// A module returned the wrong number of verdicts.
    #[error("module {module} returned {got} verdicts for {expected} reports")]
    VerdictCount {
        /// The module.
        module: String,
        /// Reports given.
        expected: usize,
        /// Verdicts returned.
        got: usize,
    },
    /// A module's exact rewards add up to more than its pool.
    #[error("module {module} pays {paid} bones out of a pool of {pool}")]
    OverPool {
        /// The module.
        module: String,
        /// Σ rewards.
        paid: u128,
        /// The pool.
        pool: u128,
    },
}

/// `a × b / c`, floored; `None` on overflow. `c` > 0.
fn mul_div_floor(a: u128, b: u128, c: u128) -> Option<u128> {
    assert!(c > 0, "division by a positive total");
    a.checked_mul(b).map(|p| p / c)
}

struct ModuleResult {
    shares: BTreeMap<PublicKey, u128>,
    exact: bool,
    carry: Vec<u8>,
    usage: Vec<UsageCharge>,
    penalties: Vec<Penalty>,
}

/// Reports settlement preallocates room for at most (a header's count is not trusted).
const MAX_PREALLOCATED_REPORTS: usize = 1 << 24;

/// Marks a report whose module is not registered in `Settler::which`.
const NO_MODULE: u16 = u16::MAX;

/// Settlement fed one report at a time: each report goes to its module's collector, and
/// only its module stays here (2 bytes a report), so an epoch of millions of reports
/// never has to be held whole ([`crate::stream::settle_reader`]).
pub(crate) struct Settler<'a> {
    header: &'a EpochHeader,
    pools: BTreeMap<&'a str, u128>,
    names: Vec<&'static str>,
    by_name: BTreeMap<&'static str, u16>,
    collectors: Vec<Box<dyn EpochCollector + 'a>>,
    which: Vec<u16>,
}

impl<'a> Settler<'a> {
    /// A settlement of the epoch `header` with room for `reports_hint` reports.
    ///
    /// Errors: [`SettleError::Overflow`] when a module pool overflows.
    pub(crate) fn new(
        header: &'a EpochHeader,
        modules: &'a [Arc<dyn ResourceModule>],
        reports_hint: usize,
    ) -> Result<Settler<'a>, SettleError> {
        let pools = module_pools(header)?;
        let mut s = Settler {
            header,
            pools,
            names: Vec::new(),
            by_name: BTreeMap::new(),
            collectors: Vec::new(),
            which: Vec::with_capacity(reports_hint.min(MAX_PREALLOCATED_REPORTS)),
        };
        for m in modules.iter().take(usize::from(NO_MODULE)) {
            if s.by_name.contains_key(m.name()) {
                continue; // a name registered twice: the first module has it
            }
            let context = EpochContext {
                epoch: header.epoch,
                start_ms: header.start_ms,
                end_ms: header.end_ms,
                entropy: header.entropy,
                snapshot: &header.snapshot,
                pool_bones: Amount(s.pools.get(m.name()).copied().unwrap_or(0)),
                carry: header.carry.get(m.name()).map_or(&[], Vec::as_slice),
            };
            let index = u16::try_from(s.collectors.len()).expect("at most NO_MODULE modules");
            s.by_name.insert(m.name(), index);
            s.names.push(m.name());
            s.collectors.push(m.collector(context));
        }
        Ok(s)
    }

    /// Takes the epoch's next report.
    pub(crate) fn push(&mut self, report: &SignedReport) {
        let module = self.by_name.get(report.report.module.as_str()).copied();
        if let Some(m) = module {
            self.collectors[usize::from(m)].push(&report.report);
        }
        self.which.push(module.unwrap_or(NO_MODULE));
    }

    /// Verifies every module's reports: one verdict per report with its id, in push order,
    /// and each module's result.
    fn verify(self) -> Result<Verified<'a>, SettleError> {
        let mut results = BTreeMap::new();
        let mut verdicts_of = Vec::with_capacity(self.collectors.len());
        for (name, c) in self.names.iter().zip(self.collectors) {
            let pushed = c.pushed();
            let o = c.finish();
            if o.verdicts.len() != pushed {
                let (module, expected, got) = (name.to_string(), pushed, o.verdicts.len());
                return Err(SettleError::VerdictCount {
                    module,
                    expected,
                    got,
                });
            }
            verdicts_of.push(o.verdicts);
            let r = ModuleResult {
                shares: o.shares,
                exact: o.exact_rewards,
                carry: o.carry,
                usage: o.usage,
                penalties: o.penalties,
            };
            results.insert(name.to_string(), r);
        }
        let verdicts = merge(&self.which, &verdicts_of);
        Ok(Verified {
            header: self.header,
            pools: self.pools,
            verdicts,
            results,
        })
    }

    /// Settles the epoch whose `inputs.bin` hashes to `inputs_digest`.
    ///
    /// Errors: [`SettleError`] when a module misbehaves or the arithmetic overflows.
    pub(crate) fn finish(self, inputs_digest: Hash32) -> Result<Settlement, SettleError> {
        self.verify()?.settle(inputs_digest)
    }
}

/// Report `k`'s verdict is the next one of module `which[k]`, `unknown_module` for a
/// report of no registered module.
fn merge(which: &[u16], of_module: &[Verdicts]) -> Verdicts {
    let mut next = vec![0usize; of_module.len()];
    let mut out = Verdicts::with_capacity(which.len());
    let unknown = Verdict::invalid(UNKNOWN_MODULE);
    for &m in which {
        let m = usize::from(m);
        match of_module.get(m) {
            Some(vs) => {
                assert!(next[m] < vs.len(), "one verdict per pushed report");
                out.push_from(vs, next[m]);
                next[m] += 1;
            }
            None => out.push(&unknown),
        }
    }
    out
}

/// Every report's verdict and every module's result.
struct Verified<'a> {
    header: &'a EpochHeader,
    pools: BTreeMap<&'a str, u128>,
    verdicts: Verdicts,
    results: BTreeMap<String, ModuleResult>,
}

/// Each weighted module's pool: `emission × weight / Σ weights`, floored.
fn module_pools(inputs: &EpochHeader) -> Result<BTreeMap<&str, u128>, SettleError> {
    let total_weight: u128 = inputs
        .module_weights
        .iter()
        .map(|w| u128::from(w.weight))
        .sum();
    let mut out = BTreeMap::new();
    for w in &inputs.module_weights {
        let pool = mul_div_floor(inputs.emission.0, u128::from(w.weight), total_weight.max(1))
            .ok_or_else(|| SettleError::Overflow {
                module: w.module.clone(),
            })?;
        out.insert(w.module.as_str(), pool);
    }
    Ok(out)
}

/// The emission split: pools, device rewards, what each owner is owed, Σ paid to devices.
struct Split {
    pools: Vec<PoolEntry>,
    devices: Vec<DeviceEntry>,
    owed: BTreeMap<PublicKey, u128>,
    paid_total: u128,
    owners: OwnerAddresses,
}

/// Owner addresses, each encoded once: an owner of many devices appears in every device's
/// entry and in the payouts, and base58check is the costly part of a large manifest.
#[derive(Default)]
struct OwnerAddresses(BTreeMap<PublicKey, String>);

impl OwnerAddresses {
    /// Encodes the addresses of `keys` not known yet, on all cores.
    fn learn(&mut self, network: Network, keys: &[PublicKey]) {
        let missing: std::collections::BTreeSet<PublicKey> = keys
            .iter()
            .filter(|k| !self.0.contains_key(k))
            .copied()
            .collect();
        let missing: Vec<PublicKey> = missing.into_iter().collect();
        let addrs = addresses(network, &missing);
        self.0.extend(missing.into_iter().zip(addrs));
    }

    /// The address of a key [`OwnerAddresses::learn`] has seen.
    fn of(&self, key: &PublicKey) -> String {
        self.0[key].clone()
    }
}

fn split(
    inputs: &EpochHeader,
    pool_of: &BTreeMap<&str, u128>,
    results: &BTreeMap<String, ModuleResult>,
) -> Result<Split, SettleError> {
    let (mut pools, mut devices) = (Vec::new(), Vec::new());
    let mut owner_addrs = OwnerAddresses::default();
    let mut owed: BTreeMap<PublicKey, u128> = BTreeMap::new();
    let mut paid_total = 0u128;
    for w in &inputs.module_weights {
        let overflow = || SettleError::Overflow {
            module: w.module.clone(),
        };
        let pool = pool_of[w.module.as_str()];
        let exact = results.get(&w.module).is_some_and(|r| r.exact);
        let shares: BTreeMap<PublicKey, u128> = results
            .get(&w.module)
            .into_iter()
            .flat_map(|r| &r.shares)
            .filter(|(d, s)| **s > 0 && inputs.snapshot.devices.contains_key(d))
            .map(|(d, s)| (*d, *s))
            .collect();
        let shares_total = shares
            .values()
            .try_fold(0u128, |a, s| a.checked_add(*s))
            .ok_or_else(overflow)?;
        if exact && shares_total > pool {
            let (module, paid) = (w.module.clone(), shares_total);
            return Err(SettleError::OverPool { module, paid, pool });
        }
        let mut paid = 0u128;
        let keys: Vec<PublicKey> = shares.keys().copied().collect();
        let owners: Vec<PublicKey> = keys
            .iter()
            .map(|d| inputs.snapshot.devices[d].owner)
            .collect();
        let device_addrs = addresses(inputs.network, &keys);
        owner_addrs.learn(inputs.network, &owners);
        for ((share, owner), device_addr) in shares.values().zip(&owners).zip(device_addrs) {
            let reward = if exact {
                *share
            } else {
                mul_div_floor(pool, *share, shares_total).ok_or_else(overflow)?
            };
            *owed.entry(*owner).or_insert(0) += reward;
            paid += reward;
            devices.push(DeviceEntry {
                device: device_addr,
                owner: owner_addrs.of(owner),
                module: w.module.clone(),
                share: share.to_string(),
                reward_bones: reward.to_string(),
            });
        }
        assert!(paid <= pool, "floored rewards never exceed their pool");
        paid_total += paid;
        pools.push(PoolEntry {
            module: w.module.clone(),
            weight: w.weight,
            pool_bones: pool.to_string(),
            shares_total: shares_total.to_string(),
            paid_bones: paid.to_string(),
        });
    }
    Ok(Split {
        pools,
        devices,
        owed,
        paid_total,
        owners: owner_addrs,
    })
}

type Gathered = (Vec<UsageCharge>, Vec<Penalty>, BTreeMap<String, Vec<u8>>);

/// Every module's usage, penalties and carried state (modules with none are absent).
fn gather(results: &mut BTreeMap<String, ModuleResult>) -> Gathered {
    let (mut usage, mut penalties, mut carry) = (Vec::new(), Vec::new(), BTreeMap::new());
    for (name, r) in results.iter_mut() {
        usage.append(&mut r.usage);
        penalties.append(&mut r.penalties);
        if !r.carry.is_empty() {
            carry.insert(name.clone(), std::mem::take(&mut r.carry));
        }
    }
    (usage, penalties, carry)
}

/// Base58check addresses of `keys`, in order, encoded on all cores (the encoding is the
/// costly part of a manifest with a million devices).
fn addresses(network: Network, keys: &[PublicKey]) -> Vec<String> {
    par::map(keys, |k| Address::new(network, *k).to_string())
}

impl Verified<'_> {
    fn settle(mut self, inputs_digest: Hash32) -> Result<Settlement, SettleError> {
        let h = self.header;
        let emission = h.emission.0;
        let Split {
            pools,
            devices,
            mut owed,
            paid_total,
            owners: mut owner_addrs,
        } = split(h, &self.pools, &self.results)?;
        let remainder = emission - paid_total;
        *owed.entry(h.remainder_account).or_insert(0) += remainder;
        let payouts: Vec<(PublicKey, Amount)> = owed
            .into_iter()
            .filter(|(_, a)| *a > 0)
            .map(|(o, a)| (o, Amount(a)))
            .collect();
        assert_eq!(
            payouts.iter().map(|(_, a)| a.0).sum::<u128>(),
            emission,
            "payouts and remainder add up to the emission"
        );
        let (usage, penalties, carry) = gather(&mut self.results);
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            chain_id: h.chain_id.clone(),
            epoch: h.epoch,
            start_ms: h.start_ms,
            end_ms: h.end_ms,
            entropy: h.entropy.to_hex(),
            snapshot_height: h.snapshot.height,
            inputs_digest: inputs_digest.to_hex(),
            reports: self.verdicts.len() as u64,
            emission_bones: emission.to_string(),
            remainder_bones: remainder.to_string(),
            remainder_account: Address::new(h.network, h.remainder_account).to_string(),
            root: reward_root(h.epoch, &payouts).to_hex(),
            leaf_count: payouts.len() as u64,
            pools,
            devices,
            owners: owner_entries(h.network, &payouts, &mut owner_addrs),
            verdict_counts: self.verdicts.counts(),
            ingest_rejections: h.ingest_rejections.clone(),
            usage,
            penalties,
            carry_digests: carry
                .iter()
                .map(|(m, c)| (m.clone(), Hash32::digest(c).to_hex()))
                .collect(),
        };
        Ok(Settlement {
            manifest,
            verdicts: self.verdicts,
            payouts,
            carry,
        })
    }
}

/// The Merkle leaves as the manifest lists them.
fn owner_entries(
    network: Network,
    payouts: &[(PublicKey, Amount)],
    known: &mut OwnerAddresses,
) -> Vec<OwnerEntry> {
    let keys: Vec<PublicKey> = payouts.iter().map(|(o, _)| *o).collect();
    known.learn(network, &keys);
    payouts
        .iter()
        .enumerate()
        .map(|(i, (o, a))| OwnerEntry {
            owner: known.of(o),
            amount_bones: a.0.to_string(),
            index: i as u64,
        })
        .collect()
}

/// Settles one epoch held in memory. Its inputs are serialized and hashed on another thread
/// (streamed, never buffered) while the modules take the reports: pure functions of the
/// inputs, so the threads cannot change the result.
///
/// Errors: [`SettleError`] when a module misbehaves or the arithmetic overflows `u128`.
pub fn settle(
    inputs: &EpochInputs,
    modules: &[Arc<dyn ResourceModule>],
) -> Result<Settlement, SettleError> {
    settle_with(inputs, modules, || {
        let mut h = std::io::BufWriter::with_capacity(DIGEST_BUFFER_BYTES, Hasher::new());
        BorshSerialize::serialize(inputs, &mut h).expect("writing into a hasher cannot fail");
        let h = h.into_inner().map_err(|_| ());
        Hash32(
            *h.expect("flushing into a hasher cannot fail")
                .finalize()
                .as_bytes(),
        )
    })
}

/// Settles one epoch held in memory whose `inputs.bin` is already at hand: `inputs_bin` must
/// be the bytes `inputs` was decoded from or encodes to (a follower's copy of the leader's
/// file, or the runner's own encoding, written out next); they are hashed, not serialized
/// again.
///
/// Errors: as [`settle`].
pub fn settle_encoded(
    inputs: &EpochInputs,
    inputs_bin: &[u8],
    modules: &[Arc<dyn ResourceModule>],
) -> Result<Settlement, SettleError> {
    settle_with(inputs, modules, || inputs_digest(inputs_bin))
}

/// Settles `inputs`, their digest computed by `digest` on a second thread.
fn settle_with(
    inputs: &EpochInputs,
    modules: &[Arc<dyn ResourceModule>],
    digest: impl FnOnce() -> Hash32 + Send,
) -> Result<Settlement, SettleError> {
    let mut settler = Settler::new(&inputs.header, modules, inputs.reports.len())?;
    let digest = std::thread::scope(|scope| {
        let digest = scope.spawn(digest);
        for r in &inputs.reports {
            settler.push(r);
        }
        digest.join().expect("the digest thread does not panic")
    });
    settler.finish(digest)
}

/// Bytes of borsh handed to the inputs hasher at a time.
const DIGEST_BUFFER_BYTES: usize = 1 << 20;

/// The inputs digest of an epoch: BLAKE3 of its `inputs.bin` bytes (`Manifest::inputs_digest`).
/// BLAKE3 rather than SHA-256: a Helium-scale epoch is 2 GB of inputs, which SHA-256 takes
/// over a second to hash and BLAKE3 a fraction of that.
pub fn inputs_digest(inputs_bin: &[u8]) -> Hash32 {
    Hash32(*blake3::hash(inputs_bin).as_bytes())
}

/// The first path where two JSON documents differ, with both values (`None` if equal).
pub fn first_difference(
    published: &serde_json::Value,
    recomputed: &serde_json::Value,
) -> Option<String> {
    diff_at("manifest", published, recomputed)
}

fn diff_at(path: &str, a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let (va, vb) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                diff_at(&format!("{path}.{k}"), va, vb)
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (va, vb))| diff_at(&format!("{path}[{i}]"), va, vb)),
        _ if a == b => None,
        _ => Some(format!("{path}: published {a}, recomputed {b}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use depin_module::{DeviceInfo, EpochInput, EpochOutcome, PayloadRejection};
    use depin_types::Report;
    use depin_types::{DeviceClassParams, SecretKey};

    /// Shares = the report's timestamp, valid if even.
    pub(crate) struct Fake;
    impl ResourceModule for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn device_classes(&self) -> Vec<DeviceClassParams> {
            vec![]
        }
        fn check_payload(&self, _: &[u8]) -> Result<(), PayloadRejection> {
            Ok(())
        }
        fn verify_epoch(&self, input: &EpochInput<'_>) -> depin_module::EpochOutcome {
            let mut out = EpochOutcome::default();
            for r in input.reports {
                let ok = r.timestamp_ms % 2 == 0;
                out.verdicts.push(&if ok {
                    Verdict::Valid
                } else {
                    Verdict::Invalid("odd".into())
                });
                if ok {
                    *out.shares.entry(r.device).or_insert(0) += u128::from(r.timestamp_ms);
                }
            }
            out
        }
    }

    pub(crate) fn inputs(emission: u128) -> EpochInputs {
        let devs: Vec<SecretKey> = (1..=3).map(|i| SecretKey::from_seed([i; 32])).collect();
        let mut snapshot = LedgerSnapshot::default();
        for (i, d) in devs.iter().enumerate() {
            let owner = PublicKey([if i < 2 { 50 } else { 60 }; 32]);
            let info = DeviceInfo {
                device: d.public(),
                owner,
                class: "x".into(),
                location: None,
                antenna: None,
                active: true,
            };
            snapshot.devices.insert(d.public(), info);
        }
        let report = |d: &SecretKey, ts: u64, module: &str| {
            let r = Report {
                chain_id: "c".into(),
                module: module.into(),
                device: d.public(),
                timestamp_ms: ts,
                payload: vec![],
            };
            r.sign(d)
        };
        let header = EpochHeader {
            chain_id: "c".into(),
            network: Network::Devnet,
            epoch: 4,
            start_ms: 0,
            end_ms: 100,
            entropy: Hash32([0; 32]),
            snapshot,
            emission: Amount(emission),
            module_weights: vec![
                ModuleWeight {
                    module: "fake".into(),
                    weight: 2,
                    params: Default::default(),
                },
                ModuleWeight {
                    module: "absent".into(),
                    weight: 1,
                    params: Default::default(),
                },
            ],
            remainder_account: PublicKey([70; 32]),
            ingest_rejections: BTreeMap::new(),
            carry: BTreeMap::new(),
        };
        EpochInputs {
            header,
            reports: vec![
                report(&devs[0], 2, "fake"),
                report(&devs[1], 4, "fake"),
                report(&devs[2], 3, "fake"),
                report(&devs[2], 6, "nope"),
            ],
        }
    }

    #[test]
    fn pools_split_by_weight_rewards_floor_and_the_remainder_closes_the_sum() {
        let s = settle(&inputs(1_000), &[Arc::new(Fake)]).unwrap();
        let m = &s.manifest;
        // fake pool = 1000 × 2/3 = 666; shares 2 and 4 → 222 and 444; absent pool 333 unpaid.
        assert_eq!(
            (
                m.pools[0].pool_bones.as_str(),
                m.pools[0].paid_bones.as_str()
            ),
            ("666", "666")
        );
        assert_eq!(m.pools[1].pool_bones, "333");
        assert_eq!(m.remainder_bones, "334");
        let amounts: Vec<u128> = s.payouts.iter().map(|p| p.1 .0).collect();
        assert_eq!(
            amounts,
            vec![666, 334],
            "owner 50 has both devices; the remainder account the rest"
        );
        assert_eq!(m.verdict_counts.get("valid"), Some(&2));
        assert_eq!(m.verdict_counts.get("odd"), Some(&1));
        assert_eq!(m.verdict_counts.get(UNKNOWN_MODULE), Some(&1));
        assert_eq!(m.root, reward_root(4, &s.payouts).to_hex());
    }

    #[test]
    fn settling_the_encoded_inputs_gives_the_settlement_of_the_inputs() {
        let i = inputs(1_000);
        let modules = [Arc::new(Fake) as Arc<dyn ResourceModule>];
        let bytes = i.to_bytes();
        let encoded = settle_encoded(&i, &bytes, &modules).expect("settles");
        assert_eq!(encoded, settle(&i, &modules).expect("settles"));
        assert_eq!(
            encoded.manifest.inputs_digest,
            inputs_digest(&bytes).to_hex()
        );
    }

    #[test]
    fn report_verdicts_pair_ids_with_verdicts_and_refuse_a_length_mismatch() {
        let i = inputs(1_000);
        let s = settle(&i, &[Arc::new(Fake) as Arc<dyn ResourceModule>]).expect("settles");
        let rv = ReportVerdicts::of(&i.reports, s.verdicts.clone()).expect("same length");
        assert!(rv.len() > 1 && rv.len() == i.reports.len());
        for ((id, v), r) in rv.iter().zip(&i.reports) {
            assert_eq!(*id, r.id());
            let even = r.report.timestamp_ms % 2 == 0;
            let valid = r.report.module == "fake" && even;
            assert_eq!(v == Verdict::Valid, valid, "{r:?}");
        }
        let bytes = borsh::to_vec(&rv).expect("vec");
        assert_eq!(ReportVerdicts::try_from_slice(&bytes).expect("decodes"), rv);
        let short = ReportVerdicts::new(rv.ids()[1..].to_vec(), rv.verdicts().clone());
        assert!(short.is_none());
        let mut bad = borsh::to_vec(&rv.ids()[1..].to_vec()).expect("vec");
        bad.extend(borsh::to_vec(rv.verdicts()).expect("vec"));
        assert!(ReportVerdicts::try_from_slice(&bad).is_err());
    }

    #[test]
    fn settling_twice_gives_the_same_manifest_and_a_changed_report_changes_the_digest() {
        let i = inputs(7);
        let a = settle(&i, &[Arc::new(Fake)]).unwrap();
        assert_eq!(a, settle(&i, &[Arc::new(Fake)]).unwrap());
        let mut j = i.clone();
        j.reports.pop();
        assert_ne!(
            a.manifest.inputs_digest,
            settle(&j, &[Arc::new(Fake)])
                .unwrap()
                .manifest
                .inputs_digest
        );
        let payouts: u128 = a.payouts.iter().map(|p| p.1 .0).sum();
        assert_eq!(payouts, 7);
    }
}
