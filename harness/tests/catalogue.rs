//! Golden tests of the scenario catalogue: every scenario in `scenarios/` runs against the
//! embedded mock Vault and its verbose console report is compared with
//! `harness/tests/expect/<id>.txt`, where `[..]` is a hole (timings, ports, signatures).
//! `UPDATE_EXPECT=1 cargo test -p authsim --test catalogue` writes the files anew; review the
//! diff before committing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use authsim::report::console::{self, Style};
use authsim::report::Outcome;
use authsim::run::{self, RunConfig, TargetConfig};
use authsim_mocks::worldfile::DEFAULT_WORLD;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Replaces what changes from run to run with holes.
fn with_holes(text: &str) -> String {
    let rules = [
        (r"\(\d+ ms\)", "([..] ms)"),
        (r"reproduce: .*", "reproduce: [..]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[..]"),
        (r"\b\d{8}T\d{6}Z\b", "[..]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[..]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[..]",
        ),
        (r"hvs\.[A-Za-z0-9]+", "hvs.[..]"),
    ];
    let mut out = text.to_owned();
    for (re, hole) in rules {
        out = regex::Regex::new(re)
            .unwrap()
            .replace_all(&out, hole)
            .into_owned();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalogue_scenario_reports_as_expected() {
    let scenarios_dir = root().join("scenarios");
    let (scenarios, _) = run::load(std::slice::from_ref(&scenarios_dir))
        .unwrap_or_else(|e| panic!("the catalogue does not load:\n{}", e.0.join("\n")));
    assert!(!scenarios.is_empty());
    let cfg = Arc::new(RunConfig {
        world_file: "scenarios/world.toml".into(),
        world_text: DEFAULT_WORLD.into(),
        target: TargetConfig::Embedded,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        run_id: "golden".into(),
        extra_runtimes: Vec::new(),
    });
    let results = run::run_all(cfg, scenarios, 8, |_| {}).await;
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let expect_dir = root().join("harness/tests/expect");
    let mut problems = Vec::new();
    for r in &results {
        let style = Style {
            color: false,
            verbose: true,
            sent_only: false,
        };
        let actual = console::scenario(r, style);
        let file = expect_dir.join(format!("{}.txt", r.id.replace('#', "-")));
        if update {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, with_holes(&actual)).unwrap();
            continue;
        }
        match std::fs::read_to_string(&file) {
            Err(_) => problems.push(format!(
                "{}: no expected report at {} (UPDATE_EXPECT=1 writes it)\n{actual}",
                r.id,
                file.display()
            )),
            Ok(expected) => {
                if let Err(d) = console::matches_with_holes(&expected, &actual) {
                    problems.push(format!("{}: {d}\nwhole report:\n{actual}", r.id));
                }
            }
        }
        if r.outcome != Outcome::Passed {
            problems.push(format!("{} did not pass:\n{actual}", r.id));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n\n{}",
        problems.len(),
        problems.join("\n")
    );
}
