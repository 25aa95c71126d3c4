//! Mock HashiCorp Vault core: the `/v1/` listener with Vault's envelope, `sys/*`, seal/unseal, ACL
//! policies, `auth/token`, KV v2 and v1, AppRole, userpass and LDAP (reference vault-core.md).
//!
//! Request flow ([`router`] → `VaultState::serve`):
//! 1. raw handlers (`sys/health`, `sys/seal-status`, `sys/seal`, `sys/unseal`, `sys/init`) answer
//!    directly ([`sys`]);
//! 2. everything else becomes a logical request (§1.1: method → operation, `LIST` and `?list=true`,
//!    JSON/form body or query parameters → data);
//! 3. sealed → 503; then the token (`X-Vault-Token`, else `Authorization: Bearer`) is resolved and
//!    the ACL checked **before** routing (§1.4, §3), except on an auth method's login paths;
//! 4. the mount table routes the path (longest prefix; `auth/` mounts separately) to a backend;
//! 5. the answer is put in the envelope (§1.2) with unrecognized-parameter warnings, or in the
//!    error envelope (§1.3).
//!
//! Auth methods plug in through [`AuthMethod`] (one value per mount, made by a factory registered
//! under the method's type with [`VaultState::register_auth_method`]). A login answers
//! [`Outcome::Login`] with a [`LoginSuccess`]; core turns it into the `auth` block and a token
//! (`token::issue_login`). A login that must call out over HTTP (GCP, AWS) answers
//! [`Outcome::Deferred`] with a future; core runs it without holding the store's lock.
//!
//! Starts like `vault server -dev`: unsealed, the world's root token, KV v2 at `secret/`, `token/`
//! auth. [`StartMode::Sealed`] starts initialised and sealed. **Unseal model:** no real Shamir
//! secret sharing. The N key shares are derived from the world seed (`derive(seed, "vault-unseal
//! #i")`, 33 bytes each, 32 bytes when N = 1), and the Vault unseals once `threshold` distinct shares
//! from that set have been submitted. Submitting `threshold` shares of which one is not in the set
//! fails the attempt with Vault's "failed to decrypt keys" error, as a wrong share would.
//!
//! Time comes from the simulation clock (`sim.clock()`), so token TTLs move with `ManualClock`.
//!
//! **Not modelled:** response wrapping (`X-Vault-Wrap-TTL` is validated, then ignored), namespaces
//! (the header is echoed), HA/standby/replication, audit devices, identity entities beyond an id per
//! login alias, quotas, plugins other than the built-ins, `sys/raw`, rekey and root generation.
//! Differences between Vault versions: `VERSIONS.md`.

pub mod acl;
pub mod approle;
pub mod auth_aws;
pub mod auth_gcp;
pub mod backend;
mod cloud_auth;
pub mod envelope;
pub mod error;
pub mod fields;
mod go_fmt;
pub mod kv;
pub mod ldap;
pub mod mounts;
pub mod sys;
pub mod token;
pub mod userpass;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value};

pub use envelope::{AuthBlock, Reply, Resp};
pub use error::VaultError;
pub use fields::Input;
pub use mounts::MountInfo;
pub use token::{TokenEntry, TokenSettings};

use crate::sim::{Sim, MAX_BODY_BYTES};
use acl::Acl;
use mounts::AuthBackend;

/// The version string the mock reports (`sys/health`, `sys/seal-status`): a label for the Vault
/// line it emulates, see `VERSIONS.md`.
pub const VERSION: &str = "1.17.0";
/// A label, not a real build date.
pub const BUILD_DATE: &str = "2024-06-10T00:00:00Z";
/// Vault's system-wide default and maximum lease TTL (768h).
pub const SYSTEM_MAX_TTL: i64 = 2_764_800;

/// How the mock Vault starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartMode {
    /// Like `vault server -dev`: initialised, unsealed, one unseal key.
    #[default]
    Dev,
    /// Initialised and sealed with `shares` key shares of which `threshold` unseal.
    Sealed { shares: u8, threshold: u8 },
    /// Not initialised: `sys/init` first.
    Uninitialized,
}

/// Options for [`VaultState::new`].
#[derive(Debug, Clone, Default)]
pub struct VaultOptions {
    pub start: StartMode,
    /// Answer an unknown or expired token with 1.10–1.16's `permission denied` instead of 1.17's
    /// `permission denied` + `invalid token` (reference §1.4).
    pub legacy_invalid_token: bool,
    /// The version `sys/health` and `sys/seal-status` report; [`VERSION`] when `None`.
    pub version: Option<String>,
    /// Vault's server option `imprecise_lease_role_tracking`: core does not work out a login's
    /// role for lease-count quotas, so an aws iam login calls STS once instead of twice.
    pub imprecise_lease_role_tracking: bool,
}

