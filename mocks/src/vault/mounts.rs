//! The mount tables: secret engines (`secret/`, `sys/`, `cubbyhole/`, `identity/`) and auth
//! methods (`token/`, …) keyed by path, and the mount entry JSON of `sys/mounts` and `sys/auth`
//! (reference vault-core.md §2.3, §2.4).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::error::VaultError;
use super::kv::{Kv1, Kv2};
use super::{AuthMethod, Ctx, Reply, VaultStore, VERSION};

/// A mount's settings as `sys/mounts` and `sys/auth` show them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountInfo {
    /// With a trailing `/`; auth mounts without the `auth/` prefix.
    pub path: String,
    /// `kv`, `system`, `token`, `userpass`…
    pub kind: String,
    pub accessor: String,
    pub uuid: String,
    pub description: String,
    /// Seconds; 0 = system default (768h).
    pub default_lease_ttl: i64,
    pub max_lease_ttl: i64,
    pub local: bool,
    pub seal_wrap: bool,
    pub external_entropy_access: bool,
    pub options: Option<BTreeMap<String, String>>,
    pub listing_visibility: Option<String>,
    /// Auth mounts only (`default-service`).
    pub token_type: Option<String>,
    pub is_auth: bool,
}

impl MountInfo {
    /// The mount's effective default lease TTL.
    pub fn default_ttl(&self) -> i64 {
        if self.default_lease_ttl > 0 {
            self.default_lease_ttl
        } else {
            super::SYSTEM_MAX_TTL
        }
    }

    /// The mount's effective max lease TTL.
    pub fn max_ttl(&self) -> i64 {
        if self.max_lease_ttl > 0 {
            self.max_lease_ttl
        } else {
            super::SYSTEM_MAX_TTL
        }
    }

    /// The entry of `sys/mounts` / `sys/auth` (`mountInfo`).
    pub fn to_json(&self) -> Value {
        let mut config = json!({
            "default_lease_ttl": self.default_lease_ttl,
            "force_no_cache": false,
            "max_lease_ttl": self.max_lease_ttl,
        });
        if let Some(t) = &self.token_type {
            config["token_type"] = json!(t);
        }
        if let Some(v) = &self.listing_visibility {
            config["listing_visibility"] = json!(v);
        }
        let builtin_version = if self.kind == "kv" {
            // The KV plugin carries its own version (bundled v0.15.0 in 1.14).
            "v0.15.0+builtin".to_owned()
        } else {
            format!("v{VERSION}+builtin.vault")
        };
        let mut m = json!({
            "accessor": self.accessor,
            "config": config,
            "description": self.description,
            "external_entropy_access": self.external_entropy_access,
            "local": self.local,
            "options": self.options,
            "plugin_version": "",
            "running_plugin_version": builtin_version,
            "running_sha256": "",
            "seal_wrap": self.seal_wrap,
            "type": self.kind,
            "uuid": self.uuid,
        });
        if !matches!(
            self.kind.as_str(),
            "system" | "identity" | "cubbyhole" | "token"
        ) {
            m["deprecation_status"] = json!("supported");
        }
        m
    }
}

/// What serves a secret mount.
#[derive(Debug)]
pub enum SecretBackend {
    System,
    Identity,
    /// Per-token storage keyed by the token's accessor.
    Cubbyhole(BTreeMap<String, Kv1>),
    Kv1(Kv1),
    Kv2(Kv2),
}

#[derive(Debug)]
pub struct SecretMount {
    /// Shared with the requests in flight on the mount (each takes a reference, not a copy).
    pub info: Arc<MountInfo>,
    pub backend: SecretBackend,
}

impl SecretMount {
    /// The existence check of update requests.
    pub fn exists(&self, rel: &str, _token: Option<&str>) -> Option<bool> {
        match &self.backend {
            SecretBackend::Kv1(kv) => Some(kv.exists(rel)),
            SecretBackend::Kv2(kv) => kv.exists(rel),
            _ => None,
        }
    }

