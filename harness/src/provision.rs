//! Provisioning: applies a world's `[vault]` section to any Vault through its public HTTP API.
//!
//! `serve` runs it against the mock Vault over loopback; the scenario runner runs it against a
//! real Vault at `--vault-addr`. Nothing here reaches into the mock's state (invariants 1 and 2):
//! the auth methods are configured exactly as a real Vault is, with the cloud mocks' URLs in
//! `custom_endpoint`, `sts_endpoint`/`iam_endpoint`/`endpoint`, and a key file whose `token_uri`
//! is the mock Google's.
//!
//! Three steps, so the async part owns everything it needs:
//! 1. [`VaultSpec::parse`] reads the `[vault]` TOML (schema in `scenarios/README.md`); every error
//!    names the world file's key (`vault.auth.gcp.roles.app`);
//! 2. [`Endpoints::resolve`] looks up the world identities the spec names (the Vault server's
//!    service account and IAM user) and the cloud mocks' URLs;
//! 3. [`apply`] performs the writes, in dependency order, and stops at the first one Vault
//!    refuses with a [`ProvisionError`] naming the path and Vault's `errors`.

use std::collections::BTreeMap;
use std::fmt;

use authsim_mocks::{gcp, World};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A `[vault]` section that does not follow the schema, or names an identity the world lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("world file key `{key}`: {message}")]
pub struct SpecError {
    /// The key as written in the world file, e.g. `vault.auth.gcp.config.service_account`.
    pub key: String,
    pub message: String,
}

/// Vault's errors in one line: `; `-joined, each with its runs of white space (the newlines and
/// tabs of Vault's `1 error occurred:\n\t* permission denied\n\n`) as one space.
fn one_line(errors: &[String]) -> String {
    errors
        .iter()
        .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Provisioning failed: Vault refused a write, or could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("Vault refused {method} {path} ({status}): {}", one_line(errors))]
    Refused {
        method: String,
        /// Relative to `/v1/`.
        path: String,
        status: u16,
        /// Vault's `errors`, or the body when it is not Vault's envelope.
        errors: Vec<String>,
    },
    #[error("cannot reach Vault for {method} {path}: {message}")]
    Unreachable {
        method: String,
        path: String,
        message: String,
    },
    #[error("Vault already has a {what} `{name}` that differs from the world's: authsim does not overwrite it; remove it, or give the world's {what} another name")]
    Differs { what: &'static str, name: String },
}

/// The parsed `[vault]` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VaultSpec {
    pub root_token: Option<String>,
    /// ACL policy name → HCL.
    pub policies: BTreeMap<String, String>,
    /// Secrets engines to enable: path → `sys/mounts/<path>` body.
    pub mounts: BTreeMap<String, Map<String, Value>>,
    /// KV v2 secrets, in file order of their keys: `(mount, path, data)`.
    pub secrets: Vec<Secret>,
    /// Auth methods by mount path.
    pub auth: BTreeMap<String, AuthMount>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    pub mount: String,
    pub path: String,
    pub data: Map<String, Value>,
}

