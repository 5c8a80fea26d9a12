//! `coinsence migrate`: the control plane, then every org, with a progress bar on a terminal.
//! `--background` migrates the control plane and enqueues one job per org for the workers;
//! `--status` shows how far that got; `--check` changes nothing and fails while anything is behind.

use std::io::IsTerminal;

use coinsence_api::domain::ids::TenantId;
use coinsence_worker::jobs::{Job, MigrateTenant};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;

use crate::cli::MigrateArgs;

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    crate::database::with(&args.db, |url| run_on(&args, url)).await
}

async fn run_on(args: &MigrateArgs, url: String) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(&url, 4).await?;
    if args.background {
        return background(&pool).await;
    }
    if args.status {
        return status(&pool).await;
    }
    if args.check {
        return check(&pool).await;
    }
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} orgs {elapsed} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let summary = coinsence_api::migrate::migrate_all(&pool, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await?;
    bar.finish_and_clear();
    println!(
        "migrated control plane and {} orgs: {} updated, {} already up to date, {} failed",
        summary.orgs, summary.migrated, summary.up_to_date, summary.failed
    );
    if summary.failed > 0 {
        anyhow::bail!(
            "{} orgs failed to migrate (see the log); run `coinsence migrate` again to retry them",
            summary.failed
        );
    }
    Ok(())
}

async fn background(pool: &PgPool) -> anyhow::Result<()> {
    coinsence_api::migrate::migrate_control(pool).await?;
    coinsence_worker::setup(pool).await?;
    let target = coinsence_api::migrate::tenant_target_version();
    let behind: Vec<TenantId> = coinsence_api::migrate::tenant_versions(pool)
        .await?
        .into_iter()
        .filter(|(_, v)| *v < target)
        .map(|(id, _)| id)
        .collect();
    let n = coinsence_worker::enqueue::enqueue_migrations(pool, &behind, target).await?;
    println!(
        "control plane migrated; {} orgs behind version {target}: {n} migration jobs enqueued \
         ({} already waiting). Workers run them; see `coinsence migrate --status`.",
        behind.len(),
        behind.len() - n
    );
    Ok(())
}

async fn status(pool: &PgPool) -> anyhow::Result<()> {
    let target = coinsence_api::migrate::tenant_target_version();
    let all = coinsence_api::migrate::tenant_versions(pool).await?;
    let done = all.iter().filter(|(_, v)| *v >= target).count();
    println!(
        "{done}/{} orgs at tenant version {target} ({} behind)",
        all.len(),
        all.len() - done
    );
    coinsence_worker::setup(pool).await?;
    if let Some(c) = coinsence_worker::status::job_counts(pool)
        .await?
        .into_iter()
        .find(|c| c.kind == MigrateTenant::NAME)
    {
        println!(
            "migration jobs: {} queued, {} running, {} done, {} failed, {} retrying",
            c.queued, c.running, c.done, c.failed, c.retrying
        );
    }
    Ok(())
}

/// The orgs named when some are behind (the rest are counted).
const NAMED: usize = 10;

async fn check(pool: &PgPool) -> anyhow::Result<()> {
    let pending = coinsence_api::migrate::pending(pool).await?;
    let target = coinsence_api::migrate::tenant_target_version();
    if pending.is_current() {
        println!(
            "current: control plane and {} orgs at tenant version {target}",
            pending.org_count
        );
        return Ok(());
    }
    let versions = |v: &[i64]| {
        v.iter()
            .map(|v| format!("{v:04}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !pending.control.is_empty() {
        println!(
            "control plane behind: {} pending",
            versions(&pending.control)
        );
    }
    for org in pending.orgs.iter().take(NAMED) {
        println!(
            "org {} (id {}) at version {}: {} pending",
            org.slug,
            org.tenant,
            org.version,
            versions(&org.missing)
        );
    }
    if pending.orgs.len() > NAMED {
        println!("... and {} more orgs behind", pending.orgs.len() - NAMED);
    }
    anyhow::bail!(
        "schema not current ({} of {} orgs behind{}); run `coinsence migrate`",
        pending.orgs.len(),
        pending.org_count,
        if pending.control.is_empty() {
            ""
        } else {
            ", control plane behind"
        }
    )
}
