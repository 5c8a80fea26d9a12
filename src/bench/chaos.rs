//! `coinsence chaos`: a crash test of the whole service. A durable private PostgreSQL (fsync on),
//! `coinsence serve` as a child process, and clients paying each other at random with
//! Idempotency-Keys, retrying after connection errors and 503s with the same key until they get
//! a definitive answer (201, or a 4xx refusal). Meanwhile the server is killed with SIGKILL and
//! restarted twice, and PostgreSQL is restarted in immediate mode (a crash, WAL replay) once.
//!
//! Afterwards the journal is read directly and every promise is checked: an acknowledged payment
//! is in the journal exactly once, a refused one is not, balances sum to zero per currency, no
//! account is below its floor, the ledger verifies and the seal chain (sealed during the load)
//! matches the journal. Any violation makes the command fail.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use coinsence_api::Core;
use coinsence_api::citus::LocalCitus;
use coinsence_api::cluster::{Cluster, ClusterOptions};
use coinsence_api::domain::identity::ApiToken;
use coinsence_api::domain::ids::UserId;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_api::domain::orgs::Member;
use coinsence_api::domain::tenancy::Tenant;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::Value;

use super::cli::{ChaosArgs, ChaosChild, ChaosScenario};

/// Every member starts with this much (minor units of a scale-2 currency): 100.00.
const FUNDING: i64 = 10_000;
/// Payments are 0.01 to 100.00, up to a whole starting balance: balances run dry and refusals
/// are common, so that a retry often finds less money than its first attempt took.
const MAX_PAYMENT: i64 = 10_000;
const CURRENCY: &str = "CHAOS";

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    if let Some(step) = args.child {
        return child_step(step, args).await;
    }
    if args.clients == 0 || args.accounts < 2 {
        bail!("need at least 1 client and 2 accounts");
    }
    USE_CITUS.store(args.citus, Ordering::Relaxed);
    let mut failed = Vec::new();
    for scenario in &args.scenario {
        let result = match scenario {
            ChaosScenario::Payments => payments(&args).await,
            ChaosScenario::Issuance => issuance().await,
            ChaosScenario::Votes => votes().await,
        };
        match result {
            Ok(()) => println!("chaos {scenario:?}: ok"),
            Err(e) => {
                println!("chaos {scenario:?}: FAILED: {e:#}");
                failed.push(format!("{scenario:?}"));
            }
        }
    }
    if !failed.is_empty() {
        bail!("chaos failed: {}", failed.join(", "));
    }
    Ok(())
}

/// A durable cluster of our own (fsync on: a crash must not lose what was acknowledged), and a
/// pool on it with every migration applied: one PostgreSQL, or with `--citus` a local Citus
/// cluster (the service talks to its coordinator).
struct Database {
    nodes: Nodes,
    url: String,
    dir: PathBuf,
}

#[derive(Clone)]
enum Nodes {
    Single(Arc<Cluster>),
    Citus(Arc<LocalCitus>),
}

/// The database crash of a run: the one PostgreSQL, or the Citus worker that holds the org.
#[derive(Clone)]
struct Crash {
    nodes: Nodes,
    worker: usize,
}

impl Crash {
    /// Stops the node in immediate mode (no checkpoint, every session cut) and starts it again.
    async fn run(&self) -> anyhow::Result<()> {
        let crash = self.clone();
        tokio::task::spawn_blocking(move || match &crash.nodes {
            Nodes::Single(cluster) => cluster.restart_immediate(),
            Nodes::Citus(citus) => citus.workers[crash.worker].restart_immediate(),
        })
        .await?
    }

    fn what(&self) -> String {
        match &self.nodes {
            Nodes::Single(_) => "PostgreSQL".to_owned(),
            Nodes::Citus(citus) => format!(
                "the Citus worker holding the org (127.0.0.1:{})",
                citus.workers[self.worker].port()
            ),
        }
    }
}

impl Database {
    /// What to crash for `tenant`: on Citus, the worker its schema is placed on.
    async fn crash_for(&self, tenant: &Tenant) -> anyhow::Result<Crash> {
        let worker = match &self.nodes {
            Nodes::Single(_) => 0,
            Nodes::Citus(citus) => {
                let pool = coinsence_api::cluster::connect(&self.url, 1).await?;
                let at = coinsence_api::citus::placement(&pool, &tenant.schema())
                    .await?
                    .context("the org's schema is not distributed")?;
                pool.close().await;
                (0..citus.workers.len())
                    .find(|i| at.ends_with(&format!(":{}", citus.workers[*i].port())))
                    .with_context(|| format!("no worker at {at}"))?
            }
        };
        Ok(Crash {
            nodes: self.nodes.clone(),
            worker,
        })
    }
}

