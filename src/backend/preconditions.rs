//! Neo4j preconditions: what a Cypher file needs of the server, read from
//! its leading comment lines and checked before anything runs. strata's
//! own `// strata:require edition=enterprise` and `// strata:require
//! version>=5.13`, and neo4j-migrations' comments as written there (any
//! case): `// assert that edition is enterprise`, `// assume that version
//! is 5.1, 5.2 or 5.3`, `// assume that version is ge 5.13`, `… lt 6.0`,
//! and query conditions `// assume q' MATCH (n:Book) RETURN count(n) = 0`
//! (optionally `in target` or `in schema` before `q'`). An unmet
//! requirement (`require`, `assert`) refuses the run; an unmet assumption
//! (`assume`) skips the file. Pure: the database answers the queries.

use std::cmp::Ordering;
use std::fmt;

/// Whether an unmet condition refuses the run or skips the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    /// `strata:require`, `assert that`: refuse the run.
    Require,
    /// `assume that`: skip the file.
    Assume,
}

/// What the server must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `enterprise` or `community`.
    Edition(String),
    /// The version compared with `op` (`>=`, `>`, `<=`, `<`, `=`) to the
    /// dotted numbers; `=` with fewer parts matches as a prefix (`5` is
    /// `5.*`).
    Version(String, Vec<u64>),
    /// Any of these versions, each matched as a prefix (`version is 5.1
    /// or 5.2`).
    AnyVersion(Vec<Vec<u64>>),
    /// A read-only Cypher query whose one row holds one boolean, run in
    /// the database being migrated (strata keeps its history there too,
    /// so neo4j-migrations' `in schema` is the same database).
    Query(String),
}

/// One precondition and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precondition {
    /// Refuse or skip when unmet.
    pub strength: Strength,
    /// What must hold.
    pub condition: Condition,
    /// 1-based line.
    pub line: usize,
    /// The comment as written, for messages.
    pub text: String,
}

impl fmt::Display for Precondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The server a file runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `enterprise` or `community`.
    pub edition: String,
    /// e.g. `5.26.30`, `2025.10.1`.
    pub version: String,
}

fn numbers(v: &str) -> Option<Vec<u64>> {
    v.trim_end_matches(".*")
        .split('.')
        .map(|p| p.parse().ok())
        .collect()
}

/// The Enterprise-only schema a statement creates, if any: property
/// existence, node and relationship key, and property type constraints
/// (Community Edition has uniqueness constraints only). Pure.
pub fn enterprise_only(statement: &str) -> Option<&'static str> {
    let s = statement
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase();
    if !s.starts_with("CREATE CONSTRAINT") {
        return None;
    }
    [
        ("IS NODE KEY", "a node key constraint"),
        ("IS RELATIONSHIP KEY", "a relationship key constraint"),
        ("IS REL KEY", "a relationship key constraint"),
        ("IS NOT NULL", "a property existence constraint"),
        ("ASSERT EXISTS", "a property existence constraint"),
        ("::", "a property type constraint"),
        ("IS TYPED", "a property type constraint"),
    ]
    .into_iter()
    .find(|(form, _)| s.contains(form))
    .map(|(_, what)| what)
}

/// Reads the preconditions from the comment lines before the first
/// statement. A comment that starts like one but cannot be read is an
/// error naming its line, so a typo never silently drops a requirement.
pub fn read(content: &str) -> Result<Vec<Precondition>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let Some(comment) = t.strip_prefix("//").map(str::trim) else {
            break; // the first statement: preconditions come before it
        };
        let line = i + 1;
        let parsed = match comment.strip_prefix("strata:require") {
            Some(rest) => Some((Strength::Require, strata_condition(rest.trim()))),
            None => migrations_precondition(comment),
        };
        if let Some((strength, condition)) = parsed {
            let condition = condition.map_err(|m| (line, m))?;
            out.push(Precondition {
                strength,
                condition,
                line,
                text: comment.to_string(),
            });
        }
    }
    Ok(out)
}

/// The rest of `s` when it starts with `prefix` in any case.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// neo4j-migrations' `assume|assert [in target|schema] that …|q' …`, read
/// as it reads them: a comment that starts with the keyword but goes on
/// otherwise (`// assume nothing`) is an ordinary comment.
fn migrations_precondition(comment: &str) -> Option<(Strength, Result<Condition, String>)> {
    let (strength, rest) = [
        ("assert ", Strength::Require),
        ("assume ", Strength::Assume),
    ]
    .into_iter()
    .find_map(|(keyword, strength)| {
        Some((
            strength,
            strip_prefix_ignore_case(comment, keyword)?.trim_start(),
        ))
    })?;
    if let Some(that) = strip_prefix_ignore_case(rest, "that ") {
        return Some((strength, migrations_condition(that.trim())));
    }
    let query = ["in target ", "in schema ", ""]
        .into_iter()
        .find_map(|place| {
            let after = strip_prefix_ignore_case(rest, place)?.trim_start();
            strip_prefix_ignore_case(after, "q'")
        })?
        .trim();
    Some((
        strength,
        if query.is_empty() {
            Err(format!(
                "cannot read `{comment}`: expected a Cypher query after q' (`assume q' MATCH (n:Book) RETURN count(n) = 0`)"
            ))
        } else {
            Ok(Condition::Query(query.to_string()))
        },
    ))
}

