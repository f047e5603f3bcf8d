//! Paths inside a volume, confined to it. A path from a request is normalised
//! lexically (`.`, `..`, repeated slashes) and refused if `..` would leave the volume;
//! symlinks met on the way are resolved the same way, relative to the volume's root,
//! and refused when they point outside it — so no request reads beyond the volume.

use crate::DockerError;

/// Where the helper container mounts the volume.
pub const MOUNT: &str = "/vol";
/// [`MOUNT`] as a path relative to the helper's root (for archives extracted at `/`).
pub const MOUNT_NAME: &str = "vol";

/// Normalises `path` (relative to the volume root) into its components.
pub fn normalise(path: &str) -> Result<Vec<String>, DockerError> {
    if path.contains('\0') || path.len() > 4096 {
        return Err(DockerError::bad("path", "not a valid path"));
    }
    let mut parts: Vec<String> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(DockerError::bad(
                        "path",
                        format!("{path:?} leaves the volume"),
                    ));
                }
            }
            s => parts.push(s.to_owned()),
        }
    }
    Ok(parts)
}

/// `/` + components, as shown to users.
pub fn display(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

/// The path inside the helper container.
pub fn in_helper(parts: &[String]) -> String {
    if parts.is_empty() {
        MOUNT.to_owned()
    } else {
        format!("{MOUNT}/{}", parts.join("/"))
    }
}

/// Where a symlink at `parts[..=i]` with `target` leads, still confined to the volume.
/// An absolute target is taken as the container would see it, which is outside the
/// volume (refused) unless it starts with the volume's own mount point.
pub fn follow(parts: &[String], i: usize, target: &str) -> Result<Vec<String>, DockerError> {
    let escape = || {
        DockerError::bad(
            "path",
            format!("{} is a link out of the volume", display(&parts[..=i])),
        )
    };
    let base = if let Some(rest) = target
        .strip_prefix(MOUNT)
        .filter(|r| r.is_empty() || r.starts_with('/'))
    {
        rest.to_owned()
    } else if target.starts_with('/') {
        return Err(escape());
    } else {
        format!("{}/{target}", parts[..i].join("/"))
    };
    let mut resolved = normalise(&base).map_err(|_| escape())?;
    resolved.extend_from_slice(&parts[i + 1..]);
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn dots_and_slashes_are_normalised_and_escapes_refused() {
        assert_eq!(normalise("/a//b/./c/../d").unwrap(), v(&["a", "b", "d"]));
        assert_eq!(normalise("").unwrap(), Vec::<String>::new());
        assert!(normalise("..").is_err());
        assert!(normalise("/a/../../etc/passwd").is_err());
        assert!(normalise("a\0b").is_err());
        assert_eq!(in_helper(&v(&["a", "b"])), "/vol/a/b");
        assert_eq!(in_helper(&[]), "/vol");
        assert_eq!(MOUNT, format!("/{MOUNT_NAME}"));
    }

    #[test]
    fn links_resolve_inside_or_are_refused() {
        let p = v(&["conf", "link", "x"]);
        assert_eq!(follow(&p, 1, "../data").unwrap(), v(&["data", "x"]));
        assert_eq!(follow(&p, 1, "/vol/data").unwrap(), v(&["data", "x"]));
        assert!(follow(&p, 1, "/etc").is_err());
        assert!(follow(&p, 1, "/volume").is_err());
        assert!(follow(&p, 1, "../../..").is_err());
    }
}
