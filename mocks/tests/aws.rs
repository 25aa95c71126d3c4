//! The mock AWS listener end to end: SigV4-signed Query requests (signed with the `aws-sigv4`
//! crate, as SDKs sign), STS, IAM, EC2 and the instance metadata service.

mod aws {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use authsim_mocks::aws::{router, AwsState};
    use authsim_mocks::clock::{Clock, ManualClock};
    use authsim_mocks::{worldfile, Sim};
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{
        sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    };
    use aws_sigv4::sign::v4;
    use axum::body::Body;
    use axum::Router;
    use http::{Request, Response};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const START: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z
    const ACCOUNT: &str = "111122223333";
    const INSTANCE: &str = "i-0a1b2c3d4e5f60718";
    const GCI_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
    const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

    struct Env {
        sim: Sim,
        clock: Arc<ManualClock>,
        router: Router,
    }

    fn env() -> Env {
        let clock = Arc::new(ManualClock::at_unix(START));
        let sim = Sim::new(worldfile::default_world(UNIX_EPOCH), clock.clone());
        let router = router(AwsState::new(sim.clone(), "http://127.0.0.1:4566".into()));
        Env { sim, clock, router }
    }

    #[derive(Clone, Debug)]
    struct Keys {
        id: String,
        secret: String,
        token: Option<String>,
    }

    impl Env {
        fn alice(&self) -> Keys {
            let w = self.sim.world();
            let k = w
                .aws
                .access_keys
                .values()
                .find(|k| k.user == "alice")
                .expect("alice has a key");
            Keys {
                id: k.id.clone(),
                secret: k.secret.clone(),
                token: None,
            }
        }

        fn now(&self) -> SystemTime {
            self.clock.now()
        }

        async fn send(&self, req: Request<Body>) -> Reply {
            let resp = self.router.clone().oneshot(req).await.unwrap();
            Reply::read(resp).await
        }

        /// A signed Query request as an SDK sends it to `sts.amazonaws.com` (or the service's
        /// host), delivered to `path`.
        async fn query(&self, keys: &Keys, service: &str, path: &str, body: &str) -> Reply {
            self.send(signed(keys, service, "us-east-1", path, body, self.now()))
                .await
        }
    }

