//! The Google calls the GCP auth method makes, over HTTP only (DESIGN.md invariant 1), with the
//! endpoint rules of `custom_endpoint` (reference gcp.md 1.4, 1.5, 2.2, 3.2) and errors rendered
//! as Go's clients print them (reference gcp.md section 4, "Google error → Go string").
//!
//! Every error is a Go error string: the login code wraps it into the plugin's messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Method;
use serde_json::{Map, Value};

use super::config::{Config, Credentials};
use super::fields::go_quote;
use crate::clock::Clock;
use crate::http_client::HttpClient;

/// Default endpoints of Google's Go clients (reference gcp.md 1.4, 1.5, 3.2).
pub(crate) const DEFAULT_API: &str = "https://www.googleapis.com";
pub(crate) const DEFAULT_IAM: &str = "https://iam.googleapis.com/";
pub(crate) const DEFAULT_CRM: &str = "https://cloudresourcemanager.googleapis.com/";
pub(crate) const DEFAULT_COMPUTE: &str = "https://compute.googleapis.com/compute/v1/";
/// x/oauth2's default token endpoint, used when the key file names none.
pub(crate) const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The plugin keeps its Google clients for 30 minutes (`cacheTime`).
const CLIENT_CACHE: Duration = Duration::from_secs(30 * 60);

/// The plugin's view of `custom_endpoint`, resolved to base URLs.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    /// Joined by string concatenation (go-gcp-common).
    pub(crate) api: String,
    /// Go client base paths (`option.WithEndpoint`).
    pub(crate) iam: String,
    pub(crate) crm: String,
    pub(crate) compute: String,
}

impl Endpoints {
    pub(crate) fn from_config(config: &Config) -> Self {
        let ce = &config.custom_endpoint;
        let get = |k: &str| ce.get(k).map(String::as_str).filter(|v| !v.is_empty());
        Self {
            api: get("api").unwrap_or(DEFAULT_API).to_owned(),
            iam: client_base(get("iam"), DEFAULT_IAM),
            crm: client_base(get("crm"), DEFAULT_CRM),
            compute: client_base(get("compute"), DEFAULT_COMPUTE),
        }
    }

    /// `strings.TrimSuffix(api, "/") + path`.
    pub(crate) fn api_url(&self, path: &str) -> String {
        format!("{}{path}", self.api.strip_suffix('/').unwrap_or(&self.api))
    }
}

/// google.golang.org/api `getEndpoint`: a value with `://` is the base path verbatim; a bare
/// `host[:port]` replaces the default URL's host and keeps its scheme and path.
pub(crate) fn client_base(custom: Option<&str>, default: &str) -> String {
    match custom {
        None => default.to_owned(),
        Some(v) if v.contains("://") => v.to_owned(),
        Some(host) => {
            let (scheme, rest) = default.split_once("://").unwrap_or(("https", default));
            let path = rest.find('/').map_or("", |i| &rest[i..]);
            format!("{scheme}://{host}{path}")
        }
    }
}

// UNVERIFIED: reference/gcp.md §3.2 — a compute endpoint without `/compute/v1/` resolving to
// `/projects/...` is code-read, not confirmed by a run.
/// `googleapi.ResolveRelative`: RFC 3986 reference resolution of a relative path against a base
/// path (the base's last segment is replaced; an empty base path acts as `/`).
pub(crate) fn resolve(base: &str, rel: &str) -> String {
    let (scheme, rest) = match base.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, base),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    match scheme {
        Some(s) => format!("{s}://{authority}{dir}{rel}"),
        None => format!("{authority}{dir}{rel}"),
    }
}

/// Escapes a path value as Go's `url.PathEscape` does (`@` and `:` stay).
pub(crate) fn path_escape(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'@')
        .remove(b':')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'=')
        .remove(b'!')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')')
        .remove(b'*')
        .remove(b',')
        .remove(b';');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

