//! The storage contract every database kind implements, and the one place
//! that dispatches on kind.
//!
//! # Adding a backend: the checklist
//!
//! 1. Add a variant to [`crate::kind::Kind`] with its file extension, and a
//!    module here with a type implementing [`Backend`] and a
//!    [`Format`] (how its files are read and checked before anything runs;
//!    operation-list kinds use [`crate::operations::OperationFormat`]),
//!    registered in [`format()`].
//! 2. Keep it thin: translate steps into the database's own calls. Planning,
//!    validation and ordering already happened in [`crate::plan`]; never
//!    correct or reinterpret the user's files.
//! 3. `applied` must not create anything: `status` and `plan` are read-only.
//!    On the no-op path it is the only call the engine makes, so make it one
//!    round trip.
//! 4. `lock` must exclude every other runner of the same database on any
//!    host, wait at most the given timeout, and name the holder when it gives
//!    up. A lock left by a dead process must be detectable and breakable,
//!    never silently stolen. Document exactly what your lock guarantees. A
//!    server without session locks provides a [`lease::LeaseStore`] (one
//!    object exactly one runner can create) and uses [`lease::LeasedLock`],
//!    which renews, releases, breaks and answers `lock_lost`, so a holder
//!    whose lease was broken stops before its next step.
//! 5. `run` executes one step. Where the kind has transactional DDL, the
//!    script and its record commit in one transaction. Otherwise implement
//!    [`stepwise::Stepwise`] and call [`stepwise::run`]: the record is
//!    written dirty (`success = false`) first and completed after, so an
//!    interruption is visible and `up` refuses until `repair`.
//! 6. Errors: report the file, the line (or statement, or JSON path) and the
//!    server's own code and message, scrubbed of the URL's secrets.
//! 7. Add the variant to [`AnyBackend`] and its `connect`, and give it an
//!    integration test file (`tests/<kind>.rs`) against a real server:
//!    up, down, status, drift, dirty, concurrent runners, a stale lock.
//! 8. Kinds without transactions implement [`Backend::check`]: play the
//!    pending files on a model of the live server
//!    ([`crate::operations::play`]) so what it would refuse half-way is refused
//!    before anything runs.

pub mod elasticsearch;
pub mod lease;
pub mod neo4j;
pub mod postgres;
pub mod qdrant;
pub mod stepwise;
mod wait;

pub use wait::LockWait;

use std::time::Duration;

use crate::config::DatabaseConfig;
use crate::error::Result;
use crate::history::Record;
use crate::kind::Kind;
use crate::script::{Format, Script};
use crate::step::Step;

/// How the files of a database are read, for its catalog.
pub fn format(db: &DatabaseConfig) -> Result<Box<dyn Format>> {
    Ok(match db.kind {
        Kind::Postgres => Box::new(postgres::SqlFormat::new(&db.history_table)),
        Kind::Neo4j => Box::new(neo4j::CypherFormat),
        Kind::Elasticsearch => Box::new(elasticsearch::format()),
        Kind::Qdrant => Box::new(qdrant::format()),
    })
}

/// The user and password of a connection: the `user`/`password` settings,
/// else the URL's userinfo (percent-decoded).
pub(crate) fn user_and_password(
    db: &DatabaseConfig,
    url: &url::Url,
) -> (Option<String>, Option<String>) {
    let user = db.user.clone().or_else(|| {
        (!url.username().is_empty()).then(|| crate::secret::percent_decode(url.username()))
    });
    let password = db
        .password
        .as_ref()
        .map(|p| p.expose().to_string())
        .or_else(|| url.password().map(crate::secret::percent_decode));
    (user, password)
}

/// Reads a PEM file a TLS setting names; the message names the file.
pub(crate) fn read_pem(path: &std::path::Path) -> std::result::Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Storage operations for one database. The engine owns the algorithm; a
/// backend only stores, locks and runs.
#[allow(async_fn_in_trait)] // used through the `AnyBackend` enum only, never boxed
pub trait Backend {
    /// The history as recorded, in version order. An absent history store
    /// means an empty history; this never creates anything.
    async fn applied(&mut self) -> Result<Vec<Record>>;

    /// Creates the history store if it is missing. Called under the lock.
    async fn ensure_history(&mut self) -> Result<()>;

