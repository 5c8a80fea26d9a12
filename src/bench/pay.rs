//! `coinsence bench pay`: durable payments over HTTP against a server (started here on a private,
//! fsync-on PostgreSQL, or `--url`), then pgbench running the equivalent raw transfer script
//! (two row updates and one insert per transaction) on the same PostgreSQL, same accounts count,
//! same clients, in the same run. Prints both and their ratio.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use coinsence_api::Core;
use coinsence_api::cluster::Cluster;
use coinsence_api::domain::identity::ApiToken;
use coinsence_api::domain::ids::UserId;
use hdrhistogram::Histogram;
use rand::Rng;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::json;
use sqlx::PgPool;

use super::cli::PayBenchArgs;
use crate::server;

/// Where the load goes: a server URL and its database.
pub(crate) struct Target {
    pub(crate) base: String,
    db_url: String,
    pub(crate) pool: PgPool,
    _cluster: Option<Cluster>,
}

pub(crate) async fn target(args: &PayBenchArgs) -> anyhow::Result<Target> {
    if let Some(base) = &args.url {
        let db_url = args
            .database_url
            .clone()
            .context("--url needs --database-url (or DATABASE_URL) of the server's database, for seeding and pgbench")?;
        let pool = coinsence_api::cluster::connect(&db_url, 8).await?;
        return Ok(Target {
            base: base.trim_end_matches('/').to_owned(),
            db_url,
            pool,
            _cluster: None,
        });
    }
    let (main, _) = coinsence_api::config::split_pool(args.pool_size);
    let (pool, db_url, cluster) =
        super::worker::database(args.database_url.as_deref(), main).await?;
    let listener = server::bind("127.0.0.1:0".parse()?).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let core = Core::with_config(pool.clone(), args.core.config(args.pool_size));
    tokio::spawn(server::serve(listener, core, None, std::future::pending()));
    Ok(Target {
        base,
        db_url,
        pool,
        _cluster: cluster,
    })
}

pub(crate) struct Seeded {
    pub(crate) slug: String,
    /// (token, user id) per account holder.
    pub(crate) people: Vec<(String, i64)>,
}

