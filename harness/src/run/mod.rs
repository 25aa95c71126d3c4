//! `authsim run`.

use crate::cli::RunArgs;

/// Runs `run`; returns the exit code.
pub fn main(_args: RunArgs) -> i32 {
    crate::exit::ERROR
}
