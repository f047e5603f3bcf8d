//! What the job queue counts for `/metrics`: jobs by kind and outcome, how long they
//! took, and the bytes backups read and restores wrote. Counted in the process as each
//! job ends (the jobs table is trimmed, so counting it would make counters go back).

use berth_protocol::api::jobs::{JobInfo, JobKind, JobState};
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

/// Job durations span a one-second verify to a many-hour backup.
const DURATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
];

#[derive(Debug, Clone)]
pub struct JobMetrics {
    finished: IntCounterVec,
    duration: HistogramVec,
    backed_up: IntCounter,
    restored: IntCounter,
}

impl Default for JobMetrics {
    fn default() -> Self {
        Self::new().expect("the job metrics' names and labels are valid")
    }
}

impl JobMetrics {
    fn new() -> prometheus::Result<Self> {
        Ok(Self {
            finished: IntCounterVec::new(
                Opts::new(
                    "berth_jobs_total",
                    "Jobs that ended, by kind and outcome (complete, failed, cancelled).",
                ),
                &["kind", "outcome"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "berth_job_duration_seconds",
                    "How long jobs ran, from start to end, by kind and outcome.",
                )
                .buckets(DURATION_BUCKETS.to_vec()),
                &["kind", "outcome"],
            )?,
            backed_up: IntCounter::new(
                "berth_backup_bytes_total",
                "Bytes of volume data (before compression) in the backups that backup jobs made.",
            )?,
            restored: IntCounter::new(
                "berth_restore_bytes_total",
                "Bytes of volume data (before compression) in the backups that restore jobs restored.",
            )?,
        })
    }

    /// Adds these families to `registry` (they keep counting in both).
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.finished.clone()))?;
        registry.register(Box::new(self.duration.clone()))?;
        registry.register(Box::new(self.backed_up.clone()))?;
        registry.register(Box::new(self.restored.clone()))
    }

    /// Counts a job that ended; jobs still queued or running are not counted.
    /// `data_bytes`: the volume data of the backup a completed backup made or a
    /// completed restore read.
    pub fn observe(&self, info: &JobInfo, data_bytes: Option<u64>) {
        let outcome = match info.progress.state {
            JobState::Complete => "complete",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            _ => return,
        };
        let kind = kind_label(info.kind);
        self.finished.with_label_values(&[kind, outcome]).inc();
        if let (Some(started), Some(finished)) = (info.started_ms, info.finished_ms) {
            let seconds = finished.saturating_sub(started) as f64 / 1000.0;
            self.duration
                .with_label_values(&[kind, outcome])
                .observe(seconds);
        }
        if let (JobState::Complete, Some(bytes)) = (info.progress.state, data_bytes) {
            match info.kind {
                JobKind::Backup => self.backed_up.inc_by(bytes),
                JobKind::Restore => self.restored.inc_by(bytes),
                _ => {}
            }
        }
    }
}

fn kind_label(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Backup => "backup",
        JobKind::Restore => "restore",
        JobKind::Verify => "verify",
        JobKind::Rescan => "rescan",
        JobKind::Copy => "copy",
        JobKind::Action => "action",
        JobKind::Stack => "stack",
        JobKind::StateBackup => "state_backup",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Encoder;

    fn job(kind: JobKind, state: JobState) -> JobInfo {
        serde_json::from_value(serde_json::json!({
            "id": "j-1", "kind": kind, "title": "t", "actor": "a", "created_ms": 1,
            "started_ms": 1_000, "finished_ms": 3_500,
            "progress": {
                "job": "j-1", "state": state, "phase": "", "bytes_done": 0,
                "bytes_total": 0, "items_done": 0, "items_total": 0, "rate_bps": 0,
                "message": ""
            }
        }))
        .expect("a job")
    }

    #[test]
    fn counts_ended_jobs_with_their_bytes_and_durations() {
        let metrics = JobMetrics::default();
        let registry = Registry::new();
        metrics.register(&registry).expect("registers");
        metrics.observe(&job(JobKind::Backup, JobState::Complete), Some(700));
        metrics.observe(&job(JobKind::Backup, JobState::Failed), Some(300));
        metrics.observe(&job(JobKind::Restore, JobState::Complete), Some(50));
        metrics.observe(&job(JobKind::Backup, JobState::Running), Some(9));
        let mut text = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&registry.gather(), &mut text)
            .expect("encodes");
        let text = String::from_utf8(text).expect("utf-8");
        for line in [
            "berth_jobs_total{kind=\"backup\",outcome=\"complete\"} 1",
            "berth_jobs_total{kind=\"backup\",outcome=\"failed\"} 1",
            "berth_jobs_total{kind=\"restore\",outcome=\"complete\"} 1",
            "berth_backup_bytes_total 700",
            "berth_restore_bytes_total 50",
            "berth_job_duration_seconds_sum{kind=\"backup\",outcome=\"complete\"} 2.5",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
        assert!(!text.contains("running"), "{text}");
    }
}
