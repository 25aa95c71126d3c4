//! The HTML report of a bench run (`--report-html`): one self-contained page (inline style, the
//! SVG plot inline, no scripts or external assets) with the configuration, the summary, the
//! percentiles per stage, errors by kind and the thresholds' verdicts.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use super::plot::{self, esc};
use super::report::{stage, BenchReport};
use super::threshold::{fmt_latency, fmt_percent};

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:960px;color:#222}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}\
table{border-collapse:collapse;margin:.5em 0}\
th,td{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}\
.summary td{font-size:1.05em}code{background:#f4f4f4;padding:0 .2em}";

fn when(unix_ms: u64) -> String {
    authsim_mocks::clock::rfc3339(UNIX_EPOCH + Duration::from_millis(unix_ms))
}

/// The page.
pub fn render(r: &BenchReport) -> String {
    let mut s = String::new();
    let title = plot::title(r);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>authsim bench: {t}</title><style>{STYLE}</style></head><body>\n<h1>authsim bench: {t}</h1>\n",
        t = esc(&title)
    );
    summary(&mut s, r);
    if !r.thresholds.is_empty() {
        s.push_str("<h2>Thresholds</h2>\n<table><tr><th>threshold</th><th>verdict</th><th>measured</th></tr>\n");
        for t in &r.thresholds {
            let _ = writeln!(
                s,
                "<tr><td><code>{}</code></td><td class=\"{}\">{}</td><td>{}</td></tr>",
                esc(&t.threshold),
                if t.pass { "pass" } else { "fail" },
                if t.pass { "pass" } else { "FAIL" },
                esc(&t.actual)
            );
        }
        s.push_str("</table>\n");
    }
    latency(&mut s, r);
    errors(&mut s, r);
    s.push_str("<h2>Plot</h2>\n");
    s.push_str(&plot::svg(r));
    config(&mut s, r);
    let _ = writeln!(
        s,
        "<p><small>authsim {} · report schema {}</small></p>\n</body></html>",
        esc(&r.authsim_version),
        r.schema_version
    );
    s
}

fn row(s: &mut String, k: &str, v: &str) {
    let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
}

fn summary(s: &mut String, r: &BenchReport) {
    let c = &r.counts;
    let answered = c.ok + c.errors;
    s.push_str("<h2>Summary</h2>\n<table class=\"summary\">\n");
    row(
        s,
        "throughput",
        &format!("{:.1} req/s (answered)", r.throughput),
    );
    row(
        s,
        "window",
        &format!(
            "{:.1} s, {} to {}",
            r.window.secs(),
            when(r.window.start_unix_ms),
            when(r.window.end_unix_ms)
        ),
    );
    row(s, "sent", &c.sent.to_string());
    row(s, "ok", &c.ok.to_string());
    row(s, "errors", &c.errors.to_string());
    row(
        s,
        "error rate",
        &if answered == 0 {
            "— (nothing answered)".to_owned()
        } else {
            fmt_percent(c.errors as f64 / answered as f64)
        },
    );
    row(s, "dropped (over --max-in-flight)", &c.dropped.to_string());
    row(
        s,
        "late (sent over 1 ms after the intended start)",
        &c.late.to_string(),
    );
    if r.workers > 1 {
        row(s, "workers", &r.workers.to_string());
    }
    s.push_str("</table>\n");
}

fn latency(s: &mut String, r: &BenchReport) {
    s.push_str("<h2>Latency</h2>\n");
    if r.stages.is_empty() {
        s.push_str("<p>No latency measured.</p>\n");
        return;
    }
    s.push_str("<table><tr><th>stage</th>");
    for h in ["p50", "p90", "p99", "p99.9", "max", "mean", "count"] {
        let _ = write!(s, "<th class=\"n\">{h}</th>");
    }
    s.push_str("</tr>\n");
    let mut stages: Vec<_> = r.stages.iter().collect();
    stages.sort_by_key(|(k, _)| (k.as_str() != stage::TOTAL, k.as_str()));
    for (k, l) in stages {
        let _ = write!(s, "<tr><td>{}</td>", esc(k));
        for us in [l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us] {
            let _ = write!(s, "<td class=\"n\">{}</td>", fmt_latency(us as f64));
        }
        let _ = writeln!(
            s,
            "<td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            fmt_latency(l.mean_us),
            l.count
        );
    }
    s.push_str("</table>\n<p><small>From the HDR histograms (3 significant digits); <code>total</code> counts from each request's intended start in the open model.</small></p>\n");
}

