//! PostgreSQL: `.sql` files, a `schema_migrations` table, an advisory lock.
//!
//! One dedicated connection per run (never a pool), for three reasons:
//! - the session-level advisory lock lives on it, and closing it releases
//!   the lock on every path, including errors and panics (the trap of
//!   sqlx#1871, where an early return left a lock on a pooled connection);
//! - it is never left inside a transaction between steps, so a
//!   `CREATE INDEX CONCURRENTLY` run on it while the lock is held cannot wait
//!   for its own session (flyway#1654);
//! - transactional files run with their history row in the same transaction.
//!
//! The lock is `pg_advisory_lock(key)` where `key` is derived from the
//! history table's name, so every runner of one database (any host) shares
//! it, while two history tables in one database do not block each other.
//! A dead runner's lock disappears with its session: PostgreSQL ends the
//! session when the client's connection drops.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

mod builds;
mod connect;
mod describe;
mod fingerprint;
mod format;
mod reads;
mod session;
mod transaction;
mod waits;

pub use waits::{backoff, lock_holders};

pub use connect::Cancel;

/// Why a `.sql` file cannot run as one transaction, if it cannot.
pub use format::needs_no_transaction_file as needs_no_transaction;

pub use self::format::SqlFormat;
/// A file's text as it runs: a whole-file `BEGIN; … COMMIT;` blanked out.
pub use self::format::transaction_body;
use crate::backend::stepwise::{self, Stepwise};
use crate::backend::{Backend, LockWait};
use crate::error::{Error, Result, StepFailure};
use crate::history::Record;
use crate::script::{Script, TransactionMode};
use crate::secret::ConnectionUrl;
use crate::split::{line_col_of_char, split_sql};
use crate::step::{Action, Step};

/// version, name, checksum, applied_at, execution_time_ms, success
type HistoryRow = (i64, String, String, DateTime<Utc>, i32, bool, String);

/// A connection to one PostgreSQL database, with its history table.
pub struct PostgresBackend {
    conn: PgConnection,
    database: String,
    url: ConnectionUrl,
    /// The history table, quoted for SQL, schema-qualified once the
    /// schema is resolved (see `session`).
    table: String,
    /// The history table's schema: configured, or the session's
    /// `current_schema()` before any file ran.
    schema: Option<String>,
    /// The statements opening a file's session and how many there are,
    /// once read from the server.
    file_session: Option<(String, usize)>,
    /// The history table as configured, for messages.
    table_name: String,
    lock_key: i64,
    /// The DDL creating the history table, until it has run: it runs with
    /// the first write (inside the first migration's transaction), so a
    /// first run that fails leaves the database exactly as it was.
    pending_history: Option<String>,
    /// How to open another connection, to cancel a step in progress (boxed:
    /// it is most of the backend's size, and read rarely).
    options: Box<PgConnectOptions>,
    /// The server process of this session, once known (read with the lock).
    pid: Option<i32>,
    /// The catalog fingerprint taken with the last description, for
    /// recording beside it (see `fingerprint`).
    described_fingerprint: Option<String>,
    /// Whether the last statement that failed part-way left something
    /// behind (an INVALID index), read when it failed.
    left_behind: bool,
    /// `lock_timeout` and `lock_retries` for the files' statements.
    ddl: crate::config::timeouts::DdlLock,
    /// The connection that watched a statement's lock waits, kept for the
    /// next one once it was needed.
    watcher: waits::WatchSlot,
    /// Told about each retry after a lock timeout.
    observer: crate::events::Observer,
    /// A stop request ends the retries.
    stop: Option<crate::events::StopHandle>,
    /// Recorded as who applied each migration.
    pub(crate) applied_by: String,
    /// The history was written before strata recorded who applied a
    /// version: its next write adds the column.
    lacks_applied_by: bool,
}

