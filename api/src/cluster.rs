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
pub(crate) fn bin_dir() -> anyhow::Result<PathBuf> {
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

/// The uid and gid to run the server (and its helpers, such as PgBouncer in the tests) as:
/// ourselves, or `postgres` when we are root.
pub fn server_user() -> anyhow::Result<Option<(u32, u32)>> {
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

/// Where clusters live when the `postgres` user cannot reach the directory asked for (a clone
/// in root's home): one directory per such path, owned by `postgres`.
pub const SHARED_ROOT: &str = "/var/lib/coinsence";

/// The directory the cluster for `dir` lives in, created and (as root) owned by the server's
/// user: `dir` itself, or, when that user cannot reach it, a directory under [`SHARED_ROOT`]
/// that `dir` links to.
fn place(dir: &Path, user: Option<(u32, u32)>) -> anyhow::Result<PathBuf> {
    let Some((uid, gid)) = user else {
        std::fs::create_dir_all(dir)?;
        return Ok(dir.canonicalize()?);
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let parent = parent.canonicalize()?;
    let name = dir
        .file_name()
        .context("the cluster directory has no name")?;
    let wanted = parent.join(name);
    let here_is_reachable = can_enter(&parent, uid, gid);
    match std::fs::symlink_metadata(&wanted) {
        // Placed before (a link to the shared place, or a directory it can enter): as it is.
        Ok(m) if m.file_type().is_symlink() => {
            let target = wanted.canonicalize().with_context(|| {
                format!("{} links to a directory that is gone", wanted.display())
            })?;
            std::os::unix::fs::chown(&target, Some(uid), Some(gid))?;
            return Ok(target);
        }
        // An empty directory is what an earlier, failed start left; anything else is data
        // that we do not move behind the operator's back.
        Ok(_) if !here_is_reachable && std::fs::remove_dir(&wanted).is_err() => {
            bail!(
                "the postgres user (which PostgreSQL runs as, since we run as root) cannot \
                 enter {}: move the data directory somewhere it can (e.g. under /var/lib or \
                 /srv), or make the path enterable for it (chmod o+x on each directory)",
                parent.display()
            );
        }
        _ => {}
    }
    if here_is_reachable {
        std::fs::create_dir_all(&wanted)?;
        std::os::unix::fs::chown(&wanted, Some(uid), Some(gid))?;
        return Ok(wanted);
    }
    let shared = shared_place(&wanted);
    std::fs::create_dir_all(&shared)
        .and_then(|()| {
            // Enterable for the server's user whatever our umask.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(SHARED_ROOT, std::fs::Permissions::from_mode(0o755))
        })
        .with_context(|| {
        format!(
            "the postgres user cannot enter {}, so the cluster goes to {}, which cannot be created",
            parent.display(),
            shared.display()
        )
    })?;
    std::os::unix::fs::chown(&shared, Some(uid), Some(gid))?;
    std::os::unix::fs::symlink(&shared, &wanted)
        .with_context(|| format!("linking {} to {}", wanted.display(), shared.display()))?;
    Ok(shared)
}

/// The shared place for a cluster wanted at `wanted` (an absolute path): readable, and unique
/// per path.
fn shared_place(wanted: &Path) -> PathBuf {
    use sha2::Digest;
    let path = wanted.to_string_lossy();
    let readable: String = path
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    let hash = hex::encode(sha2::Sha256::digest(path.as_bytes()));
    Path::new(SHARED_ROOT).join(format!("{readable}-{}", &hash[..12]))
}

/// Whether the user can enter `dir` (search permission on it and every directory above),
/// asked of the system rather than worked out from mode bits (ACLs, groups).
fn can_enter(dir: &Path, uid: u32, gid: u32) -> bool {
    Command::new("sh")
        .args(["-c", "cd -- \"$1\"", "sh"])
        .arg(dir)
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
    ///
    /// As root, the server runs as `postgres`, which cannot enter a directory such as root's
    /// home: then the cluster lives under [`SHARED_ROOT`] instead, in a directory named after
    /// `dir`'s path, and `dir` is a symbolic link to it (so everything that reads `dir` finds
    /// it). [`Cluster::dir`] says where it is.
    pub fn start(dir: &Path, options: ClusterOptions) -> anyhow::Result<Self> {
        Self::start_node(dir, options, None, "")
    }

    /// Starts a cluster that also listens on 127.0.0.1 at `port` (when given) with `extra_conf`
    /// appended to its configuration on creation: a node of a multi-node cluster (`citus`).
    pub fn start_node(
        dir: &Path,
        options: ClusterOptions,
        tcp_port: Option<u16>,
        extra_conf: &str,
    ) -> anyhow::Result<Self> {
        let bin = bin_dir()?;
        let user = server_user()?;
        let dir = place(dir, user)?;
        let cluster = Self {
            dir: dir.clone(),
            bin,
            user,
            port: tcp_port.unwrap_or(5432),
        };
        if !cluster.data().join("PG_VERSION").exists() {
            let listen = if tcp_port.is_some() { "127.0.0.1" } else { "" };
            cluster.initdb(options, listen, extra_conf)?;
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

    /// Where the cluster lives (its socket, log and `data/`), links resolved.
    pub fn dir(&self) -> &Path {
        &self.dir
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
            // Its own home too: libpq inside the server (Citus's connections to its workers)
            // looks for client certificates under $HOME, which root's is closed to.
            cmd.uid(uid).gid(gid).env("HOME", &self.dir);
        }
        // Its own process group: a Ctrl-C typed at the terminal reaches the whole foreground
        // group, and a `pg_ctl stop` killed by a second Ctrl-C would leave us not knowing
        // whether the server stopped.
        cmd.current_dir(&self.dir)
            .stdin(Stdio::null())
            .process_group(0);
        cmd
    }

    /// Why a server program did not run: missing, or (the usual case as root) not allowed.
    fn cannot_run(&self, program: &str, e: std::io::Error) -> anyhow::Error {
        if e.kind() == std::io::ErrorKind::NotFound && !self.bin.join(program).exists() {
            return anyhow::anyhow!(
                "{INSTALL_HINT} ({} is missing)",
                self.bin.join(program).display()
            );
        }
        let who = match self.user {
            Some(_) => "as the postgres user ",
            None => "",
        };
        anyhow::anyhow!(
            "cannot run {} {who}in {}: {e}",
            self.bin.join(program).display(),
            self.dir.display()
        )
    }

    fn initdb(
        &self,
        options: ClusterOptions,
        listen: &str,
        extra_conf: &str,
    ) -> anyhow::Result<()> {
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
            .map_err(|e| self.cannot_run("initdb", e))?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let conf = format!(
            "\n# coinsence private cluster\nlisten_addresses = '{listen}'\nunix_socket_directories = '{}'\n\
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
        // Last, so that a node's own settings win over the ones above.
        conf.push_str(extra_conf);
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
            .output()
            .map_err(|e| self.cannot_run("pg_ctl", e))?;
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

    /// The port it listens on (its TCP port for a node started with one).
    pub fn port(&self) -> u16 {
        self.port
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
