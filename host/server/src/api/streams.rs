//! The binary stream channels: `container.logs` and `exec`. Both stop reading Docker's
//! stream while the client has no credit (the sink's queue is full), so a slow browser
//! slows the source instead of growing memory.

use berth_docker::hosts::Hosts;
use berth_protocol::api::catalogue::{ContainerLogs, ContainerStats, Exec};
use berth_protocol::api::streams::{ExecParams, ExitStatus, LogsParams, StatsParams};
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::frame::{MAX_PAYLOAD, Stream};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{LogsOptionsBuilder, ResizeExecOptionsBuilder};
use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

use super::containers::host_docker;
use crate::errors::WireResult;
use crate::errors::docker_call as docker_err;
use crate::ws::outbox::{ChannelSink, Input};
use std::net::SocketAddr;

use crate::ws::registry::{Auditor, ChannelEnd, Registry, bad_field};
use berth_docker::args as docker_args;
use berth_docker::stats::Filter;
use berth_identity::audit::AuditRecord;
use berth_identity::principal::Principal;
use bollard::Docker;

/// Most containers one `container.stats` channel may name.
const STATS_IDS_MAX: usize = 256;
/// Most `env` entries an exec may set.
const ENV_MAX: usize = 64;

fn split(o: LogOutput) -> (Stream, Bytes) {
    match o {
        LogOutput::StdErr { message } => (Stream::Stderr, message),
        LogOutput::StdOut { message } | LogOutput::Console { message } => (Stream::Stdout, message),
        LogOutput::StdIn { message } => (Stream::Stdout, message),
    }
}

type Chunk = Result<(Stream, Bytes), bollard::errors::Error>;

/// Docker's output as channel chunks, joining consecutive chunks of one stream that
/// are already waiting (up to one frame). Docker sends each log line as its own chunk;
/// a frame per line would cost a client a message (and the UI a render) per line, so a
/// 100,000-line tail would crawl. Only chunks already received are joined: a live
/// terminal's keystroke echo is never held back.
fn coalesced<S>(inner: S) -> impl futures_util::Stream<Item = Chunk> + Send
where
    S: futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send + Unpin,
{
    // (source, a chunk read ahead that did not fit the last batch, source ended)
    futures_util::stream::unfold(
        (inner, None::<Chunk>, false),
        |(mut inner, held, mut ended)| async move {
            let first = match held {
                Some(c) => c,
                None if ended => return None,
                None => inner.next().await?.map(split),
            };
            let (stream, data) = match first {
                Ok(c) => c,
                Err(e) => return Some((Err(e), (inner, None, true))),
            };
            let mut joined: Option<BytesMut> = None;
            let mut held = None;
            while let Some(next) = inner.next().now_or_never() {
                let Some(next) = next else {
                    ended = true;
                    break;
                };
                match next.map(split) {
                    Ok((s, d)) if s == stream => {
                        let len = joined.as_ref().map_or(data.len(), BytesMut::len);
                        if len + d.len() > MAX_PAYLOAD {
                            held = Some(Ok((s, d)));
                            break;
                        }
                        joined
                            .get_or_insert_with(|| BytesMut::from(&data[..]))
                            .extend_from_slice(&d);
                    }
                    other => {
                        held = Some(other);
                        break;
                    }
                }
            }
            let data = joined.map_or(data, BytesMut::freeze);
            Some((Ok((stream, data)), (inner, held, ended)))
        },
    )
}

/// Berth's own container: its logs and a shell in it are an admin's only (its logs
/// once held the generated first password; its filesystem holds the installation
/// key). The channel keeps needing the admin role, so a demotion closes it.
async fn own_container(
    principal: &Principal,
    h: &berth_docker::hosts::Host,
    docker: &Docker,
    id: &str,
    sink: &ChannelSink,
) -> Result<(), ErrorBody> {
    use berth_protocol::role::Role;
    if !h.is_self(docker, id).await.wire()? {
        return Ok(());
    }
    sink.require(Role::Admin);
    if principal.role.allows(Role::Admin) {
        Ok(())
    } else {
        Err(ErrorBody::new(
            ErrorCode::Forbidden,
            "this is Berth's own container: only an admin may read its logs or run commands in it",
        ))
    }
}

