//! A container's log: followed live over the binary `container.logs` channel, kept in
//! a bounded ring (the newest 100,000 lines), rendered virtually (only the rows in view
//! are in the DOM, so a chatty container cannot freeze the tab), with search, ANSI
//! colours, stdout/stderr marking and download.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

use crate::hooks::on_text;
use crate::ws::{Closed, SubHandle, use_ws};

/// Lines kept; older ones fall off the front (counted, and said so).
const MAX_LINES: usize = 100_000;
/// Pixel height of one row; the CSS (`.log-line`) uses the same.
const LINE_H: f64 = 18.0;
/// Rows rendered above and below the viewport, so fast scrolling shows no gaps.
const OVERSCAN: usize = 20;
/// Bytes the server may send before the page has taken them.
const WINDOW: u32 = 256 * 1024;

#[derive(Debug, Default)]
pub struct LogBuf {
    pub lines: VecDeque<(u8, String)>,
    /// Unterminated tail per stream (1 stdout, 2 stderr).
    partial: [Vec<u8>; 3],
    pub dropped: u64,
    /// A render is already scheduled for the next animation frame.
    redraw_queued: bool,
}

impl LogBuf {
    pub fn push(&mut self, stream: u8, bytes: &[u8]) {
        let s = usize::from(stream.min(2));
        let mut rest = bytes;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.partial[s].extend_from_slice(&rest[..i]);
            let raw = std::mem::take(&mut self.partial[s]);
            let mut line = String::from_utf8_lossy(&raw).into_owned();
            if line.ends_with('\r') {
                line.pop();
            }
            self.lines.push_back((stream, line));
            rest = &rest[i + 1..];
        }
        self.partial[s].extend_from_slice(rest);
        while self.lines.len() > MAX_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
    }

    /// Flushes unterminated tails (the log ended).
    pub fn finish(&mut self) {
        for s in 1..3u8 {
            if !self.partial[usize::from(s)].is_empty() {
                self.push(s, b"\n");
            }
        }
    }
}

/// Splits a line into runs of text with the CSS class of their SGR colour; other
/// escape sequences are dropped.
pub fn ansi_runs(line: &str) -> Vec<(String, String)> {
    let mut runs = Vec::new();
    let mut class = String::new();
    let mut text = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            text.push(c);
            continue;
        }
        if chars.peek() != Some(&'[') {
            chars.next();
            continue;
        }
        chars.next();
        let mut params = String::new();
        let mut fin = None;
        for c in chars.by_ref() {
            if ('\u{40}'..='\u{7e}').contains(&c) {
                fin = Some(c);
                break;
            }
            params.push(c);
        }
        if fin != Some('m') {
            continue;
        }
        if !text.is_empty() {
            runs.push((class.clone(), std::mem::take(&mut text)));
        }
        let mut classes: Vec<String> = class.split_whitespace().map(str::to_owned).collect();
        for p in params.split(';') {
            match p.parse::<u8>().unwrap_or(0) {
                0 => classes.clear(),
                1 => classes.push("ansi-bold".to_owned()),
                n @ (30..=37 | 90..=97) => {
                    classes.retain(|c| !c.starts_with("ansi-fg"));
                    classes.push(format!("ansi-fg{n}"));
                }
                39 => classes.retain(|c| !c.starts_with("ansi-fg")),
                _ => {}
            }
        }
        class = classes.join(" ");
    }
    if !text.is_empty() || runs.is_empty() {
        runs.push((class, text));
    }
    runs
}

/// The line without escape sequences (search and download use it).
pub fn plain(line: &str) -> String {
    ansi_runs(line).into_iter().map(|(_, t)| t).collect()
}

#[derive(Debug, PartialEq, Properties)]
pub struct Props {
    pub id: String,
    pub name: String,
}

type Buffer = Rc<RefCell<LogBuf>>;

