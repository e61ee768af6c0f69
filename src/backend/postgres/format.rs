//! What a `.sql` file may say, checked before anything runs. Pure.

use crate::kind::Kind;
use crate::script::{FileError, Format, NO_TRANSACTION_DIRECTIVE, Reading, TransactionMode};
use crate::split::split_sql;

/// How `.sql` files are read: a first-line `-- strata:no-transaction`
/// makes a file run statement by statement, so such a file must split
/// into statements now, not half-way through a run.
#[derive(Debug, Clone, Default)]
pub struct SqlFormat {}

impl SqlFormat {
    /// The format for a database whose history table is `history_table`.
    pub fn new(_history_table: &str) -> Self {
        SqlFormat {}
    }
}

impl Format for SqlFormat {
    fn kind(&self) -> Kind {
        Kind::Postgres
    }

    fn read(&self, content: &str) -> Result<Reading, FileError> {
        let first = content.lines().next().unwrap_or("").trim();
        let mode = if first == NO_TRANSACTION_DIRECTIVE {
            TransactionMode::NoTransaction
        } else if let Some(other) = first.strip_prefix("-- strata:") {
            return Err(FileError::from(format!(
                "line 1: unknown directive \"strata:{other}\" (the only one is {NO_TRANSACTION_DIRECTIVE})"
            )));
        } else {
            TransactionMode::Transaction
        };
        if mode == TransactionMode::NoTransaction {
            let statements =
                split_sql(content).map_err(|e| format!("line {}: {}", e.line, e.message))?;
            if statements.is_empty() {
                return Err("holds no statement".to_string().into());
            }
        }
        Ok(Reading {
            mode,
            operations: Vec::new(),
        })
    }
}
