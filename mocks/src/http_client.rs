//! The HTTP client the mock Vault reaches the cloud mocks with (STS, IAM, EC2, Google), and the
//! load generator its targets with.
//!
//! Built on hyper's HTTP/1.1 connections (rustls for `https`) with a small keep-alive pool of its
//! own, rather than reqwest or hyper-util's pooled client: a login makes one to four of these
//! calls, and each layer around the same connection showed under load. reqwest's (a copy of
//! every request for its retry policy, URL parsing, redirect middleware) were a fifth of a GCP
//! login's CPU in the mock Vault; hyper-util's pool (a shared, locked map of connections, a boxed
//! future per request, a clone of the client per call) about 4% of an AWS login's. Redirects are
//! not followed, as Vault's `cleanhttp` clients for STS do not (the mock clouds never redirect),
//! and `HTTP_PROXY`/`HTTPS_PROXY` are not read: the calls go to the configured endpoints
//! directly, usually on loopback, where a CI machine's proxy would only get in the way.
//!
//! Transport failures read as Go's `net/http` prints them (`dial tcp 127.0.0.1:9: connect:
//! connection refused`, `EOF`, `context deadline exceeded (Client.Timeout exceeded while
//! awaiting headers)`), since they end up inside Vault's error messages.

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

/// An HTTP/1.1 client keeping connections alive between requests; cheap to clone (clones share
/// their idle connections).
///
/// Idle connections are kept per thread: a connection is driven by a task of the runtime that
/// opened it, and on a current-thread runtime (one per core in `authsim serve` and `authsim
/// bench`) a request that handed its exchange to another thread would pay a thread wake-up at
/// each end of it. A connection the server closed is noticed when it is next taken and dropped;
/// a request that found its kept connection closed before anything was written is sent again on
/// a new one, as Go's transport does.
#[derive(Clone, Debug)]
pub struct HttpClient {
    connector: HttpsConnector<NotingConnector>,
    /// The whole exchange, headers and body (Go's `http.Client.Timeout`).
    timeout: Option<Duration>,
    /// Whose idle connections are whose (clients may trust different roots); dropped with the
    /// last clone, after which its connections are let go.
    id: Arc<()>,
}

/// One idle connection of this thread.
struct Idle {
    client: Weak<()>,
    scheme: Scheme,
    authority: Authority,
    sender: SendRequest<Full<Bytes>>,
}

/// At most this many idle connections per thread; a connection beyond them is closed.
const MAX_IDLE_PER_THREAD: usize = 1024;

thread_local! {
    /// This thread's idle connections, of every client used on it (see [`HttpClient`]).
    static IDLE: RefCell<Vec<Idle>> = const { RefCell::new(Vec::new()) };
}

/// An idle connection of `client` to the origin of `uri`, if this thread keeps one; connections
/// closed meanwhile, and those of dropped clients, are let go on the way.
fn take_idle(client: &Arc<()>, uri: &Uri) -> Option<SendRequest<Full<Bytes>>> {
    let me = Arc::downgrade(client);
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        while let Some(i) = idle.iter().rposition(|i| {
            i.client.ptr_eq(&me)
                && Some(&i.scheme) == uri.scheme()
                && Some(&i.authority) == uri.authority()
        }) {
            let found = idle.swap_remove(i);
            if !found.sender.is_closed() {
                return Some(found.sender);
            }
        }
        idle.retain(|i| i.client.strong_count() > 0 && !i.sender.is_closed());
        None
    })
}

