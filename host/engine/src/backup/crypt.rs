//! Backup encryption: the whole `.tar.gz` stream sealed with XChaCha20-Poly1305 in
//! fixed-size chunks (the STREAM construction), so it can be written and read with
//! bounded memory, and so reordering, dropping, truncating or appending chunks is
//! detected, not just flipped bytes. The format is documented byte by byte in
//! `docs/backup-format.md` so that a backup can be opened without Berth.
//!
//! ```text
//! header (80 bytes)
//!   magic "BERTHENC" · version 1 · kdf (1 = argon2id passphrase, 2 = key file)
//!   · chunk size u32 LE · argon2 memory KiB u32 LE · iterations u32 LE · lanes u32 LE
//!   · salt [16] · nonce prefix [19] · reserved [19] = 0
//! chunk*  : ciphertext of `chunk size` plaintext bytes + 16-byte tag
//! last    : ciphertext of 1..=chunk size bytes + tag (0 bytes only for an empty stream)
//! nonce(i) = prefix [19] · i as u32 BE · 1 if last else 0;  AAD = the header
//! ```

use std::io::{self, Read, Write};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

pub const MAGIC: &[u8; 8] = b"BERTHENC";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 80;
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 << 10;
const TAG: usize = 16;
const PREFIX: usize = 19;

/// Argon2id for backup passphrases: stronger than the login hash (64 MiB, 3 passes) —
/// it runs once per backup, and an offline attacker holding the file has all the time
/// in the world.
pub const KDF_MEMORY_KIB: u32 = 64 * 1024;
pub const KDF_ITERATIONS: u32 = 3;
pub const KDF_LANES: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error("not an encrypted Berth backup (no BERTHENC header)")]
    NotEncrypted,
    #[error("encrypted backup format version {0} is not known to this Berth")]
    UnknownVersion(u8),
    #[error("this backup was encrypted with a {0}; give that instead")]
    WrongKind(&'static str),
    #[error(
        "wrong passphrase or key, or the backup is damaged (the first chunk does not authenticate)"
    )]
    WrongKey,
    #[error("the backup is damaged: chunk {0} does not authenticate")]
    Damaged(u64),
    #[error("the backup is truncated")]
    Truncated,
    #[error("key: {0}")]
    Key(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<CryptError> for io::Error {
    fn from(e: CryptError) -> Self {
        match e {
            CryptError::Io(e) => e,
            e => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

/// What a backup is encrypted with.
#[derive(Clone)]
pub enum Secret {
    Passphrase(String),
    /// 32 bytes (a key file: raw, or 64 hex digits).
    Key([u8; 32]),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Secret::Passphrase(_) => "Secret::Passphrase(…)",
            Secret::Key(_) => "Secret::Key(…)",
        })
    }
}

impl Secret {
    /// A key file's contents: 32 raw bytes or 64 hex digits (whitespace ignored).
    pub fn key_file(bytes: &[u8]) -> Result<Self, CryptError> {
        if let Ok(text) = std::str::from_utf8(bytes) {
            let t = text.trim();
            if t.len() == 64
                && let Ok(v) = hex::decode(t)
            {
                return Ok(Secret::Key(v.try_into().expect("32 bytes")));
            }
        }
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            CryptError::Key("a key file holds 32 random bytes or 64 hex digits".into())
        })?;
        Ok(Secret::Key(key))
    }

    fn kdf(&self) -> u8 {
        match self {
            Secret::Passphrase(_) => 1,
            Secret::Key(_) => 2,
        }
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the OS random source works");
    b
}

/// The parsed header.
#[derive(Debug, Clone)]
struct Header {
    bytes: [u8; HEADER_LEN],
    kdf: u8,
    chunk: usize,
    params: (u32, u32, u32),
    salt: [u8; 16],
    prefix: [u8; PREFIX],
}

