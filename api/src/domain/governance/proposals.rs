//! Proposals and votes.
//!
//! A proposal opens with the decision rule for its kind and the list of members at that moment
//! (its electorate) frozen into it. Every vote and the close take the proposal's row lock first,
//! so they happen one after the other: a vote either lands before the close (and is counted) or
//! after it (and is refused), and the action runs exactly once, in the closing transaction.
//! A proposal closes at its deadline (`close_due`, which the worker calls) or as soon as a vote
//! settles it (see [`tally::settled`]); closing a closed proposal does nothing.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::actions::{self, Action, ActionRequest, Executing};
use super::kind::ProposalKind;
use super::outbox::{self, EventKind, NewEvent};
use super::rules::{self, Proposers, Rules};
use super::tally::{self, Choice, Counts, DecisionRule, Method, Outcome};
use crate::core::Core;
use crate::domain::follow_up::FollowUp;
use crate::domain::idempotency::{Creation, IdempotencyKey};
use crate::domain::ids::{ProjectId, ProposalId, TenantId, UserId};
use crate::domain::orgs::Member;
use crate::domain::tenancy::{Tenant, TenantTx, retrying};
use crate::domain::text;
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::i18n::{Args, Lang, Reason};
use crate::refusal::Refusal;

text_enum!(
    /// Open until it closes; then passed (its action ran), rejected (by the vote) or failed
    /// (it passed but its action could not run, and nothing of it was applied).
    ProposalStatus {
        Open => "open",
        Passed => "passed",
        Rejected => "rejected",
        Failed => "failed",
    }
);

/// How far ahead a proposal's deadline may be set.
const LONGEST_VOTE: Duration = Duration::days(90);
/// Voters who have not voted hear about a proposal this long before it closes.
const REMIND_BEFORE: Duration = Duration::hours(24);

/// A proposal as a member writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProposal {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// When voting ends: at least the org's voting period from now (the default), at most 90 days.
    pub closes_at: Option<DateTime<Utc>>,
    pub action: ActionRequest,
}

/// A proposal as a member sees it (the API's wire type is `http::governance::ProposalBody`).
/// Serialized only to answer a retried request as the first time (`Creation`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProposalView {
    pub id: ProposalId,
    pub kind: ProposalKind,
    pub title: String,
    pub description: String,
    pub author_user_id: UserId,
    pub author_name: String,
    pub action: Action,
    pub status: ProposalStatus,
    /// The decision rule frozen when it opened.
    pub rule: DecisionRule,
    /// How many members could vote (the members when it opened).
    pub voters: i64,
    pub votes: Counts,
    /// The caller's current vote.
    pub my_vote: Option<Choice>,
    pub opened_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was rejected or failed: a code and its arguments, rendered by whoever shows it.
    pub reason: Option<ClosedBecause>,
}

/// Why a proposal was rejected or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClosedBecause {
    /// Kept as data (code and arguments), rendered in the reader's language.
    Reason(Reason),
    /// Closed before reasons were kept as data: the code and the English sentence of then.
    Legacy { code: String, sentence: String },
}

impl ClosedBecause {
    /// The stable code, e.g. `quorum_not_met` or `insufficient_funds`.
    pub fn code(&self) -> &str {
        match self {
            Self::Reason(reason) => &reason.code,
            Self::Legacy { code, .. } => code,
        }
    }

    /// The reason as one sentence in `lang` (a legacy reason has only its English one).
    pub fn message(&self, lang: Lang) -> String {
        match self {
            Self::Reason(reason) => reason.message(lang),
            Self::Legacy { sentence, .. } => sentence.clone(),
        }
    }
}

/// What one `close_due` run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct CloseSummary {
    pub proposals_closed: i64,
    pub projects_settled: i64,
    pub reminders: i64,
    /// Items that could not be closed this time (logged; the next run tries again).
    pub errors: i64,
}

