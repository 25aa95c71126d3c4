//! IAM Service Account Credentials API v1 (`iamcredentials.googleapis.com`), reference gcp.md 6.2.
//!
//! Upstream: <https://cloud.google.com/iam/docs/reference/credentials/rest>
//!
//! Endpoints (all `POST`, the project must be the wildcard `-`):
//! - `/v1/projects/-/serviceAccounts/{email-or-uniqueId}:signJwt`
//! - `/v1/projects/-/serviceAccounts/{email-or-uniqueId}:signBlob`
//! - `/v1/projects/-/serviceAccounts/{email-or-uniqueId}:generateAccessToken`
//! - `/v1/projects/-/serviceAccounts/{email-or-uniqueId}:generateIdToken`
//!
//! The caller is the account behind `Authorization: Bearer <token>` (a token this mock issued).
//! It must hold Token Creator on the target, directly or through each hop of `delegates`.
//! signJwt signs the payload byte for byte with the target's first Google-managed key and adds no
//! claims; ID tokens are signed with Google's OAuth2 key (`/oauth2/v1/certs`).
//!
//! **Not modelled:** the legacy IAM v1 `signJwt`/`signBlob` (same path on `iam.googleapis.com`;
//! they auto-add `exp`), the `constraints/iam.allowServiceAccountCredentialLifetimeExtension` org
//! policy (lifetimes above 3600 s), VPC Service Controls, quota errors other than injected faults,
//! `organizationNumberIncluded` (accepted, ignored), ES256 keys, and regional endpoints.

use std::time::Duration;

use axum::response::Response;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::error::GcpError;
use super::extract::{authenticate, bearer, json_response, parse_json, unix, Caller};
use super::GcpState;
use crate::clock::{rfc3339, Clock};
use crate::world::gcp::ServiceAccount;
use crate::world::World;

