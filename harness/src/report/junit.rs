//! JUnit XML, the shape CI test views read (GitLab, Jenkins, GitHub test reporters):
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <testsuites name="authsim" tests="3" failures="1" errors="0" skipped="1" time="0.812">
//!   <testsuite name="vault" tests="3" failures="1" errors="0" skipped="1" time="0.051">
//!     <properties>
//!       <property name="authsim.target.kind" value="embedded"/>
//!     </properties>
//!     <testcase classname="authsim.vault" name="vault/wrong" file="scenarios/vault/wrong.toml" time="0.014">
//!       <failure message="step 1 (userpass_login): error: expected &quot;…&quot;, got […]">…</failure>
//!     </testcase>
//!   </testsuite>
//! </testsuites>
//! ```
//!
//! One `<testsuite>` per catalogue area (the first component of the scenario id), in the order
//! the areas first appear; one `<testcase>` per scenario. Written by hand rather than with
//! quick-xml's writer: the document is flat and small, and one escape function then covers what
//! a writer leaves to us anyway — newlines and tabs in attribute values as character references
//! (attribute normalisation would turn them into spaces) and the characters XML 1.0 forbids,
//! which no writer removes.

use std::fmt::Write as _;

use super::console::{self, Style};
use super::{Outcome, RunReport, ScenarioResult, StepResult, Summary};

/// The report as a JUnit XML document.
pub fn render(report: &RunReport) -> String {
    let style = Style {
        sent_only: report.target.kind != "embedded",
        ..Style::default()
    };
    let mut areas: Vec<(&str, Vec<&ScenarioResult>)> = Vec::new();
    for r in &report.scenarios {
        let area = area_of(&r.id);
        match areas.iter_mut().find(|(a, _)| *a == area) {
            Some((_, v)) => v.push(r),
            None => areas.push((area, vec![r])),
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let s = &report.summary;
    let _ = writeln!(
        out,
        "<testsuites name=\"authsim\" {} time=\"{}\">",
        counts(s),
        seconds(report.duration_ms)
    );
    let properties = properties(report);
    for (area, scenarios) in &areas {
        let sum = Summary::of(scenarios.iter().copied());
        let time: u64 = scenarios.iter().map(|r| r.duration_ms).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" {} time=\"{}\">",
            attr(area),
            counts(&sum),
            seconds(time)
        );
        out.push_str(&properties);
        for r in scenarios {
            testcase(&mut out, area, r, style);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// `aws/server_id_missing` → `aws`; a scenario of no directory (`x`, `x#2`) → `scenarios`,
/// one suite for all of them rather than one each.
fn area_of(id: &str) -> &str {
    match id.split_once('/') {
        Some((area, _)) => area,
        None => "scenarios",
    }
}

fn counts(s: &Summary) -> String {
    format!(
        "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
        s.total, s.failed, s.errored, s.skipped
    )
}

/// Milliseconds as seconds with 3 decimals.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn properties(report: &RunReport) -> String {
    let t = &report.target;
    let mut props = vec![
        ("authsim.version", report.authsim_version.as_str()),
        ("authsim.started_at", report.started_at.as_str()),
        ("authsim.target.kind", t.kind.as_str()),
    ];
    if let Some(a) = &t.addr {
        props.push(("authsim.target.addr", a));
    }
    if let Some(v) = &t.vault_version {
        props.push(("authsim.target.vault_version", v));
    }
    let mut out = String::from("    <properties>\n");
    for (name, value) in props {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(name),
            attr(value)
        );
    }
    out.push_str("    </properties>\n");
    out
}

fn testcase(out: &mut String, area: &str, r: &ScenarioResult, style: Style) {
    let _ = write!(
        out,
        "    <testcase classname=\"authsim.{}\" name=\"{}\" file=\"{}\" time=\"{}\"",
        attr(area),
        attr(&r.id),
        attr(&r.file),
        seconds(r.duration_ms)
    );
    let (element, message) = match r.outcome {
        Outcome::Passed => {
            out.push_str("/>\n");
            return;
        }
        Outcome::Skipped => {
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                attr(r.message.as_deref().unwrap_or("skipped"))
            );
            return;
        }
        Outcome::Failed => ("failure", first_problem(r)),
        // The full message is in the element's text; the attribute is the headline.
        Outcome::Error => (
            "error",
            r.message
                .as_deref()
                .and_then(|m| m.lines().next())
                .map_or_else(|| first_problem(r), str::to_owned),
        ),
    };
    let _ = writeln!(
        out,
        ">\n      <{element} message=\"{}\">{}</{element}>\n    </testcase>",
        attr(&message),
        text(&details(r, style))
    );
}

/// `step 2 (gcp_login): status: expected 400, got 403`: the first failed step's first
/// mismatch, or its error.
fn first_problem(r: &ScenarioResult) -> String {
    let Some(s) = r
        .steps
        .iter()
        .find(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error))
    else {
        return r
            .message
            .clone()
            .unwrap_or_else(|| format!("scenario {}", r.outcome.as_str()));
    };
    problem(s)
}

