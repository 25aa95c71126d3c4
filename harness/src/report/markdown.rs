//! Markdown for pull-request comments (GitHub and GitLab flavoured):
//!
//! ```markdown
//! **authsim run: FAILED** — 16 passed, 1 failed, 1 error, 0 skipped of 18 scenarios in 0.81 s (Vault 1.17.0 at http://127.0.0.1:8200)
//!
//! | scenario | step | check | expected | actual |
//! |---|---|---|---|---|
//! | `vault/wrong` | 1 userpass_login | error | `"invalid password"` | `["invalid username or password"]` |
//!
//! <details><summary><code>vault/wrong</code> step 1 userpass_login (line 2)</summary>
//! …what the console prints for the step, then the curl in a sh block…
//! </details>
//!
//! <details><summary>16 passed</summary> …a list of ids… </details>
//! ```

use std::fmt::Write as _;

use super::console::{self, Style};
use super::{Outcome, RunReport, ScenarioResult, StepResult};

/// Table cells longer than this are cut (the `<details>` below the table have them in full).
const CELL_MAX: usize = 300;

/// The report as markdown.
pub fn render(report: &RunReport) -> String {
    let style = Style {
        sent_only: report.target.kind != "embedded",
        ..Style::default()
    };
    let s = &report.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "**authsim run: {}** — {} passed, {} failed, {} {}, {} skipped of {} scenario{} in {:.2} s ({})",
        if report.failed() { "FAILED" } else { "passed" },
        s.passed,
        s.failed,
        s.errored,
        if s.errored == 1 { "error" } else { "errors" },
        s.skipped,
        s.total,
        if s.total == 1 { "" } else { "s" },
        report.duration_ms as f64 / 1000.0,
        inline(&target(report)),
    );
    let bad: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Error))
        .collect();
    if !bad.is_empty() {
        out.push_str("\n| scenario | step | check | expected | actual |\n|---|---|---|---|---|\n");
        for r in &bad {
            rows(&mut out, r);
        }
        for r in &bad {
            for st in problem_steps(r) {
                step_details(&mut out, r, st, style);
            }
            if problem_steps(r).next().is_none() {
                scenario_details(&mut out, r);
            }
        }
    }
    for (outcome, what) in [(Outcome::Skipped, "skipped"), (Outcome::Passed, "passed")] {
        let list: Vec<&ScenarioResult> = report
            .scenarios
            .iter()
            .filter(|r| r.outcome == outcome)
            .collect();
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n<details><summary>{} {what}</summary>\n", list.len());
        for r in list {
            let _ = write!(out, "- {} {}", code(&r.id), inline(&r.name));
            if let Some(m) = &r.message {
                let _ = write!(out, " — {}", inline(m));
            }
            out.push('\n');
        }
        out.push_str("\n</details>\n");
    }
    out
}

fn target(report: &RunReport) -> String {
    let t = &report.target;
    match (&t.addr, &t.vault_version) {
        (Some(a), Some(v)) => format!("Vault {v} at {a}"),
        (Some(a), None) => format!("Vault at {a}"),
        _ => "embedded mock Vault".to_owned(),
    }
}

fn problem_steps(r: &ScenarioResult) -> impl Iterator<Item = &StepResult> {
    r.steps
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error))
}

/// A row per mismatch of each failed step, one per step error, one for a scenario that could
/// not run.
fn rows(out: &mut String, r: &ScenarioResult) {
    let mut any = false;
    for s in problem_steps(r) {
        let at = cell(&format!("{} {}", s.index, s.kind));
        for m in &s.failures {
            let _ = writeln!(
                out,
                "| {} | {at} | {} | {} | {} |",
                code(&r.id),
                cell(&m.check),
                code(&m.expected.to_string()),
                code(&m.actual.to_string()),
            );
            any = true;
        }
        if let Some(e) = &s.error {
            let _ = writeln!(
                out,
                "| {} | {at} | runner error | | {} |",
                code(&r.id),
                cell(e)
            );
            any = true;
        }
    }
    if !any {
        let _ = writeln!(
            out,
            "| {} | | {} | | {} |",
            code(&r.id),
            r.outcome.as_str(),
            cell(r.message.as_deref().unwrap_or(""))
        );
    }
}

fn step_details(out: &mut String, r: &ScenarioResult, s: &StepResult, style: Style) {
    let _ = writeln!(
        out,
        "\n<details><summary><code>{}</code> step {} {} (line {})</summary>\n\n{}\n",
        html(&r.id),
        s.index,
        html(&s.kind),
        s.line,
        inline(&r.name)
    );
    let mut lines = console::step(s, style);
    // The curl gets its own block below.
    if let Some(c) = &s.curl {
        lines = lines.replace(&format!("       {}: {c}\n", style.curl_label()), "");
    }
    out.push_str(&fenced("text", lines.trim_end()));
    if let Some(c) = &s.curl {
        out.push('\n');
        out.push_str(&fenced("sh", c));
    }
    out.push_str("\n</details>\n");
}

