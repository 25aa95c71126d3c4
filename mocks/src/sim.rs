//! The shared simulation (world, clock, journal, fault plan) and what every listener does around
//! its handlers: buffer and bound the body, apply faults, journal the request, serve the admin API.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderValue};
use serde::Deserialize;
use serde_json::json;

use crate::aws::error::AwsError;
use crate::clock::{parse_duration, rfc3339, Clock};
use crate::faults::{Fault, FaultKind, FaultMatch, FaultPlan, RequestFacts};
use crate::gcp::error::GcpError;
use crate::journal::{Entry, Journal, Raw};
use crate::world::World;

/// Bodies larger than this are refused with the upstream's 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The simulation every listener shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sim {
    inner: Arc<SimInner>,
}

#[derive(Debug)]
struct SimInner {
    world: RwLock<World>,
    initial: World,
    clock: Arc<dyn Clock>,
    journal: Journal,
    faults: FaultPlan,
    reset_hooks: ResetHooks,
}

/// What [`Sim::reset`] also resets: state kept outside the world (the mock Vault's store).
#[derive(Default)]
struct ResetHooks(
    Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
    Mutex<Vec<RestoreHook>>,
);

/// Work that puts back, after a reset, what was set up through the listeners (the provisioned
/// Vault); the admin API's reset answers once it is done.
pub type RestoreHook =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

impl std::fmt::Debug for ResetHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map(|h| h.len()).unwrap_or(0);
        write!(f, "ResetHooks({n})")
    }
}

impl Sim {
    pub fn new(world: World, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(SimInner {
                initial: world.clone(),
                world: RwLock::new(world),
                clock,
                journal: Journal::default(),
                faults: FaultPlan::default(),
                reset_hooks: ResetHooks::default(),
            }),
        }
    }

    pub fn world(&self) -> RwLockReadGuard<'_, World> {
        self.inner.world.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn world_mut(&self) -> RwLockWriteGuard<'_, World> {
        self.inner.world.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    pub fn clock_arc(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    pub fn faults(&self) -> &FaultPlan {
        &self.inner.faults
    }

    /// Back to the world as loaded; journal and faults cleared; every reset hook run. The clock
    /// is left where it is.
    pub fn reset(&self) {
        *self.world_mut() = self.inner.initial.clone();
        self.inner.journal.clear();
        self.inner.faults.clear();
        let hooks = self
            .inner
            .reset_hooks
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for hook in hooks.iter() {
            hook();
        }
    }

    /// Runs `hook` on every [`Sim::reset`], after the world is restored. Hooks must not call
    /// Adds work to run after every reset requested through the admin API (`POST
    /// /__authsim/reset`), such as provisioning the mock Vault again.
    pub fn after_reset(&self, hook: RestoreHook) {
        self.inner
            .reset_hooks
            .1
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(hook);
    }

    /// [`Sim::reset`], then the [`Sim::after_reset`] work, in the order added.
    pub async fn reset_and_restore(&self) {
        self.reset();
        let hooks: Vec<RestoreHook> = self
            .inner
            .reset_hooks
            .1
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for hook in hooks {
            hook().await;
        }
    }

    /// `reset` or `on_reset`.
    pub fn on_reset(&self, hook: Box<dyn Fn() + Send + Sync>) {
        self.inner
            .reset_hooks
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(hook);
    }
}

/// Which upstream a listener plays; decides the error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Google,
    Aws,
    Vault,
}

