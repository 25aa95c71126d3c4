//! `authsim compare OLD.json NEW.json`: the regression check before a Vault upgrade.
//!
//! [`diff`] is a pure function over two [`RunReport`]s: scenarios are matched by id, steps by
//! index, and every observed fact that differs is one [`Change`] (status, error strings,
//! policies, each metadata key, token TTL, each JSON-pointer field, step and scenario outcome,
//! steps added or removed), plus the ids added and removed. Values are compared once `MASKS`
//! replaced what differs on every run whatever the Vault. The renderings ([`text`],
//! [`markdown`], and the [`Diff`] itself as JSON, schema in `scenarios/README.md`) only read it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::cli::{CompareArgs, CompareFormat};
use crate::report::markdown::{cell_full, code_of};
use crate::report::{Observed, Outcome, RunReport, ScenarioResult, StepResult, SCHEMA_VERSION};

/// The diff's own JSON schema version; bumped when a field changes meaning or disappears.
pub const DIFF_SCHEMA_VERSION: u32 = 1;

/// What changed between two run reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub schema_version: u32,
    pub old: Side,
    pub new: Side,
    /// In the new report's scenario order; within a scenario its steps in order (a step's
    /// fields in a fixed order), then the scenario's own fields.
    pub changed: Vec<Change>,
    /// Scenario ids only in the new report, in its order.
    pub added: Vec<String>,
    /// Scenario ids only in the old report, in its order.
    pub removed: Vec<String>,
    /// Scenarios in both reports without any change.
    pub unchanged: usize,
}

/// One report: the file it came from and the Vault it ran against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    pub path: String,
    /// `sys/seal-status`'s version; null for the embedded mock or when Vault did not say.
    pub vault_version: Option<String>,
    /// The Vault address; null for the embedded mock.
    pub addr: Option<String>,
}

/// One changed fact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub scenario: String,
    /// The step's 1-based index; null for the scenario's own fields (`outcome`, `message`).
    pub step: Option<usize>,
    /// The step's action (`gcp_login`); null with `step`.
    pub kind: Option<String>,
    /// `status`, `errors`, `policies`, `metadata.<key>`, `token_ttl`, `json <pointer>`,
    /// `outcome`, `error` (the runner's), `kind` (another action at that index), `step` (added:
    /// old is null; removed: new is null), `message` (a scenario's skip or error reason).
    pub field: String,
    /// Null when absent on that side.
    pub old: Value,
    pub new: Value,
}

impl Diff {
    /// Nothing changed, added or removed.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }

    /// The ids of the scenarios with changes, in order, each once.
    pub fn changed_scenarios(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.changed
            .iter()
            .map(|c| c.scenario.as_str())
            .filter(|s| seen.insert(*s))
            .collect()
    }

    /// `3 scenarios changed, 1 added, 0 removed; 91 unchanged`.
    pub fn summary(&self) -> String {
        let n = self.changed_scenarios().len();
        format!(
            "{n} scenario{} changed, {} added, {} removed; {} unchanged",
            if n == 1 { "" } else { "s" },
            self.added.len(),
            self.removed.len(),
            self.unchanged
        )
    }
}

