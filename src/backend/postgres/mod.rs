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

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection};

mod format;

pub use self::format::SqlFormat;
use crate::backend::Backend;
use crate::backend::stepwise::{self, Stepwise};
use crate::config::DatabaseConfig;
use crate::error::{Error, Result, StepFailure};
use crate::history::Record;
use crate::script::{Script, TransactionMode};
use crate::secret::ConnectionUrl;
use crate::split::{line_col_of_char, split_sql};
use crate::step::{Action, Step};

/// version, name, checksum, applied_at, execution_time_ms, success
type HistoryRow = (i64, String, String, DateTime<Utc>, i32, bool);
/// pid, application_name, client address, backend_start
type HolderRow = (i32, String, String, DateTime<Utc>);

/// A connection to one PostgreSQL database, with its history table.
pub struct PostgresBackend {
    conn: PgConnection,
    database: String,
    url: ConnectionUrl,
    /// The history table, quoted for SQL.
    table: String,
    /// The history table as configured, for messages.
    table_name: String,
    lock_key: i64,
    /// The DDL creating the history table, until it has run: it runs with
    /// the first write (inside the first migration's transaction), so a
    /// first run that fails leaves the database exactly as it was.
    pending_history: Option<String>,
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
    /// Opens the dedicated connection.
    pub async fn connect(db: &DatabaseConfig, timeout: Duration) -> Result<Self> {
        let connect_error = |message: String| Error::Connect {
            database: db.name.clone(),
            url: db.url.redacted(),
            message: db.url.scrub(&message),
        };
        let options = PgConnectOptions::from_str(db.url.expose())
            .map_err(|e| connect_error(e.to_string()))?
            .application_name("strata")
            // Migration files may hold secrets (CREATE ROLE … PASSWORD);
            // never log statements.
            .disable_statement_logging();
        let conn = tokio::time::timeout(timeout, PgConnection::connect_with(&options))
            .await
            .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
            .map_err(|e| connect_error(e.to_string()))?;
        Ok(PostgresBackend {
            conn,
            database: db.name.clone(),
            url: db.url.clone(),
            table: quote_table(&db.history_table),
            table_name: db.history_table.clone(),
            lock_key: lock_key(&db.history_table),
            pending_history: None,
        })
    }

    /// The dedicated connection, for the partition executor, which shares
    /// this backend's lock.
    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// The configured database name.
    pub(crate) fn database(&self) -> &str {
        &self.database
    }

    /// Wraps a driver error with context, scrubbed of the URL's secrets.
    pub(crate) fn db_error(&self, context: &str, e: sqlx::Error) -> Error {
        Error::Database {
            database: self.database.clone(),
            message: self.url.scrub(&format!("{context}: {e}")),
        }
    }

    /// Turns a server error into one naming the file, line and column.
    /// `statement` is the byte offset of the failing statement within the
    /// script when it ran on its own, so its line can be named even when
    /// the server reports no position.
    fn step_error(&self, script: &Script, statement: Option<usize>, e: sqlx::Error) -> Error {
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
                message: self.url.scrub(&e.to_string()),
                applied: Vec::new(),
            }));
        };
        let location = match pg.position() {
            Some(PgErrorPosition::Original(pos)) => {
                let before = script.content[..base].chars().count();
                let (line, col) = line_col_of_char(&script.content, before + pos);
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
        Error::Step(Box::new(StepFailure {
            database: self.database.clone(),
            file,
            location,
            code: Some(format!("SQLSTATE {}", pg.code())),
            message: self.url.scrub(&message),
            applied: Vec::new(),
        }))
    }

    async fn holder(&mut self) -> String {
        let high = (self.lock_key >> 32) as u32 as i64;
        let low = (self.lock_key & 0xffff_ffff) as u32 as i64;
        let row: std::result::Result<Option<HolderRow>, _> = sqlx::query_as(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), \
                    a.backend_start \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.database = \
                   (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .bind(high)
        .bind(low)
        .fetch_optional(&mut self.conn)
        .await;
        match row {
            Ok(Some((pid, app, addr, since))) => format!(
                "server process {pid} (application {app:?}, client {addr}, connected since {})",
                since.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Ok(None) => "a session that has released it since".to_string(),
            Err(_) => "an unknown session (pg_locks is not readable)".to_string(),
        }
    }

    async fn exec(&mut self, sql: String) -> std::result::Result<(), sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
    }

    async fn run_in_transaction(&mut self, step: &Step, script: &Script) -> Result<i64> {
        let started = Instant::now();
        let history_ddl = self.pending_history.clone();
        let mut tx = self.conn.begin().await.map_err(|e| Error::Database {
            database: self.database.clone(),
            message: format!("BEGIN failed: {e}"),
        })?;
        if let Some(ddl) = history_ddl
            && let Err(e) = sqlx::raw_sql(AssertSqlSafe(ddl)).execute(&mut *tx).await
        {
            let _ = tx.rollback().await;
            return Err(self.db_error(&format!("creating {} failed", self.table_name), e));
        }
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(script.content.clone()))
            .execute(&mut *tx)
            .await
        {
            let _ = tx.rollback().await;
            return Err(self.step_error(script, None, e));
        }
        let elapsed = started.elapsed().as_millis() as i64;
        let record = match step.action {
            Action::Apply => sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (version, name, checksum, execution_time_ms, success) VALUES ($1, $2, $3, $4, true)",
                self.table
            )))
            .bind(step.version as i64)
            .bind(&step.description)
            .bind(&step.checksum)
            .bind(elapsed.min(i32::MAX as i64) as i32)
            .execute(&mut *tx)
            .await,
            Action::Revert => sqlx::query(AssertSqlSafe(format!("DELETE FROM {} WHERE version = $1", self.table)))
                .bind(step.version as i64)
                .execute(&mut *tx)
                .await,
        };
        if let Err(e) = record {
            let _ = tx.rollback().await;
            return Err(self.db_error("recording the migration failed", e));
        }
        tx.commit()
            .await
            .map_err(|e| self.db_error("COMMIT failed", e))?;
        self.pending_history = None;
        Ok(elapsed)
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
        stepwise::run(self, step, script, &statements).await
    }
}