    fn host_for(service: &str) -> &'static str {
        match service {
            "iam" => "iam.amazonaws.com",
            "ec2" => "ec2.us-east-1.amazonaws.com",
            _ => "sts.amazonaws.com",
        }
    }

    /// Signs a POST for `https://<host>/` and sends it to `path` with the same Host header, as
    /// Vault forwards a client's request.
    fn signed(
        keys: &Keys,
        service: &str,
        region: &str,
        path: &str,
        body: &str,
        time: SystemTime,
    ) -> Request<Body> {
        let host = host_for(service);
        let mut req = Request::post(format!("https://{host}/"))
            .header("host", host)
            .header("content-type", FORM)
            .body(body.as_bytes().to_vec())
            .unwrap();
        sign_request(
            &mut req,
            keys,
            service,
            region,
            time,
            SigningSettings::default(),
        );
        let (mut parts, body) = req.into_parts();
        parts.uri = path.parse().unwrap();
        Request::from_parts(parts, Body::from(body))
    }

    fn sign_request(
        req: &mut Request<Vec<u8>>,
        keys: &Keys,
        service: &str,
        region: &str,
        time: SystemTime,
        settings: SigningSettings,
    ) {
        let identity = Credentials::new(
            keys.id.clone(),
            keys.secret.clone(),
            keys.token.clone(),
            None,
            "authsim-test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let uri = req.uri().to_string();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        let signable = SignableRequest::new(
            req.method().as_str(),
            &uri,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(req.body()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(req);
    }

    #[derive(Debug)]
    struct Reply {
        status: u16,
        content_type: String,
        request_id: Option<String>,
        body: String,
    }

    impl Reply {
        async fn read(resp: Response<Body>) -> Self {
            let status = resp.status().as_u16();
            let h = resp.headers();
            let content_type = h
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let request_id = h
                .get("x-amzn-requestid")
                .map(|v| v.to_str().unwrap().to_owned());
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            Self {
                status,
                content_type,
                request_id,
                body: String::from_utf8(bytes.to_vec()).unwrap(),
            }
        }

        /// The text of the first `<name>` element, unescaped.
        fn el(&self, name: &str) -> String {
            let open = format!("<{name}>");
            let start = self
                .body
                .find(&open)
                .unwrap_or_else(|| panic!("no <{name}> in {}", self.body))
                + open.len();
            let end = self.body[start..].find("</").unwrap() + start;
            quick_xml::escape::unescape(&self.body[start..end])
                .unwrap()
                .into_owned()
        }

        /// Asserts an AWS XML error: status, `text/xml`, a request id, and the code.
        fn assert_error(&self, status: u16, code: &str) {
            assert_eq!(self.status, status, "{}", self.body);
            assert_eq!(self.content_type, "text/xml");
            assert!(self.request_id.is_some());
            assert_eq!(self.el("Code"), code, "{}", self.body);
        }

        fn assert_ok_xml(&self) {
            assert_eq!(self.status, 200, "{}", self.body);
            assert_eq!(self.content_type, "text/xml");
            assert!(self.request_id.is_some());
        }
    }

    // ------------------------------------------------------------------- GetCallerIdentity

    #[tokio::test]
    async fn get_caller_identity_names_the_signing_user() {
        let e = env();
        let r = e.query(&e.alice(), "sts", "/", GCI_BODY).await;
        r.assert_ok_xml();
        let user_id = e.sim.world().aws.accounts[ACCOUNT].users["alice"]
            .user_id
            .clone();
        assert_eq!(r.el("Arn"), "arn:aws:iam::111122223333:user/alice");
        assert_eq!(r.el("UserId"), user_id);
        assert!(user_id.starts_with("AIDA"));
        assert_eq!(r.el("Account"), ACCOUNT);
        assert_eq!(r.el("RequestId"), r.request_id.clone().unwrap());
    }

    #[tokio::test]
    async fn get_caller_identity_matches_the_reference_layout() {
        let e = env();
        let r = e.query(&e.alice(), "sts", "/", GCI_BODY).await;
        let w = e.sim.world();
        let normalised = r
            .body
            .replace(
                &r.request_id.clone().unwrap(),
                "01234567-89ab-cdef-0123-456789abcdef",
            )
            .replace(
                "arn:aws:iam::111122223333:user/alice",
                "arn:aws:iam::123456789012:user/Alice",
            )
            .replace(
                &w.aws.accounts[ACCOUNT].users["alice"].user_id,
                "AIDACKCEVSQ6C2EXAMPLE",
            )
            .replace(ACCOUNT, "123456789012");
        assert_eq!(
            normalised,
            include_str!("fixtures/sts/get_caller_identity_response.xml")
        );
    }

    #[tokio::test]
    async fn get_caller_identity_posted_to_double_slash_verifies_as_vault_forwards_it() {
        let e = env();
        for path in ["//", "///"] {
            let r = e.query(&e.alice(), "sts", path, GCI_BODY).await;
            r.assert_ok_xml();
            assert_eq!(r.el("Arn"), "arn:aws:iam::111122223333:user/alice");
        }
    }

    #[tokio::test]
    async fn presigned_get_caller_identity_verifies() {
        let e = env();
        let mut req =
            Request::get("https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15")
                .header("host", "sts.amazonaws.com")
                .body(Vec::new())
                .unwrap();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(900));
        sign_request(&mut req, &e.alice(), "sts", "us-east-1", e.now(), settings);
        let (mut parts, body) = req.into_parts();
        parts.uri = format!("//?{}", parts.uri.query().unwrap())
            .parse()
            .unwrap();
        let r = e.send(Request::from_parts(parts, Body::from(body))).await;
        r.assert_ok_xml();
        assert_eq!(r.el("Arn"), "arn:aws:iam::111122223333:user/alice");
    }

    #[tokio::test]
    async fn get_caller_identity_answers_json_when_asked() {
        let e = env();
        let mut req = Request::post("https://sts.amazonaws.com/")
            .header("host", "sts.amazonaws.com")
            .header("content-type", FORM)
            .header("accept", "application/json")
            .body(GCI_BODY.as_bytes().to_vec())
            .unwrap();
        sign_request(
            &mut req,
            &e.alice(),
            "sts",
            "us-east-1",
            e.now(),
            SigningSettings::default(),
        );
        let (mut parts, body) = req.into_parts();
        parts.uri = "/".parse().unwrap();
        let r = e.send(Request::from_parts(parts, Body::from(body))).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "application/json");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let res = &v["GetCallerIdentityResponse"]["GetCallerIdentityResult"];
        assert_eq!(res["Arn"], "arn:aws:iam::111122223333:user/alice");
        assert_eq!(res["Account"], ACCOUNT);
    }

    // ------------------------------------------------------------------- SigV4 failures

    #[tokio::test]
    async fn a_wrong_secret_is_signature_does_not_match() {
        let e = env();
        let mut keys = e.alice();
        keys.secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into();
        let r = e.query(&keys, "sts", "/", GCI_BODY).await;
        r.assert_error(403, "SignatureDoesNotMatch");
        assert_eq!(r.el("Type"), "Sender");
    }

    #[tokio::test]
    async fn an_unknown_key_is_invalid_client_token_id() {
        let e = env();
        let keys = Keys {
            id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            token: None,
        };
        let r = e.query(&keys, "sts", "/", GCI_BODY).await;
        r.assert_error(403, "InvalidClientTokenId");
        assert_eq!(
            r.body.replace(
                &r.request_id.clone().unwrap(),
                "16fc956c-311e-4199-bee1-1680236e9698"
            ),
            include_str!("fixtures/sts/error_invalid_client_token_id.xml")
        );
    }

    #[tokio::test]
    async fn a_request_signed_16_minutes_ago_has_expired() {
        let e = env();
        let signed_at = e.now() - Duration::from_secs(16 * 60);
        let r = e
            .send(signed(
                &e.alice(),
                "sts",
                "us-east-1",
                "/",
                GCI_BODY,
                signed_at,
            ))
            .await;
        r.assert_error(403, "SignatureDoesNotMatch");
        // now = 20231114T221320Z; signed 16 minutes earlier.
        assert_eq!(
            r.el("Message"),
            "Signature expired: 20231114T215720Z is now earlier than 20231114T215820Z (20231114T221320Z - 15 min.)"
        );
    }

    #[tokio::test]
    async fn an_unsigned_request_is_missing_authentication_token() {
        let e = env();
        let req = Request::post("/")
            .header("host", "sts.amazonaws.com")
            .header("content-type", FORM)
            .body(Body::from(GCI_BODY))
            .unwrap();
        let r = e.send(req).await;
        r.assert_error(403, "MissingAuthenticationToken");
    }

    #[tokio::test]
    async fn a_garbled_credential_is_incomplete_signature() {
        let e = env();
        let req = Request::post("/")
            .header("host", "sts.amazonaws.com")
            .header("content-type", FORM)
            .header("x-amz-date", "20231114T221320Z")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20231114/us-east-1/sts, SignedHeaders=host;x-amz-date, Signature=00",
            )
            .body(Body::from(GCI_BODY))
            .unwrap();
        let r = e.send(req).await;
        r.assert_error(400, "IncompleteSignature");
    }

    // ------------------------------------------------------------------- AssumeRole

    fn assume_body(role: &str, session: &str, extra: &str) -> String {
        format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2F{role}&RoleSessionName={session}{extra}"
        )
    }

    fn session_keys(r: &Reply) -> Keys {
        Keys {
            id: r.el("AccessKeyId"),
            secret: r.el("SecretAccessKey"),
            token: Some(r.el("SessionToken")),
        }
    }

    #[tokio::test]
    async fn assume_role_gives_credentials_that_call_as_the_assumed_role() {
        let e = env();
        let r = e
            .query(
                &e.alice(),
                "sts",
                "/",
                &assume_body("app-role", "ci-run", ""),
            )
            .await;
        r.assert_ok_xml();
        let role_id = e.sim.world().aws.accounts[ACCOUNT].roles["app-role"]
            .role_id
            .clone();
        assert!(r.el("AccessKeyId").starts_with("ASIA"));
        assert_eq!(r.el("Expiration"), "2023-11-14T23:13:20Z");
        assert_eq!(
            r.el("Arn"),
            "arn:aws:sts::111122223333:assumed-role/app-role/ci-run"
        );
        assert_eq!(r.el("AssumedRoleId"), format!("{role_id}:ci-run"));
        assert!(r.body.starts_with(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <AssumeRoleResult>\n    <Credentials>\n"
        ));

        let who = e.query(&session_keys(&r), "sts", "//", GCI_BODY).await;
        who.assert_ok_xml();
        assert_eq!(
            who.el("Arn"),
            "arn:aws:sts::111122223333:assumed-role/app-role/ci-run"
        );
        assert_eq!(who.el("UserId"), format!("{role_id}:ci-run"));
        assert!(role_id.starts_with("AROA"));
    }

    #[tokio::test]
    async fn an_expired_session_is_expired_token() {
        let e = env();
        let r = e
            .query(
                &e.alice(),
                "sts",
                "/",
                &assume_body("app-role", "short", "&DurationSeconds=900"),
            )
            .await;
        r.assert_ok_xml();
        e.clock.advance(Duration::from_secs(901)).unwrap();
        let who = e.query(&session_keys(&r), "sts", "/", GCI_BODY).await;
        who.assert_error(403, "ExpiredToken");
        assert_eq!(
            who.el("Message"),
            "The security token included in the request is expired"
        );
    }

    #[tokio::test]
    async fn a_session_key_without_its_token_is_invalid() {
        let e = env();
        let r = e
            .query(&e.alice(), "sts", "/", &assume_body("app-role", "s1", ""))
            .await;
        let mut keys = session_keys(&r);
        keys.token = None;
        e.query(&keys, "sts", "/", GCI_BODY)
            .await
            .assert_error(403, "InvalidClientTokenId");
    }

    #[tokio::test]
    async fn assume_role_is_denied_to_a_principal_the_role_does_not_trust() {
        let e = env();
        for role in ["web-role", "no-such-role"] {
            let r = e
                .query(&e.alice(), "sts", "/", &assume_body(role, "s1", ""))
                .await;
            r.assert_error(403, "AccessDenied");
            assert_eq!(
                r.el("Message"),
                format!("User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/{role}")
            );
        }
    }

    #[tokio::test]
    async fn assume_role_validates_its_parameters() {
        let e = env();
        let k = e.alice();
        let cases = [
            (assume_body("app-role", "x", ""), "Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"),
            (assume_body("app-role", "a%20b", ""), "Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"),
            (assume_body("app-role", "ok", "&DurationSeconds=899"), "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"),
            ("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fapp-role".to_owned(), "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"),
        ];
        for (body, message) in cases {
            let r = e.query(&k, "sts", "/", &body).await;
            r.assert_error(400, "ValidationError");
            assert_eq!(
                r.el("Message"),
                format!("1 validation error detected: {message}")
            );
        }
        let r = e
            .query(
                &k,
                "sts",
                "/",
                &assume_body("app-role", "ok", "&DurationSeconds=7200"),
            )
            .await;
        r.assert_error(400, "ValidationError");
        assert_eq!(
            r.el("Message"),
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        );
    }

    // ------------------------------------------------------------------- GetSessionToken

    #[tokio::test]
    async fn get_session_token_is_for_long_term_keys_only() {
        let e = env();
        let body = "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=3600";
        let r = e.query(&e.alice(), "sts", "/", body).await;
        r.assert_ok_xml();
        assert!(r.body.starts_with("<GetSessionTokenResponse "));
        assert_eq!(r.el("Expiration"), "2023-11-14T23:13:20Z");
        let keys = session_keys(&r);
        assert!(keys.id.starts_with("ASIA"));

        let who = e.query(&keys, "sts", "/", GCI_BODY).await;
        assert_eq!(who.el("Arn"), "arn:aws:iam::111122223333:user/alice");

        let again = e.query(&keys, "sts", "/", body).await;
        again.assert_error(403, "AccessDenied");
        assert_eq!(
            again.el("Message"),
            "Cannot call GetSessionToken with session credentials"
        );
    }

    // ------------------------------------------------------------------- dispatch errors

    #[tokio::test]
    async fn unknown_and_missing_actions_are_answered_in_xml() {
        let e = env();
        let k = e.alice();
        let r = e
            .query(&k, "sts", "/", "Action=Frobnicate&Version=2011-06-15")
            .await;
        r.assert_error(400, "InvalidAction");
        assert_eq!(
            r.el("Message"),
            "Could not find operation Frobnicate for version 2011-06-15"
        );
        let r = e.query(&k, "sts", "/", "Version=2011-06-15").await;
        r.assert_error(400, "MissingAction");
        let r = e
            .query(&k, "iam", "/", "Action=Frobnicate&Version=2010-05-08")
            .await;
        r.assert_error(400, "InvalidAction");
        assert!(r.body.contains("https://iam.amazonaws.com/doc/2010-05-08/"));
    }

    #[tokio::test]
    async fn malformed_bodies_are_answered_in_xml() {
        let e = env();
        let k = e.alice();
        for body in [
            "Action=GetCallerIdentity%zz",
            "Action=GetCallerIdentity&Action=AssumeRole",
        ] {
            let r = e.query(&k, "sts", "/", body).await;
            assert_eq!(r.status, 400, "{body}: {}", r.body);
            assert_eq!(r.content_type, "text/xml");
            assert!(r.body.starts_with(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
            ));
        }
        // Not UTF-8 once decoded.
        let r = e
            .query(&k, "sts", "/", "Action=GetCallerIdentity&X=%FF")
            .await;
        r.assert_error(400, "MalformedQueryString");
    }

    // ------------------------------------------------------------------- IAM

    #[tokio::test]
    async fn iam_reads_describe_users_roles_and_instance_profiles() {
        let e = env();
        let k = e.alice();
        let (role_id, user_id, profile_id) = {
            let w = e.sim.world();
            let a = &w.aws.accounts[ACCOUNT];
            (
                a.roles["web-role"].role_id.clone(),
                a.users["alice"].user_id.clone(),
                a.instance_profiles["web"].id.clone(),
            )
        };

        let r = e
            .query(
                &k,
                "iam",
                "/",
                "Action=GetRole&Version=2010-05-08&RoleName=web-role",
            )
            .await;
        r.assert_ok_xml();
        assert!(r.body.starts_with("<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <GetRoleResult>\n    <Role>\n      <Path>/</Path>\n"));
        assert_eq!(r.el("Arn"), "arn:aws:iam::111122223333:role/web-role");
        assert_eq!(r.el("RoleId"), role_id);
        assert_eq!(r.el("MaxSessionDuration"), "3600");
        assert_eq!(r.el("CreateDate"), "1970-01-01T00:00:00Z");
        let policy = percent_encoding::percent_decode_str(&r.el("AssumeRolePolicyDocument"))
            .decode_utf8()
            .unwrap()
            .into_owned();
        let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
        assert_eq!(
            policy["Statement"][0]["Principal"]["Service"],
            "ec2.amazonaws.com"
        );

        let r = e
            .query(
                &k,
                "iam",
                "/",
                "Action=GetRole&Version=2010-05-08&RoleName=app-role",
            )
            .await;
        let policy = percent_encoding::percent_decode_str(&r.el("AssumeRolePolicyDocument"))
            .decode_utf8()
            .unwrap()
            .into_owned();
        assert!(
            policy.contains("\"AWS\":\"arn:aws:iam::111122223333:user/alice\""),
            "{policy}"
        );

        let r = e
            .query(&k, "iam", "/", "Action=GetUser&Version=2010-05-08")
            .await;
        r.assert_ok_xml();
        assert_eq!(r.el("UserId"), user_id);
        assert_eq!(r.el("Arn"), "arn:aws:iam::111122223333:user/alice");
        let r = e
            .query(
                &k,
                "iam",
                "/",
                "Action=GetUser&Version=2010-05-08&UserName=alice",
            )
            .await;
        assert_eq!(r.el("UserName"), "alice");

        let r = e
            .query(
                &k,
                "iam",
                "/",
                "Action=GetInstanceProfile&Version=2010-05-08&InstanceProfileName=web",
            )
            .await;
        r.assert_ok_xml();
        assert_eq!(r.el("InstanceProfileId"), profile_id);
        assert!(profile_id.starts_with("AIPA"));
        assert!(r.body.contains("<Roles>\n        <member>\n"));
        assert!(r
            .body
            .contains("<Arn>arn:aws:iam::111122223333:role/web-role</Arn>"));
        assert!(r
            .body
            .contains("<Arn>arn:aws:iam::111122223333:instance-profile/web</Arn>"));
    }

    #[tokio::test]
    async fn iam_names_nobody_knows_are_no_such_entity() {
        let e = env();
        let k = e.alice();
        let cases = [
            (
                "GetRole&RoleName=ghost",
                "The role with name ghost cannot be found.",
            ),
            (
                "GetUser&UserName=ghost",
                "The user with name ghost cannot be found.",
            ),
            (
                "GetInstanceProfile&InstanceProfileName=ghost",
                "Instance Profile ghost cannot be found.",
            ),
        ];
        for (q, message) in cases {
            let r = e
                .query(&k, "iam", "/", &format!("Action={q}&Version=2010-05-08"))
                .await;
            r.assert_error(404, "NoSuchEntity");
            assert_eq!(r.el("Message"), message);
            assert!(r.body.starts_with(
                "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n"
            ));
        }
    }

    #[tokio::test]
    async fn a_role_deleted_and_recreated_gets_a_new_role_id() {
        let e = env();
        let k = e.alice();
        let get = "Action=GetRole&Version=2010-05-08&RoleName=app-role";
        let before = e.query(&k, "iam", "/", get).await.el("RoleId");
        {
            let mut w = e.sim.world_mut();
            w.aws.delete_role(ACCOUNT, "app-role").unwrap();
        }
        e.query(&k, "iam", "/", get)
            .await
            .assert_error(404, "NoSuchEntity");
        {
            let mut w = e.sim.world_mut();
            w.aws.add_role(ACCOUNT, "app-role", "/", e.clock.now());
        }
        let after = e.query(&k, "iam", "/", get).await.el("RoleId");
        assert!(after.starts_with("AROA"));
        assert_ne!(before, after);
    }

    #[tokio::test]
    async fn the_global_sts_endpoint_must_be_signed_for_us_east_1() {
        let e = env();
        let gci = "Action=GetCallerIdentity&Version=2011-06-15";
        let r = e
            .send(signed(&e.alice(), "sts", "eu-west-1", "/", gci, e.now()))
            .await;
        r.assert_error(403, "SignatureDoesNotMatch");
        assert!(
            r.body.contains(
                "<Message>Credential should be scoped to a valid region, not 'eu-west-1'. </Message>"
            ),
            "{}",
            r.body
        );
        let r = e
            .send(signed(&e.alice(), "sts", "us-east-1", "/", gci, e.now()))
            .await;
        r.assert_ok_xml();
    }

    #[tokio::test]
    async fn iam_must_be_signed_for_us_east_1() {
        let e = env();
        let r = e
            .send(signed(
                &e.alice(),
                "iam",
                "eu-west-1",
                "/",
                "Action=GetUser&Version=2010-05-08",
                e.now(),
            ))
            .await;
        r.assert_error(403, "SignatureDoesNotMatch");
        assert!(r.body.contains("https://iam.amazonaws.com/doc/2010-05-08/"));
    }

    // ------------------------------------------------------------------- EC2

    #[tokio::test]
    async fn describe_instances_reports_the_instance_and_its_profile() {
        let e = env();
        let body = format!("Action=DescribeInstances&Version=2016-11-15&InstanceId.1={INSTANCE}");
        let r = e.query(&e.alice(), "ec2", "/", &body).await;
        r.assert_ok_xml();
        assert!(r.body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n    <requestId>"));
        assert_eq!(r.el("instanceId"), INSTANCE);
        assert_eq!(r.el("ownerId"), ACCOUNT);
        assert_eq!(r.el("name"), "running");
        assert_eq!(r.el("code"), "16");
        assert_eq!(r.el("availabilityZone"), "us-east-1a");
        assert!(r.el("reservationId").starts_with("r-"));
        assert!(r.el("imageId").starts_with("ami-"));
        assert!(r.el("subnetId").starts_with("subnet-"));
        assert!(r.el("vpcId").starts_with("vpc-"));
        assert_eq!(
            r.el("arn"),
            "arn:aws:iam::111122223333:instance-profile/web"
        );
        assert!(r.el("id").starts_with("AIPA"));

        let all = e
            .query(
                &e.alice(),
                "ec2",
                "/",
                "Action=DescribeInstances&Version=2016-11-15",
            )
            .await;
        assert_eq!(all.el("instanceId"), INSTANCE);
    }

    #[tokio::test]
    async fn describe_instances_with_an_unknown_id_is_not_found_in_the_ec2_envelope() {
        let e = env();
        let body = "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0";
        let r = e.query(&e.alice(), "ec2", "/", body).await;
        r.assert_error(400, "InvalidInstanceID.NotFound");
        assert_eq!(
            r.el("Message"),
            "The instance ID 'i-0123456789abcdef0' does not exist"
        );
        assert!(r.body.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>"
        ));
        assert_eq!(r.el("RequestID"), r.request_id.clone().unwrap());

        // EC2 is regional: the instance lives in us-east-1.
        let body = format!("Action=DescribeInstances&Version=2016-11-15&InstanceId.1={INSTANCE}");
        let r = e
            .send(signed(&e.alice(), "ec2", "us-west-2", "/", &body, e.now()))
            .await;
        r.assert_error(400, "InvalidInstanceID.NotFound");
    }

    #[tokio::test]
    async fn ec2_answers_bad_signatures_with_auth_failure() {
        let e = env();
        let mut k = e.alice();
        k.secret.push('x');
        let r = e
            .query(
                &k,
                "ec2",
                "/",
                "Action=DescribeInstances&Version=2016-11-15",
            )
            .await;
        r.assert_error(401, "AuthFailure");
        let r = e
            .query(
                &e.alice(),
                "ec2",
                "/",
                "Action=RunInstances&Version=2016-11-15",
            )
            .await;
        r.assert_error(400, "InvalidAction");
    }

    // ------------------------------------------------------------------- IMDS

    async fn imds(e: &Env, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        e.send(b.body(Body::empty()).unwrap()).await
    }

    #[tokio::test]
    async fn imdsv2_credentials_sign_as_the_instance_role() {
        let e = env();
        let t = imds(
            &e,
            "PUT",
            "/latest/api/token",
            &[("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
        )
        .await;
        assert_eq!(t.status, 200, "{}", t.body);
        let token = t.body.clone();
        let auth = [("x-aws-ec2-metadata-token", token.as_str())];

        let roles = imds(
            &e,
            "GET",
            "/latest/meta-data/iam/security-credentials/",
            &auth,
        )
        .await;
        assert_eq!((roles.status, roles.body.as_str()), (200, "web-role"));
        let c = imds(
            &e,
            "GET",
            "/latest/meta-data/iam/security-credentials/web-role",
            &auth,
        )
        .await;
        assert_eq!(c.status, 200);
        assert!(
            c.body.starts_with("{\n  \"Code\" : \"Success\",\n"),
            "{}",
            c.body
        );
        let v: serde_json::Value = serde_json::from_str(&c.body).unwrap();
        assert_eq!(v["Type"], "AWS-HMAC");
        assert_eq!(v["Expiration"], "2023-11-15T04:13:20Z");
        let keys = Keys {
            id: v["AccessKeyId"].as_str().unwrap().to_owned(),
            secret: v["SecretAccessKey"].as_str().unwrap().to_owned(),
            token: Some(v["Token"].as_str().unwrap().to_owned()),
        };
        assert!(keys.id.starts_with("ASIA"));

        let who = e.query(&keys, "sts", "//", GCI_BODY).await;
        who.assert_ok_xml();
        assert_eq!(
            who.el("Arn"),
            format!("arn:aws:sts::111122223333:assumed-role/web-role/{INSTANCE}")
        );
        let role_id = e.sim.world().aws.accounts[ACCOUNT].roles["web-role"]
            .role_id
            .clone();
        assert_eq!(who.el("UserId"), format!("{role_id}:{INSTANCE}"));

        for (path, want) in [
            ("/latest/meta-data/instance-id", INSTANCE),
            (
                "/latest/meta-data/placement/availability-zone",
                "us-east-1a",
            ),
            ("/latest/meta-data/placement/region", "us-east-1"),
        ] {
            let r = imds(&e, "GET", path, &auth).await;
            assert_eq!((r.status, r.body.as_str()), (200, want), "{path}");
        }
        let info = imds(&e, "GET", "/latest/meta-data/iam/info", &auth).await;
        let v: serde_json::Value = serde_json::from_str(&info.body).unwrap();
        assert_eq!(
            v["InstanceProfileArn"],
            "arn:aws:iam::111122223333:instance-profile/web"
        );
    }

    #[tokio::test]
    async fn imds_refuses_bad_tokens_and_ttls() {
        let e = env();
        for ttl in [None, Some("0"), Some("21601"), Some("abc")] {
            let h: Vec<(&str, &str)> = ttl
                .map(|t| vec![("x-aws-ec2-metadata-token-ttl-seconds", t)])
                .unwrap_or_default();
            let r = imds(&e, "PUT", "/latest/api/token", &h).await;
            assert_eq!(r.status, 400, "{ttl:?}");
            assert_eq!(r.content_type, "text/html");
            assert!(r.body.contains("<title>400 - Bad Request</title>"));
        }
        let t = imds(
            &e,
            "PUT",
            "/latest/api/token",
            &[("x-aws-ec2-metadata-token-ttl-seconds", "60")],
        )
        .await;
        assert_eq!(t.status, 200);
        let bad = imds(
            &e,
            "GET",
            "/latest/meta-data/instance-id",
            &[("x-aws-ec2-metadata-token", "nope")],
        )
        .await;
        assert_eq!(bad.status, 401);
        e.clock.advance(Duration::from_secs(61)).unwrap();
        let expired = imds(
            &e,
            "GET",
            "/latest/meta-data/instance-id",
            &[("x-aws-ec2-metadata-token", &t.body)],
        )
        .await;
        assert_eq!(expired.status, 401);

        // IMDSv1 (no token) is allowed by default, and can be turned off.
        let v1 = imds(&e, "GET", "/latest/meta-data/instance-id", &[]).await;
        assert_eq!((v1.status, v1.body.as_str()), (200, INSTANCE));
        e.sim.world_mut().aws.imds_v1_allowed = false;
        let v1 = imds(&e, "GET", "/latest/meta-data/instance-id", &[]).await;
        assert_eq!(v1.status, 401);

        let missing = imds(
            &e,
            "GET",
            "/latest/meta-data/nothing-here",
            &[(
                "x-aws-ec2-metadata-token",
                &imds(
                    &e,
                    "PUT",
                    "/latest/api/token",
                    &[("x-aws-ec2-metadata-token-ttl-seconds", "60")],
                )
                .await
                .body,
            )],
        )
        .await;
        assert_eq!(missing.status, 404);
        assert!(missing.body.contains("<h1>404 - Not Found</h1>"));
    }

    #[tokio::test]
    async fn the_identity_document_signature_verifies_with_the_identity_certificate() {
        let e = env();
        let doc = imds(&e, "GET", "/latest/dynamic/instance-identity/document", &[]).await;
        assert_eq!(doc.status, 200);
        assert!(
            doc.body
                .starts_with("{\n  \"accountId\" : \"111122223333\",\n"),
            "{}",
            doc.body
        );
        let v: serde_json::Value = serde_json::from_str(&doc.body).unwrap();
        assert_eq!(v["instanceId"], INSTANCE);
        assert_eq!(v["region"], "us-east-1");
        assert_eq!(v["billingProducts"], serde_json::Value::Null);

        let sig = imds(
            &e,
            "GET",
            "/latest/dynamic/instance-identity/signature",
            &[],
        )
        .await;
        use base64::Engine as _;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(sig.body.trim())
            .unwrap();
        let key = e.sim.world().aws.identity_key.clone();
        let m = key.material();
        // The public key in the certificate Vault is given (`config/certificate`).
        let cert_der = base64::engine::general_purpose::STANDARD
            .decode(
                m.cert_pem
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let n = b64url.decode(&m.n).unwrap();
        let e_ = b64url.decode(&m.e).unwrap();
        assert!(
            cert_der.windows(n.len()).any(|w| w == n.as_slice()),
            "certificate carries the key"
        );
        ring::signature::RsaPublicKeyComponents { n: &n, e: &e_ }
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                doc.body.as_bytes(),
                &sig,
            )
            .expect("the identity signature verifies");
    }

    #[tokio::test]
    async fn the_pkcs7_documents_are_signed_data_over_the_identity_document() {
        use base64::Engine as _;
        use cms::cert::x509::der::asn1::OctetString;
        use cms::cert::x509::der::{Decode, Encode};
        use cms::content_info::ContentInfo;
        use cms::signed_data::{SignedData, SignerIdentifier};
        use sha2::Digest as _;

        let e = env();
        let doc = imds(&e, "GET", "/latest/dynamic/instance-identity/document", &[])
            .await
            .body;
        let key = e.sim.world().aws.identity_key.clone();
        let m = key.material();
        let b64 = base64::engine::general_purpose::STANDARD;
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let cert_der = b64
            .decode(
                m.cert_pem
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        let cert = cms::cert::x509::Certificate::from_der(&cert_der).unwrap();
        for path in ["pkcs7", "rsa2048"] {
            let r = imds(
                &e,
                "GET",
                &format!("/latest/dynamic/instance-identity/{path}"),
                &[],
            )
            .await;
            assert_eq!(r.status, 200, "{path}");
            assert!(r.body.lines().all(|l| l.len() <= 64));
            let der = b64.decode(r.body.replace('\n', "")).unwrap();
            let ci = ContentInfo::from_der(&der).unwrap();
            assert_eq!(ci.content_type.to_string(), "1.2.840.113549.1.7.2");
            let sd: SignedData = ci.content.decode_as().unwrap();
            let content: OctetString = sd.encap_content_info.econtent.unwrap().decode_as().unwrap();
            assert_eq!(content.as_bytes(), doc.as_bytes());

            let si = sd.signer_infos.0.iter().next().unwrap();
            let SignerIdentifier::IssuerAndSerialNumber(sid) = &si.sid else {
                panic!("signer named by issuer and serial")
            };
            assert_eq!(sid.serial_number, cert.tbs_certificate.serial_number);
            assert_eq!(sid.issuer, cert.tbs_certificate.issuer);
            let attrs = si.signed_attrs.as_ref().unwrap();
            let digest: OctetString = attrs
                .iter()
                .find(|a| a.oid.to_string() == "1.2.840.113549.1.9.4")
                .unwrap()
                .values
                .iter()
                .next()
                .unwrap()
                .decode_as()
                .unwrap();
            assert_eq!(
                digest.as_bytes(),
                sha2::Sha256::digest(doc.as_bytes()).as_slice()
            );
            let n = b64url.decode(&m.n).unwrap();
            let e_ = b64url.decode(&m.e).unwrap();
            ring::signature::RsaPublicKeyComponents { n: &n, e: &e_ }
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    &attrs.to_der().unwrap(),
                    si.signature.as_bytes(),
                )
                .expect("the signed attributes verify with the identity key");
        }
    }

    // ------------------------------------------------------------------- a real socket

    #[tokio::test]
    async fn a_real_client_gets_caller_identity_from_the_aws_listener() {
        let e = env();
        let opts = authsim_mocks::MockCloudOptions {
            google_port: None,
            ..Default::default()
        };
        let cloud = authsim_mocks::MockCloud::start(e.sim.clone(), opts)
            .await
            .unwrap();
        let base = cloud.aws_url().unwrap();

        let mut req = Request::post("https://sts.amazonaws.com/")
            .header("host", "sts.amazonaws.com")
            .header("content-type", FORM)
            .body(GCI_BODY.as_bytes().to_vec())
            .unwrap();
        sign_request(
            &mut req,
            &e.alice(),
            "sts",
            "us-east-1",
            e.now(),
            SigningSettings::default(),
        );
        let client = reqwest::Client::new();
        // As Vault forwards it: to `sts_endpoint` + `//`, with the client's Host header.
        let mut rb = client.post(format!("{base}//"));
        for (k, v) in req.headers() {
            rb = rb.header(k.as_str(), v.to_str().unwrap());
        }
        let resp = rb.body(req.body().clone()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/xml");
        assert!(resp.headers().contains_key("x-amzn-requestid"));
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("<Arn>arn:aws:iam::111122223333:user/alice</Arn>"),
            "{body}"
        );

        // The catch-all routes leave the admin API and the metadata service reachable.
        let health = client
            .get(format!("{base}/__authsim/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        let id = client
            .get(format!("{base}/latest/meta-data/instance-id"))
            .send()
            .await
            .unwrap();
        assert_eq!(id.text().await.unwrap(), INSTANCE);
        let journal = e.sim.journal().since(0);
        assert!(journal.iter().any(|j| j.path == "//" && j.status == 200));
        cloud.shutdown().await;
    }
}
