//! A PostgreSQL primary with a streaming standby, made for one test: two
//! clusters on two ports of this machine (`initdb`, then `pg_basebackup
//! -R`), from the same Debian packages `pg.sh` installs, run as the
//! `postgres` user when the tests run as root. Local trust, no password:
//! what is tested here is where writes go, not authentication. Both are
//! stopped and removed when the pair is dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest installed server's programs.
fn bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (tests/support/pg.sh)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("pg_ctl").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop().expect("a PostgreSQL server's bin folder")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a server program as the clusters' owner; panics with its output
/// when it fails.
fn run(program: &str, args: &[&str]) {
    let path = bindir().join(program);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&path);
        c
    } else {
        Command::new(&path)
    };
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A primary and its standby.
pub struct Pair {
    dir: tempfile::TempDir,
    /// The primary's port.
    pub primary: u16,
    /// The standby's port.
    pub standby: u16,
}

impl Pair {
    /// Starts a primary, copies it to a standby that streams from it, and
    /// starts that.
    pub fn start() -> Pair {
        let dir = tempfile::Builder::new()
            .prefix("strata-pair")
            .tempdir()
            .unwrap();
        if is_root() {
            let _ = Command::new("chown")
                .args(["-R", "postgres:", dir.path().to_str().unwrap()])
                .status();
        }
        let pair = Pair {
            primary: crate::support::free_port(),
            standby: crate::support::free_port(),
            dir,
        };
        let p = pair.data("primary");
        run(
            "initdb",
            &[
                "-D",
                &p,
                "-U",
                "strata",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        pair.start_server("primary", pair.primary);
        run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &pair.primary.to_string(),
                "-U",
                "strata",
                "-D",
                &pair.data("standby"),
                "-R",
                "-X",
                "stream",
            ],
        );
        pair.start_server("standby", pair.standby);
        pair
    }

    fn data(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn start_server(&self, name: &str, port: u16) {
        let socket = self.dir.path().display().to_string();
        let log = self.dir.path().join(format!("{name}.log"));
        run(
            "pg_ctl",
            &[
                "-D",
                &self.data(name),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "-o",
                &format!(
                    "-p {port} -k {socket} -c listen_addresses=127.0.0.1 -c fsync=off \
                     -c wal_level=replica -c max_wal_senders=5 -c hot_standby=on"
                ),
                "start",
            ],
        );
    }

    /// A URL to database `db` on one port.
    pub fn url(port: u16, db: &str) -> String {
        format!("postgres://strata@127.0.0.1:{port}/{db}?sslmode=disable")
    }

    /// Stops the primary at once, as a crash would.
    pub fn crash_primary(&self) {
        run(
            "pg_ctl",
            &["-D", &self.data("primary"), "stop", "-m", "immediate"],
        );
    }

    /// Promotes the standby and waits until it accepts writes.
    pub fn promote(&self) {
        run(
            "pg_ctl",
            &["-D", &self.data("standby"), "promote", "-w", "-t", "60"],
        );
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for name in ["standby", "primary"] {
            let data = self.path().join(name);
            if data.join("postmaster.pid").exists() {
                let _ = std::panic::catch_unwind(|| {
                    run(
                        "pg_ctl",
                        &["-D", data.to_str().unwrap(), "stop", "-m", "immediate"],
                    )
                });
            }
        }
    }
}
