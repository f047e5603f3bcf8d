//! The HTTP service: health endpoints, the web UI, and the process lifecycle (start,
//! graceful shutdown).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use berth_protocol::auth::HttpError;
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::health::{Check, Liveness, Readiness};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use berth_engine::Engine;
use berth_plugins::PluginServices;

use crate::config::Config;
use berth_core::activity::{Notice, Subject};
use berth_core::datadir::{DataDir, DataDirError};
use berth_core::store::{Store, StoreError};
use berth_docker::hosts::Hosts;
use berth_identity::prelude::*;
use berth_plugins::{HealthStatus, PluginRuntime};

/// Every crate's tables, created when the store opens.
pub const TABLES: &[berth_core::store::Tables] = &[
    berth_identity::tables,
    berth_plugins::tables,
    berth_engine::tables,
];

/// In-flight requests get this long to finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(4500);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot create the first admin: {0}")]
    FirstAdmin(#[from] berth_identity::UserError),
    #[error("plugin runtime: {0}")]
    Plugins(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot serve HTTPS: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// What every handler can reach.
#[derive(Debug)]
pub struct AppState {
    /// Jobs and what they run, and the handles they share: the store, the Docker
    /// hosts, the plugin runtime and services, the secret key.
    pub engine: Arc<Engine>,
    pub audit: Arc<berth_identity::audit::AuditLog>,
    /// Bounds password hashing in flight (logins and password checks).
    pub hash_gate: Arc<berth_identity::hashgate::HashGate>,
    pub limiter: Arc<berth_identity::ratelimit::LoginLimiter>,
    pub registry: Arc<crate::ws::registry::Registry>,
    /// Flips to true once at shutdown; every connection says `bye` and closes.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    pub ws: crate::ws::conn::WsSettings,
    pub allowed_origins: Vec<String>,
    /// Reverse proxies whose forwarded headers are believed (see `proxies`).
    pub trusted_proxies: Vec<crate::proxies::Cidr>,
    pub stats: Arc<crate::hoststats::HostStats>,
    pub transfers: Arc<crate::transfers::Transfers>,
    /// Plugin packages uploaded and waiting for `plugins.install`.
    pub staging: Arc<crate::api::Staging>,
    /// Open WebSocket connections (shutdown waits for them to say goodbye).
    pub websockets: tokio::sync::watch::Sender<usize>,
    pub started: Instant,
    pub data_dir: std::path::PathBuf,
    /// Requests, jobs and the process, counted for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Whether `/metrics` answers, and to whom without a token.
    pub metrics_access: crate::config::MetricsAccess,
    /// Berth's own HTTPS (`tls_cert`/`tls_key`), reloaded on SIGHUP.
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// What the server was started with, under the settings an admin changed.
    pub settings: Arc<crate::api::settings::Configured>,
}

/// Berth's data directory (where the first-login password file lives).
#[derive(Debug, Clone)]
pub struct DataRoot(pub std::path::PathBuf);

/// How long this server has been running.
#[derive(Debug, Clone, Copy)]
pub struct Uptime(pub Duration);

/// The router, with compression and request tracing; HSTS when Berth serves HTTPS.
pub fn router(state: Arc<AppState>) -> Router {
    let hsts = state.tls.is_some();
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::serve))
        .route("/api/v1/auth/login", post(crate::login::login))
        .route("/api/v1/auth/logout", post(crate::login::logout))
        .route("/api/v1/ws", get(crate::ws::upgrade))
        // Credentials are small; anything larger is not a login.
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .fallback(crate::ui::serve)
        .with_state(Arc::clone(&state))
        // gzip only: every client takes it, the UI is gzipped at build time, and
        // brotli's encoder was 1 MB of the binary for the small JSON answers left.
        .layer(CompressionLayer::new().gzip(true))
        // Transfers stream archives as they are read: no compression (it would drop
        // Content-Length and Range), no body limit.
        .merge(
            Router::new()
                .route(
                    "/api/v1/transfers/{ticket}",
                    get(crate::transfers::download).put(crate::transfers::upload),
                )
                .with_state(state),
        )
        // Handlers log their own failures; a 503 from /readyz is an answer, not an error.
        .layer(
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        );
    if hsts {
        // A year, this host only: Berth knows nothing of its sibling subdomains.
        router.layer(SetResponseHeaderLayer::if_not_present(
            http::header::STRICT_TRANSPORT_SECURITY,
            http::HeaderValue::from_static("max-age=31536000"),
        ))
    } else {
        router
    }
}

