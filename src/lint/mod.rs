//! Lint for pending files: what each statement will lock and rewrite on a
//! live system. PostgreSQL files get squawk's rules (the `squawk-linter`
//! crate) and strata's own lock table ([`locks`]); Elasticsearch and
//! Qdrant operations that rebuild or close things get findings of the same
//! shape from their backends' descriptions. Pure: sizes come in as data.

pub mod locks;

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::{Finding, Level};
use crate::split::{line_col_of_char, sql_statements};

/// The rule name of strata's own lock findings.
pub const LOCK_RULE: &str = "lock";

pub use crate::finding::{LintSettings, TableSize};

/// squawk rules about style and idiom rather than a live system's safety:
/// `info` unless configured otherwise.
#[cfg(feature = "lint")]
const STYLE_RULES: &[&str] = &[
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-robust-stmts",
    "prefer-text-field",
    "prefer-timestamp-tz",
    "prefer-timestamptz",
    "ban-char-field",
    "identifier-too-long",
    "require-table-schema",
    "require-lock-timeout",
    "require-statement-timeout",
    "require-timeout-settings",
    "prefer-repack",
    "unused-ignore",
];

/// The findings of one `.sql` file: squawk's, then one `lock` finding per
/// statement that locks an existing relation. `text` is the file as it
/// runs: a `BEGIN; … COMMIT;` around a whole transactional file, which
/// strata runs as if absent, blanked out (the PostgreSQL format's
/// `transaction_body`), so squawk's transaction-nesting rule does not fire
/// on what strata accepts. `transactional` says whether
/// strata runs the file in one transaction; `pg_major` is the server's
/// major version when known (squawk's rules depend on it).
///
/// `created` holds the tables earlier pending files create; this file's
/// `CREATE TABLE`s are added. Locks on them are not findings: nobody is
/// using a table that does not exist yet.
pub fn lint_sql(
    file: &str,
    text: &str,
    transactional: bool,
    pg_major: Option<u32>,
    created: &mut BTreeSet<String>,
) -> Vec<Finding> {
    let statements = sql_statements(text).unwrap_or_default();
    // (start, end, effect on an existing table, whether the statement is
    // on a table the pending files create)
    let mut effects: Vec<(usize, usize, Option<locks::Effect>, bool)> = Vec::new();
    for s in &statements {
        if let Some(table) = locks::created_table(&s.tokens) {
            created.insert(table);
        }
        // A table the pending files create is still new under another
        // name, and so are the indexes built on it.
        if let Some((old, new)) = locks::renamed_table(&s.tokens)
            && created.contains(&old)
        {
            created.insert(new);
        }
        if let Some((index, table)) = locks::created_index(&s.tokens)
            && created.contains(&table)
        {
            if let Some((_, bare)) = index.rsplit_once('.') {
                created.insert(bare.to_string());
            }
            created.insert(index);
        }
        let effect = locks::effect(&s.tokens);
        let new = effect.as_ref().is_some_and(|e| created.contains(&e.table));
        effects.push((
            s.offset,
            s.offset + s.text.len(),
            effect.filter(|_| !new),
            new,
        ));
    }
    #[cfg(feature = "lint")]
    let statement_at = |offset: usize| {
        effects
            .iter()
            .find(|(start, end, ..)| (*start..=*end).contains(&offset))
    };
    #[cfg(feature = "lint")]
    let effect_at = |offset: usize| statement_at(offset).and_then(|(_, _, e, _)| e.clone());
    #[cfg(feature = "lint")]
    let on_new_table = |offset: usize| statement_at(offset).is_some_and(|(.., new)| *new);
    let position = |offset: usize| {
        let chars = text[..offset.min(text.len())].chars().count();
        line_col_of_char(text, chars + 1)
    };
    let mut findings = Vec::new();

    #[cfg(feature = "lint")]
    for v in squawk(text, transactional, pg_major) {
        let (line, column) = position(v.offset);
        let effect = effect_at(v.offset);
        findings.push(Finding {
            file: file.to_string(),
            line,
            column,
            // A rule about a live table says nothing about a new one.
            level: if STYLE_RULES.contains(&v.rule.as_str()) || on_new_table(v.offset) {
                Level::Info
            } else {
                Level::Warning
            },
            rule: v.rule,
            message: v.message,
            help: v.help,
            table: effect
                .as_ref()
                .filter(|e| !e.on_index())
                .map(|e| e.table.clone()),
            lock: effect.as_ref().map(|e| e.lock.to_string()),
            rewrite: effect.as_ref().is_some_and(|e| e.rewrite),
            scan: effect.as_ref().is_some_and(|e| e.scan),
            rows: None,
            bytes: None,
        });
    }
    #[cfg(not(feature = "lint"))]
    let _ = (transactional, pg_major);
    for (start, _, effect, _) in &effects {
        let Some(e) = effect else { continue };
        let (line, column) = position(*start);
        let what = match (e.rewrite, e.scan) {
            (true, _) => "; rewrites every row",
            (false, true) => "; reads every row",
            _ => "",
        };
        findings.push(Finding {
            file: file.to_string(),
            line,
            column,
            rule: LOCK_RULE.to_string(),
            level: if e.long_block() {
                Level::Warning
            } else {
                Level::Info
            },
            message: format!(
                "{}: takes {} on {} ({}){what}",
                e.form,
                e.lock,
                e.target(),
                e.lock.blocks()
            ),
            help: None,
            table: (!e.on_index()).then(|| e.table.clone()),
            lock: Some(e.lock.to_string()),
            rewrite: e.rewrite,
            scan: e.scan,
            rows: None,
            bytes: None,
        });
    }
    let ignored = ignores(text, &statements);
    findings.retain(|f| {
        !ignored
            .iter()
            .any(|(lines, rule)| lines.contains(&f.line) && (rule == &f.rule || rule == "all"))
    });
    findings.sort_by(|a, b| (a.line, a.column, &a.rule).cmp(&(b.line, b.column, &b.rule)));
    findings
}

