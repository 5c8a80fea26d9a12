//! Walls for every route, generated from the OpenAPI document: org A's admin and member call every
//! operation against org B's slug and with B's object ids. Nothing of B is revealed (no B name
//! or email in any answer) and nothing of B changes (every table of B's schema, and B's rows in
//! the control plane, hashed before and after). A route the table below does not know fails the
//! test, so a new route is walled without anyone remembering to.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, rand_key, token_of};

/// Every text of B carries this, so an answer that leaks any of it is caught.
const MARK: &str = "bsecret";

/// How the test treats one operation of the document.
enum Wall {
    /// Not under an org: nothing of another org to reach (with the reason).
    Unscoped(&'static str),
    /// Under `/v1/orgs/{org}`: called with this body (valid inside B, so that only the wall
    /// refuses it).
    Scoped(Option<Value>),
}

/// B's objects, named by the path segment before `{id}`.
struct BIds {
    by_resource: BTreeMap<&'static str, i64>,
    /// A member of A, the payee in bodies that move money.
    a_member: i64,
}

fn wall(method: &str, path: &str, ids: &BIds) -> Option<Wall> {
    let deadline = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let pay = json!({"currency": "COIN", "to_member": ids.a_member, "amount": "1", "memo": "wall"});
    let scoped = |body: Option<Value>| Some(Wall::Scoped(body));
    match (method, path) {
        ("post", "/v1/signup") => Some(Wall::Unscoped("creates a user and maybe a new org")),
        ("post", "/v1/login") => Some(Wall::Unscoped("a user's own session")),
        ("post", "/v1/logout") => Some(Wall::Unscoped("revokes the caller's own token")),
        ("post", "/v1/login/link") => Some(Wall::Unscoped("redeems a one-time code")),
        ("post", "/v1/orgs") => Some(Wall::Unscoped("creates a new org")),
        ("get", "/v1/tokens") => Some(Wall::Unscoped("the caller's own tokens")),
        ("delete", "/v1/tokens/{id}") => Some(Wall::Unscoped("the caller's own tokens")),
        ("get", "/v1/me") => Some(Wall::Unscoped("the caller themself")),
        ("patch", "/v1/me") => Some(Wall::Unscoped("the caller themself")),
        ("get", "/v1/orgs/{org}") => scoped(None),
        ("patch", "/v1/orgs/{org}") => scoped(Some(json!({"language": "de"}))),
        ("post", "/v1/orgs/{org}/join") => scoped(None),
        ("get", "/v1/orgs/{org}/members") => scoped(None),
        ("post", "/v1/orgs/{org}/members") => scoped(Some(
            json!({"email": "al.wall-a@example.org", "role": "admin"}),
        )),
        ("get", "/v1/orgs/{org}/currencies") => scoped(None),
        ("post", "/v1/orgs/{org}/currencies") => {
            scoped(Some(json!({"code": "EVIL", "name": "evil", "scale": 0})))
        }
        ("get", "/v1/orgs/{org}/accounts") => scoped(None),
        ("get", "/v1/orgs/{org}/transfers") => scoped(None),
        ("post", "/v1/orgs/{org}/transfers") => scoped(Some(pay)),
        ("post", "/v1/orgs/{org}/issuance") => scoped(Some(pay)),
        ("get", "/v1/orgs/{org}/ledger/verify") => scoped(None),
        ("get", "/v1/orgs/{org}/ledger/seals") => scoped(None),
        ("get", "/v1/orgs/{org}/ledger/seals/verify") => scoped(None),
        ("get", "/v1/orgs/{org}/ledger/key") => scoped(None),
        ("get", "/v1/orgs/{org}/ledger/tree-heads") => scoped(None),
        ("get", "/v1/orgs/{org}/ledger/proofs/inclusion") => scoped(None),
        ("get", "/v1/orgs/{org}/ledger/proofs/consistency") => scoped(None),
        ("get", "/v1/orgs/{org}/issuance-policies") => scoped(None),
        ("post", "/v1/orgs/{org}/issuance-policies") => scoped(Some(
            json!({"currency": "COIN", "period": "monthly", "time_zone": "UTC", "fixed_amount": "99"}),
        )),
        ("delete", "/v1/orgs/{org}/issuance-policies/{id}") => scoped(None),
        ("get", "/v1/orgs/{org}/rules") => scoped(None),
        ("put", "/v1/orgs/{org}/rules") => scoped(Some(
            json!({"method": "consent", "quorum_bp": 0, "voting_period_secs": 60, "proposers": "members"}),
        )),
        ("get", "/v1/orgs/{org}/proposals") => scoped(None),
        ("post", "/v1/orgs/{org}/proposals") => scoped(Some(
            json!({"title": "wall", "action": {"kind": "issue_to_account", "currency": "COIN", "to_member": ids.a_member, "amount": "5"}}),
        )),
        ("get", "/v1/orgs/{org}/proposals/{id}") => scoped(None),
        ("post", "/v1/orgs/{org}/proposals/{id}/votes") => scoped(Some(json!({"choice": "block"}))),
        ("post", "/v1/orgs/{org}/governance/close-due") => scoped(None),
        ("get", "/v1/orgs/{org}/pledges") => scoped(None),
        ("post", "/v1/orgs/{org}/pledges") => scoped(Some(
            json!({"currency": "COIN", "amount": "1", "description": "wall"}),
        )),
        ("get", "/v1/orgs/{org}/pledges/summary") => scoped(None),
        ("get", "/v1/orgs/{org}/pledges/{id}") => scoped(None),
        ("get", "/v1/orgs/{org}/projects") => scoped(None),
        ("post", "/v1/orgs/{org}/projects") => scoped(Some(
            json!({"title": "wall", "currency": "COIN", "goal": "5", "deadline": deadline, "share_code": "WALL", "rate": "1"}),
        )),
        ("get", "/v1/orgs/{org}/projects/{id}") => scoped(None),
        ("post", "/v1/orgs/{org}/projects/{id}/investments") => {
            scoped(Some(json!({"amount": "1"})))
        }
        ("post", "/v1/orgs/{org}/projects/{id}/payments") => {
            scoped(Some(json!({"to_member": ids.a_member, "amount": "1"})))
        }
        ("get", "/v1/orgs/{org}/listings") => scoped(None),
        ("post", "/v1/orgs/{org}/listings") => scoped(Some(
            json!({"kind": "offer", "title": "wall", "price": "1", "currency": "COIN"}),
        )),
        ("get", "/v1/orgs/{org}/listings/{id}") => scoped(None),
        ("post", "/v1/orgs/{org}/listings/{id}/purchases") => scoped(None),
        ("post", "/v1/orgs/{org}/listings/{id}/close") => scoped(None),
        ("get", "/v1/orgs/{org}/posts") => scoped(None),
        ("post", "/v1/orgs/{org}/posts") => scoped(Some(json!({"body": "wall"}))),
        ("get", "/v1/orgs/{org}/posts/{id}") => scoped(None),
        ("get", "/v1/orgs/{org}/posts/{id}/comments") => scoped(None),
        ("post", "/v1/orgs/{org}/posts/{id}/comments") => scoped(Some(json!({"body": "wall"}))),
        ("post", "/v1/orgs/{org}/chat/connect-codes") => scoped(None),
        // Billing (issue 16).
        ("get", "/v1/orgs/{org}/billing") => scoped(None),
        ("post", "/v1/orgs/{org}/billing/onboarding") => scoped(None),
        ("get", "/v1/orgs/{org}/billing/topup-terms") => scoped(None),
        ("put", "/v1/orgs/{org}/billing/topup-terms") => scoped(Some(json!({
            "currency": "COIN", "rate_coins": 1, "rate_euros": 1,
            "min": "1", "max": "10", "monthly_max": "10"
        }))),
        ("post", "/v1/orgs/{org}/billing/topups") => scoped(Some(json!({"amount": "10"}))),
        ("get", "/v1/orgs/{org}/billing/cashout-terms") => scoped(None),
        ("put", "/v1/orgs/{org}/billing/cashout-terms") => {
            scoped(Some(json!({"threshold": "10", "exit_fee_bp": 0})))
        }
        ("post", "/v1/orgs/{org}/billing/cashouts") => scoped(Some(json!({"amount": "1"}))),
        ("get", "/v1/orgs/{org}/billing/cashouts/{id}") => scoped(None),
        ("post", "/v1/orgs/{org}/billing/cashouts/{id}/approve") => scoped(None),
        ("get", "/v1/orgs/{org}/exchange/listings") => scoped(None),
        ("get", "/v1/orgs/{org}/exchange/quote") => scoped(None),
        ("get", "/v1/orgs/{org}/exchange/orders") => scoped(None),
        ("post", "/v1/orgs/{org}/exchange/orders") => scoped(Some(
            json!({"sell": "COIN", "amount": "1", "buy": "BEX", "limit": "1"}),
        )),
        ("post", "/v1/orgs/{org}/exchange/orders/{id}/cancel") => scoped(None),
        ("get", "/v1/orgs/{org}/exchange/receipts") => scoped(None),
        ("get", "/v1/orgs/{org}/exchange/orders/{id}/fills") => scoped(None),
        _ => None,
    }
}

/// The path with `{org}` and `{id}` filled in: `{id}` is B's object of the segment before it.
fn fill(path: &str, slug: &str, ids: &BIds) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::with_capacity(segments.len());
    for (i, s) in segments.iter().enumerate() {
        match *s {
            "{org}" => out.push(slug.to_owned()),
            "{id}" => {
                let resource = segments[i - 1];
                let id = ids.by_resource.get(resource).unwrap_or_else(|| {
                    panic!("walls_every_route.rs: no object of B for `{resource}` in {path}; create one in B's setup")
                });
                out.push(id.to_string());
            }
            other if other.starts_with('{') => {
                panic!("walls_every_route.rs: unknown path parameter {other} in {path}")
            }
            other => out.push(other.to_owned()),
        }
    }
    out.join("/")
}