fn problem(s: &StepResult) -> String {
    let head = format!("step {} ({})", s.index, s.kind);
    if let Some(m) = s.failures.first() {
        let more = match s.failures.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        format!(
            "{head}: {}: expected {}, got {}{more}",
            m.check, m.expected, m.actual
        )
    } else if let Some(e) = &s.error {
        format!("{head}: {e}")
    } else {
        format!("{head}: {}", s.outcome.as_str())
    }
}

/// The element's text: the scenario's name and message, then every failed or errored step as the
/// console prints it (expected and actual of each mismatch, the runner's error, the redacted
/// `curl`).
fn details(r: &ScenarioResult, style: Style) -> String {
    let mut t = format!("{}\n", r.name);
    if let Some(m) = &r.message {
        let _ = writeln!(t, "{m}");
    }
    for s in r
        .steps
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Failed | Outcome::Error))
    {
        t.push_str(&console::step(s, style));
    }
    t
}

/// Drops what XML 1.0 does not allow in a document: control characters other than tab, line
/// feed and carriage return, and U+FFFE/U+FFFF (Rust strings hold no surrogates).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text content: `&`, `<`, `>` escaped (`>` for `]]>`).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|&c| allowed(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value in double quotes: also `"` and `'`, and whitespace other than the space
/// as character references so that attribute-value normalisation keeps it.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|&c| allowed(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use quick_xml::events::Event;

    use super::super::sample::{failed_step, report, scenario, step};
    use super::super::Outcome;
    use super::*;

    /// An element's name, its attributes, and its text.
    type Element = (String, Vec<(String, String)>, String);

    /// Every element, in document order.
    fn parse(xml: &str) -> Vec<Element> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut out: Vec<Element> = Vec::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) | Event::Empty(e) => {
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.unwrap();
                            (
                                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                                a.unescape_value().unwrap().into_owned(),
                            )
                        })
                        .collect();
                    out.push((
                        String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                        attrs,
                        String::new(),
                    ));
                }
                Event::Text(t) => {
                    if let Some(last) = out.last_mut() {
                        last.2.push_str(&t.unescape().unwrap());
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    fn attr_of<'a>(e: &'a Element, name: &str) -> &'a str {
        &e.1.iter().find(|(k, _)| k == name).unwrap().1
    }

    #[test]
    fn one_suite_per_area_with_counts_times_and_the_failure_message() {
        let mut skipped = scenario("aws/ec2_only", vec![]);
        skipped.outcome = Outcome::Skipped;
        skipped.message = Some("runs only on embedded (targets = [\"embedded\"])".to_owned());
        let mut errored = scenario("vault/bad_world", vec![]);
        errored.outcome = Outcome::Error;
        errored.message =
            Some("provisioning: sys/policies/acl/x: 400 failed to parse policy".into());
        let r = report(vec![
            scenario("vault/ok", vec![step(1, "vault_read", 200, &[])]),
            scenario("aws/fails", vec![failed_step()]),
            skipped,
            errored,
        ]);
        let xml = render(&r);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
        let doc = parse(&xml);
        let root = &doc[0];
        assert_eq!(root.0, "testsuites");
        for (k, v) in [
            ("name", "authsim"),
            ("tests", "4"),
            ("failures", "1"),
            ("errors", "1"),
            ("skipped", "1"),
            ("time", "1.812"),
        ] {
            assert_eq!(attr_of(root, k), v, "{k}");
        }
        let suites: Vec<_> = doc.iter().filter(|e| e.0 == "testsuite").collect();
        assert_eq!(
            suites
                .iter()
                .map(|s| (attr_of(s, "name"), attr_of(s, "tests"), attr_of(s, "time")))
                .collect::<Vec<_>>(),
            [("vault", "2", "0.028"), ("aws", "2", "0.028")]
        );
        let props: Vec<_> = doc
            .iter()
            .filter(|e| e.0 == "property")
            .map(|e| (attr_of(e, "name"), attr_of(e, "value")))
            .collect();
        assert!(props.contains(&("authsim.target.kind", "vault")));
        assert!(props.contains(&("authsim.target.addr", "http://127.0.0.1:8200")));
        assert!(props.contains(&("authsim.target.vault_version", "1.17.0")));
        let case = doc
            .iter()
            .find(|e| e.0 == "testcase" && attr_of(e, "name") == "aws/fails")
            .unwrap();
        assert_eq!(attr_of(case, "classname"), "authsim.aws");
        assert_eq!(attr_of(case, "file"), "scenarios/aws/fails.toml");
        assert_eq!(attr_of(case, "time"), "0.014");
        let failure = doc.iter().find(|e| e.0 == "failure").unwrap();
        assert_eq!(
            attr_of(failure, "message"),
            r#"step 1 (userpass_login): error: expected "invalid password", got ["invalid username or password"]"#
        );
        assert!(
            failure.2.contains("aws/fails: what it checks\n"),
            "{}",
            failure.2
        );
        assert!(failure.2.contains(
            r#"error: expected "invalid password", got ["invalid username or password"]"#
        ));
        // Against a real Vault the command is what was sent: the scenario's mount and the
        // run's cloud mocks are gone after the run, so it is not offered as a reproduction.
        assert!(failure.2.contains(
            r#"       sent: curl -sS -X POST --data '{"password":"<redacted>"}' "$VAULT_ADDR"'/v1/auth/userpass/login/bob'"#
        ));
        let error = doc.iter().find(|e| e.0 == "error").unwrap();
        assert_eq!(
            attr_of(error, "message"),
            "provisioning: sys/policies/acl/x: 400 failed to parse policy"
        );
        let skip = doc.iter().find(|e| e.0 == "skipped").unwrap();
        assert_eq!(
            attr_of(skip, "message"),
            "runs only on embedded (targets = [\"embedded\"])"
        );
    }

    #[test]
    fn scenarios_of_no_directory_share_one_suite() {
        let xml = render(&report(vec![
            scenario("m", vec![]),
            scenario("m#2", vec![]),
            scenario("wrong_server_id", vec![]),
        ]));
        assert_eq!(xml.matches("<testsuite ").count(), 1, "{xml}");
        assert!(
            xml.contains("<testsuite name=\"scenarios\" tests=\"3\""),
            "{xml}"
        );
    }

    #[test]
    fn escaping_keeps_markup_quotes_and_newlines_and_drops_what_xml_forbids() {
        let mut s = failed_step();
        s.failures[0].expected = serde_json::Value::from("a < b & \"c\" 'd'");
        s.error = None;
        let mut r = scenario("vault/odd <id> & \"q\"", vec![s]);
        r.name = "bell \u{7} nul \u{0} esc \u{1b} and \u{FFFF}: gone; tab\tand ]]> stay".to_owned();
        let mut errored = scenario("vault/multi_line", vec![]);
        errored.outcome = Outcome::Error;
        errored.message = Some("line one\n\tline two".to_owned());
        let xml = render(&report(vec![r, errored]));
        for c in ['\u{7}', '\u{0}', '\u{1b}', '\u{FFFF}'] {
            assert!(!xml.contains(c), "{c:?} in {xml}");
        }
        assert_eq!(
            attr("a\n\tb\r\"'<&>"),
            "a&#10;&#9;b&#13;&quot;&apos;&lt;&amp;&gt;"
        );
        let doc = parse(&xml);
        let case = doc.iter().find(|e| e.0 == "testcase").unwrap();
        assert_eq!(attr_of(case, "name"), "vault/odd <id> & \"q\"");
        let failure = doc.iter().find(|e| e.0 == "failure").unwrap();
        assert!(attr_of(failure, "message").contains(r#"expected "a < b & \"c\" 'd'""#));
        assert!(failure
            .2
            .contains("bell  nul  esc  and : gone; tab\tand ]]> stay"));
        let error = doc.iter().find(|e| e.0 == "error").unwrap();
        assert_eq!(attr_of(error, "message"), "line one");
        assert!(error.2.contains("line one\n\tline two\n"), "{}", error.2);
    }
}
