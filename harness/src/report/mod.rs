//! A run's results as data ([`RunReport`]), and their renderings: the console
//! ([`console`]), JSON (this module's serde shape, schema in `scenarios/README.md`), JUnit XML
//! ([`junit`]) and markdown ([`markdown`]).
//!
//! The JSON shape is a contract (`authsim compare` reads two of them): fields are only added,
//! and `schema_version` changes when one changes meaning.

pub mod console;
pub mod junit;
pub mod markdown;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bumped when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub authsim_version: String,
    pub target: Target,
    /// RFC 3339, wall clock.
    pub started_at: String,
    pub duration_ms: u64,
    pub summary: Summary,
    pub scenarios: Vec<ScenarioResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// `embedded` (an in-process mock Vault per scenario) or `vault` (`--vault-addr`).
    pub kind: String,
    /// The Vault address; absent for `embedded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `sys/seal-status`'s `version`, when Vault told it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_version: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    /// The runner could not run the scenario (provisioning refused, a world override that does
    /// not load, a mock that did not start).
    pub errored: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn of<'a>(scenarios: impl IntoIterator<Item = &'a ScenarioResult>) -> Summary {
        let mut s = Summary::default();
        for r in scenarios {
            s.total += 1;
            match r.outcome {
                Outcome::Passed => s.passed += 1,
                Outcome::Failed => s.failed += 1,
                Outcome::Error => s.errored += 1,
                Outcome::Skipped => s.skipped += 1,
            }
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Error,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// `aws/server_id_header_unsigned`: the file path under the catalogue root, without `.toml`.
    pub id: String,
    pub file: String,
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// Why the scenario was skipped, or could not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub steps: Vec<StepResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// 1-based.
    pub index: usize,
    /// The action as written: `aws_login`, `vault_read`, `advance_clock`…
    pub kind: String,
    pub label: String,
    /// The step's line in the scenario file.
    pub line: usize,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// What came back; empty for steps without an answer (`advance_clock`).
    #[serde(default)]
    pub observed: Observed,
    /// The expectations that did not hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Mismatch>,
    /// Why the step could not run (the runner's error, not the target's answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The request, as a `curl` command line with secrets redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curl: Option<String>,
}

/// The comparable facts of an answer. `compare` diffs these field by field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Vault's (or the cloud's) error strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The token's policies, sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    /// `auth.metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// `auth.lease_duration`, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<u64>,
    /// The fields an expectation named by JSON pointer, and their values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Value>,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mismatch {
    /// `status`, `error`, `error_contains`, `policies`, `metadata.role`, `token_ttl`,
    /// `json /auth/renewable`, `upstream aws_sts calls`…
    pub check: String,
    pub expected: Value,
    pub actual: Value,
}

impl RunReport {
    pub fn failed(&self) -> bool {
        self.summary.failed > 0 || self.summary.errored > 0
    }
}

/// Reports for the renderers' and `compare`'s unit tests.
#[cfg(test)]
pub(crate) mod sample {
    use super::*;

    pub(crate) fn step(index: usize, kind: &str, status: u16, errors: &[&str]) -> StepResult {
        StepResult {
            index,
            kind: kind.to_owned(),
            label: kind.to_owned(),
            line: 2 + 4 * index,
            outcome: Outcome::Passed,
            duration_ms: 3,
            observed: Observed {
                status: Some(status),
                errors: errors.iter().map(|e| (*e).to_owned()).collect(),
                ..Observed::default()
            },
            failures: Vec::new(),
            error: None,
            curl: None,
        }
    }

    pub(crate) fn scenario(id: &str, steps: Vec<StepResult>) -> ScenarioResult {
        let outcome = steps
            .iter()
            .map(|s| s.outcome)
            .find(|o| *o != Outcome::Passed)
            .unwrap_or(Outcome::Passed);
        ScenarioResult {
            id: id.to_owned(),
            file: format!("scenarios/{id}.toml"),
            name: format!("{id}: what it checks"),
            tags: Vec::new(),
            outcome,
            duration_ms: 14,
            message: None,
            steps,
        }
    }

    pub(crate) fn report(scenarios: Vec<ScenarioResult>) -> RunReport {
        RunReport {
            schema_version: SCHEMA_VERSION,
            authsim_version: "0.1.0".to_owned(),
            target: Target {
                kind: "vault".to_owned(),
                addr: Some("http://127.0.0.1:8200".to_owned()),
                vault_version: Some("1.17.0".to_owned()),
            },
            started_at: "2026-11-24T03:00:00Z".to_owned(),
            duration_ms: 1812,
            summary: Summary::of(&scenarios),
            scenarios,
        }
    }

    /// A failed step: expected `invalid password`, got Vault's message; with its curl.
    pub(crate) fn failed_step() -> StepResult {
        let mut s = step(1, "userpass_login", 400, &["invalid username or password"]);
        s.outcome = Outcome::Failed;
        s.failures.push(Mismatch {
            check: "error".to_owned(),
            expected: Value::from("invalid password"),
            actual: Value::from(vec!["invalid username or password"]),
        });
        s.curl = Some(
            "curl -sS -X POST --data '{\"password\":\"<redacted>\"}' \"$VAULT_ADDR\"'/v1/auth/userpass/login/bob'"
                .to_owned(),
        );
        s
    }
}