/// An error as the HTTP API answers it.
pub fn http_error(e: ErrorBody) -> Response {
    let status = match e.code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(HttpError { error: e })).into_response()
}

async fn healthz() -> Json<Liveness> {
    Json(Liveness {
        status: "ok".to_owned(),
    })
}

async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let readiness = readiness(&state).await;
    let code = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(readiness))
}

/// Checks the store, Docker and every built-in plugin, live.
pub async fn readiness(state: &AppState) -> Readiness {
    let mut checks = Vec::new();
    let check = |name: &str, r: Result<String, String>| {
        let ok = r.is_ok();
        Check {
            name: name.to_owned(),
            ok,
            detail: r.unwrap_or_else(|e| e),
        }
    };
    checks.push(check(
        "store",
        state
            .engine
            .store
            .schema_version()
            .map(|v| format!("open, schema v{v}"))
            .map_err(|e| e.to_string()),
    ));
    checks.push(check(
        "docker",
        state
            .engine
            .hosts
            .local()
            .conn
            .probe()
            .await
            .map(|e| format!("engine {} (API {})", e.version, e.api_version))
            .map_err(|e| e.to_string()),
    ));
    // Informational: without a compose CLI stacks can be edited, not run, and the
    // rest of Berth works — so it never makes Berth unready.
    // Not waited for: the search started with Berth and may still be running.
    let compose = match berth_docker::compose::found() {
        Some(Some(cli)) => format!("{} {}", cli.command(), cli.version),
        Some(None) => {
            "neither `docker compose` nor `docker-compose` runs here: stacks can be edited, not run"
                .to_owned()
        }
        None => "still looking for the compose CLI".to_owned(),
    };
    checks.push(check("compose", Ok(compose)));
    let ids = state.engine.plugins.ids();
    if ids.is_empty() {
        checks.push(check(
            "plugins",
            Err(
                "no built-in plugins embedded in this binary; build it with `cargo xtask dist`"
                    .to_owned(),
            ),
        ));
    }
    for id in ids {
        let r = probe_plugin(state, &id).await;
        checks.push(check(&format!("plugin:{id}"), r));
    }
    Readiness::from_checks(crate::VERSION, checks)
}

/// Instantiates plugin `id` and asks for its health — a storage backend in the
/// directory of its (first) instance.
async fn probe_plugin(state: &AppState, id: &str) -> Result<String, String> {
    let dir = state
        .engine
        .services
        .storage_instances()
        .into_iter()
        .find(|s| s.plugin == id)
        .and_then(|s| s.dir);
    if let Some(d) = &dir {
        let _ = std::fs::create_dir_all(d);
    }
    match state.engine.plugins.health(id, dir.as_deref()).await {
        Ok(h) if h.status == HealthStatus::Healthy => Ok("healthy".to_owned()),
        Ok(h) => Err(format!("{:?}: {}", h.status, h.message).to_lowercase()),
        Err(e) => Err(e.to_string()),
    }
}

