//! Provider events: stored as received (under the provider's unique event id, before the
//! webhook answers) and applied later, one at a time, by the worker.
//!
//! Applying an event holds its row's lock in a control-plane transaction, settles the top-up in
//! the org's own transaction, then writes the euro entry and marks the event applied in the
//! control transaction. The two cannot share one transaction (the org's schema may live on
//! another node), so both sides are keyed by the checkout session: the org's issuance by the
//! journal key `topup:<session>` (and the top-up's state under its row lock), the euro entry by
//! its own `topup:<session>`. A crash between them leaves the event pending; applying it again
//! finds the top-up paid, issues nothing, and writes the euro entry that was missing. Several
//! events for one session (completed, async succeeded, redeliveries) end the same way.

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::clawbacks::{self, ClawKind};
use super::euros::{self, EuroKind, EuroMove};
use super::topups::{self, tenant_of};
use super::{PaymentProvider, ProviderEvent, accounts, escrow as cashouts};
use crate::core::Core;
use crate::domain::ids::TenantId;
use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};

/// After this many failed attempts an event is left for a person to look at.
const MAX_ATTEMPTS: i32 = 20;
/// How often one event's org transaction is retried when the ledger raced a duplicate key.
const LEDGER_RETRIES: usize = 5;

/// What one run of the event job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppliedEvents {
    pub applied: u64,
    pub ignored: u64,
    pub failed: u64,
}

