//! The audit log (admin): filters, paging, export as CSV or JSON lines.

use berth_protocol::api::audit::{AuditEntry, AuditExport, AuditFilter, AuditQuery, ExportFormat};
use berth_protocol::api::catalogue::{AuditExport as ExportM, AuditList};
use berth_protocol::error::ErrorBody;
use yew::prelude::*;

use crate::components::error_view;
use crate::hooks::{on_text, use_text};
use crate::ws::{Ws, WsState, use_ws};

const PAGE: u32 = 50;

#[derive(Debug, Clone, PartialEq, Default)]
struct View {
    entries: Vec<AuditEntry>,
    next: Option<u64>,
    error: Option<ErrorBody>,
    loaded: bool,
}

/// Loads a page of entries after `cursor` into `view` (appended, or replacing it).
fn fetch(
    ws: &Ws,
    view: &UseStateHandle<View>,
    filter: AuditFilter,
    cursor: Option<u64>,
    append: bool,
) {
    let (ws, view) = (ws.clone(), view.clone());
    wasm_bindgen_futures::spawn_local(async move {
        let r = ws
            .call_m::<AuditList>(AuditQuery {
                filter,
                cursor,
                limit: Some(PAGE),
            })
            .await;
        let mut v = if append {
            (*view).clone()
        } else {
            View::default()
        };
        v.loaded = true;
        match r {
            Ok(page) => {
                v.entries.extend(page.entries);
                v.next = page.next_cursor;
                v.error = None;
            }
            Err(e) => v.error = Some(e),
        }
        view.set(v);
    });
}

/// Every entry matching `filter` in `format`, page by page.
async fn export(ws: Ws, filter: AuditFilter, format: ExportFormat) -> Result<String, ErrorBody> {
    let mut content = String::new();
    let mut cursor = None;
    loop {
        let query = AuditQuery {
            filter: filter.clone(),
            cursor,
            limit: Some(1000),
        };
        let page = ws.call_m::<ExportM>(AuditExport { format, query }).await?;
        content.push_str(&page.content);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(content),
        }
    }
}

#[function_component(AuditPage)]
pub fn audit_page() -> Html {
    let ctx = use_ws();
    let view = use_state(View::default);
    let filter = use_state(AuditFilter::default);
    let open = matches!(ctx.state, WsState::Open(_));
    {
        let (ws, view) = (ctx.ws.clone(), view.clone());
        use_effect_with(((*filter).clone(), open), move |(f, open)| {
            if *open {
                fetch(&ws, &view, f.clone(), None, false);
            }
        });
    }
    let onmore = {
        let (ws, filter, view) = (ctx.ws.clone(), filter.clone(), view.clone());
        Callback::from(move |_| fetch(&ws, &view, (*filter).clone(), view.next, true))
    };
    let onexport = {
        let (ws, filter, view) = (ctx.ws.clone(), filter.clone(), view.clone());
        Callback::from(move |format: ExportFormat| {
            let (ws, filter, view) = (ws.clone(), (*filter).clone(), view.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match export(ws, filter, format).await {
                    Ok(content) => {
                        let (name, mime) = match format {
                            ExportFormat::Csv => ("berth-audit.csv", "text/csv"),
                            ExportFormat::Jsonl => ("berth-audit.jsonl", "application/x-ndjson"),
                        };
                        let _ = crate::http::download(name, mime, &content);
                    }
                    Err(e) => view.set(View {
                        error: Some(e),
                        ..(*view).clone()
                    }),
                }
            });
        })
    };
    let onfilter = {
        let filter = filter.clone();
        Callback::from(move |f| filter.set(f))
    };
    html! {
        <section class="page" data-page="audit">
            <h1>{ "Audit log" }</h1>
            <FilterForm {onfilter} {onexport} />
            { table(&view, onmore) }
        </section>
    }
}

fn table(view: &View, onmore: Callback<MouseEvent>) -> Html {
    if let Some(e) = &view.error {
        return error_view(e);
    }
    if !view.loaded {
        return html! { <p>{ "Loading…" }</p> };
    }
    html! { <>
        <table class="grid" id="audit-table">
            <thead><tr><th>{ "Time" }</th><th>{ "Actor" }</th><th>{ "Method" }</th><th>{ "Target" }</th><th>{ "Outcome" }</th><th>{ "Client" }</th></tr></thead>
            <tbody>
            { for view.entries.iter().map(|e| html! {
                <tr class={if e.outcome == "ok" { "ok" } else { "failed" }} data-method={e.method.clone()}>
                    <td>{ &e.time }</td>
                    <td>{ &e.actor }{ e.token.as_ref().map(|t| format!(" (token {t})")).unwrap_or_default() }</td>
                    <td>{ &e.method }</td><td>{ e.target.clone().unwrap_or_default() }</td>
                    <td>{ &e.outcome }</td><td>{ &e.client }</td>
                </tr>
            }) }
            </tbody>
        </table>
        if view.next.is_some() {
            <button type="button" id="audit-more" onclick={onmore}>{ "Older entries" }</button>
        }
    </> }
}

#[derive(Properties, PartialEq)]
struct FilterProps {
    onfilter: Callback<AuditFilter>,
    onexport: Callback<ExportFormat>,
}

/// The filter fields; export applies the filter last submitted.
#[function_component(FilterForm)]
fn filter_form(props: &FilterProps) -> Html {
    let fields = [use_text(), use_text(), use_text(), use_text(), use_text()];
    let onsubmit = {
        let (fields, onfilter) = (fields.clone(), props.onfilter.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let v = |i: usize| Some(fields[i].trim().to_owned()).filter(|s| !s.is_empty());
            onfilter.emit(AuditFilter {
                actor: v(0),
                method: v(1),
                target: v(2),
                outcome: v(3),
                // A bare date means from its midnight (UTC).
                since: v(4).map(|d| {
                    if d.len() == 10 {
                        format!("{d}T00:00:00Z")
                    } else {
                        d
                    }
                }),
                until: None,
            });
        })
    };
    let export = |format: ExportFormat| {
        let onexport = props.onexport.clone();
        Callback::from(move |_| onexport.emit(format))
    };
    let input = |i: usize, id: &'static str, placeholder: &'static str| {
        let label = ["Actor", "Method", "Target", "Outcome"][i];
        html! { <input {id} aria-label={label} {placeholder} value={(*fields[i]).clone()} oninput={on_text(&fields[i])} /> }
    };
    html! {
        <form class="inline-form" id="audit-filter" {onsubmit}>
            { input(0, "audit-actor", "actor") }
            { input(1, "audit-method", "method or prefix, e.g. users.") }
            { input(2, "audit-target", "target") }
            { input(3, "audit-outcome", "ok, error or a code") }
            <input id="audit-since" aria-label="Since" type="date" value={(*fields[4]).clone()} oninput={on_text(&fields[4])} />
            <button type="submit" class="primary">{ "Filter" }</button>
            <button type="button" id="audit-export-csv" onclick={export(ExportFormat::Csv)}>{ "Export CSV" }</button>
            <button type="button" id="audit-export-jsonl" onclick={export(ExportFormat::Jsonl)}>{ "Export JSON lines" }</button>
        </form>
    }
}
