//! A stack backup holds the stack's folder (compose file, `.env`, what it bind-mounts
//! relatively), bind-mounted data inside a `backup_bind_roots` directory and its named
//! volumes; other bind mounts are listed as skipped with the reason. Restored under a
//! new stack name it brings up a running copy whose folder, bind-mounted data and
//! volume match the original byte for byte — against the real compose CLI and Docker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_protocol::api::Empty;
use berth_protocol::api::backups::{
    BackupEntry, BackupTarget, ConflictKind, CreateBackup, FORMAT_STREAMED, ManifestVolume,
    RestoreBackup,
};
use berth_protocol::api::catalogue::{
    BackupsCreate, BackupsList, BackupsPreview, BackupsRestore, StacksCreate, StacksList, StacksUp,
};
use berth_protocol::api::jobs::JobState;
use berth_protocol::api::stacks::{ServiceState, StackDelete, StackFiles, StackRef};
use berth_tests::docker::{Scope, ensure_test_image};
use berth_tests::jobs::{end_state, log_of};
use berth_tests::ws;

/// What a directory holds, as a restore must reproduce it: every path with its kind,
/// mode and contents (or link target).
fn tree(root: &Path) -> BTreeMap<PathBuf, (String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let entry = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                (
                    "link".into(),
                    mode,
                    target.into_os_string().into_encoded_bytes(),
                )
            } else if meta.is_dir() {
                todo.push(path.clone());
                ("dir".into(), mode, Vec::new())
            } else {
                ("file".into(), mode, std::fs::read(&path).unwrap())
            };
            out.insert(rel, entry);
        }
    }
    out
}

/// The one container of compose project `project`, inspected.
async fn app_of(scope: &Scope, project: &str) -> bollard::models::ContainerInspectResponse {
    let mut services = scope.project_services(project).await;
    assert_eq!(services.len(), 1, "{project} has one container");
    services.remove("app").expect("its service is app")
}

fn source_at(c: &bollard::models::ContainerInspectResponse, destination: &str) -> String {
    c.mounts
        .iter()
        .flatten()
        .find(|m| m.destination.as_deref() == Some(destination))
        .and_then(|m| m.source.clone())
        .unwrap_or_else(|| panic!("a mount at {destination}"))
}

async fn volume_dir(scope: &Scope, name: &str) -> PathBuf {
    let v = scope.docker.inspect_volume(name).await.unwrap();
    PathBuf::from(v.mountpoint)
}

