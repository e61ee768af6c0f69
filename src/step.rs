//! One thing a run will do to a database: apply a migration or revert it;
//! and, once done, what it did. The vocabulary shared by the planner, the
//! engine, the backends and the errors.

use serde::{Deserialize, Serialize};

use crate::kind::Kind;
use crate::script::TransactionMode;

/// Whether a step applies a migration or reverts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Run the `V` file and record it.
    Apply,
    /// Run the `U` file and remove the record.
    Revert,
}

/// One thing a run will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Apply or revert.
    pub action: Action,
    /// The migration's version.
    pub version: u64,
    /// The migration's description.
    pub description: String,
    /// The file that will run (file name only, so plans are machine-independent).
    pub file: String,
    /// That file's checksum.
    pub checksum: String,
    /// Whether it runs in one transaction with its record.
    pub mode: TransactionMode,
    /// What an operation file will do, one line per operation (empty for
    /// SQL and Cypher files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
    /// What the file will lock and rewrite on a live system (`plan` and
    /// `up --dry-run` fill this in; a run leaves it empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::finding::Finding>,
    /// Why the file will be recorded without running, when it will be (a
    /// Neo4j `assume` precondition that does not hold); filled in by
    /// connected plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
    /// The file's own lock timeout (`-- strata:lock-timeout 30s`), as
    /// written back: `30s`, `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_timeout: Option<String>,
}

impl Step {
    /// The history record of this step's migration, stamped now.
    pub fn record(
        &self,
        success: bool,
        execution_time_ms: i64,
        applied_by: &str,
    ) -> crate::history::Record {
        crate::history::Record {
            version: self.version,
            name: self.description.clone(),
            checksum: self.checksum.clone(),
            applied_at: chrono::Utc::now(),
            execution_time_ms,
            success,
            applied_by: applied_by.to_string(),
        }
    }
}

/// One step that completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Done {
    /// Applied or reverted.
    pub action: Action,
    /// The version.
    pub version: u64,
    /// Its description.
    pub description: String,
    /// The file that ran.
    pub file: String,
    /// How long it took.
    pub execution_time_ms: i64,
}

/// What a run did to one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The configured database name.
    pub database: String,
    /// Its kind.
    pub kind: Kind,
    /// The steps that completed, in order.
    pub done: Vec<Done>,
}

/// A duration as the command line prints it: `850 ms`, `3.1 s`.
pub fn duration_ms(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// `applied 7 add coupons (3.1 s)`: the command line's wording.
impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self.action {
            Action::Apply => "applied",
            Action::Revert => "reverted",
        };
        write!(
            f,
            "{verb} {} {} ({})",
            self.version,
            self.description,
            duration_ms(self.execution_time_ms)
        )
    }
}

/// One line per step (`shop: applied 7 add coupons (3.1 s)`), or
/// `shop (postgres): nothing to do`: what `migrate up` prints.
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.done.is_empty() {
            return writeln!(f, "{} ({}): nothing to do", self.database, self.kind);
        }
        for d in &self.done {
            writeln!(f, "{}: {d}", self.database)?;
        }
        Ok(())
    }
}
