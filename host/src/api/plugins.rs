//! `plugins.list`, `storage.list`, `storage.test`.

use std::time::Instant;

use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{PluginsList, StorageList, StorageTest};
use berth_protocol::api::plugins::{
    PluginHealth, PluginInfo, PluginKind, PluginList, StorageInfo, StorageInstances,
    StorageTestResult,
};
use berth_protocol::error::{ErrorBody, ErrorCode};

use crate::plugins::storage::StorageInstance;
use crate::plugins::{self, HealthStatus};
use crate::server::AppState;
use crate::ws::registry::Registry;

/// The storage instances: for now the built-in default only (configured instances,
/// e.g. S3 buckets, arrive with the plugin configuration).
pub fn storage_instances(state: &AppState) -> Vec<StorageInstance> {
    vec![StorageInstance::local(state.data_dir.join("backups"))]
}

fn capabilities(kind: plugins::PluginKind) -> Vec<String> {
    match kind {
        plugins::PluginKind::Base => vec!["no filesystem".into(), "no network".into()],
        plugins::PluginKind::Storage => vec![
            "one directory per instance (nothing else on disk)".into(),
            "no network".into(),
        ],
    }
}

pub fn register(r: &mut Registry) {
    r.method(PluginsList, |call, _: Empty| async move {
        let rt = &call.state.plugins;
        let plugins = rt
            .all()
            .map(|(id, p)| match p {
                Ok(p) => {
                    let h = rt.call_health(id);
                    PluginInfo {
                        id: id.to_owned(),
                        kind: Some(match p.kind {
                            plugins::PluginKind::Base => PluginKind::Base,
                            plugins::PluginKind::Storage => PluginKind::Storage,
                        }),
                        builtin: true,
                        sha256: Some(p.sha256.clone()),
                        health: match h.status {
                            HealthStatus::Healthy => PluginHealth::Healthy,
                            HealthStatus::Degraded => PluginHealth::Degraded,
                            HealthStatus::Unhealthy => PluginHealth::Unhealthy,
                        },
                        message: (!h.message.is_empty()).then_some(h.message),
                        capabilities: capabilities(p.kind),
                    }
                }
                Err(why) => PluginInfo {
                    id: id.to_owned(),
                    kind: None,
                    builtin: true,
                    sha256: None,
                    health: PluginHealth::Unhealthy,
                    message: Some(why.to_owned()),
                    capabilities: Vec::new(),
                },
            })
            .collect();
        Ok(PluginList { plugins })
    });

    r.method(StorageList, |call, _: Empty| async move {
        let storage = storage_instances(&call.state)
            .into_iter()
            .enumerate()
            .map(|(i, s)| StorageInfo {
                default: i == 0,
                location: s
                    .dir
                    .as_ref()
                    .map_or_else(String::new, |d| format!("directory {}", d.display())),
                name: s.name,
                plugin: s.plugin,
            })
            .collect();
        Ok(StorageInstances { storage })
    });

    r.method(StorageTest, |call, p| async move {
        let all = storage_instances(&call.state);
        let inst = match &p.name {
            None => all.into_iter().next(),
            Some(n) => all.into_iter().find(|s| &s.name == n),
        }
        .ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::NotFound,
                format!("no storage instance {:?}", p.name.as_deref().unwrap_or("")),
            )
        })?;
        if let Some(dir) = &inst.dir {
            std::fs::create_dir_all(dir).map_err(|e| crate::ws::registry::internal(&e))?;
        }
        let started = Instant::now();
        let session = call
            .state
            .plugins
            .session(&inst)
            .await
            .map_err(|e| e.body())?;
        // 256 KiB of varied bytes: big enough to cross a chunk boundary in the guest's
        // reads, small enough to be instant.
        let data: Vec<u8> = (0..256 * 1024u32)
            .map(|i| (i.wrapping_mul(31) >> 3) as u8)
            .collect();
        let key = format!(".berth-test/{}", std::process::id());
        let w = Instant::now();
        let bytes = session.put(&key, &data[..]).await.map_err(|e| e.body())?;
        let write_ms = w.elapsed().as_secs_f64() * 1e3;
        let r = Instant::now();
        let mut back = Vec::with_capacity(data.len());
        session.get(&key, &mut back).await.map_err(|e| e.body())?;
        let read_ms = r.elapsed().as_secs_f64() * 1e3;
        let listed = session
            .list(".berth-test/", None, 100)
            .await
            .map_err(|e| e.body())?;
        session.delete(&key).await.map_err(|e| e.body())?;
        if back != data || !listed.objects.iter().any(|o| o.key == key) {
            return Err(ErrorBody::new(
                ErrorCode::Unavailable,
                format!(
                    "storage {} did not give back what was written ({} of {} bytes)",
                    inst.name,
                    back.len(),
                    data.len()
                ),
            ));
        }
        Ok(StorageTestResult {
            name: inst.name,
            bytes,
            write_ms,
            read_ms,
            total_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    });
}
