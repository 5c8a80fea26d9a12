//! `coinsence bench portal`: an org with many members and a long journal, the portal served
//! beside the API as `serve` does, and every page of the journey fetched by many clients at
//! once; p50 and p99 per page, and each page's size.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context, bail};
use coinsence_api::Core;
use coinsence_api::domain::idempotency::IdempotencyKey;
use coinsence_api::domain::ids::UserId;
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::MoveRequest;
use coinsence_tenant_admin::PortalConfig;
use futures::StreamExt;
use hdrhistogram::Histogram;

use super::cli::PortalBenchArgs;
use super::worker::{bench_org, database};

/// The pages timed, after the org's slug (`/orgs/<slug>`).
const PAGES: &[&str] = &[
    "",
    "/ledger",
    "/ledger?kind=issuance",
    "/currencies",
    "/issuance",
    "/members",
    "/rooms",
    "/proposals",
    "/governance",
    "/pledges",
    "/projects",
    "/market",
    "/feed",
    "/mine",
    "/ledger/balances.csv",
];

pub async fn run(args: PortalBenchArgs) -> anyhow::Result<()> {
    let (pool, _, _cluster) = database(args.database_url.as_deref(), 32).await?;
    let core = Core::new(pool.clone());
    let (slug, admin) = bench_org(&core, "portal", "COIN").await?;

    eprintln!("adding {} members ...", args.members);
    let ids: Vec<UserId> = sqlx::query_scalar(
        "INSERT INTO control.users (email, password_hash, display_name)
         SELECT $1 || '-' || i || '@bench.test', '!', 'member ' || i FROM generate_series(1, $2) i
         RETURNING id",
    )
    .bind(&slug)
    .bind(i64::try_from(args.members)?)
    .fetch_all(&pool)
    .await?;
    core.admit_members(&admin, &ids).await?;

    eprintln!("writing {} journal entries ...", args.entries);
    let started = Instant::now();
    let issued = futures::stream::iter(0..args.entries)
        .map(|i| {
            let (core, admin) = (&core, &admin);
            let to = ids[i % ids.len().max(1)];
            async move {
                let key = IdempotencyKey::scoped("bench", "portal", &format!("entry-{i}"))?;
                let req = MoveRequest {
                    currency: "COIN".to_owned(),
                    to: AccountRef::Member(to),
                    amount: "1.00".to_owned(),
                    memo: format!("bench entry {i}"),
                };
                core.issue(admin, req, key).await.map(|_| ())
            }
        })
        .buffer_unordered(32)
        .filter(|r| futures::future::ready(r.is_err()))
        .count()
        .await;
    if issued > 0 {
        bail!("{issued} journal entries were refused");
    }
    eprintln!("  in {:.1} s", started.elapsed().as_secs_f64());
    sqlx::query("ANALYZE").execute(&pool).await?;

    let app = coinsence_api::http::router(core.clone()).merge(coinsence_tenant_admin::router(
        core.clone(),
        PortalConfig::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let cookie = log_in(&client, &base, &format!("owner@{slug}.bench")).await?;

    println!(
        "bench portal: {} members, {} journal entries, {} clients x {} requests per page",
        args.members, args.entries, args.clients, args.requests
    );
    println!(
        "{:<28} {:>9} {:>9} {:>10}",
        "page", "p50 ms", "p99 ms", "bytes"
    );
    for page in PAGES {
        let url = format!("{base}/orgs/{slug}{page}");
        // One warm-up, and the page's size.
        let size = fetch(&client, &url, &cookie).await?;
        let per_client = futures::future::try_join_all((0..args.clients).map(|_| {
            let (client, url, cookie) = (&client, &url, &cookie);
            async move {
                let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                for _ in 0..args.requests {
                    let at = Instant::now();
                    fetch(client, url, cookie).await?;
                    hist.record(u64::try_from(at.elapsed().as_micros())?.max(1))?;
                }
                anyhow::Ok(hist)
            }
        }))
        .await?;
        let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for h in &per_client {
            all.add(h)?;
        }
        let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
        let name = if page.is_empty() {
            "/ (overview)"
        } else {
            page
        };
        println!("{name:<28} {:>9.1} {:>9.1} {size:>10}", ms(0.5), ms(0.99));
    }
    Ok(())
}

/// A page's body size; anything but 200 is an error.
async fn fetch(client: &reqwest::Client, url: &str, cookie: &str) -> anyhow::Result<usize> {
    let r = client.get(url).header("cookie", cookie).send().await?;
    let status = r.status();
    let body = r.bytes().await?;
    if status != reqwest::StatusCode::OK {
        bail!("{url}: {status}");
    }
    Ok(body.len())
}

/// Logs in through the portal's form, as a browser does; the session cookie.
async fn log_in(client: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<String> {
    let form = client.get(format!("{base}/login")).send().await?;
    let key = set_cookie(&form, "cs_form").context("the login form's key")?;
    let page = form.text().await?;
    let marker = "name=\"_csrf\" value=\"";
    let at = page.find(marker).context("the login form's token")? + marker.len();
    let token = &page[at..at + page[at..].find('"').context("the token's end")?];
    let done = client
        .post(format!("{base}/login"))
        .header("cookie", key)
        .header("origin", base)
        .form(&[
            ("_csrf", token),
            ("email", email),
            ("password", "bench-password"),
        ])
        .send()
        .await?;
    set_cookie(&done, "cs_session").context("a session after login")
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}
