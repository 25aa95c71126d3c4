//! `auth/gcp`: config, roles, iam and gce logins, renewal.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use authsim_mocks::clock::{Clock, ManualClock};
use authsim_mocks::vault::auth_gcp::GcpAuthBackend;
use authsim_mocks::vault::backend::{
    BackendRequest, BackendResponse, LoginOutcome, Operation, VaultError,
};
use authsim_mocks::{worldfile, MockCloud, MockCloudOptions, Sim};
use serde_json::{json, Value};

pub(crate) const NOW: u64 = 1_700_000_000;
pub(crate) const PROJECT: &str = "authsim-demo";
pub(crate) const APP: &str = "app@authsim-demo.iam.gserviceaccount.com";
pub(crate) const CI: &str = "ci-runner@authsim-demo.iam.gserviceaccount.com";
pub(crate) const VAULT: &str = "vault-server@authsim-demo.iam.gserviceaccount.com";

/// The default world's cloud mocks on loopback, and a GCP auth backend configured against them
/// as a user would (`config` with the Vault server's key file and `custom_endpoint`).
pub(crate) struct V {
    pub sim: Sim,
    pub clock: Arc<ManualClock>,
    pub base: String,
    pub vault: GcpAuthBackend,
    pub http: reqwest::Client,
    _cloud: MockCloud,
}

