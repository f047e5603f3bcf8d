//! Reading ahead of the archive, so that containers held still for a backup run again
//! as soon as Docker has read their volumes — not once those bytes are compressed,
//! sealed and stored, which on two cores takes several times as long as the read
//! (docs/BENCHMARKS.md, "Downtime").
//!
//! Each volume's tar goes into an unlinked file in the data directory as fast as Docker
//! gives it; the archive writer reads it from there. While Docker reads, the writer
//! waits: on two cores, compression beside the read slows Docker's side of it (the
//! engine builds the tar) to a third, and the read is the downtime. Once every volume
//! is read, the writer goes on at its own pace, and what it has read is punched out of
//! the file as it goes. The read's lead is capped at half the free space; reaching it
//! lets the writer start, and a disk that fills anyway hands the rest of the stream to
//! the writer directly: the backup goes on as a streaming one, and the containers stay
//! held until it is written, as without the spool.
//!
//! Used only when a backup holds containers (`stop`, `pause`): a `hot` backup gains
//! nothing from it and keeps touching no disk.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Bytes read from Docker per write to the spool.
const CHUNK: usize = 256 << 10;
/// How much the writer reads before what it has read is punched out of the file.
const PUNCH: u64 = 16 << 20;
/// The smallest lead the read is allowed, whatever the free space says.
const MIN_LEAD: u64 = 8 << 20;

/// A volume's tar source, as the archive writer reads it.
pub type Source = Box<dyn Read + Send>;

/// Starts reading every source ahead, in order, on a blocking thread; returns the
/// readers the archive writer takes in their place. `done` is sent once every source
/// has been read to its end into the spool — never if one failed or had to be handed
/// over unread (the disk was full).
pub fn ahead(
    sources: Vec<Source>,
    dir: &Path,
    done: tokio::sync::oneshot::Sender<()>,
) -> io::Result<Vec<Source>> {
    let reading = Arc::new(AtomicBool::new(true));
    let mut spools = Vec::with_capacity(sources.len());
    for _ in &sources {
        spools.push(Arc::new(Spool {
            file: tempfile::tempfile_in(dir)?,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            reading: Arc::clone(&reading),
        }));
    }
    let lead = match spools.first() {
        Some(s) => lead_for(&s.file),
        None => MIN_LEAD,
    };
    let readers = spools
        .iter()
        .map(|spool| {
            Box::new(SpoolReader {
                spool: Arc::clone(spool),
                position: 0,
                punched: 0,
                direct: None,
            }) as Source
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        let all = spools.clone();
        let mut pending = sources.into_iter().zip(spools);
        let mut all_read = true;
        for (source, spool) in pending.by_ref() {
            let ended = fill(source, &spool, lead, &all);
            all_read = matches!(ended, Ended::Read);
            spool.end(ended);
            if !all_read {
                break;
            }
        }
        // What was not read ahead is read by the writer itself, if it gets there.
        for (source, spool) in pending {
            spool.end(Ended::HandedOver(source));
        }
        writer_may_go(&all);
        if all_read {
            let _ = done.send(());
        }
    });
    Ok(readers)
}

/// The read is over, or waits for the writer: the writer goes on.
fn writer_may_go(spools: &[Arc<Spool>]) {
    for spool in spools {
        spool.reading.store(false, Ordering::Release);
        // Under the lock: a writer that saw `reading` is waiting by now.
        let _state = spool.lock();
        spool.changed.notify_all();
    }
}

/// Half the free space of the file's filesystem, and at least [`MIN_LEAD`].
fn lead_for(file: &File) -> u64 {
    rustix::fs::fstatvfs(file).map_or(MIN_LEAD, |s| {
        (s.f_bavail.saturating_mul(s.f_frsize) / 2).max(MIN_LEAD)
    })
}

/// One volume's spool: the file, how far the read and the writer are in it.
struct Spool {
    file: File,
    state: Mutex<State>,
    changed: Condvar,
    /// Shared by every volume's spool: Docker is reading and nothing waits for the
    /// writer, so the writer waits.
    reading: Arc<AtomicBool>,
}

#[derive(Default)]
struct State {
    written: u64,
    consumed: u64,
    ended: Option<Ended>,
    /// The writer dropped its reader (it failed or was cancelled): read no further.
    abandoned: bool,
    /// Someone waits on `changed` (a notification costs a system call otherwise).
    waiting: bool,
}

/// How reading a volume ahead ended.
enum Ended {
    /// To its end: everything is in the file.
    Read,
    /// Docker's stream failed; the writer gets the error where the stream stopped.
    Failed(io::ErrorKind, String),
    /// Not (all) read ahead: the writer reads the rest itself, after the file's bytes.
    HandedOver(Source),
    /// The writer is gone.
    Abandoned,
}

