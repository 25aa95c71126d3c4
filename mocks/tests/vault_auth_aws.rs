//! The mock Vault's AWS auth backend end to end against the mock AWS on 127.0.0.1:0: configured
//! through `handle()` as a user configures Vault, logins built as hvac and the Vault CLI build
//! them (reference aws.md §7), signed with `aws-sigv4` at the `ManualClock`'s time.
//!
//! Coverage of reference aws.md §2 (message → status → test):
//!
//! | Message | Status | Test |
//! |---|---|---|
//! | `Field validation failed: error converting input … for field "…": …` | 400 | `the_iam_pipeline_refuses_in_vaults_order` |
//! | `supplied auth values for both ec2 and iam auth types` | 400 | same table |
//! | `supplied some of the auth values for the iam auth type but not all` | 400 | not reachable in Vault (its mode check reads (all, any) as (any, all)); not produced |
//! | `supplied some of the auth values for the ec2 auth type but not all` | 400 | not reachable in Vault; not produced |
//! | `didn't supply required authentication values` | 400 | same table |
//! | `missing iam_http_request_method` | 400 | same table |
//! | `invalid iam_http_request_method; currently only 'GET' and 'POST' are supported` | 400 | same table |
//! | `missing iam_request_url` / `failed to base64 decode iam_request_url` / `error parsing iam_request_url` | 400 | same table |
//! | `invalid request` (POST URL with query) | 400 | same table |
//! | `no action found in request` / `found multiple actions` / `unexpected action parameter, %s` | 400 | same table |
//! | `missing iam_request_body which is required for POST requests` / `failed to base64 decode iam_request_body` | 400 | same table |
//! | `iam request body is invalid` / Go ParseQuery errors (a body of `Version` alone passes) | 400 | same table, `a_get_login_forwards_its_body_and_a_body_of_version_alone_passes` |
//! | `missing iam_request_headers` | 400 | same table |
//! | `error getting configuration: %w` | 500 | not triggerable: configuration lives in memory, reads cannot fail |
//! | server-ID `missing header` / `expected … but got …` / `vault header wasn't signed` / `missing Authorization header` | 400 | same table; `the_server_id_header_name_is_case_insensitive` |
//! | server-ID `found multiple SignedHeaders components` | 400 | unreachable in Vault; not produced (`signed_headers_are_read_as_vaults_pattern_matches_them` in the crate) |
//! | `invalid request header: %s` | 400 | same table |
//! | `invalid request query param: %s` | 400 | same table |
//! | `region missing from Authorization header` / `unable to get regional STS endpoint for region: %v` (an empty region is the latter) | 400 | `use_sts_region_from_client_takes_the_region_from_the_authorization_header` |
//! | `error making upstream request: error making request: … giving up after N attempt(s)[: …]` | 400 | `sts_500_is_retried_then_given_up`, `sts_429_gives_up_without_a_reason`, `a_dropped_connection_is_a_transport_error` |
//! | `error making upstream request: body of GetCallerIdentity is invalid` | 400 | `a_non_xml_content_type_hides_the_sts_error`, `a_fake_sts_answering_odd_bodies` |
//! | `error making upstream request: received error code %d from STS: %s` | 400 | `a_wrong_secret_is_surfaced_as_sts_403`, `throttling_is_400_and_not_retried`, `a_login_signed_16_minutes_ago_is_refused_by_sts` |
//! | `error making upstream request: error parsing STS response` | 400 | `a_fake_sts_answering_odd_bodies` |
//! | `error parsing arn %q: …` | 400 | `a_fake_sts_answering_odd_bodies` (the mock STS only returns valid ARNs) |
//! | `entry for role %s not found` | 400 | same table |
//! | `permission denied` | 403 | `token_bound_cidrs_need_the_remote_address_inside` |
//! | `auth method iam not allowed for role %s` | 400 | `a_role_for_ec2_refuses_iam_logins` |
//! | `IAM Principal %q does not belong to the role %q` | 400 | `bound_arn_globs_match_the_full_arn`, `a_recreated_role_is_refused_until_the_vault_role_is_rewritten` |
//! | `error looking up full ARN of entity %v when attempting login for role %q: %v` (`error creating IAM client: …`, `error fetching user %q: …`) | 400 | `a_failed_full_arn_lookup_is_reported` |
//! | `got empty string back when looking up full ARN …` | 400 | not triggerable with the mock IAM (it always names the ARN) |
//! | `failed to verify %s as a valid EC2 instance in region %s: %s` / `error validating instance: %s` | 400 | `inferred_ec2_instances_are_described_and_bound` |
//! | inferred instance or ec2 login, the check itself failing (`IAM instance profile in the instance description is nil`, …) | 500 | `inferred_ec2_instances_are_described_and_bound` |
//! | `unable to fetch client for account ID %q -- default client is for account %q` | 400 | `unique_ids_are_resolved_with_vaults_own_keys` (role write) |
//! | renew `role %q no longer bound to ARN %q` | 500 | `a_recreated_role_is_refused_until_the_vault_role_is_rewritten` |
//! | renew `role entry not found`, `"canonical_arn" not found in auth metadata`, `error retrieving role_name during renewal`, `unrecognized auth_type: %q` | 500 | `renewal_checks_the_role_still_exists` |
//! | GetCallerIdentity 200 without `GetCallerIdentityResult` (Vault panics) | 500 | `a_fake_sts_answering_odd_bodies` |
//! | ec2 (§3): `both pkcs7 and a tuple …`, `entry for role %q not found`, `Region %q does not satisfy …`, `Error validating instance: …`, `client nonce mismatch`, `instance identity verification using SHA256 RSA signature is unsuccessful` (500) | 400/500 | `vault_auth_aws_ec2::*` |
//! | ec2: `auth method ec2 not allowed for role %s`, `client nonce exceeding the limit of 128 characters`, `reauthentication is disabled` | 400 | `ec2_reauthentication_rules` |
//! | ec2: `either pkcs7 or a tuple …`, `failed to base64 decode the instance identity document`, `failed to base64 decode the SHA256 RSA signature of the instance identity document` | 400 | `the_iam_pipeline_refuses_in_vaults_order` |
//! | ec2: `instance meta-data is older …`, `client nonce mismatch and instance meta-data incorrect` | 400 | `ec2_logins_again_follow_the_nonce_and_the_pending_time` |
//! | ec2: `failed to verify instance ID: %v` (400), PKCS#7 parse/verify failures (500) | 400/500 | `ec2_documents_and_instances_that_do_not_verify` |

mod vault_auth_aws {
    use std::collections::BTreeMap;
    use std::net::IpAddr;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use authsim_mocks::clock::{Clock, ManualClock};
    use authsim_mocks::faults::{Fault, FaultKind, FaultMatch};
    use authsim_mocks::vault::auth_aws::AwsAuthBackend;
    use authsim_mocks::vault::backend::{
        BackendRequest, BackendResponse, LoginOutcome, Operation, VaultError,
    };
    use authsim_mocks::world::aws::Principal;
    use authsim_mocks::{worldfile, MockCloud, MockCloudOptions, Sim};
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    use base64::Engine;
    use serde_json::{json, Map, Value};

    const START: u64 = 1_700_000_000;
    const ACCOUNT: &str = "111122223333";
    const ALICE_ARN: &str = "arn:aws:iam::111122223333:user/alice";
    const SERVER_ID: &str = "vault.example.com";
    const GCI_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
    const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
    const INSTANCE: &str = "i-0a1b2c3d4e5f60718";

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[derive(Clone, Debug)]
    struct Keys {
        id: String,
        secret: String,
        token: Option<String>,
    }

    struct Env {
        cloud: MockCloud,
        clock: Arc<ManualClock>,
        vault: AwsAuthBackend,
        url: String,
    }

    async fn env() -> Env {
        let clock = Arc::new(ManualClock::at_unix(START));
        let sim = Sim::new(worldfile::default_world(UNIX_EPOCH), clock.clone());
        let opts = MockCloudOptions {
            google_port: None,
            ..Default::default()
        };
        let cloud = MockCloud::start(sim, opts).await.unwrap();
        let url = cloud.aws_url().unwrap();
        let vault = AwsAuthBackend::new(clock.clone());
        Env {
            cloud,
            clock,
            vault,
            url,
        }
    }

    /// config/client pointing at the mock with alice's key and the server-ID header, and role
    /// `app` bound to alice.
    async fn configured() -> Env {
        let e = env().await;
        let k = e.alice();
        e.ok(
            "config/client",
            json!({
                "sts_endpoint": e.url, "iam_endpoint": e.url, "endpoint": e.url,
                "access_key": k.id, "secret_key": k.secret,
                "iam_server_id_header_value": SERVER_ID, "max_retries": 0,
            }),
        )
        .await;
        e.ok(
            "role/app",
            json!({"auth_type": "iam", "bound_iam_principal_arn": [ALICE_ARN], "token_policies": "app"}),
        )
        .await;
        e
    }

    fn req(op: Operation, path: &str, data: Value) -> BackendRequest {
        let Value::Object(data) = data else {
            panic!("data must be an object")
        };
        BackendRequest {
            operation: op,
            path: path.into(),
            data: data.into(),
            mount: "aws".into(),
        }
    }

    impl Env {
        fn sim(&self) -> &Sim {
            &self.cloud.sim
        }

        fn alice(&self) -> Keys {
            let w = self.sim().world();
            let k = w
                .aws
                .access_keys
                .values()
                .find(|k| k.user == "alice")
                .unwrap();
            Keys {
                id: k.id.clone(),
                secret: k.secret.clone(),
                token: None,
            }
        }

