//! Top-ups: the org's terms (rate, limits), starting a checkout for a member, and settling it
//! when the provider says the money is final or failed. Each top-up is one row whose state
//! (open -> paid | failed) changes only under its row lock; coins are issued in the same
//! transaction that marks it paid, under the journal key `topup:<checkout session>`, so a
//! checkout session issues coins at most once however often and in whatever order its events
//! come.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CheckoutRequest, TopupId};
use crate::core::Core;
use crate::domain::governance::outbox::{self, EventKind, NewEvent};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::ids::{CurrencyId, TenantId, TransferId, UserId};
use crate::domain::ledger::currencies::{coin_by_code, currency_map};
use crate::domain::ledger::queue::post_all;
use crate::domain::ledger::{AccountRef, Authority, CurrencyCode, TransferKind, TransferOrder};
use crate::domain::money::{Amount, Scale, format_minor, parse_amount};
use crate::domain::orgs::Member;
use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};
use crate::refusal::{Money, Refusal};

/// From this many members on, the rate changes only by proposal (as the rules do).
pub const RATE_BY_PROPOSAL_FROM: i64 = 3;
/// The most one top-up may be: 10,000 euros.
pub const MAX_TOPUP_CENTS: i64 = 1_000_000;
/// The largest number on either side of the rate.
pub const MAX_RATE_TERM: i64 = 1_000_000;

pub(crate) fn euro_scale() -> Scale {
    let Ok(scale) = Scale::new(2) else {
        unreachable!("2 decimal places is a valid scale")
    };
    scale
}

fn euros(cents: i64) -> Money {
    Money::new(cents, euro_scale())
}

/// The org's terms as asked for: euro amounts as decimal text.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTopupTerms {
    /// The coin members get.
    pub currency: String,
    /// `rate_coins` whole coins for every `rate_euros` euros.
    pub rate_coins: i64,
    pub rate_euros: i64,
    /// Euros, e.g. "5.00".
    pub min: String,
    pub max: String,
    /// The most one member may top up in a calendar month, in euros.
    pub monthly_max: String,
}

/// The org's terms as they stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TopupTerms {
    pub currency: CurrencyCode,
    pub rate_coins: i64,
    pub rate_euros: i64,
    pub min_cents: i64,
    pub max_cents: i64,
    pub monthly_max_cents: i64,
}

/// A started top-up: where the member pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TopupLink {
    pub topup: TopupId,
    pub url: String,
    pub amount_cents: i64,
    /// The coins it buys, in the currency's scale.
    pub coins: String,
    pub currency: CurrencyCode,
}

/// A rate checked against its bounds.
pub(crate) fn check_rate(coins: i64, euros: i64) -> Result<()> {
    for (field, value) in [("rate_coins", coins), ("rate_euros", euros)] {
        if !(1..=MAX_RATE_TERM).contains(&value) {
            return Err(Error::from(Refusal::LimitOutOfRange {
                field,
                min: 1,
                max: MAX_RATE_TERM,
            }));
        }
    }
    Ok(())
}

/// What `cents` buy at `coins`/`euros` in a currency of `scale`, in its minor units; refused when
/// that is not a whole number of minor units (nothing is rounded, as with any amount).
pub fn coins_for(cents: i64, coins: i64, euros: i64, scale: Scale) -> Result<i64> {
    let factor = 10_i128.pow(u32::from(scale.places()));
    let numerator = i128::from(cents)
        .checked_mul(i128::from(coins))
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| Error::from(Refusal::AmountTooLarge { field: "amount" }))?;
    let denominator = i128::from(euros) * 100;
    if denominator == 0 || numerator % denominator != 0 {
        return Err(Error::from(Refusal::TopupNotWholeCoins { field: "amount" }));
    }
    i64::try_from(numerator / denominator)
        .map_err(|_| Error::from(Refusal::AmountTooLarge { field: "amount" }))
}

fn require_treasurer(member: &Member) -> Result<()> {
    if member.role.sees_all_accounts() {
        Ok(())
    } else {
        Err(Error::from(Refusal::NotTreasurer))
    }
}

#[derive(sqlx::FromRow)]
struct TermsRow {
    currency_id: CurrencyId,
    rate_coins: i64,
    rate_euros: i64,
    min_cents: i64,
    max_cents: i64,
    monthly_max_cents: i64,
}

