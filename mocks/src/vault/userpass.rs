//! `auth/userpass` (reference vault-core.md §7): users with a password and the common token
//! fields; `users/:name`, `users/:name/password`, `users/:name/policies`, `login/:name`; user
//! lockout after 5 failures.
//!
//! **Not modelled:** `alias_metadata`, per-mount lockout tuning, bcrypt cost (passwords are kept as
//! salted SHA-256).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::envelope::{Reply, Resp};
use super::error::VaultError;
use super::fields::{cidrs_allow, generic_name};
use super::token::sanitize_policies;
use super::{AuthMethod, Input};
use super::{Core, Ctx, LoginSuccess, Op, Outcome, TokenSettings};

#[derive(Debug, Clone)]
struct User {
    password_hash: [u8; 32],
    token: TokenSettings,
}

fn hash(user: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"authsim-userpass\0");
    h.update(user.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    h.finalize().into()
}

/// One userpass mount.
#[derive(Debug, Default)]
pub struct Userpass {
    users: BTreeMap<String, User>,
}

const LEGACY: &[&str] = &["policies", "ttl", "max_ttl", "bound_cidrs"];

impl AuthMethod for Userpass {
    fn is_login_path(&self, rel: &str) -> bool {
        rel.starts_with("login/")
    }

    fn exists(&self, rel: &str) -> Option<bool> {
        rel.strip_prefix("users/")
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .map(|n| self.users.contains_key(&n.to_lowercase()))
    }

    fn handle(&mut self, core: &mut Core, cx: &Ctx<'_>, rel: &str) -> Result<Outcome, VaultError> {
        let write = cx.op.is_write();
        let segs: Vec<&str> = rel.split('/').collect();
        // User names match framework.GenericNameRegex. A login under any other name fails in
        // user lockout's alias lookahead (on by default), which core answers with a bare 500.
        match segs[..] {
            ["login", name] if write && !generic_name(name) => {
                return Err(VaultError::new(
                    500,
                    "failed to determine alias name from login request",
                ))
            }
            ["users", name, ..] if !name.is_empty() && !generic_name(name) => {
                return Err(VaultError::unsupported_path())
            }
            _ => {}
        }
        match (segs.as_slice(), cx.op) {
            (["login", name], _) if write => self.login(core, cx, name),
            (["users", ""], Op::List) => {
                Ok(Resp::list(self.users.keys().cloned().collect()).into())
            }
            (["users", name], _) if !name.is_empty() => self.user(cx, &name.to_lowercase()),
            (["users", name, "password"], _) if write => {
                let password = cx.input.string("password")?;
                let user = self.updated(name)?;
                if password.is_empty() {
                    return Err(VaultError::bad("missing password"));
                }
                user.password_hash = hash(&name.to_lowercase(), &password);
                Ok(Reply::NoContent.into())
            }
            (["users", name, "policies"], _) if write => {
                let user = self.updated(name)?;
                // pathUserPoliciesUpdate: `token_policies` or else `policies`, both sanitised.
                let t = &mut user.token;
                let i = cx.input;
                match i.str_list("token_policies")? {
                    Some(p) => {
                        t.policies = sanitize_policies(&p, false);
                        if i.raw("policies").is_some() {
                            t.legacy.insert("policies");
                        } else {
                            t.legacy.remove("policies");
                        }
                    }
                    None => {
                        if let Some(p) = i.str_list("policies")? {
                            t.policies = sanitize_policies(&p, false);
                            t.legacy.insert("policies");
                        }
                    }
                }
                Ok(Reply::NoContent.into())
            }
            (["login", _] | ["users", _] | ["users", _, "password" | "policies"], _) => {
                Err(VaultError::unsupported_operation())
            }
            _ => Err(VaultError::unsupported_path()),
        }
    }
}

