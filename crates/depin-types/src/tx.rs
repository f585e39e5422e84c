//! The signed transaction envelope and every ledger action, grouped by the ledger component
//! that owns it (`bank`, `devices`, `staking`, `credits`).
//!
//! What is signed: `DOMAIN_TX || borsh(Transaction)`. The transaction carries the chain id, so a
//! signature is valid on one chain only, and the domain tag keeps a transaction signature from
//! ever being a valid signature over another kind of message (device proof of possession,
//! maker approval, reports). The transaction id is SHA-256 of the same bytes, so it does not
//! depend on the (malleable under ZIP-215) signature encoding.

use crate::amount::Amount;
use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::hash::Hash32;
use crate::location::{Antenna, Location};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Domain tag of transaction signatures and ids.
pub const DOMAIN_TX: &[u8] = b"depin/tx/v1\0";
/// Domain tag of a device key's proof of possession (it signs its future owner).
pub const DOMAIN_DEVICE_POP: &[u8] = b"depin/device-pop/v1\0";
/// Domain tag of a maker's approval of a device onboarding.
pub const DOMAIN_MAKER_APPROVAL: &[u8] = b"depin/maker-approval/v1\0";
/// Longest chain id, in bytes.
pub const MAX_CHAIN_ID_BYTES: usize = 64;
/// Longest device class name, in bytes.
pub const MAX_CLASS_NAME_BYTES: usize = 32;

/// An unsigned transaction: who acts, in which order (nonce), what they pay, and what they do.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transaction {
    /// The chain this transaction is for; a transaction for another chain is refused.
    pub chain_id: String,
    /// The signing account (the fee payer).
    pub signer: PublicKey,
    /// The signer's next nonce: 0 for its first transaction, then one more each time.
    pub nonce: u64,
    /// Fee in bones, at least the chain's `min_fee_bones`.
    pub fee: Amount,
    /// What the transaction does.
    pub action: Action,
}

/// A transaction with the signer's ed25519 signature over `DOMAIN_TX || borsh(tx)`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// Signature by `tx.signer`.
    pub signature: Signature,
}

impl Transaction {
    /// The exact bytes the signer signs: `DOMAIN_TX || borsh(self)`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = DOMAIN_TX.to_vec();
        BorshSerialize::serialize(self, &mut out).expect("writing to a Vec cannot fail");
        out
    }

    /// The transaction id: SHA-256 of [`Transaction::signing_bytes`].
    pub fn id(&self) -> Hash32 {
        Hash32::digest(&self.signing_bytes())
    }

    /// Signs with `key`. The caller makes sure `key` is `self.signer`'s key.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let signature = key.sign(&self.signing_bytes());
        SignedTransaction {
            tx: self,
            signature,
        }
    }
}

impl SignedTransaction {
    /// The transaction id (see [`Transaction::id`]).
    pub fn id(&self) -> Hash32 {
        self.tx.id()
    }

    /// Canonical borsh encoding, as submitted to the node.
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("writing to a Vec cannot fail")
    }
}

/// Every ledger action, by owning component.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Token balances.
    Bank(BankAction),
    /// Device registry.
    Devices(DeviceAction),
    /// Bonded stake.
    Staking(StakingAction),
    /// Data credits.
    Credits(CreditsAction),
    /// Epoch reward roots and claims.
    Rewards(RewardsAction),
    /// Escrow accounts paying providers per epoch.
    Escrow(EscrowAction),
    /// An action of a resource module's ledger component (storage deals, compute leases, …):
    /// the ledger hands `body` to the component registered under `module`, which decodes it.
    Module(ModuleAction),
}

/// Longest module name, bytes.
pub const MAX_MODULE_NAME_BYTES: usize = 32;

/// A resource module's transaction: which module's ledger component executes it, and the
/// module's own borsh encoding of what to do. The engine never decodes `body`; the module's
/// component does (see `depin_ledger::module::LedgerModule`). The body is signed with the rest
/// of the transaction, so it needs no domain tag of its own.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ModuleAction {
    /// The module's name (as registered), at most [`MAX_MODULE_NAME_BYTES`].
    pub module: String,
    /// The module's action, borsh-encoded (hex in JSON).
    #[serde(with = "hex::serde")]
    pub body: Vec<u8>,
}

impl ModuleAction {
    /// The action `body` of module `module`, borsh-encoded.
    pub fn encode(module: &str, body: &impl BorshSerialize) -> ModuleAction {
        ModuleAction {
            module: module.to_string(),
            body: borsh::to_vec(body).expect("writing to a Vec cannot fail"),
        }
    }
}

