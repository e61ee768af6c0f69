//! Running maintenance: once (cron), in a loop (daemon), or as a task inside
//! a service. Every run takes each database's migration lock, so replicas
//! and a concurrent `migrate up` never race, and re-plans under it, so a
//! second run (or a second replica) finds nothing to do.
//!
//! Every policy is checked against the catalog before any partition is
//! touched; after that, a failure is isolated to its table and the run goes
//! on with the others.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::plan::{Action, Observed, TablePlan, plan};
use super::policy::Policy;
use super::postgres::{ExecOptions, Inspection, execute, inspect, parent_exists};
use crate::backend::Backend;
use crate::backend::postgres::PostgresBackend;
use crate::config::{Config, DatabaseConfig};
use crate::engine::Options;
use crate::error::Result;

/// One action that was carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionDone {
    /// What was done.
    pub action: Action,
    /// How long it took.
    pub ms: i64,
}

/// What a run did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableReport {
    /// The configured database.
    pub database: String,
    /// `schema.table`.
    pub table: String,
    /// Actions completed, in order.
    pub done: Vec<ActionDone>,
    /// Set when the table's maintenance stopped on an error.
    pub error: Option<String>,
}

/// Stray rows in a DEFAULT partition, by month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultReport {
    /// The configured database.
    pub database: String,
    /// `schema.table`.
    pub table: String,
    /// The DEFAULT partition, if the table has one.
    pub default: Option<String>,
    /// `(YYYY-MM, rows)` for every month holding rows.
    pub months: Vec<(String, i64)>,
}

/// Partition maintenance for the policies of a configuration.
#[derive(Debug, Clone)]
pub struct Maintenance {
    databases: Vec<(DatabaseConfig, Vec<Policy>)>,
    options: Options,
    exec: ExecOptions,
}

impl Maintenance {
    /// The policies of the selected databases (all when `only` is empty).
    pub fn new(config: &Config, only: &[String]) -> Result<Maintenance> {
        // Every policy is checked, not only the selected databases': a
        // config with a bad policy is refused whatever is selected.
        let all = super::policy::policies(config)?;
        let databases = config
            .select(only)?
            .into_iter()
            .filter_map(|db| {
                let policies: Vec<Policy> = all
                    .iter()
                    .filter(|p| p.database == db.name)
                    .cloned()
                    .collect();
                (!policies.is_empty()).then(|| (db.clone(), policies))
            })
            .collect();
        Ok(Maintenance {
            databases,
            options: Options::default(),
            exec: ExecOptions::default(),
        })
    }

    /// Replaces the connection and lock options.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Replaces the execution options (lock timeout per attach, retries,
    /// DEFAULT-partition rows).
    pub fn with_exec_options(mut self, exec: ExecOptions) -> Self {
        self.exec = exec;
        self
    }

    /// True when no policy applies to the selected databases.
    pub fn is_empty(&self) -> bool {
        self.databases.is_empty()
    }

    async fn connect(&self, db: &DatabaseConfig) -> Result<PostgresBackend> {
        PostgresBackend::connect(db, self.options.connect_timeout).await
    }

    async fn inspect_all(
        backend: &mut PostgresBackend,
        policies: &[Policy],
    ) -> Result<Vec<Inspection>> {
        let mut out = Vec::with_capacity(policies.len());
        for p in policies {
            out.push(inspect(backend.connection(), p).await?);
        }
        Ok(out)
    }

