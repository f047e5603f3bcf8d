//! Gunzip on every core: the reading side of [`super::pargz`]. Each member
//! [`super::pargz::ParGz`] writes says in its header how long it is, so the stream can
//! be cut into members without inflating them; whole members are inflated on worker
//! threads and handed back in order. Where a member does not say its length — a
//! backup written before the length was recorded, a file gzipped by hand — the rest
//! of the stream is read by one sequential decoder, as before.
//!
//! Input from a backup is untrusted: a member is taken for the workers only when its
//! length, its trailer's size and its inflated bytes are all within one block's
//! bounds, and each is checked against its CRC-32 and size; anything else goes to the
//! sequential decoder, which fails on damage as it always did. Memory is bounded like
//! the writer's: at most `workers + 1` members in flight.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::sync::mpsc;
use std::thread::JoinHandle;

use flate2::read::MultiGzDecoder;
use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::pargz::{BLOCK, LENGTH_ID, PoolJob, pool};

/// The fixed part of a gzip header, then XLEN.
const FIXED: usize = 10;
/// FLG.FEXTRA: the header has an extra field.
const FEXTRA: u8 = 4;
/// The longest member taken for the workers: a block stored, with framing to spare.
const MAX_MEMBER: usize = BLOCK + (64 << 10);

/// A member to inflate, and where its bytes go.
type Job = PoolJob<Member, io::Result<Vec<u8>>>;

/// One whole member: its bytes and where its deflate data starts.
struct Member {
    bytes: Vec<u8>,
    body_at: usize,
}

/// What follows in the stream.
enum Next {
    /// A member with its length, read whole.
    Member(Member),
    /// Bytes that are not such a member: the sequential decoder starts with them.
    Other(Vec<u8>),
    /// The end of the stream.
    End,
}

type Sequential<R> = MultiGzDecoder<io::Chain<Cursor<Vec<u8>>, BufReader<R>>>;

/// A `Read` of a gzip stream (concatenated members) that inflates members on
/// worker threads where it can.
pub struct ParGunzip<R: Read> {
    source: Option<BufReader<R>>,
    /// Set once a member without its length is met: the rest of the stream.
    sequential: Option<Sequential<R>>,
    /// Bytes for [`Self::sequential`] once the members before them are served.
    other: Option<Vec<u8>>,
    /// Inflated members in stream order.
    pending: VecDeque<mpsc::Receiver<io::Result<Vec<u8>>>>,
    jobs: Option<mpsc::SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    max_pending: usize,
    /// The member being served, and how much of it is.
    current: Vec<u8>,
    served: usize,
}

impl<R: Read> std::fmt::Debug for ParGunzip<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParGunzip")
            .field("pending", &self.pending.len())
            .field("sequential", &self.sequential.is_some())
            .finish_non_exhaustive()
    }
}

impl<R: Read> ParGunzip<R> {
    /// `workers` threads (0: one per core).
    pub fn new(source: R, workers: usize) -> Self {
        let (tx, workers, n) = pool("berth-gunzip", workers, || {
            let mut inflate = Decompress::new(false);
            move |member: Member| inflate_member(&mut inflate, &member)
        });
        Self {
            source: Some(BufReader::with_capacity(256 << 10, source)),
            sequential: None,
            other: None,
            pending: VecDeque::new(),
            jobs: Some(tx),
            workers,
            max_pending: n + 1,
            current: Vec::new(),
            served: 0,
        }
    }

    /// Reads ahead until `max_pending` members are with the workers, or the stream
    /// ends, or a member without its length turns up.
    fn read_ahead(&mut self) -> io::Result<()> {
        while self.pending.len() < self.max_pending && self.other.is_none() {
            let Some(source) = self.source.as_mut() else {
                return Ok(());
            };
            match next(source)? {
                Next::Member(m) => {
                    let (tx, rx) = mpsc::sync_channel(1);
                    self.jobs
                        .as_ref()
                        .expect("workers run while the source is read")
                        .send((m, tx))
                        .map_err(|_| io::Error::other("decompression workers ended"))?;
                    self.pending.push_back(rx);
                }
                Next::Other(bytes) => self.other = Some(bytes),
                Next::End => self.source = None,
            }
        }
        Ok(())
    }

    /// The next inflated member into `current`; false when none is left for the
    /// workers (the stream ended, or the sequential decoder takes over).
    fn next_member(&mut self) -> io::Result<bool> {
        self.read_ahead()?;
        let Some(rx) = self.pending.pop_front() else {
            return Ok(false);
        };
        self.current = rx
            .recv()
            .map_err(|_| io::Error::other("a decompression worker ended"))??;
        self.served = 0;
        Ok(true)
    }

