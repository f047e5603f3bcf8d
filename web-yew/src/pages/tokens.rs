//! API tokens: create (the secret is shown once, with a copy button), list, revoke.

use berth_protocol::api::catalogue::{TokensCreate, TokensList, TokensRevoke};
use berth_protocol::api::tokens::{CreateToken, ListTokens, RevokeToken};
use berth_protocol::role::Role;
use yew::prelude::*;

use super::{Flash, Load, clear, error_view, flash_view, use_call, value_of};
use crate::ws::use_ws;

#[function_component(TokensPage)]
pub fn tokens_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<TokensList>(ListTokens::default());
    let flash: Flash = use_state(|| None);
    let secret = use_state(|| None::<String>);
    let name = use_node_ref();
    let role = use_node_ref();
    let days = use_node_ref();
    let my_role = ctx.user().map_or(Role::Viewer, |u| u.role);
    let oncreate = {
        let (ws, flash, reload, secret) = (
            ctx.ws.clone(),
            flash.clone(),
            reload.clone(),
            secret.clone(),
        );
        let (name, role, days) = (name.clone(), role.clone(), days.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = CreateToken {
                name: value_of(&name).trim().to_owned(),
                role: serde_json::from_value(serde_json::Value::String(value_of(&role))).ok(),
                expires_in_days: value_of(&days).trim().parse().ok(),
            };
            let (ws, flash, reload, secret, name) = (
                ws.clone(),
                flash.clone(),
                reload.clone(),
                secret.clone(),
                name.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match ws.call_m::<TokensCreate>(p).await {
                    Ok(t) => {
                        secret.set(Some(t.secret));
                        flash.set(Some(Ok(format!("Created token {:?}.", t.token.name))));
                        clear(&name);
                    }
                    Err(e) => flash.set(Some(Err(e))),
                }
                reload.emit(());
            });
        })
    };
    let oncopy = {
        let secret = secret.clone();
        Callback::from(move |_| {
            if let (Some(s), Some(w)) = (&*secret, web_sys::window()) {
                let _ = w.navigator().clipboard().write_text(s);
            }
        })
    };
    let ondismiss = {
        let secret = secret.clone();
        Callback::from(move |_| secret.set(None))
    };
    let body = match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) if l.tokens.is_empty() => {
            html! { <p class="notice" id="tokens-empty">{ "No API tokens yet." }</p> }
        }
        Load::Ready(l) => html! {
            <table class="grid" id="tokens-table">
                <thead><tr><th>{ "Name" }</th><th>{ "Role" }</th><th>{ "Created" }</th><th>{ "Expires" }</th><th>{ "Last used" }</th><th></th></tr></thead>
                <tbody>
                { for l.tokens.iter().map(|t| {
                    let onrevoke = {
                        let (ws, flash, reload, id, name) = (ctx.ws.clone(), flash.clone(), reload.clone(), t.id.clone(), t.name.clone());
                        Callback::from(move |_| {
                            let (ws, flash, reload, id, name) = (ws.clone(), flash.clone(), reload.clone(), id.clone(), name.clone());
                            wasm_bindgen_futures::spawn_local(async move {
                                let r = ws.call_m::<TokensRevoke>(RevokeToken { id }).await;
                                flash.set(Some(r.map(|_| format!("Revoked {name:?}."))));
                                reload.emit(());
                            });
                        })
                    };
                    html! {
                        <tr data-token={t.name.clone()}>
                            <td>{ &t.name }</td><td>{ t.role.as_str() }</td><td>{ &t.created_at }</td>
                            <td>{ t.expires_at.clone().unwrap_or_else(|| "never".into()) }</td>
                            <td>{ t.last_used_at.clone().unwrap_or_else(|| "never".into()) }</td>
                            <td><button type="button" class="danger token-revoke" onclick={onrevoke}>{ "Revoke" }</button></td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    html! {
        <section class="page" data-page="tokens">
            <h1>{ "API tokens" }</h1>
            <p class="notice">{ "Tokens let scripts and the berth ctl command act as you, with at most your role. Send one as Authorization: Bearer <token>." }</p>
            { flash_view(&flash) }
            if let Some(s) = &*secret {
                <div class="secret-once" role="alert">
                    <p>{ "Copy this token now — it is shown only once:" }</p>
                    <code id="token-secret">{ s }</code>
                    <button type="button" id="token-copy" onclick={oncopy}>{ "Copy" }</button>
                    <button type="button" id="token-dismiss" onclick={ondismiss}>{ "Done" }</button>
                </div>
            }
            { body }
            <h2>{ "New token" }</h2>
            <form class="inline-form" id="token-create" onsubmit={oncreate}>
                <input id="token-name" ref={name} placeholder="name, e.g. nightly backup script" required=true />
                <select id="token-role" ref={role}>
                    { for Role::ALL.iter().filter(|r| my_role.allows(**r)).map(|r| html! {
                        <option value={r.as_str()} selected={*r == my_role}>{ r.as_str() }</option>
                    }) }
                </select>
                <input id="token-days" ref={days} type="number" min="1" max="3650" placeholder="expires in days (empty: never)" />
                <button type="submit" class="primary" id="token-submit">{ "Create token" }</button>
            </form>
        </section>
    }
}
