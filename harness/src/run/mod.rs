//! `authsim run`: loads scenario files, runs each in its own simulation (in parallel up to
//! `--jobs`), prints results as they finish and writes the reports.
//!
//! Against the embedded target every scenario gets a fresh mock Vault; against `--vault-addr`
//! every scenario gets its own auth mounts on that Vault, provisioned and removed through the
//! HTTP API only, while the cloud mocks run in this process on `--mocks-bind`.

pub mod env;
pub mod exec;

use std::borrow::Cow;
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use authsim_mocks::clock::{rfc3339, Clock, SystemClock};
use authsim_mocks::worldfile::DEFAULT_WORLD;

use crate::cli::RunArgs;
use crate::report::{self, console, Outcome, RunReport, ScenarioResult, Summary, Target};
use crate::scenario::{self, Scenario};
pub use env::{RunConfig, TargetConfig};

/// Scenario files that did not parse, each error already formatted with its caret.
#[derive(Debug)]
pub struct LoadErrors(pub Vec<String>);

/// Finds and parses every scenario under `paths` (none: the catalogue built into the binary,
/// named as in the repository: `scenarios/aws/x.toml`, id `aws/x`); all errors, not just the
/// first.
pub fn load(paths: &[PathBuf]) -> Result<(Vec<Scenario>, usize), LoadErrors> {
    // (name shown, id base, text)
    let sources: Vec<(String, String, Result<Cow<'static, str>, String>)> = if paths.is_empty() {
        scenario::catalogue::FILES
            .iter()
            .map(|(rel, text)| {
                let id = rel.strip_suffix(".toml").unwrap_or(rel);
                (
                    format!("scenarios/{rel}"),
                    id.to_owned(),
                    Ok(Cow::Borrowed(*text)),
                )
            })
            .collect()
    } else {
        scenario::discover(paths)
            .map_err(|e| {
                LoadErrors(vec![format!(
                    "{e} (give scenario files or directories; the catalogue is `scenarios/` in the authsim repository)"
                )])
            })?
            .into_iter()
            .map(|(path, id)| {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(&path)
                    .map(Cow::Owned)
                    .map_err(|e| format!("cannot read {shown}: {e}"));
                (shown, id, text)
            })
            .collect()
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (shown, id, text) in &sources {
        match text {
            Err(e) => errors.push(e.clone()),
            Ok(text) => match scenario::parse(shown, id, text) {
                Ok(v) => out.extend(v),
                Err(e) => errors.push(e.to_string()),
            },
        }
    }
    if errors.is_empty() {
        Ok((out, sources.len()))
    } else {
        Err(LoadErrors(errors))
    }
}

/// Keeps the scenarios with one of `tags` (all when empty) whose id or name contains `filter`.
pub fn select(all: Vec<Scenario>, tags: &[String], filter: Option<&str>) -> Vec<Scenario> {
    all.into_iter()
        .filter(|s| tags.is_empty() || s.tags.iter().any(|t| tags.contains(t)))
        .filter(|s| filter.is_none_or(|f| s.id.contains(f) || s.name.contains(f)))
        .collect()
}

/// Runs one scenario in its own environment.
pub async fn run_scenario(cfg: &RunConfig, s: &Scenario) -> ScenarioResult {
    let started = Instant::now();
    let mut result = ScenarioResult {
        id: s.id.clone(),
        file: s.file.clone(),
        name: s.name.clone(),
        tags: s.tags.clone(),
        outcome: Outcome::Passed,
        duration_ms: 0,
        message: None,
        steps: Vec::new(),
    };
    if let Some(why) = s.skip_reason(cfg.target.kind()) {
        result.outcome = Outcome::Skipped;
        result.message = Some(why);
        return result;
    }
    let env = match env::Env::start(cfg, s).await {
        Ok(e) => e,
        Err(e) => {
            result.outcome = Outcome::Error;
            result.message = Some(e);
            result.duration_ms = started.elapsed().as_millis() as u64;
            return result;
        }
    };
    let mut state = exec::State::default();
    state
        .captures
        .insert("root_token".into(), env.root_token.clone());
    for (name, mount) in &env.mounts {
        state
            .captures
            .insert(format!("mount.{name}"), mount.clone());
    }
    for (i, step) in s.steps.iter().enumerate() {
        let r = exec::run_step(&env, &mut state, i + 1, step).await;
        let stop = r.outcome != Outcome::Passed;
        if stop && result.outcome == Outcome::Passed {
            result.outcome = r.outcome;
        }
        result.steps.push(r);
        if stop {
            break;
        }
    }
    // Later steps build on the one that failed: listed as not run.
    for (i, step) in s.steps.iter().enumerate().skip(result.steps.len()) {
        result.steps.push(report::StepResult {
            index: i + 1,
            kind: step.action.kind().to_owned(),
            label: step.label(),
            line: step.line,
            outcome: Outcome::Skipped,
            duration_ms: 0,
            observed: report::Observed::default(),
            failures: Vec::new(),
            error: None,
            curl: None,
        });
    }
    env.stop().await;
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// Runs `scenarios` with at most `jobs` at once, calling `done` as each finishes; results in
/// the scenarios' order.
pub async fn run_all(
    cfg: Arc<RunConfig>,
    scenarios: Vec<Scenario>,
    jobs: usize,
    mut done: impl FnMut(&ScenarioResult),
) -> Vec<ScenarioResult> {
    let sem = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let n = scenarios.len();
    for (i, s) in scenarios.into_iter().enumerate() {
        let (cfg, sem) = (cfg.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, run_scenario(&cfg, &s).await)
        });
    }
    let mut results: Vec<Option<ScenarioResult>> = (0..n).map(|_| None).collect();
    while let Some(j) = set.join_next().await {
        match j {
            Ok((i, r)) => {
                done(&r);
                results[i] = Some(r);
            }
            Err(e) => tracing::error!("a scenario task failed: {e}"),
        }
    }
    results.into_iter().flatten().collect()
}

