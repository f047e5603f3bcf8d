//! The archive as a stream, both ways: writing `manifest.json`, each volume's tar in
//! parts and `index.json` (format 3, see [`parts`]) through tar → parallel gzip →
//! (encryption) into a byte sink, reading every volume once; and walking a stored
//! archive of any format back — checking the stored checksum, the manifest and every
//! volume's tar — with each volume handed to a callback as one stream. Both run on a
//! blocking thread and hold a bounded amount of memory whatever the size of the backup.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_protocol::api::backups::{
    FORMAT_HOST_PATHS, FORMAT_STREAMED, FORMAT_VERSION, Manifest, ManifestImage, ManifestVolume,
};
use bytes::Bytes;
use flate2::Compression;
use sha2::{Digest, Sha256};

use super::crypt::{self, DecryptReader, EncryptWriter, Secret};
use super::gunzip::ParGunzip;
use super::pargz::{ParGz, Piped};
use super::parts::{self, INDEX, PART_BYTES};
use crate::jobs::JobCtx;

pub const MANIFEST: &str = "manifest.json";
/// The tar path of the image a backup carries (a `docker save` stream).
pub const IMAGE: &str = "image.tar";

/// One data entry of an archive, as the manifest describes it.
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    Volume(&'a ManifestVolume),
    Image(&'a ManifestImage),
}

impl Part<'_> {
    pub fn path(&self) -> String {
        match self {
            Part::Volume(v) => volume_path(&v.name),
            Part::Image(_) => IMAGE.to_owned(),
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Part::Volume(v) => v.tar_bytes,
            Part::Image(i) => i.tar_bytes,
        }
    }

    fn sha256(&self) -> &str {
        match self {
            Part::Volume(v) => &v.sha256,
            Part::Image(i) => &i.sha256,
        }
    }

    /// In words, for errors: `volume data`, `image nginx:1.27`.
    pub fn what(&self) -> String {
        match self {
            Part::Volume(v) => format!("volume {}", v.name),
            Part::Image(i) => format!("image {}", i.reference),
        }
    }
}

/// The tar path of a volume inside a backup.
pub fn volume_path(name: &str) -> String {
    format!("volumes/{name}.tar")
}

/// Counts and hashes what passes through; optionally reports to a job.
pub struct Tap<R> {
    inner: R,
    pub sha: Sha256,
    pub n: u64,
    progress: Option<(Arc<AtomicU64>, JobCtx)>,
}

impl<R> std::fmt::Debug for Tap<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

impl<R> Tap<R> {
    pub fn new(inner: R, ctx: Option<&JobCtx>) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
            n: 0,
            progress: ctx.map(|c| (c.byte_counter(), c.clone())),
        }
    }

    pub fn hex(&self) -> String {
        hex::encode(self.sha.clone().finalize())
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.n += n as u64;
        if let Some((c, ctx)) = &self.progress {
            c.fetch_add(n as u64, Ordering::Relaxed);
            ctx.tick();
        }
        Ok(n)
    }
}

/// Where the archive's bytes go: plain or sealed.
enum Out<W: Write> {
    Plain(W),
    Sealed(EncryptWriter<W>),
}

impl<W: Write> Write for Out<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Out::Plain(w) => w.write(b),
            Out::Sealed(w) => w.write(b),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Plain(w) => w.flush(),
            Out::Sealed(w) => w.flush(),
        }
    }
}

/// Everything read is also written to `side` (a digest's thread).
pub struct Tee<R, W> {
    pub inner: R,
    pub side: W,
}

impl<R, W> std::fmt::Debug for Tee<R, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tee").finish_non_exhaustive()
    }
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.side.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// What the writer produced.
#[derive(Debug, Clone)]
pub struct Written {
    pub sha256: String,
    pub bytes: u64,
}

