//! The plugin's view of a login JWT: go-jose's compact parse with the allowed algorithms, the
//! signature check against a Google certificate, and the claims it reads (reference gcp.md 1.2,
//! 1.3, 2.1). Time rules live in `login.rs`; nothing here reads a clock.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::vault::go_fmt::{go_json_syntax_error, go_json_type_error};

/// The algorithms the plugin passes to `jwt.ParseSigned`.
pub(crate) const ALLOWED_ALGS: [&str; 3] = ["RS256", "ES256", "HS256"];

/// go-jose's error for a failed signature check (every failure collapses into it).
pub(crate) const CRYPTO_FAILURE: &str = "go-jose/go-jose: error in cryptographic primitive";

/// A compact JWS, parsed but not verified.
#[derive(Debug, Clone)]
pub(crate) struct SignedJwt {
    pub(crate) alg: String,
    pub(crate) kid: String,
    signing_input: String,
    signature: String,
    payload: Vec<u8>,
}

/// Go's `base64.RawURLEncoding`, which go-jose v4 decodes every part with: no padding (`=` is
/// a byte outside the alphabet), trailing bits allowed, errors at the offending byte.
fn b64url(part: &str) -> Result<Vec<u8>, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const RAW_URL: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if let Some(i) = part.bytes().position(|b| !alphabet(b)) {
        return Err(format!("illegal base64 data at input byte {i}"));
    }
    // Only the length can be wrong now: a lone last symbol.
    RAW_URL.decode(part).map_err(|_| {
        format!(
            "illegal base64 data at input byte {}",
            part.len().saturating_sub(1)
        )
    })
}

/// The first key of a JSON object's top level that comes a second time: go-jose's JSON fork
/// refuses such an object (serde_json keeps the last value).
fn duplicate_key(json: &[u8]) -> Option<String> {
    struct Keys(Option<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut seen = std::collections::HashSet::new();
                    let mut first = None;
                    while let Some(k) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        if first.is_none() && !seen.insert(k.clone()) {
                            first = Some(k);
                        }
                    }
                    Ok(Keys(first))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Keys>(json).ok().and_then(|k| k.0)
}

fn duplicate_key_error(key: &str) -> String {
    format!("json: duplicate key '{key}' in object")
}

