//! IAM admin API v1 (`iam.googleapis.com`): service accounts and their keys, reference gcp.md
//! 1.5, 5.2, 5.4 and 6.6.
//!
//! Upstream: <https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts>
//!
//! Endpoints (`{project}` may be the wildcard `-`; `{account}` is an email or unique id):
//! - `GET    /v1/projects/{project}/serviceAccounts` (list)
//! - `POST   /v1/projects/{project}/serviceAccounts` (create)
//! - `GET    /v1/projects/{project}/serviceAccounts/{account}` (what Vault's iam login calls)
//! - `DELETE /v1/projects/{project}/serviceAccounts/{account}`
//! - `POST   /v1/projects/{project}/serviceAccounts/{account}:disable` and `:enable`
//! - `GET    /v1/projects/{project}/serviceAccounts/{account}/keys[?keyTypes=USER_MANAGED]`
//! - `POST   /v1/projects/{project}/serviceAccounts/{account}/keys` (a key file, at most
//!   [`MAX_USER_KEYS`] user-managed keys)
//! - `GET    /v1/projects/{project}/serviceAccounts/{account}/keys/{kid}[?publicKeyType=TYPE_X509_PEM_FILE]`
//! - `DELETE /v1/projects/{project}/serviceAccounts/{account}/keys/{kid}`
//!
//! Permissions (authsim's model; every call needs a bearer token this mock issued):
//! - get: the account itself, a Token Creator on it, or a project role in
//!   [`SA_GET_ROLES`]; list: a role in [`SA_GET_ROLES`];
//! - create, delete, disable, enable: a project role in [`SA_ADMIN_ROLES`];
//! - keys list/get: a project role in [`KEY_VIEW_ROLES`]; keys create/delete: [`KEY_ADMIN_ROLES`].
//!
//! A caller without the permission gets `403 Permission '…' denied on resource (or it may not
//! exist).`, whether or not the account exists; one with it gets `404` for an unknown account.
//!
//! **Not modelled:** `patch`, `undelete`, `signJwt`/`signBlob` of IAM v1 (the path is served by
//! iamcredentials' rules), service-account IAM policies (`getIamPolicy`/`setIamPolicy` on an
//! account; Token Creator grants come from the world), key upload, key `disable`/`enable`,
//! `TYPE_PKCS12_FILE` keys, algorithms other than RSA-2048, `TYPE_RAW_PUBLIC_KEY`, paging, the
//! `fields` parameter, and the eventual consistency of real IAM (new accounts are visible at once).

use std::time::SystemTime;

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::error::GcpError;
use super::extract::{
    authenticate, bearer, json_response, parse_json, query_pairs, Caller, Empty, GcpJson, GcpPath,
};
use super::GcpState;
use crate::clock::{rfc3339, Clock};
use crate::world::gcp::{
    ServiceAccount, KEY_ADMIN_ROLES, KEY_VIEW_ROLES, MAX_USER_KEYS, SA_ADMIN_ROLES, SA_GET_ROLES,
};
use crate::world::{RsaKey, World};

// ------------------------------------------------------------------------------------ wire types

/// A `ServiceAccount` resource (reference gcp.md 6.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountJson {
    pub name: String,
    pub project_id: String,
    pub unique_id: String,
    pub email: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub etag: String,
    pub oauth2_client_id: String,
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListServiceAccountsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<ServiceAccountJson>,
}

/// The `serviceAccount` member of a create request. Output-only members are accepted and ignored,
/// as Google does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountInput {
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing)]
    pub name: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub project_id: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub unique_id: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub email: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub etag: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub oauth2_client_id: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub disabled: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateServiceAccountRequest {
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub service_account: Option<ServiceAccountInput>,
}

