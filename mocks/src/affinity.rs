//! Which thread opened a loopback connection, so a listener of the same process can serve it on
//! that thread.
//!
//! `authsim serve` and `authsim bench` run one current-thread runtime per core. A login crosses
//! several HTTP exchanges inside the process (the load generator to the mock Vault, the mock
//! Vault to STS or Google), and an exchange whose two ends live on different threads costs a
//! wake-up of the other thread at each end. Measured on an embedded AWS login: about 62 µs of CPU
//! per login on one thread against 79 µs on two threads whose listeners dealt connections out in
//! turn; with the placement below, two threads took 72 µs against 81 µs dealt out in turn (GCP:
//! 764 against 816 µs), medians of alternating 5 s runs. So
//! [`crate::http_client::HttpClient`] notes the local address of each connection it opens
//! on a current-thread runtime together with its thread, before it writes on it, and the
//! listener that accepts it (`server::serve_spread`) looks it up once the first bytes have
//! arrived and serves it on the runtime of that thread when it is one of its own: a login then
//! runs on one thread from the generator's request to the token.
//!
//! Only a hint: a connection that is not found (another process, a multi-threaded runtime) is
//! dealt out in turn as before. Entries of connections that no listener of this process accepts
//! (a real Vault, a remote endpoint) are never taken, so the table is emptied when it grows past
//! [`CAPACITY`]; a lost hint costs one connection its placement, nothing else.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::thread::ThreadId;

/// Entries kept before the table starts over (connections are pooled: a few per thread and
/// endpoint in steady state).
const CAPACITY: usize = 4096;

static HOMES: Mutex<Option<HashMap<SocketAddr, ThreadId>>> = Mutex::new(None);

/// Notes that the connection whose local end is `local` was opened on (and is driven by) the
/// calling thread.
pub(crate) fn note(local: SocketAddr) {
    let mut homes = HOMES.lock().unwrap_or_else(PoisonError::into_inner);
    let homes = homes.get_or_insert_with(HashMap::new);
    if homes.len() >= CAPACITY {
        homes.clear();
    }
    homes.insert(local, std::thread::current().id());
}

/// The thread that opened the connection whose client end is `peer`, if this process noted one.
pub(crate) fn take(peer: SocketAddr) -> Option<ThreadId> {
    HOMES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_mut()?
        .remove(&peer)
}
