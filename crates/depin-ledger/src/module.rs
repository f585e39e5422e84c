//! The seam between the ledger and the resource modules' ledger components.
//!
//! A module that keeps state on the chain (storage deals and providers, compute leases, …)
//! implements [`LedgerModule`] in its own crate. The binary lists the modules once; the
//! ledger receives them as a [`ModuleRegistry`] and never names one. A module's transactions
//! travel as [`Action::Module`](depin_types::Action::Module): the module's name and its own
//! borsh body, which only the module decodes.
//!
//! Phases (as the core components'; see [`crate::exec`]): [`LedgerModule::check_stateless`]
//! with the other stateless checks (a failure keeps the transaction out of a block), then
//! [`LedgerModule::check`] and [`LedgerModule::execute`] after the fee and nonce are charged (a
//! failure rolls the action back, keeps the fee and puts the module's reason code on the
//! receipt). Hooks let core components ask the modules what only they know: collateral an
//! owner must keep bonded ([`LedgerModule::required_collateral`], asked by `staking`), who an
//! attested penalty slashes and what else it does ([`LedgerModule::penalty_owner`],
//! [`LedgerModule::on_penalty`], called by `rewards`).
//!
//! Determinism rules for module code (the same as the ledger's): no I/O, no clock (block time
//! is [`TxContext::time_ms`]), no randomness, no hash-map iteration, no floating point, and
//! only keys under the module's own [`LedgerModule::prefix`] are written directly; other
//! components are changed through their entry points (`bank::debit`, `staking::slash`,
//! `escrow::open_account`, …).

use crate::components::TxContext;
use crate::error::{ReasonCode, StateError, TxError};
use crate::state::{Overlay, StateRead};
use depin_types::genesis::ModuleParams;
use depin_types::tx::{Penalty, MAX_MODULE_NAME_BYTES};
use depin_types::{Amount, PublicKey};
use std::sync::Arc;

/// Most modules one chain registers.
pub const MAX_MODULES: usize = 64;

/// A failure inside a module's ledger component, in the one shape every module uses: the
/// module, a stable `snake_case` reason code (part of the API, as every reason code) and a
/// message for people.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{module}: {message}")]
pub struct ModuleError {
    /// The module's name.
    pub module: &'static str,
    /// Its reason code, e.g. `deal_not_found`.
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
}

impl ModuleError {
    /// The error `error` of module `module`, with its reason code and message.
    pub fn new<E: ReasonCode + std::fmt::Display>(module: &'static str, error: &E) -> ModuleError {
        ModuleError {
            module,
            code: error.code(),
            message: error.to_string(),
        }
    }
}

impl ReasonCode for ModuleError {
    fn code(&self) -> &'static str {
        self.code
    }
}

/// A resource module's ledger component. Implementations are pure and deterministic (see the
/// module docs); every method may be called on any validator in any order of blocks, and must
/// give the same result from the same state.
pub trait LedgerModule: Send + Sync + 'static {
    /// The module's name: the `module` of its transactions, its genesis `module_weights`
    /// entry and its reports (at most [`MAX_MODULE_NAME_BYTES`] bytes).
    fn name(&self) -> &'static str;

    /// The state key prefix the module owns (by convention `<name>/`). No two registered
    /// modules' prefixes overlap, and none overlaps a core component's.
    fn prefix(&self) -> &'static [u8];

    /// Prefixes (inside [`LedgerModule::prefix`]) whose every version the node keeps, so that
    /// oracles can read them as of an epoch's last block. Default: none.
    fn history_prefixes(&self) -> &'static [&'static [u8]] {
        &[]
    }

    /// Genesis: parses and validates the module's genesis parameters (its `module_weights`
    /// entry's `params`; empty without one) and writes its initial state.
    ///
    /// Errors: parameters the module cannot run with (the genesis is refused).
    fn genesis(&self, params: &ModuleParams, state: &mut Overlay<'_>) -> Result<(), ModuleError>;

    /// Stateless check of a transaction body: it decodes and is well formed. Runs before the
    /// transaction may enter a block.
    fn check_stateless(&self, body: &[u8]) -> Result<(), ModuleError>;

    /// The read-only stateful check of a body (the mempool's admission runs it alone).
    fn check(&self, state: &dyn StateRead, ctx: &TxContext<'_>, body: &[u8])
        -> Result<(), TxError>;

    /// Executes a body whose [`LedgerModule::check`] passed on the same state.
    fn execute(
        &self,
        state: &mut Overlay<'_>,
        ctx: &TxContext<'_>,
        body: &[u8],
    ) -> Result<(), TxError>;

    /// A body in a block: its check, then its execution, on the same state. The default calls
    /// [`LedgerModule::check`] then [`LedgerModule::execute`], each decoding the body; a
    /// module overrides it to decode once and to reuse what its check computed (storage plans
    /// a deal's `Open` once). It must refuse exactly what `check` refuses, with the same code.
    fn check_and_execute(
        &self,
        state: &mut Overlay<'_>,
        ctx: &TxContext<'_>,
        body: &[u8],
    ) -> Result<(), TxError> {
        self.check(&*state, ctx, body)?;
        self.execute(state, ctx, body)
    }

    /// Bones `owner` must keep bonded for what it provides in this module (collateral); the
    /// `staking` component refuses an unbonding below the sum over all modules. Default: 0.
    fn required_collateral(
        &self,
        _state: &dyn StateRead,
        _owner: &PublicKey,
    ) -> Result<Amount, TxError> {
        Ok(Amount::ZERO)
    }

    /// Whose stake an attested penalty against `device` slashes, when the module knows better
    /// than the device registry (e.g. the account that bonded a provider's collateral). The
    /// first module in registry order that answers wins; default: no opinion (the device's
    /// owner is slashed).
    fn penalty_owner(
        &self,
        _state: &dyn StateRead,
        _device: &PublicKey,
    ) -> Result<Option<PublicKey>, StateError> {
        Ok(None)
    }

    /// What else an applied penalty does in this module (after the slash), e.g. marking a
    /// deal's shards faulty. Called for every penalty on every module. Default: nothing.
    fn on_penalty(&self, _state: &mut Overlay<'_>, _penalty: &Penalty) -> Result<(), TxError> {
        Ok(())
    }
}

/// Why a set of modules cannot be registered together.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// Two modules with one name.
    #[error("module {name} is registered twice")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A name that cannot be used.
    #[error("module name {name:?} must be 1 to {MAX_MODULE_NAME_BYTES} bytes")]
    BadName {
        /// The name.
        name: String,
    },
    /// Two state prefixes that overlap (one is a prefix of the other).
    #[error("state prefix of module {module} overlaps {other}")]
    PrefixOverlap {
        /// The module.
        module: String,
        /// The module or core component it overlaps.
        other: String,
    },
    /// More than [`MAX_MODULES`].
    #[error("{count} modules registered, at most {MAX_MODULES}")]
    TooMany {
        /// How many.
        count: usize,
    },
}