    /// Takes the exclusive migration lock for this database, waiting at most
    /// `timeout`, and telling `wait` who holds it while it waits.
    async fn lock(&mut self, timeout: Duration, wait: &mut LockWait<'_>) -> Result<()>;

    /// Releases the lock. Must be safe to call when the run failed.
    async fn unlock(&mut self) -> Result<()>;

    /// Asked before every step: `Some(who holds it now)` when the lock this
    /// runner took is no longer its own — a leased lock can be removed by
    /// `migrate unlock` once this process was paused past its lease, or by
    /// `--force`. A lock that lives and dies with the connection cannot be
    /// lost without the connection; such kinds keep the default.
    async fn lock_lost(&mut self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Checks the pending steps against the live database before the first
    /// one runs, for kinds whose statements cannot be rolled back: anything
    /// the server would refuse half-way through is refused here instead,
    /// naming the file. Read-only.
    async fn check(&mut self, steps: &[(&Step, &Script)]) -> Result<()> {
        let _ = steps;
        Ok(())
    }

    /// Runs one step (apply or revert) with its script and updates the
    /// history accordingly. Returns the execution time in milliseconds.
    async fn run(&mut self, step: &Step, script: &Script) -> Result<i64>;

    /// Whether the history is written in the same transaction as each
    /// step, so no file can delete it unnoticed. Kinds where a file could
    /// (Neo4j's `DETACH DELETE`, …) keep the default: the engine then
    /// re-reads the history after each step.
    fn history_is_transactional(&self) -> bool {
        false
    }

    /// Inserts or replaces a record (for `baseline` and `repair`).
    async fn upsert(&mut self, record: &Record) -> Result<()>;

    /// Deletes the record of a version (for `repair`).
    async fn remove(&mut self, version: u64) -> Result<()>;

    /// Closes the connection; releases a session lock if one is still held.
    async fn close(self) -> Result<()>;
}

/// Every concrete backend. The engine talks to this enum; this file is the
/// only place that matches on the kind of database.
#[non_exhaustive]
pub enum AnyBackend {
    /// PostgreSQL.
    Postgres(postgres::PostgresBackend),
    /// Neo4j.
    Neo4j(neo4j::Neo4jBackend),
    /// Elasticsearch.
    Elasticsearch(elasticsearch::ElasticsearchBackend),
    /// Qdrant (boxed: its two gRPC clients make it several times larger
    /// than the others).
    Qdrant(Box<qdrant::QdrantBackend>),
}

macro_rules! dispatch {
    ($self:expr, $b:ident => $call:expr) => {
        match $self {
            AnyBackend::Postgres($b) => $call,
            AnyBackend::Neo4j($b) => $call,
            AnyBackend::Elasticsearch($b) => $call,
            AnyBackend::Qdrant($b) => $call,
        }
    };
}

/// Cancels the statement a backend is running, from another connection.
pub enum Canceller {
    /// `pg_cancel_backend` of the backend's session.
    Postgres(postgres::Cancel),
}

impl Canceller {
    /// Asks the server to cancel; failures are logged, not returned (the
    /// step then simply runs to its end).
    pub async fn cancel(&self) {
        match self {
            Canceller::Postgres(c) => c.cancel().await,
        }
    }
}

impl AnyBackend {
    /// The configured database name.
    pub fn database(&self) -> &str {
        match self {
            AnyBackend::Postgres(b) => b.database(),
            AnyBackend::Neo4j(b) => b.database(),
            AnyBackend::Elasticsearch(b) => b.database(),
            AnyBackend::Qdrant(b) => b.database(),
        }
    }

    /// How to cancel this backend's step in progress, where the server
    /// allows it.
    pub fn canceller(&self) -> Option<Canceller> {
        match self {
            AnyBackend::Postgres(b) => b.canceller().map(Canceller::Postgres),
            _ => None,
        }
    }

    /// Connects to the configured database.
    pub async fn connect(db: &DatabaseConfig, connect_timeout: Duration) -> Result<AnyBackend> {
        match db.kind {
            Kind::Postgres => Ok(AnyBackend::Postgres(
                postgres::PostgresBackend::connect(db, connect_timeout).await?,
            )),
            Kind::Neo4j => Ok(AnyBackend::Neo4j(
                neo4j::Neo4jBackend::connect(db, connect_timeout).await?,
            )),
            Kind::Elasticsearch => Ok(AnyBackend::Elasticsearch(
                elasticsearch::ElasticsearchBackend::connect(db, connect_timeout).await?,
            )),
            Kind::Qdrant => Ok(AnyBackend::Qdrant(Box::new(
                qdrant::QdrantBackend::connect(db, connect_timeout).await?,
            ))),
        }
    }

    /// Removes a lock left behind by a runner that died (`migrate unlock`).
    /// Says what it did.
    pub async fn break_lock(&mut self, force: bool) -> Result<String> {
        match self {
            AnyBackend::Neo4j(b) => b.break_lock(force).await,
            AnyBackend::Elasticsearch(b) => b.break_lock(force).await,
            AnyBackend::Qdrant(b) => b.break_lock(force).await,
            // A session-level advisory lock ends with its session: a dead
            // runner's lock is gone as soon as the server notices.
            AnyBackend::Postgres(b) => Ok(format!(
                "{}: PostgreSQL's advisory lock is released when its session ends; nothing to remove",
                b.database()
            )),
        }
    }
}

impl Backend for AnyBackend {
    async fn applied(&mut self) -> Result<Vec<Record>> {
        dispatch!(self, b => b.applied().await)
    }
    async fn ensure_history(&mut self) -> Result<()> {
        dispatch!(self, b => b.ensure_history().await)
    }
    async fn lock(&mut self, timeout: Duration, wait: &mut LockWait<'_>) -> Result<()> {
        dispatch!(self, b => b.lock(timeout, wait).await)
    }
    async fn unlock(&mut self) -> Result<()> {
        dispatch!(self, b => b.unlock().await)
    }
    async fn lock_lost(&mut self) -> Result<Option<String>> {
        dispatch!(self, b => b.lock_lost().await)
    }
    async fn check(&mut self, steps: &[(&Step, &Script)]) -> Result<()> {
        dispatch!(self, b => b.check(steps).await)
    }
    async fn run(&mut self, step: &Step, script: &Script) -> Result<i64> {
        dispatch!(self, b => b.run(step, script).await)
    }
    fn history_is_transactional(&self) -> bool {
        dispatch!(self, b => b.history_is_transactional())
    }
    async fn upsert(&mut self, record: &Record) -> Result<()> {
        dispatch!(self, b => b.upsert(record).await)
    }
    async fn remove(&mut self, version: u64) -> Result<()> {
        dispatch!(self, b => b.remove(version).await)
    }
    async fn close(self) -> Result<()> {
        dispatch!(self, b => b.close().await)
    }
}
