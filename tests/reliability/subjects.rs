//! The kinds under attack: for each, an empty database on demand, migration
//! files whose operation `i` of version `v` creates an object `m{v}_{i}`,
//! and reads of the history, of those objects and of the lock.

use std::time::{Duration, Instant};

use elasticsearch::http::Method;
use neo4rs::{Graph, query};
use serde_json::json;
use sqlx::{AssertSqlSafe, PgConnection};

use crate::qdrant_server::{Running, TestQdrant};
use crate::support;
use crate::support::TestDb;
use crate::support::es_client::Es;

/// A kind under attack: an empty database on demand, migration files whose
/// operation `i` of version `v` creates an object named `m{v}_{i}`, and a
/// way to read back the history, those objects and the lock.
pub trait Subject {
    /// The kind, for messages.
    const KIND: &'static str;
    /// The migration file extension.
    const EXT: &'static str;
    /// Whether the lock is a lease the runner writes and renews (else it is
    /// a session lock that ends with the runner's connection).
    const LEASED: bool = true;

    /// Points at an empty database.
    async fn fresh(&mut self);
    /// A `migrate.toml` for one database named `db`.
    fn config(&self) -> &'static str;
    /// The environment that config needs.
    fn env(&self) -> Vec<(&'static str, String)>;
    /// Everything secret in that environment; no output may show it.
    fn secrets(&self) -> Vec<String>;
    /// The text of migration `v`.
    fn migration(&self, v: u64, ops: usize) -> String;
    /// Whether migration `v` runs in one transaction (all or nothing).
    fn atomic(&self, v: u64) -> bool {
        let _ = v;
        false
    }
    /// `(version, success)` of every record, in version order.
    async fn history(&self) -> Vec<(u64, bool)>;
    /// The names of the `m{v}_{i}` objects that exist, once per copy.
    async fn objects(&self) -> Vec<String>;
    /// Removes whatever migration `v` created: what a human does before
    /// `repair` after an interrupted migration.
    async fn undo(&self, v: u64, ops: usize);
    /// Who holds the migration lock, if anyone.
    async fn lock_owner(&self) -> Option<String>;
    /// Lets the lock's lease run out, as 30 s without renewal would.
    async fn expire_lock(&self);
    /// Waits until the server has finished whatever a killed runner had
    /// already sent it: a request under way still completes.
    async fn settle(&self) {}
    /// Waits until the server has finished the request a *frozen* runner
    /// sent before it was stopped; its connection stays open.
    async fn settle_frozen(&self) {
        self.settle().await
    }
}

/// Polls `done` until it is true; fails after a minute.
pub async fn wait_for(what: &str, done: impl AsyncFn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// PostgreSQL: odd versions are transactional, even ones run without a
/// transaction and build an index concurrently while the lock is held.
pub struct Postgres {
    db: TestDb,
    conn: tokio::sync::Mutex<PgConnection>,
}

impl Postgres {
    /// A subject on a new, empty database.
    pub async fn new() -> Postgres {
        let db = TestDb::new("reliability").await;
        let conn = tokio::sync::Mutex::new(db.connect().await);
        Postgres { db, conn }
    }

    /// The first column of every row, as text.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut *self.conn.lock().await)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Subject for Postgres {
    const KIND: &'static str = "postgres";
    const EXT: &'static str = "sql";
    const LEASED: bool = false;

    async fn fresh(&mut self) {
        *self = Postgres::new().await;
    }

    fn config(&self) -> &'static str {
        "[databases.db]\nkind = \"postgres\"\nurl = \"${DB_URL}\"\n\
         migrations = \"migrations\"\nrollbacks = \"rollbacks\"\n\
         [[partitions]]\ndatabase = \"db\"\ntable = \"events\"\npremake = 3\n"
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("DB_URL", self.db.url.clone())]
    }

    fn secrets(&self) -> Vec<String> {
        vec![support::admin_password()]
    }

    fn atomic(&self, v: u64) -> bool {
        v % 2 == 1
    }

