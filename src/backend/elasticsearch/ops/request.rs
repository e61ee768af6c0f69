//! `request`: any other call to the cluster (cluster settings, snapshot
//! repositories, …). strata sends it as written and checks only its
//! answer's status: nothing about it is known before it runs.

use serde::Deserialize;
use serde_json::Value;

/// The HTTP methods Elasticsearch's API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `PUT`
    Put,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
}

impl HttpMethod {
    /// As written in files and plans.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Head => "HEAD",
        }
    }
}

/// `request`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `GET`, `PUT`, `POST`, `DELETE` or `HEAD`.
    pub method: HttpMethod,
    /// The path on the cluster, with its query string: `/_cluster/settings`.
    pub path: String,
    /// The JSON body.
    pub body: Option<Value>,
    /// The statuses that count as success; any 2xx when absent.
    pub expect: Option<Vec<u16>>,
}

impl Request {
    /// Whether the cluster's answer counts as success.
    pub fn accepts(&self, status: u16) -> bool {
        match &self.expect {
            Some(codes) => codes.contains(&status),
            None => (200..300).contains(&status),
        }
    }

    /// The path's first segment without its query (`_cluster`, or an index
    /// name), to keep requests off strata's own history.
    pub fn target(&self) -> &str {
        let path = self.path.trim_start_matches('/');
        let end = path.find(['/', '?']).unwrap_or(path.len());
        &path[..end]
    }
}

/// Checks what serde cannot. Pure.
pub fn check_request(o: &Request) -> Result<(), (String, String)> {
    if !o.path.starts_with('/') || o.path.contains("://") {
        return Err((
            ".path".into(),
            format!(
                "{:?} must be a path on the cluster starting with '/' (/_cluster/settings)",
                o.path
            ),
        ));
    }
    if o.path.chars().any(char::is_whitespace) {
        return Err((".path".into(), "must not contain spaces".into()));
    }
    if let Some(codes) = &o.expect {
        if codes.is_empty() {
            return Err((".expect".into(), "lists no status".into()));
        }
        if let Some(bad) = codes.iter().find(|c| !(100..=599).contains(*c)) {
            return Err((".expect".into(), format!("{bad} is not an HTTP status")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(v: Value) -> Request {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn statuses_and_targets() {
        let r = request(json!({"method": "PUT", "path": "/_cluster/settings?flat_settings=true"}));
        assert!(r.accepts(200) && r.accepts(201) && !r.accepts(404));
        assert_eq!(r.target(), "_cluster");
        let r = request(json!({"method": "DELETE", "path": "/old", "expect": [200, 404]}));
        assert!(r.accepts(404) && !r.accepts(201));
        assert_eq!(r.target(), "old");
        check_request(&r).unwrap();
    }

    #[test]
    fn bad_requests_are_refused() {
        for (v, path) in [
            (json!({"method": "GET", "path": "_cat"}), ".path"),
            (json!({"method": "GET", "path": "http://x/_cat"}), ".path"),
            (json!({"method": "GET", "path": "/a b"}), ".path"),
            (
                json!({"method": "GET", "path": "/", "expect": []}),
                ".expect",
            ),
            (
                json!({"method": "GET", "path": "/", "expect": [99]}),
                ".expect",
            ),
        ] {
            assert_eq!(check_request(&request(v)).unwrap_err().0, path);
        }
        assert!(serde_json::from_value::<Request>(json!({"method": "get", "path": "/"})).is_err());
    }
}
