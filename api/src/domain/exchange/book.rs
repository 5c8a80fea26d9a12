//! A pair's book as everyone may see it: what each org's members offer, read in each org's own
//! transaction (never two schemas in one), shown only as totals per price, and the price the
//! round would clear at now (`/quote`).

use serde::Serialize;
use utoipa::ToSchema;

use super::matcher::{BookOrder, Side, clear};
use super::price::Price;
use crate::core::Core;
use crate::domain::ids::TenantId;
use crate::domain::ledger::CurrencyCode;
use crate::domain::money::{Scale, format_minor};
use crate::domain::orgs::Member;
use crate::domain::tenancy::{SchemaName, TenantTx};
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// One pair, base before quote by code; prices are quote per base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub base: CurrencyCode,
    pub quote: CurrencyCode,
}

impl Pair {
    /// The pair of two different codes, in canonical order.
    pub fn of(a: CurrencyCode, b: CurrencyCode) -> Self {
        if a.as_str() <= b.as_str() {
            Self { base: a, quote: b }
        } else {
            Self { base: b, quote: a }
        }
    }
}

/// A listed currency's home org and scale.
#[derive(Debug, Clone, Copy)]
pub struct Home {
    pub tenant: TenantId,
    pub scale: Scale,
}

/// An open order as read from its org, with where it came from.
#[derive(Debug, Clone)]
pub struct Open {
    pub tenant: TenantId,
    pub order: i64,
    pub side: Side,
    pub amount: i64,
    pub limit: Price,
}

/// The listed currency `code`: its home org and scale, or the refusal naming `field`.
pub(crate) async fn home_of(
    conn: &mut sqlx::PgConnection,
    field: &'static str,
    code: &CurrencyCode,
) -> Result<Home> {
    let found: Option<(TenantId, i16)> = sqlx::query_as(
        "SELECT tenant_id, scale FROM control.exchange_listings
          WHERE currency_code = $1 AND delisted_at IS NULL",
    )
    .bind(code.as_str())
    .fetch_optional(conn)
    .await?;
    let not_listed = || {
        Error::from(Refusal::CurrencyNotListed {
            field,
            currency: code.as_str().to_owned(),
        })
    };
    let (tenant, scale) = found.ok_or_else(not_listed)?;
    let scale = u8::try_from(scale)
        .ok()
        .and_then(|s| Scale::new(s).ok())
        .ok_or_else(not_listed)?;
    Ok(Home { tenant, scale })
}

/// The open orders of one org in the pair, read in that org's own transaction.
pub(crate) async fn open_in(tx: &mut TenantTx, tenant: TenantId, pair: &Pair) -> Result<Vec<Open>> {
    let rows: Vec<(i64, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, sell_currency, amount - sold, limit_num, limit_den, amount
           FROM exchange_orders
          WHERE status = 'open'
            AND ((sell_currency = $1 AND buy_currency = $2) OR (sell_currency = $2 AND buy_currency = $1))
          ORDER BY id",
    )
    .bind(pair.base.as_str())
    .bind(pair.quote.as_str())
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .filter(|r| r.2 > 0)
        .map(|(order, sell, left, num, den, _)| {
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
        .collect()
}

/// Every open order of the pair, from each home org in turn (its own transaction each).
pub(crate) async fn read_book(core: &Core, pair: &Pair) -> Result<(Home, Home, Vec<Open>)> {
    let mut conn = core.pool.acquire().await?;
    let base = home_of(&mut conn, "sell", &pair.base).await?;
    let quote = home_of(&mut conn, "buy", &pair.quote).await?;
    drop(conn);
    let mut open = Vec::new();
    let mut tenants = vec![base.tenant, quote.tenant];
    tenants.dedup();
    for tenant in tenants {
        let mut tx = TenantTx::begin(&core.pool, &SchemaName::for_tenant(tenant)).await?;
        open.extend(open_in(&mut tx, tenant, pair).await?);
        tx.commit().await?;
    }
    Ok((base, quote, open))
}

/// The matcher's view of the orders: ids are positions.
pub(crate) fn as_book(open: &[Open]) -> Vec<BookOrder> {
    open.iter()
        .enumerate()
        .map(|(i, o)| BookOrder {
            id: i as u64,
            side: o.side,
            amount: o.amount,
            limit: o.limit,
        })
        .collect()
}

/// One price level of the public book: no org, no member, no order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Level {
    /// Quote per base, in whole units.
    pub price: String,
    /// Base offered at this price or better (selling base), in base.
    pub selling_base: String,
    /// Quote offered for base at this price or better (selling quote), in quote.
    pub selling_quote: String,
}

/// The indicative result of the round under way and the book's totals per price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Quote {
    pub base: String,
    pub quote: String,
    /// Quote per base if the round were cut now; null when nothing crosses.
    pub price: Option<String>,
    /// Base that would change hands.
    pub volume: String,
    /// Base offered minus base wanted at that price.
    pub imbalance: String,
    pub levels: Vec<Level>,
}

