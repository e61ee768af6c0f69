//! What `migrate` writes to stderr besides errors' last line: the tracing
//! log, each step's event, notes. Human lines by default; with
//! `--log-format json`, one JSON object per line (`timestamp`, `level`,
//! `database`, `version`, `event`, `message`, and what the event carries),
//! for a platform's log pipeline. Secrets are scrubbed either way.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use strata::engine::{Event, Observer};

use crate::cli::LogFormat;

static JSON_LOGS: AtomicBool = AtomicBool::new(false);

fn json_logs() -> bool {
    JSON_LOGS.load(Ordering::Relaxed)
}

/// Sets up the tracing log (`-v`, `STRATA_LOG`) in the chosen format.
pub(crate) fn init(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "strata=info",
        _ => "strata=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| ScrubbedStderr)
        .with_target(false);
    match format {
        LogFormat::Json => {
            JSON_LOGS.store(true, Ordering::Relaxed);
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .init();
        }
        // Colour codes only for a person at a terminal who has not asked
        // for none (NO_COLOR), never in CI logs.
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
    }
}

/// Standard error, with every configured secret scrubbed from each log
/// line: the last line of defence for what drivers log at trace level.
struct ScrubbedStderr;

impl Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = strata::secret::scrub_registered(&String::from_utf8_lossy(buf));
        std::io::stderr().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Writes one line to stderr, ignoring a reader that has gone. As JSON, a
/// leading `error: `, `warning: ` or `note: ` becomes the level.
pub(crate) fn stderr_line(text: &str) {
    if !json_logs() {
        let _ = writeln!(std::io::stderr(), "{text}");
        return;
    }
    let (level, message) = [
        ("error: ", "ERROR"),
        ("warning: ", "WARN"),
        ("note: ", "INFO"),
    ]
    .into_iter()
    .find_map(|(prefix, level)| text.strip_prefix(prefix).map(|rest| (level, rest)))
    .unwrap_or(("INFO", text));
    let event = if level == "ERROR" { "error" } else { "message" };
    write_json(json!({"level": level, "event": event, "message": message}));
}

/// One JSON log object on stderr, stamped and scrubbed. Each string is
/// scrubbed before it is escaped: a secret holding a quote or a backslash
/// would no longer match once written as JSON.
fn write_json(object: Value) {
    let _ = writeln!(std::io::stderr(), "{}", json_line(object));
}

/// The line [`write_json`] writes.
fn json_line(mut object: Value) -> Value {
    let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut line = json!({"timestamp": stamp});
    if let (Some(line), Some(fields)) = (line.as_object_mut(), object.as_object_mut()) {
        line.append(fields);
        for value in line.values_mut() {
            if let Value::String(text) = value {
                *text = strata::secret::scrub_registered(text);
            }
        }
    }
    line
}

/// An event as a JSON log object: the human line as `message`, and the
/// event's own fields beside it.
fn log_event(event: &Event) {
    let object = match event {
        Event::Started { database, step } => json!({"level": "INFO", "event": "started",
            "database": database, "version": step.version,
            "message": format!("{} {} {}", match step.action {
                strata::step::Action::Apply => "applying",
                strata::step::Action::Revert => "reverting",
            }, step.version, step.description)}),
        Event::Completed { database, done } => json!({"level": "INFO", "event": "completed",
            "database": database, "version": done.version, "file": done.file,
            "duration_ms": done.execution_time_ms, "message": done.to_string()}),
        Event::StillRunning {
            database,
            step,
            elapsed,
        } => json!({"level": "INFO",
            "event": "still_running", "database": database, "version": step.version,
            "elapsed_ms": elapsed.as_millis() as u64,
            "message": format!("still running {} {}", step.version, step.description)}),
        Event::Waiting {
            database,
            holder,
            waited,
        } => json!({"level": "WARN",
            "event": "waiting_for_lock", "database": database, "holder": holder,
            "waited_ms": waited.as_millis() as u64,
            "message": format!("waiting for the migration lock, held by {holder}")}),
        Event::Progress {
            database,
            file,
            elapsed,
            detail,
        } => json!({"level": "INFO",
            "event": "progress", "database": database, "file": file,
            "elapsed_ms": elapsed.as_millis() as u64, "message": detail}),
        Event::Retrying {
            database,
            file,
            attempt,
            retries,
            timeout,
            blocker,
            pause,
        } => {
            json!({"level": "WARN", "event": "retrying", "database": database, "file": file,
                "attempt": attempt, "retries": retries,
                "lock_timeout_ms": timeout.as_millis() as u64, "blocker": blocker,
                "pause_ms": pause.as_millis() as u64,
                "message": format!("waited {} ms for a lock and was rolled back; blocked by \
                    {blocker}; retry {attempt} of {retries}", timeout.as_millis())})
        }
        Event::ChecksumUpgraded {
            database,
            version,
            file,
        } => json!({"level": "INFO", "event": "checksum_upgraded", "database": database,
            "version": version, "file": file, "message": upgraded(file)}),
        Event::Drift { database, changes } => json!({"level": "WARN", "event": "drift",
            "database": database,
            "changes": changes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "message": format!("the live schema changed since the last run ({} change(s)); \
                going on (on_drift = \"warn\")", changes.len())}),
    };
    write_json(object);
}

