//! `config/client`, `config/identity`, `config/sts/<account_id>` and
//! `config/certificate/<cert_name>` (reference aws.md §1.11).
//!
//! **Not modelled:** the plugin-WIF and automated-rotation fields of newer Vaults (`role_arn`,
//! `identity_token_*`, `rotation_*`); `config/tidy/*`.

use serde_json::{json, Value};

use super::fields::{self, canonical_header_key, Data};
use crate::vault::backend::VaultError;

/// `X-Amz-*` headers a login may carry without `allowed_sts_header_values` (reference §1.4).
pub(crate) const DEFAULT_ALLOWED_STS_HEADERS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Content-Sha256",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-User-Agent",
];

/// `config/client`.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub access_key: String,
    pub secret_key: String,
    pub endpoint: String,
    pub iam_endpoint: String,
    pub sts_endpoint: String,
    pub sts_region: String,
    pub use_sts_region_from_client: bool,
    pub iam_server_id_header_value: String,
    /// Canonicalised at write time.
    pub allowed_sts_header_values: Vec<String>,
    pub max_retries: i64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            access_key: String::new(),
            secret_key: String::new(),
            endpoint: String::new(),
            iam_endpoint: String::new(),
            sts_endpoint: String::new(),
            sts_region: String::new(),
            use_sts_region_from_client: false,
            iam_server_id_header_value: String::new(),
            allowed_sts_header_values: Vec::new(),
            max_retries: -1,
        }
    }
}

impl ClientConfig {
    /// A write: fields given replace the old ones, the rest stay.
    pub(crate) fn update(&self, data: &Data) -> Result<Self, VaultError> {
        let mut c = self.clone();
        let strings: [(&str, &mut String); 7] = [
            ("access_key", &mut c.access_key),
            ("secret_key", &mut c.secret_key),
            ("endpoint", &mut c.endpoint),
            ("iam_endpoint", &mut c.iam_endpoint),
            ("sts_endpoint", &mut c.sts_endpoint),
            ("sts_region", &mut c.sts_region),
            (
                "iam_server_id_header_value",
                &mut c.iam_server_id_header_value,
            ),
        ];
        for (name, slot) in strings {
            if let Some(v) = fields::string(data, name)? {
                *slot = v;
            }
        }
        if let Some(b) = fields::boolean(data, "use_sts_region_from_client")? {
            c.use_sts_region_from_client = b;
        }
        if let Some(n) = fields::int(data, "max_retries")? {
            c.max_retries = n;
        }
        if let Some(list) = fields::comma_list(data, "allowed_sts_header_values")? {
            c.allowed_sts_header_values = list
                .iter()
                .map(|h| canonical_header_key(h).into_owned())
                .collect();
        }
        Ok(c)
    }

    /// The read: everything but `secret_key`.
    pub(crate) fn to_data(&self) -> Value {
        // UNVERIFIED: an unset allow-list reads as null (a nil Go slice).
        let allowed = if self.allowed_sts_header_values.is_empty() {
            Value::Null
        } else {
            json!(self.allowed_sts_header_values)
        };
        json!({
            "access_key": self.access_key,
            "endpoint": self.endpoint,
            "iam_endpoint": self.iam_endpoint,
            "sts_endpoint": self.sts_endpoint,
            "sts_region": self.sts_region,
            "use_sts_region_from_client": self.use_sts_region_from_client,
            "iam_server_id_header_value": self.iam_server_id_header_value,
            "max_retries": self.max_retries,
            "allowed_sts_header_values": allowed,
        })
    }

    /// Whether a header (canonical key) of the `X-Amz-` family may be forwarded.
    pub(crate) fn header_allowed(&self, canonical: &str) -> bool {
        DEFAULT_ALLOWED_STS_HEADERS
            .iter()
            .any(|h| canonical_header_key(h) == canonical)
            || self
                .allowed_sts_header_values
                .iter()
                .any(|h| h == canonical)
    }

    /// Whether a presigned-URL query parameter (raw key) may be forwarded.
    pub(crate) fn query_param_allowed(&self, raw: &str) -> bool {
        DEFAULT_ALLOWED_STS_HEADERS.contains(&raw)
            || self.allowed_sts_header_values.iter().any(|h| h == raw)
    }
}

pub(crate) const IAM_ALIASES: &[&str] = &["role_id", "unique_id", "full_arn", "canonical_arn"];
pub(crate) const EC2_ALIASES: &[&str] = &["role_id", "instance_id", "image_id"];
pub(crate) const IAM_METADATA: &[&str] = &[
    "account_id",
    "auth_type",
    "canonical_arn",
    "client_arn",
    "client_user_id",
    "inferred_aws_region",
    "inferred_entity_id",
    "inferred_entity_type",
    "inferred_hostname",
];
pub(crate) const EC2_METADATA: &[&str] =
    &["account_id", "ami_id", "auth_type", "instance_id", "region"];
const DEFAULT_METADATA: &[&str] = &["account_id", "auth_type"];

