//! Which events reach which notifier (`notifications.routes|set_routes`). Events are
//! sent from one place, `berth_plugins::services::PluginServices::dispatch` — plugin
//! health now, backups and schedules as they arrive.

use std::collections::BTreeSet;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{NotificationsRoutes, NotificationsSetRoutes};
use berth_protocol::api::plugins::{NotifyEvent, NotifyRoute, NotifyRoutes};
use berth_protocol::error::ErrorBody;

use crate::server::AppState;
use crate::ws::registry::{Call, Registry, bad_field, internal};
use berth_engine::prelude::*;
use berth_plugins::PluginKind;
use berth_plugins::instances::PluginSettings;

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

fn routes_of(state: &AppState, settings: &PluginSettings) -> Result<NotifyRoutes, ErrorBody> {
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

pub fn register(r: &mut Registry) {
    r.method(NotificationsRoutes, routes);
    r.method(NotificationsSetRoutes, set_routes);
}

async fn routes(call: Call, _: Empty) -> Result<NotifyRoutes, ErrorBody> {
    call.blocking(|st| {
        let settings = st.store.plugin_settings().map_err(|e| internal(&e))?;
        routes_of(st, &settings)
    })
    .await
}

async fn set_routes(call: Call, params: NotifyRoutes) -> Result<NotifyRoutes, ErrorBody> {
    call.blocking(move |st| {
        let known: BTreeSet<String> = notifier_names(st)?.into_iter().map(|(n, _)| n).collect();
        if let Some(r) = params.routes.iter().find(|r| !known.contains(&r.name)) {
            return Err(bad_field(
                "routes",
                format!("{:?} is not a notifier instance", r.name),
            ));
        }
        let settings = st
            .store
            .update_plugin_settings(|s| {
                for r in &params.routes {
                    s.routes
                        .insert(r.name.clone(), r.events.iter().copied().collect());
                }
            })
            .map_err(|e| internal(&e))?;
        routes_of(st, &settings)
    })
    .await
}
