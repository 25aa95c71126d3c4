//! The KV secrets engine (reference vault-core.md §5): version 2 (`data/`, `metadata/`, `delete/`,
//! `undelete/`, `destroy/`, `config`; check-and-set, soft delete, destroy, `max_versions`,
//! `delete_version_after`, custom metadata) and version 1 (passthrough).
//!
//! **Not modelled:** `subkeys/`, the upgrade window after enabling a v2 mount, leases (KV never
//! registers them), KV v1 `ttl` keys beyond setting `lease_duration`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::envelope::{Reply, Resp};
use super::error::VaultError;
use super::fields::{add_secs, go_duration, rfc3339_nano, Input};
use super::{Ctx, Op};

/// The keys directly under `prefix` (folders end in `/`), sorted.
fn list_under<'a>(keys: impl Iterator<Item = &'a String>, prefix: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    for k in keys {
        if let Some(rest) = k.strip_prefix(prefix) {
            if rest.is_empty() {
                continue;
            }
            match rest.find('/') {
                Some(i) => out.insert(rest[..=i].to_owned()),
                None => out.insert(rest.to_owned()),
            };
        }
    }
    out.into_iter().collect()
}

/// A KV version 1 mount: path → stored object.
#[derive(Debug, Default, Clone)]
pub struct Kv1 {
    entries: BTreeMap<String, Map<String, Value>>,
}

impl Kv1 {
    pub fn exists(&self, rel: &str) -> bool {
        self.entries.contains_key(rel)
    }

    /// `default_ttl` is the mount's default lease TTL, reported as `lease_duration` on reads.
    pub fn handle(
        &mut self,
        cx: &Ctx<'_>,
        rel: &str,
        default_ttl: i64,
    ) -> Result<Reply, VaultError> {
        match cx.op {
            Op::List => Ok(Resp::list(list_under(self.entries.keys(), rel)).into()),
            _ if rel.is_empty() => Err(VaultError::unsupported_path()),
            Op::Read | Op::Head => {
                let data = self.entries.get(rel).ok_or_else(VaultError::not_found)?;
                let ttl = ["ttl", "lease"]
                    .iter()
                    .find_map(|k| data.get(*k))
                    .and_then(|v| super::fields::parse_duration_value(v).ok())
                    .unwrap_or(default_ttl);
                let mut r = Resp::data(Value::Object(data.clone()));
                r.lease_duration = ttl;
                Ok(r.into())
            }
            Op::Create | Op::Update => {
                if cx.input.is_empty() {
                    return Err(VaultError::bad("missing data fields"));
                }
                self.entries.insert(rel.to_owned(), cx.input.all().clone());
                Ok(Reply::NoContent)
            }
            Op::Delete => {
                self.entries.remove(rel);
                Ok(Reply::NoContent)
            }
            Op::Patch => Err(VaultError::unsupported_operation()),
        }
    }
}

/// KV v2 mount settings (`config`).
#[derive(Debug, Clone, Default)]
pub struct Kv2Config {
    pub max_versions: i64,
    pub cas_required: bool,
    pub delete_version_after: i64,
}

#[derive(Debug, Clone)]
struct Version {
    data: Option<Map<String, Value>>,
    created: SystemTime,
    deletion: Option<SystemTime>,
    destroyed: bool,
}

#[derive(Debug, Clone)]
struct KeyMeta {
    versions: BTreeMap<i64, Version>,
    current: i64,
    oldest: i64,
    created: SystemTime,
    updated: SystemTime,
    max_versions: i64,
    cas_required: bool,
    delete_version_after: i64,
    custom_metadata: Option<BTreeMap<String, String>>,
}

/// A KV version 2 mount.
#[derive(Debug, Default, Clone)]
pub struct Kv2 {
    pub config: Kv2Config,
    keys: BTreeMap<String, KeyMeta>,
}

fn time_or_empty(t: Option<SystemTime>) -> String {
    t.map(rfc3339_nano).unwrap_or_default()
}

impl Version {
    fn is_deleted(&self, now: SystemTime) -> bool {
        self.deletion.is_some_and(|d| d <= now)
    }
}

impl KeyMeta {
    fn version_meta(&self, n: i64) -> Value {
        let v = &self.versions[&n];
        json!({
            "created_time": rfc3339_nano(v.created),
            "custom_metadata": self.custom_metadata,
            "deletion_time": time_or_empty(v.deletion),
            "destroyed": v.destroyed,
            "version": n,
        })
    }
}