/// Follows the container's log into `buf` while the component lives, starting over when
/// `id` or the options change; `ended` says why the stream stopped.
#[hook]
fn use_log_stream(
    id: String,
    timestamps: bool,
    tail: u64,
    restart: u32,
) -> (Buffer, UseStateHandle<Option<String>>) {
    let ctx = use_ws();
    let buf = use_mut_ref(LogBuf::default);
    let redraw = use_force_update();
    let ended = use_state(|| None::<String>);
    let sub = use_mut_ref(|| None::<SubHandle>);
    let (ws, b, e) = (ctx.ws.clone(), buf.clone(), ended.clone());
    use_effect_with(
        (id, timestamps, tail, restart),
        move |(id, timestamps, tail, _)| {
            *b.borrow_mut() = LogBuf::default();
            e.set(None);
            let on_close = {
                let b = b.clone();
                Callback::from(move |c: Closed| {
                    b.borrow_mut().finish();
                    e.set(Some(match c.error {
                        Some(e) => e.message,
                        None => "The log ended (the container stopped).".to_owned(),
                    }));
                })
            };
            *sub.borrow_mut() = Some(ws.subscribe_binary(
            "container.logs",
            serde_json::json!({"id": id, "follow": true, "tail": tail, "timestamps": timestamps}),
            WINDOW,
            on_frames(b, redraw),
            on_close,
        ));
            move || {
                sub.borrow_mut().take();
            }
        },
    );
    (buf, ended)
}

/// Appends each frame; one render per animation frame, however many frames arrive in
/// it: a 100,000-line tail is a few dozen renders.
fn on_frames(buf: Buffer, redraw: UseForceUpdateHandle) -> Callback<(u8, Vec<u8>)> {
    Callback::from(move |(stream, bytes): (u8, Vec<u8>)| {
        let mut b = buf.borrow_mut();
        b.push(stream, &bytes);
        if !b.redraw_queued {
            b.redraw_queued = true;
            let (buf, redraw) = (buf.clone(), redraw.clone());
            let tick = Closure::once_into_js(move || {
                buf.borrow_mut().redraw_queued = false;
                redraw.force_update();
            });
            if let Some(w) = web_sys::window() {
                let _ = w.request_animation_frame(tick.unchecked_ref());
            }
        }
    })
}