/// A `ServiceAccountKey` resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountKeyJson {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_type: Option<String>,
    /// Base64 of the key file (keys.create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_data: Option<String>,
    /// Base64 of the certificate PEM (keys.get with `publicKeyType=TYPE_X509_PEM_FILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_data: Option<String>,
    pub valid_after_time: String,
    pub valid_before_time: String,
    pub key_algorithm: String,
    pub key_origin: String,
    pub key_type: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListKeysResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<ServiceAccountKeyJson>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyRequest {
    #[serde(default)]
    pub private_key_type: Option<String>,
    #[serde(default)]
    pub key_algorithm: Option<String>,
}

/// The body of `:disable` / `:enable` (an empty message).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyRequest {}

// ------------------------------------------------------------------------------- the rules

const USER_KEY_VALID_BEFORE: &str = "9999-12-31T23:59:59Z";
/// Google-managed keys rotate every couple of weeks at Google; the world's are fixed and their
/// certificates carry these validity bounds.
const SYSTEM_KEY_VALID_AFTER: &str = "2020-01-01T00:00:00Z";
const SYSTEM_KEY_VALID_BEFORE: &str = "2040-01-01T00:00:00Z";

pub fn service_account_json(sa: &ServiceAccount) -> ServiceAccountJson {
    let h = crate::world::derive(
        "etag",
        &format!(
            "{}/{}/{}/{}",
            sa.unique_id, sa.display_name, sa.description, sa.disabled
        ),
    );
    ServiceAccountJson {
        name: format!("projects/{}/serviceAccounts/{}", sa.project, sa.email),
        project_id: sa.project.clone(),
        unique_id: sa.unique_id.clone(),
        email: sa.email.clone(),
        display_name: sa.display_name.clone(),
        description: sa.description.clone(),
        etag: STANDARD.encode(&h[..8]),
        oauth2_client_id: sa.unique_id.clone(),
        disabled: sa.disabled,
    }
}

fn key_name(sa: &ServiceAccount, kid: &str) -> String {
    format!(
        "projects/{}/serviceAccounts/{}/keys/{kid}",
        sa.project, sa.email
    )
}

fn user_key_json(
    sa: &ServiceAccount,
    key: &RsaKey,
    valid_after: SystemTime,
    disabled: bool,
) -> ServiceAccountKeyJson {
    ServiceAccountKeyJson {
        name: key_name(sa, key.key_id()),
        private_key_type: None,
        private_key_data: None,
        public_key_data: None,
        valid_after_time: rfc3339(valid_after),
        valid_before_time: USER_KEY_VALID_BEFORE.into(),
        key_algorithm: "KEY_ALG_RSA_2048".into(),
        key_origin: "GOOGLE_PROVIDED".into(),
        key_type: "USER_MANAGED".into(),
        disabled,
    }
}

fn system_key_json(sa: &ServiceAccount, key: &RsaKey) -> ServiceAccountKeyJson {
    ServiceAccountKeyJson {
        name: key_name(sa, key.key_id()),
        private_key_type: None,
        private_key_data: None,
        public_key_data: None,
        valid_after_time: SYSTEM_KEY_VALID_AFTER.into(),
        valid_before_time: SYSTEM_KEY_VALID_BEFORE.into(),
        key_algorithm: "KEY_ALG_RSA_2048".into(),
        key_origin: "GOOGLE_PROVIDED".into(),
        key_type: "SYSTEM_MANAGED".into(),
        disabled: false,
    }
}

/// `projects/{project}/serviceAccounts/{name}`: by email or unique id; a real project id must be
/// the account's own.
pub fn lookup<'w>(world: &'w World, project: &str, name: &str) -> Option<&'w ServiceAccount> {
    world
        .gcp
        .find_account(name)
        .filter(|sa| project == "-" || sa.project == project)
}

fn may(world: &World, caller: &Caller, project: &str, roles: &[&str]) -> bool {
    if project == "-" {
        world.gcp.has_role_anywhere(&caller.email, roles)
    } else {
        world.gcp.has_project_role(project, &caller.email, roles)
    }
}

/// UNVERIFIED wording: what IAM answers for an account that does not exist.
fn unknown_account() -> GcpError {
    GcpError::not_found("Unknown service account").with_reason("notFound")
}

