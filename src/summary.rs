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

    /// The databases that failed, with their errors.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.databases.iter().filter_map(|d| match &d.outcome {
            Outcome::Failed(e) => Some((d.database.as_str(), e)),
            _ => None,
        })
    }

    /// Every report when every database succeeded; otherwise the one
    /// failure, or [`Error::Databases`] naming each.
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
            1 if not_started.is_empty() => Err(*failed.pop().expect("one").1),
            _ => Err(Error::Databases {
                total,
                failed,
                not_started,
            }),
        }
    }
}

/// One line per database: `app (postgres): applied 3`, `app (postgres): nothing to do`,
/// `app (postgres): failed: …` (the first line of the error), `app: not started`.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.databases {
            writeln!(f, "{} ({}): {}", d.database, d.kind, OutcomeLine(d))?;
        }
        Ok(())
    }
}

/// What `error` says, without the leading `database NAME: ` when NAME is
/// `database`: the line, the JSON entry or the message it goes into
/// already names it.
pub fn reason(database: &str, error: &Error) -> String {
    let text = error.to_string();
    match text.strip_prefix(&format!("database {database}: ")) {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

struct OutcomeLine<'a>(&'a DatabaseOutcome);

impl fmt::Display for OutcomeLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.outcome {
            Outcome::Done(r) if r.done.is_empty() => f.write_str("nothing to do"),
            Outcome::Done(r) => write!(f, "{} {}", verb(&r.done), r.done.len()),
            Outcome::Failed(e) => {
                let text = reason(&self.0.database, e);
                write!(f, "failed: {}", text.lines().next().unwrap_or_default())
            }
            Outcome::NotStarted => f.write_str("not started (an earlier database failed)"),
        }
    }
}

fn verb(done: &[Done]) -> &'static str {
    match done.first().map(|d| d.action) {
        Some(Action::Revert) => "reverted",
        _ => "applied",
    }
}

/// `{"databases": [{"database", "kind", "outcome", "steps", "error",
/// "exit_code"}], "exit_code": n}`; `outcome` is one of `applied`,
/// `reverted`, `nothing to do`, `failed`, `not started`.
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
                Outcome::Failed(e) => (
                    "failed",
                    &[],
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