async fn database(name: &str) -> anyhow::Result<Database> {
    let dir = std::env::temp_dir().join(format!("coinsence-chaos-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = ClusterOptions {
        fsync: true,
        remove_on_exit: true,
    };
    let (nodes, url) = if USE_CITUS.load(Ordering::Relaxed) {
        let citus = tokio::task::spawn_blocking({
            let dir = dir.join("citus");
            move || LocalCitus::start(&dir, options)
        })
        .await??;
        let url = citus.create_database("postgres").await?;
        (Nodes::Citus(Arc::new(citus)), url)
    } else {
        let cluster = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || Cluster::start(&dir, options)
        })
        .await??;
        let url = cluster.url("postgres");
        (Nodes::Single(Arc::new(cluster)), url)
    };
    let pool = coinsence_api::cluster::connect(&url, 4).await?;
    coinsence_api::migrate::migrate_all(&pool, |_, _| {}).await?;
    pool.close().await;
    Ok(Database { nodes, url, dir })
}

/// `--citus`: every scenario's database is a local Citus cluster.
static USE_CITUS: AtomicBool = AtomicBool::new(false);

/// `coinsence serve` as a child process on a fixed address, so that a restart is found again
/// where the clients look.
struct Server {
    exe: PathBuf,
    db_url: String,
    listen: SocketAddr,
    log: PathBuf,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Server {
    fn new(db: &Database) -> anyhow::Result<Self> {
        // A free port, given back at once: the server binds it (and binds it again after each
        // kill; tokio's listener sets SO_REUSEADDR, so connections left in TIME_WAIT are no
        // obstacle).
        let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        Ok(Self {
            exe: std::env::current_exe().context("finding our own binary")?,
            db_url: db.url.clone(),
            listen,
            log: db.dir.join("serve.log"),
            child: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()?,
        })
    }

    fn base(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// Starts the server and waits until it answers `/readyz` (its database is reachable).
    async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.exe)
            .arg("serve")
            .args(["--database-url", &self.db_url])
            .args(["--listen", &self.listen.to_string()])
            .args(["--pool-size", "16"])
            .env("COINSENCE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting coinsence serve")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "coinsence serve exited with {status}; see {}",
                    self.log.display()
                );
            }
            let ready = self
                .http
                .get(format!("{}/readyz", self.base()))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "coinsence serve was not ready within 60 s; see {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, requests in flight are cut.
    fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// An org with `n` funded members and their tokens.
struct Seeded {
    slug: String,
    tenant: Tenant,
    admin_token: String,
    /// (token, user id) per member.
    people: Vec<(String, i64)>,
}

async fn seed(core: &Core, n: usize) -> anyhow::Result<Seeded> {
    let (slug, admin, admin_token) = seed_org(core).await?;
    let people = add_people(core, &admin, &slug, n).await?;
    for (_, id) in &people {
        core.issue(
            &admin,
            MoveRequest {
                currency: CURRENCY.to_owned(),
                to: AccountRef::Member(UserId(*id)),
                amount: format_cents(FUNDING),
                memo: "chaos funding".to_owned(),
            },
            IdempotencyKey::http(admin.user.id, &format!("fund-{id}"))?,
        )
        .await?;
    }
    Ok(Seeded {
        tenant: core.tenant(&slug).await?,
        slug,
        admin_token,
        people,
    })
}

/// A new open org with the currency, its admin and a token for the admin.
async fn seed_org(core: &Core) -> anyhow::Result<(String, Member, String)> {
    let (slug, admin) = super::worker::bench_org(core, "chaos", CURRENCY).await?;
    let admin_token = ApiToken::generate();
    sqlx::query(
        "INSERT INTO control.api_tokens (user_id, token_hash, label) VALUES ($1, $2, 'chaos')",
    )
    .bind(admin.user.id.0)
    .bind(admin_token.hash())
    .execute(&core.pool)
    .await?;
    Ok((slug, admin, admin_token.expose().to_owned()))
}

/// `n` new members with a token each: (token, user id), by ascending id.
async fn add_people(
    core: &Core,
    admin: &Member,
    slug: &str,
    n: usize,
) -> anyhow::Result<Vec<(String, i64)>> {
    // People and tokens straight into the control plane (a password hash each would take long
    // and test nothing here).
    let tokens: Vec<ApiToken> = (0..n).map(|_| ApiToken::generate()).collect();
    let hashes: Vec<Vec<u8>> = tokens.iter().map(ApiToken::hash).collect();
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "WITH u AS (
             INSERT INTO control.users (email, password_hash, display_name)
             SELECT $1 || '-' || i || '@chaos.test', '!', 'chaos ' || i FROM generate_series(1, $2) i
             RETURNING id
         ), numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM u)
         INSERT INTO control.api_tokens (user_id, token_hash, label)
         SELECT numbered.id, h.hash, 'chaos' FROM numbered
         JOIN unnest($3::bytea[]) WITH ORDINALITY AS h(hash, n) ON h.n = numbered.n
         RETURNING user_id",
    )
    .bind(slug)
    .bind(i64::try_from(n)?)
    .bind(&hashes)
    .fetch_all(&core.pool)
    .await?;
    // Token i belongs to the i-th inserted user (ids ascend with the series).
    ids.sort_unstable();
    let users: Vec<UserId> = ids.iter().copied().map(UserId).collect();
    core.admit_members(admin, &users).await?;
    Ok(tokens
        .iter()
        .zip(ids)
        .map(|(t, id)| (t.expose().to_owned(), id))
        .collect())
}

