//! Groups the concurrent transfers of one org into one transaction and one commit.
//!
//! A durable commit (WAL flush) costs far more than the few row changes of a transfer, and a
//! hot account's row lock is held until that commit. So each org gets a lane: its writers take
//! every order waiting at that moment (up to `max_batch`), lock the named accounts in id order,
//! decide them in memory with [`posting::decide`], append the journal, write each touched balance
//! once and commit. Every order still succeeds or fails on its own; none is acknowledged before
//! the commit that holds it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::posting::{self, Book, Decision};
use super::store::{self, NewEntry};
use super::{Transfer, TransferOrder};
use crate::domain::tenancy::{SchemaName, TenantTx};
use crate::error::{Error, Result};

type Reply = oneshot::Sender<Result<Transfer>>;
type Lane = mpsc::UnboundedSender<(TransferOrder, Reply)>;

/// How the lanes batch.
#[derive(Debug, Clone, Copy)]
pub struct QueueConfig {
    /// Transactions in flight per org. Batches lock accounts in id order, so they never deadlock
    /// on accounts; more than one lets a commit overlap the next batch's work.
    pub writers_per_org: usize,
    pub max_batch: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            writers_per_org: 2,
            max_batch: 256,
        }
    }
}

#[derive(Clone)]
pub struct TransferQueue {
    pool: PgPool,
    config: QueueConfig,
    lanes: Arc<Mutex<HashMap<SchemaName, Lane>>>,
}

impl TransferQueue {
    pub fn new(pool: PgPool, config: QueueConfig) -> Self {
        Self {
            pool,
            config,
            lanes: Arc::default(),
        }
    }

    /// Applies one order (in some batch) and answers once its commit is durable.
    pub async fn submit(&self, schema: &SchemaName, order: TransferOrder) -> Result<Transfer> {
        let (reply, answer) = oneshot::channel();
        self.lane(schema)?
            .send((order, reply))
            .map_err(|_| Error::Internal(anyhow::anyhow!("transfer lane of {schema} closed")))?;
        answer.await.map_err(|_| {
            Error::Internal(anyhow::anyhow!(
                "transfer lane of {schema} dropped an order"
            ))
        })?
    }

