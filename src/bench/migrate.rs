//! `coinsence bench migrate [--orgs 5000]`: one node with thousands of orgs, and a release that
//! brings a new tenant migration. On a private durable (fsync on) cluster unless
//! `--database-url` is given (a scratch database: the bench's migrations stay recorded there).
//!
//! 1. Creates the orgs: their control-plane rows, then each schema by the real tenant migrations
//!    (`migrate_in`, as a new org's), four at a time; these setup commits skip the wait for the
//!    disk (`synchronous_commit = off`), which is not what is measured.
//! 2. Times migrating every org to a new, no-op tenant migration that exists only in this run
//!    (never in `migrations/`): a child process runs what `coinsence migrate` runs
//!    (`migrate_tenants`: per org its own transaction, the advisory lock, the version check, the
//!    migration, its record; four orgs at once), after a baseline run one org at a time.
//!    Target: <= 60 s for 5,000 orgs.
//! 3. Shows it resumes: a second no-op migration, the child killed (SIGKILL) a third of the way,
//!    then run again; it finishes, and every org has the migration exactly once.
//! 4. Reports the catalog (`pg_database_size`, `pg_class` rows) and memory (the server's
//!    processes, and the migrating backend's caches).

use std::borrow::Cow;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use coinsence_api::domain::ids::TenantId;
use coinsence_api::domain::tenancy::SchemaName;
use coinsence_api::migrate;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, PgPool, SqlSafeStr};
use tokio::io::AsyncBufReadExt;

use super::cli::MigrateBenchArgs;

/// The bench's migrations are numbered far above any real one.
const FIRST_BENCH_VERSION: i64 = 90_000_000_001;
/// Orgs whose schemas are created at once.
const SETUP_WORKERS: usize = 4;