/// Hashes and counts the final bytes, then hands them on.
struct Sink<W> {
    inner: W,
    sha: Sha256,
    n: u64,
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.sha.update(&b[..n]);
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Where a backup's data comes from: the image's `docker save` stream (when the
/// manifest names an image) and each volume's tar, in the manifest's order.
pub struct Sources {
    pub image: Option<Box<dyn Read + Send>>,
    pub volumes: Vec<Box<dyn Read + Send>>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("image", &self.image.is_some())
            .field("volumes", &self.volumes.len())
            .finish()
    }
}

/// Writes a whole backup in format 3 into `out`, reading each source once: the
/// manifest's head first (everything known before the data), then the image and each
/// volume in parts as their sources give them, then `index.json` with what the
/// reading found — sizes, checksums, content digests — and the seal `seal` puts on
/// the complete manifest. Returns what was written and the complete manifest.
pub fn write_archive<W: Write + Send + 'static>(
    out: W,
    secret: Option<&Secret>,
    manifest: &Manifest,
    sources: Sources,
    ctx: Option<&JobCtx>,
    seal: &dyn Fn(&mut Manifest),
) -> io::Result<(W, Written, Manifest)> {
    if manifest.image.is_some() != sources.image.is_some()
        || manifest.volumes.len() != sources.volumes.len()
    {
        return Err(io::Error::other(
            "the sources and the manifest's entries go together",
        ));
    }
    let sink = Sink {
        inner: out,
        sha: Sha256::new(),
        n: 0,
    };
    let out = match secret {
        Some(s) => Out::Sealed(EncryptWriter::new(sink, s).map_err(io::Error::from)?),
        None => Out::Plain(sink),
    };
    // Compression on every core; checksum, sealing and hand-off on a thread of their own.
    let mut tar = tar::Builder::new(ParGz::new(Piped::new(out), Compression::default(), 0));
    let mtime = manifest.created_ms / 1000;
    let header = move |size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        h
    };
    let mut complete = manifest.clone();
    complete.format = FORMAT_STREAMED;
    let head = serde_json::to_vec_pretty(&parts::head_of(&complete)).map_err(io::Error::other)?;
    tar.append_data(&mut header(head.len() as u64), MANIFEST, &head[..])?;
    let mut buf = Vec::with_capacity(PART_BYTES);
    if let (Some(image), Some(src)) = (&mut complete.image, sources.image) {
        let mut tap = Tap::new(src, ctx);
        parts::append_parts(&mut tar, &header, IMAGE, &mut tap, &mut buf)?;
        (image.tar_bytes, image.sha256) = (tap.n, tap.hex());
    }
    for (volume, src) in complete.volumes.iter_mut().zip(sources.volumes) {
        if let Some(c) = ctx {
            c.phase(&format!("writing {}", super::host_paths::what(volume)));
        }
        append_volume(&mut tar, &header, volume, src, ctx, &mut buf)?;
        if let Some(c) = ctx {
            c.item_done();
        }
    }
    seal(&mut complete);
    let index =
        serde_json::to_vec_pretty(&parts::Index::of(&complete)).map_err(io::Error::other)?;
    tar.append_data(&mut header(index.len() as u64), INDEX, &index[..])?;
    let gz = tar.into_inner()?;
    let out = gz.finish()?.finish()?;
    let sink = match out {
        Out::Plain(s) => s,
        Out::Sealed(e) => e.finish()?,
    };
    let written = Written {
        sha256: hex::encode(sink.sha.finalize()),
        bytes: sink.n,
    };
    Ok((sink.inner, written, complete))
}

/// Streams one volume's tar into the archive in parts and fills in its figures: size
/// and SHA-256 as the bytes pass, the content digest (which also refuses entries a
/// restore could not write) on a thread of its own fed through a pipe.
fn append_volume<W: Write>(
    tar: &mut tar::Builder<W>,
    header: &dyn Fn(u64) -> tar::Header,
    volume: &mut ManifestVolume,
    src: Box<dyn Read + Send>,
    ctx: Option<&JobCtx>,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    let (mut pipe_r, pipe_w) = io::pipe()?;
    let digest = std::thread::spawn(move || {
        let found = super::digest::digest_tar(&mut pipe_r);
        // What follows the tar's end marker is read too, or the writer would meet a
        // closed pipe.
        let _ = io::copy(&mut pipe_r, &mut io::sink());
        found
    });
    let mut tap = Tap::new(
        Tee {
            inner: src,
            side: ToDigest(pipe_w),
        },
        ctx,
    );
    let appended = parts::append_parts(tar, header, &volume_path(&volume.name), &mut tap, buf);
    let (tar_bytes, sha256) = (tap.n, tap.hex());
    drop(tap);
    let digest = digest
        .join()
        .map_err(|_| io::Error::other("the digest thread panicked"))?;
    let digest = match (appended, digest) {
        (Ok(()), Ok(d)) => d,
        // The digest stopped reading first: its reason is the one. (Any other failure
        // — the source, the upload's broken pipe — is the writer's own.)
        (Err(e), Err(d)) if e.to_string() == DIGEST_STOPPED => return Err(d),
        (Err(e), _) | (Ok(()), Err(e)) => return Err(e),
    };
    (volume.tar_bytes, volume.sha256) = (tar_bytes, sha256);
    (volume.content_digest, volume.entries) = (digest.hex, digest.entries);
    Ok(())
}

