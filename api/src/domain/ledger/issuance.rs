//! Scheduled issuance and demurrage (DESIGN "Issuance").
//!
//! A policy belongs to one coin currency: every period — a week from Monday, or a calendar
//! month, starting at local midnight in the policy's time zone — each current member receives a
//! fixed amount or is topped up to a target, and optionally pays a holding fee (basis points of a
//! positive balance) to the community fund. The fee is taken first, on the balance the period
//! starts with.
//!
//! Running a policy is set-based. A period is applied under the policy's row lock (a second
//! worker waits, then finds the period recorded and moves on) in transactions of up to
//! `CHUNK` (20,000) members, two at a time: each locks its members' accounts in id order, moves every
//! fee and every income with one statement — journal rows, and each balance (members, the fund,
//! the issuance account) written once with its net change — and commits. Each transfer has a natural
//! idempotency key (`issuance:<policy>:<period>:<account>`, `demurrage:...`) and the statements
//! insert with `ON CONFLICT DO NOTHING` and move balances only for rows they inserted. Once every
//! chunk committed, the period is recorded in `issuance_runs`. So a member is paid exactly once
//! per period however many workers race, and a run killed midway (some chunks committed, the
//! period not recorded) is completed by the next run, which pays only the members still unpaid.
//! The totals in `issuance_runs` are those of the run that completed the period.
//!
//! Missed periods: every period due since the policy started (or since the last one that ran) is
//! run once, oldest first, each in its own transaction — a worker that was down for two weeks pays
//! two weeks of a weekly income when it comes back, not one, and not one per missed tick.
//! Top-up-to-target periods that are caught up at once give only the first period's top-up, since
//! the members are at the target afterwards: each period still does exactly what it says.
//!
//! Changing a policy (an admin through the API, or the members by a passed `change_issuance`
//! proposal) ends the old one and starts the new one with the first period the old one did not
//! own, so the period under way is never paid twice.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CurrencyCode;
use super::currencies::{coin_by_code, currency_map};
use crate::core::Core;
use crate::domain::follow_up::FollowUp;
use crate::domain::ids::{CurrencyId, TenantId, UserId};
use crate::domain::money::{format_minor, parse_amount};
use crate::domain::orgs::Member;
use crate::domain::tenancy::{Tenant, TenantTx, retrying};
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::refusal::{Money, Refusal};

/// Members per transaction when a period is applied, and how many such transactions run at once:
/// a period of a large org is spread over the database's cores.
pub(crate) const CHUNK: usize = 20_000;
/// How far ahead a policy may start (10 years).
const MAX_START_AHEAD_DAYS: i64 = 3_653;
const PARALLEL: usize = 2;

text_enum!(
    /// How often a policy pays.
    Period {
        /// Weeks starting Monday 00:00 local time.
        Weekly => "weekly",
        /// Calendar months starting on the 1st, 00:00 local time.
        Monthly => "monthly",
    }
);

text_enum!(
    /// What each member receives per period.
    Income {
        /// The same amount to every member.
        Fixed => "fixed",
        /// Whatever brings the member's balance up to the amount (nothing if they have more).
        TopUp => "top_up",
    }
);

/// A policy as an admin asks for it. Amounts are decimal text in the currency's scale.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIssuancePolicy {
    #[schema(example = "COIN")]
    pub currency: String,
    pub period: Period,
    /// IANA time zone in which periods start at local midnight; default "UTC".
    #[schema(example = "Europe/Berlin")]
    pub time_zone: Option<String>,
    /// Give every member this much each period.
    #[schema(example = "10.00")]
    pub fixed_amount: Option<String>,
    /// Or top every member up to this balance each period.
    pub top_up_to: Option<String>,
    /// Holding fee per period, in basis points of a positive balance (1–10000), to the fund.
    pub demurrage_bp: Option<i32>,
    /// The first period is the one containing this instant (default: now; at most 31 days ago).
    pub starts_at: Option<DateTime<Utc>>,
}

/// A policy as stored, amounts shown in the currency's scale.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuancePolicyView {
    pub id: i64,
    pub currency: CurrencyCode,
    pub period: Period,
    pub time_zone: String,
    pub income: Option<Income>,
    /// The fixed amount or the top-up target.
    pub amount: Option<String>,
    pub demurrage_bp: i32,
    pub starts_at: DateTime<Utc>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The first day (local) of the latest period that ran.
    pub last_period: Option<NaiveDate>,
}

