//! Vault's success envelope (reference vault-core.md §1.2): `request_id`, `lease_id`, `renewable`,
//! `lease_duration`, `data`, `wrap_info`, `warnings`, `auth`, `mount_type` in that order; `data`
//! keys sorted (Go maps); the `auth` block in `logical.HTTPAuth` order.

use axum::response::Response;
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
    pub metadata: Option<std::collections::BTreeMap<String, String>>,
    pub lease_duration: i64,
    pub renewable: bool,
    pub entity_id: String,
    pub token_type: String,
    pub orphan: bool,
    pub num_uses: i64,
}

impl AuthBlock {
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
        m.insert("metadata".into(), json!(self.metadata));
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
                // UNVERIFIED: reference/vault-core.md §5.1 (whether newer builds add "mount_type":"" here)
                json_response(status, envelope_json(&resp, request_id, None).to_string())
            } else {
                json_response(
                    status,
                    envelope_json(&resp, request_id, mount_type).to_string() + "\n",
                )
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
}
