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
//! A service compiles its migrations in and applies them before it serves:
//!
//! ```no_run
//! static MIGRATIONS: strata::Embedded = strata::embed!("migrations", "rollbacks");
//!
//! # async fn start() -> Result<(), strata::Error> {
//! let url = std::env::var("APP_DATABASE_URL").unwrap_or_default();
//! let config = strata::Config::default().with_database("app", strata::Kind::Postgres, url)?;
//! let migrator = strata::Migrator::from_embedded(&MIGRATIONS, &config)?
//!     .with_lock_timeout(std::time::Duration::from_secs(120));
//! for report in migrator.up().await? {
//!     println!("{}: {} step(s) applied", report.database, report.done.len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Replicas may call this at once: each database's lock lets one runner
//! apply while the others wait, re-read the history and find nothing to do.
//! A service that must refuse to start behind its schema instead calls
//! `.validate_only(true)` and gets [`Error::Refused`] naming what is pending.
//!
//! # Plans as data
//!
//! [`Migrator::deploy_plan`] asks the servers; [`Migrator::plan_offline`]
//! plans from a recorded [`Status`] (`migrate status --format json`), so a
//! CI job can snapshot the [`DeployPlan`] with `insta` and no database.

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
