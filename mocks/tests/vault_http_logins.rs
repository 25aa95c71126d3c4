//! GCP and AWS logins end to end over real loopback sockets: the mock Vault configured through its
//! HTTP API exactly as a real Vault is (`custom_endpoint`, `sts_endpoint`…), a client that signs
//! its login material against the cloud mocks, and a secret read with the token Vault issued.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use authsim_mocks::clock::{Clock, ManualClock};
use authsim_mocks::vault::VaultOptions;
use authsim_mocks::{gcp, worldfile, MockCloud, MockCloudOptions, Sim};

const APP: &str = "app@authsim-demo.iam.gserviceaccount.com";
const CI: &str = "ci-runner@authsim-demo.iam.gserviceaccount.com";
const VAULT_SA: &str = "vault-server@authsim-demo.iam.gserviceaccount.com";
const SECRET: &str = "secret/data/app/config";

struct Env {
    cloud: MockCloud,
    clock: Arc<ManualClock>,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        Env::start_with(VaultOptions::default()).await
    }

    async fn start_with(vault: VaultOptions) -> Env {
        let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
        let sim = Sim::new(worldfile::default_world(UNIX_EPOCH), clock.clone());
        let cloud = MockCloud::start(
            sim,
            MockCloudOptions {
                vault,
                ..MockCloudOptions::default()
            },
        )
        .await
        .unwrap();
        let env = Env {
            cloud,
            clock,
            http: reqwest::Client::new(),
        };
        env.root(
            "POST",
            "sys/policies/acl/app",
            json!({"policy": format!("path \"{SECRET}\" {{ capabilities = [\"read\"] }}")}),
        )
        .await;
        env.root("POST", SECRET, json!({"data": {"password": "s3cret"}}))
            .await;
        env
    }

    fn vault(&self) -> String {
        self.cloud.vault_url().unwrap()
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
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn root(&self, method: &str, path: &str, body: Value) {
        let (status, resp) = self.call(method, path, Some("root"), Some(body)).await;
        assert!(
            status == 200 || status == 204,
            "{method} {path}: {status} {resp}"
        );
    }

    /// A login's token renews while its role exists; once the role is deleted, the auth method's
    /// renewal check refuses (Vault's `PathLoginRenew`).
    async fn renewal_follows_the_role(&self, login: &Value, role_path: &str) -> (u16, Value) {
        let token = login["auth"]["client_token"].as_str().unwrap();
        let renew = || {
            self.call(
                "POST",
                "auth/token/renew-self",
                Some(token),
                Some(json!({})),
            )
        };
        let (status, renewed) = renew().await;
        assert_eq!(status, 200, "{renewed}");
        assert_eq!(renewed["auth"]["client_token"], token);
        // A renewal takes the role's TTL as it is now (the method's renewal handler answers it).
        let (status, _) = self
            .call(
                "POST",
                role_path,
                Some("root"),
                Some(json!({"token_ttl": "2h"})),
            )
            .await;
        assert!(status == 204 || status == 200, "{role_path}");
        let (status, renewed) = renew().await;
        assert_eq!(status, 200, "{renewed}");
        assert_eq!(renewed["auth"]["lease_duration"], 7200, "{renewed}");
        let (status, _) = self.call("DELETE", role_path, Some("root"), None).await;
        assert_eq!(status, 204);
        renew().await
    }

    /// Reads the secret with a login's token: proves the token and its policies work.
    async fn read_secret_with(&self, login: &Value) -> Value {
        let token = login["auth"]["client_token"].as_str().unwrap();
        let (status, resp) = self.call("GET", SECRET, Some(token), None).await;
        assert_eq!(status, 200, "{resp}");
        resp["data"]["data"].clone()
    }
}

