//! Benchmarks (`coinsence bench ...`) and the crash test (`coinsence chaos`): tools for whoever
//! develops or sizes Coinsence, built only with the `bench` feature (which also brings their
//! HTTP client and histograms), so a release build carries none of it.

pub mod cli;

mod chaos;
mod chat;
mod citus;
mod exchange;
mod migrate;
mod orgs;
mod overload;
mod pay;
mod portal;
mod seals;
mod worker;

use cli::{BenchArgs, BenchCommand};

pub use chaos::run as chaos;

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Pay(args) => pay::run(args).await,
        BenchCommand::Issuance(args) => worker::issuance(args).await,
        BenchCommand::Jobs(args) => worker::jobs(args).await,
        BenchCommand::Chat(args) => chat::run(args).await,
        BenchCommand::Orgs(args) => orgs::run(args).await,
        BenchCommand::Migrate(args) => migrate::run(args).await,
        BenchCommand::Citus(args) => citus::run(args).await,
        BenchCommand::Exchange(args) => exchange::run(args).await,
        BenchCommand::Seals(args) => seals::run(args).await,
        BenchCommand::Portal(args) => portal::run(args).await,
    }
}