impl Spool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.waiting = true;
        let mut state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        state.waiting = false;
        state
    }

    fn notify(&self, state: &mut State) {
        if state.waiting {
            self.changed.notify_all();
        }
    }

    fn end(&self, ended: Ended) {
        let mut state = self.lock();
        state.ended = Some(ended);
        self.notify(&mut state);
    }

    /// Waits until `bytes` more fit within `lead` of what the writer read, letting the
    /// writers in `all` go first if it must wait (else they would wait for the read
    /// to end); where the next write goes, or `None` when the writer is gone.
    fn room(&self, bytes: u64, lead: u64, all: &[Arc<Spool>]) -> Option<u64> {
        let mut state = self.lock();
        let over = |state: &State| state.written - state.consumed + bytes > lead;
        if !state.abandoned && over(&state) {
            // Outside the lock: `writer_may_go` takes every spool's, this one's too.
            drop(state);
            writer_may_go(all);
            state = self.lock();
        }
        while !state.abandoned && over(&state) {
            state = self.wait(state);
        }
        (!state.abandoned).then_some(state.written)
    }

    /// Waits until the writer has read everything written; false if it is gone.
    fn caught_up(&self) -> bool {
        let mut state = self.lock();
        while !state.abandoned && state.consumed < state.written {
            state = self.wait(state);
        }
        !state.abandoned
    }

    fn wrote(&self, bytes: u64) {
        let mut state = self.lock();
        state.written += bytes;
        // A writer waiting while Docker reads is woken once, when the read is over.
        if !self.reading.load(Ordering::Acquire) {
            self.notify(&mut state);
        }
    }
}

/// Reads `source` into `spool` to its end; `all` are every volume's spools, whose
/// writer is let go when the read must wait for it.
fn fill(mut source: Source, spool: &Spool, lead: u64, all: &[Arc<Spool>]) -> Ended {
    let mut chunk = vec![0; CHUNK];
    loop {
        let n = match source.read(&mut chunk) {
            Ok(0) => return Ended::Read,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Ended::Failed(e.kind(), e.to_string()),
        };
        let Some(at) = spool.room(n as u64, lead, all) else {
            return Ended::Abandoned;
        };
        match spool.file.write_all_at(&chunk[..n], at) {
            Ok(()) => spool.wrote(n as u64),
            Err(e) if e.kind() == io::ErrorKind::StorageFull => {
                // Once the writer has read all there is, the file holds nothing the
                // disk needs: free it and try once more before streaming directly.
                writer_may_go(all);
                if !spool.caught_up() {
                    return Ended::Abandoned;
                }
                punch(&spool.file, 0, at);
                if spool.file.write_all_at(&chunk[..n], at).is_ok() {
                    spool.wrote(n as u64);
                    continue;
                }
                tracing::warn!(
                    error = %e,
                    "the spool's disk is full: the rest of the volume streams directly"
                );
                chunk.truncate(n);
                return Ended::HandedOver(Box::new(io::Cursor::new(chunk).chain(source)));
            }
            Err(e) => return Ended::Failed(e.kind(), format!("the spool: {e}")),
        }
    }
}

/// Frees `len` bytes of the file from `offset`. Best effort: a filesystem that cannot
/// punch holes keeps the bytes until the file is dropped, and a full disk hands over.
fn punch(file: &File, offset: u64, len: u64) {
    use rustix::fs::FallocateFlags;
    let _ = rustix::fs::fallocate(
        file,
        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
        offset,
        len,
    );
}

/// A volume's tar for the archive writer: the spool's bytes as the read writes them,
/// then what was handed over, if anything.
struct SpoolReader {
    spool: Arc<Spool>,
    position: u64,
    punched: u64,
    direct: Option<Source>,
}

impl SpoolReader {
    /// Bytes in the file from `position` on, waiting for some; `None` at the end of
    /// the file's part (and then `direct` may hold the rest).
    fn available(&mut self) -> io::Result<Option<u64>> {
        let mut state = self.spool.lock();
        loop {
            let reading = self.spool.reading.load(Ordering::Acquire);
            if reading {
                state = self.spool.wait(state);
                continue;
            }
            if state.written > self.position {
                return Ok(Some(state.written - self.position));
            }
            match state.ended.take() {
                None => state = self.spool.wait(state),
                Some(Ended::Read | Ended::Abandoned) => {
                    state.ended = Some(Ended::Read);
                    return Ok(None);
                }
                Some(Ended::Failed(kind, message)) => {
                    let e = io::Error::new(kind, message.clone());
                    state.ended = Some(Ended::Failed(kind, message));
                    return Err(e);
                }
                Some(Ended::HandedOver(source)) => {
                    self.direct = Some(source);
                    state.ended = Some(Ended::Read);
                    return Ok(None);
                }
            }
        }
    }
}

