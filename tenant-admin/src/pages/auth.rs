//! Signing up (a person and their org with its first currency), logging in (password, or the
//! one-time code `/link` gives in chat) and out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use coinsence_api::domain::ledger::CurrencyCode;
use coinsence_api::domain::ledger::ops::NewCurrency;
use coinsence_api::domain::orgs::NewOrg;
use coinsence_api::domain::portal_sessions::SessionSecret;
use coinsence_api::domain::tenancy::OrgSlug;
use coinsence_api::domain::text;
use coinsence_api::i18n::Lang;
use coinsence_api::refusal::Refusal;
use coinsence_api::{Error, Result};
use serde::Deserialize;

use super::Bare;
use crate::Portal;
use crate::error::PortalError;
use crate::page::{Ctx, FormError, render, split};
use crate::session::{
    FORM_COOKIE, Person, Posted, SESSION_COOKIE, Visitor, person_lang, set_cookie,
};

pub struct OrgLine {
    pub slug: String,
    pub name: String,
    pub role: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    p: Ctx,
    orgs: Vec<OrgLine>,
}

/// `/`: a person's orgs, or what Coinsence is and where to start.
pub async fn home(
    State(portal): State<Portal>,
    headers: HeaderMap,
    visitor: Visitor,
) -> Result<Response, PortalError> {
    let user = match &visitor.secret {
        Some(secret) => portal.core.portal_user(secret).await.ok(),
        None => None,
    };
    let Some(user) = user else {
        let page = Home {
            p: Ctx::visitor(visitor.lang, visitor.form_token),
            orgs: Vec::new(),
        };
        return render(StatusCode::OK, &page, visitor.lang);
    };
    let lang = person_lang(&user, &headers);
    let orgs = portal
        .core
        .my_orgs(&user)
        .await
        .map_err(|e| PortalError::new(e, lang))?;
    let mut p = Ctx::visitor(lang, visitor.form_token);
    p.user = Some(user.display_name.clone());
    let page = Home {
        p,
        orgs: orgs
            .into_iter()
            .map(|o| OrgLine {
                slug: o.tenant.slug.as_str().to_owned(),
                name: o.tenant.name,
                role: o.role.to_string(),
            })
            .collect(),
    };
    render(StatusCode::OK, &page, lang)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignupForm {
    pub display_name: String,
    pub email: String,
    pub password: String,
    pub name: String,
    pub slug: String,
    pub language: String,
    pub currency_code: String,
    pub currency_name: String,
    pub scale: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    p: Ctx,
    f: SignupForm,
    error: FormError,
}

pub async fn signup_form(visitor: Visitor) -> Result<Response, PortalError> {
    let lang = visitor.lang;
    let page = SignupPage {
        p: Ctx::visitor(lang, visitor.form_token),
        f: SignupForm {
            language: lang.as_str().to_owned(),
            scale: "2".to_owned(),
            ..SignupForm::default()
        },
        error: FormError::default(),
    };
    render(StatusCode::OK, &page, lang)
}

/// The currency's fields, checked before anything is created (so a bad currency leaves no org
/// behind): errors name the form's fields (`currency_code`, `currency_name`, `scale`).
fn check_currency(f: &SignupForm) -> Result<NewCurrency, (Error, &'static str)> {
    CurrencyCode::parse(&f.currency_code).map_err(|e| (e, "currency_code"))?;
    text::line("name", &f.currency_name, 1, 100).map_err(|e| (e, "currency_name"))?;
    let scale = f
        .scale
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| (0..=6).contains(s))
        .ok_or_else(|| {
            (
                Error::from(Refusal::ScaleOutOfRange {
                    field: "scale",
                    max: 6,
                }),
                "scale",
            )
        })?;
    Ok(NewCurrency {
        code: f.currency_code.trim().to_owned(),
        name: f.currency_name.trim().to_owned(),
        scale,
        credit_limit: None,
    })
}

pub async fn signup(
    State(portal): State<Portal>,
    headers: HeaderMap,
    visitor: Visitor,
    Posted(f): Posted<SignupForm>,
) -> Result<Response, PortalError> {
    let lang = Lang::from_tag(&f.language).unwrap_or(visitor.lang);
    let again = |f: SignupForm, error: FormError, status: StatusCode| {
        let page = SignupPage {
            p: Ctx::visitor(lang, visitor.form_token.clone()),
            f: SignupForm {
                password: String::new(),
                ..f
            },
            error,
        };
        render(status, &page, lang)
    };
    let fail = |e: &Error, field: Option<&'static str>| {
        let mut error = FormError::from_error(e, lang);
        if let Some(field) = field {
            error.field = field.to_owned();
        }
        (error, crate::error::status(e))
    };
    if let Some(addr) = visitor.addr
        && let Err(e) = portal.limits.check_address(addr)
    {
        let (error, status) = fail(&e, None);
        return again(f, error, status);
    }
    let currency = match check_currency(&f) {
        Ok(c) => c,
        Err((e, field)) => {
            let (error, status) = fail(&e, Some(field));
            return again(f, error, status);
        }
    };
    let slug = match OrgSlug::parse(f.slug.trim()) {
        Ok(s) => s,
        Err(e) => {
            let (error, status) = fail(&e, Some("slug"));
            return again(f, error, status);
        }
    };
    let org = NewOrg {
        slug,
        name: f.name.trim().to_owned(),
        open: false,
        language: lang,
    };
    let signed = portal
        .core
        .signup_from(
            &f.email,
            f.password.clone(),
            &f.display_name,
            Some(org),
            visitor.addr,
        )
        .await;
    let signed = match split(signed).map_err(|e| PortalError::new(e, lang))? {
        Ok(s) => s,
        Err(e) => {
            let (error, status) = fail(&e, None);
            return again(f, error, status);
        }
    };
    let fail_hard = |e| PortalError::new(e, lang);
    // The person's language is the one they signed up in.
    portal
        .core
        .set_user_language(signed.user.id, Some(lang))
        .await
        .map_err(fail_hard)?;
    let secret = portal
        .core
        .open_portal_session(signed.user.id)
        .await
        .map_err(fail_hard)?;
    let slug = signed
        .org
        .as_ref()
        .map(|t| t.slug.as_str().to_owned())
        .unwrap_or_default();
    let member = portal
        .core
        .portal_member(&secret, &slug)
        .await
        .map_err(fail_hard)?;
    portal
        .core
        .create_currency(&member, currency)
        .await
        .map_err(fail_hard)?;
    Ok(signed_in(
        &portal,
        &headers,
        &secret,
        &format!("/orgs/{slug}"),
    ))
}

