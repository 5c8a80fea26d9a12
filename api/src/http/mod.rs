//! The JSON HTTP API under `/v1`, plus `/healthz`, `/readyz`, `/metrics`.
//! One file per area; handlers only translate between HTTP and [`Core`] operations.

pub mod auth;
pub mod billing;
pub mod body;
pub mod cashouts;
pub mod chat;
pub mod client_addr;
pub mod error;
pub mod exchange;
pub mod exchange_rounds;
pub mod feed;
pub mod governance;
pub mod issuance;
pub mod language;
pub mod ledger;
pub mod limits;
pub mod market;
pub mod ops;
pub mod orgs;
pub mod projects;
pub mod replays;
pub mod serve;
pub mod transparency;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;

use crate::Core;
use limits::{LimitConfig, Limits};
use replays::Replays;

/// Without overload, a request may wait this long for a place (see [`limits::Admission`]).
const ADMISSION_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// The page size a list route was asked for: 1 to 200, 50 when not given.
pub(crate) fn page_limit(limit: Option<i64>) -> Result<i64, crate::error::Error> {
    let limit = limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(crate::error::Error::from(
            crate::refusal::Refusal::LimitOutOfRange {
                field: "limit",
                min: 1,
                max: 200,
            },
        ));
    }
    Ok(limit)
}

/// Request bodies above this are refused with 413 before they are parsed.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub limits: Arc<Limits>,
    pub replays: Arc<Replays>,
    /// Requests being worked on (see [`limits::Admission`]).
    pub admission: Arc<limits::Admission>,
}

/// How the router is put together.
#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    pub limits: LimitConfig,
    /// Requests worked on at once; more wait for a place.
    pub max_in_flight: usize,
    /// Under overload, how long a request waits for a place before it is shed with 503.
    pub admission_target: std::time::Duration,
    /// Whether `/metrics` is on this router (false: it is served on its own listener, see
    /// [`metrics_router`]).
    pub public_metrics: bool,
    /// Full journal replays (`ledger/verify`, `seals/verify`) at once in the process.
    pub replays: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            limits: LimitConfig::default(),
            max_in_flight: limits::max_in_flight(),
            admission_target: limits::admission_target(),
            public_metrics: true,
            replays: Replays::DEFAULT_AT_ONCE,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Coinsence API", description = "Community currencies and their governance."),
    paths(
        orgs::signup, orgs::login, orgs::logout, orgs::list_tokens, orgs::revoke_token, orgs::create_org, orgs::get_org, orgs::patch_org, orgs::get_me, orgs::patch_me, orgs::join, orgs::add_member,
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
        billing::get_terms, billing::set_terms, billing::start_topup, billing::onboarding, billing::status,
        cashouts::get_terms, cashouts::set_terms, cashouts::request, cashouts::get, cashouts::approve,
        exchange::list_listed, exchange::place_order, exchange::my_orders, exchange::cancel_order,
        exchange::quote,
        exchange_rounds::receipts, exchange_rounds::order_fills,
        transparency::org_key, transparency::tree_heads, transparency::inclusion, transparency::consistency,
    ),
    components(schemas(error::Problem)),
    modifiers(&BearerAuth, &ProblemJson),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

/// Every error answer is served as `application/problem+json` (see [`error`]); the routes'
/// annotations name only the `Problem` body, so the document's media type is set here, once.
struct ProblemJson;

impl utoipa::Modify for ProblemJson {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, response) in &mut operation.responses.responses {
                    let utoipa::openapi::RefOr::T(response) = response else {
                        continue;
                    };
                    if !status.starts_with(['4', '5']) {
                        continue;
                    }
                    if let Some(content) = response.content.shift_remove("application/json") {
                        response
                            .content
                            .insert("application/problem+json".to_owned(), content);
                    }
                }
            }
        }
    }
}

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
    router_with(core, HttpConfig::default())
}

