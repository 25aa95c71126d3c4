//! `authsim bench`: the load generator. Every login is signed fresh (unless `--presign`), the
//! open model measures from each request's intended start, and the report keeps HDR histograms
//! so that workers' reports merge exactly (`authsim merge`).
//!
//! The run: build the world with the load identities, start the cloud mocks (and the embedded
//! mock Vault) exactly as `authsim run` does for a scenario, provision Vault through its HTTP API,
//! prepare each flow (tokens, keys, presigned logins), then load ([`engine`]).

pub mod engine;
pub mod flows;
pub mod html;
pub mod merge;
pub mod plot;
pub mod report;
pub mod threshold;

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

use authsim_mocks::clock::parse_duration;
use authsim_mocks::faults::{Fault, FaultKind, FaultMatch};
use authsim_mocks::http_client::HttpClient;
use authsim_mocks::worldfile::DEFAULT_WORLD;

use crate::cli::BenchArgs;
use crate::run::env::{Env, RunConfig, TargetConfig};
use crate::runtimes::PerCore;
use engine::{Mix, Model, Progress};
use report::{BenchConfig, BenchReport, Latency, WorkerSplit};

/// `aws-iam=3,gcp-iam=1` → flows and weights.
pub fn parse_mix(s: &str) -> Result<Vec<(String, u32)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (flow, w) = match part.split_once('=') {
            Some((f, w)) => (
                f.trim(),
                w.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|w| *w > 0)
                    .ok_or_else(|| {
                        format!("--mix '{part}': the weight '{w}' is not a whole number above 0")
                    })?,
            ),
            None => (part, 1),
        };
        if !flows::FLOWS.contains(&flow) {
            return Err(unknown_flow(flow));
        }
        if out.iter().any(|(f, _)| f == flow) {
            return Err(format!(
                "--mix '{s}' names {flow} twice: give each flow once, with its weight"
            ));
        }
        out.push((flow.to_owned(), w));
    }
    if out.is_empty() {
        return Err(format!(
            "--mix '{s}' names no flow (e.g. 'aws-iam=3,gcp-iam=1')"
        ));
    }
    Ok(out)
}

fn unknown_flow(f: &str) -> String {
    let close = flows::FLOWS
        .iter()
        .map(|c| (strsim::jaro_winkler(f, c), *c))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    format!(
        "unknown flow `{f}`{close}: one of {}",
        flows::FLOWS.join(", ")
    )
}

