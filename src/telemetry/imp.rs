//! The OpenTelemetry side of [`Telemetry`](super::Telemetry): instruments,
//! span starts and ends.

use std::sync::Arc;
use std::time::Instant;

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use super::{PartitionGauges, Telemetry, system_name};
use crate::kind::Kind;
use crate::step::{Action, Step};

/// The instrumentation scope every span and metric is reported under.
pub(super) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("strata")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// The tracer and the metric instruments of one provider pair.
// Partition maintenance is PostgreSQL's: without that kind nothing calls it.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(super) struct Instruments {
    tracer: BoxedTracer,
    steps: Counter<u64>,
    step_duration: Histogram<f64>,
    lock_wait: Histogram<f64>,
    pending: Gauge<u64>,
    partition_actions: Counter<u64>,
    ahead: Gauge<u64>,
    behind: Gauge<u64>,
    expired: Gauge<u64>,
    default_rows: Gauge<i64>,
}

impl Instruments {
    pub(super) fn new(tracer: BoxedTracer, meter: Meter) -> Instruments {
        Instruments {
            tracer,
            steps: meter
                .u64_counter("strata.migration.steps")
                .with_description("Migration steps run, by outcome (applied, reverted, failed).")
                .build(),
            step_duration: meter
                .f64_histogram("strata.migration.step.duration")
                .with_unit("s")
                .with_description("How long each migration step took.")
                .build(),
            lock_wait: meter
                .f64_histogram("strata.lock.wait.duration")
                .with_unit("s")
                .with_description("How long a run waited for the migration or maintenance lock.")
                .build(),
            pending: meter
                .u64_gauge("strata.migrations.pending")
                .with_description("Migrations not yet applied, per database.")
                .build(),
            partition_actions: meter
                .u64_counter("strata.partition.actions")
                .with_description("Partition actions run, by action and outcome.")
                .build(),
            ahead: meter
                .u64_gauge("strata.partitions.ahead")
                .with_description("Partitions ready after the current interval.")
                .build(),
            behind: meter
                .u64_gauge("strata.partitions.behind")
                .with_description(
                    "Partitions the policy wants ready that are missing (the current one included).",
                )
                .build(),
            expired: meter
                .u64_gauge("strata.partitions.expired")
                .with_description("Partitions past retention that still exist.")
                .build(),
            default_rows: meter
                .i64_gauge("strata.partitions.default_rows")
                .with_description("Rows waiting in the DEFAULT partition.")
                .build(),
        }
    }
}

/// The service's own instruments, or ones of the global providers as they
/// are now (a service installs them before its first run).
fn instruments(t: &Telemetry) -> Arc<Instruments> {
    match &t.own {
        Some(own) => own.clone(),
        None => Arc::new(Instruments::new(
            opentelemetry::global::tracer_with_scope(scope()),
            opentelemetry::global::meter_with_scope(scope()),
        )),
    }
}

pub(super) fn has_providers(t: &Telemetry) -> bool {
    t.own.is_some()
}

/// What a span records in metrics when it ends.
// Partition maintenance is PostgreSQL's: without that kind nothing calls it.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
enum Measure {
    Nothing,
    Step,
    LockWait,
    Partition,
}

pub(super) struct SpanInner {
    cx: Context,
    instruments: Arc<Instruments>,
    started: Instant,
    measure: Measure,
    /// The attributes its metrics carry.
    labels: Vec<KeyValue>,
}

fn start(
    t: &Telemetry,
    name: &'static str,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    measure: Measure,
    labels: Vec<KeyValue>,
) -> SpanInner {
    let instruments = instruments(t);
    let parent = Context::current();
    let span = instruments
        .tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attributes)
        .start_with_context(&instruments.tracer, &parent);
    SpanInner {
        cx: parent.with_span(span),
        instruments,
        started: Instant::now(),
        measure,
        labels,
    }
}

fn database_labels(database: &str, kind: Kind) -> Vec<KeyValue> {
    vec![
        KeyValue::new("db.system.name", system_name(kind)),
        KeyValue::new("db.namespace", database.to_string()),
    ]
}

pub(super) fn run(t: &Telemetry, command: &'static str, databases: usize) -> SpanInner {
    let attributes = vec![
        KeyValue::new("strata.command", command),
        KeyValue::new("strata.databases", databases as i64),
    ];
    start(
        t,
        "strata.run",
        SpanKind::Internal,
        attributes,
        Measure::Nothing,
        Vec::new(),
    )
}

