//! The GCE metadata server.

use serde_json::json;

use super::*;

#[tokio::test]
async fn gcp_metadata_needs_the_flavor_header_and_answers_with_it() {
    let e = env();
    let r = e.metadata("project/project-id", false).await;
    assert_eq!(r.status, 403);
    assert!(
        r.text.contains("Missing Metadata-Flavor:Google header"),
        "{}",
        r.text
    );
    assert_eq!(r.headers["metadata-flavor"], "Google");
    let r = e.metadata("project/project-id", true).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, PROJECT));
    assert_eq!(r.headers["metadata-flavor"], "Google");
    assert_eq!(
        e.metadata("project/numeric-project-id", true).await.text,
        "123456789012"
    );
    assert_eq!(e.metadata("instance/name", true).await.text, "app-vm-1");
    assert_eq!(
        e.metadata("instance/zone", true).await.text,
        "projects/123456789012/zones/us-central1-a"
    );
    let id = e.sim.world().gcp.instances["app-vm-1"].id.to_string();
    assert_eq!(e.metadata("instance/id", true).await.text, id);
    assert_eq!(
        e.metadata("instance/service-accounts/default/email", true)
            .await
            .text,
        APP
    );
    assert_eq!(
        e.metadata("universe/universe_domain", true).await.status,
        404
    );
    let r = e
        .metadata("instance/service-accounts/default/?recursive=true", true)
        .await;
    assert_eq!(r.json["email"], APP);
    assert_eq!(r.json["aliases"], json!(["default"]));
}

#[tokio::test]
async fn gcp_metadata_token_is_a_bearer_token_for_the_default_account() {
    let e = env();
    let r = e
        .metadata(
            "instance/service-accounts/default/token?scopes=https://www.googleapis.com/auth/cloud-platform",
            true,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        shape(&r.json),
        shape(&fixture("oauth2_token_response.json"))
    );
    assert_eq!(r.json["expires_in"], 3599);
    let token = r.json["access_token"].as_str().unwrap();
    // app may read itself through IAM.
    let get = e
        .get(
            &format!("/v1/projects/-/serviceAccounts/{APP}"),
            Some(token),
        )
        .await;
    assert_eq!(get.status, 200, "{}", get.text);
    // By email too.
    let r = e
        .metadata(&format!("instance/service-accounts/{APP}/token"), true)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        e.metadata(&format!("instance/service-accounts/{CI}/token"), true)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn gcp_metadata_identity_full_format_carries_the_compute_engine_claims() {
    let e = env();
    let aud = "http://vault/my-role";
    let r = e
        .metadata(
            &format!("instance/service-accounts/default/identity?audience={aud}&format=full&licenses=FALSE"),
            true,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let jwt = r.text.clone();
    let certs = e.get("/oauth2/v1/certs", None).await;
    let c = verify_with_cert(&jwt, certs.json[kid(&jwt)].as_str().unwrap());
    let (uid, instance_id) = {
        let w = e.sim.world();
        (
            w.gcp.service_accounts[APP].unique_id.clone(),
            w.gcp.instances["app-vm-1"].id.to_string(),
        )
    };
    assert_eq!(c["aud"], aud);
    assert_eq!(c["sub"], uid);
    assert_eq!(c["azp"], uid);
    assert_eq!(c["iss"], "https://accounts.google.com");
    assert_eq!(c["email"], APP);
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["exp"], e.now() + 3600);
    let ce = &c["google"]["compute_engine"];
    assert_eq!(
        *ce,
        json!({
            "instance_creation_timestamp": 1_705_311_000_i64, // 2024-01-15T09:30:00Z
            "instance_id": instance_id,
            "instance_name": "app-vm-1",
            "project_id": PROJECT,
            "project_number": 123_456_789_012_i64,
            "zone": "us-central1-a",
        })
    );
    assert!(ce["project_number"].is_u64());
    assert!(ce["instance_id"].is_string());

    let r = e
        .metadata(
            &format!("instance/service-accounts/default/identity?audience={aud}"),
            true,
        )
        .await;
    let c = claims(&r.text);
    assert!(c.get("google").is_none() && c.get("email").is_none());
    let r = e
        .metadata("instance/service-accounts/default/identity", true)
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn gcp_metadata_without_an_identity_in_the_world_is_404() {
    let e = env();
    {
        let mut w = e.sim.world_mut();
        w.gcp.metadata_account = None;
        w.gcp.metadata_instance = None;
    }
    assert_eq!(e.metadata("project/project-id", true).await.status, 404);
    assert_eq!(
        e.metadata("instance/service-accounts/default/token", true)
            .await
            .status,
        404
    );
}
