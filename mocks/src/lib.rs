//! # authsim-mocks
//!
//! Mock Google Cloud and AWS endpoints that behave like the real APIs — real RS256 signatures and
//! published certificates, real SigV4 verification, the upstreams' exact error envelopes — driven
//! by a deterministic [`World`] and one shared [`Clock`](clock::Clock).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use authsim_mocks::{clock::ManualClock, worldfile, MockCloud, MockCloudOptions, Sim};
//!
//! let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
//! let world = worldfile::default_world(std::time::UNIX_EPOCH);
//! let cloud = MockCloud::start(Sim::new(world, clock), MockCloudOptions::default()).await?;
//! let certs = reqwest::get(format!("{}/oauth2/v1/certs", cloud.google_url().unwrap())).await?;
//! assert!(certs.status().is_success());
//! # Ok(()) }
//! ```
//!
//! See `ARCHITECTURE.md` at the repository root for the code map and invariants.

mod affinity;
pub mod aws;
pub mod clock;
pub mod faults;
pub mod gcp;
pub mod http_client;
pub mod journal;
pub mod server;
pub mod sim;
pub mod vault;
pub mod world;
pub mod worldfile;

pub use server::{MockCloud, MockCloudOptions, StartError};
pub use sim::{Sim, Upstream};
pub use world::World;
