//! Coinsence on Citus schema-based sharding: each `org_<id>` schema is a distributed schema that
//! Citus places on one worker, and can move whole (`citus_schema_move`); the control plane stays
//! on the coordinator.
//!
//! What Citus needs from the rest of the code, all of it harmless on a plain PostgreSQL (a
//! `citus.*` setting there is an unused placeholder):
//! - `control` is created with schema sharding off, so that it stays a schema of the coordinator;
//!   the control tables that tenant statements read (a payer's token and membership, checked by
//!   the statement that moves the money, and a migration that reads memberships) become
//!   reference tables, copied to every node ([`reference_control_tables`]).
//! - Org and spare schemas are created with schema sharding on ([`distribute_new_schemas`]).
//! - Migrations are sent one statement per command (`sql_statements`), with triggers allowed
//!   (the journal's append-only triggers run on the worker, inside the org's own shard).
//!
//! [`LocalCitus`] is a coordinator and two workers on loopback, for tests, benchmarks and
//! `coinsence up --citus`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use tokio::sync::OnceCell;

use crate::cluster::{Cluster, ClusterOptions, connect};
use crate::domain::tenancy::SchemaName;
use crate::error::Result;

/// The control tables that tenant statements read, in the order they can become reference
/// tables (a reference table's foreign keys may only point at reference tables: `tenants`
/// refers to `users`, `memberships` and `api_tokens` to both). The control tables that refer to
/// these (chat, login links) become Citus-managed local tables of the coordinator on the way.
pub const REFERENCE_TABLES: [&str; 4] = ["users", "tenants", "memberships", "api_tokens"];

/// Whether the constraint a database error names is `name`. On Citus the error comes from a
/// shard, whose constraints carry the shard's id (`transfers_idempotency_key_102022`), and the
/// coordinator passes on its message but not its constraint field: the name is then read from
/// the message (PostgreSQL's `... violates unique constraint "<name>"`).
pub fn is_constraint(db: &dyn sqlx::error::DatabaseError, name: &str) -> bool {
    let from_message = || {
        let message = db.message();
        let start = message.find("constraint \"")? + "constraint \"".len();
        let len = message[start..].find('"')?;
        Some(&message[start..start + len])
    };
    names_constraint(db.constraint().or_else(from_message), name)
}

fn names_constraint(found: Option<&str>, name: &str) -> bool {
    found.is_some_and(|found| {
        found == name
            || found.strip_prefix(name).is_some_and(|rest| {
                rest.strip_prefix('_')
                    .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            })
    })
}

/// Whether the database runs Citus (its extension is created there).
pub async fn is_citus(conn: &mut PgConnection) -> Result<bool> {
    let (yes,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
            .fetch_one(conn)
            .await?;
    Ok(yes)
}

/// In the caller's transaction: schemas created from here on are distributed schemas on Citus
/// (an org's, a spare's), whatever the server's default.
pub async fn distribute_new_schemas(conn: &mut PgConnection) -> Result<()> {
    serialize_schema_changes(&mut *conn).await?;
    sqlx::query("SELECT set_config('citus.enable_schema_based_sharding', 'on', true)")
        .execute(conn)
        .await?;
    Ok(())
}

/// On Citus, waits until no other transaction is creating an org or creating, renaming or
/// migrating a distributed schema, and holds that turn until the caller's transaction ends.
/// Without turns, concurrent signups fail with distributed deadlocks: Citus serializes an
/// `UPDATE` of a reference table against every other write to it and to the reference tables it
/// refers to, across the cluster (an org's creation inserts its `tenants` row, then activates
/// it, which also locks `users`), and distributed DDL locks Citus's metadata on the coordinator
/// and the workers in different orders. So an org's creation takes its turn before its first
/// write to a reference table. On one node it does nothing.
pub async fn serialize_schema_changes(conn: &mut PgConnection) -> Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('coinsence-citus-schema-changes'))
         FROM pg_extension WHERE extname = 'citus'",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// In the caller's transaction: a schema created from here on stays on the coordinator.
pub async fn keep_new_schemas_local(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT set_config('citus.enable_schema_based_sharding', 'off', true)")
        .execute(conn)
        .await?;
    Ok(())
}

/// In the caller's (migrating) transaction: triggers may be created on tables of a distributed
/// schema. Citus calls them unsafe because a trigger on a sharded table may reach other shards;
/// ours only refuse an update of the journal, inside the org's own single shard.
pub async fn allow_triggers(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT set_config('citus.enable_unsafe_triggers', 'on', true)")
        .execute(conn)
        .await?;
    Ok(())
}

/// For the hot path's pool, which forces generic plans: on Citus, each new connection goes back
/// to planning per execution. Citus cannot plan the journal write (a statement of modifying
/// CTEs) without its parameters' values, and with generic plans forced it fails with "could not
/// create distributed plan" instead of falling back. Elsewhere the setting is left alone.
pub fn custom_plans_on_citus(options: PgPoolOptions) -> PgPoolOptions {
    options.after_connect(|conn, _| {
        Box::pin(async move {
            sqlx::query(
                "SELECT set_config('plan_cache_mode', 'auto', false)
                 FROM pg_extension WHERE extname = 'citus'",
            )
            .execute(conn)
            .await?;
            Ok(())
        })
    })
}

