//! People's text on every route that takes some: a NUL, a control character or a direction
//! override is a 422 naming the field (never a 500: PostgreSQL refuses NUL in `text`), and
//! nothing is written.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Org, TestApp, rand_key};

/// What is refused in every field that takes a person's text.
const BAD: [&str; 3] = ["bad\u{0}text", "bad\u{7}text", "\u{202e}evil"];

/// One text field of one route: the body with `bad` put in that field.
struct Case {
    path: String,
    token: Option<String>,
    keyed: bool,
    field: &'static str,
    body: Box<dyn Fn(&str) -> Value>,
}

fn case(
    path: &str,
    token: Option<&str>,
    keyed: bool,
    field: &'static str,
    body: impl Fn(&str) -> Value + 'static,
) -> Case {
    Case {
        path: path.to_owned(),
        token: token.map(str::to_owned),
        keyed,
        field,
        body: Box::new(body),
    }
}

/// Rows of everything a refused request could have written.
async fn written(app: &TestApp, org: &Org) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for table in [
        "control.users",
        "control.tenants",
        "control.memberships",
        "control.api_tokens",
    ] {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&app.pool)
                .await
                .unwrap_or_else(|e| panic!("{table}: {e}"));
        counts.push((table.to_owned(), n));
    }
    for table in [
        "currencies",
        "accounts",
        "transfers",
        "issuance_policies",
        "proposals",
        "pledges",
        "projects",
        "listings",
        "posts",
        "comments",
        "outbox",
        "requests",
    ] {
        counts.push((table.to_owned(), app.count(&org.slug, table).await));
    }
    counts
}

