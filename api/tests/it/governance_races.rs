//! Votes, vote changes and closes racing on the same proposals: every vote is counted or
//! refused (never lost), the action runs exactly once, and closing again is harmless.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::http::StatusCode;
use chrono::Duration;
use rand::Rng;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_votes_and_closes_count_every_vote_and_run_the_action_once() {
    let app = Arc::new(TestApp::new().await);
    let org = app.org("racing").await;
    // Consensus with no quorum: it passes at the deadline unless blocked, and settles early only
    // when everyone has voted, so closes and votes really overlap.
    let rules = json!({"method": "consensus", "quorum_bp": 0, "voting_period_secs": 3600, "proposers": "members"});
    assert_eq!(
        app.put("/v1/orgs/racing/rules", &org.owner_token, rules)
            .await
            .status,
        StatusCode::OK
    );
    let mut voters = vec![(org.owner_token.clone(), org.owner_id)];
    for i in 0..11 {
        voters.push(app.member(&org, &format!("v{i}")).await);
    }
    let receiver = voters[1].1;
    let voters = Arc::new(voters);
    let tenant = Arc::new(app.tenant("racing").await);

    for round in 0..4 {
        let opened = app
            .propose("racing", &voters[0].0, &format!("round {round}"),
                json!({"kind": "issue_to_account", "currency": "COIN", "to_member": receiver, "amount": "10"}))
            .await;
        assert_eq!(opened.status, StatusCode::CREATED, "{:?}", opened.body);
        let id = opened.body["id"].as_i64().unwrap_or_default();

        let mut votes = Vec::new();
        for v in 0..voters.len() {
            let (app, voters) = (app.clone(), voters.clone());
            votes.push(tokio::spawn(async move {
                // Each voter votes, changes their mind, and changes back, in order.
                let mut answers = Vec::new();
                for choice in ["yes", "abstain", "yes"] {
                    let pause = rand::rng().random_range(0..4);
                    tokio::time::sleep(StdDuration::from_millis(pause)).await;
                    let r = app.vote("racing", &voters[v].0, id, choice).await;
                    answers.push((choice, r.status, r.code().to_owned()));
                }
                (voters[v].1, answers)
            }));
        }
        let mut closes = Vec::new();
        for _ in 0..3 {
            let (app, tenant, round) = (app.clone(), tenant.clone(), round as u64);
            closes.push(tokio::spawn(async move {
                // A close before any vote would reject the proposal (nobody said yes), which is
                // right but not this race: the closes start once a yes is in. Later rounds give
                // the votes a longer head start, so some settle the proposal first.
                let first_yes = format!("votes WHERE proposal_id = {id} AND choice = 'yes'");
                let started = std::time::Instant::now();
                while app.count("racing", &first_yes).await == 0 {
                    assert!(
                        started.elapsed() < StdDuration::from_secs(30),
                        "no vote landed"
                    );
                    tokio::time::sleep(StdDuration::from_millis(1)).await;
                }
                let pause = rand::rng().random_range(0..12 + round * 20);
                tokio::time::sleep(StdDuration::from_millis(pause)).await;
                app.core
                    .close_due(&tenant, chrono::Utc::now() + Duration::hours(2))
                    .await
                    .expect("close_due")
            }));
        }
        let mut expected: Vec<(i64, &str)> = Vec::new();
        for task in votes {
            let (user, answers) = task.await.unwrap();
            let mut closed = false;
            let mut last_counted = None;
            for (choice, status, code) in answers {
                match status {
                    StatusCode::OK => {
                        assert!(
                            !closed,
                            "a vote was accepted after one was refused as closed"
                        );
                        last_counted = Some(choice);
                    }
                    StatusCode::CONFLICT => {
                        assert!(code == "voting_closed" || code == "voting_ended", "{code}");
                        closed = true;
                    }
                    other => panic!("vote answered {other} {code}"),
                }
            }
            if let Some(choice) = last_counted {
                expected.push((user, choice));
            }
        }
        let closed_now: i64 = {
            let mut n = 0;
            for task in closes {
                n += task.await.unwrap().proposals_closed;
            }
            n
        };
        // Whatever closed it (a close or the last vote), it closed exactly once.
        assert!(closed_now <= 1, "closed {closed_now} times");
        eprintln!(
            "round {round}: {} voters counted, closed by close_due: {closed_now}",
            expected.len()
        );
        assert_eq!(
            app.close_due_in("racing", Duration::hours(3))
                .await
                .proposals_closed,
            0,
            "closing again does nothing"
        );
        let view = app.proposal("racing", &voters[0].0, id).await;
        assert_eq!(view["status"], "passed", "{view}");

        // Every accepted vote is in the final count, as the voter's last accepted choice.
        let yes = expected.iter().filter(|(_, c)| *c == "yes").count() as i64;
        let abstain = expected.iter().filter(|(_, c)| *c == "abstain").count() as i64;
        assert_eq!(
            view["votes"],
            json!({"yes": yes, "no": 0, "abstain": abstain, "block": 0}),
            "round {round}: {expected:?}"
        );
        for (user, choice) in &expected {
            let stored = app
                .count("racing", &format!("votes WHERE proposal_id = {id} AND user_id = {user} AND choice = '{choice}'"))
                .await;
            assert_eq!(
                stored, 1,
                "user {user}'s last accepted vote {choice} is the one counted"
            );
        }
        assert_eq!(
            app.count("racing", &format!("votes WHERE proposal_id = {id}"))
                .await,
            expected.len() as i64
        );

        // The action ran once.
        let key = format!("transfers WHERE idempotency_key = 'proposal:{id}:execute'");
        assert_eq!(app.count("racing", &key).await, 1, "round {round}");
        assert_eq!(
            app.count(
                "racing",
                &format!("outbox WHERE dedup_key = 'proposal:{id}:closed'")
            )
            .await,
            1
        );
    }
    assert_eq!(
        app.member_balance(&org, receiver, "COIN").await,
        "40.00",
        "four proposals, 10 each, once each"
    );
    assert_eq!(app.verify(&org).await["ok"], json!(true));
}
