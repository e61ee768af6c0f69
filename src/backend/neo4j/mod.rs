//! Neo4j: Cypher files run statement by statement over Bolt (`neo4rs`).
//!
//! History: one node per version with the configured label (default
//! `SchemaMigration`) and properties version, name, checksum, applied_at,
//! execution_time_ms, success; a uniqueness constraint on `version`.
//!
//! Lock: one `<Label>Lock` node named `lock`, guarded by a uniqueness
//! constraint, so creating it succeeds for exactly one runner. It carries its
//! owner (host, process, random tag) and a lease the holder renews every few
//! seconds while it runs. Waiters never take it over: a lease that stopped
//! being renewed is reported as stale, and `migrate unlock` removes it (and
//! refuses while the lease is live, unless forced).
//!
//! Neo4j 5 cannot mix schema and data writes in one transaction, so every
//! statement runs in its own implicit transaction (which `CALL { … } IN
//! TRANSACTIONS` also needs): the record is written dirty first and
//! completed after.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use neo4rs::{ConfigBuilder, Graph, query};

mod describe;
mod lock;

use self::lock::LockStore;
use super::Backend;
use super::lease::LeasedLock;
use super::preconditions::{self, Condition, Precondition, Server, Strength};
use super::stepwise::{self, Stepwise};
use crate::config::DatabaseConfig;
use crate::error::{Error, Result, StepFailure};
use crate::history::Record;
use crate::kind::Kind;
use crate::problem::Problem;
use crate::script::{FileError, Format, Reading, Script, TransactionMode};
use crate::secret::ConnectionUrl;
use crate::split::{Statement, line_of, split_cypher};
use crate::step::{Action, Step};

/// How long an index named like one of strata's constraints may stay
/// without it before it counts as left by an interrupted creation.
const ORPHAN_GRACE: Duration = Duration::from_secs(2);

/// How `.cypher` files are read. Neo4j 5 cannot mix schema and data
/// writes in one transaction, and `CALL { … } IN TRANSACTIONS` needs an
/// implicit one: statements run one by one, recorded dirty first, so the
/// split must work now, not half-way through a run.
pub struct CypherFormat;

impl Format for CypherFormat {
    fn kind(&self) -> Kind {
        Kind::Neo4j
    }

    fn read(&self, content: &str) -> std::result::Result<Reading, FileError> {
        let statements =
            split_cypher(content).map_err(|e| format!("line {}: {}", e.line, e.message))?;
        if statements.is_empty() {
            return Err("holds no statement".to_string().into());
        }
        preconditions::read(content).map_err(|(line, message)| FileError {
            line: Some(line),
            column: None,
            message,
        })?;
        // cypher-shell's own commands (`:use system`, `:param`, `:begin`)
        // are not Cypher: the server would refuse them after the
        // statements before them ran.
        if let Some(command) = statements
            .iter()
            .find(|s| s.text.trim_start().starts_with(':'))
        {
            let word = command.text.split_whitespace().next().unwrap_or(":");
            return Err(FileError {
                line: Some(line_of(content, command.offset)),
                column: None,
                message: format!(
                    "{word} is a cypher-shell command, not Cypher: the server cannot run it. \
                     strata runs each file on its database's configured `database`; put work \
                     for another database (such as `system`) in a database entry of its own"
                ),
            });
        }
        Ok(Reading {
            mode: TransactionMode::NoTransaction,
            operations: Vec::new(),
        })
    }

    fn is_noop(&self, content: &str) -> bool {
        split_cypher(content).is_ok_and(|s| s.is_empty())
    }
}

/// A connection to one Neo4j database.
pub struct Neo4jBackend {
    conn: Conn,
    label: String,
    lock: LeasedLock<LockStore>,
    /// Recorded as who applied each migration.
    pub(crate) applied_by: String,
    /// The server's edition and version, read once for preconditions.
    server: Option<Server>,
    /// The unmet preconditions of each file `check` looked at: a file's
    /// preconditions are judged once, before anything runs (as
    /// neo4j-migrations does), not again after earlier files changed the
    /// graph a query condition looks at.
    judged: BTreeMap<u64, Vec<Precondition>>,
    /// The files `check` found will be skipped, with why.
    skipping: BTreeMap<u64, String>,
}

