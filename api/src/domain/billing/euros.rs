//! The platform euro ledger (control schema): per org a reserve and an "outside" account, every
//! movement one append-only entry in cents between them, under a key from the provider's object
//! id. It mirrors the euros in the org's connected account; it never holds any.

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::domain::ids::TenantId;
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};

text_enum!(
    /// Why euros moved.
    EuroKind {
        /// A member's top-up: outside -> reserve.
        Topup => "topup",
        /// A payout to the org's bank: reserve -> outside.
        Payout => "payout",
        /// A refunded top-up: reserve -> outside.
        Refund => "refund",
        /// A top-up whose dispute was lost: reserve -> outside.
        Dispute => "dispute",
    }
);

/// One movement to write.
#[derive(Debug, Clone)]
pub struct EuroMove<'a> {
    pub tenant: TenantId,
    pub kind: EuroKind,
    pub amount_cents: i64,
    pub provider_ref: &'a str,
    pub key: &'a str,
}

/// Writes a movement once: `Ok(false)` when its key was written before (nothing changes).
/// Runs in the caller's control transaction; the reserve's check refuses going below zero.
pub(crate) async fn post(conn: &mut PgConnection, m: &EuroMove<'_>) -> Result<bool> {
    if m.amount_cents <= 0 {
        return Err(Error::Internal(anyhow::anyhow!(
            "a euro movement of {} cents",
            m.amount_cents
        )));
    }
    sqlx::query(
        "INSERT INTO control.euro_accounts (tenant_id, kind) VALUES ($1, 'reserve'), ($1, 'outside')
         ON CONFLICT (tenant_id, kind) DO NOTHING",
    )
    .bind(m.tenant)
    .execute(&mut *conn)
    .await?;
    // Both accounts locked in id order, so two movements of one org never wait on each other
    // crosswise.
    let accounts: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, kind FROM control.euro_accounts WHERE tenant_id = $1 ORDER BY id FOR UPDATE",
    )
    .bind(m.tenant)
    .fetch_all(&mut *conn)
    .await?;
    let id_of = |kind: &str| {
        accounts
            .iter()
            .find(|(_, k)| k == kind)
            .map(|(id, _)| *id)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("euro account {kind} missing")))
    };
    let (reserve, outside) = (id_of("reserve")?, id_of("outside")?);
    let (from, to) = match m.kind {
        EuroKind::Topup => (outside, reserve),
        EuroKind::Payout | EuroKind::Refund | EuroKind::Dispute => (reserve, outside),
    };
    let written: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO control.euro_entries
             (tenant_id, from_account, to_account, amount_cents, kind, provider_ref, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(m.tenant)
    .bind(from)
    .bind(to)
    .bind(m.amount_cents)
    .bind(m.kind.as_str())
    .bind(m.provider_ref)
    .bind(m.key)
    .fetch_optional(&mut *conn)
    .await?;
    if written.is_none() {
        return Ok(false);
    }
    // bigint arithmetic in PostgreSQL is checked: an overflow is an error, never a wrap.
    sqlx::query(
        "UPDATE control.euro_accounts
         SET balance = balance + CASE WHEN id = $2 THEN $4 ELSE -$4 END
         WHERE id IN ($2, $3)",
    )
    .bind(m.tenant)
    .bind(to)
    .bind(from)
    .bind(m.amount_cents)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// An org's euros as the platform ledger has them, and whether that ledger holds together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EuroCheck {
    /// The reserve, in cents.
    pub reserve_cents: i64,
    /// Every euro that came in (top-ups), in cents.
    pub in_cents: i64,
    /// Every euro that went out (payouts, refunds), in cents.
    pub out_cents: i64,
    /// The org's two balances sum to zero and replaying its entries gives each of them.
    pub balanced: bool,
}

/// Reads and checks an org's euro ledger.
pub(crate) async fn check(conn: &mut PgConnection, tenant: TenantId) -> Result<EuroCheck> {
    let (reserve, sum, replay_ok): (i64, i64, bool) = sqlx::query_as(
        "SELECT COALESCE(SUM(balance) FILTER (WHERE kind = 'reserve'), 0)::bigint,
                COALESCE(SUM(balance), 0)::bigint,
                COALESCE(bool_and(balance = (
                    SELECT COALESCE(SUM(CASE WHEN e.to_account = a.id THEN e.amount_cents
                                             ELSE -e.amount_cents END), 0)
                    FROM control.euro_entries e
                    WHERE e.to_account = a.id OR e.from_account = a.id)), true)
         FROM control.euro_accounts a WHERE a.tenant_id = $1",
    )
    .bind(tenant)
    .fetch_one(&mut *conn)
    .await?;
    let (in_cents, out_cents): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(amount_cents) FILTER (WHERE kind = 'topup'), 0)::bigint,
                COALESCE(SUM(amount_cents) FILTER (WHERE kind <> 'topup'), 0)::bigint
         FROM control.euro_entries WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_one(&mut *conn)
    .await?;
    Ok(EuroCheck {
        reserve_cents: reserve,
        in_cents,
        out_cents,
        balanced: sum == 0 && replay_ok && Some(reserve) == in_cents.checked_sub(out_cents),
    })
}
