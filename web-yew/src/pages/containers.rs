//! Containers: every container grouped by compose project, its state kept current by
//! the `events` channel (an event triggers one `containers.list`; nothing polls),
//! filter, lifecycle actions per row and for a selection, confirmations before
//! destructive ones, and an outcome line for each action.

use std::collections::{BTreeSet, HashMap};

use berth_protocol::api::backups::{BackupTarget, CreateBackup};
use berth_protocol::api::catalogue::{BackupsCreate, ContainersBulk, ContainersList};
use berth_protocol::api::containers::{
    BulkAction, BulkVerb, ContainerGroup, ContainerList, ContainerSummary,
};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::sort::sort_header;
use crate::components::{Question, after_confirm, bulk_outcome, loaded, run_confirmed};
mod row;
mod window;

use crate::hooks::{Action, BusyRows, use_action, use_busy_rows, use_call};
use crate::route::Route;
use crate::ws::use_ws;
use row::ContainerRow;
use window::{Bodies, Slice, use_viewport};

pub(crate) fn verb_label(v: BulkVerb) -> &'static str {
    match v {
        BulkVerb::Start => "Start",
        BulkVerb::Stop => "Stop",
        BulkVerb::Restart => "Restart",
        BulkVerb::Kill => "Kill",
        BulkVerb::Pause => "Pause",
        BulkVerb::Unpause => "Unpause",
        BulkVerb::Remove => "Remove",
    }
}

/// A verb under way, as a row shows it ("stopping…").
pub(crate) fn verb_progressive(v: BulkVerb) -> &'static str {
    match v {
        BulkVerb::Start => "starting",
        BulkVerb::Stop => "stopping",
        BulkVerb::Restart => "restarting",
        BulkVerb::Kill => "killing",
        BulkVerb::Pause => "pausing",
        BulkVerb::Unpause => "resuming",
        BulkVerb::Remove => "removing",
    }
}

/// What a verb that stops or deletes something does, said before it runs; `None`
/// for the verbs that need no confirmation.
pub(crate) fn verb_consequence(v: BulkVerb) -> Option<&'static str> {
    match v {
        BulkVerb::Stop => Some(
            "Its processes get SIGTERM, then SIGKILL if they have not exited within the stop timeout.",
        ),
        BulkVerb::Kill => {
            Some("Its processes are killed at once (SIGKILL), with no chance to shut down cleanly.")
        }
        BulkVerb::Remove => Some(
            "The container is deleted, stopped first if it runs. Named volumes stay; its own writable layer is lost.",
        ),
        _ => None,
    }
}

pub(crate) fn verb_slug(v: BulkVerb) -> &'static str {
    match v {
        BulkVerb::Start => "start",
        BulkVerb::Stop => "stop",
        BulkVerb::Restart => "restart",
        BulkVerb::Kill => "kill",
        BulkVerb::Pause => "pause",
        BulkVerb::Unpause => "unpause",
        BulkVerb::Remove => "remove",
    }
}

/// The actions that make sense in a state.
pub(crate) fn actions_for(state: &str) -> &'static [BulkVerb] {
    match state {
        "running" => &[
            BulkVerb::Stop,
            BulkVerb::Restart,
            BulkVerb::Pause,
            BulkVerb::Kill,
        ],
        "paused" => &[BulkVerb::Unpause, BulkVerb::Kill],
        "restarting" => &[BulkVerb::Stop, BulkVerb::Kill],
        _ => &[BulkVerb::Start],
    }
}

/// `/containers?network=…&names=a,b`: the Networks page's "show containers" jump.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkFilter {
    pub network: String,
    /// Comma-separated container names.
    pub names: String,
}

impl NetworkFilter {
    fn admits(&self, c: &ContainerSummary) -> bool {
        self.names.split(',').any(|n| n == c.name)
    }
}

fn matches(c: &ContainerSummary, q: &str) -> bool {
    q.is_empty()
        || c.name.to_lowercase().contains(q)
        || c.image.to_lowercase().contains(q)
        || c.state.contains(q)
        || c.stack
            .as_deref()
            .is_some_and(|s| s.to_lowercase().contains(q))
}

/// A lifecycle verb on some containers: (verb, ids, names for the messages).
type Run = Callback<(BulkVerb, Vec<String>, Vec<String>)>;

