//! `migrate wait`: a readiness gate for replicas that must not start before
//! the schema is there. It reads each history (never the lock's owner's
//! way: it takes no lock and writes nothing) until every selected database
//! has what the files need, with backoff, or the time is up.

use std::time::{Duration, Instant};

use super::Migrator;
use crate::backend::{AnyBackend, Backend};
use crate::catalog::Catalog;
use crate::engine::Target;
use crate::error::{Behind, Error, Result};
use crate::history::Record;

/// What [`Migrator::wait_until`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// Every migration of the folder applied (none pending, none dirty).
    Current,
    /// Version N (and every version of the folder up to it) applied.
    Version(u64),
}

/// The first pause between two looks, and the longest.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(2);

/// The versions of `catalog` that `wait_for` needs and `history` does
/// not have applied. Pure.
pub fn missing(catalog: &Catalog, history: &[Record], wait_for: WaitFor) -> Vec<(u64, String)> {
    let applied = |v: u64| history.iter().any(|r| r.version == v && !r.is_dirty());
    catalog
        .migrations
        .iter()
        .filter(|m| match wait_for {
            WaitFor::Current => true,
            WaitFor::Version(n) => m.version <= n,
        })
        .filter(|m| !applied(m.version))
        .map(|m| (m.version, m.description.clone()))
        .collect()
}

impl Migrator {
    /// Waits until every selected database has every migration of its
    /// folder applied, looking again with backoff (100 ms doubling to 2 s);
    /// [`Error::NotReady`] after `timeout`, naming what is still pending
    /// and who holds the lock. Takes no lock and writes nothing: for the
    /// replicas of a service that start while another process migrates.
    pub async fn wait_until_current(&self, timeout: Duration) -> Result<()> {
        self.wait_until(WaitFor::Current, timeout).await
    }

    /// [`wait_until_current`](Self::wait_until_current), for a chosen
    /// target. A version the folder does not have is bad input.
    pub async fn wait_until(&self, wait_for: WaitFor, timeout: Duration) -> Result<()> {
        if let WaitFor::Version(n) = wait_for
            && let Some(t) = self.targets.iter().find(|t| t.catalog.get(n).is_none())
        {
            return Err(Error::Usage(format!(
                "database {} has no migration {n} in {}",
                t.config.name,
                t.config.migrations.display()
            )));
        }
        let deadline = Instant::now() + timeout;
        let mut waiting: Vec<&Target> = self.targets.iter().collect();
        let mut pause = FIRST_PAUSE;
        loop {
            let looks = self.look_behind(&waiting, wait_for).await;
            let behind: Vec<Behind> = looks.into_iter().flatten().collect();
            if behind.is_empty() {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::NotReady {
                    waited: timeout,
                    behind,
                });
            }
            waiting.retain(|t| behind.iter().any(|b| b.database == t.config.name));
            tracing::debug!(databases = waiting.len(), "waiting for migrations");
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// One look at each of `targets`, `--jobs` at a time: `None` for a
    /// database that is ready.
    async fn look_behind(&self, targets: &[&Target], wait_for: WaitFor) -> Vec<Option<Behind>> {
        let futures = targets
            .iter()
            .map(|t| Box::pin(self.behind(t, wait_for)) as _)
            .collect();
        crate::engine::in_order(futures, self.jobs()).await
    }

    async fn behind(&self, target: &Target, wait_for: WaitFor) -> Option<Behind> {
        let report = |pending, lock_holder, error| {
            Some(Behind {
                database: target.config.name.clone(),
                pending,
                lock_holder,
                error,
            })
        };
        let mut backend =
            match AnyBackend::connect(&target.config, self.options.connect_timeout).await {
                Ok(b) => b,
                Err(e) => return report(Vec::new(), None, Some(e.to_string())),
            };
        let looked = async {
            let history = backend.applied().await?;
            let pending = missing(&target.catalog, &history, wait_for);
            if pending.is_empty() {
                return Ok(None);
            }
            let holder = backend.lock_holder().await?;
            Ok::<_, Error>(report(pending, holder, None))
        }
        .await;
        let _ = backend.close().await;
        looked.unwrap_or_else(|e| report(Vec::new(), None, Some(e.to_string())))
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;
    use crate::catalog::SourceFile;

    fn catalog(versions: &[u64]) -> Catalog {
        let files = versions
            .iter()
            .map(|v| SourceFile {
                path: format!("V{v}__step_{v}.sql").into(),
                bytes: b"SELECT 1;".to_vec(),
            })
            .collect();
        Catalog::from_files(
            &crate::backend::postgres::SqlFormat::default(),
            files,
            Vec::new(),
        )
        .unwrap()
    }

    fn record(version: u64, success: bool) -> Record {
        Record {
            version,
            name: String::new(),
            checksum: String::new(),
            applied_at: chrono::Utc::now(),
            execution_time_ms: 0,
            success,
            applied_by: String::new(),
        }
    }

    #[test]
    fn missing_counts_dirty_and_unrecorded_versions() {
        let c = catalog(&[1, 2, 3]);
        let history = [record(1, true), record(2, false)];
        assert_eq!(
            missing(&c, &history, WaitFor::Current),
            [(2, "step 2".to_string()), (3, "step 3".to_string())]
        );
        assert!(missing(&c, &[record(1, true)], WaitFor::Version(1)).is_empty());
        assert_eq!(missing(&c, &history, WaitFor::Version(2)).len(), 1);
        let all = [record(1, true), record(2, true), record(3, true)];
        assert!(missing(&c, &all, WaitFor::Current).is_empty());
    }

    #[test]
    fn a_behind_database_says_what_and_who() {
        let b = Behind {
            database: "app".into(),
            pending: vec![(3, "add email".into())],
            lock_holder: Some("server process 42".into()),
            error: None,
        };
        assert_eq!(
            b.to_string(),
            "database app: still pending: 3 (add email); a run holds the migration lock: \
             server process 42"
        );
    }
}
