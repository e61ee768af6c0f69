//! Coming from another tool: `migrate import` turns a folder of Flyway,
//! sqlx, refinery, golang-migrate or dbmate files into strata's layout, and
//! `migrate baseline --from` reads that tool's history table to record what
//! it applied. The conversions and the reading of foreign history are pure;
//! [`write`] is the only function that touches the disk.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::names::slug;
use crate::names::{ParsedName, Prefix, parse_name};
use crate::problem::Problem;
use crate::script::NO_TRANSACTION_DIRECTIVE;

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

/// One file of the tool's folder: its name and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file name within the folder.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// One file strata's layout gains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// A rollback (`U`) rather than a migration (`V`).
    pub rollback: bool,
    /// The strata file name.
    pub name: String,
    /// Its text.
    pub text: String,
    /// The source file it came from.
    pub from: String,
    /// Why it was changed beyond its name, if it was.
    pub note: Option<String>,
}

/// What a folder turned into.
#[derive(Debug, Clone, Default)]
pub struct Converted {
    /// The files to write, migrations before rollbacks, in version order.
    pub files: Vec<Output>,
    /// Files that look like migrations but cannot be converted, with why.
    pub skipped: Vec<(String, String)>,
    /// Files that are not the tool's migrations at all.
    pub ignored: Vec<String>,
    /// Each of the tool's versions and the strata version it became.
    pub versions: Vec<(String, u64)>,
    /// Whether versions were renumbered (Flyway's dotted versions).
    pub renumbered: bool,
}

impl Converted {
    /// Keeps only files with the extension a database's kind reads; the
    /// others are skipped, saying so.
    pub fn keep_extension(&mut self, ext: &str, kind: &str) {
        let (keep, other): (Vec<Output>, Vec<Output>) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|f| f.name.ends_with(&format!(".{ext}")));
        self.files = keep;
        for f in other {
            self.skipped.push((
                f.from,
                format!("not a .{ext} file, and the database is {kind}"),
            ));
        }
    }
}

/// A migration as the tool sees it, before numbering.
#[derive(Debug, Default)]
struct Entry {
    description: String,
    ext: String,
    up: Option<Part>,
    down: Option<Part>,
}

#[derive(Debug)]
struct Part {
    from: String,
    text: String,
    no_transaction: bool,
}

/// Converts a tool's folder. Pure.
pub fn convert(tool: Tool, sources: &[Source]) -> Converted {
    let mut out = Converted::default();
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut sorted: Vec<&Source> = sources.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for source in sorted {
        if source.name.starts_with('.') {
            continue;
        }
        match recognise(tool, source) {
            Recognised::Ignored => out.ignored.push(source.name.clone()),
            Recognised::Skipped(why) => out.skipped.push((source.name.clone(), why)),
            Recognised::Parts(parts) => {
                for (version, description, ext, down, part) in parts {
                    let entry = entries.entry(version.clone()).or_default();
                    let slot = if down { &mut entry.down } else { &mut entry.up };
                    if let Some(earlier) = slot {
                        out.skipped.push((
                            source.name.clone(),
                            format!("version {version} is also {}", earlier.from),
                        ));
                        continue;
                    }
                    if entry.description.is_empty() || !down {
                        entry.description = description;
                        entry.ext = ext;
                    }
                    *slot = Some(part);
                }
            }
        }
    }
    // A rollback with no migration has nothing to undo.
    entries.retain(|version, e| {
        if e.up.is_none() {
            if let Some(down) = &e.down {
                out.skipped.push((
                    down.from.clone(),
                    format!("a rollback for version {version}, which has no migration"),
                ));
            }
            return false;
        }
        true
    });
    let mut ordered: Vec<(String, Entry)> = entries.into_iter().collect();
    ordered.sort_by(|a, b| compare_versions(&a.0, &b.0));
    out.renumbered = ordered
        .iter()
        .any(|(v, _)| !v.bytes().all(|b| b.is_ascii_digit()) || integer(v) == Some(0));
    let mut migrations = Vec::new();
    let mut rollbacks = Vec::new();
    for (i, (version, entry)) in ordered.into_iter().enumerate() {
        let (number, shown) = if out.renumbered {
            (i as u64 + 1, (i + 1).to_string())
        } else {
            match integer(&version) {
                Some(n) => (n, version.clone()),
                None => {
                    out.skipped.push((
                        entry
                            .up
                            .as_ref()
                            .map(|p| p.from.clone())
                            .unwrap_or_default(),
                        format!(
                            "version {version} is too large for strata (at most {})",
                            u64::MAX
                        ),
                    ));
                    continue;
                }
            }
        };
        out.versions.push((version, number));
        let slug = match slug(&entry.description) {
            s if s.is_empty() => "migration".to_string(),
            s => s,
        };
        for (rollback, part) in [(false, entry.up), (true, entry.down)] {
            let Some(part) = part else { continue };
            let (text, note) = transaction_text(&entry.ext, part.text, part.no_transaction);
            let file = Output {
                rollback,
                name: format!(
                    "{}{shown}__{slug}.{}",
                    if rollback { 'U' } else { 'V' },
                    entry.ext
                ),
                text,
                from: part.from,
                note,
            };
            if rollback {
                rollbacks.push(file);
            } else {
                migrations.push(file);
            }
        }
    }
    out.files = migrations;
    out.files.extend(rollbacks);
    out
}

