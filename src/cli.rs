//! The command line: every flag has an environment fallback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use coinsence_api::CoreConfig;
use coinsence_api::config::{
    HashingConfig, OrgCaps, QueueConfig, QueueLimits, TokenTerms, split_pool,
};
use coinsence_api::http::HttpConfig;
use coinsence_api::http::limits::LimitConfig;
use sqlx::PgPool;

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
    /// The language of the messages for people (en, de); else the shell's locale (LC_ALL,
    /// LC_MESSAGES, LANG: de* is German), else English.
    #[arg(long, global = true, env = "COINSENCE_LANG")]
    pub lang: Option<coinsence_api::i18n::Lang>,
    /// Where the database is, for every command: written before the command's name or after
    /// it, as one likes (clap hands a global flag's value to the command that reads it).
    #[command(flatten)]
    pub db: SharedDbArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The database flags every command shares, accepted anywhere on the line. Each command reads
/// them through its own arguments (`DbArgs`, `UpArgs`), which carry the same ids.
#[derive(Debug, Clone, Args)]
pub struct SharedDbArgs {
    /// PostgreSQL URL; without it, the private cluster of `coinsence up` under --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Where `coinsence up` keeps its private cluster (and logs).
    #[arg(
        long,
        env = "COINSENCE_DATA_DIR",
        default_value = ".coinsence",
        global = true
    )]
    pub data_dir: PathBuf,
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

#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub core: CoreArgs,
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
    #[command(flatten)]
    pub core: CoreArgs,
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
    /// After a restart, commands that arrived while the bot was away run if they are at most
    /// this old (seconds); older ones are answered "please send it again".
    #[arg(long, env = "COINSENCE_CHAT_AWAY_WINDOW", default_value_t = 3600)]
    pub away_window_secs: u64,
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
    #[command(flatten)]
    pub core: CoreArgs,
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
    /// Seconds between a new exchange pair's rounds (`coinsence up` uses a minute).
    #[arg(long, env = "COINSENCE_EXCHANGE_INTERVAL", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub exchange_interval: u64,
    /// Post an org's latest signed tree head to its bound rooms (a witness line members can
    /// check the history against) at most once per this many seconds; 0: never.
    #[arg(long, env = "COINSENCE_WITNESS_EVERY_SECS", default_value_t = 3600)]
    pub witness_every_secs: u64,
    #[command(flatten)]
    pub billing: coinsence_billing::BillingArgs,
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
    /// With --url: a member's check from outside, over HTTP, without the database.
    Verify {
        #[arg(long)]
        org: String,
        /// The server's base URL (https://host): check the signed tree heads and proofs it
        /// publishes, as a member, instead of reading the database.
        #[arg(long)]
        url: Option<String>,
        /// The member's API token (for --url).
        #[arg(long, env = "COINSENCE_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A file of tree heads copied from a room (lines with a size and a hex root), checked as
        /// extra evidence (for --url). May be given more than once.
        #[arg(long)]
        witness: Vec<PathBuf>,
        /// Where the org's pinned key and the last tree head seen are remembered (for --url);
        /// by default $XDG_STATE_HOME/coinsence or ~/.local/state/coinsence.
        #[arg(long, env = "COINSENCE_STATE_DIR")]
        state_dir: Option<PathBuf>,
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
    /// Database connections in total: half for the payment hot path (token lookups, transfer
    /// lanes), half for everything else.
    #[arg(long, env = "COINSENCE_DB_POOL", default_value_t = 32, value_parser = clap::value_parser!(u32).range(2..))]
    pub pool_size: u32,
}

