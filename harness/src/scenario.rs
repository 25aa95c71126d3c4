//! Scenario files: the TOML format `authsim run` reads (documented with an example per step kind
//! in `scenarios/README.md`).
//!
//! A file holds one scenario (top-level `name`, `[[step]]`…) or several (`[[scenario]]`). Parsing
//! keeps spans: every error names `file:line:col`, shows the line with a caret and, for a misspelt
//! key, suggests the closest known one. Parsing checks everything that can be checked without
//! running: exactly one action per step, durations, JSON pointers, capture names.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use authsim_mocks::clock::parse_duration;
use authsim_mocks::worldfile::WorldFileError;
use serde::Deserialize;
use toml::Spanned;

/// An error in a scenario file: `file:line:col`, the line, a caret, maybe a suggestion.
pub type ScenarioError = WorldFileError;

/// One parsed scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Stable identity in reports: the file path relative to the catalogue root without `.toml`
    /// (`aws/server_id_header_unsigned`), with `#N` for the N-th scenario of a multi-scenario file.
    pub id: String,
    /// The file as given on the command line.
    pub file: String,
    pub name: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// Targets the scenario runs on (`embedded`, `vault`); all when empty.
    pub targets: Vec<String>,
    /// Deep-merged over the world the run uses.
    pub world: Option<toml::Table>,
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Why the scenario does not run on `target`, if it does not.
    pub fn skip_reason(&self, target: &str) -> Option<String> {
        (!self.targets.is_empty() && !self.targets.iter().any(|t| t == target)).then(|| {
            format!(
                "runs only on {} (targets = {:?})",
                self.targets.join(", "),
                self.targets
            )
        })
    }
}

/// One step: an action, the mutations of its login material, and what to expect.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// A label for reports; the action's kind when absent.
    pub name: Option<String>,
    pub line: usize,
    pub action: Action,
    pub mutate: Mutate,
    pub expect: Expect,
    pub upstream: BTreeMap<String, UpstreamExpect>,
    /// Capture name → JSON pointer into the response body.
    pub capture: BTreeMap<String, String>,
}

impl Step {
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.action.kind().to_owned())
    }
}

/// What a step does.
#[derive(Debug, Clone, Default)]
pub enum Action {
    #[default]
    Nothing,
    GcpLogin(GcpLogin),
    GceLogin(GceLogin),
    AwsLogin(AwsLogin),
    AwsEc2Login(AwsEc2Login),
    ApproleLogin(ApproleLogin),
    UserpassLogin(PasswordLogin),
    LdapLogin(PasswordLogin),
    TokenLookup(TokenRef),
    SignJwt(SignJwt),
    GetCallerIdentity(GetCallerIdentity),
    VaultRead(VaultPath),
    VaultList(VaultPath),
    VaultDelete(VaultPath),
    VaultWrite(VaultWrite),
    Renew(Renew),
    Revoke(TokenRef),
    AdvanceClock(Duration),
    Fault(serde_json::Value),
    ClearFaults,
    DeleteIdentity(IdentityRef),
    RecreateIdentity(IdentityRef),
    DisableIdentity(IdentityRef),
    RotateKey(IdentityRef),
}

impl Action {
    /// The step kind as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Nothing => "nothing",
            Action::GcpLogin(_) => "gcp_login",
            Action::GceLogin(_) => "gce_login",
            Action::AwsLogin(_) => "aws_login",
            Action::AwsEc2Login(_) => "aws_ec2_login",
            Action::ApproleLogin(_) => "approle_login",
            Action::UserpassLogin(_) => "userpass_login",
            Action::LdapLogin(_) => "ldap_login",
            Action::TokenLookup(_) => "token_lookup",
            Action::SignJwt(_) => "sign_jwt",
            Action::GetCallerIdentity(_) => "get_caller_identity",
            Action::VaultRead(_) => "vault_read",
            Action::VaultList(_) => "vault_list",
            Action::VaultDelete(_) => "vault_delete",
            Action::VaultWrite(_) => "vault_write",
            Action::Renew(_) => "renew",
            Action::Revoke(_) => "revoke",
            Action::AdvanceClock(_) => "advance_clock",
            Action::Fault(_) => "fault",
            Action::ClearFaults => "clear_faults",
            Action::DeleteIdentity(_) => "delete_identity",
            Action::RecreateIdentity(_) => "recreate_identity",
            Action::DisableIdentity(_) => "disable_identity",
            Action::RotateKey(_) => "rotate_key",
        }
    }

    /// Whether the step talks to Vault and so has a Vault answer to check.
    pub fn is_vault_call(&self) -> bool {
        matches!(
            self,
            Action::GcpLogin(_)
                | Action::GceLogin(_)
                | Action::AwsLogin(_)
                | Action::AwsEc2Login(_)
                | Action::ApproleLogin(_)
                | Action::UserpassLogin(_)
                | Action::LdapLogin(_)
                | Action::TokenLookup(_)
                | Action::VaultRead(_)
                | Action::VaultList(_)
                | Action::VaultDelete(_)
                | Action::VaultWrite(_)
                | Action::Renew(_)
                | Action::Revoke(_)
        )
    }
}

