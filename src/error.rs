//! The one error type of the library.
//!
//! Every variant maps to one documented exit code ([`Error::exit_code`]) so the
//! binary never has to guess. Messages say what went wrong *and* what to do
//! next, and never contain a password: URLs are redacted where they are built
//! (see [`crate::config::ConnectionUrl`]) and server messages are scrubbed
//! of the connection's secrets before they are wrapped here.

use std::path::PathBuf;
use std::time::Duration;

use crate::problem::Problem;
use crate::step::{Action, Done};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: a migration, a connection or the lock failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: usage error or bad input (config, file names, file contents).
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: stopped by SIGINT (Ctrl-C), as shells report it.
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit code: stopped by SIGTERM, as shells report it.
pub const EXIT_TERMINATED: i32 = 143;
/// Exit code: drift, a dirty record or validation refused the run.
pub const EXIT_REFUSED: i32 = 3;

/// A database that was not there yet when the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behind {
    /// The configured database name.
    pub database: String,
    /// The versions not applied yet (dirty ones too), with their
    /// descriptions.
    pub pending: Vec<(u64, String)>,
    /// Who holds the migration lock, when a run holds it.
    pub lock_holder: Option<String>,
    /// Why the history could not be read, when it could not.
    pub error: Option<String>,
}

impl std::fmt::Display for Behind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "database {}: ", self.database)?;
        if let Some(e) = &self.error {
            return write!(f, "its history could not be read: {e}");
        }
        let versions: Vec<String> = self
            .pending
            .iter()
            .map(|(v, d)| format!("{v} ({d})"))
            .collect();
        write!(f, "still pending: {}", versions.join(", "))?;
        match &self.lock_holder {
            Some(h) => write!(f, "; a run holds the migration lock: {h}"),
            None => write!(f, "; no run holds the migration lock"),
        }
    }
}

