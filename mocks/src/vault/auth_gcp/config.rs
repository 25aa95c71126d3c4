//! `auth/<mount>/config` (reference gcp.md 3.1, 3.2).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::fields::{go_quote, Fields};
use super::{bad_request, VaultResult};
use crate::vault::backend::BackendResponse;
use crate::vault::go_fmt::{go_json_syntax_error, go_json_type_error};

/// `iam_metadata` fields, in Vault's default set (reference gcp.md 1.7).
pub(crate) const IAM_METADATA_FIELDS: &[&str] = &[
    "project_id",
    "role",
    "service_account_id",
    "service_account_email",
];
/// `gce_metadata` fields, in Vault's default set (reference gcp.md 2.2).
pub(crate) const GCE_METADATA_FIELDS: &[&str] = &[
    "instance_creation_timestamp",
    "instance_id",
    "instance_name",
    "project_id",
    "project_number",
    "role",
    "service_account_id",
    "service_account_email",
    "zone",
];
const ENDPOINT_KEYS: &[&str] = &["api", "iam", "crm", "compute"];
/// The config path's fields; any other is refused (`validateFields`).
const CONFIG_FIELDS: &[&str] = &[
    "credentials",
    "iam_alias",
    "iam_metadata",
    "gce_alias",
    "gce_metadata",
    "custom_endpoint",
    "google_certs_endpoint",
    "service_account_email",
    "identity_token_audience",
    "identity_token_ttl",
    "rotation_period",
    "rotation_schedule",
    "rotation_window",
    "disable_automated_rotation",
];

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
            iam_alias: String::new(),
            iam_metadata: IAM_METADATA_FIELDS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            gce_alias: String::new(),
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
    // `gcputil.Credentials`: encoding/json into the key-file struct, wrapped by `Update`.
    let v: Value = match serde_json::from_str(raw) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => {
            return Err(bad_request(format!(
                "failed to read credentials: {}",
                go_json_type_error(&other, "gcputil.GcpCredentials")
            )))
        }
        Err(e) => {
            return Err(bad_request(format!(
                "failed to read credentials: {}",
                go_json_syntax_error(raw.as_bytes(), &e)
            )))
        }
    };
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

/// `authmetadata.ParseAuthMetadata` (every field is a default one; `default` alone, the
/// defaults), wrapped as the plugin's `Update` wraps it.
fn parse_metadata(
    f: &Fields<'_>,
    name: &str,
    defaults: &[&str],
) -> VaultResult<Option<Vec<String>>> {
    let Some(list) = f.string_list(name)? else {
        return Ok(None);
    };
    let kind = name.trim_end_matches("_metadata");
    match crate::vault::fields::auth_metadata(&list, defaults, &[]) {
        Ok(Some(l)) => Ok(Some(l)),
        Ok(None) => Ok(Some(defaults.iter().map(|s| (*s).to_owned()).collect())),
        Err(e) => Err(bad_request(format!("failed to parse {kind} metadata: {e}"))),
    }
}

/// `POST|PUT config`.
pub(crate) fn write(current: &Config, data: &Map<String, Value>) -> VaultResult<Config> {
    super::role::reject_unknown(data, &[CONFIG_FIELDS])?;
    let f = Fields::new(data);
    let mut c = current.clone();
    if let Some(raw) = f.string("credentials")? {
        // An empty string goes back to Application Default Credentials (plugin GH-132).
        c.credentials = if raw.is_empty() {
            None
        } else {
            Some(parse_credentials(&raw)?)
        };
    }
    // Checked at login, not here (reference gcp.md 3.1); empty means `role_id` there.
    if let Some(v) = f.string("iam_alias")? {
        c.iam_alias = v;
    }
    if let Some(v) = f.string("gce_alias")? {
        c.gce_alias = v;
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
        // Only the keys given change (`gcpConfig.Update`).
        c.custom_endpoint.extend(endpoints);
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

/// `GET config` (`pathConfigRead`): the metadata lists always, everything else only when set,
/// and the plugin identity-token and rotation fields.
pub(crate) fn read(c: &Config) -> BackendResponse {
    let mut m = Map::new();
    m.insert("gce_metadata".into(), json!(c.gce_metadata));
    m.insert("iam_metadata".into(), json!(c.iam_metadata));
    let mut set = |k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    if let Some(cr) = &c.credentials {
        set("client_email", &cr.client_email);
        set("client_id", &cr.client_id);
        set("private_key_id", &cr.private_key_id);
        set("project_id", &cr.project_id);
    }
    set("iam_alias", &c.iam_alias);
    set("gce_alias", &c.gce_alias);
    set("service_account_email", &c.service_account_email);
    let endpoints: Map<String, Value> = c
        .custom_endpoint
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if !endpoints.is_empty() {
        m.insert("custom_endpoint".into(), Value::Object(endpoints));
    }
    // `PopulatePluginIdentityTokenData`, `PopulateAutomatedRotationData` (rotation is not
    // modelled: its fields read as never set).
    m.insert(
        "identity_token_audience".into(),
        json!(c.identity_token_audience),
    );
    m.insert("identity_token_ttl".into(), json!(c.identity_token_ttl));
    m.insert("rotation_schedule".into(), json!(""));
    m.insert("rotation_window".into(), json!(0));
    m.insert("rotation_period".into(), json!(0));
    m.insert("disable_automated_rotation".into(), json!(false));
    BackendResponse::Data {
        data: Value::Object(m),
        warnings: Vec::new(),
    }
}