const ACTIONS: &[&str] = &[
    "gcp_login",
    "gce_login",
    "aws_login",
    "aws_ec2_login",
    "approle_login",
    "userpass_login",
    "ldap_login",
    "token_lookup",
    "sign_jwt",
    "get_caller_identity",
    "vault_read",
    "vault_list",
    "vault_delete",
    "vault_write",
    "renew",
    "revoke",
    "advance_clock",
    "fault",
    "clear_faults",
    "delete_identity",
    "recreate_identity",
    "disable_identity",
    "rotate_key",
];

/// `gcp_login`: a JWT for `service_account`, signed through iamcredentials `signJwt` by `caller`
/// (the account itself by default), or self-signed with the account's user-managed key
/// (`key_file = true`), posted to `auth/<mount>/login`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcpLogin {
    pub role: String,
    #[serde(default = "default_sa")]
    pub service_account: String,
    pub caller: Option<String>,
    #[serde(default)]
    pub key_file: bool,
    #[serde(default = "gcp")]
    pub mount: String,
    /// Lifetime of the JWT (`exp - iat`); 10m by default.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub expires_in: Option<Duration>,
}

/// `gce_login`: the metadata server's identity token (`format=full`) for the world's instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GceLogin {
    pub role: String,
    #[serde(default = "gcp")]
    pub mount: String,
    /// `vault/<role>` by default.
    pub audience: Option<String>,
}

/// `aws_login`: an STS `GetCallerIdentity` request signed with `identity`'s credentials, posted
/// to `auth/<mount>/login` as hvac (`style = "hvac"`, the default) or the Vault CLI
/// (`style = "cli"`) builds it; `method = "GET"` presigns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsLogin {
    pub role: Option<String>,
    #[serde(default = "default_aws_identity")]
    pub identity: String,
    pub server_id: Option<String>,
    #[serde(default = "aws")]
    pub mount: String,
    #[serde(default = "post")]
    pub method: String,
    #[serde(default = "hvac")]
    pub style: String,
    #[serde(default = "us_east_1")]
    pub region: String,
}

/// `aws_ec2_login`: the instance's signed identity document (`pkcs7`, the default, or
/// `identity` + `signature`) with a nonce.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsEc2Login {
    pub role: Option<String>,
    pub instance: Option<String>,
    #[serde(default = "pkcs7")]
    pub document: String,
    pub nonce: Option<String>,
    #[serde(default = "aws")]
    pub mount: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproleLogin {
    pub role_id: String,
    pub secret_id: Option<String>,
    #[serde(default = "approle")]
    pub mount: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordLogin {
    pub username: String,
    pub password: String,
    pub mount: Option<String>,
}

/// A token to act with: the last login's token when absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRef {
    pub token: Option<String>,
}

/// `sign_jwt`: iamcredentials `signJwt` for `service_account` called by `caller`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignJwt {
    #[serde(default = "default_sa")]
    pub service_account: String,
    pub caller: Option<String>,
    /// Claims; `exp`/`iat`/`nbf` may be relative (`"+10m"`, `"-1h"`). Default: `sub`, `aud`
    /// (`vault/app`), `iat` now, `exp` in 10 minutes.
    #[serde(default)]
    pub claims: toml::Table,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCallerIdentity {
    #[serde(default = "default_aws_identity")]
    pub identity: String,
    #[serde(default = "us_east_1")]
    pub region: String,
}

