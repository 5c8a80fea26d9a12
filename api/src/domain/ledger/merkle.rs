//! The Merkle tree of RFC 9162 (Certificate Transparency 2.0, section 2.1) over an org's journal:
//! leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right), the tree over
//! `n` leaves splits at the largest power of two below `n`. Inclusion and consistency proofs are
//! the RFC's `PATH` and `PROOF`, checked with its verification algorithms (2.1.3.2, 2.1.4.2).
//!
//! The tree is stored, not rebuilt: a [`NodeSource`] answers the hash of any *complete* subtree,
//! `(level, index)` covering leaves `[index << level, (index + 1) << level)`. Every range the RFC's
//! recursion meets starts on a multiple of its left half, so its left half is such a stored node and
//! only the right edge recurses: a proof or a root reads O(log² n) stored hashes at most (O(log n)
//! for inclusion). [`needed_nodes`] lists those hashes first, so the database reads them in one
//! query. No crate was used: `ct-merkle` keeps the whole tree in memory, and these few functions
//! are checked against a plain in-memory reference by the property tests below.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// RFC 9162: the hash of an empty tree is the hash of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly below `n` (n >= 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Hashes of complete subtrees: `(level, index)` covers leaves `[index << level, (index+1) << level)`.
pub trait NodeSource {
    fn node(&self, level: u32, index: u64) -> Hash;
}

/// Stored nodes, fetched ahead by [`needed_nodes`]; a missing one reads as zeros (which then
/// fails verification rather than panicking).
impl NodeSource for HashMap<(u32, u64), Hash> {
    fn node(&self, level: u32, index: u64) -> Hash {
        self.get(&(level, index)).copied().unwrap_or([0; 32])
    }
}

/// Records which nodes a computation reads (their hashes do not change which ones).
struct Recorder(std::cell::RefCell<Vec<(u32, u64)>>);

impl NodeSource for Recorder {
    fn node(&self, level: u32, index: u64) -> Hash {
        self.0.borrow_mut().push((level, index));
        [0; 32]
    }
}

/// MTH(D[start:end]) for a range whose start is a multiple of its left half (every range the
/// RFC's recursion meets is).
pub fn subtree_root(src: &impl NodeSource, start: u64, end: u64) -> Hash {
    let n = end - start;
    if n == 0 {
        return empty_root();
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.node(n.trailing_zeros(), start >> n.trailing_zeros());
    }
    let k = split(n);
    node_hash(
        &subtree_root(src, start, start + k),
        &subtree_root(src, start + k, end),
    )
}

pub fn root(src: &impl NodeSource, size: u64) -> Hash {
    subtree_root(src, 0, size)
}

/// PATH(m, D[start:end]) of RFC 9162 2.1.3.1, for leaf `start + m`.
fn path(src: &impl NodeSource, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(src, m, start, start + k, out);
        out.push(subtree_root(src, start + k, end));
    } else {
        path(src, m - k, start + k, end, out);
        out.push(subtree_root(src, start, start + k));
    }
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves (`index < size`).
pub fn inclusion_proof(src: &impl NodeSource, index: u64, size: u64) -> Vec<Hash> {
    let mut out = Vec::new();
    if index < size {
        path(src, index, 0, size, &mut out);
    }
    out
}

/// SUBPROOF(m, D[start:end], b) of RFC 9162 2.1.4.1.
fn subproof(src: &impl NodeSource, m: u64, start: u64, end: u64, b: bool, out: &mut Vec<Hash>) {
    let n = end - start;
    if m == n {
        if !b {
            out.push(subtree_root(src, start, end));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, b, out);
        out.push(subtree_root(src, start + k, end));
    } else {
        subproof(src, m - k, start + k, end, false, out);
        out.push(subtree_root(src, start, start + k));
    }
}

/// The consistency proof between the trees of the first `first` and `second` leaves
/// (`0 < first <= second`; empty when they are equal or `first` is 0).
pub fn consistency_proof(src: &impl NodeSource, first: u64, second: u64) -> Vec<Hash> {
    let mut out = Vec::new();
    if first > 0 && first < second {
        subproof(src, first, 0, second, true, &mut out);
    }
    out
}

