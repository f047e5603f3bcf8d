//! The archive as a stream, both ways: writing `manifest.json` and `volumes/<name>.tar`
//! through tar → parallel gzip → (encryption) into a byte sink, and walking a stored
//! archive back — checking the stored checksum, the manifest and every volume's tar —
//! with each volume handed to a callback. Both run on a blocking thread and hold a
//! bounded amount of memory whatever the size of the backup.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_protocol::api::backups::{
    FORMAT_HOST_PATHS, FORMAT_VERSION, Manifest, ManifestImage, ManifestVolume,
};
use bytes::Bytes;
use flate2::Compression;
use sha2::{Digest, Sha256};

use super::crypt::{self, DecryptReader, EncryptWriter, Secret};
use super::pargz::{ParGz, Piped};
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

/// Exactly `len` bytes of `inner`: fewer is an error (a tar entry's size is written
/// before its data, so a source that shrank would corrupt the archive).
struct Exact<'a, R> {
    inner: &'a mut R,
    left: u64,
    what: &'a str,
}

impl<R: Read> Read for Exact<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf.len().min(self.left.try_into().unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(changed(self.what));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn changed(what: &str) -> io::Error {
    io::Error::other(format!(
        "{what} changed while it was being backed up; use the stop or pause consistency for it"
    ))
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

/// Writes a whole backup into `out`: the manifest first, then the image (when the
/// manifest names one) and each volume's tar from its source, each of which must yield
/// exactly the bytes measured for the manifest. `image` is the image's source.
pub fn write_archive<W: Write + Send + 'static>(
    out: W,
    secret: Option<&Secret>,
    manifest: &Manifest,
    image: Option<Box<dyn Read + Send>>,
    sources: Vec<(ManifestVolume, Box<dyn Read + Send>)>,
    ctx: Option<&JobCtx>,
) -> io::Result<(W, Written)> {
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
    let json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
    let mtime = manifest.created_ms / 1000;
    let header = |size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        h
    };
    tar.append_data(&mut header(json.len() as u64), MANIFEST, &json[..])?;
    let image = match (&manifest.image, image) {
        (Some(m), Some(src)) => Some((Part::Image(m), src)),
        (None, None) => None,
        _ => {
            return Err(io::Error::other(
                "the image and its manifest entry go together",
            ));
        }
    };
    let (volumes, readers): (Vec<ManifestVolume>, Vec<_>) = sources.into_iter().unzip();
    let parts = image.into_iter().chain(
        volumes
            .iter()
            .zip(readers)
            .map(|(v, src)| (Part::Volume(v), src)),
    );
    for (part, src) in parts {
        let what = part.what();
        let mut src = Tap::new(src, ctx);
        tar.append_data(
            &mut header(part.bytes()),
            part.path(),
            Exact {
                inner: &mut src,
                left: part.bytes(),
                what: &what,
            },
        )?;
        // A source that grew, or whose bytes differ from the measured ones, is a
        // part that changed between the two reads.
        let mut one = [0u8; 1];
        if src.read(&mut one)? != 0 || src.hex() != part.sha256() {
            return Err(changed(&what));
        }
        if let (Some(c), Part::Volume(_)) = (ctx, part) {
            c.item_done();
        }
    }
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
    Ok((sink.inner, written))
}

/// What walking a stored archive found.
#[derive(Debug, Clone)]
pub struct Walked {
    pub manifest: Manifest,
    pub stored: Written,
}