fn integer(v: &str) -> Option<u64> {
    v.parse().ok()
}

/// Flyway's order: dot-separated numeric parts, a missing part counting as
/// zero. Plain integers compare the same way.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<u128> {
        v.split('.')
            .map(|p| p.parse::<u128>().unwrap_or(u128::MAX))
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    let n = pa.len().max(pb.len());
    for i in 0..n {
        let (x, y) = (
            pa.get(i).copied().unwrap_or(0),
            pb.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
    }
    a.cmp(b)
}

/// A converted file's text, with the no-transaction directive first when
/// the tool ran it outside a transaction or it cannot run inside one.
fn transaction_text(ext: &str, text: String, marked: bool) -> (String, Option<String>) {
    if ext != "sql" || text.lines().next().map(str::trim) == Some(NO_TRANSACTION_DIRECTIVE) {
        return (text, None);
    }
    let reason = if marked {
        Some("the tool ran it outside a transaction".to_string())
    } else {
        sql_needs_own_transactions(&text)
    };
    match reason {
        Some(why) => (
            format!("{NO_TRANSACTION_DIRECTIVE}\n{text}"),
            Some(format!("marked {NO_TRANSACTION_DIRECTIVE}: {why}")),
        ),
        None => (text, None),
    }
}

#[cfg(feature = "postgres")]
fn sql_needs_own_transactions(text: &str) -> Option<String> {
    crate::backend::postgres::needs_no_transaction(text)
}

#[cfg(not(feature = "postgres"))]
fn sql_needs_own_transactions(_text: &str) -> Option<String> {
    None
}

/// (version, description, extension, is a rollback, the part)
type Parts = Vec<(String, String, String, bool, Part)>;

enum Recognised {
    Ignored,
    Skipped(String),
    Parts(Parts),
}

fn part(from: &str, text: &str, no_transaction: bool) -> Part {
    Part {
        from: from.to_string(),
        text: text.to_string(),
        no_transaction,
    }
}

/// `<digits>_<description>` → (digits, description).
fn leading_version(stem: &str) -> Option<(&str, &str)> {
    let end = stem.find(|c: char| !c.is_ascii_digit())?;
    let (digits, rest) = stem.split_at(end);
    let description = rest.strip_prefix('_')?;
    (!digits.is_empty()).then_some((digits, description))
}

fn recognise(tool: Tool, source: &Source) -> Recognised {
    let name = source.name.as_str();
    match tool {
        Tool::Flyway => flyway(name, &source.text),
        Tool::Refinery => refinery(name, &source.text),
        Tool::Sqlx => sqlx(name, &source.text),
        Tool::GolangMigrate => golang_migrate(name, &source.text),
        Tool::Dbmate => dbmate(name, &source.text),
    }
}

