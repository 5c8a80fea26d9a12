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
use crate::i18n::{self, Args, Lang};

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
    pub reason: HeadProblem,
}

/// A tree head as a room saw it: its size and the first bytes of its root (a witness line shows
/// [`WITNESS_ROOT_BYTES`]; a full root is a witness too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    pub tree_size: i64,
    pub root_prefix: Vec<u8>,
}

/// How much of the root a witness line shows: 16 bytes (32 hex digits). A server that rewrote
/// history would need a new root starting with the same 128 bits, a second preimage as hard as
/// breaking SHA-256's collision resistance, while the line stays short enough to read.
pub const WITNESS_ROOT_BYTES: usize = 16;

impl Witness {
    /// Whether `root` is the root this witness saw.
    pub fn matches(&self, root: &Hash) -> bool {
        self.root_prefix.len() >= WITNESS_ROOT_BYTES && root.starts_with(&self.root_prefix)
    }
}

/// Tree heads in text copied from a room (`coinsence audit verify --witness`): on each line, the
/// first run of 32 to 64 hex digits is the root (or its start) and the last number before it the
/// size, whatever the language and the marks around them.
pub fn parse_witnesses(text: &str) -> Vec<Witness> {
    text.lines()
        .filter_map(|line| {
            let tokens: Vec<&str> = line
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|t| !t.is_empty())
                .collect();
            let at = tokens.iter().position(|t| {
                (2 * WITNESS_ROOT_BYTES..=64).contains(&t.len())
                    && t.len() % 2 == 0
                    && t.chars().all(|c| c.is_ascii_hexdigit())
            })?;
            let root_prefix = hex::decode(tokens[at]).ok()?;
            let tree_size = tokens[..at]
                .iter()
                .rev()
                .find_map(|t| t.parse::<i64>().ok())?;
            Some(Witness {
                tree_size,
                root_prefix,
            })
        })
        .collect()
}

/// A head known from outside the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Copied from a room.
    Witness,
    /// Remembered from the member's last check.
    LastSeen,
}

/// Why a tree head is inconsistent: a code with named arguments, worded by the catalogs
/// (`audit-head-<code>` in `cli.ftl`), so the chat, the command line and the portal each say it
/// in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadProblem {
    /// Its signature does not verify with the org's key.
    BadSignature,
    /// It does not extend the published head of size `earlier`.
    DoesNotExtend { earlier: i64 },
    /// Its root differs from a head of the same size known from outside.
    RootDiffers { from: Evidence },
    /// It does not extend a head of size `size` known from outside.
    DoesNotExtendKnown { from: Evidence, size: i64 },
    /// A head known from outside is not published (any more), nor any later one.
    NotPublished { from: Evidence },
    /// The server answered the proof for `transfer` with another entry's.
    ProofForAnotherEntry { transfer: i64 },
    /// The member's entry, as the journal holds it now, is not in it.
    EntryNotIncluded { transfer: i64, leaf: i64 },
    /// The member's entry is missing from it.
    EntryMissing { transfer: i64 },
}

