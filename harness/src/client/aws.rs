//! AWS iam login material: an STS `GetCallerIdentity` request signed with SigV4 (by `aws-sigv4`,
//! the AWS SDK's own signer) the way hvac and the Vault CLI build it (reference aws.md §7), with
//! the scenario's mutations applied before or after signing.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::scenario::Mutate;

pub const STS_URL: &str = "https://sts.amazonaws.com/";
pub const GCI_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// What the Vault CLI's `GenerateLoginData` sends as `User-Agent` (unsigned).
const GO_USER_AGENT: &str = "aws-sdk-go/1.44.0 (go1.21; linux; amd64)";

/// Credentials to sign with.
#[derive(Clone)]
pub struct Keys {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// How the login request is built.
#[derive(Debug, Clone)]
pub struct LoginSpec<'a> {
    pub method: &'a str,
    /// `hvac` or `cli`.
    pub style: &'a str,
    pub region: &'a str,
    pub server_id: Option<&'a str>,
    /// Signing time (the simulation clock plus `signed_at`).
    pub time: SystemTime,
}

/// A signed STS request, as the login sends it to Vault.
#[derive(Debug, Clone, PartialEq)]
pub struct Signed {
    pub method: String,
    pub url: String,
    pub body: String,
    /// In order; a repeated name is several entries.
    pub headers: Vec<(String, String)>,
}

/// Why the material could not be built (a bad mutation, not a Vault answer).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Signs the request the login carries, applying `m`.
pub fn build(keys: &Keys, spec: &LoginSpec<'_>, m: &Mutate) -> Result<Signed, BuildError> {
    let mut keys = keys.clone();
    if let Some(s) = &m.secret_key {
        keys.secret.clone_from(s);
    }
    match m.session_token.as_deref() {
        None => {}
        Some("missing") => keys.token = None,
        Some("expired") => {
            // The caller replaces the keys with an expired session's before calling `build`.
        }
        Some(other) => {
            return Err(BuildError(format!(
                "mutate.session_token `{other}`: `missing` or `expired`"
            )))
        }
    }
    let time = match m.signed_at {
        Some(off) if off < 0 => spec.time - Duration::from_secs(off.unsigned_abs()),
        Some(off) => spec.time + Duration::from_secs(off as u64),
        None => spec.time,
    };
    let region = m.region.as_deref().unwrap_or(spec.region);
    let service = m.service.as_deref().unwrap_or("sts");
    let mut body = m.body.clone().unwrap_or_else(|| GCI_BODY.to_owned());
    if let Some(extra) = &m.append_body {
        body.push_str(extra);
    }
    let get = spec.method == "GET";
    let url = match (&m.url, get) {
        (Some(u), _) => u.clone(),
        (None, true) => format!("{STS_URL}?{body}"),
        (None, false) => STS_URL.to_owned(),
    };
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', '?']).next())
        .unwrap_or("sts.amazonaws.com")
        .to_owned();
    let server_id_name = if spec.style == "cli" {
        "X-Vault-Aws-Iam-Server-Id"
    } else {
        "X-Vault-AWS-IAM-Server-ID"
    };
    // Headers in the order the client sends them, and whether each is in the JSON.
    let mut headers: Vec<(String, String, bool)> = Vec::new();
    if get {
        headers.push(("Host".into(), host.clone(), false));
        if let Some(s) = spec.server_id {
            headers.push((server_id_name.into(), s.into(), true));
        }
    } else if spec.style == "cli" {
        headers.push(("Content-Length".into(), body.len().to_string(), true));
        headers.push(("Content-Type".into(), FORM.into(), true));
        headers.push(("Host".into(), host.clone(), false));
        if let Some(s) = spec.server_id {
            headers.push((server_id_name.into(), s.into(), true));
        }
    } else {
        headers.push(("Content-Type".into(), FORM.into(), true));
        headers.push(("Host".into(), host.clone(), true));
        if let Some(s) = spec.server_id {
            headers.push((server_id_name.into(), s.into(), true));
        }
        headers.push(("Content-Length".into(), body.len().to_string(), true));
    }
    let unsigned = |name: &str| {
        m.unsign_headers
            .iter()
            .any(|u| u.eq_ignore_ascii_case(name))
    };
    let to_sign: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(n, _, _)| !unsigned(n))
        .map(|(n, v, _)| (n.as_str(), v.as_str()))
        .collect();
    let identity = Credentials::new(
        keys.id.clone(),
        keys.secret.clone(),
        keys.token.clone(),
        None,
        "authsim",
    )
    .into();
    let mut settings = SigningSettings::default();
    if get {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(900));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| BuildError(format!("cannot sign: {e}")))?
        .into();
    let signed_body = if get { "" } else { body.as_str() };
    let signable = SignableRequest::new(
        spec.method,
        &url,
        to_sign.iter().copied(),
        SignableBody::Bytes(signed_body.as_bytes()),
    )
    .map_err(|e| BuildError(format!("cannot sign {url}: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| BuildError(format!("cannot sign: {e}")))?
        .into_parts();
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(_, _, in_json)| *in_json)
        .map(|(n, v, _)| (n.clone(), v.clone()))
        .collect();
    if spec.style == "cli" && !get {
        out.push(("User-Agent".into(), GO_USER_AGENT.into()));
    }
    for (k, v) in instructions.headers() {
        out.push((k.to_owned(), v.to_owned()));
    }
    let mut url = url;
    let params: Vec<(String, String)> = instructions
        .params()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_string()))
        .collect();
    if !params.is_empty() {
        let q = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&q);
    }
    // After signing: what the signature does not cover. Headers are set before the rename, so
    // a header added by `set_headers` and renamed to an existing name is sent twice.
    for d in &m.drop_headers {
        out.retain(|(k, _)| !k.eq_ignore_ascii_case(d));
    }
    for (name, value) in &m.set_headers {
        match out.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some(h) => h.1.clone_from(value),
            None => out.push((name.clone(), value.clone())),
        }
    }
    if let Some(r) = &m.rename_header {
        for (k, _) in out.iter_mut() {
            if k.eq_ignore_ascii_case(&r.from) {
                k.clone_from(&r.to);
            }
        }
    }
    Ok(Signed {
        method: spec.method.to_owned(),
        url,
        body: if get { String::new() } else { body },
        headers: out,
    })
}

