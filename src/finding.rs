//! What a lint says about a pending file: the vocabulary `migrate lint`,
//! `plan` and the embedded `DeployPlan` share. A leaf: plain data.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How serious a finding is; ordered, so `fail_on` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Style and robustness idioms; a lock that blocks only briefly.
    Info,
    /// A lock, rewrite or scan that blocks a table, on a small table (or
    /// one whose size is unknown).
    Warning,
    /// The same on a table at or above `[lint] large_table_rows`.
    Error,
}

impl Level {
    /// Parses `info`, `warning`, `error`.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "info" => Some(Level::Info),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        })
    }
}

/// One finding about one statement of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The file, as plans show it.
    pub file: String,
    /// 1-based line of the statement or token.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The rule: squawk's rule name, or strata's `lock`.
    pub rule: String,
    /// How serious.
    pub level: Level,
    /// What is wrong.
    pub message: String,
    /// What to do instead, when the rule says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The existing relation the statement locks, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The lock it takes there (`ACCESS EXCLUSIVE`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    /// Whether every row is rewritten.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rewrite: bool,
    /// Whether every row is read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scan: bool,
    /// The table's estimated rows (`pg_class.reltuples`), when connected
    /// or read from a recorded status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    /// The table's total size in bytes, with indexes and TOAST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
}

impl Finding {
    /// `(messages: ~250000 rows, 22.7 MB)`, when the table's size is known.
    pub fn size_note(&self) -> Option<String> {
        let (table, rows) = (self.table.as_ref()?, self.rows?);
        Some(match self.bytes.filter(|b| *b > 0) {
            Some(bytes) => format!("({table}: ~{rows} rows, {})", human_bytes(bytes)),
            None => format!("({table}: ~{rows} rows)"),
        })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {} [{}] {}",
            self.file, self.line, self.column, self.level, self.rule, self.message
        )?;
        if let Some(size) = self.size_note() {
            write!(f, " {size}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "; help: {help}")?;
        }
        Ok(())
    }
}

/// `123 kB`, `4.5 MB`: sizes as a reviewer reads them.
pub fn human_bytes(bytes: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// What `[lint]` configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintSettings {
    /// From this many estimated rows a blocking lock, rewrite or scan is
    /// an error rather than a warning.
    pub large_table_rows: i64,
    /// The level from which `migrate lint` exits 1.
    pub fail_on: Level,
    /// Per rule: its level, or `None` to turn it off.
    pub rules: BTreeMap<String, Option<Level>>,
}

impl Default for LintSettings {
    fn default() -> Self {
        LintSettings {
            large_table_rows: 100_000,
            fail_on: Level::Warning,
            rules: BTreeMap::new(),
        }
    }
}

/// A table's size as the server estimates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSize {
    /// `pg_class.reltuples` (0 when never analysed and empty).
    pub rows: i64,
    /// `pg_total_relation_size`.
    pub bytes: i64,
}
