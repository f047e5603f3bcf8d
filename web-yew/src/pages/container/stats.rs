//! A container's live figures from `container.stats` (one sampler on the host feeds
//! every viewer): labelled charts of CPU, memory, network and block I/O over the last
//! minute, 15 minutes or hour. The samples are kept in this tab's memory per container
//! (an hour of them, for the last few containers watched), so leaving the Stats tab
//! and coming back keeps the history; nothing is stored on the server.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use berth_protocol::api::streams::ContainerStats;
use yew::prelude::*;

use crate::components::chart::{Chart, Series};
use crate::format::bytes;
use crate::ws::use_ws;

/// An hour of samples at about one a second.
const KEEP: usize = 3600;
/// Containers whose history is kept (the least recently watched goes first).
const CONTAINERS: usize = 8;
/// The windows offered, in seconds, with their button labels.
const WINDOWS: [(u64, &str); 3] = [(60, "1 min"), (900, "15 min"), (3600, "1 hour")];

/// Samples per container id, and the ids in the order they were last watched.
type Kept = (HashMap<String, VecDeque<ContainerStats>>, VecDeque<String>);

thread_local! {
    static HISTORY: RefCell<Kept> = RefCell::default();
}

/// Adds a sample to `id`'s history, forgetting the oldest sample and container.
fn remember(id: &str, sample: ContainerStats) {
    HISTORY.with_borrow_mut(|(by_id, order)| {
        order.retain(|i| i != id);
        order.push_back(id.to_owned());
        while order.len() > CONTAINERS {
            if let Some(old) = order.pop_front() {
                by_id.remove(&old);
            }
        }
        let h = by_id.entry(id.to_owned()).or_default();
        // Only the figures: the history is copied at every redraw, and without its
        // strings a copy allocates nothing.
        h.push_back(ContainerStats {
            id: String::new(),
            name: String::new(),
            time: String::new(),
            ..sample
        });
        while h.len() > KEEP {
            h.pop_front();
        }
    });
}

fn history(id: &str) -> Vec<ContainerStats> {
    HISTORY.with_borrow(|(by_id, _)| {
        by_id
            .get(id)
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    })
}

/// Per-second rates of a counter between consecutive samples.
fn rates(h: &[ContainerStats], counter: fn(&ContainerStats) -> u64) -> Vec<(u64, f64)> {
    h.windows(2)
        .filter(|w| w[1].ts_ms > w[0].ts_ms)
        .map(|w| {
            let seconds = (w[1].ts_ms - w[0].ts_ms) as f64 / 1000.0;
            let delta = counter(&w[1]).saturating_sub(counter(&w[0])) as f64;
            (w[1].ts_ms, delta / seconds)
        })
        .collect()
}

fn per_second(v: f64) -> String {
    format!("{}/s", bytes(v as u64))
}

#[derive(Debug, PartialEq, Properties)]
pub struct Props {
    pub id: String,
}

#[function_component(StatsView)]
pub fn stats_view(props: &Props) -> Html {
    let ctx = use_ws();
    let redraw = use_force_update();
    let window = use_state(|| WINDOWS[0].0);
    {
        let (ws, redraw) = (ctx.ws.clone(), redraw.clone());
        use_effect_with(props.id.clone(), move |id| {
            let key = id.clone();
            let on_data = Callback::from(move |v| {
                if let Ok(s) = serde_json::from_value::<ContainerStats>(v) {
                    remember(&key, s);
                    redraw.force_update();
                }
            });
            let sub = ws.subscribe(
                "container.stats",
                serde_json::json!({"ids": [id]}),
                1,
                on_data,
                Callback::noop(),
            );
            move || drop(sub)
        });
    }
    let h = history(&props.id);
    let Some(now) = h.last() else {
        return html! { <p class="notice" id="stats-waiting">{ "Waiting for the first samples (CPU needs two)…" }</p> };
    };
    let picker = WINDOWS.map(|(seconds, label)| {
        let pressed = (*window == seconds).to_string();
        let window = window.clone();
        let onclick = Callback::from(move |_| window.set(seconds));
        html! { <button type="button" class="small" id={format!("stats-window-{seconds}")}
        aria-pressed={pressed} {onclick}>{ label }</button> }
    });
    let chart = |id, title, series, floor_max, format: fn(f64) -> String| {
        Chart {
            id,
            title,
            series,
            window_s: *window,
            now_ms: now.ts_ms,
            floor_max,
            format,
        }
        .view()
    };
    let points = |f: fn(&ContainerStats) -> f64| -> Vec<(u64, f64)> {
        h.iter().map(|s| (s.ts_ms, f(s))).collect()
    };
    let series = |label, points, class| Series {
        label,
        points,
        class,
    };
    html! {
        <div id="container-stats" data-ts={now.ts_ms.to_string()}>
            <div class="toolbar" role="group" aria-label="Time window">{ for picker }
                <span class="sub">{ format!("{} of history kept while this tab is open", crate::components::chart::ago(h.last().map_or(0, |l| l.ts_ms.saturating_sub(h[0].ts_ms) / 1000)).trim_start_matches('−')) }</span></div>
            <p class="tiles">
                <span class="tile"><span class="label">{ "CPU" }</span><span class="value" id="stats-cpu">{ format!("{:.1} %", now.cpu_percent) }</span></span>
                <span class="tile"><span class="label">{ "Memory" }</span><span class="value" id="stats-mem">{ format!("{} of {}", bytes(now.mem_bytes), bytes(now.mem_limit)) }</span></span>
                <span class="tile"><span class="label">{ "Processes" }</span><span class="value">{ now.pids.map_or("—".to_owned(), |p| p.to_string()) }</span></span>
            </p>
            <div class="charts">
                { chart("chart-cpu", "CPU (100 % = one core)", vec![series("CPU", points(|s| s.cpu_percent), "series-a")], 100.0, |v| format!("{v:.0} %")) }
                { chart("chart-mem", "Memory", vec![series("used", points(|s| s.mem_bytes as f64), "series-a")], 1024.0 * 1024.0, |v| bytes(v as u64)) }
                { chart("chart-net", "Network", vec![series("received", rates(&h, |s| s.net_rx), "series-a"), series("sent", rates(&h, |s| s.net_tx), "series-b")], 1024.0, per_second) }
                { chart("chart-blk", "Block I/O", vec![series("read", rates(&h, |s| s.blk_read), "series-a"), series("written", rates(&h, |s| s.blk_write), "series-b")], 1024.0, per_second) }
            </div>
        </div>
    }
}
