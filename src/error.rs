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

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: a migration, a connection or the lock failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: usage error or bad input (config, file names, file contents).
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: drift, a dirty record or validation refused the run.
pub const EXIT_REFUSED: i32 = 3;

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
    #[error("{}{location}: {message}", file.display())]
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

    /// The migration lock could not be taken in time.
    #[error(
        "database {database}: timed out after {}s waiting for the migration lock ({lock}); held by {holder}. \
         Wait for that run to finish, or raise --lock-timeout",
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

    /// The lock this run held was removed or taken by another runner
    /// (`migrate unlock` of a lease that looked dead, or `--force`): the
    /// run stopped before its next step.
    #[error(
        "database {database}: the migration lock was taken from this run (now {holder}); \
         stopped before version {next}{}\n  another runner may be at work: check `migrate status` before running again",
        render_applied(applied)
    )]
    LockLost {
        /// The configured database name.
        database: String,
        /// Who holds the lock now, or that nobody does.
        holder: String,
        /// The version this run was about to run.
        next: u64,
        /// Versions applied (or reverted) by this run before it stopped.
        applied: Vec<u64>,
    },

    /// A migration or rollback failed on the server. Steps before it stay applied.
    #[error("{0}")]
    Step(Box<StepFailure>),

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
    /// The process exit code documented for this kind of error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } | Error::File { .. } | Error::Io { .. } | Error::Usage(_) => {
                EXIT_BAD_INPUT
            }
            Error::Refused { .. } => EXIT_REFUSED,
            Error::Connect { .. }
            | Error::LockTimeout { .. }
            | Error::LockLost { .. }
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
#[error("database {database}: {}{location} failed{}: {message}{}",
    file.display(),
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default(),
    render_applied(applied))]
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
    /// Versions applied (or reverted) by this run before the failure.
    pub applied: Vec<u64>,
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

fn render_applied(applied: &[u64]) -> String {
    if applied.is_empty() {
        "\n  nothing was applied by this run before it".to_string()
    } else {
        let list: Vec<String> = applied.iter().map(|v| v.to_string()).collect();
        format!(
            "\n  this run completed version(s) {} before it; they stay applied",
            list.join(", ")
        )
    }
}
