//! The migration benchmark driver behind `bench/run.sh`: the same N small
//! migrations (tables, indexes, a few functions) applied by strata and by
//! the tools users would pick instead, on one PostgreSQL, in one run.
//!
//! For each tool: `apply` (all N on an empty database, each run on a fresh
//! one), `no-op` (`up` again with everything applied: what every deploy
//! and every service start pays) and `status`, each the median of several
//! runs, with the peak resident memory of the process. The floor is `psql`
//! running the same files, each in its own transaction with a history
//! insert, on one connection; its no-op and status are one connection and
//! one query.
//!
//! Configured by `bench/run.sh` through the environment:
//! `BENCH_ADMIN_URL` (a superuser URL to create databases), `BENCH_WORK`
//! (a scratch folder), `BENCH_N`, `BENCH_RUNS`, and one variable per tool
//! with its command, or `unavailable: <why>`: `BENCH_STRATA`,
//! `BENCH_SQLX`, `BENCH_REFINERY`, `BENCH_DBMATE`, `BENCH_FLYWAY`,
//! `BENCH_PSQL`. Built with the other targets so CI keeps it compiling;
//! never run by the test suite.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The SQL of migration `i`: a table, an index on every third, a function
/// on every tenth.
fn migration_sql(i: usize) -> String {
    let mut sql = format!(
        "CREATE TABLE bench_{i} (id bigserial PRIMARY KEY, owner_id bigint NOT NULL, \
         name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\n"
    );
    if i.is_multiple_of(3) {
        let _ = writeln!(sql, "CREATE INDEX bench_{i}_owner ON bench_{i} (owner_id);");
    }
    if i.is_multiple_of(10) {
        let _ = writeln!(
            sql,
            "CREATE FUNCTION bench_{i}_count() RETURNS bigint LANGUAGE sql STABLE \
             AS $$ SELECT count(*) FROM bench_{i} $$;"
        );
    }
    sql
}

/// One tool: how its files are named and laid out, and its commands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    Strata,
    Sqlx,
    Refinery,
    Dbmate,
    Flyway,
    Psql,
}

impl Tool {
    const ALL: [Tool; 6] = [
        Tool::Strata,
        Tool::Sqlx,
        Tool::Refinery,
        Tool::Dbmate,
        Tool::Flyway,
        Tool::Psql,
    ];

    fn name(self) -> &'static str {
        match self {
            Tool::Strata => "strata",
            Tool::Sqlx => "sqlx-cli",
            Tool::Refinery => "refinery",
            Tool::Dbmate => "dbmate",
            Tool::Flyway => "flyway",
            Tool::Psql => "psql (floor)",
        }
    }

    fn env(self) -> &'static str {
        match self {
            Tool::Strata => "BENCH_STRATA",
            Tool::Sqlx => "BENCH_SQLX",
            Tool::Refinery => "BENCH_REFINERY",
            Tool::Dbmate => "BENCH_DBMATE",
            Tool::Flyway => "BENCH_FLYWAY",
            Tool::Psql => "BENCH_PSQL",
        }
    }

    /// Writes the N migrations the way this tool wants them.
    fn write_files(self, dir: &Path, n: usize) {
        std::fs::create_dir_all(dir).unwrap();
        let mut all = String::from(
            "CREATE TABLE schema_history (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());\n",
        );
        for i in 1..=n {
            let sql = migration_sql(i);
            let (name, text) = match self {
                Tool::Strata => (format!("V{i:04}__bench_{i}.sql"), sql),
                Tool::Sqlx => (format!("{i:04}_bench_{i}.sql"), sql),
                Tool::Refinery | Tool::Flyway => (format!("V{i}__bench_{i}.sql"), sql),
                Tool::Dbmate => (
                    format!("{i:04}_bench_{i}.sql"),
                    format!(
                        "-- migrate:up\n{sql}\n-- migrate:down\nDROP TABLE bench_{i} CASCADE;\n"
                    ),
                ),
                Tool::Psql => {
                    let _ = write!(
                        all,
                        "BEGIN;\n{sql}INSERT INTO schema_history (version) VALUES ({i});\nCOMMIT;\n"
                    );
                    continue;
                }
            };
            std::fs::write(dir.join(name), text).unwrap();
        }
        if self == Tool::Psql {
            std::fs::write(dir.join("all.sql"), all).unwrap();
        }
    }

    /// The arguments after the tool's command for `apply` (also the no-op),
    /// and for `status` when the tool has one.
    fn args(self, dir: &Path, db: &Db) -> (Vec<String>, Option<Vec<String>>) {
        let d = dir.display().to_string();
        let url = db.url.clone();
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            Tool::Strata => {
                let none = format!("{d}-rollbacks");
                let base = v(&[
                    "--database-url",
                    &url,
                    "--migrations",
                    &d,
                    "--rollbacks",
                    &none,
                ]);
                let up = [base.clone(), v(&["up"])].concat();
                let status = [base, v(&["status"])].concat();
                (up, Some(status))
            }
            Tool::Sqlx => (
                v(&["migrate", "run", "--source", &d, "--database-url", &url]),
                Some(v(&[
                    "migrate",
                    "info",
                    "--source",
                    &d,
                    "--database-url",
                    &url,
                ])),
            ),
            // refinery's CLI has no status command.
            Tool::Refinery => (v(&["migrate", "-e", "BENCH_DB_URL", "-p", &d]), None),
            Tool::Dbmate => {
                let base = v(&[
                    "--url",
                    &format!("{url}?sslmode=disable"),
                    "--migrations-dir",
                    &d,
                    "--no-dump-schema",
                ]);
                (
                    [base.clone(), v(&["up"])].concat(),
                    Some([base, v(&["status"])].concat()),
                )
            }
            Tool::Flyway => {
                let base = v(&[
                    &format!("-url={}", db.jdbc),
                    &format!("-user={}", db.user),
                    &format!("-password={}", db.password),
                    &format!("-locations=filesystem:{d}"),
                ]);
                (
                    [base.clone(), v(&["migrate"])].concat(),
                    Some([base, v(&["info"])].concat()),
                )
            }
            Tool::Psql => (
                v(&[
                    &url,
                    "-q",
                    "-X",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-f",
                    &format!("{d}/all.sql"),
                ]),
                Some(v(&[
                    &url,
                    "-X",
                    "-Atq",
                    "-c",
                    "SELECT version, applied_at FROM schema_history ORDER BY version",
                ])),
            ),
        }
    }

    /// The floor's no-op is one connection and one query; every other
    /// tool's no-op is its `apply` run again.
    fn noop_args(self, dir: &Path, db: &Db) -> Vec<String> {
        match self {
            Tool::Psql => vec![
                db.url.clone(),
                "-X".into(),
                "-Atq".into(),
                "-c".into(),
                "SELECT max(version) FROM schema_history".into(),
            ],
            _ => self.args(dir, db).0,
        }
    }
}

