//! Index builds that are not atomic: `CREATE INDEX CONCURRENTLY` and
//! `REINDEX … CONCURRENTLY` that fail or are interrupted leave an INVALID
//! index behind — there, unused by queries, enforcing nothing if unique —
//! and a rerun with `IF NOT EXISTS` would take it as built. Such a failure
//! leaves the record dirty and names the index; a file that completes while
//! its index is invalid is not recorded as applied; and `up`, `validate`
//! and `status` refuse while an applied migration's index is invalid.

use sqlx::AssertSqlSafe;

use super::PostgresBackend;
use super::format::{ConcurrentBuild, concurrent_build, concurrent_builds};
use crate::error::Result;
use crate::problem::Problem;
use crate::script::Script;

/// Every invalid index no build is working on now (one in progress is
/// invalid until it is done): schema, name, its table's schema and name.
const INVALID: &str = "\
SELECT n.nspname::text, c.relname::text, tn.nspname::text, t.relname::text \
FROM pg_catalog.pg_index i \
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid \
JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace \
WHERE NOT i.indisvalid AND NOT EXISTS \
  (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) \
ORDER BY 1, 2";

type InvalidRow = (String, String, String, String);

/// Whether an invalid index is the one `build` makes: by its name (a
/// REINDEX's copy is `<name>_ccnew…`), or by its table when the statement
/// names no index.
fn made_by(build: &ConcurrentBuild, (_, index, table_schema, table): &InvalidRow) -> bool {
    match (&build.index, &build.table) {
        (Some(name), _) => index == name || index.starts_with(&format!("{name}_ccnew")),
        (None, Some(t)) => match t.split_once('.') {
            Some((s, n)) => s == table_schema && n == table,
            None => t == table,
        },
        (None, None) => false,
    }
}

/// Whether a statement may fail part-way through with effects left: any
/// `… CONCURRENTLY` (index builds, `DETACH PARTITION … CONCURRENTLY`).
pub(super) fn partial(text: &str) -> bool {
    crate::split::lex_sql(text).is_ok_and(|tokens| tokens.iter().any(|t| t.is("concurrently")))
}

/// Whether a statement builds an index concurrently.
pub(super) fn builds_index(text: &str) -> bool {
    crate::split::lex_sql(text).is_ok_and(|tokens| concurrent_build(&tokens).is_some())
}

impl PostgresBackend {
    async fn invalid_indexes(&mut self) -> std::result::Result<Vec<InvalidRow>, sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(INVALID))
            .fetch_all(&mut self.conn)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    sqlx::Row::try_get(row, 0)?,
                    sqlx::Row::try_get(row, 1)?,
                    sqlx::Row::try_get(row, 2)?,
                    sqlx::Row::try_get(row, 3)?,
                ))
            })
            .collect()
    }

    /// The invalid indexes one statement's concurrent build left, as
    /// `schema.name`; none when it builds none or they cannot be read.
    pub(super) async fn left_invalid(&mut self, statement: &str) -> Vec<String> {
        let Some(build) = crate::split::lex_sql(statement)
            .ok()
            .and_then(|tokens| concurrent_build(&tokens))
        else {
            return Vec::new();
        };
        match self.invalid_indexes().await {
            Ok(rows) => rows
                .iter()
                .filter(|r| made_by(&build, r))
                .map(|r| format!("{}.{}", r.0, r.1))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Drops INVALID indexes (`schema.name`) a timed-out build left, each
    /// concurrently: it waits, under the session's lock timeout, for what
    /// the build waited for.
    pub(super) async fn drop_indexes(
        &mut self,
        indexes: &[String],
    ) -> std::result::Result<(), sqlx::Error> {
        for index in indexes {
            let (schema, name) = index.split_once('.').unwrap_or(("public", index));
            self.exec(format!(
                "DROP INDEX CONCURRENTLY IF EXISTS \"{}\".\"{}\"",
                schema.replace('"', "\"\""),
                name.replace('"', "\"\"")
            ))
            .await?;
        }
        Ok(())
    }

    /// The invalid indexes the concurrent builds of `scripts` made, with
    /// the version and file of each.
    pub(super) async fn invalid_built(
        &mut self,
        scripts: &[(u64, &Script)],
    ) -> Result<Vec<Problem>> {
        let builds: Vec<(u64, &Script, Vec<ConcurrentBuild>)> = scripts
            .iter()
            // A cheap look first: most files build nothing concurrently.
            .filter(|(_, s)| s.content.to_ascii_lowercase().contains("concurrently"))
            .map(|(v, s)| (*v, *s, concurrent_builds(&s.content)))
            .filter(|(_, _, b)| !b.is_empty())
            .collect();
        if builds.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .invalid_indexes()
            .await
            .map_err(|e| self.db_error("reading the indexes' validity failed", e))?;
        let mut problems = Vec::new();
        for (version, script, made) in builds {
            for row in rows.iter().filter(|r| made.iter().any(|b| made_by(b, r))) {
                problems.push(Problem::InvalidIndex {
                    version,
                    file: crate::catalog::display_name(&script.file),
                    index: format!("{}.{}", row.0, row.1),
                });
            }
        }
        Ok(problems)
    }

    /// After a file ran to its end: the indexes it built concurrently that
    /// are invalid anyway (`IF NOT EXISTS` met the one an earlier,
    /// interrupted build left), as `schema.name`.
    pub(super) async fn built_invalid(&mut self, script: &Script) -> Result<Vec<String>> {
        Ok(self
            .invalid_built(&[(0, script)])
            .await?
            .into_iter()
            .filter_map(|p| match p {
                Problem::InvalidIndex { index, .. } => Some(index),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_index_is_matched_to_the_build_that_made_it() {
        let row = |i: &str, t: &str| {
            (
                "app".to_string(),
                i.to_string(),
                "app".to_string(),
                t.to_string(),
            )
        };
        let named = ConcurrentBuild {
            index: Some("idx_a".into()),
            table: None,
        };
        assert!(made_by(&named, &row("idx_a", "t")));
        assert!(made_by(&named, &row("idx_a_ccnew1", "t")));
        assert!(!made_by(&named, &row("idx_ab", "t")));
        let on_table = ConcurrentBuild {
            index: None,
            table: Some("app.t".into()),
        };
        assert!(made_by(&on_table, &row("t_a_idx", "t")));
        assert!(!made_by(&on_table, &row("u_a_idx", "u")));
        assert!(partial("create index concurrently i on t (a)"));
        assert!(!partial("create index i on t (a)"));
    }
}
