//! Google's JSON error envelope (`google.rpc.Status`), reference gcp.md 6.1:
//! `{"error":{"code":403,"message":"…","status":"PERMISSION_DENIED"}}`.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// The message Google answers a missing, malformed or expired bearer token with.
pub const UNAUTHENTICATED_MESSAGE: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} ({code}): {message}")]
pub struct GcpError {
    pub code: u16,
    pub status: &'static str,
    pub message: String,
    /// `details` array members (`google.rpc.ErrorInfo` and friends), if any.
    pub details: Vec<serde_json::Value>,
    /// The legacy `errors: [{message, domain, reason}]` member that IAM v1 and Compute add
    /// (reference gcp.md 6.1); Go's client prints the reason after the message.
    pub reason: Option<&'static str>,
}

impl GcpError {
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            status: status_name(code),
            message: message.into(),
            details: Vec::new(),
            reason: None,
        }
    }

    pub fn with_status(mut self, status: &'static str) -> Self {
        self.status = status;
        self
    }

    /// Adds the legacy `errors` member with this `reason` (`notFound`, `failedPrecondition`).
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(400, message).with_status("FAILED_PRECONDITION")
    }

    pub fn unauthenticated() -> Self {
        Self::new(401, UNAUTHENTICATED_MESSAGE)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// `Permission 'P' denied on resource (or it may not exist).`, with the ErrorInfo detail
    /// (the details' contents are UNVERIFIED, reference gcp.md 6.1).
    pub fn permission_denied(permission: &str, resource: Option<&str>) -> Self {
        let message =
            format!("Permission '{permission}' denied on resource (or it may not exist).");
        let mut metadata = serde_json::json!({ "permission": permission });
        if let Some(r) = resource {
            metadata["resource"] = r.into();
        }
        let mut e = Self::new(403, message);
        e.details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "IAM_PERMISSION_DENIED",
            "domain": "iam.googleapis.com",
            "metadata": metadata,
        }));
        e
    }

    pub fn body(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.code,
            "message": self.message,
        });
        if let Some(reason) = self.reason {
            error["errors"] = serde_json::json!([{
                "message": self.message,
                "domain": "global",
                "reason": reason,
            }]);
        }
        error["status"] = self.status.into();
        if !self.details.is_empty() {
            error["details"] = serde_json::Value::Array(self.details.clone());
        }
        serde_json::json!({ "error": error })
    }
}

/// The canonical `google.rpc.Code` name for an HTTP status.
pub fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        412 => "FAILED_PRECONDITION",
        413 => "INVALID_ARGUMENT",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        500..=599 => "INTERNAL",
        _ => "UNKNOWN",
    }
}

impl IntoResponse for GcpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, self.body().to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        resp
    }
}

/// The OAuth 2.0 token endpoint's own error body (RFC 6749 5.2), not the googleapis envelope:
/// `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}` (reference gcp.md 6.5).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: 400,
            error,
            description: description.into(),
        }
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.error, "error_description": self.description })
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (status, self.body().to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
        );
        resp
    }
}
