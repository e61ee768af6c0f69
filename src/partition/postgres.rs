//! Reading partitions from the PostgreSQL catalog and carrying out actions.
//!
//! Creating a partition with `CREATE TABLE … PARTITION OF` takes ACCESS
//! EXCLUSIVE on the parent and stalls every writer. Instead, each new child
//! is created standalone (`LIKE parent`) and attached in the same
//! transaction with `ATTACH PARTITION` (empty, it has nothing to scan),
//! which takes only SHARE UPDATE EXCLUSIVE on the parent:
//! inserts keep flowing. Each partition is one transaction under a short
//! `lock_timeout`, retried with backoff, so maintenance never queues behind a
//! long query while blocking everyone queued behind it.
//!
//! Retention uses `DETACH PARTITION … CONCURRENTLY` when the server has it
//! (PostgreSQL 14+) and the table has no DEFAULT partition; an interrupted
//! one is completed with `FINALIZE` on the next run.
//!
//! Rows of a new partition's range waiting in the DEFAULT partition are
//! moved (when asked) into the new child while it is still standalone, in
//! batches of `move_batch_rows`, each its own transaction, so writers never
//! wait on them; only the last step moves what arrived meanwhile and
//! attaches, holding inserts into the table back for its few milliseconds
//! (an insert PostgreSQL routed to the DEFAULT partition fails if the attach
//! changes the default's bounds under it, so inserts must wait rather than
//! race it). Until that step, moved rows are not visible through the parent. An interrupted move leaves the
//! standalone child (marked by its `strata_partition_bound` constraint),
//! which the next run finishes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};

use super::calendar::partition_name_like;
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
    /// Standalone tables strata made for a partition and has not attached.
    pub staged: BTreeSet<String>,
    /// `server_version_num`.
    pub server_version: i32,
    /// When the newest partition is itself partitioned (`PARTITION BY
    /// LIST (region)` under the month): how new partitions are cut too.
    pub sub: Option<SubPartitions>,
}

/// The sub-partitioning of the newest partition, which new ones copy
/// (as pg_partman copies its template): its key and each sub-partition's
/// bound, with the suffix its name adds to the partition's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubPartitions {
    /// `pg_get_partkeydef`: `LIST (region)`.
    pub key: String,
    /// `(suffix, bound)`: `("_eu", "FOR VALUES IN ('eu')")`.
    pub parts: Vec<(String, String)>,
}

/// What to do with DEFAULT-partition rows that belong to a new partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultRows {
    /// Refuse to create that partition, naming the rows (the default).
    #[default]
    Refuse,
    /// Move them into the new partition: in bounded batches, each its own
    /// transaction, then the rest with the attach, so no row is lost or
    /// seen twice.
    Move,
}

