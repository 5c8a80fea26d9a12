//! `coinsence bench seals` (issue 20): what the Merkle log costs and what it gives.
//!
//! 1. In memory, over a journal of `--entries` (1,000,000) synthetic entries of a real entry's
//!    length: the size of inclusion and consistency proofs (they must grow as log2 of the size)
//!    and the time a member's machine takes to verify one.
//! 2. In PostgreSQL (a private durable cluster, or `--database-url`): an org's journal of the same
//!    size, sealed; then, for `--rounds` rounds, 10,000 new entries sealed with the tree and its
//!    signed head, and 10,000 sealed by the hash chain alone (as before the log) in a second org,
//!    in one run, so the ratio compares like with like; and the time the server takes to answer
//!    a proof.
//!
//! A debug build hashes several times slower than a release build; the ratios hold either way.

use std::time::{Duration, Instant};

use anyhow::Context;
use coinsence_api::Core;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::merkle::{self, MemoryTree};
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use rand::Rng;

use super::cli::SealsBenchArgs;

/// New entries per measured seal.
const BATCH: i64 = 10_000;

fn synthetic_entry(i: u64) -> String {
    // The shape and length of `canonical::Entry::canonical`: ids, amount, kind, time, and three
    // hex SHA-256 digests.
    let digest = hex::encode(merkle::leaf_hash(&i.to_be_bytes()));
    format!(
        "{i}\t1\t2\t3\t100\tpayment\t4\t{}\t{digest}\t{digest}\t{digest}\n",
        1_700_000_000_000_000u64 + i
    )
}

fn per(total: Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1e6 / n.max(1) as f64
}

fn memory(entries: u64, proofs: usize) {
    let started = Instant::now();
    let mut tree = MemoryTree::default();
    let mut leaves = Vec::with_capacity(entries as usize);
    for i in 0..entries {
        let leaf = merkle::leaf_hash(synthetic_entry(i).as_bytes());
        leaves.push(leaf);
        tree.push(leaf);
    }
    println!(
        "memory: a tree of {entries} entries built in {:.2} s ({:.1} µs an entry)",
        started.elapsed().as_secs_f64(),
        per(started.elapsed(), entries as usize)
    );
    let root = merkle::root(&tree, entries);
    let mut rng = rand::rng();

    let (mut max_len, mut sum_len, mut verify, mut make) = (0, 0, Duration::ZERO, Duration::ZERO);
    for _ in 0..proofs {
        let m = rng.random_range(0..entries);
        let t = Instant::now();
        let proof = merkle::inclusion_proof(&tree, m, entries);
        make += t.elapsed();
        let t = Instant::now();
        let ok = merkle::verify_inclusion(&leaves[m as usize], m, entries, &proof, &root);
        verify += t.elapsed();
        assert!(ok, "inclusion of {m}");
        max_len = max_len.max(proof.len());
        sum_len += proof.len();
    }
    println!(
        "inclusion proofs at {entries}: {:.1} hashes on average, {max_len} at most ({} bytes); \
         made in {:.1} µs, verified in {:.1} µs ({proofs} proofs)",
        sum_len as f64 / proofs as f64,
        max_len * 32,
        per(make, proofs),
        per(verify, proofs)
    );

    let (mut max_len, mut sum_len, mut verify, mut make) = (0, 0, Duration::ZERO, Duration::ZERO);
    for _ in 0..proofs {
        let m = rng.random_range(1..entries);
        let old = merkle::root(&tree, m);
        let t = Instant::now();
        let proof = merkle::consistency_proof(&tree, m, entries);
        make += t.elapsed();
        let t = Instant::now();
        let ok = merkle::verify_consistency(m, entries, &proof, &old, &root);
        verify += t.elapsed();
        assert!(ok, "consistency of {m}");
        max_len = max_len.max(proof.len());
        sum_len += proof.len();
    }
    println!(
        "consistency proofs to {entries}: {:.1} hashes on average, {max_len} at most ({} bytes); \
         made in {:.1} µs, verified in {:.1} µs ({proofs} proofs)",
        sum_len as f64 / proofs as f64,
        max_len * 32,
        per(make, proofs),
        per(verify, proofs)
    );
}

