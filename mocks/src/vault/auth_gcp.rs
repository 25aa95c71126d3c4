//! The Vault GCP auth method (`auth/gcp`), as a transport-free backend the mock Vault core
//! mounts: [`GcpAuthBackend::handle`] takes a [`BackendRequest`] with the path relative to the
//! mount and answers a [`BackendResponse`] or a [`VaultError`] (status + Vault's `errors`).
//!
//! Upstream: `hashicorp/vault-plugin-auth-gcp` (reference gcp.md sections 1-4, 7), API docs
//! <https://developer.hashicorp.com/vault/api-docs/auth/gcp>.
//!
//! Paths:
//! - `config`: read, create/update (`credentials`, `iam_alias`, `iam_metadata`, `gce_alias`,
//!   `gce_metadata`, `custom_endpoint` {api, iam, crm, compute}, `google_certs_endpoint`
//!   (ignored), `service_account_email`, `identity_token_audience`, `identity_token_ttl`);
//!   delete → 405.
//! - `role/:name`: read, create/update, delete; `role/:name/service-accounts` and
//!   `role/:name/labels` (`add`/`remove`); list on `role/` and `roles/`.
//! - `login` (`role`, `jwt`) for `iam` and `gce` roles; [`GcpAuthBackend::renew`] for renewal.
//!
//! Google is reached **only over HTTP** (DESIGN.md invariant 1): public keys at
//! `custom_endpoint.api` (default `https://www.googleapis.com`), IAM, Resource Manager and
//! Compute at their `custom_endpoint` values with the Go clients' base-path rules, and Vault's own
//! OAuth token from the `credentials` key file.
//!
//! One deliberate difference from the real plugin: it drops the key file's `token_uri` and posts
//! its JWT-bearer grant to `https://oauth2.googleapis.com/token` (reference gcp.md 1.5.1); this
//! backend keeps `token_uri`, so a key file from the mock points the token exchange at the mock.
//! A real Vault needs `GOOGLE_APPLICATION_CREDENTIALS` (empty `credentials`) for the same effect.
//!
//! Contract with the core:
//! - A read of a missing role and an empty list answer 404 with no message (`{"errors":[]}`);
//!   an unknown path 404 and an unsupported operation 405, with the framework's texts.
//! - [`LoginOutcome::policies`] and `token_policies` are the role's policies plus `default`
//!   (unless `token_no_default_policy`), sorted; `max_ttl` is the nearer of `token_max_ttl`
//!   and `token_explicit_max_ttl`; `token_type` is the role's setting (`default` included).
//! - [`LoginOutcome::internal`] carries what renewal needs (role, account, instance, policies,
//!   metadata, display and alias names) and, when `add_group_aliases` is set, the group alias
//!   names under `group_aliases` (`project-P`, `folder-N`, `organization-N`).
//!
//! A login's remote address is only known through [`GcpAuthBackend::handle_from`]: a role with
//! `token_bound_cidrs` refuses a login from outside them with 403 `permission denied`, and every
//! login through [`GcpAuthBackend::handle`] (no connection info), as the AWS backend does.
//!
//! **Not modelled:** the alias lookahead operation, Workload Identity Federation logins (the fields are stored only),
//! `config/rotate-root` and automated root rotation, Application Default Credentials (no
//! `credentials` means every authenticated Google call fails), the help text, and storage
//! (state lives in memory, behind locks).

mod config;
mod fields;
mod google;
mod jwt;
mod login;
mod role;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use serde_json::{json, Map, Value};

use crate::clock::Clock;
use crate::vault::backend::{BackendRequest, BackendResponse, LoginOutcome, Operation, VaultError};
use config::Config;
use role::Role;

pub(crate) type VaultResult<T> = Result<T, VaultError>;

/// A `logical.ErrorResponse`: 400 with the message.
pub(crate) fn bad_request(msg: impl Into<String>) -> VaultError {
    VaultError::bad_request(msg)
}

/// A bare Go error from a login handler: 500 with the message, unwrapped.
pub(crate) fn internal_error(msg: impl Into<String>) -> VaultError {
    VaultError::internal(msg)
}

/// The GCP auth method of one mount.
#[derive(Debug)]
pub struct GcpAuthBackend {
    clock: Arc<dyn Clock>,
    google: google::GoogleClient,
    /// Shared with the logins that read it: a login takes a reference, not a copy of the
    /// credentials and endpoints.
    config: RwLock<Option<Arc<Config>>>,
    /// By lower-cased name.
    roles: RwLock<BTreeMap<String, Role>>,
}

