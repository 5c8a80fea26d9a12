use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use std::time::Duration;

use coinsence_api::Core;
use coinsence_api::batch::QueueLimits;
use coinsence_api::domain::ledger::queue::QueueConfig;
use coinsence_api::http::HttpConfig;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

pub struct TestApp {
    pub core: Core,
    pub pool: PgPool,
    pub router: Router,
}

pub struct Response {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Response {
    /// The stable error code of a problem document.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// An org with an owner (admin), a currency `COIN` (scale 2) and helpers to add members.
pub struct Org {
    pub slug: String,
    pub owner_token: String,
    pub owner_id: i64,
}

impl TestApp {
    pub async fn new() -> Self {
        let (pool, _url) = coinsence_api::testing::test_database()
            .await
            .expect("test database");
        Self::with_pool(pool)
    }

    /// The app on a database of the caller's (a Citus one, in tests/citus).
    pub fn with_pool(pool: PgPool) -> Self {
        // Functional tests are not load tests: on a busy test machine, shedding (503) would
        // answer requests these tests expect decided. Shedding has its own tests (limits.rs,
        // batch.rs), which build their own router.
        let patient = QueueLimits {
            capacity: 1 << 16,
            target: Duration::from_secs(60),
            wait: Duration::from_secs(60),
        };
        let core = Core::with_queue(
            pool.clone(),
            QueueConfig {
                limits: patient,
                ..QueueConfig::default()
            },
        );
        let http = HttpConfig {
            max_in_flight: 4096,
            admission_target: Duration::from_secs(60),
            ..HttpConfig::default()
        };
        let router = coinsence_api::http::router_with(core.clone(), http);
        Self { core, pool, router }
    }

