//! Writing new migration files: `migrate new`.

use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::config::DatabaseConfig;
use crate::error::{Error, Result};

/// Turns "Add user e-mail" into `add_user_e_mail`. Pure.
pub fn slug(description: &str) -> String {
    let mut out = String::new();
    for c in description.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// Writes the next `V` file of a database and its `U` file, numbered one
/// above the newest existing version and zero-padded like it.
pub fn new_migration(db: &DatabaseConfig, description: &str) -> Result<(PathBuf, PathBuf)> {
    let slug = slug(description);
    if slug.is_empty() {
        return Err(Error::Usage(
            "the description must contain a letter or digit".into(),
        ));
    }
    for dir in [&db.migrations, &db.rollbacks] {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let catalog = Catalog::load(&*crate::backend::format(db)?, &db.migrations, &db.rollbacks)?;
    let (next, width) = match catalog.migrations.last() {
        None => (1, 1),
        Some(m) => {
            let name = m
                .script
                .file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("V");
            let digits = name[1..].chars().take_while(char::is_ascii_digit).count();
            (m.version + 1, digits)
        }
    };
    let ext = db.kind.extension();
    let v = db.migrations.join(format!("V{next:0width$}__{slug}.{ext}"));
    let u = db.rollbacks.join(format!("U{next:0width$}__{slug}.{ext}"));
    let header = |what: &str| format!("-- {what} {next}: {}\n", description.trim());
    for (path, text) in [(&v, header("Migration")), (&u, header("Reverts migration"))] {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
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
