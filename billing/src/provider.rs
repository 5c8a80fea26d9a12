//! [`StripeProvider`]: the domain's payment provider on Stripe.
//!
//! - A top-up is a Checkout Session created on the org's connected account (the
//!   `Stripe-Account` header: a direct charge, so the euros land in the org's own balance), with
//!   the platform's fee as the payment's application fee. Its metadata names the org and the
//!   top-up, which is how its events find their way back.
//! - Onboarding creates the org's Express account once (idempotency key from the org id) and
//!   an Account Link to Stripe's onboarding pages.
//! - Events are read from the raw JSON we stored, by hand: only the fields we act on, so a new
//!   field or event type in Stripe's API cannot make a stored event unreadable.

use std::collections::HashMap;

use coinsence_api::domain::billing::{
    Checkout, CheckoutRequest, Onboarding, OnboardingRequest, PaymentProvider, Payout,
    PayoutRequest, ProviderEvent, RawEvent,
};
use coinsence_api::domain::ids::TenantId;
use futures::future::BoxFuture;
use serde_json::Value;
use stripe::{AccountId, Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData,
};
use stripe_connect::account::{CreateAccount, CreateAccountType};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_core::event::ListEvent;
use stripe_core::payout::CreatePayout;
use stripe_types::Currency;

use crate::config::BillingArgs;

/// Metadata keys on our Checkout Sessions.
pub const META_TENANT: &str = "coinsence_tenant";
pub const META_TOPUP: &str = "coinsence_topup";
/// Metadata key on our payouts.
pub const META_CASHOUT: &str = "coinsence_cashout";
/// The most events one page of the reconcile's listing brings.
const EVENTS_PAGE: i64 = 100;

pub struct StripeProvider {
    client: Client,
    fee_bp: u32,
    return_url: String,
}

impl StripeProvider {
    /// `None` when no secret key is configured: top-ups are off.
    pub fn from_args(args: &BillingArgs) -> anyhow::Result<Option<Self>> {
        let Some(key) = &args.stripe_secret_key else {
            return Ok(None);
        };
        crate::tls::install_crypto_provider();
        let client = ClientBuilder::new(key.expose())
            .url(args.stripe_api_base.clone())
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| anyhow::anyhow!("the Stripe client: {e}"))?;
        Ok(Some(Self {
            client,
            fee_bp: args.stripe_fee_bp,
            return_url: args.billing_return_url.clone(),
        }))
    }

    /// The platform's fee on `cents`, rounded down (in the org's favour).
    pub fn fee(&self, cents: i64) -> i64 {
        let fee = i128::from(cents) * i128::from(self.fee_bp) / 10_000;
        i64::try_from(fee).unwrap_or(0)
    }

    fn key(key: &str) -> anyhow::Result<RequestStrategy> {
        let key =
            IdempotencyKey::new(key).map_err(|e| anyhow::anyhow!("idempotency key: {e:?}"))?;
        Ok(RequestStrategy::Idempotent(key))
    }

    async fn create_checkout(&self, req: &CheckoutRequest) -> anyhow::Result<Checkout> {
        let account = AccountId::from(req.account.as_str());
        let metadata = HashMap::from([
            (META_TENANT.to_owned(), req.tenant.0.to_string()),
            (META_TOPUP.to_owned(), req.topup.to_string()),
        ]);
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(Currency::EUR);
        price.unit_amount = Some(req.amount_cents);
        price.product_data = Some(ProductData::new(req.description.clone()));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(1);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.application_fee_amount = Some(self.fee(req.amount_cents));
        intent.metadata = Some(metadata.clone());
        let done = format!("{}?topup={}", self.return_url, req.topup);
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![item])
            .payment_intent_data(intent)
            .metadata(metadata)
            .client_reference_id(format!("{}:{}", req.tenant, req.topup))
            .success_url(format!("{done}&paid=1"))
            .cancel_url(done)
            .customize()
            .account_id(account)
            .request_strategy(Self::key(&req.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(|e| anyhow::anyhow!("creating a checkout session: {e}"))?;
        let url = session
            .url
            .ok_or_else(|| anyhow::anyhow!("a checkout session without a url"))?;
        Ok(Checkout {
            session: session.id.to_string(),
            url,
        })
    }

    async fn create_onboarding(&self, req: &OnboardingRequest) -> anyhow::Result<Onboarding> {
        let account = match &req.account {
            Some(account) => account.clone(),
            None => CreateAccount::new()
                .type_(CreateAccountType::Express)
                .metadata(HashMap::from([(
                    META_TENANT.to_owned(),
                    req.tenant.0.to_string(),
                )]))
                .customize()
                .request_strategy(Self::key(&req.idempotency_key)?)
                .send(&self.client)
                .await
                .map_err(|e| anyhow::anyhow!("creating the connected account: {e}"))?
                .id
                .to_string(),
        };
        let link =
            CreateAccountLink::new(account.clone(), CreateAccountLinkType::AccountOnboarding)
                .refresh_url(format!("{}?onboarding=refresh", self.return_url))
                .return_url(format!("{}?onboarding=done", self.return_url))
                .send(&self.client)
                .await
                .map_err(|e| anyhow::anyhow!("creating an account link: {e}"))?;
        Ok(Onboarding {
            account,
            url: link.url,
        })
    }
}

