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

#[cfg(not(any(
    feature = "postgres",
    feature = "neo4j",
    feature = "elasticsearch",
    feature = "qdrant"
)))]
compile_error!(
    "strata needs at least one database kind: enable a feature among postgres, neo4j, elasticsearch, qdrant"
);

#[cfg(feature = "elasticsearch")]
pub mod elasticsearch;
#[cfg(any(feature = "neo4j", feature = "elasticsearch", feature = "qdrant"))]
pub mod lease;
#[cfg(feature = "neo4j")]
pub mod neo4j;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "neo4j")]
pub mod preconditions;
#[cfg(feature = "qdrant")]
pub mod qdrant;
pub mod stepwise;
mod wait;

pub use wait::LockWait;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::DatabaseConfig;
use crate::error::{Error, Result};
use crate::history::Record;
use crate::kind::Kind;
use crate::script::{Format, Script};
use crate::step::Step;

/// How the files of a database are read, for its catalog. A kind this
/// build left out is refused, naming the feature that brings it.
pub fn format(db: &DatabaseConfig) -> Result<Box<dyn Format>> {
    Ok(match db.kind {
        #[cfg(feature = "postgres")]
        Kind::Postgres => Box::new(postgres::SqlFormat::new(&db.history_table)),
        #[cfg(feature = "neo4j")]
        Kind::Neo4j => Box::new(neo4j::CypherFormat),
        #[cfg(feature = "elasticsearch")]
        Kind::Elasticsearch => Box::new(elasticsearch::format()),
        #[cfg(feature = "qdrant")]
        Kind::Qdrant => Box::new(qdrant::format()),
        #[allow(unreachable_patterns)] // every kind compiled in
        kind => return Err(left_out(db, kind)),
    })
}

/// The refusal of a database whose kind this build does not include.
fn left_out(db: &DatabaseConfig, kind: Kind) -> Error {
    Error::config(
        format!("databases.{}", db.name),
        format!(
            "kind {kind} is not compiled into this build of strata: enable the cargo feature \"{}\"",
            kind.feature()
        ),
    )
}

/// The user and password of a connection: the `user`/`password` settings,
/// else the URL's userinfo (percent-decoded).
#[cfg(any(feature = "neo4j", feature = "elasticsearch"))]
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
#[cfg(any(feature = "elasticsearch", feature = "qdrant"))]
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

    /// Who holds the migration lock now, without taking it; `None` when
    /// nobody does.
    async fn lock_holder(&mut self) -> Result<Option<String>>;

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

    /// What the migrations of `built` (each version and file) built
    /// outside a transaction and left unusable, one problem each:
    /// PostgreSQL's INVALID index after a failed or interrupted
    /// `CREATE INDEX CONCURRENTLY`. Read-only. Kinds without such builds
    /// keep the default.
    async fn built_problems(
        &mut self,
        built: &[(u64, &Script)],
    ) -> Result<Vec<crate::problem::Problem>> {
        let _ = built;
        Ok(Vec::new())
    }

    /// After [`check`](Backend::check): the steps it found will be
    /// recorded without running, with why (Neo4j's unmet `assume`
    /// preconditions), so plans can show them.
    fn skips(&self) -> BTreeMap<u64, String> {
        BTreeMap::new()
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

    /// The live schema as `scope` covers it (see [`crate::drift`]):
    /// strata's own objects left out.
    async fn describe(&mut self, scope: &crate::drift::Scope) -> Result<crate::drift::Schema>;

    /// The description the last run recorded, if any.
    async fn recorded_schema(&mut self) -> Result<Option<crate::drift::Recorded>>;

    /// Records `schema` as what the next run expects, in the database
    /// beside the history.
    async fn record_schema(&mut self, schema: &crate::drift::Schema) -> Result<()>;

    /// When the recorded description provably still describes the live
    /// schema without describing it again (PostgreSQL: the catalog's
    /// fingerprint is unchanged): when it was recorded. `None`: not known,
    /// describe and compare.
    async fn recorded_unchanged(
        &mut self,
        _scope: &crate::drift::Scope,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        Ok(None)
    }
}

/// The findings of an operation file of `kind` (Elasticsearch, Qdrant);
/// none for other kinds, whose files the lint reads itself. `created`
/// carries the indices, collections and aliases earlier files of the run
/// create: nothing is found on those (they hold only what the run put
/// there).
pub fn findings(
    kind: Kind,
    file: &str,
    content: &str,
    created: &mut std::collections::BTreeSet<String>,
) -> Vec<crate::finding::Finding> {
    let _ = (file, content, &created); // unused only without those kinds
    match kind {
        #[cfg(feature = "elasticsearch")]
        Kind::Elasticsearch => elasticsearch::lint::findings(file, content, created),
        #[cfg(feature = "qdrant")]
        Kind::Qdrant => qdrant::lint::findings(file, content, created),
        _ => Vec::new(),
    }
}

