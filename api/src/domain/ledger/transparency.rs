//! A member's check of the published history (issue 20), wherever the proofs come from: over
//! HTTP from their own machine (`coinsence audit verify --url`), or from the core for the chat's
//! `/verify`. It trusts nothing the server says that it cannot check:
//!
//! 1. the org's key is the one the member pinned (if they did);
//! 2. every tree head is signed by that key;
//! 3. every head extends the one before it, and the last head the member saw (consistency
//!    proofs); heads copied from a room (witnesses) are the ones published, or extended by them;
//! 4. each of the member's entries is in the latest head, as the journal holds it now (inclusion
//!    proofs); when one is not, each earlier head is asked, to name the first that it breaks.
//!
//! The report names the first (smallest) tree head found inconsistent.

use super::merkle::{self, Hash};
use super::tree_heads::{ConsistencyProof, InclusionProof, OrgKey, TreeHead, signature_ok};

/// Where proofs come from. `inclusion` answers `None` for an entry not sealed in that head yet.
#[allow(async_fn_in_trait)] // used generically, never as a trait object
pub trait ProofSource {
    async fn key(&self) -> anyhow::Result<OrgKey>;
    async fn heads(&self) -> anyhow::Result<Vec<TreeHead>>;
    /// The ids of the member's own journal entries.
    async fn own_entries(&self) -> anyhow::Result<Vec<i64>>;
    async fn inclusion(
        &self,
        transfer: i64,
        tree_size: i64,
    ) -> anyhow::Result<Option<InclusionProof>>;
    async fn consistency(&self, first: i64, second: i64) -> anyhow::Result<ConsistencyProof>;
}

/// A head as a member remembers it or copied it from a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownHead {
    pub tree_size: i64,
    pub root: Hash,
}

/// The first tree head found inconsistent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHead {
    pub tree_size: i64,
    pub reason: String,
}

/// What the check checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub public_key: String,
    pub heads: usize,
    pub signatures: usize,
    pub consistency_proofs: usize,
    pub entries_included: usize,
    pub entries_not_sealed_yet: usize,
    pub witnesses: usize,
    /// The latest head, to remember for the next check.
    pub latest: Option<KnownHead>,
    /// `None` when everything checked out.
    pub first_bad: Option<BadHead>,
    /// Not about a head (the pinned key changed).
    pub key_changed: bool,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.first_bad.is_none() && !self.key_changed
    }

    fn bad(&mut self, tree_size: i64, reason: String) {
        if self
            .first_bad
            .as_ref()
            .is_none_or(|b| tree_size < b.tree_size)
        {
            self.first_bad = Some(BadHead { tree_size, reason });
        }
    }
}

fn u(i: i64) -> u64 {
    u64::try_from(i).unwrap_or(u64::MAX)
}

fn consistent(p: &ConsistencyProof, first: &Hash, second: &Hash) -> bool {
    let path: Vec<Hash> = p.path.iter().map(|h| h.0).collect();
    merkle::verify_consistency(u(p.first), u(p.second), &path, first, second)
}

/// Checks that `proof` shows `transfer` is in `head` as served now.
fn included(proof: &InclusionProof, transfer: i64, head: &TreeHead) -> Result<(), String> {
    if proof.transfer_id != transfer || !proof.entry.starts_with(&format!("{transfer}\t")) {
        return Err(format!(
            "the proof for entry {transfer} is about another entry"
        ));
    }
    let leaf = merkle::leaf_hash(proof.entry.as_bytes());
    let path: Vec<Hash> = proof.path.iter().map(|h| h.0).collect();
    if merkle::verify_inclusion(
        &leaf,
        u(proof.leaf_index),
        u(head.tree_size),
        &path,
        &head.root.0,
    ) {
        Ok(())
    } else {
        Err(format!(
            "your entry {transfer} as the journal holds it now is not in it (leaf {})",
            proof.leaf_index
        ))
    }
}

