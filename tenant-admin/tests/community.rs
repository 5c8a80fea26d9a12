//! The community's own pages: its decision rules (set at once while the org is young, proposed
//! after that), and the pledge totals on the overview.
// Test helpers outside `#[test]` functions expect too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::org::{api_login, api_post, invite_and_join};
use support::{sign_up, site};

#[tokio::test]
async fn rules_change_at_once_in_a_young_org_and_by_proposal_after() {
    let site = site().await;
    let mut admin = sign_up(&site, "choir", "admin@choir.test").await;
    let page = admin.get("/orgs/choir/governance").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("majority") && page.body.contains("50 %"),
        "{}",
        page.body
    );

    // Bad input: the form again, the field marked, the rules as they were.
    let bad = admin
        .post(
            "/orgs/choir/governance",
            &[
                ("method", "majority"),
                ("quorum_bp", "20000"),
                ("threshold_bp", "6667"),
                ("voting_period_days", "7"),
                ("proposers", "members"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body
            .contains(r#"name="quorum_bp" value="20000" inputmode="numeric" aria-invalid="true""#),
        "{}",
        bad.body
    );
    let bad = admin
        .post(
            "/orgs/choir/governance",
            &[
                ("method", "majority"),
                ("quorum_bp", "5000"),
                ("threshold_bp", "6667"),
                ("voting_period_days", "a week"),
                ("proposers", "members"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains(
            r#"name="voting_period_days" value="a week" inputmode="numeric" aria-invalid="true""#
        ),
        "{}",
        bad.body
    );

    // One member: the change applies at once, with a rule of its own for removals.
    let set = admin
        .post(
            "/orgs/choir/governance",
            &[
                ("method", "supermajority"),
                ("quorum_bp", "6000"),
                ("threshold_bp", "7500"),
                ("voting_period_days", "3"),
                ("proposers", "members"),
                ("kind", "remove_member"),
                ("kind_method", "consensus"),
                ("kind_quorum_bp", "8000"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let page = admin.get("/orgs/choir/governance").await;
    for shown in [
        "supermajority",
        "60 %",
        "75 %",
        "3 days",
        "Remove a member",
        "consensus",
        "80 %",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }

    // Three members: the same form opens a proposal, and the rules stay until it passes.
    let mut ann = invite_and_join(&site, &mut admin, "choir", "ann@choir.test").await;
    invite_and_join(&site, &mut admin, "choir", "ben@choir.test").await;
    admin.get("/orgs/choir/governance").await;
    let proposed = admin
        .post(
            "/orgs/choir/governance",
            &[
                ("method", "consent"),
                ("quorum_bp", "4000"),
                ("threshold_bp", "7500"),
                ("voting_period_days", "3"),
                ("proposers", "members"),
            ],
        )
        .await;
    assert_eq!(proposed.status, 303, "{}", proposed.body);
    assert!(
        proposed.location.starts_with("/orgs/choir/proposals/"),
        "{}",
        proposed.location
    );
    let proposal = admin.get(&proposed.location).await;
    assert!(
        proposal.body.contains("Change the decision rules"),
        "{}",
        proposal.body
    );
    let page = ann.get("/orgs/choir/governance").await;
    assert!(page.body.contains("60 %") && !page.body.contains("40 %"));
    // A member reads the rules but has no form to change them.
    assert!(!page.body.contains(r#"action="/orgs/choir/governance""#));
}

#[tokio::test]
async fn the_overview_sums_pledges_per_currency_in_the_readers_language() {
    let site = site().await;
    let mut admin = sign_up(&site, "bakery", "admin@bakery.test").await;
    let empty = admin.get("/orgs/bakery").await;
    assert!(empty.body.contains("No pledges yet."), "{}", empty.body);
    let me = api_login(&site, "admin@bakery.test").await;
    for (key, amount) in [("bread", "12.50"), ("rolls", "2.25")] {
        let (status, body) = api_post(
            &site,
            &me,
            "bakery",
            "pledges",
            key,
            json!({"currency": "COIN", "amount": amount, "description": format!("bake {key}")}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let dash = admin.get("/orgs/bakery").await;
    assert!(dash.body.contains("Pledged work"), "{}", dash.body);
    assert!(
        dash.body.contains(r#"<td>COIN</td><td class="num">14.75</td><td class="num">0.00</td><td class="num">0.00</td><td class="num">0.00</td>"#),
        "{}",
        dash.body
    );
    admin.get("/me").await;
    admin.post("/me/language", &[("language", "de")]).await;
    let dash = admin.get("/orgs/bakery").await;
    assert!(
        dash.body.contains("Zugesagte Arbeit") && dash.body.contains(">14,75<"),
        "{}",
        dash.body
    );
    let rules = admin.get("/orgs/bakery/governance").await;
    assert!(
        rules.body.contains("Regeln ändern") && rules.body.contains("Mehrheit"),
        "{}",
        rules.body
    );
}
