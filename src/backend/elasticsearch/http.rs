//! Server answers as plain values: a status and a JSON body, and the
//! failure (error type and reason) a non-2xx answer or a transport error
//! becomes.

use elasticsearch::http::response::Response;
use serde_json::Value;

use crate::secret::ConnectionUrl;

/// What went wrong talking to the server: its error type when it gave one
/// (`index_not_found_exception`, or `HTTP 405`), and its message.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) code: Option<String>,
    pub(super) message: String,
}

/// A server answer: status and JSON body.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Value,
}

impl Reply {
    pub(super) fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(super) fn error_type(&self) -> Option<&str> {
        self.body.pointer("/error/type").and_then(Value::as_str)
    }

    pub(super) fn failure(&self) -> Failure {
        let error = self.body.get("error");
        let reason = error
            .and_then(|e| {
                let root = e.pointer("/root_cause/0/reason").and_then(Value::as_str);
                e.get("reason").and_then(Value::as_str).or(root)
            })
            .or_else(|| error.and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| self.body.to_string());
        Failure {
            code: Some(
                self.error_type()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP {}", self.status)),
            ),
            message: reason,
        }
    }

    pub(super) fn into_result(self) -> std::result::Result<Value, Failure> {
        if self.success() {
            Ok(self.body)
        } else {
            Err(self.failure())
        }
    }
}

/// An error followed by its causes (`a: b: c`), each once: the client's
/// own message names only the request, its causes say why (a refused
/// connection, a rejected certificate).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        next = cause.source();
    }
    text
}

/// Turns a client call into a [`Reply`]; a transport error (refused,
/// timed out) becomes a failure without a code.
pub(super) async fn reply(
    url: &ConnectionUrl,
    sent: std::result::Result<Response, elasticsearch::Error>,
) -> std::result::Result<Reply, Failure> {
    let response = sent.map_err(|e| Failure {
        code: None,
        message: url.scrub(&with_causes(&e)),
    })?;
    let status = response.status_code().as_u16();
    let text = response.text().await.map_err(|e| Failure {
        code: None,
        message: url.scrub(&with_causes(&e)),
    })?;
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok(Reply { status, body })
}
