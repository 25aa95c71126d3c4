//! Mock Google Cloud, driven socket-free through its router (plus one test on a real socket).

mod certs;
mod compute;
mod iam;
mod iam_credentials;
mod metadata;
mod oauth2;
mod real_socket;
mod resource_manager;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use authsim_mocks::clock::{Clock, ManualClock};
use authsim_mocks::gcp::{router, GcpState};
use authsim_mocks::sim::{wrap, ListenerCtx, Upstream};
use authsim_mocks::{worldfile, Sim};
use axum::body::Body;
use axum::Router;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

pub(crate) const NOW: u64 = 1_700_000_000;
pub(crate) const BASE: &str = "http://google.mock";
pub(crate) const PROJECT: &str = "authsim-demo";
pub(crate) const APP: &str = "app@authsim-demo.iam.gserviceaccount.com";
pub(crate) const CI: &str = "ci-runner@authsim-demo.iam.gserviceaccount.com";
pub(crate) const VAULT: &str = "vault-server@authsim-demo.iam.gserviceaccount.com";
pub(crate) const LEGACY: &str = "legacy@authsim-demo.iam.gserviceaccount.com";
pub(crate) const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The default world under a manual clock, behind the Google router as `serve` wraps it.
pub(crate) struct Env {
    pub sim: Sim,
    pub clock: Arc<ManualClock>,
    pub app: Router,
}

pub(crate) fn env() -> Env {
    let clock = Arc::new(ManualClock::at_unix(NOW));
    let sim = Sim::new(worldfile::default_world(UNIX_EPOCH), clock.clone());
    let app = wrap(
        router(GcpState::new(sim.clone(), BASE.to_owned())),
        ListenerCtx {
            sim: sim.clone(),
            upstream: Upstream::Google,
            admin_token: None,
        },
    );
    Env { sim, clock, app }
}

/// A response, with the body parsed as JSON when it is JSON (else a JSON string).
#[derive(Debug)]
pub(crate) struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Env {
    /// An access token for `email`, valid for an hour, as the mock's token endpoint would issue.
    pub(crate) fn token(&self, email: &str) -> String {
        let expires = self.clock.now() + Duration::from_secs(3600);
        self.sim
            .world_mut()
            .gcp
            .issue_token(email, vec![CLOUD_PLATFORM.into()], expires)
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.unix()
    }

    pub(crate) async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let mut b = Request::get(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    pub(crate) async fn post_raw(&self, path: &str, token: Option<&str>, body: &[u8]) -> Resp {
        let mut b = Request::post(path).header("content-type", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.send(b.body(Body::from(body.to_vec())).unwrap()).await
    }

    pub(crate) async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.post_raw(path, token, body.to_string().as_bytes())
            .await
    }

    pub(crate) async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        let mut b = Request::delete(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }
}

/// Asserts a Google error envelope with this code and status; returns the message.
#[track_caller]
pub(crate) fn google_error(r: &Resp, code: u16, status: &str) -> String {
    assert_eq!(r.status.as_u16(), code, "body: {}", r.text);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "content type of {}",
        r.text
    );
    let e = &r.json["error"];
    assert_eq!(e["code"], code, "body: {}", r.text);
    assert_eq!(e["status"], status, "body: {}", r.text);
    e["message"].as_str().expect("message").to_owned()
}

/// The claims of a compact JWS, unverified.
pub(crate) fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let part = jwt.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Verifies an RS256 JWS against a certificate PEM (jsonwebtoken reads the certificate's key)
/// and returns its claims. `exp` is not checked against the wall clock.
pub(crate) fn verify_with_cert(jwt: &str, cert_pem: &str) -> Value {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(cert_pem.as_bytes()).expect("cert PEM");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .expect("signature verifies")
        .claims
}

/// The `kid` of a compact JWS.
pub(crate) fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

pub(crate) fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/gcp/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The key paths of a JSON document (`error.details[].@type`…), to compare shapes.
pub(crate) fn shape(v: &Value) -> std::collections::BTreeSet<String> {
    fn walk(v: &Value, at: String, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    out.insert(p.clone());
                    walk(v, p, out);
                }
            }
            Value::Array(a) => {
                for v in a {
                    walk(v, format!("{at}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Default::default();
    walk(v, String::new(), &mut out);
    out
}

/// A JWT-bearer assertion as Go's x/oauth2 builds it (`iat` = now - 10 s, `exp` = iat + 3600),
/// signed with the key file's private key.
pub(crate) fn assertion(key_file: &Value, aud: &str, now: i64, extra: Value) -> String {
    let mut claims = json!({
        "iss": key_file["client_email"],
        "scope": CLOUD_PLATFORM,
        "aud": aud,
        "iat": now - 10,
        "exp": now - 10 + 3600,
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key_file["private_key_id"].as_str().map(str::to_owned);
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(
        key_file["private_key"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

impl Env {
    /// The key file of `email`'s first user-managed key, `token_uri` at this mock.
    pub(crate) fn key_file(&self, email: &str) -> Value {
        let w = self.sim.world();
        let sa = &w.gcp.service_accounts[email];
        authsim_mocks::gcp::key_file(sa, &sa.user_keys[0].key, BASE)
    }

    /// `POST /token` with a form body.
    pub(crate) async fn token_exchange(&self, form: &[(&str, &str)]) -> Resp {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            Request::post("/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    pub(crate) async fn exchange_assertion(&self, assertion: &str) -> Resp {
        self.token_exchange(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        .await
    }
}

impl Env {
    /// Grants `role` on the demo project to `email`.
    pub(crate) fn grant(&self, role: &str, email: &str) {
        self.sim
            .world_mut()
            .gcp
            .projects
            .get_mut(PROJECT)
            .unwrap()
            .iam_bindings
            .entry(role.to_owned())
            .or_default()
            .insert(format!("serviceAccount:{email}"));
    }
}

impl Env {
    /// `GET` on the metadata server, with or without the flavor header.
    pub(crate) async fn metadata(&self, path: &str, flavor: bool) -> Resp {
        let mut b = Request::get(format!("/computeMetadata/v1/{path}"));
        if flavor {
            b = b.header("Metadata-Flavor", "Google");
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }
}