/// How long container events may keep coming before the list is fetched again.
const EVENTS_SETTLE_MS: i32 = 150;
/// CPU % and memory (in use, limit) per running container, by id.
type Usage = HashMap<String, (f64, u64, u64)>;

/// Every running container's CPU and memory, redrawn at most once a second.
#[hook]
fn use_usage() -> Usage {
    let samples = crate::stats_feed::use_stats_feed();
    let samples = samples.borrow();
    samples
        .iter()
        .map(|(id, s)| {
            let figures = (s.last.cpu_percent, s.last.mem_bytes, s.last.mem_limit);
            (id.clone(), figures)
        })
        .collect()
}

/// Any container event: refetch once. The list call is the source of truth (health,
/// ports, status text), the event only says when to ask.
#[hook]
fn use_container_events(reload: Callback<()>) {
    let ctx = use_ws();
    use_effect_with((), move |()| {
        // A burst of events (a project coming up) reloads once; Berth's helpers never.
        let reload = crate::hooks::coalesced(reload, EVENTS_SETTLE_MS);
        let on_data = Callback::from(move |_| reload.emit(()));
        let sub = ctx.ws.subscribe(
            "events",
            serde_json::json!({"filters": {"types": ["container", "host"], "exclude_helpers": true}}),
            256,
            on_data,
            Callback::noop(),
        );
        move || drop(sub)
    });
}

/// The selected containers' ids. A reducer, not a state handle: a row that skipped a
/// render toggles through an older callback, and a reducer applies its change to the
/// current selection, not to the one that row last saw.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Selection(BTreeSet<String>);

pub(crate) enum Select {
    Toggle(String),
    Clear,
}

impl Reducible for Selection {
    type Action = Select;

    fn reduce(self: std::rc::Rc<Self>, action: Select) -> std::rc::Rc<Self> {
        let mut ids = self.0.clone();
        match action {
            Select::Toggle(id) => {
                if !ids.remove(&id) {
                    ids.insert(id);
                }
            }
            Select::Clear => ids.clear(),
        }
        std::rc::Rc::new(Selection(ids))
    }
}

/// What a lifecycle action needs: the page's action, the selection it clears, the
/// rows it marks pending.
#[derive(Clone)]
struct Bulk {
    action: Action,
    selected: UseReducerDispatcher<Selection>,
    pending: BusyRows,
}

/// Runs `verb` on the containers (after a confirmation for destructive ones); the
/// outcome names each container that refused.
fn run_bulk(bulk: &Bulk, verb: BulkVerb, ids: Vec<String>, names: Vec<String>) {
    let Some(detail) = verb_consequence(verb) else {
        return send_bulk(bulk, verb, ids, names);
    };
    let mut question = Question::new(
        format!("{} {}?", verb_label(verb), names.join(", ")),
        verb_label(verb),
    )
    .detail(if names.len() > 1 {
        detail
            .replace("Its processes", "Their processes")
            .replace("The container is", "Each container is")
    } else {
        detail.to_owned()
    })
    .danger();
    // Many containers removed or killed at once: typed, not clicked by accident.
    if names.len() > 1 && matches!(verb, BulkVerb::Remove | BulkVerb::Kill) {
        question = question.type_to_confirm(verb_slug(verb));
    }
    let bulk = bulk.clone();
    after_confirm(question, move || send_bulk(&bulk, verb, ids, names));
}

fn send_bulk(bulk: &Bulk, verb: BulkVerb, ids: Vec<String>, names: Vec<String>) {
    let p = BulkAction {
        host: None,
        action: verb,
        ids: ids.clone(),
        timeout_s: None,
        force: verb == BulkVerb::Remove,
    };
    let (selected, pending) = (bulk.selected.clone(), bulk.pending.clone());
    let undo = inverse(verb).map(|back| {
        let (bulk, ids, names) = (bulk.clone(), ids.clone(), names.clone());
        Callback::from(move |()| send_bulk(&bulk, back, ids.clone(), names.clone()))
    });
    let action = bulk.action.clone();
    bulk.action.run(move |ws| async move {
        let call = ws.call_m::<ContainersBulk>(p);
        let r = pending.during(&ids, verb_progressive(verb), call).await?;
        selected.dispatch(Select::Clear);
        if let Some(undo) = undo.filter(|_| r.results.iter().all(|x| x.ok)) {
            action.offer_undo(undo);
        }
        let done = format!("{} {}: done.", verb_label(verb), names.join(", "));
        bulk_outcome(&r, &names, done)
    });
}

