//! `coinsence up` as a newcomer runs it: a private cluster, the demo org, the API; Ctrl-C stops
//! everything, the cluster too; a second `up` reuses the data.

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

struct Up {
    child: Child,
    base: String,
    token: String,
    /// The database URL `up` prints for bots beside it.
    database: String,
    /// The demo admin's one-time portal login.
    portal_login: String,
}

fn start(data_dir: &Path) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("no stdout");
    let (mut base, mut token, mut database, mut chat_hint, mut portal_login) =
        (None, None, None, false, None);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_default();
        chat_hint |= line.contains("coinsence chat --data-dir") && line.contains("--org demo");
        if let Some(url) = line.strip_prefix("Coinsence is up at ") {
            base = Some(url.trim().to_owned());
        }
        if let Some(t) = line.strip_prefix("admin token: ") {
            token = Some(t.trim().to_owned());
        }
        if let Some(url) = line.strip_prefix("database: ") {
            database = Some(url.trim().to_owned());
        }
        if line.starts_with("log in to the portal as ") {
            portal_login = line.split(": ").nth(1).map(|l| l.trim().to_owned());
        }
        if line.starts_with("API document") {
            break;
        }
    }
    assert!(chat_hint, "up says how to use the console chat");
    Up {
        child,
        base: base.expect("up printed no URL"),
        token: token.expect("up printed no token"),
        database: database.expect("up prints the database URL a bot needs"),
        portal_login: portal_login.expect("up printed no portal login link"),
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
        .unwrap()
        .json()
        .await
        .unwrap();
    let all = accounts.as_array().cloned().unwrap_or_default();
    assert!(
        all.len() >= 5,
        "issuance, fund and three members: {accounts}"
    );
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
        .expect("spawn chat");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().expect("chat");
    assert!(out.status.success(), "chat exited with {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a console bot's outbox delivery sends, by target.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<(String, String)>>);

impl coinsence_bots::delivery::Sink for Recorder {
    fn platform(&self) -> coinsence_api::domain::chat::ChatPlatform {
        coinsence_api::domain::chat::ChatPlatform::Console
    }

    fn send<'a>(
        &'a self,
        target: &'a coinsence_api::domain::chat::ChatTarget,
        reply: &'a coinsence_bots::reply::Reply,
        _txn_id: &'a str,
    ) -> futures::future::BoxFuture<
        'a,
        Result<coinsence_bots::delivery::Sent, coinsence_bots::delivery::SinkError>,
    > {
        Box::pin(async move {
            self.0.lock().unwrap().push((target.key(), reply.plain()));
            Ok(coinsence_bots::delivery::Sent::Delivered)
        })
    }
}

/// One outbox delivery round on `up`'s database, as `coinsence bots` beside it runs.
async fn deliver_beside(url: &str) -> Vec<(String, String)> {
    let pool = coinsence_api::cluster::connect(url, 2).await.unwrap();
    let core = coinsence_api::Core::new(pool);
    let recorder = std::sync::Arc::new(Recorder::default());
    let sinks: Vec<std::sync::Arc<dyn coinsence_bots::delivery::Sink>> = vec![recorder.clone()];
    coinsence_bots::delivery::deliver_once(&core, &sinks)
        .await
        .unwrap();
    recorder.0.lock().unwrap().clone()
}

/// A clone in a home directory only its owner may enter, as root's is (`/root`, mode 0700):
/// there, as root, `up` keeps its cluster where the `postgres` user can reach it.
#[tokio::test]
async fn up_runs_the_demo_and_stops_cleanly_and_reuses_its_data() {
    use std::os::unix::fs::PermissionsExt;
    let home = std::env::temp_dir().join(format!("coinsence-up-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = home.join("coinsence/.coinsence");
    let client = reqwest::Client::new();

    let up = start(&dir);
    assert_eq!(ada_balance(&client, &up).await, "100.00");
    // The portal beside the API, and the demo admin's one-time login into it.
    let home_page = client.get(format!("{}/", up.base)).send().await.unwrap();
    assert_eq!(home_page.status(), reqwest::StatusCode::OK);
    assert!(home_page.text().await.unwrap().contains("/signup"));
    assert!(
        up.portal_login
            .starts_with(&format!("{}/login?code=cl_", up.base)),
        "{}",
        up.portal_login
    );
    let login = client
        .get(&up.portal_login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("hx-trigger=\"load\""), "{login}");
    let paid = client
        .post(format!("{}/v1/orgs/demo/transfers", up.base))
        .bearer_auth(&up.token)
        .header("idempotency-key", "lunch")
        .json(&json!({"currency": "DEMO", "to_member": 2, "amount": "3.50", "memo": "lunch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), reqwest::StatusCode::CREATED);
    let answers = chat(&dir, "Ben", "/balance\n/pay @cleo 1.5 for tea\n/balance\n");
    // A newcomer from chat is given the demo's joining grant and can pay at once.
    let newcomer = chat(&dir, "Dora", "/pay @ben 2\n");
    assert!(
        newcomer.contains("You got 20.00 DEMO") && newcomer.contains("Paid 2.00 DEMO to Ben."),
        "{newcomer}"
    );
    assert!(
        answers.contains("• 53.50 DEMO")
            && answers.contains("Paid 1.50 DEMO to Cleo for tea.")
            && answers.contains("• 52.00 DEMO"),
        "{answers}"
    );
    // The receipt of the API payment waits in the outbox for a bot beside `up` (whose worker
    // delivers the outbox every 10 s when it has a sink): given time, it is still there, and
    // delivery on `up`'s database brings it to Ben's chat.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let sent = deliver_beside(&up.database).await;
    assert!(
        sent.iter()
            .any(|(to, text)| to == "dm:ben" && text.contains("paid you 3.50 DEMO for lunch")),
        "{sent:?}"
    );
    stop(up);
    let pid_file = dir.join("postgres/data/postmaster.pid");
    assert!(!pid_file.exists(), "the cluster stopped with up");
    assert!(
        !dir.join("coinsence.log").exists(),
        "not on a terminal, the log stays on stderr"
    );

    let again = start(&dir);
    assert_eq!(
        ada_balance(&client, &again).await,
        "96.50",
        "the second up reuses the data"
    );
    stop(again);
    let cluster = dir.join("postgres").canonicalize().unwrap();
    if am_root() {
        assert!(
            cluster.starts_with("/var/lib/coinsence/"),
            "as root, the cluster lives where postgres can enter: {}",
            cluster.display()
        );
    }
    let _ = std::fs::remove_dir_all(&cluster);
    let _ = std::fs::remove_dir_all(&home);
}

fn am_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The first line of the cluster's pid file: the postmaster's pid.
fn postmaster_pid(data_dir: &Path) -> String {
    let pid_file = data_dir.join("postgres/data/postmaster.pid");
    let text = std::fs::read_to_string(&pid_file).unwrap();
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// Whether a process runs (a zombie waiting to be reaped does not).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .starts_with(" Z")
    })
}

/// `up` on a terminal as a newcomer runs it, Ctrl-C typed there `presses` times in a row: `up`
/// ends within seconds (the console chat's read of the terminal included) and its PostgreSQL is
/// gone. `script` (util-linux) gives it a pseudo terminal; its input stays open, as a
/// terminal's does, so nothing but the Ctrl-C can end the chat.
fn interrupt_on_a_terminal(data_dir: &Path, presses: usize) {
    use std::io::Write;
    let command = format!(
        "exec '{}' up --listen 127.0.0.1:0 --data-dir '{}'",
        env!("CARGO_BIN_EXE_coinsence"),
        data_dir.display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn script");
    let stdout = child.stdout.take().expect("no stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut chat_offered, mut screen) = (false, String::new());
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        chat_offered |= line.contains("the console chat: type chat commands here");
        screen.push_str(&line);
        screen.push('\n');
        if line.starts_with("API document") {
            break;
        }
    }
    assert!(chat_offered, "on a terminal, up runs the console chat");
    // The log goes to a file, said once; INFO lines do not scroll through the chat.
    let log = data_dir.join("coinsence.log");
    assert!(
        screen.contains(&format!("the log: {}", log.display())),
        "{screen}"
    );
    assert!(!screen.contains(" INFO "), "{screen}");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains(" INFO ") && logged.contains("migrated"),
        "{logged}"
    );
    let postmaster = postmaster_pid(data_dir);
    assert!(alive(&postmaster), "the cluster runs");
    let mut stdin = child.stdin.take().expect("no stdin");
    // Ctrl-C at a terminal: the terminal sends SIGINT to the foreground process group.
    let mut ctrl_c = || {
        stdin
            .write_all(b"\x03")
            .and_then(|()| stdin.flush())
            .unwrap();
    };
    ctrl_c();
    if presses > 1 {
        // The second while `up` stops (two sent at once would arrive as one signal).
        let stopping = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("Ctrl-C again stops at once"));
        assert!(stopping, "up says it is stopping");
        ctrl_c();
    }
    // The rest of the output is drained, so a full terminal never blocks `up`.
    std::thread::spawn(move || lines.for_each(drop));
    let mut exited = None;
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if exited.is_none() {
        let _ = child.kill();
    }
    let status = exited.unwrap_or_else(|| panic!("up ended within 10 s of {presses} Ctrl-C"));
    // `script -e` passes on up's exit status: 0 after a clean stop, 130 when the second Ctrl-C
    // cut the stop short (unless the stop was done before it came).
    let expected: &[i32] = if presses == 1 { &[0] } else { &[130, 0] };
    assert!(
        status.code().is_some_and(|c| expected.contains(&c)),
        "{presses} Ctrl-C: {status}"
    );
    // `pg_ctl stop` returns once the pid file is gone, a moment before the process ends.
    for _ in 0..20 {
        if !alive(&postmaster) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(&postmaster), "PostgreSQL stopped with up");
    assert!(
        !data_dir.join("postgres/data/postmaster.pid").exists(),
        "the cluster shut down cleanly"
    );
}

#[test]
fn ctrl_c_on_a_terminal_ends_up_and_its_cluster_at_once() {
    let dir = std::env::temp_dir().join(format!("coinsence-up-tty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    interrupt_on_a_terminal(&dir, 1);
    // A second Ctrl-C while it stops: it stops at once, the cluster first.
    interrupt_on_a_terminal(&dir, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A German shell gets German sentences: `up`'s banner and `org`'s answers come from the
/// German catalog (machine text such as URLs and tokens stays as it is), and the demo org it
/// creates speaks German.
#[test]
fn up_and_org_speak_german_under_a_german_locale() {
    let dir = std::env::temp_dir().join(format!("coinsence-up-de-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let german = |command: &mut Command| {
        command
            .env("LANG", "de_DE.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("COINSENCE_LANG")
            .env_remove("DATABASE_URL");
    };
    let mut up = Command::new(env!("CARGO_BIN_EXE_coinsence"));
    german(&mut up);
    let mut child = up
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut banner = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("no stdout")).lines() {
        let line = line.unwrap_or_default();
        let last = line.starts_with("API-Dokument: http://");
        banner.push(line);
        if last {
            break;
        }
    }
    let said = banner.join("\n");
    let up = Up {
        child,
        base: String::new(),
        token: String::new(),
        database: String::new(),
        portal_login: String::new(),
    };
    assert!(
        said.contains("Coinsence läuft unter http://127.0.0.1:")
            && said.contains("Demo-Organisation: demo (Währung DEMO), Admin Ada")
            && said.contains("Admin-Token: ")
            && said.contains("der Konsolen-Chat als jemand anderes")
            && said.contains("— Strg-C beendet")
            && !said.contains("Coinsence is up"),
        "{said}"
    );
    let org = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_coinsence"));
        german(&mut command);
        let out = command
            .args(["org", "--data-dir"])
            .arg(&dir)
            .args(args)
            .output()
            .expect("org");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let created = org(&[
        "create",
        "--slug",
        "tee",
        "--name",
        "Teestube",
        "--owner-email",
        "tee@example.org",
    ]);
    assert!(
        created.contains("Organisation tee angelegt (Schema org_")
            && created.contains("Token der Eigentümerin (nur jetzt zu sehen): "),
        "{created}"
    );
    let listed = org(&["list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("tee ") && l.contains("offen") && l.contains("Teestube"))
            && listed.contains("Demo-Gemeinschaft"),
        "{listed}"
    );
    stop(up);
    if let Ok(cluster) = dir.join("postgres").canonicalize() {
        let _ = std::fs::remove_dir_all(cluster);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