/// `edition=enterprise`, `version>=5.13`.
fn strata_condition(s: &str) -> Result<Condition, String> {
    let bad = || {
        format!(
            "cannot read `strata:require {s}`: expected edition=enterprise, edition=community \
             or version>=5.13 (also >, <=, <, =)"
        )
    };
    if let Some(e) = s.strip_prefix("edition=") {
        return match e.trim() {
            e @ ("enterprise" | "community") => Ok(Condition::Edition(e.into())),
            _ => Err(bad()),
        };
    }
    let rest = s.strip_prefix("version").ok_or_else(bad)?.trim();
    for op in [">=", "<=", ">", "<", "="] {
        if let Some(v) = rest.strip_prefix(op) {
            return Ok(Condition::Version(
                op.into(),
                numbers(v.trim()).ok_or_else(bad)?,
            ));
        }
    }
    Err(bad())
}

/// neo4j-migrations' `edition is enterprise`, `version is 5.*`, `version
/// is 5.1, 5.2 or 5.3` (any of them), `version is ge 5.13`, `version is
/// lt 6.0`, in any case.
fn migrations_condition(s: &str) -> Result<Condition, String> {
    let bad = || {
        format!(
            "cannot read `{s}`: strata reads `edition is enterprise|community`, \
             `version is 5.*`, `version is 5.1, 5.2 or 5.3`, `version is ge 5.13`, \
             `version is lt 6.0` and query conditions (`assume q' RETURN …`)"
        )
    };
    if let Some(e) = strip_prefix_ignore_case(s, "edition is ") {
        return match e.trim().to_ascii_lowercase().as_str() {
            e @ ("enterprise" | "community") => Ok(Condition::Edition(e.into())),
            _ => Err(bad()),
        };
    }
    let rest = strip_prefix_ignore_case(s, "version is ")
        .ok_or_else(bad)?
        .trim();
    for (word, op) in [("ge ", ">="), ("lt ", "<")] {
        if let Some(v) = strip_prefix_ignore_case(rest, word) {
            return Ok(Condition::Version(
                op.into(),
                numbers(v.trim()).ok_or_else(bad)?,
            ));
        }
    }
    let versions = rest
        .split(',')
        .flat_map(|part| part.split(" or "))
        .map(|v| numbers(v.trim()).filter(|n| !n.is_empty()).ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match <[_; 1]>::try_from(versions) {
        Ok([one]) => Condition::Version("=".into(), one),
        Err(many) => Condition::AnyVersion(many),
    })
}