/// What one run over an org did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct IssuanceSummary {
    /// Policy periods applied by this run.
    pub periods: i64,
    pub issued_count: i64,
    /// Minor units, summed over currencies (for logs and metrics).
    pub issued_total: i64,
    pub demurrage_count: i64,
    pub demurrage_total: i64,
}

/// Parses an IANA time zone name.
pub fn parse_time_zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>()
        .map_err(|_| Error::from(Refusal::TimeZoneUnknown { field: "time_zone" }))
}

/// The first day (local) of the period containing `at`.
pub fn period_containing(period: Period, tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    let local = at.with_timezone(&tz).date_naive();
    match period {
        Period::Weekly => local - Duration::days(i64::from(local.weekday().num_days_from_monday())),
        Period::Monthly => local.with_day(1).unwrap_or(local),
    }
}

/// The first day of the period after the one starting on `first_day`.
pub fn next_period(period: Period, first_day: NaiveDate) -> NaiveDate {
    match period {
        Period::Weekly => first_day + Duration::days(7),
        Period::Monthly => first_day
            .checked_add_months(Months::new(1))
            .unwrap_or(NaiveDate::MAX),
    }
}

/// When a period that starts on `first_day` begins: local midnight, or the first local time
/// that exists that day when midnight falls in a daylight-saving gap.
pub fn period_start(tz: Tz, first_day: NaiveDate) -> DateTime<Utc> {
    (0..24)
        .find_map(|hour| {
            let time = NaiveTime::from_hms_opt(hour, 0, 0)?;
            tz.from_local_datetime(&first_day.and_time(time)).earliest()
        })
        .map_or_else(
            || first_day.and_time(NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// A stored policy.
#[derive(Debug, Clone, sqlx::FromRow)]
struct PolicyRow {
    id: i64,
    currency_id: CurrencyId,
    period: String,
    time_zone: String,
    income: Option<String>,
    amount: Option<i64>,
    demurrage_bp: i32,
    starts_at: DateTime<Utc>,
    active: bool,
    created_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    last_period: Option<NaiveDate>,
}

/// A policy ready to run.
struct Policy {
    id: i64,
    currency: CurrencyId,
    period: Period,
    tz: Tz,
    income: Option<(Income, i64)>,
    demurrage_bp: i32,
    starts_at: DateTime<Utc>,
}

impl PolicyRow {
    fn policy(&self) -> Result<Policy> {
        let income = match (&self.income, self.amount) {
            (Some(kind), Some(amount)) => Some((Income::try_from(kind.clone())?, amount)),
            _ => None,
        };
        Ok(Policy {
            id: self.id,
            currency: self.currency_id,
            period: Period::try_from(self.period.clone())?,
            tz: self.time_zone.parse().map_err(|_| {
                Error::Internal(anyhow::anyhow!("stored time zone {:?}", self.time_zone))
            })?,
            income,
            demurrage_bp: self.demurrage_bp,
            starts_at: self.starts_at,
        })
    }
}

const POLICY_COLUMNS: &str = "p.id, p.currency_id, p.period, p.time_zone, p.income, p.amount, \
     p.demurrage_bp, p.starts_at, p.active, p.created_at, p.ended_at, \
     (SELECT max(r.period) FROM issuance_runs r WHERE r.policy_id = p.id) AS last_period";

async fn policy_rows(tx: &mut TenantTx, only: Option<i64>) -> Result<Vec<PolicyRow>> {
    let sql = format!(
        "SELECT {POLICY_COLUMNS} FROM issuance_policies p
         WHERE $1::bigint IS NULL OR p.id = $1 ORDER BY p.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(only)
        .fetch_all(tx.conn())
        .await?)
}

async fn views(tx: &mut TenantTx, only: Option<i64>) -> Result<Vec<IssuancePolicyView>> {
    let currencies = currency_map(tx).await?;
    policy_rows(tx, only)
        .await?
        .into_iter()
        .map(|r| {
            let currency = currencies
                .get(&r.currency_id)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("policy of an unknown currency")))?;
            Ok(IssuancePolicyView {
                id: r.id,
                currency: currency.code.clone(),
                period: Period::try_from(r.period)?,
                time_zone: r.time_zone,
                income: r.income.map(Income::try_from).transpose()?,
                amount: r.amount.map(|a| format_minor(a, currency.scale)),
                demurrage_bp: r.demurrage_bp,
                starts_at: r.starts_at,
                active: r.active,
                created_at: r.created_at,
                ended_at: r.ended_at,
                last_period: r.last_period,
            })
        })
        .collect()
}

/// A policy checked against its currency and resolved to what is stored; also what a passed
/// "change issuance" proposal carries from the day it opened to the day it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicySpec {
    pub currency: CurrencyCode,
    pub period: Period,
    pub time_zone: String,
    pub income: Option<Income>,
    /// The fixed amount or the top-up target, in the currency's scale (shown) ...
    pub amount: Option<String>,
    /// ... and exactly, in minor units (what runs).
    pub amount_minor: Option<i64>,
    pub demurrage_bp: i32,
    /// `None`: the policy starts when it is stored.
    pub starts_at: Option<DateTime<Utc>>,
}

