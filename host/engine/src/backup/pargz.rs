//! Gzip on every core, like pigz: the stream is cut into [`BLOCK`]-sized blocks, each
//! compressed on a worker thread into its own gzip member, and the members are written
//! in order. Concatenated members are one valid gzip file (RFC 1952 §2.2): `gzip -d`,
//! GNU tar and flate2's `MultiGzDecoder` read them as one stream. At 1 MiB per block
//! the ratio is within a fraction of a percent of a single stream.
//!
//! Memory is bounded: at most `workers + 1` blocks are in flight, and a block's
//! buffer is freed as soon as it is compressed (not kept for reuse: at the fixed mmap
//! threshold, `crate::alloc`, a freed 1 MiB buffer leaves the process's RSS at once).
//!
//! A block that deflate cannot shrink (already compressed or encrypted files, media,
//! random data) is stored instead: deflate spends twice as long per byte on such data
//! as on text only to emit it as stored blocks anyway. [`Deflater::incompressible`]
//! decides from the block's byte entropy and a trial on three samples; a wrong guess
//! costs ratio on that one block, never correctness — the member is valid gzip either way.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Uncompressed bytes per gzip member.
pub const BLOCK: usize = 1 << 20;

/// A block to compress, and where its member goes.
type Job = PoolJob<Vec<u8>, io::Result<Vec<u8>>>;

/// A job for a [`pool`] worker, and where its answer goes.
pub type PoolJob<I, O> = (I, mpsc::SyncSender<O>);

/// `workers` threads (0: one per core) named `name-<i>`, each running a job function
/// `make` gives it (with its own state: a compressor, a decompressor) on the jobs
/// queued until the queue closes. Returns the queue, the threads and their number;
/// the queue holds one job per thread.
pub fn pool<I, O, F>(
    name: &str,
    workers: usize,
    make: impl Fn() -> F,
) -> (mpsc::SyncSender<PoolJob<I, O>>, Vec<JoinHandle<()>>, usize)
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnMut(I) -> O + Send + 'static,
{
    let n = if workers == 0 {
        std::thread::available_parallelism().map_or(2, usize::from)
    } else {
        workers
    };
    let (tx, rx) = mpsc::sync_channel::<PoolJob<I, O>>(n);
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let threads = (0..n)
        .map(|i| {
            let rx = std::sync::Arc::clone(&rx);
            let mut job = make();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    loop {
                        let next = {
                            let rx = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            rx.recv()
                        };
                        let Ok((input, reply)) = next else { return };
                        let _ = reply.send(job(input));
                    }
                })
                .expect("a thread can be spawned")
        })
        .collect();
    (tx, threads, n)
}

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
        let (tx, workers, n) = pool("berth-gzip", workers, || {
            let mut d = Deflater::new(level);
            move |block: Vec<u8>| d.member(&block)
        });
        Self {
            inner: Some(inner),
            level,
            buf: Vec::with_capacity(BLOCK),
            pending: VecDeque::new(),
            jobs: Some(tx),
            workers,
            max_pending: n + 1,
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
            let out = Deflater::new(self.level).member(&[])?;
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

/// One worker's compressor: its deflate state is reset for every member rather than
/// allocated anew (the hash tables are a few hundred KiB).
struct Deflater {
    level: Compression,
    deflate: Compress,
    trial: Vec<u8>,
}

/// The gzip member header: no name, no time, OS unknown (as flate2 writes it), and one
/// extra field (FLG.FEXTRA, RFC 1952 §2.3.1.1) holding subfield [`LENGTH_ID`]: the
/// member's whole length in bytes, little-endian, filled in once it is compressed.
/// With it a reader finds where each member ends without inflating, and so can
/// inflate members on every core ([`super::gunzip`]); gzip, tar and flate2 skip
/// subfields they do not know.
pub const GZIP_HEADER: [u8; 20] = [
    0x1f,
    0x8b,
    8,
    4,
    0,
    0,
    0,
    0,
    0,
    0xff, // magic, deflate, FEXTRA, no time, OS
    8,
    0, // XLEN: one subfield of 4 + 4 bytes
    LENGTH_ID[0],
    LENGTH_ID[1],
    4,
    0, // its id and length
    0,
    0,
    0,
    0, // the member's length
];

/// The subfield id of a member's length ("Bm", Berth member; BGZF's "BC" holds only
/// 16 bits, too few for 1 MiB members).
pub const LENGTH_ID: [u8; 2] = *b"Bm";

/// Where in [`GZIP_HEADER`] the member's length goes.
const LENGTH_AT: usize = 16;

/// Bytes of each block's samples tried before storing it.
const SAMPLE: usize = 16 << 10;

impl Deflater {
    fn new(level: Compression) -> Self {
        Self {
            level,
            deflate: Compress::new(level, false),
            trial: Vec::with_capacity(2 * SAMPLE),
        }
    }

    /// `block` as one gzip member.
    fn member(&mut self, block: &[u8]) -> io::Result<Vec<u8>> {
        let store = self.level.level() > 0 && self.incompressible(block)?;
        // Room for the whole member at once when storing; compressed members grow.
        let room = if store { block.len() } else { block.len() / 2 };
        let mut out = Vec::with_capacity(room + 64 + 5 * (block.len() >> 16));
        out.extend_from_slice(&GZIP_HEADER);
        if store {
            stored(block, &mut out);
        } else {
            self.deflate_into(block, &mut out)?;
        }
        let mut crc = Crc::new();
        crc.update(block);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        out.extend_from_slice(&(block.len() as u32).to_le_bytes());
        // A member holds at most BLOCK bytes: its length fits easily.
        let length = (out.len() as u32).to_le_bytes();
        out[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&length);
        Ok(out)
    }

    /// Raw deflate of `input` appended to `out`.
    fn deflate_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        self.deflate.reset();
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity().max(4096));
            }
            let done = self.deflate.total_in() as usize;
            let status = self
                .deflate
                .compress_vec(&input[done..], out, FlushCompress::Finish)
                .map_err(io::Error::other)?;
            if status == Status::StreamEnd {
                return Ok(());
            }
        }
    }

    /// Whether deflate would leave `block` about as large as it is. Text and most
    /// structured data have a byte entropy far below 8 bits and are compressed at
    /// once; for the rest, three samples are compressed at the chosen level, which
    /// catches data that is uniform per byte yet repeats within deflate's window.
    fn incompressible(&mut self, block: &[u8]) -> io::Result<bool> {
        if block.len() < 8 * SAMPLE || entropy(spread(block)) < 7.5 {
            return Ok(false);
        }
        let mut trial = std::mem::take(&mut self.trial);
        let mut compressed = 0;
        for at in [0, block.len() / 2 - SAMPLE / 2, block.len() - SAMPLE] {
            trial.clear();
            self.deflate_into(&block[at..at + SAMPLE], &mut trial)?;
            compressed += trial.len();
        }
        self.trial = trial;
        // Storing costs 5 bytes per 64 KiB; anything deflate saves beyond 2 % is kept.
        Ok(compressed * 100 >= 3 * SAMPLE * 98)
    }
}

