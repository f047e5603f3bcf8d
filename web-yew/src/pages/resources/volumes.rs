//! Volumes with sizes and users; browse (operators), create and remove (admins, unused
//! only, one or several at once). Sizes are the engine's measurement (`system.df`, which walks every volume):
//! taken when the page opens unless one is under a minute old, and again on demand.

use std::collections::{BTreeMap, BTreeSet};

use berth_protocol::api::catalogue::{SystemDf, VolumesBulkRemove, VolumesList, VolumesRemove};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::system::DfParams;
use berth_protocol::api::volumes::{BulkRemoveVolumes, RemoveVolume, VolumeSummary};
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use super::create::VolumeCreateForm;
use super::{Removed, remove};
use crate::components::{Question, bulk_outcome, error_view, loaded, moment_text, run_confirmed};
use crate::format::signed_bytes;
use crate::hooks::{Action, BusyRows, Load, busy_badge, use_action, use_busy_rows, use_call};
use crate::route::Route;
use crate::ws::use_ws;

#[function_component(VolumesPage)]
pub fn volumes_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<VolumesList>(HostOnly::default());
    let (df, reload_df) = use_call::<SystemDf>(DfParams::default());
    let action = use_action(reload);
    let busy = use_busy_rows();
    let sizes = df
        .ready()
        .map(|d| d.volume_sizes.clone())
        .unwrap_or_default();
    let admin = ctx.user().is_some_and(|u| u.role.allows(Role::Admin));
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    let selected = use_state(BTreeSet::<String>::new);
    let onbulk = {
        let (action, busy, selected) = (action.clone(), busy.clone(), selected.clone());
        Callback::from(move |_: MouseEvent| remove_selected((&action, &busy), &selected))
    };
    let rows = Rows {
        sizes: &sizes,
        action: &action,
        busy: &busy,
        operator,
        admin,
        selected: &selected,
    };
    html! {
        <section class="page" data-page="volumes">
            <h1>{ "Volumes" }</h1>
            if operator { <p class="muted">{ "Pick a volume to browse its files and download them." }</p> }
            { action.view() }
            if admin { <VolumeCreateForm action={action.clone()} /> }
            <Measured df={df.clone()} reload={reload_df} />
            if admin && !selected.is_empty() {
                <div class="bulk sticky-bar" id="volumes-bulk-bar">{ format!("{} selected: ", selected.len()) }
                    <button class="small danger" id="volumes-bulk-remove" onclick={onbulk}>{ "Remove" }</button></div>
            }
            { loaded(&list, |l| html! {
                <table class="grid" id="volumes-table">
                    <thead><tr>if admin { <th></th> }<th>{ "Name" }</th><th>{ "Driver" }</th><th>{ "Size" }</th><th>{ "Used by" }</th><th></th></tr></thead>
                    <tbody>{ for l.volumes.iter().map(|v| rows.row(v)) }</tbody>
                </table>
            }) }
        </section>
    }
}

#[derive(PartialEq, Properties)]
struct MeasuredProps {
    df: Load<berth_protocol::api::system::SystemDf>,
    reload: Callback<()>,
}

/// When the sizes were measured (or why they could not be), and a button to measure
/// again.
#[function_component(Measured)]
fn measured(props: &MeasuredProps) -> Html {
    let action = use_action(props.reload.clone());
    let measure = {
        let action = action.clone();
        Callback::from(move |_| {
            action.run(|ws| async move {
                let params = DfParams {
                    host: None,
                    refresh: true,
                };
                let df = ws.call_m::<SystemDf>(params).await?;
                Ok(format!("Measured {} volumes", df.volume_sizes.len()))
            });
        })
    };
    let status = match &props.df {
        Load::Ready(d) => match (&d.volumes_measured, &d.volumes_error) {
            (_, Some(e)) => {
                html! { <span class="error">{ format!("Sizes unavailable: {e}") }</span> }
            }
            (Some(at), None) => {
                html! { <span class="muted">{ "Sizes measured " }{ moment_text(at) }</span> }
            }
            (None, None) => html! {},
        },
        Load::Loading => html! { <span class="muted">{ "Measuring sizes…" }</span> },
        Load::Failed(e) => error_view(e),
    };
    html! {
        <p class="toolbar" id="volume-sizes">
            { status }{ " " }
            <button class="small" id="volumes-measure" disabled={action.busy()} onclick={measure}>
                { if action.busy() { "Measuring…" } else { "Measure again" } }</button>
        </p>
    }
}

