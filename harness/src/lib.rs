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

/// Checks, before a run, that a report can be written where `flag` says: its directory exists
/// and it is not a directory itself. Finding out after a long run loses the run.
pub fn check_report_path(flag: &str, path: &std::path::Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{flag} {}: there is no directory {}; create it first",
            path.display(),
            dir.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "{flag} {}: is a directory; give a file name",
            path.display()
        ));
    }
    Ok(())
}

/// Standard error that a closed pipe does not stop (`authsim bench 2>&1 | head -1`): progress
/// and messages that cannot be written are dropped, the run goes on.
pub mod stderr {
    use std::io::Write as _;

    /// Writes `text` and flushes; errors are dropped.
    pub fn print(text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
    }
}

/// `eprintln!` through [`stderr::print`].
#[macro_export]
macro_rules! eline {
    () => {
        $crate::stderr::print("\n")
    };
    ($($t:tt)*) => {
        $crate::stderr::print(&format!("{}\n", format_args!($($t)*)))
    };
}

/// `eprint!` through [`stderr::print`].
#[macro_export]
macro_rules! eput {
    ($($t:tt)*) => {
        $crate::stderr::print(&format!($($t)*))
    };
}

/// Standard output that a closed pipe does not stop (`authsim run | head -1`): `print!` panics
/// then, which would lose the reports still to be written and the exit code. What cannot be
/// written is dropped; any other write error is said once on standard error.
pub mod stdout {
    use std::io::Write as _;

    /// Writes `text` and flushes.
    pub fn print(text: &str) {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            static SAID: std::sync::Once = std::sync::Once::new();
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                SAID.call_once(|| eprintln!("warning: cannot write to standard output: {e}"));
            }
        }
    }

    /// Writes `text` and a newline.
    pub fn println(text: &str) {
        print(&format!("{text}\n"));
    }
}
