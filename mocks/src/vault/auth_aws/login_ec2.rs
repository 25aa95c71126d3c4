//! `login` with the `ec2` method (reference aws.md §3): an instance identity document signed by
//! AWS — `pkcs7` (PKCS#7 SignedData) or `identity` + `signature` (SHA256-RSA) — verified against
//! the certificates registered at `config/certificate/<name>`, then the instance described with
//! `DescribeInstances`, the role's bindings, and the nonce rules of the identity access list.
//!
//! **Not modelled:** AWS's built-in public certificates (register the mock's identity
//! certificate; the mock signs `pkcs7` with RSA where AWS uses DSA); role tags and
//! `role_tag_max_ttl` other than `0s`; the access list's expiry and tidying.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine;
use serde_json::{json, Map, Value};

use super::ec2::AccessListEntry;
use super::fields::{self, go_quote, Data};
use super::role::{cidrs_contain, Role};
use super::{metadata_value, outcome, AwsAuthBackend};
use crate::vault::backend::{BackendResponse, LoginOutcome, VaultError};

/// The identity document fields Vault reads.
#[derive(Debug, Clone, Default)]
struct IdentityDoc {
    instance_id: String,
    image_id: String,
    account_id: String,
    region: String,
    pending_time: String,
}

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::bad_request(msg)
}

/// A certificate's RSA public key (PKCS#1 DER), as ring verifies with it.
fn public_key_of(cert_der: &[u8]) -> Option<Vec<u8>> {
    use cms::cert::x509::der::Decode;
    let cert = cms::cert::x509::Certificate::from_der(cert_der).ok()?;
    Some(
        cert.tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            .to_vec(),
    )
}

fn rsa_verifies(keys: &[Vec<u8>], msg: &[u8], sig: &[u8]) -> bool {
    keys.iter().any(|k| {
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, k)
            .verify(msg, sig)
            .is_ok()
    })
}

/// The content of a PKCS#7 SignedData whose signer verifies with one of `keys`.
// UNVERIFIED: reference §3 names the failure texts, not the causes after the colon.
fn verify_pkcs7(der: &[u8], keys: &[Vec<u8>]) -> Result<Vec<u8>, VaultError> {
    use cms::cert::x509::der::asn1::OctetString;
    use cms::cert::x509::der::{Decode, Encode};
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    use sha2::Digest;

    let parse = |e: &dyn std::fmt::Display| {
        VaultError::internal(format!(
            "failed to parse the BER encoded PKCS#7 signature: {e}"
        ))
    };
    let ci = ContentInfo::from_der(der).map_err(|e| parse(&e))?;
    let sd: SignedData = ci.content.decode_as().map_err(|e| parse(&e))?;
    let content: OctetString = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| parse(&"no content"))?
        .decode_as()
        .map_err(|e| parse(&e))?;
    let content = content.as_bytes().to_vec();
    let unverified = || VaultError::internal("failed to verify the signature: no signer verifies");
    for si in sd.signer_infos.0.iter() {
        let ok = match &si.signed_attrs {
            Some(attrs) => {
                let digest_ok = attrs
                    .iter()
                    .find(|a| a.oid.to_string() == "1.2.840.113549.1.9.4")
                    .and_then(|a| a.values.iter().next())
                    .and_then(|v| v.decode_as::<OctetString>().ok())
                    .is_some_and(|d| d.as_bytes() == sha2::Sha256::digest(&content).as_slice());
                digest_ok
                    && attrs
                        .to_der()
                        .is_ok_and(|signed| rsa_verifies(keys, &signed, si.signature.as_bytes()))
            }
            None => rsa_verifies(keys, &content, si.signature.as_bytes()),
        };
        if ok {
            return Ok(content);
        }
    }
    Err(unverified())
}

fn parse_doc(bytes: &[u8]) -> Result<IdentityDoc, VaultError> {
    // UNVERIFIED: wording of an undecodable identity document.
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        VaultError::internal(format!(
            "failed to unmarshal instance identity document: {e}"
        ))
    })?;
    let get = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let doc = IdentityDoc {
        instance_id: get("instanceId"),
        image_id: get("imageId"),
        account_id: get("accountId"),
        region: get("region"),
        pending_time: get("pendingTime"),
    };
    if doc.instance_id.is_empty() {
        // UNVERIFIED: wording.
        return Err(VaultError::internal(
            "failed to verify the instance identity document using the SHA256 RSA digest",
        ));
    }
    Ok(doc)
}

impl AwsAuthBackend {
    /// The certificates' public keys registered for `kind` (`pkcs7` or `identity`).
    fn cert_keys(&self, kind: &str) -> Vec<Vec<u8>> {
        self.state()
            .certs
            .values()
            .filter(|c| c.kind == kind)
            .filter_map(|c| public_key_of(&c.der))
            .collect()
    }

