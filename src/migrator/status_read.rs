//! `status`: every version of every database with its state, read
//! without the lock, and what the catalog shows of partitioned parents.

use super::Migrator;
use crate::backend::{AnyBackend, Backend};
use crate::config::DatabaseConfig;
use crate::engine;
use crate::error::{Error, Result};
use crate::status::{self, DatabaseStatus, Status};

impl Migrator {
    /// Every version of every database with its state, and what the catalog
    /// shows of each partitioned parent. Read-only, no lock. Any database
    /// that cannot be read makes it an error (over several,
    /// [`Error::Databases`]); [`status_each`](Self::status_each) keeps the
    /// others.
    pub async fn status(&self) -> Result<Status> {
        let (status, mut failed) = self.status_each().await;
        match failed.len() {
            0 => Ok(status),
            _ if self.targets.len() == 1 => Err(failed.pop().expect("one").1),
            _ => Err(Error::Databases {
                total: self.targets.len(),
                failed: failed.into_iter().map(|(d, e)| (d, Box::new(e))).collect(),
                not_started: Vec::new(),
                done: Vec::new(),
            }),
        }
    }

    /// The status of every database that could be read, and the error of
    /// each that could not (unreachable, its history unreadable), in name
    /// order: one tenant down does not hide the other hundreds.
    pub async fn status_each(&self) -> (Status, Vec<(String, Error)>) {
        let histories = self
            .each(|target| async move {
                let mut backend = self.connect(&target.config).await?;
                let looked = async {
                    let history = backend.applied().await?;
                    engine::check_built(target, &mut backend, &history, true).await?;
                    // Sizes for offline plans' findings (PostgreSQL).
                    let tables = match self.table_sizes {
                        true => backend.table_sizes(&[]).await?,
                        false => Default::default(),
                    };
                    let partitions = self.observe_on(&mut backend, &target.config).await;
                    let location = backend.history_location();
                    let drift = engine::drift::state(target, &mut backend).await?;
                    Ok::<_, Error>((history, tables, partitions, location, drift))
                }
                .await;
                let _ = backend.close().await;
                looked
            })
            .await;
        let mut databases = Vec::new();
        let mut partitions = Vec::new();
        let mut failed = Vec::new();
        for (target, looked) in self.targets.iter().zip(histories) {
            let name = target.config.name.clone();
            match looked {
                Ok((history, tables, observed, location, drift)) => {
                    let migrations = status::status(&target.catalog, &history);
                    let pending = migrations
                        .iter()
                        .filter(|r| r.state == status::State::Pending)
                        .count();
                    let telemetry = &self.options.telemetry;
                    telemetry.pending(&name, target.config.kind, pending);
                    databases.push(DatabaseStatus {
                        name: name.clone(),
                        kind: target.config.kind,
                        history: location,
                        migrations,
                        tables,
                        drift: Some(drift),
                    });
                    match observed {
                        Some(Ok(o)) => partitions.extend(o),
                        Some(Err(e)) => failed.push((name, e)),
                        None => {}
                    }
                }
                Err(e) => failed.push((name, e)),
            }
        }
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        (
            Status {
                databases,
                partitions,
            },
            failed,
        )
    }

    /// What the catalog shows of `db`'s partitioned parents, on the
    /// connection `status` already holds; `None` without policies there.
    async fn observe_on(
        &self,
        backend: &mut AnyBackend,
        db: &DatabaseConfig,
    ) -> Option<Result<Vec<crate::partition::Observed>>> {
        #[cfg(feature = "postgres")]
        if let Some(pg) = backend.postgres() {
            return self.maintenance.observe_on(pg, db).await;
        }
        let _ = (backend, db); // unused without PostgreSQL
        None
    }
}
