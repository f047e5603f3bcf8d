//! The audit log (admin): filters, paging, export as CSV or JSON lines.

use berth_protocol::api::audit::{AuditEntry, AuditExport, AuditFilter, AuditQuery, ExportFormat};
use berth_protocol::api::catalogue::{AuditExport as ExportM, AuditList};
use berth_protocol::error::ErrorBody;
use yew::prelude::*;

use super::{error_view, value_of};
use crate::ws::{WsState, use_ws};

const PAGE: u32 = 50;

#[derive(Debug, Clone, PartialEq, Default)]
struct View {
    entries: Vec<AuditEntry>,
    next: Option<u64>,
    error: Option<ErrorBody>,
    loaded: bool,
}

#[function_component(AuditPage)]
pub fn audit_page() -> Html {
    let ctx = use_ws();
    let view = use_state(View::default);
    let filter = use_state(AuditFilter::default);
    let refs: [NodeRef; 5] = Default::default();
    let open = matches!(ctx.state, WsState::Open(_));
    let fetch = {
        let (ws, view) = (ctx.ws.clone(), view.clone());
        Callback::from(
            move |(filter, cursor, append): (AuditFilter, Option<u64>, bool)| {
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
            },
        )
    };
    {
        let fetch = fetch.clone();
        use_effect_with(((*filter).clone(), open), move |(f, open)| {
            if *open {
                fetch.emit((f.clone(), None, false));
            }
        });
    }
    let onfilter = {
        let (filter, refs) = (filter.clone(), refs.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let v = |i: usize| Some(value_of(&refs[i]).trim().to_owned()).filter(|s| !s.is_empty());
            filter.set(AuditFilter {
                actor: v(0),
                method: v(1),
                target: v(2),
                outcome: v(3),
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
    let onmore = {
        let (fetch, filter, view) = (fetch.clone(), filter.clone(), view.clone());
        Callback::from(move |_| fetch.emit(((*filter).clone(), view.next, true)))
    };
    let export = |format: ExportFormat| {
        let (ws, filter, view) = (ctx.ws.clone(), filter.clone(), view.clone());
        Callback::from(move |_| {
            let (ws, filter, view) = (ws.clone(), (*filter).clone(), view.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let mut content = String::new();
                let mut cursor = None;
                loop {
                    let page = ws
                        .call_m::<ExportM>(AuditExport {
                            format,
                            query: AuditQuery {
                                filter: filter.clone(),
                                cursor,
                                limit: Some(1000),
                            },
                        })
                        .await;
                    match page {
                        Ok(p) => {
                            content.push_str(&p.content);
                            match p.next_cursor {
                                Some(c) => cursor = Some(c),
                                None => break,
                            }
                        }
                        Err(e) => {
                            let mut v = (*view).clone();
                            v.error = Some(e);
                            view.set(v);
                            return;
                        }
                    }
                }
                let (name, mime) = match format {
                    ExportFormat::Csv => ("berth-audit.csv", "text/csv"),
                    ExportFormat::Jsonl => ("berth-audit.jsonl", "application/x-ndjson"),
                };
                let _ = crate::http::download(name, mime, &content);
            });
        })
    };
    let table = if let Some(e) = &view.error {
        error_view(e)
    } else if !view.loaded {
        html! { <p>{ "Loading…" }</p> }
    } else {
        html! {
            <>
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
            </>
        }
    };
    html! {
        <section class="page" data-page="audit">
            <h1>{ "Audit log" }</h1>
            <form class="inline-form" id="audit-filter" onsubmit={onfilter}>
                <input ref={refs[0].clone()} id="audit-actor" placeholder="actor" />
                <input ref={refs[1].clone()} id="audit-method" placeholder="method or prefix, e.g. users." />
                <input ref={refs[2].clone()} id="audit-target" placeholder="target" />
                <input ref={refs[3].clone()} id="audit-outcome" placeholder="ok, error or a code" />
                <input ref={refs[4].clone()} id="audit-since" type="date" />
                <button type="submit" class="primary">{ "Filter" }</button>
                <button type="button" id="audit-export-csv" onclick={export(ExportFormat::Csv)}>{ "Export CSV" }</button>
                <button type="button" id="audit-export-jsonl" onclick={export(ExportFormat::Jsonl)}>{ "Export JSON lines" }</button>
            </form>
            { table }
        </section>
    }
}
