//! Sealing the journal (DESIGN "Money"): periodically, a SHA-256 hash over the entries written
//! since the previous seal, chained to that seal's hash. The chain is published, so a member
//! who kept any seal can later check that the history it covers was not rewritten, and
//! `coinsence audit verify` recomputes every seal from the journal and names the first that no
//! longer matches.
//!
//! The canonical form of an entry is one line of tab-separated fields, in this order:
//! `id, currency_id, from_account, to_account, amount, kind, actor_user_id (empty if none),
//! created_at (microseconds since the Unix epoch), hex(SHA-256(memo)), hex(SHA-256(idempotency
//! key)), hex(fingerprint)`, then `\n`. Free text is hashed so no delimiter can be forged.
//! A seal's hash is SHA-256 over `coinsence-journal-seal-v1\n`, `<seq>\n`, `hex(prev_hash)\n`,
//! then the canonical lines of its entries in id order. The first seal's previous hash is 32
//! zero bytes.
//!
//! Which entries a seal may cover: journal ids come from a sequence, so an entry with a lower id
//! can commit after one with a higher id. Sealing first takes the table's SHARE lock for a moment:
//! that waits until every transaction that has allocated an id has ended, so every id up to the
//! highest visible one is final (committed, or a gap that stays a gap). Only those are sealed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub use super::canonical::HexHash;
use super::canonical::entries;
use super::merkle;
use crate::core::Core;
use crate::domain::orgs::Member;
use crate::domain::tenancy::{Tenant, TenantTx};
use crate::error::Result;

const DOMAIN: &str = "coinsence-journal-seal-v1\n";
const GENESIS: [u8; 32] = [0; 32];

/// A published seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Seal {
    pub seq: i64,
    /// It covers the entries with ids after the previous seal's `last_transfer_id` up to this.
    pub last_transfer_id: i64,
    pub entries: i64,
    /// Hex SHA-256.
    #[sqlx(try_from = "Vec<u8>")]
    pub prev_hash: HexHash,
    #[sqlx(try_from = "Vec<u8>")]
    pub hash: HexHash,
    pub sealed_at: DateTime<Utc>,
    /// The Merkle log's signed tree head published with this seal (none for seals made before
    /// the log existed: the first head after them covers their entries too).
    #[sqlx(skip)]
    pub tree_head: Option<super::tree_heads::TreeHead>,
}

/// Where the recomputed chain first disagrees with the published one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SealMismatch {
    pub seq: i64,
    pub reason: String,
    pub published: String,
    pub recomputed: String,
}

/// The outcome of recomputing every seal from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SealAudit {
    pub seals: i64,
    /// Entries covered by the seals.
    pub sealed_entries: i64,
    /// Entries after the last seal (not yet sealed).
    pub unsealed_entries: i64,
    pub ok: bool,
    pub first_mismatch: Option<SealMismatch>,
}

/// Hashes a seal's entries as they are streamed from the journal.
struct SealHasher {
    hasher: Sha256,
    entries: i64,
    last_id: Option<i64>,
}

impl SealHasher {
    fn new(seq: i64, prev: &[u8; 32]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN.as_bytes());
        hasher.update(format!("{seq}\n{}\n", hex::encode(prev)).as_bytes());
        Self {
            hasher,
            entries: 0,
            last_id: None,
        }
    }

    /// Adds an entry by its canonical line (`Entry::canonical`).
    fn add(&mut self, id: i64, line: &str) {
        self.hasher.update(line.as_bytes());
        self.entries += 1;
        self.last_id = Some(id);
    }

    fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

