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

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use neo4rs::{ConfigBuilder, Graph, query};
use tokio::task::JoinHandle;

use super::Backend;
use super::lease::{Holder, LEASE, owner_tag};
use crate::catalog::Script;
use crate::config::{ConnectionUrl, DatabaseConfig, percent_decode};
use crate::error::{Error, Result, StepFailure};
use crate::history::Record;
use crate::plan::{Action, Step};
use crate::split::{Statement, line_of, split_cypher};

/// How long an index named like one of strata's constraints may stay
/// without it before it counts as left by an interrupted creation.
const ORPHAN_GRACE: Duration = Duration::from_secs(2);

/// A connection to one Neo4j database.
pub struct Neo4jBackend {
    graph: Graph,
    database: String,
    url: ConnectionUrl,
    label: String,
    owner: String,
    heartbeat: Option<JoinHandle<()>>,
}

impl Neo4jBackend {
    /// Connects (and checks the credentials with one query), waiting at most
    /// `timeout`.
    pub async fn connect(db: &DatabaseConfig, timeout: Duration) -> Result<Self> {
        let connect_error = |message: String| Error::Connect {
            database: db.name.clone(),
            url: db.url.redacted(),
            message: db.url.scrub(&message),
        };
        let parsed = url::Url::parse(db.url.expose()).map_err(|e| connect_error(e.to_string()))?;
        let uri = format!(
            "{}://{}:{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(7687)
        );
        let user = match parsed.username() {
            "" => "neo4j".to_string(),
            u => percent_decode(u),
        };
        let password = percent_decode(parsed.password().unwrap_or(""));
        let name = match parsed.path().trim_matches('/') {
            "" => "neo4j",
            n => n,
        };
        let config = ConfigBuilder::default()
            .uri(uri)
            .user(user)
            .password(password)
            .db(name)
            .max_connections(2)
            .build()
            .map_err(|e| connect_error(e.to_string()))?;
        let graph = tokio::time::timeout(timeout, async {
            let graph = Graph::connect(config).await?;
            // The pool connects lazily: make sure the server and the
            // credentials are good now, not half-way through a run.
            graph.run(query("RETURN 1")).await?;
            Ok::<_, neo4rs::Error>(graph)
        })
        .await
        .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
        .map_err(|e| connect_error(e.to_string()))?;
        Ok(Neo4jBackend {
            graph,
            database: db.name.clone(),
            url: db.url.clone(),
            label: db.history_table.clone(),
            owner: owner_tag(),
            heartbeat: None,
        })
    }

    fn db_error(&self, context: &str, e: neo4rs::Error) -> Error {
        Error::Database {
            database: self.database.clone(),
            message: self.url.scrub(&format!("{context}: {e}")),
        }
    }

    fn lock_label(&self) -> String {
        format!("{}Lock", self.label)
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

    async fn holder(&self) -> Result<Option<Holder>> {
        let mut rows = self
            .graph
            .execute(query(&format!(
                "MATCH (l:{}) WHERE l.name = 'lock' RETURN l.owner AS owner, \
                 toString(l.acquired_at) AS acquired_at, toString(l.expires_at) AS expires_at, \
                 l.expires_at < datetime() AS stale",
                self.lock_label()
            )))
            .await
            .map_err(|e| self.db_error("reading the lock", e))?;
        let row = rows
            .next()
            .await
            .map_err(|e| self.db_error("reading the lock", e))?;
        Ok(row.map(|r| Holder {
            owner: r.get("owner").unwrap_or_default(),
            acquired_at: r.get("acquired_at").unwrap_or_default(),
            expires_at: r.get("expires_at").unwrap_or_default(),
            stale: r.get("stale").unwrap_or(false),
        }))
    }

    /// Removes the lock node left by another runner. Refuses while its lease
    /// is being renewed (its owner is alive) unless `force`.
    pub async fn break_lock(&mut self, force: bool) -> Result<String> {
        let Some(holder) = self.holder().await? else {
            return Ok(format!("{}: no lock is held", self.database));
        };
        if !holder.stale && !force {
            return Err(Error::Database {
                database: self.database.clone(),
                message: format!(
                    "the lock is held by {holder}: its owner is alive; wait for it, or pass --force \
                     if you are sure it is not running"
                ),
            });
        }
        self.run_query(
            "removing the lock",
            query(&format!(
                "MATCH (l:{}) WHERE l.name = 'lock' AND l.owner = $owner DELETE l",
                self.lock_label()
            ))
            .param("owner", holder.owner.clone()),
        )
        .await?;
        Ok(format!(
            "{}: removed the lock held by {holder}",
            self.database
        ))
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
            database: self.database.clone(),
            file: script.file.clone(),
            location: format!(
                ":{} (statement {n}: {first_line})",
                line_of(&script.content, statement.offset)
            ),
            code,
            message: self.url.scrub(&message),
            applied: Vec::new(),
        }))
    }

    fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

