//! The SVG plot of a bench report (`--report-svg`): two panels, the latency percentile spectrum
//! of every stage (from the HDR histograms) and throughput and errors per second (from the
//! timeline).
//!
//! Written by hand: two panels of polylines, axes and a legend take a couple of hundred lines,
//! where a plotting crate would bring its font and backend stack for the same picture. The output
//! is self-contained (no fonts, scripts or links) so that the HTML report can inline it.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::report::{self, stage, BenchReport};

const WIDTH: f64 = 860.0;
const PANEL: f64 = 320.0;
const LEFT: f64 = 70.0;
/// Room on the right for the legend.
const RIGHT: f64 = 200.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;

/// Escapes text for XML character data and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The plot.
pub fn svg(r: &BenchReport) -> String {
    let height = 2.0 * PANEL + 40.0;
    let mut s = String::new();
    let title = title(r);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<title>{t}</title><rect width="{WIDTH}" height="{height}" fill="white"/><text x="{LEFT}" y="22" font-size="15" font-weight="bold">{t}</text>"#,
        t = esc(&title)
    );
    spectrum(&mut s, r, 40.0);
    over_time(&mut s, r, 40.0 + PANEL);
    s.push_str("</svg>\n");
    s
}

/// `aws-iam=3+gcp-iam · open, 500 req/s · 15000 requests in 30.0 s · 2 workers`.
pub fn title(r: &BenchReport) -> String {
    let c = &r.config;
    let flows = c
        .flows
        .iter()
        .map(|(f, w)| {
            if c.flows.len() > 1 {
                format!("{f}={w}")
            } else {
                f.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("+");
    let model = match (c.rate, &c.profile, c.concurrency) {
        (Some(rate), _, _) => format!("open, {} req/s", trim_num(rate)),
        (None, Some(p), _) => format!("open, profile {p}"),
        (None, None, Some(n)) => format!("closed, {n} clients"),
        _ => c.model.clone(),
    };
    format!(
        "{flows} · {model} · {} requests in {:.1} s{}",
        r.counts.sent,
        r.window.secs(),
        if r.workers > 1 {
            format!(" · {} workers", r.workers)
        } else {
            String::new()
        }
    )
}

pub(crate) fn trim_num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// A plotting area and its scales.
struct Frame {
    top: f64,
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn w() -> f64 {
        WIDTH - LEFT - RIGHT
    }
    fn h() -> f64 {
        PANEL - TOP - BOTTOM
    }
    fn x(&self, v: f64) -> f64 {
        LEFT + v / self.x_max * Self::w()
    }
    fn y(&self, v: f64) -> f64 {
        self.top + Self::h() - v / self.y_max * Self::h()
    }

    /// Axes, grid and labels; `x_ticks` are (value, label).
    fn axes(
        &self,
        s: &mut String,
        title: &str,
        x_label: &str,
        y_label: &str,
        x_ticks: &[(f64, String)],
    ) {
        let (l, r, t, b) = (LEFT, LEFT + Self::w(), self.top, self.top + Self::h());
        let _ = write!(
            s,
            r#"<text x="{l}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
            t - 10.0,
            esc(title)
        );
        let step = nice_step(self.y_max);
        let mut k = 0.0;
        while k * step <= self.y_max * (1.0 + 1e-9) {
            let v = k * step;
            let y = self.y(v);
            let _ = write!(
                s,
                r##"<line x1="{l}" y1="{y:.1}" x2="{r}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                l - 6.0,
                y + 4.0,
                esc(&fmt_tick(v, step))
            );
            k += 1.0;
        }
        for (v, label) in x_ticks {
            let x = self.x(*v);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" y1="{t}" x2="{x:.1}" y2="{b}" stroke="#e4e4e4"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
                b + 16.0,
                esc(label)
            );
        }
        let _ = write!(
            s,
            r##"<rect x="{l}" y="{t}" width="{}" height="{}" fill="none" stroke="#888"/><text x="{}" y="{}" text-anchor="middle">{}</text><text transform="translate({},{}) rotate(-90)" text-anchor="middle">{}</text>"##,
            Self::w(),
            Self::h(),
            (l + r) / 2.0,
            b + 36.0,
            esc(x_label),
            l - 48.0,
            (t + b) / 2.0,
            esc(y_label)
        );
    }

    fn line(&self, s: &mut String, points: &[(f64, f64)], color: &str, width: f64, dash: bool) {
        if points.is_empty() {
            return;
        }
        let pts = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", self.x(*x), self.y(*y)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            s,
            r#"<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}" stroke-linejoin="round"{}/>"#,
            if dash {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            }
        );
        if points.len() == 1 {
            let (x, y) = points[0];
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"/>"#,
                self.x(x),
                self.y(y)
            );
        }
    }

    /// Legend entries, top right, outside the plotting area.
    fn legend(&self, s: &mut String, entries: &[(String, &str, f64, bool)]) {
        let x = LEFT + Self::w() + 14.0;
        for (i, (label, color, width, dash)) in entries.iter().enumerate() {
            let y = self.top + 10.0 + 18.0 * i as f64;
            let _ = write!(
                s,
                r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="{width}"{}/><text x="{}" y="{}">{}</text>"#,
                x + 22.0,
                if *dash {
                    r#" stroke-dasharray="5,3""#
                } else {
                    ""
                },
                x + 28.0,
                y + 4.0,
                esc(label)
            );
        }
    }

    fn empty(&self, s: &mut String, why: &str) {
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#888">{}</text>"##,
            LEFT + Self::w() / 2.0,
            self.top + Self::h() / 2.0,
            esc(why)
        );
    }
}

