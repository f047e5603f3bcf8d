//! Profile: change password, two-factor authentication, login sessions.

use berth_protocol::api::Empty;
use berth_protocol::api::auth::{
    ChangePassword, ConfirmPassword, ListSessions, RevokeSession, TotpCode, TotpEnrollment,
};
use berth_protocol::api::catalogue::{
    AuthChangePassword, AuthSessionsList, AuthSessionsRevoke, AuthTotpConfirm, AuthTotpDisable,
    AuthTotpEnroll, AuthWhoami,
};
use yew::prelude::*;

use crate::components::{error_view, loaded};
use crate::hooks::{Action, Load, on_text, use_action, use_call, use_text};

#[function_component(ProfilePage)]
pub fn profile_page() -> Html {
    let (me, reload_me) = use_call::<AuthWhoami>(Empty {});
    let (sessions, reload_sessions) = use_call::<AuthSessionsList>(ListSessions::default());
    let action = use_action(Callback::from(move |()| {
        reload_me.emit(());
        reload_sessions.emit(());
    }));
    let recovery = use_state(|| None::<Vec<String>>);
    let totp = match &me {
        Load::Loading => html! {},
        Load::Failed(e) => error_view(e),
        Load::Ready(m) => html! {
            <Totp enabled={m.totp_enabled} action={action.clone()} recovery={recovery.clone()} />
        },
    };
    html! {
        <section class="page" data-page="profile">
            <h1>{ "Profile" }</h1>
            if let Load::Ready(m) = &me {
                <p id="profile-who">{ format!("{} — role {}", m.user.name, m.role.as_str()) }</p>
            }
            { action.view() }
            if let Some(codes) = &*recovery {
                <div class="secret-once" id="recovery-codes">
                    <p>{ "Recovery codes — each works once if you lose your phone. Store them now; they are shown only once:" }</p>
                    <ul>{ for codes.iter().map(|c| html! { <li><code>{ c }</code></li> }) }</ul>
                </div>
            }
            <h2>{ "Password" }</h2>
            <PasswordForm action={action.clone()} />
            <h2>{ "Two-factor authentication" }</h2>
            { totp }
            <h2>{ "Login sessions" }</h2>
            { loaded(&sessions, |l| sessions_table(l, &action)) }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ActionProps {
    action: Action,
}

#[function_component(PasswordForm)]
fn password_form(props: &ActionProps) -> Html {
    let (current, new) = (use_text(), use_text());
    let onsubmit = {
        let (action, current, new) = (props.action.clone(), current.clone(), new.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = ChangePassword {
                current: (*current).clone(),
                new: (*new).clone(),
            };
            let (current, new) = (current.clone(), new.clone());
            action.run(move |ws| async move {
                ws.call_m::<AuthChangePassword>(p).await?;
                current.set(String::new());
                new.set(String::new());
                Ok("Password changed; your other sessions were ended.".to_owned())
            });
        })
    };
    html! {
        <form class="inline-form" id="password-change" {onsubmit}>
            <input id="password-current" value={(*current).clone()} oninput={on_text(&current)} type="password" placeholder="current password" autocomplete="current-password" required=true />
            <input id="password-new" value={(*new).clone()} oninput={on_text(&new)} type="password" placeholder="new password (10+ characters)" autocomplete="new-password" required=true />
            <button type="submit" class="primary">{ "Change password" }</button>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct TotpProps {
    enabled: bool,
    action: Action,
    /// Where the recovery codes go once two-factor is on (shown once).
    recovery: UseStateHandle<Option<Vec<String>>>,
}

/// Off: enrol (password, then scan and confirm a code). On: turn off (password).
#[function_component(Totp)]
fn totp(props: &TotpProps) -> Html {
    let enrollment = use_state(|| None::<TotpEnrollment>);
    let (password, code) = (use_text(), use_text());
    let action = &props.action;
    // Security settings need the password (as a login would).
    let confirm_password = || ConfirmPassword {
        password: (*password).clone(),
    };
    let ondisable = {
        let (action, p, password) = (action.clone(), confirm_password(), password.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (p, password) = (p.clone(), password.clone());
            action.run(move |ws| async move {
                ws.call_m::<AuthTotpDisable>(p).await?;
                password.set(String::new());
                Ok("Two-factor authentication is off.".to_owned())
            });
        })
    };
    let onenroll = {
        let (action, enrollment, p) = (action.clone(), enrollment.clone(), confirm_password());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (enrollment, p) = (enrollment.clone(), p.clone());
            action.spawn(move |ws, action| async move {
                match ws.call_m::<AuthTotpEnroll>(p).await {
                    Ok(e) => enrollment.set(Some(e)),
                    Err(e) => action.fail(e),
                }
            });
        })
    };
    let onconfirm = {
        let (action, enrollment, recovery, code) = (
            action.clone(),
            enrollment.clone(),
            props.recovery.clone(),
            code.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = TotpCode {
                code: code.trim().to_owned(),
            };
            let (enrollment, recovery) = (enrollment.clone(), recovery.clone());
            action.run(move |ws| async move {
                let r = ws.call_m::<AuthTotpConfirm>(p).await?;
                enrollment.set(None);
                recovery.set(Some(r.codes));
                Ok("Two-factor authentication is on.".to_owned())
            });
        })
    };
    let password_input = |id: Option<&'static str>| {
        html! {
            <input {id} value={(*password).clone()} oninput={on_text(&password)} type="password" placeholder="your password" autocomplete="current-password" required=true />
        }
    };
    if props.enabled {
        return html! {
            <form class="inline-form" id="totp-disable" onsubmit={ondisable}>
                <span id="totp-state" data-on="true">{ "On." }</span>
                { password_input(None) }
                <button type="submit" class="danger">{ "Turn off" }</button>
            </form>
        };
    }
    match &*enrollment {
        None => html! {
            <form class="inline-form" id="totp-enroll-form" onsubmit={onenroll}>
                <span id="totp-state" data-on="false">{ "Off." }</span>
                { password_input(Some("totp-enroll-password")) }
                <button type="submit" id="totp-enroll">{ "Set up an authenticator app" }</button>
            </form>
        },
        Some(e) => html! {
            <div class="totp-enrol">
                <p>{ "Scan this code with your authenticator app, or enter the key by hand, then type the code it shows." }</p>
                <div class="qr">{ Html::from_html_unchecked(AttrValue::from(e.qr_svg.clone())) }</div>
                <p><code id="totp-secret">{ &e.secret }</code></p>
                <form class="inline-form" id="totp-confirm" onsubmit={onconfirm}>
                    <input id="totp-code" value={(*code).clone()} oninput={on_text(&code)} inputmode="numeric" placeholder="123456" required=true />
                    <button type="submit" class="primary">{ "Turn on" }</button>
                </form>
            </div>
        },
    }
}

fn sessions_table(l: &berth_protocol::api::auth::SessionList, action: &Action) -> Html {
    html! {
        <table class="grid" id="sessions-table">
            <thead><tr><th>{ "Started" }</th><th>{ "Expires" }</th><th>{ "From" }</th><th></th></tr></thead>
            <tbody>
            { for l.sessions.iter().map(|s| {
                let onrevoke = {
                    let (action, id) = (action.clone(), s.id.clone());
                    Callback::from(move |_| {
                        let id = id.clone();
                        action.run(move |ws| async move {
                            ws.call_m::<AuthSessionsRevoke>(RevokeSession { id }).await?;
                            Ok("Session ended.".to_owned())
                        });
                    })
                };
                html! {
                    <tr>
                        <td>{ &s.created_at }{ if s.current { " (this one)" } else { "" } }</td>
                        <td>{ &s.expires_at }</td><td>{ &s.client }</td>
                        <td>if !s.current { <button type="button" onclick={onrevoke}>{ "End" }</button> }</td>
                    </tr>
                }
            }) }
            </tbody>
        </table>
    }
}
