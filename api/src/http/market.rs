//! The market: offers and needs, buying, closing.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, AppPath, Problem};
use super::ledger::{idempotency_key, optional_idempotency_key};
use super::page_limit;
use crate::domain::governance::market::{self, ListingStatus, ListingView, NewListing};
use crate::domain::ids::ListingId;
use crate::domain::ids::{PurchaseId, TransferId, UserId};
use crate::domain::ledger::CurrencyCode;

#[utoipa::path(post, path = "/v1/orgs/{org}/listings", request_body = NewListing, tag = "market",
    params(("org" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key and body answers what the first request created")),
    responses((status = 201, body = ListingView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_listing(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppJson(body): AppJson<NewListing>,
) -> ApiResult<(StatusCode, AppJson<ListingView>)> {
    Ok((
        StatusCode::CREATED,
        AppJson(
            state
                .core
                .create_listing(&member, body, optional_idempotency_key(&headers, &member)?)
                .await?,
        ),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListingQuery {
    /// Default `open`.
    pub status: Option<ListingStatus>,
    /// Only listings older than this id (the last id of the previous page).
    pub before: Option<ListingId>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/listings", tag = "market", params(("org" = String, Path), ListingQuery),
    responses((status = 200, body = Vec<ListingView>), (status = 400, body = Problem)))]
pub async fn list_listings(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    query: Result<Query<ListingQuery>, QueryRejection>,
) -> ApiResult<AppJson<Vec<ListingView>>> {
    let Query(q) = query?;
    let status = q.status.unwrap_or(ListingStatus::Open);
    let limit = page_limit(q.limit)?;
    Ok(AppJson(
        state
            .core
            .listings(&member, Some(status), q.before, limit)
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/listings/{id}", tag = "market",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = ListingView), (status = 404, body = Problem)))]
pub async fn get_listing(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, ListingId)>,
) -> ApiResult<AppJson<ListingView>> {
    Ok(AppJson(state.core.listing(&member, id).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseView {
    pub id: PurchaseId,
    pub listing_id: ListingId,
    pub buyer_user_id: UserId,
    pub currency: CurrencyCode,
    pub price: String,
    /// How much of the listing's pledge this purchase redeemed.
    pub redeemed: String,
    pub transfer_id: TransferId,
    pub created_at: DateTime<Utc>,
}

impl From<market::PurchaseView> for PurchaseView {
    fn from(p: market::PurchaseView) -> Self {
        Self {
            id: p.id,
            listing_id: p.listing_id,
            buyer_user_id: p.buyer_user_id,
            currency: p.currency,
            price: p.price,
            redeemed: p.redeemed,
            transfer_id: p.transfer_id,
            created_at: p.created_at,
        }
    }
}

#[utoipa::path(post, path = "/v1/orgs/{org}/listings/{id}/purchases", tag = "market",
    params(("org" = String, Path), ("id" = i64, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 201, body = PurchaseView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn buy(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, ListingId)>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, AppJson<PurchaseView>)> {
    let key = idempotency_key(&headers, &member)?;
    Ok((
        StatusCode::CREATED,
        AppJson(state.core.buy(&member, id, key).await?.into()),
    ))
}

#[utoipa::path(post, path = "/v1/orgs/{org}/listings/{id}/close", tag = "market",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = ListingView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn close_listing(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, ListingId)>,
) -> ApiResult<AppJson<ListingView>> {
    Ok(AppJson(state.core.close_listing(&member, id).await?))
}
