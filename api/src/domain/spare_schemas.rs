//! Tenant schemas prepared ahead, so that a new org is ready in a few milliseconds.
//!
//! Creating an org's schema is twenty-odd `CREATE TABLE`s: about 150 ms, against DESIGN's
//! 100 ms for a new org. So a few schemas are prepared in the background (`spare_<n>`, migrated
//! and empty, listed in `control.spare_schemas`), and creating an org renames one to
//! `org_<id>` inside its creating transaction. With none left, the org's schema is created
//! there as before; either way the org exists only once it is complete.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};

use super::tenancy::{SchemaName, TenantTx};
use crate::error::Result;
use crate::migrate;

/// How many spares to keep, and whether a top-up is under way in this process.
#[derive(Clone)]
pub struct Spares {
    pub target: usize,
    topping_up: Arc<AtomicBool>,
}

impl Spares {
    /// Spares kept unless configured otherwise (0 turns them off).
    pub const DEFAULT: usize = 2;

    pub fn new(target: usize) -> Self {
        Self {
            target,
            topping_up: Arc::default(),
        }
    }

    /// Prepares spares in the background until there are `target` (one top-up at a time per
    /// process; one preparation at a time across processes).
    pub fn replenish(&self, pool: &PgPool) {
        if self.target == 0 || self.topping_up.swap(true, Ordering::AcqRel) {
            return;
        }
        let (pool, spares) = (pool.clone(), self.clone());
        tokio::spawn(async move {
            if let Err(e) = top_up(&pool, spares.target).await {
                tracing::warn!(error = %e, "could not prepare spare org schemas");
            }
            spares.topping_up.store(false, Ordering::Release);
        });
    }
}

/// Prepares spares until there are `target`; returns how many it prepared. Stops early when
/// another process is preparing one.
pub async fn top_up(pool: &PgPool, target: usize) -> Result<usize> {
    let mut prepared = 0;
    while prepare_one(pool, target).await? {
        prepared += 1;
    }
    Ok(prepared)
}

/// One spare, in one transaction: its schema at the latest migration and its row.
async fn prepare_one(pool: &PgPool, target: usize) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let (free,): (bool,) =
        sqlx::query_as("SELECT pg_try_advisory_xact_lock(hashtext('coinsence-spare-schemas'))")
            .fetch_one(&mut *tx)
            .await?;
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM control.spare_schemas")
        .fetch_one(&mut *tx)
        .await?;
    if !free || usize::try_from(count).unwrap_or(usize::MAX) >= target {
        return Ok(false);
    }
    let (n,): (i64,) = sqlx::query_as("SELECT nextval('control.spare_schema_numbers')")
        .fetch_one(&mut *tx)
        .await?;
    let schema = SchemaName::spare(n);
    crate::citus::distribute_new_schemas(&mut tx).await?;
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut *tx)
        .await?;
    let mut tx = TenantTx::enter(tx, &schema).await?;
    migrate::migrate_in(&mut tx, &migrate::TENANT).await?;
    sqlx::query("INSERT INTO control.spare_schemas (name) VALUES ($1)")
        .bind(schema.as_str())
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    tracing::debug!(%schema, "spare org schema prepared");
    Ok(true)
}

/// Brings every spare to the latest migration, as `migrate` does every org, so that a release's
/// new migrations are applied at deploy time and not by the first signup after it. A spare that
/// an org's creation is taking at that moment is skipped (its creation migrates it). Returns how
/// many spares it migrated.
pub async fn migrate(pool: &PgPool) -> Result<usize> {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM control.spare_schemas ORDER BY name")
            .fetch_all(pool)
            .await?;
    let mut migrated = 0;
    for (name,) in names {
        let schema = SchemaName::parse(&name)?;
        let mut tx = pool.begin().await?;
        let held: Option<(String,)> = sqlx::query_as(
            "SELECT name FROM control.spare_schemas WHERE name = $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(schema.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if held.is_none() {
            continue;
        }
        let mut tx = TenantTx::enter(tx, &schema).await?;
        if migrate::migrate_in(&mut tx, &migrate::TENANT)
            .await?
            .newly_applied
            > 0
        {
            migrated += 1;
        }
        tx.commit().await?;
    }
    Ok(migrated)
}

/// Makes `schema` (a new org's) exist in the caller's transaction: a spare renamed, or a new
/// empty schema when there is none. The caller then migrates it (a no-op for an up-to-date
/// spare). Concurrent creations take different spares (`SKIP LOCKED`); a rolled-back creation
/// leaves its spare in place.
pub async fn take_or_create(
    tx: &mut Transaction<'static, Postgres>,
    schema: &SchemaName,
) -> Result<()> {
    let spare: Option<(String,)> = sqlx::query_as(
        "DELETE FROM control.spare_schemas WHERE name = (
             SELECT name FROM control.spare_schemas ORDER BY prepared_at, name
             LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING name",
    )
    .fetch_optional(&mut **tx)
    .await?;
    // Both names are `SchemaName`s, safe to splice: the spare's is checked again on the way in.
    let ddl = match spare {
        Some((name,)) => {
            let spare = SchemaName::parse(&name)?;
            format!("ALTER SCHEMA {spare} RENAME TO {schema}")
        }
        None => format!("CREATE SCHEMA {schema}"),
    };
    crate::citus::distribute_new_schemas(tx).await?;
    sqlx::query(AssertSqlSafe(ddl)).execute(&mut **tx).await?;
    Ok(())
}

impl crate::Core {
    /// Prepares spare org schemas in the background up to the configured number (see
    /// [`Spares::replenish`]).
    pub fn replenish_spares(&self) {
        self.spares.replenish(&self.pool);
    }
}
