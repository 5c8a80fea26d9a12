//! `org export`: every part read in one `REPEATABLE READ` read-only transaction, so the archive
//! is one consistent moment of an org that keeps working meanwhile (payments are not blocked;
//! they are simply not in it).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, PgPool};

use super::format::{FORMAT, Manifest, ManifestOrg, Migrations, PartHeader, PartSum, VERSION};
use crate::domain::ids::TenantId;
use crate::domain::tenancy::{OrgSlug, SchemaName, TenantTx};
use crate::error::{Error, Result};
use crate::refusal::Refusal;

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub parts: Vec<PartSum>,
    pub bytes: u64,
}

/// The org's rows in the control plane, each part one query over the tenant id ($1). People are
/// the org's members, current and removed (their accounts and history stay), without
/// credentials.
const CONTROL_PARTS: &[(&str, &str)] = &[
    (
        "control.tenant",
        "SELECT jsonb_build_object('id', id, 'slug', slug, 'name', name, 'status', status,
                'open', open, 'created_at', created_at, 'created_by', created_by)::text
         FROM control.tenants WHERE id = $1",
    ),
    (
        "control.users",
        "SELECT jsonb_build_object('id', u.id, 'email', u.email, 'display_name', u.display_name,
                'created_at', u.created_at)::text
         FROM control.users u
         WHERE u.id IN (SELECT user_id FROM members
                        UNION SELECT user_id FROM control.memberships WHERE tenant_id = $1)
         ORDER BY u.id",
    ),
    (
        "control.memberships",
        "SELECT jsonb_build_object('user_id', user_id, 'role', role, 'created_at', created_at)::text
         FROM control.memberships WHERE tenant_id = $1 ORDER BY user_id",
    ),
    (
        "control.chat_identities",
        "SELECT jsonb_build_object('platform', i.platform, 'platform_user_id', i.platform_user_id,
                'user_id', i.user_id, 'dm_room_id', i.dm_room_id, 'created_at', i.created_at)::text
         FROM control.chat_identities i
         WHERE i.user_id IN (SELECT user_id FROM members
                             UNION SELECT user_id FROM control.memberships WHERE tenant_id = $1)
         ORDER BY i.platform, i.platform_user_id",
    ),
    // The org's history key goes with it: members pinned its public half, and the log the new
    // host continues must verify under the same key. (The archive already holds everything of
    // the org; keep it as safe as the key.)
    (
        "control.org_signing_key",
        "SELECT jsonb_build_object('public_key', encode(public_key, 'hex'),
                'secret_key', encode(secret_key, 'hex'), 'created_at', created_at)::text
         FROM control.org_signing_keys WHERE tenant_id = $1",
    ),
    (
        "control.chat_rooms",
        "SELECT jsonb_build_object('platform', platform, 'room_id', room_id, 'bound_by', bound_by,
                'created_at', created_at)::text
         FROM control.chat_rooms WHERE tenant_id = $1 ORDER BY platform, room_id",
    ),
];

