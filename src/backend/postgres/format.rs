//! What a `.sql` file may say, checked before anything runs. Pure.
//!
//! - A first-line `-- strata:no-transaction` runs the file statement by
//!   statement; otherwise it runs in one transaction with its record.
//! - A transactional file must not end that transaction: top-level
//!   `BEGIN`, `COMMIT`, `ROLLBACK`, `END`, `ABORT`, `START TRANSACTION`,
//!   `PREPARE TRANSACTION`, `COMMIT/ROLLBACK PREPARED` are refused, except
//!   one leading `BEGIN;` with one trailing `COMMIT;` wrapping the whole
//!   file (golang-migrate's habit), which run as if absent.
//! - Statements PostgreSQL refuses inside a transaction block (`CREATE
//!   INDEX CONCURRENTLY`, `VACUUM`, …) are refused in a transactional file,
//!   with the directive as the remedy.
//! - No file may name strata's own history table.
//! - psql meta-commands (`\connect`, `\set`, …) are not SQL.

use std::borrow::Cow;

use crate::kind::Kind;
use crate::script::{
    FileError, Format, LOCK_TIMEOUT_DIRECTIVE, NO_TRANSACTION_DIRECTIVE, Reading, TransactionMode,
};
use crate::split::{SqlStatement, Token, TokenKind, line_col_of_char, sql_statements};

/// How `.sql` files are read, for a database whose history lives in
/// `history_table`.
#[derive(Debug, Clone)]
pub struct SqlFormat {
    schema: Option<String>,
    table: String,
}

impl Default for SqlFormat {
    fn default() -> Self {
        SqlFormat::new(crate::config::DEFAULT_HISTORY_TABLE)
    }
}

impl SqlFormat {
    /// The format for a database whose history table is `history_table`
    /// (`name` or `schema.name`, as configured).
    pub fn new(history_table: &str) -> Self {
        match history_table.split_once('.') {
            Some((schema, table)) => SqlFormat {
                schema: Some(schema.to_string()),
                table: table.to_string(),
            },
            None => SqlFormat {
                schema: None,
                table: history_table.to_string(),
            },
        }
    }

    fn history_shown(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.table),
            None => self.table.clone(),
        }
    }
}

/// Each `-- strata:lock-timeout VALUE` among the comment lines before the
/// first statement: its 1-based line and the value as written.
fn lock_timeout_lines(content: &str) -> Vec<(usize, &str)> {
    content
        .lines()
        .enumerate()
        .take_while(|(_, l)| {
            let l = l.trim();
            l.is_empty() || l.starts_with("--")
        })
        .filter_map(|(i, l)| {
            l.trim()
                .strip_prefix(LOCK_TIMEOUT_DIRECTIVE)
                .map(|v| (i + 1, v.trim()))
        })
        .collect()
}

/// An error at a token of the file.
fn at(content: &str, offset: usize, message: String) -> FileError {
    let chars = content[..offset].chars().count();
    let (line, column) = line_col_of_char(content, chars + 1);
    FileError {
        line: Some(line),
        column: Some(column),
        message,
    }
}

impl Format for SqlFormat {
    fn kind(&self) -> Kind {
        Kind::Postgres
    }

    fn is_noop(&self, content: &str) -> bool {
        sql_statements(content).is_ok_and(|s| s.is_empty())
    }

    fn lock_timeout(&self, content: &str) -> Option<Option<std::time::Duration>> {
        // The last one given wins; `read` refused a value that does not parse.
        lock_timeout_lines(content)
            .last()
            .and_then(|(_, v)| crate::config::timeouts::parse_timeout(v).ok())
    }

