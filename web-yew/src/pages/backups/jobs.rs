//! The jobs page: the queue with live progress, cancel, and each job's log (open from
//! the start at `/jobs/<id>`, where schedule runs link).

use std::collections::HashMap;

use berth_protocol::api::catalogue::{JobsCancel, JobsGet, JobsList};
use berth_protocol::api::jobs::{
    JobDetail, JobInfo, JobList, JobProgress, JobRef, JobState, JobsQuery,
};
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::loaded;
use crate::components::moment;
use crate::format::{bytes, when};
use crate::hooks::{Action, use_action, use_call, use_job_progress};
use crate::route::Route;
use crate::ws::use_ws;

#[derive(Properties, PartialEq)]
pub struct JobsProps {
    /// A job whose log is shown when the page opens.
    #[prop_or_default]
    pub open: Option<String>,
}

#[function_component(JobsPage)]
pub fn jobs_page(props: &JobsProps) -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<JobsList>(JobsQuery::default());
    let live = use_state(HashMap::<String, JobProgress>::new);
    let action = use_action(Callback::noop());
    let log = use_state(|| None::<JobDetail>);
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    {
        let (live, reload) = (live.clone(), reload.clone());
        let acc = use_mut_ref(HashMap::<String, JobProgress>::new);
        use_job_progress(Callback::from(move |p: JobProgress| {
            let end = p.state.is_terminal();
            acc.borrow_mut().insert(p.job.clone(), p);
            live.set(acc.borrow().clone());
            if end {
                reload.emit(());
            }
        }));
    }
    let show_log = {
        let (action, log) = (action.clone(), log.clone());
        Callback::from(move |id: String| {
            let log = log.clone();
            action.spawn(move |ws, action| async move {
                match ws.call_m::<JobsGet>(JobRef { id }).await {
                    Ok(d) => log.set(Some(d)),
                    Err(e) => action.fail(e),
                }
            });
        })
    };
    {
        let show_log = show_log.clone();
        use_effect_with(props.open.clone(), move |open| {
            if let Some(id) = open {
                show_log.emit(id.clone());
            }
        });
    }
    let failed = list
        .ready()
        .is_some_and(|l| l.jobs.iter().any(|j| j.progress.state == JobState::Failed));
    html! {
        <section class="page" data-page="jobs">
            <h1>{ "Jobs" }</h1>
            <p class="muted">{ "Backups, restores and verifications run one at a time, in order; they survive a restart of Berth. " }
                <Link<Route> to={Route::Backups}>{ "Backups" }</Link<Route>></p>
            <div id="jobs-result">{ action.view() }</div>
            { loaded(&list, |l| jobs_table(l, &live, &action, &show_log, operator)) }
            if let Some(d) = &*log {
                { log_view(d, &action) }
            } else if failed {
                <p class="muted">{ "Open a failed job's log to see why it failed." }</p>
            }
        </section>
    }
}

fn jobs_table(
    l: &JobList,
    live: &HashMap<String, JobProgress>,
    action: &Action,
    show_log: &Callback<String>,
    operator: bool,
) -> Html {
    if l.jobs.is_empty() {
        return html! { <p class="notice" id="jobs-empty">{ "No jobs yet. Backups and restores run here one after another; start one with “Back up now” on a container, volume or stack." }</p> };
    }
    html! {
        <table class="grid" id="jobs-table">
            <thead><tr><th>{ "Job" }</th><th>{ "State" }</th><th>{ "Progress" }</th><th>{ "By" }</th><th>{ "Created" }</th><th></th></tr></thead>
            <tbody>
            { for l.jobs.iter().map(|j| {
                // Live progress wins unless the list already knows a later state.
                let p = live.get(&j.id).filter(|p| p.state >= j.progress.state).unwrap_or(&j.progress);
                job_row(j, p, action, show_log, operator)
            }) }
            </tbody>
        </table>
    }
}

