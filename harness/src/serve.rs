//! `authsim serve`: start the mocks, write the endpoints and env files, print `ready`, run until
//! SIGINT/SIGTERM, shut down gracefully.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use authsim_mocks::clock::{Clock, ManualClock, SystemClock};
use authsim_mocks::vault::{StartMode, VaultOptions};
use authsim_mocks::{gcp, worldfile, MockCloud, MockCloudOptions, Sim, World};
use serde_json::json;

use crate::cli::{ServeArgs, WorldArg};
use crate::identities;
use crate::provision::{self, ProvisionError};

/// Errors of `serve` that are not plain context chains.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The world's `[vault]` section could not be applied to the mock Vault.
    #[error("provisioning the mock Vault: {0}")]
    Provision(ProvisionError),
}

/// Loads the world a command names, or the built-in one.
pub fn load_world(arg: &WorldArg, clock: &dyn Clock) -> Result<World> {
    match &arg.world {
        None => Ok(worldfile::default_world(clock.now())),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read world file '{}'", path.display()))?;
            let world = worldfile::parse(&path.display().to_string(), &text, clock.now())?;
            // The `[vault]` section too, before anything starts.
            crate::provision::check(&world)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Ok(world)
        }
    }
}

/// The running mocks plus what `serve` wrote, for tests and embedding.
#[derive(Debug)]
pub struct Served {
    pub cloud: MockCloud,
    pub endpoints: serde_json::Value,
}

/// `extra_runtimes` serve every listener too, beside the current runtime (`main` makes one per
/// `--threads`).
pub async fn start(args: &ServeArgs, extra_runtimes: &[tokio::runtime::Handle]) -> Result<Served> {
    let clock: Arc<dyn Clock> = match &args.manual_clock {
        None => Arc::new(SystemClock),
        Some(t) => {
            let start = worldfile::parse_time(t).with_context(|| {
                format!("--manual-clock '{t}' is not an RFC 3339 time such as 2024-01-01T00:00:00Z")
            })?;
            let start = authsim_mocks::clock::in_range(start)
                .map_err(|e| anyhow::anyhow!("--manual-clock '{t}': {e}"))?;
            Arc::new(ManualClock::new(start))
        }
    };
    let world = load_world(&args.world, &*clock)?;
    let sim = Sim::new(world, clock);
    let cloud = MockCloud::start(
        sim.clone(),
        MockCloudOptions {
            bind: args.bind,
            google_port: Some(args.google_port),
            aws_port: Some(args.aws_port),
            vault_port: (!args.no_vault).then_some(args.vault_port),
            vault: VaultOptions {
                start: if args.sealed {
                    StartMode::Sealed {
                        shares: SEALED_SHARES,
                        threshold: SEALED_THRESHOLD,
                    }
                } else {
                    StartMode::Dev
                },
                imprecise_lease_role_tracking: args.imprecise_lease_role_tracking,
                ..VaultOptions::compat(&args.vault_compat).unwrap_or_default()
            },
            admin_token: args.admin_token.clone(),
            extra_runtimes: extra_runtimes.to_vec(),
        },
    )
    .await?;
    let google = cloud.google_url().expect("google listener started");
    let aws = cloud.aws_url().expect("aws listener started");

    let key_path = match (&args.write_endpoints, &args.write_env) {
        // Named after the file it goes with, so that two serves writing into one directory
        // (`old.json`, `new.json`) keep their own keys: `old.gcp-key.json`.
        (Some(p), _) | (None, Some(p)) => {
            let stem = p
                .file_stem()
                .map_or("authsim".into(), |s| s.to_string_lossy().into_owned());
            Some(sibling(p, &format!("{stem}.gcp-key.json")))
        }
        _ => None,
    };
    let mut endpoints = endpoints_json(&sim.world(), &google, &aws, key_path.as_deref());
    if let (Some(addr), Some(vault)) = (cloud.vault_url(), &cloud.vault_state) {
        let token = vault.root_token();
        let mut v = json!({ "addr": addr, "token": token });
        if args.sealed {
            // A sealed Vault takes no writes: the world's [vault] section is not applied.
            v["unseal_keys"] = json!(vault.unseal_keys());
            v["unseal_threshold"] = json!(vault.unseal_threshold());
        } else {
            let (spec, mut ep) = {
                let world = sim.world();
                let spec = provision::VaultSpec::parse(&world.vault.raw_toml)
                    .map_err(|e| ServeError::Provision(e.into()))?;
                let ep = provision::Endpoints::resolve(&spec, &world, &google, &aws)
                    .map_err(|e| ServeError::Provision(e.into()))?;
                (spec, ep)
            };
            if args.admin_token.is_some() {
                ep.admin_token.clone_from(&args.admin_token);
            }
            // Loopback only: never through a proxy from the environment.
            let http = reqwest::Client::builder()
                .no_proxy()
                .build()
                .context("cannot build the HTTP client")?;
            let started = std::time::Instant::now();
            let applied = provision::apply(&http, &addr, &token, &spec, &ep)
                .await
                .map_err(ServeError::Provision)?;
            tracing::debug!(
                writes = applied.writes,
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                "provisioned the mock Vault"
            );
            for w in &applied.warnings {
                tracing::info!("vault warning: {w}");
            }
            for s in &applied.skipped {
                eprintln!("vault: skipped {s}");
            }
            if let Some(obj) = v.as_object_mut() {
                obj.extend(spec.quick_start());
            }
            // `POST /__authsim/reset` puts the mock Vault back to its empty start; provision it
            // again, through the same HTTP API, before the reset is answered.
            let (addr, token) = (addr.clone(), token.clone());
            sim.after_reset(Arc::new(move || {
                let (http, addr, token, spec, ep) = (
                    http.clone(),
                    addr.clone(),
                    token.clone(),
                    spec.clone(),
                    ep.clone(),
                );
                Box::pin(async move {
                    if let Err(e) = provision::apply(&http, &addr, &token, &spec, &ep).await {
                        eprintln!("error: re-provisioning the mock Vault after a reset: {e}");
                    }
                })
            }));
        }
        endpoints["vault"] = v;
    }
    if let Some(path) = &key_path {
        if let Some((_, Some(caller))) = identities::gcp_default(&sim.world()) {
            let key = &caller.user_keys[0].key;
            let file = gcp::key_file(caller, key, &google);
            write_secret(path, &serde_json::to_string_pretty(&file)?)?;
        }
    }
    if let Some(path) = &args.write_endpoints {
        write_secret(path, &serde_json::to_string_pretty(&endpoints)?)?;
    }
    if let Some(path) = &args.write_env {
        write_secret(path, &dotenv(&endpoints))?;
    }
    // Key generation is slow; do it now, off the request path, so first logins are fast.
    let keys = sim.world().gcp.all_keys();
    let identity_key = sim.world().aws.identity_key.clone();
    tokio::task::spawn_blocking(move || {
        for k in keys.iter().chain([&identity_key]) {
            k.material();
        }
    });
    Ok(Served { cloud, endpoints })
}

