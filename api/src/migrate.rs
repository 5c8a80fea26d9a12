//! Applies the control-plane and tenant migrations, one schema at a time.
//!
//! Every schema records its own applied versions in `<schema>.schema_migrations`. A schema is
//! migrated in one transaction under an advisory lock keyed by its name, so two `migrate` runs at
//! once are safe (the second finds nothing to do) and an interrupted run resumes where it stopped.
//! The SQL files are embedded with `sqlx::migrate!`; an applied file whose checksum changed is an
//! error, because applied migrations are never edited.

use sqlx::migrate::{Migration, Migrator};
use sqlx::{AssertSqlSafe, PgPool};

use crate::domain::ids::TenantId;
use crate::domain::tenancy::{SchemaName, TenantTx};
use crate::error::{Error, Result};

pub static CONTROL: Migrator = sqlx::migrate!("../migrations/control");
pub static TENANT: Migrator = sqlx::migrate!("../migrations/tenant");

/// What one schema's migration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub newly_applied: usize,
    pub version: i64,
}

/// The latest tenant migration version: a schema at this version is up to date.
pub fn tenant_target_version() -> i64 {
    TENANT.iter().map(|m| m.version).max().unwrap_or(0)
}

pub async fn migrate_control(pool: &PgPool) -> Result<Applied> {
    let mut tx = pool.begin().await?;
    // On Citus the control plane stays on the coordinator, whatever the server's default.
    crate::citus::keep_new_schemas_local(&mut tx).await?;
    sqlx::query("CREATE SCHEMA IF NOT EXISTS control")
        .execute(&mut *tx)
        .await
        .or_else(ignore_concurrent_create)?;
    tx.commit().await?;
    let applied = migrate_schema(pool, &SchemaName::control(), &CONTROL).await?;
    crate::citus::reference_control_tables(pool).await?;
    Ok(applied)
}

pub async fn migrate_tenant(pool: &PgPool, schema: &SchemaName) -> Result<Applied> {
    migrate_schema(pool, schema, &TENANT).await
}

/// `CREATE SCHEMA IF NOT EXISTS` can still race with itself; losing that race is fine.
fn ignore_concurrent_create(
    err: sqlx::Error,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => Ok(Default::default()),
        _ => Err(err),
    }
}

/// Migrates one schema with `migrator` in its own transaction (the benches bring their own
/// migrator).
pub async fn migrate_schema(
    pool: &PgPool,
    schema: &SchemaName,
    migrator: &Migrator,
) -> Result<Applied> {
    let mut tx = TenantTx::begin(pool, schema).await?;
    let applied = migrate_in(&mut tx, migrator).await?;
    tx.commit().await?;
    Ok(applied)
}

/// Migrates the transaction's schema inside that transaction (a new org is created this way,
/// so it exists only once it is complete).
pub async fn migrate_in(tx: &mut TenantTx, migrator: &Migrator) -> Result<Applied> {
    let schema = tx.schema().clone();
    // One round trip: the lock, the Citus trigger setting, and whether the version table exists
    // (a release migrates thousands of schemas, so round trips per schema count).
    let has_table: bool = sqlx::query_scalar(
        "SELECT to_regclass('schema_migrations') IS NOT NULL
         FROM (SELECT pg_advisory_xact_lock(hashtext('coinsence-migrate'), hashtext($1)),
                      set_config('citus.enable_unsafe_triggers', 'on', true)) AS locked",
    )
    .bind(schema.as_str())
    .fetch_one(tx.conn())
    .await?;
    if !has_table {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version     bigint PRIMARY KEY,
                description text NOT NULL,
                checksum    bytea NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )",
        )
        .execute(tx.conn())
        .await?;
    }
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM schema_migrations ORDER BY version")
            .fetch_all(tx.conn())
            .await?;
    let mut newly_applied = 0;
    let mut version = applied.last().map_or(0, |(v, _)| *v);
    for migration in migrator.iter() {
        if let Some((_, checksum)) = applied.iter().find(|(v, _)| *v == migration.version) {
            if checksum.as_slice() != &*migration.checksum {
                return Err(Error::Internal(anyhow::anyhow!(
                    "migration {} of {schema} was edited after it was applied",
                    migration.version
                )));
            }
            continue;
        }
        apply(tx, migration).await?;
        newly_applied += 1;
        version = version.max(migration.version);
    }
    // Steps done in Rust after the SQL, in the same transaction (each idempotent and cheap when
    // there is nothing to do; only a run that applied something can have left them work).
    if newly_applied > 0 {
        let added = crate::domain::ledger::tree_heads::backfill(tx).await?;
        if added > 0 {
            tracing::info!(%schema, leaves = added, "Merkle tree built over earlier seals");
        }
    }
    Ok(Applied {
        newly_applied,
        version,
    })
}

