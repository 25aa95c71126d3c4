//! Mock Google Cloud: iamcredentials, IAM, public keys, OAuth2 token endpoint, metadata server,
//! Compute and Resource Manager, on one listener (reference gcp.md section 6).

pub mod error;

use std::sync::Arc;

use axum::Router;

use crate::sim::Sim;

/// What the Google handlers share.
#[derive(Clone, Debug)]
pub struct GcpState {
    pub sim: Sim,
    /// This listener's base URL (`http://127.0.0.1:4580`), for `token_uri` and certificate URLs.
    pub base_url: Arc<str>,
}

impl GcpState {
    pub fn new(sim: Sim, base_url: String) -> Self {
        Self {
            sim,
            base_url: Arc::from(base_url),
        }
    }
}

pub fn router(state: GcpState) -> Router {
    Router::new().with_state(state)
}

/// A service-account key file (`type: service_account`) for one of `sa`'s user-managed keys, with
/// `token_uri` at this mock (reference gcp.md 6.5).
pub fn key_file(
    sa: &crate::world::gcp::ServiceAccount,
    key: &crate::world::RsaKey,
    base_url: &str,
) -> serde_json::Value {
    let m = key.material();
    serde_json::json!({
        "type": "service_account",
        "project_id": sa.project,
        "private_key_id": key.key_id(),
        "private_key": m.private_key_pem,
        "client_email": sa.email,
        "client_id": sa.unique_id,
        "auth_uri": format!("{base_url}/o/oauth2/auth"),
        "token_uri": format!("{base_url}/token"),
        "auth_provider_x509_cert_url": format!("{base_url}/oauth2/v1/certs"),
        "client_x509_cert_url": format!("{base_url}/service_accounts/v1/metadata/x509/{}", sa.email),
        "universe_domain": "googleapis.com",
    })
}