/// Whether the server meets the condition; `None` for a query, which
/// only the database can answer.
pub fn holds(condition: &Condition, server: &Server) -> Option<bool> {
    let have = numbers(&server.version).unwrap_or_default();
    let starts = |want: &[u64]| have.len() >= want.len() && have[..want.len()] == want[..];
    Some(match condition {
        Condition::Edition(e) => server.edition.eq_ignore_ascii_case(e),
        Condition::Query(_) => return None,
        Condition::AnyVersion(any) => any.iter().any(|want| starts(want)),
        Condition::Version(op, want) => {
            if op == "=" {
                return Some(starts(want));
            }
            let n = have.len().max(want.len());
            let part = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
            let order = (0..n)
                .map(|i| part(&have, i).cmp(&part(want, i)))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal);
            match op.as_str() {
                ">=" => order != Ordering::Less,
                ">" => order == Ordering::Greater,
                "<=" => order != Ordering::Greater,
                _ => order == Ordering::Less,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enterprise_only_constraints_are_recognised() {
        for (text, what) in [
            (
                "CREATE CONSTRAINT k IF NOT EXISTS FOR (p:Person) REQUIRE (p.a, p.b) IS NODE KEY",
                Some("a node key constraint"),
            ),
            (
                "create constraint FOR ()-[r:KNOWS]-() require r.since is not null",
                Some("a property existence constraint"),
            ),
            (
                "CREATE CONSTRAINT FOR (p:Person) REQUIRE p.age IS :: INTEGER",
                Some("a property type constraint"),
            ),
            (
                "CREATE CONSTRAINT ON (b:Book) ASSERT exists(b.isbn)",
                Some("a property existence constraint"),
            ),
            (
                "CREATE CONSTRAINT FOR ()-[r:R]-() REQUIRE r.id IS RELATIONSHIP KEY",
                Some("a relationship key constraint"),
            ),
            (
                "CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS UNIQUE",
                None,
            ),
            ("MATCH (n) WHERE n.x IS NOT NULL RETURN n", None),
        ] {
            assert_eq!(enterprise_only(text), what, "{text}");
        }
    }

    fn server(edition: &str, version: &str) -> Server {
        Server {
            edition: edition.into(),
            version: version.into(),
        }
    }

    #[test]
    fn both_spellings_are_read_and_checked() {
        let text = "// strata:require edition=enterprise\n\
                    // assume that version is 5.*\n\
                    // assert that version is ge 5.13\n\
                    // strata:require version<2026.1\n\
                    // an ordinary comment\n\
                    CREATE CONSTRAINT c FOR (n:A) REQUIRE n.x IS NODE KEY;\n\
                    // assert that edition is community\n";
        let p = read(text).unwrap();
        assert_eq!(p.len(), 4, "{p:?}");
        assert_eq!(p[0].strength, Strength::Require);
        assert_eq!(p[1].strength, Strength::Assume);
        assert_eq!(p[2].line, 3);
        let community = server("community", "5.26.30");
        let enterprise = server("enterprise", "5.26.30");
        assert_eq!(holds(&p[0].condition, &community), Some(false));
        assert_eq!(holds(&p[0].condition, &enterprise), Some(true));
        assert_eq!(holds(&p[1].condition, &community), Some(true));
        assert_eq!(
            holds(&p[1].condition, &server("community", "2025.10.1")),
            Some(false)
        );
        assert_eq!(holds(&p[2].condition, &community), Some(true));
        assert_eq!(
            holds(&p[2].condition, &server("community", "5.12.0")),
            Some(false)
        );
        assert_eq!(holds(&p[3].condition, &community), Some(true));
        assert_eq!(
            holds(&p[3].condition, &server("community", "2026.1.0")),
            Some(false)
        );
    }

    #[test]
    fn unreadable_preconditions_name_their_line() {
        let (line, message) = read("// strata:require edition=platinum\nRETURN 1;").unwrap_err();
        assert_eq!(line, 1);
        assert!(message.contains("edition=enterprise"), "{message}");
        let (line, _) = read("\n// assume that q' RETURN true\n").unwrap_err();
        assert_eq!(line, 2);
        let (line, message) = read("// assume in schema q'  \nRETURN 1;").unwrap_err();
        assert_eq!(line, 1);
        assert!(
            message.contains("expected a Cypher query after q'"),
            "{message}"
        );
        for typo in [
            "// assert that version is five",
            "// assume that version is 5.1 or",
        ] {
            assert!(read(typo).is_err(), "{typo}");
        }
    }

    #[test]
    fn neo4j_migrations_comments_are_read_as_it_reads_them() {
        let text = "// ASSUME that Edition is Enterprise\n\
                    //assert that VERSION is 4.4, 5.1 or 5.26\n\
                    // assume q' MATCH (b:Book) RETURN count(b) = 0\n\
                    // Assert in TARGET q'RETURN true\n\
                    // assume in schema q' RETURN false\n\
                    // assume nothing here: an ordinary comment\n\
                    // assertive, also ordinary\n\
                    MATCH (n) RETURN n;\n";
        let p = read(text).unwrap();
        let conditions: Vec<(Strength, Condition)> = p
            .iter()
            .map(|p| (p.strength, p.condition.clone()))
            .collect();
        let query = |q: &str| Condition::Query(q.into());
        assert_eq!(
            conditions,
            [
                (Strength::Assume, Condition::Edition("enterprise".into())),
                (
                    Strength::Require,
                    Condition::AnyVersion(vec![vec![4, 4], vec![5, 1], vec![5, 26]])
                ),
                (
                    Strength::Assume,
                    query("MATCH (b:Book) RETURN count(b) = 0")
                ),
                (Strength::Require, query("RETURN true")),
                (Strength::Assume, query("RETURN false")),
            ]
        );
        assert_eq!(p[3].line, 4);
        let any = &p[1].condition;
        assert_eq!(holds(any, &server("community", "5.26.30")), Some(true));
        assert_eq!(holds(any, &server("community", "4.4.44")), Some(true));
        assert_eq!(holds(any, &server("community", "5.2.0")), Some(false));
        assert_eq!(holds(any, &server("community", "2025.10.1")), Some(false));
        // Only the database answers a query.
        assert_eq!(
            holds(&p[2].condition, &server("community", "5.26.30")),
            None
        );
    }
}
