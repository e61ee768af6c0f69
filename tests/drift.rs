//! Drift of the live schema, on every kind against its real server (Qdrant:
//! the in-process test server, or a real one given by URL): a change made
//! by hand outside strata is reported by `migrate drift` as an exact line,
//! refuses `up` under `on_drift = "refuse"` with nothing run, and is quiet
//! after `repair --accept-drift`; partition maintenance, a `down` then `up`
//! and strata's own objects are not drift.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;
#[path = "support/qdrant_subject.rs"]
mod qdrant_subject;
mod support;

use elasticsearch::http::Method;
use neo4rs::query;
use serde_json::json;
use support::{Project, Run, TestDb};

/// The lines of `run`'s stdout that are changes (`+ `, `- `, `~ `).
fn changes(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("+ ") || l.starts_with("- ") || l.starts_with("~ "))
        .map(str::to_string)
        .collect()
}

/// The part every kind shares once a hand change is made: `drift` reports
/// it (exit 1) with `expected` among its lines, `up` of a new migration
/// is refused (exit 3) naming it and runs nothing, `repair
/// --accept-drift` takes it, then `drift` is quiet and `up` runs.
fn refuse_then_accept(
    migrate: &dyn Fn(&[&str]) -> Run,
    expected: &[&str],
    applied: &dyn Fn() -> usize,
) {
    let run = migrate(&["drift"]);
    run.expect(1);
    let found = changes(&run);
    for line in expected {
        assert!(
            found.iter().any(|f| f.starts_with(line)),
            "{line:?} not in {found:#?}"
        );
    }
    let json = migrate(&["drift", "--format", "json"]);
    json.expect(1);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        parsed["databases"][0]["state"], "drifted",
        "{}",
        json.stdout
    );

    let before = applied();
    let run = migrate(&["up"]);
    run.expect(3);
    assert!(
        run.stderr.contains("on_drift = \"refuse\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(expected[0]), "{}", run.stderr);
    assert!(
        run.stderr.contains("migrate repair --accept-drift"),
        "{}",
        run.stderr
    );
    assert_eq!(applied(), before, "a refused run applied something");
    let status = migrate(&["status"]);
    assert!(
        status.stdout.contains("schema drift: "),
        "{}",
        status.stdout
    );

    let run = migrate(&["repair", "--accept-drift"]);
    run.expect(0);
    assert!(run.stdout.contains("accepted"), "{}", run.stdout);
    let run = migrate(&["drift"]);
    run.expect(0);
    assert!(changes(&run).is_empty(), "{}", run.stdout);
    migrate(&["up"]).expect(0);
    assert_eq!(applied(), before + 1);
    let run = migrate(&["drift"]);
    run.expect(0);
    assert!(run.stdout.contains("no drift"), "{}", run.stdout);
}

fn pg_project(db: &TestDb, extra: &str) -> Project {
    let p = Project::new();
    p.config(&format!(
        "[databases.app]\nkind = \"postgres\"\nurl = \"{}\"\nmigrations = \"migrations\"\n\
         rollbacks = \"rollbacks\"\n{extra}",
        db.url
    ));
    p
}

fn pg(p: &Project) -> impl Fn(&[&str]) -> Run + '_ {
    move |args: &[&str]| p.migrate_raw(args, &[])
}

