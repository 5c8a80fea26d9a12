//! A person's own page: the language they read, the chat accounts tied to them (link one with
//! the code `/link` gives in that chat, unlink one).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use coinsence_api::domain::portal_sessions::LinkedIdentity;
use coinsence_api::i18n::Lang;
use serde::Deserialize;

use super::see_other;
use crate::Portal;
use crate::error::PortalError;
use crate::page::{Ctx, FormError, render, split};
use crate::session::{Person, Posted};

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    p: Ctx,
    language: String,
    identities: Vec<LinkedIdentity>,
    notice: String,
    error: FormError,
}

async fn show(
    portal: &Portal,
    person: &Person,
    notice: String,
    error: FormError,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let identities = portal
        .core
        .linked_identities(&person.user)
        .await
        .map_err(|e| PortalError::new(e, person.lang))?;
    let page = MePage {
        p: Ctx::person(person),
        language: person.user.language.map_or("auto", Lang::as_str).to_owned(),
        identities,
        notice,
        error,
    };
    render(status, &page, person.lang)
}

pub async fn page(State(portal): State<Portal>, person: Person) -> Result<Response, PortalError> {
    show(
        &portal,
        &person,
        String::new(),
        FormError::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LanguageForm {
    pub language: String,
}

/// The person's choice, remembered for every page and every chat.
pub async fn set_language(
    State(portal): State<Portal>,
    headers: HeaderMap,
    person: Person,
    Posted(f): Posted<LanguageForm>,
) -> Result<Response, PortalError> {
    let language = Lang::from_tag(&f.language);
    portal
        .core
        .set_user_language(person.user.id, language)
        .await
        .map_err(|e| PortalError::new(e, person.lang))?;
    Ok(see_other(&headers, "/me"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkForm {
    pub code: String,
}

pub async fn link(
    State(portal): State<Portal>,
    person: Person,
    Posted(f): Posted<LinkForm>,
) -> Result<Response, PortalError> {
    let linked = portal
        .core
        .link_identity_with_code(&person.user, &f.code)
        .await;
    match split(linked).map_err(|e| PortalError::new(e, person.lang))? {
        Ok(_) => {
            let notice =
                coinsence_api::i18n::message(person.lang, "portal-me-linked", &Default::default());
            show(
                &portal,
                &person,
                notice,
                FormError::default(),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let status = crate::error::status(&e);
            show(
                &portal,
                &person,
                String::new(),
                FormError::from_error(&e, person.lang),
                status,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnlinkForm {
    pub platform: String,
    pub platform_user_id: String,
}

pub async fn unlink(
    State(portal): State<Portal>,
    headers: HeaderMap,
    person: Person,
    Posted(f): Posted<UnlinkForm>,
) -> Result<Response, PortalError> {
    portal
        .core
        .unlink_identity(&person.user, &f.platform, &f.platform_user_id)
        .await
        .map_err(|e| PortalError::new(e, person.lang))?;
    Ok(see_other(&headers, "/me"))
}