    pub(super) async fn login_ec2(
        &self,
        data: &Data,
        role: Option<String>,
        remote: Option<IpAddr>,
    ) -> Result<BackendResponse, VaultError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let get = |k: &str| -> Result<String, VaultError> {
            Ok(fields::string(data, k)?.unwrap_or_default())
        };
        // `pathLoginEc2GetRoleNameAndIdentityDoc`: the identity and the signature decoded first,
        // then which of the two ways was taken.
        let identity = get("identity")?;
        let identity = if identity.is_empty() {
            Vec::new()
        } else {
            match fields::go_base64(&identity) {
                Ok(bytes) if !bytes.is_empty() => bytes,
                _ => {
                    return Err(bad(
                        "failed to base64 decode the instance identity document",
                    ))
                }
            }
        };
        let signature = get("signature")?;
        let signature = if signature.is_empty() {
            Vec::new()
        } else {
            fields::go_base64(&signature).map_err(|_| {
                bad("failed to base64 decode the SHA256 RSA signature of the instance identity document")
            })?
        };
        let pkcs7 = get("pkcs7")?;
        if pkcs7.is_empty() && identity.is_empty() && signature.is_empty() {
            return Err(bad("either pkcs7 or a tuple containing the instance identity document and its SHA256 RSA signature needs to be provided"));
        }
        if !pkcs7.is_empty() && !identity.is_empty() && !signature.is_empty() {
            return Err(bad("both pkcs7 and a tuple containing the instance identity document and its SHA256 RSA signature is supplied; provide only one"));
        }
        let doc = if !pkcs7.is_empty() {
            // Vault wraps the value in PEM armour and decodes that: bad base64 leaves PEM text
            // undecoded (spaces, tabs and line breaks are skipped).
            let clean: String = pkcs7.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = b64.decode(clean).map_err(|_| {
                VaultError::internal("failed to decode the PEM encoded PKCS#7 signature")
            })?;
            let content = verify_pkcs7(&der, &self.cert_keys("pkcs7"))?;
            parse_doc(&content)?
        } else {
            if identity.is_empty() {
                return Err(VaultError::internal("missing instance identity document"));
            }
            if signature.is_empty() {
                return Err(VaultError::internal(
                    "missing SHA256 RSA signature of the instance identity document",
                ));
            }
            if !rsa_verifies(&self.cert_keys("identity"), &identity, &signature) {
                return Err(VaultError::internal(
                    "instance identity verification using SHA256 RSA signature is unsuccessful",
                ));
            }
            parse_doc(&identity)?
        };

        let role_name = role.unwrap_or_else(|| doc.image_id.clone());
        let role = self
            .state()
            .roles
            .get(&role_name.to_lowercase())
            .cloned()
            .ok_or_else(|| bad(format!("entry for role {} not found", go_quote(&role_name))))?;
        if !role.token.bound_cidrs.is_empty()
            && !remote.is_some_and(|ip| cidrs_contain(&role.token.bound_cidrs, ip))
        {
            return Err(VaultError::permission_denied());
        }
        if role.auth_type != "ec2" {
            return Err(bad(format!(
                "auth method ec2 not allowed for role {role_name}"
            )));
        }
        let desc = self
            .describe_instance(&doc.account_id, &doc.region, &doc.instance_id)
            .await
            .map_err(|e| bad(format!("failed to verify instance ID: {e}")))?;
        if !role.bound_region.is_empty() && !role.bound_region.contains(&doc.region) {
            return Err(bad(format!(
                "Region {} does not satisfy the constraint on role {}",
                go_quote(&doc.region),
                go_quote(&role_name)
            )));
        }
        self.instance_meets_role(&role, &role_name, &desc, &doc.account_id)
            .await
            .map_err(|e| e.answer("Error validating instance: "))?;

