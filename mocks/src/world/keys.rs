//! Deterministic RSA keys: the same world seed and label give the same key on every run and replica.
//!
//! Key generation is slow (hundreds of milliseconds for RSA-2048), so material is produced lazily on
//! first use and cached for the whole process, keyed by its derivation seed: two worlds with the same
//! seed share keys, and `serve` is ready before any key exists.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::SeedableRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

/// 32 bytes derived from the world seed and a label; every deterministic id and key starts here.
pub fn derive(seed: &str, label: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"authsim/v1\0");
    h.update(seed.as_bytes());
    h.update([0]);
    h.update(label.as_bytes());
    h.finalize().into()
}

/// An RSA-2048 signing key with a deterministic id; material is generated on first use. Clones
/// share one key (a reference count), so handlers take the keys they publish out of the world's
/// lock cheaply and never generate material while holding it.
#[derive(Clone)]
pub struct RsaKey(Arc<KeyInner>);

struct KeyInner {
    key_id: String,
    seed: [u8; 32],
    subject: String,
    /// The process-wide cell of this seed's material, looked up once at derivation so that signing
    /// and publishing the key take no lock.
    cell: Arc<OnceLock<Arc<KeyMaterial>>>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("RsaKey")
            .field("key_id", &self.0.key_id)
            .finish_non_exhaustive()
    }
}

/// Everything derived from one private key.
pub struct KeyMaterial {
    signer: ring::signature::RsaKeyPair,
    /// PKCS#8 PEM, as Google key files carry it (`-----BEGIN PRIVATE KEY-----`).
    pub private_key_pem: String,
    /// PKCS#1 DER, for clients that sign with jsonwebtoken.
    pub pkcs1_der: Vec<u8>,
    /// Base64url modulus and exponent, for JWKS.
    pub n: String,
    pub e: String,
    /// A self-signed X.509 certificate for the key, PEM, as Google publishes them.
    pub cert_pem: String,
    /// `cert_pem` as a JSON string, quotes and escapes included: the certificate endpoints answer
    /// every Vault login with these, so the escaping is done once.
    pub cert_pem_json: String,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial").finish_non_exhaustive()
    }
}

type Cache = Mutex<HashMap<[u8; 32], Arc<OnceLock<Arc<KeyMaterial>>>>>;
static CACHE: OnceLock<Cache> = OnceLock::new();

impl RsaKey {
    /// A key derived from `seed` and `label`; `subject` names it in its certificate.
    pub fn derive(seed: &str, label: &str, subject: &str) -> Self {
        let seed_bytes = derive(seed, label);
        let kid = derive(seed, &format!("{label}/kid"));
        let cell = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(seed_bytes)
            .or_default()
            .clone();
        Self(Arc::new(KeyInner {
            key_id: hex::encode(&kid[..20]),
            seed: seed_bytes,
            subject: subject.to_owned(),
            cell,
        }))
    }

    /// 40 lowercase hex characters, like Google's key ids.
    pub fn key_id(&self) -> &str {
        &self.0.key_id
    }

    /// The key material, generated on first use (slow) and cached for the process.
    pub fn material(&self) -> &KeyMaterial {
        let k = &*self.0;
        k.cell.get_or_init(|| {
            let key = shipped(&k.seed).unwrap_or_else(|| {
                let mut rng = rand_chacha::ChaCha20Rng::from_seed(k.seed);
                rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA-2048 key generation")
            });
            Arc::new(material(&key, &k.seed, &k.subject))
        })
    }

    /// Whether the material exists already (generated, or a shipped key decoded): `material()`
    /// returns at once.
    pub fn has_material(&self) -> bool {
        self.0.cell.get().is_some()
    }

    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.material().sign(msg)
    }

    /// A compact JWS: `base64url(header).base64url(payload).base64url(signature)`. The payload is
    /// signed byte for byte as given, as signJwt does with its claim set.
    pub fn sign_jws(&self, payload: &[u8]) -> String {
        let header = format!(r#"{{"alg":"RS256","kid":"{}","typ":"JWT"}}"#, self.0.key_id);
        let mut out = URL_SAFE_NO_PAD.encode(header);
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let sig = self.sign(out.as_bytes());
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(sig));
        out
    }
}

