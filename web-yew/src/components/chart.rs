//! A time chart as SVG: one or two labelled lines over a window of time, with the
//! value axis (0, half, top) and the time axis (the window's start, its middle, now)
//! written out, and a legend with each line's latest value. Pure: the caller gives
//! the points; no JavaScript charting library, so nothing to load.

use yew::prelude::*;

/// Plot area inside the 600×170 view box (room on the left for the value labels and
/// below for the time labels).
const LEFT: f64 = 64.0;
const RIGHT: f64 = 592.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 140.0;
/// Most points drawn per line: one per two pixels is as fine as the eye sees.
const MAX_POINTS: usize = 264;

/// One line: its name, its points (milliseconds since the epoch, value) and its
/// colour class.
pub struct Series<'a> {
    pub label: &'a str,
    pub points: Vec<(u64, f64)>,
    pub class: &'static str,
}

/// What the chart shows.
pub struct Chart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub series: Vec<Series<'a>>,
    /// The window, in seconds, ending at `now_ms`.
    pub window_s: u64,
    pub now_ms: u64,
    /// The value axis' top (at least this; raised to the highest point shown).
    pub floor_max: f64,
    /// How a value reads ("12 %", "3.4 MiB/s").
    pub format: fn(f64) -> String,
}

/// Keeps the points inside the window and, when there are more than the chart can
/// show, the highest of each run (a spike must not vanish by thinning).
pub fn thin(points: &[(u64, f64)], from_ms: u64) -> Vec<(u64, f64)> {
    let shown: Vec<(u64, f64)> = points
        .iter()
        .copied()
        .filter(|(t, _)| *t >= from_ms)
        .collect();
    if shown.len() <= MAX_POINTS {
        return shown;
    }
    let run = shown.len().div_ceil(MAX_POINTS);
    shown
        .chunks(run)
        .filter_map(|c| {
            let top = c.iter().map(|p| p.1).fold(f64::MIN, f64::max);
            c.last().map(|(t, _)| (*t, top))
        })
        .collect()
}

/// "−15 min", "−30 s": how long before now.
pub fn ago(seconds: u64) -> String {
    if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("−{} min", seconds / 60)
    } else if seconds >= 60 {
        format!("−{:.1} min", seconds as f64 / 60.0)
    } else {
        format!("−{seconds} s")
    }
}

impl Chart<'_> {
    pub fn view(&self) -> Html {
        let from = self.now_ms.saturating_sub(self.window_s * 1000);
        let lines: Vec<(&Series<'_>, Vec<(u64, f64)>)> = self
            .series
            .iter()
            .map(|s| (s, thin(&s.points, from)))
            .collect();
        let highest = lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|x| x.1))
            .fold(0.0, f64::max);
        let top = self.floor_max.max(highest * 1.1).max(f64::MIN_POSITIVE);
        let x = |t: u64| {
            LEFT + (t.saturating_sub(from)) as f64 / (self.window_s * 1000) as f64 * (RIGHT - LEFT)
        };
        let y = |v: f64| BOTTOM - (v / top).clamp(0.0, 1.0) * (BOTTOM - TOP);
        let grid = [0.0, 0.5, 1.0].map(|f| {
            let at = y(top * f);
            html! { <>
                <line class="grid" x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={at.to_string()} y2={at.to_string()} />
                <text class="axis" x={(LEFT - 6.0).to_string()} y={(at + 4.0).to_string()} text-anchor="end">{ (self.format)(top * f) }</text>
            </> }
        });
        let times = [
            (LEFT, "start", ago(self.window_s)),
            ((LEFT + RIGHT) / 2.0, "middle", ago(self.window_s / 2)),
            (RIGHT, "end", "now".to_owned()),
        ];
        html! {
            <figure class="chart" id={self.id.to_owned()}>
                <figcaption>{ self.title }</figcaption>
                <svg viewBox="0 0 600 170" role="img" aria-label={format!("{} over the last {}", self.title, ago(self.window_s).trim_start_matches('−'))}>
                    { for grid }
                    { for times.into_iter().map(|(at, anchor, text)| html! {
                        <text class="axis" x={at.to_string()} y="160" text-anchor={anchor}>{ text }</text> }) }
                    { for lines.iter().map(|(s, points)| {
                        let drawn: String = points.iter().map(|(t, v)| format!("{:.1},{:.1} ", x(*t), y(*v))).collect();
                        html! { <polyline class={classes!("line", s.class)} points={drawn} /> }
                    }) }
                </svg>
                <ul class="legend">
                    { for lines.iter().map(|(s, points)| html! {
                        <li class={s.class}>{ format!("{}: {}", s.label, points.last().map_or("—".to_owned(), |p| (self.format)(p.1))) }</li> }) }
                </ul>
            </figure>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_window_and_its_spikes() {
        let points: Vec<(u64, f64)> = (0..3600u64)
            .map(|s| (s * 1000, if s == 3000 { 99.0 } else { 1.0 }))
            .collect();
        let shown = thin(&points, 600 * 1000);
        assert!(shown.len() <= MAX_POINTS, "{}", shown.len());
        assert!(shown.iter().all(|(t, _)| *t >= 600 * 1000));
        assert!(shown.iter().any(|(_, v)| *v == 99.0), "the spike survives");
        assert_eq!(thin(&points[..10], 0).len(), 10);
    }

    #[test]
    fn time_labels_read_as_distances() {
        assert_eq!(ago(60), "−1 min");
        assert_eq!(ago(30), "−30 s");
        assert_eq!(ago(450), "−7.5 min");
        assert_eq!(ago(3600), "−60 min");
    }
}