/// The stored nodes `compute` reads, without reading any (to fetch them in one query).
pub fn needed_nodes<T>(compute: impl FnOnce(&dyn Fn(u32, u64) -> Hash) -> T) -> Vec<(u32, u64)> {
    let rec = Recorder(std::cell::RefCell::new(Vec::new()));
    compute(&|level, index| rec.node(level, index));
    let mut nodes = rec.0.into_inner();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

impl<F: Fn(u32, u64) -> Hash> NodeSource for F {
    fn node(&self, level: u32, index: u64) -> Hash {
        self(level, index)
    }
}

/// RFC 9162 2.1.3.2: is `leaf` the leaf `index` of the tree of `size` leaves with `root`?
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// RFC 9162 2.1.4.2: does the tree of `second` leaves with `second_root` extend the tree of
/// `first` leaves with `first_root`? A tree extends the empty tree and itself.
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return proof.is_empty() && *first_root == empty_root();
    }
    let Some((c0, rest)) = proof.split_first() else {
        return false;
    };
    let mut path: Vec<&Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(first_root);
        path.push(c0);
    } else {
        path.push(c0);
    }
    path.extend(rest);
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*path[0], *path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *first_root && sr == *second_root && s == 0
}

/// The nodes a new leaf completes: appending leaf `index` with `hash` finishes the complete
/// subtrees ending at it; `left(level, i)` gives the stored left sibling at each level.
pub fn completed_by(
    index: u64,
    hash: Hash,
    left: impl Fn(u32, u64) -> Option<Hash>,
) -> Vec<(u32, u64, Hash)> {
    let mut out = vec![(0, index, hash)];
    let (mut level, mut i, mut h) = (0u32, index, hash);
    while i & 1 == 1 {
        let Some(l) = left(level, i - 1) else { break };
        h = node_hash(&l, &h);
        level += 1;
        i >>= 1;
        out.push((level, i, h));
    }
    out
}

