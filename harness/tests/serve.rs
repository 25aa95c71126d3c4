//! `authsim serve` as a process: lines, `ready`, the endpoints/env/key files, SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

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
    let env_text = std::fs::read_to_string(&env).unwrap();
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
        .args(["serve", "--google-port", "0", "--aws-port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen on 127.0.0.1:") && err.contains("aws"),
        "{err}"
    );
}
