//! Creating (or editing) a schedule: a cron builder (hourly, daily at, weekly on, monthly on, or
//! the raw expression), what it means and its next 5 runs as you type (the server's
//! `schedules.preview`), the action and its targets, a sleep window's end, and a
//! backup's retention.

use berth_protocol::api::backups::BackupTarget;
use berth_protocol::api::catalogue::{
    SchedulesCreate, SchedulesMatches, SchedulesPreview, SchedulesUpdate,
};
use berth_protocol::api::schedules::{
    MatchSelector, PreviewSchedule, Retention, ScheduleAction, ScheduleBackup, SchedulePreview,
    ScheduleSpec, Selector,
};
use yew::prelude::*;

use crate::components::loaded;
use crate::format::{given, when};
use crate::hooks::{Action, on_pick, on_text, use_call};

const ACTIONS: [ScheduleAction; 7] = [
    ScheduleAction::Backup,
    ScheduleAction::Start,
    ScheduleAction::Stop,
    ScheduleAction::Restart,
    ScheduleAction::Pause,
    ScheduleAction::Unpause,
    ScheduleAction::Redeploy,
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
    kind: UseStateHandle<String>,
    target: UseStateHandle<String>,
    selector: UseStateHandle<String>,
    label: UseStateHandle<String>,
    keep: [UseStateHandle<String>; 4],
}

impl Fields {
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
        let name = self.target.trim().to_owned();
        let target = match self.kind.as_str() {
            _ if name.is_empty() => None,
            "project" => Some(BackupTarget::Project { name }),
            "volume" => Some(BackupTarget::Volume { name }),
            "network" => Some(BackupTarget::Network { name }),
            _ => Some(BackupTarget::Container { name }),
        };
        let selector = match self.selector.as_str() {
            "label" => Some(Selector::Label {
                value: self.label.trim().to_owned(),
            }),
            "all_projects" => Some(Selector::AllProjects),
            "all_containers" => Some(Selector::AllContainers),
            _ => None,
        };
        let [last, daily, weekly, monthly] = &self.keep;
        let retention = Retention {
            last: number(last),
            daily: number(daily),
            weekly: number(weekly),
            monthly: number(monthly),
            ..Default::default()
        };
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
            targets: target.into_iter().collect(),
            selector,
            backup: (action == ScheduleAction::Backup && retention != Retention::default()).then(
                || ScheduleBackup {
                    retention: Some(retention),
                    ..Default::default()
                },
            ),
            ..Default::default()
        }
    }
}

/// The initial values: a new schedule's defaults, or what `spec` holds (its
/// expression as a raw one: the builder cannot always tell which preset made it).
fn initial(spec: Option<&ScheduleSpec>) -> [String; 15] {
    let Some(s) = spec else {
        return [
            "",
            "backup",
            "daily",
            "02:30",
            "0",
            "1",
            "",
            "",
            "",
            "container",
            "",
            "none",
            "",
            "",
            "",
        ]
        .map(String::from);
    };
    let (kind, target) = s.targets.first().map_or(("container", String::new()), |t| {
        (t.kind(), t.name().to_owned())
    });
    let (selector, label) = match &s.selector {
        Some(Selector::Label { value }) => ("label", value.clone()),
        Some(Selector::AllProjects) => ("all_projects", String::new()),
        Some(Selector::AllContainers) => ("all_containers", String::new()),
        None => ("none", String::new()),
    };
    let keep = s
        .backup
        .as_ref()
        .and_then(|b| b.retention.clone())
        .unwrap_or_default();
    let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
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
        kind.to_owned(),
        target,
        selector.to_owned(),
        label,
        n(keep.last),
        n(keep.daily),
    ]
}

#[hook]
fn use_fields(spec: Option<&ScheduleSpec>) -> Fields {
    let keep = spec
        .and_then(|s| s.backup.as_ref())
        .and_then(|b| b.retention.clone())
        .unwrap_or_default();
    let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let (weekly, monthly) = (n(keep.weekly), n(keep.monthly));
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
        kind,
        target,
        selector,
        label,
        last,
        daily,
    ] = initial(spec);
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
        kind: use_state(move || kind),
        target: use_state(move || target),
        selector: use_state(move || selector),
        label: use_state(move || label),
        keep: [
            use_state(move || last),
            use_state(move || daily),
            use_state(move || weekly),
            use_state(move || monthly),
        ],
    }
}

#[derive(Properties, PartialEq)]
pub struct CreateProps {
    pub action: Action,
    /// The schedule being edited (its name cannot change); `None`: a new one.
    #[prop_or_default]
    pub editing: Option<ScheduleSpec>,
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
    let onsubmit = {
        let (action, f, base) = (props.action.clone(), f.clone(), props.editing.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let mut spec = f.spec();
            if let Some(base) = &base {
                // What the form does not show is kept as it was.
                spec.enabled = base.enabled;
                spec.jitter_s = base.jitter_s;
                spec.grace_s = base.grace_s;
                spec.host = base.host.clone();
                if let (Some(b), Some(old)) = (&mut spec.backup, &base.backup) {
                    b.consistency = old.consistency;
                    b.storage = old.storage.clone();
                    b.hooks = old.hooks.clone();
                    b.include_image = old.include_image;
                }
            }
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
                { for ACTIONS.iter().map(|a| html! { <option value={a.as_str()} selected={*f.action == a.as_str()}>{ a.as_str() }</option> }) }
            </select></label>
            { when_fields(&f) }
            { loaded(&preview, preview_view) }
            { target_fields(&f) }
            if *f.action == "backup" { { retention_fields(&f) } }
            if editing && *f.action == "backup" {
                <super::retention::RetentionPreviewPanel schedule={(*f.name).clone()} retention={f.spec().backup.and_then(|b| b.retention)} />
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
            <select id="schedule-preset" onchange={on_pick(&f.preset)}>
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
                <input id="schedule-time" type="time" value={(*f.time).clone()} oninput={on_text(&f.time)} />
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
    let kinds = ["container", "project", "volume", "network"];
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
            <select id="schedule-kind" onchange={on_pick(&f.kind)}>
                { for kinds.iter().map(|k| html! { <option value={*k} selected={*f.kind == *k}>{ *k }</option> }) }
            </select>
            <input id="schedule-target" value={(*f.target).clone()} oninput={on_text(&f.target)} placeholder="name" />
            <select id="schedule-selector" onchange={on_pick(&f.selector)}>
                { for selectors.iter().map(|(v, l)| html! { <option value={*v} selected={*f.selector == *v}>{ *l }</option> }) }
            </select>
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

fn retention_fields(f: &Fields) -> Html {
    let names = ["last", "daily", "weekly", "monthly"];
    html! {
        <fieldset id="schedule-retention"><legend>{ "Keep (empty: keep everything)" }</legend>
            { for names.iter().zip(f.keep.iter()).map(|(n, v)| html! {
                <label>{ format!("{n} ") }<input id={format!("schedule-keep-{n}")} type="number" min="1" value={(**v).clone()} oninput={on_text(v)} /></label>
            }) }
        </fieldset>
    }
}