/// Most payees of one escrow account (a storage deal's providers).
pub const MAX_ESCROW_PAYEES: usize = 64;

/// One payee of an escrow account and its rate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EscrowPayee {
    /// The account paid.
    pub payee: PublicKey,
    /// Bones per epoch.
    pub rate_bones_per_epoch: Amount,
}

/// Actions of the `escrow` component: funds locked for a term and paid to payees per epoch,
/// settled lazily as Akash settles leases (on any touch, for the whole epochs elapsed).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscrowAction {
    /// Opens escrow account `id` owned by the signer: `deposit` bones move from the signer's
    /// balance into it, and each payee accrues its rate for every epoch of the term, from
    /// the epoch of opening (inclusive) for `term_epochs` epochs.
    Open {
        /// Account id chosen by the opener (e.g. a deal id); must be new.
        id: Hash32,
        /// Bones locked now.
        deposit: Amount,
        /// Epochs paid.
        term_epochs: u64,
        /// Payees and rates, at most [`MAX_ESCROW_PAYEES`], no payee twice.
        payees: Vec<EscrowPayee>,
    },
    /// Adds `amount` bones from the signer to an open account.
    Deposit {
        /// The account.
        id: Hash32,
        /// Bones added.
        amount: Amount,
    },
    /// Pays what the elapsed epochs owe (anyone may ask; the signer pays the fee).
    Settle {
        /// The account.
        id: Hash32,
    },
    /// The owner ends the account: the elapsed epochs and the epoch in progress are paid,
    /// the rest is refunded to the owner.
    Close {
        /// The account.
        id: Hash32,
    },
}

/// Actions of the `bank` component.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankAction {
    /// Move `amount` bones from the signer to `to`.
    Transfer {
        /// Recipient account.
        to: PublicKey,
        /// Bones to move.
        amount: Amount,
    },
}

/// Actions of the `devices` component.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceAction {
    /// Register a device owned by the signer (Helium's `add_gateway_v1`: owner, device and
    /// maker each sign).
    Onboard(OnboardDevice),
    /// Assert (or move) a location-bound device's H3 res-12 location. Signed by the owner; the
    /// class's location fee is burned.
    AssertLocation {
        /// The device.
        device: PublicKey,
        /// The new location.
        location: Location,
        /// The antenna at the new location (gain, elevation), for radio classes.
        antenna: Option<Antenna>,
    },
    /// Hand a device to a new owner. Signed by the current owner.
    TransferOwnership {
        /// The device.
        device: PublicKey,
        /// The new owner account.
        new_owner: PublicKey,
    },
    /// Mark a device active or inactive. Signed by the owner.
    SetStatus {
        /// The device.
        device: PublicKey,
        /// The new status.
        status: DeviceStatus,
    },
}

/// Whether a device takes part in the network.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Reports are accepted and rewarded.
    Active,
    /// Switched off by the owner; reports are refused.
    Inactive,
}

/// Onboarding a device: the owner signs the transaction; the device key proves possession by
/// signing its owner ([`device_pop_bytes`]); an approved maker approves the device
/// ([`maker_approval_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct OnboardDevice {
    /// The device's own key (it signs its reports with it).
    pub device: PublicKey,
    /// Device class, one of the classes in genesis (e.g. `hotspot`).
    pub class: String,
    /// The approving maker's key, one of the makers in genesis.
    pub maker: PublicKey,
    /// Initial location; required for location-bound classes, refused for others.
    pub location: Option<Location>,
    /// Antenna gain and elevation at that location, for radio classes (not signed by the
    /// device or maker: the owner asserts it, as with the location).
    pub antenna: Option<Antenna>,
    /// The device key's signature over [`device_pop_bytes`].
    pub device_signature: Signature,
    /// The maker key's signature over [`maker_approval_bytes`].
    pub maker_signature: Signature,
}

impl OnboardDevice {
    /// An onboarding of `device` for `owner`, approved by `maker`, with both signatures made
    /// here (for tools and tests that hold all three keys; a real maker signs its approval
    /// elsewhere, see `depin device approve`).
    pub fn signed_by(
        chain_id: &str,
        device: &SecretKey,
        owner: &PublicKey,
        maker: &SecretKey,
        class: &str,
        location: Option<Location>,
    ) -> OnboardDevice {
        let d = device.public();
        OnboardDevice {
            device: d,
            class: class.to_string(),
            maker: maker.public(),
            location,
            antenna: None,
            device_signature: device.sign(&device_pop_bytes(chain_id, &d, owner)),
            maker_signature: maker.sign(&maker_approval_bytes(chain_id, &d, owner, class)),
        }
    }
}