/// Key prefixes of the core components, which no module may overlap.
pub const CORE_PREFIXES: &[(&str, &[u8])] = &[
    ("bank", b"bank/"),
    ("devices", b"devices/"),
    ("staking", b"staking/"),
    ("credits", b"credits/"),
    ("rewards", b"rewards/"),
    ("escrow", b"escrow/"),
    ("chain", b"chain/"),
];

/// The modules a chain runs, in name order (so every iteration over them is deterministic).
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct ModuleRegistry {
    modules: Arc<Vec<Arc<dyn LedgerModule>>>,
}

impl std::fmt::Debug for ModuleRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.modules.iter().map(|m| m.name()))
            .finish()
    }
}

impl ModuleRegistry {
    /// A registry of no module (a chain of core components only).
    pub fn empty() -> ModuleRegistry {
        ModuleRegistry::default()
    }

    /// The registry of `modules`, sorted by name.
    ///
    /// Errors: [`RegistryError`] — a name twice or unusable, overlapping prefixes, too many.
    pub fn new(modules: Vec<Arc<dyn LedgerModule>>) -> Result<ModuleRegistry, RegistryError> {
        if modules.len() > MAX_MODULES {
            return Err(RegistryError::TooMany {
                count: modules.len(),
            });
        }
        let mut modules = modules;
        modules.sort_by_key(|m| m.name());
        for (i, m) in modules.iter().enumerate() {
            let name = m.name();
            if name.is_empty() || name.len() > MAX_MODULE_NAME_BYTES {
                return Err(RegistryError::BadName { name: name.into() });
            }
            if modules.get(i + 1).is_some_and(|next| next.name() == name) {
                return Err(RegistryError::DuplicateName { name: name.into() });
            }
            check_prefix(m.as_ref(), &modules[..i])?;
        }
        Ok(ModuleRegistry {
            modules: Arc::new(modules),
        })
    }

    /// The module named `name`.
    pub fn get(&self, name: &str) -> Option<&dyn LedgerModule> {
        self.modules
            .binary_search_by(|m| m.name().cmp(name))
            .ok()
            .map(|i| self.modules[i].as_ref())
    }

