//! `berth healthcheck`: asks the Berth listening on this machine whether it is ready,
//! as a container's `HEALTHCHECK` does — the image has no shell and no curl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use berth_server::config::{Config, Flags};
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
fn local_url(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

pub fn run(args: &HealthArgs) -> ExitCode {
    let url = match &args.url {
        Some(url) => url.clone(),
        None => match Config::load(&Flags::default(), |k| std::env::var(k).ok()) {
            Ok(config) => local_url(config.listen),
            Err(e) => {
                eprintln!("berth healthcheck: {e}");
                return ExitCode::from(2);
            }
        },
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
            berth_client::http::readiness(&url),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listen_address_is_asked_on_loopback() {
        let url = |s: &str| local_url(s.parse().unwrap());
        assert_eq!(url("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(url("[::]:9000"), "http://[::1]:9000");
        assert_eq!(url("10.0.0.5:80"), "http://10.0.0.5:80");
    }
}
