//! A member's limit orders: placed with the amount escrowed in the member's own ledger (one
//! transaction in the member's org), cancelled before a round's cut with the escrow returned,
//! listed for their owner only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::book::home_of;
use super::price::{MAX_DECIMALS, Price, PriceError};
use crate::core::Core;
use crate::domain::idempotency::{Creation, IdempotencyKey};
use crate::domain::ids::{AccountId, CurrencyId, TenantId, UserId};
use crate::domain::ledger::currencies::currency_by_code;
use crate::domain::ledger::queue::post_all;
use crate::domain::ledger::{AccountRef, Authority, CurrencyCode, TransferKind, TransferOrder};
use crate::domain::money::{Amount, Scale, format_minor, parse_amount};
use crate::domain::orgs::Member;
use crate::domain::tenancy::{TenantTx, retrying};
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

text_enum!(
    /// How long an order stays in the book.
    GoodFor {
        /// The next round only: what does not fill goes back.
        Round => "round",
        /// Every round until it is filled or cancelled.
        Cancel => "cancel",
    }
);

text_enum!(
    /// Where an order stands.
    OrderStatus {
        Open => "open",
        Filled => "filled",
        Cancelled => "cancelled",
        /// Given back unfilled (a one-round order, or its currency was delisted).
        Returned => "returned",
    }
);

/// "Sell `amount` of `sell` for at least `limit` of `buy` per unit" (`/exchange 10 DEMO for
/// BIKE at 0.8`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// The currency sold (held in this org).
    pub sell: String,
    /// Decimal text in the sold currency's scale.
    pub amount: String,
    /// The currency wanted.
    pub buy: String,
    /// The least accepted, in units of `buy` per unit of `sell` (decimal text, at most six
    /// places).
    pub limit: String,
    /// `cancel` (the default): open until filled or cancelled; `round`: the next round only.
    #[serde(default)]
    pub good_for: Option<GoodFor>,
}

/// One of the member's own orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    pub id: i64,
    pub sell: String,
    pub buy: String,
    pub amount: String,
    pub limit: String,
    pub good_for: GoodFor,
    pub status: OrderStatus,
    /// Sold and bought so far.
    pub sold: String,
    pub bought: String,
    /// Still in escrow.
    pub escrowed: String,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: i64,
    owner_user_id: UserId,
    sell_currency: String,
    buy_currency: String,
    amount: i64,
    limit_text: String,
    #[sqlx(try_from = "String")]
    good_for: GoodFor,
    #[sqlx(try_from = "String")]
    status: OrderStatus,
    sold: i64,
    bought: i64,
    cut_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

/// `SELECT <every column of OrderRow> FROM exchange_orders <rest>`, as one static string.
macro_rules! select_orders {
    ($rest:literal) => {
        concat!(
            "SELECT id, owner_user_id, sell_currency, buy_currency, amount, limit_text, good_for,
                    status, sold, bought, cut_at, created_at, closed_at
               FROM exchange_orders ",
            $rest
        )
    };
}

/// The listed currencies' scales by code (delisted ones too: old orders still show).
async fn scales(tx: &mut TenantTx) -> Result<HashMap<String, (Scale, bool)>> {
    let rows: Vec<(String, i16, bool)> = sqlx::query_as(
        "SELECT DISTINCT ON (currency_code) currency_code, scale, delisted_at IS NULL
           FROM control.exchange_listings ORDER BY currency_code, delisted_at IS NULL DESC",
    )
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|(code, scale, listed)| {
            let scale = u8::try_from(scale)
                .ok()
                .and_then(|s| Scale::new(s).ok())
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("listed scale {scale}")))?;
            Ok((code, (scale, listed)))
        })
        .collect()
}

fn view(row: &OrderRow, scales: &HashMap<String, (Scale, bool)>) -> Result<OrderView> {
    let scale = |code: &str| {
        scales
            .get(code)
            .map(|(s, _)| *s)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("order in unlisted {code}")))
    };
    let (sell, buy) = (scale(&row.sell_currency)?, scale(&row.buy_currency)?);
    let escrowed = if row.status == OrderStatus::Open {
        row.amount - row.sold
    } else {
        0
    };
    Ok(OrderView {
        id: row.id,
        sell: row.sell_currency.clone(),
        buy: row.buy_currency.clone(),
        amount: format_minor(row.amount, sell),
        limit: row.limit_text.clone(),
        good_for: row.good_for,
        status: row.status,
        sold: format_minor(row.sold, sell),
        bought: format_minor(row.bought, buy),
        escrowed: format_minor(escrowed, sell),
        created_at: row.created_at,
        closed_at: row.closed_at,
    })
}

