//! "Back up now" on container, volume, network and project pages, and the compose
//! project chooser of the backups page. Its options form is also a backup schedule's.

use berth_protocol::api::Empty;
use berth_protocol::api::backups::{BackupTarget, Consistency, CreateBackup, Hooks};
use berth_protocol::api::catalogue::{
    BackupsCreate, ContainerInspect, ContainersList, StorageList,
};
use berth_protocol::api::containers::ContainerRef;
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::schedules::{Retention, ScheduleBackup, TargetRetention};
use berth_protocol::api::volumes::is_anonymous_name;
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::format::given;
use crate::hooks::{on_check, on_pick, on_text, use_action, use_call, use_flag, use_text};
use crate::route::Route;
use crate::ws::use_ws;

#[derive(Properties, PartialEq)]
pub struct BackUpNowProps {
    pub target: BackupTarget,
}

/// What the options form holds.
#[derive(Clone, PartialEq)]
pub struct Choices {
    consistency: UseStateHandle<String>,
    storage: UseStateHandle<String>,
    pre: UseStateHandle<String>,
    post: UseStateHandle<String>,
    include_image: UseStateHandle<bool>,
    passphrase: UseStateHandle<String>,
}

/// The options form's state, starting from a schedule's options (`None`: the
/// defaults). A passphrase is never shown: empty keeps the one set.
#[hook]
pub fn use_choices(initial: Option<&ScheduleBackup>) -> Choices {
    let initial = initial.cloned().unwrap_or_default();
    let consistency = match initial.consistency.unwrap_or_default() {
        Consistency::Pause => "pause",
        Consistency::Hot => "hot",
        Consistency::Stop => "stop",
    };
    Choices {
        consistency: use_state(|| consistency.to_owned()),
        storage: use_state(|| initial.storage.clone().unwrap_or_default()),
        pre: use_state(|| initial.hooks.pre.clone().unwrap_or_default()),
        post: use_state(|| initial.hooks.post.clone().unwrap_or_default()),
        include_image: use_flag(initial.include_image),
        passphrase: use_text(),
    }
}

impl Choices {
    fn consistency(&self) -> Consistency {
        match self.consistency.as_str() {
            "pause" => Consistency::Pause,
            "hot" => Consistency::Hot,
            _ => Consistency::Stop,
        }
    }

    fn hooks(&self) -> Hooks {
        // A hook of only blanks is no hook (the label's, if any, applies).
        let hook =
            |h: &UseStateHandle<String>| Some((**h).clone()).filter(|v| !v.trim().is_empty());
        Hooks {
            pre: hook(&self.pre),
            post: hook(&self.post),
            ..Default::default()
        }
    }

    fn request(&self, target: BackupTarget) -> CreateBackup {
        CreateBackup {
            hooks: self.hooks(),
            host: None,
            targets: vec![target],
            consistency: Some(self.consistency()),
            storage: given(&self.storage),
            passphrase: given(&self.passphrase),
            include_image: *self.include_image,
        }
    }

    /// A backup schedule's options, with its retention and the targets' own
    /// policies. Hooks other than pre/post (a schedule's `base`) are kept as they were.
    pub fn scheduled(
        &self,
        base: Option<&ScheduleBackup>,
        retention: Retention,
        target_retention: Vec<TargetRetention>,
    ) -> ScheduleBackup {
        let mut hooks = base.map(|b| b.hooks.clone()).unwrap_or_default();
        let chosen = self.hooks();
        (hooks.pre, hooks.post) = (chosen.pre, chosen.post);
        ScheduleBackup {
            consistency: Some(self.consistency()),
            storage: given(&self.storage),
            hooks,
            include_image: *self.include_image,
            retention: (retention != Retention::default()).then_some(retention),
            target_retention,
            passphrase: given(&self.passphrase),
        }
    }
}

