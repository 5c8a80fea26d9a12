//! `coinsence up --citus`: the demo on a local Citus cluster (a coordinator and two workers on
//! 127.0.0.1, kept under the data directory's `citus/`), for people who want to see Coinsence
//! spread its orgs over database nodes. Everything else is `up`'s.

use coinsence_api::citus::LocalCitus;
use coinsence_api::cluster::ClusterOptions;

use crate::cli::UpArgs;
use crate::say::tr;

pub async fn run(args: &UpArgs) -> anyhow::Result<()> {
    // Ctrl-C ends the demo; the nodes are stopped below either way.
    let mut interrupts = crate::interrupt::Interrupts::install()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        interrupts.next().await;
        let _ = stop.send(true);
        eprintln!("\n{}", tr!("cli-up-stopping"));
    });
    let dir = args.data_dir.join("citus");
    eprintln!("{}", tr!("cli-up-starting-citus", dir = dir.display()));
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
            "{}",
            tr!(
                "cli-up-citus-nodes",
                coordinator = cluster.coordinator.port(),
                first = cluster.workers[0].port(),
                second = cluster.workers[1].port()
            )
        );
        // The command itself is machine text: the same in every language.
        let command = format!(
            "psql -h 127.0.0.1 -p {} -U postgres -c 'SELECT DISTINCT schema_name, nodename, nodeport FROM citus_schemas JOIN citus_shards USING (colocation_id)'",
            cluster.coordinator.port()
        );
        eprintln!("{}", tr!("cli-up-citus-where", command = command));
        crate::up::run_on(args, &url, stopped).await
    }
    .await;
    eprintln!("{}", tr!("cli-up-stopping-citus"));
    for node in cluster
        .workers
        .iter()
        .chain(std::iter::once(&cluster.coordinator))
    {
        node.stop()?;
    }
    result
}
