//! Helpers for `ci/bench.sh`: signed requests as wrk Lua scripts, and the raw RSA signing
//! rate of the crypto library the mock uses, measured on the same cores.
//!
//! ```text
//! bench-prep sts-lua ENDPOINTS.json [URL]  # a signed STS GetCallerIdentity (valid 15 minutes),
//!                                          # for the mock's endpoint or the given one (e.g. moto)
//! bench-prep signjwt-lua ENDPOINTS.json    # a signJwt call with a fresh access token
//! bench-prep rsa-rate SECONDS THREADS      # RSA-2048 PKCS#1 v1.5 signatures per second (ring)
//! bench-prep vault-aws-login-lua ENDPOINTS.json   # an hvac-style auth/aws iam login
//! bench-prep vault-gcp-login-lua ENDPOINTS.json   # an auth/gcp iam login with a signJwt JWT
//! ```
//!
//! The login scripts replay one login (valid within STS's skew window and the JWT's 15 minutes);
//! every replay still makes the mock Vault verify it through the cloud mocks over HTTP.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _, Result};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::{json, Value};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["sts-lua", path] => print!("{}", sts_lua(&read(path)?, None)?),
        ["sts-lua", path, url] => print!("{}", sts_lua(&read(path)?, Some(url))?),
        ["signjwt-lua", path] => print!("{}", signjwt_lua(&read(path)?)?),
        ["rsa-rate", secs, threads] => println!("{:.1}", rsa_rate(secs.parse()?, threads.parse()?)),
        ["vault-aws-login-lua", path] => print!("{}", vault_aws_login_lua(&read(path)?)?),
        ["vault-gcp-login-lua", path] => print!("{}", vault_gcp_login_lua(&read(path)?)?),
        _ => bail!("usage: bench-prep sts-lua FILE [URL] | signjwt-lua|vault-aws-login-lua|vault-gcp-login-lua FILE | rsa-rate SECONDS THREADS"),
    }
    Ok(())
}

fn read(path: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read '{path}'"))?;
    Ok(serde_json::from_str(&text)?)
}

fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

fn lua(method: &str, body: &str, headers: &[(String, String)]) -> String {
    let mut out = format!(
        "wrk.method = {}\nwrk.body = {}\n",
        lua_string(method),
        lua_string(body)
    );
    for (k, v) in headers {
        out.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_string(k),
            lua_string(v)
        ));
    }
    out
}

/// The server checks signatures against its own clock; a bench against a live server signs with
/// the real time.
#[allow(clippy::disallowed_methods)]
fn now() -> SystemTime {
    SystemTime::now()
}

