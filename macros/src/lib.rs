//! `strata::embed!`: every migration and rollback of every database folder,
//! compiled into the binary with `include_bytes!` and checked while the
//! crate builds.
//!
//! What can be checked without knowing each database's kind is checked here
//! and reported as a compile error naming the file: malformed names, a
//! version used twice, a `U` file in the migrations folder (or the reverse),
//! a rollback without its migration, a folder mixing extensions, empty or
//! non-UTF-8 files. What needs the kind (the extension it expects, a SQL
//! directive, a JSON operation) is checked when the `Migrator` is built,
//! before anything connects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{LitStr, Token};

// The same parser the runtime catalog uses, so the two cannot disagree.
#[path = "../../src/names.rs"]
#[allow(dead_code)]
mod names;

use names::{ParsedName, Prefix, normalize, parse_name};

/// Embeds `migrations/<database>/…` and `rollbacks/<database>/…`.
///
/// `embed!()` reads `migrations` and, when it exists, `rollbacks`;
/// `embed!("db/migrations")` reads that folder and `db/rollbacks` beside it
/// when it exists; `embed!("db/migrations", "db/undo")` names both (then
/// both must exist). Paths are relative to the crate's `Cargo.toml`.
#[proc_macro]
pub fn embed(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens.into(),
        Err(message) => quote!(::core::compile_error!(#message)).into(),
    }
}

struct File {
    /// As shown in errors and plans: relative to the crate root.
    shown: String,
    /// Absolute, for `include_bytes!`.
    absolute: String,
}

fn expand(input: TokenStream) -> Result<proc_macro2::TokenStream, String> {
    let args = Punctuated::<LitStr, Token![,]>::parse_terminated
        .parse(input)
        .map_err(|e| format!("strata::embed!: {e}; expected up to two folder names"))?;
    let args: Vec<String> = args.iter().map(LitStr::value).collect();
    let root = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .map_err(|_| "strata::embed!: CARGO_MANIFEST_DIR is not set; build with cargo")?,
    );
    generate(&root, &args)
}