/// `jwt.ParseSigned(token, [RS256, ES256, HS256])`, as go-jose v4.1.3's `parseSignedCompact`
/// and `sanitized` go: three parts, each part's base64 (header, payload, signature, in that
/// order), then the header's JSON (an empty header is none at all), then the algorithm.
pub(crate) fn parse_signed(token: &str) -> Result<SignedJwt, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err("go-jose/go-jose: compact JWS format must have three parts".into());
    }
    let header_raw = b64url(parts[0])?;
    let payload = b64url(parts[1])?;
    b64url(parts[2])?;
    let header: Map<String, Value> = if header_raw.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&header_raw) {
            Ok(Value::Object(m)) => m,
            // `null` unmarshals into the header struct as nothing at all.
            Ok(Value::Null) => Map::new(),
            Ok(other) => return Err(go_json_type_error(&other, "jose.rawHeader")),
            Err(e) => return Err(go_json_syntax_error(&header_raw, &e)),
        }
    };
    if let Some(key) = duplicate_key(&header_raw) {
        return Err(duplicate_key_error(&key));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !ALLOWED_ALGS.contains(&alg.as_str()) {
        return Err(format!(
            "unexpected signature algorithm {}; expected [\"RS256\" \"ES256\" \"HS256\"]",
            super::fields::go_quote(&alg)
        ));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(SignedJwt {
        alg,
        kid,
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: parts[2].to_owned(),
        payload,
    })
}

impl SignedJwt {
    /// The payload as a JSON object, unverified (`getJWTSubject` and the claims decode).
    pub(crate) fn payload_object(&self) -> Result<Map<String, Value>, String> {
        match serde_json::from_slice::<Value>(&self.payload) {
            Ok(Value::Object(m)) => match duplicate_key(&self.payload) {
                Some(k) => Err(duplicate_key_error(&k)),
                None => Ok(m),
            },
            // `null` unmarshals as no claims at all.
            Ok(Value::Null) => Ok(Map::new()),
            Ok(other) => Err(go_json_type_error(&other, "jwt.Claims")),
            Err(e) => Err(go_json_syntax_error(&self.payload, &e)),
        }
    }

    /// Verifies the signature with the public key of a certificate PEM.
    pub(crate) fn verify(&self, cert_pem: &str) -> Result<(), String> {
        use jsonwebtoken::Algorithm;
        let alg = match self.alg.as_str() {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            // An HMAC over a public key: go-jose has no verifier for it.
            _ => return Err(CRYPTO_FAILURE.into()),
        };
        let key = decoding_key(cert_pem, alg).ok_or_else(|| CRYPTO_FAILURE.to_owned())?;
        match jsonwebtoken::crypto::verify(
            &self.signature,
            self.signing_input.as_bytes(),
            &key,
            alg,
        ) {
            Ok(true) => Ok(()),
            _ => Err(CRYPTO_FAILURE.into()),
        }
    }
}

/// The public key of a certificate PEM, parsed once per distinct certificate text.
///
/// Vault fetches the certificates on every login (the mock does too, over HTTP); parsing the
/// same X.509 text again each time was a sizeable part of a login's CPU under load. A cache
/// keyed by the exact text cannot change an answer: other text is parsed afresh, and a text that
/// does not parse is not kept. Bounded: emptied when it reaches [`KEY_CACHE_MAX`] entries.
fn decoding_key(cert_pem: &str, alg: jsonwebtoken::Algorithm) -> Option<jsonwebtoken::DecodingKey> {
    use jsonwebtoken::{Algorithm, DecodingKey};
    type Cache = Mutex<HashMap<String, DecodingKey>>;
    static RSA: OnceLock<Cache> = OnceLock::new();
    static EC: OnceLock<Cache> = OnceLock::new();
    let rsa = alg == Algorithm::RS256;
    let cache = if rsa { &RSA } else { &EC }.get_or_init(Cache::default);
    if let Some(k) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(cert_pem)
    {
        return Some(k.clone());
    }
    let key = if rsa {
        DecodingKey::from_rsa_pem(cert_pem.as_bytes())
    } else {
        DecodingKey::from_ec_pem(cert_pem.as_bytes())
    }
    .ok()?;
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= KEY_CACHE_MAX {
        cache.clear();
    }
    cache.insert(cert_pem.to_owned(), key.clone());
    Some(key)
}

const KEY_CACHE_MAX: usize = 1024;

/// The certificate PEM behind a key-map value, as go-gcp-common reads it: the value must be a
/// JSON string; it is standard base64 of the PEM or the PEM itself; the first PEM block (of any
/// type) must hold a certificate.
pub(crate) fn certificate_pem(value: &Value) -> Result<String, String> {
    let Some(s) = value.as_str() else {
        return Err(format!(
            "unexpected error - decoded JSON key value {} is not string",
            super::fields::go_value(value)
        ));
    };
    const NO_BLOCK: &str = "unable to find pem block in key";
    let text = match STANDARD.decode(s) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| NO_BLOCK.to_owned())?,
        Err(_) => s.to_owned(),
    };
    let begin = text.find("-----BEGIN ").ok_or(NO_BLOCK)?;
    let block = &text[begin..];
    if !block.contains("-----END ") {
        return Err(NO_BLOCK.into());
    }
    // UNVERIFIED: x509.ParseCertificate's text for a block that holds no certificate.
    if !block.starts_with("-----BEGIN CERTIFICATE-----") {
        return Err("x509: malformed certificate".into());
    }
    Ok(block.to_owned())
}

/// The claims the plugin reads (`jwt.Claims` + `gcputil.CustomJWTClaims`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Claims {
    /// `exp`; `None` when absent or null.
    pub(crate) exp: Option<i64>,
    pub(crate) sub: String,
    /// `aud` as go-jose's `Audience`: a string or a list.
    pub(crate) aud: Vec<String>,
    /// `google.compute_engine`, when present.
    pub(crate) gce: Option<GceClaims>,
}

