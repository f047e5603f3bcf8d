//! Docker's streams as blocking readers for the archive threads, handed over in
//! pieces of at least [`CHAN_PIECE`] rather than chunk by chunk.
//!
//! Docker sends a volume's tar in chunks of at most 32 KiB. Read through
//! `SyncIoBridge`, each chunk is one `block_on` from the reading thread — a wake-up
//! across threads per chunk, some 33 000 per GiB — and on two cores that made reading
//! a volume a third slower than `docker cp` of it (docs/BENCHMARKS.md, "Docker's
//! streams read in pieces"). Here a task on the runtime, which is awake for the
//! socket anyway, gathers the chunks, and the reading thread wakes once per 256 KiB.
//! The chunks are handed over as they came, not copied into one buffer.

use std::collections::VecDeque;
use std::io::{self, Read};

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};

use super::archive::CHAN_PIECE;

/// Pieces gathered ahead of the reader: with [`CHAN_PIECE`], 1 MiB in flight.
const DEPTH: usize = 4;

type Piece = io::Result<Vec<Bytes>>;

/// A stream's bytes as a blocking `Read`. Made on the runtime (it spawns the task that
/// gathers); read on a blocking thread. Dropping it ends the task and so the stream —
/// a cancelled backup does not read the rest of a volume for nothing.
#[derive(Debug)]
pub struct Gathered {
    pieces: tokio::sync::mpsc::Receiver<Piece>,
    current: VecDeque<Bytes>,
    /// The stream's error, returned again to every later read: a failed stream never
    /// looks like one that ended.
    failed: Option<(io::ErrorKind, String)>,
}

/// Starts gathering `stream` into pieces; the returned reader reads them in order.
pub fn reader<S>(stream: S) -> Gathered
where
    S: Stream<Item = io::Result<Bytes>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(DEPTH);
    tokio::spawn(async move {
        tokio::select! {
            () = gather(stream, &tx) => {}
            () = tx.closed() => {}
        }
    });
    Gathered {
        pieces: rx,
        current: VecDeque::new(),
        failed: None,
    }
}

/// Sends `stream` to `tx` in pieces of at least [`CHAN_PIECE`] (the last one and one
/// before an error may be shorter), until the stream ends or the reader is gone.
async fn gather<S>(stream: S, tx: &tokio::sync::mpsc::Sender<Piece>)
where
    S: Stream<Item = io::Result<Bytes>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut piece = Vec::new();
    let mut size = 0;
    loop {
        let ended = match stream.next().await {
            Some(Ok(chunk)) => {
                size += chunk.len();
                piece.push(chunk);
                if size < CHAN_PIECE {
                    continue;
                }
                None
            }
            Some(Err(e)) => Some(Err(e)),
            None => Some(Ok(())),
        };
        if !piece.is_empty() && tx.send(Ok(std::mem::take(&mut piece))).await.is_err() {
            return;
        }
        size = 0;
        match ended {
            None => {}
            Some(Ok(())) => return,
            Some(Err(e)) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
    }
}

impl Read for Gathered {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            match self.pieces.blocking_recv() {
                Some(Ok(piece)) => self.current = piece.into(),
                Some(Err(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                None => return Ok(0),
            }
            self.current.retain(|chunk| !chunk.is_empty());
        }
        // As much as the piece at hand holds: no wait for the next one.
        let mut filled = 0;
        while let Some(chunk) = self.current.front_mut() {
            let n = chunk.len().min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&chunk[..n]);
            chunk.advance(n);
            filled += n;
            if chunk.is_empty() {
                self.current.pop_front();
            }
            if filled == buf.len() {
                break;
            }
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(sizes: &[usize]) -> (Vec<io::Result<Bytes>>, Vec<u8>) {
        let mut all = Vec::new();
        let mut items = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            let chunk: Vec<u8> = (0..*size).map(|j| (i * 7 + j) as u8).collect();
            all.extend_from_slice(&chunk);
            items.push(Ok(Bytes::from(chunk)));
        }
        (items, all)
    }

    fn read_all(mut r: Gathered, buf_size: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0; buf_size];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// Every byte in order, whatever the chunks' and the reads' sizes (empty chunks
    /// included), across many pieces.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_every_byte_in_order() {
        let mut sizes = vec![0, 1, 32 << 10, 0, 100];
        sizes.extend(std::iter::repeat_n(32 << 10, 40));
        sizes.push(5);
        for buf_size in [1, 4096, 256 << 10, 1 << 20] {
            let (items, all) = chunks(&sizes);
            let r = reader(futures_util::stream::iter(items));
            let got = tokio::task::spawn_blocking(move || read_all(r, buf_size))
                .await
                .unwrap()
                .unwrap();
            assert!(got == all, "read in {buf_size}-byte reads");
        }
    }

    /// A stream that fails fails the reader after the bytes before the error, and
    /// every later read too: never an end of stream.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_stream_fails_every_later_read() {
        let (mut items, all) = chunks(&[1000, 2000]);
        items.push(Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone")));
        items.push(Ok(Bytes::from_static(b"after")));
        let mut r = reader(futures_util::stream::iter(items));
        let got = tokio::task::spawn_blocking(move || {
            let mut before = vec![0; all.len()];
            r.read_exact(&mut before).unwrap();
            assert_eq!(before, all);
            let first = r.read(&mut [0; 16]).unwrap_err();
            let again = r.read(&mut [0; 16]).unwrap_err();
            (first.kind(), again.kind(), again.to_string())
        })
        .await
        .unwrap();
        assert_eq!(got.0, io::ErrorKind::ConnectionReset);
        assert_eq!(got.1, io::ErrorKind::ConnectionReset);
        assert!(got.2.contains("gone"), "{}", got.2);
    }

    /// Dropping the reader ends the task and drops the stream, even while the stream
    /// has nothing to give.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_reader_drops_the_stream() {
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        // Yields one chunk, then never again; holds `dropped_tx` until dropped.
        let stream = futures_util::stream::once(async { Ok(Bytes::from_static(b"x")) })
            .chain(futures_util::stream::pending())
            .map(move |item| {
                let _held = &dropped_tx;
                item
            });
        let r = reader(stream);
        drop(r);
        // The sender is dropped with the stream: the receiver sees it closed.
        assert!(dropped_rx.await.is_err());
    }
}