    /// What the catalog shows of every managed parent, for plans made
    /// later or elsewhere ([`plan_observed`](super::plan::plan_observed)). A
    /// parent that does not exist yet is reported as such, not as an error.
    pub async fn observe(&self) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        for (db, policies) in &self.databases {
            let mut backend = self.connect(db).await?;
            let observed = Self::observe_db(&mut backend, db, policies).await;
            let _ = backend.close().await;
            out.extend(observed?);
        }
        Ok(out)
    }

    async fn observe_db(
        backend: &mut PostgresBackend,
        db: &DatabaseConfig,
        policies: &[Policy],
    ) -> Result<Vec<Observed>> {
        let mut out = Vec::with_capacity(policies.len());
        for p in policies {
            let mut o = Observed {
                database: db.name.clone(),
                table: p.qualified(),
                exists: parent_exists(backend.connection(), p).await?,
                children: Vec::new(),
                others: Default::default(),
            };
            if o.exists {
                let insp = inspect(backend.connection(), p).await?;
                o.others = insp
                    .taken
                    .into_iter()
                    .filter(|t| t != &p.table && !insp.children.iter().any(|c| &c.name == t))
                    .collect();
                o.children = insp.children;
            }
            out.push(o);
        }
        Ok(out)
    }

    /// The policies this maintenance covers, by database.
    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.databases.iter().flat_map(|(_, p)| p.iter())
    }

    /// What a run at `now` would do. Read-only, no lock.
    pub async fn plan(&self, now: DateTime<Utc>) -> Result<Vec<TablePlan>> {
        let mut plans = Vec::new();
        for (db, policies) in &self.databases {
            let mut backend = self.connect(db).await?;
            let inspected = Self::inspect_all(&mut backend, policies).await;
            let _ = backend.close().await;
            for (p, i) in policies.iter().zip(inspected?) {
                plans.push(plan(p, &i.children, &i.taken, now));
            }
        }
        Ok(plans)
    }

    /// Carries out the plan for `now`. Every policy is validated first (an
    /// error there changes nothing); then each database is locked and each
    /// table maintained on its own: a failure is recorded in its report and
    /// the others go on.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<Vec<TableReport>> {
        let mut backends = Vec::new();
        for (db, policies) in &self.databases {
            let mut backend = self.connect(db).await?;
            Self::inspect_all(&mut backend, policies).await?;
            backends.push(backend);
        }
        let mut reports = Vec::new();
        for ((_, policies), mut backend) in self.databases.iter().zip(backends) {
            backend.lock(self.options.lock_timeout).await?;
            for p in policies {
                reports.push(self.run_table(&mut backend, p, now).await);
            }
            let released = backend.unlock().await;
            let _ = backend.close().await;
            released?;
        }
        Ok(reports)
    }

    async fn run_table(
        &self,
        backend: &mut PostgresBackend,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> TableReport {
        let mut report = TableReport {
            database: backend.database().to_string(),
            table: policy.qualified(),
            done: Vec::new(),
            error: None,
        };
        // Re-read under the lock: another runner may have done the work.
        let insp = match inspect(backend.connection(), policy).await {
            Ok(i) => i,
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        };
        let planned = plan(policy, &insp.children, &insp.taken, now);
        for action in planned.actions {
            match execute(backend.connection(), policy, &insp, &action, &self.exec).await {
                Ok(ms) => {
                    tracing::info!(table = %report.table, ?action, ms, "partition maintenance");
                    report.done.push(ActionDone { action, ms });
                }
                Err(e) => {
                    tracing::warn!(table = %report.table, error = %e, "partition maintenance failed");
                    report.error = Some(e.to_string());
                    break;
                }
            }
        }
        report
    }

    /// Rows sitting in DEFAULT partitions, per table and month. Read-only.
    pub async fn check_default(&self) -> Result<Vec<DefaultReport>> {
        let mut out = Vec::new();
        for (db, policies) in &self.databases {
            let mut backend = self.connect(db).await?;
            for p in policies {
                let insp = inspect(backend.connection(), p).await?;
                let months = match &insp.default {
                    None => Vec::new(),
                    Some(d) => {
                        let sql = format!(
                            "SELECT to_char(date_trunc('month', \"{col}\"), 'YYYY-MM'), count(*) \
                             FROM \"{}\".\"{d}\" GROUP BY 1 ORDER BY 1",
                            p.schema,
                            col = insp.column
                        );
                        sqlx::query_as(sqlx::AssertSqlSafe(sql))
                            .fetch_all(backend.connection())
                            .await
                            .map_err(|e| backend.db_error("counting DEFAULT partition rows", e))?
                    }
                };
                out.push(DefaultReport {
                    database: db.name.clone(),
                    table: p.qualified(),
                    default: insp.default.clone(),
                    months,
                });
            }
            let _ = backend.close().await;
        }
        Ok(out)
    }

    /// Runs now, then every `every`, until `shutdown` completes. A failed run
    /// is logged and retried at the next tick; it never ends the loop.
    pub async fn daemon(&self, every: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.run(Utc::now()).await {
                Ok(reports) => {
                    for r in reports.iter().filter(|r| r.error.is_some()) {
                        tracing::warn!(table = %r.table, error = r.error.as_deref().unwrap_or(""), "maintenance failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "maintenance run failed"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Spawns [`Maintenance::daemon`] on the current tokio runtime, for a
    /// service that keeps its own partitions. Dropping or calling
    /// [`Scheduler::shutdown`] on the handle stops it after the current run.
    pub fn spawn(self, every: Duration) -> Scheduler {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            self.daemon(every, async {
                let _ = stopped.await;
            })
            .await;
        });
        Scheduler {
            stop: Some(stop),
            task,
        }
    }
}

/// A running maintenance task inside a service.
#[derive(Debug)]
pub struct Scheduler {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Asks the loop to stop and waits until it has (a run in progress
    /// finishes first, so no partition is left half-made).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}
