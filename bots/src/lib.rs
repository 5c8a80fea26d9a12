//! Coinsence chat: one command grammar ([`command`]), one engine that runs commands against the
//! core and answers platform-neutral replies ([`engine`], [`reply`]), outbox delivery to chat
//! ([`delivery`]), a platform-neutral scenario every adapter's tests run (`scenario`, with the
//! `testing` feature only), and thin
//! adapters, each behind a cargo feature: `console`, `matrix`, `discord` and `telegram`.
//!
//! Adapters translate; they never decide. Business rules live in `coinsence-api`'s domain.

pub mod command;
pub mod delivery;
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
pub use engine::{Engine, EngineConfig, Incoming};
pub use reply::Reply;
