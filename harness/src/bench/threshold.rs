//! `--threshold EXPR`: a condition a bench report must meet, `METRIC OP VALUE`.
//!
//! - latency of the `total` stage: `p50 p90 p99 p99.9 max mean`, with a unit (`us`, `ms`, `s`):
//!   `p99<50ms`; of another stage when qualified: `vault.p99<20ms`, `sign_jwt.p50<=5ms`;
//! - `error_rate` of the answered requests, as a percentage or a fraction: `error_rate<0.1%`,
//!   `error_rate<=0.001`;
//! - `errors`, a count: `errors==0` is spelled `errors<1`;
//! - `rate` (or `throughput`), answered requests per second: `rate>=1000`.
//!
//! OP is one of `<`, `<=`, `>`, `>=`; spaces around the parts are allowed.

use super::report::{stage, BenchReport, ThresholdVerdict};

/// A parsed `--threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as given (trimmed), for messages and the report.
    source: String,
    metric: Metric,
    op: Op,
    /// Microseconds for latencies, a fraction for `error_rate`, a count, requests per second.
    value: f64,
}

/// The outcome of one threshold against one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub pass: bool,
    /// The measured value, formatted (`12.3 ms`, `0.12% (3 of 2500)`).
    pub actual: String,
    /// One line: `p99<50ms: pass (p99 = 12.3 ms)`.
    pub text: String,
}

