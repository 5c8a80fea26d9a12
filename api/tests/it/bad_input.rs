//! Bad input gets a 4xx problem document, never a 500, and writes nothing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn bad_transfers_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let org = app.org("strict").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    app.issue(&org, ana_id, "100").await;
    let rows = app.journal_rows("strict").await;

    let p = |amount: Value| json!({"currency": "COIN", "to_member": bo_id, "amount": amount});
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            p(json!("-5")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_not_positive",
        ),
        (
            p(json!("0")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_not_positive",
        ),
        (
            p(json!("0.00")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_not_positive",
        ),
        (
            p(json!("1.001")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_too_many_decimals",
        ),
        (
            p(json!("1e2")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_malformed",
        ),
        (
            p(json!("92233720368547758.07")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_funds",
        ),
        (
            p(json!("92233720368547758.08")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_too_large",
        ),
        (
            p(json!("99999999999999999999999999")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_too_large",
        ),
        (
            p(json!(10)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            p(json!(10.5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            p(json!(null)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({"currency": "NOPE", "to_member": bo_id, "amount": "1"}),
            StatusCode::NOT_FOUND,
            "currency_not_found",
        ),
        (
            json!({"currency": "coin", "to_member": bo_id, "amount": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency_code_malformed",
        ),
        (
            json!({"currency": "COIN", "to_member": 999_999, "amount": "1"}),
            StatusCode::NOT_FOUND,
            "receiving_account_not_found",
        ),
        (
            json!({"currency": "COIN", "to_account": 999_999, "amount": "1"}),
            StatusCode::NOT_FOUND,
            "receiving_account_not_found",
        ),
        (
            json!({"currency": "COIN", "to_account": -1, "amount": "1"}),
            StatusCode::NOT_FOUND,
            "receiving_account_not_found",
        ),
        (
            json!({"currency": "COIN", "to_member": ana_id, "amount": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "same_account",
        ),
        (
            json!({"currency": "COIN", "amount": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "exactly_one_recipient",
        ),
        (
            json!({"currency": "COIN", "to_member": bo_id, "to_account": 1, "amount": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "exactly_one_recipient",
        ),
        (
            json!({"to_member": bo_id, "amount": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({"currency": "COIN", "to_member": "bo", "amount": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({"currency": "COIN", "to_member": bo_id, "amount": "1", "memo": "x".repeat(501)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text_too_long",
        ),
        (
            json!([1, 2]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
    ];
    for (i, (body, status, code)) in cases.into_iter().enumerate() {
        let r = app
            .call(
                Method::POST,
                "/v1/orgs/strict/transfers",
                Some(&ana),
                Some(body.clone()),
                Some(&format!("bad-{i}")),
            )
            .await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {:?}", r.body);
        assert_eq!(r.content_type, "application/problem+json", "{body}");
    }

    let raw = |body: Body, content_type: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/v1/orgs/strict/transfers")
            .header("authorization", format!("Bearer {ana}"))
            .header("idempotency-key", "raw")
            .header("content-type", content_type)
            .body(body)
            .unwrap()
    };
    let malformed = app
        .raw(raw(
            Body::from("{\"currency\": \"COIN\", "),
            "application/json",
        ))
        .await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );
    let not_json = app
        .raw(raw(
            Body::from("amount=1"),
            "application/x-www-form-urlencoded",
        ))
        .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!(
        "{{\"currency\": \"COIN\", \"to_member\": {bo_id}, \"amount\": \"1\", \"memo\": \"{}\"}}",
        "x".repeat(200_000)
    );
    let oversized = app.raw(raw(Body::from(huge), "application/json")).await;
    assert_eq!(
        (oversized.status, oversized.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert_eq!(oversized.content_type, "application/problem+json");

    assert_eq!(
        app.journal_rows("strict").await,
        rows,
        "nothing was written"
    );
    assert_eq!(app.balance(&org, &ana, ana_id).await, "100.00");
    assert_eq!(app.verify(&org).await["ok"], json!(true));
}

#[tokio::test]
async fn amounts_at_the_edge_of_i64_never_overflow() {
    let app = TestApp::new().await;
    let org = app.org("edge").await;
    let (_ana, ana_id) = app.member(&org, "ana").await;
    let max = app.issue(&org, ana_id, "92233720368547758.07").await;
    assert_eq!(max.status, StatusCode::CREATED, "{:?}", max.body);
    let more = app.issue(&org, ana_id, "0.01").await;
    assert_eq!(
        (more.status, more.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "ceiling_exceeded")
    );
    let report = app.verify(&org).await;
    assert_eq!(report["ok"], json!(true), "{report}");
}

#[tokio::test]
async fn bad_signups_and_currencies_are_field_errors() {
    let app = TestApp::new().await;
    let org = app.org("fields").await;
    let signup = |email: &str, password: &str, name: &str| json!({"email": email, "password": password, "display_name": name});
    for (body, field) in [
        (signup("not-an-email", "long enough", "x"), "email"),
        (signup("a@b.org", "short", "x"), "password"),
        (signup("a@b.org", "long enough", "  "), "display_name"),
    ] {
        let r = app
            .call(Method::POST, "/v1/signup", None, Some(body), None)
            .await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field))
        );
    }
    let taken = app
        .call(
            Method::POST,
            "/v1/signup",
            None,
            Some(signup("owner@fields.example.org", "long enough", "x")),
            None,
        )
        .await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::CONFLICT, "email_taken")
    );

    let path = "/v1/orgs/fields/currencies";
    for (body, field) in [
        (json!({"code": "C", "name": "x", "scale": 2}), "currency"),
        (
            json!({"code": "lower", "name": "x", "scale": 2}),
            "currency",
        ),
        (
            json!({"code": "TOOLONGCODE", "name": "x", "scale": 2}),
            "currency",
        ),
        (json!({"code": "OK", "name": "x", "scale": 7}), "scale"),
        (json!({"code": "OK", "name": "x", "scale": -1}), "scale"),
        (json!({"code": "OK", "name": "", "scale": 2}), "name"),
        (
            json!({"code": "OK", "name": "x", "scale": 2, "credit_limit": "-5"}),
            "credit_limit",
        ),
    ] {
        let r = app.post(path, &org.owner_token, body.clone()).await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}"
        );
    }
    let dup = app
        .post(
            path,
            &org.owner_token,
            json!({"code": "COIN", "name": "again", "scale": 0}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, "currency_code_taken")
    );
    let list = app.get(path, &org.owner_token).await.body;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let unknown = app.get("/v1/nothing-here", &org.owner_token).await;
    assert_eq!(
        (unknown.status, unknown.content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
}

#[tokio::test]
async fn mutual_credit_lets_members_go_below_zero_down_to_their_limit() {
    let app = TestApp::new().await;
    let org = app.org("lets").await;
    let c = app
        .post(
            "/v1/orgs/lets/currencies",
            &org.owner_token,
            json!({"code": "HOUR", "name": "Hours", "scale": 0, "credit_limit": "10"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let (ana, _) = app.member(&org, "ana").await;
    let (_, bo_id) = app.member(&org, "bo").await;
    let pay = |amount: &'static str, key: &'static str| {
        app.call(
            Method::POST,
            "/v1/orgs/lets/transfers",
            Some(&ana),
            Some(json!({"currency": "HOUR", "to_member": bo_id, "amount": amount})),
            Some(key),
        )
    };
    assert_eq!(pay("8", "a").await.status, StatusCode::CREATED);
    assert_eq!(pay("3", "b").await.code(), "insufficient_funds");
    assert_eq!(pay("2", "c").await.status, StatusCode::CREATED);
    assert_eq!(app.verify(&org).await["ok"], json!(true));
}
