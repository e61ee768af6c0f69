//! Drift around a run: the live schema checked against the recorded one
//! before the first step (warn or refuse, by `on_drift`), and recorded
//! again once the run is over, so the next run expects what this one left.

use super::{Options, Target, locked};
use crate::backend::{AnyBackend, Backend};
use crate::drift::{DriftState, OnDrift};
use crate::error::{Error, Result};
use crate::events::Event;

/// The drift of one database: its live schema against the recorded one.
/// Read-only; describes nothing when no schema is recorded.
pub async fn state(target: &Target, backend: &mut AnyBackend) -> Result<DriftState> {
    let scope = &target.config.drift;
    if scope.on_drift == OnDrift::Off {
        return Ok(DriftState::Off);
    }
    if let Some(recorded_at) = backend.recorded_unchanged(scope).await? {
        return Ok(DriftState::None { recorded_at });
    }
    let Some(recorded) = backend.recorded_schema().await? else {
        return Ok(DriftState::NotRecorded);
    };
    let live = backend.describe(scope).await?;
    Ok(DriftState::of(Some(&recorded), &live))
}

/// Records the live schema as the one the next run expects (nothing with
/// `on_drift = "off"`).
pub async fn record(target: &Target, backend: &mut AnyBackend) -> Result<()> {
    let scope = &target.config.drift;
    if scope.on_drift == OnDrift::Off {
        return Ok(());
    }
    let live = backend.describe(scope).await?;
    backend.record_schema(&live).await
}

/// The refusal of a drifted database under `on_drift = "refuse"`.
pub fn refusal(target: &Target, state: &DriftState) -> Option<Error> {
    (target.config.drift.on_drift == OnDrift::Refuse && !state.changes().is_empty()).then(|| {
        Error::Drifted {
            database: target.config.name.clone(),
            changes: state.changes().iter().map(|c| c.to_string()).collect(),
        }
    })
}

/// Before the first step, under the lock: a drifted schema is refused
/// (`on_drift = "refuse"`) or reported and run on (`"warn"`).
pub(super) async fn gate(
    target: &Target,
    backend: &mut AnyBackend,
    options: &Options,
) -> Result<()> {
    let state = state(target, backend).await?;
    if let Some(refused) = refusal(target, &state) {
        return Err(refused);
    }
    if !state.changes().is_empty() {
        tracing::info!(database = %target.config.name, changes = state.changes().len(), "schema drift");
        options.observer.emit(Event::Drift {
            database: target.config.name.clone(),
            changes: state.changes().to_vec(),
        });
    }
    Ok(())
}

/// `repair --accept-drift`: under the lock, records the live schema as
/// expected; what was accepted (the drift it had).
pub async fn accept(
    target: &Target,
    backend: &mut AnyBackend,
    options: &Options,
) -> Result<DriftState> {
    locked(target, backend, options, async |backend| {
        let before = state(target, backend).await?;
        // A database whose history store is older than drift, or absent,
        // gets its companion store beside where the history goes.
        backend.ensure_history().await?;
        record(target, backend).await?;
        Ok(before)
    })
    .await
}
