//! The pages, one file per area; each handler reads through `Core` and renders a template.

pub mod auth;
pub mod export;
pub mod ledger;
pub mod me;
pub mod org;
pub mod proposals;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

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
