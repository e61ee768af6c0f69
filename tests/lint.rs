//! The lint against the real PostgreSQL: the lock table agrees with the
//! locks the server takes (read from `pg_locks` inside a transaction), the
//! unsafe forms fail `migrate lint` with the table's live size, and the
//! safe forms pass.

mod support;

use sqlx::{AssertSqlSafe, Connection};
use strata::lint::locks::effect;
use strata::split::sql_statements;
use support::{Project, TestDb};

/// The strongest lock this session holds on `table`, as `pg_locks` names it.
const STRONGEST: &str = "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND granted \
     AND locktype = 'relation' AND relation::bigint = $1 ORDER BY CASE mode \
     WHEN 'AccessShareLock' THEN 1 WHEN 'RowShareLock' THEN 2 WHEN 'RowExclusiveLock' THEN 3 \
     WHEN 'ShareUpdateExclusiveLock' THEN 4 WHEN 'ShareLock' THEN 5 \
     WHEN 'ShareRowExclusiveLock' THEN 6 WHEN 'ExclusiveLock' THEN 7 ELSE 8 END DESC LIMIT 1";

#[tokio::test]
async fn the_lock_table_matches_the_locks_the_server_takes() {
    let db = TestDb::new("lint_locks").await;
    let mut c = db.connect().await;
    sqlx::raw_sql(
        "CREATE TABLE accounts (id bigint PRIMARY KEY);
         CREATE TABLE messages (id int PRIMARY KEY, account_id bigint, body text, n int);
         INSERT INTO accounts SELECT g FROM generate_series(1, 10) g;
         INSERT INTO messages SELECT g, 1 + g % 10, 'x', g FROM generate_series(1, 100) g;
         CREATE INDEX messages_n ON messages (n);
         ALTER TABLE messages ADD CONSTRAINT messages_positive CHECK (n > 0) NOT VALID;
         CREATE TABLE events (at timestamptz NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE events_2027 (at timestamptz NOT NULL);
         CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');",
    )
    .execute(&mut c)
    .await
    .unwrap();
    // Every form that can run in a transaction block; the CONCURRENTLY
    // forms cannot, and are covered by the unit tests.
    let forms = [
        "CREATE INDEX messages_body ON messages (body)",
        "DROP INDEX messages_n",
        "REINDEX TABLE messages",
        "ALTER TABLE messages ADD COLUMN u uuid DEFAULT gen_random_uuid()",
        "ALTER TABLE messages ADD COLUMN c int DEFAULT 0",
        "ALTER TABLE messages ALTER COLUMN id TYPE bigint",
        "ALTER TABLE messages ALTER COLUMN body SET DEFAULT 'y'",
        "ALTER TABLE messages ALTER COLUMN body SET NOT NULL",
        "ALTER TABLE messages ALTER COLUMN body DROP NOT NULL",
        "ALTER TABLE messages ADD FOREIGN KEY (account_id) REFERENCES accounts (id)",
        "ALTER TABLE messages ADD CONSTRAINT f FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID",
        "ALTER TABLE messages ADD CONSTRAINT c CHECK (n > -1)",
        "ALTER TABLE messages VALIDATE CONSTRAINT messages_positive",
        "ALTER TABLE messages RENAME COLUMN body TO text",
        "ALTER TABLE messages RENAME TO notes",
        "ALTER TABLE messages DROP COLUMN n",
        "ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')",
        "ALTER TABLE events DETACH PARTITION events_2026",
        "TRUNCATE messages",
        "DROP TABLE messages",
    ];
    for sql in forms {
        let statements = sql_statements(sql).unwrap();
        let expected = effect(&statements[0].tokens).unwrap_or_else(|| panic!("{sql}: no effect"));
        // DROP INDEX locks the index's table as well: read the table.
        let table = if sql.starts_with("DROP INDEX") {
            "messages".to_string()
        } else {
            expected.table.clone()
        };
        let oid: i64 = sqlx::query_scalar("SELECT to_regclass($1)::oid::bigint")
            .bind(&table)
            .fetch_one(&mut c)
            .await
            .unwrap();
        let mut tx = c.begin().await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let held: String = sqlx::query_scalar(STRONGEST)
            .bind(oid)
            .fetch_one(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{sql}: no lock on {table}: {e}"));
        tx.rollback().await.unwrap();
        assert_eq!(
            held,
            expected.lock.pg_locks_name(),
            "{sql}: the server took {held}, the lock table says {}",
            expected.lock
        );
    }
}

#[tokio::test]
async fn lint_fails_on_the_unsafe_forms_with_live_sizes_and_passes_the_safe_ones() {
    let db = TestDb::new("lint_cli").await;
    let p = Project::new();
    p.migration(
        "V1__messages.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY);\n\
         CREATE TABLE messages (id int PRIMARY KEY, account_id bigint, body text);\n\
         INSERT INTO accounts SELECT g FROM generate_series(1, 10) g;\n\
         INSERT INTO messages SELECT g, 1 + g % 10, 'x' FROM generate_series(1, 150000) g;\n\
         ANALYZE messages;\n",
    );
    p.migrate(&db, &["up"]).expect(0);

    let unsafe_forms = [
        (
            "V2__uuid.sql",
            "ALTER TABLE messages ADD COLUMN x uuid DEFAULT gen_random_uuid();\n",
            "ACCESS EXCLUSIVE",
            "rewrites every row",
        ),
        (
            "V2__index.sql",
            "CREATE INDEX messages_body ON messages (body);\n",
            "SHARE",
            "reads every row",
        ),
        (
            "V2__bigint.sql",
            "ALTER TABLE messages ALTER COLUMN id TYPE bigint;\n",
            "ACCESS EXCLUSIVE",
            "rewrites every row",
        ),
        (
            "V2__fk.sql",
            "ALTER TABLE messages ADD FOREIGN KEY (account_id) REFERENCES accounts (id);\n",
            "SHARE ROW EXCLUSIVE",
            "reads every row",
        ),
    ];
    for (file, sql, lock, pass) in unsafe_forms {
        p.migration(file, sql);
        let run = p.migrate(&db, &["lint"]);
        run.expect(1);
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains("[lock]"))
            .unwrap_or_else(|| panic!("{file}: no lock finding:\n{}", run.stdout));
        assert!(line.contains(&format!("{file}:1:1: error")), "{line}");
        assert!(
            line.contains(&format!("takes {lock} on messages")),
            "{line}"
        );
        assert!(line.contains(pass), "{line}");
        assert!(line.contains("~150000 rows"), "{line}");
        // The plan shows the same finding under the step.
        let plan = p.migrate(&db, &["plan"]);
        plan.expect(0);
        assert!(plan.stdout.contains("error [lock]"), "{}", plan.stdout);
        // Offline, from a recorded status: the same finding, the same size.
        let status = p.migrate(&db, &["status", "--format", "json"]);
        status.expect(0);
        let recorded = p.path().join("status.json");
        std::fs::write(&recorded, &status.stdout).unwrap();
        let offline = p.migrate_raw(
            &[
                "--database-url",
                "postgres://nobody@127.0.0.1:1/none",
                "plan",
                "--from-status",
                recorded.to_str().unwrap(),
            ],
            &[],
        );
        offline.expect(0);
        assert!(
            offline.stdout.contains("error [lock]") && offline.stdout.contains("~150000 rows"),
            "{}",
            offline.stdout
        );
        p.remove_migration(file);
    }

    // The safe forms: nothing at warning or above.
    p.migration(
        "V2__index.sql",
        "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS messages_body ON messages (body);\n",
    );
    p.migration(
        "V3__fk.sql",
        "ALTER TABLE messages ADD CONSTRAINT messages_account FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;\n",
    );
    p.migration(
        "V4__validate.sql",
        "ALTER TABLE messages VALIDATE CONSTRAINT messages_account;\n",
    );
    p.migration(
        "V5__note.sql",
        "ALTER TABLE messages ADD COLUMN note text DEFAULT 'none';\n",
    );
    let run = p.migrate(&db, &["lint"]);
    run.expect(0);
    assert!(
        !run.stdout.contains(": error ") && !run.stdout.contains(": warning "),
        "{}",
        run.stdout
    );
    // JSON carries the same data.
    let json = p.migrate(&db, &["lint", "--format", "json"]);
    json.expect(0);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["failed"], false);
}

