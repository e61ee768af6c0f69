//! Opening the dedicated PostgreSQL connection the way libpq users expect
//! (URL parameters, `user`/`password` settings, TLS modes), and a second,
//! short-lived one to cancel a step in progress.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::{PostgresBackend, describe, lock_key, quote_table};
use crate::config::DatabaseConfig;
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
fn connect_options(db: &DatabaseConfig) -> std::result::Result<PgConnectOptions, sqlx::Error> {
    let url = db.url.expose();
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
    /// Opens the dedicated connection.
    pub async fn connect(db: &DatabaseConfig, timeout: Duration) -> Result<Self> {
        let connect_error = |message: String| db.connect_error(&message);
        let options = connect_options(db)
            .map_err(|e| connect_error(describe(&e)))?
            .application_name("strata")
            // Not sent: the server's own default, as psql has it.
            .extra_float_digits(None)
            // Migration files may hold secrets (CREATE ROLE … PASSWORD);
            // never log statements.
            .disable_statement_logging();
        let conn = tokio::time::timeout(timeout, PgConnection::connect_with(&options))
            .await
            .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
            .map_err(|e| connect_error(describe(&e)))?;
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
            left_behind: false,
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