    fn migration(&self, v: u64, ops: usize) -> String {
        let mut text = String::new();
        if !self.atomic(v) {
            text.push_str("-- strata:no-transaction\n");
        }
        for i in 0..ops {
            if i % 2 == 1 && !self.atomic(v) {
                let table = i - 1;
                text.push_str(&format!(
                    "CREATE INDEX CONCURRENTLY m{v}_{i} ON m{v}_{table} (id);\n"
                ));
            } else {
                text.push_str(&format!("CREATE TABLE m{v}_{i} (id int);\n"));
            }
            text.push_str("SELECT pg_sleep(0.02);\n");
        }
        text
    }

    async fn history(&self) -> Vec<(u64, bool)> {
        let rows: Result<Vec<(i64, bool)>, _> =
            sqlx::query_as("SELECT version, success FROM schema_migrations ORDER BY version")
                .fetch_all(&mut *self.conn.lock().await)
                .await;
        match rows {
            Ok(rows) => rows.into_iter().map(|(v, ok)| (v as u64, ok)).collect(),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Vec::new(),
            Err(e) => panic!("reading the history: {e}"),
        }
    }

    async fn objects(&self) -> Vec<String> {
        self.strings(
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace \
             AND relname ~ '^m[0-9]+_[0-9]+$'",
        )
        .await
    }

    async fn undo(&self, v: u64, ops: usize) {
        // Dropping the tables drops their indexes, valid or not.
        let tables: Vec<String> = (0..ops)
            .filter(|i| i % 2 == 0)
            .map(|i| format!("m{v}_{i}"))
            .collect();
        let sql = format!("DROP TABLE IF EXISTS {} CASCADE", tables.join(", "));
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *self.conn.lock().await)
            .await
            .unwrap();
    }

    async fn lock_owner(&self) -> Option<String> {
        self.strings(
            "SELECT 'server process ' || pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await
        .pop()
    }

    async fn expire_lock(&self) {
        unreachable!("a session lock has no lease");
    }

    async fn settle(&self) {
        // The server ends the session once it notices the client is gone:
        // at once on an idle connection, within
        // client_connection_check_interval during a statement. The lock
        // and any transaction go with it.
        wait_for("the killed runner's session to end", async || {
            self.strings(
                "SELECT pid::text FROM pg_stat_activity WHERE application_name = 'strata' \
                 AND datname = current_database()",
            )
            .await
            .is_empty()
        })
        .await;
    }

    async fn settle_frozen(&self) {
        // A frozen client keeps its session: wait for its statement, not
        // for the session.
        wait_for("the frozen runner's statement to finish", async || {
            self.strings(
                "SELECT pid::text FROM pg_stat_activity WHERE application_name = 'strata' \
                 AND datname = current_database() AND state = 'active'",
            )
            .await
            .is_empty()
        })
        .await;
    }
}

/// Neo4j: even operations create a node, odd ones a constraint.
pub struct Neo4j {
    /// A driver for the test server.
    pub graph: Graph,
}

impl Subject for Neo4j {
    const KIND: &'static str = "neo4j";
    const EXT: &'static str = "cypher";

    async fn fresh(&mut self) {
        support::neo4j_client::reset(&self.graph).await;
    }

