//! The KV secrets engine (reference vault-core.md §5): version 2 (`data/`, `metadata/`, `delete/`,
//! `undelete/`, `destroy/`, `config`; check-and-set, soft delete, destroy, `max_versions`,
//! `delete_version_after`, custom metadata) and version 1 (passthrough).
//!
//! Follows the KV plugin as the Vault 1.14–1.17 bundles carry it (v0.15–v0.20): metadata has
//! no `*_by` attribution fields (KV v0.25, Vault 1.21).
//!
//! **Not modelled:** the upgrade window after enabling a v2 mount, leases (KV never registers
//! them), KV v1 `ttl` keys beyond setting `lease_duration`.

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

    /// `default_ttl` is the mount's default lease TTL, reported as `lease_duration` on reads
    /// (with a `ttl` or `lease` key's value instead). `None` serves a cubbyhole: no lease
    /// duration, and its handlers' plain errors (500).
    pub fn handle(
        &mut self,
        cx: &Ctx<'_>,
        rel: &str,
        default_ttl: Option<i64>,
    ) -> Result<Reply, VaultError> {
        let cubbyhole = default_ttl.is_none();
        match cx.op {
            Op::List => Ok(Resp::list(list_under(self.entries.keys(), rel)).into()),
            Op::Read | Op::Head => {
                if cubbyhole && rel.is_empty() {
                    return Err(VaultError::multi(500, "missing path"));
                }
                let data = self.entries.get(rel).ok_or_else(VaultError::not_found)?;
                let mut r = Resp::data(Value::Object(data.clone()));
                if let Some(default) = default_ttl {
                    r.lease_duration = ["ttl", "lease"]
                        .iter()
                        .find_map(|k| data.get(*k))
                        .and_then(|v| super::fields::parse_duration_value(v).ok())
                        .unwrap_or(default);
                }
                Ok(r.into())
            }
            Op::Create | Op::Update => {
                // The passthrough checks the path first; the cubbyhole the data first.
                let (path_err, data_err) = if cubbyhole {
                    (
                        VaultError::multi(500, "missing path"),
                        VaultError::multi(500, "missing data fields"),
                    )
                } else {
                    (
                        VaultError::bad("missing path"),
                        VaultError::bad("missing data fields"),
                    )
                };
                match (rel.is_empty(), cx.input.is_empty()) {
                    (_, true) if cubbyhole => return Err(data_err),
                    (true, _) => return Err(path_err),
                    (_, true) => return Err(data_err),
                    _ => {}
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
    custom_metadata: BTreeMap<String, String>,
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
    fn new(now: SystemTime) -> Self {
        Self {
            versions: BTreeMap::new(),
            current: 0,
            oldest: 0,
            created: now,
            updated: now,
            max_versions: 0,
            cas_required: false,
            delete_version_after: 0,
            custom_metadata: BTreeMap::new(),
        }
    }

    /// The fields a metadata write or patch gave.
    fn set_fields(&mut self, (max_versions, cas_required, dva): MetadataFields) {
        if let Some(v) = max_versions {
            self.max_versions = v;
        }
        if let Some(v) = cas_required {
            self.cas_required = v;
        }
        if let Some(v) = dva {
            self.delete_version_after = v;
        }
    }

    /// A protobuf map: an empty one reads back as `null`.
    fn custom_metadata(&self) -> Option<&BTreeMap<String, String>> {
        (!self.custom_metadata.is_empty()).then_some(&self.custom_metadata)
    }

    fn version_meta(&self, n: i64) -> Value {
        let v = &self.versions[&n];
        json!({
            "created_time": rfc3339_nano(v.created),
            "custom_metadata": self.custom_metadata(),
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

/// `versions`, a `TypeCommaIntSlice`: a string (or number) split at commas with nothing
/// trimmed, a list decoded item by item (mapstructure's weak ints), failures gathered as
/// mapstructure's `N error(s) decoding:` list; none at all is `message`.
fn versions_arg(input: &Input, message: &str) -> Result<Vec<i64>, VaultError> {
    let Some(raw) = input.raw("versions") else {
        return Err(VaultError::bad(message));
    };
    let items: Vec<Value> = match raw {
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::String(s) => s.split(',').map(|p| Value::String(p.to_owned())).collect(),
        Value::Number(n) => n
            .to_string()
            .split(',')
            .map(|p| Value::String(p.to_owned()))
            .collect(),
        Value::Array(a) => a.clone(),
        Value::Object(o) if o.is_empty() => Vec::new(),
        other => vec![other.clone()],
    };
    let mut out = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match super::fields::weak::int(item) {
            Ok(n) => out.push(n),
            Err(e) => errors.push(format!(
                "* {}",
                e.replacen("'' ", &format!("'[{i}]' "), 1).replacen(
                    "cannot parse ''",
                    &format!("cannot parse '[{i}]'"),
                    1
                )
            )),
        }
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(VaultError::field(
            super::go_fmt::go_value(raw),
            "versions",
            format!(
                "{} error(s) decoding:\n\n{}",
                errors.len(),
                errors.join("\n")
            ),
        ));
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
    /// The upgrade of a version 1 mount (`options.version` tuned to 2): each entry becomes
    /// version 1 of its key, made `now`.
    pub fn upgraded(v1: &Kv1, now: SystemTime) -> Self {
        let mut kv = Self::default();
        for (key, data) in &v1.entries {
            let mut m = KeyMeta::new(now);
            m.current = 1;
            m.versions.insert(
                1,
                Version {
                    data: Some(data.clone()),
                    created: now,
                    deletion: None,
                    destroyed: false,
                },
            );
            kv.keys.insert(key.clone(), m);
        }
        kv
    }

    /// Existence check: does the key have metadata?
    pub fn exists(&self, rel: &str) -> Option<bool> {
        let (head, key) = rel.split_once('/')?;
        match head {
            "data" | "metadata" if !key.is_empty() => Some(self.keys.contains_key(key)),
            _ => None,
        }
    }

    /// `AddVersion`: the larger of the key's and the mount's setting, 10 when neither is set.
    fn max_versions(&self, m: &KeyMeta) -> i64 {
        match m.max_versions.max(self.config.max_versions) {
            n if n > 0 => n,
            _ => 10,
        }
    }

    /// `deletionTime`: the smaller non-zero of the mount's and the key's `delete_version_after`
    /// from `from`; none when both are zero or the mount's is disabled (negative).
    fn deletion_time(&self, m: &KeyMeta, from: SystemTime) -> Option<SystemTime> {
        let mount = self.config.delete_version_after;
        if mount < 0 {
            return None;
        }
        let after = match (mount, m.delete_version_after) {
            (0, 0) => return None,
            (0, key) => key,
            (mount, 0) => mount,
            (mount, key) => mount.min(key),
        };
        Some(add_secs(from, after))
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
            "data" | "metadata" | "delete" | "undelete" | "destroy" | "subkeys"
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
            ("subkeys", Op::Read | Op::Head) => self.subkeys(cx, key),
            ("data", Op::Create | Op::Update) => {
                let data = match cx.input.raw("data") {
                    None => return Err(VaultError::bad("no data provided")),
                    Some(raw) => type_map(raw, "data")?,
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
                    "custom_metadata": m.custom_metadata(),
                    "delete_version_after": go_duration(m.delete_version_after),
                    "max_versions": m.max_versions,
                    "oldest_version": m.oldest,
                    "updated_time": rfc3339_nano(m.updated),
                    "versions": versions,
                }))
                .into())
            }
            ("metadata", Op::Create | Op::Update) => self.metadata_write(cx, key),
            ("metadata", Op::Patch) => self.metadata_patch(cx, key),
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
                if let Some(m) = self.keys.get(key) {
                    // The deletion timer starts again from now.
                    let deletion = self.deletion_time(m, cx.now);
                    let m = self.keys.get_mut(key).expect("checked above");
                    for n in versions {
                        if let Some(v) = m.versions.get_mut(&n) {
                            if !v.destroyed {
                                v.deletion = deletion;
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
            // A negative delete_version_after disables it on every key (stored as -1s).
            Op::Create | Op::Update => {
                if let Some(v) = cx.input.int("max_versions")? {
                    self.config.max_versions = v;
                }
                if let Some(v) = cx.input.bool("cas_required")? {
                    self.config.cas_required = v;
                }
                if let Some(v) = cx.input.signed_duration("delete_version_after")? {
                    self.config.delete_version_after = v.max(-1);
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
        let (v, metadata) = match self.live_version(cx, key, version, "data")? {
            Ok(found) => found,
            Err(gone) => return Ok(gone),
        };
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
        self.check_cas(key, cas)?;
        let m = self
            .keys
            .entry(key.to_owned())
            .or_insert_with(|| KeyMeta::new(now));
        let n = m.current + 1;
        let m = &self.keys[key];
        let (deletion, keep) = (self.deletion_time(m, now), self.max_versions(m));
        let m = self.keys.get_mut(key).expect("just made");
        m.versions.insert(
            n,
            Version {
                data: Some(data),
                created: now,
                deletion,
                destroyed: false,
            },
        );
        m.current = n;
        m.updated = now;
        // AddVersion: `oldest_version` stays 0 until the first prune.
        if m.current - m.oldest >= keep {
            let last_dropped = m.current - keep;
            m.versions.retain(|v, _| *v > last_dropped);
            m.oldest = last_dropped + 1;
        }
        Ok(Resp::data(m.version_meta(n)).into())
    }

    /// `pathMetadataWrite`: nothing to do without one of its four fields (204, no key made);
    /// custom metadata validated first; a warning when the mount mandates CAS.
    fn metadata_write(&mut self, cx: &Ctx<'_>, key: &str) -> Result<Reply, VaultError> {
        let i = cx.input;
        let (max_versions, cas_required, dva) = metadata_fields(i)?;
        let custom = match i.raw("custom_metadata") {
            None => None,
            Some(raw) => Some(custom_metadata(raw, false)?),
        };
        if max_versions.is_none() && cas_required.is_none() && dva.is_none() && custom.is_none() {
            return Ok(Reply::NoContent);
        }
        let warnings = self.cas_warning(cas_required);
        let now = cx.now;
        let m = self
            .keys
            .entry(key.to_owned())
            .or_insert_with(|| KeyMeta::new(now));
        m.set_fields((max_versions, cas_required, dva));
        if let Some(c) = custom {
            m.custom_metadata = c;
        }
        Ok(Reply::with_warnings(warnings))
    }

    /// `pathMetadataPatch`: a JSON merge patch of the stored metadata (custom metadata merged
    /// key by key, `null` removing one); a missing key is a 404 with an empty body.
    fn metadata_patch(&mut self, cx: &Ctx<'_>, key: &str) -> Result<Reply, VaultError> {
        let i = cx.input;
        let custom = match i.raw("custom_metadata") {
            None => None,
            Some(raw) => Some((custom_metadata(raw, true)?, raw.clone())),
        };
        let (max_versions, cas_required, dva) = metadata_fields(i)?;
        if !self.keys.contains_key(key) {
            return Ok(Reply::Status(404));
        }
        let warnings = self.cas_warning(cas_required);
        let m = self.keys.get_mut(key).expect("checked above");
        m.set_fields((max_versions, cas_required, dva));
        if let Some((set, raw)) = custom {
            for (k, v) in type_map(&raw, "custom_metadata")? {
                if v.is_null() {
                    m.custom_metadata.remove(&k);
                }
            }
            m.custom_metadata.extend(set);
        }
        Ok(Reply::with_warnings(warnings))
    }

    fn cas_warning(&self, cas_required: Option<bool>) -> Vec<String> {
        if cas_required == Some(false) && self.config.cas_required {
            return vec!["\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.".into()];
        }
        Vec::new()
    }

    /// The version a read asks for (`version` above 0, else the current one) with its metadata;
    /// a missing one is 404 `{"errors":[]}`, a deleted or destroyed one the raw 404 envelope
    /// with `field: null` and the metadata.
    fn live_version(
        &self,
        cx: &Ctx<'_>,
        key: &str,
        version: i64,
        field: &str,
    ) -> Result<Result<(&Version, Value), Reply>, VaultError> {
        let m = self.keys.get(key).ok_or_else(VaultError::not_found)?;
        let n = if version > 0 { version } else { m.current };
        let v = m.versions.get(&n).ok_or_else(VaultError::not_found)?;
        let metadata = m.version_meta(n);
        if v.destroyed || v.is_deleted(cx.now) {
            return Ok(Err(raw_404(
                Some(json!({ field: null, "metadata": metadata })),
                None,
            )));
        }
        Ok(Ok((v, metadata)))
    }

    /// `pathSubkeysRead`: the version's keys with every leaf `null`, nested maps down to
    /// `depth` (0: all).
    fn subkeys(&self, cx: &Ctx<'_>, key: &str) -> Result<Reply, VaultError> {
        let depth = cx.input.int("depth")?.unwrap_or(0);
        let version = cx.input.int("version")?.unwrap_or(0);
        let (v, metadata) = match self.live_version(cx, key, version, "subkeys")? {
            Ok(found) => found,
            Err(gone) => return Ok(gone),
        };
        let mut data = v.data.clone().unwrap_or_default();
        strip_values(&mut data, depth, 1);
        Ok(Resp::data(json!({ "subkeys": data, "metadata": metadata })).into())
    }

    /// `validateCheckAndSetOption`.
    fn check_cas(&self, key: &str, cas: Option<i64>) -> Result<(), VaultError> {
        let meta = self.keys.get(key);
        match cas {
            Some(c) if c != meta.map_or(0, |m| m.current) => Err(VaultError::bad(
                "check-and-set parameter did not match the current version",
            )),
            Some(_) => Ok(()),
            None if self.config.cas_required || meta.is_some_and(|m| m.cas_required) => Err(
                VaultError::bad("check-and-set parameter required for this call"),
            ),
            None => Ok(()),
        }
    }

    fn patch(&mut self, cx: &Ctx<'_>, key: &str) -> Result<Reply, VaultError> {
        let patch = match cx.input.raw("data") {
            Some(raw) => Value::Object(type_map(raw, "data")?),
            None => return Err(VaultError::bad("no data provided")),
        };
        let Some(m) = self.keys.get(key) else {
            // UNVERIFIED: reference/vault-core.md §5.1 (PATCH of an absent key: 404, empty body)
            return Ok(Reply::Status(404));
        };
        // pathDataPatch: the check-and-set option before the current version is looked at.
        let cas = cas_arg(cx.input)?;
        self.check_cas(key, cas)?;
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

/// The metadata endpoint's `max_versions`, `cas_required` and `delete_version_after`: given at
/// all (`null` included, as `GetOk` sees it) or not; `null` is the zero value.
type MetadataFields = (Option<i64>, Option<bool>, Option<i64>);

fn metadata_fields(i: &Input) -> Result<MetadataFields, VaultError> {
    let null = |k: &str| i.given(k).is_some_and(Value::is_null);
    let max_versions = if null("max_versions") {
        Some(0)
    } else {
        i.int("max_versions")?
    };
    let cas_required = if null("cas_required") {
        Some(false)
    } else {
        i.bool("cas_required")?
    };
    let dva = if null("delete_version_after") {
        Some(0)
    } else {
        i.duration("delete_version_after")?
    };
    Ok((max_versions, cas_required, dva))
}

/// `removeValues`: leaves become `null`; a non-empty map below `max_depth` (0: no limit) is
/// walked, anything else at the limit becomes `null` too.
fn strip_values(map: &mut Map<String, Value>, max_depth: i64, depth: i64) {
    for v in map.values_mut() {
        match v {
            Value::Object(inner) if !inner.is_empty() && (max_depth == 0 || depth < max_depth) => {
                strip_values(inner, max_depth, depth + 1);
            }
            other => *other = Value::Null,
        }
    }
}

/// `parseCustomMetadata` then `validateCustomMetadata`: a map (`TypeMap`) whose values are
/// weakly decoded into strings (`null` left out on a PATCH), then at most 64 keys, each key
/// 1–128 bytes and each value 1–512, printable; every failure listed (keys in order).
fn custom_metadata(raw: &Value, patch: bool) -> Result<BTreeMap<String, String>, VaultError> {
    const PREFIX: &str = "custom_metadata validation failed";
    let o = type_map(raw, "custom_metadata")?;
    let mut out = BTreeMap::new();
    for (k, v) in &o {
        if patch && v.is_null() {
            continue;
        }
        let s = super::fields::weak::string(v)
            .map_err(|e| VaultError::bad(format!("{PREFIX}: {e}")))?;
        out.insert(k.clone(), s);
    }
    let mut errors = Vec::new();
    if out.len() > 64 {
        errors.push(format!(
            "{PREFIX}: payload must contain at most 64 keys, provided {}",
            out.len()
        ));
    } else {
        // strutil.Printable is unicode.IsPrint on every rune; control characters are what
        // a client would send in practice (other non-printing runes are not checked).
        let printable = |s: &str| !s.chars().any(|c| c.is_control());
        for (k, v) in &out {
            let q = super::go_fmt::go_quote(k);
            if k.is_empty() || k.len() > 128 {
                errors.push(format!(
                    "{PREFIX}: length of key {q} is {} but must be 0 < len(key) <= 128",
                    k.len()
                ));
            }
            if v.is_empty() || v.len() > 512 {
                errors.push(format!(
                    "{PREFIX}: length of value for key {q} is {} but must be 0 < len(value) <= 512",
                    v.len()
                ));
            }
            if !printable(k) {
                errors.push(format!(
                    "{PREFIX}: key {q} ({k}) contains unprintable characters"
                ));
            }
            if !printable(v) {
                errors.push(format!(
                    "{PREFIX}: value for key {q} contains unprintable characters"
                ));
            }
        }
    }
    if errors.is_empty() {
        return Ok(out);
    }
    let refs: Vec<&str> = errors.iter().map(String::as_str).collect();
    Err(VaultError::bad(super::error::multierror(&refs)))
}

/// A `TypeMap` field: an object; a list is decoded element by element into one map
/// (mapstructure's `decodeMapFromSlice`: `[]` is the empty map, the first element that is no
/// map fails as `'[i]' expected a map, got 'kind'`); anything else `'' expected a map, …`.
fn type_map(raw: &Value, field: &str) -> Result<Map<String, Value>, VaultError> {
    let fail = |name: String, v: &Value| {
        VaultError::field(
            super::go_fmt::go_value(raw),
            field,
            format!("'{name}' expected a map, got '{}'", go_kind(v)),
        )
    };
    match raw {
        Value::Object(o) => Ok(o.clone()),
        Value::Array(a) => {
            let mut out = Map::new();
            for (i, item) in a.iter().enumerate() {
                match item {
                    Value::Object(o) => out.extend(o.iter().map(|(k, v)| (k.clone(), v.clone()))),
                    other => return Err(fail(format!("[{i}]"), other)),
                }
            }
            Ok(out)
        }
        other => Err(fail(String::new(), other)),
    }
}

/// The kind mapstructure names when a map was expected.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Array(_) => "slice",
        _ => "string",
    }
}

/// `options.cas`: `options` a map (`TypeMap`), `cas` weakly decoded to an int when present at
/// all (`null` is 0, `true` is 1; `" 1"` or `1.0` do not parse).
fn cas_arg(input: &Input) -> Result<Option<i64>, VaultError> {
    let Some(options) = input.raw("options") else {
        return Ok(None);
    };
    let options = type_map(options, "options")?;
    let Some(cas) = options.get("cas") else {
        return Ok(None);
    };
    super::fields::weak::int(cas)
        .map(Some)
        .map_err(|_| VaultError::bad("error parsing check-and-set parameter"))
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
