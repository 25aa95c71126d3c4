//! The command line (DESIGN.md "Command line": the contract users and scripts rely on).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "authsim",
    version,
    about = "Multi-cloud login simulator and test harness for HashiCorp Vault",
    long_about = "Multi-cloud login simulator and test harness for HashiCorp Vault: mock Google \
                  Cloud and AWS that behave like the real APIs (real RS256 signatures, real SigV4 \
                  verification, exact error envelopes) with deterministic identities from a world \
                  file; a mock Vault whose GCP and AWS logins answer as Vault's do; scenarios run \
                  against it or a real Vault; and a load generator that signs every login fresh.",
    after_help = "Examples:\n  authsim serve                                   # mocks on 127.0.0.1:4580 (Google), :4566 (AWS), :8200 (Vault)\n  authsim serve --google-port 0 --aws-port 0 --write-endpoints ep.json\n  authsim world show --json | jq .aws\n  authsim run --report-junit junit.xml            # the catalogue in scenarios/, embedded mock Vault\n  authsim bench --flow aws-iam --rate 500 --duration 30s"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the cloud mocks and the mock Vault and keep them running until SIGINT/SIGTERM.
    #[command(
        after_help = "Examples:\n  authsim serve\n  authsim serve --world my-world.toml --write-env authsim.env\n  authsim serve --aws-port 0 --google-port 0 --write-endpoints endpoints.json\n\n\
Prints one line per listener, then `ready` once every file is written."
    )]
    Serve(ServeArgs),
    /// Inspect a world file: identities, key ids, credentials, roles.
    World {
        #[command(subcommand)]
        command: WorldCommand,
    },
    /// Run scenario files against the embedded mock Vault or a real Vault.
    #[command(after_help = "Examples:\n  \
authsim run                                         # the catalogue in scenarios/, embedded mock Vault\n  \
authsim run scenarios/aws --tag server-id --report-junit junit.xml\n  \
authsim run --check my-scenarios/                   # validate files without running them\n  \
VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root authsim run --vault-addr \"$VAULT_ADDR\" --report-json new.json\n\n\
Exit codes: 0 all passed, 1 a scenario failed, 2 usage, configuration or infrastructure error.")]
    Run(RunArgs),
    /// Compare two `run --report-json` reports: every changed status, error string, policy,
    /// metadata value and outcome, plus added and removed scenarios.
    #[command(after_help = "Examples:\n  \
authsim compare vault-1.17.json vault-1.18.json\n  \
authsim compare old.json new.json --format markdown > comment.md\n\n\
Exit codes: 0 nothing changed (or --allow-changes), 1 something changed, 2 unreadable reports.")]
    Compare(CompareArgs),
    /// Load-test Vault's auth endpoints: every login signed fresh, open or closed model, HDR
    /// percentiles, mergeable reports.
    #[command(after_help = "Examples:\n  \
