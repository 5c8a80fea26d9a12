//! Who is who: a chat identity cannot be claimed through an email address, reserved addresses
//! are refused, new orgs are capped per person and address, mention-created members per room,
//! and a connect code does not reveal another org's name.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform, MENTION_ADMISSIONS_PER_HOUR};
use coinsence_api::domain::identity::ApiToken;
use coinsence_api::domain::ids::UserId;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_api::domain::orgs::{NewOrg, OrgCaps};
use coinsence_api::domain::tenancy::OrgSlug;
use coinsence_api::error::Error;
use coinsence_api::refusal::Refusal;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{Response, TestApp, rand_key};

/// The address a chat user got before: derived from the public platform id alone.
fn old_placeholder(platform: &str, id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    format!(
        "{platform}.{}@chat.coinsence.invalid",
        hex::encode(&digest[..10])
    )
}

async fn signup(app: &TestApp, email: &str) -> Response {
    app.call(
        Method::POST,
        "/v1/signup",
        None,
        Some(json!({"email": email, "password": "correct horse", "display_name": "Mallory"})),
        None,
    )
    .await
}

fn ok<T>(result: Result<T, Error>) -> T {
    result.unwrap()
}

#[tokio::test]
async fn a_chat_identity_cannot_be_claimed_by_signing_up_with_its_address() {
    let app = TestApp::new().await;
    let org = app.org("claims").await;
    let victim = ok(ChatIdentity::new(ChatPlatform::Matrix, "@ana:example.org"));
    let address = old_placeholder("matrix", "@ana:example.org");

    // The attacker tries the address the chat person would have got, and its variants.
    for email in [
        address.as_str(),
        &address.to_uppercase(),
        "someone@chat.coinsence.invalid",
        "x@anything.invalid",
    ] {
        let r = signup(&app, email).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email}: {:?}",
            r.body
        );
        assert_eq!(r.body["field"], "email", "{email}");
    }
    // Nor may an admin add anyone by such an address.
    let added = app
        .post(
            "/v1/orgs/claims/members",
            &org.owner_token,
            json!({"email": address}),
        )
        .await;
    assert_eq!(
        added.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        added.body
    );
    assert_eq!(added.body["field"], "email");

    // An account holding that address anyway (made before signups were refused) gains nothing:
    // the chat person, when first seen (paid by mention), is a fresh user of their own.
    let (mallory,): (i64,) = sqlx::query_as(
        "INSERT INTO control.users (email, password_hash, display_name) VALUES ($1, 'x', 'M')
         RETURNING id",
    )
    .bind(&address)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (ana, admitted) = ok(pay_mention(&app, &org, "!room", &victim, "Ana").await);
    assert!(admitted);
    assert_ne!(ana.id, UserId(mallory));
    assert_ne!(ana.email, address);
    assert!(
        ana.email.ends_with("@chat.coinsence.invalid"),
        "{}",
        ana.email
    );
    assert_eq!(ok(app.core.chat_user(&victim, "Ana").await).id, ana.id);

    // Payments meant for her reach her.
    assert_eq!(
        app.issue(&org, org.owner_id, "10").await.status,
        StatusCode::CREATED
    );
    let paid = app
        .pay(&org, &org.owner_token, ana.id.0, "4", &rand_key())
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    assert_eq!(app.balance(&org, &org.owner_token, ana.id.0).await, "4.01");
    let (mallory_memberships,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM control.memberships WHERE user_id = $1")
            .bind(mallory)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(mallory_memberships, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_sightings_make_one_user() {
    let app = TestApp::new().await;
    let org = std::sync::Arc::new(app.org("sightings").await);
    let app = std::sync::Arc::new(app);
    pay_mention(
        &app,
        &org,
        "warm-up",
        &ok(ChatIdentity::new(ChatPlatform::Console, "x")),
        "X",
    )
    .await
    .unwrap();
    let who = ok(ChatIdentity::new(ChatPlatform::Discord, "123456789"));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (app, org, who) = (app.clone(), org.clone(), who.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                app.core.chat_user(&who, "Bea").await.map(|u| u.id)
            } else {
                let room = format!("room-{}", i % 3);
                pay_mention(&app, &org, &room, &who, "Bea")
                    .await
                    .map(|(u, _)| u.id)
            }
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(ok(task.await.unwrap()));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let (users, admissions): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM control.chat_identities WHERE platform = 'discord'),
                (SELECT count(*) FROM control.chat_mention_admissions WHERE platform = 'discord')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((users, admissions), (1, 1));
}

#[tokio::test]
async fn a_room_admits_a_limited_number_of_members_by_mention_per_hour() {
    let app = TestApp::new().await;
    let org = app.org("mentions").await;
    let person = |n: i64| {
        ok(ChatIdentity::new(
            ChatPlatform::Matrix,
            &format!("@p{n}:hs"),
        ))
    };
    for n in 0..MENTION_ADMISSIONS_PER_HOUR {
        let (_, admitted) = ok(pay_mention(&app, &org, "!busy", &person(n), "P").await);
        assert!(admitted);
    }
    let refused = pay_mention(&app, &org, "!busy", &person(999), "P").await;
    match refused {
        Err(Error::Refused(Refusal::MentionLimitReached { limit })) => {
            assert_eq!(limit, MENTION_ADMISSIONS_PER_HOUR);
        }
        other => panic!("{other:?}"),
    }
    // Nobody was created for the refused mention.
    let (known,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM control.chat_identities WHERE platform_user_id = '@p999:hs'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(known, 0);
    // Members already admitted are still paid there; another room has its own count.
    let (_, again) = ok(pay_mention(&app, &org, "!busy", &person(0), "P").await);
    assert!(!again);
    let (_, elsewhere) = ok(pay_mention(&app, &org, "!quiet", &person(999), "P").await);
    assert!(elsewhere);
}

#[tokio::test]
async fn a_connect_code_does_not_name_the_org_a_room_is_bound_to() {
    let app = TestApp::new().await;
    app.org("secret-club").await;
    app.org("other").await;
    let first = ok(app
        .core
        .create_connect_code_for(&ok(OrgSlug::parse("secret-club")))
        .await);
    ok(app
        .core
        .connect_room(ChatPlatform::Matrix, "!r:hs", &first.code, None)
        .await);
    let second = ok(app
        .core
        .create_connect_code_for(&ok(OrgSlug::parse("other")))
        .await);
    match app
        .core
        .connect_room(ChatPlatform::Matrix, "!r:hs", &second.code, None)
        .await
    {
        Err(e @ Error::Refused(Refusal::RoomConnectedElsewhere)) => {
            let said = e.to_string();
            assert!(!said.contains("secret-club"), "{said}");
            assert!(said.contains("another community"), "{said}");
        }
        other => panic!("{:?}", other.map(|c| c.tenant.slug)),
    }
}

#[tokio::test]
async fn a_person_creates_at_most_five_orgs_a_day() {
    let app = TestApp::new().await;
    let (token, _) = app.user("founder").await;
    for n in 0..5 {
        let r = app
            .post(
                "/v1/orgs",
                &token,
                json!({"slug": format!("mine-{n}"), "name": "n"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {:?}", r.body);
    }
    let sixth = app
        .post("/v1/orgs", &token, json!({"slug": "mine-5", "name": "n"}))
        .await;
    assert_eq!(
        sixth.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        sixth.body
    );
    assert_eq!(sixth.code(), "rate_limited");
    let (made,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM control.tenants WHERE slug = 'mine-5'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(made, 0);
    // The operator is not capped.
    let user = ok(app
        .core
        .user_for_token(&ApiToken::from_presented(&token))
        .await);
    let org = NewOrg {
        slug: ok(OrgSlug::parse("mine-5")),
        name: "n".into(),
        open: true,
        language: Default::default(),
    };
    ok(app.core.create_org(&user, org).await);
}

/// Signups with an org count towards the address's cap, which the HTTP server reads from the
/// connection.
#[tokio::test]
async fn an_address_creates_a_limited_number_of_orgs_a_day() {
    let app = TestApp::new().await;
    let core = app.core.clone().with_org_caps(OrgCaps {
        per_person: 5,
        per_address: 2,
    });
    let router = coinsence_api::http::router(core);
    let from = |ip: [u8; 4]| ConnectInfo(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), 4242));
    let signup = |n: usize, ip: [u8; 4]| {
        let body = json!({
            "email": format!("owner{n}@example.org"), "password": "correct horse",
            "display_name": "O", "org": {"slug": format!("addr-{n}"), "name": "n"}
        });
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/v1/signup")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        req.extensions_mut().insert(from(ip));
        req
    };
    let status = |req: Request<Body>| {
        let router = router.clone();
        async move {
            use tower::ServiceExt;
            let res = router.oneshot(req).await.unwrap_or_else(|e| match e {});
            (
                res.status(),
                res.headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok()),
            )
        }
    };
    assert_eq!(
        status(signup(0, [203, 0, 113, 7])).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        status(signup(1, [203, 0, 113, 7])).await.0,
        StatusCode::CREATED
    );
    let (third, retry) = status(signup(2, [203, 0, 113, 7])).await;
    assert_eq!(third, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        retry.is_some_and(|s| s > 86_000 && s <= 86_400),
        "{retry:?}"
    );
    // Nothing of the refused signup stayed, not even the user.
    let (users,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM control.users WHERE email = 'owner2@example.org'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(users, 0);
    assert_eq!(
        status(signup(3, [198, 51, 100, 1])).await.0,
        StatusCode::CREATED
    );
}

/// A chat payment's key, as the engine makes one from the platform's event id.
fn event() -> IdempotencyKey {
    IdempotencyKey::scoped("matrix", "!room", &crate::helpers::rand_key()).unwrap()
}

/// The org's owner pays 0.01 COIN to someone mentioned in `room` (funded first, once), as
/// `!pay @who 0.01` does from chat: the payee and whether the payment admitted them.
async fn pay_mention(
    app: &TestApp,
    org: &crate::helpers::Org,
    room: &str,
    who: &ChatIdentity,
    name: &str,
) -> coinsence_api::Result<(coinsence_api::domain::identity::User, bool)> {
    let owner = app
        .core
        .member_for_token(&ApiToken::from_presented(&org.owner_token), &org.slug)
        .await?;
    if app.balance(org, &org.owner_token, org.owner_id).await == "0.00" {
        assert_eq!(
            app.issue(org, org.owner_id, "100").await.status,
            StatusCode::CREATED
        );
    }
    let request = MoveRequest {
        currency: "COIN".to_owned(),
        to: AccountRef::Issuance,
        amount: "0.01".to_owned(),
        memo: String::new(),
    };
    app.core
        .chat_pay_newcomer(&owner, room, who, name, request, event())
        .await
        .map(|(_, user, admitted)| (user, admitted))
}