        /// Temporary keys of an assumed role, as STS or the instance metadata would give.
        fn session(&self, role: &str, session: &str) -> Keys {
            let s = self.sim().world_mut().aws.issue_session(
                Principal::AssumedRole {
                    account: ACCOUNT.into(),
                    role: role.into(),
                    session: session.into(),
                },
                self.clock.now() + Duration::from_secs(3600),
            );
            Keys {
                id: s.id,
                secret: s.secret,
                token: Some(s.token),
            }
        }

        fn role_id(&self, role: &str) -> String {
            self.sim().world().aws.accounts[ACCOUNT].roles[role]
                .role_id
                .clone()
        }

        async fn call(
            &self,
            op: Operation,
            path: &str,
            data: Value,
        ) -> Result<BackendResponse, VaultError> {
            self.vault.handle(req(op, path, data)).await
        }

        /// A write that must succeed with 204.
        async fn ok(&self, path: &str, data: Value) {
            match self.call(Operation::Update, path, data).await {
                Ok(BackendResponse::NoContent) => {}
                other => panic!("write {path}: {other:?}"),
            }
        }

        async fn read(&self, path: &str) -> Result<Value, VaultError> {
            match self.call(Operation::Read, path, json!({})).await? {
                BackendResponse::Data { data, .. } => Ok(data),
                other => panic!("read {path}: {other:?}"),
            }
        }

        async fn login(&self, data: Value) -> Result<LoginOutcome, VaultError> {
            match self.call(Operation::Update, "login", data).await? {
                BackendResponse::Login(o) => Ok(o),
                other => panic!("login: {other:?}"),
            }
        }

        fn fault(&self, kind: FaultKind, times: u64) {
            self.sim().faults().add(Fault {
                id: 0,
                listener: "aws".into(),
                matches: FaultMatch {
                    path: Some("//".into()),
                    action: Some("GetCallerIdentity".into()),
                    ..Default::default()
                },
                kind,
                remaining: Some(times),
                probability: None,
            });
        }

        /// Forwarded login requests the mock STS received.
        fn forwarded(&self) -> usize {
            self.sim()
                .journal()
                .entries()
                .iter()
                .filter(|j| j.path == "//")
                .count()
        }
    }

    #[track_caller]
    fn assert_err<T: std::fmt::Debug>(r: Result<T, VaultError>, status: u16, msg: &str) {
        let e = r.expect_err("expected an error");
        assert_eq!(
            (e.status, e.errors.as_slice()),
            (status, &[msg.to_owned()][..])
        );
    }

    #[track_caller]
    fn assert_not_found<T: std::fmt::Debug>(r: Result<T, VaultError>) {
        let e = r.expect_err("expected a 404");
        assert_eq!((e.status, e.errors.len()), (404, 0), "{e:?}");
    }

    #[track_caller]
    fn assert_err_prefix<T: std::fmt::Debug>(r: Result<T, VaultError>, status: u16, prefix: &str) {
        let e = r.expect_err("expected an error");
        assert_eq!(e.status, status, "{e:?}");
        assert!(
            e.errors[0].starts_with(prefix),
            "{:?} does not start with {prefix:?}",
            e.errors[0]
        );
    }

    // ------------------------------------------------------------------ login builders

    /// A signed `GetCallerIdentity` as a client hands it to Vault.
    #[derive(Clone, Debug)]
    struct Signed {
        method: String,
        url: String,
        body: String,
        /// In the JSON's order; repeated names are separate entries.
        headers: Vec<(String, String)>,
    }

