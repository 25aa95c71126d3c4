//! Mock AWS: STS and IAM (Query API), EC2 `DescribeInstances`, instance metadata, on one listener
//! (reference aws.md sections 4-6).
//!
//! Every path except `/latest/…` is the Query API: `POST /`, `POST //` (Vault forwards a client's
//! request to `sts_endpoint + "/" + "/"`, with the client's `Host` header), any other path, and
//! presigned `GET /?Action=…&X-Amz-…`. A request is first verified with SigV4 ([`sigv4`]); the
//! credential scope's service (`sts`, `iam`, `ec2`) picks the API and the `Action` parameter the
//! operation. Every answer, errors included, is XML with `Content-Type: text/xml` and an
//! `x-amzn-RequestId`, in the service's own error envelope. `/latest/…` is the instance metadata
//! service ([`imds`]), which has no SigV4 and answers in plain text and HTML as the real one does.
//!
//! **Not modelled:** regional STS endpoints (any region is accepted for `sts`); the `Version`
//! parameter (not checked); IAM policies (any authenticated principal may call the IAM reads and
//! `DescribeInstances` in its own account); request bodies other than form bodies (ignored); a
//! mock endpoint with a path prefix (the path is verified as received).

pub mod ec2;
pub mod error;
pub mod iam;
pub mod imds;
mod query;
pub mod sigv4;
pub mod sts;
mod xml;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use http::{header, HeaderMap};

use crate::sim::{Sim, MAX_BODY_BYTES};
use crate::world::aws::Principal;
use crate::world::World;
use error::{new_request_id, xml_response, AwsError};
use query::Params;
use sigv4::{Credential, CredentialLookup, Expect, SigV4Error, SignedRequest};

/// What the AWS handlers share.
#[derive(Clone, Debug)]
pub struct AwsState {
    pub sim: Sim,
    /// This listener's base URL (`http://127.0.0.1:4566`).
    pub base_url: Arc<str>,
}

impl AwsState {
    pub fn new(sim: Sim, base_url: String) -> Self {
        Self {
            sim,
            base_url: Arc::from(base_url),
        }
    }
}

/// The mock AWS listener's routes. Catch-all routes rather than a fallback: the listener wrapper
/// installs its own fallback, and every path here must get an AWS answer.
pub fn router(state: AwsState) -> Router {
    Router::new()
        .route("/latest", any(imds::handler))
        .route("/latest/", any(imds::handler))
        .route("/latest/{*rest}", any(imds::handler))
        .route("/", any(query_api))
        .route("/{*rest}", any(query_api))
        .with_state(state)
}

/// SigV4 skew window for every service (reference aws.md 4.4).
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The Query-API services, chosen by the SigV4 credential scope's service name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Sts,
    Iam,
    Ec2,
}

impl Service {
    pub fn from_scope(name: &str) -> Option<Self> {
        match name {
            "sts" => Some(Self::Sts),
            "iam" => Some(Self::Iam),
            "ec2" => Some(Self::Ec2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sts => "sts",
            Self::Iam => "iam",
            Self::Ec2 => "ec2",
        }
    }

    /// Regions the credential scope may name; empty is any.
    fn regions(self) -> &'static [&'static str] {
        match self {
            // IAM is global and signed for us-east-1 (reference aws.md 6.1).
            Self::Iam => &["us-east-1"],
            // STS: chosen by the Host header (`sts_region_for_host`); EC2 is regional: the
            // region picks the instances.
            Self::Sts | Self::Ec2 => &[],
        }
    }

    /// `e` in this service's error envelope.
    pub fn envelope(self, e: AwsError) -> AwsError {
        match self {
            Self::Sts => e,
            Self::Iam => e.iam(),
            Self::Ec2 => e.ec2(),
        }
    }

    /// A SigV4 failure as this service reports it.
    fn auth_error(self, e: &SigV4Error) -> AwsError {
        let code = e.code();
        if self == Self::Ec2 && matches!(code, "SignatureDoesNotMatch" | "InvalidClientTokenId") {
            return self.unknown_key();
        }
        AwsError::sender(e.status(), code, e.message())
    }

    /// The answer for an access key nobody owns.
    fn unknown_key(self) -> AwsError {
        if self == Self::Ec2 {
            // UNVERIFIED: EC2 answers bad signatures and unknown keys with 401 AuthFailure (moto
            // does; reference aws.md section 8), wording from the EC2 error-code list.
            return AwsError::sender(
                401,
                "AuthFailure",
                "AWS was not able to validate the provided access credentials",
            );
        }
        AwsError::sender(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid",
        )
    }
}

/// An authenticated Query-API request, ready for an operation.
#[derive(Debug)]
pub struct Call<'a> {
    pub caller: Principal,
    pub access_key_id: String,
    /// The credential scope's region.
    pub region: String,
    pub(crate) params: Params,
    pub headers: &'a HeaderMap,
    pub request_id: String,
}

/// Access keys as the SigV4 verifier sees them: long-term keys (never expired, inactive ones
/// unknown) and temporary ones with their session token and expiry.
#[derive(Debug)]
pub struct WorldCredentials<'a> {
    pub world: &'a World,
    pub now: SystemTime,
}