/// The no-op floor as a process: start, one connection, one query, exit,
/// with the driver strata uses. `bench_migrations --one-query URL SQL`.
fn one_query(url: &str, sql: &str) {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
}

/// Times the floor of `no-op` and `status`: one connection and one query,
/// against the database the psql floor migrated.
fn measure_one_query(runs: usize, work: &Path) -> Result<Medians, String> {
    let db = existing_db("bench_psql");
    let me = std::env::current_exe().unwrap().display().to_string();
    let query = |sql: &str| vec!["--one-query".to_string(), db.url.clone(), sql.to_string()];
    let (mut noop, mut rss, mut status) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs.max(5) {
        let s = run(
            &me,
            &query("SELECT max(version) FROM schema_history"),
            &db,
            work,
        )?;
        noop.push(s.ms);
        rss.push(s.rss_mib);
        let all = "SELECT version, applied_at FROM schema_history ORDER BY version";
        status.push(run(&me, &query(all), &db, work)?.ms);
    }
    Ok(Medians {
        noop_ms: Some(median(noop)),
        status_ms: Some(median(status)),
        noop_rss: Some(median(rss)),
        note: Some("floor of no-op and status: a process that opens one connection and runs one query (sqlx)".into()),
        ..Medians::default()
    })
}

/// One benchmark database.
struct Db {
    url: String,
    jdbc: String,
    user: String,
    password: String,
}

fn admin_url() -> url::Url {
    url::Url::parse(&std::env::var("BENCH_ADMIN_URL").expect("BENCH_ADMIN_URL")).unwrap()
}

fn fresh_db(name: &str) -> Db {
    let admin = admin_url();
    psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
    psql(&admin, &format!("CREATE DATABASE {name}"));
    existing_db(name)
}

fn existing_db(name: &str) -> Db {
    let admin = admin_url();
    let mut url = admin.clone();
    url.set_path(name);
    Db {
        jdbc: format!(
            "jdbc:postgresql://{}:{}/{name}",
            admin.host_str().unwrap(),
            admin.port().unwrap()
        ),
        user: admin.username().to_string(),
        password: admin.password().unwrap_or("").to_string(),
        url: url.to_string(),
    }
}

fn psql(url: &url::Url, sql: &str) {
    let ok = Command::new("psql")
        .args([url.as_str(), "-X", "-q", "-c", sql])
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .status()
        .unwrap()
        .success();
    assert!(ok, "psql: {sql}");
}

/// Wall time in milliseconds and peak RSS in MiB of one run.
struct Sample {
    ms: f64,
    rss_mib: f64,
}

