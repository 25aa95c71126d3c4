//! The transport-free interface between the mock Vault core and its auth backends: the core
//! routes `auth/<mount>/<path>` to a backend as a [`BackendRequest`] and renders the answer
//! ([`BackendResponse`] or [`VaultError`]) in Vault's HTTP envelope.

use std::collections::BTreeMap;
use std::time::Duration;

/// A logical request routed to an auth backend, path relative to the mount (e.g. "login",
/// "role/app", "config/client").
#[derive(Debug, Clone)]
pub struct BackendRequest {
    pub operation: Operation,
    pub path: String,
    /// Shared with the core's request (no copy of a login's large fields).
    pub data: std::sync::Arc<serde_json::Map<String, serde_json::Value>>,
    /// The mount path, e.g. "aws".
    pub mount: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    Create,
    Update,
    Delete,
    List,
}

#[derive(Debug, Clone)]
pub enum BackendResponse {
    /// 200 with `data` (and warnings) in the Vault envelope.
    Data {
        data: serde_json::Value,
        warnings: Vec<String>,
    },
    /// 204.
    NoContent,
    /// A successful login: the core issues the token and renders the `auth` block.
    Login(LoginOutcome),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoginOutcome {
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub display_name: String,
    pub alias_name: String,
    pub ttl: Option<Duration>,
    pub max_ttl: Option<Duration>,
    pub period: Option<Duration>,
    pub num_uses: u32,
    pub token_type: String,
    pub bound_cidrs: Vec<String>,
    pub renewable: bool,
    /// What renew needs later.
    pub internal: serde_json::Map<String, serde_json::Value>,
}

impl BackendResponse {
    /// A write's answer: 204, or 200 with its warnings when it has any.
    pub fn written(warnings: Vec<String>) -> Self {
        if warnings.is_empty() {
            BackendResponse::NoContent
        } else {
            BackendResponse::Data {
                data: serde_json::Value::Null,
                warnings,
            }
        }
    }
}

/// An error in Vault's envelope: status + the `errors` array (usually one message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {}", errors.join("; "))]
pub struct VaultError {
    pub status: u16,
    pub errors: Vec<String>,
}

/// An error of the core's own helpers (the shared field decoder, `tokenutil`) inside a cloud
/// backend.
impl From<super::error::VaultError> for VaultError {
    fn from(e: super::error::VaultError) -> Self {
        Self {
            status: e.status,
            errors: e.message.into_iter().collect(),
        }
    }
}

impl VaultError {
    /// `logical.ErrorResponse`: a 400 with one message.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(400, msg)
    }

    /// A plain Go error returned by a handler: 500 with its text.
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(500, msg)
    }

    pub fn new(status: u16, msg: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![msg.into()],
        }
    }

    /// `logical.ErrPermissionDenied`: 403 `permission denied`.
    pub fn permission_denied() -> Self {
        Self::new(403, "permission denied")
    }

    /// What Vault answers for a read of nothing (a missing role or config): 404, no messages.
    pub fn not_found() -> Self {
        Self {
            status: 404,
            errors: Vec::new(),
        }
    }

    /// An operation the path does not support: 405.
    pub fn unsupported_operation() -> Self {
        Self::new(405, "1 error occurred:\n\t* unsupported operation\n\n")
    }

    /// A path the backend does not serve: 404.
    // UNVERIFIED: reference/aws.md §2 says "unknown path → 404"; the wording is Vault's
    // multierror rendering of `logical.ErrUnsupportedPath`.
    pub fn unsupported_path() -> Self {
        Self::new(404, "1 error occurred:\n\t* unsupported path\n\n")
    }
}