impl Upstream {
    pub fn name(self) -> &'static str {
        match self {
            Upstream::Google => "google",
            Upstream::Aws => "aws",
            Upstream::Vault => "vault",
        }
    }

    /// An error in this upstream's envelope.
    pub fn error(self, status: u16, code: Option<&str>, message: &str) -> Response {
        match self {
            Upstream::Google => {
                let mut e = GcpError::new(status, message);
                if let Some(c) = code.and_then(static_status) {
                    e = e.with_status(c);
                }
                e.into_response()
            }
            Upstream::Aws => AwsError::for_status(status, code, Some(message)).into_response(),
            Upstream::Vault => vault_error(status, &[message]),
        }
    }

    fn throttled(self) -> Response {
        match self {
            Upstream::Google => GcpError::new(429, "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service.").into_response(),
            Upstream::Aws => AwsError::throttling().into_response(),
            Upstream::Vault => vault_error(429, &["request path \"\": rate limit quota exceeded"]),
        }
    }

    fn fault_status(self, status: u16, code: Option<&str>, message: Option<&str>) -> Response {
        match self {
            Upstream::Aws => AwsError::for_status(status, code, message).into_response(),
            _ => {
                let default = match status {
                    503 => "The service is currently unavailable.",
                    429 => "Quota exceeded.",
                    404 => "Not found.",
                    403 => "The caller does not have permission",
                    _ => "Internal error encountered.",
                };
                self.error(status, code, message.unwrap_or(default))
            }
        }
    }

    fn too_large(self) -> Response {
        match self {
            Upstream::Aws => AwsError::sender(
                413,
                "RequestEntityTooLarge",
                format!("Request body must be at most {MAX_BODY_BYTES} bytes"),
            )
            .into_response(),
            Upstream::Google => GcpError::new(
                413,
                format!("Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes."),
            )
            .into_response(),
            // UNVERIFIED: reference/vault-core.md §1.3 (413 body text, code-read)
            Upstream::Vault => vault_error(413, &["error parsing JSON"]),
        }
    }
}

fn static_status(code: &str) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "INVALID_ARGUMENT",
        "FAILED_PRECONDITION",
        "OUT_OF_RANGE",
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
        "NOT_FOUND",
        "ABORTED",
        "ALREADY_EXISTS",
        "RESOURCE_EXHAUSTED",
        "CANCELLED",
        "DATA_LOSS",
        "UNKNOWN",
        "INTERNAL",
        "NOT_IMPLEMENTED",
        "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
    ];
    NAMES.iter().find(|n| **n == code).copied()
}

pub use crate::vault::error::vault_error;

/// What a listener's middleware and admin API know about the listener.
#[derive(Clone, Debug)]
pub struct ListenerCtx {
    pub sim: Sim,
    pub upstream: Upstream,
    /// Required as a bearer token on `/__authsim/` when the listener is not on loopback.
    pub admin_token: Option<Arc<str>>,
}

/// Wraps a listener's router with the admin API, the journal/fault middleware and an envelope for
/// unknown routes.
pub fn wrap(router: Router, ctx: ListenerCtx) -> Router {
    let upstream = ctx.upstream;
    router
        .merge(admin_router(ctx.clone()))
        .fallback(move |req: Request| async move { not_found(upstream, &req) })
        .method_not_allowed_fallback(move |req: Request| async move {
            method_not_allowed(upstream, &req)
        })
        .layer(axum::middleware::from_fn_with_state(ctx, around))
}

fn not_found(upstream: Upstream, req: &Request) -> Response {
    match upstream {
        Upstream::Google => GcpError::not_found(format!(
            "The requested URL {} was not found on this server.",
            req.uri().path()
        ))
        .into_response(),
        Upstream::Aws => AwsError::sender(404, "UnknownOperationException", "").into_response(),
        Upstream::Vault => vault_error(404, &[]),
    }
}

fn method_not_allowed(upstream: Upstream, req: &Request) -> Response {
    match upstream {
        // UNVERIFIED: Google's front end answers a wrong method on a known path with 405 and
        // this wording in the googleapis envelope.
        Upstream::Google => GcpError::new(
            405,
            format!(
                "Method {} is not allowed for {}.",
                req.method(),
                req.uri().path()
            ),
        )
        .with_status("UNKNOWN")
        .into_response(),
        Upstream::Aws => AwsError::sender(
            405,
            "MethodNotAllowed",
            format!(
                "The method {} is not allowed for this resource",
                req.method()
            ),
        )
        .into_response(),
        Upstream::Vault => vault_error(405, &[]),
    }
}