impl StripeProvider {
    async fn create_payout(&self, req: &PayoutRequest) -> anyhow::Result<Payout> {
        let metadata = HashMap::from([
            (META_TENANT.to_owned(), req.tenant.0.to_string()),
            (META_CASHOUT.to_owned(), req.cashout.to_string()),
        ]);
        let payout = CreatePayout::new(req.amount_cents, Currency::EUR)
            .metadata(metadata)
            .description(format!("cash-out {}", req.cashout))
            .customize()
            .account_id(AccountId::from(req.account.as_str()))
            .request_strategy(Self::key(&req.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(|e| anyhow::anyhow!("creating a payout: {e}"))?;
        Ok(Payout {
            id: payout.id.to_string(),
        })
    }

    /// Events newer than `after`, oldest first, page by page (Stripe lists newest first;
    /// `ending_before` pages towards the newest). Without a cursor: the newest page.
    async fn list_events(&self, after: Option<&str>) -> anyhow::Result<Vec<RawEvent>> {
        let mut cursor = after.map(str::to_owned);
        let mut events = Vec::new();
        loop {
            let mut list = ListEvent::new().limit(EVENTS_PAGE);
            if let Some(c) = &cursor {
                list = list.ending_before(c.clone());
            }
            let page = list
                .send(&self.client)
                .await
                .map_err(|e| anyhow::anyhow!("listing events: {e}"))?;
            // Newest first within the page: the oldest is at the end.
            let mut batch: Vec<RawEvent> = Vec::with_capacity(page.data.len());
            for event in page.data.iter().rev() {
                let mut object = Vec::new();
                stripe_types::with_serde_json::serialize(
                    &event.data.object,
                    &mut serde_json::Serializer::new(&mut object),
                )?;
                let object: Value = serde_json::from_slice(&object)?;
                let kind = event.type_.as_str().to_owned();
                let payload = serde_json::to_vec(&serde_json::json!({
                    "id": event.id.as_str(),
                    "object": "event",
                    "type": kind,
                    "account": event.account,
                    "created": event.created,
                    "data": { "object": object },
                }))?;
                batch.push(RawEvent {
                    id: event.id.to_string(),
                    kind,
                    payload,
                });
            }
            let newest = batch.last().map(|e| e.id.clone());
            events.extend(batch);
            if !page.has_more || after.is_none() {
                break;
            }
            match newest {
                Some(id) => cursor = Some(id),
                None => break,
            }
        }
        Ok(events)
    }
}

impl PaymentProvider for StripeProvider {
    fn payout<'a>(&'a self, req: &'a PayoutRequest) -> BoxFuture<'a, anyhow::Result<Payout>> {
        Box::pin(self.create_payout(req))
    }

    fn events_since<'a>(
        &'a self,
        after: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Vec<RawEvent>>> {
        Box::pin(self.list_events(after))
    }

    fn checkout<'a>(&'a self, req: &'a CheckoutRequest) -> BoxFuture<'a, anyhow::Result<Checkout>> {
        Box::pin(self.create_checkout(req))
    }

    fn onboarding<'a>(
        &'a self,
        req: &'a OnboardingRequest,
    ) -> BoxFuture<'a, anyhow::Result<Onboarding>> {
        Box::pin(self.create_onboarding(req))
    }

    fn read_event(&self, payload: &[u8]) -> anyhow::Result<ProviderEvent> {
        read_event(payload)
    }
}

