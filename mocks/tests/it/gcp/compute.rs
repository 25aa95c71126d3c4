//! Compute: instances.get and instance groups, with and without the /compute/v1 prefix.

use serde_json::json;

use super::*;

#[tokio::test]
async fn gcp_compute_instance_get_answers_under_both_base_paths() {
    let e = env();
    let vault = e.token(VAULT);
    let path = format!("/projects/{PROJECT}/zones/us-central1-a/instances/app-vm-1");
    let r = e
        .get(
            &format!("/compute/v1{path}?alt=json&prettyPrint=false"),
            Some(&vault),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let short = e.get(&path, Some(&vault)).await;
    assert_eq!(short.json, r.json);
    let id = e.sim.world().gcp.instances["app-vm-1"].id.to_string();
    assert_eq!(r.json["id"], id);
    assert!(r.json["id"].is_string());
    assert_eq!(r.json["name"], "app-vm-1");
    assert_eq!(r.json["status"], "RUNNING");
    assert_eq!(r.json["creationTimestamp"], "2024-01-15T01:30:00.000-08:00");
    assert_eq!(
        r.json["zone"],
        format!("https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/us-central1-a")
    );
    assert_eq!(
        r.json["selfLink"],
        format!("https://www.googleapis.com/compute/v1{path}")
    );
    assert_eq!(r.json["labels"], json!({ "env": "ci", "team": "platform" }));
    assert_eq!(r.json["serviceAccounts"][0]["email"], APP);
}

#[tokio::test]
async fn gcp_compute_errors_use_the_legacy_envelope() {
    let e = env();
    let vault = e.token(VAULT);
    let r = e
        .get(
            &format!("/compute/v1/projects/{PROJECT}/zones/us-central1-b/instances/app-vm-1"),
            Some(&vault),
        )
        .await;
    let m = google_error(&r, 404, "NOT_FOUND");
    assert_eq!(
        m,
        format!("The resource 'projects/{PROJECT}/zones/us-central1-b/instances/app-vm-1' was not found")
    );
    assert_eq!(r.json["error"]["errors"][0]["reason"], "notFound");
    assert_eq!(r.json["error"]["errors"][0]["domain"], "global");
    assert_eq!(r.json["error"]["errors"][0]["message"], m);
    let r = e
        .get(
            &format!("/projects/{PROJECT}/zones/us-central1-a/instances/app-vm-1"),
            Some(&e.token(CI)),
        )
        .await;
    let m = google_error(&r, 403, "PERMISSION_DENIED");
    assert!(
        m.starts_with("Required 'compute.instances.get' permission for"),
        "{m}"
    );
    let r = e
        .get(
            &format!("/projects/{PROJECT}/zones/us-central1-a/instances/app-vm-1"),
            None,
        )
        .await;
    google_error(&r, 401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn gcp_compute_instance_groups_list_and_membership() {
    let e = env();
    let vault = e.token(VAULT);
    let r = e
        .get(
            &format!(
                "/projects/{PROJECT}/aggregated/instanceGroups?fields=items/*/instanceGroups/name"
            ),
            Some(&vault),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["items"]["zones/us-central1-a"]["instanceGroups"][0]["name"],
        "app-group"
    );
    let self_link = format!(
        "https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/us-central1-a/instances/app-vm-1"
    );
    let list = format!(
        "/compute/v1/projects/{PROJECT}/zones/us-central1-a/instanceGroups/app-group/listInstances"
    );
    let filter: String =
        form_urlencoded::byte_serialize(format!("instance eq {self_link}").as_bytes()).collect();
    let r = e
        .post(&format!("{list}?filter={filter}"), Some(&vault), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["items"],
        json!([{ "instance": self_link, "status": "RUNNING" }])
    );
    let other: String =
        form_urlencoded::byte_serialize(b"instance eq https://example.com/x").collect();
    let r = e
        .post(&format!("{list}?filter={other}"), Some(&vault), json!({}))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json.get("items").is_none());
    let r = e
        .post(
            &format!("/projects/{PROJECT}/zones/us-central1-a/instanceGroups/nope/listInstances"),
            Some(&vault),
            json!({}),
        )
        .await;
    google_error(&r, 404, "NOT_FOUND");
    let r = e
        .post(&list, Some(&vault), json!({ "instanceState": "SOME" }))
        .await;
    google_error(&r, 400, "INVALID_ARGUMENT");
}