/// A driver error as text: the server's message, code, detail and hint,
/// without the position in PostgreSQL's own C source that sqlx appends
/// (`at line 3665`), which users read as a line of their file.
pub(crate) fn describe(e: &sqlx::Error) -> String {
    match e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    {
        Some(pg) => {
            let mut text = format!("{} (SQLSTATE {})", pg.message(), pg.code());
            if let Some(detail) = pg.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = pg.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => e.to_string(),
    }
}

/// Whether a server error is about a statement of the file (and so worth
/// placing by re-running the file), rather than about the session: a
/// cancel, a lost connection, lack of resources, a deadlock.
fn statement_error(e: &sqlx::Error) -> bool {
    match e.as_database_error().and_then(|d| d.code()) {
        Some(code) => !["57", "08", "53", "58", "XX", "40"]
            .iter()
            .any(|class| code.starts_with(class)),
        None => false,
    }
}

/// A history table that another tool made, told by its columns: which
/// tool it looks like.
fn foreign_tool(columns: &[String]) -> Option<&'static str> {
    let has = |c: &str| columns.iter().any(|x| x == c);
    if has("dirty") && has("version") && columns.len() == 2 {
        Some("golang-migrate")
    } else if has("version") && columns.len() == 1 {
        Some("dbmate")
    } else if has("installed_rank") && has("script") {
        Some("Flyway")
    } else if has("installed_on") && has("description") && has("checksum") {
        Some("sqlx")
    } else if has("applied_on") && has("checksum") {
        Some("refinery")
    } else if has("name") && has("checksum") && has("success") {
        None // strata's own
    } else {
        Some("another tool")
    }
}

/// Quotes `name` or `schema.name` (already validated as plain identifiers).
fn quote_table(name: &str) -> String {
    name.split('.')
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(".")
}

/// The advisory lock key: the first 8 bytes of SHA-256("strata:" + table).
pub fn lock_key(history_table: &str) -> i64 {
    let digest = Sha256::digest(format!("strata:{history_table}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl PostgresBackend {
    /// The dedicated connection, for the partition executor, which shares
    /// this backend's lock.
    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// The configured database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Wraps a driver error with context, scrubbed of the URL's secrets.
    pub(crate) fn db_error(&self, context: &str, e: sqlx::Error) -> Error {
        Error::Database {
            database: self.database.clone(),
            message: self.url.scrub(&format!("{context}: {}", describe(&e))),
        }
    }

    /// The error for a history table another tool made, if this is one.
    async fn foreign_history(&mut self) -> Option<Error> {
        let table = self.bare_table_name().to_string();
        let schema = self.schema.clone();
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
        )
        .bind(match &schema {
            Some(s) => format!("\"{s}\".\"{table}\""),
            None => format!("\"{table}\""),
        })
        .fetch_all(&mut self.conn)
        .await
        .ok()?;
        let tool = foreign_tool(&columns)?;
        let from = match tool {
            "golang-migrate" | "dbmate" | "Flyway" | "sqlx" | "refinery" => format!(
                " and `migrate baseline --from {}` to adopt its history",
                tool.to_lowercase()
            ),
            _ => String::new(),
        };
        Some(Error::Config {
            setting: "history_table".into(),
            message: format!(
                "database {}: the table {} is not strata's history: it looks like {tool}'s \
                 (columns {}). Give strata a table of its own with history_table = \
                 \"strata_migrations\" in migrate.toml (or --history-table){from}",
                self.database,
                self.table_name,
                columns.join(", ")
            ),
        })
    }

    /// Turns a server error into one naming the file, line and column.
    /// `statement` is the byte offset of the failing statement within the
    /// script when it ran on its own, so its line can be named even when
    /// the server reports no position; `sent_before` counts the characters
    /// sent ahead of the script in its message, which the position includes.
    fn step_error(
        &self,
        script: &Script,
        statement: Option<usize>,
        sent_before: usize,
        e: sqlx::Error,
    ) -> Error {
        let base = statement.unwrap_or(0);
        let file = script.file.clone();
        let Some(pg) = e
            .as_database_error()
            .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
        else {
            return Error::Step(Box::new(StepFailure {
                database: self.database.clone(),
                file,
                location: String::new(),
                code: None,
                message: self.url.scrub(&describe(&e)),
                progress: None,
                done: Default::default(),
            }));
        };
        let location = match pg.position() {
            Some(PgErrorPosition::Original(pos)) => {
                let before = script.content[..base].chars().count();
                let at = (before + pos).saturating_sub(sent_before).max(1);
                let (line, col) = line_col_of_char(&script.content, at);
                format!(":{line}:{col}")
            }
            _ => statement
                .map(|offset| format!(":{}", crate::split::line_of(&script.content, offset)))
                .unwrap_or_default(),
        };
        let mut message = pg.message().to_string();
        if let Some(detail) = pg.detail() {
            message.push_str(&format!("\n  detail: {detail}"));
        }
        if let Some(hint) = pg.hint() {
            message.push_str(&format!("\n  hint: {hint}"));
        }
        if pg.code() == "25001" && script.mode == TransactionMode::Transaction {
            message.push_str(
                "\n  hint: mark the file `-- strata:no-transaction` (first line) to run it \
                 statement by statement, outside a transaction",
            );
        }
        Error::Step(Box::new(StepFailure {
            database: self.database.clone(),
            file,
            location,
            code: Some(format!("SQLSTATE {}", pg.code())),
            message: self.url.scrub(&message),
            progress: None,
            done: Default::default(),
        }))
    }

    async fn exec(&mut self, sql: String) -> std::result::Result<(), sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
    }

    /// Creates the history table now if it is still pending.
    async fn create_pending_history(&mut self) -> Result<()> {
        if let Some(ddl) = self.pending_history.take() {
            let created = self.exec(ddl.clone()).await;
            if let Err(e) = created {
                self.pending_history = Some(ddl);
                return Err(self.db_error(&format!("creating {} failed", self.table_name), e));
            }
        }
        Ok(())
    }

    async fn run_without_transaction(&mut self, step: &Step, script: &Script) -> Result<i64> {
        let statements: Vec<(usize, String)> = split_sql(&script.content)
            .map_err(|e| Error::file(&script.file, format!("line {}: {}", e.line, e.message)))?
            .into_iter()
            .map(|s| (s.offset, s.text.to_string()))
            .collect();
        let ms = stepwise::run(self, step, script, &statements).await?;
        if step.action == Action::Apply {
            let invalid = self.built_invalid(script).await?;
            if !invalid.is_empty() {
                // Ran to its end, yet an index it builds is unusable: an
                // `IF NOT EXISTS` met what an interrupted build left.
                self.exec(format!(
                    "UPDATE {} SET success = false WHERE version = {}",
                    self.table, step.version
                ))
                .await
                .map_err(|e| self.db_error("marking the migration dirty", e))?;
                return Err(Error::Step(Box::new(StepFailure {
                    database: self.database.clone(),
                    file: script.file.clone(),
                    location: String::new(),
                    code: None,
                    message: format!(
                        "the file ran to its end, but the index {} it builds is INVALID (an \
                         earlier build failed or was interrupted, and `IF NOT EXISTS` took it \
                         as built): recorded dirty. Drop it (`DROP INDEX CONCURRENTLY {};`), \
                         run `migrate repair`, then run again",
                        invalid.join(", "),
                        invalid[0]
                    ),
                    progress: None,
                    done: Default::default(),
                })));
            }
        }
        Ok(ms)
    }
}