fn scenario_details(out: &mut String, r: &ScenarioResult) {
    let _ = writeln!(
        out,
        "\n<details><summary><code>{}</code> {}</summary>\n\n{}\n",
        html(&r.id),
        r.outcome.as_str(),
        inline(&r.name)
    );
    if let Some(m) = &r.message {
        out.push_str(&fenced("text", m));
    }
    out.push_str("\n</details>\n");
}

/// A fenced block whose fence is longer than any run of backticks inside.
fn fenced(lang: &str, body: &str) -> String {
    let longest = longest_run(body, '`');
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{body}\n{fence}\n")
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Table-cell text: one line, `|` escaped, cut at [`CELL_MAX`] characters.
fn cell(s: &str) -> String {
    if s.chars().count() > CELL_MAX {
        cell_full(&format!(
            "{}…",
            s.chars().take(CELL_MAX).collect::<String>()
        ))
    } else {
        cell_full(s)
    }
}

/// Table-cell text in full: one line, `|` escaped.
pub(crate) fn cell_full(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('|', "\\|")
}

/// A code span in a table cell, cut at [`CELL_MAX`] characters.
fn code(s: &str) -> String {
    code_of(cell(s))
}

/// Cell text ([`cell_full`]) as a code span (GFM takes `\|` as a pipe even inside one).
pub(crate) fn code_of(c: String) -> String {
    let ticks = "`".repeat(longest_run(&c, '`') + 1);
    // A space on each side keeps a leading or trailing backtick from closing the span.
    let pad = if c.starts_with('`') || c.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{c}{pad}{ticks}")
}

/// Text inside an HTML element (`<summary>`).
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Free text on one line outside tables: markup characters that would start HTML are escaped.
fn inline(s: &str) -> String {
    html(&s.replace(['\n', '\r'], " "))
}

#[cfg(test)]
mod tests {
    use super::super::sample::{failed_step, report, scenario, step};
    use super::*;

    #[test]
    fn a_failed_run_has_a_verdict_a_table_and_the_curl_in_a_collapsed_block() {
        let mut errored = scenario("vault/bad_world", vec![]);
        errored.outcome = Outcome::Error;
        errored.message = Some("provisioning: sys/policies/acl/x: 400 failed | parse".into());
        let md = render(&report(vec![
            scenario("vault/ok", vec![step(1, "vault_read", 200, &[])]),
            scenario("vault/wrong", vec![failed_step()]),
            errored,
        ]));
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines[0],
            "**authsim run: FAILED** — 1 passed, 1 failed, 1 error, 0 skipped of 3 scenarios in 1.81 s (Vault 1.17.0 at http://127.0.0.1:8200)"
        );
        assert!(md.contains(
            "| scenario | step | check | expected | actual |\n|---|---|---|---|---|\n\
             | `vault/wrong` | 1 userpass_login | error | `\"invalid password\"` | `[\"invalid username or password\"]` |\n\
             | `vault/bad_world` | | error | | provisioning: sys/policies/acl/x: 400 failed \\| parse |\n"
        ), "{md}");
        assert!(md.contains(
            "<details><summary><code>vault/wrong</code> step 1 userpass_login (line 6)</summary>"
        ));
        assert!(md.contains(
            "```sh\ncurl -sS -X POST --data '{\"password\":\"<redacted>\"}' \"$VAULT_ADDR\"'/v1/auth/userpass/login/bob'\n```\n"
        ), "{md}");
        // The curl is in its own block, not repeated in the step's text.
        assert_eq!(md.matches("curl -sS").count(), 1);
        assert!(md.contains(
            "<details><summary>1 passed</summary>\n\n- `vault/ok` vault/ok: what it checks\n"
        ));
    }

    #[test]
    fn a_passing_run_is_one_verdict_line_and_a_collapsed_list() {
        let mut r = report(vec![scenario(
            "gcp/login",
            vec![step(1, "gcp_login", 200, &[])],
        )]);
        r.target.addr = None;
        r.target.vault_version = None;
        let md = render(&r);
        assert!(md.starts_with(
            "**authsim run: passed** — 1 passed, 0 failed, 0 errors, 0 skipped of 1 scenario in 1.81 s (embedded mock Vault)\n"
        ), "{md}");
        assert!(!md.contains("| scenario |"));
    }

    #[test]
    fn cells_escape_pipes_and_backticks_and_stay_on_one_line() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(cell(&"é".repeat(400)).chars().count(), CELL_MAX + 1);
        assert_eq!(fenced("sh", "a ``` b"), "````sh\na ``` b\n````\n");
    }
}
