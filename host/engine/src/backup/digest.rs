//! The content digest of a volume: what must be equal for two volumes to hold the same
//! files, whatever order a tar lists them in.
//!
//! Each entry is hashed on its own — SHA-256 of its path, type, mode, uid, gid, size,
//! link target, modification time and data — and the entry hashes are added as 256-bit
//! numbers (mod 2^256). The sum does not depend on the order (a restored directory may
//! be read back in another order) and needs constant memory. The root entry (`./`)
//! contributes its mode and owner but not its time (the restore target's own root
//! directory is touched by the restore itself). Specified in `docs/backup-format.md`.

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;

/// The digest and what it covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDigest {
    pub hex: String,
    pub entries: u64,
    /// Bytes of file data.
    pub data_bytes: u64,
}

/// Reads a tar stream to its end and digests its entries.
pub fn digest_tar(r: impl Read) -> io::Result<ContentDigest> {
    let mut archive = tar::Archive::new(r);
    let mut sum = [0u64; 4];
    let mut entries = 0;
    let mut data_bytes = 0;
    let mut buf = vec![0u8; 64 << 10];
    for entry in archive.entries()? {
        let mut e = entry?;
        let h = e.header().clone();
        let raw_path = e.path_bytes().into_owned();
        let link = e
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        let kind = h.entry_type().as_byte();
        // What a restore could not write fails here already — when a backup is
        // measured and when it is read back — not on the day of the restore.
        super::rebase::check_path(&raw_path)?;
        if kind == b'1' {
            super::rebase::check_path(&link)?;
        }
        let path = normalise(&raw_path);
        let mut s = Sha256::new();
        s.update((path.len() as u64).to_le_bytes());
        s.update(&path);
        s.update([kind]);
        s.update(h.mode()?.to_le_bytes());
        s.update(h.uid()?.to_le_bytes());
        s.update(h.gid()?.to_le_bytes());
        s.update(e.size().to_le_bytes());
        s.update((link.len() as u64).to_le_bytes());
        s.update(&link);
        // Directories' times move whenever something inside them is created, so a
        // restore cannot reproduce the root's; every other entry's time is kept.
        let mtime = if path.is_empty() { 0 } else { h.mtime()? };
        s.update(mtime.to_le_bytes());
        loop {
            let n = e.read(&mut buf)?;
            if n == 0 {
                break;
            }
            data_bytes += n as u64;
            s.update(&buf[..n]);
        }
        add(&mut sum, &s.finalize().into());
        entries += 1;
    }
    let mut out = [0u8; 32];
    for (i, limb) in sum.iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&limb.to_be_bytes());
    }
    Ok(ContentDigest {
        hex: hex::encode(out),
        entries,
        data_bytes,
    })
}

/// `./a/b/` → `a/b`; `./` → empty (the root).
fn normalise(p: &[u8]) -> Vec<u8> {
    let mut p = p;
    while let Some(rest) = p.strip_prefix(b"./") {
        p = rest;
    }
    if p == b"." {
        p = b"";
    }
    while let Some(rest) = p.strip_suffix(b"/") {
        p = rest;
    }
    p.to_vec()
}

/// `sum += h` as 256-bit numbers (big-endian limbs, most significant first).
fn add(sum: &mut [u64; 4], h: &[u8; 32]) {
    let mut carry = 0u64;
    for i in (0..4).rev() {
        let limb = u64::from_be_bytes(h[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let (a, c1) = sum[i].overflowing_add(limb);
        let (b, c2) = a.overflowing_add(carry);
        sum[i] = b;
        carry = u64::from(c1) + u64::from(c2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(12345);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append_data(&mut h, "./", &[][..]).unwrap();
        for (name, data, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_mtime(1_700_000_000);
            h.set_uid(0);
            h.set_gid(0);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn order_does_not_matter_content_does() {
        let a = digest_tar(&tar_of(&[("./a", b"one", 0o644), ("./b", b"two", 0o644)])[..]).unwrap();
        let b = digest_tar(&tar_of(&[("./b", b"two", 0o644), ("./a", b"one", 0o644)])[..]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.entries, 3);
        assert_eq!(a.data_bytes, 6);
        let c = digest_tar(&tar_of(&[("./a", b"one", 0o644), ("./b", b"twO", 0o644)])[..]).unwrap();
        assert_ne!(a.hex, c.hex);
        let d = digest_tar(&tar_of(&[("./a", b"one", 0o600), ("./b", b"two", 0o644)])[..]).unwrap();
        assert_ne!(a.hex, d.hex, "a mode change is a content change");
        let e = digest_tar(&tar_of(&[("./a", b"one", 0o644), ("./c", b"two", 0o644)])[..]).unwrap();
        assert_ne!(a.hex, e.hex, "a rename is a content change");
    }

    #[test]
    fn carries_propagate() {
        let mut s = [0, 0, 0, u64::MAX];
        let mut one = [0u8; 32];
        one[31] = 1;
        add(&mut s, &one);
        assert_eq!(s, [0, 0, 1, 0]);
    }
}

/// A sink hashing what it is given (a read-back from storage).
#[derive(Debug, Default)]
pub struct Digest256 {
    sha: Sha256,
}

impl Digest256 {
    pub fn hex(&self) -> String {
        hex::encode(self.sha.clone().finalize())
    }
}

impl AsyncWrite for Digest256 {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.sha.update(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