/// Checks a requested policy: a coin currency, a known time zone, one kind of income in the
/// currency's scale (or a demurrage rate alone), a start at most 31 days back.
pub(crate) async fn resolve_policy(
    tx: &mut TenantTx,
    new: &NewIssuancePolicy,
    now: DateTime<Utc>,
) -> Result<(CurrencyId, PolicySpec)> {
    let time_zone = new.time_zone.as_deref().unwrap_or("UTC").trim().to_owned();
    parse_time_zone(&time_zone)?;
    let demurrage_bp = new.demurrage_bp.unwrap_or(0);
    if !(0..=10_000).contains(&demurrage_bp) {
        return Err(Error::from(Refusal::BasisPointsOutOfRange {
            field: "demurrage_bp",
            min: 0,
            max: 10_000,
        }));
    }
    if new
        .starts_at
        .is_some_and(|at| at < now - Duration::days(31))
    {
        return Err(Error::from(Refusal::PolicyStartsTooEarly {
            field: "starts_at",
            days: 31,
        }));
    }
    // Periods are computed in local dates: a start near the end of chrono's calendar would
    // overflow in a time zone ahead of UTC.
    if new
        .starts_at
        .is_some_and(|at| at > now + Duration::days(MAX_START_AHEAD_DAYS))
    {
        return Err(Error::from(Refusal::PolicyStartsTooLate {
            field: "starts_at",
            years: 10,
        }));
    }
    let currency = coin_by_code(tx, &new.currency).await?;
    let income = match (&new.fixed_amount, &new.top_up_to) {
        (Some(a), None) => Some((
            Income::Fixed,
            parse_amount("fixed_amount", a, currency.scale)?,
        )),
        (None, Some(a)) => Some((Income::TopUp, parse_amount("top_up_to", a, currency.scale)?)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(Error::from(Refusal::FixedAmountAndTopUp {
                field: "fixed_amount",
            }));
        }
    };
    if let Some((kind, amount)) = income
        && amount.minor() > super::MAX_LIMIT
    {
        let field = match kind {
            Income::Fixed => "fixed_amount",
            Income::TopUp => "top_up_to",
        };
        return Err(Error::from(Refusal::AmountAboveLimit {
            field,
            max: Money::new(super::MAX_LIMIT, currency.scale),
        }));
    }
    if income.is_none() && demurrage_bp == 0 {
        return Err(Error::from(Refusal::PolicyWithoutIncome {
            field: "fixed_amount",
        }));
    }
    Ok((
        currency.id,
        PolicySpec {
            currency: currency.code,
            period: new.period,
            time_zone,
            income: income.map(|(kind, _)| kind),
            amount: income.map(|(_, amount)| amount.display(currency.scale)),
            amount_minor: income.map(|(_, amount)| amount.minor()),
            demurrage_bp,
            starts_at: new.starts_at,
        },
    ))
}