/// On Citus, makes [`REFERENCE_TABLES`] reference tables (those that are not yet); elsewhere
/// does nothing. Idempotent, so `migrate` runs it every time.
pub async fn reference_control_tables(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    if !is_citus(&mut conn).await? {
        return Ok(());
    }
    for table in REFERENCE_TABLES {
        let name = format!("control.{table}");
        let (done,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_dist_partition
                            WHERE logicalrelid = $1::regclass AND repmodel = 't')",
        )
        .bind(&name)
        .fetch_one(&mut *conn)
        .await?;
        if !done {
            sqlx::query("SELECT create_reference_table($1::regclass)")
                .bind(&name)
                .execute(&mut *conn)
                .await?;
            tracing::info!(table = %name, "control table is now a reference table");
        }
    }
    Ok(())
}

/// Where Citus placed an org's schema: the worker's `host:port`, or None when the schema is not
/// distributed (a plain PostgreSQL, or a schema created before Citus).
pub async fn placement(pool: &PgPool, schema: &SchemaName) -> Result<Option<String>> {
    let mut conn = pool.acquire().await?;
    if !is_citus(&mut conn).await? {
        return Ok(None);
    }
    let row: Option<(String, i32)> = sqlx::query_as(
        "SELECT s.nodename, s.nodeport FROM citus_shards s
         JOIN pg_dist_schema d ON d.colocationid = s.colocation_id
         WHERE d.schemaid = $1::regnamespace
         LIMIT 1",
    )
    .bind(schema.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(host, port)| format!("{host}:{port}")))
}

