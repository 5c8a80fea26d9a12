//! Rules, proposals, votes and what passed proposals do, through the HTTP API.

use axum::http::{Method, StatusCode};
use chrono::Duration;
use coinsence_api::domain::identity::ApiToken;
use coinsence_api::domain::orgs::NewOrg;
use coinsence_api::domain::tenancy::OrgSlug;
use serde_json::{Value, json};

use crate::helpers::{Org, TestApp};

const AFTER_DEADLINE: Duration = Duration::days(8);

/// One row of the decision table: a free-text proposal in a fresh org of `voters` members
/// (voter 0 is the owner and author) decided by `rule`, the votes in order (a voter appearing
/// twice changed their vote), the status right after the votes (a vote may settle it early),
/// and the status and reason code once the deadline has passed.
struct Case {
    name: &'static str,
    rule: (&'static str, i32, i32),
    voters: usize,
    votes: &'static [(usize, &'static str)],
    after_votes: &'static str,
    at_deadline: (&'static str, Option<&'static str>),
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // majority: yes > no + block, quorum of all who vote
    Case { name: "majority passes with quorum", rule: ("majority", 5000, 6667), voters: 4,
           votes: &[(0, "yes"), (1, "yes"), (2, "no")], after_votes: "open", at_deadline: ("passed", None) },
    Case { name: "majority without quorum", rule: ("majority", 5000, 6667), voters: 4,
           votes: &[(0, "yes")], after_votes: "open", at_deadline: ("rejected", Some("quorum_not_met")) },
    Case { name: "majority tie", rule: ("majority", 5000, 6667), voters: 5,
           votes: &[(0, "yes"), (1, "no"), (2, "abstain")], after_votes: "open", at_deadline: ("rejected", Some("not_enough_support")) },
    Case { name: "majority: a block is a no", rule: ("majority", 5000, 6667), voters: 4,
           votes: &[(0, "yes"), (1, "block")], after_votes: "open", at_deadline: ("rejected", Some("not_enough_support")) },
    Case { name: "majority: a changed vote settles it early", rule: ("majority", 5000, 6667), voters: 3,
           votes: &[(0, "yes"), (1, "no"), (1, "yes")], after_votes: "passed", at_deadline: ("passed", None) },
    Case { name: "majority: a changed vote turns it", rule: ("majority", 5000, 6667), voters: 5,
           votes: &[(0, "yes"), (1, "yes"), (1, "no"), (2, "no")], after_votes: "open", at_deadline: ("rejected", Some("not_enough_support")) },
    Case { name: "majority: everyone voted, a tie settles it", rule: ("majority", 5000, 6667), voters: 2,
           votes: &[(0, "yes"), (1, "no")], after_votes: "rejected", at_deadline: ("rejected", Some("not_enough_support")) },
    // supermajority: yes / (yes + no + block) >= threshold
    Case { name: "supermajority 2 of 3 is below 66.67 %", rule: ("supermajority", 5000, 6667), voters: 4,
           votes: &[(0, "yes"), (1, "yes"), (2, "no")], after_votes: "open", at_deadline: ("rejected", Some("not_enough_support")) },
    Case { name: "supermajority 2 of 3 reaches 66.66 %", rule: ("supermajority", 5000, 6666), voters: 4,
           votes: &[(0, "yes"), (1, "yes"), (2, "no")], after_votes: "open", at_deadline: ("passed", None) },
    Case { name: "supermajority: abstain only counts for the quorum", rule: ("supermajority", 7500, 6667), voters: 4,
           votes: &[(0, "yes"), (1, "abstain"), (2, "abstain")], after_votes: "open", at_deadline: ("passed", None) },
    Case { name: "supermajority without quorum", rule: ("supermajority", 7500, 6667), voters: 4,
           votes: &[(0, "yes"), (1, "yes")], after_votes: "open", at_deadline: ("rejected", Some("quorum_not_met")) },
    Case { name: "supermajority: a changed vote settles it", rule: ("supermajority", 5000, 6667), voters: 4,
           votes: &[(0, "yes"), (1, "no"), (1, "yes"), (2, "yes")], after_votes: "passed", at_deadline: ("passed", None) },
    // consensus: quorum, nobody blocks, yes > no
    Case { name: "consensus passes", rule: ("consensus", 5000, 6667), voters: 3,
           votes: &[(0, "yes"), (1, "yes")], after_votes: "open", at_deadline: ("passed", None) },
    Case { name: "consensus: one block stops it at once", rule: ("consensus", 5000, 6667), voters: 3,
           votes: &[(0, "yes"), (1, "block")], after_votes: "rejected", at_deadline: ("rejected", Some("blocked")) },
    Case { name: "consensus: a no changed to abstain", rule: ("consensus", 5000, 6667), voters: 3,
           votes: &[(0, "yes"), (1, "no"), (1, "abstain")], after_votes: "open", at_deadline: ("passed", None) },
    Case { name: "consensus without quorum", rule: ("consensus", 5000, 6667), voters: 4,
           votes: &[(0, "yes")], after_votes: "open", at_deadline: ("rejected", Some("quorum_not_met")) },
    Case { name: "consensus tie", rule: ("consensus", 5000, 6667), voters: 4,
           votes: &[(0, "yes"), (1, "no")], after_votes: "open", at_deadline: ("rejected", Some("not_enough_support")) },
    Case { name: "consensus: everyone agrees, settled early", rule: ("consensus", 5000, 6667), voters: 3,
           votes: &[(0, "yes"), (1, "yes"), (2, "abstain")], after_votes: "passed", at_deadline: ("passed", None) },
    // consent: passes at the deadline unless someone objects (no or block); no quorum
    Case { name: "consent: silence is consent", rule: ("consent", 5000, 6667), voters: 3,
           votes: &[], after_votes: "open", at_deadline: ("passed", None) },
    Case { name: "consent ignores the quorum", rule: ("consent", 10000, 6667), voters: 3,
           votes: &[(0, "yes")], after_votes: "open", at_deadline: ("passed", None) },
    Case { name: "consent: a no is an objection", rule: ("consent", 5000, 6667), voters: 3,
           votes: &[(0, "yes"), (1, "no")], after_votes: "rejected", at_deadline: ("rejected", Some("objected")) },
    Case { name: "consent: a block is an objection", rule: ("consent", 5000, 6667), voters: 3,
           votes: &[(2, "block")], after_votes: "rejected", at_deadline: ("rejected", Some("objected")) },
    Case { name: "consent: a changed vote without objection", rule: ("consent", 5000, 6667), voters: 3,
           votes: &[(0, "abstain"), (0, "yes")], after_votes: "open", at_deadline: ("passed", None) },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_decision_method_gives_the_outcome_in_the_table() {
    let app = TestApp::new().await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(app.user(&format!("voter{i}")).await);
    }
    for (n, case) in CASES.iter().enumerate() {
        let slug = format!("case-{n}");
        let owner = &users[0].0;
        // One person makes more orgs here than a person may make over the API in a day: the
        // operator makes them (uncapped) for them.
        let owner_user = app
            .core
            .user_for_token(&ApiToken::from_presented(owner))
            .await
            .unwrap();
        let new_org = NewOrg {
            slug: OrgSlug::parse(&slug).unwrap(),
            name: case.name.to_owned(),
            open: true,
            language: Default::default(),
        };
        app.core
            .create_org(&owner_user, new_org)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let (method, quorum, threshold) = case.rule;
        let rules = json!({"method": method, "quorum_bp": quorum, "threshold_bp": threshold,
                           "voting_period_secs": 604800, "proposers": "members"});
        let set = app
            .put(&format!("/v1/orgs/{slug}/rules"), owner, rules)
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}: {:?}", case.name, set.body);
        for (token, _) in &users[1..case.voters] {
            let joined = app
                .call(
                    Method::POST,
                    &format!("/v1/orgs/{slug}/join"),
                    Some(token),
                    None,
                    None,
                )
                .await;
            assert_eq!(joined.status, StatusCode::OK);
        }
        let opened = app
            .propose(&slug, owner, case.name, json!({"kind": "free_text"}))
            .await;
        assert_eq!(
            opened.status,
            StatusCode::CREATED,
            "{}: {:?}",
            case.name,
            opened.body
        );
        assert_eq!(opened.body["voters"], json!(case.voters));
        assert_eq!(opened.body["rule"]["method"], method);
        let id = opened.body["id"].as_i64().unwrap_or_default();
        for (voter, choice) in case.votes {
            let r = app.vote(&slug, &users[*voter].0, id, choice).await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{}: {voter} {choice}: {:?}",
                case.name,
                r.body
            );
            assert_eq!(r.body["my_vote"], *choice);
        }
        let now = app.proposal(&slug, owner, id).await;
        assert_eq!(
            now["status"], case.after_votes,
            "{} right after the votes: {now}",
            case.name
        );
        let changes = case
            .votes
            .iter()
            .map(|(v, _)| v)
            .collect::<std::collections::HashSet<_>>()
            .len();
        let counted = ["yes", "no", "abstain", "block"]
            .iter()
            .map(|c| now["votes"][c].as_i64().unwrap_or(0))
            .sum::<i64>();
        assert_eq!(
            counted, changes as i64,
            "{}: one vote per voter: {now}",
            case.name
        );

        let summary = app.close_due_in(&slug, AFTER_DEADLINE).await;
        let closed = if case.after_votes == "open" { 1 } else { 0 };
        assert_eq!(summary.proposals_closed, closed, "{}", case.name);
        let end = app.proposal(&slug, owner, id).await;
        let (status, code) = case.at_deadline;
        assert_eq!(end["status"], status, "{}: {end}", case.name);
        assert_eq!(end["reason_code"].as_str(), code, "{}: {end}", case.name);
        // The reason reads as a sentence from the catalog, never as its bare code.
        let reason = end["reason"].as_str();
        assert_eq!(reason.is_some(), code.is_some(), "{}: {end}", case.name);
        assert!(
            reason.is_none_or(|r| r.len() > 10 && Some(r) != code),
            "{}: {end}",
            case.name
        );
        assert!(end["closed_at"].is_string());
    }
}

