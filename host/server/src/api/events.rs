//! The `events` channel and `hosts.list`.

use berth_docker::hosts::Hosts;
use berth_protocol::api::Empty;
use berth_protocol::api::catalogue::{Events, HostsList};
use berth_protocol::api::events::{EventsCursor, EventsParams};
use berth_protocol::api::hosts::{HostList, HostStatus};
use berth_protocol::error::{ErrorBody, ErrorCode};
use std::sync::Arc;

use crate::errors::WireResult;
use crate::ws::outbox::ChannelSink;
use crate::ws::registry::{ChannelEnd, Registry};

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
    let subscribed = host.events.subscribe(
        Box::new(sink.clone()),
        params.filters,
        params.since.as_deref(),
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
