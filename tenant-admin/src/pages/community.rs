//! What the community does besides paying: pledges of work (a pledge opens the proposal that
//! approves it), projects, the market and the feed; and a member's own view of all of it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use coinsence_api::domain::governance::pledges::{NewPledge, PledgeView};
use coinsence_api::domain::ids::PostId;
use coinsence_api::domain::ledger::AccountKind;
use coinsence_api::domain::portal_journal::JournalFilter;
use serde::Deserialize;

use super::ledger::{JournalRow, journal_rows};
use super::{Bare, after_post, no_form};
use crate::Portal;
use crate::error::PortalError;
use crate::page::{Ctx, FormError, render};
use crate::session::{Admin, InOrg, Posted};

/// How many of each a page shows (the newest).
const SHOWN: i64 = 100;

struct PledgeLine {
    id: i64,
    proposal: i64,
    member: String,
    amount: String,
    work: String,
    status: String,
    issued: String,
    redeemed: String,
    outstanding: String,
}

fn pledge_line(p: &Ctx, v: PledgeView) -> PledgeLine {
    let with_code = |amount: &str| format!("{} {}", p.decimal(amount), v.currency.as_str());
    PledgeLine {
        id: v.id.0,
        proposal: v.proposal_id.0,
        member: v.member_name.clone(),
        amount: with_code(&v.amount),
        work: v.description.clone(),
        status: p.t(&format!("portal-pledge-{}", v.status)),
        issued: with_code(&v.issued),
        redeemed: with_code(&v.redeemed),
        outstanding: with_code(&v.outstanding),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PledgeForm {
    pub currency: String,
    pub amount: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "pledges.html")]
struct PledgesPage {
    p: Ctx,
    slug: String,
    pledges: Vec<PledgeLine>,
    currency_codes: Vec<String>,
    f: PledgeForm,
    error: FormError,
}

async fn pledges_page(
    portal: &Portal,
    who: &InOrg,
    f: PledgeForm,
    error: FormError,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let fail = |e| PortalError::new(e, who.lang);
    let p = Ctx::in_org(who, "pledges");
    let core = &portal.core;
    let pledges = core
        .pledges(&who.member, None, SHOWN)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|v| pledge_line(&p, v))
        .collect();
    let currency_codes = core
        .coins(&who.member)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|c| c.code.as_str().to_owned())
        .collect();
    let page = PledgesPage {
        slug: who.member.tenant.slug.as_str().to_owned(),
        pledges,
        currency_codes,
        f,
        error,
        p,
    };
    render(status, &page, who.lang)
}

pub async fn pledges(State(portal): State<Portal>, who: InOrg) -> Result<Response, PortalError> {
    let f = PledgeForm::default();
    pledges_page(&portal, &who, f, FormError::default(), StatusCode::OK).await
}

/// A pledge of work: it opens the proposal that approves it, shown to vote on.
pub async fn pledge(
    State(portal): State<Portal>,
    headers: HeaderMap,
    who: InOrg,
    Posted(f): Posted<PledgeForm>,
) -> Result<Response, PortalError> {
    let new = NewPledge {
        currency: f.currency.trim().to_owned(),
        amount: f.amount.trim().to_owned(),
        description: f.description.trim().to_owned(),
        closes_at: None,
    };
    let pledged = portal.core.pledge(&who.member, new, None).await;
    let slug = who.member.tenant.slug.as_str().to_owned();
    let to = |v: PledgeView| format!("/orgs/{slug}/proposals/{}", v.proposal_id.0);
    after_post(pledged, &headers, who.lang, to, |e| {
        let status = crate::error::status(&e);
        let error = FormError::from_error(&e, who.lang);
        pledges_page(&portal, &who, f, error, status)
    })
    .await
}

