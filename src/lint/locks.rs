//! What a DDL statement does to a live table: the lock it takes on which
//! relation, and whether it rewrites or scans every row. Follows
//! PostgreSQL's documented table-level lock modes (the "Explicit Locking"
//! chapter and each command's reference page). Pure.

use std::fmt;

use serde::Serialize;

use crate::split::Token;

mod alter;

use self::alter::alter_table;

/// PostgreSQL's table-level lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LockMode {
    /// Taken by SELECT.
    AccessShare,
    /// SELECT FOR UPDATE/SHARE.
    RowShare,
    /// INSERT, UPDATE, DELETE.
    RowExclusive,
    /// VACUUM, CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT: blocks
    /// schema changes only.
    ShareUpdateExclusive,
    /// CREATE INDEX: blocks writes.
    Share,
    /// CREATE TRIGGER, ADD FOREIGN KEY: blocks writes.
    ShareRowExclusive,
    /// REFRESH MATERIALIZED VIEW CONCURRENTLY: blocks writes and row locks.
    Exclusive,
    /// Most ALTER TABLE forms, DROP, TRUNCATE: blocks reads and writes.
    AccessExclusive,
}

impl LockMode {
    /// The name `pg_locks.mode` shows.
    pub fn pg_locks_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "AccessShareLock",
            LockMode::RowShare => "RowShareLock",
            LockMode::RowExclusive => "RowExclusiveLock",
            LockMode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            LockMode::Share => "ShareLock",
            LockMode::ShareRowExclusive => "ShareRowExclusiveLock",
            LockMode::Exclusive => "ExclusiveLock",
            LockMode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// Whether the lock stops other sessions writing the table.
    pub fn blocks_writes(self) -> bool {
        self >= LockMode::Share
    }

    /// What the lock stops, in words.
    pub fn blocks(self) -> &'static str {
        match self {
            LockMode::AccessExclusive => "blocks reads and writes",
            m if m.blocks_writes() => "blocks writes",
            LockMode::ShareUpdateExclusive => "blocks other schema changes and VACUUM only",
            _ => "blocks nothing a migration would notice",
        }
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        })
    }
}

/// What one statement does to an existing relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effect {
    /// The relation locked, as written (`schema.name` or `name`), lower
    /// case unless quoted.
    pub table: String,
    /// The strongest lock the statement takes on it.
    pub lock: LockMode,
    /// Whether every row is rewritten (the table and its indexes copied).
    pub rewrite: bool,
    /// Whether every row is read (to build an index or check a constraint).
    pub scan: bool,
    /// The statement form, e.g. `ALTER TABLE … ALTER COLUMN … TYPE`.
    pub form: String,
}

impl Effect {
    /// Whether `table` names an index, whose table the statement locks
    /// (which table cannot be told from the file alone).
    pub fn on_index(&self) -> bool {
        ["DROP INDEX", "ALTER INDEX", "REINDEX INDEX"]
            .iter()
            .any(|f| self.form.starts_with(f))
    }

    /// What is locked, as a message says it.
    pub fn target(&self) -> String {
        match self.on_index() {
            true => format!("the table of index {}", self.table),
            false => self.table.clone(),
        }
    }

    /// Whether the table is blocked for as long as a full pass over its
    /// rows takes: the shape of an outage on a big table.
    pub fn long_block(&self) -> bool {
        (self.rewrite || self.scan) && self.lock.blocks_writes()
    }
}

