//! Every error leaves the API as `application/problem+json` (RFC 9457) with a stable `code`,
//! including the rejections of axum's own extractors. Internal errors are logged, never shown.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use utoipa::openapi::{ObjectBuilder, Type};

use crate::error::Error;
use crate::i18n::{self, Args, Lang};
use crate::refusal::{Class, Refusal};

/// The problem document. A refusal's arguments (ids, limits, amounts as the API writes them)
/// follow as extension members, named as in `docs/errors.md`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `/problems/<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable machine code (see [`problem_codes`]).
    #[schema(schema_with = problem_codes)]
    pub code: String,
    /// One sentence for a person, in the caller's language (their own choice, else
    /// `Accept-Language`, else the org's, else English).
    pub detail: String,
    /// The input field at fault, for input errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The refusal's other arguments.
    #[serde(flatten)]
    #[schema(ignore)]
    pub arguments: serde_json::Map<String, serde_json::Value>,
}

/// Codes answered by the HTTP layer itself (malformed requests, unknown routes), besides the
/// domain's ([`Refusal::ALL`], [`Error::OTHER_CODES`]).
pub const HTTP_CODES: &[(&str, u16)] = &[
    ("invalid_input", 422),
    ("malformed_json", 400),
    ("unsupported_media_type", 415),
    ("payload_too_large", 413),
    ("bad_request", 400),
    ("invalid_query", 400),
    ("invalid_path", 400),
    ("missing_idempotency_key", 400),
    ("not_found", 404),
    ("method_not_allowed", 405),
    ("not_ready", 503),
];

/// Every code a problem document may carry.
pub fn all_codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = Refusal::ALL.iter().map(|spec| spec.code).collect();
    codes.extend(Error::OTHER_CODES.iter().map(|(code, _)| *code));
    codes.extend(HTTP_CODES.iter().map(|(code, _)| *code));
    codes
}

fn problem_codes() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Stable machine code, e.g. `insufficient_funds`; every code is listed with its \
             status, arguments and sentence in `docs/errors.md`.",
        ))
        .enum_values(Some(all_codes()))
}

/// The HTTP status of each kind of refusal.
pub fn status_of(class: Class) -> StatusCode {
    match class {
        Class::Forbidden => StatusCode::FORBIDDEN,
        Class::NotFound => StatusCode::NOT_FOUND,
        Class::Conflict => StatusCode::CONFLICT,
        Class::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// What `detail` says, kept unrendered until the caller's language is known.
#[derive(Debug, Clone)]
enum Detail {
    Refusal(Refusal),
    Message(&'static str, Args),
    /// Text from axum's extractors (which JSON field failed to parse, and why).
    Text(String),
}

impl Detail {
    fn render(&self, lang: Lang) -> String {
        match self {
            Detail::Refusal(refusal) => refusal.message(lang),
            Detail::Message(id, args) => i18n::message(lang, id, args),
            Detail::Text(text) => text.clone(),
        }
    }
}

/// An error on its way out of a handler.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    /// Boxed: an error travels in `Result`s through every extractor, and stays small there.
    detail: Box<Detail>,
    field: Option<String>,
    arguments: serde_json::Map<String, serde_json::Value>,
    /// Sent as `Retry-After` (seconds) with 429 and 503.
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: Box::new(Detail::Text(detail.into())),
            field: None,
            arguments: serde_json::Map::new(),
            retry_after: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let status = match &err {
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Refused(refusal) => status_of(refusal.class()),
            Error::IdempotencyConflict => StatusCode::CONFLICT,
            Error::InsufficientFunds
            | Error::CeilingExceeded
            | Error::CurrencyMismatch
            | Error::SameAccount => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Busy | Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if err.is_unavailable() {
            // The database is restarting or out of connections: nothing happened, try again.
            tracing::warn!(error = %err.for_log(), "database unavailable");
            return Self::from(Error::Unavailable {
                retry_after_secs: 1,
            });
        }
        if err.is_internal() {
            tracing::error!(error = %err.for_log(), "internal error");
        }
        let retry_after = match &err {
            Error::Busy => Some(1),
            Error::RateLimited { retry_after_secs } | Error::Unavailable { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            _ => None,
        };
        let mut field = None;
        let mut arguments = serde_json::Map::new();
        let detail = match err {
            Error::Refused(refusal) => {
                for (name, value) in refusal.fields() {
                    if name == "field" {
                        field = value.as_str().map(str::to_owned);
                    } else {
                        arguments.insert(name.to_owned(), value);
                    }
                }
                Detail::Refusal(refusal)
            }
            Error::RateLimited { retry_after_secs } | Error::Unavailable { retry_after_secs } => {
                let secs = i64::try_from(retry_after_secs).unwrap_or(i64::MAX);
                arguments.insert("retry_after_secs".to_owned(), secs.into());
                Detail::Message(
                    err_code(status),
                    Args::new().count("retry_after_secs", secs),
                )
            }
            other => Detail::Message(other.code(), Args::new()),
        };
        let detail = Box::new(detail);
        let code = match detail.as_ref() {
            Detail::Refusal(refusal) => refusal.code(),
            Detail::Message(id, _) => id,
            Detail::Text(_) => "internal",
        };
        Self {
            status,
            code,
            detail,
            field,
            arguments,
            retry_after,
        }
    }
}

/// The code of a rate limit or an outage, told apart by status.
fn err_code(status: StatusCode) -> &'static str {
    if status == StatusCode::TOO_MANY_REQUESTS {
        "rate_limited"
    } else {
        "unavailable"
    }
}

/// A problem answer whose `detail` the language layer ([`super::language`]) renders again in
/// the caller's language; without it, the answer stays English.
#[derive(Debug, Clone)]
pub(crate) struct Localizable {
    problem: Problem,
    detail: Box<Detail>,
}

impl Localizable {
    /// The problem document with `detail` in `lang`.
    pub(crate) fn in_lang(&self, lang: Lang) -> Problem {
        Problem {
            detail: self.detail.render(lang),
            ..self.problem.clone()
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail.render(Lang::En),
            field: self.field,
            arguments: self.arguments,
        };
        let localizable = Localizable {
            problem: problem.clone(),
            detail: self.detail,
        };
        let mut response = (self.status, axum::Json(problem)).into_response();
        response.extensions_mut().insert(localizable);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, code) = match &rejection {
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (rejection.status(), "bad_request"),
        };
        Self::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            rejection.body_text(),
        )
    }
}

