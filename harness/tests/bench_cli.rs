//! `authsim bench` and `authsim merge` as processes: bad input is one line and exit 2; two
//! workers against one mock Vault (in another process) merge into the sum of their parts; a
//! target that dies mid-run is counted as errors, not a crash; load spread over several threads
//! is counted exactly.

use std::path::PathBuf;
use std::process::{Child, Stdio};

use serde_json::Value;

mod common;
use common::{authsim, scratch, Serve};

fn one_error_line(args: &[&str], needle: &str) {
    let out = authsim().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "{args:?}: {err}"
    );
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    one_error_line(
        &["bench", "--flow", "aws-im", "--rate", "1"],
        "did you mean `aws-iam`?",
    );
    // A schedule that would never end, or never send.
    one_error_line(
        &["bench", "--flow", "health", "--rate", "1e12"],
        "is above what one process can send",
    );
    one_error_line(
        &["bench", "--flow", "health", "--profile", "1e9,1s"],
        "is above what one process can send",
    );
    one_error_line(
        &[
            "bench",
            "--flow",
            "health",
            "--rate",
            "0.1",
            "--duration",
            "1s",
        ],
        "this schedule sends no request",
    );
    one_error_line(
        &[
            "bench",
            "--flow",
            "health",
            "--concurrency",
            "1",
            "--workers",
            "2",
        ],
        "leaves a worker no client",
    );
    one_error_line(&["bench", "--flow", "aws-iam"], "give a load model");
    // Sizes held in memory whole, and values that cannot be run, are refused up front.
    for (args, says) in [
        (
            &["--concurrency", "100000000"][..],
            "is more than 100000 clients",
        ),
        (
            &["--rate", "5", "--presign", "100000000"],
            "logins held in memory",
        ),
        (
            &["--rate", "5", "--identities", "4294967295"],
            "is more than 10000",
        ),
        (
            &["--rate", "5", "--duration", "99999999999999999999s"],
            "is not a duration",
        ),
        (
            &["--rate", "5", "--duration", "31d"],
            "is longer than 30 days",
        ),
        (
            &["--rate", "5", "--max-in-flight", "0"],
            "--max-in-flight must be at least 1",
        ),
        (&["--rate", "5", "--workers", "3"], "leaves a worker none"),
    ] {
        let mut all = vec!["bench", "--flow", "health"];
        all.extend_from_slice(args);
        one_error_line(&all, says);
    }
    one_error_line(
        &["bench", "--mix", "aws-iam=1,aws-iam=2", "--rate", "5"],
        "names aws-iam twice",
    );
    one_error_line(
        &[
            "bench",
            "--flow",
            "health",
            "--rate",
            "5",
            "--vault-addr",
            "http://127.0.0.1:9",
            "--vault-token",
            "t",
            "--fault",
            "vault:*:latency=5ms",
        ],
        "only aws and google faults apply",
    );
    one_error_line(
        &[
            "merge",
            "missing.json",
            "--report-html",
            "/nonexistent-dir/m.html",
        ],
        "there is no directory /nonexistent-dir",
    );
    one_error_line(
        &["bench", "--flow", "aws-iam", "--profile", "100;5,1s"],
        "is not RATE,DURATION",
    );
    one_error_line(
        &[
            "bench",
            "--flow",
            "aws-iam",
            "--rate",
            "1",
            "--duration",
            "soon",
        ],
        "--duration 'soon'",
    );
    one_error_line(
        &[
            "bench",
            "--flow",
            "aws-iam",
            "--rate",
            "1",
            "--fault",
            "aws:sts:slow",
        ],
        "unknown kind 'slow'",
    );
    one_error_line(
        &[
            "bench",
            "--flow",
            "aws-iam",
            "--rate",
            "1",
            "--workers",
            "2",
            "--worker-index",
            "2",
        ],
        "--worker-index 2 is not below --workers 2",
    );
    one_error_line(
        &[
            "bench",
            "--flow",
            "aws-iam",
            "--rate",
            "1",
            "--vault-addr",
            "http://127.0.0.1:1",
            "--vault-token",
            "t",
        ],
        "no Vault answers at http://127.0.0.1:1",
    );
}

