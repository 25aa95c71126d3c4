//! Helpers for `ci/bench-mocks.sh`: signed requests as wrk Lua scripts, and the raw RSA signing
//! rate of the crypto library the mock uses, measured on the same cores.
//!
//! ```text
//! bench-prep sts-lua ENDPOINTS.json        # a signed STS GetCallerIdentity (valid 15 minutes)
//! bench-prep signjwt-lua ENDPOINTS.json    # a signJwt call with a fresh access token
//! bench-prep rsa-rate SECONDS THREADS      # RSA-2048 PKCS#1 v1.5 signatures per second (ring)
//! ```

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
        ["sts-lua", path] => print!("{}", sts_lua(&read(path)?)?),
        ["signjwt-lua", path] => print!("{}", signjwt_lua(&read(path)?)?),
        ["rsa-rate", secs, threads] => println!("{:.1}", rsa_rate(secs.parse()?, threads.parse()?)),
        _ => bail!("usage: bench-prep sts-lua FILE | signjwt-lua FILE | rsa-rate SECONDS THREADS"),
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

fn sts_lua(ep: &Value) -> Result<String> {
    let aws = &ep["aws"];
    let endpoint = aws["endpoint"].as_str().context("aws.endpoint")?;
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
    let g = &ep["google"];
    let sa = g["service_account"]
        .as_str()
        .context("google.service_account")?;
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let token: Value = rt.block_on(async {
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
    let access = token["access_token"]
        .as_str()
        .context("access_token in the /token answer")?;
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

fn rsa_rate(seconds: f64, threads: usize) -> f64 {
    let key = authsim_mocks::world::RsaKey::derive("bench", "bench/key", "bench");
    let material = key.material();
    let deadline = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let m = material.clone();
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