authsim bench --flow aws-iam --rate 500 --duration 30s\n  \
authsim bench --mix aws-iam=3,gcp-iam=1 --profile '100,30s;500,1m;0,10s' --report-json run.json\n  \
authsim bench --flow gcp-iam --concurrency 16 --duration 1m --threshold 'p99<50ms' --threshold 'error_rate<0.1%'\n  \
authsim bench --flow aws-iam --rate 200 --fault 'aws:sts:latency=20ms'\n  \
authsim bench --flow aws-iam --rate 1000 --vault-addr http://vault:8200 --identities 4 --workers 4 --worker-index 0\n\n\
Flows: gcp-iam, gcp-iam-self-signed, gcp-gce, aws-iam, aws-ec2, approle, userpass, token-lookup, kv-read, health.\n\
Exit codes: 0 done and every threshold held, 1 a threshold failed, 2 usage or infrastructure error.")]
    Bench(BenchArgs),
    /// Merge `bench --report-json` reports from several workers into one (to stdout).
    #[command(
        after_help = "Examples:\n  authsim merge worker-*.json > merged.json\n  authsim merge a.json b.json --threshold 'p99<50ms' > merged.json"
    )]
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The flow to run (see the list below); or use --mix.
    #[arg(long, value_name = "FLOW", conflicts_with = "mix")]
    pub flow: Option<String>,
    /// Weighted flows: `aws-iam=3,gcp-iam=1`.
    #[arg(long, value_name = "FLOW=W,...")]
    pub mix: Option<String>,
    /// Open model: requests started per second, on schedule whatever the latency.
    #[arg(long, value_name = "R", conflicts_with_all = ["profile", "concurrency"])]
    pub rate: Option<f64>,
    /// Open model with steps: `RATE,DURATION;...` (e.g. `100,30s;500,1m;0,10s`); replaces --duration.
    #[arg(long, value_name = "STEPS", conflicts_with = "concurrency")]
    pub profile: Option<String>,
    /// Closed model: this many clients, each sending its next request when the last is answered.
    #[arg(long, value_name = "C")]
    pub concurrency: Option<usize>,
    /// How long to measure.
    #[arg(long, default_value = "10s", value_name = "D")]
    pub duration: String,
    /// Run this long first without measuring (connections, caches).
    #[arg(long, default_value = "0s", value_name = "D")]
    pub warmup: String,
    /// Open model: at most this many outstanding requests; intended requests beyond it are
    /// counted as dropped.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_in_flight: usize,
    /// Threads sending the load and serving the embedded mocks, each with its share of the
    /// clients and of the mocks' connections (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Distinct identities per cloud flow, created in the world and bound in Vault.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub identities: usize,
    /// Sign N logins ahead of time and cycle through them, to isolate Vault's own cost
    /// (0: a fresh signature per login).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub presign: usize,
    #[command(flatten)]
    pub world: WorldArg,
    /// A real Vault to load instead of the embedded mock.
    #[arg(long, env = "VAULT_ADDR", value_name = "URL")]
    pub vault_addr: Option<String>,
    /// A token for --vault-addr that may write sys/auth, sys/policies and the secrets.
    #[arg(
        long,
        env = "VAULT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub vault_token: Option<String>,
    /// PEM file of CA certificates the Vault's TLS certificate chains to, trusted besides the
    /// public roots (as the Vault CLI's VAULT_CACERT): for a Vault behind a private CA.
    #[arg(long, env = "VAULT_CACERT", value_name = "FILE")]
    pub vault_cacert: Option<PathBuf>,
    /// Address the cloud mocks bind when the target is a real Vault.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub mocks_bind: IpAddr,
    /// The host Vault should use to reach the cloud mocks, when it differs from --mocks-bind
    /// (e.g. 0.0.0.0 bound, the pod's IP advertised).
    #[arg(long, env = "AUTHSIM_MOCKS_ADVERTISE", value_name = "HOST")]
    pub mocks_advertise: Option<String>,
    /// Cloud-side conditions during the run: `aws:sts:latency=20ms`, `google:certs:status=503`,
    /// `aws:sts:throttle`, optionally `@0.1` for a probability (repeatable).
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<String>,
    /// Fail (exit 1) unless this holds: `p99<50ms`, `p50<=10ms`, `max<1s`, `error_rate<0.1%`,
    /// `rate>=1000` (repeatable).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Total workers of a distributed run; this worker takes its share of the rate and identities.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = at_least_one::<u32>)]
    pub workers: u32,
    /// This worker's index, 0-based (in a Kubernetes Indexed Job: JOB_COMPLETION_INDEX).
    #[arg(
        long,
        env = "JOB_COMPLETION_INDEX",
        default_value_t = 0,
        value_name = "I"
    )]
    pub worker_index: u32,
    /// Write the JSON report (mergeable; schema in README).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write an SVG plot: latency percentile spectrum and throughput over time.
    #[arg(long, value_name = "FILE")]
    pub report_svg: Option<PathBuf>,
    /// Write a self-contained HTML report.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Plain progress lines even on a terminal.
    #[arg(long)]
    pub no_live: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Worker reports (`bench --report-json`).
    #[arg(value_name = "REPORT.json", required = true)]
    pub reports: Vec<PathBuf>,
    /// Check thresholds on the merged report (exit 1 when one fails).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Also write an SVG plot of the merged report.
    #[arg(long, value_name = "FILE")]
    pub report_svg: Option<PathBuf>,
    /// Also write an HTML report of the merged report.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories (walked for `*.toml`, `world.toml` excepted); none: the
    /// built-in catalogue (the repository's `scenarios/`, from any directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub world: WorldArg,
    /// A real Vault to run against instead of the embedded mock; the runner provisions each
    /// scenario into uniquely named mounts and removes them afterwards.
    #[arg(long, env = "VAULT_ADDR", value_name = "URL")]
    pub vault_addr: Option<String>,
    /// A token for --vault-addr that may write sys/auth, sys/policies and the secrets.
    #[arg(
        long,
        env = "VAULT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub vault_token: Option<String>,
    /// PEM file of CA certificates the Vault's TLS certificate chains to, trusted besides the
    /// public roots (as the Vault CLI's VAULT_CACERT): for a Vault behind a private CA.
    #[arg(long, env = "VAULT_CACERT", value_name = "FILE")]
    pub vault_cacert: Option<PathBuf>,
    /// Address the cloud mocks bind when the target is a real Vault (it must reach them).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub mocks_bind: IpAddr,
    /// The host Vault should use to reach the cloud mocks, when it differs from --mocks-bind
    /// (e.g. 0.0.0.0 bound, the pod's IP advertised).
    #[arg(long, env = "AUTHSIM_MOCKS_ADVERTISE", value_name = "HOST")]
    pub mocks_advertise: Option<String>,
    /// Only scenarios with this tag (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only scenarios whose id or name contains this text.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Scenarios run at once (each in its own simulation); twice the number of CPUs by default.
    #[arg(long, value_name = "N", value_parser = at_least_one::<usize>)]
    pub jobs: Option<usize>,
    /// Validate the files and exit without running anything.
    #[arg(long)]
    pub check: bool,
    /// Print every step's answer, not only failures.
    #[arg(long, short)]
    pub verbose: bool,
    /// Write the JSON report (schema in scenarios/README.md).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// Write a markdown summary (for pull-request comments).
    #[arg(long, value_name = "FILE")]
    pub report_markdown: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The report of the Vault you run today.
    #[arg(value_name = "OLD.json")]
    pub old: PathBuf,
    /// The report of the Vault you are moving to.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: CompareFormat,
    /// Exit 0 even when something changed.
    #[arg(long)]
    pub allow_changes: bool,
}

