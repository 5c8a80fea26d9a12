//! Settling a round: each org posts its side of the receipt in its own ledger, in its own
//! transaction, keyed by (round, order), so re-running a settlement never posts twice and no
//! transaction spans two orgs (the schemas may live on different database nodes).
//!
//! For an order of this org that sold `s` of its own coin and bought `b` of the other org's:
//! the seller's escrow pays `s` to the org's clearing account of its coin (what the other org's
//! members now hold of it), and the org's clearing account of the foreign coin pays `b` to the
//! seller (it goes below zero by what this org's members hold of the other coin, down to the
//! trustline). The two orgs' clearing accounts mirror each other: what A's members hold of B's
//! coin is what B's clearing account holds for A, and the other way round.
//!
//! Progress per org is recorded in `control.exchange_round_settlements` after the org's own
//! transaction commits; a crash in between only means the org is visited again, finds its
//! `exchange_settlements` rows and posts nothing.

use std::collections::HashSet;

use chrono::Utc;
use serde_json::json;

use super::orders::{GoodFor, OrderStatus, escrow_account};
use super::price::Price;
use super::rounds::{Receipt, ReceiptFill, receipt, trustline_floor};
use crate::core::Core;
use crate::domain::governance::outbox::{EventKind, NewEvent};
use crate::domain::ids::{AccountId, CurrencyId, TenantId, UserId};
use crate::domain::ledger::currencies::currency_by_code;
use crate::domain::ledger::queue::post_all;
use crate::domain::ledger::{AccountRef, Authority, TransferKind, TransferOrder};
use crate::domain::money::{Amount, Scale, format_minor};
use crate::domain::tenancy::{SchemaName, TenantTx, retrying};
use crate::error::{Error, Result};

/// The org's clearing account of its own coin (floor 0: it holds what other orgs' members
/// bought), made on first use.
async fn own_clearing(tx: &mut TenantTx, currency: CurrencyId) -> Result<AccountId> {
    let (id,): (AccountId,) = sqlx::query_as(
        "INSERT INTO accounts (currency_id, kind, floor) VALUES ($1, 'clearing', 0)
         ON CONFLICT (currency_id, kind) WHERE kind IN ('escrow', 'clearing')
         DO UPDATE SET floor = accounts.floor
         RETURNING id",
    )
    .bind(currency)
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// Another org's coin as this org holds it: the currency (kind `foreign`, no issuance account)
/// with an account for every member, and its clearing account, whose floor is minus the
/// trustline. Made on first use; the floor follows the listing's trustline (never above the
/// balance it already has).
async fn foreign_clearing(
    tx: &mut TenantTx,
    code: &str,
    scale: Scale,
    floor: i64,
) -> Result<(CurrencyId, AccountId)> {
    sqlx::query(
        "INSERT INTO currencies (code, name, scale, kind) VALUES ($1, $1, $2, 'foreign')
         ON CONFLICT (code) DO NOTHING",
    )
    .bind(code)
    .bind(i16::from(scale.places()))
    .execute(tx.conn())
    .await?;
    let (currency, kind): (CurrencyId, String) =
        sqlx::query_as("SELECT id, kind FROM currencies WHERE code = $1")
            .bind(code)
            .fetch_one(tx.conn())
            .await?;
    if kind != "foreign" {
        return Err(Error::Internal(anyhow::anyhow!(
            "the org has a currency of its own called {code}"
        )));
    }
    sqlx::query(
        "INSERT INTO accounts (currency_id, kind, owner_user_id, floor)
         SELECT $1, 'member', user_id, 0 FROM members
         ON CONFLICT (owner_user_id, currency_id) WHERE kind = 'member' DO NOTHING",
    )
    .bind(currency)
    .execute(tx.conn())
    .await?;
    let (account,): (AccountId,) = sqlx::query_as(
        "INSERT INTO accounts (currency_id, kind, floor) VALUES ($1, 'clearing', $2)
         ON CONFLICT (currency_id, kind) WHERE kind IN ('escrow', 'clearing')
         DO UPDATE SET floor = least(excluded.floor, accounts.balance)
         RETURNING id",
    )
    .bind(currency)
    .bind(floor)
    .fetch_one(tx.conn())
    .await?;
    Ok((currency, account))
}

/// A listed (or once listed) currency's scale, and its listing's trustline.
async fn listing_of(tx: &mut TenantTx, code: &str) -> Result<(Scale, i64)> {
    let (scale, trustline): (i16, i64) = sqlx::query_as(
        "SELECT scale, trustline FROM control.exchange_listings
          WHERE currency_code = $1 ORDER BY delisted_at IS NULL DESC, listed_at DESC LIMIT 1",
    )
    .bind(code)
    .fetch_one(tx.conn())
    .await?;
    let scale = u8::try_from(scale)
        .ok()
        .and_then(|s| Scale::new(s).ok())
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("listed scale {scale}")))?;
    Ok((scale, trustline))
}