// ------------------------------------------------------------------------------------ wire types

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignJwtRequest {
    #[serde(default)]
    pub delegates: Vec<String>,
    /// A JSON claim set, as a string.
    #[serde(default)]
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignJwtResponse {
    pub key_id: String,
    pub signed_jwt: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignBlobRequest {
    #[serde(default)]
    pub delegates: Vec<String>,
    /// Base64 of the bytes to sign.
    #[serde(default)]
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignBlobResponse {
    pub key_id: String,
    /// Base64 of the RS256 (PKCS#1 v1.5, SHA-256) signature.
    pub signed_blob: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateAccessTokenRequest {
    #[serde(default)]
    pub delegates: Vec<String>,
    #[serde(default)]
    pub scope: Vec<String>,
    /// A protobuf Duration such as `"3600s"`.
    #[serde(default)]
    pub lifetime: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateAccessTokenResponse {
    pub access_token: String,
    /// RFC 3339.
    pub expire_time: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateIdTokenRequest {
    #[serde(default)]
    pub delegates: Vec<String>,
    #[serde(default)]
    pub audience: String,
    #[serde(default)]
    pub include_email: bool,
    #[serde(default)]
    pub organization_number_included: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateIdTokenResponse {
    pub token: String,
}

// ------------------------------------------------------------------------------- the rules

/// The farthest in the future a signJwt `exp` may be.
pub const MAX_SIGN_JWT_EXP_SECS: i64 = 12 * 3600;
/// Default and maximum access-token lifetime.
pub const MAX_ACCESS_TOKEN_SECS: u64 = 3600;
/// Lifetime of ID tokens Google issues.
pub const ID_TOKEN_SECS: i64 = 3600;

const DELEGATE_PREFIX: &str = "projects/-/serviceAccounts/";
/// Token scopes that iamcredentials accepts.
const ACCEPTED_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/iam",
];

/// The verbs of this API and the permission each needs on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    SignJwt,
    SignBlob,
    GenerateAccessToken,
    GenerateIdToken,
}

impl Verb {
    pub fn parse(verb: &str) -> Option<Self> {
        Some(match verb {
            "signJwt" => Verb::SignJwt,
            "signBlob" => Verb::SignBlob,
            "generateAccessToken" => Verb::GenerateAccessToken,
            "generateIdToken" => Verb::GenerateIdToken,
            _ => return None,
        })
    }

    /// Signature and ID-token permissions are confirmed on their reference pages; UNVERIFIED for
    /// signBlob and generateAccessToken (reference gcp.md 6.2).
    pub fn permission(self) -> &'static str {
        match self {
            Verb::SignJwt => "iam.serviceAccounts.signJwt",
            Verb::SignBlob => "iam.serviceAccounts.signBlob",
            Verb::GenerateAccessToken => "iam.serviceAccounts.getAccessToken",
            Verb::GenerateIdToken => "iam.serviceAccounts.getOpenIdToken",
        }
    }
}

/// Resolves the target of a call: the project wildcard, the caller's scopes, the delegation chain
/// (caller → delegates… → target, Token Creator at every hop) and the target's state.
pub fn resolve_target<'w>(
    world: &'w World,
    caller: &Caller,
    project: &str,
    name: &str,
    delegates: &[String],
    verb: Verb,
) -> Result<&'w ServiceAccount, GcpError> {
    if project != "-" {
        // UNVERIFIED wording: Google documents that "replacing it with a project ID is invalid".
        return Err(GcpError::invalid_argument(format!(
            "Invalid resource name 'projects/{project}/serviceAccounts/{name}': the project must be the wildcard '-'; replacing it with a project ID is invalid."
        )));
    }
    if !caller.scopes.is_empty()
        && !caller
            .scopes
            .iter()
            .any(|s| ACCEPTED_SCOPES.contains(&s.as_str()))
    {
        let mut e = GcpError::new(403, "Request had insufficient authentication scopes.");
        e.details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": { "service": "iamcredentials.googleapis.com" },
        }));
        return Err(e);
    }
    let permission = verb.permission();
    let mut previous = caller.email.as_str();
    for d in delegates {
        let Some(id) = d.strip_prefix(DELEGATE_PREFIX).filter(|s| !s.is_empty()) else {
            // UNVERIFIED wording.
            return Err(GcpError::invalid_argument(format!(
                "Invalid delegate '{d}': delegates must have the form 'projects/-/serviceAccounts/{{ACCOUNT_EMAIL_OR_UNIQUEID}}'."
            )));
        };
        let hop = world
            .gcp
            .find_account(id)
            .filter(|sa| world.gcp.may_impersonate(previous, sa))
            .ok_or_else(|| GcpError::permission_denied(permission, Some(d)))?;
        check_enabled(hop)?;
        previous = &hop.email;
    }
    let resource = format!("{DELEGATE_PREFIX}{name}");
    // An unknown account is the same 403 as a missing grant: with the `-` wildcard Google cannot
    // tell the two apart (reference gcp.md 1.5, 6.1).
    let target = world
        .gcp
        .find_account(name)
        .filter(|sa| world.gcp.may_impersonate(previous, sa))
        .ok_or_else(|| GcpError::permission_denied(permission, Some(&resource)))?;
    check_enabled(target)?;
    Ok(target)
}

/// UNVERIFIED: the error Google gives for a disabled account; a 400 FAILED_PRECONDITION is what
/// users report for calls on disabled accounts.
fn check_enabled(sa: &ServiceAccount) -> Result<(), GcpError> {
    if sa.disabled {
        return Err(GcpError::failed_precondition(format!(
            "Precondition check failed. The service account {} is disabled.",
            sa.email
        )));
    }
    Ok(())
}

fn first_system_key(sa: &ServiceAccount) -> Result<&crate::world::RsaKey, GcpError> {
    sa.system_keys.first().ok_or_else(|| {
        GcpError::new(
            500,
            format!("authsim: {} has no Google-managed key", sa.email),
        )
    })
}

