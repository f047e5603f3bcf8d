//! Berth's configuration: one typed [`Config`] built from four layers.
//!
//! Precedence, highest first: command-line flags, `BERTH_*` environment variables, the
//! TOML file given by `--config` / `BERTH_CONFIG`, built-in defaults. Every value is
//! validated here, before anything touches the disk, so a bad value stops Berth with one
//! line that names the key, where the value came from and why it is wrong.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use berth_docker::Endpoint;

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: bollard's defaults (`DOCKER_HOST`, else the local socket).
    pub docker_host: Option<Endpoint>,
    pub log_format: LogFormat,
    /// A `tracing` filter directive such as `info` or `berth=debug,tower_http=info`.
    pub log_level: String,
    /// Name of the first admin, created when the store has no users (default `admin`).
    pub admin_user: Option<String>,
    /// Password of the first admin; without it one is generated and printed once.
    pub admin_password: Option<Secret>,
    /// First lockout after repeated failed logins; doubles with each further failure.
    pub login_lockout: std::time::Duration,
    /// Origins besides the server's own whose pages may use the session cookie on the
    /// WebSocket (e.g. `https://berth.example.com` behind a proxy that rewrites `Host`).
    pub allowed_origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` / `-Proto` are believed.
    pub trusted_proxies: Vec<crate::proxies::Cidr>,
    pub audit_retention: berth_identity::audit::Retention,
    /// WebSocket ping interval; a connection silent for two intervals is dropped.
    pub ws_heartbeat: std::time::Duration,
    /// A socket write stalled this long closes the connection with 4008.
    pub ws_write_timeout: std::time::Duration,
    /// Jobs run at once (default 1). Jobs never hold the same container or volume at
    /// the same time, whatever this is.
    pub job_concurrency: usize,
    /// One folder per compose stack.
    pub stacks_dir: PathBuf,
    /// Host directories whose bind mounts backups may read and restores may write
    /// (absolute, canonical); a stack's own folder needs no entry.
    pub backup_bind_roots: Vec<PathBuf>,
    /// Held containers' volumes read ahead of the archive (the backup spool).
    pub backup_spool: bool,
    /// Who may read `GET /metrics` (nobody unless enabled).
    pub metrics: MetricsAccess,
    /// HTTPS served by Berth itself: the certificate chain and key (PEM files).
    pub tls: Option<TlsFiles>,
}

/// `tls_cert` and `tls_key`, given together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `/metrics` is off unless enabled; then it answers API tokens of any role, and
/// without a token the addresses in `open_to` (a Prometheus on the same network).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsAccess {
    pub enabled: bool,
    pub open_to: Vec<crate::proxies::Cidr>,
}

/// A value that must not appear in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Values given on the command line: the config file, and each key's flag by key
/// name (absent: not given).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub values: std::collections::BTreeMap<&'static str, String>,
}

impl Flags {
    /// Flags with one key set (by its TOML name), for callers and tests.
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        debug_assert!(KEYS.iter().any(|k| k.name == key), "unknown key {key}");
        self.values.insert(key, value.into());
        self
    }
}

/// One invalid value. Displayed as a single line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: `{key}` (from {origin}): {reason}")]
pub struct ConfigError {
    pub key: String,
    pub origin: Origin,
    pub reason: String,
}

/// Where a value came from, so the error tells the user what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("the default"),
            Self::File(p) => write!(f, "config file {}", p.display()),
            Self::Env(v) => write!(f, "environment variable {v}"),
            Self::Flag(n) => write!(f, "flag {n}"),
        }
    }
}

/// A configuration key, declared once: its TOML name, environment variable and flag,
/// its default, and the words the CLI help and the README's table show (the table is
/// generated from these, see `readme_table`).
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub env: &'static str,
    pub flag: &'static str,
    pub default: Option<&'static str>,
    /// The flag's value placeholder (`ADDR`, `SECONDS`).
    pub value_name: &'static str,
    /// The default as documented (it may depend on the environment: `$DOCKER_HOST`).
    pub shown_default: &'static str,
    /// What the key does, in Markdown.
    pub meaning: &'static str,
}

impl Key {
    /// The flag's help line: the meaning in plain text, the variable and the default.
    pub fn help(&self) -> String {
        let plain = |text: &str| text.replace('`', "");
        format!(
            "{} [env: {}] [default: {}]",
            plain(self.meaning),
            self.env,
            plain(self.shown_default)
        )
    }
}