impl Verdict {
    /// The verdict as the JSON report records it.
    pub fn to_report(&self, t: &Threshold) -> ThresholdVerdict {
        ThresholdVerdict {
            threshold: t.source.clone(),
            pass: self.pass,
            actual: self.actual.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pct {
    P50,
    P90,
    P99,
    P999,
    Max,
    Mean,
}

#[derive(Debug, Clone, PartialEq)]
enum Metric {
    Latency { stage: String, pct: Pct },
    ErrorRate,
    Errors,
    Rate,
}

/// Every metric name, for messages and suggestions.
const METRICS: &[&str] = &[
    "p50",
    "p90",
    "p99",
    "p99.9",
    "max",
    "mean",
    "error_rate",
    "errors",
    "rate",
    "throughput",
];

const STAGES: &[&str] = &[
    stage::TOTAL,
    stage::SIGN,
    stage::SIGN_JWT,
    stage::VAULT,
    stage::UPSTREAM,
    stage::SCHEDULE_LAG,
];

fn latency_metric(name: &str) -> Option<Pct> {
    Some(match name {
        "p50" => Pct::P50,
        "p90" => Pct::P90,
        "p99" => Pct::P99,
        "p99.9" | "p999" => Pct::P999,
        "max" => Pct::Max,
        "mean" => Pct::Mean,
        _ => return None,
    })
}

fn did_you_mean(word: &str, among: &[&str]) -> String {
    among
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(s, _)| *s > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

fn parse_metric(m: &str) -> Result<Metric, String> {
    if m.is_empty() {
        return Err("expected a metric before the operator (e.g. 'p99<50ms')".into());
    }
    match m {
        "error_rate" => return Ok(Metric::ErrorRate),
        "errors" => return Ok(Metric::Errors),
        "rate" | "throughput" => return Ok(Metric::Rate),
        _ => {}
    }
    if let Some(pct) = latency_metric(m) {
        return Ok(Metric::Latency {
            stage: stage::TOTAL.into(),
            pct,
        });
    }
    // `p99.9` has a dot of its own: the stage is what comes before the first one.
    if let Some((st, rest)) = m.split_once('.') {
        if STAGES.contains(&st) {
            return match latency_metric(rest) {
                Some(pct) => Ok(Metric::Latency {
                    stage: st.to_owned(),
                    pct,
                }),
                None if METRICS.contains(&rest) => Err(format!(
                    "`{rest}` is not per stage: only latencies are (p50, p90, p99, p99.9, max, mean)"
                )),
                None => Err(format!(
                    "unknown latency metric `{rest}`{}: one of p50, p90, p99, p99.9, max, mean",
                    did_you_mean(rest, &METRICS[..6])
                )),
            };
        }
        if latency_metric(rest).is_some() {
            return Err(format!(
                "unknown stage `{st}`{}: one of {}",
                did_you_mean(st, STAGES),
                STAGES.join(", ")
            ));
        }
    }
    Err(format!(
        "unknown metric `{m}`{}: one of {}, optionally after a stage (`vault.p99`)",
        did_you_mean(m, METRICS),
        METRICS.join(", ")
    ))
}

/// The leading number of `s` and what follows it.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let n = s[..end].parse::<f64>().ok().filter(|n| n.is_finite())?;
    Some((n, s[end..].trim()))
}

fn parse_value(metric: &Metric, op: &str, v: &str) -> Result<f64, String> {
    let Some((n, unit)) = split_number(v) else {
        return Err(if v.is_empty() {
            format!("expected a number after '{op}'")
        } else {
            format!("expected a number after '{op}', found '{v}'")
        });
    };
    match metric {
        Metric::Latency { .. } => {
            let scale = match unit {
                "us" | "µs" => 1.0,
                "ms" => 1e3,
                "s" => 1e6,
                "" => return Err(format!("'{v}' needs a unit: us, ms or s (e.g. '{v}ms')")),
                u => return Err(format!("'{v}': unknown unit '{u}' (us, ms or s)")),
            };
            Ok(n * scale)
        }
        Metric::ErrorRate => {
            let f = match unit {
                "%" => n / 100.0,
                "" => n,
                u => {
                    return Err(format!(
                        "'{v}': unknown unit '{u}' (a percentage such as '0.1%' or a fraction such as '0.001')"
                    ))
                }
            };
            if f > 1.0 {
                return Err(format!(
                    "'{v}' is above 100% (a percentage such as '0.1%' or a fraction such as '0.001')"
                ));
            }
            Ok(f)
        }
        Metric::Errors => {
            if !unit.is_empty() || n.fract() != 0.0 {
                return Err(format!("'{v}' is not a whole number of errors"));
            }
            Ok(n)
        }
        Metric::Rate => match unit {
            "" | "/s" | "rps" => Ok(n),
            u => Err(format!(
                "'{v}': unknown unit '{u}' (requests per second: '1000' or '1000/s')"
            )),
        },
    }
}

impl std::str::FromStr for Threshold {
    type Err = String;

    /// The message is about the expression; callers say which one (`--threshold 'EXPR': …`).
    fn from_str(s: &str) -> Result<Self, String> {
        let source = s.trim();
        let Some(at) = source.find(['<', '>', '=', '!']) else {
            return Err(
                "expected an operator: METRIC <, <=, > or >= VALUE (e.g. 'p99<50ms')".into(),
            );
        };
        let (metric, rest) = (source[..at].trim(), &source[at..]);
        let (op, op_text) = if let Some(r) = rest.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = rest.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = rest.strip_prefix('>') {
            (Op::Gt, r)
        } else {
            let bad: String = rest.chars().take_while(|c| "=!<>".contains(*c)).collect();
            return Err(format!("'{bad}' is not an operator: use <, <=, > or >="));
        };
        let op_str = &rest[..rest.len() - op_text.len()];
        let metric = parse_metric(metric)?;
        let value = parse_value(&metric, op_str, op_text.trim())?;
        Ok(Threshold {
            source: source.to_owned(),
            metric,
            op,
            value,
        })
    }
}

impl Threshold {
    /// The expression as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Checks the report. A threshold that cannot be evaluated (no such stage in the report,
    /// nothing answered) fails: a CI gate must not pass on missing data.
    pub fn check(&self, r: &BenchReport) -> Verdict {
        let measured = match &self.metric {
            Metric::Latency { stage, pct } => match r.stages.get(stage).filter(|l| l.count > 0) {
                None => Err(format!("no `{stage}` measurements in the report")),
                Some(l) => {
                    let us = match pct {
                        Pct::P50 => l.p50_us as f64,
                        Pct::P90 => l.p90_us as f64,
                        Pct::P99 => l.p99_us as f64,
                        Pct::P999 => l.p999_us as f64,
                        Pct::Max => l.max_us as f64,
                        Pct::Mean => l.mean_us,
                    };
                    Ok((us, fmt_latency(us)))
                }
            },
            // Requests abandoned at the end (never answered) count as errors here.
            Metric::ErrorRate => {
                let failed = r.counts.errors + r.counts.abandoned;
                let answered = r.counts.ok + failed;
                if answered == 0 {
                    Err("no request was answered".to_owned())
                } else {
                    let f = failed as f64 / answered as f64;
                    Ok((f, format!("{} ({failed} of {answered})", fmt_percent(f))))
                }
            }
            Metric::Errors => {
                let failed = r.counts.errors + r.counts.abandoned;
                Ok((failed as f64, failed.to_string()))
            }
            Metric::Rate => Ok((r.throughput, format!("{:.1} req/s", r.throughput))),
        };
        match measured {
            Ok((actual, shown)) => {
                let pass = self.op.holds(actual, self.value);
                Verdict {
                    pass,
                    text: format!(
                        "{}: {} ({} = {shown})",
                        self.source,
                        if pass { "pass" } else { "FAIL" },
                        self.metric_name()
                    ),
                    actual: shown,
                }
            }
            Err(why) => Verdict {
                pass: false,
                text: format!("{}: FAIL ({why})", self.source),
                actual: why,
            },
        }
    }

    fn metric_name(&self) -> String {
        match &self.metric {
            Metric::Latency { stage, pct } => {
                let p = match pct {
                    Pct::P50 => "p50",
                    Pct::P90 => "p90",
                    Pct::P99 => "p99",
                    Pct::P999 => "p99.9",
                    Pct::Max => "max",
                    Pct::Mean => "mean",
                };
                if stage == super::report::stage::TOTAL {
                    p.to_owned()
                } else {
                    format!("{stage}.{p}")
                }
            }
            Metric::ErrorRate => "error_rate".into(),
            Metric::Errors => "errors".into(),
            Metric::Rate => "rate".into(),
        }
    }
}

/// Checks every threshold; the verdicts in order, and whether all passed.
pub fn check_all(thresholds: &[Threshold], r: &BenchReport) -> (Vec<Verdict>, bool) {
    let verdicts: Vec<Verdict> = thresholds.iter().map(|t| t.check(r)).collect();
    let pass = verdicts.iter().all(|v| v.pass);
    (verdicts, pass)
}

/// `850 µs`, `12.3 ms`, `1.20 s`.
pub fn fmt_latency(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// `0%`, `0.12%`, `12.5%`.
pub fn fmt_percent(f: f64) -> String {
    let p = f * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 0.01 {
        format!("{p:.4}%")
    } else if p < 10.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{Counts, Latency};

    fn t(s: &str) -> Threshold {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        s.parse::<Threshold>().unwrap_err()
    }

    fn report() -> BenchReport {
        let mut r: BenchReport = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "kind": "authsim.bench", "authsim_version": "0.1.0",
            "config": {"flows": {"aws-iam": 1}, "model": "open", "duration_ms": 10000,
                       "warmup_ms": 0, "identities": 1, "presign": 0, "target": "embedded"},
            "window": {"start_unix_ms": 0, "end_unix_ms": 10000},
            "counts": {"sent": 2500, "ok": 2497, "errors": 3, "dropped": 0, "late": 0},
            "throughput": 250.0, "latency": {"count": 0, "mean_us": 0.0, "p50_us": 0, "p90_us": 0,
            "p99_us": 0, "p999_us": 0, "max_us": 0}, "stages": {}, "histograms": {},
            "errors": [], "timeline": [], "workers": 1
        }))
        .unwrap();
        let total = Latency {
            count: 2500,
            mean_us: 4_100.0,
            p50_us: 3_000,
            p90_us: 8_000,
            p99_us: 12_300,
            p999_us: 40_000,
            max_us: 1_200_000,
        };
        r.latency = total;
        r.stages.insert("total".into(), total);
        r.stages.insert(
            "vault".into(),
            Latency {
                p99_us: 25_000,
                ..total
            },
        );
        r
    }

    #[test]
    fn latency_thresholds_parse_with_units_and_stages() {
        let p = t("p99<50ms");
        assert_eq!(
            p.metric,
            Metric::Latency {
                stage: "total".into(),
                pct: Pct::P99
            }
        );
        assert_eq!((p.op, p.value), (Op::Lt, 50_000.0));
        assert_eq!(t(" p50 <= 800us ").value, 800.0);
        assert_eq!(t(" p50 <= 800us ").op, Op::Le);
        assert_eq!(t("max<1s").value, 1e6);
        assert_eq!(t("max<1.5s").value, 1.5e6);
        assert_eq!(t("mean>=2µs").op, Op::Ge);
        assert_eq!(
            t("p99.9<100ms").metric,
            Metric::Latency {
                stage: "total".into(),
                pct: Pct::P999
            }
        );
        assert_eq!(
            t("vault.p99<20ms").metric,
            Metric::Latency {
                stage: "vault".into(),
                pct: Pct::P99
            }
        );
        assert_eq!(
            t("sign_jwt.p99.9>1ms").metric,
            Metric::Latency {
                stage: "sign_jwt".into(),
                pct: Pct::P999
            }
        );
    }

    #[test]
    fn counting_thresholds_parse_percentages_fractions_and_rates() {
        assert_eq!(t("error_rate<0.1%").value, 0.001);
        assert_eq!(t("error_rate<=0.001").value, 0.001);
        assert_eq!(t("errors<1").metric, Metric::Errors);
        assert_eq!(t("rate>=1000").metric, Metric::Rate);
        assert_eq!(t("throughput > 1000/s").metric, Metric::Rate);
        assert_eq!(t("throughput > 1000/s").value, 1000.0);
    }

    #[test]
    fn malformed_thresholds_say_precisely_what_is_wrong() {
        assert_eq!(err("p99<<5ms"), "expected a number after '<', found '<5ms'");
        assert_eq!(err("p99<"), "expected a number after '<'");
        assert_eq!(
            err("p99>=fast"),
            "expected a number after '>=', found 'fast'"
        );
        assert_eq!(err("p99 50ms"), err("p99"));
        assert!(err("p99").starts_with("expected an operator"));
        assert_eq!(err("p99=5ms"), "'=' is not an operator: use <, <=, > or >=");
        assert_eq!(
            err("p99==5ms"),
            "'==' is not an operator: use <, <=, > or >="
        );
        assert_eq!(
            err("p99<50"),
            "'50' needs a unit: us, ms or s (e.g. '50ms')"
        );
        assert_eq!(err("p99<50m"), "'50m': unknown unit 'm' (us, ms or s)");
        assert!(err("p98<5ms").starts_with("unknown metric `p98` (did you mean `p99`?)"));
        assert!(err("eror_rate<1%").contains("(did you mean `error_rate`?)"));
        assert!(err("vualt.p99<5ms").starts_with("unknown stage `vualt` (did you mean `vault`?)"));
        assert!(err("vault.p98<5ms").starts_with("unknown latency metric `p98`"));
        assert!(err("vault.errors<1").starts_with("`errors` is not per stage"));
        assert!(err("<5ms").starts_with("expected a metric"));
        assert!(err("error_rate<150%").contains("above 100%"));
        assert!(err("error_rate<2").contains("above 100%"));
        assert_eq!(err("errors<1.5"), "'1.5' is not a whole number of errors");
        assert!(err("rate>10k").contains("unknown unit 'k'"));
    }

    #[test]
    fn checks_say_pass_or_fail_with_the_measured_value() {
        let r = report();
        let v = t("p99<50ms").check(&r);
        assert_eq!(v.text, "p99<50ms: pass (p99 = 12.3 ms)");
        assert!(v.pass);
        assert_eq!(v.actual, "12.3 ms");
        let v = t("p99<12.3ms").check(&r);
        assert!(!v.pass);
        assert_eq!(v.text, "p99<12.3ms: FAIL (p99 = 12.3 ms)");
        assert!(t("p99<=12.3ms").check(&r).pass);
        assert!(t("vault.p99>20ms").check(&r).pass);
        assert!(!t("vault.p99<20ms").check(&r).pass);
        assert_eq!(t("max<1s").check(&r).text, "max<1s: FAIL (max = 1.20 s)");
        assert!(t("mean<5ms").check(&r).pass);
        let v = t("error_rate<0.1%").check(&r);
        assert_eq!(
            v.text,
            "error_rate<0.1%: FAIL (error_rate = 0.12% (3 of 2500))"
        );
        assert!(t("error_rate<0.2%").check(&r).pass);
        assert!(t("errors<=3").check(&r).pass);
        assert!(!t("errors<3").check(&r).pass);
        assert_eq!(
            t("throughput>=250").check(&r).text,
            "throughput>=250: pass (rate = 250.0 req/s)"
        );
        assert!(!t("rate>250").check(&r).pass);
    }

    #[test]
    fn what_the_report_lacks_fails_rather_than_passes() {
        let mut r = report();
        let v = t("sign_jwt.p99<1s").check(&r);
        assert!(!v.pass);
        assert_eq!(
            v.text,
            "sign_jwt.p99<1s: FAIL (no `sign_jwt` measurements in the report)"
        );
        r.counts = Counts::default();
        assert!(!t("error_rate<100%").check(&r).pass);
        let (verdicts, all) = check_all(&[t("p99<50ms"), t("errors<1")], &r);
        assert_eq!(verdicts.len(), 2);
        assert!(all);
        let (_, all) = check_all(&[t("p99<50ms"), t("rate>1000")], &r);
        assert!(!all);
    }
}
