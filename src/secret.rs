//! Connection URLs and the secrets in them: how a URL is shown to people
//! (redacted), and how a server's or driver's message is scrubbed of the
//! connection's secrets before anyone sees it. A leaf: errors, config and
//! backends all use it.

use std::fmt;

/// A connection URL that never shows its password when printed.
///
/// `Display` and `Debug` both redact; [`ConnectionUrl::expose`] is the only way
/// to the real string, and only backends call it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionUrl(url.into())
    }

    /// The URL with its secret parts, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL as it may be shown to people.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }

    /// The secret strings in this URL (password, raw and percent-decoded), for
    /// scrubbing server and driver messages before they are shown.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((_, pass)) = userinfo(&self.0).and_then(|u| u.split_once(':'))
            && !pass.is_empty()
        {
            out.push(pass.to_string());
            let decoded = percent_decode(pass);
            if decoded != pass {
                out.push(decoded);
            }
        }
        if let Some((_, query)) = self.0.split_once('?') {
            for pair in query.split('&') {
                if let Some((k, v)) = pair.split_once('=')
                    && is_secret_param(k)
                    && !v.is_empty()
                {
                    out.push(v.to_string());
                    // Query values may be form-encoded ('+' for space).
                    let decoded = percent_decode(&v.replace('+', " "));
                    if decoded != v {
                        out.push(decoded);
                    }
                }
            }
        }
        out
    }

    /// Replaces every secret of this URL in `text` with `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.secrets() {
            out = out.replace(&secret, "***");
        }
        out
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionUrl({:?})", self.redacted())
    }
}

fn userinfo(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    Some(&authority[..authority.rfind('@')?])
}

fn is_secret_param(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "password" | "pass" | "api_key" | "apikey" | "token" | "sslpassword"
    )
}

/// Redacts the password in `scheme://user:password@host/...` and secret query
/// parameters (`?password=...`). Pure; anything unparsable is returned as is,
/// because a URL without `://` carries no userinfo to hide.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(info) = userinfo(url)
        && let Some((user, pass)) = info.split_once(':')
        && !pass.is_empty()
    {
        let start = url.find("://").map(|i| i + 3).unwrap_or(0);
        out = format!(
            "{}{}:***{}",
            &url[..start],
            user,
            &url[start + info.len()..]
        );
    }
    if let Some((base, query)) = out.clone().split_once('?') {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_param(k) => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{base}?{}", pairs.join("&"));
    }
    out
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_everywhere() {
        let url =
            ConnectionUrl::new("postgres://app:s3cr%40t@db:5433/app?sslmode=require&password=two");
        let shown = format!("{url} {url:?} {}", url.redacted());
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(!shown.contains("two"), "{shown}");
        assert!(shown.contains("postgres://app:***@db:5433/app?sslmode=require&password=***"));
        assert_eq!(
            url.scrub("auth failed for s3cr@t and s3cr%40t"),
            "auth failed for *** and ***"
        );
        assert_eq!(
            redact_url("postgres://localhost/x"),
            "postgres://localhost/x"
        );
        assert_eq!(redact_url("postgres://u@h/x"), "postgres://u@h/x");
        // An '@' inside the password: the last '@' ends the userinfo.
        assert_eq!(redact_url("postgres://u:p@ss@h/x"), "postgres://u:***@h/x");
    }
}
