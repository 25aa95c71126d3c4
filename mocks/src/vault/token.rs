//! `auth/token` (reference vault-core.md §4): the token store; create, create-orphan,
//! create/:role, roles, lookup(-self, -accessor), renew(-self, -accessor), revoke(-self, -accessor,
//! -orphan), accessors; TTL, max TTL, explicit max TTL, period, `num_uses`, orphans and children;
//! token formats (§4.2); and [`issue_login`], which turns any auth method's successful login into
//! a token and the `auth` block.
//!
//! Expiry is read from the simulation clock: a token whose `expire_time` has passed (or whose
//! parent chain has) is invalid from that instant.
//!
//! **Not modelled:** token role `allowed_policies_glob`/`disallowed_policies_glob`,
//! `allowed_entity_aliases`, `path_suffix` (stored and shown only), `sys/leases` of tokens, tidy,
//! the custom-ID SHA1 warning.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use rand::Rng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Map, Value};

use super::envelope::{AuthBlock, Reply, Resp};
use super::error::VaultError;
use super::fields::{
    add_secs, human_duration, parse_duration_value, remove_duplicates, rfc3339_nano, secs_until,
    sockaddr_error, unix, Input,
};
use super::go_fmt::{go_quote, go_quoted_list};
use super::{Core, Ctx, LoginSuccess, MountInfo, Op, SYSTEM_MAX_TTL};

/// A token as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEntry {
    /// One allocation shared with the store's maps (by id, by accessor, children, expiry): a load
    /// test keeps hundreds of thousands of tokens.
    pub id: Arc<str>,
    /// Empty for batch tokens.
    pub accessor: Arc<str>,
    // The fields that repeat from one login to the next are shared between tokens (see
    // `TokenStore::share`): a load test keeps hundreds of thousands of tokens.
    pub policies: Arc<[String]>,
    pub meta: Option<Arc<BTreeMap<String, String>>>,
    pub display_name: Arc<str>,
    pub path: Arc<str>,
    pub creation: SystemTime,
    pub creation_ttl: i64,
    /// `None` for non-expiring tokens.
    pub expire: Option<SystemTime>,
    /// Renewals never go past this.
    pub max_expire: Option<SystemTime>,
    pub explicit_max_ttl: i64,
    pub period: i64,
    pub num_uses: i64,
    pub orphan: bool,
    pub parent: Option<String>,
    pub renewable: bool,
    pub batch: bool,
    pub entity_id: Arc<str>,
    pub role: Option<String>,
    pub last_renewal: Option<SystemTime>,
    /// False for the init root token, which has no lease entry.
    pub has_lease: bool,
    pub bound_cidrs: Vec<String>,
}

impl TokenEntry {
    fn ttl(&self, now: SystemTime) -> i64 {
        self.expire.map(|e| secs_until(now, e).max(0)).unwrap_or(0)
    }

    pub fn token_type(&self) -> &'static str {
        if self.batch {
            "batch"
        } else {
            "service"
        }
    }

    /// The `auth` block for this token with `lease_duration` = its current TTL.
    pub fn auth_block(&self, now: SystemTime) -> AuthBlock {
        AuthBlock {
            client_token: self.id.to_string(),
            accessor: self.accessor.to_string(),
            policies: self.policies.to_vec(),
            token_policies: self.policies.to_vec(),
            identity_policies: Vec::new(),
            metadata: self.meta.clone(),
            lease_duration: self.ttl(now),
            renewable: self.renewable && self.expire.is_some(),
            entity_id: self.entity_id.to_string(),
            token_type: self.token_type().into(),
            orphan: self.orphan,
            num_uses: self.num_uses.max(0),
        }
    }

    /// `data` of the lookup endpoints (§4.3). `id` is what the caller sent (`""` by accessor).
    pub fn lookup_json(&self, now: SystemTime, id: &str) -> Value {
        let mut m = Map::new();
        m.insert("accessor".into(), json!(&*self.accessor));
        m.insert("creation_time".into(), json!(unix(self.creation)));
        m.insert("creation_ttl".into(), json!(self.creation_ttl));
        m.insert("display_name".into(), json!(&*self.display_name));
        m.insert("entity_id".into(), json!(&*self.entity_id));
        m.insert(
            "expire_time".into(),
            self.expire.map_or(Value::Null, |e| json!(rfc3339_nano(e))),
        );
        m.insert("explicit_max_ttl".into(), json!(self.explicit_max_ttl));
        m.insert("id".into(), json!(id));
        if self.has_lease {
            m.insert("issue_time".into(), json!(rfc3339_nano(self.creation)));
            m.insert("renewable".into(), json!(self.renewable));
        }
        m.insert("meta".into(), json!(self.meta.as_deref()));
        m.insert("num_uses".into(), json!(self.num_uses.max(0)));
        m.insert("orphan".into(), json!(self.orphan));
        m.insert("path".into(), json!(&*self.path));
        m.insert("policies".into(), json!(&*self.policies));
        m.insert("ttl".into(), json!(self.ttl(now)));
        m.insert("type".into(), json!(self.token_type()));
        if let Some(r) = &self.role {
            m.insert("role".into(), json!(r));
        }
        if self.period > 0 {
            m.insert("period".into(), json!(self.period));
        }
        if !self.bound_cidrs.is_empty() {
            m.insert("bound_cidrs".into(), json!(self.bound_cidrs));
        }
        if let Some(l) = self.last_renewal {
            m.insert("last_renewal_time".into(), json!(unix(l)));
            m.insert("last_renewal".into(), json!(rfc3339_nano(l)));
        }
        Value::Object(m)
    }
}

/// The common token fields of auth method roles and users (`sdk` package `tokenutil`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenSettings {
    pub policies: Vec<String>,
    pub ttl: i64,
    pub max_ttl: i64,
    pub explicit_max_ttl: i64,
    pub period: i64,
    pub num_uses: i64,
    pub no_default_policy: bool,
    pub bound_cidrs: Vec<String>,
    /// `default`, `service`, `batch`, `default-service`, `default-batch`.
    pub token_type: String,
    /// Legacy field names that were used to set a value (shown on read).
    pub legacy: BTreeSet<&'static str>,
}

/// How [`TokenSettings::parse_typed`] reads `token_type`.
#[derive(Debug, Clone, Copy)]
pub enum TypeField<'a> {
    /// From the input.
    Input,
    /// As if the input held this value.
    As(&'a str),
    /// Not at all: the settings' type stays (and is what the batch checks look at).
    Skip,
}

/// Legacy name → token field name.
const LEGACY: &[(&str, &str)] = &[
    ("policies", "token_policies"),
    ("period", "token_period"),
    ("ttl", "token_ttl"),
    ("max_ttl", "token_max_ttl"),
    ("bound_cidrs", "token_bound_cidrs"),
];

impl TokenSettings {
    /// `tokenutil.ParseTokenFields`: the `token_*` fields in Vault's order, each check on the
    /// merged entry (an update that sets `token_max_ttl` below a stored `token_ttl` is refused).
    /// Legacy names are [`TokenSettings::upgrade`]'s, applied after the backend's own fields.
    pub fn parse(&mut self, input: &Input) -> Result<(), VaultError> {
        self.parse_typed(input, TypeField::Input)
    }

