//! Helpers for the tests that drive the `authsim` binary as a process: the command, scratch
//! directories, the catalogue, `authsim serve` in the background, and `authsim run` against it.

// Each test crate uses a subset.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary, without the caller's Vault or Kubernetes Job environment.
pub(crate) fn authsim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_authsim"));
    for v in [
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "VAULT_CACERT",
        "JOB_COMPLETION_INDEX",
    ] {
        c.env_remove(v);
    }
    c
}

/// An empty directory of this test process. The first call also removes those of test
/// processes that have ended (where `/proc` tells), which nothing else would.
pub(crate) fn scratch(name: &str) -> PathBuf {
    static STALE: std::sync::Once = std::sync::Once::new();
    STALE.call_once(remove_stale_scratch);
    let d = std::env::temp_dir().join(format!("authsim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn remove_stale_scratch() {
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("authsim-test-")
            .and_then(|rest| rest.split('-').next())
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if !proc.join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The repository's `scenarios/`.
pub(crate) fn catalogue() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// `authsim serve` on free ports, killed when dropped.
pub(crate) struct Serve {
    child: Child,
    /// The mock Vault's address, from serve's `vault <addr>` line.
    pub(crate) vault: String,
}

impl Serve {
    /// Starts `authsim serve --vault-port 0 --aws-port 0 --google-port 0 EXTRA…` and waits for
    /// `ready`.
    pub(crate) fn start(extra: &[&str]) -> Serve {
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
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut vault = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            // `vault <addr>`, and when sealed ` (sealed: …)` after it.
            if let Some(a) = line
                .strip_prefix("vault")
                .and_then(|a| a.split_whitespace().next())
            {
                vault = Some(a.to_owned());
            }
            if line == "ready" {
                break;
            }
        }
        let vault = vault.unwrap_or_else(|| {
            let _ = child.kill();
            panic!("serve printed no vault listener")
        });
        Serve { child, vault }
    }

    /// `authsim run PATHS… --vault-addr <this> --vault-token root --report-json REPORT`.
    pub(crate) fn run(&self, paths: &[PathBuf], report_json: &Path) -> Output {
        authsim()
            .args(["run", "--vault-addr", &self.vault, "--vault-token", "root"])
            .arg("--report-json")
            .arg(report_json)
            .args(paths)
            .output()
            .unwrap()
    }
}

impl Serve {
    /// Ends the server now (a Vault that goes away mid-run).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange over a plain socket (`Connection: close`): the status and the body.
/// `headers` are `Name: value` lines; a body is sent as JSON.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let host = addr.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or_default());
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}