pub fn router_with(core: Core, config: HttpConfig) -> Router {
    // Install the recorder before the first request is counted.
    let _ = ops::prometheus();
    let state = AppState {
        core,
        limits: Arc::new(Limits::new(config.limits)),
        replays: Arc::new(Replays::new(config.replays, Duration::from_secs(60))),
        admission: Arc::new(limits::Admission::new(
            config.max_in_flight,
            config.admission_target,
            ADMISSION_PATIENCE,
        )),
    };
    // The routes that hash a password or redeem a code, limited per address.
    let sign_in = Router::new()
        .route("/signup", post(orgs::signup))
        .route("/login", post(orgs::login))
        .route("/tokens", get(orgs::list_tokens))
        .route("/tokens/{id}", delete(orgs::revoke_token))
        .route("/login/link", post(chat::redeem_login_link))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::per_address,
        ));
    let v1 = Router::new()
        .merge(sign_in)
        .route("/logout", post(orgs::logout))
        .route("/openapi.json", get(ops::openapi))
        .route("/orgs", post(orgs::create_org))
        .route("/me", get(orgs::get_me).patch(orgs::patch_me))
        .route("/orgs/{org}", get(orgs::get_org).patch(orgs::patch_org))
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
        .route("/orgs/{org}/ledger/key", get(transparency::org_key))
        .route(
            "/orgs/{org}/ledger/tree-heads",
            get(transparency::tree_heads),
        )
        .route(
            "/orgs/{org}/ledger/proofs/inclusion",
            get(transparency::inclusion),
        )
        .route(
            "/orgs/{org}/ledger/proofs/consistency",
            get(transparency::consistency),
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
        )
        .route("/orgs/{org}/billing", get(billing::status))
        .route(
            "/orgs/{org}/billing/topup-terms",
            get(billing::get_terms).put(billing::set_terms),
        )
        .route("/orgs/{org}/billing/topups", post(billing::start_topup))
        .route("/orgs/{org}/billing/onboarding", post(billing::onboarding))
        .route(
            "/orgs/{org}/billing/cashout-terms",
            get(cashouts::get_terms).put(cashouts::set_terms),
        )
        .route("/orgs/{org}/billing/cashouts", post(cashouts::request))
        .route("/orgs/{org}/billing/cashouts/{id}", get(cashouts::get))
        .route(
            "/orgs/{org}/billing/cashouts/{id}/approve",
            post(cashouts::approve),
        )
        .route("/orgs/{org}/exchange/listings", get(exchange::list_listed))
        .route("/orgs/{org}/exchange/quote", get(exchange::quote))
        .route(
            "/orgs/{org}/exchange/orders",
            post(exchange::place_order).get(exchange::my_orders),
        )
        .route(
            "/orgs/{org}/exchange/orders/{id}/cancel",
            post(exchange::cancel_order),
        )
        .route(
            "/orgs/{org}/exchange/receipts",
            get(exchange_rounds::receipts),
        )
        .route(
            "/orgs/{org}/exchange/orders/{id}/fills",
            get(exchange_rounds::order_fills),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::admit,
        ));
    let mut app = Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz));
    if config.public_metrics {
        app = app.route("/metrics", get(ops::metrics));
    }
    let app = app
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed);
    with_common_layers(app).with_state(state)
}

/// What every route gets: a panic answers 500, requests are counted, bodies are limited and
/// what a handler left unread is drained (see [`body`]).
pub fn with_common_layers<S: Clone + Send + Sync + 'static>(app: Router<S>) -> Router<S> {
    app.layer(CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn(ops::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(body::finish_body))
        .layer(axum::middleware::from_fn(language::localize))
}

/// `/metrics` alone, for a listener of its own (`coinsence serve --metrics-listen`).
pub fn metrics_router() -> Router {
    let _ = ops::prometheus();
    Router::new()
        .route("/metrics", get(ops::metrics))
        .fallback(error::not_found)
}

/// A handler that panicked answers 500 like any internal error, and the connection stays.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "a handler panicked");
    error::ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong on our side; it has been logged",
    )
    .into_response()
}
