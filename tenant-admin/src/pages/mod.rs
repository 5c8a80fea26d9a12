//! The pages, one file per area; each handler reads through `Core` and renders a template.

pub mod auth;
pub mod community;
pub mod export;
pub mod governance;
pub mod ledger;
pub mod me;
pub mod org;
pub mod proposals;

use std::future::{Future, Ready, ready};

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use coinsence_api::Error;
use coinsence_api::i18n::Lang;
use serde::Deserialize;

use crate::error::PortalError;
use crate::page::split;
use crate::session::Page;

/// A form with nothing but its token (logout, verify, end a policy).
#[derive(Debug, Default, Deserialize)]
pub struct Bare {}

/// After a change: back to the page (Post/Redirect/Get), or for htmx a redirect it follows.
pub fn see_other(headers: &HeaderMap, to: &str) -> Response {
    if headers.get("hx-request").is_some() {
        ([("hx-redirect", to.to_owned())], "").into_response()
    } else {
        Redirect::to(to).into_response()
    }
}

/// What a posted form's `Core` call leads to: done, back to the page `to` names (Post/Redirect/
/// Get); a mistake the person can fix, the form `again` with it; anything else, an error page in
/// their language.
pub async fn after_post<T, Again, Fut>(
    done: coinsence_api::Result<T>,
    headers: &HeaderMap,
    lang: Lang,
    to: impl FnOnce(T) -> String,
    again: Again,
) -> Page
where
    Again: FnOnce(Error) -> Fut,
    Fut: Future<Output = Page>,
{
    match split(done).map_err(|e| PortalError::new(e, lang))? {
        Ok(v) => Ok(see_other(headers, &to(v))),
        Err(e) => again(e).await,
    }
}

/// `again` for an action without a form to show (a button): the refusal as an error page.
pub fn no_form(lang: Lang) -> impl FnOnce(Error) -> Ready<Page> {
    move |e| ready(Err(PortalError::new(e, lang)))
}