/// Checks a real Vault before anything runs against it, and returns its version: it answers
/// (`sys/seal-status`), is unsealed, and takes the token (`auth/token/lookup-self`). Each
/// error is one line that says what to do; without this, every scenario would fail on its own
/// with the same cause.
pub(crate) async fn preflight(
    http: &reqwest::Client,
    addr: &str,
    token: &str,
) -> Result<String, String> {
    let base = addr.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(format!(
            "--vault-addr {addr} is not a URL: give the scheme too, e.g. http://127.0.0.1:8200"
        ));
    }
    let status = http
        .get(format!("{base}/v1/sys/seal-status"))
        .send()
        .await
        .map_err(|e| {
            format!(
                "no Vault answers at {addr} (GET /v1/sys/seal-status: {}): start it, or check --vault-addr",
                crate::provision::error_chain(&e)
            )
        })?;
    let code = status.status().as_u16();
    let v: serde_json::Value = status.json().await.map_err(|_| {
        format!("{addr} answers GET /v1/sys/seal-status with {code} and no Vault JSON: is it a Vault? check --vault-addr")
    })?;
    if v["sealed"] == serde_json::Value::Bool(true) {
        return Err(format!(
            "the Vault at {addr} is sealed: unseal it (vault operator unseal) and run again"
        ));
    }
    let version = v["version"].as_str().unwrap_or_default().to_owned();
    let lookup = http
        .get(format!("{base}/v1/auth/token/lookup-self"))
        .header("X-Vault-Token", token)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the Vault at {addr} did not answer GET /v1/auth/token/lookup-self: {}",
                crate::provision::error_chain(&e)
            )
        })?;
    if !lookup.status().is_success() {
        let code = lookup.status().as_u16();
        let body: serde_json::Value = lookup.json().await.unwrap_or_default();
        let errors = body["errors"]
            .as_array()
            .map(|e| {
                // Vault 1.17 lists several in one string: "2 errors occurred:\n\t* …\n\t* …".
                e.iter()
                    .filter_map(serde_json::Value::as_str)
                    .flat_map(|e| match e.split_once("occurred:") {
                        Some((_, items)) => items
                            .lines()
                            .filter_map(|l| l.trim().strip_prefix("* "))
                            .collect::<Vec<_>>(),
                        None => vec![e.trim()],
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        return Err(format!(
            "the Vault at {addr} refuses the token ({code} on auth/token/lookup-self: {errors}): give --vault-token (or VAULT_TOKEN) a token that may enable auth methods and write policies"
        ));
    }
    Ok(version)
}

fn write_file(path: &PathBuf, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `authsim run`; returns the exit code.
pub fn main(args: RunArgs) -> i32 {
    for (flag, path) in [
        ("--report-json", &args.report_json),
        ("--report-junit", &args.report_junit),
        ("--report-markdown", &args.report_markdown),
    ] {
        if let Some(e) = path
            .as_deref()
            .and_then(|p| crate::check_report_path(flag, p).err())
        {
            eprintln!("error: {e}");
            return crate::exit::ERROR;
        }
    }
    let (scenarios, files) = match load(&args.paths) {
        Ok(x) => x,
        Err(LoadErrors(errors)) => {
            let located = errors.iter().any(|e| e.contains(" --> "));
            for e in &errors {
                eprintln!("error: {e}");
                if located {
                    eprintln!();
                }
            }
            if located {
                eprintln!("{} scenario file(s) did not load", errors.len());
            }
            return crate::exit::ERROR;
        }
    };
    let total = scenarios.len();
    let (world_file, world_text) = match &args.world.world {
        None => (
            "scenarios/world.toml (built in)".to_owned(),
            DEFAULT_WORLD.to_owned(),
        ),
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => (p.display().to_string(), t),
            Err(e) => {
                eprintln!("error: cannot read world file '{}': {e}", p.display());
                return crate::exit::ERROR;
            }
        },
    };
    // Fail early on a world that does not load, rather than once per scenario.
    let now = SystemClock.now();
    let base_world = match authsim_mocks::worldfile::parse(&world_file, &world_text, now) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::ERROR;
        }
    };
    if let Err(e) = crate::provision::check(&base_world) {
        eprintln!("error: {world_file}: {e}");
        return crate::exit::ERROR;
    }
    // `--check` checks every scenario found; a run checks (and runs) only those selected.
    let scenarios = if args.check {
        scenarios
    } else {
        select(scenarios, &args.tags, args.filter.as_deref())
    };
    if scenarios.is_empty() {
        eprintln!(
            "error: no scenario matches (of {total} found{}{})",
            if args.tags.is_empty() {
                String::new()
            } else {
                format!(", --tag {}", args.tags.join(","))
            },
            args.filter
                .as_deref()
                .map(|f| format!(", --filter {f}"))
                .unwrap_or_default()
        );
        return crate::exit::ERROR;
    }
    // What the steps name must be in the world they run in: found now, not scenario by scenario.
    let mut bad = Vec::new();
    for sc in &scenarios {
        let checked = match &sc.world {
            None => exec::check_references(sc, &base_world),
            Some(o) => env::merged_world(&world_text, o)
                .and_then(|text| {
                    authsim_mocks::worldfile::parse(
                        &format!("{} [world] merged", sc.file),
                        &text,
                        now,
                    )
                    .map_err(|e| format!("its [world] does not load: {}", e.message))
                })
                .and_then(|w| {
                    crate::provision::check(&w)
                        .map_err(|e| format!("its [world] does not load: {e}"))?;
                    exec::check_references(sc, &w)
                }),
        };
        if let Err(e) = checked {
            bad.push(format!("{} ({}): {e}", sc.file, sc.id));
        }
    }
    if !bad.is_empty() {
        for e in &bad {
            eprintln!("error: {e}");
        }
        eprintln!("{} scenario(s) cannot run as written", bad.len());
        return crate::exit::ERROR;
    }
    if args.check {
        crate::stdout::println(&format!(
            "{total} scenario(s) in {files} file(s): all valid"
        ));
        return crate::exit::OK;
    }
    let target = match (&args.vault_addr, &args.vault_token) {
        (None, _) => TargetConfig::Embedded,
        (Some(_), None) => {
            let from_env = if std::env::var_os("VAULT_ADDR").is_some_and(|v| !v.is_empty()) {
                " (the address came from VAULT_ADDR: `env -u VAULT_ADDR authsim run …` runs against the embedded mock Vault)"
            } else {
                ""
            };
            eprintln!("error: --vault-addr needs --vault-token (or VAULT_TOKEN): a token that may enable auth methods and write policies{from_env}");
            return crate::exit::ERROR;
        }
        (Some(a), Some(t)) => TargetConfig::Vault {
            addr: a.clone(),
            token: t.clone(),
            mocks_bind: args.mocks_bind,
            mocks_advertise: args.mocks_advertise.clone(),
        },
    };
    if args.vault_addr.is_some()
        && args.mocks_bind.is_unspecified()
        && args.mocks_advertise.is_none()
    {
        eprintln!(
            "error: --mocks-bind {} needs --mocks-advertise HOST: the address the Vault reaches the cloud mocks at",
            args.mocks_bind
        );
        return crate::exit::ERROR;
    }
    // Each scenario starts its cloud mocks on --mocks-bind: an address this machine cannot
    // listen on is one infrastructure error, found before any scenario runs.
    if args.vault_addr.is_some() {
        if let Err(e) = std::net::TcpListener::bind((args.mocks_bind, 0)) {
            eprintln!(
                "error: cannot listen on {} for the cloud mocks (--mocks-bind): {e}",
                args.mocks_bind
            );
            return crate::exit::ERROR;
        }
    }
    let builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(120));
    let http = match trust_vault_ca(builder, args.vault_cacert.as_deref()).and_then(|b| {
        b.build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))
    }) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::ERROR;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return crate::exit::ERROR;
        }
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            * 2
    });
    let run_id = format!("{:x}", std::process::id() ^ (SystemClock.unix() as u32));
    let cfg = Arc::new(RunConfig {
        world_file,
        world_text,
        target: target.clone(),
        http: http.clone(),
        run_id,
        extra_runtimes: Vec::new(),
    });
    let style = console::Style {
        color: std::io::stdout().is_terminal(),
        verbose: args.verbose,
        sent_only: !matches!(target, TargetConfig::Embedded),
    };
    let started_at = rfc3339(SystemClock.now());
    let started = Instant::now();
    let n = scenarios.len();
    let report = rt.block_on(async {
        let mut target_report = Target {
            kind: target.kind().to_owned(),
            addr: None,
            vault_version: None,
        };
        if let TargetConfig::Vault { addr, token, .. } = &target {
            target_report.addr = Some(addr.clone());
            match preflight(&http, addr, token).await {
                Ok(v) => target_report.vault_version = Some(v).filter(|v| !v.is_empty()),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Err(());
                }
            }
        }
        crate::stdout::println(&format!(
            "running {n} scenario{} against {} ({} at once)",
            if n == 1 { "" } else { "s" },
            match &target {
                TargetConfig::Embedded => "the embedded mock Vault".to_owned(),
                TargetConfig::Vault { addr, .. } => format!("Vault at {addr}"),
            },
            jobs
        ));
        let mut finished = 0;
        let results = run_all(cfg, scenarios, jobs, |r| {
            finished += 1;
            let block = console::scenario(r, style);
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(block.as_bytes());
            if !style.verbose && style.color && finished < n {
                let _ = write!(out, "\x1b[2m[{finished}/{n}]\x1b[0m\r");
            }
            let _ = out.flush();
        })
        .await;
        Ok(RunReport {
            schema_version: report::SCHEMA_VERSION,
            authsim_version: env!("CARGO_PKG_VERSION").to_owned(),
            target: target_report,
            started_at: started_at.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            summary: Summary::of(&results),
            scenarios: results,
        })
    });
    let Ok(report) = report else {
        return crate::exit::ERROR;
    };
    crate::stdout::print(&console::summary(&report, style));
    let mut write_failed = false;
    let mut out = |path: &Option<PathBuf>, text: String| {
        if let Some(p) = path {
            if let Err(e) = write_file(p, &text) {
                eprintln!("error: {e}");
                write_failed = true;
            }
        }
    };
    out(
        &args.report_json,
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
    );
    out(&args.report_junit, report::junit::render(&report));
    out(&args.report_markdown, report::markdown::render(&report));
    if write_failed {
        crate::exit::ERROR
    } else if report.failed() {
        crate::exit::FAILED
    } else {
        crate::exit::OK
    }
}

