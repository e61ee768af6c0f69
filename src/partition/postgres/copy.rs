//! Moving a DEFAULT partition's rows by copy and switch, so that no row
//! is ever invisible through the parent.
//!
//! The batched move (the parent module) deletes rows from the DEFAULT
//! partition batch by batch into a standalone child, where nobody sees
//! them until the attach. When the DEFAULT partition holds only rows of
//! the new partition's range, they can instead stay where they are while
//! a copy is made:
//!
//! 1. a trigger on the DEFAULT partition logs every row of the range
//!    inserted from then on, and flags anything else (a row outside the
//!    range, an update, a delete, a truncate);
//! 2. one REPEATABLE READ transaction empties the log of what its snapshot
//!    holds already and copies the range's rows into the child — so each
//!    row is either in the copy or in the log, never both, never neither;
//! 3. the child gets the parent's indexes, and logged rows are moved into
//!    it in batches;
//! 4. the last step, under the same locks as the batched move's, adds the
//!    rows logged since, drops the trigger, empties the DEFAULT partition
//!    with `TRUNCATE` and attaches the child: one switch.
//!
//! A flag sends the move back to the batched way (the copy is emptied
//! first). The price: `TRUNCATE` is not MVCC-safe, so a REPEATABLE READ
//! transaction older than the switch that reads the parent after it
//! misses the rows moved (a READ COMMITTED statement never does: it waits
//! for the switch and sees the child).

use sqlx::PgConnection;

use super::{
    db_error, exec, failed, index_like_parent, is_lock_timeout, move_batches, q, qualified,
    transaction,
};
use crate::error::Result;
use crate::partition::policy::Policy;

use super::ExecOptions;

/// The SQLSTATE the copy's own checks raise to fall back.
const FALL_BACK: &str = "SC001";

/// One move: the tables and the range, quoted and rendered.
pub(super) struct Move<'a> {
    pub parent: &'a str,
    pub default: &'a str,
    pub child: &'a str,
    pub name: &'a str,
    pub col: &'a str,
    pub lo: &'a str,
    pub hi: &'a str,
    /// The parent's columns, quoted, in order.
    pub columns: &'a [String],
    /// `lock_timeout` as the server takes it.
    pub timeout: &'a str,
    /// The statements that attach the child.
    pub attach: &'a str,
}

/// The copy's trigger function, log and flag tables, named after the
/// child's OID (the child outlives an interrupted run; its name may be
/// too long to add to).
struct Names {
    function: String,
    log: String,
    flags: String,
    trigger: String,
}

async fn names(conn: &mut PgConnection, policy: &Policy, m: &Move<'_>) -> Result<Names> {
    let oid: i64 = sqlx::query_scalar("SELECT $1::regclass::oid::bigint")
        .bind(m.child)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| db_error(policy, "reading the new partition", e))?;
    let named = |suffix: &str| qualified(&policy.schema, &format!("strata_copy_{oid}{suffix}"));
    Ok(Names {
        function: named(""),
        log: named(""),
        flags: named("_flags"),
        trigger: q(&format!("strata_copy_{oid}")),
    })
}

fn in_range(m: &Move<'_>, row: &str) -> String {
    format!("{row}{} >= {} AND {row}{} < {}", m.col, m.lo, m.col, m.hi)
}

fn is_fall_back(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some(FALL_BACK))
}

/// Whether the copy applies: the DEFAULT partition holds no row outside
/// the range, and no foreign key references the parent (`TRUNCATE` of a
/// referenced partition is refused).
pub(super) async fn applies(
    conn: &mut PgConnection,
    policy: &Policy,
    m: &Move<'_>,
) -> Result<bool> {
    let sql = format!(
        "SELECT NOT EXISTS (SELECT 1 FROM {} WHERE {} IS NULL OR NOT ({})) \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' \
                           AND confrelid = '{}'::regclass)",
        m.default,
        m.col,
        in_range(m, ""),
        m.parent.replace('\'', "''")
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| db_error(policy, "reading the DEFAULT partition", e))
}