/// A `-- strata:no-transaction` file: statement by statement, each in
/// its own implicit transaction, between a dirty record and its completion.
impl Stepwise<(usize, String)> for PostgresBackend {
    async fn mark_started(&mut self, step: &Step) -> Result<()> {
        self.create_pending_history().await?;
        let mark = match step.action {
            Action::Apply => sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {} (version, name, checksum, execution_time_ms, success) VALUES ($1, $2, $3, 0, false)",
                self.table
            )))
            .bind(step.version as i64)
            .bind(&step.description)
            .bind(&step.checksum)
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

    async fn run_unit(
        &mut self,
        script: &Script,
        _: usize,
        (offset, text): &(usize, String),
    ) -> Result<()> {
        self.exec(text.clone())
            .await
            .map_err(|e| self.step_error(script, Some(*offset), e))
    }
}

impl Backend for PostgresBackend {
    async fn applied(&mut self) -> Result<Vec<Record>> {
        let rows: std::result::Result<Vec<HistoryRow>, _> =
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT version, name, checksum, applied_at, execution_time_ms, success FROM {} ORDER BY version",
                self.table
            )))
            .fetch_all(&mut self.conn)
            .await;
        match rows {
            Ok(rows) => Ok(rows
                .into_iter()
                .map(
                    |(version, name, checksum, applied_at, ms, success)| Record {
                        version: version as u64,
                        name,
                        checksum: checksum.trim_end().to_string(),
                        applied_at,
                        execution_time_ms: ms as i64,
                        success,
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
            Err(e) => Err(self.db_error(&format!("reading {} failed", self.table_name), e)),
        }
    }

    async fn ensure_history(&mut self) -> Result<()> {
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
        self.pending_history = Some(sql);
        Ok(())
    }

    async fn lock(&mut self, timeout: Duration) -> Result<()> {
        // client_connection_check_interval (PostgreSQL 14+) makes the server
        // notice within seconds that a killed runner is gone, even during a
        // long statement, and so end its session and release its lock.
        self.exec(
            "SELECT CASE WHEN current_setting('server_version_num')::int >= 140000 \
                    THEN set_config('client_connection_check_interval', '2000', false) END"
                .to_string(),
        )
        .await
        .map_err(|e| self.db_error("preparing the connection failed", e))?;
        // Try, never block: a session blocked in pg_advisory_lock() holds a
        // snapshot, and a CREATE INDEX CONCURRENTLY run by the lock's holder
        // waits for every older snapshot to go away, so holder and waiter
        // deadlock (one of them is killed). Between tries this session is
        // idle, outside any transaction.
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(10);
        loop {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(self.lock_key)
                .fetch_one(&mut self.conn)
                .await
                .map_err(|e| self.db_error("taking the migration lock failed", e))?;
            if got {
                return Ok(());
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
        }
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
        self.create_pending_history().await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (version, name, checksum, applied_at, execution_time_ms, success) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, \
               applied_at = EXCLUDED.applied_at, execution_time_ms = EXCLUDED.execution_time_ms, \
               success = EXCLUDED.success",
            self.table
        )))
        .bind(record.version as i64)
        .bind(&record.name)
        .bind(&record.checksum)
        .bind(record.applied_at)
        .bind(record.execution_time_ms.min(i32::MAX as i64) as i32)
        .bind(record.success)
        .execute(&mut self.conn)
        .await
        .map(|_| ())
        .map_err(|e| self.db_error("writing the history failed", e))
    }

    async fn remove(&mut self, version: u64) -> Result<()> {
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
