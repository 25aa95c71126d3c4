//! One scenario's world: its own simulation and cloud mocks, and the Vault it runs against
//! (an in-process mock Vault, or a real Vault provisioned into uniquely named mounts).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use authsim_mocks::clock::{Clock, ManualClock, SystemClock};
use authsim_mocks::{worldfile, MockCloud, MockCloudOptions, Sim};

use crate::provision::{self, Endpoints, VaultSpec};
use crate::scenario::Scenario;

/// Where the scenarios run.
#[derive(Debug, Clone)]
pub enum TargetConfig {
    /// A mock Vault in this process, one per scenario.
    Embedded,
    /// A real Vault (or the mock as another process) reached only through its HTTP API.
    Vault {
        addr: String,
        token: String,
        mocks_bind: IpAddr,
        /// The host written into Vault's configuration for the mocks (`--mocks-advertise`);
        /// the bound address when `None`.
        mocks_advertise: Option<String>,
    },
}

impl TargetConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            TargetConfig::Embedded => "embedded",
            TargetConfig::Vault { .. } => "vault",
        }
    }
}

/// What every scenario of a run shares.
#[derive(Debug)]
pub struct RunConfig {
    /// The world file's name (for errors) and text.
    pub world_file: String,
    pub world_text: String,
    pub target: TargetConfig,
    pub http: reqwest::Client,
    /// Distinguishes this run's mounts on a shared Vault.
    pub run_id: String,
    /// Runtimes beside the caller's that serve the mocks' connections too (`bench` runs one
    /// per core; see `crate::runtimes`).
    pub extra_runtimes: Vec<tokio::runtime::Handle>,
}

/// How an [`Env`] that could not provision its Vault begins its error.
pub const PROVISIONING_FAILED: &str = "provisioning the scenario's Vault failed";

/// A scenario's running environment.
#[derive(Debug)]
pub struct Env {
    pub sim: Sim,
    /// The scenario's manual clock, or the system clock for `bench` (see [`Env::start_with_clock`]).
    pub clock: Arc<dyn Clock>,
    pub cloud: MockCloud,
    pub vault_addr: String,
    pub root_token: String,
    /// Mount path as the scenario names it → the mount on the target.
    pub mounts: BTreeMap<String, String>,
    pub google: String,
    pub aws: String,
    pub http: reqwest::Client,
    /// The Vault is this process's mock (gone after the run).
    pub embedded: bool,
    /// Auth mounts to disable afterwards (real Vault).
    cleanup: Vec<String>,
}

static SCENARIO_SEQ: AtomicU64 = AtomicU64::new(0);

/// The world text with the scenario's overrides merged in (tables deep-merged, other values
/// replaced).
pub fn merged_world(base: &str, overrides: &toml::Table) -> Result<String, String> {
    let mut t: toml::Table = base
        .parse()
        .map_err(|e: toml::de::Error| format!("the base world: {}", e.message()))?;
    merge(&mut t, overrides);
    toml::to_string(&t).map_err(|e| format!("cannot write the merged world: {e}"))
}

fn merge(into: &mut toml::Table, from: &toml::Table) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A scenario's clock: manual, starting at `now` cut to the whole second, so that time
/// boundaries are exact (a JWT `exp` of now + 900 is exactly 900 s away, not 899.4).
pub fn scenario_clock(now: SystemTime) -> ManualClock {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    ManualClock::at_unix(secs)
}

impl Env {
    /// Starts the scenario's mocks and provisions its Vault. Errors are one line: the scenario
    /// cannot run (an `error` outcome, not a failure).
    pub async fn start(cfg: &RunConfig, s: &Scenario) -> Result<Env, String> {
        Self::start_with_clock(cfg, s, Arc::new(scenario_clock(SystemClock.now()))).await
    }