/// The currency's escrow account in this org, made on first use.
pub(crate) async fn escrow_account(tx: &mut TenantTx, currency: CurrencyId) -> Result<AccountId> {
    sqlx::query(
        "INSERT INTO accounts (currency_id, kind, floor) VALUES ($1, 'escrow', 0)
         ON CONFLICT (currency_id, kind) WHERE kind IN ('escrow', 'clearing') DO NOTHING",
    )
    .bind(currency)
    .execute(tx.conn())
    .await?;
    let (id,): (AccountId,) =
        sqlx::query_as("SELECT id FROM accounts WHERE currency_id = $1 AND kind = 'escrow'")
            .bind(currency)
            .fetch_one(tx.conn())
            .await?;
    Ok(id)
}

/// What a valid order is, resolved.
struct Checked {
    sell: CurrencyCode,
    buy: CurrencyCode,
    currency: CurrencyId,
    amount: Amount,
    limit: Price,
    limit_text: String,
    good_for: GoodFor,
}

/// Every check before anything is written: both currencies listed, not the same, held here;
/// the amount and the limit positive and within their scales.
async fn check(tx: &mut TenantTx, tenant: TenantId, new: &NewOrder) -> Result<Checked> {
    let code = |field: &'static str, text: &str| {
        CurrencyCode::parse(text.trim().to_ascii_uppercase().as_str()).map_err(|_| {
            Error::from(Refusal::CurrencyNotListed {
                field,
                currency: text.trim().chars().take(16).collect(),
            })
        })
    };
    let (sell, buy) = (code("sell", &new.sell)?, code("buy", &new.buy)?);
    if sell == buy {
        return Err(Error::from(Refusal::ExchangePairWithItself {
            field: "buy",
        }));
    }
    let scales = scales(tx).await?;
    let listed = |field: &'static str, code: &CurrencyCode| match scales.get(code.as_str()) {
        Some((scale, true)) => Ok(*scale),
        _ => Err(Error::from(Refusal::CurrencyNotListed {
            field,
            currency: code.as_str().to_owned(),
        })),
    };
    let (sell_scale, buy_scale) = (listed("sell", &sell)?, listed("buy", &buy)?);
    let not_held = || {
        Error::from(Refusal::CurrencyNotHeld {
            field: "sell",
            currency: sell.as_str().to_owned(),
        })
    };
    // Members sell what their own ledger holds of the listed currency: the org's own coin
    // (another org's coin of the same code is not it).
    if home_of(tx.conn(), "sell", &sell).await?.tenant != tenant {
        return Err(not_held());
    }
    let currency = currency_by_code(tx, sell.as_str())
        .await
        .map_err(|_| not_held())?;
    let amount = parse_amount("amount", &new.amount, sell_scale)?;
    let limit_text = new.limit.trim().to_owned();
    let limit = Price::parse_decimal(&limit_text, sell_scale.places(), buy_scale.places())
        .map_err(|e| {
            Error::from(match e {
                PriceError::NotPositive => Refusal::PriceMalformed { field: "limit" },
                PriceError::TooPrecise => Refusal::PriceTooPrecise {
                    field: "limit",
                    places: i64::from(MAX_DECIMALS),
                },
            })
        })?;
    Ok(Checked {
        sell,
        buy,
        currency: currency.id,
        amount,
        limit,
        limit_text,
        good_for: new.good_for.unwrap_or(GoodFor::Cancel),
    })
}

