//! Cash-outs (issue 16): a treasurer asks, another treasurer or admin approves below the org's
//! threshold (a proposal decides above it), the payout follows. The request and response types
//! here are the API's own, so the domain can change without changing the API.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, AppPath, Problem};
use super::ledger::idempotency_key;
use crate::domain::billing::cashouts::{Cashout, CashoutTerms};
use crate::domain::money::{Scale, format_minor};

/// A cash-out as asked for: coins of the org's top-up currency, as decimal text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashoutBody {
    /// Coins, e.g. "30" or "30.00".
    pub amount: String,
}

/// A cash-out.
#[derive(Debug, Serialize, ToSchema)]
pub struct CashoutView {
    pub id: i64,
    /// The treasurer who asked (their account pays the coins).
    pub requester: i64,
    pub currency: String,
    /// Coins out of the treasurer's account, in the currency's scale.
    pub coins: String,
    /// The exit fee's part of them, to the community fund.
    pub fee: String,
    /// The euros the rest is worth at the org's rate, e.g. "19.60".
    pub euros: String,
    pub euros_cents: i64,
    /// `person`: another treasurer or admin approves; `proposal`: a vote decides.
    pub approval: String,
    /// pending, escrowed, requested, paid, failed or rejected.
    pub status: String,
    pub approver: Option<i64>,
    pub proposal: Option<i64>,
    /// The payment provider's payout, once asked for.
    pub payout: Option<String>,
}

impl From<Cashout> for CashoutView {
    fn from(c: Cashout) -> Self {
        let euros =
            Scale::new(2).map_or_else(|_| c.cents.to_string(), |s| format_minor(c.cents, s));
        Self {
            id: c.id,
            requester: c.requester.0,
            currency: c.currency.as_str().to_owned(),
            coins: c.coins,
            fee: c.fee,
            euros,
            euros_cents: c.cents,
            approval: c.approval,
            status: c.status,
            approver: c.approver.map(|u| u.0),
            proposal: c.proposal,
            payout: c.payout,
        }
    }
}

/// The org's cash-out terms as asked for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashoutTermsBody {
    /// Euros, e.g. "100": from this amount on a proposal decides a cash-out.
    pub threshold: String,
    /// The exit fee in basis points (0–5000) of each cash-out's coins, to the community fund.
    pub exit_fee_bp: i32,
}

/// The org's cash-out terms.
#[derive(Debug, Serialize, ToSchema)]
pub struct CashoutTermsView {
    pub threshold_cents: i64,
    pub exit_fee_bp: i32,
}

impl From<CashoutTerms> for CashoutTermsView {
    fn from(t: CashoutTerms) -> Self {
        Self {
            threshold_cents: t.threshold_cents,
            exit_fee_bp: t.exit_fee_bp,
        }
    }
}

/// The org's cash-out terms, for treasurers and admins.
#[utoipa::path(get, path = "/v1/orgs/{org}/billing/cashout-terms", tag = "billing",
    params(("org" = String, Path)),
    responses((status = 200, body = CashoutTermsView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_terms(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<CashoutTermsView>> {
    Ok(AppJson(state.core.cashout_terms(&member).await?.into()))
}

/// An admin sets the threshold and the exit fee.
#[utoipa::path(put, path = "/v1/orgs/{org}/billing/cashout-terms", request_body = CashoutTermsBody, tag = "billing",
    params(("org" = String, Path)),
    responses((status = 200, body = CashoutTermsView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn set_terms(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppJson(body): AppJson<CashoutTermsBody>,
) -> ApiResult<AppJson<CashoutTermsView>> {
    let terms = state
        .core
        .set_cashout_terms(&member, &body.threshold, body.exit_fee_bp)
        .await?;
    Ok(AppJson(terms.into()))
}

/// A treasurer asks to cash out coins from their own account.
#[utoipa::path(post, path = "/v1/orgs/{org}/billing/cashouts", request_body = CashoutBody, tag = "billing",
    params(("org" = String, Path), ("Idempotency-Key" = String, Header, description = "A retry with the same key returns the same cash-out")),
    responses((status = 201, body = CashoutView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn request(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppJson(body): AppJson<CashoutBody>,
) -> ApiResult<(StatusCode, AppJson<CashoutView>)> {
    let key = idempotency_key(&headers, &member)?;
    let cashout = state
        .core
        .request_cashout(&member, &body.amount, key)
        .await?;
    Ok((StatusCode::CREATED, AppJson(cashout.into())))
}

/// A cash-out, for treasurers and admins.
#[utoipa::path(get, path = "/v1/orgs/{org}/billing/cashouts/{id}", tag = "billing",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = CashoutView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, i64)>,
) -> ApiResult<AppJson<CashoutView>> {
    Ok(AppJson(state.core.cashout(&member, id).await?.into()))
}

/// Another treasurer or admin approves a cash-out below the threshold.
#[utoipa::path(post, path = "/v1/orgs/{org}/billing/cashouts/{id}/approve", tag = "billing",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = CashoutView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn approve(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, i64)>,
) -> ApiResult<AppJson<CashoutView>> {
    Ok(AppJson(
        state.core.approve_cashout(&member, id).await?.into(),
    ))
}
