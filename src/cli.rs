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
    Migrate(MigrateArgs),
    /// Create and list orgs.
    Org(OrgArgs),
    /// Run the background jobs: closing votes, scheduled issuance, outbox delivery, sealing.
    Worker(WorkerArgs),
    /// Check an org's journal against its published seals.
    Audit(AuditArgs),
    /// Benchmarks.
    #[cfg(feature = "bench")]
    Bench(crate::bench::cli::BenchArgs),
    /// A crash test of the whole service: load, kills and restarts, then every promise checked.
    #[cfg(feature = "bench")]
    Chaos(crate::bench::cli::ChaosArgs),
    /// The console chat: the chat commands in a terminal, as a member of one org.
    Chat(ChatArgs),
    /// Run the chat bots (Matrix, Discord, Telegram) and deliver the outbox to their rooms.
    // Boxed: its many platform flags make it far larger than every other command.
    Bots(Box<BotsArgs>),
}

/// Where the database is: a URL, or the private cluster of `coinsence up` under the data dir
/// (used while `up` runs, started for the command otherwise).
#[derive(Debug, Clone, Args)]
pub struct LocalDbArgs {
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    #[arg(long, env = "COINSENCE_DATA_DIR", default_value = ".coinsence")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub db: LocalDbArgs,
    /// The org to speak in (its slug).
    #[arg(long)]
    pub org: String,
    /// Your name at the console; a new name becomes a new member of an open org.
    #[arg(long = "as")]
    pub name: String,
    /// Where the API is reachable, for the instructions `/link` gives.
    #[arg(
        long,
        env = "COINSENCE_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct BotsArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Run the Matrix bot.
    #[arg(long)]
    pub matrix: bool,
    /// The homeserver, e.g. https://matrix.example.org
    #[arg(long, env = "MATRIX_HOMESERVER")]
    pub matrix_homeserver: Option<String>,
    /// The bot's Matrix user (@name:server, or the localpart with a password).
    #[arg(long, env = "MATRIX_USER")]
    pub matrix_user: Option<String>,
    #[arg(long, env = "MATRIX_PASSWORD", hide_env_values = true)]
    pub matrix_password: Option<String>,
    /// An access token instead of a password (needs --matrix-device-id and a full user id).
    #[arg(long, env = "MATRIX_ACCESS_TOKEN", hide_env_values = true)]
    pub matrix_token: Option<String>,
    #[arg(long, env = "MATRIX_DEVICE_ID")]
    pub matrix_device_id: Option<String>,
    /// Where the bot keeps its sync state, session and encryption keys.
    #[arg(
        long,
        env = "COINSENCE_MATRIX_STORE",
        default_value = ".coinsence/matrix"
    )]
    pub matrix_store: PathBuf,
    /// Encrypts the store at rest.
    #[arg(
        long,
        env = "COINSENCE_MATRIX_STORE_PASSPHRASE",
        hide_env_values = true
    )]
    pub matrix_store_passphrase: Option<String>,
    /// Run the Discord bot (needs --discord-token).
    #[arg(long)]
    pub discord: bool,
    /// The bot's token from Discord's developer portal.
    #[arg(long, env = "DISCORD_BOT_TOKEN", hide_env_values = true)]
    pub discord_token: Option<String>,
    /// Read `!pay`-style messages in server channels. Needs the privileged message-content
    /// intent enabled for the application in the developer portal (slash commands, direct
    /// messages and messages that mention the bot work without it).
    #[arg(long, env = "DISCORD_MESSAGE_CONTENT")]
    pub discord_message_content: bool,
    /// Send Discord REST calls to this base instead of https://discord.com (an HTTP proxy
    /// such as twilight-http-proxy).
    #[arg(long, env = "DISCORD_API_BASE")]
    pub discord_api_base: Option<String>,
    /// Run the Telegram bot (long polling).
    #[arg(long)]
    pub telegram: bool,
    /// The bot token from @BotFather (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = "TELEGRAM_BOT_TOKEN", hide_env_values = true)]
    pub telegram_token: Option<String>,
    /// Another Bot API server (self-hosted, or a test's fake), e.g. http://127.0.0.1:8081/
    #[arg(long, env = "TELEGRAM_API_URL")]
    pub telegram_api_url: Option<String>,
    /// Receive Telegram updates by webhook at this public HTTPS URL instead of long polling.
    #[arg(long, env = "TELEGRAM_WEBHOOK_URL")]
    pub telegram_webhook_url: Option<String>,
    /// Where the webhook server listens (behind the TLS proxy that serves the public URL).
    #[arg(
        long,
        env = "TELEGRAM_WEBHOOK_LISTEN",
        default_value = "127.0.0.1:8443"
    )]
    pub telegram_webhook_listen: std::net::SocketAddr,
    /// The secret Telegram sends with each webhook call (a-z, A-Z, 0-9, _ and -); random if unset.
    #[arg(long, env = "TELEGRAM_WEBHOOK_SECRET", hide_env_values = true)]
    pub telegram_webhook_secret: Option<String>,
    /// Where the API is reachable, for the instructions `/link` gives.
    #[arg(
        long,
        env = "COINSENCE_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
    /// How often pending outbox events are delivered, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub delivery_interval_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Migrate the control plane now and enqueue one job per org for the workers.
    #[arg(long, conflicts_with = "status")]
    pub background: bool,
    /// Show how many orgs are at the latest version and what the migration jobs are doing.
    #[arg(long)]
    pub status: bool,
    /// Change nothing: exit 0 when the control plane and every org are at the latest
    /// migration, 1 (naming what is behind) otherwise.
    #[arg(long, conflicts_with_all = ["background", "status"])]
    pub check: bool,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Show the job queues and the live workers, then exit.
    #[arg(long)]
    pub status: bool,
    /// Serve Prometheus metrics at http://<address>/metrics.
    #[arg(
        long,
        env = "COINSENCE_WORKER_METRICS",
        default_value = "127.0.0.1:9187"
    )]
    pub metrics_listen: std::net::SocketAddr,
    /// Deliver outbox events to the log (when no chat bots take them).
    #[arg(long)]
    pub outbox_log: bool,
    /// Jobs of one kind run at once in this process.
    #[arg(long, env = "COINSENCE_WORKER_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every seal of an org from its journal; report the first mismatch (exit 1).
    Verify {
        #[arg(long)]
        org: String,
    },
}