/// What every row needs: the sizes, the page's action, the caller's powers and the
/// selection for a bulk removal.
struct Rows<'a> {
    sizes: &'a BTreeMap<String, i64>,
    action: &'a Action,
    busy: &'a BusyRows,
    operator: bool,
    admin: bool,
    selected: &'a UseStateHandle<BTreeSet<String>>,
}

impl Rows<'_> {
    fn row(&self, v: &VolumeSummary) -> Html {
        let onremove = {
            let (action, busy) = (self.action.clone(), self.busy.clone());
            let p = RemoveVolume {
                host: None,
                name: v.name.clone(),
            };
            Callback::from(move |_| {
                let removed = Removed {
                    busy: busy.clone(),
                    key: p.name.clone(),
                    label: p.name.clone(),
                };
                remove::<VolumesRemove>(&action, removed, p.clone());
            })
        };
        let ontoggle = {
            let (selected, name) = (self.selected.clone(), v.name.clone());
            Callback::from(move |_: MouseEvent| {
                let mut now = (*selected).clone();
                if !now.remove(&name) {
                    now.insert(name.clone());
                }
                selected.set(now);
            })
        };
        let doing = self.busy.of(&v.name);
        let removable = self.admin && v.used_by.is_empty() && doing.is_none();
        html! {
            <tr data-name={v.name.clone()}>
                if self.admin {
                    <td><input type="checkbox" class="select" aria-label={format!("Select {}", v.name)}
                        checked={self.selected.contains(&v.name)} disabled={!removable} onclick={ontoggle} /></td>
                }
                <td class="mono">
                    if self.operator {
                        <Link<Route> to={Route::VolumeFiles { name: v.name.clone() }} classes="browse">{ &v.name }</Link<Route>>
                    } else { { &v.name } }
                    if v.anonymous { <span class="badge">{ "anonymous" }</span> }</td>
                <td>{ &v.driver }</td>
                <td class="size">{ self.sizes.get(&v.name).copied().or(v.size).map_or_else(|| "—".to_owned(), signed_bytes) }</td>
                <td>if v.used_by.is_empty() { <span class="muted">{ "unused" }</span> } else {
                    { for v.used_by.iter().enumerate().map(|(i, name)| html! {
                        <>{ if i > 0 { ", " } else { "" } }
                        <Link<Route> to={Route::Container { id: name.clone() }} classes="used-by">{ name }</Link<Route>></>
                    }) }
                }</td>
                <td>if let Some(doing) = doing { { busy_badge(doing) } }
                    else if removable { <button class="small danger" onclick={onremove}>{ "Remove" }</button> }</td>
            </tr>
        }
    }
}

/// Removes the selected volumes after a question (several: the word typed first);
/// the outcome names each one Docker refused.
fn remove_selected(
    (action, busy): (&Action, &BusyRows),
    selected: &UseStateHandle<BTreeSet<String>>,
) {
    let names: Vec<String> = selected.iter().cloned().collect();
    let mut question = Question::new(format!("Remove {}?", names.join(", ")), "Remove")
        .detail("Their data is deleted. This cannot be undone.")
        .danger();
    if names.len() > 1 {
        question = question.type_to_confirm("remove");
    }
    let (busy, selected) = (busy.clone(), selected.clone());
    run_confirmed(action, question, move |ws| async move {
        let request = BulkRemoveVolumes {
            host: None,
            names: names.clone(),
        };
        let r = busy
            .during(&names, "removing", ws.call_m::<VolumesBulkRemove>(request))
            .await?;
        selected.set(BTreeSet::new());
        bulk_outcome(&r, &names, format!("Removed {}.", names.join(", ")))
    });
}