    pub fn handle(&mut self, cx: &Ctx<'_>, rel: &str) -> Result<Reply, VaultError> {
        match &mut self.backend {
            SecretBackend::Kv1(kv) => kv.handle(cx, rel, Some(self.info.default_ttl())),
            SecretBackend::Kv2(kv) => kv.handle(cx, rel),
            SecretBackend::Cubbyhole(boxes) => {
                let Some(caller) = cx.caller else {
                    return Err(VaultError::permission_denied());
                };
                let kv = boxes.entry(caller.token.accessor.to_string()).or_default();
                kv.handle(cx, rel, None)
            }
            SecretBackend::Identity | SecretBackend::System => Err(VaultError::unsupported_path()),
        }
    }
}

/// What serves an auth mount.
#[derive(Debug)]
pub enum AuthBackend {
    Token,
    Method(Box<dyn AuthMethod>),
}

#[derive(Debug)]
pub struct AuthMount {
    /// Shared with the requests in flight on the mount.
    pub info: Arc<MountInfo>,
    pub backend: AuthBackend,
}

impl AuthMount {
    pub fn is_login_path(&self, rel: &str) -> bool {
        match &self.backend {
            AuthBackend::Token => false,
            AuthBackend::Method(m) => m.is_login_path(rel),
        }
    }

    pub fn exists(&self, rel: &str) -> Option<bool> {
        match &self.backend {
            AuthBackend::Token => None,
            AuthBackend::Method(m) => m.exists(rel),
        }
    }

    pub fn existence_checked(&self, rel: &str) -> bool {
        match &self.backend {
            AuthBackend::Token => rel.starts_with("roles/"),
            AuthBackend::Method(m) => m.existence_checked(rel),
        }
    }
}

fn info(
    store: &mut VaultStore,
    path: &str,
    kind: &str,
    description: &str,
    auth: bool,
) -> MountInfo {
    let prefix = if auth {
        format!("auth_{kind}")
    } else {
        kind.to_owned()
    };
    let accessor = format!("{prefix}_{}", store.core.hex8());
    MountInfo {
        path: path.to_owned(),
        kind: kind.to_owned(),
        accessor,
        uuid: store.core.uuid(),
        description: description.to_owned(),
        token_type: auth.then(|| "default-service".to_owned()),
        is_auth: auth,
        ..MountInfo::default()
    }
}

/// The dev server's mounts: `cubbyhole/`, `identity/`, `secret/` (KV v2), `sys/`, `token/`.
pub fn mount_defaults(store: &mut VaultStore) {
    let mounts: [(&str, &str, &str); 4] = [
        (
            "cubbyhole/",
            "cubbyhole",
            "per-token private secret storage",
        ),
        ("identity/", "identity", "identity store"),
        ("secret/", "kv", "key/value secret storage"),
        (
            "sys/",
            "system",
            "system endpoints used for control, policy and debugging",
        ),
    ];
    for (path, kind, desc) in mounts {
        let mut i = info(store, path, kind, desc, false);
        let backend = match kind {
            "cubbyhole" => SecretBackend::Cubbyhole(BTreeMap::new()),
            "identity" => SecretBackend::Identity,
            "system" => SecretBackend::System,
            _ => {
                i.options = Some(BTreeMap::from([("version".to_owned(), "2".to_owned())]));
                SecretBackend::Kv2(Kv2::default())
            }
        };
        store.mounts.insert(
            path.to_owned(),
            SecretMount {
                info: Arc::new(i),
                backend,
            },
        );
    }
    let i = info(store, "token/", "token", "token based credentials", true);
    store.auth.insert(
        "token/".into(),
        AuthMount {
            info: Arc::new(i),
            backend: AuthBackend::Token,
        },
    );
}

/// Normalises a mount path: no leading `/`, one trailing `/`.
pub fn normalise(path: &str) -> String {
    let p = path.trim_matches('/');
    format!("{p}/")
}

/// A mount to enable (`sys/mounts/:path`, `sys/auth/:path`).
#[derive(Debug, Clone, Default)]
pub struct NewMount {
    pub path: String,
    pub kind: String,
    pub description: String,
    pub options: Option<BTreeMap<String, String>>,
    pub default_lease_ttl: i64,
    pub max_lease_ttl: i64,
    pub local: bool,
    pub seal_wrap: bool,
}

