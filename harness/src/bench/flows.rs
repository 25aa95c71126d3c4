//! The load flows: what one request of each kind does, signed fresh each time unless presigned.
//!
//! Setup adds the `--identities` to the world (IAM users `load-N`, service accounts `load-N`
//! with Token Creator on themselves) and binds them all to the world's Vault roles, so every
//! login is a distinct, valid principal.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authsim_mocks::http_client::{HttpClient, HttpError};
use authsim_mocks::world::keys::{self, RsaKey};
use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};

use super::report::stage;
use crate::client::{aws as aws_client, gcp as gcp_client};
use crate::run::env::Env;

/// Every flow, as `--flow` names it.
pub const FLOWS: &[&str] = &[
    "gcp-iam",
    "gcp-iam-self-signed",
    "gcp-gce",
    "aws-iam",
    "aws-ec2",
    "approle",
    "userpass",
    "token-lookup",
    "kv-read",
    "health",
];

const EC2_NONCE: &str = "authsim-bench-nonce";
pub const LOAD_ACCOUNT: &str = "111122223333";
pub const LOAD_PROJECT: &str = "authsim-demo";
/// The TTL of the tokens the load logins create, unless the world's role sets one. Nobody uses
/// them: a short TTL lets the Vault under test revoke them as it goes, instead of keeping
/// millions of them (and growing) for the length of a run.
pub const LOAD_TOKEN_TTL: &str = "10s";

