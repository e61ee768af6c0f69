//! What each kind's `url` may look like, checked when the config is read,
//! before anything connects: the scheme, the parts a driver understands,
//! and (PostgreSQL) libpq's TLS parameters and the files they name.

use std::path::{Path, PathBuf};

use crate::secret::{percent_decode, redact_url};

/// An `http://` or `https://` URL with a host and nothing a driver would
/// ignore (credentials are settings of their own, or userinfo).
pub(super) fn http_url(url: &str) -> std::result::Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{}: {e}", redact_url(url)))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "{}: expected http://host:port or https://host:port",
            redact_url(url)
        ));
    }
    if parsed.query().is_some_and(|q| !q.is_empty()) {
        return Err(format!(
            "{}: query parameters are not understood; use the api_key setting",
            redact_url(url)
        ));
    }
    Ok(url.to_string())
}

/// A Bolt URL, with the `database` setting as its path.
pub(super) fn neo4j_url(
    url: &str,
    database: Option<String>,
) -> std::result::Result<String, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("{}: {e}", redact_url(url)))?;
    if !matches!(
        parsed.scheme(),
        "bolt" | "bolt+s" | "bolt+ssc" | "neo4j" | "neo4j+s" | "neo4j+ssc"
    ) || parsed.host_str().is_none()
    {
        return Err(format!(
            "{}: expected bolt://host:port or neo4j://host:port (+s for TLS)",
            redact_url(url)
        ));
    }
    if let Some(db) = database {
        parsed.set_path(&db);
    }
    if parsed.query().is_some() || parsed.path().trim_matches('/').contains('/') {
        return Err(format!(
            "{}: only bolt://user:password@host:port/database is understood",
            redact_url(url)
        ));
    }
    Ok(parsed.to_string())
}

/// A PostgreSQL URL in a config file: one the driver can read
/// (`postgres://` or `postgresql://`), not another kind's, no raw space.
/// A mistake here is the config's (exit 2), not a connection failure.
pub(super) fn postgres_shape(conn: &str) -> std::result::Result<(), String> {
    if !conn.contains("://") && !conn.contains('=') {
        return postgres_shape_one(conn);
    }
    // Several hosts, or libpq's key=value form: each host's URL is checked.
    let targets = pg_targets(conn).map_err(|m| format!("{}: {m}", redact_url(conn)))?;
    for url in &targets.urls {
        postgres_shape_one(url)?;
    }
    Ok(())
}

fn postgres_shape_one(url: &str) -> std::result::Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{}: {e}", redact_url(url)))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "{}: expected postgres://user@host:port/database",
            redact_url(url)
        ));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(format!(
            "{}: contains a space (two URLs on one line?); percent-encode a space in a \
             name as %20",
            redact_url(url)
        ));
    }
    Ok(())
}

/// libpq's `sslmode` values.
pub const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// Checks a PostgreSQL URL's TLS parameters the way libpq reads them: a
/// known `sslmode`; `sslrootcert`, `sslcert`, `sslkey` naming files that
/// can be read (or `sslrootcert=system`, which wants `verify-full`);
/// client certificate and key given together.
pub fn postgres_url(conn: &str) -> std::result::Result<(), String> {
    let first = pg_targets(conn)
        .ok()
        .and_then(|t| t.urls.into_iter().next());
    let params = query_params(first.as_deref().unwrap_or(conn));
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let mode = get("sslmode");
    if let Some(m) = mode
        && !SSL_MODES.contains(&m)
    {
        return Err(format!(
            "sslmode={m} is not a TLS mode: use one of {}",
            SSL_MODES.join(", ")
        ));
    }
    if get("sslrootcert") == Some("system")
        && let Some(m) = mode
        && m != "verify-full"
    {
        return Err(format!(
            "sslrootcert=system trusts the system's certificate authorities and needs \
             sslmode=verify-full (or no sslmode), not sslmode={m}"
        ));
    }
    for key in ["sslrootcert", "sslcert", "sslkey"] {
        if let Some(path) = get(key)
            && !(key == "sslrootcert" && path == "system")
        {
            readable(key, Path::new(path))?;
        }
    }
    if get("sslcert").is_some() != get("sslkey").is_some() {
        return Err("sslcert and sslkey go together: give both or neither".to_string());
    }
    let needs_tls = matches!(mode, Some("require" | "verify-ca" | "verify-full"))
        || (mode.is_none() && get("sslrootcert") == Some("system"));
    if needs_tls && !cfg!(feature = "tls-rustls") {
        return Err(
            "this URL asks for TLS, which this build of strata leaves out: enable the cargo \
             feature \"tls-rustls\""
                .to_string(),
        );
    }
    Ok(())
}

