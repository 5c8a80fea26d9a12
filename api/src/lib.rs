//! Coinsence core: tenancy, identity, the ledger, persistence and the HTTP JSON API.
//! Every edge (CLI, chat bots, billing, worker) goes through [`Core`].

pub mod batch;
pub mod citus;
pub mod cluster;
pub mod config;
pub mod core;
pub mod domain;
pub mod error;
pub mod hashing;
pub mod http;
pub mod i18n;
pub mod login_limits;
pub mod migrate;
pub mod refusal;
pub mod sql_statements;
#[cfg(feature = "testing")]
pub mod testing;

pub use crate::config::CoreConfig;
pub use crate::core::Core;
pub use crate::error::{Error, Result};