pub async fn run(args: ServeArgs, extra_runtimes: &[tokio::runtime::Handle]) -> Result<()> {
    let served = start(&args, extra_runtimes).await?;
    let mut out = std::io::stdout().lock();
    if let Some(g) = served.cloud.google_url() {
        writeln!(out, "google  {g}")?;
    }
    if let Some(a) = served.cloud.aws_url() {
        writeln!(out, "aws     {a}")?;
    }
    if let (Some(v), Some(state)) = (served.cloud.vault_url(), &served.cloud.vault_state) {
        if args.sealed {
            writeln!(
                out,
                "vault   {v} (sealed: {} of these unseal keys unseal it)",
                state.unseal_threshold()
            )?;
            for key in state.unseal_keys() {
                writeln!(out, "unseal  {key}")?;
            }
        } else {
            writeln!(out, "vault   {v}")?;
        }
    }
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    shutdown_signal().await;
    eprintln!("shutting down");
    served.cloud.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn sibling(path: &Path, name: &str) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| p.join(name))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Writes a file readable only by its owner: these files carry credentials.
fn write_secret(path: &Path, contents: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write '{}'", path.display()))?;
    f.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write '{}'", path.display()))
}

/// `--sealed`: Vault's default `operator init` shares and threshold.
const SEALED_SHARES: u8 = 5;
const SEALED_THRESHOLD: u8 = 3;

/// The endpoints file (DESIGN.md "Command line"): listener URLs and the default identities.
pub fn endpoints_json(
    world: &World,
    google: &str,
    aws: &str,
    key_file: Option<&Path>,
) -> serde_json::Value {
    let host = google.trim_start_matches("http://");
    let mut aws_json = json!({ "endpoint": aws, "region": "us-east-1" });
    if let Some((key, arn)) = identities::aws_default(world) {
        aws_json["access_key_id"] = json!(key.id);
        aws_json["secret_access_key"] = json!(key.secret);
        aws_json["arn"] = json!(arn);
    }
    aws_json["metadata_endpoint"] = json!(aws);
    let mut google_json = json!({ "endpoint": google, "metadata_host": host });
    if let Some((target, caller)) = identities::gcp_default(world) {
        google_json["project"] = json!(target.project);
        google_json["service_account"] = json!(target.email);
        if let Some(c) = caller {
            google_json["caller"] = json!(c.email);
            if let Some(p) = key_file {
                google_json["caller_credentials_file"] = json!(absolute(p));
            }
        }
    }
    json!({ "aws": aws_json, "google": google_json })
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// The dotenv file: what AWS SDKs, Google client libraries and Vault clients read.
pub fn dotenv(endpoints: &serde_json::Value) -> String {
    let s = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let mut lines = vec!["# written by authsim serve".to_owned()];
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            lines.push(format!("{k}={v}"));
        }
    };
    let aws = &endpoints["aws"];
    let google = &endpoints["google"];
    put("VAULT_ADDR", s(&endpoints["vault"]["addr"]));
    put("VAULT_TOKEN", s(&endpoints["vault"]["token"]));
    put("AWS_ENDPOINT_URL_STS", s(&aws["endpoint"]));
    put("AWS_ENDPOINT_URL_IAM", s(&aws["endpoint"]));
    put("AWS_ENDPOINT_URL_EC2", s(&aws["endpoint"]));
    put(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        s(&aws["metadata_endpoint"]),
    );
    put("AWS_ACCESS_KEY_ID", s(&aws["access_key_id"]));
    put("AWS_SECRET_ACCESS_KEY", s(&aws["secret_access_key"]));
    put("AWS_REGION", s(&aws["region"]));
    put("AWS_DEFAULT_REGION", s(&aws["region"]));
    put(
        "GOOGLE_APPLICATION_CREDENTIALS",
        s(&google["caller_credentials_file"]),
    );
    put("GOOGLE_CLOUD_PROJECT", s(&google["project"]));
    put("GCE_METADATA_HOST", s(&google["metadata_host"]));
    put("AUTHSIM_GOOGLE_ENDPOINT", s(&google["endpoint"]));
    put("AUTHSIM_AWS_ENDPOINT", s(&aws["endpoint"]));
    lines.push(String::new());
    lines.join("\n")
}
