//! The hosted admin portal: server-rendered pages on axum, beside the JSON API.
//!
//! Every page reads and acts through [`Core`], the same domain operations the API and the chat
//! bots use; this crate has no SQL and no business rule of its own. Templates are askama structs
//! (compile-checked), every sentence comes from the Fluent catalogs (`portal.ftl` and the
//! refusals), and htmx (vendored, see `assets/README.md`) swaps fragments where a whole page
//! would be too much.
//!
//! Who may call what is visible where the handler takes its caller: [`session::Visitor`] (anyone,
//! with a form key), [`session::Person`] (a live session), [`session::InOrg`] (a member of the
//! org in the path) and [`session::Admin`] (an admin there). Every POST passes the `Origin`
//! check ([`session::same_origin`]) and carries the form token ([`session::Posted`]).

pub mod assets;
mod charts;
mod error;
mod page;
mod pages;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use coinsence_api::Core;
use coinsence_api::login_limits::{LimitConfig, Limits};

/// How the portal is served.
#[derive(Debug, Clone, Default)]
pub struct PortalConfig {
    /// Served over https itself: cookies get `Secure`.
    pub https: bool,
    /// A proxy in front says how it was reached (`X-Forwarded-Proto`); only then is that header
    /// believed.
    pub trust_proxy: bool,
    pub limits: LimitConfig,
}

/// What every handler gets.
#[derive(Clone)]
pub struct Portal {
    pub(crate) core: Core,
    pub(crate) config: Arc<PortalConfig>,
    pub(crate) limits: Arc<Limits>,
}

/// Who may use a route: the walls test walks this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (login, signup, assets).
    Public,
    /// A person with a session, outside any org.
    Person,
    /// A member of the org in the path.
    Member,
    /// An admin of the org in the path.
    Admin,
}

/// Every route of the portal: method, path (axum syntax) and who may use it. The router is built
/// from the same list's handlers below; a test checks that they agree.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/", Access::Public),
    ("GET", "/assets/{file}", Access::Public),
    ("GET", "/signup", Access::Public),
    ("POST", "/signup", Access::Public),
    ("GET", "/login", Access::Public),
    ("POST", "/login", Access::Public),
    ("POST", "/login/code", Access::Public),
    ("POST", "/logout", Access::Person),
    ("GET", "/me", Access::Person),
    ("POST", "/me/language", Access::Person),
    ("POST", "/me/identities/link", Access::Person),
    ("POST", "/me/identities/unlink", Access::Person),
    ("GET", "/join/{code}", Access::Public),
    ("POST", "/join/{code}", Access::Person),
    ("GET", "/orgs/{org}", Access::Member),
    ("POST", "/orgs/{org}/verify", Access::Member),
    ("GET", "/orgs/{org}/currencies", Access::Member),
    ("POST", "/orgs/{org}/currencies", Access::Admin),
    ("GET", "/orgs/{org}/issuance", Access::Admin),
    ("POST", "/orgs/{org}/issuance", Access::Admin),
    ("POST", "/orgs/{org}/issuance/{id}/end", Access::Admin),
    ("GET", "/orgs/{org}/members", Access::Admin),
    ("POST", "/orgs/{org}/invites", Access::Admin),
    ("POST", "/orgs/{org}/members/{id}/role", Access::Admin),
    ("POST", "/orgs/{org}/members/{id}/remove", Access::Admin),
    ("GET", "/orgs/{org}/rooms", Access::Admin),
    ("POST", "/orgs/{org}/rooms/code", Access::Admin),
    ("POST", "/orgs/{org}/rooms/unbind", Access::Admin),
    ("GET", "/orgs/{org}/proposals", Access::Member),
    ("POST", "/orgs/{org}/proposals", Access::Member),
    ("GET", "/orgs/{org}/proposals/{id}", Access::Member),
    ("POST", "/orgs/{org}/proposals/{id}/vote", Access::Member),
    ("GET", "/orgs/{org}/ledger", Access::Member),
    ("GET", "/orgs/{org}/ledger/journal.csv", Access::Member),
    ("GET", "/orgs/{org}/ledger/balances.csv", Access::Member),
    ("POST", "/orgs/{org}/export", Access::Admin),
    ("GET", "/orgs/{org}/governance", Access::Member),
    ("POST", "/orgs/{org}/governance", Access::Admin),
    ("GET", "/orgs/{org}/pledges", Access::Member),
    ("POST", "/orgs/{org}/pledges", Access::Member),
    ("GET", "/orgs/{org}/projects", Access::Member),
    ("GET", "/orgs/{org}/market", Access::Member),
    ("GET", "/orgs/{org}/feed", Access::Member),
    ("POST", "/orgs/{org}/feed/{id}/hide", Access::Admin),
    ("GET", "/orgs/{org}/mine", Access::Member),
];

