//! JWT signing: the raw RSA-2048 PKCS#1 v1.5 signature (ring) against the JWS the mock's signJwt
//! builds around it. The ratio is the cost of base64 and header assembly.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use authsim_mocks::world::RsaKey;

fn jwt(c: &mut Criterion) {
    let key = RsaKey::derive(
        "bench",
        "bench/key",
        "bench@example.iam.gserviceaccount.com",
    );
    let material = key.material();
    let payload = br#"{"sub":"app@authsim-demo.iam.gserviceaccount.com","aud":"vault/app","exp":1700000900,"iat":1700000000}"#;
    let mut g = c.benchmark_group("rs256");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw ring RSA-2048 sign", |b| {
        let rng = ring::rand::SystemRandom::new();
        let kp = material.ring_key();
        let mut sig = vec![0; kp.public().modulus_len()];
        b.iter(|| {
            kp.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, payload, &mut sig)
                .unwrap()
        })
    });
    g.bench_function("signJwt JWS assembly + sign", |b| {
        b.iter(|| key.sign_jws(payload))
    });
    g.finish();
}

criterion_group!(benches, jwt);
criterion_main!(benches);
