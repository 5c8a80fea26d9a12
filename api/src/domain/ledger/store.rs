//! The ledger's SQL. Every function takes a [`TenantTx`], so it runs inside one org's schema.

use std::collections::HashMap;

use super::{Account, AccountKind, AccountRef, Currency, CurrencyCode, Transfer, TransferOrder};
use crate::domain::ids::{AccountId, CurrencyId, TransferId, UserId};
use crate::domain::money::Scale;
use crate::domain::tenancy::{TenantConn, TenantTx};
use crate::error::{Result, on_unique};
use crate::refusal::Refusal;

const ACCOUNT_COLUMNS: &str = "a.id, a.currency_id, a.kind, a.owner_user_id, a.balance, a.floor, \
     a.ceiling, a.closed_at IS NOT NULL AS closed";
pub(crate) const TRANSFER_COLUMNS: &str =
    "id, currency_id, from_account, to_account, amount, kind, memo, actor_user_id, created_at";

pub async fn insert_currency(
    tx: &mut TenantTx,
    code: &CurrencyCode,
    name: &str,
    scale: i16,
    default_credit_limit: i64,
) -> Result<Currency> {
    let currency: Currency = sqlx::query_as(
        "INSERT INTO currencies (code, name, scale, default_credit_limit) VALUES ($1, $2, $3, $4)
         RETURNING id, code, name, scale, default_credit_limit",
    )
    .bind(code.as_str())
    .bind(name)
    .bind(scale)
    .bind(default_credit_limit)
    .fetch_one(tx.conn())
    .await
    .map_err(|e| on_unique(e, "currencies_code_key", Refusal::CurrencyCodeTaken))?;
    // The issuance account (no floor) and the community fund, then one account per member.
    sqlx::query(
        "INSERT INTO accounts (currency_id, kind, floor) VALUES ($1, 'issuance', NULL), ($1, 'fund', 0)",
    )
    .bind(currency.id)
    .execute(tx.conn())
    .await?;
    // A removed member's account opens closed, like their others.
    sqlx::query(
        "INSERT INTO accounts (currency_id, kind, owner_user_id, floor, closed_at)
         SELECT $1, 'member', user_id, -$2, removed_at FROM members",
    )
    .bind(currency.id)
    .bind(default_credit_limit)
    .execute(tx.conn())
    .await?;
    Ok(currency)
}