fn flyway(name: &str, text: &str) -> Recognised {
    if name.ends_with(".sql.conf") {
        return Recognised::Ignored; // read with its script, below
    }
    let Some(stem) = name.strip_suffix(".sql") else {
        return Recognised::Ignored;
    };
    if stem.starts_with("R__") {
        return Recognised::Skipped(
            "a repeatable migration (R__): strata has no repeatables; re-create it \
             as a versioned migration when it changes"
                .into(),
        );
    }
    let (down, rest) = match stem.chars().next() {
        Some('V') => (false, &stem[1..]),
        Some('U') => (true, &stem[1..]),
        Some('B') if stem[1..].starts_with(|c: char| c.is_ascii_digit()) => {
            return Recognised::Skipped(
                "a baseline migration (B): run the V files it stands for, or \
                 `migrate baseline` past it"
                    .into(),
            );
        }
        _ => return Recognised::Ignored,
    };
    let Some((version, description)) = rest.split_once("__") else {
        return Recognised::Skipped("expected V<version>__<description>.sql".into());
    };
    let version = version.replace('_', ".");
    if version.is_empty()
        || !version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Recognised::Skipped(format!("{version:?} is not a Flyway version"));
    }
    if text.contains("${") {
        return Recognised::Skipped(
            "uses Flyway placeholders (${…}), which strata does not expand: \
             write the values into the file"
                .into(),
        );
    }
    let (text, marked) = match text.split_once('\n') {
        Some((first, rest))
            if first.trim().replace(' ', "") == "--flyway:executeInTransaction=false" =>
        {
            (rest, true)
        }
        _ => (text, false),
    };
    Recognised::Parts(vec![(
        version,
        description.replace('_', " "),
        "sql".into(),
        down,
        part(name, text, marked),
    )])
}

/// Flyway's per-script settings file, `<script>.conf`, when it turns the
/// transaction off. Applied by [`convert_with_conf`].
fn flyway_conf_says_no_transaction(conf: &str) -> bool {
    conf.lines().any(|l| {
        l.split_once('=').is_some_and(|(k, v)| {
            k.trim() == "executeInTransaction" && v.trim().eq_ignore_ascii_case("false")
        })
    })
}

/// [`convert`], with Flyway's `.sql.conf` files applied to their scripts
/// first (executeInTransaction=false becomes the no-transaction directive).
pub fn convert_with_conf(tool: Tool, sources: &[Source]) -> Converted {
    if tool != Tool::Flyway {
        return convert(tool, sources);
    }
    let confs: BTreeMap<&str, &str> = sources
        .iter()
        .filter_map(|s| Some((s.name.strip_suffix(".conf")?, s.text.as_str())))
        .collect();
    let sources: Vec<Source> = sources
        .iter()
        .filter(|s| !s.name.ends_with(".sql.conf"))
        .map(|s| match confs.get(s.name.as_str()) {
            Some(conf) if flyway_conf_says_no_transaction(conf) => Source {
                name: s.name.clone(),
                text: format!("-- flyway:executeInTransaction=false\n{}", s.text),
            },
            _ => s.clone(),
        })
        .collect();
    convert(tool, &sources)
}

fn refinery(name: &str, text: &str) -> Recognised {
    if let ParsedName::Valid {
        version,
        description,
        ..
    } = parse_name(name, "rs")
    {
        return Recognised::Skipped(format!(
            "a Rust migration (version {version}, {description}): strata runs files; \
             save the SQL it returns as a .sql file"
        ));
    }
    match parse_name(name, "sql") {
        // refinery's U means "unversioned", not undo: both are migrations.
        ParsedName::Valid {
            version,
            description,
            prefix: Prefix::Migration | Prefix::Rollback,
        } => Recognised::Parts(vec![(
            version.to_string(),
            description,
            "sql".into(),
            false,
            part(name, text, false),
        )]),
        ParsedName::Invalid(why) if name.ends_with(".sql") => Recognised::Skipped(why),
        _ => Recognised::Ignored,
    }
}