/// Writes the archive of the org `slug` to `out` (through a `.partial` file renamed at the end,
/// so a failed export leaves no archive that looks whole).
pub async fn export_org(pool: &PgPool, slug: &OrgSlug, out: &Path) -> Result<ExportSummary> {
    let tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let mut tx = TenantTx::enter(tx, &SchemaName::control()).await?;
    // The snapshot starts with this first query: everything below sees the same moment.
    let org: Option<(
        TenantId,
        String,
        chrono::DateTime<chrono::Utc>,
        Option<String>,
    )> = sqlx::query_as(
        "SELECT t.id, t.name, t.created_at, i.origin FROM control.tenants t
             LEFT JOIN control.org_imports i ON i.tenant_id = t.id
             WHERE t.slug = $1",
    )
    .bind(slug.as_str())
    .fetch_optional(tx.conn())
    .await?;
    let (tenant, name, created_at, origin) =
        org.ok_or_else(|| Error::from(Refusal::OrgNotFound))?;
    let schema = SchemaName::for_tenant(tenant);
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(schema.as_str())
        .execute(tx.conn())
        .await?;
    let migrations = Migrations {
        control: max_version(&mut tx, "control.schema_migrations").await?,
        tenant: max_version(&mut tx, "schema_migrations").await?,
    };

    let partial = out.with_file_name(format!(
        "{}.partial",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let mut body = BufWriter::new(File::create(&partial).map_err(io)?);
    let mut parts = Vec::new();
    for (name, sql) in CONTROL_PARTS {
        let rows: Vec<String> = sqlx::query_scalar(*sql)
            .bind(tenant)
            .fetch_all(tx.conn())
            .await?;
        parts.push(write_part(&mut body, name, &rows)?);
    }
    for table in tables_in_load_order(&mut tx, &schema).await? {
        let order = primary_key(&mut tx, &schema, &table).await?;
        let sql = format!(
            "SELECT to_jsonb(t)::text FROM {} t ORDER BY {}",
            quote_ident(&table),
            if order.is_empty() { "1" } else { &order }
        );
        let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(tx.conn())
            .await?;
        parts.push(write_part(&mut body, &format!("org.{table}"), &rows)?);
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        version: VERSION,
        exported_at: chrono::Utc::now(),
        origin: origin.unwrap_or_else(|| format!("{}@{}", tenant.0, created_at.timestamp_micros())),
        org: ManifestOrg {
            slug: slug.as_str().to_owned(),
            name,
        },
        migrations,
        parts,
    };
    tx.commit().await?;
    body.flush().map_err(io)?;
    drop(body);

    let mut file = BufWriter::new(File::create(out).map_err(io)?);
    serde_json::to_writer(&mut file, &manifest).map_err(|e| Error::Internal(e.into()))?;
    file.write_all(b"\n").map_err(io)?;
    std::io::copy(&mut File::open(&partial).map_err(io)?, &mut file).map_err(io)?;
    let file = file.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    std::fs::remove_file(&partial).map_err(io)?;
    Ok(ExportSummary {
        parts: manifest.parts,
        bytes,
    })
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(anyhow::anyhow!("writing the archive: {e}"))
}

fn write_part(out: &mut impl Write, name: &str, rows: &[String]) -> Result<PartSum> {
    let header = serde_json::to_string(&PartHeader {
        part: name.to_owned(),
    })
    .map_err(|e| Error::Internal(e.into()))?;
    writeln!(out, "{header}").map_err(io)?;
    let mut hash = Sha256::new();
    for row in rows {
        // `to_jsonb` never writes a line break outside a string, and JSON escapes those inside.
        hash.update(row.as_bytes());
        hash.update(b"\n");
        writeln!(out, "{row}").map_err(io)?;
    }
    Ok(PartSum {
        name: name.to_owned(),
        rows: rows.len() as u64,
        sha256: hex::encode(hash.finalize()),
    })
}

async fn max_version(tx: &mut TenantTx, table: &'static str) -> Result<i64> {
    let sql = format!("SELECT coalesce(max(version), 0) FROM {table}");
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(tx.conn())
        .await?)
}

pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The schema's tables (but its migration record), each after every table it references.
pub(super) async fn tables_in_load_order(
    tx: &mut TenantTx,
    schema: &SchemaName,
) -> Result<Vec<String>> {
    let edges: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT c.relname::text,
                coalesce(array_agg(DISTINCT r.relname::text)
                         FILTER (WHERE r.oid IS NOT NULL AND r.oid <> c.oid), '{}')
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f'
         LEFT JOIN pg_class r ON r.oid = k.confrelid AND r.relnamespace = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
         GROUP BY c.relname",
    )
    .bind(schema.as_str())
    .fetch_all(tx.conn())
    .await?;
    let mut waiting: BTreeMap<String, BTreeSet<String>> = edges
        .into_iter()
        .map(|(t, deps)| (t, deps.into_iter().collect()))
        .collect();
    let mut order = Vec::with_capacity(waiting.len());
    while !waiting.is_empty() {
        let ready: Vec<String> = waiting
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !waiting.contains_key(d)))
            .map(|(t, _)| t.clone())
            .collect();
        if ready.is_empty() {
            return Err(Error::Internal(anyhow::anyhow!(
                "the foreign keys of {schema} form a cycle: {:?}",
                waiting.keys().collect::<Vec<_>>()
            )));
        }
        for t in ready {
            waiting.remove(&t);
            order.push(t);
        }
    }
    Ok(order)
}

/// The primary key's columns, quoted, for a stable row order ("" when there is none).
async fn primary_key(tx: &mut TenantTx, schema: &SchemaName, table: &str) -> Result<String> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord), '')
         FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass
           AND i.indisprimary",
    )
    .bind(schema.as_str())
    .bind(table)
    .fetch_one(tx.conn())
    .await?)
}