async fn load(tx: &mut TenantTx) -> Result<Option<TermsRow>> {
    Ok(sqlx::query_as(
        "SELECT currency_id, rate_coins, rate_euros, min_cents, max_cents, monthly_max_cents
         FROM topup_settings",
    )
    .fetch_optional(tx.conn())
    .await?)
}

async fn shown(tx: &mut TenantTx, row: TermsRow) -> Result<TopupTerms> {
    let currency = currency_map(tx)
        .await?
        .remove(&row.currency_id)
        .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
    Ok(TopupTerms {
        currency: currency.code,
        rate_coins: row.rate_coins,
        rate_euros: row.rate_euros,
        min_cents: row.min_cents,
        max_cents: row.max_cents,
        monthly_max_cents: row.monthly_max_cents,
    })
}

/// Sets the rate (a passed proposal does this). Refused when the org has no terms yet.
pub(crate) async fn set_rate(tx: &mut TenantTx, coins: i64, euros: i64) -> Result<()> {
    check_rate(coins, euros)?;
    let changed = sqlx::query(
        "UPDATE topup_settings SET rate_coins = $1, rate_euros = $2, updated_at = now()",
    )
    .bind(coins)
    .bind(euros)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::from(Refusal::TopupsNotSetUp));
    }
    Ok(())
}

/// The org's coin and rate (coins per euros), if it has terms.
pub(crate) async fn rate(tx: &mut TenantTx) -> Result<Option<(CurrencyId, i64, i64)>> {
    Ok(load(tx)
        .await?
        .map(|t| (t.currency_id, t.rate_coins, t.rate_euros)))
}

/// Whether the org has top-up terms (a rate proposal needs them).
pub(crate) async fn has_terms(tx: &mut TenantTx) -> Result<bool> {
    Ok(load(tx).await?.is_some())
}

/// The euros of one top-up that the provider says were paid, as settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settled {
    pub amount_cents: i64,
    /// Coins were issued now (false: they had been before, or the amounts disagreed).
    pub issued_now: bool,
    /// The amount the provider reported differs from the top-up's: nothing was issued.
    pub mismatch: bool,
}

#[derive(sqlx::FromRow)]
struct TopupRow {
    member_user_id: UserId,
    currency_id: CurrencyId,
    amount_cents: i64,
    coins: i64,
    checkout_session: Option<String>,
    status: String,
}

async fn lock(tx: &mut TenantTx, topup: TopupId) -> Result<TopupRow> {
    sqlx::query_as(
        "SELECT member_user_id, currency_id, amount_cents, coins, checkout_session, status
         FROM topups WHERE id = $1 FOR UPDATE",
    )
    .bind(topup)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::Internal(anyhow::anyhow!("top-up {topup} does not exist")))
}

/// Issues a paid top-up's coins, once: under the row lock, an open top-up becomes paid with its
/// issuance in this transaction; a paid one stays as it is. The session must be the top-up's
/// own (or the first the top-up learns of, when the checkout's answer was lost in a crash).
/// `Ok(None)`: the ledger raced a duplicate key; roll back and retry.
pub(crate) async fn settle_paid(
    tx: &mut TenantTx,
    topup: TopupId,
    session: &str,
    amount_cents: i64,
    payment_intent: Option<&str>,
) -> Result<Option<Settled>> {
    let row = lock(tx, topup).await?;
    if let Some(intent) = payment_intent {
        // Refunds and disputes name the payment; keep it however often the event comes.
        sqlx::query(
            "UPDATE topups SET payment_intent = $2 WHERE id = $1 AND payment_intent IS NULL",
        )
        .bind(topup)
        .bind(intent)
        .execute(tx.conn())
        .await?;
    }
    if row
        .checkout_session
        .as_deref()
        .is_some_and(|s| s != session)
    {
        return Err(Error::Internal(anyhow::anyhow!(
            "top-up {topup} has another checkout session"
        )));
    }
    let unchanged = |mismatch| {
        Some(Settled {
            amount_cents: row.amount_cents,
            issued_now: false,
            mismatch,
        })
    };
    if row.status != "open" {
        return Ok(unchanged(false));
    }
    if amount_cents != row.amount_cents {
        tracing::warn!(
            topup,
            "a paid checkout's amount is not its top-up's: nothing issued"
        );
        return Ok(unchanged(true));
    }
    let order = TransferOrder {
        key: format!("topup:{session}"),
        currency: row.currency_id,
        from: AccountRef::Issuance,
        to: AccountRef::Member(row.member_user_id),
        amount: Amount::from_minor(row.coins)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored coins: {e}")))?,
        kind: TransferKind::Issuance,
        memo: format!("top-up #{topup}"),
        actor: row.member_user_id,
        authority: Authority::Issuer,
        credential: None,
    };
    let Some(transfers) = post_all(tx, &[order]).await? else {
        return Ok(None);
    };
    let transfer: Option<TransferId> = transfers.first().map(|t| t.id);
    sqlx::query(
        "UPDATE topups SET status = 'paid', transfer_id = $2, checkout_session = $3,
                settled_at = now()
         WHERE id = $1",
    )
    .bind(topup)
    .bind(transfer)
    .bind(session)
    .execute(tx.conn())
    .await?;
    let currency = currency_map(tx).await?.remove(&row.currency_id);
    outbox::emit(
        tx,
        NewEvent {
            kind: EventKind::TopupPaid,
            payload: serde_json::json!({
                "topup_id": topup,
                "euros": format_minor(row.amount_cents, euro_scale()),
                "amount": currency.as_ref().map(|c| format_minor(row.coins, c.scale)),
                "currency": currency.as_ref().map(|c| c.code.as_str()),
            }),
            to_rooms: false,
            to_users: vec![row.member_user_id],
            dedup_key: format!("topup:{topup}:paid"),
        },
    )
    .await?;
    Ok(Some(Settled {
        amount_cents: row.amount_cents,
        issued_now: true,
        mismatch: false,
    }))
}

