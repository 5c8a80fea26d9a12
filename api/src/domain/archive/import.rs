//! `org import`: the archive is checked whole before anything is written (format, migration
//! versions, every part against its checksum), then loaded in one transaction that also checks
//! the ledger and the seal chain before it commits. Any refusal writes nothing.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use super::export::{quote_ident, tables_in_load_order};
use super::format::{FORMAT, Manifest, PartHeader, VERSION, remap_row};
use crate::domain::ids::TenantId;
use crate::domain::ledger::{seal, store};
use crate::domain::tenancy::{OrgSlug, SchemaName, TenantTx};
use crate::error::{Error, Result};
use crate::migrate;
use crate::refusal::Refusal;

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    pub tenant: TenantId,
    pub slug: OrgSlug,
    /// People who already had a user here (same email, or a chat identity known here).
    pub users_matched: usize,
    pub users_created: usize,
    /// Chat identities and rooms already known here (kept as they are).
    pub identities_skipped: usize,
    pub rooms_skipped: usize,
    /// Rows loaded into the org's schema.
    pub rows: u64,
}

/// Rows per insert statement.
const BATCH: usize = 1000;

fn refuse(why: String) -> Error {
    // The problem names the first mismatch (a part, a row, a seal) for the operator; it is
    // the archive's own vocabulary, not a sentence to translate.
    Error::from(Refusal::ArchiveRejected {
        field: "archive",
        problem: why,
    })
}

/// A part as read from the file, checked against the manifest.
struct Part {
    name: String,
    rows: Vec<Map<String, Value>>,
}

/// Reads and checks the whole archive; names the first thing that does not match.
fn read(text: &str) -> Result<(Manifest, [u8; 32], Vec<Part>)> {
    let mut lines = text.split_terminator('\n').enumerate().peekable();
    let Some((_, first)) = lines.next() else {
        return Err(refuse("the file is empty".to_owned()));
    };
    let manifest: Manifest = serde_json::from_str(first)
        .map_err(|e| refuse(format!("line 1 is not an org archive manifest: {e}")))?;
    if manifest.format != FORMAT || manifest.version != VERSION {
        return Err(refuse(format!(
            "this is {} version {}, not {FORMAT} version {VERSION}",
            manifest.format, manifest.version
        )));
    }
    let manifest_sha: [u8; 32] = Sha256::digest(first.as_bytes()).into();
    let mut parts = Vec::with_capacity(manifest.parts.len());
    for expected in &manifest.parts {
        let header = lines.next().and_then(|(n, l)| {
            serde_json::from_str::<PartHeader>(l)
                .ok()
                .map(|h| (n + 1, h.part))
        });
        match header {
            Some((_, name)) if name == expected.name => {}
            Some((line, name)) => {
                return Err(refuse(format!(
                    "line {line}: part {name} where the manifest has {}",
                    expected.name
                )));
            }
            None => return Err(refuse(format!("part {} is missing", expected.name))),
        }
        let mut hash = Sha256::new();
        let mut rows = Vec::new();
        while let Some((n, line)) = lines.next_if(|(_, l)| !l.starts_with("{\"part\":")) {
            hash.update(line.as_bytes());
            hash.update(b"\n");
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(row)) => rows.push(row),
                _ => {
                    return Err(refuse(format!(
                        "part {} row {} (line {}) is not a JSON object",
                        expected.name,
                        rows.len() + 1,
                        n + 1
                    )));
                }
            }
        }
        if rows.len() as u64 != expected.rows {
            return Err(refuse(format!(
                "part {} has {} rows where the manifest says {}",
                expected.name,
                rows.len(),
                expected.rows
            )));
        }
        if hex::encode(hash.finalize()) != expected.sha256 {
            return Err(refuse(format!(
                "part {} does not match its checksum in the manifest (changed or damaged since \
                 the export)",
                expected.name
            )));
        }
        parts.push(Part {
            name: expected.name.clone(),
            rows,
        });
    }
    if let Some((n, _)) = lines.next() {
        return Err(refuse(format!(
            "line {}: more than the manifest lists",
            n + 1
        )));
    }
    Ok((manifest, manifest_sha, parts))
}

fn part<'a>(parts: &'a [Part], name: &str) -> Result<&'a [Map<String, Value>]> {
    parts
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.rows.as_slice())
        .ok_or_else(|| refuse(format!("part {name} is missing")))
}

