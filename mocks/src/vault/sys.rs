//! `sys/*` (reference vault-core.md §2): the raw handlers `sys/health`, `sys/seal-status`,
//! `sys/seal`, `sys/unseal`, `sys/init`; and the logical `sys/auth`, `sys/mounts` (with `tune`),
//! `sys/policy`, `sys/policies/acl`, `sys/capabilities(-self, -accessor)`, `sys/leases/*`.
//!
//! **Not modelled:** HA, standby and replication states of `sys/health`; `pgp_keys`, stored shares
//! and recovery keys at init; seal migration; `sys/remount`, `sys/audit`, `sys/raw`, `sys/rotate`,
//! `sys/step-down`, `sys/wrapping/*`, `sys/tools/*`, `sys/internal/*`. No lease ever exists (KV
//! registers none and token leases are not exposed), so `sys/leases/*` validate and then answer
//! "not found" as Vault does for an unknown lease.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::acl;
use super::envelope::{Reply, Resp};
use super::error::{json_response, VaultError};
use super::fields::{parse_bool, parse_duration_value, Input};
use super::mounts::{self, NewMount};
use super::{Ctx, Op, Setup, StartMode, VaultState, VaultStore, BUILD_DATE, VERSION};

/// The seal: Shamir-like shares derived from the seed (see the module docs of `vault`).
#[derive(Debug, Clone)]
pub struct SealState {
    pub initialized: bool,
    pub sealed: bool,
    pub shares: u8,
    pub threshold: u8,
    pub keys: Vec<Vec<u8>>,
    /// Distinct shares submitted in the current attempt.
    submitted: Vec<Vec<u8>>,
    nonce: String,
    cluster_name: String,
    cluster_id: String,
    version: String,
}

/// The shares for a seal of `n` shares: 32 bytes for one share, else 33 (32 + x-coordinate).
fn derive_keys(seed: &str, n: u8, label: &str) -> Vec<Vec<u8>> {
    (1..=n)
        .map(|i| {
            let mut k = crate::world::derive(seed, &format!("{label}#{i}")).to_vec();
            if n > 1 {
                k.push(i);
            }
            k
        })
        .collect()
}

impl SealState {
    pub fn new(setup: &Setup, _now: SystemTime) -> Self {
        let (initialized, sealed, shares, threshold) = match setup.options.start {
            StartMode::Dev => (true, false, 1, 1),
            StartMode::Sealed { shares, threshold } => {
                let shares = shares.max(1);
                (true, true, shares, threshold.clamp(1, shares))
            }
            StartMode::Uninitialized => (false, true, 0, 0),
        };
        let id = crate::world::derive(&setup.seed, "vault-cluster-id");
        let cluster_id = uuid::Builder::from_random_bytes(id[..16].try_into().expect("16 bytes"))
            .into_uuid()
            .to_string();
        Self {
            initialized,
            sealed,
            shares,
            threshold,
            keys: derive_keys(&setup.seed, shares, "vault-unseal"),
            submitted: Vec::new(),
            nonce: String::new(),
            cluster_name: format!("vault-cluster-{}", &hex::encode(&id[16..20])),
            cluster_id,
            version: setup
                .options
                .version
                .clone()
                .unwrap_or_else(|| VERSION.to_owned()),
        }
    }

    /// The seal-status object (§2.2), keys in Vault's order.
    pub fn status_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!("shamir"));
        m.insert("initialized".into(), json!(self.initialized));
        m.insert("sealed".into(), json!(self.sealed));
        m.insert("t".into(), json!(self.threshold));
        m.insert("n".into(), json!(self.shares));
        m.insert("progress".into(), json!(self.submitted.len()));
        m.insert("nonce".into(), json!(self.nonce));
        m.insert("version".into(), json!(self.version));
        m.insert("build_date".into(), json!(BUILD_DATE));
        m.insert("migration".into(), json!(false));
        if !self.sealed {
            m.insert("cluster_name".into(), json!(self.cluster_name));
            m.insert("cluster_id".into(), json!(self.cluster_id));
        }
        m.insert("recovery_seal".into(), json!(false));
        m.insert("storage_type".into(), json!("inmem"));
        Value::Object(m)
    }
}

fn raw_json(status: u16, body: Value) -> Response {
    json_response(status, body.to_string() + "\n")
}

