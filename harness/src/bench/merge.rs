//! `authsim merge`: the workers' reports of one distributed run, as one report.
//!
//! Histograms are added per stage and the percentiles recomputed from the sums (percentiles
//! themselves do not add up); counts and errors by kind are summed; timelines are aligned on
//! the wall-clock second; the window runs from the earliest start to the latest end.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr as _;

use super::report::{self, BenchReport, ErrorCount, Latency, Second, Window};
use super::threshold::{self, Threshold};
use crate::cli::MergeArgs;

/// Runs `merge`; returns the exit code.
pub fn main(args: &MergeArgs) -> i32 {
    let thresholds = match args
        .thresholds
        .iter()
        .map(|t| Threshold::from_str(t).map_err(|e| format!("--threshold '{t}': {e}")))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(t) => t,
        Err(e) => {
            crate::eline!("error: {e}");
            return crate::exit::ERROR;
        }
    };
    // Where the merged plots go is checked before anything is read or written.
    for (flag, path) in [
        ("--report-svg", &args.report_svg),
        ("--report-html", &args.report_html),
    ] {
        if let Some(p) = path {
            if let Err(e) = crate::check_report_path(flag, p) {
                crate::eline!("error: {e}");
                return crate::exit::ERROR;
            }
        }
    }
    let mut named = Vec::new();
    for path in &args.reports {
        match read(path) {
            Ok(r) => named.push((path.display().to_string(), r)),
            Err(e) => {
                crate::eline!("error: {}: {e}", path.display());
                return crate::exit::ERROR;
            }
        }
    }
    let mut merged = match merge(&named) {
        Ok(m) => m,
        Err(e) => {
            crate::eline!("error: {e}");
            return crate::exit::ERROR;
        }
    };
    for w in &merged.warnings {
        crate::eline!("warning: {w}");
    }
    let (verdicts, all_pass) = threshold::check_all(&thresholds, &merged.report);
    merged.report.thresholds = thresholds
        .iter()
        .zip(&verdicts)
        .map(|(t, v)| v.to_report(t))
        .collect();
    let r = &merged.report;
    crate::eput!(
        "merged {} ({}){}",
        plural(named.len() as u64, "report"),
        plural(r.workers.into(), "worker"),
        super::summary(r)
    );
    crate::stdout::println(&serde_json::to_string_pretty(r).unwrap_or_default());
    if let Err(e) = super::write_outputs(
        r,
        None,
        args.report_svg.as_deref(),
        args.report_html.as_deref(),
    ) {
        crate::eline!("error: {e}");
        return crate::exit::ERROR;
    }
    for v in &verdicts {
        crate::eline!("threshold {}", v.text);
    }
    if all_pass {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    }
}

/// Reads and validates one worker report; the message does not repeat the file's name.
pub fn read(path: &Path) -> Result<BenchReport, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    parse(&bytes)
}

/// A bench report from JSON, with a precise reason when it is not one.
pub fn parse(bytes: &[u8]) -> Result<BenchReport, String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    match v.get("kind").and_then(|k| k.as_str()) {
        Some(report::KIND) => {}
        Some(other) => {
            return Err(format!(
                "not a bench report (kind '{other}', expected '{}')",
                report::KIND
            ))
        }
        None if v.get("scenarios").is_some() => {
            return Err(
                "an `authsim run` report, not a bench report: compare run reports with `authsim compare`"
                    .into(),
            )
        }
        None => {
            return Err(format!(
                "not a bench report (no kind '{}'; written by `authsim bench --report-json`)",
                report::KIND
            ))
        }
    }
    match v.get("schema_version").and_then(|s| s.as_u64()) {
        Some(n) if n == u64::from(report::SCHEMA_VERSION) => {}
        Some(n) => {
            return Err(format!(
                "schema_version {n} is not one this authsim reads ({})",
                report::SCHEMA_VERSION
            ))
        }
        None => return Err("no schema_version".into()),
    }
    serde_json::from_value(v).map_err(|e| format!("not a valid bench report: {e}"))
}

