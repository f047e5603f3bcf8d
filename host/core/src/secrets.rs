//! Secrets at rest: a per-installation key (`secret.key` in the data directory, 0600)
//! and XChaCha20-Poly1305 sealing of the small secrets the store keeps (TOTP seeds now,
//! plugin credentials later).
//!
//! Why a key file and not a passphrase: Berth must start unattended. The file keeps
//! secrets out of the store, so a copied `berth.redb` (or a backup of it) reveals none;
//! an attacker with the whole data directory has both, as with any unattended service.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret key {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "secret key {0} is not {KEY_LEN} bytes; restore it from a backup or remove it (sealed secrets are then lost)"
    )]
    BadKey(String),
    #[error("a sealed secret cannot be opened with this installation's key")]
    Open,
}

/// The installation's sealing key. `Debug` never shows it.
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
    /// The raw key, only to derive purpose-bound keys from ([`SecretKey::derive`]).
    raw: [u8; KEY_LEN],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// Reads the key, creating it (0600) on first start.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        let io = |source| SecretError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() == KEY_LEN => {
                Ok(Self::from_bytes(bytes.try_into().expect("length checked")))
            }
            Ok(_) => Err(SecretError::BadKey(path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                getrandom::fill(&mut key).expect("the OS random source works");
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(io)?;
                f.write_all(&key).and_then(|()| f.sync_all()).map_err(io)?;
                Ok(Self::from_bytes(key))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A key that lives only in memory (tests, tools).
    pub fn ephemeral() -> Self {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).expect("the OS random source works");
        Self::from_bytes(key)
    }

    fn from_bytes(raw: [u8; KEY_LEN]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new_from_slice(&raw).expect("32-byte key"),
            raw,
        }
    }

    /// A key for one purpose only (`purpose` names it, e.g. `berth backup manifest v1`):
    /// HMAC-SHA256 of the purpose under the installation key. Knowing a derived key
    /// reveals neither the installation key nor any other derived one.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.raw)
            .expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// `hex(nonce ‖ ciphertext+tag)`.
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source works");
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain)
            .expect("encryption of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        hex::encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SecretError> {
        let bytes = hex::decode(sealed).map_err(|_| SecretError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Open);
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| SecretError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let k = SecretKey::load_or_create(&path).unwrap();
        let sealed = k.seal(b"JBSWY3DPEHPK3PXP");
        assert!(!sealed.contains("JBSWY3DP"));
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(SecretKey::ephemeral().open(&sealed).is_err());
        assert!(k.open("zz").is_err());
        assert_eq!(format!("{k:?}"), "SecretKey(***)");
        assert_eq!(k.derive("a"), again.derive("a"));
        assert_ne!(k.derive("a"), k.derive("b"));
        assert_ne!(k.derive("a"), SecretKey::ephemeral().derive("a"));
    }
}
