//! `authsim run --report-junit` (and `--report-markdown`) on a small catalogue: one passing, one
//! failing, one skipped and one errored scenario; the XML read back as CI systems read it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{authsim, catalogue, scratch};
use quick_xml::events::Event;

/// A catalogue root (with `world.toml`) holding `vault/userpass_login` (passes), `vault/wrong`
/// (fails), `vault/bad_policy` (errors: provisioning refused) and `aws/only_on_vault` (skipped
/// on the embedded target).
fn small_catalogue(name: &str) -> PathBuf {
    let root = scratch(name);
    std::fs::create_dir_all(root.join("vault")).unwrap();
    std::fs::create_dir_all(root.join("aws")).unwrap();
    std::fs::copy(catalogue().join("world.toml"), root.join("world.toml")).unwrap();
    std::fs::copy(
        catalogue().join("vault/userpass_login.toml"),
        root.join("vault/userpass_login.toml"),
    )
    .unwrap();
    std::fs::write(
        root.join("vault/wrong.toml"),
        r#"name = "expects the wrong message"
[[step]]
userpass_login = { username = "bob", password = "guess" }
expect = { status = 400, error = "invalid password" }
"#,
    )
    .unwrap();
    std::fs::write(
        root.join("vault/bad_policy.toml"),
        r#"name = "a policy Vault cannot parse stops provisioning"
[world.vault.policies]
broken = 'path "secret/*" { capabilities = '

[[step]]
vault_read = "secret/data/app/config"
"#,
    )
    .unwrap();
    std::fs::write(
        root.join("aws/only_on_vault.toml"),
        r#"name = "runs only against a real Vault"
targets = ["vault"]

[[step]]
aws_login = { role = "app", identity = "alice" }
"#,
    )
    .unwrap();
    root
}

fn run_with(root: &Path, flag: &str, report: &Path) {
    let out = authsim()
        .arg("run")
        .arg(root)
        .arg(flag)
        .arg(report)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An element as read back: name, attributes, text.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
}

impl Element {
    fn attr(&self, k: &str) -> &str {
        self.attrs
            .get(k)
            .unwrap_or_else(|| panic!("no {k} in {self:?}"))
    }
}

fn parse(xml: &str) -> Vec<Element> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out: Vec<Element> = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => out.push(Element {
                name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                attrs: e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                            a.unescape_value().unwrap().into_owned(),
                        )
                    })
                    .collect(),
                text: String::new(),
            }),
            Event::Text(t) => {
                if let Some(last) = out.last_mut() {
                    last.text.push_str(&t.unescape().unwrap());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

#[test]
fn junit_counts_every_outcome_per_area_and_the_failure_says_what_and_how_to_reproduce() {
    let root = small_catalogue("junit");
    let xml_path = root.join("junit.xml");
    run_with(&root, "--report-junit", &xml_path);
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let doc = parse(&xml);

    let suites = &doc[0];
    assert_eq!(suites.name, "testsuites");
    assert_eq!(
        [
            suites.attr("tests"),
            suites.attr("failures"),
            suites.attr("errors"),
            suites.attr("skipped")
        ],
        ["4", "1", "1", "1"]
    );
    let per_area: Vec<(&str, &str, &str, &str, &str)> = doc
        .iter()
        .filter(|e| e.name == "testsuite")
        .map(|e| {
            (
                e.attr("name"),
                e.attr("tests"),
                e.attr("failures"),
                e.attr("errors"),
                e.attr("skipped"),
            )
        })
        .collect();
    assert_eq!(
        per_area,
        [("aws", "1", "0", "0", "1"), ("vault", "3", "1", "1", "0")]
    );
    let kind = doc
        .iter()
        .find(|e| e.name == "property" && e.attr("name") == "authsim.target.kind")
        .unwrap();
    assert_eq!(kind.attr("value"), "embedded");

    let cases: Vec<&Element> = doc.iter().filter(|e| e.name == "testcase").collect();
    assert_eq!(cases.len(), 4);
    let wrong = cases
        .iter()
        .find(|c| c.attr("name") == "vault/wrong")
        .unwrap();
    assert_eq!(wrong.attr("classname"), "authsim.vault");
    assert!(wrong.attr("file").ends_with("wrong.toml"));
    let time = wrong.attr("time");
    assert!(
        time.split_once('.').is_some_and(|(_, ms)| ms.len() == 3),
        "{time}"
    );

    let failures: Vec<&Element> = doc.iter().filter(|e| e.name == "failure").collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].attr("message"),
        r#"step 1 (userpass_login): error: expected "invalid password", got ["invalid username or password"]"#
    );
    let text = &failures[0].text;
    assert!(
        text.contains(
            r#"error: expected "invalid password", got ["invalid username or password"]"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"curl -sS -X POST -H 'Content-Type: application/json' --data '{"password":"<redacted>"}'"#),
        "{text}"
    );
    assert!(!xml.contains("guess"));

    let error = doc.iter().find(|e| e.name == "error").unwrap();
    assert!(
        error
            .attr("message")
            .starts_with("provisioning the scenario's Vault failed: Vault refused PUT sys/policies/acl/broken (400)"),
        "{error:?}"
    );
    let skipped = doc.iter().find(|e| e.name == "skipped").unwrap();
    assert_eq!(
        skipped.attr("message"),
        r#"runs only on vault (targets = ["vault"])"#
    );
}

#[test]
fn markdown_has_the_verdict_the_failure_row_and_the_curl() {
    let root = small_catalogue("markdown");
    let md_path = root.join("summary.md");
    run_with(&root, "--report-markdown", &md_path);
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(
        md.starts_with(
            "**authsim run: FAILED** — 1 passed, 1 failed, 1 error, 1 skipped of 4 scenarios in "
        ),
        "{md}"
    );
    assert!(
        md.contains("| `vault/wrong` | 1 userpass_login | error | `\"invalid password\"` | `[\"invalid username or password\"]` |\n"),
        "{md}"
    );
    assert!(md
        .contains("| `vault/bad_policy` | | error | | provisioning the scenario's Vault failed: "));
    assert!(md.contains("```sh\ncurl -sS -X POST "), "{md}");
    assert!(md.contains("<details><summary>1 passed</summary>"));
    assert!(!md.contains("guess"));
}