/// Statements of committed migrations that Rust now does instead (a committed migration is never
/// edited, its checksum is recorded): 0012's SQL backfill of the Merkle tree hashed entries in SQL
/// and failed on a Citus worker for an org that already had seals;
/// `tree_heads::backfill` builds the same tree with the seal's own code after the migrations.
const DONE_IN_RUST: &[(i64, &str)] = &[(12, "SELECT merkle_backfill()")];

async fn apply(tx: &mut TenantTx, migration: &Migration) -> Result<()> {
    tracing::debug!(schema = %tx.schema(), version = migration.version, "applying migration");
    crate::citus::serialize_schema_changes(tx.conn()).await?;
    // One statement per command: Citus forwards DDL in a distributed schema one command at a
    // time and refuses a multi-statement string.
    for statement in crate::sql_statements::split(migration.sql.as_str()) {
        if DONE_IN_RUST.contains(&(migration.version, statement)) {
            continue;
        }
        sqlx::raw_sql(AssertSqlSafe(statement.to_owned()))
            .execute(tx.conn())
            .await?;
    }
    sqlx::query(
        "INSERT INTO schema_migrations (version, description, checksum) VALUES ($1, $2, $3)",
    )
    .bind(migration.version)
    .bind(migration.description.as_ref())
    .bind(migration.checksum.as_ref())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Progress of migrating every org.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub orgs: usize,
    pub migrated: usize,
    pub up_to_date: usize,
    pub failed: usize,
}

/// Every org's schema version (0 when it cannot be read), in id order.
pub async fn tenant_versions(pool: &PgPool) -> Result<Vec<(TenantId, i64)>> {
    let ids: Vec<(TenantId,)> = sqlx::query_as("SELECT id FROM control.tenants ORDER BY id")
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for (id,) in ids {
        let schema = SchemaName::for_tenant(id);
        let sql = format!("SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations");
        let version: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .unwrap_or(0);
        out.push((id, version));
    }
    Ok(out)
}

/// Migrates the control plane, then every org schema, then the spare schemas. A failed org is
/// reported and skipped (the next run retries it); `progress` is called after each org.
pub async fn migrate_all(pool: &PgPool, mut progress: impl FnMut(usize, usize)) -> Result<Summary> {
    migrate_control(pool).await?;
    let ids: Vec<TenantId> = sqlx::query_scalar("SELECT id FROM control.tenants ORDER BY id")
        .fetch_all(pool)
        .await?;
    let mut summary = Summary {
        orgs: ids.len(),
        ..Summary::default()
    };
    let total = ids.len();
    migrate_tenants(pool, ids, &TENANT, |id, outcome| {
        match outcome {
            Ok(a) if a.newly_applied > 0 => summary.migrated += 1,
            Ok(_) => summary.up_to_date += 1,
            Err(e) => {
                let schema = SchemaName::for_tenant(id);
                tracing::error!(%schema, error = %e, "migrating org failed");
                summary.failed += 1;
            }
        }
        progress(
            summary.migrated + summary.up_to_date + summary.failed,
            total,
        );
    })
    .await;
    match crate::domain::spare_schemas::migrate(pool).await {
        Ok(n) if n > 0 => tracing::info!(spares = n, "spare org schemas migrated"),
        Ok(_) => {}
        // A spare that cannot be migrated fails the creation that takes it, loudly; orgs
        // already migrated are not held back by it.
        Err(e) => tracing::error!(error = %e, "migrating spare org schemas failed"),
    }
    Ok(summary)
}

