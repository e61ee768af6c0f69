//! A migration never queues live traffic behind it for longer than its
//! lock timeout: each statement of a file waits for a table lock at most
//! `lock_timeout` (`SET LOCAL` in a transactional file, per statement in a
//! no-transaction one); when it times out, what it did is rolled back and
//! it is tried again after a pause that doubles (with jitter, capped), and
//! each retry names the session that blocked it. The blocker is read while
//! the statement waits, from a second connection opened only when a
//! statement has been running for a while (`pg_blocking_pids`), so the
//! quick path costs nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::config::timeouts::show_timeout;
use crate::error::{Error, StepFailure};

/// How often a long statement's progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The server's code for a lock wait that ran out (`lock_not_available`).
pub(super) const LOCK_NOT_AVAILABLE: &str = "SQLSTATE 55P03";

/// The pause before retry `attempt` (0-based): 250 ms doubling, capped at
/// 10 s, each with jitter down to half, so replicas retrying together do
/// not meet again. Shared with partition maintenance.
pub fn backoff(attempt: u32) -> Duration {
    let full = Duration::from_millis(250)
        .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .min(Duration::from_secs(10));
    full.mul_f64(0.5 + 0.5 * jitter())
}

/// A number in [0, 1) that differs from call to call and process to
/// process (std's hasher keys are random): enough to spread retries.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `SELECT set_config('lock_timeout', …)` for a file's statements
/// (`local`: for its transaction only), or nothing when the timeout is
/// off; and how many statements that is.
pub(super) fn lock_statement(timeout: Option<Duration>, local: bool) -> (String, usize) {
    match timeout {
        Some(t) => (
            format!(
                "SELECT set_config('lock_timeout', '{}ms', {local});",
                t.as_millis().max(1)
            ),
            1,
        ),
        None => (String::new(), 0),
    }
}

/// Who blocks server process `pid` right now, as one line: process id,
/// application, client, state, how long its transaction has been open,
/// and the start of its query (a query naming a password is not shown).
const BLOCKERS: &str = "\
SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), \
       coalesce(a.state, ''), coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8, \
       left(coalesce(a.query, ''), 80) \
FROM pg_catalog.pg_stat_activity a WHERE a.pid = ANY(pg_catalog.pg_blocking_pids($1)) \
ORDER BY a.xact_start NULLS LAST LIMIT 3";

type BlockerRow = (i32, String, String, String, f64, String);

fn describe(rows: &[BlockerRow]) -> Option<String> {
    let shown: Vec<String> = rows
        .iter()
        .map(|(pid, app, client, state, open, query)| {
            let query = if query.to_ascii_lowercase().contains("password") {
                "(hidden: it names a password)".to_string()
            } else {
                format!(
                    "{:?}",
                    query.split_whitespace().collect::<Vec<_>>().join(" ")
                )
            };
            format!(
                "server process {pid} (application {app:?}, client {client}, {state}, \
                 transaction open {open:.1} s, query {query})"
            )
        })
        .collect();
    (!shown.is_empty()).then(|| shown.join("; "))
}

/// The sessions (other than this one) holding a lock on `relation`, as one
/// line each like a blocker: who kept a partition's attach or detach
/// waiting until its timeout.
pub async fn lock_holders(conn: &mut PgConnection, relation: &str) -> Option<String> {
    let rows: Vec<BlockerRow> = sqlx::query_as(
        "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), \
                coalesce(a.state, ''), coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8, \
                left(coalesce(a.query, ''), 80) \
         FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
         WHERE l.relation = $1::regclass AND l.granted AND a.pid <> pg_backend_pid() \
         ORDER BY a.xact_start NULLS LAST LIMIT 3",
    )
    .bind(relation)
    .fetch_all(conn)
    .await
    .ok()?;
    describe(&rows)
}

/// What the server reports of a statement in progress: an index build or
/// a table rewrite (`CLUSTER`, `VACUUM FULL`), else what it waits for.
const PROGRESS: &str = "\
SELECT coalesce(\
  (SELECT p.command || ': ' || p.phase || coalesce(', blocks ' || nullif(p.blocks_total, 0)::text \
     || ' of ' || p.blocks_done::text, '') || coalesce(', tuples ' || p.tuples_done::text || ' of ' \
     || nullif(p.tuples_total, 0)::text, '') \
   FROM pg_catalog.pg_stat_progress_create_index p WHERE p.pid = $1), \
  (SELECT p.command || ': ' || p.phase || ', blocks ' || p.heap_blks_scanned::text || ' of ' \
     || p.heap_blks_total::text || ', tuples written ' || p.heap_tuples_written::text \
   FROM pg_catalog.pg_stat_progress_cluster p WHERE p.pid = $1), \
  (SELECT 'waiting (' || a.wait_event_type || ': ' || a.wait_event || ')' \
   FROM pg_catalog.pg_stat_activity a WHERE a.pid = $1 AND a.wait_event_type IS NOT NULL \
     AND a.wait_event_type <> 'Client'), \
  'running')";

