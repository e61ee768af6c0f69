//! Coming from another tool: `migrate import` turns a folder of Flyway,
//! sqlx, refinery, golang-migrate or dbmate files into strata's layout, and
//! `migrate baseline --from` reads that tool's history table to record what
//! it applied. The conversions and the reading of foreign history are pure;
//! [`read()`] and [`write()`] are the only functions that touch the disk.

mod adopt;
mod convert;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use self::adopt::{ForeignRow, adopted_versions, history_query};
pub use self::convert::{Converted, Output, Source, convert, convert_with_conf};
use crate::error::{Error, Result};
use crate::names::{ParsedName, Prefix, parse_name};

/// The file `import` writes beside the migrations: which strata version
/// each of the tool's versions became. `baseline --from` reads it.
pub const MAPPING_FILE: &str = "imported.toml";

/// A migration tool strata can take over from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// Flyway: `V1.2__d.sql`, `U1.2__d.sql`, `flyway_schema_history`.
    Flyway,
    /// sqlx: `1_d.sql` or `1_d.up.sql`/`.down.sql`, `_sqlx_migrations`.
    Sqlx,
    /// refinery: `V1__d.sql`, `U1__d.sql` (unversioned, not undo),
    /// `refinery_schema_history`.
    Refinery,
    /// golang-migrate: `1_d.up.sql`/`.down.sql`, `schema_migrations(version, dirty)`.
    GolangMigrate,
    /// dbmate: `1_d.sql` with `-- migrate:up`/`-- migrate:down` sections,
    /// `schema_migrations(version)`.
    Dbmate,
}

impl Tool {
    /// Every tool, as named on the command line.
    pub const ALL: [Tool; 5] = [
        Tool::Flyway,
        Tool::Sqlx,
        Tool::Refinery,
        Tool::GolangMigrate,
        Tool::Dbmate,
    ];

