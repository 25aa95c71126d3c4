//! `auth/approle` (reference vault-core.md §6): roles, role IDs, secret IDs (TTL, use counts, CIDR
//! restrictions, metadata), custom secret IDs, lookup/destroy by secret ID or accessor, and login.
//!
//! Expired secret IDs: Vault's login never looks at the expiry; its tidy pass, once a minute,
//! deletes them, so a real Vault may still accept one for up to a minute after it expires. The
//! mock refuses one as soon as it has expired, with the answer Vault gives after that pass
//! (400 `invalid role or secret ID`, counted toward lockout), and drops expired ones from lookups
//! and lists before any request that shows them.
//!
//! `tidy/secret-id` answers as Vault's (202, a warning) after the same removal.
//!
//! **Not modelled:** the per-field role endpoints (`role/:name/policies`…), response wrapping
//! of secret IDs.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::envelope::{Reply, Resp};
use super::error::VaultError;
use super::fields::{
    add_secs, cidrs_allow, generic_name, go_base64, go_duration, rfc3339_nano, Cidr,
};
use super::go_fmt::{go_quote, go_quoted_list};
use super::token::TypeField;
use super::{AuthMethod, Core, Ctx, LoginSuccess, Op, Outcome, TokenSettings};

#[derive(Debug, Clone)]
struct SecretId {
    accessor: String,
    cidr_list: Vec<String>,
    token_bound_cidrs: Vec<String>,
    metadata: BTreeMap<String, String>,
    num_uses: i64,
    ttl: i64,
    creation: SystemTime,
    expiration: Option<SystemTime>,
    last_updated: Option<SystemTime>,
}

impl SecretId {
    fn lookup_json(&self) -> Value {
        json!({
            "cidr_list": self.cidr_list,
            "creation_time": rfc3339_nano(self.creation),
            "expiration_time": self.expiration.map_or("0001-01-01T00:00:00Z".to_owned(), rfc3339_nano),
            "last_updated_time": self.last_updated.map_or("0001-01-01T00:00:00Z".to_owned(), rfc3339_nano),
            "metadata": self.metadata,
            "secret_id_accessor": self.accessor,
            "secret_id_num_uses": self.num_uses,
            "secret_id_ttl": self.ttl,
            "token_bound_cidrs": self.token_bound_cidrs,
        })
    }
}

#[derive(Debug, Clone)]
struct Role {
    role_id: String,
    bind_secret_id: bool,
    /// `None` until given: Vault reads it back as `null`.
    secret_id_bound_cidrs: Option<Vec<String>>,
    secret_id_num_uses: i64,
    secret_id_ttl: i64,
    local_secret_ids: bool,
    token: TokenSettings,
    /// Secret ID → entry.
    secret_ids: BTreeMap<String, SecretId>,
}

/// One approle mount.
#[derive(Debug, Default)]
pub struct AppRole {
    roles: BTreeMap<String, Role>,
}

impl AuthMethod for AppRole {
    fn is_login_path(&self, rel: &str) -> bool {
        rel == "login"
    }

    fn exists(&self, rel: &str) -> Option<bool> {
        rel.strip_prefix("role/")
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .map(|n| self.roles.contains_key(&n.to_lowercase()))
    }

