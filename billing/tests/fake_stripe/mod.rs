//! A fake Stripe for the tests: an axum server answering the requests async-stripe sends
//! (`POST /v1/checkout/sessions`, `/v1/accounts`, `/v1/account_links`) with the shapes the
//! pinned async-stripe parses, replaying the first answer for a repeated idempotency key as
//! Stripe does, and recording every request (headers we care about and the form). It also
//! writes events and delivers them to a webhook signed the real way. Payouts
//! (`POST /v1/payouts`) are created on the connected account named by `Stripe-Account`, and
//! `GET /v1/events` lists the events the fake "published" (newest first, `ending_before`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use coinsence_billing::Secret;
use coinsence_billing::signature::sign;
use serde_json::{Value, json};

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The `Stripe-Account` header: the connected account it acts on.
    pub account: Option<String>,
    pub idempotency_key: Option<String>,
    pub form: HashMap<String, String>,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    /// First answers by (account, idempotency key).
    answers: HashMap<(Option<String>, String), Value>,
    sessions: HashMap<String, Value>,
    /// Payouts created (not replays), by id.
    payouts: Vec<Value>,
    /// Events as Stripe's event list has them, oldest first.
    published: Vec<Value>,
    next: u64,
    /// Answer every request with this status and a Stripe error body (an outage).
    fail_with: Option<u16>,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl FakeStripe {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(answer).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    pub fn fail_with(&self, status: Option<u16>) {
        self.inner.lock().unwrap().fail_with = status;
    }

    /// The session as Stripe would now show it, with `payment_status` (and its payment intent,
    /// `pi_<session>`).
    pub fn session(&self, id: &str, payment_status: &str) -> Value {
        let mut session = self.inner.lock().unwrap().sessions[id].clone();
        session["payment_status"] = json!(payment_status);
        session["status"] = json!("complete");
        session["payment_intent"] = json!(format!("pi_{id}"));
        session
    }

    /// Payouts the fake created (a replayed idempotency key creates none).
    pub fn payouts(&self) -> Vec<Value> {
        self.inner.lock().unwrap().payouts.clone()
    }

    /// A payout as Stripe would now show it, with `status`.
    pub fn payout(&self, id: &str, status: &str) -> Value {
        let inner = self.inner.lock().unwrap();
        let mut payout = inner
            .payouts
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap();
        payout["status"] = json!(status);
        if status == "failed" {
            payout["failure_code"] = json!("account_closed");
            payout["failure_message"] = json!("The bank account has been closed.");
        }
        payout
    }

    /// The charge of a top-up's session (`ch_<session>`), refunded `refunded` cents so far.
    pub fn refunded_charge(&self, session: &str, amount: i64, refunded: i64) -> Value {
        json!({
            "id": format!("ch_{session}"),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": refunded,
            "captured": true,
            "currency": "eur",
            "paid": true,
            "refunded": refunded == amount,
            "payment_intent": format!("pi_{session}"),
            "status": "succeeded",
            "metadata": {},
        })
    }

    /// A closed dispute over a top-up's session's charge.
    pub fn dispute(&self, id: &str, session: &str, amount: i64, status: &str) -> Value {
        json!({
            "id": id,
            "object": "dispute",
            "amount": amount,
            "charge": format!("ch_{session}"),
            "currency": "eur",
            "payment_intent": format!("pi_{session}"),
            "reason": "fraudulent",
            "status": status,
            "is_charge_refundable": false,
            "livemode": false,
            "created": now(),
            "metadata": {},
        })
    }

    /// Puts an event into Stripe's event list (whether or not the webhook ever sees it).
    pub fn publish(&self, event: &Value) {
        self.inner.lock().unwrap().published.push(event.clone());
    }

    /// An event around `object`, from the connected account `account`.
    pub fn event(&self, id: &str, kind: &str, account: Option<&str>, object: Value) -> Value {
        json!({
            "id": id,
            "object": "event",
            "api_version": "2025-09-30.clover",
            "created": now(),
            "type": kind,
            "account": account,
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "data": { "object": object },
        })
    }

    /// An `account.updated` event for `account`.
    pub fn account_updated(&self, id: &str, account: &str, enabled: bool) -> Value {
        self.event(
            id,
            "account.updated",
            Some(account),
            json!({
                "id": account,
                "object": "account",
                "type": "express",
                "charges_enabled": enabled,
                "payouts_enabled": enabled,
                "requirements": { "currently_due": if enabled { json!([]) } else { json!(["external_account"]) } },
            }),
        )
    }
}

/// Posts `body` to the webhook at `url` with `header` as its `Stripe-Signature`.
pub async fn post(url: &str, header: &str, body: &[u8]) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("stripe-signature", header)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Delivers an event signed now under `secret`, as Stripe does.
pub async fn deliver(url: &str, secret: &Secret, event: &Value) -> u16 {
    let body = serde_json::to_vec(event).unwrap();
    post(url, &sign(&[secret], now(), &body), &body).await
}