/// Every key, in the order they are documented.
pub const KEYS: &[Key] = &[
    Key {
        name: "listen",
        env: "BERTH_LISTEN",
        flag: "--listen",
        default: Some("127.0.0.1:8080"),
        value_name: "ADDR",
        shown_default: "`127.0.0.1:8080`",
        meaning: "address of the HTTP/WebSocket server",
    },
    Key {
        name: "data_dir",
        env: "BERTH_DATA_DIR",
        flag: "--data-dir",
        default: Some("./data"),
        value_name: "DIR",
        shown_default: "`./data`",
        meaning: "store (`berth.redb`), plugin cache, local backups; locked by one process",
    },
    Key {
        name: "docker_host",
        env: "BERTH_DOCKER_HOST",
        flag: "--docker-host",
        default: None,
        value_name: "URL",
        shown_default: "`$DOCKER_HOST`, else `unix:///var/run/docker.sock`",
        meaning: "`unix://`, `tcp://`/`http://` (TLS if `DOCKER_TLS_VERIFY`), `https://`",
    },
    Key {
        name: "log_format",
        env: "BERTH_LOG_FORMAT",
        flag: "--log-format",
        default: Some("human"),
        value_name: "FORMAT",
        shown_default: "`human`",
        meaning: "`human` or `json` (one object per line, on stderr)",
    },
    Key {
        name: "log_level",
        env: "BERTH_LOG_LEVEL",
        flag: "--log-level",
        default: Some("info"),
        value_name: "FILTER",
        shown_default: "`info`",
        meaning: "a `tracing` filter, e.g. `info,berth=debug` (release builds log up to `debug`)",
    },
    Key {
        name: "admin_user",
        env: "BERTH_ADMIN_USER",
        flag: "--admin-user",
        default: None,
        value_name: "NAME",
        shown_default: "`admin`",
        meaning: "name of the first admin, created only when the store has no users",
    },
    Key {
        name: "login_lockout_s",
        env: "BERTH_LOGIN_LOCKOUT_S",
        flag: "--login-lockout-s",
        default: Some("30"),
        value_name: "SECONDS",
        shown_default: "`30`",
        meaning: "first lockout (seconds) after 5 failed logins for a user or an address; doubles per further failure, up to 15 min",
    },
    Key {
        name: "admin_password",
        env: "BERTH_ADMIN_PASSWORD",
        flag: "--admin-password",
        default: None,
        value_name: "PASSWORD",
        shown_default: "generated",
        meaning: "password of the first admin (≥ 10 characters); without it a random one is generated into `<data_dir>/initial-admin-password` (0600), to be changed at the first login. Prefer the environment variable: flags are visible to other local users",
    },
    Key {
        name: "admin_password_file",
        env: "BERTH_ADMIN_PASSWORD_FILE",
        flag: "--admin-password-file",
        default: None,
        value_name: "FILE",
        shown_default: "none",
        meaning: "a file whose first line is the first admin's password (a compose or Docker secret); `admin_password` wins when both are given",
    },
    Key {
        name: "tls_cert",
        env: "BERTH_TLS_CERT",
        flag: "--tls-cert",
        default: None,
        value_name: "FILE",
        shown_default: "none",
        meaning: "serve HTTPS with this PEM certificate chain (the server's certificate first; with `tls_key`); SIGHUP reloads both files, HSTS is sent and session cookies are `Secure`",
    },
    Key {
        name: "tls_key",
        env: "BERTH_TLS_KEY",
        flag: "--tls-key",
        default: None,
        value_name: "FILE",
        shown_default: "none",
        meaning: "the PEM private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1)",
    },
    Key {
        name: "trusted_proxies",
        env: "BERTH_TRUSTED_PROXIES",
        flag: "--trusted-proxies",
        default: None,
        value_name: "CIDRS",
        shown_default: "none",
        meaning: "comma-separated addresses or blocks (`127.0.0.1`, `10.0.0.0/8`) of reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` Berth believes (client address for the login lockout and the audit log; `Secure` session cookie over HTTPS); from anyone else they are ignored",
    },
    Key {
        name: "allowed_origins",
        env: "BERTH_ALLOWED_ORIGINS",
        flag: "--allowed-origins",
        default: None,
        value_name: "ORIGINS",
        shown_default: "none",
        meaning: "extra origins (comma-separated, e.g. `https://berth.example.com`) whose pages may use the session cookie on the WebSocket; the server's own origin is always allowed",
    },
    Key {
        name: "audit_retention_days",
        env: "BERTH_AUDIT_RETENTION_DAYS",
        flag: "--audit-retention-days",
        default: Some("90"),
        value_name: "DAYS",
        shown_default: "`90`",
        meaning: "audit entries older than this are pruned (at start and hourly)",
    },
    Key {
        name: "audit_max_entries",
        env: "BERTH_AUDIT_MAX_ENTRIES",
        flag: "--audit-max-entries",
        default: Some("100000"),
        value_name: "N",
        shown_default: "`100000`",
        meaning: "the oldest audit entries beyond this count are pruned",
    },
    Key {
        name: "ws_heartbeat_s",
        env: "BERTH_WS_HEARTBEAT_S",
        flag: "--ws-heartbeat-s",
        default: Some("20"),
        value_name: "SECONDS",
        shown_default: "`20`",
        meaning: "WebSocket ping interval; a connection silent for two is dropped",
    },
    Key {
        name: "ws_write_timeout_s",
        env: "BERTH_WS_WRITE_TIMEOUT_S",
        flag: "--ws-write-timeout-s",
        default: Some("10"),
        value_name: "SECONDS",
        shown_default: "`10`",
        meaning: "a socket write stalled this long closes the connection (4008 `slow_consumer`)",
    },
    Key {
        name: "stacks_dir",
        env: "BERTH_STACKS_DIR",
        flag: "--stacks-dir",
        default: None,
        value_name: "DIR",
        shown_default: "`<data_dir>/stacks`",
        meaning: "compose stacks, one folder each (`compose.yaml`, `.env`, relative bind mounts); when Berth runs in a container, mount it at the same path inside and outside (the engine resolves relative bind mounts on the host)",
    },
    Key {
        name: "backup_bind_roots",
        env: "BERTH_BACKUP_BIND_ROOTS",
        flag: "--backup-bind-roots",
        default: None,
        value_name: "DIRS",
        shown_default: "none",
        meaning: "comma-separated host directories whose bind-mounted data backups include (and restores may write into empty folders of); other bind mounts are listed as skipped. A stack's own folder is always included",
    },
    Key {
        name: "backup_spool",
        env: "BERTH_BACKUP_SPOOL",
        flag: "--backup-spool",
        default: Some("on"),
        value_name: "on|off",
        shown_default: "`on`",
        meaning: "containers a `stop` or `pause` backup holds run again once Docker has read their volumes: the read runs ahead of the compression into unlinked files in `data_dir` (at most half its free space, freed as the archive is written). `off`: nothing of a volume touches Berth's disk, and the containers stay down until the archive is stored",
    },
    Key {
        name: "metrics",
        env: "BERTH_METRICS",
        flag: "--metrics",
        default: Some("off"),
        value_name: "on|off",
        shown_default: "`off`",
        meaning: "serve Prometheus metrics at `GET /metrics`, to an API token of any role (`Authorization: Bearer`) or to `metrics_open_to`",
    },
    Key {
        name: "metrics_open_to",
        env: "BERTH_METRICS_OPEN_TO",
        flag: "--metrics-open-to",
        default: None,
        value_name: "CIDRS",
        shown_default: "none",
        meaning: "comma-separated addresses or blocks that may read `/metrics` without a token (e.g. the Prometheus server's address)",
    },
    Key {
        name: "job_concurrency",
        env: "BERTH_JOB_CONCURRENCY",
        flag: "--job-concurrency",
        default: Some("1"),
        value_name: "N",
        shown_default: "`1`",
        meaning: "backups and restores run at once (1–8); jobs never hold the same container or volume together — one waits, saying for what",
    },
];