fn field<'de, T: Deserialize<'de>>(
    part: &str,
    row: &'de Map<String, Value>,
    key: &str,
) -> Result<T> {
    row.get(key)
        .and_then(|v| T::deserialize(v).ok())
        .ok_or_else(|| refuse(format!("part {part}: a row has no valid {key}")))
}

/// Loads the archive at `path` as a new org, under `new_slug` if given (a copy). Refuses an
/// archive from a newer Coinsence, a changed or damaged one, and an org imported here before
/// (same slug, or the same origin) unless a new slug is asked for.
pub async fn import_org(
    pool: &PgPool,
    path: &Path,
    new_slug: Option<OrgSlug>,
) -> Result<ImportSummary> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
    let (manifest, manifest_sha, parts) = read(&text)?;
    drop(text);

    let control_here: i64 =
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM control.schema_migrations")
            .fetch_one(pool)
            .await?;
    let tenant_here = migrate::tenant_target_version();
    if manifest.migrations.control > control_here || manifest.migrations.tenant > tenant_here {
        return Err(refuse(format!(
            "it was written by a newer Coinsence (migrations: control {}, org {}; here: control \
             {control_here}, org {tenant_here}); upgrade this instance and run `coinsence \
             migrate` first",
            manifest.migrations.control, manifest.migrations.tenant
        )));
    }

    let tenant_rows = part(&parts, "control.tenant")?;
    let [tenant_row] = tenant_rows else {
        return Err(refuse("part control.tenant must have one row".to_owned()));
    };
    let slug = match &new_slug {
        Some(s) => s.clone(),
        None => OrgSlug::parse(&manifest.org.slug)?,
    };

    let mut tx = pool.begin().await?;
    // One import at a time: the checks below then hold until the commit.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('coinsence-org-import'))")
        .execute(&mut *tx)
        .await?;
    let taken: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM control.tenants WHERE slug = $1)")
            .bind(slug.as_str())
            .fetch_one(&mut *tx)
            .await?;
    if taken {
        return Err(Refusal::OrgExistsHere {
            slug: slug.to_string(),
        }
        .into());
    }
    if new_slug.is_none() {
        let before: Option<String> = sqlx::query_scalar(
            "SELECT t.slug FROM control.org_imports i JOIN control.tenants t ON t.id = i.tenant_id
             WHERE i.origin = $1 ORDER BY i.tenant_id LIMIT 1",
        )
        .bind(&manifest.origin)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(before) = before {
            return Err(Refusal::OrgAlreadyImported { slug: before }.into());
        }
    }

    let t = "control.tenant";
    let tenant: TenantId = sqlx::query_scalar(
        "INSERT INTO control.tenants (slug, name, status, open, created_at)
         VALUES ($1, $2, 'provisioning', $3, $4::timestamptz) RETURNING id",
    )
    .bind(slug.as_str())
    .bind(field::<String>(t, tenant_row, "name")?)
    .bind(field::<bool>(t, tenant_row, "open")?)
    .bind(field::<String>(t, tenant_row, "created_at")?)
    .fetch_one(&mut *tx)
    .await?;

    let people = match_people(&mut tx, &parts).await?;
    let users = &people.map;
    let mut summary = ImportSummary {
        tenant,
        slug,
        users_matched: people.matched,
        users_created: people.created,
        identities_skipped: people.identities_skipped,
        rooms_skipped: 0,
        rows: 0,
    };
    let user = |part: &str, row: &Map<String, Value>, key: &str| -> Result<Option<i64>> {
        Ok(field::<Option<i64>>(part, row, key)?.and_then(|id| users.get(&id).copied()))
    };
    let p = "control.memberships";
    for row in part(&parts, p)? {
        sqlx::query(
            "INSERT INTO control.memberships (tenant_id, user_id, role, created_at)
             VALUES ($1, $2, $3, $4::timestamptz)",
        )
        .bind(tenant)
        .bind(
            user(p, row, "user_id")?
                .ok_or_else(|| refuse(format!("part {p}: a member without a user")))?,
        )
        .bind(field::<String>(p, row, "role")?)
        .bind(field::<String>(p, row, "created_at")?)
        .execute(&mut *tx)
        .await?;
    }
    let p = "control.chat_rooms";
    for row in part(&parts, p)? {
        let done = sqlx::query(
            "INSERT INTO control.chat_rooms (platform, room_id, tenant_id, bound_by, created_at)
             VALUES ($1, $2, $3, $4, $5::timestamptz) ON CONFLICT DO NOTHING",
        )
        .bind(field::<String>(p, row, "platform")?)
        .bind(field::<String>(p, row, "room_id")?)
        .bind(tenant)
        .bind(user(p, row, "bound_by")?)
        .bind(field::<String>(p, row, "created_at")?)
        .execute(&mut *tx)
        .await?;
        // A room speaks for one org: one bound here already stays with it.
        if done.rows_affected() == 0 {
            summary.rooms_skipped += 1;
        }
    }
    // Archives from before the Merkle log have no key: the first seal here makes one.
    let p = "control.org_signing_key";
    for row in part(&parts, p).unwrap_or_default() {
        sqlx::query(
            "INSERT INTO control.org_signing_keys (tenant_id, public_key, secret_key, created_at)
             VALUES ($1, decode($2, 'hex'), decode($3, 'hex'), $4::timestamptz)",
        )
        .bind(tenant)
        .bind(field::<String>(p, row, "public_key")?)
        .bind(field::<String>(p, row, "secret_key")?)
        .bind(field::<String>(p, row, "created_at")?)
        .execute(&mut *tx)
        .await?;
    }
    let creator = user(t, tenant_row, "created_by")?;

    let schema = SchemaName::for_tenant(tenant);
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut *tx)
        .await?;
    let mut tx = TenantTx::enter(tx, &schema).await?;
    // The schema as the exporting instance had it, so every row fits; migrations since then
    // run over the loaded data afterwards, as they would have there.
    let as_exported = Migrator {
        migrations: Cow::Owned(
            migrate::TENANT
                .iter()
                .filter(|m| m.version <= manifest.migrations.tenant)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    migrate::migrate_in(&mut tx, &as_exported).await?;
    summary.rows = load_tables(&mut tx, &schema, &parts, users).await?;
    migrate::migrate_in(&mut tx, &migrate::TENANT).await?;

    // The seals first: they name where a changed journal entry is.
    let audit = seal::audit_in(&mut tx).await?;
    if let Some(m) = audit.first_mismatch {
        return Err(refuse(format!(
            "its journal does not match its seals: seal {}: {}",
            m.seq, m.reason
        )));
    }
    for (id, sum, mismatches, violations, _) in store::verify(&mut tx).await? {
        if sum != "0" || mismatches > 0 || violations > 0 {
            return Err(refuse(format!(
                "its ledger does not add up (currency {id}: balances sum to {sum}, {mismatches} \
                 accounts differ from the journal, {violations} outside their limits)"
            )));
        }
    }
    sqlx::query("UPDATE control.tenants SET status = $2, created_by = $3 WHERE id = $1")
        .bind(tenant)
        .bind(field::<String>(t, tenant_row, "status")?)
        .bind(creator)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "INSERT INTO control.org_imports (tenant_id, origin, manifest_sha256) VALUES ($1, $2, $3)",
    )
    .bind(tenant)
    .bind(&manifest.origin)
    .bind(manifest_sha.as_slice())
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(summary)
}

