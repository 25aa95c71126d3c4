//! SigV4 verification of the request Vault forwards to STS (the hvac-signed Vault-login vector of
//! reference aws.md 4.6), and its parts.

use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::{HeaderMap, HeaderValue};

use authsim_mocks::aws::sigv4::{self, Credential, Expect, SignedRequest};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn vault_request_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |k: &'static str, v: &str| {
        h.append(k, HeaderValue::from_str(v).unwrap());
    };
    put("content-length", "43");
    put(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    put("host", "sts.amazonaws.com");
    put("x-amz-date", "20150830T123600Z");
    put("user-agent", "Go-http-client/1.1");
    put("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date, Signature=0268ea4a725deae1116f5228d6b177fb047f9f3a9e1c5fd4baa0dc1fbb0d1a99");
    h
}

fn bench(c: &mut Criterion) {
    let headers = vault_request_headers();
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let req = SignedRequest {
        method: "POST",
        path: "//",
        query: None,
        headers: &headers,
        body,
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    let lookup = |id: &str| (id == "AKIDEXAMPLE").then(|| Credential::long_term(SECRET));
    let expect = Expect::sts(&[]);
    assert!(
        sigv4::verify(&req, &lookup, now, &expect).is_ok(),
        "the vector verifies"
    );

    let mut g = c.benchmark_group("sigv4");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify Vault-forwarded STS request", |b| {
        b.iter(|| sigv4::verify(&req, &lookup, now, &expect).unwrap())
    });
    g.bench_function("derive signing key", |b| {
        b.iter(|| sigv4::signing_key(SECRET, "20150830", "us-east-1", "sts"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