/// A round step giving about five intervals up to `max`.
fn nice_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// `max` rounded up to a whole number of steps.
fn nice_max(max: f64) -> f64 {
    let max = if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    };
    let step = nice_step(max);
    (max / step).ceil() * step
}

fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    format!("{v:.decimals$}")
}

fn stage_style(name: &str, i: usize) -> (&'static str, f64, bool) {
    const OTHERS: [&str; 4] = ["#8c564b", "#e377c2", "#17becf", "#bcbd22"];
    match name {
        stage::TOTAL => ("#111111", 2.6, false),
        stage::VAULT => ("#1f77b4", 1.4, false),
        stage::SIGN => ("#ff7f0e", 1.4, false),
        stage::SIGN_JWT => ("#9467bd", 1.4, false),
        stage::UPSTREAM => ("#2ca02c", 1.4, false),
        stage::SCHEDULE_LAG => ("#7f7f7f", 1.4, true),
        _ => (OTHERS[i % OTHERS.len()], 1.4, false),
    }
}

/// `0%`, `90%`, `99%`, `99.9%` … for 0, 1, 2, 3 nines.
fn nines_label(n: u32) -> String {
    match n {
        0 => "0%".into(),
        1 => "90%".into(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)).replace(".%", "%"),
    }
}

/// Panel 1: latency against percentile on the "nines" scale, x = -log10(1 - q).
fn spectrum(s: &mut String, r: &BenchReport, top: f64) {
    let mut stages: Vec<(&String, Histogram<u64>)> = r
        .histograms
        .iter()
        .filter_map(|(k, v)| Some((k, report::decode_histogram(v).ok()?)))
        .filter(|(_, h)| !h.is_empty())
        .collect();
    // Total last, so that it is drawn on top; first in the legend.
    stages.sort_by_key(|(k, _)| (k.as_str() == stage::TOTAL, k.as_str()));
    let n = stages.iter().map(|(_, h)| h.len()).max().unwrap_or(0);
    let nines = ((n.max(1) as f64).log10().ceil() as u32).clamp(4, 6);
    let y_max = nice_max(
        stages
            .iter()
            .map(|(_, h)| h.max() as f64 / 1000.0)
            .fold(0.0, f64::max)
            * 1.05,
    );
    let f = Frame {
        top: top + TOP,
        x_max: f64::from(nines),
        y_max,
    };
    let ticks: Vec<(f64, String)> = (0..=nines)
        .map(|k| (f64::from(k), nines_label(k)))
        .collect();
    f.axes(
        s,
        "Latency by percentile",
        "percentile",
        "latency (ms)",
        &ticks,
    );
    if stages.is_empty() {
        f.empty(s, "no latency measured");
        return;
    }
    const PER_NINE: u32 = 40;
    let mut legend = Vec::new();
    for (i, (name, h)) in stages.iter().enumerate() {
        let (color, width, dash) = stage_style(name, i);
        let points: Vec<(f64, f64)> = (0..=nines * PER_NINE)
            .map(|k| {
                let x = f64::from(k) / f64::from(PER_NINE);
                let q = 1.0 - 10f64.powf(-x);
                (x, h.value_at_quantile(q) as f64 / 1000.0)
            })
            .collect();
        f.line(s, &points, color, width, dash);
        legend.push((
            format!(
                "{name} (p99 {})",
                super::threshold::fmt_latency(h.value_at_quantile(0.99) as f64)
            ),
            color,
            width,
            dash,
        ));
    }
    legend.reverse();
    f.legend(s, &legend);
}

