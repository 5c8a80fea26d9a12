//! `coinsence`: the one binary. This file only composes; each subcommand lives in its module.

mod audit_cmd;
mod audit_remote;
#[cfg(feature = "bench")]
mod bench;
mod bots_cmd;
mod chat_cmd;
mod cli;
mod database;
mod demo;
mod interrupt;
mod logs;
mod migrate_cmd;
mod org_cmd;
mod payments;
mod say;
mod server;
mod up;
mod up_citus;
mod worker_cmd;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Every https client of the process (Stripe, `audit verify --url`) on one TLS provider.
    coinsence_billing::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!(
                "{}",
                say::error(&anyhow::Error::new(e).context("cannot start the async runtime"))
            );
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run());
    // Not waiting for what is left: the console chat's read of the terminal runs on a blocking
    // thread that only a line (or Ctrl-D) would end, and every command has finished its own
    // work (the server drained, the worker's jobs done, the cluster stopped) by now.
    runtime.shutdown_background();
    code
}

async fn run() -> ExitCode {
    let cli = cli::Cli::parse();
    say::init(cli.lang);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // PostgreSQL's "already exists, skipping" notices are not news.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!(
                "{},sqlx::postgres::notice=warn,{}",
                cli.log,
                coinsence_bots::LOG_DIRECTIVES
            ))
        });
    logs::init(
        filter,
        logs::destination(
            &cli.command,
            std::io::stdin().is_terminal(),
            std::io::stderr().is_terminal(),
        ),
    );
    let result = match cli.command {
        cli::Command::Up(args) => up::run(args).await,
        cli::Command::Serve(args) => server::serve_command(args).await,
        cli::Command::Migrate(args) => migrate_cmd::run(args).await,
        cli::Command::Org(args) => org_cmd::run(args).await,
        cli::Command::Worker(args) => worker_cmd::run(args).await,
        cli::Command::Audit(args) => audit_cmd::run(args).await,
        #[cfg(feature = "bench")]
        cli::Command::Bench(args) => bench::run(args).await,
        #[cfg(feature = "bench")]
        cli::Command::Chaos(args) => bench::chaos(args).await,
        cli::Command::Chat(args) => chat_cmd::run(args).await,
        cli::Command::Bots(args) => bots_cmd::run(*args).await,
    };
    // An error is the operator's to read: its message and causes on one line, never a stack
    // backtrace (which `anyhow` would print from `main` whenever RUST_BACKTRACE is set).
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", say::error(&e));
            ExitCode::FAILURE
        }
    }
}
