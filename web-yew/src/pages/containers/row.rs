//! One row of the containers list as its own component: with 500 containers, an event
//! or a stats redraw re-renders only the rows whose container, figures, selection or
//! pending action changed — Yew skips a component whose props are equal, where a
//! plain `html!` row is diffed every time.

use berth_protocol::api::containers::{BulkVerb, ContainerSummary};
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{Run, Select, Selection, actions_for, verb_label, verb_slug};
use crate::format::bytes;
use crate::hooks::busy_badge;
use crate::route::Route;

#[derive(Properties, Clone)]
pub(super) struct RowProps {
    pub container: ContainerSummary,
    /// CPU %, memory in use and its limit, while it runs and once sampled.
    pub usage: Option<(f64, u64, u64)>,
    pub selected: bool,
    /// The action under way on it ("stopping").
    pub pending: Option<&'static str>,
    pub role: Role,
    pub run: Run,
    pub select: UseReducerDispatcher<Selection>,
}

/// Everything the row shows. The callbacks are left out: the page makes new ones
/// each render, but they only dispatch and set state, so an older one does the same.
impl PartialEq for RowProps {
    fn eq(&self, other: &Self) -> bool {
        self.container == other.container
            && self.usage == other.usage
            && self.selected == other.selected
            && self.pending == other.pending
            && self.role == other.role
    }
}

/// CPU and memory of a running container (blank until its first sample).
fn usage_cells(usage: Option<(f64, u64, u64)>) -> Html {
    match usage {
        Some((cpu, mem, limit)) => html! { <>
            <td class="cpu">{ format!("{cpu:.1} %") }</td>
            <td class="mem" title={format!("of {}", bytes(limit))}>{ bytes(mem) }</td>
        </> },
        None => html! { <><td class="cpu"></td><td class="mem"></td></> },
    }
}

#[function_component(ContainerRow)]
pub(super) fn container_row(props: &RowProps) -> Html {
    let c = &props.container;
    let can_act = props.role.allows(Role::Operator);
    let busy = props.pending.is_some();
    let ontoggle = {
        let (select, id) = (props.select.clone(), c.id.clone());
        Callback::from(move |_| select.dispatch(Select::Toggle(id.clone())))
    };
    let ports = c
        .ports
        .iter()
        .map(|p| match p.public {
            Some(public) => format!("{public}→{}/{}", p.private, p.proto),
            None => format!("{}/{}", p.private, p.proto),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let button = |v: BulkVerb, class: Option<&'static str>| {
        let (run, id, name) = (props.run.clone(), c.id.clone(), c.name.clone());
        let onclick = Callback::from(move |_| run.emit((v, vec![id.clone()], vec![name.clone()])));
        html! { <button class={classes!("small", class, format!("act-{}", verb_slug(v)))} {onclick}>{ verb_label(v) }</button> }
    };
    html! {
        <tr data-name={c.name.clone()} data-id={c.id.clone()}>
            <td><input type="checkbox" class="select" aria-label={format!("Select {}", c.name)} checked={props.selected} onclick={ontoggle} disabled={!can_act} /></td>
            <td class="name"><Link<Route> to={Route::Container { id: c.id.clone() }} classes="open">{ &c.name }</Link<Route>>
                if c.protected { <span class="badge">{ "Berth" }</span> }</td>
            <td>if let Some(doing) = props.pending {
                    { busy_badge(doing) }
                } else {
                    <span class={classes!("state", c.state.clone())}>{ &c.state }</span>
                }
                if let Some(h) = &c.health { <span class={classes!("badge", h.clone())}>{ h }</span> }</td>
            { usage_cells(props.usage) }
            <td class="image">{ &c.image }</td>
            <td>{ ports }</td>
            <td class="status">{ &c.status }</td>
            <td class="actions">
                if can_act && !c.protected && !busy { { for actions_for(&c.state).iter().map(|&v| button(v, None)) } }
                if props.role.allows(Role::Admin) && !c.protected && !busy { { button(BulkVerb::Remove, Some("danger")) } }
            </td>
        </tr>
    }
}
