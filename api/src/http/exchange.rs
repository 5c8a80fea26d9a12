//! The exchange: listed currencies, a member's limit orders.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, AppPath, Problem};
use super::ledger::idempotency_key;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::exchange::book::Quote;
use crate::domain::exchange::listings::Listing;
use crate::domain::exchange::orders::{NewOrder, OrderView};

#[utoipa::path(get, path = "/v1/orgs/{org}/exchange/listings", tag = "exchange",
    params(("org" = String, Path)),
    responses((status = 200, body = Vec<Listing>), (status = 403, body = Problem)))]
pub async fn list_listed(
    State(state): State<AppState>,
    OrgMember(_member): OrgMember,
) -> ApiResult<AppJson<Vec<Listing>>> {
    Ok(AppJson(state.core.exchange_listings().await?))
}

#[utoipa::path(post, path = "/v1/orgs/{org}/exchange/orders", request_body = NewOrder, tag = "exchange",
    params(("org" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 201, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn place_order(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppJson(body): AppJson<NewOrder>,
) -> ApiResult<(StatusCode, AppJson<OrderView>)> {
    let key = idempotency_key(&headers, &member)?;
    Ok((
        StatusCode::CREATED,
        AppJson(state.core.place_order(&member, body, Some(key)).await?),
    ))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/exchange/orders", tag = "exchange",
    params(("org" = String, Path)),
    responses((status = 200, body = Vec<OrderView>), (status = 403, body = Problem)))]
pub async fn my_orders(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Vec<OrderView>>> {
    Ok(AppJson(state.core.my_orders(&member).await?))
}

#[utoipa::path(post, path = "/v1/orgs/{org}/exchange/orders/{id}/cancel", tag = "exchange",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_order(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, i64)>,
) -> ApiResult<AppJson<OrderView>> {
    Ok(AppJson(state.core.cancel_order(&member, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QuoteQuery {
    /// One currency of the pair.
    pub sell: String,
    /// The other.
    pub buy: String,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/exchange/quote", tag = "exchange",
    params(("org" = String, Path), QuoteQuery),
    responses((status = 200, body = Quote), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn quote(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    query: Result<Query<QuoteQuery>, QueryRejection>,
) -> ApiResult<AppJson<Quote>> {
    let Query(q) = query?;
    Ok(AppJson(
        state.core.exchange_quote(&member, &q.sell, &q.buy).await?,
    ))
}