/// Said by a write into the digest's pipe that the digest no longer reads.
const DIGEST_STOPPED: &str = "the content digest stopped reading";

/// The writer's end of the pipe into the digest thread, whose failure is told apart
/// from the upload's broken pipe.
struct ToDigest(io::PipeWriter);

impl Write for ToDigest {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0
            .write(b)
            .map_err(|_| io::Error::other(DIGEST_STOPPED))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What walking a stored archive found.
#[derive(Debug, Clone)]
pub struct Walked {
    /// Complete: a format-3 archive's head with its index's figures and seal.
    pub manifest: Manifest,
    pub stored: Written,
}

/// What a walk measured of one stream: its size, SHA-256 and, when the part's reader
/// computed it, its content digest.
struct Measured {
    path: String,
    bytes: u64,
    sha256: String,
    content_digest: Option<String>,
}

/// Reads a stored backup from `raw` to its end: decrypts if it is sealed (and refuses
/// without a secret), checks the manifest comes first and is a known format, hands
/// each stream (the image, each volume's tar, joined from its parts in format 3) to
/// `on_part` — which reads it and may return the content digest it computed — checks
/// every stream against the complete manifest, and returns that manifest and the
/// checksum of the raw bytes. `known` is the catalog's manifest when there is one:
/// the archive must be that backup, and its figures are checked as each stream ends
/// (a restore must know a volume is whole before Docker takes it).
pub fn walk_archive(
    raw: impl Read,
    secret: Option<&Secret>,
    known: Option<&Manifest>,
    ctx: Option<&JobCtx>,
    mut on_part: impl FnMut(Part<'_>, &mut dyn Read) -> io::Result<Option<String>>,
) -> io::Result<Walked> {
    let mut tap = BufReader::with_capacity(256 << 10, Tap::new(raw, ctx));
    let sealed = crypt::is_encrypted(tap.fill_buf()?);
    let plain: Box<dyn Read + '_> = match (sealed, secret) {
        (true, Some(s)) => Box::new(DecryptReader::new(&mut tap, s).map_err(io::Error::from)?),
        (true, None) => {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "this backup is encrypted; give its passphrase",
            ));
        }
        (false, _) => Box::new(&mut tap),
    };
    let mut archive = tar::Archive::new(ParGunzip::new(plain, 0));
    let mut entries = archive.entries()?;
    let head = read_head(entries.next().transpose()?, known)?;
    let streamed = head.format >= FORMAT_STREAMED;
    let expected = known.unwrap_or(&head);
    let mut measured: Vec<Measured> = Vec::new();
    let mut index: Option<parts::Index> = None;
    let mut pending = None;
    loop {
        let entry = match pending.take() {
            Some(e) => e,
            None => match entries.next().transpose()? {
                Some(e) => e,
                None => break,
            },
        };
        let path = entry.path()?.to_string_lossy().into_owned();
        if index.is_some() {
            return Err(damaged(format!("{path} follows {INDEX}")));
        }
        if streamed && path == INDEX {
            index = Some(read_json(entry, INDEX)?);
            continue;
        }
        let (path, reader): (String, Box<dyn Read + '_>) = if streamed {
            match parts::split_part(&path) {
                Some((base, 1)) => (
                    base.to_owned(),
                    Box::new(parts::Joined {
                        current: Some(entry),
                        entries: &mut entries,
                        pending: &mut pending,
                        base: base.to_owned(),
                        next: 2,
                    }),
                ),
                Some(_) => return Err(damaged(format!("{path} comes without its first part"))),
                None => return Err(damaged(format!("unexpected entry {path}"))),
            }
        } else {
            (path, Box::new(entry))
        };
        let part = part_at(expected, &path)?;
        if measured.iter().any(|m| m.path == path) {
            return Err(damaged(format!("{path} appears twice")));
        }
        // Figures known up front are checked as the stream ends, before `on_part`
        // sees its end (a restore tells Docker the volume is complete only then);
        // every stream, and its content digest, is checked against the complete
        // manifest once the walk ends (format 3's figures are in the index).
        let mut checked = Checked {
            tap: Tap::new(reader, None),
            expect: (!part.sha256().is_empty()).then_some(part),
        };
        let content_digest = on_part(part, &mut checked)?;
        io::copy(&mut checked, &mut io::sink())?;
        measured.push(Measured {
            path,
            bytes: checked.tap.n,
            sha256: checked.tap.hex(),
            content_digest,
        });
    }
    let manifest = complete(head, index, &measured)?;
    // The rest (tar padding, gzip trailer, the last sealed chunk) is part of what
    // was stored: read it, so the checksum covers every byte.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink())?;
    drop(rest);
    let tap = tap.into_inner();
    Ok(Walked {
        manifest,
        stored: Written {
            sha256: tap.hex(),
            bytes: tap.n,
        },
    })
}