/// Reads a stored backup from `raw` to its end: decrypts if it is sealed (and refuses
/// without a secret), checks the manifest comes first and is a known format, hands
/// each part (the image, each volume's tar) to `on_part` (which must read it), checks every part of the
/// manifest was there, and returns the manifest and the checksum of the raw bytes.
pub fn walk_archive(
    raw: impl Read,
    secret: Option<&Secret>,
    ctx: Option<&JobCtx>,
    mut on_part: impl FnMut(Part<'_>, &mut dyn Read) -> io::Result<()>,
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
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(plain));
    let mut manifest: Option<Manifest> = None;
    let mut seen = Vec::new();
    for entry in archive.entries()? {
        let mut e = entry?;
        let path = e.path()?.to_string_lossy().into_owned();
        let Some(m) = &manifest else {
            if path != MANIFEST {
                return Err(damaged(format!(
                    "the first entry is {path}, not {MANIFEST}"
                )));
            }
            let mut json = Vec::new();
            (&mut e).take(16 << 20).read_to_end(&mut json)?;
            let m: Manifest = serde_json::from_slice(&json)
                .map_err(|err| damaged(format!("{MANIFEST} does not parse: {err}")))?;
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
            manifest = Some(m);
            continue;
        };
        let part = match &m.image {
            Some(i) if path == IMAGE => Part::Image(i),
            _ => match m.volumes.iter().find(|v| volume_path(&v.name) == path) {
                Some(v) => Part::Volume(v),
                None => return Err(damaged(format!("unexpected entry {path}"))),
            },
        };
        if e.size() != part.bytes() {
            return Err(damaged(format!(
                "{path} holds {} bytes, the manifest says {}",
                e.size(),
                part.bytes()
            )));
        }
        if seen.contains(&path) {
            return Err(damaged(format!("{path} appears twice")));
        }
        on_part(part, &mut e)?;
        seen.push(path);
    }
    let manifest = manifest.ok_or_else(|| damaged(format!("no {MANIFEST}")))?;
    let expected = manifest
        .image
        .as_ref()
        .map(Part::Image)
        .into_iter()
        .chain(manifest.volumes.iter().map(Part::Volume));
    for p in expected {
        if !seen.contains(&p.path()) {
            return Err(damaged(format!("{} is missing", p.what())));
        }
    }
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

/// The archive is not what it should be.
pub fn damaged(msg: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the backup is damaged: {msg}"),
    )
}

/// Reads a part from a walk and checks it against its manifest entry: its sha256, and
/// a volume's content digest too.
pub fn check_part(p: Part<'_>, r: &mut dyn Read) -> io::Result<()> {
    let mut tap = Tap::new(r, None);
    let digest_ok = match p {
        Part::Volume(v) => super::digest::digest_tar(&mut tap)?.hex == v.content_digest,
        Part::Image(_) => true,
    };
    io::copy(&mut tap, &mut io::sink())?;
    if tap.hex() != p.sha256() || !digest_ok {
        return Err(damaged(format!("{} does not match its checksum", p.what())));
    }
    Ok(())
}

/// Reads a part and checks its sha256 only: for the read-back of a backup just
/// written, whose manifest's content digests were computed from the very bytes the
/// sha256 pins (an equal sha256 means an equal digest, without hashing twice).
pub fn check_sha(p: Part<'_>, r: &mut dyn Read) -> io::Result<()> {
    let mut tap = Tap::new(r, None);
    io::copy(&mut tap, &mut io::sink())?;
    if tap.hex() != p.sha256() {
        return Err(damaged(format!("{} does not match its checksum", p.what())));
    }
    Ok(())
}

/// A `Write` into an async channel (the storage upload reads the other end).
#[derive(Debug)]
pub struct ChanWriter(pub tokio::sync::mpsc::Sender<io::Result<Bytes>>);

