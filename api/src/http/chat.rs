//! Chat: connect codes for binding rooms, and exchanging a `/link` login for a token.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::OrgMember;
use super::error::{ApiResult, AppJson, Problem};
use super::orgs::SessionView;
use crate::domain::chat;

/// A one-time code, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct OneTimeCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

impl From<chat::OneTimeCode> for OneTimeCode {
    fn from(c: chat::OneTimeCode) -> Self {
        Self {
            code: c.code,
            expires_at: c.expires_at,
        }
    }
}

/// An admin gets a one-time code; typing `/connect <code>` in a room where the bot is binds that
/// room to the org. It expires after 24 hours and works once.
#[utoipa::path(post, path = "/v1/orgs/{org}/chat/connect-codes", tag = "chat",
    params(("org" = String, Path, description = "org slug")),
    responses((status = 201, body = OneTimeCode), (status = 403, body = Problem)))]
pub async fn create_connect_code(
    State(state): State<AppState>,
    OrgMember(admin): OrgMember,
) -> ApiResult<(StatusCode, AppJson<OneTimeCode>)> {
    let code = state.core.create_connect_code(&admin).await?;
    Ok((StatusCode::CREATED, AppJson(code.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginLinkBody {
    /// The code `/link` gave in chat.
    pub code: String,
}

/// Exchanges a one-time login from `/link` for a token. Unknown, used and expired codes are 401.
#[utoipa::path(post, path = "/v1/login/link", request_body = LoginLinkBody, tag = "identity",
    responses((status = 200, body = SessionView), (status = 401, body = Problem)))]
pub async fn redeem_login_link(
    State(state): State<AppState>,
    AppJson(body): AppJson<LoginLinkBody>,
) -> ApiResult<AppJson<SessionView>> {
    let (user, token) = state.core.redeem_login_link(&body.code).await?;
    Ok(AppJson(SessionView {
        user,
        token: token.expose().to_owned(),
        org: None,
    }))
}
