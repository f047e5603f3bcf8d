//! Writing a volume's contents through a helper container: a backed-up volume tar
//! streamed in ([`fill`]), and one volume copied into another with the copy proven by
//! reading it back ([`copy`], what a restore uses to keep a volume's old contents aside
//! until the new ones are verified).

use crate::EngineError;
use std::io::{self, Read, Write};

use bollard::Docker;
use bollard::query_parameters::UploadToContainerOptionsBuilder;
use bytes::Bytes;

use super::archive::{CHAN_PIECE, ChanWriter, Tee};
use super::{digest, rebase, volume_reader};
use berth_docker::helper::Helper;
use berth_docker::volpath::MOUNT_NAME;

/// Streams a volume tar (as Docker's archive API gives them) into a read-write helper:
/// rebased under the helper's mount directory and extracted at the helper's root, so
/// symlinks whose targets climb above the volume restore too (see [`rebase`]). `r` is
/// read to its end before Docker is told the upload is complete; a read that fails —
/// a walk's stream that is not what its checksum says fails at its end — makes Docker
/// see a failed upload, so a damaged tar is never taken as complete.
/// Blocking: runs on the caller's blocking thread, with `rt` for the upload.
pub fn fill(
    rt: &tokio::runtime::Handle,
    docker: &Docker,
    helper: &str,
    r: &mut dyn Read,
) -> io::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(8);
    let (docker, helper) = (docker.clone(), helper.to_owned());
    let up = rt.spawn(async move {
        let body =
            bollard::body_try_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        docker
            .upload_to_container(
                &helper,
                Some(UploadToContainerOptionsBuilder::default().path("/").build()),
                body,
            )
            .await
    });
    // The rebase writes in io::copy's 8 KiB pieces: gathered into whole pieces, the
    // channel holds megabytes rather than 64 KiB, so the walk (inflating, hashing)
    // and Docker's untar run side by side instead of taking turns.
    let mut out = io::BufWriter::with_capacity(CHAN_PIECE, ChanWriter(tx.clone()));
    let written = rebase::rebase(&mut *r, &mut out, MOUNT_NAME)
        .and_then(|()| {
            // Whatever follows the tar's end (nothing, or padding) is part of what the
            // checksum covers.
            io::copy(r, &mut io::sink()).map(drop)
        })
        .and_then(|()| out.flush());
    // Unflushed bytes of a failed stream are dropped, not sent after the refusal.
    drop(out.into_parts());
    if let Err(e) = written {
        let _ = tx.blocking_send(Err(io::Error::other("refused")));
        drop(tx);
        let _ = rt.block_on(up);
        return Err(e);
    }
    drop(tx);
    rt.block_on(up)
        .map_err(io::Error::other)?
        .map_err(|e| io::Error::other(format!("Docker refused the volume's contents: {e}")))
}

/// The content digest of a volume as it reads now.
pub async fn digest_of(
    docker: &Docker,
    volume: &str,
) -> Result<digest::ContentDigest, EngineError> {
    digest_through(docker, Helper::for_volume(docker, volume).await?).await
}

/// The content digest of what helper `h` mounts, as it reads now.
pub async fn digest_through(
    docker: &Docker,
    h: Helper,
) -> Result<digest::ContentDigest, EngineError> {
    let src = volume_reader(docker, &h.id);
    let got = tokio::task::spawn_blocking(move || digest::digest_tar(src))
        .await
        .map_err(|e| EngineError::internal(&e))?
        .map_err(|e| super::io_body(&e));
    h.remove().await;
    got
}

/// Copies volume `from` into the empty volume `to`, then reads `to` back: returns the
/// content digest both have, or fails if the copy differs.
pub async fn copy(docker: &Docker, from: &str, to: &str) -> Result<String, EngineError> {
    let src_helper = Helper::for_volume(docker, from).await?;
    let dst_helper = Helper::for_volume_rw(docker, to).await?;
    let src = volume_reader(docker, &src_helper.id);
    let rt = tokio::runtime::Handle::current();
    let (d2, dst) = (docker.clone(), dst_helper.id.clone());
    let copied = tokio::task::spawn_blocking(move || {
        let (mut pipe_r, pipe_w) = io::pipe()?;
        let digest = std::thread::spawn(move || {
            let docker = digest::digest_tar(&mut pipe_r);
            // The tar's end marker is not the stream's end: the rest is read too, or
            // the copy writing it would meet a closed pipe.
            let _ = io::copy(&mut pipe_r, &mut io::sink());
            docker
        });
        let mut tee = Tee {
            inner: src,
            side: pipe_w,
        };
        let filled = fill(&rt, &d2, &dst, &mut tee);
        drop(tee);
        let digest = digest
            .join()
            .map_err(|_| io::Error::other("the digest thread panicked"))?;
        filled?;
        digest
    })
    .await
    .map_err(|e| EngineError::internal(&e))?
    .map_err(|e| super::io_body(&e));
    src_helper.remove().await;
    dst_helper.remove().await;
    let copied = copied?;
    let landed = digest_of(docker, to).await?;
    if landed.hex != copied.hex {
        return Err(EngineError::internal(&format!(
            "volume {to} reads back differently from {from} after the copy"
        )));
    }
    Ok(copied.hex)
}