    /// Signs `POST https://sts.amazonaws.com/` with `headers` (all signed) for us-east-1.
    fn sign_post(keys: &Keys, headers: &[(&str, &str)], time: SystemTime) -> Vec<(String, String)> {
        let identity = Credentials::new(
            keys.id.clone(),
            keys.secret.clone(),
            keys.token.clone(),
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("sts")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            "https://sts.amazonaws.com/",
            headers.iter().copied(),
            SignableBody::Bytes(GCI_BODY.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// hvac's `iam_login` (reference §7.1): every header signed, `Host` in the JSON.
    fn hvac(keys: &Keys, server_id: Option<&str>, time: SystemTime) -> Signed {
        let mut headers = vec![("Content-Type", FORM), ("Host", "sts.amazonaws.com")];
        if let Some(s) = server_id {
            headers.push(("X-Vault-AWS-IAM-Server-ID", s));
        }
        headers.push(("Content-Length", "43"));
        let signing = sign_post(keys, &headers, time);
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.extend(signing);
        Signed {
            method: "POST".into(),
            url: "https://sts.amazonaws.com/".into(),
            body: GCI_BODY.into(),
            headers: all,
        }
    }

    /// The Vault CLI / `GenerateLoginData` (reference §7.2): `Host` signed but not in the JSON,
    /// an unsigned `User-Agent`, Go-canonical header names.
    fn cli(keys: &Keys, server_id: &str, time: SystemTime) -> Signed {
        let headers = [
            ("Content-Length", "43"),
            ("Content-Type", FORM),
            ("Host", "sts.amazonaws.com"),
            ("X-Vault-Aws-Iam-Server-Id", server_id),
        ];
        let signing = sign_post(keys, &headers, time);
        let mut all: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| *k != "Host")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.push((
            "User-Agent".into(),
            "aws-sdk-go/1.44.0 (go1.21; linux; amd64)".into(),
        ));
        all.extend(signing);
        Signed {
            method: "POST".into(),
            url: "https://sts.amazonaws.com/".into(),
            body: GCI_BODY.into(),
            headers: all,
        }
    }

    impl Signed {
        fn header_json(&self) -> Value {
            let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (k, v) in &self.headers {
                m.entry(k.clone()).or_default().push(v.clone());
            }
            json!(m)
        }

        /// Login data with the headers as base64 JSON (hvac and the CLI both do).
        fn data(&self, role: Option<&str>) -> Value {
            json!({
                "role": role,
                "iam_http_request_method": self.method,
                "iam_request_url": b64(&self.url),
                "iam_request_body": b64(&self.body),
                "iam_request_headers": b64(&self.header_json().to_string()),
            })
        }

        fn without(mut self, name: &str) -> Self {
            self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            self
        }

        fn with(mut self, name: &str, value: &str) -> Self {
            self.headers.push((name.into(), value.into()));
            self
        }
    }

    fn now(e: &Env) -> SystemTime {
        e.clock.now()
    }

    // ------------------------------------------------------------------ config and roles

    #[tokio::test]
    async fn config_client_reads_back_without_the_secret_and_updates_partially() {
        let e = env().await;
        assert_not_found(e.read("config/client").await);
        e.ok("config/client", json!({"access_key": "AKIA1", "secret_key": "s", "sts_endpoint": "http://x", "allowed_sts_header_values": "x-amz-foo, X-AMZ-BAR"})).await;
        e.ok("config/client", json!({"iam_server_id_header_value": "v"}))
            .await;
        let d = e.read("config/client").await.unwrap();
        assert_eq!(d["access_key"], "AKIA1");
        assert_eq!(d["sts_endpoint"], "http://x");
        assert_eq!(d["iam_server_id_header_value"], "v");
        assert_eq!(d["max_retries"], -1);
        assert_eq!(
            d["allowed_sts_header_values"],
            json!(["X-Amz-Foo", "X-Amz-Bar"])
        );
        assert!(d.get("secret_key").is_none());
        assert!(matches!(
            e.call(Operation::Delete, "config/client", json!({})).await,
            Ok(BackendResponse::NoContent)
        ));
        assert_not_found(e.read("config/client").await);
        assert_err_prefix(
            e.call(
                Operation::Update,
                "config/client",
                json!({"max_retries": "many"}),
            )
            .await,
            400,
            "Field validation failed: error converting input many for field \"max_retries\"",
        );
    }

    #[tokio::test]
    async fn config_identity_has_defaults_and_refuses_unknown_aliases() {
        let e = env().await;
        let d = e.read("config/identity").await.unwrap();
        assert_eq!(d["iam_alias"], "role_id");
        assert_eq!(d["iam_metadata"], json!(["account_id", "auth_type"]));
        assert_err(
            e.call(Operation::Update, "config/identity", json!({"iam_alias": "nope"})).await,
            400,
            "iam_alias of \"nope\" not in set of allowed values: [role_id unique_id full_arn canonical_arn]",
        );
        // The sdk's authmetadata texts.
        assert_err(
            e.call(Operation::Update, "config/identity", json!({"iam_metadata": "bogus,Client_ARN"})).await,
            400,
            "\"bogus, client_arn\" contains an unavailable field, please select from \"account_id, auth_type, canonical_arn, client_arn, client_user_id, inferred_aws_region, inferred_entity_id, inferred_entity_type, inferred_hostname\"",
        );
        assert_err(
            e.call(Operation::Update, "config/identity", json!({"ec2_metadata": "default,region"})).await,
            400,
            "[\"default\" \"region\"] contains default - default can't be used in combination with other fields",
        );
    }

    #[tokio::test]
    async fn config_sts_and_certificates_are_stored_listed_and_deleted() {
        let e = env().await;
        assert_err(
            e.call(Operation::Update, "config/sts/999988887777", json!({}))
                .await,
            400,
            "missing sts role",
        );
        assert_err(
            e.call(
                Operation::Update,
                "config/sts/999988887777",
                json!({"sts_role": ""}),
            )
            .await,
            400,
            "sts role cannot be empty",
        );
        e.ok(
            "config/sts/999988887777",
            json!({"sts_role": "arn:aws:iam::999988887777:role/vault"}),
        )
        .await;
        assert_eq!(
            e.read("config/sts/999988887777").await.unwrap()["sts_role"],
            "arn:aws:iam::999988887777:role/vault"
        );
        match e
            .call(Operation::List, "config/sts", json!({}))
            .await
            .unwrap()
        {
            BackendResponse::Data { data, .. } => assert_eq!(data["keys"], json!(["999988887777"])),
            other => panic!("{other:?}"),
        }
        let pem = e.sim().world().aws.identity_key.material().cert_pem.clone();
        e.ok(
            "config/certificate/mock",
            json!({"aws_public_cert": b64(&pem), "type": "identity"}),
        )
        .await;
        let d = e.read("config/certificate/mock").await.unwrap();
        assert_eq!(d["type"], "identity");
        assert!(d["aws_public_cert"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        assert_err_prefix(
            e.call(
                Operation::Update,
                "config/certificate/bad",
                json!({"aws_public_cert": "nope"}),
            )
            .await,
            400,
            "failed to parse",
        );
    }

    #[tokio::test]
    async fn roles_read_back_with_defaults_and_list_case_insensitively() {
        let e = configured().await;
        let d = e.read("role/APP").await.unwrap();
        assert_eq!(d["auth_type"], "iam");
        assert_eq!(d["resolve_aws_unique_ids"], true);
        assert_eq!(d["token_policies"], json!(["app"]));
        assert_eq!(d["bound_ami_id"], json!([]));
        assert_eq!(d["token_type"], "default");
        assert_eq!(d["token_ttl"], 0);
        assert!(d.get("policies").is_none());
        let alice_id = e.sim().world().aws.accounts[ACCOUNT].users["alice"]
            .user_id
            .clone();
        assert_eq!(d["bound_iam_principal_id"], json!([alice_id]));
        uuid_like(d["role_id"].as_str().unwrap());
        match e.call(Operation::List, "roles", json!({})).await.unwrap() {
            BackendResponse::Data { data, .. } => assert_eq!(data["keys"], json!(["app"])),
            other => panic!("{other:?}"),
        }
        // Deprecated names are shown back when used.
        e.ok(
            "role/legacy",
            json!({"bound_iam_principal_arn": ALICE_ARN, "policies": "a,b", "ttl": "1h"}),
        )
        .await;
        let d = e.read("role/legacy").await.unwrap();
        assert_eq!(d["policies"], json!(["a", "b"]));
        assert_eq!(d["token_ttl"], 3600);
        assert_eq!(d["ttl"], 3600);
        assert!(matches!(
            e.call(Operation::Delete, "role/legacy", json!({})).await,
            Ok(BackendResponse::NoContent)
        ));
        assert_not_found(e.read("role/legacy").await);
    }

    fn uuid_like(s: &str) {
        assert_eq!(s.len(), 36, "{s}");
        assert_eq!(s.matches('-').count(), 4, "{s}");
    }

    #[tokio::test]
    async fn role_writes_are_checked_in_vaults_order() {
        let e = configured().await;
        let cases: &[(&str, Value, &str)] = &[
            (
                "changing auth_type",
                json!({"auth_type": "ec2"}),
                "changing auth_type on a role is not allowed",
            ),
            (
                "unresolving",
                json!({"resolve_aws_unique_ids": false}),
                "changing resolve_aws_unique_ids from true to false is not allowed",
            ),
            (
                "ttl over max",
                json!({"token_ttl": 60, "token_max_ttl": 30}),
                "'token_ttl' cannot be greater than 'token_max_ttl'",
            ),
            (
                "legacy ttl over max: the backend's own check",
                json!({"ttl": 60, "max_ttl": 30}),
                "ttl should be shorter than max ttl",
            ),
            (
                "an ec2-only option given, even false",
                json!({"disallow_reauthentication": false}),
                "specified disallow_reauthentication when not using ec2 auth type",
            ),
            (
                "a batch token cannot be periodic",
                json!({"token_type": "batch", "token_period": "1h"}),
                "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
            ),
            (
                "an unknown token type",
                json!({"token_type": "default-service"}),
                "invalid 'token_type' value \"default-service\"",
            ),
            (
                "a negative use count",
                json!({"token_num_uses": -1}),
                "'token_num_uses' cannot be negative",
            ),
            (
                "a period over the system max",
                json!({"token_period": "800h"}),
                "period of \"800h0m0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\"",
            ),
            (
                "role_tag checked last",
                json!({"role_tag": "x", "token_num_uses": -1}),
                "'token_num_uses' cannot be negative",
            ),
        ];
        for (name, data, msg) in cases {
            assert_err(
                e.call(Operation::Update, "role/app", data.clone()).await,
                400,
                msg,
            );
            let _ = name;
        }
        let fresh: &[(Value, &str)] = &[
            (json!({"auth_type": "ldap"}), "unrecognized auth_type: ldap"),
            (
                json!({"token_policies": "x"}),
                "at least one bound parameter should be specified on the role",
            ),
            (
                json!({"bound_ami_id": "ami-1"}),
                "specified bound_ami_id but not specifying ec2 auth_type or inferring ec2_instance",
            ),
            (
                json!({"auth_type": "ec2", "bound_iam_principal_arn": ALICE_ARN}),
                "specified bound_iam_principal_arn but not specifying iam auth_type",
            ),
            (
                json!({"inferred_entity_type": "lambda", "bound_iam_principal_arn": ALICE_ARN}),
                "specified invalid inferred_entity_type: lambda",
            ),
            (
                json!({"inferred_entity_type": "ec2_instance", "bound_iam_principal_arn": ALICE_ARN}),
                "specified inferred_entity_type but not inferred_aws_region",
            ),
            (
                json!({"inferred_aws_region": "us-east-1", "bound_iam_principal_arn": ALICE_ARN}),
                "specified inferred_aws_region but not inferred_entity_type",
            ),
            (
                json!({"auth_type": "ec2", "inferred_entity_type": "ec2_instance", "inferred_aws_region": "us-east-1", "bound_ami_id": "a"}),
                "specified inferred_entity_type but didn't allow iam auth_type",
            ),
            // The type is checked before its value.
            (
                json!({"auth_type": "ec2", "inferred_entity_type": "lambda", "bound_ami_id": "a"}),
                "specified inferred_entity_type but didn't allow iam auth_type",
            ),
            // Bindings in Vault's order: region before ami, instance profile before instance id.
            (
                json!({"bound_ami_id": "a", "bound_region": "r"}),
                "specified bound_region but not specifying ec2 auth_type",
            ),
            (
                json!({"bound_ec2_instance_id": "i", "bound_iam_instance_profile_arn": "p"}),
                "specified bound_iam_instance_profile_arn but not specifying ec2 auth_type or inferring ec2_instance",
            ),
            // Unique ids are resolved before anything else is checked.
            (
                json!({"bound_iam_principal_arn": "arn:aws:iam::999988887777:user/bob", "bound_ami_id": "a"}),
                "unable to resolve ARN \"arn:aws:iam::999988887777:user/bob\" to internal ID: unable to fetch client for account ID \"999988887777\" -- default client is for account \"111122223333\"",
            ),
        ];
        for (i, (data, msg)) in fresh.iter().enumerate() {
            assert_err(
                e.call(Operation::Update, &format!("role/new{i}"), data.clone())
                    .await,
                400,
                msg,
            );
        }
        assert_err(
            e.call(Operation::Update, "role/a%2Fb", json!({})).await,
            404,
            "1 error occurred:\n\t* unsupported path\n\n",
        );
        // A max TTL over the system's is kept, with a warning; policies read back as written.
        match e
            .call(
                Operation::Update,
                "role/long",
                json!({"bound_iam_principal_arn": ALICE_ARN, "token_max_ttl": "800h", "token_policies": "prod,Dev"}),
            )
            .await
        {
            Ok(BackendResponse::Data { warnings, .. }) => assert_eq!(
                warnings,
                ["Given max ttl of 2880000 seconds greater than current mount/system default of 2764800 seconds; max ttl will be capped at login time"]
            ),
            other => panic!("{other:?}"),
        }
        let d = e.read("role/long").await.unwrap();
        assert_eq!(d["token_max_ttl"], 2_880_000);
        assert_eq!(d["token_policies"], json!(["prod", "Dev"]));
    }

    #[tokio::test]
    async fn unique_ids_are_resolved_with_vaults_own_keys() {
        let e = configured().await;
        let role_arn = "arn:aws:iam::111122223333:role/app-role";
        e.ok(
            "role/r",
            json!({"bound_iam_principal_arn": [role_arn, "arn:aws:iam::111122223333:user/*"]}),
        )
        .await;
        assert_eq!(
            e.read("role/r").await.unwrap()["bound_iam_principal_id"],
            json!([e.role_id("app-role")])
        );
        e.ok("role/p", json!({"auth_type": "iam", "inferred_entity_type": "ec2_instance", "inferred_aws_region": "us-east-1", "bound_iam_principal_arn": "arn:aws:iam::111122223333:instance-profile/web"})).await;
        assert!(e.read("role/p").await.unwrap()["bound_iam_principal_id"][0]
            .as_str()
            .unwrap()
            .starts_with("AIPA"));
        assert_err_prefix(
            e.call(Operation::Update, "role/x", json!({"bound_iam_principal_arn": "arn:aws:iam::111122223333:user/nobody"})).await,
            400,
            "unable to resolve ARN \"arn:aws:iam::111122223333:user/nobody\" to internal ID: NoSuchEntity: The user with name nobody cannot be found.\n\tstatus code: 404, request id: ",
        );
        assert_err(
            e.call(Operation::Update, "role/x", json!({"bound_iam_principal_arn": "arn:aws:iam::999988887777:user/bob"})).await,
            400,
            "unable to resolve ARN \"arn:aws:iam::999988887777:user/bob\" to internal ID: unable to fetch client for account ID \"999988887777\" -- default client is for account \"111122223333\"",
        );
        assert_err(
            e.call(Operation::Update, "role/x", json!({"bound_iam_principal_arn": "arn:aws-mars:iam::111122223333:user/bob"})).await,
            400,
            "unable to resolve ARN \"arn:aws-mars:iam::111122223333:user/bob\" to internal ID: unable to resolve partition \"aws-mars\" to a region",
        );
        // Without resolution nothing is looked up.
        e.ok("role/y", json!({"bound_iam_principal_arn": "arn:aws:iam::999988887777:user/bob", "resolve_aws_unique_ids": false})).await;
        assert_eq!(
            e.read("role/y").await.unwrap()["bound_iam_principal_id"],
            json!([])
        );
    }

    // ------------------------------------------------------------------ iam login: success

    #[tokio::test]
    async fn an_hvac_login_succeeds_with_policies_metadata_and_alias() {
        let e = configured().await;
        let login = hvac(&e.alice(), Some(SERVER_ID), now(&e));
        let o = e.login(login.data(Some("app"))).await.unwrap();
        let role_id = e.read("role/app").await.unwrap()["role_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(o.policies, vec!["app", "default"]);
        assert_eq!(o.token_policies, vec!["app", "default"]);
        let md: Vec<(&str, &str)> = o
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            md,
            vec![
                ("account_id", ACCOUNT),
                ("auth_type", "iam"),
                ("role_id", role_id.as_str())
            ]
        );
        assert_eq!(o.alias_name, role_id);
        assert_eq!(o.display_name, "alice");
        assert!(o.renewable);
        assert_eq!(o.token_type, "default");
        assert_eq!(o.internal["canonical_arn"], ALICE_ARN);
        // Vault forwarded it to sts_endpoint + "//" with the client's Host header.
        let j = e.sim().journal().entries();
        let fwd = j.iter().find(|j| j.path == "//").expect("forwarded");
        assert_eq!(fwd.header("host"), Some("sts.amazonaws.com"));
        assert_eq!(fwd.status, 200);
    }

    #[tokio::test]
    async fn a_cli_login_without_a_role_uses_the_friendly_name() {
        let e = configured().await;
        e.ok("role/alice", json!({"bound_iam_principal_arn": ALICE_ARN, "token_policies": "dev", "token_ttl": "10m", "token_no_default_policy": true})).await;
        let login = cli(&e.alice(), SERVER_ID, now(&e));
        let mut data = login.data(None);
        data.as_object_mut().unwrap().remove("role");
        let o = e.login(data).await.unwrap();
        assert_eq!(o.policies, vec!["dev"]);
        assert_eq!(o.ttl, Some(Duration::from_secs(600)));
    }

    #[tokio::test]
    async fn headers_may_be_a_json_object_or_a_k_v_list() {
        let e = configured().await;
        let login = hvac(&e.alice(), Some(SERVER_ID), now(&e));
        let mut data = login.data(Some("app"));
        data["iam_request_headers"] = login.header_json();
        e.login(data).await.unwrap();
        let mut data = login.data(Some("app"));
        data["iam_request_headers"] = json!(login
            .headers
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>());
        e.login(data).await.unwrap();
        // Base64 wrapped at 76 columns, as `base64` prints it: Go's decoder skips line breaks.
        let mut data = login.data(Some("app"));
        let wrap = |v: &Value| {
            let text = v.as_str().unwrap();
            let lines: Vec<&str> = text
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            json!(lines.join("\n"))
        };
        for field in ["iam_request_headers", "iam_request_url", "iam_request_body"] {
            data[field] = wrap(&data[field]);
        }
        assert!(data["iam_request_headers"].as_str().unwrap().contains('\n'));
        e.login(data).await.unwrap();
    }

    #[tokio::test]
    async fn the_server_id_header_name_is_case_insensitive() {
        let e = configured().await;
        for name in ["x-vault-aws-iam-server-id", "X-VAULT-AWS-IAM-SERVER-ID"] {
            let headers = [
                ("Content-Type", FORM),
                ("Host", "sts.amazonaws.com"),
                (name, SERVER_ID),
            ];
            let mut all: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            all.extend(sign_post(&e.alice(), &headers, now(&e)));
            let login = Signed {
                method: "POST".into(),
                url: "https://sts.amazonaws.com/".into(),
                body: GCI_BODY.into(),
                headers: all,
            };
            e.login(login.data(Some("app"))).await.unwrap();
        }
    }

    #[tokio::test]
    async fn config_identity_picks_the_alias_and_metadata() {
        let e = configured().await;
        let alice_id = e.sim().world().aws.accounts[ACCOUNT].users["alice"]
            .user_id
            .clone();
        let cases = [
            ("unique_id", alice_id.clone()),
            ("full_arn", ALICE_ARN.to_owned()),
            ("canonical_arn", ALICE_ARN.to_owned()),
        ];
        for (alias, want) in cases {
            e.ok("config/identity", json!({"iam_alias": alias, "iam_metadata": ["account_id", "auth_type", "client_arn", "client_user_id", "canonical_arn"]})).await;
            let o = e
                .login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("app")))
                .await
                .unwrap();
            assert_eq!(o.alias_name, want);
            assert_eq!(o.metadata["client_arn"], ALICE_ARN);
            assert_eq!(o.metadata["client_user_id"], alice_id);
            assert_eq!(o.metadata["canonical_arn"], ALICE_ARN);
            assert_eq!(o.metadata["auth_type"], "iam");
        }
    }

    #[tokio::test]
    async fn without_config_client_the_checks_are_skipped_and_sts_is_the_real_one() {
        // No config/client: no server-ID or header checks, and the forward goes to
        // https://sts.amazonaws.com, which cannot be reached offline. A fake "sts_endpoint" is not
        // possible without config/client, so this checks only that the pipeline reaches the
        // upstream call: a role lookup before it would say "entry for role".
        let e = env().await;
        let login = hvac(&e.alice(), None, now(&e)).with("X-Amz-Foo", "x");
        let mut data = login.data(Some("app"));
        data["iam_http_request_method"] = json!("PUT"); // stops before the network
        assert_err(
            e.login(data).await,
            400,
            "invalid iam_http_request_method; currently only 'GET' and 'POST' are supported",
        );
    }

    // ------------------------------------------------------------------ iam login: the pipeline

    type Mutation = fn(&mut Value, &Signed);

    #[tokio::test]
    async fn the_iam_pipeline_refuses_in_vaults_order() {
        let e = configured().await;
        let rows: Vec<(&str, Mutation, &str)> = vec![
            ("role is an object", |d, _| d["role"] = json!({}),
             "Field validation failed: error converting input map[] for field \"role\": '' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[]'"),
            ("ec2 and iam", |d, _| d["pkcs7"] = json!("MIAG"), "supplied auth values for both ec2 and iam auth types"),
            // A method is chosen only when all of its fields are there (Vault reads its own
            // (all, any) pairs as (any, all)): a partial set is no set.
            ("iam without headers", |d, _| { d.as_object_mut().unwrap().remove("iam_request_headers"); },
             "didn't supply required authentication values"),
            ("ec2 identity alone", |d, _| *d = json!({"role": "app", "identity": "e30="}),
             "didn't supply required authentication values"),
            ("pkcs7 null", |d, _| *d = json!({"role": "app", "pkcs7": null}),
             "either pkcs7 or a tuple containing the instance identity document and its SHA256 RSA signature needs to be provided"),
            ("iam with identity and signature null", |d, _| { d["identity"] = json!(null); d["signature"] = json!(null); },
             "supplied auth values for both ec2 and iam auth types"),
            ("identity not base64, with partial iam", |d, _| { d["identity"] = json!("!!"); d["signature"] = json!(""); d.as_object_mut().unwrap().remove("iam_request_headers"); },
             "failed to base64 decode the instance identity document"),
            ("signature not base64", |d, _| *d = json!({"role": "app", "identity": "e30=", "signature": "!!"}),
             "failed to base64 decode the SHA256 RSA signature of the instance identity document"),
            ("method null", |d, _| d["iam_http_request_method"] = json!(null), "missing iam_http_request_method"),
            ("nothing", |d, _| *d = json!({"role": "app"}), "didn't supply required authentication values"),
            ("empty method", |d, _| d["iam_http_request_method"] = json!(""), "missing iam_http_request_method"),
            ("PUT", |d, _| d["iam_http_request_method"] = json!("PUT"),
             "invalid iam_http_request_method; currently only 'GET' and 'POST' are supported"),
            ("lowercase post", |d, _| d["iam_http_request_method"] = json!("post"),
             "invalid iam_http_request_method; currently only 'GET' and 'POST' are supported"),
            ("empty url", |d, _| d["iam_request_url"] = json!(""), "missing iam_request_url"),
            ("url not base64", |d, _| d["iam_request_url"] = json!("!!"), "failed to base64 decode iam_request_url"),
            ("url unparseable", |d, _| d["iam_request_url"] = json!(b64(":nope")), "error parsing iam_request_url"),
            ("POST url with query", |d, _| d["iam_request_url"] = json!(b64("https://sts.amazonaws.com/?Action=GetCallerIdentity")),
             "invalid request"),
            ("GET without action", |d, _| { d["iam_http_request_method"] = json!("GET"); d["iam_request_url"] = json!(b64("https://sts.amazonaws.com/?Version=2011-06-15")); },
             "no action found in request"),
            ("GET two actions", |d, _| { d["iam_http_request_method"] = json!("GET"); d["iam_request_url"] = json!(b64("https://sts.amazonaws.com/?Action=GetCallerIdentity&Action=GetCallerIdentity")); },
             "found multiple actions"),
            ("GET other action", |d, _| { d["iam_http_request_method"] = json!("GET"); d["iam_request_url"] = json!(b64("https://sts.amazonaws.com/?Action=AssumeRole")); },
             "unexpected action parameter, AssumeRole"),
            ("empty body", |d, _| d["iam_request_body"] = json!(""), "missing iam_request_body which is required for POST requests"),
            ("body not base64", |d, _| d["iam_request_body"] = json!("!!"), "failed to base64 decode iam_request_body"),
            ("body with semicolon", |d, _| d["iam_request_body"] = json!(b64("Action=GetCallerIdentity;Version=2011-06-15")),
             "invalid semicolon separator in query"),
            ("body bad escape", |d, _| d["iam_request_body"] = json!(b64("Action=GetCallerIdentity%zz")), "invalid URL escape \"%zz\""),
            ("body other action", |d, _| d["iam_request_body"] = json!(b64("Action=AssumeRole&Version=2011-06-15")), "iam request body is invalid"),
            ("body extra key", |d, _| d["iam_request_body"] = json!(b64("Action=GetCallerIdentity&Version=2011-06-15&RoleArn=x")),
             "iam request body is invalid"),
            ("no headers", |d, _| d["iam_request_headers"] = json!({}), "missing iam_request_headers"),
            ("server id missing", |d, s| d["iam_request_headers"] = s.clone().without("X-Vault-AWS-IAM-Server-ID").header_json(),
             "error validating X-Vault-AWS-IAM-Server-ID header: missing header \"X-Vault-AWS-IAM-Server-ID\""),
            ("server id wrong", |d, s| d["iam_request_headers"] = s.clone().without("X-Vault-AWS-IAM-Server-ID").with("X-Vault-AWS-IAM-Server-ID", "Vault.Example.com").header_json(),
             "error validating X-Vault-AWS-IAM-Server-ID header: expected \"vault.example.com\" but got \"Vault.Example.com\""),
            ("no Authorization", |d, s| d["iam_request_headers"] = s.clone().without("Authorization").header_json(),
             "error validating X-Vault-AWS-IAM-Server-ID header: missing Authorization header"),
            // JSON carries a newline inside a header value as well as any other character.
            // Vault's pattern reads the first line that holds a list.
            ("two SignedHeaders lines", |d, s| d["iam_request_headers"] = s.clone().without("Authorization").with("Authorization",
                "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=c\nSignedHeaders=host;x-vault-aws-iam-server-id").header_json(),
             "error validating X-Vault-AWS-IAM-Server-ID header: vault header wasn't signed"),
            ("X-Amz-* not allowed", |d, s| d["iam_request_headers"] = s.clone().with("X-Amz-Foo", "1").header_json(), "invalid request header: X-Amz-Foo"),
            ("GET presigned with X-Amz-Expires", |d, _| {
                d["iam_http_request_method"] = json!("GET");
                d["iam_request_url"] = json!(b64("https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-vault-aws-iam-server-id"));
                d["iam_request_headers"] = json!({"X-Vault-AWS-IAM-Server-ID": SERVER_ID});
            }, "invalid request query param: X-Amz-Expires"),
            ("GET server id not signed", |d, _| {
                d["iam_http_request_method"] = json!("GET");
                d["iam_request_url"] = json!(b64("https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-SignedHeaders=host"));
                d["iam_request_headers"] = json!({"X-Vault-AWS-IAM-Server-ID": SERVER_ID});
            }, "error validating X-Vault-AWS-IAM-Server-ID header: vault header wasn't signed"),
            ("unknown role", |d, _| d["role"] = json!("Nope"), "entry for role Nope not found"),
        ];
        let signed = hvac(&e.alice(), Some(SERVER_ID), now(&e));
        for (name, mutate, msg) in rows {
            let mut data = signed.data(Some("app"));
            mutate(&mut data, &signed);
            let r = e.login(data).await;
            let err = r.expect_err(name);
            assert_eq!(
                (err.status, err.errors[0].as_str()),
                (400, msg),
                "row {name:?}"
            );
        }
        // Only the unknown-role row reached STS.
        assert_eq!(e.forwarded(), 1);
    }

    #[tokio::test]
    async fn ec2_signature_inputs_fail_as_vaults_do() {
        let e = configured().await;
        for (data, msg) in [
            (
                json!({"role": "app", "pkcs7": "!!"}),
                "failed to decode the PEM encoded PKCS#7 signature",
            ),
            (
                json!({"role": "app", "identity": "e30=", "signature": ""}),
                "missing SHA256 RSA signature of the instance identity document",
            ),
            (
                json!({"role": "app", "identity": "", "signature": "AAAA"}),
                "missing instance identity document",
            ),
            (
                json!({"role": "app", "identity": "e30=", "signature": "AAAA"}),
                "instance identity verification using SHA256 RSA signature is unsuccessful",
            ),
        ] {
            assert_err(e.login(data).await, 500, msg);
        }
    }

    #[tokio::test]
    async fn a_get_login_forwards_its_body_and_a_body_of_version_alone_passes() {
        let e = configured().await;
        let signed = hvac(&e.alice(), Some(SERVER_ID), now(&e));
        // A GET whose body is `Version=…` alone: valid for Vault, and sent to STS with the GET
        // (the signature was made for a POST, so STS refuses it, after the forward).
        let mut data = signed.data(Some("app"));
        data["iam_http_request_method"] = json!("GET");
        data["iam_request_url"] = json!(b64("https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-SignedHeaders=host%3Bx-vault-aws-iam-server-id"));
        data["iam_request_body"] = json!(b64("Version=2011-06-15"));
        let err = e.login(data).await.unwrap_err();
        assert!(
            err.errors[0]
                .starts_with("error making upstream request: received error code 403 from STS: "),
            "{err:?}"
        );
        let j = e.sim().journal().entries();
        let fwd = j.iter().find(|j| j.path == "//").expect("forwarded");
        assert_eq!(fwd.method, "GET");
        assert_eq!(fwd.body, "Version=2011-06-15");
        assert_eq!(fwd.header("content-length"), Some("18"));
    }

    #[tokio::test]
    async fn an_unsigned_server_id_header_is_refused() {
        let e = configured().await;
        let login = hvac(&e.alice(), None, now(&e)).with("X-Vault-AWS-IAM-Server-ID", SERVER_ID);
        assert_err(
            e.login(login.data(Some("app"))).await,
            400,
            "error validating X-Vault-AWS-IAM-Server-ID header: vault header wasn't signed",
        );
    }

    #[tokio::test]
    async fn allowed_sts_header_values_admits_more_x_amz_headers() {
        let e = configured().await;
        e.ok(
            "config/client",
            json!({"allowed_sts_header_values": "x-amz-foo"}),
        )
        .await;
        // Unsigned, so STS does not mind it either.
        let login = hvac(&e.alice(), Some(SERVER_ID), now(&e)).with("X-Amz-Foo", "1");
        e.login(login.data(Some("app"))).await.unwrap();
    }

    #[tokio::test]
    async fn use_sts_region_from_client_takes_the_region_from_the_authorization_header() {
        let e = configured().await;
        e.ok("config/client", json!({"use_sts_region_from_client": true}))
            .await;
        let mut data = hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("app"));
        data["iam_http_request_method"] = json!("GET");
        data["iam_request_url"] = json!(b64("https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-SignedHeaders=host%3Bx-vault-aws-iam-server-id"));
        data["iam_request_headers"] = json!({"X-Vault-AWS-IAM-Server-ID": SERVER_ID});
        assert_err(
            e.login(data).await,
            400,
            "region missing from Authorization header",
        );
        let login = hvac(&e.alice(), Some(SERVER_ID), now(&e));
        let auth = login
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1
            .replace("us-east-1", "mars-north-1");
        let bad_region = login
            .clone()
            .without("authorization")
            .with("Authorization", &auth);
        assert_err(
            e.login(bad_region.data(Some("app"))).await,
            400,
            "unable to get regional STS endpoint for region: mars-north-1",
        );
        // An empty region is a region the resolver does not know, not a missing one.
        let no_region = login
            .clone()
            .without("authorization")
            .with("Authorization", &auth.replace("/mars-north-1/", "//"));
        assert_err(
            e.login(no_region.data(Some("app"))).await,
            400,
            "unable to get regional STS endpoint for region: ",
        );
    }

    // ------------------------------------------------------------------ upstream answers

    #[tokio::test]
    async fn a_wrong_secret_is_surfaced_as_sts_403() {
        let e = configured().await;
        let mut k = e.alice();
        k.secret = "wrong".into();
        let r = e
            .login(hvac(&k, Some(SERVER_ID), now(&e)).data(Some("app")))
            .await;
        assert_err_prefix(r.clone(), 400, "error making upstream request: received error code 403 from STS: <ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>SignatureDoesNotMatch</Code>");
        assert!(r.unwrap_err().errors[0].ends_with("</ErrorResponse>\n"));
    }

    #[tokio::test]
    async fn a_header_changed_after_signing_is_refused_by_sts() {
        let e = configured().await;
        // The value Vault expects, but the client signed another one: only STS can tell.
        let login = hvac(&e.alice(), Some("other"), now(&e))
            .without("X-Vault-AWS-IAM-Server-ID")
            .with("X-Vault-AWS-IAM-Server-ID", SERVER_ID);
        assert_err_prefix(
            e.login(login.data(Some("app"))).await,
            400,
            "error making upstream request: received error code 403 from STS: ",
        );
    }

    #[tokio::test]
    async fn a_login_signed_16_minutes_ago_is_refused_by_sts() {
        let e = configured().await;
        let login = hvac(&e.alice(), Some(SERVER_ID), now(&e));
        e.clock.advance(Duration::from_secs(16 * 60)).unwrap();
        let err = e.login(login.data(Some("app"))).await.unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.errors[0]
                .starts_with("error making upstream request: received error code 403 from STS: "),
            "{err:?}"
        );
        assert!(
            err.errors[0]
                .contains("<Message>Signature expired: 20231114T221320Z is now earlier than"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn sts_500_is_retried_then_given_up() {
        let e = configured().await;
        e.fault(
            FaultKind::Status {
                status: 500,
                code: None,
                message: None,
                content_type: None,
            },
            1,
        );
        let login = hvac(&e.alice(), Some(SERVER_ID), now(&e));
        assert_err(
            e.login(login.data(Some("app"))).await,
            400,
            &format!("error making upstream request: error making request: POST {}// giving up after 1 attempt(s): unexpected HTTP status 500 Internal Server Error", e.url),
        );
        // With one retry, a single 500 is absorbed (after Vault's 500 ms backoff).
        e.ok("config/client", json!({"max_retries": 1})).await;
        e.fault(
            FaultKind::Status {
                status: 503,
                code: None,
                message: None,
                content_type: None,
            },
            1,
        );
        e.login(login.data(Some("app"))).await.unwrap();
        // The 503 and its retry, then core's role resolution calls STS once more.
        assert_eq!(e.forwarded(), 4);
    }

    #[tokio::test]
    async fn sts_429_gives_up_without_a_reason() {
        let e = configured().await;
        e.fault(
            FaultKind::Status {
                status: 429,
                code: None,
                message: None,
                content_type: None,
            },
            1,
        );
        assert_err(
            e.login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("app"))).await,
            400,
            &format!("error making upstream request: error making request: POST {}// giving up after 1 attempt(s)", e.url),
        );
    }

    #[tokio::test]
    async fn throttling_is_400_and_not_retried() {
        let e = configured().await;
        e.ok("config/client", json!({"max_retries": 3})).await;
        e.fault(FaultKind::Throttle, 1);
        let err = e
            .login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("app")))
            .await
            .unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.errors[0]
                .starts_with("error making upstream request: received error code 400 from STS: "),
            "{err:?}"
        );
        assert!(err.errors[0].contains("<Code>Throttling</Code>"));
        assert_eq!(e.forwarded(), 1);
    }

    #[tokio::test]
    async fn a_non_xml_content_type_hides_the_sts_error() {
        let e = configured().await;
        e.fault(
            FaultKind::Status {
                status: 403,
                code: Some("AccessDenied".into()),
                message: None,
                content_type: Some("application/json".into()),
            },
            1,
        );
        assert_err(
            e.login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("app")))
                .await,
            400,
            "error making upstream request: body of GetCallerIdentity is invalid",
        );
    }

    #[tokio::test]
    async fn a_dropped_connection_is_a_transport_error() {
        let e = configured().await;
        e.fault(FaultKind::Drop, 1);
        assert_err_prefix(
            e.login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("app"))).await,
            400,
            &format!("error making upstream request: error making request: POST {0}// giving up after 1 attempt(s): Post \"{0}//\": ", e.url),
        );
    }

    /// A stand-in STS on 127.0.0.1:0 that answers every request with `body` as `text/xml`.
    async fn fake_sts(body: &'static str) -> String {
        let app = axum::Router::new()
            .fallback(move || async move { ([(http::header::CONTENT_TYPE, "text/xml")], body) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_fake_sts_answering_odd_bodies() {
        let e = configured().await;
        let login = hvac(&e.alice(), Some(SERVER_ID), now(&e));
        let cases: &[(&'static str, u16, &str)] = &[
            ("not xml", 400, "error making upstream request: body of GetCallerIdentity is invalid"),
            ("<?xml version=\"1.0\"?><Other/>", 400, "error making upstream request: error parsing STS response"),
            ("<GetCallerIdentityResponse><GetCallerIdentityResult>", 400, "error making upstream request: error parsing STS response"),
            ("<GetCallerIdentityResponse></GetCallerIdentityResponse>", 500, "internal error: GetCallerIdentity answered without GetCallerIdentityResult"),
            ("<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:root</Arn><UserId>111122223333</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>",
             400, "error parsing arn \"arn:aws:iam::111122223333:root\": unrecognized arn: \"root\" contains fewer than 2 slash-separated parts"),
            ("<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::111122223333:federated-user/bob</Arn><UserId>111122223333:bob</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>",
             400, "error parsing arn \"arn:aws:sts::111122223333:federated-user/bob\": unrecognized principal type: \"federated-user\""),
        ];
        for (body, status, msg) in cases {
            let url = fake_sts(body).await;
            e.ok("config/client", json!({"sts_endpoint": url})).await;
            assert_err(e.login(login.data(Some("app"))).await, *status, msg);
        }
    }

    // ------------------------------------------------------------------ roles and bindings

    #[tokio::test]
    async fn token_bound_cidrs_need_the_remote_address_inside() {
        let e = configured().await;
        e.ok("role/app", json!({"token_bound_cidrs": "10.0.0.0/8"}))
            .await;
        let data = hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("app"));
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let r = e
            .vault
            .handle_from(req(Operation::Update, "login", data.clone()), Some(local))
            .await;
        assert_err(r, 403, "permission denied");
        assert_err(e.login(data.clone()).await, 403, "permission denied");
        e.ok("role/app", json!({"token_bound_cidrs": "127.0.0.0/8"}))
            .await;
        match e
            .vault
            .handle_from(req(Operation::Update, "login", data), Some(local))
            .await
            .unwrap()
        {
            BackendResponse::Login(o) => assert_eq!(o.bound_cidrs, vec!["127.0.0.0/8"]),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_role_for_ec2_refuses_iam_logins() {
        let e = configured().await;
        e.ok(
            "role/web",
            json!({"auth_type": "ec2", "bound_ami_id": "ami-0abcdef1234567890"}),
        )
        .await;
        assert_err(
            e.login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("web")))
                .await,
            400,
            "auth method iam not allowed for role web",
        );
    }

    #[tokio::test]
    async fn bound_arn_globs_match_the_full_arn() {
        let e = configured().await;
        e.ok(
            "role/users",
            json!({"bound_iam_principal_arn": "arn:aws:iam::111122223333:user/*"}),
        )
        .await;
        e.ok(
            "role/roles",
            json!({"bound_iam_principal_arn": "arn:aws:iam::111122223333:role/*"}),
        )
        .await;
        e.ok("role/bob", json!({"bound_iam_principal_arn": "arn:aws:iam::111122223333:user/bob", "resolve_aws_unique_ids": false})).await;
        let login = hvac(&e.alice(), Some(SERVER_ID), now(&e));
        e.login(login.data(Some("users"))).await.unwrap();
        let msg =
            |r: &str| format!("IAM Principal \"{ALICE_ARN}\" does not belong to the role \"{r}\"");
        assert_err(e.login(login.data(Some("roles"))).await, 400, &msg("roles"));
        assert_err(e.login(login.data(Some("bob"))).await, 400, &msg("bob"));
        // Without unique ids the canonical ARN is compared.
        e.ok(
            "role/plain",
            json!({"bound_iam_principal_arn": ALICE_ARN, "resolve_aws_unique_ids": false}),
        )
        .await;
        e.login(login.data(Some("plain"))).await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_full_arn_lookup_is_reported() {
        let e = configured().await;
        e.ok(
            "role/users",
            json!({"bound_iam_principal_arn": "arn:aws:iam::111122223333:user/*"}),
        )
        .await;
        let before = e
            .login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("users")))
            .await
            .unwrap();
        // A week on, the full ARN Vault cached at login is looked up again.
        e.clock.advance(Duration::from_secs(8 * 24 * 3600)).unwrap();
        e.ok(
            "config/client",
            json!({"iam_endpoint": "http://127.0.0.1:1"}),
        )
        .await;
        assert_err_prefix(
            e.login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("users"))).await,
            400,
            "error looking up full ARN of entity &{aws 111122223333 user  alice } when attempting login for role \"users\": error fetching user \"alice\": RequestError: send request failed",
        );
        assert_err_prefix(
            e.vault.renew(&before.internal).await,
            500,
            "error looking up full ARN of entity &{aws 111122223333 user  alice } when updating login for role \"users\": error fetching user \"alice\": RequestError: send request failed",
        );
        // Without credentials Vault cannot make its IAM client: its own GetCallerIdentity fails.
        e.ok("config/client", json!({"access_key": "", "secret_key": ""}))
            .await;
        assert_err(
            e.login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("users"))).await,
            400,
            "error looking up full ARN of entity &{aws 111122223333 user  alice } when attempting login for role \"users\": error creating IAM client: unable to fetch current caller: NoCredentialProviders: no valid providers in chain. Deprecated.\n\tFor verbose messaging see aws.Config.CredentialsChainVerboseErrors",
        );
    }

    #[tokio::test]
    async fn an_assumed_role_logs_in_through_its_canonical_arn() {
        let e = configured().await;
        e.ok("role/app-role", json!({"bound_iam_principal_arn": "arn:aws:iam::111122223333:role/app-role", "token_policies": "deploy"})).await;
        let keys = e.session("app-role", "ci-job");
        let login = hvac(&keys, Some(SERVER_ID), now(&e));
        // No role given: the friendly name of an assumed role is the role's name.
        let o = e.login(login.data(None)).await.unwrap();
        assert_eq!(o.policies, vec!["default", "deploy"]);
        assert_eq!(o.display_name, "app-role/ci-job");
        assert_eq!(
            o.internal["canonical_arn"],
            "arn:aws:iam::111122223333:role/app-role"
        );
        assert_eq!(o.internal["client_user_id"], e.role_id("app-role"));
        assert_eq!(
            o.internal["client_arn"],
            "arn:aws:sts::111122223333:assumed-role/app-role/ci-job"
        );
    }

    #[tokio::test]
    async fn a_recreated_role_is_refused_until_the_vault_role_is_rewritten() {
        let e = configured().await;
        let bound = "arn:aws:iam::111122223333:role/app-role";
        e.ok("role/deploy", json!({"bound_iam_principal_arn": bound}))
            .await;
        let keys = e.session("app-role", "ci-job");
        let before = e
            .login(hvac(&keys, Some(SERVER_ID), now(&e)).data(Some("deploy")))
            .await
            .unwrap();
        e.vault.renew(&before.internal).await.unwrap();
        {
            let mut w = e.sim().world_mut();
            w.aws.delete_role(ACCOUNT, "app-role");
            w.aws.add_role(ACCOUNT, "app-role", "/", e.clock.now());
        }
        let login = hvac(&keys, Some(SERVER_ID), now(&e));
        assert_err(
            e.login(login.data(Some("deploy"))).await,
            400,
            "IAM Principal \"arn:aws:sts::111122223333:assumed-role/app-role/ci-job\" does not belong to the role \"deploy\"",
        );
        // Renewal compares the token's stored unique id with the role's: both still the old one.
        e.vault.renew(&before.internal).await.unwrap();
        // Rewriting other fields keeps the stale id; rewriting the ARN resolves it again.
        e.ok("role/deploy", json!({"token_policies": "x"})).await;
        assert_err_prefix(
            e.login(login.data(Some("deploy"))).await,
            400,
            "IAM Principal",
        );
        e.ok("role/deploy", json!({"bound_iam_principal_arn": bound}))
            .await;
        let after = e.login(login.data(Some("deploy"))).await.unwrap();
        // Now the old principal's token no longer renews; the new one does.
        assert_err(
            e.vault.renew(&before.internal).await,
            500,
            &format!("role \"deploy\" no longer bound to ARN \"{bound}\""),
        );
        e.vault.renew(&after.internal).await.unwrap();
    }

    #[tokio::test]
    async fn renewal_checks_the_role_still_exists() {
        let e = configured().await;
        let o = e
            .login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("app")))
            .await
            .unwrap();
        e.ok("role/app", json!({"token_ttl": 120})).await;
        let renewed = e.vault.renew(&o.internal).await.unwrap();
        assert_eq!(renewed.ttl, Some(Duration::from_secs(120)));
        assert_eq!(renewed.metadata, o.metadata);
        e.call(Operation::Delete, "role/app", json!({}))
            .await
            .unwrap();
        assert_err(
            e.vault.renew(&o.internal).await,
            500,
            "role entry not found",
        );
        // What the login stored is read back in Vault's order; without `auth_type` a token is
        // an ec2 one.
        assert_err(
            e.vault.renew(&Map::new()).await,
            500,
            "\"instance_id\" not found in auth metadata",
        );
        let mut stored = o.internal.clone();
        stored.remove("role_name");
        assert_err(
            e.vault.renew(&stored).await,
            500,
            "error retrieving role_name during renewal",
        );
        stored.remove("canonical_arn");
        assert_err(
            e.vault.renew(&stored).await,
            500,
            "\"canonical_arn\" not found in auth metadata",
        );
        stored.insert("auth_type".into(), json!("x"));
        assert_err(
            e.vault.renew(&stored).await,
            500,
            "unrecognized auth_type: \"x\"",
        );
        // Without `auth_type` in iam_metadata, Vault routes the renewal as an ec2 one.
        e.ok("role/app", json!({"bound_iam_principal_arn": ALICE_ARN}))
            .await;
        e.ok("config/identity", json!({"iam_metadata": "canonical_arn"}))
            .await;
        let o = e
            .login(hvac(&e.alice(), Some(SERVER_ID), now(&e)).data(Some("app")))
            .await
            .unwrap();
        assert!(!o.metadata.contains_key("auth_type"));
        assert_err(
            e.vault.renew(&o.internal).await,
            500,
            "\"instance_id\" not found in auth metadata",
        );
    }

    #[tokio::test]
    async fn inferred_ec2_instances_are_described_and_bound() {
        let e = configured().await;
        let web = "arn:aws:iam::111122223333:role/web-role";
        e.ok("role/web", json!({"bound_iam_principal_arn": web, "inferred_entity_type": "ec2_instance", "inferred_aws_region": "us-east-1", "bound_vpc_id": "vpc-0123456789abcdef0"})).await;
        e.ok("config/identity", json!({"iam_metadata": "account_id,auth_type,inferred_entity_id,inferred_entity_type,inferred_aws_region"})).await;
        let keys = e.session("web-role", INSTANCE);
        let login = hvac(&keys, Some(SERVER_ID), now(&e));
        let o = e.login(login.data(Some("web"))).await.unwrap();
        assert_eq!(o.metadata["inferred_entity_id"], INSTANCE);
        assert_eq!(o.metadata["inferred_entity_type"], "ec2_instance");
        assert_eq!(o.metadata["inferred_aws_region"], "us-east-1");
        e.vault.renew(&o.internal).await.unwrap();

        e.ok("role/web", json!({"bound_ami_id": "ami-other"})).await;
        assert_err(
            e.login(login.data(Some("web"))).await,
            400,
            "error validating instance: AMI ID \"ami-0abcdef1234567890\" does not belong to role \"web\"",
        );
        // A renewal checks only that the instance still runs, not the role's instance bindings.
        e.vault.renew(&o.internal).await.unwrap();
        e.ok("role/web2", json!({"bound_iam_principal_arn": web, "inferred_entity_type": "ec2_instance", "inferred_aws_region": "us-west-2", "bound_iam_role_arn": web})).await;
        assert_err_prefix(
            e.login(login.data(Some("web2"))).await,
            400,
            &format!("failed to verify {INSTANCE} as a valid EC2 instance in region us-west-2: error fetching description for instance ID \"{INSTANCE}\": InvalidInstanceID.NotFound: "),
        );
        e.ok("role/web3", json!({"bound_iam_principal_arn": web, "inferred_entity_type": "ec2_instance", "inferred_aws_region": "us-east-1", "bound_iam_role_arn": "arn:aws:iam::111122223333:role/other"})).await;
        assert_err(
            e.login(login.data(Some("web3"))).await,
            400,
            &format!("error validating instance: IAM role ARN \"{web}\" does not satisfy the constraint role \"web3\""),
        );
        // An instance without a profile cannot be checked against a role ARN: Vault's plain
        // error, a 500 without the prefix.
        e.sim()
            .world_mut()
            .aws
            .instances
            .get_mut(INSTANCE)
            .unwrap()
            .profile = None;
        assert_err(
            e.login(login.data(Some("web3"))).await,
            500,
            "IAM instance profile in the instance description is nil",
        );
        // The instance stopped: the token from before no longer renews.
        e.sim()
            .world_mut()
            .aws
            .instances
            .get_mut(INSTANCE)
            .unwrap()
            .state = "stopped".into();
        assert_err(
            e.vault.renew(&o.internal).await,
            500,
            &format!(
                "failed to verify instance ID \"{INSTANCE}\": instance is not in 'running' state"
            ),
        );
    }
}

