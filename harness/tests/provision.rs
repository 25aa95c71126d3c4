//! Provisioning against the mock Vault over real loopback sockets: the writes go through Vault's
//! HTTP API only, then the configured logins work as a client would use them.

use std::time::UNIX_EPOCH;

use authsim::provision::{self, Endpoints, ProvisionError, VaultSpec};
use authsim_mocks::{worldfile, MockCloud, MockCloudOptions, Sim};
use serde_json::{json, Value};

const SPEC: &str = r#"
root_token = "root"
[policies]
app = 'path "secret/data/app/*" { capabilities = ["read"] }'
[secrets."secret/app/config"]
username = "app"
password = "s3cret"
[auth.gcp]
config = { service_account = "vault-server" }
roles.app = { type = "iam", bound_service_accounts = ["app@authsim-demo.iam.gserviceaccount.com"], token_policies = ["app"], max_jwt_exp = "15m" }
[auth.aws]
client = { iam_server_id_header_value = "vault.example.com", user = "alice" }
roles.app = { auth_type = "iam", bound_iam_principal_arn = ["arn:aws:iam::111122223333:user/alice"], token_policies = ["app"] }
[auth.approle]
roles.ci = { token_policies = ["app"], role_id = "ci-role-id", secret_id = "ci-secret-id" }
[auth.userpass]
users.bob = { password = "bob-password", token_policies = ["app"] }
[auth.corp]
type = "ldap"
config = { url = "ldap://ldap.example.com", userdn = "ou=Users,dc=example,dc=com", groupdn = "ou=Groups,dc=example,dc=com" }
groups.devs = { policies = ["app"] }
directory.carol = { password = "carol-password", groups = ["devs"] }
"#;