/// Every operation of the OpenAPI document: (method, path).
fn operations() -> Vec<(String, String)> {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(coinsence_api::http::ApiDoc::openapi()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                ops.push((method.clone(), path.clone()));
            }
        }
    }
    ops
}

/// B as stored: every table of its schema and its rows in the control plane, each as a row
/// count and a hash of the rows.
async fn dump(app: &TestApp, slug: &str) -> BTreeMap<String, (i64, String)> {
    let (tenant,): (i64,) = sqlx::query_as("SELECT id FROM control.tenants WHERE slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let schema = format!("org_{tenant}");
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
    )
    .bind(&schema)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(tables.len() > 5, "B's schema {schema} has its tables");
    let mut queries: Vec<(String, String)> = tables
        .into_iter()
        .map(|(t,)| {
            (
                format!("{schema}.{t}"),
                format!("SELECT * FROM {schema}.\"{t}\""),
            )
        })
        .collect();
    let control: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.columns WHERE table_schema = 'control' AND column_name = 'tenant_id'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    for (t,) in control {
        queries.push((
            format!("control.{t}"),
            format!("SELECT * FROM control.\"{t}\" WHERE tenant_id = {tenant}"),
        ));
    }
    queries.push((
        "control.tenants".to_owned(),
        format!("SELECT * FROM control.tenants WHERE id = {tenant}"),
    ));
    let mut out = BTreeMap::new();
    for (name, select) in queries {
        let sql = format!(
            "SELECT count(*), coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') FROM ({select}) r"
        );
        let row: (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&app.pool)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.insert(name, row);
    }
    out
}