/// "Back up now" with the consistency choice and an optional passphrase.
#[function_component(BackUpNow)]
pub fn back_up_now(props: &BackUpNowProps) -> Html {
    let ctx = use_ws();
    let action = use_action(Callback::noop());
    let open = use_state(|| false);
    let choices = use_choices(None);
    let storages = use_storages();
    if !ctx.user().is_some_and(|u| u.role.allows(Role::Operator)) {
        return html! {};
    }
    // The jobs the last click queued, linked so their progress is one click away.
    let queued = use_state(Vec::<String>::new);
    let go = {
        let (action, target, choices) = (action.clone(), props.target.clone(), choices.clone());
        let queued = queued.clone();
        Callback::from(move |_| {
            let request = choices.request(target.clone());
            let queued = queued.clone();
            action.run(move |ws| async move {
                let jobs = ws.call_m::<BackupsCreate>(request).await?.jobs;
                let said = format!("Backup queued (job {}).", jobs.join(", "));
                queued.set(jobs);
                Ok(said)
            });
        })
    };
    let toggle = {
        let open = open.clone();
        Callback::from(move |_| open.set(!*open))
    };
    let runs_commands = matches!(
        props.target,
        BackupTarget::Container { .. } | BackupTarget::Project { .. }
    );
    html! {
        <div class="backup-now card">
            <button class="primary" id="backup-now" onclick={toggle}>{ "Back up now…" }</button>
            if *open {
                <div class="form-row">
                    if let BackupTarget::Container { name } = &props.target {
                        <Includes container={name.clone()} />
                    }
                    { choices.fields(&storages, runs_commands) }
                    <button id="backup-start" onclick={go}>{ "Start backup" }</button>
                </div>
            }
            <div id="backup-now-result">{ action.view() }
                if !queued.is_empty() {
                    <p class="queued-jobs">{ "Follow: " }
                    { for queued.iter().map(|id| html! {
                        <Link<Route> to={Route::Job { id: id.clone() }} classes="queued-job">{ id }</Link<Route>>
                    }) }</p>
                }
            </div>
        </div>
    }
}

/// The storage instances' names, for the storage choice.
#[hook]
pub fn use_storages() -> Vec<String> {
    let (stores, _) = use_call::<StorageList>(Empty {});
    stores
        .ready()
        .map(|l| l.storage.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default()
}

impl Choices {
    /// The fields; hooks and the image only for targets that run commands.
    /// A `state_backup` schedule's options: where to, the passphrase, retention.
    pub fn state_scheduled(&self, retention: Retention) -> ScheduleBackup {
        ScheduleBackup {
            storage: given(&self.storage),
            retention: (retention != Retention::default()).then_some(retention),
            passphrase: given(&self.passphrase),
            ..ScheduleBackup::default()
        }
    }

    /// The fields of a state backup: a storage and a mandatory passphrase (`set`: one
    /// is set already, and an empty field keeps it).
    pub fn state_fields(&self, storages: &[String], set: bool) -> Html {
        html! { <>
            <label class="field">{ "Storage " }
                <select id="backup-storage" onchange={on_pick(&self.storage)}>
                    <option value="" selected={self.storage.is_empty()}>{ "default" }</option>
                    { for storages.iter().map(|s| html!{ <option value={s.clone()} selected={*self.storage == *s}>{ s }</option> }) }
                </select></label>
            <label class="field">{ "Passphrase (at least 12 characters; keep it apart from the backups) " }
                <input type="password" id="backup-passphrase" value={(*self.passphrase).clone()}
                    oninput={on_text(&self.passphrase)} autocomplete="new-password"
                    minlength="12" required={!set} /></label>
        </> }
    }

    pub fn fields(&self, storages: &[String], runs_commands: bool) -> Html {
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
                    <option value="" selected={chosen.is_empty()}>{ "choose a project" }</option>
                    { for stacks.iter().map(|s| html!{ <option value={s.clone()} selected={*chosen == *s}>{ s }</option> }) }
                </select></label>
            if !chosen.is_empty() {
                <BackUpNow key={(*chosen).clone()} target={BackupTarget::Project { name: (*chosen).clone() }} />
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct IncludesProps {
    container: String,
}

/// What a container's backup holds besides its configuration, read from its mounts:
/// its named volumes, and host folders (kept only under the server's backup bind
/// roots; anonymous volumes are the image's and are left out).
#[function_component(Includes)]
fn includes(props: &IncludesProps) -> Html {
    let (inspect, _) = use_call::<ContainerInspect>(ContainerRef {
        host: None,
        id: props.container.clone(),
    });
    let Some(i) = inspect.ready() else {
        return html! {};
    };
    let mounts = i.inspect["Mounts"].as_array().cloned().unwrap_or_default();
    let of = |kind: &str, key: &str| -> Vec<String> {
        mounts
            .iter()
            .filter(|m| m["Type"] == kind)
            .filter_map(|m| m[key].as_str().map(str::to_owned))
            .filter(|n| !is_anonymous_name(n))
            .collect()
    };
    let (volumes, folders) = (of("volume", "Name"), of("bind", "Source"));
    html! {
        <p class="backup-includes" id="backup-includes">
            { "Includes its configuration" }
            if volumes.is_empty() { { " and no named volume." } } else {
                { format!(" and its volumes: {}.", volumes.join(", ")) }
            }
            if !folders.is_empty() {
                { format!(" Host folders ({}) only if under the server's backup bind roots; otherwise listed as skipped.", folders.join(", ")) }
            }
        </p>
    }
}
