//! Planning: pure functions from (catalog, history, command) to a [`Plan`].
//!
//! No I/O happens here. `status`, `plan`, `--dry-run`, `validate` and `up`
//! all go through [`plan`], so what a dry run shows is exactly what a real
//! run does, and every refusal (drift, dirty, out-of-order, missing rollback)
//! is found before the first statement runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, Migration, display_name};
use crate::error::{Error, Result};
use crate::history::Record;
use crate::kind::Kind;
pub use crate::problem::Problem;
pub use crate::step::{Action, Step};

/// How far `up` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpTarget {
    /// Every pending migration.
    #[default]
    Latest,
    /// Pending migrations up to and including this version.
    Version(u64),
}

/// How far `down` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownTarget {
    /// Revert the newest N applied migrations.
    Steps(usize),
    /// Revert every applied migration above this version (0 = all).
    Version(u64),
}

/// Whether a pending version below the newest applied one may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutOfOrder {
    /// Refuse, naming the versions (the default).
    #[default]
    Refuse,
    /// Apply them, in version order, before newer pending ones.
    Allow,
}

/// Whether `validate` accepts pending migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pending {
    /// Pending migrations are normal (a deploy will apply them).
    #[default]
    Allow,
    /// Pending migrations are a refusal (services that must not start behind).
    Refuse,
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Apply pending migrations.
    Up {
        /// How far.
        to: UpTarget,
        /// Whether out-of-order versions may run.
        out_of_order: OutOfOrder,
    },
    /// Revert applied migrations with their rollback files.
    Down {
        /// How far.
        to: DownTarget,
    },
    /// Check files against history; run nothing.
    Validate {
        /// Whether pending migrations are acceptable.
        pending: Pending,
        /// Whether out-of-order versions are acceptable.
        out_of_order: OutOfOrder,
    },
}

impl Command {
    /// `up`, `down` or `validate`, as the command line says it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Up { .. } => "up",
            Command::Down { .. } => "down",
            Command::Validate { .. } => "validate",
        }
    }
}

/// The ordered steps for one database. Serialisable and deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The configured database name.
    pub database: String,
    /// Its kind.
    pub kind: Kind,
    /// What will run, in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// True when the run would change nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Everything a deploy would do: each database's migration steps, then
/// partition maintenance at a given clock. Ordered and free of timestamps
/// other than partition bounds, so it snapshot-tests as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployPlan {
    /// One plan per database, in name order (empty plans included).
    pub databases: Vec<Plan>,
    /// One plan per partition policy, in configuration order.
    pub partitions: Vec<crate::partition::plan::TablePlan>,
}

fn file_name(m: &Migration) -> String {
    display_name(&m.script.file)
}

/// Drift and dirty records: what makes a history untrustworthy.
fn history_problems(catalog: &Catalog, history: &[Record]) -> Vec<Problem> {
    let recorded: BTreeMap<u64, &Record> = history.iter().map(|r| (r.version, r)).collect();
    let mut problems = Vec::new();
    for r in recorded.values() {
        if r.is_dirty() {
            problems.push(Problem::Dirty {
                version: r.version,
                recorded: r.name.clone(),
            });
            continue;
        }
        match catalog.get(r.version) {
            Some(m) if !m.script.matches(&r.checksum) => problems.push(Problem::Changed {
                version: r.version,
                file: file_name(m),
                recorded: r.checksum.clone(),
                current: m.script.checksum.clone(),
            }),
            Some(m) if m.description != r.name => problems.push(Problem::Renamed {
                version: r.version,
                recorded: r.name.clone(),
                current: m.description.clone(),
            }),
            Some(_) => {}
            None => problems.push(Problem::Missing {
                version: r.version,
                recorded: r.name.clone(),
                same_content_as: catalog
                    .migrations
                    .iter()
                    .find(|m| m.script.checksum == r.checksum && !recorded.contains_key(&m.version))
                    .map(file_name),
            }),
        }
    }
    problems
}

fn pending<'a>(catalog: &'a Catalog, history: &[Record]) -> Vec<&'a Migration> {
    let recorded: std::collections::BTreeSet<u64> = history.iter().map(|r| r.version).collect();
    catalog
        .migrations
        .iter()
        .filter(|m| !recorded.contains(&m.version))
        .collect()
}