    /// Hands the rest of the stream to one sequential decoder.
    fn go_sequential(&mut self) -> bool {
        match (self.other.take(), self.source.take()) {
            (Some(head), Some(source)) => {
                self.sequential = Some(MultiGzDecoder::new(Cursor::new(head).chain(source)));
                // Nothing more for the workers.
                self.jobs = None;
                true
            }
            _ => false,
        }
    }
}

impl<R: Read> Read for ParGunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.served < self.current.len() {
                let n = buf.len().min(self.current.len() - self.served);
                buf[..n].copy_from_slice(&self.current[self.served..self.served + n]);
                self.served += n;
                return Ok(n);
            }
            if let Some(d) = self.sequential.as_mut() {
                return d.read(buf);
            }
            if !self.next_member()? && !self.go_sequential() {
                return Ok(0);
            }
        }
    }
}

impl<R: Read> Drop for ParGunzip<R> {
    fn drop(&mut self) {
        // Ends the workers: their queue closes and they return.
        self.jobs = None;
        self.pending.clear();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// A whole member's data, checked against its trailer's CRC-32 and size.
fn inflate_member(inflate: &mut Decompress, m: &Member) -> io::Result<Vec<u8>> {
    let (body, trailer) = m.bytes[m.body_at..].split_at(m.bytes.len() - m.body_at - 8);
    let crc = u32::from_le_bytes(trailer[..4].try_into().expect("four bytes"));
    let size = u32::from_le_bytes(trailer[4..].try_into().expect("four bytes")) as usize;
    // `next` took the member only with a size within one block.
    let mut out = Vec::with_capacity(size);
    inflate.reset(false);
    let status = inflate
        .decompress_vec(body, &mut out, FlushDecompress::Finish)
        .map_err(|e| damaged(&format!("{e}")))?;
    // The data must end exactly where the member's length says, at the size the
    // trailer gives (the output stopping at that capacity counts as too long).
    if status != Status::StreamEnd || inflate.total_in() != body.len() as u64 {
        return Err(damaged("its data does not end where its length says"));
    }
    let mut check = Crc::new();
    check.update(&out);
    if out.len() != size || check.sum() != crc {
        return Err(damaged("its data does not match its CRC-32 and size"));
    }
    Ok(out)
}

fn damaged(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a gzip member is damaged: {what}"),
    )
}

/// Reads what follows in `source`: a whole member if its header gives its length
/// (and the member is within bounds), else the bytes read so far.
fn next(source: &mut impl BufRead) -> io::Result<Next> {
    if source.fill_buf()?.is_empty() {
        return Ok(Next::End);
    }
    let mut bytes = Vec::new();
    let Some(length) = member_length(source, &mut bytes)? else {
        return Ok(Next::Other(bytes));
    };
    let have = bytes.len();
    bytes.resize(length, 0);
    let read = read_full(source, &mut bytes[have..])?;
    if read < length - have {
        // Cut off: the sequential decoder says so as it always did.
        bytes.truncate(have + read);
        return Ok(Next::Other(bytes));
    }
    let size = u32::from_le_bytes(bytes[length - 4..].try_into().expect("four bytes"));
    if size as usize > BLOCK {
        return Ok(Next::Other(bytes));
    }
    Ok(Next::Member(Member {
        body_at: have,
        bytes,
    }))
}

/// Reads a member's header into `bytes`; the member's whole length when the header
/// has the [`LENGTH_ID`] subfield and nothing else optional, and the length is within
/// bounds.
fn member_length(source: &mut impl BufRead, bytes: &mut Vec<u8>) -> io::Result<Option<usize>> {
    if !read_into(source, bytes, FIXED + 2)? || bytes[..3] != [0x1f, 0x8b, 8] || bytes[3] != FEXTRA
    {
        return Ok(None);
    }
    let xlen = usize::from(u16::from_le_bytes([bytes[FIXED], bytes[FIXED + 1]]));
    if !read_into(source, bytes, xlen)? {
        return Ok(None);
    }
    let mut extra = &bytes[FIXED + 2..];
    while extra.len() >= 4 {
        let sub = usize::from(u16::from_le_bytes([extra[2], extra[3]]));
        let Some(data) = extra.get(4..4 + sub) else {
            break;
        };
        if extra[..2] == LENGTH_ID && sub == 4 {
            let length = u32::from_le_bytes(data.try_into().expect("four bytes")) as usize;
            let header = FIXED + 2 + xlen;
            // A header, at least an empty deflate block, and the trailer.
            let fits = length >= header + 2 + 8 && length <= MAX_MEMBER;
            return Ok(fits.then_some(length));
        }
        extra = &extra[4 + sub..];
    }
    Ok(None)
}

/// Appends `n` bytes of `source` to `bytes`; false if the stream ends first (what was
/// there is appended).
fn read_into(source: &mut impl BufRead, bytes: &mut Vec<u8>, n: usize) -> io::Result<bool> {
    let have = bytes.len();
    bytes.resize(have + n, 0);
    let read = read_full(source, &mut bytes[have..])?;
    bytes.truncate(have + read);
    Ok(read == n)
}

/// Fills `buf` unless the stream ends first; how much was read.
fn read_full(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut read = 0;
    while read < buf.len() {
        match source.read(&mut buf[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;

    use super::super::pargz::ParGz;
    use super::*;

    fn mixed(n: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|i| {
                if (i / BLOCK).is_multiple_of(2) {
                    (i % 97) as u8
                } else {
                    x ^= x >> 12;
                    x ^= x << 25;
                    x ^= x >> 27;
                    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
                }
            })
            .collect()
    }

    fn pargz(data: &[u8]) -> Vec<u8> {
        let mut w = ParGz::new(Vec::new(), Compression::default(), 2);
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn gunzip(gz: &[u8], workers: usize) -> io::Result<Vec<u8>> {
        let mut d = ParGunzip::new(gz, workers);
        let mut back = Vec::new();
        d.read_to_end(&mut back)?;
        Ok(back)
    }

    #[test]
    fn members_with_their_length_come_back_in_order() {
        let data = mixed(5 * BLOCK + 4321);
        let gz = pargz(&data);
        for workers in [1, 2, 3] {
            let mut d = ParGunzip::new(&gz[..], workers);
            let mut back = Vec::new();
            d.read_to_end(&mut back).unwrap();
            assert!(back == data, "{workers} workers");
            assert!(d.sequential.is_none(), "every member went to the workers");
        }
    }

    #[test]
    fn a_stream_without_lengths_is_read_by_one_decoder() {
        let data = mixed(3 * BLOCK + 17);
        // Members as flate2 writes them (no extra field), as older backups have.
        let mut gz = Vec::new();
        for chunk in data.chunks(BLOCK) {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(chunk).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let mut d = ParGunzip::new(&gz[..], 2);
        let mut back = Vec::new();
        d.read_to_end(&mut back).unwrap();
        assert!(back == data);
        assert!(d.sequential.is_some());
        // Sized members first, then ones without: both kinds, in order.
        let mut both = pargz(&data);
        both.extend_from_slice(&gz);
        let mut twice = data.clone();
        twice.extend_from_slice(&data);
        assert!(gunzip(&both, 2).unwrap() == twice);
    }

    #[test]
    fn damage_and_lies_are_refused() {
        let data = mixed(2 * BLOCK);
        let gz = pargz(&data);
        // A flipped byte in the first (text) member's data.
        let mut flipped = gz.clone();
        flipped[40] ^= 0x10;
        let e = gunzip(&flipped, 2).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        // A flipped byte in the second (stored) member: the CRC-32 finds it.
        let mut flipped = gz.clone();
        let at = gz.len() - 1000;
        flipped[at] ^= 0x01;
        let e = gunzip(&flipped, 2).unwrap_err();
        assert!(e.to_string().contains("CRC-32"), "{e}");
        // A length that claims more or less than the member: the member is refused
        // or read by the sequential decoder (for which the length is only a
        // subfield), never served wrong.
        for delta in [-1i64, 1, 4096, -100_000] {
            let mut lying = gz.clone();
            let length = u32::from_le_bytes(lying[16..20].try_into().unwrap());
            let told = (i64::from(length) + delta) as u32;
            lying[16..20].copy_from_slice(&told.to_le_bytes());
            match gunzip(&lying, 2) {
                Ok(back) => assert!(back == data, "length off by {delta}"),
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{delta}: {e}"),
            }
        }
        // Cut off within a member.
        assert!(gunzip(&gz[..gz.len() - 100], 2).is_err());
        assert!(gunzip(&gz[..25], 2).is_err());
    }

    #[test]
    fn the_empty_stream_and_the_empty_member() {
        assert!(gunzip(&[], 2).unwrap().is_empty());
        let empty = ParGz::new(Vec::new(), Compression::default(), 1)
            .finish()
            .unwrap();
        assert!(gunzip(&empty, 2).unwrap().is_empty());
    }
}