    fn handle(&mut self, core: &mut Core, cx: &Ctx<'_>, rel: &str) -> Result<Outcome, VaultError> {
        let write = cx.op.is_write();
        let segs: Vec<&str> = rel.split('/').collect();
        // Role names match framework.GenericNameRegex; others are no path of the backend.
        if let ["role", name, ..] = segs[..] {
            if !name.is_empty() && !generic_name(name) {
                return Err(VaultError::unsupported_path());
            }
        }
        // Expired secret IDs leave before anything that shows them (not on logins, which
        // check expiry themselves, nor on role or secret-ID writes).
        if matches!(
            segs.as_slice(),
            ["tidy", "secret-id"]
                | ["role", _, "secret-id", _]
                | ["role", _, "secret-id-accessor", _]
        ) {
            self.tidy(cx.now);
        }
        match (segs.as_slice(), cx.op) {
            (["login"], _) if write => self.login(core, cx),
            // Expired secret IDs went in the tidy above, as Vault's pass deletes them.
            (["tidy", "secret-id"], _) if write => Ok(super::token::tidy_started().into()),
            (["role", ""], Op::List) => Ok(Resp::list(self.roles.keys().cloned().collect()).into()),
            (["role", name], _) if !name.is_empty() => self.role(core, cx, &name.to_lowercase()),
            (["role", name, "role-id"], Op::Read) => {
                let r = self
                    .roles
                    .get(&name.to_lowercase())
                    .ok_or_else(VaultError::not_found)?;
                Ok(Resp::data(json!({ "role_id": r.role_id })).into())
            }
            (["role", name, "role-id"], _) if write => {
                // Vault's order: the role, the value, then whether another role has it.
                let name = name.to_lowercase();
                if !self.roles.contains_key(&name) {
                    return Err(VaultError::unsupported_path());
                }
                let id = cx.input.string("role_id")?.trim().to_owned();
                if id.is_empty() {
                    return Err(VaultError::bad("missing role_id"));
                }
                if self
                    .roles
                    .iter()
                    .any(|(n, r)| *n != name && r.role_id == id)
                {
                    return Err(VaultError::multi(500, "role_id already in use"));
                }
                if let Some(r) = self.roles.get_mut(&name) {
                    r.role_id = id;
                }
                Ok(Reply::NoContent.into())
            }
            (["role", name, "secret-id" | "custom-secret-id"], _) if write => {
                let custom = segs[2] == "custom-secret-id";
                self.generate(core, cx, name, custom)
            }
            (["role", name, "secret-id", ""], Op::List) => {
                let r = self.roles.get(&name.to_lowercase()).ok_or_else(|| {
                    VaultError::bad(format!("role {} does not exist", go_quote(name)))
                })?;
                let mut keys: Vec<String> =
                    r.secret_ids.values().map(|s| s.accessor.clone()).collect();
                keys.sort();
                Ok(Resp::list(keys).into())
            }
            (["role", name, "secret-id", action @ ("lookup" | "destroy")], _) if write => {
                let secret = cx.input.string("secret_id")?;
                if secret.is_empty() {
                    return Err(VaultError::bad("missing secret_id"));
                }
                let r = self.roles.get_mut(&name.to_lowercase()).ok_or_else(|| {
                    VaultError::multi(500, format!("role {} does not exist", go_quote(name)))
                })?;
                if *action == "destroy" {
                    r.secret_ids.remove(&secret);
                    return Ok(Reply::NoContent.into());
                }
                match r.secret_ids.get(&secret) {
                    Some(s) => Ok(Resp::data(s.lookup_json()).into()),
                    None => Ok(Reply::NoContent.into()),
                }
            }
            (["role", name, "secret-id-accessor", action @ ("lookup" | "destroy")], _) if write => {
                let acc = cx.input.string("secret_id_accessor")?;
                if acc.is_empty() {
                    return Err(VaultError::bad("missing secret_id_accessor"));
                }
                let lower = name.to_lowercase();
                if !self.roles.contains_key(&lower) {
                    return Err(VaultError::multi(
                        500,
                        format!("role {} does not exist", go_quote(name)),
                    ));
                }
                // The accessor index is the mount's: an accessor of another role is found, but
                // its secret ID is not under this role.
                let owner = self.roles.iter().find_map(|(n, r)| {
                    r.secret_ids
                        .iter()
                        .find(|(_, s)| s.accessor == acc)
                        .map(|(k, _)| (n.clone(), k.clone()))
                });
                let Some((owner, key)) = owner else {
                    let text = format!(
                        "failed to find accessor entry for secret_id_accessor: {}",
                        go_quote(&acc)
                    );
                    if *action == "destroy" {
                        return Err(VaultError::multi(500, text));
                    }
                    // logical.RespondWithStatusCode: a whole envelope with `data.error`, 404.
                    return Ok(Resp {
                        data: Some(json!({ "error": text })),
                        status: Some(404),
                        raw_status_body: true,
                        ..Resp::default()
                    }
                    .into());
                };
                let r = self.roles.get_mut(&lower).expect("checked above");
                match (*action, owner == lower) {
                    ("destroy", true) => {
                        r.secret_ids.remove(&key);
                        Ok(Reply::NoContent.into())
                    }
                    ("destroy", false) => Err(VaultError::new(403, "invalid secret id accessor")),
                    (_, true) => Ok(Resp::data(r.secret_ids[&key].lookup_json()).into()),
                    (_, false) => Ok(Reply::NoContent.into()),
                }
            }
            _ => Err(VaultError::unsupported_path()),
        }
    }
}