impl GcpAuthBackend {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            google: google::GoogleClient::new(),
            config: RwLock::new(None),
            roles: RwLock::new(BTreeMap::new()),
        }
    }

    fn config_snapshot(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
    }

    fn role_snapshot(&self, lower_name: &str) -> Option<Role> {
        self.roles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(lower_name)
            .cloned()
    }

    /// Handles one request to the mount, without connection info.
    pub async fn handle(&self, req: BackendRequest) -> Result<BackendResponse, VaultError> {
        self.handle_from(req, None).await
    }

    /// Handles a request whose client connected from `remote` (checked against a role's
    /// `token_bound_cidrs` at login).
    pub async fn handle_from(
        &self,
        req: BackendRequest,
        remote: Option<IpAddr>,
    ) -> Result<BackendResponse, VaultError> {
        use Operation::*;
        let path = req.path.trim_start_matches('/');
        let segments: Vec<&str> = path.split('/').collect();
        match (segments.as_slice(), req.operation) {
            (["login"], Create | Update) => self
                .login(&req.data, remote)
                .await
                .map(BackendResponse::Login),
            (["login"], _) => Err(VaultError::unsupported_operation()),
            (["config"], Read) => Ok(config::read(&self.config_snapshot())),
            (["config"], Create | Update) => {
                let next = config::write(&self.config_snapshot(), &req.data)?;
                *self.config.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(next));
                self.google.reset();
                Ok(BackendResponse::NoContent)
            }
            (["config"], _) => Err(VaultError::unsupported_operation()),
            (["role" | "roles"] | ["role" | "roles", ""], List) => self.list_roles(),
            (["role" | "roles"] | ["role" | "roles", ""], _) => {
                Err(VaultError::unsupported_operation())
            }
            (["role", name], op) if role::valid_name(name) => self.role_path(name, op, &req.data),
            (["role", name, edit @ ("service-accounts" | "labels")], Create | Update)
                if role::valid_name(name) =>
            {
                self.edit_role(name, edit, &req.data)
            }
            (["role", name, "service-accounts" | "labels"], _) if role::valid_name(name) => {
                Err(VaultError::unsupported_operation())
            }
            _ => Err(VaultError::unsupported_path()),
        }
    }

    /// Renews a token from a login of this backend, given the token's `internal` data.
    pub async fn renew(&self, internal: &Map<String, Value>) -> Result<LoginOutcome, VaultError> {
        self.renew_login(internal).await
    }

    fn list_roles(&self) -> VaultResult<BackendResponse> {
        let keys: Vec<String> = self
            .roles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        if keys.is_empty() {
            return Err(VaultError::not_found());
        }
        Ok(BackendResponse::Data {
            data: json!({ "keys": keys }),
            warnings: Vec::new(),
        })
    }

    fn role_path(
        &self,
        name: &str,
        op: Operation,
        data: &Map<String, Value>,
    ) -> VaultResult<BackendResponse> {
        let key = name.to_lowercase();
        match op {
            Operation::Read => self
                .role_snapshot(&key)
                .map(|r| role::read(&r))
                .ok_or_else(VaultError::not_found),
            // `pathRoleDelete` deletes `role/<name as given>` while writes store the name
            // lower-cased: deleting `App` leaves the role `app` in place.
            Operation::Delete => {
                self.roles
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(name);
                Ok(BackendResponse::NoContent)
            }
            Operation::Create | Operation::Update => {
                let mut roles = self.roles.write().unwrap_or_else(|p| p.into_inner());
                let (role, warnings) = role::write(roles.get(&key), data)?;
                roles.insert(key, role);
                Ok(BackendResponse::written(warnings))
            }
            Operation::List => Err(VaultError::unsupported_operation()),
        }
    }

    fn edit_role(
        &self,
        name: &str,
        edit: &str,
        data: &Map<String, Value>,
    ) -> VaultResult<BackendResponse> {
        let mut roles = self.roles.write().unwrap_or_else(|p| p.into_inner());
        let current = roles.get(&name.to_lowercase());
        let (next, warnings) = if edit == "labels" {
            role::edit_labels(current, name, data)?
        } else {
            role::edit_service_accounts(current, name, data)?
        };
        // The edit reads the role lower-cased but stores it under the name as given: an edit
        // of `App` lands in an entry of its own, which logins and reads (of `app`) never see.
        roles.insert(name.to_owned(), next);
        Ok(BackendResponse::written(warnings))
    }
}
