//! `coinsence bench exchange`: one pair with 10,000 open orders from two orgs (half from each),
//! on a private durable (fsync on) cluster unless `--database-url` is given. Reports the
//! clearing time (the matcher alone over the whole book, and the whole cut: holding each org's
//! orders in its own transaction, clearing, writing the receipt) and the settlement throughput
//! in fills per second (both orgs' ledgers, each in its own transaction, committed).

use std::time::Instant;

use anyhow::Context as _;
use coinsence_api::Core;
use coinsence_api::domain::exchange::book::Pair;
use coinsence_api::domain::exchange::matcher::{BookOrder, Side, clear};
use coinsence_api::domain::exchange::orders::{GoodFor, NewOrder};
use coinsence_api::domain::exchange::price::Price;
use coinsence_api::domain::identity::User;
use coinsence_api::domain::ids::UserId;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_api::domain::ledger::{AccountRef, CurrencyCode};
use coinsence_api::domain::orgs::Member;
use futures::StreamExt;
use rand::Rng;

use super::cli::ExchangeBenchArgs;
use super::worker::{bench_org, database};

pub async fn run(args: ExchangeBenchArgs) -> anyhow::Result<()> {
    let (pool, _url, _cluster) = database(args.database_url.as_deref(), 32).await?;
    let core = Core::new(pool.clone());
    let (a_slug, a) = bench_org(&core, "exa", "EXA").await?;
    let (b_slug, b) = bench_org(&core, "exb", "EXB").await?;
    for (admin, code) in [(&a, "EXA"), (&b, "EXB")] {
        // What a passed listing vote writes; generous limits, so that only the book decides.
        sqlx::query(
            "INSERT INTO control.exchange_listings
                 (tenant_id, currency_code, scale, trustline, max_out_per_round, proposal_id)
             VALUES ($1, $2, 2, 1000000000, 1000000000000, 0)",
        )
        .bind(admin.tenant.id)
        .bind(code)
        .execute(&pool)
        .await?;
    }
    let per_org = args.orders / 2;
    let members_per_org = per_org.div_ceil(5).max(1);
    eprintln!(
        "two orgs, {members_per_org} members each, {} open orders ...",
        per_org * 2
    );
    let a_members = members(&core, &a, &a_slug, "EXA", members_per_org).await?;
    let b_members = members(&core, &b, &b_slug, "EXB", members_per_org).await?;
    let mut jobs = Vec::with_capacity(per_org * 2);
    let mut rng = rand::rng();
    for i in 0..per_org {
        for (members, sell, buy) in [(&a_members, "EXA", "EXB"), (&b_members, "EXB", "EXA")] {
            let m = members[i % members.len()].clone();
            let order = NewOrder {
                sell: sell.to_owned(),
                amount: format!("{}", rng.random_range(1..=20)),
                buy: buy.to_owned(),
                limit: format!("{:.2}", f64::from(rng.random_range(80..=120u32)) / 100.0),
                good_for: Some(GoodFor::Cancel),
            };
            jobs.push((m, order, format!("bench-{sell}-{i}")));
        }
    }
    let placed = futures::stream::iter(jobs)
        .map(|(m, order, key)| {
            let core = core.clone();
            async move {
                let key = IdempotencyKey::scoped("bench", "exchange", &key)?;
                core.place_order(&m, order, Some(key)).await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let placed = placed.into_iter().collect::<Result<Vec<_>, _>>()?.len();

    // The matcher alone, over the same book shape.
    let book: Vec<BookOrder> = (0..placed)
        .map(|i| {
            let limit = Price::new(rng.random_range(80..=120u64), 100)
                .map_err(|e| anyhow::anyhow!("price: {e:?}"))?;
            Ok(BookOrder {
                id: i as u64,
                side: if i % 2 == 0 {
                    Side::SellBase
                } else {
                    Side::SellQuote
                },
                amount: rng.random_range(100..=2000),
                limit,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let start = Instant::now();
    let runs = 20;
    for seed in 0..runs {
        clear(&book, None, seed).map_err(|e| anyhow::anyhow!("clear: {e:?}"))?;
    }
    let matcher_ms = start.elapsed().as_secs_f64() * 1000.0 / runs as f64;

    let pair = Pair::of(CurrencyCode::parse("EXA")?, CurrencyCode::parse("EXB")?);
    let start = Instant::now();
    let receipt = core
        .cut_round(&pair, chrono::Utc::now())
        .await?
        .context("the pair does not trade")?;
    let cut_ms = start.elapsed().as_secs_f64() * 1000.0;
    let fills = receipt.fills.iter().filter(|f| f.sold > 0).count();
    let start = Instant::now();
    core.settle_round(receipt.id).await?;
    let settle = start.elapsed().as_secs_f64();
    println!(
        "clearing {placed} open orders: matcher {matcher_ms:.1} ms, the whole cut (hold in both \
         orgs, clear, receipt) {cut_ms:.1} ms (target <= 50 ms)"
    );
    println!(
        "settlement: {} orders, {fills} filled, in {:.0} ms: {:.0} fills/s, {:.0} orders/s \
         (target >= 5,000 fills/s, durable)",
        receipt.fills.len(),
        settle * 1000.0,
        fills as f64 / settle,
        receipt.fills.len() as f64 / settle
    );
    Ok(())
}

/// `n` members who joined the admin's (open) org, each issued 1,000 of `code`.
async fn members(
    core: &Core,
    admin: &Member,
    slug: &str,
    code: &str,
    n: usize,
) -> anyhow::Result<Vec<Member>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "INSERT INTO control.users (email, password_hash, display_name)
         SELECT $1 || '-' || i || '@bench.test', '!', 'member ' || i FROM generate_series(1, $2) i
         RETURNING id, email, display_name",
    )
    .bind(format!(
        "{}-{:08x}",
        code.to_lowercase(),
        rand::random::<u32>()
    ))
    .bind(i64::try_from(n)?)
    .fetch_all(&core.pool)
    .await?;
    let joined = futures::stream::iter(rows)
        .map(|(id, email, display_name)| {
            let core = core.clone();
            async move {
                let user = User {
                    id: UserId(id),
                    email,
                    display_name,
                    language: None,
                };
                let member = core.join(&user, slug).await?;
                core.issue(
                    admin,
                    MoveRequest {
                        currency: code.to_owned(),
                        to: AccountRef::Member(user.id),
                        amount: "1000".to_owned(),
                        memo: "bench".to_owned(),
                    },
                    IdempotencyKey::scoped("bench", "grant", &id.to_string())?,
                )
                .await?;
                Ok::<_, coinsence_api::Error>(member)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    Ok(joined.into_iter().collect::<Result<Vec<_>, _>>()?)
}
