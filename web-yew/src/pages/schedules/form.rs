//! Creating (or editing) a schedule: a cron builder (hourly, daily at, weekly on, monthly on, or
//! the raw expression), what it means and its next 5 runs as you type (the server's
//! `schedules.preview`), the action and its targets, a sleep window's end, and a
//! backup's options (those of "Back up now") and retention.

use berth_protocol::api::catalogue::{
    SchedulesCreate, SchedulesMatches, SchedulesPreview, SchedulesUpdate,
};
use berth_protocol::api::schedules::{
    MatchSelector, PreviewSchedule, Retention, ScheduleAction, SchedulePreview, ScheduleSpec,
    Selector, TargetRetention,
};
use yew::prelude::*;

use crate::components::{Choices, loaded, use_choices, use_storages};
use crate::format::{given, when};
use crate::hooks::{Action, on_check, on_pick, on_text, use_call, use_flag};

const ACTIONS: [ScheduleAction; 8] = [
    ScheduleAction::Backup,
    ScheduleAction::Start,
    ScheduleAction::Stop,
    ScheduleAction::Restart,
    ScheduleAction::Pause,
    ScheduleAction::Unpause,
    ScheduleAction::Redeploy,
    ScheduleAction::StateBackup,
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The builder's choices, turned into an expression.
fn cron_of(preset: &str, time: &str, weekday: &str, monthday: &str, raw: &str) -> String {
    let (hour, minute) = time.split_once(':').unwrap_or(("2", "30"));
    let (hour, minute) = (hour.trim_start_matches('0'), minute.trim_start_matches('0'));
    let (hour, minute) = (
        if hour.is_empty() { "0" } else { hour },
        if minute.is_empty() { "0" } else { minute },
    );
    match preset {
        "hourly" => format!("{minute} * * * *"),
        "weekly" => format!("{minute} {hour} * * {weekday}"),
        "monthly" => format!("{minute} {hour} {monthday} * *"),
        "custom" => raw.trim().to_owned(),
        _ => format!("{minute} {hour} * * *"),
    }
}

fn number(text: &str) -> Option<u32> {
    text.trim().parse().ok().filter(|n| *n > 0)
}

/// The form's fields, as component state.
#[derive(Clone)]
struct Fields {
    name: UseStateHandle<String>,
    action: UseStateHandle<String>,
    preset: UseStateHandle<String>,
    time: UseStateHandle<String>,
    weekday: UseStateHandle<String>,
    monthday: UseStateHandle<String>,
    raw: UseStateHandle<String>,
    until: UseStateHandle<String>,
    zone: UseStateHandle<String>,
    /// Explicit targets: (kind, name).
    targets: UseStateHandle<Vec<(String, String)>>,
    selector: UseStateHandle<String>,
    label: UseStateHandle<String>,
    /// Retention: last, within, hourly, daily, weekly, monthly, yearly.
    keep: [UseStateHandle<String>; 7],
    include_manual: UseStateHandle<bool>,
    /// Targets with a policy of their own.
    own: UseStateHandle<Vec<TargetRetention>>,
    options: Choices,
    /// The schedule being edited, for what the form does not show.
    base: Option<ScheduleSpec>,
}

/// Retention's fields in the order of [`Fields::keep`].
const KEEP: [&str; 7] = [
    "last", "within", "hourly", "daily", "weekly", "monthly", "yearly",
];

fn keep_values(r: &Retention) -> [String; 7] {
    let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    [
        n(r.last),
        r.within.clone().unwrap_or_default(),
        n(r.hourly),
        n(r.daily),
        n(r.weekly),
        n(r.monthly),
        n(r.yearly),
    ]
}

impl Fields {
    /// The schedule's retention, from the keep fields.
    fn retention(&self) -> Retention {
        let [last, within, hourly, daily, weekly, monthly, yearly] = &self.keep;
        Retention {
            last: number(last),
            within: given(within.trim()),
            hourly: number(hourly),
            daily: number(daily),
            weekly: number(weekly),
            monthly: number(monthly),
            yearly: number(yearly),
            include_manual: *self.include_manual,
        }
    }

    fn cron(&self) -> String {
        cron_of(
            &self.preset,
            &self.time,
            &self.weekday,
            &self.monthday,
            &self.raw,
        )
    }

    fn spec(&self) -> ScheduleSpec {
        let action = ACTIONS
            .iter()
            .copied()
            .find(|a| a.as_str() == *self.action)
            .unwrap_or_default();
        let targets = self
            .targets
            .iter()
            .filter_map(|(kind, name)| super::targets::target(kind, name))
            .collect();
        let selector = match self.selector.as_str() {
            "label" => Some(Selector::Label {
                value: self.label.trim().to_owned(),
            }),
            "all_projects" => Some(Selector::AllProjects),
            "all_containers" => Some(Selector::AllContainers),
            _ => None,
        };
        let retention = self.retention();
        let state = action == ScheduleAction::StateBackup;
        let until = (action.undo().is_some() && !self.until.is_empty()).then(|| {
            cron_of(
                &self.preset,
                &self.until,
                &self.weekday,
                &self.monthday,
                &self.raw,
            )
        });
        ScheduleSpec {
            name: self.name.trim().to_owned(),
            cron: self.cron(),
            until,
            zone: given(self.zone.trim()),
            action,
            // Berth's own state has no targets.
            targets: if state { Vec::new() } else { targets },
            selector: selector.filter(|_| !state),
            backup: match action {
                ScheduleAction::Backup => {
                    let base = self.base.as_ref().and_then(|b| b.backup.as_ref());
                    Some(self.options.scheduled(base, retention, (*self.own).clone()))
                }
                ScheduleAction::StateBackup => Some(self.options.state_scheduled(retention)),
                _ => None,
            },
            // What the form does not show is kept as it was.
            enabled: self.base.as_ref().and_then(|b| b.enabled),
            jitter_s: self.base.as_ref().and_then(|b| b.jitter_s),
            grace_s: self.base.as_ref().and_then(|b| b.grace_s),
            host: self.base.as_ref().and_then(|b| b.host.clone()),
        }
    }
}

/// The initial values: a new schedule's defaults, or what `spec` holds (its
/// expression as a raw one: the builder cannot always tell which preset made it).
fn initial(spec: Option<&ScheduleSpec>) -> [String; 11] {
    let Some(s) = spec else {
        return [
            "", "backup", "daily", "02:30", "0", "1", "", "", "", "none", "",
        ]
        .map(String::from);
    };
    let (selector, label) = match &s.selector {
        Some(Selector::Label { value }) => ("label", value.clone()),
        Some(Selector::AllProjects) => ("all_projects", String::new()),
        Some(Selector::AllContainers) => ("all_containers", String::new()),
        None => ("none", String::new()),
    };
    [
        s.name.clone(),
        s.action.as_str().to_owned(),
        "custom".into(),
        "02:30".into(),
        "0".into(),
        "1".into(),
        s.cron.clone(),
        String::new(),
        s.zone.clone().unwrap_or_default(),
        selector.to_owned(),
        label,
    ]
}

#[hook]
fn use_fields(spec: Option<&ScheduleSpec>) -> Fields {
    let backup = spec.and_then(|s| s.backup.as_ref());
    let retention = backup.and_then(|b| b.retention.clone()).unwrap_or_default();
    let targets: Vec<(String, String)> = spec
        .map(|s| {
            s.targets
                .iter()
                .map(|t| (t.kind().to_owned(), t.name().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let [
        name,
        action,
        preset,
        time,
        weekday,
        monthday,
        raw,
        until,
        zone,
        selector,
        label,
    ] = initial(spec);
    let [last, within, hourly, daily, weekly, monthly, yearly] = keep_values(&retention);
    Fields {
        name: use_state(move || name),
        action: use_state(move || action),
        preset: use_state(move || preset),
        time: use_state(move || time),
        weekday: use_state(move || weekday),
        monthday: use_state(move || monthday),
        raw: use_state(move || raw),
        until: use_state(move || until),
        zone: use_state(move || zone),
        targets: use_state(move || targets),
        selector: use_state(move || selector),
        label: use_state(move || label),
        keep: [
            use_state(move || last),
            use_state(move || within),
            use_state(move || hourly),
            use_state(move || daily),
            use_state(move || weekly),
            use_state(move || monthly),
            use_state(move || yearly),
        ],
        include_manual: use_flag(retention.include_manual),
        own: use_state(|| {
            backup
                .map(|b| b.target_retention.clone())
                .unwrap_or_default()
        }),
        options: use_choices(backup),
        base: spec.cloned(),
    }
}

#[derive(Properties, PartialEq)]
pub struct CreateProps {
    pub action: Action,
    /// The schedule being edited (its name cannot change); `None`: a new one.
    #[prop_or_default]
    pub editing: Option<ScheduleSpec>,
    /// Whether the schedule being edited has a passphrase set.
    #[prop_or_default]
    pub encrypted: bool,
}

#[function_component(CreateForm)]
pub fn create_form(props: &CreateProps) -> Html {
    let f = use_fields(props.editing.as_ref());
    let (preview, _) = use_call::<SchedulesPreview>(PreviewSchedule {
        cron: f.cron(),
        zone: given(f.zone.trim()),
        count: Some(5),
    });
    let editing = props.editing.is_some();
    let admin = crate::ws::use_ws()
        .user()
        .is_some_and(|u| u.role == berth_protocol::role::Role::Admin);
    let onsubmit = {
        let (action, f) = (props.action.clone(), f.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let spec = f.spec();
            action.run(move |ws| async move {
                let s = if editing {
                    ws.call_m::<SchedulesUpdate>(spec).await?
                } else {
                    ws.call_m::<SchedulesCreate>(spec).await?
                };
                Ok(format!(
                    "{} {}: {}.",
                    if editing { "Saved" } else { "Created" },
                    s.spec.name,
                    s.description
                ))
            });
        })
    };
    html! {
        <form class="stacked-form" id="schedule-create" {onsubmit}>
            <label>{ "Name " }<input id="schedule-name" value={(*f.name).clone()} oninput={on_text(&f.name)} placeholder="nightly" required=true readonly={editing} /></label>
            <label>{ "Action " }<select id="schedule-action" onchange={on_pick(&f.action)}>
                // Backing up Berth's own state is an admin's (the server says so too).
                { for ACTIONS.iter().filter(|a| admin || **a != ScheduleAction::StateBackup).map(|a| html! { <option value={a.as_str()} selected={*f.action == a.as_str()}>{ action_label(*a) }</option> }) }
            </select></label>
            { when_fields(&f) }
            { loaded(&preview, preview_view) }
            if *f.action == "state_backup" {
                <StateOptions choices={f.options.clone()} encrypted={props.encrypted && editing} />
                { retention_fields(&f, false) }
            } else {
                { target_fields(&f) }
            }
            if *f.action == "backup" {
                <BackupOptions choices={f.options.clone()} encrypted={props.encrypted} />
                { retention_fields(&f, true) }
            }
            if editing && *f.action == "backup" {
                <super::retention::RetentionPreviewPanel schedule={(*f.name).clone()} options={f.spec().backup.unwrap_or_default()} />
            }
            <button type="submit" class="primary" id="schedule-submit">{ if editing { "Save schedule" } else { "Create schedule" } }</button>
        </form>
    }
}

fn when_fields(f: &Fields) -> Html {
    let presets = [
        ("hourly", "Every hour"),
        ("daily", "Daily at"),
        ("weekly", "Weekly on"),
        ("monthly", "Monthly on"),
        ("custom", "Cron expression"),
    ];
    let preset = f.preset.as_str();
    html! {
        <fieldset id="schedule-when"><legend>{ "When" }</legend>
            <select id="schedule-preset" aria-label="How often" onchange={on_pick(&f.preset)}>
                { for presets.iter().map(|(v, l)| html! { <option value={*v} selected={preset == *v}>{ *l }</option> }) }
            </select>
            if preset == "weekly" {
                <select id="schedule-weekday" onchange={on_pick(&f.weekday)}>
                    { for DAYS.iter().enumerate().map(|(i, d)| html! { <option value={i.to_string()} selected={*f.weekday == i.to_string()}>{ *d }</option> }) }
                </select>
            }
            if preset == "monthly" {
                <input id="schedule-monthday" type="number" min="1" max="31" value={(*f.monthday).clone()} oninput={on_text(&f.monthday)} />
            }
            if preset == "custom" {
                <input id="schedule-cron" value={(*f.raw).clone()} oninput={on_text(&f.raw)} placeholder="30 2 * * 1-5 (6 fields: seconds first)" />
            } else {
                <input id="schedule-time" aria-label="At" type="time" value={(*f.time).clone()} oninput={on_text(&f.time)} />
            }
            if matches!(f.action.as_str(), "stop" | "pause") && preset != "custom" {
                <label>{ " until " }<input id="schedule-until" type="time" value={(*f.until).clone()} oninput={on_text(&f.until)} title="a sleep window: started (unpaused) again at this time" /></label>
            }
            <label>{ " Time zone " }<input id="schedule-zone" value={(*f.zone).clone()} oninput={on_text(&f.zone)} placeholder="the host's, or e.g. Europe/Berlin" /></label>
        </fieldset>
    }
}

fn preview_view(p: &SchedulePreview) -> Html {
    html! {
        <div id="schedule-preview">
            <p><strong id="schedule-description">{ &p.description }</strong>{ format!(" ({})", p.zone) }</p>
            <ol id="schedule-next">{ for p.next_runs.iter().map(|t| html! { <li>{ when(*t) }</li> }) }</ol>
        </div>
    }
}

fn target_fields(f: &Fields) -> Html {
    let selectors = [
        ("none", "no selector"),
        ("label", "containers labelled berth.schedule="),
        ("all_projects", "every compose project"),
        (
            "all_containers",
            "every container (not berth.backup.skip=true)",
        ),
    ];
    html! {
        <fieldset id="schedule-targets"><legend>{ "Targets" }</legend>
            <super::targets::TargetRows rows={f.targets.clone()} />
            <label>{ "and " }<select id="schedule-selector" onchange={on_pick(&f.selector)}>
                { for selectors.iter().map(|(v, l)| html! { <option value={*v} selected={*f.selector == *v}>{ *l }</option> }) }
            </select></label>
            if *f.selector == "label" {
                <input id="schedule-label" value={(*f.label).clone()} oninput={on_text(&f.label)} placeholder="label value" />
            }
            if let Some(selector) = f.spec().selector.filter(|s| !matches!(s, Selector::Label { value } if value.is_empty())) {
                <Matches {selector} />
            }
        </fieldset>
    }
}

#[derive(Properties, PartialEq)]
struct MatchesProps {
    selector: Selector,
}

/// What the selector finds now (it is resolved again at each run).
#[function_component(Matches)]
fn matches(props: &MatchesProps) -> Html {
    let (found, _) = use_call::<SchedulesMatches>(MatchSelector {
        host: None,
        selector: props.selector.clone(),
    });
    loaded(&found, |m| {
        let names: Vec<String> = m
            .targets
            .iter()
            .map(|t| format!("{} {}", t.kind(), t.name()))
            .collect();
        html! { <p class="muted" id="selector-matches">{ format!("Matches now ({}): {}", names.len(), if names.is_empty() { "nothing".to_owned() } else { names.join(", ") }) }</p> }
    })
}

/// An action as the form's list names it.
fn action_label(action: ScheduleAction) -> &'static str {
    match action {
        ScheduleAction::StateBackup => "back up Berth's own state",
        other => other.as_str(),
    }
}

/// `per_target`: the backup schedule's options (manual backups, each target's own
/// policy); a state backup's policy counts every state backup on its storage.
fn retention_fields(f: &Fields, per_target: bool) -> Html {
    let title = |n: &str| match n {
        "last" => "the newest N",
        "within" => "everything within this long of the newest: 36h, 7d, 2w, 6m, 1y",
        _ => "the newest in each of the last N periods",
    };
    html! {
        <fieldset id="schedule-retention"><legend>{ "Keep (empty: keep everything; pinned backups always stay)" }</legend>
            { for KEEP.iter().zip(f.keep.iter()).map(|(n, v)| html! {
                <label title={title(n)}>{ format!("{n} ") }<input id={format!("schedule-keep-{n}")}
                    type={if *n == "within" { "text" } else { "number" }} min="1" size="6"
                    value={(**v).clone()} oninput={on_text(v)} /></label>
            }) }
            if per_target {
                <label><input type="checkbox" id="schedule-keep-manual" checked={*f.include_manual}
                    onchange={on_check(&f.include_manual)} />{ " also prune the targets' manual backups" }</label>
                <super::retention::OwnPolicies own={f.own.clone()} targets={f.spec().targets} current={f.retention()} />
            } else {
                <p class="muted">{ "Counts every state backup on the storage, those made by hand too." }</p>
            }
        </fieldset>
    }
}

/// A state backup schedule's options.
#[function_component(StateOptions)]
fn state_options(props: &OptionsProps) -> Html {
    let storages = use_storages();
    html! {
        <fieldset id="schedule-state-options"><legend>{ "Berth's own state" }</legend>
            <p class="muted">{ "Users, tokens, schedules, plugin settings, the installation key and the stacks directory, in one encrypted object under state/ on the storage. Restore it with berth state restore." }</p>
            { props.choices.state_fields(&storages, props.encrypted) }
            if props.encrypted {
                <p class="muted">{ "A passphrase is set. Leave the field empty to keep it." }</p>
            }
        </fieldset>
    }
}

/// A backup schedule's options: those of "Back up now".
#[derive(Properties, PartialEq)]
struct OptionsProps {
    choices: Choices,
    encrypted: bool,
}

#[function_component(BackupOptions)]
fn backup_options(props: &OptionsProps) -> Html {
    let storages = use_storages();
    html! {
        <fieldset id="schedule-options"><legend>{ "Backup options" }</legend>
            { props.choices.fields(&storages, true) }
            if props.encrypted {
                <p class="muted">{ "Encrypted: a passphrase is set. Leave the field empty to keep it." }</p>
            }
        </fieldset>
    }
}
