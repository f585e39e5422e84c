//! `depin wallet create|import|info`.

use anyhow::{bail, Result};
use clap::Subcommand;
use depin_cli::print;
use depin_cli::wallet::{Keystore, Wallet};
use depin_cli::{wallet::password, Ctx};
use depin_types::Network;
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;

/// Wallet commands.
#[derive(Subcommand, Debug)]
pub enum WalletCmd {
    /// Create a wallet with a new BIP39 mnemonic; prints the mnemonic once.
    Create {
        /// Where to write the wallet (defaults to --wallet).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Mnemonic length: 12 or 24 words.
        #[arg(long, default_value_t = 12)]
        words: usize,
        /// Network of the address.
        #[arg(long, value_enum, default_value = "devnet")]
        network: NetworkArg,
    },
    /// Import a wallet from a mnemonic read from standard input.
    Import {
        /// Where to write the wallet (defaults to --wallet).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Network of the address.
        #[arg(long, value_enum, default_value = "devnet")]
        network: NetworkArg,
    },
    /// Show a wallet's address (no password needed).
    Info,
    /// Print only the wallet's address, for scripts.
    Address,
}

/// Network names on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum NetworkArg {
    /// Mainnet.
    Mainnet,
    /// Testnet.
    Testnet,
    /// Devnet.
    Devnet,
}

impl From<NetworkArg> for Network {
    fn from(n: NetworkArg) -> Network {
        match n {
            NetworkArg::Mainnet => Network::Mainnet,
            NetworkArg::Testnet => Network::Testnet,
            NetworkArg::Devnet => Network::Devnet,
        }
    }
}

/// Runs a wallet command.
pub fn run(ctx: &Ctx, cmd: WalletCmd) -> Result<()> {
    match cmd {
        WalletCmd::Create {
            out,
            words,
            network,
        } => {
            let w = Wallet::generate(words, network.into())?;
            let path = out.unwrap_or_else(|| ctx.wallet.clone());
            save(&w, &path)?;
            let mnemonic = w
                .mnemonic
                .as_deref()
                .map(String::as_str)
                .unwrap_or_default();
            print(
                ctx.format,
                &json!({"address": w.address(), "key": w.key.public(), "file": path, "mnemonic": mnemonic,
                "warning": "write the mnemonic down; it is the only way to recover this wallet"}),
            )
        }
        WalletCmd::Import { out, network } => {
            let mut words = String::new();
            std::io::stdin().read_to_string(&mut words)?;
            let w = Wallet::from_mnemonic(&words, network.into())?;
            let path = out.unwrap_or_else(|| ctx.wallet.clone());
            save(&w, &path)?;
            print(
                ctx.format,
                &json!({"address": w.address(), "key": w.key.public(), "file": path}),
            )
        }
        WalletCmd::Address => {
            println!("{}", Keystore::read(&ctx.wallet)?.address);
            Ok(())
        }
        WalletCmd::Info => {
            let ks = Keystore::read(&ctx.wallet)?;
            print(
                ctx.format,
                &json!({"address": ks.address, "key": ks.address.key, "network": ks.address.network, "file": ctx.wallet}),
            )
        }
    }
}

fn save(w: &Wallet, path: &std::path::Path) -> Result<()> {
    let pw = password("new wallet password: ")?;
    if std::env::var("DEPIN_WALLET_PASSWORD").is_err() && password("repeat password: ")? != pw {
        bail!("passwords differ");
    }
    w.seal(&pw)?.write_new(path)
}