#[tokio::test]
async fn postgres_hand_changes_are_reported_refused_and_accepted() {
    let db = TestDb::new("drift_pg").await;
    let p = pg_project(&db, "on_drift = \"refuse\"\n");
    p.migration(
        "V1__users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);\n\
         CREATE INDEX users_name ON users (name);\n\
         CREATE VIEW named AS SELECT id, name FROM users;",
    );
    let migrate = pg(&p);
    migrate(&["up"]).expect(0);
    // Not recorded before strata runs; nothing changed since it ran.
    let run = migrate(&["drift"]);
    run.expect(0);
    assert!(run.stdout.contains("app: no drift"), "{}", run.stdout);
    // The history and its companion are strata's own: not described.
    assert!(db.has_table("schema_migrations_schema").await);

    let mut c = db.connect().await;
    sqlx::raw_sql(
        "ALTER TABLE users ALTER COLUMN name DROP NOT NULL;\n\
         CREATE INDEX users_email_lower ON users (lower(email));\n\
         DROP VIEW named;",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let run = migrate(&["drift"]);
    assert_eq!(
        changes(&run),
        [
            "~ column public.users.name: text NOT NULL → text NULL",
            "+ index public.users_email_lower: CREATE INDEX users_email_lower ON public.users \
             USING btree (lower(email))",
            "- view public.named: SELECT users.id, users.name FROM public.users;",
        ]
    );
    p.migration("V2__age.sql", "ALTER TABLE users ADD COLUMN age int;");
    let url = db.url.clone();
    let applied = || {
        let url = url.clone();
        futures_lite(async move {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM schema_migrations")
                .fetch_one(&mut c)
                .await
                .unwrap() as usize
        })
    };
    refuse_then_accept(
        &migrate,
        &["~ column public.users.name: text NOT NULL → text NULL"],
        &applied,
    );
}

/// Runs a future to its end on a runtime of its own (the test's runtime
/// is blocked on the `migrate` process around it).
fn futures_lite<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .unwrap()
}

