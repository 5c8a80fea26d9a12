//! The joining grant: an amount of the org's default currency that an admin sets (0 = none) and
//! that is issued once to each new member, in the transaction that makes them a member, from the
//! currency's issuance account. Without it a person who joins from chat has nothing, and no chat
//! command can get them anything: their first payment fails (issue 14).
//!
//! Once per member: the issuance's idempotency key is the member's own (`grant:join:<user>`), and
//! a key already in the journal is never posted again, so leaving and joining again, or a changed
//! amount, grants nothing twice.

use super::idempotency::IdempotencyKey;
use super::ids::{CurrencyId, UserId};
use super::ledger::queue::post_all;
use super::ledger::{AccountRef, Authority, Currency, TransferKind, TransferOrder, store};
use super::money::{Amount, format_minor};
use super::tenancy::{Tenant, TenantTx};
use crate::core::Core;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// What a new member of an org is given when they join.
#[derive(Debug, Clone)]
pub struct JoiningGrant {
    /// Minor units of `currency`.
    pub amount: i64,
    pub currency: Currency,
}

impl JoiningGrant {
    /// The amount as plain decimal text ("20.00").
    pub fn decimal(&self) -> String {
        format_minor(self.amount, self.currency.scale)
    }
}

async fn read(tx: &mut TenantTx) -> Result<Option<JoiningGrant>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        amount: i64,
        #[sqlx(flatten)]
        currency: Currency,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT g.amount, c.id, c.code, c.name, c.scale, c.default_credit_limit
         FROM joining_grant g JOIN currencies c ON c.id = g.currency_id",
    )
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|r| JoiningGrant {
        amount: r.amount,
        currency: r.currency,
    }))
}

/// Issues the org's joining grant to `user` inside the caller's transaction (the one that makes
/// them a member), unless there is none or they had it before. Returns what was granted now.
pub(crate) async fn grant_in(tx: &mut TenantTx, user: UserId) -> Result<Option<JoiningGrant>> {
    let Some(grant) = read(tx).await? else {
        return Ok(None);
    };
    let key = IdempotencyKey::scoped("grant", "join", &user.0.to_string())?.into_string();
    // One joining at a time per person, so the look-up below cannot race its own write.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("{}:{key}", tx.schema()))
        .execute(tx.conn())
        .await?;
    if !store::earlier_entries(tx, &[key.as_str()])
        .await?
        .is_empty()
    {
        return Ok(None);
    }
    let amount = Amount::parse(&grant.decimal(), grant.currency.scale)
        .map_err(|e| Error::from(Refusal::amount("joining_grant", e)))?;
    let order = TransferOrder {
        key,
        currency: grant.currency.id,
        from: AccountRef::Issuance,
        to: AccountRef::Member(user),
        amount,
        kind: TransferKind::Issuance,
        memo: String::new(),
        // The joining is what issues it; the admin decided it when they set the grant.
        actor: user,
        authority: Authority::Issuer,
        credential: None,
    };
    match post_all(tx, &[order]).await? {
        Some(_) => Ok(Some(grant)),
        // Only a concurrent writer of this key could cause it, and the lock above rules one out.
        None => Err(Error::Busy),
    }
}

/// Sets the grant (`None`: no grant) inside the caller's transaction.
pub(crate) async fn set_in(tx: &mut TenantTx, grant: Option<(CurrencyId, i64)>) -> Result<()> {
    match grant {
        None => {
            sqlx::query("DELETE FROM joining_grant")
                .execute(tx.conn())
                .await?;
        }
        Some((currency, minor)) => {
            sqlx::query(
                "INSERT INTO joining_grant (currency_id, amount) VALUES ($1, $2)
                 ON CONFLICT (only_one) DO UPDATE
                 SET currency_id = EXCLUDED.currency_id, amount = EXCLUDED.amount, updated_at = now()",
            )
            .bind(currency)
            .bind(minor)
            .execute(tx.conn())
            .await?;
        }
    }
    Ok(())
}

impl Core {
    /// The org's joining grant, if it has one: for `/help`, the org's view, a newcomer's welcome.
    pub async fn joining_grant(&self, tenant: &Tenant) -> Result<Option<JoiningGrant>> {
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        read(&mut tx).await
    }
}