    /// [`TokenSettings::parse`] with the `token_type` field read as `token_type` says (AppRole
    /// rewrites `default-service` and `default-batch` before parsing; token roles take the field
    /// out and check it themselves).
    pub fn parse_typed(
        &mut self,
        input: &Input,
        token_type: TypeField<'_>,
    ) -> Result<(), VaultError> {
        if let Some(v) = input.str_list("token_bound_cidrs")? {
            if let Some(e) = v.iter().find_map(|a| sockaddr_error(a)) {
                return Err(VaultError::bad(e));
            }
            self.bound_cidrs = v;
        }
        if let Some(v) = input.duration("token_explicit_max_ttl")? {
            self.explicit_max_ttl = v;
        }
        if let Some(v) = input.duration("token_max_ttl")? {
            self.max_ttl = v;
        }
        if self.max_ttl < 0 {
            return Err(VaultError::bad("'token_max_ttl' cannot be negative"));
        }
        if let Some(v) = input.bool("token_no_default_policy")? {
            self.no_default_policy = v;
        }
        if let Some(v) = input.duration("token_period")? {
            self.period = v;
        }
        if self.period < 0 {
            return Err(VaultError::bad("'token_period' cannot be negative"));
        }
        if let Some(p) = input.str_list("token_policies")? {
            self.policies = p;
        }
        let given = match token_type {
            TypeField::Input => input.str("token_type")?,
            TypeField::As(t) => Some(t.to_owned()),
            TypeField::Skip => None,
        };
        if let Some(t) = given {
            self.token_type = match t.as_str() {
                "" | "default" => "default",
                "service" => "service",
                "batch" => "batch",
                _ => {
                    return Err(VaultError::bad(format!(
                        "invalid 'token_type' value {}",
                        go_quote(&t)
                    )))
                }
            }
            .into();
        }
        if let Some(v) = input.int("token_num_uses")? {
            self.num_uses = v;
        }
        if self.num_uses < 0 {
            return Err(VaultError::bad("'token_num_uses' cannot be negative"));
        }
        if matches!(self.token_type.as_str(), "batch" | "default-batch") {
            if self.period != 0 {
                return Err(VaultError::bad("'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens"));
            }
            if self.num_uses != 0 {
                return Err(VaultError::bad("'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count"));
            }
        }
        if self.token_type.is_empty() {
            self.token_type = "default".into();
        }
        if let Some(v) = input.duration("token_ttl")? {
            self.ttl = v;
        }
        if self.ttl < 0 {
            return Err(VaultError::bad("'token_ttl' cannot be negative"));
        }
        if self.ttl > 0 && self.max_ttl > 0 && self.ttl > self.max_ttl {
            return Err(VaultError::bad(
                "'token_ttl' cannot be greater than 'token_max_ttl'",
            ));
        }
        Ok(())
    }

    /// `tokenutil.UpgradeValue` for each legacy name in `legacy`, in that order, run by a backend
    /// after its own fields: a legacy value applies only when its `token_*` name is absent, and
    /// skips [`TokenSettings::parse`]'s checks (a user written with `ttl` above `max_ttl` is
    /// accepted, as in Vault). The read shows a legacy key while its stored value is set.
    pub fn upgrade(&mut self, input: &Input, legacy: &[&'static str]) -> Result<(), VaultError> {
        for &old in legacy {
            let new = LEGACY
                .iter()
                .find(|(l, _)| *l == old)
                .map(|(_, t)| *t)
                .expect("a legacy token field");
            if input.raw(new).is_some() {
                // Both given: the legacy copy follows the new value; only the new: it is cleared.
                if input.raw(old).is_some() {
                    self.legacy.insert(old);
                } else {
                    self.legacy.remove(old);
                }
                continue;
            }
            let set = match old {
                // `policyutil.ParsePolicies`: sanitised, unlike `token_policies`.
                "policies" => input
                    .str_list(old)?
                    .map(|p| self.policies = sanitize_policies(&p, false)),
                "period" => input.duration(old)?.map(|v| self.period = v),
                "ttl" => input.duration(old)?.map(|v| self.ttl = v),
                "max_ttl" => input.duration(old)?.map(|v| self.max_ttl = v),
                "bound_cidrs" => match input.str_list(old)? {
                    None => None,
                    Some(v) => {
                        if let Some(e) = v.iter().find_map(|a| sockaddr_error(a)) {
                            return Err(VaultError::bad(e));
                        }
                        self.bound_cidrs = v;
                        Some(())
                    }
                },
                _ => None,
            };
            if set.is_some() {
                self.legacy.insert(old);
            }
        }
        Ok(())
    }

    /// The `token_*` keys of a role or user read, plus legacy keys that were used.
    pub fn write_json(&self, m: &mut Map<String, Value>) {
        m.insert("token_bound_cidrs".into(), json!(self.bound_cidrs));
        m.insert(
            "token_explicit_max_ttl".into(),
            json!(self.explicit_max_ttl),
        );
        m.insert("token_max_ttl".into(), json!(self.max_ttl));
        m.insert(
            "token_no_default_policy".into(),
            json!(self.no_default_policy),
        );
        m.insert("token_num_uses".into(), json!(self.num_uses));
        m.insert("token_period".into(), json!(self.period));
        m.insert("token_policies".into(), json!(&*self.policies));
        m.insert("token_ttl".into(), json!(self.ttl));
        m.insert(
            "token_type".into(),
            json!(if self.token_type.is_empty() {
                "default"
            } else {
                &self.token_type
            }),
        );
        // Vault's reads add a legacy key while its stored copy is non-zero / non-empty.
        for l in &self.legacy {
            let v = match *l {
                "policies" if !self.policies.is_empty() => json!(&*self.policies),
                "period" if self.period != 0 => json!(self.period),
                "ttl" if self.ttl > 0 => json!(self.ttl),
                "max_ttl" if self.max_ttl > 0 => json!(self.max_ttl),
                "bound_cidrs" if !self.bound_cidrs.is_empty() => json!(self.bound_cidrs),
                _ => continue,
            };
            m.insert((*l).into(), v);
        }
    }
}

/// `policyutil.SanitizePolicies`: trimmed, lower-cased, deduplicated, sorted, `default` added if
/// asked; `root` alone if present.
pub fn sanitize_policies(policies: &[String], add_default: bool) -> Vec<String> {
    let mut list = remove_duplicates(policies, true);
    if list.iter().any(|p| p == "root") {
        return vec!["root".into()];
    }
    if add_default && !list.iter().any(|p| p == "default") {
        list.push("default".into());
        list.sort();
    }
    list
}

/// A token role (`auth/token/roles/:name`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenRole {
    pub allowed_policies: Vec<String>,
    pub disallowed_policies: Vec<String>,
    pub allowed_policies_glob: Vec<String>,
    pub disallowed_policies_glob: Vec<String>,
    /// `None` until given (read back as `null`).
    pub allowed_entity_aliases: Option<Vec<String>>,
    pub orphan: bool,
    pub renewable: bool,
    pub path_suffix: String,
    /// `service`, `batch`, `default-service` (when never set) or `default-batch`.
    pub token_type: String,
    /// The deprecated `period`, `explicit_max_ttl` and `bound_cidrs` as given (read back).
    pub period: i64,
    pub explicit_max_ttl: i64,
    pub bound_cidrs: Vec<String>,
    /// `token_period`, `token_explicit_max_ttl`, `token_bound_cidrs`, `token_num_uses`,
    /// `token_no_default_policy` (the token fields a role takes).
    pub token: TokenSettings,
}

/// The store's maps: keyed by random token ids and accessors the store made itself, so a fast
/// unkeyed-quality hash is enough (SipHash's flooding resistance buys nothing here and costs
/// a few percent of a login).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A token id as the store's maps hold it: one allocation shared by all of them (a login
/// token's id is ~95 bytes, and a load test keeps hundreds of thousands of tokens).
type Id = Arc<str>;

/// A token in the store, with the auth method's check to run before it is renewed (Vault's
/// `PathLoginRenew`: the role still exists and still binds the principal), if any. Held together
/// so that a revoked or purged token takes its check with it, and a login inserts into one map.
#[derive(Debug)]
struct Stored {
    entry: TokenEntry,
    renew_check: Option<super::RenewCheck>,
}

impl std::ops::Deref for Stored {
    type Target = TokenEntry;
    fn deref(&self) -> &TokenEntry {
        &self.entry
    }
}

impl std::ops::DerefMut for Stored {
    fn deref_mut(&mut self) -> &mut TokenEntry {
        &mut self.entry
    }
}

/// All tokens, by id and accessor, and the token roles.
#[derive(Debug, Default)]
pub struct TokenStore {
    /// Boxed: a load test keeps hundreds of thousands of tokens, and growing the table then moves
    /// pointers rather than whole entries.
    by_id: FastMap<Id, Box<Stored>>,
    by_accessor: FastMap<Id, Id>,
    /// Parent id → child ids.
    children: FastMap<Id, Vec<Id>>,
    /// Tokens that expire, soonest first, so that expired ones are dropped as new ones come in
    /// without walking the store. Kept loosely: a renewed token is found to expire later than its
    /// entry here says and goes back in; a revoked one is skipped.
    expiry: BinaryHeap<Reverse<(SystemTime, Id)>>,
    pub roles: BTreeMap<String, TokenRole>,
    /// Token metadata maps already held by some token: logins of one principal carry the very
    /// same map, and a load test keeps hundreds of thousands of their tokens alive.
    shared_meta: Interned<BTreeMap<String, String>>,
    /// Likewise policy lists, and display names, paths and entity ids.
    shared_policies: Interned<[String]>,
    shared_texts: Interned<str>,
}