fn out_of_order(pending: &[&Migration], history: &[Record]) -> Vec<Problem> {
    let Some(newest) = history.iter().map(|r| r.version).max() else {
        return Vec::new();
    };
    pending
        .iter()
        .filter(|m| m.version < newest)
        .map(|m| Problem::OutOfOrder {
            version: m.version,
            newest_applied: newest,
        })
        .collect()
}

fn apply_step(m: &Migration) -> Step {
    Step {
        action: Action::Apply,
        version: m.version,
        description: m.description.clone(),
        file: file_name(m),
        checksum: m.script.checksum.clone(),
        mode: m.script.mode,
        operations: m.script.operations.clone(),
        findings: Vec::new(),
        skip: None,
        lock_timeout: m
            .script
            .lock_timeout
            .map(crate::config::timeouts::show_timeout),
    }
}

/// Computes what `command` would do to one database. Pure.
///
/// Returns [`Error::Refused`] with every problem found (sorted by version)
/// when the run must not start.
pub fn plan(
    database: &str,
    kind: Kind,
    catalog: &Catalog,
    history: &[Record],
    command: Command,
) -> Result<Plan> {
    let mut problems = history_problems(catalog, history);
    let pending = pending(catalog, history);
    let mut steps = Vec::new();
    match command {
        Command::Up {
            to,
            out_of_order: ooo,
        } => {
            if ooo == OutOfOrder::Refuse {
                problems.extend(out_of_order(&pending, history));
            }
            steps = pending
                .iter()
                .filter(|m| match to {
                    UpTarget::Latest => true,
                    UpTarget::Version(v) => m.version <= v,
                })
                .map(|m| apply_step(m))
                .collect();
        }
        Command::Validate {
            pending: policy,
            out_of_order: ooo,
        } => {
            if ooo == OutOfOrder::Refuse {
                problems.extend(out_of_order(&pending, history));
            }
            if policy == Pending::Refuse {
                problems.extend(pending.iter().map(|m| Problem::Pending {
                    version: m.version,
                    file: file_name(m),
                }));
            }
        }
        Command::Down { to } => {
            let mut applied: Vec<&Record> = history.iter().collect();
            applied.sort_by_key(|r| std::cmp::Reverse(r.version));
            let chosen: Vec<&Record> = match to {
                DownTarget::Steps(n) => applied.into_iter().take(n).collect(),
                DownTarget::Version(v) => applied.into_iter().filter(|r| r.version > v).collect(),
            };
            // Reverting a dirty migration is one of the two ways out of it.
            problems.retain(|p| {
                !matches!(p, Problem::Dirty { version, .. } if chosen.iter().any(|r| r.version == *version))
            });
            for r in chosen {
                let Some(m) = catalog.get(r.version) else {
                    continue;
                }; // already reported as missing
                match &m.rollback {
                    Some(rb) => steps.push(Step {
                        action: Action::Revert,
                        version: m.version,
                        description: m.description.clone(),
                        file: display_name(&rb.file),
                        checksum: rb.checksum.clone(),
                        mode: rb.mode,
                        operations: rb.operations.clone(),
                        findings: Vec::new(),
                        skip: None,
                        lock_timeout: rb.lock_timeout.map(crate::config::timeouts::show_timeout),
                    }),
                    None => problems.push(Problem::MissingRollback {
                        version: m.version,
                        file: file_name(m),
                        // The V file's name with a U: same number, same
                        // description, same extension.
                        create: catalog.rollbacks.as_ref().map(|dir| {
                            dir.join(format!("U{}", &file_name(m)[1..]))
                                .display()
                                .to_string()
                        }),
                    }),
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(Problem::version);
        return Err(Error::Refused {
            database: database.to_string(),
            problems,
        });
    }
    Ok(Plan {
        database: database.to_string(),
        kind,
        steps,
    })
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;
    use crate::catalog::SourceFile;
    use crate::script::TransactionMode;
    use crate::status::{State, StatusRow, status};
    use chrono::{TimeZone, Utc};

    fn catalog(files: &[(&str, &str)], rollbacks: &[(&str, &str)]) -> Catalog {
        let conv = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(n, c)| SourceFile {
                    path: (*n).into(),
                    bytes: c.as_bytes().to_vec(),
                })
                .collect()
        };
        Catalog::from_files(
            &crate::backend::postgres::SqlFormat::default(),
            conv(files),
            conv(rollbacks),
        )
        .unwrap()
    }

    fn demo() -> Catalog {
        catalog(
            &[
                ("V1__users.sql", "create table users();"),
                ("V2__posts.sql", "create table posts();"),
                (
                    "V3__idx.sql",
                    "-- strata:no-transaction\ncreate index concurrently i on posts(id);",
                ),
            ],
            &[
                ("U1__users.sql", "drop table users;"),
                ("U3__idx.sql", "drop index i;"),
            ],
        )
    }

    fn applied(cat: &Catalog, versions: &[u64]) -> Vec<Record> {
        versions
            .iter()
            .map(|v| {
                let m = cat.get(*v).unwrap();
                Record {
                    version: *v,
                    name: m.description.clone(),
                    checksum: m.script.checksum.clone(),
                    applied_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                    execution_time_ms: 5,
                    success: true,
                    applied_by: String::new(),
                }
            })
            .collect()
    }

    const UP: Command = Command::Up {
        to: UpTarget::Latest,
        out_of_order: OutOfOrder::Refuse,
    };

    fn versions(p: &Plan) -> Vec<u64> {
        p.steps.iter().map(|s| s.version).collect()
    }

    fn problems(r: Result<Plan>) -> Vec<Problem> {
        match r {
            Err(Error::Refused { problems, .. }) => problems,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn up_applies_pending_in_order_and_honours_target() {
        let cat = demo();
        let p = plan("app", Kind::Postgres, &cat, &[], UP).unwrap();
        assert_eq!(versions(&p), [1, 2, 3]);
        assert_eq!(p.steps[2].mode, TransactionMode::NoTransaction);
        assert_eq!(p.steps[0].file, "V1__users.sql");
        let p = plan("app", Kind::Postgres, &cat, &applied(&cat, &[1]), UP).unwrap();
        assert_eq!(versions(&p), [2, 3]);
        let to2 = Command::Up {
            to: UpTarget::Version(2),
            out_of_order: OutOfOrder::Refuse,
        };
        assert_eq!(
            versions(&plan("app", Kind::Postgres, &cat, &[], to2).unwrap()),
            [1, 2]
        );
        let done = plan("app", Kind::Postgres, &cat, &applied(&cat, &[1, 2, 3]), UP).unwrap();
        assert!(done.is_empty());
    }

    #[test]
    fn out_of_order_is_refused_unless_allowed() {
        let cat = demo();
        let hist = applied(&cat, &[1, 3]);
        let p = problems(plan("app", Kind::Postgres, &cat, &hist, UP));
        assert_eq!(
            p,
            [Problem::OutOfOrder {
                version: 2,
                newest_applied: 3
            }]
        );
        let allow = Command::Up {
            to: UpTarget::Latest,
            out_of_order: OutOfOrder::Allow,
        };
        assert_eq!(
            versions(&plan("app", Kind::Postgres, &cat, &hist, allow).unwrap()),
            [2]
        );
    }

    #[test]
    fn drift_is_detected_and_refuses_up_and_down() {
        let cat = demo();
        let mut hist = applied(&cat, &[1, 2]);
        hist[0].checksum = "0".repeat(64);
        hist[1].name = "old name".into();
        hist.push(Record {
            version: 7,
            name: "gone".into(),
            ..hist[1].clone()
        });
        let p = problems(plan("app", Kind::Postgres, &cat, &hist, UP));
        assert!(matches!(p[0], Problem::Changed { version: 1, .. }), "{p:?}");
        assert!(matches!(p[1], Problem::Renamed { version: 2, .. }), "{p:?}");
        assert!(
            matches!(
                p[2],
                Problem::OutOfOrder {
                    version: 3,
                    newest_applied: 7
                }
            ),
            "{p:?}"
        );
        assert!(matches!(p[3], Problem::Missing { version: 7, .. }), "{p:?}");
        let down = Command::Down {
            to: DownTarget::Steps(1),
        };
        assert_eq!(
            problems(plan("app", Kind::Postgres, &cat, &hist, down)).len(),
            3
        );
        let rows = status(&cat, &hist);
        let states: Vec<State> = rows.iter().map(|r| r.state).collect();
        assert_eq!(
            states,
            [
                State::Drifted,
                State::Drifted,
                State::Pending,
                State::Missing
            ]
        );
    }

    #[test]
    fn missing_file_with_same_content_elsewhere_is_named() {
        let cat = catalog(&[("V5__users.sql", "create table users();")], &[]);
        let hist = vec![Record {
            version: 1,
            name: "users".into(),
            checksum: cat.get(5).unwrap().script.checksum.clone(),
            applied_at: Utc::now(),
            execution_time_ms: 1,
            success: true,
            applied_by: String::new(),
        }];
        let p = problems(plan("app", Kind::Postgres, &cat, &hist, UP));
        assert!(p[0].to_string().contains("V5__users.sql"), "{}", p[0]);
    }

    #[test]
    fn dirty_refuses_up_but_down_may_revert_it() {
        let cat = demo();
        let mut hist = applied(&cat, &[1, 2, 3]);
        hist[2].success = false;
        let p = problems(plan("app", Kind::Postgres, &cat, &hist, UP));
        assert!(
            matches!(p[..], [Problem::Dirty { version: 3, .. }]),
            "{p:?}"
        );
        assert!(p[0].to_string().contains("migrate repair"));
        let down = Command::Down {
            to: DownTarget::Steps(1),
        };
        let d = plan("app", Kind::Postgres, &cat, &hist, down).unwrap();
        assert_eq!(versions(&d), [3]);
        assert_eq!(d.steps[0].action, Action::Revert);
        assert_eq!(d.steps[0].file, "U3__idx.sql");
        assert_eq!(status(&cat, &hist)[2].state, State::Dirty);
    }

    #[test]
    fn down_needs_rollbacks_and_counts_from_the_top() {
        let cat = demo();
        let hist = applied(&cat, &[1, 2, 3]);
        let one = Command::Down {
            to: DownTarget::Steps(1),
        };
        assert_eq!(
            versions(&plan("app", Kind::Postgres, &cat, &hist, one).unwrap()),
            [3]
        );
        let two = Command::Down {
            to: DownTarget::Steps(2),
        };
        let p = problems(plan("app", Kind::Postgres, &cat, &hist, two));
        assert!(
            matches!(p[..], [Problem::MissingRollback { version: 2, .. }]),
            "{p:?}"
        );
        let hist = applied(&cat, &[1, 3]);
        let to0 = Command::Down {
            to: DownTarget::Version(0),
        };
        assert_eq!(
            versions(&plan("app", Kind::Postgres, &cat, &hist, to0).unwrap()),
            [3, 1]
        );
        let to1 = Command::Down {
            to: DownTarget::Version(1),
        };
        assert_eq!(
            versions(&plan("app", Kind::Postgres, &cat, &hist, to1).unwrap()),
            [3]
        );
        let many = Command::Down {
            to: DownTarget::Steps(10),
        };
        assert_eq!(
            versions(&plan("app", Kind::Postgres, &cat, &hist, many).unwrap()),
            [3, 1]
        );
    }

    #[test]
    fn validate_runs_nothing_and_may_refuse_pending() {
        let cat = demo();
        let hist = applied(&cat, &[1]);
        let allow = Command::Validate {
            pending: Pending::Allow,
            out_of_order: OutOfOrder::Refuse,
        };
        assert!(
            plan("app", Kind::Postgres, &cat, &hist, allow)
                .unwrap()
                .is_empty()
        );
        let refuse = Command::Validate {
            pending: Pending::Refuse,
            out_of_order: OutOfOrder::Refuse,
        };
        let p = problems(plan("app", Kind::Postgres, &cat, &hist, refuse));
        assert_eq!(p.iter().map(Problem::version).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn status_rows_round_trip_to_records() {
        let cat = demo();
        let hist = applied(&cat, &[1, 2]);
        let rows = status(&cat, &hist);
        let back: Vec<Record> = rows.iter().filter_map(StatusRow::record).collect();
        assert_eq!(back, hist);
    }
}
