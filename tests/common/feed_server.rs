//! A real HTTP server on 127.0.0.1 serving feeds to the binary under test: each path answers as
//! the test sets it (a feed with its ETag, a status, a redirect, no answer at all), and every
//! request is recorded with its time and headers.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a path answers.
#[derive(Clone, Debug)]
pub enum Serve {
    /// The body, with an ETag of its content; `If-None-Match` with that ETag gets 304. Gzipped
    /// when the client accepts it and `gzip` is set.
    Feed { body: String, gzip: bool },
    /// The body, always in full, without validators.
    Plain(String),
    /// A status with extra header lines (each ending in `\r\n`) and a body.
    Status {
        code: u16,
        headers: String,
        body: String,
    },
    /// A redirect with this status to this path of the server.
    Redirect { code: u16, to: String },
    /// Reads the request and never answers.
    Hang,
}

/// One request received.
#[derive(Clone, Debug)]
pub struct Request {
    pub at: Instant,
    pub path: String,
    /// Header names in lowercase.
    pub headers: HashMap<String, String>,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Book {
    routes: HashMap<String, Vec<Serve>>,
    requests: Vec<Request>,
}

/// The server; it runs until the test process ends.
pub struct FeedServer {
    pub port: u16,
    book: Arc<Mutex<Book>>,
}

impl FeedServer {
    pub fn start() -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let book = Arc::new(Mutex::new(Book::default()));
        let theirs = book.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let book = theirs.clone();
                std::thread::spawn(move || answer(stream, &book));
            }
        });
        FeedServer { port, book }
    }

    /// `http://127.0.0.1:PORT/PATH` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `path` answers `serve` from now on.
    pub fn set(&self, path: &str, serve: Serve) {
        self.book
            .lock()
            .unwrap()
            .routes
            .insert(path.into(), vec![serve]);
    }

    /// `path` answers each of `serves` once, in order, then the last one for good.
    pub fn script(&self, path: &str, serves: Vec<Serve>) {
        self.book.lock().unwrap().routes.insert(path.into(), serves);
    }

    /// The requests made to `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<Request> {
        let book = self.book.lock().unwrap();
        book.requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.requests(path).len()
    }

    /// Waits until `path` has had `n` requests; panics after `timeout`.
    pub fn wait_for(&self, path: &str, n: usize, timeout: Duration) {
        let start = Instant::now();
        while self.count(path) < n {
            assert!(
                start.elapsed() < timeout,
                "{path}: {} requests, waited for {n}",
                self.count(path)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// An RSS 2.0 feed titled `title` with these items (title, body), each linked to
/// `https://example.com/ITEM-TITLE`.
pub fn rss(title: &str, items: &[(&str, &str)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>https://example.com/</link>\n"
    );
    for (t, body) in items {
        let slug: String = t
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        out.push_str(&format!(
            "<item><title>{t}</title><link>https://example.com/{slug}</link><description>{body}</description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

fn answer(stream: std::net::TcpStream, book: &Mutex<Book>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let serve = {
        let mut b = book.lock().unwrap();
        match b.routes.get_mut(&path) {
            Some(serves) if serves.len() > 1 => Some(serves.remove(0)),
            Some(serves) => serves.first().cloned(),
            None => None,
        }
    };
    let (status, head, body): (u16, String, Vec<u8>) = match serve {
        None => (404, String::new(), b"no such feed".to_vec()),
        Some(Serve::Hang) => {
            record(book, path, headers, 0);
            std::thread::sleep(Duration::from_secs(120));
            return;
        }
        Some(Serve::Plain(body)) => (200, String::new(), body.into_bytes()),
        Some(Serve::Status {
            code,
            headers,
            body,
        }) => (code, headers, body.into_bytes()),
        Some(Serve::Redirect { code, to }) => (code, format!("Location: {to}\r\n"), Vec::new()),
        Some(Serve::Feed { body, gzip }) => {
            let etag = format!("\"{:x}\"", fxhash(body.as_bytes()));
            if headers.get("if-none-match") == Some(&etag) {
                (304, format!("ETag: {etag}\r\n"), Vec::new())
            } else if gzip
                && headers
                    .get("accept-encoding")
                    .is_some_and(|v| v.contains("gzip"))
            {
                let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                z.write_all(body.as_bytes()).unwrap();
                (
                    200,
                    format!("ETag: {etag}\r\nContent-Encoding: gzip\r\n"),
                    z.finish().unwrap(),
                )
            } else {
                (200, format!("ETag: {etag}\r\n"), body.into_bytes())
            }
        }
    };
    record(book, path, headers, status);
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/rss+xml\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

fn record(book: &Mutex<Book>, path: String, headers: HashMap<String, String>, status: u16) {
    book.lock().unwrap().requests.push(Request {
        at: Instant::now(),
        path,
        headers,
        status,
    });
}

fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
