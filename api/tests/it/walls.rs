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
    let b_accounts = app
        .get("/v1/orgs/org-b/accounts", &b.owner_token)
        .await
        .body;

    let pay = json!({"currency": "COIN", "to_member": a_member_id, "amount": "1"});
    let routes: Vec<(Method, &str, Option<serde_json::Value>)> = vec![
        (Method::GET, "/v1/orgs/org-b", None),
        (Method::GET, "/v1/orgs/org-b/members", None),
        (
            Method::POST,
            "/v1/orgs/org-b/members",
            Some(json!({"email": "owner@org-a.example.org"})),
        ),
        (Method::GET, "/v1/orgs/org-b/currencies", None),
        (
            Method::POST,
            "/v1/orgs/org-b/currencies",
            Some(json!({"code": "EVIL", "name": "x", "scale": 0})),
        ),
        (Method::GET, "/v1/orgs/org-b/accounts", None),
        (Method::POST, "/v1/orgs/org-b/transfers", Some(pay.clone())),
        (Method::GET, "/v1/orgs/org-b/transfers", None),
        (Method::POST, "/v1/orgs/org-b/issuance", Some(pay)),
        (Method::GET, "/v1/orgs/org-b/ledger/verify", None),
    ];
    for (method, path, body) in routes {
        let r = app
            .call(
                method.clone(),
                path,
                Some(&a.owner_token),
                body,
                Some(&rand_key()),
            )
            .await;
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
        .and_then(|all| {
            all.iter()
                .find(|x| x["owner_user_id"] == json!(b_member_id))
        })
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

    assert_eq!(
        app.journal_rows("org-b").await,
        b_rows,
        "B's journal is unchanged"
    );
    assert_eq!(
        app.get("/v1/orgs/org-b/accounts", &b.owner_token)
            .await
            .body,
        b_accounts
    );
    assert_eq!(app.balance(&b, &b_member, b_member_id).await, "20.00");
    let members = app.get("/v1/orgs/org-b/members", &b.owner_token).await.body;
    assert_eq!(
        members.as_array().map(Vec::len),
        Some(2),
        "nobody from A joined B: {members}"
    );
}

