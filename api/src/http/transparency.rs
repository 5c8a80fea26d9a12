//! The journal's Merkle log (issue 20): the org's public key, signed tree heads, and the proofs a
//! member checks them with (`coinsence audit verify --url`). The heads are also listed with the
//! seals (`GET /v1/orgs/{org}/ledger/seals`).

use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, Problem};
use crate::domain::ledger::tree_heads::{ConsistencyProof, InclusionProof, OrgKey, TreeHead};

/// The org's Ed25519 public key that signs its tree heads: pin it.
#[utoipa::path(get, path = "/v1/orgs/{org}/ledger/key", tag = "ledger", params(("org" = String, Path)),
    responses((status = 200, body = OrgKey)))]
pub async fn org_key(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<OrgKey>> {
    Ok(AppJson(state.core.org_key(&member).await?))
}

/// Every signed tree head, smallest first.
#[utoipa::path(get, path = "/v1/orgs/{org}/ledger/tree-heads", tag = "ledger", params(("org" = String, Path)),
    responses((status = 200, body = Vec<TreeHead>)))]
pub async fn tree_heads(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Vec<TreeHead>>> {
    Ok(AppJson(state.core.tree_heads(&member).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The journal entry (transfer id).
    pub transfer: i64,
    /// A published head's size; the latest head when absent.
    pub tree_size: Option<i64>,
}

/// The inclusion proof of an entry the caller may see (their own; any, for those who see every
/// account) in a tree head: the entry's canonical line and hashes only.
#[utoipa::path(get, path = "/v1/orgs/{org}/ledger/proofs/inclusion", tag = "ledger",
    params(("org" = String, Path), InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn inclusion(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    query: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<AppJson<InclusionProof>> {
    let Query(q) = query?;
    Ok(AppJson(
        state
            .core
            .inclusion_proof(&member, q.transfer, q.tree_size)
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The earlier head's size.
    pub first: i64,
    /// The later head's size.
    pub second: i64,
}

/// The consistency proof between two published tree heads: the later extends the earlier.
#[utoipa::path(get, path = "/v1/orgs/{org}/ledger/proofs/consistency", tag = "ledger",
    params(("org" = String, Path), ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 404, body = Problem)))]
pub async fn consistency(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    query: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<AppJson<ConsistencyProof>> {
    let Query(q) = query?;
    Ok(AppJson(
        state
            .core
            .consistency_proof(&member, q.first, q.second)
            .await?,
    ))
}