/// What an upgraded checksum is said as.
fn upgraded(file: &str) -> String {
    format!(
        "{file}: recorded checksum upgraded to cover the data files it names (it was \
         recorded before strata checksummed them)"
    )
}

/// Prints each step as it happens, so a long run shows its progress and a
/// failing one still shows what completed before it; on stderr when
/// stdout is kept for the JSON summary.
pub(crate) fn observer(stdout_is_json: bool, progress: bool) -> Observer {
    Observer::new(move |event| match event {
        // With --log-format json every event is one log object.
        _ if json_logs() => log_event(event),
        // With --format json, a machine reads: progress and retries as one
        // JSON object a line on stderr (stdout keeps the one summary).
        Event::Progress {
            database,
            file,
            elapsed,
            detail,
        } if stdout_is_json => errln!(
            "{}",
            serde_json::json!({"event": "progress", "database": database, "file": file,
                "elapsed_ms": elapsed.as_millis() as u64, "detail": detail})
        ),
        Event::Retrying {
            database,
            file,
            attempt,
            retries,
            timeout,
            blocker,
            pause,
        } if stdout_is_json => errln!(
            "{}",
            serde_json::json!({"event": "retrying", "database": database, "file": file,
                "attempt": attempt, "retries": retries,
                "lock_timeout_ms": timeout.as_millis() as u64, "blocker": blocker,
                "pause_ms": pause.as_millis() as u64})
        ),
        Event::Progress {
            database,
            file,
            elapsed,
            detail,
        } if progress => errln!(
            "{database}: {file} running {} s: {detail}",
            elapsed.as_secs()
        ),
        Event::Progress { .. } => {}
        Event::Completed { database, done } if stdout_is_json => errln!("{database}: {done}"),
        Event::Completed { database, done } => outln!("{database}: {done}"),
        Event::StillRunning {
            database,
            step,
            elapsed,
        } => errln!(
            "{database}: still running {} {} ({} s)",
            step.version,
            step.description,
            elapsed.as_secs()
        ),
        Event::Waiting {
            database,
            holder,
            waited,
        } => errln!(
            "{database}: waiting for the migration lock, held by {holder} ({} s so far)",
            waited.as_secs()
        ),
        Event::Retrying {
            database,
            file,
            attempt,
            retries,
            timeout,
            blocker,
            pause,
        } => errln!(
            "{database}: {file} waited {} ms for a lock and was rolled back; blocked by {blocker}; \
             retry {attempt} of {retries} in {} ms",
            timeout.as_millis(),
            pause.as_millis()
        ),
        Event::ChecksumUpgraded { database, file, .. } => {
            outln!("{database}: {}", upgraded(file))
        }
        Event::Drift { database, changes } => {
            errln!(
                "{database}: warning: the live schema changed since the last run \
                 (on_drift = \"warn\", going on; it is recorded as expected after this run):"
            );
            for c in changes {
                errln!("  {c}");
            }
        }
        Event::Started { .. } => {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_with_a_quote_is_scrubbed_before_it_is_escaped() {
        let url = strata::config::ConnectionUrl::new("postgres://u@h/db")
            .with_secrets([r#"pa"ss\word"#.to_string()]);
        strata::secret::register(&url);
        let line = json_line(json!({"level": "ERROR", "message": r#"login pa"ss\word refused"#}))
            .to_string();
        assert!(line.contains("login *** refused"), "{line}");
        assert!(!line.contains("pa"), "{line}");
        assert!(line.contains("\"timestamp\""), "{line}");
    }
}
