//! Writing new migration files: `migrate new`.

use std::path::PathBuf;

use crate::config::{Config, DatabaseConfig};
use crate::error::{Error, Result};
use crate::kind::Kind;
use crate::names::{ParsedName, Prefix, parse_name};
use crate::script::TODO_MARKER;

/// The version after the newest `V` file's, and its number of digits so
/// the new name is padded alike. Only names are read: the files may still
/// be templates nobody has written yet.
fn next_version(migrations: &std::path::Path, ext: &str) -> Result<(u64, usize)> {
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

/// `migrate new [DATABASE] DESCRIPTION…`: the first word names the
/// database when the config has several (or when it is the one database's
/// name); with one database, every word is the description.
pub fn choose_database<'c>(
    config: &'c Config,
    words: &[String],
) -> Result<(&'c DatabaseConfig, String)> {
    let names: Vec<&String> = config.databases.keys().collect();
    let first = words.first().map(String::as_str).unwrap_or_default();
    if let Some(db) = config.databases.get(first) {
        if words.len() < 2 {
            return Err(Error::Usage(format!(
                "say what the migration does after the database name, e.g. `migrate new {first} add user email`"
            )));
        }
        return Ok((db, words[1..].join(" ")));
    }
    match names.as_slice() {
        [only] => Ok((&config.databases[*only], words.join(" "))),
        _ => Err(Error::Usage(format!(
            "{first:?} is not a database of this config; name one first ({}), e.g. `migrate new {} add user email`",
            names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            names.first().map(|n| n.as_str()).unwrap_or("app"),
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
pub fn new_migration(
    db: &DatabaseConfig,
    description: &str,
    no_transaction: bool,
) -> Result<(PathBuf, PathBuf)> {
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
    for dir in [&db.migrations, &db.rollbacks] {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let (next, width) = next_version(&db.migrations, db.kind.extension())?;
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
