//! "Recent activity": Docker's events and Berth's own, from just before the page
//! opened (the server's replay) and live after, each in words with where to look and
//! whether it went wrong; Berth's helper containers left out.

use std::collections::VecDeque;

use berth_protocol::api::events::Event;
use yew::prelude::*;
use yew_router::prelude::Link;

use crate::hooks::on_pick;
use crate::route::Route;
use crate::ws::use_ws;

/// Events listed.
const RECENT: usize = 15;

/// Docker's event types.
pub const DOCKER: [&str; 5] = ["container", "image", "volume", "network", "host"];
/// Berth's own.
pub const BERTH: [&str; 4] = ["job", "backup", "plugin", "schedule"];

/// The types a choice of the list's filter shows.
fn types_of(scope: &str) -> Vec<&'static str> {
    match scope {
        "berth" => BERTH.to_vec(),
        "docker" => DOCKER.to_vec(),
        _ => DOCKER.iter().chain(BERTH.iter()).copied().collect(),
    }
}

/// The list, with a filter: everything, Berth's work, or Docker's events.
#[function_component(RecentActivity)]
pub fn recent_activity() -> Html {
    let ctx = use_ws();
    let scope = use_state(|| "all".to_owned());
    let recent = use_mut_ref(VecDeque::<Event>::new);
    let redraw = use_force_update();
    {
        let ws = ctx.ws.clone();
        let (recent, redraw) = (recent.clone(), redraw.clone());
        use_effect_with((*scope).clone(), move |scope| {
            recent.borrow_mut().clear();
            redraw.force_update();
            let on_data = Callback::from(move |v| {
                let Ok(e) = serde_json::from_value::<Event>(v) else {
                    return;
                };
                let mut list = recent.borrow_mut();
                // A reconnect replays what the list may hold already.
                if list.iter().any(|seen| seen.cursor == e.cursor) {
                    return;
                }
                list.push_front(e);
                list.truncate(RECENT);
                drop(list);
                redraw.force_update();
            });
            let sub = ws.subscribe(
                "events",
                serde_json::json!({
                    "replay": RECENT,
                    "filters": {"types": types_of(scope), "exclude_helpers": true},
                }),
                64,
                on_data,
                Callback::noop(),
            );
            move || drop(sub)
        });
    }
    let choose = on_pick(&scope);
    html! {
        <>
        <div class="section-head">
            <h2>{ "Recent activity" }</h2>
            <label>{ "Show " }
                <select id="recent-scope" onchange={choose}>
                { for [("all", "everything"), ("berth", "Berth's work"), ("docker", "Docker events")].into_iter().map(|(value, label)| html! {
                    <option value={value} selected={*scope == value}>{ label }</option>
                }) }
                </select>
            </label>
        </div>
        { list_view(&recent.borrow()) }
        </>
    }
}

/// The newest events first; failures stand out, and each links where to look.
fn list_view(recent: &VecDeque<Event>) -> Html {
    if recent.is_empty() {
        return html! { <p class="muted" id="recent-empty">{ "Nothing has happened since Berth started." }</p> };
    }
    html! {
        <ul class="events" id="recent-events">
        { for recent.iter().map(|e| {
            let (text, route) = describe(e);
            html! {
                <li class={classes!(failed(e).then_some("failed"))} data-type={e.typ.clone()} data-action={e.action.clone()}>
                    <span class="muted">{ crate::components::moment_text(&e.time) }</span>{ " " }
                    { match route {
                        Some(route) => html! { <Link<Route> to={route}>{ text }</Link<Route>> },
                        None => html! { { text } },
                    } }
                    if let Some(m) = e.message.as_ref().filter(|_| failed(e)) {
                        <span class="event-detail">{ format!(" — {m}") }</span>
                    }
                </li>
            }
        }) }
        </ul>
    }
}

/// Whether `e` can change the Docker counts on the dashboard.
pub fn changes_counts(e: &Event) -> bool {
    match e.typ.as_str() {
        "container" => matches!(
            e.action.as_str(),
            "start" | "die" | "destroy" | "create" | "pause" | "unpause"
        ),
        t => !BERTH.contains(&t),
    }
}

