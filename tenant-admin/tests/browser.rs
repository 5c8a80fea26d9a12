//! The portal in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
//! installed by `.ci/deps`) driven over WebDriver. The journey of the issue, a screenshot of
//! every page into `<target>/tmp/portal-screens/`, and axe-core (npm, installed by `.ci/deps`
//! into `~/.cache/coinsence/`) injected into every page: no serious or critical violation.
//!
//! Under `CI=true` a missing browser fails the test; elsewhere it is skipped, saying so.
// Test helpers outside `#[test]` functions expect too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::org::seed_and_pay;
use support::site;

/// axe-core's version, as `.ci/deps` installs it.
const AXE_VERSION: &str = "4.14.1";

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn axe_script() -> Option<String> {
    let home = std::env::var_os("HOME")?;
    let path = Path::new(&home)
        .join(".cache/coinsence")
        .join(format!("axe-core-{AXE_VERSION}"))
        .join("node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(path).ok()
}

/// Chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_driver(chromedriver: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, port };
    let status = format!("http://127.0.0.1:{port}/status");
    for _ in 0..100 {
        if reqwest::get(&status).await.is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on port {port}");
}

async fn connect(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1200,1000", "--lang=en",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

/// One browser tab walking the portal: screenshots and accessibility checks of every page.
struct Walk {
    client: Client,
    base: String,
    screens: PathBuf,
    shots: usize,
    axe: String,
    /// Every serious or critical violation, by page.
    violations: Vec<String>,
}

impl Walk {
    async fn goto(&mut self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("the page loads");
    }

    async fn source(&self) -> String {
        self.client.source().await.expect("the page's source")
    }

    /// Fills the form whose action is `action` and submits it.
    async fn submit(&mut self, action: &str, fields: &[(&str, &str)]) {
        let form = self
            .client
            .form(Locator::Css(&format!("form[action='{action}']")))
            .await
            .unwrap_or_else(|e| panic!("a form to {action}: {e}"));
        for (name, value) in fields {
            form.set_by_name(name, value)
                .await
                .unwrap_or_else(|e| panic!("{action} {name}: {e}"));
        }
        self.mark().await;
        form.submit().await.expect("the form submits");
        self.next_page().await;
    }

    async fn log_in(&mut self, email: &str) {
        self.goto("/login").await;
        self.submit(
            "/login",
            &[("email", email), ("password", "correct horse battery")],
        )
        .await;
    }

    /// Marks the page shown now, so [`Walk::next_page`] can tell when another replaced it.
    async fn mark(&self) {
        self.client
            .execute("window.__walked = true", vec![])
            .await
            .expect("the page is marked");
    }

    /// Waits for the page that replaces the marked one, and for it to load.
    async fn next_page(&self) {
        for _ in 0..200 {
            let fresh = self
                .client
                .execute(
                    "return window.__walked === undefined && document.readyState === 'complete'",
                    vec![],
                )
                .await
                .unwrap_or(Value::Bool(false));
            if fresh == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page came");
    }

    /// Clicks what `css` finds and waits for the page it leads to.
    async fn click(&self, css: &str) {
        self.mark().await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .expect("a click");
        self.next_page().await;
    }

    /// Waits until the page has loaded after a navigation.
    async fn settle(&self) {
        for _ in 0..50 {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await
                .unwrap_or(Value::Null);
            if state == "complete" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A screenshot and the accessibility check of the page now shown.
    async fn look(&mut self, name: &str) {
        self.settle().await;
        self.shots += 1;
        let png = self.client.screenshot().await.expect("a screenshot");
        let file = self.screens.join(format!("{:02}-{name}.png", self.shots));
        std::fs::write(&file, png).expect("the screenshot is written");
        self.client
            .execute(&self.axe, vec![])
            .await
            .expect("axe-core is injected");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']})
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ' (' + v.impact + '): '
                        + v.nodes.map(n => n.target.join(' ')).join(', '))))
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        for v in found.as_array().into_iter().flatten() {
            self.violations
                .push(format!("{name}: {}", v.as_str().unwrap_or("?")));
        }
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .expect("its text")
    }

    /// A GET from inside the page (its cookies), as text.
    async fn fetch(&self, path: &str) -> String {
        let got = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(arguments[0]).then(r => r.text()).then(done).catch(e => done('failed: ' + e));",
                vec![json!(path)],
            )
            .await
            .expect("fetch runs");
        got.as_str().unwrap_or_default().to_owned()
    }
}

#[tokio::test]
async fn the_journey_in_a_real_browser() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let (Some(chromium), Some(chromedriver), Some(axe)) =
        (which("chromium"), which("chromedriver"), axe_script())
    else {
        let missing = "chromium, chromium-driver or axe-core is missing (run .ci/deps)";
        assert!(!ci, "{missing}");
        eprintln!("SKIPPED the portal's browser test: {missing}");
        return;
    };
    let site = site().await;
    let driver = start_driver(&chromedriver).await;
    let profile = tempfile::tempdir().expect("a profile folder");
    let client = connect(&driver, &chromium, profile.path()).await;
    let screens = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("portal-screens");
    let _ = std::fs::remove_dir_all(&screens);
    std::fs::create_dir_all(&screens).expect("the screenshot folder");
    let mut w = Walk {
        client,
        base: site.base.clone(),
        screens,
        shots: 0,
        axe,
        violations: Vec::new(),
    };

    // A new person signs up their org.
    w.goto("/").await;
    w.look("home").await;
    w.goto("/signup").await;
    w.look("signup").await;
    w.submit(
        "/signup",
        &[
            ("display_name", "Gina"),
            ("email", "gina@orchard.test"),
            ("password", "correct horse battery"),
            ("name", "Orchard"),
            ("slug", "orchard"),
            ("currency_code", "APPLE"),
            ("currency_name", "Apple"),
            ("scale", "2"),
        ],
    )
    .await;
    assert!(w.source().await.contains("Money in circulation"));
    w.look("dashboard").await;

    // A currency, with a mistake first.
    w.goto("/orgs/orchard/currencies").await;
    w.submit(
        "/orgs/orchard/currencies",
        &[("code", "hour"), ("name", "Hour"), ("scale", "0")],
    )
    .await;
    assert!(w.source().await.contains("aria-invalid=\"true\""));
    w.look("currency-refused").await;
    w.submit(
        "/orgs/orchard/currencies",
        &[("code", "HOUR"), ("name", "Hour"), ("scale", "0")],
    )
    .await;
    assert!(w.source().await.contains("HOUR"));
    w.look("currencies").await;

    // Scheduled issuance.
    w.goto("/orgs/orchard/issuance").await;
    w.submit(
        "/orgs/orchard/issuance",
        &[
            ("currency", "APPLE"),
            ("period", "monthly"),
            ("fixed_amount", "5.00"),
        ],
    )
    .await;
    assert!(w.source().await.contains("5.00"));
    w.look("issuance").await;

    // A connect code.
    w.goto("/orgs/orchard/rooms").await;
    w.submit("/orgs/orchard/rooms/code", &[]).await;
    assert!(w.text("#connect-code").await.starts_with("/connect "));
    w.look("rooms").await;

    // An invite link; the member joins through it.
    w.goto("/orgs/orchard/members").await;
    w.submit("/orgs/orchard/invites", &[]).await;
    let link = w.text("#invite-link").await;
    let invite_path = link
        .split_once("/join/")
        .map(|(_, code)| format!("/join/{code}"))
        .expect("an invite link");
    w.look("members").await;

    // Log out; the member signs up and joins through the link.
    w.submit("/logout", &[]).await;
    w.look("login").await;
    w.goto("/signup").await;
    w.submit(
        "/signup",
        &[
            ("display_name", "Max"),
            ("email", "max@orchard.test"),
            ("password", "correct horse battery"),
            ("name", "Max at home"),
            ("slug", "max-home"),
            ("currency_code", "MAX"),
            ("currency_name", "Max"),
            ("scale", "2"),
        ],
    )
    .await;
    w.goto(&invite_path).await;
    w.look("join").await;
    w.submit(&invite_path, &[]).await;
    assert!(w.source().await.contains("Orchard"), "joined");
    w.submit("/logout", &[]).await;

    // The admin opens a proposal and votes; then the member votes.
    w.log_in("gina@orchard.test").await;
    w.goto("/orgs/orchard/proposals").await;
    w.submit(
        "/orgs/orchard/proposals",
        &[
            ("title", "Buy a cider press"),
            ("description", "For the autumn."),
        ],
    )
    .await;
    let proposal = w
        .client
        .current_url()
        .await
        .expect("a url")
        .path()
        .to_owned();
    w.click("button[value='yes']").await;
    w.look("proposal").await;
    w.submit("/logout", &[]).await;
    w.log_in("max@orchard.test").await;
    w.goto(&proposal).await;
    w.click("button[value='yes']").await;
    assert!(w.text("#tally").await.contains("yes 2"), "both voted");
    w.look("proposal-voted").await;
    w.submit("/logout", &[]).await;

    // A payment through the API.
    seed_and_pay(
        &site,
        "orchard",
        "APPLE",
        "gina@orchard.test",
        "50.00",
        &[("max@orchard.test", "7.25", "cider for the party")],
    )
    .await;

    // Back in as the admin: the ledger shows the payment, the CSV holds it.
    w.log_in("gina@orchard.test").await;
    w.goto("/orgs/orchard").await;
    assert!(w.source().await.contains("50.00"), "the circulation moved");
    // "Verify now" is swapped in by htmx, without a new page.
    w.client
        .find(Locator::Css("form[action='/orgs/orchard/verify'] button"))
        .await
        .expect("the verify button")
        .click()
        .await
        .expect("a click");
    w.client
        .wait()
        .for_element(Locator::Css("#seal .notice"))
        .await
        .expect("the verified seal box");
    w.look("dashboard-verified").await;
    w.goto("/orgs/orchard/ledger").await;
    let ledger = w.source().await;
    assert!(ledger.contains("cider for the party") && ledger.contains("7.25"));
    w.look("ledger").await;
    let csv = w.fetch("/orgs/orchard/ledger/journal.csv").await;
    assert!(csv.contains("7.25,APPLE,cider for the party"), "{csv}");

    // The filtered journal, the rules, pledges (one opens its vote), projects, market, feed
    // and the admin's own page.
    w.goto("/orgs/orchard/ledger?kind=payment").await;
    assert!(w.source().await.contains("cider for the party"));
    w.look("ledger-filtered").await;
    w.goto("/orgs/orchard/governance").await;
    w.look("governance").await;
    w.goto("/orgs/orchard/pledges").await;
    w.submit(
        "/orgs/orchard/pledges",
        &[
            ("currency", "APPLE"),
            ("amount", "4.00"),
            ("description", "pruning the trees"),
        ],
    )
    .await;
    let at = w.client.current_url().await.expect("a url");
    assert!(at.path().starts_with("/orgs/orchard/proposals/"), "{at}");
    w.look("pledge-vote").await;
    w.goto("/orgs/orchard/pledges").await;
    assert!(w.source().await.contains("pruning the trees"));
    w.look("pledges").await;
    for page in ["projects", "market", "feed", "mine"] {
        w.goto(&format!("/orgs/orchard/{page}")).await;
        w.look(page).await;
    }

    // German.
    w.goto("/me").await;
    w.look("me").await;
    w.submit("/me/language", &[("language", "de")]).await;
    w.goto("/orgs/orchard/ledger").await;
    let ledger = w.source().await;
    assert!(
        ledger.contains("Kassenbuch") && ledger.contains("7,25"),
        "German"
    );
    w.look("ledger-de").await;
    w.goto("/orgs/orchard").await;
    assert!(w.source().await.contains("Geld im Umlauf"));
    w.look("dashboard-de").await;
    let csv = w.fetch("/orgs/orchard/ledger/journal.csv").await;
    assert!(csv.contains("7,25;APPLE;cider for the party"), "{csv}");
    w.goto("/orgs/orchard/governance").await;
    assert!(w.source().await.contains("Regeln ändern"));
    w.look("governance-de").await;
    w.goto("/orgs/orchard/mine").await;
    assert!(w.source().await.contains("Meine Seite"));
    w.look("mine-de").await;

    let Walk {
        client,
        violations,
        shots,
        ..
    } = w;
    let _ = client.close().await;
    drop(driver);
    assert!(shots >= 15, "{shots} screenshots");
    assert!(violations.is_empty(), "accessibility: {violations:#?}");
}