/// Tells the notifiers when a plugin turns unhealthy, and probes unhealthy plugins
/// when their backoff says so: a plugin that failed because of something passing (a
/// full disk, a restarted dependency) recovers on its own. Sleeps while every plugin is
/// well (woken when one turns), and holds the state only weakly.
async fn plugin_recovery(state: std::sync::Weak<AppState>) {
    let Some((mut shutdown, wake)) = state
        .upgrade()
        .map(|s| (s.shutdown.subscribe(), s.engine.plugins.health_wake()))
    else {
        return;
    };
    loop {
        let next = {
            let Some(st) = state.upgrade() else { return };
            for (id, why) in st.engine.plugins.turned_unhealthy() {
                tracing::warn!(plugin = id, error = why, "plugin turned unhealthy");
                st.engine.jobs.activity.publish(
                    Notice::new(Subject::Plugin, "unhealthy", &id)
                        .state("unhealthy")
                        .message(&why),
                );
                st.engine.services.dispatch(
                    berth_protocol::api::plugins::NotifyEvent::PluginUnhealthy,
                    berth_plugins::notifier::Level::Warning,
                    format!("Plugin {id} is unhealthy"),
                    format!(
                        "Its last calls failed: {why}. Berth keeps checking it and will use it again once it works."
                    ),
                    vec![("plugin".into(), id.clone())],
                    Some(&id),
                );
            }
            for id in st.engine.plugins.due_for_probe() {
                match probe_plugin(&st, &id).await {
                    Ok(_) => {
                        tracing::info!(plugin = id, "plugin recovered");
                        st.engine.jobs.activity.publish(
                            Notice::new(Subject::Plugin, "recovered", &id).state("healthy"),
                        );
                    }
                    Err(e) => tracing::warn!(plugin = id, error = e, "plugin still unhealthy"),
                }
            }
            st.engine.plugins.next_probe()
        };
        let until_due = async {
            match next {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = until_due => {}
            _ = crate::ws::conn::shutting_down(&mut shutdown) => return,
        }
    }
}

/// Runs Berth until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let started = Instant::now();
    // Before anything else: a bad certificate or key should not wait for the store.
    let tls = match &config.tls {
        Some(files) => Some(Arc::new(crate::tls::Tls::load(&files.cert, &files.key)?)),
        None => None,
    };
    let data_dir = DataDir::open(&config.data_dir)?;
    let store = {
        let path = data_dir.store_path();
        tokio::task::spawn_blocking(move || Store::open(&path, TABLES))
            .await
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))??
    };
    first_admin(&store, &config, data_dir.root())?;
    berth_docker::helper::set_instance(store.instance_id()?);
    let plugins = start_plugins(&data_dir).await?;
    let hosts = connect_docker(&config, &data_dir).await;
    let (state, engine) = assemble(&config, &data_dir, store, hosts, plugins, tls, started)?;
    tokio::spawn(housekeeping(Arc::downgrade(&state), config.audit_retention));
    tokio::spawn(plugin_recovery(Arc::downgrade(&state)));
    tokio::spawn(crate::api::events::forward_activity(
        Arc::clone(&engine.hosts),
        engine.jobs.activity.subscribe(),
    ));
    tokio::spawn(berth_engine::runner::runner(Arc::downgrade(&engine)));
    // Found once, before the first stack needs it (a few hundred ms for v1's Python).
    tokio::spawn(async {
        berth_docker::compose::detect().await;
    });
    tokio::spawn(berth_engine::schedule::scheduler::scheduler(
        Arc::downgrade(&engine),
    ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let (incoming, scheme) = match &state.tls {
        Some(tls) => (
            crate::tls::Incoming::tls(listener, Arc::clone(tls))?,
            "https",
        ),
        None => (crate::tls::Incoming::Plain(listener), "http"),
    };
    tokio::spawn(reload_on_hangup(Arc::downgrade(&state)));
    tracing::info!(
        url = %format!("{scheme}://{addr}"),
        data_dir = %data_dir.root().display(),
        startup_ms = started.elapsed().as_millis() as u64,
        "berth listening on {scheme}://{addr}"
    );
    run_until_signal(incoming, &state).await?;
    // Handlers are gone; close the store before releasing the data-dir lock. Aborted
    // request, channel and job tasks release their references as the runtime drops
    // them, so allow them a moment. The store closes with the last of the state and
    // the engine (the state, running jobs and the plugin services share it).
    let deadline = Instant::now() + Duration::from_secs(1);
    if !(release(state, deadline).await && release(engine, deadline).await) {
        tracing::warn!("state still referenced at shutdown; the store closes at exit");
    }
    drop(data_dir);
    tracing::info!("stopped");
    Ok(())
}

/// The plugin runtime with the built-in and installed plugins (a damaged installed
/// package is listed as broken, not fatal).
async fn start_plugins(data_dir: &DataDir) -> Result<PluginRuntime, ServeError> {
    let (installed, damaged) = crate::api::load_installed(data_dir.root());
    let plugins = PluginRuntime::start_with(
        &data_dir.plugin_cache_dir(),
        berth_plugins::Limits::default(),
        installed,
    )
    .await
    .map_err(|e| ServeError::Plugins(format!("{e:#}")))?;
    for (id, why) in damaged {
        plugins.mark_broken(&id, why);
    }
    Ok(plugins)
}

/// The Docker hosts, the local one negotiated now so the first request does not pay
/// for it; failure is not fatal (`/readyz` reports it and the next use retries).
async fn connect_docker(config: &Config, data_dir: &DataDir) -> Hosts {
    let hosts = Hosts::new(config.docker_host.clone(), data_dir.root());
    match hosts.local().conn.probe().await {
        Ok(e) => tracing::info!(
            endpoint = hosts.local().conn.describe(),
            engine = e.version,
            api = e.api_version,
            "docker connected"
        ),
        Err(e) => tracing::warn!(error = %e, "docker not reachable yet"),
    }
    hosts.start();
    hosts
}

/// The engine and the server's state over the shared handles.
fn assemble(
    config: &Config,
    data_dir: &DataDir,
    store: Store,
    hosts: Hosts,
    plugins: PluginRuntime,
    tls: Option<Arc<crate::tls::Tls>>,
    started: Instant,
) -> Result<(Arc<AppState>, Arc<Engine>), ServeError> {
    let secret_key = berth_core::secrets::SecretKey::load_or_create(&data_dir.secret_key_path())
        .map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
    let stats = crate::hoststats::HostStats::new(data_dir.root().to_path_buf());
    tokio::spawn(Arc::clone(&stats).run());
    let store = Arc::new(store);
    let hosts = Arc::new(hosts);
    let plugins = Arc::new(plugins);
    let secret_key = Arc::new(secret_key);
    let services = Arc::new(PluginServices::new(
        Arc::clone(&plugins),
        Arc::clone(&store),
        Arc::clone(&secret_key),
        data_dir.root().to_path_buf(),
    ));
    let engine = Arc::new(Engine {
        store,
        hosts,
        plugins,
        services,
        secret_key,
        jobs: Arc::default(),
        audit: Arc::new(berth_identity::audit::AuditLog::new(config.audit_retention)),
        scheduler: Arc::default(),
        data_dir: data_dir.root().to_path_buf(),
        stacks_dir: config.stacks_dir.clone(),
        backup_bind_roots: config.backup_bind_roots.clone(),
        backup_spool: config.backup_spool,
        metrics: berth_engine::metrics::JobMetrics::default(),
    });
    let state = Arc::new(AppState {
        engine: Arc::clone(&engine),
        audit: Arc::clone(&engine.audit),
        hash_gate: Arc::new(berth_identity::hashgate::HashGate::for_this_machine()),
        limiter: Arc::new(berth_identity::ratelimit::LoginLimiter::new(
            config.login_lockout,
        )),
        registry: Arc::new(crate::ws::registry::Registry::standard()),
        shutdown: tokio::sync::watch::Sender::new(false),
        ws: crate::ws::conn::WsSettings {
            heartbeat: config.ws_heartbeat,
            write_timeout: config.ws_write_timeout,
        },
        allowed_origins: config.allowed_origins.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        stats,
        transfers: Arc::default(),
        staging: Arc::default(),
        websockets: tokio::sync::watch::Sender::new(0),
        started,
        data_dir: data_dir.root().to_path_buf(),
        metrics: Arc::new(
            crate::metrics::Metrics::new(&engine.metrics)
                .map_err(|e| ServeError::Io(std::io::Error::other(e)))?,
        ),
        metrics_access: config.metrics.clone(),
        tls,
        settings: Arc::new(crate::api::settings::Configured {
            job_concurrency: config.job_concurrency,
            audit_retention: config.audit_retention,
        }),
    });
    crate::api::settings::start(&engine, &state.settings);
    Ok((state, engine))
}

/// Serves until SIGINT/SIGTERM, then drains: HTTP requests and the upgraded
/// WebSockets each get the grace period to finish.
async fn run_until_signal(
    incoming: crate::tls::Incoming,
    state: &Arc<AppState>,
) -> Result<(), ServeError> {
    use axum::serve::ListenerExt;
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = Arc::clone(&stop);
    let server = axum::serve(
        // Tapped (doing nothing) because axum gives connect info — the client's
        // address — to its own listener and to tapped ones.
        incoming.tap_io(|_| {}),
        router(Arc::clone(state)).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { stopped.notified().await });
    // Boxed, not stack-pinned, so that `drop(server)` below really drops the router and
    // with it the last references to the state.
    let mut server = Box::pin(server.into_future());
    tokio::select! {
        r = &mut server => r?,
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down");
            state.shutdown.send_replace(true);
            stop.notify_one();
            let started = Instant::now();
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(r) => r?,
                Err(_) => tracing::warn!("connections still open after the grace period; closing them"),
            }
            // Upgraded WebSocket connections are not the HTTP server's any more: give each
            // the rest of the grace period to deliver its `bye` and close frame.
            let mut live = state.websockets.subscribe();
            let left = SHUTDOWN_GRACE.saturating_sub(started.elapsed());
            if tokio::time::timeout(left, live.wait_for(|n| *n == 0)).await.is_err() {
                tracing::warn!(open = *live.borrow(), "websockets still open after the grace period; closing them");
            }
        }
    }
    drop(server);
    Ok(())
}

