//! Cash-outs: a treasurer turns coins back into euros from the org's reserve.
//!
//! - Asking holds the euros back from the reserve at once (`control.cashout_holds`, checked
//!   against reserve minus the holds under the lock of the org's reserve account, so two
//!   cash-outs cannot both spend the same euros), and records the cash-out as pending.
//! - A second pair of eyes: below the org's threshold another treasurer or admin approves; at or
//!   above it a `cashout` proposal decides.
//! - Approval moves the coins from the treasurer's account into the cash-out escrow account (one
//!   org transaction), then asks the provider for a payout on the org's own account under the
//!   key `cashout:<id>`: a retry after a crash (the worker's [`Core::resume_cashouts`]) gets the
//!   same payout, never a second.
//! - The provider's "paid" burns the escrow (the fee's part to the fund) and writes the euro
//!   entry `cashout:<tenant>:<id>`; "failed" or "canceled" gives the coins back and releases the
//!   hold.

use serde::Serialize;

use super::escrow::{COLUMNS, Row, escrow, lock};
use super::topups::{self, euro_scale, tenant_of};
use super::{CashoutId, PayoutRequest};
use crate::core::Core;
use crate::domain::governance::ActionRequest;
use crate::domain::governance::proposals::NewProposal;
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::ledger::currencies::currency_map;
use crate::domain::ledger::store as ledger_store;
use crate::domain::ledger::{AccountRef, CurrencyCode};
use crate::domain::money::{Scale, format_minor, parse_amount};
use crate::domain::orgs::Member;
use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};
use crate::refusal::{Money, Refusal};

/// Without terms set: cash-outs from 100 euros on go to a vote, no exit fee.
pub const DEFAULT_THRESHOLD_CENTS: i64 = 10_000;
/// The largest exit fee: half of a cash-out.
pub const MAX_EXIT_FEE_BP: i32 = 5_000;
/// How often an org transaction is retried when the ledger raced a duplicate key.
const LEDGER_RETRIES: usize = 5;

/// The org's cash-out terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CashoutTerms {
    /// From this many cents on, a proposal decides.
    pub threshold_cents: i64,
    /// The share of each cash-out's coins that goes to the community fund, in basis points.
    pub exit_fee_bp: i32,
}

/// A cash-out as its org sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cashout {
    pub id: CashoutId,
    pub requester: UserId,
    pub currency: CurrencyCode,
    /// Coins out of the treasurer's account, in the currency's scale; `fee` of them to the fund.
    pub coins: String,
    pub fee: String,
    pub cents: i64,
    /// `person` (another treasurer or admin approves) or `proposal`.
    pub approval: String,
    pub status: String,
    pub approver: Option<UserId>,
    pub proposal: Option<i64>,
    pub payout: Option<String>,
}

fn require_treasurer(member: &Member) -> Result<()> {
    if member.role.sees_all_accounts() {
        Ok(())
    } else {
        Err(Error::from(Refusal::NotTreasurer))
    }
}

/// The euro cents `coins` (minor units of a currency of `scale`) are worth at `rate_coins` coins
/// per `rate_euros` euros; refused when that is not a whole number of cents (nothing rounded).
pub fn cents_for(coins: i64, rate_coins: i64, rate_euros: i64, scale: Scale) -> Result<i64> {
    let factor = 10_i128.pow(u32::from(scale.places()));
    let numerator = i128::from(coins)
        .checked_mul(i128::from(rate_euros))
        .and_then(|n| n.checked_mul(100))
        .ok_or_else(|| Error::from(Refusal::AmountTooLarge { field: "amount" }))?;
    let denominator = i128::from(rate_coins) * factor;
    if denominator == 0 || numerator % denominator != 0 {
        return Err(Error::from(Refusal::CashoutNotWholeCents {
            field: "amount",
        }));
    }
    i64::try_from(numerator / denominator)
        .map_err(|_| Error::from(Refusal::AmountTooLarge { field: "amount" }))
}

/// The fee's part of `coins` at `bp`, rounded down (in the treasurer's favour).
pub fn fee_of(coins: i64, bp: i32) -> i64 {
    let fee = i128::from(coins) * i128::from(bp) / 10_000;
    i64::try_from(fee).unwrap_or(0)
}