fn format_cents(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// What became of one payment, as its client saw it.
#[derive(Debug, Clone)]
enum Outcome {
    /// 201, with the transfer id the answer named.
    Acknowledged { transfer: i64 },
    /// A 4xx refusal: status and problem code.
    Refused { status: u16, code: String },
    /// No definitive answer before the clients gave up.
    Unresolved { last: String },
}

#[derive(Debug, Clone)]
struct Payment {
    payer: i64,
    key: String,
    memo: String,
    amount: i64,
    /// Attempts after the first.
    retries: u32,
    outcome: Outcome,
}

/// Answers that break the service's own promises, seen by the clients along the way.
#[derive(Default)]
struct Oddities {
    /// 5xx other than 503 (a database restarting must answer 503 with Retry-After).
    server_errors: Vec<String>,
    /// 503 without Retry-After.
    unavailable_without_retry_after: u64,
    /// 201 whose body does not describe the payment sent.
    wrong_receipts: Vec<String>,
}

struct Shared {
    http: reqwest::Client,
    base: String,
    slug: String,
    people: Vec<(String, i64)>,
    /// No new payments after this.
    stop_at: Instant,
    /// A payment still without a definitive answer after this is given up (unresolved).
    give_up_at: Instant,
    oddities: std::sync::Mutex<Oddities>,
    attempts: AtomicU64,
}

/// One client: random payments, one at a time, each retried with its key until answered.
async fn client(shared: Arc<Shared>, c: usize) -> Vec<Payment> {
    let mut done = Vec::new();
    let mut n = 0u64;
    while Instant::now() < shared.stop_at {
        n += 1;
        let (payer, payee, amount) = {
            let mut rng = rand::rng();
            let payer = rng.random_range(0..shared.people.len());
            let mut payee = rng.random_range(0..shared.people.len() - 1);
            if payee >= payer {
                payee += 1;
            }
            (payer, payee, rng.random_range(1..=MAX_PAYMENT))
        };
        let (token, payer_id) = shared.people[payer].clone();
        let payee_id = shared.people[payee].1;
        let key = format!("chaos-c{c}-{n}");
        let memo = format!("chaos {key}");
        let body = serde_json::json!({
            "currency": CURRENCY, "to_member": payee_id, "amount": format_cents(amount), "memo": memo,
        });
        let mut retries = 0u32;
        let outcome = loop {
            shared.attempts.fetch_add(1, Ordering::Relaxed);
            let sent = shared
                .http
                .post(format!("{}/v1/orgs/{}/transfers", shared.base, shared.slug))
                .bearer_auth(&token)
                .header("idempotency-key", &key)
                .json(&body)
                .send()
                .await;
            let wait = match sent {
                Ok(r) => {
                    let status = r.status();
                    let retry_after = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let text = r.text().await.unwrap_or_default();
                    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if status == StatusCode::CREATED {
                        if json["memo"] != memo.as_str()
                            || json["amount"] != format_cents(amount).as_str()
                        {
                            lock(&shared.oddities)
                                .wrong_receipts
                                .push(format!("{key}: {text}"));
                        }
                        break Outcome::Acknowledged {
                            transfer: json["id"].as_i64().unwrap_or(-1),
                        };
                    }
                    if status.is_client_error()
                        && status != StatusCode::TOO_MANY_REQUESTS
                        && status != StatusCode::REQUEST_TIMEOUT
                    {
                        break Outcome::Refused {
                            status: status.as_u16(),
                            code: json["code"].as_str().unwrap_or("").to_owned(),
                        };
                    }
                    if status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_none() {
                        lock(&shared.oddities).unavailable_without_retry_after += 1;
                    } else if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE
                    {
                        lock(&shared.oddities)
                            .server_errors
                            .push(format!("{key}: {status} {text}"));
                    }
                    // Retry-After is honoured, but kept short: the run is bounded.
                    retry_after.map_or(Duration::from_millis(100), |s| {
                        Duration::from_secs(s).min(Duration::from_secs(1))
                    })
                }
                // Connection refused or cut, or no answer in time: the server is down or
                // PostgreSQL is restarting. Ask again with the same key.
                Err(_) => Duration::from_millis(100),
            };
            if Instant::now() > shared.give_up_at {
                break Outcome::Unresolved {
                    last: "no definitive answer before the end".to_owned(),
                };
            }
            retries += 1;
            let jitter = rand::rng().random_range(0..50);
            tokio::time::sleep(wait + Duration::from_millis(jitter)).await;
        };
        done.push(Payment {
            payer: payer_id,
            key,
            memo,
            amount,
            retries,
            outcome,
        });
    }
    done
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Kills and restarts at fixed fractions of the load: the server at 1/4 and 3/4, PostgreSQL
/// (immediate mode) at 1/2. Returns what it did, for the report.
async fn faults(
    server: &mut Server,
    crash: Crash,
    start: Instant,
    seconds: u64,
) -> anyhow::Result<Vec<String>> {
    let at = |fraction: f64| start + Duration::from_secs_f64(seconds as f64 * fraction);
    let mut log = Vec::new();
    tokio::time::sleep_until(at(0.25).into()).await;
    server.kill()?;
    log.push(format!(
        "{:.1}s: server killed (SIGKILL)",
        start.elapsed().as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.start().await?;
    log.push(format!(
        "{:.1}s: server restarted",
        start.elapsed().as_secs_f64()
    ));

    tokio::time::sleep_until(at(0.5).into()).await;
    let t = start.elapsed().as_secs_f64();
    crash.run().await?;
    log.push(format!(
        "{t:.1}s: {} stopped in immediate mode and started again ({:.1}s)",
        crash.what(),
        start.elapsed().as_secs_f64() - t
    ));

    tokio::time::sleep_until(at(0.75).into()).await;
    server.kill()?;
    log.push(format!(
        "{:.1}s: server killed (SIGKILL)",
        start.elapsed().as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.start().await?;
    log.push(format!(
        "{:.1}s: server restarted",
        start.elapsed().as_secs_f64()
    ));
    Ok(log)
}

/// Seals the journal every so often while the load runs, as the worker's seal job does; failures
/// (the database restarting) are only counted.
async fn sealer(db_url: String, tenant: Tenant, running: Arc<AtomicBool>) -> (u64, u64) {
    let (mut sealed, mut failed) = (0, 0);
    let Ok(pool) = coinsence_api::cluster::connect(&db_url, 2).await else {
        return (0, 1);
    };
    let core = Core::new(pool.clone());
    while running.load(Ordering::Relaxed) {
        match core.seal_journal(&tenant, Utc::now()).await {
            Ok(Some(_)) => sealed += 1,
            Ok(None) => {}
            Err(_) => failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    pool.close().await;
    (sealed, failed)
}

async fn payments(args: &ChaosArgs) -> anyhow::Result<()> {
    let db = database("payments").await?;
    let pool = coinsence_api::cluster::connect(&db.url, 4).await?;
    let core = Core::new(pool.clone());
    eprintln!(
        "chaos payments: seeding {} funded accounts ...",
        args.accounts
    );
    let seeded = seed(&core, args.accounts).await?;
    // The pool's connections die with the immediate restart; the checks use a fresh one.
    pool.close().await;

    let mut server = Server::new(&db)?;
    server.start().await?;
    let start = Instant::now();
    let shared = Arc::new(Shared {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(args.clients)
            .build()?,
        base: server.base(),
        slug: seeded.slug.clone(),
        people: seeded.people.clone(),
        stop_at: start + Duration::from_secs(args.seconds),
        give_up_at: start + Duration::from_secs(args.seconds + 60),
        oddities: std::sync::Mutex::new(Oddities::default()),
        attempts: AtomicU64::new(0),
    });
    eprintln!(
        "chaos payments: {} clients for {} s; the server is killed twice, PostgreSQL restarted once (log: {})",
        args.clients,
        args.seconds,
        server.log.display()
    );
    let clients: Vec<_> = (0..args.clients)
        .map(|c| tokio::spawn(client(shared.clone(), c)))
        .collect();
    let running = Arc::new(AtomicBool::new(true));
    let sealing = tokio::spawn(sealer(
        db.url.clone(),
        seeded.tenant.clone(),
        running.clone(),
    ));
    let crash = db.crash_for(&seeded.tenant).await?;
    let fault_log = faults(&mut server, crash, start, args.seconds).await;
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await?);
    }
    running.store(false, Ordering::Relaxed);
    let (seals, seal_failures) = sealing.await?;
    let fault_log = fault_log?;
    for line in &fault_log {
        println!("  {line}");
    }
    println!(
        "  sealed {seals} times during the load ({seal_failures} seal attempts failed while the database was down)"
    );
    let pool = coinsence_api::cluster::connect(&db.url, 4).await?;
    let core = Core::new(pool.clone());
    let oddities = std::mem::take(&mut *lock(&shared.oddities));
    let violations = check_payments(
        &core,
        &shared.http,
        &server.base(),
        &seeded,
        &all,
        &oddities,
        shared.attempts.load(Ordering::Relaxed),
    )
    .await?;
    server.kill()?;
    pool.close().await;
    if !violations.is_empty() {
        for v in &violations {
            println!("  VIOLATION: {v}");
        }
        // The cluster's directory, and the log with it, goes away with this process.
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
        println!("  the server logged {} errors; the first:", errors.len());
        for line in errors.iter().take(5) {
            println!("    {}", without_colours(line));
        }
        bail!("{} violations", violations.len());
    }
    Ok(())
}

/// A log line without its terminal colour codes (`ESC [ ... m`).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One journal row, as the checks need it.
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    amount: i64,
    memo: String,
    idempotency_key: String,
}

async fn check_payments(
    core: &Core,
    http: &reqwest::Client,
    base: &str,
    seeded: &Seeded,
    all: &[Payment],
    oddities: &Oddities,
    requests: u64,
) -> anyhow::Result<Vec<String>> {
    let mut violations = Vec::new();
    let schema = seeded.tenant.schema();
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, amount, memo, idempotency_key FROM {}.transfers WHERE kind = 'payment'",
        schema.as_str()
    )))
    .fetch_all(&core.pool)
    .await?;
    let by_key: HashMap<&str, &Row> = rows
        .iter()
        .map(|r| (r.idempotency_key.as_str(), r))
        .collect();
    let mut by_memo: HashMap<&str, u32> = HashMap::new();
    for r in &rows {
        *by_memo.entry(r.memo.as_str()).or_default() += 1;
    }
    let (mut acknowledged, mut lost, mut duplicated, mut refused_applied) = (0, 0, 0, 0);
    let (mut unresolved, mut unresolved_applied, mut retried, mut retries) = (0, 0, 0, 0u64);
    let mut refusals: BTreeMap<String, u64> = BTreeMap::new();
    for p in all {
        let journal_key = format!("http:{}:{}", p.payer, p.key);
        let row = by_key.get(journal_key.as_str());
        let copies = by_memo.get(p.memo.as_str()).copied().unwrap_or(0);
        if copies > 1 {
            duplicated += 1;
            violations.push(format!("{} is in the journal {copies} times", p.key));
        }
        if p.retries > 0 {
            retried += 1;
            retries += u64::from(p.retries);
        }
        match &p.outcome {
            Outcome::Acknowledged { transfer } => {
                acknowledged += 1;
                match row {
                    None => {
                        lost += 1;
                        violations.push(format!(
                            "{} was acknowledged (transfer {transfer}) but is not in the journal",
                            p.key
                        ));
                    }
                    Some(r) if r.id != *transfer || r.amount != p.amount => {
                        violations.push(format!(
                            "{} was acknowledged as transfer {transfer} of {} but the journal has {} of {}",
                            p.key, p.amount, r.id, r.amount
                        ));
                    }
                    Some(_) => {}
                }
            }
            Outcome::Refused { status, code } => {
                *refusals.entry(format!("{status} {code}")).or_default() += 1;
                if row.is_some() {
                    refused_applied += 1;
                    violations.push(format!(
                        "{} was refused ({status} {code}) after {} retries, but it is in the journal",
                        p.key, p.retries
                    ));
                }
                if code != "insufficient_funds" {
                    violations.push(format!(
                        "{} was refused with {status} {code}: only insufficient_funds is expected",
                        p.key
                    ));
                }
            }
            Outcome::Unresolved { last } => {
                unresolved += 1;
                unresolved_applied += u64::from(row.is_some());
                violations.push(format!("{} never got a definitive answer ({last})", p.key));
            }
        }
    }
    let attempted: std::collections::HashSet<&str> = all.iter().map(|p| p.memo.as_str()).collect();
    for r in &rows {
        if r.memo.starts_with("chaos ") && !attempted.contains(r.memo.as_str()) {
            violations.push(format!(
                "journal entry {} ({}) matches no payment the clients sent",
                r.id, r.memo
            ));
        }
    }
    let refused: u64 = refusals.values().sum();
    println!(
        "  attempted {}, acknowledged {acknowledged}, refused {refused}, retried {retried} ({retries} retries, {requests} requests), lost {lost}, duplicated {duplicated}, refused but applied {refused_applied}, unresolved {unresolved} ({unresolved_applied} of them applied)",
        all.len()
    );
    for (what, n) in &refusals {
        println!("  refusals {what}: {n}");
    }
    if !oddities.server_errors.is_empty() {
        println!("  5xx other than 503: {}", oddities.server_errors.len());
        violations.push(format!(
            "{} answers were 5xx other than 503 (a restarting database must answer 503 with Retry-After); first: {}",
            oddities.server_errors.len(),
            oddities.server_errors[0]
        ));
    }
    if oddities.unavailable_without_retry_after > 0 {
        violations.push(format!(
            "{} answers were 503 without Retry-After",
            oddities.unavailable_without_retry_after
        ));
    }
    for w in &oddities.wrong_receipts {
        violations.push(format!("a 201 that does not describe its payment: {w}"));
    }
    if acknowledged == 0 {
        violations.push("no payment was acknowledged: the load did not run".to_owned());
    }
    violations.extend(check_books(core, http, base, seeded).await?);
    Ok(violations)
}

/// The books read directly: balances sum to zero per currency, none below its floor, each the
/// sum of its journal entries; then the whole seal chain audited after sealing what is left.
async fn books_in_sql(core: &Core, tenant: &Tenant) -> anyhow::Result<Vec<String>> {
    let mut violations = Vec::new();
    let schema = tenant.schema();
    let sums: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT c.code, sum(a.balance)::bigint FROM {s}.accounts a JOIN {s}.currencies c ON c.id = a.currency_id
         GROUP BY c.code HAVING sum(a.balance) <> 0",
        s = schema.as_str()
    )))
    .fetch_all(&core.pool)
    .await?;
    for (code, sum) in sums {
        violations.push(format!("the balances of {code} sum to {sum}, not 0"));
    }
    let below: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, balance, floor FROM {}.accounts WHERE floor IS NOT NULL AND balance < floor",
        schema.as_str()
    )))
    .fetch_all(&core.pool)
    .await?;
    for (id, balance, floor) in below {
        violations.push(format!(
            "account {id} holds {balance}, below its floor {floor}"
        ));
    }
    // Each balance is what its journal entries add up to.
    let drift: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT a.id, a.balance, (coalesce((SELECT sum(amount) FROM {s}.transfers WHERE to_account = a.id), 0)
                               - coalesce((SELECT sum(amount) FROM {s}.transfers WHERE from_account = a.id), 0))::bigint AS replayed
         FROM {s}.accounts a",
        s = schema.as_str()
    )))
    .fetch_all(&core.pool)
    .await?;
    for (id, balance, replayed) in drift {
        if balance != replayed {
            violations.push(format!(
                "account {id} holds {balance} but its journal adds up to {replayed}"
            ));
        }
    }
    // Seal what the run left unsealed, then audit the whole chain.
    core.seal_journal(tenant, Utc::now()).await?;
    let audit = core.audit_seals(tenant).await?;
    println!(
        "  seals: {} over {} entries, {} unsealed",
        audit.seals, audit.sealed_entries, audit.unsealed_entries
    );
    if !audit.ok || audit.first_mismatch.is_some() {
        violations.push(format!(
            "the seal audit fails: {:?}",
            audit
                .first_mismatch
                .map(|m| format!("seal {}: {}", m.seq, m.reason))
        ));
    }
    Ok(violations)
}