/// Keeps a connection whose exchange is complete for the next request to the same origin.
fn put_idle(client: &Arc<()>, uri: &Uri, sender: SendRequest<Full<Bytes>>) {
    let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
        return;
    };
    if sender.is_closed() {
        return;
    }
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        if idle.len() < MAX_IDLE_PER_THREAD {
            idle.push(Idle {
                client: Arc::downgrade(client),
                scheme: scheme.clone(),
                authority: authority.clone(),
                sender,
            });
        }
    });
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as text (invalid UTF-8 replaced, as Go's `string(body)` would print it).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Why a request got no answer, in Go's words (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl HttpClient {
    /// A client whose connections time out after `connect_timeout` and whose exchanges after
    /// `timeout` (none: no limit).
    pub fn new(connect_timeout: Duration, timeout: Option<Duration>) -> Self {
        Self::with_roots(connect_timeout, timeout, Vec::new())
    }

    /// As [`HttpClient::new`], also trusting the certificates of a PEM bundle (a private CA in
    /// front of a Vault). Says what is wrong with a bundle that holds no usable certificate.
    pub fn trusting_pem(
        connect_timeout: Duration,
        timeout: Option<Duration>,
        pem: &[u8],
    ) -> Result<Self, String> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::CertificateDer;
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not a PEM certificate bundle ({e})"))?;
        if certs.is_empty() {
            return Err(
                "holds no `-----BEGIN CERTIFICATE-----` block; give the CA's certificate in PEM"
                    .into(),
            );
        }
        Ok(Self::with_roots(connect_timeout, timeout, certs))
    }

    fn with_roots(
        connect_timeout: Duration,
        timeout: Option<Duration>,
        extra: Vec<rustls::pki_types::CertificateDer<'static>>,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // A certificate rustls cannot use as a root is left out, as reqwest does.
        roots.add_parsable_certificates(extra);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports rustls' default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(NotingConnector(http));
        Self {
            connector,
            timeout,
            id: Arc::new(()),
        }
    }

    /// Sends one request and reads the whole answer. `headers` are sent as given (a `Host`
    /// among them replaces the one taken from the URL).
    ///
    /// The request is built before the returned future first runs, so the future holds only
    /// owned data (whatever iterator `headers` is).
    pub fn send<'a>(
        &self,
        method: Method,
        url: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: Bytes,
    ) -> impl std::future::Future<Output = Result<HttpResponse, HttpError>> + Send + 'static {
        let built = build(method, url, headers, body);
        let (connector, id, timeout) = (self.connector.clone(), self.id.clone(), self.timeout);
        async move {
            let (mut req, uri) = built?;
            let exchange = async {
                loop {
                    let (mut sender, kept) = match take_idle(&id, &uri) {
                        Some(s) => (s, true),
                        None => (connect(connector.clone(), &uri).await?, false),
                    };
                    if sender.ready().await.is_err() {
                        if kept {
                            continue;
                        }
                        return Err(HttpError("EOF".into()));
                    }
                    let resp = match sender.try_send_request(req).await {
                        Ok(resp) => resp,
                        Err(mut e) => match e.take_message() {
                            // Closed under a kept connection before a byte went out: again,
                            // on another (bounded: each turn uses up a kept connection).
                            Some(again) if kept => {
                                req = again;
                                continue;
                            }
                            _ => return Err(HttpError(go_hyper_cause(e.error()))),
                        },
                    };
                    let (parts, body) = resp.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map_err(|e| HttpError(go_hyper_cause(&e)))?
                        .to_bytes();
                    put_idle(&id, &uri, sender);
                    return Ok(HttpResponse {
                        status: parts.status.as_u16(),
                        headers: parts.headers,
                        body,
                    });
                }
            };
            match timeout {
                None => exchange.await,
                Some(t) => tokio::time::timeout(t, exchange).await.unwrap_or_else(|_| {
                    Err(HttpError(
                        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                            .into(),
                    ))
                }),
            }
        }
    }
}

/// hyper's TCP connector, noting on a current-thread runtime which thread opened each connection
/// (see [`crate::affinity`]), so that a listener of this process serves it on the same thread.
#[derive(Clone, Debug)]
struct NotingConnector(HttpConnector);

impl tower::Service<Uri> for NotingConnector {
    type Response = <HttpConnector as tower::Service<Uri>>::Response;
    type Error = <HttpConnector as tower::Service<Uri>>::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move {
            let io = connecting.await?;
            if on_current_thread_runtime() {
                if let Ok(local) = io.inner().local_addr() {
                    crate::affinity::note(local);
                }
            }
            Ok(io)
        })
    }
}