fn errors(s: &mut String, r: &BenchReport) {
    s.push_str("<h2>Errors by kind</h2>\n");
    if r.errors.is_empty() {
        s.push_str("<p>None.</p>\n");
        return;
    }
    s.push_str(
        "<table><tr><th class=\"n\">count</th><th>flow</th><th>status</th><th>message</th></tr>\n",
    );
    for e in &r.errors {
        let _ = writeln!(
            s,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            e.count,
            esc(&e.flow),
            e.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "no answer".into()),
            esc(&e.message)
        );
    }
    s.push_str("</table>\n");
}

fn config(s: &mut String, r: &BenchReport) {
    let c = &r.config;
    s.push_str("<h2>Configuration</h2>\n<table>\n");
    row(
        s,
        "flows",
        &c.flows
            .iter()
            .map(|(f, w)| format!("{f} (weight {w})"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    row(s, "model", &c.model);
    if let Some(rate) = c.rate {
        row(s, "rate", &format!("{rate} req/s"));
    }
    if let Some(p) = &c.profile {
        row(s, "profile", p);
    }
    if let Some(n) = c.concurrency {
        row(s, "concurrency", &n.to_string());
    }
    if let Some(n) = c.max_in_flight {
        row(s, "max in flight", &n.to_string());
    }
    row(
        s,
        "duration",
        &format!("{:.1} s", c.duration_ms as f64 / 1000.0),
    );
    row(
        s,
        "warm-up",
        &format!("{:.1} s", c.warmup_ms as f64 / 1000.0),
    );
    row(s, "identities", &c.identities.to_string());
    row(
        s,
        "presigned logins",
        &if c.presign == 0 {
            "none (a fresh signature per login)".to_owned()
        } else {
            c.presign.to_string()
        },
    );
    let target = match (&c.vault_addr, &c.vault_version) {
        (Some(a), Some(v)) => format!("Vault {v} at {a}"),
        (Some(a), None) => format!("Vault at {a}"),
        _ => "the embedded mock Vault".to_owned(),
    };
    row(s, "target", &target);
    if !c.faults.is_empty() {
        row(s, "faults", &c.faults.join(", "));
    }
    if let Some(w) = c.worker {
        row(s, "worker", &format!("{} of {}", w.index, w.workers));
    }
    s.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::merge::tests::worker;
    use crate::bench::report::ThresholdVerdict;

    #[test]
    fn the_page_holds_the_figures_the_errors_the_verdicts_and_the_plot() {
        let mut r = worker(1, 1_000_000_000, &(1..=1000).collect::<Vec<_>>(), 100);
        r.errors[0].message = "<script>alert(1)</script>".into();
        r.thresholds = vec![
            ThresholdVerdict {
                threshold: "p99<1ms".into(),
                pass: true,
                actual: "990 µs".into(),
            },
            ThresholdVerdict {
                threshold: "errors<1".into(),
                pass: false,
                actual: "10".into(),
            },
        ];
        let html = render(&r);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        // Nothing to fetch.
        for external in ["http://", "https://", "<script", "<link", "src="] {
            let outside_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside_svg_ns.contains(external), "{external}");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // The summary's figures.
        assert!(html.contains("<tr><th>throughput</th><td>100.0 req/s (answered)</td></tr>"));
        assert!(html.contains("<tr><th>sent</th><td>1000</td></tr>"));
        assert!(html.contains("<tr><th>errors</th><td>10</td></tr>"));
        assert!(html.contains("<tr><th>error rate</th><td>1.00%</td></tr>"));
        assert!(html.contains("1970-01-12T13:46:40Z"));
        // Percentiles per stage, total first.
        let total = html.find("<tr><td>total</td>").unwrap();
        let vault = html.find("<tr><td>vault</td>").unwrap();
        assert!(total < vault);
        let l = r.stages["total"];
        assert!(html[total..vault].contains(&format!(
            "<td class=\"n\">{}</td>",
            fmt_latency(l.p99_us as f64)
        )));
        assert!(html[total..vault].contains("<td class=\"n\">1000</td></tr>"));
        // Verdicts and the inline plot.
        assert!(html.contains(
            "<td><code>p99&lt;1ms</code></td><td class=\"pass\">pass</td><td>990 µs</td>"
        ));
        assert!(html.contains("<td class=\"fail\">FAIL</td>"));
        assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(html.contains("<tr><th>worker</th><td>1 of 2</td></tr>"));
    }

    #[test]
    fn a_report_without_thresholds_or_errors_says_so() {
        let mut r = worker(0, 1_000_000_000, &[100; 10], 10);
        r.errors.clear();
        let html = render(&r);
        assert!(!html.contains("<h2>Thresholds</h2>"));
        assert!(html.contains("<h2>Errors by kind</h2>\n<p>None.</p>"));
    }
}