impl CredentialLookup for WorldCredentials<'_> {
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        let aws = &self.world.aws;
        if let Some(k) = aws.access_keys.get(access_key_id) {
            return k.active.then(|| Credential {
                secret_access_key: k.secret.clone(),
                session_token: None,
                expired: false,
            });
        }
        aws.sessions.get(access_key_id).map(|s| Credential {
            secret_access_key: s.secret.clone(),
            session_token: Some(s.token.clone()),
            expired: self.now >= s.expires,
        })
    }
}

/// The service named in the request's credential scope (header or presigned query), if any.
fn scope_service(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let from_credential = |c: &str| c.split('/').nth(3).map(str::to_owned);
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let start = auth.find("Credential=")? + "Credential=".len();
        let rest = &auth[start..];
        let end = rest.find([',', ' ']).unwrap_or(rest.len());
        return from_credential(&rest[..end]);
    }
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "X-Amz-Credential")
        .and_then(|(_, v)| from_credential(&v))
}

/// The one region an STS request's credential scope may name, from the Host header the client
/// signed (Vault forwards it unchanged, reference aws.md 1.5): the global endpoint
/// `sts.amazonaws.com` takes only `us-east-1`, a regional `sts.<region>.amazonaws.com[.cn]` only
/// its region (`Credential should be scoped to a valid region, not '<r>'. `, reference aws.md 4.4,
/// vault#11067, vault#7397, vault PR#6268). Any other host (the mock's own address) takes any
/// region.
fn sts_region_for_host(host: &str) -> Option<String> {
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    if host == "sts.amazonaws.com" {
        return Some("us-east-1".into());
    }
    let rest = host.strip_prefix("sts.")?;
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_owned())
}

/// Whether a body is a Query form (`application/x-www-form-urlencoded`, any parameters, or no
/// content type at all).
fn is_form(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) {
        None => true,
        Some(Ok(ct)) => ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        }),
        Some(Err(_)) => false,
    }
}

async fn query_api(State(state): State<AwsState>, req: Request) -> Response {
    let request_id = new_request_id();
    let (parts, body) = req.into_parts();
    let service = scope_service(&parts.headers, parts.uri.query())
        .as_deref()
        .and_then(Service::from_scope)
        .unwrap_or(Service::Sts);
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return service
                .envelope(AwsError::sender(
                    413,
                    "RequestEntityTooLarge",
                    format!("Request body must be at most {MAX_BODY_BYTES} bytes"),
                ))
                .into_response_with_id(&request_id)
        }
    };
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
    };
    match answer(&state, service, &signed, request_id.clone()) {
        Ok(resp) => resp,
        Err(e) => service.envelope(e).into_response_with_id(&request_id),
    }
}

/// Verifies, decodes and dispatches one Query-API request.
fn answer(
    state: &AwsState,
    service: Service,
    req: &SignedRequest<'_>,
    request_id: String,
) -> Result<Response, AwsError> {
    let now = state.sim.clock().now();
    let (verified, caller) = {
        let world = state.sim.world();
        let sts_region = (service == Service::Sts)
            .then(|| req.headers.get(header::HOST))
            .flatten()
            .and_then(|h| h.to_str().ok())
            .and_then(sts_region_for_host);
        let sts_regions: Option<[&str; 1]> = sts_region.as_deref().map(|r| [r]);
        let expect = Expect {
            service: service.name(),
            regions: sts_regions.as_ref().map_or(service.regions(), |r| &r[..]),
            max_skew: MAX_SKEW,
        };
        let creds = WorldCredentials { world: &world, now };
        let verified =
            sigv4::verify(req, &creds, now, &expect).map_err(|e| service.auth_error(&e))?;
        let caller = world.aws.principal_for_key(&verified.access_key_id);
        (verified, caller)
    };
    // A key whose owner is gone (a deleted user) is as unknown as a key never issued.
    let caller = caller.ok_or_else(|| service.unknown_key())?;
    let body = (req.method != "GET" && is_form(req.headers)).then_some(req.body);
    let params = Params::parse(req.query, body)?;
    let Some(action) = params.get("Action").map(str::to_owned) else {
        return Err(AwsError::missing_action());
    };
    let call = Call {
        caller,
        access_key_id: verified.access_key_id,
        region: verified.region,
        params,
        headers: req.headers,
        request_id,
    };
    match service {
        Service::Sts => sts::handle(state, &action, &call),
        Service::Iam => iam::handle(state, &action, &call),
        Service::Ec2 => ec2::handle(state, &action, &call),
    }
}

/// A 200 XML answer.
pub(crate) fn ok_xml(body: String, call: &Call<'_>) -> Response {
    xml_response(200, body, &call.request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_scope_regions_follow_the_signed_host() {
        assert_eq!(
            sts_region_for_host("sts.amazonaws.com").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            sts_region_for_host("STS.amazonaws.com:443").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            sts_region_for_host("sts.eu-west-2.amazonaws.com").as_deref(),
            Some("eu-west-2")
        );
        assert_eq!(
            sts_region_for_host("sts.cn-north-1.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(sts_region_for_host("127.0.0.1:4566"), None);
        assert_eq!(sts_region_for_host("sts.example.com"), None);
        assert_eq!(sts_region_for_host("sts.a.b.amazonaws.com"), None);
    }
}
