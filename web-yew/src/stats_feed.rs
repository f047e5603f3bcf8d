//! Every running container's figures from one `container.stats` subscription
//! (`ids: []`), for the pages that list them all (Containers, Stats). Samples fill a
//! map as they come; the page redraws at most once a second, whatever the number of
//! containers — with 500, a redraw per sample would be 500 a second.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use berth_protocol::api::streams::ContainerStats;
use yew::prelude::*;

use crate::ws::use_ws;

/// How often a page fed by the samples is redrawn.
const REDRAW_MS: i32 = 1_000;

/// A container's last sample and the one before it (for rates).
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub last: ContainerStats,
    pub previous: Option<ContainerStats>,
}

impl Sampled {
    /// Bytes per second of a counter between the two samples (none before the
    /// second sample, or when the counter went back: the container restarted).
    pub fn rate(&self, counter: fn(&ContainerStats) -> u64) -> Option<f64> {
        let previous = self.previous.as_ref()?;
        let seconds = self.last.ts_ms.checked_sub(previous.ts_ms)? as f64 / 1000.0;
        let grown = counter(&self.last).checked_sub(counter(previous))?;
        (seconds > 0.0).then(|| grown as f64 / seconds)
    }
}

/// By container id.
pub type Samples = HashMap<String, Sampled>;

/// The samples so far, filled as they come (read it while rendering; nothing is
/// copied per render).
#[hook]
pub fn use_stats_feed() -> Rc<RefCell<Samples>> {
    let ctx = use_ws();
    let samples = use_mut_ref(Samples::new);
    let redraw = use_force_update();
    {
        let samples = samples.clone();
        use_effect_with((), move |()| {
            let redraw =
                crate::hooks::coalesced(Callback::from(move |()| redraw.force_update()), REDRAW_MS);
            let on_data = Callback::from(move |v| {
                if let Ok(s) = serde_json::from_value::<ContainerStats>(v) {
                    let mut all = samples.borrow_mut();
                    let previous = all.remove(&s.id).map(|p| p.last);
                    all.insert(s.id.clone(), Sampled { last: s, previous });
                    redraw.emit(());
                }
            });
            let sub = ctx.ws.subscribe(
                "container.stats",
                serde_json::json!({"ids": []}),
                256,
                on_data,
                Callback::noop(),
            );
            move || drop(sub)
        });
    }
    samples
}
