//! The restore form: name, volumes (same names or new ones), ports, network, start,
//! the conflict check and an admin's approval of what the backup would grant.

use std::collections::BTreeMap;

use berth_protocol::api::backups::{
    BackupEntry, BackupOrigin, BackupTarget, ExistingVolume, Manifest, ManifestVolume,
    RestoreBackup, RestorePreview,
};
use berth_protocol::api::catalogue::{BackupsPreview, BackupsRestore, NetworksList};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::role::Role;
use yew::prelude::*;

use crate::components::error_view;
use crate::format::{given, when};
use crate::hooks::{on_check, on_pick, on_text, use_action, use_call, use_flag, use_text};
use crate::ws::use_ws;

#[derive(Properties, PartialEq)]
pub struct RestoreProps {
    pub backup: BackupEntry,
    pub close: Callback<()>,
}

/// What the form holds. The network choice in particular lives here, not in the DOM:
/// the list of networks re-renders whenever networks come and go, and a request must
/// carry what the user picked ("" = the backup's own), never an option the list
/// shifted under it.
#[derive(Clone, PartialEq)]
struct Fields {
    name: UseStateHandle<String>,
    ports: UseStateHandle<String>,
    passphrase: UseStateHandle<String>,
    network: UseStateHandle<String>,
    /// Original volume name → the name typed for it.
    volumes: UseStateHandle<BTreeMap<String, String>>,
    overwrite: UseStateHandle<bool>,
    start: UseStateHandle<bool>,
    approve: UseStateHandle<bool>,
}

impl Fields {
    /// The renamed volumes (a name left empty or unchanged keeps the original).
    fn renamed(&self) -> BTreeMap<String, String> {
        self.volumes
            .iter()
            .filter(|(orig, v)| !v.is_empty() && v != orig)
            .map(|(orig, v)| (orig.clone(), v.clone()))
            .collect()
    }

    /// What the conflict check needs: where things would land.
    fn preview(&self, b: &BackupEntry) -> RestoreBackup {
        RestoreBackup {
            id: b.id.clone(),
            name: given(&self.name),
            volumes: self.renamed(),
            existing: self.existing(),
            network: given(&self.network),
            ..Default::default()
        }
    }

    fn existing(&self) -> ExistingVolume {
        if *self.overwrite {
            ExistingVolume::Overwrite
        } else {
            ExistingVolume::Refuse
        }
    }

    /// The whole request, or why the ports cannot be read.
    fn request(
        &self,
        b: &BackupEntry,
        preview: Option<&RestorePreview>,
    ) -> Result<RestoreBackup, ErrorBody> {
        Ok(RestoreBackup {
            passphrase: given(&self.passphrase),
            ports: port_map(&self.ports)?,
            // A project starts what was running unless told not to.
            start: match &b.target {
                BackupTarget::Container { .. } => Some(*self.start),
                BackupTarget::Project { .. } => (!*self.start).then_some(false),
                _ => None,
            },
            // What the admin approved is exactly what the last check listed.
            approve: match preview {
                Some(pv) if *self.approve => pv.needs_approval.clone(),
                _ => Vec::new(),
            },
            ..self.preview(b)
        })
    }
}

/// `8080/tcp=9090, 53/udp=5353` → container port → host port.
fn port_map(text: &str) -> Result<BTreeMap<String, u16>, ErrorBody> {
    let bad = |m: String| ErrorBody::new(ErrorCode::BadRequest, m);
    let mut ports = BTreeMap::new();
    for part in text.split([',', ' ']).filter(|s| !s.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(bad(format!("{part:?}: write ports as 8080/tcp=9090")));
        };
        let Ok(p) = v.parse::<u16>() else {
            return Err(bad(format!("{v:?} is not a port")));
        };
        ports.insert(k.to_owned(), p);
    }
    Ok(ports)
}

