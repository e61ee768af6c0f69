//! Connection URLs and the secrets in them: how a URL is shown to people
//! (redacted), and how a server's or driver's message is scrubbed of the
//! connection's secrets before anyone sees it. A leaf: errors, config and
//! backends all use it.
//!
//! Redaction never depends on the URL parsing: the userinfo is everything
//! between `://` and the *last* `@`, so a password holding `/`, `?`, `#`,
//! `@` or `:` is hidden whole even in a URL no parser accepts. Scrubbing
//! replaces exactly the secrets known to the connection (the URL's
//! password, secret query parameters, the `password` and `api_key`
//! settings), in their raw, percent-encoded and percent-decoded forms, and
//! nothing else.

use std::fmt;
use std::sync::RwLock;

/// Secrets shorter than this are not scrubbed: replacing every `a` of a
/// message would mangle it, and a one- or two-character password protects
/// nothing anyway.
const SHORTEST_SCRUBBED: usize = 3;

/// A secret given beside a URL (`password = "…"`, `api_key = "…"`): never
/// shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A connection URL that never shows its password when printed, with the
/// other secrets of its connection, so that every message about the
/// connection can be scrubbed of all of them.
///
/// `Display` and `Debug` both redact; [`ConnectionUrl::expose`] is the only way
/// to the real string, and only backends call it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl {
    url: String,
    extra: Vec<String>,
}

