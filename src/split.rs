//! Splitting SQL and Cypher scripts into statements at top-level `;`.
//!
//! Only `-- strata:no-transaction` files need this: PostgreSQL runs a
//! multi-statement simple query as one implicit transaction, where
//! `CREATE INDEX CONCURRENTLY` is refused, so such files are sent one
//! statement at a time. Transactional files go to the server whole.
//!
//! The SQL lexer knows single-quoted strings (`''` escapes, and backslash
//! escapes in `E'…'`), double-quoted identifiers, dollar-quoted bodies
//! (`$$…$$`, `$tag$…$tag$`), `--` line comments, nested `/* */` block
//! comments, SQL-standard `BEGIN ATOMIC … END` bodies and psql
//! meta-commands; the checks of what a file may say read its tokens.

/// One statement and where it starts in the script (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// Byte offset of the statement's first token (not of a comment
    /// before it) in the script.
    pub offset: usize,
    /// The statement text, without the terminating `;`, trimmed.
    pub text: &'a str,
}

/// Why a script could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// 1-based line where the unterminated construct starts.
    pub line: usize,
    /// What is unterminated.
    pub message: String,
}

/// What a SQL token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or unquoted identifier (compare with [`Token::is`]).
    Word,
    /// A double-quoted identifier, quotes included.
    QuotedIdent,
    /// A string constant (`'…'`, `E'…'`), quotes included.
    String,
    /// A dollar-quoted body (`$$…$$`, `$tag$…$tag$`), tags included.
    DollarBody,
    /// A psql meta-command (`\connect db`): a backslash starting a line,
    /// to the end of that line. The server would refuse it.
    MetaCommand,
    /// `;`.
    Semicolon,
    /// Anything else: numbers, operators, punctuation, one character each.
    Other,
}

/// One SQL token and where it is in the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// What it is.
    pub kind: TokenKind,
    /// Its text.
    pub text: &'a str,
    /// Byte offset of its first character in the script.
    pub offset: usize,
}

impl Token<'_> {
    /// Whether this is the keyword (or unquoted identifier) `word`, in any case.
    pub fn is(&self, word: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(word)
    }

    /// The identifier this token names as PostgreSQL resolves it: an
    /// unquoted one folded to lower case, a quoted one exactly.
    pub fn identifier(&self) -> Option<String> {
        match self.kind {
            TokenKind::Word => Some(self.text.to_ascii_lowercase()),
            TokenKind::QuotedIdent => Some(self.text[1..self.text.len() - 1].replace("\"\"", "\"")),
            _ => None,
        }
    }

    /// Whether this token is the identifier `name` (as [`identifier`]
    /// would read it), without allocating: asked of every token of every
    /// file at load.
    ///
    /// [`identifier`]: Self::identifier
    pub fn is_identifier(&self, name: &str) -> bool {
        match self.kind {
            TokenKind::Word => {
                self.text.len() == name.len()
                    && self
                        .text
                        .bytes()
                        .zip(name.bytes())
                        .all(|(a, b)| a.to_ascii_lowercase() == b)
            }
            TokenKind::QuotedIdent => {
                let inner = &self.text[1..self.text.len() - 1];
                match inner.contains("\"\"") {
                    false => inner == name,
                    true => inner.replace("\"\"", "\"") == name,
                }
            }
            _ => false,
        }
    }
}

/// One SQL statement with its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlStatement<'a> {
    /// Byte offset of the statement's first token.
    pub offset: usize,
    /// From its first token to the end of its last, without the `;`.
    pub text: &'a str,
    /// Its tokens (comments and white space are not tokens).
    pub tokens: Vec<Token<'a>>,
}

