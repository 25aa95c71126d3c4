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
//! A login binds as Vault's client would: there must be a way to a bind DN (`userdn`, `upndomain`,
//! `discoverdn`, or `binddn` with `bindpass`), else every login fails to bind as Vault's does.
//! The entity alias is the directory entry's name as the directory holds it (its `userattr`
//! value), or the typed username with `username_as_alias`.
//!
//! **Not modelled:** service binds (`binddn`/`bindpass` are not checked), filters (validated only
//! for the `userattr` warning), TLS, token groups, paging, and the renewal's re-bind (Vault's
//! `pathLoginRenew` binds again and refuses `policies have changed, not renewing`; the mock
//! renews without asking the directory).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::envelope::{Reply, Resp};
use super::error::{json_response, VaultError};
use super::fields::{cidrs_allow, comma_list, remove_duplicates};
use super::go_fmt::go_quote;
use super::token::sanitize_policies;
use super::{AuthMethod, Core, Ctx, LoginSuccess, Op, Outcome, TokenSettings, VaultState};

/// A directory user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirUser {
    /// The entry's `userattr` value as the directory holds it (the entity alias of a login).
    pub name: String,
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
        "connection_timeout": 30,
        "deny_null_bind": true,
        "dereference_aliases": "never",
        "discoverdn": false,
        "groupattr": "cn",
        "groupdn": "",
        "groupfilter": "(|(memberUid={{.Username}})(member={{.UserDN}})(uniqueMember={{.UserDN}}))",
        "insecure_tls": false,
        "max_page_size": 0,
        "password_policy": "",
        "request_timeout": 90,
        "starttls": false,
        "tls_max_version": "tls12",
        "tls_min_version": "tls12",
        "upndomain": "",
        "url": "ldap://127.0.0.1",
        "use_pre111_group_cn_behavior": false,
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
    /// Never read back; with `binddn` it lets a search find the user's DN.
    bindpass: String,
    token: TokenSettings,
    groups: BTreeMap<String, Vec<String>>,
    users: BTreeMap<String, LocalUser>,
}