/// The world overrides for `identities` load identities (those of this worker's share), binding
/// them to the Vault roles the flows log in to.
pub fn world_overrides(identities: &[usize], base_world: &str) -> Result<toml::Table, String> {
    let base: toml::Table = base_world
        .parse()
        .map_err(|e: toml::de::Error| format!("the world: {}", e.message()))?;
    let mut t = toml::Table::new();
    let mut users = toml::Table::new();
    let mut sas = toml::Table::new();
    let mut arns = Vec::new();
    let mut emails = Vec::new();
    for i in identities {
        let name = format!("load-{i}");
        let mut u = toml::Table::new();
        u.insert("access_keys".into(), 1.into());
        users.insert(name.clone(), u.into());
        arns.push(toml::Value::from(format!(
            "arn:aws:iam::{LOAD_ACCOUNT}:user/{name}"
        )));
        let mut sa = toml::Table::new();
        sa.insert("project".into(), LOAD_PROJECT.into());
        sa.insert(
            "token_creator_on".into(),
            toml::Value::Array(vec!["self".into()]),
        );
        sa.insert("user_keys".into(), 1.into());
        sas.insert(name.clone(), sa.into());
        emails.push(toml::Value::from(format!(
            "{name}@{LOAD_PROJECT}.iam.gserviceaccount.com"
        )));
    }
    let table = |pairs: Vec<(&str, toml::Value)>| -> toml::Value {
        toml::Value::Table(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    t.insert(
        "aws".into(),
        table(vec![(
            "accounts",
            table(vec![(LOAD_ACCOUNT, table(vec![("users", users.into())]))]),
        )]),
    );
    t.insert("gcp".into(), table(vec![("service_accounts", sas.into())]));
    // The roles: the world's `app` roles with the load identities added to their bindings, and
    // a gce and an ec2 role.
    let role = |kind: &str| {
        base.get("vault")
            .and_then(|v| v.get("auth"))
            .and_then(|a| a.get(kind))
            .and_then(|a| a.get("roles"))
            .and_then(|r| r.get("app"))
            .and_then(toml::Value::as_table)
            .cloned()
    };
    let mut aws_role = role("aws").unwrap_or_default();
    let mut bound = aws_role
        .get("bound_iam_principal_arn")
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    bound.extend(arns);
    aws_role.insert("bound_iam_principal_arn".into(), toml::Value::Array(bound));
    aws_role.entry("auth_type").or_insert("iam".into());
    aws_role.entry("token_ttl").or_insert(LOAD_TOKEN_TTL.into());
    let mut gcp_role = role("gcp").unwrap_or_default();
    let mut bound = gcp_role
        .get("bound_service_accounts")
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    bound.extend(emails);
    gcp_role.insert("bound_service_accounts".into(), toml::Value::Array(bound));
    gcp_role.entry("type").or_insert("iam".into());
    gcp_role.entry("token_ttl").or_insert(LOAD_TOKEN_TTL.into());
    let ec2 = table(vec![
        ("auth_type", "ec2".into()),
        (
            "bound_account_id",
            toml::Value::Array(vec![LOAD_ACCOUNT.into()]),
        ),
        ("token_policies", toml::Value::Array(vec!["app".into()])),
        ("token_ttl", LOAD_TOKEN_TTL.into()),
    ]);
    let gce = table(vec![
        ("type", "gce".into()),
        (
            "bound_projects",
            toml::Value::Array(vec![LOAD_PROJECT.into()]),
        ),
        ("token_policies", toml::Value::Array(vec!["app".into()])),
        ("token_ttl", LOAD_TOKEN_TTL.into()),
    ]);
    t.insert(
        "vault".into(),
        table(vec![(
            "auth",
            table(vec![
                (
                    "aws",
                    table(vec![(
                        "roles",
                        table(vec![("app", aws_role.into()), ("bench-ec2", ec2)]),
                    )]),
                ),
                (
                    "gcp",
                    table(vec![(
                        "roles",
                        table(vec![("app", gcp_role.into()), ("bench-gce", gce)]),
                    )]),
                ),
            ]),
        )]),
    );
    Ok(t)
}

/// One request's result.
#[derive(Debug, Clone, Default)]
pub struct Done {
    /// HTTP status of the final request; `None` for a transport error.
    pub status: Option<u16>,
    pub ok: bool,
    /// Vault's first error, or the transport error.
    pub error: Option<String>,
    /// Stage → microseconds (`sign`, `sign_jwt`, `vault`).
    pub stages: Vec<(&'static str, u64)>,
}

/// What a flow needs, prepared before the clock starts.
#[derive(Debug)]
pub struct Flow {
    pub name: String,
    vault: String,
    root_token: String,
    mounts: BTreeMap<String, String>,
    google: String,
    aws: String,
    server_id: Option<String>,
    /// Where this flow's logins are posted.
    login_path: String,
    /// One per `--identities` IAM user.
    aws_signers: Vec<aws_client::LoadSigner>,
    /// (email, access token for its own signJwt, user key for self-signing).
    gcp: Vec<(String, String, authsim_mocks::world::RsaKey)>,
    approle: Option<(String, String)>,
    user_token: Option<String>,
    /// Login bodies (JSON), signed ahead of time with `--presign`.
    presigned: Vec<Bytes>,
    next: AtomicUsize,
    env: Arc<Env>,
    /// The client of the measured requests (the flow's own calls and signJwt).
    fast: HttpClient,
}

fn mount(mounts: &BTreeMap<String, String>, name: &str) -> String {
    mounts.get(name).cloned().unwrap_or_else(|| name.to_owned())
}

/// What [`Flow::prepare`] answers when a signal (see `interrupt_on_signals`) stopped it.
pub const INTERRUPTED: &str = "interrupted while preparing the load";

/// Generates the RSA keys of the GCP load identities that have none yet (the default world's ship
/// with the binary; a load identity's two keys take a few hundred milliseconds each), on every
/// core, saying how many and how far it has got every two seconds. Stops, answering `false`,
/// once `interrupt` is set (each thread finishes the key it is on).
fn generate_keys(all: &[RsaKey], interrupt: &tokio::sync::watch::Receiver<bool>) -> bool {
    let started = Instant::now();
    let last = std::sync::Mutex::new(started);
    keys::materialize(all, |done, total| {
        if *interrupt.borrow() {
            return false;
        }
        if done == 0 {
            crate::eline!("generating {total} RSA-2048 keys for the gcp-iam identities …");
            return true;
        }
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        if done < total && last.elapsed() >= Duration::from_secs(2) {
            *last = Instant::now();
            crate::eline!(
                "  {done}/{total} keys after {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        true
    });
    !*interrupt.borrow()
}

impl Flow {
    /// Prepares `name` against `env`, for the identities `load-N` of `ids`.
    pub async fn prepare(
        name: &str,
        env: Arc<Env>,
        fast: HttpClient,
        ids: &[usize],
        spec: &crate::provision::VaultSpec,
        presign: usize,
        interrupt: &tokio::sync::watch::Receiver<bool>,
    ) -> Result<Flow, String> {
        if !FLOWS.contains(&name) {
            return Err(format!(
                "unknown flow `{name}`: one of {}",
                FLOWS.join(", ")
            ));
        }
        let mut f = Flow {
            name: name.to_owned(),
            vault: env.vault_addr.clone(),
            root_token: env.root_token.clone(),
            mounts: env.mounts.clone(),
            google: env.google.clone(),
            aws: env.aws.clone(),
            server_id: spec
                .auth
                .values()
                .find(|m| m.kind == "aws")
                .and_then(|m| m.client.as_ref())
                .and_then(|c| c.get("iam_server_id_header_value"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            login_path: String::new(),
            aws_signers: Vec::new(),
            gcp: Vec::new(),
            approle: None,
            user_token: None,
            presigned: Vec::new(),
            next: AtomicUsize::new(0),
            env: env.clone(),
            fast,
        };
        {
            let mut w = env.sim.world_mut();
            let expires = env.clock.now() + Duration::from_secs(48 * 3600);
            for i in ids {
                let user = format!("load-{i}");
                if let Some(k) = w
                    .aws
                    .access_keys
                    .values()
                    .find(|k| k.user == user && k.active)
                {
                    let keys = aws_client::Keys {
                        id: k.id.clone(),
                        secret: k.secret.clone(),
                        token: None,
                    };
                    f.aws_signers.push(aws_client::LoadSigner::new(
                        &keys,
                        "us-east-1",
                        f.server_id.as_deref(),
                        Some("app"),
                    ));
                }
                let email = format!("{user}@{LOAD_PROJECT}.iam.gserviceaccount.com");
                let key = w
                    .gcp
                    .find_account(&email)
                    .and_then(|a| a.user_keys.first())
                    .map(|k| k.key.clone());
                if let Some(key) = key {
                    let token = w.gcp.issue_token(
                        &email,
                        vec!["https://www.googleapis.com/auth/cloud-platform".into()],
                        expires,
                    );
                    f.gcp.push((email, token, key));
                }
            }
        }
        if name.starts_with("gcp-iam") {
            // Key generation is slow: do it now, not on the clock.
            let mut keys: Vec<RsaKey> = f.gcp.iter().map(|(_, _, k)| k.clone()).collect();
            {
                let w = env.sim.world();
                for (email, _, _) in &f.gcp {
                    if let Some(a) = w.gcp.find_account(email) {
                        keys.extend(a.system_keys.iter().cloned());
                    }
                }
            }
            // Off the runtime's thread, which stays free to notice a signal.
            let interrupt = interrupt.clone();
            let done = tokio::task::spawn_blocking(move || generate_keys(&keys, &interrupt))
                .await
                .map_err(|e| format!("generating the identities' keys failed: {e}"))?;
            if !done {
                return Err(INTERRUPTED.into());
            }
        }
        if name == "approle" {
            let m = spec
                .auth
                .values()
                .find(|m| m.kind == "approle")
                .ok_or("the world's [vault.auth] has no approle mount")?;
            let r = m
                .roles
                .values()
                .next()
                .ok_or("the world's approle mount has no role")?;
            let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
            f.approle = Some((
                s("role_id").ok_or("the world's approle role has no role_id")?,
                s("secret_id").ok_or("the world's approle role has no secret_id")?,
            ));
        }
        if name == "token-lookup" || name == "userpass" {
            let m = spec
                .auth
                .values()
                .find(|m| m.kind == "userpass")
                .ok_or("the world's [vault.auth] has no userpass mount")?;
            let (user, u) = m
                .users
                .iter()
                .next()
                .ok_or("the world's userpass mount has no user")?;
            let pw = u
                .get("password")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let r: Value = env
                .http
                .post(format!(
                    "{}/v1/auth/{}/login/{user}",
                    f.vault,
                    mount(&f.mounts, &m.path)
                ))
                .json(&json!({ "password": pw }))
                .send()
                .await
                .map_err(|e| format!("userpass login for setup: {e}"))?
                .json()
                .await
                .map_err(|e| format!("userpass login for setup: {e}"))?;
            f.user_token = r
                .pointer("/auth/client_token")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if name == "userpass" {
                f.approle = Some((user.clone(), pw.to_owned()));
            }
        }
        f.login_path = f.login_path();
        for i in 0..presign {
            let body = f.login_body(i).await?;
            f.presigned.push(body.0);
        }
        Ok(f)
    }

    fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The login body for the `i`-th request, and the time spent signing (and in signJwt).
    async fn login_body(&self, i: usize) -> Result<(Bytes, Vec<(&'static str, u64)>), String> {
        let mut stages = Vec::new();
        let t = Instant::now();
        let now = self.env.clock.now();
        let unix = self.env.clock.unix() as u64;
        let body = match self.name.as_str() {
            "aws-iam" => {
                let signer = self
                    .aws_signers
                    .get(i % self.aws_signers.len().max(1))
                    .ok_or("no load identities: --identities must be at least 1")?;
                let body = signer.login_json(now);
                stages.push((stage::SIGN, t.elapsed().as_micros() as u64));
                return Ok((Bytes::from(body), stages));
            }
            "gcp-iam" | "gcp-iam-self-signed" => {
                let (email, token, key) = self
                    .gcp
                    .get(i % self.gcp.len().max(1))
                    .ok_or("no load identities: --identities must be at least 1")?;
                let claims = gcp_client::login_claims(email, "app", unix, 600);
                let jwt = if self.name == "gcp-iam" {
                    let bearer = format!("Bearer {token}");
                    let r = self
                        .fast
                        .send(
                            Method::POST,
                            &format!(
                                "{}/v1/projects/-/serviceAccounts/{email}:signJwt",
                                self.google
                            ),
                            [
                                ("authorization", bearer.as_str()),
                                ("content-type", "application/json"),
                            ],
                            Bytes::from(gcp_client::sign_jwt_body(&claims).to_string()),
                        )
                        .await
                        .map_err(|e| format!("signJwt: {e}"))?;
                    let status = r.status;
                    let v: Value =
                        serde_json::from_slice(&r.body).map_err(|e| format!("signJwt: {e}"))?;
                    stages.push((stage::SIGN_JWT, t.elapsed().as_micros() as u64));
                    if status != 200 {
                        return Err(format!(
                            "signJwt {status}: {}",
                            v.pointer("/error/message")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                        ));
                    }
                    v["signedJwt"].as_str().unwrap_or_default().to_owned()
                } else {
                    let j = key.sign_jws(Value::Object(claims).to_string().as_bytes());
                    stages.push((stage::SIGN, t.elapsed().as_micros() as u64));
                    j
                };
                json!({ "role": "app", "jwt": jwt })
            }
            "gcp-gce" => {
                let r = self
                    .env
                    .http
                    .get(format!(
                        "{}/computeMetadata/v1/instance/service-accounts/default/identity?audience=vault/bench-gce&format=full",
                        self.google
                    ))
                    .header("Metadata-Flavor", "Google")
                    .send()
                    .await
                    .map_err(|e| format!("metadata identity: {e}"))?;
                let jwt = r
                    .text()
                    .await
                    .map_err(|e| format!("metadata identity: {e}"))?;
                stages.push((stage::SIGN_JWT, t.elapsed().as_micros() as u64));
                json!({ "role": "bench-gce", "jwt": jwt })
            }
            "aws-ec2" => {
                let base = format!("{}/latest", self.aws);
                let token = self
                    .env
                    .http
                    .put(format!("{base}/api/token"))
                    .header("X-aws-ec2-metadata-token-ttl-seconds", "60")
                    .send()
                    .await
                    .map_err(|e| format!("instance metadata: {e}"))?
                    .text()
                    .await
                    .map_err(|e| format!("instance metadata: {e}"))?;
                let pkcs7 = self
                    .env
                    .http
                    .get(format!("{base}/dynamic/instance-identity/pkcs7"))
                    .header("X-aws-ec2-metadata-token", token)
                    .send()
                    .await
                    .map_err(|e| format!("instance metadata: {e}"))?
                    .text()
                    .await
                    .map_err(|e| format!("instance metadata: {e}"))?;
                stages.push((stage::SIGN, t.elapsed().as_micros() as u64));
                json!({ "role": "bench-ec2", "pkcs7": pkcs7.replace('\n', ""), "nonce": EC2_NONCE })
            }
            "approle" => {
                let (r, s) = self.approle.clone().unwrap_or_default();
                json!({ "role_id": r, "secret_id": s })
            }
            "userpass" => {
                let (_, p) = self.approle.clone().unwrap_or_default();
                json!({ "password": p })
            }
            _ => Value::Null,
        };
        Ok((Bytes::from(body.to_string()), stages))
    }

    /// The path the flow's logins go to.
    fn login_path(&self) -> String {
        match self.name.as_str() {
            "aws-iam" | "aws-ec2" => format!("/v1/auth/{}/login", mount(&self.mounts, "aws")),
            "gcp-iam" | "gcp-iam-self-signed" | "gcp-gce" => {
                format!("/v1/auth/{}/login", mount(&self.mounts, "gcp"))
            }
            "approle" => format!("/v1/auth/{}/login", mount(&self.mounts, "approle")),
            _ => {
                let user = self
                    .env
                    .mounts
                    .get("userpass")
                    .map(|m| m.as_str())
                    .unwrap_or("userpass");
                format!("/v1/auth/{user}/login/{}", self.userpass_user())
            }
        }
    }

    /// Runs one request.
    pub async fn one(&self) -> Done {
        let i = self.pick();
        let mut done = Done::default();
        let (method, path, body, token) = match self.name.as_str() {
            "health" => ("GET", "/v1/sys/health".to_owned(), None, None),
            "kv-read" => (
                "GET",
                "/v1/secret/data/app/config".to_owned(),
                None,
                Some(self.root_token.clone()),
            ),
            "token-lookup" => (
                "GET",
                "/v1/auth/token/lookup-self".to_owned(),
                None,
                self.user_token.clone(),
            ),
            _ => {
                let body = if self.presigned.is_empty() {
                    match self.login_body(i).await {
                        Ok((b, stages)) => {
                            done.stages = stages;
                            b
                        }
                        Err(e) => {
                            done.error = Some(e);
                            return done;
                        }
                    }
                } else {
                    self.presigned[i % self.presigned.len()].clone()
                };
                ("POST", self.login_path.clone(), Some(body), None)
            }
        };
        let t = Instant::now();
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(2);
        if let Some(tok) = &token {
            headers.push(("X-Vault-Token", tok.as_str()));
        }
        let payload = match body {
            Some(b) => {
                headers.push(("Content-Type", "application/json"));
                b
            }
            None => Bytes::new(),
        };
        let method = if method == "GET" {
            Method::GET
        } else {
            Method::POST
        };
        let url = format!("{}{path}", self.vault);
        match self.fast.send(method, &url, headers, payload).await {
            Err(e) => done.error = Some(transport(&e)),
            Ok(r) => {
                let status = r.status;
                done.status = Some(status);
                done.ok = status == 200 || (self.name == "health" && status < 300);
                let bytes = r.body;
                if !done.ok {
                    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    done.error = Some(
                        v.pointer("/errors/0")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            .unwrap_or_else(|| {
                                String::from_utf8_lossy(&bytes).chars().take(200).collect()
                            }),
                    );
                }
            }
        }
        done.stages
            .push((stage::VAULT, t.elapsed().as_micros() as u64));
        done
    }

    fn userpass_user(&self) -> String {
        // `approle` holds (user, password) for the userpass flow.
        self.approle
            .as_ref()
            .map(|(u, _)| u.clone())
            .unwrap_or_default()
    }
}

/// A transport error as one line (the client's Go-style text: `dial tcp …: connect: connection
/// refused`, `EOF`, a timeout), without secrets (there are none in Vault URLs).
fn transport(e: &HttpError) -> String {
    format!("transport error: {e}")
}
