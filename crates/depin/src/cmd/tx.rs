//! State-changing commands. Each builds one transaction signed by the wallet; without
//! `--commit` it is only simulated against the node's committed state.

use super::query::address_or_wallet;
use anyhow::Result;
use clap::{Args, Subcommand};
use depin_cli::tx::{send, send_as, TxOpts};
use depin_cli::{print, wallet::open, Ctx};
use depin_types::tx::{
    device_pop_bytes, maker_approval_bytes, Action, BankAction, CreditsAction, DeviceAction,
    DeviceStatus, OnboardDevice, StakingAction,
};
use depin_types::{Address, Amount, Antenna, Location, PublicKey, Signature};
use serde_json::json;
use std::path::PathBuf;

/// `transfer`
#[derive(Args, Debug)]
pub struct TransferArgs {
    /// Recipient address.
    #[arg(long)]
    pub to: Address,
    /// Amount in tokens, e.g. `1.5`.
    #[arg(long)]
    pub amount: String,
    #[command(flatten)]
    pub opts: TxOpts,
}

/// Device commands.
#[derive(Subcommand, Debug)]
pub enum DeviceCmd {
    /// Onboard a device owned by the wallet.
    Onboard(OnboardArgs),
    /// Sign a maker approval with the wallet (the maker's key); prints the signature.
    Approve {
        /// Device address.
        #[arg(long)]
        device: Address,
        /// Owner address.
        #[arg(long)]
        owner: Address,
        /// Device class.
        #[arg(long)]
        class: String,
    },
    /// Assert a location-bound device's H3 res-12 location.
    AssertLocation {
        /// Device address.
        device: Address,
        /// H3 resolution-12 cell (hex).
        #[arg(long)]
        location: String,
        #[command(flatten)]
        antenna: AntennaArgs,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Hand a device to a new owner.
    Transfer {
        /// Device address.
        device: Address,
        /// New owner address.
        #[arg(long)]
        to: Address,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Mark a device active or inactive.
    SetStatus {
        /// Device address.
        device: Address,
        /// `true` for active.
        #[arg(long, action = clap::ArgAction::Set)]
        active: bool,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Show a device.
    Info {
        /// Device address.
        device: String,
    },
}

/// Antenna options of a location assertion (radio classes such as `hotspot`).
#[derive(Args, Debug)]
pub struct AntennaArgs {
    /// Antenna gain, dBi × 10 (e.g. 12 for 1.2 dBi); asserts an antenna.
    #[arg(long)]
    pub gain_ddbi: Option<i32>,
    /// Antenna height above ground, metres (with `--gain-ddbi`).
    #[arg(long, default_value_t = 0, requires = "gain_ddbi")]
    pub elevation_m: i32,
}

impl AntennaArgs {
    fn antenna(&self) -> Option<Antenna> {
        self.gain_ddbi.map(|gain_ddbi| Antenna {
            gain_ddbi,
            elevation_m: self.elevation_m,
        })
    }
}

/// `device onboard`
#[derive(Args, Debug)]
pub struct OnboardArgs {
    /// Device class, e.g. `hotspot`.
    #[arg(long)]
    pub class: String,
    /// The device's wallet file (its key signs the proof of possession).
    #[arg(long)]
    pub device_wallet: PathBuf,
    /// The maker's wallet file (signs the approval) …
    #[arg(long, conflicts_with_all = ["maker", "maker_signature"])]
    pub maker_wallet: Option<PathBuf>,
    /// … or the maker's address and its approval from `device approve`.
    #[arg(long, requires = "maker_signature")]
    pub maker: Option<Address>,
    /// The maker's approval signature (hex).
    #[arg(long, requires = "maker")]
    pub maker_signature: Option<String>,
    /// H3 resolution-12 cell (hex), for location-bound classes.
    #[arg(long)]
    pub location: Option<String>,
    #[command(flatten)]
    pub antenna: AntennaArgs,
    #[command(flatten)]
    pub opts: TxOpts,
}

/// Stake commands.
#[derive(Subcommand, Debug)]
pub enum StakeCmd {
    /// Bond tokens.
    Bond {
        /// Tokens.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Start unbonding tokens.
    Unbond {
        /// Tokens.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        opts: TxOpts,
    },
}

/// Credits commands.
#[derive(Subcommand, Debug)]
pub enum CreditsCmd {
    /// Burn tokens into data credits.
    Burn {
        /// Credits to mint.
        #[arg(long)]
        credits: u64,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Delegate credits to a payer key.
    Delegate {
        /// Payer address.
        #[arg(long)]
        payer: Address,
        /// Credits.
        #[arg(long)]
        credits: u64,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Data credits of an address (default: the wallet's).
    Balance {
        /// Address or hex key.
        address: Option<String>,
    },
}

/// Signs `action` with the wallet and simulates or commits it; prints the outcome.
/// `transfer`
pub async fn transfer(ctx: &Ctx, a: TransferArgs) -> Result<()> {
    let amount = Amount::parse_tokens(&a.amount)?;
    send(
        ctx,
        Action::Bank(BankAction::Transfer {
            to: a.to.key,
            amount,
        }),
        &a.opts,
    )
    .await
}

/// `device …`
pub async fn device(ctx: &Ctx, cmd: DeviceCmd) -> Result<()> {
    match cmd {
        DeviceCmd::Onboard(a) => onboard(ctx, a).await,
        DeviceCmd::Approve {
            device,
            owner,
            class,
        } => approve(ctx, &device, &owner, &class).await,
        DeviceCmd::AssertLocation {
            device,
            location,
            antenna,
            opts,
        } => {
            let location = Location::parse(&location)?;
            send(
                ctx,
                Action::Devices(DeviceAction::AssertLocation {
                    device: device.key,
                    location,
                    antenna: antenna.antenna(),
                }),
                &opts,
            )
            .await
        }
        DeviceCmd::Transfer { device, to, opts } => {
            send(
                ctx,
                Action::Devices(DeviceAction::TransferOwnership {
                    device: device.key,
                    new_owner: to.key,
                }),
                &opts,
            )
            .await
        }
        DeviceCmd::SetStatus {
            device,
            active,
            opts,
        } => {
            let status = if active {
                DeviceStatus::Active
            } else {
                DeviceStatus::Inactive
            };
            send(
                ctx,
                Action::Devices(DeviceAction::SetStatus {
                    device: device.key,
                    status,
                }),
                &opts,
            )
            .await
        }
        DeviceCmd::Info { device } => print(ctx.format, &ctx.client().device(&device).await?),
    }
}

async fn approve(ctx: &Ctx, device: &Address, owner: &Address, class: &str) -> Result<()> {
    let w = open(&ctx.wallet)?;
    let chain = ctx.client().chain().await?;
    let bytes = maker_approval_bytes(&chain.chain_id, &device.key, &owner.key, class);
    let sig = w.key.sign(&bytes);
    print(
        ctx.format,
        &json!({"maker": w.address(), "maker_signature": sig.to_hex()}),
    )
}

async fn onboard(ctx: &Ctx, a: OnboardArgs) -> Result<()> {
    let owner = open(&ctx.wallet)?;
    let device = open(&a.device_wallet)?;
    let chain_id = ctx.client().chain().await?.chain_id;
    let (owner_pk, device_pk) = (owner.key.public(), device.key.public());
    let (maker, maker_signature): (PublicKey, Signature) =
        match (&a.maker_wallet, &a.maker, &a.maker_signature) {
            (Some(path), _, _) => {
                let m = open(path)?;
                (
                    m.key.public(),
                    m.key.sign(&maker_approval_bytes(
                        &chain_id, &device_pk, &owner_pk, &a.class,
                    )),
                )
            }
            (None, Some(m), Some(sig)) => (m.key, Signature::from_hex(sig)?),
            _ => anyhow::bail!("give --maker-wallet, or --maker with --maker-signature"),
        };
    let location = a.location.as_deref().map(Location::parse).transpose()?;
    let action = Action::Devices(DeviceAction::Onboard(OnboardDevice {
        device: device_pk,
        class: a.class,
        maker,
        location,
        antenna: a.antenna.antenna(),
        device_signature: device
            .key
            .sign(&device_pop_bytes(&chain_id, &device_pk, &owner_pk)),
        maker_signature,
    }));
    send_as(ctx, &owner.key, action, &a.opts).await
}

/// `stake …`
pub async fn stake(ctx: &Ctx, cmd: StakeCmd) -> Result<()> {
    match cmd {
        StakeCmd::Bond { amount, opts } => {
            let amount = Amount::parse_tokens(&amount)?;
            send(ctx, Action::Staking(StakingAction::Bond { amount }), &opts).await
        }
        StakeCmd::Unbond { amount, opts } => {
            let amount = Amount::parse_tokens(&amount)?;
            send(
                ctx,
                Action::Staking(StakingAction::Unbond { amount }),
                &opts,
            )
            .await
        }
    }
}

/// `credits …`
pub async fn credits(ctx: &Ctx, cmd: CreditsCmd) -> Result<()> {
    match cmd {
        CreditsCmd::Burn { credits, opts } => {
            send(ctx, Action::Credits(CreditsAction::Burn { credits }), &opts).await
        }
        CreditsCmd::Delegate {
            payer,
            credits,
            opts,
        } => {
            send(
                ctx,
                Action::Credits(CreditsAction::Delegate {
                    payer: payer.key,
                    credits,
                }),
                &opts,
            )
            .await
        }
        CreditsCmd::Balance { address } => {
            let a = ctx
                .client()
                .account(&address_or_wallet(ctx, address)?)
                .await?;
            print(
                ctx.format,
                &json!({"address": a.address, "credits": a.credits, "height": a.height}),
            )
        }
    }
}
