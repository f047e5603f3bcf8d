//! Validation of the names and ids that requests put into Docker API paths: an id like
//! `../images/x` must never reach a URL.

use crate::DockerError;

/// A container, volume or network id or name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, ≤ 255.
pub fn object(field: &str, v: &str) -> Result<(), DockerError> {
    let ok = !v.is_empty()
        && v.len() <= 255
        && v.as_bytes()[0].is_ascii_alphanumeric()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(DockerError::bad(
            field,
            format!(
                "{v:?} is not a valid name or id (letters, digits, _ . -; starting with a letter or digit)"
            ),
        ))
    }
}

/// An image reference: `[registry/]repo[:tag][@digest]` or an id.
pub fn image(field: &str, v: &str) -> Result<(), DockerError> {
    let ok = !v.is_empty()
        && v.len() <= 512
        && v.as_bytes()[0].is_ascii_alphanumeric()
        && !v
            .split('/')
            .any(|seg| seg == ".." || seg == "." || seg.is_empty())
        && v.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/' | b':' | b'@')
        });
    if ok {
        Ok(())
    } else {
        Err(DockerError::bad(
            field,
            format!("{v:?} is not a valid image reference"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_tricks_are_refused() {
        for bad in [
            "",
            "../images/x",
            "a/b",
            "a b",
            "a?x=1",
            "-a",
            "a%2F..",
            ".hidden",
        ] {
            assert!(object("id", bad).is_err(), "{bad:?}");
        }
        for good in ["web", "web-1", "my_app.db", &"ab12".repeat(16)] {
            assert!(object("id", good).is_ok(), "{good:?}");
        }
        for bad in ["", "a/../b", "/abs", "a//b", "a b", "x?y"] {
            assert!(image("id", bad).is_err(), "{bad:?}");
        }
        for good in [
            "busybox",
            "berth-test/busybox:latest",
            "reg.io:5000/a/b@sha256:00ff",
            "sha256:abc",
        ] {
            assert!(image("id", good).is_ok(), "{good:?}");
        }
    }
}
