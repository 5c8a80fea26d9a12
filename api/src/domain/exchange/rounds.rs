//! Rounds: per pair of listed currencies a batch auction every interval, cut at a random moment
//! in the last part of the window (nobody can time an order to it).
//!
//! At the cut each home org's open orders of the pair are held by the round, in that org's own
//! transaction (a held order cannot be cancelled), and read; the matcher clears them with a seed
//! from the round; then the round's receipt is written to the control schema, before any org
//! settles its side ([`super::settlement`]). Every posting derives from the receipt, so a
//! settlement can be re-run, resumed or done on another node without a transaction spanning two
//! orgs.
//!
//! Limits are applied before the receipt is written, so that settling it can never be refused:
//! when the fills of one direction (one home org's members selling their coin) would take more
//! of the coin out than its listing allows per round, or bring in more of the other coin than
//! the org's trustline leaves room for, that direction stops for the round and the pair is
//! cleared again without it; its orders stay open (or go back) and their owners are told why.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::book::{Home, Open, Pair, home_of};
use super::matcher::{BookOrder, Clearing, Side, Why, clear};
use super::price::Price;
use crate::core::Core;
use crate::domain::ids::TenantId;
use crate::domain::ledger::CurrencyCode;
use crate::domain::tenancy::{SchemaName, TenantTx};
use crate::error::{Error, Result};

/// How often each pair trades. Under `coinsence up` a minute, otherwise an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundConfig {
    /// The window of a new pair's rounds.
    pub interval: Duration,
}

impl Default for RoundConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(3600),
        }
    }
}

/// The receipt's reason when an order gave less than it offered (text, as published).
fn why_text(why: Why) -> &'static str {
    match why {
        Why::Filled => "filled",
        Why::NoCounterparty => "no_counterparty",
        Why::LimitNotReached => "limit_not_reached",
        Why::Rationed => "rationed",
        Why::OddLot => "odd_lot",
    }
}

/// The direction stopped because the org's trustline for the other coin is used up.
pub const WHY_TRUSTLINE: &str = "trustline";
/// The direction stopped because more would leave the org this round than its listing allows.
pub const WHY_OUTFLOW: &str = "outflow_limit";

fn side_text(side: Side) -> &'static str {
    match side {
        Side::SellBase => "base",
        Side::SellQuote => "quote",
    }
}

/// One order's result as the receipt records it (the `fills` of `control.exchange_rounds`):
/// the org and the org's order id, never the member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptFill {
    pub tenant: TenantId,
    pub order: i64,
    /// "base" or "quote": which currency of the pair the order sold.
    pub side: String,
    /// What the order offered at the cut (its amount not yet sold).
    pub offered: i64,
    pub sold: i64,
    pub bought: i64,
    pub why: String,
    /// What the receipt publishes instead of the org and the order ([`fill_reference`]).
    pub reference: String,
}

/// The reference published for a fill instead of its org and order: a digest over the order's
/// private parts (its idempotency key and creation time) and the round's cut, so that nobody
/// but the order's owner (whose fills show it) can tell whose fill it is, nor link one order's
/// fills across rounds.
pub(crate) fn fill_reference(
    tenant: TenantId,
    order: i64,
    key: &str,
    created_at: DateTime<Utc>,
    cut_at: DateTime<Utc>,
) -> String {
    let digest = Sha256::digest(format!(
        "exchange-fill|{}|{order}|{key}|{}|{}",
        tenant.0,
        created_at.timestamp_micros(),
        cut_at.timestamp_micros()
    ));
    hex::encode(&digest[..16])
}

/// A round's receipt as stored: immutable once written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: i64,
    pub pair: Pair,
    pub cut_at: DateTime<Utc>,
    /// Quote minor units per base minor unit; `None` when nothing crossed.
    pub price: Option<Price>,
    pub base_offered: i64,
    pub quote_offered: i64,
    pub base_traded: i64,
    pub quote_traded: i64,
    pub base_unfilled: i64,
    pub quote_unfilled: i64,
    pub orders_hash: Vec<u8>,
    pub fills: Vec<ReceiptFill>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    id: i64,
    base: String,
    quote: String,
    cut_at: DateTime<Utc>,
    price_num: Option<i64>,
    price_den: Option<i64>,
    base_offered: i64,
    quote_offered: i64,
    base_traded: i64,
    quote_traded: i64,
    base_unfilled: i64,
    quote_unfilled: i64,
    orders_hash: Vec<u8>,
    fills: String,
    created_at: DateTime<Utc>,
}