/// The books as a whole: [`books_in_sql`], and the API's own checks (ledger and seals).
async fn check_books(
    core: &Core,
    http: &reqwest::Client,
    base: &str,
    seeded: &Seeded,
) -> anyhow::Result<Vec<String>> {
    let mut violations = books_in_sql(core, &seeded.tenant).await?;
    let verify = get_json(
        http,
        base,
        &seeded.slug,
        "ledger/verify",
        &seeded.admin_token,
    )
    .await;
    match verify {
        Ok(v) if v["ok"] == true => {}
        Ok(v) => violations.push(format!("ledger/verify does not pass: {v}")),
        Err(e) => violations.push(format!("ledger/verify: {e:#}")),
    }
    match get_json(
        http,
        base,
        &seeded.slug,
        "ledger/seals/verify",
        &seeded.admin_token,
    )
    .await
    {
        Ok(v) if v["ok"] == true => {}
        Ok(v) => violations.push(format!("ledger/seals/verify does not pass: {v}")),
        Err(e) => violations.push(format!("ledger/seals/verify: {e:#}")),
    }
    Ok(violations)
}

async fn get_json(
    http: &reqwest::Client,
    base: &str,
    slug: &str,
    path: &str,
    token: &str,
) -> anyhow::Result<Value> {
    let r = http
        .get(format!("{base}/v1/orgs/{slug}/{path}"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await?;
    if !status.is_success() {
        bail!("{status}: {body}");
    }
    Ok(body)
}

/// Issuance members: enough for several chunks per period, so a kill lands inside a period.
const ISSUANCE_MEMBERS: usize = 3_000;
/// Members per issuance transaction in the killed runner (the service's default is 20,000).
const ISSUANCE_CHUNK: usize = 250;
/// Weekly periods due when the runner first starts.
const ISSUANCE_WEEKS: i64 = 4;
/// Proposals due when the closer first starts.
const PROPOSALS: usize = 240;

/// The child side: one worker step, run to its end (or until it is killed).
async fn child_step(step: ChaosChild, args: ChaosArgs) -> anyhow::Result<()> {
    let (Some(url), Some(org)) = (args.database_url, args.org) else {
        bail!("--child needs --database-url and --org");
    };
    let pool = coinsence_api::cluster::connect(&url, 8).await?;
    let core = Core::new(pool).with_issuance_chunk(ISSUANCE_CHUNK);
    let tenant = core.tenant(&org).await?;
    match step {
        ChaosChild::Issuance => {
            let done = core.run_scheduled_issuance(&tenant, Utc::now()).await?;
            println!("{} periods, {} incomes", done.periods, done.issued_count);
        }
        ChaosChild::CloseDue => {
            let done = core
                .close_due(&tenant, Utc::now() + chrono::Duration::days(1))
                .await?;
            println!("{} closed, {} errors", done.proposals_closed, done.errors);
            if done.errors > 0 {
                bail!("{} proposals could not be closed", done.errors);
            }
        }
    }
    Ok(())
}

/// Runs a worker step in child processes the way crashes would: killed (SIGKILL) after 0.3 s and
/// after 0.8 s, cut off by an immediate PostgreSQL restart, then run to its end, then once more
/// (which must find nothing left to do). Returns what happened, for the report.
async fn crash_a_step(
    db: &Database,
    step: &str,
    org: &str,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let exe = std::env::current_exe()?;
    let spawn = || {
        Command::new(&exe)
            .args([
                "chaos",
                "--child",
                step,
                "--database-url",
                &db.url,
                "--org",
                org,
            ])
            .env("COINSENCE_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    };
    let mut log = Vec::new();
    for after in [300u64, 800] {
        let mut child = spawn()?;
        tokio::time::sleep(Duration::from_millis(after)).await;
        if child.try_wait()?.is_some() {
            log.push(format!(
                "run finished before its kill at {after} ms (a weaker test)"
            ));
        } else {
            child.kill()?;
            log.push(format!("run killed (SIGKILL) after {after} ms"));
        }
        child.wait()?;
    }
    let crash = {
        let pool = coinsence_api::cluster::connect(&db.url, 1).await?;
        let tenant = Core::new(pool.clone()).tenant(org).await?;
        pool.close().await;
        db.crash_for(&tenant).await?
    };
    let child = spawn()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    crash.run().await?;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    log.push(format!(
        "run cut off by an immediate PostgreSQL restart after 500 ms (it exited with {})",
        out.status
    ));
    let mut outputs = Vec::new();
    for what in ["run to its end", "run once more"] {
        let child = spawn()?;
        let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
        let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() {
            bail!(
                "the {what} failed ({}): {said} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        log.push(format!("{what}: {said}"));
        outputs.push(said);
    }
    Ok((log, outputs))
}

fn report(name: &str, log: &[String], violations: &[String]) -> anyhow::Result<()> {
    for line in log {
        println!("  {line}");
    }
    if violations.is_empty() {
        return Ok(());
    }
    for v in violations {
        println!("  VIOLATION: {v}");
    }
    bail!("{name}: {} violations", violations.len())
}

/// Scheduled issuance killed mid-period: every member paid exactly once per period.
async fn issuance() -> anyhow::Result<()> {
    let db = database("issuance").await?;
    let pool = coinsence_api::cluster::connect(&db.url, 4).await?;
    let core = Core::new(pool.clone());
    eprintln!(
        "chaos issuance: {ISSUANCE_MEMBERS} members, {ISSUANCE_WEEKS} weekly periods due ..."
    );
    let (slug, admin, _) = seed_org(&core).await?;
    add_people(&core, &admin, &slug, ISSUANCE_MEMBERS).await?;
    let policy: coinsence_api::domain::ledger::issuance::NewIssuancePolicy =
        serde_json::from_value(serde_json::json!({
            "currency": CURRENCY, "period": "weekly", "time_zone": "UTC", "fixed_amount": "1.00",
            "starts_at": Utc::now() - chrono::Duration::weeks(ISSUANCE_WEEKS),
        }))?;
    let policy = core.create_issuance_policy(&admin, policy).await?;
    let tenant = core.tenant(&slug).await?;
    pool.close().await;

    let Crashed {
        log,
        pool,
        core,
        mut violations,
    } = crash_and_reconnect(&db, "issuance", &slug, "0 periods").await?;
    let s = tenant.schema();
    let (runs,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.issuance_runs WHERE policy_id = $1",
        s.as_str()
    )))
    .bind(policy.id)
    .fetch_one(&pool)
    .await?;
    if runs < ISSUANCE_WEEKS {
        violations.push(format!(
            "only {runs} periods ran of the {ISSUANCE_WEEKS}+ due"
        ));
    }
    // Every member account: how many incomes it got, and in how many distinct periods.
    let wrong: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT a.id, count(t.id), count(DISTINCT split_part(t.idempotency_key, ':', 3))
         FROM {s}.accounts a
         LEFT JOIN {s}.transfers t ON t.to_account = a.id AND t.kind = 'issuance'
                                    AND t.idempotency_key LIKE 'issuance:' || $1 || ':%'
         WHERE a.kind = 'member'
         GROUP BY a.id
         HAVING count(t.id) <> $2 OR count(DISTINCT split_part(t.idempotency_key, ':', 3)) <> $2",
        s = s.as_str()
    )))
    .bind(policy.id.to_string())
    .bind(runs)
    .fetch_all(&pool)
    .await?;
    for (account, incomes, periods) in wrong.iter().take(10) {
        violations.push(format!(
            "member account {account} got {incomes} incomes in {periods} periods, not one in each of {runs}"
        ));
    }
    if wrong.len() > 10 {
        violations.push(format!("... {} member accounts in all", wrong.len()));
    }
    let (members,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.accounts WHERE kind = 'member'",
        s.as_str()
    )))
    .fetch_one(&pool)
    .await?;
    println!(
        "  {members} member accounts, {runs} periods, {} accounts paid wrongly",
        wrong.len()
    );
    finish("issuance", &pool, &core, &tenant, &log, violations).await
}

