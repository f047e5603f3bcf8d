//! Users (admin): create, change role, reset password, revoke sessions, delete.

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{UsersCreate, UsersDelete, UsersList, UsersUpdate};
use berth_protocol::api::users::{CreateUser, UpdateUser, UserName, UserSummary};
use berth_protocol::role::Role;
use yew::prelude::*;

use crate::components::{Question, after_confirm, loaded};
use crate::hooks::{Action, Load, on_pick, on_text, picked, use_action, use_call, use_text};

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

/// Applies `update` to a user and says `done`.
fn update(action: &Action, update: UpdateUser, done: String) {
    action.run(move |ws| async move {
        ws.call_m::<UsersUpdate>(update).await?;
        Ok(done)
    });
}

#[function_component(UsersPage)]
pub fn users_page() -> Html {
    let (list, reload) = use_call::<UsersList>(Empty {});
    let action = use_action(reload);
    let (name, role, password) = (use_text(), use_text(), use_text());
    let oncreate = {
        let action = action.clone();
        let (name, role, password) = (name.clone(), role.clone(), password.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = CreateUser {
                name: name.trim().to_owned(),
                role: parse_role(&role),
                password: (*password).clone(),
            };
            let (name, password) = (name.clone(), password.clone());
            action.run(move |ws| async move {
                let done = format!("Created {} ({}).", p.name, p.role.as_str());
                ws.call_m::<UsersCreate>(p).await?;
                name.set(String::new());
                password.set(String::new());
                Ok(done)
            });
        })
    };
    let body = loaded(&list, |l| {
        html! {
            <table class="grid" id="users-table">
                <thead><tr><th>{ "User" }</th><th>{ "Role" }</th><th>{ "Sessions" }</th><th>{ "2FA" }</th><th>{ "Actions" }</th></tr></thead>
                <tbody>
                { for l.users.iter().map(|u| html! { <UserRow user={u.clone()} action={action.clone()} /> }) }
                </tbody>
            </table>
        }
    });
    html! {
        <section class="page" data-page="users">
            <h1>{ "Users" }</h1>
            { action.view() }
            { body }
            if !matches!(&list, Load::Failed(_)) {
                <h2>{ "New user" }</h2>
                <form class="inline-form" id="user-create" onsubmit={oncreate}>
                    <input id="new-user-name" value={(*name).clone()} oninput={on_text(&name)} placeholder="name (a-z, 0-9, . _ -)" required=true />
                    <select id="new-user-role" onchange={on_pick(&role)}>{ role_options(Role::Viewer) }</select>
                    <input id="new-user-password" value={(*password).clone()} oninput={on_text(&password)} type="password" placeholder="password (10+ characters)" autocomplete="new-password" required=true />
                    <button type="submit" class="primary" id="new-user-submit">{ "Create" }</button>
                </form>
            }
        </section>
    }
}

#[derive(Debug, PartialEq, Properties)]
struct RowProps {
    user: UserSummary,
    action: Action,
}

#[function_component(UserRow)]
fn user_row(props: &RowProps) -> Html {
    let u = &props.user;
    let password = use_text();
    let onrole = {
        let (action, name) = (props.action.clone(), u.name.clone());
        Callback::from(move |e: Event| {
            let role = parse_role(&picked(&e));
            let p = UpdateUser {
                name: name.clone(),
                role: Some(role),
                ..UpdateUser::default()
            };
            update(&action, p, format!("{name} is now {}.", role.as_str()));
        })
    };
    let onreset = {
        let (action, name, password) = (props.action.clone(), u.name.clone(), password.clone());
        Callback::from(move |_| {
            let p = UpdateUser {
                name: name.clone(),
                password: Some((*password).clone()),
                ..UpdateUser::default()
            };
            let (done, password) = (
                format!("Password reset, sessions ended for {name}."),
                password.clone(),
            );
            action.run(move |ws| async move {
                ws.call_m::<UsersUpdate>(p).await?;
                // Kept on failure, so a rejected password can be corrected.
                password.set(String::new());
                Ok(done)
            });
        })
    };
    let onrevoke = {
        let (action, name) = (props.action.clone(), u.name.clone());
        Callback::from(move |_| {
            let p = UpdateUser {
                name: name.clone(),
                revoke_sessions: true,
                ..UpdateUser::default()
            };
            update(&action, p, format!("Sessions ended for {name}."));
        })
    };
    let ondelete = {
        let (action, name) = (props.action.clone(), u.name.clone());
        Callback::from(move |_| {
            let (action, name) = (action.clone(), name.clone());
            let question = Question::new(format!("Delete user {name}?"), "Delete")
                .detail(
                    "Their sessions end and their API tokens stop working. This cannot be undone.",
                )
                .danger();
            after_confirm(question, move || {
                action.run(move |ws| async move {
                    ws.call_m::<UsersDelete>(UserName { name: name.clone() })
                        .await?;
                    Ok(format!("Deleted {name}."))
                });
            });
        })
    };
    html! {
        <tr data-user={u.name.clone()}>
            <td>{ &u.name }</td>
            <td><select class="user-role" onchange={onrole}>{ role_options(u.role) }</select></td>
            <td>{ u.sessions }</td>
            <td>{ if u.totp_enabled { "on" } else { "off" } }</td>
            <td class="actions">
                <input class="reset-password" value={(*password).clone()} oninput={on_text(&password)} type="password" placeholder="new password" autocomplete="new-password" />
                <button type="button" onclick={onreset}>{ "Reset password" }</button>
                <button type="button" onclick={onrevoke}>{ "End sessions" }</button>
                <button type="button" class="danger user-delete" onclick={ondelete}>{ "Delete" }</button>
            </td>
        </tr>
    }
}