/// The deadline a new proposal gets.
fn deadline(
    rules: &Rules,
    now: DateTime<Utc>,
    requested: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>> {
    let earliest = now + Duration::seconds(rules.voting_period_secs);
    match requested {
        None => Ok(earliest),
        Some(at) if at >= earliest && at <= now + LONGEST_VOTE => Ok(at),
        Some(_) => Err(Error::from(Refusal::VoteDurationOutOfRange {
            field: "closes_at",
            min_secs: rules.voting_period_secs,
        })),
    }
}

/// A proposal about to open.
#[derive(Clone, Copy)]
pub(crate) struct Opening<'a> {
    pub tenant: TenantId,
    pub author: UserId,
    pub title: &'a str,
    pub description: &'a str,
    pub action: &'a Action,
    pub opened_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

/// Opens a proposal inside the caller's transaction: the rule for its kind and the electorate
/// (every member of the org now) are frozen into it, and the rooms are told.
pub(crate) async fn open_in(
    tx: &mut TenantTx,
    rules: &Rules,
    o: &Opening<'_>,
) -> Result<ProposalId> {
    let Opening {
        tenant,
        author,
        title,
        description,
        action,
        opened_at,
        closes_at,
    } = *o;
    let kind = action.kind();
    let rule = rules.rule_for(kind);
    let action_json = serde_json::to_string(action).map_err(|e| Error::Internal(e.into()))?;
    let (id,): (ProposalId,) = sqlx::query_as(
        "INSERT INTO proposals (kind, title, description, author_user_id, action, method, quorum_bp,
                                threshold_bp, voters, opened_at, closes_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, 0, $9, $10) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(title)
    .bind(description)
    .bind(author)
    .bind(action_json)
    .bind(rule.method.as_str())
    .bind(rule.quorum_bp)
    .bind(rule.threshold_bp)
    .bind(opened_at)
    .bind(closes_at)
    .fetch_one(tx.conn())
    .await?;
    sqlx::query(
        "WITH electorate AS (
             INSERT INTO proposal_voters (proposal_id, user_id)
             SELECT $1, user_id FROM control.memberships WHERE tenant_id = $2
             RETURNING 1
         )
         UPDATE proposals SET voters = (SELECT count(*) FROM electorate) WHERE id = $1",
    )
    .bind(id)
    .bind(tenant)
    .execute(tx.conn())
    .await?;
    outbox::emit(
        tx,
        NewEvent {
            kind: EventKind::ProposalOpened,
            payload: serde_json::json!({
                "proposal_id": id,
                "kind": kind,
                "title": title,
                "author_user_id": author,
                "method": rule.method,
                "closes_at": closes_at,
            }),
            to_rooms: true,
            to_users: Vec::new(),
            dedup_key: format!("proposal:{id}:opened"),
        },
    )
    .await?;
    Ok(id)
}

/// A proposal under its row lock.
struct Locked {
    id: ProposalId,
    author: UserId,
    title: String,
    action: Action,
    rule: DecisionRule,
    voters: i64,
    status: ProposalStatus,
    closes_at: DateTime<Utc>,
}

async fn lock(tx: &mut TenantTx, id: ProposalId) -> Result<Locked> {
    #[derive(sqlx::FromRow)]
    struct Row {
        author_user_id: UserId,
        title: String,
        action: String,
        method: String,
        quorum_bp: i32,
        threshold_bp: i32,
        voters: i32,
        status: String,
        closes_at: DateTime<Utc>,
    }
    let row: Row = sqlx::query_as(
        "SELECT author_user_id, title, action::text AS action, method, quorum_bp, threshold_bp, voters,
                status, closes_at
         FROM proposals WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::from(Refusal::ProposalNotFound))?;
    Ok(Locked {
        id,
        author: row.author_user_id,
        title: row.title,
        action: parse_action(&row.action)?,
        rule: DecisionRule {
            method: Method::try_from(row.method)?,
            quorum_bp: row.quorum_bp,
            threshold_bp: row.threshold_bp,
        },
        voters: i64::from(row.voters),
        status: ProposalStatus::try_from(row.status)?,
        closes_at: row.closes_at,
    })
}

fn parse_action(json: &str) -> Result<Action> {
    serde_json::from_str(json).map_err(|e| Error::Internal(anyhow::anyhow!("stored action: {e}")))
}

async fn counts(tx: &mut TenantTx, id: ProposalId) -> Result<Counts> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT choice, count(*) FROM votes WHERE proposal_id = $1 GROUP BY choice")
            .bind(id)
            .fetch_all(tx.conn())
            .await?;
    let mut counts = Counts::default();
    for (choice, n) in rows {
        counts.add(Choice::try_from(choice)?, n);
    }
    Ok(counts)
}

