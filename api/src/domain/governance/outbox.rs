//! The transactional outbox: events are written in the transaction of the change that caused
//! them, so an event exists exactly when its change committed. Delivery reads the pending ones,
//! sends them at least once, and marks them delivered; receivers drop repeats by `dedup_key`.
//! "Payment received" is written by a trigger on the journal (migration 0002), so every payment,
//! however it was posted, produces it.
//!
//! The worker delivers through an [`OutboxSink`] (the chat bots implement it):
//! [`Core::deliver_outbox`] leases a batch, hands each event to the sink, and records the
//! outcome. A failed attempt backs off exponentially; an event the sink rejects for good, or
//! that runs out of attempts, is parked with the reason instead of being retried forever.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::core::Core;
use crate::domain::ids::{OutboxId, UserId};
use crate::domain::tenancy::{Tenant, TenantTx};
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};

text_enum!(
    /// What happened.
    EventKind {
        PaymentReceived => "payment_received",
        ProposalOpened => "proposal_opened",
        VoteReminder => "vote_reminder",
        ProposalClosed => "proposal_closed",
        PledgeApproved => "pledge_approved",
        ProjectFunded => "project_funded",
        ProjectRefunded => "project_refunded",
        ListingBought => "listing_bought",
        PostCreated => "post_created",
        /// A member's euro top-up was paid and its coins issued (issue 16).
        TopupPaid => "topup_paid",
        /// A member's delayed euro payment failed; nothing was issued.
        TopupFailed => "topup_failed",
        /// A member's exchange order filled in full in a round (issue 17).
        ExchangeFilled => "exchange_filled",
        /// A member's exchange order did not fill in a round, or only in part, and why.
        ExchangeUnfilled => "exchange_unfilled",
        /// A signed tree head of the journal, posted to the rooms as a witness (issue 20).
        TreeHead => "tree_head",
    }
);

/// An event to write.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub payload: Value,
    /// Tell the org's bound rooms.
    pub to_rooms: bool,
    /// Tell these members directly.
    pub to_users: Vec<UserId>,
    /// Unique per org: writing the same event twice keeps the first.
    pub dedup_key: String,
}

/// An event waiting for (or past) delivery.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEvent {
    pub id: OutboxId,
    pub kind: EventKind,
    pub payload: Value,
    pub to_rooms: bool,
    pub to_users: Vec<UserId>,
    pub dedup_key: String,
    pub created_at: DateTime<Utc>,
}

/// Writes an event inside the caller's transaction.
pub(crate) async fn emit(tx: &mut TenantTx, event: NewEvent) -> Result<()> {
    let users: Vec<i64> = event.to_users.iter().map(|u| u.0).collect();
    sqlx::query(
        "INSERT INTO outbox (kind, payload, to_rooms, to_users, dedup_key)
         VALUES ($1, $2::jsonb, $3, $4, $5) ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(event.kind.as_str())
    .bind(event.payload.to_string())
    .bind(event.to_rooms)
    .bind(&users)
    .bind(&event.dedup_key)
    .execute(tx.conn())
    .await?;
    Ok(())
}

impl Core {
    /// The oldest undelivered events of an org, at most `limit` (1–1000).
    pub async fn outbox_pending(&self, tenant: &Tenant, limit: i64) -> Result<Vec<OutboxEvent>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: OutboxId,
            kind: String,
            payload: String,
            to_rooms: bool,
            to_users: Vec<i64>,
            dedup_key: String,
            created_at: DateTime<Utc>,
        }
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, kind, payload::text AS payload, to_rooms, to_users, dedup_key, created_at
             FROM outbox WHERE delivered_at IS NULL AND parked_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(tx.conn())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(OutboxEvent {
                    id: r.id,
                    kind: EventKind::try_from(r.kind)?,
                    payload: serde_json::from_str(&r.payload)
                        .map_err(|e| Error::Internal(e.into()))?,
                    to_rooms: r.to_rooms,
                    to_users: r.to_users.into_iter().map(UserId).collect(),
                    dedup_key: r.dedup_key,
                    created_at: r.created_at,
                })
            })
            .collect()
    }

    /// Marks events delivered; marking one twice is harmless. Returns how many were newly marked.
    pub async fn outbox_mark_delivered(&self, tenant: &Tenant, ids: &[OutboxId]) -> Result<u64> {
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        let done = sqlx::query(
            "UPDATE outbox SET delivered_at = now() WHERE id = ANY($1) AND delivered_at IS NULL",
        )
        .bind(&ids)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later: the platform was unreachable, slow or rate limiting.
    #[error("{0}")]
    Retry(String),
    /// Will never work (the room is gone, the event cannot be shown): park the event.
    #[error("{0}")]
    Reject(String),
}

/// Where the worker hands outbox events: the chat side implements it. Delivery is at least
/// once, so an implementation drops an event whose `dedup_key` it has already sent.
pub trait OutboxSink: Send + Sync {
    fn deliver<'a>(
        &'a self,
        tenant: &'a Tenant,
        event: &'a OutboxEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;
}

/// How delivery retries.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// Events leased per run.
    pub batch: i64,
    /// Attempts before an event is parked.
    pub max_attempts: i32,
    /// The wait after the first failure; it doubles with every further failure ...
    pub first_backoff: Duration,
    /// ... up to this.
    pub max_backoff: Duration,
    /// How long a leased event is left to the worker that leased it (if it dies, another
    /// worker takes the event over after this).
    pub lease: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            batch: 100,
            max_attempts: 8,
            first_backoff: Duration::seconds(10),
            max_backoff: Duration::hours(1),
            lease: Duration::minutes(5),
        }
    }
}

