//! Refunds and lost disputes of top-ups: the coins the euros bought are taken back, once per
//! provider object (a refund by its charge and the amount refunded so far, a dispute by its id).
//! They come from the member down to their floor; what cannot be taken is burned from the org's
//! clawback account instead, whose negative balance shows the treasurer the coins that no euros
//! back any more. Never a silent negative member balance; the ledger still verifies.

use serde::Serialize;
use utoipa::ToSchema;

use super::TopupId;
use super::escrow::billing_account;
use crate::domain::ids::{CurrencyId, UserId};
use crate::domain::ledger::queue::post_all;
use crate::domain::ledger::store as ledger_store;
use crate::domain::ledger::{AccountRef, Authority, TransferKind, TransferOrder};
use crate::domain::money::Amount;
use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};

/// Refund or dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClawKind {
    Refund,
    Dispute,
}

impl ClawKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Refund => "refund",
            Self::Dispute => "dispute",
        }
    }
}

/// What was taken back, for the euro side (`cents` out of the reserve under `key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clawed {
    pub key: String,
    pub cents: i64,
}

#[derive(sqlx::FromRow)]
struct Topup {
    id: TopupId,
    member_user_id: UserId,
    currency_id: CurrencyId,
    amount_cents: i64,
    coins: i64,
}

/// Takes back what a refund or a lost dispute of the top-up paid by `payment_intent` says, once.
/// `cents`: for a refund, what was refunded in all so far (the new part is taken); for a
/// dispute, its amount. `Ok(Some(None))`: not one of our top-ups, or nothing (more) to take.
/// `Ok(None)`: the ledger raced a duplicate key; roll back and retry.
pub(crate) async fn claw_back(
    tx: &mut TenantTx,
    kind: ClawKind,
    object: &str,
    payment_intent: &str,
    cents: i64,
) -> Result<Option<Option<Clawed>>> {
    let topup: Option<Topup> = sqlx::query_as(
        "SELECT id, member_user_id, currency_id, amount_cents, coins FROM topups
         WHERE payment_intent = $1 AND status = 'paid' FOR UPDATE",
    )
    .bind(payment_intent)
    .fetch_optional(tx.conn())
    .await?;
    let Some(topup) = topup else {
        return Ok(Some(None));
    };
    let key = match kind {
        ClawKind::Refund => format!("refund:{object}:{cents}"),
        ClawKind::Dispute => format!("dispute:{object}"),
    };
    let done: Option<(i64,)> =
        sqlx::query_as("SELECT cents FROM clawbacks WHERE provider_key = $1")
            .bind(&key)
            .fetch_optional(tx.conn())
            .await?;
    if let Some((cents,)) = done {
        return Ok(Some(Some(Clawed { key, cents })));
    }
    let (refunded, clawed_cents, clawed_coins): (i64, i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(cents) FILTER (WHERE kind = 'refund'), 0)::bigint,
                COALESCE(SUM(cents), 0)::bigint, COALESCE(SUM(coins), 0)::bigint
         FROM clawbacks WHERE topup_id = $1",
    )
    .bind(topup.id)
    .fetch_one(tx.conn())
    .await?;
    let left = topup.amount_cents - clawed_cents;
    let wanted = match kind {
        ClawKind::Refund => cents - refunded,
        ClawKind::Dispute => cents,
    };
    let take_cents = wanted.min(left);
    if take_cents <= 0 {
        return Ok(Some(None));
    }
    // The top-up's own rate, rounded up (a part refund takes at least what its euros bought);
    // never more than the top-up issued.
    let coins = i128::from(take_cents) * i128::from(topup.coins);
    let amount = i128::from(topup.amount_cents);
    let coins = i64::try_from((coins + amount - 1) / amount)
        .map_err(|_| Error::Internal(anyhow::anyhow!("clawback coins overflow")))?
        .min(topup.coins - clawed_coins);
    let member = ledger_store::resolve_account(
        tx,
        AccountRef::Member(topup.member_user_id),
        topup.currency_id,
    )
    .await?;
    let spendable = member
        .map(|a| {
            a.balance
                .checked_sub(a.floor.unwrap_or(0))
                .unwrap_or(0)
                .max(0)
        })
        .unwrap_or(0);
    let taken = coins.min(spendable);
    let shortfall = coins - taken;
    let mut orders = Vec::new();
    let step = |suffix: &str, from: AccountRef, amount: i64| -> Result<TransferOrder> {
        Ok(TransferOrder {
            key: format!("{key}:{suffix}"),
            currency: topup.currency_id,
            from,
            to: AccountRef::Issuance,
            amount: Amount::from_minor(amount)
                .map_err(|e| Error::Internal(anyhow::anyhow!("clawback coins: {e}")))?,
            kind: TransferKind::Clawback,
            memo: format!("{} of top-up #{}", kind.as_str(), topup.id),
            actor: topup.member_user_id,
            authority: Authority::System,
            credential: None,
        })
    };
    if taken > 0 {
        orders.push(step(
            "member",
            AccountRef::Member(topup.member_user_id),
            taken,
        )?);
    }
    if shortfall > 0 {
        // Its floor is the lowest there is: it records what could not be taken, whatever that is.
        let clawback = billing_account(tx, topup.currency_id, "clawback", i64::MIN).await?;
        orders.push(step("shortfall", AccountRef::Id(clawback), shortfall)?);
    }
    if !orders.is_empty() && post_all(tx, &orders).await?.is_none() {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO clawbacks (topup_id, kind, provider_key, cents, coins, taken, shortfall)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(topup.id)
    .bind(kind.as_str())
    .bind(&key)
    .bind(take_cents)
    .bind(coins)
    .bind(taken)
    .bind(shortfall)
    .execute(tx.conn())
    .await?;
    Ok(Some(Some(Clawed {
        key,
        cents: take_cents,
    })))
}

/// Clawbacks in sum, for the treasurer and the invariants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClawbackTotals {
    /// Euros refunded or lost in disputes, in cents.
    pub cents: i64,
    /// Coins taken back in all (minor units), from members and onto the clawback account.
    pub coins: i64,
    /// Coins that could not be taken from members: the clawback account's negative balance.
    pub shortfall: i64,
    /// The clawback account's balance is minus the shortfall, and every clawback's coins are in
    /// the journal.
    pub matches_journal: bool,
}

pub(crate) async fn totals(tx: &mut TenantTx) -> Result<ClawbackTotals> {
    let (cents, coins, shortfall, journal): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(cents), 0)::bigint, COALESCE(SUM(coins), 0)::bigint,
                COALESCE(SUM(shortfall), 0)::bigint,
                (SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE kind = 'clawback')::bigint
         FROM clawbacks",
    )
    .fetch_one(tx.conn())
    .await?;
    let (account,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(SUM(balance), 0)::bigint FROM accounts WHERE kind = 'clawback'",
    )
    .fetch_one(tx.conn())
    .await?;
    Ok(ClawbackTotals {
        cents,
        coins,
        shortfall,
        matches_journal: account == -shortfall && journal == coins,
    })
}