/// Keeps the newest line in view while following; scrolling up stops following and
/// reaching the bottom resumes it. Returns the viewport's scroll handler.
#[hook]
fn use_follow(
    viewport: NodeRef,
    follow: UseStateHandle<bool>,
    scroll: UseStateHandle<(f64, f64)>,
) -> Callback<Event> {
    {
        let (viewport, follow) = (viewport.clone(), *follow);
        use_effect(move || {
            if follow && let Some(el) = viewport.cast::<web_sys::Element>() {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    let last_top = use_mut_ref(|| 0.0f64);
    Callback::from(move |_: Event| {
        let Some(el) = viewport.cast::<web_sys::Element>() else {
            return;
        };
        let (top, h) = (f64::from(el.scroll_top()), f64::from(el.client_height()));
        scroll.set((top, h));
        // Only a move *up* counts: a scroll event that lands while a batch of lines has
        // grown the log but not yet been scrolled to is not the user's.
        let at_bottom = top + h >= f64::from(el.scroll_height()) - 2.0 * LINE_H;
        let up = top + 1.0 < *last_top.borrow();
        *last_top.borrow_mut() = top;
        if at_bottom && !*follow {
            follow.set(true);
        } else if up && !at_bottom && *follow {
            follow.set(false);
        }
    })
}

/// The rows in view (of the lines matching `query`), where they start, and how many
/// lines match. Without a search no index is built: renders stay O(rows in view)
/// while a log streams.
fn visible(b: &LogBuf, query: &str, (top, height): (f64, f64)) -> (Html, usize, usize) {
    let q = query.to_lowercase();
    let matches: Option<Vec<usize>> = (!q.is_empty()).then(|| {
        b.lines
            .iter()
            .enumerate()
            .filter(|(_, (_, l))| plain(l).to_lowercase().contains(&q))
            .map(|(i, _)| i)
            .collect()
    });
    let shown = matches.as_ref().map_or(b.lines.len(), Vec::len);
    let first = ((top / LINE_H) as usize).saturating_sub(OVERSCAN);
    let count = (height / LINE_H) as usize + 2 * OVERSCAN;
    let last = (first + count).min(shown);
    let first = first.min(last);
    let rows = (first..last).map(|k| {
        let i = matches.as_ref().map_or(k, |m| m[k]);
        let (stream, line) = &b.lines[i];
        html! {
            <div class={classes!("log-line", (*stream == 2).then_some("stderr"))}>
            { for ansi_runs(line).into_iter().map(|(class, text)| if class.is_empty() {
                html! { text }
            } else {
                html! { <span class={class}>{ text }</span> }
            }) }
            </div>
        }
    });
    (rows.collect(), first, shown)
}

/// A callback that flips a boolean state.
fn toggle(flag: &UseStateHandle<bool>) -> Callback<MouseEvent> {
    let flag = flag.clone();
    Callback::from(move |_| flag.set(!*flag))
}

#[function_component(LogsView)]
pub fn logs_view(props: &Props) -> Html {
    let follow = use_state(|| true);
    let timestamps = use_state(|| false);
    let tail = use_state(|| 1000u64);
    let restart = use_state(|| 0u32);
    let query = use_state(String::new);
    let scroll = use_state(|| (0.0f64, 400.0f64));
    let viewport = use_node_ref();
    let (buf, ended) = use_log_stream(props.id.clone(), *timestamps, *tail, *restart);
    let onscroll = use_follow(viewport.clone(), follow.clone(), scroll.clone());
    let ondownload = {
        let (buf, name) = (buf.clone(), props.name.clone());
        Callback::from(move |_| {
            let text: String = buf
                .borrow()
                .lines
                .iter()
                .map(|(_, l)| plain(l) + "\n")
                .collect();
            let _ = crate::http::download(&format!("{name}.log"), "text/plain", &text);
        })
    };
    let on_tail = {
        let tail = tail.clone();
        Callback::from(move |e: Event| {
            if let Ok(v) = crate::hooks::picked(&e).parse() {
                tail.set(v);
            }
        })
    };
    let on_restart = {
        let restart = restart.clone();
        Callback::from(move |_| restart.set(restart.wrapping_add(1)))
    };
    let b = buf.borrow();
    let (rows, first, shown_len) = visible(&b, &query, *scroll);
    html! {
        <div class="logs" id="logs">
            <div class="toolbar">
                <input type="search" id="log-search" placeholder="Search the log" value={(*query).clone()} oninput={on_text(&query)} />
                <label><input type="checkbox" id="log-follow" checked={*follow} onclick={toggle(&follow)} />{ " Follow" }</label>
                <label><input type="checkbox" id="log-timestamps" checked={*timestamps} onclick={toggle(&timestamps)} />{ " Timestamps" }</label>
                <label>{ "Last " }<select id="log-tail" onchange={on_tail}>
                    { for [100u64, 1000, 10_000, 100_000].iter().map(|&n| html! {
                        <option value={n.to_string()} selected={*tail == n}>{ n.to_string() }</option>
                    }) }
                </select>{ " lines" }</label>
                <button type="button" class="small" id="log-download" onclick={ondownload}>{ "Download" }</button>
                <span class="muted" id="log-count">{ format!("{} of {} lines", shown_len, b.lines.len()) }
                    if b.dropped > 0 { { format!(" ({} older lines dropped)", b.dropped) } }</span>
            </div>
            <div class="log-viewport" ref={viewport} {onscroll}>
                <div class="log-canvas" style={format!("height:{}px", shown_len as f64 * LINE_H)}>
                    <div class="log-rows" style={format!("transform:translateY({}px)", first as f64 * LINE_H)}>
                        { rows }
                    </div>
                </div>
            </div>
            if let Some(why) = &*ended {
                <p class="notice" id="log-ended">{ why }{ " " }
                    <button type="button" class="small" id="log-restart" onclick={on_restart}>{ "Reload" }</button></p>
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_frames_and_streams_join_correctly() {
        let mut b = LogBuf::default();
        b.push(1, b"hel");
        b.push(2, b"oops\n");
        b.push(1, b"lo\r\nworld\n");
        b.push(1, b"tail");
        b.finish();
        let lines: Vec<_> = b.lines.iter().map(|(s, l)| (*s, l.as_str())).collect();
        assert_eq!(
            lines,
            vec![(2, "oops"), (1, "hello"), (1, "world"), (1, "tail")]
        );
    }

    #[test]
    fn the_ring_keeps_the_newest_lines_and_counts_the_rest() {
        let mut b = LogBuf::default();
        for i in 0..MAX_LINES + 5 {
            b.push(1, format!("{i}\n").as_bytes());
        }
        assert_eq!(b.lines.len(), MAX_LINES);
        assert_eq!(b.dropped, 5);
        assert_eq!(b.lines[0].1, "5");
    }

    #[test]
    fn sgr_colours_become_classes_and_other_escapes_vanish() {
        let runs = ansi_runs("\u{1b}[1;31mERR\u{1b}[0m ok\u{1b}[2K!");
        assert_eq!(
            runs,
            vec![
                ("ansi-bold ansi-fg31".to_owned(), "ERR".to_owned()),
                (String::new(), " ok!".to_owned())
            ]
        );
        assert_eq!(plain("\u{1b}[32mgreen\u{1b}[39m"), "green");
        assert_eq!(ansi_runs(""), vec![(String::new(), String::new())]);
    }
}