#[tokio::test]
async fn postgres_partition_maintenance_and_down_then_up_are_not_drift() {
    let db = TestDb::new("drift_parts").await;
    let p = pg_project(
        &db,
        "on_drift = \"refuse\"\n\n[[partitions]]\ndatabase = \"app\"\ntable = \"events\"\n\
         premake = 2\n",
    );
    p.migration(
        "V1__events.sql",
        "CREATE TABLE events (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);\n\
         CREATE INDEX events_at ON events (at);",
    );
    p.migration("V2__kind.sql", "ALTER TABLE events ADD COLUMN kind text;");
    p.rollback("U2__kind.sql", "ALTER TABLE events DROP COLUMN kind;");
    let migrate = pg(&p);
    migrate(&["up"]).expect(0);
    migrate(&["partitions", "run"]).expect(0);
    let mut c = db.connect().await;
    let partitions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(partitions >= 3, "partitions run made {partitions}");
    let run = migrate(&["drift"]);
    run.expect(0);
    assert!(changes(&run).is_empty(), "{}", run.stdout);
    migrate(&["down"]).expect(0);
    migrate(&["drift"]).expect(0);
    migrate(&["up"]).expect(0);
    let run = migrate(&["drift"]);
    run.expect(0);
    assert!(run.stdout.contains("no drift"), "{}", run.stdout);
    // An unmanaged partitioned table's children are summarised: one more
    // is drift.
    sqlx::raw_sql(
        "CREATE TABLE logs (at date NOT NULL) PARTITION BY RANGE (at);\n\
         CREATE TABLE logs_1 PARTITION OF logs FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');",
    )
    .execute(&mut c)
    .await
    .unwrap();
    migrate(&["repair", "--accept-drift"]).expect(0);
    sqlx::raw_sql(
        "CREATE TABLE logs_2 PARTITION OF logs FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let run = migrate(&["drift"]);
    assert_eq!(
        changes(&run),
        [
            "~ partitions of public.logs: 1 partition(s), FOR VALUES FROM ('2026-01-01') TO \
          ('2026-02-01') .. FOR VALUES FROM ('2026-01-01') TO ('2026-02-01') → 2 partition(s), \
          FOR VALUES FROM ('2026-01-01') TO ('2026-02-01') .. FOR VALUES FROM ('2026-02-01') TO \
          ('2026-03-01')"
        ]
    );
}

#[tokio::test]
async fn postgres_warn_goes_on_and_the_run_records_what_it_left() {
    let db = TestDb::new("drift_warn").await;
    let p = pg_project(&db, "drift_ignore = [\"public.scratch_*\"]\n");
    p.migration("V1__t.sql", "CREATE TABLE t (id int);");
    let migrate = pg(&p);
    migrate(&["up"]).expect(0);
    let mut c = db.connect().await;
    sqlx::raw_sql("ALTER TABLE t ADD COLUMN note text; CREATE TABLE scratch_1 (x int);")
        .execute(&mut c)
        .await
        .unwrap();
    p.migration("V2__u.sql", "CREATE TABLE u (id int);");
    let run = migrate(&["up"]);
    run.expect(0);
    assert!(
        run.stderr.contains("warning: the live schema changed")
            && run.stderr.contains("+ column public.t.note: text NULL"),
        "{}",
        run.stderr
    );
    // The ignored table is never mentioned; the run recorded what it left.
    assert!(!run.stderr.contains("scratch"), "{}", run.stderr);
    let run = migrate(&["drift"]);
    run.expect(0);
    let status = migrate(&["status", "--format", "json"]);
    let parsed: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(parsed["databases"][0]["drift"]["state"], "none");
    // `on_drift = "off"`: nothing described, nothing said.
    let p = pg_project(&db, "on_drift = \"off\"\n");
    p.migration("V1__t.sql", "CREATE TABLE t (id int);");
    p.migration("V2__u.sql", "CREATE TABLE u (id int);");
    let run = p.migrate_raw(&["drift"], &[]);
    run.expect(0);
    assert!(run.stdout.contains("on_drift = \"off\""), "{}", run.stdout);
}

#[tokio::test]
async fn neo4j_hand_changes_are_reported_refused_and_accepted() {
    use support::neo4j_client::{TURN, count, graph, reset, server};
    let _turn = TURN.lock().await;
    let g = graph().await;
    reset(&g).await;
    let p = Project::new();
    p.config(
        "[databases.graph]\nkind = \"neo4j\"\nurl = \"${NEO4J_URL}\"\nuser = \"neo4j\"\n\
         password = \"${NEO4J_PASSWORD}\"\nmigrations = \"migrations\"\nrollbacks = \"rollbacks\"\n\
         on_drift = \"refuse\"\n",
    );
    p.migration(
        "V1__people.cypher",
        "CREATE CONSTRAINT person_email FOR (p:Person) REQUIRE p.email IS UNIQUE;\n\
         CREATE INDEX person_name FOR (p:Person) ON (p.name);",
    );
    p.rollback(
        "U1__people.cypher",
        "DROP INDEX person_name;\nDROP CONSTRAINT person_email;",
    );
    let (url, password) = server();
    let migrate =
        |args: &[&str]| p.migrate_raw(args, &[("NEO4J_URL", &url), ("NEO4J_PASSWORD", &password)]);
    migrate(&["up"]).expect(0);
    migrate(&["drift"]).expect(0);
    migrate(&["down"]).expect(0);
    migrate(&["up"]).expect(0);
    let run = migrate(&["drift"]);
    run.expect(0);
    assert!(run.stdout.contains("no drift"), "{}", run.stdout);

    g.run(query("DROP INDEX person_name")).await.unwrap();
    g.run(query("CREATE INDEX person_city FOR (p:Person) ON (p.city)"))
        .await
        .unwrap();
    p.migration(
        "V2__topics.cypher",
        "CREATE CONSTRAINT topic_id FOR (t:Topic) REQUIRE t.id IS UNIQUE;",
    );
    let history_label = "SchemaMigration";
    let applied = || {
        futures_lite(async move {
            count(
                &graph().await,
                &format!("MATCH (m:{history_label}) RETURN count(m) AS n"),
            )
            .await as usize
        })
    };
    refuse_then_accept(
        &migrate,
        &[
            "+ index person_city: CREATE RANGE INDEX FOR (n:`Person`) ON (n.`city`)",
            "- index person_name: CREATE RANGE INDEX FOR (n:`Person`) ON (n.`name`)",
        ],
        &applied,
    );
}

#[tokio::test]
async fn elasticsearch_hand_changes_are_reported_refused_and_accepted() {
    use support::es_client::{fresh, migrate as es_migrate, project};
    let (_turn, es) = fresh().await;
    let p = project();
    std::fs::write(
        p.path().join("migrate.toml"),
        std::fs::read_to_string(p.path().join("migrate.toml")).unwrap() + "on_drift = \"refuse\"\n",
    )
    .unwrap();
    p.migration(
        "V1__articles.json",
        r#"[{"create_index": {"index": "articles_v1",
               "mappings": {"properties": {"title": {"type": "text"}}}, "aliases": {"articles": {}}}},
            {"put_index_template": {"name": "logs", "index_patterns": ["logs-*"],
               "template": {"mappings": {"properties": {"msg": {"type": "text"}}}}}}]"#,
    );
    let migrate = |args: &[&str]| es_migrate(&p, args);
    migrate(&["up"]).expect(0);
    // An application's index, claimed by a template's pattern: not drift.
    es.ok(
        Method::Put,
        "/logs-2026.12.07/_doc/1?refresh=true",
        Some(json!({"msg": "hi", "extra": 1})),
    )
    .await;
    let run = migrate(&["drift"]);
    run.expect(0);
    assert!(run.stdout.contains("no drift"), "{}", run.stdout);

    es.ok(
        Method::Put,
        "/articles_v1/_mapping",
        Some(json!({"properties": {"tags": {"type": "keyword"}}})),
    )
    .await;
    es.ok(Method::Put, "/articles_v1/_alias/articles_old", None)
        .await;
    p.migration(
        "V2__body.json",
        r#"[{"put_mapping": {"index": "articles_v1", "properties": {"body": {"type": "text"}}}}]"#,
    );
    let applied = || {
        futures_lite(async {
            support::es_client::Es::new()
                .history()
                .await
                .iter()
                .filter(|(_, ok)| *ok)
                .count()
        })
    };
    refuse_then_accept(
        &migrate,
        &[
            "+ field articles_v1.tags: {\"type\":\"keyword\"}",
            "+ alias articles_old on articles_v1",
        ],
        &applied,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn qdrant_hand_changes_are_reported_refused_and_accepted() {
    use qdrant_client::qdrant::{CreateFieldIndexCollectionBuilder, FieldType};
    let q = qdrant_subject::Subject::new().await;
    let p = qdrant_subject::project();
    std::fs::write(
        p.path().join("migrate.toml"),
        std::fs::read_to_string(p.path().join("migrate.toml")).unwrap() + "on_drift = \"refuse\"\n",
    )
    .unwrap();
    p.migration(
        "V1__documents.json",
        r#"[{"create_collection": {"collection": "documents", "vectors": {"size": 4, "distance": "Cosine"}}},
            {"create_alias": {"alias": "docs", "collection": "documents"}}]"#,
    );
    p.rollback(
        "U1__documents.json",
        r#"[{"delete_alias": {"alias": "docs"}}, {"delete_collection": {"collection": "documents"}}]"#,
    );
    let url = q.url.clone();
    let migrate = |args: &[&str]| qdrant_subject::migrate(&p, &url, args);
    migrate(&["up"]).expect(0);
    migrate(&["down"]).expect(0);
    migrate(&["up"]).expect(0);
    let run = migrate(&["drift"]);
    run.expect(0);
    assert!(run.stdout.contains("no drift"), "{}", run.stdout);

    q.client()
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new("documents", "user_id", FieldType::Keyword)
                .wait(true),
        )
        .await
        .unwrap();
    p.migration(
        "V2__kind.json",
        r#"[{"create_payload_index": {"collection": "documents", "field": "kind", "schema": "keyword"}}]"#,
    );
    let applied = || {
        let url = q.url.clone();
        futures_lite(async move { qdrant_history(&url).await })
    };
    refuse_then_accept(
        &migrate,
        &["+ payload index documents.user_id: keyword"],
        &applied,
    );
}