/// One squawk violation, where it starts.
#[cfg(feature = "lint")]
struct Violation {
    offset: usize,
    rule: String,
    message: String,
    help: Option<String>,
}

/// squawk's default rules over `text`; its own `-- squawk-ignore`
/// comments are honoured by squawk itself.
#[cfg(feature = "lint")]
fn squawk(text: &str, transactional: bool, pg_major: Option<u32>) -> Vec<Violation> {
    let parse = squawk_syntax::SourceFile::parse(text);
    // squawk's timeout rules are opt-in in squawk's own configuration
    // (`require-timeout-settings`); strata leaves them off too.
    use squawk_linter::Rule;
    let mut linter = squawk_linter::Linter::with_rules(
        &[],
        &[Rule::RequireLockTimeout, Rule::RequireStatementTimeout],
    );
    linter.settings.assume_in_transaction = transactional;
    if let Some(version) = pg_major.and_then(|v| v.to_string().parse().ok()) {
        linter.settings.pg_version = version;
    }
    linter
        .lint(&parse, text)
        .into_iter()
        .map(|v| Violation {
            offset: usize::from(v.text_range.start()),
            rule: v.code.to_string(),
            message: v.message,
            help: v.help,
        })
        .collect()
}

/// `-- strata:lint-ignore RULE[, RULE…]` (or `all`): before the first
/// statement, for the whole file; elsewhere, for the statement that
/// follows. Returns (the lines covered, the rule).
fn ignores(
    text: &str,
    statements: &[crate::split::SqlStatement],
) -> Vec<(std::ops::RangeInclusive<usize>, String)> {
    let line_of = |offset: usize| crate::split::line_of(text, offset);
    let spans: Vec<(usize, usize)> = statements
        .iter()
        .map(|s| (line_of(s.offset), line_of(s.offset + s.text.len())))
        .collect();
    let first = spans.first().map_or(usize::MAX, |s| s.0);
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let Some(rest) = l.trim().strip_prefix("--").map(str::trim) else {
            continue;
        };
        let Some(rules) = rest.strip_prefix("strata:lint-ignore") else {
            continue;
        };
        let line = i + 1;
        let lines = if line < first {
            1..=usize::MAX
        } else {
            match spans.iter().find(|s| s.0 > line) {
                Some(&(a, b)) => a..=b,
                None => continue,
            }
        };
        for rule in rules
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|r| !r.is_empty())
        {
            out.push((lines.clone(), rule.to_string()));
        }
    }
    out
}