struct Env {
    cloud: MockCloud,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        let sim = Sim::new(
            worldfile::default_world(UNIX_EPOCH),
            std::sync::Arc::new(authsim_mocks::clock::SystemClock),
        );
        let cloud = MockCloud::start(sim, MockCloudOptions::default())
            .await
            .unwrap();
        Env {
            cloud,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    fn vault(&self) -> String {
        self.cloud.vault_url().unwrap()
    }

    async fn apply(&self, spec: &VaultSpec) -> Result<provision::Applied, ProvisionError> {
        let ep = Endpoints::resolve(
            spec,
            &self.cloud.sim.world(),
            &self.cloud.google_url().unwrap(),
            &self.cloud.aws_url().unwrap(),
        )
        .unwrap();
        provision::apply(&self.http, &self.vault(), "root", spec, &ep).await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(
            method.parse().unwrap(),
            format!("{}/v1/{path}", self.vault()),
        );
        if let Some(t) = token {
            req = req.header("X-Vault-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Logs in and reads the secret with the token: the login, its policy and the secret exist.
    async fn login_reads_secret(&self, path: &str, body: Value) {
        let (status, login) = self.call("POST", path, None, Some(body)).await;
        assert_eq!(status, 200, "{path}: {login}");
        let token = login["auth"]["client_token"].as_str().unwrap();
        let (status, secret) = self
            .call("GET", "secret/data/app/config", Some(token), None)
            .await;
        assert_eq!(status, 200, "{secret}");
        assert_eq!(secret["data"]["data"]["username"], "app", "{secret}");
    }
}

#[tokio::test]
async fn a_spec_applies_over_http_and_every_login_works() {
    let e = Env::start().await;
    let spec = VaultSpec::parse(SPEC).unwrap();
    let applied = e.apply(&spec).await.unwrap();
    assert!(applied.writes >= 14, "{applied:?}");
    assert!(applied.skipped.is_empty(), "{applied:?}");

    e.login_reads_secret(
        "auth/approle/login",
        json!({"role_id": "ci-role-id", "secret_id": "ci-secret-id"}),
    )
    .await;
    e.login_reads_secret(
        "auth/userpass/login/bob",
        json!({"password": "bob-password"}),
    )
    .await;
    e.login_reads_secret(
        "auth/corp/login/carol",
        json!({"password": "carol-password"}),
    )
    .await;

    // The cloud auth methods point at the cloud mocks, with the world's Vault identities.
    let (_, gcp) = e.call("GET", "auth/gcp/config", Some("root"), None).await;
    let google = e.cloud.google_url().unwrap();
    assert_eq!(
        gcp["data"]["client_email"],
        "vault-server@authsim-demo.iam.gserviceaccount.com"
    );
    assert_eq!(gcp["data"]["custom_endpoint"]["api"], google);
    assert_eq!(gcp["data"]["custom_endpoint"]["compute"], google);
    let (_, role) = e.call("GET", "auth/gcp/role/app", Some("root"), None).await;
    assert_eq!(role["data"]["max_jwt_exp"], 900);
    let (_, aws) = e
        .call("GET", "auth/aws/config/client", Some("root"), None)
        .await;
    let aws_url = e.cloud.aws_url().unwrap();
    assert_eq!(aws["data"]["sts_endpoint"], aws_url);
    assert_eq!(aws["data"]["iam_endpoint"], aws_url);
    assert_eq!(aws["data"]["endpoint"], aws_url);
    assert_eq!(
        aws["data"]["iam_server_id_header_value"],
        "vault.example.com"
    );
    assert!(aws["data"]["access_key"]
        .as_str()
        .unwrap()
        .starts_with("AKIA"));
    // The role write resolved alice's unique id through the mock IAM with those credentials.
    let (_, role) = e.call("GET", "auth/aws/role/app", Some("root"), None).await;
    assert!(
        role["data"]["bound_iam_principal_id"][0]
            .as_str()
            .unwrap()
            .starts_with("AIDA"),
        "{role}"
    );

    // Applying again keeps the mounts and rewrites the rest.
    e.apply(&spec).await.unwrap();

    let q = spec.quick_start();
    assert_eq!(q["gcp_mount"], "gcp");
    assert_eq!(q["aws_role"], "app");
    assert_eq!(q["aws_server_id"], "vault.example.com");
    assert_eq!(q["secret_path"], "secret/data/app/config");
    assert_eq!(q["ldap"]["mount"], "corp");
    assert_eq!(q["approle"]["secret_id"], "ci-secret-id");
}

#[tokio::test]
async fn a_write_vault_refuses_is_one_line_with_the_path_and_errors() {
    let e = Env::start().await;
    let spec = VaultSpec::parse(
        r#"
[auth.gcp]
roles.app = { type = "iam", token_policies = ["app"] }
"#,
    )
    .unwrap();
    let err = e.apply(&spec).await.unwrap_err();
    let ProvisionError::Refused {
        path,
        status,
        errors,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(path, "auth/gcp/role/app");
    assert_eq!(*status, 400);
    assert_eq!(
        errors,
        &["IAM role type must have at least one service account"]
    );
    assert_eq!(
        err.to_string(),
        "Vault refused POST auth/gcp/role/app (400): IAM role type must have at least one service account"
    );
    assert!(!err.to_string().contains('\n'));
}

/// A Vault's own policies and secrets are never overwritten: the same content is used as it is,
/// another stops the provisioning with what to do.
#[tokio::test]
async fn a_policy_or_secret_the_vault_has_otherwise_is_not_overwritten() {
    let e = Env::start().await;
    let spec = VaultSpec::parse(
        r#"
[policies]
app = 'path "secret/data/app/*" { capabilities = ["read"] }'
[secrets."secret/app/config"]
username = "app"
"#,
    )
    .unwrap();
    e.apply(&spec).await.unwrap();
    // Again, unchanged: nothing is written.
    assert_eq!(e.apply(&spec).await.unwrap().writes, 0);
    let (status, _) = e
        .call(
            "PUT",
            "sys/policies/acl/app",
            Some("root"),
            Some(json!({"policy": "path \"mine/*\" { capabilities = [\"read\"] }"})),
        )
        .await;
    assert_eq!(status, 204);
    let err = e.apply(&spec).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Vault already has a policy `app` that differs from the world's: authsim does not overwrite it; remove it, or give the world's policy another name"
    );
    let (_, p) = e
        .call("GET", "sys/policies/acl/app", Some("root"), None)
        .await;
    assert!(p["data"]["policy"].as_str().unwrap().contains("mine/*"));
    e.call("DELETE", "sys/policies/acl/app", Some("root"), None)
        .await;
    e.call(
        "POST",
        "secret/data/app/config",
        Some("root"),
        Some(json!({"data": {"password": "my-real-secret"}})),
    )
    .await;
    let err = e.apply(&spec).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Vault already has a secret `secret/data/app/config`"),
        "{err}"
    );
}

#[tokio::test]
async fn a_mount_of_another_type_at_the_path_is_refused() {
    let e = Env::start().await;
    let spec = VaultSpec::parse("[auth.gcp]\n").unwrap();
    e.apply(&spec).await.unwrap();
    let spec = VaultSpec::parse("[auth.gcp]\ntype = \"userpass\"\n").unwrap();
    let err = e.apply(&spec).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "Vault refused POST sys/auth/gcp (400): `gcp/` is already mounted with type `gcp`, the world wants `userpass`"
    );
}

#[tokio::test]
async fn an_unreachable_vault_names_the_call() {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let spec =
        VaultSpec::parse("[policies]\na = 'path \"x\" { capabilities = [\"read\"] }'\n").unwrap();
    // A port nothing listens on: bind, note, drop.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = provision::apply(
        &http,
        &format!("http://127.0.0.1:{port}"),
        "root",
        &spec,
        &Endpoints::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot reach Vault for GET sys/policies/acl/a: "),
        "{err}"
    );
}

#[test]
fn identities_the_world_lacks_name_the_key() {
    let world = worldfile::default_world(UNIX_EPOCH);
    let resolve = |toml: &str| {
        let spec = VaultSpec::parse(toml).unwrap();
        Endpoints::resolve(&spec, &world, "http://g", "http://a")
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        resolve("[auth.gcp]\nconfig = { service_account = \"nobody\" }\n"),
        "world file key `vault.auth.gcp.config.service_account`: no service account `nobody` in the world's [gcp.service_accounts]"
    );
    assert_eq!(
        resolve("[auth.gcp]\nconfig = { service_account = \"app\" }\n"),
        "world file key `vault.auth.gcp.config.service_account`: service account `app` has no key file: give it `user_keys = 1`"
    );
    assert_eq!(
        resolve("[auth.aws]\nclient = { user = \"mallory\" }\n"),
        "world file key `vault.auth.aws.client.user`: no IAM user `mallory` in the world's [aws.accounts.*.users]"
    );
}

#[tokio::test]
async fn the_default_world_provisions_the_quick_start() {
    let e = Env::start().await;
    let spec = VaultSpec::parse(&e.cloud.sim.world().vault.raw_toml).unwrap();
    let applied = e.apply(&spec).await.unwrap();
    assert!(applied.skipped.is_empty(), "{applied:?}");
    let q = spec.quick_start();
    assert_eq!(
        Value::Object(q.clone()),
        json!({"gcp_mount": "gcp", "gcp_role": "app", "aws_mount": "aws", "aws_role": "app",
               "aws_server_id": "vault.example.com", "secret_path": "secret/data/app/config",
               "approle": {"mount": "approle", "role": "app", "role_id": "authsim-app-role-id", "secret_id": "authsim-app-secret-id"},
               "userpass": {"mount": "userpass", "username": "bob", "password": "bob-password"},
               "ldap": {"mount": "ldap", "username": "carol", "password": "carol-password"}})
    );
    e.login_reads_secret(
        "auth/approle/login",
        json!({"role_id": "authsim-app-role-id", "secret_id": "authsim-app-secret-id"}),
    )
    .await;
    e.login_reads_secret(
        "auth/userpass/login/bob",
        json!({"password": "bob-password"}),
    )
    .await;
    e.login_reads_secret(
        "auth/ldap/login/carol",
        json!({"password": "carol-password"}),
    )
    .await;
    // Vault's own AWS credentials are the world's vault-server user, not the quick-start user.
    let (_, aws) = e
        .call("GET", "auth/aws/config/client", Some("root"), None)
        .await;
    let vault_key = e
        .cloud
        .sim
        .world()
        .aws
        .access_keys
        .values()
        .find(|k| k.user == "vault-server")
        .map(|k| k.id.clone());
    assert_eq!(aws["data"]["access_key"].as_str(), vault_key.as_deref());
}