/// A delayed payment failed: an open top-up becomes failed (nothing issued) and its member is
/// told; a paid or failed one stays as it is.
pub(crate) async fn settle_failed(
    tx: &mut TenantTx,
    topup: TopupId,
    session: &str,
) -> Result<bool> {
    let row = lock(tx, topup).await?;
    if row.status != "open"
        || row
            .checkout_session
            .as_deref()
            .is_some_and(|s| s != session)
    {
        return Ok(false);
    }
    sqlx::query("UPDATE topups SET status = 'failed', settled_at = now() WHERE id = $1")
        .bind(topup)
        .execute(tx.conn())
        .await?;
    outbox::emit(
        tx,
        NewEvent {
            kind: EventKind::TopupFailed,
            payload: serde_json::json!({
                "topup_id": topup,
                "euros": format_minor(row.amount_cents, euro_scale()),
            }),
            to_rooms: false,
            to_users: vec![row.member_user_id],
            dedup_key: format!("topup:{topup}:failed"),
        },
    )
    .await?;
    Ok(true)
}

impl Core {
    /// The org's top-up terms; `None` while it has set none. Every member may read them.
    pub async fn topup_terms(&self, member: &Member) -> Result<Option<TopupTerms>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        match load(&mut tx).await? {
            Some(row) => Ok(Some(shown(&mut tx, row).await?)),
            None => Ok(None),
        }
    }

    /// A treasurer or admin sets the terms. The first terms and the limits are set directly; a
    /// new rate too while the org has fewer than three members, by proposal after that.
    pub async fn set_topup_terms(&self, member: &Member, new: NewTopupTerms) -> Result<TopupTerms> {
        require_treasurer(member)?;
        check_rate(new.rate_coins, new.rate_euros)?;
        let mut cents = [0_i64; 3];
        for (slot, (field, text)) in cents.iter_mut().zip([
            ("min", &new.min),
            ("max", &new.max),
            ("monthly_max", &new.monthly_max),
        ]) {
            let amount = parse_amount(field, text, euro_scale())?.minor();
            let limit = if field == "monthly_max" {
                MAX_TOPUP_CENTS * 100
            } else {
                MAX_TOPUP_CENTS
            };
            if amount > limit {
                return Err(Error::from(Refusal::AmountAboveLimit {
                    field,
                    max: euros(limit),
                }));
            }
            *slot = amount;
        }
        let [min, max, monthly] = cents;
        if max < min {
            return Err(Error::from(Refusal::TopupLimitsInconsistent {
                field: "max",
            }));
        }
        if monthly < max {
            return Err(Error::from(Refusal::TopupLimitsInconsistent {
                field: "monthly_max",
            }));
        }
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let currency = coin_by_code(&mut tx, &new.currency).await?;
        // The settings row is locked, so two treasurers' changes cannot both pass the check.
        let before: Option<(i64, i64)> =
            sqlx::query_as("SELECT rate_coins, rate_euros FROM topup_settings FOR UPDATE")
                .fetch_optional(tx.conn())
                .await?;
        if let Some((coins, euros)) = before
            && (coins, euros) != (new.rate_coins, new.rate_euros)
        {
            let (members,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM control.memberships WHERE tenant_id = $1")
                    .bind(member.tenant.id)
                    .fetch_one(tx.conn())
                    .await?;
            if members >= RATE_BY_PROPOSAL_FROM {
                return Err(Error::from(Refusal::TopupRateByProposal {
                    members: RATE_BY_PROPOSAL_FROM,
                }));
            }
        }
        sqlx::query(
            "INSERT INTO topup_settings
                 (id, currency_id, rate_coins, rate_euros, min_cents, max_cents, monthly_max_cents)
             VALUES (true, $1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET currency_id = $1, rate_coins = $2, rate_euros = $3,
                 min_cents = $4, max_cents = $5, monthly_max_cents = $6, updated_at = now()",
        )
        .bind(currency.id)
        .bind(new.rate_coins)
        .bind(new.rate_euros)
        .bind(min)
        .bind(max)
        .bind(monthly)
        .execute(tx.conn())
        .await?;
        let row = load(&mut tx)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("terms just written")))?;
        let terms = shown(&mut tx, row).await?;
        tx.commit().await?;
        Ok(terms)
    }

    /// A member starts a top-up of `amount` euros and gets the page to pay on. A retry with the
    /// same key gets the same page; the same key with another amount is a conflict.
    pub async fn start_topup(
        &self,
        member: &Member,
        amount: &str,
        key: IdempotencyKey,
    ) -> Result<TopupLink> {
        let provider = self
            .payments
            .clone()
            .ok_or_else(|| Error::from(Refusal::TopupsOff))?;
        let cents = parse_amount("amount", amount, euro_scale())?.minor();
        let account = super::accounts::ready_account(&self.pool, member.tenant.id).await?;
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let terms = load(&mut tx)
            .await?
            .ok_or_else(|| Error::from(Refusal::TopupsNotSetUp))?;
        // One member's top-ups one at a time, so two cannot both fit under the monthly limit.
        sqlx::query("SELECT 1 FROM members WHERE user_id = $1 FOR UPDATE")
            .bind(member.user.id)
            .execute(tx.conn())
            .await?;
        let earlier: Option<(TopupId, i64, Option<String>)> = sqlx::query_as(
            "SELECT id, amount_cents, checkout_url FROM topups WHERE idempotency_key = $1",
        )
        .bind(key.as_str())
        .fetch_optional(tx.conn())
        .await?;
        let currency = currency_map(&mut tx)
            .await?
            .remove(&terms.currency_id)
            .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
        let (topup, coins) = match earlier {
            Some((_, earlier_cents, _)) if earlier_cents != cents => {
                return Err(Error::IdempotencyConflict);
            }
            Some((id, _, Some(url))) => {
                let coins: (i64,) = sqlx::query_as("SELECT coins FROM topups WHERE id = $1")
                    .bind(id)
                    .fetch_one(tx.conn())
                    .await?;
                return Ok(TopupLink {
                    topup: id,
                    url,
                    amount_cents: cents,
                    coins: format_minor(coins.0, currency.scale),
                    currency: currency.code,
                });
            }
            // Started before, but the page was never saved (a crash or a provider error): ask
            // the provider again under the same key.
            Some((id, _, None)) => {
                let (coins,): (i64,) = sqlx::query_as("SELECT coins FROM topups WHERE id = $1")
                    .bind(id)
                    .fetch_one(tx.conn())
                    .await?;
                (id, coins)
            }
            None => {
                if cents < terms.min_cents {
                    return Err(Error::from(Refusal::TopupBelowMinimum {
                        field: "amount",
                        min: euros(terms.min_cents),
                    }));
                }
                if cents > terms.max_cents {
                    return Err(Error::from(Refusal::TopupAboveMaximum {
                        field: "amount",
                        max: euros(terms.max_cents),
                    }));
                }
                // Paid this month, and open ones that may still be paid (a checkout lives a day).
                let (used,): (i64,) = sqlx::query_as(
                    "SELECT COALESCE(SUM(amount_cents), 0)::bigint FROM topups
                     WHERE member_user_id = $1 AND created_at >= date_trunc('month', now())
                       AND (status = 'paid'
                            OR (status = 'open' AND created_at > now() - interval '1 day'))",
                )
                .bind(member.user.id)
                .fetch_one(tx.conn())
                .await?;
                let left = terms.monthly_max_cents.saturating_sub(used).max(0);
                if cents > left {
                    return Err(Error::from(Refusal::TopupMonthlyLimitReached {
                        max: euros(terms.monthly_max_cents),
                        left: euros(left),
                    }));
                }
                let coins = coins_for(cents, terms.rate_coins, terms.rate_euros, currency.scale)?;
                let (id,): (TopupId,) = sqlx::query_as(
                    "INSERT INTO topups (member_user_id, currency_id, amount_cents, rate_coins,
                                         rate_euros, coins, idempotency_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(member.user.id)
                .bind(terms.currency_id)
                .bind(cents)
                .bind(terms.rate_coins)
                .bind(terms.rate_euros)
                .bind(coins)
                .bind(key.as_str())
                .fetch_one(tx.conn())
                .await?;
                (id, coins)
            }
        };
        tx.commit().await?;

        let shown_coins = format_minor(coins, currency.scale);
        let request = CheckoutRequest {
            tenant: member.tenant.id,
            topup,
            account,
            amount_cents: cents,
            description: format!(
                "{} {} – {}",
                shown_coins,
                currency.code.as_str(),
                member.tenant.name
            ),
            idempotency_key: format!("topup:{}:{topup}", member.tenant.id),
            language: member.tenant.language,
        };
        let checkout = provider.checkout(&request).await.map_err(|e| {
            tracing::warn!(tenant = %member.tenant.id, topup, error = %e, "checkout failed");
            Error::Unavailable {
                retry_after_secs: 30,
            }
        })?;
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        sqlx::query(
            "UPDATE topups SET checkout_session = $2, checkout_url = $3
             WHERE id = $1 AND checkout_session IS NULL",
        )
        .bind(topup)
        .bind(&checkout.session)
        .bind(&checkout.url)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(TopupLink {
            topup,
            url: checkout.url,
            amount_cents: cents,
            coins: shown_coins,
            currency: currency.code,
        })
    }

    /// Per org: coins issued by paid top-ups, and what those top-ups paid in euros (cents). With
    /// the euro ledger this checks that coins from euros match the euros at the rates used.
    pub async fn topup_totals(&self, member: &Member) -> Result<TopupTotals> {
        require_treasurer(member)?;
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        totals(&mut tx).await
    }
}