/// `LISTENER:TARGET:KIND[=VALUE][@PROBABILITY]`, e.g. `aws:sts:latency=20ms`,
/// `google:certs:status=503`, `aws:sts:throttle@0.1`, `google:*:drop`.
pub fn parse_fault(s: &str) -> Result<Fault, String> {
    let bad = |why: &str| {
        format!(
            "--fault '{s}': {why} (LISTENER:TARGET:KIND[=VALUE][@P], e.g. 'aws:sts:latency=20ms', 'google:certs:status=503', 'aws:sts:throttle@0.1')"
        )
    };
    let (spec, probability) = match s.rsplit_once('@') {
        Some((a, p)) => (
            a,
            Some(
                p.parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| bad(&format!("probability '{p}' is not between 0 and 1")))?,
            ),
        ),
        None => (s, None),
    };
    let parts: Vec<&str> = spec.splitn(3, ':').collect();
    let [listener, target, kind] = parts[..] else {
        return Err(bad("three parts separated by ':'"));
    };
    let matches = match (listener, target) {
        (_, "*") => FaultMatch::default(),
        ("aws", "sts") => FaultMatch { action: Some("GetCallerIdentity".into()), ..Default::default() },
        ("aws", "iam") => FaultMatch { action: Some("Get*".into()), ..Default::default() },
        ("aws", "ec2") => FaultMatch { action: Some("DescribeInstances".into()), ..Default::default() },
        ("google", "certs") => FaultMatch { path: Some("/oauth2/*".into()), ..Default::default() },
        ("google", "x509") => FaultMatch { path: Some("/service_accounts/*".into()), ..Default::default() },
        ("google", "signjwt") => FaultMatch { path: Some("*:signJwt".into()), ..Default::default() },
        ("google", "iam") => FaultMatch { path: Some("/v1/projects/*/serviceAccounts/*".into()), ..Default::default() },
        ("google", "compute") => FaultMatch { path: Some("*/instances*".into()), ..Default::default() },
        ("aws" | "google" | "vault", t) if t.starts_with('/') => {
            FaultMatch { path: Some(t.to_owned()), ..Default::default() }
        }
        ("aws" | "google" | "vault", t) => {
            return Err(bad(&format!(
                "unknown target '{t}' (aws: sts, iam, ec2; google: certs, x509, signjwt, iam, compute; '*' or a path glob)"
            )))
        }
        (l, _) => return Err(bad(&format!("unknown listener '{l}' (aws, google, vault)"))),
    };
    let (k, v) = match kind.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (kind, None),
    };
    let kind = match (k, v) {
        ("latency", Some(v)) => FaultKind::Latency(
            parse_duration(v)
                .ok_or_else(|| bad(&format!("'{v}' is not a latency such as '20ms'")))?,
        ),
        ("status", Some(v)) => FaultKind::Status {
            status: v
                .parse::<u16>()
                .ok()
                .filter(|s| (400..=599).contains(s))
                .ok_or_else(|| bad(&format!("'{v}' is not an error status (400-599)")))?,
            code: None,
            message: None,
            content_type: None,
        },
        ("throttle", None) => FaultKind::Throttle,
        ("drop", None) => FaultKind::Drop,
        _ => {
            return Err(bad(&format!(
                "unknown kind '{kind}' (latency=D, status=N, throttle, drop)"
            )))
        }
    };
    Ok(Fault {
        id: 0,
        listener: listener.to_owned(),
        matches,
        kind,
        remaining: None,
        probability,
    })
}

/// The longest run (and warmup) a bench takes: beyond it a typo is likelier than a plan.
const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

fn duration_arg(name: &str, v: &str) -> Result<Duration, String> {
    let d = parse_duration(v)
        .ok_or_else(|| format!("--{name} '{v}' is not a duration such as '30s' or '1m'"))?;
    if d > MAX_DURATION {
        return Err(format!("--{name} '{v}' is longer than 30 days"));
    }
    Ok(d)
}

/// Bounds on sizes that are held in memory whole: beyond them a process would exhaust the
/// machine before it sent a request.
const MAX_CONCURRENCY: usize = 100_000;
const MAX_PRESIGN: usize = 1_000_000;
const MAX_IDENTITIES: usize = 10_000;

/// Everything checked before anything starts: one clear line per problem.
struct Plan {
    flows: Vec<(String, u32)>,
    model: Model,
    warmup: Duration,
    duration: Duration,
    faults: Vec<Fault>,
    thresholds: Vec<threshold::Threshold>,
    identities: Vec<usize>,
    config: BenchConfig,
}

