//! Discovering migration and rollback files, parsing their names, checksums.
//!
//! A catalog is built from plain `(path, bytes)` pairs ([`SourceFile`]) so the
//! same validation serves files on disk and files compiled into a binary.
//! Everything here is checked before any database is touched: a bad name, a
//! duplicate version, a rollback without its migration or non-UTF-8 content
//! is an error naming the file. What a file's content must look like is the
//! kind's business: the caller hands in the kind's [`Format`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
pub use crate::names::{EXTENSIONS, ParsedName, Prefix, normalize, parse_name};
use crate::script::TODO_MARKER;
pub use crate::script::{
    FileError, Format, NO_TRANSACTION_DIRECTIVE, Reading, Script, SourceFile, TransactionMode,
    checksum,
};

/// A migration and, when one exists, its rollback.
#[derive(Debug, Clone)]
pub struct Migration {
    /// Positive version; ordering is numeric.
    pub version: u64,
    /// The description from the file name, underscores shown as spaces.
    pub description: String,
    /// The `V` file.
    pub script: Script,
    /// The `U` file, if any.
    pub rollback: Option<Script>,
}

/// Every migration of one database, sorted by version, validated.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Sorted by version, no duplicates.
    pub migrations: Vec<Migration>,
    /// The folder rollback files are read from, when read from a folder:
    /// where a missing one is to be created.
    pub rollbacks: Option<PathBuf>,
}

/// What a plan shows under a rollback that does nothing on purpose.
pub const NOOP_ROLLBACK: &str = "no-op rollback (nothing to undo)";

/// Reads one file. A rollback may be a do-nothing one on purpose (an
/// empty operation list, a comment-only SQL or Cypher file): it runs
/// nothing and removes the record.
fn script(format: &dyn Format, file: &SourceFile, rollback: bool) -> Result<Script> {
    let content = normalize(&file.bytes).map_err(|m| Error::file(&file.path, m))?;
    if let Some(at) = content.find('\0') {
        // PostgreSQL cuts a statement at a NUL (08P01 half-way through a
        // run) and no other kind's syntax allows one: refused when read.
        let (line, column) =
            crate::split::line_col_of_char(&content, content[..at].chars().count() + 1);
        return Err(Error::File {
            file: file.path.clone(),
            location: format!(":{line}:{column}"),
            message: "holds a NUL byte (\\0), which no server takes in a statement: remove it"
                .to_string(),
        });
    }
    if content.trim().is_empty() && !rollback {
        return Err(Error::file(
            &file.path,
            "is empty; a migration must change something",
        ));
    }
    if let Some(line) = content.lines().position(|l| l.contains(TODO_MARKER)) {
        return Err(Error::File {
            file: file.path.clone(),
            location: format!(":{}", line + 1),
            message: format!(
                "still holds the placeholder `migrate new` wrote ({TODO_MARKER}): write the \
                 migration and delete that line (a rollback you do not want: delete the file)"
            ),
        });
    }
    // A YAML operation file runs as the JSON it reads as; its checksum is
    // its own text's.
    let source = content;
    let content = if is_yaml(&file.path) && !source.trim().is_empty() {
        format.yaml_to_json(&source).map_err(|e| Error::File {
            file: file.path.clone(),
            location: e.location(),
            message: e.message,
        })?
    } else {
        source.clone()
    };
    let reading = if rollback && (content.trim().is_empty() || format.is_noop(&content)) {
        crate::script::Reading {
            mode: crate::script::TransactionMode::Transaction,
            operations: vec![NOOP_ROLLBACK.to_string()],
        }
    } else {
        format.read(&content).map_err(|e| Error::File {
            file: file.path.clone(),
            location: e.location(),
            message: e.message,
        })?
    };
    let (checksum, legacy_checksum) = with_data_files(format, file, &source, &content)?;
    Ok(Script {
        file: file.path.clone(),
        checksum,
        legacy_checksum,
        lock_timeout: format.lock_timeout(&content),
        content,
        mode: reading.mode,
        operations: reading.operations,
    })
}

