//! `https://` and `wss://`: rustls with the system's CA certificates, read once. As
//! for OpenSSL-based tools, `SSL_CERT_FILE` (a PEM file) or `SSL_CERT_DIR` replace
//! them — e.g. with the certificate of a Berth that serves a self-signed one.

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::ClientError;

static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();

/// The TLS configuration every connection of this process uses.
pub(crate) fn config() -> Result<Arc<ClientConfig>, ClientError> {
    CONFIG
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "none found".to_owned());
                return Err(format!(
                    "no CA certificates to check the server with ({why}); set SSL_CERT_FILE to a PEM file"
                ));
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
        .map_err(ClientError::Connect)
}

/// A TLS connection to `authority` (`host:port`), checked for `host` as `config` says.
pub(crate) async fn connect(
    authority: &str,
    host: &str,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| ClientError::Connect(format!("{host}: {e}")))?;
    let tcp = TcpStream::connect(authority)
        .await
        .map_err(|e| ClientError::Connect(format!("{authority}: {e}")))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| ClientError::Connect(format!("TLS with {authority}: {e}")))
}
