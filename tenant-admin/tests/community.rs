//! The community's own pages: its decision rules (set at once while the org is young, proposed
//! after that), and the pledge totals on the overview.
// Test helpers outside `#[test]` functions expect too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::org::{api_login, api_post, invite_and_join, seed_and_pay};
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
    // And drawn: pledged against issued, redeemed and outstanding.
    assert!(
        dash.body
            .contains("Pledged work: issued versus redeemed (COIN)")
            && dash.body.contains("<title>Pledged: 14.75</title>")
            && dash.body.contains("<title>Redeemed: 0.00</title>"),
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

#[tokio::test]
async fn the_journal_filters_by_kind_and_days_on_the_page_and_in_the_csv() {
    let site = site().await;
    let mut admin = sign_up(&site, "mill", "admin@mill.test").await;
    invite_and_join(&site, &mut admin, "mill", "flo@mill.test").await;
    seed_and_pay(
        &site,
        "mill",
        "COIN",
        "admin@mill.test",
        "40.00",
        &[("flo@mill.test", "4.20", "flour sacks")],
    )
    .await;
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let tomorrow = day(today.succ_opt().unwrap());
    let yesterday = day(today.pred_opt().unwrap());
    let today = day(today);
    let journal = |page: &str| {
        // Only the journal's part of the page (the balances above name no memo).
        page.split(r#"id="journal""#)
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    };
    for (query, seed, flour) in [
        (String::new(), true, true),
        ("kind=issuance".to_owned(), true, false),
        ("kind=payment".to_owned(), false, true),
        (format!("from={today}&until={today}"), true, true),
        (format!("from={tomorrow}"), false, false),
        (format!("until={yesterday}"), false, false),
        (
            format!("kind=payment&from={yesterday}&until={today}"),
            false,
            true,
        ),
    ] {
        let page = admin.get(&format!("/orgs/mill/ledger?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        let shown = journal(&page.body);
        assert_eq!(shown.contains(">seed<"), seed, "{query}: {shown}");
        assert_eq!(shown.contains("flour sacks"), flour, "{query}: {shown}");
        let csv = admin
            .get(&format!("/orgs/mill/ledger/journal.csv?lang=en&{query}"))
            .await;
        assert_eq!(
            csv.body.contains(",seed\r\n"),
            seed,
            "{query}: {}",
            csv.body
        );
        assert_eq!(
            csv.body.contains("flour sacks"),
            flour,
            "{query}: {}",
            csv.body
        );
    }
    // The overview draws the circulation: 40.00 COIN issued today.
    let dash = admin.get("/orgs/mill").await;
    assert!(
        dash.body.contains("Money in circulation over time (COIN)")
            && dash.body.contains(": 40.00</title>"),
        "{}",
        dash.body
    );
    // The page's links keep the filter.
    let page = admin.get("/orgs/mill/ledger?kind=payment").await;
    assert!(
        page.body
            .contains("/orgs/mill/ledger/journal.csv?kind=payment"),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"<option value="payment" selected>"#));
}

#[tokio::test]
async fn pledges_open_their_vote_and_a_members_page_shows_their_part() {
    let site = site().await;
    let mut admin = sign_up(&site, "farm", "admin@farm.test").await;
    let mut ivy = invite_and_join(&site, &mut admin, "farm", "ivy@farm.test").await;
    seed_and_pay(
        &site,
        "farm",
        "COIN",
        "admin@farm.test",
        "30.00",
        &[("ivy@farm.test", "5.50", "eggs")],
    )
    .await;

    // A pledge with a mistake, then a good one: it opens the vote on it.
    let page = ivy.get("/orgs/farm/pledges").await;
    assert!(page.body.contains("No pledges yet."), "{}", page.body);
    let bad = ivy
        .post(
            "/orgs/farm/pledges",
            &[
                ("currency", "COIN"),
                ("amount", "ten"),
                ("description", "weeding"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains(
            r#"name="amount" value="ten" inputmode="decimal" required aria-invalid="true""#
        ),
        "{}",
        bad.body
    );
    let pledged = ivy
        .post(
            "/orgs/farm/pledges",
            &[
                ("currency", "COIN"),
                ("amount", "12.00"),
                ("description", "weeding the beds"),
            ],
        )
        .await;
    assert_eq!(pledged.status, 303, "{}", pledged.body);
    let vote = ivy.get(&pledged.location).await;
    assert_eq!(vote.status, 200, "{}", vote.body);
    ivy.post(&format!("{}/vote", pledged.location), &[("choice", "yes")])
        .await;
    let list = admin.get("/orgs/farm/pledges").await;
    assert!(
        list.body.contains("weeding the beds") && list.body.contains("12.00 COIN"),
        "{}",
        list.body
    );

    // Projects, market and feed list what members made (here through the API).
    let ivy_api = api_login(&site, "ivy@farm.test").await;
    let deadline = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    for (path, body) in [
        (
            "projects",
            json!({"title": "A greenhouse", "description": "glass", "currency": "COIN", "goal": "20",
                   "deadline": deadline, "share_code": "GREEN", "rate": "1"}),
        ),
        (
            "listings",
            json!({"kind": "offer", "title": "Fresh basil", "price": "1.50", "currency": "COIN"}),
        ),
        ("posts", json!({"body": "Harvest on Sunday!"})),
    ] {
        let (status, text) = api_post(&site, &ivy_api, "farm", path, path, body).await;
        assert_eq!(status, 201, "{path}: {text}");
    }
    for (page, shown) in [
        (
            "projects",
            ["A greenhouse", "0.00 / 20.00 COIN", "raising money"],
        ),
        ("market", ["Fresh basil", "1.50 COIN", "open"]),
        ("feed", ["Harvest on Sunday!", "Admin", "0 comments"]),
    ] {
        let body = admin.get(&format!("/orgs/farm/{page}")).await.body;
        for s in shown {
            assert!(body.contains(s), "{page}: {s}: {body}");
        }
    }

    // Ivy's page: her balance, her history, her pledge, her vote, her project.
    let mine = ivy.get("/orgs/farm/mine").await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    for shown in ["5.50", "eggs", "weeding the beds", "Yes", "A greenhouse"] {
        assert!(mine.body.contains(shown), "{shown}: {}", mine.body);
    }
    // The admin's own page holds the admin's history only: the seed, not Ivy's pledge.
    let theirs = admin.get("/orgs/farm/mine").await;
    assert!(theirs.body.contains(">seed<") && !theirs.body.contains("weeding"));
    assert!(theirs.body.contains("You have not voted yet."));
}

#[tokio::test]
async fn an_issuance_policy_shows_what_its_next_period_pays_and_changes_nothing() {
    let site = site().await;
    let mut admin = sign_up(&site, "dairy", "admin@dairy.test").await;
    invite_and_join(&site, &mut admin, "dairy", "uma@dairy.test").await;
    admin.get("/orgs/dairy/issuance").await;
    let set = admin
        .post(
            "/orgs/dairy/issuance",
            &[
                ("currency", "COIN"),
                ("period", "monthly"),
                ("fixed_amount", "5.00"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let before = admin
        .get("/orgs/dairy/ledger/balances.csv?lang=en")
        .await
        .body;
    let page = admin.get("/orgs/dairy/issuance").await;
    assert!(
        page.body
            .contains("10.00 to 2 members; holding fees 0.00 from 0 members."),
        "{}",
        page.body
    );
    // A preview pays nobody.
    assert_eq!(
        admin
            .get("/orgs/dairy/ledger/balances.csv?lang=en")
            .await
            .body,
        before
    );
    admin.get("/me").await;
    admin.post("/me/language", &[("language", "de")]).await;
    let page = admin.get("/orgs/dairy/issuance").await;
    assert!(page.body.contains("10,00 an 2 Mitglieder"), "{}", page.body);
}

#[tokio::test]
async fn a_moderator_hides_a_post_from_the_feed_everywhere() {
    let site = site().await;
    let mut admin = sign_up(&site, "pub", "admin@pub.test").await;
    let mut kim = invite_and_join(&site, &mut admin, "pub", "kim@pub.test").await;
    let kim_api = api_login(&site, "kim@pub.test").await;
    let mut ids = Vec::new();
    for (key, body) in [("a", "Quiz night on Friday"), ("b", "Buy cheap watches!!!")] {
        let (status, text) =
            api_post(&site, &kim_api, "pub", "posts", key, json!({"body": body})).await;
        assert_eq!(status, 201, "{text}");
        let post: serde_json::Value = serde_json::from_str(&text).unwrap();
        ids.push(post["id"].as_i64().unwrap());
    }
    let spam = ids[1];

    // A member has no hide button, and cannot hide.
    let feed = kim.get("/orgs/pub/feed").await;
    assert!(feed.body.contains("Buy cheap watches!!!"));
    assert!(!feed.body.contains("/hide"), "{}", feed.body);
    let tried = kim.post(&format!("/orgs/pub/feed/{spam}/hide"), &[]).await;
    assert_eq!(tried.status, 403, "{}", tried.body);

    // The admin hides it: gone from the feed for everyone, and closed to comments (the API
    // reads the same feed).
    let feed = admin.get("/orgs/pub/feed").await;
    assert!(feed.body.contains(&format!("/orgs/pub/feed/{spam}/hide")));
    let hidden = admin
        .post(&format!("/orgs/pub/feed/{spam}/hide"), &[])
        .await;
    assert_eq!(hidden.status, 303, "{}", hidden.body);
    for reader in [&mut admin, &mut kim] {
        let feed = reader.get("/orgs/pub/feed").await;
        assert!(feed.body.contains("Quiz night on Friday"), "{}", feed.body);
        assert!(!feed.body.contains("Buy cheap watches"), "{}", feed.body);
    }
    let (status, _) = api_post(
        &site,
        &kim_api,
        "pub",
        &format!("posts/{spam}/comments"),
        "c",
        json!({"body": "still here?"}),
    )
    .await;
    assert_eq!(status, 404);
    // Hiding again is no error; an unknown post is.
    admin.get("/orgs/pub/feed").await;
    let again = admin
        .post(&format!("/orgs/pub/feed/{spam}/hide"), &[])
        .await;
    assert_eq!(again.status, 303);
    let none = admin.post("/orgs/pub/feed/999999/hide", &[]).await;
    assert_eq!(none.status, 404, "{}", none.body);
}
