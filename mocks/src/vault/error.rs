//! Vault's error envelope and status mapping (reference vault-core.md §1.3):
//! `{"errors":[<0 or 1 string>]}\n`, `Content-Type: application/json`, `Cache-Control: no-store`.
//!
//! Only this file knows the envelope (ARCHITECTURE.md invariant 2).

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// The text core answers when a token lacks a capability (go-multierror of `permission denied`).
pub const PERMISSION_DENIED_MULTI: &str = "1 error occurred:\n\t* permission denied\n\n";
/// Missing token (Vault 1.10 and later), a bad token before 1.17, CIDR mismatches, lockouts.
pub const PERMISSION_DENIED: &str = "permission denied";
/// An unknown, revoked or expired token (Vault 1.17 and later, reference §1.4).
// UNVERIFIED: reference/vault-core.md §1.4 (first version emitting `invalid token`)
pub const INVALID_TOKEN_117: &str =
    "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n";

/// An error as Vault answers it: a status and at most one message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {}", message.as_deref().unwrap_or("<no message>"))]
pub struct VaultError {
    pub status: u16,
    /// `None` gives `{"errors":[]}`.
    pub message: Option<String>,
}

impl VaultError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: Some(message.into()),
        }
    }

    /// `{"errors":[]}` with `status` (a read that found nothing, a list with no keys, a bad
    /// query boolean, a wrong method on a raw handler).
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            message: None,
        }
    }

    /// `logical.ErrorResponse("x")`: 400 with the text verbatim.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// A bare Go error wrapped by go-multierror on a non-login path.
    pub fn multi(status: u16, message: impl AsRef<str>) -> Self {
        Self::new(status, multierror(&[message.as_ref()]))
    }

    pub fn not_found() -> Self {
        Self::empty(404)
    }

    pub fn permission_denied() -> Self {
        Self::new(403, PERMISSION_DENIED)
    }

    /// ACL denial: `1 error occurred:\n\t* permission denied\n\n`.
    pub fn acl_denied() -> Self {
        Self::new(403, PERMISSION_DENIED_MULTI)
    }

    pub fn sealed() -> Self {
        Self::new(503, "Vault is sealed")
    }

    /// An unknown sub-path inside a mount (`sdk/framework/backend.go`).
    pub fn unsupported_path() -> Self {
        Self::multi(404, "unsupported path")
    }

    /// An operation a path does not implement.
    pub fn unsupported_operation() -> Self {
        Self::multi(405, "unsupported operation")
    }

    /// `Field validation failed: error converting input <value> for field "<name>": <err>`.
    pub fn field(value: impl std::fmt::Display, name: &str, err: impl std::fmt::Display) -> Self {
        Self::bad(format!(
            "Field validation failed: error converting input {value} for field \"{name}\": {err}"
        ))
    }
}

/// go-multierror's text: `N error(s) occurred:\n\t* a\n\t* b\n\n`.
pub fn multierror(errors: &[&str]) -> String {
    let mut s = if errors.len() == 1 {
        "1 error occurred:\n".to_owned()
    } else {
        format!("{} errors occurred:\n", errors.len())
    };
    for e in errors {
        s.push_str("\t* ");
        s.push_str(e);
        s.push('\n');
    }
    s.push('\n');
    s
}

/// Vault's error envelope with `status`; a trailing newline as Go's `json.Encoder` writes.
pub fn vault_error(status: u16, errors: &[&str]) -> Response {
    let body = serde_json::json!({ "errors": errors }).to_string() + "\n";
    json_response(status, body)
}

/// A response with Vault's headers (`application/json` exactly, `no-store`).
pub fn json_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

impl IntoResponse for VaultError {
    fn into_response(self) -> Response {
        match &self.message {
            Some(m) => vault_error(self.status, &[m]),
            None => vault_error(self.status, &[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multierror_text_matches_go_multierror() {
        assert_eq!(
            multierror(&["permission denied"]),
            "1 error occurred:\n\t* permission denied\n\n"
        );
        assert_eq!(
            multierror(&["permission denied", "invalid token"]),
            INVALID_TOKEN_117
        );
    }
}
