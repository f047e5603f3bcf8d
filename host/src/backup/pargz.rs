//! Gzip on every core, like pigz: the stream is cut into [`BLOCK`]-sized blocks, each
//! compressed on a worker thread into its own gzip member, and the members are written
//! in order. Concatenated members are one valid gzip file (RFC 1952 §2.2): `gzip -d`,
//! GNU tar and flate2's `MultiGzDecoder` read them as one stream. At 1 MiB per block
//! the ratio is within a fraction of a percent of a single stream.
//!
//! Memory is bounded: at most `2 × workers` blocks are in flight.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

use flate2::Compression;
use flate2::write::GzEncoder;

/// Uncompressed bytes per gzip member.
pub const BLOCK: usize = 1 << 20;

type Job = (Vec<u8>, mpsc::SyncSender<io::Result<Vec<u8>>>);

/// A `Write` that compresses in parallel into `inner`.
pub struct ParGz<W: MemberSink> {
    /// Taken by `finish`.
    inner: Option<W>,
    level: Compression,
    buf: Vec<u8>,
    /// Results in submission order.
    pending: VecDeque<mpsc::Receiver<io::Result<Vec<u8>>>>,
    jobs: Option<mpsc::SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    max_pending: usize,
    /// Compressed bytes written to `inner`.
    pub written: u64,
}

impl<W: MemberSink> std::fmt::Debug for ParGz<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParGz")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<W: MemberSink> ParGz<W> {
    /// `workers` threads (0: one per core).
    pub fn new(inner: W, level: Compression, workers: usize) -> Self {
        let n = if workers == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            workers
        };
        let (tx, rx) = mpsc::sync_channel::<Job>(n);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let workers = (0..n)
            .map(|i| {
                let rx = std::sync::Arc::clone(&rx);
                std::thread::Builder::new()
                    .name(format!("berth-gzip-{i}"))
                    .spawn(move || {
                        loop {
                            let job = {
                                let rx =
                                    rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                                rx.recv()
                            };
                            let Ok((block, reply)) = job else { return };
                            let _ = reply.send(compress(&block, level));
                        }
                    })
                    .expect("a thread can be spawned")
            })
            .collect();
        Self {
            inner: Some(inner),
            level,
            buf: Vec::with_capacity(BLOCK),
            pending: VecDeque::new(),
            jobs: Some(tx),
            workers,
            max_pending: 2 * n,
            written: 0,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        while self.pending.len() >= self.max_pending {
            self.drain_one()?;
        }
        let block = std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK));
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .as_ref()
            .expect("not finished")
            .send((block, tx))
            .map_err(|_| io::Error::other("compression workers ended"))?;
        self.pending.push_back(rx);
        Ok(())
    }

    fn drain_one(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let out = rx
                .recv()
                .map_err(|_| io::Error::other("a compression worker ended"))??;
            self.written += out.len() as u64;
            self.out().member(out)?;
        }
        Ok(())
    }

    /// Compresses what is buffered, writes every member, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit()?;
        while !self.pending.is_empty() {
            self.drain_one()?;
        }
        if self.written == 0 {
            // An empty input is still a valid (empty) gzip file.
            let out = compress(&[], self.level)?;
            self.written += out.len() as u64;
            self.out().member(out)?;
        }
        self.out().flush()?;
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        Ok(self.inner.take().expect("finished once"))
    }

    fn out(&mut self) -> &mut W {
        self.inner.as_mut().expect("not finished")
    }
}

impl<W: MemberSink> Drop for ParGz<W> {
    fn drop(&mut self) {
        // Ends the workers: their queue closes and they return.
        self.jobs = None;
    }
}

/// A `Write` whose bytes are written by a thread of their own: what follows the
/// compression (the checksum of the stored bytes, encryption, the hand-off to the
/// upload) runs beside the thread that reads the sources and feeds the compressors,
/// instead of after it. Writes are handed over in the caller's buffers, at most
/// [`PIPED_DEPTH`] of them queued.
pub struct Piped<W: Write + Send + 'static> {
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> std::fmt::Debug for Piped<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Piped").finish_non_exhaustive()
    }
}