/// A session in the audit log (an exec, a stack action): one record when it starts
/// (who, on what, doing what) and one when it ends (how long it ran, its exit code) —
/// written even when the session is cut off (the channel closed, the connection gone),
/// since this guard is dropped with the producer.
pub(crate) struct SessionAudit {
    auditor: Auditor,
    rec: AuditRecord,
    started: std::time::Instant,
    pub(crate) exit_code: Option<i64>,
}

impl SessionAudit {
    pub(crate) fn start(caller: &Caller, method: &str, target: &str, doing: &str) -> Self {
        let (principal, client, auditor) = caller;
        let mut rec = AuditRecord::new(
            &principal.user,
            &client.ip().to_string(),
            method,
            Some(target.chars().take(200).collect()),
            "ok",
        );
        rec.token = principal.token_name().map(str::to_owned);
        rec.detail = Some(format!("started: {}", berth_core::text::head(doing, 500)));
        let (first, log) = (rec.clone(), auditor.clone());
        tokio::spawn(async move { log.record(first).await });
        Self {
            auditor: auditor.clone(),
            rec,
            started: std::time::Instant::now(),
            exit_code: None,
        }
    }
}

impl Drop for SessionAudit {
    fn drop(&mut self) {
        let mut rec = self.rec.clone();
        rec.time_ms = berth_identity::users::now_ms();
        rec.detail = Some(format!(
            "ended after {} s{}",
            self.started.elapsed().as_secs(),
            self.exit_code
                .map(|c| format!(", exit code {c}"))
                .unwrap_or_else(|| ", cut off".to_owned())
        ));
        let auditor = self.auditor.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { auditor.record(rec).await });
        }
    }
}

pub fn register(r: &mut Registry) {
    r.channel(ContainerStats, stats);
    r.channel(ContainerLogs, logs);
    r.channel(Exec, exec);
}

fn stats(
    hosts: Arc<Hosts>,
    params: StatsParams,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    if params.ids.len() > STATS_IDS_MAX {
        return Err(bad_field(
            "ids",
            format!("at most {STATS_IDS_MAX} containers"),
        ));
    }
    for id in &params.ids {
        docker_args::object("ids", id).wire()?;
    }
    let host = hosts.get(params.host.as_deref()).wire()?;
    host.stats
        .subscribe(Box::new(sink.clone()), Filter::new(params.ids));
    // The sampler feeds the channel; this task only lives as long as it.
    Ok(async move {
        sink.closed().await;
        Ok(None)
    })
}

fn logs(
    (hosts, principal): (Arc<Hosts>, Principal),
    params: LogsParams,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    docker_args::object("id", &params.id).wire()?;
    Ok(stream_logs(hosts, principal, params, sink))
}

async fn stream_logs(
    hosts: Arc<Hosts>,
    principal: Principal,
    params: LogsParams,
    sink: ChannelSink,
) -> ChannelEnd {
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    own_container(&principal, &h, &d, &params.id, &sink).await?;
    let mut o = LogsOptionsBuilder::default()
        .follow(params.follow)
        .stdout(true)
        .stderr(true)
        .timestamps(params.timestamps);
    o = match params.tail {
        Some(n) => o.tail(&n.to_string()),
        None => o.tail("all"),
    };
    if let Some(s) = params.since {
        o = o.since(s.clamp(0, i64::from(i32::MAX)) as i32);
    }
    let mut logs = std::pin::pin!(coalesced(d.logs(&params.id, Some(o.build()))));
    loop {
        tokio::select! {
            item = logs.next() => match item {
                None => return Ok(None),
                Some(Ok((stream, data))) => if sink.send_bytes(stream, data).await.is_err() { return Ok(None) },
                Some(Err(e)) => return Err(docker_err(&e, &format!("container {}", params.id))),
            },
            () = sink.closed() => return Ok(None),
        }
    }
}

