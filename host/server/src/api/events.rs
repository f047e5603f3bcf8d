//! The `events` channel and `hosts.list`; Berth's own activity turned into events.

use berth_core::activity::Notice;
use berth_docker::hosts::Hosts;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{Events, HostsList};
use berth_protocol::api::events::{Event, EventsCursor, EventsParams};
use berth_protocol::api::hosts::{HostList, HostStatus};
use berth_protocol::error::{ErrorBody, ErrorCode};
use std::sync::Arc;

use crate::errors::WireResult;
use crate::ws::outbox::ChannelSink;
use crate::ws::registry::{ChannelEnd, Registry};

/// The most events a channel that opens is replayed (its queue holds 1,024).
const MAX_REPLAY: usize = 1_000;

fn overflow_error() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Overflow,
        "events were lost for this channel; reopen with the cursor (after refetching state if the cursor is too old)",
    )
}

/// Ends an `events` channel with `overflow` and the cursor to resume from.
fn close_overflow(sink: &ChannelSink, cursor: String) {
    let p = serde_json::to_value(EventsCursor { cursor }).expect("cursor serialises");
    sink.finish(Some(p), Some(overflow_error()));
}

pub fn register(r: &mut Registry) {
    r.method(HostsList, hosts_list);

    r.channel(Events, events);
}

/// Docker's events from the host's shared watcher, replayed from `since`; ends with
/// `overflow` and the cursor to resume from when `since` is too old or this channel
/// falls behind.
fn events(
    hosts: Arc<Hosts>,
    params: EventsParams,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    let host = hosts.get(params.host.as_deref()).wire()?;
    // Within the log, and within what the channel's queue takes before it overflows.
    let replay = params.replay.map_or(0, |n| n as usize).min(MAX_REPLAY);
    let subscribed = host.events.subscribe(
        Box::new(sink.clone()),
        params.filters,
        params.since.as_deref(),
        replay,
    );
    let overflowed = match subscribed {
        Ok(overflowed) => Some(overflowed),
        Err(cursor) => {
            close_overflow(&sink, cursor);
            None
        }
    };
    Ok(async move {
        let Some(overflowed) = overflowed else {
            return Ok(None);
        };
        tokio::select! {
            cursor = overflowed => {
                if let Ok(cursor) = cursor {
                    close_overflow(&sink, cursor);
                }
            }
            () = sink.closed() => {}
        }
        Ok(None)
    })
}

async fn hosts_list(hosts: Arc<Hosts>, _: Empty) -> Result<HostList, ErrorBody> {
    let mut statuses = Vec::new();
    for h in hosts.all() {
        let probe = h.conn.probe().await;
        statuses.push(HostStatus {
            name: h.name.clone(),
            endpoint: h.conn.describe(),
            healthy: probe.is_ok(),
            error: probe.as_ref().err().map(ToString::to_string),
            engine_version: probe.as_ref().ok().map(|e| e.version.clone()),
            api_version: probe.ok().map(|e| e.api_version),
        });
    }
    Ok(HostList { hosts: statuses })
}

/// Moves Berth's own activity (jobs, backups, plugins, schedules) into every host's
/// event log, so `events` channels carry it beside Docker's, with the same cursors and
/// replay. Ends when the engine is gone (its broadcast closes).
pub async fn forward_activity(
    hosts: Arc<Hosts>,
    mut notices: tokio::sync::broadcast::Receiver<Notice>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match notices.recv().await {
            Ok(notice) => {
                let event = event_of(notice);
                for host in hosts.all() {
                    host.events.publish(event.clone());
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "activity events dropped: the forwarder fell behind");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

fn event_of(n: Notice) -> Event {
    Event {
        typ: n.subject.as_str().to_owned(),
        action: n.action.to_owned(),
        id: n.id,
        name: n.name,
        stack: None,
        state: n.state,
        exit_code: None,
        kind: n.kind,
        job: n.job,
        message: n.message,
        helper: false,
        time: berth_protocol::api::rfc3339(n.time_ms),
        cursor: String::new(),
    }
}
