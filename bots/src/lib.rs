//! Coinsence chat: one command grammar ([`command`]), one engine that runs commands against the
//! core and answers platform-neutral replies ([`engine`], [`reply`]), outbox delivery to chat
//! ([`delivery`]), a platform-neutral scenario every adapter's tests run (`scenario`, with the
//! `testing` feature only), and thin
//! adapters, each behind a cargo feature: `console`, `matrix`, `discord` and `telegram`.
//!
//! Adapters translate; they never decide. Business rules live in `coinsence-api`'s domain.

pub mod away;
pub mod command;
pub mod delivery;
pub mod direct_notice;
pub mod engine;
pub mod reply;
pub mod say;
#[cfg(feature = "testing")]
pub mod scenario;

#[cfg(feature = "console")]
pub mod console;
#[cfg(feature = "discord")]
pub mod discord;
#[cfg(feature = "matrix")]
pub mod matrix;
#[cfg(feature = "telegram")]
pub mod telegram;

pub use command::{Command, Dialect, parse};

/// Log filter directives the binary adds to its default filter, for the platform SDKs' noise:
/// matrix-sdk logs every failed request at ERROR (`matrix_sdk::http_client`), expected 404s
/// included (no key backup on the server, an event looked up that is not there), and its crypto
/// crate warns "no backup key was found" after every sync, since the bot keeps no key backup.
/// The adapter logs the failures that matter itself (a failed sync, a reply not sent).
pub const LOG_DIRECTIVES: &str = "matrix_sdk::http_client=off,matrix_sdk_crypto::backups=error";
pub use engine::{Engine, EngineConfig, Incoming};
pub use reply::Reply;