/// Everything that can go wrong, grouped by what the user must do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting in the configuration (file, flag or environment) is wrong.
    #[error("config: {setting}: {message}")]
    Config {
        /// Where the setting lives, e.g. `migrate.toml: databases.app.url`.
        setting: String,
        /// What is wrong with it.
        message: String,
    },

    /// A migration or rollback file is unusable (name, content, pairing).
    #[error("{}{location}: {message}", crate::names::shown(file))]
    File {
        /// The offending file.
        file: PathBuf,
        /// `:line:column` or `:line` when the problem has a place, else empty.
        location: String,
        /// What is wrong with it.
        message: String,
    },

    /// Reading a file or folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path that could not be read or written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The command line asked for something that cannot be done.
    #[error("{0}")]
    Usage(String),

    /// The plan was refused before anything ran: drift, dirty records,
    /// out-of-order versions, missing rollbacks.
    #[error(
        "database {database}: refused, nothing was changed:\n{}",
        render_problems(problems)
    )]
    Refused {
        /// The database whose history or files are inconsistent.
        database: String,
        /// Every problem found, in version order.
        problems: Vec<Problem>,
    },

    /// Connecting to a database failed (unreachable host, wrong password …).
    #[error("database {database}: cannot connect to {url}: {message}")]
    Connect {
        /// The configured database name.
        database: String,
        /// The URL with its password redacted.
        url: String,
        /// The driver's message, scrubbed of secrets.
        message: String,
    },

    /// The server is a standby (in recovery): migrations and partition
    /// maintenance write, so they run on the primary only.
    #[error(
        "database {database}: the server is a standby (in recovery), which cannot be written: \
         migrations and partition maintenance run on the primary. Name it in the URL, or list \
         every host (postgres://h1:5432,h2:5432/db) and strata finds the writable one"
    )]
    Standby {
        /// The configured database name.
        database: String,
    },

    /// The live schema changed since strata last ran there, and the
    /// database says `on_drift = "refuse"`: nothing ran.
    #[error(
        "database {database}: the live schema changed since strata last ran here (on_drift = \"refuse\"), \
         so no migration runs on it:\n{}\nUndo the change, or accept it as the schema the migrations expect \
         with `migrate repair --accept-drift --database {database}`",
        changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n")
    )]
    Drifted {
        /// The configured database name.
        database: String,
        /// What changed, one line each (`+ index …`, `~ column …`).
        changes: Vec<String>,
    },

    /// The migration lock could not be taken in time.
    #[error(
        "database {database}: timed out after {}s waiting for the migration lock ({lock}); held by {holder}. \
         Wait for that run to finish, or wait longer (`--lock-timeout`, or `Migrator::with_lock_timeout` in a service)",
        waited.as_secs()
    )]
    LockTimeout {
        /// The configured database name.
        database: String,
        /// What the lock is, e.g. `advisory lock 123 on schema_migrations`.
        lock: String,
        /// Who holds it, as far as the server can tell.
        holder: String,
        /// How long we waited.
        waited: Duration,
    },

    /// `migrate wait` (or [`Migrator::wait_until`](crate::migrator::Migrator::wait_until))
    /// ran out of time: what each database still lacked.
    #[error(
        "not ready after {}s:\n{}",
        waited.as_secs(),
        behind.iter().map(|b| format!("  {b}")).collect::<Vec<_>>().join("\n")
    )]
    NotReady {
        /// How long it waited.
        waited: Duration,
        /// The databases that were not there yet.
        behind: Vec<Behind>,
    },

    /// The lock this run held was removed or taken by another runner
    /// (`migrate unlock` of a lease that looked dead, or `--force`): the
    /// run stopped before its next step.
    #[error(
        "database {database}: the migration lock was taken from this run (now {holder}){}; \
         stopped before version {next}{done}\n  another runner may be at work: check the status (`migrate status`, or `Migrator::status`) before running again",
        after.map(|v| format!(" while version {v} ran")).unwrap_or_default()
    )]
    LockLost {
        /// The configured database name.
        database: String,
        /// Who holds the lock now, or that nobody does.
        holder: String,
        /// The version whose step ran when the lock went, if one did.
        after: Option<u64>,
        /// The version this run was about to run.
        next: u64,
        /// What this run completed before it stopped.
        done: Completed,
    },

    /// A step removed strata's own history (and perhaps its lock), which
    /// only a file that deletes everything does (`MATCH (n) DETACH DELETE
    /// n`, deleting every index). The run re-recorded what it knew and
    /// stopped.
    #[error(
        "database {database}: version {version} ({}) removed strata's history{}; strata \
         re-recorded the {} version(s) this run knew of ({}) and stopped{done}\n  the file \
         must not delete strata's own records: change it (and check `migrate status`, or `Migrator::status`) before running again",
        crate::names::shown(std::path::Path::new(file)), if *lock_gone { " and its lock" } else { "" },
        rerecorded.len(), render_versions(rerecorded)
    )]
    HistoryLost {
        /// The configured database name.
        database: String,
        /// The version whose file removed it.
        version: u64,
        /// That file.
        file: String,
        /// Whether the lock went too.
        lock_gone: bool,
        /// The versions written back.
        rerecorded: Vec<u64>,
        /// What this run completed, the guilty version included.
        done: Completed,
    },

    /// A signal (or the library's [`StopHandle`](crate::engine::StopHandle))
    /// asked the run to stop: the step in progress finished or was
    /// cancelled, the lock was released.
    #[error("database {database}: stopped ({signal}){}{done}",
        match (cancelled, left) {
            (Some(v), None) => format!("; version {v} was still running after the grace period: it was cancelled on the server and rolled back"),
            (Some(v), Some(left)) => format!("; version {v} was still running after the grace period: it was cancelled on the server, and {left}"),
            _ => String::new(),
        })]
    Stopped {
        /// The configured database name.
        database: String,
        /// What asked: `SIGINT`, `SIGTERM`, or `a stop request`.
        signal: Signal,
        /// The version whose step was cancelled, if one was.
        cancelled: Option<u64>,
        /// What the cancelled step left when it could not be rolled back
        /// whole (a no-transaction file part-run, an INVALID index): its
        /// record is dirty.
        left: Option<String>,
        /// What this run completed before it stopped.
        done: Completed,
    },

    /// A failure after this run had completed steps, with what they were.
    #[error("{error}{done}")]
    Partial {
        /// What went wrong.
        error: Box<Error>,
        /// What this run completed before it.
        done: Completed,
    },

    /// A migration or rollback failed on the server. Steps before it stay applied.
    #[error("{0}")]
    Step(Box<StepFailure>),

    /// Several databases of one run failed (or were not started after a
    /// failure); the others completed. Each error is kept.
    #[error(
        "{} of {total} databases failed ({}){}\n{}",
        failed.len(),
        some_names(failed.iter().map(|(d, _)| d.as_str())),
        if not_started.is_empty() {
            String::new()
        } else {
            format!("; {} not started", not_started.len())
        },
        failure_lines(failed.iter().map(|(d, e)| (d.as_str(), &**e))).join("\n")
    )]
    Databases {
        /// How many databases the run had.
        total: usize,
        /// Each failed database with its error, in name order.
        failed: Vec<(String, Box<Error>)>,
        /// Databases never started because of an earlier failure.
        not_started: Vec<String>,
        /// What each database that did not fail completed, in name order
        /// (none when the run was refused before anything ran).
        done: Vec<crate::step::Report>,
    },

    /// Any other server or driver failure outside a migration file.
    #[error("database {database}: {message}")]
    Database {
        /// The configured database name.
        database: String,
        /// What failed.
        message: String,
    },
}