/// In the names an operation file's findings track: `name` counted as new
/// (made by the run) when `new`, else as holding live data.
#[allow(dead_code)] // unused without Elasticsearch and Qdrant
pub(crate) fn point(created: &mut std::collections::BTreeSet<String>, name: &str, new: bool) {
    if new {
        created.insert(name.to_string());
    } else {
        created.remove(name);
    }
}

/// Every concrete backend. The engine talks to this enum; this file is the
/// only place that matches on the kind of database.
#[non_exhaustive]
pub enum AnyBackend {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(postgres::PostgresBackend),
    /// Neo4j.
    #[cfg(feature = "neo4j")]
    Neo4j(neo4j::Neo4jBackend),
    /// Elasticsearch.
    #[cfg(feature = "elasticsearch")]
    Elasticsearch(elasticsearch::ElasticsearchBackend),
    /// Qdrant (boxed: its two gRPC clients make it several times larger
    /// than the others).
    #[cfg(feature = "qdrant")]
    Qdrant(Box<qdrant::QdrantBackend>),
}

macro_rules! dispatch {
    ($self:expr, $b:ident => $call:expr) => {
        match $self {
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres($b) => $call,
            #[cfg(feature = "neo4j")]
            AnyBackend::Neo4j($b) => $call,
            #[cfg(feature = "elasticsearch")]
            AnyBackend::Elasticsearch($b) => $call,
            #[cfg(feature = "qdrant")]
            AnyBackend::Qdrant($b) => $call,
        }
    };
}

/// Cancels the statement a backend is running, from another connection.
pub enum Canceller {
    /// `pg_cancel_backend` of the backend's session.
    #[cfg(feature = "postgres")]
    Postgres(postgres::Cancel),
}

impl Canceller {
    /// Asks the server to cancel; failures are logged, not returned (the
    /// step then simply runs to its end).
    pub async fn cancel(&self) {
        match self {
            #[cfg(feature = "postgres")]
            Canceller::Postgres(c) => c.cancel().await,
            #[cfg(not(feature = "postgres"))]
            _ => {}
        }
    }
}

impl AnyBackend {
    /// The configured database name.
    pub fn database(&self) -> &str {
        dispatch!(self, b => b.database())
    }

    /// Sets who each record written from now on says applied it.
    pub fn set_applied_by(&mut self, who: &str) {
        dispatch!(self, b => b.applied_by = who.to_string())
    }

    /// Where a step's retries after a lock timeout are reported, and the
    /// stop request that ends them (PostgreSQL; the others have none).
    pub fn set_run(&mut self, observer: crate::events::Observer, stop: crate::events::StopHandle) {
        match self {
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => b.set_run(observer, stop),
            #[allow(unreachable_patterns)]
            _ => drop((observer, stop)),
        }
    }

