//! Who is asking: the session cookie, the form key of people not signed in, the `Origin` check
//! and the form token on every POST, and the extractors that say at each handler who may call
//! it ([`Visitor`], [`Person`], [`InOrg`], [`Admin`]).
//!
//! Cookies are `HttpOnly` and `SameSite=Lax`, and `Secure` when the portal is reached over https
//! (itself, or through a trusted proxy that says so). The form token is derived from the
//! session's secret ([`SessionSecret::form_token`]); before login, from a random form key in a
//! cookie of its own, so the login and signup forms are guarded too.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use coinsence_api::domain::identity::User;
use coinsence_api::domain::orgs::Member;
use coinsence_api::domain::portal_sessions::SessionSecret;
use coinsence_api::i18n::Lang;
use coinsence_api::refusal::Refusal;
use coinsence_api::{Error, Result};
use serde::de::DeserializeOwned;

use crate::Portal;
use crate::error::PortalError;

pub const SESSION_COOKIE: &str = "cs_session";
pub const FORM_COOKIE: &str = "cs_form";
/// The form field that carries the form token.
pub const TOKEN_FIELD: &str = "_csrf";
/// Forms are small; anything larger is refused before it is parsed.
const FORM_LIMIT: usize = 64 * 1024;

/// One cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Whether the person reached us over https.
fn over_https(portal: &Portal, headers: &HeaderMap) -> bool {
    portal.config.https
        || (portal.config.trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")))
}

/// A `Set-Cookie` value; `None` as the value clears the cookie.
pub fn set_cookie(
    portal: &Portal,
    headers: &HeaderMap,
    name: &str,
    value: Option<&str>,
) -> HeaderValue {
    let secure = if over_https(portal, headers) {
        "; Secure"
    } else {
        ""
    };
    let text = match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The language of someone we know nothing about yet: what their browser asks for.
pub fn browser_lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default()
}

/// What keys the forms of this request: the session's secret, else the form cookie (or the one
/// the middleware just made).
fn form_key(
    parts_headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<SessionSecret> {
    cookie(parts_headers, SESSION_COOKIE)
        .or_else(|| cookie(parts_headers, FORM_COOKIE))
        .map(SessionSecret::from_cookie)
        .or_else(|| extensions.get::<NewFormKey>().map(|k| k.0.clone()))
}

#[derive(Clone)]
struct NewFormKey(SessionSecret);

/// Middleware on every route: a POST must come from a page of ours (its `Origin`, or failing
/// that its `Referer`, names this host); and whoever has neither a session nor a form key gets
/// a form key, so the first form they see already carries a token.
pub async fn same_origin(State(portal): State<Portal>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    if req.method() == Method::POST && !from_here(&portal, headers) {
        let lang = browser_lang(headers);
        return PortalError::new(Error::from(Refusal::CrossOriginForm), lang).into_response();
    }
    let needs_key =
        cookie(headers, SESSION_COOKIE).is_none() && cookie(headers, FORM_COOKIE).is_none();
    let mut set = None;
    if needs_key {
        let key = SessionSecret::from_cookie(&new_form_key());
        set = Some(set_cookie(
            &portal,
            headers,
            FORM_COOKIE,
            Some(key.expose()),
        ));
        req.extensions_mut().insert(NewFormKey(key));
    }
    let mut response = next.run(req).await;
    if let Some(cookie) = set {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn new_form_key() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("pf_{}", hex::encode(bytes))
}

/// The request's `Origin` (or `Referer`) is this host, over the scheme we were reached by.
fn from_here(portal: &Portal, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let scheme = if over_https(portal, headers) {
        "https"
    } else {
        "http"
    };
    let expected = format!("{scheme}://{host}");
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => origin == expected,
        None => headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|r| r == expected || r.starts_with(&format!("{expected}/"))),
    }
}

/// The peer's address, when the server recorded it (per-address login limits).
pub fn client_addr(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// Anyone: their language and the token their forms carry.
pub struct Visitor {
    pub lang: Lang,
    pub form_token: String,
    pub addr: Option<IpAddr>,
    /// Signed in, if they are (the home page shows their orgs).
    pub secret: Option<SessionSecret>,
}

impl FromRequestParts<Portal> for Visitor {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, _: &Portal) -> Result<Self, PortalError> {
        let key = form_key(&parts.headers, &parts.extensions);
        Ok(Self {
            lang: browser_lang(&parts.headers),
            form_token: key.map(|k| k.form_token()).unwrap_or_default(),
            addr: client_addr(parts),
            secret: cookie(&parts.headers, SESSION_COOKIE).map(SessionSecret::from_cookie),
        })
    }
}

/// A person with a live session.
pub struct Person {
    pub user: User,
    pub secret: SessionSecret,
    pub lang: Lang,
}

impl Person {
    pub fn form_token(&self) -> String {
        self.secret.form_token()
    }
}

/// A person's language: their own choice, else their browser's.
pub fn person_lang(user: &User, headers: &HeaderMap) -> Lang {
    user.language.unwrap_or_else(|| browser_lang(headers))
}

fn is_get(parts: &Parts) -> bool {
    parts.method == Method::GET || parts.method == Method::HEAD
}

impl FromRequestParts<Portal> for Person {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, portal: &Portal) -> Result<Self, PortalError> {
        let lang = browser_lang(&parts.headers);
        let get = is_get(parts);
        let secret = cookie(&parts.headers, SESSION_COOKIE)
            .map(SessionSecret::from_cookie)
            .ok_or_else(|| PortalError::new(Error::Unauthorized, lang).on_get(get))?;
        let user = portal
            .core
            .portal_user(&secret)
            .await
            .map_err(|e| PortalError::new(e, lang).on_get(get))?;
        Ok(Self {
            lang: person_lang(&user, &parts.headers),
            user,
            secret,
        })
    }
}