/// Sixteen 4 KiB slices spread over `block` (which holds at least 64 KiB): enough to
/// tell text from noise at a sixteenth of the cost of counting every byte.
fn spread(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    const SLICE: usize = 4 << 10;
    let step = (block.len() - SLICE) / 15;
    (0..16).map(move |i| &block[i * step..i * step + SLICE])
}

/// Shannon entropy of the bytes of `slices`, in bits per byte.
fn entropy<'a>(slices: impl Iterator<Item = &'a [u8]>) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0usize;
    for s in slices {
        n += s.len();
        for &x in s {
            counts[usize::from(x)] += 1;
        }
    }
    let n = n as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// `block` as raw deflate stored blocks (RFC 1951 §3.2.4) appended to `out`: no
/// compression, five bytes of framing per 64 KiB.
fn stored(block: &[u8], out: &mut Vec<u8>) {
    const MAX: usize = u16::MAX as usize;
    out.reserve(block.len() + 5 * (block.len() / MAX + 1));
    let mut chunks = block.chunks(MAX).peekable();
    if block.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        // BFINAL on the last, BTYPE 00; the header byte's other bits are padding.
        out.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
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

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(gz)
            .read_to_end(&mut back)
            .unwrap();
        back
    }

    /// Deterministic bytes deflate cannot shrink.
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                // xorshift64*
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn incompressible_blocks_are_stored_and_the_rest_compressed() {
        let random = noise(BLOCK + 999, 7);
        // Uniform bytes, yet a 4 KiB pattern repeating within deflate's window.
        let repeating: Vec<u8> = random[..4096].iter().copied().cycle().take(BLOCK).collect();
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .take(BLOCK)
            .collect();
        let mut d = Deflater::new(Compression::default());
        for (what, data, stored) in [
            ("random", &random, true),
            ("repeating", &repeating, false),
            ("text", &text, false),
        ] {
            let m = d.member(data).unwrap();
            assert_eq!(gunzip(&m), *data, "{what} round-trips");
            let framing = GZIP_HEADER.len() + 8 + 5 * (data.len() / 65_535 + 1);
            if stored {
                assert_eq!(m.len(), data.len() + framing, "{what} is stored");
            } else {
                assert!(
                    m.len() < data.len() / 2,
                    "{what} is compressed: {}",
                    m.len()
                );
            }
        }
        // A whole stream mixing them decodes in order.
        let mut all = random.clone();
        all.extend_from_slice(&text);
        all.extend_from_slice(&repeating);
        let mut w = ParGz::new(Vec::new(), Compression::default(), 2);
        w.write_all(&all).unwrap();
        let gz = w.finish().unwrap();
        assert_eq!(gunzip(&gz), all);
        // And so does GNU gzip, as a user restoring by hand would run it.
        let mut child = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip runs");
        let mut stdin = child.stdin.take().unwrap();
        let feed = std::thread::spawn(move || stdin.write_all(&gz));
        let out = child.wait_with_output().unwrap();
        feed.join().unwrap().unwrap();
        assert!(out.status.success());
        assert!(out.stdout == all, "gzip -d gives the bytes back");
    }

    #[test]
    fn stored_blocks_frame_every_length() {
        for n in [0, 1, 65_534, 65_535, 65_536, 131_070, 131_071] {
            let data = noise(n, n as u64);
            let mut out = GZIP_HEADER.to_vec();
            stored(&data, &mut out);
            let mut crc = Crc::new();
            crc.update(&data);
            out.extend_from_slice(&crc.sum().to_le_bytes());
            out.extend_from_slice(&(n as u32).to_le_bytes());
            assert_eq!(gunzip(&out), data, "{n} bytes");
        }
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