fn bench_worker(addr: &str, index: u32, out: &PathBuf) -> Child {
    authsim()
        .args([
            "bench",
            "--flow",
            "userpass",
            "--rate",
            "60",
            "--duration",
            "2s",
            "--workers",
            "2",
            "--identities",
            "2",
            "--vault-addr",
            addr,
            "--vault-token",
            "root",
            "--no-live",
            "--worker-index",
            &index.to_string(),
            "--report-json",
        ])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// `authsim bench ARGS… --no-live --report-json OUT`, which must exit 0; the report.
fn bench_report(args: &[&[&str]], out: &PathBuf) -> Value {
    let run = authsim()
        .arg("bench")
        .args(args.concat())
        .args(["--no-live", "--report-json"])
        .arg(out)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    read(out)
}

fn read(p: &PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn two_workers_against_one_vault_merge_into_the_sum_of_their_parts() {
    let mut vault = Serve::start(&[]);
    let addr = vault.vault.clone();
    let d = scratch("workers");
    let (a, b) = (d.join("w0.json"), d.join("w1.json"));
    let mut w0 = bench_worker(&addr, 0, &a);
    let mut w1 = bench_worker(&addr, 1, &b);
    assert_eq!(w0.wait().unwrap().code(), Some(0));
    assert_eq!(w1.wait().unwrap().code(), Some(0));
    let merged = authsim().arg("merge").arg(&a).arg(&b).output().unwrap();
    vault.kill();
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let m: Value = serde_json::from_slice(&merged.stdout).unwrap();
    let (ra, rb) = (read(&a), read(&b));
    // Each worker ran half the rate: 30/s for 2 s.
    for r in [&ra, &rb] {
        assert_eq!(r["config"]["rate"], 30.0);
        assert_eq!(r["config"]["worker"]["workers"], 2);
        let sent = r["counts"]["sent"].as_u64().unwrap();
        assert!((50..=70).contains(&sent), "{sent}");
        assert_eq!(r["counts"]["errors"], 0, "{r}");
    }
    for k in ["sent", "ok", "errors", "dropped"] {
        assert_eq!(
            m["counts"][k].as_u64().unwrap(),
            ra["counts"][k].as_u64().unwrap() + rb["counts"][k].as_u64().unwrap(),
            "counts.{k}"
        );
    }
    assert_eq!(
        m["latency"]["count"].as_u64().unwrap(),
        ra["latency"]["count"].as_u64().unwrap() + rb["latency"]["count"].as_u64().unwrap()
    );
    assert_eq!(m["workers"], 2);
}

#[test]
fn a_vault_that_refuses_provisioning_is_one_line_and_exit_2() {
    let vault = Serve::start(&[]);
    // A valid token (the check before the load passes) that may not enable auth methods.
    let (status, body) = common::http(
        &vault.vault,
        "POST",
        "/v1/auth/token/create",
        &["X-Vault-Token: root"],
        Some(r#"{"policies":["default"]}"#),
    );
    assert_eq!(status, 200, "{body}");
    let token: Value = serde_json::from_str(&body).unwrap();
    let token = token["auth"]["client_token"].as_str().unwrap();
    let before = auth_mounts(&vault.vault);
    let out = authsim()
        .args([
            "bench",
            "--flow",
            "aws-iam",
            "--rate",
            "10",
            "--duration",
            "1s",
            "--no-live",
            "--vault-addr",
            &vault.vault,
            "--vault-token",
            token,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The progress line ("preparing …"), then the error in one line.
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("preparing "))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].starts_with("error: provisioning the Vault for the load failed: ")
            && errors[0].contains("permission denied"),
        "{err}"
    );
    // Nothing was left mounted.
    assert_eq!(auth_mounts(&vault.vault), before);
}

#[test]
fn a_vault_that_dies_mid_run_is_counted_as_errors_not_a_crash() {
    let mut vault = Serve::start(&[]);
    let addr = vault.vault.clone();
    let d = scratch("dies");
    let report = d.join("r.json");
    let mut bench = authsim()
        .args([
            "bench",
            "--flow",
            "kv-read",
            "--rate",
            "50",
            "--duration",
            "3s",
            "--no-live",
            "--vault-addr",
            &addr,
            "--vault-token",
            "root",
            "--report-json",
        ])
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    vault.kill();
    let status = bench.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let r = read(&report);
    assert!(r["counts"]["ok"].as_u64().unwrap() > 0, "{r}");
    assert!(r["counts"]["errors"].as_u64().unwrap() > 0, "{r}");
    let kinds = r["errors"].as_array().unwrap();
    assert!(
        kinds
            .iter()
            .all(|e| e["flow"] == "kv-read" && e["status"].is_null()),
        "{kinds:?}"
    );
}

#[test]
fn bad_thresholds_and_files_that_are_not_bench_reports_are_one_line_and_exit_2() {
    one_error_line(
        &[
            "bench",
            "--flow",
            "health",
            "--rate",
            "1",
            "--threshold",
            "p99<<5ms",
        ],
        "--threshold 'p99<<5ms': expected a number after '<'",
    );
    one_error_line(
        &[
            "bench",
            "--flow",
            "health",
            "--rate",
            "1",
            "--threshold",
            "p99<5",
        ],
        "'5' needs a unit: us, ms or s",
    );
    let d = scratch("not-reports");
    let run_report = d.join("run.json");
    std::fs::write(&run_report, r#"{"schema_version":1,"scenarios":[]}"#).unwrap();
    let newer = d.join("newer.json");
    std::fs::write(&newer, r#"{"kind":"authsim.bench","schema_version":9}"#).unwrap();
    let missing = d.join("missing.json");
    for (file, needle) in [
        (&run_report, "an `authsim run` report"),
        (&newer, "schema_version 9"),
        (&missing, "cannot read"),
    ] {
        let f = file.to_str().unwrap();
        one_error_line(&["merge", f], &format!("error: {f}: {needle}"));
    }
    one_error_line(
        &[
            "merge",
            run_report.to_str().unwrap(),
            "--threshold",
            "p98<5ms",
        ],
        "unknown metric `p98` (did you mean `p99`?)",
    );
}

/// A worker report without histograms, written by hand: 100 answered, 3 errors.
const HAND_WRITTEN: &str = r#"{
  "schema_version": 1, "kind": "authsim.bench", "authsim_version": "0.1.0",
  "config": {"flows": {"kv-read": 1}, "model": "open", "rate": 50.0, "duration_ms": 2000,
             "warmup_ms": 0, "identities": 1, "presign": 0, "target": "embedded"},
  "window": {"start_unix_ms": 1700000000000, "end_unix_ms": 1700000002000},
  "counts": {"sent": 100, "ok": 97, "errors": 3, "dropped": 0, "late": 0},
  "throughput": 50.0,
  "latency": {"count": 0, "mean_us": 0.0, "p50_us": 0, "p90_us": 0, "p99_us": 0, "p999_us": 0, "max_us": 0},
  "stages": {}, "histograms": {},
  "errors": [{"flow": "kv-read", "status": 503, "message": "Vault is sealed", "count": 3}],
  "timeline": [{"unix_s": 1700000000, "sent": 50, "ok": 48, "errors": 2, "p50_us": 0, "p99_us": 0},
               {"unix_s": 1700000001, "sent": 50, "ok": 49, "errors": 1, "p50_us": 0, "p99_us": 0}],
  "workers": 1
}"#;

#[test]
fn merge_checks_thresholds_on_the_merged_report_and_exits_1_when_one_fails() {
    let d = scratch("merge-thresholds");
    let a = d.join("a.json");
    std::fs::write(&a, HAND_WRITTEN).unwrap();
    let (svg, html) = (d.join("m.svg"), d.join("m.html"));
    let out = authsim()
        .arg("merge")
        .arg(&a)
        .arg(&a)
        .args(["--threshold", "errors<=6", "--threshold", "error_rate<1%"])
        .arg("--report-svg")
        .arg(&svg)
        .arg("--report-html")
        .arg(&html)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("threshold errors<=6: pass (errors = 6)"),
        "{err}"
    );
    assert!(
        err.contains("threshold error_rate<1%: FAIL (error_rate = 3.00% (6 of 200))"),
        "{err}"
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["counts"]["errors"], 6);
    assert_eq!(m["errors"][0]["message"], "Vault is sealed");
    assert_eq!(m["errors"][0]["count"], 6);
    assert_eq!(m["timeline"][0]["sent"], 100);
    assert_eq!(m["thresholds"][1]["pass"], false);
    assert_eq!(m["thresholds"][1]["threshold"], "error_rate<1%");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg "));
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("Vault is sealed"));
}

#[test]
fn a_failed_threshold_exits_1_and_is_recorded_in_the_reports() {
    let d = scratch("threshold");
    let (json, html) = (d.join("r.json"), d.join("r.html"));
    let out = authsim()
        .args([
            "bench",
            "--flow",
            "health",
            "--rate",
            "20",
            "--duration",
            "1s",
            "--no-live",
            // Nothing is recorded below 1 µs: this one cannot hold.
            "--threshold",
            "p50<1us",
            "--threshold",
            "rate>0",
            "--report-json",
        ])
        .arg(&json)
        .arg("--report-html")
        .arg(&html)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("threshold p50<1us: FAIL (p50 = "),
        "{stdout}"
    );
    assert!(
        stdout.contains("threshold rate>0: pass (rate = "),
        "{stdout}"
    );
    let r = read(&json);
    assert_eq!(r["thresholds"][0]["threshold"], "p50<1us");
    assert_eq!(r["thresholds"][0]["pass"], false);
    assert_eq!(r["thresholds"][1]["pass"], true);
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("<td class=\"fail\">FAIL</td>"));
}

