//! The journal's Merkle log in the org's schema (issue 20; the algorithms are in `merkle`): each
//! seal appends the newly sealed entries as leaves, stores the subtree hashes they complete and
//! publishes a tree head (size, root, time) signed with the org's Ed25519 key. Members get
//! inclusion proofs for the entries they may see and consistency proofs between any two heads,
//! and can check them without the database or trusting the server (`transparency`).
//!
//! The org's key is made at its first seal from 32 random bytes and kept in the control schema
//! (`control.org_signing_keys`): not in the org's schema, so an export of the org cannot sign a
//! rewritten history, and not derived from a server-wide secret, so one leaked org key says
//! nothing about another and no new flag has to reach every process that seals.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use futures::TryStreamExt;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::canonical::{ENTRY_COLUMNS, Entry, HexHash};
use super::merkle::{self, Hash};
use super::store;
use crate::core::Core;
use crate::domain::ids::TenantId;
use crate::domain::orgs::Member;
use crate::domain::tenancy::{Tenant, TenantTx};
use crate::error::{Error, Result};
use crate::refusal::Refusal;

const HEAD_DOMAIN: &[u8] = b"coinsence-tree-head-v1\n";

/// What a tree head's signature signs (see the migration `tenant/0012_merkle_log.sql`).
pub fn signed_message(tree_size: u64, signed_at_micros: i64, root: &Hash) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEAD_DOMAIN.len() + 48);
    m.extend_from_slice(HEAD_DOMAIN);
    m.extend_from_slice(&tree_size.to_be_bytes());
    m.extend_from_slice(&signed_at_micros.to_be_bytes());
    m.extend_from_slice(root);
    m
}

/// Checks a head's signature with the org's public key.
pub fn signature_ok(public_key: &[u8; 32], head: &TreeHead) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(head.signature.as_slice()) else {
        return false;
    };
    let Ok(size) = u64::try_from(head.tree_size) else {
        return false;
    };
    let msg = signed_message(size, head.signed_at.timestamp_micros(), &head.root.0);
    key.verify_strict(&msg, &Signature::from_bytes(&bytes))
        .is_ok()
}

/// A signed tree head: the journal's first `tree_size` sealed entries have this root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TreeHead {
    pub tree_size: i64,
    /// Hex SHA-256 root (RFC 9162 MTH).
    pub root: HexHash,
    pub signed_at: DateTime<Utc>,
    /// Hex Ed25519 signature over `coinsence-tree-head-v1\n`, the size and the time (microseconds
    /// since the Unix epoch), both 8 bytes big-endian, and the root.
    #[serde(with = "hex_bytes")]
    #[schema(value_type = String)]
    pub signature: Vec<u8>,
    /// The seal of the hash chain published with it.
    pub seal_seq: i64,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[derive(sqlx::FromRow)]
struct HeadRow {
    tree_size: i64,
    root: Vec<u8>,
    signed_at: DateTime<Utc>,
    signature: Vec<u8>,
    seal_seq: i64,
}

impl TryFrom<HeadRow> for TreeHead {
    type Error = Error;
    fn try_from(r: HeadRow) -> Result<Self> {
        Ok(Self {
            tree_size: r.tree_size,
            root: HexHash::try_from(r.root)?,
            signed_at: r.signed_at,
            signature: r.signature,
            seal_seq: r.seal_seq,
        })
    }
}

/// The org's public key, to pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrgKey {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Hex, 32 bytes.
    pub public_key: String,
}

/// The path from one entry's leaf to a tree head's root: hashes only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    pub transfer_id: i64,
    pub leaf_index: i64,
    pub tree_size: i64,
    /// The entry's canonical line as the journal holds it now (memo and keys only as hashes);
    /// the leaf hash is SHA-256(0x00 || this).
    pub entry: String,
    pub leaf_hash: HexHash,
    pub root: HexHash,
    #[schema(value_type = Vec<String>)]
    pub path: Vec<HexHash>,
}

/// Proves the tree of `second` entries extends the tree of `first` (RFC 9162 2.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    pub first: i64,
    pub second: i64,
    pub first_root: HexHash,
    pub second_root: HexHash,
    #[schema(value_type = Vec<String>)]
    pub path: Vec<HexHash>,
}