/// Go's `encoding/json` error text, approximately, for `failed to parse JSON input: …`.
fn go_json_error(body: &[u8], e: &serde_json::Error) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return "EOF".into();
    }
    if e.is_eof() {
        return "unexpected EOF".into();
    }
    let offset = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    match body.get(offset) {
        Some(b'{') | Some(b'[') => format!("invalid character in JSON input: {e}"),
        Some(c) => format!(
            "invalid character '{}' looking for beginning of value",
            *c as char
        ),
        None => "EOF".into(),
    }
}

/// The raw handlers; `None` for logical paths.
pub fn raw(
    state: &VaultState,
    parts: &http::request::Parts,
    rel: &str,
    body: &[u8],
    token: Option<&str>,
    now: SystemTime,
) -> Option<Response> {
    let method = parts.method.as_str();
    let resp = match rel {
        "sys/health" => health(state, method, parts.uri.query(), now),
        "sys/seal-status" => {
            if method != "GET" {
                return Some(VaultError::empty(405).into_response());
            }
            raw_json(200, state.lock().core.seal.status_json())
        }
        "sys/seal" => seal(state, method, token, now),
        "sys/unseal" => unseal(state, method, body),
        "sys/init" => init(state, method, body),
        _ => return None,
    };
    Some(resp)
}

fn health(state: &VaultState, method: &str, query: Option<&str>, now: SystemTime) -> Response {
    if method != "GET" && method != "HEAD" {
        return VaultError::empty(405).into_response();
    }
    let mut codes: BTreeMap<String, u16> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*k {
            "standbyok" | "perfstandbyok" if parse_bool(&v).is_none() => {
                return VaultError::empty(400).into_response();
            }
            // fetchStatusCode reads these six only.
            k @ ("uninitcode"
            | "sealedcode"
            | "standbycode"
            | "activecode"
            | "drsecondarycode"
            | "performancestandbycode") => match v.parse::<u16>() {
                Ok(c) if (100..=999).contains(&c) => {
                    codes.insert(k.to_owned(), c);
                }
                _ => return VaultError::empty(400).into_response(),
            },
            _ => {}
        }
    }
    let seal = state.lock().core.seal.clone();
    let status = if !seal.initialized {
        codes.get("uninitcode").copied().unwrap_or(501)
    } else if seal.sealed {
        codes.get("sealedcode").copied().unwrap_or(503)
    } else {
        codes.get("activecode").copied().unwrap_or(200)
    };
    if method == "HEAD" {
        return json_response(status, String::new());
    }
    let mut m = Map::new();
    m.insert("initialized".into(), json!(seal.initialized));
    m.insert("sealed".into(), json!(seal.sealed));
    m.insert("standby".into(), json!(false));
    m.insert("performance_standby".into(), json!(false));
    m.insert("replication_performance_mode".into(), json!("disabled"));
    m.insert("replication_dr_mode".into(), json!("disabled"));
    m.insert("server_time_utc".into(), json!(super::fields::unix(now)));
    m.insert("version".into(), json!(seal.version));
    m.insert("enterprise".into(), json!(false));
    if !seal.sealed && seal.initialized {
        m.insert("cluster_name".into(), json!(seal.cluster_name));
        m.insert("cluster_id".into(), json!(seal.cluster_id));
    }
    m.insert("echo_duration_ms".into(), json!(0));
    m.insert("clock_skew_ms".into(), json!(0));
    raw_json(status, Value::Object(m))
}

fn seal(state: &VaultState, method: &str, token: Option<&str>, now: SystemTime) -> Response {
    if method != "PUT" && method != "POST" {
        return VaultError::empty(405).into_response();
    }
    let mut store = state.lock();
    if store.core.seal.sealed {
        // SealWithRequest: already sealed is done, before any token check.
        return json_response(204, String::new());
    }
    let Some(entry) = token
        .and_then(|t| store.core.tokens.get_valid(t, now))
        .cloned()
    else {
        return VaultError::permission_denied().into_response();
    };
    let acl = store.core.acl_for(&entry.policies, &entry.entity_id);
    if !acl.allows("sys/seal", acl::UPDATE, true, false) {
        return VaultError::acl_denied().into_response();
    }
    let s = &mut store.core.seal;
    s.sealed = true;
    s.submitted.clear();
    s.nonce.clear();
    json_response(204, String::new())
}

/// Reads a raw handler's JSON body; keys lower-cased (Go matches struct fields case-insensitively).
fn raw_body(body: &[u8]) -> Result<Map<String, Value>, VaultError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect()),
        Ok(_) => Err(VaultError::bad(
            "failed to parse JSON input: json: cannot unmarshal value into Go value of type struct",
        )),
        Err(e) => Err(VaultError::bad(format!(
            "failed to parse JSON input: {}",
            go_json_error(body, &e)
        ))),
    }
}

