//! Command implementations of the core nouns, one module per noun. Modules' own commands
//! (`storage`, `coverage`, `agent …`) come from their registrations (`crate::modules`).

pub mod escrow;
pub mod node;
pub mod oracle;
pub mod query;
pub mod rewards;
pub mod tx;
pub mod wallet;
