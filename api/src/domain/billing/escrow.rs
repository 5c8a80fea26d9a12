//! A cash-out's coins in the org's ledger: into the cash-out escrow account on approval (by a
//! person or by a passed `cashout` proposal), burned (the fee's part to the fund) when the
//! payout is paid, back to the treasurer when it failed. Kept apart from `cashouts` (which opens
//! proposals) so that governance can run a passed proposal's escrow without a circle.

use sqlx::PgConnection;

use super::CashoutId;
use super::euros::{self, EuroKind, EuroMove};
use crate::domain::ids::{AccountId, CurrencyId, TenantId, UserId};
use crate::domain::ledger::queue::post_all;
use crate::domain::ledger::{AccountRef, Authority, TransferKind, TransferOrder};
use crate::domain::money::Amount;
use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Row {
    pub id: CashoutId,
    pub requester_user_id: UserId,
    pub currency_id: CurrencyId,
    pub coins: i64,
    pub fee_coins: i64,
    pub cents: i64,
    pub approval: String,
    pub status: String,
    pub approver_user_id: Option<UserId>,
    pub proposal_id: Option<i64>,
    pub payout_id: Option<String>,
}

pub(crate) const COLUMNS: &str = "id, requester_user_id, currency_id, coins, fee_coins, cents, approval, \
                       status, approver_user_id, proposal_id, payout_id";

pub(crate) async fn lock(tx: &mut TenantTx, id: CashoutId) -> Result<Row> {
    let sql = format!("SELECT {COLUMNS} FROM cashouts WHERE id = $1 FOR UPDATE");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::from(Refusal::CashoutNotFound))
}

/// The one account of `kind` (cash-out escrow or clawback) in a currency, opened on first use.
pub(crate) async fn billing_account(
    tx: &mut TenantTx,
    currency: CurrencyId,
    kind: &str,
    floor: i64,
) -> Result<AccountId> {
    sqlx::query(
        "INSERT INTO accounts (currency_id, kind, floor) VALUES ($1, $2, $3)
         ON CONFLICT (currency_id, kind) WHERE kind IN ('cashout_escrow', 'clawback') DO NOTHING",
    )
    .bind(currency)
    .bind(kind)
    .bind(floor)
    .execute(tx.conn())
    .await?;
    let (id,): (AccountId,) =
        sqlx::query_as("SELECT id FROM accounts WHERE currency_id = $1 AND kind = $2")
            .bind(currency)
            .bind(kind)
            .fetch_one(tx.conn())
            .await?;
    Ok(id)
}

fn order(
    row: &Row,
    step: &str,
    from: AccountRef,
    to: AccountRef,
    amount: i64,
) -> Result<TransferOrder> {
    Ok(TransferOrder {
        key: format!("cashout:{}:{step}", row.id),
        currency: row.currency_id,
        from,
        to,
        amount: Amount::from_minor(amount)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored coins: {e}")))?,
        kind: TransferKind::Cashout,
        memo: format!("cash-out #{}", row.id),
        actor: row.requester_user_id,
        // The second pair of eyes (or the vote) decided this movement.
        authority: Authority::System,
        credential: None,
    })
}