/// Whether `e` reports something gone wrong (shown in the warning colour).
pub fn failed(e: &Event) -> bool {
    match (e.typ.as_str(), e.action.as_str()) {
        ("job", "finished") => e.state.as_deref() == Some("failed"),
        ("plugin", "unhealthy") | ("schedule", "failed" | "missed") | ("container", "oom") => true,
        ("schedule", "finished") => e.state.as_deref() == Some("failed"),
        ("container", "die") => e.exit_code.is_some_and(|c| c != 0),
        _ => false,
    }
}

/// The sentence for `e`, and the page that shows its object.
pub fn describe(e: &Event) -> (String, Option<Route>) {
    let name = e
        .name
        .clone()
        .unwrap_or_else(|| e.id.chars().take(12).collect());
    let action = e.action.as_str();
    match e.typ.as_str() {
        "container" => (
            format!("Container {name} {}", container_verb(e)),
            (action != "destroy").then(|| Route::Container { id: e.id.clone() }),
        ),
        "job" => (
            match action {
                "finished" => format!("{name}: {}", e.state.as_deref().unwrap_or("finished")),
                other => format!("{name}: {other}"),
            },
            Some(Route::Job { id: e.id.clone() }),
        ),
        "backup" => (
            format!(
                "Backup of {} {name} {action}",
                e.kind.as_deref().unwrap_or("target")
            ),
            Some(Route::Backups),
        ),
        "plugin" => (
            format!(
                "Plugin {name} {}",
                if action == "recovered" {
                    "recovered"
                } else {
                    "is unhealthy"
                }
            ),
            Some(Route::Plugins),
        ),
        "schedule" => (
            match (action, e.state.as_deref()) {
                ("finished", Some(state)) => format!("Schedule {name}: run {state}"),
                _ => format!("Schedule {name} {action}"),
            },
            Some(Route::Schedules),
        ),
        "host" => (format!("Docker {action}"), None),
        typ => (
            format!("{} {name} {}", capitalised(typ), past_tense(action)),
            match typ {
                "volume" => Some(Route::Volumes),
                "image" => Some(Route::Images),
                "network" => Some(Route::Networks),
                _ => None,
            },
        ),
    }
}

/// A container action as people say it.
fn container_verb(e: &Event) -> String {
    match e.action.as_str() {
        "create" => "created".to_owned(),
        "start" => "started".to_owned(),
        "restart" => "restarted".to_owned(),
        "pause" => "paused".to_owned(),
        "unpause" => "resumed".to_owned(),
        "kill" => "killed".to_owned(),
        "destroy" => "removed".to_owned(),
        "rename" => "renamed".to_owned(),
        "oom" => "ran out of memory".to_owned(),
        "die" => match e.exit_code {
            Some(0) | None => "stopped".to_owned(),
            Some(code) => format!("exited with code {code}"),
        },
        other => other.to_owned(),
    }
}

/// Docker's verbs for images, volumes and networks, as done.
fn past_tense(action: &str) -> &str {
    match action {
        "create" => "created",
        "destroy" => "removed",
        "delete" => "deleted",
        "pull" => "pulled",
        "push" => "pushed",
        "tag" => "tagged",
        "untag" => "untagged",
        "prune" => "pruned",
        "connect" => "connected",
        "disconnect" => "disconnected",
        "mount" => "mounted",
        "unmount" => "unmounted",
        other => other,
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(typ: &str, action: &str) -> Event {
        Event {
            typ: typ.into(),
            action: action.into(),
            id: "abcdef0123456789".into(),
            name: Some("web".into()),
            stack: None,
            state: None,
            exit_code: None,
            kind: None,
            job: None,
            message: None,
            helper: false,
            time: String::new(),
            cursor: String::new(),
        }
    }

    #[test]
    fn events_read_as_sentences_and_failures_stand_out() {
        let mut died = event("container", "die");
        died.exit_code = Some(137);
        assert_eq!(describe(&died).0, "Container web exited with code 137");
        assert!(failed(&died));
        let mut job = event("job", "finished");
        job.state = Some("failed".into());
        assert_eq!(describe(&job).0, "web: failed");
        assert!(failed(&job));
        let mut backup = event("backup", "created");
        backup.kind = Some("volume".into());
        assert_eq!(describe(&backup).0, "Backup of volume web created");
        assert!(!failed(&backup));
        assert_eq!(describe(&event("volume", "create")).0, "Volume web created");
        assert!(!changes_counts(&job));
        assert!(changes_counts(&event("image", "pull")));
    }
}
