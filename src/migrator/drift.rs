//! `drift`, `repair --accept-drift`, and the refusal of a drifted
//! database before anything runs anywhere.

use super::Migrator;
use crate::backend::{AnyBackend, Backend};
use crate::drift::{DriftReport, OnDrift};
use crate::engine::{self, Target};
use crate::error::Result;
use crate::history::Record;

impl Migrator {
    /// Each database's drift: its live schema against the one recorded
    /// after the last run. Read-only, no lock, at most `jobs` at a time.
    /// Any database that cannot be read makes it an error (over several,
    /// [`Error::Databases`](crate::Error::Databases)).
    pub async fn drift(&self) -> Result<Vec<DriftReport>> {
        self.change_each(|target| async move {
            let mut backend = self.connect(&target.config).await?;
            let state = engine::drift::state(target, &mut backend).await;
            let _ = backend.close().await;
            Ok(DriftReport {
                database: target.config.name.clone(),
                state: state?,
            })
        })
        .await
    }

    /// `repair --accept-drift`: records each database's live schema as the
    /// one its migrations expect, under its lock. Each database's drift as
    /// it was accepted.
    pub async fn accept_drift(&self) -> Result<Vec<DriftReport>> {
        self.change_each(|target| async move {
            let mut backend = self.connect(&target.config).await?;
            let state = engine::drift::accept(target, &mut backend, &self.options).await;
            let _ = backend.close().await;
            Ok(DriftReport {
                database: target.config.name.clone(),
                state: state?,
            })
        })
        .await
    }

    /// In the unlocked look, a database with work whose schema drifted
    /// under `on_drift = "refuse"` is refused, so a group runs nowhere.
    /// Only when no runner is at work there: a runner's changes in
    /// progress are not drift (the locked run checks again).
    pub(super) async fn refuse_drift(
        &self,
        target: &Target,
        backend: &mut AnyBackend,
        history: &[Record],
    ) -> Result<()> {
        if target.config.drift.on_drift != OnDrift::Refuse {
            return Ok(());
        }
        let state = engine::drift::state(target, backend).await?;
        let Some(refused) = engine::drift::refusal(target, &state) else {
            return Ok(());
        };
        // A runner holds the lock while it changes the schema and records
        // the new one before it lets go: no holder now and an unchanged
        // history mean no run overlapped the description.
        if backend.lock_holder().await?.is_none() && backend.applied().await? == history {
            return Err(refused);
        }
        Ok(())
    }
}