fn query_escape(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `googleapi.CheckResponse` + `Error.Error()` for a non-2xx answer.
pub(crate) fn googleapi_error(status: u16, body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error")).cloned();
    let message = err
        .as_ref()
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let errors: Vec<Value> = err
        .as_ref()
        .and_then(|e| e.get("errors"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if message.is_empty() && errors.is_empty() {
        return format!("googleapi: got HTTP response code {status} with body: {body}");
    }
    let mut out = format!("googleapi: Error {status}: {message}");
    // UNVERIFIED: newer Go clients append the `details` as indented JSON (reference/gcp.md §4).
    if let Some(details) = err
        .as_ref()
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
    {
        if let Ok(json) = serde_json::to_string_pretty(&sorted(&Value::Array(details.clone()))) {
            out.push_str("\nDetails:\n");
            out.push_str(&json);
            out.push('\n');
        }
    }
    if errors.is_empty() {
        return out.trim().to_owned();
    }
    let item_message = |e: &Value| e["message"].as_str().unwrap_or_default().to_owned();
    let item_reason = |e: &Value| e["reason"].as_str().unwrap_or_default().to_owned();
    if errors.len() == 1 && item_message(&errors[0]) == message {
        out.push_str(&format!(", {}", item_reason(&errors[0])));
        return out;
    }
    out.push_str("\nMore details:\n");
    for e in &errors {
        out.push_str(&format!(
            "Reason: {}, Message: {}\n",
            item_reason(e),
            item_message(e)
        ));
    }
    out
}

/// Object keys sorted, as Go's `encoding/json` prints maps.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Go's `net/http` client error: `Get "URL": <cause>`.
fn transport_error(method: &str, url: &str, cause: impl std::fmt::Display) -> String {
    format!("{method} {}: {cause}", go_quote(url))
}

#[derive(Debug)]
struct CachedToken {
    /// Which credentials it was minted for (`client_email`/`private_key_id`).
    key: String,
    token: String,
    valid_until: SystemTime,
}

/// The plugin's Google client: plain requests for public keys, and requests with Vault's own
/// OAuth token for IAM, Resource Manager and Compute.
#[derive(Debug)]
pub(crate) struct GoogleClient {
    http: HttpClient,
    token: Mutex<Option<CachedToken>>,
    /// The last body of each key-map URL, and its parse.
    key_maps: Mutex<KeyMaps>,
}

type KeyMaps = HashMap<String, (Bytes, Arc<Map<String, Value>>)>;

/// Key-map URLs remembered at once (one per service account seen, plus Google's own).
const KEY_MAPS_MAX: usize = 4096;

impl GoogleClient {
    pub(crate) fn new() -> Self {
        let http = HttpClient::new(Duration::from_secs(5), Some(Duration::from_secs(30)));
        Self {
            http,
            token: Mutex::new(None),
            key_maps: Mutex::default(),
        }
    }

    /// Forgets Vault's cached OAuth token (config changed).
    pub(crate) fn reset(&self) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// A `{kid: PEM}` map from `/oauth2/v1/certs` or `x509/{sub}`, unauthenticated.
    ///
    /// Fetched on every call, as Vault does; the parsed map is reused while a URL answers the
    /// very same bytes (a cache keyed by the exact body cannot change an answer).
    pub(crate) async fn key_map(&self, url: &str) -> Result<Arc<Map<String, Value>>, String> {
        let resp = self
            .http
            .send(Method::GET, url, [], Bytes::new())
            .await
            .map_err(|e| transport_error("Get", url, e))?;
        let status = resp.status;
        if !(200..300).contains(&status) {
            return Err(googleapi_error(status, &resp.text()));
        }
        let cached = |keys: &KeyMaps| {
            keys.get(url)
                .filter(|(body, _)| *body == resp.body)
                .map(|(_, m)| m.clone())
        };
        if let Some(m) = cached(&self.key_maps.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(m);
        }
        match serde_json::from_slice::<Value>(&resp.body) {
            Ok(Value::Object(m)) => {
                let m = Arc::new(m);
                let mut keys = self.key_maps.lock().unwrap_or_else(|p| p.into_inner());
                if keys.len() >= KEY_MAPS_MAX {
                    keys.clear();
                }
                keys.insert(url.to_owned(), (resp.body, m.clone()));
                Ok(m)
            }
            // UNVERIFIED: encoding/json's text for a body that is not a kid → PEM object.
            _ => Err("invalid character in JSON key map".to_owned()),
        }
    }

    /// Vault's own access token: a JWT-bearer grant signed with the configured key, posted to the
    /// key file's `token_uri` (see the module docs of `auth_gcp` on why `token_uri` is kept).
    async fn access_token(
        &self,
        clock: &dyn Clock,
        creds: Option<&Credentials>,
        url: &str,
        method: &str,
    ) -> Result<String, String> {
        let Some(creds) = creds else {
            // UNVERIFIED: x/oauth2's ADC failure text; the mock has no ambient credentials.
            return Err(transport_error(
                method,
                url,
                "google: could not find default credentials. See https://cloud.google.com/docs/authentication/external/set-up-adc for more information",
            ));
        };
        let cache_key = format!("{}/{}", creds.client_email, creds.private_key_id);
        let now = clock.now();
        if let Some(t) = self
            .token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|t| t.key == cache_key && now < t.valid_until)
        {
            return Ok(t.token.clone());
        }
        let token_uri = creds.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI);
        let iat = clock.unix() - 10;
        let claims = serde_json::json!({
            "iss": creds.client_email,
            "scope": CLOUD_PLATFORM,
            "aud": token_uri,
            "exp": iat + 3600,
            "iat": iat,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(creds.private_key_id.clone());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(creds.private_key.as_bytes())
            .map_err(|_| {
                transport_error(
                    method,
                    url,
                    "private key should be a PEM or plain PKCS1 or PKCS8; parse error: asn1: structure error",
                )
            })?;
        let assertion = jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| transport_error(method, url, e))?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let resp = self
            .http
            .send(
                Method::POST,
                token_uri,
                [("content-type", "application/x-www-form-urlencoded")],
                Bytes::from(form),
            )
            .await
            .map_err(|e| {
                transport_error(
                    method,
                    url,
                    format!(
                        "oauth2: cannot fetch token: {}",
                        transport_error("Post", token_uri, e)
                    ),
                )
            })?;
        let status = http::StatusCode::from_u16(resp.status).unwrap_or_default();
        let body = resp.text();
        if !status.is_success() {
            return Err(transport_error(
                method,
                url,
                format!("oauth2: cannot fetch token: {status}\nResponse: {body}"),
            ));
        }
        let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let Some(token) = parsed["access_token"].as_str().filter(|t| !t.is_empty()) else {
            return Err(transport_error(
                method,
                url,
                "oauth2: server response missing access_token",
            ));
        };
        let expires_in = parsed["expires_in"].as_u64().unwrap_or(3600);
        let life = CLIENT_CACHE.min(Duration::from_secs(expires_in.saturating_sub(10)));
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(CachedToken {
            key: cache_key,
            token: token.to_owned(),
            valid_until: now + life,
        });
        Ok(token.to_owned())
    }

    /// An authenticated JSON call; `body` makes it a POST.
    async fn call(
        &self,
        clock: &dyn Clock,
        creds: Option<&Credentials>,
        url: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let method = if body.is_some() { "Post" } else { "Get" };
        let token = self.access_token(clock, creds, url, method).await?;
        let bearer = format!("Bearer {token}");
        let mut headers = vec![
            ("authorization", bearer.as_str()),
            (
                "user-agent",
                "Vault/authsim (+https://www.vaultproject.io/) auth-gcp",
            ),
        ];
        let (verb, payload) = match &body {
            Some(b) => {
                headers.push(("content-type", "application/json"));
                (
                    Method::POST,
                    Bytes::from(serde_json::to_vec(b).unwrap_or_default()),
                )
            }
            None => (Method::GET, Bytes::new()),
        };
        let resp = self
            .http
            .send(verb, url, headers, payload)
            .await
            .map_err(|e| transport_error(method, url, e))?;
        let status = resp.status;
        let text = resp.text();
        if !(200..300).contains(&status) {
            return Err(googleapi_error(status, &text));
        }
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    /// IAM `projects.serviceAccounts.get` on `projects/{project}/serviceAccounts/{account}`.
    pub(crate) async fn service_account(
        &self,
        clock: &dyn Clock,
        config: &Config,
        project: &str,
        account: &str,
        fields: Option<&str>,
    ) -> Result<ServiceAccountInfo, String> {
        let ep = Endpoints::from_config(config);
        let mut url = resolve(
            &ep.iam,
            &format!(
                "v1/projects/{}/serviceAccounts/{}",
                path_escape(project),
                path_escape(account)
            ),
        );
        url.push_str("?alt=json");
        if let Some(f) = fields {
            url.push_str(&format!("&fields={}", query_escape(f)));
        }
        url.push_str("&prettyPrint=false");
        let v = self
            .call(clock, config.credentials.as_ref(), &url, None)
            .await?;
        Ok(ServiceAccountInfo {
            email: v["email"].as_str().unwrap_or_default().to_owned(),
            unique_id: v["uniqueId"].as_str().unwrap_or_default().to_owned(),
            project_id: v["projectId"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Resource Manager v1 `projects.getAncestry` → `(type, id)` nearest first.
    pub(crate) async fn ancestry(
        &self,
        clock: &dyn Clock,
        config: &Config,
        project: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let ep = Endpoints::from_config(config);
        let url = format!(
            "{}?alt=json&prettyPrint=false",
            resolve(
                &ep.crm,
                &format!("v1/projects/{}:getAncestry", path_escape(project))
            )
        );
        let v = self
            .call(
                clock,
                config.credentials.as_ref(),
                &url,
                Some(serde_json::json!({})),
            )
            .await?;
        Ok(v["ancestor"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["resourceId"]["type"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            e["resourceId"]["id"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Compute `instances.get`.
    pub(crate) async fn instance(
        &self,
        clock: &dyn Clock,
        config: &Config,
        project: &str,
        zone: &str,
        name: &str,
    ) -> Result<Value, String> {
        let ep = Endpoints::from_config(config);
        let url = format!(
            "{}?alt=json&prettyPrint=false",
            resolve(
                &ep.compute,
                &format!(
                    "projects/{}/zones/{}/instances/{}",
                    path_escape(project),
                    path_escape(zone),
                    path_escape(name)
                )
            )
        );
        self.call(clock, config.credentials.as_ref(), &url, None)
            .await
    }

    /// Compute `instanceGroups.aggregatedList` → location (`zones/z`, `regions/r`) → group names.
    pub(crate) async fn instance_groups(
        &self,
        clock: &dyn Clock,
        config: &Config,
        project: &str,
    ) -> Result<Vec<(String, Vec<String>)>, String> {
        let ep = Endpoints::from_config(config);
        let base = resolve(
            &ep.compute,
            &format!(
                "projects/{}/aggregated/instanceGroups",
                path_escape(project)
            ),
        );
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut url = format!(
                "{base}?alt=json&fields={}&prettyPrint=false",
                query_escape("items/*/instanceGroups/name,nextPageToken")
            );
            if let Some(p) = &page {
                url.push_str(&format!("&pageToken={}", query_escape(p)));
            }
            let v = self
                .call(clock, config.credentials.as_ref(), &url, None)
                .await?;
            if let Some(items) = v["items"].as_object() {
                for (location, scoped) in items {
                    let names: Vec<String> = scoped["instanceGroups"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|g| g["name"].as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    out.push((location.clone(), names));
                }
            }
            match v["nextPageToken"].as_str().filter(|t| !t.is_empty()) {
                Some(t) => page = Some(t.to_owned()),
                None => return Ok(out),
            }
        }
    }

    /// Compute `instanceGroups.listInstances` filtered to one instance; whether it is a member.
    /// `location` is `zones/z` or `regions/r`.
    pub(crate) async fn group_has_instance(
        &self,
        clock: &dyn Clock,
        config: &Config,
        project: &str,
        location: &str,
        group: &str,
        self_link: &str,
    ) -> Result<bool, String> {
        let ep = Endpoints::from_config(config);
        let url = format!(
            "{}?alt=json&filter={}&prettyPrint=false",
            resolve(
                &ep.compute,
                &format!(
                    "projects/{}/{location}/instanceGroups/{}/listInstances",
                    path_escape(project),
                    path_escape(group)
                )
            ),
            query_escape(&format!("instance eq {self_link}"))
        );
        let v = self
            .call(
                clock,
                config.credentials.as_ref(),
                &url,
                Some(serde_json::json!({})),
            )
            .await?;
        Ok(v["items"].as_array().is_some_and(|a| !a.is_empty()))
    }
}

/// The fields of an IAM `ServiceAccount` the plugin uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceAccountInfo {
    pub(crate) email: String,
    pub(crate) unique_id: String,
    pub(crate) project_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_gcp_custom_endpoints_resolve_like_the_go_clients() {
        let iam = client_base(Some("http://127.0.0.1:9000"), DEFAULT_IAM);
        assert_eq!(
            resolve(&iam, "v1/projects/-/serviceAccounts/a@b"),
            "http://127.0.0.1:9000/v1/projects/-/serviceAccounts/a@b"
        );
        let compute = client_base(Some("http://127.0.0.1:9000"), DEFAULT_COMPUTE);
        assert_eq!(
            resolve(&compute, "projects/p/zones/z/instances/n"),
            "http://127.0.0.1:9000/projects/p/zones/z/instances/n"
        );
        let compute = client_base(Some("http://h:1/compute/v1/"), DEFAULT_COMPUTE);
        assert_eq!(
            resolve(&compute, "projects/p"),
            "http://h:1/compute/v1/projects/p"
        );
        assert_eq!(
            client_base(Some("iam.internal:8443"), DEFAULT_IAM),
            "https://iam.internal:8443/"
        );
        assert_eq!(
            resolve(DEFAULT_COMPUTE, "projects/p"),
            "https://compute.googleapis.com/compute/v1/projects/p"
        );
    }

    #[test]
    fn vault_gcp_googleapi_errors_print_like_go() {
        assert_eq!(
            googleapi_error(404, "Not Found\n"),
            "googleapi: got HTTP response code 404 with body: Not Found\n"
        );
        assert_eq!(
            googleapi_error(
                404,
                r#"{"error":{"code":404,"message":"gone","errors":[{"message":"gone","domain":"global","reason":"notFound"}],"status":"NOT_FOUND"}}"#
            ),
            "googleapi: Error 404: gone, notFound"
        );
        assert_eq!(
            googleapi_error(
                503,
                r#"{"error":{"code":503,"message":"down","status":"UNAVAILABLE"}}"#
            ),
            "googleapi: Error 503: down"
        );
    }
}