impl Signed {
    /// The headers as hvac serialises them: a JSON object, a list for a repeated name.
    pub fn header_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.headers {
            match m.get_mut(k) {
                Some(Value::Array(a)) => a.push(json!(v)),
                Some(prev) => {
                    let p = prev.take();
                    *prev = json!([p, v]);
                }
                None => {
                    m.insert(k.clone(), json!(v));
                }
            }
        }
        Value::Object(m)
    }

    /// The login data (`role` omitted when `None`): every request part base64, as hvac and the
    /// CLI send it.
    pub fn login_data(&self, role: Option<&str>) -> Value {
        let mut d = json!({
            "iam_http_request_method": self.method,
            "iam_request_url": b64(&self.url),
            "iam_request_body": b64(&self.body),
            "iam_request_headers": b64(&self.header_json().to_string()),
        });
        if let Some(r) = role {
            d["role"] = json!(r);
        }
        d
    }
}

/// The load generator's login: [`build`]'s default request (hvac style, POST, no mutation)
/// signed for one identity, a hundred thousand times a second.
///
/// `build` is general (every scenario mutation) and goes through the SDK signer's full request
/// model; for the one request a load run repeats, the canonical request, the header JSON and the
/// login body are all fixed but for the date and the signature. Those are laid out once here, and
/// each login computes only the canonical request's hash, the signature (with the SDK's own
/// `calculate_signature`, under a signing key derived once per day with its
/// `generate_signing_key`) and the base64 of the headers. The result is byte for byte what
/// `build(..).login_data(..)` sends (the tests compare them), at a fraction of the cost.
pub struct LoadSigner {
    secret: String,
    region: String,
    /// The canonical request before and after the `x-amz-date` value.
    canonical_head: String,
    canonical_tail: String,
    /// The header JSON before the date, between the date and the credential's day, between that
    /// day and the signature, and after the signature.
    json_head: String,
    json_date_to_day: String,
    json_day_to_signature: String,
    json_tail: String,
    /// The login body before and after the base64 of the header JSON.
    body_head: String,
    body_tail: String,
    /// `YYYYMMDD` → the signing key of that day.
    day_key: std::sync::Mutex<Option<(String, Vec<u8>)>>,
}

impl std::fmt::Debug for LoadSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadSigner")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// A JSON string literal (quotes included).
fn json_str(s: &str) -> String {
    Value::from(s).to_string()
}

