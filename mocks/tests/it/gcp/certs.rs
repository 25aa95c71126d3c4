//! Public keys: /oauth2/v1/certs, /oauth2/v3/certs, x509 and jwk per account.

use super::*;

#[tokio::test]
async fn gcp_certs_publish_google_keys_as_pem_and_jwks() {
    let e = env();
    let v1 = e
        .get("/oauth2/v1/certs?alt=json&prettyPrint=false", None)
        .await;
    assert_eq!(v1.status, 200);
    assert!(v1.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    assert!(v1.headers.contains_key("expires"));
    let map = v1.json.as_object().unwrap();
    let google_keys = e.sim.world().gcp.google_keys.clone();
    assert_eq!(map.len(), google_keys.len());
    let expected = authsim_mocks::gcp::certs::x509_map(&google_keys);
    assert_eq!(v1.text, serde_json::to_string(&expected).unwrap());
    for pem in map.values() {
        assert!(pem
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n"));
    }
    let v3 = e.get("/oauth2/v3/certs", None).await;
    let keys = v3.json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), map.len());
    for k in keys {
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["alg"], "RS256");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["e"], "AQAB");
        assert!(map.contains_key(k["kid"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn gcp_account_keys_include_system_and_user_keys_by_email_or_unique_id() {
    let e = env();
    let (system, user, uid) = {
        let w = e.sim.world();
        let sa = &w.gcp.service_accounts[CI];
        (
            sa.system_keys[0].key_id().to_owned(),
            sa.user_keys[0].key.key_id().to_owned(),
            sa.unique_id.clone(),
        )
    };
    for account in [CI.to_owned(), uid] {
        let r = e
            .get(
                &format!("/service_accounts/v1/metadata/x509/{account}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let keys: Vec<_> = r.json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, [system.clone(), user.clone()]);
        // The body is written from PEMs escaped once; it must be what serde_json writes for the
        // map, byte for byte, with each key's certificate as its value.
        let published = {
            let w = e.sim.world();
            let sa = &w.gcp.service_accounts[CI];
            vec![sa.system_keys[0].clone(), sa.user_keys[0].key.clone()]
        };
        let map = authsim_mocks::gcp::certs::x509_map(&published);
        assert_eq!(r.text, serde_json::to_string(&map).unwrap());
        assert_eq!(
            r.json[&system],
            published[0].material().cert_pem.as_str(),
            "{}",
            r.text
        );
    }
    let r = e
        .get(&format!("/service_accounts/v1/metadata/jwk/{CI}"), None)
        .await;
    let kids: Vec<_> = r.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids, [system, user]);
    let r = e
        .get(
            "/service_accounts/v1/metadata/x509/nobody@authsim-demo.iam.gserviceaccount.com",
            None,
        )
        .await;
    google_error(&r, 404, "NOT_FOUND");
}