/// The effect of one statement (its tokens), when it locks an existing
/// relation in a way a reviewer should see. Statements that create new
/// objects (CREATE TABLE, CREATE FUNCTION …) or only read return `None`.
pub fn effect(tokens: &[Token]) -> Option<Effect> {
    let w = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is(word));
    let has = |word: &str| tokens.iter().any(|t| t.is(word));
    let make = |table: String, lock, rewrite, scan, form: &str| {
        Some(Effect {
            table,
            lock,
            rewrite,
            scan,
            form: form.to_string(),
        })
    };
    if w(0, "create") && (w(1, "index") || (w(1, "unique") && w(2, "index"))) {
        let on = tokens.iter().position(|t| t.is("on"))?;
        let mut at = on + 1;
        if tokens.get(at).is_some_and(|t| t.is("only")) {
            at += 1;
        }
        let table = name_at(tokens, at)?;
        return if has("concurrently") {
            make(
                table,
                LockMode::ShareUpdateExclusive,
                false,
                true,
                "CREATE INDEX CONCURRENTLY",
            )
        } else {
            make(table, LockMode::Share, false, true, "CREATE INDEX")
        };
    }
    if w(0, "drop") && w(1, "index") {
        let mut at = 2;
        let concurrently = w(at, "concurrently");
        if concurrently {
            at += 1;
        }
        if w(at, "if") && w(at + 1, "exists") {
            at += 2;
        }
        let index = name_at(tokens, at)?;
        return if concurrently {
            make(
                index,
                LockMode::ShareUpdateExclusive,
                false,
                false,
                "DROP INDEX CONCURRENTLY",
            )
        } else {
            make(index, LockMode::AccessExclusive, false, false, "DROP INDEX")
        };
    }
    if w(0, "reindex") {
        let mut at = 1;
        while tokens.get(at).is_some_and(|t| t.text == "(") {
            at = skip_parens(tokens, at);
        }
        if !(w(at, "table") || w(at, "index")) {
            return None;
        }
        let of = if w(at, "table") { "TABLE" } else { "INDEX" };
        at += 1;
        let concurrently = w(at, "concurrently");
        if concurrently {
            at += 1;
        }
        let table = name_at(tokens, at)?;
        return if concurrently {
            make(
                table,
                LockMode::ShareUpdateExclusive,
                false,
                true,
                "REINDEX CONCURRENTLY",
            )
        } else if of == "TABLE" {
            make(table, LockMode::Share, false, true, "REINDEX TABLE")
        } else {
            make(
                table,
                LockMode::AccessExclusive,
                false,
                true,
                "REINDEX INDEX",
            )
        };
    }
    if w(0, "truncate") {
        let mut at = 1;
        if w(at, "table") {
            at += 1;
        }
        if w(at, "only") {
            at += 1;
        }
        let table = name_at(tokens, at)?;
        return make(
            table,
            LockMode::AccessExclusive,
            false,
            false,
            "TRUNCATE (empties the table)",
        );
    }
    if w(0, "drop") && (w(1, "table") || w(1, "materialized") || w(1, "view")) {
        let mut at = if w(1, "materialized") { 3 } else { 2 };
        if w(at, "if") && w(at + 1, "exists") {
            at += 2;
        }
        let table = name_at(tokens, at)?;
        return make(table, LockMode::AccessExclusive, false, false, "DROP TABLE");
    }
    if w(0, "vacuum") && has("full") {
        let table = tokens
            .iter()
            .rposition(|t| t.identifier().is_some())
            .and_then(|i| name_at(tokens, i))?;
        return make(table, LockMode::AccessExclusive, true, true, "VACUUM FULL");
    }
    if w(0, "cluster") {
        let table = name_at(tokens, 1)?;
        return make(table, LockMode::AccessExclusive, true, true, "CLUSTER");
    }
    if w(0, "refresh") && w(1, "materialized") && w(2, "view") {
        return if w(3, "concurrently") {
            make(
                name_at(tokens, 4)?,
                LockMode::Exclusive,
                false,
                true,
                "REFRESH MATERIALIZED VIEW CONCURRENTLY",
            )
        } else {
            make(
                name_at(tokens, 3)?,
                LockMode::AccessExclusive,
                true,
                true,
                "REFRESH MATERIALIZED VIEW",
            )
        };
    }
    if w(0, "alter") && w(1, "table") {
        return alter_table(tokens);
    }
    if w(0, "alter") && w(1, "index") && has("rename") {
        return make(
            name_at(tokens, 2)?,
            LockMode::ShareUpdateExclusive,
            false,
            false,
            "ALTER INDEX … RENAME",
        );
    }
    None
}

/// The new name of a table `ALTER TABLE [IF EXISTS] [ONLY] old RENAME TO
/// new` gives: `(old, new)`, the new one in the old one's schema.
pub fn renamed_table(tokens: &[Token]) -> Option<(String, String)> {
    let w = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is(word));
    if !(w(0, "alter") && w(1, "table")) {
        return None;
    }
    let mut at = 2;
    if w(at, "if") && w(at + 1, "exists") {
        at += 2;
    }
    if w(at, "only") {
        at += 1;
    }
    let old = name_at(tokens, at)?;
    let to = tokens.iter().position(|t| t.is("to"))?;
    if !(tokens.len() == to + 2 && w(to - 1, "rename")) {
        return None;
    }
    let new = tokens[to + 1].identifier()?;
    let new = match old.rsplit_once('.') {
        Some((schema, _)) => format!("{schema}.{new}"),
        None => new,
    };
    Some((old, new))
}

