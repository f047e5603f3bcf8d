//! The dashboard's view of the job queue.

use std::collections::HashMap;

use berth_protocol::api::catalogue::JobsList;
use berth_protocol::api::jobs::{JobList, JobProgress, JobState, JobsQuery};
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::loaded;
use crate::components::moment;
use crate::hooks::{use_call, use_job_progress};
use crate::route::Route;

/// What is running or waiting, and the last finished backups, restores and
/// verifications — failures counted in red, with why.
#[function_component(RecentJobs)]
pub fn recent_jobs() -> Html {
    let (list, reload) = use_call::<JobsList>(JobsQuery {
        states: Vec::new(),
        limit: Some(8),
    });
    {
        // A job that starts or ends changes this list; byte counts do not.
        let seen = use_mut_ref(HashMap::<String, JobState>::new);
        use_job_progress(Callback::from(move |p: JobProgress| {
            if seen.borrow_mut().insert(p.job.clone(), p.state) != Some(p.state) {
                reload.emit(());
            }
        }));
    }
    loaded(&list, |l| {
        if l.jobs.is_empty() {
            html! {
                <p class="notice" id="dashboard-jobs-empty">{ "No backups yet: use “Back up now” on a container, volume or network." }</p>
            }
        } else {
            table(l)
        }
    })
}

fn table(l: &JobList) -> Html {
    let failed = l
        .jobs
        .iter()
        .filter(|j| j.progress.state == JobState::Failed)
        .count();
    html! { <>
        if failed > 0 {
            <p class="error" id="dashboard-jobs-failed">
                { format!("{failed} of the last {} jobs failed.", l.jobs.len()) }</p>
        }
        <table class="grid" id="dashboard-jobs">
            <tbody>
            { for l.jobs.iter().map(|j| html! {
                <tr data-state={j.progress.state.as_str()} data-kind={format!("{:?}", j.kind).to_lowercase()}>
                    <td class={classes!("state", j.progress.state.as_str())}>{ j.progress.state.as_str() }</td>
                    <td>{ &j.title }</td>
                    <td class="muted">{ moment(j.finished_ms.unwrap_or(j.created_ms)) }</td>
                    <td class="message">{ if j.progress.state.is_terminal() { j.progress.message.clone() } else { j.progress.phase.clone() } }</td>
                </tr>
            }) }
            </tbody>
        </table>
        <p><Link<Route> to={Route::Jobs}>{ "All jobs" }</Link<Route>>{ " · " }<Link<Route> to={Route::Backups}>{ "Backups" }</Link<Route>></p>
    </> }
}
