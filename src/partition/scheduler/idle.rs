//! The steady state of a run: one look at a database's tables (see
//! `partition::survey`), and the reports of a database with nothing to do
//! or that could not be maintained at all.

use super::{Clock, Maintenance, Session, TableReport, reason};
use crate::backend::Backend;
use crate::config::DatabaseConfig;
use crate::error::{Error, Result};
use crate::partition::policy::Policy;
use crate::partition::survey::{Known, idle, look};

impl Maintenance {
    /// A session on `db` and one look at its parents (one query on the
    /// server's clock); the idle tables when no table has work.
    pub(super) async fn look(
        &self,
        db: &DatabaseConfig,
        policies: &[Policy],
        clock: Clock,
    ) -> Result<(Session, Option<Vec<bool>>)> {
        let mut backend = self.connect(db).await?;
        let given = match clock {
            Clock::Server => None,
            _ => match Self::settle(&mut backend, db, policies, clock).await {
                Ok(now) => Some(now),
                Err(e) => {
                    let _ = backend.close().await;
                    return Err(e);
                }
            },
        };
        // What earlier runs read of this database's parents (taken out
        // while this look runs: no lock is held across the query).
        let mut known = self.known(db);
        let looked = look(backend.connection(), policies, &mut known).await;
        if looked.is_ok() {
            self.remember(db, known);
        }
        match looked {
            Ok(look) => {
                let now = given.unwrap_or(look.now);
                let idle = idle(policies, &look, now);
                Ok((Session { backend, now }, idle))
            }
            Err(e) => {
                let e = backend.db_error("reading the partitioned tables", e);
                let _ = backend.close().await;
                Err(e)
            }
        }
    }

    /// What earlier looks read of `db`'s parents.
    fn known(&self, db: &DatabaseConfig) -> Known {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.remove(&db.name).unwrap_or_default()
    }

    /// Keeps what a look read of `db`'s parents for the next run.
    fn remember(&self, db: &DatabaseConfig, looked: Known) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.insert(db.name.clone(), looked);
    }
}

/// The reports of a database with nothing to do: `exists` per policy.
pub(super) fn idle_reports(
    db: &DatabaseConfig,
    policies: &[Policy],
    exists: &[bool],
) -> Vec<TableReport> {
    policies
        .iter()
        .zip(exists)
        .map(|(p, exists)| TableReport {
            database: db.name.clone(),
            table: p.qualified(),
            done: Vec::new(),
            error: None,
            note: (!exists).then(|| not_yet(p)),
            standby: false,
        })
        .collect()
}

/// The note for a parent a migration has not created yet.
pub(super) fn not_yet(p: &Policy) -> String {
    format!(
        "{} does not exist yet: nothing to maintain until a migration creates it",
        p.qualified()
    )
}

/// A report per table of a database that could not be maintained at all
/// (its lock or its connection failed after the check): the other
/// databases' reports stand beside it.
pub(super) fn not_maintained(
    db: &DatabaseConfig,
    policies: &[Policy],
    e: &Error,
) -> Vec<TableReport> {
    policies
        .iter()
        .map(|p| TableReport {
            database: db.name.clone(),
            table: p.qualified(),
            done: Vec::new(),
            error: Some(format!("not maintained: {}", reason(&db.name, e))),
            note: None,
            standby: matches!(e, Error::Standby { .. }),
        })
        .collect()
}