/// A `-- strata:no-transaction` file: statement by statement, each in
/// its own implicit transaction, between a dirty record and its completion.
impl Stepwise<(usize, String)> for PostgresBackend {
    async fn mark_started(&mut self, step: &Step) -> Result<()> {
        self.create_pending_history().await?;
        let mark = match step.action {
            Action::Apply => sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (version, name, checksum, execution_time_ms, success, applied_by) VALUES ($1, $2, $3, 0, false, $4)",
                self.table
            )))
            .bind(step.version as i64)
            .bind(&step.description)
            .bind(&step.checksum)
            .bind(&self.applied_by)
            .execute(&mut self.conn)
            .await,
            Action::Revert => {
                sqlx::query(AssertSqlSafe(format!("UPDATE {} SET success = false WHERE version = $1", self.table)))
                    .bind(step.version as i64)
                    .execute(&mut self.conn)
                    .await
            }
        };
        mark.map(|_| ())
            .map_err(|e| self.db_error("recording the migration as started", e))
    }

    async fn mark_finished(&mut self, step: &Step, ms: i64) -> Result<()> {
        let restore = self.restore_sql();
        self.exec(restore)
            .await
            .map_err(|e| self.db_error("resetting the session after the file", e))?;
        let done = match step.action {
            Action::Apply => sqlx::query(AssertSqlSafe(format!(
                "UPDATE {} SET success = true, execution_time_ms = $2, applied_at = now() WHERE version = $1",
                self.table
            )))
            .bind(step.version as i64)
            .bind(ms.min(i32::MAX as i64) as i32)
            .execute(&mut self.conn)
            .await,
            Action::Revert => sqlx::query(AssertSqlSafe(format!("DELETE FROM {} WHERE version = $1", self.table)))
                .bind(step.version as i64)
                .execute(&mut self.conn)
                .await,
        };
        done.map(|_| ())
            .map_err(|e| self.db_error("recording the migration as finished", e))
    }

    async fn unmark(&mut self, step: &Step) -> Result<()> {
        let sql = match step.action {
            Action::Apply => format!("DELETE FROM {} WHERE version = $1", self.table),
            Action::Revert => format!(
                "UPDATE {} SET success = true WHERE version = $1",
                self.table
            ),
        };
        sqlx::query(AssertSqlSafe(sql))
            .bind(step.version as i64)
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|e| self.db_error("taking back the record of a step that changed nothing", e))
    }

    async fn run_unit(
        &mut self,
        script: &Script,
        index: usize,
        (offset, text): &(usize, String),
    ) -> Result<()> {
        let timeout = script.lock_timeout.unwrap_or(self.ddl.timeout);
        if index == 0 {
            // The file runs in the session psql would give it, each
            // statement waiting for a lock at most its timeout.
            let (session, _) = self.file_session().await?;
            let (lock, _) = waits::lock_statement(timeout, false);
            self.exec(format!("{session}{lock}"))
                .await
                .map_err(|e| self.db_error("setting the file's session", e))?;
        }
        let builds = builds::builds_index(text);
        let mut attempt = 0;
        // The INVALID indexes this statement's timed-out tries left: each
        // is dropped before the next try, which waits (under the same
        // timeout) for what the build waited for.
        let mut left: Vec<String> = Vec::new();
        let mut error = loop {
            if !left.is_empty() {
                let watch = self.watch(timeout, &script.file);
                let dropped = waits::watched(&watch, self.drop_indexes(&left)).await;
                let blocker = self.reclaim(watch);
                match dropped {
                    Ok(()) => left.clear(),
                    Err(e) => {
                        let error = self.step_error(script, Some(*offset), 0, e);
                        if !waits::timed_out(&error) {
                            break error;
                        }
                        let note = Some(format!(
                            "the INVALID index {} an earlier try left is not dropped yet",
                            left.join(", ")
                        ));
                        match self.next_try(
                            error,
                            blocker,
                            timeout,
                            &mut attempt,
                            &script.file,
                            note,
                        ) {
                            Ok(pause) => tokio::time::sleep(pause).await,
                            Err(e) => break e,
                        }
                        continue;
                    }
                }
            }
            // The indexes there before the try are not its to drop.
            let before = match builds {
                true => self.left_invalid(text).await,
                false => Vec::new(),
            };
            let watch = self.watch(timeout, &script.file);
            let ran = waits::watched(&watch, self.exec(text.clone())).await;
            let blocker = self.reclaim(watch);
            let Err(e) = ran else {
                return Ok(());
            };
            let error = self.step_error(script, Some(*offset), 0, e);
            if !waits::timed_out(&error) {
                break error;
            }
            let note = if builds {
                left = self
                    .left_invalid(text)
                    .await
                    .into_iter()
                    .filter(|i| !before.contains(i))
                    .collect();
                Some(match left.is_empty() {
                    true => String::new(),
                    false => format!(
                        "the try left the INVALID index {}, dropped before the next one",
                        left.join(", ")
                    ),
                })
            } else if builds::partial(text) {
                None // a REINDEX or DETACH … CONCURRENTLY: not undone here
            } else {
                Some(String::new()) // one statement: rolled back whole
            };
            match self.next_try(error, blocker, timeout, &mut attempt, &script.file, note) {
                Ok(pause) => tokio::time::sleep(pause).await,
                Err(e) => break e,
            }
        };
        self.left_behind = false;
        if builds::partial(text) {
            let invalid = self.left_invalid(text).await;
            // A build that left no index changed nothing; any other
            // `… CONCURRENTLY` (a detach) may have.
            self.left_behind = !invalid.is_empty() || !builds::builds_index(text);
            if let (Error::Step(f), Some(first)) = (&mut error, invalid.first()) {
                f.message.push_str(&format!(
                    "\n  it left the index {} INVALID (there, never used, enforcing nothing): \
                     drop it with `DROP INDEX CONCURRENTLY {first};`, then `migrate repair`, \
                     then run again",
                    invalid.join(", ")
                ));
            }
        }
        Err(error)
    }

    /// Asked right after the unit failed: a concurrent statement is not
    /// atomic, but one that left nothing behind changed nothing.
    fn atomic(&self, (_, text): &(usize, String)) -> bool {
        !builds::partial(text) || !self.left_behind
    }
}

