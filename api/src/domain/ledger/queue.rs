//! Groups the concurrent transfers of one org into one transaction and one commit.
//!
//! A durable commit (WAL flush) costs far more than the few row changes of a transfer, and a
//! hot account's row lock is held until that commit. So each org gets lanes: a lane takes
//! every order waiting at that moment (up to `max_batch`), reads the named accounts, decides
//! them in memory with [`posting::decide`], and appends the journal and writes each touched
//! balance in one statement. Every order still succeeds or fails on its own; none is
//! acknowledged before the commit that holds it.
//!
//! A busy lane holds a [`TenantSession`] and first tries a batch in two round trips: read the
//! accounts without locks, then one statement that is its own transaction and writes only if
//! every account read is still the version it read (`store::write_entries`). When a concurrent
//! change got in (rare: lanes split orders by payer), a key was seen before, or an order was
//! refused (it may be the retry of one that applied, which must get the first answer), the batch
//! is decided again the classic way, in a transaction that locks the accounts in id order.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use sqlx::PgPool;

use super::posting::{self, Book, Decision};
use super::store::{self, NewBalance, NewEntry, PaymentNotice, Read};
use super::{AccountKind, Transfer, TransferKind, TransferOrder};
use crate::batch::{BatchWorker, Batcher, QueueLimits};
use crate::domain::ids::{AccountId, CurrencyId};
use crate::domain::money::Scale;
use crate::domain::tenancy::{SchemaName, TenantConn, TenantSession, TenantTx};
use crate::error::{Error, Result};
use crate::refusal::Refusal;

type Lane = Batcher<TransferOrder, Result<Posted>>;

/// A transfer as a lane answers it.
#[derive(Debug, Clone)]
pub struct Posted {
    pub transfer: Transfer,
    /// Written by this batch, whose statement checked the payer's credential
    /// (`control.check_payers`); false for the replay of an earlier entry, which checked nothing.
    pub written_now: bool,
}

/// How the lanes batch.
#[derive(Debug, Clone, Copy)]
pub struct QueueConfig {
    /// Lanes per org, each with one transaction in flight. An order goes to the lane of its
    /// paying account, so a hot account's payments queue in one lane and share its commits
    /// instead of waiting on each other's row locks from several transactions. Batches lock and
    /// write accounts in id order, so lanes never deadlock on accounts.
    pub lanes_per_org: usize,
    pub max_batch: usize,
    /// How many orders may wait in a lane, and for how long, before they are shed with 503.
    pub limits: QueueLimits,
}

impl Default for QueueConfig {
    /// Two lanes per org: that measured best
    /// in `bench pay` with two-round-trip batches (random accounts, one run each: 1 lane
    /// 2,637/s, 2 lanes 2,963/s, 3 lanes 2,867/s; bigger batches cost PostgreSQL less per
    /// transfer, and one lane alone waits on its own round trips).
    fn default() -> Self {
        Self {
            lanes_per_org: 2,
            max_batch: 256,
            limits: QueueLimits::default(),
        }
    }
}

#[derive(Clone)]
pub struct TransferQueue {
    pool: PgPool,
    config: QueueConfig,
    lanes: Arc<Mutex<HashMap<SchemaName, Arc<Vec<Lane>>>>>,
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
    pub async fn submit(&self, schema: &SchemaName, order: TransferOrder) -> Result<Posted> {
        let lanes = self.lanes(schema)?;
        let mut hasher = DefaultHasher::new();
        order.from.hash(&mut hasher);
        let lane = &lanes[(hasher.finish() % lanes.len() as u64) as usize];
        lane.call(order).await?
    }

