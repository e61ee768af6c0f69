//! Neo4j preconditions: what a Cypher file needs of the server, read from
//! its leading comment lines and checked before anything runs. strata's
//! own `// strata:require edition=enterprise` and `// strata:require
//! version>=5.13`, and neo4j-migrations' comments as written there:
//! `// assert that edition is enterprise`, `// assume that version is 5.*`,
//! `// assume that version is ge 5.13`, `… lt 6.0`. An unmet requirement
//! (`require`, `assert`) refuses the run; an unmet assumption (`assume`)
//! skips the file. Pure.

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
            None => [
                ("assert that ", Strength::Require),
                ("assume that ", Strength::Assume),
            ]
            .into_iter()
            .find_map(|(prefix, strength)| {
                let rest = comment.strip_prefix(prefix)?;
                Some((strength, migrations_condition(rest.trim())))
            }),
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
/// is 5.1, 5.2`, `version is ge 5.13`, `version is lt 6.0`.
fn migrations_condition(s: &str) -> Result<Condition, String> {
    let bad = || {
        format!(
            "cannot read `{s}`: strata reads `edition is enterprise|community` and \
             `version is 5.*`, `version is ge 5.13`, `version is lt 6.0` (query preconditions \
             are not supported: use strata:require or a migration that checks)"
        )
    };
    if let Some(e) = s.strip_prefix("edition is ") {
        return match e.trim().to_ascii_lowercase().as_str() {
            e @ ("enterprise" | "community") => Ok(Condition::Edition(e.into())),
            _ => Err(bad()),
        };
    }
    let rest = s.strip_prefix("version is ").ok_or_else(bad)?.trim();
    if let Some(v) = rest.strip_prefix("ge ") {
        return Ok(Condition::Version(
            ">=".into(),
            numbers(v.trim()).ok_or_else(bad)?,
        ));
    }
    if let Some(v) = rest.strip_prefix("lt ") {
        return Ok(Condition::Version(
            "<".into(),
            numbers(v.trim()).ok_or_else(bad)?,
        ));
    }
    // One version or a prefix (`5.*`); a list takes its first (strata
    // reads one).
    let first = rest.split(',').next().unwrap_or(rest).trim();
    Ok(Condition::Version(
        "=".into(),
        numbers(first).ok_or_else(bad)?,
    ))
}

/// Whether the server meets the condition.
pub fn holds(condition: &Condition, server: &Server) -> bool {
    match condition {
        Condition::Edition(e) => server.edition.eq_ignore_ascii_case(e),
        Condition::Version(op, want) => {
            let have = numbers(&server.version).unwrap_or_default();
            if op == "=" {
                return have.len() >= want.len() && have[..want.len()] == want[..];
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
    }
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
        assert!(!holds(&p[0].condition, &community));
        assert!(holds(&p[0].condition, &enterprise));
        assert!(holds(&p[1].condition, &community));
        assert!(!holds(&p[1].condition, &server("community", "2025.10.1")));
        assert!(holds(&p[2].condition, &community));
        assert!(!holds(&p[2].condition, &server("community", "5.12.0")));
        assert!(holds(&p[3].condition, &community));
        assert!(!holds(&p[3].condition, &server("community", "2026.1.0")));
    }

    #[test]
    fn unreadable_preconditions_name_their_line() {
        let (line, message) = read("// strata:require edition=platinum\nRETURN 1;").unwrap_err();
        assert_eq!(line, 1);
        assert!(message.contains("edition=enterprise"), "{message}");
        let (line, _) = read("\n// assume that q' RETURN true\n").unwrap_err();
        assert_eq!(line, 2);
    }
}
