//! `authsim bench` and `authsim merge` as processes: bad input is one line and exit 2; two
//! workers against one mock Vault (in another process) merge into the sum of their parts; a
//! target that dies mid-run is counted as errors, not a crash.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn authsim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_authsim"));
    c.env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .env_remove("JOB_COMPLETION_INDEX");
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("authsim-bench-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `authsim serve` on ephemeral ports; returns it and the Vault address.
fn serve() -> (Child, String) {
    let mut child = authsim()
        .args([
            "serve",
            "--vault-port",
            "0",
            "--aws-port",
            "0",
            "--google-port",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut addr = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("vault") {
            addr = Some(a.trim().to_owned());
        }
        if line == "ready" {
            break;
        }
    }
    (child, addr.expect("serve printed its vault listener"))
}

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
    one_error_line(&["bench", "--flow", "aws-iam"], "give a load model");
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

fn read(p: &PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn two_workers_against_one_vault_merge_into_the_sum_of_their_parts() {
    let (mut vault, addr) = serve();
    let d = scratch("workers");
    let (a, b) = (d.join("w0.json"), d.join("w1.json"));
    let mut w0 = bench_worker(&addr, 0, &a);
    let mut w1 = bench_worker(&addr, 1, &b);
    assert_eq!(w0.wait().unwrap().code(), Some(0));
    assert_eq!(w1.wait().unwrap().code(), Some(0));
    let merged = authsim().arg("merge").arg(&a).arg(&b).output().unwrap();
    let _ = vault.kill();
    let _ = vault.wait();
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
fn a_vault_that_dies_mid_run_is_counted_as_errors_not_a_crash() {
    let (mut vault, addr) = serve();
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
    let _ = vault.kill();
    let _ = vault.wait();
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
