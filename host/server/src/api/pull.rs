//! The `image.pull` channel: an image fetched from its registry with each layer's
//! progress as Docker reports it, audited as a session (who pulled what, how it ended).

use std::net::SocketAddr;
use std::sync::Arc;

use berth_docker::args as docker_args;
use berth_docker::hosts::Hosts;
use berth_identity::principal::Principal;
use berth_protocol::api::catalogue::ImagePull;
use berth_protocol::api::images::{PullImage, PullProgress, Pulled};
use berth_protocol::error::{ErrorBody, ErrorCode};
use bollard::models::CreateImageInfo;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::streams::SessionAudit;
use crate::errors::WireResult;
use crate::errors::docker_call as docker_err;
use crate::ws::outbox::ChannelSink;
use crate::ws::registry::{Auditor, ChannelEnd, Registry};

pub fn register(r: &mut Registry) {
    r.channel(ImagePull, pull);
}

/// `image` as Docker's `fromImage` and `tag`: a digest or a tag stays in the name, a
/// bare repository gets `latest` (Docker would otherwise pull every tag).
fn reference(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

fn pull(
    (hosts, principal, client, auditor): (Arc<Hosts>, Principal, SocketAddr, Auditor),
    params: PullImage,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    docker_args::image("image", &params.image).wire()?;
    let host = hosts.get(params.host.as_deref()).wire()?;
    let image = reference(&params.image);
    let caller = (principal, client, auditor);
    let session = SessionAudit::start(&caller, "image.pull", &image, &format!("pull {image}"));
    Ok(async move {
        // The whole guard moves in (not only the field set below), so its end record
        // is written when the pull ends, however it ends.
        let mut session = session;
        let docker = host.docker().await.wire()?;
        let options = CreateImageOptionsBuilder::default()
            .from_image(&image)
            .build();
        let mut progress = docker.create_image(Some(options), None, None);
        loop {
            let item = tokio::select! {
                item = progress.next() => item,
                // The client went away: dropping the request stops the pull.
                () = sink.closed() => return Ok(None),
            };
            let Some(item) = item else { break };
            let info = item.map_err(|e| docker_err(&e, &format!("image {image}")))?;
            if let Some(failed) = refusal(&info) {
                session.exit_code = Some(1);
                return Err(ErrorBody::new(ErrorCode::BadRequest, failed));
            }
            send(&sink, &info);
        }
        let id = docker.inspect_image(&image).await.ok().and_then(|i| i.id);
        session.exit_code = Some(0);
        tracing::info!(image, host = host.name, "image pulled");
        Ok(Some(
            serde_json::to_value(Pulled { image, id }).expect("serialises"),
        ))
    })
}

/// The error a progress message carries (Docker reports a failed pull in the stream,
/// with a 200 status): no such image, no access, the registry unreachable.
fn refusal(info: &CreateImageInfo) -> Option<String> {
    info.error_detail
        .as_ref()
        .and_then(|d| d.message.clone())
        .filter(|m| !m.is_empty())
}

/// One layer's (or the pull's own) progress, replacing what is still queued for it.
fn send(sink: &ChannelSink, info: &CreateImageInfo) {
    let detail = info.progress_detail.as_ref();
    let p = PullProgress {
        layer: info.id.clone().unwrap_or_default(),
        status: info.status.clone().unwrap_or_default(),
        current: detail.and_then(|d| d.current).map(|c| c.max(0) as u64),
        total: detail.and_then(|d| d.total).map(|t| t.max(0) as u64),
    };
    let key: Arc<str> = p.layer.as_str().into();
    let json: Arc<str> = serde_json::to_string(&p).expect("serialises").into();
    // Err only when the client has gone, which the loop notices.
    let _ = sink.replace_keyed(&key, json);
}

#[cfg(test)]
mod tests {
    use super::reference;

    #[test]
    fn a_bare_repository_means_latest_and_a_tag_or_digest_is_kept() {
        assert_eq!(reference("busybox"), "busybox:latest");
        assert_eq!(
            reference("127.0.0.1:5000/team/app"),
            "127.0.0.1:5000/team/app:latest"
        );
        assert_eq!(reference("127.0.0.1:5000/app:v2"), "127.0.0.1:5000/app:v2");
        assert_eq!(reference("app@sha256:abc"), "app@sha256:abc");
    }
}