/// Stores a resolved policy as the currency's active one (starting `now` unless it says when).
pub(crate) async fn insert_policy(
    tx: &mut TenantTx,
    currency: CurrencyId,
    spec: &PolicySpec,
    now: DateTime<Utc>,
    created_by: Option<UserId>,
) -> Result<i64> {
    let starts_at = first_free_start(tx, currency, spec, now).await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO issuance_policies (currency_id, period, time_zone, income, amount, demurrage_bp,
                                        starts_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(currency)
    .bind(spec.period.as_str())
    .bind(&spec.time_zone)
    .bind(spec.income.map(Income::as_str))
    .bind(spec.amount_minor)
    .bind(spec.demurrage_bp)
    .bind(starts_at)
    .bind(created_by)
    .fetch_one(tx.conn())
    .await
    .map_err(|e| {
        crate::error::on_unique(
            e,
            "issuance_policies_active_currency",
            Refusal::ActivePolicyExists,
        )
    })?;
    Ok(id)
}

/// When a new policy of `currency` starts: when it asks to (default `now`), unless that is in a
/// period that began before an earlier policy of the currency ended — that period was the
/// earlier policy's to pay, so the new one starts with the first period after it. A change
/// of policy therefore never pays a period twice.
async fn first_free_start(
    tx: &mut TenantTx,
    currency: CurrencyId,
    spec: &PolicySpec,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let wanted = spec.starts_at.unwrap_or(now);
    let (previous_end,): (Option<DateTime<Utc>>,) =
        sqlx::query_as("SELECT max(ended_at) FROM issuance_policies WHERE currency_id = $1")
            .bind(currency)
            .fetch_one(tx.conn())
            .await?;
    let Some(previous_end) = previous_end else {
        return Ok(wanted);
    };
    let tz = parse_time_zone(&spec.time_zone)?;
    let mut first = period_containing(spec.period, tz, wanted);
    if period_start(tz, first) >= previous_end {
        return Ok(wanted);
    }
    while period_start(tz, first) < previous_end {
        first = next_period(spec.period, first);
    }
    Ok(period_start(tz, first))
}

/// The currency's active policy, if it has one.
pub(crate) async fn active_policy(tx: &mut TenantTx, currency: CurrencyId) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM issuance_policies WHERE currency_id = $1 AND active")
            .bind(currency)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Ends the currency's active policy at `at`, if it has one; its id.
pub(crate) async fn end_active_policy(
    tx: &mut TenantTx,
    currency: CurrencyId,
    at: DateTime<Utc>,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE issuance_policies SET active = false, ended_at = $2
         WHERE currency_id = $1 AND active RETURNING id",
    )
    .bind(currency)
    .bind(at)
    .fetch_optional(tx.conn())
    .await?)
}

impl Core {
    /// An admin sets up scheduled issuance for a coin currency (one active policy per currency;
    /// a community changes it later by vote, see the `change_issuance` proposal).
    pub async fn create_issuance_policy(
        &self,
        admin: &Member,
        new: NewIssuancePolicy,
    ) -> Result<IssuancePolicyView> {
        admin.require_admin()?;
        let now = Utc::now();
        let mut tx = TenantTx::begin(&self.pool, &admin.schema()).await?;
        let (currency, spec) = resolve_policy(&mut tx, &new, now).await?;
        let id = insert_policy(&mut tx, currency, &spec, now, Some(admin.user.id)).await?;
        self.follow_up(
            &mut tx,
            FollowUp::RunIssuance {
                tenant: admin.tenant.id,
            },
        )
        .await?;
        let view = views(&mut tx, Some(id))
            .await?
            .pop()
            .ok_or_else(|| Error::from(Refusal::IssuancePolicyNotFound))?;
        tx.commit().await?;
        Ok(view)
    }