impl VaultOptions {
    /// The behaviour of a Vault release line the mock can imitate: `1.17` (the default) or
    /// `1.16` (unknown tokens answered with a bare `permission denied`; reports `1.16.0`).
    pub fn compat(line: &str) -> Option<VaultOptions> {
        match line {
            "1.17" => Some(VaultOptions::default()),
            "1.16" => Some(VaultOptions {
                legacy_invalid_token: true,
                version: Some("1.16.0".into()),
                ..VaultOptions::default()
            }),
            _ => None,
        }
    }
}

/// The logical operation of a request (§1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    List,
    /// An update whose existence check said the item is absent.
    Create,
    Update,
    Patch,
    Delete,
    Head,
}

impl Op {
    fn capability(self) -> u16 {
        match self {
            Op::Read | Op::Head => acl::READ,
            Op::List => acl::LIST,
            Op::Create => acl::CREATE,
            Op::Update => acl::UPDATE,
            Op::Patch => acl::PATCH,
            Op::Delete => acl::DELETE,
        }
    }

    /// Create or update.
    pub fn is_write(self) -> bool {
        matches!(self, Op::Create | Op::Update)
    }
}

/// The calling token and its ACL.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: TokenEntry,
    pub acl: Acl,
    /// The token exactly as the caller sent it.
    pub sent: String,
}

/// What a backend knows about the request it handles.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub op: Op,
    /// The request path relative to `/v1/` (`auth/userpass/login/bob`).
    pub path: &'a str,
    pub input: &'a Input,
    pub now: SystemTime,
    pub remote: IpAddr,
    pub headers: &'a HeaderMap,
    pub mount: &'a MountInfo,
    /// `None` on unauthenticated (login) paths.
    pub caller: Option<&'a Caller>,
}

impl Ctx<'_> {
    /// Root, or `sudo` on this request's path.
    pub fn has_sudo(&self) -> bool {
        self.caller.is_some_and(|c| {
            c.acl.root
                || c.acl
                    .allows(self.path, acl::SUDO, true, self.op == Op::List)
        })
    }
}

/// What an auth method's handler answers.
pub enum Outcome {
    Reply(Reply),
    /// A successful login: core issues the token and the `auth` block.
    Login(Box<LoginSuccess>),
    /// Work to finish without the store's lock held (HTTP calls to the cloud mocks); its result is
    /// processed like a direct answer.
    Deferred(Pin<Box<dyn Future<Output = Result<Outcome, VaultError>> + Send>>),
    /// Renew a token whose auth method's [`RenewCheck`] passed (after a deferred check).
    Renew {
        token: String,
        increment: i64,
        show_token: bool,
        terms: Option<RenewTerms>,
    },
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Reply(r) => f.debug_tuple("Reply").field(r).finish(),
            Outcome::Login(l) => f.debug_tuple("Login").field(l).finish(),
            Outcome::Deferred(_) => f.write_str("Deferred(..)"),
            Outcome::Renew { .. } => f.write_str("Renew(..)"),
        }
    }
}

impl From<Reply> for Outcome {
    fn from(r: Reply) -> Self {
        Outcome::Reply(r)
    }
}

impl From<Resp> for Outcome {
    fn from(r: Resp) -> Self {
        Outcome::Reply(Reply::Envelope(Box::new(r)))
    }
}

/// A successful login, before core turns it into a token.
#[derive(Debug, Clone, Default)]
pub struct LoginSuccess {
    /// The method's policies (core adds `default` unless `token.no_default_policy`).
    pub policies: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    /// The method's part of the token's display name (`bob`; empty for approle): core puts the
    /// mount in front (`userpass-bob`).
    pub display_name: String,
    /// The entity alias name (an entity id is derived per mount and alias).
    pub alias_name: String,
    pub token: TokenSettings,
    /// `data` of the login response (`null` for most methods).
    pub data: Option<Value>,
    pub warnings: Vec<String>,
    /// Run before each renewal of the token this login issues; an error refuses the renewal.
    pub renew_check: Option<RenewCheck>,
}

/// An auth method mounted at one path.
pub trait AuthMethod: Send + Sync + std::fmt::Debug {
    /// Paths (relative to the mount) that take no token: `login`, `login/<user>`.
    fn is_login_path(&self, rel: &str) -> bool;