/// The macro's work, apart from token parsing: `root` is the crate folder.
fn generate(root: &Path, args: &[String]) -> Result<proc_macro2::TokenStream, String> {
    let (migrations, rollbacks, rollbacks_required) = match args {
        [] => ("migrations".to_string(), "rollbacks".to_string(), false),
        // The rollbacks folder beside the migrations folder, if any.
        [m] => {
            let parent = Path::new(m).parent().unwrap_or(Path::new(""));
            let r = parent.join("rollbacks").to_string_lossy().into_owned();
            (m.clone(), r, false)
        }
        [m, r] => (m.clone(), r.clone(), true),
        _ => {
            return Err(
                "strata::embed!: expected at most two folders (migrations, rollbacks)".into(),
            );
        }
    };
    let m_dir = root.join(&migrations);
    if !m_dir.is_dir() {
        return Err(format!("{migrations}: migrations folder not found"));
    }
    let r_dir = root.join(&rollbacks);
    if rollbacks_required && !r_dir.is_dir() {
        return Err(format!("{rollbacks}: rollbacks folder not found"));
    }
    let m = folders(&m_dir, &migrations)?;
    let r = if r_dir.is_dir() {
        folders(&r_dir, &rollbacks)?
    } else {
        BTreeMap::new()
    };
    if let Some((name, files)) = r.iter().find(|(name, _)| !m.contains_key(*name)) {
        let shown = files
            .first()
            .map_or(format!("{rollbacks}/{name}"), |f| f.shown.clone());
        return Err(format!(
            "{shown}: rollbacks for database folder {name}, but {migrations}/{name} does not exist"
        ));
    }
    let mut entries = Vec::new();
    for (name, m_files) in &m {
        let r_files = r.get(name).map(Vec::as_slice).unwrap_or_default();
        check_folder(m_files, r_files)?;
        let m_tokens = m_files.iter().map(file_tokens);
        let r_tokens = r_files.iter().map(file_tokens);
        entries.push(quote! {
            ::strata::embed::EmbeddedFolder::__new(#name, &[#(#m_tokens),*], &[#(#r_tokens),*])
        });
    }
    Ok(quote! { ::strata::embed::Embedded::__new(&[#(#entries),*]) })
}

fn file_tokens(f: &File) -> proc_macro2::TokenStream {
    let (shown, absolute) = (&f.shown, &f.absolute);
    quote! { ::strata::embed::EmbeddedFile::__new(#shown, ::core::include_bytes!(#absolute)) }
}

/// The database folders under `dir`, each with its regular files, sorted.
fn folders(dir: &Path, shown: &str) -> Result<BTreeMap<String, Vec<File>>, String> {
    let mut out = BTreeMap::new();
    for entry in sorted_entries(dir, shown)? {
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: the name is not UTF-8", entry.display()))?
            .to_string();
        if name.starts_with('.') {
            continue;
        }
        if entry.is_dir() {
            let here = format!("{shown}/{name}");
            let mut files = Vec::new();
            for path in sorted_entries(&entry, &here)? {
                let file = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                if path.is_file() && !file.starts_with('.') {
                    files.push(File {
                        shown: format!("{here}/{file}"),
                        absolute: path.to_string_lossy().into_owned(),
                    });
                }
            }
            out.insert(name, files);
        } else if matches!(
            parse_name(&name, "sql"),
            ParsedName::Valid { .. } | ParsedName::Invalid(_)
        ) {
            return Err(format!(
                "{shown}/{name}: migrations live in one folder per database ({shown}/<database>/{name})"
            ));
        }
    }
    Ok(out)
}

fn sorted_entries(dir: &Path, shown: &str) -> Result<Vec<PathBuf>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{shown}: {e}"))?
        .map(|e| e.map(|e| e.path()).map_err(|e| format!("{shown}: {e}")))
        .collect::<Result<_, _>>()?;
    paths.sort();
    Ok(paths)
}

/// Every check that does not need the database's kind.
fn check_folder(migrations: &[File], rollbacks: &[File]) -> Result<(), String> {
    let mut ext: Option<(String, &str)> = None;
    let mut versions: BTreeMap<u64, &str> = BTreeMap::new();
    for (files, expected) in [
        (migrations, Prefix::Migration),
        (rollbacks, Prefix::Rollback),
    ] {
        let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
        for f in files {
            let file_ext = f
                .shown
                .rsplit_once('.')
                .map_or("", |(_, e)| e)
                .to_ascii_lowercase();
            let known = names::EXTENSIONS.contains(&file_ext.as_str());
            let (prefix, version) = match parse_name(
                f.shown.rsplit('/').next().unwrap_or_default(),
                if known {
                    &file_ext
                } else {
                    names::EXTENSIONS[0]
                },
            ) {
                ParsedName::Ignored => continue,
                ParsedName::Invalid(why) => return Err(format!("{}: {why}", f.shown)),
                ParsedName::Valid {
                    prefix, version, ..
                } => (prefix, version),
            };
            match &ext {
                Some((e, first)) if *e != file_ext => {
                    return Err(format!(
                        "{}: a folder holds one kind of file, but {first} is .{e}",
                        f.shown
                    ));
                }
                Some(_) => {}
                None => ext = Some((file_ext, &f.shown)),
            }
            if prefix != expected {
                return Err(format!(
                    "{}: {} in the {} folder",
                    f.shown,
                    if prefix == Prefix::Rollback {
                        "a rollback (U…)"
                    } else {
                        "a migration (V…)"
                    },
                    if expected == Prefix::Rollback {
                        "rollbacks"
                    } else {
                        "migrations"
                    },
                ));
            }
            if let Some(other) = seen.insert(version, &f.shown) {
                return Err(format!(
                    "{}: duplicate version {version}: {other} has it too",
                    f.shown
                ));
            }
            if expected == Prefix::Rollback && !versions.contains_key(&version) {
                return Err(format!(
                    "{}: rollback for version {version}, but there is no migration V{version}",
                    f.shown
                ));
            }
            let bytes = std::fs::read(&f.absolute).map_err(|e| format!("{}: {e}", f.shown))?;
            let text = normalize(&bytes).map_err(|why| format!("{}: {why}", f.shown))?;
            if text.trim().is_empty() {
                return Err(format!(
                    "{}: is empty; a migration must change something",
                    f.shown
                ));
            }
        }
        if expected == Prefix::Migration {
            versions = seen;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, bytes) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        dir
    }

    fn error(files: &[(&str, &[u8])]) -> String {
        generate(tree(files).path(), &[]).expect_err("must not compile")
    }

    #[test]
    fn a_good_tree_embeds_every_file_with_its_path() {
        let dir = tree(&[
            ("migrations/app/V1__init.sql", b"CREATE TABLE t ();"),
            ("migrations/app/README.md", b"notes"),
            ("migrations/graph/V1__init.cypher", b"RETURN 1;"),
            ("rollbacks/app/U1__init.sql", b"DROP TABLE t;"),
        ]);
        let code = generate(dir.path(), &[]).unwrap().to_string();
        for shown in [
            "\"migrations/app/V1__init.sql\"",
            "\"migrations/graph/V1__init.cypher\"",
            "\"rollbacks/app/U1__init.sql\"",
            "\"migrations/app/README.md\"",
        ] {
            assert!(code.contains(shown), "{shown} not in {code}");
        }
        assert!(code.contains("include_bytes"));
    }

    #[test]
    fn bad_files_are_compile_errors_naming_the_file() {
        type Files<'a> = &'a [(&'a str, &'a [u8])];
        let cases: &[(Files, &str)] = &[
            (
                &[("migrations/app/V1_init.sql", b"x")],
                "migrations/app/V1_init.sql: the version must be followed by two underscores",
            ),
            (
                &[("migrations/app/V0__init.sql", b"x")],
                "migrations/app/V0__init.sql: version 0 is not allowed",
            ),
            (
                &[
                    ("migrations/app/V1__a.sql", b"x"),
                    ("migrations/app/V01__b.sql", b"x"),
                ],
                "duplicate version 1",
            ),
            (
                &[("migrations/app/U1__a.sql", b"x")],
                "migrations/app/U1__a.sql: a rollback (U…) in the migrations folder",
            ),
            (
                &[
                    ("migrations/app/V1__a.sql", b"x"),
                    ("rollbacks/app/U2__b.sql", b"x"),
                ],
                "rollbacks/app/U2__b.sql: rollback for version 2, but there is no migration V2",
            ),
            (
                &[("migrations/app/V1__a.sql", b"\xff\xfe")],
                "migrations/app/V1__a.sql: is not valid UTF-8",
            ),
            (
                &[("migrations/app/V1__a.sql", b"\xef\xbb\xbf \r\n")],
                "migrations/app/V1__a.sql: is empty",
            ),
            (
                &[
                    ("migrations/app/V1__a.sql", b"x"),
                    ("migrations/app/V2__b.cypher", b"x"),
                ],
                "migrations/app/V2__b.cypher: a folder holds one kind of file",
            ),
            (
                &[("migrations/app/V1__a.txt", b"x")],
                "migrations/app/V1__a.txt: wrong extension",
            ),
            (
                &[("migrations/V1__a.sql", b"x")],
                "migrations/V1__a.sql: migrations live in one folder per database",
            ),
            (
                &[
                    ("migrations/app/V1__a.sql", b"x"),
                    ("rollbacks/other/U1__a.sql", b"x"),
                ],
                "migrations/other does not exist",
            ),
        ];
        for (files, expected) in cases {
            let e = error(files);
            assert!(e.contains(expected), "expected {expected:?} in {e:?}");
        }
    }

    #[test]
    fn folders_named_explicitly_must_exist() {
        let dir = tree(&[("db/app/V1__a.sql", b"x")]);
        let e = generate(dir.path(), &["db".into(), "undo".into()]).unwrap_err();
        assert_eq!(e, "undo: rollbacks folder not found");
        let e = generate(dir.path(), &["nope".into()]).unwrap_err();
        assert_eq!(e, "nope: migrations folder not found");
        assert!(generate(dir.path(), &["db".into()]).is_ok());
        // One folder named: its rollbacks are looked for beside it.
        let dir = tree(&[
            ("x/migrations/app/V1__a.sql", b"x"),
            ("x/rollbacks/app/U2__a.sql", b"x"),
            ("rollbacks/app/U1__a.sql", b"x"),
        ]);
        let e = generate(dir.path(), &["x/migrations".into()]).unwrap_err();
        assert!(
            e.starts_with("x/rollbacks/app/U2__a.sql: rollback for version 2"),
            "{e}"
        );
    }
}
