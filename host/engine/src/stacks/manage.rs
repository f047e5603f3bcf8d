//! What `stacks.*` does: list the folders beside the compose projects Docker knows,
//! read a stack's files, validate, create, save (the replaced files kept as a
//! version), delete (optionally after `compose down`), and the versions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_core::time::now_ms;
use berth_docker::compose::{self, Compose};
use berth_docker::model::{PROJECT_LABEL, SERVICE_LABEL, WORKING_DIR_LABEL};
use berth_protocol::api::stacks::{
    ComposeCli, ServiceState, ServiceStatus, StackDelete, StackDetail, StackFiles, StackHistory,
    StackList, StackSummary, StackVersion, Validation,
};

use super::validate;
use super::versions::StackVersionsTable;
use crate::stack_folder::{self as folder, MAX_FILE};
use crate::{Engine, EngineError};

/// Per project: where compose ran it, and per service (containers, running).
type Seen = BTreeMap<String, (Option<String>, BTreeMap<String, (u32, u32)>)>;

/// What Docker runs, grouped by compose project and service.
async fn seen(engine: &Engine) -> Result<Seen, EngineError> {
    let listed = super::project_containers(engine, None).await?;
    let mut seen = Seen::new();
    for c in listed {
        let labels = c.labels.unwrap_or_default();
        let (Some(project), Some(service)) = (labels.get(PROJECT_LABEL), labels.get(SERVICE_LABEL))
        else {
            continue;
        };
        let entry = seen.entry(project.clone()).or_default();
        entry.0 = entry
            .0
            .take()
            .or_else(|| labels.get(WORKING_DIR_LABEL).cloned());
        let counts = entry.1.entry(service.clone()).or_default();
        counts.0 += 1;
        counts.1 += u32::from(c.state.is_some_and(|s| s.to_string() == "running"));
    }
    Ok(seen)
}

fn service(name: String, (containers, running): (u32, u32)) -> ServiceStatus {
    let state = match (containers, running) {
        (0, _) => ServiceState::NotCreated,
        (c, r) if r == c => ServiceState::Running,
        (_, 0) => ServiceState::Stopped,
        _ => ServiceState::Partial,
    };
    ServiceStatus {
        name,
        state,
        containers,
        running,
    }
}

/// A stack's state from its services'.
fn overall(services: &[ServiceStatus]) -> ServiceState {
    let all = |s: ServiceState| services.iter().all(|x| x.state == s);
    if services.is_empty() || all(ServiceState::NotCreated) {
        ServiceState::NotCreated
    } else if all(ServiceState::Running) {
        ServiceState::Running
    } else if services.iter().all(|x| x.running == 0) {
        ServiceState::Stopped
    } else {
        ServiceState::Partial
    }
}