fn plan(a: &BenchArgs) -> Result<Plan, String> {
    for (flag, path) in [
        ("--report-json", &a.report_json),
        ("--report-svg", &a.report_svg),
        ("--report-html", &a.report_html),
    ] {
        if let Some(p) = path {
            crate::check_report_path(flag, p)?;
        }
    }
    let flows = match (&a.flow, &a.mix) {
        (Some(f), None) => {
            if !flows::FLOWS.contains(&f.as_str()) {
                return Err(unknown_flow(f));
            }
            vec![(f.clone(), 1)]
        }
        (None, Some(m)) => parse_mix(m)?,
        _ => {
            return Err(format!(
                "give --flow FLOW or --mix FLOW=W,...: {}",
                flows::FLOWS.join(", ")
            ))
        }
    };
    if a.workers == 0 || a.worker_index >= a.workers {
        return Err(format!(
            "--worker-index {} is not below --workers {}",
            a.worker_index, a.workers
        ));
    }
    let share = |x: f64| x / f64::from(a.workers);
    let duration = duration_arg("duration", &a.duration)?;
    let warmup = duration_arg("warmup", &a.warmup)?;
    let model = match (a.rate, &a.profile, a.concurrency) {
        (Some(r), None, None) if share(r) > engine::MAX_RATE && r.is_finite() => {
            return Err(format!(
                "--rate {r} is above what one process can send ({}/s); split it over more --workers",
                engine::MAX_RATE
            ))
        }
        (Some(r), None, None) if r > 0.0 && r.is_finite() => {
            if duration.is_zero() {
                return Err("--duration must be above 0".into());
            }
            Model::Open(vec![(share(r), duration)])
        }
        (Some(r), _, _) => return Err(format!("--rate {r} is not a rate above 0")),
        (None, Some(p), None) => Model::Open(
            engine::parse_profile(p)?
                .into_iter()
                .map(|(r, d)| (share(r), d))
                .collect(),
        ),
        (None, None, Some(c)) if c > 0 && c < a.workers as usize => {
            return Err(format!(
                "--concurrency {c} over --workers {} leaves a worker no client: give at least one client per worker",
                a.workers
            ))
        }
        (None, None, Some(c)) if c > 0 && c <= MAX_CONCURRENCY => {
            let mine = (c / a.workers as usize) + usize::from((a.worker_index as usize) < c % a.workers as usize);
            Model::Closed(mine.max(1))
        }
        (None, None, Some(0)) => return Err("--concurrency must be at least 1".into()),
        (None, None, Some(c)) => {
            return Err(format!(
                "--concurrency {c} is more than {MAX_CONCURRENCY} clients"
            ))
        }
        _ => {
            return Err(
                "give a load model: --rate R (open), --profile 'R,D;R,D' (open, stepped) or --concurrency C (closed)"
                    .into(),
            )
        }
    };
    if let Model::Open(steps) = &model {
        // The schedule sends round(rate x duration) per step.
        let planned: f64 = steps
            .iter()
            .map(|(r, d)| (r * d.as_secs_f64()).round())
            .sum();
        if planned < 1.0 {
            return Err(format!(
                "this schedule sends no request (rate x duration rounds to 0{}): raise the rate or the duration",
                if a.workers > 1 { " for this worker" } else { "" }
            ));
        }
    }
    let faults = a
        .faults
        .iter()
        .map(|f| parse_fault(f))
        .collect::<Result<Vec<_>, _>>()?;
    if a.vault_addr.is_some() {
        if let Some((spec, _)) = a
            .faults
            .iter()
            .zip(&faults)
            .find(|(_, f)| f.listener == "vault")
        {
            return Err(format!(
                "--fault '{spec}': the vault listener is the embedded mock Vault's; against --vault-addr only aws and google faults apply"
            ));
        }
    }
    let thresholds = a
        .thresholds
        .iter()
        .map(|t| threshold::Threshold::from_str(t).map_err(|e| format!("--threshold '{t}': {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if a.identities == 0 {
        return Err("--identities must be at least 1".into());
    }
    if a.identities > MAX_IDENTITIES {
        return Err(format!(
            "--identities {} is more than {MAX_IDENTITIES} (each is an RSA key made before the load)",
            a.identities
        ));
    }
    if a.identities < a.workers as usize {
        return Err(format!(
            "--identities {} over --workers {} leaves a worker none: give at least as many identities as workers",
            a.identities, a.workers
        ));
    }
    if a.presign > MAX_PRESIGN {
        return Err(format!(
            "--presign {} is more than {MAX_PRESIGN} logins held in memory",
            a.presign
        ));
    }
    if matches!(model, Model::Open(_)) && a.max_in_flight == 0 {
        return Err("--max-in-flight must be at least 1".into());
    }
    // At least one each: there are at least as many identities as workers (checked above).
    let identities: Vec<usize> = (0..a.identities)
        .filter(|i| (*i as u32) % a.workers == a.worker_index)
        .collect();
    let config = BenchConfig {
        flows: flows.iter().cloned().collect(),
        model: match model {
            Model::Open(_) => "open".into(),
            Model::Closed(_) => "closed".into(),
        },
        rate: a.rate.map(share),
        profile: a.profile.clone(),
        concurrency: match model {
            Model::Closed(c) => Some(c),
            Model::Open(_) => None,
        },
        duration_ms: match &model {
            Model::Open(s) => s.iter().map(|(_, d)| d.as_millis() as u64).sum(),
            Model::Closed(_) => duration.as_millis() as u64,
        },
        warmup_ms: warmup.as_millis() as u64,
        max_in_flight: matches!(model, Model::Open(_)).then_some(a.max_in_flight),
        identities: identities.len(),
        presign: a.presign,
        target: if a.vault_addr.is_some() {
            "vault".into()
        } else {
            "embedded".into()
        },
        vault_addr: a.vault_addr.clone(),
        vault_version: None,
        faults: a.faults.clone(),
        worker: (a.workers > 1).then_some(WorkerSplit {
            workers: a.workers,
            index: a.worker_index,
        }),
    };
    Ok(Plan {
        flows,
        model,
        warmup,
        duration,
        faults,
        thresholds,
        identities,
        config,
    })
}

/// The prefix of the auth mounts this run adds to a shared Vault (`authsim-<id>-0-aws`), which it
/// removes at the end. Unique per run and per worker: the pods of a Kubernetes Indexed Job often
/// all run authsim as the same PID, and workers sharing mounts would overwrite each other's cloud
/// endpoints and delete each other's mounts.
fn run_id(worker_index: u32) -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    // A randomly keyed hasher: a random number without a dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("bench{:08x}w{worker_index}", h.finish() as u32)
}

/// `authsim bench`; returns the exit code.
pub fn main(args: BenchArgs) -> i32 {
    let p = match plan(&args) {
        Ok(p) => p,
        Err(e) => {
            crate::eline!("error: {e}");
            return crate::exit::ERROR;
        }
    };
    // One current-thread runtime per core (see `crate::runtimes`): the clients are spread over
    // them, and so are the embedded mocks' connections.
    let count = PerCore::count(args.threads.map(usize::from));
    let (rt, per_core) = match PerCore::main_runtime()
        .and_then(|rt| Ok((rt, PerCore::start(count, "authsim-bench")?)))
    {
        Ok(r) => r,
        Err(e) => {
            crate::eline!("error: cannot start the runtime: {e}");
            return crate::exit::ERROR;
        }
    };
    match rt.block_on(bench(&args, p, per_core.handles())) {
        Ok(code) => code,
        Err(e) => {
            crate::eline!("error: {e}");
            crate::exit::ERROR
        }
    }
}

async fn bench(args: &BenchArgs, mut p: Plan, extra_runtimes: &[Handle]) -> Result<i32, String> {
    let (interrupt, interrupted) = interrupt_on_signals();
    let (world_file, world_text) = match &args.world.world {
        None => (
            "scenarios/world.toml (built in)".to_owned(),
            DEFAULT_WORLD.to_owned(),
        ),
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read world file '{}': {e}", path.display()))?,
        ),
    };
    // The world as written, checked before anything starts: its errors name file:line:col.
    {
        let now = authsim_mocks::clock::Clock::now(&authsim_mocks::clock::SystemClock);
        let w = authsim_mocks::worldfile::parse(&world_file, &world_text, now)
            .map_err(|e| e.to_string())?;
        crate::provision::check(&w).map_err(|e| format!("{world_file}: {e}"))?;
    }
    let target = match (&args.vault_addr, &args.vault_token) {
        (None, _) => TargetConfig::Embedded,
        (Some(_), None) => {
            return Err("--vault-addr needs --vault-token (or VAULT_TOKEN): a token that may enable auth methods and write policies".into())
        }
        (Some(a), Some(t)) => TargetConfig::Vault { addr: a.clone(), token: t.clone(), mocks_bind: args.mocks_bind, mocks_advertise: args.mocks_advertise.clone() },
    };
    let builder = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(30));
    let http = crate::run::trust_vault_ca(builder, args.vault_cacert.as_deref())?
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    // The measured requests go through the lean client (what wrk is compared against); setup
    // and provisioning keep reqwest.
    let (connect, timeout) = (Duration::from_secs(10), Some(Duration::from_secs(30)));
    let fast = match args.vault_cacert.as_deref() {
        None => HttpClient::new(connect, timeout),
        Some(path) => {
            let at = format!("--vault-cacert {}", path.display());
            let pem = std::fs::read(path).map_err(|e| format!("{at}: {e}"))?;
            HttpClient::trusting_pem(connect, timeout, &pem).map_err(|e| format!("{at}: {e}"))?
        }
    };
    if let TargetConfig::Vault { addr, token, .. } = &target {
        p.config.vault_version =
            Some(crate::run::preflight(&http, addr, token).await?).filter(|v| !v.is_empty());
    }
    let overrides = flows::world_overrides(&p.identities, &world_text)?;
    let scenario = crate::scenario::Scenario {
        id: "bench".into(),
        file: world_file.clone(),
        name: "bench".into(),
        description: None,
        tags: Vec::new(),
        targets: Vec::new(),
        world: Some(overrides),
        steps: Vec::new(),
    };
    let cfg = RunConfig {
        world_file,
        world_text,
        target,
        http: http.clone(),
        run_id: run_id(args.worker_index),
        extra_runtimes: extra_runtimes.to_vec(),
    };
    crate::eline!(
        "preparing {} {} for {} …",
        p.identities.len(),
        if p.identities.len() == 1 {
            "identity"
        } else {
            "identities"
        },
        p.flows
            .iter()
            .map(|(f, _)| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let env = Env::start_with_clock(&cfg, &scenario, Arc::new(authsim_mocks::clock::SystemClock))
        .await
        // A load has no scenario: say whose Vault it was.
        .map_err(
            |e| match e.strip_prefix(crate::run::env::PROVISIONING_FAILED) {
                Some(rest) => format!("provisioning the Vault for the load failed{rest}"),
                None => e,
            },
        )?;
    let env = Arc::new(env);
    let prepared = async {
        let spec = {
            let w = env.sim.world();
            crate::provision::VaultSpec::parse(&w.vault.raw_toml).map_err(|e| e.to_string())?
        };
        let mut prepared = Vec::new();
        for (name, w) in &p.flows {
            let f = flows::Flow::prepare(
                name,
                env.clone(),
                fast.clone(),
                &p.identities,
                &spec,
                args.presign,
                &interrupt,
            )
            .await?;
            prepared.push((Arc::new(f), *w));
        }
        Ok::<_, String>(prepared)
    }
    .await;
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            // What provisioning added to a real Vault goes, whatever stopped the preparation.
            if let Ok(env) = Arc::try_unwrap(env) {
                env.stop().await;
            }
            let signal = interrupted.load(std::sync::atomic::Ordering::Relaxed);
            if signal != 0 {
                crate::eline!("{e}: nothing was measured");
                return Ok(signal);
            }
            return Err(e);
        }
    };
    // One request per flow before the clock starts: a flow that cannot succeed at all is a
    // configuration problem, better said now than as 100% errors.
    for (f, _) in &prepared {
        let d = f.one().await;
        if !d.ok {
            crate::eline!(
                "warning: a first {} request failed ({}): {}",
                f.name,
                d.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no answer".into()),
                d.error.unwrap_or_default()
            );
        }
    }
    for f in &p.faults {
        env.sim.faults().add(f.clone());
    }
    let mix = Arc::new(Mix::new(prepared));
    crate::eline!(
        "running {} ({}) for {} s{} against {}",
        p.config.flows.keys().cloned().collect::<Vec<_>>().join("+"),
        match &p.model {
            Model::Open(steps) if steps.len() == 1 =>
                format!("open, {} req/s", plot::trim_num(steps[0].0)),
            Model::Open(steps) => format!("open, {} steps", steps.len()),
            Model::Closed(c) => format!("closed, {c} clients"),
        },
        secs(Duration::from_millis(p.config.duration_ms)),
        if p.warmup.is_zero() {
            String::new()
        } else {
            format!(" after {} s warm-up", secs(p.warmup))
        },
        match &p.config.vault_addr {
            Some(a) => format!("Vault at {a}"),
            None => "the embedded mock Vault".into(),
        }
    );
    let measured = engine::run(
        mix,
        engine::Schedule {
            model: p.model.clone(),
            warmup: p.warmup,
            duration: p.duration,
            max_in_flight: args.max_in_flight,
        },
        extra_runtimes,
        env.sim.clone(),
        Progress::detect(args.no_live),
        interrupt,
    )
    .await;
    if let Ok(env) = Arc::try_unwrap(env) {
        env.stop().await;
    }
    let mut report = to_report(p.config.clone(), measured);
    // Checked before the reports are written, so that they record the verdicts.
    let (verdicts, all_pass) = threshold::check_all(&p.thresholds, &report);
    report.thresholds = p
        .thresholds
        .iter()
        .zip(&verdicts)
        .map(|(t, v)| v.to_report(t))
        .collect();
    crate::stdout::print(&summary(&report));
    write_outputs(
        &report,
        args.report_json.as_deref(),
        args.report_svg.as_deref(),
        args.report_html.as_deref(),
    )?;
    for v in &verdicts {
        crate::stdout::println(&format!("threshold {}", v.text));
    }
    // This machine's own limit (open files) is the generator's failure, not the target's.
    let local: u64 = report
        .errors
        .iter()
        .filter(|e| e.message.contains("(os error 24)"))
        .map(|e| e.count)
        .sum();
    let signal = interrupted.load(std::sync::atomic::Ordering::Relaxed);
    if local > 0 && signal == 0 {
        crate::eline!(
            "error: this machine ran out of open files for {local} request(s): raise the limit (ulimit -n) or lower --concurrency / --rate; the errors are this generator's, not the target's"
        );
        return Ok(crate::exit::ERROR);
    }
    Ok(if signal != 0 {
        signal
    } else if all_pass {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    })
}

