//! What `authsim run` prints: a line per scenario as it finishes, every step with `--verbose`,
//! and for a failed step the expected and actual values and a `curl` that reproduces it.
//!
//! ```text
//! PASS aws/server_id_header_unsigned  aws iam: a server-ID header that is not signed is refused  (14 ms)
//! FAIL gcp/wrong_audience  gcp iam: a JWT for another role is refused  (9 ms)
//!   step 1 gcp_login (line 5) → 400 audience claim does not match
//!     error: expected "audience claim 'vault/app' does not match", got ["…"]
//!     reproduce: curl -sS -X POST -H 'Content-Type: application/json' --data '…' 'http://…/v1/auth/gcp/login'
//! ```

use std::fmt::Write as _;

use super::{Outcome, RunReport, ScenarioResult, StepResult};

/// How to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// ANSI colours (a terminal).
    pub color: bool,
    /// Every step, not only failed ones.
    pub verbose: bool,
    /// The run was against a real Vault: a failed step's `curl` is labelled `sent:`, not
    /// `reproduce:`, since the scenario's mounts and the run's cloud mocks are gone after it.
    pub sent_only: bool,
}

impl Style {
    /// The label before a failed step's `curl`.
    pub fn curl_label(self) -> &'static str {
        if self.sent_only {
            "sent"
        } else {
            "reproduce"
        }
    }
}

fn paint(style: Style, code: &str, s: &str) -> String {
    if style.color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_owned()
    }
}

fn tag(style: Style, o: Outcome) -> String {
    match o {
        Outcome::Passed => paint(style, "32", "PASS"),
        Outcome::Failed => paint(style, "31;1", "FAIL"),
        Outcome::Error => paint(style, "35;1", "ERROR"),
        Outcome::Skipped => paint(style, "33", "SKIP"),
    }
}

/// One scenario's block.
pub fn scenario(r: &ScenarioResult, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}  {}  ({} ms)",
        tag(style, r.outcome),
        r.id,
        r.name,
        r.duration_ms
    );
    if let Some(m) = &r.message {
        let _ = writeln!(out, "  {m}");
    }
    for s in &r.steps {
        if style.verbose || s.outcome != Outcome::Passed {
            out.push_str(&step(s, style));
        }
    }
    out
}

/// The one-line gist of a step's answer: `→ 400 first error` or `→ 200 policies [a, b]`.
pub fn gist(s: &StepResult) -> String {
    let o = &s.observed;
    let Some(status) = o.status else {
        return String::new();
    };
    let mut g = format!(" → {status}");
    if let Some(e) = o.errors.first() {
        let e = e.replace('\n', "\\n");
        let e = if e.chars().count() > 160 {
            format!("{}…", e.chars().take(160).collect::<String>())
        } else {
            e
        };
        let _ = write!(g, " {e}");
    } else if let Some(p) = &o.policies {
        let _ = write!(g, " policies [{}]", p.join(", "));
    }
    g
}

/// One step's lines: the mark, the kind and label, the line, the gist of the answer; then each
/// mismatch (expected, got), the runner's error and the `curl` that reproduces it.
pub fn step(s: &StepResult, style: Style) -> String {
    let mut out = String::new();
    let mark = match s.outcome {
        Outcome::Passed => paint(style, "32", "ok  "),
        Outcome::Failed => paint(style, "31;1", "FAIL"),
        Outcome::Error => paint(style, "35;1", "ERR "),
        Outcome::Skipped => paint(style, "33", "skip"),
    };
    let label = if s.label != s.kind {
        format!("{} \"{}\"", s.kind, s.label)
    } else {
        s.kind.clone()
    };
    let _ = writeln!(
        out,
        "  {mark} step {} {label} (line {}){}",
        s.index,
        s.line,
        gist(s)
    );
    for m in &s.failures {
        let _ = writeln!(
            out,
            "       {}: expected {}, got {}",
            m.check,
            compact(&m.expected),
            compact(&m.actual)
        );
    }
    if let Some(e) = &s.error {
        let _ = writeln!(out, "       error: {e}");
    }
    if let Some(c) = &s.curl {
        let _ = writeln!(out, "       {}: {c}", style.curl_label());
    }
    out
}

fn compact(v: &serde_json::Value) -> String {
    v.to_string()
}

/// The closing lines.
pub fn summary(r: &RunReport, style: Style) -> String {
    let s = &r.summary;
    let verdict = if r.failed() {
        paint(style, "31;1", "FAILED")
    } else {
        paint(style, "32", "ok")
    };
    let mut line = format!(
        "{verdict}: {} passed, {} failed, {} errors, {} skipped of {} scenarios in {:.2} s ({})",
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        s.total,
        r.duration_ms as f64 / 1000.0,
        match (&r.target.kind[..], &r.target.addr) {
            ("vault", Some(a)) => format!(
                "Vault at {a}{}",
                r.target
                    .vault_version
                    .as_deref()
                    .map(|v| format!(", version {v}"))
                    .unwrap_or_default()
            ),
            _ => "embedded mock Vault".to_owned(),
        }
    );
    line.push('\n');
    line
}

/// Compares `actual` with an expected text in which `[..]` matches any run of characters on
/// its line (timings, addresses). Returns the first differing line, if any.
pub fn matches_with_holes(expected: &str, actual: &str) -> Result<(), String> {
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    for i in 0..e.len().max(a.len()) {
        let (el, al) = (e.get(i).copied(), a.get(i).copied());
        let ok = match (el, al) {
            (Some(el), Some(al)) => line_matches(el, al),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "line {}:\n  expected: {}\n  actual:   {}",
                i + 1,
                el.unwrap_or("<end>"),
                al.unwrap_or("<end>")
            ));
        }
    }
    Ok(())
}

fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[..]").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let Some(mut rest) = line.strip_prefix(parts[0]) else {
        return false;
    };
    let last = parts.len() - 1;
    for (i, p) in parts.iter().enumerate().skip(1) {
        if i == last {
            return rest.ends_with(p);
        }
        match rest.find(p) {
            Some(j) => rest = &rest[j + p.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_match_any_run_on_their_line() {
        assert!(matches_with_holes("PASS x  name  ([..] ms)\n", "PASS x  name  (12 ms)\n").is_ok());
        assert!(matches_with_holes("a [..] b [..] c", "a 1 b 2 c").is_ok());
        let e = matches_with_holes("PASS x ([..] ms)", "FAIL x (1 ms)").unwrap_err();
        assert!(e.starts_with("line 1:"), "{e}");
        assert!(matches_with_holes("a\nb", "a").is_err());
    }
}