const RECEIPT_COLUMNS: &str = "id, base, quote, cut_at, price_num, price_den, base_offered,
    quote_offered, base_traded, quote_traded, base_unfilled, quote_unfilled, orders_hash,
    fills::text AS fills, created_at";

impl TryFrom<ReceiptRow> for Receipt {
    type Error = Error;
    fn try_from(r: ReceiptRow) -> Result<Self> {
        let price = match (r.price_num, r.price_den) {
            (Some(n), Some(d)) => Some(
                u64::try_from(n)
                    .ok()
                    .zip(u64::try_from(d).ok())
                    .and_then(|(n, d)| Price::new(n, d).ok())
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("round {}: price", r.id)))?,
            ),
            _ => None,
        };
        Ok(Self {
            id: r.id,
            pair: Pair {
                base: CurrencyCode::parse(&r.base)?,
                quote: CurrencyCode::parse(&r.quote)?,
            },
            cut_at: r.cut_at,
            price,
            base_offered: r.base_offered,
            quote_offered: r.quote_offered,
            base_traded: r.base_traded,
            quote_traded: r.quote_traded,
            base_unfilled: r.base_unfilled,
            quote_unfilled: r.quote_unfilled,
            orders_hash: r.orders_hash,
            fills: serde_json::from_str(&r.fills).map_err(|e| Error::Internal(e.into()))?,
            created_at: r.created_at,
        })
    }
}

/// The receipt of round `id`.
pub(crate) async fn receipt(conn: &mut sqlx::PgConnection, id: i64) -> Result<Option<Receipt>> {
    let row: Option<ReceiptRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RECEIPT_COLUMNS} FROM control.exchange_rounds WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Receipt::try_from).transpose()
}

/// The newest receipts first (of one pair, or of every pair), at most `limit`, older than
/// round `before` when given.
pub(crate) async fn receipts(
    conn: &mut sqlx::PgConnection,
    pair: Option<&Pair>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Receipt>> {
    let rows: Vec<ReceiptRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RECEIPT_COLUMNS} FROM control.exchange_rounds
          WHERE ($1::text IS NULL OR (base = $1 AND quote = $2))
            AND ($3::bigint IS NULL OR id < $3)
          ORDER BY id DESC LIMIT $4"
    )))
    .bind(pair.map(|p| p.base.as_str()))
    .bind(pair.map(|p| p.quote.as_str()))
    .bind(before)
    .bind(limit.clamp(1, 100))
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Receipt::try_from).collect()
}

/// A listing's limits.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// The most of each foreign coin the org's clearing account may hold, whole units.
    trustline: i64,
    /// The most of the coin that may leave the org in one round, minor units.
    max_out: i64,
}

async fn limits(conn: &mut sqlx::PgConnection, code: &CurrencyCode) -> Result<Limits> {
    let (trustline, max_out): (i64, i64) = sqlx::query_as(
        "SELECT trustline, max_out_per_round FROM control.exchange_listings
          WHERE currency_code = $1 AND delisted_at IS NULL",
    )
    .bind(code.as_str())
    .fetch_one(conn)
    .await?;
    Ok(Limits { trustline, max_out })
}

/// The trustline as a floor of the foreign coin's clearing account (minor units, negative).
pub(crate) fn trustline_floor(trustline: i64, foreign_scale: u8) -> Result<i64> {
    10i64
        .checked_pow(u32::from(foreign_scale))
        .and_then(|unit| trustline.checked_mul(unit))
        .and_then(i64::checked_neg)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("trustline {trustline} overflows")))
}

/// What one home org brings to the round: its held orders and how much of the other coin its
/// clearing account can still take in.
struct HeldSide {
    open: Vec<Open>,
    /// Each held order's fill reference, by order id.
    refs: HashMap<i64, String>,
    room_in: i64,
}

/// An order as the cut holds it.
#[derive(sqlx::FromRow)]
struct HeldRow {
    id: i64,
    sell_currency: String,
    /// What is not sold yet.
    left_: i64,
    limit_num: i64,
    limit_den: i64,
    idempotency_key: String,
    created_at: DateTime<Utc>,
}

