//! `auth/ldap` (reference vault-core.md §8): `config`, `groups/:name`, `users/:name`,
//! `login/:name`, backed by a simulated directory instead of an LDAP server.
//!
//! The [`Directory`] plays the LDAP server: users (matched on the `userattr` value, case
//! insensitively) with a password and the names of the LDAP groups they belong to. It is filled
//! through [`VaultState::ldap_add_user`] or the admin API of the Vault listener:
//! `PUT /__authsim/vault/ldap/users/{name}` `{"password":"…","groups":["dev"]}`,
//! `DELETE /__authsim/vault/ldap/users/{name}`, `GET /__authsim/vault/ldap`, and
//! `PUT /__authsim/vault/ldap` `{"down":true}` to make the server unreachable.
//! LDAP groups are searched only when `groupdn` is configured, as a real search base would be
//! needed.
//!
//! **Not modelled:** bind DNs and service binds (`binddn`/`bindpass` are stored, not checked),
//! filters, TLS, `upndomain` binds, token groups, `username_as_alias` (the alias is the username),
//! paging.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::envelope::{Reply, Resp};
use super::error::{json_response, VaultError};
use super::fields::{cidrs_allow, comma_list};
use super::{AuthMethod, Core, Ctx, LoginSuccess, Op, Outcome, TokenSettings, VaultState};

/// A directory user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirUser {
    pub password: String,
    /// LDAP group names (their `groupattr` values).
    pub groups: Vec<String>,
}

/// The simulated LDAP server.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Lower-cased username → user.
    pub users: BTreeMap<String, DirUser>,
    /// Unreachable: logins fail with a connection error.
    pub down: bool,
}

