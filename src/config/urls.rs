//! Each kind's connection settings folded into one URL, so redaction and
//! scrubbing work the same way for every kind.

use crate::secret::redact_url;

/// Puts `user`/`password` settings into a URL's userinfo (percent-encoded).
fn set_userinfo(
    url: &mut url::Url,
    user: Option<String>,
    password: Option<String>,
) -> std::result::Result<(), String> {
    if let Some(user) = user {
        url.set_username(&user)
            .map_err(|()| "cannot set the user".to_string())?;
    }
    if let Some(password) = password {
        url.set_password(Some(&password))
            .map_err(|()| "cannot set the password".to_string())?;
    }
    Ok(())
}

/// One URL holding everything an HTTP connection needs (Elasticsearch), so
/// redaction and scrubbing work as for every other kind: `user`/`password`
/// become its userinfo, `api_key` a query parameter the backend turns into
/// an `Authorization` header.
pub(super) fn http_url(
    url: &str,
    user: Option<String>,
    password: Option<String>,
    api_key: Option<String>,
) -> std::result::Result<String, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("{}: {e}", redact_url(url)))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "{}: expected http://host:port or https://host:port",
            redact_url(url)
        ));
    }
    set_userinfo(&mut parsed, user, password)?;
    if parsed.query().is_some_and(|q| !q.is_empty()) {
        return Err(format!(
            "{}: query parameters are not understood; use the api_key setting",
            redact_url(url)
        ));
    }
    if let Some(key) = api_key {
        if !parsed.username().is_empty() {
            return Err("give either user/password or api_key, not both".to_string());
        }
        parsed.query_pairs_mut().append_pair("api_key", &key);
    }
    Ok(parsed.to_string())
}

/// One URL holding everything a Neo4j connection needs, so redaction and
/// scrubbing work as for every other kind: `user`/`password` become its
/// userinfo (percent-encoded), `database` its path.
pub(super) fn neo4j_url(
    url: &str,
    user: Option<String>,
    password: Option<String>,
    database: Option<String>,
) -> std::result::Result<String, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("{}: {e}", redact_url(url)))?;
    if !matches!(
        parsed.scheme(),
        "bolt" | "bolt+s" | "bolt+ssc" | "neo4j" | "neo4j+s" | "neo4j+ssc"
    ) || parsed.host_str().is_none()
    {
        return Err(format!(
            "{}: expected bolt://host:port or neo4j://host:port",
            redact_url(url)
        ));
    }
    set_userinfo(&mut parsed, user, password)?;
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