pub async fn run(args: MigrateBenchArgs) -> anyhow::Result<()> {
    if let Some(version) = args.child {
        let url = args.database_url.context("--child needs --database-url")?;
        return child(&url, version, args.at_once).await;
    }
    let (pool, url, cluster) = super::worker::database(args.database_url.as_deref(), 8).await?;
    let local = cluster.is_some();

    let start = Instant::now();
    let created = create_orgs(&pool, args.orgs).await?;
    let took = start.elapsed().as_secs_f64();
    println!(
        "created {created} orgs in {took:.1} s ({:.0} orgs/s; {} orgs in all)",
        created as f64 / took.max(1e-9),
        org_count(&pool).await?
    );
    report_catalog(&pool, local, "with the orgs").await?;

    // A release with one new tenant migration, applied to every org without interruption.
    let first = FIRST_BENCH_VERSION + i64::try_from(bench_versions_applied(&pool).await?)?;
    // One schema at a time first, as the baseline measured in the same run.
    let serial = migrate_in_child(&url, first, 1, None).await?;
    let at_once = migrate::MAX_CONCURRENT_SCHEMAS;
    let run = migrate_in_child(&url, first + 1, at_once, None).await?;
    println!(
        "migrate: {} orgs to a new migration in {:.1} s ({:.2} ms per org; target <= 60 s for \
         5,000), {at_once} at once; one at a time took {:.1} s ({:.2}x as long){}",
        run.migrated,
        run.seconds,
        run.seconds * 1000.0 / run.migrated.max(1) as f64,
        serial.seconds,
        serial.seconds / run.seconds.max(1e-9),
        run.backend_memory
            .map(|b| format!("; a migrating backend's memory contexts {:.1} MiB", mib(b)))
            .unwrap_or_default()
    );

    // Another release, its migration killed a third of the way, then run again.
    let second = first + 2;
    let total = org_count(&pool).await?;
    let killed = migrate_in_child(&url, second, at_once, Some(total / 3)).await?;
    // The child may have committed a few more orgs than it printed before the kill: count.
    let (at_kill, _) = orgs_at(&pool, second).await?;
    let resumed = migrate_in_child(&url, second, at_once, None).await?;
    let (at_end, missing) = orgs_at(&pool, second).await?;
    println!(
        "resumable: killed (SIGKILL) after {at_kill} of {total} orgs ({:.1} s); the rerun found \
         {} done and migrated the other {} ({:.1} s); {at_end}/{total} orgs have it once, {missing} \
         do not",
        killed.seconds, resumed.up_to_date, resumed.migrated, resumed.seconds,
    );
    if missing > 0 || resumed.migrated + at_kill != total {
        bail!("the resumed migration did not reach every org exactly once");
    }
    report_catalog(&pool, local, "after both migrations").await?;
    Ok(())
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The tenant migrations of this release plus the bench's no-op ones up to `version`.
fn migrator_up_to(version: i64) -> Migrator {
    let mut migrations: Vec<Migration> = migrate::TENANT.iter().cloned().collect();
    for v in FIRST_BENCH_VERSION..=version {
        migrations.push(Migration::new(
            v,
            Cow::Owned(format!("bench no-op {v}")),
            MigrationType::Simple,
            AssertSqlSafe(format!(
                "-- coinsence bench migrate: a release's no-op tenant migration {v}\nSELECT 1;"
            ))
            .into_sql_str(),
            false,
        ));
    }
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

async fn org_count(pool: &PgPool) -> anyhow::Result<usize> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM control.tenants")
        .fetch_one(pool)
        .await?;
    Ok(usize::try_from(n)?)
}

/// How many bench migrations earlier runs on this database applied (so a rerun adds new ones).
async fn bench_versions_applied(pool: &PgPool) -> anyhow::Result<usize> {
    let first: Option<i64> = sqlx::query_scalar("SELECT min(id) FROM control.tenants")
        .fetch_one(pool)
        .await?;
    let Some(first) = first else { return Ok(0) };
    let sql = format!(
        "SELECT count(*) FROM {}.schema_migrations WHERE version >= $1",
        SchemaName::for_tenant(TenantId(first))
    );
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(FIRST_BENCH_VERSION)
        .fetch_one(pool)
        .await?;
    Ok(usize::try_from(n)?)
}

/// Adds orgs until there are `target`; returns how many it created.
async fn create_orgs(pool: &PgPool, target: usize) -> anyhow::Result<usize> {
    let have = org_count(pool).await?;
    let missing = target.saturating_sub(have);
    if missing == 0 {
        return Ok(0);
    }
    let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO control.tenants (slug, name, status, open)
         SELECT 'mig-' || $1 || '-' || n, 'Bench org ' || n, 'active', false
         FROM generate_series(1, $2::bigint) AS n RETURNING id",
    )
    .bind(&tag)
    .bind(i64::try_from(missing)?)
    .fetch_all(pool)
    .await?;
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..SETUP_WORKERS {
        let (pool, ids, next) = (pool.clone(), ids.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&id) = ids.get(i) else {
                    return anyhow::Ok(());
                };
                let schema = SchemaName::for_tenant(TenantId(id));
                sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&pool)
                    .await?;
                migrate::migrate_schema(&pool, &schema, &migrate::TENANT).await?;
                if (i + 1) % 500 == 0 {
                    eprintln!("  {} orgs created", i + 1);
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    Ok(ids.len())
}

/// What one child run did.
struct ChildRun {
    migrated: usize,
    up_to_date: usize,
    seconds: f64,
    backend_memory: Option<i64>,
}

/// Runs the child to migrate every org to `version`; with `kill_after`, kills it (SIGKILL) once
/// it has migrated that many.
async fn migrate_in_child(
    url: &str,
    version: i64,
    at_once: usize,
    kill_after: Option<usize>,
) -> anyhow::Result<ChildRun> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["bench", "migrate", "--child", &version.to_string()])
        .args(["--at-once", &at_once.to_string()])
        .env("DATABASE_URL", url)
        .env("COINSENCE_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let start = Instant::now();
    let stdout = child.stdout.take().context("the child's output")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut run = ChildRun {
        migrated: 0,
        up_to_date: 0,
        seconds: 0.0,
        backend_memory: None,
    };
    while let Some(line) = lines.next_line().await? {
        match line.split_once(' ') {
            Some(("migrated", _)) => run.migrated += 1,
            Some(("current", _)) => run.up_to_date += 1,
            Some(("memory", bytes)) => run.backend_memory = bytes.trim().parse().ok(),
            _ => {}
        }
        if kill_after.is_some_and(|k| run.migrated >= k) {
            child.start_kill()?;
            break;
        }
    }
    let status = child.wait().await?;
    run.seconds = start.elapsed().as_secs_f64();
    if kill_after.is_none() && !status.success() {
        bail!("the migrating child failed: {status}");
    }
    Ok(run)
}

