//! Chat in the control plane over HTTP: admins get connect codes, codes bind a room once, and a
//! `/link` login is exchanged once for a token.

use axum::http::{Method, StatusCode};
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn admins_get_connect_codes_that_bind_one_room_once() {
    let app = TestApp::new().await;
    let org = app.org("chat-codes").await;
    let (member, _) = app.member(&org, "mia").await;
    let path = "/v1/orgs/chat-codes/chat/connect-codes";
    let refused = app
        .call(Method::POST, path, Some(&member), None, None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let r = app
        .call(Method::POST, path, Some(&org.owner_token), None, None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let code = r.body["code"].as_str().unwrap_or_default().to_owned();
    assert_eq!(code.len(), 14, "{code}");

    let core = &app.core;
    let bound = core
        .connect_room(ChatPlatform::Matrix, "!room:hs", &code.to_lowercase(), None)
        .await
        .unwrap();
    assert_eq!(bound.tenant.slug.as_str(), "chat-codes");
    assert!(!bound.again);
    let again = core
        .connect_room(ChatPlatform::Matrix, "!room:hs", &code, None)
        .await
        .unwrap();
    assert!(again.again, "a redelivered /connect answers the same");
    let elsewhere = core
        .connect_room(ChatPlatform::Matrix, "!other:hs", &code, None)
        .await;
    assert_eq!(
        elsewhere.map(|_| ()).map_err(|e| e.code()),
        Err("connect_code_used")
    );
    let ctx = core
        .chat_context(ChatPlatform::Matrix, "!room:hs", "@x:hs")
        .await
        .unwrap();
    assert_eq!(
        ctx.tenant.map(|t| t.slug.to_string()).as_deref(),
        Some("chat-codes")
    );
    assert!(ctx.user.is_none() && ctx.role.is_none());
}

#[tokio::test]
async fn a_login_link_works_once() {
    let app = TestApp::new().await;
    let who = ChatIdentity::new(ChatPlatform::Matrix, "@ana:hs").unwrap();
    let user = app.core.chat_user(&who, "Ana").await.unwrap();
    assert_eq!(user.display_name, "Ana");
    let same = app.core.chat_user(&who, "Ana again").await.unwrap();
    assert_eq!(same.id, user.id, "one identity, one user");
    // A chat user has no password: no password logs them in.
    let login = app
        .call(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"email": user.email, "password": "anything at all"})),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
    let link = app.core.create_login_link(user.id).await.unwrap();
    let body = Some(json!({"code": link.code}));
    let r = app
        .call(Method::POST, "/v1/login/link", None, body.clone(), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["user"]["id"].as_i64(), Some(user.id.0));
    let token = r.body["token"].as_str().unwrap_or_default();
    let me = app.get("/v1/orgs/nope/accounts", token).await;
    assert_eq!(
        me.status,
        StatusCode::NOT_FOUND,
        "the token works: {:?}",
        me.body
    );
    let twice = app
        .call(Method::POST, "/v1/login/link", None, body, None)
        .await;
    assert_eq!(twice.status, StatusCode::UNAUTHORIZED);
}
