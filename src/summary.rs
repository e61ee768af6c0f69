//! What a run over many databases came to, one outcome per database: the
//! final summary the command line prints (and `up --format json`), and
//! what the library returns instead of stopping at the first failure.

use std::fmt;

use serde::Serialize;
use serde::ser::SerializeStruct;

use crate::engine::{Done, Report};
use crate::error::{Error, Result};
use crate::kind::Kind;
use crate::step::Action;

/// How one database's run ended.
#[derive(Debug)]
pub enum Outcome {
    /// It ran: the steps it completed (none: nothing to do).
    Done(Report),
    /// It failed; steps completed before the failure stay (the error says
    /// which).
    Failed(Error),
    /// It never started: another database failed first and the run stops
    /// starting new ones (unless told to keep going).
    NotStarted,
}

/// One database and how its run ended.
#[derive(Debug)]
pub struct DatabaseOutcome {
    /// The configured database name.
    pub database: String,
    /// Its kind.
    pub kind: Kind,
    /// How it ended.
    pub outcome: Outcome,
}

/// Every selected database, in name order, with its outcome.
#[derive(Debug, Default)]
pub struct Summary {
    /// One entry per database.
    pub databases: Vec<DatabaseOutcome>,
}

impl Summary {
    /// The exit code of the whole run: the worst of every database's
    /// (0 when all succeeded).
    pub fn exit_code(&self) -> i32 {
        self.databases
            .iter()
            .map(|d| match &d.outcome {
                Outcome::Failed(e) => e.exit_code(),
                Outcome::Done(_) | Outcome::NotStarted => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// Whether the run was stopped (a signal or a stop request) rather
    /// than ended by a failure.
    fn stopped(&self) -> bool {
        self.databases
            .iter()
            .any(|d| matches!(d.outcome, Outcome::Failed(Error::Stopped { .. })))
    }

    /// The databases that failed, with their errors.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.databases.iter().filter_map(|d| match &d.outcome {
            Outcome::Failed(e) => Some((d.database.as_str(), e)),
            _ => None,
        })
    }

    /// The summary of a run refused before anything ran, from its error
    /// and every database of the run (name and kind): the refused ones
    /// failed, the others not started. An error that is not about these
    /// databases comes back as it is.
    pub fn refused(
        databases: &[(String, Kind)],
        error: Error,
    ) -> std::result::Result<Summary, Error> {
        let outcomes = match error {
            Error::Databases {
                failed,
                not_started,
                ..
            } => {
                let mut failed: std::collections::HashMap<String, Box<Error>> =
                    failed.into_iter().collect();
                databases
                    .iter()
                    .map(|(name, kind)| DatabaseOutcome {
                        database: name.clone(),
                        kind: *kind,
                        outcome: match failed.remove(name) {
                            Some(e) => Outcome::Failed(*e),
                            None if not_started.contains(name) => Outcome::NotStarted,
                            None => Outcome::Done(Report {
                                database: name.clone(),
                                kind: *kind,
                                done: Vec::new(),
                            }),
                        },
                    })
                    .collect()
            }
            e if databases.len() == 1 => vec![DatabaseOutcome {
                database: databases[0].0.clone(),
                kind: databases[0].1,
                outcome: Outcome::Failed(e),
            }],
            e => return Err(e),
        };
        Ok(Summary {
            databases: outcomes,
        })
    }

    /// Every report when every database succeeded; otherwise the error:
    /// of a run over one database, its own; over several,
    /// [`Error::Databases`], which names each failure and keeps the
    /// reports of the databases that completed.
    pub fn into_result(self) -> Result<Vec<Report>> {
        let total = self.databases.len();
        let mut reports = Vec::new();
        let mut failed = Vec::new();
        let mut not_started = Vec::new();
        for d in self.databases {
            match d.outcome {
                Outcome::Done(r) => reports.push(r),
                Outcome::Failed(e) => failed.push((d.database, Box::new(e))),
                Outcome::NotStarted => not_started.push(d.database),
            }
        }
        match failed.len() {
            0 => Ok(reports),
            _ if total == 1 => Err(*failed.pop().expect("one").1),
            _ => Err(Error::Databases {
                total,
                failed,
                not_started,
                done: reports,
            }),
        }
    }
}

/// One line per database: `app (postgres): applied 3`, `app (postgres): nothing to do`,
/// `app (postgres): failed: …` (the first line of the error), `app (postgres): stopped
/// (SIGINT) (applied 1 before it)`, `app (postgres): not started (…)`.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stopped = self.stopped();
        for d in &self.databases {
            writeln!(
                f,
                "{} ({}): {}",
                d.database,
                d.kind,
                OutcomeLine(d, stopped)
            )?;
        }
        Ok(())
    }
}

pub use crate::error::reason;

/// One database's outcome, and whether the run was stopped.
struct OutcomeLine<'a>(&'a DatabaseOutcome, bool);