/// Where the journal as it is now first disagrees with a signed tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadMismatch {
    pub tree_size: i64,
    pub reason: TreeMismatch,
}

/// Why the operator's audit finds a signed head inconsistent with the journal: a code with
/// arguments, worded by the catalog (`audit-tree-<code>` in `cli.ftl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeMismatch {
    /// Its signature does not verify with the org's key.
    BadSignature,
    /// It covers more entries than the journal's tree has.
    LongerThanTree { leaves: i64 },
    /// The journal's entries no longer hash to its root.
    RootDiffers,
    /// Entries were put in among the sealed ones after sealing.
    EntriesSlippedIn { count: i64 },
}

impl TreeMismatch {
    pub const ALL: [Self; 4] = [
        Self::BadSignature,
        Self::LongerThanTree { leaves: 3 },
        Self::RootDiffers,
        Self::EntriesSlippedIn { count: 2 },
    ];

    pub fn message_id(&self) -> &'static str {
        match self {
            Self::BadSignature => "audit-tree-bad-signature",
            Self::LongerThanTree { .. } => "audit-tree-longer-than-tree",
            Self::RootDiffers => "audit-tree-root-differs",
            Self::EntriesSlippedIn { .. } => "audit-tree-entries-slipped-in",
        }
    }

    pub fn args(&self) -> crate::i18n::Args {
        let args = crate::i18n::Args::new();
        match *self {
            Self::BadSignature | Self::RootDiffers => args,
            Self::LongerThanTree { leaves } => args.count("leaves", leaves),
            Self::EntriesSlippedIn { count } => args.count("count", count),
        }
    }

    pub fn message(&self, lang: crate::i18n::Lang) -> String {
        crate::i18n::message(lang, self.message_id(), &self.args())
    }
}

/// The operator's audit of the Merkle log (`coinsence audit verify` against the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeAudit {
    pub heads: i64,
    pub leaves: i64,
    pub ok: bool,
    pub first_mismatch: Option<HeadMismatch>,
}

const HEAD_COLUMNS: &str = "tree_size, root, signed_at, signature, seal_seq";

fn u(i: i64) -> u64 {
    u64::try_from(i).unwrap_or(0)
}

fn i(u: u64) -> i64 {
    i64::try_from(u).unwrap_or(i64::MAX)
}

/// The stored nodes at these positions.
async fn fetch_nodes(tx: &mut TenantTx, want: &[(u32, u64)]) -> Result<HashMap<(u32, u64), Hash>> {
    let levels: Vec<i16> = want
        .iter()
        .map(|(l, _)| i16::try_from(*l).unwrap_or(i16::MAX))
        .collect();
    let idx: Vec<i64> = want.iter().map(|(_, x)| i(*x)).collect();
    let rows: Vec<(i16, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT n.level, n.idx, n.hash FROM merkle_nodes n
         JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx",
    )
    .bind(levels)
    .bind(idx)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|(l, x, h)| {
            Ok((
                (u32::try_from(l).unwrap_or(0), u(x)),
                HexHash::try_from(h)?.0,
            ))
        })
        .collect()
}

/// The complete subtrees a tree of `size` leaves ends with (one per set bit of `size`).
fn frontier(size: u64) -> Vec<(u32, u64)> {
    (0..64)
        .filter(|b| size >> b & 1 == 1)
        .map(|b| (b, (size >> b) - 1))
        .collect()
}

async fn heads_in(tx: &mut TenantTx) -> Result<Vec<TreeHead>> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM tree_heads ORDER BY tree_size");
    let rows: Vec<HeadRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(tx.conn())
        .await?;
    rows.into_iter().map(TreeHead::try_from).collect()
}

pub(crate) async fn head_in(tx: &mut TenantTx, size: Option<i64>) -> Result<TreeHead> {
    let sql = format!(
        "SELECT {HEAD_COLUMNS} FROM tree_heads WHERE $1::bigint IS NULL OR tree_size = $1
         ORDER BY tree_size DESC LIMIT 1"
    );
    let row: Option<HeadRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(size)
        .fetch_optional(tx.conn())
        .await?;
    match row {
        Some(r) => TreeHead::try_from(r),
        None => Err(Error::from(Refusal::TreeHeadNotFound {
            tree_size: size.unwrap_or(0),
        })),
    }
}