/// The driver, with the database name and URL its messages need; shared
/// by the backend and its lock.
#[derive(Clone)]
struct Conn {
    graph: Graph,
    database: String,
    url: ConnectionUrl,
}

impl Neo4jBackend {
    /// Connects (and checks the credentials with one query), waiting at most
    /// `timeout`.
    pub async fn connect(db: &DatabaseConfig, timeout: Duration) -> Result<Self> {
        let connect_error = |message: String| db.connect_error(&message);
        let parsed = url::Url::parse(db.url.expose()).map_err(|e| connect_error(e.to_string()))?;
        let uri = format!(
            "{}://{}:{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(7687)
        );
        let (user, password) = super::user_and_password(db, &parsed);
        let user = user.unwrap_or_else(|| "neo4j".to_string());
        let password = password.unwrap_or_default();
        let name = match parsed.path().trim_matches('/') {
            "" => "neo4j",
            n => n,
        };
        let mut builder = ConfigBuilder::default()
            .uri(uri)
            .user(user)
            .password(password)
            .db(name)
            .max_connections(2);
        // neo4rs calls the file of authorities to trust a client certificate.
        if let Some(ca) = &db.tls.ca_cert {
            builder = builder.with_client_certificate(ca);
        }
        let config = builder.build().map_err(|e| connect_error(e.to_string()))?;
        let graph = tokio::time::timeout(timeout, async {
            let graph = Graph::connect(config).await?;
            // The pool connects lazily: make sure the server and the
            // credentials are good now, not half-way through a run. In a
            // transaction, which the driver does not retry: `Graph::run`
            // would retry a refused password or port until the timeout
            // (and a wrong password, retried, locks the user out).
            let mut txn = graph.start_txn().await?;
            txn.run(query("RETURN 1")).await?;
            txn.rollback().await?;
            Ok::<_, neo4rs::Error>(graph)
        })
        .await
        .map_err(|_| {
            // A TLS handshake that never completes ends here: say where
            // to look.
            let tls = if parsed.scheme().contains('+') {
                "; with TLS, check ca_cert and that the server's certificate names this host \
                 (-vv shows the driver's retries)"
            } else {
                ""
            };
            connect_error(format!("no answer within {}s{tls}", timeout.as_secs()))
        })?
        .map_err(|e| {
            // A database the server does not have is the config's mistake
            // (exit 2), said before anything is written.
            let text = e.to_string();
            if text.contains("DatabaseNotFound") {
                return Error::config(
                    format!("databases.{}.database", db.name),
                    db.url.scrub(&format!(
                        "the server has no database {name:?} (Neo4j community has one user \
                         database, `neo4j`; create it with CREATE DATABASE on enterprise): {text}"
                    )),
                );
            }
            connect_error(text)
        })?;
        let conn = Conn {
            graph,
            database: db.name.clone(),
            url: db.url.clone(),
        };
        Ok(Neo4jBackend {
            lock: LeasedLock::new(LockStore {
                conn: conn.clone(),
                label: format!("{}Lock", db.history_table),
            }),
            conn,
            label: db.history_table.clone(),
            applied_by: crate::history::this_process(),
            server: None,
            judged: BTreeMap::new(),
            skipping: BTreeMap::new(),
        })
    }
}

impl Neo4jBackend {
    /// The server's edition and version (`dbms.components()`), read once.
    async fn server(&mut self) -> Result<Server> {
        if let Some(s) = &self.server {
            return Ok(s.clone());
        }
        let context = "reading the server's version and edition";
        let mut rows = self
            .conn
            .graph
            .execute(query(
                "CALL dbms.components() YIELD name, versions, edition \
                 WHERE name = 'Neo4j Kernel' RETURN versions[0] AS version, edition",
            ))
            .await
            .map_err(|e| self.conn.db_error(context, e))?;
        let row = rows
            .next()
            .await
            .map_err(|e| self.conn.db_error(context, e))?
            .ok_or_else(|| Error::Database {
                database: self.conn.database.clone(),
                message: format!("{context}: no answer"),
            })?;
        let server = Server {
            version: row.get("version").unwrap_or_default(),
            edition: row.get("edition").unwrap_or_default(),
        };
        self.server = Some(server.clone());
        Ok(server)
    }

