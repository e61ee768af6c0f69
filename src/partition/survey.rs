//! One look at every managed parent of a database at once, so a run with
//! nothing to do (the daemon's steady state) costs one query per database:
//! no lock, no per-table reads.
//!
//! The look reads each parent's children and bounds and plans them with
//! the same pure planner a run uses. A table is *idle* when that plan has
//! no action and no refusal; the run then reports it done without taking
//! the lock. Anything else — an action to take, a table strata cannot
//! manage, a standby — goes the full way (lock, re-read, act), which says
//! what the look does not. The look knows only the children's names, not
//! every relation in the schema, so it may plan a partition whose name a
//! stranger holds; that only sends the table the full way, which knows.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::plan::{Child, parse_bound, plan};
use super::policy::Policy;

/// What one look found on a database.
#[derive(Debug, Clone)]
pub struct Look {
    /// The server's clock.
    pub now: DateTime<Utc>,
    /// The server is a standby.
    pub standby: bool,
    /// Per policy, in order: `None` when the parent does not exist,
    /// otherwise its children, or `Err(())` when it is not a table strata
    /// can manage (the full way says why).
    pub tables: Vec<Option<Result<Arc<Vec<Child>>, ()>>>,
}

/// The children earlier looks read, per policy, beside the fingerprint
/// of the parent's `pg_inherits` rows they were read under. A later look
/// sends the fingerprints back and the server prints the bounds only of
/// parents whose fingerprint changed: printing 37,000 bounds is most of
/// what a look over 1000 tables costs, and a daemon's parents rarely
/// change between cycles.
///
/// A bound changes only by a detach and an attach, which delete and
/// insert the child's `pg_inherits` row (a new `xmin`); an interrupted
/// `DETACH … CONCURRENTLY` updates it. So a parent's rows — each child's
/// OID, `xmin` and pending flag — change whenever its children or their
/// bounds do. A child renamed in place keeps its row, and its cached
/// name goes stale: harmless, as only bounds decide whether a parent is
/// idle, and a parent with work is read again the full way.
///
/// Once frozen by a vacuum, a row's `xmin` reads 2: a child detached,
/// attached again with another bound and frozen, all between two looks,
/// would leave the fingerprint as it was. Nothing is trusted for longer
/// than [`TRUST`], after which every parent is read again.
#[derive(Debug, Clone, Default)]
pub struct Known {
    tables: Vec<Option<(String, Arc<Vec<Child>>)>>,
    /// When every parent was last read.
    since: Option<Instant>,
}

impl Known {
    /// Whether what was read is too old to trust at `now` (or was never
    /// read). Pure.
    fn stale(&self, now: Instant) -> bool {
        self.since
            .is_none_or(|since| now.saturating_duration_since(since) > TRUST)
    }
}

