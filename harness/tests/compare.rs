//! `authsim compare` as a process: exactly the change between two reports, in text and JSON;
//! exit codes; bad input in one line; added and removed scenarios; and end to end, the mock
//! Vault's 1.17 and 1.16 behaviours told apart from the catalogue's answers.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{authsim, catalogue, scratch, Serve};
use serde_json::Value;

/// A real report: three vault scenarios on the embedded target.
fn base_report(dir: &Path) -> (PathBuf, Value) {
    let path = dir.join("old.json");
    let out = authsim()
        .arg("run")
        .args(
            [
                "vault/userpass_login.toml",
                "vault/userpass_wrong_password.toml",
                "vault/missing_token.toml",
            ]
            .map(|f| catalogue().join(f)),
        )
        .arg("--report-json")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    (path, v)
}

fn write_json(path: &Path, v: &Value) -> PathBuf {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    path.to_path_buf()
}

fn scenario_mut<'a>(report: &'a mut Value, id: &str) -> &'a mut Value {
    report["scenarios"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["id"] == id)
        .unwrap()
}

fn compare(old: &Path, new: &Path, extra: &[&str]) -> Output {
    authsim()
        .arg("compare")
        .arg(old)
        .arg(new)
        .args(extra)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn one_changed_error_string_is_reported_exactly_and_exits_1_unless_changes_are_allowed() {
    let d = scratch("compare-one");
    let (old, mut v) = base_report(&d);
    scenario_mut(&mut v, "vault/userpass_wrong_password")["steps"][0]["observed"]["errors"] =
        serde_json::json!(["invalid username or password (new)"]);
    let new = write_json(&d.join("new.json"), &v);

    let text = compare(&old, &new, &[]);
    assert_eq!(text.status.code(), Some(1));
    let t = stdout(&text);
    let body: Vec<&str> = t.lines().skip(3).collect();
    assert_eq!(
        body,
        [
            "vault/userpass_wrong_password",
            r#"  step 1 userpass_login: errors ["invalid username or password"] -> ["invalid username or password (new)"]"#,
            "",
            "1 scenario changed, 0 added, 0 removed; 2 unchanged",
        ],
        "{t}"
    );
    assert!(t.starts_with(&format!("old: {}: embedded mock Vault\n", old.display())));

    let json = compare(&old, &new, &["--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let diff: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(diff["schema_version"], 1);
    assert_eq!(diff["old"]["path"], old.display().to_string());
    assert_eq!(diff["new"]["vault_version"], Value::Null);
    assert_eq!(
        diff["changed"],
        serde_json::json!([{
            "scenario": "vault/userpass_wrong_password",
            "step": 1,
            "kind": "userpass_login",
            "field": "errors",
            "old": ["invalid username or password"],
            "new": ["invalid username or password (new)"],
        }])
    );
    assert_eq!(diff["added"], serde_json::json!([]));
    assert_eq!(diff["removed"], serde_json::json!([]));
    assert_eq!(diff["unchanged"], 2);

    let md = compare(&old, &new, &["--format", "markdown"]);
    assert_eq!(md.status.code(), Some(1));
    assert!(stdout(&md).contains(
        "| `vault/userpass_wrong_password` | 1 userpass_login | errors | `[\"invalid username or password\"]` | `[\"invalid username or password (new)\"]` |"
    ));

    let allowed = compare(&old, &new, &["--allow-changes"]);
    assert_eq!(allowed.status.code(), Some(0));
    assert_eq!(stdout(&allowed), t);
}

#[test]
fn identical_reports_say_no_changes_and_exit_0() {
    let d = scratch("compare-same");
    let (old, v) = base_report(&d);
    let copy = write_json(&d.join("copy.json"), &v);
    let out = compare(&old, &copy, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).ends_with("\nno changes: 3 scenarios answered the same\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_bench_report_garbage_or_a_missing_file_is_one_line_and_exit_2() {
    let d = scratch("compare-bad");
    let (old, _) = base_report(&d);
    let bench = d.join("bench.json");
    std::fs::write(
        &bench,
        r#"{"schema_version": 1, "kind": "authsim.bench", "authsim_version": "0.1.0"}"#,
    )
    .unwrap();
    let garbage = d.join("garbage.json");
    std::fs::write(&garbage, "<html>not a report</html>").unwrap();
    for (bad, says) in [
        (&bench, "is a bench report"),
        (&garbage, "is not JSON"),
        (&d.join("absent.json"), "cannot read"),
    ] {
        for (a, b) in [(&old, bad), (bad, &old)] {
            let out = compare(a, b, &[]);
            assert_eq!(out.status.code(), Some(2));
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.starts_with("error: "), "{err}");
            assert!(err.contains(&bad.display().to_string()), "{err}");
            assert!(err.contains(says), "{err}");
            assert!(err.contains("authsim run --report-json"), "{err}");
            assert!(out.stdout.is_empty());
        }
    }
}

#[test]
fn added_and_removed_scenarios_are_listed() {
    let d = scratch("compare-added");
    let (old, mut v) = base_report(&d);
    scenario_mut(&mut v, "vault/userpass_login")["id"] = "vault/userpass_login_renamed".into();
    let new = write_json(&d.join("new.json"), &v);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(1));
    let t = stdout(&out);
    assert!(t.contains("\nadded: vault/userpass_login_renamed\n"), "{t}");
    assert!(t.contains("\nremoved: vault/userpass_login\n"), "{t}");
    assert!(
        t.ends_with("\n0 scenarios changed, 1 added, 1 removed; 2 unchanged\n"),
        "{t}"
    );
    let json: Value =
        serde_json::from_slice(&compare(&old, &new, &["--format", "json"]).stdout).unwrap();
    assert_eq!(
        json["added"],
        serde_json::json!(["vault/userpass_login_renamed"])
    );
    assert_eq!(json["removed"], serde_json::json!(["vault/userpass_login"]));
}

#[test]
fn compare_tells_the_mock_vaults_1_17_and_1_16_apart() {
    let d = scratch("compare-versions");
    let (old, new) = (d.join("1.17.json"), d.join("1.16.json"));
    let vault = [catalogue().join("vault")];
    for (extra, report) in [(&[][..], &old), (&["--vault-compat", "1.16"][..], &new)] {
        // Each run gets a fresh Vault: some scenarios write secrets.
        let serve = Serve::start(extra);
        let out = serve.run(&vault, report);
        assert!(
            report.is_file(),
            "{}\n{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(1));
    let t = stdout(&out);
    assert!(t.contains("Vault 1.17"), "{t}");
    assert!(t.contains("Vault 1.16"), "{t}");
    let unknown = r#"errors ["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"] -> ["permission denied"]"#;
    assert!(
        t.contains(&format!(
            "vault/missing_token\n  step 1 vault_read: {unknown}\n"
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "vault/token_revoked\n  step 3 vault_read: {unknown}\n"
        )),
        "{t}"
    );
    let json: Value =
        serde_json::from_slice(&compare(&old, &new, &["--format", "json"]).stdout).unwrap();
    let mut changed: Vec<&str> = json["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["scenario"].as_str().unwrap())
        .collect();
    changed.dedup();
    assert_eq!(
        changed,
        ["vault/missing_token", "vault/token_revoked"],
        "{t}"
    );
    assert_eq!(json["added"], serde_json::json!([]));
    assert_eq!(json["removed"], serde_json::json!([]));
}
