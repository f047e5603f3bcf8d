//! Host directories in a backup: a stack's folder, and bind mounts whose source lies
//! inside it or inside an admin's `backup_bind_roots` directory. Everything else a
//! container bind-mounts is listed as skipped with the reason, never read.
//!
//! Paths are compared after resolving symbolic links, so a link inside an allowed
//! directory cannot lead a backup (or a restore) to `/etc`. Berth sees host paths as
//! the Docker host does: run outside a container, or with the stacks directory and
//! the roots mounted at the same paths inside and out.

use std::path::{Component, Path, PathBuf};

use berth_protocol::api::backups::{BackupTarget, Manifest, ManifestVolume, RestoreBackup};

use berth_docker::helper::Helper;
use bollard::Docker;

use crate::stack_folder as folder;
use crate::{Engine, EngineError};

/// What a backup may read besides volumes.
#[derive(Debug, Clone, Default)]
pub struct HostPaths {
    /// The folder of the stack being backed up (a project target with a folder in
    /// the stacks directory), canonical.
    pub stack_folder: Option<PathBuf>,
    /// `backup_bind_roots`, canonical.
    pub roots: Vec<PathBuf>,
}

/// What becomes of one bind mount.
#[derive(Debug, PartialEq, Eq)]
pub enum BindVerdict {
    /// Inside the stack's folder, which the backup holds whole.
    InStackFolder,
    /// Its own entry: the canonical source directory.
    Include(PathBuf),
    /// Left out, with the reason.
    Skip(String),
}

impl HostPaths {
    /// The rules for a backup of `target`.
    pub fn for_target(engine: &Engine, target: &BackupTarget) -> Result<Self, EngineError> {
        let stack_folder = match target {
            BackupTarget::Project { name } if folder::check_name(name).is_ok() => {
                let root = folder::root(&engine.stacks_dir)?;
                folder::existing(&root, name)?
            }
            _ => None,
        };
        Ok(Self {
            stack_folder,
            roots: engine.backup_bind_roots.clone(),
        })
    }

    /// Whether `source` (a bind mount's source on the host) is read.
    pub fn judge(&self, source: &str) -> BindVerdict {
        let Ok(real) = std::fs::canonicalize(source) else {
            return BindVerdict::Skip("Berth cannot see this host path".to_owned());
        };
        if self
            .stack_folder
            .as_ref()
            .is_some_and(|f| real.starts_with(f))
        {
            return BindVerdict::InStackFolder;
        }
        if !self.roots.iter().any(|r| real.starts_with(r)) {
            return BindVerdict::Skip(
                "not inside the stack's folder or a backup_bind_roots directory".to_owned(),
            );
        }
        if real.is_dir() {
            BindVerdict::Include(real)
        } else {
            BindVerdict::Skip("a single file; only directories are backed up".to_owned())
        }
    }

    /// Whether a restore may write into `path` (the same rule as reading it).
    pub fn may_restore_into(&self, path: &Path) -> bool {
        // The directory may not exist yet: its nearest existing ancestor decides.
        let mut probe = path.to_path_buf();
        let real = loop {
            if let Ok(real) = std::fs::canonicalize(&probe) {
                break real.join(path.strip_prefix(&probe).unwrap_or(Path::new("")));
            }
            if !probe.pop() {
                return false;
            }
        };
        self.roots.iter().any(|r| real.starts_with(r) && real != *r)
    }
}

/// How the job log names an entry.
pub fn what(v: &ManifestVolume) -> String {
    match &v.host_path {
        Some(path) if v.name == ManifestVolume::STACK_FOLDER => format!("stack folder {path}"),
        Some(path) => format!("host directory {path}"),
        None => format!("volume {}", v.name),
    }
}

/// A read-only helper mounting what `v` names.
pub async fn reader(docker: &Docker, v: &ManifestVolume) -> Result<Helper, EngineError> {
    Ok(match &v.host_path {
        Some(path) => Helper::for_host_path(docker, path).await?,
        None => Helper::for_volume(docker, &v.name).await?,
    })
}