async fn answer(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        account: header("stripe-account"),
        idempotency_key: header("idempotency-key"),
        form: form(&body),
    };
    let mut inner = inner.lock().unwrap();
    inner.requests.push(recorded.clone());
    if let Some(status) = inner.fail_with {
        let body = json!({ "error": { "type": "api_error", "message": "the fake is down" } });
        return (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    }
    if header("authorization").is_none_or(|a| !a.starts_with("Bearer sk_")) {
        let body = json!({ "error": { "type": "invalid_request_error", "message": "no key" } });
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let replay_key = recorded
        .idempotency_key
        .clone()
        .map(|k| (recorded.account.clone(), k));
    if let Some(key) = &replay_key
        && let Some(first) = inner.answers.get(key)
    {
        return axum::Json(first.clone()).into_response();
    }
    inner.next += 1;
    let n = inner.next;
    let f = &recorded.form;
    let meta: serde_json::Map<String, Value> = f
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_owned(), json!(v)))
        })
        .collect();
    if method == Method::GET && recorded.path == "/v1/events" {
        let query: HashMap<String, String> =
            uri.query().map(|q| form(q.as_bytes())).unwrap_or_default();
        let limit: usize = query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(10);
        // Oldest first in storage; Stripe lists newest first.
        let newer: Vec<Value> = match query.get("ending_before") {
            Some(cursor) => match inner
                .published
                .iter()
                .position(|e| e["id"] == cursor.as_str())
            {
                Some(at) => inner.published[at + 1..].to_vec(),
                None => Vec::new(),
            },
            None => inner.published.clone(),
        };
        // `ending_before`: the page right after the cursor (the oldest of the newer ones).
        let (page, has_more) = if query.contains_key("ending_before") {
            let page: Vec<Value> = newer.iter().take(limit).cloned().collect();
            (page, newer.len() > limit)
        } else {
            let skip = newer.len().saturating_sub(limit);
            (newer[skip..].to_vec(), skip > 0)
        };
        let data: Vec<Value> = page.into_iter().rev().collect();
        return axum::Json(json!({
            "object": "list",
            "data": data,
            "has_more": has_more,
            "url": "/v1/events",
        }))
        .into_response();
    }
    let answer = match recorded.path.as_str() {
        "/v1/checkout/sessions" => {
            let id = format!("cs_test_fake{n:06}");
            let amount: i64 = f["line_items[0][price_data][unit_amount]"].parse().unwrap();
            let session = json!({
                "id": id,
                "object": "checkout.session",
                "amount_subtotal": amount,
                "amount_total": amount,
                "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
                "cancel_url": f.get("cancel_url"),
                "client_reference_id": f.get("client_reference_id"),
                "created": now(),
                "currency": "eur",
                "custom_fields": [],
                "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
                "customer": null,
                "expires_at": now() + 86_400,
                "livemode": false,
                "metadata": meta,
                "mode": "payment",
                "payment_intent": null,
                "payment_method_types": ["card", "sepa_debit"],
                "payment_status": "unpaid",
                "shipping_options": [],
                "status": "open",
                "success_url": f.get("success_url"),
                "url": format!("https://checkout.stripe.test/c/pay/{id}"),
            });
            inner.sessions.insert(id, session.clone());
            session
        }
        "/v1/accounts" => json!({
            "id": format!("acct_fake{n:06}"),
            "object": "account",
            "type": "express",
            "charges_enabled": false,
            "payouts_enabled": false,
            "metadata": meta,
        }),
        "/v1/payouts" => {
            let payout = json!({
                "id": format!("po_fake{n:06}"),
                "object": "payout",
                "amount": f["amount"].parse::<i64>().unwrap(),
                "application_fee": null,
                "application_fee_amount": null,
                "arrival_date": now() + 2 * 86_400,
                "automatic": false,
                "balance_transaction": null,
                "created": now(),
                "currency": f["currency"],
                "description": f.get("description"),
                "destination": null,
                "failure_balance_transaction": null,
                "failure_code": null,
                "failure_message": null,
                "livemode": false,
                "metadata": meta,
                "method": "standard",
                "original_payout": null,
                "payout_method": null,
                "reconciliation_status": "not_applicable",
                "reversed_by": null,
                "source_type": "card",
                "statement_descriptor": null,
                "status": "pending",
                "trace_id": null,
                "type": "bank_account",
            });
            inner.payouts.push(payout.clone());
            payout
        }
        "/v1/account_links" => json!({
            "object": "account_link",
            "created": now(),
            "expires_at": now() + 300,
            "url": format!("https://connect.stripe.test/setup/e/{}", f["account"]),
        }),
        other => {
            let body = json!({ "error": { "type": "invalid_request_error", "message": format!("no route {other}") } });
            return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
        }
    };
    if let Some(key) = replay_key {
        inner.answers.insert(key, answer.clone());
    }
    axum::Json(answer).into_response()
}
