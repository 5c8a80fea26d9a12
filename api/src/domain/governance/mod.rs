//! Governance and what it decides about: rules, proposals and votes (DESIGN "Governance"),
//! pledges that back issuance, projects and their shares, the market, the feed, and the outbox
//! that tells members about all of it.
//!
//! - `tally`: the pure outcome of a vote.
//! - `rules`, `proposals`, `actions`: deciding, and running what was decided exactly once,
//!   atomically with the close.
//! - `pledges`, `projects`, `market`, `feed`: what members do; money always moves through the
//!   ledger ([`post_in`](crate::domain::ledger::queue::post_in)) inside the same transaction.
//! - `outbox`: events written with the change that caused them, for the chat side to deliver.
//!
//! Every operation takes a [`Member`](crate::domain::orgs::Member) as proof of who acts (or a
//! [`Tenant`](crate::domain::tenancy::Tenant) for the worker's `close_due`), and plain inputs
//! (amounts as decimal text), so the HTTP API and the chat bots call exactly the same thing.

mod actions;
pub use actions::{Action, ActionRequest};
pub mod feed;
pub mod market;
pub mod outbox;
pub mod pledges;
pub mod projects;
pub mod proposals;
pub mod rules;
pub mod tally;

use std::collections::HashMap;
use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::ids::CurrencyId;
use super::ledger::ops::IdempotencyKey;
use super::ledger::queue::post_in;
use super::ledger::{Currency, CurrencyCode, Transfer, TransferOrder, store as ledger_store};
use super::money::{Amount, Scale};
use super::tenancy::TenantTx;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// A positive amount in a currency's scale, as a field error when it is not one.
pub(crate) fn parse_amount(field: &'static str, text: &str, scale: Scale) -> Result<Amount> {
    Amount::parse(text, scale).map_err(|e| Error::from(Refusal::amount(field, e)))
}

/// Posts orders inside the caller's transaction and insists they all apply. `Ok(None)`: a
/// concurrent duplicate key raced, roll back and retry. `Err`: the first refused order's reason;
/// other orders may have been written, so the caller must roll back (the transaction or to its
/// savepoint) — nothing of a refused operation may stay.
pub(crate) async fn post_all(
    tx: &mut TenantTx,
    orders: &[TransferOrder],
) -> Result<Option<Vec<Transfer>>> {
    let Some(results) = post_in(tx, orders).await? else {
        return Ok(None);
    };
    results.into_iter().collect::<Result<Vec<_>>>().map(Some)
}

/// The transfer an earlier identical request already wrote under this order's key. The same key
/// with other parameters is a conflict, as in the ledger.
pub(crate) async fn replayed(tx: &mut TenantTx, order: &TransferOrder) -> Result<Option<Transfer>> {
    let earlier = ledger_store::earlier_entries(tx, &[order.key.as_str()]).await?;
    match earlier.get(&order.key) {
        Some((fingerprint, transfer)) if *fingerprint == order.fingerprint() => {
            Ok(Some(transfer.clone()))
        }
        Some(_) => Err(Error::IdempotencyConflict),
        None => Ok(None),
    }
}

/// Runs an operation (one transaction) until it completes: `Ok(None)` or a transient database
/// error means it was rolled back and is tried again.
pub(crate) async fn retrying<T, F, Fut>(mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    const ATTEMPTS: usize = 8;
    for _ in 0..ATTEMPTS {
        match op().await {
            Ok(Some(done)) => return Ok(done),
            Ok(None) => continue,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Busy)
}

/// The org's currencies by id, for showing amounts.
pub(crate) async fn currency_map(tx: &mut TenantTx) -> Result<HashMap<CurrencyId, Currency>> {
    Ok(ledger_store::currencies(tx)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect())
}

/// A currency by code, read inside the transaction.
pub(crate) async fn currency_by_code(tx: &mut TenantTx, code: &str) -> Result<Currency> {
    let code = CurrencyCode::parse(code)?;
    ledger_store::currencies(tx)
        .await?
        .into_iter()
        .find(|c| c.code == code)
        .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))
}

/// A currency the community uses as money (not a project's shares).
pub(crate) async fn coin_by_code(tx: &mut TenantTx, code: &str) -> Result<Currency> {
    let currency = currency_by_code(tx, code).await?;
    match ledger_store::currency_kind(tx, currency.id).await? {
        Some(super::ledger::CurrencyKind::Coin) => Ok(currency),
        _ => Err(Error::from(Refusal::ShareCurrencyNotMoney {
            field: "currency",
        })),
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
