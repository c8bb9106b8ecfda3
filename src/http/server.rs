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

use crate::config::ServerSettings;
use crate::service::Gateway;

use super::routes;

/// A bound, not yet serving, HTTP front door.
pub struct Server {
    listener: TcpListener,
    gateway: Arc<Gateway>,
    settings: ServerSettings,
}

impl Server {
    pub async fn bind(settings: &ServerSettings, gateway: Arc<Gateway>) -> std::io::Result<Server> {
        let listener = TcpListener::bind(settings.listen).await?;
        Ok(Server {
            listener,
            gateway,
            settings: settings.clone(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then waits up to the configured
    /// grace period for in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
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
            let gateway = self.gateway.clone();
            let timeout = self.settings.request_timeout;
            let service = service_fn(move |request| {
                let gateway = gateway.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        routes::handle(&gateway, request, timeout).await,
                    )
                }
            });
            let connection = http.serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                drop(slot);
            });
        }
        drop(self.listener);
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

/// Binds, prints `listening on http://ADDR` as the first line of standard
/// output, and serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: &ServerSettings, gateway: Arc<Gateway>) -> std::io::Result<()> {
    let server = Server::bind(settings, gateway).await?;
    let addr = server.local_addr();
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
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
