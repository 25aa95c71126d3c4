//! EC2 instance metadata service (IMDS), answered for the world's `imds_instance`
//! (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html>;
//! reference aws.md 6.2, 3). No SigV4; plain-text answers, HTML error pages, as the real service.
//!
//! Endpoints covered: `PUT /latest/api/token` (IMDSv2, `X-aws-ec2-metadata-token-ttl-seconds`
//! 1-21600); `GET /latest/`, `/latest/meta-data/` and its `ami-id`, `instance-id`,
//! `instance-type`, `local-ipv4`, `local-hostname`, `placement/{availability-zone,region}`,
//! `iam/info`, `iam/security-credentials/[<role>]`; `/latest/dynamic/instance-identity/`
//! `document`, `signature`, `pkcs7`, `rsa2048`. Requests without a token are IMDSv1 and are answered unless the
//! world sets `imds_v1_allowed = false`.
//!
//! **Not modelled:** `user-data`, network interfaces (`mac`, `network/…`), `public-*`, tags,
//! spot/events, `iam/security-credentials` rotation schedule beyond "new credentials when less
//! than 15 minutes remain", the hop limit, `/latest/api/token` over IPv6. `pkcs7` is signed with
//! the same RSA identity key as `rsa2048` (AWS signs `pkcs7` with a DSA key); register the
//! identity certificate with Vault's `config/certificate` for either.

use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::{header, HeaderValue, Method, StatusCode};

use super::AwsState;
use crate::clock::{rfc3339, Clock};
use crate::world::aws::{Ec2Instance, Principal};
use crate::world::World;

/// How long instance-role credentials live (reference aws.md 6.2: six hours).
pub const CREDENTIAL_LIFETIME: Duration = Duration::from_secs(6 * 3600);
/// Credentials are renewed when less than this remains.
pub const CREDENTIAL_REFRESH: Duration = Duration::from_secs(15 * 60);
/// IMDSv2 token TTL bounds.
pub const TOKEN_TTL_MAX: u32 = 21_600;

pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
pub const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";

// ------------------------------------------------------------------------------- wire types

/// A metadata answer: plain text (JSON documents are served as text too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer(pub String);

/// The metadata service's failures; each is an HTML page with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImdsError {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
}

impl ImdsError {
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad Request",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not Found",
            Self::MethodNotAllowed => "Method Not Allowed",
        }
    }

    /// The page the real service serves (an XHTML document titled `404 - Not Found`).
    // UNVERIFIED: layout recalled from the real service's 404 page; AEMM serves similar pages.
    pub fn page(self) -> String {
        let title = format!("{} - {}", self.status(), self.reason());
        format!(
            "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n"
        )
    }
}

impl IntoResponse for ImdsError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::NOT_FOUND);
        let mut resp = (status, self.page()).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        h.insert(header::SERVER, HeaderValue::from_static("EC2ws"));
        resp
    }
}

// ------------------------------------------------------------------------------- operations

/// `PUT /latest/api/token`: a session token for `ttl` seconds (the header's raw value).
pub fn issue_token(
    world: &mut World,
    clock: &dyn Clock,
    ttl: Option<&str>,
) -> Result<(String, u32), ImdsError> {
    let ttl: u32 = ttl
        .and_then(|t| t.trim().parse().ok())
        .filter(|t| (1..=TOKEN_TTL_MAX).contains(t))
        .ok_or(ImdsError::BadRequest)?;
    if world.aws.imds_instance.is_none() {
        return Err(ImdsError::NotFound);
    }
    let expires = clock.now() + Duration::from_secs(ttl.into());
    Ok((world.aws.issue_imds_token(expires), ttl))
}

/// Whether a GET may be answered: a valid token, or no token while IMDSv1 is allowed.
pub fn authorize(world: &World, clock: &dyn Clock, token: Option<&str>) -> Result<(), ImdsError> {
    match token {
        Some(t) if world.aws.imds_token_valid(t, clock.now()) => Ok(()),
        Some(_) => Err(ImdsError::Unauthorized),
        None if world.aws.imds_v1_allowed => Ok(()),
        None => Err(ImdsError::Unauthorized),
    }
}

/// AWS's pretty JSON: two-space indent and `" : "` between name and value; `None` is `null`.
// UNVERIFIED: the layout follows documented examples of the identity document and credentials.
fn aws_json(fields: &[(&str, Option<&str>)]) -> String {
    let lines: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            let v = v.map_or_else(|| "null".to_owned(), |s| serde_json::json!(s).to_string());
            format!("  \"{k}\" : {v}")
        })
        .collect();
    format!("{{\n{}\n}}", lines.join(",\n"))
}

/// The instance identity document, byte for byte as served and signed.
pub fn identity_document(i: &Ec2Instance) -> String {
    let pending = rfc3339(i.launched);
    aws_json(&[
        ("accountId", Some(&i.account)),
        ("architecture", Some("x86_64")),
        ("availabilityZone", Some(&i.availability_zone)),
        ("billingProducts", None),
        ("devpayProductCodes", None),
        ("marketplaceProductCodes", None),
        ("imageId", Some(&i.ami)),
        ("instanceId", Some(&i.id)),
        ("instanceType", Some(&i.instance_type)),
        ("kernelId", None),
        ("pendingTime", Some(&pending)),
        ("privateIp", Some(&i.private_ip)),
        ("ramdiskId", None),
        ("region", Some(&i.region)),
        ("version", Some("2017-09-30")),
    ])
}

