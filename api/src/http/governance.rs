//! Rules, proposals, votes, closing what is due, and pledges.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, AppPath, Problem};
use super::language::reader_lang;
use super::ledger::optional_idempotency_key;
use super::page_limit;
use crate::domain::governance::Action;
use crate::domain::governance::kind::ProposalKind;
use crate::domain::governance::pledges::{self, NewPledge, PledgeView};
use crate::domain::governance::proposals::{
    CloseSummary, NewProposal, ProposalStatus, ProposalView,
};
use crate::domain::governance::rules::Rules;
use crate::domain::governance::tally::Choice;
use crate::domain::governance::tally::{Counts, DecisionRule};
use crate::domain::ids::{PledgeId, ProposalId, UserId};
use crate::domain::ledger::CurrencyCode;
use crate::i18n::Lang;

// A proposal as the API shows it (named `ProposalView` in the API document, as it always was):
// the reason rendered in the reader's language from its code and arguments.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ProposalView)]
pub struct ProposalBody {
    pub id: ProposalId,
    pub kind: ProposalKind,
    pub title: String,
    pub description: String,
    pub author_user_id: UserId,
    pub author_name: String,
    pub action: Action,
    pub status: ProposalStatus,
    /// The decision rule frozen when it opened.
    pub rule: DecisionRule,
    /// How many members could vote (the members when it opened).
    pub voters: i64,
    pub votes: Counts,
    /// The caller's current vote.
    pub my_vote: Option<Choice>,
    pub opened_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was rejected or failed.
    pub reason: Option<String>,
    /// The stable code of `reason`, e.g. `quorum_not_met` or `insufficient_funds`.
    pub reason_code: Option<String>,
}

impl ProposalBody {
    pub fn new(view: ProposalView, lang: Lang) -> Self {
        Self {
            id: view.id,
            kind: view.kind,
            title: view.title,
            description: view.description,
            author_user_id: view.author_user_id,
            author_name: view.author_name,
            action: view.action,
            status: view.status,
            rule: view.rule,
            voters: view.voters,
            votes: view.votes,
            my_vote: view.my_vote,
            opened_at: view.opened_at,
            closes_at: view.closes_at,
            closed_at: view.closed_at,
            reason_code: view.reason.as_ref().map(|r| r.code().to_owned()),
            reason: view.reason.map(|r| r.message(lang)),
        }
    }
}

#[utoipa::path(get, path = "/v1/orgs/{org}/rules", tag = "governance", params(("org" = String, Path)),
    responses((status = 200, body = Rules), (status = 403, body = Problem)))]
