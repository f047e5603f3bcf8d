//! The `berth` command.

// Needs no unsafe code; forbid (the workspace only denies) keeps it that way.
#![forbid(unsafe_code)]
// Host functions stay short enough to read whole (threshold in clippy.toml);
// a longer one is split by phase, or carries a reasoned `#[expect]`.
#![warn(clippy::too_many_lines)]

mod ctl;
mod healthcheck;
mod passphrase;
mod state;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use berth_identity::prelude::*;
use berth_server::config::{Config, Flags, KEYS};
use clap::{Args, Parser, Subcommand};

/// Berth: a self-hosted control plane for Docker hosts — containers, volumes, images,
/// networks and compose stacks, with backups you can restore.
#[derive(Debug, Parser)]
#[command(name = "berth", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the Berth server (web UI, WebSocket API, job queue).
    ///
    /// Settings come from flags, then BERTH_* environment variables, then the TOML file
    /// given by --config, then defaults. Invalid settings stop Berth with exit code 2.
    Serve(Box<ServeArgs>),
    /// Manage users directly in a data directory (for recovery; Berth must be stopped).
    #[command(subcommand)]
    User(UserCommand),
    /// Talk to a running Berth over its WebSocket API (log in, call methods, watch
    /// channels, manage tokens, users and the audit log).
    Ctl(ctl::CtlArgs),
    /// Work with backup files offline.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Berth's own state: restore a state backup (`berth ctl state backup` makes one).
    #[command(subcommand)]
    State(state::StateCommand),
    /// Exit 0 when the Berth listening here is ready (`GET /readyz` answers 200), 1
    /// otherwise: a container's HEALTHCHECK, with no shell or curl in the image.
    Healthcheck(healthcheck::HealthArgs),
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Turn an encrypted backup back into the plain .tar.gz it sealed (standard tools
    /// read that). The passphrase comes from BERTH_BACKUP_PASSPHRASE or the first line
    /// of --passphrase-file; a key file from --key-file. Nothing is written unless
    /// every chunk authenticates.
    Decrypt {
        /// The encrypted backup.
        input: PathBuf,
        /// Where the .tar.gz goes (must not exist).
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, value_name = "FILE", conflicts_with = "key_file")]
        passphrase_file: Option<PathBuf>,
        /// 32 random bytes or 64 hex digits.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. Without --password-stdin a password is generated and printed once.
    Add {
        name: String,
        /// viewer, operator or admin
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        dir: DataDirArgs,
    },
    /// Set a user's password and end their sessions and API tokens (the recovery
    /// command: whoever held the old password may hold those too). Without
    /// --password-stdin a password is generated and printed once.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
        /// Keep the user's sessions and API tokens valid.
        #[arg(long)]
        keep_sessions: bool,
        #[command(flatten)]
        dir: DataDirArgs,
    },
    /// List users and their roles.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDirArgs,
    },
}