/// SIGHUP reloads the TLS certificate and key (a renewed certificate needs no
/// restart); without TLS it is logged and ignored rather than ending Berth.
async fn reload_on_hangup(state: std::sync::Weak<AppState>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; TLS files reload only at a restart");
        return;
    };
    while hangups.recv().await.is_some() {
        let Some(st) = state.upgrade() else { return };
        let Some(tls) = st.tls.clone() else {
            tracing::info!("SIGHUP: nothing to reload (no tls_cert configured)");
            continue;
        };
        match tokio::task::spawn_blocking(move || tls.reload()).await {
            Ok(Ok(())) => tracing::info!("SIGHUP: TLS certificate and key reloaded"),
            Ok(Err(e)) => tracing::error!(
                error = %e,
                "SIGHUP: TLS reload failed; still serving the previous certificate"
            ),
            Err(e) => tracing::error!(error = %e, "SIGHUP: TLS reload panicked"),
        }
    }
}

/// Waits until `shared` is the last reference and drops it; false if something still
/// holds it at `deadline`.
async fn release<T>(mut shared: Arc<T>, deadline: Instant) -> bool {
    loop {
        match Arc::try_unwrap(shared) {
            Ok(value) => {
                drop(value);
                return true;
            }
            Err(still) if Instant::now() < deadline => {
                shared = still;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(_) => return false,
        }
    }
}

/// Hourly: audit retention, and forgetting sessions that ended more than a week ago.
/// Holds the state weakly, so it never delays closing the store at shutdown.
async fn housekeeping(
    state: std::sync::Weak<AppState>,
    retention: berth_identity::audit::Retention,
) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    let Some(mut shutdown) = state.upgrade().map(|s| s.shutdown.subscribe()) else {
        return;
    };
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = crate::ws::conn::shutting_down(&mut shutdown) => return,
        }
        let Some(st) = state.upgrade() else { return };
        let r = tokio::task::spawn_blocking(move || {
            // An admin may have changed the age since the last turn.
            let retention =
                berth_identity::audit::Retention::effective(retention, &*st.engine.store);
            let audit = st
                .engine
                .store
                .audit_prune(retention, berth_identity::users::now_ms())
                .map_err(|e| e.to_string())?;
            let sessions = st
                .engine
                .store
                .prune_sessions(7 * 86_400_000)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((audit, sessions))
        })
        .await;
        match r {
            Ok(Ok((audit, sessions))) if audit + u64::from(sessions) > 0 => {
                tracing::info!(audit, sessions, "pruned old records");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = e, "housekeeping failed"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
    }
}

