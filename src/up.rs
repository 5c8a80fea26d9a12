//! `coinsence up`: a private PostgreSQL under the data directory (unless DATABASE_URL is
//! given), migrations, the demo org on first run, the API, the worker and (on a terminal) the
//! console chat, until Ctrl-C stops it all.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};

use coinsence_api::Core;
use coinsence_api::cluster::Cluster;
use coinsence_api::domain::chat::ChatPlatform;
use coinsence_api::domain::identity::{ApiToken, User};
use coinsence_bots::console::{self, ConsoleSession};
use coinsence_bots::{Engine, EngineConfig};
use coinsence_worker::enqueue::JobFollowUps;
use coinsence_worker::{SystemClock, Worker, WorkerConfig};
use tokio::io::BufReader;
use tokio::sync::watch;

use crate::cli::UpArgs;
use crate::interrupt::Interrupts;
use crate::say::tr;
use crate::{database, demo, server};

/// The private cluster, shared between the command and its Ctrl-C handler: whoever stops it
/// first takes it, under the lock, so the other waits until it is down and finds nothing to do.
type SharedCluster = Arc<Mutex<Option<Cluster>>>;

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    if args.citus {
        return crate::up_citus::run(&args).await;
    }
    // Before anything starts: a Ctrl-C while the cluster starts must still stop it.
    let mut interrupts = Interrupts::install()?;
    let cluster: SharedCluster = Arc::new(Mutex::new(None));
    let (stop, stopped) = watch::channel(false);
    {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            interrupts.next().await;
            let _ = stop.send(true);
            eprintln!("\n{}", tr!("cli-up-stopping"));
            interrupts.next().await;
            // The second Ctrl-C: no more waiting for requests and jobs to finish. The cluster is
            // stopped (or its stop awaited) before the process ends, never left running.
            eprintln!("{}", tr!("cli-up-stopping-now"));
            let _ = tokio::task::spawn_blocking(move || stop_cluster(&cluster)).await;
            std::process::exit(130);
        });
    }
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None => {
            let dir = args.data_dir.join("postgres");
            eprintln!("{}", tr!("cli-up-starting-postgres", dir = dir.display()));
            let shared = cluster.clone();
            tokio::task::spawn_blocking(move || {
                // Held while it starts: a stop asked for meanwhile waits for the cluster to exist.
                let mut slot = shared.lock().unwrap_or_else(PoisonError::into_inner);
                let started = database::start_private(&dir)?;
                let url = started.url("postgres");
                *slot = Some(started);
                anyhow::Ok(url)
            })
            .await??
        }
    };
    let result = run_on(&args, &url, stopped).await;
    let stopped_cluster = tokio::task::spawn_blocking(move || stop_cluster(&cluster)).await?;
    result.and(stopped_cluster)
}

fn stop_cluster(cluster: &SharedCluster) -> anyhow::Result<()> {
    let mut slot = cluster.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(cluster) = slot.take() {
        eprintln!("{}", tr!("cli-up-stopping-postgres"));
        cluster.stop()?;
    }
    Ok(())
}