/// Sets each finding's table size and raises or lowers its level: a
/// blocking lock, rewrite or scan (strata's `lock` at `warning`, or a
/// squawk safety rule) on a table whose estimate reaches
/// `large_table_rows` is an `error`; configured rule levels come last, and
/// rules turned off are dropped.
pub fn grade(
    findings: &mut Vec<Finding>,
    sizes: &BTreeMap<String, TableSize>,
    settings: &LintSettings,
) {
    for f in findings.iter_mut() {
        let size = f
            .table
            .as_deref()
            .and_then(|t| sizes.get(t).or_else(|| sizes.get(&format!("public.{t}"))));
        if let Some(size) = size {
            f.rows = Some(size.rows);
            f.bytes = Some(size.bytes);
            if f.level == Level::Warning
                && (f.rewrite || f.scan || f.rule != LOCK_RULE)
                && size.rows >= settings.large_table_rows
            {
                f.level = Level::Error;
            }
        }
    }
    findings.retain_mut(|f| match settings.rules.get(&f.rule) {
        Some(None) => false,
        Some(Some(level)) => {
            f.level = *level;
            true
        }
        None => true,
    });
}

/// Every table the findings name, to ask the server about.
pub fn tables(findings: &[Finding]) -> BTreeSet<String> {
    findings.iter().filter_map(|f| f.table.clone()).collect()
}