/// The verb that undoes `verb`, where one does (a removal or a restart has none).
pub(crate) fn inverse(verb: BulkVerb) -> Option<BulkVerb> {
    match verb {
        BulkVerb::Start => Some(BulkVerb::Stop),
        BulkVerb::Stop | BulkVerb::Kill => Some(BulkVerb::Start),
        BulkVerb::Pause => Some(BulkVerb::Unpause),
        BulkVerb::Unpause => Some(BulkVerb::Pause),
        BulkVerb::Restart | BulkVerb::Remove => None,
    }
}

/// Queues one backup per selected container (consistency `stop`, the default storage)
/// after saying what that does; the outcome names the jobs, whose ends come as toasts.
fn back_up_selected(
    action: &Action,
    selected: &UseReducerDispatcher<Selection>,
    names: Vec<String>,
) {
    let question = Question::new(format!("Back up {}?", names.join(", ")), "Back up")
        .detail(
            "Each container is stopped while its configuration and named volumes are read, then started again; \
             the backups go to the default storage, one job each. For another storage, encryption or no stop, \
             use \"Back up now\" on a container's page.",
        );
    let selected = selected.clone();
    run_confirmed(action, question, move |ws| async move {
        let request = CreateBackup {
            targets: names
                .iter()
                .map(|name| BackupTarget::Container { name: name.clone() })
                .collect(),
            ..Default::default()
        };
        let queued = ws.call_m::<BackupsCreate>(request).await?;
        selected.dispatch(Select::Clear);
        Ok(format!(
            "Backups of {} queued (jobs {}).",
            names.join(", "),
            queued.jobs.join(", ")
        ))
    });
}

/// Rows a group shows until the user asks for all: the page stays one frame per
/// live update however many containers the host has (500 rows took 30–70 ms of
/// rendering and script per update; docs/BENCHMARKS.md). Sorting and the filter
/// work on every container, so the first rows are the ones asked for.
const ROWS_AT_FIRST: usize = 100;

/// The measure of one render of the list, to its DOM patch.
const RENDERED: &str = "berth:containers-rendered";
/// Measures kept before they are cleared.
const MEASURES_KEPT: u32 = 256;

