//! Turning a tool's folder into strata's files: names, versions (Flyway's
//! dotted ones renumbered in Flyway's order), descriptions, rollbacks and
//! the no-transaction directive. Pure.

use std::collections::BTreeMap;

use super::Tool;
use crate::names::{ParsedName, Prefix, parse_name, slug};
use crate::script::NO_TRANSACTION_DIRECTIVE;

/// One file of the tool's folder: its name and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file's path within the folder, `/`-separated (`V1__a.sql`,
    /// `release_2/V2__b.sql`): the tool reads its file name.
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
    /// Whether versions were renumbered (Flyway's dotted versions, or a
    /// version 0 where 1 is taken).
    pub renumbered: bool,
    /// The tool's version 0 (strata's start at 1), taken as 1 alone when
    /// no other file has 1 and every other version is a plain number.
    pub zero_to_one: Option<String>,
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
        if file_name(&source.name).starts_with('.') {
            continue;
        }
        match recognise(tool, source) {
            Recognised::Ignored => out.ignored.push(source.name.clone()),
            Recognised::Skipped(why) => out.skipped.push((source.name.clone(), why)),
            Recognised::Parts(parts) => {
                for (version, description, ext, down, mut part) in parts {
                    // Recognisers see the file name; the path says where.
                    part.from.clone_from(&source.name);
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
    let plain = |v: &str| v.bytes().all(|b| b.is_ascii_digit());
    let zeros: Vec<&String> = ordered
        .iter()
        .map(|(v, _)| v)
        .filter(|v| plain(v) && integer(v) == Some(0))
        .collect();
    let one_taken = ordered.iter().any(|(v, _)| integer(v) == Some(1));
    if zeros.len() == 1 && !one_taken && ordered.iter().all(|(v, _)| plain(v)) {
        out.zero_to_one = Some(zeros[0].clone());
    }
    out.renumbered = out.zero_to_one.is_none()
        && ordered
            .iter()
            .any(|(v, _)| !plain(v) || integer(v) == Some(0));
    let mut migrations = Vec::new();
    let mut rollbacks = Vec::new();
    for (i, (version, entry)) in ordered.into_iter().enumerate() {
        let (number, shown) = if out.renumbered {
            (i as u64 + 1, (i + 1).to_string())
        } else {
            match integer(&version) {
                Some(0) => (1, "1".to_string()),
                Some(n) => (n, version.clone()),
                None => {
                    out.skipped.push((
                        entry
                            .up
                            .as_ref()
                            .map(|p| p.from.clone())
                            .unwrap_or_default(),
                        crate::names::too_large(&version),
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
    v.parse().ok().filter(|n| *n <= crate::names::MAX_VERSION)
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

/// The last part of a `/`-separated path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn recognise(tool: Tool, source: &Source) -> Recognised {
    let name = file_name(&source.name);
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

    #[test]
    fn files_in_subfolders_are_read_by_their_file_name() {
        let c = convert_with_conf(
            Tool::Flyway,
            &[
                src("V1__init.sql", "create table a (id int);"),
                src("release_2/V2__b.sql", "create table b (id int);"),
                src("release_2/V2__b.sql.conf", "executeInTransaction=false\n"),
                src("release_2/.V9__hidden.sql", "select 1;"),
                src("release_3/V2__again.sql", "select 1;"),
                src("release_3/notes.txt", "hi"),
            ],
        );
        assert_eq!(names(&c), ["V1__init.sql", "V2__b.sql"]);
        assert_eq!(c.files[1].from, "release_2/V2__b.sql");
        // The .conf beside the script in its subfolder still applies.
        assert_eq!(
            c.files[1].text,
            "-- strata:no-transaction\ncreate table b (id int);"
        );
        // Two files of one version, in different folders: the later one is
        // refused naming the first, as Flyway refuses both.
        assert_eq!(
            c.skipped,
            [(
                "release_3/V2__again.sql".to_string(),
                "version 2 is also release_2/V2__b.sql".to_string()
            )]
        );
        assert_eq!(c.ignored, ["release_3/notes.txt"]);
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
        let map = crate::import::mapping_text(Tool::Flyway, &c);
        let (tool, versions) = crate::import::read_mapping(&map, "imported.toml").unwrap();
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
    fn a_lone_version_zero_becomes_one_and_too_large_ones_name_the_limit() {
        let c = convert(
            Tool::Sqlx,
            &[
                src("00000000000000_init.sql", "create table a (id int);"),
                src("20210426000000_b.sql", "create table b (id int);"),
                src("9223372036854775808_c.sql", "create table c (id int);"),
            ],
        );
        assert!(!c.renumbered);
        assert_eq!(c.zero_to_one.as_deref(), Some("00000000000000"));
        assert_eq!(names(&c), ["V1__init.sql", "V20210426000000__b.sql"]);
        assert!(
            c.skipped[0].1.contains("9223372036854775807"),
            "{:?}",
            c.skipped
        );
        // With 1 taken, the whole folder is renumbered.
        let c = convert(
            Tool::Sqlx,
            &[
                src("0_init.sql", "create table a (id int);"),
                src("1_b.sql", "create table b (id int);"),
            ],
        );
        assert!(c.renumbered);
        assert_eq!(c.zero_to_one, None);
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
}
