//! `[[partitions]]` policies: which table, how long a partition is, how many
//! to keep ready, how long to keep old ones and what to do with them.
//!
//! Everything that can be checked without a server is checked here, when the
//! config is read; that the table exists and is range-partitioned on a
//! timestamp or date column is checked against the catalog before any
//! partition is touched.

use serde::{Deserialize, Serialize};

use super::calendar::{Interval, Unit};
use crate::config::{Config, PartitionSettings};
use crate::error::{Error, Result};
use crate::kind::Kind;

/// What happens to a partition past retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum RetentionMode {
    /// Detach it, then drop the table.
    Drop,
    /// Detach it and keep the table, optionally moved to another schema.
    Detach {
        /// Where detached tables go (created if missing); `None`: stay put.
        schema: Option<String>,
    },
}

/// How long partitions are kept: a calendar span counted back from the
/// start of the current interval. A partition that ends at or before that
/// point is expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// How many units.
    pub amount: u32,
    /// Days, weeks, months or years.
    pub unit: Unit,
}

impl Retention {
    /// Roughly how many days this retention is, to compare settings.
    pub fn days(self) -> u64 {
        u64::from(self.amount) * u64::from(self.unit.days())
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = if self.amount == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.amount, self.unit.as_str())
    }
}

/// One managed partitioned table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The configured database it lives in.
    pub database: String,
    /// The parent's schema (`public` unless the table was qualified).
    pub schema: String,
    /// The parent table.
    pub table: String,
    /// Partition length.
    pub interval: Interval,
    /// Partitions kept ready beyond the current one.
    pub premake: u32,
    /// `None`: keep forever.
    pub retention: Option<Retention>,
    /// What to do with expired partitions.
    pub retention_mode: RetentionMode,
    /// Child name pattern, e.g. `{table}_{YYYY}_{MM}`.
    pub naming: String,
    /// The most partitions one run may create for this table: a clock far
    /// ahead must not start filling a gap of thousands.
    pub max_create_per_run: u32,
    /// Rows moved from the DEFAULT partition per transaction.
    pub move_batch_rows: u32,
}

impl Policy {
    /// `schema.table`, for messages.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

/// The default child name pattern of monthly partitions.
pub const DEFAULT_NAMING: &str = "{table}_{YYYY}_{MM}";
/// The default of `max_create_per_run`.
pub const DEFAULT_MAX_CREATE: u32 = 120;
/// The default of `move_batch_rows`.
pub const DEFAULT_MOVE_BATCH: u32 = 10_000;
/// The default number of partitions kept ready beyond the current one.
pub const DEFAULT_PREMAKE: u32 = 3;

fn ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
}

/// Parses `"90 days"`, `"12 weeks"`, `"6 months"`, `"1 quarter"`,
/// `"2 years"` (singular or plural). A number without a unit is an error.
/// Pure.
pub fn parse_retention(text: &str) -> std::result::Result<Retention, String> {
    let mut parts = text.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "{text:?} is not a retention: write a number and a unit, e.g. \"12 months\", \
             \"90 days\" or \"1 year\""
        ));
    };
    let n: u32 = n
        .parse()
        .map_err(|_| format!("{text:?}: {n:?} is not a whole number"))?;
    if n == 0 {
        return Err(format!("{text:?}: a retention must be at least 1"));
    }
    let (amount, unit) = match unit.to_ascii_lowercase().as_str() {
        "day" | "days" => (n, Unit::Day),
        "week" | "weeks" => (n, Unit::Week),
        "month" | "months" => (n, Unit::Month),
        "quarter" | "quarters" => (n.saturating_mul(3), Unit::Month),
        "year" | "years" => (n, Unit::Year),
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use days, weeks, months, quarters or years)"
            ));
        }
    };
    Ok(Retention { amount, unit })
}