    /// Where the history lives (`schema.table`), for kinds where a
    /// session could send it elsewhere (PostgreSQL), once resolved.
    pub fn history_location(&self) -> Option<String> {
        match self {
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => b.history_location(),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The PostgreSQL backend inside, for work that only PostgreSQL has
    /// (partition catalogs) on a connection already open.
    #[cfg(feature = "postgres")]
    pub fn postgres(&mut self) -> Option<&mut postgres::PostgresBackend> {
        match self {
            AnyBackend::Postgres(b) => Some(b),
            #[allow(unreachable_patterns)] // PostgreSQL only
            _ => None,
        }
    }

    /// How to cancel this backend's step in progress, where the server
    /// allows it.
    pub fn canceller(&self) -> Option<Canceller> {
        match self {
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => b.canceller().map(Canceller::Postgres),
            #[allow(unreachable_patterns)] // PostgreSQL only
            _ => None,
        }
    }

    /// Reads another tool's history table (`baseline --from`): rows of
    /// version text, kind text and an ok flag, as `sql` yields them. The
    /// tools strata adopts from keep theirs in SQL databases: PostgreSQL only.
    pub async fn foreign_rows(
        &mut self,
        sql: &str,
        table: &str,
    ) -> Result<Vec<(Option<String>, String, bool)>> {
        let _ = (sql, table); // unused only without PostgreSQL
        match self {
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => b.foreign_rows(sql, table).await,
            #[allow(unreachable_patterns)] // PostgreSQL only
            _ => Err(Error::Usage(format!(
                "database {}: baseline --from reads another tool's history table, which \
                 strata knows for PostgreSQL only; use `migrate baseline --version N` here",
                self.database()
            ))),
        }
    }

    /// Estimated rows and total size of the named relations (as written
    /// in files, resolved by the server's search path), or with no names
    /// of every table by `schema.name` (PostgreSQL); the documents of named
    /// Elasticsearch indices, the points of named Qdrant collections.
    pub async fn table_sizes(
        &mut self,
        names: &[String],
    ) -> Result<std::collections::BTreeMap<String, crate::finding::TableSize>> {
        let _ = names; // unused only without PostgreSQL
        match self {
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => b.table_sizes(names).await,
            #[cfg(feature = "elasticsearch")]
            AnyBackend::Elasticsearch(b) if !names.is_empty() => b.table_sizes(names).await,
            #[cfg(feature = "qdrant")]
            AnyBackend::Qdrant(b) if !names.is_empty() => b.table_sizes(names).await,
            #[allow(unreachable_patterns)] // no tables to size
            _ => Ok(Default::default()),
        }
    }

    /// Connects to the configured database.
    pub async fn connect(db: &DatabaseConfig, connect_timeout: Duration) -> Result<AnyBackend> {
        let _ = connect_timeout; // unused only when no kind is compiled in
        match db.kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres => Ok(AnyBackend::Postgres(
                postgres::PostgresBackend::connect(db, connect_timeout).await?,
            )),
            #[cfg(feature = "neo4j")]
            Kind::Neo4j => Ok(AnyBackend::Neo4j(
                neo4j::Neo4jBackend::connect(db, connect_timeout).await?,
            )),
            #[cfg(feature = "elasticsearch")]
            Kind::Elasticsearch => Ok(AnyBackend::Elasticsearch(
                elasticsearch::ElasticsearchBackend::connect(db, connect_timeout).await?,
            )),
            #[cfg(feature = "qdrant")]
            Kind::Qdrant => Ok(AnyBackend::Qdrant(Box::new(
                qdrant::QdrantBackend::connect(db, connect_timeout).await?,
            ))),
            #[allow(unreachable_patterns)] // every kind compiled in
            kind => Err(left_out(db, kind)),
        }
    }

    /// Removes a lock left behind by a runner that died (`migrate unlock`).
    /// Says what it did.
    pub async fn break_lock(&mut self, force: bool) -> Result<String> {
        let _ = force; // PostgreSQL has no lock to force
        match self {
            #[cfg(feature = "neo4j")]
            AnyBackend::Neo4j(b) => b.break_lock(force).await,
            #[cfg(feature = "elasticsearch")]
            AnyBackend::Elasticsearch(b) => b.break_lock(force).await,
            #[cfg(feature = "qdrant")]
            AnyBackend::Qdrant(b) => b.break_lock(force).await,
            // A session-level advisory lock ends with its session: a dead
            // runner's lock is gone as soon as the server notices.
            #[cfg(feature = "postgres")]
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
    async fn lock_holder(&mut self) -> Result<Option<String>> {
        dispatch!(self, b => b.lock_holder().await)
    }
    async fn lock_lost(&mut self) -> Result<Option<String>> {
        dispatch!(self, b => b.lock_lost().await)
    }
    async fn check(&mut self, steps: &[(&Step, &Script)]) -> Result<()> {
        dispatch!(self, b => b.check(steps).await)
    }
    async fn built_problems(
        &mut self,
        built: &[(u64, &Script)],
    ) -> Result<Vec<crate::problem::Problem>> {
        dispatch!(self, b => b.built_problems(built).await)
    }
    fn skips(&self) -> BTreeMap<u64, String> {
        dispatch!(self, b => b.skips())
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
    async fn describe(&mut self, scope: &crate::drift::Scope) -> Result<crate::drift::Schema> {
        dispatch!(self, b => b.describe(scope).await)
    }
    async fn recorded_schema(&mut self) -> Result<Option<crate::drift::Recorded>> {
        dispatch!(self, b => b.recorded_schema().await)
    }
    async fn record_schema(&mut self, schema: &crate::drift::Schema) -> Result<()> {
        dispatch!(self, b => b.record_schema(schema).await)
    }
    async fn recorded_unchanged(
        &mut self,
        scope: &crate::drift::Scope,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        dispatch!(self, b => b.recorded_unchanged(scope).await)
    }
}
