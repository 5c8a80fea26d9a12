//! How every command finds its database, the same way: `--database-url` (or `DATABASE_URL`),
//! else the private cluster that `coinsence up` keeps under the data directory: the running one,
//! or started for the command and stopped after it.

use std::path::Path;

use coinsence_api::cluster::{Cluster, ClusterOptions};

use crate::say::tr;

/// The database a command uses, and the cluster it started for it (if it did).
pub struct Database {
    pub url: String,
    started: Option<Cluster>,
}

impl Database {
    pub async fn find(database_url: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(url) = database_url {
            return Ok(Self {
                url: url.to_owned(),
                started: None,
            });
        }
        let dir = data_dir.join("postgres");
        if let Some(url) = Cluster::running_url(&dir, "postgres")
            && coinsence_api::cluster::connect(&url, 1).await.is_ok()
        {
            return Ok(Self { url, started: None });
        }
        if !dir.join("data").exists() {
            anyhow::bail!(tr!("cli-no-database", dir = data_dir.display()));
        }
        let cluster = tokio::task::spawn_blocking(move || start_private(&dir)).await??;
        Ok(Self {
            url: cluster.url("postgres"),
            started: Some(cluster),
        })
    }

    /// Stops the cluster if this command started it.
    pub async fn close(self) -> anyhow::Result<()> {
        if let Some(cluster) = self.started {
            tokio::task::spawn_blocking(move || cluster.stop()).await??;
        }
        Ok(())
    }
}

/// Starts (creating on first use) the private, durable cluster at `dir`; says where it lives
/// when that is not `dir` itself (as root, where the `postgres` user cannot enter `dir`).
pub fn start_private(dir: &Path) -> anyhow::Result<Cluster> {
    let cluster = Cluster::start(
        dir,
        ClusterOptions {
            fsync: true,
            remove_on_exit: false,
        },
    )?;
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        eprintln!(
            "{}",
            tr!(
                "cli-cluster-elsewhere",
                cluster = cluster.dir().display(),
                dir = dir.display()
            )
        );
    }
    Ok(cluster)
}

/// Runs `body` on the database of `db`, then stops the cluster if it was started for it.
pub async fn with<T, Fut>(
    db: &crate::cli::DbArgs,
    body: impl FnOnce(String) -> Fut,
) -> anyhow::Result<T>
where
    Fut: Future<Output = anyhow::Result<T>>,
{
    let database = Database::find(db.database_url.as_deref(), &db.data_dir).await?;
    let result = body(database.url.clone()).await;
    let closed = database.close().await;
    let value = result?;
    closed?;
    Ok(value)
}