impl fmt::Display for OutcomeLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.outcome {
            Outcome::Done(r) if r.done.is_empty() => f.write_str("nothing to do"),
            Outcome::Done(r) => write!(f, "{} {}", verb(&r.done), r.done.len()),
            Outcome::Failed(e) => {
                let text = reason(&self.0.database, e);
                let first = text.lines().next().unwrap_or_default();
                match e {
                    Error::Stopped { done, .. } if !done.steps.is_empty() => write!(
                        f,
                        "{first} ({} {} before it)",
                        verb_of(done.action),
                        done.steps.len()
                    ),
                    Error::Stopped { .. } => f.write_str(first),
                    _ => write!(f, "failed: {first}"),
                }
            }
            Outcome::NotStarted if self.1 => f.write_str("not started (the run was stopped)"),
            Outcome::NotStarted => f.write_str("not started (an earlier database failed)"),
        }
    }
}

fn verb(done: &[Done]) -> &'static str {
    verb_of(done.first().map(|d| d.action))
}

fn verb_of(action: Option<Action>) -> &'static str {
    match action {
        Some(Action::Revert) => "reverted",
        _ => "applied",
    }
}

/// `{"databases": [{"database", "kind", "outcome", "steps", "error",
/// "exit_code"}], "exit_code": n}`; `outcome` is one of `applied`,
/// `reverted`, `nothing to do`, `failed`, `stopped` (a signal or a stop
/// request), `not started`.
impl Serialize for Summary {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Summary", 2)?;
        st.serialize_field("databases", &self.databases)?;
        st.serialize_field("exit_code", &self.exit_code())?;
        st.end()
    }
}

impl Serialize for DatabaseOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("DatabaseOutcome", 6)?;
        st.serialize_field("database", &self.database)?;
        st.serialize_field("kind", &self.kind)?;
        let (outcome, steps, error, code): (&str, &[Done], Option<String>, i32) =
            match &self.outcome {
                Outcome::Done(r) if r.done.is_empty() => ("nothing to do", &[], None, 0),
                Outcome::Done(r) => (verb(&r.done), &r.done, None, 0),
                // What it completed before the failure stays done.
                Outcome::Failed(e) => (
                    match e {
                        Error::Stopped { .. } => "stopped",
                        _ => "failed",
                    },
                    e.completed().map_or(&[][..], |c| &c.steps),
                    Some(reason(&self.database, e)),
                    e.exit_code(),
                ),
                Outcome::NotStarted => ("not started", &[], None, 0),
            };
        st.serialize_field("outcome", outcome)?;
        st.serialize_field("steps", steps)?;
        st.serialize_field("error", &error)?;
        st.serialize_field("exit_code", &code)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Completed, Signal};

    fn entry(database: &str, outcome: Outcome) -> DatabaseOutcome {
        DatabaseOutcome {
            database: database.into(),
            kind: Kind::Postgres,
            outcome,
        }
    }

    fn stopped(database: &str, versions: Vec<u64>) -> Outcome {
        Outcome::Failed(Error::Stopped {
            database: database.into(),
            signal: Signal::Terminate,
            cancelled: None,
            left: None,
            done: Completed {
                action: Some(Action::Apply),
                steps: versions
                    .into_iter()
                    .map(|version| Done {
                        action: Action::Apply,
                        version,
                        description: format!("v{version}"),
                        file: format!("V{version}__v{version}.sql"),
                        execution_time_ms: 1,
                    })
                    .collect(),
            },
        })
    }

    #[test]
    fn a_stopped_run_is_told_from_a_failed_one() {
        let summary = Summary {
            databases: vec![
                entry("t/a", stopped("t/a", vec![1, 2])),
                entry("t/b", stopped("t/b", vec![])),
                entry("t/c", Outcome::NotStarted),
            ],
        };
        let text = summary.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("t/a (postgres): stopped (SIGTERM)"),
            "{text}"
        );
        assert!(lines[0].ends_with("(applied 2 before it)"), "{text}");
        assert!(
            !lines[1].contains("before it") && !lines[1].contains("failed"),
            "{text}"
        );
        assert_eq!(
            lines[2],
            "t/c (postgres): not started (the run was stopped)"
        );
        assert_eq!(summary.exit_code(), 143);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["databases"][0]["outcome"], "stopped");
        // What it applied before it stopped stays listed as its steps.
        assert_eq!(json["databases"][0]["steps"][1]["version"], 2);
        assert_eq!(json["databases"][1]["steps"], serde_json::json!([]));
        assert_eq!(json["databases"][2]["outcome"], "not started");

        let failed = Summary {
            databases: vec![
                entry(
                    "t/a",
                    Outcome::Failed(Error::Database {
                        database: "t/a".into(),
                        message: "boom".into(),
                    }),
                ),
                entry("t/b", Outcome::NotStarted),
            ],
        };
        let text = failed.to_string();
        assert!(text.contains("t/a (postgres): failed: boom\n"), "{text}");
        assert!(text.contains("t/b (postgres): not started (an earlier database failed)"));
        assert_eq!(
            serde_json::to_value(&failed).unwrap()["databases"][0]["outcome"],
            "failed"
        );
    }
}
