//! The login error catalogue of reference gcp.md section 4, row by row in processing order:
//! every message that can be triggered from outside, with its exact text and status; the rest
//! listed with the reason they cannot be.

use std::time::Duration;

use authsim_mocks::clock::Clock;
use authsim_mocks::faults::{Fault, FaultKind, FaultMatch};
use authsim_mocks::vault::backend::{LoginOutcome, VaultError};
use serde_json::json;

use super::auth_gcp::{err, v, APP, CI, PROJECT, V};

/// Every login message of reference gcp.md section 4, as format strings.
const CATALOGUE: &[&str] = &[
    "unknown fields: [\"k\"]",
    "role is required",
    "role \"X\" not found",
    "jwt argument is required",
    "unable to retrieve GCP configuration",
    "unable to parse signed JWT: <go-jose>",
    "unable to get public key for signed JWT: expected token to have exactly one header",
    "unable to get public key for signed JWT: expected 'sub' claim from JWT",
    "unable to get public key for signed JWT: unable to get public key \"KID\" for JWT subject \"SUB\": service account \"KID\" key \"SUB\" not found at GET \"URL\"",
    "unable to get public key for signed JWT: unable to get public key \"KID\" for JWT subject \"SUB\": no Google OAuth2 provider key found for GCE role",
    "go-jose/go-jose: error in cryptographic primitive",
    "JWT is expired or does not have proper 'exp' claim",
    "JWT must expire in 60 minutes, expires in <dur>",
    "expected JWT to have 'sub' claim with service account id or email",
    "at least one of the JWT claim 'aud' must end in \"vault/ROLE\"",
    "expected JWT to have claims with GCE metadata",
    "permission denied",
    "login against role type \"x\" is unsupported",
    "role requires that service account JWTs expire within N seconds",
    "could not find service account 'projects/-/serviceAccounts/SUB': <googleapi err>",
    "service account is empty",
    "unable to create alias: invalid IAM alias type: must be one of: role_id, unique_id",
    "service account \"EMAIL\" not in bound projects [..]",
    "service account EMAIL (id: UID) is not authorized for role",
    "CRM getAncestry error text",
    "instance \"ID\" (project \"P\") not in bound projects [..]",
    "error when attempting to find instance (project P, zone: Z, instance: N) :<err>",
    "AuthorizeGCE messages (section 2.2)",
    "Could not find service account \"SUB\" used for GCE metadata token: could not find service account 'projects/-/serviceAccounts/SUB': <err>",
];

/// Rows that cannot be triggered through `handle()`, and why.
const NOT_TRIGGERABLE: &[(&str, &str)] = &[
    (
        "unable to retrieve GCP configuration",
        "a storage read error; the backend keeps its state in memory",
    ),
    (
        "unable to get public key for signed JWT: expected token to have exactly one header",
        "go-jose v4's jwt.ParseSigned accepts only the compact form, which has exactly one signature",
    ),
    (
        "login against role type \"x\" is unsupported",
        "role writes accept only iam and gce",
    ),
    (
        "service account is empty",
        "serviceAccounts.get either fails or returns an account",
    ),
];

/// How a row's message is compared.
#[derive(Debug, Clone, Copy)]
enum Cmp {
    Exact,
    /// The googleapi text may carry `Details:` JSON after this prefix.
    Prefix,
}

#[derive(Default)]
struct Table {
    covered: Vec<&'static str>,
    failures: Vec<String>,
}

impl Table {
    fn row(
        &mut self,
        format: &'static str,
        label: &str,
        got: Result<LoginOutcome, VaultError>,
        status: u16,
        message: &str,
        cmp: Cmp,
    ) {
        self.covered.push(format);
        let (s, m) = match got {
            Ok(o) => (200, format!("login succeeded as {}", o.display_name)),
            Err(e) => (e.status, e.errors.first().cloned().unwrap_or_default()),
        };
        let ok = s == status
            && match cmp {
                Cmp::Exact => m == message,
                Cmp::Prefix => m.starts_with(message),
            };
        if !ok {
            self.failures.push(format!(
                "{label}\n   want {status} {message:?}\n   got  {s} {m:?}"
            ));
        }
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} rows differ:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn fault(v: &V, path: &str, status: u16) {
    v.sim.faults().add(Fault {
        id: 0,
        listener: "google".into(),
        matches: FaultMatch {
            path: Some(path.into()),
            ..Default::default()
        },
        kind: FaultKind::Status {
            status,
            code: None,
            message: None,
            content_type: None,
        },
        remaining: None,
        probability: None,
    });
}

fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

fn denied_get() -> &'static str {
    "googleapi: Error 403: Permission 'iam.serviceAccounts.get' denied on resource (or it may not exist)."
}

