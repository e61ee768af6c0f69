//! Stable text renderings of plans, status and reports. Pure.
//!
//! The CLI prints these; tests snapshot them. No time stamps appear in plans,
//! and rows are always in version order, so the text only changes when what
//! a run would do changes.

pub mod markdown;

use std::fmt::Write;

use crate::drift::DriftState;

use crate::engine::{RepairChange, Report};
use crate::plan::Plan;
use crate::script::TransactionMode;
use crate::status::{State, Status};
use crate::step::Action;

fn action(a: Action) -> &'static str {
    match a {
        Action::Apply => "apply",
        Action::Revert => "revert",
    }
}

/// One block per database: a header line, then one line per step.
pub fn plans(plans: &[Plan]) -> String {
    let mut out = String::new();
    for p in plans {
        if p.steps.is_empty() {
            let _ = writeln!(out, "{} ({}): nothing to do", p.database, p.kind);
            continue;
        }
        let n = p.steps.len();
        let _ = writeln!(
            out,
            "{} ({}): {n} step{}",
            p.database,
            p.kind,
            if n == 1 { "" } else { "s" }
        );
        let width = p
            .steps
            .iter()
            .map(|s| s.version.to_string().len())
            .max()
            .unwrap_or(1);
        let desc = p
            .steps
            .iter()
            .map(|s| s.description.chars().count())
            .max()
            .unwrap_or(0);
        for s in &p.steps {
            // Only an exception is worth a tag: Neo4j files always run
            // statement by statement.
            let mode = match (p.kind, s.mode) {
                (crate::kind::Kind::Postgres, TransactionMode::NoTransaction) => {
                    "  [no transaction]"
                }
                _ => "",
            };
            let timeout = s
                .lock_timeout
                .as_ref()
                .map(|t| format!("  [lock timeout {t}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<6} {:>width$}  {:<desc$}  {}{mode}{timeout}",
                if s.skip.is_some() {
                    "skip"
                } else {
                    action(s.action)
                },
                s.version,
                s.description,
                s.file
            );
            if let Some(why) = &s.skip {
                let _ = writeln!(
                    out,
                    "      {:>width$}  ~ recorded without running: {why}",
                    ""
                );
            }
            for op in &s.operations {
                let _ = writeln!(out, "      {:>width$}  - {op}", "");
            }
            for f in &s.findings {
                let _ = writeln!(out, "      {:>width$}  ! {}", "", finding_line(f));
            }
        }
    }
    out
}

/// A finding under its step: where, how serious, what, the table's size.
fn finding_line(f: &crate::finding::Finding) -> String {
    let mut line = format!(
        "{}:{}: {} [{}] {}",
        f.line, f.column, f.level, f.rule, f.message
    );
    if let Some(size) = f.size_note() {
        let _ = write!(line, " {size}");
    }
    line
}

/// `migrate lint`: every finding as `database: file:line:col: level [rule]
/// message`, then a count per level.
pub fn findings(
    databases: &[(String, crate::finding::Level, Vec<crate::finding::Finding>)],
) -> String {
    use crate::finding::Level;
    let mut out = String::new();
    let mut counts = [0usize; 3];
    for (database, _, findings) in databases {
        for f in findings {
            let _ = writeln!(out, "{database}: {f}");
            counts[match f.level {
                Level::Error => 0,
                Level::Warning => 1,
                Level::Info => 2,
            }] += 1;
        }
    }
    let _ = writeln!(
        out,
        "{} error(s), {} warning(s), {} info",
        counts[0], counts[1], counts[2]
    );
    out
}

/// One table per database: version, state, applied at, description.
pub fn status(status: &Status) -> String {
    let mut out = String::new();
    for (i, db) in status.databases.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{} ({})", db.name, db.kind);
        if let Some(history) = &db.history {
            let _ = writeln!(out, "  history: {history}");
        }
        match &db.drift {
            // Nothing to say of a database strata has not recorded yet,
            // nor where drift is off.
            None | Some(DriftState::NotRecorded | DriftState::Off) => {}
            Some(d) => {
                let _ = writeln!(out, "  schema drift: {}", d.summary());
            }
        }
        if db.migrations.is_empty() {
            let _ = writeln!(out, "  no migrations");
            continue;
        }
        let width = db
            .migrations
            .iter()
            .map(|r| r.version.to_string().len())
            .max()
            .unwrap_or(1)
            .max("VERSION".len());
        // Who applied each version goes last, so its varying length
        // shifts nothing; shown when the history knows it.
        let by = db.migrations.iter().any(|r| r.applied_by.is_some());
        let desc_width = if by {
            db.migrations
                .iter()
                .map(|r| r.description.chars().count())
                .max()
                .unwrap_or(0)
                .max("DESCRIPTION".len())
        } else {
            0
        };
        let header = format!(
            "  {:<width$}  {:<8} {:<23}  {:<desc_width$}{}",
            "VERSION",
            "STATE",
            "APPLIED AT",
            "DESCRIPTION",
            if by { "  APPLIED BY" } else { "" }
        );
        let _ = writeln!(out, "{}", header.trim_end());
        let mut counts = [0usize; 5];
        for r in &db.migrations {
            counts[r.state as usize] += 1;
            let at = r
                .applied_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default();
            let line = format!(
                "  {:<width$}  {:<8} {:<23}  {:<desc_width$}{}",
                r.version,
                r.state.as_str(),
                at,
                r.description,
                r.applied_by
                    .as_deref()
                    .map(|who| format!("  {who}"))
                    .unwrap_or_default()
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let summary: Vec<String> = [
            State::Applied,
            State::Pending,
            State::Dirty,
            State::Drifted,
            State::Missing,
        ]
        .iter()
        .filter(|s| counts[**s as usize] > 0)
        .map(|s| format!("{} {}", counts[*s as usize], s.as_str()))
        .collect();
        let _ = writeln!(out, "  {}", summary.join(", "));
    }
    out
}

pub use crate::engine::duration_ms;

/// The databases where `up`/`down` had nothing to do (the steps of the
/// others were printed as they completed).
pub fn idle(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports.iter().filter(|r| r.done.is_empty()) {
        let _ = writeln!(out, "{} ({}): nothing to do", r.database, r.kind);
    }
    out
}

/// What `up`/`down` did, per database.
pub fn reports(reports: &[Report]) -> String {
    reports.iter().map(Report::to_string).collect()
}

/// What `repair` changed, per database.
/// `migrate drift`: per database, its drift and each change on a line.
pub fn drift(reports: &[crate::drift::DriftReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = match &r.state {
            DriftState::Drifted {
                recorded_at,
                recorded_by,
                changes,
            } => {
                let _ = writeln!(
                    out,
                    "{}: {} change(s) since the schema recorded {} by {recorded_by}:",
                    r.database,
                    changes.len(),
                    recorded_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
                changes.iter().try_for_each(|c| writeln!(out, "  {c}"))
            }
            DriftState::None { recorded_at } => writeln!(
                out,
                "{}: no drift (schema recorded {})",
                r.database,
                recorded_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            other => writeln!(out, "{}: {}", r.database, other.summary()),
        };
    }
    out
}

/// `repair --accept-drift`: what each database accepted.
pub fn accepted(reports: &[crate::drift::DriftReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = match &r.state {
            DriftState::Off => writeln!(out, "{}: {}", r.database, r.state.summary()),
            DriftState::Drifted { changes, .. } => {
                let _ = writeln!(
                    out,
                    "{}: the live schema is now the expected one; accepted {} change(s):",
                    r.database,
                    changes.len()
                );
                changes.iter().try_for_each(|c| writeln!(out, "  {c}"))
            }
            _ => writeln!(
                out,
                "{}: the live schema is recorded as the expected one (no drift to accept)",
                r.database
            ),
        };
    }
    out
}

/// `repair`: each change to the history, or that there was none.
pub fn repairs(changes: &[(String, Vec<RepairChange>)]) -> String {
    let mut out = String::new();
    for (db, list) in changes {
        if list.is_empty() {
            let _ = writeln!(out, "{db}: history matches the files, nothing to repair");
        }
        for c in list {
            let _ = match c {
                RepairChange::Checksum { version, from, to } => {
                    writeln!(
                        out,
                        "{db}: version {version}: recorded checksum {from} replaced by {to}"
                    )
                }
                RepairChange::Name { version, from, to } => {
                    writeln!(
                        out,
                        "{db}: version {version}: recorded name {from:?} replaced by {to:?}"
                    )
                }
                RepairChange::Forgotten {
                    version,
                    name,
                    reason,
                } => {
                    writeln!(
                        out,
                        "{db}: version {version} ({name:?}): record removed ({reason})"
                    )
                }
            };
        }
    }
    out
}

/// `migrate plan`: each group's rollout stages, after the steps; nothing
/// when no group has a rollout.
pub fn rollouts(groups: &[crate::config::rollout::GroupStages]) -> String {
    let mut out = String::new();
    for g in groups {
        out.push_str(&format!(
            "rollout of group {} ({} stages; the next starts when at most {} member{} of a \
             stage failed):\n",
            g.group,
            g.stages.len(),
            g.max_failures,
            if g.max_failures == 1 { "" } else { "s" }
        ));
        for (i, members) in g.stages.iter().enumerate() {
            out.push_str(&format!(
                "  stage {}: {} member{}: {}\n",
                i + 1,
                members.len(),
                if members.len() == 1 { "" } else { "s" },
                members.join(", ")
            ));
        }
    }
    out
}

/// `migrate plan`: the migration steps, then partition maintenance.
pub fn deploy_plan(plan: &crate::plan::DeployPlan) -> String {
    let mut out = plans(&plan.databases);
    if !plan.partitions.is_empty() {
        out.push('\n');
        out.push_str(&partition_plans(&plan.partitions));
    }
    out
}

/// Partition plans: one block per table, then its notes.
pub fn partition_plans(plans: &[crate::partition::TablePlan]) -> String {
    use crate::partition::plan::{Action as P, Reason, Then};
    let mut out = String::new();
    let day = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    let then = |t: &Then| match t {
        Then::Drop => "then drop".to_string(),
        Then::Keep { schema: None } => "keep the table".to_string(),
        Then::Keep { schema: Some(s) } => format!("move the table to schema {s}"),
    };
    for p in plans {
        let n = p.actions.len();
        if n == 0 {
            let _ = writeln!(out, "{} {}: nothing to do", p.database, p.table);
        } else {
            let _ = writeln!(
                out,
                "{} {}: {n} action{}",
                p.database,
                p.table,
                if n == 1 { "" } else { "s" }
            );
        }
        for a in &p.actions {
            let _ = match a {
                P::Create {
                    name,
                    from,
                    to,
                    reason,
                } => writeln!(
                    out,
                    "  create    {name}  {} .. {}  ({})",
                    day(from),
                    day(to),
                    match reason {
                        Reason::Current => "current",
                        Reason::Premake => "premake",
                        Reason::Gap => "gap",
                    }
                ),
                P::Detach {
                    name,
                    from,
                    to,
                    then: t,
                } => {
                    writeln!(
                        out,
                        "  detach    {name}  {} .. {}  ({})",
                        day(from),
                        day(to),
                        then(t)
                    )
                }
                P::Finalize { name, then: t } => {
                    writeln!(out, "  finalize  {name}  (interrupted detach; {})", then(t))
                }
            };
        }
        if let Some(why) = &p.refused {
            let _ = writeln!(out, "  refused: {why}");
        }
        for note in &p.notes {
            let _ = writeln!(out, "  note: {note}");
        }
    }
    out
}

/// Rows waiting in DEFAULT partitions, per table and interval.
#[cfg(feature = "postgres")]
pub fn default_rows(tables: &[crate::partition::health::Health]) -> String {
    let mut out = String::new();
    for t in tables {
        let who = format!("{} {}", t.database, t.table);
        match (&t.default, t.default_rows.is_empty()) {
            _ if !t.exists => {
                let _ = writeln!(out, "{who}: the table does not exist yet");
            }
            (None, _) => {
                let _ = writeln!(out, "{who}: no DEFAULT partition");
            }
            (Some(d), true) => {
                let _ = writeln!(out, "{who}: DEFAULT partition {d} is empty");
            }
            (Some(d), false) => {
                for (at, rows) in &t.default_rows {
                    let _ = writeln!(
                        out,
                        "{who}: DEFAULT partition {d} holds {rows} row(s) for {at}"
                    );
                }
            }
        }
    }
    out
}

/// What a maintenance run did, per table.
#[cfg(feature = "postgres")]
pub fn partition_reports(reports: &[crate::partition::scheduler::TableReport]) -> String {
    use crate::partition::plan::Action as P;
    let mut out = String::new();
    for r in reports {
        if let Some(note) = &r.note {
            let _ = writeln!(out, "{} {}: {note}", r.database, r.table);
        } else if r.done.is_empty() && r.error.is_none() {
            let _ = writeln!(out, "{} {}: nothing to do", r.database, r.table);
        }
        for d in &r.done {
            let (verb, name) = match &d.action {
                P::Create { name, .. } => ("created", name),
                P::Detach { name, .. } => ("detached", name),
                P::Finalize { name, .. } => ("finalized", name),
            };
            let _ = writeln!(
                out,
                "{} {}: {verb} {name} ({} ms)",
                r.database, r.table, d.ms
            );
        }
        if let Some(e) = &r.error {
            let _ = writeln!(out, "{} {}: FAILED: {e}", r.database, r.table);
        }
    }
    out
}
