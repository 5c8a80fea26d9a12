//! The JSON HTTP API under `/v1`, plus `/healthz`, `/readyz`, `/metrics`.
//! One file per area; handlers only translate between HTTP and [`Core`] operations.

pub mod auth;
pub mod chat;
pub mod client_addr;
pub mod error;
pub mod feed;
pub mod governance;
pub mod issuance;
pub mod ledger;
pub mod market;
pub mod ops;
pub mod orgs;
pub mod projects;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use utoipa::OpenApi;

use crate::Core;

/// Request bodies above this are refused with 413 before they are parsed.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Coinsence API", description = "Community currencies and their governance."),
    paths(
        orgs::signup, orgs::login, orgs::logout, orgs::list_tokens, orgs::revoke_token, orgs::create_org, orgs::get_org, orgs::join, orgs::add_member,
        orgs::list_members, ledger::create_currency, ledger::list_currencies, ledger::list_accounts,
        ledger::pay, ledger::issue, ledger::history, ledger::verify,
        issuance::create_policy, issuance::list_policies, issuance::end_policy, issuance::list_seals,
        issuance::verify_seals,
        governance::get_rules, governance::set_rules, governance::propose, governance::list_proposals,
        governance::get_proposal, governance::vote, governance::close_due, governance::pledge,
        governance::list_pledges, governance::get_pledge, governance::pledge_summary,
        projects::create_project, projects::list_projects, projects::get_project, projects::invest,
        projects::pay_from_project,
        market::create_listing, market::list_listings, market::get_listing, market::buy, market::close_listing,
        feed::create_post, feed::list_posts, feed::get_post, feed::comment, feed::list_comments,
        chat::create_connect_code, chat::redeem_login_link,
    ),
    components(schemas(error::Problem)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub fn router(core: Core) -> Router {
    // Install the recorder before the first request is counted.
    let _ = ops::prometheus();
    let v1 = Router::new()
        .route("/signup", post(orgs::signup))
        .route("/login", post(orgs::login))
        .route("/logout", post(orgs::logout))
        .route("/tokens", get(orgs::list_tokens))
        .route("/tokens/{id}", delete(orgs::revoke_token))
        .route("/login/link", post(chat::redeem_login_link))
        .route("/openapi.json", get(ops::openapi))
        .route("/orgs", post(orgs::create_org))
        .route("/orgs/{org}", get(orgs::get_org))
        .route("/orgs/{org}/join", post(orgs::join))
        .route(
            "/orgs/{org}/members",
            post(orgs::add_member).get(orgs::list_members),
        )
        .route(
            "/orgs/{org}/currencies",
            post(ledger::create_currency).get(ledger::list_currencies),
        )
        .route("/orgs/{org}/accounts", get(ledger::list_accounts))
        .route(
            "/orgs/{org}/transfers",
            post(ledger::pay).get(ledger::history),
        )
        .route("/orgs/{org}/issuance", post(ledger::issue))
        .route("/orgs/{org}/ledger/verify", get(ledger::verify))
        .route("/orgs/{org}/ledger/seals", get(issuance::list_seals))
        .route(
            "/orgs/{org}/ledger/seals/verify",
            get(issuance::verify_seals),
        )
        .route(
            "/orgs/{org}/issuance-policies",
            post(issuance::create_policy).get(issuance::list_policies),
        )
        .route(
            "/orgs/{org}/issuance-policies/{id}",
            delete(issuance::end_policy),
        )
        .route(
            "/orgs/{org}/rules",
            get(governance::get_rules).put(governance::set_rules),
        )
        .route(
            "/orgs/{org}/proposals",
            post(governance::propose).get(governance::list_proposals),
        )
        .route("/orgs/{org}/proposals/{id}", get(governance::get_proposal))
        .route("/orgs/{org}/proposals/{id}/votes", post(governance::vote))
        .route(
            "/orgs/{org}/governance/close-due",
            post(governance::close_due),
        )
        .route(
            "/orgs/{org}/pledges",
            post(governance::pledge).get(governance::list_pledges),
        )
        .route(
            "/orgs/{org}/pledges/summary",
            get(governance::pledge_summary),
        )
        .route("/orgs/{org}/pledges/{id}", get(governance::get_pledge))
        .route(
            "/orgs/{org}/projects",
            post(projects::create_project).get(projects::list_projects),
        )
        .route("/orgs/{org}/projects/{id}", get(projects::get_project))
        .route(
            "/orgs/{org}/projects/{id}/investments",
            post(projects::invest),
        )
        .route(
            "/orgs/{org}/projects/{id}/payments",
            post(projects::pay_from_project),
        )
        .route(
            "/orgs/{org}/listings",
            post(market::create_listing).get(market::list_listings),
        )
        .route("/orgs/{org}/listings/{id}", get(market::get_listing))
        .route("/orgs/{org}/listings/{id}/purchases", post(market::buy))
        .route(
            "/orgs/{org}/listings/{id}/close",
            post(market::close_listing),
        )
        .route(
            "/orgs/{org}/posts",
            post(feed::create_post).get(feed::list_posts),
        )
        .route("/orgs/{org}/posts/{id}", get(feed::get_post))
        .route(
            "/orgs/{org}/posts/{id}/comments",
            post(feed::comment).get(feed::list_comments),
        )
        .route(
            "/orgs/{org}/chat/connect-codes",
            post(chat::create_connect_code),
        );
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(ops::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(AppState { core })
}