impl Core {
    /// Stores a verified event under its id; `false` when that id was stored before (a
    /// redelivery), which changes nothing.
    pub async fn store_provider_event(&self, id: &str, kind: &str, payload: &[u8]) -> Result<bool> {
        let stored = sqlx::query(
            "INSERT INTO control.provider_events (id, kind, payload) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(kind)
        .bind(payload)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(stored == 1)
    }

    /// The daily reconcile: lists the provider's events since the stored cursor and stores any
    /// the webhook missed (the event job applies them like any other). Returns how many were
    /// new. Without a provider there is nothing to compare with.
    pub async fn reconcile_provider_events(&self) -> Result<u64> {
        let Some(provider) = self.payments.clone() else {
            return Ok(0);
        };
        let cursor: Option<(Option<String>,)> =
            sqlx::query_as("SELECT last_event FROM control.provider_event_cursor")
                .fetch_optional(&self.pool)
                .await?;
        let cursor = cursor.and_then(|(c,)| c);
        let events = provider
            .events_since(cursor.as_deref())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "listing the provider's events failed");
                Error::Unavailable {
                    retry_after_secs: 60,
                }
            })?;
        let mut new = 0;
        for event in &events {
            if self
                .store_provider_event(&event.id, &event.kind, &event.payload)
                .await?
            {
                tracing::info!(event = %event.id, kind = %event.kind, "reconcile found an event the webhook missed");
                new += 1;
            }
        }
        // Moved only after every event is stored: a crash here lists them again (stored once).
        let newest = events.last().map(|e| e.id.as_str()).or(cursor.as_deref());
        sqlx::query(
            "INSERT INTO control.provider_event_cursor (id, last_event) VALUES (true, $1)
             ON CONFLICT (id) DO UPDATE SET last_event = $1, checked_at = now()",
        )
        .bind(newest)
        .execute(&self.pool)
        .await?;
        Ok(new)
    }

    /// Events received and not yet applied.
    pub async fn pending_provider_events(&self) -> Result<i64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM control.provider_events WHERE applied_at IS NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }

    /// Applies up to `limit` pending events, oldest first, each at most once per run (a failing
    /// one waits for the next run instead of taking the whole run). Concurrent runs take
    /// different events. Without a provider nothing can be read, so nothing is applied.
    pub async fn apply_provider_events(&self, limit: u64) -> Result<AppliedEvents> {
        let mut done = AppliedEvents::default();
        let Some(provider) = self.payments.clone() else {
            return Ok(done);
        };
        let mut tried = Vec::new();
        for _ in 0..limit {
            match self.apply_next(provider.as_ref(), &mut tried).await? {
                None => break,
                Some(Outcome::Applied) => done.applied += 1,
                Some(Outcome::Ignored) => done.ignored += 1,
                Some(Outcome::Failed) => done.failed += 1,
            }
        }
        Ok(done)
    }

    async fn apply_next(
        &self,
        provider: &dyn PaymentProvider,
        tried: &mut Vec<String>,
    ) -> Result<Option<Outcome>> {
        let mut ctl = self.pool.begin().await?;
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT id, payload FROM control.provider_events
             WHERE applied_at IS NULL AND attempts < $1 AND id <> ALL($2)
             ORDER BY received_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind(MAX_ATTEMPTS)
        .bind(&*tried)
        .fetch_optional(&mut *ctl)
        .await?;
        let Some((id, payload)) = row else {
            return Ok(None);
        };
        tried.push(id.clone());
        // A savepoint: a failed step leaves the event's row writable for the failure's record.
        let mut step = sqlx::Connection::begin(&mut *ctl).await?;
        let result = match provider.read_event(&payload) {
            Ok(event) => self.apply_event(&mut step, &event).await,
            Err(e) => Err(Error::Internal(e)),
        };
        let (outcome, text) = match result {
            Ok(outcome) => {
                step.commit().await?;
                (outcome, outcome.as_str().to_owned())
            }
            Err(e) => {
                drop(step);
                tracing::warn!(event = %id, error = %e, "a provider event failed to apply");
                (Outcome::Failed, e.code().to_owned())
            }
        };
        sqlx::query(
            "UPDATE control.provider_events
             SET attempts = attempts + 1, outcome = $2,
                 applied_at = CASE WHEN $3 THEN now() END
             WHERE id = $1",
        )
        .bind(&id)
        .bind(&text)
        .bind(outcome != Outcome::Failed)
        .execute(&mut *ctl)
        .await?;
        ctl.commit().await?;
        Ok(Some(outcome))
    }

    async fn apply_event(&self, ctl: &mut PgConnection, event: &ProviderEvent) -> Result<Outcome> {
        match event {
            ProviderEvent::CheckoutPaid {
                tenant,
                topup,
                session,
                amount_cents,
                account,
                payment_intent,
            } => {
                check_account(ctl, *tenant, account.as_deref()).await?;
                let settled = self
                    .settle_paid(
                        *tenant,
                        *topup,
                        session,
                        *amount_cents,
                        payment_intent.as_deref(),
                    )
                    .await?;
                if settled.mismatch {
                    return Ok(Outcome::Ignored);
                }
                let key = format!("topup:{session}");
                euros::post(
                    ctl,
                    &EuroMove {
                        tenant: *tenant,
                        kind: EuroKind::Topup,
                        amount_cents: settled.amount_cents,
                        provider_ref: session,
                        key: &key,
                    },
                )
                .await?;
                Ok(Outcome::Applied)
            }
            ProviderEvent::CheckoutFailed {
                tenant,
                topup,
                session,
            } => {
                let mut tx = TenantTx::begin(&self.pool, &tenant_of(*tenant)).await?;
                topups::settle_failed(&mut tx, *topup, session).await?;
                tx.commit().await?;
                Ok(Outcome::Applied)
            }
            ProviderEvent::AccountUpdated { .. } => {
                Ok(if accounts::apply_update(ctl, event).await? {
                    Outcome::Applied
                } else {
                    Outcome::Ignored
                })
            }
            ProviderEvent::PayoutPaid {
                tenant,
                cashout,
                payout,
                account,
            }
            | ProviderEvent::PayoutFailed {
                tenant,
                cashout,
                payout,
                account,
            } => {
                check_account(ctl, *tenant, account.as_deref()).await?;
                let paid = matches!(event, ProviderEvent::PayoutPaid { .. });
                let settled = self.settle_payout(*tenant, *cashout, payout, paid).await?;
                cashouts::settle_hold(ctl, *tenant, *cashout, payout, &settled).await?;
                Ok(Outcome::Applied)
            }
            ProviderEvent::ChargeRefunded {
                account,
                charge: object,
                payment_intent,
                refunded_cents: cents,
            }
            | ProviderEvent::DisputeLost {
                account,
                dispute: object,
                payment_intent,
                amount_cents: cents,
            } => {
                let kind = if matches!(event, ProviderEvent::ChargeRefunded { .. }) {
                    ClawKind::Refund
                } else {
                    ClawKind::Dispute
                };
                let (Some(account), Some(intent)) = (account, payment_intent) else {
                    return Ok(Outcome::Ignored);
                };
                let Some(tenant) = tenant_of_account(ctl, account).await? else {
                    return Ok(Outcome::Ignored);
                };
                let Some(clawed) = self.claw_back(tenant, kind, object, intent, *cents).await?
                else {
                    return Ok(Outcome::Ignored);
                };
                euros::post(
                    ctl,
                    &EuroMove {
                        tenant,
                        kind: match kind {
                            ClawKind::Refund => EuroKind::Refund,
                            ClawKind::Dispute => EuroKind::Dispute,
                        },
                        amount_cents: clawed.cents,
                        provider_ref: object,
                        key: &clawed.key,
                    },
                )
                .await?;
                Ok(Outcome::Applied)
            }
            ProviderEvent::Ignored => Ok(Outcome::Ignored),
        }
    }

    /// Settles a payout in the org's own transaction, retrying when the ledger raced.
    async fn settle_payout(
        &self,
        tenant: TenantId,
        cashout: super::CashoutId,
        payout: &str,
        paid: bool,
    ) -> Result<cashouts::PayoutSettled> {
        for _ in 0..LEDGER_RETRIES {
            let mut tx = TenantTx::begin(&self.pool, &tenant_of(tenant)).await?;
            if let Some(done) = cashouts::settle_payout(&mut tx, cashout, payout, paid).await? {
                tx.commit().await?;
                return Ok(done);
            }
        }
        Err(Error::Busy)
    }

    /// Takes a refund's or dispute's coins back in the org's own transaction.
    async fn claw_back(
        &self,
        tenant: TenantId,
        kind: ClawKind,
        object: &str,
        payment_intent: &str,
        cents: i64,
    ) -> Result<Option<clawbacks::Clawed>> {
        for _ in 0..LEDGER_RETRIES {
            let mut tx = TenantTx::begin(&self.pool, &tenant_of(tenant)).await?;
            if let Some(done) =
                clawbacks::claw_back(&mut tx, kind, object, payment_intent, cents).await?
            {
                tx.commit().await?;
                return Ok(done);
            }
        }
        Err(Error::Busy)
    }

    /// Settles a paid top-up in the org's own transaction, retrying when the ledger raced a
    /// duplicate key.
    async fn settle_paid(
        &self,
        tenant: TenantId,
        topup: super::TopupId,
        session: &str,
        amount_cents: i64,
        payment_intent: Option<&str>,
    ) -> Result<topups::Settled> {
        for _ in 0..LEDGER_RETRIES {
            let mut tx = TenantTx::begin(&self.pool, &tenant_of(tenant)).await?;
            if let Some(done) =
                topups::settle_paid(&mut tx, topup, session, amount_cents, payment_intent).await?
            {
                tx.commit().await?;
                return Ok(done);
            }
        }
        Err(Error::Busy)
    }
}

/// The org whose connected account this is, if any.
async fn tenant_of_account(ctl: &mut PgConnection, account: &str) -> Result<Option<TenantId>> {
    let row: Option<(TenantId,)> = sqlx::query_as(
        "SELECT tenant_id FROM control.billing_accounts WHERE provider_account = $1",
    )
    .bind(account)
    .fetch_optional(ctl)
    .await?;
    Ok(row.map(|(t,)| t))
}

/// A checkout event must come from the org's own connected account.
async fn check_account(
    ctl: &mut PgConnection,
    tenant: TenantId,
    account: Option<&str>,
) -> Result<()> {
    let Some(account) = account else {
        return Ok(());
    };
    let known: Option<(String,)> = sqlx::query_as(
        "SELECT provider_account FROM control.billing_accounts WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(ctl)
    .await?;
    match known {
        Some((own,)) if own == account => Ok(()),
        _ => Err(Error::Internal(anyhow::anyhow!(
            "a checkout event of org {tenant} from another account"
        ))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied,
    Ignored,
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }
}
