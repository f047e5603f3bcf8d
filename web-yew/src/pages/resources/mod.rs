//! Images, volumes and networks: what exists, what uses it, and removal where it is
//! safe (the host refuses in-use removals with a message naming the users); a volume's
//! file browser.

mod create;
mod files;
mod images;
mod networks;
mod pull;
mod volumes;

pub use files::VolumeFilesPage;
pub use images::ImagesPage;
pub use networks::NetworksPage;
pub use volumes::VolumesPage;

use berth_protocol::api::catalogue::Method;

use crate::components::{Question, run_confirmed};
use crate::hooks::{Action, BusyRows};

/// The row being removed, and how the page marks it busy meanwhile.
struct Removed {
    busy: BusyRows,
    /// The row's key (a volume's name, an image's or a network's id).
    key: String,
    /// What the user knows it by.
    label: String,
}

/// Removes a row's object with `M` after a confirmation, marking the row "removing…"
/// until the engine answers, then reports and reloads.
fn remove<M>(action: &Action, removed: Removed, params: M::Params)
where
    M: Method,
    M::Params: 'static,
{
    let Removed { busy, key, label } = removed;
    let question = Question::new(format!("Remove {label}?"), "Remove")
        .detail("This cannot be undone.")
        .danger();
    run_confirmed(action, question, move |ws| async move {
        busy.during(&[key], "removing", ws.call_m::<M>(params))
            .await?;
        Ok(format!("Removed {label}."))
    });
}