    fn read(&self, content: &str) -> Result<Reading, FileError> {
        let first = content.lines().next().unwrap_or("").trim();
        let mode = if first == NO_TRANSACTION_DIRECTIVE {
            TransactionMode::NoTransaction
        } else if let Some(other) = first
            .strip_prefix("-- strata:")
            .filter(|o| !o.starts_with("lint-ignore") && !o.starts_with("lock-timeout"))
        {
            return Err(FileError::from(format!(
                "line 1: unknown directive \"strata:{other}\" (the only one is {NO_TRANSACTION_DIRECTIVE})"
            )));
        } else {
            TransactionMode::Transaction
        };
        for (line, value) in lock_timeout_lines(content) {
            crate::config::timeouts::parse_timeout(value).map_err(|m| FileError {
                line: Some(line),
                column: None,
                message: format!("{LOCK_TIMEOUT_DIRECTIVE}: {m}"),
            })?;
        }
        let statements = sql_statements(content)
            .map_err(|e| FileError::from(format!("line {}: {}", e.line, e.message)))?;
        if mode == TransactionMode::NoTransaction && statements.is_empty() {
            return Err("holds no statement".to_string().into());
        }
        for s in &statements {
            if let Some(meta) = s.tokens.iter().find(|t| t.kind == TokenKind::MetaCommand) {
                let command = meta.text.split_whitespace().next().unwrap_or(meta.text);
                return Err(at(
                    content,
                    meta.offset,
                    format!(
                        "{command} is a psql meta-command, not SQL: the server cannot run it. \
                         Remove it (strata connects to the configured database itself)"
                    ),
                ));
            }
        }
        if mode == TransactionMode::Transaction {
            let wrapper = wrapper(&statements);
            for (i, s) in statements.iter().enumerate() {
                if let Some(what) = transaction_control(&s.tokens)
                    && !wrapper.contains(&i)
                {
                    return Err(at(
                        content,
                        s.offset,
                        format!(
                            "{what} inside a transactional file would end the transaction strata \
                             runs the file and its history record in, so a failure would leave \
                             part of the file applied and unrecorded. Remove it (strata commits \
                             the file as a whole), or put `{NO_TRANSACTION_DIRECTIVE}` on the \
                             first line to run the file statement by statement"
                        ),
                    ));
                }
                if let Some(what) = needs_no_transaction(&s.tokens) {
                    return Err(at(
                        content,
                        s.offset,
                        format!(
                            "{what} cannot run inside a transaction block: mark the file \
                             `{NO_TRANSACTION_DIRECTIVE}` (first line) and keep such \
                             statements in files of their own"
                        ),
                    ));
                }
            }
        }
        for s in &statements {
            if let Some(t) = self.names_history(&s.tokens) {
                return Err(at(
                    content,
                    t.offset,
                    format!(
                        "names {}, strata's own history table (setting history_table): a \
                         migration must never read or change it. If your application has a \
                         table of that name, set history_table to another name",
                        self.history_shown()
                    ),
                ));
            }
        }
        Ok(Reading {
            mode,
            operations: Vec::new(),
        })
    }
}

impl SqlFormat {
    /// The first token naming the history table: `schema.table` as
    /// configured, or the bare table name (`public.table` too, when the
    /// configured name has no schema). Identifiers compare the way
    /// PostgreSQL resolves them; strata creates the table quoted, exactly
    /// as configured. Dollar-quoted bodies (functions, `DO`) are read too.
    fn names_history<'a>(&self, tokens: &[Token<'a>]) -> Option<Token<'a>> {
        for (i, t) in tokens.iter().enumerate() {
            if t.kind == TokenKind::DollarBody {
                let tag_len = t.text[1..].find('$').map_or(1, |n| n + 2);
                let body = &t.text[tag_len..t.text.len() - tag_len];
                if let Ok(inner) = crate::split::lex_sql(body)
                    && let Some(found) = self.names_history(&inner)
                {
                    return Some(Token {
                        offset: t.offset + tag_len + found.offset,
                        ..found
                    });
                }
                continue;
            }
            if !t.is_identifier(&self.table) {
                continue;
            }
            let dotted = i >= 2 && tokens[i - 1].text == ".";
            let qualifier = dotted.then(|| tokens[i - 2].identifier()).flatten();
            let matches = match (&self.schema, qualifier.as_deref()) {
                (Some(schema), Some(q)) => schema == q,
                (Some(_), None) => false,
                (None, None) => !dotted,
                (None, Some(q)) => q == "public",
            };
            if matches {
                return Some(if dotted { tokens[i - 2] } else { *t });
            }
        }
        None
    }
}

/// The statements of a `BEGIN; … COMMIT;` wrapper around the whole file,
/// when that is the file's only transaction control.
fn wrapper(statements: &[SqlStatement]) -> Vec<usize> {
    let plain = |s: &SqlStatement, starts: &[&str], rest: &[&str]| {
        let t = &s.tokens;
        !t.is_empty()
            && starts.iter().any(|w| t[0].is(w))
            && t.len() <= 2
            && t[1..].iter().all(|x| rest.iter().any(|w| x.is(w)))
    };
    let n = statements.len();
    if n < 2 {
        return Vec::new();
    }
    let opens = plain(&statements[0], &["begin"], &["work", "transaction"])
        || (statements[0].tokens.len() == 2
            && statements[0].tokens[0].is("start")
            && statements[0].tokens[1].is("transaction"));
    let closes = plain(
        &statements[n - 1],
        &["commit", "end"],
        &["work", "transaction"],
    );
    let others_clean = statements[1..n - 1]
        .iter()
        .all(|s| transaction_control(&s.tokens).is_none());
    if opens && closes && others_clean {
        vec![0, n - 1]
    } else {
        Vec::new()
    }
}

