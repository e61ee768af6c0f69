//! Moving rows out of a DEFAULT partition in batches, and readying the
//! child they went into for its attach.

use sqlx::PgConnection;

use super::{db_error, exec, transaction};
use crate::error::Result;
use crate::partition::policy::Policy;

/// Moves up to `limit` rows of `[lo, hi)` from the DEFAULT partition into
/// the standalone child, in the caller's transaction. Returns the count.
pub(super) fn move_rows(
    default: &str,
    child: &str,
    col: &str,
    lo: &str,
    hi: &str,
    columns: &str,
    limit: Option<u32>,
) -> String {
    let pick = match limit {
        Some(n) => format!(
            "d.ctid = ANY (ARRAY(SELECT ctid FROM {default} WHERE {col} >= {lo} AND {col} < {hi} LIMIT {n}))"
        ),
        None => format!("d.{col} >= {lo} AND d.{col} < {hi}"),
    };
    format!(
        "WITH moved AS (DELETE FROM {default} d WHERE {pick} RETURNING d.*) \
         INSERT INTO {child} ({columns}) SELECT {columns} FROM moved"
    )
}

/// Runs one batch of a move after another, each its own transaction,
/// until a batch comes back short. Returns the rows moved.
pub(super) async fn move_batches(
    conn: &mut PgConnection,
    policy: &Policy,
    name: &str,
    batch: &str,
) -> Result<u64> {
    let mut moved = 0u64;
    loop {
        let n = transaction(conn, batch)
            .await
            .map_err(|e| db_error(policy, &format!("moving DEFAULT rows into {name}"), e))?;
        moved += n;
        if n < u64::from(policy.move_batch_rows) {
            return Ok(moved);
        }
    }
}

/// Builds the parent's indexes on a standalone child that rows were
/// moved into. An attach would build each of them under its lock (at 10
/// million rows, seconds of stalled inserts); built now, on the table
/// nobody uses yet, nobody waits. Named by the server as an attach names
/// them; skipped when the child has indexes already (an interrupted run).
pub(super) async fn index_like_parent(
    conn: &mut PgConnection,
    policy: &Policy,
    parent: &str,
    child: &str,
) -> Result<()> {
    let ddl: Vec<String> = sqlx::query_scalar(
        "SELECT CASE WHEN k.oid IS NOT NULL \
                  THEN format('ALTER TABLE %s ADD %s', $2, pg_get_constraintdef(k.oid)) \
                  ELSE format('CREATE %sINDEX ON %s USING %s', \
                         CASE WHEN x.indisunique THEN 'UNIQUE ' ELSE '' END, $2, \
                         substr(d.def, length(d.head) + 1)) END \
         FROM pg_index x \
         JOIN pg_class ic ON ic.oid = x.indexrelid \
         JOIN pg_class pc ON pc.oid = x.indrelid \
         JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
         LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid \
           AND k.contype IN ('p', 'u') \
         CROSS JOIN LATERAL (SELECT pg_get_indexdef(x.indexrelid) AS def, \
           format('CREATE %sINDEX %I ON ONLY %I.%I USING ', \
             CASE WHEN x.indisunique THEN 'UNIQUE ' ELSE '' END, ic.relname, pn.nspname, pc.relname) AS head) d \
         WHERE x.indrelid = $1::regclass AND (k.oid IS NOT NULL OR starts_with(d.def, d.head)) \
           AND NOT EXISTS (SELECT 1 FROM pg_index c WHERE c.indrelid = $2::regclass) \
         ORDER BY x.indexrelid",
    )
    .bind(parent)
    .bind(child)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_error(policy, "reading the parent's indexes", e))?;
    if !ddl.is_empty() {
        transaction(conn, &ddl.join(";\n"))
            .await
            .map_err(|e| db_error(policy, &format!("indexing {child}"), e))?;
    }
    Ok(())
}

/// Vacuums the DEFAULT partition rows were moved out of, which inserts do
/// not wait for. The attach scans the DEFAULT partition under its lock,
/// and so does the last step's move: emptied of the moved rows' dead
/// versions, and cut short where its tail is empty, it scans in
/// milliseconds instead of reading the whole file the moved rows left.
/// Best effort: the attach is correct without it.
pub(super) async fn vacuum(conn: &mut PgConnection, default: &str, timeout: &str) {
    // VACUUM runs on its own, outside any transaction (a string of
    // statements is one): its wait is bounded by the session's timeout.
    let vacuumed = match exec(conn, format!("SET lock_timeout = '{timeout}'")).await {
        Ok(_) => exec(conn, format!("VACUUM {default}")).await,
        Err(e) => Err(e),
    };
    let _ = exec(conn, "RESET lock_timeout".into()).await;
    if let Err(e) = vacuumed {
        tracing::warn!(partition = %default, error = %e, "vacuuming the DEFAULT partition before the attach failed");
    }
}