/// Vault's `cidrutil.ValidateCIDRListSlice`: each entry a CIDR with its mask; a plain error
/// (500) naming the first that is not.
fn validate_cidrs(list: &[String], what: &str) -> Result<(), VaultError> {
    for c in list {
        if !c.contains('/') || Cidr::parse(c).is_none() {
            return Err(VaultError::multi(
                500,
                format!("{what}: invalid CIDR address: {c}"),
            ));
        }
    }
    Ok(())
}

/// `verifyCIDRRoleSecretIDSubset`: every block of a secret ID inside one of the role's (role
/// entries without a mask taken as `/32`); a plain error (500) otherwise.
fn verify_cidr_subset(secret: &[String], role: &[String]) -> Result<(), VaultError> {
    if secret.is_empty() || role.is_empty() {
        return Ok(());
    }
    let role: Vec<String> = role
        .iter()
        .map(|b| {
            if b.contains('/') {
                b.clone()
            } else {
                format!("{b}/32")
            }
        })
        .collect();
    let inside = |outer: &str, inner: &str| match (Cidr::parse(outer), Cidr::parse(inner)) {
        (Some(o), Some(i)) => o.prefix() <= i.prefix() && o.contains(i.addr()),
        _ => false,
    };
    if secret.iter().all(|s| role.iter().any(|r| inside(r, s))) {
        return Ok(());
    }
    // code-read: Go's `%w` of a nil error
    Err(VaultError::multi(
        500,
        format!(
            "failed to verify subset relationship between CIDR blocks on the role {} and CIDR blocks on the secret ID {}: %!w(<nil>)",
            go_quoted_list(&role),
            go_quoted_list(secret)
        ),
    ))
}