async fn one(tx: &mut TenantTx, id: i64) -> Result<OrderView> {
    let row: OrderRow = sqlx::query_as(select_orders!("WHERE id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| Error::from(Refusal::ExchangeOrderNotFound))?;
    let scales = scales(tx).await?;
    view(&row, &scales)
}

impl Core {
    /// Places a limit order and escrows its amount from the member's account, in one
    /// transaction of the member's org. With a key, a retry answers the first order.
    pub async fn place_order(
        &self,
        member: &Member,
        new: NewOrder,
        key: Option<IdempotencyKey>,
    ) -> Result<OrderView> {
        let creation = Creation::new(key.as_ref(), "exchange_order", &new);
        let (new, creation, key) = (&new, &creation, &key);
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            if let Some(first) = creation.take(&mut tx, one).await? {
                return Ok(Some(first));
            }
            let c = check(&mut tx, member.tenant.id, new).await?;
            // The order's own key: the request's, or a fresh one when none was given.
            let order_key = match key {
                Some(k) => k.as_str().to_owned(),
                None => format!("exchange:{}:{}", member.user.id, rand::random::<u64>()),
            };
            let fingerprint = Sha256::digest(
                format!(
                    "v1|{}|{}|{}|{}/{}|{}",
                    c.sell.as_str(),
                    c.buy.as_str(),
                    c.amount.minor(),
                    c.limit.num(),
                    c.limit.den(),
                    c.good_for.as_str()
                )
                .as_bytes(),
            )
            .to_vec();
            let num = i64::try_from(c.limit.num())
                .map_err(|e| Error::Internal(anyhow::anyhow!("price part: {e}")))?;
            let den = i64::try_from(c.limit.den())
                .map_err(|e| Error::Internal(anyhow::anyhow!("price part: {e}")))?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO exchange_orders (owner_user_id, sell_currency, buy_currency, amount,
                     limit_num, limit_den, limit_text, good_for, idempotency_key, fingerprint)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(member.user.id)
            .bind(c.sell.as_str())
            .bind(c.buy.as_str())
            .bind(c.amount.minor())
            .bind(num)
            .bind(den)
            .bind(&c.limit_text)
            .bind(c.good_for.as_str())
            .bind(&order_key)
            .bind(fingerprint)
            .fetch_one(tx.conn())
            .await?;
            let escrow = escrow_account(&mut tx, c.currency).await?;
            let order = TransferOrder {
                key: format!("exchange:order:{id}:escrow"),
                currency: c.currency,
                from: AccountRef::Member(member.user.id),
                to: AccountRef::Id(escrow),
                amount: c.amount,
                kind: TransferKind::Escrow,
                memo: format!("exchange order {id}"),
                actor: member.user.id,
                authority: Authority::Owner(member.user.id),
                credential: None,
            };
            // A refusal (not enough money) rolls the order back with the transaction.
            if post_all(&mut tx, &[order]).await?.is_none() {
                return Ok(None);
            }
            let answer = one(&mut tx, id).await?;
            creation.remember(&mut tx, id, &answer).await?;
            tx.commit().await?;
            Ok(Some(answer))
        })
        .await
    }

    /// Cancels one of the member's open orders and returns what is still escrowed. Refused
    /// once a round's cut has taken the order, until that round is settled.
    pub async fn cancel_order(&self, member: &Member, id: i64) -> Result<OrderView> {
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let row: OrderRow = sqlx::query_as(select_orders!(
                "WHERE id = $1 AND owner_user_id = $2 FOR UPDATE"
            ))
            .bind(id)
            .bind(member.user.id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| Error::from(Refusal::ExchangeOrderNotFound))?;
            if row.status != OrderStatus::Open {
                return Err(Error::from(Refusal::ExchangeOrderClosed { order: id }));
            }
            if row.cut_at.is_some() {
                return Err(Error::from(Refusal::ExchangeOrderInRound { order: id }));
            }
            if close_and_return(&mut tx, &row, OrderStatus::Cancelled, Utc::now())
                .await?
                .is_none()
            {
                return Ok(None);
            }
            let answer = one(&mut tx, id).await?;
            tx.commit().await?;
            Ok(Some(answer))
        })
        .await
    }

    /// The member's own orders, newest first.
    pub async fn my_orders(&self, member: &Member) -> Result<Vec<OrderView>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let rows: Vec<OrderRow> = sqlx::query_as(select_orders!(
            "WHERE owner_user_id = $1
              ORDER BY id DESC LIMIT 200"
        ))
        .bind(member.user.id)
        .fetch_all(tx.conn())
        .await?;
        let scales = scales(&mut tx).await?;
        let views = rows.iter().map(|r| view(r, &scales)).collect();
        tx.commit().await?;
        views
    }
}

/// Closes an open order as `status` and gives back what is still escrowed (keyed by the order,
/// so it happens once). `Ok(None)`: a concurrent duplicate raced in the ledger.
async fn close_and_return(
    tx: &mut TenantTx,
    row: &OrderRow,
    status: OrderStatus,
    now: DateTime<Utc>,
) -> Result<Option<()>> {
    let rest = row.amount - row.sold;
    if rest > 0 {
        let currency = currency_by_code(tx, &row.sell_currency).await?;
        let escrow = escrow_account(tx, currency.id).await?;
        let order = TransferOrder {
            key: format!("exchange:order:{}:return", row.id),
            currency: currency.id,
            from: AccountRef::Id(escrow),
            to: AccountRef::Member(row.owner_user_id),
            amount: Amount::from_minor(rest)
                .map_err(|e| Error::Internal(anyhow::anyhow!("escrowed amount: {e}")))?,
            kind: TransferKind::Escrow,
            memo: format!("exchange order {}", row.id),
            actor: row.owner_user_id,
            authority: Authority::System,
            credential: None,
        };
        if post_all(tx, &[order]).await?.is_none() {
            return Ok(None);
        }
    }
    sqlx::query("UPDATE exchange_orders SET status = $2, closed_at = $3 WHERE id = $1")
        .bind(row.id)
        .bind(status.as_str())
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(Some(()))
}

/// Returns every open order of this org that sells or buys `code` (the currency was delisted),
/// except those a round's cut holds (that round's settlement returns them).
pub(crate) async fn return_open_in(
    tx: &mut TenantTx,
    code: &CurrencyCode,
    now: DateTime<Utc>,
) -> Result<Option<usize>> {
    let rows: Vec<OrderRow> = sqlx::query_as(select_orders!(
        "WHERE status = 'open' AND cut_at IS NULL AND (sell_currency = $1 OR buy_currency = $1)
          ORDER BY id FOR UPDATE"
    ))
    .bind(code.as_str())
    .fetch_all(tx.conn())
    .await?;
    for row in &rows {
        if close_and_return(tx, row, OrderStatus::Returned, now)
            .await?
            .is_none()
        {
            return Ok(None);
        }
    }
    Ok(Some(rows.len()))
}
