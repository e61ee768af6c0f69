//! Reading partitions from the PostgreSQL catalog and carrying out actions.
//!
//! Creating a partition with `CREATE TABLE … PARTITION OF` takes ACCESS
//! EXCLUSIVE on the parent and stalls every writer. Instead, each new child
//! is created standalone (`LIKE parent`), given a CHECK constraint matching
//! its range (so the attach needs no scan), and attached with
//! `ATTACH PARTITION`, which takes only SHARE UPDATE EXCLUSIVE on the parent:
//! inserts keep flowing. Each partition is one transaction under a short
//! `lock_timeout`, retried with backoff, so maintenance never queues behind a
//! long query while blocking everyone queued behind it.
//!
//! Retention uses `DETACH PARTITION … CONCURRENTLY` when the server has it
//! (PostgreSQL 14+) and the table has no DEFAULT partition; an interrupted
//! one is completed with `FINALIZE` on the next run.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};

use super::plan::{Action, Child, Then, parse_bound};
use super::policy::Policy;
use crate::error::{Error, Result};

/// The type of the partition key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// `timestamp with time zone`.
    Timestamptz,
    /// `timestamp without time zone` (values taken as UTC).
    Timestamp,
    /// `date`.
    Date,
}

/// What the catalog says about a managed parent.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The partition key column.
    pub column: String,
    /// Its type.
    pub key_type: KeyType,
    /// The parent's columns, in order (for moving rows).
    pub columns: Vec<String>,
    /// Its children with bounds.
    pub children: Vec<Child>,
    /// Every relation name in the parent's schema.
    pub taken: BTreeSet<String>,
    /// The DEFAULT partition's name, if there is one.
    pub default: Option<String>,
    /// `server_version_num`.
    pub server_version: i32,
}

/// What to do with DEFAULT-partition rows that belong to a new partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultRows {
    /// Refuse to create that partition, naming the rows (the default).
    #[default]
    Refuse,
    /// Move them into the new partition, in bounded batches, in the same
    /// transaction as the attach, so no row is lost or seen twice.
    Move,
}

/// Knobs for carrying out actions.
#[derive(Debug, Clone, Copy)]
pub struct ExecOptions {
    /// Lock timeout for each attach/detach attempt.
    pub lock_timeout: Duration,
    /// Attempts per partition before giving up on it.
    pub attempts: u32,
    /// First backoff between attempts; doubles each time.
    pub backoff: Duration,
    /// DEFAULT-partition rows.
    pub default_rows: DefaultRows,
    /// Rows moved per statement with [`DefaultRows::Move`].
    pub batch: i64,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            lock_timeout: Duration::from_secs(2),
            attempts: 5,
            backoff: Duration::from_millis(200),
            default_rows: DefaultRows::Refuse,
            batch: 5000,
        }
    }
}

fn q(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", q(schema), q(name))
}

/// A literal of the key's type for a UTC boundary.
pub fn literal(key: KeyType, t: DateTime<Utc>) -> String {
    match key {
        KeyType::Timestamptz => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S+00")),
        KeyType::Timestamp => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S")),
        KeyType::Date => format!("'{}'", t.format("%Y-%m-%d")),
    }
}

fn policy_error(policy: &Policy, message: impl Into<String>) -> Error {
    Error::config(
        format!("partitions ({}.{})", policy.database, policy.qualified()),
        message,
    )
}

fn db_error(policy: &Policy, context: &str, e: sqlx::Error) -> Error {
    Error::Database {
        database: policy.database.clone(),
        message: format!("{}: {context}: {e}", policy.qualified()),
    }
}

/// relkind, partstrat, partnatts, key column, key type, server_version_num
type ParentRow = (
    String,
    Option<String>,
    Option<i16>,
    Option<String>,
    Option<String>,
    i32,
);