/// A whole tree in memory, the straightforward way (tests, the operator's audit, the bench).
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    /// `levels[l][i]`: the complete subtree `(l, i)`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn push(&mut self, leaf: Hash) {
        let index = self.levels.first().map_or(0, Vec::len) as u64;
        for (level, i, h) in completed_by(index, leaf, |l, i| {
            self.levels.get(l as usize)?.get(i as usize).copied()
        }) {
            if self.levels.len() <= level as usize {
                self.levels.push(Vec::new());
            }
            debug_assert_eq!(self.levels[level as usize].len() as u64, i);
            self.levels[level as usize].push(h);
        }
    }

    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, Vec::len) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl NodeSource for MemoryTree {
    fn node(&self, level: u32, index: u64) -> Hash {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .unwrap_or([0; 32])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 9162 2.1.1 literally, over the leaf hashes.
    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return vec![];
        }
        let k = split(n as u64) as usize;
        if m < k {
            let mut p = ref_path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = ref_path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = split(n as u64) as usize;
        if m <= k {
            let mut p = ref_subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = ref_subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    fn tree(d: &[Hash]) -> MemoryTree {
        let mut t = MemoryTree::default();
        for l in d {
            t.push(*l);
        }
        t
    }

    fn flip(h: &Hash, bit: usize) -> Hash {
        let mut h = *h;
        h[bit / 8 % 32] ^= 1 << (bit % 8);
        h
    }

    #[test]
    fn the_empty_tree_and_single_leaf_follow_the_rfc() {
        let t = MemoryTree::default();
        assert_eq!(root(&t, 0), empty_root());
        let d = leaves(1);
        assert_eq!(root(&tree(&d), 1), d[0]);
        assert!(verify_consistency(0, 1, &[], &empty_root(), &d[0]));
    }

    /// Every size up to 64, every index and every earlier size: the stored-node computation
    /// gives exactly the RFC's recursion.
    #[test]
    fn every_proof_up_to_64_leaves_is_the_rfcs() {
        let d = leaves(64);
        let t = tree(&d);
        for n in 1..=d.len() {
            assert_eq!(root(&t, n as u64), mth(&d[..n]), "root of {n}");
            for m in 0..n {
                let p = inclusion_proof(&t, m as u64, n as u64);
                assert_eq!(p, ref_path(m, &d[..n]), "path {m} of {n}");
            }
            for m in 1..n {
                let p = consistency_proof(&t, m as u64, n as u64);
                assert_eq!(p, ref_subproof(m, &d[..n], true), "consistency {m} of {n}");
            }
        }
    }

    /// Every size up to 400 and every index in it (and every earlier size): the proofs verify.
    #[test]
    fn every_proof_up_to_400_leaves_verifies() {
        let d = leaves(400);
        let t = tree(&d);
        let roots: Vec<Hash> = (0..=d.len() as u64).map(|n| root(&t, n)).collect();
        for n in 1..=d.len() as u64 {
            let r = &roots[n as usize];
            for m in 0..n {
                let p = inclusion_proof(&t, m, n);
                assert!(verify_inclusion(&d[m as usize], m, n, &p, r), "{m} in {n}");
                let c = consistency_proof(&t, m + 1, n);
                assert!(
                    verify_consistency(m + 1, n, &c, &roots[m as usize + 1], r),
                    "{} to {n}",
                    m + 1
                );
            }
        }
    }

    #[test]
    fn needed_nodes_are_few_and_enough() {
        let d = leaves(1000);
        let t = tree(&d);
        let (m, n) = (617u64, 999u64);
        let nodes = needed_nodes(|src| {
            (
                inclusion_proof(&src, m, n),
                consistency_proof(&src, m, n),
                root(&src, n),
            )
        });
        assert!(nodes.len() <= 40, "{} nodes", nodes.len());
        let fetched: HashMap<(u32, u64), Hash> =
            nodes.iter().map(|&(l, i)| ((l, i), t.node(l, i))).collect();
        assert_eq!(inclusion_proof(&fetched, m, n), inclusion_proof(&t, m, n));
        assert_eq!(
            consistency_proof(&fetched, m, n),
            consistency_proof(&t, m, n)
        );
        assert_eq!(root(&fetched, n), mth(&d[..n as usize]));
    }

    fn sizes() -> impl Strategy<Value = (usize, usize, usize)> {
        (1usize..4000).prop_flat_map(|n| (Just(n), 0..n, 1..=n))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any size and index up to a few thousand: proofs verify, and a flipped bit anywhere
        /// (leaf, proof, root, index, size) is caught.
        #[test]
        fn proofs_verify_and_any_flipped_bit_is_caught((n, m, old) in sizes(), bit in 0usize..256, which in 0usize..64) {
            let d = leaves(n);
            let t = tree(&d);
            let (n64, m64, old64) = (n as u64, m as u64, old as u64);
            let r = root(&t, n64);
            prop_assert_eq!(r, mth(&d));
            let p = inclusion_proof(&t, m64, n64);
            prop_assert!(verify_inclusion(&d[m], m64, n64, &p, &r));
            prop_assert!(!verify_inclusion(&flip(&d[m], bit), m64, n64, &p, &r));
            prop_assert!(!verify_inclusion(&d[m], m64, n64, &p, &flip(&r, bit)));
            if !p.is_empty() {
                let mut bad = p.clone();
                let j = which % bad.len();
                bad[j] = flip(&bad[j], bit);
                prop_assert!(!verify_inclusion(&d[m], m64, n64, &bad, &r));
                prop_assert!(!verify_inclusion(&d[m], m64, n64, &p[..p.len() - 1], &r));
            }
            if n > 1 {
                let other = (m + 1 + which % (n - 1)) % n;
                prop_assert!(!verify_inclusion(&d[m], other as u64, n64, &p, &r));
            }

            let old_root = mth(&d[..old]);
            let c = consistency_proof(&t, old64, n64);
            prop_assert!(verify_consistency(old64, n64, &c, &old_root, &r));
            prop_assert!(!verify_consistency(old64, n64, &c, &flip(&old_root, bit), &r));
            prop_assert!(!verify_consistency(old64, n64, &c, &old_root, &flip(&r, bit)));
            if !c.is_empty() {
                let mut bad = c.clone();
                let j = which % bad.len();
                bad[j] = flip(&bad[j], bit);
                prop_assert!(!verify_consistency(old64, n64, &bad, &old_root, &r));
            }
            // A rewritten history: one earlier leaf changed, the new root cannot extend the old.
            if old < n {
                let mut rewritten = d.clone();
                rewritten[m.min(old - 1)] = flip(&d[m.min(old - 1)], bit);
                let rt = tree(&rewritten);
                let c2 = consistency_proof(&rt, old64, n64);
                prop_assert!(!verify_consistency(old64, n64, &c2, &old_root, &root(&rt, n64)));
            }
        }
    }
}
