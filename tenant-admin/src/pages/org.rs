//! An org's pages: the dashboard, currencies, issuance policies, members and invites, rooms;
//! and joining through an invite link.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use coinsence_api::Error;
use coinsence_api::domain::governance::ActionRequest;
use coinsence_api::domain::governance::proposals::{NewProposal, ProposalStatus, ProposalView};
use coinsence_api::domain::identity::Role;
use coinsence_api::domain::ids::UserId;
use coinsence_api::domain::ledger::AccountKind;
use coinsence_api::domain::ledger::issuance::{NewIssuancePolicy, Period};
use coinsence_api::domain::ledger::ops::NewCurrency;
use coinsence_api::domain::orgs::Member;
use coinsence_api::domain::portal_journal::JournalFilter;
use coinsence_api::domain::portal_sessions::BoundRoom;
use coinsence_api::i18n::{self, Args};
use coinsence_api::refusal::Refusal;
use serde::Deserialize;

use super::ledger::{JournalRow, journal_rows};
use super::{Bare, after_post, no_form};
use crate::Portal;
use crate::error::PortalError;
use crate::page::{Ctx, FormError, render};
use crate::session::{Admin, InOrg, Person, Posted, Visitor};

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    p: Ctx,
    org_name: String,
    code: String,
}

/// `/join/{code}`: whose org the link leads to, and a button (after login).
pub async fn join_page(
    State(portal): State<Portal>,
    Path(code): Path<String>,
    visitor: Visitor,
) -> Result<Response, PortalError> {
    let lang = visitor.lang;
    let tenant = portal
        .core
        .invite_org(&code)
        .await
        .map_err(|e| PortalError::new(e, lang))?;
    let mut p = Ctx::visitor(lang, visitor.form_token);
    if let Some(secret) = &visitor.secret
        && let Ok(user) = portal.core.portal_user(secret).await
    {
        p.user = Some(user.display_name);
        p.lang = user.language.unwrap_or(lang);
    }
    let page = JoinPage {
        p,
        org_name: tenant.name,
        code,
    };
    render(StatusCode::OK, &page, lang)
}

pub async fn join(
    State(portal): State<Portal>,
    Path(code): Path<String>,
    headers: HeaderMap,
    person: Person,
    Posted(Bare {}): Posted<Bare>,
) -> Result<Response, PortalError> {
    let joined = portal.core.join_by_invite(&person.user, &code).await;
    let to = |member: Member| format!("/orgs/{}", member.tenant.slug.as_str());
    after_post(joined, &headers, person.lang, to, no_form(person.lang)).await
}

struct ProposalLine {
    id: i64,
    title: String,
    tally: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    p: Ctx,
    slug: String,
    org_name: String,
    members: i64,
    money_heading: &'static str,
    circulation: Vec<(String, String)>,
    /// Per currency: pledged, issued, redeemed, outstanding.
    pledges: Vec<[String; 5]>,
    proposals: Vec<ProposalLine>,
    journal: Vec<JournalRow>,
    seal: String,
    /// Server-drawn SVG (ours, escaped where it holds words): payments per day, balances spread.
    charts: Vec<String>,
}

#[derive(Template)]
#[template(path = "seal.html")]
struct SealBox<'a> {
    p: &'a Ctx,
    slug: &'a str,
    checked: bool,
    ok: bool,
    seals: i64,
    unsealed: i64,
    /// The person's own check of the published history (signed tree heads, each extending the
    /// one before, and their entries in the latest), as `/verify` in chat and `coinsence audit
    /// verify --url` do it; empty until "verify now".
    history: String,
    history_ok: bool,
}

/// The tally of a proposal in words.
pub fn tally_text(
    p: &Ctx,
    votes: &coinsence_api::domain::governance::tally::Counts,
    voters: i64,
) -> String {
    i18n::message(
        p.lang,
        "portal-tally",
        &Args::new()
            .count("yes", votes.yes)
            .count("no", votes.no)
            .count("abstain", votes.abstain)
            .count("block", votes.block)
            .count("voters", voters),
    )
}