/// The README's configuration table (between its `config-table` markers), generated
/// from [`KEYS`]; a test keeps the README equal to it.
pub fn readme_table() -> String {
    let mut table = String::from(
        "| key (TOML) | flag | environment | default | meaning |\n|---|---|---|---|---|\n",
    );
    for key in KEYS {
        table.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} | {} |\n",
            key.name, key.flag, key.env, key.shown_default, key.meaning
        ));
    }
    table.push_str("| — | `--config` | `BERTH_CONFIG` | none | the TOML file |\n");
    table
}

/// The names of all keys, for error messages and docs.
pub fn key_names() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|k| k.name)
}

impl Config {
    /// Build the configuration from flags, the environment (via `env`) and the TOML
    /// file. Reads the file if one is named; writes nothing.
    pub fn load(flags: &Flags, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = match (&flags.config, env("BERTH_CONFIG")) {
            (Some(p), _) => Some((p.clone(), Origin::Flag("--config"))),
            (None, Some(p)) if !p.is_empty() => {
                Some((PathBuf::from(p), Origin::Env("BERTH_CONFIG")))
            }
            _ => None,
        };
        let table = match file {
            Some((path, origin)) => Some((read_file(&path, origin)?, path)),
            None => None,
        };
        let sources = Sources { flags, env, table };
        let data_dir = sources.data_dir()?;
        // Fields in the order they are checked: the first bad value is the one named.
        Ok(Self {
            listen: sources.listen()?,
            docker_host: sources.docker_host()?,
            log_format: sources.log_format()?,
            log_level: sources.log_level()?,
            admin_user: sources.admin_user()?,
            admin_password: sources.admin_password()?,
            login_lockout: sources.seconds("login_lockout_s", 1..=3600)?,
            allowed_origins: sources.allowed_origins()?,
            trusted_proxies: sources.cidrs("trusted_proxies")?,
            audit_retention: berth_identity::audit::Retention {
                max_age_ms: sources.number("audit_retention_days", 1..=3650, "a number of days")?
                    * 86_400_000,
                max_entries: sources.number(
                    "audit_max_entries",
                    100..=10_000_000,
                    "a number of entries",
                )?,
            },
            ws_heartbeat: sources.seconds("ws_heartbeat_s", 1..=300)?,
            ws_write_timeout: sources.seconds("ws_write_timeout_s", 1..=300)?,
            job_concurrency: sources.number("job_concurrency", 1..=8, "a number of jobs")? as usize,
            stacks_dir: sources.stacks_dir(&data_dir)?,
            backup_bind_roots: sources.backup_bind_roots(&data_dir)?,
            backup_spool: sources.switch("backup_spool")?,
            metrics: MetricsAccess {
                enabled: sources.switch("metrics")?,
                open_to: sources.cidrs("metrics_open_to")?,
            },
            tls: sources.tls()?,
            data_dir,
        })
    }
}

