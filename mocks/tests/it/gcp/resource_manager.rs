//! Resource Manager: getAncestry and project IAM policies.

use serde_json::json;

use super::*;

#[tokio::test]
async fn gcp_get_ancestry_lists_project_folder_and_organization() {
    let e = env();
    let path = format!("/v1/projects/{PROJECT}:getAncestry");
    // app holds no role carrying resourcemanager.projects.get in the default world; vault-server
    // holds roles/browser.
    let r = e.post(&path, Some(&e.token(APP)), json!({})).await;
    let m = google_error(&r, 403, "PERMISSION_DENIED");
    assert_eq!(m, "The caller does not have permission");
    let r = e.post(&path, Some(&e.token(VAULT)), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({ "ancestor": [
            { "resourceId": { "type": "project", "id": PROJECT } },
            { "resourceId": { "type": "folder", "id": "100000000001" } },
            { "resourceId": { "type": "organization", "id": "100000000002" } },
        ]})
    );
    let r = e
        .post(
            "/v1/projects/unknown-project:getAncestry",
            Some(&e.token(VAULT)),
            json!({}),
        )
        .await;
    google_error(&r, 403, "PERMISSION_DENIED");
    let r = e
        .post(
            &format!("/v1/projects/{PROJECT}:getAncestors"),
            Some(&e.token(VAULT)),
            json!({}),
        )
        .await;
    google_error(&r, 404, "NOT_FOUND");
}

#[tokio::test]
async fn gcp_set_iam_policy_replaces_bindings_with_an_etag_check() {
    let e = env();
    e.grant("roles/owner", CI);
    let ci = e.token(CI);
    let get = format!("/v3/projects/{PROJECT}:getIamPolicy");
    let set = format!("/v3/projects/{PROJECT}:setIamPolicy");
    let r = e
        .post(
            &get,
            Some(&ci),
            json!({ "options": { "requestedPolicyVersion": 3 } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["version"], 1);
    let etag = r.json["etag"].as_str().unwrap().to_owned();
    let bindings = r.json["bindings"].as_array().unwrap();
    assert!(bindings
        .iter()
        .any(|b| b["role"] == "roles/iam.serviceAccountViewer"
            && b["members"] == json!([format!("serviceAccount:{VAULT}")])));

    // Grant app compute.viewer through the policy, and remove vault-server's viewer role.
    let mut policy = r.json.clone();
    policy["bindings"] = json!([
        { "role": "roles/owner", "members": [format!("serviceAccount:{CI}")] },
        { "role": "roles/compute.viewer", "members": [format!("serviceAccount:{APP}")] },
    ]);
    let r = e.post(&set, Some(&ci), json!({ "policy": policy })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_ne!(r.json["etag"], etag);
    let vault = e.token(VAULT);
    google_error(
        &e.get(
            &format!("/v1/projects/-/serviceAccounts/{CI}"),
            Some(&vault),
        )
        .await,
        403,
        "PERMISSION_DENIED",
    );
    let app = e.token(APP);
    let inst = e
        .get(
            &format!("/projects/{PROJECT}/zones/us-central1-a/instances/app-vm-1"),
            Some(&app),
        )
        .await;
    assert_eq!(inst.status, 200, "{}", inst.text);

    // The stale etag is refused.
    let r = e.post(&set, Some(&ci), json!({ "policy": policy })).await;
    google_error(&r, 409, "ABORTED");
    // Malformed members and unknown fields.
    let r = e
        .post(&set, Some(&ci), json!({ "policy": { "bindings": [{ "role": "roles/viewer", "members": ["nobody"] }] } }))
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
    let r = e
        .post(&set, Some(&ci), json!({ "policy": {}, "extra": true }))
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
    // Without setIamPolicy.
    let r = e.post(&set, Some(&app), json!({ "policy": {} })).await;
    google_error(&r, 403, "PERMISSION_DENIED");
}