/// Every `[[partitions]]` entry of a config as policies, checked against
/// the config's databases: an unknown or non-PostgreSQL database, or a
/// second policy for one table, is refused naming the entry.
pub fn policies(config: &Config) -> Result<Vec<Policy>> {
    let names: Vec<&str> = config.databases.keys().map(String::as_str).collect();
    // A policy for a group is one policy per member.
    let settings: Vec<PartitionSettings> = config
        .partitions
        .iter()
        .flat_map(|s| match config.groups.get(&s.database) {
            Some(g) => g
                .members
                .iter()
                .map(|m| PartitionSettings {
                    database: m.clone(),
                    ..s.clone()
                })
                .collect(),
            None => vec![s.clone()],
        })
        .collect();
    let policies = settings
        .iter()
        .map(|s| Policy::resolve(s, &names))
        .collect::<Result<Vec<_>>>()?;
    for (i, p) in policies.iter().enumerate() {
        let place = &settings[i].origin;
        let kind = config.databases[&p.database].kind;
        if kind != Kind::Postgres {
            return Err(Error::config(
                place,
                format!(
                    "database {} is {kind}; partitions are managed for postgres only",
                    p.database
                ),
            ));
        }
        if policies[..i]
            .iter()
            .any(|q| q.database == p.database && q.qualified() == p.qualified())
        {
            return Err(Error::config(place, "a second policy for the same table"));
        }
    }
    Ok(policies)
}