fn changed(
    before: &BTreeMap<String, (i64, String)>,
    after: &BTreeMap<String, (i64, String)>,
) -> Vec<String> {
    before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: {v:?} -> {:?}", after.get(k)))
        .chain(
            after
                .keys()
                .filter(|k| !before.contains_key(*k))
                .map(|k| format!("{k}: new")),
        )
        .collect()
}

/// Org B (closed, so nobody joins it uninvited) with one of everything, every text marked.
async fn org_b(app: &TestApp, a_member: i64) -> (String, BIds, Vec<String>) {
    let slug = "wall-b";
    let r = app
        .call(
            Method::POST,
            "/v1/signup",
            None,
            Some(
                json!({"email": format!("{MARK}-owner@example.org"), "password": "correct horse",
                        "display_name": format!("{MARK} owner"),
                        "org": {"slug": slug, "name": format!("{MARK} org"), "open": false}}),
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let owner = token_of(&r);
    let ok = |r: crate::helpers::Response, what: &str| -> Value {
        assert!(r.status.is_success(), "{what}: {} {}", r.status, r.body);
        r.body
    };
    ok(
        app.post(
            &format!("/v1/orgs/{slug}/currencies"),
            &owner,
            json!({"code": "COIN", "name": format!("{MARK} coin"), "scale": 2}),
        )
        .await,
        "currency",
    );
    let (bea, bea_id) = app.user(&format!("{MARK}-bea")).await;
    ok(
        app.post(
            &format!("/v1/orgs/{slug}/members"),
            &owner,
            json!({"email": format!("{MARK}-bea@example.org")}),
        )
        .await,
        "member",
    );
    let b_org = crate::helpers::Org {
        slug: slug.to_owned(),
        owner_token: owner.clone(),
        owner_id: r.body["user"]["id"].as_i64().unwrap_or_default(),
    };
    ok(app.issue(&b_org, bea_id, "50").await, "issue");
    let id_of = |v: &Value| v["id"].as_i64().unwrap_or_default();
    let proposal = ok(
        app.propose(
            slug,
            &bea,
            &format!("{MARK} proposal"),
            json!({"kind": "free_text"}),
        )
        .await,
        "proposal",
    );
    let pledge = ok(
        app.post(
            &format!("/v1/orgs/{slug}/pledges"),
            &bea,
            json!({"currency": "COIN", "amount": "3", "description": format!("{MARK} pledge")}),
        )
        .await,
        "pledge",
    );
    let deadline = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let project = ok(
        app.post(
            &format!("/v1/orgs/{slug}/projects"),
            &owner,
            json!({"title": format!("{MARK} project"), "currency": "COIN", "goal": "500",
                   "deadline": deadline, "share_code": "BSH", "rate": "1"}),
        )
        .await,
        "project",
    );
    let invested = app
        .call(
            Method::POST,
            &format!("/v1/orgs/{slug}/projects/{}/investments", id_of(&project)),
            Some(&bea),
            Some(json!({"amount": "5"})),
            Some(&rand_key()),
        )
        .await;
    ok(invested, "investment");
    let listing = ok(
        app.post(
            &format!("/v1/orgs/{slug}/listings"),
            &bea,
            json!({"kind": "offer", "title": format!("{MARK} listing"), "price": "1", "currency": "COIN"}),
        )
        .await,
        "listing",
    );
    let post = ok(
        app.post(
            &format!("/v1/orgs/{slug}/posts"),
            &bea,
            json!({"body": format!("{MARK} post")}),
        )
        .await,
        "post",
    );
    ok(
        app.post(
            &format!("/v1/orgs/{slug}/posts/{}/comments", id_of(&post)),
            &owner,
            json!({"body": format!("{MARK} comment")}),
        )
        .await,
        "comment",
    );
    let policy = ok(
        app.post(
            &format!("/v1/orgs/{slug}/issuance-policies"),
            &owner,
            json!({"currency": "COIN", "period": "weekly", "time_zone": "UTC", "fixed_amount": "1"}),
        )
        .await,
        "issuance policy",
    );
    // Two listed currencies and an open order of bea's between them.
    ok(
        app.post(
            &format!("/v1/orgs/{slug}/currencies"),
            &owner,
            json!({"code": "BEX", "name": format!("{MARK} bex"), "scale": 0}),
        )
        .await,
        "second currency",
    );
    for code in ["COIN", "BEX"] {
        let listing = ok(
            app.propose(
                slug,
                &owner,
                &format!("{MARK} list {code}"),
                json!({"kind": "list_on_exchange", "currency": code, "trustline": "10",
                       "max_out_per_round": "5"}),
            )
            .await,
            "listing proposal",
        );
        app.vote(slug, &owner, id_of(&listing), "yes").await;
        let passed = app.vote(slug, &bea, id_of(&listing), "yes").await;
        assert_eq!(passed.body["status"], "passed", "{:?}", passed.body);
    }
    let order = ok(
        app.call(
            Method::POST,
            &format!("/v1/orgs/{slug}/exchange/orders"),
            Some(&bea),
            Some(json!({"sell": "COIN", "amount": "1", "buy": "BEX", "limit": "1"})),
            Some(&rand_key()),
        )
        .await,
        "exchange order",
    );
    // A pending cash-out of B's owner (issue 16), written directly: B has no payment provider.
    let (cashout,): (i64,) = {
        let mut tx = app.org_tx(slug).await;
        let row = sqlx::query_as(
            "INSERT INTO cashouts (requester_user_id, currency_id, coins, fee_coins, cents,
                                   rate_coins, rate_euros, approval, idempotency_key)
             SELECT $1, id, 100, 0, 100, 1, 1, 'person', 'walls' FROM currencies
             WHERE code = 'COIN' RETURNING id",
        )
        .bind(b_org.owner_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        row
    };
    let ids = BIds {
        by_resource: BTreeMap::from([
            ("cashouts", cashout),
            ("orders", id_of(&order)),
            ("proposals", id_of(&proposal)),
            ("pledges", id_of(&pledge)),
            ("projects", id_of(&project)),
            ("listings", id_of(&listing)),
            ("posts", id_of(&post)),
            ("issuance-policies", id_of(&policy)),
        ]),
        a_member,
    };
    // What no answer to A may contain: B's texts, and its people's addresses and tokens.
    let secrets = vec![MARK.to_owned(), owner, bea];
    (slug.to_owned(), ids, secrets)
}

#[tokio::test]
async fn no_route_lets_one_org_see_or_change_another() {
    let app = TestApp::new().await;
    let a = app.org("wall-a").await;
    let (al, al_id) = app.member(&a, "al").await;
    let (b_slug, ids, secrets) = org_b(&app, al_id).await;

    let mut unknown = Vec::new();
    let mut calls = Vec::new();
    for (method, path) in operations() {
        match wall(&method, &path, &ids) {
            None => unknown.push(format!("{} {path}", method.to_uppercase())),
            Some(Wall::Unscoped(why)) => {
                eprintln!("{} {path}: not under an org ({why})", method.to_uppercase());
            }
            Some(Wall::Scoped(body)) => calls.push((method, path, body)),
        }
    }
    assert!(
        unknown.is_empty(),
        "routes of the OpenAPI document that walls_every_route.rs does not know; add each to `wall` \
         with a body valid in org B (or as Unscoped with a reason): {unknown:#?}"
    );
    assert!(calls.len() > 40, "{} org routes", calls.len());

    let before = dump(&app, &b_slug).await;
    let mut failures = Vec::new();
    for (who, token) in [("A's admin", &a.owner_token), ("A's member", &al)] {
        for (method, path, body) in &calls {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // Against B's slug with B's ids: refused, as a problem document, revealing nothing.
            let url = fill(path, &b_slug, &ids);
            let r = app
                .call(
                    m.clone(),
                    &url,
                    Some(token),
                    body.clone(),
                    Some(&rand_key()),
                )
                .await;
            let text = r.body.to_string();
            if r.status != StatusCode::FORBIDDEN && r.status != StatusCode::NOT_FOUND {
                failures.push(format!("{who}: {m} {url} answered {} {text}", r.status));
            } else if r.content_type != "application/problem+json" {
                failures.push(format!("{who}: {m} {url} answered {}", r.content_type));
            }
            if let Some(s) = secrets.iter().find(|s| text.contains(s.as_str())) {
                failures.push(format!("{who}: {m} {url} revealed {s:?} of B: {text}"));
            }
            // Against A's own slug with B's ids: whatever A's answer is, it is about A.
            let url = fill(path, &a.slug, &ids);
            let r = app
                .call(
                    m.clone(),
                    &url,
                    Some(token),
                    body.clone(),
                    Some(&rand_key()),
                )
                .await;
            let text = r.body.to_string();
            if r.status.is_server_error() {
                failures.push(format!("{who}: {m} {url} answered {} {text}", r.status));
            }
            if let Some(s) = secrets.iter().find(|s| text.contains(s.as_str())) {
                failures.push(format!("{who}: {m} {url} revealed {s:?} of B: {text}"));
            }
        }
    }
    let after = dump(&app, &b_slug).await;
    let diff = changed(&before, &after);
    assert!(
        failures.is_empty() && diff.is_empty(),
        "walls broken:\n{}\nB changed:\n{}",
        failures.join("\n"),
        diff.join("\n")
    );
}
