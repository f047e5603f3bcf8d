//! Byte channels (terminals, logs) as `AsyncRead` + `AsyncWrite`.

use std::pin::Pin;
use std::task::{Context, Poll};

use berth_protocol::frame::{DataFrame, MAX_PAYLOAD, Stream};
use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use crate::client::{ChanEvent as Event, Client};

/// A binary channel. Reading yields stdout and stderr bytes in arrival order
/// ([`BinaryChannel::last_stream`] says which); writing sends stdin; shutting down the
/// writer sends `eof`. Credit (bytes) is returned as bytes are read.
#[derive(Debug)]
pub struct BinaryChannel {
    client: Client,
    ch: u32,
    rx: mpsc::UnboundedReceiver<Event>,
    window: u32,
    unreturned: u32,
    buf: Bytes,
    last_stream: Option<Stream>,
    close_payload: Option<serde_json::Value>,
    error: Option<berth_protocol::error::ErrorBody>,
    done: bool,
}

impl BinaryChannel {
    pub(crate) fn new(
        client: Client,
        ch: u32,
        rx: mpsc::UnboundedReceiver<Event>,
        window: u32,
    ) -> Self {
        Self {
            client,
            ch,
            rx,
            window,
            unreturned: 0,
            buf: Bytes::new(),
            last_stream: None,
            close_payload: None,
            error: None,
            done: false,
        }
    }

    pub fn id(&self) -> u32 {
        self.ch
    }

    /// The stream (stdout or stderr) of the bytes read last.
    pub fn last_stream(&self) -> Option<Stream> {
        self.last_stream
    }

    /// The `p` of the server's `close` (e.g. `{"exit_code":0}`), once reading hit EOF.
    pub fn close_payload(&self) -> Option<&serde_json::Value> {
        self.close_payload.as_ref()
    }

    /// The error the channel closed with, if any.
    pub fn close_error(&self) -> Option<&berth_protocol::error::ErrorBody> {
        self.error.as_ref()
    }

    /// Tells a terminal its new size.
    pub fn resize(&self, cols: u16, rows: u16) {
        let _ = self
            .client
            .send_raw(&berth_protocol::wire::ClientMsg::Resize {
                ch: self.ch,
                cols,
                rows,
            });
    }
}

impl AsyncRead for BinaryChannel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.buf.is_empty() && !self.done {
            match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Event::Binary(stream, b))) => {
                    self.last_stream = Some(stream);
                    self.buf = b;
                }
                Poll::Ready(Some(Event::Closed(p, e))) => {
                    self.close_payload = p;
                    self.error = e;
                    self.done = true;
                }
                Poll::Ready(Some(_)) => {}
                Poll::Ready(None) => self.done = true,
            }
        }
        let n = self.buf.len().min(out.remaining());
        out.put_slice(&self.buf[..n]);
        self.buf.advance(n);
        self.unreturned += n as u32;
        if self.unreturned >= (self.window / 2).max(1) {
            let c = std::mem::take(&mut self.unreturned);
            self.client.credit(self.ch, None, Some(c));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for BinaryChannel {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = data.len().min(MAX_PAYLOAD);
        let frame = DataFrame {
            ch: self.ch,
            stream: Stream::Stdin,
            payload: &data[..n],
        }
        .encode();
        match self.client.send_binary(frame) {
            Ok(()) => Poll::Ready(Ok(n)),
            Err(e) => Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, e))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let _ = self
            .client
            .send_raw(&berth_protocol::wire::ClientMsg::Eof { ch: self.ch });
        Poll::Ready(Ok(()))
    }
}

impl Drop for BinaryChannel {
    fn drop(&mut self) {
        if !self.done {
            self.client.close_channel(self.ch);
        }
    }
}