/// The complete manifest (format 3: the head with its index's figures and seal), with
/// every stream it names found and measured as it says.
fn complete(
    head: Manifest,
    index: Option<parts::Index>,
    measured: &[Measured],
) -> io::Result<Manifest> {
    let manifest = match (head.format >= FORMAT_STREAMED, index) {
        (false, _) => head,
        (true, Some(index)) => index.complete(&head).map_err(damaged)?,
        (true, None) => return Err(damaged(format!("no {INDEX}: the backup was cut short"))),
    };
    let parts = manifest
        .image
        .as_ref()
        .map(Part::Image)
        .into_iter()
        .chain(manifest.volumes.iter().map(Part::Volume));
    for p in parts {
        match measured.iter().find(|m| m.path == p.path()) {
            Some(got) => check_figures(p, got)?,
            None => return Err(damaged(format!("{} is missing", p.what()))),
        }
    }
    Ok(manifest)
}

/// The archive's first entry, `manifest.json`: a known format, and the catalog's
/// backup when there is one.
fn read_head<R: Read>(
    first: Option<tar::Entry<'_, R>>,
    known: Option<&Manifest>,
) -> io::Result<Manifest> {
    let Some(first) = first else {
        return Err(damaged(format!("no {MANIFEST}")));
    };
    let path = first.path()?.to_string_lossy().into_owned();
    if path != MANIFEST {
        return Err(damaged(format!(
            "the first entry is {path}, not {MANIFEST}"
        )));
    }
    let m: Manifest = read_json(first, MANIFEST)?;
    if m.format == 0 || m.format > FORMAT_VERSION {
        return Err(damaged(format!(
            "backup format {} is not known to this Berth (it reads up to {FORMAT_VERSION})",
            m.format
        )));
    }
    if m.format < FORMAT_HOST_PATHS && m.volumes.iter().any(|v| v.is_host_path()) {
        return Err(damaged(format!(
            "a format {} backup cannot hold host directories",
            m.format
        )));
    }
    if let Some(k) = known {
        let want = if k.format >= FORMAT_STREAMED {
            parts::head_of(k)
        } else {
            k.clone()
        };
        if m != want {
            return Err(damaged(format!(
                "its {MANIFEST} is not the catalogued backup's"
            )));
        }
    }
    Ok(m)
}

/// A small JSON entry (at most 16 MiB).
fn read_json<T: serde::de::DeserializeOwned>(entry: impl Read, name: &str) -> io::Result<T> {
    let mut json = Vec::new();
    entry.take(16 << 20).read_to_end(&mut json)?;
    serde_json::from_slice(&json).map_err(|err| damaged(format!("{name} does not parse: {err}")))
}

/// The manifest's part stored at `path`.
fn part_at<'m>(m: &'m Manifest, path: &str) -> io::Result<Part<'m>> {
    match &m.image {
        Some(i) if path == IMAGE => Ok(Part::Image(i)),
        _ => match m.volumes.iter().find(|v| volume_path(&v.name) == path) {
            Some(v) => Ok(Part::Volume(v)),
            None => Err(damaged(format!("unexpected entry {path}"))),
        },
    }
}