impl Error {
    /// What the run completed on its database before this error, when
    /// the error carries it.
    pub fn completed(&self) -> Option<&Completed> {
        match self {
            Error::Step(failure) => Some(&failure.done),
            Error::LockLost { done, .. }
            | Error::HistoryLost { done, .. }
            | Error::Stopped { done, .. }
            | Error::Partial { done, .. } => Some(done),
            _ => None,
        }
    }

    /// The process exit code documented for this kind of error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } | Error::File { .. } | Error::Io { .. } | Error::Usage(_) => {
                EXIT_BAD_INPUT
            }
            Error::Refused { .. } | Error::Drifted { .. } => EXIT_REFUSED,
            Error::Stopped { signal, .. } => signal.exit_code(),
            Error::Partial { error, .. } => error.exit_code(),
            Error::Databases { failed, .. } => failed
                .iter()
                .map(|(_, e)| e.exit_code())
                .max()
                .unwrap_or(EXIT_FAILED),
            Error::Connect { .. }
            | Error::Standby { .. }
            | Error::LockTimeout { .. }
            | Error::NotReady { .. }
            | Error::LockLost { .. }
            | Error::HistoryLost { .. }
            | Error::Step(_)
            | Error::Database { .. } => EXIT_FAILED,
        }
    }

    pub(crate) fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::File {
            file: file.into(),
            location: String::new(),
            message: message.into(),
        }
    }

    pub(crate) fn config(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// Where and how a migration or rollback file failed on the server.
#[derive(Debug, thiserror::Error)]
#[error("database {database}: {}{location} failed{}: {message}{}{done}",
    crate::names::shown(file),
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default(),
    progress.as_ref().map(|p| p.to_string()).unwrap_or_default())]
pub struct StepFailure {
    /// The configured database name.
    pub database: String,
    /// The file whose statement failed.
    pub file: PathBuf,
    /// `:line:column` when the server reported a position, `:line` and the
    /// statement when it did not, else empty.
    pub location: String,
    /// The server's error code, when it gave one (`SQLSTATE 42601`,
    /// `Neo.ClientError.Statement.SyntaxError`).
    pub code: Option<String>,
    /// The server's message, scrubbed of secrets.
    pub message: String,
    /// For a file run statement by statement: how far it got.
    pub progress: Option<Progress>,
    /// What this run completed before the failure.
    pub done: Completed,
}

