//! The `berth` command.

use std::path::PathBuf;
use std::process::ExitCode;

use berth::config::{Config, Flags};
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
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// TOML configuration file [env: BERTH_CONFIG]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [env: BERTH_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Directory for the store, plugin cache and local backups [env: BERTH_DATA_DIR] [default: ./data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// Docker endpoint: unix:///path, tcp://host:port or https://host:port
    /// [env: BERTH_DOCKER_HOST] [default: $DOCKER_HOST, else the local socket]
    #[arg(long, value_name = "URL")]
    docker_host: Option<String>,
    /// Log format: human or json [env: BERTH_LOG_FORMAT] [default: human]
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Log filter, e.g. info or berth=debug [env: BERTH_LOG_LEVEL] [default: info]
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let flags = Flags {
        config: args.config,
        listen: args.listen,
        data_dir: args.data_dir,
        docker_host: args.docker_host,
        log_format: args.log_format,
        log_level: args.log_level,
    };
    let config = match Config::load(&flags, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth: {e}");
            return ExitCode::from(2);
        }
    };
    berth::telemetry::init(config.log_format, &config.log_level);
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
        runtime.block_on(async { Ok(berth::server::serve(config).await?) });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "berth stopped with an error");
            eprintln!("berth: {e:#}");
            ExitCode::FAILURE
        }
    }
}