/// Over more runtimes than clients need: the closed model's clients and the open model's
/// requests are dealt out to three threads, and so are the embedded mocks' connections (the mock
/// Vault's forward to STS lands on any of them). Nothing is lost or counted twice, the time Vault
/// spent on STS included.
#[test]
fn load_spread_over_threads_is_counted_exactly() {
    let d = scratch("threads");
    for (model, out) in [
        (["--concurrency", "5"], d.join("closed.json")),
        (["--rate", "150"], d.join("open.json")),
    ] {
        let r = bench_report(
            &[
                &["--flow", "aws-iam", "--threads", "3", "--duration", "1s"],
                &model,
            ],
            &out,
        );
        let (sent, ok) = (r["counts"]["sent"].as_u64().unwrap(), &r["counts"]["ok"]);
        assert_eq!(r["counts"]["errors"], 0, "{model:?}: {r}");
        assert_eq!(ok.as_u64(), Some(sent), "{model:?}");
        assert_eq!(r["latency"]["count"].as_u64(), Some(sent), "{model:?}");
        // Two STS calls per login (the login's and core's role resolution), every one read from
        // the journal before the report is written (the report no longer waits a tick past the
        // last answer).
        assert_eq!(
            r["stages"]["upstream"]["count"].as_u64(),
            Some(2 * sent),
            "{model:?}: {}",
            r["stages"]
        );
        if model[0] == "--rate" {
            // The open model sends exactly rate x duration.
            assert_eq!(sent, 150, "{r}");
        } else {
            assert!(sent > 5, "{r}");
        }
    }
}