impl Secret {
    /// The API path a client reads: `secret/data/app/config`.
    pub fn api_path(&self) -> String {
        format!("{}/data/{}", self.mount, self.path)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthMount {
    pub path: String,
    /// `gcp`, `aws`, `approle`, `userpass`, `ldap`, … (defaults to the mount path).
    pub kind: String,
    pub description: Option<String>,
    /// `auth/<path>/config` (gcp: `service_account` resolved into `credentials`).
    pub config: Option<Map<String, Value>>,
    /// aws: `auth/<path>/config/client` (`user` resolved into `access_key`/`secret_key`).
    pub client: Option<Map<String, Value>>,
    /// aws: `auth/<path>/config/identity`.
    pub identity: Option<Map<String, Value>>,
    /// `auth/<path>/role/<name>`; approle's `secret_id` is written through `custom-secret-id`.
    pub roles: BTreeMap<String, Map<String, Value>>,
    /// userpass and ldap: `auth/<path>/users/<name>`.
    pub users: BTreeMap<String, Map<String, Value>>,
    /// ldap: `auth/<path>/groups/<name>`.
    pub groups: BTreeMap<String, Map<String, Value>>,
    /// ldap: the simulated directory's users (mock Vault only).
    pub directory: BTreeMap<String, DirectoryUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryUser {
    pub password: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VaultToml {
    root_token: Option<String>,
    #[serde(default)]
    policies: BTreeMap<String, String>,
    #[serde(default)]
    mounts: BTreeMap<String, toml::Table>,
    #[serde(default)]
    secrets: BTreeMap<String, toml::Table>,
    #[serde(default)]
    auth: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthToml {
    #[serde(rename = "type")]
    kind: Option<String>,
    description: Option<String>,
    config: Option<toml::Table>,
    client: Option<toml::Table>,
    identity: Option<toml::Table>,
    #[serde(default)]
    roles: BTreeMap<String, toml::Table>,
    #[serde(default)]
    users: BTreeMap<String, toml::Table>,
    #[serde(default)]
    groups: BTreeMap<String, toml::Table>,
    #[serde(default)]
    directory: BTreeMap<String, toml::Value>,
}

/// `vault.auth."a.b"`: the key as a world file spells it.
fn key(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            if !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                (*p).to_owned()
            } else {
                format!("\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn spec_err(parts: &[&str], message: impl fmt::Display) -> SpecError {
    SpecError {
        key: key(parts),
        message: message.to_string(),
    }
}

/// toml's messages carry a trailing newline and sometimes a `for key` suffix; keep one line.
fn serde_message(e: &toml::de::Error) -> String {
    e.message().trim().to_owned()
}

pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(table_to_json(t)),
    }
}

pub fn table_to_json(t: &toml::Table) -> Map<String, Value> {
    t.iter()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect()
}

const AUTH_KINDS_WITH_ROLES: &[&str] = &["gcp", "aws", "approle"];

impl VaultSpec {
    /// Parses a `[vault]` section (as kept in [`World`]'s `vault.raw_toml`). Empty text is an
    /// empty spec.
    pub fn parse(raw_toml: &str) -> Result<VaultSpec, SpecError> {
        let table: toml::Table = raw_toml
            .parse()
            .map_err(|e: toml::de::Error| spec_err(&["vault"], serde_message(&e)))?;
        let v: VaultToml = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| spec_err(&["vault"], serde_message(&e)))?;
        let mut spec = VaultSpec {
            root_token: v.root_token,
            policies: v.policies,
            ..VaultSpec::default()
        };
        for (path, t) in v.mounts {
            let body = table_to_json(&t);
            if !body.get("type").is_some_and(Value::is_string) {
                return Err(spec_err(
                    &["vault", "mounts", &path, "type"],
                    "a secrets engine needs a `type` (e.g. \"kv\")",
                ));
            }
            spec.mounts.insert(path.trim_matches('/').to_owned(), body);
        }
        for (name, t) in v.secrets {
            let Some((mount, path)) = name.trim_matches('/').split_once('/') else {
                return Err(spec_err(
                    &["vault", "secrets", &name],
                    "a secret is named \"<kv v2 mount>/<path>\", e.g. \"secret/app/config\"",
                ));
            };
            spec.secrets.push(Secret {
                mount: mount.to_owned(),
                path: path.to_owned(),
                data: table_to_json(&t),
            });
        }
        for (path, t) in v.auth {
            let mount = parse_auth(&path, t)?;
            spec.auth.insert(mount.path.clone(), mount);
        }
        Ok(spec)
    }

    /// The first auth mount of a type.
    pub fn mount_of(&self, kind: &str) -> Option<&AuthMount> {
        self.auth.values().find(|m| m.kind == kind)
    }

    /// What a quick start needs, for the endpoints file's `vault` object: the GCP and AWS
    /// mounts and roles (`app` when present, else the first), the AWS server ID, the first
    /// secret's API path, and AppRole/userpass/LDAP credentials written in the world.
    pub fn quick_start(&self) -> Map<String, Value> {
        let mut out = Map::new();
        let pick_role = |m: &AuthMount| {
            if m.roles.contains_key("app") {
                Some("app".to_owned())
            } else {
                m.roles.keys().next().cloned()
            }
        };
        if let Some(m) = self.mount_of("gcp") {
            out.insert("gcp_mount".into(), json!(m.path));
            if let Some(r) = pick_role(m) {
                out.insert("gcp_role".into(), json!(r));
            }
        }
        if let Some(m) = self.mount_of("aws") {
            out.insert("aws_mount".into(), json!(m.path));
            if let Some(r) = pick_role(m) {
                out.insert("aws_role".into(), json!(r));
            }
            if let Some(id) = m
                .client
                .as_ref()
                .and_then(|c| c.get("iam_server_id_header_value"))
            {
                out.insert("aws_server_id".into(), id.clone());
            }
        }
        if let Some(s) = self.secrets.first() {
            out.insert("secret_path".into(), json!(s.api_path()));
        }
        if let Some(m) = self.mount_of("approle") {
            let found = m.roles.iter().find_map(|(name, r)| {
                Some((
                    name,
                    r.get("role_id")?.as_str()?,
                    r.get("secret_id")?.as_str()?,
                ))
            });
            if let Some((role, role_id, secret_id)) = found {
                out.insert(
                    "approle".into(),
                    json!({"mount": m.path, "role": role, "role_id": role_id, "secret_id": secret_id}),
                );
            }
        }
        if let Some(m) = self.mount_of("userpass") {
            let found = m
                .users
                .iter()
                .find_map(|(name, u)| Some((name, u.get("password")?.as_str()?)));
            if let Some((user, password)) = found {
                out.insert(
                    "userpass".into(),
                    json!({"mount": m.path, "username": user, "password": password}),
                );
            }
        }
        if let Some(m) = self.mount_of("ldap") {
            if let Some((user, u)) = m.directory.iter().next() {
                out.insert(
                    "ldap".into(),
                    json!({"mount": m.path, "username": user, "password": u.password}),
                );
            }
        }
        out
    }
}

fn auth_err(path: &str, rest: &[&str], message: impl fmt::Display) -> SpecError {
    let mut parts = vec!["vault", "auth", path];
    parts.extend_from_slice(rest);
    spec_err(&parts, message)
}

fn parse_auth(path: &str, t: toml::Table) -> Result<AuthMount, SpecError> {
    let a: AuthToml = toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| auth_err(path, &[], serde_message(&e)))?;
    let clean = path.trim_matches('/');
    if clean.is_empty() {
        return Err(auth_err(path, &[], "an auth mount path cannot be empty"));
    }
    let kind = a.kind.unwrap_or_else(|| clean.to_owned());
    let only = |present: bool, field: &str, kinds: &[&str]| {
        if present && !kinds.contains(&kind.as_str()) {
            Err(auth_err(path, &[field],
                format!(
                    "`{field}` is for auth methods of type {}; this mount is of type `{kind}` (set `type` if the path is not the type)",
                    kinds.join(", ")
                ),
            ))
        } else {
            Ok(())
        }
    };
    only(a.client.is_some(), "client", &["aws"])?;
    only(a.identity.is_some(), "identity", &["aws"])?;
    only(!a.roles.is_empty(), "roles", AUTH_KINDS_WITH_ROLES)?;
    only(!a.users.is_empty(), "users", &["userpass", "ldap"])?;
    only(!a.groups.is_empty(), "groups", &["ldap"])?;
    only(!a.directory.is_empty(), "directory", &["ldap"])?;
    if kind == "approle" || kind == "userpass" {
        only(a.config.is_some(), "config", &["gcp", "aws", "ldap"])?;
    }
    let mut directory = BTreeMap::new();
    for (name, v) in a.directory {
        let u: DirectoryUser = v.try_into().map_err(|e: toml::de::Error| {
            auth_err(path, &["directory", &name], serde_message(&e))
        })?;
        directory.insert(name, u);
    }
    let strings = |table: &Option<Map<String, Value>>, section: &str, fields: &[&str]| {
        for f in fields {
            if let Some(v) = table.as_ref().and_then(|t| t.get(*f)) {
                if !v.is_string() {
                    return Err(auth_err(path, &[section, f], "expected a string"));
                }
            }
        }
        Ok(())
    };
    let config = a.config.as_ref().map(table_to_json);
    let client = a.client.as_ref().map(table_to_json);
    strings(&config, "config", &["service_account"])?;
    strings(&client, "client", &["user"])?;
    let roles: BTreeMap<_, _> = a
        .roles
        .iter()
        .map(|(k, v)| (k.clone(), table_to_json(v)))
        .collect();
    if kind == "approle" {
        for (name, r) in &roles {
            for f in ["role_id", "secret_id"] {
                if r.get(f).is_some_and(|v| !v.is_string()) {
                    return Err(auth_err(path, &["roles", name, f], "expected a string"));
                }
            }
        }
    }
    let users: BTreeMap<_, _> = a
        .users
        .iter()
        .map(|(k, v)| (k.clone(), table_to_json(v)))
        .collect();
    if kind == "userpass" {
        for (name, u) in &users {
            if !u.get("password").is_some_and(Value::is_string) {
                return Err(auth_err(
                    path,
                    &["users", name, "password"],
                    "a userpass user needs a `password` (a string)",
                ));
            }
        }
    }
    Ok(AuthMount {
        path: clean.to_owned(),
        kind,
        description: a.description,
        config,
        client,
        identity: a.identity.as_ref().map(table_to_json),
        roles,
        users,
        groups: a
            .groups
            .iter()
            .map(|(k, v)| (k.clone(), table_to_json(v)))
            .collect(),
        directory,
    })
}

/// Where the cloud mocks are, and the world credentials the spec names, resolved before the
/// async writes so that [`apply`] holds no reference into the world.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Mock Google base URL (`custom_endpoint`, the key file's `token_uri`).
    pub google: String,
    /// Mock AWS base URL (`sts_endpoint`, `iam_endpoint`, `endpoint`).
    pub aws: String,
    /// The mock Vault's admin token, for the LDAP directory (`/__authsim/…`); loopback needs none.
    pub admin_token: Option<String>,
    /// `service_account` as written in the spec → its key file JSON (token_uri at the mock).
    pub gcp_key_files: BTreeMap<String, Value>,
    /// `user` as written in the spec → (access key id, secret access key).
    pub aws_keys: BTreeMap<String, (String, String)>,
    /// The certificate (PEM) the mock instance metadata service signs identity documents with:
    /// registered on every aws mount (`config/certificate/authsim-pkcs7` and
    /// `authsim-identity`) so that ec2 logins verify, as `aws_public_cert` does for AWS's own.
    pub aws_identity_cert: Option<String>,
}

/// Whether a world's `[vault]` section can be provisioned: it follows the schema and names only
/// identities the world has (what `serve` and a run would find only when they apply it).
pub fn check(world: &World) -> Result<(), SpecError> {
    let spec = VaultSpec::parse(&world.vault.raw_toml)?;
    Endpoints::resolve(&spec, world, "http://127.0.0.1:1", "http://127.0.0.1:1").map(|_| ())
}

impl Endpoints {
    /// Resolves the identities `spec` names in `world`: a GCP service account by id (`vault-server`)
    /// or email, with a user-managed key; an AWS IAM user by name (or `account/name`) with an
    /// active access key.
    pub fn resolve(
        spec: &VaultSpec,
        world: &World,
        google: &str,
        aws: &str,
    ) -> Result<Endpoints, SpecError> {
        let mut out = Endpoints {
            google: google.trim_end_matches('/').to_owned(),
            aws: aws.trim_end_matches('/').to_owned(),
            admin_token: world.admin_token.clone(),
            aws_identity_cert: spec
                .auth
                .values()
                .any(|m| m.kind == "aws")
                .then(|| world.aws.identity_key.material().cert_pem.clone()),
            ..Endpoints::default()
        };
        for m in spec.auth.values() {
            if let Some(sa) = m
                .config
                .as_ref()
                .and_then(|c| c.get("service_account"))
                .and_then(Value::as_str)
            {
                let at = [
                    "vault",
                    "auth",
                    m.path.as_str(),
                    "config",
                    "service_account",
                ];
                let account = world
                    .gcp
                    .service_accounts
                    .values()
                    .find(|a| a.email == sa || a.email.split('@').next() == Some(sa))
                    .ok_or_else(|| {
                        spec_err(
                            &at,
                            format!(
                                "no service account `{sa}` in the world's [gcp.service_accounts]"
                            ),
                        )
                    })?;
                let key = account.user_keys.first().ok_or_else(|| {
                    spec_err(
                        &at,
                        format!("service account `{sa}` has no key file: give it `user_keys = 1`"),
                    )
                })?;
                out.gcp_key_files
                    .insert(sa.to_owned(), gcp::key_file(account, &key.key, &out.google));
            }
            if let Some(user) = m
                .client
                .as_ref()
                .and_then(|c| c.get("user"))
                .and_then(Value::as_str)
            {
                let at = ["vault", "auth", m.path.as_str(), "client", "user"];
                let (account, name) = match user.split_once('/') {
                    Some((a, n)) => (Some(a), n),
                    None => (None, user),
                };
                let mut keys: Vec<_> = world
                    .aws
                    .access_keys
                    .values()
                    .filter(|k| k.user == name && account.is_none_or(|a| a == k.account))
                    .collect();
                if keys.is_empty() {
                    let exists =
                        world.aws.accounts.values().any(|a| {
                            account.is_none_or(|id| id == a.id) && a.users.contains_key(name)
                        });
                    return Err(spec_err(
                        &at,
                        if exists {
                            format!(
                                "IAM user `{user}` has no access key: give it `access_keys = 1`"
                            )
                        } else {
                            format!("no IAM user `{user}` in the world's [aws.accounts.*.users]")
                        },
                    ));
                }
                keys.sort_by(|a, b| (!a.active, &a.id).cmp(&(!b.active, &b.id)));
                let k = keys[0];
                out.aws_keys
                    .insert(user.to_owned(), (k.id.clone(), k.secret.clone()));
            }
        }
        Ok(out)
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Writes Vault accepted.
    pub writes: usize,
    /// Parts not applied, each with the reason (e.g. the LDAP directory on a real Vault).
    pub skipped: Vec<String>,
    /// Vault's `warnings` on the writes, prefixed with the path.
    pub warnings: Vec<String>,
}

struct Target<'a> {
    client: &'a reqwest::Client,
    addr: &'a str,
    token: &'a str,
    applied: Applied,
}

impl Target<'_> {
    /// One Vault call; non-2xx is a [`ProvisionError::Refused`]. Returns the JSON body, if any.
    async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ProvisionError> {
        let url = format!("{}/v1/{path}", self.addr);
        let write = method != reqwest::Method::GET;
        let mut req = self
            .client
            .request(method.clone(), url)
            .header("X-Vault-Token", self.token)
            .header("X-Vault-Request", "true");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let unreachable = |e: reqwest::Error| ProvisionError::Unreachable {
            method: method.to_string(),
            path: path.to_owned(),
            message: error_chain(&e),
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let text = resp.text().await.map_err(unreachable)?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let errors = match json["errors"].as_array() {
                Some(a) => a
                    .iter()
                    .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                    .collect(),
                None => vec![text.trim().to_owned()],
            };
            return Err(ProvisionError::Refused {
                method: method.to_string(),
                path: path.to_owned(),
                status: status.as_u16(),
                errors,
            });
        }
        if write {
            self.applied.writes += 1;
        }
        if let Some(w) = json["warnings"].as_array() {
            for w in w.iter().filter_map(Value::as_str) {
                self.applied.warnings.push(format!("{path}: {w}"));
            }
        }
        Ok(json)
    }

