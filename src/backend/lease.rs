//! Leased locks for servers without session locks (Neo4j, Elasticsearch,
//! Qdrant), written once: taking, renewing, releasing, noticing a lock
//! was lost, and breaking one left by a dead runner.
//!
//! A server only has to provide a [`LeaseStore`]: one lock object that
//! exactly one runner can create (a node under a uniqueness constraint, a
//! document created with `op_type=create`, a collection). The holder writes
//! its owner tag and a lease into it and renews the lease every third of
//! [`LEASE`] while it runs. Waiters never take a lock over: a lease that ran
//! out is reported as stale, and only `migrate unlock` removes it.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::LockWait;
use crate::error::{Error, Result};

/// How long a lock stays valid without renewal; renewed every third of it.
pub const LEASE: Duration = Duration::from_secs(30);

/// What a lock says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Host, process id and a random tag.
    pub owner: String,
    /// When it was taken, as the server stored it.
    pub acquired_at: String,
    /// When the lease runs out unless renewed.
    pub expires_at: String,
    /// Whether the lease has run out.
    pub stale: bool,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} since {}", self.owner, self.acquired_at)?;
        if self.stale {
            write!(
                f,
                " (stale: its lease expired at {} and was not renewed; if that runner is dead, \
                 run `migrate unlock` or `Migrator::unlock`)",
                self.expires_at
            )
        } else {
            write!(f, " (lease renewed until {})", self.expires_at)
        }
    }
}

/// This process's owner tag: host, process id and a random part, so two
/// runs of one process image never look alike.
pub fn owner_tag() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host} pid {} ({nanos:08x})", std::process::id())
}

