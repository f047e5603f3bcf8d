//! Password hashing (argon2id) and generation.
//!
//! Parameters: argon2id v1.3, 19 MiB memory, 2 iterations, 1 lane — OWASP's recommended
//! minimum, about 25–60 ms per hash on the project's 2-core machine. Slow enough to make
//! offline guessing expensive, fast enough that a login does not feel slow; online
//! guessing is handled by rate limits, not by the hash.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password accepted.
pub const MIN_LEN: usize = 10;
/// Longest password accepted (bounds hashing work per request).
pub const MAX_LEN: usize = 1024;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The setting (`settings.update`) that raises the shortest password accepted.
pub const MIN_LENGTH_SETTING: &str = "password_min_length";
/// The most the setting may ask for.
pub const MIN_LENGTH_CEILING: usize = 128;

/// The shortest password accepted now: the setting, never below [`MIN_LEN`]. An
/// unreadable store falls back to the built-in minimum (and the write that follows
/// fails on the same store anyway).
pub fn min_length(store: &(impl berth_core::store::StoreAccess + ?Sized)) -> usize {
    store
        .setting(MIN_LENGTH_SETTING)
        .ok()
        .flatten()
        .map_or(MIN_LEN, |n| (n as usize).clamp(MIN_LEN, MIN_LENGTH_CEILING))
}

/// Why a password is not acceptable under the built-in minimum. Never contains the
/// password.
pub fn check_policy(password: &str) -> Result<(), String> {
    check_policy_min(password, MIN_LEN)
}

/// Why a password is not acceptable when `min` characters are required.
pub fn check_policy_min(password: &str, min: usize) -> Result<(), String> {
    let n = password.chars().count();
    if n < min {
        return Err(format!("too short: at least {min} characters"));
    }
    if password.len() > MAX_LEN {
        return Err(format!("too long: at most {MAX_LEN} bytes"));
    }
    if password.trim().is_empty() {
        return Err("must not be only whitespace".to_owned());
    }
    Ok(())
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> Result<String, String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Constant-time verification; any malformed hash is simply "no".
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
}

/// A random password: 24 characters from a 56-symbol alphabet without look-alikes
/// (about 139 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut out = String::with_capacity(24);
    while out.len() < 24 {
        let mut buf = [0u8; 32];
        getrandom::fill(&mut buf).expect("the OS random source works");
        // Rejection sampling keeps the distribution uniform.
        for b in buf {
            let limit = 256 - (256 % ALPHABET.len());
            if (b as usize) < limit && out.len() < 24 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_argon2id_with_the_documented_parameters() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterz", &h));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(hash("correct horse battery").unwrap(), h, "salted");
    }

    #[test]
    fn policy() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("          ").is_err());
        assert!(check_policy(&"x".repeat(MAX_LEN + 1)).is_err());
        assert!(check_policy("long enough pass").is_ok());
        assert!(
            !check_policy("short").unwrap_err().contains("short!"),
            "never echoes the password"
        );
    }

    #[test]
    fn generated_passwords_pass_the_policy_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 24);
        assert!(check_policy(&a).is_ok());
        assert_ne!(a, b);
    }
}
