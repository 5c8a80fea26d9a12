//! The flags of `coinsence bench ...` and `coinsence chaos`.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable payments over HTTP, side by side with pgbench running the raw transfer script.
    Pay(PayBenchArgs),
    /// One period of scheduled issuance for one org with many members.
    Issuance(IssuanceBenchArgs),
    /// Pickup latency and throughput of no-op jobs through the worker's queue.
    Jobs(JobsBenchArgs),
    /// Chat command to reply through the engine (the console path, in process).
    Chat(ChatBenchArgs),
    /// New orgs, one after another: how long until each is ready.
    Orgs(OrgsBenchArgs),
    /// Thousands of orgs on one node and a new tenant migration: how long `migrate` takes over
    /// all of them, that it resumes after a kill, and the catalog's size and memory.
    Migrate(MigrateBenchArgs),
    /// `bench pay` on a local Citus cluster and on a single node, in one run; then many busy
    /// orgs spread over the Citus workers.
    Citus(CitusBenchArgs),
    /// One exchange pair with 10,000 open orders from two orgs: the clearing time and the
    /// settlement throughput in fills per second.
    Exchange(ExchangeBenchArgs),
    /// The journal's Merkle log (issue 20): proof sizes and verification time over a million
    /// entries, and the cost of sealing with the tree against the hash chain alone.
    Seals(SealsBenchArgs),
    /// Every page of the portal's journey for an org with many members and a long journal,
    /// fetched by many clients at once: p50 and p99 per page, and its size.
    Portal(PortalBenchArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ExchangeBenchArgs {
    /// Open orders in the book, half from each org.
    #[arg(long, default_value_t = 10_000)]
    pub orders: usize,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SealsBenchArgs {
    /// Journal entries (in memory, and in the database).
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: i64,
    /// Proofs made and verified of each kind.
    #[arg(long, default_value_t = 10_000)]
    pub proofs: usize,
    /// Measured seals of 10,000 entries each way.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Skip the database part.
    #[arg(long)]
    pub memory_only: bool,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PortalBenchArgs {
    #[arg(long, default_value_t = 10_000)]
    pub members: usize,
    /// Journal entries (issuance to the members in turn).
    #[arg(long, default_value_t = 100_000)]
    pub entries: usize,
    /// Clients fetching each page at once.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Requests per client and page.
    #[arg(long, default_value_t = 10)]
    pub requests: usize,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CitusBenchArgs {
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Funded accounts per org.
    #[arg(long, default_value_t = 1000)]
    pub accounts: usize,
    /// Busy orgs paying at once on the Citus cluster.
    #[arg(long, default_value_t = 20)]
    pub orgs: usize,
    /// Database connections in total of each in-process server (as `bench pay`).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(2..))]
    pub pool_size: u32,
    /// The in-process servers' core, as `serve` runs it.
    #[command(flatten)]
    pub core: crate::cli::CoreArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateBenchArgs {
    #[arg(long, default_value_t = 5000)]
    pub orgs: usize,
    /// A scratch database (the bench's migrations stay recorded there).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Internal: migrate every org up to this bench migration (the process the bench kills).
    #[arg(long, hide = true)]
    pub child: Option<i64>,
    /// Internal: how many schemas the child migrates at once (its pool's size).
    #[arg(long, hide = true, default_value_t = coinsence_api::migrate::MAX_CONCURRENT_SCHEMAS)]
    pub at_once: usize,
}

#[derive(Debug, Clone, Args)]
pub struct OrgsBenchArgs {
    #[arg(long, default_value_t = 100)]
    pub orgs: usize,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct IssuanceBenchArgs {
    #[arg(long, default_value_t = 100_000)]
    pub members: usize,
    /// Also take a demurrage fee in the same period (basis points).
    #[arg(long, default_value_t = 0)]
    pub demurrage_bp: i32,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct JobsBenchArgs {
    #[arg(long, default_value_t = 10_000)]
    pub jobs: usize,
    /// Jobs run at once by the worker.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ChatBenchArgs {
    /// Commands to time (after a warm-up of 100).
    #[arg(long, default_value_t = 1000)]
    pub commands: usize,
    /// Database connections in total (half for the hot path), as for `serve`.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..))]
    pub pool_size: u32,
    /// The core as `serve` runs it.
    #[command(flatten)]
    pub core: crate::cli::CoreArgs,
    /// Use this PostgreSQL instead of a private, durable one.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
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
    /// Database connections in total of the in-process server (half for the hot path), as for
    /// `serve`; the default keeps the 64 + 64 the bench always had.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(2..))]
    pub pool_size: u32,
    /// The in-process server's core, as `serve` runs it.
    #[command(flatten)]
    pub core: crate::cli::CoreArgs,
    /// Then offer twice the rate just sustained, at a steady pace whatever the answers, and
    /// report what was accepted, what was shed (503) and how fast each was answered.
    #[arg(long)]
    pub overload: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ChaosArgs {
    /// Clients paying at once.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// How long the load runs; the faults come at 1/4, 1/2 and 3/4 of it.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Funded member accounts the clients pay between.
    #[arg(long, default_value_t = 40)]
    pub accounts: usize,
    /// Which runs (comma separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "payments,issuance,votes"
    )]
    pub scenario: Vec<ChaosScenario>,
    /// Run on a local Citus cluster (a coordinator and two workers): the service talks to the
    /// coordinator, and the database crash is the worker that holds the org.
    #[arg(long)]
    pub citus: bool,
    /// Internal: the one step a child process runs (and is killed in), instead of a scenario.
    #[arg(long, value_enum, hide = true, requires_all = ["database_url", "org"])]
    pub child: Option<ChaosChild>,
    #[arg(long, hide = true)]
    pub database_url: Option<String>,
    #[arg(long, hide = true)]
    pub org: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChaosChild {
    /// The worker's scheduled issuance for one org, in small chunks.
    Issuance,
    /// The worker's closing of due proposals for one org, a day ahead.
    CloseDue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChaosScenario {
    /// Random payments with keys; the server killed twice, PostgreSQL restarted once.
    Payments,
    /// Weeks of scheduled issuance for thousands of members, its runner killed mid-period.
    Issuance,
    /// Hundreds of due proposals that issue money, their closer killed mid-run.
    Votes,
}
