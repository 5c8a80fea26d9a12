//! The worker against a real PostgreSQL (a private cluster per test process, or DATABASE_URL),
//! each test in its own database: the must-hold cases.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apalis_runtime;
mod exchange;
mod helpers;
mod issuance;
mod outbox;
mod seal;
