//! `images.*` and `system.df`.

use berth_docker::hosts::Hosts;
use std::collections::HashMap;
use std::sync::Arc;

use berth_docker::disk_usage::volume_sizes;
use berth_protocol::api::catalogue::{ImagesList, ImagesPrune, ImagesRemove, ImagesTag, SystemDf};
use berth_protocol::api::hosts::HostOnly;
use berth_protocol::api::images::{ImageList, ImageSummary, PruneImages, Pruned, RemovedImages};
use berth_protocol::api::images::{RemoveImage, TagImage, Tagged};
use berth_protocol::api::rfc3339;
use berth_protocol::api::system::{DfParams, DfRow, SystemDf as Df};
use berth_protocol::error::ErrorBody;
use bollard::query_parameters::{
    ListImagesOptionsBuilder, PruneImagesOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};

use super::containers::{all_containers, host_docker};
use crate::errors::WireResult;
use crate::errors::docker_call as docker_err;
use crate::ws::registry::Registry;
use berth_docker::args as docker_args;
use berth_docker::model::container_name;

fn dangling(tags: &[String]) -> bool {
    tags.iter().all(|t| t == "<none>:<none>")
}

pub fn register(r: &mut Registry) {
    r.method(ImagesList, list);
    r.method(ImagesTag, tag);
    r.method(ImagesRemove, remove);
    r.method(ImagesPrune, prune);
    r.method(SystemDf, system_df);
}

async fn list(hosts: Arc<Hosts>, params: HostOnly) -> Result<ImageList, ErrorBody> {
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let images = d
        .list_images(Some(ListImagesOptionsBuilder::default().build()))
        .await
        .map_err(|e| docker_err(&e, "images"))?;
    let cs = all_containers(&d, false).await?;
    let mut users: HashMap<String, Vec<String>> = HashMap::new();
    for c in cs {
        if let Some(img) = c.image_id.clone() {
            users
                .entry(img)
                .or_default()
                .push(container_name(c.names.as_ref()));
        }
    }
    let mut out: Vec<ImageSummary> = images
        .into_iter()
        .map(|i| {
            let tags = tags_of(&i);
            let mut used_by = users.get(&i.id).cloned().unwrap_or_default();
            used_by.sort();
            ImageSummary {
                dangling: dangling(&tags),
                tags,
                size: i.size,
                created: rfc3339(i.created.max(0) as u64 * 1000),
                used_by,
                id: i.id,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.tags.is_empty(), &a.tags, &a.id).cmp(&(b.tags.is_empty(), &b.tags, &b.id))
    });
    Ok(ImageList { images: out })
}

async fn tag(hosts: Arc<Hosts>, params: TagImage) -> Result<Tagged, ErrorBody> {
    docker_args::image("id", &params.id).wire()?;
    docker_args::repository("repo", &params.repo).wire()?;
    let tag = params.tag.unwrap_or_else(|| "latest".to_owned());
    docker_args::tag("tag", &tag).wire()?;
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let o = TagImageOptionsBuilder::default()
        .repo(&params.repo)
        .tag(&tag)
        .build();
    d.tag_image(&params.id, Some(o))
        .await
        .map_err(|e| docker_err(&e, &format!("image {}", params.id)))?;
    let reference = format!("{}:{tag}", params.repo);
    tracing::info!(image = %params.id, %reference, "image tagged");
    Ok(Tagged { reference })
}

async fn remove(hosts: Arc<Hosts>, params: RemoveImage) -> Result<RemovedImages, ErrorBody> {
    docker_args::image("id", &params.id).wire()?;
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let o = RemoveImageOptionsBuilder::default()
        .force(params.force)
        .build();
    let items = d
        .remove_image(&params.id, Some(o), None)
        .await
        .map_err(|e| docker_err(&e, &format!("image {}", params.id)))?;
    Ok(RemovedImages {
        untagged: items.iter().filter_map(|i| i.untagged.clone()).collect(),
        deleted: items.iter().filter_map(|i| i.deleted.clone()).collect(),
    })
}