/// A fresh org whose owner set `rules` while alone, then `n` members; returns their tokens and ids.
async fn org_with(app: &TestApp, slug: &str, rules: Value, n: usize) -> (Org, Vec<(String, i64)>) {
    let org = app.org(slug).await;
    let set = app
        .put(&format!("/v1/orgs/{slug}/rules"), &org.owner_token, rules)
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let mut members = Vec::new();
    for i in 0..n {
        members.push(app.member(&org, &format!("m{i}")).await);
    }
    (org, members)
}

fn majority() -> Value {
    json!({"method": "majority", "quorum_bp": 5000, "voting_period_secs": 3600, "proposers": "members"})
}

#[tokio::test]
async fn rules_start_with_defaults_and_then_change_only_by_proposal() {
    let app = TestApp::new().await;
    let org = app.org("ruled").await;
    let path = "/v1/orgs/ruled/rules";
    let defaults = app.get(path, &org.owner_token).await;
    assert_eq!(defaults.status, StatusCode::OK);
    assert_eq!(
        defaults.body,
        json!({"method": "majority", "quorum_bp": 5000, "threshold_bp": 6667, "voting_period_secs": 604800,
               "proposers": "members", "overrides": []})
    );
    let (ana, _) = app.member(&org, "ana").await;
    // Two members: the owner may still set them; a plain member never may.
    assert_eq!(
        app.put(path, &ana, majority()).await.status,
        StatusCode::FORBIDDEN
    );
    let consent_for_text = json!({"method": "majority", "quorum_bp": 5000, "voting_period_secs": 3600, "proposers": "members",
                                  "overrides": [{"kind": "free_text", "method": "consent", "quorum_bp": 0}]});
    let set = app.put(path, &org.owner_token, consent_for_text).await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    assert_eq!(set.body["overrides"][0]["method"], "consent");
    let (bo, _) = app.member(&org, "bo").await;
    let refused = app.put(path, &org.owner_token, majority()).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "rules_change_by_proposal"),
        "{:?}",
        refused.body
    );

    // The override applies per kind, and the rule is frozen into each proposal when it opens.
    let text = app
        .propose("ruled", &ana, "picnic", json!({"kind": "free_text"}))
        .await;
    assert_eq!(text.body["rule"]["method"], "consent", "{:?}", text.body);
    let text_id = text.body["id"].as_i64().unwrap_or_default();
    let new_rules = json!({"method": "supermajority", "quorum_bp": 2500, "threshold_bp": 7500,
                           "voting_period_secs": 120, "proposers": "admins"});
    let change = app
        .propose(
            "ruled",
            &bo,
            "stricter",
            json!({"kind": "change_rules", "rules": new_rules}),
        )
        .await;
    assert_eq!(change.status, StatusCode::CREATED, "{:?}", change.body);
    assert_eq!(change.body["rule"]["method"], "majority");
    let id = change.body["id"].as_i64().unwrap_or_default();
    app.vote("ruled", &ana, id, "yes").await;
    let passed = app.vote("ruled", &bo, id, "yes").await;
    assert_eq!(
        passed.body["status"], "passed",
        "two of three said yes: {:?}",
        passed.body
    );
    let now = app.get(path, &org.owner_token).await.body;
    assert_eq!(now["method"], "supermajority");
    assert_eq!(now["threshold_bp"], 7500);
    assert_eq!(now["overrides"], json!([]));
    // The proposal opened before keeps its rule.
    assert_eq!(
        app.proposal("ruled", &ana, text_id).await["rule"]["method"],
        "consent"
    );
    // And the new rules hold: only admins propose now.
    let by_member = app
        .propose("ruled", &ana, "anything", json!({"kind": "free_text"}))
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    let by_owner = app
        .propose(
            "ruled",
            &org.owner_token,
            "anything",
            json!({"kind": "free_text"}),
        )
        .await;
    assert_eq!(by_owner.status, StatusCode::CREATED);
    assert_eq!(by_owner.body["rule"]["threshold_bp"], 7500);
}