/// Due proposals closed by a closer that is killed mid-run: each passed proposal's action runs
/// exactly once, a rejected one never.
async fn votes() -> anyhow::Result<()> {
    use coinsence_api::domain::governance::proposals::NewProposal;
    use coinsence_api::domain::governance::rules::Rules;
    use coinsence_api::domain::governance::tally::Choice;
    use coinsence_api::domain::identity::ApiToken;
    use coinsence_api::domain::ids::ProposalId;

    let db = database("votes").await?;
    let pool = coinsence_api::cluster::connect(&db.url, 8).await?;
    let core = Core::new(pool.clone());
    eprintln!("chaos votes: {PROPOSALS} due proposals ...");
    let (slug, admin, _) = seed_org(&core).await?;
    // Consent: a proposal passes at its deadline unless someone objects.
    let rules: Rules = serde_json::from_value(serde_json::json!(
        {"method": "consent", "quorum_bp": 0, "voting_period_secs": 60, "proposers": "members"}
    ))?;
    core.set_rules(&admin, rules).await?;
    let people = add_people(&core, &admin, &slug, 2).await?;
    let blocker = core
        .member_for_token(&ApiToken::from_presented(&people[1].0), &slug)
        .await?;
    let receiver = people[0].1;
    let mut expected: Vec<(i64, bool, i64)> = Vec::new();
    for i in 0..PROPOSALS {
        let amount = 100 + i64::try_from(i)?;
        let proposal: NewProposal = serde_json::from_value(serde_json::json!({
            "title": format!("chaos {i}"),
            "action": {"kind": "issue_to_account", "currency": CURRENCY, "to_member": receiver,
                       "amount": format_cents(amount)},
        }))?;
        let opened = core.propose(&admin, proposal, None).await?;
        let blocked = i % 3 == 2;
        if blocked {
            core.vote(&blocker, opened.id, Choice::Block).await?;
        }
        let ProposalId(id) = opened.id;
        expected.push((id, !blocked, amount));
    }
    let tenant = core.tenant(&slug).await?;
    pool.close().await;

    let Crashed {
        log,
        pool,
        core,
        mut violations,
    } = crash_and_reconnect(&db, "close-due", &slug, "0 closed").await?;
    let s = tenant.schema();
    let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.id, p.status, count(t.id), coalesce(sum(t.amount), 0)::bigint
         FROM {s}.proposals p
         LEFT JOIN {s}.transfers t ON t.idempotency_key LIKE 'proposal:' || p.id || ':%'
         GROUP BY p.id, p.status",
        s = s.as_str()
    )))
    .fetch_all(&pool)
    .await?;
    let found: HashMap<i64, (String, i64, i64)> = rows
        .into_iter()
        .map(|(id, status, n, sum)| (id, (status, n, sum)))
        .collect();
    let (mut passed, mut rejected) = (0, 0);
    for (id, passes, amount) in &expected {
        let Some((status, n, sum)) = found.get(id) else {
            violations.push(format!("proposal {id} is gone"));
            continue;
        };
        let want = if *passes { "passed" } else { "rejected" };
        if status != want {
            violations.push(format!("proposal {id} is {status}, not {want}"));
        }
        if *passes {
            passed += 1;
            if *n != 1 || sum != amount {
                violations.push(format!(
                    "passed proposal {id} moved money {n} times ({sum}), not once ({amount})"
                ));
            }
        } else {
            rejected += 1;
            if *n != 0 {
                violations.push(format!("rejected proposal {id} moved money {n} times"));
            }
        }
    }
    println!("  {PROPOSALS} proposals: {passed} to pass, {rejected} blocked");
    finish("votes", &pool, &core, &tenant, &log, violations).await
}

