//! The org's feed. Posts and comments made here come from the web.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, AppPath, Problem};
use super::ledger::optional_idempotency_key;
use super::page_limit;
use crate::domain::governance::feed::{CommentView, NewPost, Platform, PostView, Thread};
use crate::domain::ids::{CommentId, PostId};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostBody {
    pub body: String,
}

impl PostBody {
    fn on_web(self) -> NewPost {
        NewPost {
            body: self.body,
            platform: Platform::Web,
        }
    }
}

#[utoipa::path(post, path = "/v1/orgs/{org}/posts", request_body = PostBody, tag = "feed",
    params(("org" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key and body answers what the first request created")),
    responses((status = 201, body = PostView), (status = 422, body = Problem)))]
pub async fn create_post(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppJson(body): AppJson<PostBody>,
) -> ApiResult<(StatusCode, AppJson<PostView>)> {
    Ok((
        StatusCode::CREATED,
        AppJson(
            state
                .core
                .post(
                    &member,
                    body.on_web(),
                    optional_idempotency_key(&headers, &member)?,
                )
                .await?,
        ),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only posts older than this id (the last id of the previous page).
    pub before: Option<PostId>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/posts", tag = "feed", params(("org" = String, Path), FeedQuery),
    responses((status = 200, body = Vec<PostView>), (status = 400, body = Problem)))]
pub async fn list_posts(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> ApiResult<AppJson<Vec<PostView>>> {
    let Query(q) = query?;
    let limit = page_limit(q.limit)?;
    Ok(AppJson(state.core.feed(&member, q.before, limit).await?))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/posts/{id}", tag = "feed",
    params(("org" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = Thread), (status = 404, body = Problem)))]
pub async fn get_post(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, PostId)>,
) -> ApiResult<AppJson<Thread>> {
    Ok(AppJson(state.core.thread(&member, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CommentQuery {
    /// Only comments newer than this id (the last id of the previous page, or a thread's
    /// `next_after`).
    pub after: Option<CommentId>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/posts/{id}/comments", tag = "feed",
    params(("org" = String, Path), ("id" = i64, Path), CommentQuery),
    responses((status = 200, body = Vec<CommentView>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list_comments(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppPath((_, id)): AppPath<(String, PostId)>,
    query: Result<Query<CommentQuery>, QueryRejection>,
) -> ApiResult<AppJson<Vec<CommentView>>> {
    let Query(q) = query?;
    let limit = page_limit(q.limit)?;
    Ok(AppJson(
        state.core.comments(&member, id, q.after, limit).await?,
    ))
}

#[utoipa::path(post, path = "/v1/orgs/{org}/posts/{id}/comments", request_body = PostBody, tag = "feed",
    params(("org" = String, Path), ("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key and body answers what the first request created")),
    responses((status = 201, body = CommentView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn comment(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    headers: HeaderMap,
    AppPath((_, id)): AppPath<(String, PostId)>,
    AppJson(body): AppJson<PostBody>,
) -> ApiResult<(StatusCode, AppJson<CommentView>)> {
    Ok((
        StatusCode::CREATED,
        AppJson(
            state
                .core
                .comment(
                    &member,
                    id,
                    body.on_web(),
                    optional_idempotency_key(&headers, &member)?,
                )
                .await?,
        ),
    ))
}