/// Knobs for carrying out actions.
#[derive(Debug, Clone, Copy)]
pub struct ExecOptions {
    /// Lock timeout for each attach/detach attempt.
    pub lock_timeout: Duration,
    /// Attempts per partition before giving up on it.
    pub attempts: u32,
    /// DEFAULT-partition rows.
    pub default_rows: DefaultRows,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            lock_timeout: Duration::from_secs(2),
            attempts: 5,
            default_rows: DefaultRows::Refuse,
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

/// Something about the table in the database stops its maintenance (not
/// the config: the table, its partitions, its rows).
fn policy_error(policy: &Policy, message: impl Into<String>) -> Error {
    Error::Database {
        database: policy.database.clone(),
        message: format!("{}: {}", policy.qualified(), message.into()),
    }
}

fn db_error(policy: &Policy, context: &str, e: sqlx::Error) -> Error {
    Error::Database {
        database: policy.database.clone(),
        message: format!(
            "{}: {context}: {}",
            policy.qualified(),
            crate::backend::postgres::describe(&e)
        ),
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
            "the table does not exist (create it with a migration first)",
        ));
    };
    if relkind != "p" {
        return Err(policy_error(
            policy,
            "not a partitioned table (create it with PARTITION BY RANGE (column))",
        ));
    }
    if strategy.as_deref() != Some("r") || natts != Some(1) {
        return Err(policy_error(
            policy,
            "must be PARTITION BY RANGE on one column",
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
         AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
    )
    .bind(&parent_oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading columns", e))?;
    let rows: Vec<(String, String, String, bool, Option<String>)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text, pg_get_expr(c.relpartbound, c.oid), i.inhdetachpending, \
                CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE i.inhparent = $1::regclass ORDER BY c.relname",
    )
    .bind(&parent_oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading partitions", e))?;
    let children: Vec<Child> = rows
        .iter()
        .map(|(schema, name, bound, detach_pending, _)| Child {
            schema: schema.clone(),
            name: name.clone(),
            bound: parse_bound(bound),
            detach_pending: *detach_pending,
        })
        .collect();
    // The newest ranged partition is the template for new ones.
    let newest = children
        .iter()
        .zip(&rows)
        .filter_map(|(c, r)| match c.bound {
            super::plan::Bound::Range { to, .. } => Some((to, c, r)),
            _ => None,
        })
        .max_by_key(|(to, ..)| *to);
    let sub = match newest {
        Some((_, c, (.., Some(key)))) => Some(SubPartitions {
            key: key.clone(),
            parts: sub_partitions(conn, policy, c).await?,
        }),
        _ => None,
    };
    let default = children
        .iter()
        .find(|c| c.bound == super::plan::Bound::Default)
        .map(|c| c.name.clone());
    // The relation names in the schema the naming could give (reading
    // every name made each table's run read the whole schema: 100,000
    // names at 1000 tables), and whether each is a standalone table
    // carrying strata's bound constraint (a move in progress).
    let taken: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relkind = 'r' AND NOT c.relispartition AND EXISTS \
           (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.conname = 'strata_partition_bound') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname LIKE $2",
    )
    .bind(&policy.schema)
    .bind(partition_name_like(&policy.naming, &policy.table))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading relation names", e))?;
    Ok(Inspection {
        column,
        key_type,
        columns: columns.into_iter().map(|c| c.0).collect(),
        children,
        staged: taken.iter().filter(|t| t.1).map(|t| t.0.clone()).collect(),
        taken: taken.into_iter().map(|t| t.0).collect(),
        default,
        server_version,
        sub,
    })
}

/// The sub-partitions of a partition: the suffix each name adds to the
/// partition's (`_p1`, `_p2`, … when a name does not start with it) and
/// its bound.
async fn sub_partitions(
    conn: &mut PgConnection,
    policy: &Policy,
    partition: &Child,
) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = $1::regclass ORDER BY c.relname",
    )
    .bind(qualified(&partition.schema, &partition.name))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading sub-partitions", e))?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, (name, bound))| {
            let suffix = match name.strip_prefix(&partition.name) {
                Some(rest) if !rest.is_empty() => rest.to_string(),
                _ => format!("_p{}", i + 1),
            };
            (suffix, bound)
        })
        .collect())
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
/// sleeping in between as migrations do after a lock timeout (the same
/// doubling, jittered, capped pauses). A macro rather than a function
/// taking an async closure, so the futures stay `Send`.
macro_rules! with_retries {
    ($options:expr, $attempt:expr) => {{
        let mut n = 1;
        loop {
            match $attempt {
                Err(e) if is_lock_timeout(&e) && n < $options.attempts => {
                    let wait = crate::backend::postgres::backoff(n - 1);
                    tracing::info!(
                        attempt = n,
                        wait_ms = wait.as_millis() as u64,
                        "lock timeout, retrying"
                    );
                    tokio::time::sleep(wait).await;
                    n += 1;
                }
                other => break other,
            }
        }
    }};
}

mod copy;
mod rows;
use rows::{index_like_parent, move_batches, move_rows, vacuum};

