//! Idempotency for every area: the client's key, namespaced by where it came from, and the
//! create-once helper that answers a retried creation exactly as the first attempt was answered.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::ids::UserId;
use super::tenancy::TenantTx;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// A client-chosen idempotency key, namespaced by where it came from so two sources can never
/// collide ("http:<user>:<key>", "matrix:<event id>", "stripe:<event id>", ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A key sent in the HTTP `Idempotency-Key` header, scoped to the caller.
    pub fn http(user: UserId, raw: &str) -> Result<Self> {
        Self::scoped("http", &user.0.to_string(), raw)
    }

    /// A key from another source (a chat platform's event id, a job's natural key).
    pub fn scoped(source: &str, scope: &str, raw: &str) -> Result<Self> {
        let ok = !raw.is_empty() && raw.len() <= 200 && raw.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(Error::from(Refusal::IdempotencyKeyMalformed {
                field: "idempotency_key",
                max: 200,
            }));
        }
        Ok(Self(format!("{source}:{scope}:{raw}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespaced key, for a transfer order's own key.
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

/// The idempotency of a creation (a proposal, pledge, project, listing, post or comment, or a
/// vote sent with a chat event's key): a
/// retry with the same key answers exactly what the first attempt answered (kept with the key,
/// so a tally, a status or a count that changed since does not show), and the same key with other
/// input is a conflict. Money movements are made idempotent by the journal's own keys instead.
pub(crate) struct Creation<'a> {
    key: Option<&'a IdempotencyKey>,
    resource: &'static str,
    fingerprint: Vec<u8>,
}

impl<'a> Creation<'a> {
    pub fn new(
        key: Option<&'a IdempotencyKey>,
        resource: &'static str,
        input: &impl Debug,
    ) -> Self {
        let fingerprint = Sha256::digest(format!("v1|{resource}|{input:?}").as_bytes()).to_vec();
        Self {
            key,
            resource,
            fingerprint,
        }
    }

    /// Takes the request's key, first thing in the creating transaction: `Some(answer)` is what
    /// an earlier identical request answered (answer that again), `None` means this request now
    /// holds the key. A concurrent request with the same key waits on the key's row until this
    /// one commits (then finds its answer) or rolls back (then takes the key itself), so it never
    /// trips over what this one is creating (a unique code, a title) and answers 409 instead of
    /// the first answer. `reread` reads the resource by id, for keys taken before first answers
    /// were kept.
    pub async fn take<T: DeserializeOwned>(
        &self,
        tx: &mut TenantTx,
        reread: impl AsyncFnOnce(&mut TenantTx, i64) -> Result<T>,
    ) -> Result<Option<T>> {
        let Some(key) = self.key else {
            return Ok(None);
        };
        let taken = sqlx::query(
            "INSERT INTO requests (idempotency_key, resource, fingerprint) VALUES ($1, $2, $3)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(key.as_str())
        .bind(self.resource)
        .bind(&self.fingerprint)
        .execute(tx.conn())
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(None);
        }
        #[derive(sqlx::FromRow)]
        struct Earlier {
            resource: String,
            fingerprint: Vec<u8>,
            resource_id: Option<i64>,
            response: Option<String>,
        }
        // A statement of its own: its snapshot sees the row the insert waited for.
        let found: Option<Earlier> = sqlx::query_as(
            "SELECT resource, fingerprint, resource_id, response::text AS response FROM requests
             WHERE idempotency_key = $1",
        )
        .bind(key.as_str())
        .fetch_optional(tx.conn())
        .await?;
        match found {
            Some(Earlier {
                resource,
                fingerprint,
                resource_id: Some(id),
                response,
            }) if resource == self.resource && fingerprint == self.fingerprint => match response {
                Some(json) => serde_json::from_str(&json).map(Some).map_err(|e| {
                    Error::Internal(anyhow::anyhow!(
                        "the first answer to request key {} does not read back: {e}",
                        key.as_str()
                    ))
                }),
                None => reread(tx, id).await.map(Some),
            },
            Some(Earlier {
                resource_id: Some(_),
                ..
            }) => Err(Error::IdempotencyConflict),
            // Every holder fills in the id before it commits.
            _ => Err(Error::Internal(anyhow::anyhow!(
                "request key {} committed without what it created",
                key.as_str()
            ))),
        }
    }

    /// Records what this request created and answers, under the key [`Creation::take`] took,
    /// in the creating transaction: the answer is kept exactly when the creation commits.
    pub async fn remember(
        &self,
        tx: &mut TenantTx,
        id: i64,
        answer: &impl Serialize,
    ) -> Result<()> {
        let Some(key) = self.key else {
            return Ok(());
        };
        let answer = serde_json::to_string(answer)
            .map_err(|e| Error::Internal(anyhow::anyhow!("an answer that is not JSON: {e}")))?;
        sqlx::query(
            "UPDATE requests SET resource_id = $2, response = $3::jsonb WHERE idempotency_key = $1",
        )
        .bind(key.as_str())
        .bind(id)
        .bind(answer)
        .execute(tx.conn())
        .await?;
        Ok(())
    }
}