/// `sys/mounts/:path` enable (§2.4). Errors are Vault's texts.
pub fn enable_secret(store: &mut VaultStore, m: NewMount) -> Result<(), VaultError> {
    let NewMount {
        path,
        kind,
        description,
        options,
        default_lease_ttl,
        max_lease_ttl,
        local,
        seal_wrap,
    } = m;
    let (path, kind) = (path.as_str(), kind.as_str());
    let path = normalise(path);
    // Core's `mount`: protected paths, then singleton types, then any overlap (all coded errors
    // that the sys handler answers as 400 with their text).
    if ["audit/", "auth/", "sys/", "cubbyhole/", "identity/"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        return Err(VaultError::bad(format!(
            "cannot mount {}",
            super::go_fmt::go_quote(&path)
        )));
    }
    if matches!(kind, "cubbyhole" | "system" | "token" | "identity") {
        return Err(VaultError::bad(format!(
            "mount type of {} is not mountable",
            super::go_fmt::go_quote(kind)
        )));
    }
    if let Some(existing) = store
        .mounts
        .keys()
        .find(|k| path.starts_with(k.as_str()) || k.starts_with(&path))
    {
        return Err(VaultError::bad(format!(
            "path is already in use at {existing}"
        )));
    }
    let (kind, version) = match kind {
        "kv-v2" => ("kv", Some("2".to_owned())),
        "kv-v1" => ("kv", Some("1".to_owned())),
        // Plain `kv` keeps its options as given: no `version` is a version 1 mount.
        "kv" | "generic" => ("kv", None),
        other => {
            if options.as_ref().is_some_and(|o| o.contains_key("version")) {
                return Err(VaultError::bad(format!(
                    "secrets engine \"{other}\" does not allow setting a version"
                )));
            }
            return Err(VaultError::bad(format!(
                "plugin not found in the catalog: {other}"
            )));
        }
    };
    let mut i = info(store, &path, kind, &description, false);
    i.default_lease_ttl = default_lease_ttl;
    i.max_lease_ttl = max_lease_ttl;
    i.local = local;
    i.seal_wrap = seal_wrap;
    let mut opts = options.unwrap_or_default();
    if let Some(v) = version {
        opts.insert("version".into(), v);
    }
    let version = opts.get("version").cloned().unwrap_or_default();
    i.options = Some(opts);
    let backend = if version == "2" {
        SecretBackend::Kv2(Kv2::default())
    } else {
        SecretBackend::Kv1(Kv1::default())
    };
    store.mounts.insert(
        path,
        SecretMount {
            info: Arc::new(i),
            backend,
        },
    );
    Ok(())
}

/// `sys/auth/:path` enable (§2.3).
pub fn enable_auth(store: &mut VaultStore, m: NewMount) -> Result<(), VaultError> {
    let NewMount {
        path,
        kind,
        description,
        options,
        default_lease_ttl,
        max_lease_ttl,
        local,
        seal_wrap,
    } = m;
    let (path, kind) = (path.as_str(), kind.as_str());
    let path = normalise(path);
    // enableCredentialInternal: any overlap first, then the token singleton.
    if let Some(existing) = store
        .auth
        .keys()
        .find(|k| path.starts_with(k.as_str()) || k.starts_with(&path))
    {
        return Err(VaultError::bad(format!(
            "path is already in use at {existing}"
        )));
    }
    if kind == "token" {
        return Err(VaultError::bad(
            "token credential backend cannot be instantiated",
        ));
    }
    let Some(method) = store.core.setup.registry.make(kind) else {
        return Err(VaultError::bad(format!(
            "plugin not found in the catalog: {kind}"
        )));
    };
    let mut i = info(store, &path, kind, &description, true);
    i.default_lease_ttl = default_lease_ttl;
    i.max_lease_ttl = max_lease_ttl;
    i.local = local;
    i.seal_wrap = seal_wrap;
    i.options = options;
    store.auth.insert(
        path,
        AuthMount {
            info: Arc::new(i),
            backend: AuthBackend::Method(method),
        },
    );
    Ok(())
}
