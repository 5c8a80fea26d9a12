//! The command line: every flag has an environment fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "coinsence",
    version,
    about = "Community currencies and their governance, from the chat rooms people already use."
)]
pub struct Cli {
    /// Log filter (tracing's EnvFilter syntax); RUST_LOG wins when set.
    #[arg(long, global = true, env = "COINSENCE_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything in one process on a private PostgreSQL, with a demo org.
    Up(UpArgs),
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Migrate the control plane and every org schema (resumable, safe to run twice).
    Migrate(DbArgs),
    /// Create and list orgs.
    Org(OrgArgs),
    /// Benchmarks.
    Bench(BenchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PostgreSQL URL, e.g. postgres://user:pass@host/db
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Connections in the pool.
    #[arg(long, env = "COINSENCE_DB_POOL", default_value_t = 32)]
    pub pool_size: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "COINSENCE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Use this PostgreSQL instead of starting a private one.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where the private PostgreSQL cluster keeps its data.
    #[arg(long, env = "COINSENCE_DATA_DIR", default_value = ".coinsence")]
    pub data_dir: PathBuf,
    #[arg(long, env = "COINSENCE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct OrgArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: OrgCommand,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an org owned by a user (created with a fresh token if the email is new).
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        /// Display name for a new owner.
        #[arg(long, default_value = "Owner")]
        owner_name: String,
        /// Admit members by invitation only.
        #[arg(long)]
        closed: bool,
    },
    /// List orgs.
    List,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable payments over HTTP, side by side with pgbench running the raw transfer script.
    Pay(PayBenchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PayBenchArgs {
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Every payment debits the same account.
    #[arg(long)]
    pub hot: bool,
    #[arg(long, default_value_t = 10_000)]
    pub accounts: usize,
    /// A running Coinsence server to load (needs --database-url of its database for seeding).
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Skip the pgbench side.
    #[arg(long)]
    pub no_pgbench: bool,
}