/// Seconds as a person writes them: `30`, `2.5`.
fn secs(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// SIGINT (Ctrl-C) or SIGTERM (Kubernetes deleting the pod) ends the run early rather than the
/// process: the load stops, the report covers what was measured, and the mounts added to a
/// real Vault are removed. The exit code is then the shell's for that signal (130, 143). A
/// second signal ends the process at once.
fn interrupt_on_signals() -> (
    tokio::sync::watch::Receiver<bool>,
    Arc<std::sync::atomic::AtomicI32>,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let code = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let seen = code.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let sigterm = async {
                match term.as_mut() {
                    Some(t) => t.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let sigterm = std::future::pending::<Option<()>>();
            let (name, exit) = tokio::select! {
                r = tokio::signal::ctrl_c() => match r {
                    Ok(()) => ("interrupted", 130),
                    Err(_) => return,
                },
                Some(()) = sigterm => ("terminated", 143),
            };
            if seen.load(std::sync::atomic::Ordering::Relaxed) != 0 {
                crate::eline!("\n{name} again: stopping now");
                std::process::exit(exit);
            }
            seen.store(exit, std::sync::atomic::Ordering::Relaxed);
            crate::eline!(
                "\n{name}: stopping the load, writing the report and removing what the run added (again to quit at once)"
            );
            let _ = tx.send(true);
        }
    });
    (rx, code)
}

