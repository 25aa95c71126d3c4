//! `authsim run` as a process: validation errors with carets, a failing scenario's report and
//! exit code, and the external target: the mock Vault in another process, reached only through
//! `--vault-addr`.

mod common;

use common::{authsim, catalogue, scratch, Serve};

#[test]
fn check_reports_every_bad_file_with_a_caret_and_exits_2() {
    let d = scratch("check");
    std::fs::write(
        d.join("typo.toml"),
        "name = \"typo\"\n\n[[step]]\naws_login = { role = \"app\" }\nexpcet = { status = 200 }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("bad_clock.toml"),
        "name = \"clock\"\n[[step]]\nadvance_clock = \"soon\"\n",
    )
    .unwrap();
    let out = authsim().args(["run", "--check"]).arg(&d).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "typo.toml:5:1\n  |\n5 | expcet = { status = 200 }\n  | ^ did you mean `expect`?"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "bad_clock.toml:3:17\n  |\n3 | advance_clock = \"soon\"\n  |                 ^"
        ),
        "{err}"
    );
    assert!(err.contains("2 scenario file(s) did not load"), "{err}");
}

#[test]
fn check_finds_what_would_only_fail_at_run_time_and_mutations_a_step_would_ignore() {
    let d = scratch("check-world");
    let files = [
        (
            "ghost.toml",
            "name = \"g\"\n[[step]]\naws_login = { role = \"app\", identity = \"ghost\" }\n",
        ),
        (
            "azure.toml",
            "name = \"a\"\n[[step]]\nfault = { upstream = \"azure\", status = 500 }\n",
        ),
        (
            "override.toml",
            "name = \"o\"\n[world]\nbogus = 1\n[[step]]\nvault_read = \"secret/data/x\"\n",
        ),
    ];
    for (f, text) in files {
        std::fs::write(d.join(f), text).unwrap();
    }
    let out = authsim().args(["run", "--check"]).arg(&d).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for needle in [
        "step 1 (aws_login, line 2): no IAM user `ghost` with an active access key in the world",
        "step 1 (fault, line 2): fault upstream `azure`: `aws`, `google` or `vault`",
        "its [world] does not load: unknown field `bogus`",
        "3 scenario(s) cannot run as written",
    ] {
        assert!(err.contains(needle), "{needle}\n{err}");
    }

    // A mutation the step's action does not use would be silently dropped.
    let m = scratch("check-mutate");
    std::fs::write(
        m.join("m.toml"),
        "name = \"m\"\n[[step]]\ngcp_login = { role = \"app\" }\nmutate = { secret_key = \"x\" }\n",
    )
    .unwrap();
    let out = authsim().args(["run", "--check"]).arg(&m).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("mutate.secret_key does not apply to `gcp_login`; it takes claims, remove_claims, header, signing_key, signature"),
        "{err}"
    );

    // --check loads the world file too.
    let w = d.join("w.txt");
    std::fs::write(&w, "bogus = 1\n").unwrap();
    let out = authsim()
        .args(["run", "--check", "--world"])
        .arg(&w)
        .arg(catalogue().join("vault"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_accepts_the_catalogue() {
    let out = authsim()
        .args(["run", "--check"])
        .arg(catalogue())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("all valid"));
}

#[test]
fn a_failing_scenario_prints_expected_actual_and_a_curl_and_exits_1() {
    let d = scratch("fail");
    std::fs::write(
        d.join("wrong.toml"),
        r#"name = "expects the wrong message"
[[step]]
userpass_login = { username = "bob", password = "guess" }
expect = { status = 400, error = "invalid password" }
[[step]]
vault_read = "secret/data/app/config"
"#,
    )
    .unwrap();
    let json = d.join("r.json");
    let junit = d.join("r.xml");
    let out = authsim()
        .args(["run"])
        .arg(d.join("wrong.toml"))
        .arg("--report-json")
        .arg(&json)
        .arg("--report-junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL step 1 userpass_login (line 2) → 400 invalid username or password"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            r#"error: expected "invalid password", got ["invalid username or password"]"#
        ),
        "{stdout}"
    );
    // The password is redacted; the Vault address is left for the user's `authsim serve`.
    assert!(
        stdout.contains(r#"reproduce: curl -sS -X POST -H 'Content-Type: application/json' --data '{"password":"<redacted>"}' "$VAULT_ADDR"'/v1/auth/userpass/login/bob'"#),
        "{stdout}"
    );
    assert!(!stdout.contains("guess"));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["summary"]["failed"], 1);
    let steps = &report["scenarios"][0]["steps"];
    assert_eq!(
        steps[0]["observed"]["errors"][0],
        "invalid username or password"
    );
    assert_eq!(steps[1]["outcome"], "skipped");
}

