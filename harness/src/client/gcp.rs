//! GCP iam login material: the JWT a service account presents to `auth/gcp/login` — its claims
//! (reference gcp.md §3: `sub`, `aud` = `vault/<role>`, `exp`), signed by Google through
//! `signJwt` or by a user-managed key, and the scenario's mutations of claims, header, key and
//! signature.

use std::sync::OnceLock;

use authsim_mocks::world::RsaKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::scenario::{parse_offset, Mutate};

/// Why the material could not be built (a bad mutation, not a Vault answer).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// The claims a login JWT carries before mutations: `sub`, `aud`, `iat`, `exp`.
pub fn login_claims(email: &str, role: &str, now: u64, lifetime_secs: u64) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), json!(email));
    c.insert("aud".into(), json!(format!("vault/{role}")));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + lifetime_secs));
    c
}

/// Sets and removes claims. `exp`, `iat` and `nbf` given as strings are offsets from `now`
/// (`"+20m"`, `"-2m"`); other values are taken as written.
pub fn mutate_claims(
    claims: &mut Map<String, Value>,
    set: &toml::Table,
    remove: &[String],
    now: u64,
) -> Result<(), BuildError> {
    for (k, v) in set {
        let value = match (k.as_str(), v) {
            ("exp" | "iat" | "nbf", toml::Value::String(s)) => {
                let off = parse_offset(s).map_err(|e| BuildError(format!("claim `{k}`: {e}")))?;
                json!(now as i64 + off)
            }
            _ => crate::provision::toml_to_json(v),
        };
        claims.insert(k.clone(), value);
    }
    for k in remove {
        claims.remove(k);
    }
    Ok(())
}

/// A key no certificate endpoint publishes (derived once per process: RSA key generation is slow).
pub fn unpublished_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = RsaKey::derive("authsim-unpublished", "unpublished", "nobody@example.com");
        key.material();
        key
    })
}

/// Applies the post-signing mutations: header fields (`kid`, `alg`, …, set after signing, so the
/// signature no longer covers the header) and the signature bytes (`flip`, `truncate`, `remove`).
pub fn mutate_signed(jwt: &str, m: &Mutate) -> Result<String, BuildError> {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    if parts.len() != 3 {
        return Err(BuildError(format!(
            "the signed JWT has {} parts, not 3",
            parts.len()
        )));
    }
    if !m.header.is_empty() {
        let raw = URL_SAFE_NO_PAD
            .decode(&parts[0])
            .map_err(|e| BuildError(format!("JWT header: {e}")))?;
        let mut h: Map<String, Value> =
            serde_json::from_slice(&raw).map_err(|e| BuildError(format!("JWT header: {e}")))?;
        for (k, v) in &m.header {
            h.insert(k.clone(), crate::provision::toml_to_json(v));
        }
        parts[0] = URL_SAFE_NO_PAD.encode(Value::Object(h).to_string());
    }
    match m.signature.as_deref() {
        None => {}
        Some("flip") => {
            let mut sig = URL_SAFE_NO_PAD
                .decode(&parts[2])
                .map_err(|e| BuildError(format!("JWT signature: {e}")))?;
            if let Some(b) = sig.get_mut(10) {
                *b ^= 0x01;
            }
            parts[2] = URL_SAFE_NO_PAD.encode(sig);
        }
        Some("truncate") => {
            let keep = parts[2].len() / 2;
            parts[2].truncate(keep);
        }
        Some("remove") => parts[2].clear(),
        Some(other) => {
            return Err(BuildError(format!(
                "mutate.signature `{other}`: `flip`, `truncate` or `remove`"
            )))
        }
    }
    Ok(parts.join("."))
}

/// The `signJwt` request body for `claims`.
pub fn sign_jwt_body(claims: &Map<String, Value>) -> Value {
    json!({ "payload": Value::Object(claims.clone()).to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_claims_are_offsets_from_now() {
        let mut c = login_claims("app@p.iam.gserviceaccount.com", "app", 1000, 600);
        let set: toml::Table = toml::from_str("exp = \"+20m\"\naud = \"other\"").unwrap();
        mutate_claims(&mut c, &set, &["sub".into()], 1000).unwrap();
        assert_eq!(c["exp"], json!(2200));
        assert_eq!(c["aud"], json!("other"));
        assert!(!c.contains_key("sub"));
    }

    #[test]
    fn header_and_signature_mutations_keep_three_parts() {
        let jwt = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1"}"#),
            URL_SAFE_NO_PAD.encode("{}"),
            URL_SAFE_NO_PAD.encode([7u8; 32])
        );
        let m = Mutate {
            header: toml::from_str("kid = \"nope\"").unwrap(),
            signature: Some("flip".into()),
            ..Mutate::default()
        };
        let out = mutate_signed(&jwt, &m).unwrap();
        let parts: Vec<_> = out.split('.').collect();
        let h: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(h["kid"], "nope");
        assert_ne!(parts[2], URL_SAFE_NO_PAD.encode([7u8; 32]));
    }
}
