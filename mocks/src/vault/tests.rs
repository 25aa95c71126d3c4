//! The mock Vault through its router (`oneshot`, no sockets), plus one test over a real socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderMap, Request};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::world::World;

const T0: u64 = 1_700_000_000;

struct V {
    st: VaultState,
    clock: Arc<ManualClock>,
}

#[derive(Debug)]
struct R {
    status: u16,
    body: Value,
    raw: String,
    headers: HeaderMap,
}

impl R {
    fn error(&self) -> &str {
        self.body["errors"][0].as_str().unwrap_or("<none>")
    }
}

fn vault_with(options: VaultOptions) -> V {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let sim = Sim::new(World::new("vault-tests"), clock.clone());
    V {
        st: VaultState::new(sim, options),
        clock,
    }
}

fn vault() -> V {
    vault_with(VaultOptions::default())
}

impl V {
    async fn send(&self, req: Request<Body>) -> R {
        let resp = router(self.st.clone()).oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let raw = String::from_utf8(bytes.to_vec()).unwrap();
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        R {
            status,
            body,
            raw,
            headers,
        }
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> R {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("X-Vault-Token", t);
        }
        let body = match body {
            Some(v) => Body::from(v.to_string()),
            None => Body::empty(),
        };
        self.send(b.body(body).unwrap()).await
    }

    async fn root(&self, method: &str, path: &str, body: Option<Value>) -> R {
        self.call(method, path, Some("root"), body).await
    }

    /// A token with `policies` (and no `default` unless listed: `no_default_policy` would strip
    /// even a listed one, as in Vault).
    async fn token(&self, policies: &[&str], extra: Value) -> String {
        let no_default = !policies.contains(&"default");
        let mut body = json!({ "policies": policies, "no_default_policy": no_default });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = self.root("POST", "/v1/auth/token/create", Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        r.body["auth"]["client_token"].as_str().unwrap().to_owned()
    }

    async fn policy(&self, name: &str, hcl: &str) {
        let r = self
            .root(
                "PUT",
                &format!("/v1/sys/policy/{name}"),
                Some(json!({ "policy": hcl })),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.raw);
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs)).unwrap();
    }
}

// --------------------------------------------------------------------------- envelope, errors

#[tokio::test]
async fn vault_success_envelope_has_vaults_keys_headers_and_newline() {
    let v = vault();
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"policies": ["p1"], "meta": {"a": "b"}})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(r.raw.ends_with("}\n"));
    let keys: Vec<_> = r.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "request_id",
            "lease_id",
            "renewable",
            "lease_duration",
            "data",
            "wrap_info",
            "warnings",
            "auth",
            "mount_type"
        ]
    );
    assert_eq!(r.body["mount_type"], "token");
    assert_eq!(r.body["data"], Value::Null);
    assert_eq!(r.body["warnings"], json!(["Policy \"p1\" does not exist"]));
    let auth = &r.body["auth"];
    let auth_keys: Vec<_> = auth.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        auth_keys,
        [
            "client_token",
            "accessor",
            "policies",
            "token_policies",
            "metadata",
            "lease_duration",
            "renewable",
            "entity_id",
            "token_type",
            "orphan",
            "mfa_requirement",
            "num_uses"
        ]
    );
    let tok = auth["client_token"].as_str().unwrap();
    assert!(tok.starts_with("hvs.CAES"), "{tok}");
    assert!(tok.len() > 80);
    assert_eq!(auth["accessor"].as_str().unwrap().len(), 24);
    assert_eq!(auth["policies"], json!(["default", "p1"]));
    assert_eq!(auth["metadata"], json!({"a": "b"}));
    assert_eq!(auth["lease_duration"], 2764800);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["token_type"], "service");
    assert_eq!(auth["orphan"], false);
    assert_eq!(r.body["request_id"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn vault_root_policy_child_token_is_short_and_non_expiring() {
    let v = vault();
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"policies": ["root"]})),
        )
        .await;
    let auth = &r.body["auth"];
    let tok = auth["client_token"].as_str().unwrap();
    assert!(tok.starts_with("hvs.") && tok.len() == 28, "{tok}");
    assert_eq!(auth["policies"], json!(["root"]));
    assert_eq!(auth["lease_duration"], 0);
    assert_eq!(auth["renewable"], false);
}

#[tokio::test]
async fn vault_missing_invalid_and_insufficient_tokens() {
    let v = vault();
    let r = v.call("GET", "/v1/secret/data/x", None, None).await;
    assert_eq!((r.status, r.error()), (403, "permission denied"));
    assert_eq!(r.raw, "{\"errors\":[\"permission denied\"]}\n");
    let r = v.call("GET", "/v1/secret/data/x", Some("nope"), None).await;
    assert_eq!(
        (r.status, r.error()),
        (
            403,
            "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"
        )
    );
    let t = v.token(&["default"], json!({})).await;
    let r = v.call("GET", "/v1/secret/data/x", Some(&t), None).await;
    assert_eq!(
        (r.status, r.error()),
        (403, "1 error occurred:\n\t* permission denied\n\n")
    );

    let legacy = vault_with(VaultOptions {
        legacy_invalid_token: true,
        ..VaultOptions::default()
    });
    let r = legacy
        .call("GET", "/v1/secret/data/x", Some("nope"), None)
        .await;
    assert_eq!((r.status, r.error()), (403, "permission denied"));
}

#[tokio::test]
async fn vault_bearer_token_is_used_only_without_x_vault_token() {
    let v = vault();
    let req = |auth: &str, vt: Option<&str>| {
        let mut b = Request::get("/v1/auth/token/lookup-self").header("Authorization", auth);
        if let Some(t) = vt {
            b = b.header("X-Vault-Token", t);
        }
        b.body(Body::empty()).unwrap()
    };
    assert_eq!(v.send(req("Bearer root", None)).await.status, 200);
    assert_eq!(v.send(req("Basic root", None)).await.status, 403);
    assert_eq!(v.send(req("Bearer root", Some("bad"))).await.status, 403);
}

#[tokio::test]
async fn vault_unknown_routes_and_wrong_methods() {
    let v = vault();
    let r = v.root("GET", "/v1/foo/bar", None).await;
    assert_eq!(
        (r.status, r.error()),
        (
            404,
            "no handler for route \"foo/bar\". route entry not found."
        )
    );
    let t = v.token(&["default"], json!({})).await;
    let r = v.call("GET", "/v1/foo/bar", Some(&t), None).await;
    assert_eq!(r.status, 403);
    let r = v.root("GET", "/nothing", None).await;
    assert_eq!((r.status, r.raw.as_str()), (404, "{\"errors\":[]}\n"));
    let r = v.root("FOO", "/v1/secret/data/x", None).await;
    assert_eq!((r.status, r.raw.as_str()), (405, "{\"errors\":[]}\n"));
    let r = v.root("POST", "/v1/sys/seal-status", None).await;
    assert_eq!((r.status, r.raw.as_str()), (405, "{\"errors\":[]}\n"));
    let r = v.root("GET", "/v1/secret/nope/x", None).await;
    assert_eq!(r.status, 404);
    assert!(r.body["warnings"][0]
        .as_str()
        .unwrap()
        .contains("use 'vault kv get' for this operation"));
    let r = v.root("GET", "/v1/auth/token/nope", None).await;
    assert_eq!(
        (r.status, r.error()),
        (404, "1 error occurred:\n\t* unsupported path\n\n")
    );
    let r = v.root("DELETE", "/v1/auth/token/lookup-self", None).await;
    assert_eq!(
        (r.status, r.error()),
        (405, "1 error occurred:\n\t* unsupported operation\n\n")
    );
}

#[tokio::test]
async fn vault_malformed_requests_are_answered_in_the_envelope() {
    let v = vault();
    let post = |body: &'static str| {
        Request::post("/v1/auth/token/create")
            .header("X-Vault-Token", "root")
            .body(Body::from(body))
            .unwrap()
    };
    for body in ["{not json", "[1,2]", "\"str\""] {
        let r = v.send(post(body)).await;
        assert_eq!((r.status, r.error()), (400, "error parsing JSON"), "{body}");
    }
    let r = v.root("GET", "/v1/secret/metadata/?list=maybe", None).await;
    assert_eq!((r.status, r.raw.as_str()), (400, "{\"errors\":[]}\n"));
    let r = v
        .send(
            Request::patch("/v1/secret/data/x")
                .header("X-Vault-Token", "root")
                .header("Content-Type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (
            415,
            "PATCH requires Content-Type of application/merge-patch+json, provided application/json"
        )
    );
    let r = v
        .root("POST", "/v1/secret/data/dir/", Some(json!({"data": {}})))
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "cannot write to a path ending in '/'")
    );
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"ttl": "forever"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "time: invalid duration \"forever\"")
    );
}

#[tokio::test]
async fn vault_warns_about_unrecognized_parameters() {
    let v = vault();
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"zeta": 1, "alpha": 2, "policies": ["default"]})),
        )
        .await;
    assert_eq!(
        r.body["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [alpha zeta]"])
    );
    // No warning on a 204.
    let r = v
        .root(
            "POST",
            "/v1/sys/policy/p",
            Some(json!({"policy": "path \"a\" { capabilities = [\"read\"] }", "junk": 1})),
        )
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn vault_namespace_header_is_echoed() {
    let v = vault();
    let r = v
        .send(
            Request::get("/v1/auth/token/lookup-self")
                .header("X-Vault-Token", "root")
                .header("X-Vault-Namespace", "ns1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.headers["x-vault-namespace"], "ns1");
}

// ------------------------------------------------------------------------------------ tokens

#[tokio::test]
async fn vault_root_lookup_self_has_no_lease_keys() {
    let v = vault();
    let r = v.root("GET", "/v1/auth/token/lookup-self", None).await;
    let d = &r.body["data"];
    assert_eq!(d["id"], "root");
    assert_eq!(d["display_name"], "root");
    assert_eq!(d["path"], "auth/token/root");
    assert_eq!(d["policies"], json!(["root"]));
    assert_eq!(d["meta"], Value::Null);
    assert_eq!(d["expire_time"], Value::Null);
    assert_eq!(d["ttl"], 0);
    assert_eq!(d["orphan"], true);
    assert!(d.get("renewable").is_none() && d.get("issue_time").is_none());
    let r = v.root("POST", "/v1/auth/token/renew-self", None).await;
    assert_eq!((r.status, r.error()), (400, "invalid lease ID"));
}

#[tokio::test]
async fn vault_token_ttl_expires_with_the_manual_clock() {
    let v = vault();
    let t = v.token(&["default"], json!({"ttl": "1h"})).await;
    let r = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&t), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["ttl"], 3600);
    assert_eq!(r.body["data"]["creation_ttl"], 3600);
    assert_eq!(r.body["data"]["id"], t.as_str());
    assert!(r.body["data"]["expire_time"]
        .as_str()
        .unwrap()
        .starts_with("2023-11-14T23:13:20"));
    v.advance(3599);
    let r = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&t), None)
        .await;
    assert_eq!(r.body["data"]["ttl"], 1);
    v.advance(1);
    let r = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&t), None)
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn vault_token_renewal_moves_expiry_and_caps_at_max_ttl() {
    let v = vault();
    let t = v
        .token(&["default"], json!({"ttl": "1h", "explicit_max_ttl": "2h"}))
        .await;
    v.advance(1800);
    let r = v
        .call(
            "POST",
            "/v1/auth/token/renew-self",
            Some(&t),
            Some(json!({"increment": "1h"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["auth"]["client_token"], t.as_str());
    assert_eq!(r.body["auth"]["lease_duration"], 3600);
    v.advance(3000);
    let r = v
        .call(
            "POST",
            "/v1/auth/token/renew-self",
            Some(&t),
            Some(json!({"increment": "1h"})),
        )
        .await;
    assert_eq!(r.body["auth"]["lease_duration"], 2400);
    assert_eq!(
        r.body["warnings"],
        json!(["TTL of \"1h\" exceeded the effective max_ttl of \"40m\"; TTL value is capped accordingly"])
    );
    v.advance(2400);
    assert_eq!(
        v.call("GET", "/v1/auth/token/lookup-self", Some(&t), None)
            .await
            .status,
        403
    );
    let nr = v.token(&["default"], json!({"renewable": false})).await;
    let r = v
        .call("POST", "/v1/auth/token/renew-self", Some(&nr), None)
        .await;
    assert_eq!((r.status, r.error()), (400, "lease is not renewable"));
    let r = v
        .root(
            "POST",
            "/v1/auth/token/renew",
            Some(json!({"token": "zzz"})),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "token not found"));
    let r = v
        .root("POST", "/v1/auth/token/renew", Some(json!({})))
        .await;
    assert_eq!((r.status, r.error()), (400, "missing token ID"));
}

#[tokio::test]
async fn vault_ttl_over_the_max_is_capped_with_a_warning() {
    let v = vault();
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"ttl": "1000h", "policies": ["default"]})),
        )
        .await;
    assert_eq!(r.body["auth"]["lease_duration"], 2764800);
    assert_eq!(
        r.body["warnings"],
        json!(["TTL of \"1000h\" exceeded the effective max_ttl of \"768h\"; TTL value is capped accordingly"])
    );
    // The explicit max is part of the effective max: capped with the same warning.
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"ttl": "2h", "explicit_max_ttl": "1h30m", "policies": ["default"]})),
        )
        .await;
    assert_eq!(r.body["auth"]["lease_duration"], 5400);
    assert_eq!(
        r.body["warnings"],
        json!(["TTL of \"2h\" exceeded the effective max_ttl of \"1h30m\"; TTL value is capped accordingly"])
    );
    // A period above the max is capped with its own warning.
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"period": "1000h", "policies": ["default"]})),
        )
        .await;
    assert_eq!(r.body["auth"]["lease_duration"], 2764800);
    assert_eq!(
        r.body["warnings"],
        json!(["period of \"1000h\" exceeded the effective max_ttl of \"768h\"; period value is capped accordingly"])
    );
}

#[tokio::test]
async fn vault_revoke_self_revokes_children_and_revoke_orphan_keeps_them() {
    let v = vault();
    v.policy(
        "creator",
        r#"path "auth/token/create" { capabilities = ["update"] }"#,
    )
    .await;
    let parent = v.token(&["creator", "default"], json!({})).await;
    let r = v
        .call(
            "POST",
            "/v1/auth/token/create",
            Some(&parent),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let kid = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    assert_eq!(r.body["auth"]["orphan"], false);
    assert_eq!(
        v.call("POST", "/v1/auth/token/revoke-self", Some(&parent), None)
            .await
            .status,
        204
    );
    assert_eq!(
        v.call("GET", "/v1/auth/token/lookup-self", Some(&parent), None)
            .await
            .status,
        403
    );
    assert_eq!(
        v.call("GET", "/v1/auth/token/lookup-self", Some(&kid), None)
            .await
            .status,
        403
    );

    let parent = v.token(&["creator", "default"], json!({})).await;
    let r = v
        .call(
            "POST",
            "/v1/auth/token/create",
            Some(&parent),
            Some(json!({})),
        )
        .await;
    let kid = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = v
        .call(
            "POST",
            "/v1/auth/token/revoke-orphan",
            Some(&parent),
            Some(json!({"token": parent})),
        )
        .await;
    assert_eq!(r.status, 403, "revoke-orphan is a root path");
    let r = v
        .root(
            "POST",
            "/v1/auth/token/revoke-orphan",
            Some(json!({"token": parent})),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&kid), None)
        .await;
    assert_eq!(
        (r.status, r.body["data"]["orphan"].clone()),
        (200, json!(true))
    );
    // Unknown tokens revoke quietly.
    assert_eq!(
        v.root(
            "POST",
            "/v1/auth/token/revoke",
            Some(json!({"token": "nope"}))
        )
        .await
        .status,
        204
    );
}