mod vault_auth_aws_ec2 {
    //! The `ec2` login with the mock's instance identity documents, fetched from its metadata
    //! service as the Vault CLI does.
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    use authsim_mocks::clock::ManualClock;
    use authsim_mocks::vault::auth_aws::AwsAuthBackend;
    use authsim_mocks::vault::backend::{
        BackendRequest, BackendResponse, LoginOutcome, Operation, VaultError,
    };
    use authsim_mocks::{worldfile, MockCloud, MockCloudOptions, Sim};
    use base64::Engine;
    use serde_json::{json, Value};

    const INSTANCE: &str = "i-0a1b2c3d4e5f60718";
    const AMI: &str = "ami-0abcdef1234567890";

    struct Env {
        _cloud: MockCloud,
        url: String,
        vault: AwsAuthBackend,
    }

    async fn env() -> Env {
        let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
        let sim = Sim::new(worldfile::default_world(UNIX_EPOCH), clock.clone());
        let opts = MockCloudOptions {
            google_port: None,
            ..Default::default()
        };
        let cloud = MockCloud::start(sim, opts).await.unwrap();
        let url = cloud.aws_url().unwrap();
        let (key, secret, pem) = {
            let w = cloud.sim.world();
            let k = w
                .aws
                .access_keys
                .values()
                .find(|k| k.user == "alice")
                .unwrap();
            (
                k.id.clone(),
                k.secret.clone(),
                w.aws.identity_key.material().cert_pem.clone(),
            )
        };
        let e = Env {
            _cloud: cloud,
            url,
            vault: AwsAuthBackend::new(clock),
        };
        e.write("config/client", json!({"endpoint": e.url, "iam_endpoint": e.url, "sts_endpoint": e.url, "access_key": key, "secret_key": secret, "max_retries": 0})).await.unwrap();
        e.write(
            "config/certificate/mock-pkcs7",
            json!({"aws_public_cert": pem, "type": "pkcs7"}),
        )
        .await
        .unwrap();
        e.write(
            "config/certificate/mock-identity",
            json!({"aws_public_cert": pem, "type": "identity"}),
        )
        .await
        .unwrap();
        e.write(
            &format!("role/{AMI}"),
            json!({"auth_type": "ec2", "bound_ami_id": AMI, "token_policies": "web"}),
        )
        .await
        .unwrap();
        e
    }