/// An entry for a host directory: its sizes and checksums are measured like a
/// volume's.
pub fn entry(name: String, path: &Path, destination: Option<String>) -> ManifestVolume {
    ManifestVolume {
        name,
        destination,
        tar_bytes: 0,
        sha256: String::new(),
        content_digest: String::new(),
        entries: 0,
        driver: String::new(),
        labels: Default::default(),
        host_path: Some(path.display().to_string()),
    }
}

/// The name of the `n`th bind mount's entry (1-based): not a possible volume name.
pub fn bind_entry_name(n: usize) -> String {
    format!("@bind-{n}")
}

/// Whether `name` is a host directory entry's name as Berth writes them (input from
/// a backup is checked before it names anything).
pub fn valid_entry_name(name: &str) -> bool {
    name == ManifestVolume::STACK_FOLDER
        || name
            .strip_prefix("@bind-")
            .is_some_and(|n| !n.is_empty() && n.len() < 6 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Where a restore writes one host directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub entry: String,
    /// The path it was backed up from.
    pub from: PathBuf,
    /// The path it is restored into.
    pub to: PathBuf,
}

/// Where a restore writes a backup's host directories: the stack's folder into the
/// stacks directory under the stack's (new) name, bind sources back where they were —
/// only inside a `backup_bind_roots` directory of this Berth.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    pub moves: Vec<Move>,
    pub rules: HostPaths,
}

impl Destinations {
    /// The destinations of `manifest`'s host entries, restored as `req` asks. The
    /// entries come from a backup: their names and paths are checked first.
    pub fn of(
        engine: &Engine,
        manifest: &Manifest,
        req: &RestoreBackup,
    ) -> Result<Self, EngineError> {
        let mut moves = Vec::new();
        for v in &manifest.volumes {
            let Some(path) = &v.host_path else { continue };
            let from = PathBuf::from(path);
            let bad = !valid_entry_name(&v.name) || !plain_absolute(&from);
            if bad {
                return Err(EngineError::conflict(format!(
                    "the backup names host directory {path:?} as {:?}, which Berth never writes",
                    v.name
                )));
            }
            let to = if v.name == ManifestVolume::STACK_FOLDER {
                let BackupTarget::Project { name } = &manifest.target else {
                    return Err(EngineError::conflict(
                        "a stack folder in a backup of no stack",
                    ));
                };
                let stack = req.name.as_deref().unwrap_or(name);
                folder::check_name(stack)?;
                folder::root(&engine.stacks_dir)?.join(stack)
            } else {
                match req.volumes.get(&v.name) {
                    // The request may put a bind's data elsewhere (the original
                    // still uses its directory); the same rules apply there.
                    Some(to) if plain_absolute(Path::new(to)) => PathBuf::from(to),
                    Some(to) => {
                        return Err(EngineError::bad(
                            "volumes",
                            format!("{}: {to:?} is not an absolute host path", v.name),
                        ));
                    }
                    None => from.clone(),
                }
            };
            moves.push(Move {
                entry: v.name.clone(),
                from,
                to,
            });
        }
        Ok(Self {
            moves,
            rules: HostPaths {
                stack_folder: None,
                roots: engine.backup_bind_roots.clone(),
            },
        })
    }

    /// Where entry `name` is restored.
    pub fn to_of(&self, name: &str) -> Option<&Path> {
        self.moves
            .iter()
            .find(|m| m.entry == name)
            .map(|m| m.to.as_path())
    }

    /// A backed-up host path as it is after the restore: inside a restored
    /// directory (the stack's folder, a bind source moved elsewhere) → the same place
    /// inside its destination, the deepest directory deciding; others unchanged.
    pub fn rewrite(&self, path: &str) -> String {
        let moved = self
            .moves
            .iter()
            .filter_map(|m| Path::new(path).strip_prefix(&m.from).ok().map(|r| (m, r)))
            .min_by_key(|(_, rest)| rest.components().count());
        match moved {
            Some((m, rest)) if rest.as_os_str().is_empty() => m.to.display().to_string(),
            Some((m, rest)) => m.to.join(rest).display().to_string(),
            None => path.to_owned(),
        }
    }