pub async fn currencies(tx: &mut TenantTx) -> Result<Vec<Currency>> {
    Ok(sqlx::query_as(
        "SELECT id, code, name, scale, default_credit_limit FROM currencies ORDER BY code",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Adds a member of this org (idempotent) with an account in every currency. A member who
/// was removed and is admitted again gets their accounts back open, balances as they were.
pub async fn insert_member(tx: &mut TenantTx, user: UserId, display_name: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO members (user_id, display_name) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET removed_at = NULL WHERE members.removed_at IS NOT NULL",
    )
    .bind(user)
    .bind(display_name)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO accounts (currency_id, kind, owner_user_id, floor)
         SELECT c.id, 'member', $1, -c.default_credit_limit FROM currencies c
         ON CONFLICT (owner_user_id, currency_id) WHERE kind = 'member'
         DO UPDATE SET closed_at = NULL WHERE accounts.closed_at IS NOT NULL",
    )
    .bind(user)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Adds many members at once (their display names from the control plane), idempotently.
pub async fn insert_members(tx: &mut TenantTx, users: &[i64]) -> Result<()> {
    // Names read first, then written from arrays: on Citus an INSERT ... SELECT from a
    // reference table into an org's table is deparsed wrongly (a syntax error on the worker).
    let (ids, names): (Vec<i64>, Vec<String>) = sqlx::query_as::<_, (i64, String)>(
        "SELECT id, display_name FROM control.users WHERE id = ANY($1) ORDER BY id",
    )
    .bind(users)
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .unzip();
    sqlx::query(
        "INSERT INTO members (user_id, display_name)
         SELECT * FROM unnest($1::bigint[], $2::text[])
         ON CONFLICT (user_id) DO UPDATE SET removed_at = NULL WHERE members.removed_at IS NOT NULL",
    )
    .bind(&ids)
    .bind(&names)
    .execute(tx.conn())
    .await?;
    // The members just written, by id: Citus plans no join of two tables without a condition.
    sqlx::query(
        "INSERT INTO accounts (currency_id, kind, owner_user_id, floor)
         SELECT c.id, 'member', m.user_id, -c.default_credit_limit
         FROM currencies c CROSS JOIN unnest($1::bigint[]) AS m(user_id)
         ON CONFLICT (owner_user_id, currency_id) WHERE kind = 'member'
         DO UPDATE SET closed_at = NULL WHERE accounts.closed_at IS NOT NULL",
    )
    .bind(&ids)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Marks a member removed and closes their accounts (inside the removal's transaction): they
/// keep their balances but take no new money. Changing the account rows also makes any transfer
/// batch that read them before the removal go stale and decide again (see `write_entries`).
pub async fn close_member(tx: &mut TenantTx, user: UserId) -> Result<()> {
    sqlx::query("UPDATE members SET removed_at = now() WHERE user_id = $1")
        .bind(user)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "UPDATE accounts SET closed_at = now() WHERE owner_user_id = $1 AND kind = 'member'",
    )
    .bind(user)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Accounts, optionally only one member's.
pub async fn accounts(tx: &mut TenantTx, owner: Option<UserId>) -> Result<Vec<Account>> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a
         WHERE $1::bigint IS NULL OR a.owner_user_id = $1 ORDER BY a.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .fetch_all(tx.conn())
        .await?)
}

/// Accounts a batch read, the version of each it read, and the code and scale of their
/// currencies (for payment notices).
pub struct Locked {
    pub accounts: Vec<Account>,
    /// Each account's row version (`xmin`) as read: the write moves a balance only while the
    /// row is still that version.
    pub versions: HashMap<AccountId, i64>,
    pub currencies: HashMap<CurrencyId, (String, Scale)>,
}

/// How a batch reads its accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Locked in id order (so concurrent batches cannot deadlock) until the transaction ends.
    Lock,
    /// Without locks; the write then checks that nothing changed meanwhile.
    Optimistic,
}

/// Reads every account the orders name, in id order.
pub async fn read_accounts(
    conn: &mut impl TenantConn,
    orders: &[TransferOrder],
    read: Read,
) -> Result<Locked> {
    let mut ids = Vec::new();
    let (mut owners, mut owner_currencies) = (Vec::new(), Vec::new());
    let (mut kinds, mut kind_currencies) = (Vec::new(), Vec::new());
    for order in orders {
        for r in [order.from, order.to] {
            match r {
                AccountRef::Id(id) => ids.push(id.0),
                AccountRef::Member(user) => {
                    owners.push(user.0);
                    owner_currencies.push(order.currency.0);
                }
                AccountRef::Issuance | AccountRef::Fund => {
                    let kind = if r == AccountRef::Issuance {
                        AccountKind::Issuance
                    } else {
                        AccountKind::Fund
                    };
                    kinds.push(kind.as_str());
                    kind_currencies.push(order.currency.0);
                }
            }
        }
    }
    // The ids are computed once (an InitPlan) and the lock is taken by id alone: when a row
    // was changed by a concurrent batch, PostgreSQL re-checks only `id = ANY(..)` on its new
    // version. Locking through a join instead can silently drop such a row on that re-check.
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        account: Account,
        version: i64,
        code: String,
        #[sqlx(try_from = "i16")]
        scale: Scale,
    }
    // The currency comes along (a primary-key lookup per account; only the account is locked).
    let lock = match read {
        Read::Lock => "FOR UPDATE OF a",
        Read::Optimistic => "",
    };
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS}, a.xmin::text::bigint AS version, c.code, c.scale
         FROM accounts a JOIN currencies c ON c.id = a.currency_id
         WHERE a.id = ANY(ARRAY(
            SELECT unnest($1::bigint[])
            UNION ALL
            SELECT m.id FROM accounts m JOIN unnest($2::bigint[], $3::bigint[]) AS r(owner, currency)
                ON m.kind = 'member' AND m.owner_user_id = r.owner AND m.currency_id = r.currency
            UNION ALL
            SELECT s.id FROM accounts s JOIN unnest($4::text[], $5::bigint[]) AS r(kind, currency)
                ON s.kind <> 'member' AND s.kind = r.kind AND s.currency_id = r.currency
         ))
         ORDER BY a.id {lock}"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&ids)
        .bind(&owners)
        .bind(&owner_currencies)
        .bind(&kinds)
        .bind(&kind_currencies)
        .fetch_all(conn.conn())
        .await?;
    let mut locked = Locked {
        accounts: Vec::with_capacity(rows.len()),
        versions: HashMap::with_capacity(rows.len()),
        currencies: HashMap::new(),
    };
    for row in rows {
        locked
            .currencies
            .entry(row.account.currency_id)
            .or_insert((row.code, row.scale));
        locked.versions.insert(row.account.id, row.version);
        locked.accounts.push(row.account);
    }
    Ok(locked)
}