    fn lanes(&self, schema: &SchemaName) -> Result<Arc<Vec<Lane>>> {
        let mut all = self
            .lanes
            .lock()
            .map_err(|_| Error::Internal(anyhow::anyhow!("transfer lanes poisoned")))?;
        if let Some(lanes) = all.get(schema) {
            return Ok(lanes.clone());
        }
        let lanes: Vec<Lane> = (0..self.config.lanes_per_org.max(1))
            .map(|_| {
                let worker = LaneWorker {
                    pool: self.pool.clone(),
                    schema: schema.clone(),
                    session: None,
                    locked_for: 0,
                    stale_penalty: 1,
                };
                Batcher::spawn_worker(
                    "transfers",
                    self.config.max_batch,
                    LINGER,
                    self.config.limits,
                    worker,
                )
            })
            .collect();
        let lanes = Arc::new(lanes);
        all.insert(schema.clone(), lanes.clone());
        Ok(lanes)
    }
}

/// How long an idle lane keeps its session before giving the connection back to the pool.
const LINGER: std::time::Duration = std::time::Duration::from_millis(50);

/// The most batches a lane decides under locks after optimistic batches went stale, before it
/// tries again. A stale batch costs its two round trips and is then decided under locks: where
/// lanes meet on an account all the time (everyone paying one shop), locking at once is cheaper.
const MAX_LOCKED_AFTER_STALE: u32 = 64;

/// One lane of one org: its batches, and the session it holds while busy.
struct LaneWorker {
    pool: PgPool,
    schema: SchemaName,
    session: Option<TenantSession>,
    /// Batches still to decide under locks before the next optimistic try.
    locked_for: u32,
    /// How many the next stale batch sends under locks: doubled by each stale batch, halved by
    /// each that went through, so only a lane that keeps meeting changed rows stays locked.
    stale_penalty: u32,
}

impl BatchWorker<TransferOrder, Result<Posted>> for LaneWorker {
    async fn handle(&mut self, orders: Vec<TransferOrder>) -> Vec<Result<Posted>> {
        let start = std::time::Instant::now();
        let results = match self.optimistic(&orders).await {
            Ok(results) => results,
            Err(earlier) => run_with_retries(&self.pool, &self.schema, &orders, earlier).await,
        };
        metrics::histogram!("coinsence_transfer_batch_seconds")
            .record(start.elapsed().as_secs_f64());
        results
    }

    async fn rest(&mut self) {
        if let Some(session) = self.session.take() {
            session.release().await;
        }
    }

    /// A busy lane would otherwise keep its connection for as long as its org keeps paying.
    /// When the pool is at its size with none idle, other orgs' lanes (and token lookups) may be
    /// waiting for one, so the lane gives it back after each batch and queues for it again.
    async fn answered(&mut self) {
        let full = self.pool.size() >= self.pool.options().get_max_connections();
        if full && self.pool.num_idle() == 0 {
            self.rest().await;
        }
    }
}

impl LaneWorker {
    /// The batch in two round trips on the lane's session. `Err`: it must be decided under locks
    /// instead (nothing was written), looking up earlier entries first if a key was seen before.
    async fn optimistic(
        &mut self,
        orders: &[TransferOrder],
    ) -> std::result::Result<Vec<Result<Posted>>, Earlier> {
        if self.locked_for > 0 {
            self.locked_for -= 1;
            return Err(Earlier::Assume);
        }
        let session = match &mut self.session {
            Some(session) => session,
            slot => match TenantSession::open(&self.pool, &self.schema).await {
                Ok(session) => slot.insert(session),
                Err(e) => {
                    tracing::warn!(schema = %self.schema, error = %e, "no session for a transfer lane");
                    return Err(Earlier::Assume);
                }
            },
        };
        let outcome = post(session, orders, Earlier::Assume, Read::Optimistic).await;
        let path = match &outcome {
            Ok(Some(_)) => {
                self.stale_penalty = (self.stale_penalty / 2).max(1);
                "optimistic"
            }
            Ok(None) => "repeated key",
            Err(e) if store::is_stale(e) => {
                self.locked_for = self.stale_penalty;
                self.stale_penalty = (self.stale_penalty * 2).min(MAX_LOCKED_AFTER_STALE);
                "stale"
            }
            Err(e) => {
                // A server-side error leaves the connection usable (each statement was its own
                // transaction); anything else may not have, so the session is dropped (closed).
                if e.sqlstate().is_none() {
                    self.session = None;
                }
                "error"
            }
        };
        metrics::counter!("coinsence_transfer_batches_total", "path" => path).increment(1);
        match outcome {
            Ok(Some(results)) => Ok(results),
            Ok(None) => Err(Earlier::LookUp),
            Err(_) => Err(Earlier::Assume),
        }
    }
}

