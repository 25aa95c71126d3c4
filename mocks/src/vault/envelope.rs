//! Vault's success envelope (reference vault-core.md §1.2): `request_id`, `lease_id`, `renewable`,
//! `lease_duration`, `data`, `wrap_info`, `warnings`, `auth`, `mount_type` in that order; `data`
//! keys sorted (Go maps); the `auth` block in `logical.HTTPAuth` order.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::Response;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::error::json_response;

/// What a handler answers when it succeeds.
#[derive(Debug)]
pub enum Reply {
    /// No response: 204 with an empty body (still `application/json`).
    NoContent,
    /// A response put in the envelope.
    Envelope(Box<Resp>),
    /// A status with an empty body (KV's PATCH of an absent key, an async lease revoke).
    Status(u16),
    /// A raw body with its own status (sys/health, seal-status, init); trailing newline.
    Raw { status: u16, body: Value },
}

/// The parts of `logical.Response` that reach the wire.
#[derive(Debug, Default, Clone)]
pub struct Resp {
    pub data: Option<Value>,
    pub auth: Option<AuthBlock>,
    pub warnings: Vec<String>,
    pub lease_id: String,
    pub lease_duration: i64,
    pub renewable: bool,
    /// Status other than 200 for an envelope body (KV v2's deleted-version 404).
    pub status: Option<u16>,
    /// Written without the trailing newline and without `mount_type`
    /// (`logical.RespondWithStatusCode`, KV's raw 404s).
    pub raw_status_body: bool,
    /// Copy every `data` key to the top level (`injectDataIntoTopRoutes`).
    pub inject_top: bool,
}

impl Resp {
    pub fn data(data: Value) -> Self {
        Self {
            data: Some(data),
            ..Self::default()
        }
    }

    /// `data: {"keys": [...]}`.
    pub fn list(keys: Vec<String>) -> Self {
        Self::data(json!({ "keys": keys }))
    }

    pub fn warning(mut self, w: impl Into<String>) -> Self {
        self.warnings.push(w.into());
        self
    }

    pub fn injected(mut self) -> Self {
        self.inject_top = true;
        self
    }
}

impl Reply {
    /// What a write answers: nothing (204), or its warnings in the envelope (200).
    pub fn with_warnings(warnings: Vec<String>) -> Self {
        if warnings.is_empty() {
            return Self::NoContent;
        }
        Resp {
            warnings,
            ..Resp::default()
        }
        .into()
    }
}

impl From<Resp> for Reply {
    fn from(r: Resp) -> Self {
        Reply::Envelope(Box::new(r))
    }
}

/// `logical.HTTPAuth`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthBlock {
    pub client_token: String,
    pub accessor: String,
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    pub identity_policies: Vec<String>,
    /// Shared with the token entry: a login's metadata is stored once.
    pub metadata: Option<Arc<BTreeMap<String, String>>>,
    pub lease_duration: i64,
    pub renewable: bool,
    pub entity_id: String,
    pub token_type: String,
    pub orphan: bool,
    pub num_uses: i64,
}

impl AuthBlock {
    /// The block as a JSON value; [`Serialize`] writes the same object without building it.
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("client_token".into(), json!(self.client_token));
        m.insert("accessor".into(), json!(self.accessor));
        m.insert("policies".into(), json!(self.policies));
        if !self.token_policies.is_empty() {
            m.insert("token_policies".into(), json!(self.token_policies));
        }
        if !self.identity_policies.is_empty() {
            m.insert("identity_policies".into(), json!(self.identity_policies));
        }
        m.insert("metadata".into(), json!(self.metadata.as_deref()));
        m.insert("lease_duration".into(), json!(self.lease_duration));
        m.insert("renewable".into(), json!(self.renewable));
        m.insert("entity_id".into(), json!(self.entity_id));
        m.insert("token_type".into(), json!(self.token_type));
        m.insert("orphan".into(), json!(self.orphan));
        m.insert("mfa_requirement".into(), Value::Null);
        m.insert("num_uses".into(), json!(self.num_uses));
        Value::Object(m)
    }
}

impl Serialize for AuthBlock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("client_token", &self.client_token)?;
        m.serialize_entry("accessor", &self.accessor)?;
        m.serialize_entry("policies", &self.policies)?;
        if !self.token_policies.is_empty() {
            m.serialize_entry("token_policies", &self.token_policies)?;
        }
        if !self.identity_policies.is_empty() {
            m.serialize_entry("identity_policies", &self.identity_policies)?;
        }
        m.serialize_entry("metadata", &self.metadata.as_deref())?;
        m.serialize_entry("lease_duration", &self.lease_duration)?;
        m.serialize_entry("renewable", &self.renewable)?;
        m.serialize_entry("entity_id", &self.entity_id)?;
        m.serialize_entry("token_type", &self.token_type)?;
        m.serialize_entry("orphan", &self.orphan)?;
        m.serialize_entry("mfa_requirement", &())?;
        m.serialize_entry("num_uses", &self.num_uses)?;
        m.end()
    }
}

/// Writes a value with every object's keys sorted, as [`sorted`] does, without copying it.
struct SortedRef<'a>(&'a Value);

impl Serialize for SortedRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut out = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    out.serialize_entry(k, &SortedRef(v))?;
                }
                out.end()
            }
            Value::Array(a) => {
                let mut out = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    out.serialize_element(&SortedRef(v))?;
                }
                out.end()
            }
            other => other.serialize(s),
        }
    }
}

/// The envelope written straight from a [`Resp`] (the hot path of every login): the same bytes
/// as [`envelope_json`] for a response without `inject_top`.
struct EnvelopeRef<'a> {
    resp: &'a Resp,
    request_id: &'a str,
    mount_type: Option<&'a str>,
}