    /// The existence check for update requests (`Some(false)` makes the update a create).
    fn exists(&self, _rel: &str) -> Option<bool> {
        None
    }

    /// Whether the path has an existence check (a write's fields are then validated in it).
    fn existence_checked(&self, rel: &str) -> bool {
        self.exists(rel).is_some()
    }

    fn handle(&mut self, core: &mut Core, cx: &Ctx<'_>, rel: &str) -> Result<Outcome, VaultError>;
}

/// Makes a fresh auth method for a new mount.
pub type AuthFactory = Arc<dyn Fn() -> Box<dyn AuthMethod> + Send + Sync>;

/// Auth method types that `sys/auth` can enable.
#[derive(Default, Clone)]
pub struct AuthRegistry {
    factories: Arc<RwLock<BTreeMap<String, AuthFactory>>>,
}

impl std::fmt::Debug for AuthRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .factories
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("AuthRegistry")
            .field("types", &names)
            .finish()
    }
}

impl AuthRegistry {
    pub fn register(&self, kind: &str, factory: AuthFactory) {
        self.factories
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kind.to_owned(), factory);
    }

    pub fn make(&self, kind: &str) -> Option<Box<dyn AuthMethod>> {
        let f = self
            .factories
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kind)
            .cloned();
        f.map(|f| f())
    }
}

/// What stays the same across resets.
#[derive(Debug, Clone)]
pub struct Setup {
    pub seed: String,
    pub root_token: String,
    pub options: VaultOptions,
    pub registry: AuthRegistry,
}

/// Vault's state apart from the mount table: tokens, policies, seal, entities, lockouts, ids.
#[derive(Debug)]
pub struct Core {
    pub setup: Setup,
    /// The current request's time (from the simulation clock).
    pub now: SystemTime,
    rng: ChaCha20Rng,
    pub tokens: token::TokenStore,
    /// Policy name → parsed policy (`default` included, `root` implicit).
    pub policies: BTreeMap<String, acl::Policy>,
    pub seal: sys::SealState,
    /// (mount accessor, alias name) → entity id.
    entities: HashMap<(String, String), String>,
    lockouts: HashMap<(String, String), Lockout>,
    /// The simulated LDAP directory the `ldap` auth method binds against.
    pub ldap_directory: ldap::Directory,
}

/// A check's future: `Ok` lets the renewal go ahead, with the terms the method's renewal
/// handler answers (`None`: the token's own).
pub type CheckFuture = Pin<Box<dyn Future<Output = Result<Option<RenewTerms>, VaultError>> + Send>>;

/// What an auth method's renewal handler puts in its `auth` (the role's settings as they are
/// now), from which core's `CalculateTTL` works out the renewed TTL. Seconds; 0: not set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenewTerms {
    pub ttl: i64,
    pub max_ttl: i64,
    pub period: i64,
}

/// An auth method's renewal check for one login's token.
#[derive(Clone)]
pub struct RenewCheck(pub Arc<dyn Fn() -> CheckFuture + Send + Sync>);

impl std::fmt::Debug for RenewCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RenewCheck(..)")
    }
}

#[derive(Debug, Clone, Copy)]
struct Lockout {
    failures: u32,
    last_failure: SystemTime,
    locked_until: Option<SystemTime>,
}

/// User lockout defaults (`internalshared/configutil/userlockout.go`): 5 failures, 15 minutes.
const LOCKOUT_THRESHOLD: u32 = 5;
const LOCKOUT_SECS: i64 = 15 * 60;

