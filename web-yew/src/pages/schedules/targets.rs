//! A schedule's explicit targets as rows (kind and name, names offered from the
//! host's containers and compose projects), added and removed in place.

use berth_protocol::api::backups::BackupTarget;
use berth_protocol::api::catalogue::ContainersList;
use berth_protocol::api::hosts::HostOnly;
use yew::prelude::*;

use crate::hooks::{picked, use_call};

const KINDS: [&str; 4] = ["container", "project", "volume", "network"];

/// A row as a target; a row without a name is none.
pub fn target(kind: &str, name: &str) -> Option<BackupTarget> {
    let name = name.trim().to_owned();
    match kind {
        _ if name.is_empty() => None,
        "project" => Some(BackupTarget::Project { name }),
        "volume" => Some(BackupTarget::Volume { name }),
        "network" => Some(BackupTarget::Network { name }),
        _ => Some(BackupTarget::Container { name }),
    }
}

#[derive(Properties, PartialEq)]
pub struct RowsProps {
    /// (kind, name) per row.
    pub rows: UseStateHandle<Vec<(String, String)>>,
}

/// One row per target, always one empty row to type into.
#[function_component(TargetRows)]
pub fn target_rows(props: &RowsProps) -> Html {
    let (list, _) = use_call::<ContainersList>(HostOnly::default());
    let mut rows = (*props.rows).clone();
    if rows.last().is_none_or(|(_, name)| !name.is_empty()) {
        rows.push(("container".into(), String::new()));
    }
    let names: Vec<String> = list
        .ready()
        .map(|l| {
            let stacks = l.groups.iter().filter_map(|g| g.stack.clone());
            let containers = l.groups.iter().flat_map(|g| &g.containers);
            stacks.chain(containers.map(|c| c.name.clone())).collect()
        })
        .unwrap_or_default();
    let edit = |i: usize, column: usize| {
        let (handle, rows) = (props.rows.clone(), rows.clone());
        Callback::from(move |e: Event| {
            let mut rows = rows.clone();
            let value = picked(&e);
            if column == 0 {
                rows[i].0 = value;
            } else if value.trim().is_empty() {
                // A name cleared: the row goes.
                rows.remove(i);
            } else {
                rows[i].1 = value;
            }
            handle.set(rows);
        })
    };
    html! {
        <div id="schedule-target-rows">
            <datalist id="schedule-target-names">
                { for names.iter().map(|n| html! { <option value={n.clone()} /> }) }
            </datalist>
            { for rows.iter().enumerate().map(|(i, (kind, name))| html! {
                <div class="form-row schedule-target-row">
                    <select id={format!("schedule-kind-{i}")} aria-label="Kind of target" onchange={edit(i, 0)}>
                        { for KINDS.iter().map(|k| html! { <option value={*k} selected={kind == k}>{ *k }</option> }) }
                    </select>
                    <input id={format!("schedule-target-{i}")} aria-label="Target name" list="schedule-target-names" value={name.clone()}
                        onchange={edit(i, 1)} placeholder="name (empty: none)" />
                </div>
            }) }
        </div>
    }
}