/// The checksum of a file and of the data files it names, each after the
/// same normalisation, with the file's own alone as the legacy one (what
/// was recorded before data files counted); a file naming none has only
/// its own. A data file that cannot be read is refused now, naming it.
fn with_data_files(
    format: &dyn Format,
    file: &SourceFile,
    source: &str,
    content: &str,
) -> Result<(String, Option<String>)> {
    let names = format.data_files(content);
    if names.is_empty() {
        return Ok((checksum(source), None));
    }
    let mut all = source.to_string();
    for name in &names {
        let path = file.path.parent().unwrap_or(Path::new(".")).join(name);
        let bytes = std::fs::read(&path).map_err(|e| {
            Error::file(
                &file.path,
                format!(
                    "index_documents: cannot read its data file {}: {e}",
                    path.display()
                ),
            )
        })?;
        let data = normalize(&bytes).map_err(|m| Error::file(&path, m))?;
        // Each part named and delimited, so moving text from the file into
        // its data file (or renaming the data file) changes the checksum.
        all.push_str(&format!("\0{name}\0{data}"));
    }
    Ok((checksum(&all), Some(checksum(source))))
}

/// Whether a file is YAML by its extension.
fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// The file name of a path, for plans and messages that must not depend
/// on where the folder is.
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

impl Catalog {
    /// Reads both folders. The migrations folder must exist; a missing
    /// rollbacks folder means "no rollbacks".
    pub fn load(format: &dyn Format, migrations: &Path, rollbacks: &Path) -> Result<Catalog> {
        if !migrations.is_dir() {
            return Err(Error::file(
                migrations,
                "migrations folder not found (set `migrations` in migrate.toml or --migrations)",
            ));
        }
        let ext = format.kind().extensions();
        let m = read_dir(migrations, ext)?;
        let r = if rollbacks.is_dir() {
            read_dir(rollbacks, ext)?
        } else {
            Vec::new()
        };
        let mut catalog = Catalog::from_files(format, m, r)?;
        catalog.rollbacks = Some(rollbacks.to_path_buf());
        Ok(catalog)
    }

    /// Builds and validates a catalog from files already in memory.
    pub fn from_files(
        format: &dyn Format,
        migrations: Vec<SourceFile>,
        rollbacks: Vec<SourceFile>,
    ) -> Result<Catalog> {
        let ext = format.kind().extensions();
        let mut by_version: BTreeMap<u64, Migration> = BTreeMap::new();
        refuse_empty(&migrations, ext)?;
        for file in &migrations {
            let Some((prefix, version, description)) = classify(file, ext)? else {
                continue;
            };
            if prefix == Prefix::Rollback {
                return Err(Error::file(
                    &file.path,
                    "is a rollback (U…) in the migrations folder; move it to the rollbacks folder",
                ));
            }
            let script = script(format, file, false)?;
            if let Some(existing) = by_version.get(&version) {
                return Err(Error::file(
                    &file.path,
                    format!(
                        "duplicate version {version}: {} has it too",
                        existing.script.file.display()
                    ),
                ));
            }
            by_version.insert(
                version,
                Migration {
                    version,
                    description,
                    script,
                    rollback: None,
                },
            );
        }
        for file in &rollbacks {
            let Some((prefix, version, _)) = classify(file, ext)? else {
                continue;
            };
            if prefix == Prefix::Migration {
                return Err(Error::file(
                    &file.path,
                    "is a migration (V…) in the rollbacks folder; move it to the migrations folder",
                ));
            }
            let script = script(format, file, true)?;
            let Some(migration) = by_version.get_mut(&version) else {
                return Err(Error::file(
                    &file.path,
                    format!("rollback for version {version}, but there is no migration V{version}"),
                ));
            };
            if let Some(existing) = &migration.rollback {
                return Err(Error::file(
                    &file.path,
                    format!(
                        "duplicate rollback for version {version}: {} has it too",
                        existing.file.display()
                    ),
                ));
            }
            migration.rollback = Some(script);
        }
        Ok(Catalog {
            migrations: by_version.into_values().collect(),
            rollbacks: None,
        })
    }

    /// The migration with this version, if any.
    pub fn get(&self, version: u64) -> Option<&Migration> {
        self.migrations
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .map(|i| &self.migrations[i])
    }
}