#[tokio::test]
async fn a_gcp_iam_login_through_the_vault_http_api_reads_a_secret() {
    let e = Env::start().await;
    let google = e.cloud.google_url().unwrap();
    let key_file = {
        let w = e.cloud.sim.world();
        let sa = &w.gcp.service_accounts[VAULT_SA];
        gcp::key_file(sa, &sa.user_keys[0].key, &google)
    };
    e.root("POST", "sys/auth/gcp", json!({"type": "gcp"})).await;
    e.root(
        "POST",
        "auth/gcp/config",
        json!({"credentials": key_file.to_string(), "custom_endpoint": {"api": google, "iam": google, "crm": google, "compute": google}}),
    )
    .await;
    e.root(
        "POST",
        "auth/gcp/role/app",
        json!({"type": "iam", "bound_service_accounts": [APP], "token_policies": ["app"]}),
    )
    .await;

    // The client: a caller token, then signJwt as the app account through iamcredentials.
    let caller_token = {
        let expires = e.clock.now() + Duration::from_secs(3600);
        e.cloud.sim.world_mut().gcp.issue_token(
            CI,
            vec!["https://www.googleapis.com/auth/cloud-platform".into()],
            expires,
        )
    };
    let now = e.clock.unix();
    let claims = json!({"sub": APP, "aud": "vault/app", "iat": now, "exp": now + 600}).to_string();
    let signed: Value = e
        .http
        .post(format!(
            "{google}/v1/projects/-/serviceAccounts/{APP}:signJwt"
        ))
        .bearer_auth(&caller_token)
        .json(&json!({"payload": claims}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = signed["signedJwt"].as_str().unwrap();

    let (status, login) = e
        .call(
            "POST",
            "auth/gcp/login",
            None,
            Some(json!({"role": "app", "jwt": jwt})),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    assert!(login["auth"]["client_token"]
        .as_str()
        .unwrap()
        .starts_with("hvs."));
    assert_eq!(login["auth"]["policies"], json!(["app", "default"]));
    assert_eq!(login["auth"]["metadata"]["service_account_email"], APP);
    assert_eq!(
        e.read_secret_with(&login).await,
        json!({"password": "s3cret"})
    );

    // Vault's exact refusal for a JWT that outlives max_jwt_exp.
    let long = json!({"sub": APP, "aud": "vault/app", "exp": now + 1200}).to_string();
    let signed: Value = e
        .http
        .post(format!(
            "{google}/v1/projects/-/serviceAccounts/{APP}:signJwt"
        ))
        .bearer_auth(&caller_token)
        .json(&json!({"payload": long}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, refused) = e
        .call(
            "POST",
            "auth/gcp/login",
            None,
            Some(json!({"role": "app", "jwt": signed["signedJwt"]})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused,
        json!({"errors": ["role requires that service account JWTs expire within 900 seconds"]})
    );

    let refused = e
        .renewal_follows_the_role(&login, "auth/gcp/role/app")
        .await;
    // A `logical.ErrorResponse` in the plugin's renew path: 400.
    assert_eq!(refused.0, 400, "{refused:?}");
    assert_eq!(
        refused.1,
        json!({"errors": ["role \"app\" no longer exists"]})
    );
}

/// hvac's signing (reference aws.md 7.1): POST https://sts.amazonaws.com/, every header signed.
fn hvac_login_data(key: &str, secret: &str, server_id: Option<&str>, clock: &dyn Clock) -> Value {
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let mut headers = vec![
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("Host", "sts.amazonaws.com"),
    ];
    if let Some(s) = server_id {
        headers.push(("X-Vault-AWS-IAM-Server-ID", s));
    }
    headers.push(("Content-Length", "43"));
    let identity = Credentials::new(key, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(clock.now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "POST",
        "https://sts.amazonaws.com/",
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers.iter().copied().chain(instructions.headers()) {
        all.entry(k.to_owned()).or_default().push(v.to_owned());
    }
    json!({
        "role": "app",
        "iam_http_request_method": "POST",
        "iam_request_url": STANDARD.encode("https://sts.amazonaws.com/"),
        "iam_request_body": STANDARD.encode(body),
        "iam_request_headers": STANDARD.encode(json!(all).to_string()),
    })
}

#[tokio::test]
async fn an_aws_iam_login_through_the_vault_http_api_reads_a_secret() {
    aws_login_calls_sts(VaultOptions::default(), 2).await;
}

/// A Vault whose server sets `imprecise_lease_role_tracking` resolves no role after a login:
/// one STS call per login.
#[tokio::test]
async fn with_imprecise_lease_role_tracking_an_aws_login_calls_sts_once() {
    aws_login_calls_sts(
        VaultOptions {
            imprecise_lease_role_tracking: true,
            ..VaultOptions::default()
        },
        1,
    )
    .await;
}

async fn aws_login_calls_sts(options: VaultOptions, per_login: usize) {
    let e = Env::start_with(options).await;
    let aws = e.cloud.aws_url().unwrap();
    let (key, secret) = {
        let w = e.cloud.sim.world();
        let k = w
            .aws
            .access_keys
            .values()
            .find(|k| k.user == "alice")
            .unwrap();
        (k.id.clone(), k.secret.clone())
    };
    e.root("POST", "sys/auth/aws", json!({"type": "aws"})).await;
    e.root(
        "POST",
        "auth/aws/config/client",
        json!({"access_key": key, "secret_key": secret, "sts_endpoint": aws, "iam_endpoint": aws, "endpoint": aws,
               "iam_server_id_header_value": "vault.example.com", "max_retries": 0}),
    )
    .await;
    e.root(
        "POST",
        "auth/aws/role/app",
        json!({"auth_type": "iam", "bound_iam_principal_arn": ["arn:aws:iam::111122223333:user/alice"], "token_policies": ["app"]}),
    )
    .await;

    let data = hvac_login_data(&key, &secret, Some("vault.example.com"), &*e.clock);
    let (status, login) = e
        .call("POST", "auth/aws/login", None, Some(data.clone()))
        .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["auth"]["policies"], json!(["app", "default"]));
    assert_eq!(login["warnings"], Value::Null);
    // A field the login's schema lacks is ignored, and named in a warning.
    let mut extra = data.clone();
    extra["region"] = json!("us-east-1");
    let (status, warned) = e.call("POST", "auth/aws/login", None, Some(extra)).await;
    assert_eq!(status, 200, "{warned}");
    assert_eq!(
        warned["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [region]"])
    );
    // config/identity's default iam_metadata: account_id and auth_type (plus the role id).
    assert_eq!(login["auth"]["metadata"]["account_id"], "111122223333");
    assert_eq!(login["auth"]["metadata"]["auth_type"], "iam");
    assert_eq!(
        e.read_secret_with(&login).await,
        json!({"password": "s3cret"})
    );

    // Exactly one STS call, carrying the server-ID header as the client signed it.
    let sts_calls: Vec<_> = e
        .cloud
        .sim
        .journal()
        .entries()
        .into_iter()
        .filter(|j| {
            j.listener == "aws"
                && j.body.contains("GetCallerIdentity")
                && j.header("x-vault-aws-iam-server-id").is_some()
        })
        .collect();
    // Each login's call, then (unless imprecise) core's role resolution for lease-count
    // quotas: two logins.
    assert_eq!(sts_calls.len(), 2 * per_login);
    assert_eq!(sts_calls[0].path, "//");
    assert_eq!(sts_calls[0].header("host"), Some("sts.amazonaws.com"));

    let refused = e
        .renewal_follows_the_role(&login, "auth/aws/role/app")
        .await;
    // A plain error of the backend's renewal: wrapped by the expiration manager, collected
    // by request handling.
    assert_eq!(
        refused,
        (
            500,
            json!({"errors": ["1 error occurred:\n\t* failed to renew entry: role entry not found\n\n"]})
        )
    );
    // Written back, the role binds alice again and new logins work.
    let back = json!({"auth_type": "iam", "bound_iam_principal_arn": ["arn:aws:iam::111122223333:user/alice"], "token_policies": ["app"]});
    e.root("POST", "auth/aws/role/app", back).await;

    let data = hvac_login_data(&key, &secret, None, &*e.clock);
    let (status, refused) = e.call("POST", "auth/aws/login", None, Some(data)).await;
    assert_eq!(status, 400);
    assert_eq!(
        refused,
        json!({"errors": ["error validating X-Vault-AWS-IAM-Server-ID header: missing header \"X-Vault-AWS-IAM-Server-ID\""]})
    );
}