#[derive(Debug, Args)]
pub struct WorldArg {
    /// World file (TOML); the built-in default world when omitted.
    #[arg(long, env = "AUTHSIM_WORLD", value_name = "FILE")]
    pub world: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub world: WorldArg,
    /// Address every listener binds. Beyond loopback the admin API needs --admin-token.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Mock Vault port (`/v1/…`, dev-server-like: unsealed, root token, KV v2 at secret/); 0 picks a free port.
    #[arg(long, default_value_t = 8200, value_name = "PORT")]
    pub vault_port: u16,
    /// Mock AWS port (STS, IAM, EC2, instance metadata); 0 picks a free port.
    #[arg(long, default_value_t = 4566, value_name = "PORT")]
    pub aws_port: u16,
    /// Mock Google port (iamcredentials, IAM, certs, OAuth2, metadata, Compute, CRM); 0 picks a free port.
    #[arg(long, default_value_t = 4580, value_name = "PORT")]
    pub google_port: u16,
    /// Do not start the mock Vault.
    #[arg(long)]
    pub no_vault: bool,
    /// Start the mock Vault sealed (5 key shares, 3 to unseal); the keys are printed and written
    /// to the endpoints file.
    #[arg(long, conflicts_with = "no_vault")]
    pub sealed: bool,
    /// Bearer token for the admin API (`/__authsim/…`); required when binding beyond loopback.
    #[arg(
        long,
        env = "AUTHSIM_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Start the shared clock at this RFC 3339 time and move it only through the admin API.
    #[arg(long, value_name = "TIME")]
    pub manual_clock: Option<String>,
    /// The Vault release line the mock Vault behaves like where lines differ (see
    /// mocks/src/vault/VERSIONS.md): 1.17 (default) or 1.16.
    #[arg(long, value_name = "LINE", default_value = "1.17", value_parser = ["1.16", "1.17"], conflicts_with = "no_vault")]
    pub vault_compat: String,
    /// Behave as a Vault whose server configuration sets `imprecise_lease_role_tracking`: a
    /// successful aws iam login calls STS once (by default, as Vault 1.16 and later, twice).
    #[arg(long, conflicts_with = "no_vault")]
    pub imprecise_lease_role_tracking: bool,
    /// Write a dotenv file (VAULT_ADDR, AWS_*, GOOGLE_APPLICATION_CREDENTIALS, GCE_METADATA_HOST…).
    #[arg(long, value_name = "FILE")]
    pub write_env: Option<PathBuf>,
    /// Write JSON with every listener's URL and the default identities' credentials.
    #[arg(long, value_name = "FILE")]
    pub write_endpoints: Option<PathBuf>,
    /// Threads serving the listeners, each taking connections in turn (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum WorldCommand {
    /// Print the world's identities, key ids, credentials and roles.
    Show {
        #[command(flatten)]
        world: WorldArg,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// A whole number of 1 or more (`--jobs`, `--workers`).
fn at_least_one<T: std::str::FromStr + PartialOrd + From<u8>>(s: &str) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        _ => Err("give a whole number of 1 or more".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_defaults_follow_the_design() {
        let cli = Cli::try_parse_from(["authsim", "serve"]).unwrap();
        let Command::Serve(s) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(
            (s.vault_port, s.aws_port, s.google_port),
            (8200, 4566, 4580)
        );
        assert_eq!(s.bind.to_string(), "127.0.0.1");
    }

    #[test]
    fn sealed_and_no_vault_conflict() {
        let e = Cli::try_parse_from(["authsim", "serve", "--sealed", "--no-vault"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn a_bad_port_is_a_usage_error() {
        let e = Cli::try_parse_from(["authsim", "serve", "--aws-port", "70000"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
