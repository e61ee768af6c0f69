//! strata: schema migrations for services that keep their data in several
//! databases, with a checksummed `schema_migrations` history inside each.
//!
//! The crate reads like its architecture:
//! [`config`] → [`catalog`] → [`plan`] → [`engine`] → [`backend`].
//! Planning is pure: `status`, `plan`, `--dry-run` and `up` share one
//! [`plan::plan`] function, so a dry run shows exactly what a run does.
//!
//! # Migrating at start-up
//!
//! ```no_run
//! # async fn start() -> Result<(), strata::Error> {
//! let migrator = strata::Migrator::from_config_file("migrate.toml")?;
//! for report in migrator.up().await? {
//!     println!("{}: {} step(s) applied", report.database, report.done.len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Replicas may call this at once: each database's lock lets one runner
//! apply while the others wait, re-read the history and find nothing to do.

#![deny(missing_docs)]

pub mod backend;
pub mod catalog;
pub mod config;
pub mod engine;
pub mod error;
pub mod history;
pub mod migrator;
pub mod partition;
pub mod plan;
pub mod render;
pub mod split;

pub use config::{Config, DatabaseConfig, Kind};
pub use engine::{Options, Report};
pub use error::{Error, Result};
pub use history::Record;
pub use migrator::Migrator;
pub use plan::{Command, DownTarget, OutOfOrder, Pending, Plan, Status, UpTarget};

#[cfg(test)]
mod send_checks {
    //! Services spawn these futures on multi-threaded runtimes.
    fn assert_send<T: Send>(_: &T) {}

    #[allow(dead_code)]
    fn futures_are_send(m: &crate::Migrator, p: crate::partition::scheduler::Maintenance) {
        assert_send(&m.up());
        assert_send(&m.status());
        assert_send(&p.run(chrono::Utc::now()));
        assert_send(&p.spawn(std::time::Duration::from_secs(1)).shutdown());
    }
}