    /// Every issuance policy of the org, ended ones too; any member may read them.
    pub async fn issuance_policies(&self, member: &Member) -> Result<Vec<IssuancePolicyView>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        views(&mut tx, None).await
    }

    /// An admin ends a policy: no period after this moment runs (periods already due still do).
    pub async fn end_issuance_policy(&self, admin: &Member, id: i64) -> Result<IssuancePolicyView> {
        admin.require_admin()?;
        let mut tx = TenantTx::begin(&self.pool, &admin.schema()).await?;
        let ended = sqlx::query(
            "UPDATE issuance_policies SET active = false, ended_at = now() WHERE id = $1 AND active",
        )
        .bind(id)
        .execute(tx.conn())
        .await?;
        let view = views(&mut tx, Some(id))
            .await?
            .pop()
            .ok_or_else(|| Error::from(Refusal::IssuancePolicyNotFound))?;
        if ended.rows_affected() == 0 {
            return Err(Error::from(Refusal::IssuancePolicyEnded { policy: id }));
        }
        tx.commit().await?;
        Ok(view)
    }

    /// The worker's issuance step for one org: runs every period of every policy that is due
    /// at `now` and has not run yet, oldest first, one transaction per policy period. Safe to run
    /// concurrently and again: a period that ran is never run twice.
    #[tracing::instrument(skip(self, tenant), fields(tenant = %tenant.id))]
    pub async fn run_scheduled_issuance(
        &self,
        tenant: &Tenant,
        now: DateTime<Utc>,
    ) -> Result<IssuanceSummary> {
        let rows = {
            let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
            policy_rows(&mut tx, None).await?
        };
        let mut summary = IssuanceSummary::default();
        for row in rows {
            // An ended policy still owes the periods that began before it ended.
            let until = match row.ended_at {
                Some(ended) => ended.min(now),
                None => now,
            };
            let policy = row.policy()?;
            while let Some(done) = self.run_next_period(tenant, &policy, until).await? {
                summary.periods += 1;
                summary.issued_count += done.issued_count;
                summary.issued_total = summary.issued_total.saturating_add(done.issued_total);
                summary.demurrage_count += done.demurrage_count;
                summary.demurrage_total =
                    summary.demurrage_total.saturating_add(done.demurrage_total);
            }
        }
        Ok(summary)
    }

    /// Runs the oldest period of `policy` that is due by `until` and has not run. `None`: none is.
    async fn run_next_period(
        &self,
        tenant: &Tenant,
        policy: &Policy,
        until: DateTime<Utc>,
    ) -> Result<Option<IssuanceSummary>> {
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
            // The policy's row lock serializes its runs: a second worker waits here, then sees
            // the period recorded and moves on.
            let locked: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM issuance_policies WHERE id = $1 FOR UPDATE")
                    .bind(policy.id)
                    .fetch_optional(tx.conn())
                    .await?;
            if locked.is_none() {
                return Ok(Some(None));
            }
            // A statement of its own, after the lock: its snapshot sees the period a worker we
            // waited for has just recorded.
            let next = period_to_run(&mut tx, policy).await?;
            if period_start(policy.tz, next) > until {
                return Ok(Some(None));
            }
            let accounts = members_of_period(&mut tx, policy, tenant.id).await?;
            let chunks: Vec<Vec<i64>> = accounts
                .chunks(even_chunk(accounts.len(), self.issuance_chunk))
                .map(<[i64]>::to_vec)
                .collect();
            let chunks = chunks
                .into_iter()
                .map(|chunk| self.apply_chunk(tenant, policy, next, chunk));
            let parts: Vec<IssuanceSummary> = futures::stream::iter(chunks)
                .buffer_unordered(PARALLEL)
                .try_collect()
                .await?;
            let mut done = IssuanceSummary {
                periods: 1,
                ..IssuanceSummary::default()
            };
            for part in parts {
                done.issued_count += part.issued_count;
                done.issued_total = done.issued_total.saturating_add(part.issued_total);
                done.demurrage_count += part.demurrage_count;
                done.demurrage_total = done.demurrage_total.saturating_add(part.demurrage_total);
            }
            sqlx::query(
                "INSERT INTO issuance_runs (policy_id, period, issued_count, issued_total,
                                            demurrage_count, demurrage_total, ran_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(policy.id)
            .bind(next)
            .bind(done.issued_count)
            .bind(done.issued_total)
            .bind(done.demurrage_count)
            .bind(done.demurrage_total)
            .bind(until)
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            tracing::info!(policy = policy.id, period = %next, issued = done.issued_count,
                demurrage = done.demurrage_count, "issuance period applied");
            Ok(Some(Some(done)))
        })
        .await
    }

    /// Applies one period to some of the members (account ids, ascending) in a transaction of
    /// its own: their fees, then their incomes. Run again for the same members, it writes only
    /// what is missing (the journal's keys), so a period interrupted midway is completed, never
    /// doubled.
    async fn apply_chunk(
        &self,
        tenant: &Tenant,
        policy: &Policy,
        period: NaiveDate,
        accounts: Vec<i64>,
    ) -> Result<IssuanceSummary> {
        let accounts = accounts.as_slice();
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
            // These members' accounts, locked in id order; the statements after this one read
            // balances no one else can change until commit. The issuance account and the fund
            // are taken last, by the statements themselves, and held only until the commit.
            sqlx::query("SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(accounts)
                .execute(tx.conn())
                .await?;
            let summary = settle_chunk(&mut tx, policy, period, accounts).await?;
            tx.commit().await?;
            Ok(Some(summary))
        })
        .await
    }
}

