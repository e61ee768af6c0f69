//! Opening the dedicated PostgreSQL connection the way libpq users expect
//! (URL parameters, `user`/`password` settings, TLS modes), and a second,
//! short-lived one to cancel a step in progress.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::{PostgresBackend, describe, lock_key, quote_table};
use crate::config::DatabaseConfig;
use crate::config::urls::{SessionAttrs, pg_targets};
use crate::error::Result;

/// Cancels the statement a session is running (`pg_cancel_backend`), from
/// a connection of its own.
pub struct Cancel {
    options: PgConnectOptions,
    pid: i32,
}

impl Cancel {
    /// Sends the cancel; a failure is logged, and the step runs on.
    pub async fn cancel(&self) {
        let sent = async {
            let mut conn = PgConnection::connect_with(&self.options).await?;
            sqlx::query("SELECT pg_cancel_backend($1)")
                .bind(self.pid)
                .execute(&mut conn)
                .await?;
            conn.close().await
        };
        if let Err(e) = sent.await {
            tracing::warn!(pid = self.pid, error = %describe(&e), "cancelling the step failed");
        }
    }
}

/// The driver's options for a database: its URL read the way libpq reads
/// it (`sslmode=require` with a root certificate verifies like
/// `verify-ca`; `sslrootcert=system` trusts the system's authorities and
/// verifies like `verify-full`), and the `user`/`password` settings, sent
/// beside the URL.
fn connect_options(
    db: &DatabaseConfig,
    url: &str,
) -> std::result::Result<PgConnectOptions, sqlx::Error> {
    let params = crate::config::urls::query_params(url);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let (mode, root) = (get("sslmode"), get("sslrootcert"));
    // sqlx would read `system` as a file name; without a file it trusts
    // the system's authorities, which is what `system` means.
    let url = match root {
        Some("system") => without_param(url, "sslrootcert"),
        _ => url.to_string(),
    };
    let mut options = PgConnectOptions::from_str(&url)?;
    match (mode, root) {
        (Some("require"), Some(r)) if r != "system" => {
            options = options.ssl_mode(PgSslMode::VerifyCa);
        }
        (None, Some("system")) => options = options.ssl_mode(PgSslMode::VerifyFull),
        _ => {}
    }
    if let Some(user) = &db.user {
        options = options.username(user);
    }
    if let Some(password) = &db.password {
        options = options.password(password.expose());
    }
    Ok(options)
}

/// The `host:port` of a single-host URL, for messages.
fn host_of(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let after = url[start..].rfind('@').map_or(start, |at| start + at + 1);
    let end = url[after..]
        .find(['/', '?'])
        .map_or(url.len(), |i| after + i);
    &url[after..end]
}

/// `url` without the query parameter `key` (found after the userinfo, so
/// a password cannot confuse it).
fn without_param(url: &str, key: &str) -> String {
    let after = url.rfind('@').map_or(0, |at| at + 1);
    let Some(q) = url[after..].find('?').map(|q| after + q) else {
        return url.to_string();
    };
    let kept: Vec<&str> = url[q + 1..]
        .split('&')
        .filter(|pair| pair.split('=').next() != Some(key))
        .collect();
    if kept.is_empty() {
        url[..q].to_string()
    } else {
        format!("{}?{}", &url[..q], kept.join("&"))
    }
}

