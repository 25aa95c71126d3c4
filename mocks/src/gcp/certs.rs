//! Google's public-key endpoints (served on `www.googleapis.com`), reference gcp.md 1.4 and 6.3.
//!
//! Upstream: <https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/signJwt>
//! (where signJwt keys are published) and <https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken>.
//!
//! Endpoints (all `GET`, no authentication, unknown query parameters such as `alt=json` ignored):
//! - `/oauth2/v1/certs`: `{kid: certificate PEM}` of Google's OAuth2 keys (ID tokens).
//! - `/oauth2/v3/certs`: the same keys as a JWKS.
//! - `/service_accounts/v1/metadata/x509/{email-or-uniqueId}`: `{kid: certificate PEM}` of the
//!   account's Google-managed keys **and** its enabled user-managed keys, so JWTs from signJwt and
//!   self-signed JWTs from a key file both verify (reference gcp.md 1.4).
//! - `/service_accounts/v1/metadata/jwk/{email-or-uniqueId}`: the same keys as a JWKS.
//!
//! Responses carry `Cache-Control` and `Expires` like Google's (6 hours here).
//!
//! **Not modelled:** `/service_accounts/v1/metadata/raw/{email}` (format UNVERIFIED), key rotation
//! (Google rotates its keys every couple of weeks; the world's keys are fixed), ETags and
//! conditional requests. Whether Google accepts a numeric unique id on the x509/jwk endpoints is
//! UNVERIFIED; this mock accepts both.

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use http::{header, HeaderValue};
use serde::{Deserialize, Serialize};

use super::error::GcpError;
use super::extract::{http_date, json_response, json_text_response, GcpPath};
use super::GcpState;
use crate::clock::Clock;
use crate::world::{RsaKey, World};

/// How long clients may cache the keys.
const MAX_AGE_SECS: u64 = 21_600;

// ------------------------------------------------------------------------------------ wire types

/// A JSON Web Key Set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub kid: String,
    pub n: String,
    pub e: String,
}

// ------------------------------------------------------------------------------- the rules

/// `{kid: certificate PEM}` for `keys`, in order.
pub fn x509_map(keys: &[RsaKey]) -> serde_json::Map<String, serde_json::Value> {
    keys.iter()
        .map(|k| (k.key_id().to_owned(), k.material().cert_pem.clone().into()))
        .collect()
}

/// The JSON text of [`x509_map`] for `keys`, byte for byte, built from each key's PEM escaped once
/// ([`crate::world::KeyMaterial::cert_pem_json`]): Vault fetches these bodies on every GCP login,
/// and escaping the PEMs again each time was a tenth of the login's work outside RSA.
pub fn x509_body<'a>(keys: impl IntoIterator<Item = &'a RsaKey>) -> String {
    let mut body = String::from("{");
    for k in keys {
        if body.len() > 1 {
            body.push(',');
        }
        // Key ids are 40 hex digits (`RsaKey::derive`), distinct by derivation: nothing to escape,
        // no repeated key for a map to fold.
        body.push('"');
        body.push_str(k.key_id());
        body.push_str("\":");
        body.push_str(&k.material().cert_pem_json);
    }
    body.push('}');
    body
}

pub fn jwks<'a>(keys: impl IntoIterator<Item = &'a RsaKey>) -> Jwks {
    Jwks {
        keys: keys
            .into_iter()
            .map(|k| {
                let m = k.material();
                Jwk {
                    kty: "RSA".into(),
                    alg: "RS256".into(),
                    use_: "sig".into(),
                    kid: k.key_id().to_owned(),
                    n: m.n.clone(),
                    e: m.e.clone(),
                }
            })
            .collect(),
    }
}

/// The keys published for an account: Google-managed first, then enabled user-managed keys.
pub fn account_keys<'w>(
    world: &'w World,
    account: &str,
) -> Result<impl Iterator<Item = &'w RsaKey>, GcpError> {
    let sa = world.gcp.find_account(account).ok_or_else(|| {
        // UNVERIFIED: the status and wording of Google's answer for an unknown account.
        GcpError::not_found(format!("Service account {account} not found."))
    })?;
    Ok(sa
        .system_keys
        .iter()
        .chain(sa.user_keys.iter().filter(|k| !k.disabled).map(|k| &k.key)))
}

// ------------------------------------------------------------------------------------ handlers

fn cached(mut resp: Response, clock: &dyn Clock) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=21600, must-revalidate, no-transform"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&http_date(clock.now() + Duration::from_secs(MAX_AGE_SECS)))
    {
        h.insert(header::EXPIRES, v);
    }
    resp
}

// Each handler takes its keys out of the world's lock before it reads their material, which a key
// that was never used before generates (slow).

pub(crate) async fn oauth2_v1(State(s): State<GcpState>) -> Response {
    let keys = s.sim.world().gcp.google_keys.clone();
    cached(json_text_response(x509_body(&keys)), s.sim.clock())
}

pub(crate) async fn oauth2_v3(State(s): State<GcpState>) -> Response {
    let keys = s.sim.world().gcp.google_keys.clone();
    cached(json_response(&jwks(&keys)), s.sim.clock())
}

pub(crate) async fn x509(
    State(s): State<GcpState>,
    GcpPath(account): GcpPath<String>,
) -> Result<Response, GcpError> {
    let keys: Vec<RsaKey> = account_keys(&s.sim.world(), &account)?.cloned().collect();
    Ok(cached(json_text_response(x509_body(&keys)), s.sim.clock()))
}

pub(crate) async fn jwk(
    State(s): State<GcpState>,
    GcpPath(account): GcpPath<String>,
) -> Result<Response, GcpError> {
    let keys: Vec<RsaKey> = account_keys(&s.sim.world(), &account)?.cloned().collect();
    Ok(cached(json_response(&jwks(&keys)), s.sim.clock()))
}