/// Checks a signJwt claim set (reference gcp.md 6.2): a JSON object whose `exp`, if present, is an
/// integer in `[now, now + 12 h]`. UNVERIFIED: the messages' wording.
pub fn check_jwt_payload(payload: &str, now: i64) -> Result<(), GcpError> {
    if payload.is_empty() {
        return Err(GcpError::invalid_argument(
            "Invalid JWT payload: the payload is empty.",
        ));
    }
    let claims: serde_json::Value = serde_json::from_str(payload).map_err(|_| {
        GcpError::invalid_argument("Invalid JWT payload: the payload is not valid JSON.")
    })?;
    let Some(obj) = claims.as_object() else {
        return Err(GcpError::invalid_argument(
            "Invalid JWT payload: the payload must be a JSON object.",
        ));
    };
    let Some(exp) = obj.get("exp") else {
        return Ok(());
    };
    let exp = match exp.as_i64() {
        Some(e) => e,
        None if exp.is_u64() => i64::MAX,
        None => {
            return Err(GcpError::invalid_argument(
                "Invalid JWT payload: the 'exp' claim must be an integer timestamp.",
            ))
        }
    };
    if exp < now {
        return Err(GcpError::invalid_argument(
            "Invalid JWT payload: the 'exp' claim is in the past.",
        ));
    }
    if exp - now > MAX_SIGN_JWT_EXP_SECS {
        return Err(GcpError::invalid_argument(
            "Invalid JWT payload: the 'exp' claim is more than 12 hours in the future.",
        ));
    }
    Ok(())
}

pub fn sign_jwt(
    world: &World,
    clock: &dyn Clock,
    caller: &Caller,
    project: &str,
    name: &str,
    req: &SignJwtRequest,
) -> Result<SignJwtResponse, GcpError> {
    let sa = resolve_target(world, caller, project, name, &req.delegates, Verb::SignJwt)?;
    check_jwt_payload(&req.payload, clock.unix())?;
    let key = first_system_key(sa)?;
    Ok(SignJwtResponse {
        key_id: key.key_id().to_owned(),
        signed_jwt: key.sign_jws(req.payload.as_bytes()),
    })
}

/// Proto `bytes` in JSON: standard or URL-safe base64, padded or not.
pub fn decode_bytes(field: &str, value: &str) -> Result<Vec<u8>, GcpError> {
    let trimmed = value.trim_end_matches('=');
    STANDARD
        .decode(value)
        .or_else(|_| URL_SAFE.decode(value))
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|_| {
            GcpError::invalid_argument(format!(
                "Invalid value at '{field}' (TYPE_BYTES), Base64 decoding failed for \"{value}\""
            ))
        })
}

pub fn sign_blob(
    world: &World,
    caller: &Caller,
    project: &str,
    name: &str,
    req: &SignBlobRequest,
) -> Result<SignBlobResponse, GcpError> {
    let sa = resolve_target(world, caller, project, name, &req.delegates, Verb::SignBlob)?;
    let bytes = decode_bytes("payload", &req.payload)?;
    if bytes.is_empty() {
        // UNVERIFIED wording.
        return Err(GcpError::invalid_argument(
            "Invalid payload: the blob to sign is empty.",
        ));
    }
    let key = first_system_key(sa)?;
    Ok(SignBlobResponse {
        key_id: key.key_id().to_owned(),
        signed_blob: STANDARD.encode(key.sign(&bytes)),
    })
}

