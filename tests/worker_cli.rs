//! The worker's commands as an operator runs them, against a test database: `audit verify`
//! finds a rewritten journal row, `migrate --background/--status` and `worker --status` report.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use coinsence_api::Core;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest, NewCurrency};
use coinsence_api::domain::orgs::NewOrg;
use coinsence_api::domain::tenancy::OrgSlug;

fn coinsence(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("COINSENCE_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_finds_a_rewritten_journal_row_and_the_status_commands_report() {
    let (pool, url) = coinsence_api::testing::test_database().await.unwrap();
    let core = Core::new(pool.clone());
    let owner = core
        .signup(
            "owner@audited.test",
            "correct horse".to_owned(),
            "Owner",
            Some(NewOrg {
                slug: OrgSlug::parse("audited").unwrap(),
                name: "Audited".to_owned(),
                open: true,
                language: Default::default(),
            }),
        )
        .await
        .unwrap();
    let admin = core
        .member_for_token(&owner.token, "audited")
        .await
        .unwrap();
    core.create_currency(
        &admin,
        NewCurrency {
            code: "AUD".to_owned(),
            name: "Audit".to_owned(),
            scale: 2,
            credit_limit: None,
        },
    )
    .await
    .unwrap();
    for i in 0..4 {
        core.issue(
            &admin,
            MoveRequest {
                currency: "AUD".to_owned(),
                to: AccountRef::Member(owner.user.id),
                amount: "1.00".to_owned(),
                memo: format!("entry {i}"),
            },
            IdempotencyKey::scoped("test", "audit", &i.to_string()).unwrap(),
        )
        .await
        .unwrap();
    }
    core.seal_journal(&admin.tenant, chrono_now())
        .await
        .unwrap();

    let ok = coinsence(&url, &["audit", "verify", "--org", "audited"]);
    assert!(
        ok.status.success(),
        "{}{}",
        stdout(&ok),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout(&ok).contains("1 seals over 4 entries"),
        "{}",
        stdout(&ok)
    );

    // A member's check from outside: over HTTP, with the owner's token, no database.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = coinsence_api::http::router(core.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let state = std::env::temp_dir().join(format!("coinsence-state-{}", std::process::id()));
    let token = owner.token.expose().to_owned();
    let remote = |extra: &[&str]| {
        let mut args = vec!["audit", "verify", "--org", "audited", "--url", &base];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_coinsence"))
            .args(&args)
            .env_remove("DATABASE_URL")
            .env("COINSENCE_TOKEN", &token)
            .env("COINSENCE_STATE_DIR", &state)
            .env("COINSENCE_LOG", "warn")
            .output()
            .unwrap()
    };
    let member_ok = remote(&[]);
    assert!(
        member_ok.status.success(),
        "{}{}",
        stdout(&member_ok),
        String::from_utf8_lossy(&member_ok.stderr)
    );
    assert!(
        stdout(&member_ok).contains("4 of your entries are included"),
        "{}",
        stdout(&member_ok)
    );

    let schema = admin.tenant.schema();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {schema}.transfers DISABLE TRIGGER transfers_append_only;
         UPDATE {schema}.transfers SET amount = amount + 1 WHERE id = (SELECT max(id) FROM {schema}.transfers);
         ALTER TABLE {schema}.transfers ENABLE TRIGGER transfers_append_only;"
    )))
    .execute(&pool)
    .await
    .unwrap();
    let bad = coinsence(&url, &["audit", "verify", "--org", "audited"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    assert!(
        stdout(&bad).contains("MISMATCH at seal 1"),
        "{}",
        stdout(&bad)
    );
    let member_bad = remote(&[]);
    assert_eq!(member_bad.status.code(), Some(1), "{}", stdout(&member_bad));
    assert!(
        stdout(&member_bad).contains("INCONSISTENT tree head 4"),
        "{}",
        stdout(&member_bad)
    );

    let queued = coinsence(&url, &["migrate", "--background"]);
    assert!(
        queued.status.success(),
        "{}",
        String::from_utf8_lossy(&queued.stderr)
    );
    assert!(
        stdout(&queued).contains("0 migration jobs enqueued"),
        "{}",
        stdout(&queued)
    );
    let progress = coinsence(&url, &["migrate", "--status"]);
    assert!(
        stdout(&progress).contains("1/1 orgs at tenant version"),
        "{}",
        stdout(&progress)
    );
    let status = coinsence(&url, &["worker", "--status"]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(
        stdout(&status).contains("coinsence::issuance"),
        "{}",
        stdout(&status)
    );
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