/// The most a [`ChanWriter`] sends at once: its channel's depth times this bounds the
/// bytes in flight whatever size the writes come in (whole 1 MiB gzip members).
const CHAN_PIECE: usize = 256 << 10;

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
    use berth_protocol::api::backups::{BackupTarget, Consistency, Trigger};

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
                .map(|(n, t)| ManifestVolume {
                    name: (*n).into(),
                    destination: None,
                    tar_bytes: t.len() as u64,
                    sha256: hex::encode(Sha256::digest(t)),
                    content_digest: super::super::digest::digest_tar(*t).unwrap().hex,
                    entries: 1,
                    driver: "local".into(),
                    labels: Default::default(),
                    host_path: None,
                })
                .collect(),
            image: None,
            binds_not_included: vec![],
            members: vec![],
            networks: vec![],
            seal: None,
        }
    }

    fn round_trip(secret: Option<&Secret>) {
        let a = volume_tar(&[("x", b"hello")]);
        let b = volume_tar(&[("y", &[7u8; 300_000])]);
        let m = manifest_for(&[("a", &a), ("b", &b)]);
        let sources: Vec<(ManifestVolume, Box<dyn Read + Send>)> = vec![
            (m.volumes[0].clone(), Box::new(io::Cursor::new(a.clone()))),
            (m.volumes[1].clone(), Box::new(io::Cursor::new(b.clone()))),
        ];
        // The image rides along, right after the manifest.
        let image = vec![3u8; 70_000];
        let mut m = m;
        m.image = Some(ManifestImage {
            reference: "app:1".into(),
            id: "sha256:abc".into(),
            tar_bytes: image.len() as u64,
            sha256: hex::encode(Sha256::digest(&image)),
            others: vec![],
        });
        let (stored, w) = write_archive(
            Vec::new(),
            secret,
            &m,
            Some(Box::new(io::Cursor::new(image.clone()))),
            sources,
            None,
        )
        .unwrap();
        assert_eq!(w.bytes, stored.len() as u64);
        let mut got = Vec::new();
        let walked = walk_archive(&stored[..], secret, None, |p, r| {
            let mut t = Vec::new();
            r.read_to_end(&mut t)?;
            got.push((p.path(), t));
            Ok(())
        })
        .unwrap();
        assert_eq!(walked.manifest, m);
        assert_eq!(walked.stored.sha256, w.sha256);
        assert_eq!(
            got,
            vec![
                (IMAGE.to_owned(), image),
                ("volumes/a.tar".to_owned(), a),
                ("volumes/b.tar".to_owned(), b)
            ]
        );
        // Every volume checks against the manifest; a flipped byte does not.
        walk_archive(&stored[..], secret, None, check_part).unwrap();
        let mut bad = stored.clone();
        let i = bad.len() / 2;
        bad[i] ^= 1;
        assert!(walk_archive(&bad[..], secret, None, check_part).is_err());
    }

    #[test]
    fn plain_and_sealed_archives_round_trip_and_damage_is_found() {
        round_trip(None);
        round_trip(Some(&Secret::Key([9; 32])));
    }

    #[test]
    fn host_directories_need_format_two() {
        let a = volume_tar(&[("compose.yaml", b"services: {}\n")]);
        let mut m = manifest_for(&[("@stack", &a)]);
        m.volumes[0].host_path = Some("/opt/stacks/web".into());
        let write = |m: &Manifest| {
            let sources: Vec<(ManifestVolume, Box<dyn Read + Send>)> =
                vec![(m.volumes[0].clone(), Box::new(io::Cursor::new(a.clone())))];
            write_archive(Vec::new(), None, m, None, sources, None)
                .unwrap()
                .0
        };
        m.format = 1;
        let old = write(&m);
        let refused = walk_archive(&old[..], None, None, check_part).unwrap_err();
        assert!(
            refused.to_string().contains("host directories"),
            "{refused}"
        );
        m.format = FORMAT_HOST_PATHS;
        let new = write(&m);
        let walked = walk_archive(&new[..], None, None, check_part).unwrap();
        assert_eq!(
            walked.manifest.volumes[0].host_path.as_deref(),
            Some("/opt/stacks/web")
        );
    }

    #[test]
    fn a_source_that_changed_fails_the_write() {
        let a = volume_tar(&[("x", b"hello")]);
        let m = manifest_for(&[("a", &a)]);
        let shorter = a[..a.len() - 512].to_vec();
        let r = write_archive(
            Vec::new(),
            None,
            &m,
            None,
            vec![(m.volumes[0].clone(), Box::new(io::Cursor::new(shorter)))],
            None,
        );
        assert!(r.unwrap_err().to_string().contains("changed"));
        let mut other = a.clone();
        other[600] ^= 1;
        let r = write_archive(
            Vec::new(),
            None,
            &m,
            None,
            vec![(m.volumes[0].clone(), Box::new(io::Cursor::new(other)))],
            None,
        );
        assert!(r.unwrap_err().to_string().contains("changed"));
    }

    #[test]
    fn an_encrypted_backup_needs_its_secret() {
        let a = volume_tar(&[("x", b"hello")]);
        let m = manifest_for(&[("a", &a)]);
        let (stored, _) = write_archive(
            Vec::new(),
            Some(&Secret::Key([1; 32])),
            &m,
            None,
            vec![(m.volumes[0].clone(), Box::new(io::Cursor::new(a)))],
            None,
        )
        .unwrap();
        let e = walk_archive(&stored[..], None, None, check_part).unwrap_err();
        assert!(e.to_string().contains("passphrase"));
        let e =
            walk_archive(&stored[..], Some(&Secret::Key([2; 32])), None, check_part).unwrap_err();
        assert!(e.to_string().contains("wrong passphrase"), "{e}");
    }
}