thread_local! {
    static MEASURED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

#[function_component(ContainersPage)]
pub fn containers_page() -> Html {
    // How long a render of the list takes, to its DOM patch: the UI benchmark reads
    // the `RENDERED` measures (one per render).
    let performance = web_sys::window().and_then(|w| w.performance());
    if let Some(p) = &performance {
        let _ = p.mark("berth:containers-render");
    }
    use_effect(move || {
        if let Some(p) = performance {
            let _ = p.measure_with_start_mark(RENDERED, "berth:containers-render");
            p.clear_marks_with_mark_name("berth:containers-render");
            // The timeline keeps every entry until told otherwise, and the list
            // redraws once a second while containers run: keep the last few hundred.
            let measured = MEASURED.get() + 1;
            MEASURED.set(measured % MEASURES_KEPT);
            if measured == MEASURES_KEPT {
                p.clear_measures_with_measure_name(RENDERED);
            }
        }
    });
    let ctx = use_ws();
    let (list, reload) = use_call::<ContainersList>(HostOnly::default());
    use_container_events(reload.clone());
    let action = use_action(reload);
    let filter = use_state(String::new);
    let selected = use_reducer(Selection::default);
    let sort = use_state(|| (Column::Name, false));
    let role = ctx.user().map_or(Role::Viewer, |u| u.role);
    let net: Option<NetworkFilter> = use_location().and_then(|l| l.query::<NetworkFilter>().ok());
    let pending = use_busy_rows();
    let limit = use_state(|| ROWS_AT_FIRST);
    let viewport = use_viewport(*limit > ROWS_AT_FIRST);
    let bodies = use_mut_ref(Bodies::default).borrow().clone();
    let run: Run = {
        let bulk = Bulk {
            action: action.clone(),
            selected: selected.dispatcher(),
            pending: pending.clone(),
        };
        Callback::from(move |(verb, ids, names)| run_bulk(&bulk, verb, ids, names))
    };
    let back_up = {
        let (action, selected) = (action.clone(), selected.dispatcher());
        Callback::from(move |names: Vec<String>| back_up_selected(&action, &selected, names))
    };
    let oninput = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            let v = e
                .target_dyn_into::<web_sys::HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            filter.set(v.to_lowercase());
        })
    };
    let rows = Rows {
        run: run.clone(),
        selected: selected.clone(),
        role,
        usage: use_usage(),
        pending,
        sort: sort.clone(),
        limit,
        bodies,
        viewport,
    };
    let body = loaded(&list, |l| {
        if l.groups.is_empty() {
            return html! { <p class="notice" id="containers-empty">{ "No containers on this host. Create one with “New container”, or deploy a compose stack on the Stacks page." }</p> };
        }
        let shown =
            |c: &ContainerSummary| matches(c, &filter) && net.as_ref().is_none_or(|n| n.admits(c));
        l.groups
            .iter()
            .filter(|g| g.containers.iter().any(shown))
            .map(|g| rows.group(g, &shown))
            .collect()
    });
    html! {
        <section class="page" data-page="containers">
            <h1>{ "Containers" }</h1>
            // The filter and the selection's actions stay in view while a long
            // list scrolls under them.
            <div class="sticky-bar" id="containers-toolbar">
                <div class="toolbar">
                    if role.allows(Role::Operator) {
                        <Link<Route> to={Route::NewContainer} classes="button primary"><span id="containers-new">{ "New container" }</span></Link<Route>>
                    }
                    <input type="search" id="container-filter" aria-label="Filter containers"
                        placeholder="Filter by name, image, state or stack" oninput={oninput} />
                </div>
                if role.allows(Role::Operator) && !selected.0.is_empty() {
                    { bulk_bar(list.ready(), &selected.0, (&run, &back_up), role) }
                }
            </div>
            if let Some(n) = &net {
                <p class="notice" id="network-filter">{ format!("Containers on network {} ", n.network) }
                    <Link<Route> to={Route::Containers}>{ "show all" }</Link<Route>></p>
            }
            { action.view() }
            { body }
        </section>
    }
}

/// What every row needs.
struct Rows {
    run: Run,
    selected: UseReducerHandle<Selection>,
    role: Role,
    usage: Usage,
    pending: BusyRows,
    /// The column the groups' rows are ordered by, and whether highest first.
    sort: UseStateHandle<(Column, bool)>,
    /// How many rows a group shows (see [`ROWS_AT_FIRST`]).
    limit: UseStateHandle<usize>,
    /// Where each group's rows are, and the viewport: a group showing more than
    /// [`ROWS_AT_FIRST`] rows renders only those near the viewport (window.rs).
    bodies: Bodies,
    viewport: (f64, f64),
}

/// A column the rows may be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    State,
    Cpu,
    Memory,
    Image,
}

impl Column {
    fn slug(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::State => "state",
            Column::Cpu => "cpu",
            Column::Memory => "memory",
            Column::Image => "image",
        }
    }
}

impl Rows {
    /// Orders a group's rows by the chosen column (a container without a sample
    /// yet counts as using nothing).
    fn order(&self, rows: &mut [&ContainerSummary]) {
        let (column, descending) = *self.sort;
        let used = |c: &ContainerSummary, memory: bool| {
            self.usage
                .get(&c.id)
                .filter(|_| c.state == "running")
                .map_or(-1.0, |u| if memory { u.1 as f64 } else { u.0 })
        };
        rows.sort_by(|a, b| {
            let by = match column {
                Column::Name => a.name.cmp(&b.name),
                Column::State => a.state.cmp(&b.state),
                Column::Image => a.image.cmp(&b.image),
                Column::Cpu => used(a, false).total_cmp(&used(b, false)),
                Column::Memory => used(a, true).total_cmp(&used(b, true)),
            };
            let by = by.then_with(|| a.name.cmp(&b.name));
            if descending { by.reverse() } else { by }
        });
    }

    /// A header that orders the rows by its column; again, the other way round.
    fn header(&self, column: Column, label: &str) -> Html {
        let figures = matches!(column, Column::Cpu | Column::Memory);
        sort_header(&self.sort, column, column.slug(), label, figures)
    }