/// How many entries are hashed and written per round trip when leaves are appended (a backfill
/// of a million entries holds one batch in memory, not the journal).
const BATCH: i64 = 10_000;

/// The tree's size after appending, and the stored nodes its root needs (its frontier).
struct Appended {
    old_size: u64,
    new_size: u64,
    nodes: HashMap<(u32, u64), Hash>,
}

/// Appends the journal entries after the last leaf up to `up_to` (a transfer id) as leaves, in
/// id order and in batches, and stores the subtree hashes they complete: the one tree-building
/// path, used by each seal and by the backfill of entries sealed before the tree existed.
async fn append_leaves(tx: &mut TenantTx, up_to: i64) -> Result<Appended> {
    let last: Option<(i64, i64)> = sqlx::query_as(
        "SELECT leaf_index, transfer_id FROM merkle_leaves ORDER BY leaf_index DESC LIMIT 1",
    )
    .fetch_optional(tx.conn())
    .await?;
    let (old_size, mut after) = last.map_or((0, 0), |(x, t)| (u(x) + 1, t));
    let mut nodes = fetch_nodes(tx, &frontier(old_size)).await?;
    let mut size = old_size;
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM transfers WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3"
    );
    loop {
        let batch: Vec<Entry> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(after)
            .bind(up_to)
            .bind(BATCH)
            .fetch_all(tx.conn())
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        let hashed: Vec<(i64, Hash)> = batch
            .iter()
            .map(|e| (e.id, merkle::leaf_hash(e.canonical().as_bytes())))
            .collect();
        size = append_hashed(tx, size, &mut nodes, &hashed).await?;
    }
    Ok(Appended {
        old_size,
        new_size: size,
        nodes,
    })
}

/// Appends leaves already hashed (`(transfer id, leaf hash)`, in id order) after the first
/// `size`, given the frontier of that tree in `nodes` (kept as the new frontier). The new size.
async fn append_hashed(
    tx: &mut TenantTx,
    mut size: u64,
    nodes: &mut HashMap<(u32, u64), Hash>,
    hashed: &[(i64, Hash)],
) -> Result<u64> {
    for batch in hashed.chunks(usize::try_from(BATCH).unwrap_or(10_000)) {
        let mut new_leaves: Vec<(i64, i64)> = Vec::with_capacity(batch.len());
        let mut new_nodes: Vec<(u32, u64, Hash)> = Vec::with_capacity(batch.len() * 2);
        for (id, leaf) in batch {
            for (l, x, h) in merkle::completed_by(size, *leaf, |l, x| nodes.get(&(l, x)).copied()) {
                nodes.insert((l, x), h);
                new_nodes.push((l, x, h));
            }
            new_leaves.push((i(size), *id));
            size += 1;
        }
        insert_leaves(tx, &new_leaves, &new_nodes).await?;
        // Only the frontier is ever read again (as left siblings, and for the root).
        let keep = frontier(size);
        nodes.retain(|k, _| keep.contains(k));
    }
    Ok(size)
}

async fn insert_leaves(
    tx: &mut TenantTx,
    leaves: &[(i64, i64)],
    nodes: &[(u32, u64, Hash)],
) -> Result<()> {
    let (idx, ids): (Vec<i64>, Vec<i64>) = leaves.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO merkle_leaves (leaf_index, transfer_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])",
    )
    .bind(idx)
    .bind(ids)
    .execute(tx.conn())
    .await?;
    let levels: Vec<i16> = nodes
        .iter()
        .map(|(l, _, _)| i16::try_from(*l).unwrap_or(i16::MAX))
        .collect();
    let idx: Vec<i64> = nodes.iter().map(|(_, x, _)| i(*x)).collect();
    let hashes: Vec<Vec<u8>> = nodes.iter().map(|(_, _, h)| h.to_vec()).collect();
    sqlx::query(
        "INSERT INTO merkle_nodes (level, idx, hash)
         SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
    )
    .bind(levels)
    .bind(idx)
    .bind(hashes)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Builds the tree over entries sealed before it existed (by the hash chain alone): every entry
