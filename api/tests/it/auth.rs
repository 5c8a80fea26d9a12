use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, rand_key};

#[tokio::test]
async fn missing_or_bad_tokens_are_401() {
    let app = TestApp::new().await;
    let org = app.org("locked").await;
    for token in [None, Some("cs_not-a-real-token"), Some("")] {
        for (method, path) in [
            (Method::GET, "/v1/orgs/locked"),
            (Method::GET, "/v1/orgs/locked/accounts"),
            (Method::POST, "/v1/orgs/locked/transfers"),
            (Method::POST, "/v1/orgs"),
            (Method::POST, "/v1/orgs/locked/join"),
            (Method::GET, "/v1/orgs/nowhere/accounts"),
        ] {
            let body = (method == Method::POST).then(|| json!({}));
            let r = app.call(method.clone(), path, token, body, Some("k")).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}"
            );
            assert_eq!(r.code(), "unauthorized");
        }
    }
    let wrong = app
        .call(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"email": "owner@locked.example.org", "password": "wrong password"})),
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right = app
        .call(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"email": "owner@locked.example.org", "password": "correct horse"})),
            None,
        )
        .await;
    assert_eq!(right.status, StatusCode::OK);
    let token = right.body["token"].as_str().unwrap_or_default();
    assert_eq!(
        app.get("/v1/orgs/locked", token).await.body["role"],
        "owner"
    );
    // Logging out revokes that token at once, and only that one.
    let out = app
        .call(Method::POST, "/v1/logout", Some(token), None, None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    let after = app.get("/v1/orgs/locked", token).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let twice = app
        .call(Method::POST, "/v1/logout", Some(token), None, None)
        .await;
    assert_eq!(twice.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/v1/orgs/locked", &org.owner_token).await.status,
        StatusCode::OK,
        "the signup's token still works"
    );
}