    /// What makes an unmet precondition fail, for messages.
    async fn found(&mut self, p: &Precondition) -> Result<String> {
        Ok(match p.condition {
            Condition::Query(_) => "the query answers false".to_string(),
            _ => {
                let server = self.server().await?;
                format!("the server is Neo4j {} {}", server.edition, server.version)
            }
        })
    }

    /// Why a file is skipped: `` `assume …` does not hold: … ``.
    async fn skip_note(&mut self, assumption: &Precondition) -> Result<String> {
        let found = self.found(assumption).await?;
        Ok(format!("`{assumption}` does not hold: {found}"))
    }

    /// The file's preconditions the server does not meet.
    async fn unmet(&mut self, script: &Script) -> Result<Vec<Precondition>> {
        let mut unmet = Vec::new();
        for p in preconditions::read(&script.content).unwrap_or_default() {
            let met = match &p.condition {
                Condition::Query(q) => self.conn.query_holds(script, &p, q).await?,
                other => preconditions::holds(other, &self.server().await?) == Some(true),
            };
            if !met {
                unmet.push(p);
            }
        }
        Ok(unmet)
    }
}

impl Conn {
    fn db_error(&self, context: &str, e: neo4rs::Error) -> Error {
        Error::Database {
            database: self.database.clone(),
            message: self.url.scrub(&format!("{context}: {e}")),
        }
    }

    /// Answers a query precondition: its one row must hold one boolean.
    /// It runs in a transaction that is always rolled back, so a
    /// precondition can never change the graph. The server refusing the
    /// query (a typo, a write it cannot run there) is the file's error.
    async fn query_holds(&self, script: &Script, p: &Precondition, q: &str) -> Result<bool> {
        let refuse = |why: String| {
            Error::file(
                &script.file,
                format!("line {}: `{}`: {why}", p.line, p.text),
            )
        };
        let context = "checking a query precondition";
        let mut txn = self
            .graph
            .start_txn()
            .await
            .map_err(|e| self.db_error(context, e))?;
        let answer = async {
            let mut rows = txn.execute(query(q)).await?;
            let first = rows.next(txn.handle()).await?;
            let more = match first {
                Some(_) => rows.next(txn.handle()).await?.is_some(),
                None => false,
            };
            Ok::<_, neo4rs::Error>((first, more))
        }
        .await;
        let _ = txn.rollback().await;
        let (first, more) = answer.map_err(|e| match &e {
            neo4rs::Error::Neo4j(n) if n.code().starts_with("Neo.ClientError") => {
                refuse(self.url.scrub(&e.to_string()))
            }
            _ => self.db_error(context, e),
        })?;
        let one = "it must return one row holding one boolean";
        match (first, more) {
            (Some(row), false) => row
                .to::<bool>()
                .map_err(|_| refuse(format!("the row is not one boolean: {one}"))),
            (Some(_), true) => Err(refuse(format!("more than one row: {one}"))),
            (None, _) => Err(refuse(format!("no row: {one}"))),
        }
    }

    async fn run_query(&self, context: &str, q: neo4rs::Query) -> Result<()> {
        self.graph
            .run(q)
            .await
            .map_err(|e| self.db_error(context, e))
    }

