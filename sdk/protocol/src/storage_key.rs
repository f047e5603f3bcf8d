//! Object keys: the one rule every storage backend accepts. The host checks a key
//! before calling a storage plugin, and the plugin SDK checks it again inside the
//! plugin (a plugin must not trust its input either); both call [`check`], so the two
//! can never disagree.

/// Longest key, in bytes.
pub const MAX_LEN: usize = 512;

/// `Ok` for `/`-separated, non-empty segments of `[A-Za-z0-9._-]` that are not `.`
/// or `..`; otherwise why not.
pub fn check(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_LEN {
        return Err(format!("a key has 1 to {MAX_LEN} characters"));
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(format!("{key:?}: empty, `.` or `..` segment"));
        }
        if let Some(c) = segment
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(format!("{key:?}: character {c:?} is not allowed"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{MAX_LEN, check};

    #[test]
    fn keys_are_confined_to_safe_segments() {
        assert!(check("backups/2026/b-1.tar.gz").is_ok());
        assert!(check(&"a".repeat(MAX_LEN)).is_ok());
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/../b",
            "..",
            ".",
            "a/./b",
            "a b",
            "a\\b",
            "ä",
            "trailing/",
        ] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check(&"a".repeat(MAX_LEN + 1)).is_err());
    }
}