#[derive(sqlx::FromRow)]
struct Held {
    id: i64,
    owner_user_id: UserId,
    sell_currency: String,
    buy_currency: String,
    amount: i64,
    sold: i64,
    limit_text: String,
    #[sqlx(try_from = "String")]
    good_for: GoodFor,
    #[sqlx(try_from = "String")]
    status: OrderStatus,
}

/// What became of one order in this round, for the owner's notice.
struct Outcome<'a> {
    held: &'a Held,
    fill: &'a ReceiptFill,
    status: OrderStatus,
}

fn amount(minor: i64) -> Result<Amount> {
    Amount::from_minor(minor).map_err(|e| Error::Internal(anyhow::anyhow!("amount {minor}: {e}")))
}

/// The clearing price as the order's owner reads it: units of what they buy per unit sold.
fn price_for(receipt: &Receipt, fill: &ReceiptFill, sell: Scale, buy: Scale) -> Option<String> {
    let p: Price = receipt.price?;
    let p = if fill.side == "base" { p } else { p.inverse() };
    Some(p.display(sell.places(), buy.places(), 6))
}

impl Core {
    /// Settles round `id` in every org it involves that has not settled it yet. Resumable: an
    /// org that settled is skipped, one that settled without recording it posts nothing again.
    pub async fn settle_round(&self, id: i64) -> Result<()> {
        for tenant in self.unsettled_orgs(id).await? {
            self.settle_round_in(id, tenant).await?;
        }
        Ok(())
    }

