//! What a proposal does when it passes: checked when it opens (so a member learns at once that
//! a proposal could never run), stored with the proposal, and run once inside the transaction
//! that closes it. A refused step (the fund is short, the member left) is an `Err` that the
//! close turns into a "failed" proposal after undoing everything the action wrote.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::kind::ProposalKind;
use super::outbox::{self, EventKind, NewEvent};
use super::projects::{self, Investor};
use super::rules::Rules;
use crate::core::Core;
use crate::domain::billing::{escrow as cashouts, topups};
use crate::domain::exchange::listings::{self, ListingSpec};
use crate::domain::exchange::orders;
use crate::domain::identity::{self, Email, Role, User};
use crate::domain::ids::{
    AccountId, CurrencyId, PledgeId, ProjectId, ProposalId, TenantId, UserId,
};
use crate::domain::ledger::currencies::{coin_by_code, currency_by_code, currency_map};
use crate::domain::ledger::issuance::{self, NewIssuancePolicy, PolicySpec};
use crate::domain::ledger::queue::post_all;
use crate::domain::ledger::{
    AccountKind, AccountRef, Authority, CurrencyCode, TransferKind, TransferOrder,
    store as ledger_store,
};
use crate::domain::money::{Amount, format_minor, parse_amount};
use crate::domain::orgs::admit_in;
use crate::domain::tenancy::TenantTx;
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// What a member asks a proposal to do. Amounts are decimal text in the currency's scale.
/// (Pledges open their "issue for a pledge" proposal themselves.)
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionRequest {
    /// Issue new money to an account: give `to_account` or `to_member`.
    IssueToAccount {
        currency: String,
        to_account: Option<AccountId>,
        to_member: Option<UserId>,
        amount: String,
    },
    /// Invest from the community fund in a project (in the project's currency).
    FundProject {
        project_id: ProjectId,
        amount: String,
    },
    /// Replace the org's rules.
    ChangeRules {
        rules: Rules,
    },
    /// Set a currency's scheduled issuance, replacing its active policy from the next period.
    SetIssuancePolicy {
        policy: NewIssuancePolicy,
    },
    /// End a currency's scheduled issuance (the period under way is still paid).
    EndIssuancePolicy {
        currency: String,
    },
    /// Admit an existing user (by email) as a member.
    AdmitMember {
        email: String,
    },
    RemoveMember {
        user_id: UserId,
    },
    SetRole {
        user_id: UserId,
        role: Role,
    },
    /// Nothing runs; the decision itself is the point.
    FreeText,
    /// A new euro top-up rate: `rate_coins` whole coins for every `rate_euros` euros.
    ChangeTopupRate {
        rate_coins: i64,
        rate_euros: i64,
    },
    /// List the org's coin on the exchange (or change its limits): `trustline` is the most of
    /// each foreign currency the org may hold, in whole units; `max_out_per_round` the most of
    /// the coin that may leave per round, in its scale.
    ListOnExchange {
        currency: String,
        trustline: String,
        max_out_per_round: String,
    },
    /// Stop trading the org's coin: new orders are refused, open ones go back to their owners.
    DelistFromExchange {
        currency: String,
    },
    /// Approve a treasurer's cash-out at or above the org's threshold (opened by the cash-out).
    Cashout {
        cashout_id: i64,
    },
}

/// What a proposal will do, as checked and stored when it opened. Amounts are shown in the
/// currency's scale (`amount`) and kept exactly (`amount_minor`), which is what runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    IssueForPledge {
        pledge_id: PledgeId,
        member: UserId,
        currency: CurrencyCode,
        amount: String,
        amount_minor: i64,
    },
    IssueToAccount {
        currency: CurrencyCode,
        account_id: AccountId,
        /// The member whose account it is, if it is a member's.
        owner_user_id: Option<UserId>,
        amount: String,
        amount_minor: i64,
    },
    FundProject {
        project_id: ProjectId,
        currency: CurrencyCode,
        amount: String,
        amount_minor: i64,
    },
    ChangeRules {
        rules: Rules,
    },
    /// A currency's scheduled issuance: the new policy, or null to end it.
    ChangeIssuance {
        currency: CurrencyCode,
        policy: Option<PolicySpec>,
    },
    AdmitMember {
        user_id: UserId,
        display_name: String,
    },
    RemoveMember {
        user_id: UserId,
    },
    SetRole {
        user_id: UserId,
        role: Role,
    },
    FreeText,
    ChangeTopupRate {
        rate_coins: i64,
        rate_euros: i64,
    },
    ListOnExchange {
        listing: ListingSpec,
    },
    DelistFromExchange {
        currency: CurrencyCode,
    },
    Cashout {
        cashout_id: i64,
    },
}