/// The org at a glance: members, money, open proposals, latest entries, the seal chain.
pub async fn dashboard(State(portal): State<Portal>, who: InOrg) -> Result<Response, PortalError> {
    let lang = who.lang;
    let fail = |e| PortalError::new(e, lang);
    let core = &portal.core;
    let m = &who.member;
    let p = Ctx::in_org(&who, "dashboard");
    let members = core.members(m).await.map_err(fail)?;
    let accounts = core.accounts(m).await.map_err(fail)?;
    let sees_all = m.role.sees_all_accounts();
    let circulation = accounts
        .iter()
        .filter(|a| {
            if sees_all {
                a.account.kind == AccountKind::Issuance
            } else {
                a.account.owner_user_id == Some(m.user.id)
            }
        })
        .map(|a| {
            let minor = if sees_all {
                a.account.balance.checked_neg().unwrap_or(i64::MAX)
            } else {
                a.account.balance
            };
            (
                a.currency.code.as_str().to_owned(),
                p.amount(minor, a.currency.scale),
            )
        })
        .collect();
    let proposals = core
        .proposals(m, Some(ProposalStatus::Open), None, 20)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|pr| ProposalLine {
            id: pr.id.0,
            tally: tally_text(&p, &pr.votes, pr.voters),
            title: pr.title,
        })
        .collect();
    let pledge_totals = core.pledge_summary(m).await.map_err(fail)?;
    let pledges = pledge_totals
        .iter()
        .map(|s| {
            [
                s.currency.as_str().to_owned(),
                p.decimal(&s.pledged),
                p.decimal(&s.issued),
                p.decimal(&s.redeemed),
                p.decimal(&s.outstanding),
            ]
        })
        .collect();
    let journal = journal_rows(core, m, &p, &JournalFilter::default(), 10)
        .await
        .map_err(fail)?;
    let mut charts = Vec::new();
    if sees_all {
        let days = core.payments_per_day(m, 30).await.map_err(fail)?;
        let per_day: Vec<(String, i64)> = days
            .iter()
            .map(|d| (d.day.format("%d.%m.").to_string(), d.payments))
            .collect();
        if !per_day.is_empty() {
            charts.push(crate::charts::bars(&p.t("portal-chart-payments"), &per_day));
        }
        // How the first currency's money is spread across members.
        if let Some(first) = accounts.iter().map(|a| &a.currency).min_by_key(|c| c.id) {
            let balances: Vec<i64> = accounts
                .iter()
                .filter(|a| a.currency.id == first.id && a.account.kind == AccountKind::Member)
                .map(|a| a.account.balance)
                .collect();
            let spread: Vec<(String, i64)> = crate::charts::histogram(&balances, 8)
                .into_iter()
                .map(|(from, count)| (p.amount(from, first.scale), count))
                .collect();
            if !spread.is_empty() {
                let title = p.t1("portal-chart-spread", "currency", first.code.as_str());
                charts.push(crate::charts::bars(&title, &spread));
            }
        }
        // Money in circulation over the last 90 days, one chart per currency.
        let circulation = core.circulation_per_day(m, 90).await.map_err(fail)?;
        for a in accounts
            .iter()
            .filter(|a| a.account.kind == AccountKind::Issuance)
        {
            let code = a.currency.code.as_str();
            let days: Vec<(String, i64)> = circulation
                .iter()
                .filter(|c| c.currency == code)
                .map(|c| (c.day.format("%d.%m.").to_string(), c.minor))
                .collect();
            if !days.is_empty() {
                let title = p.t1("portal-chart-circulation", "currency", code);
                let scale = a.currency.scale;
                charts.push(crate::charts::bars_shown(&title, &days, |v| {
                    p.amount(v, scale)
                }));
            }
        }
    }
    // Pledged work per currency: pledged, issued for it, redeemed, outstanding.
    for s in &pledge_totals {
        let bars: Vec<(String, i64)> = [
            ("portal-col-pledged", &s.pledged),
            ("portal-col-issued", &s.issued),
            ("portal-col-redeemed", &s.redeemed),
            ("portal-col-outstanding", &s.outstanding),
        ]
        .into_iter()
        .map(|(id, amount)| (p.t(id), plain_minor(amount)))
        .collect();
        let title = p.t1("portal-chart-pledges", "currency", s.currency.as_str());
        charts.push(crate::charts::bars_shown(&title, &bars, |v| {
            // Back to the text it came from, in the reader's format.
            bars.iter()
                .zip([&s.pledged, &s.issued, &s.redeemed, &s.outstanding])
                .find(|((_, minor), _)| *minor == v)
                .map(|(_, text)| p.decimal(text))
                .unwrap_or_default()
        }));
    }
    let seal = seal_box(&portal, &who, &p, false).await?;
    let page = Dashboard {
        slug: m.tenant.slug.as_str().to_owned(),
        org_name: m.tenant.name.clone(),
        members: i64::try_from(members.len()).unwrap_or(i64::MAX),
        money_heading: if sees_all {
            "portal-dash-circulation"
        } else {
            "portal-dash-my-balances"
        },
        circulation,
        pledges,
        proposals,
        journal,
        seal,
        charts,
        p,
    };
    render(StatusCode::OK, &page, lang)
}