/// The four layers a value may come from, highest first.
struct Sources<'a, E> {
    flags: &'a Flags,
    env: E,
    /// The TOML file's values and its path.
    table: Option<(std::collections::BTreeMap<String, String>, PathBuf)>,
}

impl<E: Fn(&str) -> Option<String>> Sources<'_, E> {
    /// The key's value and where it came from: a flag, else the environment, else the
    /// file, else the default (`None`: none of them).
    fn pick(&self, name: &str) -> (&'static Key, Option<(String, Origin)>) {
        let key = KEYS.iter().find(|k| k.name == name).expect("known key");
        if let Some(value) = self.flags.values.get(name) {
            return (key, Some((value.clone(), Origin::Flag(key.flag))));
        }
        if let Some(value) = (self.env)(key.env) {
            return (key, Some((value, Origin::Env(key.env))));
        }
        if let Some((table, path)) = &self.table
            && let Some(value) = table.get(key.name)
        {
            return (key, Some((value.clone(), Origin::File(path.clone()))));
        }
        let default = key.default.map(|d| (d.to_owned(), Origin::Default));
        (key, default)
    }

    /// A key that has a default, so always has a value.
    fn required(&self, name: &str) -> (&'static Key, String, Origin) {
        let (key, picked) = self.pick(name);
        let (value, origin) = picked.expect("has default");
        (key, value, origin)
    }

    fn number(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
        what: &str,
    ) -> Result<u64, ConfigError> {
        let (key, value, origin) = self.required(name);
        match value.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(invalid(
                key,
                origin,
                format!(
                    "{value:?} is not {what} from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    fn seconds(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<std::time::Duration, ConfigError> {
        self.number(name, range, "a number of seconds")
            .map(std::time::Duration::from_secs)
    }

    fn listen(&self) -> Result<SocketAddr, ConfigError> {
        let (key, value, origin) = self.required("listen");
        value.parse::<SocketAddr>().map_err(|_| {
            invalid(
                key,
                origin,
                format!("{value:?} is not a socket address such as 127.0.0.1:8080 or [::]:8080"),
            )
        })
    }

    fn data_dir(&self) -> Result<PathBuf, ConfigError> {
        let (key, value, origin) = self.required("data_dir");
        if value.trim().is_empty() {
            return Err(invalid(key, origin, "must not be empty".to_owned()));
        }
        let data_dir = PathBuf::from(&value);
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(invalid(
                key,
                origin,
                format!("{value:?} exists and is not a directory"),
            ));
        }
        Ok(data_dir)
    }

    /// `stacks_dir`, default `<data_dir>/stacks`; it must not be a file.
    fn stacks_dir(&self, data_dir: &Path) -> Result<PathBuf, ConfigError> {
        match self.pick("stacks_dir") {
            (key, Some((value, origin))) => {
                let dir = PathBuf::from(&value);
                if value.trim().is_empty() || (dir.exists() && !dir.is_dir()) {
                    return Err(invalid(
                        key,
                        origin,
                        format!("{value:?} is not a directory"),
                    ));
                }
                Ok(dir)
            }
            (_, None) => Ok(data_dir.join("stacks")),
        }
    }

    fn docker_host(&self) -> Result<Option<Endpoint>, ConfigError> {
        match self.pick("docker_host") {
            (key, Some((value, origin))) => Endpoint::parse(&value)
                .map(Some)
                .map_err(|reason| invalid(key, origin, reason)),
            (_, None) => Ok(None),
        }
    }

    fn log_format(&self) -> Result<LogFormat, ConfigError> {
        let (key, value, origin) = self.required("log_format");
        match value.as_str() {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err(invalid(
                key,
                origin,
                format!("{value:?} is not one of: human, json"),
            )),
        }
    }

    fn log_level(&self) -> Result<String, ConfigError> {
        let (key, value, origin) = self.required("log_level");
        match tracing_subscriber::EnvFilter::try_new(&value) {
            Ok(_) => Ok(value),
            Err(e) => Err(invalid(
                key,
                origin,
                format!("{value:?} is not a log filter such as info or berth=debug ({e})"),
            )),
        }
    }

    fn admin_user(&self) -> Result<Option<String>, ConfigError> {
        match self.pick("admin_user") {
            (key, Some((value, origin))) => {
                berth_identity::users::validate_name(&value)
                    .map_err(|e| invalid(key, origin, e.to_string()))?;
                Ok(Some(value))
            }
            (_, None) => Ok(None),
        }
    }

    fn admin_password(&self) -> Result<Option<Secret>, ConfigError> {
        let (key, value, origin) = match self.pick("admin_password") {
            (key, Some((value, origin))) => (key, value, origin),
            (_, None) => match self.pick("admin_password_file") {
                (key, Some((path, origin))) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        invalid(key, origin.clone(), format!("cannot read {path:?}: {e}"))
                    })?;
                    let first = text.lines().next().unwrap_or_default().to_owned();
                    (key, first, origin)
                }
                (_, None) => return Ok(None),
            },
        };
        // The reason never contains the value.
        berth_identity::password::check_policy(&value)
            .map_err(|reason| invalid(key, origin, reason))?;
        Ok(Some(Secret(value)))
    }

    /// Both files or neither; each must be a readable file (what is in them is
    /// checked when Berth starts serving).
    fn tls(&self) -> Result<Option<TlsFiles>, ConfigError> {
        let file = |name: &str| match self.pick(name) {
            (_, None) => Ok(None),
            (key, Some((value, origin))) => {
                let path = PathBuf::from(&value);
                match std::fs::metadata(&path) {
                    Ok(m) if m.is_file() => Ok(Some(path)),
                    Ok(_) => Err(invalid(key, origin, format!("{value:?} is not a file"))),
                    Err(e) => Err(invalid(key, origin, format!("cannot read {value:?}: {e}"))),
                }
            }
        };
        match (file("tls_cert")?, file("tls_key")?) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
            (None, None) => Ok(None),
            (Some(_), None) | (None, Some(_)) => {
                let (key, origin) = match self.pick("tls_cert") {
                    (key, Some((_, origin))) => (key, origin),
                    (_, None) => {
                        let (key, picked) = self.pick("tls_key");
                        (key, picked.map(|(_, o)| o).unwrap_or(Origin::Default))
                    }
                };
                Err(invalid(
                    key,
                    origin,
                    "HTTPS needs both tls_cert and tls_key".to_owned(),
                ))
            }
        }
    }

    /// `on`/`off` (also `true`/`false`, as TOML booleans too).
    fn switch(&self, name: &str) -> Result<bool, ConfigError> {
        let (key, value, origin) = self.required(name);
        match value.to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => Ok(true),
            "off" | "false" | "no" | "0" => Ok(false),
            _ => Err(invalid(
                key,
                origin,
                format!("{value:?} is neither on nor off"),
            )),
        }
    }

    /// A comma-separated list of addresses or blocks (none when not given).
    fn cidrs(&self, name: &str) -> Result<Vec<crate::proxies::Cidr>, ConfigError> {
        let (key, Some((value, origin))) = self.pick(name) else {
            return Ok(Vec::new());
        };
        value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|listed| {
                crate::proxies::Cidr::parse(listed).ok_or_else(|| {
                    invalid(
                        key,
                        origin.clone(),
                        format!("{listed:?} is not an address or block such as 10.0.0.0/8"),
                    )
                })
            })
            .collect()
    }

    /// Absolute directories other than `/` (which would hand every host file to
    /// whoever may back up a container), made canonical when they exist; none may
    /// hold the data directory (its installation key would travel with backups).
    fn backup_bind_roots(&self, data_dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
        let (key, Some((value, origin))) = self.pick("backup_bind_roots") else {
            return Ok(Vec::new());
        };
        let mut roots = Vec::new();
        for listed in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let path = Path::new(listed);
            if !path.is_absolute() || path.parent().is_none() {
                return Err(invalid(
                    key,
                    origin,
                    format!("{listed:?} is not an absolute directory below / such as /srv/data"),
                ));
            }
            let root = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            let data = std::fs::canonicalize(data_dir)
                .unwrap_or_else(|_| std::env::current_dir().unwrap_or_default().join(data_dir));
            if data.starts_with(&root) {
                return Err(invalid(
                    key,
                    origin,
                    format!("{listed:?} holds the data directory, whose key must not leave it"),
                ));
            }
            roots.push(root);
        }
        Ok(roots)
    }

    fn allowed_origins(&self) -> Result<Vec<String>, ConfigError> {
        let (key, Some((value, origin))) = self.pick("allowed_origins") else {
            return Ok(Vec::new());
        };
        let mut allowed = Vec::new();
        for listed in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let rest = listed
                .strip_prefix("http://")
                .or_else(|| listed.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.contains('/')) {
                return Err(invalid(
                    key,
                    origin,
                    format!(
                        "{listed:?} is not an origin such as https://berth.example.com (scheme and host, no path)"
                    ),
                ));
            }
            allowed.push(listed.to_owned());
        }
        Ok(allowed)
    }
}