/// Holds the open orders of the pair in one org for the round cut at `cut_at` and reads them,
/// with the org's remaining trustline for `foreign` (in that org's own transaction).
async fn hold_in(
    core: &Core,
    tenant: TenantId,
    pair: &Pair,
    cut_at: DateTime<Utc>,
    foreign: &CurrencyCode,
    trust_floor: i64,
) -> Result<HeldSide> {
    let mut tx = TenantTx::begin(&core.pool, &SchemaName::for_tenant(tenant)).await?;
    // An order still held by an earlier cut whose receipt was never written (the runner died
    // between the cut and the receipt) is free again: that round never happened.
    let held: Vec<(DateTime<Utc>,)> = sqlx::query_as(
        "SELECT DISTINCT cut_at FROM exchange_orders
          WHERE status = 'open' AND cut_at IS NOT NULL AND cut_at <> $3
            AND sell_currency IN ($1, $2) AND buy_currency IN ($1, $2)",
    )
    .bind(pair.base.as_str())
    .bind(pair.quote.as_str())
    .bind(cut_at)
    .fetch_all(tx.conn())
    .await?;
    let held: Vec<DateTime<Utc>> = held.into_iter().map(|(t,)| t).collect();
    let with_receipt: Vec<(DateTime<Utc>,)> = sqlx::query_as(
        "SELECT cut_at FROM control.exchange_rounds
          WHERE base = $1 AND quote = $2 AND cut_at = ANY($3)",
    )
    .bind(pair.base.as_str())
    .bind(pair.quote.as_str())
    .bind(&held)
    .fetch_all(tx.conn())
    .await?;
    let stale: Vec<DateTime<Utc>> = held
        .into_iter()
        .filter(|t| !with_receipt.iter().any(|(r,)| r == t))
        .collect();
    let rows: Vec<HeldRow> = sqlx::query_as(
        "UPDATE exchange_orders SET cut_at = $3
          WHERE status = 'open' AND amount > sold
            AND sell_currency IN ($1, $2) AND buy_currency IN ($1, $2)
            AND (cut_at IS NULL OR cut_at = $3 OR cut_at = ANY($4))
         RETURNING id, sell_currency, amount - sold AS left_, limit_num, limit_den,
                   idempotency_key, created_at",
    )
    .bind(pair.base.as_str())
    .bind(pair.quote.as_str())
    .bind(cut_at)
    .bind(&stale)
    .fetch_all(tx.conn())
    .await?;
    // What the org's clearing account of the foreign coin holds; an org with a currency of its
    // own by that code (not listed, or codes would be unique) cannot hold the foreign one: no
    // room at all.
    let found: Option<(String, Option<i64>)> = sqlx::query_as(
        "SELECT c.kind, a.balance FROM currencies c
           LEFT JOIN accounts a ON a.currency_id = c.id AND a.kind = 'clearing'
          WHERE c.code = $1",
    )
    .bind(foreign.as_str())
    .fetch_optional(tx.conn())
    .await?;
    tx.commit().await?;
    let balance = match found {
        None => 0,
        Some((kind, balance)) if kind == "foreign" => balance.unwrap_or(0),
        Some(_) => trust_floor,
    };
    let refs = rows
        .iter()
        .map(|r| {
            let reference = fill_reference(tenant, r.id, &r.idempotency_key, r.created_at, cut_at);
            (r.id, reference)
        })
        .collect();
    let mut open = rows
        .into_iter()
        .map(|r| {
            let (order, sell, left, num, den) =
                (r.id, r.sell_currency, r.left_, r.limit_num, r.limit_den);
            let limit = u64::try_from(num)
                .ok()
                .zip(u64::try_from(den).ok())
                .and_then(|(n, d)| Price::new(n, d).ok())
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("order {order}: stored limit")))?;
            Ok(Open {
                tenant,
                order,
                side: if sell == pair.base.as_str() {
                    Side::SellBase
                } else {
                    Side::SellQuote
                },
                amount: left,
                limit,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    open.sort_by_key(|o| o.order);
    Ok(HeldSide {
        open,
        refs,
        // The clearing account may go down to the floor: what is left above it.
        room_in: balance.saturating_sub(trust_floor).max(0),
    })
}

/// The seed of a round's draws: from the pair and the cut alone, so a re-run agrees.
fn seed(pair: &Pair, cut_at: DateTime<Utc>) -> u64 {
    let digest = Sha256::digest(format!(
        "exchange-round|{}|{}|{}",
        pair.base.as_str(),
        pair.quote.as_str(),
        cut_at.timestamp_micros()
    ));
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// SHA-256 over the orders as matched, in canonical order (org, then order id).
fn orders_hash(open: &[Open]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for o in open {
        hasher.update(format!(
            "{}|{}|{}|{}|{}/{}\n",
            o.tenant.0,
            o.order,
            side_text(o.side),
            o.amount,
            o.limit.num(),
            o.limit.den()
        ));
    }
    hasher.finalize().to_vec()
}

/// Clears the book with the directions in `stopped` left out.
fn clear_without(
    open: &[Open],
    refs: &HashMap<(TenantId, i64), String>,
    stopped: &HashMap<Side, &'static str>,
    last: Option<Price>,
    seed: u64,
) -> Result<(Clearing, Vec<ReceiptFill>)> {
    let book: Vec<BookOrder> = open
        .iter()
        .enumerate()
        .filter(|(_, o)| !stopped.contains_key(&o.side))
        .map(|(i, o)| BookOrder {
            id: i as u64,
            side: o.side,
            amount: o.amount,
            limit: o.limit,
        })
        .collect();
    let clearing = clear(&book, last, seed)
        .map_err(|e| Error::Internal(anyhow::anyhow!("the book does not clear: {e:?}")))?;
    let by_id: HashMap<u64, _> = clearing.fills.iter().map(|f| (f.id, *f)).collect();
    let fills = open
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let (sold, bought, why) = match by_id.get(&(i as u64)) {
                Some(f) => (f.gives, f.receives, why_text(f.why)),
                None => (0, 0, stopped.get(&o.side).copied().unwrap_or("stopped")),
            };
            ReceiptFill {
                tenant: o.tenant,
                order: o.order,
                side: side_text(o.side).to_owned(),
                offered: o.amount,
                sold,
                bought,
                why: why.to_owned(),
                reference: refs.get(&(o.tenant, o.order)).cloned().unwrap_or_default(),
            }
        })
        .collect();
    Ok((clearing, fills))
}

/// What one direction of a clearing moves: (given, received).
fn moved(fills: &[ReceiptFill], side: Side) -> (i64, i64) {
    fills
        .iter()
        .filter(|f| f.side == side_text(side))
        .fold((0i64, 0i64), |(g, r), f| {
            (g.saturating_add(f.sold), r.saturating_add(f.bought))
        })
}

fn last_price(row: Option<(Option<i64>, Option<i64>)>) -> Option<Price> {
    let (n, d) = row?;
    Price::new(u64::try_from(n?).ok()?, u64::try_from(d?).ok()?).ok()
}

/// A random moment in the last quarter of the window that holds `after` (or of the next window,
/// when that moment has passed): when a pair's next round is cut.
pub fn next_cut(after: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let secs = i64::try_from(interval.as_secs()).unwrap_or(3600).max(1);
    let micros = secs.saturating_mul(1_000_000);
    let now = after.timestamp_micros();
    let mut start = now - now.rem_euclid(micros);
    loop {
        let quarter = (micros / 4).max(1);
        let offset = micros - quarter + rand::random_range(0..quarter);
        let cut = start.saturating_add(offset);
        if cut > now {
            return Utc.timestamp_micros(cut).single().unwrap_or(after);
        }
        start = start.saturating_add(micros);
    }
}

/// The end of the window that holds `at` (the next window's start).
pub fn window_end(at: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let micros = i64::try_from(interval.as_micros())
        .unwrap_or(i64::MAX)
        .max(1);
    let t = at.timestamp_micros();
    let end = (t - t.rem_euclid(micros)).saturating_add(micros);
    Utc.timestamp_micros(end).single().unwrap_or(at)
}

/// Pair lock keys for `pg_advisory_lock`: one runner per pair at a time.
fn lock_key(pair: &Pair) -> i64 {
    let digest = Sha256::digest(format!(
        "exchange-pair|{}|{}",
        pair.base.as_str(),
        pair.quote.as_str()
    ));
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// The pair's homes when both of its currencies are listed by two different orgs.
async fn tradable(conn: &mut sqlx::PgConnection, pair: &Pair) -> Result<Option<(Home, Home)>> {
    let base = match home_of(conn, "sell", &pair.base).await {
        Ok(h) => h,
        Err(Error::Refused(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let quote = match home_of(conn, "buy", &pair.quote).await {
        Ok(h) => h,
        Err(Error::Refused(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    // An org trading with itself has no second ledger to mirror; it cannot happen while an org
    // sells only its own coin, but a pair of two coins of one org is left out all the same.
    Ok((base.tenant != quote.tenant).then_some((base, quote)))
}

impl Core {
    /// Cuts the pair's round at `cut_at`: holds and reads every home org's open orders of the
    /// pair (each in its own transaction), clears them and writes the receipt. Cutting the same
    /// moment again answers the receipt already written. `None`: the pair does not trade now
    /// (a currency of it is not listed).
    pub async fn cut_round(&self, pair: &Pair, cut_at: DateTime<Utc>) -> Result<Option<Receipt>> {
        // One runner per pair: the lock lives as long as this connection's session.
        let mut lock = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(lock_key(pair))
            .execute(&mut *lock)
            .await?;
        let result = self.cut_round_locked(pair, cut_at).await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(lock_key(pair))
            .execute(&mut *lock)
            .await?;
        result
    }

    async fn cut_round_locked(
        &self,
        pair: &Pair,
        cut_at: DateTime<Utc>,
    ) -> Result<Option<Receipt>> {
        // Timestamps are stored to the microsecond: compare what will be stored.
        let cut_at = Utc
            .timestamp_micros(cut_at.timestamp_micros())
            .single()
            .unwrap_or(cut_at);
        let mut conn = self.pool.acquire().await?;
        let written: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM control.exchange_rounds WHERE base = $1 AND quote = $2 AND cut_at = $3",
        )
        .bind(pair.base.as_str())
        .bind(pair.quote.as_str())
        .bind(cut_at)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((id,)) = written {
            return receipt(&mut conn, id).await;
        }
        let Some((base, quote)) = tradable(&mut conn, pair).await? else {
            return Ok(None);
        };
        let base_limits = limits(&mut conn, &pair.base).await?;
        let quote_limits = limits(&mut conn, &pair.quote).await?;
        let last: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT last_num, last_den FROM control.exchange_pairs WHERE base = $1 AND quote = $2",
        )
        .bind(pair.base.as_str())
        .bind(pair.quote.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        drop(conn);

        let started = std::time::Instant::now();
        let base_side = hold_in(
            self,
            base.tenant,
            pair,
            cut_at,
            &pair.quote,
            trustline_floor(base_limits.trustline, quote.scale.places())?,
        )
        .await?;
        let quote_side = hold_in(
            self,
            quote.tenant,
            pair,
            cut_at,
            &pair.base,
            trustline_floor(quote_limits.trustline, base.scale.places())?,
        )
        .await?;
        // Canonical order: by org, then by order id.
        let mut refs: HashMap<(TenantId, i64), String> = HashMap::new();
        for (tenant, side) in [(base.tenant, &base_side), (quote.tenant, &quote_side)] {
            refs.extend(side.refs.iter().map(|(o, r)| ((tenant, *o), r.clone())));
        }
        let mut open: Vec<Open> = base_side.open;
        open.extend(quote_side.open);
        open.sort_by_key(|o| (o.tenant.0, o.order));

        let held_at = started.elapsed();
        let seed = seed(pair, cut_at);
        let last = last_price(last);
        let mut stopped: HashMap<Side, &'static str> = HashMap::new();
        let (clearing, fills) = loop {
            let (clearing, fills) = clear_without(&open, &refs, &stopped, last, seed)?;
            let mut more = false;
            for (side, max_out, room_in) in [
                (Side::SellBase, base_limits.max_out, base_side.room_in),
                (Side::SellQuote, quote_limits.max_out, quote_side.room_in),
            ] {
                if stopped.contains_key(&side) {
                    continue;
                }
                let (given, received) = moved(&fills, side);
                let why = if given > max_out {
                    Some(WHY_OUTFLOW)
                } else if received > room_in {
                    Some(WHY_TRUSTLINE)
                } else {
                    None
                };
                if let Some(why) = why {
                    stopped.insert(side, why);
                    more = true;
                }
            }
            if !more {
                break (clearing, fills);
            }
        };

        let sum = |side: Side| {
            open.iter()
                .filter(|o| o.side == side)
                .try_fold(0i64, |t, o| t.checked_add(o.amount))
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("offers overflow")))
        };
        let (base_offered, quote_offered) = (sum(Side::SellBase)?, sum(Side::SellQuote)?);
        let part = |p: u64| {
            i64::try_from(p).map_err(|e| Error::Internal(anyhow::anyhow!("price part: {e}")))
        };
        let (num, den) = match clearing.price {
            Some(p) if clearing.base_volume > 0 => (Some(part(p.num())?), Some(part(p.den())?)),
            _ => (None, None),
        };
        let cleared_at = started.elapsed();
        let fills_json = serde_json::to_string(&fills).map_err(|e| Error::Internal(e.into()))?;

        // The receipt, the flows between the two orgs and the pair's last price: control only.
        let mut tx = self.pool.begin().await?;
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO control.exchange_rounds
                 (base, quote, cut_at, price_num, price_den, base_offered, quote_offered,
                  base_traded, quote_traded, base_unfilled, quote_unfilled, orders_hash, fills)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)
             ON CONFLICT (base, quote, cut_at) DO NOTHING RETURNING id",
        )
        .bind(pair.base.as_str())
        .bind(pair.quote.as_str())
        .bind(cut_at)
        .bind(num)
        .bind(den)
        .bind(base_offered)
        .bind(quote_offered)
        .bind(clearing.base_volume)
        .bind(clearing.quote_volume)
        .bind(base_offered - clearing.base_volume)
        .bind(quote_offered - clearing.quote_volume)
        .bind(orders_hash(&open))
        .bind(&fills_json)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id,)) = id else {
            // Written meanwhile by another runner: that one stands.
            tx.rollback().await?;
            let mut conn = self.pool.acquire().await?;
            let (id,): (i64,) = sqlx::query_as(
                "SELECT id FROM control.exchange_rounds
                  WHERE base = $1 AND quote = $2 AND cut_at = $3",
            )
            .bind(pair.base.as_str())
            .bind(pair.quote.as_str())
            .bind(cut_at)
            .fetch_one(&mut *conn)
            .await?;
            return receipt(&mut conn, id).await;
        };
        if clearing.base_volume > 0 {
            sqlx::query(
                "INSERT INTO control.exchange_flows (round_id, currency, from_tenant, to_tenant, amount)
                 VALUES ($1, $2, $3, $4, $5), ($1, $6, $4, $3, $7)",
            )
            .bind(id)
            .bind(pair.base.as_str())
            .bind(base.tenant)
            .bind(quote.tenant)
            .bind(clearing.base_volume)
            .bind(pair.quote.as_str())
            .bind(clearing.quote_volume)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO control.exchange_pairs (base, quote, last_num, last_den)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (base, quote) DO UPDATE
                SET last_num = coalesce(excluded.last_num, exchange_pairs.last_num),
                    last_den = coalesce(excluded.last_den, exchange_pairs.last_den)",
        )
        .bind(pair.base.as_str())
        .bind(pair.quote.as_str())
        .bind(num)
        .bind(den)
        .execute(&mut *tx)
        .await?;
        let stored = receipt(&mut tx, id).await?;
        tx.commit().await?;
        // Where a slow cut spends its time: holding the orders, clearing, writing the receipt.
        tracing::info!(
            round = id,
            base = pair.base.as_str(),
            quote = pair.quote.as_str(),
            orders = open.len(),
            hold_ms = held_at.as_millis(),
            clear_ms = (cleared_at - held_at).as_millis(),
            write_ms = (started.elapsed() - cleared_at).as_millis(),
            "exchange round cut"
        );
        Ok(stored)
    }
}

/// Every currency ever listed, by code, with its scale (a delisted one's old receipts still
/// show).
pub async fn listed_scales(
    conn: &mut sqlx::PgConnection,
) -> Result<HashMap<String, crate::domain::money::Scale>> {
    let rows: Vec<(String, i16)> = sqlx::query_as(
        "SELECT DISTINCT ON (currency_code) currency_code, scale
           FROM control.exchange_listings ORDER BY currency_code, delisted_at IS NULL DESC",
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(code, scale)| {
            let scale = u8::try_from(scale)
                .ok()
                .and_then(|s| crate::domain::money::Scale::new(s).ok())
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("listed scale {scale}")))?;
            Ok((code, scale))
        })
        .collect()
}

