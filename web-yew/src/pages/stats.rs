//! Stats: every running container's CPU, memory, network and disk rates in one
//! sortable table, live from `container.stats` — the `docker stats` view. (The
//! Containers page shows CPU and memory beside the lifecycle; a container's own Stats
//! tab draws its history.)

use yew::prelude::*;
use yew_router::prelude::*;

use berth_protocol::api::streams::ContainerStats;

use crate::components::sort::sort_header;
use crate::format::bytes;
use crate::route::Route;
use crate::stats_feed::{Sampled, use_stats_feed};

/// A container whose last sample is this far behind the newest has stopped (the
/// stream says nothing when one does); it leaves the table.
const STALE_MS: u64 = 15_000;

/// A column the rows may be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Cpu,
    Memory,
    Received,
    Sent,
    Read,
    Written,
}

impl Column {
    const ALL: [(Column, &'static str, &'static str); 7] = [
        (Column::Name, "name", "Container"),
        (Column::Cpu, "cpu", "CPU"),
        (Column::Memory, "memory", "Memory"),
        (Column::Received, "net-in", "Net in"),
        (Column::Sent, "net-out", "Net out"),
        (Column::Read, "disk-read", "Disk read"),
        (Column::Written, "disk-write", "Disk write"),
    ];

    /// The counter a rate column is computed from.
    fn counter(self) -> Option<fn(&ContainerStats) -> u64> {
        Some(match self {
            Column::Received => |s| s.net_rx,
            Column::Sent => |s| s.net_tx,
            Column::Read => |s| s.blk_read,
            Column::Written => |s| s.blk_write,
            Column::Name | Column::Cpu | Column::Memory => return None,
        })
    }

    /// What the rows are compared by (a rate not known yet counts as nothing).
    fn figure(self, s: &Sampled) -> f64 {
        match self {
            Column::Cpu => s.last.cpu_percent,
            Column::Memory => s.last.mem_bytes as f64,
            other => other.counter().and_then(|c| s.rate(c)).unwrap_or(-1.0),
        }
    }
}

fn order(rows: &mut [&Sampled], (column, descending): (Column, bool)) {
    rows.sort_by(|a, b| {
        let by = match column {
            Column::Name => a.last.name.cmp(&b.last.name),
            figure => figure.figure(a).total_cmp(&figure.figure(b)),
        };
        let by = by.then_with(|| a.last.name.cmp(&b.last.name));
        if descending { by.reverse() } else { by }
    });
}

fn rate(s: &Sampled, column: Column) -> String {
    column
        .counter()
        .and_then(|c| s.rate(c))
        .map_or_else(|| "…".to_owned(), |r| format!("{}/s", bytes(r as u64)))
}

/// One container's row; on a phone each cell says what it is.
fn row(s: &Sampled) -> Html {
    let last = &s.last;
    let share = if last.mem_limit > 0 {
        format!(
            " ({:.0} %)",
            last.mem_bytes as f64 * 100.0 / last.mem_limit as f64
        )
    } else {
        String::new()
    };
    let cell = |label: &'static str, slug: &'static str, value: String| {
        html! { <td class={slug}><small class="card-label">{ label }</small>{ value }</td> }
    };
    html! {
        <tr key={last.id.clone()} data-id={last.id.clone()}>
            <td class="name"><Link<Route> to={Route::ContainerTab { id: last.id.clone(), tab: "stats".into() }}>
                { last.name.trim_start_matches('/') }</Link<Route>></td>
            { cell("CPU", "cpu", format!("{:.1} %", last.cpu_percent)) }
            <td class="memory" title={format!("of {}", bytes(last.mem_limit))}>
                <small class="card-label">{ "Memory" }</small>{ format!("{}{share}", bytes(last.mem_bytes)) }</td>
            { cell("Net in", "net-in", rate(s, Column::Received)) }
            { cell("Net out", "net-out", rate(s, Column::Sent)) }
            { cell("Disk read", "disk-read", rate(s, Column::Read)) }
            { cell("Disk write", "disk-write", rate(s, Column::Written)) }
        </tr>
    }
}

#[function_component(StatsPage)]
pub fn stats_page() -> Html {
    let samples = use_stats_feed();
    let samples = samples.borrow();
    let sort = use_state(|| (Column::Cpu, true));
    let newest = samples.values().map(|s| s.last.ts_ms).max().unwrap_or(0);
    let mut rows: Vec<&Sampled> = samples
        .values()
        .filter(|s| s.last.ts_ms + STALE_MS >= newest)
        .collect();
    order(&mut rows, *sort);
    let cpu: f64 = rows.iter().map(|s| s.last.cpu_percent).sum();
    let memory: u64 = rows.iter().map(|s| s.last.mem_bytes).sum();
    let body = if rows.is_empty() {
        html! { <p class="notice" id="stats-empty">{ "Waiting for samples: figures appear here for every running container within a few seconds. Nothing running? Start one on the Containers page." }</p> }
    } else {
        html! { <>
            <p id="stats-total">{ format!("{} running · CPU {cpu:.1} % in all · memory {} in all", rows.len(), bytes(memory)) }</p>
            <table class="grid" id="stats-table">
                <thead><tr>{ for Column::ALL.iter().map(|(c, slug, label)|
                    sort_header(&sort, *c, slug, label, *c != Column::Name)) }</tr></thead>
                <tbody>{ for rows.iter().map(|s| row(s)) }</tbody>
            </table>
        </> }
    };
    html! {
        <section class="page" data-page="stats">
            <h1>{ "Stats" }</h1>
            <p class="muted">{ "Live, about once a second; CPU 100 % is one core busy. A container's own Stats tab keeps an hour of history." }</p>
            { body }
        </section>
    }
}