/// A Vault path (`secret/data/app/config`), with the token to use (root by default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultPath {
    pub path: String,
    pub token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultWrite {
    pub path: String,
    pub token: Option<String>,
    #[serde(default)]
    pub data: toml::Table,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Renew {
    pub token: Option<String>,
    pub increment: Option<String>,
}

/// A cloud identity: exactly one of the keys.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentityRef {
    /// An IAM user name (`alice`), optionally `account/name`.
    pub aws_user: Option<String>,
    /// An IAM role name (`app-role`), optionally `account/name`.
    pub aws_role: Option<String>,
    /// A service account id (`app`) or email.
    pub gcp_service_account: Option<String>,
}

/// Changes made to the login material before it is sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutate {
    // --- JWT (gcp_login, sign_jwt) ---
    /// Claims to set (`exp`/`iat`/`nbf` may be relative: `"+20m"`, `"-2m"`).
    #[serde(default)]
    pub claims: toml::Table,
    #[serde(default)]
    pub remove_claims: Vec<String>,
    /// JWT header fields to set after signing (`kid`, `alg`, `typ`).
    #[serde(default)]
    pub header: toml::Table,
    /// Sign with another key: `unpublished` (a key no certificate endpoint publishes), `google`
    /// (Google's OAuth2 key, which signs identity tokens) or a service account id (its
    /// Google-managed key).
    pub signing_key: Option<String>,
    /// `flip` (one bit of the signature), `truncate`, `remove`.
    pub signature: Option<String>,

    // --- AWS iam (aws_login, get_caller_identity) ---
    /// Headers removed after signing.
    #[serde(default)]
    pub drop_headers: Vec<String>,
    /// Header renamed after signing: `{ from = "...", to = "..." }`.
    pub rename_header: Option<Rename>,
    /// Headers set after signing (changed or added; not in `SignedHeaders`).
    #[serde(default)]
    pub set_headers: BTreeMap<String, String>,
    /// Headers left out of the signature but sent.
    #[serde(default)]
    pub unsign_headers: Vec<String>,
    /// The signed body instead of `Action=GetCallerIdentity&Version=2011-06-15`.
    pub body: Option<String>,
    /// Appended to the signed body (`&Extra=1`).
    pub append_body: Option<String>,
    /// The request URL instead of the STS endpoint (query on POST, another host).
    pub url: Option<String>,
    /// Signing time relative to the clock (`"-16m"`, `"+2m"`).
    #[serde(default, deserialize_with = "de_opt_offset")]
    pub signed_at: Option<i64>,
    /// Region in the credential scope.
    pub region: Option<String>,
    /// Service in the credential scope (`sts` by default).
    pub service: Option<String>,
    /// Sign with this secret key instead of the identity's.
    pub secret_key: Option<String>,
    /// `missing` (sign without the identity's session token) or `expired` (a session token that
    /// has expired).
    pub session_token: Option<String>,

    // --- AWS ec2 ---
    /// `tamper`: flip a byte of the pkcs7/signature.
    pub document: Option<String>,
}

impl Mutate {
    /// The keys this mutation sets.
    fn keys(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        let mut set = |name: &'static str, is_set: bool| {
            if is_set {
                k.push(name);
            }
        };
        set("claims", !self.claims.is_empty());
        set("remove_claims", !self.remove_claims.is_empty());
        set("header", !self.header.is_empty());
        set("signing_key", self.signing_key.is_some());
        set("signature", self.signature.is_some());
        set("drop_headers", !self.drop_headers.is_empty());
        set("rename_header", self.rename_header.is_some());
        set("set_headers", !self.set_headers.is_empty());
        set("unsign_headers", !self.unsign_headers.is_empty());
        set("body", self.body.is_some());
        set("append_body", self.append_body.is_some());
        set("url", self.url.is_some());
        set("signed_at", self.signed_at.is_some());
        set("region", self.region.is_some());
        set("service", self.service.is_some());
        set("secret_key", self.secret_key.is_some());
        set("session_token", self.session_token.is_some());
        set("document", self.document.is_some());
        k
    }
}

