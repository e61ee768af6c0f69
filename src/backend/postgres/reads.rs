//! Read-only queries: the history's rows, a group's `urls_query`, another
//! tool's history table (`baseline --from`), table sizes for the lint.

use sqlx::{AssertSqlSafe, Connection, FromRow};

use super::{HistoryRow, PostgresBackend, describe};
use crate::error::{Error, Result};

impl PostgresBackend {
    /// Every history row, `applied_by` read with `applied_by` (an SQL
    /// expression over the row `h`). A simple query, not a prepared one:
    /// one round trip instead of two (parse, then bind), which is most of
    /// what a no-op `up` waits for on a distant server.
    pub(super) async fn history_rows(
        &mut self,
        applied_by: &str,
    ) -> std::result::Result<Vec<HistoryRow>, sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SELECT version, name, checksum, applied_at, execution_time_ms, success, \
                    {applied_by} FROM {} h ORDER BY version",
            self.table
        )))
        .fetch_all(&mut self.conn)
        .await
        .and_then(|rows| rows.iter().map(HistoryRow::from_row).collect())
    }

    /// Runs a read-only query and returns its first column as text, one
    /// value per row (NULL as None): the members of a `urls_query` group.
    /// A query the server refuses (bad SQL, a write, a column that is not
    /// text) is bad input, named by `setting` (exit 2); a session that
    /// fails (connection lost, cancelled) is a database error.
    pub async fn query_strings(&mut self, sql: &str, setting: &str) -> Result<Vec<Option<String>>> {
        let result: std::result::Result<Vec<Option<String>>, sqlx::Error> = async {
            let mut tx = self.conn.begin().await?;
            sqlx::raw_sql("SET TRANSACTION READ ONLY")
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(sql.to_string()))
                .fetch_all(&mut *tx)
                .await?;
            tx.rollback().await?;
            Ok(rows)
        }
        .await;
        result.map_err(|e| {
            let decode = matches!(e, sqlx::Error::ColumnDecode { .. });
            if !decode && !super::statement_error(&e) {
                return self.db_error("running the group's urls_query", e);
            }
            let hint = match decode {
                true => "its first column must be text (cast it, `SELECT url::text …`): ",
                false => "",
            };
            Error::config(
                setting,
                self.url.scrub(&format!(
                    "on database {}: {hint}{}",
                    self.database,
                    describe(&e)
                )),
            )
        })
    }

    /// Reads another tool's history table with `sql` (which yields version
    /// text, kind text and an ok flag per row), in a read-only transaction.
    /// A missing table is named, with the option that picks another.
    pub async fn foreign_rows(
        &mut self,
        sql: &str,
        table: &str,
    ) -> Result<Vec<(Option<String>, String, bool)>> {
        let result: std::result::Result<Vec<(Option<String>, String, bool)>, sqlx::Error> = async {
            let mut tx = self.conn.begin().await?;
            sqlx::raw_sql("SET TRANSACTION READ ONLY")
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query_as(AssertSqlSafe(sql.to_string()))
                .fetch_all(&mut *tx)
                .await?;
            tx.rollback().await?;
            Ok(rows)
        }
        .await;
        result.map_err(|e| {
            let code = e.as_database_error().and_then(|d| d.code()).unwrap_or_default();
            if code == "42P01" || code == "42703" {
                Error::Usage(format!(
                    "database {}: {table} is not there or not that tool's history table ({}); name the table the tool used with --from-table",
                    self.database,
                    describe(&e)
                ))
            } else {
                self.db_error(&format!("reading {table}"), e)
            }
        })
    }

    /// Estimated rows (`reltuples`, never analysed counts as 0) and
    /// `pg_total_relation_size` of the named relations, keyed as named;
    /// with no names, of every table outside the system schemas, keyed
    /// `schema.name`. Names that resolve to nothing are left out.
    pub async fn table_sizes(
        &mut self,
        names: &[String],
    ) -> Result<std::collections::BTreeMap<String, crate::finding::TableSize>> {
        let rows: std::result::Result<Vec<(String, i64, i64)>, sqlx::Error> = if names.is_empty() {
            sqlx::query_as(
                "SELECT n.nspname || '.' || c.relname, GREATEST(c.reltuples, 0)::bigint, \
                 pg_total_relation_size(c.oid) FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p', 'm') \
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname NOT LIKE 'pg_toast%'",
            )
            .fetch_all(&mut self.conn)
            .await
        } else {
            // Names are resolved identifiers: quoted again for to_regclass.
            let quoted: Vec<String> = names
                .iter()
                .map(|n| {
                    n.split('.')
                        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .collect();
            sqlx::query_as(
                "SELECT x, GREATEST(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid) \
                 FROM unnest($1::text[], $2::text[]) AS u(x, q) \
                 JOIN pg_class c ON c.oid = to_regclass(q)",
            )
            .bind(names)
            .bind(&quoted)
            .fetch_all(&mut self.conn)
            .await
        };
        let rows = rows.map_err(|e| self.db_error("reading table sizes", e))?;
        Ok(rows
            .into_iter()
            .map(|(name, rows, bytes)| (name, crate::finding::TableSize { rows, bytes }))
            .collect())
    }
}