/// Where the database is, as for every command: a URL, else `coinsence up`'s private cluster
/// under the data directory (see `database.rs`).
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PostgreSQL URL, e.g. postgres://user:pass@host/db; without it, the private cluster of
    /// `coinsence up` under --data-dir (started for the command if `up` is not running).
    // Global: `coinsence org create ... --data-dir d` reads as it is typed.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    #[arg(
        long,
        env = "COINSENCE_DATA_DIR",
        default_value = ".coinsence",
        global = true
    )]
    pub data_dir: PathBuf,
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
    /// Serve `/metrics` on this address instead of on the public listener.
    #[arg(long, env = "COINSENCE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Seconds a client has to send a request's headers (also how long an idle keep-alive
    /// connection is kept).
    #[arg(long, env = "COINSENCE_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds without a byte moving on a connection before it is closed.
    #[arg(long, env = "COINSENCE_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Open connections at most (more wait to be accepted); lowered to fit the file limit.
    #[arg(long, env = "COINSENCE_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
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
    /// Start a local Citus cluster instead (a coordinator and two workers, on 127.0.0.1, under
    /// the data directory's `citus/`): each org's schema is placed on a worker.
    #[arg(long, env = "COINSENCE_UP_CITUS", conflicts_with = "database_url")]
    pub citus: bool,
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
    /// A one-time code that binds a chat room to the org: type `/connect <code>` in the room.
    ConnectCode {
        /// The org's slug.
        org: String,
    },
    /// Write an org's data (its schema, members, roles, chat bindings, seals) to one verifiable
    /// archive, as one consistent snapshot while the org keeps working.
    Export {
        /// The org's slug.
        slug: String,
        /// The archive to write.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Load an org archive into this instance (checked whole before anything is written).
    Import {
        /// The archive `org export` wrote.
        file: std::path::PathBuf,
        /// Import under this slug (a copy of an org that is here already).
        #[arg(long)]
        slug: Option<String>,
    },
}