/// What a scenario has after its step was crashed and re-run: the step's log, a fresh
/// connection, and the first violation both scenarios check.
struct Crashed {
    log: Vec<String>,
    pool: sqlx::PgPool,
    core: Core,
    violations: Vec<String>,
}

/// Crashes `step` part-way ([`crash_a_step`]), reconnects, and checks that a run after the
/// end found nothing left to do (its output starts with `idle`).
async fn crash_and_reconnect(
    db: &Database,
    step: &str,
    slug: &str,
    idle: &str,
) -> anyhow::Result<Crashed> {
    let (log, outputs) = crash_a_step(db, step, slug).await?;
    let pool = coinsence_api::cluster::connect(&db.url, 4).await?;
    let core = Core::new(pool.clone());
    let mut violations = Vec::new();
    if !outputs[1].starts_with(idle) {
        violations.push(format!(
            "a run after the end still found work: {}",
            outputs[1]
        ));
    }
    Ok(Crashed {
        log,
        pool,
        core,
        violations,
    })
}

/// The books must balance whatever the scenario found; then the report.
async fn finish(
    name: &str,
    pool: &sqlx::PgPool,
    core: &Core,
    tenant: &Tenant,
    log: &[String],
    mut violations: Vec<String>,
) -> anyhow::Result<()> {
    violations.extend(books_in_sql(core, tenant).await?);
    pool.close().await;
    report(name, log, &violations)
}
