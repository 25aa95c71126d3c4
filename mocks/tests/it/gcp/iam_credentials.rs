//! iamcredentials: signJwt, signBlob, generateAccessToken, generateIdToken.

use authsim_mocks::gcp::iam_credentials::{SignJwtRequest, SignJwtResponse};
use serde_json::json;

use super::*;

fn sign_jwt_path(account: &str) -> String {
    format!("/v1/projects/-/serviceAccounts/{account}:signJwt")
}

fn payload(exp: i64) -> Value {
    json!({ "payload": json!({ "sub": APP, "aud": "vault/app", "exp": exp }).to_string() })
}

#[tokio::test]
async fn gcp_sign_jwt_verifies_against_the_x509_certificate_of_its_key() {
    let e = env();
    let token = e.token(CI);
    let claims_in = json!({ "sub": APP, "aud": "vault/app", "exp": e.now() + 900 }).to_string();
    let r = e
        .post(
            &sign_jwt_path(APP),
            Some(&token),
            json!({ "payload": claims_in }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let resp: SignJwtResponse = serde_json::from_value(r.json.clone()).unwrap();
    assert_eq!(kid(&resp.signed_jwt), resp.key_id);

    let certs = e
        .get(
            &format!("/service_accounts/v1/metadata/x509/{APP}?alt=json"),
            None,
        )
        .await;
    assert_eq!(certs.status, 200);
    let pem = certs.json[&resp.key_id].as_str().expect("key published");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let verified = verify_with_cert(&resp.signed_jwt, pem);
    // The payload is signed byte for byte: no claim added or reordered.
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(resp.signed_jwt.split('.').nth(1).unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(raw).unwrap(), claims_in);
    assert_eq!(verified["sub"], APP);
    let header = jsonwebtoken::decode_header(&resp.signed_jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
}

#[tokio::test]
async fn gcp_sign_jwt_exp_must_lie_between_now_and_now_plus_12_hours() {
    let e = env();
    let token = e.token(CI);
    let now = e.now();
    for (exp, ok) in [
        (now, true),
        (now - 1, false),
        (now + 43_200, true),
        (now + 43_201, false),
    ] {
        let r = e
            .post(&sign_jwt_path(APP), Some(&token), payload(exp))
            .await;
        if ok {
            assert_eq!(r.status, 200, "exp = now{:+}: {}", exp - now, r.text);
        } else {
            google_error(&r, 400, "INVALID_ARGUMENT");
        }
    }
    // Moving the clock moves the window.
    e.clock.advance(Duration::from_secs(10)).unwrap();
    let r = e
        .post(&sign_jwt_path(APP), Some(&token), payload(now))
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
}

#[tokio::test]
async fn gcp_sign_jwt_payload_must_be_a_json_object_with_an_integer_exp() {
    let e = env();
    let token = e.token(CI);
    for p in [
        "[1,2]",
        "not json",
        "",
        r#"{"exp":"soon"}"#,
        r#"{"exp":1.5}"#,
    ] {
        let r = e
            .post(&sign_jwt_path(APP), Some(&token), json!({ "payload": p }))
            .await;
        google_error(&r, 400, "INVALID_ARGUMENT");
    }
    // No exp is fine, and none is added.
    let r = e
        .post(
            &sign_jwt_path(APP),
            Some(&token),
            json!({ "payload": "{\"sub\":\"x\"}" }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        claims(r.json["signedJwt"].as_str().unwrap()),
        json!({"sub":"x"})
    );
}

#[tokio::test]
async fn gcp_iamcredentials_needs_a_valid_unexpired_bearer_token() {
    let e = env();
    let body = payload(e.now() + 60);
    let r = e.post(&sign_jwt_path(APP), None, body.clone()).await;
    let m = google_error(&r, 401, "UNAUTHENTICATED");
    assert!(m.starts_with("Request had invalid authentication credentials."));
    let r = e
        .post(&sign_jwt_path(APP), Some("ya29.forged"), body.clone())
        .await;
    google_error(&r, 401, "UNAUTHENTICATED");

    let token = e.token(CI);
    e.clock.advance(Duration::from_secs(3600)).unwrap();
    let r = e
        .post(&sign_jwt_path(APP), Some(&token), payload(e.now() + 60))
        .await;
    google_error(&r, 401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn gcp_sign_jwt_without_token_creator_or_for_an_unknown_account_is_403() {
    let e = env();
    let token = e.token(VAULT);
    let r = e
        .post(&sign_jwt_path(APP), Some(&token), payload(e.now() + 60))
        .await;
    let m = google_error(&r, 403, "PERMISSION_DENIED");
    assert_eq!(
        m,
        "Permission 'iam.serviceAccounts.signJwt' denied on resource (or it may not exist)."
    );
    // The same answer for an account that does not exist.
    let ci = e.token(CI);
    let r = e
        .post(
            &sign_jwt_path("nobody@authsim-demo.iam.gserviceaccount.com"),
            Some(&ci),
            payload(e.now() + 60),
        )
        .await;
    google_error(&r, 403, "PERMISSION_DENIED");
    // The error has every member of the documented envelope (the mock adds the resource name to
    // the ErrorInfo metadata).
    let mine = shape(&r.json);
    assert!(
        shape(&fixture("error_permission_denied.json")).is_subset(&mine),
        "{mine:?}"
    );

    // Each verb names its own permission.
    let r = e
        .post(
            &format!("/v1/projects/-/serviceAccounts/{APP}:generateAccessToken"),
            Some(&token),
            json!({ "scope": [CLOUD_PLATFORM] }),
        )
        .await;
    let m = google_error(&r, 403, "PERMISSION_DENIED");
    assert!(m.contains("iam.serviceAccounts.getAccessToken"), "{m}");
}

#[tokio::test]
async fn gcp_sign_jwt_by_unique_id_and_with_a_project_id_instead_of_the_wildcard() {
    let e = env();
    let token = e.token(CI);
    let uid = e.sim.world().gcp.service_accounts[APP].unique_id.clone();
    let r = e
        .post(&sign_jwt_path(&uid), Some(&token), payload(e.now() + 60))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = e
        .post(
            &format!("/v1/projects/{PROJECT}/serviceAccounts/{APP}:signJwt"),
            Some(&token),
            payload(e.now() + 60),
        )
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
}

#[tokio::test]
async fn gcp_delegation_needs_token_creator_at_every_hop() {
    let e = env();
    let ci = e.token(CI);
    let d = |a: &str| format!("projects/-/serviceAccounts/{a}");
    // ci-runner → app (Token Creator) → app (Token Creator on itself).
    let r = e
        .post(
            &sign_jwt_path(APP),
            Some(&ci),
            json!({ "delegates": [d(APP)], "payload": "{}" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // ci-runner has no grant on vault-server.
    let r = e
        .post(
            &sign_jwt_path(APP),
            Some(&ci),
            json!({ "delegates": [d(VAULT)], "payload": "{}" }),
        )
        .await;
    google_error(&r, 403, "PERMISSION_DENIED");
    assert_eq!(
        r.json["error"]["details"][0]["metadata"]["resource"],
        d(VAULT)
    );
    // app has no grant on vault-server: the last hop fails.
    let r = e
        .post(
            &sign_jwt_path(VAULT),
            Some(&ci),
            json!({ "delegates": [d(APP)], "payload": "{}" }),
        )
        .await;
    google_error(&r, 403, "PERMISSION_DENIED");
    // A delegate that is not a resource name.
    let r = e
        .post(
            &sign_jwt_path(APP),
            Some(&ci),
            json!({ "delegates": [APP], "payload": "{}" }),
        )
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
}

#[tokio::test]
async fn gcp_sign_jwt_for_a_disabled_account_fails_its_precondition() {
    let e = env();
    e.sim
        .world_mut()
        .gcp
        .service_accounts
        .get_mut(LEGACY)
        .unwrap()
        .token_creators
        .insert(CI.into());
    let ci = e.token(CI);
    let r = e
        .post(&sign_jwt_path(LEGACY), Some(&ci), payload(e.now() + 60))
        .await;
    google_error(&r, 400, "FAILED_PRECONDITION");
}

#[tokio::test]
async fn gcp_sign_blob_signs_the_decoded_bytes_with_the_published_key() {
    use base64::Engine as _;
    let e = env();
    let ci = e.token(CI);
    let r = e
        .post(
            &format!("/v1/projects/-/serviceAccounts/{APP}:signBlob"),
            Some(&ci),
            json!({ "payload": "aGVsbG8=" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let key = e.sim.world().gcp.service_accounts[APP].system_keys[0].clone();
    assert_eq!(r.json["keyId"], key.key_id());
    let sig = base64::engine::general_purpose::STANDARD
        .decode(r.json["signedBlob"].as_str().unwrap())
        .unwrap();
    assert_eq!(sig, key.sign(b"hello"));

    let r = e
        .post(
            &format!("/v1/projects/-/serviceAccounts/{APP}:signBlob"),
            Some(&ci),
            json!({ "payload": "not base64!" }),
        )
        .await;
    let m = google_error(&r, 400, "INVALID_ARGUMENT");
    assert!(m.contains("Base64 decoding failed"), "{m}");
}

#[tokio::test]
async fn gcp_generated_access_token_works_as_a_bearer_token_until_it_expires() {
    let e = env();
    let ci = e.token(CI);
    let path = format!("/v1/projects/-/serviceAccounts/{APP}:generateAccessToken");
    let r = e
        .post(
            &path,
            Some(&ci),
            fixture("generate_access_token_request.json"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        shape(&r.json),
        shape(&fixture("generate_access_token_response.json"))
    );
    assert_eq!(r.json["expireTime"], "2023-11-14T23:13:20Z");
    let app_token = r.json["accessToken"].as_str().unwrap().to_owned();
    assert!(app_token.starts_with("ya29."));
    // app may sign as itself (Token Creator on itself).
    let r = e
        .post(&sign_jwt_path(APP), Some(&app_token), payload(e.now() + 60))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = e
        .post(
            &path,
            Some(&ci),
            json!({ "scope": [CLOUD_PLATFORM], "lifetime": "3601s" }),
        )
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
    let r = e.post(&path, Some(&ci), json!({ "scope": [] })).await;
    google_error(&r, 400, "INVALID_ARGUMENT");
    let r = e
        .post(
            &path,
            Some(&ci),
            json!({ "scope": [CLOUD_PLATFORM], "lifetime": "60s" }),
        )
        .await;
    assert_eq!(r.json["expireTime"], "2023-11-14T22:14:20Z");
    let short = r.json["accessToken"].as_str().unwrap().to_owned();
    e.clock.advance(Duration::from_secs(60)).unwrap();
    let r = e
        .post(&sign_jwt_path(APP), Some(&short), payload(e.now() + 60))
        .await;
    google_error(&r, 401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn gcp_generated_id_token_verifies_against_google_oauth2_certs() {
    let e = env();
    let ci = e.token(CI);
    let r = e
        .post(
            &format!("/v1/projects/-/serviceAccounts/{APP}:generateIdToken"),
            Some(&ci),
            json!({ "audience": "https://vault.example/vault/app", "includeEmail": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["token"].as_str().unwrap();
    let certs = e.get("/oauth2/v1/certs", None).await;
    let pem = certs.json[kid(token)]
        .as_str()
        .expect("signed by a Google key");
    let c = verify_with_cert(token, pem);
    let uid = e.sim.world().gcp.service_accounts[APP].unique_id.clone();
    assert_eq!(c["aud"], "https://vault.example/vault/app");
    assert_eq!(c["iss"], "https://accounts.google.com");
    assert_eq!(c["sub"], uid);
    assert_eq!(c["azp"], uid);
    assert_eq!(c["email"], APP);
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["iat"], e.now());
    assert_eq!(c["exp"], e.now() + 3600);

    let r = e
        .post(
            &format!("/v1/projects/-/serviceAccounts/{APP}:generateIdToken"),
            Some(&ci),
            json!({ "audience": "x" }),
        )
        .await;
    let c = claims(r.json["token"].as_str().unwrap());
    assert!(c.get("email").is_none());
    let r = e
        .post(
            &format!("/v1/projects/-/serviceAccounts/{APP}:generateIdToken"),
            Some(&ci),
            json!({}),
        )
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
}

#[tokio::test]
async fn gcp_malformed_bodies_are_answered_in_the_google_envelope() {
    let e = env();
    let ci = e.token(CI);
    let path = sign_jwt_path(APP);
    let r = e.post_raw(&path, Some(&ci), b"{\"payload\": ").await;
    let m = google_error(&r, 400, "INVALID_ARGUMENT");
    assert!(m.starts_with("Invalid JSON payload received."), "{m}");
    let r = e
        .post(&path, Some(&ci), json!({ "payload": "{}", "paylod": "{}" }))
        .await;
    let m = google_error(&r, 400, "INVALID_ARGUMENT");
    assert_eq!(
        m,
        "Invalid JSON payload received. Unknown name \"paylod\": Cannot find field."
    );
    let r = e
        .post_raw(&path, Some(&ci), b"{\"payload\":\"\xc3\x28\"}")
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
    let r = e.post(&path, Some(&ci), json!({ "payload": 42 })).await;
    google_error(&r, 400, "INVALID_ARGUMENT");
    // Non-UTF-8 in the path.
    let r = e
        .post_raw(
            "/v1/projects/-/serviceAccounts/%FF:signJwt",
            Some(&ci),
            b"{}",
        )
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
    // An unknown verb and an unknown route: Google's 404.
    let r = e
        .post_raw(
            &format!("/v1/projects/-/serviceAccounts/{APP}:signJwtt"),
            Some(&ci),
            b"{}",
        )
        .await;
    google_error(&r, 404, "NOT_FOUND");
    let r = e.get("/v1/nothing/here", None).await;
    let m = google_error(&r, 404, "NOT_FOUND");
    assert_eq!(
        m,
        "The requested URL /v1/nothing/here was not found on this server."
    );
    // A known path with the wrong method.
    let r = e.get("/oauth2/v1/certs", None).await;
    assert_eq!(r.status, 200);
    let r = e.post_raw("/oauth2/v1/certs", None, b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json["error"]["code"], 405);
}

#[test]
fn gcp_sign_jwt_fixtures_parse_with_the_mock_types() {
    let req: SignJwtRequest = serde_json::from_value(fixture("sign_jwt_request.json")).unwrap();
    assert!(req.delegates.is_empty());
    assert!(req.payload.contains("vault/app"));
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        fixture("sign_jwt_request.json")
    );
    let resp: SignJwtResponse = serde_json::from_value(fixture("sign_jwt_response.json")).unwrap();
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        fixture("sign_jwt_response.json")
    );
}

#[tokio::test]
async fn gcp_sign_jwt_fixture_request_is_accepted_and_answers_the_fixture_shape() {
    let e = env();
    let ci = e.token(CI);
    let r = e
        .post(
            &sign_jwt_path(APP),
            Some(&ci),
            fixture("sign_jwt_request.json"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(shape(&r.json), shape(&fixture("sign_jwt_response.json")));
}
