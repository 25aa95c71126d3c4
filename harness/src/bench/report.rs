//! A load run's results as data ([`BenchReport`]): what `authsim bench --report-json` writes and
//! `authsim merge` reads. Latencies are kept as HDR histograms (serialised V2 + deflate, base64)
//! so that reports from many workers merge exactly; the percentiles next to them are for
//! reading, and are recomputed on merge.
//!
//! The JSON shape is a contract: fields are only added, and `schema_version` changes when one
//! changes meaning.

use std::collections::BTreeMap;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;
/// `kind` of a bench report (a run report has none).
pub const KIND: &str = "authsim.bench";

/// Stages a request's time is split into (the histograms' keys).
pub mod stage {
    /// From the intended start (open model) or the send (closed model) to the answer.
    pub const TOTAL: &str = "total";
    /// The client building and signing its login material (SigV4, RS256 self-signed).
    pub const SIGN: &str = "sign";
    /// The iamcredentials `signJwt` round trip (gcp-iam through Google).
    pub const SIGN_JWT: &str = "sign_jwt";
    /// The Vault request (login, lookup, read).
    pub const VAULT: &str = "vault";
    /// Time Vault spent waiting on the cloud mocks (STS, Google), from the mocks' own journal.
    pub const UPSTREAM: &str = "upstream";
    /// How late the request was sent after its intended start (open model).
    pub const SCHEDULE_LAG: &str = "schedule_lag";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema_version: u32,
    /// Always [`KIND`].
    pub kind: String,
    pub authsim_version: String,
    pub config: BenchConfig,
    /// The measured window (warm-up excluded), wall clock, Unix milliseconds.
    pub window: Window,
    pub counts: Counts,
    /// Answered requests (ok + errors) per second over the window.
    pub throughput: f64,
    /// Percentiles of the `total` stage, microseconds.
    pub latency: Latency,
    /// Percentiles per stage, microseconds.
    pub stages: BTreeMap<String, Latency>,
    /// Stage → histogram (microseconds), V2 + deflate, base64.
    pub histograms: BTreeMap<String, String>,
    /// Errors by kind, most frequent first.
    pub errors: Vec<ErrorCount>,
    /// One entry per wall-clock second of the window.
    pub timeline: Vec<Second>,
    /// How many worker reports this one is made of (1 unless merged).
    pub workers: u32,
    /// `--threshold` verdicts, in the order given (absent when none was given). A merged report
    /// has the verdicts of `merge --threshold`, not the workers'.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdVerdict>,
}

/// One `--threshold` checked against the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdVerdict {
    /// The expression as given (`p99<50ms`).
    pub threshold: String,
    pub pass: bool,
    /// The measured value (`12.3 ms`), or why there is none.
    pub actual: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Flow → weight (`{"aws-iam": 3, "gcp-iam": 1}`; one flow has weight 1).
    pub flows: BTreeMap<String, u32>,
    /// `open` (arrival rate) or `closed` (concurrency).
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// `--profile` as given (`"100,30s;500,1m"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    pub duration_ms: u64,
    pub warmup_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    pub identities: usize,
    /// Logins signed ahead of time (0: a fresh signature per login).
    pub presign: usize,
    /// `embedded` or `vault`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_version: Option<String>,
    /// `--fault` as given.
    #[serde(default)]
    pub faults: Vec<String>,
    /// `--workers` and `--worker-index`, when split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerSplit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSplit {
    pub workers: u32,
    pub index: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start_unix_ms: u64,
    pub end_unix_ms: u64,
    /// When the last answer came: after `end_unix_ms` when requests were still in flight as
    /// the window closed (a Vault that could not keep up). 0 in reports before it was added.
    #[serde(default)]
    pub last_answer_unix_ms: u64,
}

impl Window {
    pub fn secs(&self) -> f64 {
        self.end_unix_ms.saturating_sub(self.start_unix_ms) as f64 / 1000.0
    }

    /// What `throughput` divides by: the window, or up to the last answer if that came later.
    pub fn answered_secs(&self) -> f64 {
        self.end_unix_ms
            .max(self.last_answer_unix_ms)
            .saturating_sub(self.start_unix_ms) as f64
            / 1000.0
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Requests sent in the window.
    pub sent: u64,
    /// Answered with the flow's success status.
    pub ok: u64,
    /// Answered with another status, or failed (connection refused, timeout).
    pub errors: u64,
    /// Of the errors, those with no answer at all (connection refused, timeout, a local
    /// limit such as open files): not part of `throughput`.
    #[serde(default)]
    pub unanswered: u64,
    /// Sent but still waiting for an answer when the run ended (a signal, or a target slower
    /// than the drain after the window): in no other count; the `errors` and `error_rate`
    /// thresholds count them as errors.
    #[serde(default)]
    pub abandoned: u64,
    /// Open model: intended requests not sent because `--max-in-flight` were outstanding.
    pub dropped: u64,
    /// Open model: requests sent more than 1 ms after their intended start (the generator or
    /// the machine could not keep up; their latency counts from the intended start).
    pub late: u64,
}

/// Percentiles, microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCount {
    /// The flow that failed.
    pub flow: String,
    /// HTTP status; absent for transport errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Vault's error string, or the transport error.
    pub message: String,
    pub count: u64,
}

impl ErrorCount {
    /// Counts by (flow, status, message) as the report lists them: most frequent first, then by
    /// message.
    pub fn ranked(
        counts: impl IntoIterator<Item = ((String, Option<u16>, String), u64)>,
    ) -> Vec<ErrorCount> {
        let mut errors: Vec<ErrorCount> = counts
            .into_iter()
            .map(|((flow, status, message), count)| ErrorCount {
                flow,
                status,
                message,
                count,
            })
            .collect();
        errors.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.message.cmp(&b.message))
        });
        errors
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// The second's start, Unix seconds.
    pub unix_s: u64,
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    /// Of the requests sent in this second (however late answered), microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
}

/// A histogram of microseconds: 1 µs to 1 h, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// V2 + deflate, base64.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serialising into a Vec cannot fail for a histogram with valid bounds.
    if V2DeflateSerializer::new().serialize(h, &mut buf).is_err() {
        buf.clear();
    }
    base64::engine::general_purpose::STANDARD.encode(buf)
}

pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_through_text() {
        let mut h = new_histogram();
        for v in [100, 200, 300, 5_000, 1_000_000] {
            h.record(v).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(Latency::of(&back), Latency::of(&h));
    }
}