/// An org with `n` members, each holding 1,000,000.00 BENCH.
pub(crate) async fn seed(t: &Target, client: &reqwest::Client, n: usize) -> anyhow::Result<Seeded> {
    let slug = format!("bench-{:08x}", rand::random::<u32>());
    let owner: serde_json::Value = client
        .post(format!("{}/v1/signup", t.base))
        .json(
            &json!({"email": format!("owner@{slug}.bench"), "password": "bench-password",
                      "display_name": "Bench owner", "org": {"slug": slug, "name": "Bench"}}),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let owner_token = owner["token"]
        .as_str()
        .context("signup gave no token")?
        .to_owned();
    client
        .post(format!("{}/v1/orgs/{slug}/currencies", t.base))
        .bearer_auth(&owner_token)
        .json(&json!({"code": "BENCH", "name": "Bench", "scale": 2}))
        .send()
        .await?
        .error_for_status()?;

    // Users and their tokens straight into the control plane: signing up 10,000 people one
    // password hash at a time would take minutes and measure nothing of interest.
    let tokens: Vec<ApiToken> = (0..n).map(|_| ApiToken::generate()).collect();
    let hashes: Vec<Vec<u8>> = tokens.iter().map(ApiToken::hash).collect();
    let ids: Vec<(i64,)> = sqlx::query_as(
        "WITH u AS (
             INSERT INTO control.users (email, password_hash, display_name)
             SELECT $1 || '-' || i || '@bench.test', '!', 'bench ' || i FROM generate_series(1, $2) i
             RETURNING id
         ), numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM u)
         INSERT INTO control.api_tokens (user_id, token_hash, label)
         SELECT numbered.id, h.hash, 'bench' FROM numbered
         JOIN unnest($3::bytea[]) WITH ORDINALITY AS h(hash, n) ON h.n = numbered.n
         RETURNING user_id",
    )
    .bind(&slug)
    .bind(i64::try_from(n)?)
    .bind(&hashes)
    .fetch_all(&t.pool)
    .await?;
    let owner_member = Core::new(t.pool.clone())
        .member_for_token(&ApiToken::from_presented(&owner_token), &slug)
        .await?;
    let user_ids: Vec<UserId> = ids.iter().map(|(id,)| UserId(*id)).collect();
    Core::new(t.pool.clone())
        .admit_members(&owner_member, &user_ids)
        .await?;
    // Token i belongs to the i-th inserted user (ids ascend with the series).
    let mut people: Vec<(String, i64)> = Vec::with_capacity(n);
    let mut sorted: Vec<i64> = ids.into_iter().map(|(id,)| id).collect();
    sorted.sort_unstable();
    for (token, id) in tokens.iter().zip(sorted) {
        people.push((token.expose().to_owned(), id));
    }

    // Fund everyone through the API (batched issuance).
    let people = Arc::new(people);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, base, slug, owner_token, people, next) = (
            client.clone(),
            t.base.clone(),
            slug.clone(),
            owner_token.clone(),
            people.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = usize::try_from(next.fetch_add(1, Ordering::Relaxed))?;
                let Some((_, id)) = people.get(i) else {
                    return anyhow::Ok(());
                };
                // A server shedding load (503) is asked again: the key makes it once.
                let r = loop {
                    let r = client
                        .post(format!("{base}/v1/orgs/{slug}/issuance"))
                        .bearer_auth(&owner_token)
                        .header("idempotency-key", format!("fund-{id}"))
                        .json(&json!({"currency": "BENCH", "to_member": id, "amount": "1000000"}))
                        .send()
                        .await?;
                    if r.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE {
                        break r;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                };
                if !r.status().is_success() {
                    bail!(
                        "funding account of user {id}: {} {}",
                        r.status(),
                        r.text().await?
                    );
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let people = Arc::try_unwrap(people).unwrap_or_else(|p| (*p).clone());
    // Fresh statistics for the tables just filled in bulk, as autovacuum would give them
    // in time (and as pgbench's side gets too): plans then match a settled database.
    sqlx::query("ANALYZE").execute(&t.pool).await?;
    Ok(Seeded { slug, people })
}

pub(crate) struct LoadResult {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) elapsed: Duration,
    pub(crate) latency: Histogram<u64>,
}

pub(crate) async fn load(
    t: &Target,
    client: &reqwest::Client,
    seeded: &Seeded,
    args: &PayBenchArgs,
) -> anyhow::Result<LoadResult> {
    // Everything a request needs that does not change is made once: the load generator shares
    // the machine with the server and PostgreSQL, so its own work per request is kept small.
    let people: Vec<(HeaderValue, i64)> = seeded
        .people
        .iter()
        .map(|(token, id)| Ok((HeaderValue::from_str(&format!("Bearer {token}"))?, *id)))
        .collect::<anyhow::Result<_>>()?;
    let people = Arc::new(people);
    let url: reqwest::Url = format!("{}/v1/orgs/{}/transfers", t.base, seeded.slug).parse()?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (client, people, url) = (client.clone(), people.clone(), url.clone());
        let hot = args.hot;
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let (mut ok, mut failed) = (0u64, 0u64);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let (payer, payee) = {
                    let mut rng = rand::rng();
                    let payer = if hot {
                        0
                    } else {
                        rng.random_range(0..people.len())
                    };
                    let mut payee = rng.random_range(0..people.len() - 1);
                    if payee >= payer {
                        payee += 1;
                    }
                    (payer, payee)
                };
                n += 1;
                let sent = Instant::now();
                let response = client
                    .post(url.clone())
                    .header(AUTHORIZATION, people[payer].0.clone())
                    .header("idempotency-key", format!("c{c}-{n}"))
                    .header(CONTENT_TYPE, "application/json")
                    .body(format!(
                        r#"{{"currency":"BENCH","to_member":{},"amount":"0.01"}}"#,
                        people[payee].1
                    ))
                    .send()
                    .await;
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                match response {
                    Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                        ok += 1;
                        hist.record(micros.max(1))?;
                    }
                    _ => failed += 1,
                }
            }
            anyhow::Ok((ok, failed, hist))
        }));
    }
    let mut total = LoadResult {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3)?,
    };
    for task in tasks {
        let (ok, failed, hist) = task.await??;
        total.ok += ok;
        total.failed += failed;
        total.latency.add(hist)?;
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

/// The raw transfer script on plain tables, as a baseline for the same PostgreSQL.
fn pgbench(t: &Target, args: &PayBenchArgs) -> anyhow::Result<f64> {
    let script = if args.hot {
        "\\set from 1\n"
    } else {
        "\\set from random(1, :accounts)\n"
    }
    .to_owned()
        + "\\set to random(1, :accounts)\n\
           BEGIN;\n\
           UPDATE bench_raw.accounts SET balance = balance - 1 WHERE id = :from;\n\
           UPDATE bench_raw.accounts SET balance = balance + 1 WHERE id = :to;\n\
           INSERT INTO bench_raw.journal (from_id, to_id, amount) VALUES (:from, :to, 1);\n\
           END;\n";
    let dir = std::env::temp_dir().join(format!("coinsence-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("transfer.sql");
    std::fs::write(&file, script)?;
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &args.clients.to_string(),
            "-j",
            "2",
            "-T",
            &args.seconds.to_string(),
        ])
        .args([
            "--max-tries",
            "100",
            "-D",
            &format!("accounts={}", args.accounts),
        ])
        .arg("-f")
        .arg(&file)
        .arg(&t.db_url)
        .output()
        .context("running pgbench")?;
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .with_context(|| format!("no tps in pgbench output: {stdout}"))
}

async fn prepare_pgbench(t: &Target, accounts: usize) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "DROP SCHEMA IF EXISTS bench_raw CASCADE;
         CREATE SCHEMA bench_raw;
         CREATE TABLE bench_raw.accounts (id int PRIMARY KEY, balance bigint NOT NULL);
         CREATE TABLE bench_raw.journal (id bigserial PRIMARY KEY, from_id int NOT NULL, to_id int NOT NULL,
                                         amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());",
    )
    .execute(&t.pool)
    .await?;
    sqlx::query("INSERT INTO bench_raw.accounts SELECT i, 100000000 FROM generate_series(1, $1) i")
        .bind(i32::try_from(accounts)?)
        .execute(&t.pool)
        .await?;
    sqlx::query("VACUUM ANALYZE bench_raw.accounts")
        .execute(&t.pool)
        .await?;
    Ok(())
}