/// The method an AWS Query request names, from the query or the form body.
fn aws_action<'a>(query: Option<&'a str>, body: &'a [u8]) -> Option<String> {
    let from = |s: &[u8]| {
        form_urlencoded::parse(s)
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.into_owned())
    };
    query
        .and_then(|q| from(q.as_bytes()))
        .or_else(|| from(body))
}

async fn around(State(ctx): State<ListenerCtx>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let is_admin = path.starts_with("/__authsim/");
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return ctx.upstream.too_large(),
    };
    if is_admin {
        if let Some(token) = &ctx.admin_token {
            let ok = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|t| {
                    subtle::ConstantTimeEq::ct_eq(t.as_bytes(), token.as_bytes()).into()
                });
            if !ok {
                return ctx.upstream.error(
                    401,
                    Some("UNAUTHENTICATED"),
                    "this authsim was started with an admin token: admin calls need 'Authorization: Bearer <admin token>'",
                );
            }
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        return next.run(req).await;
    }

    let action = match ctx.upstream {
        Upstream::Aws => aws_action(parts.uri.query(), &bytes),
        _ => None,
    };
    let faults = ctx.sim.faults().apply(&RequestFacts {
        listener: ctx.upstream.name(),
        method: parts.method.as_str(),
        path: &path,
        action: action.as_deref(),
    });
    let mut answer = None;
    for f in faults {
        match f {
            FaultKind::Latency(d) => tokio::time::sleep(d).await,
            other if answer.is_none() => answer = Some(other),
            _ => {}
        }
    }
    // Redaction happens when the journal is read.
    let raw = Raw::new(
        ctx.upstream.name(),
        ctx.sim.clock().now(),
        &parts.method,
        &parts.uri,
        &parts.headers,
        &bytes,
    );

    let resp = match answer {
        Some(FaultKind::Throttle) => ctx.upstream.throttled(),
        Some(FaultKind::Status {
            status,
            code,
            message,
            content_type,
        }) => {
            let mut resp = ctx
                .upstream
                .fault_status(status, code.as_deref(), message.as_deref());
            if let Some(v) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp
        }
        Some(FaultKind::Drop) => dropped(),
        _ => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    ctx.sim
        .journal()
        .record(raw.answered(resp.status().as_u16(), started.elapsed().as_micros() as u64));
    resp
}

/// A response whose body fails at once: the server closes the connection without a complete
/// answer, which is what a client sees as a dropped connection.
fn dropped() -> Response {
    struct Broken;
    impl http_body::Body for Broken {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "authsim fault: dropped connection",
            ))))
        }
    }
    let mut resp = Response::new(Body::new(Broken));
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("1"));
    resp
}

// ------------------------------------------------------------------------------------ admin API

fn admin_router(ctx: ListenerCtx) -> Router {
    Router::new()
        .route("/__authsim/health", get(|| async { "ok" }))
        .route("/__authsim/reset", axum::routing::post(admin_reset))
        .route("/__authsim/clock", get(admin_clock).post(admin_set_clock))
        .route(
            "/__authsim/faults",
            get(admin_faults)
                .post(admin_add_fault)
                .delete(admin_clear_faults),
        )
        .route("/__authsim/faults/{id}", delete(admin_remove_fault))
        .route(
            "/__authsim/journal",
            get(admin_journal).delete(admin_clear_journal),
        )
        .with_state(ctx)
}

