//! Signing up, logging in, orgs and their members.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, OrgMember, Presented};
use super::client_addr::ClientAddr;
use super::error::{ApiResult, AppJson, AppPath, Problem};
use crate::domain::identity::{self, Role, User};
use crate::domain::ids::{TokenId, UserId};
use crate::domain::joining_grant::JoiningGrant;
use crate::domain::orgs::{self, NewOrg, parse_org_name};
use crate::domain::tenancy::{OrgSlug, Tenant};
use crate::error::Error;
use crate::i18n::Lang;

/// One of a person's tokens as they see it in their list (never the secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: TokenId,
    /// How it was made: `signup`, `login`, `login link`, ...
    pub label: String,
    pub created_at: DateTime<Utc>,
    /// When it was last seen in use (recorded at most once a day).
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// The token this request was made with.
    pub current: bool,
}

impl From<identity::TokenInfo> for TokenInfo {
    fn from(t: identity::TokenInfo) -> Self {
        Self {
            id: t.id,
            label: t.label,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
            current: t.current,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberInfo {
    pub user_id: UserId,
    pub display_name: String,
    pub role: Role,
}

impl From<orgs::MemberInfo> for MemberInfo {
    fn from(m: orgs::MemberInfo) -> Self {
        Self {
            user_id: m.user_id,
            display_name: m.display_name,
            role: m.role,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgBody {
    pub slug: String,
    pub name: String,
    /// Whether anyone may join (default true).
    #[serde(default)]
    pub open: Option<bool>,
    /// The org's default language, `en` (default) or `de`: what its rooms read, and anyone
    /// whose own language is not known.
    #[serde(default)]
    pub language: Option<Lang>,
}

impl NewOrgBody {
    fn parse(self) -> crate::Result<NewOrg> {
        Ok(NewOrg {
            slug: OrgSlug::parse(&self.slug)?,
            name: parse_org_name(&self.name)?,
            open: self.open.unwrap_or(true),
            language: self.language.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    pub email: String,
    pub password: String,
    pub display_name: String,
    /// Create an org with this user as its owner.
    pub org: Option<NewOrgBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub slug: String,
    pub name: String,
    pub open: bool,
    pub created_at: DateTime<Utc>,
    /// The org's default language.
    pub language: Lang,
    /// The caller's role in this org.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// What each new member is given when they join (`GET` and `PATCH` of the org say it;
    /// `null` there: nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<GrantView>)]
    pub joining_grant: Option<Option<GrantView>>,
}

/// The joining grant: an amount of the org's default currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    /// Decimal text, e.g. "20.00".
    pub amount: String,
    pub currency: String,
}

impl GrantView {
    fn new(grant: Option<JoiningGrant>) -> Option<Self> {
        grant.map(|g| Self {
            amount: g.decimal(),
            currency: g.currency.code.as_str().to_owned(),
        })
    }
}

impl OrgView {
    fn new(t: Tenant, role: Option<Role>) -> Self {
        Self {
            slug: t.slug.to_string(),
            name: t.name,
            open: t.open,
            created_at: t.created_at,
            language: t.language,
            role,
            joining_grant: None,
        }
    }

    fn with_grant(mut self, grant: Option<JoiningGrant>) -> Self {
        self.joining_grant = Some(GrantView::new(grant));
        self
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub user: User,
    /// Bearer token; shown once, stored only as a hash.
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgView>,
}

#[utoipa::path(post, path = "/v1/signup", request_body = SignupBody, tag = "identity",
    responses((status = 201, body = SessionView), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 429, description = "too many new orgs from this address today", body = Problem)))]
pub async fn signup(
    State(state): State<AppState>,
    ClientAddr(from): ClientAddr,
    AppJson(body): AppJson<SignupBody>,
) -> ApiResult<(StatusCode, AppJson<SessionView>)> {
    let org = body.org.map(NewOrgBody::parse).transpose()?;
    let done = state
        .core
        .signup_from(&body.email, body.password, &body.display_name, org, from)
        .await?;
    Ok((
        StatusCode::CREATED,
        AppJson(SessionView {
            user: done.user,
            token: done.token.expose().to_owned(),
            org: done.org.map(|t| OrgView::new(t, Some(Role::Owner))),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[utoipa::path(post, path = "/v1/login", request_body = LoginBody, tag = "identity",
    responses((status = 200, body = SessionView), (status = 401, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    AppJson(body): AppJson<LoginBody>,
) -> ApiResult<AppJson<SessionView>> {
    // A locked account answers 429 before any password is looked at, whoever asks.
    state.limits.check_login(&body.email)?;
    let (user, token) = match state.core.login(&body.email, body.password).await {
        Ok(session) => session,
        Err(Error::Unauthorized) => {
            state.limits.login_failed(&body.email);
            return Err(Error::Unauthorized.into());
        }
        Err(e) => return Err(e.into()),
    };
    state.limits.login_succeeded(&body.email);
    Ok(AppJson(SessionView {
        user,
        token: token.expose().to_owned(),
        org: None,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogoutQuery {
    /// Revoke every token of the caller, not only this one (log out everywhere).
    pub all: Option<bool>,
}

#[utoipa::path(post, path = "/v1/logout", tag = "identity", params(LogoutQuery),
    responses((status = 204, description = "the token (with `all=true`: every token of its owner) is revoked"),
        (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    Presented(token): Presented,
    query: Result<Query<LogoutQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<StatusCode> {
    let Query(q) = query?;
    state.core.logout(&token, q.all.unwrap_or(false)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/tokens", tag = "identity",
    responses((status = 200, description = "The caller's live tokens, newest first (never the secrets)", body = Vec<TokenInfo>),
        (status = 401, body = Problem)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Presented(token): Presented,
) -> ApiResult<AppJson<Vec<TokenInfo>>> {
    let tokens = state.core.tokens(&token).await?;
    Ok(AppJson(tokens.into_iter().map(TokenInfo::from).collect()))
}

#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "identity", params(("id" = i64, Path)),
    responses((status = 204, description = "the token is revoked"), (status = 401, body = Problem),
        (status = 404, description = "no live token of the caller's with that id", body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Presented(token): Presented,
    AppPath(id): AppPath<TokenId>,
) -> ApiResult<StatusCode> {
    state.core.revoke_token(&token, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/orgs", request_body = NewOrgBody, tag = "orgs",
    responses((status = 201, body = OrgView), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 429, description = "too many new orgs by this person or from this address today", body = Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    Caller(user): Caller,
    ClientAddr(from): ClientAddr,
    AppJson(body): AppJson<NewOrgBody>,
) -> ApiResult<(StatusCode, AppJson<OrgView>)> {
    let tenant = state
        .core
        .create_org_from(&user, body.parse()?, from)
        .await?;
    Ok((
        StatusCode::CREATED,
        AppJson(OrgView::new(tenant, Some(Role::Owner))),
    ))
}

#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "orgs", params(("org" = String, Path)),
    responses((status = 200, body = OrgView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_org(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<OrgView>> {
    let grant = state.core.joining_grant(&member.tenant).await?;
    Ok(AppJson(
        OrgView::new(member.tenant, Some(member.role)).with_grant(grant),
    ))
}

#[utoipa::path(post, path = "/v1/orgs/{org}/join", tag = "orgs", params(("org" = String, Path)),
    responses((status = 200, body = OrgView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn join(
    State(state): State<AppState>,
    Caller(user): Caller,
    axum::extract::Path(org): axum::extract::Path<String>,
) -> ApiResult<AppJson<OrgView>> {
    let member = state.core.join(&user, &org).await?;
    Ok(AppJson(OrgView::new(member.tenant, Some(member.role))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberBody {
    pub email: String,
    /// Default `member`.
    pub role: Option<Role>,
}

#[utoipa::path(post, path = "/v1/orgs/{org}/members", request_body = AddMemberBody, tag = "orgs",
    params(("org" = String, Path)),
    responses((status = 201, body = MemberInfo), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn add_member(
    State(state): State<AppState>,
    OrgMember(admin): OrgMember,
    AppJson(body): AppJson<AddMemberBody>,
) -> ApiResult<(StatusCode, AppJson<MemberInfo>)> {
    let info = state
        .core
        .add_member(&admin, &body.email, body.role.unwrap_or(Role::Member))
        .await?;
    Ok((StatusCode::CREATED, AppJson(info.into())))
}

#[utoipa::path(get, path = "/v1/orgs/{org}/members", tag = "orgs", params(("org" = String, Path)),
    responses((status = 200, body = Vec<MemberInfo>), (status = 403, body = Problem)))]
pub async fn list_members(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
) -> ApiResult<AppJson<Vec<MemberInfo>>> {
    let members = state.core.members(&member).await?;
    Ok(AppJson(members.into_iter().map(MemberInfo::from).collect()))
}

/// A change to the caller. Only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    /// The language the caller reads everywhere: `en`, `de`, or `null` to let their chat
    /// platform or the org decide again.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<Lang>)]
    pub language: Option<Option<Lang>>,
}

/// A field that is present, even as `null` (absent stays `None`).
fn given<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(de).map(Some)
}

#[utoipa::path(get, path = "/v1/me", tag = "identity",
    responses((status = 200, description = "The caller", body = User), (status = 401, body = Problem)))]
pub async fn get_me(Caller(user): Caller) -> ApiResult<AppJson<User>> {
    Ok(AppJson(user))
}

#[utoipa::path(patch, path = "/v1/me", request_body = MePatch, tag = "identity",
    responses((status = 200, description = "The caller as they are now", body = User),
        (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn patch_me(
    State(state): State<AppState>,
    Caller(user): Caller,
    AppJson(body): AppJson<MePatch>,
) -> ApiResult<AppJson<User>> {
    let user = match body.language {
        Some(language) => state.core.set_user_language(user.id, language).await?,
        None => user,
    };
    Ok(AppJson(user))
}

/// A change to an org, by an admin. Only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    /// The org's default language (`en`, `de`): what its rooms read, and anyone whose own
    /// language is not known.
    #[serde(default)]
    pub language: Option<Lang>,
    /// What each new member is given once when they join (chat, API or portal), from the
    /// issuance account: an amount of the org's default currency (its first coin), as decimal
    /// text; "0" turns it off.
    #[serde(default)]
    #[schema(example = "20.00")]
    pub joining_grant: Option<String>,
}

#[utoipa::path(patch, path = "/v1/orgs/{org}", request_body = OrgPatch, tag = "orgs", params(("org" = String, Path)),
    responses((status = 200, body = OrgView), (status = 403, description = "not an admin of this org", body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn patch_org(
    State(state): State<AppState>,
    OrgMember(member): OrgMember,
    AppJson(body): AppJson<OrgPatch>,
) -> ApiResult<AppJson<OrgView>> {
    member.require_admin()?;
    let mut tenant = member.tenant.clone();
    if let Some(language) = body.language {
        state.core.set_org_language(&member, language).await?;
        tenant.language = language;
    }
    let grant = match body.joining_grant {
        Some(amount) => state.core.set_joining_grant(&member, &amount).await?,
        None => state.core.joining_grant(&tenant).await?,
    };
    Ok(AppJson(
        OrgView::new(tenant, Some(member.role)).with_grant(grant),
    ))
}