/// Adds the certificates of a PEM file (`--vault-cacert`) to the roots an HTTP client trusts.
pub(crate) fn trust_vault_ca(
    builder: reqwest::ClientBuilder,
    cacert: Option<&std::path::Path>,
) -> Result<reqwest::ClientBuilder, String> {
    let Some(path) = cacert else {
        return Ok(builder);
    };
    let at = format!("--vault-cacert {}", path.display());
    let pem = std::fs::read(path).map_err(|e| format!("{at}: {e}"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{at}: not a PEM certificate bundle ({e})"))?;
    if certs.is_empty() {
        return Err(format!(
            "{at}: holds no `-----BEGIN CERTIFICATE-----` block; give the CA's certificate in PEM"
        ));
    }
    Ok(certs
        .into_iter()
        .fold(builder, |b, c| b.add_root_certificate(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, content: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("authsim-cacert-{}-{name}", std::process::id()));
        std::fs::write(&p, content).unwrap();
        p
    }

    #[test]
    fn vault_cacert_adds_pem_certificates_and_says_what_is_wrong_with_a_bad_file() {
        let world = authsim_mocks::worldfile::default_world(std::time::SystemTime::UNIX_EPOCH);
        let pem = world.aws.identity_key.material().cert_pem.clone();
        let good = scratch("good.pem", pem.as_bytes());
        let b = trust_vault_ca(reqwest::Client::builder(), Some(&good)).unwrap();
        assert!(b.build().is_ok());

        let empty = scratch("empty.pem", b"not a certificate\n");
        let e = trust_vault_ca(reqwest::Client::builder(), Some(&empty)).unwrap_err();
        assert!(
            e.contains("empty.pem: holds no `-----BEGIN CERTIFICATE-----` block"),
            "{e}"
        );

        let gone = std::env::temp_dir().join("authsim-cacert-does-not-exist.pem");
        let e = trust_vault_ca(reqwest::Client::builder(), Some(&gone)).unwrap_err();
        assert!(
            e.starts_with("--vault-cacert ") && e.contains("does-not-exist.pem: "),
            "{e}"
        );
        assert!(trust_vault_ca(reqwest::Client::builder(), None).is_ok());
        let _ = std::fs::remove_file(good);
        let _ = std::fs::remove_file(empty);
    }
}