/// How many versions the Qdrant at `url` records.
async fn qdrant_history(url: &str) -> usize {
    let client = qdrant_client::Qdrant::from_url(url).build().unwrap();
    client
        .scroll(qdrant_client::qdrant::ScrollPointsBuilder::new("schema_migrations").limit(1000))
        .await
        .map(|r| r.result.len())
        .unwrap_or(0)
}

/// `status`'s drift line on PostgreSQL, checked without describing the
/// schema when the catalog's fingerprint is the one recorded with it.
#[tokio::test]
async fn postgres_status_trusts_an_unchanged_catalog_and_sees_every_hand_change() {
    let db = TestDb::new("drift_fingerprint").await;
    let p = pg_project(&db, "");
    p.migration(
        "V1__shop.sql",
        "CREATE TYPE mood AS ENUM ('sad', 'ok');\n\
         CREATE DOMAIN price AS numeric(10, 2);\n\
         CREATE SEQUENCE ticket;\n\
         CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, cost price, m mood);\n\
         CREATE INDEX items_name ON items (name);\n\
         CREATE VIEW cheap AS SELECT id FROM items WHERE cost < 10;\n\
         CREATE FUNCTION n() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM items $$;",
    );
    let migrate = pg(&p);
    migrate(&["up"]).expect(0);
    let drift = || {
        let run = migrate(&["status"]);
        run.expect(0);
        run.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("schema drift: "))
            .unwrap_or_else(|| panic!("{}", run.stdout))
            .to_string()
    };
    assert_eq!(drift(), "none");
    let mut c = db.connect().await;
    let sql = |s: &'static str| sqlx::raw_sql(s);
    // The recorded description is trusted while the catalog is unchanged,
    // VACUUM and ANALYZE included: emptied, it still reads "none" ...
    for s in [
        "UPDATE schema_migrations_schema SET description = '{}'",
        "VACUUM ANALYZE",
    ] {
        sql(s).execute(&mut c).await.unwrap();
    }
    assert_eq!(drift(), "none");
    // ... and compared once the fingerprint differs (every object "added").
    sql("UPDATE schema_migrations_schema SET catalog_fingerprint = 'old'")
        .execute(&mut c)
        .await
        .unwrap();
    assert!(
        drift().contains("change(s) since the last run"),
        "{}",
        drift()
    );
    migrate(&["repair", "--accept-drift"]).expect(0);
    assert_eq!(drift(), "none");
    // Every kind of hand change is seen, each alone.
    for change in [
        "ALTER TABLE items ALTER COLUMN name DROP NOT NULL",
        "ALTER TABLE items ALTER COLUMN name SET DEFAULT 'x'",
        "ALTER TABLE items RENAME COLUMN m TO feeling",
        "ALTER TABLE items ADD CONSTRAINT positive CHECK (cost > 0)",
        "DROP INDEX items_name",
        "CREATE OR REPLACE VIEW cheap AS SELECT id FROM items WHERE cost < 5",
        "CREATE OR REPLACE FUNCTION n() RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$",
        "ALTER TYPE mood ADD VALUE 'glad'",
        "ALTER DOMAIN price ADD CONSTRAINT nonneg CHECK (VALUE >= 0)",
        "ALTER SEQUENCE ticket INCREMENT BY 5",
        "CREATE TABLE scratch (x int)",
        "DROP TABLE scratch",
    ] {
        sqlx::raw_sql(change).execute(&mut c).await.unwrap();
        assert!(
            drift().contains("change(s) since the last run"),
            "{change}: {}",
            drift()
        );
        migrate(&["repair", "--accept-drift"]).expect(0);
        assert_eq!(drift(), "none", "{change}");
    }
}