#[tokio::test]
async fn vault_accessor_endpoints() {
    let v = vault();
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"policies": ["default"]})),
        )
        .await;
    let acc = r.body["auth"]["accessor"].as_str().unwrap().to_owned();
    let tok = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = v
        .root(
            "POST",
            "/v1/auth/token/lookup-accessor",
            Some(json!({"accessor": acc})),
        )
        .await;
    assert_eq!(r.body["data"]["id"], "");
    assert_eq!(r.body["data"]["accessor"], acc.as_str());
    let r = v
        .root(
            "POST",
            "/v1/auth/token/lookup-accessor",
            Some(json!({"accessor": "x"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "1 error occurred:\n\t* invalid accessor\n\n")
    );
    let r = v
        .root("POST", "/v1/auth/token/lookup-accessor", Some(json!({})))
        .await;
    assert_eq!(r.error(), "1 error occurred:\n\t* missing accessor\n\n");
    let r = v
        .root("POST", "/v1/auth/token/lookup", Some(json!({"token": "x"})))
        .await;
    assert_eq!((r.status, r.error()), (403, "bad token"));
    let r = v
        .root("POST", "/v1/auth/token/lookup", Some(json!({"token": tok})))
        .await;
    assert_eq!(r.body["data"]["id"], tok.as_str());
    let r = v.root("LIST", "/v1/auth/token/accessors", None).await;
    assert!(r.body["data"]["keys"]
        .as_array()
        .unwrap()
        .contains(&json!(acc)));
    let r = v
        .root(
            "POST",
            "/v1/auth/token/revoke-accessor",
            Some(json!({"accessor": acc})),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = v
        .root(
            "POST",
            "/v1/auth/token/revoke-accessor",
            Some(json!({"accessor": acc})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["warnings"],
        json!(["No token found with this accessor"])
    );
}

#[tokio::test]
async fn vault_num_uses_runs_out() {
    let v = vault();
    let t = v.token(&["default"], json!({"num_uses": 2})).await;
    let r = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&t), None)
        .await;
    assert_eq!(r.body["data"]["num_uses"], 1);
    let r = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&t), None)
        .await;
    assert_eq!(r.status, 200);
    let r = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&t), None)
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn vault_token_create_validation() {
    let v = vault();
    v.policy(
        "creator",
        r#"path "auth/token/create*" { capabilities = ["update"] }"#,
    )
    .await;
    let t = v.token(&["creator"], json!({})).await;
    let create = |body: Value| v.call("POST", "/v1/auth/token/create", Some(&t), Some(body));
    let r = create(json!({"policies": ["other"]})).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "child policies must be subset of parent")
    );
    // The subset check comes before the root check.
    let r = create(json!({"policies": ["root"]})).await;
    assert_eq!(r.error(), "child policies must be subset of parent");
    let r = create(json!({"no_parent": true})).await;
    assert_eq!(
        r.error(),
        "root or sudo privileges required to create orphan token"
    );
    let r = create(json!({"period": "1h"})).await;
    assert_eq!(
        r.error(),
        "root or sudo privileges required to create periodic token"
    );
    let r = create(json!({"id": "custom"})).await;
    assert_eq!(
        r.error(),
        "root or sudo privileges required to specify token id"
    );
    let r = create(json!({"type": "batch", "num_uses": 3})).await;
    assert_eq!(r.error(), "batch tokens cannot have \"num_uses\" set");
    let r = create(json!({"type": "weird"})).await;
    assert_eq!(r.error(), "invalid 'token_type' value");
    let r = create(json!({"num_uses": -1})).await;
    assert_eq!(r.error(), "number of uses cannot be negative");
    let r = v
        .call(
            "POST",
            "/v1/auth/token/create-orphan",
            Some(&t),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["auth"]["orphan"], true);
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"id": "hvs.x"})),
        )
        .await;
    assert_eq!(r.error(), "custom token ID cannot have the 'hvs.' prefix");
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"id": "my-token"})),
        )
        .await;
    assert_eq!(r.body["auth"]["client_token"], "my-token");
    let r = v
        .root("POST", "/v1/auth/token/create/nope", Some(json!({})))
        .await;
    assert_eq!(r.error(), "unknown role nope");
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"type": "batch", "policies": ["default"]})),
        )
        .await;
    let b = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    assert!(b.starts_with("hvb."));
    assert_eq!(r.body["auth"]["token_type"], "batch");
    let r = v
        .call("POST", "/v1/auth/token/renew-self", Some(&b), None)
        .await;
    assert_eq!(r.error(), "batch tokens cannot be renewed");
    let r = v
        .call("POST", "/v1/auth/token/create", Some(&b), Some(json!({})))
        .await;
    assert_eq!(r.status, 403, "default has no create");
}

