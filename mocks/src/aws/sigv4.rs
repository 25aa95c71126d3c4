//! STAND-IN for the SigV4 verifier another engineer is writing; it exists only so the mock AWS
//! compiles and its dispatch can be exercised. It has the verifier's API, finds the access key and
//! the credential scope, and checks the session token and its expiry, but it **does not verify
//! signatures, dates or skew**. Replace it with the real `sigv4.rs` as soon as that lands.

use std::time::{Duration, SystemTime};

/// The parts of a request that SigV4 signs.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The raw path as received (may be `//`).
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

/// What the verifier needs to know about an access key.
#[derive(Debug, Clone)]
pub struct Credential {
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub expired: bool,
}

pub trait CredentialLookup {
    fn lookup(&self, access_key_id: &str) -> Option<Credential>;
}

/// What the service expects of the credential scope.
#[derive(Debug)]
pub struct Expect<'a> {
    pub service: &'a str,
    /// Empty means any region.
    pub regions: &'a [&'a str],
    pub max_skew: Duration,
}

/// A request whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub presigned: bool,
    pub session_token: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SigV4Error {
    #[error("Request is missing Authentication Token")]
    Missing,
    #[error("{0}")]
    Incomplete(String),
    #[error("The security token included in the request is invalid")]
    InvalidToken,
    #[error("The security token included in the request is expired")]
    Expired,
    #[error("{0}")]
    Scope(String),
}

impl SigV4Error {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationToken",
            Self::Incomplete(_) => "IncompleteSignature",
            Self::InvalidToken => "InvalidClientTokenId",
            Self::Expired => "ExpiredToken",
            Self::Scope(_) => "SignatureDoesNotMatch",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Incomplete(_) => 400,
            _ => 403,
        }
    }

    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// STAND-IN: parses the credential and checks tokens; does not check the signature.
pub fn verify(
    req: &SignedRequest<'_>,
    creds: &dyn CredentialLookup,
    _now: SystemTime,
    expect: &Expect<'_>,
) -> Result<Verified, SigV4Error> {
    let header = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let query: Vec<(String, String)> = req
        .query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (credential, presigned, token) = if let Some(h) = header {
        let c = h
            .split(['\x20', ','])
            .find_map(|p| p.strip_prefix("Credential="))
            .ok_or_else(|| {
                SigV4Error::Incomplete(
                    "Authorization header requires 'Credential' parameter.".into(),
                )
            })?
            .to_owned();
        let token = req
            .headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (c, false, token)
    } else if let Some(c) = q("X-Amz-Credential") {
        (c, true, q("X-Amz-Security-Token"))
    } else {
        return Err(SigV4Error::Missing);
    };
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 {
        return Err(SigV4Error::Incomplete(format!("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'")));
    }
    if parts[3] != expect.service {
        return Err(SigV4Error::Scope(format!(
            "Credential should be scoped to correct service: '{}'. ",
            expect.service
        )));
    }
    if !expect.regions.is_empty() && !expect.regions.contains(&parts[2]) {
        return Err(SigV4Error::Scope(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            parts[2]
        )));
    }
    let cred = creds.lookup(parts[0]).ok_or(SigV4Error::InvalidToken)?;
    if cred.session_token.is_some() && cred.session_token != token {
        return Err(SigV4Error::InvalidToken);
    }
    if cred.expired {
        return Err(SigV4Error::Expired);
    }
    Ok(Verified {
        access_key_id: parts[0].to_owned(),
        date: parts[1].to_owned(),
        region: parts[2].to_owned(),
        service: parts[3].to_owned(),
        signed_headers: Vec::new(),
        presigned,
        session_token: token,
    })
}