    /// What stands in the way of writing each entry: a folder that is not empty, a
    /// bind source outside every `backup_bind_roots` directory.
    pub fn conflicts(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for m in &self.moves {
            let shown = m.to.display().to_string();
            let stack = m.entry == ManifestVolume::STACK_FOLDER;
            if !stack && !self.rules.may_restore_into(&m.to) {
                let message = format!(
                    "{shown} is not inside a backup_bind_roots directory of this Berth; its data is not restored there"
                );
                found.push((shown, message));
            } else if !empty_or_missing(&m.to) {
                let message = if stack {
                    format!(
                        "stack folder {shown} exists; restore under another stack name, or delete that stack first"
                    )
                } else {
                    format!("{shown} exists and is not empty; empty or remove it first")
                };
                found.push((shown, message));
            }
        }
        found
    }
}

/// Absolute, without `..` (which would make prefix checks lie).
fn plain_absolute(path: &Path) -> bool {
    path.is_absolute() && !path.components().any(|c| matches!(c, Component::ParentDir))
}

fn empty_or_missing(path: &Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_are_read_only_inside_the_stack_folder_or_a_root() {
        let tmp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(tmp.path()).unwrap();
        let folder = base.join("stacks/web");
        let root = base.join("srv");
        let outside = base.join("etc");
        for d in [&folder.join("data"), &root.join("media"), &outside] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(root.join("one.conf"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        let rules = HostPaths {
            stack_folder: Some(folder.clone()),
            roots: vec![root.clone()],
        };
        let judge = |p: &Path| rules.judge(p.to_str().unwrap());
        assert_eq!(judge(&folder.join("data")), BindVerdict::InStackFolder);
        assert_eq!(
            judge(&root.join("media")),
            BindVerdict::Include(root.join("media"))
        );
        assert!(matches!(judge(&outside), BindVerdict::Skip(_)));
        // A link inside a root leads outside it: judged by where it leads.
        assert!(matches!(judge(&root.join("escape")), BindVerdict::Skip(_)));
        assert!(matches!(
            judge(&root.join("one.conf")),
            BindVerdict::Skip(_)
        ));
        assert!(matches!(judge(&base.join("missing")), BindVerdict::Skip(_)));
        assert!(rules.may_restore_into(&root.join("new/deeper")));
        assert!(!rules.may_restore_into(&root));
        assert!(!rules.may_restore_into(&root.join("escape/x")));
        assert!(!rules.may_restore_into(&outside.join("x")));
    }

    #[test]
    fn paths_inside_the_old_stack_folder_move_to_the_new_one() {
        let d = Destinations {
            moves: vec![Move {
                entry: ManifestVolume::STACK_FOLDER.into(),
                from: "/opt/stacks/web".into(),
                to: "/opt/stacks/web2".into(),
            }],
            rules: HostPaths::default(),
        };
        assert_eq!(d.rewrite("/opt/stacks/web"), "/opt/stacks/web2");
        assert_eq!(d.rewrite("/opt/stacks/web/data"), "/opt/stacks/web2/data");
        assert_eq!(
            d.rewrite("/opt/stacks/webby/data"),
            "/opt/stacks/webby/data"
        );
        assert_eq!(d.rewrite("/srv/x"), "/srv/x");
        let nested = Destinations {
            moves: vec![
                Move {
                    entry: "@bind-1".into(),
                    from: "/srv".into(),
                    to: "/srv2".into(),
                },
                Move {
                    entry: "@bind-2".into(),
                    from: "/srv/media".into(),
                    to: "/big/media".into(),
                },
            ],
            rules: HostPaths::default(),
        };
        assert_eq!(nested.rewrite("/srv/media/a"), "/big/media/a");
        assert_eq!(nested.rewrite("/srv/other"), "/srv2/other");
    }

    #[test]
    fn entry_names_cannot_be_volume_names_or_paths() {
        assert!(valid_entry_name("@stack"));
        assert!(valid_entry_name(&bind_entry_name(3)));
        for bad in ["@bind-", "@bind-../x", "data", "@bind-1/..", "@stack2"] {
            assert!(!valid_entry_name(bad), "{bad}");
        }
    }
}
