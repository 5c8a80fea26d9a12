//! Member-verifiable history (issue 20): the Merkle log's signed tree heads and proofs through
//! the API, the member's check, and the operator's audit of the same tree.

use axum::http::StatusCode;
use coinsence_api::domain::ledger::merkle;
use coinsence_api::domain::ledger::transparency::{self, CoreSource, Witness};
use coinsence_api::domain::ledger::tree_heads::{self, TreeHead};
use serde_json::Value;

use crate::helpers::{Org, TestApp};

fn hash(v: &Value) -> [u8; 32] {
    let bytes = hex::decode(v.as_str().expect("hex")).expect("hex");
    <[u8; 32]>::try_from(bytes.as_slice()).expect("32 bytes")
}

async fn seal(app: &TestApp, slug: &str) {
    let tenant = app.tenant(slug).await;
    app.core
        .seal_journal(&tenant, chrono::Utc::now())
        .await
        .unwrap();
}

/// Ana gets 3 issuances, pays Bo once (with a memo Cleo must never see).
async fn community(
    app: &TestApp,
    slug: &str,
) -> (Org, (String, i64), (String, i64), (String, i64)) {
    let org = app.org(slug).await;
    let ana = app.member(&org, "ana").await;
    let bo = app.member(&org, "bo").await;
    let cleo = app.member(&org, "cleo").await;
    for _ in 0..3 {
        assert_eq!(
            app.issue(&org, ana.1, "5.00").await.status,
            StatusCode::CREATED
        );
    }
    let paid = app
        .call(
            axum::http::Method::POST,
            &format!("/v1/orgs/{slug}/transfers"),
            Some(&ana.0),
            Some(serde_json::json!({"currency": "COIN", "to_member": bo.1, "amount": "1.00", "memo": "rent for the secret room"})),
            Some("rent-1"),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
    (org, ana, bo, cleo)
}

#[tokio::test]
async fn seals_publish_signed_tree_heads_whose_proofs_verify() {
    let app = TestApp::new().await;
    let (org, ana, _bo, cleo) = community(&app, "merkle").await;
    seal(&app, "merkle").await;
    app.issue(&org, ana.1, "1.00").await;
    app.issue(&org, ana.1, "2.00").await;
    seal(&app, "merkle").await;

    let key = app.get("/v1/orgs/merkle/ledger/key", &cleo.0).await;
    assert_eq!(key.status, StatusCode::OK, "{:?}", key.body);
    assert_eq!(key.body["algorithm"], "ed25519");
    let public = hash(&key.body["public_key"]);

    let seals = app.get("/v1/orgs/merkle/ledger/seals", &cleo.0).await;
    let heads: Vec<TreeHead> = seals
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::from_value(s["tree_head"].clone()).unwrap())
        .collect();
    assert_eq!(
        heads.iter().map(|h| h.tree_size).collect::<Vec<_>>(),
        vec![4, 6],
        "{:?}",
        seals.body
    );
    assert!(heads.iter().all(|h| tree_heads::signature_ok(&public, h)));
    let mut forged = heads[1].clone();
    forged.tree_size = 5;
    assert!(!tree_heads::signature_ok(&public, &forged));

    // Ana's newest entry, in the latest head and not in the first.
    let history = app.get("/v1/orgs/merkle/transfers", &ana.0).await;
    let newest = history.body["transfers"][0]["id"].as_i64().unwrap();
    let p = app
        .get(
            &format!("/v1/orgs/merkle/ledger/proofs/inclusion?transfer={newest}"),
            &ana.0,
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(
        (p.body["tree_size"].as_i64(), p.body["leaf_index"].as_i64()),
        (Some(6), Some(5))
    );
    let path: Vec<[u8; 32]> = p.body["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    let leaf = merkle::leaf_hash(p.body["entry"].as_str().unwrap().as_bytes());
    assert_eq!(leaf, hash(&p.body["leaf_hash"]));
    assert!(merkle::verify_inclusion(
        &leaf,
        5,
        6,
        &path,
        &heads[1].root.0
    ));
    let early = app
        .get(
            &format!("/v1/orgs/merkle/ledger/proofs/inclusion?transfer={newest}&tree_size=4"),
            &ana.0,
        )
        .await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::CONFLICT, "entry_not_sealed")
    );
    let none = app
        .get(
            "/v1/orgs/merkle/ledger/proofs/inclusion?transfer=1&tree_size=5",
            &ana.0,
        )
        .await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::NOT_FOUND, "tree_head_not_found")
    );

    // Anyone in the org: the later head extends the earlier.
    let c = app
        .get(
            "/v1/orgs/merkle/ledger/proofs/consistency?first=4&second=6",
            &cleo.0,
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
    let path: Vec<[u8; 32]> = c.body["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    assert!(merkle::verify_consistency(
        4,
        6,
        &path,
        &heads[0].root.0,
        &heads[1].root.0
    ));

    // The member's own check and the operator's audit agree: all is well.
    let member = app
        .core
        .member_for_token(
            &coinsence_api::domain::identity::ApiToken::from_presented(&ana.0),
            "merkle",
        )
        .await
        .unwrap();
    let report = transparency::check(
        &CoreSource {
            core: &app.core,
            member: &member,
        },
        None,
        None,
        &[],
    )
    .await
    .unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(
        (
            report.heads,
            report.signatures,
            report.consistency_proofs,
            report.entries_included
        ),
        (2, 2, 1, 6)
    );
    let audit = app
        .core
        .audit_tree(&app.tenant("merkle").await)
        .await
        .unwrap();
    assert!(audit.ok, "{audit:?}");
    assert_eq!((audit.heads, audit.leaves), (2, 6));
}