const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Core {
    /// `n` random base62 characters.
    pub fn base62(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| BASE62[self.rng.gen_range(0..BASE62.len())] as char)
            .collect()
    }

    pub fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.gen())
            .into_uuid()
            .to_string()
    }

    pub fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.rng.gen()).collect()
    }

    /// `8` lowercase hex characters (mount accessors).
    pub fn hex8(&mut self) -> String {
        hex::encode(self.random_bytes(4))
    }

    /// The entity id for an alias on a mount (created on first login).
    pub fn entity_for(&mut self, mount_accessor: &str, alias: &str) -> String {
        let key = (mount_accessor.to_owned(), alias.to_owned());
        if let Some(id) = self.entities.get(&key) {
            return id.clone();
        }
        let id = self.uuid();
        self.entities.insert(key, id.clone());
        id
    }

    /// Is this alias locked out on this mount (§7)?
    // UNVERIFIED: reference/vault-core.md §7 (the 6th attempt after 5 failures is refused)
    pub fn is_locked_out(&mut self, mount_accessor: &str, alias: &str, now: SystemTime) -> bool {
        let key = (mount_accessor.to_owned(), alias.to_owned());
        match self.lockouts.get(&key) {
            Some(l) => match l.locked_until {
                Some(until) if until > now => true,
                Some(_) => {
                    self.lockouts.remove(&key);
                    false
                }
                None => false,
            },
            None => false,
        }
    }

    /// Records a failed login; the threshold-th failure locks the alias out.
    pub fn login_failed(&mut self, mount_accessor: &str, alias: &str, now: SystemTime) {
        let key = (mount_accessor.to_owned(), alias.to_owned());
        let entry = self.lockouts.entry(key).or_insert(Lockout {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if fields::secs_until(entry.last_failure, now) > LOCKOUT_SECS {
            entry.failures = 0;
        }
        entry.failures += 1;
        entry.last_failure = now;
        if entry.failures >= LOCKOUT_THRESHOLD {
            entry.locked_until = Some(fields::add_secs(now, LOCKOUT_SECS));
        }
    }

    pub fn login_succeeded(&mut self, mount_accessor: &str, alias: &str) {
        self.lockouts
            .remove(&(mount_accessor.to_owned(), alias.to_owned()));
    }

    /// The ACL of a set of policy names.
    pub fn acl_for(&self, policies: &[String], entity_id: &str) -> Acl {
        if policies.iter().any(|p| p == "root") {
            return Acl::root();
        }
        Acl::new(
            policies.iter().filter_map(|p| self.policies.get(p)),
            entity_id,
        )
    }
}

/// Everything the mock Vault holds.
#[derive(Debug)]
pub struct VaultStore {
    pub core: Core,
    /// Secret mounts keyed by path with a trailing `/` (`secret/`, `sys/`).
    pub mounts: BTreeMap<String, mounts::SecretMount>,
    /// Auth mounts keyed by path below `auth/` with a trailing `/` (`token/`, `userpass/`).
    pub auth: BTreeMap<String, mounts::AuthMount>,
}

impl VaultStore {
    /// A fresh store. Ids (tokens, accessors, request ids) come from an RNG seeded by the world
    /// seed and `generation` (the number of resets so far), so a run is reproducible and a token
    /// from before a reset never comes back after it.
    pub fn new(setup: Setup, now: SystemTime, generation: u64) -> Self {
        let seed = crate::world::derive(&setup.seed, &format!("vault-store-rng#{generation}"));
        let seal = sys::SealState::new(&setup, now);
        let mut core = Core {
            now,
            rng: ChaCha20Rng::from_seed(seed),
            tokens: token::TokenStore::default(),
            policies: BTreeMap::new(),
            seal,
            entities: HashMap::new(),
            lockouts: HashMap::new(),
            ldap_directory: ldap::Directory::default(),
            setup,
        };
        let default =
            acl::parse_policy("default", acl::DEFAULT_POLICY).expect("the default policy parses");
        core.policies.insert("default".into(), default);
        let mut store = Self {
            core,
            mounts: BTreeMap::new(),
            auth: BTreeMap::new(),
        };
        mounts::mount_defaults(&mut store);
        if store.core.seal.initialized {
            let root = store.core.setup.root_token.clone();
            store
                .core
                .tokens
                .insert_root(&mut store.core.rng, &root, now);
        }
        store
    }
}

/// The mock Vault's shared handle. Cheap to clone.
#[derive(Clone, Debug)]
pub struct VaultState {
    pub sim: Sim,
    store: Arc<Mutex<VaultStore>>,
    setup: Arc<Setup>,
}

impl VaultState {
    pub fn new(sim: Sim, options: VaultOptions) -> Self {
        let registry = AuthRegistry::default();
        registry.register(
            "userpass",
            Arc::new(|| Box::new(userpass::Userpass::default())),
        );
        registry.register(
            "approle",
            Arc::new(|| Box::new(approle::AppRole::default())),
        );
        registry.register("ldap", Arc::new(|| Box::new(ldap::Ldap::default())));
        let clock = sim.clock_arc();
        registry.register(
            "gcp",
            Arc::new(move || Box::new(cloud_auth::CloudAuth::gcp(clock.clone()))),
        );
        let clock = sim.clock_arc();
        let resolve_role = !options.imprecise_lease_role_tracking;
        registry.register(
            "aws",
            Arc::new(move || Box::new(cloud_auth::CloudAuth::aws(clock.clone(), resolve_role))),
        );
        let setup = {
            let world = sim.world();
            Setup {
                seed: world.seed.clone(),
                root_token: if world.vault.root_token.is_empty() {
                    "root".into()
                } else {
                    world.vault.root_token.clone()
                },
                options,
                registry,
            }
        };
        let store = Arc::new(Mutex::new(VaultStore::new(
            setup.clone(),
            sim.clock().now(),
            0,
        )));
        let generation = std::sync::atomic::AtomicU64::new(0);
        let weak = Arc::downgrade(&store);
        let (hook_setup, hook_sim) = (setup.clone(), sim.clone());
        // A hook that holds the simulation would keep it alive forever; the clock is enough.
        let clock = hook_sim.clock_arc();
        sim.on_reset(Box::new(move || {
            if let Some(store) = weak.upgrade() {
                let n = generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let fresh = VaultStore::new(hook_setup.clone(), clock.now(), n);
                *store.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
            }
        }));
        Self {
            sim,
            store,
            setup: Arc::new(setup),
        }
    }

    /// Makes `kind` enableable through `sys/auth/:path` (the GCP and AWS methods plug in here).
    pub fn register_auth_method(&self, kind: &str, factory: AuthFactory) {
        self.setup.registry.register(kind, factory);
    }

    /// The store, locked. Do not hold it across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, VaultStore> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn root_token(&self) -> String {
        self.setup.root_token.clone()
    }

    /// The unseal key shares, hex encoded (`vault operator unseal` takes these).
    pub fn unseal_keys(&self) -> Vec<String> {
        self.lock().core.seal.keys.iter().map(hex::encode).collect()
    }

    pub fn unseal_threshold(&self) -> u8 {
        self.lock().core.seal.threshold
    }

    async fn serve(&self, parts: http::request::Parts, body: Bytes) -> Response {
        let remote = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let raw_path = parts.uri.path();
        let Some(rel) = raw_path.strip_prefix("/v1/") else {
            return VaultError::not_found().into_response();
        };
        let rel = percent_encoding::percent_decode_str(rel)
            .decode_utf8_lossy()
            .into_owned();
        let token = request_token(&parts.headers);
        let now = self.sim.clock().now();
        if let Some(resp) = sys::raw(self, &parts, &rel, &body, token.as_deref(), now) {
            return resp;
        }
        let mut req = match parse_logical(&parts, &rel, &body) {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
        let flow = {
            let mut store = self.lock();
            dispatch(&mut store, &mut req, token.as_deref(), remote, now)
        };
        match flow {
            Flow::Done(resp) => resp,
            Flow::Deferred(fut, fin) => {
                let out = fut.await;
                let mut store = self.lock();
                finish(&mut store, out, *fin)
            }
        }
    }
}

/// The client token: `X-Vault-Token`, else `Authorization: Bearer <t>` (§1.1).
pub fn request_token(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-vault-token") {
        return v.to_str().ok().map(str::to_owned);
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

/// The router of the mock Vault. Serve it with [`crate::sim::wrap`] for the admin API and journal;
/// tests call it directly with `tower::ServiceExt::oneshot`.
pub fn router(state: VaultState) -> Router {
    Router::new()
        .route("/v1/{*path}", any(handle))
        .merge(ldap::admin_router())
        .fallback(|| async { VaultError::not_found().into_response() })
        .with_state(state)
}

async fn handle(State(st): State<VaultState>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        // UNVERIFIED: reference/vault-core.md §1.3 (413 body text, code-read)
        Err(_) => return error::vault_error(413, &["error parsing JSON"]),
    };
    let ns = parts.headers.get("x-vault-namespace").cloned();
    let mut resp = st.serve(parts, bytes).await;
    if let Some(ns) = ns {
        resp.headers_mut().insert("x-vault-namespace", ns);
    }
    resp
}

/// A request after the §1.1 mapping.
#[derive(Debug)]
pub struct LogicalRequest {
    pub op: Op,
    /// Relative to `/v1/`; list requests end in `/`.
    pub path: String,
    pub data: Map<String, Value>,
    pub headers: HeaderMap,
}

fn query_data(query: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let (k, v) = (k.into_owned(), Value::String(v.into_owned()));
        match m.get_mut(&k) {
            Some(Value::Array(a)) => a.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                m.insert(k, v);
            }
        }
    }
    m.remove("help");
    m
}