/// A stream that fails at its end, instead of ending, when it is not what its part's
/// figures say: whoever reads it to the end knows it whole.
struct Checked<'p, R> {
    tap: Tap<R>,
    expect: Option<Part<'p>>,
}

impl<R: Read> Read for Checked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tap.read(buf)?;
        if let (0, false, Some(p)) = (n, buf.is_empty(), self.expect)
            && (self.tap.n != p.bytes() || self.tap.hex() != p.sha256())
        {
            return Err(damaged(format!("{} does not match its checksum", p.what())));
        }
        Ok(n)
    }
}

/// A stream read against its part's figures.
fn check_figures(p: Part<'_>, got: &Measured) -> io::Result<()> {
    if got.bytes != p.bytes() {
        return Err(damaged(format!(
            "{} holds {} bytes, the manifest says {}",
            p.path(),
            got.bytes,
            p.bytes()
        )));
    }
    let digest_differs = match (p, &got.content_digest) {
        (Part::Volume(v), Some(d)) => *d != v.content_digest,
        _ => false,
    };
    if got.sha256 != p.sha256() || digest_differs {
        return Err(damaged(format!("{} does not match its checksum", p.what())));
    }
    Ok(())
}

/// The archive is not what it should be.
pub fn damaged(msg: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the backup is damaged: {msg}"),
    )
}

/// Reads a part from a walk and computes a volume's content digest, which the walk
/// checks against the manifest (as it checks every part's SHA-256).
pub fn check_part(p: Part<'_>, r: &mut dyn Read) -> io::Result<Option<String>> {
    match p {
        Part::Volume(_) => Ok(Some(super::digest::digest_tar(r)?.hex)),
        Part::Image(_) => Ok(None),
    }
}

/// Leaves a part to the walk's SHA-256 check alone: for the read-back of a backup
/// just written, whose content digests were computed from the very bytes the SHA-256
/// pins (an equal SHA-256 means an equal digest, without hashing twice).
pub fn check_sha(_: Part<'_>, _: &mut dyn Read) -> io::Result<Option<String>> {
    Ok(None)
}

/// A `Write` into an async channel (the storage upload reads the other end).
#[derive(Debug)]
pub struct ChanWriter(pub tokio::sync::mpsc::Sender<io::Result<Bytes>>);

/// The most a [`ChanWriter`] sends at once: its channel's depth times this bounds the
/// bytes in flight whatever size the writes come in (whole 1 MiB gzip members).
pub const CHAN_PIECE: usize = 256 << 10;

