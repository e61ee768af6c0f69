//! What a run reports as it goes ([`Event`], to an [`Observer`]) and how
//! it is asked to stop ([`StopHandle`]): shared by the engine, which runs
//! steps, and the backends, which report retries and end them on a stop.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Signal;
use crate::step::{Done, Step};

/// Asks runs to stop: before their next step, and after
/// [`Options::stop_timeout`](crate::engine::Options::stop_timeout) by cancelling the step in progress on the
/// server where the kind allows it (PostgreSQL rolls the step back). A
/// second request cancels at once. Clones share one request; the CLI
/// triggers it on SIGINT and SIGTERM, a service on its own shutdown.
#[derive(Debug, Clone)]
pub struct StopHandle {
    requests: Arc<tokio::sync::watch::Sender<(Option<Signal>, u32)>>,
}

impl Default for StopHandle {
    fn default() -> Self {
        StopHandle {
            requests: Arc::new(tokio::sync::watch::Sender::new((None, 0))),
        }
    }
}

impl StopHandle {
    /// A handle nobody has asked to stop yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every run holding a clone of this handle to stop.
    pub fn stop(&self, signal: Signal) {
        self.requests
            .send_modify(|(s, n)| (*s, *n) = (Some(s.unwrap_or(signal)), *n + 1));
    }

    /// The first stop request, if there was one.
    pub fn requested(&self) -> Option<Signal> {
        self.requests.borrow().0
    }

    /// Completes once a stop was requested.
    pub async fn stopped(&self) -> Signal {
        let mut rx = self.requests.subscribe();
        match rx.wait_for(|(s, _)| s.is_some()).await {
            Ok(r) => r.0.expect("waited for it"),
            Err(_) => std::future::pending().await,
        }
    }

    /// Completes once a stop was requested and then `grace` has passed,
    /// or at once on a second request.
    pub(crate) async fn grace_over(&self, grace: Duration) {
        let mut rx = self.requests.subscribe();
        let Ok(first) = rx.wait_for(|(s, _)| s.is_some()).await.map(|r| r.1) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = tokio::time::sleep(grace) => {}
            _ = rx.wait_for(|(_, n)| *n > first) => {}
        }
    }
}

/// What a run reports as it goes, so a command line can print each step
/// when it happens rather than at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step is about to run.
    Started {
        /// The configured database name.
        database: String,
        /// The step.
        step: Step,
    },
    /// A step completed.
    Completed {
        /// The configured database name.
        database: String,
        /// What it did.
        done: Done,
    },
    /// A step has been running for a while (every 30 s).
    StillRunning {
        /// The configured database name.
        database: String,
        /// The step.
        step: Step,
        /// For how long.
        elapsed: Duration,
    },
    /// Another runner holds the lock: said when the wait starts and every
    /// 10 s after.
    Waiting {
        /// The configured database name.
        database: String,
        /// Who holds the lock, as far as the server can tell.
        holder: String,
        /// For how long this run has waited.
        waited: Duration,
    },
    /// What the server says of a step that has run a while (PostgreSQL,
    /// every 10 s): an index build's phase and blocks or tuples done, a
    /// rewrite's, or the lock it waits for and who holds it.
    Progress {
        /// The configured database name.
        database: String,
        /// The file.
        file: String,
        /// For how long the statement has run.
        elapsed: Duration,
        /// What the server reports, one line.
        detail: String,
    },
    /// A version recorded before strata checksummed the data files its
    /// file names: its recorded checksum now covers them too.
    ChecksumUpgraded {
        /// The configured database name.
        database: String,
        /// The version.
        version: u64,
        /// Its file.
        file: String,
    },
    /// The live schema changed since strata last ran there; with
    /// `on_drift = "warn"` the run goes on (and records the schema it
    /// leaves as the new expected one).
    Drift {
        /// The configured database name.
        database: String,
        /// What changed.
        changes: Vec<crate::drift::Change>,
    },
    /// A statement of a step waited for a table lock as long as its lock
    /// timeout allows: what the step did was rolled back (a no-transaction
    /// file: that statement), and it is tried again after `pause`, so the
    /// queries queued behind it go on meanwhile.
    Retrying {
        /// The configured database name.
        database: String,
        /// The file.
        file: String,
        /// Which retry this is (from 1).
        attempt: u32,
        /// How many retries are allowed.
        retries: u32,
        /// The lock timeout it waited for.
        timeout: Duration,
        /// Who blocked it, as far as the server could tell.
        blocker: String,
        /// The pause before the retry.
        pause: Duration,
    },
}

/// Receives [`Event`]s; the default ignores them.
#[derive(Clone, Default)]
pub struct Observer(Option<Arc<EventFn>>);

type EventFn = dyn Fn(&Event) + Send + Sync;

impl Observer {
    /// Calls `f` with every event.
    pub fn new(f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        Observer(Some(Arc::new(f)))
    }

    /// Reports one event.
    pub fn emit(&self, event: Event) {
        if let Some(f) = &self.0 {
            f(&event);
        }
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Observer(..)"
        } else {
            "Observer(none)"
        })
    }
}
