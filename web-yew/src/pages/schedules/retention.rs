//! What a schedule's retention would keep and delete of its backups now, shown before
//! the change is saved (`schedules.retention_preview`, the same rules the prune after
//! each backup applies); and the targets given a policy of their own.

use berth_protocol::api::backups::BackupTarget;
use berth_protocol::api::catalogue::SchedulesRetentionPreview;
use berth_protocol::api::schedules::{
    Retention, RetentionPreview, RetentionPreviewParams, ScheduleBackup, TargetRetention,
};
use yew::prelude::*;

use crate::components::loaded;
use crate::format::when;
use crate::hooks::{on_pick, use_call, use_text};

#[derive(Properties, PartialEq)]
pub struct RetentionProps {
    pub schedule: String,
    /// The options as edited (their policies are tried).
    pub options: ScheduleBackup,
}

#[function_component(RetentionPreviewPanel)]
pub fn retention_preview_panel(props: &RetentionProps) -> Html {
    let o = &props.options;
    let (preview, _) = use_call::<SchedulesRetentionPreview>(RetentionPreviewParams {
        schedule: props.schedule.clone(),
        retention: o.retention.clone(),
        target_retention: Some(o.target_retention.clone()),
    });
    if o.retention.is_none() && o.target_retention.is_empty() {
        return html! { <p class="muted" id="retention-preview">{ "No retention policy: every backup is kept." }</p> };
    }
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
                    <summary>{ format!("{} {}{}", g.target.kind(), g.target.name(), if g.own_policy { " (its own policy)" } else { "" }) }</summary>
                    <ul class="plain">{ for g.backups.iter().take(50).map(|b| html! {
                        <li data-keep={b.keep.to_string()}>{ format!("{} {} — {}", when(b.created_ms), if b.keep { "keep" } else { "delete" }, b.reasons.join(", ")) }</li>
                    }) }</ul>
                </details>
            }) }
        </div>
    }
}

/// A policy in words: `last 3, daily 7, within 30d`.
pub fn summary(r: &Retention) -> String {
    let counts = [
        ("last", r.last),
        ("hourly", r.hourly),
        ("daily", r.daily),
        ("weekly", r.weekly),
        ("monthly", r.monthly),
        ("yearly", r.yearly),
    ];
    let mut parts: Vec<String> = counts
        .iter()
        .filter_map(|(n, v)| v.map(|v| format!("{n} {v}")))
        .collect();
    parts.extend(r.within.as_ref().map(|w| format!("within {w}")));
    if r.include_manual {
        parts.push("manual backups too".into());
    }
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join(", ")
    }
}

#[derive(Properties, PartialEq)]
pub struct OwnProps {
    pub own: UseStateHandle<Vec<TargetRetention>>,
    /// The schedule's explicit targets, any of which may get its own policy.
    pub targets: Vec<BackupTarget>,
    /// What the keep fields say now: the policy "this target only" gives.
    pub current: Retention,
}

/// The targets with a policy of their own, each removable; the keep fields above can
/// be given to one target only.
#[function_component(OwnPolicies)]
pub fn own_policies(props: &OwnProps) -> Html {
    let chosen = use_text();
    let remove = |i: usize| {
        let own = props.own.clone();
        Callback::from(move |_| {
            let mut list = (*own).clone();
            list.remove(i);
            own.set(list);
        })
    };
    let apply = {
        let (own, targets, current, chosen) = (
            props.own.clone(),
            props.targets.clone(),
            props.current.clone(),
            chosen.clone(),
        );
        Callback::from(move |_| {
            let index: usize = chosen.parse().unwrap_or(0);
            let Some(target) = targets.get(index).cloned() else {
                return;
            };
            let mut list: Vec<TargetRetention> =
                own.iter().filter(|t| t.target != target).cloned().collect();
            list.push(TargetRetention {
                target,
                retention: current.clone(),
            });
            own.set(list);
        })
    };
    html! {
        <div id="schedule-own-retention">
            { for props.own.iter().enumerate().map(|(i, t)| html! {
                <p class="own-policy">{ format!("{} {} keeps its own: {} ", t.target.kind(), t.target.name(), summary(&t.retention)) }
                    <button type="button" class="small" onclick={remove(i)}>{ "Remove" }</button></p>
            }) }
            if !props.targets.is_empty() {
                <select id="schedule-own-target" onchange={on_pick(&chosen)}>
                    { for props.targets.iter().enumerate().map(|(i, t)| html! {
                        <option value={i.to_string()} selected={*chosen == i.to_string()}>{ format!("{} {}", t.kind(), t.name()) }</option>
                    }) }
                </select>
                <button type="button" class="small" id="schedule-own-apply" onclick={apply}>{ "Keep these for this target only" }</button>
            }
        </div>
    }
}
