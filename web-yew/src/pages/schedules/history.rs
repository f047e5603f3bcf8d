//! One schedule's runs, newest first: why each ran, how it went, its jobs (each a
//! link to the job's log).

use berth_protocol::api::catalogue::SchedulesHistory;
use berth_protocol::api::schedules::{HistoryQuery, RunTrigger, ScheduleHistory};
use yew::prelude::*;
use yew_router::prelude::Link;

use super::outcome;
use crate::components::loaded;
use crate::format::when;
use crate::route::Route;

#[derive(Properties, PartialEq)]
pub struct HistoryProps {
    pub name: String,
}

#[function_component(History)]
pub fn history(props: &HistoryProps) -> Html {
    let (runs, reload) = use_call_history(&props.name);
    html! {
        <div id="schedule-history" data-schedule={props.name.clone()}>
            <h2>{ format!("Runs of {}", props.name) }
                <button type="button" id="schedule-history-reload" onclick={reload.reform(|_| ())}>{ "Refresh" }</button></h2>
            { loaded(&runs, table) }
        </div>
    }
}

#[hook]
fn use_call_history(name: &str) -> (crate::hooks::Load<ScheduleHistory>, Callback<()>) {
    crate::hooks::use_call::<SchedulesHistory>(HistoryQuery {
        name: Some(name.to_owned()),
        limit: Some(100),
    })
}

fn trigger(t: RunTrigger) -> &'static str {
    match t {
        RunTrigger::Due => "on time",
        RunTrigger::CatchUp => "caught up",
        RunTrigger::Manual => "run now",
    }
}

fn table(h: &ScheduleHistory) -> Html {
    if h.runs.is_empty() {
        return html! { <p class="notice">{ "No runs yet." }</p> };
    }
    html! {
        <table class="grid" id="schedule-runs">
            <thead><tr><th>{ "When" }</th><th>{ "Due" }</th><th>{ "Why" }</th><th>{ "Outcome" }</th><th>{ "What happened" }</th><th>{ "Jobs" }</th></tr></thead>
            <tbody>
            { for h.runs.iter().map(|r| html! {
                <tr data-run={r.id.clone()} data-outcome={outcome(r.outcome)}>
                    <td>{ when(r.at_ms) }</td><td>{ when(r.due_ms) }</td><td>{ format!("{} ({})", trigger(r.trigger), r.action.as_str()) }</td>
                    <td>{ outcome(r.outcome) }</td><td>{ &r.message }</td>
                    <td class="run-jobs">{ for r.jobs.iter().map(|id| html! {
                        <Link<Route> to={Route::Job { id: id.clone() }} classes="run-job">{ format!("job {id} ") }</Link<Route>>
                    }) }</td>
                </tr>
            }) }
            </tbody>
        </table>
    }
}