/// Journal entries already written under any of these keys, with their fingerprints.
pub async fn earlier_entries(
    conn: &mut impl TenantConn,
    keys: &[&str],
) -> Result<HashMap<String, (Vec<u8>, Transfer)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        idempotency_key: String,
        fingerprint: Vec<u8>,
        #[sqlx(flatten)]
        transfer: Transfer,
    }
    let sql = format!(
        "SELECT idempotency_key, fingerprint, {TRANSFER_COLUMNS} FROM transfers
         WHERE idempotency_key = ANY($1)"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(keys)
        .fetch_all(conn.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.idempotency_key, (r.fingerprint, r.transfer)))
        .collect())
}

/// A journal entry to write: the order and the accounts it resolved to.
pub struct NewEntry<'a> {
    pub order: &'a TransferOrder,
    pub from: AccountId,
    pub to: AccountId,
    /// Set for a payment into a member's account: the receiver hears of it.
    pub notice: Option<PaymentNotice<'a>>,
}

/// What the receiver of a payment is told, besides the journal entry's id and memo.
pub struct PaymentNotice<'a> {
    pub currency: &'a str,
    /// In the currency's units, as members write it ("0.01").
    pub amount: String,
    pub from_user: Option<UserId>,
    pub to_user: UserId,
}

/// An account's balance after a batch, and the row version it was decided on.
#[derive(Debug, Clone, Copy)]
pub struct NewBalance {
    pub account: AccountId,
    pub balance: i64,
    pub version: i64,
}

