//! Google's OAuth 2.0 token endpoint, JWT-bearer grant (what a key file's `token_uri` receives),
//! reference gcp.md 6.5.
//!
//! Upstream: <https://developers.google.com/identity/protocols/oauth2/service-account#httprest>
//!
//! Endpoints: `POST /token` (also `/o/oauth2/token` and `/oauth2/v4/token`, the older paths) with
//! the form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWS>`.
//!
//! The assertion must be RS256-signed by a key of the account named in `iss`: one of its enabled
//! user-managed keys (a key file), or a Google-managed key (a JWT from signJwt, which Google also
//! accepts), chosen by the header `kid`. `aud` must be this mock's token URL or one of Google's
//! (`https://oauth2.googleapis.com/token`, `https://accounts.google.com/o/oauth2/token`,
//! `https://www.googleapis.com/oauth2/v4/token`): Vault's key-file handling drops `token_uri` and
//! go-gcp-common hard-codes the accounts.google.com URL (reference gcp.md 1.5.1, 6.5), so a mock
//! that insisted on its own URL would refuse real clients' assertions. `exp - iat` may be at most
//! 3600 s, `iat` at most 60 s ahead of the clock, and `exp` in the future. With a
//! `target_audience` claim the answer is a Google-signed ID token instead of an access token.
//!
//! Errors use OAuth's own body (`{"error","error_description"}`), not the googleapis envelope.
//!
//! **Not modelled:** domain-wide delegation (`sub`), the authorization-code, refresh-token and
//! token-exchange (STS) grants, client authentication, the `scope` member in responses, rate
//! limits, and Google's exact clock-skew allowance (UNVERIFIED; 60 s here).

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{header, HeaderValue};
use ring::signature::KeyPair as _;
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use super::extract::{json_response, unix};
use super::iam_credentials::{google_id_token, IdTokenClaims};
use super::GcpState;
use crate::clock::Clock;
use crate::world::{RsaKey, World};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's token URLs that assertions may name besides this mock's own.
pub const GOOGLE_TOKEN_URLS: &[&str] = &[
    "https://oauth2.googleapis.com/token",
    "https://accounts.google.com/o/oauth2/token",
    "https://www.googleapis.com/oauth2/v4/token",
];
/// The paths this mock serves the token endpoint on.
pub const TOKEN_PATHS: &[&str] = &["/token", "/o/oauth2/token", "/oauth2/v4/token"];
/// Longest assertion lifetime Google accepts.
pub const MAX_ASSERTION_SECS: i64 = 3600;
/// How far `iat` may be ahead of the clock (UNVERIFIED).
pub const IAT_SKEW_SECS: i64 = 60;

const SHORT_LIVED: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";
const BAD_SIGNATURE: &str = "Invalid JWT Signature.";

// ------------------------------------------------------------------------------------ wire types

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub token_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenResponse {
    pub id_token: String,
}

/// What a successful exchange yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Grant {
    Access(TokenResponse),
    Id(IdTokenResponse),
}

// ------------------------------------------------------------------------------- the rules

/// Whether `aud` names a token endpoint this mock stands in for.
pub fn accepted_audience(aud: &str, base_url: &str) -> bool {
    GOOGLE_TOKEN_URLS.contains(&aud)
        || TOKEN_PATHS
            .iter()
            .any(|p| aud.strip_prefix(base_url) == Some(p))
}

fn decode_part(part: &str) -> Option<serde_json::Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn verifies(key: &RsaKey, signing_input: &[u8], signature: &[u8]) -> bool {
    let m = key.material();
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        m.ring_key().public_key().as_ref(),
    )
    .verify(signing_input, signature)
    .is_ok()
}

/// The JWT-bearer exchange: `form` is the decoded request body.
pub fn exchange(
    world: &mut World,
    clock: &dyn Clock,
    base_url: &str,
    form: &[(String, String)],
) -> Result<Grant, OAuthError> {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let grant_type = field("grant_type").unwrap_or("");
    if grant_type != JWT_BEARER {
        // UNVERIFIED wording.
        return Err(OAuthError::new(
            "unsupported_grant_type",
            format!("Invalid grant_type: {grant_type}"),
        ));
    }
    let Some(assertion) = field("assertion").filter(|a| !a.is_empty()) else {
        // UNVERIFIED wording.
        return Err(OAuthError::new(
            "invalid_request",
            "Missing required parameter: assertion",
        ));
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Err(OAuthError::invalid_grant(BAD_SIGNATURE));
    };
    let (Some(header), Some(claims), Ok(signature)) = (
        decode_part(h),
        decode_part(c),
        URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')),
    ) else {
        return Err(OAuthError::invalid_grant(BAD_SIGNATURE));
    };
    if header["alg"] != "RS256" {
        return Err(OAuthError::invalid_grant(BAD_SIGNATURE));
    }
    // A deleted or disabled account: what Google's token endpoint answers for either.
    let account = claims["iss"]
        .as_str()
        .and_then(|iss| world.gcp.find_account(iss))
        .filter(|sa| !sa.disabled)
        .ok_or_else(|| OAuthError::invalid_grant("Invalid grant: account not found"))?;
    let mut keys = account.system_keys.iter().chain(
        account
            .user_keys
            .iter()
            .filter(|k| !k.disabled)
            .map(|k| &k.key),
    );
    let signing_input = &assertion.as_bytes()[..h.len() + 1 + c.len()];
    let signed = match header["kid"].as_str() {
        Some(kid) => keys
            .find(|k| k.key_id() == kid)
            .is_some_and(|k| verifies(k, signing_input, &signature)),
        None => keys.any(|k| verifies(k, signing_input, &signature)),
    };
    if !signed {
        return Err(OAuthError::invalid_grant(BAD_SIGNATURE));
    }
    if !claims["aud"]
        .as_str()
        .is_some_and(|a| accepted_audience(a, base_url))
    {
        // UNVERIFIED wording.
        return Err(OAuthError::invalid_grant(
            "Invalid JWT: Failed audience check.",
        ));
    }
    let now = clock.unix();
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(OAuthError::invalid_grant(SHORT_LIVED));
    };
    if exp - iat > MAX_ASSERTION_SECS || exp <= iat || iat - IAT_SKEW_SECS > now || exp <= now {
        return Err(OAuthError::invalid_grant(SHORT_LIVED));
    }
    let email = account.email.clone();
    if let Some(audience) = claims["target_audience"].as_str() {
        let id_token = google_id_token(
            world,
            &IdTokenClaims {
                audience,
                account,
                include_email: true,
                compute_engine: None,
                now: unix(clock.now()),
            },
        )
        .map_err(|e| OAuthError {
            status: 500,
            error: "internal_failure",
            description: e.message,
        })?;
        return Ok(Grant::Id(IdTokenResponse { id_token }));
    }
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(OAuthError::new(
            "invalid_scope",
            "Empty or missing scope not allowed.",
        ));
    }
    let expires = clock.now() + Duration::from_secs(3600);
    let access_token = world.gcp.issue_token(&email, scopes, expires);
    Ok(Grant::Access(TokenResponse {
        access_token,
        expires_in: 3599,
        token_type: "Bearer".into(),
    }))
}

// ------------------------------------------------------------------------------------- handler

pub(crate) async fn token(State(s): State<GcpState>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let result = exchange(&mut s.sim.world_mut(), s.sim.clock(), &s.base_url, &form);
    let mut resp = match result {
        Ok(Grant::Access(t)) => json_response(&t),
        Ok(Grant::Id(t)) => json_response(&t),
        Err(e) => return e.into_response(),
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}
