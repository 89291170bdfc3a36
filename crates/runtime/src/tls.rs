//! TLS on the services' ports (`grpc.cert_file`, `grpc.key_file`) and on the calls between
//! them (`grpc.ca_file`). rustls with the ring provider, as for NATS.
//!
//! Only the server proves who it is: a caller is known by its caller token ([`crate::auth`]),
//! which names the one method it is for. Probes and Prometheus reach the same port without a
//! certificate of their own.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to finish the handshake before its connection is dropped.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The server side from a certificate chain and its key, both PEM files. Offers HTTP/2 (gRPC)
/// and HTTP/1.1 (probes, metrics) by ALPN.
pub fn server_config(cert_file: &Path, key_file: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let unreadable = |what: &str, file: &Path, error: &dyn std::fmt::Display| {
        io::Error::other(format!("{what} {}: {error}", file.display()))
    };
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| unreadable("grpc.cert_file", cert_file, &error))?;
    if chain.is_empty() {
        return Err(unreadable("grpc.cert_file", cert_file, &"no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|error| unreadable("grpc.key_file", key_file, &error))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|error| unreadable("grpc.key_file", key_file, &error))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener that hands `axum::serve` connections whose TLS handshake is done. Handshakes
/// run in tasks of their own, so a client that stalls in one holds up nobody else.
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (ready, incoming) = mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            let mut listener = crate::grpc::no_delay(listener);
            loop {
                // Waits out accept errors (too many open files…) itself.
                let (stream, peer) = axum::serve::Listener::accept(&mut listener).await;
                let (acceptor, ready) = (acceptor.clone(), ready.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = ready.send((stream, peer)).await;
                        }
                        Ok(Err(error)) => handshake_failed(peer, &error),
                        Err(_) => handshake_failed(peer, &"timed out"),
                    }
                });
            }
        });
        Ok(Self {
            incoming,
            local,
            accepting,
        })
    }
}

fn handshake_failed(peer: SocketAddr, error: &dyn std::fmt::Display) {
    metrics::counter!("waymark_tls_handshake_failures_total").increment(1);
    tracing::debug!(%peer, %error, "TLS handshake failed");
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(connection) => connection,
            // The accepting task holds a sender for as long as this listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The client side for calls to `https://` URLs: trusts only the authorities in `ca_file`.
pub fn client_config(ca_file: &Path) -> io::Result<tonic::transport::ClientTlsConfig> {
    let pem = std::fs::read(ca_file).map_err(|error| {
        io::Error::other(format!("grpc.ca_file {}: {error}", ca_file.display()))
    })?;
    Ok(tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(pem)))
}
