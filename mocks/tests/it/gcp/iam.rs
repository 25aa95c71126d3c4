//! IAM admin: serviceAccounts get/list/create/delete/disable/enable and keys.

use base64::Engine as _;
use serde_json::json;

use super::*;

fn sa_path(project: &str, account: &str) -> String {
    format!("/v1/projects/{project}/serviceAccounts/{account}")
}

#[tokio::test]
async fn gcp_service_account_get_answers_the_documented_resource() {
    let e = env();
    let vault = e.token(VAULT);
    let r = e
        .get(
            &format!("{}?alt=json&prettyPrint=false", sa_path("-", APP)),
            Some(&vault),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let uid = e.sim.world().gcp.service_accounts[APP].unique_id.clone();
    assert_eq!(
        r.json["name"],
        format!("projects/{PROJECT}/serviceAccounts/{APP}")
    );
    assert_eq!(r.json["projectId"], PROJECT);
    assert_eq!(r.json["uniqueId"], uid);
    assert_eq!(r.json["email"], APP);
    assert_eq!(r.json["displayName"], "App workload");
    assert_eq!(r.json["oauth2ClientId"], uid);
    assert_eq!(r.json["disabled"], false);
    assert!(r.json["etag"].is_string());
    // By unique id, and under its real project.
    let by_id = e.get(&sa_path("-", &uid), Some(&vault)).await;
    assert_eq!(by_id.json, r.json);
    let by_project = e.get(&sa_path(PROJECT, APP), Some(&vault)).await;
    assert_eq!(by_project.json, r.json);
    // The account itself and a Token Creator may read it too.
    assert_eq!(
        e.get(&sa_path("-", APP), Some(&e.token(APP))).await.status,
        200
    );
    assert_eq!(
        e.get(&sa_path("-", APP), Some(&e.token(CI))).await.status,
        200
    );
}

#[tokio::test]
async fn gcp_service_account_get_without_permission_is_403_and_unknown_is_404() {
    let e = env();
    let ci = e.token(CI);
    let r = e.get(&sa_path("-", VAULT), Some(&ci)).await;
    let m = google_error(&r, 403, "PERMISSION_DENIED");
    assert_eq!(
        m,
        "Permission 'iam.serviceAccounts.get' denied on resource (or it may not exist)."
    );
    let ghost = "ghost@authsim-demo.iam.gserviceaccount.com";
    // Without the permission an unknown account looks the same as a forbidden one ...
    google_error(
        &e.get(&sa_path("-", ghost), Some(&ci)).await,
        403,
        "PERMISSION_DENIED",
    );
    // ... with it, it is 404.
    let vault = e.token(VAULT);
    let r = e.get(&sa_path("-", ghost), Some(&vault)).await;
    google_error(&r, 404, "NOT_FOUND");
    assert_eq!(r.json["error"]["errors"][0]["reason"], "notFound");
    google_error(
        &e.get(&sa_path(PROJECT, ghost), Some(&vault)).await,
        404,
        "NOT_FOUND",
    );
    google_error(
        &e.get(&sa_path("-", APP), None).await,
        401,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn gcp_service_accounts_are_created_listed_disabled_and_deleted() {
    let e = env();
    e.grant("roles/iam.serviceAccountAdmin", CI);
    let ci = e.token(CI);
    let create = format!("/v1/projects/{PROJECT}/serviceAccounts");
    let body = json!({
        "accountId": "new-worker",
        "serviceAccount": { "displayName": "New worker", "description": "made by a test" },
    });
    let r = e.post(&create, Some(&ci), body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let email = "new-worker@authsim-demo.iam.gserviceaccount.com";
    assert_eq!(r.json["email"], email);
    assert_eq!(r.json["displayName"], "New worker");
    assert_eq!(r.json["description"], "made by a test");
    assert_eq!(r.json["uniqueId"].as_str().unwrap().len(), 21);
    let first_uid = r.json["uniqueId"].clone();

    google_error(
        &e.post(&create, Some(&ci), body.clone()).await,
        409,
        "ALREADY_EXISTS",
    );
    for bad in ["short", "Upper-case", "ends-with-", "9starts-with-digit"] {
        let r = e
            .post(&create, Some(&ci), json!({ "accountId": bad }))
            .await;
        google_error(&r, 400, "INVALID_ARGUMENT");
    }
    let r = e
        .post(
            &create,
            Some(&ci),
            json!({ "accountId": "other-one", "serviceAccount": { "colour": 1 } }),
        )
        .await;
    let m = google_error(&r, 400, "INVALID_ARGUMENT");
    assert!(m.contains("Unknown name \"colour\""), "{m}");
    // Without an admin role.
    let r = e
        .post(
            &create,
            Some(&e.token(VAULT)),
            json!({ "accountId": "sneaky-one" }),
        )
        .await;
    google_error(&r, 403, "PERMISSION_DENIED");

    let listed = e.get(&create, Some(&e.token(VAULT))).await;
    assert!(listed.json["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["email"] == email));

    // Disable: its tokens stop working; enable: they work again.
    let worker = e.token(email);
    assert_eq!(e.get(&sa_path("-", email), Some(&worker)).await.status, 200);
    let r = e
        .post(
            &format!("{}:disable", sa_path("-", email)),
            Some(&ci),
            json!({}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.json.clone()), (200, json!({})));
    assert_eq!(
        e.get(&sa_path("-", email), Some(&ci)).await.json["disabled"],
        true
    );
    google_error(
        &e.get(&sa_path("-", email), Some(&worker)).await,
        401,
        "UNAUTHENTICATED",
    );
    let r = e
        .post_raw(&format!("{}:enable", sa_path("-", email)), Some(&ci), b"")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(e.get(&sa_path("-", email), Some(&worker)).await.status, 200);

    // Delete, then re-create under the same email: a new unique id.
    let r = e.delete(&sa_path(PROJECT, email), Some(&ci)).await;
    assert_eq!((r.status.as_u16(), r.json.clone()), (200, json!({})));
    google_error(
        &e.get(&sa_path("-", email), Some(&ci)).await,
        404,
        "NOT_FOUND",
    );
    google_error(
        &e.get(&sa_path("-", email), Some(&e.token(APP))).await,
        403,
        "PERMISSION_DENIED",
    );
    let r = e.post(&create, Some(&ci), body).await;
    assert_ne!(r.json["uniqueId"], first_uid);
}

#[tokio::test]
async fn gcp_keys_are_listed_by_type_and_read_with_their_certificate() {
    let e = env();
    let vault = e.token(VAULT);
    let keys = format!("{}/keys", sa_path("-", CI));
    let all = e.get(&keys, Some(&vault)).await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.json["keys"].as_array().unwrap().len(), 2);
    let user = e
        .get(&format!("{keys}?keyTypes=USER_MANAGED"), Some(&vault))
        .await;
    let user = user.json["keys"].as_array().unwrap().clone();
    assert_eq!(user.len(), 1);
    assert_eq!(user[0]["keyType"], "USER_MANAGED");
    assert_eq!(user[0]["keyAlgorithm"], "KEY_ALG_RSA_2048");
    let system = e
        .get(&format!("{keys}?keyTypes=SYSTEM_MANAGED"), Some(&vault))
        .await;
    assert_eq!(system.json["keys"][0]["keyType"], "SYSTEM_MANAGED");
    let bad = e.get(&format!("{keys}?keyTypes=ALL"), Some(&vault)).await;
    google_error(&bad, 400, "INVALID_ARGUMENT");

    let name = user[0]["name"].as_str().unwrap();
    let kid = name.rsplit('/').next().unwrap();
    let r = e
        .get(
            &format!("/v1/{name}?publicKeyType=TYPE_X509_PEM_FILE"),
            Some(&vault),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pem = base64::engine::general_purpose::STANDARD
        .decode(r.json["publicKeyData"].as_str().unwrap())
        .unwrap();
    let x509 = e
        .get(&format!("/service_accounts/v1/metadata/x509/{CI}"), None)
        .await;
    assert_eq!(x509.json[kid].as_str().unwrap().as_bytes(), pem);
    google_error(
        &e.get(&format!("{keys}/{}", "0".repeat(40)), Some(&vault))
            .await,
        404,
        "NOT_FOUND",
    );
    google_error(
        &e.get(&keys, Some(&e.token(APP))).await,
        403,
        "PERMISSION_DENIED",
    );
}

#[tokio::test]
async fn gcp_created_key_file_logs_in_at_token_and_signs_jwts_as_app() {
    let e = env();
    e.grant("roles/iam.serviceAccountKeyAdmin", VAULT);
    let admin = e.token(VAULT);
    let r = e
        .post(
            &format!("{}/keys", sa_path("-", CI)),
            Some(&admin),
            json!({ "privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE", "keyAlgorithm": "KEY_ALG_RSA_2048" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["privateKeyType"], "TYPE_GOOGLE_CREDENTIALS_FILE");
    assert_eq!(r.json["keyAlgorithm"], "KEY_ALG_RSA_2048");
    assert_eq!(r.json["keyOrigin"], "GOOGLE_PROVIDED");
    assert_eq!(r.json["keyType"], "USER_MANAGED");
    assert_eq!(r.json["validAfterTime"], "2023-11-14T22:13:20Z");
    assert_eq!(r.json["validBeforeTime"], "9999-12-31T23:59:59Z");
    let file: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(r.json["privateKeyData"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(file["type"], "service_account");
    assert_eq!(file["client_email"], CI);
    assert_eq!(
        r.json["name"].as_str().unwrap().rsplit('/').next().unwrap(),
        file["private_key_id"]
    );
    // The quick start: ci-runner's key file → /token → signJwt as app → verify at x509/app.
    let a = assertion(
        &file,
        file["token_uri"].as_str().unwrap(),
        e.now(),
        json!({}),
    );
    let t = e.exchange_assertion(&a).await;
    assert_eq!(t.status, 200, "{}", t.text);
    let token = t.json["access_token"].as_str().unwrap();
    let claims_in = json!({ "sub": APP, "aud": "vault/app", "exp": e.now() + 900 });
    let s = e
        .post(
            &format!("/v1/projects/-/serviceAccounts/{APP}:signJwt"),
            Some(token),
            json!({ "payload": claims_in.to_string() }),
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.text);
    let jwt = s.json["signedJwt"].as_str().unwrap();
    let x509 = e
        .get(&format!("/service_accounts/v1/metadata/x509/{APP}"), None)
        .await;
    assert_eq!(
        verify_with_cert(jwt, x509.json[kid(jwt)].as_str().unwrap()),
        claims_in
    );
    // The new key is published for self-signed JWTs.
    let x509 = e
        .get(&format!("/service_accounts/v1/metadata/x509/{CI}"), None)
        .await;
    assert!(x509
        .json
        .get(file["private_key_id"].as_str().unwrap())
        .is_some());

    // Deleting the key ends the key file's logins.
    let r = e
        .delete(
            &format!("/v1/{}", r.json["name"].as_str().unwrap()),
            Some(&admin),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.json.clone()), (200, json!({})));
    let t = e.exchange_assertion(&a).await;
    assert_eq!(t.json["error"], "invalid_grant");
}

#[tokio::test]
async fn gcp_an_account_holds_at_most_ten_user_managed_keys() {
    let e = env();
    e.grant("roles/owner", VAULT);
    {
        // Fill ci-runner up to the limit with copies of its key (no key generation needed).
        let mut w = e.sim.world_mut();
        let sa = w.gcp.service_accounts.get_mut(CI).unwrap();
        let k = sa.user_keys[0].clone();
        while sa.user_keys.len() < 10 {
            sa.user_keys.push(k.clone());
        }
    }
    let r = e
        .post(
            &format!("{}/keys", sa_path("-", CI)),
            Some(&e.token(VAULT)),
            json!({}),
        )
        .await;
    google_error(&r, 400, "FAILED_PRECONDITION");
    assert_eq!(r.json, fixture("error_key_limit.json"));
    // System-managed keys cannot be deleted.
    let system = e.sim.world().gcp.service_accounts[CI].system_keys[0]
        .key_id()
        .to_owned();
    let r = e
        .delete(
            &format!("{}/keys/{system}", sa_path("-", CI)),
            Some(&e.token(VAULT)),
        )
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
}
