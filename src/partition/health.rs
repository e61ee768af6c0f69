//! What monitoring wants to know of each managed table: whether the
//! partitions ahead are ready, whether expired ones linger, whether rows
//! wait in the DEFAULT partition. Read from the catalog; judged and written
//! out (one line per problem, JSON, a Prometheus text file) by pure
//! functions.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::plan::{Action, Bound, plan, uncovered};
use super::policy::Policy;
use super::postgres::{inspect, parent_exists};
use crate::backend::postgres::PostgresBackend;
use crate::error::Result;

/// The state of one managed table at a clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The configured database.
    pub database: String,
    /// `schema.table`.
    pub table: String,
    /// False while the migration creating the parent is pending.
    pub exists: bool,
    /// Whether a partition holds the current interval.
    pub current: bool,
    /// Partitions ready after the current one, within the premake window.
    pub future: u32,
    /// How many the policy keeps ready.
    pub premake: u32,
    /// Partitions past retention that still exist.
    pub expired: Vec<String>,
    /// The DEFAULT partition, if there is one.
    pub default: Option<String>,
    /// Rows in the DEFAULT partition, by interval (`2026-11`, `2026-w48`, …).
    pub default_rows: Vec<(String, i64)>,
    /// Ranges no partition covers: between adjacent partitions, and in the
    /// window from the current interval to the last premade one. A row
    /// there goes to the DEFAULT partition, or fails without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Why this table could not be read (a key strata does not manage, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Read on a standby: what it shows is what the primary sent it, and
    /// maintenance cannot act there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub standby: bool,
}

impl Health {
    /// Nothing read yet of `policy`'s table in `database`.
    fn empty(database: &str, policy: &Policy, exists: bool) -> Health {
        Health {
            database: database.to_string(),
            table: policy.qualified(),
            exists,
            current: false,
            future: 0,
            premake: policy.premake,
            expired: Vec::new(),
            default: None,
            default_rows: Vec::new(),
            gaps: Vec::new(),
            error: None,
            standby: false,
        }
    }

    /// A table that could not be read, with why.
    pub fn failed(database: &str, policy: &Policy, error: String) -> Health {
        Health {
            error: Some(error),
            ..Health::empty(database, policy, true)
        }
    }

    /// What to say beside the problems: that this was read on a standby,
    /// where maintenance cannot act.
    pub fn note(&self) -> Option<String> {
        self.standby.then(|| {
            format!(
                "{} {}: read on a standby: partitions cannot be created or dropped here \
                 (maintenance acts on the primary)",
                self.database, self.table
            )
        })
    }

