//! Partition planning: (policy, existing children, clock) → actions. Pure.
//!
//! Bounds come from the catalog (`pg_get_expr(relpartbound)`, read in a UTC
//! session), never from names. Only children whose range is exactly one
//! aligned interval are *managed*; any other child is left alone, though its
//! range still counts as occupied. Retention never reaches the current or a
//! future partition, and nothing but a child of the managed parent is ever
//! detached or dropped.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::partition_name;
use super::policy::{Policy, RetentionMode};

/// A partition's bound as the catalog states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    /// The DEFAULT partition.
    Default,
    /// `FROM (from) TO (to)`, in UTC.
    Range {
        /// Inclusive lower bound.
        from: DateTime<Utc>,
        /// Exclusive upper bound.
        to: DateTime<Utc>,
    },
    /// Anything else (MINVALUE, MAXVALUE, …), kept as text.
    Other(String),
}

/// A child of the managed parent, as found in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Its bound.
    pub bound: Bound,
    /// An interrupted `DETACH … CONCURRENTLY` left it half-detached.
    pub detach_pending: bool,
}

/// Why a partition is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// The current interval.
    Current,
    /// One of the intervals kept ready after the current one.
    Premake,
    /// A hole between existing partitions.
    Gap,
}

/// What happens to a detached partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "then", rename_all = "lowercase")]
pub enum Then {
    /// `DROP TABLE`.
    Drop,
    /// Keep the table, optionally moved to this schema.
    Keep {
        /// Target schema, if any.
        schema: Option<String>,
    },
}

/// One step of partition maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Finish an interrupted `DETACH … CONCURRENTLY`.
    Finalize {
        /// The half-detached child.
        name: String,
        /// What to do with it after.
        then: Then,
    },
    /// Create and attach a partition.
    Create {
        /// The new child's name.
        name: String,
        /// Inclusive lower bound.
        from: DateTime<Utc>,
        /// Exclusive upper bound.
        to: DateTime<Utc>,
        /// Why.
        reason: Reason,
    },
    /// Detach a partition past retention.
    Detach {
        /// The child.
        name: String,
        /// Its lower bound.
        from: DateTime<Utc>,
        /// Its upper bound.
        to: DateTime<Utc>,
        /// What to do with it after.
        then: Then,
    },
}

impl Action {
    /// What it does, in one word: `create`, `finalize`, `detach` or
    /// `drop` (a detach whose table is dropped after).
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Finalize { .. } => "finalize",
            Action::Detach {
                then: Then::Drop, ..
            } => "drop",
            Action::Detach { .. } => "detach",
        }
    }

    /// The partition it acts on.
    pub fn partition(&self) -> &str {
        match self {
            Action::Create { name, .. }
            | Action::Finalize { name, .. }
            | Action::Detach { name, .. } => name,
        }
    }
}

/// The actions for one policy, plus anything a human should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablePlan {
    /// The configured database.
    pub database: String,
    /// `schema.table` of the parent.
    pub table: String,
    /// In execution order: finalize, create (oldest first), detach (oldest first).
    pub actions: Vec<Action>,
    /// Children left alone and why, name clashes, a DEFAULT partition.
    pub notes: Vec<String>,
    /// Why a run would refuse this table and change nothing of it (more
    /// partitions to create than `max_create_per_run` allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// What the catalog showed of one managed parent: all a plan needs, so a
/// recorded status can be planned against without a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The configured database.
    pub database: String,
    /// `schema.table` of the parent.
    pub table: String,
    /// False while the migration that creates the parent is still pending.
    pub exists: bool,
    /// Its children with their bounds, by name.
    pub children: Vec<Child>,
    /// Other relations in the parent's schema (a new partition must not
    /// take one of their names).
    pub others: BTreeSet<String>,
    /// Tables strata made for a partition and has not attached yet (a run
    /// moving DEFAULT rows was interrupted): the next run finishes them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub staged: BTreeSet<String>,
    /// Why this table could not be read as a managed parent (a key strata
    /// does not manage, …): it alone is refused, the others planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Plans one policy against what was observed of it; a parent that does not
