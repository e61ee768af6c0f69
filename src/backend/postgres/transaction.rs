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

use super::{PostgresBackend, format, statement_error};
use crate::error::{Error, Result, StepFailure};
use crate::script::Script;
use crate::step::{Action, Step};

/// Sent ahead of the file: opens the transaction and returns its id.
const OPEN: &str = "BEGIN; SELECT txid_current();\n";

/// In the guard's error, to tell it from any other failure of the record.
const ENDED: &str = "strata: the transaction that ran the migration has ended";

impl PostgresBackend {
    pub(super) async fn run_in_transaction(&mut self, step: &Step, script: &Script) -> Result<i64> {
        let started = Instant::now();
        let body = format::transaction_body(&script.content);
        let xid = match self.pending_history.clone() {
            // The first migration also creates the history table: that is
            // opened on its own, so that its failure is not blamed on the file.
            Some(ddl) => {
                let xid = self
                    .open(&format!("BEGIN;\n{ddl};\nSELECT txid_current()"))
                    .await?;
                let ran = self.exec(body.clone().into_owned()).await;
                self.ran(script, &body, 0, true, ran.map(|_| xid)).await?
            }
            None => {
                let prefix = OPEN.chars().count();
                match self.open_and_run(&body).await {
                    (Some(xid), ran) => {
                        self.ran(script, &body, prefix, true, ran.map(|_| xid))
                            .await?
                    }
                    // The server parses the whole message before it runs
                    // any of it: a syntax error in the file comes before
                    // the BEGIN, and no transaction is open.
                    (None, Err(e)) if position(&e).is_some_and(|p| p > prefix) => {
                        self.ran(script, &body, prefix, false, Err(e)).await?
                    }
                    (None, ran) => {
                        let _ = self.exec("ROLLBACK".into()).await;
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
        if let Err(e) = self.exec(finish).await {
            let _ = self.exec("ROLLBACK".into()).await;
            if describe_has(&e, ENDED) {
                return Err(ended(script, &self.database));
            }
            return Err(self.db_error("recording the migration and committing failed", e));
        }
        self.pending_history = None;
        Ok(elapsed)
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
                let _ = self.exec("ROLLBACK".into()).await;
                Err(self.db_error(
                    &format!("opening the transaction (and {}) failed", self.table_name),
                    e,
                ))
            }
        }
    }

    /// Opens the transaction and runs the file in one message: the
    /// transaction's id, when the server got that far, and how the file went.
    async fn open_and_run(
        &mut self,
        body: &str,
    ) -> (Option<i64>, std::result::Result<(), sqlx::Error>) {
        let mut rows = sqlx::raw_sql(AssertSqlSafe(format!("{OPEN}{body}"))).fetch(&mut self.conn);
        let mut xid = None;
        while let Some(row) = rows.next().await {
            match row {
                // The first row is the id; the file's own rows are not read.
                Ok(row) if xid.is_none() => match sqlx::Row::try_get::<i64, _>(&row, 0) {
                    Ok(x) => xid = Some(x),
                    Err(e) => return (None, Err(e)),
                },
                Ok(_) => {}
                Err(e) => return (xid, Err(e)),
            }
        }
        (xid, Ok(()))
    }

    /// How the file went: on failure, rolled back (when its transaction
    /// was open) and the error placed in the file (`sent_before`:
    /// characters sent ahead of it in its message).
    async fn ran(
        &mut self,
        script: &Script,
        body: &str,
        sent_before: usize,
        open: bool,
        ran: std::result::Result<i64, sqlx::Error>,
    ) -> Result<i64> {
        let e = match ran {
            Ok(xid) => return Ok(xid),
            Err(e) => e,
        };
        if open {
            let _ = self.exec("ROLLBACK".into()).await;
        }
        let placeable = statement_error(&e);
        let mut error = self.step_error(script, None, sent_before, e);
        if let Error::Step(f) = &mut error
            && f.location.is_empty()
            && placeable
            && let Some(offset) = self.locate(body).await
        {
            f.location = format!(":{}", crate::split::line_of(&script.content, offset));
        }
        Err(error)
    }

    /// After a transactional file failed without a position (and was
    /// rolled back): runs it again statement by statement in a transaction
    /// that is always rolled back, to find the statement that fails.
    async fn locate(&mut self, body: &str) -> Option<usize> {
        let statements = crate::split::split_sql(body).ok()?;
        // Bounded: a slow statement before the failing one makes the
        // search give up rather than hold the lock for long.
        self.exec("BEGIN; SET LOCAL statement_timeout = '30s'".into())
            .await
            .ok()?;
        let mut found = None;
        for s in statements {
            if self.exec(s.text.to_string()).await.is_err() {
                found = Some(s.offset);
                break;
            }
        }
        let _ = self.exec("ROLLBACK".into()).await;
        found
    }
}

/// The second message: the guard, the record, COMMIT. The guard fails
/// the message when the transaction is no longer `xid` (the file ended
/// it; what runs now is the server's implicit transaction or one the file
/// began), so neither the record nor the COMMIT runs. SQL has no `RAISE`:
/// a failing cast of a text naming the cause stands in for one, and it is
/// evaluated only when the WHERE holds.
fn record_and_commit(table: &str, step: &Step, xid: i64, ms: i32, applied_by: &str) -> String {
    let guard = format!(
        "SELECT concat('{ENDED} (', txid_current_if_assigned(), ')')::int \
         WHERE txid_current_if_assigned() IS DISTINCT FROM {xid}"
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

/// A text as an `E'…'` constant: its meaning does not depend on
/// `standard_conforming_strings`.
fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_mean_the_same_whatever_the_server_setting() {
        assert_eq!(literal(r"it's a \ test"), r"E'it''s a \\ test'");
    }
}
