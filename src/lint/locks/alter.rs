//! `ALTER TABLE` and its actions: the lock each takes, what it rewrites or
//! scans, and which column defaults are volatile. Pure.

use super::{Effect, LockMode, name_at, name_len, split_top_level};
use crate::split::Token;

/// Functions whose value does not change per row: a column default of one
/// of these (or a constant) is stored once, without a rewrite (PostgreSQL
/// 11+). Anything else called in a default is treated as volatile.
const NON_VOLATILE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "transaction_timestamp",
    "statement_timestamp",
    "current_user",
    "session_user",
    "current_schema",
    "lower",
    "upper",
    "length",
    "coalesce",
    "jsonb_build_object",
    "json_build_object",
    "array",
    "to_jsonb",
    "make_interval",
    "interval",
    "timezone",
];

/// `ALTER TABLE [IF EXISTS] [ONLY] name action [, action …]`: the strongest
/// lock of its actions, and any rewrite or scan among them.
pub(super) fn alter_table(tokens: &[Token]) -> Option<Effect> {
    let mut at = 2;
    if tokens.get(at).is_some_and(|t| t.is("if"))
        && tokens.get(at + 1).is_some_and(|t| t.is("exists"))
    {
        at += 2;
    }
    if tokens.get(at).is_some_and(|t| t.is("only")) {
        at += 1;
    }
    let table = name_at(tokens, at)?;
    at += name_len(tokens, at);
    if tokens.get(at).is_some_and(|t| t.text == "*") {
        at += 1;
    }
    let mut result: Option<Effect> = None;
    for action in split_top_level(&tokens[at..]) {
        let (lock, rewrite, scan, form) = alter_action(action);
        match &mut result {
            None => {
                result = Some(Effect {
                    table: table.clone(),
                    lock,
                    rewrite,
                    scan,
                    form: form.to_string(),
                });
            }
            Some(e) => {
                if lock > e.lock {
                    e.lock = lock;
                }
                e.rewrite |= rewrite;
                e.scan |= scan;
                e.form = format!("{}; {form}", e.form);
            }
        }
    }
    result
}