    /// Every module, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn LedgerModule> {
        self.modules.iter().map(|m| m.as_ref())
    }

    /// Every module's [`LedgerModule::history_prefixes`], in name order.
    pub fn history_prefixes(&self) -> Vec<&'static [u8]> {
        self.iter()
            .flat_map(|m| m.history_prefixes().iter().copied())
            .collect()
    }

    /// The first answer, in name order, of [`LedgerModule::penalty_owner`] (`None`: no module
    /// knows better than the device registry).
    ///
    /// Errors: storage failures.
    pub fn penalty_owner(
        &self,
        state: &dyn StateRead,
        device: &PublicKey,
    ) -> Result<Option<PublicKey>, StateError> {
        for m in self.iter() {
            if let Some(owner) = m.penalty_owner(state, device)? {
                return Ok(Some(owner));
            }
        }
        Ok(None)
    }

    /// The sum over all modules of [`LedgerModule::required_collateral`].
    ///
    /// Errors: a module's, or an overflow (`stake_overflow`).
    pub fn required_collateral(
        &self,
        state: &dyn StateRead,
        owner: &PublicKey,
    ) -> Result<Amount, TxError> {
        let mut total = Amount::ZERO;
        for m in self.iter() {
            let required = m.required_collateral(state, owner)?;
            total = total
                .checked_add(required)
                .map_err(|_| crate::components::staking::StakingError::Overflow)?;
        }
        Ok(total)
    }
}

fn overlaps(a: &[u8], b: &[u8]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Refuses a prefix that overlaps a core component's or an earlier module's.
fn check_prefix(
    m: &dyn LedgerModule,
    earlier: &[Arc<dyn LedgerModule>],
) -> Result<(), RegistryError> {
    let prefix = m.prefix();
    let core = CORE_PREFIXES.iter().map(|(n, p)| (n.to_string(), *p));
    let others = earlier.iter().map(|o| (o.name().to_string(), o.prefix()));
    for (other, p) in core.chain(others) {
        if prefix.is_empty() || overlaps(prefix, p) {
            return Err(RegistryError::PrefixOverlap {
                module: m.name().into(),
                other,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with a name and a prefix, refusing every body.
    struct Named(&'static str, &'static [u8]);

    impl LedgerModule for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn prefix(&self) -> &'static [u8] {
            self.1
        }
        fn genesis(&self, _: &ModuleParams, _: &mut Overlay<'_>) -> Result<(), ModuleError> {
            Ok(())
        }
        fn check_stateless(&self, _: &[u8]) -> Result<(), ModuleError> {
            Err(ModuleError {
                module: self.0,
                code: "refused",
                message: "refused".into(),
            })
        }
        fn check(&self, _: &dyn StateRead, _: &TxContext<'_>, _: &[u8]) -> Result<(), TxError> {
            Ok(())
        }
        fn execute(&self, _: &mut Overlay<'_>, _: &TxContext<'_>, _: &[u8]) -> Result<(), TxError> {
            Ok(())
        }
    }

    fn registry(list: Vec<Named>) -> Result<ModuleRegistry, RegistryError> {
        ModuleRegistry::new(
            list.into_iter()
                .map(|m| Arc::new(m) as Arc<dyn LedgerModule>)
                .collect(),
        )
    }

    #[test]
    fn modules_are_kept_in_name_order_and_found_by_name() {
        let r = registry(vec![Named("zeta", b"zeta/"), Named("alpha", b"alpha/")]).unwrap();
        let names: Vec<_> = r.iter().map(|m| m.name()).collect();
        assert_eq!(names, ["alpha", "zeta"]);
        assert_eq!(r.get("zeta").map(|m| m.prefix()), Some(&b"zeta/"[..]));
        assert!(r.get("beta").is_none());
    }

    #[test]
    fn a_registry_refuses_twin_names_overlapping_prefixes_and_core_prefixes() {
        let twin = registry(vec![Named("a", b"a/"), Named("a", b"b/")]);
        assert!(matches!(twin, Err(RegistryError::DuplicateName { .. })));
        let nested = registry(vec![Named("a", b"a/"), Named("b", b"a/b/")]);
        assert!(matches!(nested, Err(RegistryError::PrefixOverlap { .. })));
        let core = registry(vec![Named("a", b"bank/x/")]);
        assert!(matches!(core, Err(RegistryError::PrefixOverlap { other, .. }) if other == "bank"));
        let unnamed = registry(vec![Named("", b"x/")]);
        assert!(matches!(unnamed, Err(RegistryError::BadName { .. })));
    }

    #[test]
    fn a_module_action_for_an_unknown_module_or_a_refused_body_fails_the_stateless_check() {
        use depin_types::tx::{Action, ModuleAction, Transaction};
        let sk = depin_types::SecretKey::from_seed([7; 32]);
        let params = depin_types::ChainParams::default();
        let r = registry(vec![Named("known", b"known/")]).unwrap();
        let check = |module: &str| {
            let stx = Transaction {
                chain_id: "c".into(),
                signer: sk.public(),
                nonce: 0,
                fee: params.min_fee_bones,
                action: Action::Module(ModuleAction {
                    module: module.into(),
                    body: vec![1],
                }),
            }
            .sign(&sk);
            let len = stx.to_bytes().len();
            crate::exec::check_stateless(&stx, len, "c", &params, &r).map_err(|e| e.code())
        };
        assert_eq!(check("unknown"), Err("unknown_module"));
        assert_eq!(check("known"), Err("refused"));
    }
}
