//! A portal served on a free port over a fresh database (the API beside it at `/v1`, as
//! `coinsence serve` does), and a small browser over plain HTTP: it keeps cookies, sends the
//! `Origin` a browser sends, and fills in each form's token from the page it last read.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use coinsence_api::Core;
use coinsence_api::login_limits::LimitConfig;
use coinsence_tenant_admin::PortalConfig;

pub mod org;

pub struct Site {
    pub base: String,
    pub core: Core,
}

pub async fn site_with(limits: LimitConfig) -> Site {
    site_config(PortalConfig {
        https: false,
        trust_proxy: false,
        limits,
    })
    .await
}

/// A portal served as `config` says (https itself, behind a proxy).
pub async fn site_config(config: PortalConfig) -> Site {
    let (pool, _) = coinsence_api::testing::test_database()
        .await
        .expect("a test database");
    let core = Core::new(pool).with_spare_orgs(0);
    let portal = coinsence_tenant_admin::router(core.clone(), config);
    let app = coinsence_api::http::router(core.clone()).merge(portal);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    Site {
        base: format!("http://{addr}"),
        core,
    }
}

pub async fn site() -> Site {
    site_with(LimitConfig::default()).await
}

pub struct Page {
    pub status: u16,
    pub location: String,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    /// The form token of the first form on the page.
    pub fn form_token(&self) -> Option<String> {
        let at = self.body.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
        let end = self.body[at..].find('"')?;
        Some(self.body[at..at + end].to_owned())
    }
}

pub struct Browser {
    pub base: String,
    pub cookies: HashMap<String, String>,
    client: reqwest::Client,
    /// The token of the last page's forms.
    pub token: String,
    /// The `Origin` sent with POSTs (a browser sends its page's).
    pub origin: String,
}

impl Browser {
    pub fn new(site: &Site) -> Self {
        Self {
            base: site.base.clone(),
            cookies: HashMap::new(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            token: String::new(),
            origin: site.base.clone(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        for set in response.headers().get_all("set-cookie") {
            let text = set.to_str().expect("a cookie");
            let pair = text.split(';').next().expect("name=value");
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().expect("text").to_owned())
            .unwrap_or_default();
        let headers = response.headers().clone();
        let body = response.text().await.expect("a body");
        let page = Page {
            status,
            location,
            body,
            headers,
        };
        if let Some(token) = page.form_token() {
            self.token = token;
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", "en")
            .send()
            .await
            .expect("GET");
        self.read(response).await
    }

    /// A form as a browser sends it, with the token of the last page read.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = vec![("_csrf", self.token.as_str())];
        all.extend_from_slice(fields);
        let body = serde_urlencoded_like(&all);
        self.post_raw(path, body).await
    }

    /// A POST with exactly this body (no token added).
    pub async fn post_raw(&mut self, path: &str, body: String) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("origin", &self.origin)
            .header("accept-language", "en")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        self.read(response).await
    }
}

pub fn serde_urlencoded_like(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs up a person with a new org (currency COIN, scale 2) through the portal's form; the
/// browser is signed in after.
pub async fn sign_up(site: &Site, slug: &str, email: &str) -> Browser {
    let mut b = Browser::new(site);
    let form = b.get("/signup").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let done = b
        .post(
            "/signup",
            &[
                ("display_name", "Admin"),
                ("email", email),
                ("password", "correct horse battery"),
                ("name", &format!("Org {slug}")),
                ("slug", slug),
                ("language", "en"),
                ("currency_code", "COIN"),
                ("currency_name", "Coin"),
                ("scale", "2"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "signup: {}", done.body);
    assert_eq!(done.location, format!("/orgs/{slug}"));
    let dash = b.get(&format!("/orgs/{slug}")).await;
    assert_eq!(dash.status, 200, "{}", dash.body);
    b
}
