//! Scheduled issuance policies and the journal's seals.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, AppPath, Problem};
use super::replays::Replay;
use crate::domain::ledger::issuance::{IssuancePolicyView, NewIssuancePolicy};
use crate::domain::ledger::seal::{Seal, SealAudit};

/// An admin sets up scheduled issuance (and/or demurrage) for a coin currency; the worker runs
/// it every period. One active policy per currency.
#[utoipa::path(post, path = "/v1/orgs/{org}/issuance-policies", request_body = NewIssuancePolicy, tag = "ledger",
    params(("org" = String, Path)),
    responses((status = 201, body = IssuancePolicyView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_policy(
    State(state): State<AppState>,
    OrgMember(admin): OrgMember,
    AppJson(body): AppJson<NewIssuancePolicy>,
) -> ApiResult<(StatusCode, AppJson<IssuancePolicyView>)> {
    let view = state.core.create_issuance_policy(&admin, body).await?;
    Ok((StatusCode::CREATED, AppJson(view)))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/issuance-policies", tag = "ledger", params(("org" = String, Path)),
    responses((status = 200, body = Vec<IssuancePolicyView>)))]
pub async fn list_policies(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Vec<IssuancePolicyView>>> {
    Ok(AppJson(state.core.issuance_policies(&member).await?))
}

/// Ends a policy: no period starting after now runs.
#[utoipa::path(delete, path = "/v1/orgs/{org}/issuance-policies/{id}", tag = "ledger",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = IssuancePolicyView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn end_policy(
    State(state): State<AppState>,
    OrgMember(admin): OrgMember,
    AppPath((_, id)): AppPath<(String, i64)>,
) -> ApiResult<AppJson<IssuancePolicyView>> {
    Ok(AppJson(state.core.end_issuance_policy(&admin, id).await?))
}

/// The published chain of journal seals, oldest first.
#[utoipa::path(get, path = "/v1/orgs/{org}/ledger/seals", tag = "ledger", params(("org" = String, Path)),
    responses((status = 200, body = Vec<Seal>)))]
pub async fn list_seals(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Vec<Seal>>> {
    Ok(AppJson(state.core.journal_seals(&member).await?))
}

/// Recomputes every seal from the journal and reports the first that no longer matches.
#[utoipa::path(get, path = "/v1/orgs/{org}/ledger/seals/verify", tag = "ledger", params(("org" = String, Path)),
    responses((status = 200, body = SealAudit)))]
pub async fn verify_seals(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<axum::response::Response> {
    // A full replay: shared, cached for members and limited (see `replays`).
    let fresh = member.role.is_admin();
    let audit = state
        .replays
        .run(Replay::Seals, member.tenant.id, fresh, || {
            state.core.audit_seals(&member.tenant)
        })
        .await?;
    Ok(audit)
}