impl Action {
    pub fn kind(&self) -> ProposalKind {
        match self {
            Self::IssueForPledge { .. } => ProposalKind::IssueForPledge,
            Self::IssueToAccount { .. } => ProposalKind::IssueToAccount,
            Self::FundProject { .. } => ProposalKind::FundProject,
            Self::ChangeRules { .. } => ProposalKind::ChangeRules,
            Self::ChangeIssuance { .. } => ProposalKind::ChangeIssuance,
            Self::AdmitMember { .. } => ProposalKind::AdmitMember,
            Self::RemoveMember { .. } => ProposalKind::RemoveMember,
            Self::SetRole { .. } => ProposalKind::SetRole,
            Self::FreeText => ProposalKind::FreeText,
            Self::ChangeTopupRate { .. } => ProposalKind::ChangeTopupRate,
            Self::ListOnExchange { .. } => ProposalKind::ListOnExchange,
            Self::DelistFromExchange { .. } => ProposalKind::DelistFromExchange,
            Self::Cashout { .. } => ProposalKind::Cashout,
        }
    }
}

/// Checks a requested action against the org as it is now and resolves what it names.
/// `closes_at` is when the vote would end: funding a project must still be possible then.
pub(crate) async fn prepare(
    tx: &mut TenantTx,
    tenant: TenantId,
    request: ActionRequest,
    closes_at: DateTime<Utc>,
) -> Result<Action> {
    Ok(match request {
        ActionRequest::IssueToAccount {
            currency,
            to_account,
            to_member,
            amount,
        } => {
            let currency = coin_by_code(tx, &currency).await?;
            let amount = parse_amount("amount", &amount, currency.scale)?;
            let to = match (to_account, to_member) {
                (Some(id), None) => AccountRef::Id(id),
                (None, Some(user)) => AccountRef::Member(user),
                _ => {
                    return Err(Error::from(Refusal::ExactlyOneRecipient {
                        field: "to_account",
                    }));
                }
            };
            let account = ledger_store::resolve_account(tx, to, currency.id)
                .await?
                .ok_or_else(|| Error::from(Refusal::ReceivingAccountNotFound))?;
            if account.kind == AccountKind::Issuance {
                return Err(Error::from(Refusal::NotToIssuanceAccount {
                    field: "to_account",
                }));
            }
            if account.closed {
                return Err(Error::from(Refusal::RecipientLeft {
                    field: "to_account",
                }));
            }
            Action::IssueToAccount {
                currency: currency.code,
                account_id: account.id,
                owner_user_id: account.owner_user_id,
                amount: amount.display(currency.scale),
                amount_minor: amount.minor(),
            }
        }
        ActionRequest::FundProject { project_id, amount } => {
            let project = projects::find(tx, project_id).await?;
            let currency = currency_map(tx)
                .await?
                .remove(&project.currency_id)
                .ok_or_else(|| Error::from(Refusal::CurrencyNotFound))?;
            let amount = parse_amount("amount", &amount, currency.scale)?;
            projects::shares_for(&project, amount)?;
            project.check_open(Utc::now())?;
            if closes_at >= project.deadline {
                return Err(Error::from(Refusal::ProjectClosesBeforeVote {
                    field: "project_id",
                }));
            }
            Action::FundProject {
                project_id,
                currency: currency.code,
                amount: amount.display(currency.scale),
                amount_minor: amount.minor(),
            }
        }
        ActionRequest::ChangeRules { rules } => {
            rules.validate()?;
            Action::ChangeRules { rules }
        }
        ActionRequest::SetIssuancePolicy { policy } => {
            let (_, spec) = issuance::resolve_policy(tx, &policy, Utc::now()).await?;
            Action::ChangeIssuance {
                currency: spec.currency.clone(),
                policy: Some(spec),
            }
        }
        ActionRequest::EndIssuancePolicy { currency } => {
            let currency = coin_by_code(tx, &currency).await?;
            if issuance::active_policy(tx, currency.id).await?.is_none() {
                return Err(Error::from(Refusal::NoScheduleToEnd { field: "currency" }));
            }
            Action::ChangeIssuance {
                currency: currency.code,
                policy: None,
            }
        }
        ActionRequest::AdmitMember { email } => {
            let email = Email::parse_deliverable(&email)?;
            let user = identity::find_user_by_email(tx.conn(), &email).await?;
            if identity::role_in(tx.conn(), tenant, user.id)
                .await?
                .is_some()
            {
                return Err(Error::from(Refusal::InviteeAlreadyMember {
                    field: "email",
                }));
            }
            Action::AdmitMember {
                user_id: user.id,
                display_name: user.display_name,
            }
        }
        ActionRequest::RemoveMember { user_id } => {
            current_role(tx, tenant, user_id).await?;
            Action::RemoveMember { user_id }
        }
        ActionRequest::SetRole { user_id, role } => {
            current_role(tx, tenant, user_id).await?;
            Action::SetRole { user_id, role }
        }
        ActionRequest::FreeText => Action::FreeText,
        ActionRequest::ChangeTopupRate {
            rate_coins,
            rate_euros,
        } => {
            topups::check_rate(rate_coins, rate_euros)?;
            if !topups::has_terms(tx).await? {
                return Err(Error::from(Refusal::TopupsNotSetUp));
            }
            Action::ChangeTopupRate {
                rate_coins,
                rate_euros,
            }
        }
        ActionRequest::ListOnExchange {
            currency,
            trustline,
            max_out_per_round,
        } => Action::ListOnExchange {
            listing: listings::prepare_listing(tx, &currency, &trustline, &max_out_per_round)
                .await?,
        },
        ActionRequest::DelistFromExchange { currency } => Action::DelistFromExchange {
            currency: listings::prepare_delisting(tx, tenant, &currency).await?,
        },
        ActionRequest::Cashout { cashout_id } => {
            cashouts::check_proposable(tx, cashout_id).await?;
            Action::Cashout { cashout_id }
        }
    })
}

