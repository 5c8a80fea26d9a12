//! What the portal answers when something is refused or fails: a page with one sentence in the
//! person's language and the status the API would give; a missing session on a page sends the
//! person to the login form. Faults of ours are logged and say only that.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use coinsence_api::Error;
use coinsence_api::i18n::Lang;
use coinsence_api::refusal::Class;

use crate::page::Ctx;

pub struct PortalError {
    pub error: Error,
    pub lang: Lang,
    /// A page was asked for (GET): without a session, go and log in.
    get: bool,
}

impl PortalError {
    pub fn new(error: Error, lang: Lang) -> Self {
        Self {
            error,
            lang,
            get: false,
        }
    }

    pub fn on_get(mut self, get: bool) -> Self {
        self.get = get;
        self
    }
}

/// The status an error answers with (as the JSON API does).
pub fn status(error: &Error) -> StatusCode {
    match error {
        Error::Unauthorized => StatusCode::UNAUTHORIZED,
        Error::Refused(r) => match r.class() {
            Class::Forbidden => StatusCode::FORBIDDEN,
            Class::NotFound => StatusCode::NOT_FOUND,
            Class::Conflict => StatusCode::CONFLICT,
            Class::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        },
        Error::IdempotencyConflict => StatusCode::CONFLICT,
        Error::InsufficientFunds
        | Error::CeilingExceeded
        | Error::CurrencyMismatch
        | Error::SameAccount => StatusCode::UNPROCESSABLE_ENTITY,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Busy | Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Whether a form should come back with this error shown at its field (the person can fix
/// it), rather than an error page.
pub fn is_input_error(error: &Error) -> bool {
    let code = status(error);
    code == StatusCode::UNPROCESSABLE_ENTITY
        || code == StatusCode::CONFLICT
        || code == StatusCode::TOO_MANY_REQUESTS
        || (code == StatusCode::FORBIDDEN
            && error
                .refusal()
                .is_some_and(|r| !matches!(r.code(), "not_a_member" | "not_admin")))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    p: Ctx,
    message: String,
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        if matches!(self.error, Error::Unauthorized) && self.get {
            return Redirect::to("/login").into_response();
        }
        let code = status(&self.error);
        if code.is_server_error() {
            tracing::error!(error = %self.error, "portal request failed");
        }
        let page = ErrorPage {
            p: Ctx::bare(self.lang),
            message: self.error.message(self.lang),
        };
        let mut response = match page.render() {
            Ok(html) => (code, axum::response::Html(html)).into_response(),
            Err(_) => code.into_response(),
        };
        if let Error::RateLimited { retry_after_secs } | Error::Unavailable { retry_after_secs } =
            self.error
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<(Error, Lang)> for PortalError {
    fn from((error, lang): (Error, Lang)) -> Self {
        Self::new(error, lang)
    }
}