/// A protobuf JSON Duration (`"3600s"`, `"1.5s"`).
pub fn parse_proto_duration(field: &str, s: &str) -> Result<Duration, GcpError> {
    let bad = || {
        GcpError::invalid_argument(format!(
            "Invalid value at '{field}' (type.googleapis.com/google.protobuf.Duration), \"{s}\""
        ))
    };
    let num = s.strip_suffix('s').ok_or_else(bad)?;
    if num.starts_with('-') {
        return Err(GcpError::invalid_argument(format!(
            "The {field} must not be negative."
        )));
    }
    let secs: f64 = num.parse().map_err(|_| bad())?;
    if !secs.is_finite() || num.contains(['e', 'E']) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn generate_access_token(
    world: &mut World,
    clock: &dyn Clock,
    caller: &Caller,
    project: &str,
    name: &str,
    req: &GenerateAccessTokenRequest,
) -> Result<GenerateAccessTokenResponse, GcpError> {
    let email = resolve_target(
        world,
        caller,
        project,
        name,
        &req.delegates,
        Verb::GenerateAccessToken,
    )?
    .email
    .clone();
    if req.scope.iter().all(|s| s.trim().is_empty()) {
        // UNVERIFIED wording.
        return Err(GcpError::invalid_argument("Scope required."));
    }
    let lifetime = match req.lifetime.as_deref() {
        None | Some("") => Duration::from_secs(MAX_ACCESS_TOKEN_SECS),
        Some(l) => match parse_proto_duration("lifetime", l)? {
            d if d.is_zero() => Duration::from_secs(MAX_ACCESS_TOKEN_SECS),
            d => d,
        },
    };
    if lifetime > Duration::from_secs(MAX_ACCESS_TOKEN_SECS) {
        // UNVERIFIED wording; Google allows up to 43200 s only under an org-policy constraint.
        return Err(GcpError::invalid_argument(format!(
            "The lifetime requested ({}s) exceeds the maximum of {MAX_ACCESS_TOKEN_SECS}s.",
            lifetime.as_secs_f64()
        )));
    }
    let expires = clock.now() + lifetime;
    let scopes = req
        .scope
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    let token = world.gcp.issue_token(&email, scopes, expires);
    Ok(GenerateAccessTokenResponse {
        access_token: token,
        expire_time: rfc3339(expires),
    })
}

/// What goes into a Google-signed ID token.
#[derive(Debug, Clone)]
pub struct IdTokenClaims<'a> {
    pub audience: &'a str,
    pub account: &'a ServiceAccount,
    /// `email` and `email_verified`.
    pub include_email: bool,
    /// `google.compute_engine`, for `format=full` metadata identity tokens.
    pub compute_engine: Option<serde_json::Value>,
    pub now: i64,
}

/// An RS256 JWT signed with the first of Google's OAuth2 keys. Claims in Google's (alphabetical)
/// order: `aud, azp, email, email_verified, exp, google, iat, iss, sub`; `azp` and `sub` are the
/// account's unique id.
pub fn google_id_token(world: &World, c: &IdTokenClaims<'_>) -> Result<String, GcpError> {
    let key = world
        .gcp
        .google_keys
        .first()
        .ok_or_else(|| GcpError::new(500, "authsim: the world has no Google OAuth2 key"))?;
    let mut claims = serde_json::Map::new();
    claims.insert("aud".into(), c.audience.into());
    claims.insert("azp".into(), c.account.unique_id.clone().into());
    if c.include_email {
        claims.insert("email".into(), c.account.email.clone().into());
        claims.insert("email_verified".into(), true.into());
    }
    claims.insert("exp".into(), (c.now + ID_TOKEN_SECS).into());
    if let Some(ce) = &c.compute_engine {
        claims.insert("google".into(), serde_json::json!({ "compute_engine": ce }));
    }
    claims.insert("iat".into(), c.now.into());
    claims.insert("iss".into(), "https://accounts.google.com".into());
    claims.insert("sub".into(), c.account.unique_id.clone().into());
    let payload = serde_json::Value::Object(claims).to_string();
    Ok(key.sign_jws(payload.as_bytes()))
}

pub fn generate_id_token(
    world: &World,
    clock: &dyn Clock,
    caller: &Caller,
    project: &str,
    name: &str,
    req: &GenerateIdTokenRequest,
) -> Result<GenerateIdTokenResponse, GcpError> {
    let sa = resolve_target(
        world,
        caller,
        project,
        name,
        &req.delegates,
        Verb::GenerateIdToken,
    )?;
    if req.audience.is_empty() {
        // UNVERIFIED wording.
        return Err(GcpError::invalid_argument("Audience is required."));
    }
    let token = google_id_token(
        world,
        &IdTokenClaims {
            audience: &req.audience,
            account: sa,
            include_email: req.include_email,
            compute_engine: None,
            now: unix(clock.now()),
        },
    )?;
    Ok(GenerateIdTokenResponse { token })
}