/// go-secure-stdlib's `strutil.ParseArbitraryKeyValues`: the trimmed input, base64-decoded when
/// it decodes, as a JSON object of strings or else as `k=v,k2=v2` (lower-cased, sorted, with
/// `ParseKeyValues`' texts); an empty value is refused.
fn parse_arbitrary_key_values(input: &str) -> Result<BTreeMap<String, String>, String> {
    let input = input.trim();
    let mut out = BTreeMap::new();
    if input.is_empty() {
        return Ok(out);
    }
    let decoded;
    let input = match go_base64(input) {
        Ok(bytes) => {
            decoded = String::from_utf8_lossy(&bytes).into_owned();
            decoded.as_str()
        }
        Err(_) => input,
    };
    match serde_json::from_str::<Option<BTreeMap<String, Option<String>>>>(input) {
        Ok(m) => out.extend(
            m.unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default())),
        ),
        Err(_) => {
            // ParseDedupLowercaseAndSortStrings, then each pair split at `=`.
            let pairs: std::collections::BTreeSet<String> = input
                .split(',')
                .map(|p| p.trim().to_lowercase())
                .filter(|p| !p.is_empty())
                .collect();
            for pair in pairs {
                let shards: Vec<&str> = pair.split('=').collect();
                let [k, v] = shards[..] else {
                    return Err("failed to parse the input: invalid <key,value> format".into());
                };
                let (k, v) = (k.trim(), v.trim());
                if k.is_empty() || v.is_empty() {
                    return Err(format!(
                        "failed to parse the input: invalid <key,value> pair: key: {} value: {}",
                        go_quote(k),
                        go_quote(v)
                    ));
                }
                out.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    match out.iter().find(|(k, v)| !k.is_empty() && v.is_empty()) {
        Some((k, _)) => Err(format!("invalid value for key {}", go_quote(k))),
        None => Ok(out),
    }
}

fn role_missing(name: &str) -> VaultError {
    VaultError::new(404, format!("role {} does not exist", go_quote(name)))
}

impl AppRole {
    /// Vault's periodic tidy, run before the requests that show secret IDs: expired ones leave
    /// lookups and lists (a real Vault removes them within a minute of expiry, in a pass once a
    /// minute).
    fn tidy(&mut self, now: SystemTime) {
        for r in self.roles.values_mut() {
            r.secret_ids
                .retain(|_, s| s.expiration.is_none_or(|x| x > now));
        }
    }

    fn role(&mut self, core: &mut Core, cx: &Ctx<'_>, name: &str) -> Result<Outcome, VaultError> {
        match cx.op {
            Op::Read => {
                let r = self.roles.get(name).ok_or_else(VaultError::not_found)?;
                let mut m = Map::new();
                m.insert("bind_secret_id".into(), json!(r.bind_secret_id));
                m.insert("local_secret_ids".into(), json!(r.local_secret_ids));
                m.insert(
                    "secret_id_bound_cidrs".into(),
                    json!(r.secret_id_bound_cidrs),
                );
                m.insert("secret_id_num_uses".into(), json!(r.secret_id_num_uses));
                m.insert("secret_id_ttl".into(), json!(r.secret_id_ttl));
                r.token.write_json(&mut m);
                Ok(Resp::data(Value::Object(m)).into())
            }
            Op::Create | Op::Update => {
                let i = cx.input;
                let existing = self.roles.get(name).cloned();
                let creating = existing.is_none();
                let mut r = existing.unwrap_or_else(|| Role {
                    role_id: String::new(),
                    bind_secret_id: true,
                    secret_id_bound_cidrs: None,
                    secret_id_num_uses: 0,
                    secret_id_ttl: 0,
                    local_secret_ids: false,
                    token: TokenSettings::default(),
                    secret_ids: BTreeMap::new(),
                });
                // pathRoleCreateUpdate's order. Two token types that mean nothing here are
                // adjusted with a warning before the token fields are parsed.
                let mut warnings = Vec::new();
                let adjusted = match i.str("token_type")?.as_deref() {
                    Some("default-service") => Some("service"),
                    Some("default-batch") => Some("batch"),
                    _ => None,
                };
                if let Some(t) = adjusted {
                    warnings.push(format!(
                        "default-{t} has no useful meaning; adjusting to {t}"
                    ));
                }
                r.token
                    .parse_typed(i, adjusted.map_or(TypeField::Input, TypeField::As))?;
                if let Some(l) = i.bool("local_secret_ids")? {
                    // Given at all on an update, even unchanged, it is refused.
                    if !creating {
                        return Err(VaultError::bad(
                            "local_secret_ids can only be modified during role creation",
                        ));
                    }
                    r.local_secret_ids = l;
                }
                match i.str("role_id")? {
                    Some(id) => r.role_id = id,
                    None if creating => r.role_id = core.uuid(),
                    None => {}
                }
                if r.role_id.is_empty() {
                    return Err(VaultError::bad(
                        "invalid role_id supplied, or failed to generate a role_id",
                    ));
                }
                if let Some(v) = i.bool("bind_secret_id")? {
                    r.bind_secret_id = v;
                }
                let cidrs = match i.str_list("secret_id_bound_cidrs")? {
                    Some(c) => Some(c),
                    None => i.str_list("bound_cidr_list")?,
                };
                if let Some(c) = cidrs {
                    validate_cidrs(&c, "failed to validate CIDR blocks")?;
                    r.secret_id_bound_cidrs = Some(c);
                }
                if let Some(n) = i.int("secret_id_num_uses")? {
                    r.secret_id_num_uses = n;
                }
                if r.secret_id_num_uses < 0 {
                    return Err(VaultError::bad("secret_id_num_uses cannot be negative"));
                }
                if let Some(t) = i.duration("secret_id_ttl")? {
                    r.secret_id_ttl = t;
                }
                r.token.upgrade(i, &["policies", "period"])?;
                let max = cx.mount.max_ttl();
                if r.token.legacy.contains("period") && r.token.period > max {
                    return Err(VaultError::bad(format!(
                        "period of {} is greater than the backend's maximum lease TTL of {}",
                        go_quote(&go_duration(r.token.period)),
                        go_quote(&go_duration(max))
                    )));
                }
                if r.token.max_ttl > max {
                    warnings.push("token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".into());
                }
                if !r.bind_secret_id
                    && r.secret_id_bound_cidrs.as_ref().is_none_or(Vec::is_empty)
                    && r.token.bound_cidrs.is_empty()
                {
                    // A plain error of Vault's setRoleEntry: 500.
                    return Err(VaultError::multi(
                        500,
                        "at least one constraint should be enabled on the role",
                    ));
                }
                if self
                    .roles
                    .iter()
                    .any(|(n, o)| n != name && o.role_id == r.role_id)
                {
                    return Err(VaultError::multi(500, "role_id already in use"));
                }
                self.roles.insert(name.to_owned(), r);
                Ok(Reply::with_warnings(warnings).into())
            }
            Op::Delete => {
                self.roles.remove(name);
                Ok(Reply::NoContent.into())
            }
            _ => Err(VaultError::unsupported_operation()),
        }
    }

    fn generate(
        &mut self,
        core: &mut Core,
        cx: &Ctx<'_>,
        name: &str,
        custom: bool,
    ) -> Result<Outcome, VaultError> {
        let i = cx.input;
        let secret = if custom {
            let s = i.string("secret_id")?;
            if s.is_empty() {
                return Err(VaultError::bad("missing secret_id"));
            }
            Some(s)
        } else {
            None
        };
        let lower = name.to_lowercase();
        let r = self.roles.get(&lower).ok_or_else(|| role_missing(name))?;
        if !r.bind_secret_id {
            return Err(VaultError::bad("bind_secret_id is not set on the role"));
        }
        let cidr_list = i.str_list("cidr_list")?.unwrap_or_default();
        validate_cidrs(&cidr_list, "failed to validate CIDR blocks")?;
        verify_cidr_subset(
            &cidr_list,
            r.secret_id_bound_cidrs.as_deref().unwrap_or_default(),
        )?;
        let token_cidrs = i.str_list("token_bound_cidrs")?.unwrap_or_default();
        validate_cidrs(&token_cidrs, "failed to validate token CIDR blocks")?;
        verify_cidr_subset(&token_cidrs, &r.token.bound_cidrs)?;
        let num_uses = match i.int("num_uses")? {
            Some(n) if n < 0 => return Err(VaultError::bad("num_uses cannot be negative")),
            Some(n) => n,
            None => r.secret_id_num_uses,
        };
        if r.secret_id_num_uses > 0 && (num_uses == 0 || num_uses > r.secret_id_num_uses) {
            return Err(VaultError::bad(
                "num_uses cannot be higher than the role's secret_id_num_uses",
            ));
        }
        let ttl = i.duration("ttl")?.unwrap_or(r.secret_id_ttl);
        if r.secret_id_ttl > 0 && (ttl == 0 || ttl > r.secret_id_ttl) {
            return Err(VaultError::bad(
                "ttl cannot be longer than the role's secret_id_ttl",
            ));
        }
        // The metadata is read last, as Vault does.
        let metadata = parse_arbitrary_key_values(&i.string("metadata")?)
            .map_err(|e| VaultError::bad(format!("failed to parse metadata: {e}")))?;
        // deriveSecretIDTTL: the expiry and the answer use the mount's max lease TTL when the
        // stored TTL is above it; lookups show the stored one.
        let max = cx.mount.max_ttl();
        let effective_ttl = if ttl < 0 || ttl > max { max } else { ttl };
        let secret = match secret {
            Some(s) => s,
            None => core.uuid(),
        };
        if r.secret_ids.contains_key(&secret) {
            return Err(VaultError::multi(
                500,
                "failed to store secret_id: SecretID is already registered",
            ));
        }
        let entry = SecretId {
            accessor: core.uuid(),
            cidr_list,
            token_bound_cidrs: token_cidrs,
            metadata,
            num_uses,
            ttl,
            creation: cx.now,
            expiration: (effective_ttl > 0).then(|| add_secs(cx.now, effective_ttl)),
            last_updated: Some(cx.now),
        };
        let data = json!({
            "secret_id": secret,
            "secret_id_accessor": entry.accessor,
            "secret_id_num_uses": num_uses,
            "secret_id_ttl": effective_ttl,
        });
        let r = self.roles.get_mut(&lower).expect("role checked above");
        r.secret_ids.insert(secret, entry);
        Ok(Resp::data(data).into())
    }

    fn login(&mut self, core: &mut Core, cx: &Ctx<'_>) -> Result<Outcome, VaultError> {
        let role_id = cx.input.string("role_id")?.trim().to_owned();
        let secret = cx.input.string("secret_id")?.trim().to_owned();
        if role_id.is_empty() {
            // With user lockout on (Vault's default), core first asks the login for its alias
            // name, and that lookahead fails without a role_id: a bare 500 before the handler's
            // own `missing role_id`.
            return Err(VaultError::new(
                500,
                "failed to determine alias name from login request",
            ));
        }
        let accessor = cx.mount.accessor.clone();
        if core.is_locked_out(&accessor, &role_id, cx.now) {
            return Err(VaultError::permission_denied());
        }
        // An unknown role_id is an error response, not invalid credentials: not counted.
        let Some((name, role)) = self.roles.iter_mut().find(|(_, r)| r.role_id == role_id) else {
            return Err(VaultError::bad("invalid role or secret ID"));
        };
        let name = name.clone();
        let ip = cx.remote;
        let mut metadata = BTreeMap::new();
        let mut token = role.token.clone();
        if role.bind_secret_id {
            if secret.is_empty() {
                return Err(VaultError::bad("missing secret_id"));
            }
            let entry = match role.secret_ids.get(&secret) {
                None => None,
                // UNVERIFIED: reference/vault-core.md §6 (expired secret_id before tidy)
                Some(e) if e.expiration.is_some_and(|x| x <= cx.now) => {
                    role.secret_ids.remove(&secret);
                    None
                }
                Some(e) => Some(e.clone()),
            };
            let Some(entry) = entry else {
                core.login_failed(&accessor, &role_id, cx.now);
                return Err(VaultError::bad("invalid role or secret ID"));
            };
            let role_cidrs = role.secret_id_bound_cidrs.as_deref().unwrap_or_default();
            if entry.num_uses == 0 {
                verify_cidr_subset(&entry.cidr_list, role_cidrs)?;
            }
            // A secret with limited uses spends one before its CIDRs are checked.
            if entry.num_uses > 0 {
                if entry.num_uses == 1 {
                    role.secret_ids.remove(&secret);
                } else if let Some(e) = role.secret_ids.get_mut(&secret) {
                    e.num_uses -= 1;
                    e.last_updated = Some(cx.now);
                }
                verify_cidr_subset(&entry.cidr_list, role_cidrs)?;
            }
            if !cidrs_allow(&entry.cidr_list, ip) {
                return Err(VaultError::bad(if entry.num_uses == 0 {
                    format!(
                        "source address {:?} unauthorized through CIDR restrictions on the secret ID",
                        ip.to_string()
                    )
                } else {
                    // code-read: Go's `%w` of a nil error
                    format!(
                        "source address {:?} unauthorized by CIDR restrictions on the secret ID: %!w(<nil>)",
                        ip.to_string()
                    )
                }));
            }
            metadata = entry.metadata.clone();
            if !entry.token_bound_cidrs.is_empty() {
                token.bound_cidrs = entry.token_bound_cidrs.clone();
            }
        }
        if !cidrs_allow(
            role.secret_id_bound_cidrs.as_deref().unwrap_or_default(),
            ip,
        ) {
            // code-read: Go's `%w` of a nil error
            return Err(VaultError::bad(format!(
                "source address {:?} unauthorized by CIDR restrictions on the role: %!w(<nil>)",
                ip.to_string()
            )));
        }
        core.login_succeeded(&accessor, &role_id);
        metadata.insert("role_name".into(), name);
        Ok(Outcome::Login(Box::new(LoginSuccess {
            policies: token.policies.clone(),
            metadata,
            display_name: String::new(),
            alias_name: role_id,
            token,
            data: None,
            warnings: Vec::new(),
            renew_check: None,
        })))
    }
}
