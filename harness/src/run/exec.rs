//! Running one scenario's steps: build the request (with its mutations), send it, read the
//! answer into [`Observed`], check the expectations and the cloud mocks' journal.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use authsim_mocks::faults::{Fault, FaultKind, FaultMatch};
use authsim_mocks::journal::Entry;
use authsim_mocks::world::aws::Principal;
use serde_json::{json, Map, Value};

use super::env::Env;
use crate::client::{aws as aws_client, gcp as gcp_client};
use crate::report::{Mismatch, Observed, Outcome, StepResult};
use crate::scenario::{self, Action, IdentityRef, Step};

/// A request the runner sent, kept to print as `curl`.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// An answer: status and body (JSON when it parses, the text otherwise).
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: Value,
}

/// Mutable state across a scenario's steps.
#[derive(Debug, Default)]
pub struct State {
    pub captures: BTreeMap<String, String>,
}

type StepError = String;

impl State {
    /// Replaces `{{name}}` with captured values; an unknown name is an error.
    pub fn expand(&self, s: &str) -> Result<String, StepError> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(j) = after.find("}}") else {
                return Err(format!("unclosed `{{{{` in '{s}'"));
            };
            let name = after[..j].trim();
            let v = self.captures.get(name).ok_or_else(|| {
                let known: Vec<_> = self.captures.keys().map(String::as_str).collect();
                format!(
                    "no capture `{name}` yet (captured so far: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )
            })?;
            out.push_str(v);
            rest = &after[j + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn expand_json(&self, v: &Value) -> Result<Value, StepError> {
        Ok(match v {
            Value::String(s) => Value::String(self.expand(s)?),
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.expand_json(x))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), self.expand_json(x)?)))
                    .collect::<Result<_, StepError>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// Runs one step.
pub async fn run_step(env: &Env, st: &mut State, index: usize, step: &Step) -> StepResult {
    let started = Instant::now();
    let seq = env.sim.journal().last_seq();
    let mut result = StepResult {
        index,
        kind: step.action.kind().to_owned(),
        label: step.label(),
        line: step.line,
        outcome: Outcome::Passed,
        duration_ms: 0,
        observed: Observed::default(),
        failures: Vec::new(),
        error: None,
        curl: None,
    };
    let mut sent = None;
    match act(env, st, step, &mut sent).await {
        Err(e) => {
            result.outcome = Outcome::Error;
            result.error = Some(e);
        }
        Ok(answer) => {
            if let Some(a) = &answer {
                result.observed = observe(a, step);
                if let Err(e) = capture(st, a, step) {
                    result.error = Some(e);
                    result.outcome = Outcome::Error;
                }
            }
            check(&mut result, answer.as_ref(), step, st);
            let entries = env.sim.journal().since(seq);
            check_upstream(&mut result, &entries, step);
            if !result.failures.is_empty() && result.outcome == Outcome::Passed {
                result.outcome = Outcome::Failed;
            }
        }
    }
    if result.outcome != Outcome::Passed {
        result.curl = sent
            .as_ref()
            .map(|s| curl(s, &env.vault_addr, env.embedded));
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

async fn act(
    env: &Env,
    st: &mut State,
    step: &Step,
    sent: &mut Option<Sent>,
) -> Result<Option<Answer>, StepError> {
    let m = &step.mutate;
    let now = env.clock.now();
    let unix = env.clock.unix() as u64;
    match &step.action {
        Action::Nothing => Ok(None),
        Action::AwsLogin(a) => {
            let keys = aws_keys(
                env,
                &a.identity,
                m.session_token.as_deref() == Some("expired"),
            )?;
            let spec = aws_client::LoginSpec {
                method: &a.method,
                style: &a.style,
                region: &a.region,
                server_id: a.server_id.as_deref(),
                time: now,
            };
            let signed = aws_client::build(&keys, &spec, m).map_err(|e| e.0)?;
            let role = a.role.as_deref().map(|r| st.expand(r)).transpose()?;
            let data = signed.login_data(role.as_deref());
            vault(
                env,
                st,
                sent,
                "POST",
                &format!("auth/{}/login", env.mount(&a.mount)),
                Some(data),
                None,
            )
            .await
        }
        Action::GetCallerIdentity(g) => {
            let keys = aws_keys(
                env,
                &g.identity,
                m.session_token.as_deref() == Some("expired"),
            )?;
            let spec = aws_client::LoginSpec {
                method: "POST",
                style: "hvac",
                region: &g.region,
                server_id: None,
                time: now,
            };
            let signed = aws_client::build(&keys, &spec, m).map_err(|e| e.0)?;
            let headers: Vec<(String, String)> = signed
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
                .cloned()
                .collect();
            let mut h = headers.clone();
            h.push(("Host".into(), "sts.amazonaws.com".into()));
            send(
                env,
                sent,
                "POST",
                &format!("{}/", env.aws),
                h,
                Some(signed.body),
            )
            .await
            .map(Some)
        }
        Action::GcpLogin(g) => {
            let email = sa_email(env, &g.service_account)?;
            let role = st.expand(&g.role)?;
            let lifetime = g.expires_in.map(|d| d.as_secs()).unwrap_or(600);
            let mut claims = gcp_client::login_claims(&email, &role, unix, lifetime);
            gcp_client::mutate_claims(&mut claims, &m.claims, &m.remove_claims, unix)
                .map_err(|e| e.0)?;
            let jwt = if let Some(k) = &m.signing_key {
                sign_with(env, k, &claims)?
            } else if g.key_file {
                let w = env.sim.world();
                let sa = w
                    .gcp
                    .find_account(&email)
                    .ok_or_else(|| format!("no service account {email}"))?;
                let key = sa.user_keys.first().ok_or_else(|| {
                    format!("{email} has no user-managed key: give it `user_keys = 1` in the world")
                })?;
                key.key
                    .sign_jws(Value::Object(claims.clone()).to_string().as_bytes())
            } else {
                let caller = g.caller.as_deref().unwrap_or(&g.service_account);
                let a = sign_jwt(env, caller, &email, &claims, &mut None).await?;
                if a.status != 200 {
                    return Err(format!(
                        "signJwt for {email} by {caller} failed ({}): {}",
                        a.status, a.body
                    ));
                }
                a.body["signedJwt"].as_str().unwrap_or_default().to_owned()
            };
            let jwt = gcp_client::mutate_signed(&jwt, m).map_err(|e| e.0)?;
            let data = json!({ "role": role, "jwt": jwt });
            vault(
                env,
                st,
                sent,
                "POST",
                &format!("auth/{}/login", env.mount(&g.mount)),
                Some(data),
                None,
            )
            .await
        }
        Action::GceLogin(g) => {
            let role = st.expand(&g.role)?;
            let audience = g
                .audience
                .clone()
                .unwrap_or_else(|| format!("vault/{role}"));
            let url = format!(
                "{}/computeMetadata/v1/instance/service-accounts/default/identity?audience={}&format=full",
                env.google,
                form_urlencoded::byte_serialize(audience.as_bytes()).collect::<String>()
            );
            let r = env
                .http
                .get(&url)
                .header("Metadata-Flavor", "Google")
                .send()
                .await
                .map_err(|e| format!("metadata server: {e}"))?;
            let status = r.status().as_u16();
            let jwt = r
                .text()
                .await
                .map_err(|e| format!("metadata server: {e}"))?;
            if status != 200 {
                return Err(format!("the metadata server answered {status}: {jwt}"));
            }
            let jwt = gcp_client::mutate_signed(&jwt, m).map_err(|e| e.0)?;
            vault(
                env,
                st,
                sent,
                "POST",
                &format!("auth/{}/login", env.mount(&g.mount)),
                Some(json!({ "role": role, "jwt": jwt })),
                None,
            )
            .await
        }
        Action::AwsEc2Login(e) => {
            let doc = ec2_document(env, e.instance.as_deref(), &e.document).await?;
            let mut data = Map::new();
            for (k, v) in doc {
                data.insert(k, json!(v));
            }
            if m.document.as_deref() == Some("tamper") {
                for k in ["pkcs7", "signature"] {
                    if let Some(Value::String(s)) = data.get_mut(k) {
                        let mid = s.len() / 2;
                        let c = if &s[mid..=mid] == "A" { "B" } else { "A" };
                        s.replace_range(mid..=mid, c);
                    }
                }
            }
            if let Some(r) = &e.role {
                data.insert("role".into(), json!(st.expand(r)?));
            }
            if let Some(n) = &e.nonce {
                data.insert("nonce".into(), json!(st.expand(n)?));
            }
            vault(
                env,
                st,
                sent,
                "POST",
                &format!("auth/{}/login", env.mount(&e.mount)),
                Some(Value::Object(data)),
                None,
            )
            .await
        }
        Action::ApproleLogin(a) => {
            let mut data = json!({ "role_id": st.expand(&a.role_id)? });
            if let Some(s) = &a.secret_id {
                data["secret_id"] = json!(st.expand(s)?);
            }
            vault(
                env,
                st,
                sent,
                "POST",
                &format!("auth/{}/login", env.mount(&a.mount)),
                Some(data),
                None,
            )
            .await
        }
        Action::UserpassLogin(p) | Action::LdapLogin(p) => {
            let kind = if matches!(step.action, Action::LdapLogin(_)) {
                "ldap"
            } else {
                "userpass"
            };
            let mount = env.mount(p.mount.as_deref().unwrap_or(kind));
            let user = st.expand(&p.username)?;
            let data = json!({ "password": st.expand(&p.password)? });
            vault(
                env,
                st,
                sent,
                "POST",
                &format!("auth/{mount}/login/{user}"),
                Some(data),
                None,
            )
            .await
        }
        Action::TokenLookup(t) => {
            let token = token_of(st, t.token.as_deref())?;
            vault(
                env,
                st,
                sent,
                "GET",
                "auth/token/lookup-self",
                None,
                Some(token),
            )
            .await
        }
        Action::VaultRead(p) | Action::VaultList(p) | Action::VaultDelete(p) => {
            let method = match step.action {
                Action::VaultRead(_) => "GET",
                Action::VaultList(_) => "LIST",
                _ => "DELETE",
            };
            let token = p.token.as_deref().map(|t| st.expand(t)).transpose()?;
            vault(env, st, sent, method, &st.expand(&p.path)?, None, token).await
        }
        Action::VaultWrite(w) => {
            let data = st.expand_json(&crate::provision::toml_to_json(&toml::Value::Table(
                w.data.clone(),
            )))?;
            let token = w.token.as_deref().map(|t| st.expand(t)).transpose()?;
            vault(
                env,
                st,
                sent,
                "POST",
                &st.expand(&w.path)?,
                Some(data),
                token,
            )
            .await
        }
        Action::Renew(r) => {
            let token = token_of(st, r.token.as_deref())?;
            let data = match &r.increment {
                Some(i) => json!({ "increment": i }),
                None => json!({}),
            };
            vault(
                env,
                st,
                sent,
                "POST",
                "auth/token/renew-self",
                Some(data),
                Some(token),
            )
            .await
        }
        Action::Revoke(t) => {
            let token = token_of(st, t.token.as_deref())?;
            vault(
                env,
                st,
                sent,
                "POST",
                "auth/token/revoke-self",
                None,
                Some(token),
            )
            .await
        }
        Action::SignJwt(s) => {
            let email = sa_email(env, &s.service_account)?;
            let mut claims = gcp_client::login_claims(&email, "app", unix, 600);
            gcp_client::mutate_claims(&mut claims, &s.claims, &[], unix).map_err(|e| e.0)?;
            gcp_client::mutate_claims(&mut claims, &m.claims, &m.remove_claims, unix)
                .map_err(|e| e.0)?;
            let caller = s.caller.as_deref().unwrap_or(&s.service_account);
            sign_jwt(env, caller, &email, &claims, sent).await.map(Some)
        }
        Action::AdvanceClock(d) => {
            env.clock.advance(*d).map_err(|e| e.to_string())?;
            Ok(None)
        }
        Action::Fault(spec) => {
            let fault = fault_from(&st.expand_json(spec)?)?;
            env.sim.faults().add(fault);
            Ok(None)
        }
        Action::ClearFaults => {
            env.sim.faults().clear();
            Ok(None)
        }
        Action::DeleteIdentity(id)
        | Action::RecreateIdentity(id)
        | Action::DisableIdentity(id)
        | Action::RotateKey(id) => {
            change_identity(env, &step.action, id, now)?;
            Ok(None)
        }
    }
}

fn token_of(st: &State, given: Option<&str>) -> Result<String, StepError> {
    match given {
        Some(t) => st.expand(t),
        None => st
            .captures
            .get("token")
            .cloned()
            .ok_or_else(|| "no token yet: log in first, or give `token`".to_owned()),
    }
}

/// Sends a Vault API call (`path` relative to `/v1/`), with the root token unless `token`.
async fn vault(
    env: &Env,
    _st: &State,
    sent: &mut Option<Sent>,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<String>,
) -> Result<Option<Answer>, StepError> {
    let url = format!("{}/v1/{}", env.vault_addr, path.trim_start_matches('/'));
    let is_login = path.contains("/login");
    let mut headers = Vec::new();
    if let Some(t) = token.or_else(|| (!is_login).then(|| env.root_token.clone())) {
        headers.push(("X-Vault-Token".to_owned(), t));
    }
    if body.is_some() {
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    send(
        env,
        sent,
        method,
        &url,
        headers,
        body.map(|b| b.to_string()),
    )
    .await
    .map(Some)
}

async fn send(
    env: &Env,
    sent: &mut Option<Sent>,
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
    body: Option<String>,
) -> Result<Answer, StepError> {
    *sent = Some(Sent {
        method: method.to_owned(),
        url: url.to_owned(),
        headers: headers.clone(),
        body: body.clone(),
    });
    let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = env.http.request(m, url);
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let r = req
        .send()
        .await
        .map_err(|e| format!("{method} {url}: {}", crate::provision::error_chain(&e)))?;
    let status = r.status().as_u16();
    let text = r
        .text()
        .await
        .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer { status, body })
}

/// iamcredentials `signJwt` for `email`, called by `caller` with an access token the world
/// issues it (as if it had traded its key file at the token endpoint).
async fn sign_jwt(
    env: &Env,
    caller: &str,
    email: &str,
    claims: &Map<String, Value>,
    sent: &mut Option<Sent>,
) -> Result<Answer, StepError> {
    let caller_email = sa_email(env, caller)?;
    let token = {
        let expires = env.clock.now() + Duration::from_secs(3600);
        env.sim.world_mut().gcp.issue_token(
            &caller_email,
            vec!["https://www.googleapis.com/auth/cloud-platform".into()],
            expires,
        )
    };
    let url = format!(
        "{}/v1/projects/-/serviceAccounts/{email}:signJwt",
        env.google
    );
    let headers = vec![
        ("Authorization".to_owned(), format!("Bearer {token}")),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    send(
        env,
        sent,
        "POST",
        &url,
        headers,
        Some(gcp_client::sign_jwt_body(claims).to_string()),
    )
    .await
}

/// Signs with another key: `unpublished`, `google` (Google's own OAuth2 key, as on identity
/// tokens), or a service account's Google-managed key.
fn sign_with(env: &Env, which: &str, claims: &Map<String, Value>) -> Result<String, StepError> {
    let payload = Value::Object(claims.clone()).to_string();
    if which == "unpublished" {
        return Ok(gcp_client::unpublished_key().sign_jws(payload.as_bytes()));
    }
    let email = if which == "google" {
        None
    } else {
        Some(sa_email(env, which)?)
    };
    let w = env.sim.world();
    let key = signing_key(&w.gcp, which, email.as_deref())?;
    Ok(key.sign_jws(payload.as_bytes()))
}

/// The key `mutate.signing_key` names: Google's first OAuth2 key for `google`, else the first
/// Google-managed key of the account `email`.
fn signing_key<'w>(
    gcp: &'w authsim_mocks::world::gcp::GcpWorld,
    which: &str,
    email: Option<&str>,
) -> Result<&'w authsim_mocks::world::RsaKey, StepError> {
    let key = match email {
        None => gcp.google_keys.first(),
        Some(email) => gcp
            .find_account(email)
            .ok_or_else(|| format!("no service account `{which}`"))?
            .system_keys
            .first(),
    };
    key.ok_or_else(|| format!("`{which}` has no key"))
}

/// A service account id (`app`) or email → the email, which must exist in the world.
fn sa_email(env: &Env, id: &str) -> Result<String, StepError> {
    sa_email_in(&env.sim.world(), id)
}

fn sa_email_in(w: &authsim_mocks::world::World, id: &str) -> Result<String, StepError> {
    if let Some(sa) = w.gcp.find_account(id) {
        return Ok(sa.email.clone());
    }
    w.gcp
        .service_accounts
        .values()
        .find(|a| a.account_id == id)
        .map(|a| a.email.clone())
        .ok_or_else(|| {
            let known: Vec<_> = w
                .gcp
                .service_accounts
                .values()
                .map(|a| a.account_id.as_str())
                .collect();
            format!(
                "no service account `{id}` in the world (known: {})",
                known.join(", ")
            )
        })
}

/// Checks, before anything runs, what a scenario's steps name in its world (`w`): service
/// accounts, IAM users and roles, and its faults. Names that come from captures (`${…}`) are
/// left to the run, and so is everything after a step that may create an identity
/// (`recreate_identity`).
pub(crate) fn check_references(
    s: &scenario::Scenario,
    w: &authsim_mocks::world::World,
) -> Result<(), String> {
    let literal = |name: &str| !name.contains("${");
    // `account/name` or `name`, in any account: a role or a user of it.
    let held = |who: &str, has: fn(&authsim_mocks::world::aws::Account, &str) -> bool| {
        let (acct, name) = split_account(who);
        w.aws
            .accounts
            .values()
            .any(|a| acct.is_none_or(|x| x == a.id) && has(a, name))
    };
    let aws_identity = |identity: &str| -> Result<(), String> {
        if !literal(identity) {
            return Ok(());
        }
        if let Some(role) = identity.strip_prefix("role/") {
            return held(role, |a, n| a.roles.contains_key(n))
                .then_some(())
                .ok_or_else(|| format!("no IAM role `{role}` in the world"));
        }
        let (acct, name) = split_account(identity);
        w.aws
            .access_keys
            .values()
            .any(|k| k.user == name && k.active && acct.is_none_or(|a| a == k.account))
            .then_some(())
            .ok_or_else(|| {
                format!("no IAM user `{identity}` with an active access key in the world")
            })
    };
    let sa = |id: &str| {
        if literal(id) {
            sa_email_in(w, id).map(|_| ())
        } else {
            Ok(())
        }
    };
    for (i, step) in s.steps.iter().enumerate() {
        let at = |e: String| {
            format!(
                "step {} ({}, line {}): {e}",
                i + 1,
                step.action.kind(),
                step.line
            )
        };
        match &step.action {
            Action::RecreateIdentity(_) => return Ok(()),
            Action::GcpLogin(g) => {
                sa(&g.service_account).map_err(at)?;
                g.caller.as_deref().map_or(Ok(()), sa).map_err(at)?;
            }
            Action::SignJwt(j) => {
                sa(&j.service_account).map_err(at)?;
                j.caller.as_deref().map_or(Ok(()), sa).map_err(at)?;
            }
            Action::AwsLogin(a) => aws_identity(&a.identity).map_err(at)?,
            Action::GetCallerIdentity(g) => aws_identity(&g.identity).map_err(at)?,
            Action::DeleteIdentity(id) | Action::DisableIdentity(id) | Action::RotateKey(id) => {
                if let Some(r) = id.aws_role.as_deref().filter(|r| literal(r)) {
                    if !held(r, |a, n| a.roles.contains_key(n)) {
                        return Err(at(format!("no IAM role `{r}` in the world")));
                    }
                }
                if let Some(u) = id.aws_user.as_deref().filter(|u| literal(u)) {
                    if !held(u, |a, n| a.users.contains_key(n)) {
                        return Err(at(format!("no IAM user `{u}` in the world")));
                    }
                }
                if let Some(g) = &id.gcp_service_account {
                    sa(g).map_err(at)?;
                }
            }
            Action::Fault(spec) if !spec.to_string().contains("${") => {
                fault_from(spec).map_err(at)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn split_account(s: &str) -> (Option<&str>, &str) {
    match s.split_once('/') {
        Some((a, n)) => (Some(a), n),
        None => (None, s),
    }
}

/// Credentials for an AWS identity: an IAM user's access key (`alice`), or a session of a role
/// (`role/app-role`) issued as AssumeRole would. `expired` gives a session that expired a minute ago.
fn aws_keys(env: &Env, identity: &str, expired: bool) -> Result<aws_client::Keys, StepError> {
    let now = env.clock.now();
    let mut w = env.sim.world_mut();
    let (principal, user_key) = if let Some(role) = identity.strip_prefix("role/") {
        let (acct, name) = split_account(role);
        let account = w
            .aws
            .accounts
            .values()
            .find(|a| acct.is_none_or(|x| x == a.id) && a.roles.contains_key(name))
            .map(|a| a.id.clone())
            .ok_or_else(|| format!("no IAM role `{role}` in the world"))?;
        (
            Principal::AssumedRole {
                account,
                role: name.to_owned(),
                session: "authsim".into(),
            },
            None,
        )
    } else {
        let (acct, name) = split_account(identity);
        let key = w
            .aws
            .access_keys
            .values()
            .filter(|k| k.user == name && k.active && acct.is_none_or(|a| a == k.account))
            .min_by(|a, b| a.id.cmp(&b.id))
            .cloned()
            .ok_or_else(|| {
                format!("no IAM user `{identity}` with an active access key in the world")
            })?;
        (
            Principal::User {
                account: key.account.clone(),
                user: key.user.clone(),
            },
            Some(key),
        )
    };
    if let (Some(k), false) = (&user_key, expired) {
        return Ok(aws_client::Keys {
            id: k.id.clone(),
            secret: k.secret.clone(),
            token: None,
        });
    }
    let expires = if expired {
        now - Duration::from_secs(60)
    } else {
        now + Duration::from_secs(3600)
    };
    let principal = match principal {
        Principal::User { account, user } => Principal::SessionUser { account, user },
        p => p,
    };
    let s = w.aws.issue_session(principal, expires);
    Ok(aws_client::Keys {
        id: s.id,
        secret: s.secret,
        token: Some(s.token),
    })
}

/// The instance's identity document from the mock instance metadata service (IMDSv2).
async fn ec2_document(
    env: &Env,
    _instance: Option<&str>,
    kind: &str,
) -> Result<Vec<(String, String)>, StepError> {
    let base = format!("{}/latest", env.aws);
    let token = env
        .http
        .put(format!("{base}/api/token"))
        .header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
        .send()
        .await
        .map_err(|e| format!("instance metadata: {e}"))?
        .text()
        .await
        .map_err(|e| format!("instance metadata: {e}"))?;
    let get = |path: &'static str| {
        let req = env
            .http
            .get(format!("{base}/{path}"))
            .header("X-aws-ec2-metadata-token", token.clone());
        async move {
            let r = req
                .send()
                .await
                .map_err(|e| format!("instance metadata {path}: {e}"))?;
            let status = r.status().as_u16();
            let t = r
                .text()
                .await
                .map_err(|e| format!("instance metadata {path}: {e}"))?;
            if status != 200 {
                return Err(format!("instance metadata {path} answered {status}: {t}"));
            }
            Ok::<_, StepError>(t)
        }
    };
    if kind == "pkcs7" {
        let p = get("dynamic/instance-identity/pkcs7").await?;
        Ok(vec![("pkcs7".into(), p.replace('\n', ""))])
    } else {
        let doc = get("dynamic/instance-identity/document").await?;
        let sig = get("dynamic/instance-identity/signature").await?;
        use base64::Engine;
        Ok(vec![
            (
                "identity".into(),
                base64::engine::general_purpose::STANDARD.encode(doc),
            ),
            ("signature".into(), sig.replace('\n', "")),
        ])
    }
}

/// A `fault = {…}` table, as the admin API's `POST /__authsim/faults` takes it.
fn fault_from(v: &Value) -> Result<Fault, StepError> {
    let o = v.as_object().ok_or("a fault is a table")?;
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    let listener = s("upstream")
        .or_else(|| s("listener"))
        .ok_or("a fault needs `upstream` (`aws`, `google` or `vault`)")?;
    if !["aws", "google", "vault"].contains(&listener.as_str()) {
        return Err(format!(
            "fault upstream `{listener}`: `aws`, `google` or `vault`"
        ));
    }
    for k in o.keys() {
        if ![
            "upstream",
            "listener",
            "method",
            "path",
            "action",
            "latency",
            "status",
            "code",
            "message",
            "content_type",
            "throttle",
            "drop",
            "times",
            "probability",
        ]
        .contains(&k.as_str())
        {
            return Err(format!("unknown fault key `{k}` (upstream, method, path, action, latency, status, code, message, content_type, throttle, drop, times, probability)"));
        }
    }
    let mut kinds = Vec::new();
    if let Some(l) = s("latency") {
        let d = authsim_mocks::clock::parse_duration(&l)
            .ok_or_else(|| format!("fault latency '{l}' is not a duration such as '20ms'"))?;
        kinds.push(FaultKind::Latency(d));
    }
    if let Some(st) = o.get("status").and_then(Value::as_u64) {
        if !(400..=599).contains(&st) {
            return Err(format!(
                "fault status {st} is not an error status (400-599)"
            ));
        }
        kinds.push(FaultKind::Status {
            status: st as u16,
            code: s("code"),
            message: s("message"),
            content_type: s("content_type"),
        });
    }
    if o.get("throttle").and_then(Value::as_bool) == Some(true) {
        kinds.push(FaultKind::Throttle);
    }
    if o.get("drop").and_then(Value::as_bool) == Some(true) {
        kinds.push(FaultKind::Drop);
    }
    if kinds.len() != 1 {
        return Err("a fault needs exactly one of `latency`, `status`, `throttle`, `drop`".into());
    }
    Ok(Fault {
        id: 0,
        listener,
        matches: FaultMatch {
            method: s("method"),
            path: s("path"),
            action: s("action"),
        },
        kind: kinds.remove(0),
        remaining: o.get("times").and_then(Value::as_u64),
        probability: o.get("probability").and_then(Value::as_f64),
    })
}

fn change_identity(
    env: &Env,
    action: &Action,
    id: &IdentityRef,
    now: SystemTime,
) -> Result<(), StepError> {
    let mut w = env.sim.world_mut();
    if let Some(r) = &id.aws_role {
        let (acct, name) = split_account(r);
        let account = w
            .aws
            .accounts
            .values()
            .find(|a| {
                acct.is_none_or(|x| x == a.id)
                    && (a.roles.contains_key(name) || matches!(action, Action::RecreateIdentity(_)))
            })
            .map(|a| a.id.clone())
            .ok_or_else(|| format!("no IAM role `{r}`"))?;
        match action {
            Action::DeleteIdentity(_) => {
                w.aws
                    .delete_role(&account, name)
                    .ok_or_else(|| format!("no IAM role `{r}`"))?;
            }
            Action::RecreateIdentity(_) => {
                let old = w.aws.delete_role(&account, name);
                let path = old
                    .as_ref()
                    .map(|o| o.path.clone())
                    .unwrap_or_else(|| "/".into());
                w.aws.add_role(&account, name, &path, now);
                if let (Some(old), Some(new)) = (
                    old,
                    w.aws
                        .accounts
                        .get_mut(&account)
                        .and_then(|a| a.roles.get_mut(name)),
                ) {
                    new.assumable_by = old.assumable_by;
                }
            }
            _ => return Err(format!("`{}` does not apply to an IAM role", action.kind())),
        }
        return Ok(());
    }
    if let Some(u) = &id.aws_user {
        let (acct, name) = split_account(u);
        let account = w
            .aws
            .accounts
            .values()
            .find(|a| {
                acct.is_none_or(|x| x == a.id)
                    && (a.users.contains_key(name) || matches!(action, Action::RecreateIdentity(_)))
            })
            .map(|a| a.id.clone())
            .ok_or_else(|| format!("no IAM user `{u}`"))?;
        match action {
            Action::DeleteIdentity(_) => {
                w.aws
                    .delete_user(&account, name)
                    .ok_or_else(|| format!("no IAM user `{u}`"))?;
            }
            Action::RecreateIdentity(_) => {
                let old = w.aws.delete_user(&account, name);
                let path = old
                    .as_ref()
                    .map(|o| o.path.clone())
                    .unwrap_or_else(|| "/".into());
                w.aws.add_user(&account, name, &path, now);
                w.aws.add_access_key(&account, name);
            }
            _ => return Err(format!("`{}` does not apply to an IAM user", action.kind())),
        }
        return Ok(());
    }
    let sa = id.gcp_service_account.as_deref().unwrap_or_default();
    let email = {
        let found = w.gcp.find_account(sa).map(|a| a.email.clone()).or_else(|| {
            w.gcp
                .service_accounts
                .values()
                .find(|a| a.account_id == sa)
                .map(|a| a.email.clone())
        });
        found.ok_or_else(|| format!("no service account `{sa}`"))?
    };
    match action {
        Action::DeleteIdentity(_) => {
            w.gcp.service_accounts.remove(&email);
        }
        Action::DisableIdentity(_) => {
            if let Some(a) = w.gcp.find_account_mut(&email) {
                a.disabled = true;
            }
        }
        Action::RecreateIdentity(_) => {
            let old = w
                .gcp
                .service_accounts
                .remove(&email)
                .ok_or_else(|| format!("no service account `{sa}`"))?;
            let user_keys = old.user_keys.len();
            w.gcp
                .add_service_account(&old.account_id, &old.project, user_keys, now);
            if let Some(a) = w.gcp.find_account_mut(&email) {
                a.token_creators = old.token_creators;
            }
        }
        Action::RotateKey(_) => {
            let seed = w.seed.clone();
            let a = w
                .gcp
                .find_account_mut(&email)
                .ok_or_else(|| format!("no service account `{sa}`"))?;
            let n = a.system_keys.len();
            let key = authsim_mocks::world::RsaKey::derive(
                &seed,
                &format!("gcp/sa/{email}/rotated/{n}"),
                &email,
            );
            a.system_keys.insert(0, key);
        }
        _ => {}
    }
    Ok(())
}

/// The comparable facts of an answer.
fn observe(a: &Answer, step: &Step) -> Observed {
    let b = &a.body;
    let mut o = Observed {
        status: Some(a.status),
        ..Observed::default()
    };
    o.errors = errors_of(b);
    let auth = b.get("auth").filter(|v| v.is_object());
    let data = b.get("data").filter(|v| v.is_object());
    let policies = auth
        .and_then(|x| x.get("policies"))
        .or_else(|| match step.action {
            Action::TokenLookup(_) => data.and_then(|d| d.get("policies")),
            _ => None,
        });
    if let Some(Value::Array(p)) = policies {
        let mut v: Vec<String> = p
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        v.sort();
        o.policies = Some(v);
    }
    let meta = auth
        .and_then(|x| x.get("metadata"))
        .or_else(|| match step.action {
            Action::TokenLookup(_) => data.and_then(|d| d.get("meta")),
            _ => None,
        });
    if let Some(Value::Object(m)) = meta {
        o.metadata = Some(
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
        );
    }
    o.token_ttl = auth
        .and_then(|x| x.get("lease_duration"))
        .and_then(Value::as_u64)
        .or_else(|| match step.action {
            Action::TokenLookup(_) => data.and_then(|d| d.get("ttl")).and_then(Value::as_u64),
            _ => None,
        });
    for p in step.expect.json.keys() {
        o.fields
            .insert(p.clone(), b.pointer(p).cloned().unwrap_or(Value::Null));
    }
    o
}

/// Vault's `errors`, Google's `error.message`, AWS's XML `<Message>`, or a plain-text body.
fn errors_of(b: &Value) -> Vec<String> {
    if let Some(Value::Array(e)) = b.get("errors") {
        return e
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect();
    }
    if let Some(m) = b.pointer("/error/message").and_then(Value::as_str) {
        return vec![m.to_owned()];
    }
    if let Value::String(t) = b {
        if let (Some(i), Some(j)) = (t.find("<Message>"), t.find("</Message>")) {
            if i < j {
                return vec![t[i + 9..j].to_owned()];
            }
        }
        if !t.trim().is_empty() && !t.trim_start().starts_with('<') {
            return vec![t.trim().to_owned()];
        }
    }
    Vec::new()
}

fn capture(st: &mut State, a: &Answer, step: &Step) -> Result<(), StepError> {
    if let Some(t) = a.body.pointer("/auth/client_token").and_then(Value::as_str) {
        st.captures.insert("token".into(), t.to_owned());
    }
    if let Some(t) = a.body.get("signedJwt").and_then(Value::as_str) {
        st.captures.insert("jwt".into(), t.to_owned());
    }
    for (name, pointer) in &step.capture {
        let v = a
            .body
            .pointer(pointer)
            .ok_or_else(|| format!("capture `{name}`: nothing at {pointer} in the answer"))?;
        st.captures.insert(
            name.clone(),
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string()),
        );
    }
    Ok(())
}

fn mismatch(r: &mut StepResult, check: &str, expected: Value, actual: Value) {
    r.failures.push(Mismatch {
        check: check.to_owned(),
        expected,
        actual,
    });
}

fn check(r: &mut StepResult, answer: Option<&Answer>, step: &Step, st: &State) {
    let e = &step.expect;
    let Some(a) = answer else {
        if !e.is_empty() {
            mismatch(
                r,
                "answer",
                json!("an answer to check"),
                json!(format!("`{}` has no answer", step.action.kind())),
            );
        }
        return;
    };
    let o = r.observed.clone();
    let exp_s = |s: &String| st.expand(s).unwrap_or_else(|_| s.clone());
    match e.status {
        Some(s) if s != a.status => mismatch(r, "status", json!(s), json!(a.status)),
        None if e.error.is_none()
            && e.error_contains.is_none()
            && !(200..300).contains(&a.status) =>
        {
            mismatch(r, "status", json!("2xx"), json!(a.status))
        }
        _ => {}
    }
    if let Some(want) = e.error.as_ref().map(exp_s) {
        if !o.errors.contains(&want) {
            mismatch(r, "error", json!(want), json!(o.errors));
        }
    }
    if let Some(want) = e.error_contains.as_ref().map(exp_s) {
        if !o.errors.iter().any(|x| x.contains(&want)) {
            mismatch(r, "error_contains", json!(want), json!(o.errors));
        }
    }
    if let Some(want) = &e.policies {
        let mut w = want.clone();
        w.sort();
        if o.policies.as_ref() != Some(&w) {
            mismatch(r, "policies", json!(w), json!(o.policies));
        }
    }
    if let Some(want) = &e.metadata {
        for (k, v) in want {
            let v = exp_s(v);
            let got = o.metadata.as_ref().and_then(|m| m.get(k));
            if got != Some(&v) {
                mismatch(r, &format!("metadata.{k}"), json!(v), json!(got));
            }
        }
    }
    if let Some(want) = e.token_ttl.as_ref().and_then(scenario::ttl_seconds) {
        if o.token_ttl != Some(want) {
            mismatch(r, "token_ttl", json!(want), json!(o.token_ttl));
        }
    }
    for (p, v) in &e.json {
        let want = st
            .expand_json(&crate::provision::toml_to_json(v))
            .unwrap_or(Value::Null);
        let got = a.body.pointer(p).cloned().unwrap_or(Value::Null);
        let same =
            got == want || matches!((got.as_f64(), want.as_f64()), (Some(x), Some(y)) if x == y);
        if !same {
            mismatch(r, &format!("json {p}"), want, got);
        }
    }
}

/// Which upstream a journal entry belongs to, most specific first.
fn upstream_of(e: &Entry) -> Option<&'static str> {
    match e.listener {
        "aws" => {
            if e.path.starts_with("/latest") {
                return Some("aws_imds");
            }
            let action = form_param(&e.query, "Action")
                .or_else(|| form_param(&e.body, "Action"))
                .unwrap_or_default();
            Some(match action.as_str() {
                "GetCallerIdentity"
                | "AssumeRole"
                | "GetSessionToken"
                | "AssumeRoleWithWebIdentity"
                | "GetFederationToken" => "aws_sts",
                a if a.starts_with("Describe") => "aws_ec2",
                _ => "aws_iam",
            })
        }
        "google" => {
            let p = e.path.as_str();
            Some(
                if p.ends_with(":signJwt")
                    || p.ends_with(":signBlob")
                    || p.ends_with(":generateAccessToken")
                    || p.ends_with(":generateIdToken")
                {
                    "google_iamcredentials"
                } else if p.starts_with("/oauth2/") || p.starts_with("/service_accounts/") {
                    "google_certs"
                } else if p == "/token" || p.ends_with("/token") {
                    "google_oauth2"
                } else if p.contains("/instances") || p.contains("instanceGroups") {
                    "google_compute"
                } else if p.starts_with("/computeMetadata") || p == "/" {
                    "google_metadata"
                } else if p.contains(':') {
                    "google_crm"
                } else {
                    "google_iam"
                },
            )
        }
        _ => None,
    }
}

fn form_param(s: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(s.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn check_upstream(r: &mut StepResult, entries: &[Entry], step: &Step) {
    for (name, want) in &step.upstream {
        let hits: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                let u = upstream_of(e).unwrap_or_default();
                u == name
                    || (name == "aws" && e.listener == "aws")
                    || (name == "google" && e.listener == "google")
            })
            .collect();
        if let Some(n) = want.calls {
            if hits.len() as u64 != n {
                mismatch(
                    r,
                    &format!("upstream {name} calls"),
                    json!(n),
                    json!(hits.len()),
                );
            }
        }
        if hits.is_empty()
            && (!want.header.is_empty() || want.status.is_some() || want.min_duration.is_some())
            && want.calls != Some(0)
        {
            mismatch(
                r,
                &format!("upstream {name}"),
                json!("at least one call"),
                json!("no call"),
            );
            continue;
        }
        for e in &hits {
            for (h, v) in &want.header {
                if e.header(h) != Some(v.as_str()) {
                    mismatch(
                        r,
                        &format!("upstream {name} header {h}"),
                        json!(v),
                        json!(e.header(h)),
                    );
                }
            }
            if let Some(s) = want.status {
                if e.status != s {
                    mismatch(
                        r,
                        &format!("upstream {name} status"),
                        json!(s),
                        json!(e.status),
                    );
                }
            }
            if let Some(d) = want.min_duration {
                if u128::from(e.duration_micros) < d.as_micros() {
                    mismatch(
                        r,
                        &format!("upstream {name} min_duration"),
                        json!(format!("{} ms or more", d.as_millis())),
                        json!(format!("{} ms", e.duration_micros / 1000)),
                    );
                }
            }
        }
    }
}

/// The request as a `curl` command line, secrets redacted: tokens become `$VAULT_TOKEN` or
/// `<redacted>`, and so do `Authorization` and the body's secrets ([`redact_body`]).
///
/// Against the embedded mock Vault (gone when the run ends) the Vault URL is written as
/// `$VAULT_ADDR`, so the command runs against `authsim serve`.
pub fn curl(s: &Sent, vault_addr: &str, embedded: bool) -> String {
    let q = |x: &str| format!("'{}'", x.replace('\'', "'\\''"));
    let mut out = String::from("curl -sS");
    let method = if s.method == "LIST" {
        "LIST"
    } else {
        s.method.as_str()
    };
    if method != "GET" || s.method == "LIST" {
        out.push_str(&format!(" -X {method}"));
    }
    for (k, v) in &s.headers {
        let v = if k.eq_ignore_ascii_case("x-vault-token") {
            "$VAULT_TOKEN".to_owned()
        } else if k.eq_ignore_ascii_case("authorization") {
            "<redacted>".to_owned()
        } else {
            v.clone()
        };
        if v == "$VAULT_TOKEN" {
            out.push_str(&format!(" -H \"{k}: $VAULT_TOKEN\""));
        } else {
            out.push_str(&format!(" -H {}", q(&format!("{k}: {v}"))));
        }
    }
    if let Some(b) = &s.body {
        out.push_str(&format!(" --data {}", q(&redact_body(b))));
    }
    out.push(' ');
    match s.url.strip_prefix(vault_addr) {
        Some(rest) if embedded => out.push_str(&format!("\"$VAULT_ADDR\"{}", q(rest))),
        _ => out.push_str(&q(&s.url)),
    }
    out
}

/// The journal's redaction (invariant 5): passwords, secret ids, tokens, signed JWTs, the
/// signed headers of an aws login, signatures.
fn redact_body(b: &str) -> String {
    authsim_mocks::journal::redact_body(Some("application/json"), b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use authsim_mocks::worldfile::{self, DEFAULT_WORLD};

    #[test]
    fn signing_key_google_is_the_first_oauth2_key_and_accounts_their_managed_key() {
        let w = worldfile::parse("world.toml", DEFAULT_WORLD, std::time::UNIX_EPOCH).unwrap();
        let google = signing_key(&w.gcp, "google", None).unwrap();
        assert_eq!(google.key_id(), w.gcp.google_keys[0].key_id());
        let email = "app@authsim-demo.iam.gserviceaccount.com";
        let app = signing_key(&w.gcp, "app", Some(email)).unwrap();
        assert_eq!(
            app.key_id(),
            w.gcp.find_account(email).unwrap().system_keys[0].key_id()
        );
        assert_ne!(app.key_id(), google.key_id());
        assert!(signing_key(&w.gcp, "nobody", Some("nobody@x")).is_err());
    }

    fn entry(path: &str, duration_micros: u64) -> Entry {
        Entry {
            seq: 1,
            listener: "google",
            at: String::new(),
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: String::new(),
            status: 200,
            duration_micros,
        }
    }

    #[test]
    fn upstream_min_duration_is_a_lower_bound_on_every_matching_call() {
        let step = |toml_text: &str| {
            let s = scenario::parse("t.toml", "t", toml_text).unwrap();
            s[0].steps[0].clone()
        };
        let st = step(
            "name = \"x\"\n[[step]]\nclear_faults = true\n\
             upstream = { google_certs = { calls = 2, min_duration = \"50ms\" } }\n",
        );
        let mut r = StepResult {
            index: 1,
            kind: "clear_faults".into(),
            label: "clear_faults".into(),
            line: 2,
            outcome: Outcome::Passed,
            duration_ms: 0,
            observed: Observed::default(),
            failures: Vec::new(),
            error: None,
            curl: None,
        };
        let slow = [
            entry("/oauth2/v1/certs", 50_000),
            entry("/service_accounts/v1/metadata/x509/a", 80_000),
            entry("/v1/projects/-/serviceAccounts/a", 10),
        ];
        check_upstream(&mut r, &slow, &st);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        let fast = [
            entry("/oauth2/v1/certs", 50_000),
            entry("/oauth2/v1/certs", 49_999),
        ];
        check_upstream(&mut r, &fast, &st);
        assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
        assert_eq!(r.failures[0].check, "upstream google_certs min_duration");
    }
}
