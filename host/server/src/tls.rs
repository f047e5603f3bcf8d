//! HTTPS without a proxy: `tls_cert`/`tls_key` make Berth terminate TLS itself
//! (rustls, HTTP/1.1 — the WebSocket upgrade needs it), and SIGHUP reloads both files
//! so a renewed certificate needs no restart. A reload that fails keeps the
//! certificate in use and says why.
//!
//! Handshakes run in their own tasks, off the accept loop: a client that connects
//! and sends nothing delays nobody and is dropped after [`HANDSHAKE_TIMEOUT`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

/// A client gets this long to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for the HTTP server.
const BACKLOG: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls_cert {path:?}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("tls_key {path:?}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("tls_cert and tls_key do not go together: {0}")]
    Mismatch(String),
}

/// The certificate and key files, and the configuration made from them.
#[derive(Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Reads and checks both files.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        Ok(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(server_config(cert, key)?),
        })
    }

    /// Reads both files again; on failure the configuration in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = server_config(&self.cert, &self.key)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }

    fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certificate = |reason: String| TlsError::Certificate {
        path: cert.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(cert).map_err(|e| certificate(e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| certificate(format!("not PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(certificate(
            "no certificate in it (expected PEM `BEGIN CERTIFICATE` blocks, the server's first)"
                .to_owned(),
        ));
    }
    let pem = std::fs::read(key).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    let private = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        reason: format!("no PEM private key in it: {e}"),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Mismatch(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What the HTTP server accepts from: plain TCP, or TLS over it.
#[derive(Debug)]
pub enum Incoming {
    Plain(TcpListener),
    Tls {
        handshaken: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
        local: SocketAddr,
    },
}

impl Incoming {
    /// TLS over `listener` with `tls`'s current configuration at each handshake.
    pub fn tls(listener: TcpListener, tls: Arc<Tls>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (sender, handshaken) = mpsc::channel(BACKLOG);
        tokio::spawn(accept_loop(listener, tls, sender));
        Ok(Self::Tls { handshaken, local })
    }
}

async fn accept_loop(
    mut listener: TcpListener,
    tls: Arc<Tls>,
    sender: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            () = sender.closed() => return,
            // The trait's accept: it logs and retries errors (EMFILE) itself.
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = sender.send((stream, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(client = %peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(client = %peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for Incoming {
    type Io = Either<TcpStream, TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self {
            Self::Plain(listener) => {
                let (stream, peer) = axum::serve::Listener::accept(listener).await;
                (Either::Left(stream), peer)
            }
            Self::Tls { handshaken, .. } => match handshaken.recv().await {
                Some((stream, peer)) => (Either::Right(stream), peer),
                // The accept loop ended (it ends only when this receiver is gone).
                None => std::future::pending().await,
            },
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        match self {
            Self::Plain(listener) => listener.local_addr(),
            Self::Tls { local, .. } => Ok(*local),
        }
    }
}
