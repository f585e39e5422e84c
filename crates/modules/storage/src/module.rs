//! The storage module as the oracle runs it: report payloads, and each epoch's verdicts,
//! shares, retrieval charges and faults.
//!
//! Per epoch `e`, every shard of a live deal placed before `e` and not faulty is challenged
//! (the deals come from the ledger snapshot at `e`'s last block). Its provider must send, in
//! `e`, a proof report answering the challenge drawn from `e`'s entropy ([`proof::challenge`]
//! with `challenges_per_shard` groups). Then:
//! - a valid proof earns its provider `shard_file_bytes` shares (bytes × one epoch proven);
//! - a shard without a valid proof is a fault: a penalty of `slash_for(shard_file_bytes)`
//!   (the governed fraction of the shard's collateral), reason `missed_proof`, which the
//!   ledger applies when the epoch's root takes effect (stake slashed, shard marked faulty);
//! - a retrieval receipt signed by the deal's client, issued in `e`, charges the client
//!   `⌈bytes / retrieval_bytes_per_credit⌉` data credits (each receipt once).

use crate::proof::{self, ChallengeSeed};
use crate::types::{
    Deal, SignedRetrieval, StorageParams, StorageReport, DEAL_PREFIX, MODULE, PROVIDER_CLASS,
};
use depin_module::{
    EpochInput, EpochOutcome, PayloadRejection, Penalty, ResourceModule, UsageCharge, Verdict,
};
use depin_types::{Amount, DeviceClassParams, Hash32, PublicKey, Report};
use std::collections::{BTreeMap, BTreeSet};

/// Largest storage report payload, bytes: a proof of `MAX_CHALLENGES_PER_SHARD` (16) groups
/// of 16 KiB with their Merkle paths fits with room to spare.
pub const MAX_PAYLOAD_BYTES: usize = 320 << 10;

/// The storage resource module.
#[derive(Clone, Debug)]
pub struct StorageModule {
    params: StorageParams,
}

/// A challenged shard of the epoch.
struct Challenged<'a> {
    deal: &'a Deal,
    provider: PublicKey,
    root: Hash32,
}

impl StorageModule {
    /// The module with `params`.
    pub fn new(params: StorageParams) -> StorageModule {
        StorageModule { params }
    }

    /// Its parameters.
    pub fn params(&self) -> &StorageParams {
        &self.params
    }

    /// The deals in the snapshot, by id (entries that do not decode are skipped: the ledger
    /// wrote them, so none should).
    pub fn deals(input: &EpochInput<'_>) -> BTreeMap<Hash32, Deal> {
        let mut out = BTreeMap::new();
        for (key, value) in input.snapshot.rows(DEAL_PREFIX) {
            let id = <[u8; 32]>::try_from(key).ok().map(Hash32);
            let deal = borsh::from_slice::<Deal>(value).ok();
            if let (Some(id), Some(deal)) = (id, deal) {
                out.insert(id, deal);
            }
        }
        out
    }

    fn proof_verdict(
        &self,
        input: &EpochInput<'_>,
        challenged: &BTreeMap<(Hash32, u32), Challenged<'_>>,
        report: &Report,
        (deal, index, epoch, proof): (Hash32, u32, u64, &[u8]),
    ) -> Verdict {
        if epoch != input.epoch {
            return Verdict::invalid("wrong_epoch");
        }
        let Some(c) = challenged.get(&(deal, index)) else {
            return Verdict::invalid("not_challenged");
        };
        if c.provider != report.device {
            return Verdict::invalid("not_shard_provider");
        }
        let seed = ChallengeSeed {
            entropy: &input.entropy,
            deal: &deal,
            provider: &c.provider.0,
            shard: index,
        };
        let size = c.deal.shard_file_bytes;
        let groups = size.div_ceil(proof::GROUP_BYTES).max(1);
        let ok = proof::challenge(&seed, groups, self.params.challenges_per_shard)
            .and_then(|g| proof::verify(&c.root, size, &g, proof));
        match ok {
            Ok(()) => Verdict::Valid,
            Err(_) => Verdict::invalid("invalid_proof"),
        }
    }

    fn retrieval_verdict(
        input: &EpochInput<'_>,
        deals: &BTreeMap<Hash32, Deal>,
        report: &Report,
        r: &SignedRetrieval,
    ) -> Verdict {
        let rc = &r.receipt;
        if rc.chain_id != report.chain_id || rc.provider != report.device {
            return Verdict::invalid("receipt_not_for_provider");
        }
        if !(input.start_ms..input.end_ms).contains(&rc.issued_ms) {
            return Verdict::invalid("wrong_epoch");
        }
        let Some(d) = deals.get(&rc.deal) else {
            return Verdict::invalid("unknown_deal");
        };
        if d.client != r.client || !d.shards.iter().any(|s| s.provider == report.device) {
            return Verdict::invalid("receipt_not_for_provider");
        }
        if r.client.verify(&rc.signing_bytes(), &r.signature).is_err() {
            return Verdict::invalid("invalid_receipt_signature");
        }
        Verdict::Valid
    }
}