/// Resolves `name` for a call needing `permission`, granted by `roles` on the account's project
/// (or by `extra` on the account itself).
fn authorize<'w>(
    world: &'w World,
    caller: &Caller,
    project: &str,
    name: &str,
    permission: &str,
    roles: &[&str],
    extra: impl Fn(&ServiceAccount) -> bool,
) -> Result<&'w ServiceAccount, GcpError> {
    let resource = format!("projects/{project}/serviceAccounts/{name}");
    match lookup(world, project, name) {
        Some(sa)
            if extra(sa)
                || world
                    .gcp
                    .has_project_role(&sa.project, &caller.email, roles) =>
        {
            Ok(sa)
        }
        Some(_) => Err(GcpError::permission_denied(permission, Some(&resource))),
        None if may(world, caller, project, roles) => Err(unknown_account()),
        None => Err(GcpError::permission_denied(permission, Some(&resource))),
    }
}

/// `serviceAccounts.get`: what Vault's iam login calls with its own token. A 403 here makes Vault
/// answer 500 (reference gcp.md 1.5).
pub fn get(
    world: &World,
    caller: &Caller,
    project: &str,
    name: &str,
) -> Result<ServiceAccountJson, GcpError> {
    let sa = authorize(
        world,
        caller,
        project,
        name,
        "iam.serviceAccounts.get",
        SA_GET_ROLES,
        |sa| sa.email == caller.email || world.gcp.may_impersonate(&caller.email, sa),
    )?;
    Ok(service_account_json(sa))
}

pub fn list(
    world: &World,
    caller: &Caller,
    project: &str,
) -> Result<ListServiceAccountsResponse, GcpError> {
    if !world.gcp.projects.contains_key(project)
        || !world
            .gcp
            .has_project_role(project, &caller.email, SA_GET_ROLES)
    {
        return Err(GcpError::permission_denied(
            "iam.serviceAccounts.list",
            Some(&format!("projects/{project}")),
        ));
    }
    Ok(ListServiceAccountsResponse {
        accounts: world
            .gcp
            .service_accounts
            .values()
            .filter(|sa| sa.project == project)
            .map(service_account_json)
            .collect(),
    })
}