fn exec(
    (hosts, principal, client, auditor): (Arc<Hosts>, Principal, SocketAddr, Auditor),
    params: ExecParams,
    sink: ChannelSink,
) -> Result<impl Future<Output = ChannelEnd> + use<>, ErrorBody> {
    docker_args::object("container", &params.container).wire()?;
    if params.env.len() > ENV_MAX
        || params
            .env
            .iter()
            .any(|e| !e.contains('=') || e.starts_with('='))
    {
        return Err(bad_field(
            "env",
            format!("at most {ENV_MAX} KEY=value entries"),
        ));
    }
    if params.cmd.iter().any(|c| c.contains('\0')) {
        return Err(bad_field("cmd", "arguments may not contain NUL"));
    }
    let Some(input) = sink.take_input() else {
        return Err(crate::ws::registry::internal(&"exec channel without input"));
    };
    Ok(run_exec(
        hosts,
        (principal, client, auditor),
        params,
        sink,
        input,
    ))
}

/// A started exec: its id, its output and its stdin.
struct Attached {
    id: String,
    output: std::pin::Pin<Box<dyn futures_util::Stream<Item = Chunk> + Send>>,
    stdin: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// Who runs an exec: the principal, their address, and where the session is audited.
pub(crate) type Caller = (Principal, SocketAddr, Auditor);

async fn run_exec(
    hosts: Arc<Hosts>,
    caller: Caller,
    params: ExecParams,
    sink: ChannelSink,
    input: tokio::sync::mpsc::Receiver<Input>,
) -> ChannelEnd {
    let (h, d) = host_docker(&hosts, params.host.as_deref()).await?;
    own_container(&caller.0, &h, &d, &params.container, &sink).await?;
    let cmd = if params.cmd.is_empty() {
        vec!["/bin/sh".to_owned()]
    } else {
        params.cmd.clone()
    };
    let exec_id = create_exec(&d, &params, cmd.clone()).await?;
    let mut audit = SessionAudit::start(&caller, "exec", &params.container, &cmd.join(" "));
    let attached = attach(&d, &params, exec_id).await?;
    // The initial size: bollard's exec options have no console_size, so resize right
    // after start (before the shell draws its first prompt).
    if let (Some(c), Some(r)) = (params.cols, params.rows)
        && params.tty
    {
        let o = ResizeExecOptionsBuilder::default()
            .w(c.into())
            .h(r.into())
            .build();
        let _ = d.resize_exec(&attached.id, o).await;
    }
    let exec_id = attached.id.clone();
    let what = format!("container {}", params.container);
    if !pump(&d, attached, input, &sink, &what).await? {
        return Ok(None);
    }
    let code = d
        .inspect_exec(&exec_id)
        .await
        .ok()
        .and_then(|i| i.exit_code);
    audit.exit_code = code;
    Ok(Some(
        serde_json::to_value(ExitStatus { exit_code: code }).expect("serialises"),
    ))
}

async fn create_exec(
    docker: &Docker,
    p: &ExecParams,
    cmd: Vec<String>,
) -> Result<String, ErrorBody> {
    let what = format!("container {}", p.container);
    let mut env = p.env.clone();
    if p.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm-256color".into());
    }
    let created = docker
        .create_exec(
            &p.container,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(p.tty),
                env: Some(env),
                cmd: Some(cmd),
                user: p.user.clone(),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| docker_err(&e, &what))?;
    Ok(created.id)
}

