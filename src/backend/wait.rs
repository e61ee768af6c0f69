//! Saying who holds the migration lock while a run waits for it.

use std::time::{Duration, Instant};

/// How often a wait is reported after its start.
const EVERY: Duration = Duration::from_secs(10);

/// Receives `(holder, waited so far)`.
type Report<'a> = dyn Fn(&str, Duration) + Send + Sync + 'a;

/// A run's wait for a lock: reported when another runner is first found
/// holding it and every 10 s after, so a waiting deploy job is never silent.
pub struct LockWait<'a> {
    report: Option<&'a Report<'a>>,
    started: Instant,
    next: Option<Instant>,
}

impl<'a> LockWait<'a> {
    /// A wait reported to `report`.
    pub fn new(report: &'a Report<'a>) -> Self {
        LockWait {
            report: Some(report),
            started: Instant::now(),
            next: None,
        }
    }

    /// A wait nobody hears about.
    pub fn quiet() -> LockWait<'static> {
        LockWait {
            report: None,
            started: Instant::now(),
            next: None,
        }
    }

    /// Whether it is time to find out who holds the lock and say so: at
    /// the first contention, then every 10 s.
    pub fn due(&self) -> bool {
        self.report.is_some() && self.next.is_none_or(|n| Instant::now() >= n)
    }

    /// Says who holds the lock.
    pub fn say(&mut self, holder: &str) {
        if let Some(report) = self.report {
            report(holder, self.started.elapsed());
        }
        self.next = Some(Instant::now() + EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn the_first_contention_is_said_then_every_ten_seconds() {
        let said = Mutex::new(Vec::new());
        let report = |holder: &str, _: Duration| said.lock().unwrap().push(holder.to_string());
        let mut wait = LockWait::new(&report);
        assert!(wait.due());
        wait.say("pid 7");
        assert!(!wait.due(), "not again within 10 s");
        wait.next = Some(Instant::now() - Duration::from_millis(1));
        assert!(wait.due());
        assert_eq!(*said.lock().unwrap(), ["pid 7"]);
        assert!(!LockWait::quiet().due(), "nobody to tell");
    }
}
