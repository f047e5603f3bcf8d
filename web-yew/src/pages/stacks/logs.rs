//! A stack's combined logs: every container's log (the last 200 lines, then as they
//! come) interleaved by Docker's timestamps, each line led by its service's name in
//! that service's colour. Opened on demand — one `container.logs` channel per
//! container — and closed with the page.

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use crate::ws::{SubHandle, use_ws};

/// Lines kept; the oldest go first.
const MAX_LINES: usize = 5_000;
const TAIL: u64 = 200;
const WINDOW: u32 = 256 * 1024;

#[derive(Properties, PartialEq)]
pub struct LogsProps {
    /// (service, container id), one per container.
    pub containers: Vec<(String, String)>,
}

/// The merged lines, sorted by timestamp, and each channel's unfinished line.
#[derive(Debug, Default)]
struct Merged {
    partial: Vec<Vec<u8>>,
    /// (sort key, container index, text).
    lines: Vec<(String, usize, String)>,
}

impl Merged {
    fn push(&mut self, from: usize, bytes: &[u8]) {
        if self.partial.len() <= from {
            self.partial.resize(from + 1, Vec::new());
        }
        self.partial[from].extend_from_slice(bytes);
        while let Some(end) = self.partial[from].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial[from].drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            let (key, text) = berth_protocol::api::streams::log_sort_key(&text);
            let at = self.lines.partition_point(|l| l.0 <= key);
            self.lines.insert(at, (key, from, text));
        }
        if self.lines.len() > MAX_LINES {
            let excess = self.lines.len() - MAX_LINES;
            self.lines.drain(..excess);
        }
    }
}

#[function_component(StackLogs)]
pub fn stack_logs(props: &LogsProps) -> Html {
    let ctx = use_ws();
    let open = use_state(|| false);
    let merged = use_mut_ref(Merged::default);
    let redraw = use_force_update();
    {
        let (ws, merged, redraw) = (ctx.ws.clone(), merged.clone(), redraw.clone());
        use_effect_with(
            (*open, props.containers.clone()),
            move |(open, containers)| {
                *merged.borrow_mut() = Merged::default();
                let subs: Rc<RefCell<Vec<SubHandle>>> = Rc::default();
                if *open {
                    for (i, (_, id)) in containers.iter().enumerate() {
                        let (merged, redraw) = (merged.clone(), redraw.clone());
                        let on_bytes = Callback::from(move |(_, bytes): (u8, Vec<u8>)| {
                            merged.borrow_mut().push(i, &bytes);
                            redraw.force_update();
                        });
                        let params = serde_json::json!({"id": id, "follow": true, "tail": TAIL, "timestamps": true});
                        subs.borrow_mut().push(ws.subscribe_binary(
                            "container.logs",
                            params,
                            WINDOW,
                            on_bytes,
                            Callback::noop(),
                        ));
                    }
                }
                move || subs.borrow_mut().clear()
            },
        );
    }
    let toggle = {
        let open = open.clone();
        Callback::from(move |_| open.set(!*open))
    };
    let width = props
        .containers
        .iter()
        .map(|(s, _)| s.len())
        .max()
        .unwrap_or(0);
    html! {
        <div class="stack-logs">
            <button type="button" id="stack-logs-open" onclick={toggle}>{ if *open { "Hide combined logs" } else { "Combined logs" } }</button>
            if *open {
                <pre class="log mono" id="stack-logs">{ for merged.borrow().lines.iter().map(|(_, from, text)| {
                    let service = props.containers.get(*from).map(|c| c.0.as_str()).unwrap_or("?");
                    html! { <><span class={format!("svc svc-{}", from % 6)}>{ format!("{service:<width$} | ") }</span>{ text }{ "\n" }</> }
                }) }</pre>
            }
        </div>
    }
}