    pub async fn raw(&self, req: Request<Body>) -> Response {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {});
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Response {
            status,
            content_type,
            body,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.raw(req.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.call(Method::GET, path, Some(token), None, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.call(Method::POST, path, Some(token), Some(body), None)
            .await
    }

    /// Signs up a user; returns (token, user id).
    pub async fn user(&self, name: &str) -> (String, i64) {
        let r = self
            .call(
                Method::POST,
                "/v1/signup",
                None,
                Some(json!({"email": format!("{name}@example.org"), "password": "correct horse", "display_name": name})),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        (
            token_of(&r),
            r.body["user"]["id"].as_i64().unwrap_or_default(),
        )
    }

    /// Signs up an owner with a new org and creates currency COIN (scale 2).
    pub async fn org(&self, slug: &str) -> Org {
        let r = self
            .call(
                Method::POST,
                "/v1/signup",
                None,
                Some(json!({
                    "email": format!("owner@{slug}.example.org"), "password": "correct horse",
                    "display_name": format!("Owner of {slug}"), "org": {"slug": slug, "name": slug}
                })),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let org = Org {
            slug: slug.to_owned(),
            owner_token: token_of(&r),
            owner_id: r.body["user"]["id"].as_i64().unwrap_or_default(),
        };
        let c = self
            .post(
                &format!("/v1/orgs/{slug}/currencies"),
                &org.owner_token,
                json!({"code": "COIN", "name": "Coin", "scale": 2}),
            )
            .await;
        assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
        org
    }

    /// A new member of `org`; returns (token, user id).
    pub async fn member(&self, org: &Org, name: &str) -> (String, i64) {
        let (token, id) = self.user(&format!("{name}.{}", org.slug)).await;
        let r = self
            .call(
                Method::POST,
                &format!("/v1/orgs/{}/join", org.slug),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        (token, id)
    }

    pub async fn issue(&self, org: &Org, to_member: i64, amount: &str) -> Response {
        self.call(
            Method::POST,
            &format!("/v1/orgs/{}/issuance", org.slug),
            Some(&org.owner_token),
            Some(json!({"currency": "COIN", "to_member": to_member, "amount": amount})),
            Some(&format!("issue-{}", rand_key())),
        )
        .await
    }

    pub async fn pay(
        &self,
        org: &Org,
        token: &str,
        to_member: i64,
        amount: &str,
        key: &str,
    ) -> Response {
        self.call(
            Method::POST,
            &format!("/v1/orgs/{}/transfers", org.slug),
            Some(token),
            Some(json!({"currency": "COIN", "to_member": to_member, "amount": amount})),
            Some(key),
        )
        .await
    }

    /// The caller's COIN balance as shown by the API.
    pub async fn balance(&self, org: &Org, token: &str, user: i64) -> String {
        let r = self
            .get(&format!("/v1/orgs/{}/accounts", org.slug), token)
            .await;
        r.body
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|x| x["owner_user_id"] == json!(user) && x["currency"] == "COIN")
            })
            .and_then(|x| x["balance"].as_str())
            .unwrap_or("?")
            .to_owned()
    }

    pub async fn verify(&self, org: &Org) -> Value {
        let r = self
            .get(
                &format!("/v1/orgs/{}/ledger/verify", org.slug),
                &org.owner_token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }

    /// Rows in an org's journal, read directly (bypassing the API).
    pub async fn journal_rows(&self, slug: &str) -> i64 {
        let (schema,): (String,) =
            sqlx::query_as("SELECT 'org_' || id FROM control.tenants WHERE slug = $1")
                .bind(slug)
                .fetch_one(&self.pool)
                .await
                .unwrap();
        let sql = format!("SELECT count(*) FROM {schema}.transfers");
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .unwrap();
        n
    }
}

pub fn token_of(r: &Response) -> String {
    r.body["token"].as_str().unwrap_or_default().to_owned()
}

pub fn rand_key() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl TestApp {
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Response {
        self.call(Method::PUT, path, Some(token), Some(body), None)
            .await
    }

    pub async fn tenant(&self, slug: &str) -> coinsence_api::domain::tenancy::Tenant {
        self.core
            .tenant(slug)
            .await
            .unwrap_or_else(|e| panic!("tenant {slug}: {e}"))
    }

    /// Runs the worker's step as if it were `after` from now.
    pub async fn close_due_in(
        &self,
        slug: &str,
        after: chrono::Duration,
    ) -> coinsence_api::domain::governance::proposals::CloseSummary {
        let tenant = self.tenant(slug).await;
        self.core
            .close_due(&tenant, chrono::Utc::now() + after)
            .await
            .expect("close_due")
    }

    /// Opens a proposal; `action` is the tagged action object.
    pub async fn propose(&self, slug: &str, token: &str, title: &str, action: Value) -> Response {
        self.post(
            &format!("/v1/orgs/{slug}/proposals"),
            token,
            json!({"title": title, "action": action}),
        )
        .await
    }

    pub async fn vote(&self, slug: &str, token: &str, proposal: i64, choice: &str) -> Response {
        self.post(
            &format!("/v1/orgs/{slug}/proposals/{proposal}/votes"),
            token,
            json!({"choice": choice}),
        )
        .await
    }

    pub async fn proposal(&self, slug: &str, token: &str, proposal: i64) -> Value {
        let r = self
            .get(&format!("/v1/orgs/{slug}/proposals/{proposal}"), token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }

    /// A transaction inside an org's schema, bypassing the API (to read or build a state
    /// directly).
    pub async fn org_tx(&self, slug: &str) -> sqlx::Transaction<'static, sqlx::Postgres> {
        let (schema,): (String,) =
            sqlx::query_as("SELECT 'org_' || id FROM control.tenants WHERE slug = $1")
                .bind(slug)
                .fetch_one(&self.pool)
                .await
                .unwrap();
        let mut tx = self.pool.begin().await.unwrap();
        sqlx::query("SELECT set_config('search_path', $1, true)")
            .bind(&schema)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }

    /// `SELECT count(*) FROM <rest>` inside an org's schema, read directly (bypassing the API).
    pub async fn count(&self, slug: &str, rest: &str) -> i64 {
        let mut tx = self.org_tx(slug).await;
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {rest}")))
                .fetch_one(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{rest}: {e}"));
        n
    }

    /// An account's balance as the owner (who sees every account) reads it.
    pub async fn account_balance(&self, org: &Org, account: i64) -> String {
        let r = self
            .get(&format!("/v1/orgs/{}/accounts", org.slug), &org.owner_token)
            .await;
        r.body
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == json!(account)))
            .and_then(|x| x["balance"].as_str())
            .unwrap_or("?")
            .to_owned()
    }

    /// The id of a system account (`issuance` or `fund`) of a currency.
    pub async fn system_account(&self, org: &Org, kind: &str, currency: &str) -> i64 {
        let r = self
            .get(&format!("/v1/orgs/{}/accounts", org.slug), &org.owner_token)
            .await;
        r.body
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|x| x["kind"] == kind && x["currency"] == currency)
            })
            .and_then(|x| x["id"].as_i64())
            .unwrap_or_else(|| panic!("no {kind} account in {currency}: {}", r.body))
    }

    /// A member's balance in any currency, as the owner reads it.
    pub async fn member_balance(&self, org: &Org, user: i64, currency: &str) -> String {
        let r = self
            .get(&format!("/v1/orgs/{}/accounts", org.slug), &org.owner_token)
            .await;
        r.body
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|x| x["owner_user_id"] == json!(user) && x["currency"] == currency)
            })
            .and_then(|x| x["balance"].as_str())
            .unwrap_or("?")
            .to_owned()
    }
}