/// How the core runs (every command that runs one: `up`, `serve`, `worker`, `bots`, `chat`):
/// the library's [`CoreConfig`].
#[derive(Debug, Clone, Args)]
pub struct CoreArgs {
    /// Transfer lanes per org (each one transaction in flight).
    #[arg(long, env = "COINSENCE_TRANSFER_LANES", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub transfer_lanes: u64,
    /// Token and membership lookups in flight (fewer: bigger batches; more: less waiting).
    #[arg(long, env = "COINSENCE_ACCESS_LOOKUPS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub access_lookups: u64,
    /// Org schemas prepared ahead for new orgs (0: none).
    #[arg(long, env = "COINSENCE_SPARE_ORGS", default_value_t = 2)]
    pub spare_orgs: usize,
    /// Days a token lives unused (use extends it, recorded daily).
    #[arg(long, env = "COINSENCE_TOKEN_TTL_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub token_ttl_days: u64,
    /// New orgs a person may create a day over the API (0: no cap).
    #[arg(long, env = "COINSENCE_ORGS_PER_PERSON_PER_DAY", default_value_t = 5)]
    pub orgs_per_person_per_day: u32,
    /// New orgs one address may create a day over the API (0: no cap).
    #[arg(long, env = "COINSENCE_ORGS_PER_ADDRESS_PER_DAY", default_value_t = 20)]
    pub orgs_per_address_per_day: u32,
    /// Items a batch queue (payments, token lookups) holds; one more is refused with 503.
    #[arg(long, env = "COINSENCE_QUEUE_CAPACITY", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_capacity: u64,
    /// While a queue stands, items older than this (ms) are shed with 503.
    #[arg(long, env = "COINSENCE_QUEUE_TARGET_MS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_target_ms: u64,
    /// No item waits longer than this (ms) to be taken into a batch (503).
    #[arg(long, env = "COINSENCE_QUEUE_WAIT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_wait_ms: u64,
    /// Passwords hashed at once in the process (default: one per core).
    #[arg(long, env = "COINSENCE_HASHING_SLOTS", value_parser = clap::value_parser!(u64).range(1..))]
    pub hashing_slots: Option<u64>,
    /// How long (ms) a login or signup waits for a hashing turn before 503.
    #[arg(long, env = "COINSENCE_HASHING_WAIT_MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    pub hashing_wait_ms: u64,
    /// How long (ms) a request waits for a database connection before 503.
    #[arg(long, env = "COINSENCE_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_ms: u64,
}

impl CoreArgs {
    /// Connects a pool of `pool_size` connections in total (split between the two pools) and
    /// the core's configuration to build a [`Core`](coinsence_api::Core) with.
    pub async fn connect(&self, url: &str, pool_size: u32) -> anyhow::Result<(PgPool, CoreConfig)> {
        let (main, _) = split_pool(pool_size);
        let wait = Duration::from_millis(self.db_acquire_timeout_ms);
        let pool = coinsence_api::cluster::connect_with(url, main, wait).await?;
        Ok((pool, self.config(pool_size)))
    }

    /// The core's configuration for `pool_size` connections in total, for a caller that
    /// connects its pool (of `split_pool(pool_size).0`) itself, as the benches do.
    pub fn config(&self, pool_size: u32) -> CoreConfig {
        let (_, hot) = split_pool(pool_size);
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        CoreConfig {
            queue: QueueConfig {
                lanes_per_org: count(self.transfer_lanes),
                limits: QueueLimits {
                    capacity: count(self.queue_capacity),
                    target: Duration::from_millis(self.queue_target_ms),
                    wait: Duration::from_millis(self.queue_wait_ms),
                },
                ..QueueConfig::default()
            },
            access_lookups: count(self.access_lookups),
            spare_orgs: self.spare_orgs,
            tokens: TokenTerms::days(self.token_ttl_days),
            org_caps: OrgCaps {
                per_person: self.orgs_per_person_per_day,
                per_address: self.orgs_per_address_per_day,
            },
            hot_pool_size: Some(hot),
            hashing: HashingConfig {
                slots: self.hashing_slots.map(count),
                wait: Duration::from_millis(self.hashing_wait_ms),
            },
        }
    }
}

/// The HTTP API's limits (`serve`).
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Requests worked on at once (default: 16 per core, at least 32).
    #[arg(long, env = "COINSENCE_MAX_IN_FLIGHT", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_in_flight: Option<u64>,
    /// While overloaded, how long (ms) a request waits for a place before 503.
    #[arg(long, env = "COINSENCE_ADMISSION_TARGET_MS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub admission_target_ms: u64,
    /// Signups, logins and login links per address and minute (429 beyond).
    #[arg(long, env = "COINSENCE_AUTH_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_per_minute: u32,
    /// Failed logins within the window that lock an account's password login.
    #[arg(long, env = "COINSENCE_LOGIN_FAILURES", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures: u32,
    /// The window (s) failed logins are counted in.
    #[arg(long, env = "COINSENCE_LOGIN_WINDOW_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub login_window_secs: u64,
    /// How long (s) a locked account's password login answers 429.
    #[arg(long, env = "COINSENCE_LOGIN_LOCK_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub login_lock_secs: u64,
    /// Full journal replays (`ledger/verify`, `seals/verify`) at once.
    #[arg(long, env = "COINSENCE_REPLAYS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub replays: u64,
}

