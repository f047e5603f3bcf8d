//! Which events reach which notifier (`notifications.routes|set_routes`), and the one
//! place events are sent from ([`dispatch`]) — plugin health now, backups and schedules
//! as they arrive.

use std::collections::BTreeSet;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{NotificationsRoutes, NotificationsSetRoutes};
use berth_protocol::api::plugins::{NotifyEvent, NotifyRoute, NotifyRoutes};
use berth_protocol::error::ErrorBody;

use crate::plugins::PluginKind;
use crate::plugins::instances::PluginSettings;
use crate::plugins::notifier::{Level, Notification};
use crate::server::AppState;
use crate::ws::registry::{Registry, bad_field, internal};

/// The names of the notifier instances.
fn notifier_names(state: &AppState) -> Result<Vec<(String, String)>, ErrorBody> {
    Ok(state
        .store
        .instances()
        .map_err(|e| internal(&e))?
        .into_iter()
        .filter(|r| {
            state
                .plugins
                .get(&r.plugin)
                .is_ok_and(|p| p.kind == PluginKind::Notifier)
        })
        .map(|r| (r.name, r.plugin))
        .collect())
}

fn routes(state: &AppState, settings: &PluginSettings) -> Result<NotifyRoutes, ErrorBody> {
    let routes = notifier_names(state)?
        .into_iter()
        .map(|(name, _)| NotifyRoute {
            events: NotifyEvent::ALL
                .into_iter()
                .filter(|e| settings.routed(&name, *e))
                .collect(),
            name,
        })
        .collect();
    Ok(NotifyRoutes { routes })
}

/// Sends `n` (its kind is `event`'s name) to every enabled notifier routed for
/// `event`, except instances of `skip_plugin` (a plugin reported unhealthy is not
/// asked to report itself). Deliveries run in the background; failures are logged
/// and count against the notifier's health.
pub fn dispatch(
    state: &std::sync::Arc<AppState>,
    event: NotifyEvent,
    level: Level,
    title: String,
    body: String,
    fields: Vec<(String, String)>,
    skip_plugin: Option<&str>,
) {
    let targets = match (|| {
        let settings = state.store.plugin_settings().map_err(|e| internal(&e))?;
        let mut out = Vec::new();
        for rec in state.store.instances().map_err(|e| internal(&e))? {
            let is_notifier = state
                .plugins
                .get(&rec.plugin)
                .is_ok_and(|p| p.kind == PluginKind::Notifier);
            if is_notifier
                && !settings.disabled.contains(&rec.plugin)
                && skip_plugin != Some(rec.plugin.as_str())
                && settings.routed(&rec.name, event)
            {
                out.push(super::plugins::notifier_instance(state, &rec)?);
            }
        }
        Ok::<_, ErrorBody>(out)
    })() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(
                event = event.as_str(),
                error = e.message,
                "cannot route a notification"
            );
            return;
        }
    };
    let n = Notification {
        kind: event.as_str().to_owned(),
        level,
        title,
        body,
        fields,
    };
    for inst in targets {
        let (state, n) = (std::sync::Arc::clone(state), n.clone());
        tokio::spawn(async move {
            if let Err(e) = state.plugins.notify(&inst, &n).await {
                tracing::warn!(instance = inst.name, event = n.kind, error = %e, "notification not delivered");
            }
        });
    }
}

pub fn register(r: &mut Registry) {
    r.method(NotificationsRoutes, |call, _: Empty| async move {
        call.blocking(|st| {
            let settings = st.store.plugin_settings().map_err(|e| internal(&e))?;
            routes(st, &settings)
        })
        .await
    });

    r.method(NotificationsSetRoutes, |call, p: NotifyRoutes| async move {
        call.blocking(move |st| {
            let known: BTreeSet<String> = notifier_names(st)?.into_iter().map(|(n, _)| n).collect();
            if let Some(r) = p.routes.iter().find(|r| !known.contains(&r.name)) {
                return Err(bad_field(
                    "routes",
                    format!("{:?} is not a notifier instance", r.name),
                ));
            }
            let settings = st
                .store
                .update_plugin_settings(|s| {
                    for r in &p.routes {
                        s.routes
                            .insert(r.name.clone(), r.events.iter().copied().collect());
                    }
                })
                .map_err(|e| internal(&e))?;
            routes(st, &settings)
        })
        .await
    });
}
