//! `authsim compare OLD.json NEW.json`: the regression check before a Vault upgrade.

use crate::cli::CompareArgs;

/// Runs `compare`; returns the exit code.
pub fn main(_args: &CompareArgs) -> i32 {
    eprintln!("error: compare is not built yet");
    crate::exit::ERROR
}