    /// What is wrong, one line each; empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        let who = format!("{} {}", self.database, self.table);
        if let Some(error) = &self.error {
            return vec![format!("{who}: {error}")];
        }
        if !self.exists {
            return vec![format!("{who}: the table does not exist")];
        }
        let mut out = Vec::new();
        if !self.current {
            out.push(format!("{who}: no partition holds the current interval"));
        }
        if self.future < self.premake {
            out.push(format!(
                "{who}: {} partition(s) ready ahead, the policy keeps {}",
                self.future, self.premake
            ));
        }
        for (from, to) in &self.gaps {
            out.push(format!(
                "{who}: no partition covers {} to {}",
                from.format("%Y-%m-%d %H:%M:%S UTC"),
                to.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        for name in &self.expired {
            out.push(format!("{who}: {name} is past retention and still exists"));
        }
        for (at, rows) in &self.default_rows {
            out.push(format!(
                "{who}: the DEFAULT partition {} holds {rows} row(s) for {at}",
                self.default.as_deref().unwrap_or("?")
            ));
        }
        out
    }
}

/// The label PostgreSQL gives an interval's start, for grouping rows.
fn interval_sql(policy: &Policy, column: &str) -> String {
    use super::calendar::Interval;
    let (unit, format) = match policy.interval {
        Interval::Day => ("day", "YYYY-MM-DD"),
        Interval::Week => ("week", "IYYY-\"w\"IW"),
        Interval::Month => ("month", "YYYY-MM"),
        Interval::Quarter => ("quarter", "YYYY-\"q\"Q"),
        Interval::Year => ("year", "YYYY"),
    };
    format!("to_char(date_trunc('{unit}', \"{column}\"), '{format}')")
}

/// Reads one table's state at `now` (the session reads in UTC).
pub async fn read(
    backend: &mut PostgresBackend,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Health> {
    let exists = parent_exists(backend.connection(), policy).await?;
    let mut health = Health::empty(backend.database(), policy, exists);
    health.standby = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(backend.connection())
        .await
        .map_err(|e| backend.db_error("reading whether the server is a standby", e))?;
    if !health.exists {
        return Ok(health);
    }
    let insp = inspect(backend.connection(), policy).await?;
    let iv = policy.interval;
    let current = iv.floor(now);
    let window = iv.step(current, i64::from(policy.premake) + 1);
    let ranges: Vec<_> = insp
        .children
        .iter()
        .filter(|c| !c.detach_pending)
        .filter_map(|c| match c.bound {
            Bound::Range { from, to } => Some((from, to)),
            _ => None,
        })
        .collect();
    // Partitions past retention are on their way out: what lies between
    // them and the kept ones is no hole.
    let cutoff = policy.retention.map(|r| r.unit.back(current, r.amount));
    let kept: Vec<_> = ranges
        .iter()
        .filter(|(_, to)| cutoff.is_none_or(|c| *to > c))
        .copied()
        .collect();
    health.current = uncovered(&ranges, current, iv.step(current, 1)).is_empty();
    // An interval ahead is ready when partitions cover all of it, whoever
    // made them and however they are cut.
    health.future = (1..=i64::from(policy.premake))
        .filter(|k| uncovered(&ranges, iv.step(current, *k), iv.step(current, k + 1)).is_empty())
        .count() as u32;
    health.gaps = gaps(&kept, current, window);
    let planned = plan(policy, &insp.children, &insp.taken, &insp.staged, now);
    health.expired = planned
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Detach { name, .. } | Action::Finalize { name, .. } => Some(name.clone()),
            Action::Create { .. } => None,
        })
        .collect();
    if let Some(d) = &insp.default {
        let sql = format!(
            "SELECT {}, count(*) FROM \"{}\".\"{d}\" GROUP BY 1 ORDER BY 1",
            interval_sql(policy, &insp.column),
            policy.schema
        );
        health.default_rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(backend.connection())
            .await
            .map_err(|e| backend.db_error("counting DEFAULT partition rows", e))?;
    }
    health.default = insp.default;
    Ok(health)
}

/// What no partition covers between the first partition (or the current
/// interval, if earlier) and the end of the window (or the last
/// partition, if later). Pure.
pub fn gaps(
    ranges: &[(DateTime<Utc>, DateTime<Utc>)],
    current: DateTime<Utc>,
    window: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let first = ranges
        .iter()
        .map(|r| r.0)
        .min()
        .map_or(current, |f| f.min(current));
    let last = ranges
        .iter()
        .map(|r| r.1)
        .max()
        .map_or(window, |l| l.max(window));
    uncovered(ranges, first, last)
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition of a daemon's state. Pure.
pub fn metrics(tables: &[Health], last_success: Option<DateTime<Utc>>, failed_runs: u64) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, rows: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    gauge(
        "strata_partitions_last_success_timestamp_seconds",
        "When the last run that maintained every table finished (Unix time).",
        "gauge",
        vec![(
            String::new(),
            last_success.map_or("0".to_string(), |t| t.timestamp().to_string()),
        )],
    );
    gauge(
        "strata_partitions_failed_runs_total",
        "Runs in which some table failed, since the daemon started.",
        "counter",
        vec![(String::new(), failed_runs.to_string())],
    );
    let per_table = |value: &dyn Fn(&Health) -> String| {
        tables
            .iter()
            .map(|h| {
                (
                    format!(
                        "{{database=\"{}\",table=\"{}\"}}",
                        label(&h.database),
                        label(&h.table)
                    ),
                    value(h),
                )
            })
            .collect::<Vec<_>>()
    };
    gauge(
        "strata_partitions_future",
        "Partitions ready after the current interval, within the premake window.",
        "gauge",
        per_table(&|h| h.future.to_string()),
    );
    gauge(
        "strata_partitions_premake",
        "Partitions the policy keeps ready after the current interval.",
        "gauge",
        per_table(&|h| h.premake.to_string()),
    );
    gauge(
        "strata_partitions_expired",
        "Partitions past retention that still exist.",
        "gauge",
        per_table(&|h| h.expired.len().to_string()),
    );
    gauge(
        "strata_partitions_default_rows",
        "Rows waiting in the DEFAULT partition.",
        "gauge",
        per_table(&|h| h.default_rows.iter().map(|r| r.1).sum::<i64>().to_string()),
    );
    out
}

/// Records each readable table's state in the OpenTelemetry gauges.
pub fn export(telemetry: &crate::telemetry::Telemetry, tables: &[Health]) {
    for h in tables.iter().filter(|h| h.exists && h.error.is_none()) {
        telemetry.partitions(&crate::telemetry::PartitionGauges {
            database: &h.database,
            table: &h.table,
            ahead: h.future,
            behind: h.premake.saturating_sub(h.future) + u32::from(!h.current),
            expired: h.expired.len(),
            default_rows: h.default_rows.iter().map(|r| r.1).sum(),
        });
    }
}

/// Writes `text` to `path` so that a reader never sees half of it: to a
/// temporary file beside it, then renamed over it.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(future: u32, expired: &[&str], rows: &[(&str, i64)]) -> Health {
        Health {
            database: "app".into(),
            table: "public.events".into(),
            exists: true,
            current: true,
            future,
            premake: 3,
            expired: expired.iter().map(|s| s.to_string()).collect(),
            default: Some("events_default".into()),
            default_rows: rows.iter().map(|(m, n)| (m.to_string(), *n)).collect(),
            gaps: Vec::new(),
            error: None,
            standby: false,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn gaps_between_partitions_and_in_the_window_are_found() {
        let ranges = [
            (at("2026-11-01T00:00:00Z"), at("2026-11-30T11:00:00Z")),
            (at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z")),
        ];
        let found = gaps(
            &ranges,
            at("2026-12-01T00:00:00Z"),
            at("2027-02-01T00:00:00Z"),
        );
        assert_eq!(
            found,
            vec![
                (at("2026-11-30T11:00:00Z"), at("2026-12-01T00:00:00Z")),
                (at("2027-01-01T00:00:00Z"), at("2027-02-01T00:00:00Z")),
            ]
        );
        let mut h = table(3, &[], &[]);
        h.gaps = found;
        assert!(
            h.problems()[0].contains("no partition covers 2026-11-30 11:00:00 UTC to 2026-12-01")
        );
    }

    #[test]
    fn problems_are_one_line_each() {
        assert!(table(3, &[], &[]).problems().is_empty());
        let p = table(1, &["events_2025_01"], &[("2026-11", 5)]).problems();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("1 partition(s) ready ahead, the policy keeps 3"));
        assert!(p[1].contains("events_2025_01 is past retention"));
        assert!(p[2].contains("events_default holds 5 row(s) for 2026-11"));
    }

    #[test]
    fn metrics_are_prometheus_text() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = metrics(
            &[table(2, &[], &[("2026-11", 5), ("2026-12", 2)])],
            Some(at),
            1,
        );
        assert!(
            text.contains("strata_partitions_last_success_timestamp_seconds 1796032800\n"),
            "{text}"
        );
        assert!(
            text.contains("strata_partitions_future{database=\"app\",table=\"public.events\"} 2\n")
        );
        assert!(text.contains(
            "strata_partitions_default_rows{database=\"app\",table=\"public.events\"} 7\n"
        ));
        assert!(text.contains("# TYPE strata_partitions_failed_runs_total counter\n"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strata.prom");
        write_atomically(&path, &text).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
