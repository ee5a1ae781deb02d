//! The HTTP endpoint: `GET /metrics`, `GET /healthz` and `GET /readyz` (and `HEAD`), nothing
//! else, on a socket of its own.
//!
//! A request flood must not slow article processing, nor grow the daemon without bound. So the
//! endpoint has a fixed set of threads, none of them a worker's:
//!
//! - one accept thread, which hands each connection to a bounded queue — and answers `503` to
//!   one that finds the queue full, without reading from it or waiting on it;
//! - [`SERVING_THREADS`] serving threads, each reading one request per connection within
//!   [`REQUEST_DEADLINE`] for the whole request head (a client trickling bytes is cut off),
//!   answering, and closing the connection.
//!
//! On Linux these threads also run at a lower priority (nice +10) than the workers, so that
//! even a busy scraper takes CPU from articles last.
//!
//! Why no server crate: tiny_http, the usual small blocking one, starts a thread per
//! connection and sets no read timeout, so idle connections hold a thread each for as long as
//! they stay open. What is here is `std::net` and `httparse` (the parser hyper and ureq use,
//! already in the dependency tree) reading the request head: routing three paths needs no more.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{CONTENT_TYPE, Check, Metrics};

/// Threads answering requests: two, so that one slow client does not hold up a scrape.
const SERVING_THREADS: usize = 2;
/// Connections accepted and waiting for a serving thread; more are answered `503` at once.
const QUEUE: usize = 32;
/// The time a client has to send its request head, and then to take the answer.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
/// The longest request head read; `GET /metrics` from any scraper is far shorter.
const MAX_HEAD: usize = 8 << 10;
const MAX_HEADERS: usize = 64;

/// Why the endpoint cannot start: the daemon does not start either (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("http.listen: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the HTTP endpoint's threads: {0}")]
    Thread(#[source] io::Error),
}

/// Listens on `addr` and serves `metrics` from threads of its own, for the life of the
/// process. Returns the address bound (the port chosen, for port 0), which is also logged as
/// `serving metrics on http://ADDR`.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr, HttpError> {
    let bind = |source| HttpError::Bind { addr, source };
    let listener = TcpListener::bind(addr).map_err(bind)?;
    let bound = listener.local_addr().map_err(bind)?;
    let (queue, connections) = mpsc::sync_channel::<TcpStream>(QUEUE);
    let connections = Arc::new(Mutex::new(connections));
    for i in 0..SERVING_THREADS {
        let (connections, metrics) = (connections.clone(), metrics.clone());
        std::thread::Builder::new()
            .name(format!("newswatch-http-{i}"))
            .spawn(move || {
                lower_priority();
                while let Some(stream) = next(&connections) {
                    answer(stream, &metrics);
                }
            })
            .map_err(HttpError::Thread)?;
    }
    std::thread::Builder::new()
        .name("newswatch-http-accept".into())
        .spawn(move || {
            lower_priority();
            accept(&listener, &queue);
        })
        .map_err(HttpError::Thread)?;
    tracing::info!("serving metrics on http://{bound}");
    if !bound.ip().is_loopback() {
        tracing::warn!(
            "the metrics endpoint listens on {bound}, not on loopback: whoever can reach it can read the metrics (rule and output names)"
        );
    }
    Ok(bound)
}

fn next(connections: &Mutex<Receiver<TcpStream>>) -> Option<TcpStream> {
    connections
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .recv()
        .ok()
}

/// Hands each connection to the serving threads, or turns it away when they are behind.
fn accept(listener: &TcpListener, queue: &SyncSender<TcpStream>) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => match queue.try_send(stream) {
                Ok(()) => {}
                Err(TrySendError::Full(stream)) => turn_away(stream),
                Err(TrySendError::Disconnected(_)) => return,
            },
            // Out of descriptors, a connection reset before it was taken: not a reason to stop
            // serving, but a pause, so that a lasting one does not spin.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Answers `503` without waiting: the socket's send buffer takes the few bytes, or they are
/// dropped with the connection.
fn turn_away(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let busy = Response::text(503, "busy: too many requests at once\n");
    let _ = stream.write_all(&busy.bytes());
}

/// Runs the HTTP threads after the workers when the CPU is short (on Linux, where a nice value
/// is per thread).
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: setpriority only reads its arguments; `who` 0 is the calling thread on Linux.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// A request head as far as routing needs it.
struct Head {
    method: String,
    path: String,
}

