//! The catalog's table: one row per backup with what an operator may do to it.

use berth_protocol::api::backups::{
    BackupEntry, BackupOrigin, BackupRef, BackupStatus, CopyBackup, Trigger, VerifyBackup,
};
use berth_protocol::api::catalogue::{BackupsCopy, BackupsDownloadTicket, BackupsVerify};
use yew::prelude::*;

use super::vault::delete_backups;
use crate::components::moment;
use crate::components::{Question, after_prompt, start_download};
use crate::format::bytes;
use crate::hooks::{Action, on_pick, use_text};

#[derive(Properties, PartialEq)]
pub struct TableProps {
    pub backups: Vec<BackupEntry>,
    pub selected: UseStateHandle<Vec<String>>,
    pub action: Action,
    pub on_restore: Callback<BackupEntry>,
    pub operator: bool,
    pub admin: bool,
    /// Every storage instance, for "Copy to".
    pub storages: Vec<String>,
}

#[function_component(BackupsTable)]
pub fn backups_table(props: &TableProps) -> Html {
    let on_select = {
        let selected = props.selected.clone();
        Callback::from(move |id: String| {
            let mut ids = (*selected).clone();
            match ids.iter().position(|x| *x == id) {
                Some(i) => drop(ids.remove(i)),
                None => ids.push(id),
            }
            selected.set(ids);
        })
    };
    html! {
        <table class="grid" id="backups-table">
            <thead><tr><th></th><th>{ "Target" }</th><th>{ "Created" }</th><th>{ "Type" }</th><th>{ "Size" }</th>
                <th>{ "Storage" }</th><th>{ "Encrypted" }</th><th>{ "Status" }</th><th></th></tr></thead>
            <tbody>
            { for props.backups.iter().map(|b| html! {
                <BackupRow key={b.id.clone()} backup={b.clone()} selected={props.selected.contains(&b.id)}
                    on_select={on_select.clone()} on_restore={props.on_restore.clone()}
                    action={props.action.clone()} operator={props.operator} admin={props.admin}
                    storages={props.storages.clone()} />
            }) }
            </tbody>
        </table>
    }
}

#[derive(Properties, PartialEq)]
struct RowProps {
    backup: BackupEntry,
    selected: bool,
    on_select: Callback<String>,
    on_restore: Callback<BackupEntry>,
    action: Action,
    operator: bool,
    admin: bool,
    storages: Vec<String>,
}

#[function_component(BackupRow)]
fn backup_row(props: &RowProps) -> Html {
    let b = &props.backup;
    let complete = b.status == BackupStatus::Complete;
    let emit = |cb: &Callback<BackupEntry>| {
        let (cb, b) = (cb.clone(), b.clone());
        Callback::from(move |_| cb.emit(b.clone()))
    };
    let with_action = |f: fn(&Action, &BackupEntry)| {
        let (action, b) = (props.action.clone(), b.clone());
        Callback::from(move |_| f(&action, &b))
    };
    let select = {
        let (on_select, id) = (props.on_select.clone(), b.id.clone());
        Callback::from(move |_| on_select.emit(id.clone()))
    };
    html! {
        <tr data-id={b.id.clone()} data-target={b.target.name().to_owned()}>
            <td>if props.operator { <input type="checkbox" class="select" aria-label={format!("Select the backup of {}", b.target.name())} checked={props.selected} onchange={select} /> }</td>
            <td><span class="badge">{ b.target.kind() }</span>{ " " }<span class="mono">{ b.target.name() }</span>
                if b.origin == BackupOrigin::Foreign {
                    { " " }<span class="badge warn foreign" title="Not written by this Berth: restoring it needs an admin's approval">{ "foreign" }</span>
                }</td>
            <td>{ moment(b.created_ms) }</td>
            <td>{ match b.trigger { Trigger::Manual => "manual", Trigger::Scheduled => "scheduled" } }</td>
            <td>{ bytes(b.size) }</td>
            <td class="storages">{ b.storages().collect::<Vec<_>>().join(" + ") }</td>
            <td>{ if b.encrypted { "yes" } else { "no" } }</td>
            <td class={classes!("status", if complete { "complete" } else { "pending" })}>
                { if complete { "complete" } else { "pending" } }</td>
            <td class="actions">
                if props.operator && complete {
                    <button class="small restore" onclick={emit(&props.on_restore)}>{ "Restore…" }</button>
                    <button class="small verify" onclick={with_action(verify)}>{ "Verify" }</button>
                    <button class="small download" onclick={with_action(download)}>{ "Download" }</button>
                    <CopyTo backup={b.clone()} storages={props.storages.clone()} action={props.action.clone()} />
                }
                if props.admin {
                    <button class="small danger delete" onclick={with_action(|a, b| delete_backups(a, vec![b.id.clone()]))}>{ "Delete" }</button>
                }
            </td>
        </tr>
    }
}

#[derive(Properties, PartialEq)]
struct CopyToProps {
    backup: BackupEntry,
    storages: Vec<String>,
    action: Action,
}

/// "Copy to": the storages the backup is not on yet, and a button queuing the copy.
#[function_component(CopyTo)]
fn copy_to(props: &CopyToProps) -> Html {
    let target = use_text();
    let others: Vec<&String> = props
        .storages
        .iter()
        .filter(|s| !props.backup.storages().any(|on| on == s.as_str()))
        .collect();
    if others.is_empty() {
        return html! {};
    }
    let copy = {
        let (action, id, target) = (
            props.action.clone(),
            props.backup.id.clone(),
            target.clone(),
        );
        Callback::from(move |_| {
            let (id, storage) = (id.clone(), (*target).clone());
            action.run(move |ws| async move {
                let job = ws.call_m::<BackupsCopy>(CopyBackup { id, storage }).await?;
                Ok(format!("Copy queued (job {}).", job.id))
            });
        })
    };
    html! {
        <span class="copy-to">
            <select class="copy-target" onchange={on_pick(&target)} title="Another storage to keep this backup on">
                <option value="" selected={target.is_empty()}>{ "Copy to…" }</option>
                { for others.iter().map(|n| html! { <option value={(*n).clone()} selected={*target == **n}>{ n }</option> }) }
            </select>
            <button class="small copy" disabled={target.is_empty()} onclick={copy}>{ "Copy" }</button>
        </span>
    }
}

/// Queues a verification (asking for the passphrase of an encrypted backup).
fn verify(action: &Action, b: &BackupEntry) {
    let id = b.id.clone();
    let action = action.clone();
    let run = move |passphrase: Option<String>| {
        action.run(move |ws| async move {
            let job = ws
                .call_m::<BackupsVerify>(VerifyBackup { id, passphrase })
                .await?;
            Ok(format!("Verification queued (job {}).", job.id))
        });
    };
    if b.encrypted {
        let question = Question::new("Verify this encrypted backup?", "Verify")
            .detail("Berth reads it back whole and checks every volume against its checksums.")
            .secret_field("Passphrase of this backup");
        after_prompt(question, move |p| run(Some(p)));
    } else {
        run(None);
    }
}

/// Downloads the backup as stored.
fn download(action: &Action, b: &BackupEntry) {
    let id = b.id.clone();
    action.spawn(move |ws, action| async move {
        match ws.call_m::<BackupsDownloadTicket>(BackupRef { id }).await {
            Ok(t) => start_download(&action, &t.filename, &t.url),
            Err(e) => action.fail(e),
        }
    });
}
