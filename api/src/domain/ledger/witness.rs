//! Witnesses (issue 20): the worker posts the org's latest signed tree head to its bound rooms,
//! one short line (size and the root's first bytes, `transparency::Witness`), so a history
//! rewritten later contradicts what the rooms already saw; a member copies such lines into
//! `coinsence audit verify --witness`.
//!
//! Seals run every ten minutes; rooms hear at most one witness per `every` (an hour by default).
//! The latest head is posted, not each one: a head skipped inside the hour is extended by the
//! next one posted, which the consistency proofs check. Each head is posted once at most.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::tree_heads::{TreeHead, head_in};
use crate::core::Core;
use crate::domain::governance::outbox::{EventKind, NewEvent, emit};
use crate::domain::tenancy::{Tenant, TenantTx};
use crate::error::{Error, Result};
use crate::refusal::Refusal;

impl Core {
    /// Posts the org's latest tree head to its rooms through the outbox, unless the org has no
    /// bound room, that head (or a later one) was posted already, or a witness was posted less
    /// than `every` before `now`. The head posted, if any.
    pub async fn witness_tree_head(
        &self,
        tenant: &Tenant,
        now: DateTime<Utc>,
        every: Duration,
    ) -> Result<Option<TreeHead>> {
        let (rooms,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM control.chat_rooms WHERE tenant_id = $1)")
                .bind(tenant.id)
                .fetch_one(&self.pool)
                .await?;
        if !rooms {
            return Ok(None);
        }
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        // Two workers deciding at once would both see no recent witness.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('coinsence-witness'), hashtext($1))")
            .bind(tenant.schema().as_str())
            .execute(tx.conn())
            .await?;
        let head = match head_in(&mut tx, None).await {
            Ok(head) => head,
            Err(Error::Refused(Refusal::TreeHeadNotFound { .. })) => return Ok(None),
            Err(e) => return Err(e),
        };
        // The time the worker's clock gave is kept in the payload (the row's created_at is the
        // database's), so the throttle follows the same clock as the seals.
        let last: Option<(Option<i64>, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT (payload->>'tree_size')::bigint, (payload->>'posted_at')::timestamptz
             FROM outbox WHERE kind = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(EventKind::TreeHead.as_str())
        .fetch_optional(tx.conn())
        .await?;
        if let Some((size, at)) = last {
            let posted = size.is_some_and(|s| s >= head.tree_size);
            let recent = at.is_some_and(|at| now - at < every);
            if posted || recent {
                return Ok(None);
            }
        }
        emit(
            &mut tx,
            NewEvent {
                kind: EventKind::TreeHead,
                payload: json!({
                    "tree_size": head.tree_size,
                    "root": hex::encode(head.root.0),
                    "posted_at": now,
                }),
                to_rooms: true,
                to_users: Vec::new(),
                dedup_key: format!("tree_head:{}", head.tree_size),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(head))
    }
}