#[derive(Debug, Args)]
struct DataDirArgs {
    /// The data directory [env: BERTH_DATA_DIR] [default: ./data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// TOML configuration file [env: BERTH_CONFIG]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// `berth serve`'s flags: `--config` and one flag per configuration key, made from
/// `config::KEYS` (the keys are declared once, there).
#[derive(Debug)]
struct ServeArgs {
    flags: Flags,
}

impl clap::FromArgMatches for ServeArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Flags {
            config: matches.get_one::<PathBuf>("config").cloned(),
            ..Flags::default()
        };
        for key in KEYS {
            if let Some(value) = matches.get_one::<String>(key.name) {
                flags.values.insert(key.name, value.clone());
            }
        }
        Ok(Self { flags })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for ServeArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        let config = clap::Arg::new("config")
            .long("config")
            .value_name("FILE")
            .value_parser(clap::value_parser!(PathBuf))
            .help("TOML configuration file [env: BERTH_CONFIG]");
        KEYS.iter().fold(command.arg(config), |command, key| {
            command.arg(
                clap::Arg::new(key.name)
                    .long(key.flag.trim_start_matches("--"))
                    .value_name(key.value_name)
                    .help(key.help()),
            )
        })
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

fn main() -> ExitCode {
    berth_core::alloc::tune();
    berth_core::datadir::private_umask();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Ctl(args) => ctl::run(args),
        Command::Healthcheck(args) => healthcheck::run(&args),
        Command::Backup(cmd) => match backup(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("berth: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::State(cmd) => match state::run(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("berth: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::User(cmd) => match user(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("berth: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn backup(cmd: BackupCommand) -> anyhow::Result<()> {
    use anyhow::Context;
    use berth_engine::backup::crypt::{DecryptReader, Secret};

    let BackupCommand::Decrypt {
        input,
        output,
        passphrase_file,
        key_file,
    } = cmd;
    let secret = match (key_file, passphrase_file) {
        (Some(k), _) => Secret::key_file(
            &std::fs::read(&k).with_context(|| format!("reading {}", k.display()))?,
        )?,
        (None, file) => Secret::Passphrase(
            passphrase::read(file.as_deref(), "BERTH_BACKUP_PASSPHRASE")
                .context("or give --key-file")?,
        ),
    };
    let src =
        std::fs::File::open(&input).with_context(|| format!("opening {}", input.display()))?;
    let mut reader = DecryptReader::new(std::io::BufReader::new(src), &secret)?;
    // Written under a temporary name and renamed at the end: a damaged backup leaves no
    // half-decrypted file that looks complete.
    if output.exists() {
        anyhow::bail!("{} exists; not overwriting it", output.display());
    }
    let tmp = output.with_extension("partial");
    let r = (|| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        std::io::copy(&mut reader, &mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &output)
    })();
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("decrypting {}", input.display()));
    }
    eprintln!(
        "berth: decrypted {} → {}",
        input.display(),
        output.display()
    );
    Ok(())
}

fn user(cmd: UserCommand) -> anyhow::Result<()> {
    use berth_identity::password;
    use berth_protocol::role::Role;

    let dir = match &cmd {
        UserCommand::Add { dir, .. }
        | UserCommand::Passwd { dir, .. }
        | UserCommand::List { dir, .. } => dir,
    };
    let mut flags = Flags {
        config: dir.config.clone(),
        ..Flags::default()
    };
    if let Some(data_dir) = &dir.data_dir {
        flags = flags.with("data_dir", data_dir);
    }
    let config = Config::load(&flags, |k| std::env::var(k).ok()).map_err(|e| {
        eprintln!("berth: {e}");
        std::process::exit(2)
    })?;
    if !config.data_dir.join("berth.redb").is_file() {
        anyhow::bail!(
            "no Berth store in {}; check --data-dir",
            config.data_dir.display()
        );
    }
    // Takes the lock: refuses while a server uses the directory.
    let data_dir = berth_core::datadir::DataDir::open(&config.data_dir)?;
    let store =
        berth_core::store::Store::open(&data_dir.store_path(), berth_server::server::TABLES)?;
    let read_password = |from_stdin: bool| -> anyhow::Result<(String, bool)> {
        if !from_stdin {
            return Ok((password::generate(), true));
        }
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok((line.trim_end_matches(['\n', '\r']).to_owned(), false))
    };
    match cmd {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            ..
        } => {
            let role: Role = serde_json::from_value(serde_json::Value::String(role.clone()))
                .map_err(|_| {
                    anyhow::anyhow!("unknown role {role:?}: use viewer, operator or admin")
                })?;
            let (password, generated) = read_password(password_stdin)?;
            store.create_user(&name, role, &password)?;
            println!("created {name} ({})", role.as_str());
            if generated {
                println!("password (shown once): {password}");
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin,
            keep_sessions,
            ..
        } => {
            let (password, generated) = read_password(password_stdin)?;
            store.set_password(&name, &password)?;
            println!("password of {name} changed");
            if !keep_sessions {
                let sessions = store.revoke_sessions_where(|s| s.user == name)?;
                let mut tokens = 0;
                for t in store.list_tokens(Some(&name))? {
                    if store.revoke_token(&t.id, |_| true)?.is_some() {
                        tokens += 1;
                    }
                }
                println!(
                    "ended {sessions} session(s) and revoked {tokens} API token(s) of {name} (--keep-sessions keeps them)"
                );
            }
            if generated {
                println!("password (shown once): {password}");
            }
        }
        UserCommand::List { json, .. } => {
            for u in store.list_users()? {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"name": u.name, "role": u.role, "created_ms": u.created_ms})
                    );
                } else {
                    println!("{:<32} {}", u.name, u.role.as_str());
                }
            }
        }
    }
    Ok(())
}

fn serve(args: ServeArgs) -> ExitCode {
    let flags = args.flags;
    let config = match Config::load(&flags, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format, &config.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> =
        runtime.block_on(async { Ok(berth_server::server::serve(config).await?) });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "berth stopped with an error");
            eprintln!("berth: {e:#}");
            ExitCode::FAILURE
        }
    }
}