/// One round's result for one of the member's own orders, as their org settled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnFill {
    pub round: i64,
    /// The fill's reference in the round's published receipt.
    pub reference: String,
    pub sell: String,
    pub buy: String,
    pub sold: i64,
    pub bought: i64,
    pub why: String,
}

impl Core {
    /// The published receipts, newest first: of the pair of `a` and `b` when both are given.
    /// Public to the members of every org: they name no org, member or order (each fill only by
    /// its reference).
    pub async fn exchange_receipts(
        &self,
        _member: &crate::domain::orgs::Member,
        pair: Option<(&str, &str)>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<Receipt>, HashMap<String, crate::domain::money::Scale>)> {
        let pair = match pair {
            Some((a, b)) => {
                let code = |field: &'static str, text: &str| {
                    CurrencyCode::parse(text.trim().to_ascii_uppercase().as_str()).map_err(|_| {
                        Error::from(crate::refusal::Refusal::CurrencyNotListed {
                            field,
                            currency: text.trim().chars().take(16).collect(),
                        })
                    })
                };
                let (a, b) = (code("base", a)?, code("quote", b)?);
                if a == b {
                    return Err(Error::from(
                        crate::refusal::Refusal::ExchangePairWithItself { field: "quote" },
                    ));
                }
                Some(Pair::of(a, b))
            }
            None => None,
        };
        let mut conn = self.pool.acquire().await?;
        let found = receipts(&mut conn, pair.as_ref(), before, limit).await?;
        let scales = listed_scales(&mut conn).await?;
        Ok((found, scales))
    }

    /// How the member's own order `id` fared in each round that held it, oldest first.
    pub async fn my_order_fills(
        &self,
        member: &crate::domain::orgs::Member,
        id: i64,
    ) -> Result<(Vec<OwnFill>, HashMap<String, crate::domain::money::Scale>)> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let order: Option<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT sell_currency, buy_currency, idempotency_key, created_at FROM exchange_orders
              WHERE id = $1 AND owner_user_id = $2",
        )
        .bind(id)
        .bind(member.user.id)
        .fetch_optional(tx.conn())
        .await?;
        let (sell, buy, key, created) =
            order.ok_or_else(|| Error::from(crate::refusal::Refusal::ExchangeOrderNotFound))?;
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "SELECT round_id, sold, bought, why FROM exchange_settlements
              WHERE order_id = $1 ORDER BY round_id",
        )
        .bind(id)
        .fetch_all(tx.conn())
        .await?;
        let rounds: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let cuts: Vec<(i64, DateTime<Utc>)> =
            sqlx::query_as("SELECT id, cut_at FROM control.exchange_rounds WHERE id = ANY($1)")
                .bind(&rounds)
                .fetch_all(tx.conn())
                .await?;
        let scales = listed_scales(tx.conn()).await?;
        tx.commit().await?;
        let fills = rows
            .into_iter()
            .map(|(round, sold, bought, why)| {
                let cut = cuts
                    .iter()
                    .find(|(r, _)| *r == round)
                    .map(|(_, c)| *c)
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("no round {round}")))?;
                Ok(OwnFill {
                    round,
                    reference: fill_reference(member.tenant.id, id, &key, created, cut),
                    sell: sell.clone(),
                    buy: buy.clone(),
                    sold,
                    bought,
                    why,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((fills, scales))
    }
}