/// The 404 answer with a whole envelope as its body (`logical.RespondWithStatusCode`).
fn raw_404(data: Option<Value>, warning: Option<String>) -> Reply {
    let mut r = Resp {
        data,
        status: Some(404),
        raw_status_body: true,
        ..Resp::default()
    };
    if let Some(w) = warning {
        r.warnings.push(w);
    }
    r.into()
}

fn versions_arg(input: &Input, message: &str) -> Result<Vec<i64>, VaultError> {
    let bad = |v: &Value| {
        VaultError::field(
            v,
            "versions",
            format!(
                "strconv.ParseInt: parsing {:?}: invalid syntax",
                v.to_string()
            ),
        )
    };
    let mut out = Vec::new();
    match input.raw("versions") {
        None => {}
        Some(Value::Array(a)) => {
            for v in a {
                match v {
                    Value::Number(n) => out.push(n.as_i64().ok_or_else(|| bad(v))?),
                    Value::String(s) => out.push(s.trim().parse().map_err(|_| bad(v))?),
                    other => return Err(bad(other)),
                }
            }
        }
        Some(Value::Number(n)) => out.push(n.as_i64().ok_or_else(|| bad(&json!(n)))?),
        Some(Value::String(s)) => {
            for part in super::fields::comma_list(s) {
                out.push(part.parse().map_err(|_| bad(&json!(s)))?);
            }
        }
        Some(other) => return Err(bad(other)),
    }
    if out.is_empty() {
        return Err(VaultError::bad(message));
    }
    Ok(out)
}

