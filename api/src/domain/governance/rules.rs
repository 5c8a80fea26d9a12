//! An org's decision rules. Every org starts with the defaults (migration 0002 inserts them):
//! majority, a 50 % quorum, a week to vote, every member may propose. After that, rules change
//! only through a passed "change rules" proposal, except that admins may set them directly while
//! the org has fewer than 3 members, so that a new org can start the way it wants.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::kind::ProposalKind;
use super::tally::{DecisionRule, Method};
use crate::core::Core;
use crate::domain::orgs::Member;
use crate::domain::tenancy::TenantTx;
use crate::domain::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

text_enum!(
    /// Who may open proposals (pledges are open to every member: they issue only to the
    /// pledger, and only with the community's approval).
    Proposers {
        Members => "members",
        Admins => "admins",
    }
);

/// Below this many members, admins may set the rules directly.
pub const DIRECT_RULES_BELOW: i64 = 3;
const VOTING_PERIOD_SECS: std::ops::RangeInclusive<i64> = 60..=90 * 24 * 3600;

fn default_threshold() -> i32 {
    6667
}

/// The rules: a default decision rule, overrides per proposal kind, the voting period and who
/// may propose. The same shape is read, set, and carried by a "change rules" proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub method: Method,
    /// Share of the eligible voters who must vote, in basis points (0–10000).
    #[schema(example = 5000)]
    pub quorum_bp: i32,
    /// For supermajority: the share of yes among yes, no and block needed, in basis points
    /// (5001–10000, default 6667).
    #[serde(default = "default_threshold")]
    #[schema(example = 6667)]
    pub threshold_bp: i32,
    /// How long a proposal stays open (60 seconds to 90 days).
    #[schema(example = 604800)]
    pub voting_period_secs: i64,
    pub proposers: Proposers,
    /// Decision rules for particular kinds of proposal, instead of the default.
    #[serde(default)]
    pub overrides: Vec<KindRule>,
}

/// A decision rule for one kind of proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    pub kind: ProposalKind,
    pub method: Method,
    pub quorum_bp: i32,
    #[serde(default = "default_threshold")]
    pub threshold_bp: i32,
}

fn check_rule(quorum_bp: i32, threshold_bp: i32) -> Result<()> {
    if !(0..=10_000).contains(&quorum_bp) {
        return Err(Error::from(Refusal::BasisPointsOutOfRange {
            field: "quorum_bp",
            min: 0,
            max: 10_000,
        }));
    }
    if !(5_001..=10_000).contains(&threshold_bp) {
        return Err(Error::from(Refusal::BasisPointsOutOfRange {
            field: "threshold_bp",
            min: 5_001,
            max: 10_000,
        }));
    }
    Ok(())
}

impl Rules {
    pub fn validate(&self) -> Result<()> {
        check_rule(self.quorum_bp, self.threshold_bp)?;
        if !VOTING_PERIOD_SECS.contains(&self.voting_period_secs) {
            return Err(Error::from(Refusal::VotingPeriodOutOfRange {
                field: "voting_period_secs",
            }));
        }
        for (i, o) in self.overrides.iter().enumerate() {
            check_rule(o.quorum_bp, o.threshold_bp)?;
            if self.overrides[..i]
                .iter()
                .any(|earlier| earlier.kind == o.kind)
            {
                return Err(Error::from(Refusal::DuplicateRuleOverride {
                    field: "overrides",
                }));
            }
        }
        Ok(())
    }

    /// The decision rule for a kind of proposal.
    pub fn rule_for(&self, kind: ProposalKind) -> DecisionRule {
        self.overrides.iter().find(|o| o.kind == kind).map_or(
            DecisionRule {
                method: self.method,
                quorum_bp: self.quorum_bp,
                threshold_bp: self.threshold_bp,
            },
            |o| DecisionRule {
                method: o.method,
                quorum_bp: o.quorum_bp,
                threshold_bp: o.threshold_bp,
            },
        )
    }
}