impl Read for SpoolReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(direct) = &mut self.direct {
            return direct.read(buf);
        }
        let Some(available) = self.available()? else {
            return match &mut self.direct {
                Some(direct) => direct.read(buf),
                None => Ok(0),
            };
        };
        let want = buf
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        let n = self.spool.file.read_at(&mut buf[..want], self.position)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the spool file is shorter than what was written to it",
            ));
        }
        self.position += n as u64;
        if self.position - self.punched >= PUNCH {
            punch(&self.spool.file, self.punched, self.position - self.punched);
            self.punched = self.position;
        }
        let mut state = self.spool.lock();
        state.consumed = self.position;
        self.spool.notify(&mut state);
        Ok(n)
    }
}

impl Drop for SpoolReader {
    fn drop(&mut self) {
        let mut state = self.spool.lock();
        state.abandoned = true;
        self.spool.notify(&mut state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that gives `data` in pieces of `step` bytes, then `tail`.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        step: usize,
        tail: Option<io::Error>,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return self.tail.take().map_or(Ok(0), Err);
            }
            let n = buf.len().min(self.step).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn pieces(len: usize, step: usize, tail: Option<io::Error>) -> (Vec<u8>, Source) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let source = Pieces {
            data: data.clone(),
            at: 0,
            step,
            tail,
        };
        (data, Box::new(source))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_source_reads_back_whole_and_done_says_all_were_read() {
        let dir = tempfile::tempdir().unwrap();
        let (a, source_a) = pieces(3 * (PUNCH as usize) + 12345, 100_000, None);
        let (b, source_b) = pieces(1000, 7, None);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let readers = ahead(vec![source_a, source_b], dir.path(), tx).unwrap();
        // The read runs ahead of a writer that has not started.
        rx.await.expect("every source read ahead");
        let got = tokio::task::spawn_blocking(move || {
            readers
                .into_iter()
                .map(|mut r| {
                    let mut v = Vec::new();
                    r.read_to_end(&mut v).unwrap();
                    v
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        assert!(got[0] == a, "the first source whole");
        assert_eq!(got[1], b);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_read_reaches_the_writer_where_it_stopped_and_done_never_comes() {
        let dir = tempfile::tempdir().unwrap();
        let broken = io::Error::new(io::ErrorKind::ConnectionReset, "docker went away");
        let (a, source_a) = pieces(5000, 1000, Some(broken));
        let (_, source_b) = pieces(10, 10, None);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut readers = ahead(vec![source_a, source_b], dir.path(), tx).unwrap();
        assert!(rx.await.is_err(), "not everything was read");
        let mut second = readers.pop().unwrap();
        let mut first = readers.pop().unwrap();
        let (got, e, rest) = tokio::task::spawn_blocking(move || {
            let mut got = vec![0; a.len()];
            first.read_exact(&mut got).unwrap();
            let e = first.read(&mut [0; 10]).unwrap_err();
            // The source after the failure is still readable, directly.
            let mut rest = Vec::new();
            second.read_to_end(&mut rest).unwrap();
            (got == a, e, rest.len())
        })
        .await
        .unwrap();
        assert!(got, "everything before the failure");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(rest, 10);
    }

    /// A source that gives `first`, then waits for `more` before it ends.
    struct Held {
        first: Option<Vec<u8>>,
        more: std::sync::mpsc::Receiver<()>,
    }

    impl Read for Held {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if let Some(first) = self.first.take() {
                buf[..first.len()].copy_from_slice(&first);
                return Ok(first.len());
            }
            let _ = self.more.recv();
            Ok(0)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_waits_while_docker_reads() {
        let dir = tempfile::tempdir().unwrap();
        let (more, rx) = std::sync::mpsc::channel();
        let source = Held {
            first: Some(b"first bytes".to_vec()),
            more: rx,
        };
        let (tx, done) = tokio::sync::oneshot::channel();
        let mut readers = ahead(vec![Box::new(source)], dir.path(), tx).unwrap();
        let mut reader = readers.pop().unwrap();
        let (got, read) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut v = vec![0; 64];
            let _ = got.send(reader.read(&mut v).map(|n| v[..n].to_vec()));
        });
        // The first bytes are in the spool, but the read is not over: nothing for the
        // writer yet.
        let waited = read.recv_timeout(std::time::Duration::from_millis(300));
        assert!(waited.is_err(), "the writer read while Docker was reading");
        more.send(()).unwrap();
        done.await.expect("read to its end");
        let v = read.recv().unwrap().unwrap();
        assert_eq!(v, b"first bytes");
    }

    #[test]
    fn the_read_waits_for_the_writer_beyond_its_lead() {
        let spool = Spool {
            file: tempfile::tempfile().unwrap(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            reading: Arc::new(AtomicBool::new(false)),
        };
        spool.wrote(MIN_LEAD);
        std::thread::scope(|s| {
            let waiting = s.spawn(|| spool.room(1, MIN_LEAD, &[]));
            // The writer reads one byte: there is room for one more.
            let mut state = spool.lock();
            state.consumed = 1;
            spool.notify(&mut state);
            drop(state);
            assert_eq!(waiting.join().unwrap(), Some(MIN_LEAD));
        });
    }
}
