//! The simulated clouds' state: identities, keys, grants, issued credentials.
//!
//! Architecture invariant: this module knows nothing of HTTP, serde or files. World files convert
//! into it ([`crate::worldfile`]); handlers read and change it through its methods.

pub mod aws;
pub mod gcp;
pub mod keys;

pub use keys::{derive, RsaKey};

/// Everything the simulation knows.
#[derive(Debug, Clone)]
pub struct World {
    /// Every deterministic id and key derives from this.
    pub seed: String,
    /// Bearer token for the admin API on non-loopback listeners.
    pub admin_token: Option<String>,
    pub gcp: gcp::GcpWorld,
    pub aws: aws::AwsWorld,
    /// The world file's `[vault]` section, applied to a Vault through its HTTP API (not by this
    /// crate's cloud mocks).
    pub vault: VaultSection,
}

/// The `[vault]` table of a world file, kept as parsed TOML text for the provisioning code.
#[derive(Debug, Clone, Default)]
pub struct VaultSection {
    pub root_token: String,
    /// The `[vault]` table re-encoded as TOML (empty when absent).
    pub raw_toml: String,
}

impl World {
    pub fn new(seed: &str) -> Self {
        Self {
            seed: seed.to_owned(),
            admin_token: None,
            gcp: gcp::GcpWorld::new(seed),
            aws: aws::AwsWorld::new(seed),
            vault: VaultSection {
                root_token: "root".into(),
                raw_toml: String::new(),
            },
        }
    }

    /// Generates every key the world names, so later requests do not pay for key generation.
    pub fn warm_keys(&self) {
        for key in self.gcp.all_keys() {
            key.material();
        }
    }
}

/// An id of `len` characters from `alphabet`, derived from the seed and a label.
pub fn derive_chars(seed: &str, label: &str, alphabet: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut counter = 0u32;
    while out.len() < len {
        let bytes = derive(seed, &format!("{label}#{counter}"));
        for b in bytes {
            if out.len() == len {
                break;
            }
            out.push(alphabet[b as usize % alphabet.len()] as char);
        }
        counter += 1;
    }
    out
}

pub(crate) const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub(crate) const DIGITS: &[u8] = b"0123456789";
pub(crate) const SECRET_CHARS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