/// Checks that a file a TLS setting names can be read; the message names
/// the setting and the file.
pub fn readable(setting: &str, path: &Path) -> std::result::Result<(), String> {
    std::fs::File::open(path)
        .map(|_| ())
        .map_err(|e| format!("{setting}: cannot read {}: {e}", path.display()))
}

/// The query parameters of a URL, decoded, found without parsing the rest
/// (the password before them may hold anything).
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let after_userinfo = url.rfind('@').map_or(0, |at| at + 1);
    let Some(q) = url[after_userinfo..].find('?') else {
        return Vec::new();
    };
    url[after_userinfo + q + 1..]
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

/// Which server of a multi-host PostgreSQL URL to use, as libpq's
/// `target_session_attrs` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAttrs {
    /// The first that answers.
    Any,
    /// One that accepts writes (not in recovery, not read-only by default).
    ReadWrite,
    /// One that does not accept writes.
    ReadOnly,
    /// One not in recovery.
    Primary,
    /// One in recovery.
    Standby,
    /// A standby if any answers, else any.
    PreferStandby,
}

/// A PostgreSQL connection string split into one URL per server, in the
/// order to try them, with what the session must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTargets {
    /// One `postgres://…` URL per host, without `target_session_attrs` and
    /// `load_balance_hosts` (the driver reads neither).
    pub urls: Vec<String>,
    /// `target_session_attrs`; given as `None` when the URL names none.
    pub attrs: Option<SessionAttrs>,
    /// `load_balance_hosts=random`: try the hosts in a random order.
    pub balance: bool,
}

/// Reads a PostgreSQL connection string as libpq does: a URL whose host
/// part may list several `host:port` pairs (`postgres://h1:5432,h2:5433/app`),
/// or the `key=value` form (`host=h1,h2 port=5432,5433 dbname=app`), turned
/// into one URL per host. Pure.
pub fn pg_targets(conn: &str) -> std::result::Result<PgTargets, String> {
    let url = match conn.contains("://") {
        true => conn.to_string(),
        false => keyword_url(conn)?,
    };
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let after_userinfo = url[scheme_end..]
        .rfind('@')
        .map_or(scheme_end, |at| scheme_end + at + 1);
    let hosts_end = url[after_userinfo..]
        .find(['/', '?'])
        .map_or(url.len(), |i| after_userinfo + i);
    let (head, hosts, tail) = (
        &url[..after_userinfo],
        &url[after_userinfo..hosts_end],
        &url[hosts_end..],
    );
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let mut attrs = None;
    let mut balance = false;
    let mut kept = Vec::new();
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some(("target_session_attrs", v)) => {
                attrs = Some(match v {
                    "any" => SessionAttrs::Any,
                    "read-write" => SessionAttrs::ReadWrite,
                    "read-only" => SessionAttrs::ReadOnly,
                    "primary" => SessionAttrs::Primary,
                    "standby" => SessionAttrs::Standby,
                    "prefer-standby" => SessionAttrs::PreferStandby,
                    other => {
                        return Err(format!(
                            "target_session_attrs={other}: use any, read-write, read-only, \
                             primary, standby or prefer-standby"
                        ));
                    }
                })
            }
            Some(("load_balance_hosts", v)) => {
                balance = match v {
                    "random" => true,
                    "disable" => false,
                    other => {
                        return Err(format!("load_balance_hosts={other}: use disable or random"));
                    }
                }
            }
            _ => kept.push(pair),
        }
    }
    let query = match kept.is_empty() {
        true => String::new(),
        false => format!("?{}", kept.join("&")),
    };
    // No host: the driver's default, or a `host=` parameter (a socket).
    if hosts.is_empty() {
        return Ok(PgTargets {
            urls: vec![format!("{head}{path}{query}")],
            attrs,
            balance,
        });
    }
    let urls = hosts
        .split(',')
        .map(|h| {
            if h.is_empty() {
                return Err("an empty host in the host list".to_string());
            }
            Ok(format!("{head}{h}{path}{query}"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(PgTargets {
        urls,
        attrs,
        balance,
    })
}

/// libpq's `key=value` form as a URL (hosts and ports listed in the same
/// order pair up; one port serves every host). Values may be quoted with
/// `'`, and `\` escapes in them.
fn keyword_url(conn: &str) -> std::result::Result<String, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut chars = conn.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        let mut has_value = false;
        for c in chars.by_ref() {
            if c == '=' {
                has_value = true;
                break;
            }
            key.push(c);
        }
        let key = key.trim().to_string();
        if !has_value {
            return Err(format!("{key:?} is not key=value"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                match c {
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        }
        if key.is_empty() {
            return Err("a connection string is `key=value` pairs or a postgres:// URL".into());
        }
        pairs.push((key, value));
    }
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let hosts: Vec<&str> = get("host")
        .or(get("hostaddr"))
        .unwrap_or("localhost")
        .split(',')
        .collect();
    let ports: Vec<&str> = get("port")
        .map(|p| p.split(',').collect())
        .unwrap_or_default();
    if ports.len() > 1 && ports.len() != hosts.len() {
        return Err(format!(
            "{} hosts and {} ports: give one port, or one per host",
            hosts.len(),
            ports.len()
        ));
    }
    let host_list: Vec<String> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| match ports.get(i).or(ports.first()) {
            Some(p) => format!("{h}:{p}"),
            None => h.to_string(),
        })
        .collect();
    let enc = crate::secret::percent_encode;
    let userinfo = match (get("user"), get("password")) {
        (Some(u), Some(p)) => format!("{}:{}@", enc(u), enc(p)),
        (Some(u), None) => format!("{}@", enc(u)),
        _ => String::new(),
    };
    let params: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "host" | "hostaddr" | "port" | "user" | "password" | "dbname"
            )
        })
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    Ok(format!(
        "postgres://{userinfo}{}/{}{}",
        host_list.join(","),
        enc(get("dbname").unwrap_or("")),
        match params.is_empty() {
            true => String::new(),
            false => format!("?{}", params.join("&")),
        }
    ))
}

