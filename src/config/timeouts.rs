//! How long a migration's statement may wait for a table lock, and how
//! often it is tried again: the settings that keep a waiting migration from
//! queueing live traffic behind it.

use std::time::Duration;

/// `lock_timeout` and `lock_retries` of one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DdlLock {
    /// How long one statement may wait for a lock; `None`: as long as it
    /// takes (`lock_timeout = "off"`).
    pub timeout: Option<Duration>,
    /// How many times a step that timed out waiting is tried again.
    pub retries: u32,
}

/// The default wait: long enough for a quick transaction ahead to finish,
/// short enough that the queries queued behind the waiting migration see a
/// blip, not an outage.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Tries after the first, by default.
pub const DEFAULT_LOCK_RETRIES: u32 = 10;

impl Default for DdlLock {
    fn default() -> Self {
        DdlLock {
            timeout: Some(DEFAULT_LOCK_TIMEOUT),
            retries: DEFAULT_LOCK_RETRIES,
        }
    }
}

/// Reads a timeout: `"5s"`, `"500ms"`, `"2m"`, `"1h"`; `"0"` or `"off"`
/// for none. Pure.
pub fn parse_timeout(text: &str) -> Result<Option<Duration>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") || t == "0" {
        return Ok(None);
    }
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    let (number, unit) = t.split_at(digits);
    let amount: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a timeout: write a number and a unit (\"5s\", \"500ms\", \"2m\") or \"off\""))?;
    let ms = match unit.trim() {
        "ms" => amount,
        "s" => amount.saturating_mul(1000),
        "m" | "min" => amount.saturating_mul(60_000),
        "h" => amount.saturating_mul(3_600_000),
        "" => {
            return Err(format!(
                "{text:?} has no unit: write \"{amount}s\" or \"{amount}ms\" (or \"off\")"
            ));
        }
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (ms, s, m or h; or \"off\")"
            ));
        }
    };
    Ok(match ms {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    })
}

/// A timeout as `parse_timeout` reads it: `5s`, `500ms`, `off`.
pub fn show_timeout(timeout: Option<Duration>) -> String {
    match timeout {
        None => "off".to_string(),
        Some(d) if d.as_millis() % 1000 == 0 => format!("{}s", d.as_secs()),
        Some(d) => format!("{}ms", d.as_millis()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_with_units_and_off() {
        assert_eq!(parse_timeout("5s"), Ok(Some(Duration::from_secs(5))));
        assert_eq!(parse_timeout("250ms"), Ok(Some(Duration::from_millis(250))));
        assert_eq!(parse_timeout("2m"), Ok(Some(Duration::from_secs(120))));
        assert_eq!(parse_timeout("off"), Ok(None));
        assert_eq!(parse_timeout("0"), Ok(None));
        assert!(parse_timeout("5").unwrap_err().contains("no unit"));
        assert!(parse_timeout("5 parsecs").is_err());
        assert_eq!(show_timeout(Some(Duration::from_millis(1500))), "1500ms");
        assert_eq!(show_timeout(Some(Duration::from_secs(30))), "30s");
    }
}