    /// Creates one of strata's own uniqueness constraints unless it exists.
    ///
    /// Two runners creating it at once may collide: the loser finds it there
    /// on a retry. Neo4j builds a constraint's index first and adds the
    /// constraint once the index is populated; a runner killed in between
    /// leaves the index behind, named like the constraint and owned by none,
    /// and every later `CREATE CONSTRAINT … IF NOT EXISTS` fails on the name.
    /// Such an index on strata's own label is removed once it has stayed
    /// ownerless for [`ORPHAN_GRACE`] (a live creation takes milliseconds).
    async fn ensure_constraint(&self, context: &str, label: &str, property: &str) -> Result<()> {
        let name = format!("{label}_{property}_unique");
        let create = format!(
            "CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{property} IS UNIQUE"
        );
        let deadline = Instant::now() + ORPHAN_GRACE;
        loop {
            let error = match self.graph.run(query(&create)).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let name_taken = matches!(&error, neo4rs::Error::Neo4j(e)
                if e.code() == "Neo.ClientError.Schema.IndexWithNameAlreadyExists");
            if !name_taken || !self.orphaned_index(&name, label, property).await? {
                return Err(self.db_error(context, error));
            }
            tracing::warn!(index = %name, "removing an index left by an interrupted creation of its constraint");
            self.run_query(context, query(&format!("DROP INDEX {name} IF EXISTS")))
                .await?;
            return self.run_query(context, query(&create)).await;
        }
    }

    /// Whether `name` is an index on `label(property)` that no constraint owns.
    async fn orphaned_index(&self, name: &str, label: &str, property: &str) -> Result<bool> {
        let context = "reading the indexes";
        let mut rows = self
            .graph
            .execute(
                query(
                    "SHOW INDEXES YIELD name, labelsOrTypes, properties, owningConstraint \
                     WHERE name = $name \
                     RETURN labelsOrTypes = [$label] AND properties = [$property] \
                            AND owningConstraint IS NULL AS orphaned",
                )
                .param("name", name)
                .param("label", label)
                .param("property", property),
            )
            .await
            .map_err(|e| self.db_error(context, e))?;
        let row = rows.next().await.map_err(|e| self.db_error(context, e))?;
        Ok(row.is_some_and(|r| r.get::<bool>("orphaned").unwrap_or(false)))
    }
}

impl Neo4jBackend {
    /// The configured database name.
    pub fn database(&self) -> &str {
        &self.conn.database
    }

    /// Removes the lock left by a runner that died; see
    /// [`LeasedLock::break_lock`].
    pub async fn break_lock(&mut self, force: bool) -> Result<String> {
        self.lock.break_lock(force).await
    }

    fn step_error(
        &self,
        script: &Script,
        n: usize,
        statement: &Statement,
        e: neo4rs::Error,
    ) -> Error {
        let first_line = statement.text.lines().next().unwrap_or("").trim();
        let (code, message) = match &e {
            neo4rs::Error::Neo4j(n) => (Some(n.code().to_string()), n.message().to_string()),
            other => (None, other.to_string()),
        };
        Error::Step(Box::new(StepFailure {
            database: self.conn.database.clone(),
            file: script.file.clone(),
            location: format!(
                ":{} (statement {n}: {first_line})",
                line_of(&script.content, statement.offset)
            ),
            code,
            message: self.conn.url.scrub(&message),
            progress: None,
            done: Default::default(),
        }))
    }
}

impl<'a> Stepwise<Statement<'a>> for Neo4jBackend {
    async fn mark_started(&mut self, step: &Step) -> Result<()> {
        let l = &self.label;
        let mark = match step.action {
            Action::Apply => query(&format!(
                "MERGE (m:{l} {{version: $version}}) SET m.name = $name, m.checksum = $checksum, \
                 m.applied_at = datetime(), m.execution_time_ms = 0, m.success = false, \
                 m.applied_by = $applied_by"
            ))
            .param("name", step.description.clone())
            .param("checksum", step.checksum.clone())
            .param("applied_by", self.applied_by.clone()),
            Action::Revert => query(&format!(
                "MATCH (m:{l} {{version: $version}}) SET m.success = false"
            )),
        };
        self.conn
            .run_query(
                "recording the migration as started",
                mark.param("version", step.version as i64),
            )
            .await
    }

    async fn mark_finished(&mut self, step: &Step, ms: i64) -> Result<()> {
        let l = &self.label;
        let done = match step.action {
            Action::Apply => query(&format!(
                "MATCH (m:{l} {{version: $version}}) \
                 SET m.success = true, m.execution_time_ms = $ms, m.applied_at = datetime()"
            ))
            .param("ms", ms),
            Action::Revert => query(&format!("MATCH (m:{l} {{version: $version}}) DELETE m")),
        };
        self.conn
            .run_query(
                "recording the migration as finished",
                done.param("version", step.version as i64),
            )
            .await
    }