/// Closes a locked, open proposal with its outcome. A passed proposal's action runs here, after
/// a savepoint: if the action is refused, everything it wrote is undone and the proposal is
/// recorded as failed with the reason. `Ok(None)`: retry the whole transaction.
async fn close_locked(
    tx: &mut TenantTx,
    tenant: TenantId,
    p: &Locked,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<Option<()>> {
    let (status, reason): (ProposalStatus, Option<Reason>) = match outcome {
        Outcome::Rejected(why) => (
            ProposalStatus::Rejected,
            Some(Reason::new(why.code(), Args::new())),
        ),
        Outcome::Passed => {
            tx.savepoint().await?;
            let executing = Executing {
                id: p.id,
                tenant,
                author: p.author,
                title: &p.title,
                now,
            };
            match actions::execute(tx, &executing, &p.action).await {
                Ok(Some(())) => {
                    tx.release_savepoint().await?;
                    (ProposalStatus::Passed, None)
                }
                Ok(None) => return Ok(None),
                Err(e) if e.is_internal() => return Err(e),
                Err(e) => {
                    tx.rollback_to_savepoint().await?;
                    tracing::info!(proposal = %p.id, reason = %e, "a passed proposal's action failed");
                    (
                        ProposalStatus::Failed,
                        Some(Reason::new(e.code(), e.args())),
                    )
                }
            }
        }
    };
    let code = reason.as_ref().map(|r| r.code.as_str());
    let args = reason
        .as_ref()
        .map(|r| serde_json::to_value(&r.args))
        .transpose()
        .map_err(anyhow::Error::from)?;
    sqlx::query(
        "UPDATE proposals SET status = $2, closed_at = $3, reason_code = $4, reason_args = $5
         WHERE id = $1",
    )
    .bind(p.id)
    .bind(status.as_str())
    .bind(now)
    .bind(code)
    .bind(&args)
    .execute(tx.conn())
    .await?;
    if status != ProposalStatus::Passed && matches!(p.action, Action::IssueForPledge { .. }) {
        sqlx::query("UPDATE pledges SET status = 'rejected' WHERE proposal_id = $1")
            .bind(p.id)
            .execute(tx.conn())
            .await?;
    }
    let votes = counts(tx, p.id).await?;
    outbox::emit(
        tx,
        NewEvent {
            kind: EventKind::ProposalClosed,
            payload: serde_json::json!({
                "proposal_id": p.id,
                "kind": p.action.kind(),
                "title": p.title,
                "status": status,
                "reason_code": code,
                "reason_args": args,
                "votes": votes,
            }),
            to_rooms: true,
            to_users: vec![p.author],
            dedup_key: format!("proposal:{}:closed", p.id),
        },
    )
    .await?;
    Ok(Some(()))
}

/// Proposals as a member sees them (with their own vote), newest first.
async fn views(
    tx: &mut TenantTx,
    viewer: UserId,
    only: Option<ProposalId>,
    status: Option<ProposalStatus>,
    before: Option<ProposalId>,
    limit: i64,
) -> Result<Vec<ProposalView>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: ProposalId,
        kind: String,
        title: String,
        description: String,
        author_user_id: UserId,
        author_name: String,
        action: String,
        method: String,
        quorum_bp: i32,
        threshold_bp: i32,
        voters: i32,
        status: String,
        opened_at: DateTime<Utc>,
        closes_at: DateTime<Utc>,
        closed_at: Option<DateTime<Utc>>,
        reason: Option<String>,
        reason_code: Option<String>,
        reason_args: Option<serde_json::Value>,
        yes: i64,
        no: i64,
        abstain: i64,
        block: i64,
        my_vote: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.id, p.kind, p.title, p.description, p.author_user_id, m.display_name AS author_name,
                p.action::text AS action, p.method, p.quorum_bp, p.threshold_bp, p.voters, p.status,
                p.opened_at, p.closes_at, p.closed_at, p.reason, p.reason_code, p.reason_args,
                c.yes, c.no, c.abstain, c.block, mine.choice AS my_vote
         FROM proposals p
         JOIN members m ON m.user_id = p.author_user_id
         CROSS JOIN LATERAL (
             SELECT count(*) FILTER (WHERE v.choice = 'yes') AS yes,
                    count(*) FILTER (WHERE v.choice = 'no') AS no,
                    count(*) FILTER (WHERE v.choice = 'abstain') AS abstain,
                    count(*) FILTER (WHERE v.choice = 'block') AS block
             FROM votes v WHERE v.proposal_id = p.id
         ) c
         LEFT JOIN votes mine ON mine.proposal_id = p.id AND mine.user_id = $1
         WHERE ($2::bigint IS NULL OR p.id = $2)
           AND ($3::text IS NULL OR p.status = $3)
           AND ($4::bigint IS NULL OR p.id < $4)
         ORDER BY p.id DESC LIMIT $5",
    )
    .bind(viewer)
    .bind(only)
    .bind(status.map(ProposalStatus::as_str))
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ProposalView {
                id: r.id,
                kind: ProposalKind::try_from(r.kind)?,
                title: r.title,
                description: r.description,
                author_user_id: r.author_user_id,
                author_name: r.author_name,
                action: parse_action(&r.action)?,
                status: ProposalStatus::try_from(r.status)?,
                rule: DecisionRule {
                    method: Method::try_from(r.method)?,
                    quorum_bp: r.quorum_bp,
                    threshold_bp: r.threshold_bp,
                },
                voters: i64::from(r.voters),
                votes: Counts {
                    yes: r.yes,
                    no: r.no,
                    abstain: r.abstain,
                    block: r.block,
                },
                my_vote: r.my_vote.map(Choice::try_from).transpose()?,
                opened_at: r.opened_at,
                closes_at: r.closes_at,
                closed_at: r.closed_at,
                reason: closed_because(r.reason_code, r.reason_args, r.reason)?,
            })
        })
        .collect()
}

