//! The worker against a real PostgreSQL (a private cluster per test process, or DATABASE_URL),
//! each test in its own database: the must-hold cases.

mod apalis_runtime;
mod helpers;
mod issuance;
mod outbox;
mod seal;