/// A member of the org named in the path (`{org}`).
pub struct InOrg {
    pub member: Member,
    pub secret: SessionSecret,
    pub lang: Lang,
}

impl InOrg {
    pub fn form_token(&self) -> String {
        self.secret.form_token()
    }
}

impl FromRequestParts<Portal> for InOrg {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, portal: &Portal) -> Result<Self, PortalError> {
        let lang = browser_lang(&parts.headers);
        let get = is_get(parts);
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, portal)
            .await
            .map_err(|_| PortalError::new(Error::from(Refusal::OrgNotFound), lang))?;
        let slug = params.get("org").map(String::as_str).unwrap_or_default();
        let secret = cookie(&parts.headers, SESSION_COOKIE)
            .map(SessionSecret::from_cookie)
            .ok_or_else(|| PortalError::new(Error::Unauthorized, lang).on_get(get))?;
        let member = portal
            .core
            .portal_member(&secret, slug)
            .await
            .map_err(|e| PortalError::new(e, lang).on_get(get))?;
        Ok(Self {
            lang: person_lang(&member.user, &parts.headers),
            member,
            secret,
        })
    }
}

/// An admin of the org named in the path.
pub struct Admin(pub InOrg);

impl FromRequestParts<Portal> for Admin {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, portal: &Portal) -> Result<Self, PortalError> {
        let in_org = InOrg::from_request_parts(parts, portal).await?;
        in_org
            .member
            .require_admin()
            .map_err(|e| PortalError::new(e, in_org.lang))?;
        Ok(Self(in_org))
    }
}

/// A form whose token matched the session's (or the form key's): `T` from its fields. A form
/// without it, or with another's, is refused before anything reads it.
pub struct Posted<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Portal> for Posted<T> {
    type Rejection = PortalError;

    async fn from_request(req: Request, portal: &Portal) -> Result<Self, PortalError> {
        let lang = browser_lang(req.headers());
        let key = form_key(req.headers(), req.extensions());
        let expired = || PortalError::new(Error::from(Refusal::FormExpired), lang);
        let limited = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| expired())?;
        let _ = portal;
        parse_form(&limited, key.as_ref()).ok_or_else(expired)
    }
}

fn parse_form<T: DeserializeOwned>(body: &Bytes, key: Option<&SessionSecret>) -> Option<Posted<T>> {
    let key = key?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    let token = pairs
        .iter()
        .find(|(k, _)| k == TOKEN_FIELD)
        .map(|(_, v)| v)?;
    if !key.accepts_form_token(token) {
        return None;
    }
    serde_urlencoded::from_bytes(body).ok().map(Posted)
}

/// A handler's answer when it may still fail in the person's language.
pub type Page = std::result::Result<Response, PortalError>;
