//! Who is calling. Each handler states it by the extractor it takes: [`Caller`] (any valid
//! token) or [`OrgMember`] (a valid token of a member of the org in the path). A missing or bad
//! token is 401 everywhere.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use super::language::learn;
use crate::domain::identity::{ApiToken, User};
use crate::domain::orgs::{Member, Payer};
use crate::error::Error;
use crate::refusal::Refusal;

fn bearer(parts: &Parts) -> Result<ApiToken, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::Unauthorized)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .ok_or(Error::Unauthorized)?;
    Ok(ApiToken::from_presented(token))
}

/// The bearer token itself (for revoking it).
pub struct Presented(pub ApiToken);

impl FromRequestParts<AppState> for Presented {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(bearer(parts)?))
    }
}

/// Any authenticated user.
pub struct Caller(pub User);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let user = state.core.user_for_token(&token).await?;
        learn(parts, |readers| readers.user(&user));
        Ok(Self(user))
    }
}

/// A member of the org named by the `{org}` path segment.
pub struct OrgMember(pub Member);

impl FromRequestParts<AppState> for OrgMember {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, slug) = token_and_org(parts, state).await?;
        let member = state.core.member_for_token(&token, &slug).await?;
        learn(parts, |readers| readers.member(&member));
        Ok(Self(member))
    }
}

/// A member of the org in the path, about to pay (see [`crate::Core::payer_for_token`]).
pub struct OrgPayer(pub Payer);

impl FromRequestParts<AppState> for OrgPayer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, slug) = token_and_org(parts, state).await?;
        let payer = state.core.payer_for_token(&token, &slug).await?;
        learn(parts, |readers| readers.member(&payer.member));
        Ok(Self(payer))
    }
}

/// The bearer token and the `{org}` path segment it is presented to.
async fn token_and_org(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(ApiToken, String), ApiError> {
    let token = bearer(parts)?;
    let params = RawPathParams::from_request_parts(parts, state).await?;
    let slug = params
        .iter()
        .find(|(name, _)| *name == "org")
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| Error::from(Refusal::OrgNotFound))?;
    Ok((token, slug))
}

impl From<axum::extract::rejection::RawPathParamsRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::RawPathParamsRejection) -> Self {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_path",
            rejection.body_text(),
        )
    }
}