/// up to the last seal that is no leaf yet becomes one, exactly as a seal would have added it.
/// Signs no head (the next seal signs the first). Idempotent; a schema without the tree (a
/// bench's own migrations) is left alone. Runs in the migration's transaction
/// (`migrate::migrate_in`), after the tenant migrations. Returns the leaves added.
pub async fn backfill(tx: &mut TenantTx) -> Result<u64> {
    let (has_tree,): (bool,) =
        sqlx::query_as("SELECT to_regclass('merkle_leaves') IS NOT NULL AND to_regclass('journal_seals') IS NOT NULL")
            .fetch_one(tx.conn())
            .await?;
    if !has_tree {
        return Ok(0);
    }
    let (sealed, leaves): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT max(last_transfer_id) FROM journal_seals),
                (SELECT max(transfer_id) FROM merkle_leaves)",
    )
    .fetch_one(tx.conn())
    .await?;
    match sealed {
        Some(up_to) if up_to > leaves.unwrap_or(0) => {
            let a = append_leaves(tx, up_to).await?;
            Ok(a.new_size - a.old_size)
        }
        _ => Ok(0),
    }
}

/// Appends the sealed entries after the last leaf up to `up_to` (a transfer id), stores the
/// nodes they complete and signs the new head for chain seal `seal_seq`. Runs inside the seal's
/// transaction, which holds the org's sealing lock. `None` if no entry was added.
///
/// `sealed`: the entries the chain seal just hashed (`(after, leaves)`: those with ids after
/// `after`, with their leaf hashes). When the tree ends exactly at `after` they are appended as
/// given, without reading the journal again; otherwise (the tree lags behind the chain) the
/// journal is read from the last leaf.
pub(crate) async fn extend(
    tx: &mut TenantTx,
    key: &SigningKey,
    seal_seq: i64,
    sealed: (i64, &[(i64, Hash)]),
    up_to: i64,
    now: DateTime<Utc>,
) -> Result<Option<TreeHead>> {
    let (after, hashed) = sealed;
    let last: Option<(i64, i64)> = sqlx::query_as(
        "SELECT leaf_index, transfer_id FROM merkle_leaves ORDER BY leaf_index DESC LIMIT 1",
    )
    .fetch_optional(tx.conn())
    .await?;
    let Appended {
        old_size,
        new_size,
        nodes,
    } = match last {
        Some((x, t)) if t == after => {
            let old_size = u(x) + 1;
            let mut nodes = fetch_nodes(tx, &frontier(old_size)).await?;
            let new_size = append_hashed(tx, old_size, &mut nodes, hashed).await?;
            Appended {
                old_size,
                new_size,
                nodes,
            }
        }
        None if after == 0 => {
            let mut nodes = HashMap::new();
            let new_size = append_hashed(tx, 0, &mut nodes, hashed).await?;
            Appended {
                old_size: 0,
                new_size,
                nodes,
            }
        }
        _ => append_leaves(tx, up_to).await?,
    };
    if new_size == old_size {
        return Ok(None);
    }
    let root = merkle::root(&nodes, new_size);
    // PostgreSQL keeps microseconds: sign the time as it will be read back.
    let micros = now.timestamp_micros();
    let signed_at = DateTime::from_timestamp_micros(micros).unwrap_or(now);
    let signature = key.sign(&signed_message(new_size, micros, &root));
    let sql = format!(
        "INSERT INTO tree_heads ({HEAD_COLUMNS}) VALUES ($1, $2, $3, $4, $5) RETURNING {HEAD_COLUMNS}"
    );
    let row: HeadRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(i(new_size))
        .bind(root.as_slice())
        .bind(signed_at)
        .bind(signature.to_bytes().as_slice())
        .bind(seal_seq)
        .fetch_one(tx.conn())
        .await?;
    TreeHead::try_from(row).map(Some)
}

fn key_from(bytes: Vec<u8>) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| Error::Internal(anyhow::anyhow!("a stored org key is not 32 bytes")))
}

