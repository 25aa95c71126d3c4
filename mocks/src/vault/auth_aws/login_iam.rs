//! `login` with the `iam` method (reference aws.md §1.1-1.10): the checks on the client's
//! request in Vault's order, each with Vault's message; the forward to STS; the ARN, role and
//! binding checks; the optional inferred EC2 instance; the login outcome; and its renewal.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

use super::arn::{glob_match, IamEntity};
use super::fields::{self, go_quote, Data, Headers};
use super::forward::{self, Forward, ForwardError};
use super::role::{cidrs_contain, Role};
use super::sdk::sdk_retries;
use super::{metadata_value, outcome, renewal_role_name, AwsAuthBackend};
use crate::vault::backend::{BackendResponse, LoginOutcome, VaultError};

const SERVER_ID_HEADER: &str = "X-Vault-AWS-IAM-Server-ID";
const DEFAULT_STS: &str = "https://sts.amazonaws.com";

fn bad(msg: impl Into<String>) -> VaultError {
    VaultError::bad_request(msg)
}

/// Query pairs, each borrowed from the query when it had nothing to unescape.
pub(crate) type QueryPairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Go's `url.ParseQuery`: pairs in order and the first error (`invalid semicolon separator in
/// query`, `invalid URL escape "%zz"`); bad pairs are skipped.
pub(crate) fn go_parse_query(s: &str) -> (QueryPairs<'_>, Option<String>) {
    let mut out = Vec::new();
    let mut first_err = None;
    for part in s.split('&') {
        if part.is_empty() {
            continue;
        }
        if part.contains(';') {
            first_err.get_or_insert_with(|| "invalid semicolon separator in query".to_owned());
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match (go_unescape(k, true), go_unescape(v, true)) {
            (Ok(k), Ok(v)) => out.push((k, v)),
            (Err(e), _) | (_, Err(e)) => {
                first_err.get_or_insert(e);
            }
        }
    }
    (out, first_err)
}

/// Go's `url.QueryUnescape` (`plus` = `+` means space) / path unescaping; borrowed when there is
/// nothing to unescape.
fn go_unescape(s: &str, plus: bool) -> Result<Cow<'_, str>, String> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || (plus && c == b'+')) {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).and_then(|c| hex(*c)),
                    b.get(i + 2).and_then(|c| hex(*c)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(b.len());
                        let esc = String::from_utf8_lossy(&b[i..end]);
                        return Err(format!("invalid URL escape {}", go_quote(&esc)));
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

/// The parts of a URL Vault uses, parsed as leniently as Go's `url.Parse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoUrl {
    /// `host[:port]`, empty for a relative URL.
    pub host: String,
    pub path: String,
    pub raw_query: String,
}

impl GoUrl {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err("net/url: invalid control character in URL".into());
        }
        let s = s.split_once('#').map_or(s, |(a, _)| a);
        let (rest, raw_query) = match s.split_once('?') {
            Some((a, q)) => (a, q.to_owned()),
            None => (s, String::new()),
        };
        let rest = match rest.find(':') {
            Some(0) => return Err("missing protocol scheme".into()),
            Some(i)
                if rest[..i]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                    && rest[..i]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                &rest[i + 1..]
            }
            _ => rest,
        };
        let (host, path) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find('/').unwrap_or(after.len());
                let authority = &after[..end];
                let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                let port = match host.rfind(']') {
                    Some(i) => host[i + 1..].strip_prefix(':'),
                    None => host.rsplit_once(':').map(|(_, p)| p),
                };
                if port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
                    return Err(format!(
                        "invalid port {} after host",
                        go_quote(&format!(":{}", port.unwrap_or_default()))
                    ));
                }
                (host.to_owned(), after[end..].to_owned())
            }
            None => (String::new(), rest.to_owned()),
        };
        go_unescape(&path, false)?;
        Ok(Self {
            host,
            path,
            raw_query,
        })
    }

    /// Go's `RequestURI`: the path (`/` if empty) and the query.
    pub(crate) fn request_uri(&self) -> String {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        if self.raw_query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", self.raw_query)
        }
    }

    fn query(&self) -> QueryPairs<'_> {
        go_parse_query(&self.raw_query).0
    }
}