#[function_component(RestoreForm)]
pub fn restore_form(props: &RestoreProps) -> Html {
    let ctx = use_ws();
    let b = &props.backup;
    let fields = Fields {
        name: use_text(),
        ports: use_text(),
        passphrase: use_text(),
        network: use_text(),
        volumes: use_state(BTreeMap::new),
        overwrite: use_flag(false),
        start: use_flag(true),
        approve: use_flag(false),
    };
    let action = use_action(Callback::noop());
    let preview = use_state(|| None::<Result<RestorePreview, ErrorBody>>);
    let admin = ctx.user().is_some_and(|u| u.role == Role::Admin);
    let submit = {
        let (action, fields, b, preview) =
            (action.clone(), fields.clone(), b.clone(), preview.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let checked = preview.as_ref().and_then(|p| p.as_ref().ok());
            match fields.request(&b, checked) {
                Ok(request) => action.run(move |ws| async move {
                    let job = ws.call_m::<BackupsRestore>(request).await?;
                    Ok(format!(
                        "Restore queued (job {}). Follow it on the Jobs page.",
                        job.id
                    ))
                }),
                Err(e) => action.fail(e),
            }
        })
    };
    let check = {
        let (action, fields, b, preview) =
            (action.clone(), fields.clone(), b.clone(), preview.clone());
        Callback::from(move |_| {
            let request = fields.preview(&b);
            let preview = preview.clone();
            action.spawn(move |ws, _| async move {
                preview.set(Some(ws.call_m::<BackupsPreview>(request).await));
            });
        })
    };
    let cancel = {
        let close = props.close.clone();
        Callback::from(move |_| close.emit(()))
    };
    html! {
        <form class="card" id="restore-form" onsubmit={submit}>
            <h2>{ format!("Restore {} {}", b.target.kind(), b.target.name()) }</h2>
            <p class="muted">{ format!("Backup {} of {}. Conflicts (a name or volume in use, a missing image) are reported before anything changes.", b.id, when(b.created_ms)) }</p>
            <ContainerFields backup={b.clone()} fields={fields.clone()} />
            { fields.volume_inputs(&b.volumes) }
            <label class="check"><input type="checkbox" id="restore-overwrite" checked={*fields.overwrite}
                onchange={on_check(&fields.overwrite)} disabled={!admin} />
                { " overwrite volumes that exist (admins only: their contents are replaced — kept aside until the restored data is verified, and put back if the restore fails; refused while a container uses them)" }</label>
            if b.encrypted {
                <label class="field">{ "Passphrase " }
                    <input type="password" id="restore-passphrase" value={(*fields.passphrase).clone()} oninput={on_text(&fields.passphrase)} /></label>
            }
            { preview_view(preview.as_ref(), admin, &fields) }
            <div class="form-row">
                <button type="button" id="restore-preview" onclick={check}>{ "Check for conflicts" }</button>
                <button type="submit" class="primary" id="restore-submit">{ "Restore" }</button>
                <button type="button" onclick={cancel}>{ "Close" }</button>
            </div>
            <div id="restore-result">{ action.view() }</div>
        </form>
    }
}

impl Fields {
    fn volume_inputs(&self, volumes: &[String]) -> Html {
        volumes
            .iter()
            .map(|v| self.mapping_input(v, &format!("Volume {v} → "), v))
            .collect()
    }

    /// One entry of the request's `volumes` map: where entry `key` is restored.
    fn mapping_input(&self, key: &str, label: &str, placeholder: &str) -> Html {
        let oninput = {
            let (map, key) = (self.volumes.clone(), key.to_owned());
            Callback::from(move |e: InputEvent| {
                let value = e
                    .target_unchecked_into::<web_sys::HtmlInputElement>()
                    .value();
                let mut next = (*map).clone();
                next.insert(key.clone(), value);
                map.set(next);
            })
        };
        let value = self.volumes.get(key).cloned().unwrap_or_default();
        html! {
            <label class="field">{ label.to_owned() }
                <input class="restore-volume" data-volume={key.to_owned()} {value} {oninput} placeholder={placeholder.to_owned()} /></label>
        }
    }

    /// A backup's host directories (a stack's folder, bind sources) and the bind
    /// mounts it left out, shown once the preview has read its manifest.
    fn host_directories(&self, manifest: &Manifest) -> Html {
        let dirs: Vec<_> = manifest
            .volumes
            .iter()
            .filter_map(|v| v.host_path.as_ref().map(|p| (v, p)))
            .collect();
        html! { <>
            if !dirs.is_empty() {
                <div id="restore-host-dirs">
                    { for dirs.iter().map(|(v, path)| if v.name == ManifestVolume::STACK_FOLDER {
                        html!{ <p class="muted" data-entry={v.name.clone()}>{ format!("Stack folder (compose files, .env, relative bind mounts; was {path}) → the stacks directory, under the project name above") }</p> }
                    } else {
                        self.mapping_input(&v.name, &format!("Bind data {path} → "), path)
                    }) }
                </div>
            }
            if !manifest.binds_not_included.is_empty() {
                <div id="restore-skipped">
                    <p>{ "Not in this backup:" }</p>
                    <ul>{ for manifest.binds_not_included.iter().map(|b| html!{ <li><code>{ b }</code></li> }) }</ul>
                </div>
            }
        </> }
    }
}