fn invalid(key: &Key, origin: Origin, reason: String) -> ConfigError {
    ConfigError {
        key: key.name.to_owned(),
        origin,
        reason,
    }
}

/// Reads the TOML file into key → string value, refusing unknown keys and non-strings.
fn read_file(
    path: &Path,
    origin: Origin,
) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
    let file_err = |key: &str, reason: String| ConfigError {
        key: key.to_owned(),
        origin: Origin::File(path.to_path_buf()),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        key: "config".to_owned(),
        origin: origin.clone(),
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].lines().count().max(1);
                format!(" at line {line}")
            })
            .unwrap_or_default();
        file_err(
            "config",
            format!("not valid TOML{at}: {}", e.message().trim()),
        )
    })?;
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in table {
        if !KEYS.iter().any(|key| key.name == k) {
            let known = key_names().collect::<Vec<_>>().join(", ");
            return Err(file_err(&k, format!("unknown key (known keys: {known})")));
        }
        match v {
            toml::Value::String(s) => {
                out.insert(k, s);
            }
            // `job_concurrency = 2` and `metrics = true` mean what they say; each
            // key's own check then judges the value as it would the string.
            toml::Value::Integer(n) => {
                out.insert(k, n.to_string());
            }
            toml::Value::Boolean(b) => {
                out.insert(k, b.to_string());
            }
            other => {
                return Err(file_err(
                    &k,
                    format!(
                        "expected a string, a whole number or true/false, found {}",
                        other.type_str()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_readme_configuration_table_is_the_declared_keys() {
        const START: &str = "<!-- config-table:start -->\n";
        const END: &str = "<!-- config-table:end -->";
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let from = readme
            .find(START)
            .expect("README has the config-table markers")
            + START.len();
        let to = readme
            .find(END)
            .expect("README has the config-table end marker");
        let generated = format!("{}{}{}", &readme[..from], readme_table(), &readme[to..]);
        if std::env::var_os("BERTH_UPDATE_README").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        assert!(
            readme == generated,
            "README.md's configuration table is out of date with config::KEYS; \
             regenerate it with BERTH_UPDATE_README=1 cargo test -p berth-server config"
        );
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let c = Config::load(&Flags::default(), env(&[])).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.docker_host, None);
        assert_eq!(c.log_format, LogFormat::Human);
        assert_eq!(c.log_level, "info");
    }

    #[test]
    fn flags_beat_env_beat_file_beat_defaults() {
        let (_d, path) = file(
            "listen = \"127.0.0.1:1001\"\ndata_dir = \"/tmp/from-file\"\nlog_format = \"json\"\n",
        );
        let flags = Flags {
            config: Some(path),
            ..Flags::default()
        }
        .with("listen", "127.0.0.1:1003");
        let c = Config::load(
            &flags,
            env(&[
                ("BERTH_LISTEN", "127.0.0.1:1002"),
                ("BERTH_DATA_DIR", "/tmp/from-env"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 1003, "flag wins over env and file");
        assert_eq!(
            c.data_dir,
            PathBuf::from("/tmp/from-env"),
            "env wins over file"
        );
        assert_eq!(c.log_format, LogFormat::Json, "file wins over default");
        assert_eq!(c.log_level, "info", "default when nothing else");
    }

    #[test]
    fn config_file_can_come_from_the_environment() {
        let (_d, path) = file("listen = \"127.0.0.1:1001\"\n");
        let c = Config::load(
            &Flags::default(),
            env(&[("BERTH_CONFIG", path.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 1001);
    }

    #[test]
    fn errors_name_the_key_and_the_origin() {
        let e = Config::load(&Flags::default(), env(&[("BERTH_LISTEN", "nope")])).unwrap_err();
        assert_eq!(e.key, "listen");
        assert_eq!(e.origin, Origin::Env("BERTH_LISTEN"));
        let line = e.to_string();
        assert!(
            line.contains("`listen`") && line.contains("BERTH_LISTEN") && !line.contains('\n'),
            "{line}"
        );

        let flags = Flags::default().with("log_format", "xml");
        let e = Config::load(&flags, env(&[])).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.origin),
            ("log_format", Origin::Flag("--log-format"))
        );

        let flags = Flags::default().with("docker_host", "ftp://x");
        assert_eq!(
            Config::load(&flags, env(&[])).unwrap_err().key,
            "docker_host"
        );

        let flags = Flags::default().with("log_level", "berth=loud[");
        assert_eq!(Config::load(&flags, env(&[])).unwrap_err().key, "log_level");
    }

    #[test]
    fn metrics_are_off_unless_switched_on_and_open_only_to_listed_blocks() {
        let c = Config::load(&Flags::default(), env(&[])).unwrap();
        assert_eq!(c.metrics, MetricsAccess::default());
        let c = Config::load(
            &Flags::default(),
            env(&[
                ("BERTH_METRICS", "on"),
                ("BERTH_METRICS_OPEN_TO", "10.0.0.0/8, 192.168.1.5"),
            ]),
        )
        .unwrap();
        assert!(c.metrics.enabled);
        assert_eq!(c.metrics.open_to.len(), 2);
        for (key, value) in [
            ("BERTH_METRICS", "maybe"),
            ("BERTH_METRICS_OPEN_TO", "10.0.0.0/33"),
        ] {
            let e = Config::load(&Flags::default(), env(&[(key, value)])).unwrap_err();
            assert_eq!(e.origin, Origin::Env(key), "{e}");
        }
    }

    #[test]
    fn tls_needs_both_files_and_they_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, "x").unwrap();
        std::fs::write(&key, "x").unwrap();
        let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
        let loaded = Config::load(
            &Flags::default(),
            env(&[("BERTH_TLS_CERT", c), ("BERTH_TLS_KEY", k)]),
        )
        .unwrap();
        assert_eq!(
            loaded.tls,
            Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone()
            })
        );
        let e = Config::load(&Flags::default(), env(&[("BERTH_TLS_CERT", c)])).unwrap_err();
        assert_eq!(e.key, "tls_cert");
        assert!(e.reason.contains("both"), "{e}");
        let e = Config::load(&Flags::default(), env(&[("BERTH_TLS_KEY", k)])).unwrap_err();
        assert_eq!(e.key, "tls_key");
        let missing = dir.path().join("nope.pem");
        let e = Config::load(
            &Flags::default(),
            env(&[
                ("BERTH_TLS_CERT", missing.to_str().unwrap()),
                ("BERTH_TLS_KEY", k),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.key, "tls_cert");
        assert!(e.reason.contains("cannot read"), "{e}");
    }

    #[test]
    fn file_numbers_and_booleans_are_taken_as_written() {
        let (_d, path) = file("job_concurrency = 2\nmetrics = true\nws_heartbeat_s = 0\n");
        let flags = Flags {
            config: Some(path),
            ..Flags::default()
        };
        let e = Config::load(&flags, env(&[])).unwrap_err();
        assert_eq!(e.key, "ws_heartbeat_s", "judged like the string \"0\"");
        let (_d, path) = file("job_concurrency = 2\nmetrics = true\n");
        let flags = Flags {
            config: Some(path),
            ..Flags::default()
        };
        let c = Config::load(&flags, env(&[])).unwrap();
        assert_eq!(c.job_concurrency, 2);
        assert!(c.metrics.enabled);
    }

    #[test]
    fn file_problems_are_one_line_each() {
        let (_d, path) = file("listen = [8080]\n");
        let flags = Flags {
            config: Some(path),
            ..Flags::default()
        };
        let e = Config::load(&flags, env(&[])).unwrap_err();
        assert_eq!(e.key, "listen");
        assert!(e.reason.contains("expected a string"), "{e}");
        assert!(e.reason.contains("found array"), "{e}");

        let (_d, path) = file("lisen = \"x\"\n");
        let flags = Flags {
            config: Some(path),
            ..Flags::default()
        };
        let e = Config::load(&flags, env(&[])).unwrap_err();
        assert_eq!(e.key, "lisen");
        assert!(e.reason.contains("unknown key"), "{e}");

        let (_d, path) = file("listen = \n");
        let flags = Flags {
            config: Some(path),
            ..Flags::default()
        };
        let e = Config::load(&flags, env(&[])).unwrap_err();
        assert_eq!(e.key, "config");
        assert!(!e.to_string().contains('\n'), "{e}");

        let flags = Flags {
            config: Some("/nonexistent/berth.toml".into()),
            ..Flags::default()
        };
        let e = Config::load(&flags, env(&[])).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.origin),
            ("config", Origin::Flag("--config"))
        );
    }

    #[test]
    fn the_admin_password_is_validated_but_never_shown() {
        let e = Config::load(
            &Flags::default(),
            env(&[("BERTH_ADMIN_PASSWORD", "hunter2")]),
        )
        .unwrap_err();
        assert_eq!(e.key, "admin_password");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let c = Config::load(
            &Flags::default(),
            env(&[("BERTH_ADMIN_PASSWORD", "long-enough-secret")]),
        )
        .unwrap();
        assert_eq!(
            c.admin_password.as_ref().map(Secret::expose),
            Some("long-enough-secret")
        );
        assert!(!format!("{c:?}").contains("long-enough-secret"));
        let e =
            Config::load(&Flags::default(), env(&[("BERTH_ADMIN_USER", "Root User")])).unwrap_err();
        assert_eq!(e.key, "admin_user");
    }

    #[test]
    fn data_dir_that_is_a_file_is_refused() {
        let (_d, path) = file("");
        let flags = Flags::default().with("data_dir", path.to_str().unwrap());
        assert_eq!(Config::load(&flags, env(&[])).unwrap_err().key, "data_dir");
    }

    #[test]
    fn bind_roots_are_absolute_never_slash_and_never_hold_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let roots = |value: &str| {
            let flags = Flags::default()
                .with("data_dir", data.to_str().unwrap())
                .with("backup_bind_roots", value);
            Config::load(&flags, env(&[]))
        };
        for bad in ["/", "srv/data", dir.path().to_str().unwrap()] {
            assert_eq!(roots(bad).unwrap_err().key, "backup_bind_roots", "{bad}");
        }
        let ok = roots("/srv/media, /opt/app").unwrap();
        assert_eq!(
            ok.backup_bind_roots,
            vec![PathBuf::from("/srv/media"), PathBuf::from("/opt/app")]
        );
    }

    #[test]
    fn the_first_password_may_come_from_a_file() {
        let (_d, path) = file("a-long-enough-secret\nignored\n");
        let flags = Flags::default().with("admin_password_file", path.to_str().unwrap());
        let c = Config::load(&flags, env(&[])).unwrap();
        assert_eq!(
            c.admin_password.as_ref().map(Secret::expose),
            Some("a-long-enough-secret")
        );
        let (_d, short) = file("pw-1234\n");
        let flags = Flags::default().with("admin_password_file", short.to_str().unwrap());
        let e = Config::load(&flags, env(&[])).unwrap_err();
        assert_eq!(e.key, "admin_password_file");
        assert!(!e.to_string().contains("pw-1234"), "{e}");
        let flags = Flags::default().with("admin_password_file", "/nonexistent/berth-secret");
        assert_eq!(
            Config::load(&flags, env(&[])).unwrap_err().key,
            "admin_password_file"
        );
    }
}
