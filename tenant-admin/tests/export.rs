//! The export button: an org's admin downloads the org's archive (the file `coinsence org
//! export` writes), and it imports as an org with the same balances and journal; a member and
//! another org's admin get no archive.
// Test helpers outside `#[test]` functions expect too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use coinsence_api::domain::archive::import_org;
use coinsence_api::domain::tenancy::OrgSlug;
use support::org::{invite_and_join, seed_and_pay};
use support::{sign_up, site};

#[tokio::test]
async fn an_admin_downloads_the_archive_and_it_imports_with_the_same_balances() {
    let site = site().await;
    let mut admin = sign_up(&site, "cellar", "admin@cellar.test").await;
    let mut member = invite_and_join(&site, &mut admin, "cellar", "mia@cellar.test").await;
    seed_and_pay(
        &site,
        "cellar",
        "COIN",
        "admin@cellar.test",
        "80.00",
        &[
            ("mia@cellar.test", "12.34", "bottles"),
            ("mia@cellar.test", "0.66", "corks"),
        ],
    )
    .await;

    // The button is on the admin's dashboard, and not on the member's.
    let dash = admin.get("/orgs/cellar").await;
    assert!(
        dash.body.contains(r#"action="/orgs/cellar/export""#),
        "{}",
        dash.body
    );
    assert!(
        !member
            .get("/orgs/cellar")
            .await
            .body
            .contains("/orgs/cellar/export")
    );

    let download = admin.post("/orgs/cellar/export", &[]).await;
    assert_eq!(download.status, 200, "{}", download.body);
    let disposition = download.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"coinsence-cellar-")
            && disposition.ends_with(".jsonl\""),
        "{disposition}"
    );
    assert_eq!(download.headers["cache-control"], "no-store");
    assert!(
        download
            .body
            .starts_with(r#"{"format":"coinsence-org-archive""#),
        "{}",
        &download.body[..download.body.len().min(200)]
    );

    // Imported as a copy here: the admin is matched by email, and sees the same money.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &download.body).unwrap();
    let copy = OrgSlug::parse("cellar-copy").unwrap();
    import_org(&site.core.pool, file.path(), Some(copy))
        .await
        .expect("the downloaded archive imports");
    for (csv, moved) in [
        ("balances.csv?lang=en", "13.00"),
        ("journal.csv?lang=en", "12.34"),
    ] {
        let here = admin.get(&format!("/orgs/cellar/ledger/{csv}")).await;
        let there = admin.get(&format!("/orgs/cellar-copy/ledger/{csv}")).await;
        assert_eq!(there.status, 200, "{}", there.body);
        assert!(here.body.contains(moved), "{}", here.body);
        assert_eq!(here.body, there.body, "{csv}");
    }
    let tenant = site.core.tenant("cellar-copy").await.unwrap();
    assert!(site.core.audit_seals(&tenant).await.unwrap().ok);
}

#[tokio::test]
async fn a_member_and_another_orgs_admin_get_no_archive() {
    let site = site().await;
    let mut admin = sign_up(&site, "vault", "admin@vault.test").await;
    let mut member = invite_and_join(&site, &mut admin, "vault", "max@vault.test").await;
    let mut stranger = sign_up(&site, "elsewhere", "admin@elsewhere.test").await;

    member.get("/orgs/vault").await;
    let page = member.post("/orgs/vault/export", &[]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(!page.body.contains("coinsence-org-archive"));

    stranger.get("/orgs/elsewhere").await;
    let page = stranger.post("/orgs/vault/export", &[]).await;
    assert!(page.status == 403 || page.status == 404, "{}", page.status);
    assert!(!page.body.contains("coinsence-org-archive"));

    // Not a link to follow from elsewhere either: a GET is not routed to the download.
    let page = admin.get("/orgs/vault/export").await;
    assert!(!page.body.contains("coinsence-org-archive"));
}