impl Core {
    /// The org's signing key, made on first use (a concurrent first use keeps the one stored).
    pub(crate) async fn org_signing_key(&self, tenant: TenantId) -> Result<SigningKey> {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let fresh = SigningKey::from_bytes(&secret);
        sqlx::query(
            "INSERT INTO control.org_signing_keys (tenant_id, public_key, secret_key)
             VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant)
        .bind(fresh.verifying_key().to_bytes().as_slice())
        .bind(secret.as_slice())
        .execute(&self.pool)
        .await?;
        let (stored,): (Vec<u8>,) =
            sqlx::query_as("SELECT secret_key FROM control.org_signing_keys WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(&self.pool)
                .await?;
        Ok(SigningKey::from_bytes(&key_from(stored)?))
    }

    /// The org's public key; any member may read and pin it.
    pub async fn org_key(&self, member: &Member) -> Result<OrgKey> {
        let key = self.org_signing_key(member.tenant.id).await?;
        Ok(OrgKey {
            algorithm: "ed25519".to_owned(),
            public_key: hex::encode(key.verifying_key().to_bytes()),
        })
    }

    /// The ids of the journal entries on the member's own accounts, oldest first.
    pub async fn own_entry_ids(&self, member: &Member) -> Result<Vec<i64>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let own: Vec<i64> = store::accounts(&mut tx, Some(member.user.id))
            .await?
            .into_iter()
            .map(|a| a.id.0)
            .collect();
        let ids: Vec<(i64,)> = sqlx::query_as(
            "SELECT id FROM transfers WHERE from_account = ANY($1) OR to_account = ANY($1) ORDER BY id",
        )
        .bind(own)
        .fetch_all(tx.conn())
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Every signed tree head, smallest first.
    pub async fn tree_heads(&self, member: &Member) -> Result<Vec<TreeHead>> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        heads_in(&mut tx).await
    }