    /// The name `--from` takes.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Flyway => "flyway",
            Tool::Sqlx => "sqlx",
            Tool::Refinery => "refinery",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Dbmate => "dbmate",
        }
    }

    /// The tool's own history table name, as it creates it by default.
    pub fn default_table(self) -> &'static str {
        match self {
            Tool::Flyway => "flyway_schema_history",
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Refinery => "refinery_schema_history",
            Tool::GolangMigrate | Tool::Dbmate => "schema_migrations",
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tool {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Tool::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
                format!(
                    "{s:?} is not a tool strata imports from: one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A tool's folder as the tool itself would read it.
#[derive(Debug, Default)]
pub struct Folder {
    /// Every file, named by its path below the folder (`/`-separated),
    /// in path order.
    pub sources: Vec<Source>,
    /// Subfolders the tool does not read (all of them for a tool that
    /// reads one folder; links to folders for every tool), with why.
    pub passed_over: Vec<(String, String)>,
}

impl Tool {
    /// Whether the tool finds migrations in subfolders too: Flyway scans
    /// a location recursively and refinery walks it; sqlx, golang-migrate
    /// and dbmate read the folder alone.
    pub fn reads_subfolders(self) -> bool {
        matches!(self, Tool::Flyway | Tool::Refinery)
    }

    /// Whether the tool merges several folders into one list: Flyway's
    /// `locations`, dbmate's repeated `--migrations-dir`.
    pub fn merges_folders(self) -> bool {
        matches!(self, Tool::Flyway | Tool::Dbmate)
    }
}

/// Reads each of `dirs` as `tool` does and merges them, as the tool merges
/// its folders (one list, ordered by version). With several folders each
/// file is named by its folder as given, then its path below it
/// (`db/migration/V1__a.sql`); one folder keeps names relative to it.
/// Refused for a tool that reads one folder, for a folder given twice and
/// for a folder inside another (the tool would read its files twice).
pub fn read_folders(tool: Tool, dirs: &[PathBuf]) -> Result<Folder> {
    if let [one] = dirs {
        return read(tool, one);
    }
    if !tool.merges_folders() {
        return Err(Error::Usage(format!(
            "{tool} reads one folder: give import one SOURCE_DIR (flyway and dbmate merge several)"
        )));
    }
    let mut seen: Vec<(PathBuf, String)> = Vec::new();
    let mut merged = Folder::default();
    for dir in dirs {
        let label = dir.display().to_string().trim_end_matches('/').to_string();
        let real = std::fs::canonicalize(dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        for (other, other_label) in &seen {
            if real.starts_with(other) || other.starts_with(&real) {
                return Err(Error::Usage(format!(
                    "SOURCE_DIR {label} and {other_label} overlap: {tool} would read the same \
                     files twice; give each folder once"
                )));
            }
        }
        seen.push((real, label.clone()));
        let folder = read(tool, dir)?;
        merged
            .sources
            .extend(folder.sources.into_iter().map(|s| Source {
                name: format!("{label}/{}", s.name),
                ..s
            }));
        merged.passed_over.extend(
            folder
                .passed_over
                .into_iter()
                .map(|(name, why)| (format!("{label}/{name}"), why)),
        );
    }
    merged.sources.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(merged)
}

/// Reads `dir` as `tool` does: with its subfolders for a tool that reads
/// them. Hidden files and folders (a leading `.`) are passed over
/// silently; a link to a folder is not followed (a loop would never end).
pub fn read(tool: Tool, dir: &Path) -> Result<Folder> {
    let mut folder = Folder::default();
    read_into(tool, dir, "", &mut folder)?;
    folder.sources.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(folder)
}

fn read_into(tool: Tool, dir: &Path, below: &str, folder: &mut Folder) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        let name = format!("{below}{file_name}");
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            if tool.reads_subfolders() {
                read_into(tool, &path, &format!("{name}/"), folder)?;
            } else {
                let why = format!("a folder: {tool} reads only the folder it is given");
                folder.passed_over.push((format!("{name}/"), why));
            }
        } else if path.is_dir() {
            let why = "a link to a folder, not followed".to_string();
            folder.passed_over.push((format!("{name}/"), why));
        } else if path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            folder.sources.push(Source { name, text });
        }
    }
    Ok(())
}

/// Writes the converted files into the two folders and the version map
/// beside the migrations. Refuses, writing nothing, when any file (or the
/// map) exists already or a version is taken by a file already there;
/// writes nothing at all, not even the map, when nothing was converted.
pub fn write(
    tool: Tool,
    converted: &Converted,
    migrations: &Path,
    rollbacks: &Path,
    ext: &str,
) -> Result<Vec<PathBuf>> {
    // Nothing converted, no map: a map of nothing would only stand in the
    // way of the next import, once the files are mended.
    if converted.files.is_empty() {
        return Ok(Vec::new());
    }
    let mut clashes = Vec::new();
    let taken = |dir: &Path, prefix: Prefix| -> Result<BTreeMap<u64, String>> {
        let mut found = BTreeMap::new();
        if !dir.is_dir() {
            return Ok(found);
        }
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let ParsedName::Valid {
                prefix: p, version, ..
            } = parse_name(&name, ext)
                && p == prefix
            {
                found.insert(version, name);
            }
        }
        Ok(found)
    };
    let taken_v = taken(migrations, Prefix::Migration)?;
    let taken_u = taken(rollbacks, Prefix::Rollback)?;
    let mut paths = Vec::new();
    for file in &converted.files {
        let dir = if file.rollback { rollbacks } else { migrations };
        let path = dir.join(&file.name);
        let version = match parse_name(&file.name, file.name.rsplit('.').next().unwrap_or("")) {
            ParsedName::Valid { version, .. } => version,
            _ => 0,
        };
        let existing = if file.rollback { &taken_u } else { &taken_v };
        if path.exists() {
            clashes.push(format!("{} exists already", path.display()));
        } else if let Some(other) = existing.get(&version) {
            clashes.push(format!(
                "{} would take version {version}, which {} has",
                path.display(),
                dir.join(other).display()
            ));
        }
        paths.push(path);
    }
    let map = migrations.join(MAPPING_FILE);
    if map.exists() {
        clashes.push(format!("{} exists already", map.display()));
    }
    if !clashes.is_empty() {
        return Err(Error::Usage(format!(
            "import writes nothing, so no file is overwritten:\n  {}",
            clashes.join("\n  ")
        )));
    }
    for dir in [migrations, rollbacks] {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let create = crate::catalog::create_new;
    for (file, path) in converted.files.iter().zip(&paths) {
        create(path, &file.text)?;
    }
    create(&map, &mapping_text(tool, converted))?;
    paths.push(map);
    Ok(paths)
}

