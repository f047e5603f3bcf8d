//! Validation of the names and ids that requests put into Docker API paths: an id like
//! `../images/x` must never reach a URL.

use std::collections::BTreeMap;

use crate::DockerError;

/// 1 to `max` bytes of letters, digits, `_ . -`, starting with a letter or digit (or
/// `_` where `underscore_first`): the alphabet of Docker's names and tags.
fn word(v: &str, max: usize, underscore_first: bool) -> bool {
    let first_ok = |b: u8| b.is_ascii_alphanumeric() || (underscore_first && b == b'_');
    v.len() <= max
        && v.bytes().next().is_some_and(first_ok)
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A container, volume or network id or name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, ≤ 255.
pub fn object(field: &str, v: &str) -> Result<(), DockerError> {
    if word(v, 255, false) {
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

/// A repository to name an image with: `[registry[:port]/]path`, lower case, the
/// registry's port the only `:`, no empty or dot-only segments.
pub fn repository(field: &str, v: &str) -> Result<(), DockerError> {
    let segments: Vec<&str> = v.split('/').collect();
    let segment_ok = |(i, seg): (usize, &&str)| {
        let colon_ok = i == 0 && segments.len() > 1 && seg.matches(':').count() <= 1;
        !seg.is_empty()
            && seg.as_bytes()[0].is_ascii_alphanumeric()
            && seg.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b'-')
                    || (b == b':' && colon_ok)
            })
    };
    if v.len() <= 255 && segments.iter().enumerate().all(segment_ok) {
        Ok(())
    } else {
        Err(DockerError::bad(
            field,
            format!("{v:?} is not a repository (lower case, e.g. registry.lan:5000/team/app)"),
        ))
    }
}

/// An image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn tag(field: &str, v: &str) -> Result<(), DockerError> {
    if word(v, 128, true) {
        Ok(())
    } else {
        Err(DockerError::bad(
            field,
            format!("{v:?} is not a tag (letters, digits, _ . -; at most 128)"),
        ))
    }
}

/// Berth's own label namespace: it marks helpers, restored copies and set-aside
/// originals, so an object a user labels with it would be hidden or mistaken for one.
pub const BERTH_LABEL_PREFIX: &str = "dev.berth.";

/// What a user asks of a new volume or network: its name, its driver (a plugin's is
/// an image reference), the driver's options and its labels — none of them in
/// [`BERTH_LABEL_PREFIX`].
pub fn new_object(
    name: &str,
    driver: Option<&str>,
    options: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> Result<(), DockerError> {
    object("name", name)?;
    if let Some(driver) = driver {
        image("driver", driver)?;
    }
    settings("options", options)?;
    user_labels(labels)
}

/// Labels a user gives a new object: well-formed, none under [`BERTH_LABEL_PREFIX`].
pub fn user_labels(labels: &BTreeMap<String, String>) -> Result<(), DockerError> {
    settings("labels", labels)?;
    match labels.keys().find(|k| k.starts_with(BERTH_LABEL_PREFIX)) {
        Some(key) => Err(DockerError::bad(
            "labels",
            format!("{key}: labels under {BERTH_LABEL_PREFIX} are Berth's own"),
        )),
        None => Ok(()),
    }
}

/// Keys non-empty, ≤ 255 bytes, without spaces, `=` or control characters; values
/// ≤ 4096 bytes without control characters.
fn settings(field: &str, map: &BTreeMap<String, String>) -> Result<(), DockerError> {
    for (key, value) in map {
        let key_ok = !key.is_empty()
            && key.len() <= 255
            && !key
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '=');
        if !key_ok {
            return Err(DockerError::bad(
                field,
                format!("{key:?} is not a valid key (1–255 characters, no spaces or =)"),
            ));
        }
        if value.len() > 4096 || value.chars().any(char::is_control) {
            return Err(DockerError::bad(
                field,
                format!("the value of {key} is over 4096 bytes or holds control characters"),
            ));
        }
    }
    Ok(())
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

    #[test]
    fn repositories_and_tags_are_checked() {
        for good in [
            "app",
            "team/app",
            "registry.lan:5000/team/app",
            "127.0.0.1:5000/a_b-c",
        ] {
            assert!(repository("repo", good).is_ok(), "{good:?}");
        }
        for bad in [
            "", "App", "a:1", "a//b", "../a", "a/./b", "a/b:1/c", "a b", "a?x",
        ] {
            assert!(repository("repo", bad).is_err(), "{bad:?}");
        }
        for good in ["latest", "v1.2.3", "_x", "Release-2"] {
            assert!(tag("tag", good).is_ok(), "{good:?}");
        }
        for bad in ["", ".x", "-x", "a:b", "a/b", &"t".repeat(129)] {
            assert!(tag("tag", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn labels_and_options_are_checked() {
        let map = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        let none = BTreeMap::new();
        let new = |options: &BTreeMap<String, String>, labels: &BTreeMap<String, String>| {
            new_object("data", Some("local"), options, labels)
        };
        assert!(new(&none, &map("team", "infra")).is_ok());
        assert!(new(&map("dev.berth.helper", "1"), &none).is_ok());
        for (k, v) in [("", "x"), ("a b", "x"), ("a=b", "x"), ("k", "a\nb")] {
            assert!(new(&none, &map(k, v)).is_err(), "{k:?}={v:?}");
        }
        assert!(new(&none, &map("k", &"v".repeat(4097))).is_err());
        let berth = new(&none, &map("dev.berth.helper", "1")).unwrap_err();
        assert!(berth.to_string().contains("Berth's own"), "{berth}");
        assert!(new_object("../x", None, &none, &none).is_err());
        assert!(new_object("data", Some("a b"), &none, &none).is_err());
    }
}
