//! Mounts the transport-free cloud auth backends ([`GcpAuthBackend`], [`AwsAuthBackend`]) as
//! [`AuthMethod`]s of the core: `sys/auth/<path> {"type":"gcp"|"aws"}` enables one per mount.
//!
//! Every request runs deferred (the backends call the cloud mocks over HTTP), outside the store's
//! lock. A successful login becomes a [`LoginSuccess`] that core turns into the token and `auth`
//! block.
//!
//! Each login's token carries the backend's renewal check ([`RenewCheck`]): `auth/token/renew*`
//! runs it first (the role still exists and still binds the principal), as Vault's
//! `PathLoginRenew` does, and refuses the renewal with the backend's error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::backend::{self, BackendRequest, BackendResponse, LoginOutcome, Operation};
use super::envelope::Resp;
use super::error::VaultError;
use super::token::TokenSettings;
use super::{AuthMethod, Core, Ctx, LoginSuccess, Op, Outcome, RenewCheck};
use crate::clock::Clock;
use crate::vault::auth_aws::AwsAuthBackend;
use crate::vault::auth_gcp::GcpAuthBackend;

/// Which backend a mount runs.
#[derive(Debug, Clone)]
enum Backend {
    Gcp(Arc<GcpAuthBackend>),
    Aws(Arc<AwsAuthBackend>),
}

#[derive(Debug)]
pub(crate) struct CloudAuth {
    backend: Backend,
    checks: Arc<SharedChecks>,
}

/// Renewal checks by the login state they check: repeated logins of one principal store the same
/// state, so their tokens share one check instead of holding a copy each.
#[derive(Debug, Default)]
struct SharedChecks(Mutex<HashMap<Arc<str>, RenewCheck>>);

/// At most this many distinct login states are remembered for sharing.
const SHARED_CHECKS_MAX: usize = 4096;

impl SharedChecks {
    fn get_or_make(&self, stored: String, make: impl FnOnce(Arc<str>) -> RenewCheck) -> RenewCheck {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(check) = map.get(stored.as_str()) {
            return check.clone();
        }
        if map.len() >= SHARED_CHECKS_MAX {
            map.clear();
        }
        let stored: Arc<str> = stored.into();
        let check = make(stored.clone());
        map.insert(stored, check.clone());
        check
    }
}

impl CloudAuth {
    pub(crate) fn gcp(clock: Arc<dyn Clock>) -> Self {
        Self {
            backend: Backend::Gcp(Arc::new(GcpAuthBackend::new(clock))),
            checks: Arc::default(),
        }
    }

    /// `resolve_role`: core resolves a login's role for lease-count quotas (Vault's default).
    pub(crate) fn aws(clock: Arc<dyn Clock>, resolve_role: bool) -> Self {
        let mut backend = AwsAuthBackend::new(clock);
        backend.resolve_role_after_login = resolve_role;
        Self {
            backend: Backend::Aws(Arc::new(backend)),
            checks: Arc::default(),
        }
    }
}

impl AuthMethod for CloudAuth {
    fn is_login_path(&self, rel: &str) -> bool {
        rel == "login"
    }

    /// The plugins' paths with an existence check: roles (both), and aws's `config/client`,
    /// `config/certificate/:name`, `config/sts/:account` and `config/tidy/*`.
    fn existence_checked(&self, rel: &str) -> bool {
        let rel = rel.trim_end_matches('/');
        let one_below = |prefix: &str| {
            rel.strip_prefix(prefix)
                .is_some_and(|n| !n.is_empty() && !n.contains('/'))
        };
        match &self.backend {
            Backend::Gcp(_) => one_below("role/"),
            Backend::Aws(_) => {
                one_below("role/")
                    || one_below("config/certificate/")
                    || one_below("config/sts/")
                    || one_below("config/tidy/")
                    || rel == "config/client"
            }
        }
    }

    fn handle(&mut self, _core: &mut Core, cx: &Ctx<'_>, rel: &str) -> Result<Outcome, VaultError> {
        let operation = match cx.op {
            Op::Read | Op::Head => Operation::Read,
            Op::List => Operation::List,
            Op::Create => Operation::Create,
            Op::Update | Op::Patch => Operation::Update,
            Op::Delete => Operation::Delete,
        };
        // The backends validate their own fields (GCP answers unknown fields with 422). An aws
        // login names the fields its schema lacks in core's unrecognized-parameter warning, which
        // a successful login carries; elsewhere every field counts as used.
        let data = match &self.backend {
            Backend::Aws(_) if rel == "login" => cx.input.shared_with_schema(AWS_LOGIN_FIELDS),
            _ => cx.input.all_shared(),
        };
        let req = BackendRequest {
            operation,
            path: rel.trim_end_matches('/').to_owned(),
            data,
            mount: cx.mount.path.trim_end_matches('/').to_owned(),
        };
        let backend = self.backend.clone();
        let checks = self.checks.clone();
        let remote = cx.remote;
        Ok(Outcome::Deferred(Box::pin(async move {
            let answer = match &backend {
                Backend::Gcp(b) => b.handle_from(req, Some(remote)).await,
                Backend::Aws(b) => b.handle_from(req, Some(remote)).await,
            };
            answer.map(|r| outcome(r, backend, &checks)).map_err(error)
        })))
    }
}