impl Write for ChanWriter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = b.len().min(CHAN_PIECE);
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(&b[..n])))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload ended"))?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::api::backups::{BackupTarget, Consistency, ManifestSeal, Trigger};

    fn volume_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (n, d) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o600);
            h.set_uid(0);
            h.set_gid(0);
            h.set_cksum();
            b.append_data(&mut h, n, *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// A manifest naming `vols`, with their figures (as a complete one has them).
    fn manifest_for(vols: &[(&str, &[u8])]) -> Manifest {
        Manifest {
            format: FORMAT_VERSION,
            berth_version: "test".into(),
            id: "b-1".into(),
            host: "h".into(),
            created_ms: 1_700_000_000_000,
            trigger: Trigger::Manual,
            consistency: Consistency::Stop,
            target: BackupTarget::Volume { name: "v".into() },
            container: None,
            network: None,
            was_running: false,
            image_id: None,
            volumes: vols
                .iter()
                .map(|(n, t)| {
                    let digest = super::super::digest::digest_tar(*t).unwrap();
                    ManifestVolume {
                        name: (*n).into(),
                        destination: None,
                        tar_bytes: t.len() as u64,
                        sha256: hex::encode(Sha256::digest(t)),
                        content_digest: digest.hex,
                        entries: digest.entries,
                        driver: "local".into(),
                        labels: Default::default(),
                        host_path: None,
                    }
                })
                .collect(),
            image: None,
            binds_not_included: vec![],
            members: vec![],
            networks: vec![],
            seal: None,
        }
    }

    fn sources(image: Option<&[u8]>, vols: &[&[u8]]) -> Sources {
        let own = |b: &[u8]| Box::new(io::Cursor::new(b.to_vec())) as Box<dyn Read + Send>;
        Sources {
            image: image.map(own),
            volumes: vols.iter().map(|v| own(v)).collect(),
        }
    }

    fn the_seal(m: &mut Manifest) {
        m.seal = Some(ManifestSeal {
            key_id: "k".into(),
            hmac_sha256: format!("over {}", m.volumes.len()),
        });
    }

    fn write(
        m: &Manifest,
        secret: Option<&Secret>,
        src: Sources,
    ) -> io::Result<(Vec<u8>, Manifest)> {
        write_archive(Vec::new(), secret, m, src, None, &the_seal).map(|(out, _, m)| (out, m))
    }

    /// The entries of a plain archive, with their sizes.
    fn listing(stored: &[u8]) -> Vec<(String, u64)> {
        let mut a = tar::Archive::new(flate2::read::MultiGzDecoder::new(stored));
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.size())
            })
            .collect()
    }

    fn round_trip(secret: Option<&Secret>) {
        let a = volume_tar(&[("x", b"hello")]);
        // More than one part.
        let b = volume_tar(&[("y", &[7u8; PART_BYTES + 300_000])]);
        let image = vec![3u8; 70_000];
        let mut want = manifest_for(&[("a", &a), ("b", &b)]);
        want.image = Some(ManifestImage {
            reference: "app:1".into(),
            id: "sha256:abc".into(),
            tar_bytes: image.len() as u64,
            sha256: hex::encode(Sha256::digest(&image)),
            others: vec![],
        });
        the_seal(&mut want);
        // The writer is given what is known before the data; it finds the rest.
        let (stored, complete) = write(
            &parts::head_of(&want),
            secret,
            sources(Some(&image), &[&a, &b]),
        )
        .unwrap();
        assert_eq!(complete, want);
        if secret.is_none() {
            let names: Vec<String> = listing(&stored).into_iter().map(|(n, _)| n).collect();
            assert_eq!(
                names,
                [
                    MANIFEST,
                    "image.tar.part-00000001",
                    "volumes/a.tar.part-00000001",
                    "volumes/b.tar.part-00000001",
                    "volumes/b.tar.part-00000002",
                    INDEX
                ]
            );
        }
        let mut got = Vec::new();
        let walked = walk_archive(&stored[..], secret, None, None, |p, r| {
            let mut t = Vec::new();
            r.read_to_end(&mut t)?;
            got.push((p.path(), t));
            Ok(None)
        })
        .unwrap();
        assert_eq!(walked.manifest, want);
        assert_eq!(
            got,
            vec![
                (IMAGE.to_owned(), image),
                ("volumes/a.tar".to_owned(), a),
                ("volumes/b.tar".to_owned(), b)
            ]
        );
        // Every volume checks against the manifest, with and without the catalog's;
        // a flipped byte does not.
        walk_archive(&stored[..], secret, None, None, check_part).unwrap();
        walk_archive(&stored[..], secret, Some(&want), None, check_part).unwrap();
        // (In the last gzip member's compressed data: a member header's time and OS
        // bytes are not covered by its CRC.)
        let mut bad = stored.clone();
        let i = bad.len() - 20;
        bad[i] ^= 1;
        assert!(walk_archive(&bad[..], secret, None, None, check_part).is_err());
    }

    #[test]
    fn plain_and_sealed_archives_round_trip_and_damage_is_found() {
        round_trip(None);
        round_trip(Some(&Secret::Key([9; 32])));
    }

    /// A tar entry's path and contents.
    type Entry<'a> = (&'a str, &'a [u8]);

    /// A gzip'd tar of `entries` as given, the way formats 1 and 2 (and hand-made
    /// archives) were written.
    fn archive_of(entries: &[Entry<'_>]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    fn json(m: &impl serde::Serialize) -> Vec<u8> {
        serde_json::to_vec(m).unwrap()
    }

    #[test]
    fn formats_one_and_two_still_read_and_host_directories_need_two() {
        let a = volume_tar(&[("compose.yaml", b"services: {}\n")]);
        let mut m = manifest_for(&[("@stack", &a)]);
        m.volumes[0].host_path = Some("/opt/stacks/web".into());
        let old = |m: &Manifest| archive_of(&[(MANIFEST, &json(m)), ("volumes/@stack.tar", &a)]);
        m.format = 1;
        let refused = walk_archive(&old(&m)[..], None, None, None, check_part).unwrap_err();
        assert!(
            refused.to_string().contains("host directories"),
            "{refused}"
        );
        m.format = FORMAT_HOST_PATHS;
        let walked = walk_archive(&old(&m)[..], None, Some(&m), None, check_part).unwrap();
        assert_eq!(walked.manifest, m);
        m.volumes[0].content_digest = "0".repeat(64);
        let e = walk_archive(&old(&m)[..], None, None, None, check_part).unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[test]
    fn a_streamed_archive_needs_its_index_and_its_parts_in_order() {
        let a = volume_tar(&[("x", b"hello")]);
        let mut m = manifest_for(&[("a", &a)]);
        m.format = FORMAT_STREAMED;
        let head = json(&parts::head_of(&m));
        let index = json(&parts::Index::of(&m));
        let (one, two) = a.split_at(100);
        let cases: [(&[Entry<'_>], &str); 5] = [
            (
                &[(MANIFEST, &head), ("volumes/a.tar.part-00000001", &a)],
                "cut short",
            ),
            (
                &[
                    (MANIFEST, &head),
                    ("volumes/a.tar.part-00000002", &a),
                    (INDEX, &index),
                ],
                "without its first part",
            ),
            (
                &[
                    (MANIFEST, &head),
                    ("volumes/a.tar.part-00000001", one),
                    ("volumes/a.tar.part-00000003", two),
                    (INDEX, &index),
                ],
                "without its first part",
            ),
            (
                &[
                    (MANIFEST, &head),
                    (INDEX, &index),
                    ("volumes/a.tar.part-00000001", &a),
                ],
                "follows index.json",
            ),
            (&[(MANIFEST, &head), (INDEX, &index)], "is missing"),
        ];
        for (entries, why) in cases {
            let e = walk_archive(&archive_of(entries)[..], None, None, None, |_, _| Ok(None))
                .unwrap_err();
            assert!(e.to_string().contains(why), "{why}: {e}");
        }
        // Cut anywhere, the parts join.
        let whole = archive_of(&[
            (MANIFEST, &head),
            ("volumes/a.tar.part-00000001", one),
            ("volumes/a.tar.part-00000002", two),
            (INDEX, &index),
        ]);
        let walked = walk_archive(&whole[..], None, None, None, check_part).unwrap();
        assert_eq!(walked.manifest, m);
        // With the catalog's figures, a stream that differs fails as its reader reaches
        // its end, not after: a restore must not tell Docker it is complete.
        let mut wrong = m.clone();
        wrong.volumes[0].sha256 = "0".repeat(64);
        let mut failed_in_the_read = false;
        let e = walk_archive(&whole[..], None, Some(&wrong), None, |_, r| {
            let read = io::copy(r, &mut io::sink());
            failed_in_the_read = read.is_err();
            read.map(|_| None)
        })
        .unwrap_err();
        assert!(
            failed_in_the_read && e.to_string().contains("checksum"),
            "{e}"
        );
        // Another backup's manifest is not the catalogued one.
        let mut other = m.clone();
        other.id = "b-2".into();
        let e = walk_archive(&whole[..], None, Some(&other), None, check_part).unwrap_err();
        assert!(e.to_string().contains("catalogued"), "{e}");
    }

    #[test]
    fn a_source_that_is_not_a_tar_fails_the_write() {
        let m = manifest_for(&[("a", &volume_tar(&[("x", b"hello")]))]);
        let e = write(&m, None, sources(None, &[&[1u8; 2048]])).unwrap_err();
        // The digest's reason, not the closed pipe the writer then met.
        assert_ne!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
    }

    #[test]
    fn an_encrypted_backup_needs_its_secret() {
        let a = volume_tar(&[("x", b"hello")]);
        let m = manifest_for(&[("a", &a)]);
        let (stored, _) = write(&m, Some(&Secret::Key([1; 32])), sources(None, &[&a])).unwrap();
        let e = walk_archive(&stored[..], None, None, None, check_part).unwrap_err();
        assert!(e.to_string().contains("passphrase"));
        let wrong = Secret::Key([2; 32]);
        let e = walk_archive(&stored[..], Some(&wrong), None, None, check_part).unwrap_err();
        assert!(e.to_string().contains("wrong passphrase"), "{e}");
    }
}