struct People {
    /// Archive user id to this instance's.
    map: HashMap<i64, i64>,
    matched: usize,
    created: usize,
    identities_skipped: usize,
}

/// Finds or creates each person of the archive here, then adds their chat identities.
async fn match_people(tx: &mut PgConnection, parts: &[Part]) -> Result<People> {
    let (u, c) = ("control.users", "control.chat_identities");
    let users = part(parts, u)?;
    let identities = part(parts, c)?;
    // New people keep their id where it is free; the sequence moves past the archive's ids
    // first, so a signup running meanwhile cannot take one of them.
    let highest = users
        .iter()
        .map(|r| field::<i64>(u, r, "id"))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .max()
        .unwrap_or(0);
    sqlx::query(
        "SELECT setval('control.users_id_seq', greatest($1, (SELECT last_value FROM control.users_id_seq)))",
    )
    .bind(highest.max(1))
    .execute(&mut *tx)
    .await?;
    let mut people = People {
        map: HashMap::new(),
        matched: 0,
        created: 0,
        identities_skipped: 0,
    };
    for row in users {
        let old: i64 = field(u, row, "id")?;
        let email: String = field(u, row, "email")?;
        let mut found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM control.users WHERE email = $1")
                .bind(&email)
                .fetch_optional(&mut *tx)
                .await?;
        for ident in identities
            .iter()
            .filter(|i| i.get("user_id") == Some(&Value::from(old)))
        {
            if found.is_some() {
                break;
            }
            found = sqlx::query_scalar(
                "SELECT user_id FROM control.chat_identities
                 WHERE platform = $1 AND platform_user_id = $2",
            )
            .bind(field::<String>(c, ident, "platform")?)
            .bind(field::<String>(c, ident, "platform_user_id")?)
            .fetch_optional(&mut *tx)
            .await?;
        }
        let id = match found {
            Some(id) => {
                people.matched += 1;
                id
            }
            None => {
                people.created += 1;
                let name: String = field(u, row, "display_name")?;
                let created_at: String = field(u, row, "created_at")?;
                let same_id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO control.users (id, email, display_name, created_at)
                     SELECT $1, $2, $3, $4::timestamptz
                     WHERE NOT EXISTS (SELECT 1 FROM control.users WHERE id = $1)
                     ON CONFLICT DO NOTHING RETURNING id",
                )
                .bind(old)
                .bind(&email)
                .bind(&name)
                .bind(&created_at)
                .fetch_optional(&mut *tx)
                .await?;
                match same_id {
                    Some(id) => id,
                    None => {
                        sqlx::query_scalar(
                            "INSERT INTO control.users (email, display_name, created_at)
                             VALUES ($1, $2, $3::timestamptz) RETURNING id",
                        )
                        .bind(&email)
                        .bind(&name)
                        .bind(&created_at)
                        .fetch_one(&mut *tx)
                        .await?
                    }
                }
            }
        };
        people.map.insert(old, id);
    }
    for row in identities {
        let Some(user) = people.map.get(&field::<i64>(c, row, "user_id")?) else {
            continue;
        };
        let done = sqlx::query(
            "INSERT INTO control.chat_identities (platform, platform_user_id, user_id, dm_room_id, created_at)
             VALUES ($1, $2, $3, $4, $5::timestamptz) ON CONFLICT DO NOTHING",
        )
        .bind(field::<String>(c, row, "platform")?)
        .bind(field::<String>(c, row, "platform_user_id")?)
        .bind(user)
        .bind(field::<Option<String>>(c, row, "dm_room_id")?)
        .bind(field::<String>(c, row, "created_at")?)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            people.identities_skipped += 1;
        }
    }
    Ok(people)
}

