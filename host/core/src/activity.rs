//! Berth's own happenings — a job queued, started or finished, a backup made or
//! deleted, a plugin turning unhealthy — told to whoever listens. The engine and the
//! plugin watch publish; the server turns each into an event on the `events` channel,
//! so every open page learns of Berth's work as it learns of Docker's, without polling.
//!
//! A broadcast, not a log: the server's single listener keeps the replayable log (the
//! Docker host's event hub). Publishing never waits and never fails; with no listener
//! (tests of the engine alone) a notice is simply dropped.

use tokio::sync::broadcast;

/// Notices queued for a slow listener before the oldest are dropped. The server's
/// forwarder only moves them into the event hub, so it never comes near this.
const CAPACITY: usize = 1024;

/// What the notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Job,
    Backup,
    Plugin,
    Schedule,
}

impl Subject {
    /// The name clients see as the event's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Job => "job",
            Self::Backup => "backup",
            Self::Plugin => "plugin",
            Self::Schedule => "schedule",
        }
    }
}

/// One happening. Fields a subject has no use for stay `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: Subject,
    /// What happened: `queued`, `started`, `finished`, `created`, `deleted`, …
    pub action: &'static str,
    /// The object's id (job, backup, plugin or schedule).
    pub id: String,
    /// A readable name: the job's title, the backed-up target, the schedule's name.
    pub name: Option<String>,
    /// The state the action leaves the object in (a job's `complete`, `failed`, …).
    pub state: Option<String>,
    /// The kind of job, or of what a backup holds.
    pub kind: Option<String>,
    /// The related job (the one that made or deleted a backup).
    pub job: Option<String>,
    /// The outcome in words (a failed job's error).
    pub message: Option<String>,
    pub time_ms: u64,
}

impl Notice {
    /// A notice about `id` with nothing but its subject and action, stamped now.
    pub fn new(subject: Subject, action: &'static str, id: impl Into<String>) -> Self {
        Self {
            subject,
            action,
            id: id.into(),
            name: None,
            state: None,
            kind: None,
            job: None,
            message: None,
            time_ms: crate::time::now_ms(),
        }
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    /// An empty message is no message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        let message = message.into();
        self.message = (!message.is_empty()).then_some(message);
        self
    }
}

/// The publishing side; clones share one broadcast.
#[derive(Debug, Clone)]
pub struct Activity {
    sender: broadcast::Sender<Notice>,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            sender: broadcast::Sender::new(CAPACITY),
        }
    }
}

impl Activity {
    pub fn publish(&self, notice: Notice) {
        // Err only means nobody listens, which is fine.
        let _ = self.sender.send(notice);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_gets_what_is_published_after_it_joined() {
        let activity = Activity::default();
        activity.publish(Notice::new(Subject::Job, "queued", "j-early"));
        let mut listener = activity.subscribe();
        activity.publish(
            Notice::new(Subject::Job, "finished", "j-1")
                .state("failed")
                .message(""),
        );
        let got = listener.try_recv().expect("one notice");
        assert_eq!((got.id.as_str(), got.action), ("j-1", "finished"));
        assert_eq!(got.state.as_deref(), Some("failed"));
        assert_eq!(got.message, None, "an empty message is none");
        assert!(listener.try_recv().is_err(), "nothing before it joined");
    }
}