/// Reads a SQL script into tokens, as PostgreSQL's lexer would: white
/// space and comments (`--`, nested `/* */`) between them dropped.
pub fn lex_sql(sql: &str) -> Result<Vec<Token<'_>>, SplitError> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    let unterminated = |at: usize, what: &str| SplitError {
        line: line_of(sql, at),
        message: format!("unterminated {what}"),
    };
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b'\n' => {
                line_start = true;
                i += 1;
                continue;
            }
            _ if is_space(c) => {
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                loop {
                    if i + 1 >= bytes.len() {
                        return Err(unterminated(start, "block comment /* … */"));
                    }
                    if bytes[i] == b'/' && bytes[i + 1] == b'*' {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'\\' if line_start => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
                TokenKind::MetaCommand
            }
            b'\'' => {
                // E'…' takes backslash escapes; the E is the previous token.
                let backslash = matches!(out.last(), Some(Token { kind: TokenKind::Word, text, offset })
                    if text.eq_ignore_ascii_case("e") && offset + 1 == i);
                if backslash {
                    out.pop();
                }
                i = skip_quoted(bytes, i, b'\'', backslash)
                    .ok_or_else(|| unterminated(start, "string '…'"))?;
                if backslash {
                    out.push(Token {
                        kind: TokenKind::String,
                        text: &sql[start - 1..i],
                        offset: start - 1,
                    });
                    line_start = false;
                    continue;
                }
                TokenKind::String
            }
            b'"' => {
                i = skip_quoted(bytes, i, b'"', false)
                    .ok_or_else(|| unterminated(start, "quoted identifier \"…\""))?;
                TokenKind::QuotedIdent
            }
            b'$' if dollar_tag(bytes, i).is_some() => {
                let tag_len = dollar_tag(bytes, i).expect("checked");
                let tag = &sql[i..i + tag_len];
                let body = i + tag_len;
                let end = sql[body..].find(tag).ok_or_else(|| {
                    unterminated(start, &format!("dollar-quoted body {tag}…{tag}"))
                })?;
                i = body + end + tag_len;
                TokenKind::DollarBody
            }
            b';' => {
                i += 1;
                TokenKind::Semicolon
            }
            _ if is_word_start(c) => {
                i += 1;
                while i < bytes.len()
                    && (is_word_start(bytes[i]) || bytes[i].is_ascii_digit() || bytes[i] == b'$')
                {
                    i += 1;
                }
                TokenKind::Word
            }
            _ => {
                // One character (a multi-byte one whole).
                i += sql[i..].chars().next().map_or(1, char::len_utf8);
                TokenKind::Other
            }
        };
        line_start = false;
        out.push(Token {
            kind,
            text: &sql[start..i],
            offset: start,
        });
    }
    Ok(out)
}

/// Letters, `_` and every non-ASCII byte start an identifier, as in
/// PostgreSQL's lexer.
fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// Splits `sql` into statements at top-level `;`, with their tokens. A
/// SQL-standard function body (`BEGIN ATOMIC … END`) is one statement, as
/// psql sees it: inside `CREATE FUNCTION`/`PROCEDURE`, `BEGIN` and `CASE`
/// open a block that `END` closes, and `;` splits only outside blocks.
pub fn sql_statements(sql: &str) -> Result<Vec<SqlStatement<'_>>, SplitError> {
    fn finish<'a>(sql: &'a str, current: &mut Vec<Token<'a>>, out: &mut Vec<SqlStatement<'a>>) {
        if let (Some(first), Some(last)) = (current.first(), current.last()) {
            out.push(SqlStatement {
                offset: first.offset,
                text: &sql[first.offset..last.offset + last.text.len()],
                tokens: std::mem::take(current),
            });
        }
    }
    let tokens = lex_sql(sql)?;
    let mut out = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut depth = 0usize;
    for t in tokens {
        if t.kind == TokenKind::Semicolon && depth == 0 {
            finish(sql, &mut current, &mut out);
            continue;
        }
        if defines_routine(&current) {
            if t.is("begin") || t.is("case") {
                depth += 1;
            } else if t.is("end") {
                depth = depth.saturating_sub(1);
            }
        }
        current.push(t);
    }
    finish(sql, &mut current, &mut out);
    Ok(out)
}

