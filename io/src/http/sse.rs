//! Server-sent events (`text/event-stream`): a response whose body is fed through a bounded
//! channel, with a keep-alive comment whenever nothing was sent for a while. How a stream ends
//! (`data: [DONE]`, a last event) is the handler's business; dropping the [`SseSender`] ends
//! the body. A client that goes away drops the body: sends then fail with [`Disconnected`] and
//! [`SseSender::closed`] resolves, so a handler can abort the work behind the stream.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_TYPE};
use hyper::Response;
use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior};

use super::Body;

/// Events buffered between a handler and a slow client before sends wait.
const QUEUE: usize = 64;
/// What the stream carries when it has been idle for the keep-alive period.
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// The client is gone; stop producing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the client closed the event stream")]
pub(crate) struct Disconnected;

/// The handler's end of an event stream.
#[derive(Debug)]
pub(crate) struct SseSender {
    tx: mpsc::Sender<Bytes>,
}

/// A `200 text/event-stream` response (`Cache-Control: no-cache`, `Connection: keep-alive`)
/// and the sender that feeds it; an idle stream gets `: keep-alive` every `keep_alive`.
pub(crate) fn response(keep_alive: Duration) -> (SseSender, Response<Body>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut ticks = tokio::time::interval(keep_alive);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick of an interval is immediate; the first keep-alive is one period away.
    ticks.reset();
    let mut res = Response::new(SseBody { rx, ticks }.boxed_unsync());
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
    (SseSender { tx }, res)
}

impl SseSender {
    /// `data: …` lines (one per line of `data`), then the blank line.
    pub(crate) async fn data(&self, data: &str) -> Result<(), Disconnected> {
        self.send(encode(None, data)).await
    }

    /// `event: <name>` and the `data: …` lines.
    pub(crate) async fn event(&self, name: &str, data: &str) -> Result<(), Disconnected> {
        self.send(encode(Some(name), data)).await
    }

    /// Resolves once the client is gone.
    pub(crate) async fn closed(&self) {
        self.tx.closed().await;
    }

    async fn send(&self, bytes: Bytes) -> Result<(), Disconnected> {
        self.tx.send(bytes).await.map_err(|_| Disconnected)
    }
}

fn encode(event: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 16);
    if let Some(name) = event {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

struct SseBody {
    rx: mpsc::Receiver<Bytes>,
    ticks: Interval,
}

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(bytes)) => {
                this.ticks.reset();
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.ticks.poll_tick(cx) {
                Poll::Ready(_) => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(KEEP_ALIVE))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn events_are_framed_line_by_line() {
        assert_eq!(&encode(None, "[DONE]")[..], b"data: [DONE]\n\n");
        assert_eq!(&encode(Some("delta"), "a\r\nb")[..], b"event: delta\ndata: a\ndata: b\n\n");
    }
}