/// Whether an interrupted copy left its log behind (its child then
/// holds copies of rows still in the DEFAULT partition).
pub(super) async fn interrupted(
    conn: &mut PgConnection,
    policy: &Policy,
    m: &Move<'_>,
) -> Result<bool> {
    let n = names(conn, policy, m).await?;
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&n.log)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| db_error(policy, "looking for an interrupted copy", e))
}

/// Drops the trigger and its tables and empties the child: what a copy
/// leaves when it falls back or was interrupted.
pub(super) async fn undo(
    conn: &mut PgConnection,
    policy: &Policy,
    m: &Move<'_>,
    options: &ExecOptions,
) -> Result<()> {
    let n = names(conn, policy, m).await?;
    let sql = format!(
        "SET LOCAL lock_timeout = '{}';\n\
         DROP TRIGGER IF EXISTS {trigger} ON {default};\n\
         DROP TRIGGER IF EXISTS {truncate} ON {default};\n\
         DROP FUNCTION IF EXISTS {function}();\n\
         DROP TABLE IF EXISTS {log}, {flags};\n\
         TRUNCATE {child}",
        m.timeout,
        trigger = n.trigger,
        truncate = q(&format!("{}_truncate", n.trigger.trim_matches('"'))),
        default = m.default,
        function = n.function,
        log = n.log,
        flags = n.flags,
        child = m.child,
    );
    let r = with_retries!(options, transaction(conn, &sql).await);
    failed(
        conn,
        policy,
        m.parent,
        &format!("undoing the copy into {}", m.name),
        r,
    )
    .await?;
    Ok(())
}

