//! PostgreSQL with a standby: multi-host URLs find the writable server,
//! nothing runs on a standby, a failover in the middle of a run loses and
//! repeats nothing, and partition maintenance waits on a standby until it
//! is promoted. Each test makes its own primary and streaming standby
//! (`tests/support/pg_pair.rs`), since some crash the primary.

mod support;

#[path = "support/pg_pair.rs"]
mod pg_pair;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use pg_pair::Pair;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use support::{Project, migrate_bin};

async fn query<T>(url: &str, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut c = PgConnection::connect(url).await.unwrap();
    let v = sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = c.close().await;
    v
}

async fn exec(url: &str, sql: &str) {
    let mut c = PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = c.close().await;
}

/// Waits until `sql` answers true on `url` (a condition, not a pause).
async fn wait_for(url: &str, what: &str, sql: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ok = match PgConnection::connect(url).await {
            Ok(mut c) => sqlx::query_scalar::<_, bool>(AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut c)
                .await
                .unwrap_or(false),
            Err(_) => false,
        };
        if ok {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn migrate(p: &Project, url: &str, args: &[&str]) -> support::Run {
    let mut full = vec!["--database-url", url];
    full.extend_from_slice(args);
    p.migrate_raw(&full, &[])
}

#[tokio::test]
async fn a_multi_host_url_finds_the_primary_and_a_standby_is_refused() {
    let pair = Pair::start();
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (id int);\n");
    // The standby alone: refused by name, nothing written.
    let alone = migrate(&p, &Pair::url(pair.standby, "postgres"), &["up"]);
    alone.expect(1);
    assert!(alone.stderr.contains("is a standby"), "{}", alone.stderr);
    // Both, the standby first: strata finds the writable one.
    let both = format!(
        "postgres://strata@127.0.0.1:{},127.0.0.1:{}/postgres?sslmode=disable",
        pair.standby, pair.primary
    );
    migrate(&p, &both, &["up"]).expect(0);
    let primary = Pair::url(pair.primary, "postgres");
    assert!(query::<bool>(&primary, "SELECT to_regclass('a') IS NOT NULL").await);
    // status may read a standby when the URL asks for one.
    let standby = Pair::url(pair.standby, "postgres");
    wait_for(&standby, "the standby to replay", "SELECT to_regclass('schema_migrations') IS NOT NULL AND EXISTS (SELECT 1 FROM schema_migrations)").await;
    let read = migrate(
        &p,
        &format!("{both}&target_session_attrs=standby"),
        &["status"],
    );
    read.expect(0);
    assert!(read.stdout.contains("1 applied"), "{}", read.stdout);
    // libpq's key=value form, the same hosts.
    let keywords = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} dbname=postgres user=strata sslmode=disable",
        pair.standby, pair.primary
    );
    p.migration("V2__b.sql", "CREATE TABLE b (id int);\n");
    migrate(&p, &keywords, &["up"]).expect(0);
    assert!(query::<bool>(&primary, "SELECT to_regclass('b') IS NOT NULL").await);
}

#[tokio::test]
async fn a_failover_in_the_middle_of_a_run_repeats_and_loses_nothing() {
    let pair = Pair::start();
    let primary = Pair::url(pair.primary, "postgres");
    let both = format!(
        "postgres://strata@127.0.0.1:{},127.0.0.1:{}/postgres?sslmode=disable",
        pair.primary, pair.standby
    );
    let p = Project::new();
    p.migration("V1__first.sql", "CREATE TABLE first (id int);\n");
    // Long on the first primary only, so the run is caught in it.
    p.migration(
        "V2__slow.sql",
        &format!(
            "CREATE TABLE second (id int);\n\
             SELECT pg_sleep(60) WHERE current_setting('port') = '{}';\n",
            pair.primary
        ),
    );
    p.migration("V3__third.sql", "CREATE TABLE third (id int);\n");
    let child = Command::new(migrate_bin())
        .args(["--database-url", &both, "up"])
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        &primary,
        "V2 to run",
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'strata' \
         AND query LIKE '%pg_sleep(60)%'",
    )
    .await;
    pair.crash_primary();
    pair.promote();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("applied 1 first"), "{stdout}");
    // The same URL finds the promoted standby and finishes: V1 is not run
    // again (it would fail: the table exists), V2 and V3 run once.
    let again = migrate(&p, &both, &["up"]);
    again.expect(0);
    assert!(!again.stdout.contains("applied 1"), "{}", again.stdout);
    let new_primary = Pair::url(pair.standby, "postgres");
    let history: i64 = query(
        &new_primary,
        "SELECT count(*) FROM schema_migrations WHERE success",
    )
    .await;
    assert_eq!(history, 3);
    assert!(query::<bool>(&new_primary, "SELECT to_regclass('third') IS NOT NULL").await);
}

#[tokio::test]
async fn the_daemon_on_a_standby_waits_and_maintains_once_promoted() {
    let pair = Pair::start();
    let primary = Pair::url(pair.primary, "postgres");
    exec(
        &primary,
        "CREATE TABLE events (id bigint, created_at timestamptz NOT NULL) \
         PARTITION BY RANGE (created_at)",
    )
    .await;
    let standby = Pair::url(pair.standby, "postgres");
    wait_for(
        &standby,
        "the standby to replay",
        "SELECT to_regclass('events') IS NOT NULL",
    )
    .await;
    let p = Project::new();
    p.config(&format!(
        "[databases.app]\nkind = \"postgres\"\nurl = \"{standby}\"\nmigrations = \"migrations\"\n\n\
         [[partitions]]\ndatabase = \"app\"\ntable = \"events\"\npremake = 1\n"
    ));
    // check on a standby: what it sees, and that it cannot act there.
    let check = p.migrate_raw(&["partitions", "check"], &[]);
    assert!(
        check.stderr.contains("read on a standby"),
        "{}",
        check.all()
    );
    let mut child = Command::new(migrate_bin())
        .args(["partitions", "daemon", "--every", "1h"])
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("the server is a standby") {
            break;
        }
    }
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    assert_eq!(
        query::<i64>(&standby, "SELECT count(*) FROM pg_inherits").await,
        0,
        "nothing is done on a standby"
    );
    pair.crash_primary();
    pair.promote();
    wait_for(
        &standby,
        "the daemon to maintain the promoted server",
        "SELECT count(*) >= 2 FROM pg_inherits WHERE inhparent = 'events'::regclass",
    )
    .await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
    let said = rest.join().unwrap();
    assert_eq!(
        said.iter()
            .filter(|l| l.contains("the server is a standby"))
            .count(),
        0,
        "said once only: {said:?}"
    );
    assert!(
        said.iter().any(|l| l.contains("accepts writes now")),
        "{said:?}"
    );
}
