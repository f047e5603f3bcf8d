//! `berth healthcheck`: asks the Berth listening on this machine whether it is ready,
//! as a container's `HEALTHCHECK` does — the image has no shell and no curl. Over
//! HTTPS when Berth serves it, trusting exactly the configured certificate.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use berth_server::config::{Config, Flags};

mod pinned;
use clap::Args;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Berth's URL; by default its `listen` setting (flags aside: BERTH_LISTEN, the
    /// file in BERTH_CONFIG, else 127.0.0.1:8080), a wildcard address asked on loopback.
    #[arg(long)]
    url: Option<String>,
    /// Give up (unhealthy) after this many seconds.
    #[arg(long, default_value_t = 5)]
    timeout_s: u64,
}

/// The URL a probe on this machine reaches `listen` at.
fn local_url(listen: SocketAddr, tls: bool) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, listen.port()))
}

/// The URL to ask, and for `https://` the certificate to expect (the configured
/// `tls_cert`: the probe pins it rather than trusting any CA); a message for exit 2.
fn target(args: &HealthArgs) -> Result<(String, Option<PathBuf>), String> {
    let config =
        || Config::load(&Flags::default(), |k| std::env::var(k).ok()).map_err(|e| e.to_string());
    let (url, tls) = match &args.url {
        Some(url) if url.starts_with("https://") => (url.clone(), config()?.tls),
        Some(url) => return Ok((url.clone(), None)),
        None => {
            let config = config()?;
            (local_url(config.listen, config.tls.is_some()), config.tls)
        }
    };
    match tls {
        Some(files) => Ok((url, Some(files.cert))),
        None if !url.starts_with("https://") => Ok((url, None)),
        None => Err(format!(
            "{url}: an https URL needs tls_cert configured (the certificate to expect)"
        )),
    }
}

pub fn run(args: &HealthArgs) -> ExitCode {
    let (url, pin) = match target(args) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("berth healthcheck: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth healthcheck: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The timer belongs to the runtime: made inside it.
    let asked = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(args.timeout_s),
            ask(&url, pin.as_deref()),
        )
        .await
    });
    match asked {
        Ok(Ok((200, _))) => {
            println!("ready");
            ExitCode::SUCCESS
        }
        Ok(Ok((status, body))) => {
            eprintln!("not ready (HTTP {status}): {body}");
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("not ready: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!(
                "not ready: no answer from {url} within {} s",
                args.timeout_s
            );
            ExitCode::FAILURE
        }
    }
}

/// `/readyz` of `url`, over TLS expecting exactly `pin`'s certificate when given.
async fn ask(url: &str, pin: Option<&Path>) -> Result<(u16, String), String> {
    let answer = match pin {
        None => berth_client::http::readiness(url).await,
        Some(pin) => {
            let pinned = Arc::new(pinned::client_config(pin)?);
            berth_client::http::readiness_trusting(url, pinned).await
        }
    };
    answer.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listen_address_is_asked_on_loopback() {
        let url = |s: &str| local_url(s.parse().unwrap(), false);
        assert_eq!(url("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(url("[::]:9000"), "http://[::1]:9000");
        assert_eq!(url("10.0.0.5:80"), "http://10.0.0.5:80");
        assert_eq!(
            local_url("0.0.0.0:8443".parse().unwrap(), true),
            "https://127.0.0.1:8443"
        );
    }
}