    impl Env {
        async fn write(&self, path: &str, data: Value) -> Result<BackendResponse, VaultError> {
            let Value::Object(data) = data else {
                unreachable!()
            };
            self.vault
                .handle(BackendRequest {
                    operation: Operation::Update,
                    path: path.into(),
                    data: data.into(),
                    mount: "aws".into(),
                })
                .await
        }

        async fn login(&self, data: Value) -> Result<LoginOutcome, VaultError> {
            match self.write("login", data).await? {
                BackendResponse::Login(o) => Ok(o),
                other => panic!("{other:?}"),
            }
        }

        async fn imds(&self, what: &str) -> String {
            reqwest::get(format!(
                "{}/latest/dynamic/instance-identity/{what}",
                self.url
            ))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
        }
    }

    #[tokio::test]
    async fn a_pkcs7_login_defaults_to_the_ami_role_and_returns_a_nonce() {
        let e = env().await;
        let pkcs7 = e.imds("pkcs7").await.replace('\n', "");
        let o = e.login(json!({"pkcs7": pkcs7})).await.unwrap();
        assert_eq!(o.policies, vec!["default", "web"]);
        assert_eq!(o.metadata["auth_type"], "ec2");
        assert_eq!(o.metadata["account_id"], "111122223333");
        assert_eq!(o.metadata["role"], AMI);
        assert_eq!(o.display_name, INSTANCE);
        let nonce = o.metadata["nonce"].clone();
        // A second login must present the nonce.
        assert_eq!(
            e.login(json!({"pkcs7": pkcs7})).await.unwrap_err().errors,
            vec!["client nonce mismatch"]
        );
        e.login(json!({"pkcs7": pkcs7, "nonce": nonce}))
            .await
            .unwrap();
        e.vault.renew(&o.internal).await.unwrap();
    }