impl Header {
    fn new(secret: &Secret) -> Self {
        let (salt, prefix) = (random::<16>(), random::<PREFIX>());
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8] = VERSION;
        b[9] = secret.kdf();
        b[10..14].copy_from_slice(&(CHUNK as u32).to_le_bytes());
        b[14..18].copy_from_slice(&KDF_MEMORY_KIB.to_le_bytes());
        b[18..22].copy_from_slice(&KDF_ITERATIONS.to_le_bytes());
        b[22..26].copy_from_slice(&KDF_LANES.to_le_bytes());
        b[26..42].copy_from_slice(&salt);
        b[42..61].copy_from_slice(&prefix);
        Self::parse(b).expect("a header we built parses")
    }

    fn parse(b: [u8; HEADER_LEN]) -> Result<Self, CryptError> {
        if &b[..8] != MAGIC {
            return Err(CryptError::NotEncrypted);
        }
        if b[8] != VERSION {
            return Err(CryptError::UnknownVersion(b[8]));
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let chunk = u32_at(10) as usize;
        // Bounded: a hostile header must not make the reader allocate gigabytes.
        if !(1024..=(16 << 20)).contains(&chunk) || !matches!(b[9], 1 | 2) {
            return Err(CryptError::UnknownVersion(b[8]));
        }
        Ok(Self {
            bytes: b,
            kdf: b[9],
            chunk,
            params: (u32_at(14), u32_at(18), u32_at(22)),
            salt: b[26..42].try_into().expect("16 bytes"),
            prefix: b[42..61].try_into().expect("19 bytes"),
        })
    }

    fn cipher(&self, secret: &Secret) -> Result<XChaCha20Poly1305, CryptError> {
        let key = match (secret, self.kdf) {
            (Secret::Passphrase(p), 1) => {
                let (m, t, l) = self.params;
                // Refuse parameters that would take the host down (a crafted file).
                if m > 1 << 20 || t > 16 || l > 8 {
                    return Err(CryptError::Key(
                        "the header asks for key-derivation costs above Berth's limits".into(),
                    ));
                }
                let params =
                    Params::new(m, t, l, Some(32)).map_err(|e| CryptError::Key(e.to_string()))?;
                let mut key = [0u8; 32];
                Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                    .hash_password_into(p.as_bytes(), &self.salt, &mut key)
                    .map_err(|e| CryptError::Key(e.to_string()))?;
                key
            }
            (Secret::Key(k), 2) => *k,
            (_, 1) => return Err(CryptError::WrongKind("passphrase")),
            _ => return Err(CryptError::WrongKind("key file")),
        };
        Ok(XChaCha20Poly1305::new_from_slice(&key).expect("32-byte key"))
    }

    fn nonce(&self, i: u64, last: bool) -> Result<XNonce, CryptError> {
        let i = u32::try_from(i).map_err(|_| CryptError::Key("more than 2^32 chunks".into()))?;
        let mut n = [0u8; 24];
        n[..PREFIX].copy_from_slice(&self.prefix);
        n[PREFIX..PREFIX + 4].copy_from_slice(&i.to_be_bytes());
        n[23] = u8::from(last);
        Ok(*XNonce::from_slice(&n))
    }
}

/// Encrypts everything written to it into `inner`; [`Self::finish`] writes the last
/// chunk (without it the backup does not decrypt: truncation is detected).
pub struct EncryptWriter<W: Write> {
    inner: W,
    header: Header,
    cipher: XChaCha20Poly1305,
    buf: Vec<u8>,
    index: u64,
}

impl<W: Write> std::fmt::Debug for EncryptWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptWriter")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<W: Write> EncryptWriter<W> {
    pub fn new(mut inner: W, secret: &Secret) -> Result<Self, CryptError> {
        let header = Header::new(secret);
        let cipher = header.cipher(secret)?;
        inner.write_all(&header.bytes)?;
        Ok(Self {
            inner,
            buf: Vec::with_capacity(header.chunk),
            header,
            cipher,
            index: 0,
        })
    }

    fn seal(&mut self, last: bool) -> io::Result<()> {
        let nonce = self.header.nonce(self.index, last)?;
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &self.buf,
                    aad: &self.header.bytes,
                },
            )
            .map_err(|_| io::Error::other("encryption failed"))?;
        self.inner.write_all(&ct)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals the last chunk and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // A full chunk is sealed only once more data arrives: it may be the last one,
        // which must carry the flag ([`Self::finish`]).
        if self.buf.len() == self.header.chunk {
            self.seal(false)?;
        }
        let n = (self.header.chunk - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts what `inner` holds; every chunk is authenticated before a byte of it is
/// returned, so damaged data never reaches the caller.
pub struct DecryptReader<R: Read> {
    inner: R,
    header: Header,
    cipher: XChaCha20Poly1305,
    /// The next sealed chunk, read ahead to know whether the current one is the last.
    ahead: Vec<u8>,
    plain: Vec<u8>,
    pos: usize,
    index: u64,
    done: bool,
}

impl<R: Read> std::fmt::Debug for DecryptReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptReader")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    buf.clear();
    r.take(n as u64).read_to_end(buf)?;
    Ok(())
}