/// exist yet (or was not observed) plans as one without children.
pub fn plan_observed(
    policy: &Policy,
    observed: Option<&Observed>,
    now: DateTime<Utc>,
) -> TablePlan {
    if let Some(error) = observed.and_then(|o| o.error.clone()) {
        return TablePlan {
            database: policy.database.clone(),
            table: policy.qualified(),
            actions: Vec::new(),
            notes: Vec::new(),
            refused: Some(error),
        };
    }
    let Some(o) = observed.filter(|o| o.exists) else {
        let mut p = plan(policy, &[], &BTreeSet::new(), &BTreeSet::new(), now);
        p.notes.push(format!(
            "{} does not exist yet: once a migration has created it, `migrate partitions run` \
             creates these partitions",
            policy.qualified()
        ));
        return p;
    };
    let mut taken = o.others.clone();
    taken.extend(o.children.iter().map(|c| c.name.clone()));
    plan(policy, &o.children, &taken, &o.staged, now)
}

/// Reads `FOR VALUES FROM ('…') TO ('…')` or `DEFAULT`. Timestamps must be
/// rendered in UTC (the session's time zone), dates are taken at midnight UTC.
pub fn parse_bound(expr: &str) -> Bound {
    let expr = expr.trim();
    if expr == "DEFAULT" {
        return Bound::Default;
    }
    let parsed = (|| {
        let rest = expr.strip_prefix("FOR VALUES FROM (")?;
        let (from, rest) = rest.split_once(") TO (")?;
        let to = rest.strip_suffix(')')?;
        Some(Bound::Range {
            from: parse_literal(from)?,
            to: parse_literal(to)?,
        })
    })();
    parsed.unwrap_or_else(|| Bound::Other(expr.to_string()))
}

