//! Integration tests of the core against a real PostgreSQL (a private cluster started once for
//! this test process, or `DATABASE_URL`), each test in its own fresh database.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod archive;
mod auth;
mod bad_input;
mod chat;
mod concurrency;
mod exchange;
mod exchange_rounds;
mod feed;
mod governance;
mod governance_races;
mod helpers;
mod idempotency;
mod identity;
mod issuance;
mod joining_grant;
mod languages;
mod limits;
mod migrations;
mod money_trust;
mod openapi;
mod optimistic;
mod pledges_market;
mod problem_language;
mod projects;
mod replay_storm;
mod spare_schemas;
mod text_input;
mod tokens;
mod transparency;
mod walls;
mod walls_every_route;
