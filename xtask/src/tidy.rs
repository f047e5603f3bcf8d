//! `cargo xtask tidy`: the house rules a compiler does not check, checked on the tree
//! (run first by `cargo xtask test`).
//!
//! - The host crates depend on each other one way only (the order below), and the
//!   crates under the server never name the wire's transport or error types.
//! - Every host source file is named in ARCHITECTURE.md's code map.
//! - The store schema version ARCHITECTURE.md states is the code's.
//! - The plugins workspace lints its crates (and the plugin SDK) as the root does.
//! - No module cycles inside the crates that must have none (`ACYCLIC`); the others'
//!   cycles are printed (see `modules`).
//! - No web UI component is longer than `COMPONENT_LINES` (clippy's `too_many_lines`
//!   does not see them: `#[function_component]` rewrites the function).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::steps::root;

/// The host crates, lowest first. A crate may depend only on crates before it, and not
/// on a crate of its own rank.
const LAYERS: &[(&str, u8)] = &[
    ("berth-core", 0),
    ("berth-identity", 1),
    ("berth-docker", 1),
    ("berth-plugins", 1),
    ("berth-engine", 2),
    ("berth-server", 3),
    ("berth", 4),
];

/// Host crates whose modules must not depend on each other in a circle.
const ACYCLIC: &[&str] = &["engine"];

/// Longest `#[function_component]`, in lines from the attribute to the closing brace.
const COMPONENT_LINES: usize = 120;

/// What only the server may name (the transport and the wire's errors).
const SERVER_ONLY: &[&str] = &["axum", "ErrorBody", "AppState", "berth_protocol::error"];