/// Watches a running statement's lock waits from a connection of its own,
/// opened when a statement has run for a while and then kept by the
/// backend for the rest of the run (a retry is watched from its start).
/// The connection is opened by a task of its own, so a slow connect (TLS,
/// SCRAM) outlives a short try and serves the next one.
pub(super) struct Watch {
    options: PgConnectOptions,
    pid: i32,
    /// When to connect, when not connected yet: well before the timeout
    /// runs out, so a wait is seen.
    after: Duration,
    slot: WatchSlot,
    /// The last blocker seen, if any.
    seen: Arc<Mutex<Option<String>>>,
    /// Where progress goes, every 10 s, once the statement has run that long.
    report: Option<(crate::events::Observer, String, String)>,
}

/// The watching connection, shared by a backend's watches, and whether
/// one is being opened.
#[derive(Clone, Default)]
pub(super) struct WatchSlot {
    conn: Arc<tokio::sync::Mutex<Option<PgConnection>>>,
    connecting: Arc<std::sync::atomic::AtomicBool>,
}

impl Watch {
    /// Looks every 50 ms until dropped; never completes.
    pub(super) async fn run(&self) {
        use std::sync::atomic::Ordering;
        if self.slot.conn.lock().await.is_none() {
            tokio::time::sleep(self.after).await;
            if !self.slot.connecting.swap(true, Ordering::SeqCst) {
                let (options, slot) = (self.options.clone(), self.slot.clone());
                tokio::spawn(async move {
                    match PgConnection::connect_with(&options).await {
                        Ok(c) => *slot.conn.lock().await = Some(c),
                        Err(e) => {
                            tracing::debug!(error = %e, "connecting to watch the migration's lock waits failed");
                        }
                    }
                    slot.connecting.store(false, Ordering::SeqCst);
                });
            }
        }
        let started = tokio::time::Instant::now();
        let mut next_report = started + PROGRESS_EVERY;
        loop {
            if let Some(conn) = self.slot.conn.lock().await.as_mut() {
                let rows: std::result::Result<Vec<BlockerRow>, _> = sqlx::query_as(BLOCKERS)
                    .bind(self.pid)
                    .fetch_all(&mut *conn)
                    .await;
                if let Err(e) = &rows {
                    tracing::debug!(error = %e, "reading who blocks the migration failed");
                }
                let blocker = rows.ok().and_then(|r| describe(&r));
                if let Some(found) = &blocker {
                    *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(found.clone());
                }
                if tokio::time::Instant::now() >= next_report
                    && let Some((observer, database, file)) = &self.report
                {
                    next_report += PROGRESS_EVERY;
                    let detail: Option<String> = sqlx::query_scalar(PROGRESS)
                        .bind(self.pid)
                        .fetch_one(&mut *conn)
                        .await
                        .ok();
                    let mut detail = detail.unwrap_or_else(|| "running".to_string());
                    if let Some(found) = blocker {
                        detail.push_str(&format!("; blocked by {found}"));
                    }
                    observer.emit(crate::events::Event::Progress {
                        database: database.clone(),
                        file: file.clone(),
                        elapsed: started.elapsed(),
                        detail,
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The blocker seen, or what to say when none was.
    pub(super) fn blocker(&self) -> String {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "a session that had let go by the time it was looked for".into())
    }
}

/// Whether a failed step only timed out waiting for a lock.
pub(super) fn timed_out(e: &Error) -> bool {
    matches!(e, Error::Step(f) if f.code.as_deref() == Some(LOCK_NOT_AVAILABLE))
}

/// The last timeout's error, saying how often it was tried and who blocked.
pub(super) fn gave_up(mut e: Error, timeout: Option<Duration>, tries: u32, blocker: &str) -> Error {
    if let Error::Step(f) = &mut e {
        let f: &mut StepFailure = f;
        f.message = format!(
            "{}: waited {} for a lock {tries} time(s), rolled back each time; blocked by {blocker}. \
             End or wait out that session, then run again (or raise lock_timeout / lock_retries)",
            f.message,
            show_timeout(timeout)
        );
    }
    e
}

/// Runs `work` while `watch` (if any) looks at its lock waits.
pub(super) async fn watched<T>(watch: &Option<Watch>, work: impl Future<Output = T>) -> T {
    match watch {
        Some(w) => tokio::select! {
            r = work => r,
            () = w.run() => unreachable!("the watch never completes"),
        },
        None => work.await,
    }
}

impl super::PostgresBackend {
    /// A watch on this session's statement in `file` (its lock waits and
    /// progress), on the kept connection when there is one.
    pub(super) fn watch(
        &mut self,
        timeout: Option<Duration>,
        file: &std::path::Path,
    ) -> Option<Watch> {
        let pid = self.pid?;
        Some(Watch {
            options: (*self.options).clone(),
            pid,
            // Well inside the lock timeout; without one, only a step that
            // runs a while has its progress read.
            after: match timeout {
                Some(t) => (t / 4).min(Duration::from_secs(1)),
                None => PROGRESS_EVERY / 2,
            },
            slot: self.watcher.clone(),
            seen: Arc::new(Mutex::new(None)),
            report: Some((
                self.observer.clone(),
                self.database.clone(),
                crate::catalog::display_name(file),
            )),
        })
    }

    /// Who a finished watch saw blocking.
    pub(super) fn reclaim(&mut self, watch: Option<Watch>) -> Option<String> {
        watch.map(|w| w.blocker())
    }

    /// After try `attempt` of a step or statement timed out waiting for a
    /// lock (and rolled back): the pause before the next try, reported
    /// with the blocker and `note`, or the error to stand — retries used
    /// up, a stop requested, or `note` is `None` (what the try left cannot
    /// be undone).
    pub(super) fn next_try(
        &mut self,
        e: Error,
        blocker: Option<String>,
        timeout: Option<Duration>,
        attempt: &mut u32,
        file: &std::path::Path,
        note: Option<String>,
    ) -> std::result::Result<Duration, Error> {
        let blocker = self
            .url
            .scrub(&blocker.unwrap_or_else(|| "a session the server did not name".to_string()));
        let stopping = self.stop.as_ref().is_some_and(|s| s.requested().is_some());
        if *attempt >= self.ddl.retries || stopping {
            return Err(gave_up(e, timeout, *attempt + 1, &blocker));
        }
        let Some(note) = note else {
            return Err(e);
        };
        let pause = backoff(*attempt);
        *attempt += 1;
        self.observer.emit(crate::events::Event::Retrying {
            database: self.database.clone(),
            file: crate::catalog::display_name(file),
            attempt: *attempt,
            retries: self.ddl.retries,
            timeout: timeout.unwrap_or_default(),
            blocker: match note.is_empty() {
                true => blocker,
                false => format!("{blocker}; {note}"),
            },
            pause,
        });
        Ok(pause)
    }
}

/// pid, application_name, client address, backend_start
type HolderRow = (i32, String, String, chrono::DateTime<chrono::Utc>);

/// Who holds the migration lock (an advisory lock on the history's key).
impl super::PostgresBackend {
    pub(super) async fn holder(&mut self) -> String {
        match self.current_holder().await {
            Ok(Some(h)) => h,
            Ok(None) => "a session that has released it since".to_string(),
            Err(_) => "an unknown session (pg_locks is not readable)".to_string(),
        }
    }

    /// The session holding the migration lock, from `pg_locks`.
    pub(super) async fn current_holder(
        &mut self,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
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
        Ok(row?.map(|(pid, app, addr, since)| {
            format!(
                "server process {pid} (application {app:?}, client {addr}, connected since {})",
                since.format("%Y-%m-%d %H:%M:%S UTC")
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempt in 0..20 {
            let full = Duration::from_millis(250 << attempt.min(6)).min(Duration::from_secs(10));
            let b = backoff(attempt);
            assert!(b >= full / 2 && b <= full, "{attempt}: {b:?} vs {full:?}");
        }
        assert_eq!(lock_statement(None, true), (String::new(), 0));
        assert_eq!(
            lock_statement(Some(Duration::from_secs(5)), true).0,
            "SELECT set_config('lock_timeout', '5000ms', true);"
        );
    }

    #[test]
    fn a_blocker_is_one_line_and_never_shows_a_password() {
        let row = |q: &str| {
            (
                42,
                "psql".to_string(),
                "127.0.0.1".to_string(),
                "idle in transaction".to_string(),
                12.34,
                q.to_string(),
            )
        };
        let shown = describe(&[row("SELECT  count(*)\n FROM accounts")]).unwrap();
        assert_eq!(
            shown,
            "server process 42 (application \"psql\", client 127.0.0.1, idle in transaction, \
             transaction open 12.3 s, query \"SELECT count(*) FROM accounts\")"
        );
        let hidden = describe(&[row("ALTER ROLE app PASSWORD 'x'")]).unwrap();
        assert!(!hidden.contains("'x'"), "{hidden}");
    }
}