impl LoadSigner {
    /// The signer of `keys`' logins to `role` (omitted when `None`), for STS in `region`, with the
    /// server ID header when `server_id` is set.
    pub fn new(keys: &Keys, region: &str, server_id: Option<&str>, role: Option<&str>) -> Self {
        use sha2::Digest;
        // What the SDK signer does to a value before it signs it: trim, collapse inner spaces.
        let canonical_value = |v: &str| v.split_whitespace().collect::<Vec<_>>().join(" ");
        let host = "sts.amazonaws.com";
        let length = GCI_BODY.len().to_string();
        let mut signed = vec!["content-length", "content-type", "host", "x-amz-date"];
        let mut canonical_tail = String::from("\n");
        if let Some(t) = &keys.token {
            signed.push("x-amz-security-token");
            canonical_tail.push_str(&format!("x-amz-security-token:{}\n", canonical_value(t)));
        }
        if let Some(id) = server_id {
            signed.push("x-vault-aws-iam-server-id");
            canonical_tail.push_str(&format!(
                "x-vault-aws-iam-server-id:{}\n",
                canonical_value(id)
            ));
        }
        let signed = signed.join(";");
        canonical_tail.push_str(&format!(
            "\n{signed}\n{}",
            hex::encode(sha2::Sha256::digest(GCI_BODY))
        ));
        let canonical_head = format!(
            "POST\n/\n\ncontent-length:{length}\ncontent-type:{FORM}\nhost:{host}\nx-amz-date:"
        );
        let mut json_head = format!("{{\"Content-Type\":{},\"Host\":\"{host}\"", json_str(FORM));
        if let Some(id) = server_id {
            json_head.push_str(&format!(",\"X-Vault-AWS-IAM-Server-ID\":{}", json_str(id)));
        }
        json_head.push_str(&format!(
            ",\"Content-Length\":\"{length}\",\"x-amz-date\":\""
        ));
        let json_date_to_day = format!(
            "\",\"authorization\":\"AWS4-HMAC-SHA256 Credential={}/",
            // An access key id is `[A-Z0-9]`; escaped anyway, without the quotes.
            json_str(&keys.id).trim_matches('"')
        );
        let json_day_to_signature = format!(
            "/{}/sts/aws4_request, SignedHeaders={signed}, Signature=",
            json_str(region).trim_matches('"')
        );
        let json_tail = match &keys.token {
            Some(t) => format!("\",\"x-amz-security-token\":{}}}", json_str(t)),
            None => "\"}".to_owned(),
        };
        let body_head = format!(
            "{{\"iam_http_request_method\":\"POST\",\"iam_request_url\":\"{}\",\"iam_request_body\":\"{}\",\"iam_request_headers\":\"",
            b64(STS_URL),
            b64(GCI_BODY)
        );
        let body_tail = match role {
            Some(r) => format!("\",\"role\":{}}}", json_str(r)),
            None => "\"}".to_owned(),
        };
        LoadSigner {
            secret: keys.secret.clone(),
            region: region.to_owned(),
            canonical_head,
            canonical_tail,
            json_head,
            json_date_to_day,
            json_day_to_signature,
            json_tail,
            body_head,
            body_tail,
            day_key: std::sync::Mutex::new(None),
        }
    }