impl Backend for Neo4jBackend {
    async fn applied(&mut self) -> Result<Vec<Record>> {
        let mut rows = self
            .graph
            .execute(query(&format!(
                "MATCH (m:{}) RETURN m.version AS version, m.name AS name, m.checksum AS checksum, \
                 toString(m.applied_at) AS applied_at, m.execution_time_ms AS ms, m.success AS success \
                 ORDER BY m.version",
                self.label
            )))
            .await
            .map_err(|e| self.db_error("reading the history", e))?;
        let mut out = Vec::new();
        while let Some(row) = rows
            .next()
            .await
            .map_err(|e| self.db_error("reading the history", e))?
        {
            let bad = |what: &str| Error::Database {
                database: self.database.clone(),
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
            });
        }
        Ok(out)
    }

    async fn ensure_history(&mut self) -> Result<()> {
        let label = self.label.clone();
        self.ensure_constraint("creating the history constraint", &label, "version")
            .await
    }

    async fn lock(&mut self, timeout: Duration) -> Result<()> {
        let lock = self.lock_label();
        self.ensure_constraint("creating the lock constraint", &lock, "name")
            .await?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(10);
        loop {
            let created = self
                .graph
                .run(
                    query(&format!(
                        "CREATE (:{lock} {{name: 'lock', owner: $owner, acquired_at: datetime(), \
                         expires_at: datetime() + duration({{seconds: $lease}})}})"
                    ))
                    .param("owner", self.owner.clone())
                    .param("lease", LEASE.as_secs() as i64),
                )
                .await;
            match created {
                Ok(()) => break,
                Err(neo4rs::Error::Neo4j(e))
                    if e.code() == "Neo.ClientError.Schema.ConstraintValidationFailed" => {}
                Err(e) => return Err(self.db_error("taking the lock", e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let holder = match self.holder().await? {
                    Some(h) => h.to_string(),
                    None => "a runner that has released it since".into(),
                };
                return Err(Error::LockTimeout {
                    database: self.database.clone(),
                    lock: format!("node :{lock} {{name: 'lock'}}"),
                    holder,
                    waited: timeout,
                });
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
        // Renew the lease while we hold it, so it only goes stale if we die.
        let (graph, owner) = (self.graph.clone(), self.owner.clone());
        let renew = format!(
            "MATCH (l:{lock}) WHERE l.name = 'lock' AND l.owner = $owner \
             SET l.expires_at = datetime() + duration({{seconds: $lease}})"
        );
        self.heartbeat = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE / 3).await;
                let q = query(&renew)
                    .param("owner", owner.clone())
                    .param("lease", LEASE.as_secs() as i64);
                if let Err(e) = graph.run(q).await {
                    tracing::warn!(error = %e, "renewing the neo4j migration lock failed");
                }
            }
        }));
        Ok(())
    }

    async fn lock_lost(&mut self) -> Result<Option<String>> {
        Ok(super::lease::lost(
            &self.owner,
            self.holder().await?.as_ref(),
        ))
    }

    async fn unlock(&mut self) -> Result<()> {
        self.stop_heartbeat();
        self.run_query(
            "releasing the lock",
            query(&format!(
                "MATCH (l:{}) WHERE l.name = 'lock' AND l.owner = $owner DELETE l",
                self.lock_label()
            ))
            .param("owner", self.owner.clone()),
        )
        .await
    }

    async fn run(&mut self, step: &Step, script: &Script) -> Result<i64> {
        let started = Instant::now();
        let l = &self.label;
        let version = step.version as i64;
        // Dirty first: if we die half-way, the record says so.
        let mark = match step.action {
            Action::Apply => query(&format!(
                "MERGE (m:{l} {{version: $version}}) SET m.name = $name, m.checksum = $checksum, \
                 m.applied_at = datetime(), m.execution_time_ms = 0, m.success = false"
            ))
            .param("name", step.description.clone())
            .param("checksum", step.checksum.clone()),
            Action::Revert => query(&format!(
                "MATCH (m:{l} {{version: $version}}) SET m.success = false"
            )),
        };
        self.run_query(
            "recording the migration as started",
            mark.param("version", version),
        )
        .await?;
        let statements = split_cypher(&script.content)
            .map_err(|e| Error::file(&script.file, format!("line {}: {}", e.line, e.message)))?;
        for (n, s) in statements.iter().enumerate() {
            if let Err(e) = self.graph.run(query(s.text)).await {
                return Err(self.step_error(script, n + 1, s, e));
            }
        }
        let elapsed = started.elapsed().as_millis() as i64;
        let done = match step.action {
            Action::Apply => query(&format!(
                "MATCH (m:{l} {{version: $version}}) \
                 SET m.success = true, m.execution_time_ms = $ms, m.applied_at = datetime()"
            ))
            .param("ms", elapsed),
            Action::Revert => query(&format!("MATCH (m:{l} {{version: $version}}) DELETE m")),
        };
        self.run_query(
            "recording the migration as finished",
            done.param("version", version),
        )
        .await?;
        Ok(elapsed)
    }

    async fn upsert(&mut self, record: &Record) -> Result<()> {
        self.run_query(
            "writing the history",
            query(&format!(
                "MERGE (m:{} {{version: $version}}) SET m.name = $name, m.checksum = $checksum, \
                 m.applied_at = datetime($applied_at), m.execution_time_ms = $ms, m.success = $success",
                self.label
            ))
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
        self.run_query(
            "writing the history",
            query(&format!(
                "MATCH (m:{} {{version: $version}}) DELETE m",
                self.label
            ))
            .param("version", version as i64),
        )
        .await
    }

    async fn close(mut self) -> Result<()> {
        // A lock still held here belongs to a run that failed to release
        // it: remove ours rather than leave it to go stale.
        if self.heartbeat.is_some() {
            let _ = self.unlock().await;
        }
        Ok(())
    }
}

impl Drop for Neo4jBackend {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}