/// The `mutate` keys each action uses; a key another action uses would be ignored, and a step
/// that passes without the change it names tests nothing.
fn mutate_keys_of(action: &str) -> &'static [&'static str] {
    const AWS_IAM: &[&str] = &[
        "drop_headers",
        "rename_header",
        "set_headers",
        "unsign_headers",
        "body",
        "append_body",
        "url",
        "signed_at",
        "region",
        "service",
        "secret_key",
        "session_token",
    ];
    match action {
        "gcp_login" => &[
            "claims",
            "remove_claims",
            "header",
            "signing_key",
            "signature",
        ],
        "gce_login" => &["header", "signature"],
        "sign_jwt" => &["claims", "remove_claims"],
        "aws_login" | "get_caller_identity" => AWS_IAM,
        "aws_ec2_login" => &["document"],
        _ => &[],
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

/// What a step's answer must be.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: Option<u16>,
    /// One of the answer's errors is exactly this.
    pub error: Option<String>,
    /// One of the answer's errors contains this.
    pub error_contains: Option<String>,
    /// The token's policies, in any order.
    pub policies: Option<Vec<String>>,
    /// `auth.metadata` entries.
    pub metadata: Option<BTreeMap<String, String>>,
    /// `auth.lease_duration` as a duration (`"768h"`) or seconds.
    pub token_ttl: Option<toml::Value>,
    /// JSON pointer → value.
    #[serde(default)]
    pub json: BTreeMap<String, toml::Value>,
}

impl Expect {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.error.is_none()
            && self.error_contains.is_none()
            && self.policies.is_none()
            && self.metadata.is_none()
            && self.token_ttl.is_none()
            && self.json.is_empty()
    }
}

/// What a cloud mock must have received during the step: `aws_sts`, `aws_iam`, `aws_ec2`,
/// `google_iamcredentials`, `google_iam`, `google_certs`, `google_oauth2`, `google_compute`,
/// `google_crm`, `google`, `aws`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamExpect {
    pub calls: Option<u64>,
    /// Headers every matching call carried, with these values.
    #[serde(default)]
    pub header: BTreeMap<String, String>,
    /// Status every matching call was answered with.
    pub status: Option<u16>,
    /// Every matching call took at least this long in the mock, injected latency included
    /// (`"50ms"`): a lower bound, so it holds however slow the machine is.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub min_duration: Option<Duration>,
}

pub const UPSTREAMS: &[&str] = &[
    "aws",
    "aws_sts",
    "aws_iam",
    "aws_ec2",
    "google",
    "google_iamcredentials",
    "google_iam",
    "google_certs",
    "google_oauth2",
    "google_compute",
    "google_crm",
];

// ---------- the file's TOML shape ----------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    name: Option<Spanned<String>>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    targets: Vec<Spanned<String>>,
    world: Option<toml::Table>,
    #[serde(default)]
    step: Vec<Spanned<StepToml>>,
    #[serde(default)]
    scenario: Vec<Spanned<ScenarioToml>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioToml {
    name: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    targets: Vec<Spanned<String>>,
    world: Option<toml::Table>,
    #[serde(default)]
    step: Vec<Spanned<StepToml>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepToml {
    name: Option<String>,
    gcp_login: Option<GcpLogin>,
    gce_login: Option<GceLogin>,
    aws_login: Option<AwsLogin>,
    aws_ec2_login: Option<AwsEc2Login>,
    approle_login: Option<ApproleLogin>,
    userpass_login: Option<PasswordLogin>,
    ldap_login: Option<PasswordLogin>,
    token_lookup: Option<TokenRef>,
    sign_jwt: Option<SignJwt>,
    get_caller_identity: Option<GetCallerIdentity>,
    vault_read: Option<PathOrTable>,
    vault_list: Option<PathOrTable>,
    vault_delete: Option<PathOrTable>,
    vault_write: Option<VaultWrite>,
    renew: Option<Renew>,
    revoke: Option<TokenRef>,
    advance_clock: Option<Spanned<String>>,
    fault: Option<toml::Table>,
    clear_faults: Option<bool>,
    delete_identity: Option<Spanned<IdentityRef>>,
    recreate_identity: Option<Spanned<IdentityRef>>,
    disable_identity: Option<Spanned<IdentityRef>>,
    rotate_key: Option<Spanned<IdentityRef>>,
    #[serde(default)]
    mutate: Option<Spanned<Mutate>>,
    #[serde(default)]
    expect: Option<Spanned<Expect>>,
    #[serde(default)]
    upstream: BTreeMap<Spanned<String>, UpstreamExpect>,
    #[serde(default)]
    capture: BTreeMap<String, Spanned<String>>,
}

/// `vault_read = "secret/data/x"` or `vault_read = { path = "…", token = "…" }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PathOrTable {
    Path(String),
    Table(VaultPath),
}

