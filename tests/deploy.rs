//! Deploy jobs: `migrate wait` as a readiness gate (and
//! `Migrator::wait_until_current`), `status --exit-code`, against the real
//! PostgreSQL the suite starts.

mod support;

use std::process::Stdio;

use sqlx::Connection;
use std::time::Duration;

use strata::migrator::WaitFor;
use strata::{Config, Error, Migrator};
use support::{Project, Run, TestDb};

fn project() -> Project {
    let p = Project::new();
    p.migration("V1__users.sql", "CREATE TABLE users (id bigint);");
    p.migration("V2__email.sql", "ALTER TABLE users ADD COLUMN email text;");
    p
}

#[tokio::test]
async fn wait_returns_only_once_every_migration_is_applied() {
    let db = TestDb::new("wait_gate").await;
    let p = project();
    let mut waiter = p
        .command(&db, &["wait", "--timeout", "2m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Half the folder: the gate stays shut.
    p.migrate(&db, &["up", "--to", "1"]).expect(0);
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "wait returned with version 2 pending"
    );
    p.migrate(&db, &["up"]).expect(0);
    let run = Run::from(waiter.wait_with_output().unwrap());
    run.expect(0);
    assert!(
        run.stdout.contains("default (postgres): ready"),
        "{}",
        run.stdout
    );
    // It never wrote: no lock taken, nothing recorded but by `up`.
    assert_eq!(db.history().await.len(), 2);
}

#[tokio::test]
async fn wait_times_out_naming_what_is_pending_and_who_holds_the_lock() {
    let db = TestDb::new("wait_timeout").await;
    let p = project();
    p.migrate(&db, &["up", "--to", "1"]).expect(0);

    let run = p.migrate(&db, &["wait", "--timeout", "1s"]);
    run.expect(1);
    assert!(run.stderr.contains("not ready after 1s"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "database default: still pending: 2 (email); no run holds the migration lock"
        ),
        "{}",
        run.stderr
    );

    let holder = db.hold_migration_lock().await;
    let run = p.migrate(&db, &["wait", "--timeout", "1s"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("a run holds the migration lock: server process"),
        "{}",
        run.stderr
    );
    let _ = holder.close().await;

    // A version: ready as soon as it (and those before it) is applied.
    p.migrate(&db, &["wait", "--version", "1", "--timeout", "1s"])
        .expect(0);
    let run = p.migrate(&db, &["wait", "--version", "7"]);
    run.expect(2);
    assert!(run.stderr.contains("has no migration 7"), "{}", run.stderr);
    assert_eq!(db.history().await.len(), 1, "wait wrote nothing");
}

#[tokio::test]
async fn status_exit_code_says_whether_anything_is_pending() {
    let db = TestDb::new("status_exit").await;
    let p = project();
    p.migrate(&db, &["status", "--exit-code"]).expect(3);
    // Without the flag, pending is not a failure.
    p.migrate(&db, &["status"]).expect(0);
    p.migrate(&db, &["up"]).expect(0);
    p.migrate(&db, &["status", "--exit-code"]).expect(0);
    p.migrate(&db, &["status", "--exit-code", "--format", "json"])
        .expect(0);
}

#[tokio::test]
async fn the_library_waits_until_current() {
    let db = TestDb::new("wait_library").await;
    let p = project();
    let config = Config::single(
        &db.url,
        p.path().join("migrations"),
        p.path().join("rollbacks"),
    )
    .unwrap();
    let migrator = Migrator::new(&config, &[]).unwrap();
    let e = migrator
        .wait_until_current(Duration::from_millis(300))
        .await
        .unwrap_err();
    let Error::NotReady { behind, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(behind.len(), 1);
    assert_eq!(behind[0].pending.len(), 2);
    assert_eq!(e.exit_code(), 1);

    p.migrate(&db, &["up", "--to", "1"]).expect(0);
    migrator
        .wait_until(WaitFor::Version(1), Duration::from_secs(5))
        .await
        .unwrap();
    p.migrate(&db, &["up"]).expect(0);
    migrator
        .wait_until_current(Duration::from_secs(5))
        .await
        .unwrap();
}