async fn seals(tx: &mut TenantTx) -> Result<Vec<Seal>> {
    Ok(sqlx::query_as(
        "SELECT seq, last_transfer_id, entries, prev_hash, hash, sealed_at FROM journal_seals ORDER BY seq",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// The highest journal id below which every id is final (see the module doc).
async fn sealable_horizon(core: &Core, tenant: &Tenant) -> Result<i64> {
    let mut tx = TenantTx::begin(&core.pool, &tenant.schema()).await?;
    // Waiting for writers must not stall payments for long: give up and seal next time.
    sqlx::query("SET LOCAL lock_timeout = '5s'")
        .execute(tx.conn())
        .await?;
    sqlx::query("LOCK TABLE transfers IN SHARE MODE")
        .execute(tx.conn())
        .await?;
    let (horizon,): (Option<i64>,) = sqlx::query_as("SELECT max(id) FROM transfers")
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(horizon.unwrap_or(0))
}

impl Core {
    /// The worker's sealing step for one org: seals the entries written since the last seal, if
    /// any. Concurrent calls are serialized; the loser finds nothing new and returns `None`.
    #[tracing::instrument(skip(self, tenant), fields(tenant = %tenant.id))]
    pub async fn seal_journal(&self, tenant: &Tenant, now: DateTime<Utc>) -> Result<Option<Seal>> {
        self.seal(tenant, now, true).await
    }

    /// The hash chain alone, as seals were made before the Merkle log (the first tree head after
    /// such seals covers their entries too): `coinsence bench seals` compares the cost of the two.
    #[doc(hidden)]
    pub async fn seal_journal_chain_only(
        &self,
        tenant: &Tenant,
        now: DateTime<Utc>,
    ) -> Result<Option<Seal>> {
        self.seal(tenant, now, false).await
    }

    async fn seal(&self, tenant: &Tenant, now: DateTime<Utc>, tree: bool) -> Result<Option<Seal>> {
        use futures::TryStreamExt;

        let horizon = sealable_horizon(self, tenant).await?;
        let key = if tree {
            Some(self.org_signing_key(tenant.id).await?)
        } else {
            None
        };
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('coinsence-seal'), hashtext($1))")
            .bind(tenant.schema().as_str())
            .execute(tx.conn())
            .await?;
        let last: Option<(i64, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT seq, last_transfer_id, hash FROM journal_seals ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(tx.conn())
        .await?;
        let (seq, after, prev) = match last {
            Some((seq, last_id, hash)) => (seq + 1, last_id, HexHash::try_from(hash)?.0),
            None => (1, 0, GENESIS),
        };
        if horizon <= after {
            return Ok(None);
        }
        let mut hasher = SealHasher::new(seq, &prev);
        // The tree's leaves are hashed from the same lines, read once.
        let mut leaves: Vec<(i64, merkle::Hash)> = Vec::new();
        {
            let mut rows = entries(&mut tx, after, horizon);
            while let Some(entry) = rows.try_next().await? {
                let line = entry.canonical();
                hasher.add(entry.id, &line);
                if key.is_some() {
                    leaves.push((entry.id, merkle::leaf_hash(line.as_bytes())));
                }
            }
        }
        let (Some(last_id), count) = (hasher.last_id, hasher.entries) else {
            return Ok(None);
        };
        let hash = hasher.finish();
        let mut seal: Seal = sqlx::query_as(
            "INSERT INTO journal_seals (seq, last_transfer_id, entries, prev_hash, hash, sealed_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING seq, last_transfer_id, entries, prev_hash, hash, sealed_at",
        )
        .bind(seq)
        .bind(last_id)
        .bind(count)
        .bind(prev.as_slice())
        .bind(hash.as_slice())
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
        if let Some(key) = &key {
            seal.tree_head =
                super::tree_heads::extend(&mut tx, key, seq, (after, &leaves), last_id, now)
                    .await?;
        }
        tx.commit().await?;
        tracing::info!(seq, entries = count, "journal sealed");
        Ok(Some(seal))
    }

    /// The published chain of seals, oldest first; any member may read it.
    pub async fn journal_seals(&self, member: &Member) -> Result<Vec<Seal>> {
        let mut seals = {
            let mut tx = TenantTx::begin(&self.pool, &member.schema()).await?;
            seals(&mut tx).await?
        };
        let mut heads = self.tree_heads(member).await?.into_iter().peekable();
        for seal in &mut seals {
            while let Some(h) = heads.next_if(|h| h.seal_seq <= seal.seq) {
                if h.seal_seq == seal.seq {
                    seal.tree_head = Some(h);
                }
            }
        }
        Ok(seals)
    }

    /// Recomputes every seal from the journal as it is now and reports the first that differs
    /// from what was published (an entry changed, removed or slipped into a sealed range, or a
    /// seal that does not chain to the one before it).
    pub async fn audit_seals(&self, tenant: &Tenant) -> Result<SealAudit> {
        let mut tx = TenantTx::begin(&self.pool, &tenant.schema()).await?;
        audit_in(&mut tx).await
    }
}

/// [`Core::audit_seals`] inside a transaction (an import checks the chain before it commits).
pub async fn audit_in(tx: &mut TenantTx) -> Result<SealAudit> {
    use futures::TryStreamExt;

    let published = seals(tx).await?;
    let mut prev = GENESIS;
    let mut after = 0;
    let mut sealed_entries = 0;
    let mut first_mismatch = None;
    for seal in &published {
        let mismatch = |reason: String, published: String, recomputed: String| SealMismatch {
            seq: seal.seq,
            reason,
            published,
            recomputed,
        };
        if seal.prev_hash.0 != prev {
            first_mismatch = Some(mismatch(
                "it does not chain to the seal before it".to_owned(),
                hex::encode(seal.prev_hash.0),
                hex::encode(prev),
            ));
            break;
        }
        let mut hasher = SealHasher::new(seal.seq, &prev);
        {
            let mut rows = entries(tx, after, seal.last_transfer_id);
            while let Some(entry) = rows.try_next().await? {
                hasher.add(entry.id, &entry.canonical());
            }
        }
        let count = hasher.entries;
        let hash = hasher.finish();
        if count != seal.entries {
            first_mismatch = Some(mismatch(
                format!(
                    "it covers {} entries but the journal now has {count} in its range (ids {} to {})",
                    seal.entries,
                    after + 1,
                    seal.last_transfer_id
                ),
                hex::encode(seal.hash.0),
                hex::encode(hash),
            ));
            break;
        }
        if hash != seal.hash.0 {
            first_mismatch = Some(mismatch(
                format!(
                    "an entry with id {} to {} differs from when it was sealed",
                    after + 1,
                    seal.last_transfer_id
                ),
                hex::encode(seal.hash.0),
                hex::encode(hash),
            ));
            break;
        }
        sealed_entries += count;
        prev = hash;
        after = seal.last_transfer_id;
    }
    let (unsealed_entries,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM transfers WHERE id > $1")
            .bind(after)
            .fetch_one(tx.conn())
            .await?;
    Ok(SealAudit {
        seals: i64::try_from(published.len()).unwrap_or(i64::MAX),
        sealed_entries,
        unsealed_entries,
        ok: first_mismatch.is_none(),
        first_mismatch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::canonical::Entry;

    fn entry(memo: &str) -> Entry {
        Entry {
            id: 7,
            currency_id: 1,
            from_account: 1,
            to_account: 3,
            amount: 1050,
            kind: "payment".to_owned(),
            actor_user_id: None,
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap_or_default(),
            memo: memo.to_owned(),
            idempotency_key: "http:1:a".to_owned(),
            fingerprint: vec![0xab, 0xcd],
        }
    }

    #[test]
    fn the_canonical_form_is_stable_and_free_text_cannot_forge_fields() {
        let line = entry("lunch").canonical();
        assert!(line.starts_with("7\t1\t1\t3\t1050\tpayment\t\t1700000000123456\t"));
        assert!(line.ends_with("\tabcd\n"));
        assert_eq!(line.matches('\t').count(), 10);
        assert_eq!(entry("a\tb\nc").canonical().matches('\t').count(), 10);
    }

    #[test]
    fn any_changed_field_changes_the_hash_and_so_does_the_chain() {
        let hash = |e: &Entry, prev: &[u8; 32]| {
            let mut h = SealHasher::new(1, prev);
            h.add(e.id, &e.canonical());
            h.finish()
        };
        let base = hash(&entry("lunch"), &GENESIS);
        assert_ne!(base, hash(&entry("lunch!"), &GENESIS));
        let mut other = entry("lunch");
        other.amount += 1;
        assert_ne!(base, hash(&other, &GENESIS));
        assert_ne!(base, hash(&entry("lunch"), &[1; 32]));
        assert_eq!(base, hash(&entry("lunch"), &GENESIS));
    }
}
