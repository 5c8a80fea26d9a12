//! Request bodies a handler answered without reading (a 415, a 401, a 429 before the body).
//!
//! HTTP/1 keeps a connection for the next request only once this request's body has been read
//! off it. Left unread, hyper drains what has already arrived and otherwise closes the
//! connection after the answer, without saying `Connection: close`: a keep-alive client that
//! sent its body a moment after the headers then loses its next request on that connection.
//! So the rest of a small body is read and dropped after the answer is ready; one too large or
//! too slow to drain is answered with `Connection: close`, which the client can act on.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

use super::BODY_LIMIT;

/// How long the rest of an unread body may take to arrive before the connection is given up.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// The request body, shared between the handler (which may read it) and this middleware
/// (which reads what the handler left).
struct Shared {
    body: Mutex<Body>,
    done: AtomicBool,
}

struct Tracked(Arc<Shared>);

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Ok(mut body) = self.0.body.lock() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(&mut *body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || body.is_end_stream() {
            self.0.done.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.0.done.load(Ordering::Acquire)
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .body
            .lock()
            .map_or_else(|_| SizeHint::default(), |body| body.size_hint())
    }
}

/// Middleware: drains what the handler left of the body, or closes the connection.
pub async fn finish_body(req: Request, next: Next) -> Response {
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let shared = Arc::new(Shared {
        body: Mutex::new(body),
        done: AtomicBool::new(false),
    });
    let req = Request::from_parts(parts, Body::new(Tracked(shared.clone())));
    let mut response = next.run(req).await;
    if !shared.done.load(Ordering::Acquire) {
        let drained = tokio::time::timeout(DRAIN_WAIT, drain(&shared, BODY_LIMIT)).await;
        if drained != Ok(true) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}

/// Reads and drops the rest of the body, up to `limit` bytes. True: all of it was read.
async fn drain(shared: &Shared, limit: usize) -> bool {
    let mut read = 0usize;
    std::future::poll_fn(|cx| {
        loop {
            let Ok(mut body) = shared.body.lock() else {
                return Poll::Ready(false);
            };
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(None) => return Poll::Ready(true),
                Poll::Ready(Some(Ok(frame))) => {
                    read += frame.data_ref().map_or(0, Bytes::len);
                    if read > limit {
                        return Poll::Ready(false);
                    }
                }
                Poll::Ready(Some(Err(_))) => return Poll::Ready(false),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await
}