/// Values held by many tokens at once, each kept once; at most [`SHARED_META_MAX`] are
/// remembered (then forgotten at once: tokens keep theirs, later ones start sharing anew).
#[derive(Debug)]
struct Interned<T: ?Sized>(HashSet<Arc<T>, foldhash::fast::RandomState>);

impl<T: ?Sized> Default for Interned<T> {
    fn default() -> Self {
        Self(HashSet::default())
    }
}

impl<T: ?Sized + std::hash::Hash + Eq> Interned<T> {
    /// `value` behind an `Arc`: the one already held when an equal value is.
    fn share<V: std::borrow::Borrow<T> + Into<Arc<T>>>(&mut self, value: V) -> Arc<T> {
        if let Some(shared) = self.0.get(value.borrow()) {
            return shared.clone();
        }
        if self.0.len() >= SHARED_META_MAX {
            self.0.clear();
        }
        let shared: Arc<T> = value.into();
        self.0.insert(shared.clone());
        shared
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// At most this many distinct metadata maps are remembered for sharing (then forgotten at once:
/// tokens keep theirs, later logins start sharing anew).
const SHARED_META_MAX: usize = 4096;

fn gen_base62(rng: &mut ChaCha20Rng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| A[rng.gen_range(0..A.len())] as char)
        .collect()
}

impl TokenStore {
    /// `meta` behind an `Arc`, the one already held by another token when it is equal.
    pub fn share_meta(&mut self, meta: BTreeMap<String, String>) -> Arc<BTreeMap<String, String>> {
        self.shared_meta.share(meta)
    }

    pub fn insert(&mut self, e: TokenEntry) {
        let id: Id = e.id.clone();
        if !e.accessor.is_empty() {
            self.by_accessor.insert(e.accessor.clone(), id.clone());
        }
        if let Some(p) = &e.parent {
            let parent = match self.by_id.get_key_value(p.as_str()) {
                Some((k, _)) => k.clone(),
                None => Arc::from(p.as_str()),
            };
            self.children.entry(parent).or_default().push(id.clone());
        }
        let now = e.creation;
        if let Some(at) = e.expire {
            self.expiry.push(Reverse((at, id.clone())));
        }
        self.by_id.insert(
            id,
            Box::new(Stored {
                entry: e,
                renew_check: None,
            }),
        );
        // Each insert drops what has expired by now: a load test's store holds its live tokens
        // and no tail of dead ones, and no request waits on a walk of the whole store.
        self.purge_expired(now);
    }

    /// Sets the check to run before token `id` is renewed (nothing when there is no such token).
    pub fn set_renew_check(&mut self, id: &str, check: super::RenewCheck) {
        if let Some(stored) = self.by_id.get_mut(id) {
            stored.renew_check = Some(check);
        }
    }

    /// Revokes every token (and so its children) that has expired by `now`.
    pub fn purge_expired(&mut self, now: SystemTime) {
        while let Some(Reverse((at, _))) = self.expiry.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, id))) = self.expiry.pop() else {
                break;
            };
            match self.by_id.get(&id).and_then(|t| t.expire) {
                Some(x) if x <= now => self.revoke_tree(&id),
                // Renewed since: it goes back in at its new expiry.
                Some(x) => self.expiry.push(Reverse((x, id))),
                // Revoked already.
                None => {}
            }
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(e) = self.by_id.remove(id) {
            self.by_accessor.remove(&*e.accessor);
            if let Some(p) = &e.parent {
                if let Some(siblings) = self.children.get_mut(p.as_str()) {
                    siblings.retain(|c| &**c != id);
                }
            }
        }
    }

    /// The init root token: `root` policy, no lease, no expiry.
    pub(crate) fn insert_root(&mut self, rng: &mut ChaCha20Rng, id: &str, now: SystemTime) {
        let accessor = gen_base62(rng, 24);
        self.insert(TokenEntry {
            id: id.into(),
            accessor: accessor.into(),
            policies: Arc::from(["root".to_owned()]),
            meta: None,
            display_name: "root".into(),
            path: "auth/token/root".into(),
            creation: now,
            creation_ttl: 0,
            expire: None,
            max_expire: None,
            explicit_max_ttl: 0,
            period: 0,
            num_uses: 0,
            orphan: true,
            parent: None,
            renewable: false,
            batch: false,
            entity_id: "".into(),
            role: None,
            last_renewal: None,
            has_lease: false,
            bound_cidrs: Vec::new(),
        });
    }

    /// The token if it, and every parent up its chain, is unexpired.
    pub fn get_valid(&self, id: &str, now: SystemTime) -> Option<&TokenEntry> {
        let e = self.by_id.get(id)?;
        let mut cur = Some(e);
        while let Some(t) = cur {
            if t.expire.is_some_and(|x| x <= now) {
                return None;
            }
            cur = match &t.parent {
                Some(p) => Some(self.by_id.get(p.as_str())?),
                None => None,
            };
        }
        Some(e)
    }

    /// The check to run before token `id` is renewed, if its auth method set one.
    fn renew_check(&self, id: &str) -> Option<super::RenewCheck> {
        self.by_id.get(id)?.renew_check.clone()
    }

    pub fn get(&self, id: &str) -> Option<&TokenEntry> {
        self.by_id.get(id).map(|e| &e.entry)
    }

    pub fn by_accessor(&self, accessor: &str, now: SystemTime) -> Option<&TokenEntry> {
        let id = self.by_accessor.get(accessor)?;
        self.get_valid(id, now)
    }

    /// Counts one use; returns the id when that was the last one.
    pub fn use_once(&mut self, id: &str) -> Option<String> {
        let e = self.by_id.get_mut(id)?;
        if e.num_uses > 0 {
            e.num_uses -= 1;
            if e.num_uses == 0 {
                // Vault's "revocation pending" marker: revoked once this request is done.
                e.num_uses = -1;
                return Some(id.to_owned());
            }
        }
        None
    }

    /// Revokes a token and all its descendants.
    pub fn revoke_tree(&mut self, id: &str) {
        for c in self.children.remove(id).unwrap_or_default() {
            self.revoke_tree(&c);
        }
        self.remove(id);
    }

    /// Revokes a token; its children become orphans.
    pub fn revoke_orphan(&mut self, id: &str) {
        for c in self.children.remove(id).unwrap_or_default() {
            if let Some(t) = self.by_id.get_mut(&c) {
                t.parent = None;
                t.orphan = true;
            }
        }
        self.remove(id);
    }

    /// Revokes every token issued on a path under `prefix` (an auth mount being disabled).
    pub fn revoke_path_prefix(&mut self, prefix: &str) {
        let ids: Vec<Id> = self
            .by_id
            .values()
            .filter(|t| t.path.starts_with(prefix))
            .map(|t| t.id.clone())
            .collect();
        for id in ids {
            self.revoke_tree(&id);
        }
    }

    /// Valid accessors.
    pub fn accessors(&self, now: SystemTime) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_id
            .values()
            .filter(|t| self.get_valid(&t.id, now).is_some())
            .map(|t| t.accessor.to_string())
            .collect();
        v.sort();
        v
    }
}

impl Core {
    /// A service token id: root-style `hvs.` + 24 base62, or a server-side-consistent-looking
    /// `hvs.CAES…` of ~95 characters (§4.2).
    pub fn new_token_id(&mut self, short: bool, batch: bool) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        if batch {
            return format!("hvb.AAAAAQ{}", b64.encode(self.random_bytes(120)));
        }
        if short {
            return format!("hvs.{}", self.base62(24));
        }
        // UNVERIFIED: reference/vault-core.md §4.2 (exact SSC token length, ~95 chars)
        format!("hvs.CAESI{}", b64.encode(self.random_bytes(64)))
    }
}

/// framework.CalculateTTL's warning, durations printed by its `humanDuration` (Vault 1.3 on).
fn ttl_capped(ttl: i64, max: i64) -> String {
    format!(
        "TTL of {} exceeded the effective max_ttl of {}; TTL value is capped accordingly",
        go_quote(&human_duration(ttl)),
        go_quote(&human_duration(max))
    )
}

