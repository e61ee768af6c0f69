//! The two sessions on one connection: strata's own and the one a
//! migration file runs in.
//!
//! strata's bookkeeping names the history table with the schema it
//! resolved when it first needed it (`history_schema`, else the
//! connection's `current_schema()` before any file ran), so a file's
//! `SET search_path` cannot send a record elsewhere.
//!
//! A file runs as it would through psql: the driver forces `TimeZone=UTC`
//! and `DateStyle='ISO, MDY'` in its start-up message, so before each file
//! the session is reset (`RESET ALL`, which also drops what an earlier
//! file set) and those two are set to what the server gives this database
//! and role without a client's say: `PGTZ`/`PGDATESTYLE` or the URL's
//! `options` when given (as libpq sends them), else the role's and
//! database's settings (`ALTER ROLE/DATABASE … SET`), else the server's
//! configuration files, else (files unreadable by this role) the log time
//! zone that initdb sets beside the time zone, and the built-in date style.
//! After the file, `RESET ALL` gives strata its own session back.

use sqlx::AssertSqlSafe;

use super::PostgresBackend;
use crate::error::{Error, Result};

/// The settings the driver forces at start-up, which a file must not see.
const FORCED: [&str; 2] = ["timezone", "datestyle"];

/// A text as an `E'…'` constant: its meaning does not depend on
/// `standard_conforming_strings`.
pub(super) fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// `-c name=value` and `--name=value` pairs of a libpq `options` value
/// (a `\ ` is a space inside a value), lower-cased names.
fn options_settings(options: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = Vec::new();
    let mut iter = words.into_iter();
    while let Some(w) = iter.next() {
        let pair = if w == "-c" {
            iter.next()
        } else {
            w.strip_prefix("-c")
                .or_else(|| w.strip_prefix("--"))
                .map(str::to_string)
        };
        if let Some((name, value)) = pair.as_deref().and_then(|p| p.split_once('=')) {
            out.push((
                name.replace('-', "_").to_ascii_lowercase(),
                value.to_string(),
            ));
        }
    }
    out
}

/// Role and database settings of the session user in this database, most
/// specific first (the order PostgreSQL applies them in, reversed).
const ROLE_AND_DATABASE: &str = "\
SELECT lower(split_part(c, '=', 1)), substr(c, strpos(c, '=') + 1) \
FROM pg_db_role_setting s, unnest(s.setconfig) c \
WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())) \
  AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = session_user)) \
ORDER BY (s.setrole = 0), (s.setdatabase = 0)";

/// The configuration files' values in force (superusers and members of
/// `pg_read_all_settings` only).
const FILES: &str = "\
SELECT lower(name), setting FROM pg_file_settings \
WHERE applied AND lower(name) IN ('timezone', 'datestyle') ORDER BY seqno";

/// What the server gives when neither a role nor the files can be read.
const FALLBACK: &str = "\
SELECT 'timezone', current_setting('log_timezone') \
UNION ALL SELECT 'datestyle', boot_val FROM pg_settings WHERE name = 'DateStyle'";

impl PostgresBackend {
    /// The history table's schema, resolved now if it was not: the
    /// session's `current_schema()`, read before any file ran.
    pub(super) async fn resolve_schema(&mut self) -> Result<()> {
        if self.schema.is_some() {
            return Ok(());
        }
        let schema: Option<String> = sqlx::raw_sql("SELECT current_schema()::text")
            .fetch_one(&mut self.conn)
            .await
            .and_then(|row| sqlx::Row::try_get(&row, 0))
            .map_err(|e| self.db_error("reading the session's schema failed", e))?;
        self.settle_schema(schema)
    }

    /// Takes the schema `current_schema()` gave, or refuses when the
    /// session's search_path names no schema that exists.
    pub(super) fn settle_schema(&mut self, schema: Option<String>) -> Result<()> {
        if self.schema.is_some() {
            return Ok(());
        }
        let Some(schema) = schema else {
            return Err(Error::config(
                "history_schema",
                format!(
                    "database {}: the session's search_path names no schema that exists, so \
                     there is nowhere to keep {}: set history_schema (or a search_path for \
                     the role or database)",
                    self.database, self.table_name
                ),
            ));
        };
        self.table = format!(
            "\"{}\".\"{}\"",
            schema.replace('"', "\"\""),
            self.table_name
        );
        self.schema = Some(schema);
        Ok(())
    }

