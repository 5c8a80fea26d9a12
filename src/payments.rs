//! Billing in the binary (issue 16): Stripe when it is configured (top-ups on: the provider goes
//! into the core, the webhook route next to the API, the event applier into the worker), else
//! top-ups are off, and `up` says so.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use coinsence_api::Core;
use coinsence_billing::{BillingArgs, StripeProvider};
use tokio::sync::Notify;

/// How often the applier looks for stored events when nothing woke it.
pub const APPLY_EVERY: Duration = Duration::from_secs(1);

pub struct Billing {
    pub core: Core,
    /// The webhook route, when Stripe is configured.
    pub webhook: Option<Router>,
    /// Notified by the webhook for each new event (the applier in the same process wakes).
    pub stored: Arc<Notify>,
}

pub fn install(core: Core, args: &BillingArgs) -> anyhow::Result<Billing> {
    let stored = Arc::new(Notify::new());
    let provider = match StripeProvider::from_args(args)? {
        Some(provider) if args.configured() => provider,
        _ => {
            tracing::info!("Stripe is not configured: top-ups are off");
            return Ok(Billing {
                core,
                webhook: None,
                stored,
            });
        }
    };
    let core = core.with_payment_provider(Arc::new(provider));
    let webhook = coinsence_billing::router(
        core.clone(),
        args.stripe_webhook_secrets.clone(),
        stored.clone(),
    );
    Ok(Billing {
        core,
        webhook: Some(webhook),
        stored,
    })
}

/// The line `up` prints about top-ups.
pub fn status_line(on: bool) -> String {
    let id = if on {
        "cli-topups-on"
    } else {
        "cli-topups-off"
    };
    crate::say::text(id, &coinsence_api::i18n::Args::new())
}