/// Every empty migration at once: a folder taken over from another tool
/// often has several (placeholders), and naming them one run at a time
/// makes a person fix, run, fix again.
fn refuse_empty(migrations: &[SourceFile], ext: &[&str]) -> Result<()> {
    let empty: Vec<&SourceFile> = migrations
        .iter()
        .filter(|f| matches!(classify(f, ext), Ok(Some((Prefix::Migration, _, _)))))
        .filter(|f| normalize(&f.bytes).is_ok_and(|c| c.trim().is_empty()))
        .collect();
    let Some(first) = empty.first() else {
        return Ok(());
    };
    let mut message = "is empty; a migration must change something".to_string();
    if empty.len() > 1 {
        let others: Vec<String> = empty[1..].iter().map(|f| display_name(&f.path)).collect();
        message.push_str(&format!(
            ". {} more empty: {}",
            others.len(),
            others.join(", ")
        ));
    }
    Err(Error::file(&first.path, message))
}

fn classify(file: &SourceFile, ext: &[&str]) -> Result<Option<(Prefix, u64, String)>> {
    let name = file
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::file(&file.path, "file name is not valid UTF-8"))?;
    let parsed = crate::names::parse_name_any(name, ext);
    if parsed != ParsedName::Ignored && name.chars().any(crate::names::is_hidden_char) {
        return Err(Error::file(
            &file.path,
            "the file name holds a control or text-direction character (shown escaped); \
             rename the file",
        ));
    }
    match parsed {
        ParsedName::Ignored => Ok(None),
        ParsedName::Invalid(why) => Err(Error::file(&file.path, why)),
        ParsedName::Valid {
            prefix,
            version,
            description,
        } => Ok(Some((prefix, version, description))),
    }
}

/// The files of one folder (not recursive) that look like migrations of
/// this extension, sorted by name so errors are deterministic. Links are
/// followed; an entry that looks like a migration but is not a regular
/// file once followed (a folder, a socket, a link to nothing) is an error,
/// never silently skipped.
fn read_dir(dir: &Path, ext: &[&str]) -> Result<Vec<SourceFile>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let relevant = match name.to_str() {
            Some(n) => crate::names::parse_name_any(n, ext) != ParsedName::Ignored,
            None => true, // reported by `classify`
        };
        if relevant {
            // The entry's own type costs no system call on the usual file
            // systems; anything else (a link, unknown) is looked at below.
            let plain = entry.file_type().is_ok_and(|t| t.is_file());
            paths.push((name, entry.path(), plain));
        }
    }
    // By name (all share the folder): cheaper than comparing whole paths
    // component by component, which showed in the no-op start-up profile.
    paths.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    paths
        .into_iter()
        .map(|(_, path, plain)| {
            let looked = (!plain).then(|| std::fs::metadata(&path));
            match looked {
                None => {}
                Some(Ok(m)) if m.is_file() => {}
                Some(Ok(m)) => {
                    return Err(Error::file(
                        &path,
                        if m.is_dir() {
                            "is a folder, not a migration file"
                        } else {
                            "is not a regular file (a socket, a pipe or a device)"
                        },
                    ));
                }
                Some(Err(_)) if path.is_symlink() => {
                    let target = std::fs::read_link(&path).unwrap_or_default();
                    return Err(Error::file(
                        &path,
                        format!(
                            "is a link to {}, which does not exist",
                            crate::names::shown(&target)
                        ),
                    ));
                }
                Some(Err(source)) => return Err(Error::Io { path, source }),
            }
            let bytes = std::fs::read(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            Ok(SourceFile { path, bytes })
        })
        .collect()
}

