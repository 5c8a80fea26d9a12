//! `coinsence migrate`: the control plane, then every org, with a progress bar on a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::DbArgs;

pub async fn run(args: DbArgs) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(&args.database_url, 4).await?;
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