/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE`: a statement whose body may
/// be a `BEGIN ATOMIC … END` block.
fn defines_routine(tokens: &[Token]) -> bool {
    let words: Vec<&Token> = tokens.iter().take(4).collect();
    match words.as_slice() {
        [c, f, ..] if c.is("create") && (f.is("function") || f.is("procedure")) => true,
        [c, o, r, f, ..] if c.is("create") && o.is("or") && r.is("replace") => {
            f.is("function") || f.is("procedure")
        }
        _ => false,
    }
}

/// Splits `sql` into statements; empty and comment-only pieces are dropped.
pub fn split_sql(sql: &str) -> Result<Vec<Statement<'_>>, SplitError> {
    Ok(sql_statements(sql)?
        .into_iter()
        .map(|s| Statement {
            offset: s.offset,
            text: s.text,
        })
        .collect())
}

/// Splits a Cypher script at top-level `;`. Knows single- and
/// double-quoted strings (backslash escapes), backtick identifiers (a doubled
/// backtick escapes one), `//` line comments and `/* */` block comments
/// (which Cypher does not nest). Empty and comment-only pieces are dropped.
pub fn split_cypher(text: &str) -> Result<Vec<Statement<'_>>, SplitError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i, mut has_code) = (0, 0, false);
    let unterminated = |at: usize, what: &str| SplitError {
        line: line_of(text, at),
        message: format!("unterminated {what}"),
    };
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..]
                    .find("*/")
                    .ok_or_else(|| unterminated(i, "block comment /* … */"))?;
                i += 2 + end + 2;
            }
            q @ (b'\'' | b'"') => {
                mark(&mut start, &mut has_code, i);
                i = skip_quoted(bytes, i, q, true)
                    .ok_or_else(|| unterminated(i, &format!("string {0}…{0}", q as char)))?;
            }
            b'`' => {
                mark(&mut start, &mut has_code, i);
                i = skip_quoted(bytes, i, b'`', false)
                    .ok_or_else(|| unterminated(i, "identifier `…`"))?;
            }
            b';' => {
                push(&mut out, text, start, i, has_code);
                (start, has_code) = (i + 1, false);
                i += 1;
            }
            c => {
                if !is_space(c) {
                    mark(&mut start, &mut has_code, i);
                }
                i += 1;
            }
        }
    }
    push(&mut out, text, start, bytes.len(), has_code);
    Ok(out)
}

/// Moves a statement's start to its first code character.
fn mark(start: &mut usize, has_code: &mut bool, at: usize) {
    if !*has_code {
        (*start, *has_code) = (at, true);
    }
}

/// White space between tokens, as both servers' lexers have it: space,
/// tab, line feed, carriage return, form feed and vertical tab. (Rust's
/// `trim` would also take non-ASCII spaces, which PostgreSQL reads as part
/// of an identifier, and `is_ascii_whitespace` leaves out vertical tab.)
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'\x0b')
}

fn push<'a>(out: &mut Vec<Statement<'a>>, sql: &'a str, start: usize, end: usize, has_code: bool) {
    if !has_code {
        return;
    }
    let piece = &sql[start..end];
    let space = |c: char| c.is_ascii() && is_space(c as u8);
    let text = piece.trim_start_matches(space);
    out.push(Statement {
        offset: start + piece.len() - text.len(),
        text: text.trim_end_matches(space),
    });
}

fn is_ident_byte(b: Option<u8>) -> bool {
    matches!(b, Some(b) if b.is_ascii_alphanumeric() || b == b'_')
}

/// Index just past the closing quote. A doubled quote is an escaped quote.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash: bool) -> Option<usize> {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash => i += 2,
            b if b == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Length of a dollar-quote tag (`$$` or `$name$`) starting at `i`, if any.
