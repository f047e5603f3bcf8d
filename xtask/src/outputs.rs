//! Writing build outputs only when their bytes change. The host embeds the UI and the
//! plugins, and cargo rebuilds it whenever a file it embeds gets a new modification
//! time — so rewriting identical files made every `cargo xtask dist`, `run` and `test`
//! rebuild the host (minutes) although nothing had changed.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `bytes` to `path` unless it already holds exactly them; returns whether it
/// wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// [`write_if_changed`] with the contents of `from`.
pub fn copy_if_changed(from: &Path, to: &Path) -> Result<bool> {
    let bytes = fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    write_if_changed(to, &bytes)
}

/// The files a step produces in one directory: everything else there is removed at
/// the end (stale outputs of an earlier build), without touching what was kept.
#[derive(Debug)]
pub struct Outputs {
    dir: PathBuf,
    kept: BTreeSet<PathBuf>,
}

impl Outputs {
    pub fn new(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            kept: BTreeSet::new(),
        })
    }

    /// Writes `rel` (relative to the directory) if its bytes changed.
    pub fn write(&mut self, rel: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(rel);
        write_if_changed(&path, bytes)?;
        self.kept.insert(path);
        Ok(())
    }

    /// Copies `from` to `rel` if its bytes changed.
    pub fn copy(&mut self, from: &Path, rel: impl AsRef<Path>) -> Result<()> {
        let bytes = fs::read(from).with_context(|| format!("reading {}", from.display()))?;
        self.write(rel, &bytes)
    }

    /// Removes every file under the directory that was not written or kept this time.
    pub fn finish(self) -> Result<()> {
        remove_others(&self.dir, &self.kept)
    }
}

fn remove_others(dir: &Path, kept: &BTreeSet<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            remove_others(&path, kept)?;
            if fs::read_dir(&path)?.next().is_none() {
                fs::remove_dir(&path)?;
            }
        } else if !kept.contains(&path) {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_files_keep_their_time_and_stale_ones_go() {
        let tmp = std::env::temp_dir().join(format!("xtask-outputs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let mut o = Outputs::new(&tmp).unwrap();
        o.write("a.txt", b"one").unwrap();
        o.write("sub/old.txt", b"old").unwrap();
        o.finish().unwrap();
        let before = fs::metadata(tmp.join("a.txt")).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut o = Outputs::new(&tmp).unwrap();
        o.write("a.txt", b"one").unwrap();
        o.finish().unwrap();
        assert_eq!(
            fs::metadata(tmp.join("a.txt")).unwrap().modified().unwrap(),
            before,
            "not rewritten"
        );
        assert!(!tmp.join("sub").exists(), "stale outputs removed");
        fs::remove_dir_all(&tmp).unwrap();
    }
}
