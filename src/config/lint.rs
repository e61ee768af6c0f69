//! `[lint]`: the levels `migrate lint` and plans' findings use.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::finding::{Level, LintSettings};

/// `[lint]` as written.
#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLint {
    /// Rows from which a table counts as large in findings (default 100,000).
    large_table_rows: Option<i64>,
    /// The level at which `migrate lint` exits 1: `info`, `warning` (default), `error`.
    fail_on: Option<String>,
    /// Each rule's level by name: `info`, `warning`, `error` or `off`.
    #[serde(default)]
    rules: BTreeMap<String, String>,
}

/// `[lint]`, checked: levels are `info`, `warning`, `error` (rules may also
/// be `off`), the row threshold is positive.
pub(super) fn lint_settings(raw: RawLint, origin: &str) -> Result<LintSettings> {
    let mut settings = LintSettings::default();
    let level = |setting: String, v: &str| {
        Level::parse(v).ok_or_else(|| {
            Error::config(
                setting,
                format!("{v:?}: expected \"info\", \"warning\" or \"error\""),
            )
        })
    };
    if let Some(n) = raw.large_table_rows {
        if n < 1 {
            return Err(Error::config(
                format!("{origin}: lint.large_table_rows"),
                format!("{n}: must be at least 1"),
            ));
        }
        settings.large_table_rows = n;
    }
    if let Some(v) = raw.fail_on {
        settings.fail_on = level(format!("{origin}: lint.fail_on"), &v)?;
    }
    for (rule, v) in raw.rules {
        let setting = format!("{origin}: lint.rules.{rule}");
        let value = if v == "off" {
            None
        } else {
            Some(level(setting, &v)?)
        };
        settings.rules.insert(rule, value);
    }
    Ok(settings)
}