    #[tokio::test]
    async fn an_identity_and_signature_login_checks_the_role() {
        let e = env().await;
        let doc = e.imds("document").await;
        let sig = e.imds("signature").await;
        let identity = base64::engine::general_purpose::STANDARD.encode(&doc);
        e.write(
            "role/web",
            json!({"auth_type": "ec2", "bound_vpc_id": "vpc-other"}),
        )
        .await
        .unwrap();
        let err = e
            .login(json!({"role": "web", "identity": identity, "signature": sig}))
            .await
            .unwrap_err();
        assert_eq!((err.status, err.errors[0].as_str()), (400, "Error validating instance: VPC ID \"vpc-0123456789abcdef0\" does not satisfy the constraint on role \"web\""));
        let err = e
            .login(json!({"role": "nope", "identity": identity, "signature": sig}))
            .await
            .unwrap_err();
        assert_eq!(err.errors[0], "entry for role \"nope\" not found");
        let err = e
            .login(json!({"role": "web", "identity": identity, "signature": sig, "pkcs7": "x"}))
            .await
            .unwrap_err();
        assert_eq!(err.errors[0], "both pkcs7 and a tuple containing the instance identity document and its SHA256 RSA signature is supplied; provide only one");
        let tampered = base64::engine::general_purpose::STANDARD
            .encode(doc.replace(AMI, "ami-1111111111111111"));
        let err = e
            .login(json!({"identity": tampered, "signature": sig}))
            .await
            .unwrap_err();
        assert_eq!(
            (err.status, err.errors[0].as_str()),
            (
                500,
                "instance identity verification using SHA256 RSA signature is unsuccessful"
            )
        );
        e.write(
            "role/web",
            json!({"bound_vpc_id": "vpc-0123456789abcdef0", "bound_region": "eu-west-1"}),
        )
        .await
        .unwrap();
        let err = e
            .login(json!({"role": "web", "identity": identity, "signature": sig, "nonce": "n"}))
            .await
            .unwrap_err();
        assert_eq!(
            err.errors[0],
            "Region \"us-east-1\" does not satisfy the constraint on role \"web\""
        );
        e.write("role/web", json!({"bound_region": "us-east-1"}))
            .await
            .unwrap();
        let o = e
            .login(json!({"role": "web", "identity": identity, "signature": sig, "nonce": "n"}))
            .await
            .unwrap();
        assert!(!o.metadata.contains_key("nonce"));
    }