#[tokio::test]
async fn vault_token_roles_shape_created_tokens() {
    let v = vault();
    let r = v
        .root(
            "POST",
            "/v1/auth/token/roles/ci",
            Some(json!({"allowed_policies": "a,b", "orphan": true, "token_period": "1h"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = v.root("GET", "/v1/auth/token/roles/ci", None).await;
    assert_eq!(r.body["data"]["allowed_policies"], json!(["a", "b"]));
    assert_eq!(r.body["data"]["token_period"], 3600);
    let r = v
        .root("POST", "/v1/auth/token/create/ci", Some(json!({})))
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["auth"]["policies"], json!(["a", "b", "default"]));
    assert_eq!(r.body["auth"]["orphan"], true);
    assert_eq!(r.body["auth"]["lease_duration"], 3600);
    let t = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = v
        .root("POST", "/v1/auth/token/lookup", Some(json!({"token": t})))
        .await;
    assert_eq!(r.body["data"]["path"], "auth/token/create/ci");
    assert_eq!(r.body["data"]["role"], "ci");
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create/ci",
            Some(json!({"policies": ["c"]})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        v.root("LIST", "/v1/auth/token/roles", None).await.body["data"]["keys"],
        json!(["ci"])
    );
}

// ------------------------------------------------------------------------- policies and ACL

#[tokio::test]
async fn vault_acl_globs_plus_deny_and_priority_over_http() {
    let v = vault();
    v.policy(
        "app",
        r#"
        path "secret/data/app/*" { capabilities = ["create", "read", "update"] }
        path "secret/data/app/private" { capabilities = ["deny"] }
        path "secret/data/+/shared" { capabilities = ["read"] }
        path "secret/metadata/app" { capabilities = ["list"] }
        "#,
    )
    .await;
    let t = v.token(&["app"], json!({})).await;
    let w = |p: &str| {
        let path = format!("/v1/secret/data/{p}");
        let (v, t) = (&v, &t);
        async move {
            v.call("POST", &path, Some(t), Some(json!({"data": {"k": "v"}})))
                .await
        }
    };
    assert_eq!(w("app/one").await.status, 200);
    assert_eq!(w("app/private").await.status, 403);
    assert_eq!(w("other/shared").await.status, 403, "read only");
    v.root(
        "POST",
        "/v1/secret/data/other/shared",
        Some(json!({"data": {"k": 1}})),
    )
    .await;
    let r = v
        .call("GET", "/v1/secret/data/other/shared", Some(&t), None)
        .await;
    assert_eq!(r.status, 200);
    let r = v
        .call("LIST", "/v1/secret/metadata/app", Some(&t), None)
        .await;
    assert_eq!(r.body["data"]["keys"], json!(["one"]));
    let r = v
        .call(
            "POST",
            "/v1/sys/capabilities-self",
            Some(&t),
            Some(json!({"paths": ["secret/data/app/x"]})),
        )
        .await;
    assert_eq!(r.status, 403, "capabilities-self needs default");
    let t2 = v.token(&["app", "default"], json!({})).await;
    let r = v
        .call(
            "POST",
            "/v1/sys/capabilities-self",
            Some(&t2),
            Some(json!({"paths": ["secret/data/app/x"]})),
        )
        .await;
    assert_eq!(r.body["capabilities"], json!(["create", "read", "update"]));
    assert_eq!(
        r.body["secret/data/app/x"],
        json!(["create", "read", "update"])
    );
    assert_eq!(
        r.body["data"]["capabilities"],
        json!(["create", "read", "update"])
    );
    let r = v
        .call(
            "POST",
            "/v1/sys/capabilities-self",
            Some(&t2),
            Some(json!({"paths": ["secret/data/app/private", "nope"]})),
        )
        .await;
    assert_eq!(
        r.body["data"],
        json!({"nope": ["deny"], "secret/data/app/private": ["deny"]})
    );
    let r = v
        .root(
            "POST",
            "/v1/sys/capabilities-self",
            Some(json!({"paths": ["x"]})),
        )
        .await;
    assert_eq!(r.body["capabilities"], json!(["root"]));
    let r = v
        .root("POST", "/v1/sys/capabilities-self", Some(json!({})))
        .await;
    assert_eq!(r.error(), "paths must be supplied");
}

#[tokio::test]
async fn vault_create_needs_create_and_update_needs_update() {
    let v = vault();
    v.policy(
        "u",
        r#"path "secret/data/*" { capabilities = ["update", "read"] }"#,
    )
    .await;
    let t = v.token(&["u"], json!({})).await;
    let w = || {
        v.call(
            "POST",
            "/v1/secret/data/k",
            Some(&t),
            Some(json!({"data": {"a": 1}})),
        )
    };
    assert_eq!(w().await.status, 403, "absent item needs create");
    v.root("POST", "/v1/secret/data/k", Some(json!({"data": {"a": 0}})))
        .await;
    assert_eq!(w().await.status, 200);
}

#[tokio::test]
async fn vault_sudo_paths_need_sudo() {
    let v = vault();
    v.policy(
        "admin",
        r#"path "sys/auth/*" { capabilities = ["create", "update", "read"] }"#,
    )
    .await;
    let t = v.token(&["admin"], json!({})).await;
    let r = v
        .call(
            "POST",
            "/v1/sys/auth/userpass",
            Some(&t),
            Some(json!({"type": "userpass"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (403, "1 error occurred:\n\t* permission denied\n\n")
    );
    v.policy(
        "admin",
        r#"path "sys/auth/*" { capabilities = ["create", "update", "read", "sudo"] }"#,
    )
    .await;
    let r = v
        .call(
            "POST",
            "/v1/sys/auth/userpass",
            Some(&t),
            Some(json!({"type": "userpass"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
}

#[tokio::test]
async fn vault_policy_endpoints() {
    let v = vault();
    let r = v.root("GET", "/v1/sys/policy", None).await;
    assert_eq!(r.body["policies"], json!(["default", "root"]));
    assert_eq!(r.body["data"]["keys"], json!(["default", "root"]));
    v.policy("mypol", r#"path "a" { capabilities = ["read"] }"#)
        .await;
    let r = v.root("LIST", "/v1/sys/policies/acl", None).await;
    assert_eq!(r.body["data"]["keys"], json!(["default", "mypol", "root"]));
    let r = v.root("GET", "/v1/sys/policy/mypol", None).await;
    assert_eq!(r.body["rules"], r#"path "a" { capabilities = ["read"] }"#);
    assert_eq!(r.body["data"]["name"], "mypol");
    let r = v.root("GET", "/v1/sys/policies/acl/mypol", None).await;
    assert!(r.body.get("policy").is_none(), "not injected");
    assert_eq!(
        r.body["data"]["policy"],
        r#"path "a" { capabilities = ["read"] }"#
    );
    let r = v.root("GET", "/v1/sys/policy/nope", None).await;
    assert_eq!((r.status, r.raw.as_str()), (404, "{\"errors\":[]}\n"));
    let r = v
        .root(
            "PUT",
            "/v1/sys/policy/MyPol2",
            Some(json!({"policy": "path \"b\" { policy = \"read\" }"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["warnings"],
        json!(["policy name was converted to mypol2"])
    );
    let bad = |p: &'static str| v.root("PUT", "/v1/sys/policies/acl/x", Some(json!({"policy": p})));
    assert_eq!(
        bad(r#"path "secret/*" { capabilities = ["foo"] }"#)
            .await
            .error(),
        "failed to parse policy: path \"secret/*\": invalid capability \"foo\""
    );
    assert_eq!(
        bad(r#"path "a+*" { capabilities = ["read"] }"#)
            .await
            .error(),
        "failed to parse policy: path \"a+*\": invalid use of wildcards ('+*' is forbidden)"
    );
    let r = v.root("PUT", "/v1/sys/policy/x", Some(json!({}))).await;
    assert_eq!(r.error(), "'policy' parameter not supplied or empty");
    let r = v
        .root(
            "PUT",
            "/v1/sys/policy/root",
            Some(json!({"policy": "path \"a\" {}"})),
        )
        .await;
    assert_eq!(r.error(), "cannot update \"root\" policy");
    assert_eq!(
        v.root("DELETE", "/v1/sys/policy/root", None).await.error(),
        "cannot delete \"root\" policy"
    );
    assert_eq!(
        v.root("DELETE", "/v1/sys/policy/default", None)
            .await
            .error(),
        "cannot delete default policy"
    );
    assert_eq!(
        v.root("DELETE", "/v1/sys/policy/mypol", None).await.status,
        204
    );
    assert_eq!(
        v.root("DELETE", "/v1/sys/policy/never", None).await.status,
        204
    );
    let r = v
        .root(
            "PUT",
            "/v1/sys/policy/legacy",
            Some(json!({"rules": "path \"c\" { policy = \"write\" }"})),
        )
        .await;
    assert_eq!(
        r.body["warnings"],
        json!(["'rules' is deprecated, please use 'policy' instead"])
    );
    // base64 policy bodies are decoded
    use base64::Engine as _;
    let b64 =
        base64::engine::general_purpose::STANDARD.encode(r#"path "z" { capabilities = ["list"] }"#);
    assert_eq!(
        v.root("PUT", "/v1/sys/policy/b64", Some(json!({"policy": b64})))
            .await
            .status,
        204
    );
    let r = v.root("GET", "/v1/sys/policy/b64", None).await;
    assert_eq!(r.body["rules"], r#"path "z" { capabilities = ["list"] }"#);
}

// ------------------------------------------------------------------------------------ KV v2

#[tokio::test]
async fn vault_kv2_versions_cas_and_metadata() {
    let v = vault();
    let w = |body: Value| v.root("POST", "/v1/secret/data/app/config", Some(body));
    let r = w(json!({"data": {"b": 2, "a": 1}})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["data"]["version"], 1);
    assert_eq!(r.body["data"]["deletion_time"], "");
    assert_eq!(r.body["data"]["created_time"], "2023-11-14T22:13:20Z");
    assert_eq!(r.body["mount_type"], "kv");
    let r = w(json!({"data": {"a": 2}, "options": {"cas": 0}})).await;
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "check-and-set parameter did not match the current version"
        )
    );
    let r = w(json!({"data": {"a": 2}, "options": {"cas": 1}})).await;
    assert_eq!(r.body["data"]["version"], 2);
    let r = w(json!({"data": {"a": 2}, "options": {"cas": "x"}})).await;
    assert_eq!(r.error(), "error parsing check-and-set parameter");
    assert_eq!(w(json!({})).await.error(), "no data provided");

    let r = v.root("GET", "/v1/secret/data/app/config", None).await;
    assert_eq!(r.body["data"]["data"], json!({"a": 2}));
    assert_eq!(r.body["data"]["metadata"]["version"], 2);
    assert_eq!(r.body["lease_duration"], 0);
    let r = v
        .root("GET", "/v1/secret/data/app/config?version=1", None)
        .await;
    assert!(r.raw.contains(r#"{"a":1,"b":2}"#));
    assert_eq!(
        v.root("GET", "/v1/secret/data/app/config?version=9", None)
            .await
            .status,
        404
    );
    assert_eq!(
        v.root("GET", "/v1/secret/data/missing", None).await.raw,
        "{\"errors\":[]}\n"
    );

    // soft delete of the latest → raw 404 envelope, no trailing newline
    assert_eq!(
        v.root("DELETE", "/v1/secret/data/app/config", None)
            .await
            .status,
        204
    );
    let r = v.root("GET", "/v1/secret/data/app/config", None).await;
    assert_eq!(r.status, 404);
    assert!(!r.raw.ends_with('\n'));
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.body["data"]["data"], Value::Null);
    // Marshalled in the backend, before the router sets the mount type.
    assert!(
        r.raw.ends_with(r#""auth":null,"mount_type":""}"#),
        "{}",
        r.raw
    );
    assert!(r.body["data"]["metadata"]["deletion_time"]
        .as_str()
        .unwrap()
        .starts_with("2023"));
    assert!(r.body.get("request_id").is_some());
    let r = v
        .root(
            "POST",
            "/v1/secret/undelete/app/config",
            Some(json!({"versions": [2]})),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        v.root("GET", "/v1/secret/data/app/config", None)
            .await
            .status,
        200
    );
    let r = v
        .root("POST", "/v1/secret/undelete/app/config", Some(json!({})))
        .await;
    assert_eq!(r.error(), "No version number provided");
    let r = v
        .root("POST", "/v1/secret/destroy/app/config", Some(json!({})))
        .await;
    assert_eq!(r.error(), "no version number provided");
    let r = v
        .root(
            "POST",
            "/v1/secret/destroy/app/config",
            Some(json!({"versions": "1"})),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = v
        .root("GET", "/v1/secret/data/app/config?version=1", None)
        .await;
    assert_eq!(
        (r.status, r.body["data"]["metadata"]["destroyed"].clone()),
        (404, json!(true))
    );
    let r = v
        .root(
            "POST",
            "/v1/secret/delete/app/config",
            Some(json!({"versions": [2]})),
        )
        .await;
    assert_eq!(r.status, 204);

    let r = v.root("GET", "/v1/secret/metadata/app/config", None).await;
    let d = &r.body["data"];
    assert_eq!(d["current_version"], 2);
    assert_eq!(d["oldest_version"], 0, "0 until the first prune");
    assert_eq!(d["delete_version_after"], "0s");
    assert_eq!(d["versions"]["1"]["destroyed"], true);
    assert!(d["versions"]["2"]["deletion_time"]
        .as_str()
        .unwrap()
        .starts_with("2023"));
    let r = v.root("LIST", "/v1/secret/metadata/", None).await;
    assert_eq!(r.body["data"]["keys"], json!(["app/"]));
    let r = v
        .root("GET", "/v1/secret/metadata/app?list=true", None)
        .await;
    assert_eq!(r.body["data"]["keys"], json!(["config"]));
    assert_eq!(
        v.root("LIST", "/v1/secret/metadata/nothing", None)
            .await
            .status,
        404
    );
    assert_eq!(
        v.root("DELETE", "/v1/secret/metadata/app/config", None)
            .await
            .status,
        204
    );
    assert_eq!(
        v.root("GET", "/v1/secret/metadata/app/config", None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn vault_kv2_cas_required_max_versions_and_patch() {
    let v = vault();
    let r = v
        .root(
            "POST",
            "/v1/secret/metadata/k",
            Some(
                json!({"cas_required": true, "max_versions": 2, "custom_metadata": {"team": "x"}}),
            ),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = v
        .root("POST", "/v1/secret/data/k", Some(json!({"data": {"a": 1}})))
        .await;
    assert_eq!(r.error(), "check-and-set parameter required for this call");
    for cas in 0..3 {
        let r = v
            .root(
                "POST",
                "/v1/secret/data/k",
                Some(json!({"data": {"a": cas}, "options": {"cas": cas}})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["data"]["custom_metadata"], json!({"team": "x"}));
    }
    let r = v.root("GET", "/v1/secret/metadata/k", None).await;
    assert_eq!(r.body["data"]["oldest_version"], 2);
    assert_eq!(r.body["data"]["versions"].as_object().unwrap().len(), 2);
    let patch = Request::patch("/v1/secret/data/k")
        .header("X-Vault-Token", "root")
        .header("Content-Type", "application/merge-patch+json")
        .body(Body::from(
            json!({"data": {"b": 1}, "options": {"cas": 3}}).to_string(),
        ))
        .unwrap();
    let r = v.send(patch).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = v.root("GET", "/v1/secret/data/k", None).await;
    assert_eq!(r.body["data"]["data"], json!({"a": 2, "b": 1}));
    let r = v.root("GET", "/v1/secret/config", None).await;
    assert_eq!(
        r.body["data"],
        json!({"cas_required": false, "delete_version_after": "0s", "max_versions": 0})
    );
    let r = v.root("GET", "/v1/secret/data", None).await;
    assert_eq!(
        r.body["warnings"],
        json!(["Non-listing operations on the root of a K/V v2 mount are not supported."])
    );
}

// ---------------------------------------------------------------------- mounts, KV v1, auth

#[tokio::test]
async fn vault_sys_mounts_and_kv_v1() {
    let v = vault();
    let r = v.root("GET", "/v1/sys/mounts", None).await;
    assert_eq!(r.body["secret/"]["type"], "kv");
    assert_eq!(r.body["secret/"]["options"], json!({"version": "2"}));
    assert_eq!(r.body["data"]["sys/"]["type"], "system");
    assert!(r.body["data"]["cubbyhole/"]["accessor"]
        .as_str()
        .unwrap()
        .starts_with("cubbyhole_"));
    let keys: Vec<_> = r.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys[..4], ["cubbyhole/", "identity/", "secret/", "sys/"]);
    let r = v
        .root("POST", "/v1/sys/mounts/kv", Some(json!({"type": "kv-v1"})))
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = v
        .root("POST", "/v1/sys/mounts/kv", Some(json!({"type": "kv"})))
        .await;
    assert_eq!(r.error(), "path is already in use at kv/");
    let r = v.root("POST", "/v1/sys/mounts/x", Some(json!({}))).await;
    assert_eq!(r.error(), "backend type must be specified as a string");
    let r = v
        .root("POST", "/v1/sys/mounts/x", Some(json!({"type": "nope"})))
        .await;
    assert_eq!(r.error(), "plugin not found in the catalog: nope");
    let r = v.root("GET", "/v1/sys/mounts/nowhere", None).await;
    assert_eq!(r.error(), "No secret engine mount at nowhere/");
    let r = v.root("GET", "/v1/sys/mounts/kv", None).await;
    assert_eq!(r.body["options"], json!({"version": "1"}));

    assert_eq!(
        v.root("POST", "/v1/kv/app", Some(json!({"pw": "x"})))
            .await
            .status,
        204
    );
    assert_eq!(
        v.root("POST", "/v1/kv/app", Some(json!({}))).await.error(),
        "missing data fields"
    );
    let r = v.root("GET", "/v1/kv/app", None).await;
    assert_eq!(r.body["data"], json!({"pw": "x"}));
    assert_eq!(r.body["lease_duration"], 2764800);
    assert_eq!(r.body["renewable"], false);
    assert_eq!(
        v.root("LIST", "/v1/kv", None).await.body["data"]["keys"],
        json!(["app"])
    );
    assert_eq!(v.root("DELETE", "/v1/kv/app", None).await.status, 204);
    assert_eq!(v.root("GET", "/v1/kv/app", None).await.status, 404);
    assert_eq!(
        v.root("DELETE", "/v1/sys/mounts/kv", None).await.status,
        204
    );
    assert_eq!(v.root("GET", "/v1/kv/app", None).await.status, 404);
}

#[tokio::test]
async fn vault_sys_auth_enable_list_tune_disable() {
    let v = vault();
    let r = v
        .root("POST", "/v1/sys/auth/approle", Some(json!({"type": "approle", "description": "ci", "config": {"default_lease_ttl": "1h"}})))
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = v.root("GET", "/v1/sys/auth", None).await;
    let e = &r.body["approle/"];
    assert_eq!(e["type"], "approle");
    assert_eq!(e["description"], "ci");
    assert_eq!(e["config"]["default_lease_ttl"], 3600);
    assert_eq!(e["config"]["token_type"], "default-service");
    assert!(e["accessor"].as_str().unwrap().starts_with("auth_approle_"));
    assert_eq!(r.body["data"]["token/"]["type"], "token");
    let r = v
        .root(
            "POST",
            "/v1/sys/auth/approle",
            Some(json!({"type": "approle"})),
        )
        .await;
    assert_eq!(r.error(), "path is already in use at approle/");
    let r = v
        .root("POST", "/v1/sys/auth/t2", Some(json!({"type": "token"})))
        .await;
    assert_eq!(r.error(), "token credential backend cannot be instantiated");
    let r = v
        .root("POST", "/v1/sys/auth/x", Some(json!({"type": "github"})))
        .await;
    assert_eq!(r.error(), "plugin not found in the catalog: github");
    let r = v.root("GET", "/v1/sys/auth/nope", None).await;
    assert_eq!(r.error(), "No auth engine at nope/");
    let r = v
        .root(
            "POST",
            "/v1/sys/auth/approle/tune",
            Some(json!({"max_lease_ttl": "2h"})),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = v.root("GET", "/v1/sys/auth/approle/tune", None).await;
    assert_eq!(r.body["data"]["max_lease_ttl"], 7200);
    let r = v
        .root(
            "POST",
            "/v1/sys/auth/token/tune",
            Some(json!({"default_lease_ttl": "2h"})),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"policies": ["default"]})),
        )
        .await;
    assert_eq!(
        r.body["auth"]["lease_duration"], 7200,
        "the token mount's default TTL"
    );
    assert_eq!(
        v.root("DELETE", "/v1/sys/auth/approle", None).await.status,
        204
    );
    assert_eq!(
        v.root("DELETE", "/v1/sys/auth/approle", None).await.status,
        204
    );
    assert!(v
        .root("GET", "/v1/sys/auth", None)
        .await
        .body
        .get("approle/")
        .is_none());
}

// --------------------------------------------------------------------------------- userpass

#[tokio::test]
async fn vault_userpass_login_and_failures() {
    let v = vault();
    v.root(
        "POST",
        "/v1/sys/auth/userpass",
        Some(json!({"type": "userpass"})),
    )
    .await;
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/Bob",
            Some(json!({"password": "pw", "token_policies": "app,Web", "token_ttl": "30m"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = v
        .root("POST", "/v1/auth/userpass/users/eve", Some(json!({})))
        .await;
    assert_eq!(r.error(), "missing password");
    let r = v.root("GET", "/v1/auth/userpass/users/bob", None).await;
    assert_eq!(r.body["data"]["token_policies"], json!(["app", "Web"]));
    assert_eq!(r.body["data"]["token_ttl"], 1800);
    assert!(r.body["data"].get("password").is_none());
    assert_eq!(
        v.root("LIST", "/v1/auth/userpass/users", None).await.body["data"]["keys"],
        json!(["bob"])
    );

    // The caller's old (invalid) token is ignored on login paths.
    let r = v
        .call(
            "POST",
            "/v1/auth/userpass/login/BOB",
            Some("stale"),
            Some(json!({"password": "pw"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["mount_type"], "userpass");
    let a = &r.body["auth"];
    assert_eq!(a["policies"], json!(["app", "default", "web"]));
    assert_eq!(a["metadata"], json!({"username": "bob"}));
    assert_eq!(a["lease_duration"], 1800);
    assert_eq!(a["orphan"], true);
    assert_eq!(a["entity_id"].as_str().unwrap().len(), 36);
    let tok = a["client_token"].as_str().unwrap().to_owned();
    let r = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&tok), None)
        .await;
    assert_eq!(r.body["data"]["display_name"], "userpass-bob");
    assert_eq!(r.body["data"]["path"], "auth/userpass/login/BOB");

    let login = |pw: Value| {
        v.call(
            "POST",
            "/v1/auth/userpass/login/bob",
            None,
            Some(json!({"password": pw})),
        )
    };
    let r = login(json!("")).await;
    assert_eq!((r.status, r.error()), (500, "missing password"));
    let r = v
        .call(
            "POST",
            "/v1/auth/userpass/login/nobody",
            None,
            Some(json!({"password": "x"})),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid username or password"));
    for _ in 0..5 {
        assert_eq!(login(json!("wrong")).await.status, 400);
    }
    let r = login(json!("pw")).await;
    assert_eq!(
        (r.status, r.error()),
        (403, "permission denied"),
        "locked out after 5 failures"
    );
    v.advance(15 * 60 + 1);
    assert_eq!(login(json!("pw")).await.status, 200);
    // Failures of a user that does not exist are not kept: never locked out, always 400.
    for _ in 0..7 {
        let r = v
            .call(
                "POST",
                "/v1/auth/userpass/login/ghost",
                None,
                Some(json!({"password": "x"})),
            )
            .await;
        assert_eq!((r.status, r.error()), (400, "invalid username or password"));
    }
    // An update that gives the password empty is refused, not ignored.
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/bob",
            Some(json!({"password": ""})),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "missing password"));
}

/// Vault reads a user under the lower-cased name but stores a password or policies update under
/// the name as given: the update lands in an entry of its own that only a list shows.
#[tokio::test]
async fn vault_userpass_update_under_a_mixed_case_name_adds_an_entry_logins_do_not_see() {
    let v = vault();
    v.root(
        "POST",
        "/v1/sys/auth/userpass",
        Some(json!({"type": "userpass"})),
    )
    .await;
    v.root(
        "POST",
        "/v1/auth/userpass/users/alice",
        Some(json!({"password": "old", "token_policies": "app"})),
    )
    .await;
    let login = |pw: &'static str| {
        v.call(
            "POST",
            "/v1/auth/userpass/login/alice",
            None,
            Some(json!({"password": pw})),
        )
    };
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/Alice/password",
            Some(json!({"password": "new"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert_eq!(login("old").await.status, 200);
    let r = login("new").await;
    assert_eq!((r.status, r.error()), (400, "invalid username or password"));
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/Alice/policies",
            Some(json!({"token_policies": "other"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = v.root("GET", "/v1/auth/userpass/users/Alice", None).await;
    assert_eq!(r.body["data"]["token_policies"], json!(["app"]));
    assert_eq!(
        v.root("LIST", "/v1/auth/userpass/users", None).await.body["data"]["keys"],
        json!(["Alice", "alice"])
    );
    // The same name in lower case updates the user logins find.
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/alice/password",
            Some(json!({"password": "new"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert_eq!(login("new").await.status, 200);
    // An unknown user: an internal error (500, Go's multierror text).
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/Nobody/password",
            Some(json!({"password": "x"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (500, "1 error occurred:\n\t* username does not exist\n\n")
    );
}

#[tokio::test]
async fn vault_userpass_token_bound_cidrs_refuse_other_addresses() {
    let v = vault();
    v.root(
        "POST",
        "/v1/sys/auth/userpass",
        Some(json!({"type": "userpass"})),
    )
    .await;
    v.root(
        "POST",
        "/v1/auth/userpass/users/amy",
        Some(json!({"password": "pw", "token_bound_cidrs": ["10.0.0.0/8"]})),
    )
    .await;
    let from = |ip: [u8; 4]| {
        let mut req = Request::post("/v1/auth/userpass/login/amy")
            .body(Body::from(r#"{"password":"pw"}"#))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 1234))));
        v.send(req)
    };
    let r = from([127, 0, 0, 1]).await;
    assert_eq!((r.status, r.error()), (403, "permission denied"));
    let r = from([10, 0, 0, 7]).await;
    assert_eq!(r.status, 200);
    // The token keeps the bound: it is refused from elsewhere.
    let tok = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&tok), None)
        .await;
    assert_eq!((r.status, r.error()), (403, "permission denied"));
}

#[tokio::test]
async fn vault_ui_mounts_tells_the_cli_the_kv_version() {
    let v = vault();
    let r = v
        .root("GET", "/v1/sys/internal/ui/mounts/secret/app", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["data"]["path"], "secret/");
    assert_eq!(r.body["data"]["options"], json!({"version": "2"}));
    v.policy(
        "app",
        r#"path "secret/data/app/*" { capabilities = ["read"] }"#,
    )
    .await;
    let t = v.token(&["app"], json!({})).await;
    let r = v
        .call(
            "GET",
            "/v1/sys/internal/ui/mounts/secret/app",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let none = v.token(&["default"], json!({})).await;
    let r = v
        .call(
            "GET",
            "/v1/sys/internal/ui/mounts/secret/app",
            Some(&none),
            None,
        )
        .await;
    assert_eq!((r.status, r.error()), (403, "permission denied"));
    let r = v
        .call("GET", "/v1/sys/internal/ui/mounts/secret/app", None, None)
        .await;
    assert_eq!(r.status, 403);
}

// ---------------------------------------------------------------------------------- approle

async fn approle_vault() -> V {
    let v = vault();
    v.root(
        "POST",
        "/v1/sys/auth/approle",
        Some(json!({"type": "approle"})),
    )
    .await;
    v
}

#[tokio::test]
async fn vault_approle_role_ids_secret_ids_and_login() {
    let v = approle_vault().await;
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/Web",
            Some(json!({"token_policies": ["web"], "secret_id_ttl": "10m", "token_ttl": 600})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = v.root("GET", "/v1/auth/approle/role/web", None).await;
    let d = &r.body["data"];
    assert_eq!(d["bind_secret_id"], true);
    assert_eq!(d["secret_id_ttl"], 600);
    assert_eq!(d["token_policies"], json!(["web"]));
    assert_eq!(d["token_type"], "default");
    assert_eq!(d["token_bound_cidrs"], json!([]));
    assert!(d.get("policies").is_none());
    let role_id = v
        .root("GET", "/v1/auth/approle/role/web/role-id", None)
        .await
        .body["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/web/secret-id",
            Some(json!({"metadata": "{\"env\":\"ci\"}"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["data"]["secret_id_ttl"], 600);
    let secret = r.body["data"]["secret_id"].as_str().unwrap().to_owned();
    let login = |rid: &str, sid: Value| {
        v.call(
            "POST",
            "/v1/auth/approle/login",
            None,
            Some(json!({"role_id": rid, "secret_id": sid})),
        )
    };
    let r = login(&role_id, json!(secret)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let a = &r.body["auth"];
    assert_eq!(a["policies"], json!(["default", "web"]));
    assert_eq!(a["metadata"], json!({"env": "ci", "role_name": "web"}));
    assert_eq!(a["lease_duration"], 600);
    assert_eq!(a["renewable"], true);
    assert_eq!(r.body["mount_type"], "approle");

    // With user lockout on (the default), core's alias lookahead fails first: a bare 500.
    let r = login("", json!(secret)).await;
    assert_eq!(
        (r.status, r.error()),
        (500, "failed to determine alias name from login request")
    );
    assert_eq!(
        login("nope", json!(secret)).await.error(),
        "invalid role or secret ID"
    );
    assert_eq!(
        login(&role_id, Value::Null).await.error(),
        "missing secret_id"
    );
    assert_eq!(
        login(&role_id, json!("wrong")).await.error(),
        "invalid role or secret ID"
    );
    v.advance(601);
    let r = login(&role_id, json!(secret)).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid role or secret ID"),
        "expired"
    );

    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/nope/secret-id",
            Some(json!({})),
        )
        .await;
    assert_eq!((r.status, r.error()), (404, "role \"nope\" does not exist"));
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/web/secret-id",
            Some(json!({"ttl": "1h"})),
        )
        .await;
    assert_eq!(
        r.error(),
        "ttl cannot be longer than the role's secret_id_ttl"
    );
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/web/secret-id",
            Some(json!({"metadata": "{bad"})),
        )
        .await;
    assert!(
        r.error().starts_with("failed to parse metadata: "),
        "{}",
        r.error()
    );
    assert_eq!(
        v.root("GET", "/v1/auth/approle/role/nope/role-id", None)
            .await
            .status,
        404
    );
    assert_eq!(
        v.root("LIST", "/v1/auth/approle/role", None).await.body["data"]["keys"],
        json!(["web"])
    );
}

#[tokio::test]
async fn vault_approle_lockout_counting_role_id_writes_and_secret_ids_as_vault() {
    let v = approle_vault().await;
    v.root(
        "POST",
        "/v1/auth/approle/role/web",
        Some(json!({"token_policies": "web", "role_id": "rid-web"})),
    )
    .await;
    let login = |role_id: &str, secret_id: &str| {
        v.call(
            "POST",
            "/v1/auth/approle/login",
            None,
            Some(json!({"role_id": role_id, "secret_id": secret_id})),
        )
    };
    // An unknown role_id is an error response, not counted toward the lockout.
    for _ in 0..7 {
        let r = login("nope", "x").await;
        assert_eq!((r.status, r.error()), (400, "invalid role or secret ID"));
    }
    // role-id: the role first (404), then the value (400), then whether it is taken (500).
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/ghost/role-id",
            Some(json!({"role_id": ""})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (404, "1 error occurred:\n\t* unsupported path\n\n")
    );
    v.root(
        "POST",
        "/v1/auth/approle/role/other",
        Some(json!({"token_policies": "x"})),
    )
    .await;
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/other/role-id",
            Some(json!({"role_id": "rid-web"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (500, "1 error occurred:\n\t* role_id already in use\n\n")
    );
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/other",
            Some(json!({"role_id": ""})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "invalid role_id supplied, or failed to generate a role_id"
        )
    );
    // A custom secret_id registered twice.
    let custom = |id: &str| {
        v.root(
            "POST",
            "/v1/auth/approle/role/web/custom-secret-id",
            Some(json!({"secret_id": id, "num_uses": 1, "cidr_list": "10.0.0.0/8"})),
        )
    };
    assert_eq!(custom("s-1").await.status, 200);
    let r = custom("s-1").await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "1 error occurred:\n\t* failed to store secret_id: SecretID is already registered\n\n"
        )
    );
    // A one-use secret tried from outside its CIDRs is spent all the same.
    let r = login("rid-web", "s-1").await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(
        r.error()
            .contains("unauthorized by CIDR restrictions on the secret ID"),
        "{}",
        r.raw
    );
    let r = login("rid-web", "s-1").await;
    assert_eq!((r.status, r.error()), (400, "invalid role or secret ID"));
    // Listing the secret IDs of a role that does not exist.
    let r = v
        .root("LIST", "/v1/auth/approle/role/Ghost/secret-id", None)
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "role \"Ghost\" does not exist")
    );
}

#[tokio::test]
async fn vault_approle_num_uses_cidrs_and_constraints() {
    let v = approle_vault().await;
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/r",
            Some(json!({"bind_secret_id": false})),
        )
        .await;
    // Plain errors of Vault's role write: 500, in a go-multierror.
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "1 error occurred:\n\t* at least one constraint should be enabled on the role\n\n"
        )
    );
    for (cidrs, bad) in [("nope", "nope"), ("10.0.0.0/8,10.0.0.1", "10.0.0.1")] {
        let r = v
            .root(
                "POST",
                "/v1/auth/approle/role/r",
                Some(json!({ "secret_id_bound_cidrs": cidrs })),
            )
            .await;
        assert_eq!(
            (r.status, r.error()),
            (
                500,
                format!("1 error occurred:\n\t* failed to validate CIDR blocks: invalid CIDR address: {bad}\n\n").as_str()
            )
        );
    }
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/r",
            Some(json!({"secret_id_num_uses": -1})),
        )
        .await;
    assert_eq!(r.error(), "secret_id_num_uses cannot be negative");
    v.root(
        "POST",
        "/v1/auth/approle/role/r",
        Some(json!({"role_id": "rid-1"})),
    )
    .await;
    let custom = v
        .root(
            "POST",
            "/v1/auth/approle/role/r/custom-secret-id",
            Some(json!({"secret_id": "s3cret", "num_uses": 1})),
        )
        .await;
    assert_eq!(custom.body["data"]["secret_id"], "s3cret");
    assert_eq!(custom.body["data"]["secret_id_num_uses"], 1);
    let lookup = v
        .root(
            "POST",
            "/v1/auth/approle/role/r/secret-id/lookup",
            Some(json!({"secret_id": "s3cret"})),
        )
        .await;
    assert_eq!(lookup.body["data"]["secret_id_num_uses"], 1);
    assert_eq!(
        lookup.body["data"]["expiration_time"],
        "0001-01-01T00:00:00Z"
    );
    let login = |sid: &str| {
        v.call(
            "POST",
            "/v1/auth/approle/login",
            None,
            Some(json!({"role_id": "rid-1", "secret_id": sid})),
        )
    };
    assert_eq!(login("s3cret").await.status, 200);
    assert_eq!(
        login("s3cret").await.error(),
        "invalid role or secret ID",
        "used up"
    );
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/r/secret-id/lookup",
            Some(json!({"secret_id": "s3cret"})),
        )
        .await;
    assert_eq!(r.status, 204);

    // secret-ID CIDRs, against the caller's address
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/r/secret-id",
            Some(json!({"cidr_list": ["10.0.0.0/8"]})),
        )
        .await;
    let sid = r.body["data"]["secret_id"].as_str().unwrap().to_owned();
    let from = |ip: [u8; 4], sid: &str| {
        let mut req = Request::post("/v1/auth/approle/login")
            .body(Body::from(
                json!({"role_id": "rid-1", "secret_id": sid}).to_string(),
            ))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 5555))));
        v.send(req)
    };
    let r = from([127, 0, 0, 1], &sid).await;
    assert_eq!(
        r.error(),
        "source address \"127.0.0.1\" unauthorized through CIDR restrictions on the secret ID"
    );
    assert_eq!(from([10, 1, 2, 3], &sid).await.status, 200);
    // role CIDRs
    v.root(
        "POST",
        "/v1/auth/approle/role/r",
        Some(json!({"secret_id_bound_cidrs": ["192.168.0.0/16"]})),
    )
    .await;
    let r = v
        .root("POST", "/v1/auth/approle/role/r/secret-id", Some(json!({})))
        .await;
    let sid = r.body["data"]["secret_id"].as_str().unwrap().to_owned();
    assert_eq!(
        from([10, 1, 2, 3], &sid).await.error(),
        "source address \"10.1.2.3\" unauthorized by CIDR restrictions on the role: %!w(<nil>)"
    );
    assert_eq!(from([192, 168, 1, 1], &sid).await.status, 200);
}

// ------------------------------------------------------------------------------------- LDAP

#[tokio::test]
async fn vault_ldap_login_with_group_policies() {
    let v = vault();
    v.root("POST", "/v1/sys/auth/ldap", Some(json!({"type": "ldap"})))
        .await;
    let r = v
        .root("POST", "/v1/auth/ldap/config", Some(json!({"url": "ldap://ldap.example.com", "userdn": "ou=users,dc=example,dc=com", "groupdn": "ou=groups,dc=example,dc=com", "bindpass": "secret"})))
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = v.root("GET", "/v1/auth/ldap/config", None).await;
    assert_eq!(r.body["data"]["url"], "ldap://ldap.example.com");
    assert_eq!(r.body["data"]["userattr"], "cn");
    assert_eq!(r.body["data"]["deny_null_bind"], true);
    assert!(r.body["data"].get("bindpass").is_none());
    v.root(
        "POST",
        "/v1/auth/ldap/groups/devs",
        Some(json!({"policies": "dev,shared"})),
    )
    .await;
    v.root(
        "POST",
        "/v1/auth/ldap/groups/ops",
        Some(json!({"policies": ["ops"]})),
    )
    .await;
    v.root(
        "POST",
        "/v1/auth/ldap/users/alice",
        Some(json!({"groups": "ops", "policies": "alice"})),
    )
    .await;
    let r = v.root("GET", "/v1/auth/ldap/users/alice", None).await;
    assert_eq!(
        r.body["data"],
        json!({"groups": "ops", "policies": ["alice"]})
    );
    let r = v.root("GET", "/v1/auth/ldap/groups/devs", None).await;
    assert_eq!(r.body["data"], json!({"policies": ["dev", "shared"]}));
    v.st.ldap_add_user("alice", "pw", &["devs"]);

    let login = |pw: &str| {
        v.call(
            "POST",
            "/v1/auth/ldap/login/alice",
            None,
            Some(json!({"password": pw})),
        )
    };
    let r = login("pw").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["data"], json!({}));
    assert_eq!(r.body["warnings"], Value::Null);
    let a = &r.body["auth"];
    assert_eq!(
        a["policies"],
        json!(["alice", "default", "dev", "ops", "shared"])
    );
    assert_eq!(a["metadata"], json!({"username": "alice"}));
    assert_eq!(
        login("bad").await.error(),
        "ldap operation failed: failed to bind as user"
    );
    let r = v
        .call(
            "POST",
            "/v1/auth/ldap/login/ghost",
            None,
            Some(json!({"password": "x"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "ldap operation failed: failed to bind as user")
    );
    assert_eq!(
        login("").await.error(),
        "password cannot be of zero length when passwordless binds are being denied"
    );
    v.st.ldap_set_down(true);
    assert_eq!(
        login("pw").await.error(),
        "ldap.(Client).Authenticate: failed to connect: 1 error occurred:\n\t* ldap.(Client).connect: error connecting to host \"ldap://ldap.example.com\": LDAP Result Code 200 \"Network Error\": dial tcp ldap.example.com:389: connect: connection refused\n\n"
    );
    v.st.ldap_set_down(false);

    // Without groupdn, no LDAP groups: only local ones, and a warning.
    v.root("POST", "/v1/auth/ldap/config", Some(json!({"groupdn": ""})))
        .await;
    let r = login("pw").await;
    assert_eq!(
        r.body["auth"]["policies"],
        json!(["alice", "default", "ops"])
    );
    assert_eq!(
        r.body["warnings"],
        json!(["no LDAP groups found in groupDN \"\"; only policies from locally-defined groups available"])
    );
}

#[tokio::test]
async fn vault_ldap_directory_admin_api() {
    let v = vault();
    let r = v
        .send(
            Request::put("/__authsim/vault/ldap/users/Carol")
                .body(Body::from(r#"{"password":"pw","groups":["g"]}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["users"]["carol"]["groups"], json!(["g"]));
    assert!(!r.raw.contains("pw"));
}

// ----------------------------------------------------------------------------- seal, health

#[tokio::test]
async fn vault_health_codes_in_each_state() {
    let v = vault();
    let r = v.call("GET", "/v1/sys/health", None, None).await;
    assert_eq!(r.status, 200);
    let keys: Vec<_> = r.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "initialized",
            "sealed",
            "standby",
            "performance_standby",
            "replication_performance_mode",
            "replication_dr_mode",
            "server_time_utc",
            "version",
            "enterprise",
            "cluster_name",
            "cluster_id",
            "echo_duration_ms",
            "clock_skew_ms"
        ]
    );
    assert_eq!(r.body["server_time_utc"], T0);
    assert!(r.raw.ends_with('\n'));
    assert_eq!(
        v.call("GET", "/v1/sys/health?activecode=299", None, None)
            .await
            .status,
        299
    );
    assert_eq!(
        v.call("GET", "/v1/sys/health?activecode=x", None, None)
            .await
            .raw,
        "{\"errors\":[]}\n"
    );
    assert_eq!(
        v.call("GET", "/v1/sys/health?standbyok=maybe", None, None)
            .await
            .status,
        400
    );
    let r = v.call("HEAD", "/v1/sys/health", None, None).await;
    assert_eq!((r.status, r.raw.as_str()), (200, ""));
    assert_eq!(
        v.call("POST", "/v1/sys/health", None, None).await.status,
        405
    );

    let s = vault_with(VaultOptions {
        start: StartMode::Sealed {
            shares: 3,
            threshold: 2,
        },
        ..VaultOptions::default()
    });
    let r = s.call("GET", "/v1/sys/health", None, None).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["sealed"], true);
    assert!(r.body.get("cluster_name").is_none());
    assert_eq!(
        s.call("GET", "/v1/sys/health?sealedcode=200", None, None)
            .await
            .status,
        200
    );
    assert_eq!(
        s.call("HEAD", "/v1/sys/health", None, None).await.status,
        503
    );

    let u = vault_with(VaultOptions {
        start: StartMode::Uninitialized,
        ..VaultOptions::default()
    });
    assert_eq!(
        u.call("GET", "/v1/sys/health", None, None).await.status,
        501
    );
    assert_eq!(
        u.call("GET", "/v1/sys/health?uninitcode=200", None, None)
            .await
            .status,
        200
    );
    // Only the six named codes are read; another `…code` parameter is ignored.
    assert_eq!(
        u.call("GET", "/v1/sys/health?barcode=x", None, None)
            .await
            .status,
        501
    );
    // Unseal reads the request and the key before it finds the Vault uninitialised: a reset
    // answers the seal status, a key of neither encoding its decode error.
    let r = u
        .call("PUT", "/v1/sys/unseal", None, Some(json!({"reset": true})))
        .await;
    assert_eq!(
        (r.status, &r.body["sealed"]),
        (200, &json!(true)),
        "{}",
        r.raw
    );
    let r = u
        .call(
            "PUT",
            "/v1/sys/unseal",
            None,
            Some(json!({"key": "abcdef"})),
        )
        .await;
    assert_eq!(r.error(), "'key' must be a valid hex or base64 string");
    let r = u
        .call(
            "PUT",
            "/v1/sys/unseal",
            None,
            Some(json!({"key": "00".repeat(16)})),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "Vault is not initialized"));
}

#[tokio::test]
async fn vault_seal_and_unseal_with_a_threshold() {
    let v = vault_with(VaultOptions {
        start: StartMode::Sealed {
            shares: 3,
            threshold: 2,
        },
        ..VaultOptions::default()
    });
    let keys = v.st.unseal_keys();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.len() == 66));
    let r = v.root("GET", "/v1/secret/data/x", None).await;
    assert_eq!((r.status, r.error()), (503, "Vault is sealed"));
    let r = v.call("GET", "/v1/sys/seal-status", None, None).await;
    let keys_order: Vec<_> = r.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys_order,
        [
            "type",
            "initialized",
            "sealed",
            "t",
            "n",
            "progress",
            "nonce",
            "version",
            "build_date",
            "migration",
            "recovery_seal",
            "storage_type"
        ]
    );
    assert_eq!(
        (r.body["t"].clone(), r.body["n"].clone()),
        (json!(2), json!(3))
    );

    let unseal = |body: Value| v.call("PUT", "/v1/sys/unseal", None, Some(body));
    let r = unseal(json!({"key": keys[0]})).await;
    assert_eq!((r.status, r.body["progress"].clone()), (200, json!(1)));
    let nonce = r.body["nonce"].as_str().unwrap().to_owned();
    assert_eq!(nonce.len(), 36);
    let r = unseal(json!({"key": keys[0]})).await;
    assert_eq!(r.body["progress"], 1, "a duplicate share is ignored");
    let r = unseal(json!({"migrate": false, "reset": true})).await;
    assert_eq!(
        (r.body["progress"].clone(), r.body["nonce"].clone()),
        (json!(0), json!(""))
    );
    // a wrong share fails the attempt once the threshold is reached
    unseal(json!({"key": keys[0]})).await;
    let r = unseal(json!({"key": "00".repeat(33)})).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed")
    );
    assert_eq!(
        unseal(json!({})).await.error(),
        "'key' must be specified in request body as JSON, or 'reset' set to true"
    );
    assert_eq!(
        unseal(json!({"key": "zz!"})).await.error(),
        "'key' must be a valid hex or base64 string"
    );
    assert_eq!(
        unseal(json!({"key": "abcd"})).await.error(),
        "invalid key: key is shorter than minimum 16 bytes"
    );
    assert_eq!(
        unseal(json!({"key": "ab".repeat(40)})).await.error(),
        "invalid key: key is longer than maximum 33 bytes"
    );
    let r = v
        .send(
            Request::put("/v1/sys/unseal")
                .body(Body::from("xyz"))
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.error(),
        "failed to parse JSON input: invalid character 'x' looking for beginning of value"
    );

    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(&keys[2]).unwrap());
    unseal(json!({"Key": keys[1]})).await;
    let r = unseal(json!({"key": b64})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["sealed"], false);
    assert!(r.body["cluster_name"]
        .as_str()
        .unwrap()
        .starts_with("vault-cluster-"));
    assert_eq!(
        v.call("GET", "/v1/sys/health", None, None).await.status,
        200
    );
    assert_eq!(unseal(json!({"key": keys[0]})).await.body["sealed"], false);
    assert_eq!(
        unseal(json!({"reset": true})).await.error(),
        "vault is unsealed"
    );

    // seal needs a token with sudo
    assert_eq!(
        v.call("PUT", "/v1/sys/seal", None, None).await.error(),
        "permission denied"
    );
    let t = v.token(&["default"], json!({})).await;
    assert_eq!(
        v.call("PUT", "/v1/sys/seal", Some(&t), None).await.error(),
        "1 error occurred:\n\t* permission denied\n\n"
    );
    assert_eq!(
        v.call("GET", "/v1/sys/seal", Some("root"), None)
            .await
            .status,
        405
    );
    assert_eq!(v.root("PUT", "/v1/sys/seal", None).await.status, 204);
    assert_eq!(
        v.call("GET", "/v1/sys/health", None, None).await.status,
        503
    );
    // tokens survive a seal
    unseal(json!({"key": keys[0]})).await;
    unseal(json!({"key": keys[1]})).await;
    assert_eq!(
        v.call("GET", "/v1/auth/token/lookup-self", Some(&t), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn vault_init_from_uninitialized() {
    let v = vault_with(VaultOptions {
        start: StartMode::Uninitialized,
        ..VaultOptions::default()
    });
    assert_eq!(
        v.call("GET", "/v1/sys/init", None, None).await.body,
        json!({"initialized": false})
    );
    let unseal = v
        .call(
            "PUT",
            "/v1/sys/unseal",
            None,
            Some(json!({"key": "00".repeat(32)})),
        )
        .await;
    assert_eq!(unseal.error(), "Vault is not initialized");
    let init = |b: Value| v.call("PUT", "/v1/sys/init", None, Some(b));
    assert_eq!(
        init(json!({"secret_shares": 3, "secret_threshold": 4}))
            .await
            .error(),
        "invalid seal configuration: threshold cannot be larger than shares"
    );
    assert_eq!(
        init(json!({"secret_shares": 3, "secret_threshold": 1}))
            .await
            .error(),
        "invalid seal configuration: threshold must be greater than one for multiple shares"
    );
    let r = init(json!({"secret_shares": 1, "secret_threshold": 1})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let key = r.body["keys"][0].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64);
    let root = r.body["root_token"].as_str().unwrap().to_owned();
    assert!(root.starts_with("hvs.") && root.len() == 28);
    assert_eq!(
        init(json!({"secret_shares": 1, "secret_threshold": 1}))
            .await
            .error(),
        "Vault is already initialized"
    );
    assert_eq!(
        v.call("GET", "/v1/sys/health", None, None).await.status,
        503
    );
    let r = v
        .call("PUT", "/v1/sys/unseal", None, Some(json!({"key": key})))
        .await;
    assert_eq!(r.body["sealed"], false);
    assert_eq!(
        v.call("GET", "/v1/auth/token/lookup-self", Some(&root), None)
            .await
            .status,
        200
    );
}

// ------------------------------------------------------------------------ leases, cubbyhole

#[tokio::test]
async fn vault_leases_validate_and_report_unknown_leases() {
    let v = vault();
    let r = v
        .root("PUT", "/v1/sys/leases/lookup", Some(json!({})))
        .await;
    assert_eq!(r.error(), "lease_id must be specified");
    let r = v
        .root(
            "PUT",
            "/v1/sys/leases/lookup",
            Some(json!({"lease_id": "x/y"})),
        )
        .await;
    assert_eq!(r.error(), "invalid lease");
    let r = v
        .root(
            "PUT",
            "/v1/sys/leases/renew",
            Some(json!({"lease_id": "x/y"})),
        )
        .await;
    assert_eq!(r.error(), "lease not found");
    let r = v
        .root(
            "PUT",
            "/v1/sys/leases/renew",
            Some(json!({"lease_id": "auth/token/create/abc"})),
        )
        .await;
    // Not a registered lease: Vault loads no entry before it could tell a token lease apart.
    assert_eq!(r.error(), "lease not found");
    assert_eq!(
        v.root(
            "PUT",
            "/v1/sys/leases/revoke",
            Some(json!({"lease_id": "x"}))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        v.root(
            "PUT",
            "/v1/sys/leases/revoke",
            Some(json!({"lease_id": "x", "sync": false}))
        )
        .await
        .status,
        202
    );
    let t = v.token(&["default"], json!({})).await;
    assert_eq!(
        v.call("LIST", "/v1/sys/leases/lookup/x", Some(&t), None)
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn vault_cubbyhole_is_per_token() {
    let v = vault();
    let a = v.token(&["default"], json!({})).await;
    let b = v.token(&["default"], json!({})).await;
    assert_eq!(
        v.call("POST", "/v1/cubbyhole/x", Some(&a), Some(json!({"v": 1})))
            .await
            .status,
        204
    );
    assert_eq!(
        v.call("GET", "/v1/cubbyhole/x", Some(&a), None).await.body["data"],
        json!({"v": 1})
    );
    assert_eq!(
        v.call("GET", "/v1/cubbyhole/x", Some(&b), None)
            .await
            .status,
        404
    );
}

// ------------------------------------------------------------------------ reset and plug-ins

#[tokio::test]
async fn vault_state_is_reset_with_the_simulation() {
    let v = vault();
    let t = v.token(&["default"], json!({})).await;
    v.root("POST", "/v1/secret/data/a", Some(json!({"data": {"x": 1}})))
        .await;
    v.st.sim.reset();
    assert_eq!(
        v.call("GET", "/v1/auth/token/lookup-self", Some(&t), None)
            .await
            .status,
        403
    );
    assert_eq!(v.root("GET", "/v1/secret/data/a", None).await.status, 404);
    assert_eq!(
        v.root("GET", "/v1/auth/token/lookup-self", None)
            .await
            .status,
        200
    );
}

/// A stand-in for the GCP/AWS methods: the login does async work, then returns a success.
#[derive(Debug, Default)]
struct FakeCloud;

impl AuthMethod for FakeCloud {
    fn is_login_path(&self, rel: &str) -> bool {
        rel == "login"
    }

    fn handle(&mut self, _core: &mut Core, cx: &Ctx<'_>, rel: &str) -> Result<Outcome, VaultError> {
        if rel != "login" || !cx.op.is_write() {
            return Err(VaultError::unsupported_path());
        }
        let role = cx.input.string("role")?;
        Ok(Outcome::Deferred(Box::pin(async move {
            tokio::task::yield_now().await;
            if role != "app" {
                return Err(VaultError::bad(format!("role {role:?} not found")));
            }
            Ok(Outcome::Login(Box::new(LoginSuccess {
                policies: vec!["app".into()],
                metadata: [("role".to_owned(), role.clone())].into(),
                display_name: "fake-app".into(),
                alias_name: "sa-123".into(),
                token: TokenSettings {
                    ttl: 120,
                    ..TokenSettings::default()
                },
                ..LoginSuccess::default()
            })))
        })))
    }
}

#[tokio::test]
async fn vault_auth_methods_plug_in_with_deferred_logins() {
    let v = vault();
    v.st.register_auth_method("fakecloud", Arc::new(|| Box::new(FakeCloud)));
    let r = v
        .root(
            "POST",
            "/v1/sys/auth/fc",
            Some(json!({"type": "fakecloud"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = v
        .call(
            "POST",
            "/v1/auth/fc/login",
            None,
            Some(json!({"role": "app", "jwt": "x"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["auth"]["policies"], json!(["app", "default"]));
    assert_eq!(r.body["auth"]["lease_duration"], 120);
    assert_eq!(r.body["mount_type"], "fakecloud");
    assert_eq!(
        r.body["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [jwt]"])
    );
    let r = v
        .call(
            "POST",
            "/v1/auth/fc/login",
            None,
            Some(json!({"role": "x"})),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "role \"x\" not found"));
}

// --------------------------------------------------------------------------- one real socket

#[tokio::test]
async fn vault_listener_over_a_real_socket() {
    let clock = Arc::new(ManualClock::at_unix(T0));
    let sim = Sim::new(World::new("vault-socket"), clock);
    let cloud = crate::MockCloud::start(
        sim,
        crate::MockCloudOptions {
            google_port: None,
            aws_port: None,
            vault_port: Some(0),
            ..crate::MockCloudOptions::default()
        },
    )
    .await
    .unwrap();
    let url = cloud.vault_url().unwrap();
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{url}/v1/sys/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["sealed"], false);
    let r = client
        .post(format!("{url}/v1/auth/token/create"))
        .header("X-Vault-Token", "root")
        .json(&json!({"policies": ["default"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let tok = body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = client
        .request(
            reqwest::Method::from_bytes(b"LIST").unwrap(),
            format!("{url}/v1/secret/metadata/"),
        )
        .header("X-Vault-Token", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        client
            .get(format!("{url}/__authsim/health"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let entries = cloud.sim.journal().entries();
    assert!(entries.iter().all(|e| e.listener == "vault"));
    let last = entries.last().unwrap();
    assert_eq!(last.header("x-vault-token"), Some(crate::journal::REDACTED));
    assert!(!entries.iter().any(|e| e.body.contains(&tok)));
    cloud.shutdown().await;
}

/// `tokenutil.ParseTokenFields` as userpass and AppRole run it: its order, its texts (400), the
/// checks on the merged entry, and legacy names applied afterwards without those checks.
#[tokio::test]
async fn vault_token_fields_parse_in_tokenutils_order_with_its_texts() {
    let v = approle_vault().await;
    v.root(
        "POST",
        "/v1/sys/auth/userpass",
        Some(json!({"type": "userpass"})),
    )
    .await;
    let bad_addr = "error parsing address \"nope\": Unable to convert \"nope\" to an IPv4 or IPv6 address, or a UNIX Socket";
    let cases = [
        (json!({"password": "pw", "token_type": "default-service"}), "invalid 'token_type' value \"default-service\""),
        // Negative durations fail the field validation (TypeDurationSecond) before the handler;
        // on a path with an existence check that runs in the check, without the prefix.
        (json!({"password": "pw", "token_ttl": -5}), "error converting input -5 for field \"token_ttl\": cannot provide negative value '-5'"),
        (json!({"password": "pw", "token_max_ttl": "-1s"}), "error converting input -1s for field \"token_max_ttl\": cannot provide negative value '-1'"),
        (json!({"password": "pw", "token_period": -1}), "error converting input -1 for field \"token_period\": cannot provide negative value '-1'"),
        (json!({"password": "pw", "token_num_uses": -1}), "'token_num_uses' cannot be negative"),
        (json!({"password": "pw", "token_type": "batch", "token_period": 60}), "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens"),
        (json!({"password": "pw", "token_type": "batch", "token_num_uses": 3}), "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count"),
        (json!({"password": "pw", "token_bound_cidrs": "10.0.0.0/8,nope"}), bad_addr),
        (json!({"password": "pw", "bound_cidrs": ["nope"]}), bad_addr),
        // Order: the cidrs first, token_type before num_uses, the batch checks after both.
        (json!({"password": "pw", "token_type": "x", "token_bound_cidrs": "nope"}), bad_addr),
        (json!({"password": "pw", "token_num_uses": -1, "token_type": "x"}), "invalid 'token_type' value \"x\""),
        (json!({"password": "pw", "token_num_uses": -1, "token_type": "batch"}), "'token_num_uses' cannot be negative"),
        (json!({"password": "pw", "token_ttl": 100, "token_max_ttl": 50}), "'token_ttl' cannot be greater than 'token_max_ttl'"),
        // A create without a password fails before the token fields.
        (json!({"token_type": "x"}), "missing password"),
    ];
    for (body, want) in cases {
        let r = v
            .root("POST", "/v1/auth/userpass/users/u", Some(body.clone()))
            .await;
        assert_eq!((r.status, r.error()), (400, want), "{body}");
    }
    // A socket path and an address with a port are addresses to go-sockaddr.
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/u",
            Some(json!({"password": "pw", "token_bound_cidrs": ["/run/x.sock", "127.0.0.1:8200", "::1"]})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    // An update: the token fields are parsed before the empty password is refused, and checked
    // against the stored values.
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/u",
            Some(json!({"password": "", "token_type": "x"})),
        )
        .await;
    assert_eq!(r.error(), "invalid 'token_type' value \"x\"");
    let ok = |body: Value| {
        let v = &v;
        async move {
            let r = v
                .root("POST", "/v1/auth/userpass/users/u", Some(body))
                .await;
            assert_eq!(r.status, 204, "{}", r.raw);
        }
    };
    ok(json!({"token_ttl": 100})).await;
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/u",
            Some(json!({"token_max_ttl": 50})),
        )
        .await;
    assert_eq!(
        r.error(),
        "'token_ttl' cannot be greater than 'token_max_ttl'"
    );
    // Legacy names land after the checks: Vault accepts ttl above max_ttl given so.
    ok(json!({"ttl": 300, "max_ttl": 60, "policies": "B, a"})).await;
    let d = v.root("GET", "/v1/auth/userpass/users/u", None).await.body["data"].clone();
    assert_eq!(
        (
            &d["ttl"],
            &d["token_ttl"],
            &d["max_ttl"],
            &d["token_max_ttl"]
        ),
        (&json!(300), &json!(300), &json!(60), &json!(60))
    );
    // `policies` is sanitised (ParsePolicies); `token_policies` is kept as given.
    assert_eq!(
        (&d["policies"], &d["token_policies"]),
        (&json!(["a", "b"]), &json!(["a", "b"]))
    );
    ok(json!({"token_ttl": 30, "token_policies": "B"})).await;
    let d = v.root("GET", "/v1/auth/userpass/users/u", None).await.body["data"].clone();
    assert_eq!((d.get("ttl"), &d["token_ttl"]), (None, &json!(30)));
    assert_eq!(
        (d.get("policies"), &d["token_policies"]),
        (None, &json!(["B"]))
    );

    // AppRole: the two meaningless types are adjusted with a warning, before the parse.
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/t",
            Some(json!({"token_type": "default-service"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        r.body["warnings"],
        json!(["default-service has no useful meaning; adjusting to service"])
    );
    let d = v.root("GET", "/v1/auth/approle/role/t", None).await.body["data"].clone();
    assert_eq!(d["token_type"], "service");
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/t",
            Some(json!({"token_type": "default-batch", "token_period": 10})),
        )
        .await;
    assert_eq!(
        r.error(),
        "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens"
    );
    // Token fields come before AppRole's own: an empty role_id is not reached.
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/t",
            Some(json!({"role_id": "", "token_type": "x"})),
        )
        .await;
    assert_eq!(r.error(), "invalid 'token_type' value \"x\"");
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/t",
            Some(json!({"secret_id_num_uses": -1})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "secret_id_num_uses cannot be negative")
    );
    // The legacy period is held to the mount's max lease TTL; token_period is not.
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/t",
            Some(json!({"period": "800h"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "period of \"800h0m0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\"")
    );
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/t",
            Some(json!({"token_period": "800h"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/t",
            Some(json!({"token_max_ttl": "800h"})),
        )
        .await;
    assert_eq!(
        r.body["warnings"],
        json!(["token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"])
    );
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/t",
            Some(json!({"period": "1h"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let d = v.root("GET", "/v1/auth/approle/role/t", None).await.body["data"].clone();
    assert_eq!(
        (&d["period"], &d["token_period"]),
        (&json!(3600), &json!(3600))
    );
}

/// AppRole's secret-ID endpoints as Vault answers them: accessors looked up in the mount-wide
/// index (404 raw body, 500, 204, 403), metadata in every form `ParseArbitraryKeyValues` takes,
/// the TTL capped at the mount's max, CIDR subset checks, names, and expired IDs tidied.
#[tokio::test]
async fn vault_approle_secret_ids_accessors_metadata_and_names_as_vault() {
    let v = approle_vault().await;
    for role in ["a", "b"] {
        let r = v
            .root(
                "POST",
                &format!("/v1/auth/approle/role/{role}"),
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.raw);
    }
    let d = v.root("GET", "/v1/auth/approle/role/a", None).await.body["data"].clone();
    assert_eq!(d["secret_id_bound_cidrs"], Value::Null, "never given");
    let gen = |role: &'static str, body: Value| {
        let v = &v;
        async move {
            v.root(
                "POST",
                &format!("/v1/auth/approle/role/{role}/secret-id"),
                Some(body),
            )
            .await
        }
    };
    let acc_of = |r: &R| {
        r.body["data"]["secret_id_accessor"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let b_acc = acc_of(&gen("b", json!({})).await);
    let acc = |role: &str, action: &str, accessor: &str| {
        let (v, path) = (
            &v,
            format!("/v1/auth/approle/role/{role}/secret-id-accessor/{action}"),
        );
        let body = json!({ "secret_id_accessor": accessor });
        async move { v.root("POST", &path, Some(body)).await }
    };
    // Unknown: lookup answers a whole envelope as a raw 404, destroy a plain error.
    let r = acc("a", "lookup", "nope").await;
    assert_eq!(r.status, 404);
    assert!(r.raw.starts_with("{\"request_id\":\""), "{}", r.raw);
    assert!(r.raw.ends_with(",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,\"data\":{\"error\":\"failed to find accessor entry for secret_id_accessor: \\\"nope\\\"\"},\"wrap_info\":null,\"warnings\":null,\"auth\":null,\"mount_type\":\"\"}"), "{}", r.raw);
    let r = acc("a", "destroy", "nope").await;
    assert_eq!(
        (r.status, r.error()),
        (500, "1 error occurred:\n\t* failed to find accessor entry for secret_id_accessor: \"nope\"\n\n")
    );
    // Another role's accessor is in the index, its secret ID not under this role.
    assert_eq!(acc("a", "lookup", &b_acc).await.status, 204);
    let r = acc("a", "destroy", &b_acc).await;
    assert_eq!((r.status, r.error()), (403, "invalid secret id accessor"));
    assert_eq!(acc("b", "lookup", &b_acc).await.status, 200);
    let r = acc("Nobody", "lookup", &b_acc).await;
    assert_eq!(
        r.error(),
        "1 error occurred:\n\t* role \"Nobody\" does not exist\n\n"
    );

    // Metadata: a JSON string, base64 of one, or k=v pairs (lower-cased); Vault's texts.
    let lookup_meta = |r: R| {
        let v = &v;
        async move {
            assert_eq!(r.status, 200, "{}", r.raw);
            let sid = r.body["data"]["secret_id"].as_str().unwrap().to_owned();
            v.root(
                "POST",
                "/v1/auth/approle/role/a/secret-id/lookup",
                Some(json!({ "secret_id": sid })),
            )
            .await
            .body["data"]["metadata"]
                .clone()
        }
    };
    let meta = [
        (json!("{\"Team\":\"Red\"}"), json!({"Team": "Red"})),
        (json!("eyJ0IjoidiJ9"), json!({"t": "v"})),
        (json!(" Env=Prod , b=2 "), json!({"b": "2", "env": "prod"})),
        (json!(""), json!({})),
    ];
    for (given, want) in meta {
        let got = lookup_meta(gen("a", json!({ "metadata": given })).await).await;
        assert_eq!(got, want, "{given}");
    }
    for (given, want) in [
        (json!("{\"a\":1}"), "failed to parse metadata: failed to parse the input: invalid <key,value> format"),
        // "null" is valid base64: its bytes are neither JSON nor pairs.
        (json!("null"), "failed to parse metadata: failed to parse the input: invalid <key,value> format"),
        (json!("a=,b=c"), "failed to parse metadata: failed to parse the input: invalid <key,value> pair: key: \"a\" value: \"\""),
        (json!("{\"a\":\"\"}"), "failed to parse metadata: invalid value for key \"a\""),
    ] {
        let r = gen("a", json!({ "metadata": given })).await;
        assert_eq!((r.status, r.error()), (400, want), "{given}");
    }

    // The TTL is capped at the mount's max in the answer and the expiry, not in the lookup.
    let r = gen("a", json!({"ttl": "1000h"})).await;
    assert_eq!(r.body["data"]["secret_id_ttl"], 2_764_800);
    let sid = r.body["data"]["secret_id"].as_str().unwrap().to_owned();
    let l = v
        .root(
            "POST",
            "/v1/auth/approle/role/a/secret-id/lookup",
            Some(json!({ "secret_id": sid })),
        )
        .await;
    assert_eq!(l.body["data"]["secret_id_ttl"], 3_600_000);
    let r = gen("a", json!({"ttl": -5})).await;
    assert_eq!(
        r.error(),
        "Field validation failed: error converting input -5 for field \"ttl\": cannot provide negative value '-5'"
    );

    // CIDRs of a secret ID must sit inside the role's (hosts without a mask are /32).
    v.root(
        "POST",
        "/v1/auth/approle/role/a",
        Some(json!({"secret_id_bound_cidrs": "10.0.0.0/8", "token_bound_cidrs": "127.0.0.1"})),
    )
    .await;
    let r = gen("a", json!({"cidr_list": "10.1.0.0/16"})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = gen("a", json!({"cidr_list": "10.1.0.0/16,192.168.0.0/24"})).await;
    assert_eq!(r.error(), "1 error occurred:\n\t* failed to verify subset relationship between CIDR blocks on the role [\"10.0.0.0/8\"] and CIDR blocks on the secret ID [\"10.1.0.0/16\" \"192.168.0.0/24\"]: %!w(<nil>)\n\n");
    let r = gen("a", json!({"token_bound_cidrs": "127.0.0.0/8"})).await;
    assert_eq!(r.error(), "1 error occurred:\n\t* failed to verify subset relationship between CIDR blocks on the role [\"127.0.0.1/32\"] and CIDR blocks on the secret ID [\"127.0.0.0/8\"]: %!w(<nil>)\n\n");
    let d = v.root("GET", "/v1/auth/approle/role/a", None).await.body["data"].clone();
    assert_eq!(d["secret_id_bound_cidrs"], json!(["10.0.0.0/8"]));

    // Role names outside framework.GenericNameRegex are no path; names keep their case in texts.
    for bad in ["-x", "a.", "a%20b", "x@y"] {
        let r = v
            .root(
                "POST",
                &format!("/v1/auth/approle/role/{bad}"),
                Some(json!({})),
            )
            .await;
        assert_eq!(
            (r.status, r.error()),
            (404, "1 error occurred:\n\t* unsupported path\n\n"),
            "{bad}"
        );
    }
    let r = v
        .root("POST", "/v1/auth/approle/role/a.b-c_d", Some(json!({})))
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = gen("b", json!({})).await;
    assert_eq!(r.status, 200);
    let r = v
        .root(
            "POST",
            "/v1/auth/approle/role/Ghost/secret-id",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (404, "role \"Ghost\" does not exist")
    );

    // An expired secret ID leaves lookups and lists, as after Vault's tidy.
    let r = gen("b", json!({"ttl": 60})).await;
    let sid = r.body["data"]["secret_id"].as_str().unwrap().to_owned();
    v.advance(61);
    let l = v
        .root(
            "POST",
            "/v1/auth/approle/role/b/secret-id/lookup",
            Some(json!({ "secret_id": sid })),
        )
        .await;
    assert_eq!(l.status, 204);
    let keys = v
        .root("LIST", "/v1/auth/approle/role/b/secret-id", None)
        .await
        .body["data"]["keys"]
        .clone();
    assert_eq!(keys.as_array().map(Vec::len), Some(2), "{keys}");
}

/// userpass names: other names than framework.GenericNameRegex are no path for users, and a
/// login under one fails in user lockout's lookahead; lockout counts the name as written.
#[tokio::test]
async fn vault_userpass_names_and_case_sensitive_lockout_keys() {
    let v = vault();
    v.root(
        "POST",
        "/v1/sys/auth/userpass",
        Some(json!({"type": "userpass"})),
    )
    .await;
    let r = v
        .root(
            "POST",
            "/v1/auth/userpass/users/bob@x",
            Some(json!({"password": "pw"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (404, "1 error occurred:\n\t* unsupported path\n\n")
    );
    for path in [
        "/v1/auth/userpass/login/bob@x",
        "/v1/auth/userpass/login/-bob",
    ] {
        let r = v
            .call("POST", path, None, Some(json!({"password": "pw"})))
            .await;
        assert_eq!(
            (r.status, r.error()),
            (500, "failed to determine alias name from login request"),
            "{path}"
        );
    }
    v.root(
        "POST",
        "/v1/auth/userpass/users/bob",
        Some(json!({"password": "pw"})),
    )
    .await;
    let login = |name: &'static str, pw: &'static str| {
        let v = &v;
        async move {
            v.call(
                "POST",
                &format!("/v1/auth/userpass/login/{name}"),
                None,
                Some(json!({ "password": pw })),
            )
            .await
        }
    };
    // Five failures (Vault's default threshold) as "Bob" lock "Bob" out, not "bob".
    for _ in 0..5 {
        assert_eq!(
            login("Bob", "wrong").await.error(),
            "invalid username or password"
        );
    }
    assert_eq!(login("Bob", "pw").await.status, 403);
    assert_eq!(login("bob", "pw").await.status, 200);
}

/// `handleCreateCommon` and token roles as Vault has them: role policy rules and texts, role
/// token types and batch checks, `entity_alias`, custom ids, display names, durations parsed in
/// the handler, the lesser of role and request values, and `revoke-orphan` as a root path.
#[tokio::test]
async fn vault_token_create_and_roles_follow_the_token_store() {
    let v = vault();
    let role = |name: &'static str, body: Value| {
        let v = &v;
        async move {
            v.root("POST", &format!("/v1/auth/token/roles/{name}"), Some(body))
                .await
        }
    };
    let create = |path: &'static str, body: Value| {
        let v = &v;
        async move {
            v.root("POST", &format!("/v1/auth/token/{path}"), Some(body))
                .await
        }
    };
    // Role writes.
    let r = role("r", json!({"path_suffix": "v1"})).await;
    assert_eq!(
        r.error(),
        "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w"
    );
    let r = role("r", json!({"token_type": "default"})).await;
    assert_eq!(r.error(), "invalid 'token_type' value \"default\"");
    let r = role("r", json!({"token_type": null})).await;
    assert_eq!(r.error(), "Invalid 'token_type' value: null");
    let r = role("r", json!({"token_bound_cidrs": "nope"})).await;
    assert_eq!(r.error(), "error parsing role fields: error parsing address \"nope\": Unable to convert \"nope\" to an IPv4 or IPv6 address, or a UNIX Socket");
    let r = role("r", json!({"bound_cidrs": "nope"})).await;
    assert_eq!(r.error(), "error parsing bound_cidrs: error parsing address \"nope\": Unable to convert \"nope\" to an IPv4 or IPv6 address, or a UNIX Socket");
    for (body, why) in [
        (json!({"token_type": "batch"}), "non-orphan tokens"),
        (
            json!({"token_type": "batch", "orphan": true, "period": 60}),
            "periodic tokens",
        ),
        (
            json!({"token_type": "batch", "orphan": true}),
            "renewable tokens",
        ),
        (
            json!({"token_type": "batch", "orphan": true, "renewable": false, "token_explicit_max_ttl": 60}),
            "tokens with an explicit max TTL",
        ),
    ] {
        let r = role("b", body).await;
        assert_eq!(
            (r.status, r.error()),
            (
                400,
                format!("'token_type' cannot be 'batch' when role is set to generate {why}")
                    .as_str()
            )
        );
    }
    let r = role(
        "b",
        json!({"token_type": "batch", "orphan": true, "renewable": false}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = role("r", json!({"period": 60, "token_period": 120})).await;
    assert_eq!(
        r.body["warnings"],
        json!(["Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value"])
    );
    let d = v.root("GET", "/v1/auth/token/roles/r", None).await.body["data"].clone();
    assert_eq!((&d["period"], &d["token_period"]), (&json!(0), &json!(120)));
    assert_eq!(d["token_type"], "default-service");
    assert_eq!(d.get("token_num_uses"), None, "shown only above 0");
    assert_eq!(d.get("token_bound_cidrs"), None, "shown only when set");

    // Role policies: the allowed list with globs, the disallowed list, their texts.
    role(
        "p",
        json!({"allowed_policies": "app,web", "allowed_policies_glob": "team-*", "disallowed_policies": "web"}),
    )
    .await;
    let r = create("create/p", json!({"policies": ["app", "team-a"]})).await;
    assert_eq!(
        r.body["auth"]["policies"],
        json!(["app", "default", "team-a"]),
        "{}",
        r.raw
    );
    let r = create("create/p", json!({"policies": ["app", "ops"]})).await;
    assert_eq!(r.error(), "token policies ([\"app\" \"default\" \"ops\"]) must be subset of the role's allowed policies ([\"app\" \"default\" \"web\"]) or glob policies ([\"team-*\"])");
    let r = create("create/p", json!({"policies": ["web"]})).await;
    assert_eq!(r.error(), "token policy \"web\" is disallowed by this role");
    // Without asked policies the role's allowed ones, where one is disallowed.
    let r = create("create/p", json!({})).await;
    assert_eq!(r.error(), "token policy \"web\" is disallowed by this role");

    // Tokens against roles: the lesser period and explicit max, role num_uses, path suffix.
    role(
        "lim",
        json!({"token_period": "1h", "token_explicit_max_ttl": "2h", "token_num_uses": 3, "path_suffix": "rev-2"}),
    )
    .await;
    let r = create(
        "create/lim",
        json!({"period": "2h", "explicit_max_ttl": "90m", "num_uses": 5}),
    )
    .await;
    assert_eq!(
        r.body["warnings"],
        json!([
            "Explicit max TTL specified both during creation call and in role; using the lesser value of 5400 seconds",
            "Period specified both during creation call and in role; using the lesser value of 3600 seconds"
        ])
    );
    let tok = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let l = v
        .call("GET", "/v1/auth/token/lookup-self", Some(&tok), None)
        .await;
    assert_eq!(l.body["data"]["path"], "auth/token/create/lim/rev-2");
    assert_eq!(
        l.body["data"]["num_uses"], 2,
        "3 from the role, one spent by this lookup"
    );
    // A batch role gives batch tokens (never root ones: root's own policies are inherited).
    let r = create("create/b", json!({})).await;
    assert_eq!(r.error(), "batch tokens cannot be root tokens");
    let r = create("create/b", json!({"policies": ["default"]})).await;
    assert_eq!(r.body["auth"]["token_type"], "batch", "{}", r.raw);

    // entity_alias needs a role that allows it.
    let r = create("create", json!({"entity_alias": "svc"})).await;
    assert_eq!(
        r.error(),
        "'entity_alias' is only allowed in combination with token role"
    );
    let r = create("create/r", json!({"entity_alias": "svc"})).await;
    assert_eq!(r.error(), "invalid 'entity_alias' value");
    role("r", json!({"allowed_entity_aliases": "svc-*"})).await;
    let a = create("create/r", json!({"entity_alias": "SVC-1"})).await;
    let b = create("create/r", json!({"entity_alias": "svc-1"})).await;
    let e = &a.body["auth"]["entity_id"];
    assert!(e.as_str().is_some_and(|e| !e.is_empty()), "{}", a.raw);
    assert_eq!(e, &b.body["auth"]["entity_id"], "one entity per alias");

    // create-orphan takes no role from the body.
    let r = create("create-orphan", json!({"role_name": "b"})).await;
    assert_eq!(r.body["auth"]["token_type"], "service");
    assert_eq!(
        r.body["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [role_name]"])
    );

    // Custom ids, checked last, with Vault's warning; display names trimmed of one dash.
    for (id, want) in [
        ("s.abc", "custom token ID cannot have the 's.' prefix"),
        ("a.b", "custom token ID cannot have a '.' in the value"),
    ] {
        assert_eq!(create("create", json!({ "id": id })).await.error(), want);
    }
    let r = create("create", json!({"id": "mine", "display_name": "ci test!"})).await;
    assert_eq!(
        r.body["warnings"],
        json!(["Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure SHA2-256 HMAC for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups."])
    );
    let r = create("create", json!({"id": "mine"})).await;
    assert_eq!(r.error(), "cannot create a token with a duplicate ID");
    let l = v
        .call("GET", "/v1/auth/token/lookup-self", Some("mine"), None)
        .await;
    assert_eq!(l.body["data"]["display_name"], "token-ci-test");

    // Durations are strings parsed in the handler.
    for (body, want) in [
        (json!({"ttl": "-1h"}), "ttl must be positive"),
        (json!({"lease": "-1h"}), "lease must be positive"),
        (
            json!({"explicit_max_ttl": "-1"}),
            "explicit_max_ttl must be positive",
        ),
        (json!({"period": "-1"}), "period must be positive"),
        (json!({"period": "x"}), "time: invalid duration \"x\""),
    ] {
        assert_eq!(create("create", body.clone()).await.error(), want, "{body}");
    }
    // An expiring root token cannot make a non-expiring one.
    let r = create("create", json!({"ttl": "1h"})).await;
    let expiring_root = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = v
        .call(
            "POST",
            "/v1/auth/token/create",
            Some(&expiring_root),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        r.error(),
        "expiring root tokens cannot create non-expiring root tokens"
    );

    // `meta` is TypeKVPairs; `policies` a string slice (a string is one policy).
    let r = create(
        "create",
        json!({"meta": {"ok": true, "n": 5, "s": "x"}, "policies": "a,b"}),
    )
    .await;
    assert_eq!(
        r.body["auth"]["metadata"],
        json!({"n": "5", "ok": "1", "s": "x"})
    );
    assert_eq!(r.body["auth"]["policies"], json!(["a,b", "default"]));
    let r = create("create", json!({"meta": ["team=red=x", "env=prod"]})).await;
    assert_eq!(
        r.body["auth"]["metadata"],
        json!({"env": "prod", "team": "red=x"})
    );
    let r = create("create", json!({"meta": "{\"a\":\"b\"}"})).await;
    assert_eq!(
        r.error(),
        "Field validation failed: error converting input {\"a\":\"b\"} for field \"meta\": invalid key pair \"{\\\"a\\\":\\\"b\\\"}\""
    );

    // revoke-orphan is a root path: update without sudo is a 403 from core.
    v.policy(
        "orph",
        r#"path "auth/token/revoke-orphan" { capabilities = ["update"] }"#,
    )
    .await;
    let t = v.token(&["orph"], json!({})).await;
    let r = v
        .call(
            "POST",
            "/v1/auth/token/revoke-orphan",
            Some(&t),
            Some(json!({"token": t})),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (403, "1 error occurred:\n\t* permission denied\n\n")
    );
}

/// LDAP as Vault's backend has it: policies and groups normalised on write, the config read's
/// keys and validation, the alias from the directory entry, CIDRs before the bind, no bind DN
/// without userdn (or a search), deletes by the name as given.
#[tokio::test]
async fn vault_ldap_config_entries_and_login_details_as_vault() {
    let v = vault();
    v.root("POST", "/v1/sys/auth/ldap", Some(json!({"type": "ldap"})))
        .await;
    v.st.ldap_add_user("Carol", "pw", &[]);
    let login = |name: &'static str| {
        let v = &v;
        async move {
            v.call(
                "POST",
                &format!("/v1/auth/ldap/login/{name}"),
                None,
                Some(json!({"password": "pw"})),
            )
            .await
        }
    };
    // Unconfigured: no DN to bind as.
    assert_eq!(
        login("carol").await.error(),
        "ldap operation failed: failed to bind as user"
    );
    let r = v
        .root(
            "POST",
            "/v1/auth/ldap/config",
            Some(json!({"url": "LDAP://Dir.Example.com", "userdn": "ou=u", "userattr": "CN", "request_timeout": "2m", "password_policy": "p"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let d = v.root("GET", "/v1/auth/ldap/config", None).await.body["data"].clone();
    assert_eq!(
        (&d["url"], &d["userattr"], &d["request_timeout"]),
        (&json!("ldap://dir.example.com"), &json!("cn"), &json!(120))
    );
    assert_eq!(
        (&d["password_policy"], &d["use_pre111_group_cn_behavior"]),
        (&json!("p"), &json!(false))
    );
    assert!(d.get("client_tls_cert").is_none() && d.get("bindpass").is_none());
    for (body, want) in [
        (
            json!({"tls_min_version": "tls9"}),
            "invalid 'tls_min_version'",
        ),
        (
            json!({"tls_min_version": "tls13"}),
            "'tls_max_version' must be greater than or equal to 'tls_min_version'",
        ),
        (
            json!({"client_tls_cert": "x"}),
            "both client_tls_cert and client_tls_key must be set",
        ),
    ] {
        assert_eq!(
            v.root("POST", "/v1/auth/ldap/config", Some(body.clone()))
                .await
                .error(),
            want,
            "{body}"
        );
    }
    // A failed write keeps nothing.
    v.root(
        "POST",
        "/v1/auth/ldap/config",
        Some(json!({"userdn": "ou=other", "tls_max_version": "bad"})),
    )
    .await;
    let d = v.root("GET", "/v1/auth/ldap/config", None).await.body["data"].clone();
    assert_eq!(d["userdn"], "ou=u");
    let r = v
        .root(
            "POST",
            "/v1/auth/ldap/config",
            Some(json!({"userfilter": "(uid={{.Username}})"})),
        )
        .await;
    assert_eq!(
        r.body["warnings"],
        json!(["userfilter configured does not consider userattr and may result in colliding entity aliases on logins"])
    );
    v.root(
        "POST",
        "/v1/auth/ldap/config",
        Some(json!({"userfilter": "({{.UserAttr}}={{.Username}})"})),
    )
    .await;

    // Entries: policies sanitised, groups deduplicated, sorted and lower-cased.
    v.root(
        "POST",
        "/v1/auth/ldap/groups/Devs",
        Some(json!({"policies": "B, a,a"})),
    )
    .await;
    let r = v.root("GET", "/v1/auth/ldap/groups/devs", None).await;
    assert_eq!(r.body["data"]["policies"], json!(["a", "b"]));
    v.root(
        "POST",
        "/v1/auth/ldap/users/carol",
        Some(json!({"groups": "Ops, devs,ops", "policies": "Z"})),
    )
    .await;
    let r = v.root("GET", "/v1/auth/ldap/users/carol", None).await;
    assert_eq!(
        (&r.body["data"]["groups"], &r.body["data"]["policies"]),
        (&json!("devs,ops"), &json!(["z"]))
    );

    // The alias is the directory entry's name, whatever case the login used.
    let a = login("CAROL").await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(
        a.body["auth"]["policies"],
        json!(["a", "b", "default", "z"])
    );
    assert_eq!(a.body["auth"]["metadata"], json!({"username": "CAROL"}));
    let b = login("carol").await;
    assert_eq!(a.body["auth"]["entity_id"], b.body["auth"]["entity_id"]);

    // Deletes use the name as given: `Devs` was stored as `devs`.
    v.root("DELETE", "/v1/auth/ldap/groups/Devs", None).await;
    assert_eq!(
        v.root("GET", "/v1/auth/ldap/groups/devs", None)
            .await
            .status,
        200
    );
    v.root("DELETE", "/v1/auth/ldap/groups/devs", None).await;
    assert_eq!(
        v.root("GET", "/v1/auth/ldap/groups/devs", None)
            .await
            .status,
        404
    );

    // CIDRs are checked before the bind: a wrong password from outside is a 403, not counted.
    v.root(
        "POST",
        "/v1/auth/ldap/config",
        Some(json!({"token_bound_cidrs": "10.0.0.0/8"})),
    )
    .await;
    for _ in 0..6 {
        let r = v
            .call(
                "POST",
                "/v1/auth/ldap/login/carol",
                None,
                Some(json!({"password": "no"})),
            )
            .await;
        assert_eq!(r.status, 403);
    }
    v.root(
        "POST",
        "/v1/auth/ldap/config",
        Some(json!({"token_bound_cidrs": ""})),
    )
    .await;
    assert_eq!(login("carol").await.status, 200, "not locked out");
}

/// KV v2 details as the plugin has them: `subkeys/`, the larger of key and mount `max_versions`,
/// metadata PATCH merging custom metadata (404 on a missing key), custom metadata validation,
/// `delete_version_after` as the smaller non-zero of mount and key (restarted by undelete),
/// `updated_time` moved by new versions only, the no-op metadata write and the CAS warning.
#[tokio::test]
async fn vault_kv2_subkeys_metadata_patch_and_version_rules() {
    let v = vault();
    let put = |path: &'static str, body: Value| {
        let v = &v;
        async move {
            v.root("POST", &format!("/v1/secret/{path}"), Some(body))
                .await
        }
    };
    put(
        "data/app",
        json!({"data": {"a": 1, "b": {"c": {"d": 2}, "e": {}}}}),
    )
    .await;
    let r = v.root("GET", "/v1/secret/subkeys/app", None).await;
    assert_eq!(
        r.body["data"]["subkeys"],
        json!({"a": null, "b": {"c": {"d": null}, "e": null}})
    );
    assert_eq!(r.body["data"]["metadata"]["version"], 1);
    let r = v.root("GET", "/v1/secret/subkeys/app?depth=1", None).await;
    assert_eq!(r.body["data"]["subkeys"], json!({"a": null, "b": null}));
    assert_eq!(
        v.root("GET", "/v1/secret/subkeys/nope", None).await.status,
        404
    );

    // max_versions: the larger of the key's and the mount's.
    put("config", json!({"max_versions": 3})).await;
    put("metadata/app", json!({"max_versions": 1})).await;
    for i in 0..4 {
        put("data/app", json!({"data": {"i": i}})).await;
    }
    let d = v.root("GET", "/v1/secret/metadata/app", None).await.body["data"].clone();
    assert_eq!(
        (&d["current_version"], &d["oldest_version"]),
        (&json!(5), &json!(3))
    );
    assert_eq!(d["versions"].as_object().unwrap().len(), 3);

    // updated_time moves with new versions only.
    let before = d["updated_time"].clone();
    v.advance(5);
    v.root("DELETE", "/v1/secret/data/app", None).await;
    put(
        "metadata/app",
        json!({"custom_metadata": {"team": "red", "on": true}}),
    )
    .await;
    let d = v.root("GET", "/v1/secret/metadata/app", None).await.body["data"].clone();
    assert_eq!(d["updated_time"], before);
    assert_eq!(d["custom_metadata"], json!({"on": "1", "team": "red"}));

    // PATCH merges custom metadata; null removes a key; a missing key is a bare 404.
    let r = v
        .send(
            Request::patch("/v1/secret/metadata/app")
                .header("X-Vault-Token", "root")
                .header("Content-Type", "application/merge-patch+json")
                .body(Body::from(
                    json!({"custom_metadata": {"on": null, "env": "prod"}}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let d = v.root("GET", "/v1/secret/metadata/app", None).await.body["data"].clone();
    assert_eq!(d["custom_metadata"], json!({"env": "prod", "team": "red"}));
    let r = v
        .send(
            Request::patch("/v1/secret/metadata/ghost")
                .header("X-Vault-Token", "root")
                .header("Content-Type", "application/merge-patch+json")
                .body(Body::from(json!({"max_versions": 2}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!((r.status, r.raw.as_str()), (404, ""));

    // Custom metadata validation: every failure listed.
    let long = "k".repeat(129);
    let r = put(
        "metadata/app",
        json!({"custom_metadata": {"": "x", long.clone(): "", "t": "a\tb"}}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        format!("4 errors occurred:\n\t* custom_metadata validation failed: length of key \"\" is 0 but must be 0 < len(key) <= 128\n\t* custom_metadata validation failed: length of key \"{long}\" is 129 but must be 0 < len(key) <= 128\n\t* custom_metadata validation failed: length of value for key \"{long}\" is 0 but must be 0 < len(value) <= 512\n\t* custom_metadata validation failed: value for key \"t\" contains unprintable characters\n\n")
    );
    let many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = put("metadata/app", json!({ "custom_metadata": many })).await;
    assert_eq!(
        r.error(),
        "1 error occurred:\n\t* custom_metadata validation failed: payload must contain at most 64 keys, provided 65\n\n"
    );
    let r = put("metadata/app", json!({"custom_metadata": {"n": {"x": 1}}})).await;
    assert_eq!(r.error(), "custom_metadata validation failed: '' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[x:1]'");

    // Nothing to write: 204 and no key made. CAS mandated by the mount: a warning.
    let r = put("metadata/empty", json!({})).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        v.root("GET", "/v1/secret/metadata/empty", None)
            .await
            .status,
        404
    );
    put("config", json!({"cas_required": true})).await;
    let r = put("metadata/app", json!({"cas_required": false})).await;
    assert_eq!(
        r.body["warnings"],
        json!(["\"cas_required\" set to false, but is mandated by backend config. This value will be ignored."])
    );
    put("config", json!({"cas_required": false})).await;

    // delete_version_after: the smaller non-zero, none when the mount disables it.
    put("config", json!({"delete_version_after": "1h"})).await;
    put("metadata/dva", json!({"delete_version_after": "2h"})).await;
    let r = put("data/dva", json!({"data": {"x": 1}})).await;
    let created = r.body["data"]["created_time"].as_str().unwrap().to_owned();
    let deletion = r.body["data"]["deletion_time"].as_str().unwrap().to_owned();
    assert!(
        created.starts_with("2023-11-14T22:1") && deletion.starts_with("2023-11-14T23:1"),
        "{created} {deletion}"
    );
    let r = put("metadata/dva", json!({"delete_version_after": -5})).await;
    // Validated in the existence check: no `Field validation failed: ` prefix.
    assert_eq!(r.error(), "error converting input -5 for field \"delete_version_after\": cannot provide negative value '-5'");
    put("config", json!({"delete_version_after": "-10s"})).await;
    let c = v.root("GET", "/v1/secret/config", None).await;
    assert_eq!(c.body["data"]["delete_version_after"], "-1s");
    let r = put("data/dva", json!({"data": {"x": 2}})).await;
    assert_eq!(r.body["data"]["deletion_time"], "", "disabled on the mount");
    // Undelete restarts the timer (here: the key's 2h, the mount's being disabled → none).
    put("config", json!({"delete_version_after": 0})).await;
    put("delete/dva", json!({"versions": [2]})).await;
    put("undelete/dva", json!({"versions": [2]})).await;
    let r = v.root("GET", "/v1/secret/data/dva?version=2", None).await;
    assert!(
        r.body["data"]["metadata"]["deletion_time"]
            .as_str()
            .unwrap()
            .starts_with("2023-11-15T00:1"),
        "{}",
        r.raw
    );
}

/// KV request parsing as Vault's: PATCH's Content-Type through `mime.ParseMediaType`, `versions`
/// as a TypeCommaIntSlice, `options.cas` weakly decoded, PATCH checking CAS before the version,
/// and a negative `version` reading the current one.
#[tokio::test]
async fn vault_kv2_patch_types_versions_and_cas_parsing() {
    let v = vault();
    let put = |path: &'static str, body: Value| {
        let v = &v;
        async move {
            v.root("POST", &format!("/v1/secret/{path}"), Some(body))
                .await
        }
    };
    put("data/p", json!({"data": {"a": 1}})).await;
    let patch = |ct: Option<&'static str>, path: &'static str, body: Value| {
        let v = &v;
        async move {
            let mut b =
                Request::patch(format!("/v1/secret/{path}")).header("X-Vault-Token", "root");
            if let Some(ct) = ct {
                b = b.header("Content-Type", ct);
            }
            v.send(b.body(Body::from(body.to_string())).unwrap()).await
        }
    };
    let body = json!({"data": {"b": 2}});
    let r = patch(
        Some("application/merge-patch+json; charset=utf-8"),
        "data/p",
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    for (ct, status, want) in [
        (None, 400, "mime: no media type"),
        (Some("application"), 415, "PATCH requires Content-Type of application/merge-patch+json, provided application"),
        (Some("application/"), 400, "mime: expected token after slash"),
        (Some("application/json x"), 400, "mime: unexpected content after media subtype"),
        (Some("application/merge-patch+json; charset"), 400, "mime: invalid media parameter"),
        (Some("Application/JSON"), 415, "PATCH requires Content-Type of application/merge-patch+json, provided application/json"),
    ] {
        let r = patch(ct, "data/p", body.clone()).await;
        assert_eq!((r.status, r.error()), (status, want), "{ct:?}");
    }
    // CAS is checked before the version: a wrong one on a deleted version is the CAS error.
    v.root("DELETE", "/v1/secret/data/p", None).await;
    let r = patch(
        Some("application/merge-patch+json"),
        "data/p",
        json!({"data": {"c": 3}, "options": {"cas": 1}}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "check-and-set parameter did not match the current version"
        )
    );
    let r = patch(
        Some("application/merge-patch+json"),
        "data/nope",
        json!({"data": {"c": 3}, "options": {"cas": "x"}}),
    )
    .await;
    assert_eq!(
        (r.status, r.raw.as_str()),
        (404, ""),
        "a missing key before the CAS parse"
    );
    // cas: null is 0, true is 1; " 1" does not parse.
    let r = put(
        "data/c",
        json!({"data": {"a": 1}, "options": {"cas": null}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = put(
        "data/c",
        json!({"data": {"a": 2}, "options": {"cas": true}}),
    )
    .await;
    assert_eq!(r.body["data"]["version"], 2, "{}", r.raw);
    let r = put(
        "data/c",
        json!({"data": {"a": 3}, "options": {"cas": " 2"}}),
    )
    .await;
    assert_eq!(r.error(), "error parsing check-and-set parameter");
    let r = put("data/c", json!({"data": {"a": 3}, "options": "cas=2"})).await;
    assert_eq!(
        r.error(),
        "error converting input cas=2 for field \"options\": '' expected a map, got 'string'"
    );
    // A negative version reads the current one.
    let r = v.root("GET", "/v1/secret/data/c?version=-1", None).await;
    assert_eq!(r.body["data"]["metadata"]["version"], 2);
    // versions: split at commas without trimming; errors as mapstructure gathers them.
    let r = put("delete/c", json!({"versions": "1, 2"})).await;
    assert_eq!(
        r.error(),
        "Field validation failed: error converting input 1, 2 for field \"versions\": 1 error(s) decoding:\n\n* cannot parse '[1]' as int: strconv.ParseInt: parsing \" 2\": invalid syntax"
    );
    let r = put("destroy/c", json!({"versions": ["1", {"a": 1}]})).await;
    assert_eq!(
        r.error(),
        "Field validation failed: error converting input [1 map[a:1]] for field \"versions\": 1 error(s) decoding:\n\n* '[1]' expected type 'int', got unconvertible type 'map[string]interface {}', value: 'map[a:1]'"
    );
    assert_eq!(
        put("undelete/c", json!({"versions": ""})).await.error(),
        "No version number provided"
    );
    assert_eq!(
        put("delete/c", json!({"versions": "1,2"})).await.status,
        204
    );
}

/// sys mounts and tuning as Vault's core: enable's order and texts (protected paths, singleton
/// types, overlaps), tune's TTL strings and texts, untunable mounts, tune reads copied to the
/// top level, a KV mount tuned to version 2, and `sys/seal` on a sealed Vault.
#[tokio::test]
async fn vault_sys_mount_enable_tune_and_seal_as_core() {
    let v = vault();
    let enable = |path: &'static str, body: Value| {
        let v = &v;
        async move { v.root("POST", &format!("/v1/sys/{path}"), Some(body)).await }
    };
    for (path, body, want) in [
        (
            "mounts/sys/x",
            json!({"type": "kv"}),
            "cannot mount \"sys/x/\"",
        ),
        (
            "mounts/auth/x",
            json!({"type": "kv"}),
            "cannot mount \"auth/x/\"",
        ),
        (
            "mounts/box",
            json!({"type": "cubbyhole"}),
            "mount type of \"cubbyhole\" is not mountable",
        ),
        (
            "mounts/secret/sub",
            json!({"type": "kv"}),
            "path is already in use at secret/",
        ),
        (
            "mounts/x",
            json!({"type": "kv", "config": {"default_lease_ttl": "800h"}}),
            "given default lease TTL greater than system max lease TTL of 2764800",
        ),
        (
            "mounts/x",
            json!({"config": {"default_lease_ttl": "2h", "max_lease_ttl": "1h"}}),
            "given default lease TTL greater than given max lease TTL",
        ),
        (
            "auth/token",
            json!({"type": "token"}),
            "path is already in use at token/",
        ),
        (
            "auth/tok2",
            json!({"type": "token"}),
            "token credential backend cannot be instantiated",
        ),
    ] {
        let r = enable(path, body).await;
        assert_eq!((r.status, r.error()), (400, want), "{path}");
    }
    enable("auth/userpass", json!({"type": "userpass"})).await;
    let r = enable("auth/userpass/deeper", json!({"type": "userpass"})).await;
    assert_eq!(r.error(), "path is already in use at userpass/");
    // A plain kv mount lists its options as given: `{}`.
    enable("mounts/plain", json!({"type": "kv"})).await;
    let r = v.root("GET", "/v1/sys/mounts/plain", None).await;
    assert_eq!(r.body["data"]["options"], json!({}));

    // Tune: TTL strings, Vault's texts, the read copied to the top level.
    let tune = |path: &'static str, body: Value| {
        let v = &v;
        async move {
            v.root("POST", &format!("/v1/sys/{path}/tune"), Some(body))
                .await
        }
    };
    assert_eq!(
        tune(
            "mounts/plain",
            json!({"default_lease_ttl": "2h", "max_lease_ttl": "1h"})
        )
        .await
        .error(),
        "backend max lease TTL of 3600 would be less than backend default lease TTL of 7200"
    );
    assert_eq!(
        tune("mounts/plain", json!({"max_lease_ttl": "soon"}))
            .await
            .error(),
        "time: invalid duration \"soon\""
    );
    assert_eq!(
        tune("mounts/sys", json!({"description": "x"}))
            .await
            .error(),
        "cannot tune \"sys/\""
    );
    assert_eq!(
        tune("mounts/nope", json!({})).await.error(),
        "tune of path \"nope/\" failed: no mount entry found"
    );
    assert_eq!(
        v.root("GET", "/v1/sys/mounts/nope/tune", None)
            .await
            .error(),
        "cannot fetch sysview for path \"nope/\""
    );
    assert_eq!(
        tune("mounts/plain", json!({"token_type": "batch"}))
            .await
            .error(),
        "'token_type' can only be modified on auth mounts"
    );
    assert_eq!(
        tune("auth/token", json!({"token_type": "batch"}))
            .await
            .error(),
        "'token_type' cannot be set for 'token' or 'ns_token' auth mounts"
    );
    assert_eq!(
        tune("auth/userpass", json!({"token_type": "odd"}))
            .await
            .error(),
        "invalid value for 'token_type'"
    );
    assert_eq!(
        tune("mounts/plain", json!({"listing_visibility": "loud"}))
            .await
            .error(),
        "invalid listing_visibility loud"
    );
    assert_eq!(
        tune("mounts/plain", json!({"max_lease_ttl": "1h"}))
            .await
            .status,
        204
    );
    let r = v.root("GET", "/v1/sys/mounts/plain/tune", None).await;
    assert_eq!(
        (&r.body["max_lease_ttl"], &r.body["data"]["max_lease_ttl"]),
        (&json!(3600), &json!(3600))
    );
    // An empty TTL keeps the value.
    tune("mounts/plain", json!({"max_lease_ttl": ""})).await;
    let r = v.root("GET", "/v1/sys/mounts/plain/tune", None).await;
    assert_eq!(r.body["data"]["max_lease_ttl"], 3600);

    // KV v1 tuned to version 2: a warning, and the mount serves (and kept) its data as v2.
    v.root("POST", "/v1/plain/app", Some(json!({"k": "v"})))
        .await;
    let r = tune("mounts/plain", json!({"options": {"version": "2"}})).await;
    assert_eq!(
        r.body["warnings"],
        json!(["Upgrading mount from version 0 to version 2. This mount will be unavailable for a brief period and will resume service shortly."])
    );
    let r = v.root("GET", "/v1/plain/data/app", None).await;
    assert_eq!(
        (r.status, &r.body["data"]["data"]),
        (200, &json!({"k": "v"})),
        "{}",
        r.raw
    );
    assert_eq!(
        tune("mounts/plain", json!({"options": {"version": "1"}}))
            .await
            .error(),
        "cannot downgrade mount from version 2"
    );
    assert_eq!(
        tune("mounts/plain", json!({"options": {"version": "3"}}))
            .await
            .error(),
        "invalid version provided: 3"
    );

    // Sealing a sealed Vault is done already: 204 before any token check.
    assert_eq!(v.root("PUT", "/v1/sys/seal", None).await.status, 204);
    assert_eq!(v.call("PUT", "/v1/sys/seal", None, None).await.status, 204);
}

/// sys capabilities and leases as Vault's handlers order them; revoke-prefix and revoke-force
/// as sudo paths that find nothing to revoke.
#[tokio::test]
async fn vault_sys_capabilities_and_lease_endpoints_in_vaults_order() {
    let v = vault();
    let post = |path: &'static str, body: Value| {
        let v = &v;
        async move { v.root("POST", &format!("/v1/sys/{path}"), Some(body)).await }
    };
    let r = post("capabilities", json!({"paths": ["secret/x"]})).await;
    assert_eq!(
        (r.status, r.error()),
        (500, "1 error occurred:\n\t* no token found\n\n")
    );
    let r = post("capabilities", json!({"token": "bogus"})).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "paths must be supplied"),
        "paths before the token's validity"
    );
    let r = post("capabilities", json!({"token": "bogus", "paths": ["x"]})).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "1 error occurred:\n\t* invalid token\n\n")
    );
    let r = post("capabilities-accessor", json!({"paths": ["x"]})).await;
    assert_eq!((r.status, r.error()), (400, "missing accessor"));

    let r = post("leases/renew", json!({"lease_id": "auth/token/create/abc"})).await;
    assert_eq!(r.error(), "lease not found");
    let r = post("leases/renew/from-url", json!({"lease_id": ""})).await;
    assert_eq!(
        r.error(),
        "lease not found",
        "the URL's id when the body's is empty"
    );
    assert_eq!(
        post("leases/revoke-prefix/aws/creds", json!({}))
            .await
            .status,
        204
    );
    assert_eq!(
        post("leases/revoke-prefix/aws/creds", json!({"sync": false}))
            .await
            .status,
        202
    );
    assert_eq!(post("revoke-force/aws", json!({})).await.status, 204);
    v.policy(
        "leases",
        r#"path "sys/leases/revoke-prefix/*" { capabilities = ["update"] }"#,
    )
    .await;
    let t = v.token(&["leases"], json!({})).await;
    let r = v
        .call(
            "POST",
            "/v1/sys/leases/revoke-prefix/aws",
            Some(&t),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 403, "a sudo path");
}

/// Policy writes parse before the immutable-policy check; the immutable ones are refused by
/// name; invalid keys are answered as `CheckHCLKeys` lists them.
#[tokio::test]
async fn vault_policy_writes_parse_first_and_refuse_immutable_policies() {
    let v = vault();
    let put = |name: &'static str, text: &'static str| {
        let v = &v;
        async move {
            v.root(
                "PUT",
                &format!("/v1/sys/policies/acl/{name}"),
                Some(json!({ "policy": text })),
            )
            .await
        }
    };
    let r = put("root", "bad = 1").await;
    assert_eq!(
        r.error(),
        "failed to parse policy: 1 error occurred:\n\t* invalid key \"bad\" on line 1\n\n"
    );
    let r = put("root", r#"path "x" { capabilities = ["read"] }"#).await;
    assert_eq!(r.error(), "cannot update \"root\" policy");
    let r = put(
        "response-wrapping",
        r#"path "x" { capabilities = ["read"] }"#,
    )
    .await;
    assert_eq!(r.error(), "cannot update \"response-wrapping\" policy");
    let r = v
        .root("DELETE", "/v1/sys/policies/acl/control-group", None)
        .await;
    assert_eq!(r.error(), "cannot delete \"control-group\" policy");
}

/// Tidy endpoints answer as Vault's: 202 with the whole envelope and its warning.
#[tokio::test]
async fn vault_tidy_endpoints_answer_202_with_the_started_warning() {
    let v = approle_vault().await;
    for path in ["/v1/auth/token/tidy", "/v1/auth/approle/tidy/secret-id"] {
        let r = v.root("POST", path, None).await;
        assert_eq!(r.status, 202, "{path}");
        assert_eq!(
            r.body["warnings"],
            json!(["Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs."])
        );
        assert!(
            r.raw.ends_with(r#""auth":null,"mount_type":""}"#),
            "{}",
            r.raw
        );
    }
}

/// KV `data` is a TypeMap: Go's `%v` of the input and the kind mapstructure names, without the
/// prefix on a write (its existence check), with it on a PATCH; an empty list is an empty map.
#[tokio::test]
async fn vault_kv2_data_field_type_errors_as_mapstructure() {
    let v = vault();
    let put = |body: Value| {
        let v = &v;
        async move { v.root("POST", "/v1/secret/data/t", Some(body)).await }
    };
    assert_eq!(
        put(json!({"data": "abc"})).await.error(),
        "error converting input abc for field \"data\": '' expected a map, got 'string'"
    );
    assert_eq!(
        put(json!({"data": true})).await.error(),
        "error converting input true for field \"data\": '' expected a map, got 'bool'"
    );
    // A list is decoded element by element into one map.
    assert_eq!(
        put(json!({"data": ["a"]})).await.error(),
        "error converting input [a] for field \"data\": '[0]' expected a map, got 'string'"
    );
    let r = put(json!({"data": [{"a": 1}, {"b": 2}]})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = v.root("GET", "/v1/secret/data/t", None).await;
    assert_eq!(r.body["data"]["data"], json!({"a": 1, "b": 2}));
    let r = put(json!({"data": {"x": 1}, "options": []})).await;
    assert_eq!(r.status, 200, "options [] is no CAS: {}", r.raw);
    assert_eq!(
        put(json!({"data": 5})).await.error(),
        "error converting input 5 for field \"data\": '' expected a map, got 'string'"
    );
    let r = put(json!({"data": []})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = v
        .send(
            Request::patch("/v1/secret/data/t")
                .header("X-Vault-Token", "root")
                .header("Content-Type", "application/merge-patch+json")
                .body(Body::from(json!({"data": "x"}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.error(), "Field validation failed: error converting input x for field \"data\": '' expected a map, got 'string'");
}

/// Review findings: token roles take six token fields only; unseal checks a key's length after
/// the Vault is found initialised; huge durations do not overflow; a failed LDAP config write
/// keeps its bind password out; KV metadata `null`s count as given; `meta` list errors.
#[tokio::test]
async fn vault_review_edges_token_roles_unseal_durations_ldap_and_kv_nulls() {
    let v = vault();
    let r = v
        .root(
            "POST",
            "/v1/auth/token/roles/r",
            Some(json!({"token_ttl": "2h", "token_max_ttl": "1h", "token_policies": "x"})),
        )
        .await;
    // Not fields of the path: ignored (the warning rides on a response, and there is none).
    assert_eq!(r.status, 204, "{}", r.raw);
    let d = v.root("GET", "/v1/auth/token/roles/r", None).await.body["data"].clone();
    assert!(
        d.get("token_ttl").is_none() && d.get("token_policies").is_none(),
        "{d}"
    );
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"meta": ["a=b", ["x"]]})),
        )
        .await;
    assert_eq!(
        r.error(),
        "Field validation failed: error converting input [a=b [x]] for field \"meta\": 1 error(s) decoding:\n\n* '[1]' expected type 'string', got unconvertible type '[]interface {}', value: '[x]'"
    );
    let r = v
        .root(
            "POST",
            "/v1/auth/token/create",
            Some(json!({"explicit_max_ttl": "9223372036854775807", "policies": ["default"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);

    // KV: a huge delete_version_after, then a write and an undelete: no overflow.
    v.root(
        "POST",
        "/v1/secret/metadata/huge",
        Some(json!({"delete_version_after": "9223372036854775807"})),
    )
    .await;
    let r = v
        .root(
            "POST",
            "/v1/secret/data/huge",
            Some(json!({"data": {"a": 1}})),
        )
        .await;
    assert_eq!(
        r.body["data"]["deletion_time"], "9999-12-31T23:59:59Z",
        "{}",
        r.raw
    );
    // `null` is given: a metadata write of `max_versions: null` makes the key.
    let r = v
        .root(
            "POST",
            "/v1/secret/metadata/n",
            Some(json!({"max_versions": null})),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        v.root("GET", "/v1/secret/metadata/n", None).await.status,
        200
    );

    // LDAP: a config write that fails keeps its bindpass out (no bind DN by search).
    v.root("POST", "/v1/sys/auth/ldap", Some(json!({"type": "ldap"})))
        .await;
    v.st.ldap_add_user("dora", "pw", &[]);
    v.root(
        "POST",
        "/v1/auth/ldap/config",
        Some(json!({"binddn": "cn=svc"})),
    )
    .await;
    let r = v
        .root(
            "POST",
            "/v1/auth/ldap/config",
            Some(json!({"bindpass": "x", "token_ttl": "2h", "token_max_ttl": "1h"})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = v
        .call(
            "POST",
            "/v1/auth/ldap/login/dora",
            None,
            Some(json!({"password": "pw"})),
        )
        .await;
    assert_eq!(r.error(), "ldap operation failed: failed to bind as user");

    // Unseal on an uninitialised Vault: not initialised before the key's length.
    let u = vault_with(VaultOptions {
        start: StartMode::Uninitialized,
        ..VaultOptions::default()
    });
    let r = u
        .call("PUT", "/v1/sys/unseal", None, Some(json!({"key": "AAAA"})))
        .await;
    assert_eq!(r.error(), "Vault is not initialized");
}

/// KV v1 and the cubbyhole at their mount's root, and the cubbyhole's lease duration: the
/// passthrough's and the cubbyhole's own answers.
#[tokio::test]
async fn vault_kv1_and_cubbyhole_roots_and_leases() {
    let v = vault();
    v.root("POST", "/v1/sys/mounts/kv1", Some(json!({"type": "kv"})))
        .await;
    assert_eq!(v.root("GET", "/v1/kv1", None).await.status, 404);
    let r = v.root("POST", "/v1/kv1", Some(json!({"a": 1}))).await;
    assert_eq!((r.status, r.error()), (400, "missing path"));
    assert_eq!(v.root("DELETE", "/v1/kv1", None).await.status, 204);
    let r = v.root("POST", "/v1/cubbyhole", Some(json!({}))).await;
    assert_eq!(
        (r.status, r.error()),
        (500, "1 error occurred:\n\t* missing data fields\n\n")
    );
    let r = v.root("POST", "/v1/cubbyhole", Some(json!({"a": 1}))).await;
    assert_eq!(
        (r.status, r.error()),
        (500, "1 error occurred:\n\t* missing path\n\n")
    );
    let r = v.root("GET", "/v1/cubbyhole", None).await;
    assert_eq!(
        (r.status, r.error()),
        (500, "1 error occurred:\n\t* missing path\n\n")
    );
    // A `ttl` key sets the lease duration of a KV v1 read, never of a cubbyhole's.
    v.root("POST", "/v1/kv1/t", Some(json!({"ttl": "1h"})))
        .await;
    assert_eq!(
        v.root("GET", "/v1/kv1/t", None).await.body["lease_duration"],
        3600
    );
    v.root("POST", "/v1/cubbyhole/t", Some(json!({"ttl": "1h"})))
        .await;
    assert_eq!(
        v.root("GET", "/v1/cubbyhole/t", None).await.body["lease_duration"],
        0
    );
}
