//! Vault's AWS auth method, `auth/<mount>/…` (reference aws.md §1-3): `config/client`,
//! `config/identity`, `config/sts/<account_id>`, `config/certificate/<cert_name>`, `role/<role>`,
//! `identity-accesslist/<instance_id>`, and `login` with the `iam` method (the client's signed `GetCallerIdentity`, checked and
//! forwarded to STS) and the `ec2` method (a signed instance identity document).
//! Upstream: <https://developer.hashicorp.com/vault/api-docs/auth/aws>.
//!
//! The backend is transport-free: the Vault core routes a [`BackendRequest`] here and renders
//! the [`BackendResponse`] or [`VaultError`]. It reaches AWS **only over HTTP** through the
//! endpoints in `config/client` (`sts_endpoint`, `iam_endpoint`, `endpoint`), signing its own
//! calls with the `config/client` keys (DESIGN.md invariant 1); without `config/client` logins go
//! to `https://sts.amazonaws.com`, as Vault's do.
//!
//! [`LoginOutcome`] conventions: `policies` and `token_policies` already contain `default` unless
//! the role sets `token_no_default_policy` (the core must not add it again); `internal` holds
//! what [`AwsAuthBackend::renew`] needs (Vault's `InternalData`, `client_arn`, and `auth_type`
//! when the configured metadata keeps it, since Vault routes a renewal by the token's metadata),
//! so the core stores it with the token and hands it back on renewal. A login's
//! remote address is only known through [`AwsAuthBackend::handle_from`]; through
//! [`AwsAuthBackend::handle`] a role with `token_bound_cidrs` refuses every login, as Vault does
//! without connection info.
//!
//! **Not modelled:** `use_sts_region_from_client` endpoints other than the public
//! `sts.<region>.amazonaws.com` names; the SDK credential chain beyond `config/client` keys;
//! role tags (`role/<role>/tag`), the role-tag deny list, `tidy/*`, `config/tidy/*` (the
//! `identity-accesslist` is read, listed and deleted by hand, never tidied);
//! the V-new plugin-WIF and rotation fields of `config/client`; `token_explicit_max_ttl` in the
//! [`LoginOutcome`] (it has no field there; it is stored and read back only); entity aliases'
//! metadata (only the alias name is returned).

mod arn;
mod config;
mod ec2;
mod fields;
mod forward;
mod login_ec2;
mod login_iam;
mod role;
mod sdk;
mod xml;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use crate::clock::Clock;
use crate::http_client::HttpClient;
use crate::vault::backend::{BackendRequest, BackendResponse, LoginOutcome, Operation, VaultError};
use arn::IamEntity;
use config::{CertConfig, ClientConfig, IdentityConfig, StsConfig};
use fields::go_quote;
use fields::Data;
use role::Role;
use sdk::{Keys, Target};
use xml::Node;

/// How long a unique ID → full ARN lookup is remembered (reference §1.7).
const ARN_CACHE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The AWS auth method of one mount.
#[derive(Debug)]
pub struct AwsAuthBackend {
    clock: Arc<dyn Clock>,
    http: HttpClient,
    state: Mutex<State>,
    /// Whether a successful iam login is followed by core's role resolution (a second STS
    /// call), as Vault does unless its server sets `imprecise_lease_role_tracking`.
    pub resolve_role_after_login: bool,
}

#[derive(Debug, Default)]
struct State {
    // Behind `Arc`s: a login takes what it reads of the configuration and its role out of the lock
    // without copying every binding list.
    client: Option<Arc<ClientConfig>>,
    identity: Arc<IdentityConfig>,
    sts: BTreeMap<String, StsConfig>,
    certs: BTreeMap<String, CertConfig>,
    /// By lowercased name.
    roles: BTreeMap<String, Arc<Role>>,
    /// Vault's own account, learned from `GetCallerIdentity`; flushed when `config/client` changes.
    own_account: Option<String>,
    /// Unique ID → (full ARN, expiry).
    arn_cache: HashMap<String, (String, SystemTime)>,
    /// ec2 logins by instance ID (Vault's `identity-accesslist`).
    access_list: BTreeMap<String, ec2::AccessListEntry>,
}

fn data_response(data: Value) -> BackendResponse {
    BackendResponse::Data {
        data,
        warnings: Vec::new(),
    }
}

