//! The portal's walls, over plain HTTP: another org's admin, a member at admin pages, forms
//! without their token or from another site, an old cookie after logout, the login limit.
// Test helpers outside `#[test]` functions expect too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use coinsence_api::login_limits::LimitConfig;
use coinsence_tenant_admin::{Access, PortalConfig, ROUTES};
use support::org::invite_and_join;
use support::{Browser, Page, sign_up, site, site_config, site_with};

/// A route's path with its parameters filled in for `slug`.
fn path_for(template: &str, slug: &str) -> String {
    template
        .replace("{org}", slug)
        .replace("{id}", "1")
        .replace("{code}", "inv_nothing")
        .replace(
            "{file}",
            coinsence_tenant_admin::assets::htmx_path().trim_start_matches("/assets/"),
        )
}

async fn call(b: &mut Browser, method: &str, path: &str) -> Page {
    match method {
        "GET" => b.get(path).await,
        _ => b.post(path, &[]).await,
    }
}

#[tokio::test]
async fn every_route_is_in_the_list_and_the_list_is_routed() {
    let site = site().await;
    let mut b = Browser::new(&site);
    for (method, template, _) in ROUTES {
        let path = path_for(template, "nowhere");
        let page = call(&mut b, method, &path).await;
        // An unrouted path gets axum's bare 404 (or 405): a routed one answers something of ours.
        assert_ne!(page.status, 405, "{method} {template}");
        assert!(
            page.status != 404 || !page.body.is_empty(),
            "{method} {template} is not routed"
        );
    }
}

#[tokio::test]
async fn another_orgs_admin_meets_a_wall_on_every_org_route() {
    let site = site().await;
    let mut ours = sign_up(&site, "ours", "admin@ours.test").await;
    let mut theirs = sign_up(&site, "theirs", "admin@theirs.test").await;
    // Something on our side that their admin could try to change.
    ours.get("/orgs/ours/currencies").await;
    let before = ours.get("/orgs/ours/currencies").await.body;
    let mut walked = 0;
    for (method, template, access) in ROUTES {
        if !matches!(access, Access::Member | Access::Admin) {
            continue;
        }
        assert!(template.starts_with("/orgs/{org}"), "{template}");
        // Their own form token: a real form of theirs, aimed at our org.
        theirs.get("/orgs/theirs").await;
        let path = path_for(template, "ours");
        let page = call(&mut theirs, method, &path).await;
        assert!(
            page.status == 403 || page.status == 404,
            "{method} {path}: {} {}",
            page.status,
            page.body
        );
        assert!(
            !page.body.contains("Org ours"),
            "{method} {path} shows our org"
        );
        walked += 1;
    }
    let org_routes = ROUTES.iter().filter(|r| r.1.starts_with("/orgs/")).count();
    assert_eq!(
        walked, org_routes,
        "every org route is a member's or an admin's"
    );
    // A currency post from them created nothing here.
    theirs.get("/orgs/theirs").await;
    let tried = theirs
        .post(
            "/orgs/ours/currencies",
            &[("code", "EVIL"), ("name", "Evil"), ("scale", "2")],
        )
        .await;
    assert_eq!(tried.status, 403);
    assert_eq!(ours.get("/orgs/ours/currencies").await.body, before);
}

#[tokio::test]
async fn a_member_cannot_reach_admin_pages_or_actions() {
    let site = site().await;
    let mut admin = sign_up(&site, "club", "admin@club.test").await;
    let mut member = invite_and_join(&site, &mut admin, "club", "member@club.test").await;
    assert_eq!(member.get("/orgs/club").await.status, 200);
    for (method, template, access) in ROUTES {
        if *access != Access::Admin {
            continue;
        }
        member.get("/orgs/club").await;
        let path = path_for(template, "club");
        let page = call(&mut member, method, &path).await;
        assert_eq!(page.status, 403, "{method} {path}: {}", page.body);
    }
}