fn invalid_path(op: Op) -> Reply {
    let verb = match op {
        Op::Read | Op::Head => "get",
        Op::List => "list",
        Op::Create | Op::Update => "put",
        Op::Delete => "delete",
        Op::Patch => "patch",
    };
    raw_404(
        None,
        Some(format!(
            "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv {verb}' for this operation."
        )),
    )
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("made an object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

impl Kv2 {
    /// Existence check: does the key have metadata?
    pub fn exists(&self, rel: &str) -> Option<bool> {
        let (head, key) = rel.split_once('/')?;
        match head {
            "data" | "metadata" if !key.is_empty() => Some(self.keys.contains_key(key)),
            _ => None,
        }
    }

    fn max_versions(&self, m: &KeyMeta) -> i64 {
        if m.max_versions > 0 {
            m.max_versions
        } else if self.config.max_versions > 0 {
            self.config.max_versions
        } else {
            10
        }
    }

    pub fn handle(&mut self, cx: &Ctx<'_>, rel: &str) -> Result<Reply, VaultError> {
        if rel == "config" {
            return self.config_endpoint(cx);
        }
        let (head, key) = match rel.split_once('/') {
            Some((h, k)) => (h, k),
            None => (rel, ""),
        };
        let known = matches!(
            head,
            "data" | "metadata" | "delete" | "undelete" | "destroy"
        );
        if !known {
            return Ok(invalid_path(cx.op));
        }
        if key.is_empty() && !(head == "metadata" && cx.op == Op::List) {
            return Ok(raw_404(
                None,
                Some(
                    "Non-listing operations on the root of a K/V v2 mount are not supported."
                        .into(),
                ),
            ));
        }
        match (head, cx.op) {
            ("data", Op::Read | Op::Head) => self.read(cx, key),
            ("data", Op::Create | Op::Update) => {
                let data = match cx.input.raw("data") {
                    None => return Err(VaultError::bad("no data provided")),
                    Some(Value::Object(o)) => o.clone(),
                    Some(other) => {
                        return Err(VaultError::field(
                            other,
                            "data",
                            "'' expected a map, got 'string'",
                        ))
                    }
                };
                let cas = cas_arg(cx.input)?;
                self.write(cx, key, data, cas)
            }
            ("data", Op::Patch) => self.patch(cx, key),
            ("data", Op::Delete) => {
                if let Some(m) = self.keys.get_mut(key) {
                    if let Some(v) = m.versions.get_mut(&m.current) {
                        if !v.destroyed && !v.is_deleted(cx.now) {
                            v.deletion = Some(cx.now);
                            m.updated = cx.now;
                        }
                    }
                }
                Ok(Reply::NoContent)
            }
            ("metadata", Op::List) => Ok(Resp::list(list_under(self.keys.keys(), key)).into()),
            ("metadata", Op::Read | Op::Head) => {
                let m = self.keys.get(key).ok_or_else(VaultError::not_found)?;
                let versions: Map<String, Value> = m
                    .versions
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.to_string(),
                            json!({
                                "created_time": rfc3339_nano(v.created),
                                "deletion_time": time_or_empty(v.deletion),
                                "destroyed": v.destroyed,
                            }),
                        )
                    })
                    .collect();
                Ok(Resp::data(json!({
                    "cas_required": m.cas_required,
                    "created_time": rfc3339_nano(m.created),
                    "current_version": m.current,
                    "custom_metadata": m.custom_metadata,
                    "delete_version_after": go_duration(m.delete_version_after),
                    "max_versions": m.max_versions,
                    "oldest_version": m.oldest,
                    "updated_time": rfc3339_nano(m.updated),
                    "versions": versions,
                }))
                .into())
            }
            ("metadata", Op::Create | Op::Update | Op::Patch) => {
                let i = cx.input;
                let max_versions = i.int("max_versions")?;
                let cas_required = i.bool("cas_required")?;
                let dva = i.signed_duration("delete_version_after")?;
                let custom = i.str_map("custom_metadata")?;
                let now = cx.now;
                let m = self.keys.entry(key.to_owned()).or_insert_with(|| KeyMeta {
                    versions: BTreeMap::new(),
                    current: 0,
                    oldest: 0,
                    created: now,
                    updated: now,
                    max_versions: 0,
                    cas_required: false,
                    delete_version_after: 0,
                    custom_metadata: None,
                });
                if let Some(v) = max_versions {
                    m.max_versions = v;
                }
                if let Some(v) = cas_required {
                    m.cas_required = v;
                }
                if let Some(v) = dva {
                    m.delete_version_after = v;
                }
                if let Some(c) = custom {
                    m.custom_metadata = Some(c);
                }
                m.updated = now;
                Ok(Reply::NoContent)
            }
            ("metadata", Op::Delete) => {
                self.keys.remove(key);
                Ok(Reply::NoContent)
            }
            ("delete", Op::Create | Op::Update) => {
                let versions = versions_arg(cx.input, "No version number provided")?;
                if let Some(m) = self.keys.get_mut(key) {
                    for n in versions {
                        if let Some(v) = m.versions.get_mut(&n) {
                            if !v.destroyed && !v.is_deleted(cx.now) {
                                v.deletion = Some(cx.now);
                            }
                        }
                    }
                }
                Ok(Reply::NoContent)
            }
            ("undelete", Op::Create | Op::Update) => {
                let versions = versions_arg(cx.input, "No version number provided")?;
                if let Some(m) = self.keys.get_mut(key) {
                    for n in versions {
                        if let Some(v) = m.versions.get_mut(&n) {
                            if !v.destroyed {
                                v.deletion = None;
                            }
                        }
                    }
                }
                Ok(Reply::NoContent)
            }
            ("destroy", Op::Create | Op::Update) => {
                let versions = versions_arg(cx.input, "no version number provided")?;
                if let Some(m) = self.keys.get_mut(key) {
                    for n in versions {
                        if let Some(v) = m.versions.get_mut(&n) {
                            v.destroyed = true;
                            v.data = None;
                        }
                    }
                }
                Ok(Reply::NoContent)
            }
            _ => Err(VaultError::unsupported_operation()),
        }
    }

    fn config_endpoint(&mut self, cx: &Ctx<'_>) -> Result<Reply, VaultError> {
        match cx.op {
            Op::Read => Ok(Resp::data(json!({
                "cas_required": self.config.cas_required,
                "delete_version_after": go_duration(self.config.delete_version_after),
                "max_versions": self.config.max_versions,
            }))
            .into()),
            Op::Create | Op::Update => {
                if let Some(v) = cx.input.int("max_versions")? {
                    self.config.max_versions = v;
                }
                if let Some(v) = cx.input.bool("cas_required")? {
                    self.config.cas_required = v;
                }
                if let Some(v) = cx.input.signed_duration("delete_version_after")? {
                    self.config.delete_version_after = v;
                }
                Ok(Reply::NoContent)
            }
            _ => Err(VaultError::unsupported_operation()),
        }
    }

    fn read(&self, cx: &Ctx<'_>, key: &str) -> Result<Reply, VaultError> {
        let version = match cx.input.raw("version") {
            None => 0,
            Some(_) => cx.input.int("version")?.unwrap_or(0),
        };
        let m = self.keys.get(key).ok_or_else(VaultError::not_found)?;
        let n = if version == 0 { m.current } else { version };
        let Some(v) = m.versions.get(&n) else {
            return Err(VaultError::not_found());
        };
        let metadata = m.version_meta(n);
        if v.destroyed || v.is_deleted(cx.now) {
            return Ok(raw_404(
                Some(json!({ "data": null, "metadata": metadata })),
                None,
            ));
        }
        Ok(Resp::data(json!({ "data": v.data, "metadata": metadata })).into())
    }

    fn write(
        &mut self,
        cx: &Ctx<'_>,
        key: &str,
        data: Map<String, Value>,
        cas: Option<i64>,
    ) -> Result<Reply, VaultError> {
        let now = cx.now;
        let cas_required =
            self.config.cas_required || self.keys.get(key).is_some_and(|m| m.cas_required);
        if cas_required && cas.is_none() {
            return Err(VaultError::bad(
                "check-and-set parameter required for this call",
            ));
        }
        if let Some(c) = cas {
            let current = self.keys.get(key).map_or(0, |m| m.current);
            if c != current {
                return Err(VaultError::bad(
                    "check-and-set parameter did not match the current version",
                ));
            }
        }
        let dva_mount = self.config.delete_version_after;
        let m = self.keys.entry(key.to_owned()).or_insert_with(|| KeyMeta {
            versions: BTreeMap::new(),
            current: 0,
            oldest: 0,
            created: now,
            updated: now,
            max_versions: 0,
            cas_required: false,
            delete_version_after: 0,
            custom_metadata: None,
        });
        let n = m.current + 1;
        let dva = if m.delete_version_after > 0 {
            m.delete_version_after
        } else {
            dva_mount
        };
        m.versions.insert(
            n,
            Version {
                data: Some(data),
                created: now,
                deletion: (dva > 0).then(|| add_secs(now, dva)),
                destroyed: false,
            },
        );
        m.current = n;
        m.updated = now;
        if m.oldest == 0 {
            m.oldest = n;
        }
        let keep = {
            let m = &self.keys[key];
            self.max_versions(m)
        };
        let m = self.keys.get_mut(key).expect("just written");
        while m.versions.len() as i64 > keep {
            let first = *m.versions.keys().next().expect("non-empty");
            m.versions.remove(&first);
        }
        m.oldest = *m.versions.keys().next().expect("non-empty");
        Ok(Resp::data(m.version_meta(n)).into())
    }

    fn patch(&mut self, cx: &Ctx<'_>, key: &str) -> Result<Reply, VaultError> {
        let patch = match cx.input.raw("data") {
            Some(Value::Object(o)) => Value::Object(o.clone()),
            None => return Err(VaultError::bad("no data provided")),
            Some(other) => {
                return Err(VaultError::field(
                    other,
                    "data",
                    "'' expected a map, got 'string'",
                ))
            }
        };
        let cas = cas_arg(cx.input)?;
        let Some(m) = self.keys.get(key) else {
            // UNVERIFIED: reference/vault-core.md §5.1 (PATCH of an absent key: 404, empty body)
            return Ok(Reply::Status(404));
        };
        let Some(v) = m.versions.get(&m.current) else {
            return Ok(Reply::Status(404));
        };
        if v.destroyed || v.is_deleted(cx.now) {
            return Ok(raw_404(Some(m.version_meta(m.current)), None));
        }
        let mut merged = Value::Object(v.data.clone().unwrap_or_default());
        merge_patch(&mut merged, &patch);
        let Value::Object(data) = merged else {
            return Err(VaultError::bad("no data provided"));
        };
        self.write(cx, key, data, cas)
    }
}

fn cas_arg(input: &Input) -> Result<Option<i64>, VaultError> {
    let Some(options) = input.raw("options") else {
        return Ok(None);
    };
    let Some(cas) = options.get("cas").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let parsed = match cas {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| VaultError::bad("error parsing check-and-set parameter"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_shows_one_level_with_folders() {
        let keys: Vec<String> = ["a", "b/c", "b/d", "b/e/f", "c/"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(list_under(keys.iter(), ""), vec!["a", "b/", "c/"]);
        assert_eq!(list_under(keys.iter(), "b/"), vec!["c", "d", "e/"]);
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut t, &json!({"a": null, "b": {"c": 5}, "e": 6}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "e": 6}));
    }
}