fn body_data(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, VaultError> {
    let trimmed = body.trim_ascii_start();
    if trimmed.is_empty() {
        return Ok(Map::new());
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form && !matches!(trimmed[0], b'{' | b'[') {
        let mut m = Map::new();
        for (k, v) in form_urlencoded::parse(body) {
            m.insert(k.into_owned(), Value::String(v.into_owned()));
        }
        return Ok(m);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(VaultError::bad("error parsing JSON")),
    }
}

fn parse_logical(
    parts: &http::request::Parts,
    rel: &str,
    body: &[u8],
) -> Result<LogicalRequest, VaultError> {
    let query = parts.uri.query();
    let mut path = rel.to_owned();
    let (op, data) = match parts.method.as_str() {
        "GET" => {
            let mut data = query_data(query);
            let mut op = Op::Read;
            if let Some(v) = data.remove("list") {
                let s = match &v {
                    Value::String(s) => s.clone(),
                    Value::Array(a) => a.first().and_then(Value::as_str).unwrap_or("").to_owned(),
                    _ => String::new(),
                };
                match fields::parse_bool(&s) {
                    Some(true) => op = Op::List,
                    Some(false) => {}
                    None => return Err(VaultError::empty(400)),
                }
            }
            (op, data)
        }
        "LIST" => (Op::List, query_data(query)),
        "POST" | "PUT" => (Op::Update, body_data(&parts.headers, body)?),
        "PATCH" => {
            let ct = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let media = fields::parse_media_type(ct).map_err(VaultError::bad)?;
            if media != "application/merge-patch+json" {
                return Err(VaultError::new(
                    415,
                    format!("PATCH requires Content-Type of application/merge-patch+json, provided {media}"),
                ));
            }
            (Op::Patch, body_data(&parts.headers, body)?)
        }
        "DELETE" => (Op::Delete, query_data(query)),
        "HEAD" => (Op::Head, query_data(query)),
        _ => return Err(VaultError::empty(405)),
    };
    if let Some(v) = parts.headers.get("x-vault-wrap-ttl") {
        let s = v.to_str().unwrap_or("");
        match fields::parse_duration_str(s) {
            Ok(n) if n < 0 => {
                return Err(VaultError::bad(
                    "error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative",
                ))
            }
            Ok(_) => {}
            Err(e) => {
                return Err(VaultError::bad(format!(
                    "error parsing X-Vault-Wrap-TTL header: {e}"
                )))
            }
        }
    }
    if op == Op::List && !path.ends_with('/') {
        path.push('/');
    }
    if matches!(op, Op::Update | Op::Patch) && path.ends_with('/') {
        return Err(VaultError::bad("cannot write to a path ending in '/'"));
    }
    Ok(LogicalRequest {
        op,
        path,
        data,
        headers: parts.headers.clone(),
    })
}

/// Where a path goes.
#[derive(Debug, Clone)]
enum Route {
    Secret { key: String, rel: String },
    Auth { key: String, rel: String },
}

fn route(store: &VaultStore, path: &str) -> Option<Route> {
    fn longest<'a, T>(table: &'a BTreeMap<String, T>, path: &str) -> Option<(&'a String, String)> {
        table
            .keys()
            .filter(|k| path.starts_with(k.as_str()) || path == k.trim_end_matches('/'))
            .max_by_key(|k| k.len())
            .map(|k| (k, path.get(k.len()..).unwrap_or("").to_owned()))
    }
    if let Some(rest) = path.strip_prefix("auth/") {
        return longest(&store.auth, rest).map(|(k, rel)| Route::Auth {
            key: k.clone(),
            rel,
        });
    }
    longest(&store.mounts, path).map(|(k, rel)| Route::Secret {
        key: k.clone(),
        rel,
    })
}

/// Paths that need `sudo` as well (§3.1), as prefix (`*`) or exact patterns.
const ROOT_PATHS: &[&str] = &[
    "sys/auth/*",
    "sys/audit",
    "sys/audit/*",
    "sys/raw*",
    "sys/rotate",
    "sys/remount",
    "sys/config/cors",
    "sys/config/auditing/*",
    "sys/config/ui/headers/*",
    "sys/plugins/catalog/*",
    "sys/revoke-prefix/*",
    "sys/revoke-force/*",
    "sys/leases",
    "sys/leases/lookup/*",
    "sys/leases/revoke-prefix/*",
    "sys/leases/revoke-force/*",
    "sys/internal/inspect/*",
    "sys/seal",
    "sys/step-down",
    "auth/token/accessors*",
    "auth/token/revoke-orphan",
];

fn needs_sudo(path: &str) -> bool {
    ROOT_PATHS.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == *p || path.strip_suffix('/') == Some(p),
    })
}