/// Produces the material of every key in `keys` that has none yet, on one thread per core (key
/// generation is CPU-bound, a few hundred milliseconds per RSA-2048 key), and calls
/// `progress(done, total)` once before the first key (`done` 0) and after each key, `total`
/// counting the distinct keys that had no material (none: no call). A `progress` that answers
/// `false` stops the generation: no thread starts another key. Returns `total`.
pub fn materialize(keys: &[RsaKey], progress: impl Fn(usize, usize) -> bool + Sync) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let mut pending: Vec<&RsaKey> = keys.iter().filter(|k| !k.has_material()).collect();
    // Keys of one seed share a cell: generate it once.
    pending.sort_by_key(|k| Arc::as_ptr(&k.0.cell));
    pending.dedup_by_key(|k| Arc::as_ptr(&k.0.cell));
    let total = pending.len();
    if total == 0 {
        return 0;
    }
    if !progress(0, total) {
        return total;
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(total);
    let (next, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !stop.load(Relaxed) {
                    let Some(k) = pending.get(next.fetch_add(1, Relaxed)) else {
                        break;
                    };
                    k.material();
                    if !progress(done.fetch_add(1, Relaxed) + 1, total) {
                        stop.store(true, Relaxed);
                    }
                }
            });
        }
    });
    total
}

impl KeyMaterial {
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = ring::rand::SystemRandom::new();
        let mut sig = vec![0; self.signer.public().modulus_len()];
        // PKCS#1 v1.5 signing is deterministic; the rng is only for blinding.
        self.signer
            .sign(&ring::signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
            .expect("RSA signing with a valid 2048-bit key cannot fail");
        sig
    }

    /// The ring key pair, for benches that measure the raw signing rate.
    pub fn ring_key(&self) -> &ring::signature::RsaKeyPair {
        &self.signer
    }
}

/// The default world's keys, generated once and shipped so that `serve` with the default world
/// never waits for key generation: `<hex derivation seed> <base64 PKCS#8 DER>` per line. Regenerate
/// with `UPDATE_KEYS=1 cargo test -p authsim-mocks shipped_keys`; a test checks every line against
/// fresh generation.
const SHIPPED: &str = include_str!("default-world.keys");

fn shipped(seed: &[u8; 32]) -> Option<rsa::RsaPrivateKey> {
    use base64::engine::general_purpose::STANDARD;
    use rsa::pkcs8::DecodePrivateKey;
    let hex_seed = hex::encode(seed);
    let line = SHIPPED.lines().find(|l| l.starts_with(&hex_seed))?;
    let der = STANDARD.decode(line.split_once(' ')?.1.trim()).ok()?;
    rsa::RsaPrivateKey::from_pkcs8_der(&der).ok()
}

/// ring cannot generate RSA keys; the `rsa` crate can, from a seeded RNG, which makes keys
/// reproducible. ring then does the (much faster) signing.
fn material(key: &rsa::RsaPrivateKey, seed: &[u8; 32], subject: &str) -> KeyMaterial {
    let pkcs8 = key.to_pkcs8_der().expect("PKCS#8 encoding");
    let private_key_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("PKCS#8 PEM encoding")
        .to_string();
    let pkcs1_der = key
        .to_pkcs1_der()
        .expect("PKCS#1 encoding")
        .as_bytes()
        .to_vec();
    let signer = ring::signature::RsaKeyPair::from_pkcs8(pkcs8.as_bytes())
        .expect("ring accepts RSA-2048 PKCS#8");
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    let cert_pem = certificate(&private_key_pem, seed, subject);
    let cert_pem_json = serde_json::to_string(&cert_pem).expect("a string serializes");
    KeyMaterial {
        signer,
        private_key_pem,
        pkcs1_der,
        n,
        e,
        cert_pem,
        cert_pem_json,
    }
}

