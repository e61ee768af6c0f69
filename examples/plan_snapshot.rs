//! What a CI job runs to see a pull request's effect on every database:
//! the deploy plan from a recorded status, with no server.
//!
//! ```text
//! migrate status --format json > status.json        # once, against production
//! cargo run --example plan_snapshot -- status.json 2026-12-01T00:00:00Z
//! ```
//!
//! In a test, pass the plan to `insta::assert_yaml_snapshot!` instead of
//! printing it (see `tests/embedded.rs` and the README).

use chrono::{DateTime, Utc};
use strata::plan::{Command, OutOfOrder, UpTarget};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(status), Some(now)) = (args.next(), args.next()) else {
        return Err("usage: plan_snapshot STATUS.json RFC3339-TIME".into());
    };
    let recorded: strata::Status = serde_json::from_str(&std::fs::read_to_string(status)?)?;
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(&now)?.with_timezone(&Utc);

    // Only files are read here; URLs are not used, so their variables may be unset.
    let text = std::fs::read_to_string("migrate.toml")?;
    let config = strata::Config::parse(&text, "migrate.toml", ".".as_ref(), &|name| {
        Some(std::env::var(name).unwrap_or_else(|_| format!("unset-{name}")))
    })?;
    let plan = strata::Migrator::new(&config, &[])?.plan_offline(
        Command::Up {
            to: UpTarget::Latest,
            out_of_order: OutOfOrder::Refuse,
        },
        &recorded,
        now,
    )?;
    println!("{}", serde_json::to_string_pretty(&plan)?);
    Ok(())
}
