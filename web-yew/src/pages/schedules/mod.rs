//! The Schedules page: every schedule with its next run and last result, run now,
//! pause or resume, edit, delete; a form to create or edit one (`form`, with the
//! retention preview of `retention` and the target rows of `targets`); a schedule's
//! runs (`history`).

mod form;
mod history;
mod retention;
mod targets;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{
    SchedulesDelete, SchedulesEnable, SchedulesList, SchedulesRunNow,
};
use berth_protocol::api::schedules::{
    RunOutcome, ScheduleAction, ScheduleEnable, ScheduleInfo, ScheduleList, ScheduleRef,
    ScheduleSpec,
};
use berth_protocol::role::Role;
use yew::prelude::*;

use crate::components::moment;
use crate::components::{Question, after_confirm, loaded};
use crate::format::when;
use crate::hooks::{Action, use_action, use_call};
use crate::ws::use_ws;

#[function_component(SchedulesPage)]
pub fn schedules_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<SchedulesList>(Empty {});
    let action = use_action(reload);
    let shown = use_state(|| None::<String>);
    let editing = use_state(|| None::<(ScheduleSpec, bool)>);
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    let admin = ctx.user().is_some_and(|u| u.role == Role::Admin);
    html! {
        <section class="page" data-page="schedules">
            <h1>{ "Schedules" }</h1>
            <p class="muted">{ "Backups with retention, and start/stop/restart/pause of containers and stacks, on a cron schedule. Each run queues jobs; a run missed while Berth was down catches up once within its grace period." }</p>
            <div id="schedules-result">{ action.view() }</div>
            { loaded(&list, |l| table(l, &action, &Row { shown: shown.clone(), editing: editing.clone(), operator, admin })) }
            if let Some(name) = (*shown).clone() {
                <history::History {name} />
            }
            if let (true, Some((spec, encrypted))) = (operator, (*editing).clone()) {
                <h2>{ format!("Edit {}", spec.name) }</h2>
                <form::CreateForm key={spec.name.clone()} action={action.clone()} editing={Some(spec.clone())} {encrypted} />
            } else if operator {
                <h2>{ "New schedule" }</h2>
                <form::CreateForm key="new" action={action.clone()} />
            }
        </section>
    }
}

fn outcome(o: RunOutcome) -> &'static str {
    match o {
        RunOutcome::Running => "running",
        RunOutcome::Succeeded => "succeeded",
        RunOutcome::Failed => "failed",
        RunOutcome::Skipped => "skipped",
        RunOutcome::Missed => "missed",
    }
}

/// What a row's buttons open: the history panel, the edit form.
struct Row {
    shown: UseStateHandle<Option<String>>,
    /// The schedule being edited, and whether it has a passphrase.
    editing: UseStateHandle<Option<(ScheduleSpec, bool)>>,
    operator: bool,
    /// Only an admin manages a `state_backup` schedule.
    admin: bool,
}

fn table(l: &ScheduleList, action: &Action, open: &Row) -> Html {
    if l.schedules.is_empty() {
        return html! { <p class="notice" id="schedules-empty">{ "No schedules yet. Create one with the form on this page: a nightly backup with retention, or a start and stop at set hours." }</p> };
    }
    html! {
        <table class="grid" id="schedules-table">
            <thead><tr><th>{ "Name" }</th><th>{ "Does" }</th><th>{ "When" }</th><th>{ "Next run" }</th><th>{ "Last run" }</th><th></th></tr></thead>
            <tbody>{ for l.schedules.iter().map(|s| row(s, action, open)) }</tbody>
        </table>
    }
}