#[derive(Properties, PartialEq)]
struct ContainerFieldsProps {
    backup: BackupEntry,
    fields: Fields,
}

/// Name, ports, network and start: for containers and projects only.
#[function_component(ContainerFields)]
fn container_fields(props: &ContainerFieldsProps) -> Html {
    let (nets, _) = use_call::<NetworksList>(HostOnly::default());
    let b = &props.backup;
    let f = &props.fields;
    let project = matches!(b.target, BackupTarget::Project { .. });
    if !project && !matches!(b.target, BackupTarget::Container { .. }) {
        return html! {};
    }
    let networks: Vec<String> = nets
        .ready()
        .map(|l| {
            l.networks
                .iter()
                .filter(|n| n.name != "none")
                .map(|n| n.name.clone())
                .collect()
        })
        .unwrap_or_default();
    html! { <>
        <label class="field">{ if project { "Project name (a new one renames the project's containers, volumes and networks) " } else { "Container name " } }
            <input id="restore-name" value={(*f.name).clone()} oninput={on_text(&f.name)} placeholder={b.target.name().to_owned()} /></label>
        <label class="field">{ if project { "Ports (service:port=host, e.g. web:80/tcp=9090; 80/tcp=9090 for every service publishing it) " } else { "Ports (container=host, e.g. 8080/tcp=9090) " } }
            <input id="restore-ports" value={(*f.ports).clone()} oninput={on_text(&f.ports)} /></label>
        <label class="field">{ "Network " }
            <select id="restore-network" onchange={on_pick(&f.network)}>
                <option value="" selected={f.network.is_empty()}>{ if project { "its own networks (recreated where missing)" } else { "the networks it was on" } }</option>
                { for networks.iter().map(|n| html!{ <option value={n.clone()} selected={*f.network == *n}>{ n }</option> }) }
            </select></label>
        <label class="check"><input type="checkbox" id="restore-start" checked={*f.start} onchange={on_check(&f.start)} />
            { if project { " start the containers that were running" } else { " start after restore" } }</label>
    </> }
}

/// The last conflict check: its error, or its conflicts and what needs approval.
fn preview_view(
    preview: Option<&Result<RestorePreview, ErrorBody>>,
    admin: bool,
    f: &Fields,
) -> Html {
    match preview {
        None => html! {},
        Some(Err(e)) => error_view(e),
        Some(Ok(pv)) => html! { <>
            if pv.conflicts.is_empty() {
                <p class="ok-note" id="restore-no-conflicts">{ "No conflicts: the restore can run." }</p>
            } else {
                <ul class="conflicts" id="restore-conflicts">
                    { for pv.conflicts.iter().map(|c| html!{ <li class={format!("{:?}", c.kind).to_lowercase()}>{ &c.message }</li> }) }
                </ul>
            }
            { f.host_directories(&pv.manifest) }
            { approval_view(pv, admin, f) }
        </> },
    }
}

/// What a restore would grant on the host, and who may approve it: the backup's origin
/// and every host-level setting of its configuration, with the approval box for admins.
fn approval_view(pv: &RestorePreview, admin: bool, f: &Fields) -> Html {
    if pv.needs_approval.is_empty() && pv.overwrites.is_empty() {
        return html! {};
    }
    let foreign = pv.backup.origin == BackupOrigin::Foreign;
    html! {
        <div class="approval" id="restore-approval">
            if foreign {
                <p class="warn" id="restore-foreign">{ "This backup was not written by this Berth (uploaded, or from another installation): its configuration is whatever its author put in it." }</p>
            }
            if !pv.privileges.is_empty() {
                <p>{ "Its configuration reaches onto this host:" }</p>
                <table class="grid" id="restore-privileges">
                    <thead><tr><th>{ "Object" }</th><th>{ "Setting" }</th><th>{ "Value" }</th></tr></thead>
                    <tbody>{ for pv.privileges.iter().map(|p| html!{
                        <tr data-key={p.key.clone()}><td>{ &p.object }</td><td>{ &p.setting }</td><td><code>{ &p.value }</code></td></tr>
                    }) }</tbody>
                </table>
            }
            if !pv.overwrites.is_empty() {
                <p id="restore-overwrites">{ format!("Replaces the contents of: {}", pv.overwrites.join(", ")) }</p>
            }
            if admin {
                if !pv.needs_approval.is_empty() {
                    <label class="check"><input type="checkbox" id="restore-approve" checked={*f.approve} onchange={on_check(&f.approve)} />
                        { " I approve these settings for this restore" }</label>
                }
            } else {
                <p class="error" id="restore-needs-admin">{ "Only an admin can run this restore." }</p>
            }
        </div>
    }
}