impl From<PathOrTable> for VaultPath {
    fn from(p: PathOrTable) -> Self {
        match p {
            PathOrTable::Path(path) => VaultPath { path, token: None },
            PathOrTable::Table(t) => t,
        }
    }
}

fn default_sa() -> String {
    "app".into()
}
fn default_aws_identity() -> String {
    "alice".into()
}
fn gcp() -> String {
    "gcp".into()
}
fn aws() -> String {
    "aws".into()
}
fn approle() -> String {
    "approle".into()
}
fn post() -> String {
    "POST".into()
}
fn hvac() -> String {
    "hvac".into()
}
fn pkcs7() -> String {
    "pkcs7".into()
}
fn us_east_1() -> String {
    "us-east-1".into()
}

fn de_opt_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| {
        parse_duration(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("'{s}' is not a duration such as '90s' or '15m'"))
        })
    })
    .transpose()
}

fn de_opt_offset<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| parse_offset(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// `"-16m"`, `"+2m"`, `"90s"` → signed seconds.
pub fn parse_offset(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'-') => (-1, &t[1..]),
        Some(b'+') => (1, &t[1..]),
        _ => (1, t),
    };
    let d = parse_duration(rest)
        .ok_or_else(|| format!("'{s}' is not a time offset such as '-16m' or '+90s'"))?;
    Ok(sign * d.as_secs() as i64)
}

/// Reads and parses one file; `id_base` is the id of its (first) scenario.
pub fn parse(file: &str, id_base: &str, text: &str) -> Result<Vec<Scenario>, ScenarioError> {
    let err = |span: Option<Range<usize>>, msg: String| ScenarioError::at(file, text, span, msg);
    let parsed: FileToml =
        toml::from_str(text).map_err(|e| err(e.span(), e.message().trim_end().to_owned()))?;
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let mut out = Vec::new();
    let single = parsed.name.is_some() || !parsed.step.is_empty();
    if single && !parsed.scenario.is_empty() {
        return Err(err(
            parsed.scenario[0].span().into(),
            "a file holds either one scenario (top-level `name` and `[[step]]`) or several \
             (`[[scenario]]`), not both"
                .into(),
        ));
    }
    let mut raw = Vec::new();
    if single {
        let Some(name) = parsed.name else {
            return Err(err(None, "a scenario needs a `name`".into()));
        };
        raw.push((
            ScenarioToml {
                name,
                description: parsed.description,
                tags: parsed.tags,
                targets: parsed.targets,
                world: parsed.world,
                step: parsed.step,
            },
            0..0,
        ));
    } else {
        if parsed.scenario.is_empty() {
            return Err(err(
                None,
                "no scenario here: give a `name` and `[[step]]` tables, or `[[scenario]]` tables"
                    .into(),
            ));
        }
        for s in parsed.scenario {
            let span = s.span();
            raw.push((s.into_inner(), span));
        }
    }
    let many = raw.len() > 1;
    for (i, (s, span)) in raw.into_iter().enumerate() {
        if s.step.is_empty() {
            return Err(err(
                Some(s.name.span()),
                format!("scenario `{}` has no `[[step]]`", s.name.get_ref()),
            ));
        }
        let _ = span;
        for t in &s.targets {
            if !["embedded", "vault"].contains(&t.get_ref().as_str()) {
                return Err(err(
                    Some(t.span()),
                    format!(
                        "unknown target `{}`: `embedded` (the in-process mock Vault) or `vault` (--vault-addr)",
                        t.get_ref()
                    ),
                ));
            }
        }
        let mut steps = Vec::new();
        for st in s.step {
            let span = st.span();
            steps.push(step(st.into_inner(), line_of(span.start), &|sp, m| {
                err(Some(sp.unwrap_or(span.clone())), m)
            })?);
        }
        out.push(Scenario {
            id: if many {
                format!("{id_base}#{}", i + 1)
            } else {
                id_base.to_owned()
            },
            file: file.to_owned(),
            name: s.name.into_inner(),
            description: s.description,
            tags: s.tags,
            targets: s.targets.into_iter().map(Spanned::into_inner).collect(),
            world: s.world,
            steps,
        });
    }
    Ok(out)
}

type ErrAt<'a> = &'a dyn Fn(Option<Range<usize>>, String) -> ScenarioError;