#[test]
fn the_timeline_has_every_second_of_the_window_and_adds_up_to_the_counts() {
    // 2.5 s: the last, partial second is in the timeline too, and each request is counted in
    // the second it was sent in, however late it was answered.
    let d = scratch("timeline");
    for (model, out) in [
        (["--rate", "100"], d.join("open.json")),
        (["--concurrency", "4"], d.join("closed.json")),
    ] {
        let r = bench_report(
            &[&["--flow", "health", "--duration", "2500ms"], &model],
            &out,
        );
        let timeline = r["timeline"].as_array().unwrap();
        assert_eq!(timeline.len(), 3, "{model:?}: {timeline:?}");
        let sum = |k: &str| timeline.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!(
            sum("sent"),
            r["counts"]["sent"].as_u64().unwrap(),
            "{model:?}"
        );
        assert_eq!(sum("ok"), r["counts"]["ok"].as_u64().unwrap(), "{model:?}");
        let seconds: Vec<u64> = timeline
            .iter()
            .map(|s| s["unix_s"].as_u64().unwrap())
            .collect();
        assert_eq!((seconds[1] - seconds[0], seconds[2] - seconds[1]), (1, 1));
        if model[0] == "--rate" {
            assert_eq!(sum("sent"), 250, "{r}");
            assert_eq!(timeline[2]["sent"], 50, "{r}");
        }
    }
}