/// Runs `command args…` under `/usr/bin/time` (for the peak RSS) and times it.
fn run(command: &str, args: &[String], db: &Db, work: &Path) -> Result<Sample, String> {
    let mut words = command.split_whitespace();
    let program = words.next().expect("a command");
    let rss_file = work.join("rss");
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(program)
        .args(words)
        .args(args)
        .env("BENCH_DB_URL", &db.url)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "{program} failed: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    let kib: f64 = std::fs::read_to_string(&rss_file)
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0.0);
    Ok(Sample {
        ms,
        rss_mib: kib / 1024.0,
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Medians for one tool.
#[derive(Default)]
struct Medians {
    apply_ms: Option<f64>,
    noop_ms: Option<f64>,
    status_ms: Option<f64>,
    apply_rss: Option<f64>,
    noop_rss: Option<f64>,
    note: Option<String>,
}

fn measure(
    tool: Tool,
    command: &str,
    n: usize,
    runs: usize,
    work: &Path,
) -> Result<Medians, String> {
    let dir = work.join(tool.name().split(' ').next().unwrap());
    tool.write_files(&dir, n);
    let db_name = format!(
        "bench_{}",
        tool.name().split(' ').next().unwrap().replace('-', "_")
    );
    let (mut apply, mut apply_rss) = (Vec::new(), Vec::new());
    let mut db = None;
    for _ in 0..runs {
        let fresh = fresh_db(&db_name);
        let (args, _) = tool.args(&dir, &fresh);
        let s = run(command, &args, &fresh, work)?;
        apply.push(s.ms);
        apply_rss.push(s.rss_mib);
        db = Some(fresh);
    }
    let db = db.expect("at least one run");
    let (mut noop, mut noop_rss, mut status) = (Vec::new(), Vec::new(), Vec::new());
    let repeats = runs.max(5);
    for _ in 0..repeats {
        let s = run(command, &tool.noop_args(&dir, &db), &db, work)?;
        noop.push(s.ms);
        noop_rss.push(s.rss_mib);
    }
    let status_args = tool.args(&dir, &db).1;
    if let Some(args) = &status_args {
        for _ in 0..repeats {
            status.push(run(command, args, &db, work)?.ms);
        }
    }
    Ok(Medians {
        apply_ms: Some(median(apply)),
        noop_ms: Some(median(noop)),
        status_ms: (!status.is_empty()).then(|| median(status)),
        apply_rss: Some(median(apply_rss)),
        noop_rss: Some(median(noop_rss)),
        note: status_args
            .is_none()
            .then(|| "no status command".to_string()),
    })
}

fn cell(value: Option<f64>, base: Option<f64>, unit_ms: bool) -> String {
    match value {
        None => "-".into(),
        Some(v) => {
            let shown = if unit_ms && v >= 1000.0 {
                format!("{:.2} s", v / 1000.0)
            } else if unit_ms {
                format!("{v:.0} ms")
            } else {
                format!("{v:.1}")
            };
            match base {
                Some(b) if b > 0.0 => format!("{shown} ({:.2}×)", v / b),
                _ => shown,
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--one-query") {
        one_query(&args[2], &args[3]);
        return;
    }
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let work = PathBuf::from(std::env::var("BENCH_WORK").expect("BENCH_WORK"));
    let mut results: Vec<(&str, Medians)> = Vec::new();
    for tool in Tool::ALL {
        let command =
            std::env::var(tool.env()).unwrap_or_else(|_| "unavailable: not configured".into());
        eprintln!("== {}", tool.name());
        let result = match command.strip_prefix("unavailable:") {
            Some(why) => Medians {
                note: Some(format!("not measured: {}", why.trim())),
                ..Medians::default()
            },
            None => measure(tool, &command, n, runs, &work).unwrap_or_else(|e| Medians {
                note: Some(format!("failed: {e}")),
                ..Medians::default()
            }),
        };
        results.push((tool.name(), result));
    }
    eprintln!("== one connection + one query");
    let floor = measure_one_query(runs, &work).unwrap_or_else(|e| Medians {
        note: Some(format!("failed: {e}")),
        ..Medians::default()
    });
    results.push(("floor: 1 connection + 1 query", floor));
    let strata = &results[0].1;
    println!(
        "{n} migrations, median of {runs} apply runs and {} no-op/status runs; (×) = time / strata's time, lower is faster\n",
        runs.max(5)
    );
    println!(
        "| tool | apply | no-op `up` | status | peak RSS apply (MiB) | peak RSS no-op (MiB) | note |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (tool, r) in &results {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            tool,
            cell(r.apply_ms, strata.apply_ms, true),
            cell(r.noop_ms, strata.noop_ms, true),
            cell(r.status_ms, strata.status_ms, true),
            cell(r.apply_rss, None, false),
            cell(r.noop_rss, None, false),
            r.note.clone().unwrap_or_default()
        );
    }
}