impl Default for Ldap {
    fn default() -> Self {
        Self {
            config: default_config(),
            bindpass: String::new(),
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

    /// `checkConfigUserFilter`: a filter that names neither `{{.UserAttr}}` nor the attribute.
    fn user_filter_warning(&self) -> Vec<String> {
        let filter = self.cfg_str("userfilter");
        if filter.is_empty()
            || filter.contains("{{.UserAttr}}")
            || filter.contains(&self.cfg_str("userattr"))
        {
            return Vec::new();
        }
        vec!["userfilter configured does not consider userattr and may result in colliding entity aliases on logins".into()]
    }

    /// cap's `getUserBindDN`: without a search (`discoverdn`, or `binddn` with `bindpass`),
    /// `upndomain` or `userdn` there is no DN to bind as, and every login fails to bind.
    fn can_derive_bind_dn(&self) -> bool {
        self.cfg_bool("discoverdn")
            || (!self.cfg_str("binddn").is_empty() && !self.bindpass.is_empty())
            || !self.cfg_str("upndomain").is_empty()
            || !self.cfg_str("userdn").is_empty()
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
                let mut resp = Resp::data(Value::Object(m));
                resp.warnings = self.user_filter_warning();
                Ok(resp.into())
            }
            (["config"], _) if write => {
                // ldaputil.NewConfigEntry on a copy: nothing is kept when a field fails.
                let mut config = self.config.clone();
                for (k, default) in default_config() {
                    let v = match (k.as_str(), &default) {
                        ("request_timeout" | "connection_timeout", _) => {
                            cx.input.duration(&k)?.map(|n| json!(n))
                        }
                        (_, Value::Bool(_)) => cx.input.bool(&k)?.map(Value::Bool),
                        (_, Value::Number(_)) => cx.input.int(&k)?.map(|n| json!(n)),
                        ("url" | "userattr", _) => {
                            cx.input.str(&k)?.map(|s| Value::String(s.to_lowercase()))
                        }
                        _ => cx.input.str(&k)?.map(Value::String),
                    };
                    if let Some(v) = v {
                        config.insert(k, v);
                    }
                }
                let text = |k: &str| {
                    config
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                for k in ["tls_min_version", "tls_max_version"] {
                    if !matches!(text(k).as_str(), "tls10" | "tls11" | "tls12" | "tls13") {
                        return Err(VaultError::bad(format!("invalid '{k}'")));
                    }
                }
                if text("tls_max_version") < text("tls_min_version") {
                    return Err(VaultError::bad(
                        "'tls_max_version' must be greater than or equal to 'tls_min_version'",
                    ));
                }
                // Kept, never read back.
                let cert = cx.input.string("client_tls_cert")?;
                let key = cx.input.string("client_tls_key")?;
                if cert.is_empty() != key.is_empty() {
                    return Err(VaultError::bad(
                        "both client_tls_cert and client_tls_key must be set",
                    ));
                }
                let bindpass = cx.input.str("bindpass")?;
                let mut t = self.token.clone();
                t.parse(cx.input)?;
                // Nothing is kept unless every field passed.
                if let Some(b) = bindpass {
                    self.bindpass = b;
                }
                self.token = t;
                self.config = config;
                Ok(Reply::with_warnings(self.user_filter_warning()).into())
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
                        self.groups.insert(name, sanitize_policies(&p, false));
                        Ok(Reply::NoContent.into())
                    }
                    Op::Delete => {
                        // Vault deletes the name as the path gives it, not lower-cased.
                        self.groups.remove(segs[1]);
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
                        // strutil.RemoveDuplicates: trimmed, sorted, lower-cased unless the
                        // mount is case sensitive.
                        let lower = !self.cfg_bool("case_sensitive_names");
                        let groups = remove_duplicates(&groups, lower);
                        self.users.insert(
                            name,
                            LocalUser {
                                groups: groups.join(","),
                                policies: sanitize_policies(&policies, false),
                            },
                        );
                        Ok(Reply::NoContent.into())
                    }
                    Op::Delete => {
                        self.users.remove(segs[1]);
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
        // Lockout is keyed by the name as the path gives it (the alias lookahead).
        if core.is_locked_out(&accessor, username, cx.now) {
            return Err(VaultError::permission_denied());
        }
        // pathLogin checks the config's CIDRs before any bind (not counted toward lockout).
        if !cidrs_allow(&self.token.bound_cidrs, cx.remote) {
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
            // cap's Authenticate wrapping its connect multierror (one entry per URL).
            // UNVERIFIED: reference/vault-core.md §8 (dial error text; Go prints the resolved
            // address where the mock prints the host of the URL)
            let url = self.cfg_str("url");
            let entries: String = url
                .split(',')
                .map(|u| {
                    let u = u.trim();
                    let host = u.split_once("://").map_or(u, |(_, h)| h);
                    let port = if u.starts_with("ldaps://") { 636 } else { 389 };
                    let host = if host.contains(':') { host.to_owned() } else { format!("{host}:{port}") };
                    format!(
                        "\t* ldap.(Client).connect: error connecting to host {}: LDAP Result Code 200 \"Network Error\": dial tcp {host}: connect: connection refused\n",
                        go_quote(u)
                    )
                })
                .collect();
            let n = url.split(',').count();
            let head = if n == 1 {
                "1 error occurred:".to_owned()
            } else {
                format!("{n} errors occurred:")
            };
            return Err(VaultError::bad(format!(
                "ldap.(Client).Authenticate: failed to connect: {head}\n{entries}\n"
            )));
        }
        let found = dir
            .users
            .get(&username.to_lowercase())
            .filter(|_| self.can_derive_bind_dn())
            .filter(|u| {
                subtle::ConstantTimeEq::ct_eq(u.password.as_bytes(), password.as_bytes()).into()
            })
            .cloned();
        let Some(user) = found else {
            core.login_failed(&accessor, username, cx.now);
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
                "no LDAP groups found in groupDN {}; only policies from locally-defined groups available",
                go_quote(&groupdn)
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
        // The entity alias is the entry's `userattr` value unless `username_as_alias`.
        let alias = if self.cfg_bool("username_as_alias") {
            username.to_owned()
        } else {
            user.name.clone()
        };
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
                name: name.to_owned(),
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