enum Flow {
    Done(Response),
    Deferred(
        Pin<Box<dyn Future<Output = Result<Outcome, VaultError>> + Send>>,
        Box<Finish>,
    ),
}

/// What core needs to finish a request after its backend answered.
#[derive(Debug, Clone)]
struct Finish {
    /// A write to a path with an existence check.
    existence_checked: bool,
    op: Op,
    path: String,
    mount: Arc<MountInfo>,
    unrecognized: Vec<String>,
    revoke_after: Option<String>,
    remote: IpAddr,
    request_id: String,
}

/// Token resolution and the ACL check (§1.4, §3). Ok(None) on unauthenticated paths.
fn authorize(
    store: &mut VaultStore,
    req: &LogicalRequest,
    op: Op,
    token: Option<&str>,
    remote: IpAddr,
    now: SystemTime,
) -> Result<Option<Caller>, VaultError> {
    let Some(sent) = token.filter(|t| !t.is_empty()) else {
        return Err(VaultError::permission_denied());
    };
    let invalid = || {
        if store.core.setup.options.legacy_invalid_token {
            VaultError::permission_denied()
        } else {
            VaultError::new(403, error::INVALID_TOKEN_117)
        }
    };
    let entry = match store.core.tokens.get_valid(sent, now) {
        Some(e) => e.clone(),
        None => return Err(invalid()),
    };
    if !fields::cidrs_allow(&entry.bound_cidrs, remote) {
        return Err(VaultError::permission_denied());
    }
    let acl = store.core.acl_for(&entry.policies, &entry.entity_id);
    let is_list = op == Op::List;
    let sudo = needs_sudo(&req.path);
    if !acl.allows(&req.path, op.capability(), sudo, is_list) || op == Op::Head && !acl.root {
        return Err(VaultError::acl_denied());
    }
    if matches!(op, Op::Read | Op::Create | Op::Update | Op::Patch)
        && !acl.params_allowed(&req.path, &req.data)
    {
        return Err(VaultError::acl_denied());
    }
    Ok(Some(Caller {
        token: entry,
        acl,
        sent: sent.to_owned(),
    }))
}