/// A file's text as it runs: a `BEGIN; … COMMIT;` wrapper blanked out
/// (same length, so the server's error positions still point into the
/// file), anything else unchanged.
pub fn transaction_body(content: &str) -> Cow<'_, str> {
    let Ok(statements) = sql_statements(content) else {
        return Cow::Borrowed(content);
    };
    let wrapped = wrapper(&statements);
    if wrapped.is_empty() {
        return Cow::Borrowed(content);
    }
    let mut text = content.to_string();
    for i in wrapped {
        let s = &statements[i];
        // The statement and its `;`, which follows it after white space.
        let mut end = s.offset + s.text.len();
        if let Some(semi) = content[end..].find(';') {
            end += semi + 1;
        }
        text.replace_range(s.offset..end, &" ".repeat(end - s.offset));
    }
    Cow::Owned(text)
}

/// What a `CREATE INDEX … CONCURRENTLY` or `REINDEX … CONCURRENTLY`
/// builds: such a build that fails or is interrupted leaves an INVALID
/// index behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurrentBuild {
    /// The index, as PostgreSQL resolves the name (without its schema),
    /// when the statement names one.
    pub index: Option<String>,
    /// The table, as written (`schema.name` or `name`), when the statement
    /// names one instead.
    pub table: Option<String>,
}

/// Every concurrent index build of a `.sql` file. Pure.
pub fn concurrent_builds(content: &str) -> Vec<ConcurrentBuild> {
    let Ok(statements) = sql_statements(content) else {
        return Vec::new();
    };
    statements
        .iter()
        .filter_map(|s| concurrent_build(&s.tokens))
        .collect()
}

/// The concurrent build one statement makes, if it makes one.
pub fn concurrent_build(tokens: &[Token]) -> Option<ConcurrentBuild> {
    let w = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is(word));
    // The last part of a possibly qualified name starting at `i`, and
    // the whole name as written.
    let name_at = |mut i: usize| -> Option<(String, String)> {
        let mut last = tokens.get(i)?.identifier()?;
        let mut written = last.clone();
        while tokens.get(i + 1).is_some_and(|t| t.text == ".") {
            last = tokens.get(i + 2)?.identifier()?;
            written.push('.');
            written.push_str(&last);
            i += 2;
        }
        Some((last, written))
    };
    if w(0, "create") {
        let mut i = 1;
        if w(i, "unique") {
            i += 1;
        }
        if !(w(i, "index") && w(i + 1, "concurrently")) {
            return None;
        }
        i += 2;
        if w(i, "if") && w(i + 1, "not") && w(i + 2, "exists") {
            i += 3;
        }
        if w(i, "on") {
            let at = if w(i + 1, "only") { i + 2 } else { i + 1 };
            return Some(ConcurrentBuild {
                index: None,
                table: name_at(at).map(|(_, t)| t),
            });
        }
        return Some(ConcurrentBuild {
            index: name_at(i).map(|(n, _)| n),
            table: None,
        });
    }
    if w(0, "reindex") {
        // REINDEX [(options)] {INDEX|TABLE|…} CONCURRENTLY name
        let mut i = 1;
        if tokens.get(1).is_some_and(|t| t.text == "(") {
            i = tokens.iter().position(|t| t.text == ")")? + 1;
        }
        let what = tokens.get(i)?;
        if !w(i + 1, "concurrently") {
            return None;
        }
        let (last, written) = name_at(i + 2)?;
        return Some(if what.is("index") {
            ConcurrentBuild {
                index: Some(last),
                table: None,
            }
        } else if what.is("table") {
            ConcurrentBuild {
                index: None,
                table: Some(written),
            }
        } else {
            ConcurrentBuild {
                index: None,
                table: None,
            }
        });
    }
    None
}