/// Opens the "issue for a pledge" proposal of a new pledge, in the pledge's transaction. Pledges
/// are open to every member whatever the rules say about proposers.
pub(crate) async fn open_for_pledge(
    tx: &mut TenantTx,
    member: &Member,
    action: &Action,
    title: &str,
    closes_at: Option<DateTime<Utc>>,
) -> Result<ProposalId> {
    let now = Utc::now();
    let rules = rules::load(tx).await?;
    let closes_at = deadline(&rules, now, closes_at)?;
    let opening = Opening {
        tenant: member.tenant.id,
        author: member.user.id,
        title,
        description: "",
        action,
        opened_at: now,
        closes_at,
    };
    open_in(tx, &rules, &opening).await
}

pub(crate) async fn view(
    tx: &mut TenantTx,
    viewer: UserId,
    id: ProposalId,
) -> Result<ProposalView> {
    views(tx, viewer, Some(id), None, None, 1)
        .await?
        .pop()
        .ok_or_else(|| Error::from(Refusal::ProposalNotFound))
}

impl Core {
    /// A member opens a proposal (if the rules let them propose). Its action is checked now, so
    /// a proposal that could never run is refused at once. With a key, a retry answers the
    /// proposal the first attempt opened.
    pub async fn propose(
        &self,
        member: &Member,
        new: NewProposal,
        key: Option<IdempotencyKey>,
    ) -> Result<ProposalView> {
        let title = text::line("title", &new.title, 1, 200)?;
        let description = text::body("description", &new.description, 0, 10_000)?;
        let creation = Creation::new(key.as_ref(), "proposal", &new);
        let (new, creation, title, description) = (&new, &creation, &title, &description);
        retrying(move || async move {
            let now = Utc::now();
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let reread =
                async |tx: &mut TenantTx, id| view(tx, member.user.id, ProposalId(id)).await;
            if let Some(first) = creation.take(&mut tx, reread).await? {
                return Ok(Some(first));
            }
            let rules = rules::load(&mut tx).await?;
            if rules.proposers == Proposers::Admins && !member.role.is_admin() {
                return Err(Error::from(Refusal::ProposalsByAdminsOnly));
            }
            let closes_at = deadline(&rules, now, new.closes_at)?;
            let action =
                actions::prepare(&mut tx, member.tenant.id, new.action.clone(), closes_at).await?;
            let opening = Opening {
                tenant: member.tenant.id,
                author: member.user.id,
                title,
                description,
                action: &action,
                opened_at: now,
                closes_at,
            };
            let id = open_in(&mut tx, &rules, &opening).await?;
            self.follow_up(
                &mut tx,
                FollowUp::CloseProposals {
                    tenant: member.tenant.id,
                    at: closes_at,
                },
            )
            .await?;
            let view = view(&mut tx, member.user.id, id).await?;
            creation.remember(&mut tx, id.0, &view).await?;
            tx.commit().await?;
            Ok(Some(view))
        })
        .await
    }