impl Userpass {
    /// The user a password or policies update changes. Vault reads the user under the lower-cased
    /// name but stores the update under the name as given (path_user_password.go and
    /// path_user_policies.go call `setUser` with `d.Get("username")` as is): updating `Alice`
    /// leaves `alice`, whom logins and reads find, as it was, and adds an entry `Alice` that only
    /// a list shows.
    fn updated(&mut self, name: &str) -> Result<&mut User, VaultError> {
        let lower = name.to_lowercase();
        let user = self
            .users
            .get(&lower)
            .ok_or_else(|| VaultError::multi(500, "username does not exist"))?;
        if lower != name {
            let copy = user.clone();
            self.users.insert(name.to_owned(), copy);
        }
        Ok(self.users.get_mut(name).expect("present or just inserted"))
    }

    fn user(&mut self, cx: &Ctx<'_>, name: &str) -> Result<Outcome, VaultError> {
        match cx.op {
            Op::Read => {
                let u = self.users.get(name).ok_or_else(VaultError::not_found)?;
                let mut m = Map::new();
                u.token.write_json(&mut m);
                Ok(Resp::data(Value::Object(m)).into())
            }
            Op::Create | Op::Update => {
                // pathUserWrite, then userCreateUpdate: token fields, password, legacy names.
                let password = cx.input.string("password")?;
                let mut user = match self.users.get(name) {
                    Some(u) => u.clone(),
                    None if password.is_empty() => return Err(VaultError::bad("missing password")),
                    None => User {
                        password_hash: [0; 32],
                        token: TokenSettings::default(),
                    },
                };
                user.token.parse(cx.input)?;
                // A password given empty is refused on an update too (Vault's GetOk).
                if cx.input.raw("password").is_some() {
                    if password.is_empty() {
                        return Err(VaultError::bad("missing password"));
                    }
                    user.password_hash = hash(name, &password);
                }
                user.token.upgrade(cx.input, LEGACY)?;
                self.users.insert(name.to_owned(), user);
                Ok(Reply::NoContent.into())
            }
            Op::Delete => {
                self.users.remove(name);
                Ok(Reply::NoContent.into())
            }
            _ => Err(VaultError::unsupported_operation()),
        }
    }

    fn login(&mut self, core: &mut Core, cx: &Ctx<'_>, raw: &str) -> Result<Outcome, VaultError> {
        let name = raw.to_lowercase();
        let accessor = &cx.mount.accessor;
        // Lockout is keyed by the name as the path gives it (the alias lookahead does not
        // lower-case it); a success clears the lower-cased alias name's count, as in Vault.
        if core.is_locked_out(accessor, raw, cx.now) {
            return Err(VaultError::permission_denied());
        }
        let password = password_arg(cx.input)?;
        let ok = self
            .users
            .get(&name)
            .filter(|u| bool::from(u.password_hash.ct_eq(&hash(&name, &password))));
        let Some(user) = ok else {
            // Vault keeps failed logins of existing users only.
            if self.users.contains_key(&name) {
                core.login_failed(accessor, raw, cx.now);
            }
            return Err(VaultError::bad("invalid username or password"));
        };
        if !cidrs_allow(&user.token.bound_cidrs, cx.remote) {
            return Err(VaultError::permission_denied());
        }
        core.login_succeeded(accessor, &name);
        Ok(Outcome::Login(Box::new(LoginSuccess {
            policies: user.token.policies.clone(),
            metadata: BTreeMap::from([("username".to_owned(), name.clone())]),
            display_name: name.to_string(),
            alias_name: name,
            token: user.token.clone(),
            data: None,
            warnings: Vec::new(),
            renew_check: None,
        })))
    }
}

/// The login password; a missing one is a bare error on a login path: 500, unwrapped (§7).
fn password_arg(input: &Input) -> Result<String, VaultError> {
    let p = input.string("password")?;
    if p.is_empty() {
        // code-read: reference/vault-core.md §7 (500 `missing password`)
        return Err(VaultError::new(500, "missing password"));
    }
    Ok(p)
}