/// Copies the range's rows into the child and switches. `Some(rows)`
/// when attached, `None` when it fell back (everything it made undone:
/// the batched move goes on from an empty child).
pub(super) async fn run(
    conn: &mut PgConnection,
    policy: &Policy,
    m: &Move<'_>,
    options: &ExecOptions,
) -> Result<Option<u64>> {
    let n = names(conn, policy, m).await?;
    let columns = m.columns.join(", ");
    let new: Vec<String> = m.columns.iter().map(|c| format!("NEW.{c}")).collect();
    let truncate = q(&format!("{}_truncate", n.trigger.trim_matches('"')));
    // SECURITY DEFINER: the writers' role need not be allowed to write
    // the log; its path is pinned, every name qualified.
    let setup = format!(
        "SET LOCAL lock_timeout = '{timeout}';\n\
         CREATE UNLOGGED TABLE {log} (LIKE {parent});\n\
         CREATE UNLOGGED TABLE {flags} (op text NOT NULL);\n\
         CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER \
           SET search_path = pg_catalog, pg_temp AS $strata$\n\
         BEGIN\n\
           IF TG_OP = 'INSERT' THEN\n\
             IF {new_in_range} THEN\n\
               INSERT INTO {log} ({columns}) VALUES ({new});\n\
               RETURN NULL;\n\
             END IF;\n\
           END IF;\n\
           INSERT INTO {flags} VALUES (TG_OP);\n\
           RETURN NULL;\n\
         END $strata$;\n\
         CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {default} \
           FOR EACH ROW EXECUTE FUNCTION {function}();\n\
         CREATE TRIGGER {truncate} AFTER TRUNCATE ON {default} \
           FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        timeout = m.timeout,
        log = n.log,
        flags = n.flags,
        parent = m.parent,
        function = n.function,
        new_in_range = in_range(m, "NEW."),
        new = new.join(", "),
        trigger = n.trigger,
        default = m.default,
    );
    let r = with_retries!(options, transaction(conn, &setup).await);
    failed(
        conn,
        policy,
        m.parent,
        &format!("preparing the copy into {}", m.name),
        r,
    )
    .await?;

    // One snapshot: what it holds is copied, what it does not is logged.
    let outside = format!("{} IS NULL OR NOT ({})", m.col, in_range(m, ""));
    let snapshot = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ;\n\
         DELETE FROM {log};\n\
         DELETE FROM {flags};\n\
         DO $strata$ BEGIN\n\
           IF EXISTS (SELECT 1 FROM {default} WHERE {outside}) THEN\n\
             RAISE EXCEPTION USING ERRCODE = '{FALL_BACK}', \
               MESSAGE = 'the DEFAULT partition holds rows of other ranges';\n\
           END IF;\n\
         END $strata$",
        log = n.log,
        flags = n.flags,
        default = m.default,
    );
    let copy = format!(
        "INSERT INTO {child} ({columns}) SELECT {columns} FROM {default} WHERE {inside}",
        child = m.child,
        default = m.default,
        inside = in_range(m, ""),
    );
    let copied = async {
        exec(conn, snapshot).await?;
        let n = exec(conn, copy).await?;
        exec(conn, "COMMIT".into()).await?;
        Ok::<_, sqlx::Error>(n)
    }
    .await;
    let mut moved = 0;
    let copied = match copied {
        Ok(n) => {
            moved = n;
            true
        }
        Err(e) => {
            let _ = exec(conn, "ROLLBACK".into()).await;
            if !is_fall_back(&e) {
                let _ = undo(conn, policy, m, options).await;
                return Err(db_error(
                    policy,
                    &format!("copying rows into {}", m.name),
                    e,
                ));
            }
            false
        }
    };
    if copied {
        index_like_parent(conn, policy, m.parent, m.child).await?;
        // What was logged meanwhile, batch by batch, each row once.
        let batch = format!(
            "WITH logged AS (DELETE FROM {log} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {log} LIMIT {limit})) \
               RETURNING *) \
             INSERT INTO {child} ({columns}) SELECT {columns} FROM logged",
            log = n.log,
            child = m.child,
            limit = policy.move_batch_rows,
        );
        moved += move_batches(conn, policy, m.name, &batch).await?;
        let last = format!(
            "SET LOCAL lock_timeout = '{timeout}';\n\
             LOCK TABLE {child} IN ACCESS EXCLUSIVE MODE;\n\
             LOCK TABLE {parent} IN SHARE ROW EXCLUSIVE MODE;\n\
             LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE;\n\
             DO $strata$ BEGIN\n\
               IF EXISTS (SELECT 1 FROM {flags}) THEN\n\
                 RAISE EXCEPTION USING ERRCODE = '{FALL_BACK}', \
                   MESSAGE = 'rows of the DEFAULT partition changed during the copy';\n\
               END IF;\n\
             END $strata$;\n\
             INSERT INTO {child} ({columns}) SELECT {columns} FROM {log};\n\
             DROP TRIGGER {trigger} ON {default};\n\
             DROP TRIGGER {truncate} ON {default};\n\
             DROP FUNCTION {function}();\n\
             DROP TABLE {log}, {flags};\n\
             TRUNCATE {default};\n\
             {attach}",
            timeout = m.timeout,
            child = m.child,
            parent = m.parent,
            default = m.default,
            flags = n.flags,
            log = n.log,
            trigger = n.trigger,
            function = n.function,
            attach = m.attach,
        );
        let r = with_retries!(options, transaction(conn, &last).await);
        match r {
            // The rows logged in the last step are not counted.
            Ok(_) => return Ok(Some(moved)),
            Err(e) if is_fall_back(&e) => {}
            Err(e) if is_lock_timeout(&e) => {
                // Still copied, still logged: the next run undoes it and
                // moves the rows the batched way.
                let context = format!("attaching {}", m.name);
                return failed(conn, policy, m.parent, &context, Err(e))
                    .await
                    .map(|()| None);
            }
            Err(e) => {
                let _ = undo(conn, policy, m, options).await;
                return Err(db_error(policy, &format!("attaching {}", m.name), e));
            }
        }
    }
    tracing::info!(partition = %m.name, "rows of the DEFAULT partition changed during the copy: moving them in batches instead");
    undo(conn, policy, m, options).await?;
    Ok(None)
}