pub async fn run(args: PayBenchArgs) -> anyhow::Result<()> {
    if args.accounts < 2 || args.clients == 0 {
        bail!("need at least 2 accounts and 1 client");
    }
    let t = target(&args).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    eprintln!("seeding {} funded accounts ...", args.accounts);
    let seeded = seed(&t, &client, args.accounts).await?;
    let mode = if args.hot {
        "hot (every payment debits one account)"
    } else {
        "random accounts"
    };
    eprintln!(
        "paying over HTTP: {} clients, {} s, {mode} ...",
        args.clients, args.seconds
    );
    // The server's own metrics around the load (only when it runs in this process).
    let metrics_before = match args.url {
        None => scrape(&client, &t).await.ok(),
        Some(_) => None,
    };
    let r = load(&t, &client, &seeded, &args).await?;
    let rate = r.ok as f64 / r.elapsed.as_secs_f64();
    let ms = |q: f64| r.latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "coinsence: {rate:.0} transfers/s ({} ok, {} failed), p50 {:.1} ms, p99 {:.1} ms",
        r.ok,
        r.failed,
        ms(0.5),
        ms(0.99)
    );
    if let (Some(before), Ok(after)) = (metrics_before, scrape(&client, &t).await) {
        let delta = |name: &str| {
            after.get(name).copied().unwrap_or(f64::NAN) - before.get(name).copied().unwrap_or(0.0)
        };
        let n = delta("coinsence_batch_size_count{batch=\"transfers\"}");
        let size = delta("coinsence_batch_size_sum{batch=\"transfers\"}");
        let secs = delta("coinsence_transfer_batch_seconds_sum");
        print!(
            "batches:   {n:.0}, mean size {:.1}, mean {:.2} ms (",
            size / n,
            secs / n * 1000.0
        );
        // Optimistic batches read, then write; batches decided under locks begin, lock, post
        // (lock and write) and commit. Only the stages that ran are shown.
        for stage in ["read", "write", "begin", "lock", "post", "commit"] {
            let sum = format!("coinsence_transfer_stage_seconds_sum{{stage=\"{stage}\"}}");
            let count = delta(&format!(
                "coinsence_transfer_stage_seconds_count{{stage=\"{stage}\"}}"
            ));
            if count > 0.0 {
                print!(" {stage} {:.2}", delta(&sum) / count * 1000.0);
            }
        }
        println!(" ms)");
        let paths: Vec<String> = ["optimistic", "stale", "repeated key", "error"]
            .into_iter()
            .filter_map(|path| {
                let n = delta(&format!(
                    "coinsence_transfer_batches_total{{path=\"{path}\"}}"
                ));
                (n > 0.0).then(|| format!("{path} {n:.0}"))
            })
            .collect();
        println!(
            "optimistic tries: {} (of {n:.0} batches; the others ran under row locks)",
            paths.join(", ")
        );
    }
    if args.overload {
        let offered = rate * 2.0;
        eprintln!(
            "overload: offering {offered:.0} payments/s for {} s ...",
            args.seconds
        );
        let o = super::overload::run(&t.base, &seeded, offered, &args).await?;
        let secs = o.elapsed.as_secs_f64();
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "overload:  offered {:.0}/s; accepted {:.0}/s (p50 {:.1} ms, p99 {:.1} ms); shed {:.0}/s with 503 (p99 {:.1} ms); {} other failures",
            o.sent as f64 / secs,
            o.accepted.len() as f64 / secs,
            ms(&o.accepted, 0.5),
            ms(&o.accepted, 0.99),
            o.shed.len() as f64 / secs,
            ms(&o.shed, 0.99),
            o.failed
        );
    }
    if args.no_pgbench {
        return Ok(());
    }
    if Command::new("pgbench").arg("--version").output().is_err() {
        println!("pgbench: not installed, no ratio (apt-get install postgresql-contrib)");
        return Ok(());
    }
    prepare_pgbench(&t, args.accounts).await?;
    eprintln!(
        "pgbench: same script shape, {} clients, {} s ...",
        args.clients, args.seconds
    );
    let tps = tokio::task::spawn_blocking({
        let args = args.clone();
        let t = Target {
            base: t.base.clone(),
            db_url: t.db_url.clone(),
            pool: t.pool.clone(),
            _cluster: None,
        };
        move || pgbench(&t, &args)
    })
    .await??;
    println!("pgbench:   {tps:.0} transactions/s");
    println!("ratio:     {:.2}x pgbench ({mode})", rate / tps);
    Ok(())
}

/// The server's Prometheus counters and sums, by series name with labels.
async fn scrape(
    client: &reqwest::Client,
    t: &Target,
) -> anyhow::Result<std::collections::HashMap<String, f64>> {
    let text = client
        .get(format!("{}/metrics", t.base))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect())
}