/// `google.compute_engine` (reference gcp.md 2.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GceClaims {
    pub(crate) project_id: String,
    pub(crate) project_number: i64,
    pub(crate) zone: String,
    pub(crate) instance_id: String,
    pub(crate) instance_name: String,
    pub(crate) instance_creation_timestamp: i64,
}

fn numeric_date(v: Option<&Value>) -> Result<Option<i64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))),
        // UNVERIFIED: go-jose's text for a non-numeric date.
        Some(_) => {
            Err("go-jose/go-jose/jwt: expected number value to unmarshal NumericDate".into())
        }
    }
}

/// Decodes the verified payload. Wrong types in `google.compute_engine` count as absent
/// (authsim simplification; Go's decoder would fail the whole token).
pub(crate) fn claims(jwt: &SignedJwt) -> Result<Claims, String> {
    let m = jwt.payload_object()?;
    // go-jose's fork of encoding/json, key by key in the object's order: an `UnmarshalJSON`
    // error (dates, audience) or a number where a string goes ends the decode at once; another
    // type error is kept (the first one) while the rest is decoded.
    let mut type_error: Option<String> = None;
    for (k, v) in &m {
        match k.as_str() {
            "exp" | "iat" | "nbf" => {
                numeric_date(Some(v))?;
            }
            // A null audience reaches `Audience.UnmarshalJSON`, which refuses it.
            "aud"
                if !v.is_string()
                    && !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) =>
            {
                return Err(
                    "go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience"
                        .into(),
                )
            }
            // A number into a string ends the decode; a bool, array or object is kept.
            "sub" | "iss" | "jti" if v.is_number() => {
                return Err("json: cannot unmarshal number into Go value of type string".into())
            }
            "sub" | "iss" | "jti" if !v.is_string() && !v.is_null() => {
                let kind = match v {
                    Value::Bool(_) => "bool",
                    Value::Array(_) => "array",
                    _ => "object",
                };
                type_error.get_or_insert_with(|| {
                    format!("json: cannot unmarshal {kind} into Go value of type string")
                });
            }
            _ => {}
        }
    }
    if let Some(e) = type_error {
        return Err(e);
    }
    let exp = numeric_date(m.get("exp"))?;
    let sub = m
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let aud = match m.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let gce = m
        .get("google")
        .and_then(|g| g.get("compute_engine"))
        .and_then(Value::as_object)
        .map(|ce| {
            let s = |k: &str| {
                ce.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let n = |k: &str| {
                ce.get(k)
                    .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
                    .unwrap_or_default()
            };
            GceClaims {
                project_id: s("project_id"),
                project_number: n("project_number"),
                zone: s("zone"),
                instance_id: s("instance_id"),
                instance_name: s("instance_name"),
                instance_creation_timestamp: n("instance_creation_timestamp"),
            }
        });
    Ok(Claims { exp, sub, aud, gce })
}

