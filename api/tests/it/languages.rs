//! Who reads which language: an org's default is set at signup and changed by an admin only; a
//! person's own choice is kept and reaches every org they are in.

use axum::http::{Method, StatusCode};
use coinsence_api::domain::identity::ApiToken;
use coinsence_api::domain::ids::UserId;
use coinsence_api::i18n::Lang;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn an_orgs_language_is_set_at_signup_and_by_admins_only() {
    let app = TestApp::new().await;
    let r = app
        .call(
            Method::POST,
            "/v1/signup",
            None,
            Some(json!({
                "email": "owner@verein.example.org", "password": "correct horse",
                "display_name": "Owner", "org": {"slug": "verein", "name": "Verein", "language": "de"}
            })),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["org"]["language"], "de", "{:?}", r.body);
    let owner = crate::helpers::token_of(&r);
    assert_eq!(app.tenant("verein").await.language, Lang::De);

    // An org created without a language speaks English.
    let plain = app.org("plain").await;
    assert_eq!(app.tenant("plain").await.language, Lang::En);

    let token = ApiToken::from_presented(&owner);
    let admin = app
        .core
        .member_for_token(&token, "verein")
        .await
        .expect("owner");
    assert_eq!(admin.tenant.language, Lang::De);
    app.core
        .set_org_language(&admin, Lang::En)
        .await
        .expect("set");
    assert_eq!(app.tenant("verein").await.language, Lang::En);

    // A plain member may not change it.
    let (member_token, _) = app.member(&plain, "mia").await;
    let token = ApiToken::from_presented(&member_token);
    let mia = app
        .core
        .member_for_token(&token, "plain")
        .await
        .expect("mia");
    assert!(app.core.set_org_language(&mia, Lang::De).await.is_err());
    assert_eq!(app.tenant("plain").await.language, Lang::En);
}

#[tokio::test]
async fn a_persons_language_follows_them_into_every_org() {
    let app = TestApp::new().await;
    let one = app.org("one").await;
    let two = app.org("two").await;
    let (token, id) = app.member(&one, "jo").await;
    let r = app
        .call(Method::POST, "/v1/orgs/two/join", Some(&token), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let _ = two;

    let secret = ApiToken::from_presented(&token);
    let before = app.core.member_for_token(&secret, "one").await.expect("jo");
    assert_eq!(before.user.language, None);

    let user = app
        .core
        .set_user_language(UserId(id), Some(Lang::De))
        .await
        .expect("set");
    assert_eq!(user.language, Some(Lang::De));
    for slug in ["one", "two"] {
        let member = app
            .core
            .member_for_token(&secret, slug)
            .await
            .unwrap_or_else(|e| panic!("jo in {slug}: {e}"));
        assert_eq!(member.user.language, Some(Lang::De), "in {slug}");
    }
    app.core
        .set_user_language(UserId(id), None)
        .await
        .expect("unset");
    let after = app.core.member_for_token(&secret, "two").await.expect("jo");
    assert_eq!(after.user.language, None);
}
