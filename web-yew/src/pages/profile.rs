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

use super::{Flash, Load, clear, error_view, flash_view, use_call, value_of};
use crate::ws::use_ws;

#[function_component(ProfilePage)]
pub fn profile_page() -> Html {
    let ctx = use_ws();
    let (me, reload_me) = use_call::<AuthWhoami>(Empty {});
    let (sessions, reload_sessions) = use_call::<AuthSessionsList>(ListSessions::default());
    let flash: Flash = use_state(|| None);
    let enrollment = use_state(|| None::<TotpEnrollment>);
    let recovery = use_state(|| None::<Vec<String>>);
    let (current, new, code, disable_pw, enroll_pw) = (
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
    );

    let onpassword = {
        let (ws, flash, current, new) =
            (ctx.ws.clone(), flash.clone(), current.clone(), new.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = ChangePassword {
                current: value_of(&current),
                new: value_of(&new),
            };
            let (ws, flash, current, new) =
                (ws.clone(), flash.clone(), current.clone(), new.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws.call_m::<AuthChangePassword>(p).await;
                if r.is_ok() {
                    clear(&current);
                    clear(&new);
                }
                flash.set(Some(r.map(|_| {
                    "Password changed; your other sessions were ended.".to_owned()
                })));
            });
        })
    };
    let onenroll = {
        let (ws, flash, enrollment, enroll_pw) = (
            ctx.ws.clone(),
            flash.clone(),
            enrollment.clone(),
            enroll_pw.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            // Security settings need the password (as a login would).
            let p = ConfirmPassword {
                password: value_of(&enroll_pw),
            };
            let (ws, flash, enrollment) = (ws.clone(), flash.clone(), enrollment.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match ws.call_m::<AuthTotpEnroll>(p).await {
                    Ok(e) => enrollment.set(Some(e)),
                    Err(e) => flash.set(Some(Err(e))),
                }
            });
        })
    };
    let onconfirm = {
        let (ws, flash, enrollment, recovery, code, reload_me) = (
            ctx.ws.clone(),
            flash.clone(),
            enrollment.clone(),
            recovery.clone(),
            code.clone(),
            reload_me.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = TotpCode {
                code: value_of(&code).trim().to_owned(),
            };
            let (ws, flash, enrollment, recovery, reload_me) = (
                ws.clone(),
                flash.clone(),
                enrollment.clone(),
                recovery.clone(),
                reload_me.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match ws.call_m::<AuthTotpConfirm>(p).await {
                    Ok(r) => {
                        enrollment.set(None);
                        recovery.set(Some(r.codes));
                        flash.set(Some(Ok("Two-factor authentication is on.".to_owned())));
                        reload_me.emit(());
                    }
                    Err(e) => flash.set(Some(Err(e))),
                }
            });
        })
    };
    let ondisable = {
        let (ws, flash, disable_pw, reload_me) = (
            ctx.ws.clone(),
            flash.clone(),
            disable_pw.clone(),
            reload_me.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = ConfirmPassword {
                password: value_of(&disable_pw),
            };
            let (ws, flash, reload_me) = (ws.clone(), flash.clone(), reload_me.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = ws.call_m::<AuthTotpDisable>(p).await;
                flash.set(Some(
                    r.map(|_| "Two-factor authentication is off.".to_owned()),
                ));
                reload_me.emit(());
            });
        })
    };
    let totp = match &me {
        Load::Loading => html! {},
        Load::Failed(e) => error_view(e),
        Load::Ready(m) if m.totp_enabled => html! {
            <form class="inline-form" id="totp-disable" onsubmit={ondisable}>
                <span id="totp-state" data-on="true">{ "On." }</span>
                <input ref={disable_pw} type="password" placeholder="your password" autocomplete="current-password" required=true />
                <button type="submit" class="danger">{ "Turn off" }</button>
            </form>
        },
        Load::Ready(_) => match &*enrollment {
            None => html! {
                <form class="inline-form" id="totp-enroll-form" onsubmit={onenroll}>
                    <span id="totp-state" data-on="false">{ "Off." }</span>
                    <input id="totp-enroll-password" ref={enroll_pw} type="password" placeholder="your password" autocomplete="current-password" required=true />
                    <button type="submit" id="totp-enroll">{ "Set up an authenticator app" }</button>
                </form>
            },
            Some(e) => html! {
                <div class="totp-enrol">
                    <p>{ "Scan this code with your authenticator app, or enter the key by hand, then type the code it shows." }</p>
                    <div class="qr">{ Html::from_html_unchecked(AttrValue::from(e.qr_svg.clone())) }</div>
                    <p><code id="totp-secret">{ &e.secret }</code></p>
                    <form class="inline-form" id="totp-confirm" onsubmit={onconfirm}>
                        <input id="totp-code" ref={code} inputmode="numeric" placeholder="123456" required=true />
                        <button type="submit" class="primary">{ "Turn on" }</button>
                    </form>
                </div>
            },
        },
    };
    let sessions_view = match &sessions {
        Load::Loading => html! {},
        Load::Failed(e) => error_view(e),
        Load::Ready(l) => html! {
            <table class="grid" id="sessions-table">
                <thead><tr><th>{ "Started" }</th><th>{ "Expires" }</th><th>{ "From" }</th><th></th></tr></thead>
                <tbody>
                { for l.sessions.iter().map(|s| {
                    let onrevoke = {
                        let (ws, flash, reload, id) = (ctx.ws.clone(), flash.clone(), reload_sessions.clone(), s.id.clone());
                        Callback::from(move |_| {
                            let (ws, flash, reload, id) = (ws.clone(), flash.clone(), reload.clone(), id.clone());
                            wasm_bindgen_futures::spawn_local(async move {
                                let r = ws.call_m::<AuthSessionsRevoke>(RevokeSession { id }).await;
                                flash.set(Some(r.map(|_| "Session ended.".to_owned())));
                                reload.emit(());
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
        },
    };
    html! {
        <section class="page" data-page="profile">
            <h1>{ "Profile" }</h1>
            if let Load::Ready(m) = &me {
                <p id="profile-who">{ format!("{} — role {}", m.user.name, m.role.as_str()) }</p>
            }
            { flash_view(&flash) }
            if let Some(codes) = &*recovery {
                <div class="secret-once" id="recovery-codes">
                    <p>{ "Recovery codes — each works once if you lose your phone. Store them now; they are shown only once:" }</p>
                    <ul>{ for codes.iter().map(|c| html! { <li><code>{ c }</code></li> }) }</ul>
                </div>
            }
            <h2>{ "Password" }</h2>
            <form class="inline-form" id="password-change" onsubmit={onpassword}>
                <input id="password-current" ref={current} type="password" placeholder="current password" autocomplete="current-password" required=true />
                <input id="password-new" ref={new} type="password" placeholder="new password (10+ characters)" autocomplete="new-password" required=true />
                <button type="submit" class="primary">{ "Change password" }</button>
            </form>
            <h2>{ "Two-factor authentication" }</h2>
            { totp }
            <h2>{ "Login sessions" }</h2>
            { sessions_view }
        </section>
    }
}