/// Writes the JSON, SVG and HTML reports that were asked for.
pub fn write_outputs(
    report: &BenchReport,
    json: Option<&std::path::Path>,
    svg: Option<&std::path::Path>,
    html: Option<&std::path::Path>,
) -> Result<(), String> {
    let write = |path: Option<&std::path::Path>, text: &dyn Fn() -> String| match path {
        Some(path) => std::fs::write(path, text())
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => Ok(()),
    };
    write(json, &|| {
        serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
    })?;
    write(svg, &|| plot::svg(report))?;
    write(html, &|| html::render(report))
}

/// The report of a measured run.
pub fn to_report(config: BenchConfig, m: engine::Measured) -> BenchReport {
    let secs = m.window.answered_secs().max(1e-9);
    BenchReport {
        schema_version: report::SCHEMA_VERSION,
        kind: report::KIND.into(),
        authsim_version: env!("CARGO_PKG_VERSION").into(),
        config,
        window: m.window,
        counts: m.counts,
        throughput: (m.counts.ok + m.counts.errors - m.counts.unanswered) as f64 / secs,
        latency: m
            .histograms
            .get(report::stage::TOTAL)
            .map(Latency::of)
            .unwrap_or_default(),
        stages: m
            .histograms
            .iter()
            .map(|(k, h)| (k.clone(), Latency::of(h)))
            .collect::<BTreeMap<_, _>>(),
        histograms: m
            .histograms
            .iter()
            .map(|(k, h)| (k.clone(), report::encode_histogram(h)))
            .collect(),
        errors: m.errors,
        timeline: m.timeline,
        workers: 1,
        thresholds: Vec::new(),
    }
}