/// Compares two reports (`old_path` and `new_path` only name them in the result).
pub fn diff(old_path: &str, old: &RunReport, new_path: &str, new: &RunReport) -> Diff {
    let side = |path: &str, r: &RunReport| Side {
        path: path.to_owned(),
        vault_version: r.target.vault_version.clone(),
        addr: r.target.addr.clone(),
    };
    let mut by_id: HashMap<&str, &ScenarioResult> = HashMap::new();
    for r in &old.scenarios {
        by_id.entry(r.id.as_str()).or_insert(r);
    }
    let new_ids: BTreeSet<&str> = new.scenarios.iter().map(|r| r.id.as_str()).collect();
    let mut d = Diff {
        schema_version: DIFF_SCHEMA_VERSION,
        old: side(old_path, old),
        new: side(new_path, new),
        changed: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        unchanged: 0,
    };
    let mut done = BTreeSet::new();
    for n in &new.scenarios {
        if !done.insert(n.id.as_str()) {
            continue;
        }
        match by_id.get(n.id.as_str()) {
            None => d.added.push(n.id.clone()),
            Some(o) => {
                let before = d.changed.len();
                scenario(&mut d.changed, o, n);
                if d.changed.len() == before {
                    d.unchanged += 1;
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    d.removed = old
        .scenarios
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !new_ids.contains(id) && seen.insert(*id))
        .map(str::to_owned)
        .collect();
    d
}

fn ran(r: &ScenarioResult) -> bool {
    !(r.steps.is_empty() && matches!(r.outcome, Outcome::Skipped | Outcome::Error))
}

fn scenario(out: &mut Vec<Change>, o: &ScenarioResult, n: &ScenarioResult) {
    // A scenario that did not run on one side (skipped, or its environment did not start) has no
    // steps to compare: its outcome and message say it all.
    if ran(o) && ran(n) {
        let len = o.steps.len().max(n.steps.len());
        for i in 0..len {
            match (o.steps.get(i), n.steps.get(i)) {
                (Some(os), Some(ns)) => step(out, &n.id, os, ns),
                (None, Some(ns)) => out.push(change(
                    &n.id,
                    Some(ns),
                    "step",
                    Value::Null,
                    ns.kind.clone().into(),
                )),
                (Some(os), None) => out.push(change(
                    &n.id,
                    Some(os),
                    "step",
                    os.kind.clone().into(),
                    Value::Null,
                )),
                (None, None) => {}
            }
        }
    }
    let mut own = |field: &str, old: Value, new: Value| {
        let (old, new) = (masked(old), masked(new));
        if old != new {
            out.push(change(&n.id, None, field, old, new));
        }
    };
    own(
        "outcome",
        o.outcome.as_str().into(),
        n.outcome.as_str().into(),
    );
    own("message", opt(&o.message), opt(&n.message));
}

fn step(out: &mut Vec<Change>, id: &str, o: &StepResult, n: &StepResult) {
    let mut push = |field: &str, old: Value, new: Value| {
        let (old, new) = (masked(old), masked(new));
        if old != new {
            out.push(change(id, Some(n), field, old, new));
        }
    };
    push("kind", o.kind.clone().into(), n.kind.clone().into());
    // A step that did not run on one side observed nothing there: only its outcome differs.
    if o.outcome != Outcome::Skipped && n.outcome != Outcome::Skipped {
        observed(&mut push, &o.observed, &n.observed);
        push("error", opt(&o.error), opt(&n.error));
    }
    push(
        "outcome",
        o.outcome.as_str().into(),
        n.outcome.as_str().into(),
    );
}

fn observed(push: &mut impl FnMut(&str, Value, Value), o: &Observed, n: &Observed) {
    push("status", o.status.into(), n.status.into());
    push("errors", o.errors.clone().into(), n.errors.clone().into());
    push(
        "policies",
        o.policies.clone().into(),
        n.policies.clone().into(),
    );
    let empty = BTreeMap::new();
    let (om, nm) = (
        o.metadata.as_ref().unwrap_or(&empty),
        n.metadata.as_ref().unwrap_or(&empty),
    );
    for k in om.keys().chain(nm.keys()).collect::<BTreeSet<_>>() {
        push(
            &format!("metadata.{k}"),
            om.get(k).cloned().into(),
            nm.get(k).cloned().into(),
        );
    }
    match (o.token_ttl, n.token_ttl) {
        (Some(a), Some(b)) if a.abs_diff(b) <= TTL_SLACK => {}
        (a, b) => push("token_ttl", a.into(), b.into()),
    }
    for k in o
        .fields
        .keys()
        .chain(n.fields.keys())
        .collect::<BTreeSet<_>>()
    {
        // A pointer on one side only (the scenario changed in between) is null on the other.
        push(
            &format!("json {k}"),
            o.fields.get(k).cloned().unwrap_or(Value::Null),
            n.fields.get(k).cloned().unwrap_or(Value::Null),
        );
    }
}

/// `token_lookup` reports the *remaining* TTL, which ticks between a login and the lookup: TTLs
/// this close are the same.
const TTL_SLACK: u64 = 5;

/// What differs on every run whatever the Vault, replaced before comparing (and shown replaced):
/// the runner's unique mount names on a real Vault (`authsim-<run>-<n>-<path>` read as the world's
/// `<path>`, as on the embedded target), UUIDs (Vault's role ids, EC2 nonces, STS request ids),
/// times (RFC 3339, and SigV4's `20261204T135615Z`), Go durations with a fraction of a second (a
/// real Vault's own clock measured them: `expires in 1h59m59.076461234s`), 64-hex digests (SigV4 strings to sign), and
/// the ports of the cloud mocks, which bind free ports.
static MASKS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"authsim-[0-9a-f]+-[0-9]+-", ""),
        (
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
            "<uuid>",
        ),
        (
            r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})",
            "<time>",
        ),
        (r"\b\d{8}T\d{6}Z\b", "<time>"),
        (r"\b(?:\d+h)?(?:\d+m)?\d+\.\d+s\b", "<duration>"),
        (r"\b[0-9a-f]{64}\b", "<sha256>"),
        (
            r"\b(\d{1,3}(?:\.\d{1,3}){3}|localhost):\d{1,5}\b",
            "${1}:<port>",
        ),
    ]
    .into_iter()
    .map(|(re, with)| (Regex::new(re).expect("a valid mask"), with))
    .collect()
});

