//! One current-thread tokio runtime per core, for `serve` and `bench`.
//!
//! A login crosses several HTTP exchanges inside one process (the mock Vault calling the cloud
//! mocks; the load generator calling its own mock Google for `signJwt`). On a work-stealing
//! runtime each exchange wakes a task on another thread about half the time, and those wake-ups
//! were a quarter of an AWS login's CPU. Here each thread runs its own runtime: the listeners deal
//! connections out to them in turn (`authsim_mocks::server::spawn_listener`), the load generator
//! spreads its clients over them, and the HTTP client keeps a pool per thread; a connection it opens
//! to a listener of this process is served on its own thread (`authsim_mocks`' `affinity`).

use tokio::runtime::{Builder, Handle, Runtime};

/// The runtimes beyond the caller's own, each driven by a thread of its own until this is
/// dropped.
#[derive(Debug)]
pub struct PerCore {
    handles: Vec<Handle>,
    stop: tokio::sync::watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl PerCore {
    /// The thread count to use: `requested`, or one per core.
    pub fn count(requested: Option<usize>) -> usize {
        requested
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    /// A current-thread runtime for the calling thread (the first of `count`).
    pub fn main_runtime() -> std::io::Result<Runtime> {
        Builder::new_current_thread().enable_all().build()
    }

    /// Starts `count - 1` more runtimes on threads named `{name}-1`, `{name}-2`, ….
    pub fn start(count: usize, name: &str) -> std::io::Result<Self> {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut me = PerCore {
            handles: Vec::new(),
            stop,
            threads: Vec::new(),
        };
        for i in 1..count {
            let rt = Builder::new_current_thread().enable_all().build()?;
            me.handles.push(rt.handle().clone());
            let mut stop = stop_rx.clone();
            me.threads.push(
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || {
                        rt.block_on(async move {
                            let _ = stop.wait_for(|s| *s).await;
                        })
                    })?,
            );
        }
        Ok(me)
    }

    /// The other runtimes' handles (not the caller's).
    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }
}

impl Drop for PerCore {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_runs_on_its_own_thread_and_stops_with_the_guard() {
        let per_core = PerCore::start(3, "test-rt").unwrap();
        assert_eq!(per_core.handles().len(), 2);
        let main = PerCore::main_runtime().unwrap();
        let names: Vec<String> = main.block_on(async {
            let mut names = Vec::new();
            for h in per_core.handles() {
                let name = h
                    .spawn(async { std::thread::current().name().map(str::to_owned) })
                    .await
                    .unwrap();
                names.push(name.unwrap_or_default());
            }
            names
        });
        assert_eq!(names, ["test-rt-1", "test-rt-2"]);
        drop(per_core); // joins both threads: a hang here fails the test by timeout
    }
}