/// The first day of the policy's next period to run (the first one if none ran).
async fn period_to_run(tx: &mut TenantTx, policy: &Policy) -> Result<NaiveDate> {
    let (last,): (Option<NaiveDate>,) =
        sqlx::query_as("SELECT max(period) FROM issuance_runs WHERE policy_id = $1")
            .bind(policy.id)
            .fetch_one(tx.conn())
            .await?;
    let first = period_containing(policy.period, policy.tz, policy.starts_at);
    Ok(last.map_or(first, |p| next_period(policy.period, p)))
}

/// The members of a period: the org's members now, by account id.
async fn members_of_period(
    tx: &mut TenantTx,
    policy: &Policy,
    tenant: TenantId,
) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT a.id FROM accounts a
         WHERE a.currency_id = $1 AND a.kind = 'member'
           AND EXISTS (SELECT 1 FROM control.memberships m
                       WHERE m.tenant_id = $2 AND m.user_id = a.owner_user_id)
         ORDER BY a.id",
    )
    .bind(policy.currency)
    .bind(tenant)
    .fetch_all(tx.conn())
    .await?)
}

/// What a policy's next period would pay, were it run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuancePreview {
    /// The period's first day (in the policy's time zone) and when it begins.
    pub period: NaiveDate,
    pub starts_at: DateTime<Utc>,
    /// Members with an income, and the incomes together (minor units).
    pub issued_count: i64,
    pub issued_total: i64,
    /// Members paying a holding fee, and the fees together.
    pub demurrage_count: i64,
    pub demurrage_total: i64,
}

impl Core {
    /// The next period of policy `id` as it would run on the balances now: the same
    /// computation as the run ([`DUE`]), read only. An ended policy has none.
    pub async fn preview_issuance(&self, member: &Member, id: i64) -> Result<IssuancePreview> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let row = policy_rows(&mut tx, Some(id))
            .await?
            .pop()
            .ok_or_else(|| Error::from(Refusal::IssuancePolicyNotFound))?;
        if row.ended_at.is_some() {
            return Err(Error::from(Refusal::IssuancePolicyEnded { policy: id }));
        }
        let policy = row.policy()?;
        let period = period_to_run(&mut tx, &policy).await?;
        let accounts = members_of_period(&mut tx, &policy, member.tenant.id).await?;
        let (income_kind, income_amount) = match policy.income {
            Some((kind, amount)) => (Some(kind.as_str()), amount),
            None => (None, 0),
        };
        // Sums in numeric: no total overflows here (the run skips what would not fit).
        let sql = format!(
            "WITH {DUE}
             SELECT count(*) FILTER (WHERE income > 0),
                    coalesce(sum(income) FILTER (WHERE income > 0), 0)::numeric::text,
                    count(*) FILTER (WHERE fee > 0),
                    coalesce(sum(fee), 0)::numeric::text
             FROM due"
        );
        let (issued_count, issued, demurrage_count, fees): (i64, String, i64, String) =
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(policy.currency)
                .bind(policy.demurrage_bp)
                .bind(&accounts)
                .bind(income_kind)
                .bind(income_amount)
                .fetch_one(tx.conn())
                .await?;
        let whole = |text: &str| {
            let digits = text.split('.').next().unwrap_or(text);
            digits.parse::<i64>().unwrap_or(i64::MAX)
        };
        Ok(IssuancePreview {
            period,
            starts_at: period_start(policy.tz, period),
            issued_count,
            issued_total: whole(&issued),
            demurrage_count,
            demurrage_total: whole(&fees),
        })
    }
}

/// Each member's part of a period, as common table expressions over the binds $1 (currency),
/// $2 (holding fee, basis points), $3 (member account ids), $4 (income kind, or NULL) and $5
/// (income amount): `members` (id, ceiling, fee, balance) and `due` (id, fee, after_fee,
/// income). The period's statement and its preview share it, so a preview is what runs.
const DUE: &str = "members AS (
             SELECT a.id, a.ceiling,
                    CASE WHEN a.balance > 0 THEN floor(a.balance::numeric * $2 / 10000)::bigint
                         ELSE 0 END AS fee,
                    a.balance
             FROM accounts a
             WHERE a.id = ANY($3) AND a.currency_id = $1 AND a.kind = 'member'
         ), due AS (
             SELECT m.id, m.fee, m.balance - m.fee AS after_fee,
                    CASE WHEN $4::text IS NULL THEN 0
                         WHEN m.ceiling IS NULL THEN w.want
                         ELSE least(w.want, m.ceiling::numeric - (m.balance - m.fee)) END AS income
             FROM members m
             CROSS JOIN LATERAL (
                 SELECT CASE WHEN $4 = 'fixed' THEN $5::numeric
                             ELSE $5::numeric - (m.balance - m.fee) END AS want
             ) w
         )";