    /// Where the history lives, `schema.table`, once resolved.
    pub(crate) fn history_location(&self) -> Option<String> {
        let schema = self.schema.as_ref()?;
        Some(format!("{schema}.{}", self.bare_table_name()))
    }

    /// The history table's name without its schema, as configured.
    pub(super) fn bare_table_name(&self) -> &str {
        self.table_name
            .rsplit('.')
            .next()
            .unwrap_or(&self.table_name)
    }

    /// Keeps the server checking for a gone client during long
    /// statements (PostgreSQL 14+): `RESET ALL` drops it.
    fn keepalive(&self) -> &'static str {
        if self.conn.server_version_num().unwrap_or(0) >= 140000 {
            "SELECT set_config('client_connection_check_interval', '2000', false);"
        } else {
            ""
        }
    }

    /// strata's own session back after a file: whatever the file set is
    /// dropped, the driver's settings return.
    pub(super) fn restore_sql(&self) -> String {
        format!("RESET ALL;{}", self.keepalive())
    }

    /// The statements that open a file's session (see the module's
    /// header), each ending in `;`, and how many there are; read from the
    /// server once per connection.
    pub(super) async fn file_session(&mut self) -> Result<(String, usize)> {
        if self.file_session.is_none() {
            let mut values = self.server_defaults().await?;
            let from_url = crate::config::urls::query_params(self.url.expose())
                .into_iter()
                .find(|(k, _)| k == "options")
                .map(|(_, v)| options_settings(&v))
                .unwrap_or_default();
            for (name, value) in from_url {
                if FORCED.contains(&name.as_str()) {
                    values.retain(|(n, _)| *n != name);
                    values.push((name, value));
                }
            }
            for (name, env) in [("timezone", "PGTZ"), ("datestyle", "PGDATESTYLE")] {
                if let Ok(value) = std::env::var(env)
                    && !value.is_empty()
                {
                    values.retain(|(n, _)| n != name);
                    values.push((name.to_string(), value));
                }
            }
            let mut statements = vec!["RESET ALL;".to_string()];
            for (name, value) in values {
                statements.push(format!(
                    "SELECT set_config({}, {}, false);",
                    literal(&name),
                    literal(&value)
                ));
            }
            let keepalive = self.keepalive();
            if !keepalive.is_empty() {
                statements.push(keepalive.to_string());
            }
            let count = statements.len();
            self.file_session = Some((statements.concat(), count));
        }
        Ok(self.file_session.clone().expect("set above"))
    }

    /// TimeZone and DateStyle as the server gives them to this role in
    /// this database when the client says nothing.
    async fn server_defaults(&mut self) -> Result<Vec<(String, String)>> {
        let mut values: Vec<(String, String)> = Vec::new();
        let take = |rows: Vec<(String, String)>, values: &mut Vec<(String, String)>| {
            for (name, value) in rows {
                if FORCED.contains(&name.as_str()) && !values.iter().any(|(n, _)| *n == name) {
                    values.push((name, value));
                }
            }
        };
        let rows = self
            .pairs(ROLE_AND_DATABASE)
            .await
            .map_err(|e| self.db_error("reading the role's and database's settings failed", e))?;
        take(rows, &mut values);
        if values.len() < FORCED.len() {
            // The files in order, the last one in force wins.
            if let Ok(mut rows) = self.pairs(FILES).await {
                rows.reverse();
                take(rows, &mut values);
            }
        }
        if values.len() < FORCED.len() {
            let rows = self
                .pairs(FALLBACK)
                .await
                .map_err(|e| self.db_error("reading the server's settings failed", e))?;
            take(rows, &mut values);
        }
        Ok(values)
    }

    async fn pairs(
        &mut self,
        sql: &str,
    ) -> std::result::Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut self.conn)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_settings_read_libpq_forms() {
        assert_eq!(
            options_settings(
                "-c TimeZone=Europe/Paris --DateStyle=SQL,\\ DMY -cstatement-timeout=5"
            ),
            vec![
                ("timezone".to_string(), "Europe/Paris".to_string()),
                ("datestyle".to_string(), "SQL, DMY".to_string()),
                ("statement_timeout".to_string(), "5".to_string()),
            ]
        );
        assert!(options_settings("-c").is_empty());
    }

    #[test]
    fn literals_mean_the_same_whatever_the_server_setting() {
        assert_eq!(literal(r"it's a \ test"), r"E'it''s a \\ test'");
    }
}
