//! API tokens: they expire (sliding with use), their owner lists and revokes them, logout can
//! revoke them all, and a revoked or expired token gets 401 everywhere at once, payments that
//! would be refused or replayed included.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Org, Response, TestApp, rand_key, token_of};

async fn login(app: &TestApp, email: &str) -> String {
    let r = app
        .call(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"email": email, "password": "correct horse"})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    token_of(&r)
}

async fn tokens(app: &TestApp, token: &str) -> Response {
    app.get("/v1/tokens", token).await
}

async fn sql(app: &TestApp, statement: &'static str, user: i64) {
    sqlx::query(statement)
        .bind(user)
        .execute(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// An org where Ana (with 10 COIN) has paid Bo once with the returned key, so the server
/// remembers her as a payer.
async fn ana_paid_once(app: &TestApp, slug: &str) -> (Org, String, i64, i64, String) {
    let org = app.org(slug).await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (_, bo_id) = app.member(&org, "bo").await;
    let issued = app.issue(&org, ana_id, "10").await;
    assert_eq!(issued.status, StatusCode::CREATED, "{:?}", issued.body);
    let key = rand_key();
    let paid = app.pay(&org, &ana, bo_id, "1", &key).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    (org, ana, ana_id, bo_id, key)
}

/// Every way Ana's token could still be answered: a plain read, a payment that would be
/// applied, one that would be refused (she has 9), and a replay of her first payment.
async fn assert_shut_out(app: &TestApp, org: &Org, token: &str, bo_id: i64, first_key: &str) {
    let before = app.journal_rows(&org.slug).await;
    let read = app
        .get(&format!("/v1/orgs/{}/accounts", org.slug), token)
        .await;
    let fresh = app.pay(org, token, bo_id, "1", &rand_key()).await;
    let refused = app.pay(org, token, bo_id, "500", &rand_key()).await;
    let replay = app.pay(org, token, bo_id, "1", first_key).await;
    for (what, r) in [
        ("read", read),
        ("payment", fresh),
        ("refused payment", refused),
        ("replay", replay),
    ] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", r.body);
        assert_eq!(r.code(), "unauthorized", "{what}");
    }
    assert_eq!(app.journal_rows(&org.slug).await, before);
}

#[tokio::test]
async fn an_expired_token_is_401_everywhere_even_when_remembered() {
    let app = TestApp::new().await;
    let (org, ana, ana_id, bo_id, key) = ana_paid_once(&app, "expiry").await;
    // Her token's term ends (here in the database, as time would).
    sql(
        &app,
        "UPDATE control.api_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1",
        ana_id,
    )
    .await;
    assert_shut_out(&app, &org, &ana, bo_id, &key).await;
    assert_eq!(tokens(&app, &ana).await.status, StatusCode::UNAUTHORIZED);
    // Logging in again gives a token with a full term.
    let again = login(&app, &format!("ana.{}@example.org", org.slug)).await;
    let listed = tokens(&app, &again).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(listed.body[0]["expires_at"].clone())
            .unwrap_or_else(|e| panic!("{e}: {:?}", listed.body));
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::Duration::days(29) && left <= chrono::Duration::days(30),
        "{left}"
    );
}