/// The new session's cookie (and the form key's cookie gone), then on to `to`.
fn signed_in(portal: &Portal, headers: &HeaderMap, secret: &SessionSecret, to: &str) -> Response {
    let mut response = super::see_other(headers, to);
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(portal, headers, SESSION_COOKIE, Some(secret.expose())),
    );
    cookies.append(
        header::SET_COOKIE,
        set_cookie(portal, headers, FORM_COOKIE, None),
    );
    response
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    p: Ctx,
    email: String,
    code: String,
    error: FormError,
}

/// `/login`; with `?code=` (the link `coinsence up` prints, or one a person was sent) the code
/// form is filled in and, where scripts run, sent at once: one click and the person is in.
pub async fn login_form(
    visitor: Visitor,
    Query(q): Query<CodeForm>,
) -> Result<Response, PortalError> {
    let page = LoginPage {
        p: Ctx::visitor(visitor.lang, visitor.form_token),
        email: String::new(),
        code: q.code,
        error: FormError::default(),
    };
    render(StatusCode::OK, &page, visitor.lang)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub email: String,
    pub password: String,
}

fn login_again(
    visitor: &Visitor,
    email: &str,
    code: &str,
    error: FormError,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let page = LoginPage {
        p: Ctx::visitor(visitor.lang, visitor.form_token.clone()),
        email: email.to_owned(),
        code: code.to_owned(),
        error,
    };
    render(status, &page, visitor.lang)
}

/// Email and password, limited per address and per account; a wrong pair says only that.
pub async fn login(
    State(portal): State<Portal>,
    headers: HeaderMap,
    visitor: Visitor,
    Posted(f): Posted<LoginForm>,
) -> Result<Response, PortalError> {
    let lang = visitor.lang;
    let checked = match visitor.addr {
        Some(addr) => portal.limits.check_address(addr),
        None => Ok(()),
    }
    .and_then(|()| portal.limits.check_login(&f.email));
    if let Err(e) = checked {
        let status = crate::error::status(&e);
        return login_again(
            &visitor,
            &f.email,
            "",
            FormError::from_error(&e, lang),
            status,
        );
    }
    match portal.core.portal_login(&f.email, f.password).await {
        Ok((_, secret)) => {
            portal.limits.login_succeeded(&f.email);
            Ok(signed_in(&portal, &headers, &secret, "/"))
        }
        Err(Error::Unauthorized) => {
            portal.limits.login_failed(&f.email);
            let error = FormError {
                field: "email".to_owned(),
                message: coinsence_api::i18n::message(
                    lang,
                    "portal-login-failed",
                    &Default::default(),
                ),
            };
            login_again(&visitor, &f.email, "", error, StatusCode::UNAUTHORIZED)
        }
        Err(e) => Err(PortalError::new(e, lang)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    pub code: String,
}

/// The one-time code from `/link` in chat, limited per address like the password.
pub async fn login_with_code(
    State(portal): State<Portal>,
    headers: HeaderMap,
    visitor: Visitor,
    Posted(f): Posted<CodeForm>,
) -> Result<Response, PortalError> {
    let lang = visitor.lang;
    if let Some(addr) = visitor.addr
        && let Err(e) = portal.limits.check_address(addr)
    {
        let status = crate::error::status(&e);
        return login_again(
            &visitor,
            "",
            &f.code,
            FormError::from_error(&e, lang),
            status,
        );
    }
    match portal.core.portal_login_with_code(&f.code).await {
        Ok((_, secret)) => Ok(signed_in(&portal, &headers, &secret, "/")),
        Err(Error::Unauthorized) => {
            let e = Error::from(Refusal::LinkCodeNotValid { field: "code" });
            login_again(
                &visitor,
                "",
                "",
                FormError::from_error(&e, lang),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(e) => Err(PortalError::new(e, lang)),
    }
}

/// Ends the session everywhere; its cookie is refused from now on.
pub async fn logout(
    State(portal): State<Portal>,
    headers: HeaderMap,
    person: Person,
    Posted(Bare {}): Posted<Bare>,
) -> Result<Response, PortalError> {
    portal
        .core
        .close_portal_session(&person.secret)
        .await
        .map_err(|e| PortalError::new(e, person.lang))?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&portal, &headers, SESSION_COOKIE, None),
    );
    Ok(response)
}