pub(crate) async fn terms(tx: &mut TenantTx) -> Result<CashoutTerms> {
    let row: Option<(i64, i32)> =
        sqlx::query_as("SELECT threshold_cents, exit_fee_bp FROM cashout_settings")
            .fetch_optional(tx.conn())
            .await?;
    Ok(row.map_or(
        CashoutTerms {
            threshold_cents: DEFAULT_THRESHOLD_CENTS,
            exit_fee_bp: 0,
        },
        |(threshold_cents, exit_fee_bp)| CashoutTerms {
            threshold_cents,
            exit_fee_bp,
        },
    ))
}

async fn shown(tx: &mut TenantTx, row: Row) -> Result<Cashout> {
    let currency = currency_map(tx)
        .await?
        .remove(&row.currency_id)
        .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
    Ok(Cashout {
        id: row.id,
        requester: row.requester_user_id,
        currency: currency.code,
        coins: format_minor(row.coins, currency.scale),
        fee: format_minor(row.fee_coins, currency.scale),
        cents: row.cents,
        approval: row.approval,
        status: row.status,
        approver: row.approver_user_id,
        proposal: row.proposal_id,
        payout: row.payout_id,
    })
}

/// The connected account of an org that may pay out, or why not.
async fn payout_account(pool: &sqlx::PgPool, tenant: TenantId) -> Result<String> {
    let row: Option<(String, bool)> = sqlx::query_as(
        "SELECT provider_account, payouts_enabled FROM control.billing_accounts
         WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(pool)
    .await?;
    match row {
        Some((account, true)) => Ok(account),
        _ => Err(Error::from(Refusal::PayoutsNotEnabled)),
    }
}

/// Holds `cents` of the org's reserve for a cash-out: under the reserve account's row lock,
/// reserve minus what pending cash-outs hold must cover it. Holding the same cash-out again
/// changes nothing. It runs in the cash-out's own transaction (the control tables are
/// schema-qualified), so a refused hold leaves nothing and the request needs one connection:
/// with a second one, a storm of retries waiting on the treasurer's row lock could hold every
/// pooled connection while the one holding the lock waits for the pool.
async fn hold(
    ctl: &mut sqlx::PgConnection,
    tenant: TenantId,
    id: CashoutId,
    cents: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO control.euro_accounts (tenant_id, kind) VALUES ($1, 'reserve'), ($1, 'outside')
         ON CONFLICT (tenant_id, kind) DO NOTHING",
    )
    .bind(tenant)
    .execute(&mut *ctl)
    .await?;
    let (reserve,): (i64,) = sqlx::query_as(
        "SELECT balance FROM control.euro_accounts WHERE tenant_id = $1 AND kind = 'reserve'
         FOR UPDATE",
    )
    .bind(tenant)
    .fetch_one(&mut *ctl)
    .await?;
    let (held, mine): (i64, bool) = sqlx::query_as(
        "SELECT COALESCE(SUM(cents) FILTER (WHERE status = 'held'), 0)::bigint,
                COALESCE(bool_or(cashout_id = $2), false)
         FROM control.cashout_holds WHERE tenant_id = $1",
    )
    .bind(tenant)
    .bind(id)
    .fetch_one(&mut *ctl)
    .await?;
    if mine {
        return Ok(());
    }
    let available = reserve.checked_sub(held).unwrap_or(0).max(0);
    if cents > available {
        return Err(Error::from(Refusal::CashoutExceedsReserve {
            available: Money::new(available, euro_scale()),
        }));
    }
    sqlx::query(
        "INSERT INTO control.cashout_holds (tenant_id, cashout_id, cents) VALUES ($1, $2, $3)",
    )
    .bind(tenant)
    .bind(id)
    .bind(cents)
    .execute(&mut *ctl)
    .await?;
    Ok(())
}