/// Approval: a pending cash-out's coins go into the escrow account. `Ok(None)`: the ledger
/// raced a duplicate key; roll back and retry.
pub(crate) async fn escrow(
    tx: &mut TenantTx,
    id: CashoutId,
    approver: Option<UserId>,
) -> Result<Option<()>> {
    let row = lock(tx, id).await?;
    if row.status != "pending" {
        return Err(Error::from(Refusal::CashoutNotPending { cashout: id }));
    }
    let escrow = billing_account(tx, row.currency_id, "cashout_escrow", 0).await?;
    let move_in = order(
        &row,
        "escrow",
        AccountRef::Member(row.requester_user_id),
        AccountRef::Id(escrow),
        row.coins,
    )?;
    if post_all(tx, &[move_in]).await?.is_none() {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE cashouts SET status = 'escrowed', approver_user_id = $2, approved_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(approver)
    .execute(tx.conn())
    .await?;
    Ok(Some(()))
}

/// A `cashout` proposal's check when it opens: the cash-out waits for a vote.
pub(crate) async fn check_proposable(tx: &mut TenantTx, id: CashoutId) -> Result<()> {
    let row = lock(tx, id).await?;
    if row.status != "pending" {
        return Err(Error::from(Refusal::CashoutNotPending { cashout: id }));
    }
    if row.approval != "proposal" || row.proposal_id.is_some() {
        return Err(Error::from(Refusal::CashoutNotPending { cashout: id }));
    }
    Ok(())
}

/// What a payout event did in the org, for the platform's side.
pub(crate) struct PayoutSettled {
    pub cents: i64,
    /// The cash-out is paid (the euro entry is due) or failed (the hold is to be released).
    pub paid: bool,
}

/// Applies a payout's outcome once, under the cash-out's lock: paid burns the escrow (the fee's
/// part to the fund), failed gives the coins back. A settled cash-out stays as it is.
/// `Ok(None)`: the ledger raced a duplicate key.
pub(crate) async fn settle_payout(
    tx: &mut TenantTx,
    id: CashoutId,
    payout: &str,
    paid: bool,
) -> Result<Option<PayoutSettled>> {
    let row = lock(tx, id).await?;
    match row.status.as_str() {
        "escrowed" | "requested" => {}
        "paid" => {
            return Ok(Some(PayoutSettled {
                cents: row.cents,
                paid: true,
            }));
        }
        "failed" => {
            return Ok(Some(PayoutSettled {
                cents: row.cents,
                paid: false,
            }));
        }
        other => {
            return Err(Error::Internal(anyhow::anyhow!(
                "a payout event for cash-out {id} in state {other}"
            )));
        }
    }
    if row.payout_id.as_deref().is_some_and(|p| p != payout) {
        return Err(Error::Internal(anyhow::anyhow!(
            "cash-out {id} has another payout"
        )));
    }
    let escrow = AccountRef::Id(billing_account(tx, row.currency_id, "cashout_escrow", 0).await?);
    let mut orders = Vec::new();
    if paid {
        let net = row.coins - row.fee_coins;
        orders.push(order(&row, "burn", escrow, AccountRef::Issuance, net)?);
        if row.fee_coins > 0 {
            orders.push(order(&row, "fee", escrow, AccountRef::Fund, row.fee_coins)?);
        }
    } else {
        orders.push(order(
            &row,
            "return",
            escrow,
            AccountRef::Member(row.requester_user_id),
            row.coins,
        )?);
    }
    if post_all(tx, &orders).await?.is_none() {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE cashouts SET status = $2, payout_id = $3, settled_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(if paid { "paid" } else { "failed" })
    .bind(payout)
    .execute(tx.conn())
    .await?;
    Ok(Some(PayoutSettled {
        cents: row.cents,
        paid,
    }))
}

/// The platform's side of a settled payout: the euro entry and the hold, in one control
/// transaction (the caller's).
pub(crate) async fn settle_hold(
    ctl: &mut PgConnection,
    tenant: TenantId,
    id: CashoutId,
    payout: &str,
    settled: &PayoutSettled,
) -> Result<()> {
    if settled.paid {
        let key = format!("cashout:{tenant}:{id}");
        euros::post(
            ctl,
            &EuroMove {
                tenant,
                kind: EuroKind::Payout,
                amount_cents: settled.cents,
                provider_ref: payout,
                key: &key,
            },
        )
        .await?;
    }
    sqlx::query(
        "UPDATE control.cashout_holds SET status = $3, settled_at = now()
         WHERE tenant_id = $1 AND cashout_id = $2 AND status = 'held'",
    )
    .bind(tenant)
    .bind(id)
    .bind(if settled.paid { "paid" } else { "released" })
    .execute(ctl)
    .await?;
    Ok(())
}