/// What a device key signs to prove possession: `DOMAIN_DEVICE_POP || borsh((chain_id, device,
/// owner))`.
pub fn device_pop_bytes(chain_id: &str, device: &PublicKey, owner: &PublicKey) -> Vec<u8> {
    let mut out = DOMAIN_DEVICE_POP.to_vec();
    BorshSerialize::serialize(&(chain_id, device, owner), &mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// What a maker signs to approve a device: `DOMAIN_MAKER_APPROVAL || borsh((chain_id, device,
/// owner, class))`.
pub fn maker_approval_bytes(
    chain_id: &str,
    device: &PublicKey,
    owner: &PublicKey,
    class: &str,
) -> Vec<u8> {
    let mut out = DOMAIN_MAKER_APPROVAL.to_vec();
    BorshSerialize::serialize(&(chain_id, device, owner, class), &mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// Actions of the `staking` component.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StakingAction {
    /// Lock `amount` bones of the signer's balance as stake.
    Bond {
        /// Bones to bond.
        amount: Amount,
    },
    /// Start unbonding `amount` bones; they return to the balance after the chain's
    /// `unbonding_period_blocks`, and can be slashed until then.
    Unbond {
        /// Bones to unbond.
        amount: Amount,
    },
    /// Slash a BFT validator that signed two conflicting votes in one view: burns
    /// [`VALIDATOR_SLASH_BPS`] of its stake, once per (validator, view). Signed by a validator.
    /// The ledger checks who may report and that it happens once; `proof` (the two signed
    /// votes, consensus encoding) is checked by every validator's consensus before it votes
    /// for a block carrying it, as CometBFT checks evidence before the application sees it.
    SlashValidator {
        /// The offending validator.
        validator: PublicKey,
        /// The consensus view of the two votes.
        view: u64,
        /// `conflicting_notarize`, `conflicting_finalize` or `nullify_finalize`.
        kind: String,
        /// The two signed votes (at most [`MAX_EVIDENCE_BYTES`]).
        proof: Vec<u8>,
    },
}

/// Share of a validator's stake (bonded, then unbonding) burned for an equivocation, basis
/// points: 5 % (Cosmos SDK x/slashing `slash_fraction_double_sign` default).
pub const VALIDATOR_SLASH_BPS: u128 = 500;
/// Largest equivocation proof, bytes.
pub const MAX_EVIDENCE_BYTES: usize = 16 * 1024;

/// Actions of the `credits` component.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditsAction {
    /// Burn exactly `credits × credit_price_bones` bones of the signer's balance and mint
    /// `credits` data credits to the signer (Helium's burn-and-mint: HNT → DC).
    Burn {
        /// Data credits to mint.
        credits: u64,
    },
    /// Move `credits` of the signer's data credits to `payer`, the key that modules debit for
    /// usage (Helium's DC delegation to a router's payer key). Credits move only this way.
    Delegate {
        /// The payer key.
        payer: PublicKey,
        /// Data credits to move.
        credits: u64,
    },
}

/// Most payers one attestation debits.
pub const MAX_USAGE_DEBITS: usize = 10_000;
/// Domain of [`effects_digest`].
pub const DOMAIN_USAGE: &[u8] = b"depin/usage/v1\0";

/// Data credits a payer used in an epoch (Helium: the DC burned for the packets a router's
/// payer key paid for), debited from its credit balance when the epoch's root takes effect.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UsageDebit {
    /// The payer key.
    pub payer: PublicKey,
    /// Credits used.
    pub credits: u64,
}

/// Sums `(payer, credits)` charges per payer, sorted by payer, dropping zero sums; `None` if
/// a sum overflows `u64`.
pub fn usage_debits(
    charges: impl IntoIterator<Item = (PublicKey, u64)>,
) -> Option<Vec<UsageDebit>> {
    let mut sums: std::collections::BTreeMap<PublicKey, u64> = std::collections::BTreeMap::new();
    for (payer, credits) in charges {
        let e = sums.entry(payer).or_insert(0);
        *e = e.checked_add(credits)?;
    }
    Some(
        sums.into_iter()
            .filter(|(_, c)| *c > 0)
            .map(|(payer, credits)| UsageDebit { payer, credits })
            .collect(),
    )
}

/// Most penalties one attestation applies.
pub const MAX_PENALTIES: usize = 10_000;
/// Longest penalty reason code, bytes.
pub const MAX_REASON_BYTES: usize = 32;

/// A penalty a module found in an epoch, applied when the epoch's root takes effect: `amount`
/// bones of the stake of `device`'s owner are slashed (burned), then each registered module's
/// ledger component sees the penalty (a module may mark the device's part of `deal`
/// faulty).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Penalty {
    /// The device at fault.
    pub device: PublicKey,
    /// Bones to slash from its owner's stake (less if the stake is smaller).
    pub amount: Amount,
    /// Reason code (e.g. `missed_proof`), at most [`MAX_REASON_BYTES`].
    pub reason: String,
    /// The agreement the fault is in, if any (e.g. a deal's id); read by the module that owns
    /// it.
    pub deal: Option<Hash32>,
}

