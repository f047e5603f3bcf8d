//! `jobs.*` and the `job.progress` channel: the queue as users see it
//! (`berth_engine::jobs`). What queues a job is the noun's own module (`backups.rs`).

use berth_engine::Engine;
use std::sync::Arc;

use berth_protocol::api::catalogue::{JobProgress, JobsCancel, JobsGet, JobsList};
use berth_protocol::api::jobs::{
    JobDetail, JobInfo, JobList, JobProgressParams, JobRef, JobsQuery,
};
use berth_protocol::error::ErrorBody;

use crate::errors::WireResult;
use crate::ws::outbox::ChannelSink;
use crate::ws::registry::{ChannelEnd, Registry, blocking, internal};

pub fn register(r: &mut Registry) {
    r.method(JobsList, list);
    r.method(JobsGet, get);
    r.method(JobsCancel, cancel);
    r.channel(JobProgress, progress);
}

async fn list(engine: Arc<Engine>, query: JobsQuery) -> Result<JobList, ErrorBody> {
    blocking(move || {
        Ok(JobList {
            jobs: engine.jobs.list(&engine.store, &query).wire()?,
        })
    })
    .await
}

async fn get(engine: Arc<Engine>, job: JobRef) -> Result<JobDetail, ErrorBody> {
    blocking(move || {
        let record = engine.jobs.get(&engine.store, &job.id).wire()?;
        Ok(JobDetail {
            job: record.info,
            log: record.log,
        })
    })
    .await
}

async fn cancel(engine: Arc<Engine>, job: JobRef) -> Result<JobInfo, ErrorBody> {
    blocking(move || engine.jobs.cancel(&engine.store, &job.id).wire()).await
}

/// A finished job's last state is sent and the channel ends; otherwise the current
/// progress first, then every change.
fn progress(
    engine: Arc<Engine>,
    params: JobProgressParams,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    let jobs = Arc::clone(&engine.jobs);
    let mut ended = None;
    if let Some(id) = &params.job {
        let record = jobs.get(&engine.store, id).wire()?;
        if record.info.progress.state.is_terminal() {
            ended = Some(serde_json::to_value(&record.info.progress).map_err(|e| internal(&e))?);
        }
    }
    if ended.is_none() {
        jobs.subscribe(Box::new(sink.clone()), params.job.clone());
    }
    Ok(async move {
        if let Some(last) = ended {
            let _ = sink.send(last).await;
            return Ok(None);
        }
        sink.closed().await;
        Ok(None)
    })
}
