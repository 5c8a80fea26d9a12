//! The org's decision rules: the default method, quorum, threshold and voting period, who may
//! propose, and the rules for particular kinds of proposal. An admin changes them directly
//! while the org is young; after that the same form opens a "change rules" proposal.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use coinsence_api::domain::governance::ActionRequest;
use coinsence_api::domain::governance::kind::ProposalKind;
use coinsence_api::domain::governance::proposals::NewProposal;
use coinsence_api::domain::governance::rules::{KindRule, Proposers, Rules};
use coinsence_api::domain::governance::tally::Method;
use serde::Deserialize;

use super::see_other;
use crate::Portal;
use crate::error::PortalError;
use crate::page::{Ctx, FormError, render, split};
use crate::session::{Admin, InOrg, Posted};

const DAY: i64 = 24 * 3600;
const METHODS: [&str; 4] = ["majority", "supermajority", "consensus", "consent"];
/// The kinds of proposal a rule of their own can be set for.
const KINDS: [&str; 12] = [
    "issue_for_pledge",
    "issue_to_account",
    "fund_project",
    "change_rules",
    "change_issuance",
    "admit_member",
    "remove_member",
    "set_role",
    "free_text",
    "change_topup_rate",
    "list_on_exchange",
    "delist_from_exchange",
];

/// A rule as a row: the kind (or the default), method, quorum and threshold in percent.
struct RuleLine {
    kind: String,
    method: String,
    quorum: String,
    threshold: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RulesForm {
    pub method: String,
    pub quorum_bp: String,
    pub threshold_bp: String,
    pub voting_period_days: String,
    pub proposers: String,
    /// One kind's own rule, added or replaced (empty: none).
    pub kind: String,
    pub kind_method: String,
    pub kind_quorum_bp: String,
}

impl RulesForm {
    fn of(rules: &Rules) -> Self {
        Self {
            method: rules.method.as_str().to_owned(),
            quorum_bp: rules.quorum_bp.to_string(),
            threshold_bp: rules.threshold_bp.to_string(),
            voting_period_days: (rules.voting_period_secs / DAY).to_string(),
            proposers: rules.proposers.as_str().to_owned(),
            kind: String::new(),
            kind_method: "majority".to_owned(),
            kind_quorum_bp: rules.quorum_bp.to_string(),
        }
    }

    /// The rules this form asks for, on top of `now` (overrides not named stay). Numbers that
    /// are none become values the domain refuses, with its sentence at the field.
    fn rules(&self, now: &Rules) -> Rules {
        let number = |s: &str| s.trim().parse::<i64>().unwrap_or(-1);
        let bp = |s: &str| i32::try_from(number(s)).unwrap_or(-1);
        let method = |s: &str| Method::try_from(s.to_owned()).unwrap_or(Method::Majority);
        let mut overrides = now.overrides.clone();
        if let Ok(kind) = ProposalKind::try_from(self.kind.clone()) {
            overrides.retain(|o| o.kind != kind);
            overrides.push(KindRule {
                kind,
                method: method(&self.kind_method),
                quorum_bp: bp(&self.kind_quorum_bp),
                threshold_bp: bp(&self.threshold_bp),
            });
        }
        Rules {
            method: method(&self.method),
            quorum_bp: bp(&self.quorum_bp),
            threshold_bp: bp(&self.threshold_bp),
            voting_period_secs: number(&self.voting_period_days).saturating_mul(DAY),
            proposers: Proposers::try_from(self.proposers.clone()).unwrap_or(Proposers::Members),
            overrides,
        }
    }
}

#[derive(Template)]
#[template(path = "governance.html")]
struct GovernancePage {
    p: Ctx,
    slug: String,
    admin: bool,
    rules: Vec<RuleLine>,
    period: String,
    proposers: String,
    methods: Vec<(&'static str, String)>,
    kinds: Vec<(&'static str, String)>,
    f: RulesForm,
    error: FormError,
}

fn percent(bp: i32) -> String {
    format!("{} %", f64::from(bp) / 100.0)
}

async fn governance_page(
    portal: &Portal,
    who: &InOrg,
    f: Option<RulesForm>,
    error: FormError,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let p = Ctx::in_org(who, "governance");
    let now = portal
        .core
        .rules(&who.member)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?;
    let line = |kind: String, method: Method, quorum: i32, threshold: i32| RuleLine {
        kind,
        method: p.t(&format!("portal-method-{method}")),
        quorum: percent(quorum),
        threshold: if method == Method::Supermajority {
            percent(threshold)
        } else {
            String::new()
        },
    };
    let mut rules = vec![line(
        p.t("portal-rules-default"),
        now.method,
        now.quorum_bp,
        now.threshold_bp,
    )];
    rules.extend(now.overrides.iter().map(|o| {
        line(
            p.t(&format!("portal-proposal-kind-{}", o.kind)),
            o.method,
            o.quorum_bp,
            o.threshold_bp,
        )
    }));
    let page = GovernancePage {
        slug: who.member.tenant.slug.as_str().to_owned(),
        admin: who.member.role.is_admin(),
        rules,
        period: p.tn(
            "portal-rules-days",
            "days",
            now.voting_period_secs.saturating_add(DAY - 1) / DAY,
        ),
        proposers: p.t(&format!("portal-proposers-{}", now.proposers)),
        methods: METHODS
            .iter()
            .map(|m| (*m, p.t(&format!("portal-method-{m}"))))
            .collect(),
        kinds: KINDS
            .iter()
            .map(|k| (*k, p.t(&format!("portal-proposal-kind-{k}"))))
            .collect(),
        f: f.unwrap_or_else(|| RulesForm::of(&now)),
        error,
        p,
    };
    render(status, &page, who.lang)
}

pub async fn page(State(portal): State<Portal>, who: InOrg) -> Result<Response, PortalError> {
    governance_page(&portal, &who, None, FormError::default(), StatusCode::OK).await
}

/// New rules: set at once where the org allows it, else proposed (and shown, to vote on).
pub async fn change(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Admin(who): Admin,
    Posted(f): Posted<RulesForm>,
) -> Result<Response, PortalError> {
    let lang = who.lang;
    let fail = |e| PortalError::new(e, lang);
    let now = portal.core.rules(&who.member).await.map_err(fail)?;
    let rules = f.rules(&now);
    let slug = who.member.tenant.slug.as_str().to_owned();
    let refused =
        match split(portal.core.set_rules(&who.member, rules.clone()).await).map_err(fail)? {
            Ok(_) => return Ok(see_other(&headers, &format!("/orgs/{slug}/governance"))),
            Err(e) if e.code() == "rules_change_by_proposal" => {
                let title = p_text(&who, "portal-rules-proposal");
                let new = NewProposal {
                    title,
                    description: String::new(),
                    closes_at: None,
                    action: ActionRequest::ChangeRules { rules },
                };
                match split(portal.core.propose(&who.member, new, None).await).map_err(fail)? {
                    Ok(view) => {
                        let to = format!("/orgs/{slug}/proposals/{}", view.id.0);
                        return Ok(see_other(&headers, &to));
                    }
                    Err(e) => e,
                }
            }
            Err(e) => e,
        };
    let status = crate::error::status(&refused);
    let mut error = FormError::from_error(&refused, lang);
    // The domain names the seconds; the form asks for days.
    if error.field == "voting_period_secs" {
        error.field = "voting_period_days".to_owned();
    }
    governance_page(&portal, &who, Some(f), error, status).await
}

fn p_text(who: &InOrg, id: &str) -> String {
    coinsence_api::i18n::message(who.lang, id, &Default::default())
}
