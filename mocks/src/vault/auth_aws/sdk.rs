//! The AWS calls Vault makes with its own credentials (reference aws.md §1.9): STS
//! `GetCallerIdentity` (to learn its own account) and `AssumeRole` (`config/sts/<account>`),
//! IAM `GetUser`/`GetRole`/`GetInstanceProfile`, EC2 `DescribeInstances`. Requests go only to the
//! endpoints in `config/client` (invariant 1), SigV4-signed with `aws-sigv4` at the injected
//! clock's time, and errors read as aws-sdk-go v1 prints them.
//!
//! **Not modelled:** the SDK credential chain beyond `config/client` keys (environment, shared
//! files, instance roles, web identity); partitions other than `aws` for the IAM region; caching
//! assumed-role credentials (a fresh `AssumeRole` per use).

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

use super::xml::Node;
use crate::clock::Clock;
use crate::http_client::HttpClient;

/// Keys to sign with.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

/// Which API and where.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub service: &'static str,
    pub region: String,
    /// Base URL (`https://iam.amazonaws.com`, or the `config/client` override).
    pub endpoint: String,
}

/// How many retries the SDK makes: `max_retries` if ≥ 0, else 3.
pub(crate) fn sdk_retries(max_retries: i64) -> u32 {
    if max_retries >= 0 {
        max_retries as u32
    } else {
        3
    }
}

/// An SDK endpoint URL: a scheme added when missing (the SDK defaults to https), `/` as path.
pub(crate) fn endpoint_url(endpoint: &str) -> String {
    let with_scheme = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("https://{endpoint}")
    };
    if with_scheme.ends_with('/') {
        with_scheme
    } else {
        format!("{with_scheme}/")
    }
}

/// An AWS error as aws-sdk-go v1 renders `awserr.RequestFailure`:
/// `Code: Message\n\tstatus code: 404, request id: …`.
// UNVERIFIED: reference/aws.md does not quote the SDK's error rendering; this is aws-sdk-go v1's
// `awserr` format.
fn request_failure(status: u16, body: &str) -> String {
    let (code, message, request_id) = match Node::parse(body) {
        Ok(root) if root.name == "ErrorResponse" => (
            root.text_at(&["Error", "Code"]),
            root.text_at(&["Error", "Message"]),
            root.text_at(&["RequestId"]),
        ),
        Ok(root) if root.name == "Response" => (
            root.text_at(&["Errors", "Error", "Code"]),
            root.text_at(&["Errors", "Error", "Message"]),
            root.text_at(&["RequestID"]),
        ),
        _ => (
            "SerializationError".to_owned(),
            "failed to decode query XML error response".to_owned(),
            String::new(),
        ),
    };
    format!("{code}: {message}\n\tstatus code: {status}, request id: {request_id}")
}

/// Calls one Query-API action; the parsed XML answer or the SDK's error text.
pub(crate) async fn call(
    http: &HttpClient,
    clock: &dyn Clock,
    keys: &Keys,
    target: &Target,
    params: &[(&str, &str)],
    max_retries: i64,
) -> Result<Node, String> {
    let url = endpoint_url(&target.endpoint);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let retries = sdk_retries(max_retries);
    let mut attempt = 0u32;
    loop {
        let (status, text) = match send(http, clock, keys, target, &url, &body).await {
            Ok(r) => r,
            Err(e) if attempt < retries => {
                tracing::debug!(error = %e, "retrying an AWS call");
                attempt += 1;
                tokio::time::sleep(sdk_backoff(attempt)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        if status == 200 {
            return Node::parse(&text).map_err(|e| {
                format!("SerializationError: failed decoding Query response\ncaused by: {e}")
            });
        }
        let throttled = text.contains("<Code>Throttling</Code>")
            || text.contains("<Code>RequestLimitExceeded</Code>");
        if (status >= 500 || status == 429 || throttled) && attempt < retries {
            attempt += 1;
            tokio::time::sleep(sdk_backoff(attempt)).await;
            continue;
        }
        return Err(request_failure(status, &text));
    }
}

/// aws-sdk-go's retry delay: 30 ms doubled per retry (jitter left out).
fn sdk_backoff(attempt: u32) -> Duration {
    Duration::from_millis(30u64 << attempt.min(8))
}

async fn send(
    http: &HttpClient,
    clock: &dyn Clock,
    keys: &Keys,
    target: &Target,
    url: &str,
    body: &str,
) -> Result<(u16, String), String> {
    const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
    let identity = Credentials::new(
        keys.access_key.clone(),
        keys.secret_key.clone(),
        keys.session_token.clone(),
        None,
        "vault-config-client",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&target.region)
        .name(target.service)
        .time(clock.now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("SigningError: {e}"))?
        .into();
    let headers = [("content-type", FORM)];
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| format!("SigningError: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("SigningError: {e}"))?
        .into_parts();
    let headers = std::iter::once(("content-type", FORM)).chain(instructions.headers());
    // UNVERIFIED: aws-sdk-go's wording for a request that never got an answer.
    let resp = http
        .send(
            http::Method::POST,
            url,
            headers,
            bytes::Bytes::copy_from_slice(body.as_bytes()),
        )
        .await
        .map_err(|e| format!("RequestError: send request failed\ncaused by: {e}"))?;
    let status = resp.status;
    let text = resp.text();
    Ok((status, text))
}
