//! What one caller can make the service do: per-address and per-account limits on signing in,
//! verification on a budget, one caller's bad slug in a shared lookup, a database that is
//! down, panics, unread bodies, slow clients and the connection limit.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use coinsence_api::Core;
use coinsence_api::http::limits::LimitConfig;
use coinsence_api::http::serve::{ServeConfig, spawn_for_test};
use coinsence_api::http::{HttpConfig, router_with};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::helpers::TestApp;

fn limits(per_minute: u32, failures: u32, lock_for: Duration) -> HttpConfig {
    HttpConfig {
        limits: LimitConfig {
            auth_per_minute: per_minute,
            login_failures: failures,
            failure_window: Duration::from_secs(600),
            lock_for,
        },
        max_in_flight: 1000,
        admission_target: Duration::from_millis(20),
        ..HttpConfig::default()
    }
}

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

/// A JSON POST as if it came from `from` over the network.
async fn post_from(router: &Router, from: [u8; 4], path: &str, body: Value) -> Answer {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((from, 40000))));
    let res = router
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = res.status();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    Answer {
        status,
        retry_after,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn login(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

#[tokio::test]
async fn an_address_past_its_allowance_gets_429_with_retry_after() {
    let app = TestApp::new().await;
    app.user("ana").await;
    let router = router_with(app.core.clone(), limits(3, 100, Duration::from_secs(60)));
    for _ in 0..3 {
        let r = post_from(
            &router,
            [10, 0, 0, 1],
            "/v1/login",
            login("ana@example.org", "wrong password"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    }
    // The fourth in the minute, even with the right password, and on the other sign-in routes.
    let r = post_from(
        &router,
        [10, 0, 0, 1],
        "/v1/login",
        login("ana@example.org", "correct horse"),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    assert_eq!(r.body["code"], "rate_limited");
    assert!(
        r.retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{:?}",
        r.retry_after
    );
    let r = post_from(
        &router,
        [10, 0, 0, 1],
        "/v1/signup",
        json!({"email": "new@example.org", "password": "correct horse", "display_name": "New"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    let r = post_from(
        &router,
        [10, 0, 0, 1],
        "/v1/login/link",
        json!({"code": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    // Another address is not affected.
    let r = post_from(
        &router,
        [10, 0, 0, 2],
        "/v1/login",
        login("ana@example.org", "correct horse"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn a_locked_account_gets_429_even_with_the_right_password_from_elsewhere() {
    let app = TestApp::new().await;
    app.user("ana").await;
    let lock_for = Duration::from_secs(2);
    let router = router_with(app.core.clone(), limits(1000, 3, lock_for));
    // Three failures from three addresses lock the account.
    for i in 0..3 {
        let r = post_from(
            &router,
            [10, 0, 1, i],
            "/v1/login",
            login("ana@example.org", "guess"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    }
    let locked_at = Instant::now();
    let r = post_from(
        &router,
        [10, 0, 2, 1],
        "/v1/login",
        login("Ana@Example.org", "correct horse"),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    assert!(r.retry_after.is_some_and(|s| (1..=2).contains(&s)));
    // An email nobody registered is locked the same way: the lock tells nothing.
    for _ in 0..3 {
        let r = post_from(
            &router,
            [10, 0, 3, 1],
            "/v1/login",
            login("nobody@example.org", "guess"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = post_from(
        &router,
        [10, 0, 3, 1],
        "/v1/login",
        login("nobody@example.org", "guess"),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Other accounts log in meanwhile; the lock ends after its period.
    app.user("bob").await;
    let r = post_from(
        &router,
        [10, 0, 2, 1],
        "/v1/login",
        login("bob@example.org", "correct horse"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    tokio::time::sleep(lock_for.saturating_sub(locked_at.elapsed()) + Duration::from_millis(100))
        .await;
    let r = post_from(
        &router,
        [10, 0, 2, 1],
        "/v1/login",
        login("ana@example.org", "correct horse"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn members_share_a_recent_verification_and_admins_get_a_fresh_one() {
    let app = TestApp::new().await;
    let org = app.org("verify-budget").await;
    let (member, member_id) = app.member(&org, "mia").await;
    let entries = |report: &Value| report["currencies"][0]["journal_entries"].as_i64();
    let path = format!("/v1/orgs/{}/ledger/verify", org.slug);
    let first = app.get(&path, &member).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let r = app.issue(&org, member_id, "5.00").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // Many members at once: one replay, one answer, the minute-old one.
    let answers = futures::future::join_all((0..20).map(|_| app.get(&path, &member))).await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        assert_eq!(entries(&answer.body), entries(&first.body));
    }
    // An admin's verification replays the journal now.
    let fresh = app.verify(&org).await;
    assert_eq!(fresh["ok"], true);
    assert_eq!(entries(&fresh), entries(&first.body).map(|n| n + 1));
    let seals = format!("/v1/orgs/{}/ledger/seals/verify", org.slug);
    let answers = futures::future::join_all((0..10).map(|_| app.get(&seals, &member))).await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        assert_eq!(answer.body["ok"], true);
    }
}

#[tokio::test]
async fn a_slug_with_a_nul_byte_fails_only_its_own_request() {
    let app = TestApp::new().await;
    let org = app.org("shared-lookup").await;
    let good = format!("/v1/orgs/{}/accounts", org.slug);
    let requests = (0..200).map(|i| {
        let path = if i % 10 == 0 {
            "/v1/orgs/bad%00slug/accounts".to_owned()
        } else {
            good.clone()
        };
        let app = &app;
        let token = org.owner_token.clone();
        async move { (path.contains("%00"), app.get(&path, &token).await) }
    });
    let answers = futures::future::join_all(requests).await;
    let others_failed = answers
        .iter()
        .filter(|(bad, answer)| !bad && answer.status != StatusCode::OK)
        .count();
    assert_eq!(others_failed, 0, "requests failed for another's bad slug");
    for (_, answer) in answers.iter().filter(|(bad, _)| *bad) {
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{:?}", answer.body);
    }
}

#[tokio::test]
async fn a_database_that_is_down_answers_503_with_retry_after() {
    // Nothing listens on port 1: every connection is refused.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgresql://postgres@127.0.0.1:1/none")
        .unwrap();
    let router = router_with(Core::new(pool), HttpConfig::default());
    let r = post_from(
        &router,
        [10, 9, 9, 9],
        "/v1/login",
        login("ana@example.org", "correct horse"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.body["code"], "unavailable");
    assert_eq!(r.retry_after, Some(1));
    let req = Request::builder()
        .uri("/v1/orgs/some-org/accounts")
        .header("authorization", "Bearer cs_whatever")
        .body(Body::empty())
        .unwrap();
    let res = router.oneshot(req).await.unwrap_or_else(|e| match e {});
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_can_leave_the_public_router() {
    let app = TestApp::new().await;
    let config = HttpConfig {
        public_metrics: false,
        ..HttpConfig::default()
    };
    let router = router_with(app.core.clone(), config);
    let get = |router: Router| async move {
        let req = Request::builder()
            .uri("/metrics")
            .body(Body::empty())
            .unwrap();
        router
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {})
            .status()
    };
    assert_eq!(get(router).await, StatusCode::NOT_FOUND);
    assert_eq!(
        get(coinsence_api::http::metrics_router()).await,
        StatusCode::OK
    );
}

// ---- over real connections ----

fn quick(header_timeout: Duration, max_connections: usize) -> ServeConfig {
    ServeConfig {
        header_timeout,
        idle_timeout: Duration::from_secs(30),
        max_connections,
    }
}

/// Reads one HTTP/1 response (headers and a Content-Length body) off `stream`.
async fn read_response(stream: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = find(&got, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                let text = String::from_utf8_lossy(&got[..end + 4 + length]).into_owned();
                got.drain(..end + 4 + length);
                return Some(text);
            }
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn boom() -> &'static str {
    panic!("a handler bug")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_keeps_the_connection() {
    let boom = coinsence_api::http::with_common_layers(Router::new().route("/boom", get(boom)));
    let (addr, _stop) = spawn_for_test(boom, quick(Duration::from_secs(5), 16))
        .await
        .unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for _ in 0..2 {
        stream
            .write_all(b"GET /boom HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_response(&mut stream)
            .await
            .expect("no answer to a panicking handler");
        assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
    }
}

#[tokio::test]
async fn a_415_before_the_body_arrived_keeps_the_next_request() {
    let app = TestApp::new().await;
    let (addr, _stop) = spawn_for_test(app.router.clone(), quick(Duration::from_secs(5), 16))
        .await
        .unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = r#"{"email":"ana@example.org","password":"x"}"#;
    let head = format!(
        "POST /v1/login HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // The headers first, the body a moment later (as many clients send them).
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(body.as_bytes()).await.unwrap();
    let first = read_response(&mut stream).await.expect("no answer");
    assert!(first.starts_with("HTTP/1.1 415"), "{first}");
    // The same connection takes the next request, or says it will not.
    let closes = first.to_lowercase().contains("connection: close");
    let sent = stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let second = read_response(&mut stream).await;
    assert!(
        closes
            || (sent.is_ok()
                && second
                    .as_deref()
                    .is_some_and(|r| r.starts_with("HTTP/1.1 200"))),
        "the next request was lost on a connection that did not say `Connection: close`: {second:?}"
    );
    assert!(
        !closes,
        "a small body should be drained, not close the connection"
    );
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let (addr, _stop) = spawn_for_test(
        Router::new().route("/healthz", get(|| async { "ok" })),
        quick(Duration::from_secs(1), 16),
    )
    .await
    .unwrap();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf)).await;
    // Closed (EOF or reset; hyper may answer 408 first), and within about the timeout.
    assert!(
        read.is_ok(),
        "a client stalled in its headers was kept for 5 s"
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn slow_clients_do_not_keep_a_normal_request_from_its_answer() {
    let app = TestApp::new().await;
    // Four slots; the slow clients take three, then all four.
    let (addr, _stop) = spawn_for_test(app.router.clone(), quick(Duration::from_secs(2), 4))
        .await
        .unwrap();
    let mut slow = Vec::new();
    let stall = |addr| async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost:")
            .await
            .unwrap();
        s
    };
    for _ in 0..3 {
        slow.push(stall(addr).await);
    }
    let normal = |addr| async move {
        let start = Instant::now();
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_response(&mut s).await;
        (answer, start.elapsed())
    };
    let (answer, took) = normal(addr).await;
    assert!(answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")));
    assert!(took < Duration::from_secs(1), "{took:?}");
    // With every slot held by a slow client, a normal request waits for one to time out.
    slow.push(stall(addr).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (answer, took) = normal(addr).await;
    assert!(answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")));
    assert!(took < Duration::from_secs(4), "{took:?}");
    drop(slow);
}

#[tokio::test]
async fn database_errors_are_logged_without_the_rows_values() {
    let app = TestApp::new().await;
    sqlx::query("CREATE TABLE people (email text CONSTRAINT people_email_key UNIQUE)")
        .execute(&app.pool)
        .await
        .unwrap();
    let insert =
        || sqlx::query("INSERT INTO people VALUES ('ana.secret@example.org')").execute(&app.pool);
    insert().await.unwrap();
    let err = coinsence_api::Error::from(insert().await.expect_err("a duplicate was taken"));
    let logged = err.for_log().to_string();
    assert!(logged.contains("23505"), "{logged}");
    assert!(logged.contains("people_email_key"), "{logged}");
    assert!(!logged.contains("ana.secret"), "{logged}");
}

#[tokio::test]
async fn past_the_requests_in_flight_an_overloaded_service_sheds_quickly() {
    let app = TestApp::new().await;
    let config = HttpConfig {
        max_in_flight: 1,
        ..HttpConfig::default()
    };
    let router = router_with(app.core.clone(), config);
    // A request whose body never comes holds the one place.
    let stalled = Request::builder()
        .method(Method::POST)
        .uri("/v1/login")
        .header("content-type", "application/json")
        .body(Body::from_stream(futures::stream::pending::<
            Result<axum::body::Bytes, std::io::Error>,
        >()))
        .unwrap();
    let held = tokio::spawn(router.clone().oneshot(stalled));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Not overloaded yet: a newcomer waits its patience (2 s) for the place, then is shed.
    let started = Instant::now();
    let r = post_from(
        &router,
        [10, 0, 0, 9],
        "/v1/login",
        login("ana@example.org", "guess"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.retry_after, Some(1));
    assert!(started.elapsed() >= Duration::from_secs(1));
    // The recent requests waited long: overloaded, so the next is shed within the target.
    let started = Instant::now();
    let r = post_from(
        &router,
        [10, 0, 0, 9],
        "/v1/login",
        login("ana@example.org", "guess"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert!(started.elapsed() < Duration::from_millis(500));
    // Health answers whatever the load; once the place is free, requests are taken again.
    let health = Request::builder()
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    let res = router
        .clone()
        .oneshot(health)
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(res.status(), StatusCode::OK);
    held.abort();
    let _ = held.await;
    let r = post_from(
        &router,
        [10, 0, 0, 9],
        "/v1/login",
        login("ana@example.org", "guess"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
}
