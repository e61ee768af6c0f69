//! Unit tests of the scheduler's pure parts: the clock refusal.

use super::*;
use crate::partition::calendar::Interval;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn policy(interval: Interval) -> Policy {
    let mut settings = crate::config::PartitionSettings {
        database: "app".into(),
        table: "t".into(),
        interval: Some(interval.as_str().into()),
        premake: Some(1),
        ..Default::default()
    };
    settings.origin = "test".into();
    Policy::resolve(&settings, &["app"]).unwrap()
}

#[test]
fn a_clock_more_than_one_interval_ahead_is_refused() {
    let server = at("2026-11-30T10:00:00Z");
    let month = [policy(Interval::Month)];
    // Within next month: fine; past it: refused, saying both times.
    assert_eq!(skew(&month, at("2026-12-31T23:00:00Z"), server), None);
    assert_eq!(skew(&month, at("2025-01-01T00:00:00Z"), server), None);
    let why = skew(&month, at("2030-01-15T00:00:00Z"), server).unwrap();
    assert!(
        why.contains("2030-01-15T00:00:00Z") && why.contains("2026-11-30T10:00:00Z"),
        "{why}"
    );
    assert!(why.contains("--allow-clock-skew"), "{why}");
    // The shortest interval decides.
    let both = [policy(Interval::Month), policy(Interval::Day)];
    assert!(skew(&both, at("2026-12-03T00:00:00Z"), server).is_some());
    assert_eq!(skew(&both, at("2026-12-01T12:00:00Z"), server), None);
}
