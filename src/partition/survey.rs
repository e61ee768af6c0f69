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
    pub tables: Vec<Option<Result<Vec<Child>, ()>>>,
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The look's SQL: one simple query, a row per child (one with no child
/// for a parent without any), bounds rendered in UTC. A bound holds only
/// constants, so it is printed without its relation (`pg_get_expr(…, 0)`):
/// opening every partition to name its columns would cost more than the
/// rest of the look. Pure.
fn sql(policies: &[Policy]) -> String {
    let array = |f: &dyn Fn(&Policy) -> &str| {
        let items: Vec<String> = policies.iter().map(|p| literal(f(p))).collect();
        format!("ARRAY[{}]::text[]", items.join(", "))
    };
    format!(
        "SET TIME ZONE 'UTC';\n\
         SELECT p.ord::int, now(), pg_is_in_recovery(), c.oid IS NOT NULL,\n\
           coalesce(c.relkind = 'p' AND pt.partstrat = 'r' AND pt.partnatts = 1\n\
             AND format_type(a.atttypid, a.atttypmod) IN\n\
               ('timestamp with time zone', 'timestamp without time zone', 'date'), false),\n\
           kn.nspname::text, k.relname::text, pg_get_expr(k.relpartbound, 0), i.inhdetachpending\n\
         FROM unnest({}, {}) WITH ORDINALITY AS p(schema, name, ord)\n\
         LEFT JOIN pg_namespace n ON n.nspname = p.schema\n\
         LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.name\n\
         LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid\n\
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]\n\
         LEFT JOIN pg_inherits i ON i.inhparent = c.oid\n\
         LEFT JOIN pg_class k ON k.oid = i.inhrelid\n\
         LEFT JOIN pg_namespace kn ON kn.oid = k.relnamespace\n\
         ORDER BY p.ord, k.relname",
        array(&|p| &p.schema),
        array(&|p| &p.table)
    )
}

/// Looks at every parent of `policies` in one query.
pub async fn look(
    conn: &mut PgConnection,
    policies: &[Policy],
) -> std::result::Result<Look, sqlx::Error> {
    let rows = sqlx::raw_sql(AssertSqlSafe(sql(policies)))
        .fetch_all(conn)
        .await?;
    let mut look = Look {
        now: Utc::now(),
        standby: false,
        tables: vec![None; policies.len()],
    };
    for row in &rows {
        let ord: i32 = row.try_get(0)?;
        look.now = row.try_get(1)?;
        look.standby = row.try_get(2)?;
        let (exists, manageable): (bool, bool) = (row.try_get(3)?, row.try_get(4)?);
        let table = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| look.tables.get_mut(i));
        let Some(table) = table.filter(|_| exists) else {
            continue;
        };
        let children =
            table.get_or_insert_with(|| if manageable { Ok(Vec::new()) } else { Err(()) });
        let child: (Option<String>, Option<String>, Option<String>, Option<bool>) = (
            row.try_get(5)?,
            row.try_get(6)?,
            row.try_get(7)?,
            row.try_get(8)?,
        );
        if let (Ok(list), (Some(schema), Some(name), Some(bound), pending)) = (children, child) {
            list.push(Child {
                schema,
                name,
                bound: parse_bound(&bound),
                detach_pending: pending.unwrap_or(false),
            });
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
        let text = sql(&[policy("app", "events"), policy("o'brien", "logs")]);
        assert!(text.starts_with("SET TIME ZONE 'UTC';"), "{text}");
        assert!(
            text.contains(
                "unnest(ARRAY['app', 'o''brien']::text[], ARRAY['events', 'logs']::text[])"
            ),
            "{text}"
        );
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
            tables: vec![Some(Ok(ready.clone())), None],
        };
        assert_eq!(idle(&policies, &look, now), Some(vec![true, false]));
        // A month to premake, a table strata cannot manage, a standby.
        look.tables[0] = Some(Ok(ready[..1].to_vec()));
        assert_eq!(idle(&policies, &look, now), None);
        look.tables[0] = Some(Err(()));
        assert_eq!(idle(&policies, &look, now), None);
        look.tables[0] = Some(Ok(ready));
        look.standby = true;
        assert_eq!(idle(&policies, &look, now), None);
    }
}