/// Go's `time.Duration.String()` for a duration in nanoseconds (`1h30m0.5s`, `250ms`).
pub(crate) fn go_duration(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let n = nanos.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    let frac = |value: u128, digits: u32| -> String {
        let unit = 10u128.pow(digits);
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let s = format!("{rest:0width$}", width = digits as usize);
            format!("{whole}.{}", s.trim_end_matches('0'))
        }
    };
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", frac(n, 3));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", frac(n, 6));
    }
    let secs_total = n / 1_000_000_000;
    let sub = n % 1_000_000_000;
    let h = secs_total / 3600;
    let m = (secs_total % 3600) / 60;
    let s = secs_total % 60;
    let secs = frac(s * 1_000_000_000 + sub, 9);
    if h > 0 {
        format!("{sign}{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{sign}{m}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_gcp_go_durations_print_like_go() {
        const S: i128 = 1_000_000_000;
        assert_eq!(go_duration(5400 * S), "1h30m0s");
        assert_eq!(go_duration(3661 * S + S / 2), "1h1m1.5s");
        assert_eq!(go_duration(61 * S), "1m1s");
        assert_eq!(go_duration(S / 4), "250ms");
        assert_eq!(go_duration(-90 * S), "-1m30s");
        assert_eq!(go_duration(0), "0s");
    }

    #[test]
    fn vault_gcp_jws_parse_refuses_other_algorithms_and_shapes() {
        assert_eq!(
            parse_signed("a.b").unwrap_err(),
            "go-jose/go-jose: compact JWS format must have three parts"
        );
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let e = parse_signed(&format!("{header}.e30.")).unwrap_err();
        assert_eq!(
            e,
            "unexpected signature algorithm \"none\"; expected [\"RS256\" \"ES256\" \"HS256\"]"
        );
        // Every part's base64 is decoded before the header's JSON is read.
        for (token, error) in [
            ("not.a.jwt", "illegal base64 data at input byte 0"),
            ("invalid.jwt.token", "illegal base64 data at input byte 4"),
            (
                "header.payload.signature",
                "illegal base64 data at input byte 8",
            ),
            (
                "",
                "go-jose/go-jose: compact JWS format must have three parts",
            ),
            (
                "eHh4.e30.",
                "invalid character 'x' looking for beginning of value",
            ),
            (
                "MTIz.e30.",
                "json: cannot unmarshal number into Go value of type jose.rawHeader",
            ),
        ] {
            assert_eq!(parse_signed(token).unwrap_err(), error, "{token}");
        }
        // An empty or null header is no header: the algorithm is then missing.
        for header in ["", "bnVsbA"] {
            assert_eq!(
                parse_signed(&format!("{header}.e30.")).unwrap_err(),
                "unexpected signature algorithm \"\"; expected [\"RS256\" \"ES256\" \"HS256\"]"
            );
        }
        // Unpadded base64url only, errors at the offending byte; trailing bits pass.
        assert_eq!(
            b64url("e30=").unwrap_err(),
            "illegal base64 data at input byte 3"
        );
        assert_eq!(
            b64url("e3.0").unwrap_err(),
            "illegal base64 data at input byte 2"
        );
        assert_eq!(
            b64url("e30xx").unwrap_err(),
            "illegal base64 data at input byte 4"
        );
        assert_eq!(b64url("e31").unwrap(), b"{}");
    }

    #[test]
    fn vault_gcp_repeated_json_keys_are_refused() {
        assert_eq!(
            duplicate_key(br#"{"a":1,"b":{"a":2},"a":3}"#).as_deref(),
            Some("a")
        );
        assert_eq!(duplicate_key(br#"{"a":1,"b":2}"#), None);
        let part = |j: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(j);
        let token = format!(
            "{}.{}.{}",
            part(r#"{"alg":"RS256","alg":"RS256"}"#),
            part("{}"),
            part("s")
        );
        assert_eq!(
            parse_signed(&token).unwrap_err(),
            "json: duplicate key 'alg' in object"
        );
        let token = format!(
            "{}.{}.{}",
            part(r#"{"alg":"RS256"}"#),
            part(r#"{"sub":"a","sub":"b"}"#),
            part("s")
        );
        let jwt = parse_signed(&token).unwrap();
        assert_eq!(
            claims(&jwt).unwrap_err(),
            "json: duplicate key 'sub' in object"
        );
    }

    #[test]
    fn vault_gcp_key_values_are_read_as_go_gcp_common_reads_them() {
        use serde_json::json;
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(certificate_pem(&json!(pem)).unwrap(), pem);
        assert_eq!(certificate_pem(&json!(STANDARD.encode(pem))).unwrap(), pem);
        for (value, err) in [
            (
                json!(5),
                "unexpected error - decoded JSON key value 5 is not string",
            ),
            (
                json!(null),
                "unexpected error - decoded JSON key value <nil> is not string",
            ),
            (
                json!({"a": "b"}),
                "unexpected error - decoded JSON key value map[a:b] is not string",
            ),
            (json!("no pem here"), "unable to find pem block in key"),
            (
                json!("-----BEGIN CERTIFICATE-----\nMIIB"),
                "unable to find pem block in key",
            ),
            (
                json!(STANDARD.encode([0xff, 0xfe])),
                "unable to find pem block in key",
            ),
            (
                json!("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"),
                "x509: malformed certificate",
            ),
        ] {
            assert_eq!(certificate_pem(&value).unwrap_err(), err, "{value}");
        }
    }
}