/// Signed for `url` (another STS-speaking server, e.g. moto) or else the mock's own endpoint, with
/// the endpoints file's credentials.
fn sts_lua(ep: &Value, url: Option<&str>) -> Result<String> {
    let aws = &ep["aws"];
    let endpoint = match url {
        Some(u) => u.trim_end_matches('/'),
        None => aws["endpoint"].as_str().context("aws.endpoint")?,
    };
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let creds = Credentials::from_keys(
        aws["access_key_id"].as_str().context("aws.access_key_id")?,
        aws["secret_access_key"]
            .as_str()
            .context("aws.secret_access_key")?,
        None,
    );
    let identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let mut headers = vec![
        ("Host".to_owned(), host.to_owned()),
        (
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        ),
    ];
    let signable = SignableRequest::new(
        "POST",
        format!("{endpoint}/"),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    for (k, v) in instructions.headers() {
        headers.push((k.to_owned(), v.to_owned()));
    }
    headers.retain(|(k, _)| k != "Host");
    Ok(lua("POST", body, &headers))
}

fn signjwt_lua(ep: &Value) -> Result<String> {
    let sa = ep["google"]["service_account"]
        .as_str()
        .context("google.service_account")?;
    let access = access_token(ep)?;
    let iat = now().duration_since(SystemTime::UNIX_EPOCH)?.as_secs();
    let payload =
        json!({ "sub": sa, "aud": "vault/app", "iat": iat, "exp": iat + 900 }).to_string();
    let body = json!({ "payload": payload }).to_string();
    Ok(lua(
        "POST",
        &body,
        &[
            ("Content-Type".into(), "application/json".into()),
            ("Authorization".into(), format!("Bearer {access}")),
        ],
    ))
}

/// An access token for the endpoints file's caller, from its key file at the mock's `token_uri`.
fn access_token(ep: &Value) -> Result<String> {
    let g = &ep["google"];
    let key_file = read(
        g["caller_credentials_file"]
            .as_str()
            .context("google.caller_credentials_file")?,
    )?;
    let token_uri = key_file["token_uri"].as_str().context("token_uri")?;
    let iat = now().duration_since(SystemTime::UNIX_EPOCH)?.as_secs();
    let claims = json!({
        "iss": key_file["client_email"],
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": token_uri,
        "iat": iat,
        "exp": iat + 3600,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key_file["private_key_id"].as_str().map(str::to_owned);
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(
        key_file["private_key"]
            .as_str()
            .context("private_key")?
            .as_bytes(),
    )?;
    let assertion = jsonwebtoken::encode(&header, &claims, &key)?;
    let token: Value = block_on(async {
        reqwest::Client::new()
            .post(token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    })?;
    Ok(token["access_token"]
        .as_str()
        .context("access_token in the /token answer")?
        .to_owned())
}

fn block_on<T>(f: impl std::future::Future<Output = reqwest::Result<T>>) -> Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f)?)
}

/// The login data hvac builds (reference aws.md 7.1): a signed `POST https://sts.amazonaws.com/`
/// with the server-ID header, as base64 fields.
fn vault_aws_login_lua(ep: &Value) -> Result<String> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    let aws = &ep["aws"];
    let vault = &ep["vault"];
    let creds = Credentials::from_keys(
        aws["access_key_id"].as_str().context("aws.access_key_id")?,
        aws["secret_access_key"]
            .as_str()
            .context("aws.secret_access_key")?,
        None,
    );
    let identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let server_id = vault["aws_server_id"]
        .as_str()
        .context("vault.aws_server_id")?;
    let headers = [
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("Host", "sts.amazonaws.com"),
        ("X-Vault-AWS-IAM-Server-ID", server_id),
        ("Content-Length", "43"),
    ];
    let signable = SignableRequest::new(
        "POST",
        "https://sts.amazonaws.com/",
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut all = serde_json::Map::new();
    for (k, v) in headers.iter().copied().chain(instructions.headers()) {
        all.insert(k.to_owned(), json!([v]));
    }
    let login = json!({
        "role": vault["aws_role"],
        "iam_http_request_method": "POST",
        "iam_request_url": STANDARD.encode("https://sts.amazonaws.com/"),
        "iam_request_body": STANDARD.encode(body),
        "iam_request_headers": STANDARD.encode(Value::Object(all).to_string()),
    });
    Ok(lua(
        "POST",
        &login.to_string(),
        &[("Content-Type".into(), "application/json".into())],
    ))
}

/// A JWT signed through the mock's signJwt as the login account, posted as hvac does.
fn vault_gcp_login_lua(ep: &Value) -> Result<String> {
    let g = &ep["google"];
    let sa = g["service_account"]
        .as_str()
        .context("google.service_account")?;
    let role = ep["vault"]["gcp_role"].as_str().context("vault.gcp_role")?;
    let access = access_token(ep)?;
    let iat = now().duration_since(SystemTime::UNIX_EPOCH)?.as_secs();
    let payload =
        json!({ "sub": sa, "aud": format!("vault/{role}"), "iat": iat, "exp": iat + 900 })
            .to_string();
    let url = format!(
        "{}/v1/projects/-/serviceAccounts/{sa}:signJwt",
        g["endpoint"].as_str().context("google.endpoint")?
    );
    let signed: Value = block_on(async {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(&access)
            .json(&json!({ "payload": payload }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    })?;
    let jwt = signed["signedJwt"]
        .as_str()
        .context("signedJwt in the signJwt answer")?;
    let login = json!({ "role": role, "jwt": jwt });
    Ok(lua(
        "POST",
        &login.to_string(),
        &[("Content-Type".into(), "application/json".into())],
    ))
}

fn rsa_rate(seconds: f64, threads: usize) -> f64 {
    let key = authsim_mocks::world::RsaKey::derive("bench", "bench/key", "bench");
    let material = key.material();
    let deadline = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let m = material;
                s.spawn(move || {
                    let msg = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcHAifQ";
                    let mut n = 0u64;
                    while started.elapsed() < deadline {
                        std::hint::black_box(m.sign(msg));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}