    fn config(&self) -> &'static str {
        "[databases.db]\nkind = \"neo4j\"\nurl = \"${DB_URL}\"\nuser = \"neo4j\"\n\
         password = \"${DB_PASSWORD}\"\nmigrations = \"migrations\"\nrollbacks = \"rollbacks\"\n"
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let (url, password) = support::neo4j_client::server();
        vec![("DB_URL", url), ("DB_PASSWORD", password)]
    }

    fn secrets(&self) -> Vec<String> {
        vec![support::neo4j_client::server().1]
    }

    fn migration(&self, v: u64, ops: usize) -> String {
        (0..ops)
            .map(|i| {
                if i % 2 == 0 {
                    format!("CREATE (:Effect {{name: 'm{v}_{i}'}});\n")
                } else {
                    format!("CREATE CONSTRAINT m{v}_{i} FOR (n:M{v}x{i}) REQUIRE n.id IS UNIQUE;\n")
                }
            })
            .collect()
    }

    async fn history(&self) -> Vec<(u64, bool)> {
        support::neo4j_client::history(&self.graph)
            .await
            .into_iter()
            .map(|(v, ok)| (v as u64, ok))
            .collect()
    }

    async fn objects(&self) -> Vec<String> {
        let mut out =
            support::neo4j_client::strings(&self.graph, "MATCH (e:Effect) RETURN e.name AS x")
                .await;
        out.extend(
            support::neo4j_client::strings(
                &self.graph,
                "SHOW CONSTRAINTS YIELD name WHERE name =~ 'm[0-9]+_[0-9]+' RETURN name AS x",
            )
            .await,
        );
        out
    }

    async fn undo(&self, v: u64, ops: usize) {
        self.graph
            .run(query(&format!(
                "MATCH (e:Effect) WHERE e.name STARTS WITH 'm{v}_' DELETE e"
            )))
            .await
            .unwrap();
        // A constraint whose creation was killed can leave its index
        // behind without it; that goes too.
        for i in (1..ops).step_by(2) {
            for what in ["CONSTRAINT", "INDEX"] {
                self.graph
                    .run(query(&format!("DROP {what} m{v}_{i} IF EXISTS")))
                    .await
                    .unwrap();
            }
        }
    }

    async fn lock_owner(&self) -> Option<String> {
        support::neo4j_client::strings(
            &self.graph,
            "MATCH (l:SchemaMigrationLock) RETURN l.owner AS x",
        )
        .await
        .pop()
    }

    async fn expire_lock(&self) {
        self.graph
            .run(query(
                "MATCH (l:SchemaMigrationLock) SET l.expires_at = datetime() - duration('PT1M')",
            ))
            .await
            .unwrap();
    }

    async fn settle(&self) {
        wait_for("the killed runner's transactions to end", async || {
            support::neo4j_client::count(
                &self.graph,
                "SHOW TRANSACTIONS YIELD currentQuery \
                 WHERE NOT currentQuery STARTS WITH 'SHOW TRANSACTIONS' RETURN count(*) AS n",
            )
            .await
                == 0
        })
        .await;
    }

    async fn settle_frozen(&self) {
        // A frozen client's transaction stays open; its query is done once
        // it no longer shows as running.
        wait_for("the frozen runner's query to finish", async || {
            support::neo4j_client::count(
                &self.graph,
                "SHOW TRANSACTIONS YIELD currentQuery, status \
                 WHERE NOT currentQuery STARTS WITH 'SHOW TRANSACTIONS' \
                 AND currentQuery <> '' AND status = 'Running' RETURN count(*) AS n",
            )
            .await
                == 0
        })
        .await;
    }
}

/// Elasticsearch: every operation creates an index. The config carries
/// basic-auth credentials (the test cluster runs without security and
/// ignores them) so that their absence from every output is checked too.
pub struct Search {
    /// A client for the test cluster.
    pub es: Es,
}

const ES_PASSWORD: &str = "es-reliability-secret";

impl Subject for Search {
    const KIND: &'static str = "elasticsearch";
    const EXT: &'static str = "json";

    async fn fresh(&mut self) {
        self.es.reset().await;
    }

    fn config(&self) -> &'static str {
        "[databases.db]\nkind = \"elasticsearch\"\nurl = \"${DB_URL}\"\nuser = \"strata\"\n\
         password = \"${DB_PASSWORD}\"\nmigrations = \"migrations\"\nrollbacks = \"rollbacks\"\n"
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DB_URL", support::es_client::server()),
            ("DB_PASSWORD", ES_PASSWORD.to_string()),
        ]
    }

    fn secrets(&self) -> Vec<String> {
        vec![
            ES_PASSWORD.to_string(),
            support::base64(&format!("strata:{ES_PASSWORD}")),
        ]
    }

    fn migration(&self, v: u64, ops: usize) -> String {
        let list: Vec<String> = (0..ops)
            .map(|i| json!({"create_index": {"index": format!("m{v}_{i}")}}).to_string())
            .collect();
        format!("[{}]\n", list.join(",\n "))
    }

    async fn history(&self) -> Vec<(u64, bool)> {
        self.es.history().await
    }

    async fn objects(&self) -> Vec<String> {
        let indices = self
            .es
            .ok(
                Method::Get,
                "/_cat/indices?format=json&h=index&expand_wildcards=open,closed",
                None,
            )
            .await;
        indices
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["index"].as_str().unwrap().to_string())
            .filter(|name| effect_name(name))
            .collect()
    }

    async fn undo(&self, v: u64, ops: usize) {
        for i in 0..ops {
            let index = format!("m{v}_{i}");
            if self.es.exists(&index).await {
                self.es.ok(Method::Delete, &format!("/{index}"), None).await;
            }
        }
    }

    async fn lock_owner(&self) -> Option<String> {
        let (status, body) = self
            .es
            .call(Method::Get, "/schema_migrations_lock/_doc/lock", None)
            .await;
        (status == 200).then(|| body["_source"]["owner"].as_str().unwrap().to_string())
    }

    async fn expire_lock(&self) {
        self.es
            .ok(
                Method::Post,
                "/schema_migrations_lock/_update/lock?refresh=true",
                Some(json!({"doc": {"expires_at": "2000-01-01T00:00:00.000Z"}})),
            )
            .await;
    }

    async fn settle(&self) {
        wait_for("the killed runner's requests to finish", async || {
            // Every request strata sends runs as an `indices:` task.
            let tasks = self
                .es
                .ok(Method::Get, "/_tasks?group_by=none&actions=indices:*", None)
                .await;
            tasks["tasks"].as_array().unwrap().is_empty()
        })
        .await;
    }
}