/// What a new token gets.
#[derive(Debug, Clone, Default)]
struct NewToken {
    id: Option<String>,
    policies: Vec<String>,
    meta: Option<Arc<BTreeMap<String, String>>>,
    display_name: String,
    path: String,
    /// Requested TTL; 0 = the mount's default (`default_ttl`), or none for root tokens.
    ttl: i64,
    default_ttl: i64,
    max_ttl: i64,
    explicit_max_ttl: i64,
    period: i64,
    num_uses: i64,
    orphan: bool,
    parent: Option<String>,
    renewable: bool,
    batch: bool,
    entity_id: String,
    role: Option<String>,
    bound_cidrs: Vec<String>,
}

/// Applies the TTL rules, stores the token, returns it with any cap warning.
/// Stores a new token; its `auth` block and the TTL warnings.
fn create_token(core: &mut Core, t: NewToken, now: SystemTime) -> (AuthBlock, Vec<String>) {
    let mut warnings = Vec::new();
    let root = t.policies.iter().any(|p| p == "root");
    // framework.CalculateTTL: the effective max is the least of the mount's and the explicit
    // max; a period above it, or a TTL above it, is capped with a warning. Root tokens without
    // TTL or period skip it (and are still bound by an explicit max).
    let mut max = t.max_ttl;
    if t.explicit_max_ttl > 0 && (max <= 0 || t.explicit_max_ttl < max) {
        max = t.explicit_max_ttl;
    }
    let mut ttl = 0;
    if t.period > 0 {
        ttl = t.period;
        if max > 0 && ttl > max {
            warnings.push(format!(
                "period of {} exceeded the effective max_ttl of {}; period value is capped accordingly",
                go_quote(&human_duration(ttl)),
                go_quote(&human_duration(max))
            ));
            ttl = max;
        }
    } else if t.ttl > 0 || !root {
        ttl = if t.ttl > 0 {
            t.ttl
        } else {
            t.default_ttl.min(t.max_ttl).min(SYSTEM_MAX_TTL)
        };
        if max > 0 && ttl > max {
            warnings.push(ttl_capped(ttl, max));
            ttl = max;
        }
    }
    if ttl == 0 && t.explicit_max_ttl > 0 {
        ttl = t.explicit_max_ttl;
    }
    let max_expire = if ttl == 0 {
        None
    } else if t.period > 0 {
        (t.explicit_max_ttl > 0).then(|| add_secs(now, t.explicit_max_ttl))
    } else {
        Some(add_secs(now, max))
    };
    let id = match t.id {
        Some(id) => id,
        None => core.new_token_id(root, t.batch),
    };
    let accessor = if t.batch {
        String::new()
    } else {
        core.base62(24)
    };
    let entry = TokenEntry {
        id: id.into(),
        accessor: accessor.into(),
        policies: core.tokens.shared_policies.share(t.policies),
        meta: t.meta,
        display_name: core.tokens.shared_texts.share(t.display_name.as_str()),
        path: core.tokens.shared_texts.share(t.path.as_str()),
        creation: now,
        creation_ttl: ttl,
        expire: (ttl > 0).then(|| add_secs(now, ttl)),
        max_expire,
        explicit_max_ttl: t.explicit_max_ttl,
        period: t.period,
        num_uses: t.num_uses,
        orphan: t.orphan,
        parent: if t.orphan { None } else { t.parent },
        renewable: t.renewable && ttl > 0 && !t.batch,
        batch: t.batch,
        entity_id: core.tokens.shared_texts.share(t.entity_id.as_str()),
        role: t.role,
        last_renewal: None,
        has_lease: true,
        bound_cidrs: t.bound_cidrs,
    };
    let auth = entry.auth_block(now);
    // Batch tokens have no accessor: they are findable by id only.
    core.tokens.insert(entry);
    (auth, warnings)
}

/// Turns a successful login into a token and the login response (§6, §7, §8 "success").
pub fn issue_login(
    core: &mut Core,
    mount: &MountInfo,
    path: &str,
    ls: LoginSuccess,
    _remote: IpAddr,
) -> Result<Resp, VaultError> {
    let s = &ls.token;
    if ls
        .policies
        .iter()
        .any(|p| p.trim().eq_ignore_ascii_case("root"))
    {
        return Err(VaultError::bad("auth methods cannot create root tokens"));
    }
    let policies = sanitize_policies(&ls.policies, !s.no_default_policy);
    let now = core_now(core);
    let entity_id = core.entity_for(&mount.accessor, &ls.alias_name);
    let max_ttl = if s.max_ttl > 0 {
        s.max_ttl.min(mount.max_ttl())
    } else {
        mount.max_ttl()
    };
    let batch = s.token_type == "batch" || s.token_type == "default-batch";
    let meta = core.tokens.share_meta(ls.metadata);
    let (auth, mut warnings) = create_token(
        core,
        NewToken {
            policies,
            meta: Some(meta),
            // Core names a login's token after its mount (`userpass-bob`, `aws-alice`, `approle`):
            // `request_handling.go` joins the mount path ('/' → '-') and the method's name.
            display_name: format!("{}{}", mount.path.replace('/', "-"), ls.display_name)
                .trim_end_matches('-')
                .to_owned(),
            path: path.to_owned(),
            ttl: s.ttl,
            default_ttl: mount.default_ttl(),
            max_ttl,
            explicit_max_ttl: s.explicit_max_ttl,
            period: s.period,
            num_uses: s.num_uses,
            orphan: true,
            renewable: true,
            batch,
            entity_id,
            bound_cidrs: s.bound_cidrs.clone(),
            ..NewToken::default()
        },
        now,
    );
    warnings.extend(ls.warnings);
    if let Some(check) = ls.renew_check {
        if !batch {
            core.tokens.set_renew_check(&auth.client_token, check);
        }
    }
    let mut resp = Resp {
        data: ls.data,
        auth: Some(auth),
        ..Resp::default()
    };
    resp.warnings = warnings;
    Ok(resp)
}

/// The request's time, kept on the core by dispatch.
fn core_now(core: &Core) -> SystemTime {
    core.now
}

/// `auth/token/*`.
pub fn handle(core: &mut Core, cx: &Ctx<'_>, rel: &str) -> Result<Reply, VaultError> {
    let caller = cx.caller.ok_or_else(VaultError::permission_denied)?;
    let write = matches!(cx.op, Op::Create | Op::Update);
    let (head, tail) = match rel.split_once('/') {
        Some((h, t)) => (h, Some(t)),
        None => (rel, None),
    };
    match (head, tail, cx.op) {
        ("create", None, _) if write => create(core, cx, caller, "create", None),
        // The store drops expired tokens as it goes; the answer is Vault's.
        ("tidy", None, _) if write => Ok(tidy_started()),
        ("create-orphan", None, _) if write => create(core, cx, caller, "create-orphan", None),
        ("create", Some(role), _) if write && !role.is_empty() => {
            create(core, cx, caller, "create", Some(role))
        }
        ("lookup", None, Op::Read | Op::Create | Op::Update) => {
            match cx.input.str("token")?.filter(|t| !t.is_empty()) {
                None => lookup_self(cx, caller),
                Some(t) => match core.tokens.get_valid(&t, cx.now) {
                    Some(e) => Ok(Resp::data(e.lookup_json(cx.now, &t)).into()),
                    None => Err(VaultError::new(403, "bad token")),
                },
            }
        }
        ("lookup-self", None, Op::Read | Op::Create | Op::Update) => lookup_self(cx, caller),
        ("lookup-accessor", None, _) if write => {
            let acc = accessor_arg(cx)?;
            match core.tokens.by_accessor(&acc, cx.now) {
                Some(e) => Ok(Resp::data(e.lookup_json(cx.now, "")).into()),
                None => Err(VaultError::multi(400, "invalid accessor")),
            }
        }
        ("renew-self", None, _) if write => {
            let id = caller.token.id.clone();
            renew(core, cx, &id, true)
        }
        ("renew", None, _) if write => {
            let t = token_arg(cx)?;
            if core.tokens.get_valid(&t, cx.now).is_none() {
                return Err(VaultError::bad("token not found"));
            }
            renew(core, cx, &t, true)
        }
        ("renew-accessor", None, _) if write => {
            let acc = accessor_arg(cx)?;
            let id = match core.tokens.by_accessor(&acc, cx.now) {
                Some(e) => e.id.clone(),
                None => return Err(VaultError::multi(400, "invalid accessor")),
            };
            renew(core, cx, &id, false)
        }
        ("revoke-self", None, _) if write => {
            if caller.token.batch {
                return Err(VaultError::bad("batch tokens cannot be revoked"));
            }
            core.tokens.revoke_tree(&caller.token.id);
            Ok(Reply::NoContent)
        }
        ("revoke", None, _) if write => {
            let t = token_arg(cx)?;
            if core.tokens.get(&t).is_some_and(|e| e.batch) {
                return Err(VaultError::bad("batch tokens cannot be revoked"));
            }
            core.tokens.revoke_tree(&t);
            Ok(Reply::NoContent)
        }
        ("revoke-accessor", None, _) if write => {
            let acc = accessor_arg(cx)?;
            match core.tokens.by_accessor(&acc, cx.now).map(|e| e.id.clone()) {
                Some(id) => {
                    core.tokens.revoke_tree(&id);
                    Ok(Reply::NoContent)
                }
                None => Ok(Resp::default()
                    .warning("No token found with this accessor")
                    .into()),
            }
        }
        ("revoke-orphan", None, _) if write => {
            // A root path: core has checked sudo before the handler runs.
            let t = token_arg(cx)?;
            match core.tokens.get_valid(&t, cx.now) {
                None => return Err(VaultError::bad("token to revoke not found")),
                Some(e) if e.batch => {
                    return Err(VaultError::bad("batch tokens cannot be revoked"))
                }
                Some(_) => {}
            }
            core.tokens.revoke_orphan(&t);
            Ok(Reply::NoContent)
        }
        ("accessors", Some(""), Op::List) => Ok(Resp::list(core.tokens.accessors(cx.now)).into()),
        ("roles", Some(""), Op::List) => {
            Ok(Resp::list(core.tokens.roles.keys().cloned().collect()).into())
        }
        ("roles", Some(name), _) if !name.is_empty() && !name.contains('/') => {
            role_endpoint(core, cx, name)
        }
        (
            "create" | "create-orphan" | "lookup" | "lookup-self" | "lookup-accessor" | "renew"
            | "renew-self" | "renew-accessor" | "revoke" | "revoke-self" | "revoke-accessor"
            | "revoke-orphan",
            None,
            _,
        )
        | ("accessors" | "roles", Some(""), _) => Err(VaultError::unsupported_operation()),
        _ => Err(VaultError::unsupported_path()),
    }
}