/// What a top-level transaction-control statement is, if this is one.
fn transaction_control(tokens: &[Token]) -> Option<String> {
    let w = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is(word));
    let shown = |n: usize| {
        tokens[..n.min(tokens.len())]
            .iter()
            .map(|t| t.text.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if w(0, "begin") || w(0, "commit") || w(0, "end") || w(0, "abort") {
        return Some(shown(if w(1, "prepared") { 2 } else { 1 }));
    }
    if w(0, "rollback") && !(w(1, "to") || (w(1, "work") || w(1, "transaction")) && w(2, "to")) {
        return Some(shown(if w(1, "prepared") { 2 } else { 1 }));
    }
    if (w(0, "start") || w(0, "prepare")) && w(1, "transaction") {
        return Some(shown(2));
    }
    None
}

/// Why a file cannot run as one transaction, if it cannot: it ends or
/// starts transactions itself (beyond a whole-file `BEGIN; … COMMIT;`), or
/// holds a statement PostgreSQL refuses inside a transaction block. Such a
/// file needs the no-transaction directive. Pure.
pub fn needs_no_transaction_file(content: &str) -> Option<String> {
    let statements = sql_statements(content).ok()?;
    let wrapper = wrapper(&statements);
    statements.iter().enumerate().find_map(|(i, s)| {
        if let Some(what) = transaction_control(&s.tokens).filter(|_| !wrapper.contains(&i)) {
            return Some(format!("it runs {what} itself"));
        }
        needs_no_transaction(&s.tokens).map(|what| format!("{what} cannot run in a transaction"))
    })
}

/// What a statement PostgreSQL refuses inside a transaction block is, if
/// this is one.
fn needs_no_transaction(tokens: &[Token]) -> Option<String> {
    let w = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is(word));
    let concurrently = tokens.iter().any(|t| t.is("concurrently"));
    if w(0, "create") && concurrently && (w(1, "index") || (w(1, "unique") && w(2, "index"))) {
        return Some("CREATE INDEX CONCURRENTLY".into());
    }
    if w(0, "drop") && w(1, "index") && w(2, "concurrently") {
        return Some("DROP INDEX CONCURRENTLY".into());
    }
    if w(0, "reindex") && concurrently {
        return Some("REINDEX … CONCURRENTLY".into());
    }
    if w(0, "alter") && w(1, "table") && concurrently && tokens.iter().any(|t| t.is("detach")) {
        return Some("DETACH PARTITION … CONCURRENTLY".into());
    }
    if w(0, "vacuum") {
        return Some("VACUUM".into());
    }
    for (a, b) in [
        ("create", "database"),
        ("drop", "database"),
        ("alter", "system"),
        ("create", "tablespace"),
        ("drop", "tablespace"),
    ] {
        if w(0, a) && w(1, b) {
            return Some(format!(
                "{} {}",
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, SourceFile};

    fn f(name: &str, text: &str) -> SourceFile {
        SourceFile {
            path: std::path::PathBuf::from(name),
            bytes: text.as_bytes().to_vec(),
        }
    }

    // The catalog read with SQL's rules: pairs, modes, file-named errors.
    #[test]
    fn catalog_sorts_pairs_and_detects_modes() {
        let cat = Catalog::from_files(
            &SqlFormat::default(),
            vec![
                f("V10__ten.sql", "select 10;"),
                f(
                    "V2__two.sql",
                    "-- strata:no-transaction\ncreate index concurrently i on t(a);",
                ),
                f("README.md", "docs"),
            ],
            vec![f("U10__ten.sql", "select -10;")],
        )
        .unwrap();
        let versions: Vec<u64> = cat.migrations.iter().map(|m| m.version).collect();
        assert_eq!(versions, [2, 10]);
        assert_eq!(
            cat.migrations[0].script.mode,
            TransactionMode::NoTransaction
        );
        assert_eq!(cat.migrations[1].script.mode, TransactionMode::Transaction);
        assert!(cat.migrations[0].rollback.is_none());
        assert_eq!(
            cat.get(10).unwrap().rollback.as_ref().unwrap().content,
            "select -10;"
        );
    }

    fn err(m: Vec<SourceFile>, r: Vec<SourceFile>) -> String {
        Catalog::from_files(&SqlFormat::default(), m, r)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn catalog_errors_name_the_file() {
        let e = err(vec![f("V1__a.sql", "x"), f("V01__b.sql", "y")], vec![]);
        assert!(
            e.contains("V1__a.sql") && e.contains("duplicate version 1"),
            "{e}"
        );
        let e = err(vec![f("V1__a.sql", "x")], vec![f("U2__b.sql", "y")]);
        assert!(
            e.starts_with("U2__b.sql") && e.contains("no migration V2"),
            "{e}"
        );
        let e = err(
            vec![SourceFile {
                path: "V1__bin.sql".into(),
                bytes: vec![b's', 0xff, 0xfe],
            }],
            vec![],
        );
        assert!(e.starts_with("V1__bin.sql") && e.contains("UTF-8"), "{e}");
        let e = err(vec![f("V1__empty.sql", " \n\n")], vec![]);
        assert!(e.contains("V1__empty.sql") && e.contains("empty"), "{e}");
        let e = err(
            vec![f("V1__d.sql", "-- strata:no-transactoin\nselect 1;")],
            vec![],
        );
        assert!(
            e.contains("line 1") && e.contains("unknown directive"),
            "{e}"
        );
        let e = err(
            vec![f(
                "V1__q.sql",
                "-- strata:no-transaction\nselect 1;\nselect 'x;",
            )],
            vec![],
        );
        assert!(
            e.contains("V1__q.sql") && e.contains("line 3") && e.contains("unterminated"),
            "{e}"
        );
        let e = err(vec![f("U1__a.sql", "x")], vec![]);
        assert!(e.contains("rollbacks folder"), "{e}");
        let e = err(
            vec![f("V1__a.sql", "x")],
            vec![f("U1__a.sql", "y"), f("U001__b.sql", "z")],
        );
        assert!(e.contains("duplicate rollback"), "{e}");
    }

    fn read(text: &str) -> Result<Reading, FileError> {
        SqlFormat::default().read(text)
    }

    fn refused(text: &str) -> FileError {
        read(text).expect_err(text)
    }

    #[test]
    fn modes_and_directives() {
        assert_eq!(
            read("select 1;").unwrap().mode,
            TransactionMode::Transaction
        );
        assert_eq!(
            read("-- strata:no-transaction\ncreate index concurrently i on t(a);")
                .unwrap()
                .mode,
            TransactionMode::NoTransaction
        );
        assert!(
            refused("-- strata:no-transactoin\nselect 1;")
                .message
                .contains("unknown directive")
        );
        assert!(
            refused("-- strata:no-transaction\nselect 1;\nselect 'x;")
                .message
                .contains("line 3: unterminated")
        );
    }

    #[test]
    fn transaction_control_is_refused_where_it_ends_strata_transaction() {
        for (text, line, col, what) in [
            (
                "create table a (x int);\ncommit;\ncreate table b (x int);",
                2,
                1,
                "COMMIT",
            ),
            ("COMMIT; DROP TABLE x;", 1, 1, "COMMIT"),
            ("create table a();\n  rollback;", 2, 3, "ROLLBACK"),
            ("select 1;\nBEGIN;\nselect 2;\nCOMMIT;", 2, 1, "BEGIN"),
            ("start transaction;", 1, 1, "START TRANSACTION"),
            ("prepare transaction 'x';", 1, 1, "PREPARE TRANSACTION"),
            ("commit prepared 'x';", 1, 1, "COMMIT PREPARED"),
            ("select 1; abort;", 1, 11, "ABORT"),
            ("select 1; end;", 1, 11, "END"),
            (
                "begin; select 1; commit; begin; select 2; commit;",
                1,
                1,
                "BEGIN",
            ),
        ] {
            let e = refused(text);
            assert_eq!((e.line, e.column), (Some(line), Some(col)), "{text}: {e:?}");
            assert!(e.message.starts_with(what), "{text}: {}", e.message);
            assert!(e.message.contains("strata:no-transaction"), "{}", e.message);
        }
    }

    #[test]
    fn what_is_not_transaction_control_passes() {
        for text in [
            "savepoint a; select 1; rollback to savepoint a; release a;",
            "select 1; rollback to a;",
            "create function f() returns int as $$ begin return 1; end $$ language plpgsql;",
            "do $$ begin commit; end $$;",
            "select 'commit;';",
            "-- commit;\nselect 1;",
            "create function g(a int) returns int language sql begin atomic select a; end;",
            "-- strata:no-transaction\nbegin;\ncommit;",
        ] {
            assert!(read(text).is_ok(), "{text}: {:?}", read(text));
        }
    }

    #[test]
    fn a_wrapper_around_the_whole_file_runs_as_if_absent() {
        let text = "BEGIN;\ncreate table a (x int);\ncreate table b (x int);\nCOMMIT;\n";
        assert_eq!(read(text).unwrap().mode, TransactionMode::Transaction);
        let body = transaction_body(text);
        assert_eq!(body.len(), text.len());
        assert!(
            !body.contains("BEGIN") && !body.contains("COMMIT"),
            "{body}"
        );
        assert!(body.contains("create table b"));
        for text in [
            "begin transaction;\nselect 1;\nend;",
            "START TRANSACTION; select 1; COMMIT WORK;",
        ] {
            assert!(read(text).is_ok(), "{text}");
            assert!(
                !transaction_body(text)
                    .to_lowercase()
                    .contains("begin transaction")
            );
        }
        assert_eq!(transaction_body("select 1;"), "select 1;");
        // A wrapper with more control inside is not a wrapper.
        assert!(read("begin;\nselect 1;\ncommit;\nselect 2;\ncommit;").is_err());
    }

    #[test]
    fn statements_that_refuse_a_transaction_block_want_the_directive() {
        for (text, what) in [
            (
                "create index concurrently i on t (a);",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "CREATE UNIQUE INDEX CONCURRENTLY i ON t (a);",
                "CREATE INDEX CONCURRENTLY",
            ),
            ("drop index concurrently i;", "DROP INDEX CONCURRENTLY"),
            ("reindex index concurrently i;", "REINDEX"),
            ("vacuum t;", "VACUUM"),
            ("create database x;", "CREATE DATABASE"),
            ("alter system set work_mem = '1MB';", "ALTER SYSTEM"),
            (
                "alter table p detach partition c concurrently;",
                "DETACH PARTITION",
            ),
        ] {
            let e = refused(text);
            assert!(e.message.starts_with(what), "{text}: {}", e.message);
            assert!(e.message.contains("-- strata:no-transaction"));
        }
        assert!(read("-- strata:no-transaction\ncreate index concurrently i on t (a);").is_ok());
        assert!(read("create index i on t (a);").is_ok());
    }

    #[test]
    fn the_history_table_is_out_of_bounds() {
        let f = SqlFormat::default();
        for (text, col) in [
            ("CREATE TABLE IF NOT EXISTS schema_migrations (id int);", 28),
            ("create index i on schema_migrations (version);", 19),
            ("insert into public.schema_migrations values (1);", 13),
            ("delete from \"schema_migrations\";", 13),
            ("do $$ begin delete from Schema_Migrations; end $$;", 25),
        ] {
            let e = f.read(text).expect_err(text);
            assert_eq!(e.column, Some(col), "{text}");
            assert!(e.message.contains("history_table"), "{}", e.message);
        }
        for text in [
            "create table other.schema_migrations (x int);",
            "create table \"Schema_Migrations\" (x int);",
            "select 'schema_migrations';",
            "-- schema_migrations\nselect 1;",
            "create table schema_migrations_old (x int);",
        ] {
            assert!(f.read(text).is_ok(), "{text}");
        }
        let ops = SqlFormat::new("ops.History");
        assert!(ops.read("create table ops.\"History\" ();").is_err());
        assert!(ops.read("create table ops.history ();").is_ok());
        assert!(ops.read("create table \"History\" ();").is_ok());
    }

    #[test]
    fn meta_commands_are_refused_with_their_line() {
        let e = refused("select 1;\n\\connect other\nselect 2;");
        assert_eq!((e.line, e.column), (Some(2), Some(1)));
        assert!(e.message.starts_with("\\connect is a psql meta-command"));
        let e = refused("-- strata:no-transaction\n  \\set x 1\n");
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn concurrent_builds_are_named_by_index_or_table() {
        let sql = "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"Idx_A\" ON t (a);\n\
                   create index concurrently on app.t (b);\n\
                   CREATE INDEX plain ON t (c);\n\
                   REINDEX (VERBOSE) INDEX CONCURRENTLY app.idx_b;\n\
                   REINDEX TABLE CONCURRENTLY t;\n";
        let found = concurrent_builds(sql);
        let shown: Vec<(Option<&str>, Option<&str>)> = found
            .iter()
            .map(|b| (b.index.as_deref(), b.table.as_deref()))
            .collect();
        assert_eq!(
            shown,
            vec![
                (Some("Idx_A"), None),
                (None, Some("app.t")),
                (Some("idx_b"), None),
                (None, Some("t")),
            ]
        );
    }
}