/// Settles one period for some members in ONE statement: each member's holding fee to the fund
/// (computed on the balance before the period), then their income from the issuance account
/// (a top-up counts the balance after the fee) — journal rows for both, and every balance
/// written once with its net change (members, the fund, the issuance account). Fees are rounded
/// down, so nobody pays more than the rate and a balance never crosses zero; an income never
/// takes a member over their ceiling (it is cut to fit). A member whose income or balance would
/// not fit in an `i64` gets nothing this period (logged and counted), so one extreme account
/// cannot fail the period for everyone. The journal's keys make a re-run write only what is
/// missing.
async fn settle_chunk(
    tx: &mut TenantTx,
    policy: &Policy,
    period: NaiveDate,
    accounts: &[i64],
) -> Result<IssuanceSummary> {
    let (income_kind, income_amount) = match policy.income {
        Some((kind, amount)) => (Some(kind.as_str()), amount),
        None => (None, 0),
    };
    let fee_keys = format!("demurrage:{}:{period}:", policy.id);
    let fee_memo = format!("demurrage {} bp, period from {period}", policy.demurrage_bp);
    let income_keys = format!("issuance:{}:{period}:", policy.id);
    let income_memo = match policy.income {
        Some((Income::TopUp, _)) => format!("top-up to target, period from {period}"),
        _ => format!("basic income, period from {period}"),
    };
    let sql = format!(
        "WITH issuer AS (
             SELECT id FROM accounts WHERE currency_id = $1 AND kind = 'issuance'
         ), fund AS (
             SELECT id FROM accounts WHERE currency_id = $1 AND kind = 'fund'
         ), {DUE}, entries AS (
             SELECT 0 AS part, d.id AS member, d.id AS from_account, fund.id AS to_account,
                    d.fee AS amount, 'demurrage' AS kind, $6 AS memo, $7 || d.id AS key
             FROM due d CROSS JOIN fund WHERE d.fee > 0
             UNION ALL
             SELECT 1, d.id, issuer.id, d.id, d.income::bigint, 'issuance', $8, $9 || d.id
             FROM due d CROSS JOIN issuer
             WHERE d.income > 0 AND d.income <= $10::bigint AND d.after_fee + d.income <= $10::bigint
         ), written AS (
             INSERT INTO transfers (currency_id, from_account, to_account, amount, kind, memo,
                                    actor_user_id, idempotency_key, fingerprint)
             SELECT $1, e.from_account, e.to_account, e.amount, e.kind, e.memo, NULL, e.key,
                    sha256(convert_to('v1|' || e.key || '|' || e.amount, 'UTF8'))
             FROM entries e
             ORDER BY e.member, e.part
             ON CONFLICT (idempotency_key) DO NOTHING
             RETURNING from_account, to_account, amount, kind
         ), moves AS (
             SELECT from_account AS account, -amount AS delta FROM written
             UNION ALL
             SELECT to_account, amount FROM written
         ), net AS (
             SELECT account, sum(delta)::bigint AS delta FROM moves GROUP BY account
         ), updated AS (
             UPDATE accounts a SET balance = a.balance + n.delta
             FROM net n WHERE a.id = n.account AND n.delta <> 0
         )
         SELECT count(*) FILTER (WHERE kind = 'issuance'),
                coalesce(sum(amount) FILTER (WHERE kind = 'issuance'), 0)::bigint,
                count(*) FILTER (WHERE kind = 'demurrage'),
                coalesce(sum(amount) FILTER (WHERE kind = 'demurrage'), 0)::bigint,
                (SELECT count(*) FROM due d
                  WHERE d.income > 0 AND (d.income > $10::bigint OR d.after_fee + d.income > $10::bigint))
         FROM written"
    );
    let row: (i64, i64, i64, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(policy.currency)
        .bind(policy.demurrage_bp)
        .bind(accounts)
        .bind(income_kind)
        .bind(income_amount)
        .bind(&fee_memo)
        .bind(&fee_keys)
        .bind(&income_memo)
        .bind(&income_keys)
        .bind(i64::MAX)
        .fetch_one(tx.conn())
        .await?;
    if row.4 > 0 {
        // Only reachable with limits set before they were capped (`MAX_LIMIT`).
        tracing::warn!(policy = policy.id, %period, members = row.4,
            "members skipped by scheduled issuance: their balance would overflow");
        metrics::counter!("coinsence_issuance_skipped_total").increment(row.4.unsigned_abs());
    }
    Ok(IssuanceSummary {
        periods: 0,
        issued_count: row.0,
        issued_total: row.1,
        demurrage_count: row.2,
        demurrage_total: row.3,
    })
}