/// `Json` whose rejections are problem documents.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Path` whose rejections (an id that is not a number) are problem documents.
#[derive(Debug, Clone, Copy)]
pub struct AppPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Unknown routes answer in the same format.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// `docs/errors.md`: every code a problem document may carry, its HTTP status, its arguments and
/// its English sentence (arguments shown as `{$name}`). Generated; a test keeps the file current.
pub fn errors_markdown() -> String {
    fn sentence(code: &str, args: &[&'static str]) -> String {
        let placeholders = args
            .iter()
            .fold(Args::new(), |a, name| a.text(*name, format!("{{${name}}}")));
        i18n::message(Lang::En, code, &placeholders)
            .replace('|', "\\|")
            .replace('\n', " ")
    }
    fn args_cell(args: &[&str]) -> String {
        args.iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
    let mut out = String::from(
        "# Error codes\n\n\
         Generated from `api/src/refusal.rs`, `api/src/error.rs` and `api/src/http/error.rs` by \
         `COINSENCE_UPDATE_DOCS=1 cargo test -p coinsence-api --lib errors_md`; do not edit.\n\n\
         Every error answer of the API is `application/problem+json` (RFC 9457) with `type`, \
         `title`, `status`, `code` and `detail`; `detail` is the sentence below in the caller's \
         language (their own choice, else `Accept-Language`, else the org's, else English; the \
         German sentences are in `api/locales/de/refusals.ftl`). A refusal's arguments are \
         extension members of the same name: `field` names the JSON field at fault; amounts are \
         written as the API writes amounts (`1234.50`). The chat bots say the same sentences.\n",
    );
    for (title, class) in [
        ("Not found", Class::NotFound),
        ("Not allowed", Class::Forbidden),
        ("Conflicts with the state of things", Class::Conflict),
        ("Bad input in one field", Class::Invalid),
    ] {
        out.push_str(&format!(
            "\n## {title} ({})\n\n| code | arguments | English |\n|---|---|---|\n",
            status_of(class).as_u16()
        ));
        for spec in Refusal::ALL.iter().filter(|spec| spec.class == class) {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                spec.code,
                args_cell(spec.args),
                sentence(spec.code, spec.args)
            ));
        }
    }
    out.push_str(
        "\n## Other errors\n\n| code | status | arguments | English |\n|---|---|---|---|\n",
    );
    for (code, args) in Error::OTHER_CODES {
        let status = match *code {
            "unauthorized" => 401,
            "idempotency_conflict" => 409,
            "busy" | "unavailable" => 503,
            "rate_limited" => 429,
            "internal" => 500,
            _ => 422,
        };
        out.push_str(&format!(
            "| `{code}` | {status} | {} | {} |\n",
            args_cell(args),
            sentence(code, args)
        ));
    }
    out.push_str(
        "\n## Answered by the HTTP layer\n\nMalformed requests and unknown routes; `detail` is \
         English text from the request parser.\n\n| code | status |\n|---|---|\n",
    );
    for (code, status) in HTTP_CODES {
        out.push_str(&format!("| `{code}` | {status} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of every refusal code and its status: a refusal of each kind is answered with
    /// its kind's status, its code, its field and its arguments as members.
    #[test]
    fn every_refusal_answers_with_its_status_code_and_arguments() {
        for refusal in Refusal::samples() {
            let expected = status_of(refusal.class());
            let code = refusal.code();
            let field = refusal.field();
            let members = refusal.fields();
            let answer = ApiError::from(Error::Refused(refusal));
            assert_eq!(answer.status, expected, "{code}");
            assert_eq!(answer.code, code);
            assert_eq!(answer.field.as_deref(), field, "{code}");
            for (name, value) in members {
                if name != "field" {
                    assert_eq!(answer.arguments.get(name), Some(&value), "{code} {name}");
                }
            }
        }
        // The statuses the API has always answered (Schemathesis and clients rely on them).
        for (class, status) in [
            (Class::Forbidden, 403),
            (Class::NotFound, 404),
            (Class::Conflict, 409),
            (Class::Invalid, 422),
        ] {
            assert_eq!(status_of(class).as_u16(), status);
        }
    }

    #[test]
    fn no_code_means_two_things() {
        let codes = all_codes();
        let unique: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len());
    }

    /// `docs/errors.md` is what the code says; `COINSENCE_UPDATE_DOCS=1` rewrites it.
    #[test]
    fn errors_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/errors.md");
        let generated = errors_markdown();
        if std::env::var_os("COINSENCE_UPDATE_DOCS").is_some_and(|v| v == "1") {
            std::fs::write(path, &generated).unwrap_or_else(|e| panic!("writing {path}: {e}"));
            return;
        }
        let written = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            written == generated,
            "docs/errors.md is stale; run COINSENCE_UPDATE_DOCS=1 cargo test -p coinsence-api --lib errors_md"
        );
    }
}
