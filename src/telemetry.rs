//! OpenTelemetry traces and metrics of what strata does (cargo feature
//! `otel`): a span per run, per database, per step, per lock wait and per
//! partition action, and the metrics a platform graphs (steps applied and
//! failed, step duration, lock wait time, pending migrations, partitions
//! ahead and behind, rows in DEFAULT partitions).
//!
//! strata never installs a provider. By default it takes the global ones
//! (`opentelemetry::global`), which do nothing until the service — or the
//! `migrate` binary, from the standard `OTEL_*` variables — installs its
//! own before the first run; a service may also hand strata its providers
//! with [`Telemetry::with_providers`]. Spans nest under whatever span is
//! current where the run is awaited (`opentelemetry::Context`). Database
//! attributes use the semantic-convention names (`db.system.name`,
//! `db.namespace`, the configured database name: never a URL).
//!
//! Without the feature every call here does nothing and costs nothing.

use std::future::Future;

use crate::kind::Kind;
use crate::step::{Action, Step};

/// The tracer and the instruments strata reports through.
#[derive(Clone, Default)]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    own: Option<std::sync::Arc<imp::Instruments>>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "otel")]
        let own = self.own.is_some();
        #[cfg(not(feature = "otel"))]
        let own = false;
        f.write_str(if own {
            "Telemetry(own providers)"
        } else {
            "Telemetry(global)"
        })
    }
}

/// The `db.system.name` of a kind (the semantic conventions' well-known
/// values; Qdrant has none, so its own name).
pub fn system_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => "postgresql",
        Kind::Neo4j => "neo4j",
        Kind::Elasticsearch => "elasticsearch",
        Kind::Qdrant => "qdrant",
    }
}

/// What the partition metrics say of one table.
// Partition maintenance is PostgreSQL's: without that kind nothing calls
// it, and without `otel` nothing reads it.
#[cfg_attr(not(all(feature = "postgres", feature = "otel")), allow(dead_code))]
pub(crate) struct PartitionGauges<'a> {
    /// The configured database.
    pub database: &'a str,
    /// `schema.table`.
    pub table: &'a str,
    /// Partitions ready after the current interval.
    pub ahead: u32,
    /// Partitions the policy wants ready that are missing, the current
    /// one included.
    pub behind: u32,
    /// Partitions past retention still there.
    pub expired: usize,
    /// Rows in the DEFAULT partition.
    pub default_rows: i64,
}

/// One span in progress; ended by [`Span::ok`] or [`Span::failed`] (or,
/// unended, when dropped).
pub(crate) struct Span {
    inner: imp::SpanInner,
}

impl Telemetry {
    /// Reports through these providers instead of the global ones.
    #[cfg(feature = "otel")]
    pub fn with_providers<T, M>(tracer_provider: &T, meter_provider: &M) -> Telemetry
    where
        T: opentelemetry::trace::TracerProvider,
        T::Tracer: Send + Sync + 'static,
        <T::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
        M: opentelemetry::metrics::MeterProvider,
    {
        let tracer = tracer_provider.tracer_with_scope(imp::scope());
        let meter = meter_provider.meter_with_scope(imp::scope());
        Telemetry {
            own: Some(std::sync::Arc::new(imp::Instruments::new(
                opentelemetry::global::BoxedTracer::new(Box::new(tracer)),
                meter,
            ))),
        }
    }

    /// True when a service (or `migrate`) gave its own providers: what is
    /// worth reading only to report it (the daemon's partition gauges) is
    /// read then.
    pub fn has_providers(&self) -> bool {
        imp::has_providers(self)
    }

    /// The span of one `up`, `down` or maintenance run over `databases`.
    pub(crate) fn run(&self, command: &'static str, databases: usize) -> Span {
        let inner = imp::run(self, command, databases);
        Span { inner }
    }

    /// The span of one database's part of a run.
    pub(crate) fn database(&self, name: &str, kind: Kind) -> Span {
        let inner = imp::database(self, name, kind);
        Span { inner }
    }

    /// The span of one migration step.
    pub(crate) fn step(&self, database: &str, kind: Kind, step: &Step) -> Span {
        let inner = imp::step(self, database, kind, step);
        Span { inner }
    }

    /// The span of a wait for the migration or maintenance lock.
    pub(crate) fn lock_wait(&self, database: &str, kind: Kind) -> Span {
        let inner = imp::lock_wait(self, database, kind);
        Span { inner }
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    /// The span of one partition action (`create`, `drop`, `detach`, …).
    pub(crate) fn partition(
        &self,
        database: &str,
        table: &str,
        action: &str,
        partition: &str,
    ) -> Span {
        let inner = imp::partition(self, database, table, action, partition);
        Span { inner }
    }

    /// Records how many migrations a database has pending.
    pub(crate) fn pending(&self, database: &str, kind: Kind, pending: usize) {
        imp::pending(self, database, kind, pending);
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    /// Records a partitioned table's state: partitions ahead and behind
    /// its policy, expired ones, rows in its DEFAULT partition.
    pub(crate) fn partitions(&self, table: &PartitionGauges<'_>) {
        imp::partitions(self, table);
    }
}

impl Span {
    /// Runs `work` with this span as the current one, so the spans it
    /// starts are its children.
    pub(crate) fn wrap<F: Future>(&self, work: F) -> impl Future<Output = F::Output> {
        self.inner.wrap(work)
    }

    /// Says who held the lock this wait was for.
    pub(crate) fn holder(&self, holder: &str) {
        self.inner
            .attribute("strata.lock.holder", holder.to_string());
    }

    /// Ends the span as a success; a step says whether it applied or
    /// reverted.
    pub(crate) fn ok(self, action: Option<Action>) {
        self.inner.end(Ok(action));
    }

    /// Ends the span as failed, with the error's message (already free of
    /// secrets: every error strata shows is).
    pub(crate) fn failed(self, error: &dyn std::fmt::Display) {
        self.inner.end(Err(error.to_string()));
    }
}

// Without the feature, the same calls on a module that does nothing.
#[cfg(feature = "otel")]
mod imp;
#[cfg(not(feature = "otel"))]
#[path = "telemetry/noop.rs"]
mod imp;