fn parse_literal(lit: &str) -> Option<DateTime<Utc>> {
    let s = lit.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

/// The parts of `[from, to)` that none of `ranges` covers, in order. Pure.
pub fn uncovered(
    ranges: &[(DateTime<Utc>, DateTime<Utc>)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut sorted: Vec<_> = ranges
        .iter()
        .filter(|(a, b)| *a < to && from < *b)
        .copied()
        .collect();
    sorted.sort();
    let mut out = Vec::new();
    let mut at = from;
    for (a, b) in sorted {
        if a > at {
            out.push((at, a.min(to)));
        }
        at = at.max(b);
        if at >= to {
            break;
        }
    }
    if at < to {
        out.push((at, to));
    }
    out
}

/// Plans maintenance of one policy at `now`. `taken` holds the names of all
/// relations in the parent's schema, so a new partition never collides with
/// a table that is not a child; `staged` the ones strata made for a
/// partition and did not attach yet, which are created (finished) again.
pub fn plan(
    policy: &Policy,
    children: &[Child],
    taken: &BTreeSet<String>,
    staged: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> TablePlan {
    let iv = policy.interval;
    let current = iv.floor(now);
    let then = match &policy.retention_mode {
        RetentionMode::Drop => Then::Drop,
        RetentionMode::Detach { schema } => Then::Keep {
            schema: schema.clone(),
        },
    };
    let cutoff = policy.retention.map(|r| r.unit.back(current, r.amount));
    let mut actions = Vec::new();
    let mut notes = Vec::new();

    let expired = |to: DateTime<Utc>| cutoff.is_some_and(|c| to <= c);
    let mut ranges = Vec::new();
    let mut managed = Vec::new();
    for c in children {
        if c.detach_pending {
            // Finish what was started, but only drop what retention says
            // may go: the detach may have been a human's.
            let past_retention = matches!(c.bound, Bound::Range { from, to }
                if iv.is_one_interval(from, to) && expired(to) && to <= current);
            if !past_retention {
                notes.push(format!(
                    "{} was half-detached and is not past retention: the detach is finished, the table kept",
                    c.name
                ));
            }
            actions.push(Action::Finalize {
                name: c.name.clone(),
                then: if past_retention {
                    then.clone()
                } else {
                    Then::Keep { schema: None }
                },
            });
            continue;
        }
        match &c.bound {
            Bound::Default => notes.push(format!(
                "{} is the DEFAULT partition: rows it holds for a new range block that partition \
                 (see `migrate partitions check-default`)",
                c.name
            )),
            Bound::Other(text) => notes.push(format!("{} has bound {text}: left alone", c.name)),
            Bound::Range { from, to } => {
                ranges.push((*from, *to));
                if iv.is_one_interval(*from, *to) {
                    managed.push((c, *from, *to));
                } else {
                    notes.push(format!(
                        "{} covers {} to {}, not one {}: left alone",
                        c.name,
                        from.format("%Y-%m-%d"),
                        to.format("%Y-%m-%d"),
                        iv.as_str()
                    ));
                }
            }
        }
    }

    // Wanted: holes between the oldest kept partition and now, then the
    // current interval and the premade ones.
    let oldest_kept = managed
        .iter()
        .filter(|(_, _, to)| !expired(*to))
        .map(|(_, from, _)| *from)
        .min();
    let mut start = current;
    if let Some(oldest) = oldest_kept
        && oldest < current
    {
        start = oldest;
    }
    let end = iv.step(current, policy.premake as i64 + 1);
    let mut m = start;
    // The start of a remainder the interval before could not take (its
    // name belongs to a child that ends short of it), for this one to.
    let mut carried: Option<DateTime<Utc>> = None;
    while m < end {
        let next = iv.step(m, 1);
        // Only what no partition covers yet: a child made by hand in local
        // time covers most of an interval and leaves hours uncovered, which
        // a partition of its own must take, or inserts there fail.
        let pieces = uncovered(&ranges, m, next);
        let carry = carried.take();
        let piece = match pieces.as_slice() {
            [] => None,
            [(from, to)] => Some((carry.filter(|_| *from == m).unwrap_or(*from), *to)),
            _ => {
                notes.push(format!(
                    "{} is covered in parts by partitions not made by strata: the holes are \
                     left (see `migrate partitions check`)",
                    m.format("%Y-%m-%d")
                ));
                None
            }
        };
        if let Some((from, to)) = piece {
            let name = partition_name(&policy.naming, &policy.table, m);
            if taken.contains(&name) && !staged.contains(&name) {
                if to == next && from > m && children.iter().any(|c| c.name == name) {
                    // The child named for this interval ends short of it:
                    // the next partition starts where it ends.
                    carried = Some(from);
                } else if children.iter().any(|c| c.name == name) {
                    notes.push(format!(
                        "{name} leaves {} to {} uncovered and has the name a partition for it \
                         would take: left as it is (see `migrate partitions check`)",
                        from.format("%Y-%m-%d %H:%M UTC"),
                        to.format("%Y-%m-%d %H:%M UTC"),
                    ));
                } else {
                    notes.push(format!(
                        "{name} exists but is not a partition of {}: not touched, so {} has no \
                         partition",
                        policy.qualified(),
                        m.format("%Y-%m")
                    ));
                }
            } else {
                if from != m || to != next {
                    notes.push(format!(
                        "{name} covers {} to {}, what partitions made by hand leave of its {}",
                        from.format("%Y-%m-%d %H:%M UTC"),
                        to.format("%Y-%m-%d %H:%M UTC"),
                        iv.as_str()
                    ));
                }
                actions.push(Action::Create {
                    name,
                    from,
                    to,
                    reason: match m.cmp(&current) {
                        std::cmp::Ordering::Less => Reason::Gap,
                        std::cmp::Ordering::Equal => Reason::Current,
                        std::cmp::Ordering::Greater => Reason::Premake,
                    },
                });
            }
        }
        m = next;
    }

    let mut old: Vec<_> = managed
        .into_iter()
        .filter(|(_, _, to)| expired(*to))
        .collect();
    old.sort_by_key(|(_, from, _)| *from);
    for (c, from, to) in old {
        // Belt and braces: never the current or a future interval.
        if to <= current {
            actions.push(Action::Detach {
                name: c.name.clone(),
                from,
                to,
                then: then.clone(),
            });
        }
    }
    let creates = actions
        .iter()
        .filter(|a| matches!(a, Action::Create { .. }))
        .count();
    let mut refused = None;
    if creates > policy.max_create_per_run as usize {
        let range = actions.iter().filter_map(|a| match a {
            Action::Create { from, .. } => Some(*from),
            _ => None,
        });
        let (first, last) = (range.clone().min(), range.max());
        refused = Some(format!(
            "this run would create {creates} partitions ({} to {}), more than \
             max_create_per_run = {}: check the clock (or --now), or raise max_create_per_run",
            first
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            last.map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            policy.max_create_per_run
        ));
        actions.clear();
    }
    TablePlan {
        database: policy.database.clone(),
        table: policy.qualified(),
        actions,
        notes,
        refused,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