#[tokio::test]
async fn a_member_gets_proofs_only_for_their_own_entries_and_they_hold_only_hashes() {
    let app = TestApp::new().await;
    let (org, ana, bo, cleo) = community(&app, "private").await;
    seal(&app, "private").await;
    let rent = app.get("/v1/orgs/private/transfers", &bo.0).await;
    let rent_id = rent.body["transfers"][0]["id"].as_i64().unwrap();
    let url = |t: i64| format!("/v1/orgs/private/ledger/proofs/inclusion?transfer={t}");

    // Cleo is in neither side: refused, and alike for an entry that does not exist.
    let theirs = app.get(&url(rent_id), &cleo.0).await;
    assert_eq!(
        (theirs.status, theirs.code()),
        (StatusCode::FORBIDDEN, "entry_not_visible")
    );
    let missing = app.get(&url(999_999), &cleo.0).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::FORBIDDEN, "entry_not_visible")
    );
    // Both sides and the owner may.
    for token in [&ana.0, &bo.0, &org.owner_token] {
        assert_eq!(app.get(&url(rent_id), token).await.status, StatusCode::OK);
    }
    // Cleo's proof of her own (none: she has no entry) and Ana's proofs of her issuances reveal
    // no other entry's contents: only hashes on the path, no memo, no amount of Bo's.
    let ana_history = app.get("/v1/orgs/private/transfers", &ana.0).await;
    for t in ana_history.body["transfers"].as_array().unwrap() {
        let p = app.get(&url(t["id"].as_i64().unwrap()), &ana.0).await;
        let text = p.body.to_string();
        assert!(!text.contains("secret"), "{text}");
        for h in p.body["path"].as_array().unwrap() {
            assert_eq!(h.as_str().map(str::len), Some(64));
        }
        assert_eq!(
            p.body["entry"].as_str().unwrap().split('\t').next(),
            Some(t["id"].to_string().as_str())
        );
    }
}

#[tokio::test]
async fn a_journal_row_rewritten_after_sealing_breaks_the_first_head_that_holds_it() {
    let app = TestApp::new().await;
    let (org, ana, _bo, _cleo) = community(&app, "rewritten").await;
    seal(&app, "rewritten").await;
    app.issue(&org, ana.1, "1.00").await;
    seal(&app, "rewritten").await;
    app.issue(&org, ana.1, "1.00").await;
    seal(&app, "rewritten").await;
    let member = app
        .core
        .member_for_token(
            &coinsence_api::domain::identity::ApiToken::from_presented(&ana.0),
            "rewritten",
        )
        .await
        .unwrap();
    let src = CoreSource {
        core: &app.core,
        member: &member,
    };
    let before = transparency::check(&src, None, None, &[]).await.unwrap();
    assert!(before.ok(), "{before:?}");
    let seen = before.latest.unwrap();
    assert_eq!(seen.tree_size, 6);
    // A room saw another root for the head of size 5: that head is named.
    let lie = Witness {
        tree_size: 5,
        root_prefix: vec![7; 16],
    };
    let r = transparency::check(&src, None, None, &[lie]).await.unwrap();
    assert_eq!(r.first_bad.map(|b| b.tree_size), Some(5));

    // The second entry (in every head) gets another amount, behind the append-only trigger.
    let tenant = app.tenant("rewritten").await;
    let schema = tenant.schema();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {schema}.transfers DISABLE TRIGGER transfers_append_only;
         UPDATE {schema}.transfers SET amount = amount + 1
          WHERE id = (SELECT transfer_id FROM {schema}.merkle_leaves WHERE leaf_index = 1);
         ALTER TABLE {schema}.transfers ENABLE TRIGGER transfers_append_only;"
    )))
    .execute(&app.pool)
    .await
    .unwrap();
    let after = transparency::check(&src, None, Some(seen), &[])
        .await
        .unwrap();
    let bad = after.first_bad.expect("caught");
    assert_eq!(bad.tree_size, 4, "{bad:?}");
    let audit = app.core.audit_tree(&tenant).await.unwrap();
    assert_eq!(audit.first_mismatch.map(|m| m.tree_size), Some(4));
}