/// A value with [`MASKS`] applied to every string in it.
fn masked(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(mask(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(masked).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, masked(v))).collect()),
        v => v,
    }
}

fn mask(s: &str) -> String {
    let mut s = s.to_owned();
    for (re, with) in MASKS.iter() {
        if let Cow::Owned(t) = re.replace_all(&s, *with) {
            s = t;
        }
    }
    s
}

fn opt(s: &Option<String>) -> Value {
    s.clone().into()
}

fn change(id: &str, s: Option<&StepResult>, field: &str, old: Value, new: Value) -> Change {
    Change {
        scenario: id.to_owned(),
        step: s.map(|s| s.index),
        kind: s.map(|s| s.kind.clone()),
        field: field.to_owned(),
        old,
        new,
    }
}

/// A value as the text output shows it: JSON (strings quoted in full, with `\n` escapes), and
/// `(none)` for an absent one.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_owned(),
        v => v.to_string(),
    }
}

fn describe(s: &Side) -> String {
    match (&s.vault_version, &s.addr) {
        (Some(v), Some(a)) => format!("{}: Vault {v} at {a}", s.path),
        (None, Some(a)) => format!("{}: Vault at {a}", s.path),
        (Some(v), None) => format!("{}: Vault {v}", s.path),
        (None, None) => format!("{}: embedded mock Vault", s.path),
    }
}

/// A changed value as shown: [`show`], except that outcomes and kinds are words, not strings
/// (`outcome passed -> failed`).
fn shown(c: &Change, v: &Value) -> String {
    match (&c.field[..], v) {
        ("outcome" | "kind", Value::String(s)) => s.clone(),
        _ => show(v),
    }
}

/// What a change says after its `step N kind:` prefix.
fn what(c: &Change) -> String {
    match (&c.field[..], &c.old, &c.new) {
        ("step", Value::Null, _) => "added".to_owned(),
        ("step", _, Value::Null) => "removed".to_owned(),
        (f, o, n) => format!("{f} {} -> {}", shown(c, o), shown(c, n)),
    }
}

