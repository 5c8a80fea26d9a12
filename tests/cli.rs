//! The commands the README names, run as an operator runs them against a test database:
//! `migrate` (twice), `org create`, `org list`, `org connect-code` (its code binds a room) and the
//! console `chat` through a pipe. (`up` is in tests/up.rs; `audit verify`, `migrate
//! --background/--status` and `worker --status` in tests/worker_cli.rs.)

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
    let mut input = child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("stdin is piped"));
    input
        .write_all(stdin.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
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
    let (pool, url) = coinsence_api::testing::test_database()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let core = Core::new(pool);

    let first = ok(&url, &["migrate"], "");
    assert!(first.contains("0 failed"), "{first}");

    let created = ok(
        &url,
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
    );
    let token = created
        .lines()
        .find_map(|l| l.strip_prefix("owner token (shown once): "))
        .unwrap_or_else(|| panic!("org create prints the owner's token: {created}"));
    let admin = core
        .member_for_token(&ApiToken::from_presented(token.trim()), "tea")
        .await
        .unwrap_or_else(|e| panic!("the printed token is the owner's: {e}"));

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
        .unwrap_or_else(|e| panic!("the printed code binds a room: {e}"));
    assert_eq!(connected.tenant.slug.as_str(), "tea");
    assert!(!connected.again);

    let unknown = coinsence(&url, &["org", "connect-code", "no-such-org"], "");
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success(), "{said}");
    assert!(unknown.stdout.is_empty(), "no code for an unknown org");
    assert!(
        said.contains("org not found"),
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
    .unwrap_or_else(|e| panic!("{e}"));
    let chat = ["chat", "--org", "tea", "--as", "Cleo"];
    let hello = ok(&url, &chat, "/balance\n");
    assert!(!hello.trim().is_empty(), "chat answers /balance");
    let cleo = core
        .members(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|m| m.display_name == "Cleo")
        .unwrap_or_else(|| panic!("Cleo joined from the console"));
    core.issue(
        &admin,
        MoveRequest {
            currency: "TEA".to_owned(),
            to: AccountRef::Member(cleo.user_id),
            amount: "12.50".to_owned(),
            memo: "welcome".to_owned(),
        },
        IdempotencyKey::scoped("test", "cli", "welcome").unwrap_or_else(|e| panic!("{e}")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let balance = ok(&url, &chat, "/balance\n");
    assert!(balance.contains("12.50 TEA"), "{balance}");
}