/// Migrates the given org schemas with `migrator`, several at once (each schema in its own
/// transaction on its own connection, so one org's failure touches no other), calling `done`
/// as each finishes. As many at once as the pool allows, up to [`MAX_CONCURRENT_SCHEMAS`]: a
/// schema's migration is a few short round trips, so overlapping them keeps the server busy
/// rather than waiting on the network.
pub async fn migrate_tenants(
    pool: &PgPool,
    ids: Vec<TenantId>,
    migrator: &Migrator,
    mut done: impl FnMut(TenantId, Result<Applied>),
) {
    use futures::StreamExt;

    let at_once = (pool.options().get_max_connections() as usize).clamp(1, MAX_CONCURRENT_SCHEMAS);
    let mut running = futures::stream::iter(ids)
        .map(|id| async move {
            let outcome = migrate_schema(pool, &SchemaName::for_tenant(id), migrator).await;
            (id, outcome)
        })
        .buffer_unordered(at_once);
    while let Some((id, outcome)) = running.next().await {
        done(id, outcome);
    }
}

/// More at once stops paying on a small server and only queues on its locks.
pub const MAX_CONCURRENT_SCHEMAS: usize = 4;

/// One org whose schema lacks some tenant migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgBehind {
    pub tenant: crate::domain::ids::TenantId,
    pub slug: String,
    /// Its highest applied version (0: none, or no schema yet).
    pub version: i64,
    /// The versions it still needs, in order.
    pub missing: Vec<i64>,
}

/// What `migrate` would still do: the control-plane versions not applied and every org that is
/// behind. Empty when everything is current.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    pub control: Vec<i64>,
    pub orgs: Vec<OrgBehind>,
    /// Orgs looked at.
    pub org_count: usize,
}

impl Pending {
    pub fn is_current(&self) -> bool {
        self.control.is_empty() && self.orgs.is_empty()
    }
}

/// The versions a schema has applied; none when it (or its table) does not exist. Reads only.
async fn applied_versions(pool: &PgPool, schema: &SchemaName) -> Result<Vec<i64>> {
    let table = format!("{schema}.schema_migrations");
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
        .bind(&table)
        .fetch_one(pool)
        .await?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT version FROM {table} ORDER BY version");
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?)
}

fn missing(migrator: &Migrator, applied: &[i64]) -> Vec<i64> {
    migrator
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect()
}

/// What is pending, without changing anything (`coinsence migrate --check`, which the chart's
/// init containers run until the schema is current). Spare schemas are not counted: taking one
/// migrates it.
pub async fn pending(pool: &PgPool) -> Result<Pending> {
    let control = missing(
        &CONTROL,
        &applied_versions(pool, &SchemaName::control()).await?,
    );
    let mut out = Pending {
        control,
        ..Pending::default()
    };
    // No tenants table yet: the control plane was never migrated, so no org exists either.
    let tenants: Option<String> = sqlx::query_scalar("SELECT to_regclass('control.tenants')::text")
        .fetch_one(pool)
        .await?;
    if tenants.is_none() {
        return Ok(out);
    }
    let ids: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, slug FROM control.tenants ORDER BY id")
            .fetch_all(pool)
            .await?;
    out.org_count = ids.len();
    for (id, slug) in ids {
        let tenant = crate::domain::ids::TenantId(id);
        let applied = applied_versions(pool, &SchemaName::for_tenant(tenant)).await?;
        let missing = missing(&TENANT, &applied);
        if !missing.is_empty() {
            out.orgs.push(OrgBehind {
                tenant,
                slug,
                version: applied.last().copied().unwrap_or(0),
                missing,
            });
        }
    }
    Ok(out)
}