/// Writes a new file, never replacing one: `new` and `import` add files
/// beside a person's own and must not overwrite any.
pub fn create_new(path: &Path, text: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(prefix: Prefix, version: u64, description: &str) -> ParsedName {
        ParsedName::Valid {
            prefix,
            version,
            description: description.to_string(),
        }
    }

    #[test]
    fn names_parse_numerically_with_any_padding() {
        assert_eq!(
            parse_name("V1__init.sql", "sql"),
            valid(Prefix::Migration, 1, "init")
        );
        assert_eq!(
            parse_name("V0002__add_users_table.sql", "sql"),
            valid(Prefix::Migration, 2, "add users table")
        );
        assert_eq!(
            parse_name("U10__x.sql", "sql"),
            valid(Prefix::Rollback, 10, "x")
        );
        assert_eq!(
            parse_name("V3__Upper.SQL", "sql"),
            valid(Prefix::Migration, 3, "Upper")
        );
    }

    #[test]
    fn non_migrations_are_ignored() {
        for name in [
            "README.md",
            ".gitkeep",
            "notes.txt",
            "Vagrantfile",
            ".V1__x.sql",
        ] {
            assert_eq!(parse_name(name, "sql"), ParsedName::Ignored, "{name}");
        }
    }

    #[test]
    fn malformed_names_are_invalid() {
        for name in [
            "V1_init.sql",
            "V__init.sql",
            "Vx__init.sql",
            "V1__.sql",
            "V1_____.sql",
            "V0__init.sql",
            "V000__init.sql",
            "V99999999999999999999__big.sql",
            "V9223372036854775808__over_i64.sql",
            "seed.sql",
            "v1__lowercase.sql",
            "V1__init.sq",
            "V1__init.sql.bak",
        ] {
            assert!(
                matches!(parse_name(name, "sql"), ParsedName::Invalid(_)),
                "{name}: {:?}",
                parse_name(name, "sql")
            );
        }
        assert_eq!(
            parse_name("V9223372036854775807__max.sql", "sql"),
            valid(Prefix::Migration, i64::MAX as u64, "max")
        );
    }

    #[test]
    fn checksum_ignores_bom_and_crlf_only() {
        let plain = checksum(&normalize(b"create table t (id int);\n").unwrap());
        let crlf = checksum(&normalize(b"create table t (id int);\r\n").unwrap());
        let bom = checksum(&normalize(b"\xef\xbb\xbfcreate table t (id int);\r\n").unwrap());
        assert_eq!(plain, crlf);
        assert_eq!(plain, bom);
        assert_eq!(plain.len(), 64);
        // Known value, so the algorithm can never change silently.
        assert_eq!(
            checksum("select 1;\n"),
            "4a45092ccf992ea92250053a80b931b787924ba61648f420555511b84f10ab6c"
        );
        let trailing = checksum(&normalize(b"create table t (id int); \n").unwrap());
        assert_ne!(plain, trailing, "only BOM and CRLF are normalised");
        let lone_cr = checksum(&normalize(b"create table t (id int);\r").unwrap());
        assert_ne!(plain, lone_cr);
    }

    /// Any content reads as one transactional file: what the catalog
    /// itself checks does not depend on a kind.
    struct AnyText;

    impl Format for AnyText {
        fn kind(&self) -> crate::kind::Kind {
            crate::kind::Kind::Postgres
        }
        fn read(&self, _: &str) -> std::result::Result<Reading, FileError> {
            Ok(Reading {
                mode: TransactionMode::Transaction,
                operations: Vec::new(),
            })
        }
    }

    fn file(name: &str, text: &str) -> SourceFile {
        SourceFile {
            path: PathBuf::from(name),
            bytes: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_nul_byte_is_refused_at_its_line_and_column() {
        let format = AnyText;
        let files = vec![
            file("V1__ok.sql", "CREATE TABLE a (id int);\n"),
            file("V2__nul.sql", "SELECT 1;\nSELECT 'x\0y';\n"),
        ];
        let err = Catalog::from_files(&format, files, Vec::new()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("V2__nul.sql:2:10"), "{text}");
        assert!(text.contains("NUL byte"), "{text}");
    }

    #[test]
    fn every_empty_migration_is_named_at_once_and_an_empty_rollback_is_a_no_op() {
        let format = AnyText;
        let files = vec![
            file("V1__a.sql", "\n"),
            file("V2__b.sql", "SELECT 1;"),
            file("V3__c.sql", ""),
        ];
        let text = Catalog::from_files(&format, files, Vec::new())
            .unwrap_err()
            .to_string();
        assert!(text.contains("V1__a.sql"), "{text}");
        assert!(text.contains("1 more empty: V3__c.sql"), "{text}");

        let catalog = Catalog::from_files(
            &format,
            vec![file("V1__a.sql", "SELECT 1;")],
            vec![file("U1__a.sql", "  \n")],
        )
        .unwrap();
        let rollback = catalog.migrations[0].rollback.as_ref().unwrap();
        assert_eq!(rollback.operations, vec![NOOP_ROLLBACK.to_string()]);
    }
}