    /// The orgs of round `id` whose side is not settled yet.
    pub async fn unsettled_orgs(&self, id: i64) -> Result<Vec<TenantId>> {
        let mut conn = self.pool.acquire().await?;
        let r = receipt(&mut conn, id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no round {id}")))?;
        let done: Vec<(TenantId,)> = sqlx::query_as(
            "SELECT tenant_id FROM control.exchange_round_settlements WHERE round_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let mut tenants: Vec<TenantId> = r.fills.iter().map(|f| f.tenant).collect();
        tenants.sort_by_key(|t| t.0);
        tenants.dedup();
        tenants.retain(|t| !done.iter().any(|(d,)| d == t));
        Ok(tenants)
    }

    /// Rounds with an org still to settle, oldest first (what a worker resumes after a crash).
    pub async fn unsettled_rounds(&self) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT r.id FROM control.exchange_rounds r
              WHERE EXISTS (
                  SELECT 1 FROM jsonb_array_elements(r.fills) f
                   WHERE NOT EXISTS (
                       SELECT 1 FROM control.exchange_round_settlements s
                        WHERE s.round_id = r.id AND s.tenant_id = (f->>'tenant')::bigint))
              ORDER BY r.id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Settles one org's side of round `id`, in that org's own transaction, then records it.
    pub async fn settle_round_in(&self, id: i64, tenant: TenantId) -> Result<()> {
        let r = {
            let mut conn = self.pool.acquire().await?;
            receipt(&mut conn, id)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("no round {id}")))?
        };
        let r = &r;
        retrying(move || async move { self.settle_in_tx(r, tenant).await }).await?;
        sqlx::query(
            "INSERT INTO control.exchange_round_settlements (round_id, tenant_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(tenant)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn settle_in_tx(&self, r: &Receipt, tenant: TenantId) -> Result<Option<()>> {
        let mut tx = TenantTx::begin(&self.pool, &SchemaName::for_tenant(tenant)).await?;
        let done: Vec<(i64,)> =
            sqlx::query_as("SELECT order_id FROM exchange_settlements WHERE round_id = $1")
                .bind(r.id)
                .fetch_all(tx.conn())
                .await?;
        let done: HashSet<i64> = done.into_iter().map(|(o,)| o).collect();
        let fills: Vec<&ReceiptFill> = r
            .fills
            .iter()
            .filter(|f| f.tenant == tenant && !done.contains(&f.order))
            .collect();
        if !fills.is_empty() {
            let started = std::time::Instant::now();
            let ids: Vec<i64> = fills.iter().map(|f| f.order).collect();
            let held: Vec<Held> = sqlx::query_as(
                "SELECT id, owner_user_id, sell_currency, buy_currency, amount, sold, limit_text,
                        good_for, status
                   FROM exchange_orders WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            )
            .bind(&ids)
            .fetch_all(tx.conn())
            .await?;
            let Some(first) = held.first() else {
                return Err(Error::Internal(anyhow::anyhow!(
                    "round {}: the orders are not in org {}",
                    r.id,
                    tenant.0
                )));
            };
            // Every order of this org in the round sells the same coin (the org's own) for the
            // same foreign coin.
            let (sell_code, buy_code) = (first.sell_currency.clone(), first.buy_currency.clone());
            let own = currency_by_code(&mut tx, &sell_code).await?;
            let escrow = escrow_account(&mut tx, own.id).await?;
            let own_clearing = own_clearing(&mut tx, own.id).await?;
            let (buy_scale, _) = listing_of(&mut tx, &buy_code).await?;
            let (_, trustline) = listing_of(&mut tx, &sell_code).await?;
            let (foreign, foreign_clearing) = foreign_clearing(
                &mut tx,
                &buy_code,
                buy_scale,
                trustline_floor(trustline, buy_scale.places())?,
            )
            .await?;

            let by_id: std::collections::HashMap<i64, &Held> =
                held.iter().map(|h| (h.id, h)).collect();
            let mut transfers = Vec::new();
            let mut outcomes = Vec::new();
            for fill in &fills {
                let Some(h) = by_id.get(&fill.order).copied() else {
                    return Err(Error::Internal(anyhow::anyhow!(
                        "round {}: order {} is missing",
                        r.id,
                        fill.order
                    )));
                };
                if h.status != OrderStatus::Open
                    || h.sell_currency != sell_code
                    || h.buy_currency != buy_code
                {
                    return Err(Error::Internal(anyhow::anyhow!(
                        "round {}: order {} is not as the round held it",
                        r.id,
                        h.id
                    )));
                }
                let memo = format!("exchange round {} order {}", r.id, h.id);
                if fill.sold > 0 {
                    transfers.push(TransferOrder {
                        key: format!("exchange:round:{}:order:{}:sold", r.id, h.id),
                        currency: own.id,
                        from: AccountRef::Id(escrow),
                        to: AccountRef::Id(own_clearing),
                        amount: amount(fill.sold)?,
                        kind: TransferKind::Exchange,
                        memo: memo.clone(),
                        actor: h.owner_user_id,
                        authority: Authority::System,
                        credential: None,
                    });
                }
                if fill.bought > 0 {
                    transfers.push(TransferOrder {
                        key: format!("exchange:round:{}:order:{}:bought", r.id, h.id),
                        currency: foreign,
                        from: AccountRef::Id(foreign_clearing),
                        to: AccountRef::Member(h.owner_user_id),
                        amount: amount(fill.bought)?,
                        kind: TransferKind::Exchange,
                        memo: memo.clone(),
                        actor: h.owner_user_id,
                        authority: Authority::System,
                        credential: None,
                    });
                }
                let sold = h
                    .sold
                    .checked_add(fill.sold)
                    .filter(|s| *s <= h.amount)
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("order {}: oversold", h.id)))?;
                let status = if sold == h.amount {
                    OrderStatus::Filled
                } else if h.good_for == GoodFor::Round {
                    // A one-round order: what did not fill goes back to its owner.
                    transfers.push(TransferOrder {
                        key: format!("exchange:order:{}:return", h.id),
                        currency: own.id,
                        from: AccountRef::Id(escrow),
                        to: AccountRef::Member(h.owner_user_id),
                        amount: amount(h.amount - sold)?,
                        kind: TransferKind::Escrow,
                        memo: format!("exchange order {}", h.id),
                        actor: h.owner_user_id,
                        authority: Authority::System,
                        credential: None,
                    });
                    OrderStatus::Returned
                } else {
                    OrderStatus::Open
                };
                outcomes.push(Outcome {
                    held: h,
                    fill,
                    status,
                });
            }
            let prepared = started.elapsed();
            if post_all(&mut tx, &transfers).await?.is_none() {
                return Ok(None);
            }
            let posted = started.elapsed();
            let now = Utc::now();
            let ids: Vec<i64> = outcomes.iter().map(|o| o.held.id).collect();
            let sold: Vec<i64> = outcomes.iter().map(|o| o.fill.sold).collect();
            let bought: Vec<i64> = outcomes.iter().map(|o| o.fill.bought).collect();
            let status: Vec<&str> = outcomes.iter().map(|o| o.status.as_str()).collect();
            let why: Vec<&str> = outcomes.iter().map(|o| o.fill.why.as_str()).collect();
            sqlx::query(
                "UPDATE exchange_orders o
                    SET sold = o.sold + n.sold, bought = o.bought + n.bought, status = n.status,
                        closed_at = CASE WHEN n.status = 'open' THEN NULL ELSE $5 END,
                        cut_at = NULL
                   FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[])
                        AS n(id, sold, bought, status)
                  WHERE o.id = n.id",
            )
            .bind(&ids)
            .bind(&sold)
            .bind(&bought)
            .bind(&status)
            .bind(now)
            .execute(tx.conn())
            .await?;
            sqlx::query(
                "INSERT INTO exchange_settlements (round_id, order_id, sold, bought, why)
                 SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[])",
            )
            .bind(r.id)
            .bind(&ids)
            .bind(&sold)
            .bind(&bought)
            .bind(&why)
            .execute(tx.conn())
            .await?;
            let events: Vec<NewEvent> = outcomes
                .iter()
                .map(|o| notice(r, o, own.scale, buy_scale))
                .collect();
            tell(&mut tx, &events).await?;
            // Where a slow settlement spends its time.
            tracing::info!(
                round = r.id,
                tenant = tenant.0,
                orders = outcomes.len(),
                transfers = transfers.len(),
                prepare_ms = prepared.as_millis(),
                post_ms = (posted - prepared).as_millis(),
                record_ms = (started.elapsed() - posted).as_millis(),
                "exchange round settled here"
            );
        }
        // Orders held by this cut but not in the receipt (a runner raced another) are free again.
        sqlx::query(
            "UPDATE exchange_orders SET cut_at = NULL
              WHERE cut_at = $3 AND sell_currency IN ($1, $2) AND buy_currency IN ($1, $2)",
        )
        .bind(r.pair.base.as_str())
        .bind(r.pair.quote.as_str())
        .bind(r.cut_at)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(Some(()))
    }
}