impl ConnectionUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionUrl {
            url: url.into(),
            extra: Vec::new(),
        }
    }

    /// The same URL, with more secrets of its connection to scrub: a
    /// `password` or `api_key` setting, a value substituted into the URL.
    pub fn with_secrets(mut self, secrets: impl IntoIterator<Item = String>) -> Self {
        self.extra
            .extend(secrets.into_iter().filter(|s| !s.is_empty()));
        self
    }

    /// The URL with its secret parts, for the driver only.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// The URL as it may be shown to people.
    pub fn redacted(&self) -> String {
        self.scrub(&redact_url(&self.url))
    }

    /// Every secret of this connection, in each form it may take in a
    /// message (raw, percent-encoded, percent-decoded), longest first.
    pub fn secrets(&self) -> Vec<String> {
        let mut base = Vec::new();
        if let Some(pass) = url_password(&self.url) {
            base.push(pass.to_string());
        }
        if let Some((_, query)) = self.url.split_once('?') {
            for pair in query.split('&') {
                if let Some((k, v)) = pair.split_once('=')
                    && is_secret_param(k)
                {
                    base.push(v.to_string());
                    // Query values may be form-encoded ('+' for space).
                    base.push(v.replace('+', " "));
                }
            }
        }
        if !self.url.contains("://") {
            base.extend(keyword_password(&self.url));
        }
        base.extend(self.extra.iter().cloned());
        let mut out = Vec::new();
        for s in base {
            for form in [percent_decode(&s), percent_encode(&s), s] {
                if form.chars().count() >= SHORTEST_SCRUBBED && !out.contains(&form) {
                    out.push(form);
                }
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out
    }

    /// Replaces every secret of this connection in `text` with `***`.
    pub fn scrub(&self, text: &str) -> String {
        scrub_with(text, &self.secrets())
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

/// The password of libpq's `key=value` form (`password='a b'`), as given.
fn keyword_password(conn: &str) -> Option<String> {
    let at = conn.find("password=")? + "password=".len();
    let rest = &conn[at..];
    Some(match rest.strip_prefix('\'') {
        Some(quoted) => {
            let mut value = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    c => value.push(c),
                }
            }
            value
        }
        None => rest.split_whitespace().next().unwrap_or("").to_string(),
    })
    .filter(|v| !v.is_empty())
}

fn scrub_with(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Where the userinfo of a URL ends: after `scheme://`, at the last `@`.
/// Without a `scheme://` (a URL whose scheme was forgotten, `app:pw@db/x`)
/// the userinfo starts the string, so the password is still found.
fn userinfo_span(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let at = url[start..].rfind('@')? + start;
    Some((start, at))
}

/// The password in `scheme://user:password@…`, found without parsing.
fn url_password(url: &str) -> Option<&str> {
    let (start, at) = userinfo_span(url)?;
    let (_, pass) = url[start..at].split_once(':')?;
    (!pass.is_empty()).then_some(pass)
}

fn is_secret_param(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "password" | "pass" | "api_key" | "apikey" | "token" | "sslpassword"
    )
}

/// Redacts the password in `scheme://user:password@host/...` and secret
/// query parameters (`?password=...`). Pure, and independent of whether the
/// URL parses: the userinfo ends at the last `@`, so an unencoded `/`, `?`,
/// `#`, `:` or `@` in a password cannot make part of it show.
pub fn redact_url(url: &str) -> String {
    if !url.contains("://")
        && let Some(at) = url.find("password=").map(|i| i + "password=".len())
    {
        // libpq's key=value form: the value, quoted or not, to its end.
        let rest = &url[at..];
        let len = match rest.strip_prefix('\'') {
            Some(quoted) => {
                let mut escaped = false;
                let close = quoted.char_indices().find(|(_, c)| {
                    let end = !escaped && *c == '\'';
                    escaped = !escaped && *c == '\\';
                    end
                });
                close.map_or(rest.len(), |(i, _)| i + 2)
            }
            None => rest.find(char::is_whitespace).unwrap_or(rest.len()),
        };
        return format!("{}***{}", &url[..at], &url[at + len..]);
    }
    let mut out = url.to_string();
    if let Some((start, at)) = userinfo_span(url)
        && let Some(colon) = url[start..at].find(':')
    {
        out = format!("{}:***{}", &url[..start + colon], &url[at..]);
    }
    // Secret query parameters, after whatever userinfo there was.
    let query_from = userinfo_span(&out).map_or(0, |(_, at)| at);
    if let Some(q) = out[query_from..].find('?') {
        let (base, query) = out.split_at(query_from + q + 1);
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_param(k) => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{base}{}", pairs.join("&"));
    }
    out
}

/// The secrets a URL spells out itself: its password and the values of
/// its secret query parameters.
pub fn url_secrets(url: &str) -> Vec<String> {
    let mut out: Vec<String> = url_password(url).map(str::to_string).into_iter().collect();
    let query_from = userinfo_span(url).map_or(0, |(_, at)| at);
    if let Some(q) = url[query_from..].find('?') {
        for pair in url[query_from + q + 1..].split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && is_secret_param(k)
                && !v.is_empty()
            {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// Percent-decodes `%XX` sequences; anything else is kept as it is.
pub fn percent_decode(s: &str) -> String {
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

/// Percent-encodes everything but RFC 3986's unreserved characters, so a
/// value can stand in a URL's userinfo whatever it holds.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Secrets of every connection this process was configured with, for the
/// last line of defence: the command line's log writer and error printer
/// scrub everything they print with them.
static REGISTERED: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds a connection's secrets to the process-wide list.
pub fn register(url: &ConnectionUrl) {
    let mut list = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    for s in url.secrets() {
        if !list.contains(&s) {
            list.push(s);
        }
    }
    list.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Replaces every registered secret in `text` with `***`.
pub fn scrub_registered(text: &str) -> String {
    let list = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    scrub_with(text, &list)
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

    #[test]
    fn unparsable_urls_hide_the_whole_password() {
        for (url, pass) in [
            (
                "postgres://billing:aB3/xY9+Qz7kLm==@127.0.0.1:42625/billing",
                "aB3/xY9+Qz7kLm==",
            ),
            (
                "postgres://spec:p@ss:w/rd%25#@127.0.0.1:1/db",
                "p@ss:w/rd%25#",
            ),
            (
                "postgres://u:a?b&password=c@h/db?sslmode=require",
                "a?b&password=c",
            ),
            // The scheme forgotten: still a password before the host.
            ("billing:SchemeLess9@127.0.0.1:5432/billing", "SchemeLess9"),
        ] {
            let shown = redact_url(url);
            assert!(!shown.contains(pass), "{shown}");
            assert!(shown.ends_with(&url[url.rfind('@').unwrap()..]), "{shown}");
            let c = ConnectionUrl::new(url);
            let message = format!("cannot connect to {url}: invalid port number");
            let scrubbed = c.scrub(&message);
            assert!(!scrubbed.contains(pass), "{scrubbed}");
            // Nothing but the secret is touched: the words stay whole.
            assert!(scrubbed.ends_with(": invalid port number"), "{scrubbed}");
        }
    }

    #[test]
    fn every_form_of_a_secret_is_scrubbed_and_nothing_else() {
        let url = ConnectionUrl::new("postgres://u@h/db")
            .with_secrets(["p@ss:w/rd%25#".to_string(), "k".to_string()]);
        let text = "port p@ss:w/rd%25# p%40ss%3Aw%2Frd%2525%23 p@ss:w/rd%# keep";
        assert_eq!(url.scrub(text), "port *** *** *** keep");
        // A secret too short to scrub without mangling words is left.
        assert_eq!(url.scrub("kind"), "kind");
        assert_eq!(percent_encode("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn the_keyword_forms_password_is_a_secret() {
        let url = ConnectionUrl::new("host=h1,h2 password='s3cret pw\\'x' dbname=app");
        assert_eq!(url.scrub("auth failed: s3cret pw'x"), "auth failed: ***");
        assert!(!url.redacted().contains("s3cret"), "{}", url.redacted());
        let bare = ConnectionUrl::new("host=h password=Plain9secret dbname=app");
        assert!(!bare.redacted().contains("Plain9secret"));
    }
}