/// Reads the parent and its children. Refuses a table that does not exist
/// or is not range-partitioned on one timestamp or date column.
pub async fn inspect(conn: &mut PgConnection, policy: &Policy) -> Result<Inspection> {
    // Bounds are rendered in the session's zone: make that UTC.
    sqlx::raw_sql("SET TIME ZONE 'UTC'")
        .execute(&mut *conn)
        .await
        .map_err(|e| db_error(policy, "setting the time zone", e))?;
    let parent: Option<ParentRow> = sqlx::query_as(
        "SELECT c.relkind::text, pt.partstrat::text, pt.partnatts, a.attname::text, \
                format_type(a.atttypid, a.atttypmod), current_setting('server_version_num')::int \
         FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid \
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0] \
         WHERE n.nspname = $1 AND c.relname = $2",
    )
    .bind(&policy.schema)
    .bind(&policy.table)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading the catalog", e))?;
    let Some((relkind, strategy, natts, column, type_name, server_version)) = parent else {
        return Err(policy_error(
            policy,
            format!(
                "table {} does not exist (create it with a migration first)",
                policy.qualified()
            ),
        ));
    };
    if relkind != "p" {
        return Err(policy_error(
            policy,
            format!("{} is not a partitioned table", policy.qualified()),
        ));
    }
    if strategy.as_deref() != Some("r") || natts != Some(1) {
        return Err(policy_error(
            policy,
            format!(
                "{} must be PARTITION BY RANGE on one column",
                policy.qualified()
            ),
        ));
    }
    let column = column
        .ok_or_else(|| policy_error(policy, "the partition key is an expression, not a column"))?;
    let key_type = match type_name.as_deref() {
        Some("timestamp with time zone") => KeyType::Timestamptz,
        Some("timestamp without time zone") => KeyType::Timestamp,
        Some("date") => KeyType::Date,
        other => {
            return Err(policy_error(
                policy,
                format!(
                    "partition key {column} is {}, not a timestamp or date",
                    other.unwrap_or("unknown")
                ),
            ));
        }
    };
    let parent_oid = qualified(&policy.schema, &policy.table);
    let columns: Vec<(String,)> = sqlx::query_as(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 \
         AND NOT attisdropped ORDER BY attnum",
    )
    .bind(&parent_oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading columns", e))?;
    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text, pg_get_expr(c.relpartbound, c.oid), i.inhdetachpending \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE i.inhparent = $1::regclass ORDER BY c.relname",
    )
    .bind(&parent_oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading partitions", e))?;
    let children: Vec<Child> = rows
        .into_iter()
        .map(|(schema, name, bound, detach_pending)| Child {
            schema,
            name,
            bound: parse_bound(&bound),
            detach_pending,
        })
        .collect();
    let default = children
        .iter()
        .find(|c| c.bound == super::plan::Bound::Default)
        .map(|c| c.name.clone());
    let taken: Vec<(String,)> = sqlx::query_as(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
    )
    .bind(&policy.schema)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading relation names", e))?;
    Ok(Inspection {
        column,
        key_type,
        columns: columns.into_iter().map(|c| c.0).collect(),
        children,
        taken: taken.into_iter().map(|t| t.0).collect(),
        default,
        server_version,
    })
}

/// Whether the parent table exists at all (it may still be pending).
pub async fn parent_exists(conn: &mut PgConnection, policy: &Policy) -> Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = $2)",
    )
    .bind(&policy.schema)
    .bind(&policy.table)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading the catalog", e))
}

/// Rows of the DEFAULT partition that fall in `[from, to)`.
pub async fn default_rows(
    conn: &mut PgConnection,
    policy: &Policy,
    insp: &Inspection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64> {
    let Some(default) = &insp.default else {
        return Ok(0);
    };
    let sql = format!(
        "SELECT count(*) FROM {} WHERE {col} >= {} AND {col} < {}",
        qualified(&policy.schema, default),
        literal(insp.key_type, from),
        literal(insp.key_type, to),
        col = q(&insp.column)
    );
    sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| db_error(policy, "counting DEFAULT partition rows", e))
}

async fn exec(conn: &mut PgConnection, sql: String) -> std::result::Result<u64, sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03"))
}

/// Evaluates `$attempt` (one transaction, left closed) until it succeeds,
/// fails with something other than a lock timeout, or runs out of attempts,
/// sleeping with doubling backoff in between. A macro rather than a
/// function taking an async closure, so the futures stay `Send`.
macro_rules! with_retries {
    ($options:expr, $attempt:expr) => {{
        let mut wait = $options.backoff;
        let mut n = 1;
        loop {
            match $attempt {
                Err(e) if is_lock_timeout(&e) && n < $options.attempts => {
                    tracing::info!(
                        attempt = n,
                        wait_ms = wait.as_millis() as u64,
                        "lock timeout, retrying"
                    );
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    n += 1;
                }
                other => break other,
            }
        }
    }};
}

/// One attempt at creating and attaching a partition, moving DEFAULT rows
/// first when there are any. Rolls back on error.
async fn create_once(
    conn: &mut PgConnection,
    prepare: &str,
    attach: &str,
    moving: Option<&str>,
) -> std::result::Result<i64, sqlx::Error> {
    let run = async {
        let Some(move_batch) = moving else {
            // The common case: one round trip for the whole transaction.
            exec(conn, format!("{prepare}\n{attach}")).await?;
            return Ok(0);
        };
        exec(conn, prepare.to_string()).await?;
        let mut moved = 0i64;
        loop {
            let n = exec(conn, move_batch.to_string()).await?;
            if n == 0 {
                break;
            }
            moved += n as i64;
        }
        exec(conn, attach.to_string()).await?;
        Ok(moved)
    };
    let r = run.await;
    if r.is_err() {
        let _ = exec(conn, "ROLLBACK".into()).await;
    }
    r
}

