#![doc = include_str!("../docs/src/library.md")]
//!
//! # The crate's modules
//!
//! The crate reads like its architecture:
//! [`config`] → [`catalog`] → [`plan`] → [`engine`] → [`backend`].
//! Planning is pure: `status`, `plan`, `--dry-run` and `up` share one
//! [`plan::plan`] function, so a dry run shows exactly what a run does.
//! [`Migrator`] is the front door for migrations,
//! [`Maintenance`] for partitions (with
//! the `postgres` feature), [`telemetry`] reports both to OpenTelemetry.
//! The book (`docs/src` in the repository) covers everything else.

#![deny(missing_docs)]

// Vocabulary: leaves every layer may use.
pub mod drift;
pub mod error;
pub mod finding;
pub mod history;
pub mod kind;
pub mod names;
pub mod problem;
pub mod script;
pub mod secret;
pub mod split;
pub mod step;
// Inputs: settings and files, checked before anything connects.
pub mod catalog;
pub mod config;
pub mod embed;
pub mod lint;
pub mod operations;
// Pure decisions.
pub mod events;
#[doc = include_str!("../docs/src/plans-in-ci.md")]
pub mod plan;
pub mod status;
// Talking to servers, and running plans on them.
pub mod backend;
pub mod engine;
pub mod groups;
pub mod import;
pub mod partition;
pub mod summary;
pub mod telemetry;
// The front door and what it prints.
pub mod migrator;
pub mod render;
pub mod scaffold;

pub use config::{Config, DatabaseConfig};
pub use embed::Embedded;
pub use engine::{Options, Report};
pub use error::{Error, Result};
pub use history::Record;
pub use kind::Kind;
pub use migrator::Migrator;
#[cfg(feature = "postgres")]
pub use partition::scheduler::Maintenance;
pub use plan::{Command, DeployPlan, DownTarget, OutOfOrder, Pending, Plan, UpTarget};
pub use status::Status;
/// Compiles every migration and rollback folder into the binary; see [`embed`](mod@embed).
pub use strata_macros::embed;
pub use summary::{Outcome, Summary};

#[cfg(all(test, feature = "postgres"))]
mod send_checks {
    //! Services spawn these futures on multi-threaded runtimes.
    fn assert_send<T: Send>(_: &T) {}

    #[allow(dead_code)]
    fn futures_are_send(m: &crate::Migrator, p: crate::partition::scheduler::Maintenance) {
        assert_send(&m.up());
        assert_send(&m.status());
        assert_send(&p.run(crate::partition::scheduler::Clock::Server));
        assert_send(&p.spawn(std::time::Duration::from_secs(1)).shutdown());
    }
}
