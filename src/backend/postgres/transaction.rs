//! A transactional `.sql` file: the file and its history record in one
//! transaction, in two messages to the server.
//!
//! The first message opens the transaction, notes its id and runs the
//! file; the second checks that the transaction is still that one, writes
//! the record and commits. Over a network every message is a round trip,
//! and a deploy over many databases pays them for every file of every
//! database: four messages per file became two.
//!
//! The transaction's id is the guard against a file that ends strata's
//! transaction (a COMMIT or ROLLBACK of its own, or one in a procedure it
//! calls): the record is written only in the transaction that ran the
//! file, so such a file is never recorded as applied.

use std::time::Instant;

use futures_util::StreamExt;
use sqlx::AssertSqlSafe;

use super::session::literal;
use super::waits::{lock_statement, timed_out, watched};
use super::{PostgresBackend, format};
use crate::error::{Error, Result, StepFailure};
use crate::script::Script;
use crate::step::{Action, Step};

/// Sent ahead of the file: opens the transaction and returns its id.
const OPEN: &str = "BEGIN; SELECT pg_catalog.txid_current();\n";
/// The statements in `OPEN`.
const OPEN_STATEMENTS: usize = 2;

/// In the guard's error, to tell it from any other failure of the record.
const ENDED: &str = "strata: the transaction that ran the migration has ended";

impl PostgresBackend {
    /// Runs the file in its transaction; a lock wait past the timeout
    /// rolls the whole file back and tries it again (see `waits`).
    pub(super) async fn run_in_transaction(&mut self, step: &Step, script: &Script) -> Result<i64> {
        let timeout = script.lock_timeout.unwrap_or(self.ddl.timeout);
        let mut attempt = 0;
        loop {
            let watch = self.watch(timeout, &script.file);
            let ran = watched(&watch, self.transaction_once(step, script, timeout)).await;
            let blocker = self.reclaim(watch);
            match ran {
                Err(e) if timed_out(&e) => {
                    let pause = self.next_try(
                        e,
                        blocker,
                        timeout,
                        &mut attempt,
                        &script.file,
                        Some(String::new()),
                    )?;
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }

    async fn transaction_once(
        &mut self,
        step: &Step,
        script: &Script,
        timeout: Option<std::time::Duration>,
    ) -> Result<i64> {
        let started = Instant::now();
        let body = format::transaction_body(&script.content);
        // The file runs in the session psql would give it (see `session`),
        // waiting for each lock at most its timeout.
        let (session, session_statements) = self.file_session().await?;
        let (lock, lock_statements) = lock_statement(timeout, true);
        let session = format!("{session}{lock}");
        let session_statements = session_statements + lock_statements;
        let xid = match self.pending_history.clone() {
            // The first migration also creates the history table: that is
            // opened on its own, so that its failure is not blamed on the file.
            Some(ddl) => {
                let xid = self
                    .open(&format!("BEGIN;\n{ddl};\nSELECT pg_catalog.txid_current()"))
                    .await?;
                let sent = Sent {
                    before: session.chars().count() + 1,
                    statements: session_statements,
                };
                let (done, ran) = self.run_counting(&format!("{session}\n{body}")).await;
                self.ran(script, &body, sent, done, true, ran.map(|_| xid))
                    .await?
            }
            None => {
                let sent = Sent {
                    before: OPEN.chars().count() + session.chars().count() + 1,
                    statements: OPEN_STATEMENTS + session_statements,
                };
                match self.open_and_run(&format!("{OPEN}{session}\n{body}")).await {
                    (Some(xid), done, ran) => {
                        self.ran(script, &body, sent, done, true, ran.map(|_| xid))
                            .await?
                    }
                    // The server parses the whole message before it runs
                    // any of it: a syntax error in the file comes before
                    // the BEGIN, and no transaction is open.
                    (None, done, Err(e)) if position(&e).is_some_and(|p| p > sent.before) => {
                        self.ran(script, &body, sent, done, false, Err(e)).await?
                    }
                    (None, _, ran) => {
                        self.abandon().await;
                        let e = ran.err().unwrap_or(sqlx::Error::RowNotFound);
                        return Err(self.db_error("opening the transaction failed", e));
                    }
                }
            }
        };
        let elapsed = started.elapsed().as_millis() as i64;
        let finish = record_and_commit(
            &self.table,
            step,
            xid,
            elapsed.min(i32::MAX as i64) as i32,
            &self.applied_by,
        );
        let finish = format!("{finish};\n{}", self.restore_sql());
        if let Err(e) = self.exec(finish).await {
            if e.as_database_error().is_none() {
                // The connection went at COMMIT: it may have committed.
                return Err(self.commit_lost(step, script, e).await);
            }
            self.abandon().await;
            if describe_has(&e, ENDED) {
                return Err(ended(script, &self.database));
            }
            return Err(self.db_error("recording the migration and committing failed", e));
        }
        self.pending_history = None;
        Ok(elapsed)
    }

    /// Rolls back what is open and gives strata its own session back.
    async fn abandon(&mut self) {
        let restore = self.restore_sql();
        let _ = self.exec(format!("ROLLBACK; {restore}")).await;
    }

    /// After the connection was lost while the record and COMMIT were on
    /// their way: whether the server committed, read from the history on
    /// a new connection, said in the error. The lock went with the
    /// session, so the run stops either way.
    async fn commit_lost(&mut self, step: &Step, script: &Script, e: sqlx::Error) -> Error {
        let lost = super::describe(&e);
        let read = async {
            let mut conn =
                <sqlx::PgConnection as sqlx::Connection>::connect_with(&self.options).await?;
            let row: Option<(bool,)> = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT success FROM {} WHERE version = $1",
                self.table
            )))
            .bind(step.version as i64)
            .fetch_optional(&mut conn)
            .await?;
            let _ = sqlx::Connection::close(conn).await;
            Ok::<_, sqlx::Error>(row.is_some_and(|(ok,)| ok))
        };
        let what = match (read.await, step.action) {
            (Ok(recorded), Action::Apply) if recorded => {
                "the history, read again on a new connection, shows it committed and recorded: \
                 it IS applied"
                    .to_string()
            }
            (Ok(_), Action::Apply) => {
                "the history, read again on a new connection, does not have it: the transaction \
                 did not commit and nothing of the file was applied"
                    .to_string()
            }
            (Ok(recorded), Action::Revert) if !recorded => {
                "the history, read again on a new connection, no longer has it: the rollback \
                 committed"
                    .to_string()
            }
            (Ok(_), Action::Revert) => {
                "the history, read again on a new connection, still has it: the rollback did \
                 not commit and changed nothing"
                    .to_string()
            }
            (Err(again), _) => format!(
                "the history could not be read again ({}): check `migrate status` before \
                 running again",
                super::describe(&again)
            ),
        };
        Error::Step(Box::new(StepFailure {
            database: self.database.clone(),
            file: script.file.clone(),
            location: String::new(),
            code: None,
            message: self.url.scrub(&format!(
                "the connection was lost as the migration committed ({lost}); {what}. The \
                 migration lock went with the connection: run again for the rest"
            )),
            progress: None,
            done: Default::default(),
        }))
    }

