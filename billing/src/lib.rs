//! Billing on Stripe (issue 16): the payment provider the domain defines
//! ([`coinsence_api::domain::billing::PaymentProvider`]), implemented with async-stripe, and the
//! webhook endpoint that verifies and stores Stripe's events. The core applies stored events in
//! the worker ([`coinsence_api::Core::apply_provider_events`]); nothing here decides what a
//! payment does to a ledger.
//!
//! - `config`: flags with env fallbacks; secrets never printed.
//! - `provider`: Checkout Sessions as direct charges on the org's connected account with an
//!   application fee, Connect onboarding through Account Links, and reading events.
//! - `signature`: `Stripe-Signature` verified in our own code (every `v1`, two secrets, 300 s,
//!   constant-time).
//! - `webhook`: the axum route the binary mounts.

pub mod config;
pub mod provider;
pub mod signature;
pub mod tls;
pub mod webhook;

pub use config::{BillingArgs, Secret};
pub use provider::StripeProvider;
pub use webhook::{WEBHOOK_PATH, router, run_applier};