fn step(t: StepToml, line: usize, err: ErrAt<'_>) -> Result<Step, ScenarioError> {
    let mut actions = Vec::new();
    macro_rules! take {
        ($field:ident, $make:expr) => {
            if let Some(v) = t.$field {
                #[allow(clippy::redundant_closure_call)]
                actions.push((stringify!($field), ($make)(v)?));
            }
        };
    }
    let identity = |v: Spanned<IdentityRef>| -> Result<IdentityRef, ScenarioError> {
        let n = [
            v.get_ref().aws_user.is_some(),
            v.get_ref().aws_role.is_some(),
            v.get_ref().gcp_service_account.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if n != 1 {
            return Err(err(
                Some(v.span()),
                "name exactly one of `aws_user`, `aws_role`, `gcp_service_account`".into(),
            ));
        }
        Ok(v.into_inner())
    };
    let ok = |a: Action| -> Result<Action, ScenarioError> { Ok(a) };
    take!(gcp_login, |v| ok(Action::GcpLogin(v)));
    take!(gce_login, |v| ok(Action::GceLogin(v)));
    take!(aws_login, |v: AwsLogin| {
        if !["POST", "GET"].contains(&v.method.as_str()) {
            return Err(err(
                None,
                format!("aws_login method `{}`: `POST` or `GET`", v.method),
            ));
        }
        if !["hvac", "cli"].contains(&v.style.as_str()) {
            return Err(err(
                None,
                format!(
                    "aws_login style `{}`: `hvac` (as hvac signs) or `cli` (as the Vault CLI signs)",
                    v.style
                ),
            ));
        }
        ok(Action::AwsLogin(v))
    });
    take!(aws_ec2_login, |v: AwsEc2Login| {
        if !["pkcs7", "identity"].contains(&v.document.as_str()) {
            return Err(err(
                None,
                format!(
                    "aws_ec2_login document `{}`: `pkcs7` or `identity` (identity + signature)",
                    v.document
                ),
            ));
        }
        ok(Action::AwsEc2Login(v))
    });
    take!(approle_login, |v| ok(Action::ApproleLogin(v)));
    take!(userpass_login, |v| ok(Action::UserpassLogin(v)));
    take!(ldap_login, |v| ok(Action::LdapLogin(v)));
    take!(token_lookup, |v| ok(Action::TokenLookup(v)));
    take!(sign_jwt, |v| ok(Action::SignJwt(v)));
    take!(get_caller_identity, |v| ok(Action::GetCallerIdentity(v)));
    take!(vault_read, |v: PathOrTable| ok(Action::VaultRead(v.into())));
    take!(vault_list, |v: PathOrTable| ok(Action::VaultList(v.into())));
    take!(vault_delete, |v: PathOrTable| ok(Action::VaultDelete(
        v.into()
    )));
    take!(vault_write, |v| ok(Action::VaultWrite(v)));
    take!(renew, |v| ok(Action::Renew(v)));
    take!(revoke, |v| ok(Action::Revoke(v)));
    take!(advance_clock, |v: Spanned<String>| {
        parse_duration(v.get_ref())
            .map(Action::AdvanceClock)
            .ok_or_else(|| {
                err(
                    Some(v.span()),
                    format!("'{}' is not a duration such as '90s' or '16m'", v.get_ref()),
                )
            })
    });
    take!(fault, |v: toml::Table| ok(Action::Fault(
        crate::provision::toml_to_json(&toml::Value::Table(v))
    )));
    take!(clear_faults, |_| ok(Action::ClearFaults));
    take!(delete_identity, |v| identity(v).map(Action::DeleteIdentity));
    take!(recreate_identity, |v| identity(v)
        .map(Action::RecreateIdentity));
    take!(disable_identity, |v| identity(v)
        .map(Action::DisableIdentity));
    take!(rotate_key, |v: Spanned<IdentityRef>| {
        let span = v.span();
        let id = identity(v)?;
        if id.gcp_service_account.is_none() {
            return Err(err(
                Some(span),
                "rotate_key takes `gcp_service_account` (a new Google-managed key)".into(),
            ));
        }
        Ok(Action::RotateKey(id))
    });
    let action = match actions.len() {
        1 => actions.pop().map(|(_, a)| a).unwrap_or_default(),
        0 => {
            return Err(err(
                None,
                format!("a step needs an action: one of {}", ACTIONS.join(", ")),
            ))
        }
        _ => {
            let names: Vec<_> = actions.iter().map(|(n, _)| format!("`{n}`")).collect();
            return Err(err(
                None,
                format!(
                    "a step has exactly one action, this one has {}: split it into steps",
                    names.join(" and ")
                ),
            ));
        }
    };
    let mutate = match t.mutate {
        Some(m) => {
            let span = m.span();
            let m = m.into_inner();
            let allowed = mutate_keys_of(action.kind());
            if let Some(k) = m.keys().into_iter().find(|k| !allowed.contains(k)) {
                return Err(err(
                    Some(span),
                    if allowed.is_empty() {
                        format!("mutate.{k}: `{}` has nothing to mutate", action.kind())
                    } else {
                        format!(
                            "mutate.{k} does not apply to `{}`; it takes {}",
                            action.kind(),
                            allowed.join(", ")
                        )
                    },
                ));
            }
            m
        }
        None => Mutate::default(),
    };
    let mut upstream = BTreeMap::new();
    for (k, v) in t.upstream {
        if !UPSTREAMS.contains(&k.get_ref().as_str()) {
            return Err(err(
                Some(k.span()),
                format!(
                    "unknown upstream `{}`; one of {}",
                    k.get_ref(),
                    UPSTREAMS.join(", ")
                ),
            ));
        }
        upstream.insert(k.into_inner(), v);
    }
    let mut capture = BTreeMap::new();
    for (k, v) in t.capture {
        if !(v.get_ref().is_empty() || v.get_ref().starts_with('/')) {
            return Err(err(
                Some(v.span()),
                format!(
                    "capture `{k}`: '{}' is not a JSON pointer such as '/auth/client_token'",
                    v.get_ref()
                ),
            ));
        }
        capture.insert(k, v.into_inner());
    }
    let expect = match t.expect {
        Some(e) => {
            let span = e.span();
            let e = e.into_inner();
            for p in e.json.keys() {
                if !(p.is_empty() || p.starts_with('/')) {
                    return Err(err(
                        Some(span.clone()),
                        format!("expect.json key '{p}' is not a JSON pointer such as '/data/data/username'"),
                    ));
                }
            }
            if let Some(v) = &e.token_ttl {
                if ttl_seconds(v).is_none() {
                    return Err(err(
                        Some(span),
                        format!("expect.token_ttl {v} is not seconds or a duration such as '768h'"),
                    ));
                }
            }
            e
        }
        None => Expect::default(),
    };
    Ok(Step {
        name: t.name,
        line,
        action,
        mutate,
        expect,
        upstream,
        capture,
    })
}

/// `token_ttl = 3600` or `token_ttl = "1h"` → seconds.
pub fn ttl_seconds(v: &toml::Value) -> Option<u64> {
    match v {
        toml::Value::Integer(i) => u64::try_from(*i).ok(),
        toml::Value::String(s) => parse_duration(s).map(|d| d.as_secs()),
        _ => None,
    }
}

/// The catalogue built into the binary: the repository's `scenarios/` when it was built, so
/// that `authsim run` with no path runs it from any directory.
pub mod catalogue {
    include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));
}