    /// Runs a message and counts the statements the server completed
    /// before it stopped (each sends its CommandComplete first).
    async fn run_counting(&mut self, sql: &str) -> (usize, std::result::Result<(), sqlx::Error>) {
        let mut results = sqlx::raw_sql(AssertSqlSafe(sql.to_string())).fetch_many(&mut self.conn);
        let mut done = 0;
        while let Some(item) = results.next().await {
            match item {
                Ok(sqlx::Either::Left(_)) => done += 1,
                Ok(sqlx::Either::Right(_)) => {}
                Err(e) => return (done, Err(e)),
            }
        }
        (done, Ok(()))
    }

    /// Opens the transaction (one message) and returns its id.
    async fn open(&mut self, sql: &str) -> Result<i64> {
        let opened = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .fetch_one(&mut self.conn)
            .await
            .and_then(|row| sqlx::Row::try_get::<i64, _>(&row, 0));
        match opened {
            Ok(xid) => Ok(xid),
            Err(e) => {
                self.abandon().await;
                Err(self.db_error(
                    &format!("opening the transaction (and {}) failed", self.table_name),
                    e,
                ))
            }
        }
    }

    /// Opens the transaction and runs the file in one message: the
    /// transaction's id, when the server got that far, how many
    /// statements it completed, and how the file went.
    async fn open_and_run(
        &mut self,
        sql: &str,
    ) -> (Option<i64>, usize, std::result::Result<(), sqlx::Error>) {
        let mut results = sqlx::raw_sql(AssertSqlSafe(sql.to_string())).fetch_many(&mut self.conn);
        let mut xid = None;
        let mut done = 0;
        while let Some(item) = results.next().await {
            match item {
                Ok(sqlx::Either::Left(_)) => done += 1,
                // The first row is the id; the file's own rows are not read.
                Ok(sqlx::Either::Right(row)) if xid.is_none() => {
                    match sqlx::Row::try_get::<i64, _>(&row, 0) {
                        Ok(x) => xid = Some(x),
                        Err(e) => return (None, done, Err(e)),
                    }
                }
                Ok(sqlx::Either::Right(_)) => {}
                Err(e) => return (xid, done, Err(e)),
            }
        }
        (xid, done, Ok(()))
    }