/// The auth mounts a Vault has, by path.
fn auth_mounts(vault: &str) -> Vec<String> {
    let (status, body) = common::http(vault, "GET", "/v1/sys/auth", &["X-Vault-Token: root"], None);
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    body["data"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn sigterm_mid_run_writes_the_report_removes_the_mounts_and_exits_143() {
    // What Kubernetes does to a worker whose Job is deleted.
    let vault = Serve::start(&[]);
    let before = auth_mounts(&vault.vault);
    let d = scratch("sigterm");
    let out = d.join("r.json");
    let mut child = authsim()
        .args([
            "bench",
            "--flow",
            "userpass",
            "--rate",
            "50",
            "--duration",
            "60s",
        ])
        .args([
            "--vault-addr",
            &vault.vault,
            "--vault-token",
            "root",
            "--no-live",
        ])
        .arg("--report-json")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    read_until(&mut err, "running ");
    assert!(auth_mounts(&vault.vault).len() > before.len());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (status, rest) = terminate(&mut child, &mut err);
    assert_eq!(status.code(), Some(143), "{rest}");
    assert!(rest.contains("terminated: stopping the load"), "{rest}");
    let r = read(&out);
    let sent = r["counts"]["sent"].as_u64().unwrap();
    assert!(sent > 0 && sent < 50 * 10, "{r}");
    let secs = (r["window"]["end_unix_ms"].as_u64().unwrap()
        - r["window"]["start_unix_ms"].as_u64().unwrap()) as f64
        / 1000.0;
    assert!(secs < 10.0, "the window ends at the signal: {secs} s");
    assert_eq!(auth_mounts(&vault.vault), before);
}

/// Requests still waiting when the run stops are reported as abandoned, and fail an `errors`
/// threshold: a stalled Vault does not look idle.
#[test]
fn requests_in_flight_at_a_signal_are_abandoned_not_lost() {
    let d = scratch("abandoned");
    let out = d.join("r.json");
    let mut child = authsim()
        .args([
            "bench",
            "--flow",
            "health",
            "--rate",
            "20",
            "--duration",
            "60s",
        ])
        .args([
            "--fault",
            "vault:*:latency=60s",
            "--threshold",
            "errors<1",
            "--no-live",
        ])
        .arg("--report-json")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    read_until(&mut err, "running ");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (status, rest) = terminate(&mut child, &mut err);
    assert_eq!(status.code(), Some(143));
    assert!(rest.contains("waiting up to 5 s for "), "{rest}");
    let r = read(&out);
    let c = &r["counts"];
    assert_eq!(c["ok"], 0, "{r}");
    assert!(c["abandoned"].as_u64().unwrap() >= 20, "{r}");
    assert_eq!(r["thresholds"][0]["pass"], false, "{r}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(
        stdout.contains("abandoned (no answer by the end of the run)"),
        "{stdout}"
    );
}

#[test]
fn sigterm_while_keys_are_generated_removes_the_mounts_and_exits_143() {
    let vault = Serve::start(&[]);
    let before = auth_mounts(&vault.vault);
    // 64 identities: 128 RSA-2048 keys, many seconds of generation on a small machine.
    let mut child = authsim()
        .args(["bench", "--flow", "gcp-iam", "--identities", "64"])
        .args(["--rate", "10", "--duration", "5s", "--no-live"])
        .args(["--vault-addr", &vault.vault, "--vault-token", "root"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    read_until(&mut err, "generating ");
    let (status, rest) = terminate(&mut child, &mut err);
    assert_eq!(status.code(), Some(143), "{rest}");
    assert!(
        rest.contains("interrupted while preparing the load: nothing was measured"),
        "{rest}"
    );
    // The load never started: each thread finished the key it was on, not all 128.
    assert!(!rest.contains("running "), "{rest}");
    assert_eq!(auth_mounts(&vault.vault), before);
}

#[test]
fn a_flow_that_cannot_be_prepared_removes_the_mounts_it_added() {
    let vault = Serve::start(&[]);
    let before = auth_mounts(&vault.vault);
    // The default world without its approle mount: the approle flow has nothing to log in to.
    let world = std::fs::read_to_string(common::catalogue().join("world.toml")).unwrap();
    let (head, tail) = world.split_once("[vault.auth.approle]").unwrap();
    let tail = tail.split_once("\n\n").unwrap().1;
    let d = scratch("no-approle");
    let file = d.join("world.toml");
    std::fs::write(&file, format!("{head}{tail}")).unwrap();
    let out = authsim()
        .args([
            "bench",
            "--flow",
            "approle",
            "--rate",
            "10",
            "--duration",
            "1s",
        ])
        .args([
            "--no-live",
            "--vault-addr",
            &vault.vault,
            "--vault-token",
            "root",
        ])
        .arg("--world")
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .contains("the world's [vault.auth] has no approle mount"),
        "{err}"
    );
    assert_eq!(auth_mounts(&vault.vault), before);
}

/// Reads a bench's stderr up to the first line that starts with `prefix`.
fn read_until(err: &mut impl std::io::BufRead, prefix: &str) {
    let mut line = String::new();
    while !line.starts_with(prefix) {
        line.clear();
        assert_ne!(err.read_line(&mut line).unwrap(), 0, "bench ended early");
    }
}

/// Sends SIGTERM (what Kubernetes does to a deleted Job's pod); the exit status and the rest of
/// stderr.
fn terminate(
    child: &mut Child,
    err: &mut impl std::io::Read,
) -> (std::process::ExitStatus, String) {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    let _ = err.read_to_string(&mut rest);
    (child.wait().unwrap(), rest)
}

/// Progress written to a pipe that was closed (`authsim bench 2>&1 | head -1`) is dropped; the
/// run and its report go on.
#[test]
fn a_closed_stderr_does_not_stop_the_run() {
    let d = scratch("closed-stderr");
    let mut child = authsim()
        .args([
            "bench",
            "--flow",
            "health",
            "--concurrency",
            "2",
            "--duration",
            "1s",
        ])
        .args(["--no-live", "--report-json"])
        .arg(d.join("r.json"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    assert!(report["counts"]["ok"].as_u64().unwrap() > 0);
}

/// Answers that come after the window closes (a target slower than the rate) stretch what the
/// throughput divides by: it is what was answered per second, not what was sent.
#[test]
fn throughput_counts_the_time_until_the_last_answer() {
    let d = scratch("throughput");
    let r = bench_report(
        &[&[
            "--flow",
            "health",
            "--rate",
            "20",
            "--duration",
            "1s",
            "--fault",
            "vault:*:latency=1500ms",
        ]],
        &d.join("r.json"),
    );
    assert_eq!(r["counts"]["ok"], 20, "{r}");
    assert_eq!(r["counts"]["unanswered"], 0);
    let w = &r["window"];
    let (start, end, last) = (
        w["start_unix_ms"].as_u64().unwrap(),
        w["end_unix_ms"].as_u64().unwrap(),
        w["last_answer_unix_ms"].as_u64().unwrap(),
    );
    assert!(last >= end + 1000, "{w}");
    let expected = 20.0 / ((last - start) as f64 / 1000.0);
    let got = r["throughput"].as_f64().unwrap();
    assert!(
        (got - expected).abs() < 1e-6 && got < 10.0,
        "{got} vs {expected}"
    );
}

/// Running out of open files is this machine's limit, not the target's errors: exit 2, saying so.
#[test]
fn running_out_of_open_files_is_an_infrastructure_error() {
    let vault = Serve::start(&[]);
    let bin = env!("CARGO_BIN_EXE_authsim");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 48 && exec '{bin}' bench --no-live --flow token-lookup --duration 1s --concurrency 100 --vault-addr {} --vault-token root",
            vault.vault
        ))
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap_or_default()
            .starts_with("error: this machine ran out of open files for "),
        "{err}"
    );
}