    async fn unmark(&mut self, step: &Step) -> Result<()> {
        let l = &self.label;
        let undo = match step.action {
            Action::Apply => format!("MATCH (m:{l} {{version: $version}}) DELETE m"),
            Action::Revert => format!("MATCH (m:{l} {{version: $version}}) SET m.success = true"),
        };
        self.conn
            .run_query(
                "taking back the record of a step that changed nothing",
                query(&undo).param("version", step.version as i64),
            )
            .await
    }

    /// A batched `CALL { … } IN TRANSACTIONS` commits batch by batch, so it
    /// may fail after some batches took effect.
    fn atomic(&self, s: &Statement<'a>) -> bool {
        !s.text.to_ascii_uppercase().contains("IN TRANSACTIONS")
    }

    async fn run_unit(&mut self, script: &Script, index: usize, s: &Statement<'a>) -> Result<()> {
        self.conn
            .graph
            .run(query(s.text))
            .await
            .map_err(|e| self.step_error(script, index + 1, s, e))
    }
}

impl Backend for Neo4jBackend {
    async fn applied(&mut self) -> Result<Vec<Record>> {
        let mut rows = self
            .conn
            .graph
            .execute(query(&format!(
                "MATCH (m:{}) RETURN m.version AS version, m.name AS name, m.checksum AS checksum, \
                 toString(m.applied_at) AS applied_at, m.execution_time_ms AS ms, m.success AS success, \
                 coalesce(m.applied_by, '') AS applied_by \
                 ORDER BY m.version",
                self.label
            )))
            .await
            .map_err(|e| self.conn.db_error("reading the history", e))?;
        let mut out = Vec::new();
        while let Some(row) = rows
            .next()
            .await
            .map_err(|e| self.conn.db_error("reading the history", e))?
        {
            let bad = |what: &str| Error::Database {
                database: self.conn.database.clone(),
                message: format!("a {} node has no valid {what}", self.label),
            };
            let version: i64 = row.get("version").map_err(|_| bad("version"))?;
            let applied_at: String = row.get("applied_at").map_err(|_| bad("applied_at"))?;
            out.push(Record {
                version: u64::try_from(version).map_err(|_| bad("version"))?,
                name: row.get("name").map_err(|_| bad("name"))?,
                checksum: row.get("checksum").map_err(|_| bad("checksum"))?,
                applied_at: DateTime::parse_from_rfc3339(&applied_at)
                    .map_err(|_| bad("applied_at"))?
                    .with_timezone(&Utc),
                execution_time_ms: row.get("ms").unwrap_or(0),
                success: row.get("success").map_err(|_| bad("success"))?,
                applied_by: row.get("applied_by").unwrap_or_default(),
            });
        }
        Ok(out)
    }

    async fn ensure_history(&mut self) -> Result<()> {
        let label = self.label.clone();
        self.conn
            .ensure_constraint("creating the history constraint", &label, "version")
            .await
    }

    async fn lock(&mut self, timeout: Duration, wait: &mut super::LockWait<'_>) -> Result<()> {
        self.lock.lock(timeout, wait).await
    }

    async fn lock_lost(&mut self) -> Result<Option<String>> {
        self.lock.lost().await
    }

    async fn unlock(&mut self) -> Result<()> {
        self.lock.unlock().await
    }

    async fn lock_holder(&mut self) -> Result<Option<String>> {
        self.lock.current_holder().await
    }

