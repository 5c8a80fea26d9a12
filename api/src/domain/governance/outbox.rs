//! The transactional outbox: events are written in the transaction of the change that caused
//! them, so an event exists exactly when its change committed. Delivery (the chat side) reads the
//! pending ones, sends them at least once, and marks them delivered; receivers drop repeats by
//! `dedup_key`. "Payment received" is written by a trigger on the journal (migration 0002), so
//! every payment, however it was posted, produces it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

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
             FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT $1",
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