#[tokio::test]
async fn only_members_at_opening_vote_and_nobody_votes_after_the_close() {
    let app = TestApp::new().await;
    let (org, members) = org_with(&app, "electorate", majority(), 2).await;
    let opened = app
        .propose(
            "electorate",
            &members[0].0,
            "garden",
            json!({"kind": "free_text"}),
        )
        .await;
    let id = opened.body["id"].as_i64().unwrap_or_default();
    assert_eq!(opened.body["voters"], 3);

    let (late, _) = app.member(&org, "late").await;
    let r = app.vote("electorate", &late, id, "yes").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "not_in_electorate"),
        "{:?}",
        r.body
    );
    let (outsider, _) = app.user("outsider").await;
    let r = app.vote("electorate", &outsider, id, "yes").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "not_a_member"),
        "non-members cannot vote: {:?}",
        r.body
    );
    // ... but the late member sees it.
    assert_eq!(
        app.proposal("electorate", &late, id).await["my_vote"],
        Value::Null
    );

    for bad in [
        json!({"choice": "maybe"}),
        json!({"choice": "YES"}),
        json!({}),
        json!({"choice": "yes", "weight": 2}),
    ] {
        let r = app
            .post(
                &format!("/v1/orgs/electorate/proposals/{id}/votes"),
                &members[0].0,
                bad.clone(),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            "{bad}"
        );
    }
    let unknown = app.vote("electorate", &members[0].0, 999, "yes").await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "proposal_not_found")
    );
    let not_a_number = app.vote("electorate", &members[0].0, -1, "yes").await;
    assert_eq!(not_a_number.status, StatusCode::NOT_FOUND);
    let text_id = app
        .post(
            "/v1/orgs/electorate/proposals/abc/votes",
            &members[0].0,
            json!({"choice": "yes"}),
        )
        .await;
    assert_eq!(
        (text_id.status, text_id.code()),
        (StatusCode::BAD_REQUEST, "invalid_path")
    );

    app.vote("electorate", &members[0].0, id, "yes").await;
    assert_eq!(
        app.vote("electorate", &members[1].0, id, "no").await.status,
        StatusCode::OK
    );
    assert_eq!(app.count("electorate", "votes").await, 2);
    let summary = app.close_due_in("electorate", Duration::hours(2)).await;
    assert_eq!(summary.proposals_closed, 1);
    let closed = app.proposal("electorate", &org.owner_token, id).await;
    assert_eq!(
        (closed["status"].as_str(), closed["reason_code"].as_str()),
        (Some("rejected"), Some("not_enough_support"))
    );
    let after = app.vote("electorate", &org.owner_token, id, "yes").await;
    assert_eq!(
        (after.status, after.code()),
        (StatusCode::CONFLICT, "voting_closed"),
        "{:?}",
        after.body
    );
    let change = app.vote("electorate", &members[1].0, id, "yes").await;
    assert_eq!(change.status, StatusCode::CONFLICT);
    assert_eq!(
        app.proposal("electorate", &org.owner_token, id).await["votes"],
        json!({"yes": 1, "no": 1, "abstain": 0, "block": 0})
    );
    // Closing again changes nothing.
    assert_eq!(
        app.close_due_in("electorate", Duration::hours(3))
            .await
            .proposals_closed,
        0
    );
    assert_eq!(
        app.proposal("electorate", &org.owner_token, id).await,
        closed
    );
}