/// A merged report and what looked inconsistent among its parts.
#[derive(Debug)]
pub struct Merged {
    pub report: BenchReport,
    pub warnings: Vec<String>,
}

/// Merges named reports (the names are for messages). Fails only when a histogram does not
/// decode or two histograms cannot be added.
pub fn merge(reports: &[(String, BenchReport)]) -> Result<Merged, String> {
    let Some((first_name, first)) = reports.first() else {
        return Err("no report to merge".into());
    };
    let mut warnings = Vec::new();
    let mut out = first.clone();
    let mut hist = BTreeMap::new();
    let mut errors: BTreeMap<(String, Option<u16>, String), u64> = BTreeMap::new();
    let mut seconds: BTreeMap<u64, Second> = BTreeMap::new();
    let mut window = first.window;
    let mut seen_index: BTreeMap<u32, &str> = BTreeMap::new();
    out.counts = Default::default();
    out.workers = 0;
    out.thresholds.clear();
    let mut sums = ConfigSums::default();

    for (name, r) in reports {
        if r.config.flows != first.config.flows {
            warnings.push(format!(
                "{name}: flows {} differ from {first_name}'s {}",
                flows(&r.config.flows),
                flows(&first.config.flows)
            ));
        }
        if r.config.model != first.config.model {
            warnings.push(format!(
                "{name}: model '{}' differs from {first_name}'s '{}'",
                r.config.model, first.config.model
            ));
        }
        if r.config.vault_addr != first.config.vault_addr || r.config.target != first.config.target
        {
            warnings.push(format!(
                "{name}: target {} differs from {first_name}'s {}",
                target(r),
                target(first)
            ));
        }
        // Workers of one run measure at the same time; a report whose window does not meet
        // the first's is another run's (a stale file), and the merged rate would divide by the
        // time between them.
        if r.window.end_unix_ms < first.window.start_unix_ms
            || r.window.start_unix_ms > first.window.end_unix_ms
        {
            warnings.push(format!(
                "{name}: measured {} s apart from {first_name} (the windows do not overlap): another run's report?",
                (r.window.start_unix_ms.abs_diff(first.window.start_unix_ms) as f64 / 1000.0)
                    .round()
            ));
        }
        if let Some(w) = r.config.worker {
            if let Some(other) = seen_index.insert(w.index, name) {
                warnings.push(format!(
                    "{name}: worker index {} again (also {other}): the same worker twice?",
                    w.index
                ));
            }
        }
        for (stage, text) in &r.histograms {
            let h = report::decode_histogram(text)
                .map_err(|e| format!("{name}: stage '{stage}': {e}"))?;
            match hist.get_mut(stage) {
                None => {
                    hist.insert(stage.clone(), h);
                }
                Some(sum) => sum
                    .add(&h)
                    .map_err(|e| format!("{name}: stage '{stage}': cannot add: {e:?}"))?,
            }
        }
        for e in &r.errors {
            *errors
                .entry((e.flow.clone(), e.status, e.message.clone()))
                .or_default() += e.count;
        }
        for s in &r.timeline {
            let m = seconds.entry(s.unix_s).or_insert(Second {
                unix_s: s.unix_s,
                ..Default::default()
            });
            m.sent += s.sent;
            m.ok += s.ok;
            m.errors += s.errors;
            // A second's percentiles cannot be recomputed (the timeline keeps no histograms);
            // the merged one lies between the workers' smallest and largest: keep the largest.
            m.p50_us = m.p50_us.max(s.p50_us);
            m.p99_us = m.p99_us.max(s.p99_us);
        }
        let c = &mut out.counts;
        c.sent += r.counts.sent;
        c.ok += r.counts.ok;
        c.errors += r.counts.errors;
        c.unanswered += r.counts.unanswered;
        c.abandoned += r.counts.abandoned;
        c.dropped += r.counts.dropped;
        c.late += r.counts.late;
        out.workers += r.workers;
        window = Window {
            start_unix_ms: window.start_unix_ms.min(r.window.start_unix_ms),
            end_unix_ms: window.end_unix_ms.max(r.window.end_unix_ms),
            last_answer_unix_ms: window.last_answer_unix_ms.max(r.window.last_answer_unix_ms),
        };
        sums.add(r);
    }
    if let Some(w) = first.config.worker {
        if reports.len() as u32 != w.workers && out.workers == reports.len() as u32 {
            warnings.push(format!(
                "{} of a run split over {} workers: the result covers part of the load",
                plural(reports.len() as u64, "report"),
                w.workers
            ));
        }
    }
    sums.apply(&mut out.config);
    out.config.worker = None;
    out.window = window;
    out.throughput = (out.counts.ok + out.counts.errors - out.counts.unanswered) as f64
        / window.answered_secs().max(1e-9);
    out.stages = hist
        .iter()
        .map(|(k, h)| (k.clone(), Latency::of(h)))
        .collect();
    out.latency = out
        .stages
        .get(report::stage::TOTAL)
        .copied()
        .unwrap_or_default();
    out.histograms = hist
        .iter()
        .map(|(k, h)| (k.clone(), report::encode_histogram(h)))
        .collect();
    out.errors = ErrorCount::ranked(errors);
    out.timeline = seconds.into_values().collect();
    Ok(Merged {
        report: out,
        warnings,
    })
}