/// handleSysUnseal: hex when it decodes to a key of a valid length, else base64 (a hex string of
/// the wrong length that is no base64 is refused as neither).
fn decode_key(s: &str) -> Result<Vec<u8>, VaultError> {
    match hex::decode(s) {
        Ok(k) if (16..=33).contains(&k.len()) => Ok(k),
        _ => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| VaultError::bad("'key' must be a valid hex or base64 string")),
    }
}

/// core's `unsealFragment`: the key's length, after the Vault is found initialised.
fn check_key_length(key: &[u8]) -> Result<(), VaultError> {
    if key.len() < 16 {
        return Err(VaultError::bad(
            "invalid key: key is shorter than minimum 16 bytes",
        ));
    }
    if key.len() > 33 {
        return Err(VaultError::bad(
            "invalid key: key is longer than maximum 33 bytes",
        ));
    }
    Ok(())
}

fn unseal(state: &VaultState, method: &str, body: &[u8]) -> Response {
    if method != "PUT" && method != "POST" {
        return VaultError::empty(405).into_response();
    }
    let req = match raw_body(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut store = state.lock();
    let seal_state = &mut store.core.seal;
    let truthy = |v: Option<&Value>| match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => parse_bool(s).unwrap_or(false),
        _ => false,
    };
    if truthy(req.get("reset")) {
        if !seal_state.sealed {
            return VaultError::bad("vault is unsealed").into_response();
        }
        seal_state.submitted.clear();
        seal_state.nonce.clear();
        return raw_json(200, seal_state.status_json());
    }
    let key = match req.get("key") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return VaultError::bad(
                "'key' must be specified in request body as JSON, or 'reset' set to true",
            )
            .into_response()
        }
    };
    let key = match decode_key(&key) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    // core.Unseal: after the request is read and the key decoded; then the key's length.
    if !seal_state.initialized {
        return VaultError::bad("Vault is not initialized").into_response();
    }
    if let Err(e) = check_key_length(&key) {
        return e.into_response();
    }
    if !seal_state.sealed {
        return raw_json(200, seal_state.status_json());
    }
    if seal_state.submitted.contains(&key) {
        return raw_json(200, seal_state.status_json());
    }
    if seal_state.submitted.is_empty() {
        let nonce = store.core.uuid();
        store.core.seal.nonce = nonce;
    }
    let seal_state = &mut store.core.seal;
    seal_state.submitted.push(key);
    if seal_state.submitted.len() < seal_state.threshold as usize {
        return raw_json(200, seal_state.status_json());
    }
    let all_valid = seal_state
        .submitted
        .iter()
        .all(|k| seal_state.keys.contains(k));
    seal_state.submitted.clear();
    seal_state.nonce.clear();
    if !all_valid {
        return VaultError::bad(
            "unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed",
        )
        .into_response();
    }
    seal_state.sealed = false;
    raw_json(200, seal_state.status_json())
}

