//! `authsim merge`.

use crate::cli::MergeArgs;

/// Runs `merge`; returns the exit code.
pub fn main(_args: &MergeArgs) -> i32 {
    eprintln!("error: merge is not built yet");
    crate::exit::ERROR
}