/// A report's target as said in a warning.
fn target(r: &BenchReport) -> String {
    match &r.config.vault_addr {
        Some(a) => format!("Vault at {a}"),
        None => format!("'{}'", r.config.target),
    }
}

/// Per-worker shares that add up to the run's settings.
#[derive(Debug, Default)]
struct ConfigSums {
    rate: Option<f64>,
    concurrency: Option<usize>,
    identities: usize,
    all_rate: bool,
    all_concurrency: bool,
    n: usize,
}

impl ConfigSums {
    fn add(&mut self, r: &BenchReport) {
        if self.n == 0 {
            self.all_rate = true;
            self.all_concurrency = true;
        }
        self.n += 1;
        match r.config.rate {
            Some(x) => *self.rate.get_or_insert(0.0) += x,
            None => self.all_rate = false,
        }
        match r.config.concurrency {
            Some(x) => *self.concurrency.get_or_insert(0) += x,
            None => self.all_concurrency = false,
        }
        self.identities += r.config.identities;
    }

    fn apply(self, c: &mut report::BenchConfig) {
        c.rate = self.rate.filter(|_| self.all_rate);
        c.concurrency = self.concurrency.filter(|_| self.all_concurrency);
        c.identities = self.identities;
    }
}

/// `1 report`, `2 reports`.
fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn flows(f: &BTreeMap<String, u32>) -> String {
    f.iter()
        .map(|(k, w)| format!("{k}={w}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::report::{BenchConfig, Counts, WorkerSplit};

    /// A worker's report with the given latencies (µs) answered in consecutive seconds from
    /// `start_s`, each second holding `per_second` of them.
    pub(crate) fn worker(
        index: u32,
        start_ms: u64,
        latencies: &[u64],
        per_second: usize,
    ) -> BenchReport {
        let mut total = report::new_histogram();
        let mut vault = report::new_histogram();
        for &us in latencies {
            total.record(us).unwrap();
            vault.record(us / 2).unwrap();
        }
        let timeline: Vec<Second> = latencies
            .chunks(per_second)
            .enumerate()
            .map(|(i, c)| Second {
                unix_s: start_ms / 1000 + i as u64,
                sent: c.len() as u64,
                ok: c.len() as u64 - 1,
                errors: 1,
                p50_us: c[c.len() / 2],
                p99_us: *c.iter().max().unwrap(),
            })
            .collect();
        let errors = timeline.iter().map(|s| s.errors).sum::<u64>();
        let n = latencies.len() as u64;
        let mut histograms = BTreeMap::new();
        histograms.insert("total".to_owned(), report::encode_histogram(&total));
        histograms.insert("vault".to_owned(), report::encode_histogram(&vault));
        let mut stages = BTreeMap::new();
        stages.insert("total".to_owned(), Latency::of(&total));
        stages.insert("vault".to_owned(), Latency::of(&vault));
        let secs = timeline.len() as u64;
        BenchReport {
            schema_version: report::SCHEMA_VERSION,
            kind: report::KIND.into(),
            authsim_version: "0.1.0".into(),
            config: BenchConfig {
                flows: [("aws-iam".to_owned(), 1)].into_iter().collect(),
                model: "open".into(),
                rate: Some(n as f64 / secs as f64),
                duration_ms: secs * 1000,
                identities: 2,
                target: "embedded".into(),
                worker: Some(WorkerSplit { workers: 2, index }),
                ..Default::default()
            },
            window: Window {
                start_unix_ms: start_ms,
                end_unix_ms: start_ms + secs * 1000,
                last_answer_unix_ms: start_ms + secs * 1000 - 1,
            },
            counts: Counts {
                sent: n,
                ok: n - errors,
                errors,
                unanswered: 0,
                abandoned: 0,
                dropped: index.into(),
                late: 0,
            },
            throughput: n as f64 / secs as f64,
            latency: Latency::of(&total),
            stages,
            histograms,
            errors: vec![
                ErrorCount {
                    flow: "aws-iam".into(),
                    status: Some(400),
                    message: "error making upstream request: received error code 403 from STS"
                        .into(),
                    count: errors - 1,
                },
                ErrorCount {
                    flow: "aws-iam".into(),
                    status: None,
                    message: format!("connection refused (worker {index})"),
                    count: 1,
                },
            ],
            timeline,
            workers: 1,
            thresholds: Vec::new(),
        }
    }

    fn named(rs: Vec<BenchReport>) -> Vec<(String, BenchReport)> {
        rs.into_iter()
            .enumerate()
            .map(|(i, r)| (format!("w{i}.json"), r))
            .collect()
    }

    #[test]
    fn two_workers_add_up_and_their_percentiles_are_recomputed() {
        // Worker 0 is fast (1..=100 µs), worker 1 slow (10 ms each): a sum of 200 latencies
        // whose p50 neither worker's p50 tells.
        let fast: Vec<u64> = (1..=100).collect();
        let slow = vec![10_000u64; 100];
        let a = worker(0, 1_000_000_200, &fast, 50);
        let b = worker(1, 1_000_000_700, &slow, 50);
        let m = merge(&named(vec![a.clone(), b.clone()])).unwrap();
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let r = m.report;
        assert_eq!(r.workers, 2);
        assert_eq!(r.counts.sent, 200);
        assert_eq!(r.counts.ok, a.counts.ok + b.counts.ok);
        assert_eq!(r.counts.errors, 4);
        assert_eq!(r.counts.dropped, 1);
        assert_eq!(r.latency.count, 200);
        assert_eq!(r.stages["vault"].count, 200);
        let total = report::decode_histogram(&r.histograms["total"]).unwrap();
        assert_eq!(total.len(), 200);
        // Recomputed: p50 is the 100th value (100 µs, from the fast worker), p90 is slow.
        assert_eq!(r.latency.p50_us, 100);
        assert!(
            (9_990..=10_010).contains(&r.latency.p90_us),
            "{:?}",
            r.latency
        );
        assert_eq!(r.latency.max_us, total.max());
        assert!((r.latency.mean_us - (5_050.0 + 1_000_000.0) / 200.0).abs() < 10.0);
        // The window spans both; throughput is answered over it.
        assert_eq!(r.window.start_unix_ms, 1_000_000_200);
        assert_eq!(r.window.end_unix_ms, 1_000_002_700);
        assert!((r.throughput - 200.0 / 2.5).abs() < 1e-9);
        // Rates and identities add up; the merged report is no longer one worker's share.
        assert_eq!(r.config.rate, Some(100.0));
        assert_eq!(r.config.identities, 4);
        assert_eq!(r.config.worker, None);
        // Errors by kind keep Vault's message and add up.
        assert_eq!(r.errors.len(), 3);
        assert_eq!(r.errors[0].count, 2);
        assert!(r.errors[0]
            .message
            .contains("received error code 403 from STS"));
        assert_eq!(r.errors.iter().map(|e| e.count).sum::<u64>(), 4);
    }

    #[test]
    fn timelines_are_aligned_on_the_wall_clock_second() {
        let a = worker(0, 1_000_000_200, &[100; 30], 10); // seconds 1_000_000 .. 1_000_002
        let b = worker(1, 1_000_001_900, &[300; 20], 10); // seconds 1_000_001 .. 1_000_002
        let r = merge(&named(vec![a, b])).unwrap().report;
        let secs: Vec<(u64, u64, u64)> = r
            .timeline
            .iter()
            .map(|s| (s.unix_s, s.sent, s.errors))
            .collect();
        assert_eq!(
            secs,
            vec![(1_000_000, 10, 1), (1_000_001, 20, 2), (1_000_002, 20, 2)]
        );
        assert_eq!(r.timeline[0].p99_us, 100);
        assert_eq!(r.timeline[1].p99_us, 300);
    }

    #[test]
    fn differing_configs_and_repeated_workers_are_warned_about() {
        let a = worker(0, 1_000_000_000, &[100; 10], 10);
        let mut b = worker(0, 1_000_000_000, &[100; 10], 10);
        b.config.flows = [("gcp-iam".to_owned(), 1)].into_iter().collect();
        b.config.model = "closed".into();
        let m = merge(&named(vec![a, b])).unwrap();
        assert_eq!(m.warnings.len(), 3, "{:?}", m.warnings);
        assert_eq!(
            m.warnings[0],
            "w1.json: flows gcp-iam=1 differ from w0.json's aws-iam=1"
        );
        assert!(m.warnings[1].contains("model 'closed'"));
        assert!(m.warnings[2].contains("worker index 0 again"));
        // Still merged.
        assert_eq!(m.report.counts.sent, 20);
    }

    #[test]
    fn a_report_of_another_run_or_target_is_warned_about() {
        let a = worker(0, 1_000_000_000, &[100; 10], 10);
        // Measured four minutes later, against a Vault the first did not use.
        let mut b = worker(1, 1_000_240_000, &[100; 10], 10);
        b.config.vault_addr = Some("http://10.0.0.9:8200".into());
        let m = merge(&named(vec![a, b])).unwrap();
        assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
        assert!(m.warnings[0].starts_with("w1.json: target Vault at http://10.0.0.9:8200 differs"));
        assert!(m.warnings[1].contains("measured 240 s apart from w0.json"));
    }

    #[test]
    fn a_single_report_merges_into_itself() {
        let a = worker(0, 1_000_000_000, &(1..=100).collect::<Vec<_>>(), 50);
        let m = merge(&named(vec![a.clone()])).unwrap();
        assert_eq!(m.report.stages, a.stages);
        assert_eq!(m.report.counts, a.counts);
        assert_eq!(m.report.timeline, a.timeline);
        assert_eq!(m.warnings.len(), 1, "one report of two: {:?}", m.warnings);
    }

    #[test]
    fn files_that_are_not_bench_reports_say_what_they_are() {
        assert!(parse(b"{").unwrap_err().starts_with("not JSON"));
        assert!(parse(br#"{"schema_version":1,"scenarios":[]}"#)
            .unwrap_err()
            .contains("`authsim run` report"));
        assert_eq!(
            parse(br#"{"kind":"x","schema_version":1}"#).unwrap_err(),
            "not a bench report (kind 'x', expected 'authsim.bench')"
        );
        assert_eq!(
            parse(br#"{"kind":"authsim.bench","schema_version":2}"#).unwrap_err(),
            "schema_version 2 is not one this authsim reads (1)"
        );
        assert!(parse(br#"{"kind":"authsim.bench","schema_version":1}"#)
            .unwrap_err()
            .starts_with("not a valid bench report: missing field"));
        let good = serde_json::to_vec(&worker(0, 0, &[1; 4], 4)).unwrap();
        assert_eq!(parse(&good).unwrap().counts.sent, 4);
        let mut bad = worker(0, 0, &[1; 4], 4);
        bad.histograms.insert("total".into(), "!!".into());
        let e = merge(&named(vec![bad])).unwrap_err();
        assert!(
            e.starts_with("w0.json: stage 'total': histogram is not base64"),
            "{e}"
        );
    }
}