#[tokio::test]
async fn control_and_invisible_characters_are_field_errors_on_every_route() {
    let app = TestApp::new().await;
    let org = app.org("texts").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (_bo, bo_id) = app.member(&org, "bo").await;
    let (loner, _) = app.user("loner").await;
    app.issue(&org, ana_id, "100").await;
    // Leaked so that every case's closure can own a copy of `project`.
    let deadline: &'static str = Box::leak(
        (chrono::Utc::now() + chrono::Duration::days(3))
            .to_rfc3339()
            .into_boxed_str(),
    );
    let project = move |title: &str, description: &str, share_name: &str, code: &str, cur: &str| {
        json!({"title": title, "description": description, "share_name": share_name,
               "share_code": code, "currency": cur, "goal": "50", "rate": "1",
               "deadline": deadline})
    };
    let made = app
        .post(
            "/v1/orgs/texts/projects",
            &ana,
            project("Tools", "for all", "Tool shares", "TOOL", "COIN"),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let project_id = made.body["id"].as_i64().unwrap_or_default();
    let post = app
        .post("/v1/orgs/texts/posts", &ana, json!({"body": "hello"}))
        .await;
    assert_eq!(post.status, StatusCode::CREATED, "{:?}", post.body);
    let post_id = post.body["id"].as_i64().unwrap_or_default();

    let signup = |email: &str, name: &str, slug: &str, org_name: &str| {
        json!({"email": email, "password": "correct horse", "display_name": name,
               "org": {"slug": slug, "name": org_name}})
    };
    let owner = Some(org.owner_token.as_str());
    let member = Some(ana.as_str());
    let pay = move |cur: &str, memo: &str| json!({"currency": cur, "to_member": bo_id, "amount": "1", "memo": memo});
    let proposal = |title: &str, description: &str| json!({"title": title, "description": description, "action": {"kind": "free_text"}});
    let pledge = |cur: &str, description: &str| json!({"currency": cur, "amount": "1", "description": description});
    let listing = |title: &str, description: &str, cur: &str| {
        json!({"kind": "offer", "title": title, "description": description, "price": "1",
               "currency": cur})
    };
    let cases = vec![
        case("/v1/signup", None, false, "email", move |s| {
            signup(&format!("x{s}@example.org"), "X", "new-org", "New")
        }),
        case("/v1/signup", None, false, "display_name", move |s| {
            signup("x@example.org", s, "new-org", "New")
        }),
        case("/v1/signup", None, false, "slug", move |s| {
            signup("x@example.org", "X", s, "New")
        }),
        case("/v1/signup", None, false, "name", move |s| {
            signup("x@example.org", "X", "new-org", s)
        }),
        case(
            "/v1/orgs",
            Some(loner.as_str()),
            false,
            "slug",
            |s| json!({"slug": s, "name": "New"}),
        ),
        case(
            "/v1/orgs",
            Some(loner.as_str()),
            false,
            "name",
            |s| json!({"slug": "new-org", "name": s}),
        ),
        case(
            "/v1/orgs/texts/members",
            owner,
            false,
            "email",
            |s| json!({"email": format!("loner{s}@example.org")}),
        ),
        case(
            "/v1/orgs/texts/currencies",
            owner,
            false,
            "currency",
            |s| json!({"code": s, "name": "Hours", "scale": 0}),
        ),
        case(
            "/v1/orgs/texts/currencies",
            owner,
            false,
            "name",
            |s| json!({"code": "HOUR", "name": s, "scale": 0}),
        ),
        case(
            "/v1/orgs/texts/transfers",
            member,
            true,
            "currency",
            move |s| pay(s, ""),
        ),
        case("/v1/orgs/texts/transfers", member, true, "memo", move |s| {
            pay("COIN", s)
        }),
        case(
            "/v1/orgs/texts/issuance",
            owner,
            true,
            "currency",
            move |s| pay(s, ""),
        ),
        case("/v1/orgs/texts/issuance", owner, true, "memo", move |s| {
            pay("COIN", s)
        }),
        case(
            "/v1/orgs/texts/issuance-policies",
            owner,
            false,
            "currency",
            |s| json!({"currency": s, "period": "weekly", "fixed_amount": "1"}),
        ),
        case(
            "/v1/orgs/texts/issuance-policies",
            owner,
            false,
            "time_zone",
            |s| json!({"currency": "COIN", "period": "weekly", "fixed_amount": "1", "time_zone": s}),
        ),
        case(
            "/v1/orgs/texts/proposals",
            member,
            false,
            "title",
            move |s| proposal(s, ""),
        ),
        case(
            "/v1/orgs/texts/proposals",
            member,
            false,
            "description",
            move |s| proposal("A title", s),
        ),
        case(
            "/v1/orgs/texts/proposals",
            member,
            false,
            "email",
            |s| json!({"title": "Admit", "action": {"kind": "admit_member", "email": format!("loner{s}@example.org")}}),
        ),
        case(
            "/v1/orgs/texts/proposals",
            member,
            false,
            "currency",
            move |s| json!({"title": "Issue", "action": {"kind": "issue_to_account", "currency": s, "to_member": bo_id, "amount": "1"}}),
        ),
        case(
            "/v1/orgs/texts/pledges",
            member,
            false,
            "currency",
            move |s| pledge(s, "work"),
        ),
        case(
            "/v1/orgs/texts/pledges",
            member,
            false,
            "description",
            move |s| pledge("COIN", s),
        ),
        case(
            "/v1/orgs/texts/projects",
            member,
            false,
            "title",
            move |s| project(s, "", "Shares", "SHARE", "COIN"),
        ),
        case(
            "/v1/orgs/texts/projects",
            member,
            false,
            "description",
            move |s| project("Title", s, "Shares", "SHARE", "COIN"),
        ),
        case(
            "/v1/orgs/texts/projects",
            member,
            false,
            "share_name",
            move |s| project("Title", "", s, "SHARE", "COIN"),
        ),
        case(
            "/v1/orgs/texts/projects",
            member,
            false,
            "share_code",
            move |s| project("Title", "", "Shares", s, "COIN"),
        ),
        case(
            "/v1/orgs/texts/projects",
            member,
            false,
            "currency",
            move |s| project("Title", "", "Shares", "SHARE", s),
        ),
        case(
            &format!("/v1/orgs/texts/projects/{project_id}/payments"),
            member,
            true,
            "memo",
            move |s| json!({"to_member": bo_id, "amount": "1", "memo": s}),
        ),
        case(
            "/v1/orgs/texts/listings",
            member,
            false,
            "title",
            move |s| listing(s, "", "COIN"),
        ),
        case(
            "/v1/orgs/texts/listings",
            member,
            false,
            "description",
            move |s| listing("Title", s, "COIN"),
        ),
        case(
            "/v1/orgs/texts/listings",
            member,
            false,
            "currency",
            move |s| listing("Title", "", s),
        ),
        case(
            "/v1/orgs/texts/posts",
            member,
            false,
            "body",
            |s| json!({"body": s}),
        ),
        case(
            &format!("/v1/orgs/texts/posts/{post_id}/comments"),
            member,
            false,
            "body",
            |s| json!({"body": s}),
        ),
    ];

    let before = written(&app, &org).await;
    for c in &cases {
        for bad in BAD {
            let body = (c.body)(bad);
            let key = c.keyed.then(rand_key);
            let r = app
                .call(
                    Method::POST,
                    &c.path,
                    c.token.as_deref(),
                    Some(body.clone()),
                    key.as_deref(),
                )
                .await;
            // Each field refuses with its own code: names and codes by their form, texts by
            // the character, which the answer names.
            let expected = match c.field {
                "currency" | "share_code" => "currency_code_malformed",
                "email" => "email_malformed",
                "slug" => "slug_malformed",
                "time_zone" => "time_zone_unknown",
                "body" | "description" => "character_not_allowed_in_text",
                _ => "character_not_allowed_in_line",
            };
            assert_eq!(
                (r.status, r.code(), r.body["field"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, expected, Some(c.field)),
                "POST {} {body}: {:?}",
                c.path,
                r.body
            );
            assert_eq!(r.content_type, "application/problem+json", "{}", c.path);
        }
    }
    assert_eq!(written(&app, &org).await, before, "nothing was written");
}

#[tokio::test]
async fn logins_with_control_characters_are_refused_not_errors() {
    let app = TestApp::new().await;
    app.user("ana").await;
    for (email, password) in [
        ("ana\u{0}@example.org", "correct horse"),
        ("ana@example.org\u{0}", "correct horse"),
        ("\u{202e}ana@example.org", "correct horse"),
        ("ana@example.org", "correct horse\u{0}"),
        ("ana@example.org", "\u{0}"),
    ] {
        let r = app
            .call(
                Method::POST,
                "/v1/login",
                None,
                Some(json!({"email": email, "password": password})),
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.code(), r.content_type.as_str()),
            (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "application/problem+json"
            ),
            "{email:?} {password:?}: {:?}",
            r.body
        );
    }
    // A password is hashed, never stored as text: any character may be in it.
    let odd = "correct\u{0}horse\u{202e}";
    let signed = app
        .call(
            Method::POST,
            "/v1/signup",
            None,
            Some(json!({"email": "odd@example.org", "password": odd, "display_name": "Odd"})),
            None,
        )
        .await;
    assert_eq!(signed.status, StatusCode::CREATED, "{:?}", signed.body);
    let login = app
        .call(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"email": "odd@example.org", "password": odd})),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    let link = app
        .call(
            Method::POST,
            "/v1/login/link",
            None,
            Some(json!({"code": "AB\u{0}CD"})),
            None,
        )
        .await;
    assert_eq!(link.status, StatusCode::UNAUTHORIZED, "{:?}", link.body);
}

#[tokio::test]
async fn slugs_with_control_characters_are_unknown_orgs() {
    let app = TestApp::new().await;
    let org = app.org("paths").await;
    for slug in ["pa%00ths", "paths%00", "%E2%80%AEpaths", "pa%07ths"] {
        for (method, path) in [
            (Method::GET, format!("/v1/orgs/{slug}")),
            (Method::GET, format!("/v1/orgs/{slug}/accounts")),
            (Method::POST, format!("/v1/orgs/{slug}/join")),
        ] {
            let r = app
                .call(method.clone(), &path, Some(&org.owner_token), None, None)
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::NOT_FOUND, "org_not_found"),
                "{method} {path}: {:?}",
                r.body
            );
        }
    }
    let fine = app.get("/v1/orgs/paths", &org.owner_token).await;
    assert_eq!(fine.status, StatusCode::OK);
}
