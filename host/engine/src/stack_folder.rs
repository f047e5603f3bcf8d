//! A stack's folder: its name checked as a compose project name, its path confined to
//! the stacks directory, its compose file found by the names compose looks for, and
//! files written whole (a temporary file renamed over the old one).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::EngineError;

/// The names compose looks for, in its order of preference.
pub const COMPOSE_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The largest compose or `.env` file Berth reads or writes.
pub const MAX_FILE: usize = 1024 * 1024;

/// A compose project name: 1–63 of `a-z0-9-_`, starting with a letter or digit —
/// so it is also a safe folder name (no `.`, `/` or `..`).
pub fn check_name(name: &str) -> Result<(), EngineError> {
    let ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(EngineError::bad(
            "name",
            format!(
                "{name:?} is not a stack name: 1–63 of a-z, 0-9, - and _, starting with a letter or digit"
            ),
        ))
    }
}

/// The stacks directory, created if missing, as an absolute path.
pub fn root(dir: &Path) -> Result<PathBuf, EngineError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        EngineError::unavailable(format!(
            "cannot create the stacks directory {}: {e}",
            dir.display()
        ))
    })?;
    std::fs::canonicalize(dir).map_err(|e| {
        EngineError::unavailable(format!(
            "cannot read the stacks directory {}: {e}",
            dir.display()
        ))
    })
}

/// A stack's folder: a real directory right under the root (a symlink is refused,
/// since it could lead anywhere). `Ok(None)`: no such folder.
pub fn existing(root: &Path, name: &str) -> Result<Option<PathBuf>, EngineError> {
    check_name(name)?;
    let path = root.join(name);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => Err(EngineError::forbidden(format!(
            "stack {name}: its folder is a symbolic link, which Berth does not follow"
        ))),
        Ok(m) if m.is_dir() => Ok(Some(path)),
        Ok(_) => Err(EngineError::conflict(format!(
            "stack {name}: {} is not a folder",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EngineError::unavailable(format!(
            "stack {name}: cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// The folder's compose file name, if it holds one.
pub fn compose_file(folder: &Path) -> Option<&'static str> {
    COMPOSE_FILES
        .into_iter()
        .find(|f| std::fs::symlink_metadata(folder.join(f)).is_ok_and(|m| m.is_file()))
}

/// A regular file's text (`Ok(None)`: absent). Symbolic links and files over
/// [`MAX_FILE`] are refused.
pub fn read(path: &Path) -> Result<Option<String>, EngineError> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(EngineError::unavailable(format!(
                "cannot read {shown}: {e}"
            )));
        }
    };
    if !meta.is_file() {
        return Err(EngineError::forbidden(format!(
            "{shown} is not a regular file (a symbolic link?); Berth does not follow it"
        )));
    }
    if meta.len() > MAX_FILE as u64 {
        return Err(EngineError::conflict(format!(
            "{shown} is larger than {} KiB",
            MAX_FILE / 1024
        )));
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| EngineError::unavailable(format!("cannot read {shown}: {e}")))
}

/// Writes `text` to `folder/file` whole: a reader sees the old file or the new one.
/// `private` files (`.env`) are readable by the owner only.
pub fn write(folder: &Path, file: &str, text: &str, private: bool) -> Result<(), EngineError> {
    let target = folder.join(file);
    if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(EngineError::forbidden(format!(
            "{} is a symbolic link; Berth does not write through it",
            target.display()
        )));
    }
    let failed = |e: std::io::Error| {
        EngineError::unavailable(format!("cannot write {}: {e}", target.display()))
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".berth-")
        .tempfile_in(folder)
        .map_err(failed)?;
    if !private {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(failed)?;
    }
    tmp.write_all(text.as_bytes()).map_err(failed)?;
    tmp.as_file().sync_all().map_err(failed)?;
    tmp.persist(&target).map_err(|e| failed(e.error))?;
    Ok(())
}

/// Removes `folder/file` if it is there.
pub fn remove(folder: &Path, file: &str) -> Result<(), EngineError> {
    match std::fs::remove_file(folder.join(file)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(EngineError::unavailable(
            format!("cannot remove {}: {e}", folder.join(file).display()),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compose_project_names_and_never_paths() {
        for good in ["web", "media-stack", "a_1", "0day"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "..",
            ".",
            "a/b",
            "../etc",
            "Web",
            "-x",
            "_x",
            "a.b",
            "a b",
            "é",
            &"x".repeat(64),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_symlinked_folder_or_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = root(tmp.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("escape")).unwrap();
        assert!(matches!(
            existing(&root, "escape"),
            Err(EngineError::Forbidden { .. })
        ));
        std::fs::create_dir(root.join("real")).unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("real/.env")).unwrap();
        assert!(read(&root.join("real/.env")).is_err());
        assert!(write(&root.join("real"), ".env", "X=1", true).is_err());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret")).unwrap(),
            "s"
        );
        assert_eq!(existing(&root, "none").unwrap(), None);
    }
}
