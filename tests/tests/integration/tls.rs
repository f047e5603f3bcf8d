//! Berth's own HTTPS (`tls_cert`/`tls_key`) with certificates made by `openssl`: the
//! UI, login and the WebSocket over TLS, HSTS and a `Secure` cookie, plain HTTP
//! refused without harm, `berth ctl` over HTTPS trusting the certificate it is given,
//! `berth healthcheck` pinning the configured certificate, and
//! SIGHUP swapping in a renewed certificate — or keeping the old one when the new
//! files are broken.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use berth_tests::server::{Berth, berth_command, serve_command};
use berth_tests::ws::ADMIN_PASSWORD;
use futures_util::{SinkExt, StreamExt};
use reqwest::{StatusCode, header};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A self-signed certificate for 127.0.0.1 and its key, as `<name>.crt`/`<name>.key`.
fn certificate(dir: &Path, name: &str) {
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A server certificate, not a CA's (webpki refuses a CA as the end entity).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.crt")))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs (Debian's `openssl`)");
    assert!(status.success());
}

/// Serves `name`'s certificate and key from the files Berth is configured with.
fn install(dir: &Path, name: &str) {
    std::fs::copy(dir.join(format!("{name}.crt")), dir.join("cert.pem")).unwrap();
    std::fs::copy(dir.join(format!("{name}.key")), dir.join("key.pem")).unwrap();
}

/// An HTTPS client that trusts `name`'s certificate and nothing else.
fn trusting(dir: &Path, name: &str) -> reqwest::Client {
    let pem = std::fs::read(dir.join(format!("{name}.crt"))).unwrap();
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

fn healthcheck(berth: &Berth, dir: &Path) -> std::process::Output {
    let port = berth.url.rsplit(':').next().unwrap();
    berth_command()
        .arg("healthcheck")
        .env("BERTH_LISTEN", format!("0.0.0.0:{port}"))
        .env("BERTH_TLS_CERT", dir.join("cert.pem"))
        .env("BERTH_TLS_KEY", dir.join("key.pem"))
        .output()
        .unwrap()
}

/// `berth ctl <args>` against `berth` over HTTPS, trusting `trust` (a PEM file) or the
/// system's CAs; the password on stdin.
fn ctl(berth: &Berth, config: &Path, trust: Option<&Path>, args: &[&str]) -> std::process::Output {
    use std::io::Write;
    let mut cmd = berth_command();
    cmd.arg("ctl")
        .arg("--url")
        .arg(&berth.url)
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(file) = trust {
        cmd.env("SSL_CERT_FILE", file);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{ADMIN_PASSWORD}\n").as_bytes())
        .unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// The WebSocket's upgrade and first exchange over TLS, trusting `name`.
async fn websocket(berth: &Berth, dir: &Path, name: &str, token: &str) {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(dir.join(format!("{name}.crt"))).unwrap();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let address = berth.url.trim_start_matches("https://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("127.0.0.1".try_into().unwrap(), tcp)
        .await
        .expect("TLS handshake");
    let mut request = format!("wss://{address}/api/v1/ws")
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", "berth.v1".parse().unwrap());
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(request, tls)
        .await
        .expect("the WebSocket upgrades over TLS");
    let hello = serde_json::json!({"t":"hello","client":{"name":"tls-test","version":"0"}});
    ws.send(Message::text(hello.to_string())).await.unwrap();
    let Some(Ok(Message::Text(welcome))) = ws.next().await else {
        panic!("no welcome");
    };
    let welcome: serde_json::Value = serde_json::from_str(&welcome).unwrap();
    assert_eq!(welcome["t"], "welcome", "{welcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_serves_https_and_swaps_its_certificate_on_sighup() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    certificate(dir, "first");
    certificate(dir, "renewed");
    install(dir, "first");
    let data_dir = dir.join("data");
    let mut cmd = serve_command(&data_dir);
    cmd.env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("BERTH_TLS_CERT", dir.join("cert.pem"))
        .env("BERTH_TLS_KEY", dir.join("key.pem"));
    let berth = Berth::start_with(cmd, &data_dir).await;
    assert!(berth.url.starts_with("https://127.0.0.1:"), "{}", berth.url);

    let first = trusting(dir, "first");
    let ready = first
        .get(format!("{}/healthz", berth.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );
    let login = first
        .post(format!("{}/api/v1/auth/login", berth.url))
        .header(header::ORIGIN, &berth.url)
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    websocket(&berth, dir, "first", &token).await;

    // `berth ctl` over HTTPS: refused against the system's CAs, fine trusting the
    // server's certificate.
    let config = dir.join("ctl");
    let login = ["login", "--user", "admin", "--password-stdin"];
    let untrusted = ctl(&berth, &config, None, &login);
    assert_eq!(untrusted.status.code(), Some(4), "{untrusted:?}");
    assert!(
        String::from_utf8_lossy(&untrusted.stderr).contains("certificate"),
        "{untrusted:?}"
    );
    let first_cert = dir.join("first.crt");
    let trusted = ctl(&berth, &config, Some(&first_cert), &login);
    assert!(trusted.status.success(), "{trusted:?}");
    let whoami = ctl(&berth, &config, Some(&first_cert), &["whoami", "--json"]);
    assert!(whoami.status.success(), "{whoami:?}");
    assert!(
        String::from_utf8_lossy(&whoami.stdout).contains("\"admin\""),
        "{whoami:?}"
    );

    // Plain HTTP gets no answer, and costs Berth nothing.
    let plain = berth.url.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());
    let health = healthcheck(&berth, dir);
    assert!(health.status.success(), "{health:?}");
    assert_eq!(String::from_utf8_lossy(&health.stdout).trim(), "ready");

    // Renewed: after SIGHUP new connections get the new certificate.
    install(dir, "renewed");
    berth.process.signal(libc::SIGHUP);
    let reloaded = berth
        .process
        .wait_for_line(Duration::from_secs(10), |l| l.contains("reloaded"));
    assert!(reloaded.is_some(), "{:?}", berth.process.lines());
    let renewed = trusting(dir, "renewed");
    let answer = renewed
        .get(format!("{}/healthz", berth.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        trusting(dir, "first")
            .get(format!("{}/healthz", berth.url))
            .send()
            .await
            .is_err(),
        "the first certificate is no longer served"
    );
    assert!(healthcheck(&berth, dir).status.success());
    websocket(&berth, dir, "renewed", &token).await;

    // Broken files: the reload fails loudly and the renewed certificate stays.
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    berth.process.signal(libc::SIGHUP);
    let failed = berth
        .process
        .wait_for_line(Duration::from_secs(10), |l| l.contains("reload failed"));
    assert!(
        failed.is_some_and(|l| l.contains("no certificate")),
        "{:?}",
        berth.process.lines()
    );
    let still = renewed
        .get(format!("{}/healthz", berth.url))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);
}

#[test]
fn berth_refuses_to_start_with_half_a_tls_configuration_or_a_bad_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    certificate(dir, "only");
    let half = berth_command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("BERTH_TLS_CERT", dir.join("only.crt"))
        .output()
        .unwrap();
    assert!(!half.status.success());
    let said = String::from_utf8_lossy(&half.stderr);
    assert!(said.contains("tls_cert") && said.contains("both"), "{said}");

    std::fs::write(dir.join("bad.key"), "not a key").unwrap();
    let bad = berth_command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("BERTH_TLS_CERT", dir.join("only.crt"))
        .env("BERTH_TLS_KEY", dir.join("bad.key"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("tls_key") && said.contains("bad.key"),
        "{said}"
    );
}