    /// The inclusion proof of one entry in a tree head (the latest without `tree_size`). Members
    /// get it for entries on their own accounts; those who see every account, for any entry.
    pub async fn inclusion_proof(
        &self,
        member: &Member,
        transfer: i64,
        tree_size: Option<i64>,
    ) -> Result<InclusionProof> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM transfers WHERE id = $1");
        let entry: Option<Entry> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(transfer)
            .fetch_optional(tx.conn())
            .await?;
        let not_visible = || Error::from(Refusal::EntryNotVisible { transfer });
        let entry = entry.ok_or_else(not_visible)?;
        if !member.role.sees_all_accounts() {
            let own = store::accounts(&mut tx, Some(member.user.id)).await?;
            if !own
                .iter()
                .any(|a| a.id.0 == entry.from_account || a.id.0 == entry.to_account)
            {
                return Err(not_visible());
            }
        }
        let head = head_in(&mut tx, tree_size).await?;
        let leaf: Option<(i64,)> =
            sqlx::query_as("SELECT leaf_index FROM merkle_leaves WHERE transfer_id = $1")
                .bind(transfer)
                .fetch_optional(tx.conn())
                .await?;
        let Some((leaf_index,)) = leaf.filter(|(x,)| *x < head.tree_size) else {
            return Err(Error::from(Refusal::EntryNotSealed { transfer }));
        };
        let (m, n) = (u(leaf_index), u(head.tree_size));
        let want = merkle::needed_nodes(|src| merkle::inclusion_proof(&src, m, n));
        let nodes = fetch_nodes(&mut tx, &want).await?;
        let line = entry.canonical();
        Ok(InclusionProof {
            transfer_id: transfer,
            leaf_index,
            tree_size: head.tree_size,
            leaf_hash: HexHash(merkle::leaf_hash(line.as_bytes())),
            entry: line,
            root: head.root,
            path: merkle::inclusion_proof(&nodes, m, n)
                .into_iter()
                .map(HexHash)
                .collect(),
        })
    }

    /// The consistency proof between two published tree heads; any member may ask.
    pub async fn consistency_proof(
        &self,
        member: &Member,
        first: i64,
        second: i64,
    ) -> Result<ConsistencyProof> {
        let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
        let a = head_in(&mut tx, Some(first)).await?;
        let b = head_in(&mut tx, Some(second)).await?;
        let (m, n) = (u(a.tree_size), u(b.tree_size));
        let want = merkle::needed_nodes(|src| merkle::consistency_proof(&src, m, n));
        let nodes = fetch_nodes(&mut tx, &want).await?;
        Ok(ConsistencyProof {
            first,
            second,
            first_root: a.root,
            second_root: b.root,
            path: merkle::consistency_proof(&nodes, m, n)
                .into_iter()
                .map(HexHash)
                .collect(),
        })
    }

    /// Rebuilds the tree from the journal as it is now and checks every signed head against it:
    /// its signature, and its root. Names the first head that no longer matches.
    pub async fn audit_tree(&self, tenant: &Tenant) -> Result<TreeAudit> {
        let key = self.org_signing_key(tenant.id).await?.verifying_key();
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        let heads = heads_in(&mut tx).await?;
        let mut tree = merkle::MemoryTree::default();
        let mut first_mismatch = None;
        // The leaves in order, each recomputed from its journal row (a missing row reads empty).
        let sql = format!(
            "SELECT l.leaf_index, t.{} FROM merkle_leaves l LEFT JOIN transfers t ON t.id = l.transfer_id
             ORDER BY l.leaf_index",
            ENTRY_COLUMNS.replace(", ", ", t.")
        );
        let mut leaves: Vec<Hash> = Vec::new();
        {
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(tx.conn());
            while let Some(row) = rows.try_next().await? {
                use sqlx::{FromRow, Row};
                let hash = match row.try_get::<Option<i64>, _>("id")? {
                    Some(_) => merkle::leaf_hash(Entry::from_row(&row)?.canonical().as_bytes()),
                    None => merkle::leaf_hash(b""),
                };
                leaves.push(hash);
            }
        }
        for leaf in &leaves {
            tree.push(*leaf);
        }
        // Entries the leaves skipped: an id inside the sealed range that is no leaf was slipped in.
        let (slipped,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM transfers t
             WHERE t.id <= coalesce((SELECT max(transfer_id) FROM merkle_leaves), 0)
               AND NOT EXISTS (SELECT 1 FROM merkle_leaves l WHERE l.transfer_id = t.id)",
        )
        .fetch_one(tx.conn())
        .await?;
        let public = key.to_bytes();
        for head in &heads {
            let size = u(head.tree_size);
            let reason = if !signature_ok(&public, head) {
                Some(TreeMismatch::BadSignature)
            } else if size > tree.len() {
                Some(TreeMismatch::LongerThanTree {
                    leaves: i(tree.len()),
                })
            } else if merkle::root(&tree, size) != head.root.0 {
                Some(TreeMismatch::RootDiffers)
            } else {
                None
            };
            if let Some(reason) = reason {
                first_mismatch = Some(HeadMismatch {
                    tree_size: head.tree_size,
                    reason,
                });
                break;
            }
        }
        if first_mismatch.is_none() && slipped > 0 {
            first_mismatch = heads.first().map(|h| HeadMismatch {
                tree_size: h.tree_size,
                reason: TreeMismatch::EntriesSlippedIn { count: slipped },
            });
        }
        Ok(TreeAudit {
            heads: i64::try_from(heads.len()).unwrap_or(i64::MAX),
            leaves: i(tree.len()),
            ok: first_mismatch.is_none(),
            first_mismatch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TreeMismatch;
    use crate::i18n::{Lang, referenced_args};

    /// Every reason the operator's audit gives is worded in both languages with exactly its
    /// arguments (a missing one would print its id).
    #[test]
    fn every_tree_mismatch_is_worded_in_english_and_german() {
        for reason in TreeMismatch::ALL {
            let given: std::collections::BTreeSet<String> = reason
                .args()
                .iter(Lang::En)
                .map(|(n, _)| n.to_owned())
                .collect();
            for lang in Lang::ALL {
                let used: std::collections::BTreeSet<String> =
                    referenced_args(lang, reason.message_id())
                        .unwrap_or_else(|| panic!("{} missing in {lang}", reason.message_id()))
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                assert_eq!(used, given, "{} in {lang}", reason.message_id());
            }
        }
        assert_eq!(
            TreeMismatch::EntriesSlippedIn { count: 2 }.message(Lang::De),
            "2 Einträge wurden zwischen die versiegelten geschoben"
        );
    }
}
