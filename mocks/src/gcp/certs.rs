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
use super::extract::{http_date, json_response, GcpPath};
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

pub fn jwks(keys: &[RsaKey]) -> Jwks {
    Jwks {
        keys: keys
            .iter()
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
pub fn account_keys(world: &World, account: &str) -> Result<Vec<RsaKey>, GcpError> {
    let sa = world.gcp.find_account(account).ok_or_else(|| {
        // UNVERIFIED: the status and wording of Google's answer for an unknown account.
        GcpError::not_found(format!("Service account {account} not found."))
    })?;
    let mut keys = sa.system_keys.clone();
    keys.extend(
        sa.user_keys
            .iter()
            .filter(|k| !k.disabled)
            .map(|k| k.key.clone()),
    );
    Ok(keys)
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

pub(crate) async fn oauth2_v1(State(s): State<GcpState>) -> Response {
    let keys = s.sim.world().gcp.google_keys.clone();
    cached(json_response(&x509_map(&keys)), s.sim.clock())
}

pub(crate) async fn oauth2_v3(State(s): State<GcpState>) -> Response {
    let keys = s.sim.world().gcp.google_keys.clone();
    cached(json_response(&jwks(&keys)), s.sim.clock())
}

pub(crate) async fn x509(
    State(s): State<GcpState>,
    GcpPath(account): GcpPath<String>,
) -> Result<Response, GcpError> {
    let keys = account_keys(&s.sim.world(), &account)?;
    Ok(cached(json_response(&x509_map(&keys)), s.sim.clock()))
}

pub(crate) async fn jwk(
    State(s): State<GcpState>,
    GcpPath(account): GcpPath<String>,
) -> Result<Response, GcpError> {
    let keys = account_keys(&s.sim.world(), &account)?;
    Ok(cached(json_response(&jwks(&keys)), s.sim.clock()))
}
