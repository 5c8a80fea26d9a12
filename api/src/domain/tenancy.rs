//! Organizations live in their own PostgreSQL schema, `org_<id>`.
//!
//! The schema name is derived from the tenant id, never from input, and is checked once more
//! before it reaches SQL. Every tenant query runs on a [`TenantTx`] (a transaction that has
//! already done `SET LOCAL search_path`) or, for the transfer lanes' self-committing statements,
//! a [`TenantSession`] (a connection whose session `search_path` is the org's, reset or closed
//! before anyone else can use it). There is no other way to reach tenant tables.

use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use utoipa::ToSchema;

use super::ids::TenantId;
use super::text_enum::text_enum;
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::refusal::Refusal;

/// Runs an operation (one transaction) until it completes: `Ok(None)` or a transient database
/// error means it was rolled back and is tried again.
pub(crate) async fn retrying<T, F, Fut>(mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    const ATTEMPTS: usize = 8;
    for _ in 0..ATTEMPTS {
        match op().await {
            Ok(Some(done)) => return Ok(done),
            Ok(None) => continue,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Busy)
}

/// An org's URL name: 3–40 characters, lowercase ASCII letters, digits and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "bike-kitchen")]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(text: &str) -> Result<Self> {
        let ok_len = (3..=40).contains(&text.len());
        let ok_chars = text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_ends = !text.starts_with('-') && !text.ends_with('-');
        if ok_len && ok_chars && ok_ends {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::from(Refusal::SlugMalformed { field: "slug" }))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgSlug {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<OrgSlug> for String {
    fn from(value: OrgSlug) -> Self {
        value.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A PostgreSQL schema this service owns: `control`, `org_<digits>`, or `spare_<digits>` (one
/// prepared for a future org, see `spare_schemas`). Nothing else can be built.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    pub fn control() -> Self {
        Self("control".to_owned())
    }

    pub fn for_tenant(id: TenantId) -> Self {
        Self(format!("org_{}", id.0))
    }

    /// A schema prepared ahead for a future org.
    pub fn spare(n: i64) -> Self {
        Self(format!("spare_{}", n.unsigned_abs()))
    }

    /// Re-checks a name read back from the database before it is spliced into SQL.
    pub fn parse(text: &str) -> Result<Self> {
        let digits =
            |d: &str| !d.is_empty() && d.len() <= 19 && d.bytes().all(|b| b.is_ascii_digit());
        let valid = text == "control"
            || text.strip_prefix("org_").is_some_and(digits)
            || text.strip_prefix("spare_").is_some_and(digits);
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::Internal(anyhow::anyhow!(
                "refusing schema name {text:?}"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_enum!(
    /// An org is `provisioning` until its schema is migrated, then `active`.
    TenantStatus {
        Provisioning => "provisioning",
        Active => "active",
        Suspended => "suspended",
    }
);

/// An org as the control plane knows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tenant {
    pub id: TenantId,
    #[sqlx(try_from = "String")]
    pub slug: OrgSlug,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub status: TenantStatus,
    pub open: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The org's default language (see [`crate::i18n::Lang::pick`]).
    pub language: Lang,
}

impl Tenant {
    pub fn schema(&self) -> SchemaName {
        SchemaName::for_tenant(self.id)
    }
}

/// A transaction whose `search_path` is one org's schema (then `pg_catalog`).
///
/// Control-plane tables stay reachable as `control.<table>`, so joining a member (control) and
/// opening their accounts (tenant) is one atomic transaction.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    schema: SchemaName,
}

impl TenantTx {
    /// Only the domain opens org transactions: edges call `Core` operations.
    pub(crate) async fn begin(pool: &PgPool, schema: &SchemaName) -> Result<Self> {
        // One round trip for both. The name is safe to splice: `SchemaName` can only be
        // `control` or `org_<digits>`.
        let begin = format!("BEGIN; SET LOCAL search_path TO {schema}");
        let tx = pool.begin_with(sqlx::AssertSqlSafe(begin)).await?;
        Ok(Self {
            tx,
            schema: schema.clone(),
        })
    }

    /// Turns an open transaction into a tenant transaction.
    pub async fn enter(
        mut tx: Transaction<'static, Postgres>,
        schema: &SchemaName,
    ) -> Result<Self> {
        sqlx::query("SELECT set_config('search_path', $1, true)")
            .bind(schema.as_str())
            .execute(&mut *tx)
            .await?;
        Ok(Self {
            tx,
            schema: schema.clone(),
        })
    }

    pub fn schema(&self) -> &SchemaName {
        &self.schema
    }

    /// The connection, for running queries inside this org.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Marks a point to return to: a step that may be refused (a proposal's action) runs after
    /// it, and is undone alone with [`Self::rollback_to_savepoint`] while the rest stays.
    pub async fn savepoint(&mut self) -> Result<()> {
        sqlx::query("SAVEPOINT coinsence_step")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn release_savepoint(&mut self) -> Result<()> {
        sqlx::query("RELEASE SAVEPOINT coinsence_step")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn rollback_to_savepoint(&mut self) -> Result<()> {
        sqlx::query("ROLLBACK TO SAVEPOINT coinsence_step")
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("RELEASE SAVEPOINT coinsence_step")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

/// A connection whose every query runs inside one org's schema: a [`TenantTx`], or a
/// [`TenantSession`]. Code that works on either (the transfer lanes') takes this.
pub trait TenantConn: Send {
    fn conn(&mut self) -> &mut PgConnection;
}

impl TenantConn for TenantTx {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// A pooled connection whose session `search_path` is one org's schema, so that each statement
/// on it is a transaction of its own inside that org (no `BEGIN` and `COMMIT` round trips).
///
/// A transfer lane holds one while it is busy. [`Self::release`] resets the path and gives the
/// connection back; a session dropped any other way (an error, a cancelled task) closes its
/// connection, so a pooled connection never carries an org's path to another user.
pub struct TenantSession {
    conn: PoolConnection<Postgres>,
    /// Set once the path is back to the server's default: only then may the pool have it back.
    reset: bool,
}

impl TenantSession {
    pub async fn open(pool: &PgPool, schema: &SchemaName) -> Result<Self> {
        let mut session = Self {
            conn: pool.acquire().await?,
            reset: false,
        };
        // Safe to splice: `SchemaName` can only be `control` or `org_<digits>`.
        let set = format!("SET search_path TO {schema}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(set))
            .execute(&mut *session.conn)
            .await?;
        Ok(session)
    }

    /// Gives the connection back to the pool with the server's default `search_path`.
    pub async fn release(mut self) {
        self.reset = sqlx::raw_sql("RESET search_path")
            .execute(&mut *self.conn)
            .await
            .is_ok();
    }
}

impl TenantConn for TenantSession {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Drop for TenantSession {
    fn drop(&mut self) {
        if !self.reset {
            self.conn.close_on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for good in ["abc", "bike-kitchen", "org-42", "a1b"] {
            assert!(OrgSlug::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a b c",
            "a'b;c",
            "drop;table",
            "åbc",
            "org_1",
            "x\"y",
            &"a".repeat(41),
        ] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schema_names_are_only_ours() {
        assert_eq!(SchemaName::for_tenant(TenantId(7)).as_str(), "org_7");
        assert!(SchemaName::parse("org_7").is_ok());
        assert!(SchemaName::parse("control").is_ok());
        assert_eq!(SchemaName::spare(3).as_str(), "spare_3");
        assert!(SchemaName::parse("spare_3").is_ok());
        for bad in [
            "org_",
            "org_7; drop",
            "public",
            "org_x",
            "org_12345678901234567890",
            "spare_",
            "spare_1;drop",
        ] {
            assert!(SchemaName::parse(bad).is_err(), "{bad}");
        }
    }
}
