//! The OAuth2 token endpoint (JWT-bearer grant).

use serde_json::json;

use super::*;

#[tokio::test]
async fn gcp_key_file_assertion_buys_an_access_token_that_signs_jwts_as_app() {
    let e = env();
    let kf = e.key_file(CI);
    assert_eq!(kf["token_uri"], format!("{BASE}/token"));
    let a = assertion(&kf, kf["token_uri"].as_str().unwrap(), e.now(), json!({}));
    let r = e.exchange_assertion(&a).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        shape(&r.json),
        shape(&fixture("oauth2_token_response.json"))
    );
    assert_eq!(r.json["expires_in"], 3599);
    assert_eq!(r.json["token_type"], "Bearer");
    let token = r.json["access_token"].as_str().unwrap();
    let sign = e
        .post(
            &format!("/v1/projects/-/serviceAccounts/{APP}:signJwt"),
            Some(token),
            json!({ "payload": json!({"sub": APP, "aud": "vault/app", "exp": e.now() + 900}).to_string() }),
        )
        .await;
    assert_eq!(sign.status, 200, "{}", sign.text);
}

#[tokio::test]
async fn gcp_token_endpoint_accepts_google_token_urls_as_audience() {
    let e = env();
    let kf = e.key_file(CI);
    for aud in [
        "https://oauth2.googleapis.com/token",
        "https://accounts.google.com/o/oauth2/token",
    ] {
        let r = e
            .exchange_assertion(&assertion(&kf, aud, e.now(), json!({})))
            .await;
        assert_eq!(r.status, 200, "{aud}: {}", r.text);
    }
    let r = e
        .exchange_assertion(&assertion(
            &kf,
            "https://example.com/token",
            e.now(),
            json!({}),
        ))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["error"], "invalid_grant");
}

#[tokio::test]
async fn gcp_token_endpoint_refuses_bad_signatures_and_long_lived_assertions() {
    let e = env();
    let kf = e.key_file(CI);
    let aud = format!("{BASE}/token");
    let good = assertion(&kf, &aud, e.now(), json!({}));
    // Swap the signature for another key's.
    let other = assertion(&e.key_file(VAULT), &aud, e.now(), json!({}));
    let forged = format!(
        "{}.{}",
        good.rsplit_once('.').unwrap().0,
        other.rsplit_once('.').unwrap().1
    );
    let r = e.exchange_assertion(&forged).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json, fixture("oauth2_invalid_grant.json"));
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));

    let long = assertion(&kf, &aud, e.now(), json!({ "exp": e.now() - 10 + 3601 }));
    let r = e.exchange_assertion(&long).await;
    assert_eq!(r.json["error"], "invalid_grant");
    assert!(r.json["error_description"]
        .as_str()
        .unwrap()
        .starts_with("Invalid JWT: Token must be a short-lived token (60 minutes)"));
    // Expired by the mock's clock.
    e.clock.advance(Duration::from_secs(3600)).unwrap();
    let r = e.exchange_assertion(&good).await;
    assert_eq!(r.json["error"], "invalid_grant");
    // Not yet issued.
    let future = assertion(&kf, &aud, e.now() + 600, json!({}));
    let r = e.exchange_assertion(&future).await;
    assert_eq!(r.json["error"], "invalid_grant");
}

#[tokio::test]
async fn gcp_token_endpoint_errors_for_grant_type_scope_and_disabled_accounts() {
    let e = env();
    let r = e.token_exchange(&[("grant_type", "password")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json,
        json!({"error":"unsupported_grant_type","error_description":"Invalid grant_type: password"})
    );
    let kf = e.key_file(CI);
    let aud = format!("{BASE}/token");
    let r = e
        .exchange_assertion(&assertion(&kf, &aud, e.now(), json!({ "scope": "" })))
        .await;
    assert_eq!(r.json["error"], "invalid_scope");
    e.sim
        .world_mut()
        .gcp
        .service_accounts
        .get_mut(CI)
        .unwrap()
        .disabled = true;
    let r = e
        .exchange_assertion(&assertion(&kf, &aud, e.now(), json!({})))
        .await;
    assert_eq!(
        r.json,
        json!({"error":"invalid_grant","error_description":"Invalid grant: account not found"})
    );
}

#[tokio::test]
async fn gcp_token_endpoint_with_target_audience_returns_a_google_id_token() {
    let e = env();
    let kf = e.key_file(CI);
    let a = assertion(
        &kf,
        &format!("{BASE}/token"),
        e.now(),
        json!({ "target_audience": "https://service.example" }),
    );
    let r = e.exchange_assertion(&a).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json["id_token"].as_str().unwrap();
    let certs = e.get("/oauth2/v1/certs", None).await;
    let c = verify_with_cert(id, certs.json[kid(id)].as_str().unwrap());
    assert_eq!(c["aud"], "https://service.example");
    assert_eq!(c["email"], CI);
}

#[tokio::test]
async fn gcp_a_sign_jwt_assertion_is_accepted_like_a_key_file_one() {
    let e = env();
    let ci = e.token(CI);
    let now = e.now();
    let payload = json!({
        "iss": APP, "scope": CLOUD_PLATFORM, "aud": "https://oauth2.googleapis.com/token",
        "iat": now, "exp": now + 3600,
    });
    let r = e
        .post(
            &format!("/v1/projects/-/serviceAccounts/{APP}:signJwt"),
            Some(&ci),
            json!({ "payload": payload.to_string() }),
        )
        .await;
    let jwt = r.json["signedJwt"].as_str().unwrap();
    let r = e.exchange_assertion(jwt).await;
    assert_eq!(r.status, 200, "{}", r.text);
}