/// The child: `coinsence migrate`'s per-org step over every org in id order, with the bench's
/// migrations added; one line per org on stdout.
async fn child(url: &str, version: i64, at_once: usize) -> anyhow::Result<()> {
    use std::io::Write;

    // The production path: `migrate_tenants` runs as many at once as the pool has connections.
    let pool = coinsence_api::cluster::connect(url, u32::try_from(at_once)?).await?;
    let migrator = migrator_up_to(version);
    let ids: Vec<TenantId> = sqlx::query_scalar("SELECT id FROM control.tenants ORDER BY id")
        .fetch_all(&pool)
        .await?;
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    migrate::migrate_tenants(&pool, ids, &migrator, |id, applied| {
        let line = match applied {
            Ok(a) if a.newly_applied > 0 => format!("migrated {id}"),
            Ok(_) => format!("current {id}"),
            Err(e) => {
                failed.get_or_insert(e);
                return;
            }
        };
        // The parent counts lines as they come (and kills this child part-way).
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    })
    .await;
    if let Some(e) = failed {
        return Err(e.into());
    }
    let memory: i64 =
        sqlx::query_scalar("SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts")
            .fetch_one(&pool)
            .await?;
    writeln!(out, "memory {memory}")?;
    Ok(())
}

/// How many orgs have the migration `version`, and how many do not.
async fn orgs_at(pool: &PgPool, version: i64) -> anyhow::Result<(usize, usize)> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM control.tenants ORDER BY id")
        .fetch_all(pool)
        .await?;
    let mut at = 0;
    for &id in &ids {
        let sql = format!(
            "SELECT count(*) FROM {}.schema_migrations WHERE version = $1",
            SchemaName::for_tenant(TenantId(id))
        );
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(version)
            .fetch_one(pool)
            .await?;
        if n == 1 {
            at += 1;
        }
    }
    Ok((at, ids.len() - at))
}

/// The catalog's size and, on a private cluster, the server's memory.
async fn report_catalog(pool: &PgPool, local: bool, when: &str) -> anyhow::Result<()> {
    let (size, relations): (i64, i64) = sqlx::query_as(
        "SELECT pg_database_size(current_database()), (SELECT count(*) FROM pg_class)",
    )
    .fetch_one(pool)
    .await?;
    let memory = if local {
        server_memory(pool).await?
    } else {
        "not measured (not a private cluster)".to_owned()
    };
    println!(
        "catalog {when}: database {:.0} MiB, {relations} pg_class rows; server memory: {memory}",
        mib(size)
    );
    Ok(())
}

/// The postmaster's RSS and the proportional set size (PSS: shared pages divided among the
/// processes sharing them) of every server process, from /proc.
async fn server_memory(pool: &PgPool) -> anyhow::Result<String> {
    let dir: String = sqlx::query_scalar("SELECT current_setting('data_directory')")
        .fetch_one(pool)
        .await?;
    let pid_file = std::fs::read_to_string(format!("{dir}/postmaster.pid"))?;
    let postmaster: u32 = pid_file
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .context("postmaster.pid")?;
    let kib = |path: String, key: &str| -> Option<u64> {
        std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
            l.strip_prefix(key)?
                .trim()
                .trim_end_matches(" kB")
                .parse()
                .ok()
        })
    };
    let rss = kib(format!("/proc/{postmaster}/status"), "VmRSS:").unwrap_or(0);
    let mut pss = 0;
    let mut processes = 0;
    for entry in std::fs::read_dir("/proc")? {
        let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let parent = kib(format!("/proc/{pid}/status"), "PPid:");
        if pid == postmaster || parent == Some(u64::from(postmaster)) {
            pss += kib(format!("/proc/{pid}/smaps_rollup"), "Pss:").unwrap_or(0);
            processes += 1;
        }
    }
    Ok(format!(
        "postmaster RSS {:.0} MiB, all {processes} server processes PSS {:.0} MiB",
        rss as f64 / 1024.0,
        pss as f64 / 1024.0
    ))
}