/// Writes queued for the output thread.
pub const PIPED_DEPTH: usize = 2;

impl<W: Write + Send + 'static> Piped<W> {
    pub fn new(mut inner: W) -> Self {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(PIPED_DEPTH);
        let thread = std::thread::Builder::new()
            .name("berth-archive-out".into())
            .spawn(move || {
                for b in rx {
                    inner.write_all(&b)?;
                }
                inner.flush()?;
                Ok(inner)
            })
            .expect("a thread can be spawned");
        Self {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Waits for every write to be done; the output thread's first error, if any.
    pub fn finish(mut self) -> io::Result<W> {
        self.tx = None;
        self.join()
    }

    fn join(&mut self) -> io::Result<W> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the archive output thread panicked")),
            None => Err(io::Error::other("the archive output already ended")),
        }
    }

    /// Hands over a whole buffer without copying it.
    pub fn send(&mut self, b: Vec<u8>) -> io::Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send(b));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread ended early: its error says why.
            _ => {
                self.tx = None;
                Err(self
                    .join()
                    .err()
                    .unwrap_or_else(|| io::Error::other("the archive output ended")))
            }
        }
    }
}

impl<W: Write + Send + 'static> Write for Piped<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.send(b.to_vec())?;
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send + 'static> Drop for Piped<W> {
    fn drop(&mut self) {
        // Closing the queue ends the thread; its result is dropped with it.
        self.tx = None;
    }
}

/// Where compressed members go: [`ParGz`] hands whole members to a [`Piped`] writer
/// without copying them.
pub trait MemberSink: Write {
    fn member(&mut self, m: Vec<u8>) -> io::Result<()> {
        self.write_all(&m)
    }
}

impl MemberSink for Vec<u8> {}

impl<W: Write + Send + 'static> MemberSink for Piped<W> {
    fn member(&mut self, m: Vec<u8>) -> io::Result<()> {
        self.send(m)
    }
}

fn compress(block: &[u8], level: Compression) -> io::Result<Vec<u8>> {
    let mut e = GzEncoder::new(Vec::with_capacity(block.len() / 2 + 64), level);
    e.write_all(block)?;
    e.finish()
}

impl<W: MemberSink> Write for ParGz<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = BLOCK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == BLOCK {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Blocks are cut at BLOCK only, so flushing does not hurt the ratio.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn members_decode_as_one_stream_in_order() {
        let mut data = Vec::new();
        for i in 0..(3 * BLOCK + 12_345) {
            data.push((i % 251) as u8 ^ (i / 7919) as u8);
        }
        let mut w = ParGz::new(Vec::new(), Compression::fast(), 2);
        for c in data.chunks(100_000) {
            w.write_all(c).unwrap();
        }
        let gz = w.finish().unwrap();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn piped_output_keeps_the_order_and_reports_the_writer_s_error() {
        let mut w = ParGz::new(Piped::new(Vec::new()), Compression::fast(), 2);
        let data: Vec<u8> = (0..(2 * BLOCK + 77)).map(|i| (i % 13) as u8).collect();
        w.write_all(&data).unwrap();
        let gz = w.finish().unwrap().finish().unwrap();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);

        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut p = Piped::new(Full);
        // The first send is queued; the failure shows by the time the queue is full
        // or at the end.
        let mut failed = None;
        for _ in 0..(PIPED_DEPTH + 3) {
            if let Err(e) = p.send(vec![1; 10]) {
                failed = Some(e);
                break;
            }
        }
        let e = failed
            .or_else(|| p.finish().err())
            .expect("the error comes back");
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    }

    #[test]
    fn empty_input_is_a_valid_gzip() {
        let gz = ParGz::new(Vec::new(), Compression::default(), 1)
            .finish()
            .unwrap();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }
}