/// A failed attempt's error; after lock timeouts, naming the sessions
/// holding locks on the parent, as a migration's retries name its blocker.
async fn failed<T>(
    conn: &mut PgConnection,
    policy: &Policy,
    parent: &str,
    context: &str,
    result: std::result::Result<T, sqlx::Error>,
) -> Result<T> {
    let e = match result {
        Ok(n) => return Ok(n),
        Err(e) => e,
    };
    if !is_lock_timeout(&e) {
        return Err(db_error(policy, context, e));
    }
    let holders = crate::backend::postgres::lock_holders(conn, parent).await;
    Err(db_error(
        policy,
        &format!(
            "{context} (the lock on {parent} was held by {})",
            holders.unwrap_or_else(|| "a session that had let go since".to_string())
        ),
        e,
    ))
}

fn is_check_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23514"))
}

/// Runs `sql` as one transaction; rolls back on error.
async fn transaction(conn: &mut PgConnection, sql: &str) -> std::result::Result<u64, sqlx::Error> {
    let r = exec(conn, format!("BEGIN;\n{sql};\nCOMMIT;")).await;
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
            // Cut like the newest partition when that one is itself
            // partitioned: the sub-partitions are made on the new, not yet
            // attached table, which nobody uses.
            let (by, subs) = match &insp.sub {
                Some(sub) => (
                    format!(" PARTITION BY {}", sub.key),
                    sub.parts
                        .iter()
                        .map(|(suffix, bound)| {
                            format!(
                                "CREATE TABLE {} PARTITION OF {child} {bound};\n",
                                qualified(&policy.schema, &format!("{name}{suffix}"))
                            )
                        })
                        .collect::<String>(),
                ),
                None => (String::new(), String::new()),
            };
            let table = format!(
                "CREATE TABLE {child} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
                   INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS){by};\n{subs}"
            );
            let attach_only = format!(
                "ALTER TABLE {parent} ATTACH PARTITION {child} FOR VALUES FROM ({lo}) TO ({hi});"
            );
            // A child rows are moved into first carries a CHECK constraint
            // matching its range, so its attach skips scanning it; a new,
            // empty one attached in the transaction that made it has
            // nothing to scan (adding and dropping the constraint there
            // made each partition a third slower).
            // Autovacuum is kept off the child until it is attached: the
            // attach needs it alone, and waiting for an autovacuum of the
            // moved rows to be cancelled (deadlock_timeout, 1 s) while
            // holding inserts back stalled them past a second.
            // (A partitioned child takes no storage parameters; its
            // sub-partitions are new and small until the attach.)
            let (no_autovacuum, autovacuum) = match insp.sub {
                None => (
                    format!("\nALTER TABLE {child} SET (autovacuum_enabled = false);"),
                    format!("\nALTER TABLE {child} RESET (autovacuum_enabled);"),
                ),
                Some(_) => (String::new(), String::new()),
            };
            let create = format!(
                "SET LOCAL lock_timeout = '{timeout}';\n{table}\
                 ALTER TABLE {child} ADD CONSTRAINT strata_partition_bound \
                   CHECK ({col} IS NOT NULL AND {col} >= {lo} AND {col} < {hi});{no_autovacuum}"
            );
            let attach = format!(
                "{attach_only}\nALTER TABLE {child} DROP CONSTRAINT strata_partition_bound;{autovacuum}"
            );
            let staged = insp.staged.contains(name);
            match (&insp.default, stray > 0 || staged) {
                // The common case: one transaction, one round trip.
                (_, false) => {
                    let sql =
                        format!("SET LOCAL lock_timeout = '{timeout}';\n{table}{attach_only}");
                    let r = with_retries!(options, transaction(conn, &sql).await);
                    failed(conn, policy, &parent, &format!("creating {name}"), r).await?;
                }
                (None, true) => {
                    // A staged child without a DEFAULT partition: attach it.
                    let sql = format!("SET LOCAL lock_timeout = '{timeout}';\n{attach}");
                    let r = with_retries!(options, transaction(conn, &sql).await);
                    failed(conn, policy, &parent, &format!("attaching {name}"), r).await?;
                }
                (Some(default), true) => {
                    let default = qualified(&policy.schema, default);
                    let quoted: Vec<String> = insp.columns.iter().map(|c| q(c)).collect();
                    let columns = quoted.join(", ");
                    let m = copy::Move {
                        parent: &parent,
                        default: &default,
                        child: &child,
                        name,
                        col: &col,
                        lo: &lo,
                        hi: &hi,
                        columns: &quoted,
                        timeout: &timeout,
                        attach: &attach,
                    };
                    if !staged {
                        let r = with_retries!(options, transaction(conn, &create).await);
                        failed(conn, policy, &parent, &format!("creating {name}"), r).await?;
                    } else if copy::interrupted(conn, policy, &m).await? {
                        // Its child holds copies of rows still in the
                        // DEFAULT partition: emptied, then the batched way.
                        copy::undo(conn, policy, &m, options).await?;
                    }
                    // Rows that can stay visible while they are copied
                    // are; otherwise (or when the copy falls back) they
                    // move in batches.
                    let copied = if !staged
                        && insp.sub.is_none()
                        && copy::applies(conn, policy, &m).await?
                    {
                        copy::run(conn, policy, &m, options).await?
                    } else {
                        None
                    };
                    if let Some(moved) = copied {
                        tracing::info!(partition = %name, expected = stray, moved, "copied DEFAULT partition rows and switched");
                        return Ok(started.elapsed().as_millis() as i64);
                    }
                    // Batches, each its own short transaction: writers of
                    // other ranges never wait on them.
                    let batch = move_rows(
                        &default,
                        &child,
                        &col,
                        &lo,
                        &hi,
                        &columns,
                        Some(policy.move_batch_rows),
                    );
                    // Then, with nobody waiting: the indexes, the rows
                    // that arrived meanwhile, a vacuum of the DEFAULT
                    // partition (the rows that arrived meanwhile sat at
                    // the end of its file, so their move lets it be cut
                    // short), and the rows that arrived during the vacuum,
                    // so the last step finds a batch's worth at most.
                    let mut moved = move_batches(conn, policy, name, &batch).await?;
                    index_like_parent(conn, policy, &parent, &child).await?;
                    moved += move_batches(conn, policy, name, &batch).await?;
                    vacuum(conn, &default, &timeout).await;
                    moved += move_batches(conn, policy, name, &batch).await?;
                    // The short last step moves the latecomers and attaches.
                    // It holds inserts into the parent back for its few
                    // milliseconds: PostgreSQL fails an insert routed to the
                    // DEFAULT partition that waits for an attach (the
                    // default's bounds change under it), and no insert may
                    // fail.
                    let last = format!(
                        "SET LOCAL lock_timeout = '{timeout}';\n\
                         LOCK TABLE {child} IN ACCESS EXCLUSIVE MODE;\n\
                         LOCK TABLE {parent} IN SHARE ROW EXCLUSIVE MODE;\n\
                         LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE;\n{};\n{attach}",
                        move_rows(&default, &child, &col, &lo, &hi, &columns, None)
                    );
                    let mut checks = 0;
                    loop {
                        match with_retries!(options, transaction(conn, &last).await) {
                            Err(e) if is_check_violation(&e) && checks < options.attempts => {
                                checks += 1
                            }
                            other => {
                                failed(conn, policy, &parent, &format!("attaching {name}"), other)
                                    .await?;
                                break;
                            }
                        }
                    }
                    tracing::info!(partition = %name, expected = stray, moved, "moved DEFAULT partition rows");
                }
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
            failed(conn, policy, &parent, &format!("detaching {name}"), result).await?;
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
