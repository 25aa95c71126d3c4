//! Starting the cloud mocks on sockets: [`MockCloud`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
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
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} for the {listener} mock: {source}")]
    Bind {
        listener: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the admin API would be open on {0}: give an admin token (--admin-token or the world's admin_token) to bind beyond loopback")]
    AdminTokenRequired(IpAddr),
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
        .map_err(|source| StartError::Bind {
            listener,
            addr,
            source,
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
/// `shutdown` turns true.
pub fn spawn_listener(
    upstream: Upstream,
    listener: TcpListener,
    router: Router,
    ctx: ListenerCtx,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<RunningListener> {
    let addr = listener.local_addr()?;
    let app = wrap(router, ctx);
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await
    });
    Ok(RunningListener {
        upstream,
        addr,
        task,
    })
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
        let io_err = |listener, addr| {
            move |source| StartError::Bind {
                listener,
                addr,
                source,
            }
        };
        if let Some(port) = opts.google_port {
            let addr = SocketAddr::new(opts.bind, port);
            let l = bind("google", addr).await?;
            let base = format!("http://{}", l.local_addr().map_err(io_err("google", addr))?);
            let router = crate::gcp::router(crate::gcp::GcpState::new(sim.clone(), base));
            cloud.google = Some(
                spawn_listener(
                    Upstream::Google,
                    l,
                    router,
                    ctx(Upstream::Google),
                    rx.clone(),
                )
                .map_err(io_err("google", addr))?,
            );
        }
        if let Some(port) = opts.aws_port {
            let addr = SocketAddr::new(opts.bind, port);
            let l = bind("aws", addr).await?;
            let base = format!("http://{}", l.local_addr().map_err(io_err("aws", addr))?);
            let router = crate::aws::router(crate::aws::AwsState::new(sim.clone(), base));
            cloud.aws = Some(
                spawn_listener(Upstream::Aws, l, router, ctx(Upstream::Aws), rx.clone())
                    .map_err(io_err("aws", addr))?,
            );
        }
        if let Some(port) = opts.vault_port {
            let addr = SocketAddr::new(opts.bind, port);
            let l = bind("vault", addr).await?;
            let state = VaultState::new(sim.clone(), opts.vault.clone());
            let router = crate::vault::router(state.clone());
            cloud.vault = Some(
                spawn_listener(Upstream::Vault, l, router, ctx(Upstream::Vault), rx.clone())
                    .map_err(io_err("vault", addr))?,
            );
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
