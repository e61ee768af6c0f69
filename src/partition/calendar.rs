//! Interval arithmetic in UTC. Pure.
//!
//! Every boundary is computed in UTC whatever the server's or the session's
//! time zone, so a partition's range never shifts with a daylight-saving
//! change or a client in another zone. Weeks are ISO weeks: they start on
//! Monday, and a week belongs to the ISO year of its Thursday (so 2026-12-28
//! starts week 53 of 2026, and 2027-01-04 week 1 of 2027).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The length of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Interval {
    /// Days, from 00:00 UTC.
    Day,
    /// ISO weeks, from Monday 00:00 UTC.
    Week,
    /// Calendar months, from the first of the month 00:00 UTC.
    Month,
    /// Quarters, from 1 January, April, July, October 00:00 UTC.
    Quarter,
    /// Years, from 1 January 00:00 UTC.
    Year,
}

/// The unit of a retention: how far back from the current interval's
/// start partitions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Days.
    Day,
    /// Weeks (7 days).
    Week,
    /// Calendar months.
    Month,
    /// Calendar years.
    Year,
}

impl Unit {
    /// `t` moved back by `n` of this unit (calendar arithmetic in UTC).
    pub fn back(self, t: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let n = i64::from(n);
        match self {
            Unit::Day => t - Duration::days(n),
            Unit::Week => t - Duration::days(7 * n),
            Unit::Month => add_months(t, -n),
            Unit::Year => add_months(t, -12 * n),
        }
    }

    /// Roughly how many days one of this unit is, to compare settings.
    pub fn days(self) -> u32 {
        match self {
            Unit::Day => 1,
            Unit::Week => 7,
            Unit::Month => 30,
            Unit::Year => 365,
        }
    }

    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Year => "year",
        }
    }
}

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: [Interval; 5] = [
        Interval::Day,
        Interval::Week,
        Interval::Month,
        Interval::Quarter,
        Interval::Year,
    ];

    /// Reads an interval as written in the config: `day`, `week`, `month`,
    /// `quarter`, `year`, or the same with `-ly` (`daily`, `monthly`, …;
    /// `yearly` and `annual` for years).
    pub fn parse(text: &str) -> Option<Interval> {
        Some(match text {
            "day" | "daily" => Interval::Day,
            "week" | "weekly" => Interval::Week,
            "month" | "monthly" => Interval::Month,
            "quarter" | "quarterly" => Interval::Quarter,
            "year" | "yearly" | "annual" => Interval::Year,
            _ => return None,
        })
    }

    /// The start of the interval containing `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let date = t.date_naive();
        match self {
            Interval::Day => midnight(date),
            Interval::Week => {
                midnight(date - Duration::days(i64::from(date.weekday().num_days_from_monday())))
            }
            Interval::Month => month_start(t.year(), t.month()),
            Interval::Quarter => month_start(t.year(), (t.month() - 1) / 3 * 3 + 1),
            Interval::Year => month_start(t.year(), 1),
        }
    }

    /// `t` moved by `n` intervals (negative: back). `t` should be aligned.
    pub fn step(self, t: DateTime<Utc>, n: i64) -> DateTime<Utc> {
        match self {
            Interval::Day => t + Duration::days(n),
            Interval::Week => t + Duration::days(7 * n),
            Interval::Month => add_months(t, n),
            Interval::Quarter => add_months(t, 3 * n),
            Interval::Year => add_months(t, 12 * n),
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

    /// How many whole intervals lie in `[from, to)` (`from` aligned).
    pub fn count_between(self, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
        if to <= from {
            return 0;
        }
        // Start from an estimate that cannot overshoot (the longest an
        // interval can be), then walk.
        let longest = match self {
            Interval::Month => 31,
            Interval::Quarter => 92,
            Interval::Year => 366,
            other => i64::from(other.days()),
        };
        let mut n = ((to - from).num_days() / longest).max(0);
        while self.step(from, n + 1) <= to {
            n += 1;
        }
        n as u64
    }

    /// Roughly how many days one interval is, to compare settings.
    pub fn days(self) -> u32 {
        match self {
            Interval::Day => 1,
            Interval::Week => 7,
            Interval::Month => 30,
            Interval::Quarter => 91,
            Interval::Year => 365,
        }
    }

    /// The config name of the interval.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Quarter => "quarter",
            Interval::Year => "year",
        }
    }

    /// The default child name pattern, which sorts like the ranges and
    /// says which one a child holds: `events_2026_11_30`, `events_2026_w48`,
    /// `events_2026_11`, `events_2026_q4`, `events_2026`.
    pub fn default_naming(self) -> &'static str {
        match self {
            Interval::Day => "{table}_{YYYY}_{MM}_{DD}",
            Interval::Week => "{table}_{IYYY}_w{IW}",
            Interval::Month => "{table}_{YYYY}_{MM}",
            Interval::Quarter => "{table}_{YYYY}_q{Q}",
            Interval::Year => "{table}_{YYYY}",
        }
    }

    /// The placeholders a naming pattern needs so that every interval
    /// gets its own name.
    pub fn required_placeholders(self) -> &'static [&'static str] {
        match self {
            Interval::Day => &["{YYYY}", "{MM}", "{DD}"],
            Interval::Week => &["{IYYY}", "{IW}"],
            Interval::Month => &["{YYYY}", "{MM}"],
            Interval::Quarter => &["{YYYY}", "{Q}"],
            Interval::Year => &["{YYYY}"],
        }
    }
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