/// The instance's profile (name, id, account) and the profile's role name, if any.
fn profile_of(world: &World, i: &Ec2Instance) -> Option<(String, String, Option<String>)> {
    let p = world
        .aws
        .accounts
        .get(&i.account)?
        .instance_profiles
        .get(i.profile.as_deref()?)?;
    Some((p.name.clone(), p.id.clone(), p.role.clone()))
}

/// Answers `GET /latest/<path>` (`path` without the `/latest` prefix, e.g. `/meta-data/ami-id`).
pub fn get(world: &mut World, clock: &dyn Clock, path: &str) -> Result<Answer, ImdsError> {
    let instance = world
        .aws
        .imds_instance
        .as_ref()
        .and_then(|id| world.aws.instances.get(id))
        .cloned()
        .ok_or(ImdsError::NotFound)?;
    let i = &instance;
    let profile = profile_of(world, i);
    let role = profile.as_ref().and_then(|p| p.2.clone());
    let text = |s: &str| Ok(Answer(s.to_owned()));
    // Directories answer with or without their trailing slash.
    let path = path.trim_start_matches('/');
    let dir = path.strip_suffix('/').unwrap_or(path);
    match dir {
        "" => text("dynamic\nmeta-data"),
        "meta-data" => {
            let mut entries = vec![
                "ami-id",
                "hostname",
                "instance-id",
                "instance-type",
                "local-hostname",
                "local-ipv4",
                "placement/",
            ];
            if profile.is_some() {
                entries.insert(1, "iam/");
            }
            text(&entries.join("\n"))
        }
        "meta-data/ami-id" => text(&i.ami),
        "meta-data/instance-id" => text(&i.id),
        "meta-data/instance-type" => text(&i.instance_type),
        "meta-data/local-ipv4" => text(&i.private_ip),
        "meta-data/hostname" | "meta-data/local-hostname" => {
            let host = format!("ip-{}", i.private_ip.replace('.', "-"));
            if i.region == "us-east-1" {
                text(&format!("{host}.ec2.internal"))
            } else {
                text(&format!("{host}.{}.compute.internal", i.region))
            }
        }
        "meta-data/placement" => text("availability-zone\nregion"),
        "meta-data/placement/availability-zone" => text(&i.availability_zone),
        "meta-data/placement/region" => text(&i.region),
        "meta-data/iam" if profile.is_some() => text("info\nsecurity-credentials/"),
        "meta-data/iam/info" => {
            let (name, id, _) = profile.as_ref().ok_or(ImdsError::NotFound)?;
            let p = &world.aws.accounts[&i.account].instance_profiles[name];
            let arn = crate::world::aws::instance_profile_arn(&i.account, &p.path, &p.name);
            let updated = rfc3339(clock.now());
            Ok(Answer(aws_json(&[
                ("Code", Some("Success")),
                ("LastUpdated", Some(&updated)),
                ("InstanceProfileArn", Some(&arn)),
                ("InstanceProfileId", Some(id)),
            ])))
        }
        "meta-data/iam/security-credentials" => match &role {
            Some(r) => text(r),
            None => Err(ImdsError::NotFound),
        },
        p if p.starts_with("meta-data/iam/security-credentials/") => {
            let asked = &p["meta-data/iam/security-credentials/".len()..];
            let Some(r) = role.filter(|r| r == asked) else {
                return Err(ImdsError::NotFound);
            };
            if !world
                .aws
                .accounts
                .get(&i.account)
                .is_some_and(|a| a.roles.contains_key(&r))
            {
                return Err(ImdsError::NotFound);
            }
            let now = clock.now();
            let principal = Principal::AssumedRole {
                account: i.account.clone(),
                role: r,
                session: i.id.clone(),
            };
            let s = world.aws.instance_role_session(
                principal,
                now,
                CREDENTIAL_REFRESH,
                now + CREDENTIAL_LIFETIME,
            );
            let issued = s
                .expires
                .checked_sub(CREDENTIAL_LIFETIME)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            Ok(Answer(aws_json(&[
                ("Code", Some("Success")),
                ("LastUpdated", Some(&rfc3339(issued))),
                ("Type", Some("AWS-HMAC")),
                ("AccessKeyId", Some(&s.id)),
                ("SecretAccessKey", Some(&s.secret)),
                ("Token", Some(&s.token)),
                ("Expiration", Some(&rfc3339(s.expires))),
            ])))
        }
        "dynamic" => text("instance-identity/"),
        "dynamic/instance-identity" => text("document\npkcs7\nrsa2048\nsignature"),
        "dynamic/instance-identity/document" => Ok(Answer(identity_document(i))),
        "dynamic/instance-identity/signature" => {
            let doc = identity_document(i);
            Ok(Answer(
                STANDARD.encode(world.aws.identity_key.sign(doc.as_bytes())),
            ))
        }
        "dynamic/instance-identity/pkcs7" | "dynamic/instance-identity/rsa2048" => {
            let doc = identity_document(i);
            let der = identity_pkcs7(&world.aws.identity_key, doc.as_bytes(), clock.now())
                .map_err(|_| ImdsError::NotFound)?;
            Ok(Answer(base64_lines(&der)))
        }
        _ => Err(ImdsError::NotFound),
    }
}

