//! A compose project from outside the stacks directory: start, stop and restart
//! through Docker (queued as jobs; the row says "stopping…" with its buttons disabled
//! until the job ends, and the list reloads then) for operators, and "Adopt" — its
//! files copied into the stacks directory — for admins.

use berth_protocol::api::catalogue::{StacksAdopt, StacksRestart, StacksStart, StacksStop};
use berth_protocol::api::containers::BulkVerb;
use berth_protocol::api::stacks::StackRef;
use berth_protocol::role::Role;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::hooks::{use_action, use_job_end};
use crate::pages::containers::{verb_progressive, verb_slug};
use crate::route::Route;
use crate::ws::use_ws;

#[derive(Properties, PartialEq)]
pub struct ExternalProps {
    pub name: String,
}

#[function_component(ExternalActions)]
pub fn external_actions(props: &ExternalProps) -> Html {
    let ctx = use_ws();
    let role = ctx.user().map(|u| u.role);
    let action = use_action(Callback::noop());
    let navigator = use_navigator();
    // The verb under way and its job, until the job ends.
    let pending = use_state(|| None::<(BulkVerb, String)>);
    {
        let pending = pending.clone();
        let job = pending.as_ref().map(|(_, job)| job.clone());
        use_job_end(job, Callback::from(move |_| pending.set(None)));
    }
    let queue = |verb: BulkVerb| {
        let (action, name, pending) = (action.clone(), props.name.clone(), pending.clone());
        Callback::from(move |_| {
            let (stack, pending) = (StackRef { name: name.clone() }, pending.clone());
            action.run(move |ws| async move {
                let job = match verb {
                    BulkVerb::Start => ws.call_m::<StacksStart>(stack).await?,
                    BulkVerb::Stop => ws.call_m::<StacksStop>(stack).await?,
                    _ => ws.call_m::<StacksRestart>(stack).await?,
                };
                pending.set(Some((verb, job.id.clone())));
                Ok(format!("{}: queued as job {}.", verb_slug(verb), job.id))
            });
        })
    };
    let busy = action.busy() || pending.is_some();
    let adopt = {
        let (action, name) = (action.clone(), props.name.clone());
        Callback::from(move |_| {
            let (stack, navigator) = (StackRef { name: name.clone() }, navigator.clone());
            action.run(move |ws| async move {
                let d = ws.call_m::<StacksAdopt>(stack).await?;
                if let Some(n) = navigator {
                    n.push(&Route::Stack {
                        name: d.name.clone(),
                    });
                }
                Ok(format!("Adopted {}.", d.name))
            });
        })
    };
    html! {
        <div class="row-actions">
            if role.is_some_and(|r| r.allows(Role::Operator)) {
                { for [BulkVerb::Start, BulkVerb::Stop, BulkVerb::Restart].into_iter().map(|verb| html! {
                    <button type="button" class={format!("small external-{}", verb_slug(verb))} disabled={busy}
                        onclick={queue(verb)}>{ verb_slug(verb) }</button>
                }) }
                if let Some((verb, job)) = &*pending {
                    <span class="pending" role="status">
                        <Link<Route> to={Route::Job { id: job.clone() }}>{ format!("{}…", verb_progressive(*verb)) }</Link<Route>>
                    </span>
                }
            }
            if role.is_some_and(|r| r.allows(Role::Admin)) {
                <button type="button" class="small external-adopt" title="Copy its compose file and .env into the stacks directory" onclick={adopt}>{ "Adopt" }</button>
            }
            { action.view() }
        </div>
    }
}