fn json_ok(v: serde_json::Value) -> Response {
    let mut resp = v.to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn parse_json<T: serde::de::DeserializeOwned>(
    ctx: &ListenerCtx,
    body: &Bytes,
) -> Result<T, Response> {
    serde_json::from_slice(if body.is_empty() { b"{}" } else { body }).map_err(|e| {
        ctx.upstream.error(
            400,
            Some("INVALID_ARGUMENT"),
            &format!("invalid admin request body: {e}"),
        )
    })
}

async fn admin_reset(State(ctx): State<ListenerCtx>) -> Response {
    ctx.sim.reset_and_restore().await;
    json_ok(json!({ "reset": true }))
}

fn clock_json(ctx: &ListenerCtx) -> Response {
    let c = ctx.sim.clock();
    json_ok(json!({ "now": rfc3339(c.now()), "unix": c.unix(), "manual": c.is_manual() }))
}

async fn admin_clock(State(ctx): State<ListenerCtx>) -> Response {
    clock_json(&ctx)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    advance: Option<String>,
    set: Option<String>,
}

async fn admin_set_clock(State(ctx): State<ListenerCtx>, body: Bytes) -> Response {
    let change: ClockChange = match parse_json(&ctx, &body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = match (&change.advance, &change.set) {
        (Some(d), None) => match parse_duration(d) {
            Some(d) => ctx.sim.clock().advance(d),
            None => {
                return ctx.upstream.error(
                    400,
                    Some("INVALID_ARGUMENT"),
                    &format!("'{d}' is not a duration such as '90s' or '16m'"),
                )
            }
        },
        (None, Some(t)) => match crate::worldfile::parse_time(t) {
            Some(t) => ctx.sim.clock().set(t),
            None => {
                return ctx.upstream.error(
                    400,
                    Some("INVALID_ARGUMENT"),
                    &format!("'{t}' is not an RFC 3339 time"),
                )
            }
        },
        _ => {
            return ctx.upstream.error(
                400,
                Some("INVALID_ARGUMENT"),
                "give exactly one of 'advance' or 'set'",
            )
        }
    };
    match result {
        Ok(()) => clock_json(&ctx),
        Err(e @ crate::clock::ClockError::OutOfRange) => {
            ctx.upstream
                .error(400, Some("INVALID_ARGUMENT"), &e.to_string())
        }
        Err(e) => ctx
            .upstream
            .error(409, Some("FAILED_PRECONDITION"), &e.to_string()),
    }
}

/// The admin API's fault description.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    listener: Option<String>,
    method: Option<String>,
    path: Option<String>,
    action: Option<String>,
    latency: Option<String>,
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    content_type: Option<String>,
    #[serde(default)]
    throttle: bool,
    #[serde(default)]
    drop: bool,
    times: Option<u64>,
    probability: Option<f64>,
}

fn fault_json(f: &Fault) -> serde_json::Value {
    let mut v = json!({
        "id": f.id,
        "listener": f.listener,
        "method": f.matches.method,
        "path": f.matches.path,
        "action": f.matches.action,
        "times": f.remaining,
        "probability": f.probability,
    });
    match &f.kind {
        FaultKind::Latency(d) => v["latency_ms"] = json!(d.as_millis() as u64),
        FaultKind::Status {
            status,
            code,
            message,
            content_type,
        } => {
            v["status"] = json!(status);
            v["code"] = json!(code);
            v["message"] = json!(message);
            v["content_type"] = json!(content_type);
        }
        FaultKind::Throttle => v["throttle"] = json!(true),
        FaultKind::Drop => v["drop"] = json!(true),
    }
    v
}

async fn admin_faults(State(ctx): State<ListenerCtx>) -> Response {
    let faults: Vec<_> = ctx.sim.faults().list().iter().map(fault_json).collect();
    json_ok(json!({ "faults": faults }))
}

async fn admin_add_fault(State(ctx): State<ListenerCtx>, body: Bytes) -> Response {
    let spec: FaultSpec = match parse_json(&ctx, &body) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let bad = |m: &str| ctx.upstream.error(400, Some("INVALID_ARGUMENT"), m);
    let kinds = [
        spec.latency.is_some(),
        spec.status.is_some(),
        spec.throttle,
        spec.drop,
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if kinds != 1 {
        return bad("a fault needs exactly one of 'latency', 'status', 'throttle' or 'drop'");
    }
    let kind = if let Some(l) = &spec.latency {
        match parse_duration(l) {
            Some(d) if d <= Duration::from_secs(600) => FaultKind::Latency(d),
            _ => {
                return bad(&format!(
                    "'{l}' is not a latency such as '20ms' (at most 10m)"
                ))
            }
        }
    } else if let Some(status) = spec.status {
        if !(400..=599).contains(&status) {
            return bad(&format!(
                "fault status {status} is not an error status (400-599)"
            ));
        }
        if let Some(ct) = &spec.content_type {
            if HeaderValue::from_str(ct).is_err() {
                return bad(&format!(
                    "content_type {ct:?} is not a valid header value (printable ASCII)"
                ));
            }
        }
        FaultKind::Status {
            status,
            code: spec.code,
            message: spec.message,
            content_type: spec.content_type,
        }
    } else if spec.throttle {
        FaultKind::Throttle
    } else {
        FaultKind::Drop
    };
    if spec.times == Some(0) {
        return bad("'times' must be at least 1 (leave it out for a fault that never runs out)");
    }
    if let Some(p) = spec.probability {
        if !(0.0..=1.0).contains(&p) {
            return bad(&format!("probability {p} is not between 0 and 1"));
        }
    }
    let listener = spec
        .listener
        .unwrap_or_else(|| ctx.upstream.name().to_owned());
    if !["google", "aws", "vault"].contains(&listener.as_str()) {
        return bad(&format!(
            "unknown listener '{listener}' (google, aws or vault)"
        ));
    }
    let id = ctx.sim.faults().add(Fault {
        id: 0,
        listener,
        matches: FaultMatch {
            method: spec.method,
            path: spec.path,
            action: spec.action,
        },
        kind,
        remaining: spec.times,
        probability: spec.probability,
    });
    json_ok(json!({ "id": id }))
}

async fn admin_clear_faults(State(ctx): State<ListenerCtx>) -> Response {
    ctx.sim.faults().clear();
    json_ok(json!({ "faults": [] }))
}

async fn admin_remove_fault(State(ctx): State<ListenerCtx>, Path(id): Path<String>) -> Response {
    match id.parse::<u64>() {
        Ok(id) if ctx.sim.faults().remove(id) => json_ok(json!({ "removed": id })),
        _ => ctx
            .upstream
            .error(404, Some("NOT_FOUND"), &format!("no fault with id '{id}'")),
    }
}

pub(crate) fn entry_json(e: &Entry) -> serde_json::Value {
    json!({
        "seq": e.seq,
        "listener": e.listener,
        "at": e.at,
        "method": e.method,
        "path": e.path,
        "query": e.query,
        "headers": e.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        "body": e.body,
        "status": e.status,
        "duration_micros": e.duration_micros,
    })
}

async fn admin_journal(State(ctx): State<ListenerCtx>, RawQuery(q): RawQuery) -> Response {
    let (mut listener, mut since) = (None, 0);
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match &*k {
            "listener" if ["google", "aws", "vault"].contains(&&*v) => {
                listener = Some(v.into_owned())
            }
            "listener" => {
                return ctx.upstream.error(
                    400,
                    Some("INVALID_ARGUMENT"),
                    &format!("unknown listener '{v}' (google, aws or vault)"),
                )
            }
            "since" => match v.parse() {
                Ok(n) => since = n,
                Err(_) => {
                    return ctx.upstream.error(
                        400,
                        Some("INVALID_ARGUMENT"),
                        &format!("'since' must be a sequence number, not '{v}'"),
                    )
                }
            },
            _ => {}
        }
    }
    let entries: Vec<_> = ctx
        .sim
        .journal()
        .since(since)
        .iter()
        .filter(|e| listener.as_deref().is_none_or(|l| l == e.listener))
        .map(entry_json)
        .collect();
    json_ok(json!({ "entries": entries }))
}

async fn admin_clear_journal(State(ctx): State<ListenerCtx>) -> Response {
    ctx.sim.journal().clear();
    json_ok(json!({ "entries": [] }))
}

/// A bound listener serving until shut down.
#[derive(Debug)]
pub struct RunningListener {
    pub upstream: Upstream,
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningListener {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