#[tokio::test]
async fn vault_gcp_login_error_catalogue_in_processing_order() {
    let mut t = Table::default();
    let v = v().await;
    v.iam_role("app", json!({})).await;
    v.iam_role("ci-only", json!({ "bound_service_accounts": [CI] }))
        .await;
    v.iam_role("app-proj", json!({ "bound_projects": ["other-project"] }))
        .await;
    v.gce_role("vm", json!({})).await;
    let now = v.now();
    let uid = v.unique_id(APP);
    let good = v.iam_jwt("app").await;

    // 1. Field check (422), before anything else.
    let r = v
        .write(
            "login",
            json!({ "role": "app", "jwt": good, "zeta": 1, "alpha": 2 }),
        )
        .await
        .map(|_| unreachable!("a login with extra fields"));
    t.row(
        CATALOGUE[0],
        "extra fields",
        r,
        422,
        "unknown fields: [\"alpha\" \"zeta\"]",
        Cmp::Exact,
    );

    // 2. parse (400).
    t.row(
        CATALOGUE[1],
        "no role",
        v.login("", &good).await,
        400,
        "role is required",
        Cmp::Exact,
    );
    t.row(
        CATALOGUE[2],
        "unknown role, named as sent",
        v.login("NoSuch", &good).await,
        400,
        "role \"NoSuch\" not found",
        Cmp::Exact,
    );
    t.row(
        CATALOGUE[3],
        "no jwt",
        v.login_data(json!({ "role": "app" })).await,
        400,
        "jwt argument is required",
        Cmp::Exact,
    );
    // A `jwt` key is given whatever its value (`GetOk`): empty and null go to the parse.
    for (name, jwt) in [("empty jwt", json!("")), ("null jwt", json!(null))] {
        t.row(
            CATALOGUE[5],
            name,
            v.login_data(json!({ "role": "app", "jwt": jwt })).await,
            400,
            "unable to parse signed JWT: go-jose/go-jose: compact JWS format must have three parts",
            Cmp::Exact,
        );
    }
    // go-jose decodes each part as unpadded base64url: `=` is a byte outside the alphabet.
    let (head, rest) = good.split_once('.').unwrap();
    t.row(
        CATALOGUE[5],
        "padded header",
        v.login("app", &format!("{head}==.{rest}")).await,
        400,
        &format!(
            "unable to parse signed JWT: illegal base64 data at input byte {}",
            head.len()
        ),
        Cmp::Exact,
    );
    // UNVERIFIED: reference gcp.md 1.3, go-jose's wording.
    t.row(
        CATALOGUE[5],
        "not a JWS",
        v.login("app", "not-a-jwt").await,
        400,
        "unable to parse signed JWT: go-jose/go-jose: compact JWS format must have three parts",
        Cmp::Exact,
    );
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &v.iam_claims("app"),
        &jsonwebtoken::EncodingKey::from_secret(b"k"),
    )
    .unwrap();
    t.row(
        CATALOGUE[5],
        "algorithm outside RS256/ES256/HS256",
        v.login("app", &hs512).await,
        400,
        "unable to parse signed JWT: unexpected signature algorithm \"HS512\"; expected [\"RS256\" \"ES256\" \"HS256\"]",
        Cmp::Exact,
    );
    let no_sub = v
        .sign_as_app(&json!({ "aud": "vault/app", "exp": now + 600 }))
        .await;
    t.row(
        CATALOGUE[7],
        "kid not a Google key and no sub to look up",
        v.login("app", &no_sub).await,
        400,
        "unable to get public key for signed JWT: expected 'sub' claim from JWT",
        Cmp::Exact,
    );
    // Signed with the CI runner's key but claiming to be app: app's x509 keys lack that kid.
    let wrong_key = v.self_signed(&v.key_file(CI), &v.iam_claims("app"));
    let k = kid(&wrong_key);
    t.row(
        CATALOGUE[8],
        "unknown kid",
        v.login("app", &wrong_key).await,
        400,
        &format!(
            "unable to get public key for signed JWT: unable to get public key \"{k}\" for JWT subject \"{APP}\": service account \"{k}\" key \"{APP}\" not found at GET \"{}/service_accounts/v1/metadata/x509/{APP}?alt=json\"",
            v.base
        ),
        Cmp::Exact,
    );
    // getJWTSubject runs for gce roles too, before the role type is asked.
    t.row(
        CATALOGUE[7],
        "gce role, kid not a Google key and no sub",
        v.login("vm", &no_sub).await,
        400,
        "unable to get public key for signed JWT: expected 'sub' claim from JWT",
        Cmp::Exact,
    );
    let iam_for_vm = v.sign_as_app(&v.iam_claims("vm")).await;
    t.row(
        CATALOGUE[9],
        "signJwt token for a gce role",
        v.login("vm", &iam_for_vm).await,
        400,
        &format!(
            "unable to get public key for signed JWT: unable to get public key \"{}\" for JWT subject \"{APP}\": no Google OAuth2 provider key found for GCE role",
            kid(&iam_for_vm)
        ),
        Cmp::Exact,
    );
    let other = v
        .sign_as_app(&json!({ "sub": APP, "aud": "vault/app", "exp": now + 601 }))
        .await;
    let mut parts: Vec<&str> = good.split('.').collect();
    parts[1] = other.split('.').nth(1).unwrap();
    let tampered = parts.join(".");
    t.row(
        CATALOGUE[10],
        "payload swapped under the signature",
        v.login("app", &tampered).await,
        400,
        "go-jose/go-jose: error in cryptographic primitive",
        Cmp::Exact,
    );
    let no_exp = v
        .sign_as_app(&json!({ "sub": APP, "aud": "vault/app" }))
        .await;
    t.row(
        CATALOGUE[11],
        "exp missing",
        v.login("app", &no_exp).await,
        400,
        "JWT is expired or does not have proper 'exp' claim",
        Cmp::Exact,
    );
    let far = v
        .sign_as_app(&json!({ "sub": APP, "aud": "vault/app", "exp": now + 5400 }))
        .await;
    t.row(
        CATALOGUE[12],
        "exp 90 minutes away",
        v.login("app", &far).await,
        400,
        "JWT must expire in 60 minutes, expires in 1h30m0s",
        Cmp::Exact,
    );
    let just_over = v
        .sign_as_app(&json!({ "sub": APP, "aud": "vault/app", "exp": now + 3661 }))
        .await;
    t.row(
        CATALOGUE[12],
        "exp 61 minutes 1 second away (60 s tolerance)",
        v.login("app", &just_over).await,
        400,
        "JWT must expire in 60 minutes, expires in 1h1m1s",
        Cmp::Exact,
    );
    let google_no_sub = v.google_signed(&json!({ "aud": "vault/app", "exp": now + 600 }));
    t.row(
        CATALOGUE[13],
        "Google-signed token without sub",
        v.login("app", &google_no_sub).await,
        400,
        "expected JWT to have 'sub' claim with service account id or email",
        Cmp::Exact,
    );
    for aud in [
        json!("vault/other"),
        json!("app/vault"),
        json!(["vault/app", "vault/other"]),
    ] {
        let jwt = v
            .sign_as_app(&json!({ "sub": APP, "aud": aud, "exp": now + 600 }))
            .await;
        t.row(
            CATALOGUE[14],
            &format!("aud {aud}"),
            v.login("app", &jwt).await,
            400,
            "at least one of the JWT claim 'aud' must end in \"vault/app\"",
            Cmp::Exact,
        );
    }
    let standard = v.gce_jwt("http://vault/vm", "standard").await;
    t.row(
        CATALOGUE[15],
        "gce token without format=full",
        v.login("vm", &standard).await,
        400,
        "expected JWT to have claims with GCE metadata",
        Cmp::Exact,
    );

    // 3. iam login (pathIamLogin).
    let over = v
        .sign_as_app(&json!({ "sub": APP, "aud": "vault/app", "exp": now + 901 }))
        .await;
    t.row(
        CATALOGUE[18],
        "exp beyond max_jwt_exp (no tolerance)",
        v.login("app", &over).await,
        400,
        "role requires that service account JWTs expire within 900 seconds",
        Cmp::Exact,
    );
    // A 1-hour GCE identity token sent to an iam role is a plain SA JWT; max_jwt_exp applies.
    let gce_for_iam = v.gce_jwt("http://vault/app", "full").await;
    t.row(
        CATALOGUE[18],
        "gce token to an iam role (reference gcp.md 1.8)",
        v.login("app", &gce_for_iam).await,
        400,
        "role requires that service account JWTs expire within 900 seconds",
        Cmp::Exact,
    );
    t.row(
        CATALOGUE[22],
        "account outside bound_projects",
        v.login("app-proj", &v.iam_jwt("app-proj").await).await,
        400,
        &format!("service account \"{APP}\" not in bound projects [other-project]"),
        Cmp::Exact,
    );
    t.row(
        CATALOGUE[23],
        "account not bound",
        v.login("ci-only", &v.iam_jwt("ci-only").await).await,
        400,
        &format!("service account {APP} (id: {uid}) is not authorized for role"),
        Cmp::Exact,
    );

    // 4. gce login (pathGceLogin, AuthorizeGCE).
    let gce = |role: &'static str| {
        let v = &v;
        async move { v.gce_jwt(&format!("http://vault/{role}"), "full").await }
    };
    let instance_id = v.sim.world().gcp.instances["app-vm-1"].id.to_string();
    v.gce_role("vm-proj", json!({ "bound_projects": ["other-project"] }))
        .await;
    t.row(
        CATALOGUE[25],
        "instance outside bound_projects",
        v.login("vm-proj", &gce("vm-proj").await).await,
        400,
        &format!("instance \"{instance_id}\" (project \"{PROJECT}\") not in bound projects [other-project]"),
        Cmp::Exact,
    );
    let gce_rows: [(&str, serde_json::Value, String); 5] = [
        ("vm-label", json!({ "bound_labels": ["env:prod"] }), "instance missing bound label \"env:prod\"".into()),
        ("vm-zone", json!({ "bound_zones": ["us-east1-b"] }), "instance not in bound zones [\"us-east1-b\"]".into()),
        (
            "vm-region",
            json!({ "bound_zones": [], "bound_regions": ["us-east1"], "bound_instance_groups": [] }),
            "instance not in bound regions [\"us-east1\"]".into(),
        ),
        (
            "vm-group",
            json!({ "bound_instance_groups": ["nope"] }),
            format!("instance group \"nope\" does not exist in zones [\"us-central1-a\"] for project \"{PROJECT}\""),
        ),
        (
            "vm-sa",
            json!({ "bound_service_accounts": [CI] }),
            format!("service account \"{uid}\" (\"{APP}\") is not in bound service accounts [\"{CI}\"]"),
        ),
    ];
    for (role, extra, message) in gce_rows {
        v.gce_role(role, extra).await;
        t.row(
            CATALOGUE[27],
            role,
            v.login(role, &gce(role).await).await,
            400,
            &message,
            Cmp::Exact,
        );
    }

    // 5. Rows that change the world, the config or the clock: each on its own mocks.
    {
        let v = super::auth_gcp::v().await;
        v.iam_role("app", json!({})).await;
        v.write("config", json!({ "iam_alias": "bogus" }))
            .await
            .unwrap();
        t.row(
            CATALOGUE[21],
            "iam_alias neither role_id nor unique_id",
            v.login("app", &v.iam_jwt("app").await).await,
            400,
            "unable to create alias: invalid IAM alias type: must be one of: role_id, unique_id",
            Cmp::Exact,
        );
        v.gce_role("vm", json!({})).await;
        v.write("config", json!({ "gce_alias": "bogus" }))
            .await
            .unwrap();
        // UNVERIFIED: by analogy with the IAM alias message.
        t.row(
            CATALOGUE[27],
            "gce_alias neither role_id nor instance_id",
            v.login("vm", &v.gce_jwt("http://vault/vm", "full").await)
                .await,
            400,
            "unable to create alias: invalid GCE alias type: must be one of: instance_id, role_id",
            Cmp::Exact,
        );
    }
    {
        let v = super::auth_gcp::v().await;
        v.iam_role("app", json!({})).await;
        let jwt = v
            .sign_as_app(&json!({ "sub": APP, "aud": "vault/app", "exp": v.now() + 10 }))
            .await;
        v.clock.advance(Duration::from_secs(71)).unwrap();
        t.row(
            CATALOGUE[11],
            "expired 61 s ago (beyond the 60 s tolerance)",
            v.login("app", &jwt).await,
            400,
            "JWT is expired or does not have proper 'exp' claim",
            Cmp::Exact,
        );
    }
    {
        let v = super::auth_gcp::v().await;
        v.iam_role("app", json!({})).await;
        v.gce_role("vm", json!({ "bound_service_accounts": [] }))
            .await;
        let jwt = v.iam_jwt("app").await;
        let gce_jwt = v.gce_jwt("http://vault/vm", "full").await;
        v.revoke_vault_role("roles/iam.serviceAccountViewer");
        t.row(
            CATALOGUE[19],
            "Vault's account lacks iam.serviceAccounts.get",
            v.login("app", &jwt).await,
            500,
            &format!(
                "could not find service account 'projects/-/serviceAccounts/{APP}': {}",
                denied_get()
            ),
            Cmp::Prefix,
        );
        t.row(
            CATALOGUE[28],
            "gce: the account lookup for metadata fails",
            v.login("vm", &gce_jwt).await,
            400,
            &format!(
                "Could not find service account \"{uid}\" used for GCE metadata token: could not find service account 'projects/-/serviceAccounts/{uid}': {}",
                denied_get()
            ),
            Cmp::Prefix,
        );
    }
    {
        let v = super::auth_gcp::v().await;
        v.iam_role("app", json!({ "add_group_aliases": true }))
            .await;
        v.revoke_vault_role("roles/browser");
        t.row(
            CATALOGUE[24],
            "getAncestry refused",
            v.login("app", &v.iam_jwt("app").await).await,
            500,
            "googleapi: Error 403: The caller does not have permission",
            Cmp::Exact,
        );
    }
    {
        let v = super::auth_gcp::v().await;
        v.gce_role("vm", json!({})).await;
        let jwt = v.gce_jwt("http://vault/vm", "full").await;
        let prefix = format!(
            "error when attempting to find instance (project {PROJECT}, zone: us-central1-a, instance: app-vm-1) :"
        );
        let created = v.sim.world().gcp.instances["app-vm-1"].creation_timestamp;
        let secs =
            |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        // Recreated with the same name an hour later.
        v.vm(|i| i.creation_timestamp = created + Duration::from_secs(3600));
        t.row(
            CATALOGUE[26],
            "instance recreated after the token was issued",
            v.login("vm", &jwt).await,
            400,
            &format!(
                "{prefix}metadata instance_creation_timestamp {} is before instance's creation time {}",
                secs(created) + 3600,
                secs(created)
            ),
            Cmp::Exact,
        );
        // Compared in fractions of a second, one second of slack: 1.5 s later is too late.
        let token_secs = secs(created);
        v.vm(|i| {
            i.creation_timestamp =
                std::time::UNIX_EPOCH + Duration::from_millis((token_secs + 1) * 1000 + 500)
        });
        t.row(
            CATALOGUE[26],
            "instance created 1.5 s after the token's creation time",
            v.login("vm", &jwt).await,
            400,
            &format!(
                "{prefix}metadata instance_creation_timestamp {} is before instance's creation time {token_secs}",
                token_secs + 1
            ),
            Cmp::Exact,
        );
        v.vm(|i| i.creation_timestamp = created);
        v.vm(|i| i.status = "TERMINATED".into());
        t.row(
            CATALOGUE[26],
            "instance stopped",
            v.login("vm", &jwt).await,
            400,
            &format!("{prefix}authenticating instance app-vm-1 found but has invalid status 'TERMINATED'"),
            Cmp::Exact,
        );
        v.sim.world_mut().gcp.instances.remove("app-vm-1");
        t.row(
            CATALOGUE[26],
            "instance deleted",
            v.login("vm", &jwt).await,
            400,
            &format!(
                "{prefix}unable to find instance associated with token: googleapi: Error 404: The resource 'projects/{PROJECT}/zones/us-central1-a/instances/app-vm-1' was not found, notFound"
            ),
            Cmp::Exact,
        );
    }
    {
        let v = super::auth_gcp::v().await;
        v.gce_role("vm", json!({ "bound_instance_groups": ["batch"] }))
            .await;
        // Another instance in the same zone is the only member of `batch`.
        {
            let mut w = v.sim.world_mut();
            let mut other = w.gcp.instances["app-vm-1"].clone();
            other.name = "batch-vm".into();
            other.id += 1;
            other.groups = vec!["batch".into()];
            w.gcp.instances.insert("batch-vm".into(), other);
        }
        let jwt = v.gce_jwt("http://vault/vm", "full").await;
        t.row(
            CATALOGUE[27],
            "instance not in the bound group",
            v.login("vm", &jwt).await,
            400,
            "instance is not part of instance groups [\"batch\"]",
            Cmp::Exact,
        );
        fault(&v, "*/listInstances", 503);
        t.row(
            CATALOGUE[27],
            "a bound group's instances cannot be listed",
            v.login("vm", &jwt).await,
            400,
            &format!(
                "failed to list instances in instance group \"batch\" for project \"{PROJECT}\": googleapi: Error 503: The service is currently unavailable."
            ),
            Cmp::Exact,
        );
        fault(&v, "*/aggregated/instanceGroups", 503);
        t.row(
            CATALOGUE[27],
            "instance groups cannot be listed",
            v.login("vm", &jwt).await,
            400,
            &format!(
                "failed to list instance groups for project \"{PROJECT}\": googleapi: Error 503: The service is currently unavailable."
            ),
            Cmp::Exact,
        );
    }
    {
        let v = super::auth_gcp::v().await;
        v.gce_role("vm", json!({})).await;
        let jwt = v.gce_jwt("http://vault/vm", "full").await;
        fault(&v, "/oauth2/v1/certs", 404);
        t.row(
            CATALOGUE[9],
            "certs endpoint 404: a gce role has no other key source",
            v.login("vm", &jwt).await,
            400,
            &format!(
                "unable to get public key for signed JWT: unable to get public key \"{}\" for JWT subject \"{uid}\": no Google OAuth2 provider key found for GCE role",
                kid(&jwt)
            ),
            Cmp::Exact,
        );
        v.iam_role("app", json!({})).await;
        fault(&v, "/service_accounts/v1/metadata/x509/*", 404);
        let iam = v.iam_jwt("app").await;
        t.row(
            CATALOGUE[8],
            "certs and x509 endpoints 404",
            v.login("app", &iam).await,
            400,
            &format!(
                "unable to get public key for signed JWT: unable to get public key \"{}\" for JWT subject \"{APP}\": googleapi: Error 404: Not found.",
                kid(&iam)
            ),
            Cmp::Exact,
        );
    }

    {
        let v = super::auth_gcp::v().await;
        v.iam_role("cidr", json!({ "token_bound_cidrs": ["10.0.0.0/8"] }))
            .await;
        let jwt = v.iam_jwt("cidr").await;
        t.row(
            CATALOGUE[16],
            "client outside token_bound_cidrs",
            v.login_from("cidr", &jwt, "127.0.0.1").await,
            403,
            "permission denied",
            Cmp::Exact,
        );
        t.row(
            CATALOGUE[16],
            "no connection info and token_bound_cidrs",
            v.login("cidr", &jwt).await,
            403,
            "permission denied",
            Cmp::Exact,
        );
        t.row(
            CATALOGUE[16],
            "client inside token_bound_cidrs",
            v.login_from("cidr", &jwt, "10.1.2.3").await,
            200,
            &format!("login succeeded as {APP}"),
            Cmp::Exact,
        );
    }

    // Every catalogue row is either covered above or listed as not triggerable.
    for format in CATALOGUE {
        let skipped = NOT_TRIGGERABLE.iter().any(|(m, _)| m == format);
        let covered = t.covered.contains(format);
        assert!(
            skipped != covered,
            "{format:?}: covered={covered} not-triggerable={skipped}"
        );
    }
    t.finish();
}

#[tokio::test]
async fn vault_gcp_unknown_fields_come_before_any_other_check() {
    let v = v().await;
    assert_eq!(
        err(v.write("login", json!({ "x": 1 })).await),
        (422, "unknown fields: [\"x\"]".into())
    );
}