pub(crate) async fn v() -> V {
    let clock = Arc::new(ManualClock::at_unix(NOW));
    let sim = Sim::new(worldfile::default_world(UNIX_EPOCH), clock.clone());
    let cloud = MockCloud::start(
        sim.clone(),
        MockCloudOptions {
            aws_port: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let base = cloud.google_url().unwrap();
    let v = V {
        vault: GcpAuthBackend::new(clock.clone()),
        sim,
        clock,
        base,
        http: reqwest::Client::new(),
        _cloud: cloud,
    };
    let creds = v.key_file(VAULT).to_string();
    let b = v.base.clone();
    v.write(
        "config",
        json!({
            "credentials": creds,
            "custom_endpoint": { "api": b, "iam": b, "crm": b, "compute": b },
        }),
    )
    .await
    .expect("config");
    v
}

fn map(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// `(status, message)` of an error.
#[track_caller]
pub(crate) fn err<T: std::fmt::Debug>(r: Result<T, VaultError>) -> (u16, String) {
    let e = r.expect_err("an error");
    (e.status, e.errors.first().cloned().unwrap_or_default())
}

impl V {
    pub(crate) async fn req(
        &self,
        operation: Operation,
        path: &str,
        data: Value,
    ) -> Result<BackendResponse, VaultError> {
        self.vault
            .handle(BackendRequest {
                operation,
                path: path.into(),
                data: map(data).into(),
                mount: "gcp".into(),
            })
            .await
    }

    pub(crate) async fn write(
        &self,
        path: &str,
        data: Value,
    ) -> Result<BackendResponse, VaultError> {
        self.req(Operation::Update, path, data).await
    }

    /// The `data` of a read.
    pub(crate) async fn read(&self, path: &str) -> Result<Value, VaultError> {
        match self.req(Operation::Read, path, json!({})).await? {
            BackendResponse::Data { data, .. } => Ok(data),
            other => panic!("read answered {other:?}"),
        }
    }

    pub(crate) async fn login(&self, role: &str, jwt: &str) -> Result<LoginOutcome, VaultError> {
        self.login_data(json!({ "role": role, "jwt": jwt })).await
    }

    /// A login with this body.
    pub(crate) async fn login_data(&self, body: Value) -> Result<LoginOutcome, VaultError> {
        match self.write("login", body).await? {
            BackendResponse::Login(o) => Ok(o),
            other => panic!("login answered {other:?}"),
        }
    }

    /// A login from the client address `ip` (checked against `token_bound_cidrs`).
    pub(crate) async fn login_from(
        &self,
        role: &str,
        jwt: &str,
        ip: &str,
    ) -> Result<LoginOutcome, VaultError> {
        let req = BackendRequest {
            operation: Operation::Update,
            path: "login".into(),
            data: map(json!({ "role": role, "jwt": jwt })).into(),
            mount: "gcp".into(),
        };
        match self
            .vault
            .handle_from(req, Some(ip.parse().expect("an IP address")))
            .await?
        {
            BackendResponse::Login(o) => Ok(o),
            other => panic!("login answered {other:?}"),
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.unix()
    }

    pub(crate) fn unique_id(&self, email: &str) -> String {
        self.sim.world().gcp.service_accounts[email]
            .unique_id
            .clone()
    }

    /// The key file of `email`'s first user-managed key, `token_uri` at the mock.
    pub(crate) fn key_file(&self, email: &str) -> Value {
        let w = self.sim.world();
        let sa = &w.gcp.service_accounts[email];
        authsim_mocks::gcp::key_file(sa, &sa.user_keys[0].key, &self.base)
    }

    /// A JWT signed with the key file's private key (kid = its key id).
    pub(crate) fn self_signed(&self, key_file: &Value, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = key_file["private_key_id"].as_str().map(str::to_owned);
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(
            key_file["private_key"].as_str().unwrap().as_bytes(),
        )
        .unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    /// What a client does with the CI runner's key file: a JWT-bearer grant at `token_uri`.
    pub(crate) async fn ci_access_token(&self) -> String {
        let kf = self.key_file(CI);
        let token_uri = kf["token_uri"].as_str().unwrap().to_owned();
        let now = self.now();
        let assertion = self.self_signed(
            &kf,
            &json!({
                "iss": CI, "scope": "https://www.googleapis.com/auth/cloud-platform",
                "aud": token_uri, "iat": now - 10, "exp": now - 10 + 3600,
            }),
        );
        let r: Value = self
            .http
            .post(&token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().expect("access token").to_owned()
    }

    /// `signJwt` as `app`, called by the CI runner (Token Creator on app).
    pub(crate) async fn sign_as_app(&self, claims: &Value) -> String {
        let token = self.ci_access_token().await;
        let r = self
            .http
            .post(format!(
                "{}/v1/projects/-/serviceAccounts/{APP}:signJwt",
                self.base
            ))
            .bearer_auth(token)
            .json(&json!({ "payload": claims.to_string() }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["signedJwt"].as_str().unwrap().to_owned()
    }

    /// The authsim client JWT for `role`: `sub`, `aud` = `vault/ROLE`, `iat`, `exp` = now + 600.
    pub(crate) fn iam_claims(&self, role: &str) -> Value {
        let now = self.now();
        json!({ "sub": APP, "aud": format!("vault/{role}"), "iat": now, "exp": now + 600 })
    }

    pub(crate) async fn iam_jwt(&self, role: &str) -> String {
        self.sign_as_app(&self.iam_claims(role)).await
    }

    /// A metadata-server identity token (`format` = `full` or `standard`).
    pub(crate) async fn gce_jwt(&self, audience: &str, format: &str) -> String {
        let r = self
            .http
            .get(format!(
                "{}/computeMetadata/v1/instance/service-accounts/default/identity",
                self.base
            ))
            .query(&[("audience", audience), ("format", format)])
            .header("Metadata-Flavor", "Google")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    /// A JWT signed with Google's own OAuth2 key, as only Google can (test-side forging).
    pub(crate) fn google_signed(&self, claims: &Value) -> String {
        let key = self.sim.world().gcp.google_keys[0].clone();
        key.sign_jws(claims.to_string().as_bytes())
    }

    pub(crate) async fn iam_role(&self, name: &str, extra: Value) {
        let mut data = json!({
            "type": "iam",
            "bound_service_accounts": [APP],
            "token_policies": ["app"],
        });
        for (k, v) in map(extra) {
            data[k] = v;
        }
        self.write(&format!("role/{name}"), data)
            .await
            .expect("role write");
    }

    /// Changes the demo instance `app-vm-1` in the world.
    pub(crate) fn vm(&self, change: impl FnOnce(&mut authsim_mocks::world::gcp::Instance)) {
        let mut w = self.sim.world_mut();
        change(
            w.gcp
                .instances
                .get_mut("app-vm-1")
                .expect("the demo instance"),
        );
    }

    pub(crate) async fn gce_role(&self, name: &str, extra: Value) {
        let mut data = json!({
            "type": "gce",
            "bound_projects": [PROJECT],
            "bound_zones": ["us-central1-a"],
            "bound_labels": ["env:ci"],
            "bound_instance_groups": ["app-group"],
            "bound_service_accounts": [APP],
            "token_policies": ["vm"],
        });
        for (k, v) in map(extra) {
            data[k] = v;
        }
        self.write(&format!("role/{name}"), data)
            .await
            .expect("role write");
    }

    /// Removes `role` on the demo project from the Vault server's account.
    pub(crate) fn revoke_vault_role(&self, role: &str) {
        let mut w = self.sim.world_mut();
        let p = w.gcp.projects.get_mut(PROJECT).unwrap();
        if let Some(m) = p.iam_bindings.get_mut(role) {
            m.remove(&format!("serviceAccount:{VAULT}"));
        }
    }
}

// ------------------------------------------------------------------------------------ config

#[tokio::test]
async fn vault_gcp_config_reads_back_without_the_private_key() {
    let v = v().await;
    let c = v.read("config").await.unwrap();
    assert_eq!(c["client_email"], VAULT);
    assert_eq!(c["project_id"], PROJECT);
    assert_eq!(c["client_id"], v.unique_id(VAULT));
    assert_eq!(c["private_key_id"], v.key_file(VAULT)["private_key_id"]);
    assert!(c.get("private_key").is_none());
    // Never set: no alias keys, the default metadata in the plugin's order, the rotation fields.
    assert!(
        c.get("iam_alias").is_none() && c.get("gce_alias").is_none(),
        "{c}"
    );
    assert!(c.get("service_account_email").is_none(), "{c}");
    assert_eq!(
        c["iam_metadata"],
        json!([
            "project_id",
            "role",
            "service_account_id",
            "service_account_email"
        ])
    );
    assert_eq!(c["rotation_period"], 0);
    assert_eq!(c["disable_automated_rotation"], false);
    v.write("config", json!({ "iam_alias": "unique_id" }))
        .await
        .unwrap();
    assert_eq!(v.read("config").await.unwrap()["iam_alias"], "unique_id");
    assert_eq!(c["custom_endpoint"]["api"], v.base);
    assert_eq!(c["custom_endpoint"]["compute"], v.base);
    // hvac always sends the deprecated certs endpoint; it is accepted and ignored.
    v.write(
        "config",
        json!({ "google_certs_endpoint": "https://www.googleapis.com/oauth2/v3/certs" }),
    )
    .await
    .unwrap();
    // There is no DELETE (hvac's delete_config gets a 405).
    assert_eq!(
        err(v.req(Operation::Delete, "config", json!({})).await),
        (
            405,
            "1 error occurred:\n\t* unsupported operation\n\n".into()
        )
    );
}

#[tokio::test]
async fn vault_gcp_config_validation_messages() {
    let v = v().await;
    let cases = [
        (
            json!({ "custom_endpoint": { "api": "http://x", "storage": "http://y" } }),
            "invalid custom endpoint type \"storage\". Available types are: 'api', 'iam', 'crm', 'compute'",
        ),
        (
            json!({ "custom_endpoint": ["api=http://x", "sts=http://y"] }),
            "invalid custom endpoint type \"sts\". Available types are: 'api', 'iam', 'crm', 'compute'",
        ),
        (
            json!({ "credentials": json!({ "client_email": VAULT }).to_string() }),
            "missing private key in credentials",
        ),
        (
            json!({ "identity_token_audience": "//iam.googleapis.com/x", "service_account_email": VAULT }),
            "only one of 'credentials' or 'identity_token_audience' can be set",
        ),
        (
            json!({ "credentials": "not json" }),
            "failed to read credentials: invalid character 'o' in literal null (expecting 'u')",
        ),
        (
            json!({ "iam_metadata": "foo" }),
            "failed to parse iam metadata: \"foo\" contains an unavailable field, please select from \"project_id, role, service_account_id, service_account_email\"",
        ),
        (
            json!({ "gce_metadata": "default,Role" }),
            "failed to parse gce metadata: [\"default\" \"role\"] contains default - default can't be used in combination with other fields",
        ),
    ];
    for (data, message) in cases {
        assert_eq!(err(v.write("config", data).await), (400, message.into()));
    }
    // The CLI's `custom_endpoint=api=...` form is a list of k=v pairs.
    v.write("config", json!({ "custom_endpoint": [format!("api={}", v.base), format!("iam={}", v.base), format!("crm={}", v.base), format!("compute={}", v.base)] }))
        .await
        .unwrap();
    assert_eq!(
        v.read("config").await.unwrap()["custom_endpoint"]["iam"],
        v.base
    );
    // A write changes only the endpoints it names; a single string is one pair, not split.
    v.write(
        "config",
        json!({ "custom_endpoint": "crm=http://a,iam=http://b" }),
    )
    .await
    .unwrap();
    let e = &v.read("config").await.unwrap()["custom_endpoint"];
    assert_eq!(e["crm"], "http://a,iam=http://b");
    assert_eq!(e["iam"], v.base);
    // Metadata names are lower-cased and sorted.
    v.write("config", json!({ "iam_metadata": "Role,project_id" }))
        .await
        .unwrap();
    assert_eq!(
        v.read("config").await.unwrap()["iam_metadata"],
        json!(["project_id", "role"])
    );
    assert_eq!(
        err(v.write("config", json!({ "credential": "x" })).await),
        (422, "unknown fields: [\"credential\"]".into())
    );
}

// ------------------------------------------------------------------------------------ roles

#[tokio::test]
async fn vault_gcp_role_crud_and_list() {
    let v = v().await;
    v.iam_role("App", json!({ "token_ttl": "1h", "max_jwt_exp": "30m" }))
        .await;
    v.gce_role("vm", json!({})).await;
    // Names are stored lower-cased.
    let r = v.read("role/app").await.unwrap();
    assert_eq!(r["type"], "iam");
    assert_eq!(r["bound_service_accounts"], json!([APP]));
    assert_eq!(r["token_policies"], json!(["app"]));
    assert_eq!(r["token_ttl"], 3600);
    assert_eq!(r["max_jwt_exp"], 1800);
    assert_eq!(r["allow_gce_inference"], true);
    assert_eq!(r["token_type"], "default");
    assert_eq!(r["token_bound_cidrs"], json!([]));
    assert!(uuid::Uuid::parse_str(r["role_id"].as_str().unwrap()).is_ok());
    assert!(r.get("bound_zones").is_none());
    assert_eq!(v.read("role/APP").await.unwrap(), r);
    let g = v.read("role/vm").await.unwrap();
    assert_eq!(g["bound_labels"], json!({ "env": "ci" }));
    assert_eq!(g["bound_zones"], json!(["us-central1-a"]));
    assert!(g.get("max_jwt_exp").is_none());

    // Updates keep the fields not given, and the role id.
    v.write("role/app", json!({ "bound_projects": "p1,p2" }))
        .await
        .unwrap();
    let r2 = v.read("role/app").await.unwrap();
    assert_eq!(r2["bound_projects"], json!(["p1", "p2"]));
    assert_eq!(r2["role_id"], r["role_id"]);
    assert_eq!(r2["token_ttl"], 3600);

    // Legacy names show on read only when used.
    v.write(
        "role/legacy",
        json!({ "type": "iam", "service_accounts": APP, "policies": "a,b", "ttl": 60 }),
    )
    .await
    .unwrap();
    let l = v.read("role/legacy").await.unwrap();
    assert_eq!(l["policies"], json!(["a", "b"]));
    assert_eq!(l["token_policies"], json!(["a", "b"]));
    assert_eq!(l["ttl"], 60);
    assert_eq!(l["bound_service_accounts"], json!([APP]));

    for path in ["role", "roles/", "role/"] {
        match v.req(Operation::List, path, json!({})).await.unwrap() {
            BackendResponse::Data { data, .. } => {
                assert_eq!(data["keys"], json!(["app", "legacy", "vm"]))
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        v.req(Operation::Delete, "role/legacy", json!({})).await,
        Ok(BackendResponse::NoContent)
    ));
    assert_eq!(err(v.read("role/legacy").await), (404, String::new()));
    // Edit endpoints.
    v.write(
        "role/app/service-accounts",
        json!({ "add": [CI], "remove": [] }),
    )
    .await
    .unwrap();
    assert_eq!(
        v.read("role/app").await.unwrap()["bound_service_accounts"],
        json!([APP, CI])
    );
    v.write(
        "role/vm/labels",
        json!({ "add": ["team:platform"], "remove": ["env"] }),
    )
    .await
    .unwrap();
    assert_eq!(
        v.read("role/vm").await.unwrap()["bound_labels"],
        json!({ "team": "platform" })
    );
    assert_eq!(
        err(v.req(Operation::Read, "nonsense/path", json!({})).await),
        (404, "1 error occurred:\n\t* unsupported path\n\n".into())
    );
}

#[tokio::test]
async fn vault_gcp_role_validation_messages() {
    let v = v().await;
    v.iam_role("app", json!({})).await;
    let cases = [
        ("role/new", json!({}), "role type cannot be empty"),
        ("role/new", json!({ "type": "aws" }), "role type 'aws' is invalid"),
        ("role/app", json!({ "type": "gce" }), "role type cannot be changed for an existing role"),
        ("role/new", json!({ "type": "iam" }), "IAM role type must have at least one service account"),
        (
            "role/new",
            json!({ "type": "iam", "bound_service_accounts": ["*", APP] }),
            "cannot provide IAM service account wildcard '*' (for all service accounts) with other service accounts",
        ),
        (
            "role/new",
            json!({ "type": "iam", "bound_service_accounts": [APP], "max_jwt_exp": 3601 }),
            "max_jwt_exp cannot be more than 60 minutes",
        ),
        (
            "role/new",
            json!({ "type": "iam", "bound_service_accounts": [APP], "bound_zones": ["us-central1-a"] }),
            "invalid args found for role of type iam: bound_zones",
        ),
        (
            "role/new",
            json!({ "type": "gce", "max_jwt_exp": 60 }),
            "invalid args found for role of type gce: max_jwt_exp",
        ),
        (
            "role/new",
            json!({ "type": "gce", "bound_instance_groups": ["g"] }),
            "region or zone information must be specified if an instance group is given",
        ),
        (
            "role/new",
            json!({ "type": "iam", "bound_service_accounts": [APP], "add_group_aliases": "maybe" }),
            // The backend's text; over HTTP core drops the `Field validation failed: ` prefix,
            // as role writes validate their fields in the existence check.
            "Field validation failed: error converting input maybe for field \"add_group_aliases\": cannot parse '' as bool: strconv.ParseBool: parsing \"maybe\": invalid syntax",
        ),
    ];
    for (path, data, message) in cases {
        assert_eq!(
            err(v.write(path, data.clone()).await),
            (400, message.to_owned()),
            "{path} {data}"
        );
    }
    // `*` alone is fine; 3600 s is the largest max_jwt_exp.
    v.iam_role(
        "any",
        json!({ "bound_service_accounts": ["*"], "max_jwt_exp": "1h" }),
    )
    .await;
    // Zones and regions together: accepted with a warning.
    match v
        .write(
            "role/both",
            json!({ "type": "gce", "bound_zones": ["us-central1-a"], "bound_regions": ["us-central1"] }),
        )
        .await
        .unwrap()
    {
        BackendResponse::Data { warnings, .. } => assert_eq!(warnings.len(), 1),
        other => panic!("{other:?}"),
    }
}

/// The plugin's own rules beside the field checks: unknown fields, tokenutil's texts, the
/// deprecated names, labels, the read's omitted keys and the edit endpoints.
#[tokio::test]
async fn vault_gcp_role_writes_follow_the_plugin() {
    let v = v().await;
    let iam = |extra: Value| {
        let mut d = json!({ "type": "iam", "bound_service_accounts": [APP] });
        d.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        d
    };
    // A typo is refused before anything else, with every unknown name.
    let r = v
        .write("role/x", iam(json!({ "token_policy": "dev", "zzz": 1 })))
        .await;
    assert_eq!(
        err(r),
        (422, "unknown fields: [\"token_policy\" \"zzz\"]".into())
    );
    for (extra, message) in [
        (
            json!({ "token_ttl": "2h", "token_max_ttl": "1h" }),
            "'token_ttl' cannot be greater than 'token_max_ttl'",
        ),
        (json!({ "ttl": "2h", "max_ttl": "1h" }), "ttl should be shorter than max_ttl"),
        (
            json!({ "token_type": "batch", "token_period": "1h" }),
            "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
        ),
        (
            json!({ "token_period": "800h" }),
            "'period' of '800h0m0s' is greater than the backend's maximum lease TTL of '768h0m0s'",
        ),
        (
            json!({ "bound_projects": "p1", "project_id": "p2" }),
            "only one of 'bound_projects' or 'project_id' can be given",
        ),
    ] {
        assert_eq!(err(v.write("role/x", iam(extra.clone())).await), (400, message.into()), "{extra}");
    }
    // `project_id` alone binds the project; its deprecation warning is lost, as in the plugin.
    assert!(matches!(
        v.write(
            "role/x",
            iam(json!({ "project_id": "p2", "token_policies": "prod,Dev" }))
        )
        .await,
        Ok(BackendResponse::NoContent)
    ));
    let r = v.read("role/x").await.unwrap();
    assert_eq!(r["bound_projects"], json!(["p2"]));
    assert_eq!(r["token_policies"], json!(["prod", "Dev"]));
    // An update without `type` names none in the foreign-field error.
    assert_eq!(
        err(v
            .write(
                "role/x",
                json!({ "bound_zones": "us-central1-a", "bound_labels": "a:b" })
            )
            .await),
        (
            400,
            "invalid args found for role of type : bound_labels,bound_zones".into()
        )
    );
    // gce: a singular name appends to its plural, with a warning; both is an error.
    match v
        .write("role/g", json!({ "type": "gce", "bound_zone": "us-central1-a", "bound_labels": "env:ci" }))
        .await
        .unwrap()
    {
        BackendResponse::Data { warnings, .. } => assert_eq!(
            warnings,
            ["The \"bound_zone\" field is deprecated. Please use \"bound_zones\" (plural) instead. You can still specify a single zone, but multiple zones are also now supported. The \"bound_zone\" field will be removed in a later release, so please update accordingly."]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err(v
            .write("role/g", json!({ "bound_zone": "a", "bound_zones": "b" }))
            .await),
        (
            400,
            "cannot specify both \"bound_zone\" and \"bound_zones\"".into()
        )
    );
    assert_eq!(
        err(v
            .write(
                "role/g",
                json!({ "bound_labels": ["Env:prod", "ok:1", "a: b"] })
            )
            .await),
        (400, "invalid labels given: [\"Env:prod\" \"a: b\"]".into())
    );
    // The read leaves out what is empty.
    let g = v.read("role/g").await.unwrap();
    assert_eq!(g["bound_zones"], json!(["us-central1-a"]));
    for absent in [
        "bound_projects",
        "bound_service_accounts",
        "bound_regions",
        "max_jwt_exp",
    ] {
        assert!(g.get(absent).is_none(), "{absent}: {g}");
    }
    // Edits: something to do, the right type, valid labels.
    assert_eq!(
        err(v.write("role/g/labels", json!({})).await),
        (
            400,
            "must provide at least one value to add or remove".into()
        )
    );
    assert_eq!(
        err(v.write("role/g/service-accounts", json!({ "add": [CI] })).await),
        (400, "role is type 'gce', cannot edit attribute 'service_accounts' (expected role type: 'iam')".into())
    );
    assert_eq!(
        err(v.write("role/g/labels", json!({ "add": ["bad"] })).await),
        (400, "given invalid labels to add: [\"bad\"]".into())
    );
    assert_eq!(
        err(v
            .write("role/g/labels", json!({ "add": ["a:b"], "extra": 1 }))
            .await),
        (422, "unknown fields: [\"extra\"]".into())
    );
    // A mixed-case name: the edit is stored under it, apart from the role logins use, and a
    // delete under it leaves the role in place.
    v.write("role/X/service-accounts", json!({ "add": [CI] }))
        .await
        .unwrap();
    assert_eq!(
        v.read("role/x").await.unwrap()["bound_service_accounts"],
        json!([APP])
    );
    v.req(Operation::Delete, "role/X", json!({})).await.unwrap();
    assert!(v.read("role/x").await.is_ok());
}

// ------------------------------------------------------------------------------ iam login

#[tokio::test]
async fn vault_gcp_iam_login_with_a_sign_jwt_token() {
    let v = v().await;
    v.iam_role("app", json!({ "token_ttl": "30m" })).await;
    let jwt = v.iam_jwt("app").await;
    let o = v.login("app", &jwt).await.unwrap();
    assert_eq!(o.policies, vec!["app", "default"]);
    assert_eq!(o.token_policies, o.policies);
    assert_eq!(o.display_name, APP);
    let role_id = v.read("role/app").await.unwrap()["role_id"].clone();
    assert_eq!(o.alias_name, role_id.as_str().unwrap());
    assert_eq!(o.ttl, Some(Duration::from_secs(1800)));
    assert!(o.renewable);
    let md: Vec<(&str, String)> = o
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(
        md,
        vec![
            ("project_id", PROJECT.to_owned()),
            ("role", "app".to_owned()),
            ("service_account_email", APP.to_owned()),
            ("service_account_id", v.unique_id(APP)),
        ]
    );
    // The public keys are fetched on every login (no cache), Vault's own token only once.
    let jwt = v.iam_jwt("app").await;
    let before = v.sim.journal().entries().len();
    v.login("app", &jwt).await.unwrap();
    let entries = v.sim.journal().entries();
    let paths: Vec<&str> = entries[before..].iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"/oauth2/v1/certs"), "{paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/service_accounts/v1/metadata/x509/")),
        "{paths:?}"
    );
    assert!(!paths.contains(&"/token"), "{paths:?}");
}

#[tokio::test]
async fn vault_gcp_iam_login_with_the_cli_audience_and_the_unique_id_alias() {
    let v = v().await;
    v.iam_role("app", json!({ "token_no_default_policy": true }))
        .await;
    v.write(
        "config",
        json!({ "iam_alias": "unique_id", "iam_metadata": ["role"] }),
    )
    .await
    .unwrap();
    // The Vault CLI's claims: `http://vault/ROLE`, no iat.
    let claims = json!({ "sub": APP, "aud": "http://vault/app", "exp": v.now() + 900 });
    let o = v.login("app", &v.sign_as_app(&claims).await).await.unwrap();
    assert_eq!(o.alias_name, v.unique_id(APP));
    assert_eq!(o.policies, vec!["app"]);
    assert_eq!(o.metadata.keys().collect::<Vec<_>>(), vec!["role"]);
    // Other accepted audiences, and a token without `aud` (the loop over no entries passes).
    for aud in [
        json!("https://vault.example:8200/vault/app"),
        json!(["vault/app", "x/vault/app"]),
        Value::Null,
    ] {
        let mut c = v.iam_claims("app");
        match &aud {
            Value::Null => {
                c.as_object_mut().unwrap().remove("aud");
            }
            _ => c["aud"] = aud.clone(),
        }
        v.login("app", &v.sign_as_app(&c).await)
            .await
            .unwrap_or_else(|e| panic!("aud {aud}: {e:?}"));
    }
    // `"aud": null` is not absent: go-jose's Audience refuses it (here while the subject is
    // read for the key lookup).
    let mut c = v.iam_claims("app");
    c["aud"] = Value::Null;
    assert_eq!(
        err(v.login("app", &v.sign_as_app(&c).await).await),
        (
            400,
            "unable to get public key for signed JWT: could not parse claims from JWT: go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience".into()
        )
    );
    // A bool is kept while the rest decodes; a number where a string goes ends it there.
    let mut c = v.iam_claims("app");
    c["iss"] = json!(true);
    assert_eq!(
        err(v.login("app", &v.sign_as_app(&c).await).await),
        (
            400,
            "unable to get public key for signed JWT: could not parse claims from JWT: json: cannot unmarshal bool into Go value of type string".into()
        )
    );
    let mut c = v.iam_claims("app");
    c["iss"] = json!(7);
    assert_eq!(
        err(v.login("app", &v.sign_as_app(&c).await).await),
        (
            400,
            "unable to get public key for signed JWT: could not parse claims from JWT: json: cannot unmarshal number into Go value of type string".into()
        )
    );
}

#[tokio::test]
async fn vault_gcp_iam_login_with_a_self_signed_key_file_jwt() {
    let v = v().await;
    v.iam_role("ci", json!({ "bound_service_accounts": [CI] }))
        .await;
    let kf = v.key_file(CI);
    let now = v.now();
    let jwt = v.self_signed(
        &kf,
        &json!({ "sub": CI, "aud": "vault/ci", "exp": now + 300 }),
    );
    let o = v.login("ci", &jwt).await.unwrap();
    assert_eq!(o.display_name, CI);
}

#[tokio::test]
async fn vault_gcp_iam_role_lookup_is_lower_cased_but_aud_uses_the_name_as_sent() {
    let v = v().await;
    v.iam_role("app", json!({})).await;
    let mut c = v.iam_claims("APP");
    let o = v.login("APP", &v.sign_as_app(&c).await).await.unwrap();
    assert_eq!(o.metadata["role"], "APP");
    c["aud"] = json!("vault/app");
    assert_eq!(
        err(v.login("APP", &v.sign_as_app(&c).await).await),
        (
            400,
            "at least one of the JWT claim 'aud' must end in \"vault/APP\"".into()
        )
    );
}

#[tokio::test]
async fn vault_gcp_iam_exp_tolerance_is_60_seconds_past_and_none_on_max_jwt_exp() {
    let v = v().await;
    v.iam_role("app", json!({})).await;
    let now = v.now();
    let mut c = v.iam_claims("app");
    c["exp"] = json!(now + 10);
    let jwt = v.sign_as_app(&c).await;
    // 60 s past exp: still accepted.
    v.clock.advance(Duration::from_secs(70)).unwrap();
    v.login("app", &jwt).await.expect("within the tolerance");
    v.clock.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(
        err(v.login("app", &jwt).await),
        (
            400,
            "JWT is expired or does not have proper 'exp' claim".into()
        )
    );
    // max_jwt_exp: exactly 900 s passes, 901 s does not.
    let now = v.now();
    c["exp"] = json!(now + 900);
    v.login("app", &v.sign_as_app(&c).await)
        .await
        .expect("900 s");
    c["exp"] = json!(now + 901);
    assert_eq!(
        err(v.login("app", &v.sign_as_app(&c).await).await),
        (
            400,
            "role requires that service account JWTs expire within 900 seconds".into()
        )
    );
}

#[tokio::test]
async fn vault_gcp_iam_bound_by_unique_id_or_wildcard() {
    let v = v().await;
    let uid = v.unique_id(APP);
    v.iam_role("byid", json!({ "bound_service_accounts": [uid] }))
        .await;
    v.iam_role(
        "any",
        json!({ "bound_service_accounts": "*", "bound_projects": [PROJECT] }),
    )
    .await;
    v.login("byid", &v.iam_jwt("byid").await).await.unwrap();
    v.login("any", &v.iam_jwt("any").await).await.unwrap();
}

#[tokio::test]
async fn vault_gcp_iam_certs_outage_falls_back_to_the_account_keys() {
    use authsim_mocks::faults::{Fault, FaultKind, FaultMatch};
    let v = v().await;
    v.iam_role("app", json!({})).await;
    v.sim.faults().add(Fault {
        id: 0,
        listener: "google".into(),
        matches: FaultMatch {
            path: Some("/oauth2/v1/certs".into()),
            ..Default::default()
        },
        kind: FaultKind::Status {
            status: 404,
            code: None,
            message: None,
            content_type: None,
        },
        remaining: None,
        probability: None,
    });
    // signJwt keys are published at x509/{sub}: the login still succeeds.
    v.login("app", &v.iam_jwt("app").await).await.unwrap();
}

#[tokio::test]
async fn vault_gcp_iam_group_aliases_come_from_the_project_ancestry() {
    let v = v().await;
    v.iam_role("app", json!({ "add_group_aliases": true }))
        .await;
    let o = v.login("app", &v.iam_jwt("app").await).await.unwrap();
    assert_eq!(
        o.internal["group_aliases"],
        json!([
            "project-authsim-demo",
            "folder-100000000001",
            "organization-100000000002"
        ])
    );
}

// ------------------------------------------------------------------------------ gce login

#[tokio::test]
async fn vault_gcp_gce_login_with_a_full_format_identity_token() {
    let v = v().await;
    v.gce_role("vm", json!({})).await;
    let jwt = v.gce_jwt("http://vault/vm", "full").await;
    let o = v.login("vm", &jwt).await.unwrap();
    assert_eq!(o.display_name, "app-vm-1");
    assert_eq!(o.policies, vec!["default", "vm"]);
    let i = v.sim.world().gcp.instances["app-vm-1"].clone();
    let created = i
        .creation_timestamp
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let expected: Vec<(&str, String)> = vec![
        ("instance_creation_timestamp", created),
        ("instance_id", i.id.to_string()),
        ("instance_name", "app-vm-1".into()),
        ("project_id", PROJECT.into()),
        ("project_number", "123456789012".into()),
        ("role", "vm".into()),
        ("service_account_email", APP.into()),
        ("service_account_id", v.unique_id(APP)),
        ("zone", "us-central1-a".into()),
    ];
    let md: Vec<(&str, String)> = o
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(md, expected);
    let role_id = v.read("role/vm").await.unwrap()["role_id"].clone();
    assert_eq!(o.alias_name, role_id.as_str().unwrap());

    // gce_alias = instance_id; regions instead of zones; no max_jwt_exp for a 1-hour token;
    // a compute endpoint with the /compute/v1/ base path.
    v.write(
        "config",
        json!({ "gce_alias": "instance_id", "custom_endpoint": {
            "api": v.base, "iam": v.base, "crm": v.base, "compute": format!("{}/compute/v1/", v.base),
        } }),
    )
        .await
        .unwrap();
    v.gce_role(
        "region",
        json!({
            "bound_zones": [], "bound_regions": ["us-central1"], "bound_instance_groups": [],
            "bound_service_accounts": [v.unique_id(APP)],
        }),
    )
    .await;
    let o = v
        .login(
            "region",
            &v.gce_jwt("https://vault.example:8200/vault/region", "full")
                .await,
        )
        .await
        .unwrap();
    assert_eq!(o.alias_name, format!("gce-{}", i.id));
    // Bound by region, a zonal group is found in the zones named after the region.
    v.gce_role(
        "region_group",
        json!({
            "bound_zones": [], "bound_regions": ["us-central1"], "bound_instance_groups": ["app-group"],
        }),
    )
    .await;
    v.login(
        "region_group",
        &v.gce_jwt("https://vault.example:8200/vault/region_group", "full")
            .await,
    )
    .await
    .unwrap();
}

// ------------------------------------------------------------------------------------ renew

#[tokio::test]
async fn vault_gcp_iam_renew_rechecks_the_role_and_the_account() {
    let v = v().await;
    v.iam_role("app", json!({ "token_ttl": 600 })).await;
    let o = v.login("app", &v.iam_jwt("app").await).await.unwrap();
    let r = v.vault.renew(&o.internal).await.unwrap();
    assert_eq!(r.ttl, Some(Duration::from_secs(600)));
    assert_eq!(r.metadata, o.metadata);
    // Renewal does not look at the JWT again: long after it expired, it still renews.
    v.clock.advance(Duration::from_secs(7200)).unwrap();
    v.vault.renew(&o.internal).await.unwrap();

    v.write("role/app", json!({ "bound_service_accounts": [CI] }))
        .await
        .unwrap();
    // The plugin's renewal words, not the login's.
    assert_eq!(
        err(v.vault.renew(&o.internal).await),
        (
            400,
            "service account is no longer authorized for role app".into()
        )
    );
    v.write("role/app", json!({ "bound_service_accounts": [APP] }))
        .await
        .unwrap();
    v.vault.renew(&o.internal).await.unwrap();
    // `default` aside, the same policies in another order renew.
    v.write("role/app", json!({ "token_policies": ["default", "app"] }))
        .await
        .unwrap();
    v.vault.renew(&o.internal).await.unwrap();
    v.write("role/app", json!({ "token_policies": ["other"] }))
        .await
        .unwrap();
    assert_eq!(
        err(v.vault.renew(&o.internal).await),
        (
            400,
            "policies on role \"app\" have changed, cannot renew".into()
        )
    );
    v.req(Operation::Delete, "role/app", json!({}))
        .await
        .unwrap();
    assert_eq!(
        err(v.vault.renew(&o.internal).await),
        (400, "role \"app\" no longer exists".into())
    );
}

#[tokio::test]
async fn vault_gcp_gce_renew_rechecks_the_instance() {
    let v = v().await;
    v.gce_role("vm", json!({})).await;
    let o = v
        .login("vm", &v.gce_jwt("http://vault/vm", "full").await)
        .await
        .unwrap();
    v.vault.renew(&o.internal).await.unwrap();
    v.vm(|i| i.status = "TERMINATED".into());
    assert_eq!(
        err(v.vault.renew(&o.internal).await),
        (
            400,
            "authenticating instance app-vm-1 found but has invalid status 'TERMINATED'".into()
        )
    );
}

#[tokio::test]
async fn vault_gcp_renew_reads_the_tokens_metadata() {
    let v = v().await;
    v.gce_role("vm", json!({})).await;
    let jwt = v.gce_jwt("http://vault/vm", "full").await;
    // Without `role` in the metadata a token cannot be renewed.
    v.write("config", json!({ "gce_metadata": ["project_id", "zone"] }))
        .await
        .unwrap();
    let o = v.login("vm", &jwt).await.unwrap();
    assert_eq!(
        err(v.vault.renew(&o.internal).await),
        (
            400,
            "role name metadata not associated with auth token, invalid".into()
        )
    );
    // With the role but not the instance fields, the gce renewal cannot name the instance.
    v.write(
        "config",
        json!({ "gce_metadata": ["role", "project_id", "zone"] }),
    )
    .await
    .unwrap();
    let o = v.login("vm", &jwt).await.unwrap();
    assert_eq!(
        err(v.vault.renew(&o.internal).await),
        (
            400,
            "invalid auth metadata: expected 'instance_id' field".into()
        )
    );
    // A label the instance lacks now: the AuthorizeGCE error, prefixed for the renewal.
    v.write("config", json!({ "gce_metadata": "default" }))
        .await
        .unwrap();
    let o = v.login("vm", &jwt).await.unwrap();
    v.write("role/vm", json!({ "bound_labels": ["env:prod"] }))
        .await
        .unwrap();
    assert_eq!(
        err(v.vault.renew(&o.internal).await),
        (
            400,
            "could not renew token for role vm: instance missing bound label \"env:prod\"".into()
        )
    );
}

#[tokio::test]
async fn vault_gcp_logins_do_not_touch_the_world_directly() {
    // Invariant 1: with the endpoints pointing nowhere, nothing works.
    let v = v().await;
    v.iam_role("app", json!({})).await;
    let jwt = v.iam_jwt("app").await;
    v.write(
        "config",
        json!({ "custom_endpoint": { "api": "http://127.0.0.1:9", "iam": "http://127.0.0.1:9" } }),
    )
    .await
    .unwrap();
    let (status, message) = err(v.login("app", &jwt).await);
    assert_eq!(status, 400);
    assert!(
        message.starts_with("unable to get public key for signed JWT: unable to get public key \""),
        "{message}"
    );
    assert!(
        message.contains("Get \"http://127.0.0.1:9/service_accounts/v1/metadata/x509/"),
        "{message}"
    );
}