/// Grouped by scenario:
///
/// ```text
/// old: old.json: Vault 1.17.0 at http://127.0.0.1:8200
/// new: new.json: Vault 1.16.3 at http://127.0.0.1:8201
///
/// vault/missing_token
///   step 1 vault_read: errors ["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"] -> ["permission denied"]
///   step 1 vault_read: outcome passed -> failed
///   outcome passed -> failed
/// added: gcp/new_case
///
/// 1 scenario changed, 1 added, 0 removed; 17 unchanged
/// ```
pub fn text(d: &Diff) -> String {
    let mut out = format!("old: {}\nnew: {}\n", describe(&d.old), describe(&d.new));
    if d.is_empty() {
        let _ = writeln!(
            out,
            "\nno changes: {} scenario{} answered the same",
            d.unchanged,
            if d.unchanged == 1 { "" } else { "s" }
        );
        return out;
    }
    out.push('\n');
    let mut current: Option<&str> = None;
    for c in &d.changed {
        if current != Some(c.scenario.as_str()) {
            let _ = writeln!(out, "{}", c.scenario);
            current = Some(&c.scenario);
        }
        match (c.step, &c.kind) {
            (Some(i), Some(k)) => {
                let _ = writeln!(out, "  step {i} {k}: {}", what(c));
            }
            _ => {
                let _ = writeln!(out, "  {}", what(c));
            }
        }
    }
    for id in &d.added {
        let _ = writeln!(out, "added: {id}");
    }
    for id in &d.removed {
        let _ = writeln!(out, "removed: {id}");
    }
    let _ = writeln!(out, "\n{}", d.summary());
    out
}

