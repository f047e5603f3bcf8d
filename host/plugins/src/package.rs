//! Third-party plugin packages, and the directory installed plugins live in.
//!
//! A package is a tar (optionally gzipped) holding `plugin.toml` and the component it
//! names (`wasm = "…"`) with its `sha256`. Everything that can be checked without
//! compiling is checked here — shape, sizes, manifest, API version, checksum — so a
//! wrong package costs no Cranelift time and leaves nothing behind.
//!
//! Installed plugins live in `data/plugins/installed/<id>/` as `plugin.toml`,
//! `component.wasm` and `approval.json` (the capabilities an admin approved). A
//! directory is replaced by renames, so a crash mid-upgrade leaves the old or the new
//! plugin, never a mixture; dot-directories are leftovers and are removed at start.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::manifest::Manifest;

/// The largest package accepted (components are a few MiB; this leaves room).
pub const MAX_PACKAGE: u64 = 64 << 20;
const MAX_MANIFEST: u64 = 256 << 10;
const MAX_ENTRIES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The package is wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error("plugin directory: {0}")]
    Io(#[from] std::io::Error),
}

fn invalid<T>(m: impl Into<String>) -> Result<T, PackageError> {
    Err(PackageError::Invalid(m.into()))
}

/// A package's checked contents.
#[derive(Debug, Clone)]
pub struct Package {
    pub manifest_text: String,
    pub manifest: Manifest,
    pub wasm: Vec<u8>,
}

/// Reads a package from `r` (at most [`MAX_PACKAGE`] bytes of tar after
/// decompression) and checks it.
pub fn read(mut r: impl Read) -> Result<Package, PackageError> {
    let mut head = [0u8; 2];
    let n = read_full(&mut r, &mut head)?;
    let r = std::io::Cursor::new(head[..n].to_vec()).chain(r);
    let r: Box<dyn Read> = if head[..n] == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(r))
    } else {
        Box::new(r)
    };
    let mut archive = tar::Archive::new(r.take(MAX_PACKAGE + 1));
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let entries = archive
        .entries()
        .or_else(|e| invalid(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.or_else(|e| invalid(format!("not a tar archive: {e}")))?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let path = entry
            .path()
            .or_else(|e| invalid(format!("bad entry name: {e}")))?;
        let name = path.to_string_lossy().trim_start_matches("./").to_owned();
        if !kind.is_file() {
            return invalid(format!(
                "{name}: only regular files belong in a package (no links or devices)"
            ));
        }
        if name.contains('/') || name.is_empty() || name == ".." {
            return invalid(format!(
                "{name}: files belong at the top of the package, not in directories"
            ));
        }
        if files.len() >= MAX_ENTRIES {
            return invalid(format!("more than {MAX_ENTRIES} files"));
        }
        let cap = if name == "plugin.toml" {
            MAX_MANIFEST
        } else {
            MAX_PACKAGE
        };
        if entry.size() > cap {
            return invalid(format!("{name} is larger than {} KiB", cap >> 10));
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .or_else(|e| invalid(format!("{name}: {e}")))?;
        files.push((name, bytes));
    }
    if files.iter().map(|(_, b)| b.len() as u64).sum::<u64>() > MAX_PACKAGE {
        return invalid(format!("larger than {} MiB", MAX_PACKAGE >> 20));
    }
    let take = |files: &mut Vec<(String, Vec<u8>)>, name: &str| {
        files
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| files.swap_remove(i).1)
    };
    let Some(text) = take(&mut files, "plugin.toml") else {
        return invalid("no plugin.toml at the top of the package");
    };
    let manifest_text =
        String::from_utf8(text).or_else(|_| invalid("plugin.toml is not UTF-8 text"))?;
    let manifest =
        Manifest::parse(&manifest_text).map_err(|e| PackageError::Invalid(e.to_string()))?;
    let (Some(wasm_name), Some(sha)) = (&manifest.wasm, &manifest.sha256) else {
        return invalid(
            "plugin.toml must name the component (wasm = \"…\") and its sha256 (sha256 = \"…\")",
        );
    };
    let Some(wasm) = take(&mut files, wasm_name) else {
        return invalid(format!(
            "the package has no {wasm_name:?} (named by plugin.toml)"
        ));
    };
    let actual = hex::encode(Sha256::digest(&wasm));
    if !actual.eq_ignore_ascii_case(sha) {
        return invalid(format!(
            "{wasm_name} has sha256 {actual}, but plugin.toml says {sha}: the package is damaged or was changed"
        ));
    }
    Ok(Package {
        manifest_text,
        manifest,
        wasm,
    })
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// What an admin approves: one key per capability (`storage_dir`, `http:<pattern>`,
/// `secret:<field>`), so an upgrade's additions can be named exactly.
pub fn capability_keys(m: &Manifest) -> Vec<String> {
    let c = &m.capabilities;
    let mut keys = Vec::new();
    if c.storage_dir {
        keys.push("storage_dir".to_owned());
    }
    keys.extend(c.http.iter().map(|p| format!("http:{p}")));
    keys.extend(c.secrets.iter().map(|s| format!("secret:{s}")));
    keys
}

/// A capability key in words.
pub fn describe_key(key: &str) -> String {
    if key == "storage_dir" {
        "a directory of its own per instance".to_owned()
    } else if let Some(p) = key.strip_prefix("http:") {
        format!("outgoing HTTP to {p} (each instance only to what you grant it)")
    } else if let Some(s) = key.strip_prefix("secret:") {
        format!("a secret setting {s:?} (stored sealed, handed only to this plugin)")
    } else {
        key.to_owned()
    }
}

/// The approval record of an installed plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approved: BTreeSet<String>,
    pub installed_ms: u64,
    pub approved_by: String,
}

