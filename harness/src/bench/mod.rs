//! `authsim bench`: the load generator.

pub mod html;
pub mod merge;
pub mod plot;
pub mod report;
pub mod threshold;

use crate::cli::BenchArgs;

/// Runs `bench`; returns the exit code.
pub fn main(_args: BenchArgs) -> i32 {
    eprintln!("error: bench is not built yet");
    crate::exit::ERROR
}
