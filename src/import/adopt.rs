//! Reading another tool's history table: the query per tool, and which
//! strata versions its rows say are applied. Pure.

use std::collections::BTreeMap;

use super::{MAPPING_FILE, Tool};
use crate::problem::Problem;

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
