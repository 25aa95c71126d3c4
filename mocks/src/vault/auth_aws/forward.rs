//! Forwarding the client's signed `GetCallerIdentity` to STS (reference aws.md §1.5): the
//! client's method, body and headers sent to `<sts_endpoint>/<RequestURI>` (a double slash) with
//! the client's `Host`, no redirects followed, go-retryablehttp's retries, then the answer's
//! checks in Vault's order: `Content-Type` exactly `text/xml` first, then the status, then the XML.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use super::fields::Headers;
use super::xml::Node;
use crate::http_client::{HttpClient, HttpError};

/// The request Vault rebuilds from the login data.
#[derive(Debug, Clone)]
pub(crate) struct Forward {
    pub method: String,
    /// `endpoint + "/" + RequestURI`.
    pub url: String,
    /// The client URL's host (with its port, if any): sent as the `Host` header.
    pub host: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// Retries after the first attempt.
    pub retries: u32,
}

/// What STS said about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallerIdentity {
    pub arn: String,
    pub user_id: String,
    pub account: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ForwardError {
    /// A 400 message, to follow `error making upstream request: `.
    Upstream(String),
    /// A 200 XML answer without `GetCallerIdentityResult`: Vault indexes it unchecked and the
    /// handler panics.
    Panic,
}

const RETRY_WAIT_MIN: Duration = Duration::from_millis(500);
const RETRY_WAIT_MAX: Duration = Duration::from_secs(30);

/// Go's `resp.Status`: `500 Internal Server Error`.
fn go_status(code: u16) -> String {
    let reason = StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{code} {reason}")
}

/// go-retryablehttp's wait before retry `n` (0-based): 500 ms doubled per retry, capped at
/// 30 s, or a numeric `Retry-After` on 429/503.
fn backoff(n: u32, status: Option<u16>, retry_after: Option<&str>) -> Duration {
    if matches!(status, Some(429 | 503)) {
        if let Some(secs) = retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
            return Duration::from_secs(secs);
        }
    }
    RETRY_WAIT_MIN
        .saturating_mul(1u32 << n.min(16))
        .min(RETRY_WAIT_MAX)
}

/// Go's rendering of a transport failure: `Post "<url>": <cause>`.
// UNVERIFIED: reference/aws.md §1.5 gives only `error making request: <retryablehttp error>`; the
// cause is Go's `net/http` wording as the client renders it (see `http_client`).
fn transport_error(method: &str, url: &str, e: &HttpError) -> String {
    let mut m = method.to_ascii_lowercase();
    if let Some(first) = m.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!("{m} {}: {e}", super::fields::go_quote(url))
}

/// Sends the request with retries; the final answer or the error text after
/// `error making upstream request: `.
pub(crate) async fn submit(http: &HttpClient, f: &Forward) -> Result<CallerIdentity, ForwardError> {
    let method = http::Method::from_bytes(f.method.as_bytes())
        .map_err(|e| ForwardError::Upstream(format!("error making request: {e}")))?;
    // Any method's body goes out (Go's `http.NewRequest` with it; an empty one sends none).
    let body = Bytes::copy_from_slice(&f.body);
    let mut attempt = 0u32;
    let (status, content_type, body) = loop {
        attempt += 1;
        // Go's client writes Host and Content-Length itself; Host is the client's.
        let headers = std::iter::once(("host", f.host.as_str())).chain(
            f.headers
                .iter()
                .filter(|(k, _)| *k != "Host" && *k != "Content-Length")
                .flat_map(|(k, values)| values.iter().map(move |v| (k.as_str(), v.as_str()))),
        );
        // Why this attempt failed, if it should be retried; `None` message = no `: …` suffix.
        let retry: (Option<String>, Option<u16>, Option<String>) = match http
            .send(method.clone(), &f.url, headers, body.clone())
            .await
        {
            Err(e) => (Some(transport_error(&f.method, &f.url, &e)), None, None),
            Ok(resp) => {
                let status = resp.status;
                let retry_after = resp.header("retry-after").map(str::to_owned);
                if status == 429 {
                    (None, Some(status), retry_after)
                } else if status == 0 || (status >= 500 && status != 501) {
                    (
                        Some(format!("unexpected HTTP status {}", go_status(status))),
                        Some(status),
                        retry_after,
                    )
                } else {
                    let content_type = resp
                        .headers
                        .get("content-type")
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                    break (status, content_type, resp.body);
                }
            }
        };
        let (why, status, retry_after) = retry;
        if attempt > f.retries {
            let suffix = why.map(|w| format!(": {w}")).unwrap_or_default();
            return Err(ForwardError::Upstream(format!(
                "error making request: {} {} giving up after {attempt} attempt(s){suffix}",
                f.method, f.url
            )));
        }
        tokio::time::sleep(backoff(attempt - 1, status, retry_after.as_deref())).await;
    };
    let invalid = || ForwardError::Upstream("body of GetCallerIdentity is invalid".into());
    if content_type.as_deref() != Some("text/xml") {
        return Err(invalid());
    }
    let text = String::from_utf8_lossy(&body);
    if status != 200 {
        return Err(ForwardError::Upstream(format!(
            "received error code {status} from STS: {text}"
        )));
    }
    let trimmed = text.trim();
    if !trimmed.starts_with("<GetCallerIdentityResponse") && !trimmed.starts_with("<?xml") {
        return Err(invalid());
    }
    let parse_error = || ForwardError::Upstream("error parsing STS response".into());
    let root = Node::parse(trimmed).map_err(|_| parse_error())?;
    if root.name != "GetCallerIdentityResponse" {
        return Err(parse_error());
    }
    let result = root
        .children_named("GetCallerIdentityResult")
        .next()
        .ok_or(ForwardError::Panic)?;
    Ok(CallerIdentity {
        arn: result.text_at(&["Arn"]),
        user_id: result.text_at(&["UserId"]),
        account: result.text_at(&["Account"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second() {
        assert_eq!(backoff(0, Some(500), None), Duration::from_millis(500));
        assert_eq!(backoff(2, Some(500), None), Duration::from_secs(2));
        assert_eq!(backoff(10, None, None), RETRY_WAIT_MAX);
        assert_eq!(backoff(0, Some(429), Some("3")), Duration::from_secs(3));
    }

    #[test]
    fn statuses_read_as_go_prints_them() {
        assert_eq!(go_status(500), "500 Internal Server Error");
    }
}
