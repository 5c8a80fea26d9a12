//! The webhook endpoint: verify `Stripe-Signature` over the raw bytes, store the event under
//! its id, answer 2xx at once. Applying happens elsewhere (the applier, in the worker), so the
//! answer never waits on a ledger. Nothing is stored for a refused signature; a redelivered
//! event finds its id taken and is answered 2xx again.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use coinsence_api::Core;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Notify;

use crate::config::Secret;
use crate::signature;

/// Where the binary mounts the route.
pub const WEBHOOK_PATH: &str = "/v1/billing/stripe/webhook";

struct Hook {
    core: Core,
    secrets: Vec<Secret>,
    /// Wakes the applier when a new event is stored.
    stored: Arc<Notify>,
}

/// The webhook route, with its state. `stored` is notified for every newly stored event.
pub fn router(core: Core, secrets: Vec<Secret>, stored: Arc<Notify>) -> Router {
    let hook = Arc::new(Hook {
        core,
        secrets,
        stored,
    });
    Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .with_state(hook)
}

#[derive(Deserialize)]
struct Head {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

fn refuse(status: StatusCode, code: &'static str) -> Response {
    // Stripe reads the status; the code is for whoever looks at the delivery in its dashboard.
    (status, Json(json!({ "code": code }))).into_response()
}

async fn receive(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = signature::verify(header, &body, &hook.secrets, now) {
        tracing::warn!(reason = e.code(), "a webhook delivery was refused");
        return refuse(StatusCode::BAD_REQUEST, e.code());
    }
    let head: Head = match serde_json::from_slice(&body) {
        Ok(head) => head,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "event_malformed"),
    };
    if head.id.is_empty() || head.id.len() > 255 {
        return refuse(StatusCode::BAD_REQUEST, "event_malformed");
    }
    match hook
        .core
        .store_provider_event(&head.id, &head.kind, &body)
        .await
    {
        Ok(new) => {
            if new {
                hook.stored.notify_one();
            }
            (StatusCode::OK, Json(json!({ "received": true }))).into_response()
        }
        Err(e) => {
            // Stripe retries a 5xx later; nothing was stored.
            tracing::error!(event = %head.id, error = %e, "a webhook event could not be stored");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

/// How often the reconcile job compares with the provider's event list.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Applies stored events as they come (woken by the webhook) and at least every `every`, until
/// `shutdown` resolves; on each round it also asks again for payouts of cash-outs under way,
/// and daily (first on start) it reconciles with the provider's event list. The worker runs
/// this; several may run at once.
pub async fn run_applier(
    core: Core,
    stored: Arc<Notify>,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut reconciled: Option<tokio::time::Instant> = None;
    loop {
        if reconciled.is_none_or(|at| at.elapsed() >= RECONCILE_EVERY) {
            match core.reconcile_provider_events().await {
                Ok(_) => reconciled = Some(tokio::time::Instant::now()),
                Err(e) => tracing::warn!(error = %e, "reconciling provider events failed"),
            }
        }
        if let Err(e) = core.resume_cashouts().await {
            tracing::warn!(error = %e, "resuming cash-outs failed");
        }
        match core.apply_provider_events(500).await {
            Ok(done) if done.applied + done.ignored + done.failed == 500 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "applying provider events failed"),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = stored.notified() => {}
            () = tokio::time::sleep(every) => {}
        }
    }
}
