//! "Back up now" on container, volume, network and project pages, and the compose
//! project chooser of the backups page.

use berth_protocol::api::Empty;
use berth_protocol::api::backups::{BackupTarget, Consistency, CreateBackup, Hooks};
use berth_protocol::api::catalogue::{BackupsCreate, ContainersList, StorageList};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::role::Role;
use yew::prelude::*;

use crate::format::given;
use crate::hooks::{on_check, on_pick, on_text, use_action, use_call, use_flag, use_text};
use crate::ws::use_ws;

#[derive(Properties, PartialEq)]
pub struct BackUpNowProps {
    pub target: BackupTarget,
}

/// What the form holds.
#[derive(Clone, PartialEq)]
struct Choices {
    consistency: UseStateHandle<String>,
    storage: UseStateHandle<String>,
    pre: UseStateHandle<String>,
    post: UseStateHandle<String>,
    include_image: UseStateHandle<bool>,
    passphrase: UseStateHandle<String>,
}

impl Choices {
    fn request(&self, target: BackupTarget) -> CreateBackup {
        let consistency = match self.consistency.as_str() {
            "pause" => Consistency::Pause,
            "hot" => Consistency::Hot,
            _ => Consistency::Stop,
        };
        // A hook of only blanks is no hook (the label's, if any, applies).
        let hook =
            |h: &UseStateHandle<String>| Some((**h).clone()).filter(|v| !v.trim().is_empty());
        CreateBackup {
            hooks: Hooks {
                pre: hook(&self.pre),
                post: hook(&self.post),
                ..Default::default()
            },
            host: None,
            targets: vec![target],
            consistency: Some(consistency),
            storage: given(&self.storage),
            passphrase: given(&self.passphrase),
            include_image: *self.include_image,
        }
    }
}

/// "Back up now" with the consistency choice and an optional passphrase.
#[function_component(BackUpNow)]
pub fn back_up_now(props: &BackUpNowProps) -> Html {
    let ctx = use_ws();
    let action = use_action(Callback::noop());
    let open = use_state(|| false);
    let choices = Choices {
        consistency: use_state(|| "stop".to_owned()),
        storage: use_text(),
        pre: use_text(),
        post: use_text(),
        include_image: use_flag(false),
        passphrase: use_text(),
    };
    let (stores, _) = use_call::<StorageList>(Empty {});
    if !ctx.user().is_some_and(|u| u.role.allows(Role::Operator)) {
        return html! {};
    }
    let go = {
        let (action, target, choices) = (action.clone(), props.target.clone(), choices.clone());
        Callback::from(move |_| {
            let request = choices.request(target.clone());
            action.run(move |ws| async move {
                let queued = ws.call_m::<BackupsCreate>(request).await?;
                Ok(format!(
                    "Backup queued (job {}). Follow it on the Jobs page.",
                    queued.jobs.join(", ")
                ))
            });
        })
    };
    let toggle = {
        let open = open.clone();
        Callback::from(move |_| open.set(!*open))
    };
    let storages: Vec<String> = stores
        .ready()
        .map(|l| l.storage.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let runs_commands = matches!(
        props.target,
        BackupTarget::Container { .. } | BackupTarget::Project { .. }
    );
    html! {
        <div class="backup-now card">
            <button class="primary" id="backup-now" onclick={toggle}>{ "Back up now…" }</button>
            if *open {
                <div class="form-row">
                    { choices.fields(&storages, runs_commands) }
                    <button id="backup-start" onclick={go}>{ "Start backup" }</button>
                </div>
            }
            <div id="backup-now-result">{ action.view() }</div>
        </div>
    }
}

impl Choices {
    fn fields(&self, storages: &[String], runs_commands: bool) -> Html {
        let c = &self.consistency;
        html! { <>
            <label class="field">{ "Consistency " }
                <select id="backup-consistency" onchange={on_pick(c)}>
                    <option value="stop" selected={**c == "stop"}>{ "stop (default: stopped during the read, started again)" }</option>
                    <option value="pause" selected={**c == "pause"}>{ "pause (frozen during the read)" }</option>
                    <option value="hot" selected={**c == "hot"}>{ "hot (read while running)" }</option>
                </select></label>
            <label class="field">{ "Storage " }
                <select id="backup-storage" onchange={on_pick(&self.storage)}>
                    <option value="" selected={self.storage.is_empty()}>{ "default" }</option>
                    { for storages.iter().map(|s| html!{ <option value={s.clone()} selected={*self.storage == *s}>{ s }</option> }) }
                </select></label>
            if runs_commands {
                <label class="field">{ "Pre hook (optional; overrides the berth.backup.pre label) " }
                    <input id="backup-pre" value={(*self.pre).clone()} oninput={on_text(&self.pre)}
                        placeholder="e.g. pg_dump -U app > /data/dump.sql" /></label>
                <label class="field">{ "Post hook " }
                    <input id="backup-post" value={(*self.post).clone()} oninput={on_text(&self.post)} /></label>
                <label class="field"><input type="checkbox" id="backup-include-image"
                    checked={*self.include_image} onchange={on_check(&self.include_image)} />
                    { " Include the image (for images that cannot be pulled again)" }</label>
            }
            <label class="field">{ "Encrypt with passphrase (optional) " }
                <input type="password" id="backup-passphrase" value={(*self.passphrase).clone()}
                    oninput={on_text(&self.passphrase)} autocomplete="new-password" /></label>
        </> }
    }
}

/// Back up a compose project as one backup: the project is chosen among those with
/// containers on this host.
#[function_component(ProjectBackup)]
pub fn project_backup() -> Html {
    let (list, _) = use_call::<ContainersList>(HostOnly::default());
    let chosen = use_text();
    let stacks: Vec<String> = list
        .ready()
        .map(|l| l.groups.iter().filter_map(|g| g.stack.clone()).collect())
        .unwrap_or_default();
    if stacks.is_empty() {
        return html! {};
    }
    html! {
        <div class="card" id="project-backup">
            <label class="field">{ "Back up a compose project (all its containers, volumes and networks in one backup) " }
                <select id="backup-project" onchange={on_pick(&chosen)}>
                    <option value="">{ "choose a project" }</option>
                    { for stacks.iter().map(|s| html!{ <option value={s.clone()} selected={*chosen == *s}>{ s }</option> }) }
                </select></label>
            if !chosen.is_empty() {
                <BackUpNow key={(*chosen).clone()} target={BackupTarget::Project { name: (*chosen).clone() }} />
            }
        </div>
    }
}