    /// Proposals, newest first, optionally only those with a status, paged by `before`.
    pub async fn proposals(
        &self,
        member: &Member,
        status: Option<ProposalStatus>,
        before: Option<ProposalId>,
        limit: i64,
    ) -> Result<Vec<ProposalView>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        views(
            &mut tx,
            member.user.id,
            None,
            status,
            before,
            limit.clamp(1, 200),
        )
        .await
    }

    pub async fn proposal(&self, member: &Member, id: ProposalId) -> Result<ProposalView> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        view(&mut tx, member.user.id, id).await
    }

    /// Casts or changes the member's vote. Only members when the proposal opened may vote, and
    /// only while it is open and before its deadline. If this vote settles the outcome, the
    /// proposal closes (and its action runs) in the same transaction.
    pub async fn vote(
        &self,
        member: &Member,
        id: ProposalId,
        choice: Choice,
    ) -> Result<ProposalView> {
        self.cast(member, id, choice, None).await
    }

    /// A vote sent with a key (a chat event or button press): its redelivery answers what the
    /// first delivery answered, even after later votes or the close.
    pub async fn vote_keyed(
        &self,
        member: &Member,
        id: ProposalId,
        choice: Choice,
        key: IdempotencyKey,
    ) -> Result<ProposalView> {
        self.cast(member, id, choice, Some(&key)).await
    }

    async fn cast(
        &self,
        member: &Member,
        id: ProposalId,
        choice: Choice,
        key: Option<&IdempotencyKey>,
    ) -> Result<ProposalView> {
        let creation = &Creation::new(key, "vote", &(id, choice));
        retrying(move || async move {
            let now = Utc::now();
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            let reread = async |tx: &mut TenantTx, _| view(tx, member.user.id, id).await;
            if let Some(first) = creation.take(&mut tx, reread).await? {
                return Ok(Some(first));
            }
            let p = lock(&mut tx, id).await?;
            if p.status != ProposalStatus::Open {
                return Err(Error::from(Refusal::VotingClosed { proposal: id.0 }));
            }
            if now >= p.closes_at {
                return Err(Error::from(Refusal::VotingEnded { proposal: id.0, closed_at: p.closes_at }));
            }
            let eligible: Option<(i64,)> =
                sqlx::query_as("SELECT 1::bigint FROM proposal_voters WHERE proposal_id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(member.user.id)
                    .fetch_optional(tx.conn())
                    .await?;
            if eligible.is_none() {
                return Err(Error::from(Refusal::NotInElectorate));
            }
            sqlx::query(
                "INSERT INTO votes (proposal_id, user_id, choice, cast_at, changed_at) VALUES ($1, $2, $3, $4, $4)
                 ON CONFLICT (proposal_id, user_id) DO UPDATE SET choice = EXCLUDED.choice, changed_at = EXCLUDED.changed_at",
            )
            .bind(id)
            .bind(member.user.id)
            .bind(choice.as_str())
            .bind(now)
            .execute(tx.conn())
            .await?;
            let votes = counts(&mut tx, id).await?;
            if let Some(outcome) = tally::settled(&p.rule, p.voters, &votes)
                && close_locked(&mut tx, member.tenant.id, &p, outcome, now).await?.is_none()
            {
                return Ok(None);
            }
            let view = view(&mut tx, member.user.id, id).await?;
            creation.remember(&mut tx, id.0, &view).await?;
            tx.commit().await?;
            self.forget_payers_of(member.tenant.id, &p.action);
            Ok(Some(view))
        })
        .await
    }

    /// Closes one proposal if it is open and due at `now`. `Ok(false)`: nothing to do.
    async fn close_one(&self, tenant: &Tenant, id: ProposalId, now: DateTime<Utc>) -> Result<bool> {
        retrying(move || async move {
            let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
            let p = lock(&mut tx, id).await?;
            if p.status != ProposalStatus::Open || p.closes_at > now {
                return Ok(Some(false));
            }
            let outcome = tally::evaluate(&p.rule, p.voters, &counts(&mut tx, id).await?);
            if close_locked(&mut tx, tenant.id, &p, outcome, now)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            tx.commit().await?;
            self.forget_payers_of(tenant.id, &p.action);
            Ok(Some(true))
        })
        .await
    }

    /// The worker's periodic step for one org: closes every proposal whose deadline is at or
    /// before `now` (running passed actions), settles every project past its deadline, and
    /// reminds voters who have not voted on proposals closing within a day. Each proposal and
    /// project is its own transaction, so one that fails (logged, counted in `errors`) does not
    /// hold up the rest, and running it twice is harmless.
    #[tracing::instrument(skip(self, tenant), fields(tenant = %tenant.id))]
    pub async fn close_due(&self, tenant: &Tenant, now: DateTime<Utc>) -> Result<CloseSummary> {
        let mut summary = CloseSummary::default();
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        let proposals: Vec<(ProposalId,)> =
            sqlx::query_as("SELECT id FROM proposals WHERE status = 'open' AND closes_at <= $1 ORDER BY closes_at, id")
                .bind(now)
                .fetch_all(tx.conn())
                .await?;
        let projects: Vec<(ProjectId,)> =
            sqlx::query_as("SELECT id FROM projects WHERE status = 'open' AND deadline <= $1 ORDER BY deadline, id")
                .bind(now)
                .fetch_all(tx.conn())
                .await?;
        drop(tx);
        for (id,) in proposals {
            match self.close_one(tenant, id, now).await {
                Ok(true) => summary.proposals_closed += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(tenant = %tenant.id, proposal = %id, error = %e, "closing a proposal failed");
                    summary.errors += 1;
                }
            }
        }
        for (id,) in projects {
            match self.settle_project(tenant, id, now).await {
                Ok(true) => summary.projects_settled += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(tenant = %tenant.id, project = %id, error = %e, "settling a project failed");
                    summary.errors += 1;
                }
            }
        }
        summary.reminders = self.remind(tenant, now).await?;
        Ok(summary)
    }

    /// Reminds voters who have not voted, once per voter and proposal (the dedup key sees to
    /// that), in the vote's last day but never in its first half (short votes are not nagged
    /// right after they open).
    async fn remind(&self, tenant: &Tenant, now: DateTime<Utc>) -> Result<i64> {
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        let written: Vec<(i64,)> = sqlx::query_as(
            "INSERT INTO outbox (kind, payload, to_users, dedup_key)
             SELECT 'vote_reminder',
                    jsonb_build_object('proposal_id', p.id, 'title', p.title, 'closes_at', p.closes_at),
                    ARRAY[pv.user_id],
                    'proposal:' || p.id || ':reminder:' || pv.user_id
             FROM proposals p
             JOIN proposal_voters pv ON pv.proposal_id = p.id
             JOIN control.memberships m ON m.tenant_id = $3 AND m.user_id = pv.user_id
             WHERE p.status = 'open' AND p.closes_at > $1 AND p.closes_at <= $2
               AND $1 >= p.opened_at + (p.closes_at - p.opened_at) / 2
               AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.proposal_id = p.id AND v.user_id = pv.user_id)
             ON CONFLICT (dedup_key) DO NOTHING
             RETURNING id",
        )
        .bind(now)
        .bind(now + REMIND_BEFORE)
        .bind(tenant.id)
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        // The rows written, counted from RETURNING: on Citus an INSERT ... SELECT that goes
        // through the coordinator reports the rows it sent, conflicts included.
        Ok(i64::try_from(written.len()).unwrap_or(i64::MAX))
    }
}

/// The reason of a closed proposal from its columns: code and arguments, else (closed before
/// the arguments were kept) the code and the English sentence of then.
fn closed_because(
    code: Option<String>,
    args: Option<serde_json::Value>,
    sentence: Option<String>,
) -> Result<Option<ClosedBecause>> {
    let Some(code) = code else {
        return Ok(None);
    };
    Ok(Some(match (args, sentence) {
        (Some(args), _) => ClosedBecause::Reason(Reason::new(
            code,
            serde_json::from_value(args).map_err(anyhow::Error::from)?,
        )),
        (None, Some(sentence)) => ClosedBecause::Legacy { code, sentence },
        (None, None) => ClosedBecause::Reason(Reason::new(code, Args::new())),
    }))
}