/// The index a `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name
/// ON [ONLY] table` makes, with its table: `(index, table)`, the index in
/// its table's schema.
pub fn created_index(tokens: &[Token]) -> Option<(String, String)> {
    let w = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is(word));
    if !w(0, "create") {
        return None;
    }
    let mut at = 1;
    if w(at, "unique") {
        at += 1;
    }
    if !w(at, "index") {
        return None;
    }
    at += 1;
    if w(at, "concurrently") {
        at += 1;
    }
    if w(at, "if") && w(at + 1, "not") && w(at + 2, "exists") {
        at += 3;
    }
    if w(at, "on") {
        return None; // unnamed: nothing to drop by name later
    }
    let index = tokens.get(at)?.identifier()?;
    let on = tokens.iter().position(|t| t.is("on"))?;
    let table = name_at(tokens, if w(on + 1, "only") { on + 2 } else { on + 1 })?;
    let index = match table.rsplit_once('.') {
        Some((schema, _)) => format!("{schema}.{index}"),
        None => index,
    };
    Some((index, table))
}

/// The table a `CREATE [TEMP|UNLOGGED] TABLE [IF NOT EXISTS] name` makes.
pub fn created_table(tokens: &[Token]) -> Option<String> {
    let w = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is(word));
    if !w(0, "create") {
        return None;
    }
    let mut at = 1;
    while ["temp", "temporary", "unlogged", "global", "local"]
        .iter()
        .any(|x| w(at, x))
    {
        at += 1;
    }
    if !w(at, "table") {
        return None;
    }
    at += 1;
    if w(at, "if") && w(at + 1, "not") && w(at + 2, "exists") {
        at += 3;
    }
    name_at(tokens, at)
}

/// The (possibly schema-qualified) name at `at`, as PostgreSQL resolves it.
fn name_at(tokens: &[Token], at: usize) -> Option<String> {
    let first = tokens.get(at)?.identifier()?;
    if tokens.get(at + 1).is_some_and(|t| t.text == ".") {
        let second = tokens.get(at + 2)?.identifier()?;
        return Some(format!("{first}.{second}"));
    }
    Some(first)
}

fn name_len(tokens: &[Token], at: usize) -> usize {
    if tokens.get(at + 1).is_some_and(|t| t.text == ".") {
        3
    } else {
        1
    }
}