    /// What a read of `path` answers; `None` on a 404 (nothing there, or no mount for it, which
    /// the write that follows then reports).
    async fn existing(&mut self, path: &str) -> Result<Option<Value>, ProvisionError> {
        match self.call(reqwest::Method::GET, path, None).await {
            Ok(v) => Ok(Some(v)),
            Err(ProvisionError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn post(&mut self, path: &str, body: Value) -> Result<Value, ProvisionError> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// `sys/auth` or `sys/mounts`: mount path (no trailing slash) → type.
    async fn mounted(&mut self, table: &str) -> Result<BTreeMap<String, String>, ProvisionError> {
        let v = self.call(reqwest::Method::GET, table, None).await?;
        let empty = Map::new();
        let entries = v
            .get("data")
            .and_then(Value::as_object)
            .or_else(|| v.as_object())
            .unwrap_or(&empty);
        Ok(entries
            .iter()
            .filter_map(|(k, e)| {
                Some((
                    k.strip_suffix('/')?.to_owned(),
                    e.get("type")?.as_str()?.to_owned(),
                ))
            })
            .collect())
    }

    /// Whether the target is authsim's mock Vault (it answers `/__authsim/health` with `ok`;
    /// beyond loopback only with the admin token).
    async fn is_mock(&self, admin_token: Option<&str>) -> bool {
        let mut req = self.client.get(format!("{}/__authsim/health", self.addr));
        if let Some(a) = admin_token {
            req = req.bearer_auth(a);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => r.text().await.is_ok_and(|t| t.trim() == "ok"),
            _ => false,
        }
    }
}

/// An error and its causes, `outer: inner: …`, each said once (an I/O error often repeats its
/// cause in its own message).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let text = inner.to_string();
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        src = inner.source();
    }
    s
}

/// `sys/mounts/<path>` if `path` is not mounted yet; a different type there is an error.
async fn ensure_mounted(
    t: &mut Target<'_>,
    existing: &BTreeMap<String, String>,
    table: &str,
    path: &str,
    body: Value,
) -> Result<(), ProvisionError> {
    let kind = body["type"].as_str().unwrap_or_default().to_owned();
    match existing.get(path) {
        Some(k) if *k == kind => Ok(()),
        Some(k) => Err(ProvisionError::Refused {
            method: "POST".into(),
            path: format!("{table}/{path}"),
            status: 400,
            errors: vec![format!(
                "`{path}/` is already mounted with type `{k}`, the world wants `{kind}`"
            )],
        }),
        None => t.post(&format!("{table}/{path}"), body).await.map(drop),
    }
}

/// Applies `spec` to the Vault at `vault_addr` (no trailing `/v1`) with `token`, which needs
/// root-like rights on `sys/auth`, `sys/mounts`, `sys/policies/acl` and the paths written.
///
/// Order: policies, secrets engines, secrets, then per auth mount: enable, config (gcp `config`,
/// aws `config/client` and `config/identity`, ldap `config`), groups, users, roles (AWS role
/// writes resolve unique ids through IAM with the client config's credentials, so the config
/// comes first), the LDAP directory. Mounts already present with the same type are kept, so
/// applying twice is harmless. The first refusal stops provisioning.
pub async fn apply(
    client: &reqwest::Client,
    vault_addr: &str,
    token: &str,
    spec: &VaultSpec,
    endpoints: &Endpoints,
) -> Result<Applied, ProvisionError> {
    let mut t = Target {
        client,
        addr: vault_addr.trim_end_matches('/'),
        token,
        applied: Applied::default(),
    };
    // Policies and secrets are the Vault's own, not per scenario or run: one the Vault already
    // has is used as it is when it matches the world's, and never overwritten when it does not.
    for (name, hcl) in &spec.policies {
        let path = format!("sys/policies/acl/{name}");
        match t.existing(&path).await? {
            Some(v) if v["data"]["policy"].as_str().map(str::trim) == Some(hcl.trim()) => {}
            Some(_) => {
                return Err(ProvisionError::Differs {
                    what: "policy",
                    name: name.clone(),
                })
            }
            None => {
                t.call(reqwest::Method::PUT, &path, Some(json!({ "policy": hcl })))
                    .await?;
            }
        }
    }
    if !spec.mounts.is_empty() {
        let existing = t.mounted("sys/mounts").await?;
        for (path, body) in &spec.mounts {
            ensure_mounted(
                &mut t,
                &existing,
                "sys/mounts",
                path,
                Value::Object(body.clone()),
            )
            .await?;
        }
    }
    for s in &spec.secrets {
        match t.existing(&s.api_path()).await? {
            Some(v) if v["data"]["data"].as_object() == Some(&s.data) => {}
            Some(_) => {
                return Err(ProvisionError::Differs {
                    what: "secret",
                    name: s.api_path(),
                })
            }
            None => {
                t.post(&s.api_path(), json!({ "data": s.data })).await?;
            }
        }
    }
    let existing = if spec.auth.is_empty() {
        BTreeMap::new()
    } else {
        t.mounted("sys/auth").await?
    };
    for m in spec.auth.values() {
        let mut enable = json!({ "type": m.kind });
        if let Some(d) = &m.description {
            enable["description"] = json!(d);
        }
        ensure_mounted(&mut t, &existing, "sys/auth", &m.path, enable).await?;
        let base = format!("auth/{}", m.path);
        if let Some(c) = &m.config {
            let mut c = c.clone();
            if m.kind == "gcp" {
                if let Some(sa) = c.remove("service_account") {
                    let sa = sa.as_str().unwrap_or_default();
                    let file = endpoints.gcp_key_files.get(sa).ok_or_else(|| {
                        spec_err(
                            &["vault", "auth", &m.path, "config", "service_account"],
                            "not resolved against the world (Endpoints::resolve)",
                        )
                    })?;
                    c.entry("credentials")
                        .or_insert_with(|| json!(file.to_string()));
                }
                let g = &endpoints.google;
                c.entry("custom_endpoint")
                    .or_insert_with(|| json!({ "api": g, "iam": g, "crm": g, "compute": g }));
            }
            t.post(&format!("{base}/config"), Value::Object(c)).await?;
        }
        if let Some(c) = &m.client {
            let mut c = c.clone();
            if let Some(user) = c.remove("user") {
                let user = user.as_str().unwrap_or_default();
                let (id, secret) = endpoints.aws_keys.get(user).ok_or_else(|| {
                    spec_err(
                        &["vault", "auth", &m.path, "client", "user"],
                        "not resolved against the world (Endpoints::resolve)",
                    )
                })?;
                c.entry("access_key").or_insert_with(|| json!(id));
                c.entry("secret_key").or_insert_with(|| json!(secret));
            }
            for k in ["sts_endpoint", "iam_endpoint", "endpoint"] {
                c.entry(k).or_insert_with(|| json!(endpoints.aws));
            }
            t.post(&format!("{base}/config/client"), Value::Object(c))
                .await?;
        }
        if let Some(c) = &m.identity {
            t.post(&format!("{base}/config/identity"), Value::Object(c.clone()))
                .await?;
        }
        if let (true, Some(pem)) = (m.kind == "aws", &endpoints.aws_identity_cert) {
            for kind in ["pkcs7", "identity"] {
                t.post(
                    &format!("{base}/config/certificate/authsim-{kind}"),
                    json!({ "aws_public_cert": pem, "type": kind }),
                )
                .await?;
            }
        }
        for (name, g) in &m.groups {
            t.post(&format!("{base}/groups/{name}"), Value::Object(g.clone()))
                .await?;
        }
        for (name, u) in &m.users {
            t.post(&format!("{base}/users/{name}"), Value::Object(u.clone()))
                .await?;
        }
        for (name, r) in &m.roles {
            let mut r = r.clone();
            let secret_id = if m.kind == "approle" {
                r.remove("secret_id")
            } else {
                None
            };
            t.post(&format!("{base}/role/{name}"), Value::Object(r))
                .await?;
            if let Some(s) = secret_id {
                // Vault refuses a secret ID it already holds (500 `SecretID is already
                // registered`): applying again replaces it (destroying an absent one is a 204).
                t.post(
                    &format!("{base}/role/{name}/secret-id/destroy"),
                    json!({ "secret_id": s }),
                )
                .await?;
                t.post(
                    &format!("{base}/role/{name}/custom-secret-id"),
                    json!({ "secret_id": s }),
                )
                .await?;
            }
        }
        if !m.directory.is_empty() {
            if !t.is_mock(endpoints.admin_token.as_deref()).await {
                let names: Vec<&str> = m.directory.keys().map(String::as_str).collect();
                t.applied.skipped.push(format!(
                    "{}: the target is not authsim's mock Vault, so its LDAP server is yours to fill (users {})",
                    key(&["vault", "auth", &m.path, "directory"]),
                    names.join(", ")
                ));
                continue;
            }
            for (name, u) in &m.directory {
                let mut req = t
                    .client
                    .put(format!("{}/__authsim/vault/ldap/users/{name}", t.addr))
                    .json(&json!({ "password": u.password, "groups": u.groups }));
                if let Some(a) = &endpoints.admin_token {
                    req = req.bearer_auth(a);
                }
                let path = format!("__authsim/vault/ldap/users/{name}");
                let resp = req.send().await.map_err(|e| ProvisionError::Unreachable {
                    method: "PUT".into(),
                    path: path.clone(),
                    message: error_chain(&e),
                })?;
                if !resp.status().is_success() {
                    let status = resp.status().as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    return Err(ProvisionError::Refused {
                        method: "PUT".into(),
                        path,
                        status,
                        errors: vec![body.trim().to_owned()],
                    });
                }
                t.applied.writes += 1;
            }
        }
    }
    Ok(t.applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(toml: &str) -> String {
        VaultSpec::parse(toml).unwrap_err().to_string()
    }

    #[test]
    fn a_refusal_reads_in_one_line() {
        let e = ProvisionError::Refused {
            method: "PUT".into(),
            path: "sys/policies/acl/app".into(),
            status: 403,
            errors: vec![
                "1 error occurred:\n\t* permission denied\n\n".into(),
                "second".into(),
            ],
        };
        assert_eq!(
            e.to_string(),
            "Vault refused PUT sys/policies/acl/app (403): 1 error occurred: * permission denied; second"
        );
    }

    #[test]
    fn the_sketch_in_design_parses() {
        let s = VaultSpec::parse(
            r#"
root_token = "root"
[policies]
app = 'path "secret/data/app/*" { capabilities = ["read"] }'
[secrets."secret/app/config"]
username = "app"
[auth.gcp]
config = { service_account = "vault-server" }
roles.app = { type = "iam", bound_service_accounts = ["app@authsim-demo.iam.gserviceaccount.com"], token_policies = ["app"], max_jwt_exp = "15m" }
[auth.aws]
client = { iam_server_id_header_value = "vault.example.com", user = "vault-server" }
roles.app = { auth_type = "iam", bound_iam_principal_arn = ["arn:aws:iam::111122223333:user/alice"], token_policies = ["app"] }
[auth."team/ldap"]
type = "ldap"
"#,
        )
        .unwrap();
        assert_eq!(s.root_token.as_deref(), Some("root"));
        assert_eq!(s.secrets[0].api_path(), "secret/data/app/config");
        assert_eq!(s.secrets[0].data["username"], "app");
        assert_eq!(s.auth["gcp"].kind, "gcp");
        assert_eq!(s.auth["gcp"].roles["app"]["max_jwt_exp"], "15m");
        assert_eq!(s.auth["team/ldap"].kind, "ldap");
        assert_eq!(VaultSpec::parse("").unwrap(), VaultSpec::default());
    }

    #[test]
    fn schema_errors_name_the_world_file_key() {
        assert_eq!(
            err("polices = {}"),
            "world file key `vault`: unknown field `polices`, expected one of `root_token`, `policies`, `mounts`, `secrets`, `auth`"
        );
        assert_eq!(
            err("[auth.gcp]\nrole = {}"),
            "world file key `vault.auth.gcp`: unknown field `role`, expected one of `type`, `description`, `config`, `client`, `identity`, `roles`, `users`, `groups`, `directory`"
        );
        assert_eq!(
            err("[auth.gcp]\nclient = {}"),
            "world file key `vault.auth.gcp.client`: `client` is for auth methods of type aws; this mount is of type `gcp` (set `type` if the path is not the type)"
        );
        assert_eq!(
            err("[auth.userpass]\nusers.bob = { token_policies = [\"app\"] }"),
            "world file key `vault.auth.userpass.users.bob.password`: a userpass user needs a `password` (a string)"
        );
        assert_eq!(
            err("[auth.ldap]\ndirectory.carol = { pasword = \"x\" }"),
            "world file key `vault.auth.ldap.directory.carol`: unknown field `pasword`, expected `password` or `groups`"
        );
        assert_eq!(
            err("[secrets.config]\na = 1"),
            "world file key `vault.secrets.config`: a secret is named \"<kv v2 mount>/<path>\", e.g. \"secret/app/config\""
        );
        assert_eq!(
            err("[auth.gcp]\nconfig = { service_account = 1 }"),
            "world file key `vault.auth.gcp.config.service_account`: expected a string"
        );
        assert_eq!(
            err("[mounts.kv]\noptions = { version = \"2\" }"),
            "world file key `vault.mounts.kv.type`: a secrets engine needs a `type` (e.g. \"kv\")"
        );
        assert_eq!(
            err("[policies]\napp = 1"),
            "world file key `vault`: invalid type: integer `1`, expected a string"
        );
    }

    #[test]
    fn keys_are_quoted_as_toml_does() {
        assert_eq!(
            key(&["vault", "secrets", "secret/app/config"]),
            "vault.secrets.\"secret/app/config\""
        );
    }
}