/// The owner hears what their order did in the round: filled, or why not (in part).
fn notice(r: &Receipt, o: &Outcome<'_>, sell: Scale, buy: Scale) -> NewEvent {
    let h = o.held;
    let kind = if o.status == OrderStatus::Filled {
        EventKind::ExchangeFilled
    } else {
        EventKind::ExchangeUnfilled
    };
    let payload = json!({
        "round_id": r.id,
        "order_id": h.id,
        "reference": o.fill.reference,
        "sell": h.sell_currency,
        "buy": h.buy_currency,
        "offered": format_minor(o.fill.offered, sell),
        "sold": format_minor(o.fill.sold, sell),
        "bought": format_minor(o.fill.bought, buy),
        "rest": format_minor(o.fill.offered - o.fill.sold, sell),
        "price": price_for(r, o.fill, sell, buy),
        "limit": h.limit_text,
        "why": o.fill.why,
        "status": o.status.as_str(),
    });
    NewEvent {
        kind,
        payload,
        to_rooms: false,
        to_users: vec![h.owner_user_id],
        dedup_key: format!("exchange:round:{}:order:{}", r.id, h.id),
    }
}

/// Writes the round's notices of this org in one statement (a round may hold thousands of its
/// orders); as with the outbox's `emit`, a repeated dedup key keeps the first.
async fn tell(tx: &mut TenantTx, events: &[NewEvent]) -> Result<()> {
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let payloads: Vec<String> = events.iter().map(|e| e.payload.to_string()).collect();
    // One recipient each: the order's owner.
    let users: Vec<i64> = events
        .iter()
        .map(|e| e.to_users.first().map_or(0, |u| u.0))
        .collect();
    let keys: Vec<&str> = events.iter().map(|e| e.dedup_key.as_str()).collect();
    sqlx::query(
        "INSERT INTO outbox (kind, payload, to_rooms, to_users, dedup_key)
         SELECT kind, payload::jsonb, false, ARRAY[owner], dedup_key
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
                AS n(kind, payload, owner, dedup_key)
         ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(&kinds)
    .bind(&payloads)
    .bind(&users)
    .bind(&keys)
    .execute(tx.conn())
    .await?;
    Ok(())
}