/// How far a file run statement by statement (or operation by operation)
/// got before one failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Units that completed before the failing one.
    pub ran: usize,
    /// Units in the file.
    pub total: usize,
    /// `statement` or `operation`.
    pub unit: &'static str,
    /// Whether the record is left dirty (else it was removed: nothing of
    /// the file took effect).
    pub dirty: bool,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (unit, total) = (self.unit, self.total);
        match (self.ran, self.dirty) {
            (0, false) => write!(
                f,
                "\n  its first {unit} failed, so nothing of the file took effect: its record was \
                 removed and no repair is needed"
            ),
            (0, true) => write!(
                f,
                "\n  its first {unit} failed part-way and may have changed something; the record \
                 is dirty: check what it left, then see `migrate repair` (or `Migrator::repair`)"
            ),
            (1, _) => write!(
                f,
                "\n  {unit} 1 of {total} ran; the record is dirty: check what it left, then see \
                 `migrate repair` (or `Migrator::repair`)"
            ),
            (n, _) => write!(
                f,
                "\n  {unit}s 1–{n} of {total} ran; the record is dirty: check what they left, \
                 then see `migrate repair` (or `Migrator::repair`)"
            ),
        }
    }
}

/// What a run completed before it failed or stopped: steps applied,
/// or (for `down`) reverted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completed {
    /// Apply or revert; `None` before any step ran.
    pub action: Option<Action>,
    /// The steps, in the order they completed.
    pub steps: Vec<Done>,
}

impl Completed {
    /// The versions of the steps, in the order they completed.
    pub fn versions(&self) -> Vec<u64> {
        self.steps.iter().map(|d| d.version).collect()
    }
}

impl std::fmt::Display for Completed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.action, self.steps.is_empty()) {
            (Some(Action::Revert), true) => {
                write!(f, "\n  nothing was reverted by this run before it")
            }
            (_, true) => write!(f, "\n  nothing was applied by this run before it"),
            (Some(Action::Revert), false) => write!(
                f,
                "\n  this run reverted version(s) {} before it; they stay reverted",
                render_versions(&self.versions())
            ),
            (_, false) => write!(
                f,
                "\n  this run completed version(s) {} before it; they stay applied",
                render_versions(&self.versions())
            ),
        }
    }
}

/// What asked a run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// A library caller's stop request.
    Request,
}

impl Signal {
    /// The exit code a shell reports for this signal.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => EXIT_INTERRUPTED,
            Signal::Terminate | Signal::Request => EXIT_TERMINATED,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Request => "a stop request",
        })
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn render_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_versions(versions: &[u64]) -> String {
    let list: Vec<String> = versions.iter().map(u64::to_string).collect();
    list.join(", ")
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

/// The failures grouped by what they say (without each database's name):
/// a group of hundreds that fails alike is one reason, with every database
/// that gave it, in the order they first appear.
pub fn by_reason<'a>(
    failed: impl IntoIterator<Item = (&'a str, &'a Error)>,
) -> Vec<(Vec<&'a str>, String)> {
    let mut out: Vec<(Vec<&'a str>, String)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (database, error) in failed {
        let why = reason(database, error);
        match index.get(&why) {
            Some(&i) => out[i].0.push(database),
            None => {
                index.insert(why.clone(), out.len());
                out.push((vec![database], why));
            }
        }
    }
    out
}

/// One line per distinct failure: `database a: why`, or for many alike
/// `databases a, b, c, d, e and 495 more: why`.
pub fn failure_lines<'a>(failed: impl IntoIterator<Item = (&'a str, &'a Error)>) -> Vec<String> {
    by_reason(failed)
        .into_iter()
        .map(|(names, why)| match names.as_slice() {
            [one] => format!("database {one}: {why}"),
            _ => format!("databases {}: {why}", some_names(names)),
        })
        .collect()
}

/// At most five names, then how many more: `a, b, c, d, e and 495 more`.
pub fn some_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 5;
    let mut shown = Vec::new();
    let mut more = 0usize;
    for name in names {
        if shown.len() < SHOWN {
            shown.push(name);
        } else {
            more += 1;
        }
    }
    match more {
        0 => shown.join(", "),
        n => format!("{} and {n} more", shown.join(", ")),
    }
}