/// Qdrant (the in-process test server, requiring an api key): every
/// operation creates a collection.
pub struct Vectors {
    qdrant: TestQdrant,
    server: Running,
}

const QDRANT_KEY: &str = "qdrant-reliability-secret";

impl Vectors {
    /// A subject on a new test server.
    pub async fn new() -> Vectors {
        let qdrant = TestQdrant::with_api_key(QDRANT_KEY);
        let server = qdrant.clone().start().await;
        Vectors { qdrant, server }
    }
}

impl Subject for Vectors {
    const KIND: &'static str = "qdrant";
    const EXT: &'static str = "json";

    async fn fresh(&mut self) {
        *self = Vectors::new().await;
    }

    fn config(&self) -> &'static str {
        "[databases.db]\nkind = \"qdrant\"\nurl = \"${DB_URL}\"\napi_key = \"${DB_API_KEY}\"\n\
         migrations = \"migrations\"\nrollbacks = \"rollbacks\"\n"
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DB_URL", self.server.url.clone()),
            ("DB_API_KEY", QDRANT_KEY.to_string()),
        ]
    }

    fn secrets(&self) -> Vec<String> {
        vec![QDRANT_KEY.to_string()]
    }

    fn migration(&self, v: u64, ops: usize) -> String {
        let list: Vec<String> = (0..ops)
            .map(|i| {
                json!({"create_collection": {"collection": format!("m{v}_{i}"),
                       "vectors": {"size": 2, "distance": "Dot"}}})
                .to_string()
            })
            .collect();
        format!("[{}]\n", list.join(",\n "))
    }

    async fn history(&self) -> Vec<(u64, bool)> {
        self.qdrant
            .history()
            .into_iter()
            .map(|(v, ok)| (v as u64, ok))
            .collect()
    }

    async fn objects(&self) -> Vec<String> {
        self.qdrant
            .collection_names()
            .into_iter()
            .filter(|name| effect_name(name))
            .collect()
    }

    async fn undo(&self, v: u64, ops: usize) {
        for i in 0..ops {
            self.qdrant.drop_collection(&format!("m{v}_{i}"));
        }
    }

    async fn settle(&self) {
        self.qdrant.quiet().await;
    }

    async fn lock_owner(&self) -> Option<String> {
        self.qdrant.config("schema_migrations_lock")?;
        let points = self.qdrant.points("schema_migrations_lock");
        Some(match points.first().map(|(_, p)| &p["owner"].kind) {
            Some(Some(qdrant_client::qdrant::value::Kind::StringValue(owner))) => owner.clone(),
            _ => "(no owner point)".to_string(),
        })
    }

    async fn expire_lock(&self) {
        self.qdrant.set_payload(
            "schema_migrations_lock",
            1,
            "expires_at",
            "2000-01-01T00:00:00.000Z".into(),
        );
    }
}

/// Whether `name` is one of the `m{v}_{i}` objects the migrations create.
pub fn effect_name(name: &str) -> bool {
    name.strip_prefix('m')
        .and_then(|rest| rest.split_once('_'))
        .is_some_and(|(v, i)| {
            !v.is_empty()
                && !i.is_empty()
                && v.bytes().all(|b| b.is_ascii_digit())
                && i.bytes().all(|b| b.is_ascii_digit())
        })
}