fn lookup_self(cx: &Ctx<'_>, caller: &super::Caller) -> Result<Reply, VaultError> {
    // The use of this very request is already counted.
    Ok(Resp::data(caller.token.lookup_json(cx.now, &caller.sent)).into())
}

fn token_arg(cx: &Ctx<'_>) -> Result<String, VaultError> {
    cx.input
        .str("token")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| VaultError::bad("missing token ID"))
}

fn accessor_arg(cx: &Ctx<'_>) -> Result<String, VaultError> {
    cx.input
        .str("accessor")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| VaultError::multi(400, "missing accessor"))
}

fn renew(core: &mut Core, cx: &Ctx<'_>, id: &str, show_token: bool) -> Result<Reply, VaultError> {
    let increment = cx.input.duration("increment")?.unwrap_or(0);
    renew_entry(core, id, increment, show_token, None).map(Reply::from)
}

/// The token a renewal path names, for paths whose token carries an auth method's
/// [`RenewCheck`](super::RenewCheck): the check runs first, off the store's lock, and the renewal
/// ([`Outcome::Renew`](super::Outcome::Renew)) only if it passes. `None` for everything else.
pub fn checked_renewal(
    core: &mut Core,
    cx: &Ctx<'_>,
    rel: &str,
) -> Option<Result<super::Outcome, VaultError>> {
    if !cx.op.is_write() {
        return None;
    }
    let (id, show_token) = match rel {
        "renew-self" => (cx.caller?.token.id.to_string(), true),
        "renew" => {
            let t = cx.input.str("token").ok().flatten()?;
            core.tokens.get_valid(&t, cx.now)?;
            (t, true)
        }
        "renew-accessor" => {
            let acc = cx.input.str("accessor").ok().flatten()?;
            (core.tokens.by_accessor(&acc, cx.now)?.id.to_string(), false)
        }
        _ => return None,
    };
    let check = core.tokens.renew_check(&id)?;
    let increment = match cx.input.duration("increment") {
        Ok(i) => i.unwrap_or(0),
        Err(e) => return Some(Err(e)),
    };
    Some(Ok(super::Outcome::Deferred(Box::pin(async move {
        let terms = (check.0)().await?;
        Ok(super::Outcome::Renew {
            token: id,
            increment,
            show_token,
            terms,
        })
    }))))
}

/// Renews token `id` by `increment` seconds (0: its own TTL), within its max TTL; with an auth
/// method's `terms`, as core's `CalculateTTL` works them out instead.
pub fn renew_entry(
    core: &mut Core,
    id: &str,
    increment: i64,
    show_token: bool,
    terms: Option<super::RenewTerms>,
) -> Result<Resp, VaultError> {
    let now = core_now(core);
    let e = core
        .tokens
        .by_id
        .get_mut(id)
        .ok_or_else(|| VaultError::bad("token not found"))?;
    if e.batch {
        return Err(VaultError::bad("batch tokens cannot be renewed"));
    }
    if !e.has_lease {
        return Err(VaultError::bad("invalid lease ID"));
    }
    if e.expire.is_none() || !e.renewable {
        return Err(VaultError::bad("lease is not renewable"));
    }
    let mut warnings = Vec::new();
    let ttl = match terms {
        Some(t) => {
            let ttl = renewed_ttl(e, t, increment, now, &mut warnings)?;
            e.period = t.period;
            ttl
        }
        None => {
            let mut ttl = if e.period > 0 {
                e.period
            } else if increment > 0 {
                increment
            } else {
                e.creation_ttl
            };
            if let Some(max) = e.max_expire {
                let left = secs_until(now, max);
                if left <= 0 {
                    return Err(VaultError::bad("lease expired"));
                }
                if ttl > left {
                    warnings.push(ttl_capped(ttl, left));
                    ttl = left;
                }
            }
            ttl
        }
    };
    e.expire = Some(add_secs(now, ttl));
    e.last_renewal = Some(now);
    let mut auth = e.auth_block(now);
    if !show_token {
        auth.client_token = String::new();
    }
    let mut resp = Resp {
        auth: Some(auth),
        ..Resp::default()
    };
    resp.warnings = warnings;
    Ok(resp)
}

/// framework's `CalculateTTL` for a renewal whose auth method answered `t`: the system max (or
/// the method's or the token's explicit max, if smaller) counted from the token's creation; a
/// period stands alone (capped at that max), else the increment, the method's TTL or the
/// system default, cut to what is left.
fn renewed_ttl(
    e: &TokenEntry,
    t: super::RenewTerms,
    increment: i64,
    now: SystemTime,
    warnings: &mut Vec<String>,
) -> Result<i64, VaultError> {
    let mut max = SYSTEM_MAX_TTL;
    for limit in [t.max_ttl, e.explicit_max_ttl] {
        if limit > 0 && limit < max {
            max = limit;
        }
    }
    let (ttl, max_valid) = if t.period > 0 {
        let mut period = t.period;
        if period > max {
            warnings.push(format!(
                "period of {} exceeded the effective max_ttl of {}; period value is capped accordingly",
                go_quote(&human_duration(period)),
                go_quote(&human_duration(max))
            ));
            period = max;
        }
        let until = (e.explicit_max_ttl > 0).then(|| add_secs(e.creation, e.explicit_max_ttl));
        (period, until)
    } else {
        let ttl = if increment > 0 {
            increment
        } else if t.ttl > 0 {
            t.ttl
        } else {
            SYSTEM_MAX_TTL
        };
        (ttl, Some(add_secs(e.creation, max)))
    };
    let Some(until) = max_valid else {
        return Ok(ttl);
    };
    let left = secs_until(now, until);
    if left <= 0 {
        return Err(VaultError::bad("past the max TTL, cannot renew"));
    }
    if ttl > left {
        warnings.push(ttl_capped(ttl, left));
        return Ok(left);
    }
    Ok(ttl)
}

fn display_name(name: &str) -> String {
    if name.is_empty() {
        return "token".into();
    }
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    // `strings.TrimSuffix(full, "-")`: one dash.
    let full = format!("token-{clean}");
    full.strip_suffix('-').map_or(full.clone(), str::to_owned)
}

