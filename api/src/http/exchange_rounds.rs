//! The exchange's rounds: the published receipts, and how one of the member's own orders fared
//! in each round. Wire types only; the domain's receipt can change without changing these.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, AppPath, Problem};
use crate::domain::exchange::rounds::{OwnFill, Receipt};
use crate::domain::money::{Scale, format_minor};
use crate::error::Error;

/// One order's result in a round, without its org, member or order id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptFillBody {
    /// The fill's reference: its owner finds it among their order's fills.
    pub reference: String,
    /// `base` or `quote`: which currency of the pair the order sold.
    pub side: String,
    /// What the order offered at the cut, in the currency it sells.
    pub offered: String,
    pub sold: String,
    /// In the other currency.
    pub bought: String,
    /// `filled`, or why it gave less: `rationed`, `limit_not_reached`, `no_counterparty`,
    /// `odd_lot`, `trustline`, `outflow_limit`.
    pub why: String,
}

/// A round's published receipt: one per pair and cut, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptBody {
    pub round: i64,
    pub base: String,
    pub quote: String,
    pub cut_at: DateTime<Utc>,
    /// Quote per base, in whole units; null when nothing crossed.
    pub price: Option<String>,
    pub base_offered: String,
    pub quote_offered: String,
    pub base_traded: String,
    pub quote_traded: String,
    pub base_unfilled: String,
    pub quote_unfilled: String,
    /// SHA-256 (hex) over the orders as matched, in canonical order.
    pub orders_hash: String,
    pub fills: Vec<ReceiptFillBody>,
}

fn scale_of(scales: &HashMap<String, Scale>, code: &str) -> Result<Scale, Error> {
    scales
        .get(code)
        .copied()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("receipt in unlisted {code}")))
}

fn receipt_body(r: &Receipt, scales: &HashMap<String, Scale>) -> Result<ReceiptBody, Error> {
    let base = scale_of(scales, r.pair.base.as_str())?;
    let quote = scale_of(scales, r.pair.quote.as_str())?;
    Ok(ReceiptBody {
        round: r.id,
        base: r.pair.base.as_str().to_owned(),
        quote: r.pair.quote.as_str().to_owned(),
        cut_at: r.cut_at,
        price: r.price.map(|p| p.display(base.places(), quote.places(), 6)),
        base_offered: format_minor(r.base_offered, base),
        quote_offered: format_minor(r.quote_offered, quote),
        base_traded: format_minor(r.base_traded, base),
        quote_traded: format_minor(r.quote_traded, quote),
        base_unfilled: format_minor(r.base_unfilled, base),
        quote_unfilled: format_minor(r.quote_unfilled, quote),
        orders_hash: hex::encode(&r.orders_hash),
        fills: r
            .fills
            .iter()
            .map(|f| {
                let (gives, gets) = if f.side == "base" {
                    (base, quote)
                } else {
                    (quote, base)
                };
                ReceiptFillBody {
                    reference: f.reference.clone(),
                    side: f.side.clone(),
                    offered: format_minor(f.offered, gives),
                    sold: format_minor(f.sold, gives),
                    bought: format_minor(f.bought, gets),
                    why: f.why.clone(),
                }
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReceiptsQuery {
    /// One currency of the pair (with `quote`; both or neither).
    pub base: Option<String>,
    /// The other.
    pub quote: Option<String>,
    /// Only rounds before this one (paging back).
    pub before: Option<i64>,
    /// At most this many (1–100, default 20).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/exchange/receipts", tag = "exchange",
    params(("org" = String, Path), ReceiptsQuery),
    responses((status = 200, body = Vec<ReceiptBody>), (status = 400, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn receipts(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    query: Result<Query<ReceiptsQuery>, QueryRejection>,
) -> ApiResult<AppJson<Vec<ReceiptBody>>> {
    let Query(q) = query?;
    let pair = match (&q.base, &q.quote) {
        (Some(a), Some(b)) => Some((a.as_str(), b.as_str())),
        (Some(one), None) | (None, Some(one)) => Some((one.as_str(), "")),
        (None, None) => None,
    };
    let (found, scales) = state
        .core
        .exchange_receipts(&member, pair, q.before, q.limit.unwrap_or(20))
        .await?;
    let bodies = found
        .iter()
        .map(|r| receipt_body(r, &scales))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(AppJson(bodies))
}

/// One round's result for one of the caller's own orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderFillBody {
    pub round: i64,
    /// The same fill's reference in the round's receipt.
    pub reference: String,
    pub sold: String,
    pub bought: String,
    pub why: String,
}

fn own_fill_body(f: &OwnFill, scales: &HashMap<String, Scale>) -> Result<OrderFillBody, Error> {
    Ok(OrderFillBody {
        round: f.round,
        reference: f.reference.clone(),
        sold: format_minor(f.sold, scale_of(scales, &f.sell)?),
        bought: format_minor(f.bought, scale_of(scales, &f.buy)?),
        why: f.why.clone(),
    })
}

#[utoipa::path(get, path = "/v1/orgs/{org}/exchange/orders/{id}/fills", tag = "exchange",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Vec<OrderFillBody>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn order_fills(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, i64)>,
) -> ApiResult<AppJson<Vec<OrderFillBody>>> {
    let (fills, scales) = state.core.my_order_fills(&member, id).await?;
    let bodies = fills
        .iter()
        .map(|f| own_fill_body(f, &scales))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(AppJson(bodies))
}
