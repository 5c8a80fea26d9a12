//! A private PostgreSQL cluster run from the system's binaries: `coinsence up` keeps one under
//! its data directory, and the tests start one per test process (`testing::test_database`)
//! unless `DATABASE_URL` is set.
//!
//! PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user that the
//! Debian package creates. It listens on a unix socket in its own directory only.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use anyhow::{Context, bail};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const INSTALL_HINT: &str = "PostgreSQL was not found. Install it with `apt-get install postgresql` \
     (or set DATABASE_URL to a server you run yourself).";

/// Where the server binaries (`initdb`, `pg_ctl`, `postgres`) are.
fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, dir)| dir).context(INSTALL_HINT)
}

/// The uid and gid to run the server as: ourselves, or `postgres` when we are root.
fn server_user() -> anyhow::Result<Option<(u32, u32)>> {
    let me = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m))?;
    if me != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if let [name, _, uid, gid, ..] = fields.as_slice()
            && *name == "postgres"
        {
            return Ok(Some((uid.parse()?, gid.parse()?)));
        }
    }
    bail!("running as root but there is no `postgres` user to run PostgreSQL as. {INSTALL_HINT}")
}

#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    /// Off only for throwaway test clusters; never for data you keep or for benchmarks.
    pub fsync: bool,
    /// Stop the server and delete the directory once this process exits, however it exits.
    pub remove_on_exit: bool,
}

/// A running private cluster.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    port: u16,
}

impl Cluster {
    /// Starts the cluster in `dir`, creating it on first use.
    pub fn start(dir: &Path, options: ClusterOptions) -> anyhow::Result<Self> {
        let bin = bin_dir()?;
        let user = server_user()?;
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let cluster = Self {
            dir: dir.clone(),
            bin,
            user,
            port: 5432,
        };
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        }
        if !cluster.data().join("PG_VERSION").exists() {
            cluster.initdb(options)?;
        }
        if cluster.data().join("postmaster.pid").exists() {
            // A previous run was killed: pg_ctl tells a stale pid file from a live server.
            let _ = cluster.pg_ctl(&["stop", "-m", "fast", "-w"]);
        }
        cluster.start_server()?;
        if options.remove_on_exit {
            cluster.watchdog()?;
        }
        Ok(cluster)
    }

    fn start_server(&self) -> anyhow::Result<()> {
        let log = self.dir.join("postgres.log");
        self.pg_ctl(&["start", "-w", "-t", "60", "-l", &log.to_string_lossy()])
            .with_context(|| format!("starting PostgreSQL; see {}", log.display()))
    }

    /// Stops the server as a crash would (`pg_ctl stop -m immediate`: no checkpoint, every
    /// session cut) and starts it again, which replays the WAL. For crash tests.
    pub fn restart_immediate(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"])?;
        self.start_server()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        cmd.current_dir(&self.dir).stdin(Stdio::null());
        cmd
    }

    fn initdb(&self, options: ClusterOptions) -> anyhow::Result<()> {
        let out = self
            .command("initdb")
            .args([
                "-D",
                &self.data().to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
            ])
            .args(["-E", "UTF8", "--no-locale", "--no-instructions"])
            .output()
            .context(INSTALL_HINT)?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let conf = format!(
            "\n# coinsence private cluster\nlisten_addresses = ''\nunix_socket_directories = '{}'\n\
             port = {}\nmax_connections = 300\nfsync = {}\nfull_page_writes = {}\n",
            self.dir.display(),
            self.port,
            if options.fsync { "on" } else { "off" },
            if options.fsync { "on" } else { "off" },
        );
        let mut conf = conf;
        // Per-statement timings for whoever operates it, when the contrib module is installed.
        if self.bin.join("../lib/pg_stat_statements.so").exists() {
            conf.push_str("shared_preload_libraries = 'pg_stat_statements'\ncompute_query_id = on\npg_stat_statements.track_planning = on\n");
        }
        let path = self.data().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path)?;
        text.push_str(&conf);
        std::fs::write(&path, text)?;
        Ok(())
    }

    fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let out = self
            .command("pg_ctl")
            .args(["-D", &self.data().to_string_lossy()])
            .args(args)
            .stdout(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!(
                "pg_ctl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// A detached shell that outlives us by at most a second: when our pid is gone it stops the
    /// server (immediate shutdown) and removes the directory.
    fn watchdog(&self) -> anyhow::Result<()> {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             kill -QUIT $(head -1 '{data}/postmaster.pid') 2>/dev/null; sleep 1; rm -rf '{dir}'",
            pid = std::process::id(),
            data = self.data().display(),
            dir = self.dir.display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(())
    }

    /// A libpq-style URL for `database` (usable by psql and pgbench too).
    pub fn url(&self, database: &str) -> String {
        socket_url(&self.dir, self.port, database)
    }

    /// The URL of a cluster that is already running in `dir` (started by another process, e.g.
    /// `coinsence up`), if its socket answers there.
    pub fn running_url(dir: &Path, database: &str) -> Option<String> {
        let dir = dir.canonicalize().ok()?;
        let port = 5432;
        dir.join(format!(".s.PGSQL.{port}"))
            .exists()
            .then(|| socket_url(&dir, port, database))
    }

    pub fn stop(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["stop", "-m", "fast", "-w"])
    }
}

fn socket_url(dir: &Path, port: u16, database: &str) -> String {
    format!(
        "postgresql://postgres@localhost:{port}/{database}?host={}",
        dir.display()
    )
}

/// How long a request waits for a free connection before it is answered 503 (the pool is
/// exhausted or the database is restarting), unless the binary's flag says otherwise.
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Connects a pool of `size` to a URL.
pub async fn connect(url: &str, size: u32) -> anyhow::Result<PgPool> {
    connect_with(url, size, ACQUIRE_TIMEOUT).await
}

/// Connects a pool of `size` to a URL whose requests wait `acquire_timeout` at most for a
/// connection.
pub async fn connect_with(
    url: &str,
    size: u32,
    acquire_timeout: std::time::Duration,
) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?;
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(acquire_timeout)
        // A ping before every checkout doubles the round trips of a short query; a broken
        // connection fails its query instead, which the caller sees as any database error.
        .test_before_acquire(false)
        .connect_with(options)
        .await?)
}