/// Appends `n` journal entries straight in SQL (issuances between the two accounts of the first
/// one): the bench measures sealing, not posting.
async fn add_entries(pool: &sqlx::PgPool, schema: &str, from: i64, n: i64) -> anyhow::Result<()> {
    let sql = format!(
        "INSERT INTO {schema}.transfers
             (currency_id, from_account, to_account, amount, kind, memo, actor_user_id,
              idempotency_key, fingerprint)
         SELECT t.currency_id, t.from_account, t.to_account, 1, 'issuance', 'bench ' || i,
                t.actor_user_id, 'bench-seals:' || i, sha256(i::text::bytea)
         FROM (SELECT * FROM {schema}.transfers ORDER BY id LIMIT 1) t,
              generate_series($1::bigint, $2::bigint) i"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(from + n - 1)
        .execute(pool)
        .await?;
    Ok(())
}

/// One real entry, whose accounts the bench's entries copy.
async fn first_entry(
    core: &Core,
    admin: &coinsence_api::domain::orgs::Member,
) -> anyhow::Result<()> {
    core.issue(
        admin,
        MoveRequest {
            currency: "SEAL".to_owned(),
            to: AccountRef::Member(admin.user.id),
            amount: "1".to_owned(),
            memo: "bench".to_owned(),
        },
        IdempotencyKey::scoped("bench", "seals", "first")?,
    )
    .await?;
    Ok(())
}

pub async fn run(args: SealsBenchArgs) -> anyhow::Result<()> {
    let entries = u64::try_from(args.entries)?;
    memory(entries, args.proofs);
    if args.memory_only {
        return Ok(());
    }

    let (pool, _, _cluster) = super::worker::database(args.database_url.as_deref(), 4).await?;
    let core = Core::new(pool.clone());
    let (_slug, admin) = super::worker::bench_org(&core, "seals", "SEAL").await?;
    first_entry(&core, &admin).await?;
    let schema = admin.tenant.schema().to_string();
    let tenant = admin.tenant.clone();

    let started = Instant::now();
    let mut next = 1;
    while next < args.entries {
        let n = (args.entries - next).min(100_000);
        add_entries(&pool, &schema, next, n).await?;
        next += n;
    }
    println!(
        "database: {} journal entries written in {:.1} s",
        args.entries,
        started.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    core.seal_journal(&tenant, chrono::Utc::now())
        .await?
        .context("nothing sealed")?;
    println!(
        "the first seal over all {} entries, with its tree and signed head: {:.1} s",
        args.entries,
        t.elapsed().as_secs_f64()
    );

    // The chain alone in an org of its own: sealed there, the tree's next seal would take the
    // chain's entries too. (The chain's cost does not grow with the journal: it reads the new
    // entries by their ids.)
    let (_, chain_admin) = super::worker::bench_org(&core, "chain", "SEAL").await?;
    first_entry(&core, &chain_admin).await?;
    let chain_schema = chain_admin.tenant.schema().to_string();
    let mut chain_next = 1;
    let (mut chain, mut both) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..args.rounds {
        add_entries(&pool, &chain_schema, chain_next, BATCH).await?;
        chain_next += BATCH;
        let t = Instant::now();
        core.seal_journal_chain_only(&chain_admin.tenant, chrono::Utc::now())
            .await?
            .context("nothing sealed")?;
        chain += t.elapsed();
        add_entries(&pool, &schema, next, BATCH).await?;
        next += BATCH;
        let t = Instant::now();
        core.seal_journal(&tenant, chrono::Utc::now())
            .await?
            .context("nothing sealed")?;
        both += t.elapsed();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / args.rounds.max(1) as f64;
    println!(
        "sealing {BATCH} new entries (average of {} rounds): hash chain alone {:.0} ms; \
         chain + Merkle tree + signed head {:.0} ms; ratio {:.2}",
        args.rounds,
        ms(chain),
        ms(both),
        both.as_secs_f64() / chain.as_secs_f64().max(f64::EPSILON)
    );

    // What a member's check asks the server for, at this size.
    let heads = core.tree_heads(&admin).await?;
    let latest = heads.last().context("no tree head")?;
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT transfer_id FROM {schema}.merkle_leaves ORDER BY random() LIMIT 200"
    )))
    .fetch_all(&pool)
    .await?;
    let t = Instant::now();
    for id in &ids {
        core.inclusion_proof(&admin, *id, None).await?;
    }
    let inclusion = t.elapsed();
    let first = heads.first().context("no tree head")?;
    let t = Instant::now();
    for _ in 0..ids.len() {
        core.consistency_proof(&admin, first.tree_size, latest.tree_size)
            .await?;
    }
    println!(
        "served at {} entries: an inclusion proof in {:.2} ms, a consistency proof in {:.2} ms",
        latest.tree_size,
        inclusion.as_secs_f64() * 1e3 / ids.len().max(1) as f64,
        t.elapsed().as_secs_f64() * 1e3 / ids.len().max(1) as f64
    );
    Ok(())
}
