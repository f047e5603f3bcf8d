//! Copies (`backups.copy`): a backup sent to another storage after the fact — local to
//! S3, or to a second bucket. The object streams from its storage to the other one
//! under the same key (so a rescan there finds it where a backup made there would
//! be), is read back there and checked against the sha256 the catalog recorded, and
//! only then joins the entry's `copies`. Anything short of that deletes what was
//! written, so a failed copy leaves nothing behind.

use crate::EngineError;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use berth_core::time::now_ms;
use berth_protocol::api::backups::{BackupStatus, StoredCopy};
use berth_protocol::api::jobs::{JobState, LogLevel};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::catalog::{CatalogRecord, CatalogTable};
use super::digest::Digest256;
use super::{session, storage};
use crate::Engine;
use crate::jobs::JobCtx;
use crate::jobs::spec::CopySpec;

/// Bytes in flight between the source's download and the destination's upload.
const PIPE: usize = 1 << 20;

/// Runs a copy job; the message says where the backup now lives.
pub async fn run(engine: &Arc<Engine>, s: &CopySpec, ctx: &JobCtx) -> Result<String, EngineError> {
    ctx.set_state(JobState::Starting, "opening both storages");
    ctx.set_backup(&s.backup);
    let rec = copyable(engine, s)?;
    let entry = &rec.entry;
    let source = session(engine, &storage(engine, Some(&entry.storage))?).await?;
    let destination = session(engine, &storage(engine, Some(&s.storage))?).await?;
    if destination.stat(&entry.key).await.is_ok() {
        return Err(EngineError::conflict(format!(
            "storage {} already holds {}: rebuild the catalog from it (backups.rescan) instead",
            s.storage, entry.key
        )));
    }
    ctx.totals(entry.size * 2, 2);
    ctx.set_state(JobState::Running, &format!("copying to {}", s.storage));
    let (writer, reader) = tokio::io::duplex(PIPE);
    let sending = source.get(&entry.key, Counted { inner: writer, ctx });
    let receiving = destination.put(
        &entry.key,
        Exact {
            inner: reader,
            left: entry.size,
        },
    );
    let (sent, received) = tokio::join!(sending, receiving);
    if let Err(e) = received.and(sent) {
        let _ = destination.delete(&entry.key).await;
        return Err(EngineError::from(e));
    }
    ctx.item_done();
    ctx.set_state(
        JobState::Verifying,
        &format!("reading back from {}", s.storage),
    );
    let mut digest = Digest256::default();
    let read_back = Counted {
        inner: &mut digest,
        ctx,
    };
    let checked = match destination.get(&entry.key, read_back).await {
        Ok(bytes) if bytes == entry.size && digest.hex() == entry.sha256 => Ok(()),
        Ok(bytes) => Err(EngineError::conflict(format!(
            "the copy on {} reads back as {bytes} bytes with sha256 {}, not as recorded",
            s.storage,
            digest.hex()
        ))),
        Err(e) => Err(EngineError::from(e)),
    };
    if let Err(e) = checked {
        let _ = destination.delete(&entry.key).await;
        return Err(e);
    }
    ctx.item_done();
    record_copy(engine, s, &entry.key)?;
    ctx.log(
        LogLevel::Info,
        format!("sha256 {} matches on {}", entry.sha256, s.storage),
    );
    Ok(format!("backup {} is now also on {}", entry.id, s.storage))
}

/// The backup, if it is complete and not on `s.storage` already.
pub fn copyable(engine: &Engine, s: &CopySpec) -> Result<CatalogRecord, EngineError> {
    let rec = engine
        .store
        .backup(&s.backup)
        .map_err(|e| EngineError::internal(&e))?
        .ok_or_else(|| EngineError::not_found(format!("no backup {}", s.backup)))?;
    if rec.entry.status != BackupStatus::Complete {
        return Err(EngineError::conflict(format!(
            "backup {} is not complete",
            s.backup
        )));
    }
    if rec.entry.storages().any(|name| name == s.storage) {
        return Err(EngineError::conflict(format!(
            "backup {} is already on storage {}",
            s.backup, s.storage
        )));
    }
    Ok(rec)
}

/// Adds the copy to the entry as it is now (read again: the job ran meanwhile).
fn record_copy(engine: &Engine, s: &CopySpec, key: &str) -> Result<(), EngineError> {
    let mut rec = engine
        .store
        .backup(&s.backup)
        .map_err(|e| EngineError::internal(&e))?
        .ok_or_else(|| EngineError::not_found(format!("backup {} was deleted", s.backup)))?;
    rec.entry.copies.push(StoredCopy {
        storage: s.storage.clone(),
        key: key.to_owned(),
        copied_ms: now_ms(),
    });
    engine
        .store
        .put_backup(&rec)
        .map_err(|e| EngineError::internal(&e))
}

/// A writer counting into the job's progress: the download's side of the pipe, and
/// the read-back's hashing.
struct Counted<'a, W> {
    inner: W,
    ctx: &'a JobCtx,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Counted<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.ctx
                .byte_counter()
                .fetch_add(n as u64, Ordering::Relaxed);
            self.ctx.tick();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The upload's side of the pipe: an end before `left` bytes is an error, so a
/// download that broke off aborts the upload instead of storing a truncated object.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: AsyncRead + Unpin> AsyncRead for Exact<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let n = (buf.filled().len() - before) as u64;
            if n == 0 && self.left > 0 {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the source ended {} bytes early", self.left),
                )));
            }
            self.left = self.left.saturating_sub(n);
        }
        polled
    }
}
