//! `authsim serve` as a process: lines, `ready`, the endpoints/env/key files, SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod common;

fn authsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_authsim"))
}

#[test]
fn serve_writes_its_files_before_ready_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("authsim-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let endpoints = dir.join("endpoints.json");
    let env = dir.join("authsim.env");
    let mut child = authsim()
        .args([
            "serve",
            "--vault-port",
            "0",
            "--aws-port",
            "0",
            "--google-port",
            "0",
            "--write-endpoints",
        ])
        .arg(&endpoints)
        .arg("--write-env")
        .arg(&env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line == "ready";
        seen.push(line);
        if done {
            break;
        }
    }
    assert_eq!(seen.last().map(String::as_str), Some("ready"), "{seen:?}");
    assert!(
        seen.iter()
            .any(|l| l.starts_with("google  http://127.0.0.1:")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("aws     http://127.0.0.1:")),
        "{seen:?}"
    );

    let ep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&endpoints).unwrap()).unwrap();
    assert!(ep["aws"]["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert!(ep["aws"]["access_key_id"]
        .as_str()
        .unwrap()
        .starts_with("AKIA"));
    assert_eq!(ep["aws"]["arn"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(
        ep["google"]["service_account"],
        "app@authsim-demo.iam.gserviceaccount.com"
    );
    let key_path = ep["google"]["caller_credentials_file"].as_str().unwrap();
    let key: serde_json::Value = serde_json::from_slice(&std::fs::read(key_path).unwrap()).unwrap();
    assert_eq!(key["type"], "service_account");
    assert_eq!(
        key["client_email"],
        "ci-runner@authsim-demo.iam.gserviceaccount.com"
    );
    assert_eq!(
        key["token_uri"],
        format!("{}/token", ep["google"]["endpoint"].as_str().unwrap())
    );
    assert_eq!(ep["vault"]["token"], "root");
    // The world's [vault] section was applied before `ready`: the quick-start keys of DESIGN.md.
    for (k, v) in [
        ("gcp_mount", "gcp"),
        ("gcp_role", "app"),
        ("aws_mount", "aws"),
        ("aws_role", "app"),
        ("aws_server_id", "vault.example.com"),
        ("secret_path", "secret/data/app/config"),
    ] {
        assert_eq!(ep["vault"][k], v, "vault.{k} in {ep}");
    }
    assert_eq!(ep["vault"]["userpass"]["username"], "bob");
    let addr = ep["vault"]["addr"].as_str().unwrap();
    let secret = vault_get(&format!("{addr}/v1/secret/data/app/config"), "root");
    assert!(secret.contains("\"username\":\"app\""), "{secret}");
    let vault_line = seen.iter().find(|l| l.starts_with("vault   ")).unwrap();
    assert_eq!(
        vault_line.trim_start_matches("vault   "),
        ep["vault"]["addr"].as_str().unwrap()
    );
    let env_text = std::fs::read_to_string(&env).unwrap();
    assert!(env_text.contains(&format!(
        "VAULT_ADDR={}\nVAULT_TOKEN=root\n",
        ep["vault"]["addr"].as_str().unwrap()
    )));
    assert!(env_text.contains(&format!(
        "AWS_ENDPOINT_URL_STS={}\n",
        ep["aws"]["endpoint"].as_str().unwrap()
    )));
    assert!(env_text.contains(&format!("GOOGLE_APPLICATION_CREDENTIALS={key_path}\n")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&endpoints).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "credential files are private");
    }

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_world_file_is_one_error_with_its_location_and_exit_2() {
    let dir = std::env::temp_dir().join(format!("authsim-world-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let world = dir.join("w.toml");
    std::fs::write(&world, "seed = \"x\"\n[gcp.projects.p]\nnumbr = 1\n").unwrap();
    let out = authsim()
        .args(["world", "show", "--world"])
        .arg(&world)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `numbr`"), "{err}");
    assert!(err.contains("w.toml:3:1"), "{err}");
    let missing = authsim()
        .args(["world", "show", "--world", "/nonexistent/w.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read world file"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn world_show_json_lists_identities() {
    let out = authsim()
        .args(["world", "show", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(w["seed"], "authsim-default");
    assert_eq!(w["gcp"]["service_accounts"].as_array().unwrap().len(), 4);
    assert_eq!(
        w["aws"]["users"][0]["arn"],
        "arn:aws:iam::111122223333:user/alice"
    );
}

#[test]
fn a_port_in_use_is_a_clear_error_and_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = authsim()
        .args([
            "serve",
            "--vault-port",
            "0",
            "--google-port",
            "0",
            "--aws-port",
            &port,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen on 127.0.0.1:") && err.contains("aws"),
        "{err}"
    );
    // The cause once, not once more as the error's source.
    assert_eq!(err.matches("in use").count(), 1, "{err}");
}

/// Sends `GET path` over a plain socket and returns the status code and body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    common::http(addr, "GET", path, &[], None)
}

/// Runs `serve` with `extra` args until `ready`; returns the child and the lines printed.
fn serve_until_ready(extra: &[&str]) -> (std::process::Child, Vec<String>) {
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
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines {
        let line = line.unwrap();
        let done = line == "ready";
        seen.push(line);
        if done {
            break;
        }
    }
    (child, seen)
}

#[test]
fn serve_starts_the_mock_vault_and_it_answers_health() {
    let (mut child, seen) = serve_until_ready(&[]);
    assert_eq!(seen.last().map(String::as_str), Some("ready"), "{seen:?}");
    let line = seen
        .iter()
        .find(|l| l.starts_with("vault   http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("{seen:?}"));
    let addr = line.trim_start_matches("vault   ");
    let (status, body) = http_get(addr, "/v1/sys/health");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"sealed\":false"), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_sealed_prints_the_unseal_keys_and_health_says_sealed() {
    let dir = std::env::temp_dir().join(format!("authsim-sealed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let endpoints = dir.join("endpoints.json");
    let (mut child, seen) =
        serve_until_ready(&["--sealed", "--write-endpoints", endpoints.to_str().unwrap()]);
    let line = seen.iter().find(|l| l.starts_with("vault   ")).unwrap();
    assert!(
        line.ends_with("(sealed: 3 of these unseal keys unseal it)"),
        "{line}"
    );
    let keys: Vec<&str> = seen
        .iter()
        .filter_map(|l| l.strip_prefix("unseal  "))
        .collect();
    assert_eq!(keys.len(), 5);
    let ep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&endpoints).unwrap()).unwrap();
    assert_eq!(ep["vault"]["unseal_keys"][0], keys[0]);
    assert_eq!(ep["vault"]["unseal_threshold"], 3);
    let (status, body) = http_get(ep["vault"]["addr"].as_str().unwrap(), "/v1/sys/health");
    assert_eq!(status, 503, "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// A bare HTTP/1.1 GET with a Vault token.
fn vault_get(url: &str, token: &str) -> String {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nX-Vault-Token: {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn a_vault_write_the_world_gets_refused_is_one_line_and_exit_2() {
    let dir = std::env::temp_dir().join(format!("authsim-refused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let world = dir.join("w.toml");
    std::fs::write(
        &world,
        "seed = \"x\"\n[vault]\n[vault.auth.gcp]\nroles.app = { type = \"iam\" }\n",
    )
    .unwrap();
    let out = authsim()
        .args([
            "serve",
            "--vault-port",
            "0",
            "--aws-port",
            "0",
            "--google-port",
            "0",
            "--world",
        ])
        .arg(&world)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "error: provisioning the mock Vault: Vault refused POST auth/gcp/role/app (400): IAM role type must have at least one service account"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ready"));
    std::fs::remove_dir_all(&dir).ok();
}

/// Sends `POST path` with an empty body over a plain socket; returns the status code.
fn http_post_empty(addr: &str, path: &str) -> u16 {
    common::http(addr, "POST", path, &["Content-Length: 0"], None).0
}

#[test]
fn an_admin_reset_provisions_the_mock_vault_again() {
    let (mut child, seen) = serve_until_ready(&[]);
    let addr = seen
        .iter()
        .find_map(|l| l.strip_prefix("vault   "))
        .unwrap_or_else(|| panic!("{seen:?}"))
        .to_owned();
    let secret = format!("{addr}/v1/secret/data/app/config");
    assert!(vault_get(&secret, "root").starts_with("HTTP/1.1 200"));
    assert_eq!(http_post_empty(&addr, "/__authsim/reset"), 200);
    let after = vault_get(&secret, "root");
    assert!(after.starts_with("HTTP/1.1 200"), "{after}");
    let auth = vault_get(&format!("{addr}/v1/sys/auth"), "root");
    assert!(
        auth.contains("\"gcp/\"") && auth.contains("\"aws/\""),
        "{auth}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn world_show_json_exposes_the_identity_document_certificate() {
    let out = authsim()
        .args(["world", "show", "--json"])
        .output()
        .unwrap();
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pem = w["aws"]["identity_document_certificate"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
}

#[test]
fn with_an_admin_token_the_ldap_directory_is_still_provisioned() {
    // The admin API (which holds the simulated LDAP directory) then wants the token, and
    // provisioning must send it rather than take the mock for a real Vault.
    let (mut child, seen) = serve_until_ready(&["--admin-token", "sekrit"]);
    let addr = seen
        .iter()
        .find_map(|l| l.strip_prefix("vault   "))
        .unwrap_or_else(|| panic!("{seen:?}"))
        .to_owned();
    let (status, out) = common::http(
        &addr,
        "POST",
        "/v1/auth/ldap/login/carol",
        &[],
        Some(r#"{"password":"carol-password"}"#),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, 200, "{out}");
    assert!(out.contains("\"client_token\":\"hvs."), "{out}");
}
