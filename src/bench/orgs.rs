//! `coinsence bench orgs`: how long a new org takes to be ready — its control-plane row, its
//! schema at the latest migration and its owner, committed — on a private durable (fsync on)
//! cluster unless `--database-url` is given. First one at a time with the spare schemas
//! prepared (signups as they come), then back to back (a burst that outruns the spares).

use std::time::{Duration, Instant};

use anyhow::bail;
use coinsence_api::Core;
use coinsence_api::domain::identity::User;
use coinsence_api::domain::orgs::NewOrg;
use coinsence_api::domain::tenancy::OrgSlug;
use hdrhistogram::Histogram;

use super::cli::OrgsBenchArgs;

pub async fn run(args: OrgsBenchArgs) -> anyhow::Result<()> {
    let (pool, _url, _cluster) = super::worker::database(args.database_url.as_deref(), 8).await?;
    let core = Core::new(pool);
    let prefix = format!("orgs-{:08x}", rand::random::<u32>());
    let owner = core
        .signup(
            &format!("owner@{prefix}.bench"),
            "bench-password".to_owned(),
            "Bench owner",
            None,
        )
        .await?
        .user;
    eprintln!(
        "creating {} orgs one at a time, then {} back to back ({} spare schemas kept) ...",
        args.orgs, args.orgs, core.spares.target
    );
    let mut n = 0;
    let mut calm = histogram()?;
    // The first org warms the connection and PostgreSQL's caches; it is not counted.
    for i in 0..=args.orgs {
        spares_ready(&core).await?;
        let took = create(&core, &owner, &prefix, &mut n).await?;
        if i > 0 {
            calm.record(took)?;
        }
    }
    report("one at a time", &calm);
    spares_ready(&core).await?;
    let mut burst = histogram()?;
    for _ in 0..args.orgs {
        burst.record(create(&core, &owner, &prefix, &mut n).await?)?;
    }
    report("back to back ", &burst);
    Ok(())
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

/// Creates the next org; returns how long it took, in µs.
async fn create(core: &Core, owner: &User, prefix: &str, n: &mut usize) -> anyhow::Result<u64> {
    *n += 1;
    let org = NewOrg {
        slug: OrgSlug::parse(&format!("{prefix}-{n}"))?,
        name: format!("Bench org {n}"),
        open: false,
        language: Default::default(),
    };
    let start = Instant::now();
    core.create_org(owner, org).await?;
    Ok(u64::try_from(start.elapsed().as_micros())?.max(1))
}

/// Waits until the background top-up has prepared every spare.
async fn spares_ready(core: &Core) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM control.spare_schemas")
            .fetch_one(&core.pool)
            .await?;
        if usize::try_from(count)? >= core.spares.target {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the spare schemas were not prepared within 30 s");
        }
        core.replenish_spares();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn report(what: &str, latency: &Histogram<u64>) {
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "new org ready, {what}: {} orgs, mean {:.1} ms, p50 {:.1} ms, p99 {:.1} ms (target <= 100 ms)",
        latency.len(),
        latency.mean() / 1000.0,
        ms(0.5),
        ms(0.99)
    );
}