/// The chunk size that splits `n` members into a multiple of `PARALLEL` chunks of at most
/// `max` each, as even as can be: no transaction is left to run alone at the end while the other
/// cores idle.
fn even_chunk(n: usize, max: usize) -> usize {
    let max = max.max(1);
    let chunks = n.div_ceil(max).next_multiple_of(PARALLEL).max(1);
    n.div_ceil(chunks).max(1)
}

/// How many periods of a policy are due at `now` (for status and tests).
pub fn due_periods(
    period: Period,
    tz: Tz,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut next = period_containing(period, tz, starts_at);
    while period_start(tz, next) <= now && next < NaiveDate::MAX {
        out.push(next);
        next = next_period(period, next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn weeks_start_on_monday_in_the_org_time_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Sunday 23:30 UTC is already Monday in Berlin.
        let at = utc("2026-11-29T23:30:00Z");
        assert_eq!(
            period_containing(Period::Weekly, Tz::UTC, at),
            day("2026-11-23")
        );
        assert_eq!(
            period_containing(Period::Weekly, berlin, at),
            day("2026-11-30")
        );
        assert_eq!(
            period_start(berlin, day("2026-11-30")),
            utc("2026-11-29T23:00:00Z")
        );
        assert_eq!(
            next_period(Period::Weekly, day("2026-11-30")),
            day("2026-12-07")
        );
    }

    #[test]
    fn months_are_calendar_months() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let at = utc("2026-01-31T16:00:00Z"); // Feb 1st, 01:00 in Tokyo
        assert_eq!(
            period_containing(Period::Monthly, tokyo, at),
            day("2026-02-01")
        );
        assert_eq!(
            period_containing(Period::Monthly, Tz::UTC, at),
            day("2026-01-01")
        );
        assert_eq!(
            next_period(Period::Monthly, day("2026-01-01")),
            day("2026-02-01")
        );
        assert_eq!(
            next_period(Period::Monthly, day("2026-12-01")),
            day("2027-01-01")
        );
        let due = due_periods(
            Period::Monthly,
            Tz::UTC,
            utc("2026-01-15T00:00:00Z"),
            utc("2026-04-01T00:00:00Z"),
        );
        assert_eq!(
            due,
            vec![
                day("2026-01-01"),
                day("2026-02-01"),
                day("2026-03-01"),
                day("2026-04-01")
            ]
        );
    }

    #[test]
    fn a_midnight_that_does_not_exist_starts_at_the_first_hour_that_does() {
        // Santiago moved its clocks from 00:00 to 01:00 on 2026-09-06.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let start = period_start(santiago, day("2026-09-06"));
        assert_eq!(
            start.with_timezone(&santiago).date_naive(),
            day("2026-09-06")
        );
    }

    #[test]
    fn members_are_split_into_even_chunks_for_the_cores() {
        assert_eq!(
            even_chunk(100_000, 20_000),
            16_667,
            "6 chunks, 3 rounds of 2"
        );
        assert_eq!(even_chunk(40_000, 20_000), 20_000);
        assert_eq!(even_chunk(3, 20_000), 2, "two small chunks");
        assert_eq!(even_chunk(7, 2), 2);
        assert_eq!(even_chunk(0, 20_000), 1);
        assert_eq!(even_chunk(5, 0), 1, "never above the limit");
    }

    #[test]
    fn unknown_time_zones_are_refused() {
        assert!(parse_time_zone("Europe/Berlin").is_ok());
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }
}
