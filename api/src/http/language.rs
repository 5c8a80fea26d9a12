//! Which language an answer's `detail` is in: the caller's own choice (`User.language`), else
//! the request's `Accept-Language`, else the language of the org the route names, else English
//! ([`Lang::pick`]).
//!
//! The error that leaves a handler does not know the request, and the request does not know the
//! caller until an auth extractor has found them. So this layer puts an empty [`Readers`] slot
//! into the request's extensions, the auth extractors fill it with what they learn, and on the way
//! out a problem answer ([`Localizable`]) gets its `detail` rendered again in the chosen language.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use super::error::Localizable;
use crate::domain::identity::User;
use crate::domain::orgs::Member;
use crate::i18n::Lang;

/// What the auth extractors learned about who reads the answer.
#[derive(Debug, Clone, Default)]
pub struct Readers(Arc<Mutex<Learned>>);

#[derive(Debug, Clone, Copy, Default)]
struct Learned {
    own: Option<Lang>,
    org: Option<Lang>,
}

impl Readers {
    /// The authenticated user: their own choice, if they made one.
    pub fn user(&self, user: &User) {
        if let Ok(mut learned) = self.0.lock() {
            learned.own = user.language;
        }
    }

    /// A member of the org the route names: their choice and the org's language.
    pub fn member(&self, member: &Member) {
        if let Ok(mut learned) = self.0.lock() {
            learned.own = member.user.language;
            learned.org = Some(member.tenant.language);
        }
    }

    fn learned(&self) -> Learned {
        self.0.lock().map(|l| *l).unwrap_or_default()
    }
}

/// Tells the extractors' findings to the layer, when the layer is there (it is on every router
/// built by [`super::with_common_layers`]).
pub fn learn(parts: &axum::http::request::Parts, f: impl FnOnce(&Readers)) {
    if let Some(readers) = parts.extensions.get::<Readers>() {
        f(readers);
    }
}

pub async fn localize(mut req: Request, next: Next) -> Response {
    // Kept raw: only a problem answer needs it parsed, and most answers are not problems.
    let asked = req.headers().get(header::ACCEPT_LANGUAGE).cloned();
    let readers = Readers::default();
    req.extensions_mut().insert(readers.clone());
    let mut response = next.run(req).await;
    let Some(localizable) = response.extensions_mut().remove::<Localizable>() else {
        return response;
    };
    let learned = readers.learned();
    let asked = asked
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language);
    let lang = Lang::pick(learned.own, asked, learned.org.unwrap_or_default());
    // Rendered in English already; only another language needs a new body.
    if lang != Lang::En
        && let Ok(body) = serde_json::to_vec(&localizable.in_lang(lang))
    {
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(body);
    }
    response
        .headers_mut()
        .insert(header::CONTENT_LANGUAGE, lang_header(lang));
    response
}

fn lang_header(lang: Lang) -> header::HeaderValue {
    header::HeaderValue::from_static(lang.as_str())
}

/// The language of an answer to a member (for what a handler renders itself, such as a
/// proposal's reason): their own choice, else the request's `Accept-Language`, else the org's.
pub fn reader_lang(member: &Member, headers: &axum::http::HeaderMap) -> Lang {
    let asked = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language);
    Lang::pick(member.user.language, asked, member.tenant.language)
}