/// How long what a look read is trusted: a look reading every bound
/// costs about 0.25 s over 1000 tables of 37 partitions.
pub const TRUST: Duration = Duration::from_secs(600);

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The look's SQL: one simple query, a row per parent whose fingerprint
/// is the one in `known` (its children are not read again), otherwise a
/// row per child (one with no child for a parent without any), bounds
/// rendered in UTC. A bound holds only constants, so it is printed
/// without its relation (`pg_get_expr(…, 0)`): opening every partition
/// to name its columns would cost more than the rest of the look.
///
/// The plan is pinned where PostgreSQL's estimates lead it astray over
/// large catalogs: the parents are read once (`MATERIALIZED`, or the
/// fingerprint's subquery runs for every child compared), each parent's
/// children through its `pg_inherits` index and only when its fingerprint
/// changed (`OFFSET 0` keeps the join lateral, not a scan of every
/// `pg_inherits` and `pg_class` row), and without JIT, whose compiling
/// took longer than the query (40 of 60 ms over 1000 parents). Pure.
fn sql(policies: &[Policy], known: &[Option<&str>]) -> String {
    let array = |items: Vec<String>| format!("ARRAY[{}]::text[]", items.join(", "));
    let names =
        |f: &dyn Fn(&Policy) -> &str| array(policies.iter().map(|p| literal(f(p))).collect());
    let known = array(
        (0..policies.len())
            .map(|i| {
                known
                    .get(i)
                    .copied()
                    .flatten()
                    .map_or("NULL".into(), literal)
            })
            .collect(),
    );
    format!(
        "SET TIME ZONE 'UTC';\n\
         SET jit = off;\n\
         WITH t AS MATERIALIZED (\n\
           SELECT p.ord, p.known, c.oid,\n\
             coalesce(c.relkind = 'p' AND pt.partstrat = 'r' AND pt.partnatts = 1\n\
               AND format_type(a.atttypid, a.atttypmod) IN\n\
                 ('timestamp with time zone', 'timestamp without time zone', 'date'), false)\n\
               AS manageable,\n\
             (SELECT count(*) || ':' || coalesce(sum(hashint8extended(\n\
                (i.inhrelid::bigint << 32) | i.xmin::text::bigint, i.inhdetachpending::int)), 0)\n\
              FROM pg_inherits i WHERE i.inhparent = c.oid) AS fingerprint\n\
           FROM unnest({}, {}, {}) WITH ORDINALITY AS p(schema, name, known, ord)\n\
           LEFT JOIN pg_namespace n ON n.nspname = p.schema\n\
           LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.name\n\
           LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid\n\
           LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0])\n\
         SELECT t.ord::int, now(), pg_is_in_recovery(), t.oid IS NOT NULL, t.manageable,\n\
           t.fingerprint, ch.nspname, ch.relname, ch.bound, ch.inhdetachpending,\n\
           t.fingerprint IS NOT DISTINCT FROM t.known\n\
         FROM t\n\
         LEFT JOIN LATERAL (\n\
           SELECT kn.nspname::text, k.relname::text, pg_get_expr(k.relpartbound, 0) AS bound,\n\
             i.inhdetachpending\n\
           FROM pg_inherits i\n\
           JOIN pg_class k ON k.oid = i.inhrelid\n\
           JOIN pg_namespace kn ON kn.oid = k.relnamespace\n\
           WHERE i.inhparent = t.oid AND t.fingerprint IS DISTINCT FROM t.known\n\
           OFFSET 0) ch ON true\n\
         ORDER BY t.ord, ch.relname COLLATE \"C\";\n\
         RESET jit",
        names(&|p| &p.schema),
        names(&|p| &p.table),
        known
    )
}

/// Looks at every parent of `policies` in one query, reading again only
/// the children of parents that changed since the looks `known` holds
/// (which it then holds too).
pub async fn look(
    conn: &mut PgConnection,
    policies: &[Policy],
    known: &mut Known,
) -> std::result::Result<Look, sqlx::Error> {
    if known.stale(Instant::now()) {
        *known = Known {
            tables: Vec::new(),
            since: Some(Instant::now()),
        };
    }
    known.tables.resize(policies.len(), None);
    let sent: Vec<Option<&str>> = known
        .tables
        .iter()
        .map(|k| k.as_ref().map(|(f, _)| f.as_str()))
        .collect();
    let rows = sqlx::raw_sql(AssertSqlSafe(sql(policies, &sent)))
        .fetch_all(conn)
        .await?;
    let mut look = Look {
        now: Utc::now(),
        standby: false,
        tables: vec![None; policies.len()],
    };
    // Children read on this look, per policy, with their fingerprint.
    let mut read: Vec<Option<(String, Vec<Child>)>> = vec![None; policies.len()];
    for row in &rows {
        let ord: i32 = row.try_get(0)?;
        look.now = row.try_get(1)?;
        look.standby = row.try_get(2)?;
        let (exists, manageable): (bool, bool) = (row.try_get(3)?, row.try_get(4)?);
        let Some(i) = usize::try_from(ord - 1)
            .ok()
            .filter(|i| *i < policies.len())
        else {
            continue;
        };
        if !exists {
            known.tables[i] = None;
            continue;
        }
        if !manageable {
            look.tables[i] = Some(Err(()));
            known.tables[i] = None;
            continue;
        }
        let fingerprint: String = row.try_get(5)?;
        let unchanged: bool = row.try_get(10)?;
        if unchanged && let Some((_, children)) = &known.tables[i] {
            look.tables[i] = Some(Ok(children.clone()));
            continue;
        }
        let children = &mut read[i].get_or_insert_with(|| (fingerprint, Vec::new())).1;
        let child: (Option<String>, Option<String>, Option<String>, Option<bool>) = (
            row.try_get(6)?,
            row.try_get(7)?,
            row.try_get(8)?,
            row.try_get(9)?,
        );
        if let (Some(schema), Some(name), Some(bound), pending) = child {
            children.push(Child {
                schema,
                name,
                bound: parse_bound(&bound),
                detach_pending: pending.unwrap_or(false),
            });
        }
    }
    for (i, read) in read.into_iter().enumerate() {
        if let Some((fingerprint, children)) = read {
            let children = Arc::new(children);
            look.tables[i] = Some(Ok(children.clone()));
            known.tables[i] = Some((fingerprint, children));
        }
    }
    Ok(look)
}