    /// A compose project (or the standalone containers) with its status.
    fn group(&self, g: &ContainerGroup, shown: &dyn Fn(&ContainerSummary) -> bool) -> Html {
        let title = g
            .stack
            .clone()
            .unwrap_or_else(|| "Standalone containers".to_owned());
        let status = serde_json::to_value(g.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut rows: Vec<&ContainerSummary> = g.containers.iter().filter(|c| shown(c)).collect();
        self.order(&mut rows);
        let all = rows.len();
        rows.truncate(*self.limit);
        html! {
            <div class="group" data-stack={g.stack.clone().unwrap_or_default()}>
                <h2>{ title }{ " " }<span class={classes!("badge", status.clone())}>{ status }</span></h2>
                <table class="grid containers">
                    <thead><tr><th></th>{ self.header(Column::Name, "Name") }{ self.header(Column::State, "State") }
                        { self.header(Column::Cpu, "CPU") }{ self.header(Column::Memory, "Memory") }{ self.header(Column::Image, "Image") }
                        <th>{ "Ports" }</th><th>{ "Status" }</th><th></th></tr></thead>
                    { self.body(g.stack.as_deref().unwrap_or_default(), &rows) }
                </table>
                if all > *self.limit { { self.more(all) } }
            </div>
        }
    }

    /// A group's rows: all of them, or past [`ROWS_AT_FIRST`] those near the viewport
    /// between two spacers.
    fn body(&self, group: &str, rows: &[&ContainerSummary]) -> Html {
        let node = self.bodies.node(group);
        if rows.len() <= ROWS_AT_FIRST {
            return html! { <tbody ref={node}>{ for rows.iter().map(|c| self.row(c)) }</tbody> };
        }
        let slice = Slice::of(&node, rows.len(), self.viewport);
        html! {
            <tbody ref={node} class="windowed">
                { slice.spacer(true, slice.start) }
                { for rows[slice.start..slice.end].iter().map(|c| self.row(c)) }
                { slice.spacer(false, rows.len() - slice.end) }
            </tbody>
        }
    }

    /// Under a group with more rows than shown: how many, and the way to the rest.
    fn more(&self, all: usize) -> Html {
        let limit = self.limit.clone();
        let onclick = Callback::from(move |_: MouseEvent| limit.set(usize::MAX));
        html! {
            <p class="more-rows" role="status">
                { format!("Showing the first {} of {all}, in this order; the filter searches all of them. ", *self.limit) }
                <button class="small show-all-rows" {onclick}>{ format!("Show all {all}") }</button>
            </p>
        }
    }

    fn row(&self, c: &ContainerSummary) -> Html {
        let usage = self
            .usage
            .get(&c.id)
            .copied()
            .filter(|_| c.state == "running");
        html! {
            <ContainerRow key={c.id.clone()} container={c.clone()} {usage}
                selected={self.selected.0.contains(&c.id)} pending={self.pending.of(&c.id)}
                role={self.role} run={self.run.clone()} select={self.selected.dispatcher()} />
        }
    }
}

/// What applies to the selection.
fn bulk_bar(
    list: Option<&ContainerList>,
    selected: &BTreeSet<String>,
    (run, back_up): (&Run, &Callback<Vec<String>>),
    role: Role,
) -> Html {
    let names: Vec<String> = list
        .map(|l| {
            l.groups
                .iter()
                .flat_map(|g| g.containers.iter())
                .filter(|c| selected.contains(&c.id))
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let ids: Vec<String> = selected.iter().cloned().collect();
    let mut verbs = vec![BulkVerb::Start, BulkVerb::Stop, BulkVerb::Restart];
    if role.allows(Role::Admin) {
        verbs.push(BulkVerb::Remove);
    }
    html! {
        <div class="bulk" id="bulk-bar">
            { format!("{} selected: ", ids.len()) }
            { for verbs.into_iter().map(|v| {
                let (run, ids, names) = (run.clone(), ids.clone(), names.clone());
                html! { <button class={classes!("small", format!("bulk-{}", verb_slug(v)))}
                    onclick={Callback::from(move |_| run.emit((v, ids.clone(), names.clone())))}>{ verb_label(v) }</button> }
            }) }
            <button class="small bulk-backup" onclick={back_up.reform(move |_: MouseEvent| names.clone())}>{ "Back up" }</button>
        </div>
    }
}