async fn release(pool: &sqlx::PgPool, tenant: TenantId, id: CashoutId) -> Result<()> {
    sqlx::query(
        "UPDATE control.cashout_holds SET status = 'released', settled_at = now()
         WHERE tenant_id = $1 AND cashout_id = $2 AND status = 'held'",
    )
    .bind(tenant)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

impl Core {
    /// The org's cash-out terms (the defaults while none are set). Treasurers and admins.
    pub async fn cashout_terms(&self, member: &Member) -> Result<CashoutTerms> {
        require_treasurer(member)?;
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        terms(&mut tx).await
    }

    /// An admin sets the threshold (euros, as decimal text) and the exit fee.
    pub async fn set_cashout_terms(
        &self,
        admin: &Member,
        threshold: &str,
        exit_fee_bp: i32,
    ) -> Result<CashoutTerms> {
        admin.require_admin()?;
        let threshold_cents = if threshold.trim() == "0" {
            0
        } else {
            parse_amount("threshold", threshold, euro_scale())?.minor()
        };
        if !(0..=MAX_EXIT_FEE_BP).contains(&exit_fee_bp) {
            return Err(Error::from(Refusal::BasisPointsOutOfRange {
                field: "exit_fee_bp",
                min: 0,
                max: i64::from(MAX_EXIT_FEE_BP),
            }));
        }
        let mut tx = TenantTx::begin(&self.pool, &admin.schema()).await?;
        sqlx::query(
            "INSERT INTO cashout_settings (id, threshold_cents, exit_fee_bp) VALUES (true, $1, $2)
             ON CONFLICT (id) DO UPDATE SET threshold_cents = $1, exit_fee_bp = $2,
                 updated_at = now()",
        )
        .bind(threshold_cents)
        .bind(exit_fee_bp)
        .execute(tx.conn())
        .await?;
        let terms = terms(&mut tx).await?;
        tx.commit().await?;
        Ok(terms)
    }

    /// A treasurer (or admin) asks to cash out `amount` coins of the org's top-up currency from
    /// their own account. The euros are held back from the reserve at once; the coins move when
    /// another treasurer or admin approves (below the threshold) or the opened `cashout`
    /// proposal passes. A retry with the same key gets the same cash-out.
    pub async fn request_cashout(
        &self,
        member: &Member,
        amount: &str,
        key: IdempotencyKey,
    ) -> Result<Cashout> {
        require_treasurer(member)?;
        if !self.topups_on() {
            return Err(Error::from(Refusal::TopupsOff));
        }
        let tenant = member.tenant.id;
        payout_account(&self.pool, tenant).await?;
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let (currency_id, rate_coins, rate_euros) = topups::rate(&mut tx)
            .await?
            .ok_or_else(|| Error::from(Refusal::TopupsNotSetUp))?;
        let currency = currency_map(&mut tx)
            .await?
            .remove(&currency_id)
            .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
        let coins = parse_amount("amount", amount, currency.scale)?.minor();
        // One treasurer's requests one at a time: a storm of retries finds the first one.
        sqlx::query("SELECT 1 FROM members WHERE user_id = $1 FOR UPDATE")
            .bind(member.user.id)
            .execute(tx.conn())
            .await?;
        let sql = format!("SELECT {COLUMNS} FROM cashouts WHERE idempotency_key = $1");
        let earlier: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(key.as_str())
            .fetch_optional(tx.conn())
            .await?;
        if let Some(row) = earlier {
            if row.coins != coins || row.requester_user_id != member.user.id {
                return Err(Error::IdempotencyConflict);
            }
            return shown(&mut tx, row).await;
        }
        let terms = terms(&mut tx).await?;
        let fee = fee_of(coins, terms.exit_fee_bp);
        let cents = cents_for(coins - fee, rate_coins, rate_euros, currency.scale)?;
        if cents <= 0 {
            return Err(Error::from(Refusal::CashoutNotWholeCents {
                field: "amount",
            }));
        }
        // Refused now rather than at approval: the treasurer's own coins must be there.
        let own =
            ledger_store::resolve_account(&mut tx, AccountRef::Member(member.user.id), currency_id)
                .await?
                .ok_or(Error::InsufficientFunds)?;
        let spendable = own.balance.checked_sub(own.floor.unwrap_or(0)).unwrap_or(0);
        if spendable < coins {
            return Err(Error::InsufficientFunds);
        }
        let approval = if cents >= terms.threshold_cents {
            "proposal"
        } else {
            "person"
        };
        let (id,): (CashoutId,) = sqlx::query_as(
            "INSERT INTO cashouts (requester_user_id, currency_id, coins, fee_coins, cents,
                                   rate_coins, rate_euros, approval, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(member.user.id)
        .bind(currency_id)
        .bind(coins)
        .bind(fee)
        .bind(cents)
        .bind(rate_coins)
        .bind(rate_euros)
        .bind(approval)
        .bind(key.as_str())
        .fetch_one(tx.conn())
        .await?;
        // The hold and the cash-out commit together: a refused hold rolls the cash-out back.
        hold(tx.conn(), tenant, id, cents).await?;
        tx.commit().await?;

        if approval == "proposal" {
            let proposal = self
                .propose(
                    member,
                    NewProposal {
                        // Stored text everyone in the org reads: in the org's language.
                        title: crate::i18n::message(
                            member.tenant.language,
                            "proposal-title-cashout",
                            &crate::i18n::Args::new()
                                .money("coins", coins, currency.scale)
                                .text("currency", currency.code.as_str())
                                .money("euros", cents, euro_scale()),
                        ),
                        description: String::new(),
                        closes_at: None,
                        action: ActionRequest::Cashout { cashout_id: id },
                    },
                    Some(IdempotencyKey::scoped(
                        "cashout",
                        &tenant.to_string(),
                        &id.to_string(),
                    )?),
                )
                .await;
            match proposal {
                Ok(view) => {
                    let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
                    sqlx::query("UPDATE cashouts SET proposal_id = $2 WHERE id = $1")
                        .bind(id)
                        .bind(view.id.0)
                        .execute(tx.conn())
                        .await?;
                    tx.commit().await?;
                }
                Err(e) => {
                    self.reject_cashout(tenant, id).await?;
                    return Err(e);
                }
            }
        }
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let row = lock(&mut tx, id).await?;
        shown(&mut tx, row).await
    }

    /// Another treasurer or admin approves a cash-out below the threshold: its coins go into
    /// escrow and the payout is asked for. Approving it again answers as the first time.
    pub async fn approve_cashout(&self, member: &Member, id: CashoutId) -> Result<Cashout> {
        require_treasurer(member)?;
        let mut approved = false;
        for _ in 0..LEDGER_RETRIES {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let row = lock(&mut tx, id).await?;
            if row.requester_user_id == member.user.id {
                return Err(Error::from(Refusal::CashoutOwnApproval));
            }
            if row.approval == "proposal" {
                return Err(Error::from(Refusal::CashoutByProposal {
                    proposal: row.proposal_id.unwrap_or(0),
                }));
            }
            if row.status != "pending" {
                if row.approver_user_id == Some(member.user.id) {
                    // A retry of this approval: the first answer, as things stand now.
                    return shown(&mut tx, row).await;
                }
                return Err(Error::from(Refusal::CashoutNotPending { cashout: id }));
            }
            if escrow(&mut tx, id, Some(member.user.id)).await?.is_some() {
                tx.commit().await?;
                approved = true;
                break;
            }
        }
        if !approved {
            return Err(Error::Busy);
        }
        // A failed request leaves the cash-out escrowed; the worker asks again with the same key.
        if let Err(e) = self.request_payout(member.tenant.id, id).await {
            tracing::warn!(tenant = %member.tenant.id, cashout = id, error = %e, "a payout request failed; it is retried");
        }
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let row = lock(&mut tx, id).await?;
        shown(&mut tx, row).await
    }

    /// A cash-out of the org, for its treasurers and admins.
    pub async fn cashout(&self, member: &Member, id: CashoutId) -> Result<Cashout> {
        require_treasurer(member)?;
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let sql = format!("SELECT {COLUMNS} FROM cashouts WHERE id = $1");
        let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| Error::from(Refusal::CashoutNotFound))?;
        shown(&mut tx, row).await
    }

    /// Asks the provider for an escrowed cash-out's payout (same key every time) and records
    /// it. A cash-out in any other state is left alone.
    async fn request_payout(&self, tenant: TenantId, id: CashoutId) -> Result<()> {
        let provider = self
            .payments
            .clone()
            .ok_or_else(|| Error::from(Refusal::TopupsOff))?;
        let schema = tenant_of(tenant);
        let mut tx = TenantTx::begin(&self.pool, &schema).await?;
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT cents FROM cashouts WHERE id = $1 AND status = 'escrowed'")
                .bind(id)
                .fetch_optional(tx.conn())
                .await?;
        drop(tx);
        let Some((cents,)) = row else {
            return Ok(());
        };
        let account = payout_account(&self.pool, tenant).await?;
        let payout = provider
            .payout(&PayoutRequest {
                tenant,
                cashout: id,
                account,
                amount_cents: cents,
                idempotency_key: format!("cashout:{id}"),
            })
            .await
            .map_err(|e| {
                tracing::warn!(tenant = %tenant, cashout = id, error = %e, "payout failed");
                Error::Unavailable {
                    retry_after_secs: 30,
                }
            })?;
        let mut tx = TenantTx::begin(&self.pool, &schema).await?;
        sqlx::query(
            "UPDATE cashouts SET status = 'requested', payout_id = $2
             WHERE id = $1 AND status = 'escrowed'",
        )
        .bind(id)
        .bind(&payout.id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reject_cashout(&self, tenant: TenantId, id: CashoutId) -> Result<()> {
        let mut tx = TenantTx::begin(&self.pool, &tenant_of(tenant)).await?;
        sqlx::query(
            "UPDATE cashouts SET status = 'rejected', settled_at = now()
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        release(&self.pool, tenant, id).await
    }

    /// The worker's round over cash-outs under way: asks again for every escrowed cash-out's
    /// payout (a crash between the escrow and the request, or a provider outage), rejects
    /// cash-outs whose proposal closed without passing, and releases holds of cash-outs that
    /// never came to be. Returns how many payouts it asked for.
    pub async fn resume_cashouts(&self) -> Result<u64> {
        let holds: Vec<(TenantId, CashoutId)> = sqlx::query_as(
            "SELECT tenant_id, cashout_id FROM control.cashout_holds
             WHERE status = 'held' ORDER BY tenant_id, cashout_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut asked = 0;
        for (tenant, id) in holds {
            let mut tx = TenantTx::begin(&self.pool, &tenant_of(tenant)).await?;
            let row: Option<(String, Option<String>)> = sqlx::query_as(
                "SELECT c.status, p.status FROM cashouts c
                 LEFT JOIN proposals p ON p.id = c.proposal_id WHERE c.id = $1",
            )
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
            drop(tx);
            match row {
                Some((status, _)) if status == "escrowed" => {
                    match self.request_payout(tenant, id).await {
                        Ok(()) => asked += 1,
                        Err(e) => {
                            tracing::warn!(tenant = %tenant, cashout = id, error = %e, "a payout is still not requested");
                        }
                    }
                }
                Some((status, Some(proposal)))
                    if status == "pending" && proposal != "open" && proposal != "passed" =>
                {
                    self.reject_cashout(tenant, id).await?;
                }
                Some((status, _)) if status == "rejected" => {
                    release(&self.pool, tenant, id).await?
                }
                // Only a hold older than any request could be (the request commits within it).
                None => {
                    sqlx::query(
                        "UPDATE control.cashout_holds SET status = 'released', settled_at = now()
                         WHERE tenant_id = $1 AND cashout_id = $2 AND status = 'held'
                           AND created_at < now() - interval '10 minutes'",
                    )
                    .bind(tenant)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                }
                _ => {}
            }
        }
        Ok(asked)
    }
}

/// Per org: cash-outs in sum, checked against the journal, for the after-every-test invariants
/// and the treasurer's books.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashoutTotals {
    pub paid: i64,
    pub paid_cents: i64,
    /// Coins burned by paid cash-outs (after their fees).
    pub burned_coins: i64,
    /// Coins in the escrow account, and what the cash-outs under way put there.
    pub escrow_balance: i64,
    pub escrowed_coins: i64,
    /// Every paid cash-out's euros follow from its coins at its rate, and its burn is in the
    /// journal.
    pub matches_journal: bool,
}

pub(crate) async fn totals(tx: &mut TenantTx) -> Result<CashoutTotals> {
    let (paid, paid_cents, burned, mismatched): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), COALESCE(SUM(o.cents), 0)::bigint,
                COALESCE(SUM(o.coins - o.fee_coins), 0)::bigint,
                count(*) FILTER (WHERE j.amount IS DISTINCT FROM o.coins - o.fee_coins
                    OR (o.coins - o.fee_coins)::numeric * o.rate_euros * 100
                       <> o.cents::numeric * o.rate_coins * power(10::numeric, c.scale))
         FROM cashouts o
         JOIN currencies c ON c.id = o.currency_id
         LEFT JOIN transfers j ON j.idempotency_key = 'cashout:' || o.id || ':burn'
         WHERE o.status = 'paid'",
    )
    .fetch_one(tx.conn())
    .await?;
    let (escrow_balance, escrowed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE kind = 'cashout_escrow')::bigint,
                (SELECT COALESCE(SUM(coins), 0) FROM cashouts
                  WHERE status IN ('escrowed', 'requested'))::bigint",
    )
    .fetch_one(tx.conn())
    .await?;
    Ok(CashoutTotals {
        paid,
        paid_cents,
        burned_coins: burned,
        escrow_balance,
        escrowed_coins: escrowed,
        matches_journal: mismatched == 0 && escrow_balance == escrowed,
    })
}

impl Core {
    /// Cash-outs in sum, checked against the journal. Treasurers and admins.
    pub async fn cashout_totals(&self, member: &Member) -> Result<CashoutTotals> {
        require_treasurer(member)?;
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        totals(&mut tx).await
    }
}
