//! A refusal reaches the caller as its code, its arguments as members, and a `detail` in the
//! caller's language: their own choice, else `Accept-Language`, else the org's, else English.
//! The caller's language is theirs to read and set (`/v1/me`); the org's is an admin's.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Response, TestApp};

/// A vote on a proposal that does not exist, with this `Accept-Language` (if any).
async fn unknown_vote(app: &TestApp, slug: &str, token: &str, accept: Option<&str>) -> Response {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/orgs/{slug}/proposals/999/votes"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(accept) = accept {
        req = req.header("accept-language", accept);
    }
    let req = req
        .body(Body::from(json!({"choice": "yes"}).to_string()))
        .unwrap();
    let r = app.raw(req).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "proposal_not_found"),
        "{:?}",
        r.body
    );
    r
}

fn detail(r: &Response) -> &str {
    r.body["detail"].as_str().unwrap_or("")
}

const EN: &str = "There is no such proposal here.";
const DE: &str = "Diesen Antrag gibt es hier nicht.";

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> Response {
    app.call(Method::PATCH, path, Some(token), Some(body), None)
        .await
}

#[tokio::test]
async fn detail_is_in_the_callers_language() {
    let app = TestApp::new().await;
    let org = app.org("sprachen").await;
    let (ana, _) = app.member(&org, "ana").await;

    // Nobody chose: English, unless the request asks for German.
    assert_eq!(
        detail(&unknown_vote(&app, "sprachen", &ana, None).await),
        EN
    );
    assert_eq!(
        detail(&unknown_vote(&app, "sprachen", &ana, Some("de-DE,de;q=0.9,en;q=0.8")).await),
        DE
    );
    assert_eq!(
        detail(&unknown_vote(&app, "sprachen", &ana, Some("fr")).await),
        EN
    );

    // A person who chose German reads German, whatever the request says.
    let me = patch(&app, "/v1/me", &ana, json!({"language": "de"})).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["language"], "de");
    assert_eq!(app.get("/v1/me", &ana).await.body["language"], "de");
    assert_eq!(
        detail(&unknown_vote(&app, "sprachen", &ana, None).await),
        DE
    );
    assert_eq!(
        detail(&unknown_vote(&app, "sprachen", &ana, Some("en")).await),
        DE
    );

    // One who chose English reads English, even asking for German.
    patch(&app, "/v1/me", &ana, json!({"language": "en"})).await;
    assert_eq!(
        detail(&unknown_vote(&app, "sprachen", &ana, Some("de")).await),
        EN
    );

    // `null` gives the choice back: then the org's language decides when the request names none.
    let reset = patch(&app, "/v1/me", &ana, json!({"language": null})).await;
    assert_eq!(reset.body["language"], Value::Null, "{:?}", reset.body);
    let set = patch(
        &app,
        "/v1/orgs/sprachen",
        &org.owner_token,
        json!({"language": "de"}),
    )
    .await;
    assert_eq!(
        (set.status, set.body["language"].as_str()),
        (StatusCode::OK, Some("de")),
        "{:?}",
        set.body
    );
    assert_eq!(
        detail(&unknown_vote(&app, "sprachen", &ana, None).await),
        DE
    );
    assert_eq!(
        detail(&unknown_vote(&app, "sprachen", &ana, Some("en")).await),
        EN,
        "the request's language comes before the org's"
    );
    // A field the body leaves out does not change.
    let same = patch(&app, "/v1/me", &ana, json!({})).await;
    assert_eq!(same.body["language"], Value::Null, "{:?}", same.body);
    let bad = patch(&app, "/v1/me", &ana, json!({"language": "fr"})).await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );
}

#[tokio::test]
async fn arguments_are_members_of_the_problem() {
    let app = TestApp::new().await;
    let org = app.org("args").await;
    let (ana, _) = app.member(&org, "ana").await;
    let (_, bo_id) = app.member(&org, "bo").await;
    let r = app
        .call(
            Method::POST,
            "/v1/orgs/args/transfers",
            Some(&ana),
            Some(json!({"currency": "COIN", "to_member": bo_id, "amount": "1.001"})),
            Some("args-1"),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "amount_too_many_decimals"),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["field"], "amount");
    assert_eq!(r.body["places"], 2);
    assert_eq!(r.body["type"], "/problems/amount_too_many_decimals");
    assert_eq!(
        detail(&r),
        "That amount does not work: this currency has 2 decimal places; the amount has more."
    );
}

#[tokio::test]
async fn only_an_admin_of_the_org_changes_its_language() {
    let app = TestApp::new().await;
    let org = app.org("ours").await;
    let other = app.org("theirs").await;
    let (mia, _) = app.member(&org, "mia").await;

    let refused = patch(&app, "/v1/orgs/ours", &mia, json!({"language": "de"})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "not_admin"),
        "{:?}",
        refused.body
    );
    // Another org's admin meets the wall.
    let walled = patch(
        &app,
        "/v1/orgs/ours",
        &other.owner_token,
        json!({"language": "de"}),
    )
    .await;
    assert_eq!(
        (walled.status, walled.code()),
        (StatusCode::FORBIDDEN, "not_a_member"),
        "{:?}",
        walled.body
    );
    assert_eq!(
        app.get("/v1/orgs/ours", &org.owner_token).await.body["language"],
        "en"
    );
    let done = patch(
        &app,
        "/v1/orgs/ours",
        &org.owner_token,
        json!({"language": "de"}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(app.get("/v1/orgs/ours", &mia).await.body["language"], "de");
}