/// Offline (`--all`), a group's members share one folder: its findings are
/// reported once, under the group's name, not once per member.
#[test]
fn lint_all_reports_a_group_once() {
    let p = Project::new();
    std::fs::create_dir_all(p.path().join("migrations/tenants")).unwrap();
    std::fs::write(
        p.path().join("migrations/tenants/V1__idx.sql"),
        "CREATE INDEX t_id ON t (id);\n",
    )
    .unwrap();
    p.config(
        "[groups.tenants]\nkind = \"postgres\"\n\
         urls = [\"postgres://u@127.0.0.1:1/a\", \"postgres://u@127.0.0.1:1/b\", \"postgres://u@127.0.0.1:1/c\"]\n",
    );
    let run = p.migrate_raw(&["lint", "--all"], &[]);
    run.expect(1); // a warning: the default fail_on
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("require-concurrent-index-creation"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert!(
        lines[0].starts_with("tenants: V1__idx.sql:1:1: "),
        "{}",
        run.stdout
    );
}

/// Table sizes cost a catalog scan (about 100 ms over a thousand tables on
/// a fresh connection), so `status` reads them only when asked: the CLI
/// asks for `status --format json`, which offline plans read; a status for
/// a human, or a service's own, does not.
#[tokio::test]
async fn status_records_table_sizes_only_when_asked() {
    let db = TestDb::new("lint_sizes").await;
    let p = Project::new();
    p.migration("V1__messages.sql", "CREATE TABLE messages (id int);\n");
    p.migrate(&db, &["up"]).expect(0);
    let config = strata::config::Config::single(
        &db.url,
        p.path().join("migrations"),
        p.path().join("rollbacks"),
    )
    .unwrap();
    let plain = strata::Migrator::new(&config, &[])
        .unwrap()
        .status()
        .await
        .unwrap();
    assert!(plain.databases[0].tables.is_empty(), "{plain:?}");
    let sized = strata::Migrator::new(&config, &[])
        .unwrap()
        .with_table_sizes(true)
        .status()
        .await
        .unwrap();
    assert!(
        sized.databases[0].tables.contains_key("public.messages"),
        "{sized:?}"
    );
    let json = p.migrate(&db, &["status", "--format", "json"]);
    json.expect(0);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        v["databases"][0]["tables"]["public.messages"].is_object(),
        "{v}"
    );
}