fn month_start(year: i32, month: u32) -> DateTime<Utc> {
    midnight(NaiveDate::from_ymd_opt(year, month, 1).expect("month 1..=12 of a representable year"))
}

/// The first of the month `n` months after `t`'s month (days past the
/// first are dropped: only aligned starts are stepped).
fn add_months(t: DateTime<Utc>, n: i64) -> DateTime<Utc> {
    let index = i64::from(t.year()) * 12 + (i64::from(t.month()) - 1) + n;
    let start = month_start(
        index.div_euclid(12) as i32,
        (index.rem_euclid(12) + 1) as u32,
    );
    // A day-aligned moment inside a month keeps its day where it exists.
    let day = t.day().min(days_in_month(start.year(), start.month()));
    start + Duration::days(i64::from(day) - 1)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.expect("a representable year")
        .pred_opt()
        .expect("a day before")
        .day()
}

/// Fills a naming pattern: `{table}`, `{YYYY}`, `{MM}`, `{DD}`, `{Q}`
/// (quarter 1–4), `{IYYY}` and `{IW}` (ISO year and week).
pub fn partition_name(pattern: &str, table: &str, from: DateTime<Utc>) -> String {
    let iso = from.iso_week();
    pattern
        .replace("{table}", table)
        .replace("{IYYY}", &format!("{:04}", iso.year()))
        .replace("{IW}", &format!("{:02}", iso.week()))
        .replace("{YYYY}", &format!("{:04}", from.year()))
        .replace("{MM}", &format!("{:02}", from.month()))
        .replace("{DD}", &format!("{:02}", from.day()))
        .replace("{Q}", &((from.month() - 1) / 3 + 1).to_string())
}

/// The placeholders of a naming pattern other than `{table}`: each stands
/// for digits.
const DATE_PLACEHOLDERS: [&str; 6] = ["{IYYY}", "{IW}", "{YYYY}", "{MM}", "{DD}", "{Q}"];