/// A self-signed certificate, deterministic: fixed validity and a serial from the seed.
fn certificate(pkcs8_pem: &str, seed: &[u8; 32], subject: &str) -> String {
    let kp = rcgen::KeyPair::from_pem_and_sign_algo(pkcs8_pem, &rcgen::PKCS_RSA_SHA256)
        .expect("rcgen accepts RSA PKCS#8");
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, subject);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&seed[..8]));
    // Google rotates its certificates every couple of weeks; Vault only reads the public key, so a
    // long fixed validity keeps certificates byte-identical across runs.
    params.not_before = time::macros::datetime!(2020-01-01 00:00 UTC);
    params.not_after = time::macros::datetime!(2040-01-01 00:00 UTC);
    params
        .self_signed(&kp)
        .expect("self-signed certificate")
        .pem()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let a = RsaKey::derive("seed", "k1", "a");
        let b = RsaKey::derive("seed", "k1", "a");
        let c = RsaKey::derive("seed", "k2", "a");
        assert_eq!(a.key_id(), b.key_id());
        assert_ne!(a.key_id(), c.key_id());
        assert_eq!(a.key_id().len(), 40);
        assert_eq!(a.material().n, b.material().n);
        assert_eq!(a.sign(b"x"), b.sign(b"x"));
        assert!(a
            .material()
            .cert_pem
            .starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn materialize_generates_each_seed_once_and_reports_progress() {
        let a = RsaKey::derive("seed", "many/1", "a");
        let again = RsaKey::derive("seed", "many/1", "a");
        let b = RsaKey::derive("seed", "many/2", "b");
        let keys = [a, again, b];
        let calls = Mutex::new(Vec::new());
        let n = materialize(&keys, |done, total| {
            calls.lock().unwrap().push((done, total));
            true
        });
        assert_eq!(n, 2);
        let mut calls = calls.into_inner().unwrap();
        calls.sort();
        assert_eq!(calls, [(0, 2), (1, 2), (2, 2)]);
        assert!(keys.iter().all(RsaKey::has_material));
        assert_ne!(keys[0].material().n, keys[2].material().n);
        assert_eq!(materialize(&keys, |_, _| panic!("nothing to generate")), 0);
    }

    #[test]
    fn materialize_stops_when_progress_says_so() {
        let keys: Vec<RsaKey> = (0..6)
            .map(|i| RsaKey::derive("stop", &format!("many/{i}"), "k"))
            .collect();
        // Stopped before the first key: nothing is generated.
        assert_eq!(materialize(&keys, |_, _| false), 6);
        assert!(!keys.iter().any(RsaKey::has_material));
        // Stopped after the first key: no thread starts another one.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        materialize(&keys, |done, _| done == 0);
        let made = keys.iter().filter(|k| k.has_material()).count();
        assert!((1..=threads).contains(&made), "{made} of 6 generated");
    }

    /// Every shipped key is what generation from its seed gives; `UPDATE_KEYS=1` rewrites the file
    /// from the default world.
    #[test]
    fn shipped_keys_match_generation() {
        use base64::engine::general_purpose::STANDARD;
        let world = crate::worldfile::default_world(std::time::UNIX_EPOCH);
        let mut keys = world.gcp.all_keys();
        keys.push(world.aws.identity_key.clone());
        let generate = |k: &RsaKey| {
            let mut rng = rand_chacha::ChaCha20Rng::from_seed(k.0.seed);
            let key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
            format!(
                "{} {}",
                hex::encode(k.0.seed),
                STANDARD.encode(key.to_pkcs8_der().unwrap().as_bytes())
            )
        };
        if std::env::var_os("UPDATE_KEYS").is_some() {
            let mut lines: Vec<String> = keys.iter().map(generate).collect();
            lines.sort();
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/world/default-world.keys");
            std::fs::write(path, lines.join("\n") + "\n").unwrap();
            return;
        }
        let hint = "run UPDATE_KEYS=1 cargo test -p authsim-mocks shipped_keys";
        assert_eq!(SHIPPED.lines().count(), keys.len(), "{hint}");
        for k in &keys {
            let line = SHIPPED
                .lines()
                .find(|l| l.starts_with(&hex::encode(k.0.seed)));
            assert_eq!(line, Some(generate(k).as_str()), "{hint}");
        }
    }
}