#[test]
fn a_reader_that_closes_the_pipe_early_loses_neither_the_report_nor_the_exit_code() {
    // `authsim run | head -1`: the first line read, the pipe closed, the run goes on.
    use std::io::BufRead as _;
    let d = scratch("pipe");
    let json = d.join("r.json");
    let mut child = authsim()
        .args(["run", "--jobs", "1", "--report-json"])
        .arg(&json)
        .arg(catalogue().join("vault"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("running "), "{first}");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(
        report["summary"]["passed"].as_u64().unwrap() > 1,
        "{report}"
    );
}

#[test]
fn the_catalogue_runs_against_a_mock_vault_in_another_process_through_vault_addr() {
    let serve = Serve::start(&[]);
    let addr = serve.vault.clone();
    let d = scratch("external");
    let json = d.join("r.json");
    let paths = [
        catalogue().join("vault"),
        catalogue().join("aws/login_hvac.toml"),
        catalogue().join("gcp/login_sign_jwt.toml"),
    ];
    let out = serve.run(&paths, &json);
    // A second run against the same Vault finds what the first left: nothing that changes an
    // answer, so the two compare clean.
    let again = d.join("again.json");
    let second = serve.run(&paths, &again);
    drop(serve);
    let compared = authsim()
        .arg("compare")
        .arg(&json)
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(
        (second.status.code(), compared.status.code()),
        (Some(0), Some(0)),
        "{}\n{}",
        String::from_utf8_lossy(&second.stdout),
        String::from_utf8_lossy(&compared.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["target"]["kind"], "vault");
    assert_eq!(report["target"]["addr"], addr.as_str());
    assert!(report["target"]["vault_version"].is_string());
    let s = &report["summary"];
    assert!(s["passed"].as_u64().unwrap() >= 10, "{s}");
    // LDAP needs the mock's simulated directory: skipped on an external Vault, with the reason.
    let ldap = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "vault/ldap_login")
        .unwrap();
    assert_eq!(ldap["outcome"], "skipped");
    assert!(ldap["message"]
        .as_str()
        .unwrap()
        .contains("runs only on embedded"));
}

#[test]
fn a_vault_that_cannot_be_used_is_one_line_and_exit_2_before_any_scenario_runs() {
    let run = |addr: &str, token: &str| {
        let out = authsim()
            .args(["run", "--vault-addr", addr, "--vault-token", token])
            .arg(catalogue().join("vault"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("FAIL"));
        err
    };
    let serve = Serve::start(&[]);
    let err = run(&serve.vault, "not-a-token");
    assert!(
        err.contains("refuses the token (403 on auth/token/lookup-self: "),
        "{err}"
    );
    let sealed = Serve::start(&["--sealed"]);
    let err = run(&sealed.vault, "root");
    assert!(err.contains("is sealed: unseal it"), "{err}");
    let err = run(sealed.vault.trim_start_matches("http://"), "root");
    assert!(err.contains("is not a URL: give the scheme too"), "{err}");
    // An address the cloud mocks cannot listen on (TEST-NET-3, on no interface here).
    let out = authsim()
        .args(["run", "--vault-addr", &serve.vault, "--vault-token", "root"])
        .args(["--mocks-bind", "203.0.113.7"])
        .arg(catalogue().join("vault"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: cannot listen on 203.0.113.7 for the cloud mocks (--mocks-bind): "),
        "{err}"
    );
}

#[test]
fn with_no_path_the_built_in_catalogue_runs_from_any_directory() {
    let d = scratch("anywhere");
    let built_in = authsim()
        .args(["run", "--check"])
        .current_dir(&d)
        .output()
        .unwrap();
    let from_repo = authsim()
        .args(["run", "--check"])
        .arg(catalogue())
        .output()
        .unwrap();
    assert_eq!(built_in.status.code(), Some(0));
    let (a, b) = (
        String::from_utf8_lossy(&built_in.stdout),
        String::from_utf8_lossy(&from_repo.stdout),
    );
    assert_eq!(a, b);
    assert!(a.ends_with("file(s): all valid\n"), "{a}");
}

/// A world that lacks what other scenarios name does not stop a run filtered to one that needs
/// none of it (`--check` still checks them all).
#[test]
fn only_the_selected_scenarios_are_checked_against_the_world() {
    let d = scratch("filtered-world");
    std::fs::write(d.join("w.toml"), "seed = \"x\"\n").unwrap();
    let run = authsim()
        .args([
            "run",
            "--world",
            "w.toml",
            "--filter",
            "vault/missing_token",
        ])
        .current_dir(&d)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.contains("1 passed"), "{out}");
    let check = authsim()
        .args(["run", "--check", "--world", "w.toml"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&check.stderr).contains("cannot run as written"));
    // A misspelt `[vault]` key is found by --check, and by a run before any scenario.
    let world = std::fs::read_to_string(catalogue().join("world.toml"))
        .unwrap()
        .replace("root_token = \"root\"", "root_tokn = \"root\"");
    std::fs::write(d.join("wv.toml"), world).unwrap();
    for args in [
        &["run", "--check"][..],
        &["run", "--filter", "vault/missing_token"],
    ] {
        let out = authsim()
            .args(args)
            .args(["--world", "wv.toml"])
            .current_dir(&d)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end(),
            "error: wv.toml: world file key `vault`: unknown field `root_tokn`, expected one of `root_token`, `policies`, `mounts`, `secrets`, `auth`",
            "{args:?}"
        );
    }
}

#[test]
fn a_scenario_outside_the_catalogue_has_one_id_however_it_is_named() {
    let d = scratch("ids");
    std::fs::create_dir_all(d.join("my")).unwrap();
    std::fs::write(
        d.join("my/wrong_server_id.toml"),
        "name = \"w\"\n[[step]]\nvault_read = \"secret/data/app/config\"\nexpect = { status = 200 }\n",
    )
    .unwrap();
    let id = |arg: &str, report: &str| {
        let out = authsim()
            .args(["run", arg, "--report-json", report])
            .current_dir(&d)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(report)).unwrap()).unwrap();
        r["scenarios"][0]["id"].as_str().unwrap().to_owned()
    };
    assert_eq!(id("my/", "a.json"), "my/wrong_server_id");
    assert_eq!(
        id("my/wrong_server_id.toml", "b.json"),
        "my/wrong_server_id"
    );
}
