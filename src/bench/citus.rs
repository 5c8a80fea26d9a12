//! `coinsence bench citus`: `bench pay` (durable payments over HTTP, random accounts and one hot
//! account) against a local Citus cluster's coordinator and against a single node, in one run,
//! with their ratio; then payments per second with many busy orgs spread over the two workers.
//! Every PostgreSQL here is durable (fsync on) and on this machine, so the cluster's nodes share
//! its cores: the figure says what the extra hop costs, not what more machines would give.
//! The orgs are signed up from one address: run it with `COINSENCE_ORGS_PER_ADDRESS_PER_DAY=0`
//! (or a cap above `--orgs` plus 4).

use std::collections::BTreeMap;

use anyhow::Context;
use coinsence_api::citus::{self, LocalCitus};
use coinsence_api::cluster::{Cluster, ClusterOptions};
use coinsence_api::domain::tenancy::SchemaName;

use super::cli::{CitusBenchArgs, PayBenchArgs};
use super::pay::{self as bench, Seeded};

pub async fn run(args: CitusBenchArgs) -> anyhow::Result<()> {
    let durable = ClusterOptions {
        fsync: true,
        remove_on_exit: true,
    };
    let root = std::env::temp_dir().join(format!("coinsence-bench-citus-{}", std::process::id()));
    let (single_dir, citus_dir) = (root.join("single"), root.join("citus"));
    eprintln!("starting a single node and a Citus cluster (a coordinator and two workers) ...");
    let single =
        tokio::task::spawn_blocking(move || Cluster::start(&single_dir, durable)).await??;
    let cluster =
        tokio::task::spawn_blocking(move || LocalCitus::start(&citus_dir, durable)).await??;
    let citus_url = cluster.create_database("postgres").await?;
    let targets = [
        ("single node", single.url("postgres")),
        ("citus", citus_url.clone()),
    ];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;

    let mut rates: BTreeMap<(bool, &str), f64> = BTreeMap::new();
    for hot in [false, true] {
        for (name, url) in &targets {
            let pay = pay_args(&args, url, hot, args.clients);
            let t = bench::target(&pay).await?;
            eprintln!("{name}: seeding {} funded accounts ...", args.accounts);
            let seeded = bench::seed(&t, &client, args.accounts).await?;
            let r = bench::load(&t, &client, &seeded, &pay).await?;
            let rate = r.ok as f64 / r.elapsed.as_secs_f64();
            let ms = |q: f64| r.latency.value_at_quantile(q) as f64 / 1000.0;
            println!(
                "{name:>11} {}: {rate:.0} payments/s ({} failed), p50 {:.1} ms, p99 {:.1} ms",
                mode(hot),
                r.failed,
                ms(0.5),
                ms(0.99)
            );
            rates.insert((hot, name), rate);
        }
        let ratio = rates[&(hot, "citus")] / rates[&(hot, "single node")];
        println!(
            "      ratio {}: citus / single node = {ratio:.2}",
            mode(hot)
        );
    }

    // Many busy orgs at once, each with its own clients, spread over both workers.
    let per_org = (args.clients / args.orgs).max(1);
    let pay = pay_args(&args, &citus_url, false, per_org);
    let t = bench::target(&pay).await?;
    let accounts = (args.accounts / args.orgs).max(10);
    eprintln!(
        "citus: seeding {} orgs of {accounts} funded accounts ...",
        args.orgs
    );
    let mut orgs: Vec<Seeded> = Vec::new();
    let mut placed: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..args.orgs {
        let seeded = bench::seed(&t, &client, accounts).await?;
        let tenant = coinsence_api::Core::new(t.pool.clone())
            .tenant(&seeded.slug)
            .await?;
        let at = citus::placement(&t.pool, &SchemaName::for_tenant(tenant.id))
            .await?
            .context("an org schema that is not distributed")?;
        *placed.entry(at).or_default() += 1;
        orgs.push(seeded);
    }
    let loads = orgs
        .iter()
        .map(|seeded| bench::load(&t, &client, seeded, &pay));
    let results = futures::future::try_join_all(loads).await?;
    let ok: u64 = results.iter().map(|r| r.ok).sum();
    let failed: u64 = results.iter().map(|r| r.failed).sum();
    let secs = results
        .iter()
        .map(|r| r.elapsed.as_secs_f64())
        .fold(0.0, f64::max);
    println!(
        "      citus, {} busy orgs ({per_org} clients each; orgs per worker {placed:?}): {:.0} payments/s ({failed} failed)",
        args.orgs,
        ok as f64 / secs
    );
    Ok(())
}

fn mode(hot: bool) -> &'static str {
    if hot { "hot   " } else { "random" }
}

fn pay_args(args: &CitusBenchArgs, url: &str, hot: bool, clients: usize) -> PayBenchArgs {
    PayBenchArgs {
        clients,
        seconds: args.seconds,
        hot,
        accounts: args.accounts,
        url: None,
        database_url: Some(url.to_owned()),
        no_pgbench: true,
        overload: false,
        pool_size: args.pool_size,
        core: args.core.clone(),
    }
}