    /// How the file went: on failure, rolled back (when its transaction
    /// was open) and the error placed in the file: at the server's
    /// position when it gives one, else at the statement it was running,
    /// told by how many it had completed (nothing is run again to find it).
    async fn ran(
        &mut self,
        script: &Script,
        body: &str,
        sent: Sent,
        done: usize,
        open: bool,
        ran: std::result::Result<i64, sqlx::Error>,
    ) -> Result<i64> {
        let e = match ran {
            Ok(xid) => return Ok(xid),
            Err(e) => e,
        };
        if open {
            self.abandon().await;
        }
        let mut error = self.step_error(script, None, sent.before, e);
        if let Error::Step(f) = &mut error
            && f.location.is_empty()
            && let Some(index) = done.checked_sub(sent.statements)
            && let Ok(statements) = crate::split::split_sql(body)
            && let Some(statement) = statements.get(index)
        {
            f.location = format!(
                ":{}",
                crate::split::line_of(&script.content, statement.offset)
            );
        }
        Err(error)
    }
}

/// What went ahead of the file in its message: characters (which the
/// server's error positions count) and statements (which it completes).
#[derive(Debug, Clone, Copy)]
struct Sent {
    before: usize,
    statements: usize,
}

/// The second message: the guard, the record, COMMIT. The guard fails
/// the message when the transaction is no longer `xid` (the file ended
/// it; what runs now is the server's implicit transaction or one the file
/// began), so neither the record nor the COMMIT runs. SQL has no `RAISE`:
/// a failing cast of a text naming the cause stands in for one, and it is
/// evaluated only when the WHERE holds.
fn record_and_commit(table: &str, step: &Step, xid: i64, ms: i32, applied_by: &str) -> String {
    let guard = format!(
        "SELECT pg_catalog.concat('{ENDED} (', pg_catalog.txid_current_if_assigned(), ')')::int \
         WHERE pg_catalog.txid_current_if_assigned() IS DISTINCT FROM {xid}"
    );
    let version = step.version as i64;
    let record = match step.action {
        Action::Apply => format!(
            "INSERT INTO {table} (version, name, checksum, execution_time_ms, success, applied_by) \
             VALUES ({version}, {}, {}, {ms}, true, {})",
            literal(&step.description),
            literal(&step.checksum),
            literal(applied_by)
        ),
        Action::Revert => format!("DELETE FROM {table} WHERE version = {version}"),
    };
    format!("{guard};\n{record};\nCOMMIT")
}

/// Where in its message the server places an error, if it does.
fn position(e: &sqlx::Error) -> Option<usize> {
    let pg = e
        .as_database_error()?
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    match pg.position()? {
        sqlx::postgres::PgErrorPosition::Original(p) => Some(p),
        _ => None,
    }
}

fn describe_has(e: &sqlx::Error, needle: &str) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.message().contains(needle))
}

fn ended(script: &Script, database: &str) -> Error {
    Error::Step(Box::new(StepFailure {
        database: database.to_string(),
        file: script.file.clone(),
        location: String::new(),
        code: None,
        message: "the file ended the transaction strata runs it in (a COMMIT or \
                  ROLLBACK it sent, or one in a procedure it called): what it ran \
                  before that is committed and NOT recorded. Check the database, \
                  remove the transaction control from the file, then run again"
            .to_string(),
        progress: None,
        done: Default::default(),
    }))
}