impl Policy {
    /// Interprets one `[[partitions]]` entry (already `${VAR}`-expanded).
    /// `databases` are the configured database names.
    pub fn resolve(settings: &PartitionSettings, databases: &[&str]) -> Result<Policy> {
        let err = |m: String| Error::config(&settings.origin, m);
        let database = settings.database.clone();
        if !databases.contains(&database.as_str()) {
            return Err(err(format!(
                "database {database:?} is not configured under [databases]"
            )));
        }
        let full = settings.table.clone();
        let (schema, table) = match full.split_once('.') {
            Some((s, t)) => (s.to_string(), t.to_string()),
            None => ("public".to_string(), full.clone()),
        };
        if !ident(&schema) || !ident(&table) {
            return Err(err(format!(
                "table {full:?}: use a plain name or schema.name (letters, digits, '_')"
            )));
        }
        let interval = match settings.interval.as_deref() {
            None => Interval::Month,
            Some(text) => Interval::parse(text).ok_or_else(|| {
                err(format!(
                    "unknown interval {text:?} (use day, week, month, quarter or year; \
                     daily, weekly, monthly, quarterly, yearly also work)"
                ))
            })?,
        };
        let premake = match settings.premake {
            None => DEFAULT_PREMAKE,
            Some(n) if (0..=120).contains(&n) => n as u32,
            Some(n) => return Err(err(format!("premake = {n}: must be between 0 and 120"))),
        };
        let retention = match &settings.retention {
            None => None,
            Some(text) => Some(parse_retention(text).map_err(|m| err(format!("retention {m}")))?),
        };
        if let Some(r) = retention
            && r.days() < u64::from(premake) * u64::from(interval.days())
        {
            return Err(err(format!(
                "retention of {r} is shorter than the premake window of {premake} {}(s)",
                interval.as_str()
            )));
        }
        let positive = |key: &str, v: Option<i64>, default: u32, max: i64| match v {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n as u32),
            Some(n) => Err(err(format!("{key} = {n}: must be between 1 and {max}"))),
        };
        let max_create_per_run = positive(
            "max_create_per_run",
            settings.max_create_per_run,
            DEFAULT_MAX_CREATE,
            100_000,
        )?;
        let move_batch_rows = positive(
            "move_batch_rows",
            settings.move_batch_rows,
            DEFAULT_MOVE_BATCH,
            10_000_000,
        )?;
        let retention_schema = settings.retention_schema.clone();
        if let Some(s) = &retention_schema
            && !ident(s)
        {
            return Err(err(format!("retention_schema {s:?} is not a plain name")));
        }
        let retention_mode = match settings.retention_mode.as_deref() {
            None | Some("drop") => {
                if retention_schema.is_some() {
                    return Err(err(
                        "retention_schema only applies to retention_mode = \"detach\"".into(),
                    ));
                }
                RetentionMode::Drop
            }
            Some("detach") => RetentionMode::Detach {
                schema: retention_schema,
            },
            Some(other) => {
                return Err(err(format!(
                    "retention_mode {other:?}: use \"drop\" or \"detach\""
                )));
            }
        };
        let naming = settings
            .naming
            .clone()
            .unwrap_or_else(|| interval.default_naming().to_string());
        let required = interval.required_placeholders();
        if !required.iter().all(|p| naming.contains(p)) {
            return Err(err(format!(
                "naming {naming:?} must contain {} so every {} gets its own name",
                required.join(" and "),
                interval.as_str()
            )));
        }
        let sample = super::calendar::partition_name(&naming, &table, chrono::Utc::now());
        if !ident(&sample) {
            return Err(err(format!(
                "naming {naming:?} gives {sample:?}, which is not a plain name of at most 63 characters"
            )));
        }
        Ok(Policy {
            database,
            schema,
            table,
            interval,
            premake,
            retention,
            retention_mode,
            naming,
            max_create_per_run,
            move_batch_rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(toml_text: &str) -> Result<Policy> {
        let mut settings: PartitionSettings = toml::from_str(toml_text).unwrap();
        settings.origin = "migrate.toml: partitions[0] (t)".into();
        Policy::resolve(&settings, &["app"])
    }

    #[test]
    fn defaults_and_full_policies() {
        let p = resolve("database = \"app\"\ntable = \"audit_logs\"\n").unwrap();
        assert_eq!(
            (p.schema.as_str(), p.table.as_str()),
            ("public", "audit_logs")
        );
        assert_eq!(p.premake, 3);
        assert_eq!(p.retention, None);
        assert_eq!(p.retention_mode, RetentionMode::Drop);
        let p = resolve(
            "database = \"app\"\ntable = \"ops.events\"\ninterval = \"month\"\npremake = 2\nretention = \"1 year\"\n\
             retention_mode = \"detach\"\nretention_schema = \"archive\"\nnaming = \"{table}_p{YYYY}{MM}\"\n",
        )
        .unwrap();
        assert_eq!(p.schema, "ops");
        assert_eq!(
            p.retention,
            Some(Retention {
                amount: 1,
                unit: Unit::Year
            })
        );
        assert_eq!(p.max_create_per_run, 120);
        assert_eq!(p.move_batch_rows, 10_000);
        for (interval, naming) in [
            ("day", "{table}_{YYYY}_{MM}_{DD}"),
            ("weekly", "{table}_{IYYY}_w{IW}"),
            ("quarter", "{table}_{YYYY}_q{Q}"),
            ("yearly", "{table}_{YYYY}"),
        ] {
            let p = resolve(&format!(
                "database = \"app\"\ntable = \"t\"\ninterval = \"{interval}\"\npremake = 1\n"
            ))
            .unwrap();
            assert_eq!(p.naming, naming, "{interval}");
        }
        assert_eq!(
            p.retention_mode,
            RetentionMode::Detach {
                schema: Some("archive".into())
            }
        );
    }

    #[test]
    fn bad_policies_name_the_policy_and_the_problem() {
        for (text, needle) in [
            ("database = \"nope\"\ntable = \"t\"", "not configured"),
            (
                "database = \"app\"\ntable = \"t\"\ninterval = \"fortnight\"",
                "unknown interval",
            ),
            (
                "database = \"app\"\ntable = \"t\"\nretention = \"12\"",
                "write a number and a unit",
            ),
            (
                "database = \"app\"\ntable = \"t\"\nretention = \"12 parsecs\"",
                "unknown unit",
            ),
            (
                "database = \"app\"\ntable = \"t\"\ninterval = \"week\"\nnaming = \"{table}_{YYYY}_{MM}\"",
                "{IYYY} and {IW}",
            ),
            (
                "database = \"app\"\ntable = \"t\"\nmax_create_per_run = 0",
                "max_create_per_run = 0",
            ),
            (
                "database = \"app\"\ntable = \"t\"\nretention = \"2 months\"",
                "shorter than the premake",
            ),
            (
                "database = \"app\"\ntable = \"t\"\npremake = -1",
                "premake = -1",
            ),
            (
                "database = \"app\"\ntable = \"t\"\nretention_mode = \"archive\"",
                "use \"drop\" or \"detach\"",
            ),
            (
                "database = \"app\"\ntable = \"t\"\nnaming = \"{table}_{YYYY}\"",
                "{MM}",
            ),
            ("database = \"app\"\ntable = \"t;drop\"", "plain name"),
            (
                "database = \"app\"\ntable = \"t\"\nretention_schema = \"x\"",
                "only applies",
            ),
        ] {
            let e = resolve(text).unwrap_err().to_string();
            assert!(e.contains("partitions[0]"), "{e}");
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn retention_units() {
        let r = |t: &str| parse_retention(t).map(|r| (r.amount, r.unit));
        assert_eq!(r("90 days"), Ok((90, Unit::Day)));
        assert_eq!(r("12 weeks"), Ok((12, Unit::Week)));
        assert_eq!(r("1 month"), Ok((1, Unit::Month)));
        assert_eq!(r("2 quarters"), Ok((6, Unit::Month)));
        assert_eq!(r("2 Years"), Ok((2, Unit::Year)));
        assert!(r("0 months").is_err());
        assert!(r("twelve months").is_err());
        assert!(r("12").is_err());
    }
}
