//! API tokens: create (the secret is shown once, with a copy button), list, revoke.

use berth_protocol::api::catalogue::{TokensCreate, TokensList, TokensRevoke};
use berth_protocol::api::tokens::{CreateToken, ListTokens, RevokeToken, TokenList};
use berth_protocol::role::Role;
use yew::prelude::*;

use crate::components::{loaded, moment_text};
use crate::hooks::{Action, on_pick, on_text, use_action, use_call, use_text};
use crate::ws::use_ws;

#[function_component(TokensPage)]
pub fn tokens_page() -> Html {
    let (list, reload) = use_call::<TokensList>(ListTokens::default());
    let action = use_action(reload);
    let secret = use_state(|| None::<String>);
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
    html! {
        <section class="page" data-page="tokens">
            <h1>{ "API tokens" }</h1>
            <p class="notice">{ "Tokens let scripts and the berth ctl command act as you, with at most your role. Send one as Authorization: Bearer <token>." }</p>
            { action.view() }
            if let Some(s) = &*secret {
                <div class="secret-once" role="alert">
                    <p>{ "Copy this token now — it is shown only once:" }</p>
                    <code id="token-secret">{ s }</code>
                    <button type="button" id="token-copy" onclick={oncopy}>{ "Copy" }</button>
                    <button type="button" id="token-dismiss" onclick={ondismiss}>{ "Done" }</button>
                </div>
            }
            { loaded(&list, |l| table(l, &action)) }
            <h2>{ "New token" }</h2>
            <CreateForm action={action.clone()} {secret} />
        </section>
    }
}

fn table(l: &TokenList, action: &Action) -> Html {
    if l.tokens.is_empty() {
        return html! { <p class="notice" id="tokens-empty">{ "No API tokens yet. Create one with the form on this page for scripts and `berth ctl`; it starts on the viewer role." }</p> };
    }
    html! {
        <table class="grid" id="tokens-table">
            <thead><tr><th>{ "Name" }</th><th>{ "Role" }</th><th>{ "Created" }</th><th>{ "Expires" }</th><th>{ "Last used" }</th><th></th></tr></thead>
            <tbody>
            { for l.tokens.iter().map(|t| {
                let onrevoke = {
                    let (action, id, name) = (action.clone(), t.id.clone(), t.name.clone());
                    Callback::from(move |_| {
                        let (id, name) = (id.clone(), name.clone());
                        action.run(move |ws| async move {
                            ws.call_m::<TokensRevoke>(RevokeToken { id }).await?;
                            Ok(format!("Revoked {name:?}."))
                        });
                    })
                };
                html! {
                    <tr data-token={t.name.clone()}>
                        <td>{ &t.name }</td><td>{ t.role.as_str() }</td><td>{ moment_text(&t.created_at) }</td>
                        <td>{ t.expires_at.as_deref().map_or_else(|| html! { "never" }, moment_text) }</td>
                        <td>{ t.last_used_at.as_deref().map_or_else(|| html! { "never" }, moment_text) }</td>
                        <td><button type="button" class="danger token-revoke" onclick={onrevoke}>{ "Revoke" }</button></td>
                    </tr>
                }
            }) }
            </tbody>
        </table>
    }
}

#[derive(Properties, PartialEq)]
struct CreateProps {
    action: Action,
    /// Where the new token's secret goes (shown once).
    secret: UseStateHandle<Option<String>>,
}

#[function_component(CreateForm)]
fn create_form(props: &CreateProps) -> Html {
    let ctx = use_ws();
    let my_role = ctx.user().map_or(Role::Viewer, |u| u.role);
    // Empty: the lowest role, the list's preselected choice — a script gets more
    // only when someone chooses it.
    let (name, role, days) = (use_text(), use_text(), use_text());
    let onsubmit = {
        let (action, secret) = (props.action.clone(), props.secret.clone());
        let (name, role, days) = (name.clone(), role.clone(), days.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let chosen = if role.is_empty() {
                Role::Viewer.as_str().to_owned()
            } else {
                (*role).clone()
            };
            let p = CreateToken {
                name: name.trim().to_owned(),
                role: serde_json::from_value(serde_json::Value::String(chosen)).ok(),
                expires_in_days: days.trim().parse().ok(),
            };
            let (secret, name) = (secret.clone(), name.clone());
            action.run(move |ws| async move {
                let t = ws.call_m::<TokensCreate>(p).await?;
                secret.set(Some(t.secret));
                name.set(String::new());
                Ok(format!("Created token {:?}.", t.token.name))
            });
        })
    };
    let selected = |r: Role| {
        if role.is_empty() {
            r == Role::Viewer
        } else {
            *role == r.as_str()
        }
    };
    html! {
        <form class="inline-form" id="token-create" {onsubmit}>
            <input id="token-name" value={(*name).clone()} oninput={on_text(&name)} placeholder="name, e.g. nightly backup script" required=true />
            <select id="token-role" onchange={on_pick(&role)}>
                { for Role::ALL.iter().filter(|r| my_role.allows(**r)).map(|r| html! {
                    <option value={r.as_str()} selected={selected(*r)}>{ r.as_str() }</option>
                }) }
            </select>
            <input id="token-days" value={(*days).clone()} oninput={on_text(&days)} type="number" min="1" max="3650" placeholder="expires in days (empty: never)" />
            <button type="submit" class="primary" id="token-submit">{ "Create token" }</button>
        </form>
    }
}
