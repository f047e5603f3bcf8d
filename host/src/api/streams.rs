//! The binary stream channels: `container.logs` and `exec`. Both stop reading Docker's
//! stream while the client has no credit (the sink's queue is full), so a slow browser
//! slows the source instead of growing memory.

use berth_protocol::api::catalogue::{ContainerLogs, Exec};
use berth_protocol::api::streams::ExitStatus;
use berth_protocol::error::{ErrorBody, ErrorCode};
use berth_protocol::frame::Stream;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{LogsOptionsBuilder, ResizeExecOptionsBuilder};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::containers::host_docker;
use super::docker_args;
use crate::docker::errors::docker_err;
use crate::ws::outbox::{ChannelSink, Input};
use crate::ws::registry::{Registry, bad_field};

/// Most `env` entries an exec may set.
const ENV_MAX: usize = 64;

fn split(o: LogOutput) -> (Stream, bytes::Bytes) {
    match o {
        LogOutput::StdErr { message } => (Stream::Stderr, message),
        LogOutput::StdOut { message } | LogOutput::Console { message } => (Stream::Stdout, message),
        LogOutput::StdIn { message } => (Stream::Stdout, message),
    }
}

/// Forwards Docker's output into the channel; `Ok(false)` when the channel closed.
async fn forward(sink: &ChannelSink, o: LogOutput) -> bool {
    let (stream, data) = split(o);
    sink.send_bytes(stream, data).await.is_ok()
}

pub fn register(r: &mut Registry) {
    r.channel(ContainerLogs, |call, p, sink| {
        docker_args::object("id", &p.id)?;
        Ok(async move {
            let (_, d) = host_docker(&call, p.host.as_deref()).await?;
            let mut o = LogsOptionsBuilder::default()
                .follow(p.follow)
                .stdout(true)
                .stderr(true)
                .timestamps(p.timestamps);
            o = match p.tail {
                Some(n) => o.tail(&n.to_string()),
                None => o.tail("all"),
            };
            if let Some(s) = p.since {
                o = o.since(s.clamp(0, i64::from(i32::MAX)) as i32);
            }
            let mut logs = d.logs(&p.id, Some(o.build()));
            loop {
                tokio::select! {
                    item = logs.next() => match item {
                        None => return Ok(None),
                        Some(Ok(out)) => if !forward(&sink, out).await { return Ok(None) },
                        Some(Err(e)) => return Err(docker_err(&e, &format!("container {}", p.id))),
                    },
                    () = sink.closed() => return Ok(None),
                }
            }
        })
    });

    r.channel(Exec, |call, p, sink| {
        docker_args::object("container", &p.container)?;
        if p.env.len() > ENV_MAX || p.env.iter().any(|e| !e.contains('=') || e.starts_with('=')) {
            return Err(bad_field("env", format!("at most {ENV_MAX} KEY=value entries")));
        }
        if p.cmd.iter().any(|c| c.contains('\0')) {
            return Err(bad_field("cmd", "arguments may not contain NUL"));
        }
        let Some(mut input) = sink.take_input() else {
            return Err(crate::ws::registry::internal(&"exec channel without input"));
        };
        Ok(async move {
            let (_, d) = host_docker(&call, p.host.as_deref()).await?;
            let what = format!("container {}", p.container);
            let cmd = if p.cmd.is_empty() {
                vec!["/bin/sh".to_owned()]
            } else {
                p.cmd.clone()
            };
            let mut env = p.env.clone();
            if p.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
                env.push("TERM=xterm-256color".into());
            }
            let created = d
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
            let exec_id = created.id;
            let started = d
                .start_exec(
                    &exec_id,
                    Some(StartExecOptions {
                        detach: false,
                        tty: p.tty,
                        output_capacity: None,
                    }),
                )
                .await
                .map_err(|e| docker_err(&e, &what))?;
            let StartExecResults::Attached {
                mut output,
                input: mut stdin,
            } = started
            else {
                return Err(ErrorBody::new(ErrorCode::Internal, "exec started detached"));
            };
            // The initial size: bollard's exec options have no console_size, so resize
            // right after start (before the shell draws its first prompt).
            if let (Some(c), Some(r)) = (p.cols, p.rows)
                && p.tty
            {
                let o = ResizeExecOptionsBuilder::default().w(c.into()).h(r.into()).build();
                let _ = d.resize_exec(&exec_id, o).await;
            }
            let mut stdin_open = true;
            // Resizes may still come after stdin ended; only a gone connection ends input.
            let mut input_open = true;
            loop {
                tokio::select! {
                    item = output.next() => match item {
                        None => break,
                        Some(Ok(out)) => if !forward(&sink, out).await { return Ok(None) },
                        Some(Err(e)) => return Err(docker_err(&e, &what)),
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
                                let _ = d.resize_exec(&exec_id, o).await;
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
                    () = sink.closed() => return Ok(None),
                }
            }
            let code = d
                .inspect_exec(&exec_id)
                .await
                .ok()
                .and_then(|i| i.exit_code);
            Ok(Some(
                serde_json::to_value(ExitStatus { exit_code: code }).expect("serialises"),
            ))
        })
    });
}
