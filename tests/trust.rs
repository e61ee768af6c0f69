//! What real migration folders and a held-out adversary broke, second
//! round: each case against the real PostgreSQL, asserting what the server
//! ends up holding.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{AssertSqlSafe, Connection};
use support::{Project, TestDb, admin_password, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn run_sql(db: &TestDb, sql: &str) {
    let mut c = db.connect().await;
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = c.close().await;
}

#[tokio::test]
async fn a_file_that_changes_search_path_cannot_send_the_history_elsewhere() {
    let db = TestDb::new("searchpath").await;
    let p = Project::new();
    p.migration(
        "V1__tenant.sql",
        "CREATE SCHEMA tenant2;\nSET search_path TO tenant2;\nCREATE TABLE t (x int);\n",
    );
    // pg_dump's preamble empties the search_path for the session.
    p.migration(
        "V2__dump.sql",
        "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.u (x int);\n",
    );
    p.migration(
        "V3__notx.sql",
        "-- strata:no-transaction\nSET search_path TO tenant2;\nCREATE TABLE w (x int);\n",
    );
    p.migration("V4__after.sql", "CREATE TABLE after_all (x int);\n");
    p.migrate(&db, &["up"]).expect(0);
    assert_eq!(
        db.history().await,
        vec![(1, true), (2, true), (3, true), (4, true)]
    );
    assert!(!db.has_table("tenant2.schema_migrations").await);
    assert!(db.has_table("tenant2.t").await && db.has_table("tenant2.w").await);
    // The next file ran with the database's own search_path again.
    assert!(db.has_table("public.after_all").await);
    let status = p.migrate(&db, &["status"]);
    status.expect(0);
    assert!(
        status.stdout.contains("history: public.schema_migrations"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("4 applied"), "{}", status.stdout);
    let again = p.migrate(&db, &["up"]);
    again.expect(0);
    assert_eq!(db.history().await.len(), 4);

    // history_schema puts it elsewhere on purpose; the lock follows.
    let other = TestDb::new("histschema").await;
    run_sql(&other, "CREATE SCHEMA ops").await;
    let q = Project::new();
    q.migration(
        "V1__a.sql",
        "SET search_path TO ops, public;\nCREATE TABLE a (x int);\n",
    );
    q.config(&format!(
        "[databases.app]\nkind = \"postgres\"\nurl = \"{}\"\nmigrations = \"migrations\"\nhistory_schema = \"ops\"\n",
        other.url
    ));
    q.migrate_raw(&["up"], &[]).expect(0);
    assert!(other.has_table("ops.schema_migrations").await);
    assert!(!other.has_table("public.schema_migrations").await);
    let status = q.migrate_raw(&["status"], &[]);
    assert!(
        status.stdout.contains("history: ops.schema_migrations"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn migrations_run_with_the_database_time_zone_and_date_style() {
    let db = TestDb::new("timezone").await;
    run_sql(
        &db,
        &format!(
            "ALTER DATABASE \"{0}\" SET timezone = 'America/New_York';\n\
             ALTER DATABASE \"{0}\" SET datestyle = 'ISO, DMY';",
            db.name
        ),
    )
    .await;
    let p = Project::new();
    p.migration(
        "V1__events.sql",
        "CREATE TABLE ev (id int, at timestamptz, d date, tz text);\n\
         INSERT INTO ev VALUES (1, '2026-12-25 00:00', '01/02/2026', current_setting('TimeZone'));\n\
         SET timezone = 'Asia/Tokyo';\n",
    );
    p.migration(
        "V2__more.sql",
        "-- strata:no-transaction\n\
         INSERT INTO ev VALUES (2, '2026-12-25 00:00', '01/02/2026', current_setting('TimeZone'));\n",
    );
    p.migration(
        "V3__last.sql",
        "INSERT INTO ev VALUES (3, '2026-12-25 00:00', '01/02/2026', current_setting('TimeZone'));\n",
    );
    p.migrate(&db, &["up"]).expect(0);
    let mut c = db.connect().await;
    let rows: Vec<(i32, i64, String, String)> = sqlx::query_as(
        "SELECT id, extract(epoch FROM at)::bigint, d::text, tz FROM ev ORDER BY id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    // Midnight in New York is 05:00 UTC; 01/02 is the 1st of February.
    let midnight_ny = 1_798_174_800i64;
    for (id, at, d, tz) in rows {
        assert_eq!(at, midnight_ny, "file {id} stored another instant");
        assert_eq!(d, "2026-02-01", "file {id} read the date as MDY");
        assert_eq!(tz, "America/New_York", "file {id} saw another time zone");
    }
    // strata's own reads are unaffected: the history reads back.
    let status = p.migrate(&db, &["status"]);
    status.expect(0);
    assert!(status.stdout.contains("3 applied"), "{}", status.stdout);
}

#[tokio::test]
async fn a_nul_byte_is_refused_by_every_command_before_anything_runs() {
    let db = TestDb::new("nulbyte").await;
    let p = Project::new();
    p.migration("V1__ok.sql", "CREATE TABLE ok (x int);\n");
    p.migration(
        "V2__nul.sql",
        "-- strata:no-transaction\nCREATE TABLE b (x int);\nSELECT 'a\0b';\n",
    );
    for args in [
        vec!["validate"],
        vec!["plan"],
        vec!["up", "--dry-run"],
        vec!["lint"],
        vec!["up"],
    ] {
        let run = p.migrate(&db, &args);
        run.expect_in(2, &args.join(" "));
        assert!(
            run.stderr.contains("V2__nul.sql:3:10"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("NUL"), "{}", run.stderr);
    }
    assert!(!db.has_table("ok").await && !db.has_table("b").await);
    assert!(db.history().await.is_empty());
}

#[tokio::test]
async fn a_config_that_does_not_parse_prints_no_password() {
    let db = TestDb::new("tomlsecret").await;
    let password = admin_password();
    let p = Project::new();
    p.migration("V1__a.sql", "SELECT 1;\n");
    for config in [
        format!(
            "[databases.app]\nkind = \"postgres\"\nurl = \"{}\"\npasswd = \"{password}\"\n",
            db.url
        ),
        format!("[databases.app]\nkind = \"postgres\"\nurl = \"{}\n", db.url),
        format!(
            "[databases.app]\nkind = \"postgres\"\nurl = \"{0}\"\nurl = \"{0}\"\n",
            db.url
        ),
        format!(
            "[databases.app]\nkind = \"postgres\"\nurl = [\"{}\"]\n",
            db.url
        ),
    ] {
        p.config(&config);
        let run = p.migrate_raw(&["status"], &[]);
        run.expect(2);
        assert!(!run.all().contains(&password), "{}", run.all());
        assert!(run.stderr.contains("migrate.toml: line"), "{}", run.stderr);
    }
}

#[tokio::test]
async fn a_failed_statement_is_placed_without_running_the_file_again() {
    let db = TestDb::new("locate").await;
    run_sql(&db, "CREATE SEQUENCE s").await;
    let p = Project::new();
    p.migration(
        "V1__fails.sql",
        "CREATE TABLE a (x int);\nSELECT nextval('s');\n\nSELECT 1 / (SELECT count(*) FROM a);\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("V1__fails.sql:4"), "{}", run.stderr);
    assert!(run.stderr.contains("division by zero"), "{}", run.stderr);
    // nextval is not rolled back: run once, it is 1.
    assert_eq!(db.scalar::<i64>("SELECT last_value FROM s").await, 1);
    assert!(!db.has_table("a").await);
}

#[tokio::test]
async fn a_failed_unique_concurrent_index_stays_dirty_and_is_never_recorded_as_built() {
    let db = TestDb::new("cicdup").await;
    run_sql(
        &db,
        "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (1);",
    )
    .await;
    let p = Project::new();
    p.migration(
        "V1__unique.sql",
        "-- strata:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_x ON t (x);\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("public.t_x INVALID"), "{}", run.stderr);
    assert!(
        run.stderr.contains("DROP INDEX CONCURRENTLY public.t_x"),
        "{}",
        run.stderr
    );
    assert_eq!(db.history().await, vec![(1, false)], "left dirty");
    // The duplicate gone and the record repaired, IF NOT EXISTS meets the
    // invalid index: not recorded as applied.
    run_sql(&db, "DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)").await;
    p.migrate(&db, &["repair"]).expect(0);
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("INVALID"), "{}", run.stderr);
    assert_eq!(db.history().await, vec![(1, false)]);
    // Dropped and repaired: it builds, valid.
    run_sql(&db, "DROP INDEX t_x").await;
    p.migrate(&db, &["repair"]).expect(0);
    p.migrate(&db, &["up"]).expect(0);
    assert!(
        db.scalar::<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_x'::regclass")
            .await
    );
    // An applied migration's index gone invalid: status, validate, up refuse.
    run_sql(
        &db,
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 't_x'::regclass",
    )
    .await;
    for args in [["status"], ["validate"], ["up"]] {
        let run = p.migrate(&db, &args);
        assert_ne!(run.code, 0, "{args:?}: {}", run.all());
        assert!(
            run.stderr.contains("public.t_x"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[tokio::test]
async fn a_cancelled_concurrent_index_build_leaves_the_record_dirty() {
    let db = TestDb::new("ciccancel").await;
    run_sql(&db, "CREATE TABLE t (x int); INSERT INTO t VALUES (1);").await;
    let p = Project::new();
    p.migration(
        "V1__idx.sql",
        "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_x ON t (x);\n",
    );
    // An open transaction with a snapshot: the build waits for it.
    let mut reader = db.connect().await;
    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM t")
        .execute(&mut reader)
        .await
        .unwrap();
    let child = p
        .command(&db, &["up"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        &db,
        "the build to wait",
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' \
         AND wait_event_type = 'Lock' AND datname = current_database()",
    )
    .await;
    run_sql(
        &db,
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' \
         AND datname = current_database()",
    )
    .await;
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("public.t_x INVALID"), "{stderr}");
    let _ = reader.close().await;
    assert_eq!(db.history().await, vec![(1, false)]);
    assert!(
        !db.scalar::<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_x'::regclass")
            .await
    );
}

/// A proxy to the test server that cuts the client off as soon as the
/// server has answered the message carrying strata's record and COMMIT.
async fn commit_cutting_proxy(target: String) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(&target).await.unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let cut = Arc::new(AtomicBool::new(false));
            let cut_up = cut.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = cr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if text.contains("INSERT INTO") && text.contains("COMMIT") {
                        cut_up.store(true, Ordering::SeqCst);
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 || cut.load(Ordering::SeqCst) {
                        break; // the answer to COMMIT never reaches the client
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = cw.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_commit_acknowledgement_says_whether_it_committed() {
    let db = TestDb::new("lostcommit").await;
    // A first file applied directly, so the one cut off is not the one
    // creating the history table.
    let p = Project::new();
    p.migration("V1__first.sql", "CREATE TABLE first (x int);\n");
    p.migrate(&db, &["up"]).expect(0);
    p.migration("V2__second.sql", "CREATE TABLE second (x int);\n");
    let url = url::Url::parse(&db.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let port = commit_cutting_proxy(target).await;
    let mut proxied = url.clone();
    proxied.set_port(Some(port)).unwrap();
    // In clear text, so the proxy can see the COMMIT go by (the suite's
    // server also speaks TLS).
    proxied.set_query(Some("sslmode=disable"));
    let run = p.migrate_raw(&["--database-url", proxied.as_str(), "up"], &[]);
    run.expect(1);
    assert!(run.stderr.contains("V2__second.sql"), "{}", run.stderr);
    assert!(run.stderr.contains("it IS applied"), "{}", run.stderr);
    assert!(!run.all().contains(&admin_password()));
    assert_eq!(db.history().await, vec![(1, true), (2, true)]);
    assert!(db.has_table("second").await);
}

#[test]
fn lint_all_reads_files_only_and_needs_no_database_url() {
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (id bigint);\n");
    p.migration("V2__b.sql", "BEGIN;\nALTER TABLE a RENAME TO b;\nCOMMIT;\n");
    let run = p.migrate_raw(&["lint", "--all"], &[("DATABASE_URL", "")]);
    run.expect(0);
    assert!(
        !run.stdout.contains("transaction-nesting"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn a_concurrent_build_stopped_by_sigterm_says_what_it_left() {
    let db = TestDb::new("cicsigterm").await;
    run_sql(&db, "CREATE TABLE t (x int); INSERT INTO t VALUES (1);").await;
    let p = Project::new();
    p.migration(
        "V1__idx.sql",
        "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_x ON t (x);\n",
    );
    let mut reader = db.connect().await;
    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM t")
        .execute(&mut reader)
        .await
        .unwrap();
    let child = p
        .command(
            &db,
            &["--stop-timeout", "1", "--ddl-lock-timeout", "off", "up"],
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        &db,
        "the build to wait",
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' \
         AND wait_event_type = 'Lock' AND datname = current_database()",
    )
    .await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("its record is dirty"), "{stderr}");
    assert!(
        stderr.contains("DROP INDEX CONCURRENTLY public.t_x"),
        "{stderr}"
    );
    assert!(!stderr.contains("rolled back"), "{stderr}");
    let _ = reader.close().await;
    assert_eq!(db.history().await, vec![(1, false)]);
    // The next run refuses, naming the dirty record and the index it left.
    let again = p.migrate(&db, &["up"]);
    again.expect(3);
    assert!(again.stderr.contains("dirty"), "{}", again.stderr);
    assert!(
        again.stderr.contains("invalid index: public.t_x"),
        "{}",
        again.stderr
    );
    let status = p.migrate(&db, &["status"]);
    assert_ne!(status.code, 0);
    assert!(status.stderr.contains("public.t_x"), "{}", status.stderr);
}

#[tokio::test]
async fn a_reader_that_goes_away_does_not_crash_a_run() {
    let db = TestDb::new("closedpipe").await;
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (id int);\n");
    // Both ends of output closed before it is written (`| head` gone).
    let mut child = p
        .command(&db, &["up"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(db.history().await, vec![(1, true)]);
}