/// Whether any finding reaches `level`.
pub fn fails(findings: &[Finding], level: Level) -> bool {
    findings.iter().any(|f| f.level >= level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "lint")]
    fn rules(findings: &[Finding]) -> Vec<(String, Level)> {
        findings.iter().map(|f| (f.rule.clone(), f.level)).collect()
    }

    // squawk's rules come with the lint feature.
    #[cfg(feature = "lint")]
    #[test]
    fn the_unsafe_forms_are_warnings_and_the_safe_ones_are_not() {
        for sql in [
            "ALTER TABLE messages ADD COLUMN x uuid DEFAULT gen_random_uuid();",
            "CREATE INDEX messages_x ON messages (x);",
            "ALTER TABLE messages ALTER COLUMN id TYPE bigint;",
            "ALTER TABLE messages ADD FOREIGN KEY (account_id) REFERENCES accounts (id);",
        ] {
            let f = lint_sql("V2__x.sql", sql, true, Some(15), &mut BTreeSet::new());
            assert!(
                f.iter()
                    .any(|f| f.rule == LOCK_RULE && f.level == Level::Warning),
                "{sql}: {:?}",
                rules(&f)
            );
            assert!(
                f.iter()
                    .any(|f| f.rule != LOCK_RULE && f.level == Level::Warning),
                "{sql}: squawk said nothing: {:?}",
                rules(&f)
            );
        }
        for (sql, transactional) in [
            (
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_x ON messages (x);",
                false,
            ),
            (
                "ALTER TABLE messages ADD CONSTRAINT f FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;",
                true,
            ),
            ("ALTER TABLE messages VALIDATE CONSTRAINT f;", true),
            (
                "ALTER TABLE messages ADD COLUMN note text DEFAULT 'none';",
                true,
            ),
        ] {
            let f = lint_sql(
                "V3__x.sql",
                sql,
                transactional,
                Some(15),
                &mut BTreeSet::new(),
            );
            assert!(!fails(&f, Level::Warning), "{sql}: {f:#?}");
        }
    }

    #[test]
    fn sizes_raise_blocking_findings_to_errors() {
        let mut f = lint_sql(
            "V2__x.sql",
            "CREATE INDEX i ON messages (x);",
            true,
            Some(15),
            &mut BTreeSet::new(),
        );
        let sizes = BTreeMap::from([(
            "public.messages".to_string(),
            TableSize {
                rows: 250_000,
                bytes: 40_000_000,
            },
        )]);
        grade(&mut f, &sizes, &LintSettings::default());
        let lock = f.iter().find(|f| f.rule == LOCK_RULE).unwrap();
        assert_eq!(lock.level, Level::Error);
        assert_eq!(lock.rows, Some(250_000));
        assert!(
            lock.to_string()
                .contains("V2__x.sql:1:1: error [lock] CREATE INDEX: takes SHARE on messages"),
            "{lock}"
        );
        assert!(lock.to_string().contains("~250000 rows, 40.0 MB"), "{lock}");
        // A rule turned off, a rule's level set.
        let settings = LintSettings {
            rules: BTreeMap::from([
                (LOCK_RULE.to_string(), None),
                (
                    "require-concurrent-index-creation".to_string(),
                    Some(Level::Info),
                ),
            ]),
            ..LintSettings::default()
        };
        grade(&mut f, &sizes, &settings);
        assert!(!fails(&f, Level::Warning), "{f:#?}");
    }

    #[test]
    fn renamed_new_tables_their_indexes_and_a_whole_file_wrapper_raise_no_alarm() {
        let mut created = BTreeSet::new();
        let first = lint_sql(
            "V1__x.sql",
            "CREATE TABLE identities_new (id int);
             CREATE INDEX identities_id ON identities_new (id);
             ALTER TABLE identities_new RENAME TO identities;
",
            true,
            Some(15),
            &mut created,
        );
        assert!(!fails(&first, Level::Warning), "{first:#?}");
        let later = lint_sql(
            "V2__y.sql",
            "ALTER TABLE identities ADD COLUMN n int NOT NULL DEFAULT 0;
             ALTER TABLE identities ALTER COLUMN id TYPE bigint;
             DROP INDEX identities_id;
",
            true,
            Some(15),
            &mut created,
        );
        assert!(!fails(&later, Level::Warning), "{later:#?}");
        // DROP INDEX on a live table names the index's table, not the index.
        let live = lint_sql(
            "V4__w.sql",
            "DROP INDEX old_idx;
",
            true,
            Some(15),
            &mut created,
        );
        let lock = live.iter().find(|f| f.rule == LOCK_RULE).unwrap();
        assert!(
            lock.message.contains("on the table of index old_idx"),
            "{lock}"
        );
        assert_eq!(lock.table, None);
    }

    #[test]
    fn tables_created_by_pending_files_are_not_locked_by_anyone() {
        let mut created = BTreeSet::new();
        let f = lint_sql(
            "V1__x.sql",
            "CREATE TABLE t (id int);\nCREATE INDEX i ON t (id);\n",
            true,
            None,
            &mut created,
        );
        assert!(!fails(&f, Level::Warning), "{f:#?}");
        let later = lint_sql(
            "V2__y.sql",
            "CREATE INDEX j ON t (id);\n",
            true,
            None,
            &mut created,
        );
        assert!(!fails(&later, Level::Warning), "{later:#?}");
        let other = lint_sql(
            "V2__y.sql",
            "CREATE INDEX j ON u (id);\n",
            true,
            None,
            &mut created,
        );
        assert!(fails(&other, Level::Warning), "{other:#?}");
    }

    #[test]
    fn ignore_comments_cover_a_statement_or_the_file() {
        let text = "CREATE INDEX a ON t (x);\n-- strata:lint-ignore lock, require-concurrent-index-creation\nCREATE INDEX b ON t (x);\n";
        let f = lint_sql("V1__x.sql", text, true, None, &mut BTreeSet::new());
        assert!(f.iter().all(|f| f.line == 1), "{f:#?}");
        let whole =
            "-- strata:lint-ignore all\nCREATE INDEX a ON t (x);\nCREATE INDEX b ON t (x);\n";
        assert!(lint_sql("V1__x.sql", whole, true, None, &mut BTreeSet::new()).is_empty());
        // squawk's own ignore comment works too.
        let squawk =
            "-- squawk-ignore require-concurrent-index-creation\nCREATE INDEX a ON t (x);\n";
        let f = lint_sql("V1__x.sql", squawk, true, None, &mut BTreeSet::new());
        assert!(
            f.iter()
                .all(|f| f.rule != "require-concurrent-index-creation"),
            "{f:#?}"
        );
    }
}