/// `config/identity`.
#[derive(Debug, Clone)]
pub(crate) struct IdentityConfig {
    pub iam_alias: String,
    pub iam_metadata: Vec<String>,
    pub ec2_alias: String,
    pub ec2_metadata: Vec<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            iam_alias: "role_id".into(),
            iam_metadata: DEFAULT_METADATA.iter().map(|s| s.to_string()).collect(),
            ec2_alias: "role_id".into(),
            ec2_metadata: DEFAULT_METADATA.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// `config/identity`'s metadata lists: the sdk's `authmetadata` over the defaults and the
/// fields a login may add.
fn metadata_fields(list: Vec<String>, allowed: &[&str]) -> Result<Vec<String>, VaultError> {
    let available: Vec<&str> = allowed
        .iter()
        .copied()
        .filter(|f| !DEFAULT_METADATA.contains(f))
        .collect();
    match crate::vault::fields::auth_metadata(&list, DEFAULT_METADATA, &available) {
        Ok(Some(l)) => Ok(l),
        Ok(None) => Ok(DEFAULT_METADATA.iter().map(|s| s.to_string()).collect()),
        Err(e) => Err(VaultError::bad_request(e)),
    }
}

impl IdentityConfig {
    pub(crate) fn update(&self, data: &Data) -> Result<Self, VaultError> {
        let mut c = self.clone();
        for (name, slot, allowed) in [
            ("iam_alias", &mut c.iam_alias, IAM_ALIASES),
            ("ec2_alias", &mut c.ec2_alias, EC2_ALIASES),
        ] {
            if let Some(v) = fields::string(data, name)? {
                if !allowed.contains(&v.as_str()) {
                    // UNVERIFIED: the set is printed as Go's `%v` of a []string.
                    return Err(VaultError::bad_request(format!(
                        "{name} of {} not in set of allowed values: [{}]",
                        fields::go_quote(&v),
                        allowed.join(" ")
                    )));
                }
                *slot = v;
            }
        }
        if let Some(list) = fields::comma_list(data, "iam_metadata")? {
            c.iam_metadata = metadata_fields(list, IAM_METADATA)?;
        }
        if let Some(list) = fields::comma_list(data, "ec2_metadata")? {
            c.ec2_metadata = metadata_fields(list, EC2_METADATA)?;
        }
        Ok(c)
    }

    pub(crate) fn to_data(&self) -> Value {
        json!({
            "iam_alias": self.iam_alias,
            "iam_metadata": self.iam_metadata,
            "ec2_alias": self.ec2_alias,
            "ec2_metadata": self.ec2_metadata,
        })
    }
}

/// `config/sts/<account_id>`: the role Vault assumes to act in that account.
#[derive(Debug, Clone, Default)]
pub(crate) struct StsConfig {
    pub sts_role: String,
    pub external_id: String,
}

impl StsConfig {
    /// `pathConfigStsCreateUpdate`: a create needs `sts_role`, and it may never be empty.
    pub(crate) fn update(&self, data: &Data, created: bool) -> Result<Self, VaultError> {
        let mut c = self.clone();
        match fields::string(data, "sts_role")? {
            Some(v) => c.sts_role = v,
            None if created => return Err(VaultError::bad_request("missing sts role")),
            None => {}
        }
        if c.sts_role.is_empty() {
            return Err(VaultError::bad_request("sts role cannot be empty"));
        }
        // `external_id` (reference aws.md, V-new: Vault 1.17).
        if let Some(v) = fields::string(data, "external_id")? {
            c.external_id = v;
        }
        Ok(c)
    }

    pub(crate) fn to_data(&self) -> Value {
        json!({ "sts_role": self.sts_role, "external_id": self.external_id })
    }
}

/// `config/certificate/<cert_name>`: an extra certificate for ec2 identity signatures.
#[derive(Debug, Clone)]
pub(crate) struct CertConfig {
    /// PEM.
    pub aws_public_cert: String,
    /// `pkcs7` or `identity`.
    pub kind: String,
    /// DER of the certificate.
    pub der: Vec<u8>,
}

impl CertConfig {
    pub(crate) fn update(old: Option<&Self>, data: &Data) -> Result<Self, VaultError> {
        use base64::Engine;
        let kind = match fields::string(data, "type")? {
            Some(t) => t,
            None => old.map_or_else(|| "pkcs7".to_owned(), |o| o.kind.clone()),
        };
        if kind != "pkcs7" && kind != "identity" {
            // UNVERIFIED: wording of an invalid certificate type.
            return Err(VaultError::bad_request(format!(
                "invalid certificate type {}",
                fields::go_quote(&kind)
            )));
        }
        let raw = match fields::string(data, "aws_public_cert")? {
            Some(c) => c,
            None => match old {
                Some(o) => o.aws_public_cert.clone(),
                None => return Err(VaultError::bad_request("missing aws_public_cert")),
            },
        };
        // Base64 of a PEM, or the PEM itself.
        let pem = base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| s.contains("-----BEGIN"))
            .unwrap_or(raw);
        // UNVERIFIED: wording of an unparseable certificate.
        let der = pem_to_der(&pem)
            .ok_or_else(|| VaultError::bad_request("failed to parse the certificate"))?;
        Ok(Self {
            aws_public_cert: pem,
            kind,
            der,
        })
    }

    pub(crate) fn to_data(&self) -> Value {
        json!({ "aws_public_cert": self.aws_public_cert, "type": self.kind })
    }
}

/// The DER inside a `CERTIFICATE` PEM block, if it decodes as X.509.
fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use cms::cert::x509::der::Decode;
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = pem[start..].find("-----END CERTIFICATE-----")? + start;
    let b64: String = pem[start..end].split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    cms::cert::x509::Certificate::from_der(&der).ok()?;
    Some(der)
}
