//! The demo system in `migrations/app`: it must apply, report and roll back
//! cleanly on a real PostgreSQL, and its plan and status are snapshots a
//! reviewer sees change in a diff.

mod support;

use std::path::Path;

use strata::catalog::Catalog;
use strata::plan::{Command as PlanCommand, OutOfOrder, UpTarget};
use strata::{Kind, render};
use support::{Run, TestDb};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn demo(db: &TestDb, args: &[&str]) -> Run {
    support::demo_migrate(&db.url, args)
}

fn demo_catalog() -> Catalog {
    Catalog::load(
        &strata::backend::postgres::SqlFormat::default(),
        &repo().join("migrations/app"),
        &repo().join("rollbacks/app"),
    )
    .unwrap()
}

#[test]
fn every_demo_migration_has_a_rollback() {
    let catalog = demo_catalog();
    assert!(catalog.migrations.len() >= 9);
    for m in &catalog.migrations {
        assert!(m.rollback.is_some(), "V{} has no rollback", m.version);
    }
}

#[test]
fn demo_plan_offline_snapshot() {
    // Pure: the catalog against an empty history, no server involved.
    let plan = strata::plan::plan(
        "app",
        Kind::Postgres,
        &demo_catalog(),
        &[],
        PlanCommand::Up {
            to: UpTarget::Latest,
            out_of_order: OutOfOrder::Refuse,
        },
    )
    .unwrap();
    insta::assert_yaml_snapshot!("demo_plan", plan);
    insta::assert_snapshot!("demo_plan_text", render::plans(&[plan]));
}

#[tokio::test]
async fn demo_applies_reports_and_rolls_back_cleanly() {
    let db = TestDb::new("demo").await;
    let empty = db.schema_dump().await;

    let plan = demo(&db, &["plan", "--now", "2026-11-24T10:00:00Z"]);
    plan.expect(0);
    insta::assert_snapshot!("demo_plan_cli", plan.stdout);

    demo(&db, &["up"]).expect(0);
    for table in [
        "users",
        "sessions",
        "conversations",
        "messages",
        "workflows",
        "workflow_executions",
        "incidents",
        "runbooks",
        "audit_logs",
        "open_incidents",
    ] {
        assert!(db.has_table(table).await, "{table} missing");
    }
    assert_eq!(
        db.scalar::<String>("SELECT relkind::text FROM pg_class WHERE relname = 'audit_logs'")
            .await,
        "p",
        "audit_logs must be partitioned"
    );
    // The CREATE INDEX CONCURRENTLY migration ran while strata held its lock.
    assert!(
        db.scalar::<bool>(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'incidents_open_idx'::regclass"
        )
        .await
    );

    let status = demo(&db, &["status"]);
    status.expect(0);
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "[applied at]"),
        (r"\S+ pid \d+", "[host] pid [pid]"),
    ]}, {
        insta::assert_snapshot!("demo_status_text", status.stdout);
    });

    demo(&db, &["down", "--to", "0"]).expect(0);
    let mut after = db.schema_dump().await;
    // The history table itself stays, empty.
    after = after
        .lines()
        .filter(|l| !l.contains("schema_migrations"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        after, empty,
        "rolling everything back must restore the empty schema"
    );

    demo(&db, &["up"]).expect(0);
    assert_eq!(db.history().await.len(), demo_catalog().migrations.len());
}
