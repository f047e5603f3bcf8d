//! A stack's backups: "Back up now" for the whole compose project (its containers,
//! volumes and networks in one backup, with the usual options), and the backups made
//! of it, newest first — refreshed as jobs end; restoring is on the Backups page.

use berth_protocol::api::backups::{BackupEntry, BackupQuery, BackupStatus, BackupTarget, Trigger};
use berth_protocol::api::catalogue::BackupsList;
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::components::moment;
use crate::components::{BackUpNow, loaded};
use crate::format::bytes;
use crate::hooks::{use_call, use_reload_on_job_end};
use crate::route::Route;
use crate::ws::use_ws;

#[derive(Properties, PartialEq)]
pub struct BackupsProps {
    pub name: String,
}

#[function_component(StackBackups)]
pub fn stack_backups(props: &BackupsProps) -> Html {
    let ctx = use_ws();
    let operator = ctx.user().is_some_and(|u| u.role.allows(Role::Operator));
    let (list, reload) = use_call::<BackupsList>(BackupQuery {
        target: Some(props.name.clone()),
        ..BackupQuery::default()
    });
    use_reload_on_job_end(reload);
    let target = BackupTarget::Project {
        name: props.name.clone(),
    };
    html! {
        <div class="card" id="stack-backups">
            <h2>{ "Backups" }</h2>
            if operator { <BackUpNow target={target.clone()} /> }
            { loaded(&list, |l| {
                let own: Vec<&BackupEntry> = l.backups.iter().filter(|b| b.target == target).collect();
                if own.is_empty() {
                    return html! { <p class="muted">{ "No backups of this stack yet." }</p> };
                }
                html! {
                    <table class="grid">
                        <thead><tr><th>{ "Made" }</th><th>{ "Size" }</th><th>{ "How" }</th><th>{ "State" }</th></tr></thead>
                        <tbody>{ for own.iter().map(|b| html! {
                            <tr data-backup={b.id.clone()}>
                                <td>{ moment(b.created_ms) }</td>
                                <td>{ bytes(b.size) }</td>
                                <td>{ match (b.trigger, &b.schedule) {
                                    (Trigger::Scheduled, Some(s)) => format!("schedule {s}"),
                                    (Trigger::Scheduled, None) => "scheduled".to_owned(),
                                    (Trigger::Manual, _) => "by hand".to_owned(),
                                } }</td>
                                <td>{ if b.status == BackupStatus::Complete { "verified" } else { "being written" } }</td>
                            </tr>
                        }) }</tbody>
                    </table>
                }
            }) }
            <p><Link<Route> to={Route::Backups}>{ "Restore from the Backups page" }</Link<Route>></p>
        </div>
    }
}