/// Moves an org's schema, whole, to another worker while it stays in use: Citus copies it with
/// logical replication and blocks its writes only for the final switch.
pub async fn move_schema(pool: &PgPool, schema: &SchemaName, host: &str, port: u16) -> Result<()> {
    sqlx::query("SELECT citus_schema_move($1::regnamespace, $2, $3)")
        .bind(schema.as_str())
        .bind(host)
        .bind(i32::from(port))
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether Citus is installed into the PostgreSQL that a [`LocalCitus`] would run.
pub fn installed() -> bool {
    crate::cluster::bin_dir()
        .map(|bin| bin.join("../lib/citus.so").exists())
        .unwrap_or(false)
}

/// A local Citus cluster: a coordinator and two workers, each a private PostgreSQL listening on
/// 127.0.0.1 only (Citus's nodes talk over TCP) and on a unix socket in its directory.
pub struct LocalCitus {
    pub coordinator: Cluster,
    pub workers: Vec<Cluster>,
}

/// The settings every node starts with.
fn node_conf() -> String {
    // `%v` (the virtual transaction id) lets a test group what one transaction sent to the
    // workers (tests/citus: no transaction touches two orgs).
    // Schema sharding stays off by default: Coinsence turns it on for the org schemas it
    // creates, and other schemas (the worker's job queue) stay on the coordinator.
    "shared_preload_libraries = 'citus'\n\
     log_line_prefix = '%m [%p] db=%d vxid=%v '\n\
     wal_level = logical\n"
        .to_owned()
}

impl LocalCitus {
    /// Starts (creating on first use) the three nodes under `dir`: `coordinator/`, `worker1/`,
    /// `worker2/`. Ports are taken free at creation and kept in `dir/ports`.
    pub fn start(dir: &Path, options: ClusterOptions) -> anyhow::Result<Self> {
        if !installed() {
            bail!(
                "Citus is not installed into this PostgreSQL: run ../shared/citus/install.sh \
                 (or .ci/deps)"
            );
        }
        std::fs::create_dir_all(dir)?;
        let ports_file = dir.join("ports");
        let ports: Vec<u16> = match std::fs::read_to_string(&ports_file) {
            Ok(text) => text
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
            Err(_) => {
                let ports = free_ports(3)?;
                let text: Vec<String> = ports.iter().map(u16::to_string).collect();
                std::fs::write(&ports_file, text.join(" "))?;
                ports
            }
        };
        let [c, w1, w2] = ports[..] else {
            bail!("{} does not list three ports", ports_file.display());
        };
        let conf = node_conf();
        let node = |name: &str, port| {
            Cluster::start_node(&dir.join(name), options, Some(port), &conf)
                .with_context(|| format!("starting Citus node {name}"))
        };
        Ok(Self {
            coordinator: node("coordinator", c)?,
            workers: vec![node("worker1", w1)?, node("worker2", w2)?],
        })
    }

    /// The coordinator's URL for `database` (over its unix socket).
    pub fn url(&self, database: &str) -> String {
        self.coordinator.url(database)
    }

    /// Makes `database` a Citus database: created on every node (unless it exists), the
    /// extension in each, the workers added to the coordinator. Idempotent.
    pub async fn create_database(&self, database: &str) -> anyhow::Result<String> {
        if !database
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            bail!("refusing database name {database:?}");
        }
        // Adding a worker connects to it, which a busy node (tests creating databases side by
        // side) may refuse for a moment; every step is idempotent, so it is tried again.
        let mut tries = 0;
        loop {
            match self.try_create_database(database).await {
                Ok(url) => return Ok(url),
                Err(e) if tries < 3 => {
                    tries += 1;
                    tracing::warn!(error = %format!("{e:#}"), "making a Citus database, again");
                    tokio::time::sleep(std::time::Duration::from_millis(500 * tries)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn try_create_database(&self, database: &str) -> anyhow::Result<String> {
        for node in std::iter::once(&self.coordinator).chain(&self.workers) {
            let admin = connect(&node.url("postgres"), 1).await?;
            let (exists,): (bool,) =
                sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(database)
                    .fetch_one(&admin)
                    .await?;
            if !exists {
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {database}")))
                    .execute(&admin)
                    .await?;
            }
            admin.close().await;
            let db = connect(&node.url(database), 1).await?;
            sqlx::query("CREATE EXTENSION IF NOT EXISTS citus")
                .execute(&db)
                .await?;
            db.close().await;
        }
        let url = self.url(database);
        let db = connect(&url, 1).await?;
        sqlx::query("SELECT citus_set_coordinator_host('127.0.0.1', $1)")
            .bind(i32::from(self.coordinator.port()))
            .execute(&db)
            .await?;
        for worker in &self.workers {
            sqlx::query(
                "SELECT citus_add_node('127.0.0.1', $1)
                 WHERE NOT EXISTS (SELECT 1 FROM pg_dist_node WHERE nodeport = $1)",
            )
            .bind(i32::from(worker.port()))
            .execute(&db)
            .await?;
        }
        db.close().await;
        Ok(url)
    }

    /// `127.0.0.1` and the port of worker `i` (0 or 1), as Citus names it.
    pub fn worker_address(&self, i: usize) -> (&'static str, u16) {
        ("127.0.0.1", self.workers[i].port())
    }

    /// The coordinator's server log (statements and what it sent on, when a test asks for it).
    pub fn coordinator_log(&self) -> PathBuf {
        self.coordinator.dir().join("postgres.log")
    }
}

fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// The Citus cluster the tests share (one per test process, started on first use and removed
/// when the process ends), or None when Citus is not installed. Under `CI=true` a missing Citus
/// is an error: there, the Citus tests run and never skip.
pub async fn test_cluster() -> anyhow::Result<Option<&'static LocalCitus>> {
    static CLUSTER: OnceCell<Option<LocalCitus>> = OnceCell::const_new();
    let cluster = CLUSTER
        .get_or_try_init(|| async {
            if !installed() {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    bail!("Citus is not installed (CI=true): run .ci/deps");
                }
                eprintln!("SKIPPED: Citus is not installed; run ../shared/citus/install.sh");
                return Ok(None);
            }
            let dir = std::env::temp_dir().join(format!("coinsence-citus-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let cluster = tokio::task::spawn_blocking({
                let dir = dir.clone();
                move || {
                    LocalCitus::start(
                        &dir,
                        ClusterOptions {
                            fsync: false,
                            remove_on_exit: true,
                        },
                    )
                }
            })
            .await??;
            // Each node removes its own directory when this process ends; this removes what
            // is left of theirs (the ports file and the folder).
            let script = format!(
                "while kill -0 {pid} 2>/dev/null; do sleep 1; done; sleep 5; rm -rf '{dir}'",
                pid = std::process::id(),
                dir = dir.display(),
            );
            std::process::Command::new("sh")
                .args(["-c", &script])
                .process_group(0)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            Ok(Some(cluster))
        })
        .await?;
    Ok(cluster.as_ref())
}

/// A fresh Citus database on the shared test cluster, the control plane migrated: its pool
/// (on the coordinator) and URL. None when Citus is not installed (see [`test_cluster`]).
pub async fn test_database() -> anyhow::Result<Option<(PgPool, String)>> {
    static N: AtomicU64 = AtomicU64::new(0);
    let Some(cluster) = test_cluster().await? else {
        return Ok(None);
    };
    let name = format!(
        "c{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let url = cluster.create_database(&name).await?;
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .test_before_acquire(false)
        .connect_with(PgConnectOptions::from_str(&url)?)
        .await?;
    crate::migrate::migrate_control(&pool).await?;
    Ok(Some((pool, url)))
}

#[cfg(test)]
mod tests {
    use super::names_constraint as is_constraint;

    #[test]
    fn a_shard_constraint_is_its_table_constraint() {
        let name = "transfers_idempotency_key";
        assert!(is_constraint(Some(name), name));
        assert!(is_constraint(
            Some("transfers_idempotency_key_102022"),
            name
        ));
        for other in [
            None,
            Some("transfers_idempotency_key_"),
            Some("transfers_idempotency_key_x1"),
            Some("transfers_idempotency"),
            Some("transfers_idempotency_key2"),
        ] {
            assert!(!is_constraint(other, name), "{other:?}");
        }
    }
}