fn init(state: &VaultState, method: &str, body: &[u8]) -> Response {
    match method {
        "GET" => {
            let initialized = state.lock().core.seal.initialized;
            return raw_json(200, json!({ "initialized": initialized }));
        }
        "PUT" | "POST" => {}
        _ => return VaultError::empty(405).into_response(),
    }
    let req = match raw_body(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut store = state.lock();
    if store.core.seal.initialized {
        return VaultError::bad("Vault is already initialized").into_response();
    }
    let int = |k: &str| req.get(k).and_then(Value::as_i64).unwrap_or(0);
    if int("recovery_shares") != 0 {
        return VaultError::bad("parameters recovery_shares not applicable to seal type shamir")
            .into_response();
    }
    let (shares, threshold) = (int("secret_shares"), int("secret_threshold"));
    let invalid =
        |x: &str| VaultError::bad(format!("invalid seal configuration: {x}")).into_response();
    if shares < 1 {
        return invalid("shares must be at least one");
    }
    if threshold < 1 {
        return invalid("threshold must be at least one");
    }
    if shares > 1 && threshold == 1 {
        return invalid("threshold must be greater than one for multiple shares");
    }
    if threshold > shares {
        return invalid("threshold cannot be larger than shares");
    }
    if shares > 255 {
        return invalid("shares must be less than 256");
    }
    let seed = store.core.setup.seed.clone();
    let keys = derive_keys(&seed, shares as u8, "vault-init");
    let root = store.core.new_token_id(true, false);
    let now = store.core.now;
    {
        let core = &mut store.core;
        core.seal.initialized = true;
        core.seal.sealed = true;
        core.seal.shares = shares as u8;
        core.seal.threshold = threshold as u8;
        core.seal.keys = keys.clone();
        core.tokens.insert_root(&mut core.rng, &root, now);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    raw_json(
        200,
        json!({
            "keys": keys.iter().map(hex::encode).collect::<Vec<_>>(),
            "keys_base64": keys.iter().map(|k| b64.encode(k)).collect::<Vec<_>>(),
            "root_token": root,
        }),
    )
}

// ------------------------------------------------------------------------------ logical sys/*

/// `sys/internal/ui/mounts/:path`, which the Vault CLI reads to find a KV mount's version.
pub const UI_MOUNTS: &str = "sys/internal/ui/mounts/";

/// The mount serving `path` and its entry, for callers with some access under it.
///
/// Not in the reference: authsim's approximation of the endpoint `vault kv get` calls first. A
/// missing or invalid token, no mount, or no rule under the mount → 403 `permission denied`.
fn ui_mount(store: &VaultStore, cx: &Ctx<'_>, path: &str) -> Result<Reply, VaultError> {
    let caller = cx.caller.ok_or_else(VaultError::permission_denied)?;
    let (key, info) = match path.strip_prefix("auth/") {
        Some(rest) => store
            .auth
            .iter()
            .filter(|(k, _)| rest.starts_with(k.as_str()) || rest == k.trim_end_matches('/'))
            .max_by_key(|(k, _)| k.len())
            .map(|(k, m)| (format!("auth/{k}"), &m.info)),
        None => store
            .mounts
            .iter()
            .filter(|(k, _)| path.starts_with(k.as_str()) || path == k.trim_end_matches('/'))
            .max_by_key(|(k, _)| k.len())
            .map(|(k, m)| (k.clone(), &m.info)),
    }
    .ok_or_else(VaultError::permission_denied)?;
    if !caller.acl.root && !caller.acl.has_rules_under(&key) {
        return Err(VaultError::permission_denied());
    }
    let mut entry = info.to_json();
    entry["path"] = json!(key);
    Ok(Resp::data(entry).into())
}

/// `sys/*` logical paths.
pub fn handle(store: &mut VaultStore, cx: &Ctx<'_>, rel: &str) -> Result<Reply, VaultError> {
    let write = cx.op.is_write();
    let parts: Vec<&str> = rel.splitn(2, '/').collect();
    let (head, rest) = (parts[0], parts.get(1).copied());
    if let Some(p) = cx.path.strip_prefix(UI_MOUNTS) {
        if cx.op == Op::Read {
            return ui_mount(store, cx, p);
        }
    }
    match (head, rest, cx.op) {
        ("auth", None, Op::Read) => {
            let m: Map<String, Value> = store
                .auth
                .iter()
                .map(|(k, v)| (k.clone(), v.info.to_json()))
                .collect();
            Ok(Resp::data(Value::Object(m)).injected().into())
        }
        ("auth", Some(p), _) if !p.is_empty() => auth_path(store, cx, p, write),
        ("mounts", None, Op::Read) => {
            let m: Map<String, Value> = store
                .mounts
                .iter()
                .map(|(k, v)| (k.clone(), v.info.to_json()))
                .collect();
            Ok(Resp::data(Value::Object(m)).injected().into())
        }
        ("mounts", Some(p), _) if !p.is_empty() => mounts_path(store, cx, p, write),
        ("policy", None | Some(""), Op::Read | Op::List) => {
            let names = policy_names(store);
            Ok(Resp::data(json!({ "keys": names, "policies": names }))
                .injected()
                .into())
        }
        ("policy", Some(name), _) if !name.is_empty() => policy_endpoint(store, cx, name, true),
        ("policies", Some(p), _) if p.starts_with("acl") => match p.strip_prefix("acl/") {
            Some("") if cx.op == Op::List => Ok(Resp::list(policy_names(store)).into()),
            Some(name) if !name.is_empty() => policy_endpoint(store, cx, name, false),
            _ if p == "acl" || p == "acl/" => Err(VaultError::unsupported_operation()),
            _ => Err(VaultError::unsupported_path()),
        },
        ("capabilities-self" | "capabilities" | "capabilities-accessor", None, _) if write => {
            capabilities(store, cx, head)
        }
        ("leases", Some(p), _) => leases(cx, p),
        ("renew", _, _) if write => leases(cx, &format!("renew{}", slash(rest))),
        ("revoke", _, _) if write => leases(cx, &format!("revoke{}", slash(rest))),
        ("revoke-prefix" | "revoke-force", _, _) if write => {
            leases(cx, &format!("{head}{}", slash(rest)))
        }
        (
            "auth"
            | "mounts"
            | "policy"
            | "capabilities-self"
            | "capabilities"
            | "capabilities-accessor",
            _,
            _,
        ) => Err(VaultError::unsupported_operation()),
        _ => Err(VaultError::unsupported_path()),
    }
}

fn slash(rest: Option<&str>) -> String {
    rest.map(|r| format!("/{r}")).unwrap_or_default()
}

fn policy_names(store: &VaultStore) -> Vec<String> {
    let mut names: Vec<String> = store
        .core
        .policies
        .keys()
        .filter(|n| !matches!(n.as_str(), "response-wrapping" | "control-group"))
        .cloned()
        .collect();
    names.push("root".into());
    names
}

/// Parses `config.default_lease_ttl` / `max_lease_ttl`.
fn ttl_config(input: &Input) -> Result<(Option<i64>, Option<i64>), VaultError> {
    let Some(cfg) = input.raw("config").and_then(Value::as_object) else {
        return Ok((None, None));
    };
    let get = |k: &str, what: &str| -> Result<Option<i64>, VaultError> {
        match cfg.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() || s == "system" => Ok(None),
            Some(v) => parse_duration_value(v).map(Some).map_err(|e| {
                VaultError::bad(format!(
                    "unable to parse {what} TTL of {}: {e}",
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                ))
            }),
        }
    };
    let d = get("default_lease_ttl", "default")?;
    let m = get("max_lease_ttl", "max")?;
    let (dd, mm) = (d.unwrap_or(0), m.unwrap_or(0));
    if mm != 0 && dd > mm {
        return Err(VaultError::bad(
            "given default lease TTL greater than given max lease TTL",
        ));
    }
    if dd > super::SYSTEM_MAX_TTL && mm == 0 {
        return Err(VaultError::bad(format!(
            "given default lease TTL greater than system max lease TTL of {}",
            super::SYSTEM_MAX_TTL
        )));
    }
    Ok((d, m))
}

fn new_mount(input: &Input, path: &str) -> Result<NewMount, VaultError> {
    // handleMount: the config's TTLs are checked before the type.
    let (d, m) = ttl_config(input)?;
    let kind = match input.raw("type") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(VaultError::bad(
                "backend type must be specified as a string",
            ))
        }
    };
    for k in [
        "plugin_name",
        "plugin_version",
        "external_entropy_access",
        "seal_wrap",
    ] {
        let _ = input.raw(k);
    }
    Ok(NewMount {
        path: path.to_owned(),
        kind,
        description: input.string("description")?,
        // TypeKVPairs: absent is the empty map, listed as `{}`.
        options: Some(input.kv_pairs("options")?.unwrap_or_default()),
        default_lease_ttl: d.unwrap_or(0),
        max_lease_ttl: m.unwrap_or(0),
        local: input.bool_or("local", false)?,
        seal_wrap: input.bool_or("seal_wrap", false)?,
    })
}

