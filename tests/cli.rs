//! The commands the README names, run as an operator runs them against a test database:
//! `migrate` (twice), `org create`, `org list`, `org connect-code` (its code binds a room) and the
//! console `chat` through a pipe; without `DATABASE_URL`, the commands find `up`'s private cluster.
//! `--database-url` goes before or after every command, `bots` included. (`up` is in tests/up.rs;
//! `audit verify`, `migrate --background/--status` and `worker --status` in tests/worker_cli.rs.)

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use coinsence_api::Core;
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_api::domain::identity::ApiToken;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest, NewCurrency};

/// The binary with the database in `DATABASE_URL`, as the README's operator sets it, and `stdin`
/// piped in. Backtraces are on, as in many an operator's shell: an error must still read as one.
fn coinsence(url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("COINSENCE_LOG", "warn")
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs a command that must succeed; its standard output.
fn ok(url: &str, args: &[&str], stdin: &str) -> String {
    let out = coinsence(url, args, stdin);
    assert!(
        out.status.success(),
        "{args:?} exited with {}:\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `coinsence org create` of the Tea Club, as the README has it; what it printed.
fn create_tea(url: &str) -> String {
    ok(
        url,
        &[
            "org",
            "create",
            "--slug",
            "tea",
            "--name",
            "Tea Club",
            "--owner-email",
            "owner@tea.test",
        ],
        "",
    )
}

/// The binary with the database given only by flags (no `DATABASE_URL`), wherever they are put.
fn coinsence_flags(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("COINSENCE_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// One rule for every command: `--database-url` before the command's name or after it. `bots`
/// takes it like the others (and, with no bot configured, says so rather than misreading it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_flag_goes_before_or_after_every_command() {
    let (_pool, url) = coinsence_api::testing::test_database().await.unwrap();
    let flag = ["--database-url", url.as_str()];
    let before = |tail: &[&str]| coinsence_flags(&[&flag[..], tail].concat());
    let after = |tail: &[&str]| coinsence_flags(&[tail, &flag[..]].concat());
    succeeded(&before(&["migrate"]));
    succeeded(&after(&["migrate"]));
    create_tea(&url);
    for run in [before(&["org", "list"]), after(&["org", "list"])] {
        assert!(succeeded(&run).contains("Tea Club"));
    }
    for run in [
        before(&["org", "connect-code", "tea"]),
        after(&["org", "connect-code", "tea"]),
    ] {
        assert!(is_connect_code(succeeded(&run).trim()));
    }
    for run in [
        before(&["audit", "verify", "--org", "tea"]),
        after(&["audit", "verify", "--org", "tea"]),
    ] {
        assert!(succeeded(&run).contains("ok"));
    }
    for run in [before(&["bots"]), after(&["bots"])] {
        let said = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(!run.status.success());
        assert!(
            said.contains("no bot") && !said.contains("unexpected argument"),
            "{said}"
        );
    }
}

/// A connect code as people type it: three groups of four unambiguous letters and digits.
fn is_connect_code(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 3
        && groups.iter().all(|g| {
            g.len() == 4
                && g.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_commands_create_an_org_hand_out_a_working_code_and_answer_in_chat() {
    let (pool, url) = coinsence_api::testing::test_database().await.unwrap();
    let core = Core::new(pool);

    let first = ok(&url, &["migrate"], "");
    assert!(first.contains("0 failed"), "{first}");

    let created = create_tea(&url);
    let token = created
        .lines()
        .find_map(|l| l.strip_prefix("owner token (shown once): "))
        .unwrap_or_else(|| panic!("org create prints the owner's token: {created}"));
    let admin = core
        .member_for_token(&ApiToken::from_presented(token.trim()), "tea")
        .await
        .expect("the printed token is the owner's");

    let listed = ok(&url, &["org", "list"], "");
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().next() == Some("tea") && l.contains("Tea Club")),
        "{listed}"
    );

    // Run again with an org in place: nothing left to do, nothing failed.
    let again = ok(&url, &["migrate"], "");
    assert!(
        again.contains("0 updated") && again.contains("1 already up to date"),
        "{again}"
    );

    let printed = ok(&url, &["org", "connect-code", "tea"], "");
    let code = printed.trim();
    assert!(is_connect_code(code), "{printed:?}");
    let connected = core
        .connect_room(ChatPlatform::Matrix, "!tea:example.org", code, None)
        .await
        .expect("the printed code binds a room");
    assert_eq!(connected.tenant.slug.as_str(), "tea");
    assert!(!connected.again);

    let unknown = coinsence(&url, &["org", "connect-code", "no-such-org"], "");
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success(), "{said}");
    assert!(unknown.stdout.is_empty(), "no code for an unknown org");
    assert!(
        said.contains("There is no such org here."),
        "the error says what is missing: {said}"
    );
    assert!(
        !said.to_lowercase().contains("backtrace") && !said.contains("panicked"),
        "an operator's mistake is an error, not a crash: {said}"
    );

    // README: `echo '/balance' | coinsence chat --org demo --as Cleo`. A new name becomes a
    // member of the open org; once issued money, her balance is what chat answers.
    core.create_currency(
        &admin,
        NewCurrency {
            code: "TEA".to_owned(),
            name: "Tea".to_owned(),
            scale: 2,
            credit_limit: None,
        },
    )
    .await
    .unwrap();
    let chat = ["chat", "--org", "tea", "--as", "Cleo"];
    let hello = ok(&url, &chat, "/balance\n");
    assert!(!hello.trim().is_empty(), "chat answers /balance");
    let cleo = core
        .members(&admin)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.display_name == "Cleo")
        .expect("Cleo joined from the console");
    core.issue(
        &admin,
        MoveRequest {
            currency: "TEA".to_owned(),
            to: AccountRef::Member(cleo.user_id),
            amount: "12.50".to_owned(),
            memo: "welcome".to_owned(),
        },
        IdempotencyKey::scoped("test", "cli", "welcome").unwrap(),
    )
    .await
    .unwrap();
    let balance = ok(&url, &chat, "/balance\n");
    assert!(balance.contains("12.50 TEA"), "{balance}");
}

/// The binary as an operator runs it beside `coinsence up`: no `DATABASE_URL`, the data
/// directory instead.
fn coinsence_at(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env("COINSENCE_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exited with {}:\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every command finds the database as `chat` does: without `--database-url`, `up`'s private
/// cluster under the data directory, the running one or started for the command (and stopped
/// after it); with neither, the error says what to do.
#[test]
fn audit_verify_and_the_other_commands_find_ups_cluster_without_a_url() {
    use coinsence_api::cluster::{Cluster, ClusterOptions};
    let dir = std::env::temp_dir().join(format!("coinsence-cli-local-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pg = dir.join("postgres");
    // What `coinsence up` leaves behind while it runs: its cluster under the data directory.
    // (Removed with whatever server runs in it when this test process ends, even after a panic.)
    let cluster = Cluster::start(
        &pg,
        ClusterOptions {
            fsync: false,
            remove_on_exit: true,
        },
    )
    .unwrap();
    succeeded(&coinsence_at(&dir, &["migrate"]));
    let created = succeeded(&coinsence_at(
        &dir,
        &[
            "org",
            "create",
            "--slug",
            "local",
            "--name",
            "Local",
            "--owner-email",
            "owner@local.test",
        ],
    ));
    assert!(created.contains("owner token"), "{created}");
    let verified = succeeded(&coinsence_at(&dir, &["audit", "verify", "--org", "local"]));
    assert!(verified.contains("ok: the journal matches"), "{verified}");
    let code = succeeded(&coinsence_at(&dir, &["org", "connect-code", "local"]));
    assert!(is_connect_code(code.trim()), "{code}");

    // `up` has stopped: the command starts the cluster for itself and stops it again.
    cluster.stop().unwrap();
    let verified = succeeded(&coinsence_at(&dir, &["audit", "verify", "--org", "local"]));
    assert!(verified.contains("ok: the journal matches"), "{verified}");
    assert!(
        !pg.join("data/postmaster.pid").exists(),
        "the cluster started for the command is stopped after it"
    );

    let nowhere = dir.join("elsewhere");
    let out = coinsence_at(&nowhere, &["audit", "verify", "--org", "local"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("--database-url") && said.contains("coinsence up"),
        "without a database the error says where one comes from: {said}"
    );
    if let Ok(shared) = pg.canonicalize() {
        let _ = std::fs::remove_dir_all(shared);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `migrate --check`: whether it passed, and what it printed.
fn check(url: &str) -> (bool, String) {
    let out = coinsence(url, &["migrate", "--check"], "");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_check_fails_while_anything_is_behind_names_it_and_changes_nothing() {
    let (pool, url) = coinsence_api::testing::test_database().await.unwrap();
    let sql = |q: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::raw_sql(q)
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("{q}: {e}"));
        }
    };
    // A database nobody migrated yet.
    sql("DROP SCHEMA control CASCADE").await;
    let (passed, said) = check(&url);
    assert!(!passed, "{said}");
    assert!(said.contains("control plane behind"), "{said}");
    let (control,): (Option<String>,) = sqlx::query_as("SELECT to_regnamespace('control')::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(control, None, "--check created nothing");

    ok(&url, &["migrate"], "");
    create_tea(&url);
    let (passed, said) = check(&url);
    assert!(passed, "{said}");
    assert!(said.contains("current"), "{said}");

    // One org's schema falls behind the release (emptied, as in a failed restore).
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM control.tenants WHERE slug = 'tea'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let reset = format!("DROP SCHEMA org_{id} CASCADE; CREATE SCHEMA org_{id};");
    sqlx::raw_sql(sqlx::AssertSqlSafe(reset))
        .execute(&pool)
        .await
        .unwrap();
    let (passed, said) = check(&url);
    assert!(!passed, "{said}");
    assert!(
        said.contains("org tea") && said.contains("1 of 1 orgs behind"),
        "{said}"
    );
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'org_' || $1::text")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tables, 0, "--check migrated nothing");

    ok(&url, &["migrate"], "");
    let (passed, said) = check(&url);
    assert!(passed, "after migrate it is current: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_exported_by_the_cli_imports_elsewhere_once_and_passes_the_audit_there() {
    let (pool, url) = coinsence_api::testing::test_database().await.unwrap();
    let core = Core::new(pool);
    ok(&url, &["migrate"], "");
    let created = create_tea(&url);
    let token = created
        .lines()
        .find_map(|l| l.strip_prefix("owner token (shown once): "))
        .unwrap_or_else(|| panic!("{created}"));
    let admin = core
        .member_for_token(&ApiToken::from_presented(token.trim()), "tea")
        .await
        .unwrap();
    core.create_currency(
        &admin,
        NewCurrency {
            code: "TEA".to_owned(),
            name: "Tea".to_owned(),
            scale: 2,
            credit_limit: None,
        },
    )
    .await
    .unwrap();
    for n in 0..3 {
        core.issue(
            &admin,
            MoveRequest {
                currency: "TEA".to_owned(),
                to: AccountRef::Member(admin.user.id),
                amount: "1.50".to_owned(),
                memo: format!("round {n}"),
            },
            IdempotencyKey::scoped("test", "cli", &format!("round-{n}")).unwrap(),
        )
        .await
        .unwrap();
    }
    let tenant = core.tenant("tea").await.unwrap();
    core.seal_journal(&tenant, chrono::Utc::now())
        .await
        .unwrap();
    let file = std::env::temp_dir().join(format!("coinsence-cli-{}.jsonl", std::process::id()));
    let path = file.to_string_lossy().into_owned();
    let exported = ok(&url, &["org", "export", "tea", "--out", &path], "");
    assert!(exported.contains("exported org tea"), "{exported}");

    let (_, elsewhere) = coinsence_api::testing::test_database().await.unwrap();
    let imported = ok(&elsewhere, &["org", "import", &path], "");
    assert!(imported.contains("imported org tea"), "{imported}");
    let audit = ok(&elsewhere, &["audit", "verify", "--org", "tea"], "");
    assert!(
        audit.contains("1 seals over 3 entries") && audit.contains("ok"),
        "{audit}"
    );
    let again = coinsence(&elsewhere, &["org", "import", &path], "");
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && said.contains("exists here already"),
        "{said}"
    );
    ok(&elsewhere, &["org", "import", &path, "--slug", "tea-2"], "");
    let listed = ok(&elsewhere, &["org", "list"], "");
    assert!(
        listed.contains("tea-2") && listed.contains("Tea Club"),
        "{listed}"
    );
    let _ = std::fs::remove_file(file);
}
