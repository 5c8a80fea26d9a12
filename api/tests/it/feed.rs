//! The feed: posts and comments with the platform they came from.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn members_post_and_comment_and_the_rooms_hear_of_posts() {
    let app = TestApp::new().await;
    let org = app.org("chatty").await;
    let (ana, ana_id) = app.member(&org, "ana").await;
    let post = app
        .post(
            "/v1/orgs/chatty/posts",
            &ana,
            json!({"body": "  Repair café on Saturday!  "}),
        )
        .await;
    assert_eq!(post.status, StatusCode::CREATED, "{:?}", post.body);
    assert_eq!(
        (post.body["body"].as_str(), post.body["platform"].as_str()),
        (Some("Repair café on Saturday!"), Some("web"))
    );
    assert_eq!(post.body["author_user_id"], json!(ana_id));
    let id = post.body["id"].as_i64().unwrap_or_default();

    // A bot posts through the same operation, with its platform.
    let tenant = app.tenant("chatty").await;
    let member = coinsence_api::testing::member(
        tenant.clone(),
        coinsence_api::domain::identity::User {
            id: coinsence_api::domain::ids::UserId(org.owner_id),
            email: String::new(),
            display_name: "Owner of chatty".into(),
            language: None,
        },
        coinsence_api::domain::identity::Role::Owner,
    );
    let from_matrix = coinsence_api::domain::governance::feed::NewPost {
        body: "I'll bring tools".into(),
        platform: coinsence_api::domain::governance::feed::Platform::Matrix,
    };
    let c = app
        .core
        .comment(
            &member,
            coinsence_api::domain::ids::PostId(id),
            from_matrix,
            None,
        )
        .await
        .unwrap();
    assert_eq!(c.platform.as_str(), "matrix");
    let reply = app
        .post(
            &format!("/v1/orgs/chatty/posts/{id}/comments"),
            &org.owner_token,
            json!({"body": "see you"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);

    let thread = app
        .get(&format!("/v1/orgs/chatty/posts/{id}"), &ana)
        .await
        .body;
    assert_eq!(thread["post"]["comments"], 2);
    let platforms: Vec<_> = thread["comments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["platform"].clone())
        .collect();
    assert_eq!(platforms, [json!("matrix"), json!("web")]);
    for n in 0..3 {
        app.post(
            "/v1/orgs/chatty/posts",
            &ana,
            json!({"body": format!("post {n}")}),
        )
        .await;
    }
    let page = app.get("/v1/orgs/chatty/posts?limit=2", &ana).await.body;
    assert_eq!(page.as_array().map(Vec::len), Some(2));
    assert_eq!(page[0]["body"], "post 2", "newest first");
    let next = app
        .get(
            &format!("/v1/orgs/chatty/posts?before={}", page[1]["id"]),
            &ana,
        )
        .await
        .body;
    assert_eq!(next.as_array().map(Vec::len), Some(2), "{next}");
    assert_eq!(
        app.count("chatty", "outbox WHERE kind = 'post_created' AND to_rooms")
            .await,
        4
    );

    for (path, body, status) in [
        (
            "/v1/orgs/chatty/posts",
            json!({"body": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/orgs/chatty/posts",
            json!({"body": "x".repeat(5001)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/orgs/chatty/posts",
            json!({"body": "hi", "platform": "discord"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/orgs/chatty/posts/999/comments",
            json!({"body": "hi"}),
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/orgs/chatty/posts/x/comments",
            json!({"body": "hi"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let r = app.post(path, &ana, body.clone()).await;
        assert_eq!(r.status, status, "{path} {body}: {:?}", r.body);
    }
    assert_eq!(
        app.get("/v1/orgs/chatty/posts/999", &ana).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count("chatty", "posts").await, 4);
    assert_eq!(app.count("chatty", "comments").await, 2);
}