    #[tokio::test]
    async fn ec2_reauthentication_rules() {
        let e = env().await;
        let pkcs7 = e.imds("pkcs7").await.replace('\n', "");
        let arn = "arn:aws:iam::111122223333:user/alice";
        e.write("role/iam", json!({"bound_iam_principal_arn": arn}))
            .await
            .unwrap();
        let err = e
            .login(json!({"role": "iam", "pkcs7": pkcs7}))
            .await
            .unwrap_err();
        assert_eq!(err.errors[0], "auth method ec2 not allowed for role iam");
        let long = "n".repeat(129);
        let err = e
            .login(json!({"pkcs7": pkcs7, "nonce": long}))
            .await
            .unwrap_err();
        assert_eq!(
            err.errors[0],
            "client nonce exceeding the limit of 128 characters"
        );
        // An empty nonce disables reauthentication for the instance.
        e.login(json!({"pkcs7": pkcs7, "nonce": ""})).await.unwrap();
        let err = e
            .login(json!({"pkcs7": pkcs7, "nonce": ""}))
            .await
            .unwrap_err();
        assert_eq!(
            (err.status, err.errors[0].as_str()),
            (400, "reauthentication is disabled")
        );
    }

    #[tokio::test]
    async fn the_identity_access_list_is_read_listed_and_emptied_by_hand() {
        let e = env().await;
        let doc = e.imds("pkcs7").await.replace('\n', "");
        let o = e.login(json!({"pkcs7": doc})).await.unwrap();
        let call = |op: Operation, path: &str| {
            e.vault.handle(BackendRequest {
                operation: op,
                path: path.into(),
                data: serde_json::Map::new().into(),
                mount: "aws".into(),
            })
        };
        let path = format!("identity-accesslist/{INSTANCE}");
        let BackendResponse::Data { data, .. } = call(Operation::Read, &path).await.unwrap() else {
            panic!("read answered no data")
        };
        assert_eq!(data["role"], AMI);
        assert_eq!(data["client_nonce"], o.metadata["nonce"].as_str());
        assert_eq!(data["disallow_reauthentication"], false);
        assert_eq!(data["creation_time"], "2023-11-14T22:13:20Z");
        // Vault's system max lease TTL (768 h) on from the login.
        assert_eq!(data["expiration_time"], "2023-12-16T22:13:20Z");
        assert!(data["pending_time"].as_str().unwrap().ends_with('Z'));
        let BackendResponse::Data { data, .. } =
            call(Operation::List, "identity-accesslist").await.unwrap()
        else {
            panic!("list answered no data")
        };
        assert_eq!(data["keys"], json!([INSTANCE]));
        // Deleted, the token no longer renews, and the instance logs in as the first time.
        call(Operation::Delete, &path).await.unwrap();
        let err = e.vault.renew(&o.internal).await.unwrap_err();
        assert_eq!(
            (err.status, err.errors[0].as_str()),
            (
                500,
                format!("failed to verify the access list identity entry for instance ID: \"{INSTANCE}\"").as_str()
            )
        );
        assert_eq!(call(Operation::Read, &path).await.unwrap_err().status, 404);
        assert_eq!(
            call(Operation::List, "identity-accesslist")
                .await
                .unwrap_err()
                .status,
            404
        );
        let again = e.login(json!({"pkcs7": doc})).await.unwrap();
        assert!(again.metadata.contains_key("nonce"));
    }

