//! `depin escrow …`: escrow accounts that pay providers per epoch (the ledger's `escrow`
//! component; storage deals and compute leases open them).

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use depin_cli::print;
use depin_cli::tx::{send, TxOpts};
use depin_cli::Ctx;
use depin_types::tx::{Action, EscrowAction, EscrowPayee};
use depin_types::{Address, Amount, Hash32};

/// Escrow commands (state-changing ones simulate unless `--commit`).
#[derive(Subcommand, Debug)]
pub enum EscrowCmd {
    /// Open an account owned by the wallet: lock a deposit and pay each payee its rate for
    /// every epoch of the term, from the current epoch.
    Open {
        /// Account id: 64 hex digits, or any text (its SHA-256 is the id).
        #[arg(long)]
        id: String,
        /// Tokens locked now.
        #[arg(long)]
        deposit: String,
        /// Epochs in the term.
        #[arg(long)]
        term_epochs: u64,
        /// `ADDRESS=TOKENS` paid per epoch, repeatable.
        #[arg(long = "payee", required = true)]
        payees: Vec<String>,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Add tokens to an open account (pays any arrears first).
    Deposit {
        /// Account id.
        id: String,
        /// Tokens added.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Pay the payees for the epochs elapsed (anyone may).
    Settle {
        /// Account id.
        id: String,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Close an account the wallet owns: pay through the epoch in progress, refund the rest.
    Close {
        /// Account id.
        id: String,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Show an account.
    Info {
        /// Account id.
        id: String,
    },
}

/// An account id: 64 hex digits as is, any other text hashed (SHA-256).
pub fn parse_id(text: &str) -> Hash32 {
    text.parse()
        .unwrap_or_else(|_| Hash32::digest(text.as_bytes()))
}

fn parse_payee(s: &str) -> Result<EscrowPayee> {
    let (addr, tokens) = s
        .split_once('=')
        .with_context(|| format!("--payee must look like ADDRESS=TOKENS, got {s:?}"))?;
    let payee: Address = addr.parse().with_context(|| format!("payee {addr:?}"))?;
    let rate = Amount::parse_tokens(tokens)?;
    if rate == Amount::ZERO {
        bail!("payee {addr} has a zero rate");
    }
    Ok(EscrowPayee {
        payee: payee.key,
        rate_bones_per_epoch: rate,
    })
}

/// Runs an escrow command.
pub async fn run(ctx: &Ctx, cmd: EscrowCmd) -> Result<()> {
    let (action, opts) = match cmd {
        EscrowCmd::Open {
            id,
            deposit,
            term_epochs,
            payees,
            opts,
        } => {
            let payees = payees
                .iter()
                .map(|p| parse_payee(p))
                .collect::<Result<Vec<_>>>()?;
            let deposit = Amount::parse_tokens(&deposit)?;
            let id = parse_id(&id);
            (
                EscrowAction::Open {
                    id,
                    deposit,
                    term_epochs,
                    payees,
                },
                opts,
            )
        }
        EscrowCmd::Deposit { id, amount, opts } => {
            let amount = Amount::parse_tokens(&amount)?;
            (
                EscrowAction::Deposit {
                    id: parse_id(&id),
                    amount,
                },
                opts,
            )
        }
        EscrowCmd::Settle { id, opts } => (EscrowAction::Settle { id: parse_id(&id) }, opts),
        EscrowCmd::Close { id, opts } => (EscrowAction::Close { id: parse_id(&id) }, opts),
        EscrowCmd::Info { id } => {
            let view = ctx.client().escrow(&parse_id(&id)).await?;
            return print(ctx.format, &view);
        }
    };
    send(ctx, Action::Escrow(action), &opts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_or_the_hash_of_the_text_and_payees_parse_or_explain() {
        let hex = "2a".repeat(32);
        assert_eq!(parse_id(&hex), Hash32([42; 32]));
        assert_eq!(parse_id("deal-1"), Hash32::digest(b"deal-1"));
        let a = Address::new(
            depin_types::Network::Devnet,
            depin_types::PublicKey([3; 32]),
        );
        let p = parse_payee(&format!("{a}=1.5")).expect("payee");
        assert_eq!(
            p.rate_bones_per_epoch,
            Amount::parse_tokens("1.5").expect("tokens")
        );
        assert!(parse_payee("nonsense").is_err());
        assert!(parse_payee(&format!("{a}=0")).is_err());
    }
}