/// A verdict line and a table of changes, for a pull-request comment.
pub fn markdown(d: &Diff) -> String {
    let mut out = format!(
        "**authsim compare**: {} (old: {}, new: {})\n",
        if d.is_empty() {
            format!("no changes; {} unchanged", d.unchanged)
        } else {
            d.summary()
        },
        cell_full(&describe(&d.old)),
        cell_full(&describe(&d.new)),
    );
    if !d.changed.is_empty() {
        out.push_str("\n| scenario | step | field | old | new |\n|---|---|---|---|---|\n");
        for c in &d.changed {
            let step = match (c.step, &c.kind) {
                (Some(i), Some(k)) => format!("{i} {k}"),
                _ => String::new(),
            };
            let (old, new) = match (&c.field[..], &c.old, &c.new) {
                ("step", Value::Null, _) => (String::new(), "added".to_owned()),
                ("step", _, Value::Null) => ("removed".to_owned(), String::new()),
                (_, o, n) => (
                    code_of(cell_full(&shown(c, o))),
                    code_of(cell_full(&shown(c, n))),
                ),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {old} | {new} |",
                code_of(cell_full(&c.scenario)),
                cell_full(&step),
                cell_full(&c.field)
            );
        }
    }
    for (what, ids) in [("Added", &d.added), ("Removed", &d.removed)] {
        if !ids.is_empty() {
            let _ = writeln!(
                out,
                "\n{what}: {}",
                ids.iter()
                    .map(|i| code_of(cell_full(i)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    out
}

/// Reads a run report, or says in one line what the file is instead and what to do.
pub fn load(path: &Path) -> Result<RunReport, String> {
    let p = path.display();
    let what = "compare takes two `authsim run --report-json` files";
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {p}: {e}; {what}"))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{p} is not JSON ({e}); {what}"))?;
    if v.get("kind").and_then(Value::as_str) == Some(crate::bench::report::KIND) {
        return Err(format!(
            "{p} is a bench report (`authsim bench --report-json`); {what} (bench reports go to `authsim merge`)"
        ));
    }
    match v.get("schema_version").and_then(Value::as_u64) {
        Some(n) if n == u64::from(SCHEMA_VERSION) => {}
        Some(n) => {
            return Err(format!(
                "{p} has report schema_version {n}, this authsim reads {SCHEMA_VERSION}; \
                 compare it with the authsim that wrote it, or run the catalogue again with this one"
            ))
        }
        None => {
            return Err(format!(
                "{p} is not an authsim run report (no schema_version); {what}"
            ))
        }
    }
    serde_json::from_value(v).map_err(|e| format!("{p} is not an authsim run report ({e}); {what}"))
}

/// Runs `compare`; returns the exit code.
pub fn main(args: &CompareArgs) -> i32 {
    let (old, new) = match (load(&args.old), load(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return crate::exit::ERROR;
        }
    };
    let d = diff(
        &args.old.display().to_string(),
        &old,
        &args.new.display().to_string(),
        &new,
    );
    let out = match args.format {
        CompareFormat::Text => text(&d),
        CompareFormat::Markdown => markdown(&d),
        CompareFormat::Json => serde_json::to_string_pretty(&d).unwrap_or_default() + "\n",
    };
    crate::stdout::print(&out);
    if d.is_empty() || args.allow_changes {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::report::sample::{failed_step, report, scenario, step};

    fn catalogue() -> Vec<ScenarioResult> {
        vec![
            scenario("vault/ok", vec![step(1, "vault_read", 200, &[])]),
            scenario(
                "vault/missing_token",
                vec![step(
                    1,
                    "vault_read",
                    403,
                    &["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"],
                )],
            ),
            scenario(
                "gcp/login",
                vec![
                    step(1, "sign_jwt", 200, &[]),
                    step(2, "gcp_login", 400, &["role not found"]),
                ],
            ),
        ]
    }

    #[test]
    fn identical_reports_have_no_changes() {
        let r = report(catalogue());
        let d = diff("a.json", &r, "b.json", &r);
        assert!(d.is_empty());
        assert_eq!(d.unchanged, 3);
        assert!(text(&d).ends_with("\nno changes: 3 scenarios answered the same\n"));
    }

    #[test]
    fn one_changed_error_string_is_exactly_one_change() {
        let old = report(catalogue());
        let mut new = old.clone();
        new.target.vault_version = Some("1.16.3".into());
        new.scenarios[1].steps[0].observed.errors = vec!["permission denied".into()];
        let d = diff("old.json", &old, "new.json", &new);
        assert_eq!(
            d.changed,
            [Change {
                scenario: "vault/missing_token".into(),
                step: Some(1),
                kind: Some("vault_read".into()),
                field: "errors".into(),
                old: json!(["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]),
                new: json!(["permission denied"]),
            }]
        );
        assert_eq!(d.unchanged, 2);
        assert_eq!(
            d.summary(),
            "1 scenario changed, 0 added, 0 removed; 2 unchanged"
        );
        assert_eq!(
            text(&d),
            "old: old.json: Vault 1.17.0 at http://127.0.0.1:8200\n\
             new: new.json: Vault 1.16.3 at http://127.0.0.1:8200\n\
             \n\
             vault/missing_token\n  \
             step 1 vault_read: errors [\"2 errors occurred:\\n\\t* permission denied\\n\\t* invalid token\\n\\n\"] -> [\"permission denied\"]\n\
             \n\
             1 scenario changed, 0 added, 0 removed; 2 unchanged\n"
        );
    }

    #[test]
    fn every_observed_fact_and_both_outcomes_are_compared() {
        let mut o = step(2, "gcp_login", 200, &[]);
        o.observed.policies = Some(vec!["app".into(), "default".into()]);
        o.observed.metadata = Some(BTreeMap::from([
            ("role".to_owned(), "app".to_owned()),
            ("project_id".to_owned(), "demo".to_owned()),
        ]));
        o.observed.token_ttl = Some(2_764_800);
        o.observed
            .fields
            .insert("/auth/renewable".into(), json!(true));
        let mut n = failed_step();
        n.index = 2;
        n.kind = "gcp_login".into();
        n.observed.metadata = Some(BTreeMap::from([
            ("role".to_owned(), "app2".to_owned()),
            ("service_account_email".to_owned(), "x@y".to_owned()),
        ]));
        n.observed.token_ttl = Some(3600);
        n.observed
            .fields
            .insert("/auth/renewable".into(), json!(false));
        let old = report(vec![scenario(
            "gcp/login",
            vec![step(1, "sign_jwt", 200, &[]), o],
        )]);
        let new = report(vec![scenario(
            "gcp/login",
            vec![step(1, "sign_jwt", 200, &[]), n],
        )]);
        let d = diff("o", &old, "n", &new);
        let got: Vec<(Option<usize>, &str, String, String)> = d
            .changed
            .iter()
            .map(|c| (c.step, c.field.as_str(), show(&c.old), show(&c.new)))
            .collect();
        let s = |x: &str| x.to_owned();
        assert_eq!(
            got,
            [
                (Some(2), "status", s("200"), s("400")),
                (
                    Some(2),
                    "errors",
                    s("[]"),
                    s("[\"invalid username or password\"]")
                ),
                (Some(2), "policies", s("[\"app\",\"default\"]"), s("(none)")),
                (Some(2), "metadata.project_id", s("\"demo\""), s("(none)")),
                (Some(2), "metadata.role", s("\"app\""), s("\"app2\"")),
                (
                    Some(2),
                    "metadata.service_account_email",
                    s("(none)"),
                    s("\"x@y\"")
                ),
                (Some(2), "token_ttl", s("2764800"), s("3600")),
                (Some(2), "json /auth/renewable", s("true"), s("false")),
                (Some(2), "outcome", s("\"passed\""), s("\"failed\"")),
                (None, "outcome", s("\"passed\""), s("\"failed\"")),
            ]
        );
        assert!(text(&d).contains("\ngcp/login\n  step 2 gcp_login: status 200 -> 400\n"));
        assert!(text(&d).ends_with("  step 2 gcp_login: outcome passed -> failed\n  outcome passed -> failed\n\n1 scenario changed, 0 added, 0 removed; 0 unchanged\n"));
    }

    #[test]
    fn added_and_removed_scenarios_and_steps_are_listed() {
        let old = report(catalogue());
        let mut new = report(catalogue());
        new.scenarios.remove(0);
        new.scenarios.push(scenario(
            "aws/new_case",
            vec![step(1, "aws_login", 200, &[])],
        ));
        new.scenarios[1].steps.push(step(3, "vault_read", 200, &[]));
        let d = diff("o", &old, "n", &new);
        assert_eq!(d.added, ["aws/new_case"]);
        assert_eq!(d.removed, ["vault/ok"]);
        assert_eq!(d.unchanged, 1);
        let t = text(&d);
        assert!(t.contains("gcp/login\n  step 3 vault_read: added\n"), "{t}");
        assert!(
            t.contains("added: aws/new_case\nremoved: vault/ok\n"),
            "{t}"
        );
        assert!(
            t.ends_with("\n1 scenario changed, 1 added, 1 removed; 1 unchanged\n"),
            "{t}"
        );
        let back = diff("n", &new, "o", &old);
        assert!(text(&back).contains("gcp/login\n  step 3 vault_read: removed\n"));
    }

    #[test]
    fn a_step_that_did_not_run_on_one_side_differs_only_in_outcome() {
        let old = report(vec![scenario(
            "gcp/login",
            vec![
                step(1, "sign_jwt", 200, &[]),
                step(2, "gcp_login", 200, &[]),
            ],
        )]);
        let mut new = old.clone();
        let first = &mut new.scenarios[0].steps[0];
        first.observed.status = Some(403);
        first.outcome = Outcome::Failed;
        let second = &mut new.scenarios[0].steps[1];
        second.observed = Observed::default();
        second.outcome = Outcome::Skipped;
        new.scenarios[0].outcome = Outcome::Failed;
        let d = diff("o", &old, "n", &new);
        let fields: Vec<(Option<usize>, &str)> = d
            .changed
            .iter()
            .map(|c| (c.step, c.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                (Some(1), "status"),
                (Some(1), "outcome"),
                (Some(2), "outcome"),
                (None, "outcome")
            ]
        );
    }

    #[test]
    fn a_scenario_skipped_on_one_side_differs_in_outcome_and_message() {
        let old = report(catalogue());
        let mut new = old.clone();
        let s = &mut new.scenarios[0];
        s.steps.clear();
        s.outcome = Outcome::Skipped;
        s.message = Some("runs only on embedded".into());
        let d = diff("o", &old, "n", &new);
        let t = text(&d);
        assert!(
            t.contains("vault/ok\n  outcome passed -> skipped\n  message (none) -> \"runs only on embedded\"\n"),
            "{t}"
        );
    }

    #[test]
    fn what_differs_on_every_run_and_a_ticking_ttl_are_not_changes() {
        assert_eq!(
            mask("authsim-6b12d0e1-5-userpass-bob; auth/authsim-ff-12-aws/login"),
            "userpass-bob; auth/aws/login"
        );
        assert_eq!(
            mask("authsim-run authsim-x-1-a authsim-ab-c-d authsim-"),
            "authsim-run authsim-x-1-a authsim-ab-c-d authsim-"
        );
        assert_eq!(
            mask("<RequestId>621d5aad-4430-41f1-9922-6df98e791488</RequestId>"),
            "<RequestId><uuid></RequestId>"
        );
        assert_eq!(
            mask("Signature expired: 20261204T134114Z is now earlier than 20261204T134115Z"),
            "Signature expired: <time> is now earlier than <time>"
        );
        assert_eq!(
            mask("issued 2026-12-04T13:56:15.123Z, expires 2026-12-04T14:56:15+01:00"),
            "issued <time>, expires <time>"
        );
        assert_eq!(
            mask("expires in 1h59m59.076461234s, 59.5s or 1m0.25s; not 1h1m1s or 900 seconds"),
            "expires in <duration>, <duration> or <duration>; not 1h1m1s or 900 seconds"
        );
        assert_eq!(
            mask(&format!("'AWS4-HMAC-SHA256\n{}'", "d0".repeat(32))),
            "'AWS4-HMAC-SHA256\n<sha256>'"
        );
        assert_eq!(
            mask("POST http://127.0.0.1:34507// and localhost:8200, not port 8200 or 1.17.0"),
            "POST http://127.0.0.1:<port>// and localhost:<port>, not port 8200 or 1.17.0"
        );
        let mut o = step(2, "token_lookup", 200, &[]);
        o.observed.token_ttl = Some(2_764_800);
        o.observed.fields.insert(
            "/data/display_name".into(),
            json!("authsim-6b12d0e1-5-userpass-bob"),
        );
        let mut n = o.clone();
        n.observed.token_ttl = Some(2_764_799);
        n.observed.fields.insert(
            "/data/display_name".into(),
            json!("authsim-6b12d0f5-15-userpass-bob"),
        );
        let old = report(vec![scenario("vault/lookup", vec![o])]);
        let new = report(vec![scenario("vault/lookup", vec![n])]);
        assert!(diff("o", &old, "n", &new).is_empty());
        let mut later = new.clone();
        later.scenarios[0].steps[0].observed.token_ttl = Some(3600);
        assert_eq!(diff("o", &old, "n", &later).changed.len(), 1);
    }

    #[test]
    fn the_markdown_table_escapes_pipes() {
        let old = report(catalogue());
        let mut new = old.clone();
        new.scenarios[1].steps[0].observed.errors = vec!["a | b".into()];
        let md = markdown(&diff("o", &old, "n", &new));
        assert!(md.starts_with("**authsim compare**: 1 scenario changed, 0 added, 0 removed; 2 unchanged (old: o: Vault 1.17.0 at http://127.0.0.1:8200, new: n: Vault 1.17.0 at http://127.0.0.1:8200)\n"), "{md}");
        assert!(md.contains(
            "| `vault/missing_token` | 1 vault_read | errors | `[\"2 errors occurred:\\n\\t* permission denied\\n\\t* invalid token\\n\\n\"]` | `[\"a \\| b\"]` |\n"
        ), "{md}");
    }

    #[test]
    fn a_bench_report_garbage_and_another_schema_are_refused_in_one_line() {
        let dir = std::env::temp_dir().join(format!("authsim-compare-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, body: &str| {
            let p = dir.join(name);
            std::fs::write(&p, body).unwrap();
            p
        };
        let bench = write(
            "bench.json",
            r#"{"kind": "authsim.bench", "schema_version": 1}"#,
        );
        let garbage = write("garbage.json", "not json");
        let future = write("future.json", r#"{"schema_version": 9}"#);
        let other = write("other.json", r#"{"schema_version": 1, "hello": 1}"#);
        for (p, says) in [
            (&bench, "is a bench report"),
            (&garbage, "is not JSON"),
            (&future, "has report schema_version 9, this authsim reads 1"),
            (&other, "is not an authsim run report (missing field"),
            (&dir.join("absent.json"), "cannot read"),
        ] {
            let e = load(p).unwrap_err();
            assert!(e.contains(says), "{e}");
            assert!(e.contains(&p.display().to_string()), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
