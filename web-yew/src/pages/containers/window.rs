//! Once a group shows every row ("Show all"), only the rows in and near the viewport
//! are in the DOM: with 500 rows, styling and laying out the whole table on each live
//! update took 30–70 ms a frame (docs/BENCHMARKS.md). Spacer rows stand for the rest,
//! so the page keeps its height and the scrollbar and a jump to the end behave as if
//! every row were there; the filter still searches all of them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::Element;
use yew::prelude::*;

/// The window moves in steps of this many rows and reaches a step beyond each edge
/// of the viewport, so fast scrolling shows no gap and scrolling re-renders the list
/// only every few hundred pixels.
const STEP: usize = 20;
/// A row's height until one has been measured (a desktop row).
const ROW_GUESS: f64 = 41.0;
/// Scroll positions become state rounded to this: a render per 200 px scrolled, not
/// one per scroll event.
const GRAIN: f64 = 200.0;
/// Columns of the containers table (the spacer cell spans them).
const COLUMNS: &str = "9";

/// The viewport's top (the page's scroll offset) and height, rounded to [`GRAIN`];
/// followed only while `active` (a group is windowed), so a scroll re-renders nothing
/// otherwise.
#[hook]
pub(super) fn use_viewport(active: bool) -> (f64, f64) {
    // `_eq`: a scroll that stays within the same rounded position renders nothing.
    let viewport = use_state_eq(measure_viewport);
    {
        let viewport = viewport.clone();
        use_effect_with(active, move |active| {
            let listener = active.then(|| {
                // Where the page is now: it may have scrolled since the first render.
                viewport.set(measure_viewport());
                let on_change =
                    Closure::<dyn FnMut()>::new(move || viewport.set(measure_viewport()));
                if let Some(w) = web_sys::window() {
                    for event in ["scroll", "resize"] {
                        let _ = w.add_event_listener_with_callback(
                            event,
                            on_change.as_ref().unchecked_ref(),
                        );
                    }
                }
                on_change
            });
            move || {
                if let (Some(c), Some(w)) = (listener, web_sys::window()) {
                    for event in ["scroll", "resize"] {
                        let _ = w
                            .remove_event_listener_with_callback(event, c.as_ref().unchecked_ref());
                    }
                }
            }
        });
    }
    *viewport
}

fn measure_viewport() -> (f64, f64) {
    let Some(w) = web_sys::window() else {
        return (0.0, 0.0);
    };
    let top = w.scroll_y().unwrap_or(0.0);
    let height = w
        .inner_height()
        .ok()
        .and_then(|h| h.as_f64())
        .unwrap_or(0.0);
    (
        (top / GRAIN).floor() * GRAIN,
        (height / GRAIN).ceil() * GRAIN,
    )
}

/// Each group's `<tbody>`, by group: a render measures where the previous one put the
/// rows (the same `NodeRef` each time, so it stays bound to the element).
#[derive(Clone, Default)]
pub(super) struct Bodies(Rc<RefCell<HashMap<String, NodeRef>>>);

impl Bodies {
    pub(super) fn node(&self, group: &str) -> NodeRef {
        self.0
            .borrow_mut()
            .entry(group.to_owned())
            .or_default()
            .clone()
    }
}

/// The rows of a group to render, and their height for the spacers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Slice {
    pub start: usize,
    pub end: usize,
    pub row: f64,
}

impl Slice {
    /// Which of a group's `len` rows to render for `viewport`, from where the previous
    /// render put the group's `body`: rows `start..end`, and the height a row is taken
    /// to have (for the spacers).
    pub(super) fn of(body: &NodeRef, len: usize, viewport: (f64, f64)) -> Self {
        let body = body.cast::<Element>();
        let row = body.as_ref().and_then(row_height).unwrap_or(ROW_GUESS);
        let Some(body) = body else {
            return Self {
                start: 0,
                end: len.min(3 * STEP),
                row,
            };
        };
        let scrolled = web_sys::window().and_then(|w| w.scroll_y().ok());
        let body_top = body.get_bounding_client_rect().top() + scrolled.unwrap_or(0.0);
        let (top, height) = viewport;
        let first = ((top - body_top) / row).floor().max(0.0) as usize;
        let visible = (height / row).ceil() as usize;
        let start = ((first / STEP).saturating_sub(1) * STEP).min(len.saturating_sub(STEP));
        let end = (((first + visible) / STEP + 2) * STEP).min(len);
        Self {
            start: start.min(end),
            end,
            row,
        }
    }

    /// The spacer standing for `rows` rows left out above (`top`) or below. Always
    /// rendered, at zero height when nothing is left out: [`row_height`] counts on a
    /// windowed body starting and ending with one.
    pub(super) fn spacer(&self, top: bool, rows: usize) -> Html {
        let class = if top { "spacer above" } else { "spacer below" };
        let style = format!("height:{:.0}px", rows as f64 * self.row);
        html! {
            <tr class={class} aria-hidden="true" {style}><td colspan={COLUMNS}></td></tr>
        }
    }
}

/// The average height of the rows a body holds (the spacers left out), once it holds
/// two or more.
fn row_height(body: &Element) -> Option<f64> {
    let first = body.first_element_child()?.next_element_sibling()?;
    let last = body.last_element_child()?.previous_element_sibling()?;
    let count = body.child_element_count().checked_sub(2)?;
    if count < 2 || !first.has_attribute("data-id") || !last.has_attribute("data-id") {
        return None;
    }
    let span = last.get_bounding_client_rect().bottom() - first.get_bounding_client_rect().top();
    (span > 0.0).then(|| span / f64::from(count))
}