#[tokio::test]
async fn forms_without_their_token_or_from_elsewhere_change_nothing() {
    let site = site().await;
    let mut admin = sign_up(&site, "guarded", "admin@guarded.test").await;
    admin.get("/orgs/guarded/currencies").await;
    let token = admin.token.clone();
    // No token.
    let page = admin
        .post_raw(
            "/orgs/guarded/currencies",
            support::serde_urlencoded_like(&[("code", "NOTOK"), ("name", "No"), ("scale", "2")]),
        )
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("This form has expired"), "{}", page.body);
    // Another session's token.
    let mut other = sign_up(&site, "other", "admin@other.test").await;
    other.get("/orgs/other").await;
    admin.token = other.token.clone();
    let page = admin
        .post(
            "/orgs/guarded/currencies",
            &[("code", "WRONG"), ("name", "W"), ("scale", "2")],
        )
        .await;
    assert_eq!(page.status, 403);
    // The right token from another site.
    admin.token = token.clone();
    admin.origin = "http://evil.example".to_owned();
    let page = admin
        .post(
            "/orgs/guarded/currencies",
            &[("code", "EVIL"), ("name", "Evil"), ("scale", "2")],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("another site"), "{}", page.body);
    admin.origin = admin.base.clone();
    let list = admin.get("/orgs/guarded/currencies").await.body;
    for code in ["NOTOK", "WRONG", "EVIL"] {
        assert!(!list.contains(code), "{code} was created");
    }
    // And with both, it works (the refusals above were the guard, not the form).
    let page = admin
        .post(
            "/orgs/guarded/currencies",
            &[("code", "GOOD"), ("name", "Good"), ("scale", "2")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(
        admin
            .get("/orgs/guarded/currencies")
            .await
            .body
            .contains("GOOD")
    );
}

#[tokio::test]
async fn after_logout_the_old_cookie_is_refused() {
    let site = site().await;
    let mut admin = sign_up(&site, "leaving", "admin@leaving.test").await;
    let old = admin.cookies.clone();
    admin.get("/orgs/leaving").await;
    let out = admin.post("/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert!(!admin.cookies.contains_key("cs_session"));
    // Someone who kept the cookie.
    let mut thief = Browser::new(&site);
    thief.cookies = old;
    let page = thief.get("/orgs/leaving").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location, "/login");
    let page = thief.get("/me").await;
    assert_eq!(page.status, 303);
    let page = thief.post("/orgs/leaving/invites", &[]).await;
    assert_eq!(page.status, 401, "{}", page.body);
}

#[tokio::test]
async fn a_new_session_id_at_every_login() {
    let site = site().await;
    let mut admin = sign_up(&site, "again", "admin@again.test").await;
    let first = admin.cookies.get("cs_session").cloned().expect("a session");
    admin.get("/orgs/again").await;
    admin.post("/logout", &[]).await;
    admin.get("/login").await;
    let page = admin
        .post(
            "/login",
            &[
                ("email", "admin@again.test"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let second = admin.cookies.get("cs_session").cloned().expect("a session");
    assert_ne!(first, second);
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("text").to_owned())
        .find(|c| c.starts_with("cs_session="))
        .expect("the session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(admin.get("/orgs/again").await.status, 200);
}

#[tokio::test]
async fn the_login_limit_trips_and_says_when_to_try_again() {
    let site = site_with(LimitConfig {
        auth_per_minute: 100,
        login_failures: 3,
        failure_window: Duration::from_secs(60),
        lock_for: Duration::from_secs(120),
    })
    .await;
    sign_up(&site, "locked", "admin@locked.test").await;
    let mut guesser = Browser::new(&site);
    guesser.get("/login").await;
    for _ in 0..3 {
        let page = guesser
            .post(
                "/login",
                &[("email", "admin@locked.test"), ("password", "wrong guess")],
            )
            .await;
        assert_eq!(page.status, 401, "{}", page.body);
        assert!(page.body.contains("do not match"), "{}", page.body);
    }
    // Now even the right password waits.
    let page = guesser
        .post(
            "/login",
            &[
                ("email", "admin@locked.test"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.body.contains("try again in 120 s"), "{}", page.body);
    assert!(!guesser.cookies.contains_key("cs_session"));
}

#[tokio::test]
async fn the_address_limit_trips_too() {
    let site = site_with(LimitConfig {
        auth_per_minute: 2,
        ..LimitConfig::default()
    })
    .await;
    let mut b = Browser::new(&site);
    b.get("/login").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let page = b
            .post(
                "/login",
                &[("email", "x@y.test"), ("password", "nope nope")],
            )
            .await;
        statuses.push(page.status);
    }
    assert_eq!(statuses, [401, 401, 429, 429]);
}

/// The session cookie's `Set-Cookie` at a login with these extra request headers, from a page
/// at `scheme` (a browser's `Origin`).
async fn session_cookie_at_login(
    site: &support::Site,
    scheme: &str,
    headers: &[(&str, &str)],
) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with = |mut r: reqwest::RequestBuilder| {
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r
    };
    let form = with(client.get(format!("{}/login", site.base)))
        .send()
        .await
        .unwrap();
    let key = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("cs_form="))
        .expect("a form key");
    let page = Page {
        status: 200,
        location: String::new(),
        headers: Default::default(),
        body: form.text().await.unwrap(),
    };
    let token = page.form_token().expect("the login form's token");
    let origin = site.base.replacen("http", scheme, 1);
    let done = with(client.post(format!("{}/login", site.base)))
        .header("cookie", key)
        .header("origin", origin)
        .form(&[
            ("_csrf", token.as_str()),
            ("email", "admin@secure.test"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 303);
    done.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("cs_session="))
        .expect("the session cookie")
}

/// A portal served as `https` and `trust_proxy` say, where admin@secure.test has an account.
async fn served(https: bool, trust_proxy: bool) -> support::Site {
    let site = site_config(PortalConfig {
        https,
        trust_proxy,
        limits: LimitConfig::default(),
    })
    .await;
    site.core
        .signup(
            "admin@secure.test",
            "correct horse battery".to_owned(),
            "Admin",
            None,
        )
        .await
        .unwrap();
    site
}

#[tokio::test]
async fn the_session_cookie_is_secure_over_https_and_only_then() {
    // Served over https itself.
    let site = served(true, false).await;
    let cookie = session_cookie_at_login(&site, "https", &[]).await;
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Behind a proxy that says https, and is believed.
    let site = served(false, true).await;
    let https = [("x-forwarded-proto", "https")];
    let cookie = session_cookie_at_login(&site, "https", &https).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
    // The same proxy, reached over http.
    let http = [("x-forwarded-proto", "http")];
    let cookie = session_cookie_at_login(&site, "http", &http).await;
    assert!(!cookie.contains("Secure"), "{cookie}");

    // Plain http, and the header from someone nobody vouches for: not Secure.
    let site = served(false, false).await;
    let cookie = session_cookie_at_login(&site, "http", &https).await;
    assert!(!cookie.contains("Secure"), "{cookie}");
}