async fn current_role(tx: &mut TenantTx, tenant: TenantId, user: UserId) -> Result<Role> {
    identity::role_in(tx.conn(), tenant, user)
        .await?
        .ok_or_else(|| Error::from(Refusal::MemberNotFound))
}

/// The proposal being executed, for keys, memos and events.
pub(crate) struct Executing<'a> {
    pub id: ProposalId,
    pub tenant: TenantId,
    pub author: UserId,
    pub title: &'a str,
    pub now: DateTime<Utc>,
}

impl Executing<'_> {
    fn key(&self, step: &str) -> String {
        format!("proposal:{}:{step}", self.id)
    }

    fn memo(&self) -> String {
        format!("proposal {}: {}", self.id, self.title)
    }

    /// A movement the vote authorised: issuance from the issuance account, anything else as a
    /// system movement within the paying account's floor.
    fn order(
        &self,
        step: &str,
        currency: CurrencyId,
        from: AccountRef,
        to: AccountRef,
        amount: i64,
        kind: TransferKind,
    ) -> Result<TransferOrder> {
        let authority = if from == AccountRef::Issuance {
            Authority::Issuer
        } else {
            Authority::System
        };
        Ok(TransferOrder {
            key: self.key(step),
            currency,
            from,
            to,
            amount: Amount::from_minor(amount)
                .map_err(|e| Error::Internal(anyhow::anyhow!("stored amount: {e}")))?,
            kind,
            memo: self.memo(),
            actor: self.author,
            authority,
            credential: None,
        })
    }
}

