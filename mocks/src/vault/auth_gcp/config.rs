//! `auth/<mount>/config` (reference gcp.md 3.1, 3.2).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::fields::{dedupe, go_quote, Fields};
use super::{bad_request, VaultResult};
use crate::vault::backend::BackendResponse;

/// `iam_metadata` fields, in Vault's default set (reference gcp.md 1.7).
pub(crate) const IAM_METADATA_FIELDS: &[&str] = &[
    "project_id",
    "role",
    "service_account_email",
    "service_account_id",
];
/// `gce_metadata` fields, in Vault's default set (reference gcp.md 2.2).
pub(crate) const GCE_METADATA_FIELDS: &[&str] = &[
    "instance_creation_timestamp",
    "instance_id",
    "instance_name",
    "project_id",
    "project_number",
    "role",
    "service_account_email",
    "service_account_id",
    "zone",
];
const ENDPOINT_KEYS: &[&str] = &["api", "iam", "crm", "compute"];

/// The subset of a key file the plugin keeps (`formatAndMarshalCredentials`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) client_email: String,
    pub(crate) client_id: String,
    pub(crate) private_key_id: String,
    pub(crate) private_key: String,
    pub(crate) project_id: String,
    /// Dropped by the real plugin (it then posts to Google's default token endpoint); kept here
    /// so that the mock Vault's own token comes from the mock (DESIGN.md invariant 1).
    pub(crate) token_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) credentials: Option<Credentials>,
    pub(crate) iam_alias: String,
    pub(crate) iam_metadata: Vec<String>,
    pub(crate) gce_alias: String,
    pub(crate) gce_metadata: Vec<String>,
    pub(crate) custom_endpoint: BTreeMap<String, String>,
    pub(crate) service_account_email: String,
    pub(crate) identity_token_audience: String,
    pub(crate) identity_token_ttl: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            credentials: None,
            iam_alias: "role_id".into(),
            iam_metadata: IAM_METADATA_FIELDS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            gce_alias: "role_id".into(),
            gce_metadata: GCE_METADATA_FIELDS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            custom_endpoint: BTreeMap::new(),
            service_account_email: String::new(),
            identity_token_audience: String::new(),
            identity_token_ttl: 0,
        }
    }
}

fn parse_credentials(raw: &str) -> VaultResult<Credentials> {
    let v: Value = serde_json::from_str(raw).map_err(|e| {
        // UNVERIFIED: reference/gcp.md §3.1 names no text for credentials that are not JSON.
        bad_request(format!(
            "error reading google credentials from given JSON: {e}"
        ))
    })?;
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if s("private_key_id").is_empty() {
        return Err(bad_request("missing private key in credentials"));
    }
    Ok(Credentials {
        client_email: s("client_email"),
        client_id: s("client_id"),
        private_key_id: s("private_key_id"),
        private_key: s("private_key"),
        project_id: s("project_id"),
        token_uri: Some(s("token_uri")).filter(|t| !t.is_empty()),
    })
}

/// `authmetadata`: `"default"`, or a list of field names from `available`.
fn parse_metadata(
    f: &Fields<'_>,
    name: &str,
    available: &[&str],
) -> VaultResult<Option<Vec<String>>> {
    let Some(list) = f.string_list(name)? else {
        return Ok(None);
    };
    if list.len() == 1 && list[0] == "default" {
        return Ok(Some(available.iter().map(|s| (*s).to_owned()).collect()));
    }
    for field in &list {
        if !available.contains(&field.as_str()) {
            // UNVERIFIED: authmetadata's wording for an unknown field.
            return Err(bad_request(format!(
                "{} is not an available field, please select from: {}",
                go_quote(field),
                available.join(", ")
            )));
        }
    }
    Ok(Some(dedupe(list)))
}

/// `POST|PUT config`.
pub(crate) fn write(current: &Config, data: &Map<String, Value>) -> VaultResult<Config> {
    let f = Fields::new(data);
    let mut c = current.clone();
    if let Some(raw) = f.string("credentials")? {
        // An empty string goes back to Application Default Credentials (plugin GH-132).
        c.credentials = if raw.trim().is_empty() {
            None
        } else {
            Some(parse_credentials(&raw)?)
        };
    }
    if let Some(v) = f.string("iam_alias")? {
        // Checked at login, not here (reference gcp.md 3.1).
        c.iam_alias = if v.is_empty() { "role_id".into() } else { v };
    }
    if let Some(v) = f.string("gce_alias")? {
        c.gce_alias = if v.is_empty() { "role_id".into() } else { v };
    }
    if let Some(v) = parse_metadata(&f, "iam_metadata", IAM_METADATA_FIELDS)? {
        c.iam_metadata = v;
    }
    if let Some(v) = parse_metadata(&f, "gce_metadata", GCE_METADATA_FIELDS)? {
        c.gce_metadata = v;
    }
    if let Some(endpoints) = f.kv_pairs("custom_endpoint")? {
        for key in endpoints.keys() {
            if !ENDPOINT_KEYS.contains(&key.as_str()) {
                return Err(bad_request(format!(
                    "invalid custom endpoint type {}. Available types are: 'api', 'iam', 'crm', 'compute'",
                    go_quote(key)
                )));
            }
        }
        c.custom_endpoint = endpoints;
    }
    // `google_certs_endpoint` is deprecated and ignored; hvac always sends it.
    f.string("google_certs_endpoint")?;
    if let Some(v) = f.string("service_account_email")? {
        c.service_account_email = v;
    }
    if let Some(v) = f.string("identity_token_audience")? {
        c.identity_token_audience = v;
    }
    if let Some(v) = f.duration_secs("identity_token_ttl")? {
        c.identity_token_ttl = v;
    }
    if c.credentials.is_some() && !c.identity_token_audience.is_empty() {
        return Err(bad_request(
            "only one of 'credentials' or 'identity_token_audience' can be set",
        ));
    }
    if !c.identity_token_audience.is_empty() && c.service_account_email.is_empty() {
        // UNVERIFIED: reference/gcp.md §3.1 says the email is required with an audience, not how.
        return Err(bad_request(
            "missing required 'service_account_email' when 'identity_token_audience' is set",
        ));
    }
    Ok(c)
}

/// `GET config`.
pub(crate) fn read(c: &Config) -> BackendResponse {
    let creds = c.credentials.as_ref();
    let s = |f: fn(&Credentials) -> &String| creds.map(f).cloned().unwrap_or_default();
    let endpoints: Map<String, Value> = c
        .custom_endpoint
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut data = json!({
        "client_email": s(|c| &c.client_email),
        "client_id": s(|c| &c.client_id),
        "private_key_id": s(|c| &c.private_key_id),
        "project_id": s(|c| &c.project_id),
        "iam_alias": c.iam_alias,
        "iam_metadata": c.iam_metadata,
        "gce_alias": c.gce_alias,
        "gce_metadata": c.gce_metadata,
        "service_account_email": c.service_account_email,
        "identity_token_audience": c.identity_token_audience,
        "identity_token_ttl": c.identity_token_ttl,
    });
    if !endpoints.is_empty() {
        data["custom_endpoint"] = Value::Object(endpoints);
    }
    BackendResponse::Data {
        data,
        warnings: Vec::new(),
    }
}