/// Vault's answer to a list with nothing in it: 404.
fn list_response(keys: Vec<String>) -> Result<BackendResponse, VaultError> {
    if keys.is_empty() {
        return Err(VaultError::not_found());
    }
    Ok(data_response(json!({ "keys": keys })))
}

impl AwsAuthBackend {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        // Like Vault's cleanhttp client: a 30 s dial timeout, no redirects followed.
        let http = HttpClient::new(Duration::from_secs(30), None);
        Self {
            clock,
            http,
            state: Mutex::new(State::default()),
            resolve_role_after_login: true,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Handles a request to `auth/<mount>/<req.path>` without connection info.
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
        let path = req.path.trim_matches('/');
        let op = req.operation;
        let write = matches!(op, Operation::Create | Operation::Update);
        let data = &req.data;
        match path.split_once('/').unwrap_or((path, "")) {
            ("login", "") => match op {
                Operation::Create | Operation::Update => self.login(data, remote).await,
                _ => Err(VaultError::unsupported_operation()),
            },
            ("config", "client") => match op {
                Operation::Read => self
                    .state()
                    .client
                    .as_ref()
                    .map(|c| data_response(c.to_data()))
                    .ok_or_else(VaultError::not_found),
                _ if write => {
                    let mut st = self.state();
                    let updated = st
                        .client
                        .as_deref()
                        .cloned()
                        .unwrap_or_default()
                        .update(data)?;
                    st.client = Some(Arc::new(updated));
                    st.own_account = None;
                    Ok(BackendResponse::NoContent)
                }
                Operation::Delete => {
                    let mut st = self.state();
                    st.client = None;
                    st.own_account = None;
                    Ok(BackendResponse::NoContent)
                }
                _ => Err(VaultError::unsupported_operation()),
            },
            ("config", "identity") => match op {
                Operation::Read => Ok(data_response(self.state().identity.to_data())),
                _ if write => {
                    let mut st = self.state();
                    st.identity = Arc::new(st.identity.update(data)?);
                    Ok(BackendResponse::NoContent)
                }
                _ => Err(VaultError::unsupported_operation()),
            },
            ("config", "sts") if op == Operation::List => {
                list_response(self.state().sts.keys().cloned().collect())
            }
            ("config", rest) if rest.starts_with("sts/") => {
                let account = &rest["sts/".len()..];
                if account.is_empty() || account.contains('/') {
                    return Err(VaultError::unsupported_path());
                }
                let mut st = self.state();
                match op {
                    Operation::Read => st
                        .sts
                        .get(account)
                        .map(|c| data_response(c.to_data()))
                        .ok_or_else(VaultError::not_found),
                    _ if write => {
                        let old = st.sts.get(account);
                        let created = old.is_none();
                        let c = old.cloned().unwrap_or_default().update(data, created)?;
                        st.sts.insert(account.to_owned(), c);
                        Ok(BackendResponse::NoContent)
                    }
                    Operation::Delete => {
                        st.sts.remove(account);
                        Ok(BackendResponse::NoContent)
                    }
                    _ => Err(VaultError::unsupported_operation()),
                }
            }
            ("config", "certificates") if op == Operation::List => {
                list_response(self.state().certs.keys().cloned().collect())
            }
            ("config", rest) if rest.starts_with("certificate/") => {
                let name = &rest["certificate/".len()..];
                if !role::valid_name(name) {
                    return Err(VaultError::unsupported_path());
                }
                let mut st = self.state();
                match op {
                    Operation::Read => st
                        .certs
                        .get(name)
                        .map(|c| data_response(c.to_data()))
                        .ok_or_else(VaultError::not_found),
                    _ if write => {
                        let c = CertConfig::update(st.certs.get(name), data)?;
                        st.certs.insert(name.to_owned(), c);
                        Ok(BackendResponse::NoContent)
                    }
                    Operation::Delete => {
                        st.certs.remove(name);
                        Ok(BackendResponse::NoContent)
                    }
                    _ => Err(VaultError::unsupported_operation()),
                }
            }
            ("identity-accesslist", "") if op == Operation::List => {
                list_response(self.state().access_list.keys().cloned().collect())
            }
            ("identity-accesslist", id) if role::valid_name(id) => match op {
                Operation::Read => self
                    .state()
                    .access_list
                    .get(id)
                    .map(|e| data_response(e.to_data()))
                    .ok_or_else(VaultError::not_found),
                Operation::Delete => {
                    self.state().access_list.remove(id);
                    Ok(BackendResponse::NoContent)
                }
                _ => Err(VaultError::unsupported_operation()),
            },
            ("role" | "roles", "") if op == Operation::List => {
                list_response(self.state().roles.keys().cloned().collect())
            }
            ("role", name) if role::valid_name(name) => self.role(op, name, data).await,
            _ => Err(VaultError::unsupported_path()),
        }
    }