fn sqlx(name: &str, text: &str) -> Recognised {
    let Some(stem) = name.strip_suffix(".sql") else {
        return Recognised::Ignored;
    };
    let (stem, down) = if let Some(s) = stem.strip_suffix(".up") {
        (s, false)
    } else if let Some(s) = stem.strip_suffix(".down") {
        (s, true)
    } else {
        (stem, false)
    };
    let Some((version, description)) = leading_version(stem) else {
        return Recognised::Skipped("expected <version>_<description>.sql".into());
    };
    // sqlx reads `-- no-transaction` at the very start of the file.
    let (text, marked) = match text.strip_prefix("-- no-transaction") {
        Some(rest) => (rest.strip_prefix('\n').unwrap_or(rest), true),
        None => (text, false),
    };
    Recognised::Parts(vec![(
        version.to_string(),
        description.replace('_', " "),
        "sql".into(),
        down,
        part(name, text, marked),
    )])
}

fn golang_migrate(name: &str, text: &str) -> Recognised {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return Recognised::Ignored;
    };
    let (stem, down) = if let Some(s) = stem.strip_suffix(".up") {
        (s, false)
    } else if let Some(s) = stem.strip_suffix(".down") {
        (s, true)
    } else {
        return Recognised::Ignored;
    };
    let Some((version, description)) = leading_version(stem) else {
        return Recognised::Skipped("expected <version>_<title>.up.<ext> or .down.<ext>".into());
    };
    Recognised::Parts(vec![(
        version.to_string(),
        description.replace('_', " "),
        ext.to_string(),
        down,
        part(name, text, false),
    )])
}

fn dbmate(name: &str, text: &str) -> Recognised {
    let Some(stem) = name.strip_suffix(".sql") else {
        return Recognised::Ignored;
    };
    let Some((version, description)) = leading_version(stem) else {
        return Recognised::Skipped("expected <version>_<description>.sql".into());
    };
    let mut sections: Vec<(bool, bool, String)> = Vec::new(); // (down, no tx, text)
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let marker = trimmed
            .strip_prefix("-- migrate:up")
            .map(|o| (false, o))
            .or_else(|| trimmed.strip_prefix("-- migrate:down").map(|o| (true, o)));
        match marker {
            Some((down, options)) => {
                let no_tx = options
                    .split_whitespace()
                    .any(|o| o.eq_ignore_ascii_case("transaction:false"));
                sections.push((down, no_tx, String::new()));
            }
            None => match sections.last_mut() {
                Some((_, _, body)) => body.push_str(line),
                None if trimmed.is_empty() => {}
                None => {
                    return Recognised::Skipped(
                        "text before the first `-- migrate:up` line".into(),
                    );
                }
            },
        }
    }
    if !sections.iter().any(|(down, ..)| !down) {
        return Recognised::Skipped("has no `-- migrate:up` section".into());
    }
    let mut parts = Vec::new();
    for (down, no_tx, body) in sections {
        let body = body.trim_matches('\n').to_string();
        if down && body.trim().is_empty() {
            continue; // no down section written: no rollback
        }
        parts.push((
            version.to_string(),
            description.replace('_', " "),
            "sql".to_string(),
            down,
            part(name, &format!("{body}\n"), no_tx),
        ));
    }
    Recognised::Parts(parts)
}

/// Writes the converted files into the two folders and the version map
/// beside the migrations. Refuses, writing nothing, when any file (or the
/// map) exists already or a version is taken by a file already there.
pub fn write(
    tool: Tool,
    converted: &Converted,
    migrations: &Path,
    rollbacks: &Path,
    ext: &str,
) -> Result<Vec<PathBuf>> {
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

/// One row of a foreign history table, as [`history_query`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRow {
    /// The tool's version, as text (none for Flyway's repeatables).
    pub version: Option<String>,
    /// What the row says: `applied`, `undone`, `up-to` (golang-migrate's
    /// one row: everything up to it), `baseline` (Flyway's), `other`.
    pub kind: String,
    /// False for a dirty or failed record.
    pub ok: bool,
}