impl Backend for PostgresBackend {
    async fn applied(&mut self) -> Result<Vec<Record>> {
        self.resolve_schema().await?;
        let mut rows = self.history_rows("coalesce(applied_by, '')").await;
        // A history written before strata recorded who applied a version
        // has no such column until its next write adds it: read it the
        // slow way (`to_jsonb` of every row cost 20 times the read itself
        // over 1000 rows, so only then).
        self.lacks_applied_by = matches!(&rows, Err(sqlx::Error::Database(e))
            if e.code().as_deref() == Some("42703"));
        if self.lacks_applied_by {
            rows = self
                .history_rows("coalesce(to_jsonb(h) ->> 'applied_by', '')")
                .await;
        }
        match rows {
            Ok(rows) => Ok(rows
                .into_iter()
                .map(
                    |(version, name, checksum, applied_at, ms, success, applied_by)| Record {
                        version: version as u64,
                        name,
                        checksum: checksum.trim_end().to_string(),
                        applied_at,
                        execution_time_ms: ms as i64,
                        success,
                        applied_by,
                    },
                )
                .collect()),
            // No table (or no schema) yet: nothing applied. Not created here,
            // so status and plan stay read-only.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P01" | "3F000")) =>
            {
                Ok(Vec::new())
            }
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42703") => {
                let e = sqlx::Error::Database(e);
                Err(match self.foreign_history().await {
                    Some(foreign) => foreign,
                    None => self.db_error(&format!("reading {} failed", self.table_name), e),
                })
            }
            Err(e) => Err(self.db_error(&format!("reading {} failed", self.table_name), e)),
        }
    }

    fn history_is_transactional(&self) -> bool {
        true
    }

    async fn built_problems(
        &mut self,
        built: &[(u64, &Script)],
    ) -> Result<Vec<crate::problem::Problem>> {
        self.invalid_built(built).await
    }

    async fn ensure_history(&mut self) -> Result<()> {
        self.resolve_schema().await?;
        // Not created here but with the first write (see `pending_history`).
        let mut sql = String::new();
        if let Some((schema, _)) = self.table_name.split_once('.') {
            sql.push_str(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\";\n"));
        }
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {} (\n\
               version BIGINT PRIMARY KEY,\n\
               name TEXT NOT NULL,\n\
               checksum CHAR(64) NOT NULL,\n\
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),\n\
               execution_time_ms INTEGER NOT NULL DEFAULT 0,\n\
               success BOOLEAN NOT NULL,\n\
               applied_by TEXT NOT NULL DEFAULT current_user\n\
             )",
            self.table
        ));
        if self.lacks_applied_by {
            let add = "ADD COLUMN IF NOT EXISTS applied_by TEXT NOT NULL DEFAULT current_user";
            sql.push_str(&format!(";\nALTER TABLE {} {add}", self.table));
        }
        self.pending_history = Some(sql);
        Ok(())
    }

    async fn lock(&mut self, timeout: Duration, wait: &mut LockWait<'_>) -> Result<()> {
        // client_connection_check_interval (PostgreSQL 14+) makes the server
        // notice within seconds that a killed runner is gone, even during a
        // long statement, and so end its session and release its lock.
        // The first try goes with that setting and the session's process
        // id, in one message: over a network each message is a round trip.
        let first = sqlx::raw_sql(AssertSqlSafe(format!(
            "SELECT pg_backend_pid(), NOT pg_is_in_recovery() AND pg_try_advisory_lock({}), \
                    current_schema()::text, pg_is_in_recovery() FROM \
             (SELECT CASE WHEN current_setting('server_version_num')::int >= 140000 \
             THEN set_config('client_connection_check_interval', '2000', false) END) s",
            self.lock_key
        )))
        .fetch_one(&mut self.conn)
        .await
        .and_then(|row| {
            Ok((
                sqlx::Row::try_get::<i32, _>(&row, 0)?,
                sqlx::Row::try_get::<bool, _>(&row, 1)?,
                sqlx::Row::try_get::<Option<String>, _>(&row, 2)?,
                sqlx::Row::try_get::<bool, _>(&row, 3)?,
            ))
        });
        let (pid, mut got, schema, standby) =
            first.map_err(|e| self.db_error("taking the migration lock failed", e))?;
        self.pid = Some(pid);
        if standby {
            // Told in the same message: nothing runs on a standby.
            return Err(Error::Standby {
                database: self.database.clone(),
            });
        }
        // The history's schema, read in the same message (no file has run).
        if let Err(e) = self.settle_schema(schema) {
            let _ = self.unlock().await;
            return Err(e);
        }
        // Try, never block: a session blocked in pg_advisory_lock() holds a
        // snapshot, and a CREATE INDEX CONCURRENTLY run by the lock's holder
        // waits for every older snapshot to go away, so holder and waiter
        // deadlock (one of them is killed). Between tries this session is
        // idle, outside any transaction.
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(10);
        loop {
            if got {
                return Ok(());
            }
            if wait.due() {
                let holder = self.holder().await;
                wait.say(&holder);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::LockTimeout {
                    database: self.database.clone(),
                    lock: format!("advisory lock {} for {}", self.lock_key, self.table_name),
                    holder: self.holder().await,
                    waited: timeout,
                });
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
            got = sqlx::raw_sql(AssertSqlSafe(format!(
                "SELECT pg_try_advisory_lock({})",
                self.lock_key
            )))
            .fetch_one(&mut self.conn)
            .await
            .and_then(|row| sqlx::Row::try_get::<bool, _>(&row, 0))
            .map_err(|e| self.db_error("taking the migration lock failed", e))?;
        }
    }

    async fn lock_holder(&mut self) -> Result<Option<String>> {
        self.current_holder()
            .await
            .map_err(|e| self.db_error("reading who holds the migration lock", e))
    }

    async fn unlock(&mut self) -> Result<()> {
        self.exec(format!("SELECT pg_advisory_unlock({})", self.lock_key))
            .await
            .map_err(|e| self.db_error("releasing the migration lock failed", e))
    }

    async fn run(&mut self, step: &Step, script: &Script) -> Result<i64> {
        match script.mode {
            TransactionMode::Transaction => self.run_in_transaction(step, script).await,
            TransactionMode::NoTransaction => self.run_without_transaction(step, script).await,
        }
    }

    async fn upsert(&mut self, record: &Record) -> Result<()> {
        self.resolve_schema().await?;
        self.create_pending_history().await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (version, name, checksum, applied_at, execution_time_ms, success, applied_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, \
               applied_at = EXCLUDED.applied_at, execution_time_ms = EXCLUDED.execution_time_ms, \
               success = EXCLUDED.success, applied_by = EXCLUDED.applied_by",
            self.table
        )))
        .bind(record.version as i64)
        .bind(&record.name)
        .bind(&record.checksum)
        .bind(record.applied_at)
        .bind(record.execution_time_ms.min(i32::MAX as i64) as i32)
        .bind(record.success)
        .bind(if record.applied_by.is_empty() {
            &self.applied_by
        } else {
            &record.applied_by
        })
        .execute(&mut self.conn)
        .await
        .map(|_| ())
        .map_err(|e| self.db_error("writing the history failed", e))
    }

    async fn remove(&mut self, version: u64) -> Result<()> {
        self.resolve_schema().await?;
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {} WHERE version = $1",
            self.table
        )))
        .bind(version as i64)
        .execute(&mut self.conn)
        .await
        .map(|_| ())
        .map_err(|e| self.db_error("writing the history failed", e))
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

    async fn recorded_unchanged(
        &mut self,
        scope: &crate::drift::Scope,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        self.recorded_unchanged(scope).await
    }

    async fn close(self) -> Result<()> {
        // Closing ends the session, which releases any advisory lock too.
        let _ = self.conn.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_key_is_stable_and_per_table() {
        assert_eq!(lock_key("schema_migrations"), lock_key("schema_migrations"));
        assert_ne!(
            lock_key("schema_migrations"),
            lock_key("ops.schema_migrations")
        );
        assert_eq!(quote_table("ops.history"), "\"ops\".\"history\"");
    }
}
