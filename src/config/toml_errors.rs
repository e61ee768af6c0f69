//! A config file that does not parse: said by line and column, never by
//! its text, which may hold a password.

use crate::error::Error;

/// A config file that does not parse, said without its text: the parser's
/// own report quotes the offending line, password and all. The line and
/// column are named instead, and the message (which can quote a value,
/// `invalid type: string "…"`) is scrubbed of every value that looks like
/// a secret, found by a lenient scan since the file did not parse.
pub(super) fn toml_error(text: &str, origin: &str, e: &toml::de::Error) -> Error {
    let place = match e.span() {
        Some(span) => {
            let upto = &text[..span.start.min(text.len())];
            let line = upto.matches('\n').count() + 1;
            let column = upto.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("{origin}: line {line}, column {column}")
        }
        None => origin.to_string(),
    };
    let secrets = crate::secret::ConnectionUrl::new("").with_secrets(secret_values(text));
    Error::config(place, secrets.scrub(e.message().trim_end()))
}

/// Every value in config text that may be a secret: the value of a key
/// naming a password, secret, token, key, credential or URL (a URL's
/// password and secret parameters too), quoted or not, terminated or not.
fn secret_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_matches(['"', '\'']).to_ascii_lowercase();
        let secretive = ["pass", "secret", "token", "key", "cred", "auth", "url"]
            .iter()
            .any(|w| key.contains(w));
        if !secretive {
            continue;
        }
        let value = value.trim();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = &value[1..];
                inner.split(q).next().unwrap_or(inner)
            }
            _ => value.split('#').next().unwrap_or(value).trim(),
        };
        if value.is_empty() {
            continue;
        }
        out.extend(crate::secret::url_secrets(value));
        if !key.contains("url") {
            out.push(value.to_string());
        }
    }
    out
}