/// The scenario files under `paths` (files as given, directories walked for `*.toml` except
/// `world.toml` files), sorted, each with the id base of its scenarios: the path relative to the
/// catalogue root (the nearest directory holding a `world.toml`, so `scenarios/aws/x.toml` is
/// `aws/x` however it was named), without `.toml`.
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    // Outside a catalogue, a file under the current directory is named by its path from there,
    // however it was reached (`run my/` and `run my/x.toml` both give `my/x`): `compare`
    // matches scenarios by id.
    let cwd = std::env::current_dir().and_then(std::fs::canonicalize).ok();
    let id = |f: &Path, fallback: &Path| {
        let abs = std::fs::canonicalize(f).unwrap_or_else(|_| f.to_path_buf());
        let root = abs
            .ancestors()
            .skip(1)
            .find(|d| d.join("world.toml").is_file());
        let rel = match (root, cwd.as_deref().and_then(|c| abs.strip_prefix(c).ok())) {
            (Some(r), _) => abs.strip_prefix(r).unwrap_or(&abs).to_path_buf(),
            (None, Some(under_cwd)) => under_cwd.to_path_buf(),
            (None, None) => f.strip_prefix(fallback).unwrap_or(f).to_path_buf(),
        };
        slash(&rel.with_extension(""))
    };
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            found.sort();
            for f in found {
                let i = id(&f, p);
                out.push((f, i));
            }
        } else if p.exists() {
            out.push((p.clone(), id(p, Path::new(""))));
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no such scenario file or directory: {}", p.display()),
            ));
        }
    }
    Ok(out)
}