pub(super) fn database(t: &Telemetry, name: &str, kind: Kind) -> SpanInner {
    let attributes = database_labels(name, kind);
    start(
        t,
        "strata.database",
        SpanKind::Internal,
        attributes,
        Measure::Nothing,
        Vec::new(),
    )
}

pub(super) fn step(t: &Telemetry, database: &str, kind: Kind, step: &Step) -> SpanInner {
    let labels = database_labels(database, kind);
    let mut attributes = labels.clone();
    attributes.extend([
        KeyValue::new("strata.migration.version", step.version as i64),
        KeyValue::new("strata.migration.name", step.description.clone()),
        KeyValue::new("strata.migration.file", step.file.clone()),
        KeyValue::new(
            "strata.migration.checksum",
            step.checksum.chars().take(12).collect::<String>(),
        ),
        KeyValue::new("strata.migration.action", action_name(step.action)),
    ]);
    start(
        t,
        "strata.step",
        SpanKind::Client,
        attributes,
        Measure::Step,
        labels,
    )
}

pub(super) fn lock_wait(t: &Telemetry, database: &str, kind: Kind) -> SpanInner {
    let labels = database_labels(database, kind);
    start(
        t,
        "strata.lock_wait",
        SpanKind::Client,
        labels.clone(),
        Measure::LockWait,
        labels,
    )
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(super) fn partition(
    t: &Telemetry,
    database: &str,
    table: &str,
    action: &str,
    partition: &str,
) -> SpanInner {
    let mut labels = database_labels(database, Kind::Postgres);
    labels.extend([
        KeyValue::new("strata.table", table.to_string()),
        KeyValue::new("strata.partition.action", action.to_string()),
    ]);
    let mut attributes = labels.clone();
    attributes.push(KeyValue::new("strata.partition", partition.to_string()));
    start(
        t,
        "strata.partition",
        SpanKind::Client,
        attributes,
        Measure::Partition,
        labels,
    )
}

pub(super) fn pending(t: &Telemetry, database: &str, kind: Kind, pending: usize) {
    instruments(t)
        .pending
        .record(pending as u64, &database_labels(database, kind));
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(super) fn partitions(t: &Telemetry, g: &PartitionGauges<'_>) {
    let instruments = instruments(t);
    let mut labels = database_labels(g.database, Kind::Postgres);
    labels.push(KeyValue::new("strata.table", g.table.to_string()));
    instruments.ahead.record(u64::from(g.ahead), &labels);
    instruments.behind.record(u64::from(g.behind), &labels);
    instruments.expired.record(g.expired as u64, &labels);
    instruments.default_rows.record(g.default_rows, &labels);
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Apply => "apply",
        Action::Revert => "revert",
    }
}

impl SpanInner {
    pub(super) fn wrap<F: std::future::Future>(
        &self,
        work: F,
    ) -> opentelemetry::context::WithContext<F> {
        opentelemetry::context::FutureExt::with_context(work, self.cx.clone())
    }

    pub(super) fn attribute(&self, key: &'static str, value: String) {
        self.cx.span().set_attribute(KeyValue::new(key, value));
    }

    pub(super) fn end(self, result: Result<Option<Action>, String>) {
        let span = self.cx.span();
        let outcome = match &result {
            Ok(Some(Action::Apply)) => "applied",
            Ok(Some(Action::Revert)) => "reverted",
            Ok(None) => "ok",
            Err(_) => "failed",
        };
        if let Err(message) = result {
            span.set_status(Status::error(message));
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let mut labels = self.labels;
        match self.measure {
            Measure::Nothing => {}
            Measure::Step => {
                span.set_attribute(KeyValue::new("strata.migration.outcome", outcome));
                labels.push(KeyValue::new("strata.migration.outcome", outcome));
                self.instruments.steps.add(1, &labels);
                self.instruments.step_duration.record(seconds, &labels);
            }
            Measure::LockWait => self.instruments.lock_wait.record(seconds, &labels),
            Measure::Partition => {
                labels.push(KeyValue::new("strata.partition.outcome", outcome));
                self.instruments.partition_actions.add(1, &labels);
            }
        }
        span.end();
    }
}