/// Every shard challenged in the epoch, by `(deal, index)`.
fn challenged_shards(
    deals: &BTreeMap<Hash32, Deal>,
    epoch: u64,
) -> BTreeMap<(Hash32, u32), Challenged<'_>> {
    let mut out = BTreeMap::new();
    for (id, d) in deals {
        for (index, s) in d.challenged_in(epoch) {
            let c = Challenged {
                deal: d,
                provider: s.provider,
                root: s.root,
            };
            out.insert((*id, index), c);
        }
    }
    out
}

/// What the epoch's reports add up to.
#[derive(Default)]
struct Tally {
    proven: BTreeSet<(Hash32, u32)>,
    receipts: BTreeSet<Hash32>,
    shares: BTreeMap<PublicKey, u128>,
    usage: Vec<UsageCharge>,
}

impl ResourceModule for StorageModule {
    fn name(&self) -> &'static str {
        MODULE
    }

    fn device_classes(&self) -> Vec<DeviceClassParams> {
        vec![DeviceClassParams {
            name: PROVIDER_CLASS.into(),
            location_bound: false,
            onboarding_fee_bones: Amount(0),
            location_fee_bones: Amount(0),
        }]
    }

    fn state_prefixes(&self) -> Vec<&'static [u8]> {
        vec![DEAL_PREFIX]
    }

    fn max_payload_bytes(&self) -> usize {
        MAX_PAYLOAD_BYTES
    }

    fn check_payload(&self, payload: &[u8]) -> Result<(), PayloadRejection> {
        match borsh::from_slice::<StorageReport>(payload) {
            Ok(StorageReport::Proof { proof, .. }) if proof.is_empty() => Err(PayloadRejection {
                code: "malformed_payload",
                message: "an empty proof".into(),
            }),
            Ok(_) => Ok(()),
            Err(e) => Err(PayloadRejection {
                code: "malformed_payload",
                message: format!("not a storage report: {e}"),
            }),
        }
    }

    fn verify_epoch(&self, input: &EpochInput<'_>) -> EpochOutcome {
        let deals = StorageModule::deals(input);
        let challenged = challenged_shards(&deals, input.epoch);
        let mut tally = Tally::default();
        let verdicts = input
            .reports
            .iter()
            .map(|r| self.verdict(input, &deals, &challenged, r, &mut tally))
            .collect();
        let penalties = self.faults(&challenged, &tally.proven);
        EpochOutcome {
            verdicts,
            shares: tally.shares,
            exact_rewards: false,
            usage: tally.usage,
            penalties,
            carry: Vec::new(),
        }
    }
}

impl StorageModule {
    /// One report's verdict; a valid one is added to `tally`.
    fn verdict(
        &self,
        input: &EpochInput<'_>,
        deals: &BTreeMap<Hash32, Deal>,
        challenged: &BTreeMap<(Hash32, u32), Challenged<'_>>,
        report: &Report,
        tally: &mut Tally,
    ) -> Verdict {
        let Ok(payload) = borsh::from_slice::<StorageReport>(&report.payload) else {
            return Verdict::invalid("malformed_payload");
        };
        match payload {
            StorageReport::Proof {
                deal,
                index,
                epoch,
                proof,
            } => {
                if tally.proven.contains(&(deal, index)) {
                    return Verdict::invalid("duplicate_proof");
                }
                let v = self.proof_verdict(input, challenged, report, (deal, index, epoch, &proof));
                if v == Verdict::Valid {
                    tally.proven.insert((deal, index));
                    let bytes = challenged[&(deal, index)].deal.shard_file_bytes;
                    *tally.shares.entry(report.device).or_insert(0) += u128::from(bytes);
                }
                v
            }
            StorageReport::Retrieval(r) => {
                let digest = Hash32::digest(&r.receipt.signing_bytes());
                if tally.receipts.contains(&digest) {
                    return Verdict::invalid("duplicate_receipt");
                }
                let v = StorageModule::retrieval_verdict(input, deals, report, &r);
                if v == Verdict::Valid {
                    tally.receipts.insert(digest);
                    let credits = self.params.credits_for_retrieval(r.receipt.bytes);
                    tally.usage.push(UsageCharge {
                        payer: r.client,
                        provider: report.device,
                        credits,
                    });
                }
                v
            }
        }
    }

    /// A `missed_proof` penalty for every challenged shard not proven, in `(device, deal)`
    /// order.
    fn faults(
        &self,
        challenged: &BTreeMap<(Hash32, u32), Challenged<'_>>,
        proven: &BTreeSet<(Hash32, u32)>,
    ) -> Vec<Penalty> {
        let mut out: Vec<Penalty> = challenged
            .iter()
            .filter(|(k, _)| !proven.contains(*k))
            .map(|((deal, _), c)| Penalty {
                device: c.provider,
                amount: self
                    .params
                    .slash_for(c.deal.shard_file_bytes)
                    .unwrap_or(Amount(u128::MAX)),
                reason: "missed_proof".into(),
                deal: Some(*deal),
            })
            .collect();
        out.sort_by_key(|p| (p.device, p.deal));
        out
    }
}