#[tokio::test]
async fn no_slug_can_shape_a_schema_name() {
    let app = TestApp::new().await;
    let (token, _) = app.user("sly").await;
    let hostile = [
        "a'b",
        "x\"; DROP SCHEMA control CASCADE; --",
        "has space",
        "ünïcode",
        "org_1",
        "UPPER",
        "semi;colon",
        "../etc",
        "",
        "ab",
        "-lead",
        "trail-",
    ];
    for slug in hostile {
        let r = app
            .post("/v1/orgs", &token, json!({"slug": slug, "name": "n"}))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{slug:?}: {:?}",
            r.body
        );
        assert_eq!(r.body["field"], "slug");
    }
    // Hostile slugs in paths are just unknown orgs.
    for path in [
        "/v1/orgs/a'b",
        "/v1/orgs/x%22%3B%20DROP%20SCHEMA%20control",
        "/v1/orgs/%C3%BC",
    ] {
        let r = app.get(path, &token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {:?}", r.body);
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM control.tenants")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The schemas that exist are exactly control (and PostgreSQL's own).
    let (ours,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname NOT IN ('information_schema', 'public', 'control')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(ours, 0);
}

#[tokio::test]
async fn members_of_another_org_cannot_see_or_touch_its_governance() {
    let app = TestApp::new().await;
    let a = app.org("gov-a").await;
    let b = app.org("gov-b").await;
    let (b_member, _) = app.member(&b, "bea").await;
    // Org B: a proposal, a pledge, a project, a listing and a post.
    let p = app
        .propose("gov-b", &b_member, "B only", json!({"kind": "free_text"}))
        .await;
    assert_eq!(p.status, StatusCode::CREATED);
    app.post(
        "/v1/orgs/gov-b/pledges",
        &b_member,
        json!({"currency": "COIN", "amount": "3", "description": "b work"}),
    )
    .await;
    let deadline = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    app.post("/v1/orgs/gov-b/projects", &b_member, json!({"title": "B", "currency": "COIN", "goal": "5", "deadline": deadline, "share_code": "BSH", "rate": "1"})).await;
    app.post(
        "/v1/orgs/gov-b/listings",
        &b_member,
        json!({"kind": "offer", "title": "b", "price": "1", "currency": "COIN"}),
    )
    .await;
    app.post("/v1/orgs/gov-b/posts", &b_member, json!({"body": "b post"}))
        .await;
    app.vote("gov-b", &b_member, 1, "yes").await;
    let b_state = app.proposal("gov-b", &b.owner_token, 1).await;
    let b_outbox = app.count("gov-b", "outbox").await;

    // Org A's owner, and a member of A, against B's routes.
    let (a_member, _) = app.member(&a, "al").await;
    let routes: Vec<(Method, &str, Option<serde_json::Value>)> = vec![
        (Method::GET, "/v1/orgs/gov-b/rules", None),
        (
            Method::PUT,
            "/v1/orgs/gov-b/rules",
            Some(
                json!({"method": "consent", "quorum_bp": 0, "voting_period_secs": 60, "proposers": "members"}),
            ),
        ),
        (Method::GET, "/v1/orgs/gov-b/proposals", None),
        (Method::GET, "/v1/orgs/gov-b/proposals/1", None),
        (
            Method::POST,
            "/v1/orgs/gov-b/proposals",
            Some(json!({"title": "x", "action": {"kind": "free_text"}})),
        ),
        (
            Method::POST,
            "/v1/orgs/gov-b/proposals/1/votes",
            Some(json!({"choice": "block"})),
        ),
        (Method::POST, "/v1/orgs/gov-b/governance/close-due", None),
        (Method::GET, "/v1/orgs/gov-b/pledges", None),
        (Method::GET, "/v1/orgs/gov-b/pledges/1", None),
        (Method::GET, "/v1/orgs/gov-b/pledges/summary", None),
        (
            Method::POST,
            "/v1/orgs/gov-b/pledges",
            Some(json!({"currency": "COIN", "amount": "1", "description": "x"})),
        ),
        (Method::GET, "/v1/orgs/gov-b/projects", None),
        (Method::GET, "/v1/orgs/gov-b/projects/1", None),
        (
            Method::POST,
            "/v1/orgs/gov-b/projects/1/investments",
            Some(json!({"amount": "1"})),
        ),
        (Method::GET, "/v1/orgs/gov-b/listings", None),
        (Method::POST, "/v1/orgs/gov-b/listings/1/purchases", None),
        (Method::POST, "/v1/orgs/gov-b/listings/1/close", None),
        (Method::GET, "/v1/orgs/gov-b/posts", None),
        (Method::GET, "/v1/orgs/gov-b/posts/1", None),
        (
            Method::POST,
            "/v1/orgs/gov-b/posts/1/comments",
            Some(json!({"body": "x"})),
        ),
    ];
    for token in [&a.owner_token, &a_member] {
        for (method, path, body) in &routes {
            let r = app
                .call(
                    method.clone(),
                    path,
                    Some(token),
                    body.clone(),
                    Some(&rand_key()),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {path} answered {} {:?}",
                r.status,
                r.body
            );
            assert_eq!(r.content_type, "application/problem+json");
        }
    }
    // Ids are per org: proposal 1 inside A is A's own (there is none yet), never B's.
    let none = app.get("/v1/orgs/gov-a/proposals/1", &a_member).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.vote("gov-a", &a_member, 1, "block").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/orgs/gov-a/proposals", &a_member).await.body,
        json!([])
    );
    assert_eq!(
        app.get("/v1/orgs/gov-a/posts", &a_member).await.body,
        json!([])
    );
    // The worker closing A never touches B.
    app.close_due_in("gov-a", chrono::Duration::days(30)).await;

    assert_eq!(
        app.proposal("gov-b", &b.owner_token, 1).await,
        b_state,
        "B's proposal is unchanged"
    );
    assert_eq!(app.count("gov-b", "outbox").await, b_outbox);
    assert_eq!(app.count("gov-b", "votes").await, 1);
    assert_eq!(
        app.count("gov-b", "proposals").await,
        2,
        "the free text and the pledge"
    );
}