// ------------------------------------------------------------------------------------- handler

/// `POST /v1/projects/{project}/serviceAccounts/{name}:{verb}` for the four verbs of this API
/// (dispatched from [`super::service_account_post`]).
pub(crate) fn handle(
    s: &GcpState,
    headers: &HeaderMap,
    project: &str,
    name: &str,
    verb: Verb,
    body: &Bytes,
) -> Result<Response, GcpError> {
    let clock = s.sim.clock();
    match verb {
        Verb::SignJwt => {
            let req: SignJwtRequest = parse_json(body)?;
            let w = s.sim.world();
            let caller = authenticate(&w, clock, bearer(headers))?;
            sign_jwt(&w, clock, &caller, project, name, &req).map(|r| json_response(&r))
        }
        Verb::SignBlob => {
            let req: SignBlobRequest = parse_json(body)?;
            let w = s.sim.world();
            let caller = authenticate(&w, clock, bearer(headers))?;
            sign_blob(&w, &caller, project, name, &req).map(|r| json_response(&r))
        }
        Verb::GenerateAccessToken => {
            let req: GenerateAccessTokenRequest = parse_json(body)?;
            let mut w = s.sim.world_mut();
            let caller = authenticate(&w, clock, bearer(headers))?;
            generate_access_token(&mut w, clock, &caller, project, name, &req)
                .map(|r| json_response(&r))
        }
        Verb::GenerateIdToken => {
            let req: GenerateIdTokenRequest = parse_json(body)?;
            let w = s.sim.world();
            let caller = authenticate(&w, clock, bearer(headers))?;
            generate_id_token(&w, clock, &caller, project, name, &req).map(|r| json_response(&r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn exp(e: &str) -> Result<(), GcpError> {
        check_jwt_payload(&format!(r#"{{"sub":"x","exp":{e}}}"#), NOW)
    }

    #[test]
    fn gcp_sign_jwt_exp_window_is_now_to_now_plus_12h() {
        assert!(exp(&NOW.to_string()).is_ok());
        assert!(exp(&(NOW + 43_200).to_string()).is_ok());
        assert!(exp(&(NOW + 43_201).to_string()).is_err());
        assert!(exp(&(NOW - 1).to_string()).is_err());
        assert!(exp("1.7e9").is_err());
        assert!(exp("\"1700000000\"").is_err());
        assert!(exp("18446744073709551615").is_err());
        assert!(check_jwt_payload(r#"{"sub":"x"}"#, NOW).is_ok());
        assert!(check_jwt_payload("[1]", NOW).is_err());
        assert!(check_jwt_payload("{", NOW).is_err());
        assert!(check_jwt_payload("", NOW).is_err());
    }

    #[test]
    fn gcp_proto_durations_parse() {
        assert_eq!(
            parse_proto_duration("lifetime", "3600s").unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            parse_proto_duration("lifetime", "1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(parse_proto_duration("lifetime", "3600").is_err());
        assert!(parse_proto_duration("lifetime", "-1s").is_err());
        assert!(parse_proto_duration("lifetime", "1e3s").is_err());
    }

    #[test]
    fn gcp_bytes_accept_both_base64_alphabets() {
        assert_eq!(decode_bytes("payload", "aGk=").unwrap(), b"hi");
        assert_eq!(decode_bytes("payload", "aGk").unwrap(), b"hi");
        assert_eq!(decode_bytes("payload", "-_8=").unwrap(), [0xfb, 0xff]);
        let e = decode_bytes("payload", "%%%").unwrap_err();
        assert_eq!(e.code, 400);
        assert!(e.message.contains("Base64 decoding failed"));
    }
}