/// Google's rule for account ids: `[a-z]([-a-z0-9]*[a-z0-9])`, 6 to 30 characters (UNVERIFIED,
/// reference gcp.md 5.4).
pub fn valid_account_id(id: &str) -> bool {
    let b = id.as_bytes();
    (6..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

pub fn create(
    world: &mut World,
    clock: &dyn Clock,
    caller: &Caller,
    project: &str,
    req: &CreateServiceAccountRequest,
) -> Result<ServiceAccountJson, GcpError> {
    if !world.gcp.projects.contains_key(project)
        || !world
            .gcp
            .has_project_role(project, &caller.email, SA_ADMIN_ROLES)
    {
        return Err(GcpError::permission_denied(
            "iam.serviceAccounts.create",
            Some(&format!("projects/{project}")),
        ));
    }
    let id = &req.account_id;
    if !valid_account_id(id) {
        // UNVERIFIED wording.
        return Err(GcpError::invalid_argument(format!(
            "Invalid account ID \"{id}\": it must be 6 to 30 characters and match the regular expression [a-z]([-a-z0-9]*[a-z0-9])."
        )));
    }
    let email = format!("{id}@{project}.iam.gserviceaccount.com");
    if world.gcp.service_accounts.contains_key(&email) {
        // UNVERIFIED (reference gcp.md 6.1): 409 ALREADY_EXISTS.
        return Err(GcpError::new(
            409,
            format!("Service account {id} already exists within project projects/{project}."),
        ));
    }
    world.gcp.add_service_account(id, project, 0, clock.now());
    let sa = world
        .gcp
        .service_accounts
        .get_mut(&email)
        .expect("just added");
    let input = req.service_account.clone().unwrap_or_default();
    sa.display_name = input.display_name;
    sa.description = input.description;
    Ok(service_account_json(sa))
}

pub fn delete(
    world: &mut World,
    caller: &Caller,
    project: &str,
    name: &str,
) -> Result<Empty, GcpError> {
    let email = authorize(
        world,
        caller,
        project,
        name,
        "iam.serviceAccounts.delete",
        SA_ADMIN_ROLES,
        |_| false,
    )?
    .email
    .clone();
    world.gcp.delete_service_account(&email);
    Ok(Empty {})
}

/// `:disable` (`disabled = true`) or `:enable`.
pub fn set_disabled(
    world: &mut World,
    caller: &Caller,
    project: &str,
    name: &str,
    disabled: bool,
) -> Result<Empty, GcpError> {
    let permission = if disabled {
        "iam.serviceAccounts.disable"
    } else {
        "iam.serviceAccounts.enable"
    };
    let email = authorize(
        world,
        caller,
        project,
        name,
        permission,
        SA_ADMIN_ROLES,
        |_| false,
    )?
    .email
    .clone();
    if let Some(sa) = world.gcp.service_accounts.get_mut(&email) {
        sa.disabled = disabled;
    }
    Ok(Empty {})
}

pub fn list_keys(
    world: &World,
    caller: &Caller,
    project: &str,
    name: &str,
    key_types: &[String],
) -> Result<ListKeysResponse, GcpError> {
    let (mut user, mut system) = (key_types.is_empty(), key_types.is_empty());
    for t in key_types {
        match t.as_str() {
            "USER_MANAGED" => user = true,
            "SYSTEM_MANAGED" => system = true,
            "KEY_TYPE_UNSPECIFIED" => (user, system) = (true, true),
            other => {
                return Err(GcpError::invalid_argument(format!(
                    "Invalid value at 'key_types' (type.googleapis.com/google.iam.admin.v1.ListServiceAccountKeysRequest.KeyType), \"{other}\""
                )))
            }
        }
    }
    let sa = authorize(
        world,
        caller,
        project,
        name,
        "iam.serviceAccountKeys.list",
        KEY_VIEW_ROLES,
        |_| false,
    )?;
    let mut keys = Vec::new();
    if user {
        keys.extend(
            sa.user_keys
                .iter()
                .map(|k| user_key_json(sa, &k.key, k.valid_after, k.disabled)),
        );
    }
    if system {
        keys.extend(sa.system_keys.iter().map(|k| system_key_json(sa, k)));
    }
    Ok(ListKeysResponse { keys })
}

pub fn get_key(
    world: &World,
    caller: &Caller,
    project: &str,
    name: &str,
    kid: &str,
    public_key_type: Option<&str>,
) -> Result<ServiceAccountKeyJson, GcpError> {
    let with_cert = match public_key_type {
        None | Some("TYPE_NONE") => false,
        Some("TYPE_X509_PEM_FILE") => true,
        Some(other) => {
            return Err(GcpError::invalid_argument(format!(
                "authsim does not model publicKeyType {other}; use TYPE_X509_PEM_FILE or TYPE_NONE"
            )))
        }
    };
    let sa = authorize(
        world,
        caller,
        project,
        name,
        "iam.serviceAccountKeys.get",
        KEY_VIEW_ROLES,
        |_| false,
    )?;
    let (key, mut json) = if let Some(k) = sa.user_keys.iter().find(|k| k.key.key_id() == kid) {
        (&k.key, user_key_json(sa, &k.key, k.valid_after, k.disabled))
    } else if let Some(k) = sa.system_keys.iter().find(|k| k.key_id() == kid) {
        (k, system_key_json(sa, k))
    } else {
        return Err(unknown_key(sa, kid));
    };
    if with_cert {
        json.public_key_data = Some(STANDARD.encode(&key.material().cert_pem));
    }
    Ok(json)
}

/// UNVERIFIED wording.
fn unknown_key(sa: &ServiceAccount, kid: &str) -> GcpError {
    GcpError::not_found(format!(
        "Service account key {} does not exist.",
        key_name(sa, kid)
    ))
    .with_reason("notFound")
}

/// A new user-managed key; the key file is built from it outside the world lock
/// ([`created_key_json`]), since generating the key material is slow.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub account: ServiceAccount,
    pub key: RsaKey,
    pub valid_after: SystemTime,
}

pub fn create_key(
    world: &mut World,
    clock: &dyn Clock,
    caller: &Caller,
    project: &str,
    name: &str,
    req: &CreateKeyRequest,
) -> Result<CreatedKey, GcpError> {
    match req.private_key_type.as_deref() {
        None | Some("TYPE_GOOGLE_CREDENTIALS_FILE") | Some("TYPE_UNSPECIFIED") => {}
        Some(other) => {
            return Err(GcpError::invalid_argument(format!(
                "authsim does not model privateKeyType {other}; use TYPE_GOOGLE_CREDENTIALS_FILE"
            )))
        }
    }
    match req.key_algorithm.as_deref() {
        None | Some("KEY_ALG_RSA_2048") | Some("KEY_ALG_UNSPECIFIED") => {}
        Some(other) => {
            return Err(GcpError::invalid_argument(format!(
                "authsim does not model keyAlgorithm {other}; use KEY_ALG_RSA_2048"
            )))
        }
    }
    let sa = authorize(
        world,
        caller,
        project,
        name,
        "iam.serviceAccountKeys.create",
        KEY_ADMIN_ROLES,
        |_| false,
    )?;
    if sa.user_keys.len() >= MAX_USER_KEYS {
        // What Vault users report (reference gcp.md 5.4); UNVERIFIED against today's Google,
        // which may answer RESOURCE_EXHAUSTED instead.
        return Err(GcpError::failed_precondition("Precondition check failed.")
            .with_reason("failedPrecondition"));
    }
    let email = sa.email.clone();
    let now = clock.now();
    let key = world
        .gcp
        .create_user_key(&email, now)
        .expect("the account exists");
    Ok(CreatedKey {
        account: world.gcp.service_accounts[&email].clone(),
        key,
        valid_after: now,
    })
}

/// The keys.create answer: the key file, base64, with `token_uri` at this mock.
pub fn created_key_json(created: &CreatedKey, base_url: &str) -> ServiceAccountKeyJson {
    let file = super::key_file(&created.account, &created.key, base_url);
    let text = serde_json::to_string_pretty(&file).unwrap_or_default();
    ServiceAccountKeyJson {
        private_key_type: Some("TYPE_GOOGLE_CREDENTIALS_FILE".into()),
        private_key_data: Some(STANDARD.encode(text)),
        ..user_key_json(&created.account, &created.key, created.valid_after, false)
    }
}

pub fn delete_key(
    world: &mut World,
    caller: &Caller,
    project: &str,
    name: &str,
    kid: &str,
) -> Result<Empty, GcpError> {
    let sa = authorize(
        world,
        caller,
        project,
        name,
        "iam.serviceAccountKeys.delete",
        KEY_ADMIN_ROLES,
        |_| false,
    )?;
    if sa.system_keys.iter().any(|k| k.key_id() == kid) {
        // UNVERIFIED wording.
        return Err(GcpError::invalid_argument(
            "System-managed keys cannot be deleted.",
        ));
    }
    if !sa.user_keys.iter().any(|k| k.key.key_id() == kid) {
        return Err(unknown_key(sa, kid));
    }
    let email = sa.email.clone();
    if let Some(sa) = world.gcp.service_accounts.get_mut(&email) {
        sa.user_keys.retain(|k| k.key.key_id() != kid);
    }
    Ok(Empty {})
}

// ------------------------------------------------------------------------------------ handlers

pub(crate) async fn get_handler(
    State(s): State<GcpState>,
    GcpPath((project, name)): GcpPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, GcpError> {
    let w = s.sim.world();
    let caller = authenticate(&w, s.sim.clock(), bearer(&headers))?;
    get(&w, &caller, &project, &name).map(|r| json_response(&r))
}

pub(crate) async fn delete_handler(
    State(s): State<GcpState>,
    GcpPath((project, name)): GcpPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, GcpError> {
    let mut w = s.sim.world_mut();
    let caller = authenticate(&w, s.sim.clock(), bearer(&headers))?;
    delete(&mut w, &caller, &project, &name).map(|r| json_response(&r))
}

/// `:disable` / `:enable`, dispatched from [`super::service_account_post`].
pub(crate) fn set_disabled_handler(
    s: &GcpState,
    headers: &HeaderMap,
    project: &str,
    name: &str,
    disabled: bool,
    body: &Bytes,
) -> Result<Response, GcpError> {
    let _: EmptyRequest = parse_json(body)?;
    let mut w = s.sim.world_mut();
    let caller = authenticate(&w, s.sim.clock(), bearer(headers))?;
    set_disabled(&mut w, &caller, project, name, disabled).map(|r| json_response(&r))
}

pub(crate) async fn list_handler(
    State(s): State<GcpState>,
    GcpPath(project): GcpPath<String>,
    headers: HeaderMap,
) -> Result<Response, GcpError> {
    let w = s.sim.world();
    let caller = authenticate(&w, s.sim.clock(), bearer(&headers))?;
    list(&w, &caller, &project).map(|r| json_response(&r))
}

pub(crate) async fn create_handler(
    State(s): State<GcpState>,
    GcpPath(project): GcpPath<String>,
    headers: HeaderMap,
    GcpJson(req): GcpJson<CreateServiceAccountRequest>,
) -> Result<Response, GcpError> {
    let mut w = s.sim.world_mut();
    let caller = authenticate(&w, s.sim.clock(), bearer(&headers))?;
    create(&mut w, s.sim.clock(), &caller, &project, &req).map(|r| json_response(&r))
}

pub(crate) async fn list_keys_handler(
    State(s): State<GcpState>,
    GcpPath((project, name)): GcpPath<(String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, GcpError> {
    let types: Vec<String> = query_pairs(&uri)
        .into_iter()
        .filter(|(k, _)| k == "keyTypes")
        .map(|(_, v)| v)
        .collect();
    let w = s.sim.world();
    let caller = authenticate(&w, s.sim.clock(), bearer(&headers))?;
    list_keys(&w, &caller, &project, &name, &types).map(|r| json_response(&r))
}

pub(crate) async fn create_key_handler(
    State(s): State<GcpState>,
    GcpPath((project, name)): GcpPath<(String, String)>,
    headers: HeaderMap,
    GcpJson(req): GcpJson<CreateKeyRequest>,
) -> Result<Response, GcpError> {
    let created = {
        let mut w = s.sim.world_mut();
        let caller = authenticate(&w, s.sim.clock(), bearer(&headers))?;
        create_key(&mut w, s.sim.clock(), &caller, &project, &name, &req)?
    };
    Ok(json_response(&created_key_json(&created, &s.base_url)))
}

pub(crate) async fn get_key_handler(
    State(s): State<GcpState>,
    GcpPath((project, name, kid)): GcpPath<(String, String, String)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, GcpError> {
    let pairs = query_pairs(&uri);
    let public_key_type = super::extract::query_get(&pairs, "publicKeyType");
    let w = s.sim.world();
    let caller = authenticate(&w, s.sim.clock(), bearer(&headers))?;
    get_key(&w, &caller, &project, &name, &kid, public_key_type).map(|r| json_response(&r))
}

pub(crate) async fn delete_key_handler(
    State(s): State<GcpState>,
    GcpPath((project, name, kid)): GcpPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, GcpError> {
    let mut w = s.sim.world_mut();
    let caller = authenticate(&w, s.sim.clock(), bearer(&headers))?;
    delete_key(&mut w, &caller, &project, &name, &kid).map(|r| json_response(&r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcp_account_ids_follow_google_rule() {
        for ok in ["abcdef", "vault-app-1", "a23456789012345678901234567890"] {
            assert!(valid_account_id(ok), "{ok}");
        }
        for bad in [
            "abcde",
            "1abcdef",
            "abcdef-",
            "Abcdef",
            "abc_def",
            "a234567890123456789012345678901",
        ] {
            assert!(!valid_account_id(bad), "{bad}");
        }
    }
}