/// What one step of a pair's schedule did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    /// Rounds whose settlement was resumed (a runner died while settling them).
    pub resumed: Vec<i64>,
    /// The round cut and settled in this step.
    pub cut: Option<i64>,
    /// Orders returned because a currency of the pair is no longer listed.
    pub returned: usize,
}

impl Core {
    /// Every pair the schedule runs: each two currencies listed now by two different orgs
    /// (made known with `interval` as their window when new), and the pairs known before (a
    /// delisted currency's pair still returns its open orders).
    pub async fn exchange_pairs(&self, interval: Duration) -> Result<Vec<Pair>> {
        let secs = i32::try_from(interval.as_secs()).unwrap_or(i32::MAX).max(1);
        sqlx::query(
            "INSERT INTO control.exchange_pairs (base, quote, interval_secs)
             SELECT a.currency_code, b.currency_code, $1
               FROM control.exchange_listings a JOIN control.exchange_listings b
                 ON a.currency_code < b.currency_code AND a.tenant_id <> b.tenant_id
              WHERE a.delisted_at IS NULL AND b.delisted_at IS NULL
             ON CONFLICT (base, quote) DO NOTHING",
        )
        .bind(secs)
        .execute(&self.pool)
        .await?;
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT base, quote FROM control.exchange_pairs ORDER BY base, quote")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(b, q)| {
                Ok(Pair {
                    base: CurrencyCode::parse(&b)?,
                    quote: CurrencyCode::parse(&q)?,
                })
            })
            .collect()
    }

    /// One step of the pair's schedule at `now`: finishes any round of the pair whose
    /// settlement was cut short, then, when the pair's cut is due, cuts the round, settles it
    /// and draws the next cut. Safe to run again and from several workers (the cut is unique per
    /// pair and moment, settlement is keyed by round and order).
    pub async fn exchange_step(&self, pair: &Pair, now: DateTime<Utc>) -> Result<Step> {
        let mut step = Step::default();
        let pending: Vec<(i64,)> = sqlx::query_as(
            "SELECT r.id FROM control.exchange_rounds r
              WHERE r.base = $1 AND r.quote = $2
                AND EXISTS (
                  SELECT 1 FROM jsonb_array_elements(r.fills) f
                   WHERE NOT EXISTS (
                       SELECT 1 FROM control.exchange_round_settlements s
                        WHERE s.round_id = r.id AND s.tenant_id = (f->>'tenant')::bigint))
              ORDER BY r.id",
        )
        .bind(pair.base.as_str())
        .bind(pair.quote.as_str())
        .fetch_all(&self.pool)
        .await?;
        for (id,) in pending {
            self.settle_round(id).await?;
            step.resumed.push(id);
        }
        let row: Option<(i32, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT interval_secs, next_cut_at FROM control.exchange_pairs
              WHERE base = $1 AND quote = $2",
        )
        .bind(pair.base.as_str())
        .bind(pair.quote.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some((secs, next)) = row else {
            return Ok(step);
        };
        let interval = Duration::from_secs(u64::try_from(secs).unwrap_or(3600).max(1));
        let due = match next {
            Some(at) if at <= now => at,
            Some(_) => return Ok(step),
            None => {
                self.set_next_cut(pair, None, next_cut(now, interval))
                    .await?;
                return Ok(step);
            }
        };
        match self.cut_round(pair, due).await? {
            Some(r) => {
                self.settle_round(r.id).await?;
                step.cut = Some(r.id);
            }
            None => step.returned = self.return_delisted(pair).await?,
        }
        // The next window's cut (one round per window), or, after a long pause, the first one
        // still ahead.
        let mut next = next_cut(window_end(due, interval), interval);
        if next <= now {
            next = next_cut(now, interval);
        }
        self.set_next_cut(pair, Some(due), next).await?;
        Ok(step)
    }

    async fn set_next_cut(
        &self,
        pair: &Pair,
        was: Option<DateTime<Utc>>,
        next: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE control.exchange_pairs SET next_cut_at = $4
              WHERE base = $1 AND quote = $2 AND next_cut_at IS NOT DISTINCT FROM $3",
        )
        .bind(pair.base.as_str())
        .bind(pair.quote.as_str())
        .bind(was)
        .bind(next)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A currency of the pair is no longer listed: every org that listed either gives back its
    /// members' open orders in the delisted one (each in its own transaction).
    async fn return_delisted(&self, pair: &Pair) -> Result<usize> {
        let rows: Vec<(TenantId, String, bool)> = sqlx::query_as(
            "SELECT tenant_id, currency_code, delisted_at IS NULL FROM control.exchange_listings
              WHERE currency_code IN ($1, $2) ORDER BY tenant_id",
        )
        .bind(pair.base.as_str())
        .bind(pair.quote.as_str())
        .fetch_all(&self.pool)
        .await?;
        let gone: Vec<CurrencyCode> = [&pair.base, &pair.quote]
            .into_iter()
            .filter(|c| {
                !rows
                    .iter()
                    .any(|(_, code, live)| *live && code == c.as_str())
            })
            .cloned()
            .collect();
        let mut tenants: Vec<TenantId> = rows.iter().map(|(t, _, _)| *t).collect();
        tenants.dedup();
        let mut returned = 0;
        for tenant in tenants {
            for code in &gone {
                let code = code.clone();
                returned += crate::domain::tenancy::retrying(move || {
                    let code = code.clone();
                    async move {
                        let mut tx =
                            TenantTx::begin(&self.pool, &SchemaName::for_tenant(tenant)).await?;
                        let n = super::orders::return_open_in(&mut tx, &code, Utc::now()).await?;
                        if n.is_some() {
                            tx.commit().await?;
                        }
                        Ok(n)
                    }
                })
                .await?;
            }
        }
        Ok(returned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_falls_in_the_last_quarter_of_a_window_and_after_the_moment_given() {
        let interval = Duration::from_secs(3600);
        let start = Utc
            .timestamp_opt(1_800_000_000, 0) // a whole hour
            .unwrap();
        for minutes in [0i64, 10, 44, 50, 59] {
            let after = start + chrono::Duration::minutes(minutes);
            for _ in 0..200 {
                let cut = next_cut(after, interval);
                assert!(cut > after, "{cut} after {after}");
                let into = (cut - start).num_seconds() % 3600;
                assert!(into >= 45 * 60, "{cut} is {into} s into its window");
                assert!(cut < start + chrono::Duration::hours(2));
            }
        }
        assert_eq!(
            window_end(start + chrono::Duration::minutes(50), interval),
            start + chrono::Duration::hours(1)
        );
        // The next round's cut is in the next window, never the same one.
        let cut = start + chrono::Duration::minutes(50);
        let next = next_cut(window_end(cut, interval), interval);
        assert!(next >= start + chrono::Duration::minutes(105), "{next}");
    }
}
