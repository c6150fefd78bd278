//! A throwaway Postgres server for tests (feature `testing`): `initdb` in a temporary folder,
//! `postgres` on a free port of 127.0.0.1, stopped and removed when dropped. It runs the
//! server binaries of the machine (Debian's `postgresql` package puts them in
//! `/usr/lib/postgresql/VERSION/bin`), so tests of the Postgres store need no server set up by
//! hand and leave nothing behind.
//!
//! As root (CI, containers), `initdb` and `postgres` refuse to run: they are run as the
//! `postgres` user, which the Debian package creates, in a folder given to it.
//!
//! When no server binaries are found, [`PgServer::start`] prints a loud `SKIPPED:` line and
//! returns `None`, so a developer without Postgres can still run the suite; with
//! `SYMPHONY_REQUIRE_POSTGRES=1` (what `scripts/test` sets once it has installed the package)
//! it panics instead, so CI never passes by skipping.
//!
//! This module must never be used outside tests: it starts processes and trusts every local
//! connection.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Postgres server of the test's own.
pub struct PgServer {
    child: Child,
    bin: PathBuf,
    port: u16,
    /// How long `initdb` and the start took.
    started_in: Duration,
    /// Removed on drop, after the server stopped.
    _dir: tempfile::TempDir,
}

impl PgServer {
    /// Starts a server, or says why it cannot (see the module's docs for `None`).
    pub fn start() -> Option<PgServer> {
        let Some(bin) = find_bin() else {
            skip("no Postgres server binaries (initdb, postgres) were found in /usr/lib/postgresql/*/bin, `pg_config --bindir` or $SYMPHONY_PG_BIN; install the Debian package `postgresql` (scripts/test does)");
            return None;
        };
        let user = if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            match postgres_user() {
                Some(ids) => Some(ids),
                None => {
                    skip("running as root and there is no `postgres` user to run the server as");
                    return None;
                }
            }
        } else {
            None
        };
        let t0 = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("symphony-pg")
            .tempdir()
            .expect("the temporary folder is writable");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("root can give a folder to the postgres user");
        }
        let data = dir.path().join("data");
        let out = as_user(Command::new(bin.join("initdb")), user)
            .current_dir(dir.path())
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions", "-D"])
            .arg(&data)
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A free port can be taken by someone else between asking and binding: try again.
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
            if let Some((uid, gid)) = user {
                std::os::unix::fs::chown(dir.path().join("server.log"), Some(uid), Some(gid))
                    .expect("root can give a file to the postgres user");
            }
            let mut child = as_user(Command::new(bin.join("postgres")), user)
                .current_dir(dir.path())
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-k"])
                .arg(dir.path())
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
                .args(["-c", "shared_buffers=16MB", "-c", "max_connections=40"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("postgres starts");
            if wait_ready(&mut child, &bin, port) {
                let server = PgServer {
                    child,
                    bin,
                    port,
                    started_in: t0.elapsed(),
                    _dir: dir,
                };
                eprintln!(
                    "postgres test server on 127.0.0.1:{port}, ready in {} ms",
                    server.started_in.as_millis()
                );
                return Some(server);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let mut log = String::new();
        let _ = std::fs::File::open(dir.path().join("server.log"))
            .and_then(|mut f| f.read_to_string(&mut log));
        panic!("the postgres test server did not start: {log}");
    }

    /// Creates a database and returns its URL (`postgres://postgres@127.0.0.1:PORT/NAME`).
    pub fn database(&self, name: &str) -> String {
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                name,
            ])
            .output()
            .expect("createdb runs");
        assert!(
            out.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(name)
    }

    /// The URL of a database on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// `psql` on a database of this server, ready to be given `-c SQL` and run.
    pub fn psql(&self, database: &str) -> Command {
        let mut c = Command::new(self.bin.join("psql"));
        c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ]);
        c
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How long creating and starting the server took.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // SIGINT is Postgres's fast shutdown: sessions are ended, the server stops at once.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Says loudly that the Postgres tests did not run, or fails when they must.
fn skip(why: &str) {
    if std::env::var_os("SYMPHONY_REQUIRE_POSTGRES").is_some_and(|v| v == "1") {
        panic!("SYMPHONY_REQUIRE_POSTGRES=1 but {why}");
    }
    eprintln!("\n*** SKIPPED: the Postgres store tests did not run: {why} ***\n");
}

/// The folder of `initdb` and `postgres`.
fn find_bin() -> Option<PathBuf> {
    let has = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Some(d) = std::env::var_os("SYMPHONY_PG_BIN").map(PathBuf::from) {
        return has(&d).then_some(d);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has(d))
        .collect();
    versions.sort();
    if let Some((_, d)) = versions.pop() {
        return Some(d);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    has(&d).then_some(d)
}

/// The uid and gid of the `postgres` user, from /etc/passwd.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres") && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

/// The command, run as `user` when one is given.
fn as_user(mut command: Command, user: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("the loopback interface has a free port")
        .port()
}

/// Waits until the server accepts connections; false if it exited (its port was taken).
fn wait_ready(child: &mut Child, bin: &Path, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        // Accepting a TCP connection is not yet accepting sessions ("the database system is
        // starting up" for a moment): once the port is open, pg_isready asks properly.
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
            && Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
