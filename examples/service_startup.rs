//! A service that migrates its own database when it starts, then serves.
//!
//! The migrations are compiled in (`strata::embed!`), so the deployed binary
//! needs no files beside it; connection settings and partition policies come
//! from `migrate.toml` and the environment, as in any deploy.
//!
//! ```text
//! APP_DATABASE_URL=postgres://… cargo run --example service_startup
//! ```
//!
//! Start several at once: one applies, the others wait on the lock and find
//! nothing to do. Set `STRATA_VALIDATE_ONLY=1` to refuse to start instead of
//! migrating when anything is pending.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

static MIGRATIONS: strata::Embedded = strata::embed!("migrations", "rollbacks");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter("strata=info")
        .init();
    let config = strata::Config::load("migrate.toml".as_ref())?;
    let migrator = strata::Migrator::from_embedded(&MIGRATIONS, &config)?
        .with_lock_timeout(Duration::from_secs(120))
        .validate_only(std::env::var_os("STRATA_VALIDATE_ONLY").is_some());

    // A failed migration stops the start: a service must not run against a
    // schema it was not built for. The error names the file and statement.
    let reports = migrator.up().await?;
    let applied: usize = reports.iter().map(|r| r.done.len()).sum();
    println!("migrated: {applied} step(s) applied");

    // Partitions are kept ahead of the data from inside the service; every
    // replica may run this, the database lock makes it one at a time.
    let maintenance = strata::Maintenance::new(&config, &[])?.spawn(Duration::from_secs(3600));

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("serving on {}", listener.local_addr()?);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut socket, _) = accepted?;
                socket.write_all(b"ok\n").await?;
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    maintenance.shutdown().await;
    Ok(())
}
