//! Coinsence's background work, on apalis with PostgreSQL storage and cron schedules: closing
//! votes, scheduled issuance and demurrage, outbox delivery, journal sealing and tenant
//! migrations. This crate only wires jobs and schedules to [`coinsence_api::Core`] operations;
//! the rules live there.
//!
//! - `jobs`: the typed, named, idempotent jobs and what each calls.
//! - `enqueue`: putting jobs on the queue, and fanning a schedule's tick out into one job per org.
//! - `runtime`: the worker process (apalis monitor, queues, schedules).
//! - `status`: queue counts for `coinsence worker --status` and the Prometheus gauges.
//! - `clock`: the time the worker reads, which tests control.

pub mod clock;
pub mod enqueue;
pub mod jobs;
pub mod runtime;
pub mod sinks;
pub mod status;

pub use clock::{Clock, ManualClock, SystemClock};
pub use runtime::{Worker, WorkerConfig, setup};
