//! `coinsence up --citus`: the demo on a local Citus cluster (a coordinator and two workers on
//! 127.0.0.1, kept under the data directory's `citus/`), for people who want to see Coinsence
//! spread its orgs over database nodes. Everything else is `up`'s.

use coinsence_api::citus::LocalCitus;
use coinsence_api::cluster::ClusterOptions;

use crate::cli::UpArgs;

pub async fn run(args: &UpArgs) -> anyhow::Result<()> {
    // Ctrl-C ends the demo; the nodes are stopped below either way.
    let mut interrupts = crate::interrupt::Interrupts::install()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        interrupts.next().await;
        let _ = stop.send(true);
        eprintln!("\nstopping");
    });
    let dir = args.data_dir.join("citus");
    eprintln!(
        "starting Citus (a coordinator and two workers) in {}",
        dir.display()
    );
    let cluster = tokio::task::spawn_blocking(move || {
        LocalCitus::start(
            &dir,
            ClusterOptions {
                fsync: true,
                remove_on_exit: false,
            },
        )
    })
    .await??;
    let result = async {
        let url = cluster.create_database("postgres").await?;
        eprintln!(
            "Citus coordinator on 127.0.0.1:{}, workers on 127.0.0.1:{} and 127.0.0.1:{}",
            cluster.coordinator.port(),
            cluster.workers[0].port(),
            cluster.workers[1].port()
        );
        eprintln!(
            "where each org is: psql -h 127.0.0.1 -p {} -U postgres -c 'SELECT DISTINCT schema_name, nodename, nodeport FROM citus_schemas JOIN citus_shards USING (colocation_id)'",
            cluster.coordinator.port()
        );
        crate::up::run_on(args, &url, stopped).await
    }
    .await;
    eprintln!("stopping Citus");
    for node in cluster
        .workers
        .iter()
        .chain(std::iter::once(&cluster.coordinator))
    {
        node.stop()?;
    }
    result
}