impl DeliveryPolicy {
    /// The wait after the `failures`-th failed attempt (1-based).
    pub fn backoff(&self, failures: i32) -> Duration {
        let doublings = u32::try_from(failures.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        self.first_backoff
            .checked_mul(1 << doublings)
            .map_or(self.max_backoff, |d| d.min(self.max_backoff))
    }
}

/// What one delivery run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliverySummary {
    pub delivered: i64,
    /// Failed this time, to be tried again after a back-off.
    pub retrying: i64,
    /// Given up on: parked with the reason.
    pub parked: i64,
}

/// An event that will not be delivered, and why.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ParkedEvent {
    pub id: OutboxId,
    pub kind: String,
    pub dedup_key: String,
    pub attempts: i32,
    pub parked_at: DateTime<Utc>,
    pub park_reason: String,
}

impl Core {
    /// The worker's delivery step for one org: leases up to `policy.batch` due events (ones no
    /// other worker holds), hands each to `sink`, and records delivered, retry-after or parked.
    #[tracing::instrument(skip(self, tenant, sink), fields(tenant = %tenant.id))]
    pub async fn deliver_outbox(
        &self,
        tenant: &Tenant,
        sink: &dyn OutboxSink,
        now: DateTime<Utc>,
        policy: DeliveryPolicy,
    ) -> Result<DeliverySummary> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: OutboxId,
            kind: String,
            payload: String,
            to_rooms: bool,
            to_users: Vec<i64>,
            dedup_key: String,
            created_at: DateTime<Utc>,
            attempts: i32,
        }
        let leased: Vec<Row> = {
            let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
            let rows = sqlx::query_as(
                "UPDATE outbox o SET leased_until = $2
                 FROM (SELECT id FROM outbox
                       WHERE delivered_at IS NULL AND parked_at IS NULL
                         AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
                         AND (leased_until IS NULL OR leased_until <= $1)
                       ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) due
                 WHERE o.id = due.id
                 RETURNING o.id, o.kind, o.payload::text AS payload, o.to_rooms, o.to_users,
                           o.dedup_key, o.created_at, o.attempts",
            )
            .bind(now)
            .bind(now + policy.lease)
            .bind(policy.batch.clamp(1, 1000))
            .fetch_all(tx.conn())
            .await?;
            tx.commit().await?;
            rows
        };
        let mut summary = DeliverySummary::default();
        for mut row in leased {
            row.to_users.sort_unstable();
            let outcome = match (
                EventKind::try_from(row.kind.clone()),
                serde_json::from_str::<Value>(&row.payload),
            ) {
                (Ok(kind), Ok(payload)) => {
                    let event = OutboxEvent {
                        id: row.id,
                        kind,
                        payload,
                        to_rooms: row.to_rooms,
                        to_users: row.to_users.iter().copied().map(UserId).collect(),
                        dedup_key: row.dedup_key.clone(),
                        created_at: row.created_at,
                    };
                    sink.deliver(tenant, &event).await
                }
                _ => Err(DeliveryError::Reject(
                    "the stored event cannot be read".to_owned(),
                )),
            };
            let attempts = row.attempts.saturating_add(1);
            let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
            match outcome {
                Ok(()) => {
                    sqlx::query(
                        "UPDATE outbox SET delivered_at = $2, attempts = $3, leased_until = NULL
                         WHERE id = $1 AND delivered_at IS NULL",
                    )
                    .bind(row.id)
                    .bind(now)
                    .bind(attempts)
                    .execute(tx.conn())
                    .await?;
                    summary.delivered += 1;
                }
                Err(e) => {
                    let park = match &e {
                        DeliveryError::Reject(why) => Some(format!("rejected: {why}")),
                        DeliveryError::Retry(why) if attempts >= policy.max_attempts => {
                            Some(format!("gave up after {attempts} attempts: {why}"))
                        }
                        DeliveryError::Retry(_) => None,
                    };
                    tracing::warn!(event = %row.id, dedup_key = %row.dedup_key, attempts,
                        error = %e, parked = park.is_some(), "outbox delivery failed");
                    sqlx::query(
                        "UPDATE outbox SET attempts = $2, last_error = $3, leased_until = NULL,
                                next_attempt_at = $4, parked_at = $5, park_reason = $6
                         WHERE id = $1 AND delivered_at IS NULL",
                    )
                    .bind(row.id)
                    .bind(attempts)
                    .bind(e.to_string())
                    .bind(now + policy.backoff(attempts))
                    .bind(park.as_ref().map(|_| now))
                    .bind(&park)
                    .execute(tx.conn())
                    .await?;
                    if park.is_some() {
                        summary.parked += 1;
                    } else {
                        summary.retrying += 1;
                    }
                }
            }
            tx.commit().await?;
        }
        Ok(summary)
    }

    /// Events of an org that were parked, newest first.
    pub async fn outbox_parked(&self, tenant: &Tenant, limit: i64) -> Result<Vec<ParkedEvent>> {
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        Ok(sqlx::query_as(
            "SELECT id, kind, dedup_key, attempts, parked_at, park_reason FROM outbox
             WHERE parked_at IS NOT NULL ORDER BY parked_at DESC, id DESC LIMIT $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(tx.conn())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let p = DeliveryPolicy::default();
        assert_eq!(p.backoff(1), Duration::seconds(10));
        assert_eq!(p.backoff(2), Duration::seconds(20));
        assert_eq!(p.backoff(4), Duration::seconds(80));
        assert_eq!(p.backoff(20), Duration::hours(1));
        assert_eq!(p.backoff(i32::MAX), Duration::hours(1));
    }
}