async fn attach(docker: &Docker, p: &ExecParams, exec_id: String) -> Result<Attached, ErrorBody> {
    let options = StartExecOptions {
        detach: false,
        tty: p.tty,
        output_capacity: None,
    };
    let started = docker
        .start_exec(&exec_id, Some(options))
        .await
        .map_err(|e| docker_err(&e, &format!("container {}", p.container)))?;
    let StartExecResults::Attached { output, input } = started else {
        return Err(ErrorBody::new(ErrorCode::Internal, "exec started detached"));
    };
    Ok(Attached {
        id: exec_id,
        output: Box::pin(coalesced(output)),
        stdin: input,
    })
}

/// Copies output to the channel and the channel's input to the exec until the output
/// ends (`true`) or the client is gone (`false`).
async fn pump(
    docker: &Docker,
    attached: Attached,
    mut input: tokio::sync::mpsc::Receiver<Input>,
    sink: &ChannelSink,
    what: &str,
) -> Result<bool, ErrorBody> {
    let Attached {
        id: exec_id,
        mut output,
        mut stdin,
    } = attached;
    let mut stdin_open = true;
    // Resizes may still come after stdin ended; only a gone connection ends input.
    let mut input_open = true;
    loop {
        tokio::select! {
            item = output.next() => match item {
                None => return Ok(true),
                Some(Ok((stream, data))) => if sink.send_bytes(stream, data).await.is_err() { return Ok(false) },
                Some(Err(e)) => return Err(docker_err(&e, what)),
            },
            msg = input.recv(), if input_open => match msg {
                Some(Input::Data(b)) => {
                    if stdin_open
                        && (stdin.write_all(&b).await.is_err() || stdin.flush().await.is_err())
                    {
                        stdin_open = false;
                    }
                }
                Some(Input::Resize { cols, rows }) => {
                    if cols > 0 && rows > 0 {
                        let o = ResizeExecOptionsBuilder::default().w(cols.into()).h(rows.into()).build();
                        let _ = docker.resize_exec(&exec_id, o).await;
                    }
                }
                Some(Input::Eof) => {
                    if stdin_open {
                        let _ = stdin.shutdown().await;
                        stdin_open = false;
                    }
                }
                None => input_open = false,
            },
            () = sink.closed() => return Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn out(s: &str) -> Result<LogOutput, bollard::errors::Error> {
        Ok(LogOutput::StdOut {
            message: Bytes::copy_from_slice(s.as_bytes()),
        })
    }

    #[tokio::test]
    async fn waiting_chunks_of_one_stream_join_into_frames() {
        let mut items: Vec<_> = (0..10_000).map(|i| out(&format!("{i:07}\n"))).collect();
        items.insert(
            3,
            Ok(LogOutput::StdErr {
                message: Bytes::from_static(b"oops\n"),
            }),
        );
        let chunks: Vec<(Stream, Bytes)> = coalesced(stream::iter(items))
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(chunks[0].0, Stream::Stdout);
        assert_eq!(&chunks[0].1[..], b"0000000\n0000001\n0000002\n");
        assert_eq!(
            (chunks[1].0, &chunks[1].1[..]),
            (Stream::Stderr, &b"oops\n"[..])
        );
        assert!(chunks.iter().all(|(_, d)| d.len() <= MAX_PAYLOAD));
        // 79,976 bytes of stdout after the stderr line: three frames, not 9,997.
        assert_eq!(chunks.len(), 2 + 3);
        let all: Vec<u8> = chunks[2..].iter().flat_map(|(_, d)| d.to_vec()).collect();
        assert_eq!(all.len(), (10_000 - 3) * 8, "nothing lost or repeated");
    }

    #[tokio::test]
    async fn an_error_after_data_is_delivered_after_it() {
        let items = vec![
            out("a\n"),
            Err(bollard::errors::Error::DockerStreamError {
                error: "gone".into(),
            }),
        ];
        let got: Vec<_> = coalesced(stream::iter(items)).collect().await;
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok() && got[1].is_err());
    }
}
