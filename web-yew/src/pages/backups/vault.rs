//! The backups page: the toolbar (filter, rebuild the catalog, bulk download and
//! delete), the upload zone, the project chooser, the restore form and the table.

use berth_protocol::api::Empty;
use berth_protocol::api::backups::{
    BackupEntry, BackupQuery, BulkDeleteBackups, BundleBackups, RescanStorage, Trigger,
};
use berth_protocol::api::catalogue::{
    BackupsBulkDelete, BackupsBundleTicket, BackupsList, BackupsRescan, StorageList,
};
use berth_protocol::api::containers::BulkResult;
use berth_protocol::role::Role;
use yew::prelude::*;

use super::restore::RestoreForm;
use super::table::BackupsTable;
use super::upload::UploadPanel;
use crate::components::{
    ProjectBackup, Question, after_prompt, loaded, run_confirmed, start_download,
};
use crate::format::given;
use crate::hooks::{Action, on_pick, on_text, use_action, use_call, use_text};
use crate::ws::use_ws;

#[function_component(BackupsPage)]
pub fn backups_page() -> Html {
    let ctx = use_ws();
    let query = use_state(BackupQuery::default);
    let (list, reload) = use_call::<BackupsList>((*query).clone());
    let action = use_action(reload.clone());
    let restoring = use_state(|| None::<BackupEntry>);
    let selected = use_state(Vec::<String>::new);
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    let (stores, _) = use_call::<StorageList>(Empty {});
    let storages: Vec<String> = stores
        .ready()
        .map(|l| l.storage.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let on_filter = {
        let query = query.clone();
        Callback::from(move |q| query.set(q))
    };
    let on_restore = {
        let restoring = restoring.clone();
        Callback::from(move |b| restoring.set(Some(b)))
    };
    let close = {
        let restoring = restoring.clone();
        Callback::from(move |()| restoring.set(None))
    };
    let table = loaded(&list, |l| {
        if l.backups.is_empty() {
            html! {
                <p class="notice" id="backups-empty">{ "No backups yet. Use “Back up now” on a container or volume page." }</p>
            }
        } else {
            html! { <BackupsTable backups={l.backups.clone()} selected={selected.clone()}
            action={action.clone()} {on_restore} {operator} {admin} storages={storages.clone()} /> }
        }
    });
    html! {
        <section class="page" data-page="backups">
            <h1>{ "Backups" }</h1>
            <Toolbar storages={storages.clone()} selected={selected.clone()} action={action.clone()}
                {on_filter} {operator} {admin} />
            <div id="backups-result">{ action.view() }</div>
            if operator {
                <UploadPanel {storages} onchange={reload} />
                <ProjectBackup />
            }
            if let Some(b) = &*restoring {
                <RestoreForm backup={b.clone()} {close} />
            }
            { table }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ToolbarProps {
    storages: Vec<String>,
    selected: UseStateHandle<Vec<String>>,
    action: Action,
    on_filter: Callback<BackupQuery>,
    operator: bool,
    admin: bool,
}

/// The filter and what applies to the whole catalog or the selection.
#[function_component(Toolbar)]
fn toolbar(props: &ToolbarProps) -> Html {
    let (target, trigger, storage) = (use_text(), use_text(), use_text());
    let filter = {
        let (target, trigger, storage) = (target.clone(), trigger.clone(), storage.clone());
        let on_filter = props.on_filter.clone();
        Callback::from(move |_| {
            on_filter.emit(BackupQuery {
                target: given(&target),
                storage: given(&storage),
                trigger: match trigger.as_str() {
                    "manual" => Some(Trigger::Manual),
                    "scheduled" => Some(Trigger::Scheduled),
                    _ => None,
                },
            });
        })
    };
    let rescan = {
        let (action, storage) = (props.action.clone(), storage.clone());
        Callback::from(move |_| rescan(&action, given(&storage)))
    };
    let bundle = {
        let (action, selected) = (props.action.clone(), props.selected.clone());
        Callback::from(move |_| download_bundle(&action, (*selected).clone()))
    };
    let bulk_delete = {
        let (action, selected) = (props.action.clone(), props.selected.clone());
        Callback::from(move |_| {
            delete_backups(&action, (*selected).clone());
            selected.set(Vec::new());
        })
    };
    let count = props.selected.len();
    html! {
        <div class="toolbar sticky-bar" id="backups-toolbar">
            <input id="backups-filter" aria-label="Target name" placeholder="target name" value={(*target).clone()} oninput={on_text(&target)} />
            // Every option says whether it is the chosen one: a select whose options
            // are all `selected=false` shows whichever the browser last set, so a
            // Filter pressed with nothing changed could filter on the last option.
            <select id="backups-trigger" aria-label="Trigger" onchange={on_pick(&trigger)}>
                { for [("", "any type"), ("manual", "manual"), ("scheduled", "scheduled")].iter().map(|(v, label)| html!{
                    <option value={*v} selected={trigger.as_str() == *v}>{ *label }</option>
                }) }
            </select>
            <select id="backups-storage" aria-label="Storage" onchange={on_pick(&storage)}>
                <option value="" selected={storage.is_empty()}>{ "any storage" }</option>
                { for props.storages.iter().map(|n| html!{ <option value={n.clone()} selected={*storage == *n}>{ n }</option> }) }
            </select>
            <button id="backups-filter-apply" onclick={filter}>{ "Filter" }</button>
            if props.operator {
                <button id="backups-rescan" onclick={rescan}
                    title="Add the backups found in the chosen storage (or the default one) that the catalog does not list">
                    { "Rebuild catalog from storage" }</button>
                <button id="backups-bulk-download" disabled={count == 0} onclick={bundle}>
                    { format!("Download selected ({count})") }</button>
            }
            if props.admin {
                <button class="danger" id="backups-bulk-delete" disabled={count == 0} onclick={bulk_delete}>
                    { format!("Delete selected ({count})") }</button>
            }
        </div>
    }
}

/// Queues a catalog rebuild from `storage` (the default one when `None`).
fn rescan(action: &Action, storage: Option<String>) {
    // Encrypted objects need their passphrase; without one they are reported.
    let question = Question::new("Rebuild the catalog from this storage?", "Rescan")
        .detail("Berth reads every backup in the storage and adds those it does not list yet; nothing is deleted.")
        .secret_field("Passphrase for encrypted backups (leave empty to skip them)");
    let action = action.clone();
    after_prompt(question, move |passphrase| {
        let passphrase = Some(passphrase).filter(|p| !p.is_empty());
        action.run(move |ws| async move {
            let job = ws
                .call_m::<BackupsRescan>(RescanStorage {
                    storage,
                    passphrase,
                })
                .await?;
            Ok(format!(
                "Catalog rebuild queued (job {}); its log on the Jobs page says what was added.",
                job.id
            ))
        });
    });
}

/// Downloads the chosen backups as one file.
fn download_bundle(action: &Action, ids: Vec<String>) {
    action.spawn(move |ws, action| async move {
        match ws
            .call_m::<BackupsBundleTicket>(BundleBackups { ids })
            .await
        {
            Ok(t) => start_download(&action, &t.filename, &t.url),
            Err(e) => action.fail(e),
        }
    });
}

/// Deletes backups after a confirmation, then says which could not be deleted.
pub fn delete_backups(action: &Action, ids: Vec<String>) {
    if ids.is_empty() {
        return;
    }
    let mut question = Question::new(format!("Delete {} backup(s)?", ids.len()), "Delete")
        .detail("They are removed from storage and the catalog. This cannot be undone.")
        .danger();
    if ids.len() > 1 {
        question = question.type_to_confirm("delete");
    }
    run_confirmed(action, question, move |ws| async move {
        let r = ws
            .call_m::<BackupsBulkDelete>(BulkDeleteBackups { ids })
            .await?;
        Ok(deleted_sentence(&r))
    });
}

fn deleted_sentence(r: &BulkResult) -> String {
    let failed: Vec<String> = r
        .results
        .iter()
        .filter(|i| !i.ok)
        .map(|i| {
            let why = i.error.as_ref().map_or("failed", |e| e.message.as_str());
            format!("{}: {why}", i.id)
        })
        .collect();
    let done = r.results.len() - failed.len();
    if failed.is_empty() {
        format!("Deleted {done} backup(s).")
    } else {
        format!(
            "Deleted {done} backup(s); not deleted: {}",
            failed.join("; ")
        )
    }
}