/// Loads every `org.*` part into the new schema (emptied of the rows its migrations seed), then
/// moves each id sequence past the loaded ids.
async fn load_tables(
    tx: &mut TenantTx,
    schema: &SchemaName,
    parts: &[Part],
    users: &HashMap<i64, i64>,
) -> Result<u64> {
    let tables = tables_in_load_order(tx, schema).await?;
    let here: BTreeSet<&str> = tables.iter().map(String::as_str).collect();
    let archived: BTreeSet<&str> = parts
        .iter()
        .filter_map(|p| p.name.strip_prefix("org."))
        .collect();
    if here != archived {
        return Err(refuse(format!(
            "its org tables {archived:?} are not this schema's {here:?} at its migration version"
        )));
    }
    for table in tables.iter().rev() {
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {}", quote_ident(table))))
            .execute(tx.conn())
            .await?;
    }
    let mut loaded = 0u64;
    for p in parts {
        let Some(table) = p.name.strip_prefix("org.") else {
            continue;
        };
        let sql = format!(
            "INSERT INTO {t} SELECT * FROM jsonb_populate_recordset(NULL::{t}, $1::jsonb)",
            t = quote_ident(table)
        );
        for chunk in p.rows.chunks(BATCH) {
            let rows: Vec<Value> = chunk
                .iter()
                .map(|row| {
                    let mut row = row.clone();
                    remap_row(table, &mut row, users);
                    Value::Object(row)
                })
                .collect();
            let json = serde_json::to_string(&rows).map_err(|e| Error::Internal(e.into()))?;
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(json)
                .execute(tx.conn())
                .await
                .map_err(|e| refuse(format!("part {}: its rows do not load: {e}", p.name)))?;
            loaded += chunk.len() as u64;
        }
    }
    let sequences: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT quote_ident(table_name::text), quote_ident(column_name::text),
                pg_get_serial_sequence(quote_ident(table_schema::text) || '.' || quote_ident(table_name::text),
                                       column_name::text)
         FROM information_schema.columns
         WHERE table_schema = $1 AND column_default LIKE 'nextval(%'",
    )
    .bind(schema.as_str())
    .fetch_all(tx.conn())
    .await?;
    for (table, column, sequence) in sequences {
        let sql = format!(
            "SELECT setval($1::regclass, coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(sequence)
            .execute(tx.conn())
            .await?;
    }
    Ok(loaded)
}