/// Appends the entries in order and writes the balances, in one statement.
///
/// `balances` names every account the batch read, each with the row version it read: a row
/// that is no longer that version makes the statement raise `CSB01` ([`is_stale`]) and write
/// nothing. Under row locks that cannot happen; on an optimistic read it means a concurrent
/// change got in. Accounts whose balance did not change are written too, so every account a
/// decision rested on is checked (a refusal or an overdraft test relies on it as much as a
/// payment does). The payers' tokens and memberships are checked in the same statement
/// (`control.check_payers`, migration control/0004).
///
/// Returns `None` when another transaction committed one of these keys meanwhile: the caller
/// must roll back (if in a transaction) and retry, and will then see that entry as a replay.
pub async fn write_entries(
    conn: &mut impl TenantConn,
    entries: &[NewEntry<'_>],
    balances: &[NewBalance],
) -> Result<Option<Vec<Transfer>>> {
    // A batch that refused every order changed nothing: like any read-only transaction, its
    // answers stand as of its read, so there is nothing to check.
    if entries.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let mut cols = EntryColumns::default();
    let mut notices = NoticeColumns::default();
    let (mut tenant, mut token_hashes, mut payers) = (None, Vec::new(), Vec::new());
    for e in entries {
        cols.push(e);
        if let Some(n) = &e.notice {
            notices.push(&e.order.key, n);
        }
        if let Some(credential) = &e.order.credential {
            tenant = Some(credential.tenant.0);
            token_hashes.push(credential.token_hash.as_slice());
            payers.push(e.order.actor.0);
        }
    }
    let mut balances = balances.to_vec();
    // Rows are updated in id order, as the locking read takes them: no deadlock between lanes.
    balances.sort_unstable_by_key(|b| b.account);
    let ids: Vec<i64> = balances.iter().map(|b| b.account.0).collect();
    let values: Vec<i64> = balances.iter().map(|b| b.balance).collect();
    let versions: Vec<i64> = balances.iter().map(|b| b.version).collect();
    // Data-modifying WITHs run to completion even though the result reads only `written`.
    // The two checks are InitPlans of the final query: evaluated once, and a raise undoes all.
    let sql = format!(
        "WITH written AS (
             INSERT INTO transfers (currency_id, from_account, to_account, amount, kind, memo,
                                    actor_user_id, idempotency_key, fingerprint)
             SELECT currency_id, from_account, to_account, amount, kind, memo, actor, key, fingerprint
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
                         $7::bigint[], $8::text[], $9::bytea[])
                  WITH ORDINALITY AS e(currency_id, from_account, to_account, amount, kind, memo,
                                       actor, key, fingerprint, n)
             ORDER BY n
             RETURNING {TRANSFER_COLUMNS}, idempotency_key
         ), moved AS (
             UPDATE accounts a SET balance = n.balance
             FROM unnest($10::bigint[], $11::bigint[], $12::bigint[]) AS n(id, balance, version)
             WHERE a.id = n.id AND a.xmin::text::bigint = n.version
             RETURNING a.id
         ), told AS (
             -- Each receiving member hears of a payment, through the outbox, in this transaction.
             -- The caller composes the notice (it has the accounts and currencies at hand), so
             -- this needs no joins and no numeric formatting per row.
             INSERT INTO outbox (kind, payload, to_users, dedup_key)
             SELECT 'payment_received',
                    jsonb_build_object(
                        'transfer_id', w.id,
                        'currency', n.currency,
                        'amount', n.amount,
                        'from_user_id', n.from_user,
                        'to_user_id', n.to_user,
                        'memo', w.memo),
                    ARRAY[n.to_user],
                    'transfer:' || w.id || ':received'
             FROM written w
             JOIN unnest($13::text[], $14::text[], $15::text[], $16::bigint[], $17::bigint[])
                  AS n(key, currency, amount, from_user, to_user) ON n.key = w.idempotency_key
             ON CONFLICT (dedup_key) DO NOTHING
         )
         SELECT {TRANSFER_COLUMNS} FROM written
         WHERE (SELECT control.check_payers($18, $19, $20))
           AND (SELECT control.expect_moved(count(*), cardinality($10)) FROM moved)"
    );
    let written: std::result::Result<Vec<Transfer>, sqlx::Error> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&cols.currency)
            .bind(&cols.from)
            .bind(&cols.to)
            .bind(&cols.amount)
            .bind(&cols.kind)
            .bind(&cols.memo)
            .bind(&cols.actor)
            .bind(&cols.key)
            .bind(&cols.fingerprint)
            .bind(&ids)
            .bind(&values)
            .bind(&versions)
            .bind(&notices.key)
            .bind(&notices.currency)
            .bind(&notices.amount)
            .bind(&notices.from_user)
            .bind(&notices.to_user)
            .bind(tenant)
            .bind(&token_hashes)
            .bind(&payers)
            .fetch_all(conn.conn())
            .await;
    let mut written = match written {
        Ok(written) => written,
        Err(sqlx::Error::Database(db))
            if crate::citus::is_constraint(db.as_ref(), "transfers_idempotency_key") =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    written.sort_unstable_by_key(|t| t.id);
    Ok(Some(written))
}

/// The write found an account changed since the batch read it (`CSB01`): nothing was written.
pub fn is_stale(err: &crate::error::Error) -> bool {
    err.sqlstate().as_deref() == Some("CSB01")
}

#[derive(Default)]
struct EntryColumns<'a> {
    currency: Vec<i64>,
    from: Vec<i64>,
    to: Vec<i64>,
    amount: Vec<i64>,
    kind: Vec<&'static str>,
    memo: Vec<&'a str>,
    actor: Vec<i64>,
    key: Vec<&'a str>,
    fingerprint: Vec<Vec<u8>>,
}

impl<'a> EntryColumns<'a> {
    fn push(&mut self, e: &NewEntry<'a>) {
        self.currency.push(e.order.currency.0);
        self.from.push(e.from.0);
        self.to.push(e.to.0);
        self.amount.push(e.order.amount.minor());
        self.kind.push(e.order.kind.as_str());
        self.memo.push(&e.order.memo);
        self.actor.push(e.order.actor.0);
        self.key.push(&e.order.key);
        self.fingerprint.push(e.order.fingerprint());
    }
}

#[derive(Default)]
struct NoticeColumns<'a> {
    key: Vec<&'a str>,
    currency: Vec<&'a str>,
    amount: Vec<&'a str>,
    from_user: Vec<Option<i64>>,
    to_user: Vec<i64>,
}

impl<'a> NoticeColumns<'a> {
    fn push(&mut self, key: &'a str, n: &'a PaymentNotice<'a>) {
        self.key.push(key);
        self.currency.push(n.currency);
        self.amount.push(&n.amount);
        self.from_user.push(n.from_user.map(|u| u.0));
        self.to_user.push(n.to_user.0);
    }
}

