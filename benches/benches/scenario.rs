//! Scenario files: parsing (with spans and validation) of a typical file and of the whole
//! catalogue, and the client-side AWS login signing the runner and the load generator share.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use authsim::client::aws::{build, Keys, LoginSpec};
use authsim::scenario::{self, Mutate};

fn catalogue() -> Vec<(String, String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    scenario::discover(&[root])
        .expect("the catalogue is readable")
        .into_iter()
        .map(|(path, id)| {
            let text = std::fs::read_to_string(&path).expect("readable scenario");
            (path.display().to_string(), id, text)
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    let files = catalogue();
    let mut g = c.benchmark_group("scenario");
    let one = files
        .iter()
        .find(|(_, id, _)| id == "aws/server_id_header_unsigned")
        .expect("the catalogue has aws/server_id_header_unsigned");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse one file", |b| {
        b.iter(|| scenario::parse(&one.0, &one.1, &one.2).expect("parses"))
    });
    g.throughput(Throughput::Elements(files.len() as u64));
    g.bench_function("parse the catalogue", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|(f, id, t)| scenario::parse(f, id, t).expect("parses").len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn sign(c: &mut Criterion) {
    let keys = Keys {
        id: "AKIDEXAMPLE".into(),
        secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        token: None,
    };
    let spec = LoginSpec {
        method: "POST",
        style: "hvac",
        region: "us-east-1",
        server_id: Some("vault.example.com"),
        time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    };
    let mut g = c.benchmark_group("client");
    g.throughput(Throughput::Elements(1));
    g.bench_function("aws iam login material (hvac style, SigV4)", |b| {
        b.iter(|| {
            build(&keys, &spec, &Mutate::default())
                .expect("signs")
                .login_data(Some("app"))
        })
    });
    g.finish();
}

criterion_group!(benches, parse, sign);
criterion_main!(benches);