/// Runs a passed proposal's action inside the closing transaction. `Ok(None)`: a concurrent
/// duplicate raced in the ledger; the caller rolls back and retries.
pub(crate) async fn execute(
    tx: &mut TenantTx,
    p: &Executing<'_>,
    action: &Action,
) -> Result<Option<()>> {
    match action {
        Action::IssueForPledge {
            pledge_id, member, ..
        } => {
            let (currency, amount, description): (CurrencyId, i64, String) = sqlx::query_as(
                "SELECT currency_id, amount, description FROM pledges WHERE id = $1 FOR UPDATE",
            )
            .bind(pledge_id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| Error::from(Refusal::PledgeNotFound))?;
            still_member(tx, p.tenant, *member, Refusal::PledgerLeft).await?;
            let order = p.order(
                "execute",
                currency,
                AccountRef::Issuance,
                AccountRef::Member(*member),
                amount,
                TransferKind::Issuance,
            )?;
            let Some(transfers) = post_all(tx, &[order]).await? else {
                return Ok(None);
            };
            sqlx::query("UPDATE pledges SET status = 'approved', issued = amount WHERE id = $1")
                .bind(pledge_id)
                .execute(tx.conn())
                .await?;
            let shown = currency_map(tx)
                .await?
                .remove(&currency)
                .map(|c| (format_minor(amount, c.scale), c.code));
            outbox::emit(
                tx,
                NewEvent {
                    kind: EventKind::PledgeApproved,
                    payload: serde_json::json!({
                        "pledge_id": pledge_id,
                        "proposal_id": p.id,
                        "member": member,
                        "description": description,
                        "amount": shown.as_ref().map(|s| &s.0),
                        "currency": shown.as_ref().map(|s| &s.1),
                        "transfer_id": transfers.first().map(|t| t.id),
                    }),
                    to_rooms: false,
                    to_users: vec![*member],
                    dedup_key: format!("pledge:{pledge_id}:approved"),
                },
            )
            .await?;
        }
        Action::IssueToAccount {
            currency,
            account_id,
            owner_user_id,
            amount_minor,
            ..
        } => {
            if let Some(owner) = owner_user_id {
                still_member(tx, p.tenant, *owner, Refusal::ReceivingMemberLeft).await?;
            }
            let currency = currency_by_code(tx, currency.as_str()).await?;
            let order = p.order(
                "execute",
                currency.id,
                AccountRef::Issuance,
                AccountRef::Id(*account_id),
                *amount_minor,
                TransferKind::Issuance,
            )?;
            if post_all(tx, &[order]).await?.is_none() {
                return Ok(None);
            }
        }
        Action::FundProject {
            project_id,
            amount_minor,
            ..
        } => {
            let project = projects::lock(tx, *project_id).await?;
            project.check_open(p.now)?;
            let amount = Amount::from_minor(*amount_minor)
                .map_err(|e| Error::Internal(anyhow::anyhow!("stored amount: {e}")))?;
            let invested = projects::invest_in(
                tx,
                &project,
                Investor::Fund,
                amount,
                (p.key("execute"), p.key("shares")),
                p.author,
                Some(p.id),
            )
            .await?;
            if invested.is_none() {
                return Ok(None);
            }
        }
        Action::ChangeRules { rules } => super::rules::store(tx, rules).await?,
        Action::ChangeIssuance { currency, policy } => {
            let coin = coin_by_code(tx, currency.as_str()).await?;
            let ended = issuance::end_active_policy(tx, coin.id, p.now).await?;
            match policy {
                Some(spec) => {
                    issuance::insert_policy(tx, coin.id, spec, p.now, Some(p.author)).await?;
                }
                None if ended.is_none() => {
                    return Err(Error::from(Refusal::ScheduleGone));
                }
                None => {}
            }
        }
        Action::AdmitMember { user_id, .. } => {
            if identity::role_in(tx.conn(), p.tenant, *user_id)
                .await?
                .is_some()
            {
                return Err(Error::from(Refusal::AlreadyMember));
            }
            let user: User = sqlx::query_as(
                "SELECT id, email, display_name, language FROM control.users WHERE id = $1",
            )
            .bind(user_id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| Error::from(Refusal::UserGone))?;
            admit_in(tx, p.tenant, &user, Role::Member).await?;
        }
        Action::RemoveMember { user_id } => {
            let role = lock_membership(tx, p.tenant, *user_id).await?;
            if role == Role::Owner {
                keep_an_owner(tx, p.tenant).await?;
            }
            sqlx::query("DELETE FROM control.memberships WHERE tenant_id = $1 AND user_id = $2")
                .bind(p.tenant)
                .bind(user_id)
                .execute(tx.conn())
                .await?;
            // Their accounts keep what is in them but take no new money.
            ledger_store::close_member(tx, *user_id).await?;
        }
        Action::SetRole { user_id, role } => {
            let current = lock_membership(tx, p.tenant, *user_id).await?;
            if current == Role::Owner && *role != Role::Owner {
                keep_an_owner(tx, p.tenant).await?;
            }
            sqlx::query(
                "UPDATE control.memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(p.tenant)
            .bind(user_id)
            .bind(role.as_str())
            .execute(tx.conn())
            .await?;
        }
        Action::FreeText => {}
        Action::ChangeTopupRate {
            rate_coins,
            rate_euros,
        } => topups::set_rate(tx, *rate_coins, *rate_euros).await?,
        Action::ListOnExchange { listing } => {
            listings::list(tx, p.tenant, listing, p.id, p.now).await?;
        }
        Action::DelistFromExchange { currency } => {
            listings::delist(tx, p.tenant, currency, p.now).await?;
            // This org's open orders in it go back now; other orgs' at their pair's next round.
            if orders::return_open_in(tx, currency, p.now).await?.is_none() {
                return Ok(None);
            }
        }
        // The coins go into escrow with the close; the worker asks for the payout.
        Action::Cashout { cashout_id } => {
            if cashouts::escrow(tx, *cashout_id, None).await?.is_none() {
                return Ok(None);
            }
        }
    }
    Ok(Some(()))
}

/// Fails the action when the member it pays has left (the membership row is held until commit,
/// so a removal cannot slip in between).
async fn still_member(
    tx: &mut TenantTx,
    tenant: TenantId,
    user: UserId,
    why: Refusal,
) -> Result<()> {
    let found: Option<(i64,)> = sqlx::query_as(
        "SELECT 1::bigint FROM control.memberships WHERE tenant_id = $1 AND user_id = $2 FOR SHARE",
    )
    .bind(tenant)
    .bind(user)
    .fetch_optional(tx.conn())
    .await?;
    found.map(|_| ()).ok_or(Error::from(why))
}

async fn lock_membership(tx: &mut TenantTx, tenant: TenantId, user: UserId) -> Result<Role> {
    let role: Option<(String,)> = sqlx::query_as(
        "SELECT role FROM control.memberships WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(tenant)
    .bind(user)
    .fetch_optional(tx.conn())
    .await?;
    let (role,) = role.ok_or_else(|| Error::from(Refusal::NoLongerMember))?;
    Role::try_from(role)
}

/// An org always keeps an owner: the owners' rows are locked, so two proposals demoting the
/// last two owners at once cannot both pass this check.
async fn keep_an_owner(tx: &mut TenantTx, tenant: TenantId) -> Result<()> {
    let owners: Vec<(i64,)> =
        sqlx::query_as("SELECT user_id FROM control.memberships WHERE tenant_id = $1 AND role = 'owner' ORDER BY user_id FOR UPDATE")
            .bind(tenant)
            .fetch_all(tx.conn())
            .await?;
    if owners.len() <= 1 {
        return Err(Error::from(Refusal::LastOwner));
    }
    Ok(())
}

impl Core {
    /// After a proposal that removed someone (or changed their role) closed: payments must not
    /// take them from memory as they were (see [`crate::domain::orgs::PayerMemory`]).
    pub(crate) fn forget_payers_of(&self, tenant: TenantId, action: &Action) {
        if let Action::RemoveMember { user_id } | Action::SetRole { user_id, .. } = action {
            self.payers.forget_member(tenant, *user_id);
        }
    }
}