/// What a stored Stripe event means for the domain.
pub fn read_event(payload: &[u8]) -> anyhow::Result<ProviderEvent> {
    let event: Value = serde_json::from_slice(payload)?;
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    let object = event
        .pointer("/data/object")
        .ok_or_else(|| anyhow::anyhow!("an event without data.object"))?;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let checkout = || -> anyhow::Result<Option<(TenantId, i64, String)>> {
        let meta = |k: &str| {
            object
                .pointer(&format!("/metadata/{k}"))
                .and_then(Value::as_str)
                .and_then(|v| v.parse::<i64>().ok())
        };
        let (Some(tenant), Some(topup)) = (meta(META_TENANT), meta(META_TOPUP)) else {
            // Not one of our top-ups (another integration on the same account).
            return Ok(None);
        };
        let session = text(object, "id").ok_or_else(|| anyhow::anyhow!("a session without id"))?;
        Ok(Some((TenantId(tenant), topup, session)))
    };
    Ok(match kind {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            // `completed` with a delayed method (SEPA Direct Debit) is not money yet: its
            // `async_payment_succeeded` or `_failed` follows.
            let paid = object.get("payment_status").and_then(Value::as_str) == Some("paid");
            match checkout()? {
                Some((tenant, topup, session)) if paid => ProviderEvent::CheckoutPaid {
                    tenant,
                    topup,
                    session,
                    amount_cents: object
                        .get("amount_total")
                        .and_then(Value::as_i64)
                        .ok_or_else(|| anyhow::anyhow!("a paid session without amount_total"))?,
                    account: text(&event, "account"),
                    payment_intent: text(object, "payment_intent"),
                },
                _ => ProviderEvent::Ignored,
            }
        }
        "payout.paid" | "payout.failed" | "payout.canceled" => {
            let meta = |k: &str| {
                object
                    .pointer(&format!("/metadata/{k}"))
                    .and_then(Value::as_str)
                    .and_then(|v| v.parse::<i64>().ok())
            };
            let (Some(tenant), Some(cashout)) = (meta(META_TENANT), meta(META_CASHOUT)) else {
                // A payout we did not ask for (Stripe's automatic ones).
                return Ok(ProviderEvent::Ignored);
            };
            let payout =
                text(object, "id").ok_or_else(|| anyhow::anyhow!("a payout without id"))?;
            let account = text(&event, "account");
            let tenant = TenantId(tenant);
            if kind == "payout.paid" {
                ProviderEvent::PayoutPaid {
                    tenant,
                    cashout,
                    payout,
                    account,
                }
            } else {
                ProviderEvent::PayoutFailed {
                    tenant,
                    cashout,
                    payout,
                    account,
                }
            }
        }
        "charge.refunded" => ProviderEvent::ChargeRefunded {
            account: text(&event, "account"),
            charge: text(object, "id").ok_or_else(|| anyhow::anyhow!("a charge without id"))?,
            payment_intent: text(object, "payment_intent"),
            refunded_cents: object
                .get("amount_refunded")
                .and_then(Value::as_i64)
                .ok_or_else(|| anyhow::anyhow!("a refunded charge without amount_refunded"))?,
        },
        "charge.dispute.closed" if object.get("status").and_then(Value::as_str) == Some("lost") => {
            ProviderEvent::DisputeLost {
                account: text(&event, "account"),
                dispute: text(object, "id")
                    .ok_or_else(|| anyhow::anyhow!("a dispute without id"))?,
                payment_intent: text(object, "payment_intent"),
                amount_cents: object
                    .get("amount")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| anyhow::anyhow!("a dispute without amount"))?,
            }
        }
        "checkout.session.async_payment_failed" => match checkout()? {
            Some((tenant, topup, session)) => ProviderEvent::CheckoutFailed {
                tenant,
                topup,
                session,
            },
            None => ProviderEvent::Ignored,
        },
        "account.updated" => ProviderEvent::AccountUpdated {
            account: text(object, "id").ok_or_else(|| anyhow::anyhow!("an account without id"))?,
            charges_enabled: object.get("charges_enabled").and_then(Value::as_bool) == Some(true),
            payouts_enabled: object.get("payouts_enabled").and_then(Value::as_bool) == Some(true),
            requirements_due: object
                .pointer("/requirements/currently_due")
                .and_then(Value::as_array)
                .map(|due| {
                    due.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        },
        _ => ProviderEvent::Ignored,
    })
}
