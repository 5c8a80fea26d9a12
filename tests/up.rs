//! `coinsence up` as a newcomer runs it: a private cluster, the demo org, the API; Ctrl-C stops
//! everything, the cluster too; a second `up` reuses the data.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

struct Up {
    child: Child,
    base: String,
    token: String,
}

fn start(data_dir: &Path) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (mut base, mut token, mut chat_hint) = (None, None, false);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_default();
        chat_hint |= line.contains("coinsence chat --data-dir") && line.contains("--org demo");
        if let Some(url) = line.strip_prefix("Coinsence is up at ") {
            base = Some(url.trim().to_owned());
        }
        if let Some(t) = line.strip_prefix("admin token: ") {
            token = Some(t.trim().to_owned());
        }
        if line.starts_with("API document") {
            break;
        }
    }
    assert!(chat_hint, "up says how to use the console chat");
    Up {
        child,
        base: base.unwrap_or_else(|| panic!("up printed no URL")),
        token: token.unwrap_or_else(|| panic!("up printed no token")),
    }
}

fn stop(mut up: Up) {
    let pid = up.child.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status();
    assert!(status.is_ok_and(|s| s.success()));
    for _ in 0..300 {
        if let Ok(Some(status)) = up.child.try_wait() {
            assert!(status.success(), "up exited with {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = up.child.kill();
    panic!("up did not stop within 30 s of Ctrl-C");
}

async fn ada_balance(client: &reqwest::Client, up: &Up) -> String {
    let accounts: Value = client
        .get(format!("{}/v1/orgs/demo/accounts", up.base))
        .bearer_auth(&up.token)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let all = accounts.as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 5, "issuance, fund and three members: {accounts}");
    all.iter()
        .find(|a| a["owner_user_id"] == json!(1))
        .and_then(|a| a["balance"].as_str())
        .unwrap_or("?")
        .to_owned()
}

/// The console chat through a pipe, beside the running `up`: what it prints.
fn chat(data_dir: &Path, name: &str, input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(["chat", "--org", "demo", "--as", name, "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn chat: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("chat: {e}"));
    assert!(out.status.success(), "chat exited with {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn up_runs_the_demo_and_stops_cleanly_and_reuses_its_data() {
    let dir = std::env::temp_dir().join(format!("coinsence-up-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::new();

    let up = start(&dir);
    assert_eq!(ada_balance(&client, &up).await, "100.00");
    let paid = client
        .post(format!("{}/v1/orgs/demo/transfers", up.base))
        .bearer_auth(&up.token)
        .header("idempotency-key", "lunch")
        .json(&json!({"currency": "DEMO", "to_member": 2, "amount": "3.50", "memo": "lunch"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(paid.status(), reqwest::StatusCode::CREATED);
    let answers = chat(&dir, "Ben", "/balance\n/pay @cleo 1.5 for tea\n/balance\n");
    assert!(
        answers.contains("• 53.50 DEMO")
            && answers.contains("Paid 1.50 DEMO to Cleo for tea.")
            && answers.contains("• 52.00 DEMO"),
        "{answers}"
    );
    stop(up);
    let pid_file = dir.join("postgres/data/postmaster.pid");
    assert!(!pid_file.exists(), "the cluster stopped with up");

    let again = start(&dir);
    assert_eq!(
        ada_balance(&client, &again).await,
        "96.50",
        "the second up reuses the data"
    );
    stop(again);
    let _ = std::fs::remove_dir_all(&dir);
}