/// One installed plugin read back from disk.
#[derive(Debug, Clone)]
pub struct Installed {
    pub id: String,
    pub manifest_text: String,
    pub wasm: Vec<u8>,
    pub approval: Approval,
}

/// One installed plugin as read at start: loaded, or (id, why it is damaged).
pub type InstalledEntry = Result<Installed, (String, String)>;

/// `data/plugins/installed`.
#[derive(Debug, Clone)]
pub struct InstalledDir {
    root: PathBuf,
}

impl InstalledDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Every installed plugin, after removing leftovers of interrupted installs. A
    /// plugin whose files are damaged is reported (id, why) rather than loaded.
    pub fn load_all(&self) -> Result<Vec<InstalledEntry>, PackageError> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            if name.starts_with('.') {
                let _ = std::fs::remove_dir_all(self.root.join(&name));
                continue;
            }
            out.push(self.read(&name).map_err(|e| (name.clone(), e.to_string())));
        }
        Ok(out)
    }

    fn read(&self, id: &str) -> Result<Installed, PackageError> {
        let d = self.dir(id);
        let manifest_text = std::fs::read_to_string(d.join("plugin.toml"))?;
        let wasm = std::fs::read(d.join("component.wasm"))?;
        let approval: Approval = serde_json::from_slice(&std::fs::read(d.join("approval.json"))?)
            .or_else(|e| invalid(format!("approval.json: {e}")))?;
        // The files are the host's own, but a disk can rot: check before compiling.
        let m =
            Manifest::parse(&manifest_text).map_err(|e| PackageError::Invalid(e.to_string()))?;
        if m.id != id {
            return invalid(format!("its manifest is for {:?}", m.id));
        }
        if m.sha256.as_deref().map(str::to_ascii_lowercase)
            != Some(hex::encode(Sha256::digest(&wasm)))
        {
            return invalid("component.wasm does not match its manifest's sha256");
        }
        Ok(Installed {
            id: id.to_owned(),
            manifest_text,
            wasm,
            approval,
        })
    }

    /// The approval of an installed plugin, if it is installed.
    pub fn approval(&self, id: &str) -> Option<Approval> {
        let bytes = std::fs::read(self.dir(id).join("approval.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Installs or replaces `id` atomically (write a dot-directory, swap by renames).
    pub fn put(&self, pkg: &Package, approval: &Approval) -> Result<(), PackageError> {
        let id = &pkg.manifest.id;
        std::fs::create_dir_all(&self.root)?;
        let new = self.root.join(format!(".{id}.new"));
        let old = self.root.join(format!(".{id}.old"));
        let _ = std::fs::remove_dir_all(&new);
        let _ = std::fs::remove_dir_all(&old);
        std::fs::create_dir(&new)?;
        write_synced(&new.join("plugin.toml"), pkg.manifest_text.as_bytes())?;
        write_synced(&new.join("component.wasm"), &pkg.wasm)?;
        let json = serde_json::to_vec_pretty(approval).map_err(std::io::Error::other)?;
        write_synced(&new.join("approval.json"), &json)?;
        let target = self.dir(id);
        if target.exists() {
            std::fs::rename(&target, &old)?;
        }
        std::fs::rename(&new, &target)?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    /// Removes `id`; `false` when it was not installed.
    pub fn remove(&self, id: &str) -> Result<bool, PackageError> {
        let target = self.dir(id);
        if !target.exists() {
            return Ok(false);
        }
        // Rename first so a crash mid-delete leaves a dot-directory, not half a plugin.
        let gone = self.root.join(format!(".{id}.removed"));
        let _ = std::fs::remove_dir_all(&gone);
        std::fs::rename(&target, &gone)?;
        std::fs::remove_dir_all(&gone)?;
        Ok(true)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(sha: &str) -> String {
        format!(
            "id = \"demo\"\nname = \"Demo\"\nversion = \"1.0.0\"\nkind = \"notifier\"\n\
             api = \"berth:plugin@0.1\"\nwasm = \"demo.wasm\"\nsha256 = \"{sha}\"\n\
             config_schema = '''{{\"type\":\"object\",\"properties\":{{\"token\":{{\"type\":\"string\"}}}}}}'''\n\
             [capabilities]\nhttp = [\"https://*.example.com\"]\nsecrets = [\"token\"]\n"
        )
    }

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *bytes).unwrap();
        }
        b.into_inner().unwrap()
    }

    const WASM: &[u8] = b"\0asm pretend";

    fn good() -> Vec<u8> {
        let sha = hex::encode(Sha256::digest(WASM));
        tar_of(&[
            ("plugin.toml", manifest(&sha).as_bytes()),
            ("demo.wasm", WASM),
        ])
    }

    #[test]
    fn reads_plain_and_gzipped_packages() {
        let p = read(&good()[..]).unwrap();
        assert_eq!(p.manifest.id, "demo");
        assert_eq!(p.wasm, WASM);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &good()).unwrap();
        assert_eq!(read(&gz.finish().unwrap()[..]).unwrap().wasm, WASM);
        assert_eq!(
            capability_keys(&p.manifest),
            ["http:https://*.example.com", "secret:token"]
        );
    }

    #[test]
    fn refuses_wrong_packages_with_the_reason() {
        let sha = hex::encode(Sha256::digest(WASM));
        let m = manifest(&sha);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"garbage that is not a tar at all".repeat(40), "not a tar"),
            (tar_of(&[("demo.wasm", WASM)]), "no plugin.toml"),
            (tar_of(&[("plugin.toml", m.as_bytes())]), "no \"demo.wasm\""),
            (
                tar_of(&[("plugin.toml", m.as_bytes()), ("demo.wasm", b"other")]),
                "damaged",
            ),
            (
                tar_of(&[
                    ("plugin.toml", m.replace("@0.1", "@7.0").as_bytes()),
                    ("demo.wasm", WASM),
                ]),
                "serves",
            ),
            (
                tar_of(&[
                    (
                        "plugin.toml",
                        m.replace("wasm = \"demo.wasm\"\n", "").as_bytes(),
                    ),
                    ("demo.wasm", WASM),
                ]),
                "must name the component",
            ),
            (
                tar_of(&[("plugin.toml", m.as_bytes()), ("sub/demo.wasm", WASM)]),
                "top of the package",
            ),
        ];
        for (bytes, why) in cases {
            let e = read(&bytes[..]).unwrap_err().to_string();
            assert!(e.contains(why), "want {why:?}, got {e:?}");
        }
    }

    #[test]
    fn installed_dir_swaps_atomically_and_cleans_leftovers() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = InstalledDir::new(tmp.path().join("installed"));
        let p = read(&good()[..]).unwrap();
        let a = Approval {
            approved: capability_keys(&p.manifest).into_iter().collect(),
            installed_ms: 1,
            approved_by: "admin".into(),
        };
        dir.put(&p, &a).unwrap();
        dir.put(&p, &a).unwrap();
        std::fs::create_dir_all(tmp.path().join("installed/.demo.new")).unwrap();
        let all = dir.load_all().unwrap();
        assert_eq!(all.len(), 1);
        let got = all[0].as_ref().unwrap();
        assert_eq!((got.id.as_str(), &got.approval), ("demo", &a));
        assert!(!tmp.path().join("installed/.demo.new").exists());
        std::fs::write(tmp.path().join("installed/demo/component.wasm"), b"rot").unwrap();
        let e = dir.load_all().unwrap()[0].clone().unwrap_err();
        assert!(e.1.contains("sha256"), "{e:?}");
        assert!(dir.remove("demo").unwrap());
        assert!(!dir.remove("demo").unwrap());
        assert!(dir.load_all().unwrap().is_empty());
    }
}