    async fn role(
        &self,
        op: Operation,
        name: &str,
        data: &Data,
    ) -> Result<BackendResponse, VaultError> {
        let key = name.to_lowercase();
        match op {
            Operation::Read => self
                .state()
                .roles
                .get(&key)
                .map(|r| data_response(r.to_data()))
                .ok_or_else(VaultError::not_found),
            Operation::Delete => {
                self.state().roles.remove(&key);
                Ok(BackendResponse::NoContent)
            }
            Operation::Create | Operation::Update => {
                let old = self.state().roles.get(&key).cloned();
                let mut r = Role::bind_fields(old.as_deref(), data)?;
                if r.needs_resolution() {
                    let mut ids = Vec::new();
                    for a in r
                        .bound_iam_principal_arn
                        .iter()
                        .filter(|a| !a.ends_with('*'))
                    {
                        let id = self.resolve_unique_id(a).await.map_err(|e| {
                            VaultError::bad_request(format!(
                                "unable to resolve ARN {} to internal ID: {e}",
                                go_quote(a)
                            ))
                        })?;
                        ids.push(id);
                    }
                    r.bound_iam_principal_id = ids;
                }
                let warnings = r.finish(old.is_none(), data)?;
                self.state().roles.insert(key, Arc::new(r));
                Ok(BackendResponse::written(warnings))
            }
            Operation::List => Err(VaultError::unsupported_operation()),
        }
    }

    // ------------------------------------------------------------------ Vault's own AWS calls

    fn client_config(&self) -> ClientConfig {
        self.state().client.as_deref().cloned().unwrap_or_default()
    }

    fn sts_target(cfg: &ClientConfig) -> Target {
        Target {
            service: "sts",
            region: if cfg.sts_region.is_empty() {
                "us-east-1".into()
            } else {
                cfg.sts_region.clone()
            },
            endpoint: if cfg.sts_endpoint.is_empty() {
                "https://sts.amazonaws.com".into()
            } else {
                cfg.sts_endpoint.clone()
            },
        }
    }

    /// Credentials that act in `account`: an assumed `config/sts/<account>` role, or the
    /// `config/client` keys if they belong to that account.
    async fn keys_for_account(&self, account: &str) -> Result<Keys, String> {
        let cfg = self.client_config();
        if cfg.access_key.is_empty() || cfg.secret_key.is_empty() {
            // UNVERIFIED: aws-sdk-go v1's text when no credential provider has keys. Without a
            // `config/sts` role it comes from Vault's own GetCallerIdentity, and is wrapped so.
            const NO_CREDENTIALS: &str = "NoCredentialProviders: no valid providers in chain. Deprecated.\n\tFor verbose messaging see aws.Config.CredentialsChainVerboseErrors";
            return Err(if self.state().sts.contains_key(account) {
                NO_CREDENTIALS.to_owned()
            } else {
                format!("unable to fetch current caller: {NO_CREDENTIALS}")
            });
        }
        let base = Keys {
            access_key: cfg.access_key.clone(),
            secret_key: cfg.secret_key.clone(),
            session_token: None,
        };
        let sts_role = self.state().sts.get(account).cloned();
        let sts = Self::sts_target(&cfg);
        if let Some(sts_role) = sts_role {
            let session = self
                .clock
                .now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos().to_string())
                .unwrap_or_default();
            let mut params = vec![
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", sts_role.sts_role.as_str()),
                ("RoleSessionName", session.as_str()),
                ("DurationSeconds", "900"),
            ];
            if !sts_role.external_id.is_empty() {
                params.push(("ExternalId", sts_role.external_id.as_str()));
            }
            let node = sdk::call(
                &self.http,
                &*self.clock,
                &base,
                &sts,
                &params,
                cfg.max_retries,
            )
            .await?;
            let creds = ["AssumeRoleResult", "Credentials"];
            let get = |f: &str| node.text_at(&[creds[0], creds[1], f]);
            return Ok(Keys {
                access_key: get("AccessKeyId"),
                secret_key: get("SecretAccessKey"),
                session_token: Some(get("SessionToken")),
            });
        }
        let cached = self.state().own_account.clone();
        let own = match cached {
            Some(a) => a,
            None => {
                let params = [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")];
                let node = sdk::call(
                    &self.http,
                    &*self.clock,
                    &base,
                    &sts,
                    &params,
                    cfg.max_retries,
                )
                .await
                .map_err(|e| format!("unable to fetch current caller: {e}"))?;
                let a = node.text_at(&["GetCallerIdentityResult", "Account"]);
                self.state().own_account = Some(a.clone());
                a
            }
        };
        if own != account {
            return Err(format!(
                "unable to fetch client for account ID {} -- default client is for account {}",
                go_quote(account),
                go_quote(&own)
            ));
        }
        Ok(base)
    }