/// Creates the first admin on an empty store. A generated password goes to a file only
/// Berth's user can read — never to the log, which viewers can read as container logs
/// when Berth runs in a container — and must be changed at the first login.
fn first_admin(
    store: &Store,
    config: &Config,
    data_dir: &std::path::Path,
) -> Result<(), ServeError> {
    use berth_identity::bootstrap::{Bootstrap, ensure_first_admin};
    let password = config.admin_password.as_ref().map(|s| s.expose());
    match ensure_first_admin(store, config.admin_user.as_deref(), password)? {
        Bootstrap::Existing => {}
        Bootstrap::Configured { name } => tracing::info!(
            user = name,
            "created the first admin from the configuration"
        ),
        Bootstrap::Generated { name, password } => {
            let path = berth_core::datadir::initial_password_path(data_dir);
            write_private(&path, &format!("{password}\n"))?;
            tracing::warn!(
                user = name,
                file = %path.display(),
                "no users yet and no BERTH_ADMIN_PASSWORD: created admin user {name:?} with a generated \
                 password, written to {} (readable only by Berth's user); log in with it and choose your \
                 own — the file is deleted then",
                path.display()
            );
        }
    }
    Ok(())
}

/// Writes a new file readable only by its owner (0600), replacing any old one.
fn write_private(path: &std::path::Path, text: &str) -> Result<(), ServeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install SIGTERM handler");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
