//! Backups and jobs from a test's side: following a job to its end, its log, uploading
//! a backup file, and hand-made backup archives (what an attacker would upload).

use std::io::Write;
use std::time::Duration;

use berth_client::{Client, ClientError};
use berth_protocol::api::backups::{BackupTarget, CreateBackup, UploadBackup};
use berth_protocol::api::catalogue::{BackupsCreate, BackupsUploadTicket, JobProgress, JobsGet};
use berth_protocol::api::jobs::{JobProgressParams, JobRef, JobState};
use berth_protocol::error::ErrorCode;
use futures_util::StreamExt;

use crate::server::Berth;

/// How long a job may take in the tests.
pub const WAIT: Duration = Duration::from_secs(180);

/// The error code of a failed call.
pub fn code<T: std::fmt::Debug>(r: &Result<T, ClientError>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(|e| e.body()).map(|b| b.code)
}

/// Every progress value of `job` until it ends.
pub async fn follow(c: &Client, job: &str) -> Vec<berth_protocol::api::jobs::JobProgress> {
    let mut sub = c
        .open::<JobProgress>(JobProgressParams {
            job: Some(job.to_owned()),
        })
        .await
        .expect("open job.progress");
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, async {
        while let Some(p) = sub.next().await {
            let p = p.expect("progress");
            let end = p.state.is_terminal();
            seen.push(p);
            if end {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("job {job} did not end: {seen:?}"));
    seen
}

/// Follows `job` until a progress value satisfies `reached`, and returns it; panics
/// if the job ends first.
pub async fn until(
    c: &Client,
    job: &str,
    reached: impl Fn(&berth_protocol::api::jobs::JobProgress) -> bool,
) -> berth_protocol::api::jobs::JobProgress {
    let mut sub = c
        .open::<JobProgress>(JobProgressParams {
            job: Some(job.to_owned()),
        })
        .await
        .expect("open job.progress");
    tokio::time::timeout(WAIT, async {
        while let Some(p) = sub.next().await {
            let p = p.expect("progress");
            if reached(&p) {
                return p;
            }
            assert!(!p.state.is_terminal(), "job {job} ended first: {p:?}");
        }
        panic!("job {job}: the progress channel closed");
    })
    .await
    .unwrap_or_else(|_| panic!("job {job} did not get there in {WAIT:?}"))
}

/// Backs `target` up (to `storage`, else the default) and waits for the job, which
/// must complete.
pub async fn back_up(c: &Client, target: BackupTarget, storage: Option<&str>) {
    let queued = c
        .call::<BackupsCreate>(CreateBackup {
            targets: vec![target],
            storage: storage.map(str::to_owned),
            ..Default::default()
        })
        .await
        .unwrap();
    let (state, message) = end_state(c, &queued.jobs[0]).await;
    assert_eq!(state, JobState::Complete, "{message}");
}

/// How `job` ended, and its last message.
pub async fn end_state(c: &Client, job: &str) -> (JobState, String) {
    let p = follow(c, job).await;
    let last = p.last().expect("progress");
    (last.state, last.message.clone())
}

/// A job's log messages.
pub async fn log_of(c: &Client, job: &str) -> Vec<String> {
    c.call::<JobsGet>(JobRef { id: job.to_owned() })
        .await
        .unwrap()
        .log
        .into_iter()
        .map(|l| l.message)
        .collect()
}

/// `PUT`s `bytes` on a fresh upload ticket; the status and the JSON answer.
pub async fn upload(
    berth: &Berth,
    c: &Client,
    token: &str,
    passphrase: Option<&str>,
    bytes: Vec<u8>,
) -> (u16, serde_json::Value) {
    let t = c
        .call::<BackupsUploadTicket>(UploadBackup {
            storage: None,
            passphrase: passphrase.map(str::to_owned),
        })
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .put(format!("{}{}", berth.url, t.url))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// A backup file made by hand, as anyone could: `manifest.json` first, then `parts`
/// (`(path in the archive, bytes)`), as a gzip'd tar.
pub fn hand_made_backup(manifest: &serde_json::Value, parts: &[(&str, &[u8])]) -> Vec<u8> {
    let json = serde_json::to_vec_pretty(manifest).unwrap();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, data).unwrap();
    };
    add("manifest.json", &json);
    for (p, d) in parts {
        add(p, d);
    }
    let mut gz = tar.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}
