//! Starting the cloud mocks on sockets: [`MockCloud`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::sim::{wrap, ListenerCtx, RunningListener, Sim, Upstream};
use crate::vault::{VaultOptions, VaultState};

/// Where the listeners bind. A port of `0` picks an ephemeral port; `None` disables a listener.
#[derive(Debug, Clone)]
pub struct MockCloudOptions {
    pub bind: IpAddr,
    pub google_port: Option<u16>,
    pub aws_port: Option<u16>,
    pub vault_port: Option<u16>,
    /// How the mock Vault starts (dev mode by default; `StartMode::Sealed` for `--sealed`).
    pub vault: VaultOptions,
    /// Required for the admin API when `bind` is not a loopback address.
    pub admin_token: Option<String>,
    /// Further runtimes that serve every listener beside the one [`MockCloud::start`] runs on
    /// (`authsim serve` runs one current-thread runtime per core); empty: that one only.
    pub extra_runtimes: Vec<Handle>,
}

impl Default for MockCloudOptions {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            google_port: Some(0),
            aws_port: Some(0),
            vault_port: Some(0),
            vault: VaultOptions::default(),
            admin_token: None,
            extra_runtimes: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    // The cause is in the message and deliberately not a `source`: a chain printer
    // (`{:#}`) would say it twice.
    #[error(
        "cannot listen on {addr} for the {listener} mock: {cause}{}",
        bind_hint(cause, listener)
    )]
    Bind {
        listener: &'static str,
        addr: SocketAddr,
        cause: std::io::Error,
    },
    #[error("the admin API would be open on {0}: give an admin token (--admin-token or the world's admin_token) to bind beyond loopback")]
    AdminTokenRequired(IpAddr),
}

/// What to do about a port in use: which flag picks another.
fn bind_hint(cause: &std::io::Error, listener: &str) -> String {
    if cause.kind() == std::io::ErrorKind::AddrInUse {
        format!(" (another authsim serve or a real {listener}? pick another port with --{listener}-port, or 0 for any free one)")
    } else {
        String::new()
    }
}

/// The running cloud mocks.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use authsim_mocks::{clock::{Clock, SystemClock}, worldfile, MockCloud, MockCloudOptions, Sim};
/// let clock = Arc::new(SystemClock);
/// let sim = Sim::new(worldfile::default_world(clock.now()), clock);
/// let cloud = MockCloud::start(sim, MockCloudOptions::default()).await?;
/// println!("STS at {}", cloud.aws_url().unwrap());
/// cloud.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MockCloud {
    pub sim: Sim,
    pub google: Option<RunningListener>,
    pub aws: Option<RunningListener>,
    pub vault: Option<RunningListener>,
    /// The mock Vault's state (root token, unseal keys, LDAP directory, auth method registry).
    pub vault_state: Option<VaultState>,
    shutdown: watch::Sender<bool>,
}

/// Binds `addr`, failing with a message that names the listener.
pub async fn bind(listener: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|cause| StartError::Bind {
            listener,
            addr,
            cause,
        })
}

/// The admin token a listener on `bind` must require, or an error if it needs one and has none.
pub fn admin_token_for(bind: IpAddr, token: Option<&str>) -> Result<Option<Arc<str>>, StartError> {
    match token {
        Some(t) if !t.is_empty() => Ok(Some(Arc::from(t))),
        _ if bind.is_loopback() => Ok(None),
        _ => Err(StartError::AdminTokenRequired(bind)),
    }
}

/// Serves `router` (wrapped with the admin API, journal and faults) on a bound socket until
/// `shutdown` turns true: on the current runtime, or, given `extra` runtimes, spread over it and
/// them (see [`serve_spread`]).
pub fn spawn_listener(
    upstream: Upstream,
    listener: TcpListener,
    router: Router,
    ctx: ListenerCtx,
    mut shutdown: watch::Receiver<bool>,
    extra: &[Handle],
) -> std::io::Result<RunningListener> {
    let addr = listener.local_addr()?;
    let app = wrap(router, ctx);
    let task = if extra.is_empty() {
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await
        })
    } else {
        tokio::spawn(serve_spread(listener, app, shutdown, current_and(extra)))
    };
    Ok(RunningListener {
        upstream,
        addr,
        task,
    })
}

/// The current runtime's handle followed by `extra`'s: the runtimes work is dealt out to.
pub fn current_and(extra: &[Handle]) -> Vec<Handle> {
    std::iter::once(Handle::current())
        .chain(extra.iter().cloned())
        .collect()
}

