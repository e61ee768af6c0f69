//! Interval arithmetic in UTC. Pure.
//!
//! Every boundary is computed in UTC whatever the server's or the session's
//! time zone, so a partition's range never shifts with a daylight-saving
//! change or a client in another zone.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The length of one partition. Months only for now; the type leaves room
/// for days, weeks and years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Interval {
    /// Calendar months, from the first of the month 00:00 UTC.
    Month,
}

impl Interval {
    /// The start of the interval containing `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Interval::Month => month_start(t.year(), t.month()),
        }
    }

    /// `t` moved by `n` intervals (negative: back). `t` should be aligned.
    pub fn step(self, t: DateTime<Utc>, n: i64) -> DateTime<Utc> {
        match self {
            Interval::Month => {
                let index = t.year() as i64 * 12 + (t.month() as i64 - 1) + n;
                month_start(
                    index.div_euclid(12) as i32,
                    (index.rem_euclid(12) + 1) as u32,
                )
            }
        }
    }

    /// Whether `t` is the start of an interval.
    pub fn is_aligned(self, t: DateTime<Utc>) -> bool {
        self.floor(t) == t
    }

    /// Whether `[from, to)` is exactly one aligned interval.
    pub fn is_one_interval(self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.is_aligned(from) && self.step(from, 1) == to
    }

    /// The config name of the interval.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Month => "month",
        }
    }
}

fn month_start(year: i32, month: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(
        &NaiveDate::from_ymd_opt(year, month, 1)
            .expect("month 1..=12 of a representable year")
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists"),
    )
}

/// Fills a naming pattern: `{table}`, `{YYYY}`, `{MM}`, `{DD}`.
pub fn partition_name(pattern: &str, table: &str, from: DateTime<Utc>) -> String {
    pattern
        .replace("{table}", table)
        .replace("{YYYY}", &format!("{:04}", from.year()))
        .replace("{MM}", &format!("{:02}", from.month()))
        .replace("{DD}", &format!("{:02}", from.day()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn months_floor_and_step_across_years() {
        let m = Interval::Month;
        assert_eq!(
            m.floor(at("2026-12-31T23:59:59.999Z")),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            m.step(at("2026-12-01T00:00:00Z"), 1),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            m.step(at("2027-01-01T00:00:00Z"), -1),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            m.step(at("2027-01-01T00:00:00Z"), -13),
            at("2025-12-01T00:00:00Z")
        );
        assert_eq!(
            m.step(at("2026-03-01T00:00:00Z"), 24),
            at("2028-03-01T00:00:00Z")
        );
    }

    #[test]
    fn leap_years_and_month_ends_do_not_matter_to_month_starts() {
        let m = Interval::Month;
        assert_eq!(
            m.floor(at("2028-02-29T12:00:00Z")),
            at("2028-02-01T00:00:00Z")
        );
        assert_eq!(
            m.step(at("2028-02-01T00:00:00Z"), 1),
            at("2028-03-01T00:00:00Z")
        );
        assert_eq!(
            m.floor(at("2027-02-28T23:59:59Z")),
            at("2027-02-01T00:00:00Z")
        );
        assert!(m.is_one_interval(at("2028-02-01T00:00:00Z"), at("2028-03-01T00:00:00Z")));
        assert!(!m.is_one_interval(at("2028-02-01T00:00:00Z"), at("2028-04-01T00:00:00Z")));
        assert!(!m.is_one_interval(at("2028-02-02T00:00:00Z"), at("2028-03-02T00:00:00Z")));
    }

    #[test]
    fn near_midnight_on_the_last_day_the_month_is_decided_in_utc() {
        let m = Interval::Month;
        // 23:30 on 31 January in New York is already February in UTC.
        let ny = DateTime::parse_from_rfc3339("2027-01-31T23:30:00-05:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(m.floor(ny), at("2027-02-01T00:00:00Z"));
        // 00:30 on 1 March in Berlin is still February in UTC.
        let berlin = DateTime::parse_from_rfc3339("2027-03-01T00:30:00+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(m.floor(berlin), at("2027-02-01T00:00:00Z"));
    }

    #[test]
    fn names_follow_the_pattern() {
        let from = at("2027-01-01T00:00:00Z");
        assert_eq!(
            partition_name("{table}_{YYYY}_{MM}", "audit_logs", from),
            "audit_logs_2027_01"
        );
        assert_eq!(
            partition_name("p{YYYY}{MM}_{table}", "m", from),
            "p202701_m"
        );
    }
}