/// The index after the parenthesised group starting at `at`.
fn skip_parens(tokens: &[Token], at: usize) -> usize {
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate().skip(at) {
        match t.text {
            "(" => depth += 1,
            ")" => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// Splits tokens at commas outside parentheses.
fn split_top_level<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        match t.text {
            "(" => depth += 1,
            ")" => depth -= 1,
            "," if depth == 0 => {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < tokens.len() {
        parts.push(&tokens[start..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::sql_statements;

    fn of(sql: &str) -> Option<Effect> {
        let statements = sql_statements(sql).unwrap();
        effect(&statements[0].tokens)
    }

    fn check(sql: &str, table: &str, lock: LockMode, rewrite: bool, scan: bool) {
        let e = of(sql).unwrap_or_else(|| panic!("{sql}: no effect"));
        assert_eq!(
            (e.table.as_str(), e.lock, e.rewrite, e.scan),
            (table, lock, rewrite, scan),
            "{sql}"
        );
    }

    #[test]
    fn each_form_takes_the_documented_lock() {
        use LockMode::*;
        check(
            "CREATE INDEX i ON messages (x)",
            "messages",
            Share,
            false,
            true,
        );
        check(
            "CREATE UNIQUE INDEX CONCURRENTLY i ON app.messages (x)",
            "app.messages",
            ShareUpdateExclusive,
            false,
            true,
        );
        check("DROP INDEX i", "i", AccessExclusive, false, false);
        check(
            "DROP INDEX CONCURRENTLY IF EXISTS i",
            "i",
            ShareUpdateExclusive,
            false,
            false,
        );
        check("REINDEX TABLE t", "t", Share, false, true);
        check(
            "REINDEX INDEX CONCURRENTLY i",
            "i",
            ShareUpdateExclusive,
            false,
            true,
        );
        check(
            "ALTER TABLE messages ADD COLUMN x uuid DEFAULT gen_random_uuid()",
            "messages",
            AccessExclusive,
            true,
            false,
        );
        check(
            "ALTER TABLE messages ADD COLUMN x int DEFAULT 0",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE messages ADD COLUMN x timestamptz DEFAULT now()",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE messages ADD COLUMN id2 bigserial",
            "messages",
            AccessExclusive,
            true,
            false,
        );
        check(
            "ALTER TABLE messages ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED",
            "messages",
            AccessExclusive,
            true,
            false,
        );
        check(
            "ALTER TABLE messages ALTER COLUMN id TYPE bigint",
            "messages",
            AccessExclusive,
            true,
            false,
        );
        check(
            "ALTER TABLE messages ALTER COLUMN id SET DATA TYPE bigint",
            "messages",
            AccessExclusive,
            true,
            false,
        );
        check(
            "ALTER TABLE messages ALTER COLUMN x SET DEFAULT 1",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE messages ALTER COLUMN x SET NOT NULL",
            "messages",
            AccessExclusive,
            false,
            true,
        );
        check(
            "ALTER TABLE messages ALTER COLUMN x DROP NOT NULL",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE messages ADD FOREIGN KEY (a) REFERENCES accounts (id)",
            "messages",
            ShareRowExclusive,
            false,
            true,
        );
        check(
            "ALTER TABLE messages ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES accounts (id) NOT VALID",
            "messages",
            ShareRowExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE messages ADD CONSTRAINT c CHECK (a > 0)",
            "messages",
            AccessExclusive,
            false,
            true,
        );
        check(
            "ALTER TABLE messages ADD CONSTRAINT c CHECK (a > 0) NOT VALID",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE messages VALIDATE CONSTRAINT c",
            "messages",
            ShareUpdateExclusive,
            false,
            true,
        );
        check(
            "ALTER TABLE messages ADD PRIMARY KEY (id)",
            "messages",
            AccessExclusive,
            false,
            true,
        );
        check(
            "ALTER TABLE messages ADD CONSTRAINT p PRIMARY KEY USING INDEX i",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2027-02-01')",
            "events",
            ShareUpdateExclusive,
            false,
            true,
        );
        check(
            "ALTER TABLE events DETACH PARTITION events_2020",
            "events",
            AccessExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY",
            "events",
            ShareUpdateExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE messages RENAME TO notes",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE messages RENAME COLUMN a TO b",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "ALTER TABLE IF EXISTS ONLY messages DROP COLUMN a",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "TRUNCATE TABLE messages",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "DROP TABLE IF EXISTS messages",
            "messages",
            AccessExclusive,
            false,
            false,
        );
        check(
            "VACUUM FULL messages",
            "messages",
            AccessExclusive,
            true,
            true,
        );
        // Several actions: the strongest lock, any rewrite or scan.
        check(
            "ALTER TABLE m ADD COLUMN a int, ALTER COLUMN b TYPE bigint, VALIDATE CONSTRAINT c",
            "m",
            AccessExclusive,
            true,
            true,
        );
        assert_eq!(of("CREATE TABLE t (id int)"), None);
        assert_eq!(of("SELECT 1"), None);
    }

    #[test]
    fn long_blocks_are_a_full_pass_under_a_write_lock() {
        assert!(of("CREATE INDEX i ON t (x)").unwrap().long_block());
        assert!(
            !of("CREATE INDEX CONCURRENTLY i ON t (x)")
                .unwrap()
                .long_block()
        );
        assert!(
            !of("ALTER TABLE t VALIDATE CONSTRAINT c")
                .unwrap()
                .long_block()
        );
        assert!(
            !of("ALTER TABLE t ADD COLUMN x int DEFAULT 0")
                .unwrap()
                .long_block()
        );
        assert!(
            of("ALTER TABLE t ALTER COLUMN id TYPE bigint")
                .unwrap()
                .long_block()
        );
        assert_eq!(
            LockMode::AccessExclusive.pg_locks_name(),
            "AccessExclusiveLock"
        );
    }
}