fn slash(p: &Path) -> String {
    p.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "toml")
            && path.file_name().is_some_and(|n| n != "world.toml")
        {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Scenario, String> {
        parse("t.toml", "t", text)
            .map(|mut v| v.remove(0))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_design_sketch_parses() {
        let s = one(r#"
name = "aws iam: a server-ID header that is not signed is refused"
tags = ["aws", "iam", "server-id"]

[[step]]
aws_login = { role = "app", identity = "alice", server_id = "vault.example.com" }
mutate    = { unsign_headers = ["X-Vault-AWS-IAM-Server-ID"] }
expect    = { status = 400, error = "error validating X-Vault-AWS-IAM-Server-ID header: vault header wasn't signed" }

[[step]]
aws_login = { role = "app", identity = "alice", server_id = "vault.example.com" }
expect    = { status = 200, policies = ["app", "default"], metadata = { auth_type = "iam" } }
upstream  = { aws_sts = { calls = 1, header = { "X-Vault-AWS-IAM-Server-ID" = "vault.example.com" } } }

[[step]]
advance_clock = "16m"
"#)
        .unwrap();
        assert_eq!(s.steps.len(), 3);
        assert_eq!(s.steps[0].line, 5);
        assert!(matches!(s.steps[1].action, Action::AwsLogin(_)));
        assert_eq!(s.steps[1].upstream["aws_sts"].calls, Some(1));
        assert!(matches!(s.steps[2].action, Action::AdvanceClock(d) if d.as_secs() == 960));
    }

    #[test]
    fn a_misspelt_key_gets_a_caret_and_a_suggestion() {
        let e = one(
            "name = \"x\"\n[[step]]\naws_login = { role = \"app\" }\nexpcet = { status = 200 }\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "unknown field `expcet`, expected one of `name`, `gcp_login`, `gce_login`, `aws_login`, \
             `aws_ec2_login`, `approle_login`, `userpass_login`, `ldap_login`, `token_lookup`, \
             `sign_jwt`, `get_caller_identity`, `vault_read`, `vault_list`, `vault_delete`, \
             `vault_write`, `renew`, `revoke`, `advance_clock`, `fault`, `clear_faults`, \
             `delete_identity`, `recreate_identity`, `disable_identity`, `rotate_key`, `mutate`, \
             `expect`, `upstream`, `capture`\n \
             --> t.toml:4:1\n  |\n4 | expcet = { status = 200 }\n  | ^ did you mean `expect`?"
        );
    }

    #[test]
    fn two_actions_in_one_step_are_refused_at_the_step() {
        let e = one("name = \"x\"\n\n[[step]]\nrenew = {}\nrevoke = {}\n").unwrap_err();
        assert_eq!(
            e,
            "a step has exactly one action, this one has `renew` and `revoke`: split it into steps\n \
             --> t.toml:3:1\n  |\n3 | [[step]]\n  | ^"
        );
    }

    #[test]
    fn bad_durations_and_pointers_point_at_their_value() {
        let e = one("name = \"x\"\n[[step]]\nadvance_clock = \"16 minutes\"\n").unwrap_err();
        assert!(
            e.starts_with(
                "'16 minutes' is not a duration such as '90s' or '16m'\n --> t.toml:3:17"
            ),
            "{e}"
        );
        let e = one(
            "name = \"x\"\n[[step]]\nvault_read = \"secret/data/x\"\ncapture = { a = \"data\" }\n",
        )
        .unwrap_err();
        assert!(e.contains("t.toml:4:17"), "{e}");
    }

    #[test]
    fn several_scenarios_per_file_get_numbered_ids() {
        let v = parse(
            "f.toml",
            "vault/f",
            "[[scenario]]\nname = \"a\"\n[[scenario.step]]\nclear_faults = true\n\
             [[scenario]]\nname = \"b\"\n[[scenario.step]]\nvault_read = \"sys/health\"\n",
        )
        .unwrap();
        assert_eq!(
            v.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["vault/f#1", "vault/f#2"]
        );
    }

    #[test]
    fn offsets_are_signed_seconds() {
        assert_eq!(parse_offset("-16m"), Ok(-960));
        assert_eq!(parse_offset("+1s"), Ok(1));
        assert_eq!(parse_offset("90s"), Ok(90));
        assert!(parse_offset("soon").is_err());
    }
}