fn tune_json(info: &mounts::MountInfo) -> Value {
    let mut v = json!({
        "default_lease_ttl": info.default_ttl(),
        "description": info.description,
        "force_no_cache": false,
        "max_lease_ttl": info.max_ttl(),
    });
    if let Some(t) = &info.token_type {
        v["token_type"] = json!(t);
    }
    if let Some(o) = &info.options {
        v["options"] = json!(o);
    }
    if let Some(l) = &info.listing_visibility {
        v["listing_visibility"] = json!(l);
    }
    v
}

/// `handleTuneWriteCommon` for the fields the mock keeps, in its order; `path` is the tuned
/// path as Vault names it (`secret/`, `auth/userpass/`). Returns the warnings, and whether a
/// KV mount moves to version 2.
fn tune(
    info: &mut mounts::MountInfo,
    path: &str,
    input: &Input,
) -> Result<(Vec<String>, bool), VaultError> {
    // TTLs are strings: "" keeps the current value, "system" is 0, else a Go duration whose
    // parse error is answered bare.
    let ttl = |k: &str, current: i64| -> Result<i64, VaultError> {
        match input.str(k)?.as_deref() {
            None | Some("") => Ok(current),
            Some("system") => Ok(0),
            Some(v) => parse_duration_value(&Value::String(v.to_owned())).map_err(VaultError::bad),
        }
    };
    let nd = ttl("default_lease_ttl", info.default_lease_ttl)?;
    let nm = ttl("max_lease_ttl", info.max_lease_ttl)?;
    if (nd != info.default_lease_ttl || nm != info.max_lease_ttl) && nd != 0 && nm != 0 && nm < nd {
        return Err(VaultError::bad(format!(
            "backend max lease TTL of {nm} would be less than backend default lease TTL of {nd}"
        )));
    }
    info.default_lease_ttl = nd;
    info.max_lease_ttl = nm;
    if let Some(desc) = input.str("description")? {
        info.description = desc;
    }
    if let Some(v) = input.str("listing_visibility")? {
        if !matches!(v.as_str(), "" | "hidden" | "unauth") {
            return Err(VaultError::bad(format!("invalid listing_visibility {v}")));
        }
        info.listing_visibility = Some(v);
    }
    if let Some(t) = input.str("token_type")? {
        if !path.starts_with("auth/") {
            return Err(VaultError::bad(
                "'token_type' can only be modified on auth mounts",
            ));
        }
        if info.kind == "token" {
            return Err(VaultError::bad(
                "'token_type' cannot be set for 'token' or 'ns_token' auth mounts",
            ));
        }
        let t = match t.as_str() {
            "" | "default-service" => "default-service",
            "default-batch" | "service" | "batch" => t.as_str(),
            _ => return Err(VaultError::bad("invalid value for 'token_type'")),
        };
        info.token_type = Some(t.to_owned());
    }
    let mut warnings = Vec::new();
    let mut upgrade = false;
    let options = input.kv_pairs("options")?.unwrap_or_default();
    if !options.is_empty() {
        if let Some(v) = options.get("version") {
            let parse = |s: &str| -> Option<i64> {
                if s.is_empty() {
                    Some(0)
                } else {
                    s.parse().ok()
                }
            };
            let current = info
                .options
                .as_ref()
                .and_then(|o| o.get("version"))
                .map_or(Some(0), |s| parse(s))
                .unwrap_or(0);
            let Some(asked) = parse(v) else {
                return Err(VaultError::bad(format!(
                    "unable to parse options: strconv.ParseInt: parsing {}: invalid syntax",
                    super::go_fmt::go_quote(v)
                )));
            };
            if !matches!(asked, 1 | 2) {
                return Err(VaultError::bad(format!(
                    "invalid version provided: {asked}"
                )));
            }
            if current > asked {
                return Err(VaultError::bad(format!(
                    "cannot downgrade mount from version {current}"
                )));
            }
            if current < asked {
                upgrade = asked == 2;
                warnings.push(format!("Upgrading mount from version {current} to version {asked}. This mount will be unavailable for a brief period and will resume service shortly."));
            }
        }
        let opts = info.options.get_or_insert_with(BTreeMap::new);
        for (k, v) in options {
            if v.is_empty() && k != "version" {
                opts.remove(&k);
            } else {
                opts.insert(k, v);
            }
        }
    }
    Ok((warnings, upgrade))
}