/// Runs the check. `pinned`: the key the member pinned; `last_seen`: the last head they saw;
/// `witnesses`: heads copied from a room.
pub async fn check(
    src: &impl ProofSource,
    pinned: Option<&str>,
    last_seen: Option<KnownHead>,
    witnesses: &[KnownHead],
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let key = src.key().await?;
    report.public_key = key.public_key.clone();
    if pinned.is_some_and(|p| !p.eq_ignore_ascii_case(&key.public_key)) {
        report.key_changed = true;
    }
    let public: [u8; 32] = hex::decode(&key.public_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| anyhow::anyhow!("the org's public key is not 32 hex bytes"))?;
    let mut heads = src.heads().await?;
    heads.sort_by_key(|h| h.tree_size);
    report.heads = heads.len();

    for h in &heads {
        if signature_ok(&public, h) {
            report.signatures += 1;
        } else {
            report.bad(
                h.tree_size,
                "its signature does not verify with the org's key".to_owned(),
            );
        }
    }
    for pair in heads.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let p = src.consistency(a.tree_size, b.tree_size).await?;
        if consistent(&p, &a.root.0, &b.root.0) {
            report.consistency_proofs += 1;
        } else {
            report.bad(
                b.tree_size,
                format!("it does not extend the head of size {}", a.tree_size),
            );
        }
    }
    // Heads known from outside the server: the last one seen, and the rooms' witnesses.
    let mut outside: Vec<(KnownHead, &str)> = witnesses.iter().map(|w| (*w, "a witness")).collect();
    report.witnesses = witnesses.len();
    if let Some(seen) = last_seen {
        outside.push((seen, "the head you saw last time"));
    }
    for (known, what) in outside {
        match heads.iter().find(|h| h.tree_size == known.tree_size) {
            Some(h) if h.root.0 != known.root => report.bad(
                h.tree_size,
                format!("its root differs from {what} of the same size"),
            ),
            Some(_) => {}
            None => {
                // Not published (any more): the next head must still extend it.
                match heads.iter().find(|h| h.tree_size > known.tree_size) {
                    Some(next) => {
                        let p = src.consistency(known.tree_size, next.tree_size).await;
                        let ok = p.is_ok_and(|p| consistent(&p, &known.root, &next.root.0));
                        if ok {
                            report.consistency_proofs += 1;
                        } else {
                            report.bad(
                                next.tree_size,
                                format!("it does not extend {what} (size {})", known.tree_size),
                            );
                        }
                    }
                    None => report.bad(known.tree_size, format!("{what} is no longer published")),
                }
            }
        }
    }
    if let Some(latest) = heads.last() {
        for transfer in src.own_entries().await? {
            let Some(proof) = src.inclusion(transfer, latest.tree_size).await? else {
                report.entries_not_sealed_yet += 1;
                continue;
            };
            if included(&proof, transfer, latest).is_ok() {
                report.entries_included += 1;
                continue;
            }
            // Name the first head it breaks: the smallest one that should hold it.
            for h in heads.iter().filter(|h| h.tree_size > proof.leaf_index) {
                let failure = match src.inclusion(transfer, h.tree_size).await? {
                    Some(p) => included(&p, transfer, h).err(),
                    None => Some(format!("your entry {transfer} is missing from it")),
                };
                if let Some(reason) = failure {
                    report.bad(h.tree_size, reason);
                    break;
                }
            }
        }
        report.latest = Some(KnownHead {
            tree_size: latest.tree_size,
            root: latest.root.0,
        });
    }
    Ok(report)
}

/// Proofs straight from the core, for a member (the chat's `/verify`).
pub struct CoreSource<'a> {
    pub core: &'a crate::core::Core,
    pub member: &'a crate::domain::orgs::Member,
}

impl ProofSource for CoreSource<'_> {
    async fn key(&self) -> anyhow::Result<OrgKey> {
        Ok(self.core.org_key(self.member).await?)
    }
    async fn heads(&self) -> anyhow::Result<Vec<TreeHead>> {
        Ok(self.core.tree_heads(self.member).await?)
    }
    async fn own_entries(&self) -> anyhow::Result<Vec<i64>> {
        Ok(self.core.own_entry_ids(self.member).await?)
    }
    async fn inclusion(
        &self,
        transfer: i64,
        tree_size: i64,
    ) -> anyhow::Result<Option<InclusionProof>> {
        use crate::error::Error;
        use crate::refusal::Refusal;
        match self
            .core
            .inclusion_proof(self.member, transfer, Some(tree_size))
            .await
        {
            Ok(p) => Ok(Some(p)),
            Err(Error::Refused(Refusal::EntryNotSealed { .. })) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    async fn consistency(&self, first: i64, second: i64) -> anyhow::Result<ConsistencyProof> {
        Ok(self
            .core
            .consistency_proof(self.member, first, second)
            .await?)
    }
}