/// Certificate files for a TLS connection, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `ca_cert`: a PEM file of the certificate authorities to trust, beside
    /// the system's.
    pub ca_cert: Option<PathBuf>,
    /// `client_cert`: a PEM client certificate (with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// `client_key`: the client certificate's PEM private key.
    pub client_key: Option<PathBuf>,
}

/// Whether a URL carries a user name in its userinfo.
pub(super) fn url_has_user(url: &str) -> bool {
    url.find("://")
        .is_some_and(|s| url[s + 3..].rfind('@').is_some_and(|at| at > 0))
}

#[cfg(test)]
mod pg_target_tests {
    use super::*;

    #[test]
    fn multi_host_urls_split_per_host_and_keep_the_rest() {
        let t = pg_targets(
            "postgres://app:pw@h1:5432,h2:5433/app?sslmode=disable&target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(
            t.urls,
            [
                "postgres://app:pw@h1:5432/app?sslmode=disable",
                "postgres://app:pw@h2:5433/app?sslmode=disable"
            ]
        );
        assert_eq!(t.attrs, Some(SessionAttrs::ReadWrite));
        let one = pg_targets("postgres://h/app").unwrap();
        assert_eq!((one.urls.len(), one.attrs), (1, None));
        assert!(pg_targets("postgres://h1,,h2/app").is_err());
        assert!(pg_targets("postgres://h/app?target_session_attrs=nope").is_err());
    }

    #[test]
    fn the_keyword_form_becomes_urls() {
        let t = pg_targets(
            "host=h1,h2 port=5432,5433 dbname=app user=me password='a b\\'c' target_session_attrs=primary",
        )
        .unwrap();
        assert_eq!(
            t.urls,
            [
                "postgres://me:a%20b%27c@h1:5432/app",
                "postgres://me:a%20b%27c@h2:5433/app"
            ]
        );
        assert_eq!(t.attrs, Some(SessionAttrs::Primary));
        assert!(pg_targets("host=a,b,c port=1,2").is_err());
    }
}