/// `sys/auth/<m>/tune` and `sys/mounts/<m>/tune`: read or write a mount's tunables.
/// Returns whether a KV mount is to move to version 2.
fn tune_path(
    info: &mut mounts::MountInfo,
    path: &str,
    cx: &Ctx<'_>,
    write: bool,
) -> Result<(Reply, bool), VaultError> {
    match cx.op {
        // `sys/mounts/` and `sys/auth/` are among core's routes whose data is copied to the top.
        Op::Read => Ok((Resp::data(tune_json(info)).injected().into(), false)),
        _ if write => {
            let (warnings, upgrade) = tune(info, path, cx.input)?;
            Ok((Reply::with_warnings(warnings), upgrade))
        }
        _ => Err(VaultError::unsupported_operation()),
    }
}

/// A tune of a path that is no mount: the read's and the write's texts.
fn no_mount_to_tune(path: &str, write: bool) -> VaultError {
    let q = super::go_fmt::go_quote(path);
    VaultError::bad(if write {
        format!("tune of path {q} failed: no mount entry found")
    } else {
        format!("cannot fetch sysview for path {q}")
    })
}

fn auth_path(
    store: &mut VaultStore,
    cx: &Ctx<'_>,
    p: &str,
    write: bool,
) -> Result<Reply, VaultError> {
    if let Some(mount) = p.strip_suffix("/tune") {
        let key = mounts::normalise(mount);
        let path = format!("auth/{key}");
        let m = store
            .auth
            .get_mut(&key)
            .ok_or_else(|| no_mount_to_tune(&path, write))?;
        return tune_path(std::sync::Arc::make_mut(&mut m.info), &path, cx, write).map(|r| r.0);
    }
    let key = mounts::normalise(p);
    match cx.op {
        Op::Read => match store.auth.get(&key) {
            Some(m) => Ok(Resp::data(m.info.to_json()).injected().into()),
            None => Err(VaultError::bad(format!("No auth engine at {key}"))),
        },
        _ if write => {
            let m = new_mount(cx.input, p)?;
            mounts::enable_auth(store, m)?;
            Ok(Reply::NoContent)
        }
        Op::Delete => {
            if key == "token/" {
                // authsim wording: disabling the token backend is refused.
                return Err(VaultError::bad(
                    "token credential backend cannot be disabled",
                ));
            }
            if store.auth.remove(&key).is_some() {
                store.core.tokens.revoke_path_prefix(&format!("auth/{key}"));
            }
            Ok(Reply::NoContent)
        }
        _ => Err(VaultError::unsupported_operation()),
    }
}