impl PostgresBackend {
    /// Opens the dedicated connection: to the first host of the URL that
    /// answers and is what `target_session_attrs` asks for (libpq's rules,
    /// done above the driver, which reads one host; with several hosts and
    /// no `target_session_attrs`, a writable one, since migrations and
    /// maintenance write).
    pub async fn connect(db: &DatabaseConfig, timeout: Duration) -> Result<Self> {
        let connect_error = |message: String| db.connect_error(&message);
        let targets = pg_targets(db.url.expose()).map_err(connect_error)?;
        let mut order = targets.urls.clone();
        if targets.balance {
            // A random start: the jittered pause is random enough.
            let start = super::waits::backoff(6).as_nanos() as usize % order.len();
            order.rotate_left(start);
        }
        let attrs = targets.attrs.unwrap_or(match order.len() {
            1 => SessionAttrs::Any,
            _ => SessionAttrs::ReadWrite,
        });
        // prefer-standby: a standby first, then any.
        let passes: &[SessionAttrs] = match attrs {
            SessionAttrs::PreferStandby => &[SessionAttrs::Standby, SessionAttrs::Any],
            _ => std::slice::from_ref(&attrs),
        };
        let mut refused = Vec::new();
        for pass in passes {
            for url in &order {
                let host = host_of(url);
                match Self::connect_one(db, url, timeout, *pass).await {
                    Ok(backend) => return Ok(backend),
                    Err(why) if order.len() == 1 && passes.len() == 1 => {
                        return Err(connect_error(why));
                    }
                    Err(why) => refused.push(format!("{host}: {why}")),
                }
            }
        }
        Err(connect_error(format!(
            "no host is {}: {}",
            match attrs {
                SessionAttrs::ReadWrite | SessionAttrs::Primary => "a writable primary",
                SessionAttrs::Standby => "a standby",
                SessionAttrs::ReadOnly => "read-only",
                _ => "reachable",
            },
            refused.join("; ")
        )))
    }

    /// One host: connects, and checks the session is what `attrs` asks.
    async fn connect_one(
        db: &DatabaseConfig,
        url: &str,
        timeout: Duration,
        attrs: SessionAttrs,
    ) -> std::result::Result<Self, String> {
        let options = connect_options(db, url)
            .map_err(|e| describe(&e))?
            .application_name("strata")
            // Not sent: the server's own default, as psql has it.
            .extra_float_digits(None)
            // Migration files may hold secrets (CREATE ROLE … PASSWORD);
            // never log statements.
            .disable_statement_logging();
        let mut conn = tokio::time::timeout(timeout, PgConnection::connect_with(&options))
            .await
            .map_err(|_| format!("no answer within {}s", timeout.as_secs()))?
            .map_err(|e| describe(&e))?;
        if attrs != SessionAttrs::Any {
            let (recovery, read_only): (bool, bool) = sqlx::query_as(
                "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only') = 'on'",
            )
            .fetch_one(&mut conn)
            .await
            .map_err(|e| describe(&e))?;
            let fits = match attrs {
                SessionAttrs::ReadWrite => !recovery && !read_only,
                SessionAttrs::ReadOnly => recovery || read_only,
                SessionAttrs::Primary => !recovery,
                SessionAttrs::Standby => recovery,
                _ => true,
            };
            if !fits {
                let _ = conn.close().await;
                return Err(match recovery {
                    true => "a standby (in recovery)".to_string(),
                    false if read_only => "read-only (default_transaction_read_only)".to_string(),
                    false => "a primary".to_string(),
                });
            }
        }
        Ok(PostgresBackend {
            options: Box::new(options),
            pid: None,
            applied_by: crate::history::this_process(),
            conn,
            database: db.name.clone(),
            url: db.url.clone(),
            table: quote_table(&db.history_table),
            schema: db
                .history_table
                .split_once('.')
                .map(|(schema, _)| schema.to_string()),
            file_session: None,
            described_fingerprint: None,
            left_behind: false,
            lacks_applied_by: false,
            ddl: db.ddl_lock,
            watcher: Default::default(),
            observer: Default::default(),
            stop: None,
            table_name: db.history_table.clone(),
            lock_key: lock_key(&db.history_table),
            pending_history: None,
        })
    }

    /// Where retries after a lock timeout are reported, and the stop
    /// request that ends them.
    pub(crate) fn set_run(
        &mut self,
        observer: crate::events::Observer,
        stop: crate::events::StopHandle,
    ) {
        self.observer = observer;
        self.stop = Some(stop);
    }

    /// How to cancel this session's step in progress, once the lock was
    /// taken (which reads the session's server process).
    pub fn canceller(&self) -> Option<Cancel> {
        Some(Cancel {
            options: (*self.options).clone(),
            pid: self.pid?,
        })
    }
}