/// One attempt at detaching a partition.
async fn detach_once(
    conn: &mut PgConnection,
    parent: &str,
    child: &str,
    timeout: &str,
    concurrently: bool,
) -> std::result::Result<(), sqlx::Error> {
    if concurrently {
        // Cannot run in a transaction block: set the timeout for the
        // session around it.
        exec(conn, format!("SET lock_timeout = '{timeout}'")).await?;
        let r = exec(
            conn,
            format!("ALTER TABLE {parent} DETACH PARTITION {child} CONCURRENTLY"),
        )
        .await;
        let _ = exec(conn, "RESET lock_timeout".into()).await;
        r.map(|_| ())
    } else {
        let r = exec(
            conn,
            format!("BEGIN; SET LOCAL lock_timeout = '{timeout}'; ALTER TABLE {parent} DETACH PARTITION {child}; COMMIT;"),
        )
        .await;
        if r.is_err() {
            let _ = exec(conn, "ROLLBACK".into()).await;
        }
        r.map(|_| ())
    }
}

/// Carries out one action. Returns how long it took, in milliseconds.
pub async fn execute(
    conn: &mut PgConnection,
    policy: &Policy,
    insp: &Inspection,
    action: &Action,
    options: &ExecOptions,
) -> Result<i64> {
    let started = Instant::now();
    let parent = qualified(&policy.schema, &policy.table);
    let timeout = format!("{}ms", options.lock_timeout.as_millis().max(1));
    match action {
        Action::Create { name, from, to, .. } => {
            let stray = default_rows(conn, policy, insp, *from, *to).await?;
            if stray > 0 && options.default_rows == DefaultRows::Refuse {
                return Err(policy_error(
                    policy,
                    format!(
                        "the DEFAULT partition {} holds {stray} row(s) for {} .. {}, so {name} cannot be attached; \
                         run `migrate partitions run --move-default-rows` to move them into it",
                        insp.default.as_deref().unwrap_or("?"),
                        from.format("%Y-%m-%d"),
                        to.format("%Y-%m-%d")
                    ),
                ));
            }
            let child = qualified(&policy.schema, name);
            let (lo, hi) = (literal(insp.key_type, *from), literal(insp.key_type, *to));
            let col = q(&insp.column);
            let prepare = format!(
                "BEGIN;\n\
                 SET LOCAL lock_timeout = '{timeout}';\n\
                 CREATE TABLE {child} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
                   INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS);\n\
                 ALTER TABLE {child} ADD CONSTRAINT strata_partition_bound \
                   CHECK ({col} IS NOT NULL AND {col} >= {lo} AND {col} < {hi});"
            );
            let attach = format!(
                "ALTER TABLE {parent} ATTACH PARTITION {child} FOR VALUES FROM ({lo}) TO ({hi});\n\
                 ALTER TABLE {child} DROP CONSTRAINT strata_partition_bound;\n\
                 COMMIT;"
            );
            let columns = insp
                .columns
                .iter()
                .map(|c| q(c))
                .collect::<Vec<_>>()
                .join(", ");
            let moving = match (&insp.default, stray) {
                (Some(d), n) if n > 0 => {
                    let default = qualified(&policy.schema, d);
                    Some(format!(
                        "WITH moved AS (DELETE FROM {default} d WHERE d.ctid = ANY (ARRAY( \
                           SELECT ctid FROM {default} WHERE {col} >= {lo} AND {col} < {hi} LIMIT {batch})) \
                           RETURNING d.*) \
                         INSERT INTO {child} ({columns}) SELECT {columns} FROM moved",
                        batch = options.batch
                    ))
                }
                _ => None,
            };
            let moved = with_retries!(
                options,
                create_once(conn, &prepare, &attach, moving.as_deref()).await
            )
            .map_err(|e| db_error(policy, &format!("creating {name}"), e))?;
            if moving.is_some() {
                tracing::info!(partition = %name, expected = stray, moved, "moved DEFAULT partition rows");
            }
        }
        Action::Finalize { name, then } => {
            exec(
                conn,
                format!(
                    "ALTER TABLE {parent} DETACH PARTITION {} FINALIZE",
                    qualified(&policy.schema, name)
                ),
            )
            .await
            .map_err(|e| db_error(policy, &format!("finalizing the detach of {name}"), e))?;
            after_detach(conn, policy, name, then).await?;
        }
        Action::Detach { name, then, .. } => {
            let child = qualified(&policy.schema, name);
            let concurrently = insp.server_version >= 140000 && insp.default.is_none();
            let result = with_retries!(
                options,
                detach_once(conn, &parent, &child, &timeout, concurrently).await
            );
            result.map_err(|e| db_error(policy, &format!("detaching {name}"), e))?;
            after_detach(conn, policy, name, then).await?;
        }
    }
    Ok(started.elapsed().as_millis() as i64)
}

async fn after_detach(
    conn: &mut PgConnection,
    policy: &Policy,
    name: &str,
    then: &Then,
) -> Result<()> {
    let child = qualified(&policy.schema, name);
    let sql = match then {
        Then::Drop => format!("DROP TABLE {child}"),
        Then::Keep { schema: None } => return Ok(()),
        Then::Keep { schema: Some(s) } => {
            format!(
                "CREATE SCHEMA IF NOT EXISTS {}; ALTER TABLE {child} SET SCHEMA {}",
                q(s),
                q(s)
            )
        }
    };
    exec(conn, sql)
        .await
        .map(|_| ())
        .map_err(|e| db_error(policy, &format!("after detaching {name}"), e))
}
