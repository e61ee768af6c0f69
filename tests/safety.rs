//! A migration can never escape its transaction, touch strata's own
//! history, or fail without saying exactly where — against a real
//! PostgreSQL. Each case was seen with real migration folders or hostile
//! files; each asserts what the server ends up holding, not only what
//! strata says.

mod support;

use std::time::{Duration, Instant};

use strata::backend::{AnyBackend, Backend};
use strata::catalog::{Catalog, FileError, Format, Reading, SourceFile, TransactionMode};
use strata::config::Config;
use strata::engine::{Options, Target};
use strata::plan::{Command, OutOfOrder, UpTarget};
use support::{Project, TestDb};

const UP: Command = Command::Up {
    to: UpTarget::Latest,
    out_of_order: OutOfOrder::Refuse,
};

#[tokio::test]
async fn transaction_control_in_a_transactional_file_is_refused_before_anything_runs() {
    for (n, (file, text, line)) in [
        (
            "V1__half.sql",
            "CREATE TABLE half_a (x int);\nCOMMIT;\nCREATE TABLE half_b (x int);\nSELECT 1/0;\n",
            2,
        ),
        ("V1__escape.sql", "COMMIT; DROP TABLE keep;\n", 1),
        (
            "V1__rollback.sql",
            "CREATE TABLE half_a (x int);\n\nROLLBACK;\nCREATE TABLE half_b (x int);\n",
            3,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let db = TestDb::new(&format!("txctl{n}")).await;
        let mut c = db.connect().await;
        sqlx::raw_sql("CREATE TABLE keep (x int)")
            .execute(&mut c)
            .await
            .unwrap();
        let before = db.schema_dump().await;
        let p = Project::new();
        p.migration(file, text);
        let run = p.migrate(&db, &["up"]);
        run.expect(2);
        assert!(
            run.stderr.contains(&format!("{file}:{line}:1: ")),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("strata:no-transaction"),
            "{}",
            run.stderr
        );
        assert_eq!(
            db.schema_dump().await,
            before,
            "{file} changed the database"
        );
        assert!(!db.has_table("half_a").await);
    }
}

#[tokio::test]
async fn a_begin_commit_wrapper_around_the_whole_file_runs_as_if_absent() {
    let db = TestDb::new("wrapper").await;
    let p = Project::new();
    p.migration(
        "V1__wrapped.sql",
        "BEGIN;\nCREATE TABLE a (x int);\nCREATE TABLE b (y int REFERENCES nope (z));\nCOMMIT;\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    // The failure is placed in the file, and nothing of it stayed.
    assert!(run.stderr.contains("V1__wrapped.sql:3 "), "{}", run.stderr);
    assert!(!db.has_table("a").await);
    assert!(db.history().await.is_empty());
    p.migration(
        "V1__wrapped.sql",
        "BEGIN;\nCREATE TABLE a (x int);\nCREATE TABLE b (y int);\nCOMMIT;\n",
    );
    p.migrate(&db, &["up"]).expect(0);
    assert!(db.has_table("a").await && db.has_table("b").await);
    assert_eq!(db.history().await, [(1, true)]);
    // No warning about a transaction already in progress.
    let again = p.migrate(&db, &["status", "-v"]);
    assert!(
        !again.stderr.contains("already a transaction"),
        "{}",
        again.stderr
    );
}

/// Reads files without any check, so a file that ends strata's
/// transaction reaches the server: the second guard must catch it.
struct Unchecked;

impl Format for Unchecked {
    fn kind(&self) -> strata::Kind {
        strata::Kind::Postgres
    }

    fn read(&self, _: &str) -> Result<Reading, FileError> {
        Ok(Reading {
            mode: TransactionMode::Transaction,
            operations: Vec::new(),
        })
    }
}

/// Runs `up` over `files` read without any check: the error's text.
async fn up_unchecked(db: &TestDb, files: &[(&str, &str)]) -> String {
    let config = Config::single(&db.url, "m".into(), "r".into()).unwrap();
    let files = files
        .iter()
        .map(|(path, text)| SourceFile {
            path: (*path).into(),
            bytes: text.as_bytes().to_vec(),
        })
        .collect();
    let target = Target {
        config: config.databases["default"].clone(),
        catalog: Catalog::from_files(&Unchecked, files, Vec::new()).unwrap(),
    };
    let mut backend = AnyBackend::connect(&target.config, Duration::from_secs(10))
        .await
        .unwrap();
    let err = strata::engine::execute(&target, &mut backend, UP, &Options::default())
        .await
        .unwrap_err();
    let _ = backend.close().await;
    assert_eq!(err.exit_code(), 1, "{err}");
    err.to_string()
}

#[tokio::test]
async fn a_file_that_ends_the_transaction_anyway_is_caught_before_it_is_recorded() {
    let db = TestDb::new("xid").await;
    let text = up_unchecked(
        &db,
        &[(
            "V1__sneaky.sql",
            "CREATE TABLE before_commit (x int); COMMIT; CREATE TABLE after_commit (x int);",
        )],
    )
    .await;
    assert!(text.contains("V1__sneaky.sql"), "{text}");
    assert!(text.contains("ended the transaction"), "{text}");
    // What ran before the COMMIT stayed (that is what the guard reports);
    // the version is not recorded as applied.
    assert!(db.has_table("before_commit").await);
    assert!(
        db.history().await.iter().all(|(v, _)| *v != 1),
        "{:?}",
        db.history().await
    );
}

/// Once the history exists, the file travels with the BEGIN that opens its
/// transaction and the record with the COMMIT: a file that commits and
/// begins a transaction of its own is still caught, what it ran after its
/// own BEGIN is rolled back, and the earlier file's record (a name with a
/// quote and a backslash, written as a constant) reads back as it was.
#[tokio::test]
async fn a_file_that_ends_and_reopens_the_transaction_is_caught_and_its_reopened_part_undone() {
    let db = TestDb::new("xid2").await;
    let text = up_unchecked(
        &db,
        &[
            ("V1__o'brien \\ x.sql", "CREATE TABLE first (x int);"),
            (
                "V2__sneaky.sql",
                "CREATE TABLE before_commit (x int);\nCOMMIT;\nBEGIN;\nCREATE TABLE after_begin (x int);\n",
            ),
        ],
    )
    .await;
    assert!(text.contains("V2__sneaky.sql"), "{text}");
    assert!(text.contains("ended the transaction"), "{text}");
    assert!(db.has_table("first").await);
    assert!(db.has_table("before_commit").await);
    assert!(!db.has_table("after_begin").await);
    assert_eq!(db.history().await, vec![(1, true)]);
    assert_eq!(
        db.scalar::<String>("SELECT name FROM schema_migrations WHERE version = 1")
            .await,
        "o'brien \\ x"
    );
}

#[tokio::test]
async fn no_file_may_name_the_history_table() {
    let db = TestDb::new("ownhist").await;
    let p = Project::new();
    p.migration("V1__users.sql", "CREATE TABLE users (id int);\n");
    p.migrate(&db, &["up"]).expect(0);
    let before = db.schema_dump().await;
    p.migration(
        "V2__seed.sql",
        "CREATE TABLE IF NOT EXISTS schema_migrations (id int);\n\
         CREATE INDEX seed_idx ON schema_migrations (id);\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(2);
    assert!(run.stderr.contains("V2__seed.sql:1:28: "), "{}", run.stderr);
    assert!(run.stderr.contains("history_table"), "{}", run.stderr);
    assert_eq!(db.schema_dump().await, before);
    assert!(
        !db.scalar::<bool>("SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'seed_idx')")
            .await
    );
}

#[tokio::test]
async fn a_foreign_history_table_under_strata_s_name_is_recognised() {
    let db = TestDb::new("foreign").await;
    let mut c = db.connect().await;
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);\n\
         INSERT INTO schema_migrations VALUES (3, false);",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let p = Project::new();
    p.migration("V1__users.sql", "CREATE TABLE users (id int);\n");
    for args in [&["status"][..], &["up"], &["baseline", "--version", "1"]] {
        let run = p.migrate(&db, args);
        run.expect(2);
        assert!(
            run.stderr.contains("golang-migrate"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("history_table"), "{}", run.stderr);
        assert!(!run.stderr.contains("at line"), "{}", run.stderr);
    }
    assert!(!db.has_table("users").await);
}

#[tokio::test]
async fn errors_point_at_the_statement_not_at_postgresql_s_source() {
    let db = TestDb::new("where").await;
    let p = Project::new();
    p.migration(
        "V1__func.sql",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n\
         CREATE VIEW v AS SELECT f() AS x;\n",
    );
    p.migrate(&db, &["up"]).expect(0);
    // 2BP01 carries no position: the statement is found by a re-run.
    p.migration(
        "V2__drop.sql",
        "-- why\nCREATE TABLE t (x int);\n\nDROP FUNCTION f();\nCREATE TABLE u (x int);\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("V2__drop.sql:4 "), "{}", run.stderr);
    assert!(run.stderr.contains("SQLSTATE 2BP01"), "{}", run.stderr);
    assert!(!run.stderr.contains(" at line "), "{}", run.stderr);
    assert!(!db.has_table("t").await);
    // A no-transaction statement is placed at its first token, not at the
    // comment above it.
    std::fs::remove_file(p.path().join("migrations/V2__drop.sql")).unwrap();
    p.migration(
        "V2__nt.sql",
        "-- strata:no-transaction\nCREATE TABLE a (x int);\n\n\n-- explain\n-- more\nSELECT nope FROM a;\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("V2__nt.sql:7:8"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("statement 1 of 2 ran; the record is dirty"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn statements_that_refuse_a_transaction_want_the_directive() {
    let db = TestDb::new("cic").await;
    let p = Project::new();
    p.migration("V1__t.sql", "CREATE TABLE t (x int);\n");
    p.migrate(&db, &["up"]).expect(0);
    let before = db.schema_dump().await;
    p.migration(
        "V2__idx.sql",
        "CREATE TABLE u (x int);\nCREATE INDEX CONCURRENTLY t_x ON t (x);\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("V2__idx.sql:2:1: CREATE INDEX CONCURRENTLY"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("-- strata:no-transaction"),
        "{}",
        run.stderr
    );
    assert_eq!(db.schema_dump().await, before);
}

#[tokio::test]
async fn a_statement_by_statement_file_failing_first_leaves_no_dirty_record() {
    let db = TestDb::new("first").await;
    let p = Project::new();
    p.migration(
        "V2__idx.sql",
        "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY i ON missing (x);\nCREATE TABLE never (x int);\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    assert!(run.stderr.contains("no repair is needed"), "{}", run.stderr);
    assert!(db.history().await.is_empty(), "{:?}", db.history().await);
    // Fixed, it simply runs: no repair first.
    p.migration("V1__missing.sql", "CREATE TABLE missing (x int);\n");
    p.migrate(&db, &["up"]).expect(0);
    assert_eq!(db.history().await, [(1, true), (2, true)]);
    // Failing later: says how far it got, and the record is dirty.
    p.migration(
        "V3__later.sql",
        "-- strata:no-transaction\nCREATE TABLE l1 (x int);\nCREATE TABLE l2 (x int);\nSELECT 1/0;\nCREATE TABLE l3 (x int);\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("statements 1–2 of 4 ran; the record is dirty"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("V3__later.sql:4 "), "{}", run.stderr);
    assert_eq!(db.history().await.last(), Some(&(3, false)));
}

#[tokio::test]
async fn a_lost_connection_still_reports_what_was_applied() {
    let db = TestDb::new("lost").await;
    let p = Project::new();
    // V2's COMMIT fires a deferred trigger that ends the session: the
    // connection is lost outside any statement of a file.
    p.migration("V1__a.sql", "CREATE TABLE a (x int);\n")
        .migration(
            "V2__die_at_commit.sql",
            "CREATE TABLE b (x int);\n\
             CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$\n\
             BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$;\n\
             CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON b\n\
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die();\n\
             INSERT INTO b VALUES (1);\n",
        )
        .migration("V3__c.sql", "CREATE TABLE c (x int);\n");
    let run = p.migrate(&db, &["up"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("this run completed version(s) 1 before it"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("applied 1 a"), "{}", run.stdout);
    assert_eq!(db.history().await, [(1, true)]);
    assert!(!db.has_table("c").await);
}

#[tokio::test]
async fn psql_meta_commands_are_refused_with_their_line() {
    let db = TestDb::new("meta").await;
    let p = Project::new();
    p.migration(
        "V1__meta.sql",
        "CREATE TABLE a (x int);\n\\connect other\nCREATE TABLE b (x int);\n",
    );
    let run = p.migrate(&db, &["up"]);
    run.expect(2);
    assert!(
        run.stderr.contains("V1__meta.sql:2:1: \\connect"),
        "{}",
        run.stderr
    );
    assert!(!db.has_table("a").await);
}

#[tokio::test]
async fn control_characters_in_file_names_are_never_printed_raw() {
    let db = TestDb::new("ctrl").await;
    for name in ["V1__evil\nline.sql", "V1__x\u{202e}lqs.sql"] {
        let p = Project::new();
        p.migration(name, "CREATE TABLE a (x int);\n");
        let run = p.migrate(&db, &["up"]);
        run.expect(2);
        assert!(!run.all().contains(name), "{:?}", run.all());
        assert!(
            run.stderr.contains("\\n") || run.stderr.contains("\\u{202e}"),
            "{:?}",
            run.stderr
        );
    }
    assert!(!db.has_table("a").await);
}

#[tokio::test]
async fn symlinked_files_are_read_and_broken_ones_refused() {
    let db = TestDb::new("links").await;
    let p = Project::new();
    let shared = p.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(
        shared.join("V1__shared.sql"),
        "CREATE TABLE shared (x int);\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "../shared/V1__shared.sql",
        p.path().join("migrations/V1__shared.sql"),
    )
    .unwrap();
    p.migrate(&db, &["validate", "--no-pending"]).expect(3);
    p.migrate(&db, &["up"]).expect(0);
    assert!(db.has_table("shared").await);
    std::os::unix::fs::symlink("nowhere.sql", p.path().join("migrations/V2__gone.sql")).unwrap();
    let run = p.migrate(&db, &["up"]);
    run.expect(2);
    assert!(
        run.stderr.contains("V2__gone.sql") && run.stderr.contains("does not exist"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(p.path().join("migrations/V2__gone.sql")).unwrap();
    std::fs::create_dir(p.path().join("migrations/V2__folder.sql")).unwrap();
    let run = p.migrate(&db, &["up"]);
    run.expect(2);
    assert!(run.stderr.contains("is a folder"), "{}", run.stderr);
}

/// Starts `migrate up` on a file that sleeps, waits until the sleep runs
/// on the server, sends `signal`, and returns the finished run.
async fn interrupted(
    db: &TestDb,
    p: &Project,
    signal: i32,
    extra: &[&str],
) -> (support::Run, Duration) {
    let mut cmd = std::process::Command::new(support::migrate_bin());
    cmd.args(["--database-url", &db.url, "up", "--stop-timeout", "1"])
        .args(extra)
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    support::wait_until(
        db,
        "the sleep to run",
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
         AND application_name = 'strata' AND state = 'active' AND datname = current_database())",
    )
    .await;
    let sent = Instant::now();
    // SAFETY-free: `kill` on our own child's pid.
    std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.into(), sent.elapsed())
}

#[tokio::test]
async fn sigterm_and_sigint_stop_cleanly_with_the_lock_released() {
    for (signal, code) in [(15, 143), (2, 130)] {
        let db = TestDb::new(&format!("sig{signal}")).await;
        let p = Project::new();
        p.migration("V1__a.sql", "CREATE TABLE a (x int);\n")
            .migration(
                "V2__slow.sql",
                "CREATE TABLE slow (x int);\nSELECT pg_sleep(60);\n",
            )
            .migration("V3__c.sql", "CREATE TABLE c (x int);\n");
        let (run, took) = interrupted(&db, &p, signal, &[]).await;
        run.expect(code);
        assert!(took < Duration::from_secs(30), "took {took:?}");
        assert!(run.stdout.contains("applied 1 a"), "{}", run.stdout);
        assert!(
            run.stderr
                .contains("cancelled on the server and rolled back"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("completed version(s) 1"),
            "{}",
            run.stderr
        );
        // The slow step rolled back, nothing after it ran, the lock is free.
        assert_eq!(db.history().await, [(1, true)]);
        assert!(!db.has_table("slow").await && !db.has_table("c").await);
        let key = strata::backend::postgres::lock_key("schema_migrations");
        assert!(
            db.scalar::<bool>(&format!("SELECT pg_try_advisory_lock({key})"))
                .await,
            "the lock outlived the run"
        );
    }
}

#[tokio::test]
async fn a_step_that_finishes_within_the_grace_period_is_kept() {
    let db = TestDb::new("grace").await;
    let p = Project::new();
    p.migration("V1__slow.sql", "SELECT pg_sleep(60);\n")
        .migration("V2__next.sql", "CREATE TABLE next (x int);\n");
    // A long grace period: the step is not cancelled; the second signal
    // ends the process at once, and the server rolls the step back.
    let mut cmd = std::process::Command::new(support::migrate_bin());
    cmd.args(["--database-url", &db.url, "up", "--stop-timeout", "120"])
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    support::wait_until(
        &db,
        "the sleep to run",
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
         AND application_name = 'strata' AND state = 'active' AND datname = current_database())",
    )
    .await;
    for _ in 0..2 {
        std::process::Command::new("kill")
            .args(["-15", &child.id().to_string()])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = Instant::now();
    let run: support::Run = child.wait_with_output().unwrap().into();
    assert!(started.elapsed() < Duration::from_secs(10));
    run.expect(143);
    assert!(run.stderr.contains("stopping now"), "{}", run.stderr);
    support::wait_until(
        &db,
        "the dead session to end",
        "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'strata' \
         AND datname = current_database())",
    )
    .await;
    assert!(db.history().await.is_empty());
}

#[tokio::test]
async fn the_library_stops_on_its_handle() {
    let db = TestDb::new("libstop").await;
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (x int);\n")
        .migration("V2__slow.sql", "SELECT pg_sleep(60);\n");
    let config = Config::single(
        &db.url,
        p.path().join("migrations"),
        p.path().join("rollbacks"),
    )
    .unwrap();
    let migrator = strata::Migrator::new(&config, &[])
        .unwrap()
        .with_options(Options {
            stop_timeout: Duration::from_millis(200),
            ..Options::default()
        });
    let stop = migrator.stop_handle();
    let run = tokio::spawn(async move { migrator.up().await });
    support::wait_until(
        &db,
        "the sleep to run",
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' \
         AND application_name = 'strata' AND state = 'active' AND datname = current_database())",
    )
    .await;
    stop.stop(strata::error::Signal::Request);
    let err = run.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            strata::Error::Stopped {
                cancelled: Some(2),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(db.history().await, [(1, true)]);
}

#[tokio::test]
async fn a_failing_down_says_what_it_reverted() {
    let db = TestDb::new("downmsg").await;
    let p = Project::new();
    p.migration("V1__a.sql", "CREATE TABLE a (x int);\n")
        .migration("V2__b.sql", "CREATE TABLE b (x int);\n")
        .migration("V3__c.sql", "CREATE TABLE c (x int);\n")
        .rollback("U1__a.sql", "DROP TABLE a;\n")
        .rollback("U2__b.sql", "DROP TABLE nope;\n")
        .rollback("U3__c.sql", "DROP TABLE c;\n");
    p.migrate(&db, &["up"]).expect(0);
    let run = p.migrate(&db, &["down", "--to", "0"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("this run reverted version(s) 3 before it; they stay reverted"),
        "{}",
        run.stderr
    );
    assert_eq!(db.history().await, [(1, true), (2, true)]);
}