/// The query reading `table` (a validated `name` or `schema.name`) as
/// `(version text, kind text, ok bool)` rows in the tool's order.
pub fn history_query(tool: Tool, table: &str) -> String {
    let t: String = table
        .split('.')
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(".");
    match tool {
        Tool::Flyway => format!(
            "SELECT version::text, CASE WHEN type LIKE 'UNDO%' OR type = 'DELETE' THEN 'undone' \
             WHEN type LIKE '%BASELINE%' THEN 'baseline' \
             WHEN version IS NULL OR type = 'SCHEMA' THEN 'other' ELSE 'applied' END, \
             success FROM {t} ORDER BY installed_rank"
        ),
        Tool::Sqlx => {
            format!("SELECT version::text, 'applied', success FROM {t} ORDER BY version")
        }
        Tool::Refinery | Tool::Dbmate => {
            format!("SELECT version::text, 'applied', true FROM {t} ORDER BY version")
        }
        Tool::GolangMigrate => format!("SELECT version::text, 'up-to', NOT dirty FROM {t}"),
    }
}

/// The strata versions a foreign history says are applied, each checked to
/// have a file (`files`: the catalog's versions). Refuses with every
/// problem: a dirty or failed record, a version with no file, a version
/// the map does not know. Pure.
pub fn adopted_versions(
    tool: Tool,
    rows: &[ForeignRow],
    mapping: &BTreeMap<String, u64>,
    files: &[u64],
) -> std::result::Result<Vec<u64>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut applied = std::collections::BTreeSet::new();
    let ours = |v: &str| mapping.get(v).copied().or_else(|| v.parse().ok());
    for row in rows {
        let Some(version) = &row.version else {
            continue;
        };
        if row.kind == "other" {
            continue;
        }
        let mapped = ours(version);
        if !row.ok {
            problems.push(Problem::Foreign {
                version: mapped.unwrap_or(0),
                tool: tool.name().into(),
                recorded: version.clone(),
                why: match tool {
                    Tool::GolangMigrate => "is dirty: a migration failed half-way; fix the \
                                            database, then `migrate force` it with golang-migrate"
                        .into(),
                    _ => format!(
                        "failed (success = false): repair it with {tool} or fix the database first"
                    ),
                },
            });
            continue;
        }
        let Some(v) = mapped else {
            problems.push(Problem::Foreign {
                version: 0,
                tool: tool.name().into(),
                recorded: version.clone(),
                why: format!(
                    "has no strata version: run `migrate import --from {tool}` on the folder \
                     this database was migrated from (it writes {MAPPING_FILE})"
                ),
            });
            continue;
        };
        match row.kind.as_str() {
            "undone" => {
                applied.remove(&v);
            }
            "up-to" | "baseline" => {
                applied.extend(files.iter().copied().filter(|f| *f <= v));
                if row.kind == "up-to" && !files.contains(&v) {
                    applied.insert(v);
                }
            }
            _ => {
                applied.insert(v);
            }
        }
    }
    for v in &applied {
        if !files.contains(v) {
            problems.push(Problem::Foreign {
                version: *v,
                tool: tool.name().into(),
                recorded: mapping
                    .iter()
                    .find(|(_, o)| *o == v)
                    .map_or_else(|| v.to_string(), |(t, _)| t.clone()),
                why: format!("was applied by {tool} but has no migration file here"),
            });
        }
    }
    if problems.is_empty() {
        Ok(applied.into_iter().collect())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> Source {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    fn names(c: &Converted) -> Vec<&str> {
        c.files.iter().map(|f| f.name.as_str()).collect()
    }

    // The transaction analysis is PostgreSQL's SQL reader.
    #[cfg(feature = "postgres")]
    #[test]
    fn flyway_dotted_versions_are_renumbered_in_flyways_order() {
        let c = convert_with_conf(
            Tool::Flyway,
            &[
                src("V1__init.sql", "create table a (id int);"),
                src("V1_1__Add_b.sql", "create table b (id int);"),
                src("V1.2__c.sql", "create table c (id int);"),
                src("V2.0.10__late.sql", "select 1;"),
                src("V2.0.9__early.sql", "select 1;"),
                src("U1_1__Add_b.sql", "drop table b;"),
                src("R__views.sql", "create view v as select 1;"),
                src("V3__conc.sql", "create index concurrently i on a (id);"),
                src("V4__x.sql", "select 1;"),
                src("V4__x.sql.conf", "executeInTransaction=false\n"),
                src("README.md", "hi"),
            ],
        );
        assert!(c.renumbered);
        assert_eq!(
            names(&c),
            [
                "V1__init.sql",
                "V2__add_b.sql",
                "V3__c.sql",
                "V4__early.sql",
                "V5__late.sql",
                "V6__conc.sql",
                "V7__x.sql",
                "U2__add_b.sql"
            ]
        );
        assert_eq!(c.versions[1], ("1.1".to_string(), 2));
        assert_eq!(c.skipped.len(), 1);
        assert!(c.skipped[0].1.contains("repeatable"), "{:?}", c.skipped);
        assert_eq!(c.ignored, ["README.md"]);
        let conc = &c.files[5];
        assert!(conc.text.starts_with("-- strata:no-transaction\n"));
        assert!(conc.note.as_deref().unwrap().contains("CONCURRENTLY"));
        assert_eq!(c.files[6].text, "-- strata:no-transaction\nselect 1;");
        let map = mapping_text(Tool::Flyway, &c);
        let (tool, versions) = read_mapping(&map, "imported.toml").unwrap();
        assert_eq!(tool, "flyway");
        assert_eq!(versions["2.0.10"], 5);
    }

    #[test]
    fn integer_versions_keep_their_numbers() {
        let c = convert(
            Tool::Sqlx,
            &[
                src(
                    "20210425153745_create users.up.sql",
                    "create table u (id int);",
                ),
                src("20210425153745_create users.down.sql", "drop table u;"),
                src(
                    "20210426000000_index.sql",
                    "-- no-transaction\ncreate index concurrently i on u (id);\n",
                ),
            ],
        );
        assert!(!c.renumbered);
        assert_eq!(
            names(&c),
            [
                "V20210425153745__create_users.sql",
                "V20210426000000__index.sql",
                "U20210425153745__create_users.sql"
            ]
        );
        assert_eq!(
            c.files[1].text,
            "-- strata:no-transaction\ncreate index concurrently i on u (id);\n"
        );
    }

    #[test]
    fn refinery_u_files_are_migrations_and_rust_ones_are_refused() {
        let c = convert(
            Tool::Refinery,
            &[
                src("V1__a.sql", "select 1;"),
                src("U2__b.sql", "select 2;"),
                src("V3__c.rs", "fn migration() -> String { String::new() }"),
            ],
        );
        assert_eq!(names(&c), ["V1__a.sql", "V2__b.sql"]);
        assert!(c.skipped[0].1.contains("Rust migration"));
    }

    // The transaction analysis is PostgreSQL's SQL reader.
    #[cfg(feature = "postgres")]
    #[test]
    fn golang_migrate_marks_only_what_it_ran_outside_a_transaction() {
        let c = convert(
            Tool::GolangMigrate,
            &[
                src(
                    "000001_init.up.sql",
                    "BEGIN;\ncreate table a (id int);\nCOMMIT;\n",
                ),
                src("000001_init.down.sql", "drop table a;\n"),
                src(
                    "000002_idx.up.sql",
                    "create index concurrently i on a (id);\n",
                ),
                src("000002_idx.down.sql", "drop index concurrently i;\n"),
                src(
                    "000003_two.up.sql",
                    "create table b (id int);\nCOMMIT;\nvacuum a;\n",
                ),
                src("000004_graph.up.cypher", "CREATE (:A);\n"),
                src("000009_orphan.down.sql", "select 1;\n"),
            ],
        );
        assert_eq!(
            names(&c),
            [
                "V000001__init.sql",
                "V000002__idx.sql",
                "V000003__two.sql",
                "V000004__graph.cypher",
                "U000001__init.sql",
                "U000002__idx.sql"
            ]
        );
        let text = |n: &str| &c.files.iter().find(|f| f.name == n).unwrap().text;
        assert!(!text("V000001__init.sql").starts_with("-- strata"));
        assert!(text("V000002__idx.sql").starts_with("-- strata:no-transaction"));
        assert!(text("U000002__idx.sql").starts_with("-- strata:no-transaction"));
        assert!(text("V000003__two.sql").starts_with("-- strata:no-transaction"));
        assert_eq!(text("V000004__graph.cypher"), "CREATE (:A);\n");
        assert!(c.skipped[0].1.contains("no migration"), "{:?}", c.skipped);
    }

    #[test]
    fn dbmate_sections_become_a_pair() {
        let c = convert(
            Tool::Dbmate,
            &[
                src(
                    "20200101000000_users.sql",
                    "-- migrate:up\ncreate table u (id int);\n\n-- migrate:down\ndrop table u;\n",
                ),
                src(
                    "20200102000000_idx.sql",
                    "-- migrate:up transaction:false\ncreate index concurrently i on u (id);\n\
                     -- migrate:down\n",
                ),
                src("20200103000000_bad.sql", "create table x (id int);\n"),
            ],
        );
        assert_eq!(
            names(&c),
            [
                "V20200101000000__users.sql",
                "V20200102000000__idx.sql",
                "U20200101000000__users.sql"
            ]
        );
        assert_eq!(c.files[0].text, "create table u (id int);\n");
        assert_eq!(c.files[2].text, "drop table u;\n");
        assert!(c.files[1].text.starts_with("-- strata:no-transaction\n"));
        assert!(c.skipped[0].1.contains("migrate:up"));
    }

    fn row(v: &str, kind: &str, ok: bool) -> ForeignRow {
        ForeignRow {
            version: Some(v.into()),
            kind: kind.into(),
            ok,
        }
    }

    #[test]
    fn foreign_histories_are_read_the_way_each_tool_means_them() {
        let none = BTreeMap::new();
        // golang-migrate keeps one row: everything up to it.
        assert_eq!(
            adopted_versions(
                Tool::GolangMigrate,
                &[row("3", "up-to", true)],
                &none,
                &[1, 2, 3, 4]
            ),
            Ok(vec![1, 2, 3])
        );
        let dirty = adopted_versions(
            Tool::GolangMigrate,
            &[row("3", "up-to", false)],
            &none,
            &[3],
        )
        .unwrap_err();
        assert!(dirty[0].to_string().contains("dirty"), "{}", dirty[0]);
        // Flyway: undone versions are not applied; the map gives versions.
        let map: BTreeMap<String, u64> = [("1".into(), 1), ("1.1".into(), 2)].into();
        let rows = [
            row("1", "applied", true),
            row("1.1", "applied", true),
            row("1.1", "undone", true),
        ];
        assert_eq!(
            adopted_versions(Tool::Flyway, &rows, &map, &[1, 2]),
            Ok(vec![1])
        );
        // A version with no file, and one the map does not know.
        let missing =
            adopted_versions(Tool::Flyway, &[row("2.5", "applied", true)], &map, &[1]).unwrap_err();
        assert!(
            missing[0].to_string().contains("migrate import"),
            "{}",
            missing[0]
        );
        let no_file =
            adopted_versions(Tool::Sqlx, &[row("7", "applied", true)], &none, &[1]).unwrap_err();
        assert!(
            no_file[0].to_string().contains("no migration file"),
            "{}",
            no_file[0]
        );
        let failed =
            adopted_versions(Tool::Sqlx, &[row("1", "applied", false)], &none, &[1]).unwrap_err();
        assert!(
            failed[0].to_string().contains("success = false"),
            "{}",
            failed[0]
        );
    }

    #[test]
    fn history_queries_quote_the_table() {
        assert!(
            history_query(Tool::Dbmate, "app.schema_migrations")
                .contains("FROM \"app\".\"schema_migrations\"")
        );
    }
}
