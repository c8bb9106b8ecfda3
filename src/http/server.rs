//! Accepting connections: bounded concurrency, header timeouts, graceful
//! shutdown that lets in-flight requests finish and then stops the
//! gateway's delivery workers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::{AccessSettings, Config, ServerSettings};
use crate::service::Gateway;

use super::access::AccessPolicy;
use super::limits::Limits;
use super::routes;
use super::tls::{Acceptor, PeerIdentity, TlsError};

/// A bound, not yet serving, HTTP front door.
pub struct Server {
    listener: TcpListener,
    gateway: Arc<Gateway>,
    settings: ServerSettings,
    tls: Option<Acceptor>,
    access: Arc<AccessPolicy>,
    limits: Arc<Limits>,
}

impl Server {
    /// Plain HTTP with open access: for development and tests.
    pub async fn bind(settings: &ServerSettings, gateway: Arc<Gateway>) -> std::io::Result<Server> {
        let listener = TcpListener::bind(settings.listen).await?;
        Ok(Server {
            listener,
            gateway,
            settings: settings.clone(),
            tls: None,
            access: Arc::new(AccessPolicy::new(&AccessSettings::default(), false)),
            limits: Arc::new(Limits::new(settings)),
        })
    }

    /// The front door the configuration describes: TLS (mutual when client
    /// CAs are given) or plain HTTP, and the access policy.
    pub async fn bind_config(config: &Config, gateway: Arc<Gateway>) -> Result<Server, ServeError> {
        let tls = if config.tls.enabled {
            Some(Acceptor::new(&config.tls)?)
        } else {
            None
        };
        let access = AccessPolicy::new(&config.access, config.tls.mutual());
        if !access.enforced() {
            tracing::warn!(
                tls = config.tls.enabled,
                "access control is off: no client CAs configured (development only)"
            );
        }
        if config.audit.key.is_empty() {
            // Anyone with the source can compute hashes under the built-in
            // key: fine on a developer's loopback, not with real data.
            let what = "audit.key is not set: audit records use the built-in development key; \
                        set IIN_GATEWAY__AUDIT__KEY (at least 32 characters)";
            if config.tls.enabled {
                tracing::error!(tls = true, "{what}");
            } else {
                tracing::warn!(tls = false, "{what} (development only)");
            }
        }
        let mut server = Server::bind(&config.server, gateway).await?;
        server.tls = tls;
        server.access = Arc::new(access);
        Ok(server)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then waits up to the configured
    /// grace period for in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        #[cfg(unix)]
        if let Some(tls) = &self.tls {
            if let Err(e) = tls.reload_on_sighup() {
                tracing::warn!(error = %e, "no SIGHUP handler: certificates reload only on restart");
            }
        }
        let graceful = Arc::new(GracefulShutdown::new());
        let slots = Arc::new(Semaphore::new(self.settings.max_connections));
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.settings.request_timeout)
            .keep_alive(true);
        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                _ = &mut shutdown => break,
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            };
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let connection = Connection {
                gateway: self.gateway.clone(),
                access: self.access.clone(),
                limits: self.limits.clone(),
                peer_ip: peer.ip(),
                limit_by_address: self.settings.limit_by_address,
                http: http.clone(),
                graceful: graceful.clone(),
                timeout: self.settings.request_timeout,
            };
            let tls = self.tls.as_ref().map(Acceptor::get);
            tokio::spawn(async move {
                match tls {
                    None => connection.serve(TokioIo::new(stream), None).await,
                    Some(acceptor) => {
                        // The handshake runs in the connection's own task, so a
                        // slow or hostile client cannot hold up accepting.
                        let handshake =
                            tokio::time::timeout(connection.timeout, acceptor.accept(stream)).await;
                        match handshake {
                            Ok(Ok(stream)) => {
                                let peer_identity = stream
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|chain| chain.first())
                                    .map(PeerIdentity::of);
                                connection.serve(TokioIo::new(stream), peer_identity).await
                            }
                            Ok(Err(e)) => {
                                tracing::info!(%peer, error = %e, "TLS handshake refused")
                            }
                            Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                        }
                    }
                }
                drop(slot);
            });
        }
        drop(self.listener);
        let graceful = Arc::try_unwrap(graceful).unwrap_or_else(|_| GracefulShutdown::new());
        tokio::select! {
            _ = graceful.shutdown() => tracing::info!("all connections closed"),
            _ = tokio::time::sleep(self.settings.shutdown_grace) => {
                tracing::warn!("grace period over, closing remaining connections");
            }
        }
        // Then the gateway's own background work: deliveries in flight are
        // settled and unfinished claims handed back to other instances.
        self.gateway.shutdown().await;
    }
}

/// What keeps `serve` from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// One accepted connection's share of the server.
struct Connection {
    gateway: Arc<Gateway>,
    access: Arc<AccessPolicy>,
    limits: Arc<Limits>,
    peer_ip: std::net::IpAddr,
    limit_by_address: bool,
    http: http1::Builder,
    graceful: Arc<GracefulShutdown>,
    timeout: Duration,
}

impl Connection {
    async fn serve<I>(self, io: I, peer_identity: Option<PeerIdentity>)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        // Rates are counted per certificate; per address only when asked,
        // since many senders may share one address behind the bus.
        let key = match &peer_identity {
            Some(peer) => Some(peer.fingerprint.clone()),
            None if self.limit_by_address => Some(self.peer_ip.to_string()),
            None => None,
        };
        let client = Arc::new(routes::Client {
            caller: self.access.caller(peer_identity.as_ref()),
            key,
        });
        let gateway = self.gateway;
        let limits = self.limits;
        let timeout = self.timeout;
        let service = service_fn(move |request| {
            let gateway = gateway.clone();
            let client = client.clone();
            let limits = limits.clone();
            async move {
                Ok::<_, std::convert::Infallible>(
                    routes::handle(&gateway, &client, &limits, request, timeout).await,
                )
            }
        });
        let connection = self.graceful.watch(self.http.serve_connection(io, service));
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

/// Binds as configured, prints `listening on http://ADDR` (or `https://`) as
/// the first line of standard output, and serves until Ctrl-C or SIGTERM.
pub async fn serve(config: &Config, gateway: Arc<Gateway>) -> Result<(), ServeError> {
    let server = Server::bind_config(config, gateway).await?;
    let addr = server.local_addr();
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}://{addr}", server.scheme())?;
        out.flush()?;
    }
    tracing::info!(%addr, "serving");
    server.run(shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}
