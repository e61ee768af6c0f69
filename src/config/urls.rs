//! What each kind's `url` may look like, checked when the config is read,
//! before anything connects: the scheme, the parts a driver understands,
//! and (PostgreSQL) libpq's TLS parameters and the files they name.

use std::path::Path;

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
pub(super) fn postgres_shape(url: &str) -> std::result::Result<(), String> {
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
pub fn postgres_url(url: &str) -> std::result::Result<(), String> {
    let params = query_params(url);
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