/// Why no request head was read.
enum Unread {
    /// The client went away or took too long: there is no one to answer.
    Gone,
    TooLarge,
    Malformed,
}

/// Reads one request and answers it; the connection is closed after the answer.
fn answer(mut stream: TcpStream, metrics: &Metrics) {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let response = match read_head(&mut stream, deadline) {
        Ok(head) => route(&head, metrics),
        Err(Unread::Gone) => return,
        Err(Unread::TooLarge) => Response::text(431, "request head too large\n"),
        Err(Unread::Malformed) => Response::text(400, "malformed request\n"),
    };
    let _ = stream.set_write_timeout(Some(REQUEST_DEADLINE));
    let _ = stream.write_all(&response.bytes());
    let _ = stream.shutdown(Shutdown::Write);
}

/// Reads the request head from `stream`, in whatever pieces it comes, until `deadline`.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Head, Unread> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Unread::Gone);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| Unread::Gone)?;
        match stream.read(&mut buf[len..]) {
            Ok(0) => return Err(Unread::Gone),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(Unread::Gone),
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => {
                return Ok(Head {
                    method: request.method.unwrap_or_default().to_string(),
                    path: request.path.unwrap_or_default().to_string(),
                });
            }
            Ok(httparse::Status::Partial) if len == buf.len() => return Err(Unread::TooLarge),
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(Unread::TooLarge),
            Err(_) => return Err(Unread::Malformed),
        }
    }
}

/// The answer to a request.
fn route(head: &Head, metrics: &Metrics) -> Response {
    let head_only = match head.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut r = Response::text(405, "only GET and HEAD\n");
            r.allow = true;
            return r;
        }
    };
    let path = head.path.split(['?', '#']).next().unwrap_or_default();
    let mut response = match path {
        "/metrics" => Response {
            status: 200,
            content_type: CONTENT_TYPE,
            body: metrics.render().into_bytes(),
            allow: false,
            head_only: false,
        },
        "/healthz" => Response::check(metrics.liveness()),
        "/readyz" => Response::check(metrics.readiness()),
        _ => Response::text(
            404,
            "not found: /metrics, /healthz and /readyz are served\n",
        ),
    };
    response.head_only = head_only;
    response
}

struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    /// Send `Allow: GET, HEAD` (with 405).
    allow: bool,
    /// Answer a `HEAD`: the head of the response without its body.
    head_only: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            allow: false,
            head_only: false,
        }
    }

    fn check(check: Check) -> Response {
        let status = if check.ok { 200 } else { 503 };
        Response::text(status, &format!("{}\n", check.message))
    }

    fn bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Service Unavailable",
        };
        let allow = if self.allow {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n{allow}Connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !self.head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(addr: SocketAddr, raw: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_three_paths_to_get_and_head_only() {
        let metrics = Arc::new(Metrics::new());
        let addr = serve("127.0.0.1:0".parse().unwrap(), metrics.clone()).unwrap();
        let ok = request(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("# EOF\n"), "{ok}");
        let head = request(addr, "HEAD /metrics?x=1 HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "no body: {head}");
        let not_ready = request(addr, "GET /readyz HTTP/1.0\r\n\r\n");
        assert!(not_ready.starts_with("HTTP/1.1 503 "), "{not_ready}");
        assert!(request(addr, "GET /healthz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 "));
        assert!(request(addr, "GET /other HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        let post = request(addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        assert!(post.contains("\r\nAllow: GET, HEAD\r\n"), "{post}");
        assert!(request(addr, "\u{1}\u{2} nonsense\r\n\r\n").starts_with("HTTP/1.1 400 "));
        let huge = format!(
            "GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        assert!(request(addr, &huge).starts_with("HTTP/1.1 431 "));
    }

    #[test]
    fn a_client_that_sends_nothing_is_cut_off() {
        let addr = serve("127.0.0.1:0".parse().unwrap(), Arc::new(Metrics::new())).unwrap();
        let started = Instant::now();
        let mut idle = TcpStream::connect(addr).unwrap();
        let mut out = Vec::new();
        idle.read_to_end(&mut out).unwrap();
        assert!(out.is_empty());
        let took = started.elapsed();
        assert!(
            took >= REQUEST_DEADLINE - Duration::from_millis(100) && took < Duration::from_secs(5),
            "{took:?}"
        );
    }
}
