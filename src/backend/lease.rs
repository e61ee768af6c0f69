//! Leased locks for servers without session locks (Neo4j, Elasticsearch):
//! who holds one, and how that is shown.
//!
//! The holder writes its owner tag and a lease into the lock and renews the
//! lease every third of [`LEASE`] while it runs. Waiters never take a lock
//! over: a lease that ran out is reported as stale, and only `migrate
//! unlock` removes it.

use std::time::Duration;

use chrono::{DateTime, Utc};

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
                 run `migrate unlock`)",
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

/// The fields a lock stores: its owner, when it was taken, and a lease
/// running [`LEASE`] from now.
pub fn lease_fields(owner: &str, acquired_at: &str) -> serde_json::Value {
    let expires = Utc::now() + chrono::Duration::from_std(LEASE).expect("small");
    serde_json::json!({
        "owner": owner,
        "acquired_at": acquired_at,
        "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// Whether a stored `expires_at` has passed (an unreadable one counts as
/// passed: nobody renews what nobody can read). Judged by this host's clock.
pub fn expired(expires_at: &str) -> bool {
    DateTime::parse_from_rfc3339(expires_at)
        .map(|t| t < Utc::now())
        .unwrap_or(true)
}

/// What a holder's `lock_lost` answers once it has read the lock back:
/// `None` while the lock is still `owner`'s, else who holds it now.
pub fn lost(owner: &str, now: Option<&Holder>) -> Option<String> {
    match now {
        Some(h) if h.owner == owner => None,
        Some(h) => Some(format!("held by {h}")),
        None => Some("held by nobody".to_string()),
    }
}
