//! Mock Google Cloud: iamcredentials, IAM, public keys, OAuth2 token endpoint, metadata server,
//! Compute and Resource Manager, on one listener (reference gcp.md section 6).

pub mod certs;
pub mod compute;
pub mod error;
pub mod extract;
pub mod iam;
pub mod iam_credentials;
pub mod metadata;
pub mod oauth2;
pub mod resource_manager;

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::HeaderMap;

use crate::sim::Sim;
use error::GcpError;
use extract::{split_verb, GcpPath};

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

/// Every Google route. Custom methods (`name:verb`) share a path segment with the resource name,
/// so their routes capture the whole segment and split it at the last `:`. Unknown routes are
/// answered by the listener's fallback ([`crate::sim::wrap`]) in Google's 404 envelope; known
/// paths with the wrong method get Google's envelope too.
pub fn router(state: GcpState) -> Router {
    Router::new()
        // iamcredentials and IAM admin (custom methods share the resource's path)
        .route(
            "/v1/projects/{project}/serviceAccounts/{name}",
            get(iam::get_handler)
                .delete(iam::delete_handler)
                .post(service_account_post),
        )
        .route(
            "/v1/projects/{project}/serviceAccounts",
            get(iam::list_handler).post(iam::create_handler),
        )
        .route(
            "/v1/projects/{project}/serviceAccounts/{name}/keys",
            get(iam::list_keys_handler).post(iam::create_key_handler),
        )
        .route(
            "/v1/projects/{project}/serviceAccounts/{name}/keys/{kid}",
            get(iam::get_key_handler).delete(iam::delete_key_handler),
        )
        // public keys
        .route("/oauth2/v1/certs", get(certs::oauth2_v1))
        .route("/oauth2/v3/certs", get(certs::oauth2_v3))
        .route(
            "/service_accounts/v1/metadata/x509/{account}",
            get(certs::x509),
        )
        .route(
            "/service_accounts/v1/metadata/jwk/{account}",
            get(certs::jwk),
        )
        // OAuth2 token endpoint
        .route(oauth2::TOKEN_PATHS[0], post(oauth2::token))
        .route(oauth2::TOKEN_PATHS[1], post(oauth2::token))
        .route(oauth2::TOKEN_PATHS[2], post(oauth2::token))
        // GCE metadata server
        .route("/", get(metadata::root))
        .route("/computeMetadata/v1/{*path}", get(metadata::handler))
        // Compute, with and without the /compute/v1 base path
        .route(
            "/compute/v1/projects/{project}/zones/{zone}/instances/{name}",
            get(compute::instance_handler),
        )
        .route(
            "/projects/{project}/zones/{zone}/instances/{name}",
            get(compute::instance_handler),
        )
        .route(
            "/compute/v1/projects/{project}/aggregated/instanceGroups",
            get(compute::aggregated_groups_handler),
        )
        .route(
            "/projects/{project}/aggregated/instanceGroups",
            get(compute::aggregated_groups_handler),
        )
        .route(
            "/compute/v1/projects/{project}/zones/{zone}/instanceGroups/{group}/listInstances",
            post(compute::list_instances_handler),
        )
        .route(
            "/projects/{project}/zones/{zone}/instanceGroups/{group}/listInstances",
            post(compute::list_instances_handler),
        )
        // Resource Manager (`{project}:{verb}`)
        .route("/v1/projects/{segment}", post(resource_manager::v1_handler))
        .route("/v3/projects/{segment}", post(resource_manager::v3_handler))
        .method_not_allowed_fallback(extract::method_not_allowed)
        .with_state(state)
}

/// Google's answer for a path it does not serve (the same text as the listener's fallback).
pub(crate) fn unknown_url(path: &str) -> GcpError {
    GcpError::not_found(format!(
        "The requested URL {path} was not found on this server."
    ))
}

/// `POST /v1/projects/{project}/serviceAccounts/{name}:{verb}`.
async fn service_account_post(
    State(s): State<GcpState>,
    GcpPath((project, segment)): GcpPath<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GcpError> {
    let Some((name, verb)) = split_verb(&segment) else {
        return Err(unknown_url(uri.path()));
    };
    if let Some(v) = iam_credentials::Verb::parse(verb) {
        return iam_credentials::handle(&s, &headers, &project, name, v, &body);
    }
    match verb {
        "disable" => iam::set_disabled_handler(&s, &headers, &project, name, true, &body),
        "enable" => iam::set_disabled_handler(&s, &headers, &project, name, false, &body),
        _ => Err(unknown_url(uri.path())),
    }
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
