//! Euros (DESIGN "Billing"): members top up with euros and get coins at the org's rate; each
//! org's euros sit in its own connected account at a payment provider, mirrored here by the
//! platform euro ledger.
//!
//! The domain defines what it needs from the provider ([`PaymentProvider`]); the `billing` crate
//! implements it (on Stripe) and the binary installs it with [`Core::with_payment_provider`].
//! Nothing here names the provider. Without one, top-ups are off and say so.
//!
//! - `euros`: the platform euro ledger (control schema, double entry in cents, append-only).
//! - `topups`: the org's terms, starting a top-up, and settling it once paid or failed.
//! - `events`: provider events stored as received and applied by the worker.
//! - `accounts`: the org's connected account: onboarding and status.
//! - `cashouts`: a treasurer's cash-out, its second pair of eyes, escrow, payout and reserve hold.
//! - `escrow`: a cash-out's coins in the org's ledger (escrow, burn, return).
//! - `clawbacks`: coins taken back for a refunded or disputed top-up.

pub mod accounts;
pub mod cashouts;
pub mod clawbacks;
pub mod escrow;
pub mod euros;
pub mod events;
pub mod topups;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::core::Core;
use crate::domain::ids::TenantId;
use crate::i18n::Lang;

/// A top-up, within its org.
pub type TopupId = i64;
/// A cash-out, within its org.
pub type CashoutId = i64;

/// A payout of a cash-out from the org's own account to its bank.
#[derive(Debug, Clone)]
pub struct PayoutRequest {
    pub tenant: TenantId,
    pub cashout: CashoutId,
    pub account: String,
    pub amount_cents: i64,
    /// `cashout:<id>` (the provider keeps keys per connected account): a retry after a crash
    /// gets the same payout, never a second one.
    pub idempotency_key: String,
}

/// A payout the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: String,
}

/// One event as the provider lists it, raw (what the webhook would have stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    pub id: String,
    pub kind: String,
    pub payload: Vec<u8>,
}

/// A hosted checkout to start for a top-up: a direct charge on the org's own account.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub tenant: TenantId,
    pub topup: TopupId,
    /// The org's connected account at the provider.
    pub account: String,
    pub amount_cents: i64,
    /// What the payer sees on the checkout page.
    pub description: String,
    /// From our own ids (`topup:<tenant>:<id>`): a retry after a crash gets the same checkout.
    pub idempotency_key: String,
    pub language: Lang,
}

/// A started checkout: the provider's id for it and the page the member pays on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub session: String,
    pub url: String,
}

/// Onboarding an org's connected account: create it when it has none, then a link to the
/// provider's pages where a treasurer gives what the provider needs.
#[derive(Debug, Clone)]
pub struct OnboardingRequest {
    pub tenant: TenantId,
    pub account: Option<String>,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    pub account: String,
    pub url: String,
}

/// What a stored provider event means here. The provider reads its own format into this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEvent {
    /// The money of a top-up's checkout is final.
    CheckoutPaid {
        tenant: TenantId,
        topup: TopupId,
        session: String,
        amount_cents: i64,
        /// The connected account the event came from.
        account: Option<String>,
        /// The payment behind the checkout, which refunds and disputes name.
        payment_intent: Option<String>,
    },
    /// A delayed payment (SEPA Direct Debit) of a top-up's checkout failed.
    CheckoutFailed {
        tenant: TenantId,
        topup: TopupId,
        session: String,
    },
    /// A connected account's capabilities changed.
    AccountUpdated {
        account: String,
        charges_enabled: bool,
        payouts_enabled: bool,
        requirements_due: Vec<String>,
    },
    /// A cash-out's payout reached the bank.
    PayoutPaid {
        tenant: TenantId,
        cashout: CashoutId,
        payout: String,
        account: Option<String>,
    },
    /// A cash-out's payout failed or was canceled.
    PayoutFailed {
        tenant: TenantId,
        cashout: CashoutId,
        payout: String,
        account: Option<String>,
    },
    /// A top-up's charge was refunded, `refunded_cents` in all so far.
    ChargeRefunded {
        account: Option<String>,
        charge: String,
        payment_intent: Option<String>,
        refunded_cents: i64,
    },
    /// A dispute over a top-up's charge was lost.
    DisputeLost {
        account: Option<String>,
        dispute: String,
        payment_intent: Option<String>,
        amount_cents: i64,
    },
    /// Nothing for us to do (a type we do not act on, or a checkout still waiting for its money).
    Ignored,
}

/// The payment provider as the domain needs it (implemented by the `billing` crate).
pub trait PaymentProvider: Send + Sync {
    fn checkout<'a>(&'a self, req: &'a CheckoutRequest) -> BoxFuture<'a, anyhow::Result<Checkout>>;

    fn onboarding<'a>(
        &'a self,
        req: &'a OnboardingRequest,
    ) -> BoxFuture<'a, anyhow::Result<Onboarding>>;

    /// Reads a stored event's raw payload. An error leaves the event pending with the reason.
    fn read_event(&self, payload: &[u8]) -> anyhow::Result<ProviderEvent>;

    /// Pays a cash-out out of the org's account (idempotent by the request's key).
    fn payout<'a>(&'a self, req: &'a PayoutRequest) -> BoxFuture<'a, anyhow::Result<Payout>> {
        let _ = req;
        Box::pin(async { Err(anyhow::anyhow!("this provider cannot pay out")) })
    }

    /// The provider's events after `after` (the newest it has if `None`), oldest first: what the
    /// reconcile job compares with what the webhook stored.
    fn events_since<'a>(
        &'a self,
        after: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Vec<RawEvent>>> {
        let _ = after;
        Box::pin(async { Ok(Vec::new()) })
    }
}

impl Core {
    /// With a payment provider: top-ups are on.
    pub fn with_payment_provider(mut self, provider: Arc<dyn PaymentProvider>) -> Self {
        self.payments = Some(provider);
        self
    }

    /// Whether top-ups can work at all here (a provider is configured).
    pub fn topups_on(&self) -> bool {
        self.payments.is_some()
    }
}
