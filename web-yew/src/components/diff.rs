//! Two texts compared line by line, as `diff -u` shows them: lines only in the old
//! text marked `-`, only in the new `+`, a few unchanged lines around each change.
//! Common lines at both ends are set aside first; what is left (a compose file's
//! edit is a few lines) is compared by longest common subsequence, or shown as
//! replaced whole when it is too large to compare in the browser.

use yew::prelude::*;

/// Lines compared beyond which the middle is shown as replaced whole.
const MAX_CELLS: usize = 4_000_000;
/// Unchanged lines shown around a change.
const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    Removed,
    Added,
}

/// The old and new texts as one sequence of lines with what happened to each.
pub fn line_diff<'a>(old: &'a str, new: &'a str) -> Vec<(Change, &'a str)> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut out: Vec<(Change, &str)> = a[..head].iter().map(|l| (Change::Same, *l)).collect();
    if ma.len() * mb.len() > MAX_CELLS {
        out.extend(ma.iter().map(|l| (Change::Removed, *l)));
        out.extend(mb.iter().map(|l| (Change::Added, *l)));
    } else {
        out.extend(middle(ma, mb));
    }
    out.extend(a[a.len() - tail..].iter().map(|l| (Change::Same, *l)));
    out
}

/// The longest-common-subsequence walk over what differs.
fn middle<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(Change, &'a str)> {
    let (n, m) = (a.len(), b.len());
    // lengths[i][j]: the LCS of a[i..] and b[j..].
    let mut lengths = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lengths[at(i, j)] = if a[i] == b[j] {
                lengths[at(i + 1, j + 1)] + 1
            } else {
                lengths[at(i + 1, j)].max(lengths[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push((Change::Same, a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < m && (i == n || lengths[at(i, j + 1)] >= lengths[at(i + 1, j)]) {
            out.push((Change::Added, b[j]));
            j += 1;
        } else {
            out.push((Change::Removed, a[i]));
            i += 1;
        }
    }
    out
}

#[derive(Properties, PartialEq)]
pub struct DiffProps {
    pub old: String,
    pub new: String,
    #[prop_or_default]
    pub id: Option<AttrValue>,
}

/// The changes from `old` to `new` with a little context; "No changes." when equal.
#[function_component(DiffView)]
pub fn diff_view(props: &DiffProps) -> Html {
    let lines = line_diff(&props.old, &props.new);
    let near = |k: usize| {
        let lo = k.saturating_sub(CONTEXT);
        let hi = (k + CONTEXT + 1).min(lines.len());
        lines[lo..hi].iter().any(|(c, _)| *c != Change::Same)
    };
    if lines.iter().all(|(c, _)| *c == Change::Same) {
        return html! { <p class="muted" id={props.id.clone()}>{ "No changes." }</p> };
    }
    html! {
        <pre class="diff mono" id={props.id.clone()}>{ for lines.iter().enumerate().filter(|(k, _)| near(*k)).map(|(_, (c, l))| {
            let (class, mark) = match c {
                Change::Same => ("same", ' '),
                Change::Removed => ("removed", '-'),
                Change::Added => ("added", '+'),
            };
            html! { <span class={class}>{ format!("{mark} {l}\n") }</span> }
        }) }</pre>
    }
}
