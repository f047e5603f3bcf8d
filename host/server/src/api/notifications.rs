//! Which events reach which notifier (`notifications.routes|set_routes`). Events are
//! sent from one place, `berth_plugins::services::PluginServices::dispatch` — plugin
//! health now, backups and schedules as they arrive.

use std::collections::BTreeSet;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{NotificationsRoutes, NotificationsSetRoutes};
use berth_protocol::api::plugins::{NotifyEvent, NotifyRoute, NotifyRoutes};
use berth_protocol::error::ErrorBody;

use std::sync::Arc;

use crate::ws::registry::{Registry, bad_field, blocking, internal};
use berth_engine::Engine;
use berth_engine::prelude::*;
use berth_plugins::PluginKind;
use berth_plugins::instances::PluginSettings;

/// The names of the notifier instances.
fn notifier_names(engine: &Engine) -> Result<Vec<(String, String)>, ErrorBody> {
    Ok(engine
        .store
        .instances()
        .map_err(|e| internal(&e))?
        .into_iter()
        .filter(|r| {
            engine
                .plugins
                .get(&r.plugin)
                .is_ok_and(|p| p.kind == PluginKind::Notifier)
        })
        .map(|r| (r.name, r.plugin))
        .collect())
}

fn routes_of(engine: &Engine, settings: &PluginSettings) -> Result<NotifyRoutes, ErrorBody> {
    let routes = notifier_names(engine)?
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

async fn routes(engine: Arc<Engine>, _: Empty) -> Result<NotifyRoutes, ErrorBody> {
    blocking(move || {
        let settings = engine.store.plugin_settings().map_err(|e| internal(&e))?;
        routes_of(&engine, &settings)
    })
    .await
}

async fn set_routes(engine: Arc<Engine>, params: NotifyRoutes) -> Result<NotifyRoutes, ErrorBody> {
    blocking(move || {
        let known: BTreeSet<String> = notifier_names(&engine)?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        if let Some(r) = params.routes.iter().find(|r| !known.contains(&r.name)) {
            return Err(bad_field(
                "routes",
                format!("{:?} is not a notifier instance", r.name),
            ));
        }
        let settings = engine
            .store
            .update_plugin_settings(|s| {
                for r in &params.routes {
                    s.routes
                        .insert(r.name.clone(), r.events.iter().copied().collect());
                }
            })
            .map_err(|e| internal(&e))?;
        routes_of(&engine, &settings)
    })
    .await
}