#[tokio::test]
async fn bad_proposals_are_refused_and_write_nothing() {
    let app = TestApp::new().await;
    let (_org, members) = org_with(&app, "picky", majority(), 2).await;
    let ana = &members[0].0;
    let bo_id = members[1].1;
    let path = "/v1/orgs/picky/proposals";
    let issue = |amount: Value| json!({"title": "t", "action": {"kind": "issue_to_account", "currency": "COIN", "to_member": bo_id, "amount": amount}});
    let past = (chrono::Utc::now() - Duration::hours(1)).to_rfc3339();
    let soon = (chrono::Utc::now() + Duration::minutes(5)).to_rfc3339();
    let far = (chrono::Utc::now() + Duration::days(100)).to_rfc3339();
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            issue(json!("-5")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            issue(json!("0")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (
            issue(json!("1.001")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
        (issue(json!(5)), StatusCode::UNPROCESSABLE_ENTITY, ""),
        (
            json!({"title": "", "action": {"kind": "free_text"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "title",
        ),
        (
            json!({"title": "x".repeat(201), "action": {"kind": "free_text"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "title",
        ),
        (
            json!({"title": "t", "action": {"kind": "free_text"}, "closes_at": past}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "closes_at",
        ),
        (
            json!({"title": "t", "action": {"kind": "free_text"}, "closes_at": soon}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "closes_at",
        ),
        (
            json!({"title": "t", "action": {"kind": "free_text"}, "closes_at": far}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "closes_at",
        ),
        (
            json!({"title": "t", "action": {"kind": "free_text"}, "closes_at": "tomorrow"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            json!({"title": "t", "action": {"kind": "make_me_rich"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            json!({"title": "t", "action": {"kind": "issue_for_pledge", "pledge_id": 1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (json!({"title": "t"}), StatusCode::UNPROCESSABLE_ENTITY, ""),
        (
            json!({"title": "t", "action": {"kind": "issue_to_account", "currency": "COIN", "amount": "1"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to_account",
        ),
        (
            json!({"title": "t", "action": {"kind": "issue_to_account", "currency": "NOPE", "to_member": bo_id, "amount": "1"}}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            json!({"title": "t", "action": {"kind": "issue_to_account", "currency": "COIN", "to_member": 999_999, "amount": "1"}}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            json!({"title": "t", "action": {"kind": "fund_project", "project_id": 1, "amount": "1"}}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            json!({"title": "t", "action": {"kind": "admit_member", "email": "nobody@example.org"}}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            json!({"title": "t", "action": {"kind": "admit_member", "email": "m0.picky@example.org"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            json!({"title": "t", "action": {"kind": "remove_member", "user_id": 999_999}}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            json!({"title": "t", "action": {"kind": "set_role", "user_id": bo_id, "role": "emperor"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            json!({"title": "t", "action": {"kind": "change_rules", "rules": {"method": "majority", "quorum_bp": 10001, "voting_period_secs": 3600, "proposers": "members"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "quorum_bp",
        ),
        (
            json!({"title": "t", "action": {"kind": "change_rules", "rules": {"method": "supermajority", "quorum_bp": 0, "threshold_bp": 5000, "voting_period_secs": 3600, "proposers": "members"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "threshold_bp",
        ),
        (
            json!({"title": "t", "action": {"kind": "change_rules", "rules": {"method": "majority", "quorum_bp": 0, "voting_period_secs": 10, "proposers": "members"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "voting_period_secs",
        ),
        (
            json!({"title": "t", "action": {"kind": "change_rules", "rules": {"method": "majority", "quorum_bp": 0, "voting_period_secs": 600, "proposers": "members",
            "overrides": [{"kind": "free_text", "method": "consent", "quorum_bp": 0}, {"kind": "free_text", "method": "majority", "quorum_bp": 0}]}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "overrides",
        ),
    ];
    for (body, status, field) in cases {
        let r = app.post(path, ana, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
        if !field.is_empty() {
            assert_eq!(r.body["field"], field, "{body}: {:?}", r.body);
        }
    }
    assert_eq!(
        app.count("picky", "proposals").await,
        0,
        "nothing was written"
    );
    assert_eq!(app.count("picky", "outbox").await, 0);
    let list = app.get("/v1/orgs/picky/proposals?limit=0", ana).await;
    assert_eq!(list.status, StatusCode::UNPROCESSABLE_ENTITY);
    let list = app.get("/v1/orgs/picky/proposals?status=maybe", ana).await;
    assert_eq!(
        (list.status, list.code()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let rules = app
        .put("/v1/orgs/picky/rules", ana, json!({"method": "dictator"}))
        .await;
    assert_eq!(rules.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_passed_issuance_runs_once_and_a_refused_action_fails_whole() {
    let app = TestApp::new().await;
    let (org, members) = org_with(&app, "treasury", majority(), 2).await;
    let (ana, ana_id) = (&members[0].0, members[0].1);
    let bo = &members[1].0;
    let fund = app.system_account(&org, "fund", "COIN").await;

    // Issue 50 to the community fund.
    let issue = app
        .propose("treasury", ana, "seed the fund", json!({"kind": "issue_to_account", "currency": "COIN", "to_account": fund, "amount": "50"}))
        .await;
    assert_eq!(issue.status, StatusCode::CREATED, "{:?}", issue.body);
    assert_eq!(issue.body["action"]["amount"], "50.00");
    let id = issue.body["id"].as_i64().unwrap_or_default();
    app.vote("treasury", ana, id, "yes").await;
    let passed = app.vote("treasury", bo, id, "yes").await;
    assert_eq!(passed.body["status"], "passed", "{:?}", passed.body);
    assert_eq!(app.account_balance(&org, fund).await, "50.00");
    let key = format!("transfers WHERE idempotency_key = 'proposal:{id}:execute'");
    assert_eq!(app.count("treasury", &key).await, 1);
    app.close_due_in("treasury", AFTER_DEADLINE).await;
    app.close_due_in("treasury", AFTER_DEADLINE).await;
    assert_eq!(
        app.count("treasury", &key).await,
        1,
        "closing again never runs the action again"
    );
    assert_eq!(app.account_balance(&org, fund).await, "50.00");

    // A project to fund: 80 from a fund of 50 fails at the close, and nothing of it is applied.
    let deadline = (chrono::Utc::now() + Duration::days(30)).to_rfc3339();
    let project = app
        .post("/v1/orgs/treasury/projects", ana, json!({"title": "Bike shed", "currency": "COIN", "goal": "100", "deadline": deadline, "share_code": "SHED", "rate": "1"}))
        .await;
    assert_eq!(project.status, StatusCode::CREATED, "{:?}", project.body);
    let project_id = project.body["id"].as_i64().unwrap_or_default();
    let fund_it = |amount: &'static str| json!({"kind": "fund_project", "project_id": project_id, "amount": amount});
    let too_much = app
        .propose("treasury", ana, "fund the shed", fund_it("80"))
        .await;
    let too_much_id = too_much.body["id"].as_i64().unwrap_or_default();
    app.vote("treasury", ana, too_much_id, "yes").await;
    let failed = app.vote("treasury", bo, too_much_id, "yes").await;
    assert_eq!(
        failed.status,
        StatusCode::OK,
        "the vote itself is fine: {:?}",
        failed.body
    );
    assert_eq!(failed.body["status"], "failed", "{:?}", failed.body);
    assert_eq!(failed.body["reason_code"], "insufficient_funds");
    assert_eq!(app.account_balance(&org, fund).await, "50.00");
    let shed = app
        .get(&format!("/v1/orgs/treasury/projects/{project_id}"), ana)
        .await
        .body;
    assert_eq!(shed["raised"], "0.00", "{shed}");
    assert_eq!(app.count("treasury", "investments").await, 0);
    assert_eq!(
        app.count(
            "treasury",
            &format!("transfers WHERE idempotency_key LIKE 'proposal:{too_much_id}:%'")
        )
        .await,
        0
    );

    // 30 works: the fund invests and holds the shares.
    let ok = app
        .propose("treasury", ana, "fund the shed, less", fund_it("30"))
        .await;
    let ok_id = ok.body["id"].as_i64().unwrap_or_default();
    app.vote("treasury", ana, ok_id, "yes").await;
    assert_eq!(
        app.vote("treasury", bo, ok_id, "yes").await.body["status"],
        "passed"
    );
    assert_eq!(app.account_balance(&org, fund).await, "20.00");
    let shed = app
        .get(&format!("/v1/orgs/treasury/projects/{project_id}"), ana)
        .await
        .body;
    assert_eq!(shed["raised"], "30.00");
    let fund_shares = app.system_account(&org, "fund", "SHED").await;
    assert_eq!(app.account_balance(&org, fund_shares).await, "30.00");
    assert_eq!(app.verify(&org).await["ok"], json!(true));

    // The author and the rooms hear about the close.
    let closed_events = app.count("treasury", &format!("outbox WHERE kind = 'proposal_closed' AND payload->>'proposal_id' = '{too_much_id}'")).await;
    assert_eq!(closed_events, 1);
    assert_eq!(
        app.balance(&org, ana, ana_id).await,
        "0.00",
        "nothing was paid to the author"
    );
}

#[tokio::test]
async fn membership_proposals_admit_remove_and_set_roles_but_keep_an_owner() {
    let app = TestApp::new().await;
    let (org, members) = org_with(&app, "club", majority(), 2).await;
    let (ana, ana_id) = (&members[0].0, members[0].1);
    let (bo, bo_id) = (&members[1].0, members[1].1);
    let (carl, carl_id) = app.user("carl").await;
    let (ana, bo, carl) = (ana.as_str(), bo.as_str(), carl.as_str());
    let decide = async |title: &str, action: Value, voters: &[&str]| -> Value {
        let r = app.propose("club", ana, title, action).await;
        assert_eq!(r.status, StatusCode::CREATED, "{title}: {:?}", r.body);
        let id = r.body["id"].as_i64().unwrap_or_default();
        let mut last = r.body;
        for v in voters {
            last = app.vote("club", v, id, "yes").await.body;
        }
        last
    };
    let admitted = decide(
        "admit carl",
        json!({"kind": "admit_member", "email": "carl@example.org"}),
        &[ana, bo],
    )
    .await;
    assert_eq!(admitted["status"], "passed", "{admitted}");
    assert_eq!(app.get("/v1/orgs/club", carl).await.body["role"], "member");
    assert_eq!(
        app.member_balance(&org, carl_id, "COIN").await,
        "0.00",
        "carl has an account"
    );

    let promoted = decide(
        "ana treasurer",
        json!({"kind": "set_role", "user_id": ana_id, "role": "treasurer"}),
        &[ana, bo, carl],
    )
    .await;
    assert_eq!(promoted["status"], "passed", "{promoted}");
    assert_eq!(
        app.get("/v1/orgs/club", ana).await.body["role"],
        "treasurer"
    );

    let owner_id = org.owner_id;
    let demote = decide(
        "no more owner",
        json!({"kind": "set_role", "user_id": owner_id, "role": "member"}),
        &[ana, bo, carl],
    )
    .await;
    assert_eq!(
        (demote["status"].as_str(), demote["reason_code"].as_str()),
        (Some("failed"), Some("last_owner")),
        "{demote}"
    );
    assert_eq!(
        app.get("/v1/orgs/club", &org.owner_token).await.body["role"],
        "owner"
    );

    let removed = decide(
        "bye bo",
        json!({"kind": "remove_member", "user_id": bo_id}),
        &[ana, carl, &org.owner_token],
    )
    .await;
    assert_eq!(removed["status"], "passed", "{removed}");
    assert_eq!(
        app.get("/v1/orgs/club", bo).await.status,
        StatusCode::FORBIDDEN
    );

    assert_eq!(app.verify(&org).await["ok"], json!(true));
}

#[tokio::test]
async fn an_issuance_to_a_member_who_left_fails_with_the_reason() {
    let app = TestApp::new().await;
    let (org, members) = org_with(&app, "leavers", json!({"method": "consent", "quorum_bp": 0, "voting_period_secs": 3600, "proposers": "members"}), 2).await;
    let (ana, bo_id) = (&members[0].0, members[1].1);
    let to_bo = app.propose("leavers", ana, "for bo", json!({"kind": "issue_to_account", "currency": "COIN", "to_member": bo_id, "amount": "5"})).await;
    let to_bo_id = to_bo.body["id"].as_i64().unwrap_or_default();
    let remove = app
        .propose(
            "leavers",
            ana,
            "bye bo",
            json!({"kind": "remove_member", "user_id": bo_id}),
        )
        .await;
    let remove_id = remove.body["id"].as_i64().unwrap_or_default();
    // Consent settles early only once everyone has voted without objecting: the removal does.
    for (token, _) in &members {
        app.vote("leavers", token, remove_id, "yes").await;
    }
    let removed = app
        .vote("leavers", &org.owner_token, remove_id, "yes")
        .await;
    assert_eq!(removed.body["status"], "passed", "{:?}", removed.body);
    app.close_due_in("leavers", Duration::hours(2)).await;
    let failed = app.proposal("leavers", ana, to_bo_id).await;
    assert_eq!(
        (failed["status"].as_str(), failed["reason_code"].as_str()),
        (Some("failed"), Some("receiving_member_left")),
        "{failed}"
    );
    assert_eq!(
        failed["reason"], "The receiving member has left the org.",
        "{failed}"
    );
    // Each reader gets the reason in their language, rendered from its code.
    let request = axum::http::Request::builder()
        .uri(format!("/v1/orgs/leavers/proposals/{to_bo_id}"))
        .header("authorization", format!("Bearer {ana}"))
        .header("accept-language", "de-DE, de;q=0.9")
        .body(axum::body::Body::empty())
        .expect("request");
    let in_german = app.raw(request).await.body;
    assert_eq!(
        (
            in_german["reason_code"].as_str(),
            in_german["reason"].as_str()
        ),
        (
            Some("receiving_member_left"),
            Some("Das empfangende Mitglied hat die Organisation verlassen.")
        ),
        "{in_german}"
    );
    assert_eq!(app.member_balance(&org, bo_id, "COIN").await, "0.00");
    assert_eq!(app.verify(&org).await["ok"], json!(true));
}

#[tokio::test]
async fn events_land_in_the_outbox_once_and_can_be_marked_delivered() {
    let app = TestApp::new().await;
    let (org, members) = org_with(&app, "newsy", majority(), 1).await;
    let (ana, ana_id) = &members[0];
    let opened = app
        .propose("newsy", ana, "news", json!({"kind": "free_text"}))
        .await;
    let id = opened.body["id"].as_i64().unwrap_or_default();
    app.issue(&org, *ana_id, "10").await;
    let paid = app.pay(&org, ana, org.owner_id, "3", "k1").await;
    assert_eq!(paid.status, StatusCode::CREATED);
    let again = app.pay(&org, ana, org.owner_id, "3", "k1").await;
    assert_eq!(again.status, StatusCode::CREATED, "a replay");
    // A reminder a day before the deadline, to those who have not voted, once.
    app.vote("newsy", ana, id, "yes").await;
    let reminded = app.close_due_in("newsy", Duration::minutes(50)).await;
    assert_eq!(reminded.reminders, 1, "only the owner has not voted");
    assert_eq!(
        app.close_due_in("newsy", Duration::minutes(55))
            .await
            .reminders,
        0
    );

    let tenant = app.tenant("newsy").await;
    let pending = app.core.outbox_pending(&tenant, 100).await.unwrap();
    let kinds: Vec<String> = pending.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(
        kinds,
        ["proposal_opened", "payment_received", "vote_reminder"],
        "{pending:?}"
    );
    let payment = &pending[1];
    assert_eq!(
        payment.to_users,
        [coinsence_api::domain::ids::UserId(org.owner_id)]
    );
    assert_eq!(payment.payload["amount"], "3.00");
    assert_eq!(payment.payload["currency"], "COIN");
    assert_eq!(payment.payload["from_user_id"], json!(ana_id));
    assert_eq!(payment.payload["to_user_id"], json!(org.owner_id));
    assert!(
        payment.payload["transfer_id"]
            .as_i64()
            .is_some_and(|id| id > 0)
    );
    assert!(pending[0].to_rooms);

    let ids: Vec<_> = pending.iter().take(2).map(|e| e.id).collect();
    assert_eq!(
        app.core.outbox_mark_delivered(&tenant, &ids).await.unwrap(),
        2
    );
    assert_eq!(
        app.core.outbox_mark_delivered(&tenant, &ids).await.unwrap(),
        0
    );
    let left = app.core.outbox_pending(&tenant, 100).await.unwrap();
    assert_eq!(left.len(), 1);
}
