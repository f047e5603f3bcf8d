//! `berth ctl state backup`: Berth's own state to a storage instance, through the
//! running server (it alone can snapshot its store while serving).

use std::path::PathBuf;

use berth_client::Client;
use berth_protocol::api::catalogue as cat;
use berth_protocol::api::system::StateBackupParams;
use clap::Subcommand;

use super::{Fail, print_json};

#[derive(Debug, Subcommand)]
pub enum StateCmd {
    /// Snapshot the store, the installation key, installed plugins and the stacks
    /// directory into one encrypted object on a storage instance. The passphrase (12+
    /// characters) comes from the first line of --passphrase-file or from
    /// BERTH_STATE_PASSPHRASE; keep it apart from the backup. It runs as a job of the
    /// queue (after the jobs before it); for a regular one, create a schedule with
    /// `"action":"state_backup"` (`berth ctl schedules create`).
    Backup {
        /// A storage instance (default: local).
        #[arg(long)]
        storage: Option<String>,
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
}

pub async fn state(client: &Client, cmd: StateCmd, json: bool) -> Result<(), Fail> {
    let StateCmd::Backup {
        storage,
        passphrase_file,
    } = cmd;
    let passphrase = crate::passphrase::read(passphrase_file.as_deref(), "BERTH_STATE_PASSPHRASE")?;
    let written = client
        .call::<cat::StateBackup>(StateBackupParams {
            storage,
            passphrase,
        })
        .await?;
    if json {
        print_json(&written);
    } else {
        let job = written
            .job
            .as_deref()
            .map(|j| format!(", job {j}"))
            .unwrap_or_default();
        println!(
            "state backed up to {} as {} ({} bytes, sha256 {}{job})",
            written.storage, written.key, written.size, written.sha256
        );
    }
    Ok(())
}