fn mounts_path(
    store: &mut VaultStore,
    cx: &Ctx<'_>,
    p: &str,
    write: bool,
) -> Result<Reply, VaultError> {
    if let Some(mount) = p.strip_suffix("/tune") {
        let key = mounts::normalise(mount);
        if write
            && ["cubbyhole/", "sys/", "audit/", "identity/"]
                .iter()
                .any(|u| key.starts_with(u))
        {
            return Err(VaultError::bad(format!(
                "cannot tune {}",
                super::go_fmt::go_quote(&key)
            )));
        }
        let m = store
            .mounts
            .get_mut(&key)
            .ok_or_else(|| no_mount_to_tune(&key, write))?;
        let (reply, upgrade) = tune_path(std::sync::Arc::make_mut(&mut m.info), &key, cx, write)?;
        if upgrade {
            if let mounts::SecretBackend::Kv1(v1) = &m.backend {
                // Vault upgrades in the background; here the entries are version 1 at once.
                m.backend = mounts::SecretBackend::Kv2(super::kv::Kv2::upgraded(v1, cx.now));
            }
        }
        return Ok(reply);
    }
    let key = mounts::normalise(p);
    match cx.op {
        Op::Read => match store.mounts.get(&key) {
            Some(m) => Ok(Resp::data(m.info.to_json()).injected().into()),
            None => Err(VaultError::bad(format!("No secret engine mount at {key}"))),
        },
        _ if write => {
            let m = new_mount(cx.input, p)?;
            mounts::enable_secret(store, m)?;
            Ok(Reply::NoContent)
        }
        Op::Delete => {
            if matches!(key.as_str(), "sys/" | "cubbyhole/" | "identity/") {
                return Err(VaultError::bad(format!("cannot unmount {key:?}")));
            }
            store.mounts.remove(&key);
            Ok(Reply::NoContent)
        }
        _ => Err(VaultError::unsupported_operation()),
    }
}

fn policy_endpoint(
    store: &mut VaultStore,
    cx: &Ctx<'_>,
    raw_name: &str,
    legacy_path: bool,
) -> Result<Reply, VaultError> {
    let name = raw_name.trim().to_lowercase();
    let text_key = if legacy_path { "rules" } else { "policy" };
    match cx.op {
        Op::Read => {
            let text = if name == "root" {
                String::new()
            } else {
                store
                    .core
                    .policies
                    .get(&name)
                    .ok_or_else(VaultError::not_found)?
                    .text
                    .clone()
            };
            let mut r = Resp::data(json!({ "name": name, text_key: text }));
            r.inject_top = legacy_path;
            Ok(r.into())
        }
        Op::Create | Op::Update => {
            let mut warnings = Vec::new();
            let mut text = cx.input.string("policy")?;
            if legacy_path && text.is_empty() {
                text = cx.input.string("rules")?;
                if !text.is_empty() {
                    warnings.push("'rules' is deprecated, please use 'policy' instead".to_owned());
                }
            }
            if text.is_empty() {
                return Err(VaultError::bad("'policy' parameter not supplied or empty"));
            }
            if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(text.trim()) {
                if let Ok(s) = String::from_utf8(decoded) {
                    text = s;
                }
            }
            // Parsed first; SetPolicy then refuses the immutable ones.
            let policy = acl::parse_policy(&name, &text)
                .map_err(|e| VaultError::bad(format!("failed to parse policy: {e}")))?;
            if matches!(
                name.as_str(),
                "root" | "response-wrapping" | "control-group"
            ) {
                return Err(VaultError::bad(format!("cannot update {name:?} policy")));
            }
            store.core.policies.insert(name.clone(), policy);
            if name != raw_name {
                warnings.push(format!("policy name was converted to {name}"));
            }
            Ok(Reply::with_warnings(warnings))
        }
        Op::Delete => {
            match name.as_str() {
                "root" | "response-wrapping" | "control-group" => {
                    return Err(VaultError::bad(format!("cannot delete {name:?} policy")))
                }
                "default" => return Err(VaultError::bad("cannot delete default policy")),
                _ => {}
            }
            store.core.policies.remove(&name);
            Ok(Reply::NoContent)
        }
        _ => Err(VaultError::unsupported_operation()),
    }
}