/// Routes, authorises and runs `req` (its `data` moves into the handler's input).
fn dispatch(
    store: &mut VaultStore,
    req: &mut LogicalRequest,
    token: Option<&str>,
    remote: IpAddr,
    now: SystemTime,
) -> Flow {
    let request_id = store.core.uuid();
    store.core.now = now;
    // An uninitialised Vault is sealed too.
    if store.core.seal.sealed || !store.core.seal.initialized {
        return Flow::Done(VaultError::sealed().into_response());
    }
    let route = route(store, &req.path);
    // Existence check: an update of an absent item is a create (§1.1).
    let mut op = req.op;
    let mut existence_checked = false;
    if op == Op::Update {
        let exists = match &route {
            Some(Route::Secret { key, rel }) => store.mounts[key].exists(rel, token),
            Some(Route::Auth { key, rel }) => match store.auth[key].backend {
                AuthBackend::Token => token::role_exists(&store.core, rel),
                _ => store.auth[key].exists(rel),
            },
            None => None,
        };
        existence_checked = exists.is_some()
            || matches!(&route, Some(Route::Auth { key, rel })
                if store.auth[key].existence_checked(rel));
        if exists == Some(false) {
            op = Op::Create;
        }
    }
    let unauthenticated = match &route {
        Some(Route::Auth { key, rel }) => store.auth[key].is_login_path(rel),
        _ => false,
    };
    let caller = if unauthenticated {
        None
    } else if req.path.starts_with(sys::UI_MOUNTS) && req.op == Op::Read {
        // Unauthenticated in Vault's sense: the handler decides with the token, if any.
        token
            .and_then(|t| store.core.tokens.get_valid(t, now).cloned())
            .map(|e| Caller {
                acl: store.core.acl_for(&e.policies, &e.entity_id),
                token: e,
                sent: token.unwrap_or_default().to_owned(),
            })
    } else {
        match authorize(store, req, op, token, remote, now) {
            Ok(c) => c,
            Err(e) => return Flow::Done(e.into_response()),
        }
    };
    let Some(route) = route else {
        return Flow::Done(
            VaultError::new(
                404,
                format!(
                    "no handler for route {:?}. route entry not found.",
                    req.path
                ),
            )
            .into_response(),
        );
    };
    // Uses are counted once the request is allowed; the last use revokes after the request.
    let mut caller = caller;
    let revoke_after = caller
        .as_ref()
        .and_then(|c| store.core.tokens.use_once(&c.token.id));
    if let Some(c) = caller.as_mut() {
        if let Some(e) = store.core.tokens.get(&c.token.id) {
            c.token = e.clone();
        }
    }
    let input = Input::new(std::mem::take(&mut req.data));
    let (mount_info, result) = match &route {
        Route::Secret { key, rel } => {
            let mount = store.mounts[key].info.clone();
            let cx = Ctx {
                op,
                path: &req.path,
                input: &input,
                now,
                remote,
                headers: &req.headers,
                mount: &mount,
                caller: caller.as_ref(),
            };
            let r = if mount.kind == "system" {
                sys::handle(store, &cx, rel)
            } else {
                let m = store.mounts.get_mut(key).expect("routed mount exists");
                m.handle(&cx, rel)
            };
            (mount, r.map(Outcome::Reply))
        }
        Route::Auth { key, rel } => {
            let mount = store.auth[key].info.clone();
            let cx = Ctx {
                op,
                path: &req.path,
                input: &input,
                now,
                remote,
                headers: &req.headers,
                mount: &mount,
                caller: caller.as_ref(),
            };
            let VaultStore { core, auth, .. } = &mut *store;
            let m = auth.get_mut(key).expect("routed mount exists");
            let r = match &mut m.backend {
                AuthBackend::Token => match token::checked_renewal(core, &cx, rel) {
                    Some(r) => r,
                    None => token::handle(core, &cx, rel).map(Outcome::Reply),
                },
                AuthBackend::Method(method) => method.handle(core, &cx, rel),
            };
            (mount, r)
        }
    };
    let fin = Finish {
        existence_checked,
        op,
        path: req.path.clone(),
        mount: mount_info,
        unrecognized: input.unrecognized(),
        revoke_after,
        remote,
        request_id,
    };
    match result {
        Ok(Outcome::Deferred(fut)) => Flow::Deferred(fut, Box::new(fin)),
        other => Flow::Done(finish(store, other, fin)),
    }
}

