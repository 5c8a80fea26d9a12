//! What every page's template gets: the language and its sentences, the form token, who is
//! signed in, the org and where in it the page is, and the asset paths.

use std::fmt::Display;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use coinsence_api::domain::money::{Scale, format_minor_in};
use coinsence_api::i18n::{self, Args, Lang};
use coinsence_api::{Error, Result};

use crate::assets;
use crate::error::PortalError;
use crate::session::{InOrg, Person};

/// The org's navigation.
pub struct OrgNav {
    pub slug: String,
    pub name: String,
    pub admin: bool,
}

pub struct Ctx {
    pub lang: Lang,
    pub form_token: String,
    /// The signed-in person's name.
    pub user: Option<String>,
    pub org: Option<OrgNav>,
    /// Which navigation entry is this page.
    pub here: &'static str,
    pub css: &'static str,
    pub htmx: &'static str,
}

impl Ctx {
    pub fn bare(lang: Lang) -> Self {
        Self {
            lang,
            form_token: String::new(),
            user: None,
            org: None,
            here: "",
            css: assets::css_path(),
            htmx: assets::htmx_path(),
        }
    }

    pub fn visitor(lang: Lang, form_token: String) -> Self {
        Self {
            form_token,
            ..Self::bare(lang)
        }
    }

    pub fn person(person: &Person) -> Self {
        Self {
            form_token: person.form_token(),
            user: Some(person.user.display_name.clone()),
            ..Self::bare(person.lang)
        }
    }

    pub fn in_org(who: &InOrg, here: &'static str) -> Self {
        Self {
            form_token: who.form_token(),
            user: Some(who.member.user.display_name.clone()),
            org: Some(OrgNav {
                slug: who.member.tenant.slug.as_str().to_owned(),
                name: who.member.tenant.name.clone(),
                admin: who.member.role.is_admin(),
            }),
            here,
            ..Self::bare(who.lang)
        }
    }

    /// A sentence of the catalog.
    pub fn t(&self, id: &str) -> String {
        i18n::message(self.lang, id, &Args::new())
    }

    /// A sentence with one named text argument.
    pub fn t1(&self, id: &str, name: &'static str, value: impl Display) -> String {
        i18n::message(self.lang, id, &Args::new().text(name, value.to_string()))
    }

    /// A sentence with one count (plural forms).
    pub fn tn(&self, id: &str, name: &'static str, value: i64) -> String {
        i18n::message(self.lang, id, &Args::new().count(name, value))
    }

    /// `aria-current` for this navigation entry.
    pub fn current(&self, entry: &str) -> &'static str {
        if self.here == entry { "page" } else { "false" }
    }

    /// An amount the way this language writes it.
    pub fn amount(&self, minor: i64, scale: Scale) -> String {
        format_minor_in(minor, scale, self.lang)
    }

    /// A decimal the domain wrote (`12.50`, no grouping) with this language's decimal mark.
    pub fn decimal(&self, plain: &str) -> String {
        plain.replace('.', &self.lang.decimal_separator().to_string())
    }

    pub fn date(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        match self.lang {
            Lang::De => at.format("%d.%m.%Y %H:%M").to_string(),
            _ => at.format("%Y-%m-%d %H:%M").to_string(),
        }
    }
}

/// A form's mistake: the field at fault (as the refusal names it) and the sentence.
#[derive(Default)]
pub struct FormError {
    pub field: String,
    pub message: String,
}

impl FormError {
    pub fn from_error(error: &Error, lang: Lang) -> Self {
        let field = error
            .refusal()
            .and_then(|r| {
                r.fields()
                    .into_iter()
                    .find(|(k, _)| *k == "field")
                    .and_then(|(_, v)| v.as_str().map(str::to_owned))
            })
            .unwrap_or_default();
        Self {
            field,
            message: error.message(lang),
        }
    }

    /// `aria-invalid` for a field.
    pub fn invalid(&self, field: &str) -> &'static str {
        if !self.message.is_empty() && self.field == field {
            "true"
        } else {
            "false"
        }
    }
}

/// Renders a template with a status.
pub fn render(
    status: StatusCode,
    page: &impl Template,
    lang: Lang,
) -> std::result::Result<Response, PortalError> {
    page.render()
        .map(|html| (status, Html(html)).into_response())
        .map_err(|e| PortalError::new(Error::Internal(anyhow_like(e)), lang))
}

fn anyhow_like(e: askama::Error) -> anyhow::Error {
    anyhow::anyhow!("template: {e}")
}

/// `Ok` unless the operation failed in a way the person cannot fix at a form.
pub fn split<T>(result: Result<T>) -> std::result::Result<std::result::Result<T, Error>, Error> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) if crate::error::is_input_error(&e) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}