    /// The login body (JSON) of a request signed at `time`.
    pub fn login_json(&self, time: SystemTime) -> String {
        use sha2::Digest;
        let date = authsim_mocks::aws::sigv4::amz_date(time);
        let day = &date[..8];
        let mut canonical = String::with_capacity(
            self.canonical_head.len() + date.len() + self.canonical_tail.len(),
        );
        canonical.push_str(&self.canonical_head);
        canonical.push_str(&date);
        canonical.push_str(&self.canonical_tail);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{day}/{}/sts/aws4_request\n{}",
            self.region,
            hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
        );
        let signature = {
            let mut cached = self.day_key.lock().unwrap_or_else(|p| p.into_inner());
            let key = match &*cached {
                Some((d, k)) if d == day => k,
                _ => {
                    let k = v4::generate_signing_key(&self.secret, time, &self.region, "sts");
                    &cached.insert((day.to_owned(), k.as_ref().to_vec())).1
                }
            };
            v4::calculate_signature(key, string_to_sign.as_bytes())
        };
        let mut headers = String::with_capacity(512);
        for part in [
            self.json_head.as_str(),
            &date,
            &self.json_date_to_day,
            day,
            &self.json_day_to_signature,
            &signature,
            &self.json_tail,
        ] {
            headers.push_str(part);
        }
        let mut body = String::with_capacity(self.body_head.len() + headers.len() * 4 / 3 + 64);
        body.push_str(&self.body_head);
        base64::engine::general_purpose::STANDARD.encode_string(headers, &mut body);
        body.push_str(&self.body_tail);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            id: "AKIDEXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            token: None,
        }
    }

    fn spec(style: &str) -> LoginSpec<'static> {
        LoginSpec {
            method: "POST",
            style: if style == "cli" { "cli" } else { "hvac" },
            region: "us-east-1",
            server_id: Some("vault.example.com"),
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn signed_headers(s: &Signed) -> String {
        let auth = &s
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1;
        auth.split("SignedHeaders=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn hvac_style_signs_every_header_and_sends_host() {
        let s = build(&keys(), &spec("hvac"), &Mutate::default()).unwrap();
        assert_eq!(
            signed_headers(&s),
            "content-length;content-type;host;x-amz-date;x-vault-aws-iam-server-id"
        );
        assert!(s.headers.iter().any(|(k, _)| k == "Host"));
        assert_eq!(s.body, GCI_BODY);
    }

    #[test]
    fn cli_style_signs_host_but_leaves_it_out_and_adds_a_user_agent() {
        let s = build(&keys(), &spec("cli"), &Mutate::default()).unwrap();
        assert!(signed_headers(&s).contains("host"));
        assert!(!s.headers.iter().any(|(k, _)| k == "Host"));
        assert!(s.headers.iter().any(|(k, _)| k == "User-Agent"));
    }

    #[test]
    fn unsigned_headers_are_sent_but_not_signed() {
        let m = Mutate {
            unsign_headers: vec!["X-Vault-AWS-IAM-Server-ID".into()],
            ..Mutate::default()
        };
        let s = build(&keys(), &spec("hvac"), &m).unwrap();
        assert!(!signed_headers(&s).contains("x-vault-aws-iam-server-id"));
        assert!(s
            .headers
            .iter()
            .any(|(k, _)| k == "X-Vault-AWS-IAM-Server-ID"));
    }

    #[test]
    fn a_set_header_renamed_onto_another_is_sent_twice() {
        let m = Mutate {
            set_headers: [("X-Copy".to_owned(), "vault.example.com".to_owned())].into(),
            rename_header: Some(crate::scenario::Rename {
                from: "X-Copy".into(),
                to: "X-Vault-AWS-IAM-Server-ID".into(),
            }),
            ..Mutate::default()
        };
        let s = build(&keys(), &spec("hvac"), &m).unwrap();
        assert_eq!(
            s.header_json()["X-Vault-AWS-IAM-Server-ID"],
            json!(["vault.example.com", "vault.example.com"])
        );
        assert!(!signed_headers(&s).contains("x-copy"));
    }

    #[test]
    fn get_is_presigned_in_the_query() {
        let mut sp = spec("hvac");
        sp.method = "GET";
        let s = build(&keys(), &sp, &Mutate::default()).unwrap();
        assert!(s.url.starts_with("https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"), "{}", s.url);
        assert!(
            s.url
                .contains("X-Amz-SignedHeaders=host%3Bx-vault-aws-iam-server-id"),
            "{}",
            s.url
        );
        assert!(s.body.is_empty());
    }

    /// The load signer sends exactly what `build` and `login_data` send, with and without a
    /// session token and a server ID, across a day boundary (the cached signing key changes).
    #[test]
    fn the_load_signer_matches_build() {
        let mut k = keys();
        for token in [None, Some("FQoGZXIvYXdzE \"x\"".to_owned())] {
            k.token = token;
            for server_id in [Some("vault.example.com"), None] {
                for role in [Some("app"), None] {
                    let signer = LoadSigner::new(&k, "eu-west-1", server_id, role);
                    for secs in [1_700_000_000, 1_700_000_001, 1_700_006_400, 1_700_100_000] {
                        let sp = LoginSpec {
                            region: "eu-west-1",
                            server_id,
                            time: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
                            ..spec("hvac")
                        };
                        let want = build(&k, &sp, &Mutate::default())
                            .unwrap()
                            .login_data(role)
                            .to_string();
                        assert_eq!(signer.login_json(sp.time), want, "{secs} {server_id:?}");
                    }
                }
            }
        }
    }
}
