//! Writing new migration files: `migrate new`.

use std::path::{Path, PathBuf};

use crate::config::{Config, DatabaseConfig};
use crate::error::{Error, Result};
use crate::kind::Kind;
use crate::names::{ParsedName, Prefix, parse_name};
use crate::script::TODO_MARKER;

/// The version after the newest `V` file's, and its number of digits so
/// the new name is padded alike. Only names are read: the files may still
/// be templates nobody has written yet.
fn next_version(migrations: &Path, ext: &str) -> Result<(u64, usize)> {
    let entries = std::fs::read_dir(migrations).map_err(|source| Error::Io {
        path: migrations.to_path_buf(),
        source,
    })?;
    let mut newest: Option<(u64, usize)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let ParsedName::Valid {
            prefix: Prefix::Migration,
            version,
            ..
        } = parse_name(&name, ext)
        {
            let digits = name[1..].chars().take_while(char::is_ascii_digit).count();
            if newest.is_none_or(|(v, _)| version > v) {
                newest = Some((version, digits));
            }
        }
    }
    Ok(newest.map_or((1, 1), |(v, digits)| (v + 1, digits)))
}

/// Where `migrate new` writes: a database's folders, or a group's, which
/// every member shares.
#[derive(Debug, Clone, Copy)]
pub struct Folders<'c> {
    /// The database or group, as named in the config.
    pub name: &'c str,
    /// Its kind.
    pub kind: Kind,
    /// Its migrations folder.
    pub migrations: &'c Path,
    /// Its rollbacks folder.
    pub rollbacks: &'c Path,
}

impl<'c> From<&'c DatabaseConfig> for Folders<'c> {
    fn from(db: &'c DatabaseConfig) -> Self {
        Folders {
            name: &db.name,
            kind: db.kind,
            migrations: &db.migrations,
            rollbacks: &db.rollbacks,
        }
    }
}

/// `migrate new [DATABASE] DESCRIPTION…`: the first word names the
/// database or group when the config has several (or when it is the one's
/// name); with one, every word is the description. A group's members are
/// not named here: they share the group's folders.
pub fn choose_database<'c>(config: &'c Config, words: &[String]) -> Result<(Folders<'c>, String)> {
    let members: std::collections::BTreeSet<&str> = config
        .groups
        .values()
        .flat_map(|g| g.members.iter().map(String::as_str))
        .collect();
    let mut targets: Vec<Folders<'c>> = config
        .databases
        .values()
        .filter(|d| !members.contains(d.name.as_str()))
        .map(Folders::from)
        .chain(config.groups.values().map(|g| Folders {
            name: &g.name,
            kind: g.kind,
            migrations: &g.migrations,
            rollbacks: &g.rollbacks,
        }))
        .collect();
    targets.sort_by_key(|t| t.name);
    let first = words.first().map(String::as_str).unwrap_or_default();
    // A member stands for its group: they share the folders.
    let named = config
        .groups
        .values()
        .find(|g| g.members.iter().any(|m| m == first))
        .map_or(first, |g| g.name.as_str());
    if let Some(t) = targets.iter().find(|t| t.name == named) {
        if words.len() < 2 {
            return Err(Error::Usage(format!(
                "say what the migration does after the database name, e.g. `migrate new {first} add user email`"
            )));
        }
        return Ok((*t, words[1..].join(" ")));
    }
    match targets.as_slice() {
        [only] => Ok((*only, words.join(" "))),
        _ => Err(Error::Usage(format!(
            "{first:?} is not a database or group of this config; name one first ({}), e.g. `migrate new {} add user email`",
            targets
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", "),
            targets.first().map(|t| t.name).unwrap_or("app"),
        ))),
    }
}

/// A new file's text: a header, the no-transaction directive when asked
/// for, and the marker line to replace with the migration.
fn template(kind: Kind, what: &str, no_transaction: bool) -> String {
    match kind {
        Kind::Postgres => format!(
            "{}-- {what}\n-- {TODO_MARKER}: write the SQL here and delete this line \
             (strata refuses the file while it remains)\n",
            if no_transaction {
                "-- strata:no-transaction\n"
            } else {
                ""
            }
        ),
        Kind::Neo4j => format!(
            "// {what}\n// {TODO_MARKER}: write the Cypher here and delete this line \
             (strata refuses the file while it remains)\n"
        ),
        // JSON has no comments: the marker is an element to replace.
        Kind::Elasticsearch | Kind::Qdrant => format!(
            "[\n  {{\"{TODO_MARKER}\": \"{}: replace this object with the operations \
             (strata refuses the file while it remains)\"}}\n]\n",
            what.replace('\\', "\\\\").replace('"', "\\\"")
        ),
    }
}

pub use crate::names::slug;

/// Writes the next `V` file of a database and its `U` file, numbered one
/// above the newest existing version and zero-padded like it.
///
/// With `no_transaction` (PostgreSQL only), both files start with
/// `-- strata:no-transaction`: a rollback of a `CONCURRENTLY` statement
/// needs it as much as the migration.
pub fn new_migration<'c>(
    db: impl Into<Folders<'c>>,
    description: &str,
    no_transaction: bool,
) -> Result<(PathBuf, PathBuf)> {
    let db: Folders<'c> = db.into();
    let slug = slug(description);
    if slug.is_empty() {
        return Err(Error::Usage(
            "the description must contain a letter or digit".into(),
        ));
    }
    if no_transaction && db.kind != Kind::Postgres {
        return Err(Error::Usage(format!(
            "--no-transaction is for PostgreSQL files; database {} is {}",
            db.name, db.kind
        )));
    }
    for dir in [db.migrations, db.rollbacks] {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let (next, width) = next_version(db.migrations, db.kind.extension())?;
    let ext = db.kind.extension();
    let v = db.migrations.join(format!("V{next:0width$}__{slug}.{ext}"));
    let u = db.rollbacks.join(format!("U{next:0width$}__{slug}.{ext}"));
    let text = |what: &str| {
        template(
            db.kind,
            &format!("{what} {next}: {}", description.trim()),
            no_transaction,
        )
    };
    for (path, text) in [(&v, text("Migration")), (&u, text("Reverts migration"))] {
        crate::catalog::create_new(path, &text)?;
    }
    Ok((v, u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("Add user e-mail"), "add_user_e_mail");
        assert_eq!(slug("  --  "), "");
        assert_eq!(slug("Ünïcode OK"), "ünïcode_ok");
    }
}