/// Serves `app` as `axum::serve` does (HTTP/1.1, the peer's address as `ConnectInfo`, graceful
/// shutdown), except that each accepted connection is served on one of `runtimes`: the one that
/// opened it, when [`crate::http_client::HttpClient`] on one of them did (see `crate::affinity`),
/// otherwise the next in turn. A connection is placed once its first bytes arrive.
///
/// `authsim serve` runs one current-thread runtime per core: a login's calls from the mock
/// Vault to the cloud mocks in the same process then cost no hand-over between the threads of
/// a work-stealing runtime (measured: a quarter less CPU per AWS login), and dealing
/// connections out in turn keeps the cores evenly loaded, where accepting on every runtime let
/// the first awake one take all the connections a client opened at once.
/// Which of the runtimes (running on `threads`) opened the connection from `peer`, if one did.
fn home_of(peer: SocketAddr, threads: &[Option<std::thread::ThreadId>]) -> Option<usize> {
    let t = crate::affinity::take(peer)?;
    threads.iter().position(|h| *h == Some(t))
}

async fn serve_spread(
    mut listener: TcpListener,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
    runtimes: Vec<Handle>,
) -> std::io::Result<()> {
    // axum's accept: retries what a busy machine throws (too many open files) after a pause.
    use axum::serve::Listener;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt as _;

    // The thread each runtime runs on, to serve a connection opened by one of them on it (see
    // `crate::affinity`). A runtime that does not answer is never chosen by thread.
    let mut threads = Vec::with_capacity(runtimes.len());
    for rt in &runtimes {
        threads.push(rt.spawn(async { std::thread::current().id() }).await.ok());
    }
    let (threads, runtimes) = (Arc::new(threads), Arc::new(runtimes));
    let turn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Each connection holds a receiver; all dropped = all connections done.
    let (done_tx, done_rx) = watch::channel(());
    loop {
        let (io, remote) = tokio::select! {
            conn = Listener::accept(&mut listener) => conn,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let (app, mut stop, done) = (app.clone(), shutdown.clone(), done_rx.clone());
        let (threads, runtimes, turn) = (threads.clone(), runtimes.clone(), turn.clone());
        tokio::spawn(async move {
            // Placed when its first bytes arrive: a client of this process that opened it has
            // noted it by then (it notes before it writes), which it may not have at accept.
            // `readable` can wake before any byte has arrived; `peek` waits for one.
            let mut first = [0u8; 1];
            tokio::select! {
                peeked = io.peek(&mut first) => if peeked.is_err() { return },
                _ = stop.wait_for(|s| *s) => return,
            }
            // Re-registered with the reactor of the runtime that serves it.
            let Ok(io) = io.into_std() else { return };
            let i = home_of(remote, &threads).unwrap_or_else(|| {
                turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % runtimes.len()
            });
            runtimes[i].spawn(async move {
                let Ok(io) = tokio::net::TcpStream::from_std(io) else {
                    return;
                };
                let service = app.map_request(move |mut req: axum::extract::Request<_>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(remote));
                    req
                });
                let builder = Builder::new(TokioExecutor::new());
                let mut conn = std::pin::pin!(builder.serve_connection_with_upgrades(
                    TokioIo::new(io),
                    TowerToHyperService::new(service)
                ));
                let mut stopping = std::pin::pin!(async move {
                    let _ = stop.wait_for(|s| *s).await;
                });
                let mut stopped = false;
                loop {
                    tokio::select! {
                        _ = conn.as_mut() => break,
                        _ = &mut stopping, if !stopped => {
                            stopped = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                }
                drop(done);
            });
        });
    }
    drop(done_rx);
    drop(listener);
    done_tx.closed().await;
    Ok(())
}

impl MockCloud {
    pub async fn start(sim: Sim, opts: MockCloudOptions) -> Result<Self, StartError> {
        let admin_token = admin_token_for(
            opts.bind,
            opts.admin_token
                .as_deref()
                .or(sim.world().admin_token.as_deref()),
        )?;
        let (tx, rx) = watch::channel(false);
        let mut cloud = MockCloud {
            sim: sim.clone(),
            google: None,
            aws: None,
            vault: None,
            vault_state: None,
            shutdown: tx,
        };
        let ctx = |upstream| ListenerCtx {
            sim: sim.clone(),
            upstream,
            admin_token: admin_token.clone(),
        };
        let spawn = |upstream, l, router| {
            spawn_listener(
                upstream,
                l,
                router,
                ctx(upstream),
                rx.clone(),
                &opts.extra_runtimes,
            )
        };
        let io_err = |listener, addr| {
            move |cause| StartError::Bind {
                listener,
                addr,
                cause,
            }
        };
        if let Some(port) = opts.google_port {
            let addr = SocketAddr::new(opts.bind, port);
            let l = bind("google", addr).await?;
            let base = format!("http://{}", l.local_addr().map_err(io_err("google", addr))?);
            let router = crate::gcp::router(crate::gcp::GcpState::new(sim.clone(), base));
            cloud.google =
                Some(spawn(Upstream::Google, l, router).map_err(io_err("google", addr))?);
        }
        if let Some(port) = opts.aws_port {
            let addr = SocketAddr::new(opts.bind, port);
            let l = bind("aws", addr).await?;
            let base = format!("http://{}", l.local_addr().map_err(io_err("aws", addr))?);
            let router = crate::aws::router(crate::aws::AwsState::new(sim.clone(), base));
            cloud.aws = Some(spawn(Upstream::Aws, l, router).map_err(io_err("aws", addr))?);
        }
        if let Some(port) = opts.vault_port {
            let addr = SocketAddr::new(opts.bind, port);
            let l = bind("vault", addr).await?;
            let state = VaultState::new(sim.clone(), opts.vault.clone());
            let router = crate::vault::router(state.clone());
            cloud.vault = Some(spawn(Upstream::Vault, l, router).map_err(io_err("vault", addr))?);
            cloud.vault_state = Some(state);
        }
        Ok(cloud)
    }

    pub fn google_url(&self) -> Option<String> {
        self.google.as_ref().map(RunningListener::url)
    }

    pub fn aws_url(&self) -> Option<String> {
        self.aws.as_ref().map(RunningListener::url)
    }

    /// `http://127.0.0.1:PORT` of the mock Vault (`VAULT_ADDR`).
    pub fn vault_url(&self) -> Option<String> {
        self.vault.as_ref().map(RunningListener::url)
    }

    /// A receiver that turns true at shutdown, for listeners started beside these (the Vault).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the listeners.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for l in [self.google, self.aws, self.vault].into_iter().flatten() {
            let _ = l.task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// One GET on a connection of its own; the body and the client's own address.
    async fn get_once(addr: SocketAddr) -> (String, SocketAddr) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let me = s.local_addr().unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
        (body, me)
    }

    /// Connections go to each runtime in turn, handlers see the peer's address, and shutdown
    /// waits for the connections and ends the server.
    #[test]
    fn connections_are_dealt_out_to_every_runtime() {
        let current = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let other = current();
        let other_handle = other.handle().clone();
        let (stop_other, mut stopped) = watch::channel(false);
        let thread = std::thread::spawn(move || {
            other.block_on(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
        });
        current().block_on(async move {
            let app = Router::new().route(
                "/",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    format!("{:?} {peer}", std::thread::current().id())
                }),
            );
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (shutdown, rx) = watch::channel(false);
            let runtimes = vec![Handle::current(), other_handle];
            let server = tokio::spawn(serve_spread(listener, app, rx, runtimes));
            let mut threads = std::collections::BTreeSet::new();
            for _ in 0..4 {
                let (body, me) = get_once(addr).await;
                let (thread, peer) = body.split_once(' ').unwrap();
                assert_eq!(peer, me.to_string());
                threads.insert(thread.to_owned());
            }
            assert_eq!(threads.len(), 2, "{threads:?}");
            shutdown.send(true).unwrap();
            server.await.unwrap().unwrap();
        });
        stop_other.send(true).unwrap();
        thread.join().unwrap();
    }

    /// A connection the HTTP client opens on one of the listener's runtimes is served on that
    /// runtime's thread, whichever runtime's turn it would have been.
    #[test]
    fn a_connection_from_one_of_the_runtimes_is_served_on_its_thread() {
        let current = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let other = current();
        let other_handle = other.handle().clone();
        let (stop_other, mut stopped) = watch::channel(false);
        let thread = std::thread::spawn(move || {
            other.block_on(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
        });
        current().block_on(async move {
            let app = Router::new().route(
                "/",
                get(|| async { format!("{:?}", std::thread::current().id()) }),
            );
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/", listener.local_addr().unwrap());
            let (shutdown, rx) = watch::channel(false);
            let runtimes = vec![Handle::current(), other_handle.clone()];
            let server = tokio::spawn(serve_spread(listener, app, rx, runtimes));
            // A new client each time: a new connection each time.
            let get_from = |rt: Handle| {
                let url = url.clone();
                async move {
                    rt.spawn(async move {
                        let client = crate::http_client::HttpClient::new(
                            std::time::Duration::from_secs(5),
                            None,
                        );
                        let resp = client.send(http::Method::GET, &url, [], bytes::Bytes::new());
                        let body = resp.await.unwrap().text();
                        (body, format!("{:?}", std::thread::current().id()))
                    })
                    .await
                    .unwrap()
                }
            };
            // Not in turn: dealt out in turn, the second connection would go to the other thread.
            let (me, them) = (Handle::current(), other_handle.clone());
            for rt in [&me, &me, &them, &them, &me, &them] {
                let (served_on, sent_from) = get_from(rt.clone()).await;
                assert_eq!(served_on, sent_from);
            }
            shutdown.send(true).unwrap();
            server.await.unwrap().unwrap();
        });
        stop_other.send(true).unwrap();
        thread.join().unwrap();
    }
}
