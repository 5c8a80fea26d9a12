//! `coinsence migrate`: the control plane, then every org, with a progress bar on a terminal.
//! `--background` migrates the control plane and enqueues one job per org for the workers;
//! `--status` shows how far that got; `--check` changes nothing and fails while anything is behind.

use std::io::IsTerminal;

use coinsence_api::domain::ids::TenantId;
use coinsence_worker::jobs::{Job, MigrateTenant};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;

use crate::cli::MigrateArgs;
use crate::say::tr;

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
        "{}",
        tr!(
            "cli-migrated",
            orgs = summary.orgs,
            updated = summary.migrated,
            current = summary.up_to_date,
            failed = summary.failed
        )
    );
    if summary.failed > 0 {
        anyhow::bail!(tr!("cli-migrate-failed", failed = summary.failed));
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
        "{}",
        tr!(
            "cli-migrate-enqueued",
            behind = behind.len(),
            target = target,
            enqueued = n,
            waiting = behind.len() - n
        )
    );
    Ok(())
}

async fn status(pool: &PgPool) -> anyhow::Result<()> {
    let target = coinsence_api::migrate::tenant_target_version();
    let all = coinsence_api::migrate::tenant_versions(pool).await?;
    let done = all.iter().filter(|(_, v)| *v >= target).count();
    println!(
        "{}",
        tr!(
            "cli-migrate-status",
            done = done,
            orgs = all.len(),
            target = target,
            behind = all.len() - done
        )
    );
    coinsence_worker::setup(pool).await?;
    if let Some(c) = coinsence_worker::status::job_counts(pool)
        .await?
        .into_iter()
        .find(|c| c.kind == MigrateTenant::NAME)
    {
        println!(
            "{}",
            tr!(
                "cli-migrate-jobs",
                queued = c.queued,
                running = c.running,
                done = c.done,
                failed = c.failed,
                retrying = c.retrying
            )
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
            "{}",
            tr!(
                "cli-migrate-current",
                orgs = pending.org_count,
                target = target
            )
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
            "{}",
            tr!(
                "cli-migrate-control-behind",
                versions = versions(&pending.control)
            )
        );
    }
    for org in pending.orgs.iter().take(NAMED) {
        println!(
            "{}",
            tr!(
                "cli-migrate-org-behind",
                org = org.slug,
                id = org.tenant,
                version = org.version,
                versions = versions(&org.missing)
            )
        );
    }
    if pending.orgs.len() > NAMED {
        println!(
            "{}",
            tr!(
                "cli-migrate-more-behind",
                count = pending.orgs.len() - NAMED
            )
        );
    }
    let (behind, orgs) = (pending.orgs.len(), pending.org_count);
    if pending.control.is_empty() {
        anyhow::bail!(tr!("cli-migrate-not-current", behind = behind, orgs = orgs))
    }
    anyhow::bail!(tr!(
        "cli-migrate-not-current-control",
        behind = behind,
        orgs = orgs
    ))
}