pub fn tidy() -> Result<()> {
    let mut problems = Vec::new();
    for dir in crate_dirs()? {
        check_crate(&dir, &mut problems)?;
    }
    check_code_map(&mut problems)?;
    check_schema_version(&mut problems)?;
    check_plugin_lints(&mut problems)?;
    check_module_cycles(&mut problems)?;
    check_components(&mut problems)?;
    if !problems.is_empty() {
        bail!(
            "tidy found {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    eprintln!(
        "    tidy: layers, code map, schema version, lints, acyclic modules and component lengths agree"
    );
    Ok(())
}

fn crate_dirs() -> Result<Vec<PathBuf>> {
    let host = root().join("host");
    let mut dirs: Vec<PathBuf> = crate::steps::crate_dirs(&host)?
        .into_iter()
        .map(|name| host.join(name))
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn rank(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The `name = "…"` of a manifest's `[package]`.
fn package_name(manifest: &str) -> Option<&str> {
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .and_then(|rest| rest.strip_suffix('"'))
}

fn check_crate(dir: &Path, problems: &mut Vec<String>) -> Result<()> {
    let manifest = fs::read_to_string(dir.join("Cargo.toml"))?;
    let name =
        package_name(&manifest).with_context(|| format!("no package name in {}", dir.display()))?;
    let Some(own) = rank(name) else {
        problems.push(format!(
            "host crate {name} is not in xtask/src/tidy.rs LAYERS"
        ));
        return Ok(());
    };
    for line in manifest.lines() {
        let dep = line.split(['.', ' ', '=']).next().unwrap_or_default();
        if let Some(theirs) = rank(dep)
            && dep != name
            && theirs >= own
        {
            problems.push(format!("{name} depends on {dep}, which is not below it"));
        }
    }
    if own < rank("berth-server").expect("listed") {
        for file in rust_files(&dir.join("src"))? {
            let text = fs::read_to_string(&file)?;
            for word in SERVER_ONLY {
                if text.contains(word) {
                    problems.push(format!("{} names {word} (server only)", rel(&file)));
                }
            }
        }
    }
    Ok(())
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// Every host source file but `lib.rs`/`mod.rs`/`main.rs` is named (`` `name.rs` ``)
/// in ARCHITECTURE.md, and every module folder (`` `name/` ``).
fn check_code_map(problems: &mut Vec<String>) -> Result<()> {
    let map = fs::read_to_string(root().join("ARCHITECTURE.md"))?;
    for dir in crate_dirs()? {
        for file in rust_files(&dir.join("src"))? {
            let stem = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let named = match stem {
                "lib.rs" | "main.rs" => true,
                "mod.rs" => {
                    let folder = file.parent().and_then(Path::file_name);
                    let folder = folder.and_then(|f| f.to_str()).unwrap_or_default();
                    map.contains(&format!("`{folder}/`"))
                }
                _ => map.contains(&format!("`{stem}`")),
            };
            if !named {
                problems.push(format!(
                    "{} is not in ARCHITECTURE.md's code map",
                    rel(&file)
                ));
            }
        }
    }
    Ok(())
}

fn check_schema_version(problems: &mut Vec<String>) -> Result<()> {
    let store = fs::read_to_string(root().join("host/core/src/store.rs"))?;
    let version = store
        .lines()
        .find_map(|l| l.strip_prefix("pub const SCHEMA_VERSION: u64 = "))
        .and_then(|v| v.strip_suffix(';'))
        .context("no SCHEMA_VERSION in host/core/src/store.rs")?;
    let map = fs::read_to_string(root().join("ARCHITECTURE.md"))?;
    if !map.contains(&format!("schema v{version} ")) {
        problems.push(format!(
            "ARCHITECTURE.md does not state the store's schema v{version}"
        ));
    }
    Ok(())
}

/// The settings of a manifest's `[workspace.lints.*]` tables, comments aside.
fn lint_settings(manifest: &str) -> Vec<&str> {
    let mut settings = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line.starts_with("[workspace.lints.");
            if inside {
                settings.push(line);
            }
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            settings.push(line);
        }
    }
    settings
}

/// Cargo cannot inherit lints across workspaces: the plugins workspace repeats the
/// root's list, and this keeps the copy true.
fn check_plugin_lints(problems: &mut Vec<String>) -> Result<()> {
    let ours = fs::read_to_string(root().join("Cargo.toml"))?;
    let plugins = fs::read_to_string(root().join("plugins/Cargo.toml"))?;
    if lint_settings(&ours) != lint_settings(&plugins) {
        problems.push(
            "plugins/Cargo.toml's [workspace.lints] differ from the root Cargo.toml's".to_owned(),
        );
    }
    Ok(())
}

/// Cycles among sibling modules fail the crates in `ACYCLIC`; elsewhere they are
/// reported, the debt in plain sight.
fn check_module_cycles(problems: &mut Vec<String>) -> Result<()> {
    for dir in crate_dirs()? {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let graph = crate::modules::graph(&dir.join("src"))?;
        let cycles = crate::modules::cycles(&graph);
        for cycle in &cycles {
            let line = format!("host/{name}: module cycle {}", cycle.join(" <-> "));
            if ACYCLIC.contains(&name) {
                problems.push(line);
            } else {
                eprintln!("    tidy (reported, not enforced): {line}");
            }
        }
    }
    Ok(())
}

/// Every web UI component is at most `COMPONENT_LINES` long.
fn check_components(problems: &mut Vec<String>) -> Result<()> {
    for file in rust_files(&root().join("web-yew/src"))? {
        let text = fs::read_to_string(&file)?;
        for (name, line, length) in long_components(&text, COMPONENT_LINES) {
            problems.push(format!(
                "{}:{line}: component {name} is {length} lines (at most {COMPONENT_LINES}; split it)",
                rel(&file)
            ));
        }
    }
    Ok(())
}

/// `(name, first line, length)` of each `#[function_component(Name)]` longer than
/// `limit`: from the attribute to the first line that closes it at its indentation.
fn long_components(text: &str, limit: usize) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix("#[function_component(") else {
            continue;
        };
        let name = rest.split(')').next().unwrap_or_default().to_owned();
        let indent = &line[..line.len() - trimmed.len()];
        let close = format!("{indent}}}");
        let end = lines[start..]
            .iter()
            .position(|l| *l == close)
            .map_or(lines.len(), |i| start + i);
        let length = end - start + 1;
        if length > limit {
            out.push((name, start + 1, length));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::lint_settings;

    #[test]
    fn lint_settings_are_the_lint_tables_without_comments() {
        let manifest = "[workspace]\nmembers = []\n\n# why\n[workspace.lints.rust]\nunsafe_code = \"deny\" \n# a comment\n\n[workspace.lints.clippy]\nall = \"warn\"\n[profile.dev]\ndebug = false\n";
        assert_eq!(
            lint_settings(manifest),
            [
                "[workspace.lints.rust]",
                "unsafe_code = \"deny\"",
                "[workspace.lints.clippy]",
                "all = \"warn\"",
            ]
        );
        let changed = manifest.replace("deny", "warn");
        assert_ne!(lint_settings(manifest), lint_settings(&changed));
    }

    #[test]
    fn long_components_are_found_by_their_closing_brace() {
        let body = "    let x = 1;\n".repeat(3);
        let text = format!(
            "#[function_component(Short)]\nfn short() -> Html {{\n}}\n\n#[function_component(Long)]\nfn long() -> Html {{\n{body}}}\n"
        );
        let found = super::long_components(&text, 4);
        assert_eq!(found, vec![("Long".to_owned(), 5, 6)]);
    }
}
