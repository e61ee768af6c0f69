//! Steps that cannot commit together with their record: a file run unit by
//! unit (a PostgreSQL `-- strata:no-transaction` file's statements, a
//! Cypher file's statements, an operation file's operations), written once
//! for every kind.
//!
//! The record is written dirty first and completed after, so a run that
//! dies half-way leaves a record saying so, and `up` refuses until a human
//! has looked (`migrate repair`).

use std::time::Instant;

use crate::error::{Error, Progress, Result};
use crate::script::Script;
use crate::step::Step;

/// What a backend provides to run a step unit by unit; `Unit` is one
/// statement or operation.
#[allow(async_fn_in_trait)] // used through concrete types only
pub trait Stepwise<Unit> {
    /// Records the step as started: a migration's record written with
    /// `success = false`, a rollback's record flipped to it.
    async fn mark_started(&mut self, step: &Step) -> Result<()>;

    /// Records the step as done: a migration's record completed, a
    /// rollback's record removed.
    async fn mark_finished(&mut self, step: &Step, ms: i64) -> Result<()>;

    /// Takes back [`mark_started`](Self::mark_started) when the first
    /// unit failed and so nothing changed: a migration's record removed,
    /// a rollback's record marked applied again.
    async fn unmark(&mut self, step: &Step) -> Result<()>;

    /// Runs unit `index` of `script`; the error names the file and where.
    async fn run_unit(&mut self, script: &Script, index: usize, unit: &Unit) -> Result<()>;

    /// Whether a unit that fails changes nothing (a PostgreSQL statement,
    /// a Cypher statement in its own transaction), so a failing first unit
    /// leaves the database as it was. A unit that may fail part-way (a
    /// batched `CALL { … } IN TRANSACTIONS`, a reindex) is not.
    fn atomic(&self, unit: &Unit) -> bool {
        let _ = unit;
        true
    }

    /// What a unit is called in messages.
    const UNIT: &'static str = "statement";
}

/// Runs `units` of `script` one by one between the two record writes.
/// Returns the execution time in milliseconds.
pub async fn run<U, B: Stepwise<U>>(
    backend: &mut B,
    step: &Step,
    script: &Script,
    units: &[U],
) -> Result<i64> {
    let started = Instant::now();
    backend.mark_started(step).await?;
    for (index, unit) in units.iter().enumerate() {
        let Err(mut error) = backend.run_unit(script, index, unit).await else {
            continue;
        };
        let clean = index == 0 && backend.atomic(unit);
        if clean {
            // Nothing took effect: no dirty record, no repair.
            backend.unmark(step).await?;
        }
        if let Error::Step(failure) = &mut error {
            failure.progress = Some(Progress {
                ran: index,
                total: units.len(),
                unit: B::UNIT,
                dirty: !clean,
            });
        }
        return Err(error);
    }
    let ms = started.elapsed().as_millis() as i64;
    backend.mark_finished(step, ms).await?;
    Ok(ms)
}
