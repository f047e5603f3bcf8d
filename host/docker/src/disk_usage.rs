//! What each volume holds on disk, as the engine measures it (`/system/df` walks every
//! volume, as `docker system df -v` does). The volume list leaves sizes empty, so
//! this is the only source; walking is slow on big volumes, so a measurement is kept
//! for [`FRESH_FOR`] and taken again only when it is older or a user asks — and only
//! one at a time per host (callers arriving meanwhile wait for it and share it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::time::now_ms;

use crate::DockerError;
use crate::hosts::Host;

/// How long a measurement answers for the sizes without walking again.
pub const FRESH_FOR: Duration = Duration::from_secs(60);
/// A walk of every volume may take long on a big host.
const WALK_TIMEOUT: Duration = Duration::from_secs(300);

/// Bytes per volume name, and when they were measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeSizes {
    pub sizes: BTreeMap<String, i64>,
    pub measured_ms: u64,
}

/// The host's last measurement and when it was taken, and the lock a walk holds so
/// callers arriving meanwhile wait for it instead of walking too. The measurement has
/// its own lock, so the last one stays readable while the next is taken.
#[derive(Debug, Default)]
pub struct SizeCache {
    last: std::sync::Mutex<Option<(Instant, Arc<VolumeSizes>)>>,
    walk: tokio::sync::Mutex<()>,
}

impl SizeCache {
    /// The last measurement, if any, without measuring.
    pub fn peek(&self) -> Option<Arc<VolumeSizes>> {
        self.last().map(|(_, sizes)| sizes)
    }

    fn last(&self) -> Option<(Instant, Arc<VolumeSizes>)> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The last measurement while it is younger than [`FRESH_FOR`].
    fn fresh(&self) -> Option<Arc<VolumeSizes>> {
        self.last()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, sizes)| sizes)
    }
}

/// The volumes' sizes on `host`: the last measurement while fresh (unless `refresh`),
/// else a new walk.
pub async fn volume_sizes(host: &Host, refresh: bool) -> Result<Arc<VolumeSizes>, DockerError> {
    let cache = &host.sizes;
    if let Some(sizes) = cache.fresh().filter(|_| !refresh) {
        return Ok(sizes);
    }
    let asked = Instant::now();
    let _walking = cache.walk.lock().await;
    // A walk that ended while this caller waited answers it too.
    if let Some((at, sizes)) = cache.last()
        && (at > asked || (!refresh && at.elapsed() < FRESH_FOR))
    {
        return Ok(sizes);
    }
    let version = host.docker().await?.client_version().to_string();
    let body = crate::raw::get(
        host.conn.endpoint(),
        &format!("/v{version}/system/df"),
        WALK_TIMEOUT,
    )
    .await?;
    let sizes = Arc::new(VolumeSizes {
        sizes: parse(&body)?,
        measured_ms: now_ms(),
    });
    *cache
        .last
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        Some((Instant::now(), Arc::clone(&sizes)));
    Ok(sizes)
}

/// The volumes of a `/system/df` answer: `Volumes` up to API 1.51, `VolumeUsage.Items`
/// after. A size Docker could not measure (-1) is left out.
fn parse(body: &[u8]) -> Result<BTreeMap<String, i64>, DockerError> {
    let answer: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| DockerError::internal(&format!("Docker's /system/df: {e}")))?;
    let volumes = answer
        .get("Volumes")
        .filter(|v| v.is_array())
        .or_else(|| answer.pointer("/VolumeUsage/Items"))
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(volumes
        .iter()
        .filter_map(|v| {
            let name = v.get("Name")?.as_str()?;
            let size = v.pointer("/UsageData/Size")?.as_i64()?;
            (size >= 0).then(|| (name.to_owned(), size))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_from_old_and_new_answers() {
        let old = br#"{"LayersSize":1,"Volumes":[
            {"Name":"data","UsageData":{"Size":525000,"RefCount":1}},
            {"Name":"remote","UsageData":{"Size":-1,"RefCount":0}}]}"#;
        assert_eq!(
            parse(old).unwrap(),
            BTreeMap::from([("data".to_owned(), 525_000)])
        );
        let new = br#"{"VolumeUsage":{"TotalSize":7,"Items":[
            {"Name":"data","UsageData":{"Size":7,"RefCount":0}}]}}"#;
        assert_eq!(
            parse(new).unwrap(),
            BTreeMap::from([("data".to_owned(), 7)])
        );
        assert!(parse(b"{}").unwrap().is_empty());
        assert!(parse(b"not json").is_err());
    }
}
