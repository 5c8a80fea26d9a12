//! An org leaves with its data: export to one archive, import into another database, and it is
//! the same org there (balances, journal, seals, governance, market, feed), its people matched;
//! a changed or newer archive and a second import are refused, writing nothing.

use std::path::{Path, PathBuf};

use axum::http::{Method, StatusCode};
use coinsence_api::Core;
use coinsence_api::domain::archive::{export_org, import_org};
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_api::domain::tenancy::OrgSlug;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::{Org, TestApp, rand_key};

fn slug(s: &str) -> OrgSlug {
    OrgSlug::parse(s).unwrap()
}

fn archive_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("coinsence-{name}-{}.jsonl", rand_key()))
}

/// Another, empty instance: a fresh database with the control plane migrated.
async fn other_instance() -> PgPool {
    let (pool, _) = coinsence_api::testing::test_database().await.unwrap();
    pool
}

/// Rows of a query in an org's schema, each as text, in order.
async fn rows(pool: &PgPool, org: &str, select: &str) -> Vec<String> {
    let schema: String =
        sqlx::query_scalar("SELECT 'org_' || id FROM control.tenants WHERE slug = $1")
            .bind(org)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("{org}: {e}"));
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(&schema)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(select.to_owned()))
        .fetch_all(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{select}: {e}"))
}