/// The portal's routes, to be merged beside the API (`/v1`) at `/`.
pub fn router(core: Core, config: PortalConfig) -> Router {
    let limits = Arc::new(Limits::new(config.limits));
    let state = Portal {
        core,
        config: Arc::new(config),
        limits,
    };
    use pages::{auth, community, export, governance, ledger, me, org, proposals};
    Router::new()
        .route("/", get(auth::home))
        .route("/assets/{file}", get(assets::serve))
        .route("/signup", get(auth::signup_form).post(auth::signup))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/login/code", post(auth::login_with_code))
        .route("/logout", post(auth::logout))
        .route("/me", get(me::page))
        .route("/me/language", post(me::set_language))
        .route("/me/identities/link", post(me::link))
        .route("/me/identities/unlink", post(me::unlink))
        .route("/join/{code}", get(org::join_page).post(org::join))
        .route("/orgs/{org}", get(org::dashboard))
        .route("/orgs/{org}/verify", post(org::verify))
        .route(
            "/orgs/{org}/currencies",
            get(org::currencies).post(org::create_currency),
        )
        .route(
            "/orgs/{org}/issuance",
            get(org::issuance).post(org::create_policy),
        )
        .route("/orgs/{org}/issuance/{id}/end", post(org::end_policy))
        .route("/orgs/{org}/members", get(org::members))
        .route("/orgs/{org}/invites", post(org::invite))
        .route("/orgs/{org}/members/{id}/role", post(org::propose_role))
        .route(
            "/orgs/{org}/members/{id}/remove",
            post(org::propose_removal),
        )
        .route("/orgs/{org}/rooms", get(org::rooms))
        .route("/orgs/{org}/rooms/code", post(org::connect_code))
        .route("/orgs/{org}/rooms/unbind", post(org::unbind))
        .route(
            "/orgs/{org}/proposals",
            get(proposals::list).post(proposals::open),
        )
        .route("/orgs/{org}/proposals/{id}", get(proposals::detail))
        .route("/orgs/{org}/proposals/{id}/vote", post(proposals::vote))
        .route("/orgs/{org}/ledger", get(ledger::page))
        .route("/orgs/{org}/ledger/journal.csv", get(ledger::journal_csv))
        .route("/orgs/{org}/ledger/balances.csv", get(ledger::balances_csv))
        .route("/orgs/{org}/export", post(export::download))
        .route(
            "/orgs/{org}/governance",
            get(governance::page).post(governance::change),
        )
        .route(
            "/orgs/{org}/pledges",
            get(community::pledges).post(community::pledge),
        )
        .route("/orgs/{org}/projects", get(community::projects))
        .route("/orgs/{org}/market", get(community::market))
        .route("/orgs/{org}/feed", get(community::feed))
        .route("/orgs/{org}/feed/{id}/hide", post(community::hide_post))
        .route("/orgs/{org}/mine", get(community::mine))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::same_origin,
        ))
        .with_state(state)
}
