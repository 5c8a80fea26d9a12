//! Projects: raising money for shares, investing, and spending once funded.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, AppPath, Problem};
use super::ledger::{TransferDto, idempotency_key, optional_idempotency_key};
use super::page_limit;
use crate::domain::governance::projects::{
    InvestmentView, NewProject, ProjectPayment, ProjectView,
};
use crate::domain::ids::{AccountId, ProjectId, UserId};
use crate::domain::ledger::AccountRef;
use crate::error::Error;
use crate::refusal::Refusal;

#[utoipa::path(post, path = "/v1/orgs/{org}/projects", request_body = NewProject, tag = "projects",
    params(("org" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key and body answers what the first request created")),
    responses((status = 201, body = ProjectView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_project(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppJson(body): AppJson<NewProject>,
) -> ApiResult<(StatusCode, AppJson<ProjectView>)> {
    Ok((
        StatusCode::CREATED,
        AppJson(
            state
                .core
                .create_project(&member, body, optional_idempotency_key(&headers, &member)?)
                .await?,
        ),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProjectQuery {
    /// Only projects older than this id (the last id of the previous page).
    pub before: Option<ProjectId>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/projects", tag = "projects", params(("org" = String, Path), ProjectQuery),
    responses((status = 200, body = Vec<ProjectView>), (status = 400, body = Problem)))]
pub async fn list_projects(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    query: Result<Query<ProjectQuery>, QueryRejection>,
) -> ApiResult<AppJson<Vec<ProjectView>>> {
    let Query(q) = query?;
    let limit = page_limit(q.limit)?;
    Ok(AppJson(
        state.core.projects(&member, q.before, limit).await?,
    ))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/projects/{id}", tag = "projects",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = ProjectView), (status = 404, body = Problem)))]
pub async fn get_project(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, ProjectId)>,
) -> ApiResult<AppJson<ProjectView>> {
    Ok(AppJson(state.core.project(&member, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvestBody {
    /// Decimal text in the project's currency.
    #[schema(example = "25")]
    pub amount: String,
}

#[utoipa::path(post, path = "/v1/orgs/{org}/projects/{id}/investments", request_body = InvestBody, tag = "projects",
    params(("org" = String, Path), ("id" = i64, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 201, body = InvestmentView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn invest(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, ProjectId)>,
    headers: HeaderMap,
    AppJson(body): AppJson<InvestBody>,
) -> ApiResult<(StatusCode, AppJson<InvestmentView>)> {
    let key = idempotency_key(&headers, &member)?;
    Ok((
        StatusCode::CREATED,
        AppJson(state.core.invest(&member, id, &body.amount, key).await?),
    ))
}

/// A payment out of a funded project by its owner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPaymentBody {
    /// The receiving account; give this or `to_member`.
    pub to_account: Option<AccountId>,
    pub to_member: Option<UserId>,
    pub amount: String,
    #[serde(default)]
    pub memo: String,
}

#[utoipa::path(post, path = "/v1/orgs/{org}/projects/{id}/payments", request_body = ProjectPaymentBody, tag = "projects",
    params(("org" = String, Path), ("id" = i64, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 201, body = TransferDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn pay_from_project(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, ProjectId)>,
    headers: HeaderMap,
    AppJson(body): AppJson<ProjectPaymentBody>,
) -> ApiResult<(StatusCode, AppJson<TransferDto>)> {
    let key = idempotency_key(&headers, &member)?;
    let to = match (body.to_account, body.to_member) {
        (Some(id), None) => AccountRef::Id(id),
        (None, Some(user)) => AccountRef::Member(user),
        _ => {
            return Err(Error::from(Refusal::ExactlyOneRecipient {
                field: "to_account",
            })
            .into());
        }
    };
    let payment = ProjectPayment {
        to,
        amount: body.amount,
        memo: body.memo,
    };
    let receipt = state
        .core
        .pay_from_project(&member, id, payment, key)
        .await?;
    Ok((StatusCode::CREATED, AppJson(receipt.into())))
}