/// Paid top-ups in sum, checked against the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TopupTotals {
    pub paid: i64,
    pub euros_cents: i64,
    /// Coins the paid top-ups bought, in minor units (every currency's together).
    pub coins: i64,
    /// The journal holds exactly these issuances, each at its top-up's rate.
    pub matches_journal: bool,
}

pub(crate) async fn totals(tx: &mut TenantTx) -> Result<TopupTotals> {
    let (paid, euros_cents, coins, mismatched): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), COALESCE(SUM(t.amount_cents), 0)::bigint,
                COALESCE(SUM(t.coins), 0)::bigint,
                count(*) FILTER (WHERE j.amount IS DISTINCT FROM t.coins
                                 OR j.idempotency_key <> 'topup:' || t.checkout_session
                                 OR t.coins::numeric * t.rate_euros * 100
                                    <> t.amount_cents::numeric * t.rate_coins * power(10::numeric, c.scale))
         FROM topups t
         JOIN currencies c ON c.id = t.currency_id
         LEFT JOIN transfers j ON j.id = t.transfer_id
         WHERE t.status = 'paid'",
    )
    .fetch_one(tx.conn())
    .await?;
    let (journal,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM transfers WHERE idempotency_key LIKE 'topup:%'")
            .fetch_one(tx.conn())
            .await?;
    Ok(TopupTotals {
        paid,
        euros_cents,
        coins,
        matches_journal: mismatched == 0 && journal == paid,
    })
}

/// The org of a tenant id, for the event job (no member acts there).
pub(crate) fn tenant_of(id: TenantId) -> crate::domain::tenancy::SchemaName {
    crate::domain::tenancy::SchemaName::for_tenant(id)
}
