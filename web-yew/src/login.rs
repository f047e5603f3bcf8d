//! The login page (with the TOTP step) and logout.

use berth_protocol::auth::{HttpError, LoginRequest};
use yew::prelude::*;

use crate::hooks::{on_text, use_text};
use crate::http::request;
use crate::ws::use_ws;

#[function_component(LoginPage)]
pub fn login_page() -> Html {
    let ctx = use_ws();
    let (user, password, totp) = (use_text(), use_text(), use_text());
    let need_totp = use_state(|| false);
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    // The moment a first visit can log in: the UI benchmark reads this mark.
    use_effect_with((), |()| {
        if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
            let _ = performance.mark("berth:login-ready");
        }
    });
    let onsubmit = {
        let (user, password, totp) = (user.clone(), password.clone(), totp.clone());
        let (need_totp, error, busy) = (need_totp.clone(), error.clone(), busy.clone());
        let ws = ctx.ws.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let req = LoginRequest {
                username: user.trim().to_owned(),
                password: (*password).clone(),
                totp: Some((*totp).clone()).filter(|t| !t.trim().is_empty()),
            };
            let (need_totp, error, busy, ws) =
                (need_totp.clone(), error.clone(), busy.clone(), ws.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let body = serde_json::to_string(&req).expect("serialisable");
                match request("POST", "/api/v1/auth/login", Some(body)).await {
                    Ok((200, _)) => {
                        error.set(None);
                        ws.connect();
                    }
                    Ok((_, text)) => match serde_json::from_str::<HttpError>(&text) {
                        Ok(e) => {
                            let totp = e
                                .error
                                .details
                                .as_ref()
                                .is_some_and(|d| d["totp_required"] == true);
                            if totp {
                                need_totp.set(true);
                            }
                            error.set(Some(e.error.message));
                        }
                        Err(_) => {
                            error.set(Some("The server gave an unexpected answer.".to_owned()))
                        }
                    },
                    Err(e) => error.set(Some(format!("Cannot reach the server: {e}"))),
                }
                busy.set(false);
            });
        })
    };
    html! {
        <main class="login" data-page="login">
            <form class="login-card" {onsubmit}>
                <h1>{ "⚓ Berth" }</h1>
                <label>{ "User name" }
                    <input id="login-user" value={(*user).clone()} oninput={on_text(&user)} autocomplete="username" required=true autofocus=true />
                </label>
                <label>{ "Password" }
                    <input id="login-password" value={(*password).clone()} oninput={on_text(&password)} type="password" autocomplete="current-password" required=true />
                </label>
                if *need_totp {
                    <label>{ "Authentication code" }
                        <input id="login-totp" value={(*totp).clone()} oninput={on_text(&totp)} inputmode="numeric" autocomplete="one-time-code"
                               placeholder="123456 or a recovery code" required=true />
                    </label>
                }
                if let Some(e) = &*error {
                    <p id="login-error" class="error" role="alert">{ e }</p>
                }
                <button id="login-submit" type="submit" class="primary" disabled={*busy}>{ "Log in" }</button>
            </form>
        </main>
    }
}

/// Ends the session on the server, then shows the login page.
pub fn logout(ws: crate::ws::Ws) {
    wasm_bindgen_futures::spawn_local(async move {
        let _ = request("POST", "/api/v1/auth/logout", None).await;
        ws.logged_out();
    });
}

#[derive(Properties, PartialEq)]
pub struct ChoosePasswordProps {
    /// Called once the new password is set.
    pub done: Callback<()>,
}

/// The first login with a generated password: choose your own before going on.
#[function_component(ChoosePassword)]
pub fn choose_password(p: &ChoosePasswordProps) -> Html {
    use berth_protocol::api::auth::ChangePassword;
    use berth_protocol::api::catalogue::AuthChangePassword;
    let ctx = use_ws();
    let (current, new) = (use_text(), use_text());
    let error = use_state(|| None::<String>);
    let onsubmit = {
        let (current, new, error, done, ws) = (
            current.clone(),
            new.clone(),
            error.clone(),
            p.done.clone(),
            ctx.ws.clone(),
        );
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let req = ChangePassword {
                current: (*current).clone(),
                new: (*new).clone(),
            };
            let (error, done, ws) = (error.clone(), done.clone(), ws.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match ws.call_m::<AuthChangePassword>(req).await {
                    Ok(_) => done.emit(()),
                    Err(e) => error.set(Some(e.message)),
                }
            });
        })
    };
    html! {
        <main class="login" data-page="choose-password">
            <form class="login-card" {onsubmit}>
                <h1>{ "Choose your password" }</h1>
                <p>{ "You logged in with the generated password. Set your own to continue; the file that held it is then deleted." }</p>
                <label>{ "Generated password" }
                    <input id="first-current" value={(*current).clone()} oninput={on_text(&current)} type="password" autocomplete="current-password" required=true />
                </label>
                <label>{ "New password (10+ characters)" }
                    <input id="first-new" value={(*new).clone()} oninput={on_text(&new)} type="password" autocomplete="new-password" required=true minlength="10" />
                </label>
                if let Some(e) = &*error {
                    <p id="first-error" class="error" role="alert">{ e }</p>
                }
                <button id="first-submit" type="submit" class="primary">{ "Set password" }</button>
            </form>
        </main>
    }
}
