//! A real Synapse for the Matrix end-to-end tests, and the bot and people around it: started
//! once per test process on 127.0.0.1 with sqlite, a registration shared secret, every rate
//! limit raised and no key servers; accounts registered through the shared-secret admin API and
//! driven over the client-server API. Missing Synapse skips loudly on a laptop and fails under
//! CI=true. Included with `#[path]` by each Matrix test binary (the same set-up as
//! `bots/tests/matrix.rs`, which can include it in place of its own copy).

// Each test binary that includes this uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use coinsence_api::Core;
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_bots::away::AwayWindow;
use coinsence_bots::matrix::{Credentials, MatrixBot, MatrixConfig};
use coinsence_bots::{Engine, EngineConfig};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

const SECRET: &str = "coinsence-test-shared-secret";

pub struct Synapse {
    pub base: String,
}

/// The venv `.ci/deps` installs Synapse into.
pub fn synapse_python() -> PathBuf {
    let venv = std::env::var("COINSENCE_SYNAPSE_VENV").map_or_else(
        |_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/coinsence/synapse-venv")
        },
        PathBuf::from,
    );
    venv.join("bin/python")
}

/// Synapse, started once per test process; `None` (after a loud note) when it is not installed
/// and we are not in CI.
pub async fn synapse() -> Option<&'static Synapse> {
    static SYNAPSE: OnceCell<Option<Synapse>> = OnceCell::const_new();
    SYNAPSE
        .get_or_init(|| async {
            let python = synapse_python();
            let installed = Process::new(&python)
                .args(["-c", "import synapse.app.homeserver"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !installed {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "Synapse is not installed at {}: .ci/deps installs it",
                    python.display()
                );
                eprintln!(
                    "\n*** SKIPPING the Matrix end-to-end tests: Synapse is not installed at {} (run .ci/deps) ***\n",
                    python.display()
                );
                return None;
            }
            Some(start_synapse(&python).await)
        })
        .await
        .as_ref()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

pub fn limit(per_second: u32) -> String {
    format!(
        "{{per_second: {per_second}, burst_count: {}}}",
        per_second * 10
    )
}

#[expect(
    clippy::zombie_processes,
    reason = "Synapse and its watchdog outlive this function on purpose: the watchdog stops Synapse when the test process ends"
)]
pub async fn start_synapse(python: &Path) -> Synapse {
    let dir = std::env::temp_dir().join(format!("coinsence-synapse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("media")).unwrap();
    let port = free_port();
    let d = dir.display();
    let l = limit(10_000);
    let config = format!(
        r#"server_name: "localhost"
pid_file: "{d}/homeserver.pid"
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{d}/homeserver.db"
log_config: "{d}/log.yaml"
media_store_path: "{d}/media"
signing_key_path: "{d}/signing.key"
registration_shared_secret: "{SECRET}"
enable_registration: false
report_stats: false
macaroon_secret_key: "coinsence-test-macaroon-{port}"
form_secret: "coinsence-test-form-{port}"
trusted_key_servers: []
suppress_key_server_warning: true
presence:
  enabled: false
rc_message: {l}
rc_registration: {l}
rc_registration_token_validity: {l}
rc_login:
  address: {l}
  account: {l}
  failed_attempts: {l}
rc_admin_redaction: {l}
rc_joins:
  local: {l}
  remote: {l}
rc_joins_per_room: {l}
rc_3pid_validation: {l}
rc_invites:
  per_room: {l}
  per_user: {l}
  per_issuer: {l}
rc_room_creation: {l}
rc_media_create: {l}
rc_key_requests: {l}
rc_delayed_event_mgmt: {l}
rc_reports: {l}
rc_presence:
  per_user: {l}
rc_federation:
  window_size: 1000
  sleep_limit: 10000
  sleep_delay: 1
  reject_limit: 10000
  concurrent: 100
"#
    );
    let log = format!(
        "version: 1\nformatters:\n  precise:\n    format: '%(asctime)s %(name)s %(levelname)s %(message)s'\n\
         handlers:\n  file:\n    class: logging.FileHandler\n    formatter: precise\n    filename: {d}/homeserver.log\n\
         root:\n  level: WARNING\n  handlers: [file]\ndisable_existing_loggers: false\n"
    );
    let cfg = dir.join("homeserver.yaml");
    std::fs::write(&cfg, config).unwrap();
    std::fs::write(dir.join("log.yaml"), log).unwrap();
    let keys = Process::new(python)
        .args(["-m", "synapse.app.homeserver", "--generate-keys", "-c"])
        .arg(&cfg)
        .output()
        .expect("synapse");
    assert!(
        keys.status.success(),
        "synapse --generate-keys: {}",
        String::from_utf8_lossy(&keys.stderr)
    );
    let child = Process::new(python)
        .args(["-m", "synapse.app.homeserver", "-c"])
        .arg(&cfg)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).map_or(Stdio::null(), Stdio::from))
        .spawn()
        .expect("starting synapse");
    // Synapse outlives no test process: a watchdog stops it when this process is gone.
    let watchdog = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill {child} 2>/dev/null; sleep 2; kill -9 {child} 2>/dev/null; rm -rf '{d}'",
        me = std::process::id(),
        child = child.id(),
    );
    std::os::unix::process::CommandExt::process_group(
        Process::new("sh")
            .args(["-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        0,
    )
    .spawn()
    .expect("watchdog");
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http
            .get(format!("{base}/_matrix/client/versions"))
            .send()
            .await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "Synapse did not start; see {}",
            dir.join("stderr.log").display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "Synapse up at {base} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Synapse { base }
}

/// A homeserver account as the tests drive it over the client-server API.
#[derive(Clone)]
pub struct Account {
    pub user_id: String,
    pub token: String,
    pub password: String,
}

pub fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Synapse {
    /// Registers through the shared-secret admin API.
    pub async fn register(&self, name: &str) -> Account {
        let http = reqwest::Client::new();
        let url = format!("{}/_synapse/admin/v1/register", self.base);
        let nonce: Value = http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("nonce")
            .json()
            .await
            .unwrap();
        let nonce = nonce["nonce"].as_str().unwrap_or_default().to_owned();
        let password = format!("pw-{name}-secret");
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{nonce}\0{name}\0{password}\0notadmin").as_bytes());
        let mac = hex::encode(mac.finalize().into_bytes());
        let done: Value = http
            .post(&url)
            .json(&json!({"nonce": nonce, "username": name, "password": password, "admin": false, "mac": mac}))
            .send()
            .await
            .expect("register")
            .json()
            .await
            .unwrap();
        Account {
            user_id: done["user_id"]
                .as_str()
                .unwrap_or_else(|| panic!("{done}"))
                .to_owned(),
            token: done["access_token"].as_str().unwrap_or_default().to_owned(),
            password,
        }
    }

    pub async fn call(
        &self,
        who: &Account,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}/_matrix/client/v3{path}", self.base))
            .bearer_auth(&who.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = res.status();
        let value: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    /// Waits (at most 30 s) until `user` has joined `room`, as `who` sees it.
    pub async fn wait_joined(&self, who: &Account, room: &str, user: &str) {
        let started = Instant::now();
        loop {
            let members = self
                .call(
                    who,
                    reqwest::Method::GET,
                    &format!("/rooms/{}/joined_members", enc(room)),
                    None,
                )
                .await;
            if members["joined"].get(user).is_some() {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{user} did not join {room}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn send_text(&self, who: &Account, room: &str, text: &str) -> String {
        let txn = format!("t{}", rand::random::<u64>());
        let r = self
            .call(
                who,
                reqwest::Method::PUT,
                &format!("/rooms/{}/send/m.room.message/{txn}", enc(room)),
                Some(json!({"msgtype": "m.text", "body": text})),
            )
            .await;
        r["event_id"].as_str().unwrap_or_default().to_owned()
    }

    /// The latest events of a room, newest first.
    pub async fn messages(&self, who: &Account, room: &str) -> Vec<Value> {
        let r = self
            .call(
                who,
                reqwest::Method::GET,
                &format!("/rooms/{}/messages?dir=b&limit=100", enc(room)),
                None,
            )
            .await;
        r["chunk"].as_array().cloned().unwrap_or_default()
    }

    /// The bot's answers to one event.
    pub async fn replies_to(
        &self,
        who: &Account,
        room: &str,
        bot: &str,
        event: &str,
    ) -> Vec<String> {
        self.messages(who, room)
            .await
            .iter()
            .filter(|e| e["sender"] == bot && e["type"] == "m.room.message")
            .filter(|e| e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == event)
            .map(|e| e["content"]["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn bot_messages(&self, who: &Account, room: &str, bot: &str) -> usize {
        self.messages(who, room)
            .await
            .iter()
            .filter(|e| e["sender"] == bot && e["type"] == "m.room.message")
            .count()
    }

    /// Waits for the bot's answer to an event: the answer and how long it took to be visible.
    pub async fn answer(
        &self,
        who: &Account,
        room: &str,
        bot: &str,
        event: &str,
    ) -> Result<String, String> {
        let started = Instant::now();
        loop {
            if let Some(r) = self.replies_to(who, room, bot, event).await.pop() {
                return Ok(r);
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err(format!("no answer to {event} within 20 s"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub struct RunningBot {
    pub bot: MatrixBot,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

pub async fn start_bot(hs: &Synapse, account: &Account, store: &Path, core: &Core) -> RunningBot {
    start_bot_with(hs, account, store, core, AwayWindow::default()).await
}

/// A bot that runs commands that arrived while it was away only within `away`.
pub async fn start_bot_with(
    hs: &Synapse,
    account: &Account,
    store: &Path,
    core: &Core,
    away: AwayWindow,
) -> RunningBot {
    let engine = Engine::new(
        core.clone(),
        EngineConfig {
            platform: ChatPlatform::Matrix,
            public_url: "http://127.0.0.1:8080".into(),
        },
    );
    let config = MatrixConfig {
        homeserver: hs.base.clone(),
        user: account.user_id.clone(),
        credentials: Credentials::Password(account.password.clone()),
        store_dir: store.to_owned(),
        store_passphrase: None,
        delivery_interval: Duration::from_millis(200),
        away,
    };
    let bot = MatrixBot::login(&config, engine).await.expect("bot login");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut listening = bot.listening();
    let runner = bot.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = runner
            .run(Duration::from_millis(200), async move {
                let _ = stopped.await;
            })
            .await
        {
            panic!("bot stopped: {e}");
        }
    });
    tokio::time::timeout(Duration::from_secs(30), listening.wait_for(|l| *l))
        .await
        .expect("the bot did not start listening")
        .unwrap();
    RunningBot { bot, stop, task }
}

impl RunningBot {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}