pub async fn get_rules(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Rules>> {
    Ok(AppJson(state.core.rules(&member).await?))
}

/// Admins set the rules directly only while the org has fewer than 3 members; after that, a
/// passed `change_rules` proposal does.
#[utoipa::path(put, path = "/v1/orgs/{org}/rules", request_body = Rules, tag = "governance",
    params(("org" = String, Path)),
    responses((status = 200, body = Rules), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set_rules(
    State(state): State<AppState>,
    OrgMember(admin): OrgMember,
    AppJson(rules): AppJson<Rules>,
) -> ApiResult<AppJson<Rules>> {
    Ok(AppJson(state.core.set_rules(&admin, rules).await?))
}

#[utoipa::path(post, path = "/v1/orgs/{org}/proposals", request_body = NewProposal, tag = "governance",
    params(("org" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key and body answers what the first request created")),
    responses((status = 201, body = ProposalBody), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn propose(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppJson(body): AppJson<NewProposal>,
) -> ApiResult<(StatusCode, AppJson<ProposalBody>)> {
    let view = state
        .core
        .propose(&member, body, optional_idempotency_key(&headers, &member)?)
        .await?;
    let lang = reader_lang(&member, &headers);
    Ok((StatusCode::CREATED, AppJson(ProposalBody::new(view, lang))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProposalQuery {
    pub status: Option<ProposalStatus>,
    /// Only proposals older than this id (the last id of the previous page).
    pub before: Option<ProposalId>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/proposals", tag = "governance", params(("org" = String, Path), ProposalQuery),
    responses((status = 200, body = Vec<ProposalBody>), (status = 400, body = Problem)))]
pub async fn list_proposals(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    query: Result<Query<ProposalQuery>, QueryRejection>,
) -> ApiResult<AppJson<Vec<ProposalBody>>> {
    let Query(q) = query?;
    let limit = page_limit(q.limit)?;
    let views = state
        .core
        .proposals(&member, q.status, q.before, limit)
        .await?;
    let lang = reader_lang(&member, &headers);
    Ok(AppJson(
        views
            .into_iter()
            .map(|view| ProposalBody::new(view, lang))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/proposals/{id}", tag = "governance",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = ProposalBody), (status = 404, body = Problem)))]
pub async fn get_proposal(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppPath((_, id)): AppPath<(String, ProposalId)>,
) -> ApiResult<AppJson<ProposalBody>> {
    let view = state.core.proposal(&member, id).await?;
    let lang = reader_lang(&member, &headers);
    Ok(AppJson(ProposalBody::new(view, lang)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    pub choice: Choice,
}

/// Casts or changes the caller's vote; answers the proposal as it stands after it (closed, if
/// this vote settled it).
#[utoipa::path(post, path = "/v1/orgs/{org}/proposals/{id}/votes", request_body = VoteBody, tag = "governance",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = ProposalBody), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Voting has closed", body = Problem), (status = 422, body = Problem)))]
pub async fn vote(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppPath((_, id)): AppPath<(String, ProposalId)>,
    AppJson(body): AppJson<VoteBody>,
) -> ApiResult<AppJson<ProposalBody>> {
    let view = state.core.vote(&member, id, body.choice).await?;
    let lang = reader_lang(&member, &headers);
    Ok(AppJson(ProposalBody::new(view, lang)))
}

/// What the worker does periodically, on demand for one org: close due proposals, settle
/// projects past their deadline, remind voters.
#[utoipa::path(post, path = "/v1/orgs/{org}/governance/close-due", tag = "governance", params(("org" = String, Path)),
    responses((status = 200, body = CloseSummary), (status = 403, body = Problem)))]
pub async fn close_due(
    State(state): State<AppState>,
    OrgMember(admin): OrgMember,
) -> ApiResult<AppJson<CloseSummary>> {
    admin.require_admin()?;
    Ok(AppJson(
        state.core.close_due(&admin.tenant, Utc::now()).await?,
    ))
}

#[utoipa::path(post, path = "/v1/orgs/{org}/pledges", request_body = NewPledge, tag = "governance",
    params(("org" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key and body answers what the first request created")),
    responses((status = 201, body = PledgeView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn pledge(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppJson(body): AppJson<NewPledge>,
) -> ApiResult<(StatusCode, AppJson<PledgeView>)> {
    Ok((
        StatusCode::CREATED,
        AppJson(
            state
                .core
                .pledge(&member, body, optional_idempotency_key(&headers, &member)?)
                .await?,
        ),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PledgeQuery {
    /// Only pledges older than this id (the last id of the previous page).
    pub before: Option<PledgeId>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/pledges", tag = "governance", params(("org" = String, Path), PledgeQuery),
    responses((status = 200, body = Vec<PledgeView>), (status = 400, body = Problem)))]
pub async fn list_pledges(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    query: Result<Query<PledgeQuery>, QueryRejection>,
) -> ApiResult<AppJson<Vec<PledgeView>>> {
    let Query(q) = query?;
    let limit = page_limit(q.limit)?;
    Ok(AppJson(state.core.pledges(&member, q.before, limit).await?))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/pledges/{id}", tag = "governance",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = PledgeView), (status = 404, body = Problem)))]
pub async fn get_pledge(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, PledgeId)>,
) -> ApiResult<AppJson<PledgeView>> {
    Ok(AppJson(state.core.pledge_by_id(&member, id).await?))
}

/// Per currency, over all pledges.
#[derive(Debug, Serialize, ToSchema)]
pub struct PledgeSummary {
    pub currency: CurrencyCode,
    /// Pledges waiting for their vote or approved (rejected ones do not count).
    pub pledged: String,
    pub issued: String,
    pub redeemed: String,
    pub outstanding: String,
}

impl From<pledges::PledgeSummary> for PledgeSummary {
    fn from(s: pledges::PledgeSummary) -> Self {
        Self {
            currency: s.currency,
            pledged: s.pledged,
            issued: s.issued,
            redeemed: s.redeemed,
            outstanding: s.outstanding,
        }
    }
}

#[utoipa::path(get, path = "/v1/orgs/{org}/pledges/summary", tag = "governance", params(("org" = String, Path)),
    responses((status = 200, description = "Pledged, issued, redeemed and outstanding per currency", body = Vec<PledgeSummary>)))]
pub async fn pledge_summary(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Vec<PledgeSummary>>> {
    let summary = state.core.pledge_summary(&member).await?;
    Ok(AppJson(
        summary.into_iter().map(PledgeSummary::from).collect(),
    ))
}