impl HeadProblem {
    pub fn code(&self) -> &'static str {
        use Evidence::*;
        match self {
            Self::BadSignature => "bad-signature",
            Self::DoesNotExtend { .. } => "does-not-extend",
            Self::RootDiffers { from: Witness } => "root-differs-from-witness",
            Self::RootDiffers { from: LastSeen } => "root-differs-from-last-seen",
            Self::DoesNotExtendKnown { from: Witness, .. } => "does-not-extend-witness",
            Self::DoesNotExtendKnown { from: LastSeen, .. } => "does-not-extend-last-seen",
            Self::NotPublished { from: Witness } => "witness-not-published",
            Self::NotPublished { from: LastSeen } => "last-seen-not-published",
            Self::ProofForAnotherEntry { .. } => "proof-for-another-entry",
            Self::EntryNotIncluded { .. } => "entry-not-included",
            Self::EntryMissing { .. } => "entry-missing",
        }
    }

    pub fn args(&self) -> Args {
        match *self {
            Self::BadSignature | Self::RootDiffers { .. } | Self::NotPublished { .. } => {
                Args::new()
            }
            Self::DoesNotExtend { earlier } => Args::new().count("earlier", earlier),
            Self::DoesNotExtendKnown { size, .. } => Args::new().count("size", size),
            Self::ProofForAnotherEntry { transfer } | Self::EntryMissing { transfer } => {
                Args::new().count("transfer", transfer)
            }
            Self::EntryNotIncluded { transfer, leaf } => {
                Args::new().count("transfer", transfer).count("leaf", leaf)
            }
        }
    }

    /// The catalog's message id.
    pub fn message_id(&self) -> String {
        format!("audit-head-{}", self.code())
    }

    pub fn message(&self, lang: Lang) -> String {
        i18n::message(lang, &self.message_id(), &self.args())
    }
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

    fn bad(&mut self, tree_size: i64, reason: HeadProblem) {
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
fn included(proof: &InclusionProof, transfer: i64, head: &TreeHead) -> Result<(), HeadProblem> {
    if proof.transfer_id != transfer || !proof.entry.starts_with(&format!("{transfer}\t")) {
        return Err(HeadProblem::ProofForAnotherEntry { transfer });
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
        Err(HeadProblem::EntryNotIncluded {
            transfer,
            leaf: proof.leaf_index,
        })
    }
}

/// Runs the check. `pinned`: the key the member pinned; `last_seen`: the last head they saw;
/// `witnesses`: heads copied from a room.
pub async fn check(
    src: &impl ProofSource,
    pinned: Option<&str>,
    last_seen: Option<KnownHead>,
    witnesses: &[Witness],
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
            report.bad(h.tree_size, HeadProblem::BadSignature);
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
                HeadProblem::DoesNotExtend {
                    earlier: a.tree_size,
                },
            );
        }
    }
    // Heads known from outside the server: the last one seen, and the rooms' witnesses (a
    // witness holds the root's first bytes; the last head seen, all of them).
    let mut outside: Vec<(Witness, Evidence)> = witnesses
        .iter()
        .map(|w| (w.clone(), Evidence::Witness))
        .collect();
    report.witnesses = witnesses.len();
    if let Some(seen) = last_seen {
        let seen = Witness {
            tree_size: seen.tree_size,
            root_prefix: seen.root.to_vec(),
        };
        outside.push((seen, Evidence::LastSeen));
    }
    for (known, from) in outside {
        match heads.iter().find(|h| h.tree_size == known.tree_size) {
            Some(h) if !known.matches(&h.root.0) => {
                report.bad(h.tree_size, HeadProblem::RootDiffers { from })
            }
            Some(_) => {}
            None => {
                // Not published (any more): the next head must still extend it.
                match heads.iter().find(|h| h.tree_size > known.tree_size) {
                    Some(next) => {
                        let p = src.consistency(known.tree_size, next.tree_size).await;
                        // The proof names the earlier root; the known bytes must be its start.
                        let ok = p.is_ok_and(|p| {
                            known.matches(&p.first_root.0)
                                && consistent(&p, &p.first_root.0, &next.root.0)
                        });
                        if ok {
                            report.consistency_proofs += 1;
                        } else {
                            report.bad(
                                next.tree_size,
                                HeadProblem::DoesNotExtendKnown {
                                    from,
                                    size: known.tree_size,
                                },
                            );
                        }
                    }
                    None => report.bad(known.tree_size, HeadProblem::NotPublished { from }),
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
                    None => Some(HeadProblem::EntryMissing { transfer }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn witness_lines_are_read_whatever_the_words_around_them() {
        let root = "ab".repeat(32);
        let prefix = "cd".repeat(16);
        let text = format!(
            "[22:10] bot: Tree head of Demo 2024: \u{2068}1234\u{2069} entries, root `{prefix}`\n\
             noise 77 beef\nBaumkopf 7 Einträge, Wurzel **{root}**\n"
        );
        let heads = parse_witnesses(&text);
        assert_eq!(
            heads.iter().map(|h| h.tree_size).collect::<Vec<_>>(),
            vec![1234, 7]
        );
        assert_eq!(heads[0].root_prefix, vec![0xcd; 16]);
        assert!(heads[0].matches(&[0xcd; 32]));
        assert!(!heads[0].matches(&[0xce; 32]));
        assert!(heads[1].matches(&[0xab; 32]));
        // Too few digits to pin a root: not a witness.
        assert!(
            !Witness {
                tree_size: 1,
                root_prefix: vec![0xcd; 8]
            }
            .matches(&[0xcd; 32])
        );
    }

    fn every_problem() -> Vec<HeadProblem> {
        let mut all = vec![
            HeadProblem::BadSignature,
            HeadProblem::DoesNotExtend { earlier: 4 },
            HeadProblem::ProofForAnotherEntry { transfer: 7 },
            HeadProblem::EntryNotIncluded {
                transfer: 7,
                leaf: 3,
            },
            HeadProblem::EntryMissing { transfer: 7 },
        ];
        for from in [Evidence::Witness, Evidence::LastSeen] {
            all.push(HeadProblem::RootDiffers { from });
            all.push(HeadProblem::DoesNotExtendKnown { from, size: 5 });
            all.push(HeadProblem::NotPublished { from });
        }
        all
    }

    /// Each reason a head is named inconsistent is worded in both languages, with exactly the
    /// arguments it gives (a reason missing from a catalog would show its id to the member).
    #[test]
    fn every_head_problem_is_worded_in_english_and_german_with_its_arguments() {
        let all = every_problem();
        let codes: std::collections::BTreeSet<&str> = all.iter().map(HeadProblem::code).collect();
        assert_eq!(codes.len(), all.len(), "codes are distinct");
        for problem in &all {
            let given: std::collections::BTreeSet<String> = problem
                .args()
                .iter(Lang::En)
                .map(|(n, _)| n.to_owned())
                .collect();
            for lang in Lang::ALL {
                let used = i18n::referenced_args(lang, &problem.message_id())
                    .unwrap_or_else(|| panic!("{} missing in {lang}", problem.message_id()));
                let used: std::collections::BTreeSet<String> =
                    used.into_iter().map(str::to_owned).collect();
                assert_eq!(used, given, "{} in {lang}", problem.message_id());
            }
        }
        assert_eq!(
            HeadProblem::EntryNotIncluded {
                transfer: 12345,
                leaf: 3
            }
            .message(Lang::De),
            "dein Eintrag 12345, wie das Journal ihn jetzt enthält, ist nicht darin (Blatt 3)"
        );
    }
}
