//! Sending transactions: one signed by the wallet and simulated against the node's committed
//! state unless `--commit` ([`send`]), or a batch with consecutive nonces ([`sign_all`],
//! [`submit_all`], [`wait_all`]).

use crate::{output::print, wallet::open, Ctx};
use anyhow::{bail, Context, Result};
use clap::Args;
use depin_api::ReceiptView;
use depin_client::NodeClient;
use depin_types::tx::{Action, Transaction};
use depin_types::{Amount, Hash32, SecretKey, SignedTransaction};
use serde_json::json;
use std::time::Duration;

/// How long `--commit` waits for a transaction to be in a block.
pub const COMMIT_WAIT: Duration = Duration::from_secs(60);

/// Options every transaction command takes.
#[derive(Args, Debug, Clone)]
pub struct TxOpts {
    /// Submit for real (otherwise only simulate).
    #[arg(long)]
    pub commit: bool,
    /// Fee in bones (default: the chain's minimum).
    #[arg(long)]
    pub fee_bones: Option<u128>,
}

/// Signs `action` with the wallet of `ctx`, then simulates it (prints the receipt) or, with
/// `--commit`, submits it and waits until it is in a block (prints the committed receipt).
///
/// Errors: the wallet cannot be opened, the node is unreachable or refuses the transaction,
/// or it is not committed within [`COMMIT_WAIT`].
pub async fn send(ctx: &Ctx, action: Action, opts: &TxOpts) -> Result<()> {
    let wallet = open(&ctx.wallet)?;
    send_as(ctx, &wallet.key, action, opts).await
}

/// [`send`] signed by `key` instead of the wallet.
///
/// Errors: as [`send`].
pub async fn send_as(ctx: &Ctx, key: &SecretKey, action: Action, opts: &TxOpts) -> Result<()> {
    let client = ctx.client();
    let chain = client.chain().await?;
    let account = client.account(&key.public().to_hex()).await?;
    let min_fee: u128 = chain.min_fee_bones.parse().context("min fee")?;
    let tx = Transaction {
        chain_id: chain.chain_id,
        signer: key.public(),
        nonce: account.next_nonce,
        fee: Amount(opts.fee_bones.unwrap_or(min_fee)),
        action,
    }
    .sign(key);
    if !opts.commit {
        let sim = client.simulate(&tx).await?;
        return print(
            ctx.format,
            &json!({"simulated": true, "note": "nothing was submitted; add --commit to submit", "receipt": sim.receipt}),
        );
    }
    let id = client.submit(&tx).await?;
    let receipt = client.wait_committed(&id, COMMIT_WAIT).await?;
    print(ctx.format, &json!({"committed": true, "receipt": receipt}))
}

/// Signs `actions` by `key` with consecutive nonces from its next one, each at the chain's
/// minimum fee.
///
/// Errors: the node is unreachable.
pub async fn sign_all(
    node: &NodeClient,
    key: &SecretKey,
    actions: Vec<Action>,
) -> Result<Vec<SignedTransaction>> {
    let chain = node.chain().await?;
    let account = node.account(&key.public().to_hex()).await?;
    let fee = Amount(chain.min_fee_bones.parse().context("min fee")?);
    Ok((0u64..)
        .zip(actions)
        .map(|(offset, action)| {
            Transaction {
                chain_id: chain.chain_id.clone(),
                signer: key.public(),
                nonce: account.next_nonce + offset,
                fee,
                action,
            }
            .sign(key)
        })
        .collect())
}

/// Submits `txs` (each admitted to the mempool); their ids.
///
/// Errors: the first the node refuses.
pub async fn submit_all(node: &NodeClient, txs: &[SignedTransaction]) -> Result<Vec<Hash32>> {
    let mut ids = Vec::with_capacity(txs.len());
    for tx in txs {
        ids.push(node.submit(tx).await?);
    }
    Ok(ids)
}

/// Waits until each of `ids` is committed; their receipts.
///
/// Errors: the first that failed (with its reason code) or was not committed within
/// [`COMMIT_WAIT`].
pub async fn wait_all(node: &NodeClient, ids: &[Hash32]) -> Result<Vec<ReceiptView>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let receipt = node.wait_committed(id, COMMIT_WAIT).await?;
        if receipt.status != "success" {
            bail!(
                "transaction {id} failed: {} {}",
                receipt.code.clone().unwrap_or_default(),
                receipt.message.clone().unwrap_or_default()
            );
        }
        out.push(receipt);
    }
    Ok(out)
}

/// [`submit_all`] then [`wait_all`].
///
/// Errors: as those.
pub async fn commit_all(node: &NodeClient, txs: &[SignedTransaction]) -> Result<Vec<ReceiptView>> {
    let ids = submit_all(node, txs).await?;
    wait_all(node, &ids).await
}
