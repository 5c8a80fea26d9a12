//! Governance and what it decides about: rules, proposals and votes (DESIGN "Governance"),
//! pledges that back issuance, projects and their shares, the market, the feed, and the outbox
//! that tells members about all of it.
//!
//! - `tally`: the pure outcome of a vote.
//! - `rules`, `proposals`, `actions`: deciding, and running what was decided exactly once,
//!   atomically with the close.
//! - `pledges`, `projects`, `market`, `feed`: what members do; money always moves through the
//!   ledger ([`post_in`](crate::domain::ledger::queue::post_in)) inside the same transaction.
//! - `outbox`: events written with the change that caused them, for the chat side to deliver.
//!
//! Every operation takes a [`Member`](crate::domain::orgs::Member) as proof of who acts (or a
//! [`Tenant`](crate::domain::tenancy::Tenant) for the worker's `close_due`), and plain inputs
//! (amounts as decimal text), so the HTTP API and the chat bots call exactly the same thing.

mod actions;
pub use actions::{Action, ActionRequest};
pub mod feed;
pub mod kind;
pub mod market;
pub mod outbox;
pub mod pledges;
pub mod projects;
pub mod proposals;
pub mod rules;
pub mod tally;
