//! Error policy.
//!
//! Inside the request path (domain operations called from HTTP, chat or jobs) errors are this
//! typed [`Error`]: each variant has a stable machine `code` that the portal and the bots turn into
//! a sentence, and an HTTP status. `anyhow` is for the edges (CLI, start-up) and for
//! [`Error::Internal`], whose detail is logged and never shown to a user.

use std::borrow::Cow;

use crate::i18n::{self, Args, Lang};
use crate::refusal::{Class, Refusal};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("authentication required")]
    Unauthorized,
    /// A domain operation refused: one code per way of refusing, with its arguments.
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("this idempotency key was already used for a different request")]
    IdempotencyConflict,
    #[error("not enough money in the paying account")]
    InsufficientFunds,
    #[error("the receiving account would go over its ceiling")]
    CeilingExceeded,
    #[error("the accounts are in different currencies")]
    CurrencyMismatch,
    #[error("an account cannot pay itself")]
    SameAccount,
    #[error("the service is busy, try again")]
    Busy,
    /// One caller (an address, an account) asked too often: try again after the given seconds.
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The service cannot take the request now (load shed, database restarting): nothing was
    /// done; try again after the given seconds.
    #[error("the service is unavailable; try again in {retry_after_secs} s")]
    Unavailable { retry_after_secs: u64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// The refusal, when this is one.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Self::Refused(r) => Some(r),
            _ => None,
        }
    }

    /// Whatever the request named does not exist (a 404).
    pub fn is_not_found(&self) -> bool {
        self.refusal().is_some_and(|r| r.class() == Class::NotFound)
    }

    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Refused(r) => r.code(),
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::InsufficientFunds => "insufficient_funds",
            Self::CeilingExceeded => "ceiling_exceeded",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::SameAccount => "same_account",
            Self::Busy => "busy",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Database(_) | Self::Internal(_) => "internal",
        }
    }

    /// This error as one sentence for a person reading `lang`, from the message catalog
    /// (`refusals.ftl`; the message id is the code). Faults of ours say only that.
    pub fn message(&self, lang: Lang) -> String {
        i18n::message(lang, self.code(), &self.args())
    }

    /// The arguments of this error's message (the same in every language: amounts are
    /// formatted when it is rendered), to keep with its code and render later.
    pub fn args(&self) -> Args {
        match self {
            Self::Refused(r) => r.args(Lang::En),
            Self::RateLimited { retry_after_secs } | Self::Unavailable { retry_after_secs } => {
                let secs = i64::try_from(*retry_after_secs).unwrap_or(i64::MAX);
                Args::new().count("retry_after_secs", secs)
            }
            _ => Args::new(),
        }
    }

    /// The codes of the errors that are not refusals, each with its catalog sentence (a
    /// refusal's codes are [`Refusal::ALL`]); their arguments, for the documentation.
    pub const OTHER_CODES: &'static [(&'static str, &'static [&'static str])] = &[
        ("unauthorized", &[]),
        ("idempotency_conflict", &[]),
        ("insufficient_funds", &[]),
        ("ceiling_exceeded", &[]),
        ("currency_mismatch", &[]),
        ("same_account", &[]),
        ("busy", &[]),
        ("rate_limited", &["retry_after_secs"]),
        ("unavailable", &["retry_after_secs"]),
        ("internal", &[]),
    ];

    /// True for faults of ours, which are logged and hidden.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Database(_) | Self::Internal(_))
    }

    /// The SQLSTATE PostgreSQL raised, if this is an error it raised.
    pub fn sqlstate(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::Database(sqlx::Error::Database(db)) => db.code(),
            _ => None,
        }
    }

    /// A deadlock or serialization failure: the transaction was rolled back and may simply run
    /// again.
    pub fn is_transient(&self) -> bool {
        matches!(self.sqlstate().as_deref(), Some("40P01" | "40001"))
    }

    /// The database could not be reached or is restarting (connection refused or reset, no
    /// connection free in time, `57P01 admin_shutdown`, `57P03 cannot_connect_now`, ...): the
    /// request did not happen and may be tried again shortly, so it is answered 503, not 500.
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(err) = self else {
            return false;
        };
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            // Class 08: connection exceptions; 57P0x: the server is shutting down, crashed or
            // starting; 53300: too many connections.
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                code.starts_with("08")
                    || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                    || (code == "XX000" && lost_citus_node(db.message()))
            }),
            _ => false,
        }
    }

    /// This error as it may be logged: for a database error its SQLSTATE, constraint and message
    /// only, never PostgreSQL's DETAIL (it quotes the row's values: people's emails).
    pub fn for_log(&self) -> ForLog<'_> {
        ForLog(self)
    }
}

/// Citus reports a worker node it lost mid-request (restarting, unreachable) as `XX000` with
/// the connection's own words, not as a class 08 error.
fn lost_citus_node(message: &str) -> bool {
    [
        "SSL SYSCALL error",
        "connection to the remote node",
        "could not establish any connections to the node",
        "server closed the connection unexpectedly",
    ]
    .iter()
    .any(|words| message.contains(words))
}

/// See [`Error::for_log`].
pub struct ForLog<'a>(&'a Error);

impl std::fmt::Display for ForLog<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Error::Database(sqlx::Error::Database(db)) => {
                write!(f, "database error")?;
                if let Some(code) = db.code() {
                    write!(f, " {code}")?;
                }
                if let Some(constraint) = db.constraint() {
                    write!(f, " on {constraint}")?;
                }
                write!(f, ": {}", db.message())
            }
            Error::Database(other) => write!(f, "database: {other}"),
            Error::Internal(err) => write!(f, "{err:#}"),
            other => write!(f, "{other}"),
        }
    }
}

/// Maps a unique-violation on a known constraint to its refusal (`slug_taken`, ...); other
/// errors pass through.
pub fn on_unique(err: sqlx::Error, constraint: &str, taken: Refusal) -> Error {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
        && crate::citus::is_constraint(db.as_ref(), constraint)
    {
        return Error::Refused(taken);
    }
    Error::Database(err)
}