        // The nonce and the access list (`pathLoginUpdateEc2`): a nonce given empty asks that
        // the instance never log in again; none given, Vault makes one and returns it.
        let mut disallow = role.disallow_reauthentication;
        let supplied = data.contains_key("nonce");
        let mut client_nonce = fields::string(data, "nonce")?.unwrap_or_default();
        if supplied && client_nonce.is_empty() {
            client_nonce = REAUTHENTICATION_DISABLED_NONCE.to_owned();
            disallow = true;
        }
        let previous = self.state().access_list.get(&doc.instance_id).cloned();
        if let Some(prev) = &previous {
            validate_metadata(&client_nonce, &doc.pending_time, prev, &role).map_err(bad)?;
            disallow = disallow || prev.disallow_reauthentication;
        }
        if !supplied {
            client_nonce = uuid::Uuid::new_v4().to_string();
        }
        // The role and the nonce of the first login stay; the rest follows this one.
        let mut stored = previous.unwrap_or_else(|| AccessListEntry {
            role: role_name.clone(),
            client_nonce: client_nonce.clone(),
            ..AccessListEntry::default()
        });
        stored.pending_time = doc.pending_time.clone();
        stored.disallow_reauthentication = disallow;
        stored.touch(
            self.clock.now(),
            std::time::Duration::from_secs(role.token.max_ttl.max(0) as u64),
        );
        if disallow {
            stored.client_nonce.clear();
        }
        if client_nonce.len() > 128 && !disallow {
            return Err(bad("client nonce exceeding the limit of 128 characters"));
        }
        self.state()
            .access_list
            .insert(doc.instance_id.clone(), stored);
        // Renewals route on this metadata; absent, a token is taken for an ec2 one anyway.
        let mut internal = super::auth_type_metadata(&self.state().identity.ec2_metadata, "ec2");
        for (k, v) in [
            ("role_name", role_name.as_str()),
            ("instance_id", doc.instance_id.as_str()),
            ("image_id", doc.image_id.as_str()),
            ("account_id", doc.account_id.as_str()),
            ("region", doc.region.as_str()),
        ] {
            internal.insert(k.to_owned(), json!(v));
        }
        let mut o = self.ec2_outcome(&role, internal);
        if !disallow && !supplied {
            o.metadata.insert("nonce".into(), client_nonce);
        }
        Ok(BackendResponse::Login(o))
    }

    fn ec2_outcome(&self, role: &Role, internal: Map<String, Value>) -> LoginOutcome {
        let get = |k: &str| {
            internal
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let identity = self.state().identity.clone();
        let mut metadata = BTreeMap::new();
        metadata.insert("role".to_owned(), get("role_name"));
        metadata.insert("role_tag_max_ttl".to_owned(), "0s".to_owned());
        for f in &identity.ec2_metadata {
            let v = match f.as_str() {
                "account_id" => get("account_id"),
                "auth_type" => "ec2".into(),
                "ami_id" => get("image_id"),
                "instance_id" => get("instance_id"),
                "region" => get("region"),
                _ => String::new(),
            };
            if !v.is_empty() {
                metadata.insert(f.clone(), v);
            }
        }
        let alias = match identity.ec2_alias.as_str() {
            "instance_id" => get("instance_id"),
            "image_id" => get("image_id"),
            _ => role.role_id.clone(),
        };
        outcome(role, metadata, get("instance_id"), alias, internal)
    }

    /// `pathLoginRenewEc2`: the stored instance still runs, it still has its access-list
    /// entry, and the entry's role still exists. Errors are plain (500).
    pub(super) async fn renew_ec2(
        &self,
        internal: &Map<String, Value>,
    ) -> Result<LoginOutcome, VaultError> {
        let instance = metadata_value(internal, "instance_id")?;
        let region = metadata_value(internal, "region")?;
        let account = metadata_value(internal, "account_id").unwrap_or_default();
        self.instance_still_runs(&account, &region, &instance)
            .await?;
        let entry = self.state().access_list.get(&instance).cloned();
        let Some(mut entry) = entry else {
            return Err(VaultError::internal(format!(
                "failed to verify the access list identity entry for instance ID: {}",
                go_quote(&instance)
            )));
        };
        let role = self
            .state()
            .roles
            .get(&entry.role.to_lowercase())
            .cloned()
            .ok_or_else(|| VaultError::internal("role entry not found"))?;
        // The renewal moves the entry's expiry on, as a login does.
        entry.touch(
            self.clock.now(),
            std::time::Duration::from_secs(role.token.max_ttl.max(0) as u64),
        );
        self.state().access_list.insert(instance, entry);
        Ok(self.ec2_outcome(&role, internal.clone()))
    }
}

/// The nonce Vault stores for a client that gave an empty one.
const REAUTHENTICATION_DISABLED_NONCE: &str = "reauthentication-disabled-nonce";

/// Vault's `validateMetadata`: whether an instance that logged in before may log in again.
fn validate_metadata(
    client_nonce: &str,
    pending_time: &str,
    stored: &AccessListEntry,
    role: &Role,
) -> Result<(), String> {
    if !stored.disallow_reauthentication && stored.client_nonce.is_empty() {
        return Err("client nonce missing in stored identity".into());
    }
    if stored.disallow_reauthentication || client_nonce == REAUTHENTICATION_DISABLED_NONCE {
        return Err("reauthentication is disabled".into());
    }
    // UNVERIFIED: Go's time.Parse error, given for a value that is not a date at all (the
    // mock's documents always carry one).
    let parse = |t: &str| {
        crate::worldfile::parse_time(t).ok_or_else(|| {
            format!(
                "parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse {} as \"2006\"",
                go_quote(t),
                go_quote(t)
            )
        })
    };
    let given = parse(pending_time)?;
    let before = parse(&stored.pending_time)?;
    if client_nonce != stored.client_nonce {
        if !role.allow_instance_migration {
            return Err("client nonce mismatch".into());
        }
        if given <= before {
            return Err("client nonce mismatch and instance meta-data incorrect".into());
        }
    }
    if given < before {
        return Err("instance meta-data is older than the one used for previous login".into());
    }
    Ok(())
}