/// One ALTER TABLE action: (lock, rewrite, scan, form).
fn alter_action(a: &[Token]) -> (LockMode, bool, bool, &'static str) {
    let w = |i: usize, word: &str| a.get(i).is_some_and(|t| t.is(word));
    let has = |word: &str| a.iter().any(|t| t.is(word));
    use LockMode::*;
    if w(0, "add")
        && !(w(1, "constraint")
            || w(1, "check")
            || w(1, "foreign")
            || w(1, "primary")
            || w(1, "unique")
            || w(1, "exclude"))
    {
        // ADD [COLUMN] [IF NOT EXISTS] name type [constraints]
        let volatile_default = default_is_volatile(a);
        let stored = has("stored");
        let identity = has("identity");
        let serial = a.iter().any(|t| {
            t.is("serial")
                || t.is("bigserial")
                || t.is("smallserial")
                || t.is("serial4")
                || t.is("serial8")
        });
        if volatile_default || stored || identity || serial {
            return (
                AccessExclusive,
                true,
                false,
                "ADD COLUMN with a volatile default (every row rewritten)",
            );
        }
        if has("references") {
            return (AccessExclusive, false, false, "ADD COLUMN … REFERENCES");
        }
        return (AccessExclusive, false, false, "ADD COLUMN");
    }
    if w(0, "add") {
        let not_valid = a.windows(2).any(|p| p[0].is("not") && p[1].is("valid"));
        let using_index = a.windows(2).any(|p| p[0].is("using") && p[1].is("index"));
        if has("foreign") {
            return if not_valid {
                (
                    ShareRowExclusive,
                    false,
                    false,
                    "ADD FOREIGN KEY … NOT VALID",
                )
            } else {
                (
                    ShareRowExclusive,
                    false,
                    true,
                    "ADD FOREIGN KEY (checks every row)",
                )
            };
        }
        if has("check") {
            return if not_valid {
                (AccessExclusive, false, false, "ADD CHECK … NOT VALID")
            } else {
                (AccessExclusive, false, true, "ADD CHECK (checks every row)")
            };
        }
        if has("primary") || has("unique") || has("exclude") {
            return if using_index {
                (
                    AccessExclusive,
                    false,
                    false,
                    "ADD CONSTRAINT … USING INDEX",
                )
            } else {
                (
                    AccessExclusive,
                    false,
                    true,
                    "ADD PRIMARY KEY/UNIQUE (builds an index)",
                )
            };
        }
        return (AccessExclusive, false, false, "ADD CONSTRAINT");
    }
    if w(0, "validate") {
        return (
            ShareUpdateExclusive,
            false,
            true,
            "VALIDATE CONSTRAINT (reads every row)",
        );
    }
    if w(0, "attach") && w(1, "partition") {
        return (
            ShareUpdateExclusive,
            false,
            true,
            "ATTACH PARTITION (checks the partition's rows)",
        );
    }
    if w(0, "detach") && w(1, "partition") {
        return if has("concurrently") || has("finalize") {
            (
                ShareUpdateExclusive,
                false,
                false,
                "DETACH PARTITION CONCURRENTLY",
            )
        } else {
            (AccessExclusive, false, false, "DETACH PARTITION")
        };
    }
    if w(0, "rename") {
        return (AccessExclusive, false, false, "RENAME");
    }
    if w(0, "drop") {
        return (AccessExclusive, false, false, "DROP COLUMN/CONSTRAINT");
    }
    if w(0, "alter") {
        // ALTER [COLUMN] name { TYPE | SET DATA TYPE } …
        let name = if w(1, "column") { 2 } else { 1 };
        if w(name + 1, "type") || (w(name + 1, "set") && w(name + 2, "data")) {
            return (
                AccessExclusive,
                true,
                false,
                "ALTER COLUMN … TYPE (every row rewritten unless binary-compatible)",
            );
        }
        if has("set") && has("not") && has("null") {
            return (
                AccessExclusive,
                false,
                true,
                "SET NOT NULL (checks every row)",
            );
        }
        if has("drop") && has("not") && has("null") {
            return (AccessExclusive, false, false, "DROP NOT NULL");
        }
        if has("default") {
            return (AccessExclusive, false, false, "SET/DROP DEFAULT");
        }
        if has("statistics") || has("storage") {
            return (ShareUpdateExclusive, false, false, "SET STATISTICS/STORAGE");
        }
        return (AccessExclusive, false, false, "ALTER COLUMN");
    }
    if w(0, "set") && (w(1, "logged") || w(1, "unlogged") || w(1, "tablespace")) {
        return (
            AccessExclusive,
            true,
            false,
            "SET LOGGED/UNLOGGED/TABLESPACE (every row rewritten)",
        );
    }
    if w(0, "set") && a.get(1).is_some_and(|t| t.text == "(") {
        return (
            ShareUpdateExclusive,
            false,
            false,
            "SET (storage parameters)",
        );
    }
    if w(0, "enable") || w(0, "disable") {
        return (ShareRowExclusive, false, false, "ENABLE/DISABLE TRIGGER");
    }
    (AccessExclusive, false, false, "ALTER TABLE")
}

/// Whether a `DEFAULT` in a column definition calls a function not known
/// to be stable.
fn default_is_volatile(a: &[Token]) -> bool {
    let Some(at) = a.iter().position(|t| t.is("default")) else {
        return false;
    };
    let rest = &a[at + 1..];
    rest.iter().enumerate().any(|(i, t)| {
        t.identifier().is_some()
            && rest.get(i + 1).is_some_and(|n| n.text == "(")
            && !NON_VOLATILE.iter().any(|f| t.is(f))
    }) || rest.first().is_some_and(|t| t.is("nextval"))
}