    /// As [`Env::start`], on `clock`. A load test runs on the system clock: on a clock that does
    /// not move, the mock Vault's tokens never expire (its memory grows for the whole run) and a
    /// JWT's `exp` stays where it was at the start, which a real Vault refuses once that time has
    /// passed.
    pub async fn start_with_clock(
        cfg: &RunConfig,
        s: &Scenario,
        clock: Arc<dyn Clock>,
    ) -> Result<Env, String> {
        let world = match &s.world {
            None => worldfile::parse(&cfg.world_file, &cfg.world_text, clock.now())
                .map_err(|e| e.to_string())?,
            Some(o) => {
                let text = merged_world(&cfg.world_text, o)?;
                worldfile::parse(&format!("{} [world] merged", s.file), &text, clock.now())
                    .map_err(|e| format!("the scenario's [world] does not load: {}", e.message))?
            }
        };
        let sim = Sim::new(world, clock.clone());
        if let TargetConfig::Vault {
            mocks_bind,
            mocks_advertise: None,
            ..
        } = &cfg.target
        {
            if mocks_bind.is_unspecified() {
                return Err(format!(
                    "--mocks-bind {mocks_bind} needs --mocks-advertise HOST: the address the Vault reaches the cloud mocks at"
                ));
            }
        }
        let (bind, vault_port) = match &cfg.target {
            TargetConfig::Embedded => (IpAddr::from([127, 0, 0, 1]), Some(0)),
            TargetConfig::Vault { mocks_bind, .. } => (*mocks_bind, None),
        };
        let cloud = MockCloud::start(
            sim.clone(),
            MockCloudOptions {
                bind,
                google_port: Some(0),
                aws_port: Some(0),
                vault_port,
                // Beyond loopback the admin API needs a token; the runner never uses it.
                admin_token: (!bind.is_loopback()).then(|| cfg.run_id.clone()),
                extra_runtimes: cfg.extra_runtimes.clone(),
                ..MockCloudOptions::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let advertise = |url: String| match &cfg.target {
            TargetConfig::Vault {
                mocks_advertise: Some(host),
                ..
            } => match url.rsplit_once(':') {
                Some((_, port)) => format!("http://{host}:{port}"),
                None => url,
            },
            _ => url,
        };
        let google = advertise(cloud.google_url().unwrap_or_default());
        let aws = advertise(cloud.aws_url().unwrap_or_default());
        let (vault_addr, root_token) = match (&cfg.target, &cloud.vault_state) {
            (TargetConfig::Embedded, Some(v)) => {
                (cloud.vault_url().unwrap_or_default(), v.root_token())
            }
            (TargetConfig::Vault { addr, token, .. }, _) => {
                (addr.trim_end_matches('/').to_owned(), token.clone())
            }
            (TargetConfig::Embedded, None) => return Err("the mock Vault did not start".into()),
        };
        let (mut spec, ep) = {
            let world = sim.world();
            let spec = VaultSpec::parse(&world.vault.raw_toml).map_err(|e| e.to_string())?;
            let ep = Endpoints::resolve(&spec, &world, &google, &aws).map_err(|e| e.to_string())?;
            (spec, ep)
        };
        let mut mounts: BTreeMap<String, String> =
            spec.auth.keys().map(|k| (k.clone(), k.clone())).collect();
        let mut cleanup = Vec::new();
        if let TargetConfig::Vault { .. } = cfg.target {
            // A shared Vault: every scenario gets its own auth mounts, removed afterwards.
            let n = SCENARIO_SEQ.fetch_add(1, Ordering::Relaxed);
            let mut renamed = BTreeMap::new();
            for (path, mut m) in std::mem::take(&mut spec.auth) {
                let unique = format!("authsim-{}-{n}-{path}", cfg.run_id);
                mounts.insert(path.clone(), unique.clone());
                m.path.clone_from(&unique);
                cleanup.push(unique.clone());
                renamed.insert(unique, m);
            }
            spec.auth = renamed;
        }
        let env = Env {
            sim,
            clock,
            cloud,
            vault_addr,
            root_token,
            mounts,
            google,
            aws,
            http: cfg.http.clone(),
            embedded: matches!(cfg.target, TargetConfig::Embedded),
            cleanup,
        };
        if let Err(e) =
            provision::apply(&env.http, &env.vault_addr, &env.root_token, &spec, &ep).await
        {
            let msg = format!("{PROVISIONING_FAILED}: {e}");
            env.stop().await;
            return Err(msg);
        }
        Ok(env)
    }

    /// The mount a step names, as mounted on the target.
    pub fn mount(&self, name: &str) -> String {
        self.mounts
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    }

    /// Removes what the scenario added to a shared Vault, and stops the mocks.
    pub async fn stop(self) {
        for m in &self.cleanup {
            let removed = self
                .http
                .delete(format!("{}/v1/sys/auth/{m}", self.vault_addr))
                .header("X-Vault-Token", &self.root_token)
                .send()
                .await;
            // A Vault that went away or failed (not one that refuses a token, which provisioning
            // has said already) may keep the mount: say so, for someone to remove it by hand.
            let why = match removed {
                Ok(r) if !r.status().is_server_error() => continue,
                Ok(r) => format!("Vault answered {}", r.status().as_u16()),
                Err(e) => crate::provision::error_chain(&e),
            };
            crate::eline!(
                "warning: could not remove the auth mount {m} from {} ({why}): remove it with `vault auth disable {m}`",
                self.vault_addr
            );
        }
        self.cloud.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_scenario_clock_starts_on_the_whole_second_before_now() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_750);
        let c = scenario_clock(now);
        assert_eq!(c.now(), UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    }

    /// A token of the embedded Vault with a 1 s TTL and a lookup of it 1.2 s later.
    async fn token_lookup_after_its_ttl(clock: Arc<dyn Clock>) -> u16 {
        let cfg = RunConfig {
            world_file: "world.toml".into(),
            world_text: authsim_mocks::worldfile::DEFAULT_WORLD.into(),
            target: TargetConfig::Embedded,
            http: reqwest::Client::new(),
            run_id: "clock-test".into(),
            extra_runtimes: Vec::new(),
        };
        let s = crate::scenario::Scenario {
            id: "clock".into(),
            file: "clock.toml".into(),
            name: "clock".into(),
            description: None,
            tags: Vec::new(),
            targets: Vec::new(),
            world: None,
            steps: Vec::new(),
        };
        let env = Env::start_with_clock(&cfg, &s, clock).await.unwrap();
        let created: serde_json::Value = env
            .http
            .post(format!("{}/v1/auth/token/create", env.vault_addr))
            .header("X-Vault-Token", &env.root_token)
            .json(&serde_json::json!({ "ttl": "1s", "policies": ["default"] }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = created["auth"]["client_token"].as_str().unwrap().to_owned();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let status = env
            .http
            .get(format!("{}/v1/auth/token/lookup-self", env.vault_addr))
            .header("X-Vault-Token", &token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        env.stop().await;
        status
    }

    #[tokio::test]
    async fn tokens_expire_on_the_system_clock_and_wait_for_a_scenario_clock() {
        // `bench` runs on the system clock: its Vault's tokens expire as the run goes on.
        let (system, scenario) = tokio::join!(
            token_lookup_after_its_ttl(Arc::new(SystemClock)),
            token_lookup_after_its_ttl(Arc::new(scenario_clock(SystemClock.now())))
        );
        assert_eq!(system, 403, "expired on the system clock");
        assert_eq!(scenario, 200, "a scenario's clock moves only when told to");
    }
}