/// Whether the look shows nothing to do on any table at `now`: per
/// policy, `None` when the parent does not exist yet, `Some(())` when it
/// is idle. `None` overall when some table needs the full way. Pure.
pub fn idle(policies: &[Policy], look: &Look, now: DateTime<Utc>) -> Option<Vec<bool>> {
    if look.standby || look.tables.len() != policies.len() {
        return None;
    }
    policies
        .iter()
        .zip(&look.tables)
        .map(|(policy, table)| match table {
            None => Some(false),
            Some(Err(())) => None,
            Some(Ok(children)) => {
                let children = children.as_slice();
                let taken: BTreeSet<String> = children.iter().map(|c| c.name.clone()).collect();
                let planned = plan(policy, children, &taken, &BTreeSet::new(), now);
                (planned.actions.is_empty() && planned.refused.is_none()).then_some(true)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(schema: &str, table: &str) -> Policy {
        Policy {
            database: "db".into(),
            schema: schema.into(),
            table: table.into(),
            interval: super::super::calendar::Interval::Month,
            premake: 1,
            retention: None,
            retention_mode: super::super::policy::RetentionMode::Drop,
            naming: "{table}_{YYYY}_{MM}".into(),
            max_create_per_run: 120,
            move_batch_rows: 10_000,
        }
    }

    fn month(name: &str, from: &str, to: &str) -> Child {
        Child {
            schema: "app".into(),
            name: name.into(),
            bound: parse_bound(&format!(
                "FOR VALUES FROM ('{from} 00:00:00+00') TO ('{to} 00:00:00+00')"
            )),
            detach_pending: false,
        }
    }

    #[test]
    fn the_look_names_every_parent_once_and_quotes_them() {
        let policies = [policy("app", "events"), policy("o'brien", "logs")];
        let text = sql(&policies, &[]);
        assert!(text.starts_with("SET TIME ZONE 'UTC';"), "{text}");
        assert!(
            text.contains(
                "unnest(ARRAY['app', 'o''brien']::text[], ARRAY['events', 'logs']::text[], \
                 ARRAY[NULL, NULL]::text[])"
            ),
            "{text}"
        );
        // Fingerprints already known go back beside their parents.
        let text = sql(&policies, &[None, Some("37:-12'3")]);
        assert!(text.contains("ARRAY[NULL, '37:-12''3']::text[]"), "{text}");
    }

    #[test]
    fn what_was_read_is_trusted_for_ten_minutes() {
        let start = Instant::now();
        assert!(Known::default().stale(start), "never read");
        let known = Known {
            tables: Vec::new(),
            since: Some(start),
        };
        assert!(!known.stale(start + Duration::from_secs(599)));
        assert!(known.stale(start + Duration::from_secs(601)));
    }

    #[test]
    fn only_a_look_with_nothing_to_do_anywhere_is_idle() {
        let now: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        let policies = [policy("app", "events"), policy("app", "later")];
        let ready = vec![
            month("events_2026_12", "2026-12-01", "2027-01-01"),
            month("events_2027_01", "2027-01-01", "2027-02-01"),
        ];
        let mut look = Look {
            now,
            standby: false,
            tables: vec![Some(Ok(Arc::new(ready.clone()))), None],
        };
        assert_eq!(idle(&policies, &look, now), Some(vec![true, false]));
        // A month to premake, a table strata cannot manage, a standby.
        look.tables[0] = Some(Ok(Arc::new(ready[..1].to_vec())));
        assert_eq!(idle(&policies, &look, now), None);
        look.tables[0] = Some(Err(()));
        assert_eq!(idle(&policies, &look, now), None);
        look.tables[0] = Some(Ok(Arc::new(ready)));
        look.standby = true;
        assert_eq!(idle(&policies, &look, now), None);
    }
}
