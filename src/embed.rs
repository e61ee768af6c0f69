//! Migrations compiled into the binary, so a deployed service needs no files
//! beside it.
//!
//! ```ignore
//! static MIGRATIONS: strata::Embedded = strata::embed!("migrations", "rollbacks");
//! let migrator = strata::Migrator::from_embedded(&MIGRATIONS, &config)?;
//! ```
//!
//! [`embed!`](crate::embed!) checks names, versions, pairing and encoding while the crate
//! compiles; the kind-specific checks run in [`Migrator::from_embedded`](crate::Migrator::from_embedded),
//! before any connection. A file's checksum is computed from the same bytes
//! either way, so a history written from files matches the embedded catalog.
//!
//! A malformed name is a compile error naming the file:
//!
//! ```compile_fail
//! // error: tests/fixtures/embed_bad_name/migrations/app/V1_missing_underscore.sql:
//! //        the version must be followed by two underscores: …
//! static BAD: strata::Embedded = strata::embed!("tests/fixtures/embed_bad_name/migrations");
//! ```
//!
//! Cargo rebuilds when an embedded file changes, but it cannot see a file
//! being *added* to a folder: add a `build.rs` with
//! `println!("cargo:rerun-if-changed=migrations");` (and `rollbacks`).

use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::script::{Format, SourceFile};

/// Every database folder the [`embed!`](crate::embed!) macro found.
#[derive(Debug, Clone, Copy)]
pub struct Embedded {
    folders: &'static [EmbeddedFolder],
}

/// One database's folder: its migrations and rollbacks.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFolder {
    name: &'static str,
    migrations: &'static [EmbeddedFile],
    rollbacks: &'static [EmbeddedFile],
}

/// One file: the path it was embedded from (relative to the crate root) and
/// its bytes.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFile {
    path: &'static str,
    bytes: &'static [u8],
}

impl Embedded {
    #[doc(hidden)]
    pub const fn __new(folders: &'static [EmbeddedFolder]) -> Self {
        Embedded { folders }
    }

    /// The database folder names, sorted.
    pub fn folders(&self) -> impl Iterator<Item = &'static str> {
        self.folders.iter().map(|f| f.name)
    }

    /// Builds and validates the catalog of one folder, read as `format`
    /// says (see [`crate::backend::format`]).
    pub fn catalog(&self, folder: &str, format: &dyn Format) -> Result<Catalog> {
        let Some(f) = self.folders.iter().find(|f| f.name == folder) else {
            let known: Vec<&str> = self.folders().collect();
            return Err(Error::Usage(format!(
                "no embedded migrations folder named {folder} (embedded: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let files = |list: &[EmbeddedFile]| {
            list.iter()
                .map(|e| SourceFile {
                    path: PathBuf::from(e.path),
                    bytes: e.bytes.to_vec(),
                })
                .collect()
        };
        Catalog::from_files(format, files(f.migrations), files(f.rollbacks))
    }
}

impl EmbeddedFolder {
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        migrations: &'static [EmbeddedFile],
        rollbacks: &'static [EmbeddedFile],
    ) -> Self {
        EmbeddedFolder {
            name,
            migrations,
            rollbacks,
        }
    }
}

impl EmbeddedFile {
    #[doc(hidden)]
    pub const fn __new(path: &'static str, bytes: &'static [u8]) -> Self {
        EmbeddedFile { path, bytes }
    }
}
