//! A container's live figures from `container.stats` (one sampler on the host feeds
//! every viewer): CPU and memory with a two-minute chart each, network and block I/O
//! with their current rates.

use std::collections::VecDeque;

use berth_protocol::api::streams::ContainerStats;
use yew::prelude::*;

use crate::format::bytes;
use crate::ws::use_ws;

/// Samples kept for the charts (about one a second).
const HISTORY: usize = 120;

#[derive(Debug, PartialEq, Properties)]
pub struct Props {
    pub id: String,
}

/// An SVG polyline of `values` scaled to `max` (a sparkline; no axes needed to read
/// a trend).
pub fn sparkline(values: &[f64], max: f64, id: &str) -> Html {
    let (w, h) = (240.0, 48.0);
    let max = if max > 0.0 { max } else { 1.0 };
    let step = w / (HISTORY.max(2) - 1) as f64;
    let offset = (HISTORY.saturating_sub(values.len())) as f64 * step;
    let points: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1} ",
                offset + i as f64 * step,
                h - (v / max).clamp(0.0, 1.0) * h
            )
        })
        .collect();
    html! {
        <svg class="spark" id={id.to_owned()} viewBox={format!("0 0 {w} {h}")} preserveAspectRatio="none" role="img">
            <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />
        </svg>
    }
}

/// Bytes per second between two counters.
fn rate(
    prev: Option<&ContainerStats>,
    now: &ContainerStats,
    f: fn(&ContainerStats) -> u64,
) -> String {
    let Some(p) = prev else {
        return "—".to_owned();
    };
    let dt = now.ts_ms.saturating_sub(p.ts_ms) as f64 / 1000.0;
    if dt <= 0.0 {
        return "—".to_owned();
    }
    format!(
        "{}/s",
        bytes((f(now).saturating_sub(f(p)) as f64 / dt) as u64)
    )
}

#[function_component(StatsView)]
pub fn stats_view(props: &Props) -> Html {
    let ctx = use_ws();
    let history = use_mut_ref(VecDeque::<ContainerStats>::new);
    let redraw = use_force_update();
    {
        let (ws, history, redraw) = (ctx.ws.clone(), history.clone(), redraw.clone());
        use_effect_with(props.id.clone(), move |id| {
            history.borrow_mut().clear();
            let on_data = Callback::from(move |v| {
                if let Ok(s) = serde_json::from_value::<ContainerStats>(v) {
                    let mut h = history.borrow_mut();
                    h.push_back(s);
                    while h.len() > HISTORY {
                        h.pop_front();
                    }
                    drop(h);
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
    let h = history.borrow();
    let Some(now) = h.back() else {
        return html! { <p class="notice" id="stats-waiting">{ "Waiting for the first samples (CPU needs two)…" }</p> };
    };
    let prev = h.len().checked_sub(2).and_then(|i| h.get(i));
    let cpu: Vec<f64> = h.iter().map(|s| s.cpu_percent).collect();
    let mem: Vec<f64> = h.iter().map(|s| s.mem_bytes as f64).collect();
    let cpu_max = cpu.iter().copied().fold(100.0, f64::max);
    html! {
        <div class="tiles" id="container-stats" data-ts={now.ts_ms.to_string()}>
            <div class="tile"><span class="label">{ "CPU" }</span>
                <span class="value" id="stats-cpu">{ format!("{:.1} %", now.cpu_percent) }</span>
                { sparkline(&cpu, cpu_max, "spark-cpu") }</div>
            <div class="tile"><span class="label">{ "Memory" }</span>
                <span class="value" id="stats-mem">{ format!("{} of {}", bytes(now.mem_bytes), bytes(now.mem_limit)) }</span>
                { sparkline(&mem, now.mem_limit as f64, "spark-mem") }</div>
            <div class="tile"><span class="label">{ "Network" }</span>
                <span class="value" id="stats-net">{ format!("↓ {} ↑ {}", rate(prev, now, |s| s.net_rx), rate(prev, now, |s| s.net_tx)) }</span>
                <span class="sub">{ format!("total ↓ {} ↑ {}", bytes(now.net_rx), bytes(now.net_tx)) }</span></div>
            <div class="tile"><span class="label">{ "Block I/O" }</span>
                <span class="value" id="stats-blk">{ format!("read {} write {}", rate(prev, now, |s| s.blk_read), rate(prev, now, |s| s.blk_write)) }</span>
                <span class="sub">{ format!("total read {} written {}{}", bytes(now.blk_read), bytes(now.blk_write),
                    now.pids.map(|p| format!(", {p} processes")).unwrap_or_default()) }</span></div>
        </div>
    }
}
