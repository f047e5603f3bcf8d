//! Format 3's streamed layout: a volume's tar (or the image's) is written as it is
//! read, in consecutive tar entries of at most [`PART_BYTES`] —
//! `volumes/<name>.tar.part-00000001`, `…-00000002` — because a tar header gives an
//! entry's size before its data, and a size known only at the end would mean reading
//! the volume twice (once to measure it). What is known only at the end — each part's
//! size, SHA-256 and content digest, and the seal over the whole manifest — goes into
//! `index.json`, the archive's last entry. `cat volumes/<name>.tar.part-* | tar -x`
//! restores a volume by hand.

use std::io::{self, Read, Write};

use berth_protocol::api::backups::{Manifest, ManifestSeal};
use serde::{Deserialize, Serialize};

/// The most bytes one part entry holds: one part is buffered whole before its header
/// is written (the pipeline's other buffers are of the same order).
pub const PART_BYTES: usize = 4 << 20;

/// The last entry of a format-3 archive.
pub const INDEX: &str = "index.json";

/// The tar path of part `n` (from 1) of the stream `base` (`volumes/data.tar`):
/// fixed-width numbers, so a shell glob lists them in order.
pub fn part_path(base: &str, n: u32) -> String {
    format!("{base}.part-{n:08}")
}

/// Splits a part's path into its stream and number.
pub fn split_part(path: &str) -> Option<(&str, u32)> {
    let (base, n) = path.rsplit_once(".part-")?;
    (n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
        .map(|n| (base, n))
}

/// Appends `src` to `tar` as parts of `base`, buffering one part at a time in `buf`.
/// At least one part is written, even for an empty stream, so every stream the
/// manifest names is present.
pub fn append_parts<W: Write>(
    tar: &mut tar::Builder<W>,
    header: &dyn Fn(u64) -> tar::Header,
    base: &str,
    src: &mut dyn Read,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    for n in 1.. {
        buf.clear();
        (&mut *src).take(PART_BYTES as u64).read_to_end(buf)?;
        if buf.is_empty() && n > 1 {
            break;
        }
        tar.append_data(&mut header(buf.len() as u64), part_path(base, n), &buf[..])?;
        if buf.len() < PART_BYTES {
            break;
        }
    }
    Ok(())
}

/// One stream's figures in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub tar_bytes: u64,
    pub sha256: String,
}

/// One volume's figures in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeFigures {
    pub name: String,
    pub tar_bytes: u64,
    pub sha256: String,
    pub content_digest: String,
    pub entries: u64,
}

/// `index.json`: what only the end of the archive knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub volumes: Vec<VolumeFigures>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Figures>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<ManifestSeal>,
}

impl Index {
    /// The index of a complete manifest.
    pub fn of(m: &Manifest) -> Self {
        Self {
            volumes: m
                .volumes
                .iter()
                .map(|v| VolumeFigures {
                    name: v.name.clone(),
                    tar_bytes: v.tar_bytes,
                    sha256: v.sha256.clone(),
                    content_digest: v.content_digest.clone(),
                    entries: v.entries,
                })
                .collect(),
            image: m.image.as_ref().map(|i| Figures {
                tar_bytes: i.tar_bytes,
                sha256: i.sha256.clone(),
            }),
            seal: m.seal.clone(),
        }
    }

    /// The complete manifest: `head` (the archive's first entry) with this index's
    /// figures and seal. Each volume of the head needs its figures, and no others;
    /// the error says how the two differ.
    pub fn complete(self, head: &Manifest) -> Result<Manifest, String> {
        let mut m = head.clone();
        if self.volumes.len() != m.volumes.len() {
            return Err(format!(
                "{INDEX} lists {} volumes, the manifest {}",
                self.volumes.len(),
                m.volumes.len()
            ));
        }
        for (v, f) in m.volumes.iter_mut().zip(self.volumes) {
            if v.name != f.name {
                return Err(format!(
                    "{INDEX} lists {} where the manifest has {}",
                    f.name, v.name
                ));
            }
            (v.tar_bytes, v.sha256, v.content_digest, v.entries) =
                (f.tar_bytes, f.sha256, f.content_digest, f.entries);
        }
        match (&mut m.image, self.image) {
            (Some(i), Some(f)) => (i.tar_bytes, i.sha256) = (f.tar_bytes, f.sha256),
            (None, None) => {}
            _ => {
                return Err(format!("{INDEX} and the manifest differ on the image"));
            }
        }
        m.seal = self.seal;
        Ok(m)
    }
}

/// The manifest as a format-3 archive's first entry holds it: without what only the
/// end knows (figures, seal).
pub fn head_of(m: &Manifest) -> Manifest {
    let mut head = m.clone();
    for v in &mut head.volumes {
        (v.tar_bytes, v.sha256, v.content_digest, v.entries) = (0, String::new(), String::new(), 0);
    }
    if let Some(i) = &mut head.image {
        (i.tar_bytes, i.sha256) = (0, String::new());
    }
    head.seal = None;
    head
}

/// Reads one stream's consecutive parts as one: starts with part 1 and, at each
/// part's end, takes the next entry if it is the stream's next part; any other entry
/// is left in `pending` for the walk.
pub struct Joined<'w, 'a, R: Read> {
    pub current: Option<tar::Entry<'a, R>>,
    pub entries: &'w mut tar::Entries<'a, R>,
    pub pending: &'w mut Option<tar::Entry<'a, R>>,
    pub base: String,
    pub next: u32,
}

impl<R: Read> std::fmt::Debug for Joined<'_, '_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined")
            .field("base", &self.base)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Read for Joined<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(entry) = &mut self.current else {
                return Ok(0);
            };
            let n = entry.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            self.current = None;
            let Some(next) = self.entries.next().transpose()? else {
                return Ok(0);
            };
            let path = next.path()?.to_string_lossy().into_owned();
            if path == part_path(&self.base, self.next) {
                self.next += 1;
                self.current = Some(next);
            } else {
                *self.pending = Some(next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_sort_and_split() {
        assert_eq!(part_path("volumes/a.tar", 2), "volumes/a.tar.part-00000002");
        assert_eq!(
            split_part("volumes/a.part-x.tar.part-00000012"),
            Some(("volumes/a.part-x.tar", 12))
        );
        assert_eq!(split_part("volumes/a.tar"), None);
        assert_eq!(split_part("volumes/a.tar.part-12"), None);
        assert!(part_path("v", 9) < part_path("v", 10));
    }

    fn split(len: usize) -> Vec<(String, usize)> {
        let mut tar = tar::Builder::new(Vec::new());
        let header = |size: u64| {
            let mut h = tar::Header::new_gnu();
            h.set_size(size);
            h.set_cksum();
            h
        };
        let data = vec![5u8; len];
        append_parts(&mut tar, &header, "s", &mut &data[..], &mut Vec::new()).unwrap();
        let bytes = tar.into_inner().unwrap();
        let mut a = tar::Archive::new(&bytes[..]);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.size() as usize)
            })
            .collect()
    }

    #[test]
    fn a_stream_is_cut_into_full_parts_and_a_last_one() {
        assert_eq!(split(0), vec![("s.part-00000001".into(), 0)]);
        assert_eq!(
            split(PART_BYTES),
            vec![("s.part-00000001".into(), PART_BYTES)]
        );
        assert_eq!(
            split(PART_BYTES + 3),
            vec![
                ("s.part-00000001".into(), PART_BYTES),
                ("s.part-00000002".into(), 3)
            ]
        );
    }
}
