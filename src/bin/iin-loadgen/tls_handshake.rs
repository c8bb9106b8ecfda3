//! The CPU cost of one TLS handshake, in process: the gateway's own server
//! configuration (`http::tls::server_config`) and the load generator's
//! client configuration exchange their messages through memory, no sockets,
//! and the time each side spends in rustls is added up separately.
//!
//! Each handshake is timed on its own and the median taken: on a shared
//! machine a handshake (a few hundred µs) is now and then interrupted by
//! another process's time slice, and a mean would count that as TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, HandshakeKind, ServerConfig, ServerConnection,
};

use crate::stats::median;

/// Microseconds per handshake on each side: medians across rounds of the
/// median handshake of each round.
#[derive(Debug, Clone)]
pub struct Cost {
    pub server_us: f64,
    pub client_us: f64,
    /// Handshakes of the last round that were resumed.
    pub resumed: usize,
    /// The cipher suite the last handshake agreed on.
    pub suite: String,
}

/// `rounds` rounds of `n` handshakes between `server` and `client`, one
/// after the other; each ends once the server's session tickets (TLS 1.3)
/// have reached the client, as they would before the first answer.
pub fn cost(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    n: usize,
    rounds: usize,
) -> Result<Cost, String> {
    let (mut servers, mut clients) = (Vec::new(), Vec::new());
    let mut resumed = 0;
    let mut suite = String::new();
    for _ in 0..rounds.max(1) {
        let (mut round_servers, mut round_clients) = (Vec::new(), Vec::new());
        resumed = 0;
        for _ in 0..n.max(1) {
            let mut times = Times::default();
            let (kind, agreed) = handshake(server, client, &mut times)?;
            if kind == Some(HandshakeKind::Resumed) {
                resumed += 1;
            }
            suite = agreed;
            round_servers.push(times.server.as_secs_f64() * 1e6);
            round_clients.push(times.client.as_secs_f64() * 1e6);
        }
        servers.push(median(&round_servers));
        clients.push(median(&round_clients));
    }
    Ok(Cost {
        server_us: median(&servers),
        client_us: median(&clients),
        resumed,
        suite,
    })
}

#[derive(Default)]
struct Times {
    server: Duration,
    client: Duration,
}

/// Everything `from` has to send, written into `buffer`.
fn drain<D>(from: &mut ConnectionCommon<D>, buffer: &mut Vec<u8>) -> Result<(), String> {
    buffer.clear();
    while from.wants_write() {
        from.write_tls(buffer).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Hands `bytes` to `to` and lets it process them.
fn feed<D>(to: &mut ConnectionCommon<D>, mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        to.read_tls(&mut bytes).map_err(|e| e.to_string())?;
        to.process_new_packets().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn handshake(
    server_config: &Arc<ServerConfig>,
    client_config: &Arc<ClientConfig>,
    times: &mut Times,
) -> Result<(Option<HandshakeKind>, String), String> {
    let name = ServerName::try_from("localhost").expect("a name");
    let started = Instant::now();
    let mut client =
        ClientConnection::new(Arc::clone(client_config), name).map_err(|e| e.to_string())?;
    times.client += started.elapsed();
    let started = Instant::now();
    let mut server = ServerConnection::new(Arc::clone(server_config)).map_err(|e| e.to_string())?;
    times.server += started.elapsed();
    let mut buffer = Vec::with_capacity(8192);
    for _ in 0..10 {
        let started = Instant::now();
        drain(&mut *client, &mut buffer)?;
        times.client += started.elapsed();
        let started = Instant::now();
        feed(&mut *server, &buffer)?;
        drain(&mut *server, &mut buffer)?;
        times.server += started.elapsed();
        let started = Instant::now();
        feed(&mut *client, &buffer)?;
        times.client += started.elapsed();
        let done = !client.is_handshaking()
            && !server.is_handshaking()
            && !client.wants_write()
            && !server.wants_write();
        if done {
            let suite = client
                .negotiated_cipher_suite()
                .map_or("-".to_owned(), |s| format!("{:?}", s.suite()));
            return Ok((client.handshake_kind(), suite));
        }
    }
    Err("the handshake did not finish in 10 flights".into())
}