/// Whether the calling task runs on a current-thread runtime (its connections stay on this
/// thread).
fn on_current_thread_runtime() -> bool {
    use tokio::runtime::{Handle, RuntimeFlavor};
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread)
}

/// A new connection to the origin of `uri`, driven by a task of the current runtime.
async fn connect(
    connector: HttpsConnector<NotingConnector>,
    uri: &Uri,
) -> Result<SendRequest<Full<Bytes>>, HttpError> {
    use tower::ServiceExt as _;
    let io = connector
        .oneshot(uri.clone())
        .await
        .map_err(|e| HttpError(go_dial_cause(&*e, uri)))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| HttpError(go_hyper_cause(&e)))?;
    // Ends when the connection closes, or once it is idle and its sender is dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn build<'a>(
    method: Method,
    url: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    body: Bytes,
) -> Result<(Request<Full<Bytes>>, Uri), HttpError> {
    let uri: Uri = url
        .parse()
        // `{:?}` quotes a URL as Go's `%q` does (URLs are printable ASCII).
        .map_err(|e| HttpError(format!("parse {url:?}: {e}")))?;
    let scheme = uri.scheme_str().unwrap_or_default();
    if scheme != "http" && scheme != "https" {
        return Err(HttpError(format!("unsupported protocol scheme {scheme:?}")));
    }
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        return Err(HttpError("http: no Host in request URL".into()));
    };
    // On the wire: the path alone (origin form), and the origin in `Host` unless given.
    let origin_form = match uri.path_and_query() {
        Some(p) if p.as_str() != "/" => Uri::from(p.clone()),
        _ => Uri::from_static("/"),
    };
    let mut req = Request::builder().method(method).uri(origin_form);
    if let Some(h) = req.headers_mut() {
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| HttpError(format!("net/http: invalid header field name {k:?}")))?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                HttpError(format!("net/http: invalid header field value for {k:?}"))
            })?;
            h.append(name, value);
        }
        if !h.contains_key(http::header::HOST) {
            let default_port = if scheme == "https" { 443 } else { 80 };
            let value = match uri.port_u16() {
                Some(p) if p != default_port => HeaderValue::from_str(&format!("{host}:{p}")),
                _ => HeaderValue::from_str(host),
            }
            .map_err(|e| HttpError(e.to_string()))?;
            h.insert(http::header::HOST, value);
        }
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| HttpError(e.to_string()))?;
    Ok((req, uri))
}

/// Go's text for a connection that could not be made: a refused or failed dial names the
/// address as `net.Dial` does.
fn go_dial_cause(e: &(dyn std::error::Error + 'static), uri: &Uri) -> String {
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    let mut src = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    format!("dial tcp {host}:{port}: connect: connection refused")
                }
                std::io::ErrorKind::TimedOut => format!("dial tcp {host}:{port}: i/o timeout"),
                _ => format!("dial tcp {host}:{port}: {io}"),
            };
        }
        src = s.source();
    }
    format!("dial tcp {host}:{port}: {}", chain(e))
}

/// Go's text for an exchange that broke: a connection closed before the answer is `EOF`.
fn go_hyper_cause(e: &hyper::Error) -> String {
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        "EOF".to_owned()
    } else if e.is_parse() {
        format!(
            "net/http: HTTP/1.x transport connection broken: {}",
            chain(e)
        )
    } else {
        chain(e)
    }
}