/// The `X-Vault-AWS-IAM-Server-ID` rules (reference §1.3); the reason after
/// `error validating X-Vault-AWS-IAM-Server-ID header: `.
fn check_server_id(
    expected: &str,
    headers: &Headers,
    method: &str,
    url: &GoUrl,
) -> Result<(), String> {
    // The values of every key that matches case-insensitively, joined with commas (one value,
    // the usual case, is compared as it is).
    let mut values = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(SERVER_ID_HEADER))
        .flat_map(|(_, v)| v)
        .map(String::as_str)
        .peekable();
    let first = values.next().unwrap_or_default();
    let given: Cow<'_, str> = if values.peek().is_none() {
        Cow::Borrowed(first)
    } else {
        Cow::Owned(
            std::iter::once(first)
                .chain(values)
                .collect::<Vec<_>>()
                .join(","),
        )
    };
    if given.is_empty() {
        return Err(format!("missing header \"{SERVER_ID_HEADER}\""));
    }
    if given != expected {
        return Err(format!(
            "expected {} but got {}",
            go_quote(expected),
            go_quote(&given)
        ));
    }
    let (auth, query);
    let signed: &str = if method == "POST" {
        let Some(values) = headers.get("Authorization") else {
            return Err("missing Authorization header".into());
        };
        auth = match &values[..] {
            [one] => Cow::Borrowed(one.as_str()),
            many => Cow::Owned(many.join(",")),
        };
        // Vault checks for more than one match of its pattern too (`found multiple
        // SignedHeaders components`), but `FindSubmatch` with one group never returns more.
        match signed_headers_list(&auth) {
            Some(list) => list,
            None => return Err("vault header wasn't signed".into()),
        }
    } else {
        query = url.query();
        query
            .iter()
            .find(|(k, _)| k == "X-Amz-SignedHeaders")
            .map_or("", |(_, v)| v.as_ref())
    };
    if signed.split(';').any(|h| h == "x-vault-aws-iam-server-id") {
        Ok(())
    } else {
        Err("vault header wasn't signed".into())
    }
}

/// What Go's `regexp` `.*SignedHeaders=([^,]+)` captures in the whole header: `.` stops at a
/// line break, so the first line with a `SignedHeaders=` not followed by a comma holds the match,
/// greedy `.*` picks the last such one on that line, and the list runs to the next comma (or the
/// end), across line breaks.
fn signed_headers_list(auth: &str) -> Option<&str> {
    const KEY: &str = "SignedHeaders=";
    let mut line_start = 0;
    loop {
        let line_end = auth[line_start..]
            .find('\n')
            .map_or(auth.len(), |i| line_start + i);
        let line = &auth[line_start..line_end];
        // From the end of the line: the first occurrence not followed by a comma (or the end)
        // is the one the greedy `.*` stops at. One pass over the line, one comma search.
        let mut end = line.len();
        while let Some(i) = line[..end].rfind(KEY) {
            let start = line_start + i + KEY.len();
            if auth[start..].chars().next().is_some_and(|c| c != ',') {
                let rest = &auth[start..];
                return Some(&rest[..rest.find(',').unwrap_or(rest.len())]);
            }
            end = i;
        }
        if line_end == auth.len() {
            return None;
        }
        line_start = line_end + 1;
    }
}