fn capabilities(store: &mut VaultStore, cx: &Ctx<'_>, which: &str) -> Result<Reply, VaultError> {
    let mut paths = cx.input.str_list("paths")?.unwrap_or_default();
    if paths.is_empty() {
        if let Some(p) = cx.input.str("path")?.filter(|p| !p.is_empty()) {
            paths.push(p);
        }
    }
    // handleCapabilities(Accessor): the accessor, then a token at all, then the paths, then
    // whether the token is valid.
    let token = match which {
        "capabilities" => Some(cx.input.string("token")?),
        "capabilities-accessor" => {
            let a = cx.input.string("accessor")?;
            if a.is_empty() {
                return Err(VaultError::bad("missing accessor"));
            }
            let e = store
                .core
                .tokens
                .by_accessor(&a, cx.now)
                .ok_or_else(|| VaultError::multi(400, "invalid accessor"))?;
            Some(e.id.to_string())
        }
        _ => None,
    };
    if token.as_deref() == Some("") {
        return Err(VaultError::multi(500, "no token found"));
    }
    if paths.is_empty() {
        return Err(VaultError::bad("paths must be supplied"));
    }
    let acl = match token {
        Some(t) => {
            let e = store
                .core
                .tokens
                .get_valid(&t, cx.now)
                .ok_or_else(|| VaultError::multi(400, "invalid token"))?;
            store.core.acl_for(&e.policies, &e.entity_id)
        }
        None => cx
            .caller
            .map(|c| c.acl.clone())
            .ok_or_else(VaultError::permission_denied)?,
    };
    let mut data = Map::new();
    for p in &paths {
        data.insert(p.clone(), json!(acl.capabilities(p)));
    }
    if paths.len() == 1 {
        data.insert("capabilities".into(), json!(acl.capabilities(&paths[0])));
    }
    Ok(Resp::data(Value::Object(data)).injected().into())
}

fn leases(cx: &Ctx<'_>, p: &str) -> Result<Reply, VaultError> {
    let (head, id_in_path) = match p.split_once('/') {
        Some((h, rest)) => (h, Some(rest)),
        None => (p, None),
    };
    // The body's `lease_id` wins over the one in the URL.
    let lease_id = || -> Result<String, VaultError> {
        let id = match cx.input.string("lease_id")? {
            id if !id.is_empty() => id,
            _ => id_in_path.unwrap_or_default().to_owned(),
        };
        if id.is_empty() {
            return Err(VaultError::bad("lease_id must be specified"));
        }
        Ok(id)
    };
    match (head, cx.op) {
        ("lookup", Op::List) => Ok(Resp::list(Vec::new()).into()),
        ("lookup", Op::Create | Op::Update) => {
            lease_id()?;
            Err(VaultError::bad("invalid lease"))
        }
        ("renew", Op::Create | Op::Update) => {
            lease_id()?;
            let _ = cx.input.duration("increment")?;
            // No lease is registered (token leases included: their ids are not exposed).
            Err(VaultError::bad("lease not found"))
        }
        // Sudo paths; with no leases registered every prefix revokes nothing.
        ("revoke-prefix", Op::Create | Op::Update) if id_in_path.is_some_and(|p| !p.is_empty()) => {
            if !cx.input.bool_or("sync", true)? {
                return Ok(Reply::Status(202));
            }
            Ok(Reply::NoContent)
        }
        ("revoke-force", Op::Create | Op::Update) if id_in_path.is_some_and(|p| !p.is_empty()) => {
            Ok(Reply::NoContent)
        }
        ("revoke", Op::Create | Op::Update) => {
            lease_id()?;
            if !cx.input.bool_or("sync", true)? {
                return Ok(Reply::Status(202));
            }
            Ok(Reply::NoContent)
        }
        ("lookup" | "renew" | "revoke", _) => Err(VaultError::unsupported_operation()),
        _ => Err(VaultError::unsupported_path()),
    }
}
