//! Shared helpers for the integration tests: a fresh database per test on the
//! server `tests/support/test.sh` started, scratch migration folders, and a
//! way to run the real `migrate` binary.
//!
//! A missing server is a failure, never a skip.

#![allow(dead_code)] // each test binary uses a different subset

pub mod es_client;
pub mod neo4j_client;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The superuser URL of the test server.
pub fn admin_url() -> String {
    std::env::var("STRATA_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "STRATA_TEST_PG_URL is not set: the PostgreSQL tests need a real server. \
             Run the suite with `bash tests/support/test.sh`, which starts one."
        )
    })
}

/// The password in the admin URL, to check it never leaks.
pub fn admin_password() -> String {
    let url = admin_url();
    let rest = &url["postgres://".len()..];
    let userinfo = &rest[..rest.rfind('@').unwrap()];
    userinfo.split_once(':').unwrap().1.to_string()
}

/// A test database: created empty, with its URL.
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// A URL to it, with the superuser's password.
    pub url: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    /// Creates a new, empty database named after the test.
    pub async fn new(label: &str) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        // Zero-padded: databases created later sort later (group members
        // run and print in name order; `_100` would sort before `_99`).
        let name = format!("t_{label}_{}_{n:05}", std::process::id());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("cannot reach the test PostgreSQL server");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        let base = admin_url();
        let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
        TestDb { name, url }
    }

    /// A session holding the migration lock (as another runner would),
    /// until it is closed or unlocks.
    pub async fn hold_migration_lock(&self) -> PgConnection {
        let mut holder = self.connect().await;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(strata::backend::postgres::lock_key("schema_migrations"))
            .execute(&mut holder)
            .await
            .unwrap();
        holder
    }

    /// A connection to this database.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }

    /// Runs one query returning one scalar.
    pub async fn scalar<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        let mut c = self.connect().await;
        let v: T = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_one(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = c.close().await;
        v
    }

    /// Whether a table (or view) exists.
    pub async fn has_table(&self, name: &str) -> bool {
        self.scalar::<bool>(&format!("SELECT to_regclass('{name}') IS NOT NULL"))
            .await
    }

    /// `(version, success)` of every history row, in order.
    pub async fn history(&self) -> Vec<(i64, bool)> {
        if !self.has_table("schema_migrations").await {
            return Vec::new();
        }
        let mut c = self.connect().await;
        let rows: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM schema_migrations ORDER BY version")
                .fetch_all(&mut c)
                .await
                .unwrap();
        let _ = c.close().await;
        rows
    }

    /// A stable description of the user-visible schema: every relation,
    /// column, index, constraint, function, trigger and history row. Used to
    /// prove a refused run changed nothing.
    pub async fn schema_dump(&self) -> String {
        let mut c = self.connect().await;
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT line FROM (
               SELECT 'rel ' || c.relkind::text || ' ' || c.relname AS line FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
               UNION ALL SELECT 'col ' || table_name || '.' || column_name || ' ' || data_type
                 FROM information_schema.columns WHERE table_schema = 'public'
               UNION ALL SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
                 WHERE connamespace = 'public'::regnamespace
               UNION ALL SELECT 'fn ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
               UNION ALL SELECT 'trg ' || tgname FROM pg_trigger WHERE NOT tgisinternal
             ) x ORDER BY line",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        let _ = c.close().await;
        let mut out: Vec<String> = rows.into_iter().map(|r| r.0).collect();
        for (v, ok) in self.history().await {
            out.push(format!("history {v} {ok}"));
        }
        out.join("\n")
    }
}

/// Polls `sql` (one boolean) until it is true; fails the test after 60 s.
pub async fn wait_until(db: &TestDb, what: &str, sql: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !db.scalar::<bool>(sql).await {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A scratch project: `migrations/`, `rollbacks/` and a `migrate.toml`.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty project with both folders.
    pub fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
        std::fs::create_dir_all(dir.path().join("rollbacks")).unwrap();
        Project { dir }
    }

    /// The project folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `migrations/<name>`.
    pub fn migration(&self, name: &str, text: &str) -> &Project {
        std::fs::write(self.dir.path().join("migrations").join(name), text).unwrap();
        self
    }

    /// Writes `rollbacks/<name>`.
    pub fn rollback(&self, name: &str, text: &str) -> &Project {
        std::fs::write(self.dir.path().join("rollbacks").join(name), text).unwrap();
        self
    }

    /// Removes `migrations/<name>`.
    pub fn remove_migration(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join("migrations").join(name)).unwrap();
    }

    /// Writes `migrate.toml`.
    pub fn config(&self, text: &str) -> &Project {
        std::fs::write(self.dir.path().join("migrate.toml"), text).unwrap();
        self
    }

    /// Runs `migrate` in the project folder with `--database-url`.
    pub fn migrate(&self, db: &TestDb, args: &[&str]) -> Run {
        let mut full = vec!["--database-url", db.url.as_str()];
        full.extend_from_slice(args);
        self.migrate_raw(&full, &[])
    }

    /// Runs `migrate` in the project folder with exactly these arguments.
    pub fn migrate_raw(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(migrate_bin());
        cmd.args(args)
            .current_dir(self.path())
            .env_remove("DATABASE_URL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().unwrap())
    }

    /// A `Command` for `migrate` in this folder, for spawning.
    pub fn command(&self, db: &TestDb, args: &[&str]) -> Command {
        let mut cmd = Command::new(migrate_bin());
        cmd.arg("--database-url")
            .arg(&db.url)
            .args(args)
            .current_dir(self.path())
            .env_remove("DATABASE_URL");
        cmd
    }
}

/// Runs `migrate --database app` in the repository (the demo's
/// `migrate.toml`) with the demo's PostgreSQL database pointed at `url`.
/// The other databases are configured but never reached.
pub fn demo_migrate(url: &str, args: &[&str]) -> Run {
    Run::from(
        Command::new(migrate_bin())
            .args(["--database", "app"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("APP_DATABASE_URL", url)
            .env("GRAPH_DATABASE_URL", "bolt://127.0.0.1:1")
            .env("GRAPH_DATABASE_PASSWORD", "unused")
            .env("SEARCH_DATABASE_URL", "http://127.0.0.1:1")
            .env("VECTORS_DATABASE_URL", "http://127.0.0.1:1")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap(),
    )
}

/// A TCP port on 127.0.0.1 nothing listens on (for a server a test
/// starts, or one that must not answer).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary under test.
pub fn migrate_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_migrate"))
}

/// What a `migrate` process did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Like [`Run::expect`], saying which step of a longer test ran.
    pub fn expect_in(&self, code: i32, ctx: &str) -> &Run {
        assert_eq!(
            self.code, code,
            "{ctx}: unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Both streams together.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A small seeded generator (SplitMix64): the crash trials draw their kill
/// points from it, so one seed always gives the same schedule.
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Standard base64 with padding: how a password travels in a basic-auth
/// header, so it can be looked for in output in that form too.
pub fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