/// `handleCreateCommon`: `create`, `create-orphan` and `create/:role`, with Vault's checks in
/// its order. `ttl`, `lease`, `explicit_max_ttl` and `period` are strings parsed in the handler
/// (bare `time: …` errors, `… must be positive`); `policies` is a string slice (no comma split).
fn create(
    core: &mut Core,
    cx: &Ctx<'_>,
    caller: &super::Caller,
    endpoint: &str,
    role_name: Option<&str>,
) -> Result<Reply, VaultError> {
    let parent = &caller.token;
    let input = cx.input;
    let role = match role_name {
        Some(r) => match core.tokens.roles.get(r) {
            Some(role) => Some((r.to_owned(), role.clone())),
            None => return Err(VaultError::bad(format!("unknown role {r}"))),
        },
        None => None,
    };
    if parent.batch {
        return Err(VaultError::bad("batch tokens cannot create more tokens"));
    }
    if parent.num_uses != 0 {
        return Err(VaultError::bad(
            "restricted use token cannot generate child tokens",
        ));
    }
    let sudo = cx.has_sudo();
    let policies = input.string_slice("policies")?.unwrap_or_default();
    let mut kind = input.string("type")?;
    if let Some((_, r)) = &role {
        match r.token_type.as_str() {
            "default-batch" if kind.is_empty() => kind = "batch".into(),
            "service" => kind = "service".into(),
            "batch" => kind = "batch".into(),
            _ => {}
        }
    }
    let mut renewable = input.bool_or("renewable", true)?;
    let explicit_raw = input.string("explicit_max_ttl")?;
    let num_uses = input.int("num_uses")?.unwrap_or(0);
    let period_raw = input.string("period")?;
    let batch = match kind.as_str() {
        "" | "service" => false,
        "batch" => {
            // One `switch` in Vault: only the first field given is looked at.
            let bad = if !explicit_raw.is_empty() {
                let d =
                    parse_duration_value(&Value::String(explicit_raw.clone())).map_err(|_| {
                        VaultError::bad("\"explicit_max_ttl\" value could not be parsed")
                    })?;
                (d != 0).then_some("explicit_max_ttl")
            } else if num_uses != 0 {
                Some("num_uses")
            } else if !period_raw.is_empty() {
                let d = parse_duration_value(&Value::String(period_raw.clone()))
                    .map_err(|_| VaultError::bad("\"period\" value could not be parsed"))?;
                (d != 0).then_some("period")
            } else {
                None
            };
            if let Some(f) = bad {
                return Err(VaultError::bad(format!(
                    "batch tokens cannot have {f:?} set"
                )));
            }
            renewable = false;
            true
        }
        _ => return Err(VaultError::bad("invalid 'token_type' value")),
    };
    if num_uses < 0 {
        return Err(VaultError::bad("number of uses cannot be negative"));
    }
    let mut entity_id = None;
    let alias = input.string("entity_alias")?;
    if !alias.is_empty() {
        let Some((_, r)) = &role else {
            return Err(VaultError::bad(
                "'entity_alias' is only allowed in combination with token role",
            ));
        };
        let lower = alias.to_lowercase();
        if !r
            .allowed_entity_aliases
            .iter()
            .flatten()
            .any(|a| *a == lower || glob_match(a, &lower))
        {
            return Err(VaultError::bad("invalid 'entity_alias' value"));
        }
        // The entity of that alias on the token mount: made on first use, the same after.
        entity_id = Some(core.entity_for(&cx.mount.accessor, &lower));
    }
    let meta = input.kv_pairs("meta")?;
    let mut path = format!("auth/token/{endpoint}");
    let mut num_uses = num_uses;
    if let Some((name, r)) = &role {
        path = format!("auth/token/create/{name}");
        if renewable && !r.renewable {
            renewable = false;
        }
        if r.token.num_uses != 0 && (num_uses == 0 || r.token.num_uses < num_uses) {
            num_uses = r.token.num_uses;
        }
        if !r.path_suffix.is_empty() {
            path = format!("{path}/{}", r.path_suffix);
        }
    }
    let name = input.string("display_name")?;
    let id = input.string("id")?;
    if !id.is_empty() && !sudo {
        return Err(VaultError::bad(
            "root or sudo privileges required to specify token id",
        ));
    }
    let no_default = input.bool_or("no_default_policy", false)?;
    let parent_policies = parent.policies.to_vec();
    let mut add_default = false;
    let chosen = match &role {
        Some((_, r))
            if !r.allowed_policies.is_empty()
                || !r.disallowed_policies.is_empty()
                || !r.allowed_policies_glob.is_empty()
                || !r.disallowed_policies_glob.is_empty() =>
        {
            let local_default = !no_default
                && !r.token.no_default_policy
                && !r.disallowed_policies.iter().any(|d| d == "default")
                && !r
                    .disallowed_policies_glob
                    .iter()
                    .any(|g| glob_match(g, "default"));
            let mut fin = if policies.is_empty() {
                Vec::new()
            } else {
                sanitize_policies(&policies, local_default)
            };
            if !r.allowed_policies.is_empty() || !r.allowed_policies_glob.is_empty() {
                let allowed = sanitize_policies(&r.allowed_policies, local_default);
                if fin.is_empty() {
                    fin = allowed;
                } else {
                    let globs = &r.allowed_policies_glob;
                    if fin
                        .iter()
                        .any(|p| !allowed.contains(p) && !globs.iter().any(|g| glob_match(g, p)))
                    {
                        return Err(VaultError::bad(format!(
                            "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ({})",
                            go_quoted_list(&fin),
                            go_quoted_list(&allowed),
                            go_quoted_list(globs)
                        )));
                    }
                }
            } else if fin.is_empty() {
                fin = sanitize_policies(&parent_policies, local_default);
            }
            // The role's lists were normalised when it was written.
            let (denied, denied_globs) = (&r.disallowed_policies, &r.disallowed_policies_glob);
            if let Some(p) = fin
                .iter()
                .find(|p| denied.contains(p) || denied_globs.iter().any(|g| glob_match(g, p)))
            {
                return Err(VaultError::bad(format!(
                    "token policy {} is disallowed by this role",
                    go_quote(p)
                )));
            }
            fin
        }
        _ if policies.is_empty() => sanitize_policies(&parent_policies, false),
        _ if !sudo => {
            let asked = sanitize_policies(&policies, false);
            let have = sanitize_policies(&parent_policies, false);
            if !asked.iter().all(|p| have.contains(p)) {
                return Err(VaultError::bad("child policies must be subset of parent"));
            }
            add_default = !no_default && parent_policies.iter().any(|p| p == "default");
            policies
        }
        _ => {
            add_default = !no_default;
            policies
        }
    };
    let mut final_policies = sanitize_policies(&chosen, add_default);
    if no_default {
        final_policies.retain(|p| p != "default");
    }
    if let Some(p) = final_policies
        .iter()
        .find(|p| matches!(p.as_str(), "response-wrapping" | "control-group"))
    {
        return Err(VaultError::bad(format!(
            "cannot assign policy {}",
            go_quote(p)
        )));
    }
    let is_root = final_policies.iter().any(|p| p == "root");
    if is_root {
        if !parent.policies.iter().any(|p| p == "root") {
            return Err(VaultError::bad(
                "root tokens may not be created without parent token being root",
            ));
        }
        if batch {
            return Err(VaultError::bad("batch tokens cannot be root tokens"));
        }
    }
    let mut bound_cidrs = Vec::new();
    let orphan = match &role {
        Some((_, r)) => {
            bound_cidrs.clone_from(&r.token.bound_cidrs);
            r.orphan
        }
        None if input.bool_or("no_parent", false)? => {
            if !sudo {
                return Err(VaultError::bad(
                    "root or sudo privileges required to create orphan token",
                ));
            }
            true
        }
        None => endpoint == "create-orphan",
    };
    let entity_id = match entity_id {
        Some(e) => e,
        None if !orphan => {
            if role.is_none() {
                bound_cidrs.clone_from(&parent.bound_cidrs);
            }
            parent.entity_id.to_string()
        }
        None => String::new(),
    };
    let parse = |raw: &str, negative: &'static str| -> Result<i64, VaultError> {
        let d = parse_duration_value(&Value::String(raw.to_owned())).map_err(VaultError::bad)?;
        if d < 0 {
            return Err(VaultError::bad(negative));
        }
        Ok(d)
    };
    let mut explicit = 0;
    if !explicit_raw.is_empty() {
        explicit = parse(&explicit_raw, "explicit_max_ttl must be positive")?;
    }
    let mut period = 0;
    if !period_raw.is_empty() {
        period = parse(&period_raw, "period must be positive")?;
        if period > 0 && !sudo {
            return Err(VaultError::bad(
                "root or sudo privileges required to create periodic token",
            ));
        }
    }
    let ttl_raw = input.string("ttl")?;
    let ttl = if !ttl_raw.is_empty() {
        parse(&ttl_raw, "ttl must be positive")?
    } else {
        let lease = input.string("lease")?;
        if lease.is_empty() {
            0
        } else {
            parse(&lease, "lease must be positive")?
        }
    };
    let mut warnings = Vec::new();
    if let Some((_, r)) = role.as_ref().filter(|_| !batch) {
        if r.token.explicit_max_ttl != 0 {
            if explicit == 0 {
                explicit = r.token.explicit_max_ttl;
            } else {
                explicit = explicit.min(r.token.explicit_max_ttl);
                warnings.push(format!("Explicit max TTL specified both during creation call and in role; using the lesser value of {explicit} seconds"));
            }
        }
        if r.token.period != 0 {
            if period == 0 {
                period = r.token.period;
            } else {
                period = period.min(r.token.period);
                warnings.push(format!("Period specified both during creation call and in role; using the lesser value of {period} seconds"));
            }
        }
    }
    // Without a TTL or period only a root token is non-expiring, and only under a parent that
    // does not expire itself.
    let non_expiring = period == 0 && ttl == 0 && is_root && explicit == 0;
    if non_expiring {
        if parent.expire.is_some() {
            return Err(VaultError::bad(
                "expiring root tokens cannot create non-expiring root tokens",
            ));
        }
        renewable = false;
        bound_cidrs.clear();
    }
    if !id.is_empty() && !batch {
        if id.starts_with("hvs.") {
            return Err(VaultError::bad(
                "custom token ID cannot have the 'hvs.' prefix",
            ));
        }
        if id.starts_with("s.") {
            return Err(VaultError::bad(
                "custom token ID cannot have the 's.' prefix",
            ));
        }
        if id.contains('.') {
            return Err(VaultError::bad(
                "custom token ID cannot have a '.' in the value",
            ));
        }
        if core.tokens.get(&id).is_some() {
            return Err(VaultError::bad("cannot create a token with a duplicate ID"));
        }
    }
    let missing: Vec<String> = final_policies
        .iter()
        .filter(|p| *p != "root" && !core.policies.contains_key(*p))
        .map(|p| format!("Policy {} does not exist", go_quote(p)))
        .collect();
    let (auth, cap_warnings) = create_token(
        core,
        NewToken {
            id: (!id.is_empty() && !batch).then_some(id.clone()),
            policies: final_policies,
            meta: meta.map(Arc::new),
            display_name: display_name(&name),
            path,
            ttl,
            default_ttl: cx.mount.default_ttl(),
            max_ttl: cx.mount.max_ttl(),
            explicit_max_ttl: explicit,
            period,
            num_uses,
            orphan,
            parent: Some(parent.id.to_string()),
            renewable,
            batch,
            entity_id,
            role: role.map(|(n, _)| n),
            bound_cidrs,
        },
        cx.now,
    );
    warnings.extend(cap_warnings);
    if !id.is_empty() {
        warnings.push("Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure SHA2-256 HMAC for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups.".into());
    }
    warnings.extend(missing);
    Ok(Resp {
        auth: Some(auth),
        warnings,
        ..Resp::default()
    }
    .into())
}

