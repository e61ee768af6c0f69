//! Partition maintenance for PostgreSQL: future partitions created ahead of
//! the data, expired ones detached or dropped, without stalling writes.
//!
//! - [`policy`]: the `[[partitions]]` settings, validated when read;
//! - [`calendar`]: interval arithmetic in UTC (pure);
//! - [`plan`]: (policy, children from the catalog, clock) → actions (pure);
//! - [`postgres`]: reads the catalog and carries the actions out, one
//!   partition per transaction, under short lock timeouts;
//! - [`health`]: what monitoring wants to know (`check`, metrics);
//! - [`scheduler`]: one run, a loop, or a task inside a service.

pub mod calendar;
#[cfg(feature = "postgres")]
pub mod health;
pub mod plan;
pub mod policy;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "postgres")]
pub mod scheduler;
#[cfg(feature = "postgres")]
mod survey;

pub use calendar::Interval;
pub use plan::{Action, Observed, TablePlan};
pub use policy::{Policy, Retention, RetentionMode};

/// What stands in for [`scheduler::Maintenance`] in a build without
/// PostgreSQL: no database can have partition policies, so there is
/// nothing to observe or plan.
#[cfg(not(feature = "postgres"))]
#[derive(Debug, Clone)]
pub struct Unmaintained;

#[cfg(not(feature = "postgres"))]
impl Unmaintained {
    /// Checks the policies (a policy names a database of kind postgres,
    /// which this build refuses anyway).
    pub fn new(config: &crate::config::Config, _only: &[String]) -> crate::error::Result<Self> {
        policy::policies(config)?;
        Ok(Unmaintained)
    }

    /// Nothing to configure (any options are ignored).
    pub fn with_options<O>(self, _options: O) -> Self {
        self
    }

    /// No policies.
    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        std::iter::empty()
    }

    /// No partitioned tables.
    pub async fn observe(&self) -> crate::error::Result<Vec<Observed>> {
        Ok(Vec::new())
    }

    /// No databases to observe.
    pub async fn observe_each(&self) -> Vec<(String, crate::error::Result<Vec<Observed>>)> {
        Vec::new()
    }
}
