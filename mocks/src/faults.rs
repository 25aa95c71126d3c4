//! The fault plan: conditions injected into a listener's answers — added latency, an error status
//! with the upstream's own error body, throttling, a dropped connection — for N requests or with a
//! probability. Applied by the listener middleware before the handler runs.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

/// What a matching request suffers.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Answered normally, after this delay.
    Latency(Duration),
    /// Answered with this status and the upstream's error body. `code` is the upstream's error code
    /// (AWS `InternalFailure`, Google `UNAVAILABLE`); `None` picks the usual one for the status.
    Status {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        /// Replaces the answer's `Content-Type` (e.g. `application/json` on an AWS error, to see
        /// a client's content-type check); the upstream's usual one if `None`.
        content_type: Option<String>,
    },
    /// The upstream's throttling answer (AWS `Throttling` 400, Google 429 RESOURCE_EXHAUSTED,
    /// Vault 429).
    Throttle,
    /// The connection is closed without a response.
    Drop,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultMatch {
    /// HTTP method, any if `None`.
    pub method: Option<String>,
    /// Path glob (`*` matches any run of characters), any if `None`. E.g. `/v1/projects/-/serviceAccounts/*:signJwt`.
    pub path: Option<String>,
    /// AWS Query `Action` (from the query or the form body), any if `None`.
    pub action: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub id: u64,
    /// `google`, `aws` or `vault`.
    pub listener: String,
    pub matches: FaultMatch,
    pub kind: FaultKind,
    /// Applies to this many matching requests, then expires; unlimited if `None`.
    pub remaining: Option<u64>,
    /// Applies to each matching request with this probability (1.0 if `None`).
    pub probability: Option<f64>,
}

/// The request facts a fault matches on.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    pub listener: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub action: Option<&'a str>,
}

#[derive(Debug, Default)]
pub struct FaultPlan {
    inner: Mutex<(u64, Vec<Fault>)>,
}

impl FaultPlan {
    /// Adds a fault; returns its id.
    pub fn add(&self, mut fault: Fault) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0 += 1;
        fault.id = inner.0;
        inner.1.push(fault);
        inner.0
    }

    pub fn list(&self) -> Vec<Fault> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// Removes one fault; whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let before = inner.1.len();
        inner.1.retain(|f| f.id != id);
        inner.1.len() != before
    }

    pub fn clear(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clear();
    }

    /// The faults that apply to this request, in the order added, counting down their budgets.
    /// Latencies add up; the first non-latency fault decides the answer.
    pub fn apply(&self, req: &RequestFacts<'_>) -> Vec<FaultKind> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.1.is_empty() {
            return Vec::new();
        }
        let mut rng = rand::thread_rng();
        let mut out = Vec::new();
        for f in inner.1.iter_mut() {
            if !f.applies_to(req) {
                continue;
            }
            if let Some(p) = f.probability {
                if !rng.gen_bool(p.clamp(0.0, 1.0)) {
                    continue;
                }
            }
            if let Some(n) = f.remaining.as_mut() {
                *n -= 1;
            }
            out.push(f.kind.clone());
        }
        inner.1.retain(|f| f.remaining != Some(0));
        out
    }
}

impl Fault {
    fn applies_to(&self, req: &RequestFacts<'_>) -> bool {
        if self.listener != req.listener {
            return false;
        }
        if let Some(m) = &self.matches.method {
            if !m.eq_ignore_ascii_case(req.method) {
                return false;
            }
        }
        if let Some(p) = &self.matches.path {
            if !glob(p, req.path) {
                return false;
            }
        }
        if let Some(a) = &self.matches.action {
            if req.action != Some(a.as_str()) {
                return false;
            }
        }
        true
    }
}

/// `*` matches any run of characters (including `/`); everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(path: &'a str, action: Option<&'a str>) -> RequestFacts<'a> {
        RequestFacts {
            listener: "aws",
            method: "POST",
            path,
            action,
        }
    }

    #[test]
    fn glob_matches_like_a_shell_star() {
        assert!(glob(
            "/v1/projects/-/serviceAccounts/*:signJwt",
            "/v1/projects/-/serviceAccounts/a@b:signJwt"
        ));
        assert!(!glob("/v1/*:signJwt", "/v1/x:signBlob"));
        assert!(glob("*", "/anything"));
        assert!(glob("/", "/"));
        assert!(!glob("/", "//"));
    }

    #[test]
    fn a_fault_for_n_requests_expires() {
        let plan = FaultPlan::default();
        plan.add(Fault {
            id: 0,
            listener: "aws".into(),
            matches: FaultMatch {
                action: Some("GetCallerIdentity".into()),
                ..Default::default()
            },
            kind: FaultKind::Throttle,
            remaining: Some(2),
            probability: None,
        });
        assert!(plan.apply(&facts("/", Some("AssumeRole"))).is_empty());
        assert_eq!(
            plan.apply(&facts("/", Some("GetCallerIdentity"))),
            vec![FaultKind::Throttle]
        );
        assert_eq!(
            plan.apply(&facts("//", Some("GetCallerIdentity"))),
            vec![FaultKind::Throttle]
        );
        assert!(plan
            .apply(&facts("/", Some("GetCallerIdentity")))
            .is_empty());
        assert!(plan.list().is_empty());
    }
}