impl Serialize for EnvelopeRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.resp;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("request_id", self.request_id)?;
        m.serialize_entry("lease_id", &r.lease_id)?;
        m.serialize_entry("renewable", &r.renewable)?;
        m.serialize_entry("lease_duration", &r.lease_duration)?;
        m.serialize_entry("data", &r.data.as_ref().map(SortedRef))?;
        m.serialize_entry("wrap_info", &())?;
        let warnings = (!r.warnings.is_empty()).then_some(&r.warnings);
        m.serialize_entry("warnings", &warnings)?;
        m.serialize_entry("auth", &r.auth)?;
        if let Some(t) = self.mount_type {
            m.serialize_entry("mount_type", t)?;
        }
        m.end()
    }
}

/// The envelope's bytes: written directly unless data keys are copied to the top level (rare,
/// and where a data key may share a name with an envelope key, so the object is built first).
fn envelope_text(resp: &Resp, request_id: &str, mount_type: Option<&str>) -> String {
    if resp.inject_top {
        return envelope_json(resp, request_id, mount_type).to_string();
    }
    let env = EnvelopeRef {
        resp,
        request_id,
        mount_type,
    };
    // Serialising strings, numbers and maps with string keys into memory cannot fail.
    serde_json::to_string(&env).unwrap_or_default()
}

/// Sorts every object's keys, as Go prints `map[string]interface{}`.
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The envelope's JSON object.
pub fn envelope_json(resp: &Resp, request_id: &str, mount_type: Option<&str>) -> Value {
    let data = resp.data.clone().map(sorted);
    let mut m = Map::new();
    if resp.inject_top {
        if let Some(Value::Object(d)) = &data {
            for (k, v) in d {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    m.insert("request_id".into(), json!(request_id));
    m.insert("lease_id".into(), json!(resp.lease_id));
    m.insert("renewable".into(), json!(resp.renewable));
    m.insert("lease_duration".into(), json!(resp.lease_duration));
    m.insert("data".into(), data.unwrap_or(Value::Null));
    m.insert("wrap_info".into(), Value::Null);
    m.insert(
        "warnings".into(),
        if resp.warnings.is_empty() {
            Value::Null
        } else {
            json!(resp.warnings)
        },
    );
    m.insert(
        "auth".into(),
        resp.auth.as_ref().map_or(Value::Null, AuthBlock::to_json),
    );
    if let Some(t) = mount_type {
        m.insert("mount_type".into(), json!(t));
    }
    Value::Object(m)
}

/// Renders a reply with Vault's headers.
pub fn render(reply: Reply, request_id: &str, mount_type: Option<&str>) -> Response {
    match reply {
        Reply::NoContent => json_response(204, String::new()),
        Reply::Status(s) => json_response(s, String::new()),
        Reply::Raw { status, body } => json_response(status, body.to_string() + "\n"),
        Reply::Envelope(resp) => {
            let status = resp.status.unwrap_or(200);
            if resp.raw_status_body {
                // `logical.RespondWithStatusCode` marshals the response inside the backend, before
                // the router sets its mount type: Vaults whose envelope has `mount_type` (1.15 on)
                // write it empty here (Vault's approle test `TestAppRoleSecretIDLookup`
                // asserts such a body). Reference vault-core.md §5.1 left this UNVERIFIED.
                json_response(
                    status,
                    envelope_text(&resp, request_id, mount_type.map(|_| "")),
                )
            } else {
                let mut body = envelope_text(&resp, request_id, mount_type);
                body.push('\n');
                json_response(status, body)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_keys_come_in_vaults_order_with_injected_data_first() {
        let r = Resp::data(json!({"b": 1, "a": {"z": 1, "y": 2}})).injected();
        let v = envelope_json(&r, "rid", Some("system"));
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "a",
                "b",
                "request_id",
                "lease_id",
                "renewable",
                "lease_duration",
                "data",
                "wrap_info",
                "warnings",
                "auth",
                "mount_type"
            ]
        );
        assert_eq!(v["data"].to_string(), r#"{"a":{"y":2,"z":1},"b":1}"#);
    }

    #[test]
    fn written_envelope_is_the_built_one_byte_for_byte() {
        let meta: BTreeMap<String, String> = [("role", "app"), ("account_id", "1")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let auth = AuthBlock {
            client_token: "hvs.x".into(),
            accessor: "acc".into(),
            policies: vec!["app".into(), "default".into()],
            token_policies: vec!["app".into(), "default".into()],
            metadata: Some(Arc::new(meta)),
            lease_duration: 2764800,
            renewable: true,
            entity_id: "e".into(),
            token_type: "service".into(),
            num_uses: 0,
            ..AuthBlock::default()
        };
        let with_auth = Resp {
            auth: Some(auth.clone()),
            ..Resp::default()
        };
        let no_meta = Resp {
            auth: Some(AuthBlock {
                metadata: None,
                identity_policies: vec!["i".into()],
                ..auth
            }),
            warnings: vec!["w <1> & \"q\"".into()],
            lease_id: "auth/x/login/abc".into(),
            lease_duration: 60,
            renewable: true,
            ..Resp::default()
        };
        let data = Resp::data(json!({"z": [{"b": 1, "a": null}], "a": {"y": "ü", "x": 1.5}}));
        let raw = Resp {
            status: Some(404),
            raw_status_body: true,
            ..Resp::data(json!({"versions": {}}))
        };
        for (resp, mount) in [
            (with_auth, Some("aws")),
            (no_meta, None),
            (data, Some("kv")),
            (raw, None),
            (Resp::default(), Some("system")),
        ] {
            assert_eq!(
                envelope_text(&resp, "rid", mount),
                envelope_json(&resp, "rid", mount).to_string()
            );
        }
    }
}