/// The expiry slides with use, but the use is written down at most once a day: the lookup
/// every request makes stays a read.
#[tokio::test]
async fn use_extends_a_token_at_most_once_a_day() {
    let app = TestApp::new().await;
    let org = app.org("sliding").await;
    let read_back = || async {
        let row: (
            Option<chrono::DateTime<chrono::Utc>>,
            chrono::DateTime<chrono::Utc>,
        ) = sqlx::query_as(
            "SELECT last_used_at, expires_at FROM control.api_tokens WHERE user_id = $1",
        )
        .bind(org.owner_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        row
    };
    // Used two days ago, expiring in an hour.
    sql(
        &app,
        "UPDATE control.api_tokens SET last_used_at = now() - interval '2 days',
                expires_at = now() + interval '1 hour' WHERE user_id = $1",
        org.owner_id,
    )
    .await;
    let r = app.get("/v1/orgs/sliding", &org.owner_token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (used, expires) = read_back().await;
    let now = chrono::Utc::now();
    assert!(
        used.is_some_and(|u| now - u < chrono::Duration::minutes(1)),
        "{used:?}"
    );
    assert!(expires - now > chrono::Duration::days(29), "{expires}");
    // Used again now: nothing is written.
    for path in ["/v1/orgs/sliding", "/v1/tokens"] {
        let r = app.get(path, &org.owner_token).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
    assert_eq!(read_back().await, (used, expires));
}

#[tokio::test]
async fn people_list_and_revoke_their_own_tokens_only() {
    let app = TestApp::new().await;
    let org = app.org("listing").await;
    let email = "owner@listing.example.org";
    let laptop = login(&app, email).await;
    let phone = login(&app, email).await;
    let (stranger, _) = app.user("stranger").await;

    let listed = tokens(&app, &laptop).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let all = listed.body.as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 3, "signup, laptop, phone: {all:?}");
    for t in &all {
        let mut fields: Vec<&str> = t
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "created_at",
                "current",
                "expires_at",
                "id",
                "label",
                "last_used_at"
            ],
            "never the secret"
        );
    }
    let current: Vec<&serde_json::Value> = all.iter().filter(|t| t["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["label"], "login");
    let phone_id = tokens(&app, &phone).await.body[0]["id"].clone();
    assert_eq!(
        tokens(&app, &phone).await.body[0]["current"],
        true,
        "newest first"
    );

    // Someone else's token is not theirs to see or revoke.
    let theirs = app
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{phone_id}"),
            Some(&stranger),
            None,
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{:?}", theirs.body);
    assert_eq!(
        app.get("/v1/orgs/listing", &phone).await.status,
        StatusCode::OK
    );
    assert_eq!(
        tokens(&app, &stranger).await.body.as_array().map(Vec::len),
        Some(1)
    );

    // The owner revokes the phone's token from the laptop.
    let revoked = app
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{phone_id}"),
            Some(&laptop),
            None,
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{:?}", revoked.body);
    assert_eq!(
        app.get("/v1/orgs/listing", &phone).await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = app
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{phone_id}"),
            Some(&laptop),
            None,
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{:?}", again.body);
    assert_eq!(
        tokens(&app, &laptop).await.body.as_array().map(Vec::len),
        Some(2)
    );

    // Logging out everywhere revokes the rest, and nobody else's.
    let out = app
        .call(
            Method::POST,
            "/v1/logout?all=true",
            Some(&laptop),
            None,
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    for token in [&laptop, &org.owner_token] {
        assert_eq!(
            app.get("/v1/orgs/listing", token).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(tokens(&app, &stranger).await.status, StatusCode::OK);
}

/// After logout (one token, or all), the token is 401 at once on every route, including a
/// payment the server remembers the payer for, one that would be refused, and a replay.
#[tokio::test]
async fn a_logged_out_token_is_401_at_once_even_for_refusals_and_replays() {
    let app = TestApp::new().await;
    let (org, ana, _, bo_id, key) = ana_paid_once(&app, "logout").await;
    let out = app
        .call(Method::POST, "/v1/logout", Some(&ana), None, None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    assert_shut_out(&app, &org, &ana, bo_id, &key).await;

    let (org, ana, _, bo_id, key) = ana_paid_once(&app, "logout-all").await;
    let out = app
        .call(Method::POST, "/v1/logout?all=true", Some(&ana), None, None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    assert_shut_out(&app, &org, &ana, bo_id, &key).await;
}

/// Another server revokes the token (here: straight in the database). This server still
/// remembers the payer, but answers nothing the payment's write did not check before looking
/// the token up again.
#[tokio::test]
async fn a_token_revoked_elsewhere_gets_no_refusal_and_no_replay_from_memory() {
    let app = TestApp::new().await;
    let (org, ana, ana_id, bo_id, key) = ana_paid_once(&app, "elsewhere").await;
    sql(
        &app,
        "UPDATE control.api_tokens SET revoked_at = now() WHERE user_id = $1",
        ana_id,
    )
    .await;
    assert_shut_out(&app, &org, &ana, bo_id, &key).await;

    // Removed from the org elsewhere: refusals and replays say so too, not "insufficient funds".
    let (org, ana, ana_id, bo_id, key) = ana_paid_once(&app, "removed").await;
    sql(
        &app,
        "DELETE FROM control.memberships m USING control.tenants t
         WHERE m.tenant_id = t.id AND t.slug = 'removed' AND m.user_id = $1",
        ana_id,
    )
    .await;
    for r in [
        app.pay(&org, &ana, bo_id, "500", &rand_key()).await,
        app.pay(&org, &ana, bo_id, "1", &key).await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
}

/// The memory still answers refusals and replays of a valid token as before.
#[tokio::test]
async fn a_valid_remembered_token_still_gets_refusals_and_replays() {
    let app = TestApp::new().await;
    let (org, ana, _, bo_id, key) = ana_paid_once(&app, "still").await;
    let refused = app.pay(&org, &ana, bo_id, "500", &rand_key()).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.code(), "insufficient_funds");
    let replay = app.pay(&org, &ana, bo_id, "1", &key).await;
    assert_eq!(replay.status, StatusCode::CREATED, "{:?}", replay.body);
}

/// Login takes as long for an email nobody has as for a wrong password, so the time of the
/// answer does not tell which emails have an account.
#[tokio::test]
async fn login_takes_as_long_for_an_unknown_email() {
    let app = TestApp::new().await;
    app.user("known").await;
    let attempt = |email: &'static str| {
        let app = &app;
        async move {
            let start = Instant::now();
            let r = app
                .call(
                    Method::POST,
                    "/v1/login",
                    None,
                    Some(json!({"email": email, "password": "wrong password"})),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
            start.elapsed()
        }
    };
    // Once each first, so neither pays for warming up.
    attempt("known@example.org").await;
    attempt("nobody@example.org").await;
    let (mut known, mut unknown) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        known = known.min(attempt("known@example.org").await);
        unknown = unknown.min(attempt("nobody@example.org").await);
    }
    assert!(
        unknown * 2 > known,
        "unknown email {unknown:?}, wrong password {known:?}"
    );
}

/// A replay is answered from the journal without writing, so nothing in it checks the token:
/// the first request after a revocation elsewhere, if it is a replay, must still be 401.
#[tokio::test]
async fn a_replay_first_after_a_revocation_elsewhere_is_401() {
    let app = TestApp::new().await;
    let (org, ana, ana_id, bo_id, key) = ana_paid_once(&app, "replayfirst").await;
    sql(
        &app,
        "UPDATE control.api_tokens SET revoked_at = now() WHERE user_id = $1",
        ana_id,
    )
    .await;
    let replay = app.pay(&org, &ana, bo_id, "1", &key).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{:?}", replay.body);
}