/// Now, as lock fields store it.
pub fn now_text() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The fields a lock stores: its owner, when it was taken, and a lease
/// running [`LEASE`] from now.
pub fn lease_fields(owner: &str, acquired_at: &str) -> Value {
    let expires = Utc::now() + chrono::Duration::from_std(LEASE).expect("small");
    serde_json::json!({
        "owner": owner,
        "acquired_at": acquired_at,
        "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// Reads [`lease_fields`] back; staleness judged by this host's clock.
pub fn holder_of(fields: &Value) -> Option<Holder> {
    let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
    let expires_at = text("expires_at")?;
    let stale = expired(&expires_at);
    Some(Holder {
        owner: text("owner")?,
        acquired_at: text("acquired_at").unwrap_or_default(),
        expires_at,
        stale,
    })
}

/// Whether a stored `expires_at` has passed (an unreadable one counts as
/// passed: nobody renews what nobody can read). Judged by this host's clock.
pub fn expired(expires_at: &str) -> bool {
    DateTime::parse_from_rfc3339(expires_at)
        .map(|t| t < Utc::now())
        .unwrap_or(true)
}

/// What a lock store found.
#[derive(Debug, Clone)]
pub enum LockState<T> {
    /// Nobody holds the lock.
    Free,
    /// Held by this holder; `T` is what a conditional write needs (a
    /// document's sequence number, or nothing).
    Held(Holder, T),
    /// The lock object exists but names no owner yet: a runner is taking
    /// it this instant, or died doing so (Qdrant creates the collection
    /// first and writes its owner point after).
    Ownerless,
}

/// One server's lock object. Errors are already the library's, naming the
/// database and scrubbed of secrets.
// Futures spell out `Send`: the renewal task runs them on any thread.
pub trait LeaseStore: Clone + Send + Sync + 'static {
    /// What a conditional write of the lock needs; `()` where the server
    /// has no such thing.
    type Token: Clone + Send + Sync + 'static;

    /// The configured database name, for messages.
    fn database(&self) -> &str;

    /// The lock as named in messages: `document schema_migrations_lock/lock`.
    fn describe(&self) -> String;

    /// Creates what the lock object needs to exist first (a constraint, an
    /// index). Idempotent; another runner may do it at the same moment.
    fn prepare(&self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Creates the lock for `owner` with a fresh lease: `true` when this
    /// call created it, `false` when it exists already.
    fn create(&self, owner: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Reads the lock.
    fn read(&self) -> impl Future<Output = Result<LockState<Self::Token>>> + Send;

    /// Extends the lease of a lock read as `holder`/`token`; a lock that
    /// changed since must not be overwritten.
    fn renew(
        &self,
        holder: &Holder,
        token: &Self::Token,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Removes a lock read as `holder`/`token` (`None`: an ownerless one);
    /// a lock that changed since must not be removed.
    fn delete(
        &self,
        found: Option<(&Holder, &Self::Token)>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// A leased lock on one server, with its renewal task while held.
pub struct LeasedLock<S: LeaseStore> {
    store: S,
    owner: String,
    heartbeat: Option<JoinHandle<()>>,
}

impl<S: LeaseStore> LeasedLock<S> {
    /// A lock this process does not hold yet.
    pub fn new(store: S) -> Self {
        LeasedLock {
            store,
            owner: owner_tag(),
            heartbeat: None,
        }
    }

    /// The store, for the backend's other calls.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Whether this process believes it holds the lock.
    pub fn is_held(&self) -> bool {
        self.heartbeat.is_some()
    }

    /// Takes the lock, waiting at most `timeout`, then renews it in the
    /// background until [`unlock`](Self::unlock).
    pub async fn lock(&mut self, timeout: Duration, wait: &mut LockWait<'_>) -> Result<()> {
        self.store.prepare().await?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(10);
        while !self.store.create(&self.owner).await? {
            if wait.due() {
                let holder = self.holder().await?;
                wait.say(&holder);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let holder = self.holder().await?;
                return Err(Error::LockTimeout {
                    database: self.store.database().to_string(),
                    lock: self.store.describe(),
                    holder,
                    waited: timeout,
                });
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
        self.heartbeat = Some(tokio::spawn(renew(self.store.clone(), self.owner.clone())));
        Ok(())
    }

    /// Who holds the lock, as far as the store tells.
    async fn holder(&self) -> Result<String> {
        Ok(match self.store.read().await? {
            LockState::Held(h, _) => h.to_string(),
            LockState::Free => "a runner that has released it since".to_string(),
            LockState::Ownerless => {
                "a runner that has not written its owner point (or just released it)".to_string()
            }
        })
    }

    /// Who holds the lock now (a stale lease too), read without taking
    /// it; `None` when it is free.
    pub async fn current_holder(&self) -> Result<Option<String>> {
        Ok(match self.store.read().await? {
            LockState::Held(h, _) => Some(h.to_string()),
            LockState::Free => None,
            LockState::Ownerless => {
                Some("a runner that has not written its owner point yet".to_string())
            }
        })
    }

    /// Releases the lock if it is still ours. Safe to call when the run
    /// failed, or when the lock was taken from us.
    pub async fn unlock(&mut self) -> Result<()> {
        self.stop();
        match self.store.read().await? {
            LockState::Held(h, token) if h.owner == self.owner => {
                self.store.delete(Some((&h, &token))).await
            }
            _ => Ok(()),
        }
    }

    /// Releases a lock still held when the connection closes: it belongs
    /// to a run that failed to release it, and is removed rather than left
    /// to go stale.
    pub async fn release_if_held(&mut self) {
        if self.is_held() {
            let _ = self.unlock().await;
        }
    }

    /// `Some(who holds it now)` when the lock is no longer ours.
    pub async fn lost(&self) -> Result<Option<String>> {
        Ok(match self.store.read().await? {
            LockState::Held(h, _) if h.owner == self.owner => None,
            LockState::Held(h, _) => Some(format!("held by {h}")),
            LockState::Free | LockState::Ownerless => Some("held by nobody".to_string()),
        })
    }

    /// Removes a lock left by a runner that died. Refuses while its lease
    /// is renewed, or while it has no owner (a runner may be taking it this
    /// instant), unless `force`. Says what it did.
    pub async fn break_lock(&self, force: bool) -> Result<String> {
        let database = self.store.database();
        let refuse = |message: String| Error::Database {
            database: database.to_string(),
            message,
        };
        let shown = match self.store.read().await? {
            LockState::Free => return Ok(format!("{database}: no lock is held")),
            LockState::Held(h, _) if !h.stale && !force => {
                return Err(refuse(format!(
                    "the lock is held by {h}: its owner is alive; wait for it, or force it \
                     (`--force`, `Migrator::unlock(true)`) if you are sure it is not running"
                )));
            }
            LockState::Ownerless if !force => {
                return Err(refuse(format!(
                    "{} exists without an owner point: a runner may be taking the lock right \
                     now, or died doing so; force it (`--force`, `Migrator::unlock(true)`) to remove it",
                    self.store.describe()
                )));
            }
            LockState::Held(h, token) => {
                self.store.delete(Some((&h, &token))).await?;
                h.to_string()
            }
            LockState::Ownerless => {
                self.store.delete(None).await?;
                "an unknown runner".to_string()
            }
        };
        Ok(format!("{database}: removed the lock held by {shown}"))
    }

    fn stop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

impl<S: LeaseStore> Drop for LeasedLock<S> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Keeps our lease alive while the lock still names us; stops once it
/// does not (the holder notices through [`LeasedLock::lost`]).
async fn renew<S: LeaseStore>(store: S, owner: String) {
    loop {
        tokio::time::sleep(LEASE / 3).await;
        match store.read().await {
            Ok(LockState::Held(h, token)) if h.owner == owner => {
                if let Err(e) = store.renew(&h, &token).await {
                    tracing::warn!(lock = %store.describe(), error = %e, "renewing the migration lock failed");
                }
            }
            Ok(LockState::Held(h, _)) => {
                tracing::warn!(lock = %store.describe(), holder = %h.owner, "the migration lock was taken over");
                return;
            }
            Ok(_) => {
                tracing::warn!(lock = %store.describe(), "the migration lock is gone while held");
                return;
            }
            Err(e) => {
                tracing::warn!(lock = %store.describe(), error = %e, "reading the migration lock failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_fields_read_back_and_expire_by_the_clock() {
        let fields = lease_fields("host pid 1 (x)", "2026-01-01T00:00:00.000Z");
        let h = holder_of(&fields).unwrap();
        assert_eq!(h.owner, "host pid 1 (x)");
        assert!(!h.stale);
        assert!(h.to_string().contains("lease renewed until"));
        assert!(expired("2000-01-01T00:00:00Z"));
        assert!(expired("not a time"));
        assert!(holder_of(&serde_json::json!({"owner": "x"})).is_none());
    }
}
