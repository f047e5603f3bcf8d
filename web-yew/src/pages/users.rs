//! Users (admin): create, change role, reset password, revoke sessions, delete.

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{UsersCreate, UsersDelete, UsersList, UsersUpdate};
use berth_protocol::api::users::{CreateUser, UpdateUser, UserName, UserSummary};
use berth_protocol::role::Role;
use yew::prelude::*;

use super::{Flash, Load, clear, error_view, flash_view, use_call, value_of};
use crate::ws::{Ws, use_ws};

fn parse_role(s: &str) -> Role {
    match s {
        "admin" => Role::Admin,
        "operator" => Role::Operator,
        _ => Role::Viewer,
    }
}

fn role_options(selected: Role) -> Html {
    html! {
        { for Role::ALL.iter().map(|r| html! {
            <option value={r.as_str()} selected={*r == selected}>{ r.as_str() }</option>
        }) }
    }
}

/// Runs a call, then shows its outcome and reloads the list.
fn act<F, Fut>(ws: &Ws, flash: &Flash, reload: &Callback<()>, ok: String, f: F)
where
    F: FnOnce(Ws) -> Fut + 'static,
    Fut: Future<Output = Result<(), berth_protocol::error::ErrorBody>> + 'static,
{
    let (ws, flash, reload) = (ws.clone(), flash.clone(), reload.clone());
    wasm_bindgen_futures::spawn_local(async move {
        flash.set(Some(f(ws).await.map(|()| ok)));
        reload.emit(());
    });
}

#[function_component(UsersPage)]
pub fn users_page() -> Html {
    let ctx = use_ws();
    let (list, reload) = use_call::<UsersList>(Empty {});
    let flash: Flash = use_state(|| None);
    let name = use_node_ref();
    let role = use_node_ref();
    let password = use_node_ref();
    let oncreate = {
        let (ws, flash, reload) = (ctx.ws.clone(), flash.clone(), reload.clone());
        let (name, role, password) = (name.clone(), role.clone(), password.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = CreateUser {
                name: value_of(&name).trim().to_owned(),
                role: parse_role(&value_of(&role)),
                password: value_of(&password),
            };
            let msg = format!("Created {} ({}).", p.name, p.role.as_str());
            let (name, password) = (name.clone(), password.clone());
            act(&ws, &flash, &reload, msg, move |ws| async move {
                ws.call_m::<UsersCreate>(p).await?;
                clear(&name);
                clear(&password);
                Ok(())
            });
        })
    };
    let body = match &list {
        Load::Loading => html! { <p>{ "Loading…" }</p> },
        Load::Failed(e) => error_view(e),
        Load::Ready(l) => html! {
            <table class="grid" id="users-table">
                <thead><tr><th>{ "User" }</th><th>{ "Role" }</th><th>{ "Sessions" }</th><th>{ "2FA" }</th><th>{ "Actions" }</th></tr></thead>
                <tbody>
                { for l.users.iter().map(|u| html! { <UserRow user={u.clone()} flash={flash.clone()} reload={reload.clone()} /> }) }
                </tbody>
            </table>
        },
    };
    let admin_form = !matches!(&list, Load::Failed(_));
    html! {
        <section class="page" data-page="users">
            <h1>{ "Users" }</h1>
            { flash_view(&flash) }
            { body }
            if admin_form {
                <h2>{ "New user" }</h2>
                <form class="inline-form" id="user-create" onsubmit={oncreate}>
                    <input id="new-user-name" ref={name} placeholder="name (a-z, 0-9, . _ -)" required=true />
                    <select id="new-user-role" ref={role}>{ role_options(Role::Viewer) }</select>
                    <input id="new-user-password" ref={password} type="password" placeholder="password (10+ characters)" autocomplete="new-password" required=true />
                    <button type="submit" class="primary" id="new-user-submit">{ "Create" }</button>
                </form>
            }
        </section>
    }
}

#[derive(Debug, PartialEq, Properties)]
struct RowProps {
    user: UserSummary,
    flash: Flash,
    reload: Callback<()>,
}

#[function_component(UserRow)]
fn user_row(props: &RowProps) -> Html {
    let ctx = use_ws();
    let u = &props.user;
    let password = use_node_ref();
    let onrole = {
        let (ws, flash, reload, name) = (
            ctx.ws.clone(),
            props.flash.clone(),
            props.reload.clone(),
            u.name.clone(),
        );
        Callback::from(move |e: Event| {
            let Some(sel) = e.target_dyn_into::<web_sys::HtmlSelectElement>() else {
                return;
            };
            let role = parse_role(&sel.value());
            let name = name.clone();
            act(
                &ws,
                &flash,
                &reload,
                format!("{name} is now {}.", role.as_str()),
                move |ws| async move {
                    ws.call_m::<UsersUpdate>(UpdateUser {
                        name,
                        role: Some(role),
                        ..UpdateUser::default()
                    })
                    .await
                    .map(drop)
                },
            );
        })
    };
    let update = |what: &'static str, build: fn(String, String) -> UpdateUser| {
        let (ws, flash, reload, name, password) = (
            ctx.ws.clone(),
            props.flash.clone(),
            props.reload.clone(),
            u.name.clone(),
            password.clone(),
        );
        Callback::from(move |_| {
            let p = build(name.clone(), value_of(&password));
            let password = password.clone();
            act(
                &ws,
                &flash,
                &reload,
                format!("{what} for {name}."),
                move |ws| async move {
                    ws.call_m::<UsersUpdate>(p).await?;
                    clear(&password);
                    Ok(())
                },
            );
        })
    };
    let onreset = update("Password reset, sessions ended", |name, pw| UpdateUser {
        name,
        password: Some(pw),
        ..UpdateUser::default()
    });
    let onrevoke = update("Sessions ended", |name, _| UpdateUser {
        name,
        revoke_sessions: true,
        ..UpdateUser::default()
    });
    let ondelete = {
        let (ws, flash, reload, name) = (
            ctx.ws.clone(),
            props.flash.clone(),
            props.reload.clone(),
            u.name.clone(),
        );
        Callback::from(move |_| {
            let ok = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message(&format!(
                        "Delete {name} with their sessions and tokens?"
                    ))
                    .ok()
                })
                .unwrap_or(false);
            if ok {
                let name = name.clone();
                act(
                    &ws,
                    &flash,
                    &reload,
                    format!("Deleted {name}."),
                    move |ws| async move { ws.call_m::<UsersDelete>(UserName { name }).await.map(drop) },
                );
            }
        })
    };
    html! {
        <tr data-user={u.name.clone()}>
            <td>{ &u.name }</td>
            <td><select class="user-role" onchange={onrole}>{ role_options(u.role) }</select></td>
            <td>{ u.sessions }</td>
            <td>{ if u.totp_enabled { "on" } else { "off" } }</td>
            <td class="actions">
                <input class="reset-password" ref={password} type="password" placeholder="new password" autocomplete="new-password" />
                <button type="button" onclick={onreset}>{ "Reset password" }</button>
                <button type="button" onclick={onrevoke}>{ "End sessions" }</button>
                <button type="button" class="danger user-delete" onclick={ondelete}>{ "Delete" }</button>
            </td>
        </tr>
    }
}