/// The text of `imported.toml`.
pub fn mapping_text(tool: Tool, converted: &Converted) -> String {
    let mut out = format!(
        "# Written by `migrate import --from {tool}`: the strata version each of\n\
         # {tool}'s versions became. `migrate baseline --from {tool}` reads it.\n\
         tool = \"{tool}\"\n\n[versions]\n"
    );
    for (theirs, ours) in &converted.versions {
        out.push_str(&format!("\"{theirs}\" = {ours}\n"));
    }
    out
}

/// Reads `imported.toml`: the tool and its version map.
pub fn read_mapping(text: &str, file: &str) -> Result<(String, BTreeMap<String, u64>)> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Mapping {
        tool: String,
        #[serde(default)]
        versions: BTreeMap<String, u64>,
    }
    let m: Mapping = toml::from_str(text).map_err(|e| Error::Config {
        setting: file.to_string(),
        message: e.to_string(),
    })?;
    Ok((m.tool, m.versions))
}

/// The version map `import` wrote, when there is one (none: the tool's
/// versions are strata's). One written for another tool is refused.
pub fn load_mapping(path: &Path, tool: Tool) -> Result<std::collections::BTreeMap<String, u64>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let shown = path.display().to_string();
    let (written_for, versions) = read_mapping(&text, &shown)?;
    if written_for != tool.name() {
        return Err(Error::Config {
            setting: shown,
            message: format!("was written by `migrate import --from {written_for}`, not {tool}"),
        });
    }
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(folder: &Folder) -> Vec<&str> {
        folder.sources.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn subfolders_are_read_for_the_tools_that_read_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, text) in [
            ("V1__a.sql", "a"),
            ("release_2/V2__b.sql", "b"),
            ("release_2/deep/V3__c.sql", "c"),
            (".git/V9__x.sql", "x"),
            (".hidden.sql", "h"),
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        std::os::unix::fs::symlink(root.join("release_2"), root.join("loop")).unwrap();

        for tool in [Tool::Flyway, Tool::Refinery] {
            let folder = read(tool, root).unwrap();
            assert_eq!(
                names(&folder),
                [
                    "V1__a.sql",
                    "release_2/V2__b.sql",
                    "release_2/deep/V3__c.sql"
                ]
            );
            assert_eq!(folder.sources[2].text, "c");
            assert_eq!(
                folder.passed_over,
                [(
                    "loop/".to_string(),
                    "a link to a folder, not followed".to_string()
                )]
            );
        }
        for tool in [Tool::Sqlx, Tool::GolangMigrate, Tool::Dbmate] {
            let folder = read(tool, root).unwrap();
            assert_eq!(names(&folder), ["V1__a.sql"]);
            let mut passed: Vec<&str> =
                folder.passed_over.iter().map(|(n, _)| n.as_str()).collect();
            passed.sort();
            assert_eq!(passed, ["loop/", "release_2/"]);
            let why = &folder
                .passed_over
                .iter()
                .find(|(n, _)| n == "release_2/")
                .unwrap()
                .1;
            assert!(why.contains("reads only the folder it is given"), "{why}");
        }
        let missing = read(Tool::Sqlx, &root.join("nope")).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }
}