/// A page of the journal, newest first, optionally for the given accounts only.
pub async fn history(
    tx: &mut TenantTx,
    accounts: Option<&[AccountId]>,
    before: Option<TransferId>,
    limit: i64,
) -> Result<Vec<Transfer>> {
    let ids: Option<Vec<i64>> = accounts.map(|a| a.iter().map(|id| id.0).collect());
    let sql = format!(
        "SELECT {TRANSFER_COLUMNS} FROM transfers
         WHERE ($1::bigint[] IS NULL OR from_account = ANY($1) OR to_account = ANY($1))
           AND ($2::bigint IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .bind(before)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?)
}

/// Per currency: the balance sum (as text: it is a numeric, immune to overflow), how many
/// accounts disagree with their replayed journal, how many break their limits, journal size.
pub async fn verify(tx: &mut TenantTx) -> Result<Vec<(CurrencyId, String, i64, i64, i64)>> {
    Ok(sqlx::query_as(
        "WITH moves AS (
             SELECT from_account AS account, -amount::numeric AS delta FROM transfers
             UNION ALL
             SELECT to_account, amount::numeric FROM transfers
         ), replayed AS (
             SELECT account, sum(delta) AS balance FROM moves GROUP BY account
         )
         SELECT c.id,
                coalesce((SELECT sum(a.balance::numeric) FROM accounts a WHERE a.currency_id = c.id), 0)::text,
                (SELECT count(*) FROM accounts a LEFT JOIN replayed r ON r.account = a.id
                  WHERE a.currency_id = c.id AND a.balance::numeric <> coalesce(r.balance, 0)),
                (SELECT count(*) FROM accounts a WHERE a.currency_id = c.id
                  AND ((a.floor IS NOT NULL AND a.balance < a.floor)
                    OR (a.ceiling IS NOT NULL AND a.balance > a.ceiling))),
                (SELECT count(*) FROM transfers t WHERE t.currency_id = c.id)
         FROM currencies c ORDER BY c.code",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Opens a project's account: no owner, no overdraft; referenced by id ([`AccountRef::Id`]).
pub async fn insert_project_account(tx: &mut TenantTx, currency: CurrencyId) -> Result<AccountId> {
    let (id,): (AccountId,) = sqlx::query_as(
        "INSERT INTO accounts (currency_id, kind, floor) VALUES ($1, 'project', 0) RETURNING id",
    )
    .bind(currency)
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// A currency's kind (coin or share); `None` for an unknown currency.
pub async fn currency_kind(
    tx: &mut TenantTx,
    currency: CurrencyId,
) -> Result<Option<super::CurrencyKind>> {
    let kind: Option<(String,)> = sqlx::query_as("SELECT kind FROM currencies WHERE id = $1")
        .bind(currency)
        .fetch_optional(tx.conn())
        .await?;
    kind.map(|(k,)| super::CurrencyKind::try_from(k))
        .transpose()
}

/// Turns a just-created currency into a project's share currency.
pub async fn set_currency_kind(
    tx: &mut TenantTx,
    currency: CurrencyId,
    kind: super::CurrencyKind,
) -> Result<()> {
    sqlx::query("UPDATE currencies SET kind = $2 WHERE id = $1")
        .bind(currency)
        .bind(kind.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The account an [`AccountRef`] names in a currency, if it exists.
pub async fn resolve_account(
    tx: &mut TenantTx,
    r: AccountRef,
    currency: CurrencyId,
) -> Result<Option<Account>> {
    let (id, owner, kind): (Option<i64>, Option<i64>, Option<&str>) = match r {
        AccountRef::Id(id) => (Some(id.0), None, None),
        AccountRef::Member(user) => (None, Some(user.0), Some(AccountKind::Member.as_str())),
        AccountRef::Issuance => (None, None, Some(AccountKind::Issuance.as_str())),
        AccountRef::Fund => (None, None, Some(AccountKind::Fund.as_str())),
    };
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a
         WHERE a.currency_id = $1
           AND ($2::bigint IS NULL OR a.id = $2)
           AND ($3::bigint IS NULL OR a.owner_user_id = $3)
           AND ($4::text IS NULL OR a.kind = $4)"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(currency)
        .bind(id)
        .bind(owner)
        .bind(kind)
        .fetch_optional(tx.conn())
        .await?)
}
