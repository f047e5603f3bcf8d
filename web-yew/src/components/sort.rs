//! A table header that orders the rows by its column: a click sorts by it, another
//! the other way round. Figures read highest first, words from A; `aria-sort` says
//! which way the rows are ordered.

use yew::prelude::*;

/// The header of `column`; `sort` holds the column the rows are ordered by and
/// whether highest first. Its button has the class `sort-<slug>`.
pub fn sort_header<C: Copy + PartialEq + 'static>(
    sort: &UseStateHandle<(C, bool)>,
    column: C,
    slug: &str,
    label: &str,
    figures: bool,
) -> Html {
    let (current, descending) = **sort;
    let (aria, arrow) = match (current == column, descending) {
        (false, _) => ("none", ""),
        (true, false) => ("ascending", " ▲"),
        (true, true) => ("descending", " ▼"),
    };
    let sort = sort.clone();
    let onclick = Callback::from(move |_| {
        let (current, descending) = *sort;
        sort.set((
            column,
            if current == column {
                !descending
            } else {
                figures
            },
        ));
    });
    html! {
        <th aria-sort={aria}><button type="button" class={classes!("sort", format!("sort-{slug}"))}
            {onclick}>{ label }{ arrow }</button></th>
    }
}
