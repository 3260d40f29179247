//! Request ids and the shape of every error response.

use std::{
    cell::{Cell, RefCell},
    future::Future,
    io,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    body::{BodySize, EitherBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    rt::time::{sleep, Sleep},
    web, HttpMessage, ResponseError,
};
use futures_util::Stream;

use crate::error::ApiError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of this request: the caller's `X-Request-Id` if sensible, else a new UUIDv7.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Accepts or generates the request id, stores it for handlers and logs, echoes it.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// What a client may send: the size of its head, and how long its body may take.
/// Read from the configuration once per worker.
#[derive(Clone, Copy)]
pub struct TransportLimits {
    pub max_header_bytes: usize,
    pub max_head_bytes: usize,
    pub body_timeout: Duration,
}

impl TransportLimits {
    /// A 431 problem if the head is larger than allowed. actix itself refuses heads
    /// above 128 KiB before any of our code runs; this holds them to our own limits.
    fn check_head(&self, req: &ServiceRequest) -> Result<(), ApiError> {
        // As sent: `METHOD target HTTP/1.1\r\n`, then `name: value\r\n` per header.
        let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
        let mut head = req.method().as_str().len() + target + 12;
        for (name, value) in req.headers() {
            let size = name.as_str().len() + value.len();
            if size > self.max_header_bytes {
                return Err(ApiError::HeadersTooLarge(format!(
                    "The `{name}` header is larger than {} bytes.",
                    self.max_header_bytes
                )));
            }
            head += size + 4;
        }
        if head > self.max_head_bytes {
            return Err(ApiError::HeadersTooLarge(format!(
                "The request head is larger than {} bytes.",
                self.max_head_bytes
            )));
        }
        Ok(())
    }
}

/// Holds clients to [`TransportLimits`]: an oversized head answers 431, and a body that
/// has not fully arrived within the deadline answers 408 and closes the connection.
///
/// actix-http has no deadline for request bodies, so the payload is wrapped in one.
/// The original payload is also kept open until the response is written: actix then
/// closes a connection whose body was not read to the end, instead of draining a
/// trickling chunked body for as long as the client cares to send it.
pub async fn transport_limits<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<UntilWritten<EitherBody<B>>>, actix_web::Error> {
    let limits = req
        .app_data::<web::Data<TransportLimits>>()
        .map(|l| *l.get_ref())
        .ok_or_else(|| ApiError::Internal("transport limits missing".into()))?;
    let payload = match req.take_payload() {
        Payload::None => None,
        payload => Some(Rc::new(RefCell::new(payload))),
    };
    let held = payload.clone();
    if let Err(refusal) = limits.check_head(&req) {
        let res = req.into_response(refusal.error_response());
        return Ok(res.map_body(|_, body| UntilWritten {
            body: EitherBody::right(body),
            _payload: held,
            _busy: None,
        }));
    }
    let timed_out = Rc::new(Cell::new(false));
    if let Some(inner) = payload {
        req.set_payload(Payload::Stream {
            payload: Box::pin(BodyDeadline {
                inner,
                deadline: Box::pin(sleep(limits.body_timeout)),
                timed_out: Rc::clone(&timed_out),
            }),
        });
    }
    let res = next.call(req).await?;
    let res = if timed_out.get() {
        let (req, _) = res.into_parts();
        let secs = limits.body_timeout.as_secs();
        ServiceResponse::new(req, ApiError::RequestTimeout(secs).error_response())
            .map_into_right_body()
    } else {
        res.map_into_left_body()
    };
    Ok(res.map_body(|_, body| UntilWritten {
        body,
        _payload: held,
        _busy: None,
    }))
}

/// A request body that fails with a timeout once its deadline passes.
struct BodyDeadline {
    inner: Rc<RefCell<Payload>>,
    deadline: Pin<Box<Sleep>>,
    timed_out: Rc<Cell<bool>>,
}

impl Stream for BodyDeadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.timed_out.get() {
            return Poll::Ready(None);
        }
        // What has arrived counts even if the deadline has just passed.
        let polled = Pin::new(&mut *self.inner.borrow_mut()).poll_next(cx);
        if polled.is_ready() {
            return polled;
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.timed_out.set(true);
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body deadline passed",
            )))));
        }
        Poll::Pending
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps the request's payload open (and the connection marked
    /// busy) until it is written.
    pub struct UntilWritten<B> {
        #[pin]
        body: B,
        _payload: Option<Rc<RefCell<Payload>>>,
        _busy: Option<Busy>,
    }
}

impl<B: MessageBody> MessageBody for UntilWritten<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        self.project().body.poll_next(cx)
    }
}

/// Watches one connection between requests. actix-http times the head of a
/// connection's first request only; a client that, after one answer, trickles the next
/// head one byte at a time would otherwise hold the connection forever. The watch shuts
/// the socket down once it has been between requests longer than the keep-alive plus
/// the head deadline (an honest idle client is closed by the keep-alive before then).
pub struct ConnectionWatch(Rc<WatchState>);

struct WatchState {
    /// When the last answer was written (or the connection opened); `None` while a
    /// request is being served.
    idle_since: Cell<Option<std::time::Instant>>,
    /// A second handle on the socket, only to shut it down. Dropped with the connection.
    socket: std::net::TcpStream,
}

impl ConnectionWatch {
    /// Starts watching a newly accepted connection (from `HttpServer::on_connect`).
    pub fn start(connection: &dyn std::any::Any, limit: Duration) -> Option<Self> {
        use std::os::fd::AsFd;
        let stream = connection.downcast_ref::<actix_web::rt::net::TcpStream>()?;
        let socket = std::net::TcpStream::from(stream.as_fd().try_clone_to_owned().ok()?);
        let state = Rc::new(WatchState {
            idle_since: Cell::new(Some(std::time::Instant::now())),
            socket,
        });
        let watched = Rc::downgrade(&state);
        actix_web::rt::spawn(async move {
            loop {
                sleep(Duration::from_secs(1)).await;
                // Gone: the connection has closed, and its socket with it.
                let Some(state) = watched.upgrade() else {
                    break;
                };
                if state.idle_since.get().is_some_and(|t| t.elapsed() > limit) {
                    let _ = state.socket.shutdown(std::net::Shutdown::Both);
                    break;
                }
            }
        });
        Some(ConnectionWatch(state))
    }
}

/// Marks the connection busy for the request, and idle again once its answer is written.
pub async fn connection_activity<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<UntilWritten<B>>, actix_web::Error> {
    let watch = req.conn_data::<ConnectionWatch>().map(|w| Rc::clone(&w.0));
    if let Some(w) = &watch {
        w.idle_since.set(None);
    }
    let res = next.call(req).await?;
    Ok(res.map_body(|_, body| UntilWritten {
        body,
        _payload: None,
        _busy: watch.map(Busy),
    }))
}

/// Marks the connection idle when dropped, i.e. when the answer has been written.
struct Busy(Rc<WatchState>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.idle_since.set(Some(std::time::Instant::now()));
    }
}