/// Sorts penalties by `(device, deal)` and merges those of the same pair (amounts summed,
/// the first reason kept); `None` if a sum overflows.
pub fn penalty_list(penalties: impl IntoIterator<Item = Penalty>) -> Option<Vec<Penalty>> {
    let mut merged: std::collections::BTreeMap<(PublicKey, Option<Hash32>), Penalty> =
        std::collections::BTreeMap::new();
    for p in penalties {
        match merged.entry((p.device, p.deal)) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(p);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let e = o.get_mut();
                e.amount = e.amount.checked_add(p.amount).ok()?;
            }
        }
    }
    Some(merged.into_values().collect())
}

/// Digest of an epoch's ledger effects besides its root:
/// `SHA-256(DOMAIN_USAGE ‖ borsh(debits) ‖ borsh(penalties))`. Attestations agree when their
/// roots, totals and effects digests are equal.
pub fn effects_digest(debits: &[UsageDebit], penalties: &[Penalty]) -> Hash32 {
    let mut bytes = borsh::to_vec(debits).expect("writing to a Vec cannot fail");
    borsh::to_writer(&mut bytes, penalties).expect("writing to a Vec cannot fail");
    Hash32::digest_with_domain(DOMAIN_USAGE, &bytes)
}

/// Actions of the `rewards` component.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardsAction {
    /// A registered oracle attests the reward root of a closed epoch and the data credits its
    /// payers used. When `attest_threshold` of the genesis oracles have attested the same
    /// `(root, total, usage, penalties)`, the root takes effect, `total` bones are minted into
    /// the unclaimed-rewards pool, each payer's credits are debited and the penalties applied.
    AttestRoot {
        /// The epoch.
        epoch: u64,
        /// Merkle root of the epoch's reward leaves (see `rewards::reward_root`).
        root: Hash32,
        /// Sum of all leaves, in bones: exactly the epoch's emission.
        total: Amount,
        /// Credits used per payer (see [`usage_debits`]): sorted by payer, no payer twice,
        /// every amount positive, at most [`MAX_USAGE_DEBITS`].
        usage: Vec<UsageDebit>,
        /// Penalties to apply (sorted by device then deal, at most [`MAX_PENALTIES`]).
        penalties: Vec<Penalty>,
    },
    /// Pays `owner` its reward of `epoch` once, given the leaf's Merkle proof. Anyone may
    /// submit it (the signer pays the fee); the reward always goes to `owner`.
    Claim {
        /// The epoch.
        epoch: u64,
        /// The rewarded account.
        owner: PublicKey,
        /// The leaf's amount, in bones.
        amount: Amount,
        /// The leaf's position in the sorted manifest.
        index: u64,
        /// Number of leaves in the epoch's tree.
        leaf_count: u64,
        /// Audit path, bottom first (RFC 9162).
        proof: Vec<Hash32>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(chain: &str) -> Transaction {
        Transaction {
            chain_id: chain.into(),
            signer: SecretKey::from_seed([1; 32]).public(),
            nonce: 0,
            fee: Amount(10),
            action: Action::Bank(BankAction::Transfer {
                to: PublicKey([2; 32]),
                amount: Amount(5),
            }),
        }
    }

    #[test]
    fn the_chain_id_is_part_of_what_is_signed() {
        let sk = SecretKey::from_seed([1; 32]);
        let stx = transfer("a").sign(&sk);
        let mut other = stx.clone();
        other.tx.chain_id = "b".into();
        assert!(sk
            .public()
            .verify(&stx.tx.signing_bytes(), &stx.signature)
            .is_ok());
        assert!(sk
            .public()
            .verify(&other.tx.signing_bytes(), &other.signature)
            .is_err());
        assert_ne!(stx.id(), other.id());
    }

    #[test]
    fn borsh_round_trips() {
        let stx = transfer("a").sign(&SecretKey::from_seed([1; 32]));
        let back: SignedTransaction = borsh::from_slice(&stx.to_bytes()).unwrap();
        assert_eq!(back, stx);
    }
}