fn row(s: &ScheduleInfo, action: &Action, open: &Row) -> Html {
    let name = s.spec.name.clone();
    let state = s.spec.action == ScheduleAction::StateBackup;
    let manages = open.operator && (open.admin || !state);
    let enabled = s.spec.enabled.unwrap_or(true);
    let call = |what: &'static str| {
        let (action, name) = (action.clone(), name.clone());
        Callback::from(move |_| {
            let (action, name) = (action.clone(), name.clone());
            let question = Question::new(format!("Delete schedule {name}?"), "Delete")
                .detail("It stops running; the history of its past runs stays.")
                .danger();
            let run = move || {
                action.run(move |ws| async move {
                    let r = ScheduleRef { name: name.clone() };
                    Ok(match what {
                        "run" => {
                            let run = ws.call_m::<SchedulesRunNow>(r).await?;
                            format!("{name}: {}", run.message)
                        }
                        "delete" => {
                            ws.call_m::<SchedulesDelete>(r).await?;
                            format!("Deleted {name}.")
                        }
                        _ => {
                            let p = ScheduleEnable {
                                name: name.clone(),
                                enabled: !enabled,
                            };
                            ws.call_m::<SchedulesEnable>(p).await?;
                            format!("{name} {}.", if enabled { "paused" } else { "resumed" })
                        }
                    })
                })
            };
            if what == "delete" {
                after_confirm(question, run);
            } else {
                run();
            }
        })
    };
    let onhistory = {
        let (shown, name) = (open.shown.clone(), name.clone());
        Callback::from(move |_| shown.set(Some(name.clone())))
    };
    let onedit = {
        let (editing, spec, encrypted) = (open.editing.clone(), s.spec.clone(), s.encrypted);
        Callback::from(move |_| editing.set(Some((spec.clone(), encrypted))))
    };
    let last = s.last_run.as_ref().map_or_else(
        || html! { <span class="muted">{ "never" }</span> },
        |r| html! { <span class={classes!("outcome", outcome(r.outcome))} title={r.message.clone()}>{ format!("{} ", outcome(r.outcome)) }{ moment(r.at_ms) }</span> },
    );
    let next = match (s.next_runs.first(), enabled) {
        (_, false) => html! { <span class="muted">{ "paused" }</span> },
        (Some(t), true) => {
            html! { <>{ moment(*t) }{ for s.next_until.first().map(|u| html! { <><br/>{ format!("until {}", when(*u)) }</> }) }</> }
        }
        (None, true) => html! { <span class="muted">{ "never" }</span> },
    };
    let mut targets: Vec<String> = s
        .spec
        .targets
        .iter()
        .map(|t| format!("{} {}", t.kind(), t.name()))
        .collect();
    if state {
        let storage = s.spec.backup.as_ref().and_then(|b| b.storage.clone());
        targets.push(format!(
            "Berth's own state → {}",
            storage.as_deref().unwrap_or("default storage")
        ));
    }
    html! {
        <tr data-schedule={name.clone()}>
            <td>{ &name }{ if s.failures > 0 { html! { <span class="badge bad">{ format!("failing ×{}", s.failures) }</span> } } else { html! {} } }</td>
            <td>{ s.spec.action.as_str() }<br/><span class="muted">{ targets.join(", ") }{ s.spec.selector.as_ref().map(|_| " + selector").unwrap_or_default() }</span></td>
            <td class="schedule-when">{ &s.description }{ s.until_description.as_ref().map(|u| format!("; until {u}")).unwrap_or_default() }<br/><code>{ &s.spec.cron }</code>{ format!(" ({})", s.zone) }</td>
            <td class="schedule-next">{ next }</td>
            <td>{ last }</td>
            <td>
                <button type="button" class="schedule-history" onclick={onhistory}>{ "History" }</button>
                if manages {
                    <button type="button" class="schedule-run" onclick={call("run")}>{ "Run now" }</button>
                    <button type="button" class="schedule-edit" onclick={onedit}>{ "Edit" }</button>
                    <button type="button" class="schedule-toggle" onclick={call("toggle")}>{ if enabled { "Pause" } else { "Resume" } }</button>
                    <button type="button" class="danger schedule-delete" onclick={call("delete")}>{ "Delete" }</button>
                }
            </td>
        </tr>
    }
}