/// A `LIKE` pattern matching every name [`partition_name`] can give for
/// `pattern` and `table` (`\` escapes), so a run reads only the relation
/// names its plan could collide with, not every name in the schema. Built
/// the way the names are: `{table}` first, then each date placeholder
/// becomes `%`.
pub fn partition_name_like(pattern: &str, table: &str) -> String {
    let named = pattern.replace("{table}", table);
    let mut like = String::with_capacity(named.len() + 8);
    let mut rest = named.as_str();
    while let Some(c) = rest.chars().next() {
        if let Some(p) = DATE_PLACEHOLDERS.iter().find(|p| rest.starts_with(**p)) {
            like.push('%');
            rest = &rest[p.len()..];
            continue;
        }
        if matches!(c, '\\' | '%' | '_') {
            like.push('\\');
        }
        like.push(c);
        rest = &rest[c.len_utf8()..];
    }
    like
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_name_like_pattern_matches_every_name_and_escapes_the_rest() {
        assert_eq!(
            partition_name_like("{table}_{YYYY}_{MM}", "t1"),
            "t1\\_%\\_%"
        );
        assert_eq!(
            partition_name_like("p%{table}_{IYYY}w{IW}", "a\\b"),
            "p\\%a\\\\b\\_%w%"
        );
        // A placeholder written into the table's name is replaced too,
        // as partition_name does.
        assert_eq!(partition_name_like("{table}", "x{Q}"), "x%");
        assert_eq!(
            partition_name("{table}", "x{Q}", at("2026-05-01T00:00:00Z")),
            "x2"
        );
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
    fn days_cross_leap_days_and_year_ends_in_utc() {
        let d = Interval::Day;
        assert_eq!(
            d.floor(at("2028-02-29T23:59:59Z")),
            at("2028-02-29T00:00:00Z")
        );
        assert_eq!(
            d.step(at("2028-02-28T00:00:00Z"), 1),
            at("2028-02-29T00:00:00Z")
        );
        assert_eq!(
            d.step(at("2028-02-29T00:00:00Z"), 1),
            at("2028-03-01T00:00:00Z")
        );
        assert_eq!(
            d.step(at("2026-12-31T00:00:00Z"), 1),
            at("2027-01-01T00:00:00Z")
        );
        // The night the clocks change in Europe is 24 hours long in UTC.
        assert_eq!(
            d.step(at("2026-10-25T00:00:00Z"), 1) - at("2026-10-25T00:00:00Z"),
            Duration::hours(24)
        );
        let late = DateTime::parse_from_rfc3339("2026-03-29T01:30:00+02:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(d.floor(late), at("2026-03-28T00:00:00Z"));
        assert_eq!(
            partition_name(
                Interval::Day.default_naming(),
                "ev",
                at("2026-11-30T00:00:00Z")
            ),
            "ev_2026_11_30"
        );
    }

    #[test]
    fn weeks_start_on_monday_and_take_their_iso_year() {
        let w = Interval::Week;
        // Sunday 2026-11-29 is in the week of Monday the 23rd.
        assert_eq!(
            w.floor(at("2026-11-29T23:00:00Z")),
            at("2026-11-23T00:00:00Z")
        );
        assert_eq!(
            w.floor(at("2026-11-30T00:00:00Z")),
            at("2026-11-30T00:00:00Z")
        );
        assert_eq!(
            w.step(at("2026-11-30T00:00:00Z"), 1),
            at("2026-12-07T00:00:00Z")
        );
        let naming = Interval::Week.default_naming();
        assert_eq!(
            partition_name(naming, "ev", at("2026-11-30T00:00:00Z")),
            "ev_2026_w49"
        );
        // 2026 has an ISO week 53 (it starts on a Thursday); its Monday is
        // 2026-12-28, and 2027's week 1 starts on 2027-01-04.
        assert_eq!(
            partition_name(naming, "ev", at("2026-12-28T00:00:00Z")),
            "ev_2026_w53"
        );
        assert_eq!(
            partition_name(naming, "ev", at("2027-01-04T00:00:00Z")),
            "ev_2027_w01"
        );
        // 1 January 2027 (a Friday) still belongs to week 53 of 2026.
        assert_eq!(
            w.floor(at("2027-01-01T12:00:00Z")),
            at("2026-12-28T00:00:00Z")
        );
        // A year ending on Monday: 2024-12-30 starts week 1 of 2025.
        assert_eq!(
            partition_name(naming, "ev", at("2024-12-30T00:00:00Z")),
            "ev_2025_w01"
        );
    }

    #[test]
    fn quarters_and_years() {
        let q = Interval::Quarter;
        assert_eq!(
            q.floor(at("2026-11-30T10:00:00Z")),
            at("2026-10-01T00:00:00Z")
        );
        assert_eq!(
            q.floor(at("2026-03-31T23:59:59Z")),
            at("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            q.step(at("2026-10-01T00:00:00Z"), 1),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            partition_name(q.default_naming(), "ev", at("2026-10-01T00:00:00Z")),
            "ev_2026_q4"
        );
        let y = Interval::Year;
        assert_eq!(
            y.floor(at("2028-02-29T00:00:00Z")),
            at("2028-01-01T00:00:00Z")
        );
        assert_eq!(
            y.step(at("2028-01-01T00:00:00Z"), -1),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            partition_name(y.default_naming(), "ev", at("2026-01-01T00:00:00Z")),
            "ev_2026"
        );
    }

    #[test]
    fn counting_intervals_is_exact() {
        for iv in Interval::ALL {
            let from = iv.floor(at("2026-11-30T10:00:00Z"));
            for n in [0, 1, 2, 7, 53, 400] {
                assert_eq!(
                    iv.count_between(from, iv.step(from, n)),
                    n as u64,
                    "{iv:?} {n}"
                );
            }
        }
    }

    #[test]
    fn retention_units_go_back_on_the_calendar() {
        let start = at("2026-03-01T00:00:00Z");
        assert_eq!(Unit::Day.back(start, 90), at("2025-12-01T00:00:00Z"));
        assert_eq!(Unit::Week.back(start, 2), at("2026-02-15T00:00:00Z"));
        assert_eq!(Unit::Month.back(start, 6), at("2025-09-01T00:00:00Z"));
        assert_eq!(
            Unit::Year.back(at("2028-02-29T00:00:00Z"), 1),
            at("2027-02-28T00:00:00Z")
        );
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
        for iv in Interval::ALL {
            for p in iv.required_placeholders() {
                assert!(iv.default_naming().contains(p), "{iv:?}");
            }
        }
    }
}
