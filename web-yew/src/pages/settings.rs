//! Settings: the server's run-time settings (`server`), where backups go by default
//! (Storage), which events reach which notifier (Notifications), and a backup of
//! Berth's own state. Admins change them; others see the storage default.

mod server;

use std::collections::{BTreeMap, BTreeSet};

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    NotificationsRoutes, NotificationsSetRoutes, StateBackup, StorageList, StorageSetDefault,
};
use berth_protocol::api::plugins::{InstanceRef, NotifyEvent, NotifyRoute, NotifyRoutes};
use berth_protocol::api::system::StateBackupParams;
use berth_protocol::role::Role;
use yew::prelude::*;

use crate::components::{error_view, loaded};
use crate::hooks::{Load, on_text, picked, use_action, use_call};
use crate::ws::use_ws;

#[function_component(SettingsPage)]
pub fn settings_page() -> Html {
    let ctx = use_ws();
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    html! {
        <section class="page" data-page="settings">
            <h1>{ "Settings" }</h1>
            if admin { <server::ServerSettings /> }
            <StorageDefault {admin} />
            { if admin { html!{ <><Routes /><StateBackupCard /></> } } else { html!{
                <p class="muted">{ "Only admins choose which events reach which notifier." }</p>
            } } }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct AdminProps {
    admin: bool,
}

#[function_component(StorageDefault)]
fn storage_default(props: &AdminProps) -> Html {
    let (storage, reload) = use_call::<StorageList>(Empty {});
    let action = use_action(reload);
    let onchange = {
        let action = action.clone();
        Callback::from(move |e: Event| {
            let name = picked(&e);
            action.run(move |ws| async move {
                ws.call_m::<StorageSetDefault>(InstanceRef { name: name.clone() })
                    .await?;
                Ok(format!("Backups now go to {name} by default."))
            });
        })
    };
    let body = loaded(&storage, |l| {
        html! {
            <label class="field">{ "Default storage for backups " }
                <select id="default-storage" disabled={!props.admin} {onchange}>
                { for l.storage.iter().map(|s| html!{
                    <option value={s.name.clone()} selected={s.default}>
                        { format!("{} — {} ({})", s.name, s.location, s.plugin) }</option>
                }) }
                </select>
            </label>
        }
    });
    html! {
        <div class="card" id="settings-storage">
            <h2>{ "Storage" }</h2>
            <p class="muted">{ "Add storage instances on the Plugins page; each backup may still choose another." }</p>
            { body }
            <div id="storage-default-result">{ action.view() }</div>
        </div>
    }
}

#[function_component(Routes)]
fn routes() -> Html {
    let (routes, reload) = use_call::<NotificationsRoutes>(Empty {});
    let action = use_action(reload);
    // Edits not saved yet: instance → events.
    let edits = use_state(BTreeMap::<String, BTreeSet<NotifyEvent>>::new);
    let current = |r: &NotifyRoute| -> BTreeSet<NotifyEvent> {
        edits
            .get(&r.name)
            .cloned()
            .unwrap_or_else(|| r.events.iter().copied().collect())
    };
    let onsave = {
        let (action, edits) = (action.clone(), edits.clone());
        Callback::from(move |_| {
            let routes: Vec<NotifyRoute> = edits
                .iter()
                .map(|(name, events)| NotifyRoute {
                    name: name.clone(),
                    events: events.iter().copied().collect(),
                })
                .collect();
            let edits = edits.clone();
            action.run(move |ws| async move {
                ws.call_m::<NotificationsSetRoutes>(NotifyRoutes { routes })
                    .await?;
                edits.set(BTreeMap::new());
                Ok("Notification routes saved.".to_owned())
            });
        })
    };
    let body = match &routes {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) if l.routes.is_empty() => html! {
            <p class="muted">{ "No notifiers yet: add one on the Plugins page." }</p>
        },
        Load::Ready(l) => html! {
            <>
            <table class="grid" id="routes-table">
                <thead><tr><th>{ "Notifier" }</th>
                    { for NotifyEvent::ALL.iter().map(|e| html!{ <th>{ e.label() }</th> }) }</tr></thead>
                <tbody>
                { for l.routes.iter().map(|r| {
                    let events = current(r);
                    html! {
                    <tr data-name={r.name.clone()}>
                        <td>{ &r.name }</td>
                        { for NotifyEvent::ALL.iter().map(|e| {
                            let onchange = {
                                let (edits, name, events, e) = (edits.clone(), r.name.clone(), events.clone(), *e);
                                Callback::from(move |ev: Event| {
                                    let on = ev.target_unchecked_into::<web_sys::HtmlInputElement>().checked();
                                    let mut set = events.clone();
                                    if on { set.insert(e); } else { set.remove(&e); }
                                    let mut all = (*edits).clone();
                                    all.insert(name.clone(), set);
                                    edits.set(all);
                                })
                            };
                            html!{ <td><input type="checkbox" data-event={e.as_str()}
                                checked={events.contains(e)} {onchange} /></td> }
                        }) }
                    </tr>
                    }
                }) }
                </tbody>
            </table>
            <button id="routes-save" disabled={edits.is_empty()} onclick={onsave}>{ "Save" }</button>
            </>
        },
    };
    html! {
        <div class="card" id="settings-notifications">
            <h2>{ "Notifications" }</h2>
            <p class="muted">{ "Which events each notifier receives. New notifiers get the failures." }</p>
            { body }
            <div id="routes-result">{ action.view() }</div>
        </div>
    }
}

/// Berth's own state to a storage instance (`state.backup`), sealed with a passphrase
/// the admin types here and keeps elsewhere.
#[function_component(StateBackupCard)]
fn state_backup_card() -> Html {
    let (storage, reload) = use_call::<StorageList>(Empty {});
    let action = use_action(reload);
    let target = use_state(|| None::<String>);
    let passphrase = use_state(String::new);
    let onsubmit = {
        let (action, target, passphrase) = (action.clone(), target.clone(), passphrase.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let params = StateBackupParams {
                storage: (*target).clone(),
                passphrase: (*passphrase).clone(),
            };
            action.run(move |ws| async move {
                let written = ws.call_m::<StateBackup>(params).await?;
                let job = written
                    .job
                    .map(|j| format!(" Job {j} on the Jobs page."))
                    .unwrap_or_default();
                Ok(format!(
                    "Saved to {} as {} ({}).{job}",
                    written.storage,
                    written.key,
                    crate::format::bytes(written.size)
                ))
            });
        })
    };
    let choices = loaded(&storage, |l| {
        let onchange = {
            let target = target.clone();
            Callback::from(move |e: Event| target.set(Some(picked(&e))))
        };
        html! {
            <label class="field">{ "Storage " }
                <select id="state-storage" {onchange}>
                { for l.storage.iter().map(|s| html!{
                    <option value={s.name.clone()}
                        selected={target.as_deref().map_or(s.default, |t| t == s.name)}>
                        { format!("{} — {}", s.name, s.location) }</option>
                }) }
                </select>
            </label>
        }
    });
    html! {
        <div class="card" id="settings-state">
            <h2>{ "Berth's own state" }</h2>
            <p class="muted">{ "Users, tokens, schedules, plugin instances, the backup catalogue, installed plugins, stacks and the key that unseals their secrets — in one encrypted object. Restore it on a new machine with `berth state restore`. Keep the passphrase somewhere else. To make one regularly, create a schedule whose action is \"back up Berth's own state\" on the Schedules page." }</p>
            <form id="state-form" {onsubmit}>
                { choices }
                <label class="field">{ "Passphrase (12+ characters) " }
                    <input id="state-passphrase" type="password" autocomplete="new-password"
                        value={(*passphrase).clone()} oninput={on_text(&passphrase)} />
                </label>
                <button type="submit" disabled={action.busy()}>{ "Back up Berth's state" }</button>
            </form>
            <div id="state-result">{ action.view() }</div>
        </div>
    }
}