pub(crate) async fn run_on(
    args: &UpArgs,
    url: &str,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let until_stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // A Ctrl-C before the API serves abandons the preparation (each step is a transaction).
    let prepared = tokio::select! {
        prepared = prepare(args, url) => prepared?,
        () = until_stopped(stopped.clone()) => return Ok(()),
    };
    let (core, admin, token) = prepared;
    let billing = crate::payments::install(core, &args.billing)?;
    let core = billing.core;
    if core.topups_on() {
        tokio::spawn(coinsence_billing::run_applier(
            core.clone(),
            billing.stored.clone(),
            crate::payments::APPLY_EVERY,
            until_stopped(stopped.clone()),
        ));
    }
    let listener = server::bind(args.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("{}", tr!("cli-up-at", url = base));
    println!(
        "{}",
        tr!(
            "cli-up-demo-org",
            org = demo::SLUG,
            currency = demo::CURRENCY,
            name = admin.display_name,
            email = admin.email
        )
    );
    println!("{}", tr!("cli-up-admin-token", token = token.expose()));
    if args.database_url.is_none() {
        // The private cluster listens on a socket in the data directory: a bot needs this.
        println!("{}", tr!("cli-up-database", url = url));
        println!(
            "{}",
            tr!("cli-up-bots-beside", dir = args.data_dir.display())
        );
    }

    // The portal, and a one-time login for the demo admin (15 minutes, used once).
    let link = core.create_login_link(admin.id).await?;
    println!("{}", tr!("cli-up-portal", url = format!("{base}/")));
    println!(
        "{}",
        tr!(
            "cli-up-portal-login",
            name = admin.display_name,
            url = format!("{base}/login?code={}", link.code)
        )
    );
    println!(
        "{}",
        tr!(
            "cli-up-try",
            token = token.expose(),
            url = format!("{base}/v1/orgs/{}/accounts", demo::SLUG)
        )
    );
    let data_dir = args.data_dir.display();
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        println!("{}", tr!("cli-up-console-chat", name = demo::PEOPLE[0]));
    }
    println!(
        "{}",
        tr!("cli-up-chat-as-other", dir = data_dir, org = demo::SLUG)
    );
    println!("{}", crate::payments::status_line(core.topups_on()));
    // The last line: scripts (and the tests) read up to it and may stop reading there.
    println!(
        "{}",
        tr!(
            "cli-up-api-document",
            url = format!("{base}/v1/openapi.json")
        )
    );
    // One Ctrl-C stops both the API and the worker (which lets running jobs finish); the
    // console chat's read of the terminal is abandoned (`main` does not wait for it).
    // The outbox is left to `coinsence bots` (beside `up`, on its database): a sink here would
    // mark every event delivered, so a receipt for a payment made through the API would never
    // reach the payee's chat, while one made in chat sometimes did (whichever took it first).
    let worker = Worker::new(
        core.clone(),
        Arc::new(SystemClock),
        None,
        // A round a minute, to watch the exchange work.
        WorkerConfig {
            exchange_interval: std::time::Duration::from_secs(60),
            ..WorkerConfig::default()
        },
    );
    let worker = tokio::spawn(worker.run(until_stopped(stopped.clone())));
    if interactive {
        tokio::spawn(console_chat(core.clone(), base.clone()));
    }
    let served = server::serve(listener, core, billing.webhook, until_stopped(stopped)).await;
    match worker.await {
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "the worker stopped with an error")
        }
        Err(e) => tracing::error!(error = %e, "the worker panicked"),
        Ok(Ok(())) => {}
    }
    served
}

async fn prepare(args: &UpArgs, url: &str) -> anyhow::Result<(Core, User, ApiToken)> {
    let (pool, config) = args.core.connect(url, args.pool_size).await?;
    let summary = coinsence_api::migrate::migrate_all(&pool, |_, _| {}).await?;
    tracing::info!(orgs = summary.orgs, "migrated");
    // The job tables first: the API enqueues follow-up jobs (a proposal's deadline) in them.
    coinsence_worker::setup(&pool).await?;
    let core = Core::with_config(pool, config).with_follow_ups(Arc::new(JobFollowUps));
    let (admin, token) = demo::ensure(&core).await?;
    Ok((core, admin, token))
}

/// The console chat on this terminal, as the demo admin; the server keeps running when it ends.
async fn console_chat(core: Core, base: String) {
    let engine = Engine::new(
        core,
        EngineConfig {
            platform: ChatPlatform::Console,
            public_url: base,
        },
    );
    let session = ConsoleSession::for_org(demo::SLUG, demo::PEOPLE[0]);
    let done = console::run(
        &engine,
        &session,
        BufReader::new(tokio::io::stdin()),
        tokio::io::stdout(),
        "> ",
    )
    .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "console chat stopped");
    }
}