/// `$1` parameters and identifiers containing `$` are not tags.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
    if i > 0 && is_ident_byte(Some(bytes[i - 1])) {
        return None;
    }
    let mut j = i + 1;
    if bytes.get(j).is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    while j < bytes.len()
        && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] >= 0x80)
    {
        j += 1;
    }
    (bytes.get(j) == Some(&b'$')).then_some(j + 1 - i)
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// 1-based (line, column) of the `position`-th character (1-based), the way
/// PostgreSQL reports error positions: in characters, not bytes.
pub fn line_col_of_char(text: &str, position: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for (n, ch) in text.chars().enumerate() {
        if n + 1 == position {
            break;
        }
        if ch == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cypher(text: &str) -> Vec<&str> {
        split_cypher(text)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn cypher_splits_only_at_top_level_semicolons() {
        assert_eq!(
            cypher("CREATE (:A {s: 'a;b'});\nMATCH (n) RETURN n;"),
            vec!["CREATE (:A {s: 'a;b'})", "MATCH (n) RETURN n"]
        );
        // Escaped quotes of both kinds, a semicolon after each.
        assert_eq!(
            cypher(r#"RETURN 'it\'s;' AS a; RETURN "say \"hi;\"" AS b"#),
            vec![r#"RETURN 'it\'s;' AS a"#, r#"RETURN "say \"hi;\"" AS b"#]
        );
        // A double quote inside single quotes and the reverse.
        assert_eq!(
            cypher(r#"RETURN '";' ; RETURN "';""#),
            vec![r#"RETURN '";'"#, r#"RETURN "';""#]
        );
        // Backtick identifiers, with a doubled backtick inside.
        assert_eq!(
            cypher("CREATE INDEX `idx;1` FOR (n:`We``ird;`) ON (n.x);RETURN 1"),
            vec![
                "CREATE INDEX `idx;1` FOR (n:`We``ird;`) ON (n.x)",
                "RETURN 1"
            ]
        );
        // Comments may hold anything, and comment-only pieces vanish.
        assert_eq!(
            cypher("// a; b\nRETURN 1; /* x; 'y */ RETURN 2;\n// the end;\n;;"),
            vec!["RETURN 1", "RETURN 2"]
        );
        // `//` inside a string is not a comment; a URL keeps its slashes.
        assert_eq!(
            cypher("RETURN 'http://x;y' AS u; RETURN 3"),
            vec!["RETURN 'http://x;y' AS u", "RETURN 3"]
        );
        // No final semicolon.
        assert_eq!(cypher("RETURN 1"), vec!["RETURN 1"]);
        // CALL { … } IN TRANSACTIONS is one statement.
        assert_eq!(
            cypher("MATCH (u:User) CALL { WITH u SET u.x = 1 } IN TRANSACTIONS OF 100 ROWS;"),
            vec!["MATCH (u:User) CALL { WITH u SET u.x = 1 } IN TRANSACTIONS OF 100 ROWS"]
        );
    }

    #[test]
    fn cypher_offsets_and_unterminated_constructs() {
        let s = split_cypher("RETURN 1;\n\n  RETURN 2;").unwrap();
        assert_eq!(line_of("RETURN 1;\n\n  RETURN 2;", s[1].offset), 3);
        let s = split_cypher("RETURN 1;\n// why\nRETURN 2 /* trailing */;").unwrap();
        assert_eq!(s[1].text, "RETURN 2 /* trailing */");
        assert_eq!(s[1].offset, 17);
        for (text, line, what) in [
            ("RETURN 1;\nRETURN 'oops;", 2, "string '…'"),
            ("RETURN \"x", 1, "string \"…\""),
            ("RETURN 1;\n\n/* never closed", 3, "block comment"),
            ("MATCH (n:`Bad) RETURN n", 1, "identifier `…`"),
            ("RETURN 'a\\'", 1, "string '…'"),
        ] {
            let e = split_cypher(text).unwrap_err();
            assert_eq!(e.line, line, "{text}");
            assert!(e.message.contains(what), "{text}: {}", e.message);
        }
    }

    fn texts(sql: &str) -> Vec<&str> {
        split_sql(sql)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn splits_plain_statements_and_drops_empty_ones() {
        assert_eq!(
            texts("select 1; select 2;;\n  ; select 3"),
            ["select 1", "select 2", "select 3"]
        );
        assert_eq!(
            texts("-- only a comment\n/* and this */;"),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn semicolons_inside_quotes_comments_and_bodies_stay() {
        let sql = "insert into t values ('a;b', 'it''s;');\n\
                   select \"we;ird\" from x; -- trailing; comment\n\
                   create function f() returns int as $$ begin return 1; end $$ language plpgsql;\n\
                   do $body$ begin perform 'x;'; end $body$;\n\
                   /* block; /* nested; */ still; */ select 2;\n\
                   select E'back\\'slash;';";
        let got = texts(sql);
        assert_eq!(got.len(), 6, "{got:#?}");
        assert!(got[0].ends_with("'it''s;')"));
        assert!(got[2].ends_with("language plpgsql"));
        assert!(got[3].starts_with("do $body$"));
        assert!(got[4].ends_with("select 2"));
        assert_eq!(got[5], "select E'back\\'slash;'");
    }

    #[test]
    fn is_identifier_agrees_with_identifier() {
        let tokens =
            lex_sql(r#"SELECT Schema_Migrations, "Schema_Migrations", "a""b", 'x' FROM t"#)
                .unwrap();
        for name in [
            "schema_migrations",
            "Schema_Migrations",
            "a\"b",
            "x",
            "t",
            "select",
        ] {
            for t in &tokens {
                assert_eq!(
                    t.is_identifier(name),
                    t.identifier().as_deref() == Some(name),
                    "{:?} against {name}",
                    t.text
                );
            }
        }
    }

    #[test]
    fn dollar_parameters_and_identifiers_are_not_quotes() {
        assert_eq!(
            texts("select $1; select a$b$c from t;"),
            ["select $1", "select a$b$c from t"]
        );
    }

    #[test]
    fn offsets_point_at_the_statement() {
        let sql = "select 1;\n\n  create index concurrently i on t (a);";
        let stmts = split_sql(sql).unwrap();
        assert_eq!(&sql[stmts[1].offset..stmts[1].offset + 6], "create");
        assert_eq!(line_of(sql, stmts[1].offset), 3);
    }

    #[test]
    fn white_space_is_the_servers_own() {
        // Found by fuzzing: a trailing vertical tab made an empty statement
        // (code to the splitter, trimmed away by `str::trim`).
        assert_eq!(texts("CREATE x;\u{b}\n\u{c};"), ["CREATE x"]);
        let stmts = split_cypher("// c\nCREATE (x);\u{b}\n\u{c};").unwrap();
        assert_eq!(stmts.len(), 1);
        assert_eq!(stmts[0].text, "CREATE (x)");
        // A non-ASCII space is not white space to PostgreSQL: it stays.
        assert_eq!(texts("select 1;\u{a0};"), ["select 1", "\u{a0}"]);
    }

    #[test]
    fn unterminated_constructs_name_their_line() {
        for (sql, what, line) in [
            ("select 1;\nselect 'oops;", "string", 2),
            ("select 1;\n\n/* never closed", "block comment", 3),
            ("do $$ begin", "dollar-quoted", 1),
            ("select \"x", "identifier", 1),
        ] {
            let e = split_sql(sql).unwrap_err();
            assert!(e.message.contains(what), "{sql}: {e:?}");
            assert_eq!(e.line, line, "{sql}");
        }
    }

    #[test]
    fn begin_atomic_bodies_are_one_statement() {
        let sql = "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\n\
                   BEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\n\
                   create or replace procedure p() begin atomic insert into t values (1); end;\n\
                   BEGIN; SELECT 1; END;";
        let got = texts(sql);
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(got[0].starts_with("CREATE FUNCTION") && got[0].ends_with("END"));
        assert!(got[1].ends_with("values (1); end"));
        assert_eq!(&got[2..], ["BEGIN", "SELECT 1", "END"]);
    }

    #[test]
    fn statements_start_at_their_first_token() {
        let sql = "-- strata:no-transaction\n-- why\n/* more */\ncreate index i on t (a);";
        let s = split_sql(sql).unwrap();
        assert_eq!(line_of(sql, s[0].offset), 4);
        assert!(s[0].text.starts_with("create"));
    }

    #[test]
    fn tokens_know_words_identifiers_and_meta_commands() {
        let toks =
            lex_sql("SELECT \"Mixed\"\"Q\", e'a\\'b', x$1 FROM s.T;\n  \\connect other\nselect 1")
                .unwrap();
        let kinds: Vec<TokenKind> = toks.iter().map(|t| t.kind).collect();
        use TokenKind::*;
        assert_eq!(
            kinds,
            [
                Word,
                QuotedIdent,
                Other,
                String,
                Other,
                Word,
                Word,
                Word,
                Other,
                Word,
                Semicolon,
                MetaCommand,
                Word,
                Other
            ]
        );
        assert!(toks[0].is("select"));
        assert_eq!(toks[1].identifier().unwrap(), "Mixed\"Q");
        assert_eq!(toks[3].text, "e'a\\'b'");
        assert_eq!(toks[9].identifier().unwrap(), "t");
        assert_eq!(toks[11].text, "\\connect other");
        // A backslash inside a string or mid-line is not a meta-command.
        let toks = lex_sql("select '\n\\x'; select 1 \\ 2").unwrap();
        assert!(toks.iter().all(|t| t.kind != MetaCommand));
    }

    #[test]
    fn char_positions_become_line_and_column() {
        let text = "select 1;\nselect ä frm t;";
        // "frm" starts at character 20 (1-based).
        assert_eq!(line_col_of_char(text, 20), (2, 10));
        assert_eq!(line_col_of_char(text, 1), (1, 1));
    }
}