/// One line of a simple list: a title, who, an amount, a state and a note.
struct Line {
    title: String,
    who: String,
    amount: String,
    status: String,
    note: String,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    p: Ctx,
    heading: &'static str,
    empty: &'static str,
    /// Column headings (catalog ids): title, who, amount, state, note.
    columns: [&'static str; 5],
    lines: Vec<Line>,
}

pub async fn projects(State(portal): State<Portal>, who: InOrg) -> Result<Response, PortalError> {
    let p = Ctx::in_org(&who, "projects");
    let lines = portal
        .core
        .projects(&who.member, None, SHOWN)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?
        .into_iter()
        .map(|v| Line {
            amount: format!(
                "{} / {} {}",
                p.decimal(&v.raised),
                p.decimal(&v.goal),
                v.currency.as_str()
            ),
            status: p.t(&format!("portal-project-{}", v.status)),
            note: p.tn("portal-project-investors", "count", v.investors),
            who: v.owner_name,
            title: v.title,
        })
        .collect();
    let page = ListPage {
        heading: "portal-nav-projects",
        empty: "portal-no-projects",
        columns: [
            "portal-col-title",
            "portal-col-owner",
            "portal-col-raised-goal",
            "portal-col-status",
            "portal-col-investors",
        ],
        lines,
        p,
    };
    render(StatusCode::OK, &page, who.lang)
}

pub async fn market(State(portal): State<Portal>, who: InOrg) -> Result<Response, PortalError> {
    let p = Ctx::in_org(&who, "market");
    let lines = portal
        .core
        .listings(&who.member, None, None, SHOWN)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?
        .into_iter()
        .map(|v| Line {
            amount: format!("{} {}", p.decimal(&v.price), v.currency.as_str()),
            status: p.t(&format!("portal-listing-{}", v.status)),
            note: p.tn("portal-listing-purchases", "count", v.purchases),
            who: v.owner_name,
            title: v.title,
        })
        .collect();
    let page = ListPage {
        heading: "portal-nav-market",
        empty: "portal-no-listings",
        columns: [
            "portal-col-title",
            "portal-col-owner",
            "portal-col-price",
            "portal-col-status",
            "portal-col-purchases",
        ],
        lines,
        p,
    };
    render(StatusCode::OK, &page, who.lang)
}

struct PostLine {
    id: i64,
    author: String,
    date: String,
    body: String,
    comments: String,
}

#[derive(Template)]
#[template(path = "feed.html")]
struct FeedPage {
    p: Ctx,
    slug: String,
    /// Moderators (admins) may hide a post.
    moderator: bool,
    posts: Vec<PostLine>,
}

pub async fn feed(State(portal): State<Portal>, who: InOrg) -> Result<Response, PortalError> {
    let p = Ctx::in_org(&who, "feed");
    let posts = portal
        .core
        .feed(&who.member, None, SHOWN)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?
        .into_iter()
        .map(|v| PostLine {
            id: v.id.0,
            date: p.date(&v.created_at),
            comments: p.tn("portal-post-comments", "count", v.comments),
            author: v.author_name,
            body: v.body,
        })
        .collect();
    let page = FeedPage {
        slug: who.member.tenant.slug.as_str().to_owned(),
        moderator: who.member.role.is_admin(),
        posts,
        p,
    };
    render(StatusCode::OK, &page, who.lang)
}

/// A moderator hides a post from the feed (everywhere: chat and portal).
pub async fn hide_post(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Admin(who): Admin,
    Posted(Bare {}): Posted<Bare>,
) -> Result<Response, PortalError> {
    let hidden = portal.core.hide_post(&who.member, PostId(id)).await;
    let slug = who.member.tenant.slug.as_str().to_owned();
    let to = |_| format!("/orgs/{slug}/feed");
    after_post(hidden, &headers, who.lang, to, no_form(who.lang)).await
}

/// A vote of the member's: the proposal, their choice, where it stands.
struct VoteLine {
    id: i64,
    title: String,
    choice: String,
    status: String,
}

#[derive(Template)]
#[template(path = "mine.html")]
struct MinePage {
    p: Ctx,
    slug: String,
    balances: Vec<(String, String)>,
    journal: Vec<JournalRow>,
    pledges: Vec<PledgeLine>,
    votes: Vec<VoteLine>,
    projects: Vec<Line>,
}

/// A member's own view: their balances, history, pledges, votes and projects (what the chat
/// shows, with more room), whatever their role.
pub async fn mine(State(portal): State<Portal>, who: InOrg) -> Result<Response, PortalError> {
    let fail = |e| PortalError::new(e, who.lang);
    let core = &portal.core;
    let m = &who.member;
    let me = m.user.id;
    let p = Ctx::in_org(&who, "mine");
    let balances = core
        .accounts(m)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|a| a.account.kind == AccountKind::Member && a.account.owner_user_id == Some(me))
        .map(|a| {
            (
                a.currency.code.as_str().to_owned(),
                p.amount(a.account.balance, a.currency.scale),
            )
        })
        .collect();
    let mine = JournalFilter {
        mine: true,
        ..JournalFilter::default()
    };
    let journal = journal_rows(core, m, &p, &mine, 20).await.map_err(fail)?;
    let pledges = core
        .pledges(m, None, 200)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|v| v.user_id == me)
        .map(|v| pledge_line(&p, v))
        .collect();
    let votes = core
        .proposals(m, None, None, 200)
        .await
        .map_err(fail)?
        .into_iter()
        .filter_map(|v| {
            let choice = v.my_vote?;
            Some(VoteLine {
                id: v.id.0,
                choice: p.t(&format!("portal-choice-{choice}")),
                status: p.t(&format!("portal-status-{}", v.status)),
                title: v.title,
            })
        })
        .collect();
    let projects = core
        .projects(m, None, 200)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|v| v.owner_user_id == me)
        .map(|v| Line {
            amount: format!(
                "{} / {} {}",
                p.decimal(&v.raised),
                p.decimal(&v.goal),
                v.currency.as_str()
            ),
            status: p.t(&format!("portal-project-{}", v.status)),
            note: p.tn("portal-project-investors", "count", v.investors),
            who: v.owner_name,
            title: v.title,
        })
        .collect();
    let page = MinePage {
        slug: m.tenant.slug.as_str().to_owned(),
        balances,
        journal,
        pledges,
        votes,
        projects,
        p,
    };
    render(StatusCode::OK, &page, who.lang)
}