/// `https://sts.<region>.amazonaws.com` for a region aws-sdk-go v1 knows.
// UNVERIFIED: reference §1.2 step 8e names the resolver, not its region list; this list is the
// public commercial, China and GovCloud regions, with `aws-global` and the US FIPS keys that
// aws-sdk-go v1.44.331's resolver also knows (its ISO partitions are left out); `ca-west-1`,
// which that version lacks and newer SDKs have, is kept for the newer Vault lines.
fn regional_sts_endpoint(region: &str) -> Option<String> {
    const REGIONS: &[&str] = &[
        "af-south-1",
        "ap-east-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "us-gov-east-1",
        "us-gov-west-1",
        "cn-north-1",
        "cn-northwest-1",
    ];
    // The resolver's other STS keys: the global endpoint and the FIPS ones.
    if region == "aws-global" {
        return Some(DEFAULT_STS.to_owned());
    }
    if let Some(base) = region.strip_suffix("-fips") {
        // GovCloud's FIPS keys name its ordinary hosts, which are FIPS endpoints already.
        if base.starts_with("us-gov-") && REGIONS.contains(&base) {
            return Some(format!("https://sts.{base}.amazonaws.com"));
        }
        if base.starts_with("us-") && REGIONS.contains(&base) {
            return Some(format!("https://sts-fips.{base}.amazonaws.com"));
        }
        return None;
    }
    if !REGIONS.contains(&region) {
        return None;
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Some(format!("https://sts.{region}.{suffix}"))
}

/// Which login fields a request carries. A field is there when its key is, whatever its value
/// (`null` and `""` included), as `FieldData.GetOk` sees it.
struct Mode {
    all_iam: bool,
    all_ec2: bool,
}

fn mode(data: &Data, method: Option<&str>) -> Mode {
    let has = |k: &str| data.contains_key(k);
    let (m, u, b, h) = (
        has("iam_http_request_method"),
        has("iam_request_url"),
        has("iam_request_body"),
        has("iam_request_headers"),
    );
    let (p, i, s) = (has("pkcs7"), has("identity"), has("signature"));
    Mode {
        all_iam: m && u && h && (b || method == Some("GET")),
        all_ec2: p || (i && s),
    }
}

impl AwsAuthBackend {
    pub(super) async fn login(
        &self,
        data: &Data,
        remote: Option<IpAddr>,
    ) -> Result<BackendResponse, VaultError> {
        // 1. Field conversion of every login field, before the handler runs.
        let role = fields::string(data, "role")?.filter(|r| !r.is_empty());
        let method = fields::string(data, "iam_http_request_method")?;
        let url = fields::string(data, "iam_request_url")?;
        let body = fields::string(data, "iam_request_body")?;
        let headers = fields::headers(data, "iam_request_headers")?;
        for f in ["pkcs7", "identity", "signature", "nonce"] {
            fields::string(data, f)?;
        }
        // 2. Which method. Vault's `hasValuesForEc2Auth` and `hasValuesForIamAuth` return
        // (all, any) and `pathLoginUpdate` reads them as (any, all): a method is chosen when all
        // of its fields are there, and the two `supplied some of the auth values for the … auth
        // type but not all` messages cannot be reached (README, fidelity notes).
        let m = mode(data, method.as_deref());
        match (m.all_ec2, m.all_iam) {
            (true, true) => Err(bad("supplied auth values for both ec2 and iam auth types")),
            (true, false) => self.login_ec2(data, role, remote).await,
            (false, true) => {
                let req = IamLogin {
                    role,
                    method: method.unwrap_or_default(),
                    url: url.unwrap_or_default(),
                    body: body.unwrap_or_default(),
                    headers: headers.unwrap_or_default(),
                };
                self.login_iam(req, remote)
                    .await
                    .map(BackendResponse::Login)
            }
            (false, false) => Err(bad("didn't supply required authentication values")),
        }
    }

    async fn login_iam(
        &self,
        req: IamLogin,
        remote: Option<IpAddr>,
    ) -> Result<LoginOutcome, VaultError> {
        // 3. Method.
        let method = req.method.as_str();
        if method.is_empty() {
            return Err(bad("missing iam_http_request_method"));
        }
        if method != "GET" && method != "POST" {
            return Err(bad(
                "invalid iam_http_request_method; currently only 'GET' and 'POST' are supported",
            ));
        }
        // 4. URL.
        if req.url.is_empty() {
            return Err(bad("missing iam_request_url"));
        }
        let raw_url = fields::go_base64(&req.url)
            .map_err(|_| bad("failed to base64 decode iam_request_url"))?;
        let url = GoUrl::parse(&String::from_utf8_lossy(&raw_url))
            .map_err(|_| bad("error parsing iam_request_url"))?;
        if method == "POST" {
            if !url.raw_query.is_empty() {
                return Err(bad("invalid request"));
            }
        } else {
            let query = url.query();
            let actions: Vec<&str> = query
                .iter()
                .filter(|(k, _)| k == "Action")
                .map(|(_, v)| v.as_ref())
                .collect();
            match &actions[..] {
                [] => return Err(bad("no action found in request")),
                [a] if *a == "GetCallerIdentity" => {}
                [a] => return Err(bad(format!("unexpected action parameter, {a}"))),
                _ => return Err(bad("found multiple actions")),
            }
        }
        // 5. Body.
        if method == "POST" && req.body.is_empty() {
            return Err(bad(
                "missing iam_request_body which is required for POST requests",
            ));
        }
        let body = fields::go_base64(&req.body)
            .map_err(|_| bad("failed to base64 decode iam_request_body"))?;
        if !body.is_empty() {
            let text = String::from_utf8_lossy(&body);
            let (pairs, err) = go_parse_query(&text);
            if let Some(e) = err {
                return Err(bad(e));
            }
            // Only `Action` and `Version`; an `Action`, if there, once and GetCallerIdentity
            // (a body with `Version` alone passes).
            let actions: Vec<&str> = pairs
                .iter()
                .filter(|(k, _)| k == "Action")
                .map(|(_, v)| v.as_ref())
                .collect();
            let keys_ok = pairs.iter().all(|(k, _)| k == "Action" || k == "Version");
            if !keys_ok || !(actions.is_empty() || actions == ["GetCallerIdentity"]) {
                return Err(bad("iam request body is invalid"));
            }
        }
        // 6. Headers.
        let headers = req.headers;
        if headers.is_empty() {
            return Err(bad("missing iam_request_headers"));
        }
        // 7-8. What config/client asks of the request (nothing without config/client).
        let config = self.state().client.clone();
        let mut endpoint = DEFAULT_STS.to_owned();
        let mut retries = sdk_retries(-1);
        if let Some(cfg) = &config {
            if !cfg.iam_server_id_header_value.is_empty() {
                check_server_id(&cfg.iam_server_id_header_value, &headers, method, &url)
                    .map_err(|e| bad(format!("error validating {SERVER_ID_HEADER} header: {e}")))?;
            }
            // Sorted keys: with several bad headers, Go's map order would pick one at random.
            // The keys went through `Header.Add`: they are canonical already.
            for k in headers.keys() {
                if k.starts_with("X-Amz-") && !cfg.header_allowed(k) {
                    return Err(bad(format!("invalid request header: {k}")));
                }
            }
            if method == "GET" {
                for (k, _) in url.query() {
                    if fields::canonical_header_key(&k).starts_with("X-Amz-")
                        && !cfg.query_param_allowed(&k)
                    {
                        return Err(bad(format!("invalid request query param: {k}")));
                    }
                }
            }
            if !cfg.sts_endpoint.is_empty() {
                endpoint = cfg.sts_endpoint.clone();
            }
            if cfg.max_retries >= 0 {
                retries = cfg.max_retries as u32;
            }
            if cfg.use_sts_region_from_client {
                let region = headers
                    .get("Authorization")
                    .and_then(|v| v.first())
                    .and_then(|a| {
                        a.split(' ')
                            .find_map(|f| f.strip_prefix("Credential="))
                            .and_then(|c| c.split('/').nth(2).map(str::to_owned))
                    })
                    .ok_or_else(|| bad("region missing from Authorization header"))?;
                endpoint = regional_sts_endpoint(&region).ok_or_else(|| {
                    bad(format!(
                        "unable to get regional STS endpoint for region: {region}"
                    ))
                })?;
            }
        }
        // 9. Upstream.
        let forward = Forward {
            method: method.to_owned(),
            url: format!("{endpoint}/{}", url.request_uri()),
            host: url.host.clone(),
            headers,
            // A GET forwards its body too: Vault builds every method's request with it.
            body,
            retries,
        };
        let caller =
            match forward::submit(&self.http, &forward).await {
                Ok(c) => c,
                Err(ForwardError::Upstream(e)) => {
                    return Err(bad(format!("error making upstream request: {e}")))
                }
                // UNVERIFIED: reference §1.5 says the handler panics (expect 500); the text is ours.
                Err(ForwardError::Panic) => return Err(VaultError::internal(
                    "internal error: GetCallerIdentity answered without GetCallerIdentityResult",
                )),
            };
        // 10. ARN.
        let entity = IamEntity::parse(&caller.arn)
            .map_err(|e| bad(format!("error parsing arn {}: {e}", go_quote(&caller.arn))))?;
        let canonical = entity.canonical_arn();
        let client_user_id = caller
            .user_id
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        // 11. Role.
        let role_name = role_or_friendly(req.role, &entity);
        let role = self
            .state()
            .roles
            .get(&role_name.to_lowercase())
            .cloned()
            .ok_or_else(|| bad(format!("entry for role {role_name} not found")))?;
        // 12. Source address.
        if !role.token.bound_cidrs.is_empty()
            && !remote.is_some_and(|ip| cidrs_contain(&role.token.bound_cidrs, ip))
        {
            return Err(VaultError::permission_denied());
        }
        // 13. Method allowed.
        if role.auth_type != "iam" {
            return Err(bad(format!(
                "auth method iam not allowed for role {role_name}"
            )));
        }
        // 15. Principal binding.
        if !self
            .principal_bound(
                &role,
                &role_name,
                &canonical,
                Ok(entity.clone()),
                &client_user_id,
                false,
            )
            .await
            .map_err(bad)?
        {
            return Err(bad(format!(
                "IAM Principal {} does not belong to the role {}",
                go_quote(&caller.arn),
                go_quote(&role_name)
            )));
        }
        // 16. Inferred EC2 instance.
        let mut inferred = None;
        if role.inferred_entity_type == "ec2_instance" {
            let id = entity.session.clone();
            let region = role.inferred_aws_region.clone();
            let desc = self
                .describe_instance(&caller.account, &region, &id)
                .await
                .map_err(|e| {
                    bad(format!(
                        "failed to verify {id} as a valid EC2 instance in region {region}: {e}"
                    ))
                })?;
            self.instance_meets_role(&role, &role_name, &desc, &caller.account)
                .await
                .map_err(|e| e.answer("error validating instance: "))?;
            inferred = Some((id, region));
        }
        let (inferred_id, inferred_region) = inferred.unwrap_or_default();
        // A renewal is routed by the token's `auth_type` metadata, which is there only when
        // `iam_metadata` keeps it (without it Vault takes the token for an ec2 one).
        let mut internal = super::auth_type_metadata(&self.state().identity.iam_metadata, "iam");
        for (k, v) in [
            ("role_name", role_name.as_str()),
            ("role_id", role.role_id.as_str()),
            ("canonical_arn", canonical.as_str()),
            ("client_user_id", client_user_id.as_str()),
            ("client_arn", caller.arn.as_str()),
            ("inferred_entity_id", inferred_id.as_str()),
            ("inferred_aws_region", inferred_region.as_str()),
            ("account_id", entity.account.as_str()),
        ] {
            internal.insert(k.to_owned(), json!(v));
        }
        let outcome = self.iam_outcome(&role, internal, Some(&entity));
        // 17. A login that will create a lease (any token but a batch one) has core work out its
        // role for lease-count quotas (vault/request_handling.go, `DetermineRoleFromLoginRequest`
        // unless the server sets `imprecise_lease_role_tracking`: `serve
        // --imprecise-lease-role-tracking`), and the aws backend's
        // `ResolveRoleOperation` runs the iam pipeline again: a second GetCallerIdentity,
        // whose failure is ignored.
        if self.resolve_role_after_login && role.token.token_type != "batch" {
            let _ = forward::submit(&self.http, &forward).await;
        }
        Ok(outcome)
    }

    /// The metadata, alias and display name of an iam login, from what it stored.
    /// `entity`: the client's ARN already parsed (a login has it; a renewal parses it here).
    fn iam_outcome(
        &self,
        role: &Role,
        internal: Map<String, Value>,
        entity: Option<&IamEntity>,
    ) -> LoginOutcome {
        let get = |k: &str| {
            internal
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let client_arn = get("client_arn");
        let inferred = !get("inferred_entity_id").is_empty();
        let value = |field: &str| -> String {
            match field {
                "account_id" => get("account_id"),
                "auth_type" => "iam".into(),
                "canonical_arn" => get("canonical_arn"),
                "client_arn" => client_arn.clone(),
                "client_user_id" => get("client_user_id"),
                "inferred_aws_region" => get("inferred_aws_region"),
                "inferred_entity_id" => get("inferred_entity_id"),
                "inferred_entity_type" if inferred => "ec2_instance".into(),
                _ => String::new(),
            }
        };
        let identity = self.state().identity.clone();
        let mut metadata = BTreeMap::new();
        metadata.insert("role_id".to_owned(), role.role_id.clone());
        for f in &identity.iam_metadata {
            let v = value(f);
            if !v.is_empty() {
                metadata.insert(f.clone(), v);
            }
        }
        let alias = match identity.iam_alias.as_str() {
            "unique_id" => get("client_user_id"),
            "full_arn" => client_arn.clone(),
            "canonical_arn" => get("canonical_arn"),
            _ => role.role_id.clone(),
        };
        let parsed;
        let entity = match entity {
            Some(e) => Some(e),
            None => {
                parsed = IamEntity::parse(&client_arn).ok();
                parsed.as_ref()
            }
        };
        let display = match entity {
            Some(e) if e.kind == "assumed-role" => format!("{}/{}", e.friendly_name, e.session),
            Some(e) => e.friendly_name.clone(),
            None => String::new(),
        };
        outcome(role, metadata, display, alias, internal)
    }

    /// Whether the principal satisfies the role's `bound_iam_principal_arn` (reference §1.7);
    /// `Err` is a lookup failure's full message. `entity` is the principal's parsed ARN, needed
    /// (and its parse error reported) only for a wildcard binding; `renewal` picks Vault's
    /// renewal wording (`when updating login for role`).
    async fn principal_bound(
        &self,
        role: &Role,
        role_name: &str,
        canonical: &str,
        entity: Result<IamEntity, String>,
        client_user_id: &str,
        renewal: bool,
    ) -> Result<bool, String> {
        if role.bound_iam_principal_arn.is_empty() {
            return Ok(true);
        }
        if role
            .bound_iam_principal_id
            .iter()
            .any(|id| id == client_user_id)
        {
            return Ok(true);
        }
        if !role.resolve_aws_unique_ids
            && role.bound_iam_principal_arn.iter().any(|a| a == canonical)
        {
            return Ok(true);
        }
        let globs: Vec<&String> = role
            .bound_iam_principal_arn
            .iter()
            .filter(|a| a.ends_with('*'))
            .collect();
        if globs.is_empty() {
            return Ok(false);
        }
        let doing = if renewal {
            "updating login"
        } else {
            "attempting login"
        };
        let role_q = go_quote(role_name);
        let entity = entity.map_err(|e| {
            format!(
                "error parsing ARN {} when {doing} for role {role_q}: {e}",
                go_quote(canonical)
            )
        })?;
        let full = self.full_arn(&entity, client_user_id).await.map_err(|e| {
            format!(
                "error looking up full ARN of entity {entity} when {doing} for role {role_q}: {e}"
            )
        })?;
        if full.is_empty() {
            return Err(format!(
                "got empty string back when looking up full ARN of entity {entity} when {doing} for role {role_q}"
            ));
        }
        Ok(globs.iter().any(|g| glob_match(g, &full)))
    }

    /// `pathLoginRenewIam`: every refusal is a plain error (500), in Vault's order: the stored
    /// ARN, the role, the inferred instance the role asks for now, then the binding.
    pub(super) async fn renew_iam(
        &self,
        internal: &Map<String, Value>,
    ) -> Result<LoginOutcome, VaultError> {
        let value = |k: &str| metadata_value(internal, k);
        let canonical = value("canonical_arn")?;
        let role_name = renewal_role_name(internal)?;
        let role = self
            .state()
            .roles
            .get(&role_name.to_lowercase())
            .cloned()
            .ok_or_else(|| VaultError::internal("role entry not found"))?;
        // What the role asks now, not what the login found: an instance is checked only when
        // the role infers one, and only that it runs (not the role's instance bindings).
        match role.inferred_entity_type.as_str() {
            "" => {}
            "ec2_instance" => {
                let instance = value("inferred_entity_id")?;
                let region = value("inferred_aws_region")?;
                let account = value("account_id").unwrap_or_default();
                self.instance_still_runs(&account, &region, &instance)
                    .await?;
            }
            other => {
                return Err(VaultError::internal(format!(
                    "unrecognized entity_type in metadata: {}",
                    go_quote(other)
                )))
            }
        }
        let client_user_id = value("client_user_id").unwrap_or_default();
        let bound = self
            .principal_bound(
                &role,
                &role_name,
                &canonical,
                IamEntity::parse(&canonical),
                &client_user_id,
                true,
            )
            .await
            .map_err(VaultError::internal)?;
        if !bound {
            return Err(VaultError::internal(format!(
                "role {} no longer bound to ARN {}",
                go_quote(&role_name),
                go_quote(&canonical)
            )));
        }
        Ok(self.iam_outcome(&role, internal.clone(), None))
    }
}

/// The fields of an iam login once the mode is known.
struct IamLogin {
    role: Option<String>,
    method: String,
    url: String,
    body: String,
    headers: Headers,
}

/// The role named in the login, or the principal's friendly name.
fn role_or_friendly(role: Option<String>, entity: &IamEntity) -> String {
    role.unwrap_or_else(|| entity.friendly_name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_reports_go_errors() {
        assert_eq!(
            go_parse_query("Action=GetCallerIdentity;x").1.as_deref(),
            Some("invalid semicolon separator in query")
        );
        assert_eq!(
            go_parse_query("Action=%zz").1.as_deref(),
            Some("invalid URL escape \"%zz\"")
        );
        assert_eq!(
            go_parse_query("a=b+c&&d").0,
            vec![
                (Cow::Borrowed("a"), Cow::Owned("b c".to_owned())),
                (Cow::Borrowed("d"), Cow::Borrowed(""))
            ]
        );
    }

    #[test]
    fn urls_keep_host_port_and_request_uri() {
        let u = GoUrl::parse("https://sts.amazonaws.com/").unwrap();
        assert_eq!(u.host, "sts.amazonaws.com");
        assert_eq!(u.request_uri(), "/");
        let u = GoUrl::parse("https://h:8443?Action=X").unwrap();
        assert_eq!(u.host, "h:8443");
        assert_eq!(u.request_uri(), "/?Action=X");
        assert!(GoUrl::parse("https://h:x/").is_err());
        assert!(GoUrl::parse(":nope").is_err());
    }

    #[test]
    fn regional_endpoints_follow_the_partition() {
        assert_eq!(
            regional_sts_endpoint("eu-west-1").unwrap(),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            regional_sts_endpoint("cn-north-1").unwrap(),
            "https://sts.cn-north-1.amazonaws.com.cn"
        );
        assert!(regional_sts_endpoint("mars-1").is_none());
        assert!(regional_sts_endpoint("").is_none());
        assert_eq!(
            regional_sts_endpoint("aws-global").unwrap(),
            "https://sts.amazonaws.com"
        );
        assert_eq!(
            regional_sts_endpoint("us-east-2-fips").unwrap(),
            "https://sts-fips.us-east-2.amazonaws.com"
        );
        assert_eq!(
            regional_sts_endpoint("us-gov-west-1-fips").unwrap(),
            "https://sts.us-gov-west-1.amazonaws.com"
        );
        assert!(regional_sts_endpoint("eu-west-1-fips").is_none());
    }

    #[test]
    fn signed_headers_are_read_as_vaults_pattern_matches_them() {
        let list = signed_headers_list;
        let sig = "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host;x-vault-aws-iam-server-id, Signature=c";
        assert_eq!(list(sig), Some("host;x-vault-aws-iam-server-id"));
        // Greedy `.*`: the last list on the line.
        assert_eq!(list("SignedHeaders=a, SignedHeaders=b, S=c"), Some("b"));
        // An empty list does not match; an earlier one on the line does.
        assert_eq!(list("SignedHeaders=a, SignedHeaders=, S=c"), Some("a"));
        assert_eq!(list("SignedHeaders=,x"), None);
        assert_eq!(list("no list here"), None);
        // The first line holding a list wins, and the list runs across line breaks to a comma.
        assert_eq!(
            list("x\nSignedHeaders=a\nSignedHeaders=b"),
            Some("a\nSignedHeaders=b")
        );
        assert_eq!(list("SignedHeaders=,\nSignedHeaders=b"), Some("b"));
        assert_eq!(list("SignedHeaders=\nhost;x,y"), Some("\nhost;x"));
        // A megabyte of occurrences on one line: the last one, found in one pass.
        let many = "SignedHeaders=a".repeat(70_000);
        assert_eq!(list(&many), Some("a"));
    }
}
