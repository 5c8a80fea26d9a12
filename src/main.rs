//! `coinsence`: the one binary. This file only composes; each subcommand lives in its module.

mod audit_cmd;
mod bench;
mod bench_chat;
mod bench_citus;
mod bench_orgs;
mod bench_overload;
mod bench_worker;
mod bots_cmd;
mod chaos;
mod chat_cmd;
mod cli;
mod demo;
mod migrate_cmd;
mod org_cmd;
mod server;
mod up;
mod up_citus;
mod worker_cmd;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // PostgreSQL's "already exists, skipping" notices are not news.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(format!(
                        "{},sqlx::postgres::notice=warn",
                        cli.log
                    ))
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        cli::Command::Up(args) => up::run(args).await,
        cli::Command::Serve(args) => server::serve_command(args).await,
        cli::Command::Migrate(args) => migrate_cmd::run(args).await,
        cli::Command::Org(args) => org_cmd::run(args).await,
        cli::Command::Worker(args) => worker_cmd::run(args).await,
        cli::Command::Audit(args) => audit_cmd::run(args).await,
        cli::Command::Bench(args) => bench::run(args).await,
        cli::Command::Chaos(args) => chaos::run(args).await,
        cli::Command::Chat(args) => chat_cmd::run(args).await,
        cli::Command::Bots(args) => bots_cmd::run(*args).await,
    };
    // An error is the operator's to read: its message and causes on one line, never a stack
    // backtrace (which `anyhow` would print from `main` whenever RUST_BACKTRACE is set).
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
