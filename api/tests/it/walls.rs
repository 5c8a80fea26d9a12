//! One org can neither read nor change another's data, and no input reaches a schema name.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, rand_key};

#[tokio::test]
async fn a_token_of_org_a_cannot_touch_org_b() {
    let app = TestApp::new().await;
    let a = app.org("org-a").await;
    let b = app.org("org-b").await;
    let (b_member, b_member_id) = app.member(&b, "bea").await;
    app.issue(&b, b_member_id, "20").await;
    let (_, a_member_id) = app.member(&a, "al").await;
    let b_rows = app.journal_rows("org-b").await;
    let b_accounts = app.get("/v1/orgs/org-b/accounts", &b.owner_token).await.body;

    let pay = json!({"currency": "COIN", "to_member": a_member_id, "amount": "1"});
    let routes: Vec<(Method, &str, Option<serde_json::Value>)> = vec![
        (Method::GET, "/v1/orgs/org-b", None),
        (Method::GET, "/v1/orgs/org-b/members", None),
        (Method::POST, "/v1/orgs/org-b/members", Some(json!({"email": "owner@org-a.example.org"}))),
        (Method::GET, "/v1/orgs/org-b/currencies", None),
        (Method::POST, "/v1/orgs/org-b/currencies", Some(json!({"code": "EVIL", "name": "x", "scale": 0}))),
        (Method::GET, "/v1/orgs/org-b/accounts", None),
        (Method::POST, "/v1/orgs/org-b/transfers", Some(pay.clone())),
        (Method::GET, "/v1/orgs/org-b/transfers", None),
        (Method::POST, "/v1/orgs/org-b/issuance", Some(pay)),
        (Method::GET, "/v1/orgs/org-b/ledger/verify", None),
    ];
    for (method, path, body) in routes {
        let r = app.call(method.clone(), path, Some(&a.owner_token), body, Some(&rand_key())).await;
        assert!(
            r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND,
            "{method} {path} answered {} {:?}",
            r.status,
            r.body
        );
        assert_eq!(r.content_type, "application/problem+json");
    }

    // Account ids are per org: naming B's account id inside A pays within A, never B.
    let b_account = b_accounts
        .as_array()
        .and_then(|all| all.iter().find(|x| x["owner_user_id"] == json!(b_member_id)))
        .map(|x| x["id"].clone())
        .unwrap_or_default();
    let (al, _) = (app.member(&a, "al2").await, ());
    let _ = app
        .call(
            Method::POST,
            "/v1/orgs/org-a/transfers",
            Some(&al.0),
            Some(json!({"currency": "COIN", "to_account": b_account, "amount": "1"})),
            Some("cross"),
        )
        .await;

    assert_eq!(app.journal_rows("org-b").await, b_rows, "B's journal is unchanged");
    assert_eq!(app.get("/v1/orgs/org-b/accounts", &b.owner_token).await.body, b_accounts);
    assert_eq!(app.balance(&b, &b_member, b_member_id).await, "20.00");
    let members = app.get("/v1/orgs/org-b/members", &b.owner_token).await.body;
    assert_eq!(members.as_array().map(Vec::len), Some(2), "nobody from A joined B: {members}");
}

#[tokio::test]
async fn no_slug_can_shape_a_schema_name() {
    let app = TestApp::new().await;
    let (token, _) = app.user("sly").await;
    let hostile = [
        "a'b", "x\"; DROP SCHEMA control CASCADE; --", "has space", "ünïcode", "org_1", "UPPER",
        "semi;colon", "../etc", "", "ab", "-lead", "trail-",
    ];
    for slug in hostile {
        let r = app.post("/v1/orgs", &token, json!({"slug": slug, "name": "n"})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{slug:?}: {:?}", r.body);
        assert_eq!(r.body["field"], "slug");
    }
    // Hostile slugs in paths are just unknown orgs.
    for path in ["/v1/orgs/a'b", "/v1/orgs/x%22%3B%20DROP%20SCHEMA%20control", "/v1/orgs/%C3%BC"] {
        let r = app.get(path, &token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {:?}", r.body);
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM control.tenants")
        .fetch_one(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 0);
    // The schemas that exist are exactly control (and PostgreSQL's own).
    let (ours,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname NOT IN ('information_schema', 'public', 'control')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ours, 0);
}