/// A decimal the domain wrote (`12.50`) as a whole number of its smallest units, for a bar's
/// height (0 if it is none).
fn plain_minor(text: &str) -> i64 {
    text.replace('.', "").parse().unwrap_or(0)
}

/// The seal chain's state; `verify`: audited now (the chain and the ledger's balances).
async fn seal_box(
    portal: &Portal,
    who: &InOrg,
    p: &Ctx,
    verify: bool,
) -> Result<String, PortalError> {
    let lang = who.lang;
    let fail = |e| PortalError::new(e, lang);
    let audit = portal
        .core
        .audit_seals(&who.member.tenant)
        .await
        .map_err(fail)?;
    let (ok, (history, history_ok)) = if verify {
        let ledger = portal.core.verify_ledger(&who.member).await.map_err(fail)?;
        (
            audit.ok && ledger.iter().all(|c| c.ok),
            history_check(portal, &who.member, lang).await,
        )
    } else {
        (audit.ok, (String::new(), true))
    };
    SealBox {
        p,
        slug: who.member.tenant.slug.as_str(),
        checked: verify,
        ok,
        seals: audit.seals,
        unsealed: audit.unsealed_entries,
        history,
        history_ok,
    }
    .render()
    .map_err(|e| {
        PortalError::new(
            coinsence_api::Error::Internal(anyhow::anyhow!("template: {e}")),
            lang,
        )
    })
}

/// The member's check of the published history over the same proofs the API serves, in a
/// sentence, and whether it checked out.
async fn history_check(portal: &Portal, member: &Member, lang: i18n::Lang) -> (String, bool) {
    use coinsence_api::domain::ledger::transparency::{CoreSource, check};

    let source = CoreSource {
        core: &portal.core,
        member,
    };
    let report = match check(&source, None, None, &[]).await {
        Ok(report) => report,
        Err(e) => {
            tracing::warn!(error = %e, "the portal's history check could not run");
            return (
                i18n::message(lang, "portal-history-failed", &Args::new()),
                false,
            );
        }
    };
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    match (&report.first_bad, &report.latest) {
        (Some(bad), _) => (
            i18n::message(
                lang,
                "portal-history-bad",
                &Args::new().count("size", bad.tree_size),
            ),
            false,
        ),
        (None, None) => (
            i18n::message(lang, "portal-history-nothing-sealed", &Args::new()),
            true,
        ),
        (None, Some(latest)) => {
            let root: String = latest.root[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let args = Args::new()
                .count("heads", count(report.heads))
                .count("entries", count(report.entries_included))
                .count("size", latest.tree_size)
                .text("root", root)
                .text("org", member.tenant.slug.as_str());
            (i18n::message(lang, "portal-history-ok", &args), true)
        }
    }
}

/// "Verify now": the seal box again, audited; htmx swaps it in, a plain form gets the page.
pub async fn verify(
    State(portal): State<Portal>,
    headers: HeaderMap,
    who: InOrg,
    Posted(Bare {}): Posted<Bare>,
) -> Result<Response, PortalError> {
    let p = Ctx::in_org(&who, "dashboard");
    let html = seal_box(&portal, &who, &p, true).await?;
    if headers.get("hx-request").is_some() {
        return Ok(Html(html).into_response());
    }
    let page = VerifyPage { p, seal: html };
    render(StatusCode::OK, &page, who.lang)
}

#[derive(Template)]
#[template(
    source = "{% extends \"base.html\" %}{% block title %}{{ p.t(\"portal-dash-seal\") }}{% endblock %}{% block content %}<h1>{{ p.t(\"portal-dash-seal\") }}</h1><section class=\"card\">{{ seal|safe }}</section>{% endblock %}",
    ext = "html"
)]
struct VerifyPage {
    p: Ctx,
    seal: String,
}

