//! # authsim
//!
//! The harness around the mocks: the command line, `serve`, and world inspection. The scenario
//! runner and the load generator build on this crate.

pub mod bench;
pub mod cli;
pub mod client;
pub mod compare;
pub mod identities;
pub mod provision;
pub mod report;
pub mod run;
pub mod runtimes;
pub mod scenario;
pub mod serve;
pub mod world_show;

pub use authsim_mocks as mocks;

/// Exit codes (the contract scripts rely on).
pub mod exit {
    pub const OK: i32 = 0;
    /// A scenario or threshold failed.
    pub const FAILED: i32 = 1;
    /// Usage, configuration or infrastructure error.
    pub const ERROR: i32 = 2;
}