/// The services a compose file names, in its order.
pub(crate) fn services_of(text: &str) -> Result<Vec<String>, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    Ok(doc
        .get("services")
        .and_then(serde_yaml::Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// One managed stack's summary from its folder and what Docker runs of it.
fn managed(root: &Path, name: &str, seen: &mut Seen) -> StackSummary {
    let mut running = seen.remove(name).map(|(_, s)| s).unwrap_or_default();
    let folder = root.join(name);
    let text = folder::compose_file(&folder)
        .ok_or_else(|| "the folder holds no compose file".to_owned())
        .and_then(|f| {
            folder::read(&folder.join(f))
                .map_err(|e| e.to_string())
                .map(Option::unwrap_or_default)
        });
    let (names, error) = match text.as_deref().map_err(Clone::clone).and_then(services_of) {
        Ok(names) => (names, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let draft = text
        .as_deref()
        .is_ok_and(|t| !validate::shape(t).is_empty());
    let mut services: Vec<ServiceStatus> = names
        .into_iter()
        .map(|n| {
            let counts = running.remove(&n).unwrap_or_default();
            service(n, counts)
        })
        .collect();
    // Containers of services no longer in the file (removed, not yet `down`).
    services.extend(running.into_iter().map(|(n, c)| service(n, c)));
    StackSummary {
        name: name.to_owned(),
        managed: true,
        state: overall(&services),
        services,
        dir: Some(folder.display().to_string()),
        draft: draft && error.is_none(),
        error,
    }
}

/// Managed stacks (folders with a stack's name) and then external projects.
pub async fn list(engine: &Engine) -> Result<StackList, EngineError> {
    let root = folder::root(&engine.stacks_dir)?;
    let mut seen = seen(engine).await?;
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .map_err(|e| EngineError::unavailable(format!("cannot read {}: {e}", root.display())))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| folder::check_name(n).is_ok())
        .collect();
    names.sort();
    let mut stacks: Vec<StackSummary> =
        names.iter().map(|n| managed(&root, n, &mut seen)).collect();
    stacks.extend(seen.into_iter().map(|(name, (dir, services))| {
        let services: Vec<ServiceStatus> =
            services.into_iter().map(|(n, c)| service(n, c)).collect();
        StackSummary {
            name,
            managed: false,
            state: overall(&services),
            services,
            dir,
            draft: false,
            error: None,
        }
    }));
    Ok(StackList {
        stacks_dir: root.display().to_string(),
        compose: compose_cli().await,
        stacks,
    })
}

/// The compose CLI stacks run with, as users see it.
pub async fn compose_cli() -> Option<ComposeCli> {
    compose::detect().await.map(|c| ComposeCli {
        command: c.command(),
        version: c.version.clone(),
    })
}

/// `.env` with every value replaced (names and comments kept).
fn redact_env(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once('=') {
            Some((key, _)) if !line.trim_start().starts_with('#') => format!("{key}=<redacted>"),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A stack's folder and compose file name; `not_found` when there is no such stack.
pub(crate) fn located(engine: &Engine, name: &str) -> Result<(PathBuf, &'static str), EngineError> {
    let root = folder::root(&engine.stacks_dir)?;
    let dir = folder::existing(&root, name)?
        .ok_or_else(|| EngineError::not_found(format!("no stack {name} in {}", root.display())))?;
    let file = folder::compose_file(&dir).ok_or_else(|| {
        EngineError::conflict(format!(
            "stack {name}: {} holds no compose file",
            dir.display()
        ))
    })?;
    Ok((dir, file))
}

/// A stack's files; `.env` values redacted when `redact`.
pub fn get(engine: &Engine, name: &str, redact: bool) -> Result<StackDetail, EngineError> {
    let (dir, file) = located(engine, name)?;
    let compose = folder::read(&dir.join(file))?.unwrap_or_default();
    let env = folder::read(&dir.join(".env"))?;
    let problems = validate::shape(&compose);
    Ok(StackDetail {
        name: name.to_owned(),
        dir: dir.display().to_string(),
        compose_file: file.to_owned(),
        env_redacted: redact && env.is_some(),
        env: if redact {
            env.as_deref().map(redact_env)
        } else {
            env
        },
        draft: !problems.is_empty(),
        validation: Validation {
            valid: problems.is_empty(),
            problems,
            warnings: Vec::new(),
        },
        compose,
        versions: engine.store.versions(name)?.len() as u32,
    })
}

fn check_sizes(files: &StackFiles) -> Result<(), EngineError> {
    for (field, text) in [
        ("compose", Some(&files.compose)),
        ("env", files.env.as_ref()),
    ] {
        if text.is_some_and(|t| t.len() > MAX_FILE) {
            return Err(EngineError::bad(
                field,
                format!("larger than {} KiB", MAX_FILE / 1024),
            ));
        }
    }
    Ok(())
}

/// The files checked: shape first, then (when it passes) the compose CLI.
pub async fn validate(engine: &Engine, files: &StackFiles) -> Result<Validation, EngineError> {
    folder::check_name(&files.name)?;
    check_sizes(files)?;
    let problems = validate::shape(&files.compose);
    if !problems.is_empty() {
        return Ok(Validation {
            valid: false,
            problems,
            warnings: Vec::new(),
        });
    }
    let Some(cli) = compose::detect().await else {
        return Ok(Validation {
            valid: true,
            problems: Vec::new(),
            warnings: vec![
                "no compose CLI here: only YAML and the compose shape were checked".into(),
            ],
        });
    };
    cli_check(engine, cli, files).await
}

async fn cli_check(
    engine: &Engine,
    cli: &Compose,
    files: &StackFiles,
) -> Result<Validation, EngineError> {
    let root = folder::root(&engine.stacks_dir)?;
    let existing = folder::existing(&root, &files.name)?;
    let file = existing
        .as_deref()
        .and_then(folder::compose_file)
        .unwrap_or("compose.yaml");
    let scratch = tempfile::Builder::new()
        .prefix(".berth-check-")
        .tempdir_in(&root)
        .map_err(|e| {
            EngineError::unavailable(format!("cannot write in {}: {e}", root.display()))
        })?;
    folder::write(scratch.path(), file, &files.compose, false)?;
    let env = files.env.as_deref().filter(|e| !e.is_empty());
    if let Some(env) = env {
        folder::write(scratch.path(), ".env", env, true)?;
    }
    // Relative paths resolve against the stack's folder once it exists; its own `.env`
    // must not stand in for the one being checked.
    let project_dir = existing.as_deref().unwrap_or(scratch.path());
    validate::cli(
        cli,
        &files.name,
        project_dir,
        scratch.path(),
        file,
        env.is_some(),
    )
    .await
}

/// Creates (`create`) or saves a stack's files; the files replaced become a version.
pub async fn save(
    engine: &Engine,
    files: StackFiles,
    create: bool,
    by: &str,
) -> Result<StackDetail, EngineError> {
    let root = folder::root(&engine.stacks_dir)?;
    let existing = folder::existing(&root, &files.name)?;
    match (&existing, create) {
        (Some(dir), true) => {
            return Err(EngineError::conflict(format!(
                "stack {} exists ({})",
                files.name,
                dir.display()
            )));
        }
        (None, false) => return Err(EngineError::not_found(format!("no stack {}", files.name))),
        _ => {}
    }
    let verdict = validate(engine, &files).await?;
    if !verdict.valid && !files.draft {
        return Err(refusal(&verdict));
    }
    let dir = match existing {
        Some(dir) => {
            keep_version(engine, &dir, &files, by)?;
            dir
        }
        None => {
            let dir = root.join(&files.name);
            std::fs::create_dir(&dir).map_err(|e| {
                EngineError::unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
            dir
        }
    };
    write_files(&dir, &files)?;
    tracing::info!(
        stack = files.name,
        by,
        draft = !verdict.valid,
        "stack saved"
    );
    let mut detail = get(engine, &files.name, false)?;
    detail.validation = verdict;
    detail.draft = !detail.validation.valid;
    Ok(detail)
}

/// The first problem, with its place, as the save's error (`stacks.validate` has all).
fn refusal(verdict: &Validation) -> EngineError {
    let first = verdict.problems.first();
    let place = first
        .and_then(|p| {
            p.line
                .map(|l| format!("line {l}, column {}: ", p.column.unwrap_or(1)))
        })
        .unwrap_or_default();
    let message = first.map_or("the compose file does not validate", |p| p.message.as_str());
    EngineError::bad(
        "compose",
        format!("{place}{message} (save it as a draft to keep it anyway)"),
    )
}

fn write_files(dir: &Path, files: &StackFiles) -> Result<(), EngineError> {
    let file = folder::compose_file(dir).unwrap_or("compose.yaml");
    folder::write(dir, file, &files.compose, false)?;
    match files.env.as_deref() {
        Some("") => folder::remove(dir, ".env"),
        Some(env) => folder::write(dir, ".env", env, true),
        None => Ok(()),
    }
}

/// Keeps the files about to be replaced, unless nothing changes.
fn keep_version(
    engine: &Engine,
    dir: &Path,
    files: &StackFiles,
    by: &str,
) -> Result<(), EngineError> {
    let compose = folder::compose_file(dir)
        .map(|f| folder::read(&dir.join(f)))
        .transpose()?
        .flatten()
        .unwrap_or_default();
    let env = folder::read(&dir.join(".env"))?;
    let env_after = match files.env.as_deref() {
        None => env.clone(),
        Some("") => None,
        Some(e) => Some(e.to_owned()),
    };
    if compose == files.compose && env == env_after {
        return Ok(());
    }
    let replaced_ms = now_ms();
    engine.store.put_version(
        &files.name,
        &StackVersion {
            id: replaced_ms.to_string(),
            replaced_ms,
            by: by.to_owned(),
            compose,
            env,
        },
    )?;
    Ok(())
}

/// Deletes a stack's folder; with `down`, `compose down` runs first (and `-v` unless
/// `keep_volumes`). Its versions stay in the store.
pub async fn delete(engine: &Engine, params: &StackDelete) -> Result<(), EngineError> {
    let (dir, file) = located(engine, &params.name)?;
    if params.down {
        let cli = compose::detect()
            .await
            .ok_or_else(|| EngineError::unavailable("no compose CLI here to run `down` with"))?;
        let mut args = vec!["down", "-t", "10"];
        if !params.keep_volumes {
            args.push("-v");
        }
        let run = cli
            .run(
                &params.name,
                &dir,
                &dir.join(file),
                &args,
                Duration::from_secs(300),
            )
            .await?;
        if !run.success {
            return Err(EngineError::failed(format!(
                "compose down failed, nothing was deleted: {}",
                run.stderr.trim()
            )));
        }
    }
    std::fs::remove_dir_all(&dir)
        .map_err(|e| EngineError::unavailable(format!("cannot delete {}: {e}", dir.display())))?;
    tracing::info!(stack = params.name, down = params.down, "stack deleted");
    Ok(())
}

pub fn history(engine: &Engine, name: &str) -> Result<StackHistory, EngineError> {
    folder::check_name(name)?;
    Ok(StackHistory {
        versions: engine.store.versions(name)?,
    })
}

/// Saves version `id` as the current files (kept even if it no longer validates;
/// the current files become a version too).
pub async fn restore_version(
    engine: &Engine,
    name: &str,
    id: &str,
    by: &str,
) -> Result<StackDetail, EngineError> {
    let version = history(engine, name)?
        .versions
        .into_iter()
        .find(|v| v.id == id)
        .ok_or_else(|| EngineError::not_found(format!("stack {name} has no version {id}")))?;
    let files = StackFiles {
        name: name.to_owned(),
        compose: version.compose,
        env: Some(version.env.unwrap_or_default()),
        draft: true,
    };
    save(engine, files, false, by).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(c: u32, r: u32) -> ServiceStatus {
        service("s".into(), (c, r))
    }

    #[test]
    fn states_follow_the_containers() {
        assert_eq!(counts(0, 0).state, ServiceState::NotCreated);
        assert_eq!(counts(2, 2).state, ServiceState::Running);
        assert_eq!(counts(2, 1).state, ServiceState::Partial);
        assert_eq!(counts(1, 0).state, ServiceState::Stopped);
        assert_eq!(
            overall(&[counts(1, 1), counts(0, 0)]),
            ServiceState::Partial
        );
        assert_eq!(
            overall(&[counts(1, 0), counts(0, 0)]),
            ServiceState::Stopped
        );
        assert_eq!(overall(&[counts(0, 0)]), ServiceState::NotCreated);
    }

    #[test]
    fn env_values_are_redacted_names_and_comments_kept() {
        assert_eq!(
            redact_env("# db\nPASSWORD=hunter2\nEMPTY=\nnot a pair"),
            "# db\nPASSWORD=<redacted>\nEMPTY=<redacted>\nnot a pair"
        );
    }
}