fn last_price(row: Option<(Option<i64>, Option<i64>)>) -> Option<Price> {
    let (n, d) = row?;
    Price::new(u64::try_from(n?).ok()?, u64::try_from(d?).ok()?).ok()
}

impl Core {
    /// `/quote A B`: what the pair's round would do now, and the book as totals per price.
    pub async fn exchange_quote(&self, _member: &Member, a: &str, b: &str) -> Result<Quote> {
        let code = |field: &'static str, text: &str| {
            CurrencyCode::parse(text.trim().to_ascii_uppercase().as_str()).map_err(|_| {
                Error::from(Refusal::CurrencyNotListed {
                    field,
                    currency: text.trim().chars().take(16).collect(),
                })
            })
        };
        let (a, b) = (code("sell", a)?, code("buy", b)?);
        if a == b {
            return Err(Error::from(Refusal::ExchangePairWithItself {
                field: "buy",
            }));
        }
        let pair = Pair::of(a, b);
        let (base, quote, open) = read_book(self, &pair).await?;
        let last: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT last_num, last_den FROM control.exchange_pairs WHERE base = $1 AND quote = $2",
        )
        .bind(pair.base.as_str())
        .bind(pair.quote.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let book = as_book(&open);
        let clearing = clear(&book, last_price(last), 0)
            .map_err(|e| Error::Internal(anyhow::anyhow!("the book does not clear: {e:?}")))?;
        let show = |p: Price| p.display(base.scale.places(), quote.scale.places(), 6);
        // Levels by price (quote per base): a quote seller's limit is base per quote.
        let mut levels: Vec<(Price, i64, i64)> = Vec::new();
        for o in &open {
            let at = match o.side {
                Side::SellBase => o.limit,
                Side::SellQuote => o.limit.inverse(),
            };
            let level = match levels.iter_mut().find(|l| l.0 == at) {
                Some(level) => level,
                None => {
                    levels.push((at, 0, 0));
                    let last = levels.len() - 1;
                    &mut levels[last]
                }
            };
            match o.side {
                Side::SellBase => level.1 = level.1.saturating_add(o.amount),
                Side::SellQuote => level.2 = level.2.saturating_add(o.amount),
            }
        }
        levels.sort_by_key(|l| l.0);
        let imbalance = format_minor(clearing.imbalance, base.scale);
        Ok(Quote {
            base: pair.base.as_str().to_owned(),
            quote: pair.quote.as_str().to_owned(),
            price: clearing.price.map(show),
            volume: format_minor(clearing.base_volume, base.scale),
            imbalance,
            levels: levels
                .into_iter()
                .map(|(p, b, q)| Level {
                    price: show(p),
                    selling_base: format_minor(b, base.scale),
                    selling_quote: format_minor(q, quote.scale),
                })
                .collect(),
        })
    }
}