/// The stored nodes of an org's tree, in order.
pub async fn tree_nodes(app: &TestApp, slug: &str) -> Vec<(i16, i64, Vec<u8>)> {
    let mut tx = app.org_tx(slug).await;
    sqlx::query_as("SELECT level, idx, hash FROM merkle_nodes ORDER BY level, idx")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

/// The root of the first `size` leaves, from stored nodes alone.
pub fn root_of(nodes: &[(i16, i64, Vec<u8>)], size: u64) -> [u8; 32] {
    let map: std::collections::HashMap<(u32, u64), [u8; 32]> = nodes
        .iter()
        .map(|(l, x, h)| ((*l as u32, *x as u64), h.as_slice().try_into().unwrap()))
        .collect();
    merkle::root(&map, size)
}

/// An org sealed by the hash chain alone, before the Merkle log existed: migrating builds, in
/// Rust with the seal's own code, exactly the tree sealing builds, and the next seal signs a head
/// over it that the member's check and the operator's audit accept.
#[tokio::test]
async fn migrating_an_org_sealed_before_the_tree_builds_the_tree_the_seals_build() {
    let app = TestApp::new().await;
    let (org, ana, _bo, _cleo) = community(&app, "backfill").await;
    for _ in 0..9 {
        app.issue(&org, ana.1, "0.10").await;
    }
    seal(&app, "backfill").await;
    let sealed = tree_nodes(&app, "backfill").await;
    assert_eq!(sealed.iter().filter(|n| n.0 == 0).count(), 13);
    let head = app.core.tree_heads(&owner(&app, &org).await).await.unwrap();
    assert_eq!(head.len(), 1);

    let tenant = app.tenant("backfill").await;
    coinsence_api::testing::sealed_before_the_merkle_log(&app.pool, &tenant)
        .await
        .unwrap();
    let applied = coinsence_api::migrate::migrate_tenant(&app.pool, &tenant.schema())
        .await
        .unwrap();
    assert_eq!(applied.newly_applied, 2);
    let built = tree_nodes(&app, "backfill").await;
    assert_eq!(built, sealed);
    assert_eq!(root_of(&built, 13), head[0].root.0);
    // The SQL leaf hash is gone: one leaf hash, the Rust one.
    let (functions,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_proc WHERE proname IN ('merkle_backfill', 'journal_leaf_hash')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(functions, 0);
    // Again: nothing to do, nothing changes.
    let again = coinsence_api::migrate::migrate_tenant(&app.pool, &tenant.schema())
        .await
        .unwrap();
    assert_eq!(again.newly_applied, 0);
    assert_eq!(tree_nodes(&app, "backfill").await, sealed);

    // The next seal signs its first head over the old entries and the new one.
    app.issue(&org, ana.1, "0.10").await;
    seal(&app, "backfill").await;
    let member = app
        .core
        .member_for_token(
            &coinsence_api::domain::identity::ApiToken::from_presented(&ana.0),
            "backfill",
        )
        .await
        .unwrap();
    let report = transparency::check(
        &CoreSource {
            core: &app.core,
            member: &member,
        },
        None,
        None,
        &[],
    )
    .await
    .unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!((report.heads, report.entries_included), (1, 14));
    let audit = app.core.audit_tree(&tenant).await.unwrap();
    assert!(audit.ok, "{audit:?}");
    assert_eq!(audit.leaves, 14);
}

async fn owner(app: &TestApp, org: &Org) -> coinsence_api::domain::orgs::Member {
    app.core
        .member_for_token(
            &coinsence_api::domain::identity::ApiToken::from_presented(&org.owner_token),
            &org.slug,
        )
        .await
        .unwrap()
}

/// Proofs over the routes `coinsence audit verify --url` fetches, as a member with their token
/// (the command's HTTP client, with the test's in-process server instead of a socket).
struct RouteSource<'a> {
    app: &'a TestApp,
    slug: &'a str,
    token: &'a str,
}

impl RouteSource<'_> {
    async fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let r = self
            .app
            .get(&format!("/v1/orgs/{}{path}", self.slug), self.token)
            .await;
        anyhow::ensure!(r.status == StatusCode::OK, "{path}: {:?}", r.body);
        Ok(serde_json::from_value(r.body)?)
    }
}

