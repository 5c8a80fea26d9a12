//! An org's data as one self-contained, verifiable file, so a community can leave with it
//! (`coinsence org export`) and arrive elsewhere (`coinsence org import`).
//!
//! The format is JSON lines, chosen so the archive needs no dependency beyond the JSON and SHA-256
//! the service already uses, stays readable with standard tools (`head`, `jq`), and streams (one
//! row a line; compress it with any tool). Version 1:
//!
//! - line 1, the manifest: `{"format": "coinsence-org-archive", "version": 1, "exported_at",
//!   "origin", "org": {"slug", "name"}, "migrations": {"control", "tenant"}, "parts": [{"name",
//!   "rows", "sha256"}, ...]}`. `migrations` are the highest applied versions; each part's
//!   checksum is SHA-256 over its row lines, each with its `\n`.
//! - then each part in the manifest's order: a line `{"part": "<name>"}`, then its rows, one JSON
//!   object a line. `control.*` parts are the org's rows in the control plane (the tenant row,
//!   its members' users without credentials, memberships with their roles, chat identities and
//!   room bindings); `org.<table>` parts are every table of the org's schema (the journal, its
//!   seals, rules and settings included), in an order that loads without breaking a foreign key,
//!   each row as PostgreSQL's `to_jsonb` gives it.
//!
//! People are matched on import, not copied blindly: a user with the same email in the receiving
//! instance is that user, and a user found by a chat identity is that person. A person new there
//! keeps their id if it is free. Every reference to a person in the org's tables is translated,
//! except in the journal: its rows are sealed (the seal hashes cover the actor and the idempotency
//! key), so they are kept byte for byte, and their actor ids and key scopes are those of the
//! instance that wrote them.
//!
//! Password hashes and API tokens are never exported: an archive is the community's data, not
//! its members' credentials. People log in again where the org arrives (chat `/link`, or a new
//! password).

mod export;
mod import;

pub use export::{ExportSummary, export_org};
pub use import::{ImportSummary, import_org};

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const FORMAT: &str = "coinsence-org-archive";
pub const VERSION: u32 = 1;

/// The first line of an archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub exported_at: chrono::DateTime<chrono::Utc>,
    /// Which org this is, wherever it has been since: `<id>@<created_at µs>` in the instance
    /// that created it.
    pub origin: String,
    pub org: ManifestOrg,
    pub migrations: Migrations,
    pub parts: Vec<PartSum>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestOrg {
    pub slug: String,
    pub name: String,
}

/// The highest applied migration of the control plane and of the org's schema.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Migrations {
    pub control: i64,
    pub tenant: i64,
}

/// One part: its name, how many rows it has and their checksum (hex SHA-256).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartSum {
    pub name: String,
    pub rows: u64,
    pub sha256: String,
}

/// The line that opens a part.
#[derive(Debug, Serialize, Deserialize)]
struct PartHeader {
    part: String,
}

/// The journal: kept exactly as exported (its seals cover every field).
const SEALED_TABLE: &str = "transfers";

/// Whether a column, or a key inside a JSON column, names a person by their user id.
fn names_a_user(key: &str) -> bool {
    key == "user_id"
        || key.ends_with("_user_id")
        || matches!(key, "member" | "to_member" | "created_by" | "bound_by")
}

/// Whether a column or key holds a list of user ids.
fn lists_users(key: &str) -> bool {
    key.ends_with("_users") || key.ends_with("_user_ids")
}

/// Translates the user ids in one row of an org table from the archive's ids to this instance's.
/// Ids without a translation (nobody exported, so nobody to match) are left as they are.
fn remap_row(table: &str, row: &mut serde_json::Map<String, Value>, users: &HashMap<i64, i64>) {
    if table == SEALED_TABLE {
        return;
    }
    // A member admitted by a mention is recorded with their user id as the resource.
    if table == "requests"
        && row.get("resource").and_then(Value::as_str) == Some("mention_admission")
        && let Some(id) = row.get_mut("resource_id")
    {
        remap_id(id, users);
    }
    for (key, value) in row.iter_mut() {
        remap_value(key, value, users);
    }
}

fn remap_value(key: &str, value: &mut Value, users: &HashMap<i64, i64>) {
    if names_a_user(key) {
        remap_id(value, users);
    } else if lists_users(key) {
        if let Value::Array(items) = value {
            items.iter_mut().for_each(|v| remap_id(v, users));
        }
    } else {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    remap_value(k, v, users);
                }
            }
            Value::Array(items) => {
                for v in items.iter_mut() {
                    remap_value("", v, users);
                }
            }
            _ => {}
        }
    }
}

fn remap_id(value: &mut Value, users: &HashMap<i64, i64>) {
    if let Some(new) = value.as_i64().and_then(|old| users.get(&old)) {
        *value = Value::from(*new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn people_are_translated_everywhere_but_in_the_sealed_journal() {
        let users = HashMap::from([(1, 10), (2, 20)]);
        let mut proposal = json!({
            "id": 1, "author_user_id": 1, "voters": 2,
            "action": {"kind": "issue_for_pledge", "member": 2, "pledge_id": 1, "amount_minor": 1},
        });
        let Some(map) = proposal.as_object_mut() else {
            panic!("an object")
        };
        remap_row("proposals", map, &users);
        assert_eq!(
            proposal,
            json!({
                "id": 1, "author_user_id": 10, "voters": 2,
                "action": {"kind": "issue_for_pledge", "member": 20, "pledge_id": 1, "amount_minor": 1},
            })
        );
        let mut outbox =
            json!({"to_users": [1, 2, 3], "payload": {"to_user_id": 2, "amount": "1"}});
        if let Some(map) = outbox.as_object_mut() {
            remap_row("outbox", map, &users);
        }
        assert_eq!(
            outbox,
            json!({"to_users": [10, 20, 3], "payload": {"to_user_id": 20, "amount": "1"}})
        );
        let journal = json!({"id": 1, "actor_user_id": 1, "idempotency_key": "http:1:a"});
        let mut same = journal.clone();
        if let Some(map) = same.as_object_mut() {
            remap_row("transfers", map, &users);
        }
        assert_eq!(same, journal);
        let mut admitted = json!({"resource": "mention_admission", "resource_id": 2});
        if let Some(map) = admitted.as_object_mut() {
            remap_row("requests", map, &users);
        }
        assert_eq!(admitted["resource_id"], 20);
    }
}