    async fn check(&mut self, steps: &[(&Step, &Script)]) -> Result<()> {
        let mut problems = Vec::new();
        self.judged.clear();
        self.skipping.clear();
        for (step, script) in steps {
            if step.action != Action::Apply {
                continue;
            }
            let unmet = self.unmet(script).await?;
            self.judged.insert(step.version, unmet.clone());
            for p in unmet.iter().filter(|p| p.strength == Strength::Require) {
                problems.push(Problem::Unmet {
                    version: step.version,
                    file: format!("{}:{}", step.file, p.line),
                    requirement: p.text.clone(),
                    server: self.found(p).await?,
                });
            }
            if let Some(assumption) = unmet.iter().find(|p| p.strength == Strength::Assume) {
                let why = self.skip_note(assumption).await?;
                self.skipping.insert(step.version, why);
            }
            if !unmet.is_empty() {
                continue; // refused above, or skipped when it runs
            }
            // Enterprise-only schema on Community fails half-way through a
            // file: refuse it before anything runs, as if it were required.
            let statements = split_cypher(&script.content).unwrap_or_default();
            for st in statements {
                let Some(what) = preconditions::enterprise_only(st.text) else {
                    continue;
                };
                let server = self.server().await?;
                if server.edition.eq_ignore_ascii_case("enterprise") {
                    break;
                }
                problems.push(Problem::Unmet {
                    version: step.version,
                    file: format!("{}:{}", step.file, line_of(&script.content, st.offset)),
                    requirement: format!("Enterprise Edition, for {what}"),
                    server: format!("the server is Neo4j {} {}", server.edition, server.version),
                });
                break;
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Refused {
                database: self.conn.database.clone(),
                problems,
            })
        }
    }

    fn skips(&self) -> BTreeMap<u64, String> {
        self.skipping.clone()
    }

    async fn run(&mut self, step: &Step, script: &Script) -> Result<i64> {
        let statements = split_cypher(&script.content)
            .map_err(|e| Error::file(&script.file, format!("line {}: {}", e.line, e.message)))?;
        let unmet = match self.judged.remove(&step.version) {
            Some(judged) => judged,
            None if step.action == Action::Apply => self.unmet(script).await?,
            None => Vec::new(),
        };
        if step.action == Action::Apply
            && let Some(assumption) = unmet.into_iter().find(|p| p.strength == Strength::Assume)
        {
            // Skipped, and the record says why (status shows it).
            let why = self.skip_note(&assumption).await?;
            let who = std::mem::take(&mut self.applied_by);
            self.applied_by = format!("{who} (skipped: {why})");
            let done = stepwise::run(self, step, script, &[]).await;
            self.applied_by = who;
            return done;
        }
        stepwise::run(self, step, script, &statements).await
    }

    async fn upsert(&mut self, record: &Record) -> Result<()> {
        self.conn.run_query(
            "writing the history",
            query(&format!(
                "MERGE (m:{} {{version: $version}}) SET m.name = $name, m.checksum = $checksum, \
                 m.applied_at = datetime($applied_at), m.execution_time_ms = $ms, m.success = $success, \
                 m.applied_by = $applied_by",
                self.label
            ))
            .param(
                "applied_by",
                if record.applied_by.is_empty() {
                    self.applied_by.clone()
                } else {
                    record.applied_by.clone()
                },
            )
            .param("version", record.version as i64)
            .param("name", record.name.clone())
            .param("checksum", record.checksum.clone())
            .param("applied_at", record.applied_at.to_rfc3339())
            .param("ms", record.execution_time_ms)
            .param("success", record.success),
        )
        .await
    }

    async fn remove(&mut self, version: u64) -> Result<()> {
        self.conn
            .run_query(
                "writing the history",
                query(&format!(
                    "MATCH (m:{} {{version: $version}}) DELETE m",
                    self.label
                ))
                .param("version", version as i64),
            )
            .await
    }

    async fn describe(&mut self, scope: &crate::drift::Scope) -> Result<crate::drift::Schema> {
        self.describe_schema(scope).await
    }

    async fn recorded_schema(&mut self) -> Result<Option<crate::drift::Recorded>> {
        self.recorded_schema().await
    }

    async fn record_schema(&mut self, schema: &crate::drift::Schema) -> Result<()> {
        self.write_schema(schema).await
    }

    async fn close(mut self) -> Result<()> {
        self.lock.release_if_held().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cypher_shell_commands_are_refused_with_their_line() {
        let e = CypherFormat
            .read("CREATE (:A);\n:use system;\nCREATE DATABASE x;\n")
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.starts_with(":use is a cypher-shell command"),
            "{}",
            e.message
        );
        assert!(CypherFormat.is_noop("// nothing to undo\n"));
        assert!(!CypherFormat.is_noop("CREATE (:A);"));
    }
}