    #[tokio::test]
    async fn ec2_documents_and_instances_that_do_not_verify() {
        let e = env().await;
        let doc = e.imds("pkcs7").await.replace('\n', "");
        // Bytes that are base64 but no PKCS#7.
        let err = e.login(json!({"pkcs7": "AAAA"})).await.unwrap_err();
        assert_eq!(err.status, 500);
        assert!(
            err.errors[0].starts_with("failed to parse the BER encoded PKCS#7 signature: "),
            "{err:?}"
        );
        // A stopped instance.
        e._cloud
            .sim
            .world_mut()
            .aws
            .instances
            .get_mut(INSTANCE)
            .unwrap()
            .state = "stopped".into();
        let err = e.login(json!({"pkcs7": doc})).await.unwrap_err();
        assert_eq!(
            (err.status, err.errors[0].as_str()),
            (
                400,
                "failed to verify instance ID: instance is not in 'running' state"
            )
        );
        // Without the certificate that signed it, the document does not verify.
        e.vault
            .handle(BackendRequest {
                operation: Operation::Delete,
                path: "config/certificate/mock-pkcs7".into(),
                data: serde_json::Map::new().into(),
                mount: "aws".into(),
            })
            .await
            .unwrap();
        let err = e.login(json!({"pkcs7": doc})).await.unwrap_err();
        assert_eq!(err.status, 500);
        assert!(
            err.errors[0].starts_with("failed to verify the signature: "),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn ec2_logins_again_follow_the_nonce_and_the_pending_time() {
        let e = env().await;
        let launched = e._cloud.sim.world().aws.instances[INSTANCE].launched;
        let relaunch = |secs: u64| {
            e._cloud
                .sim
                .world_mut()
                .aws
                .instances
                .get_mut(INSTANCE)
                .unwrap()
                .launched = launched + std::time::Duration::from_secs(secs);
        };
        let doc = e.imds("pkcs7").await.replace('\n', "");
        let o = e.login(json!({"pkcs7": doc})).await.unwrap();
        let nonce = o.metadata["nonce"].clone();
        // Stopped and started: a newer document with the nonce logs in; no nonce is echoed.
        relaunch(3600);
        let newer = e.imds("pkcs7").await.replace('\n', "");
        let again = e
            .login(json!({"pkcs7": newer, "nonce": nonce}))
            .await
            .unwrap();
        assert!(!again.metadata.contains_key("nonce"));
        // The first document again: older than the one of the last login.
        let err = e
            .login(json!({"pkcs7": doc, "nonce": nonce}))
            .await
            .unwrap_err();
        assert_eq!(
            (err.status, err.errors[0].as_str()),
            (
                400,
                "instance meta-data is older than the one used for previous login"
            )
        );
        // Migration allowed: another nonce passes only with a newer document.
        e.write(
            &format!("role/{AMI}"),
            json!({"allow_instance_migration": true}),
        )
        .await
        .unwrap();
        let err = e
            .login(json!({"pkcs7": newer, "nonce": "other"}))
            .await
            .unwrap_err();
        assert_eq!(
            err.errors[0],
            "client nonce mismatch and instance meta-data incorrect"
        );
        relaunch(7200);
        let newest = e.imds("pkcs7").await.replace('\n', "");
        e.login(json!({"pkcs7": newest, "nonce": "other"}))
            .await
            .unwrap();
        // The nonce of the first login stays the instance's.
        e.login(json!({"pkcs7": newest, "nonce": nonce}))
            .await
            .unwrap();
    }
}
