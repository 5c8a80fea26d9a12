//! The org every journey builds, in the parts a test does not do through the page it tests:
//! the people's ids, and money moved through the JSON API (as a member's chat or app would).

use coinsence_api::domain::identity::Email;
use serde_json::{Value, json};

use super::{Browser, Site};

/// A person's id in this instance.
pub async fn user_id(site: &Site, email: &str) -> i64 {
    site.core
        .user_by_email(&Email::parse(email).expect("an email"))
        .await
        .expect("the person")
        .id
        .0
}

/// A person logged in to the JSON API: their bearer token and id.
pub struct ApiUser {
    pub token: String,
    pub id: i64,
}

/// Every person [`super::sign_up`] makes has this password.
pub const PASSWORD: &str = "correct horse battery";

pub async fn api_login(site: &Site, email: &str) -> ApiUser {
    let login: Value = reqwest::Client::new()
        .post(format!("{}/v1/login", site.base))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    ApiUser {
        token: login["token"].as_str().expect("a token").to_owned(),
        id: login["user"]["id"].as_i64().expect("an id"),
    }
}

/// A POST to the org's API (`issuance`, `transfers`, ...) with an idempotency key: its status
/// and body.
pub async fn api_post(
    site: &Site,
    who: &ApiUser,
    org: &str,
    path: &str,
    key: &str,
    body: Value,
) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/orgs/{org}/{path}", site.base))
        .bearer_auth(&who.token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .expect("the API answers");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// The admin (`admin`, signed in, of `org`) invites `email`, who signs up (with an org of their
/// own, as the portal's signup makes one) and joins through the link; signed in after.
pub async fn invite_and_join(site: &Site, admin: &mut Browser, org: &str, email: &str) -> Browser {
    admin.get(&format!("/orgs/{org}/members")).await;
    let invited = admin.post(&format!("/orgs/{org}/invites"), &[]).await;
    assert_eq!(invited.status, 200, "{}", invited.body);
    let code = invited
        .body
        .split("/join/")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("an invite link")
        .to_owned();
    let own = email.split('@').next().unwrap_or("p").replace('.', "-") + "-own";
    let mut member = super::sign_up(site, &own, email).await;
    member.get(&format!("/join/{code}")).await;
    let joined = member.post(&format!("/join/{code}"), &[]).await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    member
}

/// Money moved through the API in `org` and `currency`: `issued` to its admin, then each
/// payment (to, amount, memo) from the admin; each must be taken.
pub async fn seed_and_pay(
    site: &Site,
    org: &str,
    currency: &str,
    admin_email: &str,
    issued: &str,
    payments: &[(&str, &str, &str)],
) {
    let admin = api_login(site, admin_email).await;
    let (status, body) = api_post(
        site,
        &admin,
        org,
        "issuance",
        "seed",
        json!({"currency": currency, "to_member": admin.id, "amount": issued, "memo": "seed"}),
    )
    .await;
    assert_eq!(status, 201, "issuance: {body}");
    for (n, (to, amount, memo)) in payments.iter().enumerate() {
        let to = user_id(site, to).await;
        let (status, body) = api_post(
            site,
            &admin,
            org,
            "transfers",
            &format!("pay-{n}"),
            json!({"currency": currency, "to_member": to, "amount": amount, "memo": memo}),
        )
        .await;
        assert_eq!(status, 201, "payment {n}: {body}");
    }
}