/// A tidy's answer (`logical.RespondWithStatusCode`, 202): the envelope with one warning.
pub fn tidy_started() -> Reply {
    Resp {
        warnings: vec!["Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs.".into()],
        status: Some(202),
        raw_status_body: true,
        ..Resp::default()
    }
    .into()
}

/// ryanuber/go-glob's `Glob` (what `strutil.StrListContainsGlob` uses): `*` matches any run of
/// characters, anywhere in the pattern.
fn glob_match(pattern: &str, s: &str) -> bool {
    if pattern.is_empty() {
        return s.is_empty();
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return s == pattern;
    };
    let Some(mut rest) = s.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// `roles/:name`: `tokenStoreRoleRead` / `tokenStoreRoleCreateUpdate` in Vault's order.
fn role_endpoint(core: &mut Core, cx: &Ctx<'_>, name: &str) -> Result<Reply, VaultError> {
    match cx.op {
        Op::Read => {
            let r = core
                .tokens
                .roles
                .get(name)
                .ok_or_else(VaultError::not_found)?;
            let mut m = Map::new();
            m.insert(
                "allowed_entity_aliases".into(),
                json!(r.allowed_entity_aliases),
            );
            m.insert("allowed_policies".into(), json!(r.allowed_policies));
            m.insert(
                "allowed_policies_glob".into(),
                json!(r.allowed_policies_glob),
            );
            if !r.bound_cidrs.is_empty() {
                m.insert("bound_cidrs".into(), json!(r.bound_cidrs));
            }
            m.insert("disallowed_policies".into(), json!(r.disallowed_policies));
            m.insert(
                "disallowed_policies_glob".into(),
                json!(r.disallowed_policies_glob),
            );
            m.insert("explicit_max_ttl".into(), json!(r.explicit_max_ttl));
            m.insert("name".into(), json!(name));
            m.insert("orphan".into(), json!(r.orphan));
            m.insert("path_suffix".into(), json!(r.path_suffix));
            m.insert("period".into(), json!(r.period));
            m.insert("renewable".into(), json!(r.renewable));
            if !r.token.bound_cidrs.is_empty() {
                m.insert("token_bound_cidrs".into(), json!(r.token.bound_cidrs));
            }
            m.insert(
                "token_explicit_max_ttl".into(),
                json!(r.token.explicit_max_ttl),
            );
            m.insert(
                "token_no_default_policy".into(),
                json!(r.token.no_default_policy),
            );
            if r.token.num_uses > 0 {
                m.insert("token_num_uses".into(), json!(r.token.num_uses));
            }
            m.insert("token_period".into(), json!(r.token.period));
            m.insert("token_type".into(), json!(r.token_type));
            Ok(Resp::data(Value::Object(m)).into())
        }
        Op::Create | Op::Update => {
            let i = cx.input;
            let mut r = core.tokens.roles.get(name).cloned().unwrap_or(TokenRole {
                renewable: true,
                ..TokenRole::default()
            });
            if let Some(v) = i.bool("orphan")? {
                r.orphan = v;
            }
            if let Some(v) = i.bool("renewable")? {
                r.renewable = v;
            }
            if let Some(v) = i.str("path_suffix")? {
                if !v.is_empty() && !path_suffix_matches(&v) {
                    return Err(VaultError::bad(
                        "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w",
                    ));
                }
                r.path_suffix = v;
            }
            if r.path_suffix.contains("..") {
                return Err(VaultError::bad(
                    "error registering path suffix: path cannot contain parent references",
                ));
            }
            if let Some(v) = i.str_list("allowed_policies")? {
                r.allowed_policies = sanitize_policies(&v, false);
            }
            if let Some(v) = i.str_list("disallowed_policies")? {
                r.disallowed_policies = remove_duplicates(&v, true);
            }
            if let Some(v) = i.str_list("allowed_policies_glob")? {
                r.allowed_policies_glob = sanitize_policies(&v, false);
            }
            if let Some(v) = i.str_list("disallowed_policies_glob")? {
                r.disallowed_policies_glob = remove_duplicates(&v, true);
            }
            // token_type is taken out before the token fields are parsed (they then see
            // `default` when it was given, the stored type when not) and checked after.
            let given_type = match i.given("token_type") {
                None => None,
                Some(Value::Null) => {
                    return Err(VaultError::bad("Invalid 'token_type' value: null"))
                }
                Some(_) => Some(i.string("token_type")?),
            };
            let mut t = r.token.clone();
            t.token_type = if given_type.is_some() {
                "default".into()
            } else {
                r.token_type.clone()
            };
            // A role takes six token fields (AddTokenFieldsWithAllowList); the others are no
            // fields of the path and come back as unrecognized parameters.
            let allowed: Map<String, Value> = [
                "token_bound_cidrs",
                "token_explicit_max_ttl",
                "token_period",
                "token_no_default_policy",
                "token_num_uses",
            ]
            .iter()
            .filter_map(|k| i.given(k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
            let role_fields = Input::new(allowed);
            t.parse_typed(&role_fields, TypeField::Skip).map_err(|e| {
                match e.message.as_deref() {
                    // The framework's field validation runs before the handler: not prefixed.
                    Some(m) if !m.starts_with("Field validation failed") => {
                        VaultError::bad(format!("error parsing role fields: {m}"))
                    }
                    _ => e,
                }
            })?;
            r.token = t;
            if r.token_type.is_empty() || r.token_type == "default" {
                r.token_type = "default-service".into();
            }
            if let Some(g) = given_type {
                r.token_type = match g.as_str() {
                    "service" | "batch" | "default-service" | "default-batch" => g,
                    _ => {
                        return Err(VaultError::bad(format!(
                            "invalid 'token_type' value {}",
                            go_quote(&g)
                        )))
                    }
                };
            }
            let mut warnings = Vec::new();
            let both = |new: &str, old: &str| {
                format!("Both '{new}' and deprecated '{old}' value supplied, ignoring the deprecated value")
            };
            if i.raw("token_period").is_none() {
                if let Some(v) = i.duration("period")? {
                    r.period = v;
                    r.token.period = v;
                }
            } else {
                if i.raw("period").is_some() {
                    warnings.push(both("token_period", "period"));
                }
                r.period = 0;
            }
            if i.raw("token_bound_cidrs").is_none() {
                if let Some(v) = i.str_list("bound_cidrs")? {
                    if let Some(e) = v.iter().find_map(|a| sockaddr_error(a)) {
                        return Err(VaultError::bad(format!("error parsing bound_cidrs: {e}")));
                    }
                    r.bound_cidrs.clone_from(&v);
                    r.token.bound_cidrs = v;
                }
            } else {
                if i.raw("bound_cidrs").is_some() {
                    warnings.push(both("token_bound_cidrs", "bound_cidrs"));
                }
                r.bound_cidrs.clear();
            }
            let explicit = if i.raw("token_explicit_max_ttl").is_none() {
                if let Some(v) = i.duration("explicit_max_ttl")? {
                    r.explicit_max_ttl = v;
                    r.token.explicit_max_ttl = v;
                }
                r.explicit_max_ttl
            } else {
                if i.raw("explicit_max_ttl").is_some() {
                    warnings.push(both("token_explicit_max_ttl", "explicit_max_ttl"));
                }
                r.explicit_max_ttl = 0;
                r.token.explicit_max_ttl
            };
            let max = cx.mount.max_ttl();
            if explicit != 0 && max != 0 && explicit > max {
                warnings.push(format!("Given explicit max TTL of {explicit} is greater than system/mount allowed value of {max} seconds; until this is fixed attempting to create tokens against this role will result in an error"));
            }
            if r.token_type == "batch" {
                let why = if !r.orphan {
                    Some("non-orphan tokens")
                } else if r.period != 0 || r.token.period != 0 {
                    Some("periodic tokens")
                } else if r.renewable {
                    Some("renewable tokens")
                } else if r.explicit_max_ttl != 0 || r.token.explicit_max_ttl != 0 {
                    Some("tokens with an explicit max TTL")
                } else {
                    None
                };
                if let Some(why) = why {
                    return Err(VaultError::bad(format!(
                        "'token_type' cannot be 'batch' when role is set to generate {why}"
                    )));
                }
            }
            if let Some(v) = i.str_list("allowed_entity_aliases")? {
                r.allowed_entity_aliases = Some(remove_duplicates(&v, true));
            }
            core.tokens.roles.insert(name.to_owned(), r);
            Ok(Reply::with_warnings(warnings))
        }
        Op::Delete => {
            core.tokens.roles.remove(name);
            Ok(Reply::NoContent)
        }
        _ => Err(VaultError::unsupported_operation()),
    }
}

/// `pathSuffixSanitize.MatchString`: somewhere in the suffix, a word character, one or more of
/// word characters, `-` and `.`, and a word character (the pattern is not anchored). In one pass:
/// a run of those characters matches when its first and last word characters are two or more
/// apart.
fn path_suffix_matches(s: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut first_word: Option<usize> = None;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        if word(c) {
            match first_word {
                Some(f) if i >= f + 2 => return true,
                Some(_) => {}
                None => first_word = Some(i),
            }
        } else if c != b'-' && c != b'.' {
            first_word = None;
        }
    }
    false
}

/// Existence check of `roles/:name` (create vs update).
pub fn role_exists(core: &Core, rel: &str) -> Option<bool> {
    rel.strip_prefix("roles/")
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .map(|n| core.tokens.roles.contains_key(n))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use rand::SeedableRng;

    use super::*;

    fn check() -> super::super::RenewCheck {
        super::super::RenewCheck(Arc::new(|| Box::pin(async { Ok(None) })))
    }

    /// A login's renewal check lives as long as its token: revoked or purged, both go, so a long
    /// load test keeps flat memory.
    #[test]
    fn renew_checks_go_with_their_tokens() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut store = TokenStore::default();
        for id in ["revoked", "kept"] {
            store.insert_root(&mut rng, id, now);
        }
        store.insert(TokenEntry {
            id: "expired".into(),
            accessor: "expired-accessor".into(),
            expire: Some(now + Duration::from_secs(5)),
            ..store.get("kept").unwrap().clone()
        });
        for id in ["revoked", "expired", "kept"] {
            store.set_renew_check(id, check());
        }
        store.revoke_tree("revoked");
        store.purge_expired(now + Duration::from_secs(5));
        let with_check = |store: &TokenStore| {
            let mut ids: Vec<String> = store
                .by_id
                .values()
                .filter(|s| s.renew_check.is_some())
                .map(|s| s.id.to_string())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(with_check(&store), ["kept"]);
        assert!(store.renew_check("kept").is_some());
        assert!(store.renew_check("revoked").is_none() && store.renew_check("expired").is_none());
        store.set_renew_check("gone", check());
        assert_eq!(with_check(&store), ["kept"], "no check without its token");
        assert!(store.renew_check("gone").is_none() && store.get("gone").is_none());
        assert!(store.get("expired").is_none() && store.get("kept").is_some());
    }

    /// Equal metadata maps are shared, different ones are not, and the memory of maps to share
    /// stays bounded.
    #[test]
    fn equal_metadata_is_shared_between_tokens() {
        let mut store = TokenStore::default();
        let meta = |v: &str| BTreeMap::from([("role".to_owned(), v.to_owned())]);
        let a = store.share_meta(meta("app"));
        let b = store.share_meta(meta("app"));
        let c = store.share_meta(meta("other"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(*c, meta("other"));
        for i in 0..SHARED_META_MAX + 10 {
            store.share_meta(meta(&i.to_string()));
        }
        assert!(store.shared_meta.len() <= SHARED_META_MAX);
        assert_eq!(*store.share_meta(meta("app")), meta("app"));
    }

    /// A token renewed past its first expiry is kept when that time comes, and dropped at its
    /// new expiry.
    #[test]
    fn renewed_tokens_are_purged_at_their_new_expiry() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let secs = |n| now + Duration::from_secs(n);
        let mut store = TokenStore::default();
        store.insert_root(&mut rng, "root", now);
        store.insert(TokenEntry {
            id: "renewed".into(),
            accessor: "renewed-accessor".into(),
            expire: Some(secs(5)),
            ..store.get("root").unwrap().clone()
        });
        store.by_id.get_mut("renewed").unwrap().expire = Some(secs(20));
        store.purge_expired(secs(10));
        assert!(store.get("renewed").is_some());
        store.purge_expired(secs(20));
        assert!(store.get("renewed").is_none() && store.get("root").is_some());
        assert!(store.expiry.is_empty());
    }

    /// Under a steady stream of short-lived tokens the store holds the live ones plus a bounded
    /// tail of expired ones, however long the stream runs.
    #[test]
    fn expired_tokens_are_purged_as_inserts_go_on() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut store = TokenStore::default();
        store.insert_root(&mut rng, "template", start);
        let template = store.get("template").unwrap().clone();
        store.revoke_tree("template");
        let mut largest = 0;
        for i in 0..60_000u64 {
            // One insert per millisecond, each token living one second: ~1,000 live at a time.
            let now = start + Duration::from_millis(i);
            store.insert(TokenEntry {
                id: format!("t{i}").into(),
                accessor: format!("a{i}").into(),
                creation: now,
                expire: Some(now + Duration::from_secs(1)),
                ..template.clone()
            });
            largest = largest.max(store.by_id.len());
        }
        assert!(largest <= 1_001, "{largest} tokens held at once");
        assert!(store.get("t59999").is_some() && store.get("t0").is_none());
        assert_eq!(store.by_id.len(), store.by_accessor.len());
    }
}