fn job_row(
    j: &JobInfo,
    p: &JobProgress,
    action: &Action,
    show_log: &Callback<String>,
    operator: bool,
) -> Html {
    let open_log = {
        let (show_log, id) = (show_log.clone(), j.id.clone());
        Callback::from(move |_| show_log.emit(id.clone()))
    };
    let cancel = {
        let (action, id) = (action.clone(), j.id.clone());
        Callback::from(move |_| {
            let id = id.clone();
            action.run(move |ws| async move {
                ws.call_m::<JobsCancel>(JobRef { id: id.clone() }).await?;
                Ok(format!("Cancelling job {id}."))
            });
        })
    };
    html! {
        <tr data-id={j.id.clone()} data-state={p.state.as_str()} data-kind={format!("{:?}", j.kind).to_lowercase()}>
            <td>{ &j.title }{ j.backup.as_ref().map(|b| html!{ <div class="muted mono">{ b }</div> }).unwrap_or_default() }
                { downtime(j) }</td>
            <td class={classes!("state", p.state.as_str())}>{ p.state.as_str() }</td>
            <td class="progress-cell">{ progress_view(p) }</td>
            <td>{ &j.actor }</td>
            <td>{ moment(j.created_ms) }</td>
            <td class="actions">
                <button class="small show-log" onclick={open_log}>{ "Log" }</button>
                if operator && !p.state.is_terminal() {
                    <button class="small danger cancel" onclick={cancel}>{ "Cancel" }</button>
                }
            </td>
        </tr>
    }
}

/// What a `stop` or `pause` backup cost its containers: how long each was down.
fn downtime(j: &JobInfo) -> Html {
    if j.downtime.is_empty() {
        return Html::default();
    }
    let each = j
        .downtime
        .iter()
        .map(|d| {
            format!(
                "{} {} {:.1} s",
                d.container,
                d.held_as(),
                d.ms as f64 / 1000.0
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    html! { <div class="muted downtime">{ format!("Downtime: {each}") }</div> }
}

/// The outcome of a finished job, or the bar, phase, bytes, rate and time left.
fn progress_view(p: &JobProgress) -> Html {
    if p.state.is_terminal() {
        return html! { <span class="message">{ &p.message }</span> };
    }
    let pct = (p.bytes_done.min(p.bytes_total) * 100)
        .checked_div(p.bytes_total)
        .unwrap_or(0);
    html! { <>
        <progress max="100" value={pct.to_string()}></progress>
        <span class="phase">{ &p.phase }</span>
        if p.bytes_total > 0 {
            <span class="muted">{ format!(" {} of {}", bytes(p.bytes_done), bytes(p.bytes_total)) }</span>
        }
        if p.rate_bps > 0 {
            <span class="muted">{ format!(" · {}/s", bytes(p.rate_bps)) }</span>
        }
        if let Some(s) = p.eta_s {
            <span class="muted">{ format!(" · {s} s left") }</span>
        }
    </> }
}

/// A job's log with its download (one JSON object per line: the job, then its log).
fn log_view(d: &JobDetail, action: &Action) -> Html {
    let download = {
        let (d, action) = (d.clone(), action.clone());
        Callback::from(move |_| {
            let mut out = serde_json::to_string(&d.job).unwrap_or_default();
            for l in &d.log {
                out.push('\n');
                out.push_str(&serde_json::to_string(l).unwrap_or_default());
            }
            out.push('\n');
            let name = format!("job-{}.jsonl", d.job.id);
            if let Err(e) = crate::http::download(&name, "application/x-ndjson", &out) {
                action.fail_local(e);
            }
        })
    };
    html! {
        <div class="card" id="job-log">
            <h2>{ format!("Log of {}", d.job.title) }</h2>
            <button class="small" id="job-log-download" onclick={download}>{ "Download log" }</button>
            <pre class="log">{ for d.log.iter().map(|l| format!("{} {:?} {}\n", when(l.time_ms), l.level, l.message)) }</pre>
        </div>
    }
}