    fn lane(&self, schema: &SchemaName) -> Result<Lane> {
        let mut lanes = self
            .lanes
            .lock()
            .map_err(|_| Error::Internal(anyhow::anyhow!("transfer lanes poisoned")))?;
        if let Some(tx) = lanes.get(schema) {
            return Ok(tx.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..self.config.writers_per_org.max(1) {
            tokio::spawn(writer(
                self.pool.clone(),
                schema.clone(),
                rx.clone(),
                self.config.max_batch,
            ));
        }
        lanes.insert(schema.clone(), tx.clone());
        Ok(tx)
    }
}

async fn writer(
    pool: PgPool,
    schema: SchemaName,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(TransferOrder, Reply)>>>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        {
            let mut rx = rx.lock().await;
            if rx.recv_many(&mut batch, max_batch).await == 0 {
                return;
            }
        }
        let (orders, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let start = std::time::Instant::now();
        let results = run_with_retries(&pool, &schema, &orders).await;
        metrics::histogram!("coinsence_transfer_batch_size").record(orders.len() as f64);
        metrics::histogram!("coinsence_transfer_batch_seconds")
            .record(start.elapsed().as_secs_f64());
        for (reply, result) in replies.into_iter().zip(results) {
            // The caller may have gone away (client disconnected); the transfer stands.
            let _ = reply.send(result);
        }
    }
}

/// Runs a batch, retrying when a concurrent transaction got in the way. If the batch as a whole
/// fails for another reason, each order is tried alone so one bad order cannot sink the others.
async fn run_with_retries(
    pool: &PgPool,
    schema: &SchemaName,
    orders: &[TransferOrder],
) -> Vec<Result<Transfer>> {
    const ATTEMPTS: usize = 8;
    let mut last = None;
    // Replays are rare: the first attempt skips looking up earlier entries and lets the
    // journal's unique key catch a repeated key, after which the batch is redone with the lookup.
    let mut earlier = Earlier::Assume;
    for _ in 0..ATTEMPTS {
        match run_batch(pool, schema, orders, earlier).await {
            Ok(Some(results)) => return results,
            Ok(None) => {
                earlier = Earlier::LookUp;
                continue;
            }
            Err(e) if is_transient(&e) => {
                last = Some(e);
                continue;
            }
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    if orders.len() > 1 {
        let mut results = Vec::with_capacity(orders.len());
        for order in orders {
            let one = Box::pin(run_with_retries(pool, schema, std::slice::from_ref(order))).await;
            results.extend(one);
        }
        return results;
    }
    let err = last.unwrap_or(Error::Busy);
    tracing::error!(%schema, error = %err, "transfer batch failed");
    vec![Err(if is_transient(&err) { Error::Busy } else { err })]
}

fn is_transient(err: &Error) -> bool {
    match err {
        Error::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

/// One transaction for the whole batch. `Ok(None)`: a concurrent duplicate key won the race;
/// nothing was written, try again.
async fn run_batch(
    pool: &PgPool,
    schema: &SchemaName,
    orders: &[TransferOrder],
    earlier: Earlier,
) -> Result<Option<Vec<Result<Transfer>>>> {
    let mut tx = TenantTx::begin(pool, schema).await?;
    let Some(results) = post(&mut tx, orders, earlier).await? else {
        return Ok(None);
    };
    tx.commit().await?;
    Ok(Some(results))
}

/// Decides and writes orders inside the caller's transaction, which must then commit (or roll
/// back) for them to take effect. Other domain operations use this when a transfer must be
/// atomic with their own change (a proposal executed with its close, a refund with a project's
/// failure). `Ok(None)`: a concurrent transaction committed one of these keys meanwhile; the
/// transaction should be rolled back and the operation retried.
pub async fn post_in(
    tx: &mut TenantTx,
    orders: &[TransferOrder],
) -> Result<Option<Vec<Result<Transfer>>>> {
    post(tx, orders, Earlier::LookUp).await
}

/// Whether a batch looks up entries already written under its keys before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Earlier {
    /// Assume none: a repeated key then makes the write return `None`.
    Assume,
    LookUp,
}

async fn post(
    tx: &mut TenantTx,
    orders: &[TransferOrder],
    earlier: Earlier,
) -> Result<Option<Vec<Result<Transfer>>>> {
    let accounts = store::lock_accounts(tx, orders).await?;
    let earlier = match earlier {
        Earlier::Assume => Default::default(),
        Earlier::LookUp => {
            let keys: Vec<&str> = orders.iter().map(|o| o.key.as_str()).collect();
            store::earlier_entries(tx, &keys).await?
        }
    };
    let mut book = Book::new(accounts);
    let before = book.balances();
    let decisions = posting::decide(orders, &mut book, &earlier);

    let entries: Vec<NewEntry> = decisions
        .iter()
        .zip(orders)
        .filter_map(|(d, order)| match d {
            Decision::Apply { from, to } => Some(NewEntry {
                order,
                from: *from,
                to: *to,
            }),
            _ => None,
        })
        .collect();
    let Some(written) = store::write_entries(tx, &entries, &book.changed(&before)).await? else {
        return Ok(None);
    };

    let mut written = written.into_iter();
    let mut results: Vec<Result<Transfer>> = Vec::with_capacity(orders.len());
    for decision in decisions {
        let result = match decision {
            Decision::Apply { .. } => written
                .next()
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("journal returned fewer rows"))),
            Decision::Replay(t) => Ok(t),
            Decision::SameAs(i) => match results.get(i) {
                Some(Ok(t)) => Ok(t.clone()),
                _ => Err(Error::Internal(anyhow::anyhow!(
                    "duplicate of a failed order"
                ))),
            },
            Decision::Refuse(e) => Err(e),
        };
        results.push(result);
    }
    Ok(Some(results))
}