/// Runs a batch, retrying when a concurrent transaction got in the way. If the batch as a whole
/// fails for another reason, each order is tried alone so one bad order cannot sink the others.
async fn run_with_retries(
    pool: &PgPool,
    schema: &SchemaName,
    orders: &[TransferOrder],
    mut earlier: Earlier,
) -> Vec<Result<Posted>> {
    const ATTEMPTS: usize = 8;
    let mut last = None;
    // Replays are rare: a first attempt may skip looking up earlier entries and let the
    // journal's unique key catch a repeated key, after which the batch is redone with the lookup.
    for _ in 0..ATTEMPTS {
        match run_batch(pool, schema, orders, earlier).await {
            Ok(Some(results)) => return results,
            Ok(None) => {
                earlier = Earlier::LookUp;
                continue;
            }
            Err(e) if e.is_transient() => {
                last = Some(e);
                continue;
            }
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    // The database is down or out of connections: trying each order alone would only make
    // every caller wait for as many timeouts.
    if let Some(err) = last.as_ref().filter(|e| e.is_unavailable()) {
        tracing::warn!(%schema, error = %err.for_log(), "transfer batch: database unavailable");
        return orders
            .iter()
            .map(|_| {
                Err(Error::Unavailable {
                    retry_after_secs: 1,
                })
            })
            .collect();
    }
    if orders.len() > 1 {
        let mut results = Vec::with_capacity(orders.len());
        for order in orders {
            let alone = std::slice::from_ref(order);
            let one = Box::pin(run_with_retries(pool, schema, alone, earlier)).await;
            results.extend(one);
        }
        return results;
    }
    let err = last.unwrap_or(Error::Busy);
    if let Some(refused) = refused_payer(&err) {
        return vec![Err(refused)];
    }
    tracing::error!(%schema, error = %err, "transfer batch failed");
    vec![Err(if err.is_transient() { Error::Busy } else { err })]
}

/// A payer whose token or membership went away since the request was authorised (raised by
/// `control.check_payers` in the write): the order is refused as the API would have refused it.
fn refused_payer(err: &Error) -> Option<Error> {
    match err.sqlstate().as_deref() {
        Some("CSP01") => Some(Error::Unauthorized),
        Some("CSP02") => Some(Error::from(Refusal::NotAMember)),
        _ => None,
    }
}

/// One transaction for the whole batch. `Ok(None)`: a concurrent duplicate key won the race, or
/// an order was refused without the keys looked up; nothing was written, try again with them.
async fn run_batch(
    pool: &PgPool,
    schema: &SchemaName,
    orders: &[TransferOrder],
    earlier: Earlier,
) -> Result<Option<Vec<Result<Posted>>>> {
    let stage = Stages::start();
    let mut tx = TenantTx::begin(pool, schema).await?;
    let stage = stage.next("begin");
    let Some(results) = post(&mut tx, orders, earlier, Read::Lock).await? else {
        return Ok(None);
    };
    let stage = stage.next("post");
    tx.commit().await?;
    stage.next("commit");
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
    let posted = post(tx, orders, Earlier::LookUp, Read::Lock).await?;
    Ok(posted.map(|results| results.into_iter().map(|r| r.map(|p| p.transfer)).collect()))
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
    let earlier = store::earlier_entries(tx, &[order.key.as_str()]).await?;
    match earlier.get(&order.key) {
        Some((fingerprint, transfer)) if *fingerprint == order.fingerprint() => {
            Ok(Some(transfer.clone()))
        }
        Some(_) => Err(Error::IdempotencyConflict),
        None => Ok(None),
    }
}

/// Whether a batch looks up entries already written under its keys before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Earlier {
    /// Assume none: a repeated key then makes the write return `None`, and so does any refusal
    /// (it may be a retry of an order that applied) before anything is written.
    Assume,
    LookUp,
}

async fn post(
    conn: &mut impl TenantConn,
    orders: &[TransferOrder],
    earlier: Earlier,
    read: Read,
) -> Result<Option<Vec<Result<Posted>>>> {
    let stage = Stages::start();
    let locked = store::read_accounts(conn, orders, read).await?;
    let stage = stage.next(match read {
        Read::Lock => "lock",
        Read::Optimistic => "read",
    });
    let assume = earlier == Earlier::Assume;
    let earlier = match earlier {
        Earlier::Assume => Default::default(),
        Earlier::LookUp => {
            let keys: Vec<&str> = orders.iter().map(|o| o.key.as_str()).collect();
            store::earlier_entries(conn, &keys).await?
        }
    };
    let mut book = Book::new(locked.accounts);
    let decisions = posting::decide(orders, &mut book, &earlier);
    // A refusal stands only once the keys were looked up: the order may be the retry of one that
    // applied (and took the balance it now lacks), which must get the first answer. Nothing is
    // written when every order is refused, so the journal's unique key cannot catch that retry.
    // Refusals are rare, so deciding such a batch again with the lookup costs little.
    if assume && decisions.iter().any(|d| matches!(d, Decision::Refuse(_))) {
        return Ok(None);
    }

    let entries: Vec<NewEntry> = decisions
        .iter()
        .zip(orders)
        .filter_map(|(d, order)| match d {
            Decision::Apply { from, to } => Some(NewEntry {
                order,
                from: *from,
                to: *to,
                notice: payment_notice(order, &book, &locked.currencies, *from, *to),
            }),
            _ => None,
        })
        .collect();
    // Every account read, changed or not: each may have decided an order (see write_entries).
    let balances: Vec<NewBalance> = locked
        .versions
        .iter()
        .filter_map(|(&account, &version)| {
            Some(NewBalance {
                account,
                balance: book.balance(account)?,
                version,
            })
        })
        .collect();
    let written = store::write_entries(conn, &entries, &balances).await?;
    if read == Read::Optimistic {
        stage.next("write");
    }
    let Some(written) = written else {
        return Ok(None);
    };

    let mut written = written.into_iter();
    let mut results: Vec<Result<Posted>> = Vec::with_capacity(orders.len());
    for decision in decisions {
        let result = match decision {
            Decision::Apply { .. } => written
                .next()
                .map(|transfer| Posted {
                    transfer,
                    written_now: true,
                })
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("journal returned fewer rows"))),
            Decision::Replay(transfer) => Ok(Posted {
                transfer,
                written_now: false,
            }),
            Decision::SameAs(i) => match results.get(i) {
                Some(Ok(p)) => Ok(p.clone()),
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

/// The notice a member gets of a payment into their account; none for other movements.
fn payment_notice<'a>(
    order: &TransferOrder,
    book: &Book,
    currencies: &'a HashMap<CurrencyId, (String, Scale)>,
    from: AccountId,
    to: AccountId,
) -> Option<PaymentNotice<'a>> {
    let receiver = book.account(to)?;
    if order.kind != TransferKind::Payment || receiver.kind != AccountKind::Member {
        return None;
    }
    let (code, scale) = currencies.get(&receiver.currency_id)?;
    Some(PaymentNotice {
        currency: code,
        amount: order.amount.display(*scale),
        from_user: book.account(from).and_then(|a| a.owner_user_id),
        to_user: receiver.owner_user_id?,
    })
}

/// Times the stages of a batch (`coinsence_transfer_stage_seconds{stage}`): where a slow batch
/// spends its time is the first question when payments slow down.
struct Stages(std::time::Instant);

impl Stages {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn next(self, finished: &'static str) -> Self {
        metrics::histogram!("coinsence_transfer_stage_seconds", "stage" => finished)
            .record(self.0.elapsed().as_secs_f64());
        Self::start()
    }
}