/// Panel 2: answered requests and errors per second over the window.
fn over_time(s: &mut String, r: &BenchReport, top: f64) {
    let t0 = r.timeline.first().map(|x| x.unix_s).unwrap_or(0);
    let span = r
        .timeline
        .last()
        .map(|x| x.unix_s.saturating_sub(t0) + 1)
        .unwrap_or(1) as f64;
    let peak = r
        .timeline
        .iter()
        .map(|x| (x.ok + x.errors) as f64)
        .fold(r.config.rate.unwrap_or(0.0), f64::max);
    let f = Frame {
        top: top + TOP,
        x_max: span,
        // Headroom: a steady run at its target rate is a line, not the frame's edge.
        y_max: nice_max(peak * 1.1),
    };
    let step = nice_step(span).max(1.0);
    let mut ticks = Vec::new();
    let mut k = 0.0;
    while k * step <= span + 1e-9 {
        ticks.push((k * step, fmt_tick(k * step, step)));
        k += 1.0;
    }
    f.axes(
        s,
        "Throughput and errors per second",
        "seconds into the measured window",
        "requests per second",
        &ticks,
    );
    if r.timeline.is_empty() {
        f.empty(s, "no timeline");
        return;
    }
    let at = |x: &report::Second| (x.unix_s - t0) as f64 + 0.5;
    let answered: Vec<(f64, f64)> = r
        .timeline
        .iter()
        .map(|x| (at(x), (x.ok + x.errors) as f64))
        .collect();
    let errors: Vec<(f64, f64)> = r
        .timeline
        .iter()
        .map(|x| (at(x), x.errors as f64))
        .collect();
    let mut legend = vec![
        ("answered / s".to_owned(), "#1f77b4", 2.0, false),
        ("errors / s".to_owned(), "#d62728", 2.0, false),
    ];
    if let Some(rate) = r.config.rate {
        f.line(s, &[(0.0, rate), (span, rate)], "#7f7f7f", 1.2, true);
        legend.push((
            format!("target {} req/s", trim_num(rate)),
            "#7f7f7f",
            1.2,
            true,
        ));
    }
    f.line(s, &answered, "#1f77b4", 2.0, false);
    f.line(s, &errors, "#d62728", 2.0, false);
    f.legend(s, &legend);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::merge::tests::worker;
    use quick_xml::events::Event;

    /// Parses the SVG back; the names of the elements met, in order.
    fn elements(svg: &str) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(svg);
        reader.config_mut().check_end_names = true;
        let mut names = Vec::new();
        let mut depth = 0i32;
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    depth += 1;
                    names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                }
                Ok(Event::Empty(e)) => {
                    names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                    for a in e.attributes() {
                        a.expect("well-formed attribute");
                    }
                }
                Ok(Event::End(_)) => depth -= 1,
                Ok(Event::Text(t)) => {
                    t.unescape().expect("text unescapes");
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!(
                    "not well-formed at {}: {e}\n{svg}",
                    reader.buffer_position()
                ),
            }
        }
        assert_eq!(depth, 0, "unbalanced");
        names
    }

    #[test]
    fn the_plot_is_well_formed_svg_with_a_line_per_stage_and_the_timeline() {
        let mut r = worker(0, 1_000_000_000, &(1..=1000).collect::<Vec<_>>(), 100);
        r.config.flows = [("a<b>&\"c'".to_owned(), 1)].into_iter().collect();
        let svg = svg(&r);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        let names = elements(&svg);
        assert_eq!(names[0], "svg");
        // Two stages (total, vault), answered, errors and the target rate.
        assert_eq!(names.iter().filter(|n| *n == "polyline").count(), 5);
        assert!(svg.contains("a&lt;b&gt;&amp;&quot;c&#39;"));
        for label in [
            "90%",
            "99%",
            "99.9%",
            "99.99%",
            "latency (ms)",
            "total (p99 ",
            "vault (p99 ",
            "errors / s",
            "target 100 req/s",
        ] {
            assert!(svg.contains(label), "{label}");
        }
        // The total line is emphasised.
        assert!(svg.contains(r##"stroke="#111111" stroke-width="2.6""##));
    }

    #[test]
    fn an_empty_report_still_plots_its_axes() {
        let mut r = worker(0, 1_000_000_000, &[5], 1);
        r.histograms.clear();
        r.timeline.clear();
        let svg = svg(&r);
        elements(&svg);
        assert!(svg.contains("no latency measured"));
        assert!(svg.contains("no timeline"));
    }

    #[test]
    fn axes_round_to_readable_steps() {
        assert_eq!(nice_step(12.3), 5.0);
        assert_eq!(nice_max(12.3), 15.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_step(0.8), 0.2);
        assert_eq!(fmt_tick(0.6000000000000001, 0.2), "0.6");
        assert_eq!(nines_label(0), "0%");
        assert_eq!(nines_label(2), "99%");
        assert_eq!(nines_label(4), "99.99%");
    }
}
