//! What a retention policy would keep and delete of a schedule's backups now, shown
//! before the change is saved (`schedules.retention_preview`, the same rules the
//! prune after each backup applies).

use berth_protocol::api::catalogue::SchedulesRetentionPreview;
use berth_protocol::api::schedules::{Retention, RetentionPreview, RetentionPreviewParams};
use yew::prelude::*;

use crate::components::loaded;
use crate::format::when;
use crate::hooks::use_call;

#[derive(Properties, PartialEq)]
pub struct RetentionProps {
    pub schedule: String,
    pub retention: Option<Retention>,
}

#[function_component(RetentionPreviewPanel)]
pub fn retention_preview_panel(props: &RetentionProps) -> Html {
    let Some(retention) = props.retention.clone() else {
        return html! { <p class="muted" id="retention-preview">{ "No retention policy: every backup is kept." }</p> };
    };
    let (preview, _) = use_call::<SchedulesRetentionPreview>(RetentionPreviewParams {
        schedule: props.schedule.clone(),
        retention: Some(retention),
    });
    loaded(&preview, view)
}

fn view(p: &RetentionPreview) -> Html {
    let (keep, delete): (usize, usize) =
        p.groups
            .iter()
            .flat_map(|g| &g.backups)
            .fold(
                (0, 0),
                |(k, d), b| if b.keep { (k + 1, d) } else { (k, d + 1) },
            );
    html! {
        <div id="retention-preview">
            <p><strong id="retention-summary">{ format!("This policy keeps {keep} backup(s) and deletes {delete} at the next successful run.") }</strong></p>
            { for p.groups.iter().map(|g| html! {
                <details>
                    <summary>{ format!("{} {}", g.target.kind(), g.target.name()) }</summary>
                    <ul class="plain">{ for g.backups.iter().take(50).map(|b| html! {
                        <li data-keep={b.keep.to_string()}>{ format!("{} {} — {}", when(b.created_ms), if b.keep { "keep" } else { "delete" }, b.reasons.join(", ")) }</li>
                    }) }</ul>
                </details>
            }) }
        </div>
    }
}
