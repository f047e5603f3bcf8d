//! What the schedules will do in the next 24 hours, in time order, and the schedules
//! whose runs keep failing — for the dashboard and for a container's page (`only`:
//! the schedules covering one container).

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::SchedulesList;
use berth_protocol::api::schedules::{ScheduleInfo, ScheduleList, Selector};
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::loaded;
use crate::components::moment;
use crate::route::Route;

const DAY_MS: u64 = 86_400_000;

/// A container a schedule may cover: its name, compose project and labels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Covered {
    pub name: String,
    pub project: Option<String>,
    pub schedule_label: Option<String>,
    pub skipped: bool,
}

/// Whether `s` acts on the container (explicitly, through its project, or by a
/// selector that matches it now).
pub fn covers(s: &ScheduleInfo, c: &Covered) -> bool {
    use berth_protocol::api::backups::BackupTarget as T;
    let named = s.spec.targets.iter().any(|t| match t {
        T::Container { name } => *name == c.name,
        T::Project { name } => c.project.as_ref() == Some(name),
        _ => false,
    });
    named
        || match &s.spec.selector {
            Some(Selector::Label { value }) => c.schedule_label.as_ref() == Some(value),
            Some(Selector::AllProjects) => c.project.is_some(),
            Some(Selector::AllContainers) => !c.skipped,
            None => false,
        }
}

#[derive(Properties, PartialEq)]
pub struct NextRunsProps {
    #[prop_or_default]
    pub only: Option<Covered>,
}

#[function_component(NextRuns)]
pub fn next_runs(props: &NextRunsProps) -> Html {
    let (list, _) = crate::hooks::use_call::<SchedulesList>(Empty {});
    let only = props.only.clone();
    loaded(&list, move |l| view(l, only.as_ref()))
}

fn view(l: &ScheduleList, only: Option<&Covered>) -> Html {
    let mine: Vec<&ScheduleInfo> = l
        .schedules
        .iter()
        .filter(|s| only.is_none_or(|c| covers(s, c)))
        .collect();
    if mine.is_empty() {
        let text = if only.is_some() {
            "No schedule covers it."
        } else {
            "No schedules."
        };
        return html! { <p class="muted" id="next-runs-empty">{ text }{ " " }<Link<Route> to={Route::Schedules}>{ "Schedules" }</Link<Route>></p> };
    }
    let horizon = mine
        .iter()
        .flat_map(|s| s.next_runs.first())
        .min()
        .copied()
        .unwrap_or(0)
        + DAY_MS;
    let mut upcoming: Vec<(u64, &ScheduleInfo, &'static str)> = mine
        .iter()
        .flat_map(|s| {
            let main = s
                .next_runs
                .iter()
                .map(move |t| (*t, *s, s.spec.action.as_str()));
            let until = s
                .next_until
                .iter()
                .map(move |t| (*t, *s, s.spec.action.undo().map_or("", |a| a.as_str())));
            main.chain(until)
        })
        .filter(|(t, ..)| *t <= horizon)
        .collect();
    upcoming.sort_by_key(|(t, ..)| *t);
    let failing: Vec<&&ScheduleInfo> = mine.iter().filter(|s| s.failures > 0).collect();
    html! {
        <div id="next-runs">
            { for failing.iter().map(|s| html! {
                <p class="error schedule-failing" data-schedule={s.spec.name.clone()}>
                    { format!("Schedule {} failed {} time(s) in a row: {}", s.spec.name, s.failures, s.last_run.as_ref().map(|r| r.message.clone()).unwrap_or_default()) }</p>
            }) }
            <ul class="events">
            { for upcoming.iter().take(20).map(|(t, s, action)| html! {
                <li data-schedule={s.spec.name.clone()}><span class="muted">{ moment(*t) }</span>{ format!(" {} — {action}", s.spec.name) }</li>
            }) }
            </ul>
        </div>
    }
}
