//! The module test kit: runs a module's ledger component and its oracle verifier over a few
//! epochs in one process, with no node, oracle or agent process — what a module author runs
//! in `cargo test` (see `docs/MODULES.md`).
//!
//! A [`ModuleKit`] holds an in-memory chain (`depin_ledger::testkit::Chain`: blocks executed
//! as the node's producer executes them, the supply equation checked after each) with the
//! module's [`LedgerModule`]s registered, and the module's [`ResourceModule`]s. An epoch is
//! settled from the chain's state exactly as the oracle settles it ([`depin_oracle::settle()`]
//! over [`EpochInputs`] whose snapshot is read from the chain), and the result can be attested
//! and claimed on the chain. Block `h` has time `h × 1000` ms; the entropy of epoch `e` is
//! `SHA-256("depin/modkit/entropy" ‖ e)` (a node uses the hash of the epoch's first block).

use depin_ledger::components::{bank, credits, devices};
use depin_ledger::module::{LedgerModule, ModuleRegistry, RegistryError};
use depin_ledger::testkit::Chain;
use depin_module::{DeviceInfo, LedgerSnapshot, ResourceModule};
use depin_oracle::settle::EpochHeader;
use depin_oracle::{EpochInputs, SettleError, Settlement};
use depin_types::rewards::emission_for_epoch;
use depin_types::tx::DeviceStatus;
use depin_types::{
    Action, Amount, Genesis, Hash32, PublicKey, RewardsParams, SecretKey, SignedReport, Transaction,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Block time step of the kit's chain, ms (block `h` has time `h × BLOCK_MS`).
pub const BLOCK_MS: u64 = 1_000;
/// Most empty blocks [`ModuleKit::advance_past_epoch`] makes in one call.
pub const MAX_ADVANCE_BLOCKS: u64 = 100_000;

/// Why the kit cannot do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// The ledger components cannot be registered together.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The genesis has no `rewards` section (no epochs to settle).
    #[error("genesis has no rewards section")]
    NoRewards,
    /// Settlement failed (a module misbehaved, or the arithmetic overflowed).
    #[error(transparent)]
    Settle(#[from] SettleError),
    /// The chain state could not be read or decoded.
    #[error("chain state: {message}")]
    State {
        /// What failed.
        message: String,
    },
    /// The epoch ends later than [`MAX_ADVANCE_BLOCKS`] blocks from now.
    #[error("epoch {epoch} ends more than {MAX_ADVANCE_BLOCKS} blocks ahead")]
    TooFar {
        /// The epoch.
        epoch: u64,
    },
    /// The settlement's claim could not be built.
    #[error("claim: {message}")]
    Claim {
        /// Why.
        message: String,
    },
}

fn state_error(e: impl std::fmt::Display) -> KitError {
    KitError::State {
        message: e.to_string(),
    }
}

/// A chain and an oracle's settlement in one process, for a module's tests.
pub struct ModuleKit {
    /// The in-memory chain (its `state` may be read directly).
    pub chain: Chain,
    /// The genesis it started from.
    pub genesis: Genesis,
    verifiers: Vec<Arc<dyn ResourceModule>>,
    carry: BTreeMap<String, Vec<u8>>,
}

impl ModuleKit {
    /// A chain at `genesis` running the ledger components `ledger`, settled by `verifiers`.
    ///
    /// Errors: [`KitError::Registry`], [`KitError::NoRewards`]. Panics on an invalid genesis
    /// (a test's mistake).
    pub fn new(
        genesis: Genesis,
        ledger: Vec<Arc<dyn LedgerModule>>,
        verifiers: Vec<Arc<dyn ResourceModule>>,
    ) -> Result<ModuleKit, KitError> {
        if genesis.rewards.is_none() {
            return Err(KitError::NoRewards);
        }
        let modules = ModuleRegistry::new(ledger)?;
        let producer = SecretKey::from_seed([0xfe; 32]);
        Ok(ModuleKit {
            chain: Chain::with_modules(&genesis, producer, modules),
            genesis,
            verifiers,
            carry: BTreeMap::new(),
        })
    }

    fn rewards(&self) -> &RewardsParams {
        self.genesis.rewards.as_ref().expect("checked in new")
    }

    /// Signs `action` as `signer` (its next nonce, the chain's minimum fee).
    ///
    /// Errors: the signer's account cannot be read.
    pub fn sign(
        &self,
        signer: &SecretKey,
        action: Action,
    ) -> Result<depin_types::SignedTransaction, KitError> {
        let acct = bank::account(&self.chain.state, &signer.public()).map_err(state_error)?;
        let tx = Transaction {
            chain_id: self.genesis.chain_id.clone(),
            signer: signer.public(),
            nonce: acct.nonce,
            fee: self.genesis.params.min_fee_bones,
            action,
        };
        Ok(tx.sign(signer))
    }

    /// Executes `action` signed by `signer` as the only transaction of the next block; its
    /// verdict: `Ok("success")` or `Ok(reason code)` for an included transaction whose action
    /// failed, `Err(reason code)` for one left out of the block.
    ///
    /// Errors: [`KitError::State`].
    pub fn submit(
        &mut self,
        signer: &SecretKey,
        action: Action,
    ) -> Result<Result<String, String>, KitError> {
        let stx = self.sign(signer, action)?;
        let (_, mut verdicts) = self.chain.block(vec![stx]);
        Ok(verdicts.pop().expect("one verdict per transaction"))
    }

    /// `[start, end)` of `epoch`, ms.
    pub fn epoch_range(&self, epoch: u64) -> (u64, u64) {
        let r = self.rewards();
        let start = self.genesis.genesis_time_ms + epoch * r.epoch_length_ms;
        (start, start + r.epoch_length_ms)
    }

    /// Makes empty blocks until the last block's time is at or past the end of `epoch`.
    ///
    /// Errors: [`KitError::TooFar`].
    pub fn advance_past_epoch(&mut self, epoch: u64) -> Result<(), KitError> {
        let (_, end) = self.epoch_range(epoch);
        let target = end.div_ceil(BLOCK_MS);
        if target.saturating_sub(self.chain.height) > MAX_ADVANCE_BLOCKS {
            return Err(KitError::TooFar { epoch });
        }
        while self.chain.height < target {
            self.chain.block(Vec::new());
        }
        Ok(())
    }

    /// The ledger as an oracle reads it for an epoch: every device, the positive credit
    /// balances, and the raw rows under each verifier's `state_prefixes`.
    ///
    /// Errors: [`KitError::State`] for a row that does not decode.
    pub fn snapshot(&self) -> Result<LedgerSnapshot, KitError> {
        let mut snap = LedgerSnapshot {
            height: self.chain.height,
            devices: BTreeMap::new(),
            credits: BTreeMap::new(),
            credit_price_bones: self.genesis.params.credit_price_bones,
            module_state: BTreeMap::new(),
        };
        for (key, value) in self.rows(devices::DEVICE_PREFIX) {
            let device = PublicKey(key.try_into().map_err(state_error)?);
            let d: devices::Device = borsh::from_slice(value).map_err(state_error)?;
            snap.devices.insert(device, device_info(device, d));
        }
        for (key, value) in self.rows(credits::BALANCE_PREFIX) {
            let payer = PublicKey(key.try_into().map_err(state_error)?);
            let balance: u64 = borsh::from_slice(value).map_err(state_error)?;
            if balance > 0 {
                snap.credits.insert(payer, balance);
            }
        }
        for prefix in self.verifiers.iter().flat_map(|m| m.state_prefixes()) {
            for (key, value) in self.rows(prefix) {
                snap.module_state
                    .insert([prefix, key].concat(), value.to_vec());
            }
        }
        Ok(snap)
    }

    /// `(key after the prefix, value)` of the chain's rows under `prefix`.
    fn rows<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.chain
            .state
            .entries
            .range(prefix.to_vec()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (&k[prefix.len()..], v.as_slice()))
    }

    /// Settles `epoch` over `reports` (in log order) against the chain as it is now, as the
    /// oracle does, carrying each module's state into the next call.
    ///
    /// Errors: [`KitError::Settle`], [`KitError::State`].
    pub fn settle(
        &mut self,
        epoch: u64,
        reports: Vec<SignedReport>,
    ) -> Result<Settlement, KitError> {
        let (start_ms, end_ms) = self.epoch_range(epoch);
        let r = self.rewards();
        let header = EpochHeader {
            chain_id: self.genesis.chain_id.clone(),
            network: self.genesis.network,
            epoch,
            start_ms,
            end_ms,
            entropy: Hash32::digest(&[&b"depin/modkit/entropy"[..], &epoch.to_be_bytes()].concat()),
            snapshot: self.snapshot()?,
            emission: emission_for_epoch(
                r.initial_emission_bones,
                r.halving_interval_epochs,
                epoch,
            ),
            module_weights: r.module_weights.clone(),
            remainder_account: r.remainder_account.key,
            ingest_rejections: BTreeMap::new(),
            carry: self.carry.clone(),
        };
        let inputs = EpochInputs { header, reports };
        let settlement = depin_oracle::settle(&inputs, &self.verifiers)?;
        self.carry = settlement.carry.clone();
        Ok(settlement)
    }

    /// `oracle` attests `settlement` on the chain (root, total, usage, penalties), as the
    /// oracle's runner does; the verdict as [`ModuleKit::submit`] gives it.
    ///
    /// Errors: [`KitError::State`]; [`KitError::Claim`] when the manifest's figures do not
    /// parse or its usage or penalties overflow.
    pub fn attest(
        &mut self,
        oracle: &SecretKey,
        settlement: &Settlement,
    ) -> Result<Result<String, String>, KitError> {
        let action = depin_oracle::claims::attestation_of(&settlement.manifest).map_err(|e| {
            KitError::Claim {
                message: e.to_string(),
            }
        })?;
        let action = Action::Rewards(action);
        self.submit(oracle, action)
    }

    /// `owner` claims its reward of `settlement` (after the root took effect).
    ///
    /// Errors: [`KitError::Claim`] when `owner` has no reward in it; [`KitError::State`].
    pub fn claim(
        &mut self,
        owner: &SecretKey,
        settlement: &Settlement,
    ) -> Result<Result<String, String>, KitError> {
        let claim = depin_oracle::claims::claim_for(&settlement.manifest, &owner.public())
            .map_err(|e| KitError::Claim {
                message: e.to_string(),
            })?;
        self.submit(owner, Action::Rewards(claim))
    }

    /// The bones balance of `who`.
    ///
    /// Errors: [`KitError::State`].
    pub fn balance(&self, who: &PublicKey) -> Result<Amount, KitError> {
        Ok(bank::account(&self.chain.state, who)
            .map_err(state_error)?
            .balance)
    }
}

fn device_info(device: PublicKey, d: devices::Device) -> DeviceInfo {
    DeviceInfo {
        device,
        owner: d.owner,
        class: d.class,
        location: d.location,
        antenna: d.antenna,
        active: d.status == DeviceStatus::Active,
    }
}