/// What must be the same in both instances, with people named by email (their ids may differ).
async fn state(pool: &PgPool, org: &str) -> Vec<(&'static str, Vec<String>)> {
    let queries: [(&'static str, &str); 12] = [
        ("balances", "SELECT concat_ws(' ', c.code, a.kind, u.email, a.balance, a.floor, a.closed_at) FROM accounts a
                      JOIN currencies c ON c.id = a.currency_id LEFT JOIN control.users u ON u.id = a.owner_user_id
                      ORDER BY a.id"),
        ("journal", "SELECT to_jsonb(t)::text FROM transfers t ORDER BY id"),
        ("seals", "SELECT to_jsonb(s)::text FROM journal_seals s ORDER BY seq"),
        ("members", "SELECT concat_ws(' ', u.email, m.display_name, r.role, m.removed_at) FROM members m
                     JOIN control.users u ON u.id = m.user_id
                     LEFT JOIN control.memberships r ON r.user_id = m.user_id
                          AND r.tenant_id = substring(current_schema() FROM 5)::bigint
                     ORDER BY u.email"),
        ("proposals", "SELECT concat_ws(' ', p.id, p.kind, p.status, u.email, p.action->>'kind', p.action->>'amount_minor')
                       FROM proposals p JOIN control.users u ON u.id = p.author_user_id ORDER BY p.id"),
        ("votes", "SELECT concat_ws(' ', v.proposal_id, u.email, v.choice) FROM votes v
                   JOIN control.users u ON u.id = v.user_id ORDER BY 1"),
        ("pledges", "SELECT concat_ws(' ', p.id, u.email, p.amount, p.status, p.issued, p.redeemed) FROM pledges p
                     JOIN control.users u ON u.id = p.user_id ORDER BY p.id"),
        ("projects", "SELECT concat_ws(' ', id, title, raised, status) FROM projects ORDER BY id"),
        ("investments", "SELECT concat_ws(' ', i.id, u.email, i.amount, i.shares) FROM investments i
                         LEFT JOIN control.users u ON u.id = i.investor_user_id ORDER BY i.id"),
        ("market", "SELECT concat_ws(' ', l.id, l.title, l.status, u.email, p.price, p.redeemed) FROM listings l
                    LEFT JOIN purchases p ON p.listing_id = l.id LEFT JOIN control.users u ON u.id = p.buyer_user_id
                    ORDER BY l.id, p.id"),
        ("feed", "SELECT concat_ws(' ', p.id, u.email, p.body, c.body) FROM posts p JOIN control.users u ON u.id = p.author_user_id
                  LEFT JOIN comments c ON c.post_id = p.id ORDER BY p.id, c.id"),
        ("rules", "SELECT concat_ws(' ', method, quorum_bp, voting_period_secs) FROM rules"),
    ];
    let mut out = Vec::new();
    for (name, q) in queries {
        out.push((name, rows(pool, org, q).await));
    }
    out
}

async fn seal(app: &TestApp, org: &str) {
    let tenant = app.tenant(org).await;
    app.core
        .seal_journal(&tenant, chrono::Utc::now())
        .await
        .unwrap();
}

/// An org with a passed pledge, a market purchase that redeems it, a project with an
/// investment, a post with a comment, payments, a bound room and two seals (and an entry after
/// the last one).
async fn busy_org(app: &TestApp, s: &str) -> (Org, String, i64) {
    let org = app.org(s).await;
    let rules = json!({"method": "majority", "quorum_bp": 5000, "voting_period_secs": 3600, "proposers": "members"});
    let r = app
        .put(&format!("/v1/orgs/{s}/rules"), &org.owner_token, rules)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (ana, ana_id) = app.member(&org, "ana").await;
    let (bo, bo_id) = app.member(&org, "bo").await;

    let pledged = app
        .post(
            &format!("/v1/orgs/{s}/pledges"),
            &ana,
            json!({"currency": "COIN", "amount": "10.50", "description": "bike repair"}),
        )
        .await;
    assert_eq!(pledged.status, StatusCode::CREATED, "{:?}", pledged.body);
    let pledge = pledged.body["id"].as_i64().unwrap_or_default();
    let proposal = pledged.body["proposal_id"].as_i64().unwrap_or_default();
    app.vote(s, &ana, proposal, "yes").await;
    let passed = app.vote(s, &bo, proposal, "yes").await;
    assert_eq!(passed.body["status"], "passed", "{:?}", passed.body);

    let offer = app
        .post(&format!("/v1/orgs/{s}/listings"), &ana,
              json!({"kind": "offer", "title": "Bike repair", "price": "8", "currency": "COIN", "pledge_id": pledge}))
        .await;
    assert_eq!(offer.status, StatusCode::CREATED, "{:?}", offer.body);
    let listing = offer.body["id"].as_i64().unwrap_or_default();
    assert_eq!(
        app.issue(&org, bo_id, "20").await.status,
        StatusCode::CREATED
    );
    seal(app, s).await;
    let bought = app
        .call(
            Method::POST,
            &format!("/v1/orgs/{s}/listings/{listing}/purchases"),
            Some(&bo),
            None,
            Some("buy-1"),
        )
        .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{:?}", bought.body);

    let project = app
        .post(
            &format!("/v1/orgs/{s}/projects"),
            &org.owner_token,
            json!({"title": "Shed", "currency": "COIN", "goal": "100",
                     "deadline": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
                     "share_code": "SHED", "rate": "1"}),
        )
        .await;
    assert_eq!(project.status, StatusCode::CREATED, "{:?}", project.body);
    let project = project.body["id"].as_i64().unwrap_or_default();
    let invested = app
        .call(
            Method::POST,
            &format!("/v1/orgs/{s}/projects/{project}/investments"),
            Some(&ana),
            Some(json!({"amount": "2"})),
            Some("invest-1"),
        )
        .await;
    assert_eq!(invested.status, StatusCode::CREATED, "{:?}", invested.body);

    let post = app
        .post(
            &format!("/v1/orgs/{s}/posts"),
            &ana,
            json!({"body": "Repair café on Saturday"}),
        )
        .await;
    assert_eq!(post.status, StatusCode::CREATED, "{:?}", post.body);
    let post = post.body["id"].as_i64().unwrap_or_default();
    let comment = app
        .post(
            &format!("/v1/orgs/{s}/posts/{post}/comments"),
            &org.owner_token,
            json!({"body": "see you"}),
        )
        .await;
    assert_eq!(comment.status, StatusCode::CREATED, "{:?}", comment.body);

    assert_eq!(
        app.pay(&org, &bo, ana_id, "1.25", "lunch-1").await.status,
        StatusCode::CREATED
    );
    let code = app.core.create_connect_code_for(&slug(s)).await.unwrap();
    app.core
        .connect_room(
            ChatPlatform::Matrix,
            &format!("!{s}:example.org"),
            &code.code,
            None,
        )
        .await
        .unwrap();
    seal(app, s).await;
    assert_eq!(
        app.pay(&org, &ana, bo_id, "0.50", "after-seal")
            .await
            .status,
        StatusCode::CREATED
    );
    (org, bo, bo_id)
}

async fn verified(core: &Core, org: &str) {
    let tenant = core.tenant(org).await.unwrap();
    let audit = core.audit_seals(&tenant).await.unwrap();
    assert!(
        audit.ok && audit.seals == 2 && audit.unsealed_entries == 1,
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_org_is_the_same_org_in_another_instance_with_its_people_matched() {
    let app = TestApp::new().await;
    busy_org(&app, "bikes").await;
    let file = archive_path("bikes");
    let done = export_org(&app.pool, &slug("bikes"), &file).await.unwrap();
    assert!(
        done.parts
            .iter()
            .any(|p| p.name == "org.transfers" && p.rows >= 6),
        "{:?}",
        done.parts
    );

    // The other instance already knows Bo (same email) and someone else, who holds the ids
    // the archive's people had: they are matched or get new ids, and every reference follows.
    let there = other_instance().await;
    let core = Core::new(there.clone());
    let stranger = core
        .signup(
            "stranger@example.org",
            "correct horse".to_owned(),
            "Stranger",
            None,
        )
        .await
        .unwrap();
    let bo_there = core
        .signup(
            "bo.bikes@example.org",
            "another horse".to_owned(),
            "Bo elsewhere",
            None,
        )
        .await
        .unwrap();
    let imported = import_org(&there, &file, None).await.unwrap();
    assert_eq!(
        (imported.users_matched, imported.users_created),
        (1, 2),
        "{imported:?}"
    );

    assert_eq!(
        state(&there, "bikes").await,
        state(&app.pool, "bikes").await
    );
    verified(&core, "bikes").await;
    let bo = core
        .member_for_token(&bo_there.token, "bikes")
        .await
        .expect("Bo's login here is Bo in the imported org");
    assert_eq!(bo.user.id, bo_there.user.id);
    let checks = core.verify_ledger(&bo).await.unwrap();
    assert!(
        checks.iter().all(|c| c.ok) && !checks.is_empty(),
        "{checks:?}"
    );
    let emails: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM control.users WHERE email = 'bo.bikes@example.org'",
    )
    .fetch_one(&there)
    .await
    .unwrap();
    assert_eq!(emails, 1, "a person already here is not duplicated");
    assert!(
        core.member_for_token(&stranger.token, "bikes")
            .await
            .is_err(),
        "the person who holds an archive id here is not made a member"
    );
    let room: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM control.chat_rooms r JOIN control.tenants t ON t.id = r.tenant_id
         WHERE t.slug = 'bikes' AND r.room_id = '!bikes:example.org'",
    )
    .fetch_one(&there)
    .await
    .unwrap();
    assert_eq!(room, 1, "the room binding came along");
    let no_secrets: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM control.users WHERE password_hash IS NULL AND email LIKE '%bikes%'",
    )
    .fetch_one(&there)
    .await
    .unwrap();
    assert_eq!(no_secrets, 2, "credentials are not exported");
    let _ = std::fs::remove_file(file);
}

/// Rewrites one part's rows in an archive; with `fix_checksum` the manifest is updated to match.
fn tamper(file: &Path, part: &str, fix_checksum: bool, change: impl Fn(&mut Value)) -> PathBuf {
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let header = format!("{{\"part\":\"{part}\"}}");
    let start = lines
        .iter()
        .position(|l| *l == header)
        .unwrap_or_else(|| panic!("no {part}"))
        + 1;
    let mut row: Value = serde_json::from_str(&lines[start]).unwrap();
    change(&mut row);
    lines[start] = row.to_string();
    if fix_checksum {
        let mut hash = Sha256::new();
        for l in lines[start..]
            .iter()
            .take_while(|l| !l.starts_with("{\"part\":"))
        {
            hash.update(l.as_bytes());
            hash.update(b"\n");
        }
        let mut manifest: Value = serde_json::from_str(&lines[0]).unwrap();
        for p in manifest["parts"].as_array_mut().into_iter().flatten() {
            if p["name"] == part {
                p["sha256"] = json!(hex::encode(hash.clone().finalize()));
            }
        }
        lines[0] = manifest.to_string();
    }
    let out = archive_path("tampered");
    std::fs::write(&out, lines.join("\n") + "\n").unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_newer_or_repeated_archive_is_refused_and_writes_nothing() {
    let app = TestApp::new().await;
    busy_org(&app, "tea").await;
    let file = archive_path("tea");
    export_org(&app.pool, &slug("tea"), &file).await.unwrap();
    let there = other_instance().await;
    let orgs_there = async || -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM control.tenants")
            .fetch_one(&there)
            .await
            .unwrap()
    };
    let refused = async |file: &Path, new_slug: Option<&str>| -> String {
        let before = orgs_there().await;
        let e = import_org(&there, file, new_slug.map(slug))
            .await
            .err()
            .unwrap_or_else(|| panic!("{} was imported", file.display()));
        assert_eq!(orgs_there().await, before, "a refusal writes nothing");
        e.to_string()
    };

    // A journal entry rewritten, its part's checksum left alone: the checksum names the part.
    let memo = |row: &mut Value| row["memo"] = json!("a different story");
    let changed = tamper(&file, "org.transfers", false, memo);
    let said = refused(&changed, None).await;
    assert!(
        said.contains("part org.transfers does not match its checksum"),
        "{said}"
    );
    // ... and with the checksum made to match: the seals name where the journal differs.
    let forged = tamper(&file, "org.transfers", true, memo);
    let said = refused(&forged, None).await;
    assert!(said.contains("does not match its seals: seal 1"), "{said}");
    // A broken checksum in the manifest.
    let broken = tamper(&file, "control.users", true, |_| {});
    let text = std::fs::read_to_string(&broken).unwrap();
    let mut manifest: Value =
        serde_json::from_str(text.lines().next().unwrap_or_default()).unwrap_or_default();
    manifest["parts"][1]["sha256"] = json!("00".repeat(32));
    let rest: Vec<&str> = text.lines().skip(1).collect();
    std::fs::write(&broken, format!("{manifest}\n{}\n", rest.join("\n"))).unwrap();
    let said = refused(&broken, None).await;
    assert!(
        said.contains("part control.users does not match its checksum"),
        "{said}"
    );
    // An archive from a newer Coinsence.
    let newer = archive_path("newer");
    std::fs::write(&newer, text.replacen("\"tenant\":", "\"tenant\":9", 1)).unwrap();
    let said = refused(&newer, None).await;
    assert!(said.contains("newer Coinsence"), "{said}");

    // The real one loads; the same one again is refused, unless as a copy under a new slug.
    import_org(&there, &file, None).await.unwrap();
    let said = refused(&file, None).await;
    assert!(said.contains("exists here already"), "{said}");
    let copy = import_org(&there, &file, Some(slug("tea-copy")))
        .await
        .unwrap();
    assert_eq!(
        copy.users_created, 0,
        "the copy's people are the first import's"
    );
    assert_eq!(
        copy.rooms_skipped, 1,
        "a room stays bound to the org it speaks for"
    );
    let core = Core::new(there.clone());
    verified(&core, "tea-copy").await;
    let journal = "SELECT to_jsonb(t)::text FROM transfers t ORDER BY id";
    assert_eq!(
        rows(&there, "tea-copy", journal).await,
        rows(&app.pool, "tea", journal).await
    );
    // The first import, renamed, is still that org: a copy of it is refused without a new slug.
    sqlx::query("UPDATE control.tenants SET slug = 'tea-moved' WHERE slug = 'tea'")
        .execute(&there)
        .await
        .unwrap();
    let said = refused(&file, None).await;
    assert!(
        said.contains("imported here already (as tea-moved)"),
        "{said}"
    );
    for f in [file, changed, forged, broken, newer] {
        let _ = std::fs::remove_file(f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_export_while_payments_run_is_one_consistent_moment() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let org = app.org("busy").await;
    let mut people = Vec::new();
    for name in ["ana", "bo", "cy", "di"] {
        let (token, id) = app.member(&org, name).await;
        app.issue(&org, id, "1000").await;
        people.push((token, id));
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut payers = Vec::new();
    for i in 0..people.len() {
        let (app, stop, people) = (app.clone(), stop.clone(), people.clone());
        let org = Org {
            slug: org.slug.clone(),
            owner_token: org.owner_token.clone(),
            owner_id: org.owner_id,
        };
        payers.push(tokio::spawn(async move {
            let mut paid = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (token, _) = &people[i];
                let (_, to) = &people[(i + 1 + paid % 3) % people.len()];
                let r = app.pay(&org, token, *to, "0.01", &rand_key()).await;
                assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
                paid += 1;
            }
            paid
        }));
    }
    let there = other_instance().await;
    let core = Core::new(there.clone());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for n in 0..4 {
        if n == 2 {
            seal(&app, "busy").await;
        }
        let file = archive_path("busy");
        export_org(&app.pool, &slug("busy"), &file).await.unwrap();
        // The import checks that balances replay from the journal and the seals hold; a torn
        // export (balances of one moment, journal of another) would fail that.
        let copy = format!("busy-{n}");
        import_org(&there, &file, Some(slug(&copy))).await.unwrap();
        let tenant = core.tenant(&copy).await.unwrap();
        assert!(
            core.audit_seals(&tenant)
                .await
                .map(|a| a.ok)
                .unwrap_or(false)
        );
        let _ = std::fs::remove_file(file);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut paid = 0;
    for p in payers {
        paid += p.await.unwrap();
    }
    assert!(paid > 20, "payments ran during the exports ({paid})");
}