impl<R: Read> DecryptReader<R> {
    /// Reads and checks the header and derives the key; the first chunk is checked
    /// too, so a wrong passphrase is reported here, before anything is restored.
    pub fn new(mut inner: R, secret: &Secret) -> Result<Self, CryptError> {
        let mut b = [0u8; HEADER_LEN];
        inner.read_exact(&mut b).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => CryptError::NotEncrypted,
            _ => CryptError::Io(e),
        })?;
        let header = Header::parse(b)?;
        let cipher = header.cipher(secret)?;
        let mut ahead = Vec::new();
        read_up_to(&mut inner, &mut ahead, header.chunk + TAG)?;
        let mut r = Self {
            inner,
            header,
            cipher,
            ahead,
            plain: Vec::new(),
            pos: 0,
            index: 0,
            done: false,
        };
        r.next_chunk().map_err(|e| match e {
            CryptError::Damaged(0) => CryptError::WrongKey,
            e => e,
        })?;
        Ok(r)
    }

    /// Opens the chunk read ahead; `false` at the end.
    fn next_chunk(&mut self) -> Result<bool, CryptError> {
        if self.done {
            return Ok(false);
        }
        if self.ahead.len() < TAG {
            return Err(CryptError::Truncated);
        }
        let sealed = std::mem::take(&mut self.ahead);
        // A full chunk is the last one only when nothing follows it.
        let last = if sealed.len() == self.header.chunk + TAG {
            read_up_to(&mut self.inner, &mut self.ahead, self.header.chunk + TAG)?;
            self.ahead.is_empty()
        } else {
            true
        };
        let nonce = self.header.nonce(self.index, last)?;
        self.plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed,
                    aad: &self.header.bytes,
                },
            )
            .map_err(|_| {
                if last && sealed.len() == self.header.chunk + TAG {
                    // A full chunk sealed as "not last" with nothing after it: cut off.
                    CryptError::Truncated
                } else {
                    CryptError::Damaged(self.index)
                }
            })?;
        self.pos = 0;
        self.index += 1;
        self.done = last;
        Ok(true)
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.plain.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.plain.len() - self.pos);
        out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Whether `head` (the first bytes of a file) starts an encrypted backup.
pub fn is_encrypted(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(data: &[u8], secret: &Secret) -> Vec<u8> {
        let mut w = EncryptWriter::new(Vec::new(), secret).unwrap();
        for part in data.chunks(7_777) {
            w.write_all(part).unwrap();
        }
        w.finish().unwrap()
    }

    fn open(sealed: &[u8], secret: &Secret) -> Result<Vec<u8>, String> {
        let mut r = DecryptReader::new(sealed, secret).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn key() -> Secret {
        Secret::Key([7; 32])
    }

    #[test]
    fn round_trips_every_size_around_chunk_boundaries() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let sealed = seal(&data, &key());
            let chunks = len.div_ceil(CHUNK).max(1);
            assert_eq!(sealed.len(), HEADER_LEN + len + chunks * TAG, "len {len}");
            assert_eq!(open(&sealed, &key()).unwrap(), data, "len {len}");
        }
    }

    #[test]
    fn a_passphrase_derives_the_key_and_a_wrong_one_is_named() {
        let p = Secret::Passphrase("correct horse".into());
        let sealed = seal(b"hello backup", &p);
        assert_eq!(open(&sealed, &p).unwrap(), b"hello backup");
        let e = open(&sealed, &Secret::Passphrase("wrong".into())).unwrap_err();
        assert!(e.contains("wrong passphrase"), "{e}");
        let e = open(&sealed, &key()).unwrap_err();
        assert!(e.contains("passphrase; give that"), "{e}");
    }

    #[test]
    fn tampering_truncation_and_reordering_are_detected() {
        let data = vec![42u8; 3 * CHUNK + 10];
        let sealed = seal(&data, &key());
        let stride = CHUNK + TAG;
        // A flipped byte in a later chunk.
        let mut bad = sealed.clone();
        bad[HEADER_LEN + 2 * stride + 5] ^= 1;
        assert!(open(&bad, &key()).unwrap_err().contains("chunk 2"));
        // The header is authenticated too.
        let mut bad = sealed.clone();
        bad[70] ^= 1;
        assert!(
            open(&bad, &key())
                .unwrap_err()
                .contains("wrong passphrase or key")
        );
        // Cut at a chunk boundary: the last whole chunk was not sealed as last.
        let cut = &sealed[..HEADER_LEN + 2 * stride];
        assert!(open(cut, &key()).unwrap_err().contains("truncated"));
        // Cut mid-chunk.
        let cut = &sealed[..sealed.len() - 3];
        assert!(open(cut, &key()).is_err());
        // Two chunks swapped.
        let mut swapped = sealed[..HEADER_LEN].to_vec();
        swapped.extend_from_slice(&sealed[HEADER_LEN + stride..HEADER_LEN + 2 * stride]);
        swapped.extend_from_slice(&sealed[HEADER_LEN..HEADER_LEN + stride]);
        swapped.extend_from_slice(&sealed[HEADER_LEN + 2 * stride..]);
        assert!(open(&swapped, &key()).is_err());
        // Not encrypted at all.
        assert!(
            open(b"\x1f\x8b plain gzip", &key())
                .unwrap_err()
                .contains("not an encrypted")
        );
    }

    #[test]
    fn key_files_are_raw_or_hex() {
        let hex = "ab".repeat(32);
        assert!(matches!(Secret::key_file(hex.as_bytes()), Ok(Secret::Key(k)) if k == [0xab; 32]));
        assert!(matches!(Secret::key_file(&[1; 32]), Ok(Secret::Key(k)) if k == [1; 32]));
        assert!(Secret::key_file(b"short").is_err());
        assert_eq!(
            format!("{:?}", Secret::Passphrase("x".into())),
            "Secret::Passphrase(…)"
        );
    }
}
