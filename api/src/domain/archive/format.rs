//! The archive's format: its manifest, part headers, and how people are translated on import.

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
pub(super) struct PartHeader {
    pub(super) part: String,
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
pub(super) fn remap_row(
    table: &str,
    row: &mut serde_json::Map<String, Value>,
    users: &HashMap<i64, i64>,
) {
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
