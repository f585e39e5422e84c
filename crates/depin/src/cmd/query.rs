//! Read-only commands: `account balance`, `chain info|block|tx`.

use anyhow::Result;
use clap::Subcommand;
use depin_cli::print;
use depin_cli::wallet::Keystore;
use depin_cli::Ctx;

/// Account commands.
#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// Balance, nonce, stake and credits of an address (default: the wallet's).
    Balance {
        /// Address or hex key.
        address: Option<String>,
    },
}

/// Chain commands.
#[derive(Subcommand, Debug)]
pub enum ChainCmd {
    /// Chain id, height, roots, parameters.
    Info,
    /// A block by height, hash or `latest`.
    Block {
        /// Height, hash or `latest`.
        id: String,
    },
    /// A transaction's status and receipt.
    Tx {
        /// Transaction id (hex).
        id: String,
    },
    /// The supply audit.
    Supply,
}

/// The wallet's address, when no address is given.
pub fn address_or_wallet(ctx: &Ctx, address: Option<String>) -> Result<String> {
    match address {
        Some(a) => Ok(a),
        None => Ok(Keystore::read(&ctx.wallet)?.address.to_string()),
    }
}

/// Runs an account command.
pub async fn account(ctx: &Ctx, cmd: AccountCmd) -> Result<()> {
    match cmd {
        AccountCmd::Balance { address } => {
            let a = ctx
                .client()
                .account(&address_or_wallet(ctx, address)?)
                .await?;
            print(ctx.format, &a)
        }
    }
}

/// Runs a chain command.
pub async fn chain(ctx: &Ctx, cmd: ChainCmd) -> Result<()> {
    let c = ctx.client();
    match cmd {
        ChainCmd::Info => print(ctx.format, &c.chain().await?),
        ChainCmd::Block { id } => print(ctx.format, &c.block(&id).await?),
        ChainCmd::Tx { id } => print(ctx.format, &c.tx_status(&id.parse()?).await?),
        ChainCmd::Supply => print(ctx.format, &c.supply().await?),
    }
}
