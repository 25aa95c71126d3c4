//! The admin API, journal and fault plan, over real sockets on 127.0.0.1:0.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use authsim_mocks::clock::ManualClock;
use authsim_mocks::server::admin_token_for;
use authsim_mocks::{worldfile, MockCloud, MockCloudOptions, Sim};
use serde_json::{json, Value};

async fn start() -> MockCloud {
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let sim = Sim::new(worldfile::default_world(UNIX_EPOCH), clock);
    MockCloud::start(sim, MockCloudOptions::default())
        .await
        .expect("mocks start")
}

#[tokio::test]
async fn every_listener_answers_health_with_ok() {
    let cloud = start().await;
    for url in [cloud.google_url().unwrap(), cloud.aws_url().unwrap()] {
        let r = reqwest::get(format!("{url}/__authsim/health"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ok");
    }
    cloud.shutdown().await;
}

#[tokio::test]
async fn the_clock_moves_through_the_admin_api() {
    let cloud = start().await;
    let c = reqwest::Client::new();
    let url = format!("{}/__authsim/clock", cloud.aws_url().unwrap());
    let now: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        now,
        json!({"now": "2023-11-14T22:13:20Z", "unix": 1_700_000_000, "manual": true})
    );
    let moved: Value = c
        .post(&url)
        .json(&json!({"advance": "16m"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["unix"], 1_700_000_960);
    let bad = c
        .post(&url)
        .json(&json!({"advance": "soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.headers()["content-type"], "text/xml");
    // Beyond the years answers can print: refused, and the clock stays where it was.
    for change in [
        json!({"advance": "100000000h"}),
        json!({"set": "9999-12-31T23:59:59Z"}),
        json!({"set": "1960-01-01T00:00:00Z"}),
    ] {
        let r = c.post(&url).json(&change).send().await.unwrap();
        assert_eq!(r.status(), 400, "{change}");
        assert!(
            r.text().await.unwrap().contains("the clock stays between"),
            "{change}"
        );
    }
    let now: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["unix"], 1_700_000_960);
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_status_fault_answers_in_the_upstream_envelope_for_n_requests() {
    let cloud = start().await;
    let c = reqwest::Client::new();
    let google = cloud.google_url().unwrap();
    let added: Value = c
        .post(format!("{google}/__authsim/faults"))
        .json(&json!({"path": "/v1/projects/-/serviceAccounts/*", "status": 503, "times": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(added["id"], 1);
    let first = c
        .get(format!("{google}/v1/projects/-/serviceAccounts/x@y"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 503);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAVAILABLE");
    assert_eq!(body["error"]["code"], 503);
    let second = c
        .get(format!("{google}/v1/projects/-/serviceAccounts/x@y"))
        .send()
        .await
        .unwrap();
    assert_ne!(second.status(), 503, "the fault was for one request only");
    let left: Value = c
        .get(format!("{google}/__authsim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(left["faults"], json!([]));
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_throttle_fault_on_sts_is_aws_throttling_xml() {
    let cloud = start().await;
    let c = reqwest::Client::new();
    let aws = cloud.aws_url().unwrap();
    c.post(format!("{aws}/__authsim/faults"))
        .json(&json!({"action": "GetCallerIdentity", "throttle": true}))
        .send()
        .await
        .unwrap();
    let r = c
        .post(format!("{aws}/"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body("Action=GetCallerIdentity&Version=2011-06-15")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "text/xml");
    assert!(r.headers().contains_key("x-amzn-requestid"));
    let body = r.text().await.unwrap();
    assert!(body.contains("<Code>Throttling</Code>"), "{body}");
    assert!(body.contains("<Message>Rate exceeded</Message>"), "{body}");
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_drop_fault_closes_the_connection_without_an_answer() {
    let cloud = start().await;
    let c = reqwest::Client::new();
    let google = cloud.google_url().unwrap();
    c.post(format!("{google}/__authsim/faults"))
        .json(&json!({"path": "/oauth2/v1/certs", "drop": true, "times": 1}))
        .send()
        .await
        .unwrap();
    let r = c.get(format!("{google}/oauth2/v1/certs")).send().await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(
        failed,
        "a dropped connection must surface as a client error"
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn bad_fault_specs_are_refused_with_a_reason() {
    let cloud = start().await;
    let c = reqwest::Client::new();
    let google = cloud.google_url().unwrap();
    for (spec, needle) in [
        (json!({"status": 503, "drop": true}), "exactly one of"),
        (json!({"status": 200}), "not an error status"),
        (json!({"latency": "fast"}), "not a latency"),
        (
            json!({"drop": true, "probability": 2.0}),
            "not between 0 and 1",
        ),
        (
            json!({"drop": true, "listener": "azure"}),
            "unknown listener",
        ),
        (json!({"drop": true, "bogus": 1}), "unknown field"),
    ] {
        let r = c
            .post(format!("{google}/__authsim/faults"))
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{spec}");
        let body: Value = r.json().await.unwrap();
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{spec}: {msg}");
    }
    cloud.shutdown().await;
}

#[tokio::test]
async fn the_journal_records_requests_with_secrets_redacted() {
    let cloud = start().await;
    let c = reqwest::Client::new();
    let google = cloud.google_url().unwrap();
    c.post(format!("{google}/token"))
        .header("authorization", "Bearer ya29.secret")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=eyJ.secret.sig")
        .send().await.unwrap();
    let j: Value = c
        .get(format!("{google}/__authsim/journal?listener=google"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "admin calls are not journaled: {j}");
    let e = &entries[0];
    assert_eq!(e["path"], "/token");
    assert_eq!(e["at"], "2023-11-14T22:13:20Z");
    let text = e.to_string();
    assert!(
        !text.contains("ya29.secret") && !text.contains("eyJ.secret.sig"),
        "{text}"
    );
    assert!(text.contains("assertion=<redacted>"), "{text}");
    c.delete(format!("{google}/__authsim/journal"))
        .send()
        .await
        .unwrap();
    let j: Value = c
        .get(format!("{google}/__authsim/journal"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(j["entries"], json!([]));
    cloud.shutdown().await;
}

#[tokio::test]
async fn reset_restores_the_world_and_clears_faults() {
    let cloud = start().await;
    let c = reqwest::Client::new();
    let aws = cloud.aws_url().unwrap();
    cloud.sim.world_mut().aws.access_keys.clear();
    c.post(format!("{aws}/__authsim/faults"))
        .json(&json!({"drop": true}))
        .send()
        .await
        .unwrap();
    c.post(format!("{aws}/__authsim/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(cloud.sim.world().aws.access_keys.len(), 2);
    assert!(cloud.sim.faults().list().is_empty());
    cloud.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_in_the_envelope() {
    let cloud = start().await;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{}/", cloud.aws_url().unwrap()))
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "text/xml");
    cloud.shutdown().await;
}

#[test]
fn the_admin_api_needs_a_token_beyond_loopback() {
    assert!(admin_token_for("127.0.0.1".parse().unwrap(), None)
        .unwrap()
        .is_none());
    assert!(admin_token_for("0.0.0.0".parse().unwrap(), None).is_err());
    assert!(admin_token_for("0.0.0.0".parse().unwrap(), Some("t"))
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_token_protected_admin_api_refuses_callers_without_it() {
    let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
    let sim = Sim::new(worldfile::default_world(UNIX_EPOCH), clock);
    let cloud = MockCloud::start(
        sim,
        MockCloudOptions {
            admin_token: Some("s3cret".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let c = reqwest::Client::new();
    let url = format!("{}/__authsim/journal", cloud.google_url().unwrap());
    assert_eq!(c.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(
        c.get(&url)
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_wrong_method_on_an_admin_route_is_answered_in_the_envelope() {
    let cloud = start().await;
    let r = reqwest::Client::new()
        .put(format!("{}/__authsim/clock", cloud.google_url().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 405);
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_journal_query_for_an_unknown_listener_is_refused_as_a_fault_is() {
    let cloud = start().await;
    let r = reqwest::Client::new()
        .get(format!(
            "{}/__authsim/journal?listener=nope",
            cloud.google_url().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "unknown listener 'nope' (google, aws or vault)"
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_fault_that_could_never_run_or_never_answer_is_refused() {
    let cloud = start().await;
    let c = reqwest::Client::new();
    let url = format!("{}/__authsim/faults", cloud.aws_url().unwrap());
    for (spec, says) in [
        (
            json!({"action": "GetCallerIdentity", "status": 503, "times": 0}),
            "'times' must be at least 1",
        ),
        (
            json!({"status": 500, "content_type": "bad\nvalue"}),
            "is not a valid header value",
        ),
    ] {
        let r = c.post(&url).json(&spec).send().await.unwrap();
        assert_eq!(r.status(), 400, "{spec}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{spec}: {text}");
    }
    let listed: Value = c.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["faults"], json!([]));
    cloud.shutdown().await;
}
