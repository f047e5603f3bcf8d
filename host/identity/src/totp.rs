//! TOTP second factor (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) with single-use
//! recovery codes.
//!
//! The seed is sealed with the installation key ([`crate::secrets`]); recovery codes are
//! stored as SHA-256 hashes. A code is accepted one step either side of now (clock
//! drift), and never twice: the last accepted step is recorded, so a code seen over a
//! shoulder cannot be replayed.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use berth_core::secrets::SecretKey;

const STEP_S: u64 = 30;
const DIGITS: u32 = 6;
const RECOVERY_CODES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpState {
    /// The sealed base32 seed.
    pub sealed_secret: String,
    /// False between `auth.totp.enroll` and `auth.totp.confirm`.
    pub confirmed: bool,
    /// SHA-256 of each unused recovery code.
    #[serde(default)]
    pub recovery: Vec<String>,
    /// The last step whose code was accepted.
    #[serde(default)]
    pub last_step: u64,
}

/// A fresh 160-bit seed, base32 without padding (what authenticator apps expect).
pub fn new_secret() -> String {
    let mut seed = [0u8; 20];
    getrandom::fill(&mut seed).expect("the OS random source works");
    data_encoding::BASE32_NOPAD.encode(&seed)
}

/// The code for `step` (RFC 4226 dynamic truncation).
pub fn code_at(secret_b32: &str, step: u64) -> Option<String> {
    let key = data_encoding::BASE32_NOPAD
        .decode(secret_b32.as_bytes())
        .ok()?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).ok()?;
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    Some(format!(
        "{:0width$}",
        bin % 10u32.pow(DIGITS),
        width = DIGITS as usize
    ))
}

pub fn step_at(unix_s: u64) -> u64 {
    unix_s / STEP_S
}

/// The `otpauth://` URI an authenticator app scans.
pub fn uri(secret_b32: &str, user: &str) -> String {
    format!(
        "otpauth://totp/Berth:{user}?secret={secret_b32}&issuer=Berth&algorithm=SHA1&digits={DIGITS}&period={STEP_S}"
    )
}

/// The QR code of `uri` as an SVG document.
pub fn qr_svg(uri: &str) -> String {
    qrcode::QrCode::new(uri.as_bytes())
        .map(|c| {
            c.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default()
}

fn hash_code(code: &str) -> String {
    hex::encode(Sha256::digest(normalise(code).as_bytes()))
}

fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Ten fresh recovery codes (`xxxxx-xxxxx`) and their hashes.
pub fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    while codes.len() < RECOVERY_CODES {
        let mut buf = [0u8; 10];
        getrandom::fill(&mut buf).expect("the OS random source works");
        let s: String = buf
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        codes.push(format!("{}-{}", &s[..5], &s[5..]));
    }
    let hashes = codes.iter().map(|c| hash_code(c)).collect();
    (codes, hashes)
}

/// What a submitted code matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Totp { step: u64 },
    Recovery { index: usize },
}

impl TotpState {
    /// Checks `code` at `unix_s`; the caller records the result with [`Self::consume`].
    pub fn check(&self, key: &SecretKey, code: &str, unix_s: u64) -> Option<Accepted> {
        let code = code.trim();
        if code.len() == DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit()) {
            let secret = String::from_utf8(key.open(&self.sealed_secret).ok()?).ok()?;
            let now = step_at(unix_s);
            return [now.saturating_sub(1), now, now + 1]
                .into_iter()
                .filter(|s| *s > self.last_step)
                .find(|s| code_at(&secret, *s).is_some_and(|c| constant_eq(&c, code)))
                .map(|step| Accepted::Totp { step });
        }
        let h = hash_code(code);
        self.recovery
            .iter()
            .position(|r| constant_eq(r, &h))
            .map(|index| Accepted::Recovery { index })
    }

    pub fn consume(&mut self, accepted: Accepted) {
        match accepted {
            Accepted::Totp { step } => self.last_step = step,
            Accepted::Recovery { index } => {
                self.recovery.remove(index);
            }
        }
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vectors() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", truncated to 6 digits.
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        for (t, want) in [
            (59u64, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(&secret, step_at(t)).unwrap(), want, "t={t}");
        }
    }

    #[test]
    fn codes_are_accepted_once_and_recovery_codes_are_single_use() {
        let key = SecretKey::ephemeral();
        let secret = new_secret();
        let (codes, hashes) = new_recovery_codes();
        let mut st = TotpState {
            sealed_secret: key.seal(secret.as_bytes()),
            confirmed: true,
            recovery: hashes,
            last_step: 0,
        };
        let now = 1_800_000_000;
        let code = code_at(&secret, step_at(now)).unwrap();
        let ok = st.check(&key, &code, now).unwrap();
        st.consume(ok);
        assert_eq!(st.check(&key, &code, now), None, "no replay");
        let prev = code_at(&secret, step_at(now) - 5).unwrap();
        assert_eq!(st.check(&key, &prev, now), None, "too old");

        let rc = codes[3].to_uppercase();
        let ok = st.check(&key, &rc, now).unwrap();
        assert_eq!(ok, Accepted::Recovery { index: 3 });
        st.consume(ok);
        assert_eq!(st.check(&key, &codes[3], now), None, "single use");
        assert_eq!(st.recovery.len(), 9);
        assert!(uri(&secret, "alice").starts_with("otpauth://totp/Berth:alice?secret="));
        assert!(qr_svg(&uri(&secret, "alice")).contains("<svg"));
    }
}