/// The closing lines on stdout.
pub fn summary(r: &BenchReport) -> String {
    use std::fmt::Write as _;
    let f = engine::fmt_us;
    let c = &r.counts;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{} requests in {:.1} s: {:.1} req/s, {} ok, {} errors, {} dropped, {} late{}",
        c.sent,
        r.window.secs(),
        r.throughput,
        c.ok,
        c.errors,
        c.dropped,
        c.late,
        if c.abandoned > 0 {
            format!(
                ", {} abandoned (no answer by the end of the run)",
                c.abandoned
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "stage", "p50", "p90", "p99", "p99.9", "max", "count"
    );
    let mut stages: Vec<_> = r.stages.iter().collect();
    stages.sort_by_key(|(k, _)| (k.as_str() != report::stage::TOTAL, k.as_str()));
    for (k, l) in stages {
        let _ = writeln!(
            s,
            "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            k,
            f(l.p50_us),
            f(l.p90_us),
            f(l.p99_us),
            f(l.p999_us),
            f(l.max_us),
            l.count
        );
    }
    if !r.errors.is_empty() {
        let _ = writeln!(s, "errors:");
        for e in r.errors.iter().take(10) {
            let _ = writeln!(
                s,
                "  {:>8}  {} {}: {}",
                e.count,
                e.flow,
                e.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                e.message.replace('\n', "\\n")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_with_weights_and_suggest_on_a_typo() {
        assert_eq!(
            parse_mix("aws-iam=3,gcp-iam").unwrap(),
            vec![("aws-iam".into(), 3), ("gcp-iam".into(), 1)]
        );
        assert!(parse_mix("aws-iam=0")
            .unwrap_err()
            .contains("not a whole number above 0"));
        assert!(parse_mix("aws-im")
            .unwrap_err()
            .contains("did you mean `aws-iam`?"));
    }

    #[test]
    fn workers_of_one_job_add_distinct_mounts() {
        // Same process id in every pod: the worker index and a random part keep them apart.
        let (a, b) = (run_id(0), run_id(1));
        assert_ne!(a, b);
        assert!(a.starts_with("bench") && a.ends_with("w0"), "{a}");
        assert!(b.ends_with("w1"), "{b}");
    }

    #[test]
    fn faults_parse_from_the_short_form() {
        let f = parse_fault("aws:sts:latency=20ms").unwrap();
        assert_eq!(f.kind, FaultKind::Latency(Duration::from_millis(20)));
        assert_eq!(f.matches.action.as_deref(), Some("GetCallerIdentity"));
        let f = parse_fault("google:certs:status=503@0.5").unwrap();
        assert_eq!(f.probability, Some(0.5));
        assert!(parse_fault("aws:sts").unwrap_err().contains("three parts"));
        assert!(parse_fault("aws:sts:latency=fast")
            .unwrap_err()
            .contains("not a latency"));
        assert!(parse_fault("azure:x:drop")
            .unwrap_err()
            .contains("unknown listener"));
    }
}