fn finish(store: &mut VaultStore, out: Result<Outcome, VaultError>, fin: Finish) -> Response {
    let reply = match out {
        Ok(Outcome::Reply(r)) => Ok(r),
        Ok(Outcome::Login(ls)) => {
            token::issue_login(&mut store.core, &fin.mount, &fin.path, *ls, fin.remote)
                .map(Reply::from)
        }
        Ok(Outcome::Renew {
            token,
            increment,
            show_token,
            terms,
        }) => token::renew_entry(&mut store.core, &token, increment, show_token, terms)
            .map(Reply::from),
        Ok(Outcome::Deferred(_)) => Err(VaultError::multi(500, "internal error")),
        // A path with an existence check validates a write's fields in that check, before the
        // handler, and core answers its failure as a user error: the same text without the
        // framework's `Field validation failed: ` prefix (sdk/framework/backend.go
        // HandleExistenceCheck, vault/request_handling.go).
        Err(mut e) if fin.existence_checked => {
            if let Some(rest) = e
                .message
                .as_deref()
                .and_then(|m| m.strip_prefix("Field validation failed: "))
            {
                e.message = Some(rest.to_owned());
            }
            Err(e)
        }
        Err(e) => Err(e),
    };
    if let Some(id) = &fin.revoke_after {
        store.core.tokens.revoke_tree(id);
    }
    let reply = match reply {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let reply = match reply {
        Reply::Envelope(mut resp) => {
            if fin.op == Op::List && resp.warnings.is_empty() {
                let empty = match &resp.data {
                    Some(Value::Object(d)) => d
                        .get("keys")
                        .is_none_or(|k| k.as_array().is_none_or(Vec::is_empty)),
                    _ => true,
                };
                if empty {
                    return VaultError::not_found().into_response();
                }
            }
            if !fin.unrecognized.is_empty() {
                resp.warnings.push(format!(
                    "Endpoint ignored these unrecognized parameters: [{}]",
                    fin.unrecognized.join(" ")
                ));
            }
            Reply::Envelope(resp)
        }
        other => other,
    };
    // UNVERIFIED: reference/vault-core.md §1.2 (`mount_type` is `system` on sys/* and the auth
    // method's type on logins)
    let mut resp = envelope::render(reply, &fin.request_id, Some(&fin.mount.kind));
    if fin.op == Op::Head {
        *resp.body_mut() = axum::body::Body::empty();
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests;
