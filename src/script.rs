//! A migration or rollback file as strata runs it, and the contract by
//! which each kind says how its files are read.
//!
//! The checksum is SHA-256 (lowercase hex) of the content after exactly two
//! normalisations: a leading UTF-8 byte-order mark is removed and every CRLF
//! becomes LF. Nothing else (no trimming, no comment stripping), so a checksum
//! recorded today stays valid across strata versions and operating systems.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::kind::Kind;

/// The marker `migrate new` writes into a file until someone writes the
/// migration: a file that still holds it is refused, so a template is never
/// applied unedited.
pub const TODO_MARKER: &str = "strata:todo";

/// The first-line directive that runs a PostgreSQL file outside a transaction.
pub const NO_TRANSACTION_DIRECTIVE: &str = "-- strata:no-transaction";

/// The directive that gives a file its own lock timeout:
/// `-- strata:lock-timeout 30s` (or `off`), among the comment lines before
/// the first statement.
pub const LOCK_TIMEOUT_DIRECTIVE: &str = "-- strata:lock-timeout";

/// A file handed to the catalog: where it came from and its raw bytes.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Shown in errors and plans; for files on disk, the path as found.
    pub path: PathBuf,
    /// The file's content, unnormalised.
    pub bytes: Vec<u8>,
}

/// Whether a script runs inside one transaction with its history record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransactionMode {
    /// One transaction: the script and its record commit together or not at all.
    Transaction,
    /// Statement by statement, recorded dirty first and completed after.
    NoTransaction,
}

/// One normalised, checksummed file ready to run.
#[derive(Debug, Clone)]
pub struct Script {
    /// Where it came from.
    pub file: PathBuf,
    /// SHA-256 hex of `content`.
    pub checksum: String,
    /// The normalised text (no BOM, LF line ends).
    pub content: String,
    /// How the backend must run it.
    pub mode: TransactionMode,
    /// For operation files (Elasticsearch, Qdrant): one line per
    /// operation, shown in plans. Empty for SQL and Cypher, whose text
    /// speaks for itself.
    pub operations: Vec<String>,
    /// The file's own `-- strata:lock-timeout`, when it has one: `Some(None)`
    /// is `off`.
    pub lock_timeout: Option<Option<std::time::Duration>>,
    /// For a file that names data files (`index_documents`' `file`): the
    /// checksum of its own text alone, which strata recorded before it
    /// checksummed data files. A record holding it is not drift; the next
    /// `up` upgrades it to [`checksum`](Self::checksum), saying so.
    pub legacy_checksum: Option<String>,
}

impl Script {
    /// Whether a recorded checksum is this file's: its checksum, or the
    /// one recorded before data files were part of it.
    pub fn matches(&self, recorded: &str) -> bool {
        self.checksum == recorded || self.legacy_checksum.as_deref() == Some(recorded)
    }

    /// Whether a recorded checksum is the old one, to be upgraded.
    pub fn is_legacy(&self, recorded: &str) -> bool {
        self.checksum != recorded && self.legacy_checksum.as_deref() == Some(recorded)
    }
}

/// What a kind's [`Format`] found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// How the file runs.
    pub mode: TransactionMode,
    /// One line per operation, for operation files.
    pub operations: Vec<String>,
}

/// Why a file's content is refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// 1-based column (in characters), when the problem has one.
    pub column: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl From<String> for FileError {
    fn from(message: String) -> Self {
        FileError {
            line: None,
            column: None,
            message,
        }
    }
}

impl FileError {
    /// `:line:column`, `:line` or nothing, to follow a file name.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!(":{l}:{c}"),
            (Some(l), None) => format!(":{l}"),
            _ => String::new(),
        }
    }
}

/// How one kind's files are read: the only thing the catalog needs to know
/// about a kind. Each backend module provides one; the catalog never names
/// a backend.
pub trait Format: Sync {
    /// The kind whose files these are.
    fn kind(&self) -> Kind;

    /// Checks a file's normalised, non-empty content before anything runs:
    /// everything that can be known without a server. The message names
    /// the line or JSON path.
    fn read(&self, content: &str) -> Result<Reading, FileError>;

    /// Whether the file does nothing on purpose: no statement (only
    /// comments), or an empty operation list. Allowed for rollbacks only.
    fn is_noop(&self, content: &str) -> bool {
        let _ = content;
        false
    }

    /// The data files a file names, as written (relative to its folder),
    /// in order: they are part of its checksum.
    fn data_files(&self, content: &str) -> Vec<String> {
        let _ = content;
        Vec::new()
    }

    /// A YAML file's content as the JSON its operations are read from
    /// (operation kinds); the error names the YAML line and column, or the
    /// path of the operation field. Kinds without a YAML form refuse it.
    fn yaml_to_json(&self, content: &str) -> Result<String, FileError> {
        let _ = content;
        Err(FileError::from(format!(
            "{} migrations are not YAML files",
            self.kind()
        )))
    }

    /// The file's own lock timeout directive, if the kind has one and the
    /// file gives it (checked by [`read`](Self::read) first): `Some(None)`
    /// is `off`.
    fn lock_timeout(&self, content: &str) -> Option<Option<std::time::Duration>> {
        let _ = content;
        None
    }
}

/// SHA-256 of normalised content, lowercase hex (64 characters). Pure.
pub fn checksum(normalized: &str) -> String {
    // Every start-up hashes every file: no formatting machinery per byte.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(normalized.as_bytes()) {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}
