//! The OpenAPI document fuzzed with Schemathesis against a running `coinsence serve`: no 5xx,
//! every answer in its documented content type and matching its documented schema. A private
//! cluster, an org `demo` with members, money and one of each object, and its admin's token on
//! every request. Bounded: a fixed number of examples per operation and a fixed seed, so CI
//! stays within minutes and a failure reproduces.
//!
//! Schemathesis lives in the virtualenv `.ci/deps` installs; without it the test skips loudly,
//! except under CI=true, where it fails. A longer dedicated run: `COINSENCE_ST_MAX_EXAMPLES=200`;
//! other checks (e.g. to look past one kind of failure): `COINSENCE_ST_CHECKS=not_a_server_error`.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Examples per operation and phase: enough to find what a hostile client finds first, few
/// enough for CI.
const MAX_EXAMPLES: &str = "25";
const CHECKS: &str = "not_a_server_error,content_type_conformance,response_schema_conformance";

fn schemathesis() -> Option<PathBuf> {
    let venv = std::env::var("COINSENCE_SCHEMATHESIS_VENV").map_or_else(
        |_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/coinsence/schemathesis-venv")
        },
        PathBuf::from,
    );
    let st = venv.join("bin/st");
    let works = Command::new(&st)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        return Some(st);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "Schemathesis is not installed at {}: .ci/deps installs it",
        st.display()
    );
    eprintln!(
        "\n*** SKIPPING the Schemathesis run: it is not installed at {} (run .ci/deps) ***\n",
        st.display()
    );
    None
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(db_url: &str) -> (Serve, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(["serve", "--database-url", db_url])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("COINSENCE_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let server = Serve(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "serve was not ready within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, base)
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut req = client
        .post(format!("{base}{path}"))
        .header("idempotency-key", format!("seed-{}", rand_key()))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "seeding {path}: {status} {body}");
    body
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn rand_key() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

/// The demo org through the API: an admin, two members with money, and one of each object, so
/// that fuzzed ids (small integers) sometimes name something real. Returns the admin's token.
async fn seed(base: &str) -> String {
    let c = reqwest::Client::new();
    let owner = send(
        &c,
        base,
        "/v1/signup",
        None,
        json!({"email": "ada@demo.test", "password": "correct horse", "display_name": "Ada",
               "org": {"slug": "demo", "name": "Demo"}}),
    )
    .await;
    let token = owner["token"].as_str().unwrap_or_default().to_owned();
    let t = Some(token.as_str());
    send(
        &c,
        base,
        "/v1/orgs/demo/currencies",
        t,
        json!({"code": "DEMO", "name": "Demo", "scale": 2}),
    )
    .await;
    let mut members = Vec::new();
    for name in ["ben", "cleo"] {
        let m = send(&c, base, "/v1/signup", None,
            json!({"email": format!("{name}@demo.test"), "password": "correct horse", "display_name": name})).await;
        let mt = m["token"].as_str().unwrap_or_default().to_owned();
        let id = m["user"]["id"].as_i64().unwrap_or_default();
        let r = c
            .post(format!("{base}/v1/orgs/demo/join"))
            .bearer_auth(&mt)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        send(
            &c,
            base,
            "/v1/orgs/demo/issuance",
            t,
            json!({"currency": "DEMO", "to_member": id, "amount": "100"}),
        )
        .await;
        members.push((mt, id));
    }
    let (ben, _) = &members[0];
    let b = Some(ben.as_str());
    send(
        &c,
        base,
        "/v1/orgs/demo/issuance",
        t,
        json!({"currency": "DEMO", "to_member": owner["user"]["id"], "amount": "100"}),
    )
    .await;
    send(
        &c,
        base,
        "/v1/orgs/demo/transfers",
        b,
        json!({"currency": "DEMO", "to_member": members[1].1, "amount": "1.50", "memo": "tea"}),
    )
    .await;
    send(
        &c,
        base,
        "/v1/orgs/demo/proposals",
        b,
        json!({"title": "A bench", "action": {"kind": "free_text"}}),
    )
    .await;
    send(
        &c,
        base,
        "/v1/orgs/demo/pledges",
        b,
        json!({"currency": "DEMO", "amount": "3", "description": "soup"}),
    )
    .await;
    let deadline = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    send(
        &c,
        base,
        "/v1/orgs/demo/projects",
        t,
        json!({"title": "Tools", "currency": "DEMO", "goal": "50", "deadline": deadline,
               "share_code": "TOOL", "rate": "1"}),
    )
    .await;
    send(
        &c,
        base,
        "/v1/orgs/demo/listings",
        b,
        json!({"kind": "offer", "title": "Bread", "price": "2", "currency": "DEMO"}),
    )
    .await;
    send(&c, base, "/v1/orgs/demo/posts", b, json!({"body": "hello"})).await;
    send(
        &c,
        base,
        "/v1/orgs/demo/issuance-policies",
        t,
        json!({"currency": "DEMO", "period": "weekly", "time_zone": "UTC", "fixed_amount": "1"}),
    )
    .await;
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_holds_under_schemathesis() {
    let Some(st) = schemathesis() else { return };
    let (_pool, db_url) = coinsence_api::testing::test_database()
        .await
        .expect("test database");
    let (_server, base) = serve(&db_url).await;
    let token = seed(&base).await;

    let dir = std::env::temp_dir().join(format!("coinsence-st-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Every `{org}` is the demo org: a random slug only ever finds nothing, and the point is to
    // reach the handlers. (Hostile slugs have their own tests.)
    let config = dir.join("schemathesis.toml");
    std::fs::write(&config, "[parameters]\n\"path.org\" = \"demo\"\n").unwrap();
    let started = Instant::now();
    let out = Command::new(&st)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{base}/v1/openapi.json"))
        .args(["--checks", &env_or("COINSENCE_ST_CHECKS", CHECKS)])
        .args([
            "--max-examples",
            &env_or("COINSENCE_ST_MAX_EXAMPLES", MAX_EXAMPLES),
        ])
        .args(["--seed", "20261127"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--workers", "2", "--request-timeout", "20"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Logging out would revoke the very token the run uses.
        .args(["--exclude-path", "/v1/logout"])
        .args(["--output-truncate", "false"])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", st.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "schemathesis took {:.0} s:\n{report}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "Schemathesis found failures (report above)"
    );
}
