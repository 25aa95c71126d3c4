//! The one test on a real socket: the quick start over HTTP with reqwest.

use std::sync::Arc;

use authsim_mocks::{MockCloud, MockCloudOptions};
use serde_json::json;

use super::*;

#[tokio::test]
async fn gcp_quick_start_over_a_real_socket() {
    let clock = Arc::new(ManualClock::at_unix(NOW));
    let sim = Sim::new(worldfile::default_world(UNIX_EPOCH), clock.clone());
    let cloud = MockCloud::start(
        sim.clone(),
        MockCloudOptions {
            aws_port: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let base = cloud.google_url().unwrap();
    let key_file = {
        let w = sim.world();
        let sa = &w.gcp.service_accounts[CI];
        authsim_mocks::gcp::key_file(sa, &sa.user_keys[0].key, &base)
    };
    let http = reqwest::Client::new();
    let token: Value = http
        .post(key_file["token_uri"].as_str().unwrap())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            (
                "assertion",
                &assertion(
                    &key_file,
                    key_file["token_uri"].as_str().unwrap(),
                    clock.unix(),
                    json!({}),
                ),
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().expect("an access token");
    let signed = http
        .post(format!("{base}/v1/projects/-/serviceAccounts/{APP}:signJwt"))
        .bearer_auth(access)
        .json(&json!({ "payload": json!({ "sub": APP, "aud": "vault/app", "exp": clock.unix() + 900 }).to_string() }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    assert_eq!(
        signed.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    let signed: Value = signed.json().await.unwrap();
    let jwt = signed["signedJwt"].as_str().unwrap();
    let certs: Value = http
        .get(format!(
            "{base}/service_accounts/v1/metadata/x509/{APP}?alt=json"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = verify_with_cert(jwt, certs[kid(jwt)].as_str().unwrap());
    assert_eq!(c["aud"], "vault/app");
    // The journal saw the calls with the secrets redacted.
    let journal = sim.journal().entries();
    assert_eq!(journal.len(), 3);
    assert!(
        journal[0].body.contains("<redacted>"),
        "{}",
        journal[0].body
    );
    assert!(!journal[1]
        .headers
        .iter()
        .any(|(n, v)| n == "authorization" && v.contains(access)));
    cloud.shutdown().await;
}
