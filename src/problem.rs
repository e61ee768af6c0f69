//! Why a plan was refused: drift, dirty records, out-of-order versions,
//! missing rollbacks. Each problem says what to do next. A leaf: the error
//! type carries these, the planner finds them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a plan was refused. Each says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Problem {
    /// An applied migration's file changed since it was applied.
    Changed {
        /// The version.
        version: u64,
        /// The file as it is now.
        file: String,
        /// The checksum in the history.
        recorded: String,
        /// The checksum of the file now.
        current: String,
    },
    /// An applied migration's description (file name) changed.
    Renamed {
        /// The version.
        version: u64,
        /// The name in the history.
        recorded: String,
        /// The name now.
        current: String,
    },
    /// An applied migration has no file any more.
    Missing {
        /// The version.
        version: u64,
        /// The name in the history.
        recorded: String,
        /// A pending file with the very same checksum, if one exists
        /// (the file was renamed to another version).
        same_content_as: Option<String>,
    },
    /// A migration started and did not finish.
    Dirty {
        /// The version.
        version: u64,
        /// The name in the history.
        recorded: String,
    },
    /// An index a migration builds without a transaction (`CREATE` or
    /// `REINDEX … CONCURRENTLY`) is INVALID: the build failed or was
    /// interrupted, and the index is there but unusable.
    InvalidIndex {
        /// The migration's version.
        version: u64,
        /// Its file.
        file: String,
        /// The invalid index, `schema.name`.
        index: String,
    },
    /// A pending version below the newest applied one.
    OutOfOrder {
        /// The pending version.
        version: u64,
        /// The newest applied version.
        newest_applied: u64,
    },
    /// `down` needs a rollback file that does not exist.
    MissingRollback {
        /// The version to revert.
        version: u64,
        /// The migration file whose `U` partner is missing.
        file: String,
        /// The rollback file to create (folder and name), when the files
        /// come from a folder.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        create: Option<String>,
    },
    /// A record in another tool's history that cannot be adopted
    /// (`baseline --from`).
    Foreign {
        /// The strata version it maps to (0 when none).
        version: u64,
        /// The tool.
        tool: String,
        /// The version as the tool recorded it.
        recorded: String,
        /// What is wrong and what to do.
        why: String,
    },
    /// A pending file's precondition the server does not meet.
    Unmet {
        /// The version.
        version: u64,
        /// The file and line of the precondition.
        file: String,
        /// The precondition as written.
        requirement: String,
        /// What was found instead: `the server is Neo4j community 5.26.30`,
        /// `the query answers false`.
        server: String,
    },
    /// A pending migration, where the caller asked for none.
    Pending {
        /// The version.
        version: u64,
        /// The file.
        file: String,
    },
}

impl Problem {
    /// The version the problem is about.
    pub fn version(&self) -> u64 {
        match self {
            Problem::Changed { version, .. }
            | Problem::InvalidIndex { version, .. }
            | Problem::Renamed { version, .. }
            | Problem::Missing { version, .. }
            | Problem::Dirty { version, .. }
            | Problem::OutOfOrder { version, .. }
            | Problem::MissingRollback { version, .. }
            | Problem::Pending { version, .. }
            | Problem::Foreign { version, .. }
            | Problem::Unmet { version, .. } => *version,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Changed {
                version,
                file,
                recorded,
                current,
            } => write!(
                f,
                "drift: version {version} ({file}) changed after it was applied (recorded checksum {}…, file now {}…); \
                 restore the file, or run `migrate repair` (or `Migrator::repair`) once you have checked the database matches it",
                &recorded[..recorded.len().min(12)],
                &current[..current.len().min(12)]
            ),
            Problem::Renamed {
                version,
                recorded,
                current,
            } => write!(
                f,
                "drift: version {version} was applied as {recorded:?} but its file is now named {current:?}; \
                 rename it back, or run `migrate repair` (or `Migrator::repair`) to record the new name"
            ),
            Problem::InvalidIndex {
                version,
                file,
                index,
            } => write!(
                f,
                "invalid index: {index}, built by version {version} ({file}), is INVALID (a \
                 CONCURRENTLY build failed or was interrupted): it exists, but queries never use \
                 it and a unique one enforces nothing, so `IF NOT EXISTS` would take it as done. \
                 Drop it (`DROP INDEX CONCURRENTLY {index};`), run `migrate repair` (or \
                 `Migrator::repair`) if the record is dirty, then run again"
            ),
            Problem::Missing {
                version,
                recorded,
                same_content_as,
            } => {
                write!(
                    f,
                    "drift: version {version} ({recorded:?}) is applied but its file is gone"
                )?;
                if let Some(other) = same_content_as {
                    write!(f, " (the same content is now in {other}: was it renamed?)")?;
                }
                write!(
                    f,
                    "; restore the file, or run `migrate repair` (or `Migrator::repair`) to forget the record"
                )
            }
            Problem::Dirty { version, recorded } => write!(
                f,
                "dirty: version {version} ({recorded:?}) started and did not finish; check what it left behind, \
                 then run `migrate repair` (removes the record so it runs again) or `migrate down` (runs its rollback), or their `Migrator` methods"
            ),
            Problem::OutOfOrder {
                version,
                newest_applied,
            } => write!(
                f,
                "out of order: version {version} is pending but {newest_applied} is already applied; \
                 renumber it above {newest_applied}, or allow it (`--allow-out-of-order`, or `OutOfOrder::Allow`)"
            ),
            Problem::MissingRollback {
                version,
                file,
                create: Some(create),
            } => write!(
                f,
                "no rollback: version {version} ({file}) has no rollback file, so it cannot be \
                 reverted; create {create}"
            ),
            Problem::MissingRollback {
                version,
                file,
                create: None,
            } => write!(
                f,
                "no rollback: version {version} ({file}) has no U{version}__….* file, so it cannot be reverted"
            ),
            Problem::Pending { version, file } => {
                write!(f, "pending: version {version} ({file}) is not applied yet")
            }
            Problem::Unmet {
                version,
                file,
                requirement,
                server,
            } => write!(
                f,
                "precondition: version {version} ({file}) requires `{requirement}`, but {server}"
            ),
            Problem::Foreign {
                tool,
                recorded,
                why,
                ..
            } => write!(f, "{tool}: version {recorded} {why}"),
        }
    }
}