/// An error and its sources, `: `-joined, without repeating a source already in the text.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_reads_as_gos_dial_error() {
        // Bind then drop: the port is free and nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = HttpClient::new(Duration::from_secs(2), Some(Duration::from_secs(5)));
        let url = format!("http://127.0.0.1:{port}/x");
        let e = c
            .send(Method::GET, &url, [], Bytes::new())
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("dial tcp 127.0.0.1:{port}: connect: connection refused")
        );
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_eof() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            drop(sock);
        });
        let c = HttpClient::new(Duration::from_secs(2), Some(Duration::from_secs(5)));
        let e = c
            .send(
                Method::POST,
                &format!("http://{addr}//"),
                [],
                Bytes::from_static(b"x"),
            )
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "EOF");
    }

    #[tokio::test]
    async fn headers_body_and_host_go_out_as_given() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.ends_with(b"hello") {
                let n = sock.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
                seen.extend_from_slice(&buf[..n]);
            }
            sock.write_all(
                b"HTTP/1.1 201 Created\r\nContent-Type: text/xml\r\nContent-Length: 2\r\n\r\nok",
            )
            .await
            .unwrap();
            String::from_utf8(seen).unwrap()
        });
        let c = HttpClient::new(Duration::from_secs(2), None);
        let r = c
            .send(
                Method::POST,
                &format!("http://{addr}//"),
                [
                    ("Host", "sts.amazonaws.com"),
                    ("X-Amz-Date", "20240101T000000Z"),
                ],
                Bytes::from_static(b"hello"),
            )
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.header("content-type"), r.text().as_str()),
            (201, Some("text/xml"), "ok")
        );
        let sent = server.await.unwrap();
        assert!(sent.starts_with("POST // HTTP/1.1\r\n"), "{sent}");
        assert!(sent.contains("host: sts.amazonaws.com\r\n"), "{sent}");
        assert!(sent.contains("x-amz-date: 20240101T000000Z\r\n"), "{sent}");
        assert!(sent.contains("content-length: 5\r\n"), "{sent}");
    }

    /// A server answering `ok` to each GET, counting connections; it closes the first
    /// connection after its first answer (an idle connection the server let go).
    async fn counting_server() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let nth = counter.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 1024];
                    loop {
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            match sock.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => seen.extend_from_slice(&buf[..n]),
                            }
                        }
                        seen.clear();
                        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if sock.write_all(ok).await.is_err() || nth == 1 {
                            return;
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    #[tokio::test]
    async fn connections_are_kept_and_one_the_server_closed_is_replaced() {
        let (addr, accepted) = counting_server().await;
        let c = HttpClient::new(Duration::from_secs(2), Some(Duration::from_secs(5)));
        let url = format!("http://{addr}/x");
        let get = || c.send(Method::GET, &url, [], Bytes::new());
        assert_eq!(get().await.unwrap().text(), "ok");
        // The server closes its first connection: the next request goes out on a new one.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(get().await.unwrap().text(), "ok");
        assert_eq!(get().await.unwrap().text(), "ok");
        assert_eq!(get().await.unwrap().text(), "ok");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
        // A clone shares the kept connection; another client opens its own.
        let clone = c.clone();
        clone
            .send(Method::GET, &url, [], Bytes::new())
            .await
            .unwrap();
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
        let other = HttpClient::new(Duration::from_secs(2), None);
        other
            .send(Method::GET, &url, [], Bytes::new())
            .await
            .unwrap();
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn urls_without_an_http_origin_are_refused_as_go_does() {
        let c = HttpClient::new(Duration::from_secs(1), None);
        for (url, want) in [
            ("/v1/sys/health", "unsupported protocol scheme \"\""),
            ("ftp://example.test/", "unsupported protocol scheme \"ftp\""),
        ] {
            let e = c
                .send(Method::GET, url, [], Bytes::new())
                .await
                .unwrap_err();
            assert_eq!(e.to_string(), want, "{url}");
        }
    }

    #[test]
    fn a_pem_bundle_is_trusted_and_a_bundle_without_certificates_is_refused() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let ca = rcgen::CertificateParams::new(vec!["vault.test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let t = Duration::from_secs(1);
        assert!(HttpClient::trusting_pem(t, None, ca.pem().as_bytes()).is_ok());
        let e = HttpClient::trusting_pem(t, None, b"no certificate here\n").unwrap_err();
        assert!(e.contains("no `-----BEGIN CERTIFICATE-----` block"), "{e}");
    }
}
