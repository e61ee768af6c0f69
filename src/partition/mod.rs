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
pub mod health;
pub mod plan;
pub mod policy;
pub mod postgres;
pub mod scheduler;

pub use calendar::Interval;
pub use plan::{Action, Observed, TablePlan};
pub use policy::{Policy, Retention, RetentionMode};