/// Config keys with their defaults, in `config` read order (sorted on the wire anyway).
fn default_config() -> Map<String, Value> {
    let v = json!({
        "anonymous_group_search": false,
        "binddn": "",
        "case_sensitive_names": false,
        "certificate": "",
        "client_tls_cert": "",
        "connection_timeout": 30,
        "deny_null_bind": true,
        "dereference_aliases": "never",
        "discoverdn": false,
        "groupattr": "cn",
        "groupdn": "",
        "groupfilter": "(|(memberUid={{.Username}})(member={{.UserDN}})(uniqueMember={{.UserDN}}))",
        "insecure_tls": false,
        "max_page_size": 0,
        "request_timeout": 90,
        "starttls": false,
        "tls_max_version": "tls12",
        "tls_min_version": "tls12",
        "upndomain": "",
        "url": "ldap://127.0.0.1",
        "use_token_groups": false,
        "userattr": "cn",
        "userdn": "",
        "userfilter": "({{.UserAttr}}={{.Username}})",
        "username_as_alias": false,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[derive(Debug, Clone)]
struct LocalUser {
    groups: String,
    policies: Vec<String>,
}

/// One ldap mount.
#[derive(Debug)]
pub struct Ldap {
    config: Map<String, Value>,
    token: TokenSettings,
    groups: BTreeMap<String, Vec<String>>,
    users: BTreeMap<String, LocalUser>,
}

impl Default for Ldap {
    fn default() -> Self {
        Self {
            config: default_config(),
            token: TokenSettings::default(),
            groups: BTreeMap::new(),
            users: BTreeMap::new(),
        }
    }
}

impl Ldap {
    fn cfg_str(&self, k: &str) -> String {
        self.config
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    fn cfg_bool(&self, k: &str) -> bool {
        self.config.get(k).and_then(Value::as_bool).unwrap_or(false)
    }

    fn name(&self, n: &str) -> String {
        if self.cfg_bool("case_sensitive_names") {
            n.to_owned()
        } else {
            n.to_lowercase()
        }
    }
}

impl AuthMethod for Ldap {
    fn is_login_path(&self, rel: &str) -> bool {
        rel.starts_with("login/")
    }

    fn handle(&mut self, core: &mut Core, cx: &Ctx<'_>, rel: &str) -> Result<Outcome, VaultError> {
        let write = cx.op.is_write();
        let segs: Vec<&str> = rel.split('/').collect();
        match (segs.as_slice(), cx.op) {
            (["login", name], _) if write && !name.is_empty() => self.login(core, cx, name),
            (["config"], Op::Read) => {
                let mut m = self.config.clone();
                self.token.write_json(&mut m);
                Ok(Resp::data(Value::Object(m)).into())
            }
            (["config"], _) if write => {
                let defaults = default_config();
                for (k, default) in &defaults {
                    let v = match default {
                        Value::Bool(_) => cx.input.bool(k)?.map(Value::Bool),
                        Value::Number(_) => cx.input.int(k)?.map(|n| json!(n)),
                        _ => cx.input.str(k)?.map(Value::String),
                    };
                    if let Some(v) = v {
                        self.config.insert(k.clone(), v);
                    }
                }
                // Stored, never read back.
                let _ = cx.input.raw("bindpass");
                let _ = cx.input.raw("client_tls_key");
                let mut t = self.token.clone();
                t.parse(cx.input)?;
                self.token = t;
                Ok(Reply::NoContent.into())
            }
            (["groups" | "users", ""], Op::List) => {
                let keys: Vec<String> = if segs[0] == "groups" {
                    self.groups.keys().cloned().collect()
                } else {
                    self.users.keys().cloned().collect()
                };
                Ok(Resp::list(keys).into())
            }
            (["groups", name], _) if !name.is_empty() => {
                let name = self.name(name);
                match cx.op {
                    Op::Read => {
                        let p = self.groups.get(&name).ok_or_else(VaultError::not_found)?;
                        Ok(Resp::data(json!({ "policies": p })).into())
                    }
                    Op::Create | Op::Update => {
                        let p = cx.input.str_list("policies")?.unwrap_or_default();
                        self.groups.insert(name, p);
                        Ok(Reply::NoContent.into())
                    }
                    Op::Delete => {
                        self.groups.remove(&name);
                        Ok(Reply::NoContent.into())
                    }
                    _ => Err(VaultError::unsupported_operation()),
                }
            }
            (["users", name], _) if !name.is_empty() => {
                let name = self.name(name);
                match cx.op {
                    Op::Read => {
                        let u = self.users.get(&name).ok_or_else(VaultError::not_found)?;
                        Ok(
                            Resp::data(json!({ "groups": u.groups, "policies": u.policies }))
                                .into(),
                        )
                    }
                    Op::Create | Op::Update => {
                        let groups = cx.input.str_list("groups")?.unwrap_or_default();
                        let policies = cx.input.str_list("policies")?.unwrap_or_default();
                        self.users.insert(
                            name,
                            LocalUser {
                                groups: groups.join(","),
                                policies,
                            },
                        );
                        Ok(Reply::NoContent.into())
                    }
                    Op::Delete => {
                        self.users.remove(&name);
                        Ok(Reply::NoContent.into())
                    }
                    _ => Err(VaultError::unsupported_operation()),
                }
            }
            (["login", _] | ["config"], _) => Err(VaultError::unsupported_operation()),
            _ => Err(VaultError::unsupported_path()),
        }
    }
}

impl Ldap {
    fn login(
        &mut self,
        core: &mut Core,
        cx: &Ctx<'_>,
        username: &str,
    ) -> Result<Outcome, VaultError> {
        let accessor = cx.mount.accessor.clone();
        let alias = username.to_owned();
        if core.is_locked_out(&accessor, &alias, cx.now) {
            return Err(VaultError::permission_denied());
        }
        let password = cx.input.string("password")?;
        if password.is_empty() && self.cfg_bool("deny_null_bind") {
            return Err(VaultError::bad(
                "password cannot be of zero length when passwordless binds are being denied",
            ));
        }
        let dir = &core.ldap_directory;
        if dir.down {
            // UNVERIFIED: reference/vault-core.md §8 (dial error text)
            let url = self.cfg_str("url");
            return Err(VaultError::multi(
                400,
                format!(
                    "error connecting to host {url:?}: LDAP Result Code 200 \"Network Error\": dial tcp: connect: connection refused"
                ),
            ));
        }
        let found = dir
            .users
            .get(&username.to_lowercase())
            .filter(|u| {
                subtle::ConstantTimeEq::ct_eq(u.password.as_bytes(), password.as_bytes()).into()
            })
            .cloned();
        let Some(user) = found else {
            core.login_failed(&accessor, &alias, cx.now);
            return Err(VaultError::bad(
                "ldap operation failed: failed to bind as user",
            ));
        };
        let groupdn = self.cfg_str("groupdn");
        let ldap_groups: Vec<String> = if groupdn.is_empty() {
            Vec::new()
        } else {
            user.groups.clone()
        };
        let mut warnings = Vec::new();
        if ldap_groups.is_empty() {
            warnings.push(format!(
                "no LDAP groups found in groupDN {groupdn:?}; only policies from locally-defined groups available"
            ));
        }
        let local = self.users.get(&self.name(username)).cloned();
        let mut group_names: Vec<String> = local
            .as_ref()
            .map(|u| comma_list(&u.groups))
            .unwrap_or_default();
        group_names.extend(ldap_groups);
        let mut policies = Vec::new();
        for g in &group_names {
            if let Some(p) = self.groups.get(&self.name(g)) {
                policies.extend(p.iter().cloned());
            }
        }
        if let Some(u) = &local {
            policies.extend(u.policies.iter().cloned());
        }
        policies.extend(self.token.policies.iter().cloned());
        if !self.cfg_bool("case_sensitive_names") {
            policies = policies.iter().map(|p| p.to_lowercase()).collect();
        }
        if !cidrs_allow(&self.token.bound_cidrs, cx.remote) {
            return Err(VaultError::permission_denied());
        }
        core.login_succeeded(&accessor, &alias);
        Ok(Outcome::Login(Box::new(LoginSuccess {
            policies,
            metadata: BTreeMap::from([("username".to_owned(), username.to_owned())]),
            display_name: username.to_string(),
            alias_name: alias,
            token: self.token.clone(),
            // UNVERIFIED: reference/vault-core.md §8 (`data: {}` on LDAP login, code-read)
            data: Some(json!({})),
            warnings,
            renew_check: None,
        })))
    }
}

// ------------------------------------------------------------------------ directory admin API

impl VaultState {
    /// Adds (or replaces) a user of the simulated LDAP directory.
    pub fn ldap_add_user(&self, name: &str, password: &str, groups: &[&str]) {
        self.lock().core.ldap_directory.users.insert(
            name.to_lowercase(),
            DirUser {
                password: password.to_owned(),
                groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            },
        );
    }

    /// Makes the simulated LDAP server unreachable (or reachable again).
    pub fn ldap_set_down(&self, down: bool) {
        self.lock().core.ldap_directory.down = down;
    }
}

fn admin_json(status: u16, v: Value) -> Response {
    json_response(status, v.to_string())
}

fn directory_json(d: &Directory) -> Value {
    let users: Map<String, Value> = d
        .users
        .iter()
        .map(|(k, u)| (k.clone(), json!({ "groups": u.groups })))
        .collect();
    json!({ "users": users, "down": d.down })
}

async fn admin_show(State(st): State<VaultState>) -> Response {
    let d = st.lock().core.ldap_directory.clone();
    admin_json(200, directory_json(&d))
}

async fn admin_set(State(st): State<VaultState>, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return VaultError::bad(format!("invalid admin request body: {e}")).into_response()
        }
    };
    if let Some(down) = v.get("down").and_then(Value::as_bool) {
        st.ldap_set_down(down);
    }
    admin_show(State(st)).await
}

async fn admin_put_user(
    State(st): State<VaultState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return VaultError::bad(format!("invalid admin request body: {e}")).into_response()
        }
    };
    let Some(password) = v.get("password").and_then(Value::as_str) else {
        return VaultError::bad("a directory user needs a 'password'").into_response();
    };
    let groups: Vec<&str> = v
        .get("groups")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    st.ldap_add_user(&name, password, &groups);
    admin_show(State(st)).await
}

async fn admin_delete_user(State(st): State<VaultState>, Path(name): Path<String>) -> Response {
    st.lock()
        .core
        .ldap_directory
        .users
        .remove(&name.to_lowercase());
    admin_show(State(st)).await
}

/// `/__authsim/vault/ldap…`: the simulated directory (behind the admin token like all of
/// `/__authsim/`).
pub fn admin_router() -> Router<VaultState> {
    Router::new()
        .route("/__authsim/vault/ldap", get(admin_show).put(admin_set))
        .route(
            "/__authsim/vault/ldap/users/{name}",
            put(admin_put_user).delete(admin_delete_user),
        )
}
