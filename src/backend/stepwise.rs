//! Steps that cannot commit together with their record: a file run unit by
//! unit (a PostgreSQL `-- strata:no-transaction` file's statements, a
//! Cypher file's statements, an operation file's operations), written once
//! for every kind.
//!
//! The record is written dirty first and completed after, so a run that
//! dies half-way leaves a record saying so, and `up` refuses until a human
//! has looked (`migrate repair`).

use std::time::Instant;

use crate::error::Result;
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

    /// Runs unit `index` of `script`; the error names the file and where.
    async fn run_unit(&mut self, script: &Script, index: usize, unit: &Unit) -> Result<()>;
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
        backend.run_unit(script, index, unit).await?;
    }
    let ms = started.elapsed().as_millis() as i64;
    backend.mark_finished(step, ms).await?;
    Ok(ms)
}