impl transparency::ProofSource for RouteSource<'_> {
    async fn key(&self) -> anyhow::Result<tree_heads::OrgKey> {
        self.json("/ledger/key").await
    }
    async fn heads(&self) -> anyhow::Result<Vec<TreeHead>> {
        self.json("/ledger/tree-heads").await
    }
    async fn own_entries(&self) -> anyhow::Result<Vec<i64>> {
        let page: Value = self.json("/transfers?limit=200").await?;
        let mut ids: Vec<i64> = page["transfers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["id"].as_i64())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }
    async fn inclusion(
        &self,
        transfer: i64,
        tree_size: i64,
    ) -> anyhow::Result<Option<tree_heads::InclusionProof>> {
        let path = format!(
            "/v1/orgs/{}/ledger/proofs/inclusion?transfer={transfer}&tree_size={tree_size}",
            self.slug
        );
        let r = self.app.get(&path, self.token).await;
        if r.status == StatusCode::CONFLICT {
            return Ok(None);
        }
        anyhow::ensure!(r.status == StatusCode::OK, "{path}: {:?}", r.body);
        Ok(Some(serde_json::from_value(r.body)?))
    }
    async fn consistency(
        &self,
        first: i64,
        second: i64,
    ) -> anyhow::Result<tree_heads::ConsistencyProof> {
        self.json(&format!(
            "/ledger/proofs/consistency?first={first}&second={second}"
        ))
        .await
    }
}

/// An org exported and imported into another instance keeps its Merkle log, its signed heads
/// and its key: the member's check on the new host, with the key they pinned and the last head
/// they saw on the old one, passes, and so does the operator's audit there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_export_and_import_the_members_check_passes_on_the_new_host() {
    use coinsence_api::domain::archive::{export_org, import_org};
    use coinsence_api::domain::tenancy::OrgSlug;

    let app = TestApp::new().await;
    let (org, ana, _bo, _cleo) = community(&app, "moving").await;
    seal(&app, "moving").await;
    app.issue(&org, ana.1, "1.00").await;
    seal(&app, "moving").await;
    let old = RouteSource {
        app: &app,
        slug: "moving",
        token: &ana.0,
    };
    let here = transparency::check(&old, None, None, &[]).await.unwrap();
    assert!(here.ok(), "{here:?}");
    let (pinned, seen) = (here.public_key.clone(), here.latest.unwrap());

    let file = std::env::temp_dir().join(format!(
        "coinsence-moving-{}.jsonl",
        crate::helpers::rand_key()
    ));
    export_org(&app.pool, &OrgSlug::parse("moving").unwrap(), &file)
        .await
        .unwrap();
    let (pool, _) = coinsence_api::testing::test_database().await.unwrap();
    let there = TestApp::with_pool(pool);
    // Ana has a login on the new host (credentials do not travel); the import matches her.
    let (ana_there, _) = there.user("ana.moving").await;
    import_org(&there.pool, &file, None).await.unwrap();
    let _ = std::fs::remove_file(&file);

    let new = RouteSource {
        app: &there,
        slug: "moving",
        token: &ana_there,
    };
    let moved = transparency::check(&new, Some(&pinned), Some(seen), &[])
        .await
        .unwrap();
    assert!(moved.ok(), "{moved:?}");
    assert!(!moved.key_changed);
    assert_eq!(
        (moved.heads, moved.signatures, moved.entries_included),
        (here.heads, here.heads, here.entries_included)
    );
    assert_eq!(moved.latest, here.latest);

    // The operator's audit on the new host checks the same tree with the same key.
    let org_there = there.tenant("moving").await;
    let audit = there.core.audit_tree(&org_there).await.unwrap();
    assert!(audit.ok, "{audit:?}");
}