fn compose_file(image: &str, run: &str, outside: &Path) -> String {
    let label = format!("berth.test: \"{run}\"");
    format!(
        r#"services:
  app:
    image: {image}
    init: true
    command: ["sh", "-c", "while true; do sleep 1; done"]
    labels: {{ {label} }}
    volumes:
      - ./data:/data
      - vol:/vol
      - ${{MEDIA}}:/media
      - {outside}:/outside
volumes:
  vol:
    labels: {{ {label} }}
networks:
  default:
    labels: {{ {label} }}
"#,
        outside = outside.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_backup_restores_under_a_new_name_with_its_folder_binds_and_volumes() {
    let scope = Scope::new().await;
    let image = ensure_test_image(&scope.docker).await;
    let roots = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(roots.path()).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let outside = std::fs::canonicalize(outside.path()).unwrap();
    let media = root.join("media");
    let (_tmp, berth) = ws::start_with(|c| {
        c.env("BERTH_BACKUP_BIND_ROOTS", &root);
    })
    .await;
    let admin = ws::admin(&berth).await;
    let name = scope.name("media").to_lowercase().replace('.', "-");
    let created = admin
        .call::<StacksCreate>(StackFiles {
            name: name.clone(),
            compose: compose_file(image, &scope.run, &outside),
            env: Some(format!("MEDIA={}\n", media.display())),
            draft: false,
        })
        .await
        .unwrap();
    let folder = PathBuf::from(&created.dir);
    let up = admin
        .call::<StacksUp>(StackRef { name: name.clone() })
        .await
        .unwrap();
    let (state, msg) = end_state(&admin, &up.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let app = app_of(&scope, &name).await;
    let write = "head -c 300000 /dev/urandom > /data/blob && mkdir -p /data/sub \
        && echo hi > /data/sub/f && chmod 640 /data/sub/f && ln -s blob /data/link \
        && head -c 70000 /dev/urandom > /vol/v && echo m > /media/m && chmod 600 /media/m \
        && echo o > /outside/o";
    let id = app.id.clone().unwrap();
    assert_eq!(scope.exec(&id, &["sh", "-c", write]).await, 0);

    // One backup of the stack.
    let q = admin
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![BackupTarget::Project { name: name.clone() }],
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, msg) = end_state(&admin, &q.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let log = log_of(&admin, &q.jobs[0]).await;
    let skipped = format!("{} → /outside", outside.display());
    assert!(
        log.iter()
            .any(|l| l.contains(&skipped) && l.contains("backup_bind_roots")),
        "the bind outside every root is skipped with the reason: {log:?}"
    );
    let listed = admin.call::<BackupsList>(Default::default()).await.unwrap();
    let entry: BackupEntry = listed
        .backups
        .into_iter()
        .find(|b| b.target.name() == name)
        .expect("the stack's backup is listed");
    let preview = admin
        .call::<BackupsPreview>(RestoreBackup {
            id: entry.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let manifest = &preview.manifest;
    assert_eq!(manifest.format, FORMAT_STREAMED);
    let held: BTreeMap<&str, Option<&str>> = manifest
        .volumes
        .iter()
        .map(|v| (v.name.as_str(), v.host_path.as_deref()))
        .collect();
    let vol = format!("{name}_vol");
    assert_eq!(
        held,
        BTreeMap::from([
            (ManifestVolume::STACK_FOLDER, Some(created.dir.as_str())),
            ("@bind-1", media.to_str()),
            (vol.as_str(), None),
        ]),
        "the folder, the bind inside the root and the volume; ./data is in the folder"
    );
    assert_eq!(
        entry.volumes,
        vec![vol.clone()],
        "only volumes are listed as such"
    );
    assert!(
        manifest
            .binds_not_included
            .iter()
            .any(|b| b.starts_with(&skipped)),
        "{:?}",
        manifest.binds_not_included
    );
    // In place, the folder and the bind's directory are in the way.
    let in_the_way: Vec<&str> = preview
        .conflicts
        .iter()
        .filter(|c| c.kind == ConflictKind::HostPath)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        in_the_way,
        vec![created.dir.as_str(), media.to_str().unwrap()],
        "{:?}",
        preview.conflicts
    );

    restored_as_a_copy(&scope, &admin, &entry, &name, &folder, &root).await;
    for stack in [&name, &format!("{name}-copy")] {
        admin
            .call::<berth_protocol::api::catalogue::StacksDelete>(StackDelete {
                name: stack.clone(),
                down: true,
                keep_volumes: false,
            })
            .await
            .unwrap();
    }
}

/// Restored as `<name>-copy` with the bind's data put beside the original: the copy
/// runs from its own folder, and everything matches byte for byte.
async fn restored_as_a_copy(
    scope: &Scope,
    admin: &berth_client::Client,
    entry: &BackupEntry,
    name: &str,
    folder: &Path,
    root: &Path,
) {
    let copy = format!("{name}-copy");
    let media2 = root.join("media2");
    let outside_roots = admin
        .call::<BackupsPreview>(RestoreBackup {
            id: entry.id.clone(),
            name: Some(copy.clone()),
            volumes: BTreeMap::from([("@bind-1".to_owned(), "/etc/berth-test".to_owned())]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        outside_roots
            .conflicts
            .iter()
            .any(|c| c.kind == ConflictKind::HostPath && c.name == "/etc/berth-test"),
        "a restore writes host paths only inside a root: {:?}",
        outside_roots.conflicts
    );
    let request = RestoreBackup {
        id: entry.id.clone(),
        name: Some(copy.clone()),
        volumes: BTreeMap::from([("@bind-1".to_owned(), media2.display().to_string())]),
        ..Default::default()
    };
    // Bind mounts reach onto the host: an admin approves each, as for any restore.
    let preview = admin.call::<BackupsPreview>(request.clone()).await.unwrap();
    assert!(preview.conflicts.is_empty(), "{:?}", preview.conflicts);
    let binds: Vec<&String> = preview
        .needs_approval
        .iter()
        .filter(|k| k.contains(":Binds:"))
        .collect();
    assert_eq!(binds.len(), 3, "{:?}", preview.needs_approval);
    let job = admin
        .call::<BackupsRestore>(RestoreBackup {
            approve: preview.needs_approval.clone(),
            ..request
        })
        .await
        .unwrap();
    let (state, msg) = end_state(admin, &job.id).await;
    assert_eq!(state, JobState::Complete, "{msg}");
    let new_folder = folder.with_file_name(&copy);
    assert_eq!(
        tree(&new_folder),
        tree(folder),
        "the stack folder, byte for byte"
    );
    assert_eq!(tree(&media2), tree(&root.join("media")), "the bind's data");
    let vol = volume_dir(scope, &format!("{name}_vol")).await;
    let vol2 = volume_dir(scope, &format!("{copy}_vol")).await;
    assert_eq!(tree(&vol2), tree(&vol), "the volume's data");
    assert!(tree(&new_folder).contains_key(Path::new("data/blob")));

    let app = app_of(scope, &copy).await;
    assert!(
        app.state.as_ref().unwrap().running.unwrap(),
        "the copy runs"
    );
    let data = new_folder.join("data").display().to_string();
    assert_eq!(source_at(&app, "/data"), data, "it mounts its own folder");
    assert_eq!(source_at(&app, "/media"), media2.display().to_string());
    let labels = app.config.as_ref().unwrap().labels.clone().unwrap();
    assert_eq!(
        labels["com.docker.compose.project.working_dir"],
        new_folder.display().to_string()
    );
    let stacks = admin.call::<StacksList>(Empty {}).await.unwrap();
    let listed = stacks
        .stacks
        .iter()
        .find(|s| s.name == copy)
        .expect("the copy is a stack");
    assert!(listed.managed, "{listed:?}");
    assert_eq!(listed.state, ServiceState::Running, "{listed:?}");
}