/// Dangling images, or with `unused` every image no container uses; a dry run says
/// what would go (from the lists) and removes nothing.
async fn prune(hosts: Arc<Hosts>, params: PruneImages) -> Result<Pruned, ErrorBody> {
    let (_, d) = host_docker(&hosts, params.host.as_deref()).await?;
    if params.dry_run {
        return prune_preview(&d, params.unused).await;
    }
    let dangling = if params.unused { "false" } else { "true" };
    let filters = HashMap::from([("dangling", vec![dangling])]);
    let o = PruneImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let r = d
        .prune_images(Some(o))
        .await
        .map_err(|e| docker_err(&e, "images"))?;
    Ok(Pruned {
        deleted: r
            .images_deleted
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| i.deleted.or(i.untagged))
            .collect(),
        space_reclaimed: r.space_reclaimed.unwrap_or(0),
        dry_run: false,
    })
}

/// What a prune would remove: images no container uses, and only the untagged ones
/// unless `unused` — Docker's own rule for `image prune` (`-a`).
async fn prune_preview(d: &bollard::Docker, unused: bool) -> Result<Pruned, ErrorBody> {
    let images = d
        .list_images(Some(ListImagesOptionsBuilder::default().build()))
        .await
        .map_err(|e| docker_err(&e, "images"))?;
    let used: std::collections::HashSet<String> = all_containers(d, false)
        .await?
        .into_iter()
        .filter_map(|c| c.image_id)
        .collect();
    let going: Vec<_> = images
        .iter()
        .filter(|i| !used.contains(&i.id))
        .filter(|i| unused || tags_of(i).is_empty())
        .collect();
    Ok(Pruned {
        deleted: going
            .iter()
            .map(|i| tags_of(i).first().cloned().unwrap_or_else(|| i.id.clone()))
            .collect(),
        space_reclaimed: going.iter().map(|i| i.size.max(0)).sum(),
        dry_run: true,
    })
}

/// An image's real tags (Docker lists `<none>:<none>` for untagged ones).
fn tags_of(i: &bollard::models::ImageSummary) -> Vec<String> {
    i.repo_tags
        .iter()
        .filter(|t| t.as_str() != "<none>:<none>")
        .cloned()
        .collect()
}

/// Images and containers from the lists; volumes from Docker's `/system/df` read raw
/// (bollard's model of it is API 1.53's, and older engines' answers deserialise to
/// nothing), measured at most once a minute unless `refresh`.
async fn system_df(hosts: Arc<Hosts>, params: DfParams) -> Result<Df, ErrorBody> {
    let (host, d) = host_docker(&hosts, params.host.as_deref()).await?;
    let images = d
        .list_images(Some(ListImagesOptionsBuilder::default().build()))
        .await
        .map_err(|e| docker_err(&e, "images"))?;
    let cs = all_containers(&d, true).await?;
    let vols = d
        .list_volumes(None::<bollard::query_parameters::ListVolumesOptions>)
        .await
        .map_err(|e| docker_err(&e, "volumes"))?
        .volumes
        .unwrap_or_default();
    let mut df = Df::default();
    match volume_sizes(&host, params.refresh).await {
        Ok(measured) => {
            df.volume_sizes = measured.sizes.clone();
            df.volumes_measured = Some(rfc3339(measured.measured_ms));
        }
        Err(e) => {
            tracing::warn!(host = host.name, error = %e, "cannot measure the volumes");
            df.volumes_error = Some(e.to_string());
        }
    }
    let used_images: std::collections::HashSet<String> =
        cs.iter().filter_map(|c| c.image_id.clone()).collect();
    for i in &images {
        df.images.count += 1;
        df.images.size += i.size;
        if used_images.contains(&i.id) {
            df.images.active += 1;
        } else {
            df.images.reclaimable += i.size;
        }
    }
    for c in &cs {
        let rw = c.size_rw.unwrap_or(0);
        df.containers.count += 1;
        df.containers.size += rw;
        let running = c
            .state
            .is_some_and(|s| s.to_string() == "running" || s.to_string() == "paused");
        if running {
            df.containers.active += 1;
        } else {
            df.containers.reclaimable += rw;
        }
    }
    let users = super::volumes::volume_users(&cs);
    for v in &vols {
        let size = df.volume_sizes.get(&v.name).copied().unwrap_or(0);
        df.volumes.count += 1;
        df.volumes.size += size;
        if users.contains_key(&v.name) {
            df.volumes.active += 1;
        } else {
            df.volumes.reclaimable += size;
        }
    }
    df.build_cache = DfRow::default();
    Ok(df)
}
