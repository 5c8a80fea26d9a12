//! Euro top-ups (issue 16): the org's terms, starting a top-up, onboarding the org's payment
//! account and its status. The provider's webhook is the `billing` crate's own route.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, Problem};
use super::ledger::idempotency_key;
use crate::domain::billing::accounts::{BillingStatus, OnboardingLink};
use crate::domain::billing::topups::{NewTopupTerms, TopupLink, TopupTerms};

/// A top-up as asked for: euros as decimal text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopupBody {
    /// Euros, e.g. "20" or "20.00".
    pub amount: String,
}

/// The org's top-up terms; null while it has set none.
#[utoipa::path(get, path = "/v1/orgs/{org}/billing/topup-terms", tag = "billing",
    params(("org" = String, Path)),
    responses((status = 200, body = Option<TopupTerms>), (status = 404, body = Problem)))]
pub async fn get_terms(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Option<TopupTerms>>> {
    Ok(AppJson(state.core.topup_terms(&member).await?))
}

/// A treasurer or admin sets the terms; once the org has three members a new rate needs a
/// `change_topup_rate` proposal.
#[utoipa::path(put, path = "/v1/orgs/{org}/billing/topup-terms", request_body = NewTopupTerms, tag = "billing",
    params(("org" = String, Path)),
    responses((status = 200, body = TopupTerms), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn set_terms(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppJson(body): AppJson<NewTopupTerms>,
) -> ApiResult<AppJson<TopupTerms>> {
    Ok(AppJson(state.core.set_topup_terms(&member, body).await?))
}

/// A member starts a top-up and gets the page to pay on; coins come when the payment is final.
#[utoipa::path(post, path = "/v1/orgs/{org}/billing/topups", request_body = TopupBody, tag = "billing",
    params(("org" = String, Path), ("Idempotency-Key" = String, Header, description = "A retry with the same key returns the same page")),
    responses((status = 201, body = TopupLink), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn start_topup(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppJson(body): AppJson<TopupBody>,
) -> ApiResult<(StatusCode, AppJson<TopupLink>)> {
    let key = idempotency_key(&headers, &member)?;
    let link = state.core.start_topup(&member, &body.amount, key).await?;
    Ok((StatusCode::CREATED, AppJson(link)))
}

/// A treasurer or admin gets a link to onboard the org's payment account.
#[utoipa::path(post, path = "/v1/orgs/{org}/billing/onboarding", tag = "billing",
    params(("org" = String, Path)),
    responses((status = 200, body = OnboardingLink), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 503, body = Problem)))]
pub async fn onboarding(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<OnboardingLink>> {
    Ok(AppJson(state.core.billing_onboarding(&member).await?))
}

/// The org's payment account and euro reserve, for treasurers and admins.
#[utoipa::path(get, path = "/v1/orgs/{org}/billing", tag = "billing",
    params(("org" = String, Path)),
    responses((status = 200, body = BillingStatus), (status = 403, body = Problem)))]
pub async fn status(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<BillingStatus>> {
    Ok(AppJson(state.core.billing_status(&member).await?))
}