/// Base64 in 64-column lines, as IMDS serves `pkcs7` (reference aws.md 6.2).
fn base64_lines(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    lines.join("\n")
}

/// A PKCS#7 (CMS) SignedData over the identity document, DER: the document as `id-data`
/// content, one SHA-256/RSA signer named by the identity certificate's issuer and serial, signed
/// attributes content-type, message-digest and signing-time (from `signing_time`), no
/// certificates, as the IMDS `pkcs7`/`rsa2048` documents are.
pub fn identity_pkcs7(
    key: &crate::world::RsaKey,
    document: &[u8],
    signing_time: SystemTime,
) -> Result<Vec<u8>, String> {
    use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
    use cms::cert::x509::der::asn1::{OctetString, SetOfVec, UtcTime};
    use cms::cert::x509::der::{Any, Decode, Encode};
    use cms::cert::x509::spki::{AlgorithmIdentifierOwned, ObjectIdentifier};
    use cms::cert::x509::Certificate;
    use cms::cert::IssuerAndSerialNumber;
    use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
    use rsa::pkcs8::DecodePrivateKey;

    const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
    const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
    const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
    fn e<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
        move |err| format!("{what}: {err}")
    }

    let m = key.material();
    let cert_der = STANDARD
        .decode(
            m.cert_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .map_err(|err| format!("certificate base64: {err}"))?;
    let cert = Certificate::from_der(&cert_der).map_err(e("certificate"))?;
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(&m.private_key_pem)
        .map_err(|err| format!("private key: {err}"))?;
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private);

    let content = EncapsulatedContentInfo {
        econtent_type: ID_DATA,
        econtent: Some(
            Any::encode_from(&OctetString::new(document).map_err(e("content"))?)
                .map_err(e("content"))?,
        ),
    };
    let digest = AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: None,
    };
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: cert.tbs_certificate.issuer.clone(),
        serial_number: cert.tbs_certificate.serial_number.clone(),
    });
    let mut signer_info = SignerInfoBuilder::new(&signer, sid, digest.clone(), &content, None)
        .map_err(e("signer"))?;
    let time = UtcTime::from_system_time(signing_time).map_err(e("signing time"))?;
    let mut values = SetOfVec::new();
    values
        .insert(Any::encode_from(&time).map_err(e("signing time"))?)
        .map_err(e("signing time"))?;
    signer_info
        .add_signed_attribute(cms::cert::x509::attr::Attribute {
            oid: ID_SIGNING_TIME,
            values,
        })
        .map_err(e("signing time"))?;
    SignedDataBuilder::new(&content)
        .add_digest_algorithm(digest)
        .map_err(e("digest"))?
        .add_signer_info::<_, rsa::pkcs1v15::Signature>(signer_info)
        .map_err(e("signature"))?
        .build()
        .map_err(e("signed data"))?
        .to_der()
        .map_err(e("encoding"))
}

// ------------------------------------------------------------------------------- handler

fn text_response(body: String) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(header::SERVER, HeaderValue::from_static("EC2ws"));
    resp
}

pub(crate) async fn handler(State(state): State<AwsState>, req: Request) -> Response {
    let path = req.uri().path();
    let rest = path.strip_prefix("/latest").unwrap_or(path).to_owned();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let clock = state.sim.clock();
    if rest == "/api/token" {
        if req.method() != Method::PUT {
            return ImdsError::MethodNotAllowed.into_response();
        }
        // IMDSv2 refuses token requests that went through a proxy (AWS user guide; status
        // UNVERIFIED).
        if req.headers().contains_key("x-forwarded-for") {
            return ImdsError::Forbidden.into_response();
        }
        let ttl = header(TTL_HEADER);
        return match issue_token(&mut state.sim.world_mut(), clock, ttl.as_deref()) {
            Ok((token, ttl)) => {
                // The TTL is echoed back (reference aws.md 6.2; whether SDKs need it UNVERIFIED).
                let mut resp = text_response(token);
                resp.headers_mut()
                    .insert(TTL_HEADER, HeaderValue::from(ttl));
                resp
            }
            Err(e) => e.into_response(),
        };
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return ImdsError::MethodNotAllowed.into_response();
    }
    let token = header(TOKEN_HEADER);
    let mut world = state.sim.world_mut();
    if let Err(e) = authorize(&world, clock, token.as_deref()) {
        return e.into_response();
    }
    match get(&mut world, clock, &rest) {
        Ok(Answer(body)) => text_response(body),
        Err(e) => e.into_response(),
    }
}