/// `auth/aws/login`'s fields (builtin/credential/aws/path_login.go).
const AWS_LOGIN_FIELDS: &[&str] = &[
    "role",
    "pkcs7",
    "identity",
    "signature",
    "nonce",
    "iam_http_request_method",
    "iam_request_url",
    "iam_request_body",
    "iam_request_headers",
];

fn outcome(r: BackendResponse, backend: Backend, checks: &SharedChecks) -> Outcome {
    match r {
        BackendResponse::Data { data, warnings } => {
            let mut resp = Resp::data(data);
            resp.warnings = warnings;
            resp.into()
        }
        BackendResponse::NoContent => Outcome::Reply(super::envelope::Reply::NoContent),
        BackendResponse::Login(mut l) => {
            let internal = std::mem::take(&mut l.internal);
            let mut success = login(l);
            let stored = serde_json::to_string(&internal).unwrap_or_else(|_| "{}".to_owned());
            success.renew_check = Some(checks.get_or_make(stored, |s| renew_check(backend, s)));
            Outcome::Login(Box::new(success))
        }
    }
}

/// The backend's renewal check for one login (Vault's `PathLoginRenew`): the role still exists and
/// still binds the principal, by the state stored at login.
///
/// Every live token holds one, and renewals are rare: the state is kept as its compact JSON text
/// (a few hundred bytes) rather than as a map of values (a kilobyte or more under load), and
/// parsed when a renewal asks for it.
fn renew_check(backend: Backend, stored: Arc<str>) -> RenewCheck {
    RenewCheck(Arc::new(move || {
        let (backend, stored) = (backend.clone(), stored.clone());
        Box::pin(async move {
            // The text was written from a map just above: it parses back to one.
            let internal: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&stored).unwrap_or_default();
            let checked = match &backend {
                Backend::Gcp(b) => b.renew(&internal).await,
                Backend::Aws(b) => b.renew(&internal).await,
            };
            // The renewal handlers answer the role's token settings as they are now.
            checked
                .map(|o| {
                    let secs = |d: Option<std::time::Duration>| {
                        d.map_or(0, |d| d.as_secs().min(i64::MAX as u64) as i64)
                    };
                    Some(super::RenewTerms {
                        ttl: secs(o.ttl),
                        max_ttl: secs(o.max_ttl),
                        period: secs(o.period),
                    })
                })
                .map_err(renewal_error)
        })
    }))
}

/// The backends put `default` in their policies themselves (unless the role says
/// `token_no_default_policy`); core adds it unless told not to, so it is taken out here and the
/// flag set from whether it was there.
fn login(l: LoginOutcome) -> LoginSuccess {
    let had_default = l.policies.iter().any(|p| p == "default");
    let policies: Vec<String> = l.policies.into_iter().filter(|p| p != "default").collect();
    let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs() as i64).unwrap_or(0);
    LoginSuccess {
        policies: policies.clone(),
        metadata: l.metadata,
        display_name: l.display_name,
        alias_name: l.alias_name,
        token: TokenSettings {
            policies,
            ttl: secs(l.ttl),
            max_ttl: secs(l.max_ttl),
            period: secs(l.period),
            num_uses: i64::from(l.num_uses),
            no_default_policy: !had_default,
            bound_cidrs: l.bound_cidrs,
            token_type: l.token_type,
            ..TokenSettings::default()
        },
        data: None,
        warnings: Vec::new(),
        renew_check: None,
    }
}

/// A refused renewal as core answers it: a backend's `ErrorResponse` (400) as it is; a plain
/// error, which the expiration manager wraps (`failed to renew entry: …`) and request handling
/// collects in a go-multierror, as a 500 with that text.
fn renewal_error(e: backend::VaultError) -> VaultError {
    if e.status == 500 && e.errors.len() == 1 {
        return VaultError::multi(500, format!("failed to renew entry: {}", e.errors[0]));
    }
    error(e)
}

fn error(e: backend::VaultError) -> VaultError {
    match e.errors.len() {
        0 => VaultError::empty(e.status),
        1 => VaultError::new(e.status, e.errors.into_iter().next().unwrap_or_default()),
        // Core's envelope carries one message; keep every line of the backend's.
        _ => VaultError::new(e.status, e.errors.join("\n")),
    }
}