    async fn iam_call(&self, account: &str, params: &[(&str, &str)]) -> Result<Node, String> {
        let keys = self.keys_for_account(account).await?;
        self.iam_call_as(&keys, params).await
    }

    async fn iam_call_as(&self, keys: &Keys, params: &[(&str, &str)]) -> Result<Node, String> {
        let cfg = self.client_config();
        let target = Target {
            service: "iam",
            region: "us-east-1".into(),
            endpoint: if cfg.iam_endpoint.is_empty() {
                "https://iam.amazonaws.com".into()
            } else {
                cfg.iam_endpoint.clone()
            },
        };
        sdk::call(
            &self.http,
            &*self.clock,
            keys,
            &target,
            params,
            cfg.max_retries,
        )
        .await
    }

    async fn ec2_call(
        &self,
        keys: &Keys,
        region: &str,
        params: &[(&str, &str)],
    ) -> Result<Node, String> {
        let cfg = self.client_config();
        let target = Target {
            service: "ec2",
            region: region.to_owned(),
            endpoint: if cfg.endpoint.is_empty() {
                format!("https://ec2.{region}.amazonaws.com")
            } else {
                cfg.endpoint.clone()
            },
        };
        sdk::call(
            &self.http,
            &*self.clock,
            keys,
            &target,
            params,
            cfg.max_retries,
        )
        .await
    }

    /// A bound ARN's unique ID (`AIDA…`, `AROA…`, `AIPA…`) from IAM.
    async fn resolve_unique_id(&self, arn: &str) -> Result<String, String> {
        let e = IamEntity::parse(arn)?;
        partition_known(&e)?;
        let (action, param, path) = match e.kind.as_str() {
            "user" => ("GetUser", "UserName", ["GetUserResult", "User", "UserId"]),
            "role" => ("GetRole", "RoleName", ["GetRoleResult", "Role", "RoleId"]),
            "instance-profile" => (
                "GetInstanceProfile",
                "InstanceProfileName",
                [
                    "GetInstanceProfileResult",
                    "InstanceProfile",
                    "InstanceProfileId",
                ],
            ),
            other => return Err(format!("unrecognized error type {}", go_quote(other))),
        };
        let node = self
            .iam_call(
                &e.account,
                &[
                    ("Action", action),
                    ("Version", "2010-05-08"),
                    (param, &e.friendly_name),
                ],
            )
            .await?;
        Ok(node.text_at(&path))
    }

    /// The full ARN (with path) of a login's principal, from the cache or IAM.
    async fn full_arn(&self, e: &IamEntity, unique_id: &str) -> Result<String, String> {
        let now = self.clock.now();
        if let Some((arn, exp)) = self.state().arn_cache.get(unique_id) {
            if now < *exp {
                return Ok(arn.clone());
            }
        }
        // Vault's `fullArn`: the partition, the client, then the entity's type, each failure
        // wrapped.
        partition_known(e)?;
        let keys = self
            .keys_for_account(&e.account)
            .await
            .map_err(|err| format!("error creating IAM client: {err}"))?;
        let (action, param, path, what) = match e.kind.as_str() {
            "user" => (
                "GetUser",
                "UserName",
                ["GetUserResult", "User", "Arn"],
                "user",
            ),
            "assumed-role" | "role" => (
                "GetRole",
                "RoleName",
                ["GetRoleResult", "Role", "Arn"],
                "role",
            ),
            other => return Err(format!("unrecognized entity type: {other}")),
        };
        let node = self
            .iam_call_as(
                &keys,
                &[
                    ("Action", action),
                    ("Version", "2010-05-08"),
                    (param, &e.friendly_name),
                ],
            )
            .await
            .map_err(|err| {
                format!(
                    "error fetching {what} {}: {err}",
                    go_quote(&e.friendly_name)
                )
            })?;
        let arn = node.text_at(&path);
        if !arn.is_empty() && !unique_id.is_empty() {
            self.state()
                .arn_cache
                .insert(unique_id.to_owned(), (arn.clone(), now + ARN_CACHE_TTL));
        }
        Ok(arn)
    }