#[tokio::test]
async fn members_cannot_issue_or_admit_and_pay_only_from_their_own_account() {
    let app = TestApp::new().await;
    let org = app.org("roles").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (bo, bo_id) = app.member(&org, "bo").await;
    app.issue(&org, bo_id, "30").await;

    let issue = app
        .call(
            Method::POST,
            "/v1/orgs/roles/issuance",
            Some(&ana),
            Some(json!({"currency": "COIN", "to_member": ana_id, "amount": "1000"})),
            Some(&rand_key()),
        )
        .await;
    assert_eq!(issue.status, StatusCode::FORBIDDEN);
    let (_, _) = app.user("outsider").await;
    let admit = app
        .post(
            "/v1/orgs/roles/members",
            &ana,
            json!({"email": "outsider@example.org"}),
        )
        .await;
    assert_eq!(admit.status, StatusCode::FORBIDDEN);
    let coin = app
        .post(
            "/v1/orgs/roles/currencies",
            &ana,
            json!({"code": "ANA", "name": "x", "scale": 0}),
        )
        .await;
    assert_eq!(coin.status, StatusCode::FORBIDDEN);

    // There is no way to name another paying account: the payer is always the caller.
    let sneaky = app
        .call(
            Method::POST,
            "/v1/orgs/roles/transfers",
            Some(&ana),
            Some(json!({"currency": "COIN", "from_member": bo_id, "to_member": ana_id, "amount": "5"})),
            Some("sneaky"),
        )
        .await;
    assert_eq!(
        sneaky.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        sneaky.body
    );
    let broke = app.pay(&org, &ana, bo_id, "5", "from-empty").await;
    assert_eq!(
        broke.code(),
        "insufficient_funds",
        "Ana pays from her own (empty) account"
    );
    assert_eq!(app.balance(&org, &bo, bo_id).await, "30.00");

    // Members see their own accounts only; the owner sees all.
    let mine = app.get("/v1/orgs/roles/accounts", &ana).await.body;
    assert!(
        mine.as_array()
            .is_some_and(|a| a.iter().all(|x| x["owner_user_id"] == json!(ana_id))),
        "{mine}"
    );
    let all = app
        .get("/v1/orgs/roles/accounts", &org.owner_token)
        .await
        .body;
    assert!(
        all.as_array().is_some_and(|a| a.len() == 5),
        "3 members + issuance + fund: {all}"
    );
    // ... and their own history only.
    let hist = app.get("/v1/orgs/roles/transfers", &ana).await.body;
    assert_eq!(
        hist["transfers"].as_array().map(Vec::len),
        Some(0),
        "{hist}"
    );

    // The admin can add an existing user.
    let added = app
        .post(
            "/v1/orgs/roles/members",
            &org.owner_token,
            json!({"email": "outsider@example.org", "role": "treasurer"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    assert_eq!(added.body["role"], "treasurer");
}

#[tokio::test]
async fn closed_orgs_admit_by_invitation_only() {
    let app = TestApp::new().await;
    let r = app
        .call(
            Method::POST,
            "/v1/signup",
            None,
            Some(json!({"email": "boss@closed.example.org", "password": "correct horse", "display_name": "Boss",
                        "org": {"slug": "closed", "name": "Closed", "open": false}})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (eve, _) = app.user("eve").await;
    let join = app
        .call(Method::POST, "/v1/orgs/closed/join", Some(&eve), None, None)
        .await;
    assert_eq!(join.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/v1/orgs/closed", &eve).await.status,
        StatusCode::FORBIDDEN
    );
}

/// Payments take who a token is from memory, and check it again where the money moves: a token
/// revoked, a membership ended or an org suspended in the meantime (here straight in the
/// database, as another server would) pays nothing, and the other payments of the same batch
/// still go through.
#[tokio::test]
async fn a_remembered_payer_is_checked_again_where_the_money_moves() {
    let app = TestApp::new().await;
    let org = app.org("recheck").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (bo, bo_id) = app.member(&org, "bo").await;
    let (cy, cy_id) = app.member(&org, "cy").await;
    for id in [ana_id, bo_id, cy_id] {
        app.issue(&org, id, "100").await;
    }
    // Each pays once, so each is remembered.
    for (token, to) in [(&ana, bo_id), (&bo, cy_id), (&cy, ana_id)] {
        let r = app.pay(&org, token, to, "1", &rand_key()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let journal = || app.journal_rows("recheck");
    let before = journal().await;

    // Ana's token is revoked behind the server's back.
    sqlx::query(
        "UPDATE control.api_tokens SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(ana_id)
    .execute(&app.pool)
    .await
    .unwrap();
    // Her payment and Bo's arrive together (likely one batch); only Bo's moves money.
    let (k1, k2) = (rand_key(), rand_key());
    let (refused, paid) = tokio::join!(
        app.pay(&org, &ana, bo_id, "1", &k1),
        app.pay(&org, &bo, cy_id, "1", &k2),
    );
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        refused.body
    );
    assert_eq!(refused.code(), "unauthorized");
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    assert_eq!(journal().await, before + 1);

    // Bo stops being a member.
    sqlx::query(
        "DELETE FROM control.memberships m USING control.tenants t
         WHERE m.tenant_id = t.id AND t.slug = 'recheck' AND m.user_id = $1",
    )
    .bind(bo_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let gone = app.pay(&org, &bo, cy_id, "1", &rand_key()).await;
    assert_eq!(gone.status, StatusCode::FORBIDDEN, "{:?}", gone.body);
    assert_eq!(journal().await, before + 1);

    // The org is suspended: Cy, remembered and still a member, pays nothing either.
    sqlx::query("UPDATE control.tenants SET status = 'suspended' WHERE slug = 'recheck'")
        .execute(&app.pool)
        .await
        .unwrap();
    let suspended = app.pay(&org, &cy, ana_id, "1", &rand_key()).await;
    assert_eq!(
        suspended.status,
        StatusCode::FORBIDDEN,
        "{:?}",
        suspended.body
    );
    assert_eq!(journal().await, before + 1);
    sqlx::query("UPDATE control.tenants SET status = 'active' WHERE slug = 'recheck'")
        .execute(&app.pool)
        .await
        .unwrap();
    let key = rand_key();
    let back = app.pay(&org, &cy, ana_id, "1", &key).await;
    assert_eq!(back.status, StatusCode::CREATED, "{:?}", back.body);
    // A refused payment wrote nothing, so its key is free; this one's key replays.
    let again = app.pay(&org, &cy, ana_id, "1", &key).await;
    assert_eq!(again.body["id"], back.body["id"]);
    assert_eq!(journal().await, before + 2);
    assert_eq!(app.verify(&org).await["ok"], true);
}
