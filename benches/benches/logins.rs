//! In-process login round trips: the mock Vault, provisioned from the default world through its
//! HTTP API, answering `auth/aws/login` and `auth/gcp/login` over loopback HTTP while it verifies
//! each login through the cloud mocks (STS's SigV4 check; Google's certificates and
//! `serviceAccounts.get`). One signed login is replayed, so the figures are the server side's cost.

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

use authsim::provision;
use authsim_mocks::clock::{Clock, ManualClock};
use authsim_mocks::{worldfile, MockCloud, MockCloudOptions, Sim};

struct Setup {
    _cloud: MockCloud,
    vault: String,
    aws_login: Value,
    gcp_login: Value,
}

async fn setup() -> Setup {
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let world = worldfile::default_world(clock.now());
    let sim = Sim::new(world, clock.clone());
    let cloud = MockCloud::start(sim.clone(), MockCloudOptions::default())
        .await
        .unwrap();
    let (google, aws, vault) = (
        cloud.google_url().unwrap(),
        cloud.aws_url().unwrap(),
        cloud.vault_url().unwrap(),
    );
    let (spec, ep, alice, caller_token) = {
        let mut w = sim.world_mut();
        let spec = provision::VaultSpec::parse(&w.vault.raw_toml).unwrap();
        let ep = provision::Endpoints::resolve(&spec, &w, &google, &aws).unwrap();
        let alice = w
            .aws
            .access_keys
            .values()
            .find(|k| k.user == "alice")
            .unwrap()
            .clone();
        let token = w.gcp.issue_token(
            "ci-runner@authsim-demo.iam.gserviceaccount.com",
            vec!["https://www.googleapis.com/auth/cloud-platform".into()],
            clock.now() + Duration::from_secs(3600),
        );
        (spec, ep, alice, token)
    };
    let http = reqwest::Client::new();
    provision::apply(&http, &vault, "root", &spec, &ep)
        .await
        .unwrap();

    // hvac's AWS login material (reference aws.md 7.1).
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let headers = [
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("Host", "sts.amazonaws.com"),
        ("X-Vault-AWS-IAM-Server-ID", "vault.example.com"),
        ("Content-Length", "43"),
    ];
    let identity = Credentials::from_keys(alice.id.clone(), alice.secret.clone(), None).into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(clock.now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        "https://sts.amazonaws.com/",
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut all = serde_json::Map::new();
    for (k, v) in headers.iter().copied().chain(instructions.headers()) {
        all.insert(k.to_owned(), json!([v]));
    }
    let aws_login = json!({
        "role": "app",
        "iam_http_request_method": "POST",
        "iam_request_url": STANDARD.encode("https://sts.amazonaws.com/"),
        "iam_request_body": STANDARD.encode(body),
        "iam_request_headers": STANDARD.encode(Value::Object(all).to_string()),
    });

    // A JWT signed through the mock's signJwt as the app account.
    let now = clock.unix();
    let sa = "app@authsim-demo.iam.gserviceaccount.com";
    let payload = json!({"sub": sa, "aud": "vault/app", "iat": now, "exp": now + 600}).to_string();
    let signed: Value = http
        .post(format!(
            "{google}/v1/projects/-/serviceAccounts/{sa}:signJwt"
        ))
        .bearer_auth(caller_token)
        .json(&json!({ "payload": payload }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gcp_login = json!({"role": "app", "jwt": signed["signedJwt"]});
    Setup {
        _cloud: cloud,
        vault,
        aws_login,
        gcp_login,
    }
}

fn logins(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(setup());
    let http = reqwest::Client::new();
    let login = |path: &'static str, body: &Value| {
        let (http, url, body) = (http.clone(), format!("{}/v1/{path}", s.vault), body.clone());
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap()
        }
    };
    rt.block_on(login("auth/aws/login", &s.aws_login));
    rt.block_on(login("auth/gcp/login", &s.gcp_login));
    let mut g = c.benchmark_group("vault_login");
    g.throughput(Throughput::Elements(1));
    g.bench_function("auth/aws/login iam (STS over HTTP)", |b| {
        b.to_async(&rt)
            .iter(|| login("auth/aws/login", &s.aws_login))
    });
    g.bench_function(
        "auth/gcp/login iam (certs + serviceAccounts.get over HTTP)",
        |b| {
            b.to_async(&rt)
                .iter(|| login("auth/gcp/login", &s.gcp_login))
        },
    );
    g.finish();
}

criterion_group!(benches, logins);
criterion_main!(benches);