    // ------------------------------------------------------------------ renewals

    /// Renews a token from this mount: re-checks the role and the principal's binding with what
    /// the login stored in `internal` (reference §1.10). Errors are plain (500), as Vault's.
    pub async fn renew(&self, internal: &Map<String, Value>) -> Result<LoginOutcome, VaultError> {
        // A token from before `auth_type` was stored is an ec2 one.
        let auth_type = internal
            .get("auth_type")
            .and_then(Value::as_str)
            .unwrap_or("ec2");
        match auth_type {
            "ec2" => self.renew_ec2(internal).await,
            "iam" => self.renew_iam(internal).await,
            other => Err(VaultError::internal(format!(
                "unrecognized auth_type: {}",
                go_quote(other)
            ))),
        }
    }
}

/// Token parameters of a login from the role.
fn outcome(
    role: &Role,
    metadata: BTreeMap<String, String>,
    display_name: String,
    alias_name: String,
    internal: Map<String, Value>,
) -> LoginOutcome {
    let t = &role.token;
    let opt = |secs: i64| (secs > 0).then(|| Duration::from_secs(secs as u64));
    let policies = role.login_policies();
    LoginOutcome {
        token_policies: policies.clone(),
        policies,
        metadata,
        display_name,
        alias_name,
        ttl: opt(t.ttl),
        max_ttl: opt(t.max_ttl),
        period: opt(t.period),
        num_uses: t.num_uses.clamp(0, i64::from(u32::MAX)) as u32,
        token_type: t.token_type.clone(),
        bound_cidrs: t.bound_cidrs.clone(),
        renewable: true,
        internal,
    }
}

/// A string kept in a login's internal data (what renewals read back), empty if absent.
/// A login's internal metadata, starting with `auth_type` = `kind` when the configured
/// metadata fields (`iam_metadata` / `ec2_metadata`) keep it.
pub(crate) fn auth_type_metadata(kept: &[String], kind: &str) -> Map<String, Value> {
    let mut internal = Map::new();
    if kept.iter().any(|f| f == "auth_type") {
        internal.insert("auth_type".into(), json!(kind));
    }
    internal
}

pub(crate) fn internal_str(internal: &Map<String, Value>, key: &str) -> String {
    internal
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Vault maps an ARN's partition to one of its regions before it makes an IAM client; the
/// partitions aws-sdk-go knows.
fn partition_known(e: &IamEntity) -> Result<(), String> {
    const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"];
    if PARTITIONS.contains(&e.partition.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "unable to resolve partition {} to a region",
            go_quote(&e.partition)
        ))
    }
}

/// Vault's `getMetadataValue`: a string the login stored, or why there is none.
pub(crate) fn metadata_value(
    internal: &Map<String, Value>,
    key: &str,
) -> Result<String, VaultError> {
    match internal.get(key) {
        Some(Value::String(v)) => Ok(v.clone()),
        Some(other) => Err(VaultError::internal(format!(
            "unable to fetch {} from auth metadata due to type of {}",
            go_quote(key),
            fields::go_type(other)
        ))),
        None => Err(VaultError::internal(format!(
            "{} not found in auth metadata",
            go_quote(key)
        ))),
    }
}

/// The role a token was issued for, as renewals need it first.
pub(crate) fn renewal_role_name(internal: &Map<String, Value>) -> Result<String, VaultError> {
    let role_name = internal_str(internal, "role_name");
    if role_name.is_empty() {
        return Err(VaultError::internal(
            "error retrieving role_name during renewal",
        ));
    }
    Ok(role_name)
}
