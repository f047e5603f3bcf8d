//! `berth state restore`: a state backup back into an empty data directory, offline.

use std::path::PathBuf;

use anyhow::Context;
use berth_server::config::{Config, Flags};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Bring back users, tokens, settings, plugin instances (their secrets unseal with
    /// the restored key), schedules, the catalogue, installed plugins and the stacks
    /// from a state backup (a file: download it from its storage first). The data
    /// directory must hold no store and Berth must be stopped. The passphrase comes
    /// from the first line of --passphrase-file or from BERTH_STATE_PASSPHRASE.
    Restore {
        /// The state backup (`…/state/berth-state-<time>.berth-state`).
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        dir: crate::DataDirArgs,
    },
}

pub fn run(cmd: StateCommand) -> anyhow::Result<()> {
    let StateCommand::Restore {
        file,
        passphrase_file,
        dir,
    } = cmd;
    let mut flags = Flags {
        config: dir.config.clone(),
        ..Flags::default()
    };
    if let Some(data_dir) = &dir.data_dir {
        flags = flags.with("data_dir", data_dir);
    }
    let config = Config::load(&flags, |k| std::env::var(k).ok())?;
    let passphrase = crate::passphrase::read(passphrase_file.as_deref(), "BERTH_STATE_PASSPHRASE")?;
    // Held while restoring: a Berth running on this directory holds it too.
    let data_dir = berth_core::datadir::DataDir::open(&config.data_dir)
        .with_context(|| format!("opening {}", config.data_dir.display()))?;
    let places = berth_engine::state::Places {
        data_dir: data_dir.root().to_path_buf(),
        stacks_dir: config.stacks_dir.clone(),
    };
    let restored = berth_engine::state::restore(&file, &passphrase, &places)
        .map_err(|e| anyhow::anyhow!("{}", e.public()))?;
    let when = chrono::DateTime::from_timestamp_millis(
        i64::try_from(restored.manifest.created_ms).unwrap_or(0),
    )
    .map(|t| t.to_rfc3339())
    .unwrap_or_default();
    eprintln!(
        "berth: restored the state Berth {} saved at {when} ({} files) into {}; start Berth on it and log in as before",
        restored.manifest.berth,
        restored.files,
        places.data_dir.display()
    );
    Ok(())
}