struct CurrencyLine {
    code: String,
    name: String,
    scale: String,
    credit: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CurrencyForm {
    pub code: String,
    pub name: String,
    pub scale: String,
    pub credit_limit: String,
}

#[derive(Template)]
#[template(path = "currencies.html")]
struct CurrenciesPage {
    p: Ctx,
    slug: String,
    admin: bool,
    currencies: Vec<CurrencyLine>,
    f: CurrencyForm,
    error: FormError,
}

async fn currencies_page(
    portal: &Portal,
    who: &InOrg,
    f: CurrencyForm,
    error: FormError,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let p = Ctx::in_org(who, "currencies");
    let list = portal
        .core
        .currencies(&who.member)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?;
    let currencies = list
        .into_iter()
        .map(|c| CurrencyLine {
            code: c.code.as_str().to_owned(),
            name: c.name.clone(),
            scale: c.scale.places().to_string(),
            credit: p.amount(c.default_credit_limit, c.scale),
        })
        .collect();
    let page = CurrenciesPage {
        slug: who.member.tenant.slug.as_str().to_owned(),
        admin: who.member.role.is_admin(),
        currencies,
        f,
        error,
        p,
    };
    render(status, &page, who.lang)
}

pub async fn currencies(State(portal): State<Portal>, who: InOrg) -> Result<Response, PortalError> {
    let f = CurrencyForm {
        scale: "2".to_owned(),
        ..CurrencyForm::default()
    };
    currencies_page(&portal, &who, f, FormError::default(), StatusCode::OK).await
}

pub async fn create_currency(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Admin(who): Admin,
    Posted(f): Posted<CurrencyForm>,
) -> Result<Response, PortalError> {
    // Not a number: a scale out of range, refused by the domain with its sentence.
    let scale = f.scale.trim().parse::<i64>().unwrap_or(-1);
    let credit = f.credit_limit.trim();
    let new = NewCurrency {
        code: f.code.trim().to_owned(),
        name: f.name.trim().to_owned(),
        scale,
        credit_limit: (!credit.is_empty()).then(|| credit.to_owned()),
    };
    let created = portal.core.create_currency(&who.member, new).await;
    let to = |_| org_path(&who, "currencies");
    after_post(created, &headers, who.lang, to, |e| {
        let status = crate::error::status(&e);
        let mut error = FormError::from_error(&e, who.lang);
        // The domain names a currency code `currency` wherever it is; here it is the form's
        // `code` field.
        if error.field == "currency" {
            error.field = "code".to_owned();
        }
        currencies_page(&portal, &who, f, error, status)
    })
    .await
}

/// A page of the org `who` is in.
fn org_path(who: &InOrg, page: &str) -> String {
    format!("/orgs/{}/{page}", who.member.tenant.slug.as_str())
}

struct PolicyLine {
    id: i64,
    /// What the next period pays (active policies).
    preview: String,
    currency: String,
    period: String,
    amount: String,
    status: String,
    active: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PolicyForm {
    pub currency: String,
    pub period: String,
    pub fixed_amount: String,
    pub time_zone: String,
}

#[derive(Template)]
#[template(path = "issuance.html")]
struct IssuancePage {
    p: Ctx,
    slug: String,
    policies: Vec<PolicyLine>,
    currency_codes: Vec<String>,
    f: PolicyForm,
    notice: String,
    error: FormError,
}

async fn issuance_page(
    portal: &Portal,
    who: &InOrg,
    f: PolicyForm,
    notice: String,
    error: FormError,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let fail = |e| PortalError::new(e, who.lang);
    let p = Ctx::in_org(who, "issuance");
    let coins = portal.core.coins(&who.member).await.map_err(fail)?;
    let mut policies = Vec::new();
    for pol in portal
        .core
        .issuance_policies(&who.member)
        .await
        .map_err(fail)?
    {
        // What its next period pays, computed as the run computes it.
        let preview = match coins.iter().find(|c| c.code == pol.currency) {
            Some(coin) if pol.active => {
                let next = portal
                    .core
                    .preview_issuance(&who.member, pol.id)
                    .await
                    .map_err(fail)?;
                i18n::message(
                    who.lang,
                    "portal-policy-preview",
                    &Args::new()
                        .text("date", p.date(&next.starts_at))
                        .text("issued", p.amount(next.issued_total, coin.scale))
                        .count("members", next.issued_count)
                        .text("fees", p.amount(next.demurrage_total, coin.scale))
                        .count("payers", next.demurrage_count),
                )
            }
            _ => String::new(),
        };
        policies.push(PolicyLine {
            preview,
            id: pol.id,
            currency: pol.currency.as_str().to_owned(),
            period: p.t(&format!("portal-period-{}", pol.period)),
            amount: pol.amount.unwrap_or_default(),
            status: p.t(if pol.active {
                "portal-policy-active"
            } else {
                "portal-policy-ended"
            }),
            active: pol.active,
        });
    }
    let currency_codes = coins.iter().map(|c| c.code.as_str().to_owned()).collect();
    let page = IssuancePage {
        slug: who.member.tenant.slug.as_str().to_owned(),
        policies,
        currency_codes,
        f,
        notice,
        error,
        p,
    };
    render(status, &page, who.lang)
}

pub async fn issuance(
    State(portal): State<Portal>,
    Admin(who): Admin,
) -> Result<Response, PortalError> {
    let f = PolicyForm {
        period: "monthly".to_owned(),
        time_zone: "UTC".to_owned(),
        ..PolicyForm::default()
    };
    issuance_page(
        &portal,
        &who,
        f,
        String::new(),
        FormError::default(),
        StatusCode::OK,
    )
    .await
}

/// A scheduled issuance (a fixed amount to every member each period).
pub async fn create_policy(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Admin(who): Admin,
    Posted(f): Posted<PolicyForm>,
) -> Result<Response, PortalError> {
    let period = if f.period == "weekly" {
        Period::Weekly
    } else {
        Period::Monthly
    };
    let zone = f.time_zone.trim();
    let new = NewIssuancePolicy {
        currency: f.currency.clone(),
        period,
        time_zone: (!zone.is_empty()).then(|| zone.to_owned()),
        fixed_amount: Some(f.fixed_amount.trim().to_owned()),
        top_up_to: None,
        demurrage_bp: None,
        starts_at: None,
    };
    let created = portal.core.create_issuance_policy(&who.member, new).await;
    let to = |_| org_path(&who, "issuance");
    after_post(created, &headers, who.lang, to, |e| {
        let status = crate::error::status(&e);
        let error = FormError::from_error(&e, who.lang);
        issuance_page(&portal, &who, f, String::new(), error, status)
    })
    .await
}

pub async fn end_policy(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Admin(who): Admin,
    Posted(Bare {}): Posted<Bare>,
) -> Result<Response, PortalError> {
    let ended = portal.core.end_issuance_policy(&who.member, id).await;
    let to = |_| org_path(&who, "issuance");
    after_post(ended, &headers, who.lang, to, no_form(who.lang)).await
}

struct MemberLine {
    id: i64,
    name: String,
    role: String,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    p: Ctx,
    slug: String,
    invite: String,
    members: Vec<MemberLine>,
}

async fn members_page(
    portal: &Portal,
    headers: &HeaderMap,
    who: &InOrg,
    invite: String,
) -> Result<Response, PortalError> {
    let p = Ctx::in_org(who, "members");
    let members = portal
        .core
        .members(&who.member)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?
        .into_iter()
        .map(|m| MemberLine {
            id: m.user_id.0,
            role: p.t(&format!("portal-role-{}", m.role)),
            name: m.display_name,
        })
        .collect();
    let invite = if invite.is_empty() {
        invite
    } else {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let scheme = if portal.config.https { "https" } else { "http" };
        format!("{scheme}://{host}/join/{invite}")
    };
    let page = MembersPage {
        slug: who.member.tenant.slug.as_str().to_owned(),
        invite,
        members,
        p,
    };
    render(StatusCode::OK, &page, who.lang)
}

pub async fn members(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Admin(who): Admin,
) -> Result<Response, PortalError> {
    members_page(&portal, &headers, &who, String::new()).await
}

/// A new invite link, shown once.
pub async fn invite(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Admin(who): Admin,
    Posted(Bare {}): Posted<Bare>,
) -> Result<Response, PortalError> {
    let code = portal
        .core
        .create_invite(&who.member)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?;
    members_page(&portal, &headers, &who, code.code).await
}

#[derive(Template)]
#[template(path = "rooms.html")]
struct RoomsPage {
    p: Ctx,
    slug: String,
    code: String,
    rooms: Vec<BoundRoom>,
}

async fn rooms_page(portal: &Portal, who: &InOrg, code: String) -> Result<Response, PortalError> {
    let rooms = portal
        .core
        .bound_rooms(&who.member)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?;
    let page = RoomsPage {
        p: Ctx::in_org(who, "rooms"),
        slug: who.member.tenant.slug.as_str().to_owned(),
        code,
        rooms,
    };
    render(StatusCode::OK, &page, who.lang)
}

pub async fn rooms(
    State(portal): State<Portal>,
    Admin(who): Admin,
) -> Result<Response, PortalError> {
    rooms_page(&portal, &who, String::new()).await
}

/// A connect code for `/connect` in a room, shown once.
pub async fn connect_code(
    State(portal): State<Portal>,
    Admin(who): Admin,
    Posted(Bare {}): Posted<Bare>,
) -> Result<Response, PortalError> {
    let code = portal
        .core
        .create_connect_code(&who.member)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?;
    rooms_page(&portal, &who, code.code).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnbindForm {
    pub platform: String,
    pub room_id: String,
}

pub async fn unbind(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Admin(who): Admin,
    Posted(f): Posted<UnbindForm>,
) -> Result<Response, PortalError> {
    let unbound = portal
        .core
        .unbind_room(&who.member, &f.platform, &f.room_id)
        .await;
    let to = |_| org_path(&who, "rooms");
    after_post(unbound, &headers, who.lang, to, no_form(who.lang)).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    pub role: String,
}

/// Roles change by vote: the page opens the proposal and shows it.
pub async fn propose_role(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Admin(who): Admin,
    Posted(f): Posted<RoleForm>,
) -> Result<Response, PortalError> {
    let role = match f.role.as_str() {
        "admin" => Role::Admin,
        "treasurer" => Role::Treasurer,
        _ => Role::Member,
    };
    let name = member_name(&portal, &who, id).await?;
    let title = i18n::message(
        who.lang,
        "portal-role-proposal",
        &Args::new().text("name", name).text(
            "role",
            i18n::message(who.lang, &format!("portal-role-{role}"), &Args::new()),
        ),
    );
    let action = ActionRequest::SetRole {
        user_id: UserId(id),
        role,
    };
    open_proposal(&portal, &headers, &who, title, action).await
}

/// Removing a member is decided by vote too.
pub async fn propose_removal(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Admin(who): Admin,
    Posted(Bare {}): Posted<Bare>,
) -> Result<Response, PortalError> {
    let name = member_name(&portal, &who, id).await?;
    let title = i18n::message(
        who.lang,
        "portal-removal-proposal",
        &Args::new().text("name", name),
    );
    let action = ActionRequest::RemoveMember {
        user_id: UserId(id),
    };
    open_proposal(&portal, &headers, &who, title, action).await
}

async fn member_name(portal: &Portal, who: &InOrg, id: i64) -> Result<String, PortalError> {
    portal
        .core
        .members(&who.member)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?
        .into_iter()
        .find(|m| m.user_id.0 == id)
        .map(|m| m.display_name)
        .ok_or_else(|| PortalError::new(Error::from(Refusal::MemberNotFound), who.lang))
}

async fn open_proposal(
    portal: &Portal,
    headers: &HeaderMap,
    who: &InOrg,
    title: String,
    action: ActionRequest,
) -> Result<Response, PortalError> {
    let new = NewProposal {
        title,
        description: String::new(),
        closes_at: None,
        action,
    };
    let opened = portal.core.propose(&who.member, new, None).await;
    let to = |view: ProposalView| org_path(who, &format!("proposals/{}", view.id.0));
    after_post(opened, headers, who.lang, to, no_form(who.lang)).await
}