/// The org's rules, read inside a transaction.
pub(crate) async fn load(tx: &mut TenantTx) -> Result<Rules> {
    let (method, quorum_bp, threshold_bp, voting_period_secs, proposers): (
        String,
        i32,
        i32,
        i32,
        String,
    ) = sqlx::query_as(
        "SELECT method, quorum_bp, threshold_bp, voting_period_secs, proposers FROM rules",
    )
    .fetch_one(tx.conn())
    .await?;
    let overrides: Vec<(String, String, i32, i32)> =
        sqlx::query_as("SELECT proposal_kind, method, quorum_bp, threshold_bp FROM rule_overrides ORDER BY proposal_kind")
            .fetch_all(tx.conn())
            .await?;
    Ok(Rules {
        method: Method::try_from(method)?,
        quorum_bp,
        threshold_bp,
        voting_period_secs: i64::from(voting_period_secs),
        proposers: Proposers::try_from(proposers)?,
        overrides: overrides
            .into_iter()
            .map(|(kind, method, quorum_bp, threshold_bp)| {
                Ok(KindRule {
                    kind: ProposalKind::try_from(kind)?,
                    method: Method::try_from(method)?,
                    quorum_bp,
                    threshold_bp,
                })
            })
            .collect::<Result<_>>()?,
    })
}

/// Replaces the org's rules (validated before) inside a transaction.
pub(crate) async fn store(tx: &mut TenantTx, rules: &Rules) -> Result<()> {
    let period = i32::try_from(rules.voting_period_secs).map_err(|_| {
        Error::from(Refusal::VotingPeriodOutOfRange {
            field: "voting_period_secs",
        })
    })?;
    sqlx::query(
        "UPDATE rules SET method = $1, quorum_bp = $2, threshold_bp = $3, voting_period_secs = $4,
                          proposers = $5, updated_at = now()",
    )
    .bind(rules.method.as_str())
    .bind(rules.quorum_bp)
    .bind(rules.threshold_bp)
    .bind(period)
    .bind(rules.proposers.as_str())
    .execute(tx.conn())
    .await?;
    sqlx::query("DELETE FROM rule_overrides")
        .execute(tx.conn())
        .await?;
    let kinds: Vec<&str> = rules.overrides.iter().map(|o| o.kind.as_str()).collect();
    let methods: Vec<&str> = rules.overrides.iter().map(|o| o.method.as_str()).collect();
    let quorums: Vec<i32> = rules.overrides.iter().map(|o| o.quorum_bp).collect();
    let thresholds: Vec<i32> = rules.overrides.iter().map(|o| o.threshold_bp).collect();
    sqlx::query(
        "INSERT INTO rule_overrides (proposal_kind, method, quorum_bp, threshold_bp)
         SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])",
    )
    .bind(&kinds)
    .bind(&methods)
    .bind(&quorums)
    .bind(&thresholds)
    .execute(tx.conn())
    .await?;
    Ok(())
}

impl Core {
    pub async fn rules(&self, member: &Member) -> Result<Rules> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        load(&mut tx).await
    }

    /// An admin sets the rules directly, which only a young org (fewer than 3 members) allows.
    pub async fn set_rules(&self, admin: &Member, rules: Rules) -> Result<Rules> {
        admin.require_admin()?;
        rules.validate()?;
        let mut tx = TenantTx::begin(&self.pool, &admin.schema()).await?;
        let (members,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM control.memberships WHERE tenant_id = $1")
                .bind(admin.tenant.id)
                .fetch_one(tx.conn())
                .await?;
        if members >= DIRECT_RULES_BELOW {
            return Err(Error::from(Refusal::RulesChangeByProposal { members: 3 }));
        }
        store(&mut tx, &rules).await?;
        let stored = load(&mut tx).await?;
        tx.commit().await?;
        Ok(stored)
    }
}