impl HttpArgs {
    pub fn config(&self) -> HttpConfig {
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let default = HttpConfig::default();
        HttpConfig {
            limits: LimitConfig {
                auth_per_minute: self.auth_per_minute,
                login_failures: self.login_failures,
                failure_window: Duration::from_secs(self.login_window_secs),
                lock_for: Duration::from_secs(self.login_lock_secs),
            },
            max_in_flight: self.max_in_flight.map_or(default.max_in_flight, count),
            admission_target: Duration::from_millis(self.admission_target_ms),
            replays: count(self.replays),
            ..default
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub core: CoreArgs,
    #[command(flatten)]
    pub http: HttpArgs,
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
    /// The portal is reached over https: its cookies get `Secure`.
    #[arg(long, env = "COINSENCE_PORTAL_HTTPS")]
    pub portal_https: bool,
    /// A proxy in front says how it was reached (`X-Forwarded-Proto`): believe it.
    #[arg(long, env = "COINSENCE_TRUST_PROXY")]
    pub trust_proxy: bool,
    #[command(flatten)]
    pub billing: coinsence_billing::BillingArgs,
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Use this PostgreSQL instead of starting a private one.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where the private PostgreSQL cluster keeps its data.
    #[arg(long, env = "COINSENCE_DATA_DIR", default_value = ".coinsence")]
    pub data_dir: PathBuf,
    /// Address the API and the portal listen on.
    #[arg(long, env = "COINSENCE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Start a local Citus cluster instead (a coordinator and two workers, on 127.0.0.1, under
    /// the data directory's `citus/`): each org's schema is placed on a worker.
    #[arg(long, env = "COINSENCE_UP_CITUS", conflicts_with = "database_url")]
    pub citus: bool,
    /// Database connections in total: half for the payment hot path, half for everything else.
    #[arg(long, env = "COINSENCE_DB_POOL", default_value_t = 32, value_parser = clap::value_parser!(u32).range(2..))]
    pub pool_size: u32,
    #[command(flatten)]
    pub core: CoreArgs,
    #[command(flatten)]
    pub billing: coinsence_billing::BillingArgs,
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_flags_fit_together() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_flags_reach_the_core_and_http_configuration() {
        let cli = Cli::try_parse_from([
            "coinsence",
            "serve",
            "--database-url",
            "postgres://x@localhost/db",
            "--transfer-lanes",
            "3",
            "--spare-orgs",
            "0",
            "--replays",
            "5",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(args.core.transfer_lanes, 3);
        assert_eq!(args.core.spare_orgs, 0);
        assert_eq!(args.http.config().replays, 5);
        assert!(
            Cli::try_parse_from([
                "coinsence",
                "worker",
                "--database-url",
                "x",
                "--transfer-lanes",
                "0"
            ])
            .is_err(),
            "no lanes is refused, not taken for the default"
        );
    }

    /// `up` and `chat` run a core as `serve` does: the same flags configure it.
    #[test]
    fn up_and_chat_take_the_core_flags() {
        let cli = Cli::try_parse_from([
            "coinsence",
            "up",
            "--transfer-lanes",
            "3",
            "--pool-size",
            "8",
        ])
        .unwrap();
        let Command::Up(up) = cli.command else {
            panic!("not up");
        };
        assert_eq!((up.core.transfer_lanes, up.pool_size), (3, 8));
        let cli = Cli::try_parse_from([
            "coinsence",
            "chat",
            "--org",
            "x",
            "--as",
            "Ana",
            "--access-lookups",
            "4",
        ])
        .unwrap();
        let Command::Chat(chat) = cli.command else {
            panic!("not chat");
        };
        assert_eq!(chat.core.access_lookups, 4);
    }

    /// The database flags go before or after any command's name, and reach it either way.
    #[test]
    fn database_flags_go_before_or_after_the_command() {
        let url = |argv: &[&str]| -> (Option<String>, PathBuf) {
            let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            match cli.command {
                Command::Bots(a) => (a.db.database_url, a.db.data_dir),
                Command::Org(a) => (a.db.database_url, a.db.data_dir),
                Command::Audit(a) => (a.db.database_url, a.db.data_dir),
                Command::Chat(a) => (a.db.database_url, a.db.data_dir),
                Command::Up(a) => (a.database_url, a.data_dir),
                Command::Migrate(a) => (a.db.database_url, a.db.data_dir),
                other => panic!("{other:?}"),
            }
        };
        let want = (Some("postgres://h/db".to_owned()), PathBuf::from("d"));
        for tail in [
            &["bots"][..],
            &["org", "list"],
            &["audit", "verify", "--org", "x"],
            &["chat", "--org", "x", "--as", "Ana"],
            &["migrate"],
        ] {
            let before = [
                &[
                    "coinsence",
                    "--database-url",
                    "postgres://h/db",
                    "--data-dir",
                    "d",
                ][..],
                tail,
            ]
            .concat();
            let after = [
                &["coinsence"][..],
                tail,
                &["--database-url", "postgres://h/db", "--data-dir", "d"],
            ]
            .concat();
            assert_eq!(url(&before), want, "{before:?}");
            assert_eq!(url(&after), want, "{after:?}");
        }
        assert_eq!(
            url(&["coinsence", "--data-dir", "d", "up"]).1,
            PathBuf::from("d")
        );
    }
}
