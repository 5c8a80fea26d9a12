//! Proposals: the list, one with its votes, voting, and opening a free-text one (other kinds
//! open where their change is made, when the rules want a vote).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use coinsence_api::domain::governance::ActionRequest;
use coinsence_api::domain::governance::proposals::{NewProposal, ProposalStatus, ProposalView};
use coinsence_api::domain::governance::tally::Choice;
use coinsence_api::domain::ids::ProposalId;
use serde::Deserialize;

use super::after_post;
use super::org::tally_text;
use crate::Portal;
use crate::error::PortalError;
use crate::page::{Ctx, FormError, render};
use crate::session::{InOrg, Posted};

struct Line {
    id: i64,
    title: String,
    status: String,
    tally: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProposalForm {
    pub title: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "proposals.html")]
struct ListPage {
    p: Ctx,
    slug: String,
    proposals: Vec<Line>,
    f: ProposalForm,
    error: FormError,
}

fn status_text(p: &Ctx, status: ProposalStatus) -> String {
    p.t(&format!("portal-status-{status}"))
}

async fn list_page(
    portal: &Portal,
    who: &InOrg,
    f: ProposalForm,
    error: FormError,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let p = Ctx::in_org(who, "proposals");
    let proposals = portal
        .core
        .proposals(&who.member, None, None, 100)
        .await
        .map_err(|e| PortalError::new(e, who.lang))?
        .into_iter()
        .map(|pr| Line {
            id: pr.id.0,
            status: status_text(&p, pr.status),
            tally: tally_text(&p, &pr.votes, pr.voters),
            title: pr.title,
        })
        .collect();
    let page = ListPage {
        slug: who.member.tenant.slug.as_str().to_owned(),
        proposals,
        f,
        error,
        p,
    };
    render(status, &page, who.lang)
}

pub async fn list(State(portal): State<Portal>, who: InOrg) -> Result<Response, PortalError> {
    list_page(
        &portal,
        &who,
        ProposalForm::default(),
        FormError::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn open(
    State(portal): State<Portal>,
    headers: HeaderMap,
    who: InOrg,
    Posted(f): Posted<ProposalForm>,
) -> Result<Response, PortalError> {
    let new = NewProposal {
        title: f.title.clone(),
        description: f.description.clone(),
        closes_at: None,
        action: ActionRequest::FreeText,
    };
    let opened = portal.core.propose(&who.member, new, None).await;
    let to = |view: ProposalView| proposal_path(&who, view.id.0);
    after_post(opened, &headers, who.lang, to, |e| {
        let status = crate::error::status(&e);
        let error = FormError::from_error(&e, who.lang);
        list_page(&portal, &who, f, error, status)
    })
    .await
}

fn proposal_path(who: &InOrg, id: i64) -> String {
    format!("/orgs/{}/proposals/{id}", who.member.tenant.slug.as_str())
}

#[derive(Template)]
#[template(path = "proposal.html")]
struct DetailPage {
    p: Ctx,
    slug: String,
    id: i64,
    title: String,
    description: String,
    author: String,
    status: String,
    closes: String,
    tally: String,
    my_vote: String,
    open: bool,
    error: FormError,
}

async fn detail_page(
    portal: &Portal,
    who: &InOrg,
    id: i64,
    error: FormError,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let p = Ctx::in_org(who, "proposals");
    let pr = portal
        .core
        .proposal(&who.member, ProposalId(id))
        .await
        .map_err(|e| PortalError::new(e, who.lang))?;
    let page = DetailPage {
        slug: who.member.tenant.slug.as_str().to_owned(),
        id: pr.id.0,
        status: status_text(&p, pr.status),
        closes: p.date(&pr.closes_at),
        tally: tally_text(&p, &pr.votes, pr.voters),
        my_vote: pr
            .my_vote
            .map(|c| p.t(&format!("portal-choice-{c}")))
            .unwrap_or_default(),
        open: pr.status == ProposalStatus::Open,
        title: pr.title,
        description: pr.description,
        author: pr.author_name,
        error,
        p,
    };
    render(status, &page, who.lang)
}

pub async fn detail(
    State(portal): State<Portal>,
    Path((_, id)): Path<(String, i64)>,
    who: InOrg,
) -> Result<Response, PortalError> {
    detail_page(&portal, &who, id, FormError::default(), StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VoteForm {
    pub choice: String,
}

pub async fn vote(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    who: InOrg,
    Posted(f): Posted<VoteForm>,
) -> Result<Response, PortalError> {
    let Ok(choice) = Choice::try_from(f.choice.clone()) else {
        let error = FormError {
            field: "choice".to_owned(),
            message: p_text(&who, "portal-choice-unknown"),
        };
        return detail_page(&portal, &who, id, error, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let voted = portal.core.vote(&who.member, ProposalId(id), choice).await;
    let to = |_| proposal_path(&who, id);
    after_post(voted, &headers, who.lang, to, |e| {
        let status = crate::error::status(&e);
        let error = FormError::from_error(&e, who.lang);
        detail_page(&portal, &who, id, error, status)
    })
    .await
}

fn p_text(who: &InOrg, id: &str) -> String {
    coinsence_api::i18n::message(who.lang, id, &Default::default())
}
